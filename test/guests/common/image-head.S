/*
 * arm64 Linux Image header (Documentation/arch/arm64/booting.rst). Linked in
 * front of start.S so the objcopied binary is recognised by loaders that look
 * for the "ARM\x64" magic and honour text_offset/image_size.
 */
    .section .text.head, "ax"
    .global _head
_head:
    b       _start              /* code0: loaders enter at offset 0 */
    .long   0                   /* code1 */
    .quad   0x80000             /* text_offset from a 2 MiB aligned base */
    .quad   __image_end - _head /* image_size, including bss and stack */
    /* flags: little-endian, 4K pages, may be placed anywhere in RAM */
    .quad   0xa
    .quad   0                   /* res2 */
    .quad   0                   /* res3 */
    .quad   0                   /* res4 */
    .ascii  "ARM\x64"           /* magic */
    .long   0                   /* res5: no PE/COFF header */
