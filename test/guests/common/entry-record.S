/*
 * An alternative entry for the boot cpu (link with -Wl,-e,recorded_start):
 * writes down the state the machine handed over, in the layout of struct
 * boot_record (psci.h), into entry_record before start.S changes anything,
 * then continues at _start. entry_record lives in .data, not .bss, which
 * _start clears.
 */
    .text
    .global recorded_start
    .type recorded_start, %function
recorded_start:
    orr     x1, x1, x2
    orr     x1, x1, x3
    orr     x1, x1, x4
    orr     x1, x1, x5
    orr     x1, x1, x6
    orr     x1, x1, x7
    orr     x1, x1, x8
    orr     x1, x1, x9
    orr     x1, x1, x10
    orr     x1, x1, x11
    orr     x1, x1, x12
    orr     x1, x1, x13
    orr     x1, x1, x14
    orr     x1, x1, x15
    orr     x1, x1, x16
    orr     x1, x1, x17
    orr     x1, x1, x18
    orr     x1, x1, x19
    orr     x1, x1, x20
    orr     x1, x1, x21
    orr     x1, x1, x22
    orr     x1, x1, x23
    orr     x1, x1, x24
    orr     x1, x1, x25
    orr     x1, x1, x26
    orr     x1, x1, x27
    orr     x1, x1, x28
    orr     x1, x1, x29
    orr     x1, x1, x30
    mrs     x9, nzcv
    mov     x2, sp
    mrs     x3, mpidr_el1
    adrp    x5, entry_record
    add     x5, x5, :lo12:entry_record
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
    mov     x6, #1
    str     x6, [x5, #80]
    /* start.S expects x0 as the machine left it. */
    ldr     x0, [x5, #0]
    b       _start
    .size recorded_start, . - recorded_start

    .data
    .balign 128
    .global entry_record
entry_record:
    .skip   128
