#pragma once
// Serializers for the platform devices' State structs.
#include "devices/platform/acpi_pm.h"
#include "devices/platform/cmos_rtc.h"
#include "devices/platform/hpet.h"
#include "devices/platform/i8042.h"
#include "devices/platform/uart16550.h"
#include "migrate/archive.h"

// Current versions (see archive.h); bump when a serializer gains a field.
WREN_ARCHIVE_VERSION(wren::Uart16550::State, 1)
WREN_ARCHIVE_VERSION(wren::I8042::State, 1)
WREN_ARCHIVE_VERSION(wren::CmosRtc::State, 1)
WREN_ARCHIVE_VERSION(wren::AcpiPm::State, 1)
WREN_ARCHIVE_VERSION(wren::Hpet::TimerState, 1)
WREN_ARCHIVE_VERSION(wren::Hpet::State, 1)

namespace wren {

// v1: registers and the receive FIFO (bounded by the device's capacity).
template <class A>
void serialize(A& ar, Uart16550::State& s, std::uint32_t version) {
  migrate::require_version<Uart16550::State>(version, "Uart16550::State");
  migrate::field(ar, "ier", s.ier);
  migrate::field(ar, "lcr", s.lcr);
  migrate::field(ar, "mcr", s.mcr);
  migrate::field(ar, "fcr", s.fcr);
  migrate::field(ar, "scr", s.scr);
  migrate::field(ar, "dll", s.dll);
  migrate::field(ar, "dlm", s.dlm);
  migrate::field(ar, "msr_deltas", s.msr_deltas);
  migrate::field(ar, "overrun", s.overrun);
  migrate::field(ar, "thr_interrupt_pending", s.thr_interrupt_pending);
  migrate::field_bytes(ar, "rx_fifo", s.rx_fifo, Uart16550::kInputCapacity);
}

// v1: every field.
template <class A>
void serialize(A& ar, I8042::State& s, std::uint32_t version) {
  migrate::require_version<I8042::State>(version, "I8042::State");
  migrate::field(ar, "control", s.control);
  migrate::field(ar, "output_port", s.output_port);
  migrate::field(ar, "pending_command", s.pending_command);
  migrate::field(ar, "output_full", s.output_full);
  migrate::field(ar, "output_from_aux", s.output_from_aux);
  migrate::field(ar, "output", s.output);
}

// v1: the 128 CMOS bytes, index port, clock offset.
template <class A>
void serialize(A& ar, CmosRtc::State& s, std::uint32_t version) {
  migrate::require_version<CmosRtc::State>(version, "CmosRtc::State");
  migrate::field_blob(ar, "bytes", s.bytes.data(), s.bytes.size());
  migrate::field(ar, "index", s.index);
  migrate::field(ar, "nmi_masked", s.nmi_masked);
  migrate::field(ar, "clock_offset_seconds", s.clock_offset_seconds);
}

// v1: every field.
template <class A>
void serialize(A& ar, AcpiPm::State& s, std::uint32_t version) {
  migrate::require_version<AcpiPm::State>(version, "AcpiPm::State");
  migrate::field(ar, "pm1_status", s.pm1_status);
  migrate::field(ar, "pm1_enable", s.pm1_enable);
  migrate::field(ar, "pm1_control", s.pm1_control);
  migrate::field(ar, "timer", s.timer);
}

// v1: every field.
template <class A>
void serialize(A& ar, Hpet::TimerState& s, std::uint32_t version) {
  migrate::require_version<Hpet::TimerState>(version, "Hpet::TimerState");
  migrate::field(ar, "config", s.config);
  migrate::field(ar, "comparator", s.comparator);
  migrate::field(ar, "period", s.period);
  migrate::field(ar, "armed", s.armed);
}

// v1: general registers, the counter at save time and the three timers.
template <class A>
void serialize(A& ar, Hpet::State& s, std::uint32_t version) {
  migrate::require_version<Hpet::State>(version, "Hpet::State");
  static_assert(Hpet::kTimers == 3, "v1 carries exactly three timers");
  migrate::field(ar, "config", s.config);
  migrate::field(ar, "isr", s.isr);
  migrate::field(ar, "counter", s.counter);
  migrate::field(ar, "timer0", s.timers[0]);
  migrate::field(ar, "timer1", s.timers[1]);
  migrate::field(ar, "timer2", s.timers[2]);
}

}  // namespace wren
