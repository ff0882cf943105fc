// Bit-level encoders for the handful of fixed instructions the harness itself
// needs (prologue, epilogue, address set-up). Written from the ARM ARM field
// layouts, independently of src/a64, so a decoder bug cannot hide in both.

export const SP = 31;
export const XZR = 31;

/** MOVZ Xd, #imm16, LSL #(16*hw). */
export function movz(rd: number, imm16: number, hw = 0): number {
  return (0xd2800000 | (hw << 21) | ((imm16 & 0xffff) << 5) | rd) >>> 0;
}

/** MOVK Xd, #imm16, LSL #(16*hw). */
export function movk(rd: number, imm16: number, hw = 0): number {
  return (0xf2800000 | (hw << 21) | ((imm16 & 0xffff) << 5) | rd) >>> 0;
}

/** The shortest MOVZ/MOVK sequence that puts a 64-bit constant in Xd. */
export function mov64(rd: number, value: bigint): number[] {
  const v = BigInt.asUintN(64, value);
  const words: number[] = [];
  for (let hw = 0; hw < 4; hw++) {
    const part = Number((v >> BigInt(16 * hw)) & 0xffffn);
    if (part === 0) continue;
    words.push(words.length === 0 ? movz(rd, part, hw) : movk(rd, part, hw));
  }
  return words.length === 0 ? [movz(rd, 0)] : words;
}

/** ADD/SUB (immediate), 64-bit, no flags: Xd|SP = Xn|SP +/- imm12 << (12*sh). */
export function addImm(rd: number, rn: number, imm12: number, sh = 0, sub = false): number {
  return ((sub ? 0xd1000000 : 0x91000000) | (sh << 22) | (imm12 << 10) | (rn << 5) | rd) >>> 0;
}

/** Xd = Xn + k for any |k| < 2^24, in one or two instructions. */
export function addConst(rd: number, rn: number, k: number): number[] {
  const sub = k < 0;
  const a = Math.abs(k);
  if (a >= 1 << 24) throw new RangeError(`offset ${k} out of range`);
  const hi = a >>> 12, lo = a & 0xfff;
  if (hi === 0) return [addImm(rd, rn, lo, 0, sub)];
  const words = [addImm(rd, rn, hi, 1, sub)];
  if (lo !== 0) words.push(addImm(rd, rd, lo, 0, sub));
  return words;
}

/** LDR Xt, [Xn, #off] with off a multiple of 8. */
export function ldrX(rt: number, rn: number, off: number): number {
  return (0xf9400000 | ((off / 8) << 10) | (rn << 5) | rt) >>> 0;
}

/** STR Xt, [Xn, #off] with off a multiple of 8. */
export function strX(rt: number, rn: number, off: number): number {
  return (0xf9000000 | ((off / 8) << 10) | (rn << 5) | rt) >>> 0;
}

export function msrNzcv(rt: number): number {
  return (0xd51b4200 | rt) >>> 0;
}

export function mrsNzcv(rt: number): number {
  return (0xd53b4200 | rt) >>> 0;
}

export const CLREX = 0xd503305f;
export const NOP = 0xd503201f;
export const SVC0 = 0xd4000001;

/** MRS Xt, <system register (op0=3, op1, CRn, CRm, op2)>. */
export function mrs(rt: number, op1: number, crn: number, crm: number, op2: number): number {
  return (0xd5380000 | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5) | rt) >>> 0;
}

/** MSR <system register (op0=3, op1, CRn, CRm, op2)>, Xt. */
export function msr(op1: number, crn: number, crm: number, op2: number, rt: number): number {
  return (0xd5180000 | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5) | rt) >>> 0;
}

export const ELR_EL1 = [0, 4, 0, 1] as const;
export const ESR_EL1 = [0, 5, 2, 0] as const;
export const TPIDR_EL1 = [0, 13, 0, 4] as const;
export const TPIDR_EL0 = [3, 13, 0, 2] as const;
export const TPIDRRO_EL0 = [3, 13, 0, 3] as const;

/** LSR Xd, Xn, #shift (UBFM Xd, Xn, #shift, #63). */
export function lsrImm(rd: number, rn: number, shift: number): number {
  return (0xd3400000 | (shift << 16) | (63 << 10) | (rn << 5) | rd) >>> 0;
}

/** ADD Xd, Xn, Xm. */
export function addReg(rd: number, rn: number, rm: number): number {
  return (0x8b000000 | (rm << 16) | (rn << 5) | rd) >>> 0;
}

/** CBNZ Xt, . : spins while Xt is non-zero. */
export function cbnzSelf(rt: number): number {
  return (0xb5000000 | rt) >>> 0;
}

export const ERET = 0xd69f03e0;
export const RET = 0xd65f03c0;
