/*
 * Entry for every test guest. QEMU's -kernel boot enters here at EL1 with the
 * MMU off; x0 holds the DTB address for raw/Image boots and is 0 for ELF boots
 * (the bare-metal convention puts the DTB at the start of RAM instead).
 */
    .section .text.boot, "ax"
    .global _start
    .type _start, %function
_start:
    /* Nothing before this point may touch memory: bss (and the stack) is not yet zeroed. */
    mov     x19, x0
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1

    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b

2:  adrp    x1, vector_table
    add     x1, x1, :lo12:vector_table
    msr     vbar_el1, x1
    isb
    mov     x0, x19
    bl      main
    bl      psci_system_off
    .size _start, . - _start

    .text
    .global psci_system_off
    .type psci_system_off, %function
psci_system_off:
    movz    w0, #0x0008
    movk    w0, #0x8400, lsl #16
    hvc     #0
    /* SYSTEM_OFF only returns if the hypervisor chose to ignore it. */
3:  wfi
    b       3b
    .size psci_system_off, . - psci_system_off
