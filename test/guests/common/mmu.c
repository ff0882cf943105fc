#include "mmu.h"

#define DESC_BLOCK 1UL
#define DESC_ATTR(i) ((u64)(i) << 2)
#define DESC_SH_INNER (3UL << 8)
#define DESC_AF (1UL << 10)
#define DESC_PXN (1UL << 53)
#define DESC_UXN (1UL << 54)

#define MAIR_DEVICE_nGnRnE 0x00UL
#define MAIR_NORMAL_WB 0xffUL
#define ATTR_DEVICE 0
#define ATTR_NORMAL 1

/* T0SZ = 25: a 39-bit space whose walk starts at level 1. */
#define TCR_T0SZ 25UL
#define TCR_IRGN0_WBWA (1UL << 8)
#define TCR_ORGN0_WBWA (1UL << 10)
#define TCR_SH0_INNER (3UL << 12)
#define TCR_TG0_4K (0UL << 14)
#define TCR_EPD1 (1UL << 23)

static u64 level1[512] __attribute__((aligned(4096)));

static usize cache_line(void) {
    /* CTR_EL0.DminLine: log2 of the smallest data cache line in words. */
    return 4UL << ((read_sysreg(ctr_el0) >> 16) & 0xf);
}

void dcache_clean_inval_poc(const volatile void *p, usize len) {
    usize line = cache_line();
    usize a = (usize)p & ~(line - 1);
    for (; a < (usize)p + len; a += line)
        __asm__ volatile("dc civac, %0" ::"r"(a) : "memory");
    __asm__ volatile("dsb sy" ::: "memory");
}

u64 mmu_enable_identity(void) {
    level1[0] = 0x00000000UL | DESC_BLOCK | DESC_ATTR(ATTR_DEVICE) | DESC_AF | DESC_PXN | DESC_UXN;
    level1[1] = 0x40000000UL | DESC_BLOCK | DESC_ATTR(ATTR_NORMAL) | DESC_SH_INNER | DESC_AF;
    /* The table was written with the MMU off: make sure the walker sees it. */
    dcache_clean_inval_poc(level1, sizeof(level1));

    write_sysreg(mair_el1, MAIR_DEVICE_nGnRnE << (8 * ATTR_DEVICE) | MAIR_NORMAL_WB << (8 * ATTR_NORMAL));
    write_sysreg(tcr_el1, TCR_T0SZ | TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER | TCR_TG0_4K | TCR_EPD1);
    write_sysreg(ttbr0_el1, (u64)level1);
    __asm__ volatile("isb\n"
                     "tlbi vmalle1\n"
                     "dsb nsh\n"
                     "ic iallu\n"
                     "dsb nsh\n"
                     "isb" ::: "memory");
    write_sysreg(sctlr_el1, read_sysreg(sctlr_el1) | SCTLR_M | SCTLR_C | SCTLR_I);
    __asm__ volatile("isb" ::: "memory");
    return read_sysreg(sctlr_el1);
}
