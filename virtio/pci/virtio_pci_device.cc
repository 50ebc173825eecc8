#include "virtio/pci/virtio_pci_device.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "devices/pci/registers.h"
#include "hypervisor/little_endian.h"
#include "virtio/pci/common_cfg.h"
#include "virtio/pci/ids.h"
#include "virtio/pci/legacy.h"

namespace wren {

using namespace virtio_pci;

namespace {

// Offsets inside a virtio vendor capability (struct virtio_pci_cap).
constexpr uint16_t kCapBar = 4;
constexpr uint16_t kCapOffset = 8;
constexpr uint16_t kCapLength = 12;
constexpr uint16_t kPciCfgData = 16;  // struct virtio_pci_cfg_cap: pci_cfg_data[4]

uint64_t pow2_at_least(uint64_t v, uint64_t minimum) { return std::bit_ceil(std::max(v, minimum)); }

pci::PciIdentity identity_for(const VirtioDevice& device, VirtioPciMode mode) {
  const uint32_t type = device.device_type();
  pci::PciIdentity id;
  id.vendor_id = kVendorId;
  id.subsystem_vendor_id = kVendorId;
  id.class_code = pci_class_for(type);
  id.interrupt_pin = pci::kPinIntA;
  if (mode == VirtioPciMode::kTransitional) {
    const auto legacy_id = transitional_device_id(type);
    if (!legacy_id) throw std::invalid_argument("virtio type " + std::to_string(type) + " has no transitional id");
    id.device_id = *legacy_id;
    id.revision = kTransitionalRevision;
    id.subsystem_id = static_cast<uint16_t>(type);  // legacy drivers identify the device by it
  } else {
    if (type > 0xffff - kModernDeviceIdBase) throw std::invalid_argument("virtio type out of range");
    id.device_id = static_cast<uint16_t>(kModernDeviceIdBase + type);
    id.revision = kModernRevision;
    id.subsystem_id = kModernSubsystemId;
  }
  return id;
}

void put_le32(std::span<uint8_t> bytes, size_t at, uint32_t v) { store_le(bytes.subspan(at, 4), v); }

}  // namespace

// One BAR as seen by the IoBus: forwards to the device while it lives.
class VirtioPciDevice::Region : public BusDevice {
 public:
  Region(std::weak_ptr<VirtioPciDevice> device, int bar) : device_(std::move(device)), bar_(bar) {}
  void read(uint64_t offset, std::span<uint8_t> data) override {
    if (auto d = device_.lock())
      d->bar_read(bar_, offset, data);
    else
      std::fill(data.begin(), data.end(), 0xff);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    if (auto d = device_.lock()) d->bar_write(bar_, offset, data);
  }

 private:
  std::weak_ptr<VirtioPciDevice> device_;
  int bar_;
};

uint16_t VirtioPciDevice::msix_vector_count(const VirtioDevice& device) {
  return static_cast<uint16_t>(std::min<uint32_t>(uint32_t{device.num_queues()} + 1, pci::kMsixMaxVectors));
}

std::shared_ptr<VirtioPciDevice> VirtioPciDevice::create(std::shared_ptr<VirtioDevice> device, VirtioPciMode mode,
                                                         GuestMemory& memory, std::shared_ptr<pci::MsiVectorSink> msi,
                                                         std::shared_ptr<NotifyWiring> wiring) {
  auto self =
      std::make_shared<VirtioPciDevice>(Private{}, std::move(device), mode, memory, std::move(msi), std::move(wiring));
  for (int i = 0; i < pci::kNumBars; ++i)
    if (self->bar_specs_[i]) self->regions_[i] = std::make_shared<Region>(self->weak_from_this(), i);
  return self;
}

VirtioPciDevice::VirtioPciDevice(Private, std::shared_ptr<VirtioDevice> device, VirtioPciMode mode, GuestMemory& memory,
                                 std::shared_ptr<pci::MsiVectorSink> msi, std::shared_ptr<NotifyWiring> wiring)
    : device_(device ? std::move(device) : throw std::invalid_argument("null virtio device")),
      wiring_(wiring ? std::move(wiring) : std::make_shared<InlineNotifyWiring>()),
      config_(identity_for(*device_, mode)),
      msix_(msix_vector_count(*device_), std::move(msi)),
      core_(*device_, memory, mode, *this) {
  if (device_->num_queues() == 0 || device_->num_queues() > kMaxQueues)
    throw std::invalid_argument("virtio device queue count out of range");
  if (device_->config_size() > kRegionSize) throw std::invalid_argument("virtio device config too large");
  build_capabilities();
  config_.capture_power_on_state();
}

VirtioPciDevice::~VirtioPciDevice() { detach_notifiers(); }

void VirtioPciDevice::build_capabilities() {
  // BARs.
  if (core_.mode() == VirtioPciMode::kTransitional) {
    const uint64_t size = pow2_at_least(kLegacyConfigMsix + device_->config_size(), 32);
    if (size > 256) throw std::invalid_argument("device config too large for a legacy I/O BAR");
    bar_specs_[kLegacyBar] = pci::BarSpec{pci::BarKind::kIo, size, false};
  }
  msix_pba_offset_ = static_cast<uint32_t>(std::max<uint64_t>(0x800, (msix_.table_bytes() + 7) & ~uint64_t{7}));
  bar_specs_[kMsixBar] =
      pci::BarSpec{pci::BarKind::kMemory32, pow2_at_least(msix_pba_offset_ + msix_.pba_bytes(), 0x1000), false};
  // Not prefetchable: reading the ISR has a side effect.
  bar_specs_[kModernBar] = pci::BarSpec{pci::BarKind::kMemory64, kModernBarSize, false};
  for (int i = 0; i < pci::kNumBars; ++i)
    if (bar_specs_[i]) config_.declare_bar(i, *bar_specs_[i]);

  // Virtio vendor capabilities: body = cap_len, cfg_type, bar, id, pad[2], offset, length.
  auto add_virtio_cap = [&](uint8_t type, uint64_t offset, uint32_t length, std::span<const uint8_t> extra,
                            std::span<const uint8_t> extra_mask) {
    std::vector<uint8_t> body(14 + extra.size(), 0);
    std::vector<uint8_t> mask(body.size(), 0);
    body[0] = static_cast<uint8_t>(2 + body.size());
    body[1] = type;
    body[2] = kModernBar;
    put_le32(body, 6, static_cast<uint32_t>(offset));
    put_le32(body, 10, length);
    std::copy(extra.begin(), extra.end(), body.begin() + 14);
    std::copy(extra_mask.begin(), extra_mask.end(), mask.begin() + 14);
    return config_.add_capability(pci::kCapIdVendor, body, mask);
  };
  add_virtio_cap(kCapCommonCfg, kCommonCfgOffset, static_cast<uint32_t>(kCommonCfgSize), {}, {});
  const uint8_t multiplier[4] = {kNotifyOffMultiplier, 0, 0, 0};
  add_virtio_cap(kCapNotifyCfg, kNotifyOffset, device_->num_queues() * kNotifyOffMultiplier, multiplier, {});
  add_virtio_cap(kCapIsrCfg, kIsrOffset, 1, {}, {});
  if (device_->config_size() > 0) add_virtio_cap(kCapDeviceCfg, kDeviceCfgOffset, device_->config_size(), {}, {});

  // VIRTIO_PCI_CAP_PCI_CFG: bar, offset, length and the data window are the driver's.
  std::vector<uint8_t> body(18, 0), mask(18, 0);
  body[0] = 20;
  body[1] = kCapPciCfg;
  mask[2] = 0xff;                                          // bar
  std::fill(mask.begin() + 6, mask.end(), uint8_t{0xff});  // offset, length, data
  pci_cfg_cap_ = config_.add_capability(pci::kCapIdVendor, body, mask);

  msix_.add_capability(config_, kMsixBar, 0, msix_pba_offset_);
}

std::string VirtioPciDevice::name() const { return device_->name(); }

// ---- Config space ------------------------------------------------------------------

void VirtioPciDevice::pci_cfg_window_access(bool write) {
  // Caller holds the access lock but not the irq lock.
  uint8_t bar = 0;
  uint32_t offset = 0, length = 0, data = 0;
  {
    std::lock_guard lock(core_.irq_mutex());
    bar = config_.read8(pci_cfg_cap_ + kCapBar);
    offset = config_.read32(pci_cfg_cap_ + kCapOffset);
    length = config_.read32(pci_cfg_cap_ + kCapLength);
    data = config_.read32(pci_cfg_cap_ + kPciCfgData);
  }
  // The spec allows 1, 2 or 4 bytes, aligned, inside an implemented BAR.
  if (length != 1 && length != 2 && length != 4) return;
  if (offset % length || bar >= pci::kNumBars || !bar_specs_[bar]) return;
  if (uint64_t{offset} + length > bar_specs_[bar]->size) return;
  uint8_t bytes[4] = {};
  store_le(bytes, data);
  if (write) {
    bar_write_locked(bar, offset, std::span<const uint8_t>(bytes, length));
  } else {
    std::fill(bytes, bytes + 4, 0);
    bar_read_locked(bar, offset, std::span<uint8_t>(bytes, length));
    std::lock_guard lock(core_.irq_mutex());
    config_.set32(pci_cfg_cap_ + kPciCfgData, static_cast<uint32_t>(load_le(bytes)));
  }
}

void VirtioPciDevice::config_read(uint16_t offset, std::span<uint8_t> out) {
  std::lock_guard access(core_.access_mutex());
  const uint16_t window = pci_cfg_cap_ + kPciCfgData;
  if (offset < window + 4 && offset + out.size() > window) pci_cfg_window_access(false);
  std::lock_guard lock(core_.irq_mutex());
  config_.read(offset, out);
}

void VirtioPciDevice::config_write(uint16_t offset, std::span<const uint8_t> in) {
  std::lock_guard access(core_.access_mutex());
  {
    std::lock_guard lock(core_.irq_mutex());
    config_.write(offset, in);
    msix_.config_written(config_);
    core_.refresh_intx_locked();  // MSI-X enable or INTx disable may have changed
  }
  const uint16_t window = pci_cfg_cap_ + kPciCfgData;
  if (offset < window + 4 && offset + in.size() > window) pci_cfg_window_access(true);
}

std::optional<pci::BarSpec> VirtioPciDevice::bar_spec(int index) const {
  return index >= 0 && index < pci::kNumBars ? bar_specs_[index] : std::nullopt;
}

std::shared_ptr<BusDevice> VirtioPciDevice::bar_region(int index) {
  return index >= 0 && index < pci::kNumBars ? regions_[index] : nullptr;
}

// ---- Notifications -----------------------------------------------------------------

void VirtioPciDevice::kick(uint16_t queue) {
  if (queue >= device_->num_queues()) return;
  wiring_->kick([weak = weak_from_this(), queue] {
    if (auto self = weak.lock()) self->core_.dispatch_kick(queue);
  });
}

void VirtioPciDevice::attach_notifiers(uint64_t bar_address) {
  for (uint16_t i = 0; i < device_->num_queues(); ++i) {
    const uint64_t addr = bar_address + kNotifyOffset + uint64_t{i} * kNotifyOffMultiplier;
    auto on_kick = [weak = weak_from_this(), i] {
      if (auto self = weak.lock()) self->core_.dispatch_kick(i);
    };
    if (wiring_->attach(addr, 2, false, std::move(on_kick))) attached_notifiers_.push_back(addr);
  }
}

void VirtioPciDevice::detach_notifiers() {
  for (uint64_t addr : attached_notifiers_) wiring_->detach(addr, 2, false);
  attached_notifiers_.clear();
}

void VirtioPciDevice::bar_mapped(int index, uint64_t address) {
  if (index != kModernBar) return;
  std::lock_guard access(core_.access_mutex());
  detach_notifiers();
  attach_notifiers(address);
}

void VirtioPciDevice::bar_unmapped(int index, uint64_t) {
  if (index != kModernBar) return;
  std::lock_guard access(core_.access_mutex());
  detach_notifiers();
}

// ---- BAR accesses --------------------------------------------------------------------

void VirtioPciDevice::bar_read(int bar, uint64_t offset, std::span<uint8_t> out) {
  std::lock_guard access(core_.access_mutex());
  bar_read_locked(bar, offset, out);
}

void VirtioPciDevice::bar_write(int bar, uint64_t offset, std::span<const uint8_t> in) {
  std::lock_guard access(core_.access_mutex());
  bar_write_locked(bar, offset, in);
}

void VirtioPciDevice::bar_read_locked(int bar, uint64_t offset, std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), 0);
  if (out.empty() || out.size() > 8) return;
  switch (bar) {
    case kLegacyBar:
      if (core_.mode() == VirtioPciMode::kTransitional) legacy_read(core_, msix_.enabled(), offset, out);
      return;
    case kMsixBar:
      if (offset < msix_.table_bytes())
        msix_.table_read(offset, out);
      else if (offset >= msix_pba_offset_)
        msix_.pba_read(offset - msix_pba_offset_, out);
      return;
    case kModernBar:
      if (offset < kIsrOffset) {
        common_cfg_read(core_, offset - kCommonCfgOffset, out);
      } else if (offset < kDeviceCfgOffset) {
        if (offset == kIsrOffset) out[0] = core_.read_isr();
      } else if (offset < kNotifyOffset) {
        core_.read_device_config(offset - kDeviceCfgOffset, out);
      }  // notify region reads as zero
      return;
    default: return;
  }
}

void VirtioPciDevice::bar_write_locked(int bar, uint64_t offset, std::span<const uint8_t> in) {
  if (in.empty() || in.size() > 8) return;
  switch (bar) {
    case kLegacyBar:
      if (core_.mode() != VirtioPciMode::kTransitional) return;
      if (auto queue = legacy_notify_queue(offset, in)) {
        kick(*queue);
        return;
      }
      legacy_write(core_, msix_.enabled(), offset, in);
      return;
    case kMsixBar:
      if (offset < msix_.table_bytes()) msix_.table_write(offset, in);  // the PBA is read-only
      return;
    case kModernBar:
      if (offset < kIsrOffset) {
        common_cfg_write(core_, offset - kCommonCfgOffset, in);
      } else if (offset >= kDeviceCfgOffset && offset < kNotifyOffset) {
        core_.write_device_config(offset - kDeviceCfgOffset, in);
      } else if (offset >= kNotifyOffset) {
        // The address names the queue (queue_notify_off * multiplier); the
        // value written (the queue index) is not needed.
        const uint64_t rel = offset - kNotifyOffset;
        if (rel % kNotifyOffMultiplier == 0)
          kick(static_cast<uint16_t>(std::min<uint64_t>(rel / kNotifyOffMultiplier, 0xffff)));
      }  // ISR writes are ignored
      return;
    default: return;
  }
}

// ---- Interrupt pins (irq lock held) ----------------------------------------------------

bool VirtioPciDevice::msix_enabled() const { return msix_.enabled(); }
uint16_t VirtioPciDevice::msix_vectors() const { return msix_.vectors(); }
void VirtioPciDevice::msix_notify(uint16_t vector) { (void)msix_.notify(vector); }

void VirtioPciDevice::set_intx(bool level) {
  intx_level_ = level;
  update_intx_locked();
}

void VirtioPciDevice::update_intx_locked() {
  config_.set_interrupt_status(intx_level_);
  if (intx_line_) intx_line_->set_level(intx_level_ && !config_.intx_disabled());
}

void VirtioPciDevice::attach_intx(std::shared_ptr<IrqLine> line) {
  std::lock_guard lock(core_.irq_mutex());
  intx_line_ = std::move(line);
  update_intx_locked();
}

VirtioPciDevice::Status VirtioPciDevice::status() {
  std::lock_guard access(core_.access_mutex());
  Status s;
  s.mode = core_.mode();
  s.device_status = core_.status();  // takes the irq lock itself
  s.driver_features = core_.driver_features();
  std::lock_guard lock(core_.irq_mutex());
  s.msix_enabled = msix_.enabled();
  return s;
}

// ---- Reset, migration --------------------------------------------------------------------

void VirtioPciDevice::reset() {
  std::lock_guard access(core_.access_mutex());
  detach_notifiers();
  core_.reset();
  std::lock_guard lock(core_.irq_mutex());
  config_.reset();
  msix_.reset();
  msix_.config_written(config_);
  intx_level_ = false;
  update_intx_locked();
}

VirtioPciDevice::State VirtioPciDevice::save() {
  std::lock_guard access(core_.access_mutex());
  State s;
  s.transport = core_.save();
  std::lock_guard lock(core_.irq_mutex());
  s.pci_config.assign(config_.bytes().begin(), config_.bytes().end());
  s.msix = msix_.save();
  return s;
}

std::optional<std::string> VirtioPciDevice::validate(const State& s) const {
  if (s.msix.table.size() != msix_.table_bytes() || s.msix.pending.size() * 8 != msix_.pba_bytes())
    return "MSI-X table of " + std::to_string(s.msix.table.size() / pci::kMsixEntrySize) +
           " vectors; this function has " + std::to_string(msix_.vectors());
  return core_.check(s.transport);
}

std::optional<std::string> VirtioPciDevice::check_device_fits(const State& s, bool device_active,
                                                              uint64_t device_features) const {
  return core_.check_device_fits(s.transport, device_active, device_features);
}

bool VirtioPciDevice::restore(const State& s) {
  std::lock_guard access(core_.access_mutex());
  if (validate(s)) return false;
  pci::PciConfigSpace candidate = config_;
  if (!candidate.restore_bytes(s.pci_config)) return false;
  const auto old_msix = msix_.save();
  if (!msix_.restore(s.msix)) return false;
  pci::PciConfigSpace old_config = candidate;
  {
    std::lock_guard lock(core_.irq_mutex());
    old_config = config_;
    config_ = candidate;
    msix_.config_written(config_);
  }
  // The core calls into the device: never with the irq lock held.
  if (!core_.restore(s.transport)) {
    std::lock_guard lock(core_.irq_mutex());
    config_ = old_config;
    (void)msix_.restore(old_msix);
    msix_.config_written(config_);
    return false;
  }
  std::lock_guard lock(core_.irq_mutex());
  update_intx_locked();
  return true;
}

}  // namespace wren
