#include "hypervisor/vcpu_state.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "hypervisor/kvm_abi.h"

namespace wren {

namespace {

// linux-libc-dev declares struct kvm_xsave with a C++ flexible-array member,
// which changes its sizeof and therefore the ioctl numbers; these are the
// kernel's numbers, built on the 4 KiB C layout.
struct XsaveRegion {
  uint32_t region[VcpuState::kXsaveLegacyWords];
};
static_assert(sizeof(XsaveRegion) == 4096);
constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, XsaveRegion);
constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, XsaveRegion);
constexpr unsigned long kGetXsave2 = _IOR(KVMIO, 0xcf, XsaveRegion);
constexpr unsigned long kGetCpuid2 = _IOWR(KVMIO, 0x91, kvm_abi::CountHeader);

constexpr uint32_t kKnownEventFlags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
                                      KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |
                                      KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;

void must(int rc, const char* what) {
  if (rc < 0) throw KvmError(what, errno);
}

template <typename T>
T get(const Vcpu& vcpu, unsigned long request, const char* what) {
  T value{};
  must(vcpu.ioctl(request, &value), what);
  return value;
}

template <typename T>
void set(Vcpu& vcpu, unsigned long request, const T& value, const char* what) {
  must(vcpu.ioctl(request, const_cast<T*>(&value)), what);
}

// Bytes KVM moves for KVM_GET_XSAVE2 / KVM_SET_XSAVE on this host.
size_t xsave_words(const Kvm& kvm) {
  const int size = kvm.check_extension(KVM_CAP_XSAVE2);
  if (size <= 0) return VcpuState::kXsaveLegacyWords;
  return std::max<size_t>(VcpuState::kXsaveLegacyWords, (static_cast<size_t>(size) + 3) / 4);
}

std::vector<kvm_cpuid_entry2> get_cpuid2(const Vcpu& vcpu) {
  for (size_t n = 64; n <= VcpuState::kMaxCpuidEntries; n *= 2) {
    std::vector<uint8_t> buf(sizeof(kvm_abi::CountHeader) + n * sizeof(kvm_cpuid_entry2), 0);
    auto* header = reinterpret_cast<kvm_abi::CountHeader*>(buf.data());
    header->count = static_cast<uint32_t>(n);
    if (vcpu.ioctl(kGetCpuid2, buf.data()) == 0) {
      std::vector<kvm_cpuid_entry2> out(header->count);
      if (!out.empty())
        std::memcpy(out.data(), buf.data() + sizeof(kvm_abi::CountHeader), out.size() * sizeof(kvm_cpuid_entry2));
      return out;
    }
    if (errno != E2BIG) throw KvmError("KVM_GET_CPUID2", errno);
  }
  throw KvmError("KVM_GET_CPUID2", E2BIG);
}

std::vector<uint32_t> get_xsave(const Vcpu& vcpu, const Kvm& kvm) {
  std::vector<uint32_t> area(xsave_words(kvm), 0);
  const bool xsave2 = kvm.check_extension(KVM_CAP_XSAVE2) > 0;
  must(vcpu.ioctl(xsave2 ? kGetXsave2 : kGetXsave, area.data()), xsave2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE");
  return area;
}

}  // namespace

namespace {

// The first byte offset where two equally sized objects differ.
std::optional<size_t> first_differing_byte(const void* a, const void* b, size_t size) {
  const auto* x = static_cast<const uint8_t*>(a);
  const auto* y = static_cast<const uint8_t*>(b);
  for (size_t i = 0; i < size; ++i)
    if (x[i] != y[i]) return i;
  return std::nullopt;
}

template <typename T>
std::optional<std::string> differs(const char* name, const T& a, const T& b) {
  if (auto at = first_differing_byte(&a, &b, sizeof(T))) return std::string(name) + " at byte " + std::to_string(*at);
  return std::nullopt;
}

template <typename T>
std::optional<std::string> differs(const char* name, const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size())
    return std::string(name) + ": " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " entries";
  if (auto at = first_differing_byte(a.data(), b.data(), a.size() * sizeof(T)))
    return std::string(name) + " at byte " + std::to_string(*at);
  return std::nullopt;
}

std::optional<std::string> msrs_differ(const std::vector<MsrValue>& a, const std::vector<MsrValue>& b) {
  if (a.size() != b.size()) return "msrs: " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " entries";
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    char text[96];
    std::snprintf(text, sizeof text, "msr 0x%x: 0x%llx vs msr 0x%x: 0x%llx", a[i].index,
                  static_cast<unsigned long long>(a[i].data), b[i].index, static_cast<unsigned long long>(b[i].data));
    return std::string(text);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> first_difference(const VcpuState& a, const VcpuState& b) {
  for (auto d :
       {differs("cpuid", a.cpuid, b.cpuid), differs("regs", a.regs, b.regs), differs("sregs", a.sregs, b.sregs),
        differs("xsave", a.xsave, b.xsave), differs("fpu", a.fpu, b.fpu), differs("xcrs", a.xcrs, b.xcrs),
        differs("debugregs", a.debugregs, b.debugregs), differs("lapic", a.lapic, b.lapic), msrs_differ(a.msrs, b.msrs),
        differs("events", a.events, b.events), differs("mp_state", a.mp_state.mp_state, b.mp_state.mp_state),
        differs("tsc_khz", a.tsc_khz, b.tsc_khz)})
    if (d) return d;
  return std::nullopt;
}

bool operator==(const VcpuState& a, const VcpuState& b) { return !first_difference(a, b); }

std::vector<uint32_t> saveable_msr_indices(const Vcpu& vcpu, const Kvm& kvm) {
  const std::vector<uint32_t> all = kvm.msr_index_list();
  std::vector<uint32_t> ok;
  ok.reserve(all.size());
  // KVM_GET_MSRS returns how many entries it read and stops at the first it
  // refuses: keep the readable prefix, skip the refused index, go on.
  size_t at = 0;
  while (at < all.size()) {
    const std::vector<uint32_t> batch(all.begin() + static_cast<std::ptrdiff_t>(at), all.end());
    const size_t read = vcpu.get_msrs(batch).size();
    ok.insert(ok.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(read));
    at += read + 1;  // the refused one (if any) is skipped
  }
  return ok;
}

VcpuState capture_vcpu_state(const Vcpu& vcpu, const Kvm& kvm) {
  return capture_vcpu_state(vcpu, kvm, saveable_msr_indices(vcpu, kvm));
}

VcpuState capture_vcpu_state(const Vcpu& vcpu, const Kvm& kvm, const std::vector<uint32_t>& msr_indices) {
  VcpuState s;
  s.cpuid = get_cpuid2(vcpu);
  s.mp_state = vcpu.get_mp_state();
  s.regs = vcpu.get_regs();
  s.sregs = vcpu.get_sregs();
  if (kvm.check_extension(KVM_CAP_XSAVE) > 0)
    s.xsave = get_xsave(vcpu, kvm);
  else
    s.fpu = vcpu.get_fpu();
  if (kvm.check_extension(KVM_CAP_XCRS) > 0) {
    const auto xcrs = get<kvm_xcrs>(vcpu, KVM_GET_XCRS, "KVM_GET_XCRS");
    const uint32_t n = std::min<uint32_t>(xcrs.nr_xcrs, KVM_MAX_XCRS);
    for (uint32_t i = 0; i < n; ++i) {
      kvm_xcr xcr{};
      xcr.xcr = xcrs.xcrs[i].xcr;
      xcr.value = xcrs.xcrs[i].value;
      s.xcrs.push_back(xcr);
    }
  }
  s.debugregs = get<kvm_debugregs>(vcpu, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
  s.lapic = vcpu.get_lapic();
  const auto msrs = vcpu.get_msrs(msr_indices);
  if (msrs.size() != msr_indices.size())
    throw KvmError("KVM_GET_MSRS refused MSR index " + std::to_string(msr_indices[msrs.size()]), EINVAL);
  for (const auto& m : msrs) s.msrs.push_back({m.index, m.data});
  s.events = get<kvm_vcpu_events>(vcpu, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS");
  s.tsc_khz = vcpu_tsc_khz(vcpu, kvm);
  return s;
}

uint32_t vcpu_tsc_khz(const Vcpu& vcpu, const Kvm& kvm) {
  if (kvm.check_extension(KVM_CAP_GET_TSC_KHZ) <= 0) return 0;
  const int khz = vcpu.ioctl(KVM_GET_TSC_KHZ, nullptr);
  return khz > 0 ? static_cast<uint32_t>(khz) : 0;
}

std::optional<std::string> check_vcpu_state(const VcpuState& s, const Kvm& kvm) {
  if (s.cpuid.size() > VcpuState::kMaxCpuidEntries) return "too many CPUID entries";
  if (s.msrs.size() > VcpuState::kMaxMsrs) return "too many MSRs";
  const bool has_xsave = kvm.check_extension(KVM_CAP_XSAVE) > 0;
  if (has_xsave) {
    if (s.xsave.size() != xsave_words(kvm))
      return "XSAVE area of " + std::to_string(s.xsave.size() * 4) + " bytes, this host expects " +
             std::to_string(xsave_words(kvm) * 4);
  } else if (!s.xsave.empty()) {
    return "XSAVE state but this host has no KVM_CAP_XSAVE";
  }
  if (s.xcrs.size() > KVM_MAX_XCRS) return "too many XCRs";
  if (!s.xcrs.empty() && kvm.check_extension(KVM_CAP_XCRS) <= 0) return "XCRs but this host has no KVM_CAP_XCRS";
  for (const auto& xcr : s.xcrs)
    if (xcr.reserved != 0) return "XCR entry with reserved bits";
  if (s.debugregs.flags != 0) return "debug register flags set";
  if (s.events.flags & ~kKnownEventFlags) return "vCPU event flags with unknown bits";
  if (s.mp_state.mp_state > KVM_MP_STATE_SIPI_RECEIVED) return "unknown MP state";
  std::vector<uint32_t> seen;
  seen.reserve(s.msrs.size());
  for (const auto& m : s.msrs) seen.push_back(m.index);
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) return "an MSR is listed twice";
  return std::nullopt;
}

void restore_vcpu_state(Vcpu& vcpu, const Kvm& kvm, const VcpuState& s) {
  if (auto problem = check_vcpu_state(s, kvm)) throw std::invalid_argument("vCPU state: " + *problem);

  if (!s.cpuid.empty()) vcpu.set_cpuid(s.cpuid);
  // The TSC rate before any TSC value (the TSC MSRs) is written.
  if (s.tsc_khz != 0 && kvm.check_extension(KVM_CAP_GET_TSC_KHZ) > 0) {
    const int here = vcpu.ioctl(KVM_GET_TSC_KHZ, nullptr);
    // Calibration differs slightly between hosts; only scale beyond 250 ppm.
    if (here > 0 && std::llabs(static_cast<long long>(here) - s.tsc_khz) * 4000 > s.tsc_khz) {
      if (kvm.check_extension(KVM_CAP_TSC_CONTROL) > 0)
        must(vcpu.ioctl(KVM_SET_TSC_KHZ, reinterpret_cast<void*>(static_cast<uintptr_t>(s.tsc_khz))),
             "KVM_SET_TSC_KHZ");
      else
        spdlog::warn("vCPU {}: TSC runs at {} kHz here, {} kHz at the source, and KVM cannot scale it", vcpu.index(),
                     here, s.tsc_khz);
    }
  }
  vcpu.set_mp_state(s.mp_state);
  vcpu.set_regs(s.regs);
  vcpu.set_sregs(s.sregs);
  if (!s.xsave.empty()) {
    // KVM_SET_XSAVE reads KVM_CAP_XSAVE2 bytes (checked above).
    must(vcpu.ioctl(kSetXsave, const_cast<uint32_t*>(s.xsave.data())), "KVM_SET_XSAVE");
  } else {
    vcpu.set_fpu(s.fpu);
  }
  if (!s.xcrs.empty()) {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = static_cast<uint32_t>(s.xcrs.size());
    for (size_t i = 0; i < s.xcrs.size(); ++i) xcrs.xcrs[i] = s.xcrs[i];
    set(vcpu, KVM_SET_XCRS, xcrs, "KVM_SET_XCRS");
  }
  set(vcpu, KVM_SET_DEBUGREGS, s.debugregs, "KVM_SET_DEBUGREGS");
  vcpu.set_lapic(s.lapic);
  if (!s.msrs.empty()) {
    std::vector<kvm_msr_entry> entries;
    entries.reserve(s.msrs.size());
    for (const auto& m : s.msrs) {
      kvm_msr_entry e{};
      e.index = m.index;
      e.data = m.data;
      entries.push_back(e);
    }
    vcpu.set_msrs(entries);
  }
  kvm_vcpu_events events = s.events;
  // Without these flags KVM ignores the NMI-pending and SIPI fields on set.
  events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
  set(vcpu, KVM_SET_VCPU_EVENTS, events, "KVM_SET_VCPU_EVENTS");
}

}  // namespace wren
