#include "devices/platform/fw_cfg.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "hypervisor/little_endian.h"

namespace wren {

namespace {

constexpr uint16_t kWriteChannel = 0x4000;  // selector bit 14: ignored, items are read-only
constexpr uint16_t kEntryMask = static_cast<uint16_t>(~(kWriteChannel | fw_cfg::kArchLocal));
constexpr uint16_t kMaxFiles = 0x4000 - fw_cfg::kFileFirst;
constexpr std::array<uint8_t, 4> kSignatureBytes = {'Q', 'E', 'M', 'U'};
// What reading the DMA address register returns: "QEMU CFG", big-endian.
constexpr std::array<uint8_t, 8> kDmaSignature = {'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G'};

uint64_t load_be(std::span<const uint8_t> bytes) {
  uint64_t v = 0;
  for (uint8_t b : bytes) v = (v << 8) | b;
  return v;
}

void store_be(std::span<uint8_t> bytes, uint64_t v) {
  for (size_t i = bytes.size(); i-- > 0; v >>= 8) bytes[i] = static_cast<uint8_t>(v);
}

bool is_generated(uint16_t key) { return key == fw_cfg::kSignature || key == fw_cfg::kId || key == fw_cfg::kFileDir; }

}  // namespace

FwCfg::FwCfg(GuestMemory& memory) : memory_(memory) {
  items_[fw_cfg::kSignature] = std::vector<uint8_t>(kSignatureBytes.begin(), kSignatureBytes.end());
  std::vector<uint8_t> id(4);
  store_le(id, fw_cfg::kIdTraditional | fw_cfg::kIdDma);
  items_[fw_cfg::kId] = std::move(id);
  rebuild_file_directory();
}

void FwCfg::set_item(uint16_t key, std::vector<uint8_t> data) {
  key &= static_cast<uint16_t>(~kWriteChannel);
  const uint16_t index = key & kEntryMask;
  if (is_generated(key) || (!(key & fw_cfg::kArchLocal) && index >= fw_cfg::kFileFirst))
    throw std::invalid_argument("fw_cfg: key " + std::to_string(key) + " is not a settable item");
  std::lock_guard lock(mutex_);
  items_[key] = std::move(data);
}

void FwCfg::add_file(std::string_view name, std::vector<uint8_t> data) {
  if (name.empty() || name.size() > fw_cfg::kFileNameMax || name.find('\0') != std::string_view::npos)
    throw std::invalid_argument("fw_cfg: bad file name '" + std::string(name) + "'");
  std::lock_guard lock(mutex_);
  if (files_.contains(name)) throw std::invalid_argument("fw_cfg: duplicate file '" + std::string(name) + "'");
  if (files_.size() >= kMaxFiles) throw std::invalid_argument("fw_cfg: file directory is full");
  files_.emplace(std::string(name), std::move(data));
  rebuild_file_directory();
}

uint16_t FwCfg::file_selector(std::string_view name) const {
  uint16_t selector = fw_cfg::kFileFirst;
  for (const auto& [file, data] : files_) {
    if (file == name) return selector;
    ++selector;
  }
  return 0;
}

// struct FWCfgFiles { be32 count; struct { be32 size; be16 select; u16 reserved; char name[56]; } f[]; }
void FwCfg::rebuild_file_directory() {
  std::vector<uint8_t> dir(4 + files_.size() * fw_cfg::kFileEntrySize, 0);
  store_be(std::span(dir).first(4), files_.size());
  size_t at = 4;
  uint16_t selector = fw_cfg::kFileFirst;
  for (const auto& [name, data] : files_) {
    const std::span entry(dir.data() + at, fw_cfg::kFileEntrySize);
    store_be(entry.subspan(0, 4), data.size());
    store_be(entry.subspan(4, 2), selector++);
    std::memcpy(entry.data() + 8, name.data(), name.size());
    at += fw_cfg::kFileEntrySize;
  }
  items_[fw_cfg::kFileDir] = std::move(dir);
}

const std::vector<uint8_t>* FwCfg::item(uint16_t key) const {
  key &= static_cast<uint16_t>(~kWriteChannel);
  const uint16_t index = key & kEntryMask;
  if (!(key & fw_cfg::kArchLocal) && index >= fw_cfg::kFileFirst) {
    const size_t n = index - fw_cfg::kFileFirst;
    if (n >= files_.size()) return nullptr;
    return &std::next(files_.begin(), static_cast<ptrdiff_t>(n))->second;
  }
  const auto it = items_.find(key);
  return it == items_.end() ? nullptr : &it->second;
}

void FwCfg::select(uint16_t key) {
  selector_ = key;
  offset_ = 0;
}

void FwCfg::read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
  if (offset >= kLength || data.size() > kLength - offset) return;
  std::lock_guard lock(mutex_);
  if (offset >= kDmaOffset) {
    const uint64_t at = offset - kDmaOffset;
    if (at + data.size() <= kDmaSignature.size())
      std::copy_n(kDmaSignature.begin() + static_cast<ptrdiff_t>(at), data.size(), data.begin());
    return;
  }
  // QEMU accepts byte reads at either port of the pair and returns data.
  if (data.size() != 1 || offset > kDataOffset) return;
  const auto* bytes = item(selector_);
  data[0] = bytes && offset_ < bytes->size() ? (*bytes)[offset_] : 0;
  if (bytes && offset_ < bytes->size()) ++offset_;
}

void FwCfg::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset >= kLength || data.size() > kLength - offset) return;
  std::lock_guard lock(mutex_);
  if (offset == kSelectorOffset && data.size() == 2) {
    select(static_cast<uint16_t>(load_le(data)));
  } else if (offset == kDmaOffset && data.size() == 4) {
    dma_address_ = load_be(data) << 32;
  } else if (offset == kDmaOffset + 4 && data.size() == 4) {
    // The address register reads back as zero for the next operation.
    const uint64_t access = dma_address_ | load_be(data);
    dma_address_ = 0;
    dma_transfer(access);
  } else if (offset == kDmaOffset && data.size() == 8) {
    dma_address_ = 0;
    dma_transfer(load_be(data));
  }
  // Data-port writes: ignored, as in QEMU since 2.4.
}

void FwCfg::dma_transfer(uint64_t access_gpa) {
  std::array<uint8_t, fw_cfg::kDmaAccessSize> access{};
  if (!memory_.read(access_gpa, access)) {
    // Report what we can: the control field alone may still be in RAM.
    std::array<uint8_t, 4> error{};
    store_be(error, fw_cfg::kDmaError);
    (void)memory_.write(access_gpa, error);
    return;
  }
  const uint32_t control = static_cast<uint32_t>(load_be(std::span(access).subspan(0, 4)));
  const uint64_t length = load_be(std::span(access).subspan(4, 4));
  const uint64_t address = load_be(std::span(access).subspan(8, 8));

  if (control & fw_cfg::kDmaSelect) select(static_cast<uint16_t>(control >> 16));
  enum class Op { kRead, kWrite, kSkip, kNone } op = Op::kNone;
  if (control & fw_cfg::kDmaRead)
    op = Op::kRead;
  else if (control & fw_cfg::kDmaWrite)
    op = Op::kWrite;
  else if (control & fw_cfg::kDmaSkip)
    op = Op::kSkip;

  bool ok = true;
  if (op == Op::kWrite) {
    ok = length == 0;  // no item is writable
  } else if (op == Op::kRead && length > 0) {
    // Check the whole target first, so a bad range touches nothing.
    ok = memory_.contains(address, length);
    if (ok) {
      const auto* bytes = item(selector_);
      const uint64_t available = bytes && offset_ < bytes->size() ? bytes->size() - offset_ : 0;
      const uint64_t copied = std::min(available, length);
      if (copied) ok = memory_.write(address, std::span(bytes->data() + offset_, copied));
      if (ok && copied < length) ok = memory_.fill(address + copied, 0, length - copied);
      if (ok) offset_ += copied;
    }
  } else if (op == Op::kSkip) {
    const auto* bytes = item(selector_);
    const uint64_t size = bytes ? bytes->size() : 0;
    offset_ = std::min<uint64_t>(size, offset_ + length);
  }
  std::array<uint8_t, 4> status{};
  store_be(status, ok ? 0 : fw_cfg::kDmaError);
  (void)memory_.write(access_gpa, status);
}

}  // namespace wren
