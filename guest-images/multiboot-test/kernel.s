# The multiboot test kernel: proves that a multiboot loader handed over the
# right state. It prints a known banner, the boot loader name, its command
# line, the memory sizes, the memory map and every module (command line, size
# and first line of contents) to COM1, probes the pc-testdev ports 0xe0-0xeb
# (all ones when the VMM has none), then writes the number N from an
# `exit=N` word of its command line (0 without one) to the isa-debug-exit
# port 0xf4, so the VMM exits with status (N << 1) | 1.
#
# Flat 32-bit protected mode, no paging, no interrupts. Assembled twice:
# plain (the loader uses the ELF program headers) and with
# --defsym AOUT_KLUDGE=1 (header flag 16: the loader uses the address fields).

	.set MB_HEADER_MAGIC, 0x1BADB002
	.set MB_BOOT_MAGIC, 0x2BADB002
	.ifdef AOUT_KLUDGE
	.set MB_FLAGS, 0x00010003        # page-aligned modules, memory info, address fields
	.else
	.set MB_FLAGS, 0x00000003
	.endif
	.set COM1, 0x3f8
	.set COM1_LSR, COM1 + 5
	.set LSR_THR_EMPTY, 0x20
	.set EXIT_PORT, 0xf4
	.set TESTDEV_PORT, 0xe0

	# Information structure offsets and flags.
	.set MBI_FLAGS, 0
	.set MBI_MEM_LOWER, 4
	.set MBI_MEM_UPPER, 8
	.set MBI_CMDLINE, 16
	.set MBI_MODS_COUNT, 20
	.set MBI_MODS_ADDR, 24
	.set MBI_MMAP_LENGTH, 44
	.set MBI_MMAP_ADDR, 48
	.set MBI_LOADER_NAME, 64
	.set MBI_HAS_MEMORY, 1 << 0
	.set MBI_HAS_CMDLINE, 1 << 2
	.set MBI_HAS_MODS, 1 << 3
	.set MBI_HAS_MMAP, 1 << 6
	.set MBI_HAS_LOADER_NAME, 1 << 9

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_HEADER_MAGIC
	.long MB_FLAGS
	.long -(MB_HEADER_MAGIC + MB_FLAGS)
	# Address fields, read only when flag 16 is set.
	.long mb_header                  # header_addr
	.long __image_start              # load_addr
	.long __load_end                 # load_end_addr
	.long __bss_end                  # bss_end_addr
	.long _start                     # entry_addr

	.text
	.code32
	.globl _start
_start:
	cli
	cld
	movl $stack_top, %esp
	movl %ebx, info_ptr
	cmpl $MB_BOOT_MAGIC, %eax
	je 1f
	movl $msg_bad_magic, %eax
	call puts
	movl $0x7f, %eax
	jmp exit

1:	movl $msg_banner, %eax
	call puts
	movl info_ptr, %ebx

	testl $MBI_HAS_LOADER_NAME, MBI_FLAGS(%ebx)
	jz 2f
	movl $msg_loader, %eax
	call puts
	movl MBI_LOADER_NAME(%ebx), %eax
	call puts
	call newline

2:	testl $MBI_HAS_CMDLINE, MBI_FLAGS(%ebx)
	jz 3f
	movl $msg_cmdline, %eax
	call puts
	movl MBI_CMDLINE(%ebx), %eax
	call puts
	call newline

3:	testl $MBI_HAS_MEMORY, MBI_FLAGS(%ebx)
	jz 4f
	movl $msg_mem_lower, %eax
	call puts
	movl MBI_MEM_LOWER(%ebx), %eax
	call put_dec
	movl $msg_mem_upper, %eax
	call puts
	movl MBI_MEM_UPPER(%ebx), %eax
	call put_dec
	movl $msg_kib, %eax
	call puts

4:	testl $MBI_HAS_MMAP, MBI_FLAGS(%ebx)
	jz 5f
	movl MBI_MMAP_ADDR(%ebx), %esi
	movl MBI_MMAP_LENGTH(%ebx), %edi
	addl %esi, %edi                  # end of the map
mmap_next:
	cmpl %edi, %esi
	jae 5f
	movl $msg_mmap, %eax
	call puts
	leal 4(%esi), %eax               # base_addr
	call put_hex64
	movl $msg_length, %eax
	call puts
	leal 12(%esi), %eax              # length
	call put_hex64
	movl $msg_type, %eax
	call puts
	movl 20(%esi), %eax
	call put_dec
	call newline
	movl (%esi), %eax                # size excludes the size field itself
	leal 4(%esi,%eax), %esi
	jmp mmap_next

5:	testl $MBI_HAS_MODS, MBI_FLAGS(%ebx)
	jz 6f
	movl $msg_modules, %eax
	call puts
	movl MBI_MODS_COUNT(%ebx), %eax
	call put_dec
	call newline
	movl MBI_MODS_ADDR(%ebx), %esi
	xorl %edi, %edi
module_next:
	cmpl MBI_MODS_COUNT(%ebx), %edi
	jae 6f
	movl $msg_module, %eax
	call puts
	movl %edi, %eax
	call put_dec
	movl $msg_colon, %eax
	call puts
	movl 8(%esi), %eax               # string
	call puts
	movl $msg_size, %eax
	call puts
	movl 4(%esi), %eax               # mod_end - mod_start
	subl (%esi), %eax
	call put_dec
	movl $msg_data, %eax
	call puts
	movl (%esi), %eax
	movl 4(%esi), %edx
	call put_first_line
	movl $msg_quote_nl, %eax
	call puts
	addl $16, %esi
	incl %edi
	jmp module_next

6:	call testdev_probe
	xorl %eax, %eax
	testl $MBI_HAS_CMDLINE, MBI_FLAGS(%ebx)
	jz 7f
	movl MBI_CMDLINE(%ebx), %eax
	call find_exit_code
7:	movl %eax, %ebx
	movl $msg_exit, %eax
	call puts
	movl %ebx, %eax
	call put_dec
	call newline
	movl %ebx, %eax
exit:
	outl %eax, $EXIT_PORT            # 32 bits, as most test suites write it
halt:
	hlt
	jmp halt

# testdev_probe: port I/O of every width, string I/O included, against the
# pc-testdev register. Prints "pc-testdev: R W": with the device R is
# 12ab5633 (outl 0x12345678; outb 0xab to lane 2 through the byte window at
# 0xe8; rep outsb of 11 22 33 to lane 0, from a page just flushed through
# 0xe4) and W is 56335633 (rep insw of two words from 0xe0).
testdev_probe:
	pushal
	movl $0x12345678, %eax
	outl %eax, $TESTDEV_PORT
	movb $0xab, %al
	outb %al, $TESTDEV_PORT + 10
	movl $testdev_out, %eax
	outl %eax, $TESTDEV_PORT + 4
	movl $testdev_out, %esi
	movl $3, %ecx
	movw $TESTDEV_PORT, %dx
	rep outsb
	movl $testdev_in, %edi
	movl $2, %ecx
	rep insw
	movl $msg_testdev, %eax
	call puts
	inl $TESTDEV_PORT, %eax
	call put_hex
	movb $' ', %al
	call putc
	movl testdev_in, %eax
	call put_hex
	call newline
	popal
	ret

# putc: writes %al to COM1 once its transmit register is empty.
putc:
	pushl %edx
	pushl %eax
	movw $COM1_LSR, %dx
1:	inb %dx, %al
	testb $LSR_THR_EMPTY, %al
	jz 1b
	popl %eax
	movw $COM1, %dx
	outb %al, %dx
	popl %edx
	ret

newline:
	pushl %eax
	movb $'\n', %al
	call putc
	popl %eax
	ret

# puts: writes the NUL-terminated string at %eax.
puts:
	pushl %esi
	pushl %eax
	movl %eax, %esi
1:	movb (%esi), %al
	testb %al, %al
	jz 2f
	call putc
	incl %esi
	jmp 1b
2:	popl %eax
	popl %esi
	ret

# put_dec: writes %eax in decimal.
put_dec:
	pushal
	movl $10, %ecx
	movl $dec_end, %edi
	movb $0, (%edi)
1:	xorl %edx, %edx
	divl %ecx
	addb $'0', %dl
	decl %edi
	movb %dl, (%edi)
	testl %eax, %eax
	jnz 1b
	movl %edi, %eax
	call puts
	popal
	ret

# put_hex: writes %eax as 8 hex digits.
put_hex:
	pushal
	movl %eax, %edx
	movl $8, %ecx
1:	roll $4, %edx
	movl %edx, %eax
	andl $0xf, %eax
	movb hex_digits(%eax), %al
	call putc
	loop 1b
	popal
	ret

# put_hex64: writes the 64-bit value at address %eax as 16 hex digits.
put_hex64:
	pushl %ebx
	pushl %eax
	movl %eax, %ebx
	movl 4(%ebx), %eax
	call put_hex
	movl (%ebx), %eax
	call put_hex
	popl %eax
	popl %ebx
	ret

# put_first_line: writes bytes from %eax up to %edx, a newline or a NUL, at
# most 40 of them, with unprintable bytes as '.'.
put_first_line:
	pushal
	movl %eax, %esi
	movl $40, %ecx
1:	cmpl %edx, %esi
	jae 4f
	movb (%esi), %al
	cmpb $'\n', %al
	je 4f
	testb %al, %al
	jz 4f
	cmpb $0x20, %al
	jb 2f
	cmpb $0x7e, %al
	jbe 3f
2:	movb $'.', %al
3:	call putc
	incl %esi
	loop 1b
4:	popal
	ret

# find_exit_code: the decimal number after the first "exit=" that starts a
# word of the command line at %eax; 0 if there is none. Returns it in %eax.
find_exit_code:
	pushl %esi
	pushl %ecx
	movl %eax, %esi
	movl %eax, %ecx                  # start of the line
1:	cmpb $0, (%esi)
	je 5f
	cmpl %ecx, %esi
	je 2f
	cmpb $' ', -1(%esi)
	jne 4f
2:	cmpl $0x74697865, (%esi)         # "exit"
	jne 4f
	cmpb $'=', 4(%esi)
	jne 4f
	addl $5, %esi
	xorl %eax, %eax
3:	movzbl (%esi), %ecx
	subl $'0', %ecx
	cmpl $9, %ecx
	ja 6f
	imull $10, %eax
	addl %ecx, %eax
	incl %esi
	jmp 3b
4:	incl %esi
	jmp 1b
5:	xorl %eax, %eax
6:	popl %ecx
	popl %esi
	ret

	.section .rodata
hex_digits:	.ascii "0123456789abcdef"
msg_banner:	.asciz "wren multiboot test kernel: hello\n"
msg_bad_magic:	.asciz "multiboot test: bad boot loader magic in eax\n"
msg_loader:	.asciz "loader: "
msg_cmdline:	.asciz "cmdline: "
msg_mem_lower:	.asciz "mem_lower: "
msg_mem_upper:	.asciz " KiB, mem_upper: "
msg_kib:	.asciz " KiB\n"
msg_mmap:	.asciz "mmap: base 0x"
msg_length:	.asciz " length 0x"
msg_type:	.asciz " type "
msg_modules:	.asciz "modules: "
msg_module:	.asciz "module "
msg_colon:	.asciz ": "
msg_size:	.asciz " size "
msg_data:	.asciz " data '"
msg_quote_nl:	.asciz "'\n"
msg_exit:	.asciz "exit code: "
msg_testdev:	.asciz "pc-testdev: "
testdev_out:	.byte 0x11, 0x22, 0x33

	.data
	.balign 4
info_ptr:	.long 0
testdev_in:	.long 0

	.bss
	.balign 16
dec_digits:	.skip 11
dec_end:	.skip 1
	.balign 16
stack:		.skip 4096
stack_top:

	.section .note.GNU-stack, "", @progbits
