/* The bare machine (hw.h): COM1, HPET, PCI configuration, command line. */
#include "hw.h"

/* gcc may emit these for struct copies and loops. */
void* memset(void* d, int c, uint32_t n) {
  uint8_t* p = d;
  while (n--) *p++ = (uint8_t)c;
  return d;
}
void* memcpy(void* d, const void* s, uint32_t n) {
  uint8_t* p = d;
  const uint8_t* q = s;
  while (n--) *p++ = *q++;
  return d;
}

void putc_com1(char c) {
  while (!(inb(0x3f8 + 5) & 0x20)) {
  }
  outb(0x3f8, (uint8_t)c);
}
void print(const char* s) {
  while (*s) putc_com1(*s++);
}
void print_dec(uint32_t v) { print_dec64(v); }
/* 64-bit by 32-bit division with divl (no libgcc in a freestanding image). */
static uint32_t div10(uint64_t* v) {
  uint32_t hi = (uint32_t)(*v >> 32), lo = (uint32_t)*v, rem;
  uint32_t qhi = hi / 10;
  rem = hi % 10;
  uint32_t qlo;
  __asm__("divl %4" : "=a"(qlo), "=d"(rem) : "a"(lo), "d"(rem), "r"(10u));
  *v = ((uint64_t)qhi << 32) | qlo;
  return rem;
}
void print_dec64(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do buf[--i] = (char)('0' + div10(&v));
  while (v);
  print(buf + i);
}
void print_hex2(uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  putc_com1(digits[(v >> 4) & 0xf]);
  putc_com1(digits[v & 0xf]);
}

#define HPET 0xfed00000u
void hpet_start(void) { MMIO32(HPET + 0x10) = 1; }
uint32_t now_ticks(void) { return MMIO32(HPET + 0xf0); }
uint64_t now_ticks64(void) {
  for (;;) {
    uint32_t hi = MMIO32(HPET + 0xf4), lo = MMIO32(HPET + 0xf0);
    if (MMIO32(HPET + 0xf4) == hi) return ((uint64_t)hi << 32) | lo;
  }
}

static uint32_t pci_addr(uint32_t dev, uint32_t off) { return 0x80000000u | (dev << 11) | (off & 0xfc); }
uint32_t pci_read32(uint32_t dev, uint32_t off) {
  outl(0xcf8, pci_addr(dev, off));
  return inl(0xcfc);
}
uint8_t pci_read8(uint32_t dev, uint32_t off) { return (uint8_t)(pci_read32(dev, off) >> (8 * (off & 3))); }
void pci_write16(uint32_t dev, uint32_t off, uint16_t v) {
  outl(0xcf8, pci_addr(dev, off));
  outw((uint16_t)(0xcfc + (off & 2)), v);
}
uint32_t bar_address(uint32_t dev, uint32_t bar) {
  uint32_t lo = pci_read32(dev, 0x10 + 4 * bar);
  if (lo & 1) return lo & ~3u;
  if (((lo >> 1) & 3) == 2 && pci_read32(dev, 0x14 + 4 * bar) != 0) return 0; /* above 4 GiB: unreachable */
  return lo & ~0xfu;
}

/* The word of `line` that starts with `prefix`, or 0. */
static const char* word_starting(const char* line, const char* prefix) {
  for (const char* p = line; *p; ++p) {
    if (p != line && p[-1] != ' ') continue;
    const char* a = p;
    const char* b = prefix;
    while (*b && *a == *b) ++a, ++b;
    if (!*b) return a;
  }
  return 0;
}
uint32_t cmdline_number(const char* line, const char* key, uint32_t fallback) {
  const char* p = line ? word_starting(line, key) : 0;
  if (!p || *p < '0' || *p > '9') return fallback;
  uint32_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (uint32_t)(*p++ - '0');
  return v;
}
