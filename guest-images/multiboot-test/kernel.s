# The multiboot test kernel: proves that a multiboot loader handed over the
# right state. It prints a known banner, the boot loader name, its command
# line, the memory sizes, the memory map and every module (command line, size
# and first line of contents) to COM1, probes the pc-testdev ports 0xe0-0xeb
# (all ones when the VMM has none), its memory window and its IRQ lines
# (edge- and level-triggered IOAPIC inputs, delivered through an IDT), the
# HPET and port 0x92, then writes the number N from an `exit=N` word of its
# command line (0 without one) to the isa-debug-exit port 0xf4, so the VMM
# exits with status (N << 1) | 1. With a `reset92` word it first resets the
# machine through port 0x92 (and says so if that did not stop it). With a
# `hostile` word it skips the probes and runs hostile.c instead: a broken
# virtio-net driver; then it exits with N as well (0x7e without a NIC). With
# a `blaster` word it runs blaster.c instead, the packet blaster, likewise.
#
# Flat 32-bit protected mode, no paging. Interrupts are on only while the
# probes wait for them; the 8259s and LINT0 stay masked. Assembled twice:
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
	.set TESTDEV_IRQ_PORT, 0x2000
	.set TESTDEV_IOMEM, 0xff000000
	.set PORT_A, 0x92
	.set IOAPIC_SEL, 0xfec00000
	.set IOAPIC_WIN, 0xfec00010
	.set LAPIC_TPR, 0xfee00080
	.set LAPIC_EOI, 0xfee000b0
	.set LAPIC_SVR, 0xfee000f0
	.set LAPIC_LVT0, 0xfee00350
	.set HPET, 0xfed00000
	.set HPET_CONFIG, HPET + 0x10
	.set HPET_COUNTER, HPET + 0xf0
	.set HPET_T0_CONFIG, HPET + 0x100
	.set HPET_T0_CMP, HPET + 0x108
	.set HPET_T2_CONFIG, HPET + 0x140
	.set HPET_T2_CMP, HPET + 0x148
	# IOAPIC inputs and the vectors the probes give them.
	.set EDGE_PIN, 14
	.set LEVEL_PIN, 15
	.set HPET_PIN, 20
	.set LEGACY_PIN, 2
	.set VEC_EDGE, 0x40
	.set VEC_LEVEL, 0x41
	.set VEC_HPET, 0x42
	.set VEC_LEGACY, 0x43
	.set REDIR_LEVEL, 1 << 15
	.set WAIT_LOOPS, 20000
	.set HPET_WAIT_TICKS, 10000000   # 100 ms at 100 MHz
	.set HPET_WAIT_LOOPS, 10000000

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

6:	movl $word_hostile, %edi
	call cmdline_has_word
	testl %eax, %eax
	jz 10f
	call hostile_main                # hostile.c: the broken virtio-net driver
	jmp 11f
10:	movl $word_blaster, %edi
	call cmdline_has_word
	testl %eax, %eax
	jz 8f
	movl info_ptr, %ebx
	pushl MBI_CMDLINE(%ebx)          # the flags were checked by cmdline_has_word
	call blaster_main                # blaster.c: the packet blaster
	addl $4, %esp
11:	testl %eax, %eax
	jz 9f                            # every case or loop ran: exit=N as usual
	movl $0x7e, %eax
	jmp exit
8:	call testdev_probe
	call iomem_probe
	call setup_interrupts
	call irq_probe
	call hpet_probe
	call port92_probe
9:	movl info_ptr, %ebx
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

# iomem_probe: prints "pc-testdev iomem: V": a 32-bit write of 0x0badcafe,
# then a byte write of 0x5a to its second byte, read back as 32 bits:
# 0bad5afe with the device, ffffffff without.
iomem_probe:
	pushal
	movl $0x0badcafe, TESTDEV_IOMEM + 0x10
	movb $0x5a, TESTDEV_IOMEM + 0x11
	movl $msg_iomem, %eax
	call puts
	movl TESTDEV_IOMEM + 0x10, %eax
	call put_hex
	call newline
	popal
	ret

# setup_interrupts: masks both 8259s and LINT0, software-enables the local
# APIC, and loads an IDT whose every gate counts in `other_count`, except
# the probes' vectors.
setup_interrupts:
	pushal
	movb $0xff, %al
	outb %al, $0x21
	outb %al, $0xa1
	movl $0x10700, LAPIC_LVT0        # masked ExtINT
	movl $0, LAPIC_TPR
	movl $0x1ff, LAPIC_SVR           # enabled, spurious vector 0xff
	xorl %eax, %eax
1:	movl $isr_other, %edx
	call set_gate
	incl %eax
	cmpl $256, %eax
	jb 1b
	movl $VEC_EDGE, %eax
	movl $isr_edge, %edx
	call set_gate
	movl $VEC_LEVEL, %eax
	movl $isr_level, %edx
	call set_gate
	movl $VEC_HPET, %eax
	movl $isr_hpet, %edx
	call set_gate
	movl $VEC_LEGACY, %eax
	movl $isr_legacy, %edx
	call set_gate
	lidt idt_descriptor
	popal
	ret

# set_gate: IDT entry %eax -> a 32-bit interrupt gate to %edx in this CS.
set_gate:
	pushl %ebx
	pushl %ecx
	leal idt(,%eax,8), %ebx
	movw %dx, (%ebx)
	movw %cs, %cx
	movw %cx, 2(%ebx)
	movw $0x8e00, 4(%ebx)            # present, ring 0, 32-bit interrupt gate
	shrl $16, %edx
	movw %dx, 6(%ebx)
	popl %ecx
	popl %ebx
	ret

# ioapic_route: IOAPIC input %eax -> vector %edx (plus REDIR_LEVEL for a
# level-triggered entry), fixed delivery to APIC id 0, active high, unmasked.
ioapic_route:
	pushl %ecx
	leal 0x10(,%eax,2), %ecx
	movl %ecx, IOAPIC_SEL
	movl %edx, IOAPIC_WIN
	incl %ecx
	movl %ecx, IOAPIC_SEL
	movl $0, IOAPIC_WIN
	popl %ecx
	ret

# set_line: pc-testdev IRQ line %eax (input number) to level %cl.
set_line:
	pushl %edx
	pushl %eax
	leal TESTDEV_IRQ_PORT(%eax), %edx
	movb %cl, %al
	outb %al, %dx
	popl %eax
	popl %edx
	ret

# wait_count: with interrupts on, waits until the counter at %ebx reaches
# %ecx or WAIT_LOOPS rounds pass.
wait_count:
	pushl %eax
	movl $WAIT_LOOPS, %eax
	sti
1:	cmpl %ecx, (%ebx)
	jae 2f
	pause
	decl %eax
	jnz 1b
2:	cli
	popl %eax
	ret

# wait_hpet: as wait_count, but bounded by 100 ms of the HPET's counter
# (interrupts from its timers come from the VMM's device thread, later than
# a line the vCPU drives itself), with a loop bound in case it stands still.
wait_hpet:
	pushl %eax
	pushl %edx
	pushl %esi
	movl HPET_COUNTER, %esi
	movl $HPET_WAIT_LOOPS, %edx
	sti
1:	cmpl %ecx, (%ebx)
	jae 2f
	movl HPET_COUNTER, %eax
	subl %esi, %eax
	cmpl $HPET_WAIT_TICKS, %eax
	ja 2f
	pause
	decl %edx
	jnz 1b
2:	cli
	popl %esi
	popl %edx
	popl %eax
	ret

# irq_probe: prints "ioapic: edge E level L other O". Input 14 edge-triggered
# is raised, lowered and raised again: two interrupts. Input 15
# level-triggered is raised and stays high: the IOAPIC delivers it again
# after each EOI until the handler lowers the line on the third. With
# pc-testdev: "edge 2 level 3 other 0"; without: "edge 0 level 0 other 0".
irq_probe:
	pushal
	movl $EDGE_PIN, %eax
	movl $VEC_EDGE, %edx
	call ioapic_route
	movl $LEVEL_PIN, %eax
	movl $VEC_LEVEL | REDIR_LEVEL, %edx
	call ioapic_route
	movl $edge_count, %ebx
	movl $EDGE_PIN, %eax
	movb $1, %cl
	call set_line
	movl $1, %ecx
	call wait_count
	movb $0, %cl
	call set_line
	movb $1, %cl
	call set_line
	movl $2, %ecx
	call wait_count
	movb $0, %cl
	call set_line
	movl $level_count, %ebx
	movl $LEVEL_PIN, %eax
	movb $1, %cl
	call set_line
	movl $3, %ecx
	call wait_count
	movl $WAIT_LOOPS, %ecx           # let a wrongly repeated one show up
	call wait_count
	movb $0, %cl                     # in case the handler never ran
	call set_line
	movl $msg_ioapic, %eax
	call puts
	movl edge_count, %eax
	call put_dec
	movl $msg_level, %eax
	call puts
	movl level_count, %eax
	call put_dec
	movl $msg_other, %eax
	call puts
	movl other_count, %eax
	call put_dec
	call newline
	popal
	ret

# hpet_probe: prints "hpet: id I period P counting C fired F legacy G":
# the capabilities register's halves, whether the enabled main counter
# moves, whether a one-shot of timer 2 (edge, input 20) interrupts, and
# whether timer 0 on the legacy route interrupts on input 2. With Wren's
# HPET: "id 8086a201 period 00989680 counting 1 fired 1 legacy 1".
hpet_probe:
	pushal
	movl $msg_hpet, %eax
	call puts
	movl HPET, %eax
	call put_hex
	movl $msg_period, %eax
	call puts
	movl HPET + 4, %eax
	call put_hex
	movl $1, HPET_CONFIG             # ENABLE_CNF
	movl HPET_COUNTER, %esi
	movl $WAIT_LOOPS, %ecx
1:	pause
	loop 1b
	xorl %edi, %edi
	cmpl HPET_COUNTER, %esi
	je 2f
	incl %edi
2:	movl $msg_counting, %eax
	call puts
	movl %edi, %eax
	call put_dec

	movl $HPET_PIN, %eax
	movl $VEC_HPET, %edx
	call ioapic_route
	# Comparator first: a timer enabled with a comparator behind the
	# counter fires at once (as in QEMU).
	movl $0, HPET_T2_CMP + 4
	movl HPET_COUNTER, %eax
	addl $100000, %eax               # 1 ms on
	movl %eax, HPET_T2_CMP
	movl $(HPET_PIN << 9) | 4, HPET_T2_CONFIG   # route, INT_ENB, edge, one-shot
	movl $hpet_count, %ebx
	movl $1, %ecx
	call wait_hpet
	movl $msg_fired, %eax
	call puts
	movl hpet_count, %eax
	call put_dec

	movl $LEGACY_PIN, %eax
	movl $VEC_LEGACY, %edx
	call ioapic_route
	movl $3, HPET_CONFIG             # ENABLE_CNF | LEG_RT_CNF
	movl $0, HPET_T0_CMP + 4
	movl HPET_COUNTER, %eax
	addl $100000, %eax
	movl %eax, HPET_T0_CMP
	movl $4, HPET_T0_CONFIG          # INT_ENB, edge, one-shot
	movl $legacy_count, %ebx
	movl $1, %ecx
	call wait_hpet
	movl $0, HPET_CONFIG
	movl $msg_legacy, %eax
	call puts
	movl legacy_count, %eax
	call put_dec
	call newline
	popal
	ret

# port92_probe: prints "port92: V" (02 on a PC: A20 on, no reset pending).
# With a `reset92` word on the command line it then sets bit 0, which must
# reset the machine; if it returns it prints "port92: no reset".
port92_probe:
	pushal
	movl $msg_port92, %eax
	call puts
	xorl %eax, %eax
	inb $PORT_A, %al
	movl %eax, %ebx
	shrl $4, %eax
	movb hex_digits(%eax), %al
	call putc
	movl %ebx, %eax
	andl $0xf, %eax
	movb hex_digits(%eax), %al
	call putc
	call newline
	movl $word_reset92, %edi
	call cmdline_has_word
	testl %eax, %eax
	jz 9f
	movl $msg_resetting, %eax
	call puts
	movb %bl, %al
	andb $0xfe, %al                  # bit 0 must rise: clear it first
	outb %al, $PORT_A
	orb $1, %al
	outb %al, $PORT_A
	movl $msg_no_reset, %eax
	call puts
9:	popal
	ret

# cmdline_has_word: %eax = 1 if the kernel's command line has the
# NUL-terminated word at %edi, else 0 (also without a command line).
cmdline_has_word:
	pushl %esi
	xorl %eax, %eax
	movl info_ptr, %esi
	testl $MBI_HAS_CMDLINE, MBI_FLAGS(%esi)
	jz 1f
	movl MBI_CMDLINE(%esi), %esi
	call has_word
1:	popl %esi
	ret

# has_word: %eax = 1 if the NUL-terminated word at %edi is a whole word of
# the string at %esi, else 0.
has_word:
	pushl %esi
	pushl %edi
	pushl %ebx
	pushl %ecx
	movl %esi, %ebx                  # start of the line
1:	cmpb $0, (%esi)
	je 5f
	cmpl %ebx, %esi
	je 2f
	cmpb $' ', -1(%esi)
	jne 4f
2:	xorl %ecx, %ecx                  # compare the word
3:	movb (%edi,%ecx), %al
	testb %al, %al
	jz 6f
	cmpb %al, (%esi,%ecx)
	jne 4f
	incl %ecx
	jmp 3b
6:	movb (%esi,%ecx), %al            # the word must end here
	testb %al, %al
	jz 7f
	cmpb $' ', %al
	je 7f
4:	incl %esi
	jmp 1b
5:	xorl %eax, %eax
	jmp 8f
7:	movl $1, %eax
8:	popl %ecx
	popl %ebx
	popl %edi
	popl %esi
	ret

# Interrupt handlers. The probes' own ones acknowledge the local APIC.
isr_edge:
	incl edge_count
	movl $0, LAPIC_EOI
	iret

isr_level:
	pushl %eax
	pushl %ecx
	incl level_count
	cmpl $3, level_count
	jb 1f
	movl $LEVEL_PIN, %eax            # third delivery: drop the line before the EOI
	movb $0, %cl
	call set_line
1:	movl $0, LAPIC_EOI
	popl %ecx
	popl %eax
	iret

isr_hpet:
	incl hpet_count
	movl $0, LAPIC_EOI
	iret

isr_legacy:
	incl legacy_count
	movl $0, LAPIC_EOI
	iret

# Anything else (nothing should come): counted, not acknowledged.
isr_other:
	incl other_count
	iret

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
msg_iomem:	.asciz "pc-testdev iomem: "
msg_ioapic:	.asciz "ioapic: edge "
msg_level:	.asciz " level "
msg_other:	.asciz " other "
msg_hpet:	.asciz "hpet: id "
msg_period:	.asciz " period "
msg_counting:	.asciz " counting "
msg_fired:	.asciz " fired "
msg_legacy:	.asciz " legacy "
msg_port92:	.asciz "port92: "
msg_resetting:	.asciz "port92: resetting\n"
msg_no_reset:	.asciz "port92: no reset\n"
word_reset92:	.asciz "reset92"
word_hostile:	.asciz "hostile"
word_blaster:	.asciz "blaster"
testdev_out:	.byte 0x11, 0x22, 0x33

	.data
	.balign 4
info_ptr:	.long 0
testdev_in:	.long 0
edge_count:	.long 0
level_count:	.long 0
hpet_count:	.long 0
legacy_count:	.long 0
other_count:	.long 0
	.balign 8
idt_descriptor:
	.word 256 * 8 - 1
	.long idt

	.bss
	.balign 16
idt:		.skip 256 * 8
dec_digits:	.skip 11
dec_end:	.skip 1
	.balign 16
stack:		.skip 4096
stack_top:

	.section .note.GNU-stack, "", @progbits
