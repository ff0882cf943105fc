/*
 * A CPU-bound bare-metal guest for the whole-guest benchmark: checksums,
 * sorting, sieving, an integer matrix multiply and memory copies, about 10^8
 * instructions in all. Prints one line per kernel so that warmboot's output
 * can be compared with QEMU's byte for byte.
 */
#include "runtime.h"

#define N_BYTES (1u << 20)
#define N_SORT (1u << 16)
#define N_SIEVE (1u << 21)
#define N_MAT 48

static u8 buf[N_BYTES];
static u8 copy[N_BYTES];
static u32 keys[N_SORT];
static u8 composite[N_SIEVE];
static u64 ma[N_MAT][N_MAT], mb[N_MAT][N_MAT], mc[N_MAT][N_MAT];

static u64 rng = 0x9e3779b97f4a7c15ull;
static u64 next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static u64 checksums(void) {
    u64 fnv = 0xcbf29ce484222325ull;
    u32 a = 1, b = 0;
    for (int round = 0; round < 4; round++) {
        for (u32 i = 0; i < N_BYTES; i++) {
            fnv = (fnv ^ buf[i]) * 0x100000001b3ull;
            a = (a + buf[i]) % 65521;
            b = (b + a) % 65521;
        }
    }
    return fnv ^ ((u64)b << 16 | a);
}

static void quicksort(u32 *v, int lo, int hi) {
    while (lo < hi) {
        u32 p = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p) i++;
            while (v[j] > p) j--;
            if (i <= j) { u32 t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
        }
        if (j - lo < hi - i) { quicksort(v, lo, j); lo = i; } else { quicksort(v, i, hi); hi = j; }
    }
}

static u64 sorting(void) {
    u64 h = 0;
    for (int round = 0; round < 3; round++) {
        for (u32 i = 0; i < N_SORT; i++) keys[i] = (u32)next();
        quicksort(keys, 0, N_SORT - 1);
        for (u32 i = 1; i < N_SORT; i++) if (keys[i - 1] > keys[i]) return 0;
        h = h * 31 + keys[N_SORT / 2];
    }
    return h;
}

static u64 sieve(void) {
    u64 count = 0;
    for (u32 i = 0; i < N_SIEVE; i++) composite[i] = 0;
    for (u32 i = 2; (u64)i * i < N_SIEVE; i++)
        if (!composite[i]) for (u32 j = i * i; j < N_SIEVE; j += i) composite[j] = 1;
    for (u32 i = 2; i < N_SIEVE; i++) count += !composite[i];
    return count;
}

static u64 matmul(void) {
    for (int i = 0; i < N_MAT; i++)
        for (int j = 0; j < N_MAT; j++) { ma[i][j] = next() & 0xffff; mb[i][j] = next() & 0xffff; }
    u64 h = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N_MAT; i++)
            for (int j = 0; j < N_MAT; j++) {
                u64 s = 0;
                for (int k = 0; k < N_MAT; k++) s += ma[i][k] * mb[k][j];
                mc[i][j] = s;
            }
        for (int i = 0; i < N_MAT; i++) for (int j = 0; j < N_MAT; j++) { h = h * 33 + mc[i][j]; ma[i][j] = mc[i][j] & 0xffff; }
    }
    return h;
}

static u64 copies(void) {
    u64 h = 0;
    for (int round = 0; round < 8; round++) {
        const u64 *s = (const u64 *)buf;
        u64 *d = (u64 *)copy;
        for (u32 i = 0; i < N_BYTES / 8; i += 2) { u64 x = s[i], y = s[i + 1]; d[i] = y; d[i + 1] = x; }
        h += ((u64 *)copy)[round * 1000];
    }
    return h;
}

int main(void) {
    for (u32 i = 0; i < N_BYTES; i++) buf[i] = (u8)next();
    uart_put_named("checksum", checksums());
    uart_put_named("sort", sorting());
    uart_put_named("sieve", sieve());
    uart_put_named("matmul", matmul());
    uart_put_named("copy", copies());
    return 0;
}
