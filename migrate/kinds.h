#pragma once
// Every payload kind Wren writes, and the registry that imports them.
//
// To add a State struct: a serialize() in an archive_*.h (with
// WREN_ARCHIVE_VERSION), a PayloadKind constant here, one add() line in
// kinds.cc, and a golden value in tests/golden/golden_values.h.
#include "migrate/archive_blk.h"
#include "migrate/archive_kvm.h"
#include "migrate/archive_memory.h"
#include "migrate/archive_net.h"
#include "migrate/archive_pci.h"
#include "migrate/archive_platform.h"
#include "migrate/archive_virtio.h"
#include "migrate/registry.h"

namespace wren::migrate::kinds {

std::optional<std::string> check_layout(const GuestMemoryLayout& layout);
std::optional<std::string> check_uart(const Uart16550::State& s);
std::optional<std::string> check_i8042(const I8042::State& s);
std::optional<std::string> check_cmos(const CmosRtc::State& s);
std::optional<std::string> check_acpi_pm(const AcpiPm::State& s);
std::optional<std::string> check_hpet(const Hpet::State& s);
std::optional<std::string> check_virtio_pci(const VirtioPciDevice::State& s);
std::optional<std::string> check_vm(const VmState& s);
std::optional<std::string> check_blk_device(const BlkDevice::State& s);

// Instance names: "ram"; "cpu0".."cpuN"; "vm"; device names ("com1", "net0").
inline constexpr PayloadKind<GuestMemoryLayout> kMemoryLayout{"memory/layout", 1, &check_layout};
inline constexpr PayloadKind<VcpuState> kVcpu{"kvm/vcpu", 1, nullptr};  // check_vcpu_state needs the Kvm: at take()
inline constexpr PayloadKind<VmState> kVm{"kvm/vm", 1, &check_vm};
inline constexpr PayloadKind<Uart16550::State> kUart{"platform/uart16550", 1, &check_uart};
inline constexpr PayloadKind<I8042::State> kI8042{"platform/i8042", 1, &check_i8042};
inline constexpr PayloadKind<CmosRtc::State> kCmos{"platform/cmos-rtc", 1, &check_cmos};
inline constexpr PayloadKind<AcpiPm::State> kAcpiPm{"platform/acpi-pm", 1, &check_acpi_pm};
inline constexpr PayloadKind<Hpet::State> kHpet{"platform/hpet", 1, &check_hpet};
// v1 and v2 importable (archive_virtio.h); v2 written. Checked here for
// shape; VirtioPciDevice::validate checks the rest against the device.
inline constexpr PayloadKind<VirtioPciDevice::State> kVirtioPci{"virtio-pci/function", 1, &check_virtio_pci};
// v1 and v2 importable (archive_net.h); v2 written. Bounded when decoded
// (table lengths, flag bits); its invariants are NetDevice::validate's.
inline constexpr PayloadKind<RxFilter> kRxFilter{"virtio-net/rx-filter", 1, nullptr};
// Without control.rx_filter (see net_device_payloads). Bounded when decoded
// (held lists per queue and per list, RSS sizes); every rule on its values
// is NetDevice::validate's.
inline constexpr PayloadKind<NetDevice::State> kNetDevice{"virtio-net/device", 1, nullptr};
// Its image identity and in-flight heads are checked against the device by BlkDevice::validate.
inline constexpr PayloadKind<BlkDevice::State> kBlkDevice{"virtio-blk/device", 1, &check_blk_device};

// All of the above.
const PayloadRegistry& default_registry();

// The instance name of vCPU `index` ("cpu0", ...).
inline std::string vcpu_instance(uint32_t index) { return "cpu" + std::to_string(index); }

// A net device's payloads: virtio-net/device and virtio-net/rx-filter (at
// `rx_filter_version`, 0 = current), both under `instance`.
std::vector<Payload> net_device_payloads(const std::string& instance, const NetDevice::State& state,
                                         uint32_t rx_filter_version = 0);
// Takes both back and joins them. A v1 rx-filter did not record whether VLAN
// filtering was on; for an active device it is set from the negotiated
// features (on exactly when CTRL_VLAN was negotiated). Checks nothing beyond
// the decoding: the joined state is for NetDevice::validate of the
// destination device (take_nic).
[[nodiscard]] Expected<NetDevice::State> take_net_device(Import& import, std::string_view instance);

}  // namespace wren::migrate::kinds
