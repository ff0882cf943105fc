// Integer loads and stores: every addressing mode, pairs, exclusives with the
// exclusive monitor, load-acquire/store-release and the LSE atomics.
import type { Fields } from '../../a64/decode-table.js';
import type { Handler } from '../code-pages.js';
import { SLOT_EXCL_ADDR, SLOT_EXCL_SIZE, SLOT_EXCL_VALUE, SLOT_EXCL_VALUE2, SLOT_PC } from '../state-layout.js';
import type { Vcpu } from '../vcpu.js';
import { add64, extend64, out } from './alu.js';
import { signExtend, spReg, zrRead, zrWrite } from './operands.js';

const PC = 2 * SLOT_PC;
const EXCL_ADDR = 2 * SLOT_EXCL_ADDR;
const EXCL_SIZE = 2 * SLOT_EXCL_SIZE;
const EXCL_VALUE = 2 * SLOT_EXCL_VALUE;
const EXCL_VALUE2 = 2 * SLOT_EXCL_VALUE2;

/** One memory access at a computed address: a load into, or a store from, register index `t`. */
type Access = (c: Vcpu, lo: number, hi: number) => void;

/** The access a (size, opc) pair of the load/store register class performs. */
function makeAccess(size: number, opc: number, rt: number, align = false): Access {
  if (opc === 0) {
    const t = zrRead(rt);
    switch (size) {
      case 0: return (c, lo, hi) => c.write8(lo, hi, c.r[t]);
      case 1: return (c, lo, hi) => c.write16(lo, hi, c.r[t], align);
      case 2: return (c, lo, hi) => c.write32(lo, hi, c.r[t], align);
      default: return (c, lo, hi) => c.write64(lo, hi, c.r[t], c.r[t + 1], align);
    }
  }
  const t = zrWrite(rt);
  if (opc === 1) {
    switch (size) {
      case 0: return (c, lo, hi) => { const v = c.read8(lo, hi); c.r[t] = v; c.r[t + 1] = 0; };
      case 1: return (c, lo, hi) => { const v = c.read16(lo, hi, align); c.r[t] = v; c.r[t + 1] = 0; };
      case 2: return (c, lo, hi) => { const v = c.read32(lo, hi, align); c.r[t] = v; c.r[t + 1] = 0; };
      default: return (c, lo, hi) => { c.read64(lo, hi, align); c.r[t] = c.vLo; c.r[t + 1] = c.vHi; };
    }
  }
  if (size === 3) return () => undefined; // PRFM: a hint that never faults
  // opc=2 sign-extends to 64 bits, opc=3 to 32 bits.
  const to64 = opc === 2;
  switch (size) {
    case 0: return (c, lo, hi) => { const v = (c.read8(lo, hi) << 24) >> 24; c.r[t] = v; c.r[t + 1] = to64 ? v >> 31 : 0; };
    case 1: return (c, lo, hi) => { const v = (c.read16(lo, hi, align) << 16) >> 16; c.r[t] = v; c.r[t + 1] = to64 ? v >> 31 : 0; };
    default: return (c, lo, hi) => { const v = c.read32(lo, hi, align); c.r[t] = v; c.r[t + 1] = v >> 31; };
  }
}

function checkSp(c: Vcpu, rn: number): void {
  if (rn === 31) c.checkSpAlignment();
}

/**
 * PRFM/PRFUM (size 3, opc 2): a hint. It accesses nothing, and the Arm ARM
 * leaves prefetches out of the SP alignment check, so it never faults.
 */
const PREFETCH: Handler = () => undefined;

export function buildLdstUimm(f: Fields): Handler {
  if (f.size === 3 && f.opc === 2) return PREFETCH;
  const n = spReg(f.Rn), rn = f.Rn;
  const offset = f.imm12 << f.size;
  const acc = makeAccess(f.size, f.opc, f.Rt);
  return (c) => {
    const r = c.r;
    checkSp(c, rn);
    const lo = (r[n] >>> 0) + offset;
    acc(c, lo | 0, lo >= 0x100000000 ? (r[n + 1] + 1) | 0 : r[n + 1]);
  };
}

/** Unscaled, pre-index, post-index and unprivileged forms: a signed 9-bit byte offset. */
export function buildLdstImm9(f: Fields, mode: 'unscaled' | 'pre' | 'post' | 'unpriv'): Handler {
  const n = spReg(f.Rn), rn = f.Rn;
  const imm = signExtend(f.imm9, 9), immHi = imm >> 31;
  const acc = makeAccess(f.size, f.opc, f.Rt);
  if (mode === 'unpriv') {
    // LDTR/STTR: at EL1 the access is checked against EL0's permissions.
    return (c) => {
      const r = c.r;
      checkSp(c, rn);
      add64(r[n], r[n + 1], imm, immHi, 0);
      const lo = out.lo, hi = out.hi;
      c.beginUnprivileged();
      acc(c, lo, hi);
      c.endUnprivileged();
    };
  }
  if (mode === 'unscaled') {
    if (f.size === 3 && f.opc === 2) return PREFETCH;
    return (c) => {
      const r = c.r;
      checkSp(c, rn);
      add64(r[n], r[n + 1], imm, immHi, 0);
      acc(c, out.lo, out.hi);
    };
  }
  const pre = mode === 'pre';
  return (c) => {
    const r = c.r;
    checkSp(c, rn);
    add64(r[n], r[n + 1], imm, immHi, 0);
    const nlo = out.lo, nhi = out.hi;
    if (pre) acc(c, nlo, nhi);
    else acc(c, r[n], r[n + 1]);
    r[n] = nlo; r[n + 1] = nhi;
  };
}

export function buildLdstReg(f: Fields): Handler {
  if (f.size === 3 && f.opc === 2) return PREFETCH;
  const n = spReg(f.Rn), m = zrRead(f.Rm), rn = f.Rn;
  const option = f.option, amount = f.S ? f.size : 0;
  const acc = makeAccess(f.size, f.opc, f.Rt);
  return (c) => {
    const r = c.r;
    checkSp(c, rn);
    extend64(r[m], r[m + 1], option, amount);
    add64(r[n], r[n + 1], out.lo, out.hi, 0);
    acc(c, out.lo, out.hi);
  };
}

export function buildLdrLiteral(f: Fields): Handler {
  const offset = signExtend(f.imm19, 19) * 4;
  const offHi = offset >> 31;
  // opc: 00 LDR Wt, 01 LDR Xt, 10 LDRSW, 11 PRFM.
  const acc = f.opc === 3 ? makeAccess(3, 2, f.Rt) : makeAccess(f.opc === 1 ? 3 : 2, f.opc === 2 ? 2 : 1, f.Rt);
  return (c) => {
    const r = c.r;
    add64(r[PC], r[PC + 1], offset, offHi, 0);
    acc(c, out.lo, out.hi);
  };
}

export function buildLdstPair(f: Fields): Handler {
  const n = spReg(f.Rn), rn = f.Rn;
  const is64 = f.opc === 2, signed = f.opc === 1, load = f.L === 1;
  const step = is64 ? 8 : 4;
  const imm = signExtend(f.imm7, 7) * step, immHi = imm >> 31;
  const wb = f.idx === 1 || f.idx === 3, post = f.idx === 1;
  const t1r = zrRead(f.Rt), t2r = zrRead(f.Rt2), t1w = zrWrite(f.Rt), t2w = zrWrite(f.Rt2);
  return (c) => {
    const r = c.r;
    checkSp(c, rn);
    add64(r[n], r[n + 1], imm, immHi, 0);
    const nlo = out.lo, nhi = out.hi;
    const alo = post ? r[n] : nlo, ahi = post ? r[n + 1] : nhi;
    const l2 = (alo >>> 0) + step;
    const blo = l2 | 0, bhi = l2 >= 0x100000000 ? (ahi + 1) | 0 : ahi;
    if (load) {
      if (is64) {
        c.read64(alo, ahi);
        const xlo = c.vLo, xhi = c.vHi;
        c.read64(blo, bhi);
        r[t1w] = xlo; r[t1w + 1] = xhi;
        r[t2w] = c.vLo; r[t2w + 1] = c.vHi;
      } else {
        const x = c.read32(alo, ahi), y = c.read32(blo, bhi);
        r[t1w] = x; r[t1w + 1] = signed ? x >> 31 : 0;
        r[t2w] = y; r[t2w + 1] = signed ? y >> 31 : 0;
      }
    } else if (is64) {
      const ylo = r[t2r], yhi = r[t2r + 1];
      c.write64(alo, ahi, r[t1r], r[t1r + 1]);
      c.write64(blo, bhi, ylo, yhi);
    } else {
      const y = r[t2r];
      c.write32(alo, ahi, r[t1r]);
      c.write32(blo, bhi, y);
    }
    if (wb) { r[n] = nlo; r[n + 1] = nhi; }
  };
}

// ---- Exclusives and ordered accesses ----

function baseAddress(c: Vcpu, rn: number): void {
  checkSp(c, rn);
  const n = spReg(rn);
  out.lo = c.r[n];
  out.hi = c.r[n + 1];
}

/** Reads `size` bytes (1..8) at a host offset into out.lo/out.hi, zero-extended. */
function hostRead(c: Vcpu, off: number, size: number): void {
  const dv = c.dv;
  switch (size) {
    case 1: out.lo = dv.getUint8(off); out.hi = 0; return;
    case 2: out.lo = dv.getUint16(off, true); out.hi = 0; return;
    case 4: out.lo = dv.getInt32(off, true); out.hi = 0; return;
    default: out.lo = dv.getInt32(off, true); out.hi = dv.getInt32(off + 4, true);
  }
}

function hostWrite(c: Vcpu, off: number, size: number, lo: number, hi: number): void {
  const dv = c.dv;
  switch (size) {
    case 1: dv.setUint8(off, lo & 0xff); return;
    case 2: dv.setUint16(off, lo & 0xffff, true); return;
    case 4: dv.setInt32(off, lo, true); return;
    default: dv.setInt32(off, lo, true); dv.setInt32(off + 4, hi, true);
  }
}

function armMonitor(c: Vcpu, size: number, lo: number, hi: number, lo2: number, hi2: number): void {
  const r = c.r, pa = c.lastPa;
  r[EXCL_ADDR] = pa % 0x100000000 | 0;
  r[EXCL_ADDR + 1] = Math.floor(pa / 0x100000000);
  r[EXCL_SIZE] = size;
  r[EXCL_VALUE] = lo; r[EXCL_VALUE + 1] = hi;
  r[EXCL_VALUE2] = lo2; r[EXCL_VALUE2 + 1] = hi2;
}

/**
 * Whether a store-exclusive of `size` bytes at the last translated address
 * may succeed: the monitor must hold that address and size, and memory must
 * still hold what the load-exclusive saw (another vcpu's store changes it).
 */
function monitorHolds(c: Vcpu, off: number, size: number, pair: boolean): boolean {
  const r = c.r, pa = c.lastPa;
  if (r[EXCL_SIZE] !== size) return false;
  if ((r[EXCL_ADDR] >>> 0) + (r[EXCL_ADDR + 1] >>> 0) * 0x100000000 !== pa) return false;
  const half = pair ? size / 2 : size;
  hostRead(c, off, half);
  if (out.lo !== r[EXCL_VALUE] || out.hi !== r[EXCL_VALUE + 1]) return false;
  if (pair) {
    hostRead(c, off + half, half);
    if (out.lo !== r[EXCL_VALUE2] || out.hi !== r[EXCL_VALUE2 + 1]) return false;
  }
  return true;
}

export function buildLdstExclusive(f: Fields): Handler {
  const size = 1 << f.size, rn = f.Rn;
  const s = zrWrite(f.Rs);
  if (f.L) {
    const t = zrWrite(f.Rt);
    return (c) => {
      const r = c.r;
      baseAddress(c, rn);
      const off = c.translateAtomic(out.lo, out.hi, size, false);
      hostRead(c, off, size);
      armMonitor(c, size, out.lo, out.hi, 0, 0);
      r[t] = out.lo; r[t + 1] = out.hi;
    };
  }
  const t = zrRead(f.Rt);
  return (c) => {
    const r = c.r;
    baseAddress(c, rn);
    const off = c.translateAtomic(out.lo, out.hi, size, true);
    const ok = monitorHolds(c, off, size, false);
    if (ok) hostWrite(c, off, size, r[t], r[t + 1]);
    r[EXCL_SIZE] = 0;
    r[s] = ok ? 0 : 1; r[s + 1] = 0;
  };
}

export function buildLdstExclusivePair(f: Fields): Handler {
  const half = f.sz ? 8 : 4, size = 2 * half, rn = f.Rn;
  const s = zrWrite(f.Rs);
  if (f.L) {
    const t1 = zrWrite(f.Rt), t2 = zrWrite(f.Rt2);
    return (c) => {
      const r = c.r;
      baseAddress(c, rn);
      const off = c.translateAtomic(out.lo, out.hi, size, false);
      hostRead(c, off, half);
      const alo = out.lo, ahi = out.hi;
      hostRead(c, off + half, half);
      armMonitor(c, size, alo, ahi, out.lo, out.hi);
      r[t1] = alo; r[t1 + 1] = ahi;
      r[t2] = out.lo; r[t2 + 1] = out.hi;
    };
  }
  const t1 = zrRead(f.Rt), t2 = zrRead(f.Rt2);
  return (c) => {
    const r = c.r;
    baseAddress(c, rn);
    const off = c.translateAtomic(out.lo, out.hi, size, true);
    const ok = monitorHolds(c, off, size, true);
    if (ok) {
      hostWrite(c, off, half, r[t1], r[t1 + 1]);
      hostWrite(c, off + half, half, r[t2], r[t2 + 1]);
    }
    r[EXCL_SIZE] = 0;
    r[s] = ok ? 0 : 1; r[s + 1] = 0;
  };
}

/** LDAR/STLR, LDLAR/STLLR and LDAPR: ordinary accesses that must be aligned. */
export function buildOrdered(f: Fields, load: boolean): Handler {
  const rn = f.Rn, n = spReg(rn);
  const acc = makeAccess(f.size, load ? 1 : 0, f.Rt, true);
  return (c) => {
    checkSp(c, rn);
    const r = c.r;
    acc(c, r[n], r[n + 1]);
  };
}

export function buildCas(f: Fields): Handler {
  const size = 1 << f.size, rn = f.Rn;
  const s = zrRead(f.Rs), sw = zrWrite(f.Rs), t = zrRead(f.Rt);
  return (c) => {
    const r = c.r;
    baseAddress(c, rn);
    const off = c.translateAtomic(out.lo, out.hi, size, true, true);
    hostRead(c, off, size);
    const olo = out.lo, ohi = out.hi;
    const cmpLo = size >= 4 ? r[s] : r[s] & (size === 1 ? 0xff : 0xffff);
    const cmpHi = size === 8 ? r[s + 1] : 0;
    if (olo === cmpLo && ohi === cmpHi) hostWrite(c, off, size, r[t], r[t + 1]);
    r[sw] = olo; r[sw + 1] = ohi;
  };
}

export function buildCasp(f: Fields): Handler {
  const half = f.sz ? 8 : 4, rn = f.Rn;
  const s1 = zrRead(f.Rs), s2 = zrRead(f.Rs + 1), t1 = zrRead(f.Rt), t2 = zrRead(f.Rt + 1);
  const s1w = zrWrite(f.Rs), s2w = zrWrite(f.Rs + 1);
  const hiOf = (r: Int32Array, i: number): number => (half === 8 ? r[i + 1] : 0);
  return (c) => {
    const r = c.r;
    baseAddress(c, rn);
    const off = c.translateAtomic(out.lo, out.hi, 2 * half, true, true);
    hostRead(c, off, half);
    const alo = out.lo, ahi = out.hi;
    hostRead(c, off + half, half);
    const blo = out.lo, bhi = out.hi;
    if (alo === r[s1] && ahi === hiOf(r, s1) && blo === r[s2] && bhi === hiOf(r, s2)) {
      const w1lo = r[t1], w1hi = r[t1 + 1], w2lo = r[t2], w2hi = r[t2 + 1];
      hostWrite(c, off, half, w1lo, w1hi);
      hostWrite(c, off + half, half, w2lo, w2hi);
    }
    r[s1w] = alo; r[s1w + 1] = ahi;
    r[s2w] = blo; r[s2w + 1] = bhi;
  };
}

/** Sign- or zero-extends a `size`-byte value held in lo/hi so it compares as a number. */
function asSigned(lo: number, size: number): number {
  return size === 1 ? (lo << 24) >> 24 : size === 2 ? (lo << 16) >> 16 : lo | 0;
}

export function buildAtomic(f: Fields): Handler {
  const size = 1 << f.size, rn = f.Rn;
  const s = zrRead(f.Rs), t = zrWrite(f.Rt);
  const op = f.o3 ? 8 : f.opc;
  const mask = size === 1 ? 0xff : size === 2 ? 0xffff : -1;
  return (c) => {
    const r = c.r;
    baseAddress(c, rn);
    const off = c.translateAtomic(out.lo, out.hi, size, true, true);
    hostRead(c, off, size);
    const olo = out.lo, ohi = out.hi;
    const vlo = r[s] & mask, vhi = size === 8 ? r[s + 1] : 0;
    let nlo: number, nhi: number;
    switch (op) {
      case 0: add64(olo, ohi, vlo, vhi, 0); nlo = out.lo; nhi = out.hi; break;
      case 1: nlo = olo & ~vlo; nhi = ohi & ~vhi; break;
      case 2: nlo = olo ^ vlo; nhi = ohi ^ vhi; break;
      case 3: nlo = olo | vlo; nhi = ohi | vhi; break;
      case 8: nlo = vlo; nhi = vhi; break;
      default: {
        // SMAX, SMIN, UMAX, UMIN: compare at the access size.
        let greater: boolean;
        if (size === 8) {
          if (ohi !== vhi) greater = op <= 5 ? ohi > vhi : (ohi >>> 0) > (vhi >>> 0);
          else greater = (olo >>> 0) > (vlo >>> 0);
        } else if (op <= 5) greater = asSigned(olo, size) > asSigned(vlo, size);
        else greater = (olo >>> 0) > (vlo >>> 0);
        const keepOld = (op === 4 || op === 6) ? greater : !greater;
        nlo = keepOld ? olo : vlo; nhi = keepOld ? ohi : vhi;
      }
    }
    hostWrite(c, off, size, nlo & mask, nhi);
    r[t] = olo & mask; r[t + 1] = ohi;
  };
}
