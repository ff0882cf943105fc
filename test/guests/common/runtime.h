#ifndef WARMBOOT_GUEST_RUNTIME_H
#define WARMBOOT_GUEST_RUNTIME_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef unsigned long usize;

#define PL011_BASE 0x09000000UL

void uart_putc(char c);
void uart_puts(const char *s);
void uart_put_hex(u64 v, int digits);
void uart_put_hex64(u64 v);
void uart_put_dec(u64 v);
/* "name: 0x0123456789abcdef\n" — the one output format the tests compare. */
void uart_put_named(const char *name, u64 v);

void psci_system_off(void) __attribute__((noreturn));

/* The register frame vectors.S saves; exception_handler may rewrite elr/spsr. */
struct exception_frame {
    u64 x[31];
    u64 elr;
    u64 spsr;
    u64 pad;
};

/*
 * Called for every exception with the vector index (0-15). runtime.c's weak
 * default reports the exception and powers off; a guest can override it.
 */
void exception_handler(struct exception_frame *f, u64 vector);
extern char vector_table[];

void *memset(void *d, int c, usize n);
void *memcpy(void *d, const void *s, usize n);
void *memmove(void *d, const void *s, usize n);
int memcmp(const void *a, const void *b, usize n);
usize strlen(const char *s);

#define read_sysreg(r) ({ u64 __v; __asm__ volatile("mrs %0, " #r : "=r"(__v)); __v; })
#define write_sysreg(r, v) __asm__ volatile("msr " #r ", %0" :: "r"((u64)(v)))

#endif
