#include "vmm/boot/kernel_loader.h"

#include "vmm/boot/boot_file.h"
#include "vmm/boot/multiboot.h"

namespace wren {

namespace {

Result<BootImage> load_multiboot_kernel(GuestMemory& mem, const KernelBoot& boot, std::span<const uint8_t> kernel,
                                        const std::vector<E820Entry>& e820) {
  std::vector<multiboot::ModuleSpec> specs;
  if (!boot.initrd.empty()) {
    auto parsed = multiboot::parse_module_list(boot.initrd);
    if (!parsed) return Error{"--initrd: " + parsed.error()};
    specs = std::move(parsed).value();
  }
  std::vector<std::vector<uint8_t>> files;
  std::vector<multiboot::Module> modules;
  for (const auto& spec : specs) {
    auto bytes = read_boot_file(spec.path, "multiboot module");
    if (!bytes) return Error{bytes.error()};
    files.push_back(std::move(bytes).value());
  }
  for (size_t i = 0; i < specs.size(); ++i) modules.push_back({files[i], specs[i].cmdline});
  const std::string cmdline = boot.cmdline.empty() ? boot.kernel : boot.kernel + " " + boot.cmdline;
  return multiboot::load(mem, kernel, modules, cmdline, e820);
}

}  // namespace

Result<BootImage> load_kernel(GuestMemory& mem, const KernelBoot& boot, const std::vector<E820Entry>& e820) {
  auto kernel = read_boot_file(boot.kernel, "kernel");
  if (!kernel) return Error{kernel.error()};
  const std::vector<uint8_t>& image = kernel.value();

  if (has_bzimage_magic(image)) {
    std::vector<uint8_t> initrd;
    if (!boot.initrd.empty()) {
      auto bytes = read_boot_file(boot.initrd, "initrd");
      if (!bytes) return Error{bytes.error()};
      initrd = std::move(bytes).value();
    }
    return load_bzimage(mem, image, initrd, boot.cmdline, e820);
  }
  auto header = multiboot::find_header(image);
  if (!header) return Error{"not a bzImage (no HdrS magic), and " + header.error()};
  if (!header.value())
    return Error{
        "neither a Linux bzImage (no HdrS magic at offset 0x202) nor a multiboot kernel (no multiboot "
        "header in its first 8192 bytes)"};
  return load_multiboot_kernel(mem, boot, image, e820);
}

}  // namespace wren
