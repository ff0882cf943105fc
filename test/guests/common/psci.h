#ifndef WARMBOOT_GUEST_PSCI_H
#define WARMBOOT_GUEST_PSCI_H
/*
 * PSCI and SMCCC calls for the SMP test guests (DEN0022, DEN0028), and the
 * secondary-cpu support of smp.S/smp.c. Guests that use this link smp.S and
 * smp.c in addition to the common runtime.
 */
#include "runtime.h"

#define PSCI_VERSION 0x84000000ULL
#define PSCI_CPU_SUSPEND_32 0x84000001ULL
#define PSCI_CPU_SUSPEND_64 0xc4000001ULL
#define PSCI_CPU_OFF 0x84000002ULL
#define PSCI_CPU_ON_32 0x84000003ULL
#define PSCI_CPU_ON_64 0xc4000003ULL
#define PSCI_AFFINITY_INFO_32 0x84000004ULL
#define PSCI_AFFINITY_INFO_64 0xc4000004ULL
#define PSCI_MIGRATE_32 0x84000005ULL
#define PSCI_MIGRATE_64 0xc4000005ULL
#define PSCI_MIGRATE_INFO_TYPE 0x84000006ULL
#define PSCI_MIGRATE_INFO_UP_CPU_32 0x84000007ULL
#define PSCI_MIGRATE_INFO_UP_CPU_64 0xc4000007ULL
#define PSCI_SYSTEM_OFF 0x84000008ULL
#define PSCI_SYSTEM_RESET 0x84000009ULL
#define PSCI_FEATURES 0x8400000aULL
#define PSCI_CPU_FREEZE 0x8400000bULL
#define PSCI_CPU_DEFAULT_SUSPEND_32 0x8400000cULL
#define PSCI_NODE_HW_STATE_32 0x8400000dULL
#define PSCI_SYSTEM_SUSPEND_32 0x8400000eULL
#define PSCI_SYSTEM_SUSPEND_64 0xc400000eULL
#define PSCI_SET_SUSPEND_MODE 0x8400000fULL
#define PSCI_STAT_RESIDENCY_32 0x84000010ULL
#define PSCI_STAT_COUNT_32 0x84000011ULL
#define PSCI_SYSTEM_RESET2_32 0x84000012ULL
#define PSCI_SYSTEM_RESET2_64 0xc4000012ULL
#define PSCI_MEM_PROTECT 0x84000013ULL
#define PSCI_0_1_CPU_SUSPEND 0x95c1ba5eULL
#define PSCI_0_1_CPU_OFF 0x95c1ba5fULL
#define PSCI_0_1_CPU_ON 0x95c1ba60ULL
#define PSCI_0_1_MIGRATE 0x95c1ba61ULL
#define SMCCC_VERSION 0x80000000ULL
#define SMCCC_ARCH_FEATURES 0x80000001ULL
#define SMCCC_ARCH_WORKAROUND_1 0x80008000ULL
#define SMCCC_ARCH_WORKAROUND_2 0x80007fffULL
#define SMCCC_ARCH_WORKAROUND_3 0x80003fffULL

#define PSCI_RET_SUCCESS 0
#define PSCI_RET_NOT_SUPPORTED (-1)
#define PSCI_RET_INVALID_PARAMETERS (-2)
#define PSCI_RET_DENIED (-3)
#define PSCI_RET_ALREADY_ON (-4)
#define PSCI_RET_ON_PENDING (-5)
#define PSCI_RET_INTERNAL_FAILURE (-6)

#define AFFINITY_ON 0
#define AFFINITY_OFF 1
#define AFFINITY_ON_PENDING 2

/* The most vcpus the guests plan for (warmboot's Machine accepts up to 8). */
#define MAX_CPUS 8

/* x0-x3 as the call left them. */
struct smccc_res {
    u64 x0, x1, x2, x3;
};

/*
 * The calls hand over x0-x3 and take back x0-x3, as SMCCC 1.1 defines;
 * x1-x3 are inputs as well as outputs so the callers can see what the
 * hypervisor did to them.
 */
static inline struct smccc_res hvc_call(u64 fn, u64 a1, u64 a2, u64 a3) {
    register u64 x0 __asm__("x0") = fn;
    register u64 x1 __asm__("x1") = a1;
    register u64 x2 __asm__("x2") = a2;
    register u64 x3 __asm__("x3") = a3;
    __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
    return (struct smccc_res){x0, x1, x2, x3};
}

static inline struct smccc_res smc_call(u64 fn, u64 a1, u64 a2, u64 a3) {
    register u64 x0 __asm__("x0") = fn;
    register u64 x1 __asm__("x1") = a1;
    register u64 x2 __asm__("x2") = a2;
    register u64 x3 __asm__("x3") = a3;
    __asm__ volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
    return (struct smccc_res){x0, x1, x2, x3};
}

/* Nonzero: PSCI goes through SMC (the device tree says method = "smc"). Set before any secondary starts. */
extern int psci_use_smc;

static inline u64 psci_call(u64 fn, u64 a1, u64 a2, u64 a3) {
    return psci_use_smc ? smc_call(fn, a1, a2, a3).x0 : hvc_call(fn, a1, a2, a3).x0;
}

/* Calls SYSTEM_OFF through the conduit in use; spins if the hypervisor ignores it. */
void psci_off_via_conduit(void) __attribute__((noreturn));
/* Calls SYSTEM_RESET through the conduit in use; returns what x0 read if the VMM resumed us instead. */
u64 psci_reset_via_conduit(void);

/*
 * What a secondary's registers held when it first ran at secondary_entry,
 * captured by smp.S before anything changed them. The layout is shared with
 * smp.S.
 */
struct boot_record {
    u64 x0;
    u64 x1_to_x30_ored;
    u64 sp;
    u64 mpidr;
    u64 current_el;
    u64 daif;
    u64 sctlr;
    u64 spsel;
    u64 nzcv;
    u64 vbar;
    u64 entries; /* how many times this cpu entered secondary_entry */
    u64 pad[5];
};
extern volatile struct boot_record boot_records[MAX_CPUS];

/*
 * The entry point to give CPU_ON. It records the reset state, sets up this
 * cpu's stack and vectors, calls secondary_main(context id, cpu index) and
 * powers the cpu off when that returns.
 */
extern char secondary_entry[];
void secondary_main(u64 context, u64 cpu);

static inline u64 cpu_index(void) {
    return read_sysreg(mpidr_el1) & 0xff;
}

static inline void cpu_relax(void) {
    __asm__ volatile("yield" ::: "memory");
}

static inline u64 load_acquire(volatile u64 *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release(volatile u64 *p, u64 v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Spins until *p == want or about `budget` polls have gone by; returns whether it got there. */
int wait_for_value(volatile u64 *p, u64 want, u64 budget);

/* Polls AFFINITY_INFO (level 0) of `mpidr` until it reads `state`; returns the last answer. */
s64 wait_affinity(u64 mpidr, s64 state, u64 budget);

/* Prints "name: 0x%016x\n" for a signed PSCI result, so -2 reads 0xfffffffffffffffe. */
static inline void put_result(const char *name, u64 v) {
    uart_put_named(name, v);
}

/*
 * A word of RAM, beyond every image and the DTB, that the test harness may
 * set through the Machine API before the run to enable checks that cannot run
 * under QEMU (there it stays zero).
 */
#define HOST_HINTS_ADDR 0x47ff0000UL
static inline u64 host_hints(void) {
    return *(volatile u64 *)HOST_HINTS_ADDR;
}

#endif
