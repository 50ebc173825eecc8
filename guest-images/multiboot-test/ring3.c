/* Ring 3 in flat 32-bit protected mode (ring3.h): entered with iret,
 * left with int $0x80 (or a fault), whose handler returns from ring3_run. */
#include "ring3.h"

#include "hw.h"

struct table_ptr {
  uint16_t limit;
  uint32_t base;
} __attribute__((packed));

enum { KERNEL_CS = 0x08, KERNEL_DS = 0x10, USER_CS = 0x18 | 3, USER_DS = 0x20 | 3, TSS_SEL = 0x28 };

static uint64_t gdt[6] __attribute__((aligned(8)));
static uint32_t tss[26] __attribute__((aligned(8)));
static uint64_t idt[0x81] __attribute__((aligned(8)));
static uint8_t ring0_stack[4096] __attribute__((aligned(16)));
static uint8_t ring3_stack[4096] __attribute__((aligned(16)));
uint32_t ring3_saved_esp;
volatile uint32_t ring3_vector;

/* ring3_run(fn): saves the callee-saved registers and the stack, irets to
 * fn in ring 3 on its own stack; the gates below come back here. */
uint32_t ring3_run(void (*fn)(void), uint32_t user_stack_top);
void ring3_gate_80(void);
void ring3_gate_6(void);
void ring3_gate_13(void);
void ring3_gate_14(void);
__asm__(
    ".text\n"
    ".globl ring3_run\n"
    "ring3_run:\n"
    "  pushl %ebp\n  pushl %ebx\n  pushl %esi\n  pushl %edi\n"
    "  movl %esp, ring3_saved_esp\n"
    "  movl 20(%esp), %eax\n"
    "  movl 24(%esp), %ecx\n"
    "  pushl $0x23\n" /* SS */
    "  pushl %ecx\n"
    "  pushl $0x2\n" /* EFLAGS: IF = 0, IOPL = 0 */
    "  pushl $0x1b\n" /* CS */
    "  pushl %eax\n"
    "  movw $0x23, %dx\n  movw %dx, %ds\n  movw %dx, %es\n"
    "  iret\n"
    ".globl ring3_gate_80\nring3_gate_80: movl $0x80, ring3_vector\n  jmp ring3_back\n"
    ".globl ring3_gate_6\nring3_gate_6: movl $6, ring3_vector\n  jmp ring3_back\n"
    ".globl ring3_gate_13\nring3_gate_13: movl $13, ring3_vector\n  jmp ring3_back\n"
    ".globl ring3_gate_14\nring3_gate_14: movl $14, ring3_vector\n  jmp ring3_back\n"
    "ring3_back:\n"
    "  movw $0x10, %dx\n  movw %dx, %ds\n  movw %dx, %es\n"
    "  movl ring3_saved_esp, %esp\n"
    "  popl %edi\n  popl %esi\n  popl %ebx\n  popl %ebp\n"
    "  movl ring3_vector, %eax\n"
    "  ret\n");

static void set_gate(uint32_t vector, void (*handler)(void), uint32_t dpl) {
  uint32_t at = (uint32_t)(uintptr_t)handler;
  idt[vector] = (uint64_t)(at & 0xffff) | (uint64_t)KERNEL_CS << 16 | (uint64_t)(0x8e00 | dpl << 13) << 32 |
                (uint64_t)(at >> 16) << 48;
}

static void ring3_init(void) {
  gdt[0] = 0;
  gdt[1] = 0x00cf9a000000ffffull; /* ring-0 code, flat */
  gdt[2] = 0x00cf92000000ffffull; /* ring-0 data */
  gdt[3] = 0x00cffa000000ffffull; /* ring-3 code */
  gdt[4] = 0x00cff2000000ffffull; /* ring-3 data */
  uint32_t base = (uint32_t)(uintptr_t)tss;
  tss[1] = (uint32_t)(uintptr_t)(ring0_stack + sizeof ring0_stack); /* ESP0 */
  tss[2] = KERNEL_DS;                                                /* SS0 */
  tss[25] = (uint32_t)sizeof tss << 16;                              /* no I/O bitmap */
  gdt[5] = (uint64_t)(sizeof tss - 1) | (uint64_t)(base & 0xffffff) << 16 | 0x89ull << 40 |
           (uint64_t)(base >> 24) << 56; /* available 32-bit TSS */
  struct table_ptr g = {sizeof gdt - 1, (uint32_t)(uintptr_t)gdt};
  __asm__ volatile(
      "lgdt %0\n"
      "ljmp $0x08, $1f\n"
      "1: movw $0x10, %%ax\n movw %%ax, %%ds\n movw %%ax, %%es\n movw %%ax, %%ss\n"
      " movw %%ax, %%fs\n movw %%ax, %%gs\n"
      " movw $0x28, %%ax\n ltr %%ax\n" ::"m"(g)
      : "eax", "memory");
  set_gate(0x80, ring3_gate_80, 3);
  set_gate(6, ring3_gate_6, 0);
  set_gate(13, ring3_gate_13, 0);
  set_gate(14, ring3_gate_14, 0);
  struct table_ptr i = {sizeof idt - 1, (uint32_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" ::"m"(i) : "memory");
}

/* What the ring-3 body reads and writes (flat segments: plain memory). */
static struct {
  uint32_t notify, loops, kicks, sink;
  uint64_t compute_cycles, notify_cycles;
} probe;

static uint32_t __attribute__((noinline)) compute(uint32_t n) {
  uint32_t x = 1;
  for (uint32_t i = 0; i < n; ++i) x = x * 1103515245u + 12345u;
  return x;
}

static void timed_body(void) {
  uint64_t t0 = rdtsc();
  probe.sink = compute(probe.loops);
  uint64_t t1 = rdtsc();
  for (uint32_t k = 0; k < probe.kicks; ++k) MMIO16(probe.notify) = 1;
  uint64_t t2 = rdtsc();
  probe.compute_cycles = t1 - t0;
  probe.notify_cycles = t2 - t1;
}

static void ring3_timed(void) {
  timed_body();
  __asm__ volatile("int $0x80");
}

static void ring3_kick(void) {
  MMIO16(probe.notify) = 1;
  __asm__ volatile("int $0x80");
}

/* cycles / n without libgcc: n is at most 32 bits and cycles well under
 * 2^32 * n here, so one divl does it (else prints total/n). */
static void print_ratio(uint64_t cycles, uint32_t n) {
  uint32_t hi = (uint32_t)(cycles >> 32), lo = (uint32_t)cycles, q, r;
  if (!n || hi >= n) {
    print_dec64(cycles);
    print("/");
    print_dec(n);
    return;
  }
  __asm__("divl %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "r"(n));
  print_dec(q);
}

static uint32_t wait_moved(volatile uint16_t* used_idx, uint16_t from, uint32_t ms) {
  uint32_t start = now_ticks();
  while (now_ticks() - start < ms * TICKS_PER_MS)
    if (*used_idx != from) return 1;
  return *used_idx != from;
}

int ring3_probe(uint32_t notify, uint32_t loops, uint32_t kicks, volatile uint16_t* avail_idx,
                volatile uint16_t* used_idx) {
  ring3_init();
  probe.notify = notify;
  probe.loops = loops;
  probe.kicks = kicks;
  uint32_t top = (uint32_t)(uintptr_t)(ring3_stack + sizeof ring3_stack);

  /* Both rings twice, ring 0 first and last, so that warm-up shows. */
  uint64_t r0_compute = 0, r0_notify = 0, r3_compute = 0, r3_notify = 0;
  uint32_t vector = 0;
  for (int round = 0; round < 2; ++round) {
    timed_body();
    r0_compute += probe.compute_cycles, r0_notify += probe.notify_cycles;
    vector = ring3_run(ring3_timed, top);
    r3_compute += probe.compute_cycles, r3_notify += probe.notify_cycles;
  }
  print("ring3probe: ring0 compute=");
  print_ratio(r0_compute, 2 * loops);
  print(" notify=");
  print_ratio(r0_notify, 2 * kicks);
  print(" ring3 compute=");
  print_ratio(r3_compute, 2 * loops);
  print(" notify=");
  print_ratio(r3_notify, 2 * kicks);
  print(" (cycles; vector ");
  print_dec(vector);
  print(")\n");

  /* One more TX chain, published without a kick: it must wait for one. */
  uint16_t used = *used_idx;
  *avail_idx = (uint16_t)(*avail_idx + 1);
  int idle_sent = wait_moved(used_idx, used, 200);
  vector = ring3_run(ring3_kick, top);
  int reached = !idle_sent && wait_moved(used_idx, used, 2000);
  print("ring3probe: notify from ring 3 reached the device: ");
  print_dec((uint32_t)reached);
  print(" (vector ");
  print_dec(vector);
  print(idle_sent ? ", sent before the kick)\n" : ")\n");
  return reached;
}
