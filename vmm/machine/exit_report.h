#pragma once
// Human-readable reports for guest exits that end the VM abnormally.
#include <linux/kvm.h>

#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "hypervisor/kvm.h"

namespace wren {

// Describes the vCPU's state: exit reason, suberror, RIP and the bytes of
// the instruction at RIP (translated through the guest's page tables).
std::string describe_fatal_exit(const Vcpu& vcpu, const GuestMemory& memory, const std::string& reason);

const char* exit_reason_name(uint32_t reason);

// The `count` bytes at CS:RIP (translated through the guest's page tables),
// or nothing if they are not all in guest RAM.
std::vector<uint8_t> code_at_rip(const Vcpu& vcpu, const GuestMemory& memory, const kvm_regs& regs,
                                 const kvm_sregs& sregs, size_t count);

}  // namespace wren
