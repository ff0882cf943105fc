/*
 * CPU_ON/CPU_OFF under contention on 4 cpus. Counters are shared with
 * exclusives (LDAXR/STLXR) and, where ID_AA64ISAR0_EL1 reports FEAT_LSE, with
 * LSE atomics as well; both must count the same.
 *
 * Phase A: the boot cpu powers the three secondaries on, round after round;
 *   each counts itself in and powers off at once while the boot cpu polls
 *   AFFINITY_INFO for OFF.
 * Phase B: the secondaries power each other on, racing for the same targets.
 *   Every CPU_ON answer is counted, and each SUCCESS must match exactly one
 *   entry of the target.
 *
 * Lines starting "inv_" hold however the cpus interleave, under KVM and
 * under QEMU's TCG. Lines starting "strict_" hold however they interleave
 * under KVM, which changes the target's power state before CPU_ON returns;
 * TCG changes it only once the target runs, so there two racing CPU_ONs can
 * both succeed and AFFINITY_INFO reads OFF for a cpu just started. The other
 * lines tell how the race went: fixed on a deterministic engine only.
 */
#include "../common/psci.h"

#define ROUNDS 30
#define TICKETS 300
#define ATTEMPTS_PER_ACTIVATION 4
#define BUDGET 50000000ULL
/* Phase B's end under QEMU: see phase_b. */
#define SETTLE_POLLS 100000

static int have_lse;

enum { PHASE_A = 1, PHASE_B = 2 };
static volatile u64 phase;

/* Shared counters, each in its own cache line. */
struct counter {
    volatile u64 v;
    u64 pad[7];
};
static struct counter entries_llsc, entries_lse, ctx_sum_entered;
static struct counter tickets, inflight;
static struct counter on_success, on_already, on_pending, on_other, ctx_sum_success;
static struct counter per_cpu_entries[MAX_CPUS];

static u64 add_llsc(volatile u64 *p, u64 v) {
    u64 old, tmp;
    u32 fail;
    __asm__ volatile("1: ldaxr %0, [%3]\n"
                     "   add %1, %0, %4\n"
                     "   stlxr %w2, %1, [%3]\n"
                     "   cbnz %w2, 1b\n"
                     : "=&r"(old), "=&r"(tmp), "=&r"(fail)
                     : "r"(p), "r"(v)
                     : "memory");
    return old;
}

static u64 add_lse(volatile u64 *p, u64 v) {
    u64 old;
    __asm__ volatile(".arch_extension lse\n"
                     "ldaddal %1, %0, [%2]\n"
                     : "=r"(old)
                     : "r"(v), "r"(p)
                     : "memory");
    return old;
}

static u64 add(volatile u64 *p, u64 v) {
    return have_lse ? add_lse(p, v) : add_llsc(p, v);
}

/* Takes one ticket: returns the count before taking it, or 0 when none are left. */
static u64 take_ticket_llsc(volatile u64 *p) {
    u64 old, tmp;
    u32 fail;
    __asm__ volatile("1: ldaxr %0, [%3]\n"
                     "   cbz %0, 2f\n"
                     "   sub %1, %0, #1\n"
                     "   stlxr %w2, %1, [%3]\n"
                     "   cbnz %w2, 1b\n"
                     "   b 3f\n"
                     "2: clrex\n"
                     "3:\n"
                     : "=&r"(old), "=&r"(tmp), "=&r"(fail)
                     : "r"(p)
                     : "memory");
    return old;
}

static u64 take_ticket_cas(volatile u64 *p) {
    u64 old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (old) {
        u64 seen = old;
        __asm__ volatile(".arch_extension lse\n"
                         "casal %0, %2, [%1]\n"
                         : "+&r"(seen)
                         : "r"(p), "r"(old - 1)
                         : "memory");
        if (seen == old)
            return old;
        old = seen;
    }
    return 0;
}

static u64 take_ticket(volatile u64 *p) {
    return have_lse ? take_ticket_cas(p) : take_ticket_llsc(p);
}

static void count_entry(u64 context, u64 cpu) {
    add_llsc(&entries_llsc.v, 1);
    if (have_lse)
        add_lse(&entries_lse.v, 1);
    else
        add_llsc(&entries_lse.v, 1);
    add(&ctx_sum_entered.v, context);
    add(&per_cpu_entries[cpu].v, 1);
}

static void record_on(s64 r, u64 context) {
    switch (r) {
    case PSCI_RET_SUCCESS:
        add(&on_success.v, 1);
        add(&ctx_sum_success.v, context);
        break;
    case PSCI_RET_ALREADY_ON:
        add(&on_already.v, 1);
        break;
    case PSCI_RET_ON_PENDING:
        add(&on_pending.v, 1);
        break;
    default:
        add(&on_other.v, 1);
        break;
    }
}

void secondary_main(u64 context, u64 cpu) {
    count_entry(context, cpu);
    if (load_acquire(&phase) != PHASE_B)
        return; /* phase A: straight back off */
    for (int i = 0; i < ATTEMPTS_PER_ACTIVATION; i++) {
        add(&inflight.v, 1);
        u64 t = take_ticket(&tickets.v);
        if (!t) {
            add(&inflight.v, (u64)-1);
            break;
        }
        u64 target = 1 + t % 3;
        if (target == cpu)
            target = 1 + (t + 1) % 3;
        /* The context id names the ticket, so entries can be matched to successes. */
        record_on((s64)psci_call(PSCI_CPU_ON_64, target, (u64)secondary_entry, t), t);
        add(&inflight.v, (u64)-1);
    }
}

static void phase_a(void) {
    u64 not_off_before = 0, not_success = 0, not_entered = 0, not_off_after = 0, expected_sum = 0;
    store_release(&phase, PHASE_A);
    for (u64 round = 0; round < ROUNDS; round++) {
        for (u64 cpu = 1; cpu <= 3; cpu++) {
            if ((s64)psci_call(PSCI_AFFINITY_INFO_64, cpu, 0, 0) != AFFINITY_OFF)
                not_off_before++;
            u64 context = (round << 8) | cpu;
            if ((s64)psci_call(PSCI_CPU_ON_64, cpu, (u64)secondary_entry, context) != PSCI_RET_SUCCESS)
                not_success++;
            else
                expected_sum += context;
        }
        /*
         * Under KVM a cpu is ON from the moment CPU_ON returns, so polling for
         * OFF alone would do. QEMU's TCG reports OFF until the target has
         * actually started, so wait for it to count itself in first.
         */
        for (u64 cpu = 1; cpu <= 3; cpu++) {
            if (!wait_for_value(&per_cpu_entries[cpu].v, round + 1, BUDGET))
                not_entered++;
            if (wait_affinity(cpu, AFFINITY_OFF, BUDGET) != AFFINITY_OFF)
                not_off_after++;
        }
    }
    /* Every cpu is off and has counted itself in before it called CPU_OFF. */
    put_result("inv_a_not_off_before_on", not_off_before);
    put_result("inv_a_on_not_success", not_success);
    put_result("inv_a_not_entered", not_entered);
    put_result("inv_a_not_off_after", not_off_after);
    put_result("inv_a_entries_llsc", entries_llsc.v);
    put_result("inv_a_entries_lse", entries_lse.v);
    put_result("inv_a_ctx_sum_ok", ctx_sum_entered.v == expected_sum);
    for (u64 cpu = 1; cpu <= 3; cpu++) {
        char name[] = "inv_a_entries_cpuN";
        name[sizeof(name) - 2] = (char)('0' + cpu);
        put_result(name, per_cpu_entries[cpu].v);
    }
}

static int all_secondaries_off(void) {
    for (u64 cpu = 1; cpu <= 3; cpu++)
        if ((s64)psci_call(PSCI_AFFINITY_INFO_64, cpu, 0, 0) != AFFINITY_OFF)
            return 0;
    return 1;
}

static void phase_b(void) {
    u64 kicks = 0, kick_success = 0, kick_ctx_sum = 0, polls = 0, settled = 0, finished = 0;
    entries_llsc.v = entries_lse.v = ctx_sum_entered.v = 0;
    for (u64 cpu = 0; cpu < MAX_CPUS; cpu++)
        per_cpu_entries[cpu].v = 0;
    tickets.v = TICKETS;
    store_release(&phase, PHASE_B);

    for (;;) {
        u64 t = load_acquire(&tickets.v);
        u64 busy = load_acquire(&inflight.v);
        u64 started = load_acquire(&on_success.v) + kick_success;
        if (t == 0 && busy == 0 && load_acquire(&entries_llsc.v) == started && all_secondaries_off()) {
            finished = 1;
            break;
        }
        /*
         * Under QEMU's TCG a target reads OFF until it runs, so two CPU_ONs to
         * it can both succeed and the entries never match the successes: the
         * race is over there once every ticket is used and every cpu has stayed
         * off this long. (Waiting out the whole budget instead sometimes ran
         * out first on a loaded 2-core host, with tickets left.)
         */
        if (t == 0 && busy == 0 && all_secondaries_off()) {
            if (++settled > SETTLE_POLLS)
                break;
        } else {
            settled = 0;
        }
        if (t != 0 && busy == 0 && all_secondaries_off()) {
            /*
             * Everyone went off with tickets left (every attempt they made hit
             * a cpu that was on): start one again. Kicks use contexts above
             * the ticket numbers.
             */
            u64 context = 0x10000 + kicks;
            u64 target = 1 + kicks % 3;
            kicks++;
            if ((s64)psci_call(PSCI_CPU_ON_64, target, (u64)secondary_entry, context) == PSCI_RET_SUCCESS) {
                kick_success++;
                kick_ctx_sum += context;
            }
        }
        if (++polls > BUDGET / 10)
            break;
        cpu_relax();
    }

    u64 attempts = on_success.v + on_already.v + on_pending.v + on_other.v;
    put_result("inv_b_attempts", attempts);
    put_result("inv_b_answers_other_than_success_or_already_on", on_other.v);
    put_result("inv_b_llsc_matches_lse", entries_llsc.v == entries_lse.v);
    put_result("inv_b_tickets_left", tickets.v);
    put_result("strict_b_finished", finished);
    put_result("strict_b_entries_match_successes", entries_llsc.v == on_success.v + kick_success);
    put_result("strict_b_ctx_sums_match", ctx_sum_entered.v == ctx_sum_success.v + kick_ctx_sum);
    put_result("strict_b_all_off", all_secondaries_off());
    /* KVM never answers ON_PENDING: the target is ON before CPU_ON returns. */
    put_result("strict_b_on_pending", on_pending.v);
    /* How the race went: fixed on a deterministic engine, anything under QEMU. */
    put_result("b_success", on_success.v);
    put_result("b_already_on", on_already.v);
    put_result("b_kicks", kicks);
    put_result("b_kick_success", kick_success);
    put_result("b_entries", entries_llsc.v);
    for (u64 cpu = 1; cpu <= 3; cpu++) {
        char name[] = "b_entries_cpuN";
        name[sizeof(name) - 2] = (char)('0' + cpu);
        put_result(name, per_cpu_entries[cpu].v);
    }
}

int main(void) {
    have_lse = ((read_sysreg(ID_AA64ISAR0_EL1) >> 20) & 0xf) >= 2;
    uart_puts("cpuonoff: start\n");
    put_result("lse", have_lse);
    phase_a();
    phase_b();
    uart_puts("cpuonoff: done\n");
    return 0;
}
