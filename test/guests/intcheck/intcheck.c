/*
 * Integer ISA exerciser. Every section folds its results into a 64-bit
 * checksum that is printed by name, so an engine that disagrees with QEMU on
 * any single instruction shows up as a differing line. Operands come from a
 * PRNG seeded through a volatile so the compiler cannot fold the work away.
 * Instructions whose C form is undefined behaviour (division by zero,
 * INT_MIN / -1, shifts by >= width) or that C cannot express go through
 * inline assembly.
 */
#include "../common/runtime.h"

#define OPQ(x) ({ __typeof__(x) __o = (x); __asm__ volatile("" : "+r"(__o)); __o; })

static volatile u64 seed_source = 0x9e3779b97f4a7c15ULL;
static u64 rng_state;
static unsigned failures;

static u64 rnd(void) {
    u64 x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static void reseed(u64 salt) {
    rng_state = seed_source ^ salt;
    if (!rng_state)
        rng_state = 1;
}

static u64 mix(u64 h, u64 v) {
    h ^= v;
    h *= 0x100000001b3ULL;
    h ^= h >> 29;
    return h;
}

static const u64 specials[] = {
    0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
    0x7fffffffULL, 0x80000000ULL, 0xffffffffULL, 0x100000000ULL,
    0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffffffffffffffULL,
    0xfffffffffffffffeULL, 0xffffffff80000000ULL, 0x00000000ffff0000ULL,
    0x5555555555555555ULL, 0xaaaaaaaaaaaaaaaaULL, 0x0123456789abcdefULL,
};
#define NSPECIALS (sizeof(specials) / sizeof(specials[0]))

/* A quarter of the operands are boundary values, where flag and extension bugs live. */
static u64 operand(u64 r) {
    if ((r & 3) == 0)
        return specials[(r >> 2) % NSPECIALS];
    return rnd();
}

static void check(const char *what, u64 got, u64 want) {
    if (got != want) {
        failures++;
        uart_puts("FAIL ");
        uart_puts(what);
        uart_puts(": got ");
        uart_put_hex64(got);
        uart_puts(" want ");
        uart_put_hex64(want);
        uart_putc('\n');
    }
}

static inline u64 ror64(u64 v, unsigned n) {
    n &= 63;
    return n ? (v >> n) | (v << (64 - n)) : v;
}

static inline u32 ror32(u32 v, unsigned n) {
    n &= 31;
    return n ? (v >> n) | (v << (32 - n)) : v;
}

/* ---- flag-setting arithmetic, observed through NZCV ---- */

#define FLAGOP64(name, insn)                                                   \
    static inline u64 name(u64 a, u64 b, u64 *nzcv) {                         \
        u64 r, f;                                                              \
        __asm__ volatile(insn " %0, %2, %3\n\tmrs %1, nzcv"                   \
                         : "=&r"(r), "=r"(f) : "r"(a), "r"(b) : "cc");         \
        *nzcv = f;                                                             \
        return r;                                                              \
    }
#define FLAGOP32(name, insn)                                                   \
    static inline u64 name(u64 a, u64 b, u64 *nzcv) {                         \
        u64 r, f;                                                              \
        __asm__ volatile(insn " %w0, %w2, %w3\n\tmrs %1, nzcv"                \
                         : "=&r"(r), "=r"(f) : "r"(a), "r"(b) : "cc");         \
        *nzcv = f;                                                             \
        return r;                                                              \
    }
FLAGOP64(adds64, "adds")
FLAGOP64(subs64, "subs")
FLAGOP64(ands64, "ands")
FLAGOP64(bics64, "bics")
FLAGOP32(adds32, "adds")
FLAGOP32(subs32, "subs")
FLAGOP32(ands32, "ands")
FLAGOP32(bics32, "bics")

/* Carry-in variants: C is loaded from the caller so both carry states get covered. */
#define CARRYOP(name, insn, reg)                                               \
    static inline u64 name(u64 a, u64 b, u64 cin, u64 *nzcv) {                \
        u64 r, f;                                                              \
        __asm__ volatile("msr nzcv, %4\n\t" insn " %" reg "0, %" reg "2, %" reg \
                         "3\n\tmrs %1, nzcv"                                   \
                         : "=&r"(r), "=&r"(f)                                  \
                         : "r"(a), "r"(b), "r"((cin & 1) << 29)                \
                         : "cc");                                              \
        *nzcv = f;                                                             \
        return r;                                                              \
    }
CARRYOP(adc64, "adcs", "x")
CARRYOP(sbc64, "sbcs", "x")
CARRYOP(adc32, "adcs", "w")
CARRYOP(sbc32, "sbcs", "w")

static inline u64 adc_noflags(u64 a, u64 b, u64 cin) {
    u64 r;
    __asm__ volatile("msr nzcv, %3\n\tadc %0, %1, %2"
                     : "=r"(r) : "r"(a), "r"(b), "r"((cin & 1) << 29) : "cc");
    return r;
}

#define CCMP(name, cmpinsn, cond, imm)                                         \
    static inline u64 name(u64 a, u64 b, u64 c, u64 d) {                      \
        u64 f;                                                                 \
        __asm__ volatile("cmp %1, %2\n\t" cmpinsn " %3, %4, #" #imm ", " #cond \
                         "\n\tmrs %0, nzcv"                                    \
                         : "=r"(f) : "r"(a), "r"(b), "r"(c), "r"(d) : "cc");   \
        return f;                                                              \
    }
CCMP(ccmp_eq, "ccmp", eq, 0)
CCMP(ccmp_lt, "ccmp", lt, 15)
CCMP(ccmn_hi, "ccmn", hi, 4)
CCMP(ccmn_vs, "ccmn", vs, 9)

static u64 test_alu64(void) {
    u64 h = 1;
    reseed(0x64);
    for (u64 i = 0; i < 2000; i++) {
        u64 a = operand(rnd()), b = operand(rnd()), c = rnd();
        unsigned s = (unsigned)c;
        u64 f;
        h = mix(h, a + b);
        h = mix(h, a - b);
        h = mix(h, a & b);
        h = mix(h, a | b);
        h = mix(h, a ^ b);
        h = mix(h, a & ~b);
        h = mix(h, a | ~b);
        h = mix(h, a ^ ~b);
        h = mix(h, -a);
        h = mix(h, ~b);
        h = mix(h, a << (s & 63));
        h = mix(h, a >> (s & 63));
        h = mix(h, (u64)((s64)a >> (s & 63)));
        h = mix(h, ror64(a, s));
        h = mix(h, a + (b << 7));
        h = mix(h, a - (b >> 13));
        h = mix(h, a ^ (u64)((s64)b >> 41));
        h = mix(h, a & ror64(b, 17));
        h = mix(h, a | (b << 63));
        h = mix(h, a + (u64)(u32)b);
        h = mix(h, a + (u64)(s64)(s32)b);
        h = mix(h, a - (u64)(s64)(s8)b);
        h = mix(h, a + ((u64)(u16)b << 3));
        h = mix(h, a + ((u64)(s64)(s16)b << 2));
        h = mix(h, a - ((u64)(u8)b << 1));
        h = mix(h, a + 0xfff);
        h = mix(h, a - 0x123000);
        h = mix(h, a & 0xff00ff00ff00ff00ULL);
        h = mix(h, a | 0x5555555555555555ULL);
        h = mix(h, a ^ 0x0f0f0f0f0f0f0f0fULL);
        h = mix(h, a & 0x7ffe);
        h = mix(h, a ^ 0xfffffffffffff000ULL);
        h = mix(h, (s64)a < (s64)b);
        h = mix(h, a < b);
        h = mix(h, (s64)a >= (s64)b ? a : b);
        h = mix(h, a == b || a + 1 == b);
        h = mix(h, adds64(a, b, &f)); h = mix(h, f);
        h = mix(h, subs64(a, b, &f)); h = mix(h, f);
        h = mix(h, ands64(a, b, &f)); h = mix(h, f);
        h = mix(h, bics64(a, b, &f)); h = mix(h, f);
        h = mix(h, adc64(a, b, c >> 7, &f)); h = mix(h, f);
        h = mix(h, sbc64(a, b, c >> 9, &f)); h = mix(h, f);
        h = mix(h, adc_noflags(a, b, c >> 11));
        h = mix(h, ccmp_eq(a, b, b, a));
        h = mix(h, ccmp_lt(a, b, c, a));
        h = mix(h, ccmn_hi(a, b, a, c));
        h = mix(h, ccmn_vs(a, c, b, a));
    }
    return h;
}

static u64 test_alu32(void) {
    u64 h = 2;
    reseed(0x32);
    for (u64 i = 0; i < 2000; i++) {
        u32 a = (u32)operand(rnd()), b = (u32)operand(rnd());
        u64 c = rnd();
        unsigned s = (unsigned)c;
        u64 f;
        h = mix(h, a + b);
        h = mix(h, a - b);
        h = mix(h, a & ~b);
        h = mix(h, a | ~b);
        h = mix(h, a ^ ~b);
        h = mix(h, (u32)-a);
        h = mix(h, a << (s & 31));
        h = mix(h, a >> (s & 31));
        h = mix(h, (u32)((s32)a >> (s & 31)));
        h = mix(h, ror32(a, s));
        h = mix(h, a + (b << 5));
        h = mix(h, a - (b >> 27));
        h = mix(h, a ^ (u32)((s32)b >> 3));
        h = mix(h, a + (u32)(s32)(s8)b);
        h = mix(h, a + (u32)(u16)b);
        h = mix(h, a & 0x00ff00ffu);
        h = mix(h, a | 0x80000001u);
        h = mix(h, a + 0x7ff000);
        h = mix(h, (s32)a < (s32)b);
        h = mix(h, a > b);
        h = mix(h, adds32(a, b, &f)); h = mix(h, f);
        h = mix(h, subs32(a, b, &f)); h = mix(h, f);
        h = mix(h, ands32(a, b, &f)); h = mix(h, f);
        h = mix(h, bics32(a, b, &f)); h = mix(h, f);
        h = mix(h, adc32(a, b, c >> 3, &f)); h = mix(h, f);
        h = mix(h, sbc32(a, b, c >> 5, &f)); h = mix(h, f);
        /* A 32-bit op must zero the upper half of the X register; let the asm see all 64 bits. */
        u64 wide;
        __asm__ volatile("add %w0, %w1, %w2" : "=r"(wide) : "r"(c), "r"(c >> 3));
        h = mix(h, wide);
        __asm__ volatile("mov %w0, %w1" : "=r"(wide) : "r"(c));
        h = mix(h, wide);
    }
    return h;
}

/* ---- multiplies ---- */

static u64 test_mul(void) {
    u64 h = 3;
    reseed(0x4d);
    for (u64 i = 0; i < 3000; i++) {
        u64 a = operand(rnd()), b = operand(rnd()), c = operand(rnd());
        h = mix(h, a * b);
        h = mix(h, a * b + c);
        h = mix(h, c - a * b);
        h = mix(h, -(a * b));
        h = mix(h, (u32)a * (u32)b);
        h = mix(h, (u32)c + (u32)a * (u32)b);
        h = mix(h, (u32)c - (u32)a * (u32)b);
        h = mix(h, (u64)((s64)(s32)a * (s64)(s32)b));
        h = mix(h, (u64)(u32)a * (u32)b);
        h = mix(h, c + (u64)(u32)a * (u32)b);
        h = mix(h, c - (u64)((s64)(s32)a * (s64)(s32)b));
        unsigned __int128 up = (unsigned __int128)a * b;
        __int128 sp = (__int128)(s64)a * (s64)b;
        h = mix(h, (u64)up);
        h = mix(h, (u64)(up >> 64));
        h = mix(h, (u64)sp);
        h = mix(h, (u64)((unsigned __int128)sp >> 64));
        /* Full 128x128 -> 128 product exercises mul/umulh/madd chains. */
        unsigned __int128 x = ((unsigned __int128)a << 64) | c;
        unsigned __int128 y = ((unsigned __int128)c << 64) | b;
        unsigned __int128 p = x * y;
        h = mix(h, (u64)p);
        h = mix(h, (u64)(p >> 64));
        u64 hi;
        __asm__("umulh %0, %1, %2" : "=r"(hi) : "r"(a), "r"(c));
        h = mix(h, hi);
        __asm__("smulh %0, %1, %2" : "=r"(hi) : "r"(a), "r"(c));
        h = mix(h, hi);
        __asm__("mneg %0, %1, %2" : "=r"(hi) : "r"(b), "r"(c));
        h = mix(h, hi);
        __asm__("smnegl %0, %w1, %w2" : "=r"(hi) : "r"(b), "r"(c));
        h = mix(h, hi);
        __asm__("umnegl %0, %w1, %w2" : "=r"(hi) : "r"(b), "r"(c));
        h = mix(h, hi);
    }
    return h;
}

/* ---- division: the instructions define x/0 = 0 and INT_MIN/-1 = INT_MIN ---- */

static inline u64 udiv64(u64 a, u64 b) { u64 r; __asm__("udiv %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static inline u64 sdiv64(u64 a, u64 b) { u64 r; __asm__("sdiv %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static inline u64 udiv32(u64 a, u64 b) { u64 r; __asm__("udiv %w0, %w1, %w2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static inline u64 sdiv32(u64 a, u64 b) { u64 r; __asm__("sdiv %w0, %w1, %w2" : "=r"(r) : "r"(a), "r"(b)); return r; }

static u64 test_div(void) {
    u64 h = 4;
    check("udiv x/0", udiv64(OPQ(12345ULL), OPQ(0ULL)), 0);
    check("sdiv x/0", sdiv64(OPQ(-12345ULL), OPQ(0ULL)), 0);
    check("udiv w/0", udiv32(OPQ(0xffffffffffffffffULL), OPQ(0xffffffff00000000ULL)), 0);
    check("sdiv INT64_MIN/-1", sdiv64(OPQ(0x8000000000000000ULL), OPQ(~0ULL)), 0x8000000000000000ULL);
    check("sdiv INT32_MIN/-1", sdiv32(OPQ(0x80000000ULL), OPQ(0xffffffffULL)), 0x80000000ULL);
    check("sdiv -7/2", sdiv64(OPQ((u64)-7), OPQ(2ULL)), (u64)-3);
    check("sdiv w -7/2", sdiv32(OPQ(0xfffffff9ULL), OPQ(2ULL)), 0xfffffffdULL);
    check("udiv w ignores high", udiv32(OPQ(0x1234567800000064ULL), OPQ(0xff0000000000000aULL)), 10);
    reseed(0xd1);
    for (u64 i = 0; i < 3000; i++) {
        u64 a = operand(rnd()), b = operand(rnd());
        if ((i & 7) == 0)
            b >>= (rnd() & 63);
        u64 q;
        q = udiv64(a, b); h = mix(h, q); h = mix(h, a - q * b);
        q = sdiv64(a, b); h = mix(h, q); h = mix(h, a - q * b);
        q = udiv32(a, b); h = mix(h, q); h = mix(h, (u32)a - (u32)q * (u32)b);
        q = sdiv32(a, b); h = mix(h, q); h = mix(h, (u32)a - (u32)q * (u32)b);
    }
    /* Compiler-generated division by constants (multiply-high sequences). */
    for (u64 i = 0; i < 500; i++) {
        u64 a = rnd();
        h = mix(h, a / 10);
        h = mix(h, a % 1000000007ULL);
        h = mix(h, (u64)((s64)a / -7));
        h = mix(h, (u64)((s64)a % 13));
        h = mix(h, (u32)a / 3u);
        h = mix(h, (u64)(s64)((s32)a / 6));
    }
    return h;
}

/* ---- bit manipulation ---- */

static inline u64 clz64(u64 v) { u64 r; __asm__("clz %0, %1" : "=r"(r) : "r"(v)); return r; }
static inline u64 clz32(u64 v) { u64 r; __asm__("clz %w0, %w1" : "=r"(r) : "r"(v)); return r; }
static inline u64 cls64(u64 v) { u64 r; __asm__("cls %0, %1" : "=r"(r) : "r"(v)); return r; }
static inline u64 cls32(u64 v) { u64 r; __asm__("cls %w0, %w1" : "=r"(r) : "r"(v)); return r; }
static inline u64 rbit64(u64 v) { u64 r; __asm__("rbit %0, %1" : "=r"(r) : "r"(v)); return r; }
static inline u64 rbit32(u64 v) { u64 r; __asm__("rbit %w0, %w1" : "=r"(r) : "r"(v)); return r; }
static inline u64 rev16x(u64 v) { u64 r; __asm__("rev16 %0, %1" : "=r"(r) : "r"(v)); return r; }
static inline u64 rev16w(u64 v) { u64 r; __asm__("rev16 %w0, %w1" : "=r"(r) : "r"(v)); return r; }
static inline u64 rev32x(u64 v) { u64 r; __asm__("rev32 %0, %1" : "=r"(r) : "r"(v)); return r; }
static inline u64 revw(u64 v) { u64 r; __asm__("rev %w0, %w1" : "=r"(r) : "r"(v)); return r; }
static inline u64 rorv64(u64 v, u64 n) { u64 r; __asm__("ror %0, %1, %2" : "=r"(r) : "r"(v), "r"(n)); return r; }
static inline u64 lslv32(u64 v, u64 n) { u64 r; __asm__("lsl %w0, %w1, %w2" : "=r"(r) : "r"(v), "r"(n)); return r; }
static inline u64 asrv64(u64 v, u64 n) { u64 r; __asm__("asr %0, %1, %2" : "=r"(r) : "r"(v), "r"(n)); return r; }

/*
 * libgcc's popcount helper uses SIMD (cnt/addv), which traps with FP
 * disabled, so population count and parity are done with integer SWAR here.
 */
static u64 popcount64(u64 v) {
    v = v - ((v >> 1) & 0x5555555555555555ULL);
    v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (v * 0x0101010101010101ULL) >> 56;
}

static u64 parity64(u64 v) {
    v ^= v >> 32;
    v ^= v >> 16;
    v ^= v >> 8;
    v ^= v >> 4;
    return (0x6996u >> (v & 0xf)) & 1;
}

static u64 test_bits(void) {
    u64 h = 5;
    check("clz(0)", clz64(OPQ(0ULL)), 64);
    check("clz w(0)", clz32(OPQ(0xffffffff00000000ULL)), 32);
    check("cls(-1)", cls64(OPQ(~0ULL)), 63);
    check("rbit(1)", rbit64(OPQ(1ULL)), 0x8000000000000000ULL);
    check("rev16", rev16x(OPQ(0x0011223344556677ULL)), 0x1100332255447766ULL);
    check("rev32", rev32x(OPQ(0x0011223344556677ULL)), 0x3322110077665544ULL);
    check("bswap64", __builtin_bswap64(OPQ(0x0011223344556677ULL)), 0x7766554433221100ULL);
    check("popcount", popcount64(OPQ(0xf0f0f0f0f0f0f0f1ULL)), 33);
    check("parity", parity64(OPQ(0x8000000000000001ULL)) + parity64(OPQ(0x0000010000000000ULL)), 1);
    /* Register shifts use the amount modulo the width, unlike C. */
    check("ror by 65", rorv64(OPQ(3ULL), OPQ(65ULL)), 0x8000000000000001ULL);
    check("lsl w by 33", lslv32(OPQ(1ULL), OPQ(33ULL)), 2);
    check("asr by 127", asrv64(OPQ(0x8000000000000000ULL), OPQ(127ULL)), ~0ULL);
    reseed(0xb175);
    for (u64 i = 0; i < 2500; i++) {
        u64 a = operand(rnd());
        u64 n = rnd();
        h = mix(h, clz64(a));
        h = mix(h, clz32(a));
        h = mix(h, cls64(a));
        h = mix(h, cls32(a));
        h = mix(h, rbit64(a));
        h = mix(h, rbit32(a));
        h = mix(h, rev16x(a));
        h = mix(h, rev16w(a));
        h = mix(h, rev32x(a));
        h = mix(h, revw(a));
        h = mix(h, __builtin_bswap64(a));
        h = mix(h, __builtin_bswap32((u32)a));
        h = mix(h, __builtin_bswap16((u16)a));
        h = mix(h, a ? (u64)__builtin_ctzll(a) : 99);
        h = mix(h, a ? (u64)__builtin_clzll(a) : 99);
        h = mix(h, popcount64(a));
        h = mix(h, popcount64((u32)a));
        h = mix(h, parity64(a));
        h = mix(h, (u64)__builtin_clrsbll((s64)a));
        h = mix(h, rorv64(a, n));
        h = mix(h, lslv32(a, n));
        h = mix(h, asrv64(a, n));
        h = mix(h, a & (a - 1));
        h = mix(h, a & -a);
        h = mix(h, (a >> 1) ^ a);
    }
    return h;
}

/* ---- CRC32 / CRC32C ---- */

#define CRCOP(name, insn, reg)                                                 \
    static inline u32 name(u32 crc, u64 v) {                                   \
        u32 r;                                                                 \
        __asm__(insn " %w0, %w1, %" reg "2" : "=r"(r) : "r"(crc), "r"(v));     \
        return r;                                                              \
    }
CRCOP(crc32b, "crc32b", "w")
CRCOP(crc32h, "crc32h", "w")
CRCOP(crc32w, "crc32w", "w")
CRCOP(crc32x, "crc32x", "x")
CRCOP(crc32cb, "crc32cb", "w")
CRCOP(crc32ch, "crc32ch", "w")
CRCOP(crc32cw, "crc32cw", "w")
CRCOP(crc32cx, "crc32cx", "x")

static u32 soft_crc(u32 crc, const u8 *p, usize n, u32 poly) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (poly & -(crc & 1));
    }
    return ~crc;
}

static u8 crcbuf[4096] __attribute__((aligned(16)));

static void fill_crcbuf(void) {
    reseed(0xc7c);
    for (usize i = 0; i < sizeof(crcbuf); i++)
        crcbuf[i] = (u8)rnd();
}

static u64 test_crc(void) {
    static const char kat[] = "123456789";
    u32 c = ~0u, cc = ~0u;
    for (int i = 0; i < 9; i++) {
        c = crc32b(c, (u8)kat[i]);
        cc = crc32cb(cc, (u8)kat[i]);
    }
    check("crc32 kat", ~c, 0xcbf43926);
    check("crc32c kat", ~cc, 0xe3069283);

    /* Each width over the same bytes must agree with the byte-at-a-time software CRC. */
    u32 b = ~0u, hh = ~0u, w = ~0u, x = ~0u;
    u32 cb = ~0u, ch = ~0u, cw = ~0u, cxx = ~0u;
    for (usize i = 0; i < sizeof(crcbuf); i++) {
        b = crc32b(b, crcbuf[i]);
        cb = crc32cb(cb, crcbuf[i]);
    }
    for (usize i = 0; i < sizeof(crcbuf); i += 2) {
        u64 v = *(const u16 *)(crcbuf + i);
        hh = crc32h(hh, v);
        ch = crc32ch(ch, v);
    }
    for (usize i = 0; i < sizeof(crcbuf); i += 4) {
        u64 v = *(const u32 *)(crcbuf + i);
        w = crc32w(w, v);
        cw = crc32cw(cw, v);
    }
    for (usize i = 0; i < sizeof(crcbuf); i += 8) {
        u64 v = *(const u64 *)(crcbuf + i);
        x = crc32x(x, v);
        cxx = crc32cx(cxx, v);
    }
    u32 soft = soft_crc(0, crcbuf, sizeof(crcbuf), 0xedb88320u);
    u32 softc = soft_crc(0, crcbuf, sizeof(crcbuf), 0x82f63b78u);
    check("crc32b vs soft", ~b, soft);
    check("crc32h vs soft", ~hh, soft);
    check("crc32w vs soft", ~w, soft);
    check("crc32x vs soft", ~x, soft);
    check("crc32cb vs soft", ~cb, softc);
    check("crc32ch vs soft", ~ch, softc);
    check("crc32cw vs soft", ~cw, softc);
    check("crc32cx vs soft", ~cxx, softc);
    /* Only the low bits of the data register count for the narrow forms. */
    check("crc32b high bits", crc32b(0x1234, 0xffffff00ULL | 0x5a), crc32b(0x1234, 0x5a));
    return ((u64)soft << 32) | softc;
}

/* ---- conditional select, every condition code ---- */

#define CSEL(cond)                                                             \
    static inline u64 csel_##cond(u64 a, u64 b, u64 x, u64 y) {               \
        u64 r;                                                                 \
        __asm__("cmp %1, %2\n\tcsel %0, %3, %4, " #cond                        \
                : "=r"(r) : "r"(a), "r"(b), "r"(x), "r"(y) : "cc");            \
        return r;                                                              \
    }
CSEL(eq) CSEL(ne) CSEL(cs) CSEL(cc) CSEL(mi) CSEL(pl) CSEL(vs) CSEL(vc)
CSEL(hi) CSEL(ls) CSEL(ge) CSEL(lt) CSEL(gt) CSEL(le) CSEL(al) CSEL(nv)

#define CSOP(name, insn, cond)                                                 \
    static inline u64 name(u64 a, u64 b, u64 x, u64 y) {                      \
        u64 r;                                                                 \
        __asm__("cmn %1, %2\n\t" insn " %0, %3, %4, " #cond                    \
                : "=r"(r) : "r"(a), "r"(b), "r"(x), "r"(y) : "cc");            \
        return r;                                                              \
    }
CSOP(csinc_lt, "csinc", lt)
CSOP(csinv_hi, "csinv", hi)
CSOP(csneg_vs, "csneg", vs)
CSOP(csinc_w_ge, "csinc", ge)

static inline u64 cset_le(u64 a, u64 b) { u64 r; __asm__("cmp %w1, %w2\n\tcset %w0, le" : "=r"(r) : "r"(a), "r"(b) : "cc"); return r; }
static inline u64 csetm_cc(u64 a, u64 b) { u64 r; __asm__("cmp %1, %2\n\tcsetm %0, cc" : "=r"(r) : "r"(a), "r"(b) : "cc"); return r; }
static inline u64 cneg_mi(u64 a, u64 b) { u64 r; __asm__("cmp %1, %2\n\tcneg %0, %1, mi" : "=r"(r) : "r"(a), "r"(b) : "cc"); return r; }

static u64 test_csel(void) {
    u64 h = 6;
    reseed(0xc5e1);
    for (u64 i = 0; i < 2000; i++) {
        u64 a = operand(rnd()), b = operand(rnd()), x = rnd(), y = rnd();
        u64 m = 0;
        m = m * 2 + (csel_eq(a, b, x, y) == x);
        m = m * 2 + (csel_ne(a, b, x, y) == x);
        m = m * 2 + (csel_cs(a, b, x, y) == x);
        m = m * 2 + (csel_cc(a, b, x, y) == x);
        m = m * 2 + (csel_mi(a, b, x, y) == x);
        m = m * 2 + (csel_pl(a, b, x, y) == x);
        m = m * 2 + (csel_vs(a, b, x, y) == x);
        m = m * 2 + (csel_vc(a, b, x, y) == x);
        m = m * 2 + (csel_hi(a, b, x, y) == x);
        m = m * 2 + (csel_ls(a, b, x, y) == x);
        m = m * 2 + (csel_ge(a, b, x, y) == x);
        m = m * 2 + (csel_lt(a, b, x, y) == x);
        m = m * 2 + (csel_gt(a, b, x, y) == x);
        m = m * 2 + (csel_le(a, b, x, y) == x);
        m = m * 2 + (csel_al(a, b, x, y) == x);
        m = m * 2 + (csel_nv(a, b, x, y) == x);
        h = mix(h, m);
        h = mix(h, csinc_lt(a, b, x, y));
        h = mix(h, csinv_hi(a, b, x, y));
        h = mix(h, csneg_vs(a, b, x, y));
        h = mix(h, csinc_w_ge(a, b, x, y));
        h = mix(h, cset_le(a, b));
        h = mix(h, csetm_cc(a, b));
        h = mix(h, cneg_mi(a, b));
        /* Plain C that GCC turns into csel/csinc/cinc. */
        h = mix(h, (s64)a > (s64)b ? a : b + 1);
        h = mix(h, a < b ? ~x : x);
        h = mix(h, (s64)a < 0 ? -a : a);
        h = mix(h, x + (a != b));
    }
    return h;
}

/* ---- bitfield moves ---- */

#define BFX(name, insn, reg, lsb, width)                                       \
    static inline u64 name(u64 v) {                                            \
        u64 r;                                                                 \
        __asm__(insn " %" reg "0, %" reg "1, #" #lsb ", #" #width             \
                : "=r"(r) : "r"(v));                                           \
        return r;                                                              \
    }
#define BFI(name, insn, reg, lsb, width)                                       \
    static inline u64 name(u64 d, u64 v) {                                     \
        __asm__(insn " %" reg "0, %" reg "1, #" #lsb ", #" #width             \
                : "+r"(d) : "r"(v));                                           \
        return d;                                                              \
    }
BFX(ubfx_3_13, "ubfx", "x", 3, 13)
BFX(ubfx_0_64, "ubfx", "x", 0, 64)
BFX(ubfx_60_4, "ubfx", "x", 60, 4)
BFX(sbfx_5_7, "sbfx", "x", 5, 7)
BFX(sbfx_31_33, "sbfx", "x", 31, 33)
BFX(sbfx_w_8_16, "sbfx", "w", 8, 16)
BFX(ubfx_w_31_1, "ubfx", "w", 31, 1)
BFX(ubfiz_12_20, "ubfiz", "x", 12, 20)
BFX(sbfiz_40_9, "sbfiz", "x", 40, 9)
BFX(sbfiz_w_4_28, "sbfiz", "w", 4, 28)
BFI(bfi_8_16, "bfi", "x", 8, 16)
BFI(bfi_63_1, "bfi", "x", 63, 1)
BFI(bfi_w_20_12, "bfi", "w", 20, 12)
BFI(bfxil_4_40, "bfxil", "x", 4, 40)
BFI(bfxil_w_0_31, "bfxil", "w", 0, 31)
BFX(lsl_x_61, "ubfiz", "x", 61, 3)

static inline u64 extr_x_17(u64 a, u64 b) { u64 r; __asm__("extr %0, %1, %2, #17" : "=r"(r) : "r"(a), "r"(b)); return r; }
static inline u64 extr_w_5(u64 a, u64 b) { u64 r; __asm__("extr %w0, %w1, %w2, #5" : "=r"(r) : "r"(a), "r"(b)); return r; }
static inline u64 sxtb_x(u64 a) { u64 r; __asm__("sxtb %0, %w1" : "=r"(r) : "r"(a)); return r; }
static inline u64 sxth_w(u64 a) { u64 r; __asm__("sxth %w0, %w1" : "=r"(r) : "r"(a)); return r; }
static inline u64 sxtw_x(u64 a) { u64 r; __asm__("sxtw %0, %w1" : "=r"(r) : "r"(a)); return r; }
static inline u64 uxtb_w(u64 a) { u64 r; __asm__("uxtb %w0, %w1" : "=r"(r) : "r"(a)); return r; }

struct packed_fields {
    u64 a : 3;
    u64 b : 13;
    s64 c : 7;
    u64 d : 29;
    s64 e : 12;
};

static u64 test_bitfield(void) {
    u64 h = 7;
    check("sbfx 31,33", sbfx_31_33(OPQ(0x8000000000000000ULL)), 0xffffffff00000000ULL);
    check("bfi 63,1", bfi_63_1(OPQ(0ULL), OPQ(3ULL)), 0x8000000000000000ULL);
    reseed(0xb1f);
    volatile struct packed_fields pf = { 0, 0, 0, 0, 0 };
    for (u64 i = 0; i < 2000; i++) {
        u64 a = operand(rnd()), b = rnd();
        h = mix(h, ubfx_3_13(a));
        h = mix(h, ubfx_0_64(a));
        h = mix(h, ubfx_60_4(a));
        h = mix(h, sbfx_5_7(a));
        h = mix(h, sbfx_31_33(a));
        h = mix(h, sbfx_w_8_16(a));
        h = mix(h, ubfx_w_31_1(a));
        h = mix(h, ubfiz_12_20(a));
        h = mix(h, sbfiz_40_9(a));
        h = mix(h, sbfiz_w_4_28(a));
        h = mix(h, bfi_8_16(b, a));
        h = mix(h, bfi_63_1(b, a));
        h = mix(h, bfi_w_20_12(b, a));
        h = mix(h, bfxil_4_40(b, a));
        h = mix(h, bfxil_w_0_31(b, a));
        h = mix(h, lsl_x_61(a));
        h = mix(h, extr_x_17(a, b));
        h = mix(h, extr_w_5(a, b));
        h = mix(h, sxtb_x(a));
        h = mix(h, sxth_w(a));
        h = mix(h, sxtw_x(a));
        h = mix(h, uxtb_w(a));
        pf.a = a;
        pf.b = a >> 5;
        pf.c = (s64)b;
        pf.d = b >> 20;
        pf.e = (s64)(a ^ b);
        h = mix(h, pf.a + pf.b * 3);
        h = mix(h, (u64)(pf.c * 5 + pf.e));
        h = mix(h, pf.d ^ (u64)pf.c);
        h = mix(h, (a >> 17) & 0x3ff);
        h = mix(h, (u64)(((s64)a << 9) >> 50));
        h = mix(h, (b & ~0xff0ULL) | ((a << 4) & 0xff0));
    }
    return h;
}

/* ---- sorting ---- */

#define NSORT 1536
static u64 sort_u[NSORT];
static s32 sort_s[NSORT];

static void quicksort(u64 *v, long lo, long hi) {
    while (hi - lo > 16) {
        u64 pivot = v[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                u64 t = v[i]; v[i] = v[j]; v[j] = t;
                i++; j--;
            }
        }
        /* Recurse into the smaller half to bound stack depth. */
        if (j - lo < hi - i) {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
    for (long i = lo + 1; i <= hi; i++) {
        u64 x = v[i];
        long j = i - 1;
        while (j >= lo && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static void sift_down(s32 *v, long start, long end) {
    long root = start;
    while (2 * root + 1 <= end) {
        long child = 2 * root + 1;
        if (child + 1 <= end && v[child] < v[child + 1])
            child++;
        if (v[root] < v[child]) {
            s32 t = v[root]; v[root] = v[child]; v[child] = t;
            root = child;
        } else {
            return;
        }
    }
}

static void heapsort_s32(s32 *v, long n) {
    for (long start = (n - 2) / 2; start >= 0; start--)
        sift_down(v, start, n - 1);
    for (long end = n - 1; end > 0; end--) {
        s32 t = v[0]; v[0] = v[end]; v[end] = t;
        sift_down(v, 0, end - 1);
    }
}

static u64 test_sort(void) {
    u64 h = 8;
    reseed(0x5047);
    for (int i = 0; i < NSORT; i++) {
        sort_u[i] = (i % 5 == 0) ? rnd() % 100 : rnd();
        sort_s[i] = (s32)rnd();
    }
    quicksort(sort_u, 0, NSORT - 1);
    heapsort_s32(sort_s, NSORT);
    u64 bad = 0;
    for (int i = 1; i < NSORT; i++) {
        bad += sort_u[i - 1] > sort_u[i];
        bad += sort_s[i - 1] > sort_s[i];
    }
    check("sort order", bad, 0);
    for (int i = 0; i < NSORT; i++) {
        h = mix(h, sort_u[i] * (u64)(i + 1));
        h = mix(h, (u64)(s64)sort_s[i]);
    }
    return h;
}

/* ---- sieve of Eratosthenes ---- */

#define SIEVE_N 50000
static u8 composite[SIEVE_N + 1];

static u64 test_sieve(void) {
    u64 count = 0, sum = 0;
    for (u64 i = 2; i * i <= SIEVE_N; i++)
        if (!composite[i])
            for (u64 j = i * i; j <= SIEVE_N; j += i)
                composite[j] = 1;
    for (u64 i = 2; i <= SIEVE_N; i++)
        if (!composite[i]) {
            count++;
            sum += i;
        }
    check("prime count", count, 5133);
    return (count << 40) ^ sum;
}

/* ---- hashing ---- */

static u64 fnv1a64(const u8 *p, usize n) {
    u64 h = 0xcbf29ce484222325ULL;
    while (n--) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static u32 fnv1a32(const u8 *p, usize n) {
    u32 h = 0x811c9dc5u;
    while (n--) {
        h ^= *p++;
        h *= 0x01000193u;
    }
    return h;
}

static u64 fmix64(u64 k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static u64 test_hash(void) {
    check("fnv1a64 empty", fnv1a64((const u8 *)"", 0), 0xcbf29ce484222325ULL);
    check("fnv1a64 a", fnv1a64((const u8 *)"a", 1), 0xaf63dc4c8601ec8cULL);
    check("fnv1a32 a", fnv1a32((const u8 *)"a", 1), 0xe40c292cu);
    u64 h = fnv1a64(crcbuf, sizeof(crcbuf));
    h = mix(h, fnv1a32(crcbuf, sizeof(crcbuf)));
    u32 x32 = 2463534242u;
    u64 s0 = OPQ(0x0123456789abcdefULL), s1 = OPQ(0xfedcba9876543210ULL);
    u64 sm = OPQ(0ULL);
    for (int i = 0; i < 10000; i++) {
        x32 ^= x32 << 13;
        x32 ^= x32 >> 17;
        x32 ^= x32 << 5;
        /* xorshift128+ */
        u64 t = s0, s = s1;
        s0 = s;
        t ^= t << 23;
        t ^= t >> 17;
        t ^= s ^ (s >> 26);
        s1 = t;
        u64 z = (sm += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        h = mix(h, x32 ^ (s0 + s1) ^ z);
        if ((i & 15) == 0)
            h ^= fmix64(h + (u64)i);
    }
    u32 djb = 5381;
    static const char text[] = "The quick brown fox jumps over the lazy dog";
    for (int r = 0; r < 50; r++)
        for (const char *p = text; *p; p++)
            djb = djb * 33 + (u8)*p + (u32)r;
    h = mix(h, djb);
    return h;
}

/* ---- strings ---- */

static int my_strcmp(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (u8)*a - (u8)*b;
}

static const char *my_strstr(const char *hay, const char *needle) {
    usize n = strlen(needle);
    for (; *hay; hay++)
        if (!memcmp(hay, needle, n))
            return hay;
    return 0;
}

static usize utoa(u64 v, unsigned base, char *out) {
    char tmp[65];
    usize n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    for (usize i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}

static u64 parse(const char *s, unsigned base) {
    u64 v = 0;
    for (; *s; s++) {
        unsigned d = (*s >= 'a') ? (unsigned)(*s - 'a' + 10) : (unsigned)(*s - '0');
        v = v * base + d;
    }
    return v;
}

static char strbuf[512];

static u64 test_strings(void) {
    u64 h = 9;
    static const char text[] = "warmboot runs arm64 guests: interpreting cold code, compiling hot code";
    check("strlen", strlen(text), sizeof(text) - 1);
    check("strstr", (u64)(my_strstr(text, "hot") - text), 62);
    check("strcmp", (u64)(my_strcmp("abc", "abd") < 0) + (my_strcmp("b", "a") > 0) + (my_strcmp("x", "x") == 0), 3);
    reseed(0x57);
    char num[70];
    for (int i = 0; i < 500; i++) {
        u64 v = operand(rnd());
        unsigned base = 2 + (unsigned)(rnd() % 35);
        usize n = utoa(v, base, num);
        if (parse(num, base) != v)
            check("utoa/parse roundtrip", v, parse(num, base));
        h = mix(h, n);
        h = mix(h, fnv1a64((const u8 *)num, n));
    }
    for (int i = 0; i < 200; i++) {
        memcpy(strbuf, text, sizeof(text));
        usize off = rnd() % 40, len = rnd() % 30, dst = rnd() % 40;
        memmove(strbuf + dst, strbuf + off, len);
        h = mix(h, fnv1a64((const u8 *)strbuf, sizeof(text)));
        h = mix(h, (u64)(s64)memcmp(strbuf, text, sizeof(text)));
        for (usize a = 0, b = len; b > a + 1; a++, b--) {
            char t = strbuf[a]; strbuf[a] = strbuf[b - 1]; strbuf[b - 1] = t;
        }
        h = mix(h, fnv1a64((const u8 *)strbuf, len));
    }
    return h;
}

/* ---- loads and stores of every size and extension ---- */

static u8 lsbuf[256] __attribute__((aligned(16)));

#define LD(name, insn, reg)                                                    \
    static inline u64 name(const void *p, long off) {                          \
        u64 r;                                                                 \
        __asm__ volatile(insn " %" reg "0, [%1, %2]"                           \
                         : "=r"(r) : "r"(p), "r"(off) : "memory");             \
        return r;                                                              \
    }
LD(ldrb_w, "ldrb", "w")
LD(ldrsb_w, "ldrsb", "w")
LD(ldrsb_x, "ldrsb", "x")
LD(ldrh_w, "ldrh", "w")
LD(ldrsh_w, "ldrsh", "w")
LD(ldrsh_x, "ldrsh", "x")
LD(ldr_w, "ldr", "w")
LD(ldrsw_x, "ldrsw", "x")
LD(ldr_x, "ldr", "x")

static u64 test_loads(void) {
    u64 h = 10;
    /* Patterns with the top bit set in every lane so sign extension is visible. */
    for (int i = 0; i < 256; i++)
        lsbuf[i] = (u8)(i * 37 + 0x80);
    check("ldrsb x", ldrsb_x(lsbuf, 0), 0xffffffffffffff80ULL);
    check("ldrsb w", ldrsb_w(lsbuf, 0), 0xffffff80ULL);
    for (long off = 0; off < 128; off += 8) {
        h = mix(h, ldrb_w(lsbuf, off + 3));
        h = mix(h, ldrsb_w(lsbuf, off + 1));
        h = mix(h, ldrsb_x(lsbuf, off + 5));
        h = mix(h, ldrh_w(lsbuf, off + 2));
        h = mix(h, ldrsh_w(lsbuf, off + 6));
        h = mix(h, ldrsh_x(lsbuf, off + 4));
        h = mix(h, ldr_w(lsbuf, off + 4));
        h = mix(h, ldrsw_x(lsbuf, off));
        h = mix(h, ldr_x(lsbuf, off));
    }
    const u8 *base = lsbuf + 64;
    u64 r0, r1, r2, r3, r4, r5, r6, p;
    long idx = 3, nidx = -2;
    /* Scaled, extended and negative-offset addressing modes. */
    __asm__ volatile(
        "ldr  %0, [%7, %8, lsl #3]\n\t"
        "ldrsw %1, [%7, %w9, sxtw #2]\n\t"
        "ldrh %w2, [%7, %w8, uxtw #1]\n\t"
        "ldursb %3, [%7, #-3]\n\t"
        "ldursh %w4, [%7, #-6]\n\t"
        "ldur %5, [%7, #-8]\n\t"
        "ldrsh %6, [%7, #126]\n\t"
        : "=&r"(r0), "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(r4), "=&r"(r5), "=&r"(r6)
        : "r"(base), "r"(idx), "r"(nidx)
        : "memory");
    h = mix(h, r0); h = mix(h, r1); h = mix(h, r2); h = mix(h, r3);
    h = mix(h, r4); h = mix(h, r5); h = mix(h, r6);
    /* Pre- and post-index writeback. */
    p = (u64)lsbuf;
    __asm__ volatile(
        "ldr  %0, [%3, #16]!\n\t"
        "ldrsh %1, [%3], #-6\n\t"
        "ldrsb %w2, [%3, #1]!\n\t"
        : "=&r"(r0), "=&r"(r1), "=&r"(r2), "+r"(p) : : "memory");
    h = mix(h, r0); h = mix(h, r1); h = mix(h, r2); h = mix(h, p - (u64)lsbuf);
    /* PC-relative literal loads. */
    __asm__ volatile(
        "ldr %0, 1f\n\t"
        "ldrsw %1, 2f\n\t"
        "ldr %w2, 2f\n\t"
        "b 3f\n\t"
        ".balign 8\n"
        "1: .quad 0xfedcba9876543210\n"
        "2: .word 0x89abcdef\n"
        "3:\n\t"
        : "=r"(r0), "=r"(r1), "=r"(r2));
    check("ldr literal", r0, 0xfedcba9876543210ULL);
    check("ldrsw literal", r1, 0xffffffff89abcdefULL);
    check("ldr w literal", r2, 0x89abcdefULL);
    /* Stores of each width, including the narrowing of wide registers. */
    u64 v = OPQ(0x1122334455667788ULL);
    p = (u64)(lsbuf + 128);
    __asm__ volatile(
        "strb %w1, [%0]\n\t"
        "strh %w1, [%0, #2]\n\t"
        "str  %w1, [%0, #4]\n\t"
        "str  %1, [%0, #8]\n\t"
        "stur %w1, [%0, #-4]\n\t"
        "str  %1, [%0, #16]!\n\t"
        "strh %w1, [%0], #6\n\t"
        "strb %w1, [%0, %2]\n\t"
        : "+r"(p) : "r"(v), "r"(7L) : "memory");
    h = mix(h, p - (u64)lsbuf);
    for (int i = 0; i < 256; i += 8)
        h = mix(h, *(volatile u64 *)(lsbuf + i));
    /* A byte-granular copy-and-sum over the buffer with every C type. */
    reseed(0x1d5);
    for (int iter = 0; iter < 400; iter++) {
        u64 o = (rnd() % 30) * 8;
        volatile u8 *q = lsbuf + o;
        *(volatile u64 *)q ^= rnd();
        h = mix(h, (u64)(s64)*(volatile s8 *)(q + 1));
        h = mix(h, (u64)(s64)*(volatile s16 *)(q + 2));
        h = mix(h, (u64)(s64)*(volatile s32 *)(q + 4));
        h = mix(h, *(volatile u16 *)(q + 6));
        *(volatile u16 *)(q + 2) = (u16)h;
        *(volatile u8 *)(q + 7) = (u8)(h >> 8);
        *(volatile u32 *)(q) = (u32)(h >> 16);
    }
    return h;
}

/* ---- load/store pair ---- */

static u64 pairbuf[32] __attribute__((aligned(16)));

static u64 test_pairs(void) {
    u64 h = 11;
    for (int i = 0; i < 32; i++)
        pairbuf[i] = 0x8000000180000002ULL * (u64)(i + 1);
    u64 a, b, c, d, e, f, p = (u64)pairbuf;
    __asm__ volatile(
        "ldp   %0, %1, [%6]\n\t"
        "ldp   %w2, %w3, [%6, #16]\n\t"
        "ldpsw %4, %5, [%6, #24]\n\t"
        : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(d), "=&r"(e), "=&r"(f) : "r"(p) : "memory");
    h = mix(h, a); h = mix(h, b); h = mix(h, c); h = mix(h, d); h = mix(h, e); h = mix(h, f);
    __asm__ volatile(
        "ldp %0, %1, [%4, #32]!\n\t"
        "ldp %2, %3, [%4], #-16\n\t"
        : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(d), "+r"(p) : : "memory");
    h = mix(h, a ^ b ^ c ^ d); h = mix(h, p - (u64)pairbuf);
    __asm__ volatile(
        "stp %1, %2, [%0, #64]\n\t"
        "stp %w2, %w1, [%0, #80]\n\t"
        "stp %1, %1, [%0, #96]!\n\t"
        "stp %2, %1, [%0], #16\n\t"
        "stnp %1, %2, [%0, #32]\n\t"
        "ldnp %1, %2, [%0, #-32]\n\t"
        : "+r"(p), "+r"(a), "+r"(b) : : "memory");
    h = mix(h, a); h = mix(h, b); h = mix(h, p - (u64)pairbuf);
    for (int i = 0; i < 32; i++)
        h = mix(h, pairbuf[i]);
    return h;
}

/* ---- exclusives ---- */

static u64 excl64 __attribute__((aligned(16)));
static u32 excl32;
static u16 excl16;
static u8 excl8;
static u64 exclpair[2] __attribute__((aligned(16)));

static u64 test_exclusive(void) {
    u64 h = 12;
    for (u64 i = 0; i < 3000; i++) {
        u64 old, status;
        __asm__ volatile(
            "1: ldxr %0, [%2]\n\t"
            "add %0, %0, %3\n\t"
            "stxr %w1, %0, [%2]\n\t"
            "cbnz %w1, 1b\n\t"
            : "=&r"(old), "=&r"(status) : "r"(&excl64), "r"(i) : "memory");
        __asm__ volatile(
            "1: ldaxr %w0, [%2]\n\t"
            "eor %w0, %w0, %w3\n\t"
            "add %w0, %w0, #1\n\t"
            "stlxr %w1, %w0, [%2]\n\t"
            "cbnz %w1, 1b\n\t"
            : "=&r"(old), "=&r"(status) : "r"(&excl32), "r"(i * 2654435761u) : "memory");
        __asm__ volatile(
            "1: ldxrh %w0, [%2]\n\t"
            "add %w0, %w0, %w3\n\t"
            "stxrh %w1, %w0, [%2]\n\t"
            "cbnz %w1, 1b\n\t"
            : "=&r"(old), "=&r"(status) : "r"(&excl16), "r"(i * 7 + 1) : "memory");
        __asm__ volatile(
            "1: ldaxrb %w0, [%2]\n\t"
            "sub %w0, %w0, %w3\n\t"
            "stlxrb %w1, %w0, [%2]\n\t"
            "cbnz %w1, 1b\n\t"
            : "=&r"(old), "=&r"(status) : "r"(&excl8), "r"(i | 1) : "memory");
        u64 lo, hi;
        __asm__ volatile(
            "1: ldxp %0, %1, [%3]\n\t"
            "adds %0, %0, %4\n\t"
            "adc %1, %1, xzr\n\t"
            "stxp %w2, %0, %1, [%3]\n\t"
            "cbnz %w2, 1b\n\t"
            : "=&r"(lo), "=&r"(hi), "=&r"(status)
            : "r"(exclpair), "r"(i * 0x9e3779b97f4a7c15ULL) : "memory", "cc");
        if ((i & 255) == 0) {
            h = mix(h, excl64);
            h = mix(h, excl32);
        }
    }
    /* A store-exclusive without a preceding load-exclusive (after clrex) must fail. */
    u64 status;
    __asm__ volatile(
        "ldxr %0, [%1]\n\t"
        "clrex\n\t"
        "stxr %w0, xzr, [%1]\n\t"
        : "=&r"(status) : "r"(&excl64) : "memory");
    check("stxr after clrex fails", status, 1);
    h = mix(h, excl64);
    h = mix(h, excl32);
    h = mix(h, excl16);
    h = mix(h, excl8);
    h = mix(h, exclpair[0]);
    h = mix(h, exclpair[1]);
    return h;
}

/* ---- LSE atomics (ARMv8.1) ---- */

static u64 at64 __attribute__((aligned(16)));
static u32 at32;
static u16 at16;
static u8 at8;
static u64 atpair[2] __attribute__((aligned(16)));

#define ATOP(name, insn, reg, var)                                             \
    static inline u64 name(u64 v) {                                            \
        u64 old;                                                               \
        __asm__ volatile(insn " %" reg "1, %" reg "0, [%2]"                    \
                         : "=&r"(old) : "r"(v), "r"(&var) : "memory");         \
        return old;                                                            \
    }
ATOP(ldadd_x, "ldadd", "x", at64)
ATOP(ldadda_x, "ldadda", "x", at64)
ATOP(ldclral_x, "ldclral", "x", at64)
ATOP(ldeorl_x, "ldeorl", "x", at64)
ATOP(ldset_x, "ldset", "x", at64)
ATOP(ldsmax_x, "ldsmax", "x", at64)
ATOP(ldsmin_x, "ldsminal", "x", at64)
ATOP(ldumax_x, "ldumax", "x", at64)
ATOP(ldumin_x, "ldumina", "x", at64)
ATOP(swp_x, "swpal", "x", at64)
ATOP(ldadd_w, "ldaddal", "w", at32)
ATOP(ldsmax_w, "ldsmax", "w", at32)
ATOP(ldumin_w, "ldumin", "w", at32)
ATOP(swp_w, "swp", "w", at32)
ATOP(ldaddh, "ldaddh", "w", at16)
ATOP(ldsminh, "ldsminh", "w", at16)
ATOP(ldeorh, "ldeorah", "w", at16)
ATOP(ldaddb, "ldaddb", "w", at8)
ATOP(ldsmaxb, "ldsmaxb", "w", at8)
ATOP(ldumaxb, "ldumaxlb", "w", at8)
ATOP(swpb, "swpb", "w", at8)

static inline u64 cas_x(u64 expect, u64 v) {
    __asm__ volatile("casal %0, %1, [%2]" : "+r"(expect) : "r"(v), "r"(&at64) : "memory");
    return expect;
}
static inline u64 cas_w(u64 expect, u64 v) {
    __asm__ volatile("cas %w0, %w1, [%2]" : "+r"(expect) : "r"(v), "r"(&at32) : "memory");
    return expect;
}
static inline u64 cash(u64 expect, u64 v) {
    __asm__ volatile("casah %w0, %w1, [%2]" : "+r"(expect) : "r"(v), "r"(&at16) : "memory");
    return expect;
}
static inline u64 casb(u64 expect, u64 v) {
    __asm__ volatile("caslb %w0, %w1, [%2]" : "+r"(expect) : "r"(v), "r"(&at8) : "memory");
    return expect;
}

static u64 test_lse(void) {
    u64 h = 13;
    at64 = 5;
    check("cas success", cas_x(5, 9), 5);
    check("cas stored", at64, 9);
    check("cas failure", cas_x(5, 11), 9);
    check("cas unchanged", at64, 9);
    reseed(0x15e);
    for (u64 i = 0; i < 2000; i++) {
        u64 a = operand(rnd()), b = operand(rnd());
        h = mix(h, ldadd_x(a));
        h = mix(h, ldadda_x(b));
        h = mix(h, ldclral_x(a & ~b));
        h = mix(h, ldeorl_x(b));
        h = mix(h, ldset_x(a & b & 0xf0f0));
        h = mix(h, ldsmax_x(a));
        h = mix(h, ldsmin_x(b));
        h = mix(h, ldumax_x(b));
        h = mix(h, ldumin_x(a | 1));
        h = mix(h, swp_x(a ^ b));
        h = mix(h, ldadd_w(a));
        h = mix(h, ldsmax_w(b));
        h = mix(h, ldumin_w(a | b));
        h = mix(h, ldaddh(b));
        h = mix(h, ldsminh(a));
        h = mix(h, ldeorh(a >> 7));
        h = mix(h, ldaddb(a));
        h = mix(h, ldsmaxb(b));
        h = mix(h, ldumaxb(a >> 3));
        h = mix(h, cas_x(at64 ^ (b & 1), a));
        h = mix(h, cas_w((i & 2) ? at32 : b, a));
        h = mix(h, cash((i & 4) ? at16 : a, b));
        h = mix(h, casb((i & 8) ? at8 : b, a));
        if ((i & 31) == 0) {
            h = mix(h, swp_w(b));
            h = mix(h, swpb(a));
        }
        /* stadd is ldadd with xzr as destination: memory changes, no register result. */
        __asm__ volatile("stadd %0, [%1]" : : "r"(b), "r"(&at64) : "memory");
        /* casp on a 128-bit pair; register pairs must be even-numbered, so pin them. */
        register u64 e0 __asm__("x4") = atpair[0] ^ (a & 1);
        register u64 e1 __asm__("x5") = atpair[1];
        register u64 n0 __asm__("x6") = a;
        register u64 n1 __asm__("x7") = b;
        __asm__ volatile("caspal x4, x5, x6, x7, [%4]"
                         : "+r"(e0), "+r"(e1) : "r"(n0), "r"(n1), "r"(atpair) : "memory");
        h = mix(h, e0);
        h = mix(h, e1);
    }
    h = mix(h, at64);
    h = mix(h, at32);
    h = mix(h, at16);
    h = mix(h, at8);
    h = mix(h, atpair[0] ^ atpair[1]);
    return h;
}

/* ---- control flow: indirect branches, jump tables, recursion ---- */

static u64 op_add(u64 a, u64 b) { return a + b; }
static u64 op_xor(u64 a, u64 b) { return a ^ b; }
static u64 op_mul(u64 a, u64 b) { return a * (b | 1); }
static u64 op_rot(u64 a, u64 b) { return ror64(a, (unsigned)b); }
static u64 (*const ops[])(u64, u64) = { op_add, op_xor, op_mul, op_rot };

static u64 fib(u64 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static u64 ackermann(u64 m, u64 n) {
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static u64 __attribute__((noinline)) dispatch(unsigned k, u64 v) {
    switch (k) {
    case 0: return v + 11;
    case 1: return v ^ 0xdead;
    case 2: return v << 3;
    case 3: return v >> 5;
    case 4: return ~v;
    case 5: return v * 7;
    case 6: return v - 1000;
    case 7: return v | 0x10001;
    case 8: return v & 0xfffff;
    case 9: return ror64(v, 9);
    default: return v;
    }
}

static u64 test_control(void) {
    u64 h = 14;
    check("fib(20)", fib(OPQ(20ULL)), 6765);
    check("ackermann(2,3)", ackermann(OPQ(2ULL), OPQ(3ULL)), 9);
    reseed(0xc0de);
    u64 v = 1;
    for (int i = 0; i < 8000; i++) {
        u64 r = rnd();
        u64 (*volatile fn)(u64, u64) = ops[r & 3];
        v = fn(v, r >> 2);
        v = dispatch((unsigned)(r >> 60) % 12, v);
        if (v & (1ULL << 37))
            v ^= r;
        h = mix(h, v);
    }
    return h;
}

static void run(const char *name, u64 (*fn)(void)) {
    uart_put_named(name, fn());
}

int main(void) {
    u64 isar0 = read_sysreg(ID_AA64ISAR0_EL1);
    unsigned crc = (isar0 >> 16) & 0xf;
    unsigned atomics = (isar0 >> 20) & 0xf;
    /* test_hash reads this buffer too, so it is filled even when CRC32 is absent. */
    fill_crcbuf();
    uart_puts("intcheck: integer ISA checksums\n");
    uart_puts("features: crc32=");
    uart_put_dec(crc);
    uart_puts(" atomics=");
    uart_put_dec(atomics);
    uart_putc('\n');

    run("alu64", test_alu64);
    run("alu32", test_alu32);
    run("mul", test_mul);
    run("div", test_div);
    run("bits", test_bits);
    if (crc)
        run("crc32", test_crc);
    else
        uart_puts("crc32: skipped (no FEAT_CRC32)\n");
    run("csel", test_csel);
    run("bitfield", test_bitfield);
    run("sort", test_sort);
    run("sieve", test_sieve);
    run("hash", test_hash);
    run("strings", test_strings);
    run("loads", test_loads);
    run("pairs", test_pairs);
    run("exclusive", test_exclusive);
    /* ID_AA64ISAR0_EL1.Atomic is 2 when FEAT_LSE is present. */
    if (atomics >= 2)
        run("lse", test_lse);
    else
        uart_puts("lse: skipped (no FEAT_LSE)\n");
    run("control", test_control);

    uart_puts("intcheck: ");
    uart_put_dec(failures);
    uart_puts(failures == 1 ? " failure\n" : " failures\n");
    return 0;
}
