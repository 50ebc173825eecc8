#pragma once
// A raw disk image as the VMM holds it: the open file (optionally O_DIRECT),
// an open-file-description lock so that two VMMs never write one image, and
// the size and identity a migration destination compares.
//
// Locking (like QEMU's image locking, simplified): a writable image takes a
// write lock on the whole file, a read-only one a read lock, both with
// F_OFD_SETLK (owned by the open file description, so they survive threads
// and are dropped when the file is closed, even on SIGKILL). Any number of
// readers may share an image; a writer excludes everyone.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "hypervisor/unique_fd.h"

namespace wren::blk {

enum class CacheMode : uint8_t { Writeback, None };  // None = O_DIRECT

struct ImageOptions {
  std::string path;
  bool read_only = false;
  CacheMode cache = CacheMode::Writeback;
  bool lock = true;  // false only for a migration destination until it takes over
};

// Identifies an image across a live migration on shared storage.
struct ImageIdentity {
  uint64_t size = 0;   // bytes
  uint64_t inode = 0;  // the same file on shared storage has the same inode number
  friend bool operator==(const ImageIdentity&, const ImageIdentity&) = default;
};

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ImageFile {
 public:
  // Throws ImageError with a message naming the path and the reason:
  // missing file, permission denied, not a regular file or block device,
  // locked by another process, O_DIRECT refused by the file system, size not
  // a multiple of 512.
  static ImageFile open(const ImageOptions& options);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  CacheMode cache() const { return cache_; }
  uint64_t size() const { return identity_.size; }
  const ImageIdentity& identity() const { return identity_; }
  // Alignment O_DIRECT needs for offsets, lengths and memory (512 without it).
  uint32_t direct_io_alignment() const { return dio_align_; }
  bool locked() const { return locked_; }

  // Takes the lock (for an image opened with lock = false). Throws ImageError.
  void lock();

 private:
  ImageFile() = default;

  UniqueFd fd_;
  std::string path_;
  bool read_only_ = false;
  CacheMode cache_ = CacheMode::Writeback;
  ImageIdentity identity_;
  uint32_t dio_align_ = 512;
  bool locked_ = false;
};

}  // namespace wren::blk
