/*
 * warmboot's bundled demo guest: a bare-metal AArch64 program for QEMU's
 * virt board. It reports where it is running (exception level, the boot
 * protocol's DTB pointer and the FDT magic), computes something small, and
 * powers the machine off through PSCI so the VM exits cleanly.
 *
 * It uses no FP/SIMD (CPACR_EL1 traps it at reset) and only aligned accesses
 * (the MMU is off, so all data accesses are Device memory).
 */
    .equ UART_BASE,     0x09000000
    .equ UART_FR_TXFF,  (1 << 5)
    .equ RAM_BASE,      0x40000000
    .equ FDT_MAGIC,     0xd00dfeed
    .equ PSCI_SYSTEM_OFF, 0x84000008
    .equ NUM_PRIMES,    16

    .section .text.boot, "ax"
    .global _start
_start:
    /* x0 is the DTB address for Image/raw boots; ELF boots get 0. */
    mov     x19, x0
    adr     x1, stack_top
    mov     sp, x1

    adr     x0, s_banner
    bl      puts

    adr     x0, s_el
    bl      puts
    mrs     x0, CurrentEL
    ubfx    x0, x0, #2, #2
    add     x0, x0, #'0'
    bl      putc
    mov     x0, #'\n'
    bl      putc

    adr     x0, s_x0
    bl      puts
    mov     x0, x19
    bl      puthex64
    mov     x0, #'\n'
    bl      putc

    /*
     * A bare-metal (ELF) boot on QEMU's virt board gets x0 = 0 and finds the
     * DTB at the start of RAM instead; look there so both kinds of boot see it.
     */
    mov     x20, x19
    cbnz    x20, 1f
    mov     x20, #RAM_BASE
1:  adr     x0, s_dtb
    bl      puts
    mov     x0, x20
    bl      puthex64
    adr     x0, s_magic
    bl      puts
    ldr     w21, [x20]
    rev     w21, w21            /* FDT header fields are big-endian */
    mov     x0, x21
    mov     x1, #8
    bl      puthex
    movz    w1, #(FDT_MAGIC & 0xffff)
    movk    w1, #(FDT_MAGIC >> 16), lsl #16
    cmp     w21, w1
    adr     x0, s_fdt_ok
    adr     x1, s_fdt_bad
    csel    x0, x0, x1, eq
    bl      puts

    /* First primes by trial division: exercises udiv/msub and branches. */
    adr     x0, s_primes
    bl      puts
    mov     x22, #2             /* candidate */
    mov     x23, #0             /* primes found */
2:  mov     x24, #2             /* divisor */
3:  mul     x1, x24, x24
    cmp     x1, x22
    b.hi    4f                  /* divisor^2 > candidate: prime */
    udiv    x1, x22, x24
    msub    x1, x1, x24, x22
    cbz     x1, 5f              /* divisible: not prime */
    add     x24, x24, #1
    b       3b
4:  mov     x0, #' '
    bl      putc
    mov     x0, x22
    bl      putdec
    add     x23, x23, #1
5:  add     x22, x22, #1
    cmp     x23, #NUM_PRIMES
    b.lo    2b
    mov     x0, #'\n'
    bl      putc

    /* Bitwise CRC-32 (IEEE, reflected) so it needs no optional CRC32 instructions. */
    adr     x0, s_crc
    bl      puts
    adr     x1, crc_text
    mov     w2, #0xffffffff
    movz    w4, #0x8320
    movk    w4, #0xedb8, lsl #16
6:  ldrb    w3, [x1], #1
    cbz     w3, 8f
    eor     w2, w2, w3
    mov     w5, #8
7:  and     w6, w2, #1
    neg     w6, w6
    and     w6, w6, w4
    eor     w2, w6, w2, lsr #1
    subs    w5, w5, #1
    b.ne    7b
    b       6b
8:  mvn     w0, w2
    mov     x1, #8
    bl      puthex
    mov     x0, #'\n'
    bl      putc

    adr     x0, s_off
    bl      puts
    movz    w0, #(PSCI_SYSTEM_OFF & 0xffff)
    movk    w0, #(PSCI_SYSTEM_OFF >> 16), lsl #16
    hvc     #0
    /* Only reached if the hypervisor declines to power off. */
9:  wfi
    b       9b

/* putc(w0): waits while the PL011 transmit FIFO is full. Clobbers x9, x10. */
putc:
    mov     x9, #UART_BASE
1:  ldr     w10, [x9, #0x18]
    tbnz    w10, #5, 1b
    str     w0, [x9]
    ret

/* puts(x0 = NUL-terminated string). */
puts:
    stp     x29, x30, [sp, #-32]!
    str     x19, [sp, #16]
    mov     x19, x0
1:  ldrb    w0, [x19], #1
    cbz     w0, 2f
    bl      putc
    b       1b
2:  ldr     x19, [sp, #16]
    ldp     x29, x30, [sp], #32
    ret

/* puthex(x0 = value, x1 = digit count), without prefix. */
puthex:
    stp     x29, x30, [sp, #-32]!
    stp     x19, x20, [sp, #16]
    mov     x19, x0
    lsl     x20, x1, #2
1:  sub     x20, x20, #4
    lsr     x0, x19, x20
    and     x0, x0, #0xf
    cmp     x0, #10
    add     x1, x0, #'0'
    add     x0, x0, #('a' - 10)
    csel    x0, x1, x0, lo
    bl      putc
    cbnz    x20, 1b
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #32
    ret

/* puthex64(x0): "0x" and 16 digits. */
puthex64:
    stp     x29, x30, [sp, #-32]!
    str     x19, [sp, #16]
    mov     x19, x0
    mov     x0, #'0'
    bl      putc
    mov     x0, #'x'
    bl      putc
    mov     x0, x19
    mov     x1, #16
    bl      puthex
    ldr     x19, [sp, #16]
    ldp     x29, x30, [sp], #32
    ret

/* putdec(x0): unsigned decimal, digits built on the stack in reverse. */
putdec:
    stp     x29, x30, [sp, #-48]!
    stp     x19, x20, [sp, #16]
    add     x20, sp, #48        /* end of a 16-byte digit buffer at sp+32 */
    mov     x19, x20
    mov     x2, #10
1:  udiv    x1, x0, x2
    msub    x3, x1, x2, x0
    add     x3, x3, #'0'
    strb    w3, [x19, #-1]!
    mov     x0, x1
    cbnz    x0, 1b
2:  ldrb    w0, [x19], #1
    bl      putc
    cmp     x19, x20
    b.lo    2b
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #48
    ret

    .section .rodata, "a"
s_banner:   .asciz "warmboot demo guest: hello from AArch64 EL1\n"
s_el:       .asciz "CurrentEL: EL"
s_x0:       .asciz "x0 at entry (boot protocol DTB pointer): "
s_dtb:      .asciz "device tree at "
s_magic:    .asciz ", first word 0x"
s_fdt_ok:   .asciz " (FDT magic)\n"
s_fdt_bad:  .asciz " (not an FDT)\n"
s_primes:   .asciz "first 16 primes:"
s_crc:      .asciz "crc32(\"warmboot\") = 0x"
crc_text:   .asciz "warmboot"
s_off:      .asciz "bye: PSCI SYSTEM_OFF\n"

    .bss
    .balign 16
stack:
    .skip 4096
stack_top:
