// ImageFile: clear errors for missing, forbidden and locked images; OFD
// locking between two openers; O_DIRECT; and a host ENOSPC reaching the
// guest as IOERR.
#include "virtio/blk/image_file.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <functional>

#include "unit/virtio/blk/blk_test_support.h"

namespace wren {
namespace {

using namespace test;
using blk::ImageError;
using blk::ImageFile;
using blk::ImageOptions;

std::string error_of(const ImageOptions& o) {
  try {
    (void)ImageFile::open(o);
  } catch (const ImageError& e) {
    return e.what();
  }
  return "";
}

TEST(ImageFile, OpensAndReportsSizeAndIdentity) {
  const std::string path = make_image("i.img", 64 * 1024, false);
  auto img = ImageFile::open({path});
  EXPECT_EQ(img.size(), 64u * 1024);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(img.identity().inode, static_cast<uint64_t>(st.st_ino));
  EXPECT_TRUE(img.locked());
  EXPECT_FALSE(img.read_only());
}

TEST(ImageFile, MissingFileSaysSo) {
  const std::string e = error_of({process_temp_path("nope.img")});
  EXPECT_NE(e.find("no such file"), std::string::npos) << e;
  EXPECT_NE(e.find("nope.img"), std::string::npos) << e;
}

TEST(ImageFile, DirectoryAndOddSizesAreRefused) {
  EXPECT_NE(error_of({::testing::TempDir()}), "");
  const std::string odd = make_image("odd.img", 1000, false);
  EXPECT_NE(error_of({odd}).find("multiple of 512"), std::string::npos);
}

// Runs `body` in a forked child; returns its message ("" = passed).
std::string in_child(const std::function<std::string()>& body) {
  int p[2];
  if (::pipe(p) != 0) return "pipe";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    std::string r;
    try {
      r = body();
    } catch (const std::exception& e) {
      r = std::string("exception: ") + e.what();
    }
    [[maybe_unused]] auto n = ::write(p[1], r.data(), r.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

TEST(ImageFile, PermissionDeniedSaysSo) {
  const std::string path = make_image("perm.img", 4096, false);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  // The temp directory must be reachable by the unprivileged user.
  const std::string dir = path.substr(0, path.rfind('/'));
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  const std::string r = in_child([&]() -> std::string {
    if (::getuid() != 0) return "skip";
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) return "skip";
    const std::string rw = error_of({path});
    if (rw.find("no permission") == std::string::npos) return "read-write: " + rw;
    if (!error_of({path, true}).empty()) return "read-only open of a 0644 file failed";
    return "";
  });
  if (r == "skip") GTEST_SKIP() << "needs root to switch to an unprivileged user";
  EXPECT_EQ(r, "");
}

TEST(ImageFile, WriterExcludesEveryoneReadersShare) {
  const std::string path = make_image("lock.img", 4096, false);
  {
    auto writer = ImageFile::open({path});
    const std::string e = error_of({path});
    EXPECT_NE(e.find("locked"), std::string::npos) << e;
    EXPECT_NE(error_of({path, true}).find("open for writing"), std::string::npos);
  }
  {
    auto r1 = ImageFile::open({path, true});
    auto r2 = ImageFile::open({path, true});  // readers share
    EXPECT_NE(error_of({path}), "");          // but exclude a writer
  }
  auto again = ImageFile::open({path});  // locks go with the files
  EXPECT_TRUE(again.locked());
}

TEST(ImageFile, LockIsHeldAcrossProcesses) {
  const std::string path = make_image("lock2.img", 4096, false);
  auto writer = ImageFile::open({path});
  const std::string r = in_child([&]() -> std::string {
    const std::string e = error_of({path});
    return e.find("locked") != std::string::npos ? "" : "child opened a locked image: " + e;
  });
  EXPECT_EQ(r, "");
}

TEST(ImageFile, DeferredLockForAMigrationDestination) {
  const std::string path = make_image("lock3.img", 4096, false);
  auto source = std::make_unique<ImageFile>(ImageFile::open({path}));
  ImageOptions o{path};
  o.lock = false;
  auto dest = ImageFile::open(o);
  EXPECT_FALSE(dest.locked());
  EXPECT_THROW(dest.lock(), ImageError);
  source.reset();  // the source hands over
  dest.lock();
  EXPECT_TRUE(dest.locked());
}

TEST(ImageFile, CacheNoneOpensODirectOrSaysWhyNot) {
  const std::string path = make_image("direct.img", 64 * 1024, false);
  ImageOptions o{path};
  o.cache = blk::CacheMode::None;
  try {
    auto img = ImageFile::open(o);
    EXPECT_GE(img.direct_io_alignment(), 512u);
    EXPECT_EQ(img.direct_io_alignment() % 512, 0u);
  } catch (const ImageError& e) {
    // Only acceptable as a clear refusal naming cache=none.
    EXPECT_NE(std::string(e.what()).find("cache=none"), std::string::npos) << e.what();
  }
}

TEST(BlkDeviceHostErrors, EnospcIsIoErr) {
  // A 1 MiB tmpfs in a private mount namespace, an 8 MiB sparse image on it:
  // writing past what fits fails with ENOSPC in the host.
  const std::string r = in_child([]() -> std::string {
    if (::unshare(CLONE_NEWNS) != 0) return "skip";
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return "skip";
    const std::string dir = process_temp_path("full");
    ::mkdir(dir.c_str(), 0700);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) return "skip";
    const std::string path = dir + "/full.img";
    {
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
      if (fd < 0 || ::ftruncate(fd, 8 * kMiB) != 0) return "cannot make the sparse image";
      ::close(fd);
    }
    BlkHarness h(path);
    if (!h.activate()) return "activate failed";
    const Bytes big(256 * 1024, 0x42);
    uint8_t last = blk::kStatusOk;
    for (uint64_t sector = 0; sector < 8 * kMiB / 512 && last == blk::kStatusOk; sector += big.size() / 512)
      last = h.write(sector, big).status;
    if (last != blk::kStatusIoErr) return "a full file system did not give IOERR";
    if (h.dev->report().counters.host_errors == 0) return "host error not counted";
    if (h.events.needs_reset != 0) return "ENOSPC broke the device";
    uint64_t data = 0;
    if (h.read(0, 512, data).status != blk::kStatusOk) return "reads stopped working";
    return "";
  });
  if (r == "skip") GTEST_SKIP() << "cannot mount a private tmpfs here";
  EXPECT_EQ(r, "");
}

}  // namespace
}  // namespace wren
