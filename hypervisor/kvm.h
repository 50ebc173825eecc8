#pragma once
// RAII handles for /dev/kvm, a VM and its vCPUs. Every ioctl failure is a
// host error and throws KvmError naming the ioctl.
#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "hypervisor/mapping.h"
#include "hypervisor/unique_fd.h"

namespace wren {

class KvmError : public std::runtime_error {
 public:
  KvmError(const std::string& what, int err);
  int error() const { return err_; }

 private:
  int err_;
};

class Vm;

class Kvm {
 public:
  // Opens the KVM device; throws KvmError with a readable message if it is
  // missing, inaccessible, or speaks another API version.
  explicit Kvm(const std::string& path = "/dev/kvm");

  int check_extension(long cap) const;
  std::vector<kvm_cpuid_entry2> supported_cpuid() const;
  std::vector<uint32_t> msr_index_list() const;
  int vcpu_mmap_size() const;
  Vm create_vm() const;

 private:
  UniqueFd fd_;
};

class Vcpu {
 public:
  Vcpu(UniqueFd fd, int mmap_size, uint32_t index);

  uint32_t index() const { return index_; }
  int fd() const { return fd_.get(); }
  kvm_run* run_data() const { return reinterpret_cast<kvm_run*>(run_.data()); }

  // KVM_RUN; returns -errno on EINTR/EAGAIN (so the caller can check for a
  // pause request) and throws on other failures.
  int run();

  kvm_regs get_regs() const;
  void set_regs(const kvm_regs& regs);
  kvm_sregs get_sregs() const;
  void set_sregs(const kvm_sregs& sregs);
  kvm_fpu get_fpu() const;
  void set_fpu(const kvm_fpu& fpu);
  void set_cpuid(const std::vector<kvm_cpuid_entry2>& entries);
  void set_msrs(const std::vector<kvm_msr_entry>& entries);
  std::vector<kvm_msr_entry> get_msrs(const std::vector<uint32_t>& indices) const;
  kvm_lapic_state get_lapic() const;
  void set_lapic(const kvm_lapic_state& lapic);
  kvm_mp_state get_mp_state() const;
  void set_mp_state(const kvm_mp_state& state);

  // Generic ioctl for state the wrappers above do not cover.
  int ioctl(unsigned long request, void* arg) const;

 private:
  UniqueFd fd_;
  Mapping run_;
  uint32_t index_;
};

class Vm {
 public:
  Vm(UniqueFd fd, int vcpu_mmap_size);

  int fd() const { return fd_.get(); }
  int check_extension(long cap) const;

  void set_user_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, uint64_t host_addr, bool log_dirty = false);
  // Dirty logging for live migration. With manual protection (KVM_CAP_
  // MANUAL_DIRTY_LOG_PROTECT2, returns false where missing) get_dirty_log only
  // reads the bitmap and clear_dirty_log re-arms the pages; without it,
  // get_dirty_log reads and re-arms in one step. One bit per 4 KiB page.
  bool enable_manual_dirty_log_protect();
  void get_dirty_log(uint32_t slot, std::span<uint64_t> bitmap) const;
  void clear_dirty_log(uint32_t slot, uint64_t num_pages, std::span<uint64_t> bitmap) const;
  void set_tss_addr(uint64_t addr);
  void set_identity_map_addr(uint64_t addr);
  void create_irqchip();
  void create_pit2();
  void set_irq_line(uint32_t gsi, bool level);
  void signal_msi(uint64_t address, uint32_t data);
  void set_gsi_routing(const std::vector<kvm_irq_routing_entry>& entries);
  void irqfd(int event_fd, uint32_t gsi, bool deassign = false);
  // datamatch-less ioeventfd on an MMIO (or PIO) address of `len` bytes.
  void ioeventfd(int event_fd, uint64_t addr, uint32_t len, bool pio, bool deassign = false);
  // Returns the KVM dirty bitmap of a memory slot (and clears it in KVM).
  std::vector<uint64_t> get_dirty_log(uint32_t slot, uint64_t size);

  Vcpu create_vcpu(uint32_t index);
  int ioctl(unsigned long request, void* arg) const;

 private:
  UniqueFd fd_;
  int vcpu_mmap_size_;
};

}  // namespace wren
