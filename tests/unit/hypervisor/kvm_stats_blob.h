#pragma once
// A synthetic KVM binary-stats file (KVM_GET_STATS_FD layout), for the parser's
// tests and for the control socket's query-stats tests.
#include <linux/kvm.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "hypervisor/unique_fd.h"

namespace wren::test {

inline constexpr uint32_t kNameSize = 32;

struct StatDesc {
  std::string name;
  uint32_t flags;
  int16_t exponent;
  uint16_t size;
  uint32_t offset;
  uint32_t bucket_size;
};

template <typename T>
inline void put(std::vector<uint8_t>& blob, size_t at, T value) {
  if (blob.size() < at + sizeof(T)) blob.resize(at + sizeof(T));
  std::memcpy(blob.data() + at, &value, sizeof(T));
}

// A stats file laid out as the kernel lays it out: header, id, descriptors, data.
struct KvmStatsBlob {
  std::vector<StatDesc> descs = {
      {"exits", KVM_STATS_TYPE_CUMULATIVE, 0, 1, 0, 0},
      {"halt_wait_ns", KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS, -9, 1, 8, 0},
      {"guest_mode", KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN, 0, 1, 16, 0},
      {"halt_wait_hist", KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS, -9, 3, 24, 0},
  };
  std::vector<uint64_t> data = {1234, 5000000, 1, 7, 8, 9};
  uint32_t name_size = kNameSize;
  uint32_t id_offset = 24;
  uint32_t desc_offset = 24 + kNameSize;

  uint32_t data_offset() const { return desc_offset + static_cast<uint32_t>(descs.size()) * (16 + name_size); }

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0, 0);
    put<uint32_t>(b, 4, name_size);
    put<uint32_t>(b, 8, static_cast<uint32_t>(descs.size()));
    put<uint32_t>(b, 12, id_offset);
    put<uint32_t>(b, 16, desc_offset);
    put<uint32_t>(b, 20, data_offset());
    b.resize(std::max<size_t>(b.size(), id_offset + name_size));
    std::memcpy(b.data() + id_offset, "kvm-1234/vcpu-0", std::min<size_t>(16, name_size));
    for (size_t i = 0; i < descs.size(); ++i) {
      const size_t at = desc_offset + i * (16 + name_size);
      const StatDesc& d = descs[i];
      put(b, at, d.flags);
      put(b, at + 4, d.exponent);
      put(b, at + 6, d.size);
      put(b, at + 8, d.offset);
      put(b, at + 12, d.bucket_size);
      b.resize(std::max<size_t>(b.size(), at + 16 + name_size));
      std::memcpy(b.data() + at + 16, d.name.data(), std::min<size_t>(d.name.size() + 1, name_size));
    }
    for (size_t i = 0; i < data.size(); ++i) put(b, data_offset() + i * 8, data[i]);
    return b;
  }
};

// The blob in a memfd, as KvmStatsFd reads it.
inline UniqueFd memfd_with(const std::vector<uint8_t>& bytes) {
  UniqueFd fd(::memfd_create("kvm-stats-test", 0));
  if (fd.valid() && ::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) fd.reset();
  return fd;
}

}  // namespace wren::test
