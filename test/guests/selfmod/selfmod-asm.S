/*
 * Self-modifying code on the page that is executing, where an engine that
 * decodes a page at a time is most likely to run stale instructions. Both
 * functions sit in one 4 KiB-aligned section smaller than a page, so the
 * loops and the code they rewrite share a page.
 *
 * struct pair { u64 wrong, checksum; } f(u64 iterations): the count of
 * iterations that did not see the new instruction, and the sum of what ran.
 */
    .macro sync_icache reg
    dc      cvau, \reg
    dsb     ish
    ic      ivau, \reg
    dsb     ish
    isb
    .endm

    .section .text.selfmod, "ax"
    .balign 4096
    .global selfmod_page_start
selfmod_page_start:

/* Rewrites same_page_fn (a few instructions below) to movz w0, #i; ret, then calls it. */
    .global selfmod_same_page
    .type selfmod_same_page, %function
selfmod_same_page:
    mov     x9, x0
    mov     x10, #0                 /* i */
    mov     x11, #0                 /* wrong */
    mov     x12, #0                 /* checksum */
    adr     x13, same_page_fn
    mov     x16, x30
1:  cmp     x10, x9
    b.hs    3f
    and     x14, x10, #0xffff
    movz    w15, #0x5280, lsl #16   /* movz w0, #0 */
    orr     w15, w15, w14, lsl #5
    str     w15, [x13]
    sync_icache x13
    blr     x13
    and     x14, x10, #0xffff
    cmp     x0, x14
    cinc    x11, x11, ne
    add     x12, x12, x0
    add     x10, x10, #1
    b       1b
3:  mov     x30, x16
    mov     x0, x11
    mov     x1, x12
    ret
    .size selfmod_same_page, . - selfmod_same_page

    .balign 16
same_page_fn:
    movz    w0, #0xffff
    ret

/*
 * Rewrites the instruction right after its own barriers: the store, the
 * maintenance and the ISB run, then the rewritten instruction must be the
 * one executed.
 */
    .global selfmod_next_insn
    .type selfmod_next_insn, %function
selfmod_next_insn:
    mov     x9, x0
    mov     x10, #0
    mov     x11, #0
    mov     x12, #0
    adr     x13, 2f
1:  cmp     x10, x9
    b.hs    3f
    /* i * 7 + 3, so consecutive values differ in several bits */
    lsl     x14, x10, #3
    sub     x14, x14, x10
    add     x14, x14, #3
    and     x14, x14, #0xffff
    movz    w15, #0x5280, lsl #16
    orr     w15, w15, w14, lsl #5
    str     w15, [x13]
    sync_icache x13
2:  movz    w0, #0xffff
    cmp     x0, x14
    cinc    x11, x11, ne
    add     x12, x12, x0
    add     x10, x10, #1
    b       1b
3:  mov     x0, x11
    mov     x1, x12
    ret
    .size selfmod_next_insn, . - selfmod_next_insn

    .global selfmod_page_end
selfmod_page_end:
