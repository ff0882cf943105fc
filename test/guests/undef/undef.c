/*
 * Takes a series of synchronous exceptions at EL1 and resumes after each one.
 * The handler prints the syndrome registers so an engine's ESR/ELR/FAR/SPSR
 * values can be compared line by line with QEMU's.
 */
#include "../common/runtime.h"

static volatile u64 last_esr, last_elr;
static volatile unsigned taken;
static unsigned failures;

/* Exception classes whose preferred return address is already the next instruction. */
#define EC_SVC64 0x15
#define EC_HVC64 0x16

/* Overrides the runtime's weak report-and-power-off handler. */
void exception_handler(struct exception_frame *f, u64 vector) {
    u64 esr = read_sysreg(esr_el1);
    u64 far = read_sysreg(far_el1);
    u64 ec = esr >> 26;

    if (vector != 4) {
        uart_puts("unexpected exception vector ");
        uart_put_dec(vector);
        uart_puts(" ESR_EL1=");
        uart_put_hex64(esr);
        uart_puts(" ELR_EL1=");
        uart_put_hex64(f->elr);
        uart_putc('\n');
        psci_system_off();
    }

    uart_puts("  ESR_EL1=");
    uart_put_hex64(esr);
    uart_puts(" (EC=0x");
    uart_put_hex(ec, 2);
    uart_puts(") ELR_EL1=");
    uart_put_hex64(f->elr);
    uart_puts(" FAR_EL1=");
    uart_put_hex64(far);
    uart_puts(" SPSR_EL1=");
    uart_put_hex64(f->spsr);
    uart_putc('\n');

    last_esr = esr;
    last_elr = f->elr;
    taken++;
    if (ec != EC_SVC64 && ec != EC_HVC64)
        f->elr += 4;
    /* Resume with a known FAR so a stale value is distinguishable from a fresh one. */
    write_sysreg(far_el1, 0xfa4fa4fa4fa4fa40ULL);
}

static void expect(const char *what, u64 at, u64 esr) {
    if (last_esr != esr || last_elr != at) {
        failures++;
        uart_puts("FAIL ");
        uart_puts(what);
        uart_puts(": expected ESR ");
        uart_put_hex64(esr);
        uart_puts(" at ");
        uart_put_hex64(at);
        uart_putc('\n');
    }
    last_esr = last_elr = 0;
}

/*
 * Runs one trapping instruction at label 1; `at` receives its address so the
 * reported ELR can be checked against where the instruction really is.
 */
#define TRAP(what, insn, esr, elr_delta, ...)                                  \
    do {                                                                       \
        u64 at;                                                                \
        uart_puts(what "\n");                                                  \
        __asm__ volatile("adr %0, 1f\n1:\t" insn : "=&r"(at)                   \
                         : "r"(unassigned) : "memory", ##__VA_ARGS__); \
        expect(what, at + (elr_delta), esr);                                   \
    } while (0)

int main(void) {
    u64 unassigned = 0x0c000000; /* platform bus window, empty on a plain virt board */
    /* start.S already installed the table; doing it again keeps this test self-contained. */
    write_sysreg(vbar_el1, vector_table);
    __asm__ volatile("isb");
    write_sysreg(far_el1, 0xfa4fa4fa4fa4fa40ULL);

    uart_puts("undef: installing vectors at ");
    uart_put_hex64(read_sysreg(vbar_el1));
    uart_putc('\n');

    /* UDF #0: an all-zeroes word is permanently undefined. */
    TRAP("udf #0 (.inst 0x00000000)", ".inst 0x00000000", 0x02000000, 0);
    TRAP("udf #0xbeef", "udf #0xbeef", 0x02000000, 0);
    /* op1 = 0b0001 / 0b0011 in bits [28:25] is unallocated in every A64 version. */
    TRAP("unallocated .inst 0x02000000", ".inst 0x02000000", 0x02000000, 0);
    TRAP("unallocated .inst 0x0600abcd", ".inst 0x0600abcd", 0x02000000, 0);
    /* No EL2 on this board: EL2 registers do not exist from EL1's point of view. */
    TRAP("mrs x0, hcr_el2", "mrs x0, hcr_el2", 0x02000000, 0, "x0");
    /* MIDR_EL1 is read-only: MSR to it is an unallocated system register access. */
    TRAP("msr midr_el1, xzr", ".inst 0xd5180000 | 31", 0x02000000, 0);
    /* CPACR_EL1.FPEN is 0 after reset, so FP/SIMD traps with EC 0x07 instead of executing. */
    TRAP("fmov d0, x1 with FP disabled", ".inst 0x9e670020", 0x1fe00000, 0);
    /* QEMU reports a read of an address no device claims as a synchronous external abort. */
    TRAP("unassigned physical address", "ldr x2, [%1]", 0x96000010, 0, "x2");
    TRAP("brk #0x42", "brk #0x42", 0xf2000042, 0);
    TRAP("svc #0x1234", "svc #0x1234", 0x56001234, 4);

    uart_puts("exceptions taken: ");
    uart_put_dec(taken);
    uart_putc('\n');
    if (failures) {
        uart_put_dec(failures);
        uart_puts(" FAILED\n");
    } else {
        uart_puts("survived\n");
    }
    return 0;
}
