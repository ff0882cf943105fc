/*
 * PSCI SYSTEM_RESET and what must survive it. Needs -smp 2 or more.
 *
 * Boot 1 leaves marks: a marker and a pattern in RAM outside every image, a
 * changed .data word and a patched instruction inside the image, and cpu 1
 * spinning. With -DWITH_MMU it also turns the MMU and caches on. Then it calls
 * SYSTEM_RESET.
 * Boot 2 (found by the marker) reports what it entered with and what it
 * finds: the RAM marks kept, the image as loaded, cpu 1 off and still.
 *
 * The test reads the "b1_"/"b2_" lines; the marker and cpu 1's counter sit at
 * fixed addresses it also reads through the Machine API.
 */
#include "../common/psci.h"
#ifdef WITH_MMU
#include "../common/mmu.h"
#endif

#define MARKER_ADDR 0x46000000UL
#define CPU1_COUNTER_ADDR 0x46000100UL
#define PATTERN_ADDR 0x46100000UL
#define PATTERN_PAGES 16
#define PAGE 4096UL
#define MARKER_MAGIC 0x5741524d424f4f54ULL /* "WARMBOOT" */

extern volatile struct boot_record entry_record;

struct marker {
    u64 magic;
    u64 boots;
};
#define marker ((volatile struct marker *)MARKER_ADDR)
#define cpu1_counter ((volatile u64 *)CPU1_COUNTER_ADDR)

/* Reloaded with the image at every reset: boot 1 changes it, boot 2 must see it as built. */
static volatile u64 image_data = 0x1111222233334444ULL;

/*
 * A function in the image that boot 1 rewrites to return 2. After the reset
 * the reloaded image must run as built again: decoded code from before the
 * reset may not survive.
 */
u32 image_code(void);
__asm__(".text\n"
        ".balign 64\n"
        "image_code:\n"
        "    movz w0, #1\n"
        "    ret\n");

static void sync_icache(volatile void *p) {
    __asm__ volatile("dc cvau, %0\n"
                     "dsb ish\n"
                     "ic ivau, %0\n"
                     "dsb ish\n"
                     "isb" ::"r"(p)
                     : "memory");
}

static void patch_image_code(void) {
    volatile u32 *insn = (volatile u32 *)(void *)image_code;
    *insn = 0x52800000U | (2U << 5); /* movz w0, #2 */
    sync_icache(insn);
}

void secondary_main(u64 context, u64 cpu) {
    (void)context;
    (void)cpu;
    /* Runs until the reset stops it. */
    for (;;)
        *cpu1_counter = *cpu1_counter + 1;
}

static void print_entry(const char *prefix) {
    static const char *const fields[] = {"x0", "x1_to_x30", "sp", "currentel", "daif", "sctlr_m_c_i", "sctlr", "spsel", "nzcv"};
    const u64 values[] = {entry_record.x0, entry_record.x1_to_x30_ored, entry_record.sp, entry_record.current_el,
                          entry_record.daif, entry_record.sctlr & 0x1005, entry_record.sctlr, entry_record.spsel,
                          entry_record.nzcv};
    for (unsigned i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uart_puts(prefix);
        uart_puts("_entry_");
        uart_puts(fields[i]);
        uart_puts(": ");
        uart_put_hex64(values[i]);
        uart_putc('\n');
    }
}

static void first_boot(void) {
    uart_puts("reset: boot 1\n");
    print_entry("b1");
    marker->magic = MARKER_MAGIC;
    marker->boots = 1;
    for (usize p = 0; p < PATTERN_PAGES; p++)
        for (usize i = 0; i < PAGE; i += 512)
            *(volatile u64 *)(PATTERN_ADDR + p * PAGE + i) = 0xa5a5000000000000ULL | (p << 16) | i;
    *cpu1_counter = 0;

    image_data = 0xdeadbeefULL;
    put_result("b1_image_data", image_data);
    put_result("b1_image_code", image_code());
    patch_image_code();
    put_result("b1_image_code_patched", image_code());

    put_result("b1_cpu_on_cpu1", psci_call(PSCI_CPU_ON_64, 1, (u64)secondary_entry, 1));
    u64 spins = 0;
    while (*cpu1_counter == 0 && spins < 20000000)
        spins++;
    put_result("b1_cpu1_counting", *cpu1_counter != 0);

#ifdef WITH_MMU
    u64 sctlr = mmu_enable_identity();
    put_result("b1_sctlr_m_c_i_after_enable", sctlr & 0x1005);
    /* Still running, through the new translation. */
    put_result("b1_image_code_with_mmu", image_code());
    /* What boot 2 must find has to be in RAM, not only in a cache. */
    dcache_clean_inval_poc(marker, sizeof(*marker));
    dcache_clean_inval_poc((void *)PATTERN_ADDR, PATTERN_PAGES * PAGE);
#endif
    uart_puts("reset: calling SYSTEM_RESET\n");
    u64 r = psci_reset_via_conduit();
    put_result("b1_system_reset_returned", r);
    psci_off_via_conduit();
}

static void second_boot(void) {
    uart_puts("reset: boot 2\n");
    print_entry("b2");
    put_result("b2_marker_boots", marker->boots);
    marker->boots = 2;
    usize intact = 0;
    for (usize p = 0; p < PATTERN_PAGES; p++) {
        int ok = 1;
        for (usize i = 0; i < PAGE; i += 512)
            if (*(volatile u64 *)(PATTERN_ADDR + p * PAGE + i) != (0xa5a5000000000000ULL | (p << 16) | i))
                ok = 0;
        intact += ok;
    }
    put_result("b2_pattern_pages_intact", intact);
    put_result("b2_image_data", image_data);
    put_result("b2_image_code", image_code());

    /* cpu 1 was spinning when the reset came: it must be off and still. */
    put_result("b2_affinity_cpu1", psci_call(PSCI_AFFINITY_INFO_64, 1, 0, 0));
    u64 before = *cpu1_counter;
    for (volatile u64 i = 0; i < 200000; i++)
        cpu_relax();
    put_result("b2_cpu1_counter_still", *cpu1_counter == before);
    put_result("b2_cpu1_entries", boot_records[1].entries);
    /* And it can be started again like any powered-off cpu. */
    put_result("b2_cpu_on_cpu1", psci_call(PSCI_CPU_ON_64, 1, (u64)secondary_entry, 2));
    put_result("b2_cpu1_restarted", wait_for_value(&boot_records[1].entries, 1, 20000000));
    uart_puts("reset: done\n");
}

int main(void) {
    if (marker->magic == MARKER_MAGIC && marker->boots == 1)
        second_boot();
    else if (marker->magic == MARKER_MAGIC)
        uart_puts("FAIL reset: booted a third time\n");
    else
        first_boot();
    return 0;
}
