#include "hypervisor/kvm.h"

#include "hypervisor/kvm_abi.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace wren {

namespace {

int must(int rc, const char* what) {
  if (rc < 0) throw KvmError(what, errno);
  return rc;
}

// A variable-length KVM argument in its C layout: Header, then n entries.
template <typename Header, typename Entry>
class FlexBuffer {
 public:
  explicit FlexBuffer(size_t n) : bytes_(sizeof(Header) + n * sizeof(Entry), 0) {
    header()->count = static_cast<uint32_t>(n);
  }
  Header* header() { return reinterpret_cast<Header*>(bytes_.data()); }
  Entry* entries() { return reinterpret_cast<Entry*>(bytes_.data() + sizeof(Header)); }
  uint32_t count() { return header()->count; }
  void* arg() { return bytes_.data(); }

 private:
  std::vector<uint8_t> bytes_;
};

using kvm_abi::CountHeader;
using kvm_abi::MsrListHeader;

}  // namespace

KvmError::KvmError(const std::string& what, int err)
    : std::runtime_error(what + ": " + std::strerror(err)), err_(err) {}

Kvm::Kvm(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) throw KvmError(path + " does not exist (is KVM enabled on this host?)", err);
    if (err == EACCES) throw KvmError("no permission to open " + path + " (run as root or join the kvm group)", err);
    throw KvmError("cannot open " + path, err);
  }
  fd_.reset(fd);
  const int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION)
    throw KvmError(path + " speaks KVM API " + std::to_string(version) + ", need 12", EINVAL);
}

int Kvm::check_extension(long cap) const { return ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap); }

std::vector<kvm_cpuid_entry2> Kvm::supported_cpuid() const {
  for (size_t n = 64; n <= 4096; n *= 2) {
    FlexBuffer<CountHeader, kvm_cpuid_entry2> buf(n);
    if (::ioctl(fd_.get(), kvm_abi::kGetSupportedCpuid, buf.arg()) == 0)
      return {buf.entries(), buf.entries() + buf.count()};
    if (errno != E2BIG) throw KvmError("KVM_GET_SUPPORTED_CPUID", errno);
  }
  throw KvmError("KVM_GET_SUPPORTED_CPUID", E2BIG);
}

std::vector<uint32_t> Kvm::msr_index_list() const {
  MsrListHeader probe{0};
  if (::ioctl(fd_.get(), kvm_abi::kGetMsrIndexList, &probe) < 0 && errno != E2BIG)
    throw KvmError("KVM_GET_MSR_INDEX_LIST", errno);
  FlexBuffer<MsrListHeader, uint32_t> buf(probe.count);
  must(::ioctl(fd_.get(), kvm_abi::kGetMsrIndexList, buf.arg()), "KVM_GET_MSR_INDEX_LIST");
  return {buf.entries(), buf.entries() + buf.count()};
}

int Kvm::vcpu_mmap_size() const {
  return must(::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE");
}

Vm Kvm::create_vm() const {
  int fd = -1;
  do {
    fd = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);
  } while (fd < 0 && errno == EINTR);
  must(fd, "KVM_CREATE_VM");
  return Vm(UniqueFd(fd), vcpu_mmap_size());
}

Vcpu::Vcpu(UniqueFd fd, int mmap_size, uint32_t index)
    : fd_(std::move(fd)), run_(Mapping::of_fd(fd_.get(), static_cast<size_t>(mmap_size))), index_(index) {}

int Vcpu::run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) return 0;
  if (errno == EINTR || errno == EAGAIN) return -errno;
  throw KvmError("KVM_RUN", errno);
}

int Vcpu::ioctl(unsigned long request, void* arg) const { return ::ioctl(fd_.get(), request, arg); }

#define WREN_GETTER(type, name, req) \
  type Vcpu::name() const {          \
    type v{};                        \
    must(ioctl(req, &v), #req);      \
    return v;                        \
  }
#define WREN_SETTER(type, name, req) \
  void Vcpu::name(const type& v) { must(ioctl(req, const_cast<type*>(&v)), #req); }

WREN_GETTER(kvm_regs, get_regs, KVM_GET_REGS)
WREN_SETTER(kvm_regs, set_regs, KVM_SET_REGS)
WREN_GETTER(kvm_sregs, get_sregs, KVM_GET_SREGS)
WREN_SETTER(kvm_sregs, set_sregs, KVM_SET_SREGS)
WREN_GETTER(kvm_fpu, get_fpu, KVM_GET_FPU)
WREN_SETTER(kvm_fpu, set_fpu, KVM_SET_FPU)
WREN_GETTER(kvm_lapic_state, get_lapic, KVM_GET_LAPIC)
WREN_SETTER(kvm_lapic_state, set_lapic, KVM_SET_LAPIC)
WREN_GETTER(kvm_mp_state, get_mp_state, KVM_GET_MP_STATE)
WREN_SETTER(kvm_mp_state, set_mp_state, KVM_SET_MP_STATE)
#undef WREN_GETTER
#undef WREN_SETTER

void Vcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  FlexBuffer<CountHeader, kvm_cpuid_entry2> buf(entries.size());
  std::memcpy(buf.entries(), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
  must(ioctl(kvm_abi::kSetCpuid2, buf.arg()), "KVM_SET_CPUID2");
}

void Vcpu::set_msrs(const std::vector<kvm_msr_entry>& entries) {
  FlexBuffer<CountHeader, kvm_msr_entry> buf(entries.size());
  std::memcpy(buf.entries(), entries.data(), entries.size() * sizeof(kvm_msr_entry));
  const int n = must(ioctl(kvm_abi::kSetMsrs, buf.arg()), "KVM_SET_MSRS");
  if (static_cast<size_t>(n) != entries.size())
    throw KvmError("KVM_SET_MSRS refused MSR index " + std::to_string(entries[static_cast<size_t>(n)].index), EINVAL);
}

std::vector<kvm_msr_entry> Vcpu::get_msrs(const std::vector<uint32_t>& indices) const {
  FlexBuffer<CountHeader, kvm_msr_entry> buf(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) buf.entries()[i].index = indices[i];
  const int n = must(ioctl(kvm_abi::kGetMsrs, buf.arg()), "KVM_GET_MSRS");
  return {buf.entries(), buf.entries() + n};
}

Vm::Vm(UniqueFd fd, int vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

int Vm::ioctl(unsigned long request, void* arg) const { return ::ioctl(fd_.get(), request, arg); }
int Vm::check_extension(long cap) const { return ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap); }

void Vm::set_user_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, uint64_t host_addr, bool log_dirty) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = host_addr;
  must(ioctl(KVM_SET_USER_MEMORY_REGION, &r), "KVM_SET_USER_MEMORY_REGION");
}

bool Vm::enable_manual_dirty_log_protect() {
  if (check_extension(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) <= 0) return false;
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
  cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
  return ::ioctl(fd_.get(), KVM_ENABLE_CAP, &cap) == 0;
}

void Vm::get_dirty_log(uint32_t slot, std::span<uint64_t> bitmap) const {
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap.data();
  must(::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log), "KVM_GET_DIRTY_LOG");
}

void Vm::clear_dirty_log(uint32_t slot, uint64_t num_pages, std::span<uint64_t> bitmap) const {
  if (num_pages > bitmap.size() * 64) throw KvmError("KVM_CLEAR_DIRTY_LOG: bitmap smaller than the range", EINVAL);
  kvm_clear_dirty_log clear{};
  clear.slot = slot;
  clear.first_page = 0;
  clear.num_pages = static_cast<uint32_t>(num_pages);
  clear.dirty_bitmap = bitmap.data();
  must(::ioctl(fd_.get(), KVM_CLEAR_DIRTY_LOG, &clear), "KVM_CLEAR_DIRTY_LOG");
}

void Vm::set_tss_addr(uint64_t addr) { must(::ioctl(fd_.get(), KVM_SET_TSS_ADDR, addr), "KVM_SET_TSS_ADDR"); }

void Vm::set_identity_map_addr(uint64_t addr) {
  must(ioctl(KVM_SET_IDENTITY_MAP_ADDR, &addr), "KVM_SET_IDENTITY_MAP_ADDR");
}

void Vm::create_irqchip() { must(ioctl(KVM_CREATE_IRQCHIP, nullptr), "KVM_CREATE_IRQCHIP"); }

void Vm::create_pit2() {
  kvm_pit_config cfg{};
  cfg.flags = KVM_PIT_SPEAKER_DUMMY;
  must(ioctl(KVM_CREATE_PIT2, &cfg), "KVM_CREATE_PIT2");
}

void Vm::set_irq_line(uint32_t gsi, bool level) {
  kvm_irq_level l{};
  l.irq = gsi;
  l.level = level ? 1 : 0;
  must(ioctl(KVM_IRQ_LINE, &l), "KVM_IRQ_LINE");
}

void Vm::signal_msi(uint64_t address, uint32_t data) {
  kvm_msi msi{};
  msi.address_lo = static_cast<uint32_t>(address);
  msi.address_hi = static_cast<uint32_t>(address >> 32);
  msi.data = data;
  must(ioctl(KVM_SIGNAL_MSI, &msi), "KVM_SIGNAL_MSI");
}

void Vm::set_gsi_routing(const std::vector<kvm_irq_routing_entry>& entries) {
  FlexBuffer<CountHeader, kvm_irq_routing_entry> buf(entries.size());
  std::memcpy(buf.entries(), entries.data(), entries.size() * sizeof(kvm_irq_routing_entry));
  must(ioctl(kvm_abi::kSetGsiRouting, buf.arg()), "KVM_SET_GSI_ROUTING");
}

void Vm::irqfd(int event_fd, uint32_t gsi, bool deassign) {
  kvm_irqfd f{};
  f.fd = static_cast<uint32_t>(event_fd);
  f.gsi = gsi;
  f.flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0;
  must(ioctl(KVM_IRQFD, &f), "KVM_IRQFD");
}

void Vm::ioeventfd(int event_fd, uint64_t addr, uint32_t len, bool pio, bool deassign) {
  kvm_ioeventfd e{};
  e.fd = event_fd;
  e.addr = addr;
  e.len = len;
  e.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0);
  must(ioctl(KVM_IOEVENTFD, &e), "KVM_IOEVENTFD");
}

std::vector<uint64_t> Vm::get_dirty_log(uint32_t slot, uint64_t size) {
  std::vector<uint64_t> bitmap((size / 4096 + 63) / 64);
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap.data();
  must(ioctl(KVM_GET_DIRTY_LOG, &log), "KVM_GET_DIRTY_LOG");
  return bitmap;
}

Vcpu Vm::create_vcpu(uint32_t index) {
  int fd = must(::ioctl(fd_.get(), KVM_CREATE_VCPU, index), "KVM_CREATE_VCPU");
  return Vcpu(UniqueFd(fd), vcpu_mmap_size_, index);
}

}  // namespace wren
