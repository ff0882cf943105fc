// Independent BigInt reference models of the A64 pseudocode the directed
// instruction tests compare against. Written from the Arm ARM's shared
// pseudocode (AddWithCarry, DecodeBitMasks, ConditionHolds, ...) and kept
// deliberately naive: these must not share code or shortcuts with the
// interpreter they check.

export const M64 = (1n << 64n) - 1n;
export const M32 = 0xffffffffn;

export function mask(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}

export function uint(v: bigint, bits: number): bigint {
  return BigInt.asUintN(bits, v);
}

export function sint(v: bigint, bits: number): bigint {
  return BigInt.asIntN(bits, v);
}

/** NZCV in bits 31:28, as the vcpu reports it. */
export function flags(n: boolean, z: boolean, c: boolean, v: boolean): number {
  return ((n ? 8 : 0) | (z ? 4 : 0) | (c ? 2 : 0) | (v ? 1 : 0)) * 0x10000000;
}

/** The shared pseudocode's AddWithCarry: result and NZCV for an N-bit add. */
export function addWithCarry(x: bigint, y: bigint, carryIn: 0 | 1, bits: number): { result: bigint; nzcv: number } {
  const ux = uint(x, bits), uy = uint(y, bits);
  const unsignedSum = ux + uy + BigInt(carryIn);
  const signedSum = sint(ux, bits) + sint(uy, bits) + BigInt(carryIn);
  const result = uint(unsignedSum, bits);
  const n = (result >> BigInt(bits - 1)) === 1n;
  const z = result === 0n;
  const c = result !== unsignedSum;
  const v = sint(result, bits) !== signedSum;
  return { result, nzcv: flags(n, z, c, v) };
}

export function not(x: bigint, bits: number): bigint {
  return uint(~x, bits);
}

export function ror(x: bigint, amount: number, bits: number): bigint {
  const a = BigInt(amount % bits), b = BigInt(bits);
  const v = uint(x, bits);
  if (a === 0n) return v;
  return uint((v >> a) | (v << (b - a)), bits);
}

export function replicate(x: bigint, esize: number, bits: number): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i += esize) v |= uint(x, esize) << BigInt(i);
  return v;
}

/** ShiftReg: LSL/LSR/ASR/ROR (0..3) of an N-bit value by 0..N-1. */
export function shiftReg(x: bigint, type: number, amount: number, bits: number): bigint {
  const v = uint(x, bits), a = BigInt(amount);
  switch (type) {
    case 0: return uint(v << a, bits);
    case 1: return v >> a;
    case 2: return uint(sint(v, bits) >> a, bits);
    default: return ror(v, amount, bits);
  }
}

/** ExtendReg with option 0..7 (UXTB..SXTX) and a left shift 0..4. */
export function extendReg(x: bigint, option: number, shift: number, bits: number): bigint {
  const len = [8, 16, 32, 64][option & 3];
  const unsigned = (option & 4) === 0;
  const v = unsigned ? uint(x, len) : sint(x, len);
  return uint(v << BigInt(shift), bits);
}

/**
 * DecodeBitMasks(immN, imms, immr, immediate, M) from the Arm ARM, or
 * undefined when the encoding is reserved.
 */
export function decodeBitMasksRef(
  immN: number, imms: number, immr: number, immediate: boolean, regSize: number,
): { wmask: bigint; tmask: bigint } | undefined {
  // len = HighestSetBit(immN:NOT(imms))
  const combined = (immN << 6) | (~imms & 0x3f);
  let len = -1;
  for (let b = 6; b >= 0; b--) {
    if ((combined >> b) & 1) { len = b; break; }
  }
  if (len < 1) return undefined;
  if (regSize < (1 << len)) return undefined;
  const levels = (1 << len) - 1;
  if (immediate && (imms & levels) === levels) return undefined;
  const s = imms & levels;
  const r = immr & levels;
  const diff = (s - r) & levels; // 6-bit subtraction, then masked to the element
  const esize = 1 << len;
  const d = diff & levels;
  const welem = mask(s + 1);
  const telem = mask(d + 1);
  return {
    wmask: replicate(ror(welem, r, esize), esize, regSize),
    tmask: replicate(telem, esize, regSize),
  };
}

/** ConditionHolds(cond) for NZCV in bits 31:28. */
export function conditionHoldsRef(cond: number, nzcv: number): boolean {
  const N = ((nzcv >>> 31) & 1) === 1, Z = ((nzcv >>> 30) & 1) === 1;
  const C = ((nzcv >>> 29) & 1) === 1, V = ((nzcv >>> 28) & 1) === 1;
  let result: boolean;
  switch (cond >> 1) {
    case 0: result = Z; break;
    case 1: result = C; break;
    case 2: result = N; break;
    case 3: result = V; break;
    case 4: result = C && !Z; break;
    case 5: result = N === V; break;
    case 6: result = N === V && !Z; break;
    default: result = true; break;
  }
  if ((cond & 1) === 1 && cond !== 15) result = !result;
  return result;
}

export const CONDITION_NAMES = ['eq', 'ne', 'cs', 'cc', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'];

/** Bit-serial reflected CRC update (no table, no inversions), as the CRC32 instructions define it. */
export function crcBitwise(crc: number, bytes: Iterable<number>, reflectedPoly: number): number {
  let c = crc >>> 0;
  for (const byte of bytes) {
    c ^= byte & 0xff;
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ reflectedPoly : c >>> 1;
  }
  return c >>> 0;
}

export const CRC32_POLY_REFLECTED = 0xedb88320;
export const CRC32C_POLY_REFLECTED = 0x82f63b78;

/** The little-endian bytes of the low `n` bytes of a value. */
export function leBytes(v: bigint, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return out;
}

export function clzRef(x: bigint, bits: number): number {
  for (let i = bits - 1; i >= 0; i--) if ((x >> BigInt(i)) & 1n) return bits - 1 - i;
  return bits;
}

export function clsRef(x: bigint, bits: number): number {
  const v = uint(x, bits);
  const top = (v >> BigInt(bits - 1)) & 1n;
  let n = 0;
  for (let i = bits - 2; i >= 0; i--) {
    if (((v >> BigInt(i)) & 1n) !== top) break;
    n++;
  }
  return n;
}

export function rbitRef(x: bigint, bits: number): bigint {
  let r = 0n;
  for (let i = 0; i < bits; i++) if ((x >> BigInt(i)) & 1n) r |= 1n << BigInt(bits - 1 - i);
  return r;
}

/** Reverses the bytes inside each `container`-bit chunk of an N-bit value (REV16/REV32/REV64). */
export function revBytes(x: bigint, container: number, bits: number): bigint {
  let r = 0n;
  for (let base = 0; base < bits; base += container) {
    const bytes = container / 8;
    for (let i = 0; i < bytes; i++) {
      const b = (x >> BigInt(base + 8 * i)) & 0xffn;
      r |= b << BigInt(base + 8 * (bytes - 1 - i));
    }
  }
  return r;
}

/** A deterministic xorshift64* stream of 64-bit values, so failures reproduce. */
export function prng(seed: bigint): () => bigint {
  let s = uint(seed, 64) || 1n;
  return () => {
    s ^= s >> 12n;
    s ^= uint(s << 25n, 64);
    s ^= s >> 27n;
    return uint(s * 0x2545f4914f6cdd1dn, 64);
  };
}

/** Values around every boundary the flag and shift logic cares about. */
export const EDGE64: readonly bigint[] = [
  0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x1_0000_0001n,
  0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0x8000_0000_0000_0001n,
  0xffff_ffff_ffff_fffen, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_0000_0000n,
  0x0000_0001_ffff_ffffn, 0x1234_5678_9abc_def0n, 0xfedc_ba98_7654_3210n,
];

/** EDGE64 plus `extra` pseudo-random values. */
export function sampleValues(seed: bigint, extra: number): bigint[] {
  const next = prng(seed);
  const out = [...EDGE64];
  for (let i = 0; i < extra; i++) out.push(next());
  return out;
}

export function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
}
