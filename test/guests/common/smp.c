#include "psci.h"

int psci_use_smc;

void secondary_cpu_off(void) __attribute__((noreturn));
void secondary_cpu_off(void) {
    psci_call(PSCI_CPU_OFF, 0, 0, 0);
    /* CPU_OFF returns only on failure: stay out of the way. */
    for (;;)
        __asm__ volatile("wfe");
}

void psci_off_via_conduit(void) {
    psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}

u64 psci_reset_via_conduit(void) {
    return psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
}

__attribute__((weak)) void secondary_main(u64 context, u64 cpu) {
    (void)context;
    (void)cpu;
}

int wait_for_value(volatile u64 *p, u64 want, u64 budget) {
    for (u64 i = 0; i < budget; i++) {
        if (load_acquire(p) == want)
            return 1;
        cpu_relax();
    }
    return load_acquire(p) == want;
}

s64 wait_affinity(u64 mpidr, s64 state, u64 budget) {
    s64 r = 0;
    for (u64 i = 0; i < budget; i++) {
        r = (s64)psci_call(PSCI_AFFINITY_INFO_64, mpidr, 0, 0);
        if (r == state)
            break;
        cpu_relax();
    }
    return r;
}
