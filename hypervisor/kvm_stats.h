#pragma once
// KVM's binary statistics (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst):
// a file per VM or vCPU holding a header, an id string, descriptors (flags,
// exponent, size in u64 words, offset into the data block, bucket size, a
// NUL-terminated name) and the data block. Header and descriptors never
// change for an fd; the data block is re-read for current values.
//
// KvmStatsSchema parses header and descriptors from bytes (the start of the
// file, or a synthetic blob in tests); anything out of bounds, unterminated
// or absurdly large is a KvmStatsError, never a read past the bytes given.
// KvmStatsFd owns a stats fd and reads its data with pread, which is safe
// from any thread while the vCPU runs.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "hypervisor/unique_fd.h"

namespace wren {

class KvmStatsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The flags fields, as in <linux/kvm.h> (KVM_STATS_TYPE_*, _UNIT_*, _BASE_*).
enum class KvmStatType : uint32_t { kCumulative, kInstant, kPeak, kLinearHistogram, kLog2Histogram };
enum class KvmStatUnit : uint32_t { kNone, kBytes, kSeconds, kCycles, kBoolean };
enum class KvmStatBase : uint32_t { kPow10, kPow2 };

struct KvmStatDescriptor {
  std::string name;
  uint32_t flags = 0;
  int16_t exponent = 0;
  uint16_t size = 0;    // values (u64 words)
  uint32_t offset = 0;  // bytes into the data block
  uint32_t bucket_size = 0;

  // False for a type, unit or base this parser does not know (QEMU skips those stats).
  bool known() const;
  KvmStatType type() const { return static_cast<KvmStatType>(flags & 0xf); }
  KvmStatUnit unit() const { return static_cast<KvmStatUnit>((flags >> 4) & 0xf); }
  KvmStatBase base() const { return static_cast<KvmStatBase>((flags >> 8) & 0xf); }
};

// A copy of the descriptor, so a reading outlives the schema it came from.
struct KvmStat {
  KvmStatDescriptor descriptor;
  std::vector<uint64_t> values;  // descriptor.size words
};

class KvmStatsSchema {
 public:
  static constexpr size_t kHeaderSize = 24;
  static constexpr size_t kDescriptorHeaderSize = 16;  // before the name
  // Caps on what a header may ask for, far above any kernel's (a few hundred bytes per stat).
  static constexpr size_t kMaxNameSize = 4096;
  static constexpr size_t kMaxDescriptors = 65536;
  static constexpr size_t kMaxDataBytes = 16 << 20;

  // How many bytes from the start of the file hold the header, id and
  // descriptors, from the header's 24 bytes; throws if that is beyond the caps.
  static size_t head_size(std::span<const uint8_t> header);
  // Parses header, id and descriptors from `head` (at least head_size bytes).
  static KvmStatsSchema parse(std::span<const uint8_t> head);

  const std::string& id() const { return id_; }
  const std::vector<KvmStatDescriptor>& descriptors() const { return descriptors_; }
  uint32_t data_offset() const { return data_offset_; }
  // Bytes of the data block that the descriptors cover.
  size_t data_size() const { return data_size_; }

  // The values of every descriptor from a data block of at least data_size() bytes.
  std::vector<KvmStat> values(std::span<const uint8_t> data) const;

 private:
  std::string id_;
  std::vector<KvmStatDescriptor> descriptors_;
  uint32_t data_offset_ = 0;
  size_t data_size_ = 0;
};

class KvmStatsFd {
 public:
  // Takes a stats fd (from KVM_GET_STATS_FD, or any readable file in tests)
  // and reads its header and descriptors.
  explicit KvmStatsFd(UniqueFd fd);
  // KVM_GET_STATS_FD on a VM or vCPU fd.
  static KvmStatsFd open(int kvm_fd);

  const KvmStatsSchema& schema() const { return schema_; }
  // Current values; callable from any thread.
  std::vector<KvmStat> read() const;

 private:
  void pread_exact(void* buffer, size_t size, uint64_t offset) const;

  UniqueFd fd_;
  KvmStatsSchema schema_;
};

}  // namespace wren
