#include "runtime.h"

#define UART_DR 0x00
#define UART_FR 0x18
#define UART_FR_TXFF (1u << 5)

static inline u32 mmio_read32(usize addr) {
    return *(volatile u32 *)addr;
}

static inline void mmio_write32(usize addr, u32 v) {
    *(volatile u32 *)addr = v;
}

void uart_putc(char c) {
    /*
     * QEMU's PL011 never reports a full FIFO, but polling FR keeps the guest
     * correct on a model that does and makes an engine service a read of FR.
     */
    while (mmio_read32(PL011_BASE + UART_FR) & UART_FR_TXFF) {
    }
    mmio_write32(PL011_BASE + UART_DR, (u8)c);
}

void uart_puts(const char *s) {
    while (*s)
        uart_putc(*s++);
}

void uart_put_hex(u64 v, int digits) {
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        uart_putc(hex[(v >> (i * 4)) & 0xf]);
}

void uart_put_hex64(u64 v) {
    uart_puts("0x");
    uart_put_hex(v, 16);
}

void uart_put_dec(u64 v) {
    char buf[21];
    int i = 0;
    do {
        buf[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        uart_putc(buf[--i]);
}

void uart_put_named(const char *name, u64 v) {
    uart_puts(name);
    uart_puts(": ");
    uart_put_hex64(v);
    uart_putc('\n');
}

__attribute__((weak)) void exception_handler(struct exception_frame *f, u64 vector) {
    uart_puts("\nunexpected exception: vector ");
    uart_put_dec(vector);
    uart_puts(" ESR_EL1=");
    uart_put_hex64(read_sysreg(esr_el1));
    uart_puts(" ELR_EL1=");
    uart_put_hex64(f->elr);
    uart_puts(" FAR_EL1=");
    uart_put_hex64(read_sysreg(far_el1));
    uart_putc('\n');
    psci_system_off();
}

/*
 * GCC may emit calls to these even with -ffreestanding (struct copies, large
 * zero-initialisers). This file is built with
 * -fno-tree-loop-distribute-patterns so these loops are not themselves turned
 * back into calls to memset/memcpy.
 */
void *memset(void *d, int c, usize n) {
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, usize n) {
    u8 *dp = d;
    const u8 *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, usize n) {
    u8 *dp = d;
    const u8 *sp = s;
    if (dp < sp) {
        while (n--)
            *dp++ = *sp++;
    } else {
        dp += n;
        sp += n;
        while (n--)
            *--dp = *--sp;
    }
    return d;
}

int memcmp(const void *a, const void *b, usize n) {
    const u8 *pa = a, *pb = b;
    for (; n; n--, pa++, pb++)
        if (*pa != *pb)
            return *pa < *pb ? -1 : 1;
    return 0;
}

usize strlen(const char *s) {
    usize n = 0;
    while (s[n])
        n++;
    return n;
}
