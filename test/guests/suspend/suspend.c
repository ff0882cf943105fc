/*
 * PSCI CPU_SUSPEND with a wake-up source. KVM implements every suspend as
 * WFI (kvm_psci_vcpu_suspend) and returns SUCCESS with the registers kept, so
 * the guest first makes an interrupt pending that WFI wakes for: the virtual
 * timer (PPI 27) already expired, enabled at a GICv3 redistributor and CPU
 * interface. PSTATE keeps IRQs masked, so the interrupt is never taken; a
 * pending one is still a WFI wake-up event. Boot with -M virt,gic-version=3.
 */
#include "../common/psci.h"

#define GICD_BASE 0x08000000UL
#define GICR_BASE 0x080a0000UL /* cpu 0's redistributor */
#define GICR_SGI_BASE (GICR_BASE + 0x10000)

#define GICD_CTLR 0x0000
#define GICD_CTLR_RWP (1U << 31)
#define GICR_WAKER 0x0014
#define GICR_WAKER_PROCESSOR_SLEEP (1U << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1U << 2)
#define GICR_IGROUPR0 0x0080
#define GICR_ISENABLER0 0x0100
#define GICR_IPRIORITYR 0x0400

#define VTIMER_PPI 27

static inline u32 rd32(usize a) {
    return *(volatile u32 *)a;
}
static inline void wr32(usize a, u32 v) {
    *(volatile u32 *)a = v;
}

static void gicv3_enable_ppi(unsigned intid) {
    /* Affinity routing with both groups on, as Linux sets up a non-secure GICv3. */
    wr32(GICD_BASE + GICD_CTLR, 0x13);
    for (int i = 0; i < 1000000 && (rd32(GICD_BASE + GICD_CTLR) & GICD_CTLR_RWP); i++)
        ;
    wr32(GICR_BASE + GICR_WAKER, rd32(GICR_BASE + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
    for (int i = 0; i < 1000000 && (rd32(GICR_BASE + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP); i++)
        ;
    wr32(GICR_SGI_BASE + GICR_IGROUPR0, rd32(GICR_SGI_BASE + GICR_IGROUPR0) | (1U << intid));
    wr32(GICR_SGI_BASE + GICR_IPRIORITYR + (intid & ~3U), 0xa0U << (8 * (intid & 3)));
    wr32(GICR_SGI_BASE + GICR_ISENABLER0, 1U << intid);
    __asm__ volatile("dsb sy" ::: "memory");

    /* The system-register CPU interface: every priority unmasked, group 1 on. */
    __asm__ volatile("msr S3_0_C12_C12_5, %0\n" /* ICC_SRE_EL1.SRE */
                     "isb\n"
                     "msr S3_0_C4_C6_0, %1\n"   /* ICC_PMR_EL1 */
                     "msr S3_0_C12_C12_7, %2\n" /* ICC_IGRPEN1_EL1 */
                     "isb" ::"r"(1UL),
                     "r"(0xffUL), "r"(1UL)
                     : "memory");
}

int main(void) {
    uart_puts("suspend: start\n");
    gicv3_enable_ppi(VTIMER_PPI);
    /* A compare value of 0 has long passed: the timer condition holds from now on. */
    write_sysreg(cntv_cval_el0, 0);
    write_sysreg(cntv_ctl_el0, 1);
    __asm__ volatile("isb");
    put_result("timer_istatus", (read_sysreg(cntv_ctl_el0) >> 2) & 1);

    register u64 keep __asm__("x19") = 0x1919191919191919ULL;
    put_result("cpu_suspend_64_standby", psci_call(PSCI_CPU_SUSPEND_64, 0, 0, 0));
    put_result("cpu_suspend_32_standby", psci_call(PSCI_CPU_SUSPEND_32, 0, 0, 0));
    /*
     * A power-down state (bit 16 of the original power_state format): KVM
     * treats it as standby too, so the call returns, and in place.
     */
    put_result("cpu_suspend_64_powerdown", psci_call(PSCI_CPU_SUSPEND_64, 0x10000, (u64)secondary_entry, 0x1234));
    __asm__ volatile("" : "+r"(keep));
    put_result("callee_saved_kept", keep == 0x1919191919191919ULL);
    /* The PSCI 0.1 suspend id is not part of a PSCI 1.1 VM under KVM. */
    put_result("psci_0_1_cpu_suspend", psci_call(PSCI_0_1_CPU_SUSPEND, 0, 0, 0));

    write_sysreg(cntv_ctl_el0, 0);
    uart_puts("suspend: done\n");
    return 0;
}
