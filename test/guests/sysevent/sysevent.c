/*
 * System events with other cpus running. Needs -smp 3 or more.
 *
 * Default (and under QEMU): cpu 0 and cpu 1 count forever while cpu 2 calls
 * SYSTEM_OFF; the machine must stop as a whole.
 * With host hint HINT_RESUME (set through the Machine API only): the boot cpu
 * calls SYSTEM_OFF, SYSTEM_RESET and SYSTEM_RESET2 in turn and, each time the
 * embedder resumes it instead of honouring the event, reports what x0 read.
 *
 * Counters and results live at fixed addresses outside the image, where the
 * test reads them through the Machine API.
 */
#include "../common/psci.h"

#define HINT_RESUME 2

#define COUNTERS_ADDR 0x46800000UL /* u64 per cpu, 256 bytes apart */
#define RESULTS_ADDR 0x46800400UL

#define counter(cpu) ((volatile u64 *)(COUNTERS_ADDR + (cpu) * 0x100))
#define results ((volatile u64 *)RESULTS_ADDR)

enum { RESULT_CPU2_CALLED = 0, RESULT_CPU2_X0 = 1, RESULT_CPU2_RETURNED = 2 };

static void count_forever(u64 cpu) {
    for (;;)
        *counter(cpu) = *counter(cpu) + 1;
}

void secondary_main(u64 context, u64 cpu) {
    (void)context;
    if (cpu == 2) {
        /* Wait until the others are visibly running, then shut the machine down under them. */
        while (*counter(0) < 1000 || *counter(1) < 1000)
            cpu_relax();
        uart_puts("sysevent: cpu 2 calls SYSTEM_OFF\n");
        results[RESULT_CPU2_CALLED] = 1;
        u64 r = psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
        /* Only an embedder that resumes the machine gets here. */
        results[RESULT_CPU2_X0] = r;
        results[RESULT_CPU2_RETURNED] = 1;
        for (;;)
            cpu_relax();
    }
    count_forever(cpu);
}

static void off_from_secondary(void) {
    uart_puts("sysevent: start\n");
    for (u64 cpu = 0; cpu < 4; cpu++)
        *counter(cpu) = 0;
    for (u64 i = 0; i < 3; i++)
        results[i] = 0;
    psci_call(PSCI_CPU_ON_64, 1, (u64)secondary_entry, 1);
    psci_call(PSCI_CPU_ON_64, 2, (u64)secondary_entry, 2);
    count_forever(0);
}

static void resumed_events(void) {
    uart_puts("sysevent: resume scenario\n");
    put_result("system_off_returned", psci_call(PSCI_SYSTEM_OFF, 0, 0, 0));
    put_result("system_reset_returned", psci_call(PSCI_SYSTEM_RESET, 0, 0, 0));
    put_result("system_reset2_warm_returned", psci_call(PSCI_SYSTEM_RESET2_64, 0, 0, 0));
    put_result("system_reset2_vendor_returned", psci_call(PSCI_SYSTEM_RESET2_32, 0x80000001ULL, 0x1234, 0));
    put_result("still_answering", psci_call(PSCI_VERSION, 0, 0, 0));
    uart_puts("sysevent: done\n");
    psci_off_via_conduit();
}

int main(void) {
    if (host_hints() & HINT_RESUME)
        resumed_events();
    off_from_secondary();
    return 0;
}
