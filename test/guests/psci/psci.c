/*
 * Calls every PSCI 1.1 / SMCCC 1.1 function the boot cpu can call and prints
 * each raw answer as "name: 0x...". The guest judges nothing: the test holds
 * the expected values (from KVM's arch/arm64/kvm/psci.c) and knows which
 * answers QEMU's TCG PSCI shares with KVM. Needs -smp 4.
 *
 * CPU_SUSPEND needs a wake-up source and is left to test/guests/suspend.
 *
 * Built twice: psci.elf uses the HVC conduit, psci-smc.elf (-DCONDUIT_SMC)
 * the SMC conduit for a machine whose device tree says method = "smc"; each
 * also checks that the other instruction is UNDEFINED.
 */
#include "../common/psci.h"

#define BUDGET 20000000ULL

static volatile u64 alive[MAX_CPUS];
static volatile u64 release[MAX_CPUS];

/* Trap bookkeeping for the instructions expected to be UNDEFINED. */
static volatile u64 trap_expected, trap_count, trap_esr, trap_elr;

void exception_handler(struct exception_frame *f, u64 vector) {
    u64 esr = read_sysreg(esr_el1);
    if (trap_expected && vector == 4) {
        trap_count++;
        trap_esr = esr;
        trap_elr = f->elr;
        f->elr += 4;
        return;
    }
    uart_puts("unexpected exception: vector ");
    uart_put_dec(vector);
    uart_puts(" ESR_EL1=");
    uart_put_hex64(esr);
    uart_puts(" ELR_EL1=");
    uart_put_hex64(f->elr);
    uart_putc('\n');
    psci_off_via_conduit();
}

void secondary_main(u64 context, u64 cpu) {
    store_release(&alive[cpu], context);
    while (!load_acquire(&release[cpu]))
        cpu_relax();
    /*
     * Leave state behind that a later CPU_ON must not inherit: EL0 cache and
     * DC ZVA controls in SCTLR_EL1, a thread pointer, the vector base.
     */
    write_sysreg(sctlr_el1, read_sysreg(sctlr_el1) | (1u << 26) | (1u << 14) | (1u << 15));
    write_sysreg(tpidr_el1, 0xfeedfacecafe0000ULL | cpu);
    __asm__ volatile("isb");
    store_release(&alive[cpu], 0);
}

static void call_named(const char *name, u64 fn, u64 a1, u64 a2, u64 a3) {
    put_result(name, psci_call(fn, a1, a2, a3));
}

/* The conduit the device tree does not name must be UNDEFINED (EC 0). */
static void other_conduit(void) {
    u64 at, x0;
    trap_expected = 1;
    trap_count = 0;
    if (psci_use_smc) {
        register u64 r0 __asm__("x0") = PSCI_VERSION;
        __asm__ volatile("adr %1, 1f\n1:\thvc #0" : "+r"(r0), "=&r"(at) : : "memory");
        x0 = r0;
    } else {
        register u64 r0 __asm__("x0") = PSCI_VERSION;
        __asm__ volatile("adr %1, 1f\n1:\tsmc #0" : "+r"(r0), "=&r"(at) : : "memory");
        x0 = r0;
    }
    trap_expected = 0;
    put_result("other_conduit_traps", trap_count);
    put_result("other_conduit_esr", trap_esr);
    put_result("other_conduit_elr_is_insn", trap_elr == at);
    put_result("other_conduit_x0", x0);
}

static void print_record(const char *prefix, u64 cpu) {
    volatile struct boot_record *r = &boot_records[cpu];
    char name[48];
    static const char *const fields[] = {"x0", "x1_to_x30", "sp", "mpidr", "currentel", "daif",
                                         "sctlr", "sctlr_m_c_i", "spsel", "nzcv", "vbar", "entries"};
    /* M (bit 0), C (bit 2), I (bit 12): the MMU and both caches. */
    const u64 values[] = {r->x0, r->x1_to_x30_ored, r->sp, r->mpidr, r->current_el, r->daif,
                          r->sctlr, r->sctlr & 0x1005, r->spsel, r->nzcv, r->vbar, r->entries};
    for (unsigned i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        usize n = 0;
        for (const char *p = prefix; *p; p++)
            name[n++] = *p;
        name[n++] = '_';
        for (const char *p = fields[i]; *p; p++)
            name[n++] = *p;
        name[n] = 0;
        put_result(name, values[i]);
    }
}

static void features(void) {
    static const u64 ids[] = {
        PSCI_VERSION, PSCI_CPU_SUSPEND_32, PSCI_CPU_SUSPEND_64, PSCI_CPU_OFF, PSCI_CPU_ON_32,
        PSCI_CPU_ON_64, PSCI_AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64, PSCI_MIGRATE_32,
        PSCI_MIGRATE_64, PSCI_MIGRATE_INFO_TYPE, PSCI_MIGRATE_INFO_UP_CPU_32,
        PSCI_MIGRATE_INFO_UP_CPU_64, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_FEATURES,
        PSCI_CPU_FREEZE, PSCI_CPU_DEFAULT_SUSPEND_32, PSCI_NODE_HW_STATE_32,
        PSCI_SYSTEM_SUSPEND_32, PSCI_SYSTEM_SUSPEND_64, PSCI_SET_SUSPEND_MODE,
        PSCI_STAT_RESIDENCY_32, PSCI_STAT_COUNT_32, PSCI_SYSTEM_RESET2_32,
        PSCI_SYSTEM_RESET2_64, PSCI_MEM_PROTECT, PSCI_0_1_CPU_SUSPEND, PSCI_0_1_CPU_OFF,
        PSCI_0_1_CPU_ON, PSCI_0_1_MIGRATE, SMCCC_VERSION, SMCCC_ARCH_FEATURES,
        0x8400001fULL, 0xc4000000ULL,
    };
    for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        uart_puts("features_");
        uart_put_hex(ids[i], 8);
        uart_puts(": ");
        uart_put_hex64(psci_call(PSCI_FEATURES, ids[i], 0, 0));
        uart_putc('\n');
    }
    /* PSCI_FEATURES takes a 32-bit function id: the upper half is not part of it. */
    call_named("features_version_hi_bits", PSCI_FEATURES, 0xffffffff00000000ULL | PSCI_VERSION, 0, 0);
}

static void smccc(void) {
    call_named("smccc_version", SMCCC_VERSION, 0, 0, 0);
    call_named("smccc_arch_features_wa1", SMCCC_ARCH_FEATURES, SMCCC_ARCH_WORKAROUND_1, 0, 0);
    call_named("smccc_arch_features_wa2", SMCCC_ARCH_FEATURES, SMCCC_ARCH_WORKAROUND_2, 0, 0);
    call_named("smccc_arch_features_wa3", SMCCC_ARCH_FEATURES, SMCCC_ARCH_WORKAROUND_3, 0, 0);
    call_named("smccc_arch_features_unknown", SMCCC_ARCH_FEATURES, 0x8000ff00ULL, 0, 0);
}

/* Starts `cpu` at secondary_entry and waits for it to report in; returns the CPU_ON result. */
static s64 start_cpu(u64 fn, u64 mpidr, u64 cpu, u64 context) {
    s64 r = (s64)psci_call(fn, mpidr, (u64)secondary_entry, context);
    if (r == PSCI_RET_SUCCESS)
        wait_for_value(&alive[cpu], context & (fn == PSCI_CPU_ON_32 ? 0xffffffffULL : ~0ULL), BUDGET);
    return r;
}

static void stop_cpu(u64 cpu, const char *name) {
    store_release(&release[cpu], 1);
    put_result(name, (u64)wait_affinity(cpu, AFFINITY_OFF, BUDGET));
    release[cpu] = 0;
}

static void cpu_on_and_affinity(void) {
    const u64 entry = (u64)secondary_entry;

    call_named("cpu_on_unknown_mpidr", PSCI_CPU_ON_64, 4, entry, 0);
    call_named("cpu_on_aff1", PSCI_CPU_ON_64, 0x100, entry, 0);
    call_named("cpu_on_aff3", PSCI_CPU_ON_64, 0x100000001ULL, entry, 0);
    /* MPIDR_EL1 as read, bit 31 included: not an affinity value. */
    call_named("cpu_on_raw_mpidr", PSCI_CPU_ON_64, read_sysreg(mpidr_el1) | 1, entry, 0);
    call_named("cpu_on_self", PSCI_CPU_ON_64, 0, entry, 0);
    call_named("cpu_on_misaligned", PSCI_CPU_ON_64, 1, entry + 2, 0);
    call_named("affinity_cpu1_before_on", PSCI_AFFINITY_INFO_64, 1, 0, 0);
    call_named("affinity_cpu1_after_failed_on", PSCI_AFFINITY_INFO_64, 1, 0, 0);

    s64 r = (s64)psci_call(PSCI_CPU_ON_64, 1, entry, 0x1122334455667788ULL);
    put_result("cpu_on_cpu1", (u64)r);
    /* KVM marks the target runnable before CPU_ON returns; QEMU may still say ON_PENDING. */
    call_named("affinity_cpu1_right_after_on", PSCI_AFFINITY_INFO_64, 1, 0, 0);
    put_result("cpu1_alive", wait_for_value(&alive[1], 0x1122334455667788ULL, BUDGET));
    print_record("cpu1", 1);
    call_named("affinity_cpu1_running", PSCI_AFFINITY_INFO_64, 1, 0, 0);
    call_named("affinity_cpu1_running_32", PSCI_AFFINITY_INFO_32, 1, 0, 0);
    call_named("cpu_on_cpu1_again", PSCI_CPU_ON_64, 1, entry, 0);
    call_named("cpu_on_cpu1_again_32", PSCI_CPU_ON_32, 1, entry, 0);

    put_result("cpu_on_cpu2", (u64)start_cpu(PSCI_CPU_ON_64, 2, 2, 0x2222));
    print_record("cpu2", 2);
    put_result("cpu_on_cpu3_32", (u64)start_cpu(PSCI_CPU_ON_32, 3, 3, 0x3333));
    print_record("cpu3", 3);

    call_named("affinity_level1", PSCI_AFFINITY_INFO_64, 0, 1, 0);
    call_named("affinity_level2", PSCI_AFFINITY_INFO_64, 0, 2, 0);
    call_named("affinity_level3", PSCI_AFFINITY_INFO_64, 0, 3, 0);
    call_named("affinity_level4", PSCI_AFFINITY_INFO_64, 0, 4, 0);
    call_named("affinity_unknown", PSCI_AFFINITY_INFO_64, 5, 0, 0);
    call_named("affinity_raw_mpidr", PSCI_AFFINITY_INFO_64, read_sysreg(mpidr_el1), 0, 0);
    call_named("affinity_level1_other_cluster", PSCI_AFFINITY_INFO_64, 0x100, 1, 0);
    /* Level 1 ignores Aff0: cpu 3's cluster is cpu 0's. */
    call_named("affinity_level1_by_cpu3", PSCI_AFFINITY_INFO_64, 3, 1, 0);

    stop_cpu(1, "affinity_cpu1_after_off");
    stop_cpu(2, "affinity_cpu2_after_off");
    stop_cpu(3, "affinity_cpu3_after_off");
    call_named("affinity_level1_all_secondaries_off", PSCI_AFFINITY_INFO_64, 1, 1, 0);

    /* Powered on again, cpu 1 must not have kept what it changed before CPU_OFF. */
    put_result("cpu_on_cpu1_second", (u64)start_cpu(PSCI_CPU_ON_64, 1, 1, 0xabcdef));
    print_record("cpu1_second", 1);
    stop_cpu(1, "affinity_cpu1_after_second_off");
}

/*
 * SMC32/HVC32 functions see only the low 32 bits of their arguments: KVM
 * (kvm_psci_narrow_to_32bit) clears the upper halves in place.
 */
static void narrowing(void) {
    const u64 entry = (u64)secondary_entry;
    struct smccc_res res;

    if (psci_use_smc)
        res = smc_call(PSCI_CPU_ON_32, 0xffffffff00000001ULL, 0xabcd000000000000ULL | entry, 0x5555aaaa12345678ULL);
    else
        res = hvc_call(PSCI_CPU_ON_32, 0xffffffff00000001ULL, 0xabcd000000000000ULL | entry, 0x5555aaaa12345678ULL);
    put_result("cpu_on32_upper_bits", res.x0);
    put_result("cpu_on32_x1_after", res.x1);
    put_result("cpu_on32_x2_after", res.x2);
    put_result("cpu_on32_x3_after", res.x3);
    if ((s64)res.x0 == PSCI_RET_SUCCESS) {
        put_result("cpu_on32_alive", wait_for_value(&alive[1], 0x12345678ULL, BUDGET));
        put_result("cpu_on32_context", boot_records[1].x0);
        stop_cpu(1, "cpu_on32_after_off");
    }

    /* Level 0x1_00000000 narrows to 0 and cpu 2 is off: OFF, not INVALID_PARAMETERS. */
    call_named("affinity32_upper_bits", PSCI_AFFINITY_INFO_32, 0xffffffff00000002ULL, 0x100000000ULL, 0);
    /* The 64-bit call sees Aff3 = 0xff: no such cpu. */
    call_named("affinity64_upper_bits", PSCI_AFFINITY_INFO_64, 0xff00000002ULL, 0, 0);
    /* Only w0 names the function. */
    call_named("version_x0_upper_bits", 0xffffffff00000000ULL | PSCI_VERSION, 0, 0, 0);
}

static void misc(void) {
    struct smccc_res res;
    if (psci_use_smc)
        res = smc_call(PSCI_VERSION, 0x1111111111111111ULL, 0x2222222222222222ULL, 0x3333333333333333ULL);
    else
        res = hvc_call(PSCI_VERSION, 0x1111111111111111ULL, 0x2222222222222222ULL, 0x3333333333333333ULL);
    put_result("version", res.x0);
    /* KVM's smccc_set_retval(vcpu, val, 0, 0, 0) zeroes x1-x3 of every answered call. */
    put_result("version_x1_after", res.x1);
    put_result("version_x2_after", res.x2);
    put_result("version_x3_after", res.x3);

    call_named("migrate_32", PSCI_MIGRATE_32, 1, 0, 0);
    call_named("migrate_64", PSCI_MIGRATE_64, 1, 0, 0);
    call_named("migrate_info_type", PSCI_MIGRATE_INFO_TYPE, 0, 0, 0);
    call_named("migrate_info_up_cpu_32", PSCI_MIGRATE_INFO_UP_CPU_32, 0, 0, 0);
    call_named("migrate_info_up_cpu_64", PSCI_MIGRATE_INFO_UP_CPU_64, 0, 0, 0);
    call_named("system_reset2_type1", PSCI_SYSTEM_RESET2_64, 1, 0, 0);
    call_named("system_reset2_type_7fffffff", PSCI_SYSTEM_RESET2_64, 0x7fffffffULL, 0, 0);
    call_named("system_reset2_32_type1", PSCI_SYSTEM_RESET2_32, 0xffffffff00000001ULL, 0, 0);
    call_named("system_suspend_64", PSCI_SYSTEM_SUSPEND_64, (u64)secondary_entry, 0, 0);
    call_named("cpu_freeze", PSCI_CPU_FREEZE, 0, 0, 0);
    call_named("mem_protect", PSCI_MEM_PROTECT, 0, 0, 0);
    call_named("unknown_8400001f", 0x8400001fULL, 0, 0, 0);
    call_named("unknown_c400001f", 0xc400001fULL, 0, 0, 0);
    call_named("unknown_c4000000", 0xc4000000ULL, 0, 0, 0);
    call_named("unknown_82000000", 0x82000000ULL, 0, 0, 0);
    call_named("psci_0_1_migrate", PSCI_0_1_MIGRATE, 0, 0, 0);

    /* KVM answers PSCI 0.1 ids only in a VM whose PSCI version is 0.1. */
    s64 r = (s64)psci_call(PSCI_0_1_CPU_ON, 2, (u64)secondary_entry, 0x0101);
    put_result("psci_0_1_cpu_on", (u64)r);
    if (r == PSCI_RET_SUCCESS) {
        wait_for_value(&alive[2], 0x0101, BUDGET);
        stop_cpu(2, "psci_0_1_cpu_on_then_off");
    }
}

int main(void) {
#ifdef CONDUIT_SMC
    psci_use_smc = 1;
#endif
    uart_puts("psci: start\n");
    misc();
    features();
    smccc();
    cpu_on_and_affinity();
    narrowing();
    other_conduit();
    uart_puts("psci: done\n");
    psci_off_via_conduit();
}
