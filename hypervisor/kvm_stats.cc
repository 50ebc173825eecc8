#include "hypervisor/kvm_stats.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wren {

namespace {

template <typename T>
T load(std::span<const uint8_t> bytes, size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

struct Header {
  uint32_t flags, name_size, num_desc, id_offset, desc_offset, data_offset;
};

Header read_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < KvmStatsSchema::kHeaderSize)
    throw KvmStatsError("KVM stats: " + std::to_string(bytes.size()) + " bytes, shorter than the header");
  Header h{};
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (h.name_size == 0 || h.name_size > KvmStatsSchema::kMaxNameSize)
    throw KvmStatsError("KVM stats: name size " + std::to_string(h.name_size) + " out of range");
  if (h.num_desc > KvmStatsSchema::kMaxDescriptors)
    throw KvmStatsError("KVM stats: " + std::to_string(h.num_desc) + " descriptors, too many");
  return h;
}

// A NUL-terminated string within `field`; throws if the NUL is missing.
std::string c_string(std::span<const uint8_t> field, const char* what) {
  const void* nul = std::memchr(field.data(), 0, field.size());
  if (!nul) throw KvmStatsError(std::string("KVM stats: ") + what + " is not NUL-terminated");
  return std::string(reinterpret_cast<const char*>(field.data()), static_cast<const uint8_t*>(nul) - field.data());
}

}  // namespace

bool KvmStatDescriptor::known() const {
  return (flags & 0xf) <= static_cast<uint32_t>(KvmStatType::kLog2Histogram) &&
         ((flags >> 4) & 0xf) <= static_cast<uint32_t>(KvmStatUnit::kBoolean) &&
         ((flags >> 8) & 0xf) <= static_cast<uint32_t>(KvmStatBase::kPow2);
}

size_t KvmStatsSchema::head_size(std::span<const uint8_t> header) {
  const Header h = read_header(header);
  // 64-bit arithmetic: the caps keep every product far below overflow.
  const uint64_t descs_end = uint64_t{h.desc_offset} + uint64_t{h.num_desc} * (kDescriptorHeaderSize + h.name_size);
  const uint64_t id_end = uint64_t{h.id_offset} + h.name_size;
  const uint64_t end = std::max({uint64_t{kHeaderSize}, descs_end, id_end});
  if (end > kMaxDataBytes) throw KvmStatsError("KVM stats: descriptors end at " + std::to_string(end) + ", too far");
  return static_cast<size_t>(end);
}

KvmStatsSchema KvmStatsSchema::parse(std::span<const uint8_t> head) {
  const size_t needed = head_size(head);
  if (head.size() < needed)
    throw KvmStatsError("KVM stats: header and descriptors need " + std::to_string(needed) + " bytes, have " +
                        std::to_string(head.size()));
  const Header h = read_header(head);
  KvmStatsSchema schema;
  schema.id_ = c_string(head.subspan(h.id_offset, h.name_size), "the id");
  schema.data_offset_ = h.data_offset;
  const size_t stride = kDescriptorHeaderSize + h.name_size;
  schema.descriptors_.reserve(h.num_desc);
  uint64_t data_end = 0;
  for (uint32_t i = 0; i < h.num_desc; ++i) {
    const auto d = head.subspan(h.desc_offset + i * stride, stride);
    KvmStatDescriptor desc;
    desc.flags = load<uint32_t>(d, 0);
    desc.exponent = load<int16_t>(d, 4);
    desc.size = load<uint16_t>(d, 6);
    desc.offset = load<uint32_t>(d, 8);
    desc.bucket_size = load<uint32_t>(d, 12);
    desc.name = c_string(d.subspan(kDescriptorHeaderSize), "a stat name");
    if (desc.size == 0 || desc.offset % sizeof(uint64_t) != 0)
      throw KvmStatsError("KVM stats: '" + desc.name + "' has size " + std::to_string(desc.size) + " at offset " +
                          std::to_string(desc.offset));
    data_end = std::max(data_end, uint64_t{desc.offset} + uint64_t{desc.size} * sizeof(uint64_t));
    schema.descriptors_.push_back(std::move(desc));
  }
  if (data_end > kMaxDataBytes)
    throw KvmStatsError("KVM stats: data block of " + std::to_string(data_end) + " bytes, too large");
  schema.data_size_ = static_cast<size_t>(data_end);
  return schema;
}

std::vector<KvmStat> KvmStatsSchema::values(std::span<const uint8_t> data) const {
  if (data.size() < data_size_)
    throw KvmStatsError("KVM stats: data block of " + std::to_string(data.size()) + " bytes, the descriptors need " +
                        std::to_string(data_size_));
  std::vector<KvmStat> stats;
  stats.reserve(descriptors_.size());
  for (const auto& d : descriptors_) {
    KvmStat stat{d, std::vector<uint64_t>(d.size)};
    std::memcpy(stat.values.data(), data.data() + d.offset, d.size * sizeof(uint64_t));
    stats.push_back(std::move(stat));
  }
  return stats;
}

KvmStatsFd::KvmStatsFd(UniqueFd fd) : fd_(std::move(fd)) {
  std::vector<uint8_t> head(KvmStatsSchema::kHeaderSize);
  pread_exact(head.data(), head.size(), 0);
  head.resize(KvmStatsSchema::head_size(head));
  pread_exact(head.data(), head.size(), 0);
  schema_ = KvmStatsSchema::parse(head);
}

KvmStatsFd KvmStatsFd::open(int kvm_fd) {
  const int fd = ::ioctl(kvm_fd, KVM_GET_STATS_FD, nullptr);
  if (fd < 0) throw KvmStatsError(std::string("KVM_GET_STATS_FD: ") + std::strerror(errno));
  return KvmStatsFd(UniqueFd(fd));
}

std::vector<KvmStat> KvmStatsFd::read() const {
  std::vector<uint8_t> data(schema_.data_size());
  pread_exact(data.data(), data.size(), schema_.data_offset());
  return schema_.values(data);
}

void KvmStatsFd::pread_exact(void* buffer, size_t size, uint64_t offset) const {
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pread(fd_.get(), static_cast<uint8_t*>(buffer) + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw KvmStatsError(std::string("reading KVM stats: ") + std::strerror(errno));
    if (n == 0)
      throw KvmStatsError("KVM stats: file ends at " + std::to_string(offset + done) + ", expected " +
                          std::to_string(offset + size));
    done += static_cast<size_t>(n);
  }
}

}  // namespace wren
