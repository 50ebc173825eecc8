/* The bare machine for the multiboot test kernel's C modes (hostile.c,
 * blaster.c): port and memory-mapped I/O, COM1, the HPET main counter, the
 * TSC and PCI configuration mechanism #1. Flat 32-bit protected mode without
 * paging: guest-physical addresses are pointers. */
#ifndef WREN_MULTIBOOT_TEST_HW_H
#define WREN_MULTIBOOT_TEST_HW_H
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint16_t inw(uint16_t port) {
  uint16_t v;
  __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint32_t inl(uint16_t port) {
  uint32_t v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
#define barrier() __asm__ volatile("" ::: "memory")
#define MMIO8(a) (*(volatile uint8_t*)(uintptr_t)(a))
#define MMIO16(a) (*(volatile uint16_t*)(uintptr_t)(a))
#define MMIO32(a) (*(volatile uint32_t*)(uintptr_t)(a))

/* COM1 */
void putc_com1(char c);
void print(const char* s);
void print_dec(uint32_t v);
void print_dec64(uint64_t v);
void print_hex2(uint32_t v);

/* The HPET main counter: 100 MHz on Wren and on QEMU. */
#define TICKS_PER_MS 100000u
void hpet_start(void);
uint32_t now_ticks(void);
uint64_t now_ticks64(void);

/* PCI configuration mechanism #1 on bus 0; `dev` is the slot. */
uint32_t pci_read32(uint32_t dev, uint32_t off);
uint8_t pci_read8(uint32_t dev, uint32_t off);
void pci_write16(uint32_t dev, uint32_t off, uint16_t v);
/* BAR `bar`'s address: I/O or memory below 4 GiB; 0 when above (unreachable). */
uint32_t bar_address(uint32_t dev, uint32_t bar);

/* The number after the first `key` (e.g. "tx64=") that starts a word of
 * `line`, or `fallback`. */
uint32_t cmdline_number(const char* line, const char* key, uint32_t fallback);

#endif
