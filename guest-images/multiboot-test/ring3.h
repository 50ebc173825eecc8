/* Ring 3 for the blaster (blaster.c): whether ring-3 code runs faster than
 * ring 0 on this machine, and whether an MMIO notify written from ring 3
 * reaches the device and what it costs. */
#ifndef WREN_MULTIBOOT_TEST_RING3_H
#define WREN_MULTIBOOT_TEST_RING3_H
#include <stdint.h>

/* Loads a GDT with flat ring-0 and ring-3 segments and a TSS, and an IDT
 * through which `int $0x80` (and #UD, #GP, #PF) come back to ring 0; then
 * times `loops` rounds of arithmetic and `kicks` notify writes to `notify`
 * in ring 0 and in ring 3. Publishes one more TX chain by bumping
 * *avail_idx without a kick, checks that *used_idx stays put for 200 ms,
 * kicks once from ring 3 and waits up to 2 s for *used_idx to move. Prints
 *   ring3probe: ring0 compute=C notify=N ring3 compute=C notify=N
 *               (cycles per loop round / per notify)
 *   ring3probe: notify from ring 3 reached the device: 0|1 (vector V)
 * Returns whether the ring-3 notify reached the device. */
int ring3_probe(uint32_t notify, uint32_t loops, uint32_t kicks, volatile uint16_t* avail_idx,
                volatile uint16_t* used_idx);

#endif
