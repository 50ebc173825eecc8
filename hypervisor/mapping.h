#pragma once
// Owning mmap()ed region: unmapped on destruction.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace wren {

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, size_t size) : addr_(addr), size_(size) {}
  Mapping(Mapping&& o) noexcept : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      addr_ = std::exchange(o.addr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  // Anonymous private memory (e.g. a firmware image); throws std::system_error on failure.
  static Mapping anonymous(size_t size);
  // Anonymous private memory for guest RAM, 2 MiB aligned and marked for transparent
  // huge pages (as hosts usually enable them only on request), so the host
  // backs it with huge pages where it can: fewer TLB misses for the guest and
  // for KVM's instruction emulator when it walks guest memory. Throws
  // std::system_error on failure.
  static Mapping guest_ram(size_t size);
  static constexpr size_t kHugePageSize = size_t{2} << 20;
  // Shared mapping of an fd (e.g. the vCPU's kvm_run); throws on failure.
  static Mapping of_fd(int fd, size_t size);

  uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
  size_t size() const { return size_; }
  bool valid() const { return addr_ != nullptr; }

 private:
  void reset() {
    if (addr_) ::munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
  }
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace wren
