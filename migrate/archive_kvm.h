#pragma once
// Serializers for the KVM vCPU and VM state (hypervisor/vcpu_state.h,
// vm_state.h). The kernel structs are written field by field, not as raw
// struct images, so a kernel header that grows a struct cannot shift the
// format; their padding and reserved fields are not carried (they decode as
// zero). The kernel structs live in the global namespace; their serializers
// sit in namespace cereal, where cereal looks for them.
#include "hypervisor/vcpu_state.h"
#include "hypervisor/vm_state.h"
#include "migrate/archive.h"

WREN_ARCHIVE_VERSION(wren::VcpuState, 1)
WREN_ARCHIVE_VERSION(wren::VmState, 1)

namespace cereal {

template <class A>
void serialize(A& ar, kvm_regs& r) {
  using wren::migrate::field;
  field(ar, "rax", r.rax);
  field(ar, "rbx", r.rbx);
  field(ar, "rcx", r.rcx);
  field(ar, "rdx", r.rdx);
  field(ar, "rsi", r.rsi);
  field(ar, "rdi", r.rdi);
  field(ar, "rsp", r.rsp);
  field(ar, "rbp", r.rbp);
  field(ar, "r8", r.r8);
  field(ar, "r9", r.r9);
  field(ar, "r10", r.r10);
  field(ar, "r11", r.r11);
  field(ar, "r12", r.r12);
  field(ar, "r13", r.r13);
  field(ar, "r14", r.r14);
  field(ar, "r15", r.r15);
  field(ar, "rip", r.rip);
  field(ar, "rflags", r.rflags);
}

template <class A>
void serialize(A& ar, kvm_segment& s) {
  using wren::migrate::field;
  field(ar, "base", s.base);
  field(ar, "limit", s.limit);
  field(ar, "selector", s.selector);
  field(ar, "type", s.type);
  field(ar, "present", s.present);
  field(ar, "dpl", s.dpl);
  field(ar, "db", s.db);
  field(ar, "s", s.s);
  field(ar, "l", s.l);
  field(ar, "g", s.g);
  field(ar, "avl", s.avl);
  field(ar, "unusable", s.unusable);
}

template <class A>
void serialize(A& ar, kvm_dtable& d) {
  using wren::migrate::field;
  field(ar, "base", d.base);
  field(ar, "limit", d.limit);
}

template <class A>
void serialize(A& ar, kvm_sregs& s) {
  using wren::migrate::field;
  field(ar, "cs", s.cs);
  field(ar, "ds", s.ds);
  field(ar, "es", s.es);
  field(ar, "fs", s.fs);
  field(ar, "gs", s.gs);
  field(ar, "ss", s.ss);
  field(ar, "tr", s.tr);
  field(ar, "ldt", s.ldt);
  field(ar, "gdt", s.gdt);
  field(ar, "idt", s.idt);
  field(ar, "cr0", s.cr0);
  field(ar, "cr2", s.cr2);
  field(ar, "cr3", s.cr3);
  field(ar, "cr4", s.cr4);
  field(ar, "cr8", s.cr8);
  field(ar, "efer", s.efer);
  field(ar, "apic_base", s.apic_base);
  wren::migrate::field_array(ar, "interrupt_bitmap", s.interrupt_bitmap);
}

template <class A>
void serialize(A& ar, kvm_fpu& f) {
  using wren::migrate::field;
  wren::migrate::field_blob(ar, "fpr", f.fpr, sizeof f.fpr);
  field(ar, "fcw", f.fcw);
  field(ar, "fsw", f.fsw);
  field(ar, "ftwx", f.ftwx);
  field(ar, "last_opcode", f.last_opcode);
  field(ar, "last_ip", f.last_ip);
  field(ar, "last_dp", f.last_dp);
  wren::migrate::field_blob(ar, "xmm", f.xmm, sizeof f.xmm);
  field(ar, "mxcsr", f.mxcsr);
}

template <class A>
void serialize(A& ar, kvm_xcr& x) {
  using wren::migrate::field;
  field(ar, "xcr", x.xcr);
  field(ar, "value", x.value);
}

template <class A>
void serialize(A& ar, kvm_debugregs& d) {
  using wren::migrate::field;
  wren::migrate::field_array(ar, "db", d.db);
  field(ar, "dr6", d.dr6);
  field(ar, "dr7", d.dr7);
  field(ar, "flags", d.flags);
}

template <class A>
void serialize(A& ar, kvm_lapic_state& l) {
  wren::migrate::field_blob(ar, "regs", l.regs, sizeof l.regs);
}

template <class A>
void serialize(A& ar, kvm_vcpu_events& e) {
  using wren::migrate::field;
  field(ar, "exception_injected", e.exception.injected);
  field(ar, "exception_nr", e.exception.nr);
  field(ar, "exception_has_error_code", e.exception.has_error_code);
  field(ar, "exception_pending", e.exception.pending);
  field(ar, "exception_error_code", e.exception.error_code);
  field(ar, "interrupt_injected", e.interrupt.injected);
  field(ar, "interrupt_nr", e.interrupt.nr);
  field(ar, "interrupt_soft", e.interrupt.soft);
  field(ar, "interrupt_shadow", e.interrupt.shadow);
  field(ar, "nmi_injected", e.nmi.injected);
  field(ar, "nmi_pending", e.nmi.pending);
  field(ar, "nmi_masked", e.nmi.masked);
  field(ar, "sipi_vector", e.sipi_vector);
  field(ar, "flags", e.flags);
  field(ar, "smi_smm", e.smi.smm);
  field(ar, "smi_pending", e.smi.pending);
  field(ar, "smi_smm_inside_nmi", e.smi.smm_inside_nmi);
  field(ar, "smi_latched_init", e.smi.latched_init);
  field(ar, "triple_fault_pending", e.triple_fault.pending);
  field(ar, "exception_has_payload", e.exception_has_payload);
  field(ar, "exception_payload", e.exception_payload);
}

template <class A>
void serialize(A& ar, kvm_cpuid_entry2& c) {
  using wren::migrate::field;
  field(ar, "function", c.function);
  field(ar, "index", c.index);
  field(ar, "flags", c.flags);
  field(ar, "eax", c.eax);
  field(ar, "ebx", c.ebx);
  field(ar, "ecx", c.ecx);
  field(ar, "edx", c.edx);
}

template <class A>
void serialize(A& ar, kvm_pic_state& p) {
  using wren::migrate::field;
  field(ar, "last_irr", p.last_irr);
  field(ar, "irr", p.irr);
  field(ar, "imr", p.imr);
  field(ar, "isr", p.isr);
  field(ar, "priority_add", p.priority_add);
  field(ar, "irq_base", p.irq_base);
  field(ar, "read_reg_select", p.read_reg_select);
  field(ar, "poll", p.poll);
  field(ar, "special_mask", p.special_mask);
  field(ar, "init_state", p.init_state);
  field(ar, "auto_eoi", p.auto_eoi);
  field(ar, "rotate_on_auto_eoi", p.rotate_on_auto_eoi);
  field(ar, "special_fully_nested_mode", p.special_fully_nested_mode);
  field(ar, "init4", p.init4);
  field(ar, "elcr", p.elcr);
  field(ar, "elcr_mask", p.elcr_mask);
}

template <class A>
void serialize(A& ar, kvm_ioapic_state& s) {
  using wren::migrate::field;
  field(ar, "base_address", s.base_address);
  field(ar, "ioregsel", s.ioregsel);
  field(ar, "id", s.id);
  field(ar, "irr", s.irr);
  std::uint64_t redirection[KVM_IOAPIC_NUM_PINS];
  for (int i = 0; i < KVM_IOAPIC_NUM_PINS; ++i) redirection[i] = s.redirtbl[i].bits;
  wren::migrate::field_array(ar, "redirection", redirection);
  for (int i = 0; i < KVM_IOAPIC_NUM_PINS; ++i) s.redirtbl[i].bits = redirection[i];
}

template <class A>
void serialize(A& ar, kvm_pit_channel_state& c) {
  using wren::migrate::field;
  field(ar, "count", c.count);
  field(ar, "latched_count", c.latched_count);
  field(ar, "count_latched", c.count_latched);
  field(ar, "status_latched", c.status_latched);
  field(ar, "status", c.status);
  field(ar, "read_state", c.read_state);
  field(ar, "write_state", c.write_state);
  field(ar, "write_latch", c.write_latch);
  field(ar, "rw_mode", c.rw_mode);
  field(ar, "mode", c.mode);
  field(ar, "bcd", c.bcd);
  field(ar, "gate", c.gate);
  field(ar, "count_load_time", c.count_load_time);
}

}  // namespace cereal

namespace wren {

template <class A>
void serialize(A& ar, MsrValue& m) {
  migrate::field(ar, "index", m.index);
  migrate::field(ar, "data", m.data);
}

// v1: everything in VcpuState.
template <class A>
void serialize(A& ar, VcpuState& s, std::uint32_t version) {
  migrate::require_version<VcpuState>(version, "VcpuState");
  migrate::field_vector(ar, "cpuid", s.cpuid, VcpuState::kMaxCpuidEntries);
  migrate::field(ar, "regs", s.regs);
  migrate::field(ar, "sregs", s.sregs);
  migrate::field_vector(ar, "xsave", s.xsave, VcpuState::kMaxXsaveWords);
  migrate::field(ar, "fpu", s.fpu);
  migrate::field_vector(ar, "xcrs", s.xcrs, KVM_MAX_XCRS);
  migrate::field(ar, "debugregs", s.debugregs);
  migrate::field(ar, "lapic", s.lapic);
  migrate::field_vector(ar, "msrs", s.msrs, VcpuState::kMaxMsrs);
  migrate::field(ar, "events", s.events);
  migrate::field(ar, "mp_state", s.mp_state.mp_state);
  migrate::field(ar, "tsc_khz", s.tsc_khz);
}

// v1: everything in VmState.
template <class A>
void serialize(A& ar, VmState& s, std::uint32_t version) {
  migrate::require_version<VmState>(version, "VmState");
  migrate::field(ar, "pic_master", s.pic_master);
  migrate::field(ar, "pic_slave", s.pic_slave);
  migrate::field(ar, "ioapic", s.ioapic);
  migrate::field(ar, "has_pit", s.has_pit);
  migrate::field(ar, "pit_channel0", s.pit.channels[0]);
  migrate::field(ar, "pit_channel1", s.pit.channels[1]);
  migrate::field(ar, "pit_channel2", s.pit.channels[2]);
  migrate::field(ar, "pit_flags", s.pit.flags);
  migrate::field(ar, "clock_ns", s.clock_ns);
  migrate::field(ar, "clock_flags", s.clock_flags);
}

}  // namespace wren
