/*
 * An alternative entry for the boot cpu (link with -Wl,-e,recorded_start):
 * writes down the state the machine handed over, in the layout of struct
 * boot_record (psci.h), into entry_record before start.S changes anything,
 * then continues at _start. entry_record lives in .data, not .bss, which
 * _start clears.
 */
#include "capture-reset-state.inc"

    .text
    .global recorded_start
    .type recorded_start, %function
recorded_start:
    capture_reset_state
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
