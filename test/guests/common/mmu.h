#ifndef WARMBOOT_GUEST_MMU_H
#define WARMBOOT_GUEST_MMU_H
#include "runtime.h"

#define SCTLR_M (1UL << 0)
#define SCTLR_C (1UL << 2)
#define SCTLR_I (1UL << 12)

/*
 * Turns on stage-1 translation with an identity map of the low 2 GiB (4 KiB
 * granule, 1 GiB blocks at level 1): 0-1 GiB as Device-nGnRnE (the UART and
 * the rest of the virt board's devices), 1-2 GiB (RAM) as Normal write-back,
 * readable, writable and executable at EL1. Data and instruction caches go on
 * with it. Returns SCTLR_EL1 as it is afterwards.
 */
u64 mmu_enable_identity(void);

/* Cleans and invalidates [p, p+len) to the point of coherency (DC CIVAC), then DSB. */
void dcache_clean_inval_poc(const volatile void *p, usize len);

#endif
