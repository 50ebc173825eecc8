#pragma once
// `--kernel`: reads the kernel and its initrd or modules, and chooses the
// loader from the image's contents as QEMU's -kernel does: a Linux bzImage
// (HdrS magic) boots through the Linux boot protocol, anything else with a
// multiboot header boots as a multiboot kernel.
#include <string>
#include <vector>

#include "hypervisor/guest_memory.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/result.h"

namespace wren {

struct KernelBoot {
  std::string kernel;   // path
  std::string initrd;   // bzImage: one path; multiboot: a module list (multiboot::parse_module_list)
  std::string cmdline;  // multiboot kernels see "KERNEL-PATH CMDLINE", as under QEMU and GRUB
};

[[nodiscard]] Result<BootImage> load_kernel(GuestMemory& mem, const KernelBoot& boot,
                                            const std::vector<E820Entry>& e820);

}  // namespace wren
