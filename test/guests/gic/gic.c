/*
 * Interrupts on the virt board, through whichever GIC the machine has (GICv3
 * when ID_AA64PFR0_EL1.GIC says its system registers exist, GICv2
 * otherwise): the generic timers' PPIs, priority masking and preemption,
 * level- and edge-triggered SPIs (the PL011's), EOI with and without split
 * deactivation, FIQ for Group 0, and SGIs between four cpus. Every line it
 * prints is a fact both QEMU and warmboot must agree on; nothing depends on
 * timing. Needs -smp 4.
 */
#include "../common/psci.h"

#define GICD 0x08000000UL
#define GICC 0x08010000UL /* GICv2 CPU interface */
#define GICR 0x080a0000UL /* GICv3 redistributors, 128 KiB each */
#define GICR_SGI_FRAME 0x10000UL

#define UART_INTID 33
#define PL011_IMSC 0x38
#define PL011_ICR 0x44
#define PL011_TXIM (1u << 5)

#define TIMER_VIRT_INTID 27
#define TIMER_PHYS_INTID 30

#define SPURIOUS 1023
#define BUDGET 20000000ULL
#define CPUS 4

static int v3;

static inline u32 rd32(usize a) { return *(volatile u32 *)a; }
static inline void wr32(usize a, u32 v) { *(volatile u32 *)a = v; }
static inline u8 rd8(usize a) { return *(volatile u8 *)a; }
static inline void wr8(usize a, u8 v) { *(volatile u8 *)a = v; }
static inline void wr64(usize a, u64 v) { *(volatile u64 *)a = v; }

#define irq_enable() __asm__ volatile("msr daifclr, #2" ::: "memory")
#define irq_disable() __asm__ volatile("msr daifset, #2" ::: "memory")
#define fiq_enable() __asm__ volatile("msr daifclr, #1" ::: "memory")
#define fiq_disable() __asm__ volatile("msr daifset, #1" ::: "memory")
#define wfi() __asm__ volatile("wfi" ::: "memory")
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb() __asm__ volatile("dsb sy" ::: "memory")

static usize redist(u64 cpu) { return GICR + cpu * 0x20000UL; }

/* The register bank of SGIs and PPIs: the cpu's redistributor, or GICv2's banked distributor. */
static usize private_bank(u64 cpu) { return v3 ? redist(cpu) + GICR_SGI_FRAME : GICD; }

static usize bank_for(u32 id) { return id < 32 ? private_bank(cpu_index()) : GICD; }

static void set_bit_reg(usize base, u32 id) { wr32(bank_for(id) + base + (id / 32) * 4, 1u << (id % 32)); }
static int test_bit_reg(usize base, u32 id) { return (rd32(bank_for(id) + base + (id / 32) * 4) >> (id % 32)) & 1; }

static void gic_enable(u32 id, u8 prio) {
    wr8(bank_for(id) + 0x400 + id, prio);
    if (id >= 32) {
        if (v3)
            wr64(GICD + 0x6000 + 8 * id, 0); /* route to cpu 0 (affinity 0.0.0.0) */
        else
            wr8(GICD + 0x800 + id, 1);
    }
    set_bit_reg(0x100, id);
}

static void gic_disable(u32 id) { set_bit_reg(0x180, id); }
static int gic_active(u32 id) { return test_bit_reg(0x300, id); }
static int gic_pending(u32 id) { return test_bit_reg(0x200, id); }

static void gic_set_edge(u32 id, int edge) {
    usize r = bank_for(id) + 0xc00 + (id / 16) * 4;
    u32 bit = 2u << (2 * (id % 16));
    wr32(r, edge ? rd32(r) | bit : rd32(r) & ~bit);
}

static void gic_dist_init(void) {
    if (v3) {
        /* Group 1 for every SPI, both groups on, and wait for the write to take effect. */
        for (u32 n = 1; n < 9; n++)
            wr32(GICD + 0x80 + 4 * n, 0xffffffff);
        wr32(GICD, 3);
        while (rd32(GICD) & (1u << 31)) {
        }
    } else {
        /* Everything stays in Group 0, which GICv2 signals as IRQ while FIQEn is clear. */
        wr32(GICD, 1);
    }
}

static void gic_cpu_init(u64 cpu) {
    if (v3) {
        usize rd = redist(cpu);
        wr32(rd + 0x14, rd32(rd + 0x14) & ~(1u << 1)); /* GICR_WAKER.ProcessorSleep */
        while (rd32(rd + 0x14) & (1u << 2)) {
        }
        wr32(rd + GICR_SGI_FRAME + 0x80, 0xffffffff);
        write_sysreg(S3_0_C12_C12_5, read_sysreg(S3_0_C12_C12_5) | 1); /* ICC_SRE_EL1.SRE */
        isb();
        write_sysreg(S3_0_C4_C6_0, 0xff);  /* ICC_PMR_EL1 */
        write_sysreg(S3_0_C12_C12_3, 0);   /* ICC_BPR1_EL1: clamped to its minimum */
        write_sysreg(S3_0_C12_C12_4, 0);   /* ICC_CTLR_EL1: EOImode 0 */
        write_sysreg(S3_0_C12_C12_7, 1);   /* ICC_IGRPEN1_EL1 */
        isb();
    } else {
        wr32(GICC + 0x4, 0xff);
        wr32(GICC + 0x8, 0);
        wr32(GICC, 1);
    }
}

static u32 gic_ack(void) {
    return v3 ? (u32)read_sysreg(S3_0_C12_C12_0) : rd32(GICC + 0xc);
}

static void gic_eoi(u32 raw) {
    if (v3)
        write_sysreg(S3_0_C12_C12_1, raw);
    else
        wr32(GICC + 0x10, raw);
    isb();
}

static void gic_dir(u32 raw) {
    if (v3)
        write_sysreg(S3_0_C12_C11_1, raw);
    else
        wr32(GICC + 0x1000, raw);
    isb();
}

static void gic_set_pmr(u32 v) {
    if (v3)
        write_sysreg(S3_0_C4_C6_0, v);
    else
        wr32(GICC + 0x4, v);
    isb();
}

static u32 gic_rpr(void) { return v3 ? (u32)read_sysreg(S3_0_C12_C11_3) : rd32(GICC + 0x14); }

static void gic_eoimode(int split) {
    if (v3)
        write_sysreg(S3_0_C12_C12_4, split ? 2 : 0);
    else
        wr32(GICC, split ? 1 | (1u << 9) : 1);
    isb();
}

static void gic_send_sgi(u32 sgi, u64 target) {
    dsb();
    if (v3)
        write_sysreg(S3_0_C12_C11_5, ((u64)sgi << 24) | (1ULL << target));
    else
        wr32(GICD + 0xf00, (1u << (16 + target)) | sgi);
    isb();
}

static void gic_broadcast_sgi(u32 sgi) {
    dsb();
    if (v3)
        write_sysreg(S3_0_C12_C11_5, ((u64)sgi << 24) | (1ULL << 40));
    else
        wr32(GICD + 0xf00, (1u << 24) | sgi);
    isb();
}

/* Spins (taking branches, so that a pending unmasked interrupt is taken) for a while. */
static void settle(void) {
    for (volatile int i = 0; i < 2000; i++) {
    }
}

/* ---- The interrupt handler ---- */

static volatile u64 log_buf[32];
static volatile u64 log_len;
static volatile u64 count_by_id[64];
static volatile u64 last_raw;
static volatile u64 spurious;
static volatile u64 fiqs;
static volatile int uart_level_mode, uart_edge_mode, eoimode_split, nest_test;
static volatile u64 rpr_seen[8];
static volatile u64 replied;
static volatile u64 uart_cpu;
static volatile u64 pings[CPUS];
static volatile u64 timer_istatus, timer_after_cval;

static void note(u64 v) {
    if (log_len < 32)
        log_buf[log_len++] = v;
}

static void handle(u32 raw, u64 cpu) {
    u32 id = raw & 0x3ff;
    if (cpu != 0) {
        if (id == UART_INTID) {
            /* The SPI routed here: quiet the device and say who took it. */
            wr32(PL011_BASE + PL011_IMSC, 0);
            wr32(PL011_BASE + PL011_ICR, PL011_TXIM);
            uart_cpu = cpu;
            gic_eoi(raw);
            return;
        }
        /* A secondary answers every ping with SGI 8 to cpu 0. */
        pings[cpu]++;
        __atomic_fetch_or(&replied, 1ULL << cpu, __ATOMIC_SEQ_CST);
        gic_send_sgi(8, 0);
        gic_eoi(raw);
        return;
    }
    if (id < 64)
        count_by_id[id]++;
    last_raw = raw;
    switch (id) {
    case TIMER_VIRT_INTID:
        timer_istatus = (read_sysreg(cntv_ctl_el0) >> 2) & 1;
        timer_after_cval = read_sysreg(cntvct_el0) >= read_sysreg(cntv_cval_el0);
        write_sysreg(cntv_ctl_el0, 3); /* masked: the level drops */
        isb();
        break;
    case TIMER_PHYS_INTID:
        timer_istatus = (read_sysreg(cntp_ctl_el0) >> 2) & 1;
        timer_after_cval = read_sysreg(cntpct_el0) >= read_sysreg(cntp_cval_el0);
        write_sysreg(cntp_ctl_el0, 0); /* disabled: the level drops */
        isb();
        break;
    case 2:
        /* Preemption: a higher priority SGI gets in, a lower one waits. */
        note(2);
        rpr_seen[2] = gic_rpr();
        gic_send_sgi(3, 0);
        gic_send_sgi(4, 0);
        irq_enable();
        settle();
        irq_disable();
        note(0x20);
        break;
    case 3:
        note(3);
        rpr_seen[3] = gic_rpr();
        break;
    case 4:
        note(4);
        rpr_seen[4] = gic_rpr();
        break;
    case 5:
        note(5);
        if (eoimode_split) {
            gic_eoi(raw);
            /* Priority dropped, still active: a second SGI 5 must wait for the deactivation. */
            note(gic_rpr() == 0xff ? 0x51 : 0x50);
            note(gic_active(5) ? 0x53 : 0x52);
            if (count_by_id[5] == 1) {
                gic_send_sgi(5, 0);
                irq_enable();
                settle();
                irq_disable();
                note(gic_pending(5) ? 0x55 : 0x54);
            }
            gic_dir(raw);
            note(gic_active(5) ? 0x57 : 0x56);
            return;
        }
        break;
    case UART_INTID:
        if (uart_level_mode && count_by_id[UART_INTID] >= 3) {
            /* The third time round the device lets go of the line. */
            wr32(PL011_BASE + PL011_ICR, PL011_TXIM);
            wr32(PL011_BASE + PL011_IMSC, 0);
        }
        break;
    default:
        break;
    }
    gic_eoi(raw);
}

void exception_handler(struct exception_frame *f, u64 vector) {
    u64 cpu = cpu_index();
    if (vector == 5) {
        u32 raw = gic_ack();
        if ((raw & 0x3ff) >= 1020) {
            spurious++;
            return;
        }
        handle(raw, cpu);
        return;
    }
    if (vector == 6) {
        u32 raw = v3 ? (u32)read_sysreg(S3_0_C12_C8_0) : rd32(GICC + 0xc); /* ICC_IAR0_EL1 */
        fiqs++;
        last_raw = raw;
        if (v3)
            write_sysreg(S3_0_C12_C8_1, raw); /* ICC_EOIR0_EL1 */
        else
            wr32(GICC + 0x10, raw);
        isb();
        return;
    }
    uart_puts("unexpected exception: cpu ");
    uart_put_dec(cpu);
    uart_puts(" vector ");
    uart_put_dec(vector);
    uart_puts(" ESR_EL1=");
    uart_put_hex64(read_sysreg(esr_el1));
    uart_puts(" ELR_EL1=");
    uart_put_hex64(f->elr);
    uart_putc('\n');
    psci_off_via_conduit();
}

/* Sleeps in WFI, interrupts masked around the check so no wake-up is lost, until *p reaches want. */
static int wait_irq(volatile u64 *p, u64 want) {
    for (u64 i = 0; i < 1000000; i++) {
        irq_disable();
        if (*p >= want) {
            irq_enable();
            return 1;
        }
        wfi();
        irq_enable();
        isb();
    }
    return 0;
}

static void yes_no(const char *what, int ok) {
    uart_puts(what);
    uart_puts(ok ? ": yes\n" : ": NO\n");
}

/* ---- The tests ---- */

static void test_timers(void) {
    gic_enable(TIMER_VIRT_INTID, 0x80);
    gic_enable(TIMER_PHYS_INTID, 0x80);
    /* The virtual timer through CVAL, 200 us ahead. */
    write_sysreg(cntv_cval_el0, read_sysreg(cntvct_el0) + 12500);
    write_sysreg(cntv_ctl_el0, 1);
    isb();
    int got = wait_irq(&count_by_id[TIMER_VIRT_INTID], 1);
    yes_no("virtual timer interrupt (INTID 27) arrives", got);
    yes_no("  taken with ISTATUS set, at or after CVAL", timer_istatus && timer_after_cval);
    /* The physical timer through TVAL. */
    write_sysreg(cntp_tval_el0, 12500);
    write_sysreg(cntp_ctl_el0, 1);
    isb();
    got = wait_irq(&count_by_id[TIMER_PHYS_INTID], 1);
    yes_no("physical timer interrupt (INTID 30) arrives", got);
    yes_no("  taken with ISTATUS set, at or after CVAL", timer_istatus && timer_after_cval);
    /* A masked timer condition is still visible in ISTATUS, without an interrupt. */
    write_sysreg(cntv_cval_el0, 0);
    write_sysreg(cntv_ctl_el0, 3);
    isb();
    settle();
    yes_no("masked timer: ISTATUS set and no interrupt",
           ((read_sysreg(cntv_ctl_el0) >> 2) & 1) && count_by_id[TIMER_VIRT_INTID] == 1);
    write_sysreg(cntv_ctl_el0, 0);
    isb();
    gic_disable(TIMER_VIRT_INTID);
    gic_disable(TIMER_PHYS_INTID);
}

static void test_priority_mask(void) {
    gic_enable(1, 0x80);
    gic_set_pmr(0x80);
    gic_send_sgi(1, 0);
    settle();
    yes_no("SGI at priority 0x80 held back by PMR 0x80", count_by_id[1] == 0);
    yes_no("  ISR_EL1.I clear while masked", ((read_sysreg(isr_el1) >> 7) & 1) == 0);
    yes_no("  still pending", gic_pending(1));
    gic_set_pmr(0x90);
    settle();
    yes_no("taken once PMR is 0x90", count_by_id[1] == 1);
    gic_set_pmr(0xff);
}

static void test_preemption(void) {
    gic_enable(2, 0xa0);
    gic_enable(3, 0x40);
    gic_enable(4, 0xc0);
    log_len = 0;
    gic_send_sgi(2, 0);
    settle();
    settle();
    uart_puts("preemption order:");
    for (u64 i = 0; i < log_len; i++) {
        uart_putc(' ');
        uart_put_hex(log_buf[i], 2);
    }
    uart_putc('\n');
    uart_puts("running priority in SGI 2, 3, 4: ");
    uart_put_hex(rpr_seen[2], 2);
    uart_putc(' ');
    uart_put_hex(rpr_seen[3], 2);
    uart_putc(' ');
    uart_put_hex(rpr_seen[4], 2);
    uart_putc('\n');
    yes_no("idle running priority afterwards", gic_rpr() == 0xff);
}

static void test_uart_level_edge(void) {
    /* Level-triggered: the UART holds its line, so the interrupt comes back after each EOI. */
    uart_level_mode = 1;
    gic_set_edge(UART_INTID, 0);
    gic_enable(UART_INTID, 0x80);
    wr32(PL011_BASE, '.');
    wr32(PL011_BASE + PL011_IMSC, PL011_TXIM);
    settle();
    uart_level_mode = 0;
    uart_puts("\nlevel-triggered UART interrupt taken ");
    uart_put_dec(count_by_id[UART_INTID]);
    uart_puts(" times, until the device cleared it\n");
    /* Edge-triggered: one interrupt per rising edge, however long the line stays high. */
    count_by_id[UART_INTID] = 0;
    gic_set_edge(UART_INTID, 1);
    wr32(PL011_BASE, '.');
    wr32(PL011_BASE + PL011_IMSC, PL011_TXIM);
    settle();
    settle();
    u64 first = count_by_id[UART_INTID];
    wr32(PL011_BASE + PL011_IMSC, 0);
    wr32(PL011_BASE + PL011_IMSC, PL011_TXIM);
    settle();
    u64 second = count_by_id[UART_INTID];
    wr32(PL011_BASE + PL011_IMSC, 0);
    wr32(PL011_BASE + PL011_ICR, PL011_TXIM);
    gic_disable(UART_INTID);
    gic_set_edge(UART_INTID, 0);
    uart_puts("\nedge-triggered UART interrupt taken ");
    uart_put_dec(first);
    uart_puts(" time while the line stayed high, ");
    uart_put_dec(second);
    uart_puts(" after a new edge\n");
}

static void test_eoimode(void) {
    gic_enable(5, 0x80);
    eoimode_split = 1;
    gic_eoimode(1);
    log_len = 0;
    gic_send_sgi(5, 0);
    settle();
    settle();
    gic_eoimode(0);
    eoimode_split = 0;
    uart_puts("split EOI/deactivate:");
    for (u64 i = 0; i < log_len; i++) {
        uart_putc(' ');
        uart_put_hex(log_buf[i], 2);
    }
    uart_putc('\n');
    /* EOImode 0: the EOI deactivates, and a DIR would be ignored. */
    gic_send_sgi(5, 0);
    settle();
    yes_no("EOImode 0: EOI deactivates", count_by_id[5] == 3 && !gic_active(5));
}

static void test_fiq(void) {
    if (v3) {
        wr32(private_bank(0) + 0x80, 0xffffffff & ~(1u << 6)); /* SGI 6 in Group 0 */
        write_sysreg(S3_0_C12_C12_6, 1);                        /* ICC_IGRPEN0_EL1 */
        isb();
        gic_enable(6, 0x80);
        write_sysreg(S3_0_C12_C11_7, (6ULL << 24) | 1); /* ICC_SGI0R_EL1 to cpu 0 */
        isb();
    } else {
        wr32(GICC, 1 | (1u << 3)); /* FIQEn: Group 0 as FIQ */
        gic_enable(6, 0x80);
        gic_send_sgi(6, 0);
    }
    settle();
    yes_no("Group 0 interrupt held while PSTATE.F is set", fiqs == 0);
    fiq_enable();
    settle();
    fiq_disable();
    yes_no("taken as FIQ once unmasked", fiqs == 1 && (last_raw & 0x3ff) == 6);
    if (v3) {
        wr32(private_bank(0) + 0x80, 0xffffffff);
        write_sysreg(S3_0_C12_C12_6, 0);
        isb();
    } else {
        wr32(GICC, 1);
    }
}

static volatile u64 ready[CPUS];

void secondary_main(u64 context, u64 cpu) {
    (void)context;
    gic_cpu_init(cpu);
    gic_enable(7, 0x80);
    gic_enable(9, 0x80);
    store_release(&ready[cpu], 1);
    /* Two pings: one sent to this cpu alone, one to all others. */
    wait_irq(&pings[cpu], 2);
    irq_disable();
}

static void test_ipis(void) {
    gic_enable(8, 0x80);
    for (u64 c = 1; c < CPUS; c++) {
        s64 r = (s64)psci_call(PSCI_CPU_ON_64, c, (u64)secondary_entry, c);
        if (r != 0 || !wait_for_value(&ready[c], 1, BUDGET)) {
            uart_puts("FAIL: cpu ");
            uart_put_dec(c);
            uart_puts(" did not come up\n");
            return;
        }
    }
    for (u64 c = 1; c < CPUS; c++) {
        gic_send_sgi(7, c);
        int ok = wait_for_value(&replied, (1ULL << (c + 1)) - 2, BUDGET);
        uart_puts("SGI 7 to cpu ");
        uart_put_dec(c);
        uart_puts(ok ? ": answered\n" : ": NO answer\n");
    }
    /* An SPI routed to cpu 2 alone (GICD_IROUTER / GICD_ITARGETSR). */
    count_by_id[UART_INTID] = 0;
    gic_enable(UART_INTID, 0x80);
    if (v3)
        wr64(GICD + 0x6000 + 8 * UART_INTID, 2);
    else
        wr8(GICD + 0x800 + UART_INTID, 1u << 2);
    wr32(PL011_BASE, '.');
    wr32(PL011_BASE + PL011_IMSC, PL011_TXIM);
    int routed = wait_for_value(&uart_cpu, 2, BUDGET);
    gic_disable(UART_INTID);
    uart_puts("\n");
    yes_no("UART SPI routed to cpu 2 taken there", routed && count_by_id[UART_INTID] == 0);
    __atomic_store_n(&replied, 0, __ATOMIC_SEQ_CST);
    gic_broadcast_sgi(9);
    int ok = wait_for_value(&replied, 0xe, BUDGET);
    yes_no("SGI 9 to all other cpus answered by cpus 1-3", ok);
    yes_no("no SGI 9 at the sender", count_by_id[9] == 0);
    /* The replies are SGI 8; GICv3 may merge those that arrive together. */
    yes_no("replies arrived as SGI 8", count_by_id[8] >= 2);
    for (u64 c = 1; c < CPUS; c++)
        wait_affinity(c, AFFINITY_OFF, BUDGET);
}

int main(void) {
    v3 = ((read_sysreg(id_aa64pfr0_el1) >> 24) & 0xf) == 1;
    uart_puts(v3 ? "GICv3\n" : "GICv2\n");
    gic_dist_init();
    gic_cpu_init(0);
    irq_enable();
    test_timers();
    test_priority_mask();
    test_preemption();
    test_uart_level_edge();
    test_eoimode();
    test_fiq();
    test_ipis();
    yes_no("no spurious interrupts", spurious == 0);
    uart_puts("gic: done\n");
    return 0;
}
