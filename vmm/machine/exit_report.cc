#include "vmm/machine/exit_report.h"

#include <cstdio>

namespace wren {

namespace {
constexpr size_t kReportedCodeBytes = 16;
}  // namespace

const char* exit_reason_name(uint32_t reason) {
  switch (reason) {
    case KVM_EXIT_UNKNOWN: return "UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "EXCEPTION";
    case KVM_EXIT_IO: return "IO";
    case KVM_EXIT_HLT: return "HLT";
    case KVM_EXIT_MMIO: return "MMIO";
    case KVM_EXIT_SHUTDOWN: return "SHUTDOWN (triple fault)";
    case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
    case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT: return "SYSTEM_EVENT";
    default: return "other";
  }
}

std::string describe_fatal_exit(const Vcpu& vcpu, const GuestMemory& memory, const std::string& reason) {
  const kvm_run* run = vcpu.run_data();
  std::string out = "wren: vCPU " + std::to_string(vcpu.index()) + " stopped: " + reason + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "  exit reason: %u (%s)\n", run->exit_reason, exit_reason_name(run->exit_reason));
  out += line;
  if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
    std::snprintf(line, sizeof line, "  suberror: %u%s\n", run->internal.suberror,
                  run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)" : "");
    out += line;
  }
  if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
    std::snprintf(line, sizeof line, "  hardware entry failure reason: 0x%llx\n",
                  static_cast<unsigned long long>(run->fail_entry.hardware_entry_failure_reason));
    out += line;
  }
  kvm_regs regs{};
  kvm_sregs sregs{};
  if (vcpu.ioctl(KVM_GET_REGS, &regs) < 0 || vcpu.ioctl(KVM_GET_SREGS, &sregs) < 0)
    return out + "  (registers unavailable)\n";
  std::snprintf(line, sizeof line,
                "  RIP=%016llx RSP=%016llx RFLAGS=%08llx CS=%04x CR0=%llx CR3=%llx CR4=%llx EFER=%llx\n", regs.rip,
                regs.rsp, regs.rflags, sregs.cs.selector, sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer);
  out += line;
  const auto bytes = code_at_rip(vcpu, memory, regs, sregs, kReportedCodeBytes);
  if (bytes.size() == kReportedCodeBytes) {
    out += "  code at RIP:";
    for (auto b : bytes) {
      std::snprintf(line, sizeof line, " %02x", b);
      out += line;
    }
    out += "\n";
  } else {
    out += "  code at RIP: (not mapped)\n";
  }
  return out;
}

std::vector<uint8_t> code_at_rip(const Vcpu& vcpu, const GuestMemory& memory, const kvm_regs& regs,
                                 const kvm_sregs& sregs, size_t count) {
  kvm_translation tr{};
  tr.linear_address = sregs.cs.base + regs.rip;
  std::vector<uint8_t> bytes(count);
  if (vcpu.ioctl(KVM_TRANSLATE, &tr) < 0 || !tr.valid || !memory.read(tr.physical_address, bytes)) return {};
  return bytes;
}

}  // namespace wren
