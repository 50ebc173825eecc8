#include "vmm/boot/multiboot.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "hypervisor/layout.h"
#include "vmm/boot/hex.h"

namespace wren::multiboot {

namespace {

constexpr size_t kHeaderBytes = 12;         // magic, flags, checksum
constexpr size_t kAoutHeaderBytes = 32;     // ... and the five address fields
constexpr uint32_t kRequiredMask = 0xffff;  // bits a loader must understand
constexpr uint32_t kKnownRequired = kHeaderPageAlignModules | kHeaderMemoryInfo | kHeaderVideoMode;
constexpr uint64_t k4GiB = uint64_t{1} << 32;
constexpr uint64_t kLowMemoryKiB = 640;  // mem_lower never exceeds conventional memory

uint32_t u32_at(std::span<const uint8_t> bytes, size_t offset) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + offset, sizeof(v));
  return v;
}

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// A piece of the image: `bytes` from the file at `addr`, zero-filled up to `mem_size`.
struct Segment {
  uint64_t addr = 0;
  std::span<const uint8_t> bytes;
  uint64_t mem_size = 0;
};

struct ImagePlan {
  std::vector<Segment> segments;
  uint64_t entry = 0;
};

// Refuses a [start, start+size) the kernel or a module would occupy unless it
// is guest RAM in the 32-bit space, at or above 1 MiB, outside the PCI hole.
Status check_placement(const GuestMemory& mem, uint64_t start, uint64_t size, const std::string& what) {
  const uint64_t end = start + size;
  const std::string range = "[" + hex(start) + ", " + hex(end) + ")";
  if (end > k4GiB || end < start) return Error{what + " " + range + " does not fit in the 32-bit address space"};
  if (start < layout::kHighMemStart)
    return Error{what + " " + range + " lies below 1 MiB, where Wren keeps its boot structures and ACPI tables"};
  if (end > layout::kLowRamEnd)
    return Error{what + " " + range + " overlaps the PCI hole (" + hex(layout::kLowRamEnd) + " to 4 GiB)"};
  if (!mem.contains(start, size)) return Error{what + " " + range + " is outside guest RAM"};
  return Ok{};
}

Result<ImagePlan> plan_aout(std::span<const uint8_t> kernel, const Header& h) {
  if (h.header_addr < h.load_addr)
    return Error{"multiboot header_addr " + hex(h.header_addr) + " is below load_addr " + hex(h.load_addr)};
  const uint64_t header_delta = h.header_addr - h.load_addr;
  if (header_delta > h.offset)
    return Error{"multiboot load_addr " + hex(h.load_addr) + " would start " + std::to_string(header_delta - h.offset) +
                 " bytes before the beginning of the file"};
  const uint64_t load_offset = h.offset - header_delta;
  uint64_t load_size = kernel.size() - load_offset;
  if (h.load_end_addr != 0) {
    if (h.load_end_addr < h.load_addr)
      return Error{"multiboot load_end_addr " + hex(h.load_end_addr) + " is below load_addr " + hex(h.load_addr)};
    load_size = h.load_end_addr - h.load_addr;
    if (load_size > kernel.size() - load_offset)
      return Error{"kernel image truncated: its multiboot header asks for " + std::to_string(load_size) +
                   " bytes from file offset " + std::to_string(load_offset) + " but the file has only " +
                   std::to_string(kernel.size())};
  }
  uint64_t mem_size = load_size;
  if (h.bss_end_addr != 0) {
    if (h.bss_end_addr < h.load_addr + load_size)
      return Error{"multiboot bss_end_addr " + hex(h.bss_end_addr) + " is below the end of the loaded image " +
                   hex(h.load_addr + load_size)};
    mem_size = h.bss_end_addr - h.load_addr;
  }
  ImagePlan plan;
  plan.segments.push_back({h.load_addr, kernel.subspan(load_offset, load_size), mem_size});
  plan.entry = h.entry_addr;
  return plan;
}

Result<ImagePlan> plan_elf(std::span<const uint8_t> kernel) {
  Elf32_Ehdr eh;
  if (kernel.size() < sizeof(eh) || std::memcmp(kernel.data(), ELFMAG, SELFMAG) != 0)
    return Error{"the multiboot header has no address fields (flag 16) and the file is not an ELF image"};
  std::memcpy(&eh, kernel.data(), sizeof(eh));
  if (eh.e_ident[EI_CLASS] == ELFCLASS64)
    return Error{"64-bit ELF kernels cannot be booted through multiboot (build an ELF32 image)"};
  if (eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_386)
    return Error{"not a little-endian 32-bit x86 ELF image"};
  if (eh.e_type != ET_EXEC) return Error{"ELF image is not an executable (e_type " + std::to_string(eh.e_type) + ")"};
  if (eh.e_phentsize != sizeof(Elf32_Phdr) || eh.e_phnum == 0)
    return Error{"ELF image has no usable program header table"};
  if (uint64_t{eh.e_phoff} + uint64_t{eh.e_phnum} * sizeof(Elf32_Phdr) > kernel.size())
    return Error{"ELF program header table lies beyond the end of the file"};

  ImagePlan plan;
  std::optional<uint64_t> entry;
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    Elf32_Phdr ph;
    std::memcpy(&ph, kernel.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    const std::string name = "ELF segment " + std::to_string(i);
    if (ph.p_filesz > ph.p_memsz)
      return Error{name + " has more file bytes (" + std::to_string(ph.p_filesz) + ") than memory bytes (" +
                   std::to_string(ph.p_memsz) + ")"};
    if (uint64_t{ph.p_offset} + ph.p_filesz > kernel.size()) return Error{name + " lies beyond the end of the file"};
    plan.segments.push_back({ph.p_paddr, kernel.subspan(ph.p_offset, ph.p_filesz), ph.p_memsz});
    // Segments load at their physical address; a virtual entry point is
    // translated through the segment that contains it, as GRUB does.
    if (!entry && eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz)
      entry = uint64_t{ph.p_paddr} + (eh.e_entry - ph.p_vaddr);
  }
  if (plan.segments.empty()) return Error{"ELF image has no loadable segment"};
  plan.entry = entry.value_or(eh.e_entry);
  return plan;
}

// Hands out space for the information structure and what it points to, in
// low memory, and remembers the bytes to write there.
class InfoArea {
 public:
  Result<uint64_t> add(std::span<const uint8_t> bytes, uint64_t align, const char* what) {
    const uint64_t at = align_up(next_, align);
    if (at > layout::kMultibootInfoEnd || bytes.size() > layout::kMultibootInfoEnd - at)
      return Error{std::string("the multiboot information (") + what + ") does not fit in the " +
                   std::to_string((layout::kMultibootInfoEnd - layout::kMultibootInfoAddr) / layout::kKiB) +
                   " KiB area at " + hex(layout::kMultibootInfoAddr)};
    pieces_.push_back({at, std::vector<uint8_t>(bytes.begin(), bytes.end())});
    next_ = at + bytes.size();
    return at;
  }
  Result<uint64_t> add_string(std::string_view s, const char* what) {
    if (s.find('\0') != std::string_view::npos) return Error{std::string(what) + " contains a NUL byte"};
    std::vector<uint8_t> bytes(s.begin(), s.end());
    bytes.push_back(0);
    return add(bytes, 1, what);
  }
  template <typename T>
  Result<uint64_t> add_array(const std::vector<T>& items, const char* what) {
    return add(std::span(reinterpret_cast<const uint8_t*>(items.data()), items.size() * sizeof(T)), 8, what);
  }
  bool write(GuestMemory& mem) const {
    for (const auto& [gpa, bytes] : pieces_)
      if (!mem.write(gpa, bytes)) return false;
    return true;
  }

 private:
  struct Piece {
    uint64_t gpa;
    std::vector<uint8_t> bytes;
  };
  uint64_t next_ = layout::kMultibootInfoAddr;
  std::vector<Piece> pieces_;
};

// mem_lower and mem_upper from the map: RAM from 0 (at most 640 KiB) and the
// RAM entry that starts at 1 MiB.
void set_memory_sizes(Info& info, const std::vector<E820Entry>& e820) {
  for (const auto& e : e820) {
    if (e.type != E820Type::kRam) continue;
    if (e.addr == 0) info.mem_lower = static_cast<uint32_t>(std::min(e.size / layout::kKiB, kLowMemoryKiB));
    if (e.addr == layout::kHighMemStart)
      info.mem_upper = static_cast<uint32_t>(std::min<uint64_t>(e.size, k4GiB - layout::kHighMemStart) / layout::kKiB);
  }
}

}  // namespace

Result<std::optional<Header>> find_header(std::span<const uint8_t> kernel) {
  const size_t limit = std::min(kernel.size(), kSearchBytes);
  std::optional<size_t> bad_checksum_at;
  for (size_t off = 0; off + kHeaderBytes <= limit; off += 4) {
    if (u32_at(kernel, off) != kHeaderMagic) continue;
    const uint32_t flags = u32_at(kernel, off + 4);
    if (static_cast<uint32_t>(kHeaderMagic + flags + u32_at(kernel, off + 8)) != 0) {
      if (!bad_checksum_at) bad_checksum_at = off;
      continue;
    }
    Header h;
    h.offset = off;
    h.flags = flags;
    if (flags & kHeaderAoutKludge) {
      if (off + kAoutHeaderBytes > kernel.size())
        return Error{"multiboot header at offset " + std::to_string(off) +
                     " is truncated (its address fields are missing)"};
      h.header_addr = u32_at(kernel, off + 12);
      h.load_addr = u32_at(kernel, off + 16);
      h.load_end_addr = u32_at(kernel, off + 20);
      h.bss_end_addr = u32_at(kernel, off + 24);
      h.entry_addr = u32_at(kernel, off + 28);
    }
    return std::optional<Header>(h);
  }
  if (bad_checksum_at)
    return Error{"multiboot header at offset " + std::to_string(*bad_checksum_at) +
                 " has a bad checksum (magic + flags + checksum must be 0)"};
  return std::optional<Header>();
}

Result<std::vector<ModuleSpec>> parse_module_list(std::string_view text) {
  std::vector<ModuleSpec> out;
  std::string entry;
  auto finish = [&]() -> Status {
    if (entry.empty()) return Error{"empty entry in the module list (separate modules with one ',')"};
    const size_t space = entry.find(' ');
    if (space == 0) return Error{"module entry '" + entry + "' does not start with a file name"};
    out.push_back({entry.substr(0, space), entry});
    entry.clear();
    return Ok{};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ',') {
      entry += text[i];
    } else if (i + 1 < text.size() && text[i + 1] == ',') {
      entry += ',';  // ",," is a literal comma
      ++i;
    } else if (auto s = finish(); !s) {
      return Error{s.error()};
    }
  }
  if (auto s = finish(); !s) return Error{s.error()};
  return out;
}

Result<BootImage> load(GuestMemory& mem, std::span<const uint8_t> kernel, const std::vector<Module>& modules,
                       std::string_view cmdline, const std::vector<E820Entry>& e820) {
  auto found = find_header(kernel);
  if (!found) return Error{found.error()};
  if (!found.value()) return Error{"no multiboot header in the first 8192 bytes"};
  const Header& header = *found.value();

  const uint32_t required = header.flags & kRequiredMask;
  if (required & ~kKnownRequired)
    return Error{"multiboot header requires features this loader does not know (flags " + hex(header.flags) + ")"};
  if (required & kHeaderVideoMode)
    return Error{
        "multiboot header requires video mode information (flag 2), which Wren cannot provide: it has no display"};

  auto planned = (header.flags & kHeaderAoutKludge) ? plan_aout(kernel, header) : plan_elf(kernel);
  if (!planned) return Error{planned.error()};
  const ImagePlan& plan = planned.value();

  // Check everything before writing anything.
  uint64_t kernel_end = 0;
  bool entry_loaded = false;
  for (const auto& seg : plan.segments) {
    if (auto s = check_placement(mem, seg.addr, seg.mem_size, "kernel segment"); !s) return Error{s.error()};
    kernel_end = std::max(kernel_end, seg.addr + seg.mem_size);
    entry_loaded |= plan.entry >= seg.addr && plan.entry - seg.addr < seg.mem_size;
  }
  if (!entry_loaded) return Error{"multiboot entry point " + hex(plan.entry) + " is outside the loaded image"};

  std::vector<ModuleEntry> module_entries;
  InfoArea area;
  uint64_t next_module = align_up(kernel_end, layout::kPageSize);
  for (size_t i = 0; i < modules.size(); ++i) {
    const std::string name = "module " + std::to_string(i) + " ('" + modules[i].cmdline + "', " +
                             std::to_string(modules[i].bytes.size()) + " bytes)";
    if (auto s = check_placement(mem, next_module, modules[i].bytes.size(), name); !s)
      return Error{s.error() + ": the modules do not fit after the kernel, which ends at " + hex(kernel_end)};
    auto string = area.add_string(modules[i].cmdline, "module command line");
    if (!string) return Error{string.error()};
    module_entries.push_back({static_cast<uint32_t>(next_module),
                              static_cast<uint32_t>(next_module + modules[i].bytes.size()),
                              static_cast<uint32_t>(string.value()), 0});
    next_module = align_up(next_module + modules[i].bytes.size(), layout::kPageSize);
  }

  Info info{};
  info.flags = kInfoMemory | kInfoCmdline | kInfoModules | kInfoMemoryMap | kInfoBootLoaderName;
  set_memory_sizes(info, e820);
  std::vector<MemoryMapEntry> map;
  for (const auto& e : e820)
    map.push_back({sizeof(MemoryMapEntry) - sizeof(uint32_t), e.addr, e.size, static_cast<uint32_t>(e.type)});
  auto map_at = area.add_array(map, "memory map");
  auto mods_at = area.add_array(module_entries, "module list");
  auto cmdline_at = area.add_string(cmdline, "command line");
  auto name_at = area.add_string(kBootLoaderName, "boot loader name");
  for (const auto* r : {&map_at, &mods_at, &cmdline_at, &name_at})
    if (!*r) return Error{r->error()};
  info.mmap_addr = static_cast<uint32_t>(map_at.value());
  info.mmap_length = static_cast<uint32_t>(map.size() * sizeof(MemoryMapEntry));
  info.mods_addr = static_cast<uint32_t>(mods_at.value());
  info.mods_count = static_cast<uint32_t>(module_entries.size());
  info.cmdline = static_cast<uint32_t>(cmdline_at.value());
  info.boot_loader_name = static_cast<uint32_t>(name_at.value());
  auto info_at = area.add(std::span(reinterpret_cast<const uint8_t*>(&info), sizeof(info)), 8, "info structure");
  if (!info_at) return Error{info_at.error()};

  for (const auto& seg : plan.segments) {
    if (!mem.write(seg.addr, seg.bytes) || !mem.fill(seg.addr + seg.bytes.size(), 0, seg.mem_size - seg.bytes.size()))
      return Error{"guest RAM does not cover the kernel segment at " + hex(seg.addr)};
  }
  for (size_t i = 0; i < modules.size(); ++i)
    if (!mem.write(module_entries[i].mod_start, modules[i].bytes))
      return Error{"guest RAM does not cover module " + std::to_string(i)};
  if (!area.write(mem)) return Error{"guest RAM does not cover the multiboot information area"};

  BootImage image;
  image.mode = EntryMode::k32Bit;
  image.entry_rip = plan.entry;
  image.cmdline_gpa = info.cmdline;
  image.kernel_end = kernel_end;
  image.rax = kBootloaderMagic;
  image.rbx = info_at.value();
  return image;
}

}  // namespace wren::multiboot
