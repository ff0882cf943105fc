/*
 * Sleeps for one second of guest time in WFI, woken by the virtual timer's
 * interrupt through whichever GIC the machine has, then reports how many
 * times WFI returned and powers off. An engine that idles properly spends
 * almost no host CPU on this guest.
 */
#include "../common/runtime.h"

#define GICD 0x08000000UL
#define GICC 0x08010000UL
#define GICR_SGI 0x080b0000UL
#define TIMER_VIRT_INTID 27

static volatile u32 fired;

static inline u32 rd32(usize a) { return *(volatile u32 *)a; }
static inline void wr32(usize a, u32 v) { *(volatile u32 *)a = v; }

static int v3;

void exception_handler(struct exception_frame *f, u64 vector) {
    (void)f;
    if (vector != 5) {
        uart_puts("unexpected exception\n");
        psci_system_off();
    }
    u32 id = v3 ? (u32)read_sysreg(S3_0_C12_C12_0) : rd32(GICC + 0xc);
    if ((id & 0x3ff) == TIMER_VIRT_INTID) {
        write_sysreg(cntv_ctl_el0, 3);
        fired = 1;
    }
    if (v3)
        write_sysreg(S3_0_C12_C12_1, id);
    else
        wr32(GICC + 0x10, id);
    __asm__ volatile("isb");
}

int main(void) {
    v3 = ((read_sysreg(id_aa64pfr0_el1) >> 24) & 0xf) == 1;
    if (v3) {
        wr32(GICD, 3);
        wr32(0x080a0014UL, 0); /* GICR_WAKER */
        while (rd32(0x080a0014UL) & 4) {
        }
        wr32(GICR_SGI + 0x80, 0xffffffff);
        wr32(GICR_SGI + 0x100, 1u << TIMER_VIRT_INTID);
        write_sysreg(S3_0_C12_C12_5, 7); /* ICC_SRE_EL1 */
        __asm__ volatile("isb");
        write_sysreg(S3_0_C4_C6_0, 0xff); /* ICC_PMR_EL1 */
        write_sysreg(S3_0_C12_C12_7, 1);  /* ICC_IGRPEN1_EL1 */
    } else {
        wr32(GICD, 1);
        wr32(GICD + 0x100, 1u << TIMER_VIRT_INTID);
        wr32(GICC + 0x4, 0xff);
        wr32(GICC, 1);
    }
    u64 freq = read_sysreg(cntfrq_el0);
    write_sysreg(cntv_cval_el0, read_sysreg(cntvct_el0) + freq);
    write_sysreg(cntv_ctl_el0, 1);
    __asm__ volatile("isb; msr daifclr, #2" ::: "memory");
    u64 wakeups = 0;
    while (!fired) {
        __asm__ volatile("wfi" ::: "memory");
        wakeups++;
    }
    uart_puts(wakeups < 10 ? "slept one second in WFI\n" : "WFI kept returning\n");
    return 0;
}
