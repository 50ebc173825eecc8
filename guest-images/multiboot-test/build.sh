#!/usr/bin/env bash
# Builds the multiboot test kernel from kernel.s (binutils: as --32,
# ld -m elf_i386) and its C modes (gcc -m32 freestanding): hostile.c and
# blaster.c (with ring3.c), on hw.c and virtio_pci.c
# into OUTDIR, in two forms:
#   multiboot-test.elf       ELF32; the loader follows its program headers
#   multiboot-test-aout.bin  flat image; the loader follows the header's
#                            address fields (multiboot flag 16, "a.out kludge")
# Prints the two paths. CMake runs it into <build>/guest-images/multiboot-test.
#   guest-images/multiboot-test/build.sh OUTDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
link() { ld -m elf_i386 -T "$here/link.ld" --no-warn-rwx-segments -o "$@"; }

objs=()
for c in hw virtio_pci hostile blaster ring3; do
  gcc -m32 -march=i686 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables \
      -fcf-protection=none -mno-sse -mgeneral-regs-only -O2 -Wall -Wextra -Werror \
      -c -o "$out/$c.o" "$here/$c.c"
  objs+=("$out/$c.o")
done

as --32 -o "$out/kernel-elf.o" "$here/kernel.s"
link "$out/multiboot-test.elf" "$out/kernel-elf.o" "${objs[@]}"

as --32 --defsym AOUT_KLUDGE=1 -o "$out/kernel-aout.o" "$here/kernel.s"
link "$out/kernel-aout.elf" "$out/kernel-aout.o" "${objs[@]}"
objcopy -O binary "$out/kernel-aout.elf" "$out/multiboot-test-aout.bin"

echo "$out/multiboot-test.elf"
echo "$out/multiboot-test-aout.bin"
