/*
 * /init of Wren's test guest: a static x86-64 binary that never makes a
 * system call (system calls from guest user mode do not work on the test
 * machines' KVM backend). It just spins politely; the guest is driven from
 * its kernel (see test-module/wren_test.c).
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
1:	pause
	jmp	1b
	.size	_start, . - _start

	.section .note.GNU-stack, "", @progbits
