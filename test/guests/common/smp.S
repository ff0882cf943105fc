/*
 * Entry for secondary cpus started by PSCI CPU_ON. The first thing it does is
 * write down the state the hypervisor handed over (struct boot_record in
 * psci.h), before any register is reused, so the boot cpu can check it
 * against the reset state KVM defines.
 */
    .equ RECORD_SHIFT, 7            /* sizeof(struct boot_record) == 128 */
    .equ STACK_SHIFT, 14            /* 16 KiB of stack per cpu */
    .equ MAX_CPUS, 8

#include "capture-reset-state.inc"

    .text
    /*
     * Entering one instruction early would run this and corrupt the recorded
     * context id, so a hypervisor that starts the cpu anywhere but
     * secondary_entry shows up in the record.
     */
    movz    x0, #0xdead
    .global secondary_entry
    .type secondary_entry, %function
secondary_entry:
    capture_reset_state
    and     x4, x3, #0xff
    cmp     x4, #MAX_CPUS
    b.hs    park
    adrp    x5, boot_records
    add     x5, x5, :lo12:boot_records
    add     x5, x5, x4, lsl #RECORD_SHIFT
    stp     x0, x1, [x5, #0]
    stp     x2, x3, [x5, #16]
    mrs     x6, CurrentEL
    mrs     x7, daif
    stp     x6, x7, [x5, #32]
    mrs     x6, sctlr_el1
    mrs     x7, spsel
    stp     x6, x7, [x5, #48]
    mrs     x10, vbar_el1
    stp     x9, x10, [x5, #64]
    ldr     x6, [x5, #80]
    add     x6, x6, #1
    str     x6, [x5, #80]

    /* A stack of our own, then the common vectors, then C. */
    adrp    x6, secondary_stacks
    add     x6, x6, :lo12:secondary_stacks
    add     x7, x4, #1
    add     x6, x6, x7, lsl #STACK_SHIFT
    mov     sp, x6
    adrp    x6, vector_table
    add     x6, x6, :lo12:vector_table
    msr     vbar_el1, x6
    isb
    mov     x19, x0
    mov     x1, x4
    bl      secondary_main
    bl      secondary_cpu_off
park:
    wfe
    b       park
    .size secondary_entry, . - secondary_entry

    .bss
    .balign 128
    .global boot_records
boot_records:
    .skip   128 * MAX_CPUS
    .balign 16
secondary_stacks:
    .skip   (1 << STACK_SHIFT) * MAX_CPUS
