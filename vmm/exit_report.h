#pragma once
// Human-readable reports for guest exits that end the VM abnormally.
#include <linux/kvm.h>

#include <string>

#include "vmm/core/guest_memory.h"
#include "vmm/core/kvm.h"

namespace wren {

// Describes the vCPU's state: exit reason, suberror, RIP and the bytes of
// the instruction at RIP (translated through the guest's page tables).
std::string describe_fatal_exit(const Vcpu& vcpu, const GuestMemory& memory, const std::string& reason);

const char* exit_reason_name(uint32_t reason);

}  // namespace wren
