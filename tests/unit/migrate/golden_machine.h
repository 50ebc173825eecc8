#pragma once
// A small machine's payloads built from the golden values (one vCPU, the
// VM, a UART, a virtio-net NIC and its PCI function), and the restore side
// that takes every one of them back: shared by the snapshot and live
// migration tests and the live destination fuzz target (so no googletest
// here: golden_machine_checks.h has the assertions).
#include "golden/golden_values.h"
#include "migrate/kinds.h"

namespace wren::migrate::golden_machine {

// The NIC as it is saved: the golden device state with the golden filter.
inline NetDevice::State net_device() {
  NetDevice::State net = golden::net_device();
  net.control.rx_filter = golden::rx_filter();
  return net;
}

inline std::vector<Payload> payloads() {
  std::vector<Payload> p{make_payload(kinds::kVcpu, "cpu0", golden::vcpu()),
                         make_payload(kinds::kVm, "vm", golden::vm()),
                         make_payload(kinds::kUart, "com1", golden::uart()),
                         make_payload(kinds::kVirtioPci, "net0", golden::virtio_pci())};
  for (auto& x : kinds::net_device_payloads("net0", net_device())) p.push_back(std::move(x));
  return p;
}

struct Taken {
  VcpuState vcpu;
  VmState vm;
  Uart16550::State uart;
  VirtioPciDevice::State pci;
  NetDevice::State net;
};

// Takes what payloads() holds, as a restore would; the first failure.
inline Expected<Taken> take(Import& import) {
  auto vcpu = import.take(kinds::kVcpu, "cpu0");
  auto vm = import.take(kinds::kVm, "vm");
  auto uart = import.take(kinds::kUart, "com1");
  auto pci = import.take(kinds::kVirtioPci, "net0");
  auto net = kinds::take_net_device(import, "net0");
  for (const std::string* e : {&vcpu.error(), &vm.error(), &uart.error(), &pci.error(), &net.error()})
    if (!e->empty()) return Failure{*e};
  return Taken{*vcpu, *vm, *uart, *pci, *net};
}

}  // namespace wren::migrate::golden_machine
