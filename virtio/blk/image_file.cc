#include "virtio/blk/image_file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wren::blk {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw ImageError("disk image '" + path + "': " + why);
}

std::string open_error(int err, bool read_only) {
  switch (err) {
    case ENOENT: return "no such file";
    case EACCES:
    case EPERM: return read_only ? "no permission to read it" : "no permission to read and write it (readonly=on?)";
    case EROFS: return "on a read-only file system (readonly=on?)";
    case EISDIR: return "is a directory";
    default: return std::strerror(err);
  }
}

}  // namespace

ImageFile ImageFile::open(const ImageOptions& options) {
  ImageFile image;
  image.path_ = options.path;
  image.read_only_ = options.read_only;
  image.cache_ = options.cache;
  int flags = (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  const int fd = ::open(options.path.c_str(), flags);
  if (fd < 0) fail(options.path, open_error(errno, options.read_only));
  image.fd_ = UniqueFd(fd);

  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(options.path, std::strerror(errno));
  uint64_t size = 0;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) fail(options.path, std::string("size: ") + std::strerror(errno));
  } else {
    fail(options.path, "not a regular file or block device");
  }
  if (size % 512) fail(options.path, "size " + std::to_string(size) + " is not a multiple of 512 bytes");
  image.identity_ = ImageIdentity{size, static_cast<uint64_t>(st.st_ino)};

  if (options.lock) image.lock();

  if (options.cache == CacheMode::None) {
    // Set O_DIRECT after open so the error names the cause; never fall back.
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_DIRECT) != 0)
      fail(options.path, std::string("cache=none: the file system refuses O_DIRECT (") + std::strerror(errno) + ")");
    // Some file systems accept the flag and refuse the I/O: probe one block.
    struct statx sx {};
    uint32_t align = 512;
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
      if (sx.stx_dio_offset_align == 0) fail(options.path, "cache=none: the file system does not support O_DIRECT");
      align = std::max<uint32_t>({512, sx.stx_dio_offset_align, sx.stx_dio_mem_align});
    }
    image.dio_align_ = align;
    if (size >= align) {
      void* buf = std::aligned_alloc(align, align);
      const ssize_t n = buf ? ::pread(fd, buf, align, 0) : -1;
      const int err = errno;
      std::free(buf);
      if (n < 0) fail(options.path, std::string("cache=none: O_DIRECT read failed (") + std::strerror(err) + ")");
    }
  }
  return image;
}

void ImageFile::lock() {
  if (locked_) return;
  struct flock fl {};
  fl.l_type = read_only_ ? F_RDLCK : F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;  // the whole file
  if (::fcntl(fd_.get(), F_OFD_SETLK, &fl) != 0) {
    if (errno == EAGAIN || errno == EACCES)
      fail(path_, read_only_ ? "another process has it open for writing (locked)"
                             : "another process is using it (locked); use readonly=on to share it read-only");
    fail(path_, std::string("lock: ") + std::strerror(errno));
  }
  locked_ = true;
}

}  // namespace wren::blk
