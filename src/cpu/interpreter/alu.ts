// 64-bit integer arithmetic on pairs of 32-bit halves, without allocation.
// Results come back through the module-level `out` record (lo, hi, flags) so
// the hot path creates no objects and no BigInts.

/** Result registers of the helpers below: low word, high word, NZCV (bits 31:28). */
export const out = { lo: 0, hi: 0, nzcv: 0 };

const TWO32 = 0x100000000;

export const FLAG_N = 0x80000000 | 0;
export const FLAG_Z = 0x40000000;
export const FLAG_C = 0x20000000;
export const FLAG_V = 0x10000000;

/** AddWithCarry on 64 bits: out = a + b + cin, with flags. */
export function adds64(alo: number, ahi: number, blo: number, bhi: number, cin: number): void {
  const lo = (alo >>> 0) + (blo >>> 0) + cin;
  const hi = (ahi >>> 0) + (bhi >>> 0) + (lo >= TWO32 ? 1 : 0);
  const rlo = lo | 0;
  const rhi = hi | 0;
  out.lo = rlo;
  out.hi = rhi;
  out.nzcv = (rhi & FLAG_N) | ((rlo | rhi) === 0 ? FLAG_Z : 0) | (hi >= TWO32 ? FLAG_C : 0)
    | (((ahi ^ rhi) & (bhi ^ rhi)) < 0 ? FLAG_V : 0);
}

export function add64(alo: number, ahi: number, blo: number, bhi: number, cin: number): void {
  const lo = (alo >>> 0) + (blo >>> 0) + cin;
  out.lo = lo | 0;
  out.hi = (ahi + bhi + (lo >= TWO32 ? 1 : 0)) | 0;
}

/** AddWithCarry on 32 bits: out.lo = a + b + cin, with flags. */
export function adds32(a: number, b: number, cin: number): void {
  const sum = (a >>> 0) + (b >>> 0) + cin;
  const r = sum | 0;
  out.lo = r;
  out.hi = 0;
  out.nzcv = (r & FLAG_N) | (r === 0 ? FLAG_Z : 0) | (sum >= TWO32 ? FLAG_C : 0) | (((a ^ r) & (b ^ r)) < 0 ? FLAG_V : 0);
}

export function logicFlags64(lo: number, hi: number): number {
  return (hi & FLAG_N) | ((lo | hi) === 0 ? FLAG_Z : 0);
}

export function logicFlags32(v: number): number {
  return (v & FLAG_N) | (v === 0 ? FLAG_Z : 0);
}

export const SHIFT_LSL = 0;
export const SHIFT_LSR = 1;
export const SHIFT_ASR = 2;
export const SHIFT_ROR = 3;

/** Shifts a 64-bit value by 0..63 (amount already reduced modulo 64). */
export function shift64(lo: number, hi: number, type: number, amount: number): void {
  if (amount === 0) {
    out.lo = lo;
    out.hi = hi;
    return;
  }
  switch (type) {
    case SHIFT_LSL:
      if (amount < 32) {
        out.hi = (hi << amount) | (lo >>> (32 - amount));
        out.lo = lo << amount;
      } else {
        out.hi = lo << (amount - 32);
        out.lo = 0;
      }
      return;
    case SHIFT_LSR:
      if (amount < 32) {
        out.lo = (lo >>> amount) | (hi << (32 - amount));
        out.hi = hi >>> amount;
      } else {
        out.lo = hi >>> (amount - 32);
        out.hi = 0;
      }
      return;
    case SHIFT_ASR:
      if (amount < 32) {
        out.lo = (lo >>> amount) | (hi << (32 - amount));
        out.hi = hi >> amount;
      } else {
        out.lo = hi >> (amount - 32);
        out.hi = hi >> 31;
      }
      return;
    default: {
      // Rotate: a 32-bit rotation swaps the halves first.
      let l = lo, h = hi, a = amount;
      if (a >= 32) {
        l = hi;
        h = lo;
        a -= 32;
      }
      if (a === 0) {
        out.lo = l;
        out.hi = h;
      } else {
        out.lo = (l >>> a) | (h << (32 - a));
        out.hi = (h >>> a) | (l << (32 - a));
      }
    }
  }
}

/** Shifts a 32-bit value by 0..31. */
export function shift32(v: number, type: number, amount: number): number {
  if (amount === 0) return v;
  switch (type) {
    case SHIFT_LSL: return v << amount;
    case SHIFT_LSR: return (v >>> amount) | 0;
    case SHIFT_ASR: return v >> amount;
    default: return (v >>> amount) | (v << (32 - amount));
  }
}

/**
 * ExtendReg: extends the low bits of a register (UXTB..SXTX, option 0..7)
 * and shifts left by 0..4, into out.lo/out.hi.
 */
export function extend64(lo: number, hi: number, option: number, shift: number): void {
  let l: number, h: number;
  switch (option) {
    case 0: l = lo & 0xff; h = 0; break;
    case 1: l = lo & 0xffff; h = 0; break;
    case 2: l = lo; h = 0; break;
    case 3: l = lo; h = hi; break;
    case 4: l = (lo << 24) >> 24; h = l >> 31; break;
    case 5: l = (lo << 16) >> 16; h = l >> 31; break;
    case 6: l = lo; h = lo >> 31; break;
    default: l = lo; h = hi; break;
  }
  shift64(l, h, SHIFT_LSL, shift);
}

/** 32x32 -> 64 unsigned product of two uint32 values, into out.lo/out.hi. */
export function mulu32(a: number, b: number): void {
  a >>>= 0;
  b >>>= 0;
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const low = a0 * b0 + (mid % 65536) * 65536; // < 2^33
  const carry = Math.floor(low / TWO32);
  out.lo = low | 0; // ToInt32 reduces modulo 2^32
  out.hi = (a1 * b1 + Math.floor(mid / 65536) + carry) | 0;
}

/** Low 64 bits of a 64x64 product. */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulu32(alo, blo);
  out.hi = (out.hi + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/** High 64 bits of the unsigned 128-bit product. */
export function umulh64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulu32(alo, blo);
  const p00hi = out.hi >>> 0;
  mulu32(alo, bhi);
  const p01lo = out.lo >>> 0, p01hi = out.hi >>> 0;
  mulu32(ahi, blo);
  const p10lo = out.lo >>> 0, p10hi = out.hi >>> 0;
  mulu32(ahi, bhi);
  const p11lo = out.lo >>> 0, p11hi = out.hi >>> 0;
  const mid = p00hi + p01lo + p10lo; // < 3 * 2^32
  const low = p11lo + p01hi + p10hi + Math.floor(mid / TWO32); // < 4 * 2^32
  out.lo = low | 0;
  out.hi = (p11hi + Math.floor(low / TWO32)) | 0;
}

/** High 64 bits of the signed 128-bit product. */
export function smulh64(alo: number, ahi: number, blo: number, bhi: number): void {
  umulh64(alo, ahi, blo, bhi);
  // Signed high half = unsigned high half - (a<0 ? b : 0) - (b<0 ? a : 0).
  let lo = out.lo, hi = out.hi;
  if (ahi < 0) {
    const l = (lo >>> 0) - (blo >>> 0);
    hi = (hi - bhi - (l < 0 ? 1 : 0)) | 0;
    lo = l | 0;
  }
  if (bhi < 0) {
    const l = (lo >>> 0) - (alo >>> 0);
    hi = (hi - ahi - (l < 0 ? 1 : 0)) | 0;
    lo = l | 0;
  }
  out.lo = lo;
  out.hi = hi;
}

/** Unsigned 64-bit division; division by zero gives zero, as A64 defines. */
export function udiv64(nlo: number, nhi: number, dlo: number, dhi: number): void {
  const n = (nhi >>> 0) * TWO32 + (nlo >>> 0);
  const d = (dhi >>> 0) * TWO32 + (dlo >>> 0);
  if (d === 0) {
    out.lo = 0;
    out.hi = 0;
    return;
  }
  if (n < 2 ** 53 && d < 2 ** 53) {
    // Doubles are exact here; one correction step fixes the rounding of n/d.
    let q = Math.floor(n / d);
    if (q * d > n) q -= 1;
    else if ((q + 1) * d <= n) q += 1;
    out.lo = q % TWO32 | 0;
    out.hi = Math.floor(q / TWO32) | 0;
    return;
  }
  // Restoring division, one bit at a time, on halves.
  let qlo = 0, qhi = 0, rlo = 0, rhi = 0;
  const DL = dlo >>> 0, DH = dhi >>> 0;
  for (let i = 63; i >= 0; i--) {
    rhi = ((rhi << 1) | (rlo >>> 31)) >>> 0;
    const bit = i >= 32 ? (nhi >>> (i - 32)) & 1 : (nlo >>> i) & 1;
    rlo = ((rlo << 1) | bit) >>> 0;
    if (rhi > DH || (rhi === DH && rlo >= DL)) {
      const l = rlo - DL;
      rhi = (rhi - DH - (l < 0 ? 1 : 0)) >>> 0;
      rlo = l >>> 0;
      if (i >= 32) qhi |= 1 << (i - 32);
      else qlo |= 1 << i;
    }
  }
  out.lo = qlo | 0;
  out.hi = qhi | 0;
}

/** Signed 64-bit division, rounding toward zero; INT64_MIN / -1 = INT64_MIN, x / 0 = 0. */
export function sdiv64(nlo: number, nhi: number, dlo: number, dhi: number): void {
  const nneg = nhi < 0, dneg = dhi < 0;
  let al = nlo, ah = nhi, bl = dlo, bh = dhi;
  if (nneg) { al = -al | 0; ah = (~ah + (al === 0 ? 1 : 0)) | 0; }
  if (dneg) { bl = -bl | 0; bh = (~bh + (bl === 0 ? 1 : 0)) | 0; }
  udiv64(al, ah, bl, bh);
  if (nneg !== dneg) {
    const l = -out.lo | 0;
    out.hi = (~out.hi + (l === 0 ? 1 : 0)) | 0;
    out.lo = l;
  }
}

export function clz64(lo: number, hi: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

export function rbit32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return (v >>> 16) | (v << 16);
}

export function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

export function bswap16x2(v: number): number {
  return ((v & 0x00ff00ff) << 8) | ((v >>> 8) & 0x00ff00ff);
}

// Reflected CRC tables for CRC32 (0x04C11DB7) and CRC32C (0x1EDC6F41).
function crcTable(poly: number): Int32Array {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c;
  }
  return t;
}
export const CRC32_TABLE = crcTable(0xedb88320);
export const CRC32C_TABLE = crcTable(0x82f63b78);

/** Accumulates `bytes` bytes of the little-endian value lo:hi into a CRC, without the final inversion (A64 has none). */
export function crcUpdate(table: Int32Array, crc: number, lo: number, hi: number, bytes: number): number {
  for (let i = 0; i < bytes; i++) {
    const b = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
    crc = table[(crc ^ b) & 0xff] ^ (crc >>> 8);
  }
  return crc | 0;
}

/** ConditionHolds for a 4-bit condition and NZCV in bits 31:28. */
export function conditionHolds(cond: number, nzcv: number): boolean {
  const n = (nzcv >>> 31) & 1, z = (nzcv >>> 30) & 1, c = (nzcv >>> 29) & 1, v = (nzcv >>> 28) & 1;
  let result: boolean;
  switch (cond >> 1) {
    case 0: result = z === 1; break;
    case 1: result = c === 1; break;
    case 2: result = n === 1; break;
    case 3: result = v === 1; break;
    case 4: result = c === 1 && z === 0; break;
    case 5: result = n === v; break;
    case 6: result = n === v && z === 0; break;
    default: return true; // AL and NV both mean always
  }
  return (cond & 1) !== 0 ? !result : result;
}

/**
 * DecodeBitMasks: the wmask and tmask of a bitmask immediate or bitfield
 * operation, as [wlo, whi, tlo, thi]. Decode-time only, so BigInt is fine.
 */
export function decodeBitMasks(n: number, imms: number, immr: number, regSize: number): [number, number, number, number] {
  const len = 31 - Math.clz32((n << 6) | (~imms & 0x3f));
  const esize = 1 << len;
  const levels = esize - 1;
  const s = imms & levels;
  const r = immr & levels;
  const d = (s - r) & levels;
  const ones = (k: number): bigint => (1n << BigInt(k)) - 1n;
  const emask = ones(esize);
  const welem = ones(s + 1);
  const telem = ones(d + 1);
  const ror = (x: bigint, k: number): bigint => ((x >> BigInt(k)) | (x << BigInt(esize - k))) & emask;
  const rep = (x: bigint): bigint => {
    let v = 0n;
    for (let i = 0; i < regSize; i += esize) v |= x << BigInt(i);
    return v;
  };
  const w = rep(r === 0 ? welem : ror(welem, r));
  const t = rep(telem);
  const lo = (x: bigint): number => Number(x & 0xffffffffn) | 0;
  const hi = (x: bigint): number => Number((x >> 32n) & 0xffffffffn) | 0;
  return [lo(w), hi(w), lo(t), hi(t)];
}
