#pragma once
// C layouts of KVM's variable-length ioctl structs. In C++, linux-libc-dev's
// __DECLARE_FLEX_ARRAY puts an empty struct (size 1) before the trailing
// array, which moves the array and changes sizeof — and with it the ioctl
// numbers. These headers have the kernel's C layout; the ioctl numbers are
// rebuilt on them.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace wren::kvm_abi {

struct CountHeader {  // kvm_cpuid2, kvm_msrs, kvm_irq_routing: u32 count, u32 pad
  uint32_t count;
  uint32_t padding;
};
static_assert(sizeof(CountHeader) == 8);

struct MsrListHeader {  // kvm_msr_list: u32 count
  uint32_t count;
};
static_assert(sizeof(MsrListHeader) == 4);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CountHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CountHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, CountHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, CountHeader);
inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
inline constexpr unsigned long kGetMsrFeatureIndexList = _IOWR(KVMIO, 0x0a, MsrListHeader);
inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, CountHeader);

}  // namespace wren::kvm_abi
