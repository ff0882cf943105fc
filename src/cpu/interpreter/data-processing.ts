// Integer data-processing instructions: each builder specialises one decoded
// instruction into a closure over its operands.
import type { Fields } from '../../a64/decode-table.js';
import type { Handler } from '../code-pages.js';
import { SLOT_NZCV, SLOT_PC } from '../state-layout.js';
import {
  add64, adds32, adds64, bswap16x2, bswap32, clz64, conditionHolds, CRC32_TABLE, CRC32C_TABLE, crcUpdate,
  decodeBitMasks, extend64, logicFlags32, logicFlags64, mul64, mulu32, out, rbit32, sdiv64, shift32, shift64,
  smulh64, udiv64, umulh64, SHIFT_ASR, SHIFT_LSL, SHIFT_LSR, SHIFT_ROR,
} from './alu.js';
import { signExtend, spReg, zrRead, zrWrite } from './operands.js';

const NZCV = 2 * SLOT_NZCV;
const PC = 2 * SLOT_PC;

export function buildAddSubImm(f: Fields): Handler {
  const n = spReg(f.Rn);
  const d = f.S ? zrWrite(f.Rd) : spReg(f.Rd);
  const imm = f.imm12 << (f.sh * 12);
  const sub = f.op === 1;
  const blo = sub ? ~imm : imm;
  const bhi = sub ? -1 : 0;
  const cin = sub ? 1 : 0;
  if (f.sf) {
    if (f.S) {
      return (c) => {
        const r = c.r;
        adds64(r[n], r[n + 1], blo, bhi, cin);
        r[d] = out.lo; r[d + 1] = out.hi; r[NZCV] = out.nzcv;
      };
    }
    return (c) => {
      const r = c.r;
      add64(r[n], r[n + 1], blo, bhi, cin);
      r[d] = out.lo; r[d + 1] = out.hi;
    };
  }
  if (f.S) {
    return (c) => {
      const r = c.r;
      adds32(r[n], blo, cin);
      r[d] = out.lo; r[d + 1] = 0; r[NZCV] = out.nzcv;
    };
  }
  return (c) => {
    const r = c.r;
    r[d] = (r[n] + blo + cin) | 0; r[d + 1] = 0;
  };
}

/** The second operand of shifted-register forms, into out.lo/out.hi. */
function shiftedOperand(r: Int32Array, m: number, sf: number, type: number, amount: number): void {
  if (sf) shift64(r[m], r[m + 1], type, amount);
  else { out.lo = shift32(r[m], type, amount); out.hi = 0; }
}

export function buildAddSubShifted(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), d = zrWrite(f.Rd);
  const sub = f.op === 1, S = f.S === 1, sf = f.sf, type = f.shift, amount = f.imm6;
  return addSub(n, d, sf, sub, S, (r) => shiftedOperand(r, m, sf, type, amount));
}

export function buildAddSubExt(f: Fields): Handler {
  const n = spReg(f.Rn), m = zrRead(f.Rm);
  const d = f.S ? zrWrite(f.Rd) : spReg(f.Rd);
  const option = f.option, amount = f.imm3, sf = f.sf;
  return addSub(n, d, sf, f.op === 1, f.S === 1, (r) => extend64(r[m], r[m + 1], option, amount));
}

function addSub(n: number, d: number, sf: number, sub: boolean, S: boolean, operand: (r: Int32Array) => void): Handler {
  const cin = sub ? 1 : 0;
  if (sf) {
    return (c) => {
      const r = c.r;
      operand(r);
      let blo = out.lo, bhi = out.hi;
      if (sub) { blo = ~blo; bhi = ~bhi; }
      if (S) { adds64(r[n], r[n + 1], blo, bhi, cin); r[NZCV] = out.nzcv; }
      else add64(r[n], r[n + 1], blo, bhi, cin);
      r[d] = out.lo; r[d + 1] = out.hi;
    };
  }
  return (c) => {
    const r = c.r;
    operand(r);
    const b = sub ? ~out.lo : out.lo;
    if (S) { adds32(r[n], b, cin); r[NZCV] = out.nzcv; r[d] = out.lo; }
    else r[d] = (r[n] + b + cin) | 0;
    r[d + 1] = 0;
  };
}

export function buildAdcSbc(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), d = zrWrite(f.Rd);
  const sub = f.op === 1, S = f.S === 1;
  if (f.sf) {
    return (c) => {
      const r = c.r;
      const cin = (r[NZCV] >>> 29) & 1;
      const blo = sub ? ~r[m] : r[m], bhi = sub ? ~r[m + 1] : r[m + 1];
      if (S) { adds64(r[n], r[n + 1], blo, bhi, cin); r[NZCV] = out.nzcv; }
      else add64(r[n], r[n + 1], blo, bhi, cin);
      r[d] = out.lo; r[d + 1] = out.hi;
    };
  }
  return (c) => {
    const r = c.r;
    const cin = (r[NZCV] >>> 29) & 1;
    adds32(r[n], sub ? ~r[m] : r[m], cin);
    if (S) r[NZCV] = out.nzcv;
    r[d] = out.lo; r[d + 1] = 0;
  };
}

/** AND/ORR/EOR/ANDS by opc, with the second operand already in blo/bhi. */
function logic(opc: number, alo: number, ahi: number, blo: number, bhi: number): void {
  switch (opc) {
    case 1: out.lo = alo | blo; out.hi = ahi | bhi; return;
    case 2: out.lo = alo ^ blo; out.hi = ahi ^ bhi; return;
    default: out.lo = alo & blo; out.hi = ahi & bhi; return;
  }
}

export function buildLogicImm(f: Fields): Handler {
  const n = zrRead(f.Rn);
  const d = f.opc === 3 ? zrWrite(f.Rd) : spReg(f.Rd);
  const [wlo, whi] = decodeBitMasks(f.N, f.imms, f.immr, f.sf ? 64 : 32);
  const opc = f.opc, sf = f.sf;
  return (c) => {
    const r = c.r;
    logic(opc, r[n], sf ? r[n + 1] : 0, wlo, sf ? whi : 0);
    r[d] = out.lo; r[d + 1] = out.hi;
    if (opc === 3) r[NZCV] = sf ? logicFlags64(out.lo, out.hi) : logicFlags32(out.lo);
  };
}

export function buildLogicShifted(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), d = zrWrite(f.Rd);
  const opc = f.opc, sf = f.sf, type = f.shift, amount = f.imm6, invert = f.N === 1;
  if (sf && amount === 0 && !invert && opc === 1) {
    // ORR Xd, XZR, Xm is MOV, the most frequent form by far.
    return (c) => { const r = c.r; r[d] = r[n] | r[m]; r[d + 1] = r[n + 1] | r[m + 1]; };
  }
  return (c) => {
    const r = c.r;
    shiftedOperand(r, m, sf, type, amount);
    let blo = out.lo, bhi = out.hi;
    if (invert) { blo = ~blo; bhi = sf ? ~bhi : 0; }
    logic(opc, r[n], sf ? r[n + 1] : 0, blo, bhi);
    r[d] = out.lo; r[d + 1] = out.hi;
    if (opc === 3) r[NZCV] = sf ? logicFlags64(out.lo, out.hi) : logicFlags32(out.lo);
  };
}

export function buildMoveWide(f: Fields): Handler {
  const d = zrWrite(f.Rd);
  const shift = f.hw * 16;
  const lo = shift < 32 ? f.imm16 << shift : 0;
  const hi = shift >= 32 ? f.imm16 << (shift - 32) : 0;
  if (f.opc === 3) {
    // MOVK keeps the other bits of the destination.
    const idx = shift < 32 ? d : d + 1;
    const keep = ~(0xffff << (shift & 31));
    const ins = f.imm16 << (shift & 31);
    const sf = f.sf;
    return (c) => {
      const r = c.r;
      r[idx] = (r[idx] & keep) | ins;
      if (!sf) r[d + 1] = 0;
    };
  }
  let vlo = lo, vhi = hi;
  if (f.opc === 0) { vlo = ~lo; vhi = f.sf ? ~hi : 0; }
  return (c) => { const r = c.r; r[d] = vlo; r[d + 1] = vhi; };
}

export function buildBitfield(f: Fields): Handler {
  const n = zrRead(f.Rn), d = zrWrite(f.Rd);
  const sf = f.sf, opc = f.opc, R = f.immr, S = f.imms;
  const [wlo, whi, tlo, thi] = decodeBitMasks(f.N, S, R, sf ? 64 : 32);
  return (c) => {
    const r = c.r;
    let slo: number, shi: number;
    if (sf) { shift64(r[n], r[n + 1], SHIFT_ROR, R); slo = out.lo; shi = out.hi; }
    else { slo = shift32(r[n], SHIFT_ROR, R); shi = 0; }
    const dlo = opc === 1 ? r[d] : 0, dhi = opc === 1 && sf ? r[d + 1] : 0;
    const blo = (dlo & ~wlo) | (slo & wlo), bhi = (dhi & ~whi) | (shi & whi);
    let tplo: number, tphi: number;
    if (opc === 0) {
      // SBFM replicates bit S of the source above the field.
      const bit = S < 32 ? (r[n] >>> S) & 1 : (r[n + 1] >>> (S - 32)) & 1;
      tplo = tphi = bit ? -1 : 0;
    } else if (opc === 1) { tplo = dlo; tphi = dhi; } else { tplo = 0; tphi = 0; }
    r[d] = (tplo & ~tlo) | (blo & tlo);
    r[d + 1] = sf ? (tphi & ~thi) | (bhi & thi) : 0;
  };
}

export function buildExtr(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), d = zrWrite(f.Rd), lsb = f.imms;
  if (f.sf) {
    return (c) => {
      const r = c.r;
      // (Rn:Rm) >> lsb, low 64 bits.
      const ml = r[m], mh = r[m + 1], nl = r[n], nh = r[n + 1];
      let lo: number, hi: number;
      if (lsb === 0) { lo = ml; hi = mh; }
      else if (lsb < 32) { lo = (ml >>> lsb) | (mh << (32 - lsb)); hi = (mh >>> lsb) | (nl << (32 - lsb)); }
      else if (lsb === 32) { lo = mh; hi = nl; }
      else { const s = lsb - 32; lo = (mh >>> s) | (nl << (32 - s)); hi = (nl >>> s) | (nh << (32 - s)); }
      r[d] = lo; r[d + 1] = hi;
    };
  }
  return (c) => {
    const r = c.r;
    r[d] = lsb === 0 ? r[m] : (r[m] >>> lsb) | (r[n] << (32 - lsb));
    r[d + 1] = 0;
  };
}

export function buildAdr(f: Fields, page: boolean): Handler {
  const d = zrWrite(f.Rd);
  const imm = signExtend((f.immhi << 2) | f.immlo, 21);
  if (page) {
    // ADRP: the 4 KiB page of the PC plus imm * 4096, a 33-bit signed offset.
    const offLo = imm << 12;
    const offHi = imm >> 20;
    return (c) => {
      const r = c.r;
      add64(r[PC] & ~0xfff, r[PC + 1], offLo, offHi, 0);
      r[d] = out.lo; r[d + 1] = out.hi;
    };
  }
  const hiExt = imm >> 31;
  return (c) => {
    const r = c.r;
    add64(r[PC], r[PC + 1], imm, hiExt, 0);
    r[d] = out.lo; r[d + 1] = out.hi;
  };
}

export function buildCsel(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), d = zrWrite(f.Rd);
  const cond = f.cond, sf = f.sf, invert = f.op === 1, increment = f.o2 === 1;
  return (c) => {
    const r = c.r;
    if (conditionHolds(cond, r[NZCV])) {
      r[d] = r[n]; r[d + 1] = sf ? r[n + 1] : 0;
      return;
    }
    let lo = r[m], hi = sf ? r[m + 1] : 0;
    if (invert) { lo = ~lo; hi = sf ? ~hi : 0; }
    if (increment) {
      const l = (lo >>> 0) + 1;
      lo = l | 0;
      if (sf && l > 0xffffffff) hi = (hi + 1) | 0;
    }
    r[d] = lo; r[d + 1] = hi;
  };
}

export function buildCcmp(f: Fields, immediate: boolean): Handler {
  const n = zrRead(f.Rn), m = immediate ? 0 : zrRead(f.Rm), imm = immediate ? f.imm5 : 0;
  const cond = f.cond, sf = f.sf, sub = f.op === 1, flags = f.nzcv << 28;
  return (c) => {
    const r = c.r;
    if (!conditionHolds(cond, r[NZCV])) { r[NZCV] = flags; return; }
    let blo = immediate ? imm : r[m], bhi = immediate ? 0 : r[m + 1];
    if (sub) { blo = ~blo; bhi = ~bhi; }
    if (sf) adds64(r[n], r[n + 1], blo, bhi, sub ? 1 : 0);
    else adds32(r[n], blo, sub ? 1 : 0);
    r[NZCV] = out.nzcv;
  };
}

export function buildDp3(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), a = zrRead(f.Ra), d = zrWrite(f.Rd);
  const sub = f.o0 === 1;
  switch (f.op31) {
    case 0:
      if (!f.sf) {
        return (c) => {
          const r = c.r;
          const p = Math.imul(r[n], r[m]);
          r[d] = sub ? (r[a] - p) | 0 : (r[a] + p) | 0; r[d + 1] = 0;
        };
      }
      return (c) => {
        const r = c.r;
        mul64(r[n], r[n + 1], r[m], r[m + 1]);
        accumulate(r, a, d, sub);
      };
    case 1: // SMADDL/SMSUBL
      return (c) => {
        const r = c.r;
        const x = r[n], y = r[m];
        mulu32(x, y);
        // The signed product's high word corrects the unsigned one by the operands' signs.
        let hi = out.hi;
        if (x < 0) hi = (hi - y) | 0;
        if (y < 0) hi = (hi - x) | 0;
        out.hi = hi;
        accumulate(r, a, d, sub);
      };
    case 5: // UMADDL/UMSUBL
      return (c) => {
        const r = c.r;
        mulu32(r[n], r[m]);
        accumulate(r, a, d, sub);
      };
    case 2:
      return (c) => { const r = c.r; smulh64(r[n], r[n + 1], r[m], r[m + 1]); r[d] = out.lo; r[d + 1] = out.hi; };
    default:
      return (c) => { const r = c.r; umulh64(r[n], r[n + 1], r[m], r[m + 1]); r[d] = out.lo; r[d + 1] = out.hi; };
  }
}

/** Rd = Ra +/- the product in out.lo/out.hi. */
function accumulate(r: Int32Array, a: number, d: number, sub: boolean): void {
  let plo = out.lo, phi = out.hi, cin = 0;
  if (sub) { plo = ~plo; phi = ~phi; cin = 1; }
  add64(r[a], r[a + 1], plo, phi, cin);
  r[d] = out.lo; r[d + 1] = out.hi;
}

export function buildDp2(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), d = zrWrite(f.Rd), sf = f.sf;
  switch (f.opcode) {
    case 2: // UDIV
      if (!sf) return (c) => { const r = c.r; const y = r[m] >>> 0; r[d] = y === 0 ? 0 : ((r[n] >>> 0) / y) | 0; r[d + 1] = 0; };
      return (c) => { const r = c.r; udiv64(r[n], r[n + 1], r[m], r[m + 1]); r[d] = out.lo; r[d + 1] = out.hi; };
    case 3: // SDIV
      if (!sf) {
        return (c) => {
          const r = c.r;
          const x = r[n], y = r[m];
          // INT32_MIN / -1 wraps back to INT32_MIN; Math.trunc gives 2^31 which |0 wraps.
          r[d] = y === 0 ? 0 : Math.trunc(x / y) | 0; r[d + 1] = 0;
        };
      }
      return (c) => { const r = c.r; sdiv64(r[n], r[n + 1], r[m], r[m + 1]); r[d] = out.lo; r[d + 1] = out.hi; };
    default: {
      const type = f.opcode - 8;
      if (!sf) return (c) => { const r = c.r; r[d] = shift32(r[n], type, r[m] & 31); r[d + 1] = 0; };
      return (c) => { const r = c.r; shift64(r[n], r[n + 1], type, r[m] & 63); r[d] = out.lo; r[d + 1] = out.hi; };
    }
  }
}

export function buildCrc32(f: Fields): Handler {
  const n = zrRead(f.Rn), m = zrRead(f.Rm), d = zrWrite(f.Rd);
  const table = f.C ? CRC32C_TABLE : CRC32_TABLE;
  const bytes = 1 << f.sz;
  return (c) => {
    const r = c.r;
    r[d] = crcUpdate(table, r[n], r[m], r[m + 1], bytes); r[d + 1] = 0;
  };
}

export function buildDp1(f: Fields): Handler {
  const n = zrRead(f.Rn), d = zrWrite(f.Rd), sf = f.sf;
  switch (f.opcode) {
    case 0: // RBIT
      if (!sf) return (c) => { const r = c.r; r[d] = rbit32(r[n]); r[d + 1] = 0; };
      return (c) => { const r = c.r; const lo = r[n]; r[d] = rbit32(r[n + 1]); r[d + 1] = rbit32(lo); };
    case 1: // REV16
      if (!sf) return (c) => { const r = c.r; r[d] = bswap16x2(r[n]); r[d + 1] = 0; };
      return (c) => { const r = c.r; r[d] = bswap16x2(r[n]); r[d + 1] = bswap16x2(r[n + 1]); };
    case 2: // REV32 (64-bit) or REV (32-bit)
      if (!sf) return (c) => { const r = c.r; r[d] = bswap32(r[n]); r[d + 1] = 0; };
      return (c) => { const r = c.r; r[d] = bswap32(r[n]); r[d + 1] = bswap32(r[n + 1]); };
    case 3: // REV (64-bit)
      return (c) => { const r = c.r; const lo = r[n]; r[d] = bswap32(r[n + 1]); r[d + 1] = bswap32(lo); };
    case 4: // CLZ
      if (!sf) return (c) => { const r = c.r; r[d] = Math.clz32(r[n]); r[d + 1] = 0; };
      return (c) => { const r = c.r; r[d] = clz64(r[n], r[n + 1]); r[d + 1] = 0; };
    default: // CLS: leading sign bits, not counting the sign bit itself
      if (!sf) return (c) => { const r = c.r; const v = r[n]; r[d] = Math.clz32(v ^ (v >> 31)) - 1; r[d + 1] = 0; };
      return (c) => {
        const r = c.r;
        const s = r[n + 1] >> 31;
        r[d] = clz64(r[n] ^ s, r[n + 1] ^ s) - 1; r[d + 1] = 0;
      };
  }
}

export { SHIFT_ASR, SHIFT_LSL, SHIFT_LSR };
