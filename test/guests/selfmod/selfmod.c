/*
 * Self-modifying and cross-modifying code, with the architecture's recipe
 * between writing and running: DC CVAU, DSB ISH, IC IVAU (or IC IALLU), DSB
 * ISH, ISB. Every case rewrites code hundreds of times and counts the runs
 * that did not execute the new instructions. Built as selfmod.elf (MMU off)
 * and selfmod-mmu.elf (-DWITH_MMU: identity map, caches on). Needs -smp 2.
 *
 * Output is fully deterministic, so it is compared with QEMU's byte for byte.
 */
#include "../common/psci.h"
#ifdef WITH_MMU
#include "../common/mmu.h"
#endif

#define INSN_MOVZ_W0 0x52800000U /* movz w0, #imm16 */
#define INSN_MOVK_W0_16 0x72a00000U /* movk w0, #imm16, lsl #16 */
#define INSN_MOVN_W0 0x12800000U /* movn w0, #imm16 */
#define INSN_ADD_W0_W0 0x11000000U /* add w0, w0, #imm12 */
#define INSN_RET 0xd65f03c0U

struct pair {
    u64 wrong, checksum;
};
struct pair selfmod_same_page(u64 iterations);
struct pair selfmod_next_insn(u64 iterations);
extern char selfmod_page_start[], selfmod_page_end[];

/* Code written at run time lives in its own page of RAM, outside the image's text. */
static volatile u32 code_buf[1024] __attribute__((aligned(4096)));
typedef u32 (*code_fn)(void);
#define CODE ((code_fn)(usize)code_buf)

static usize dline(void) {
    return 4UL << ((read_sysreg(ctr_el0) >> 16) & 0xf);
}

static usize iline(void) {
    return 4UL << (read_sysreg(ctr_el0) & 0xf);
}

/* Makes [p, p+len) as written visible to instruction fetch, by address (IVAU) or wholesale (IALLU). */
static void sync_icache(volatile void *p, usize len, int all) {
    usize start = (usize)p, end = start + len;
    for (usize a = start & ~(dline() - 1); a < end; a += dline())
        __asm__ volatile("dc cvau, %0" ::"r"(a) : "memory");
    __asm__ volatile("dsb ish" ::: "memory");
    if (all) {
        __asm__ volatile("ic iallu" ::: "memory");
    } else {
        for (usize a = start & ~(iline() - 1); a < end; a += iline())
            __asm__ volatile("ic ivau, %0" ::"r"(a) : "memory");
    }
    __asm__ volatile("dsb ish\n"
                     "isb" ::: "memory");
}

static void report(const char *name, u64 iterations, struct pair r) {
    uart_puts(name);
    uart_puts(": iterations ");
    uart_put_dec(iterations);
    uart_puts(" wrong ");
    uart_put_dec(r.wrong);
    uart_puts(" checksum ");
    uart_put_hex64(r.checksum);
    uart_putc('\n');
}

/* movz w0, #N; ret, with N new each time. */
static struct pair rewrite_constant(u64 iterations, int all) {
    struct pair r = {0, 0};
    code_buf[1] = INSN_RET;
    for (u64 i = 0; i < iterations; i++) {
        u32 n = (u32)((i * 2654435761U) & 0xffff);
        code_buf[0] = INSN_MOVZ_W0 | (n << 5);
        sync_icache(code_buf, 8, all);
        u32 got = CODE();
        r.wrong += got != n;
        r.checksum += got;
    }
    return r;
}

/*
 * Three shapes of function over the same bytes, so the length and the
 * instructions change, not just an immediate:
 *   movz w0, #a; movk w0, #b, lsl #16; ret   -> b << 16 | a
 *   movz w0, #a; add w0, w0, #c; ret         -> a + c
 *   movn w0, #a; ret                         -> ~a
 */
static struct pair rewrite_shapes(u64 iterations) {
    struct pair r = {0, 0};
    u64 seed = 0x9e3779b97f4a7c15ULL;
    for (u64 i = 0; i < iterations; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        u32 a = (u32)(seed >> 20) & 0xffff, b = (u32)(seed >> 40) & 0xffff, c = (u32)(seed >> 52) & 0xfff;
        u32 want;
        switch (i % 3) {
        case 0:
            code_buf[0] = INSN_MOVZ_W0 | (a << 5);
            code_buf[1] = INSN_MOVK_W0_16 | (b << 5);
            code_buf[2] = INSN_RET;
            want = b << 16 | a;
            break;
        case 1:
            code_buf[0] = INSN_MOVZ_W0 | (a << 5);
            code_buf[1] = INSN_ADD_W0_W0 | (c << 10);
            code_buf[2] = INSN_RET;
            want = a + c;
            break;
        default:
            code_buf[0] = INSN_MOVN_W0 | (a << 5);
            code_buf[1] = INSN_RET;
            /* What follows the ret is never reached: leave garbage there. */
            code_buf[2] = 0;
            want = ~a;
            break;
        }
        sync_icache(code_buf, 12, 0);
        u32 got = CODE();
        r.wrong += got != want;
        r.checksum += got;
    }
    return r;
}

/*
 * Cross-modification: cpu 0 rewrites, cpu 1 runs. cpu 0 publishes a
 * generation after its DC CVAU/DSB/IC IVAU/DSB; cpu 1 sees the generation,
 * runs ISB (its own context synchronisation) and calls the code.
 */
static volatile u64 xgen, xack, xresult;
#define XSTOP (~0ULL)

void secondary_main(u64 context, u64 cpu) {
    (void)context;
    (void)cpu;
    u64 seen = 0;
    for (;;) {
        u64 g;
        while ((g = load_acquire(&xgen)) == seen)
            cpu_relax();
        if (g == XSTOP)
            return;
        __asm__ volatile("isb" ::: "memory");
        xresult = CODE();
        store_release(&xack, g);
        seen = g;
    }
}

static struct pair cross_modify(u64 iterations) {
    struct pair r = {0, 0};
    if ((s64)psci_call(PSCI_CPU_ON_64, 1, (u64)secondary_entry, 0) != PSCI_RET_SUCCESS) {
        r.wrong = iterations;
        return r;
    }
    code_buf[1] = INSN_RET;
    for (u64 i = 1; i <= iterations; i++) {
        u32 n = (u32)((i * 40503U) & 0xffff);
        code_buf[0] = INSN_MOVZ_W0 | (n << 5);
        sync_icache(code_buf, 8, 0);
        store_release(&xgen, i);
        if (!wait_for_value(&xack, i, 50000000)) {
            r.wrong += iterations - i + 1;
            break;
        }
        r.wrong += xresult != n;
        r.checksum += xresult;
    }
    store_release(&xgen, XSTOP);
    wait_affinity(1, AFFINITY_OFF, 50000000);
    return r;
}

int main(void) {
    uart_puts("selfmod: start\n");
#ifdef WITH_MMU
    u64 sctlr = mmu_enable_identity();
    uart_puts("selfmod: mmu on, sctlr m/c/i ");
    uart_put_hex(sctlr & 0x1005, 4);
    uart_putc('\n');
#endif
    uart_puts("selfmod: page-local code fits one page: ");
    uart_put_dec(((usize)selfmod_page_start >> 12) == (((usize)selfmod_page_end - 1) >> 12));
    uart_putc('\n');
    report("data page, ic ivau", 500, rewrite_constant(500, 0));
    report("data page, ic iallu", 300, rewrite_constant(300, 1));
    report("data page, changing shapes", 600, rewrite_shapes(600));
    report("executing page, called function", 500, selfmod_same_page(500));
    report("executing page, next instruction", 500, selfmod_next_insn(500));
    report("cross-modifying, cpu 0 writes, cpu 1 runs", 300, cross_modify(300));
    uart_puts("selfmod: done\n");
    return 0;
}
