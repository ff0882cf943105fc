// Random A64 integer programs. Every instruction is built from its encoding
// template with random fields, under the constraints that keep a program
// valid and deterministic on any conforming implementation:
//  - x28 holds the case's data region and is never written;
//  - memory is addressed through a register set up (from x28) by the unit
//    itself, so every access stays inside the 512-byte scratch buffer and is
//    naturally aligned whenever the instruction requires it;
//  - no CONSTRAINED UNPREDICTABLE register overlaps (writeback base equal to a
//    transfer register, LDP/LDXP with Rt == Rt2, store-exclusive status equal
//    to a data or base register);
//  - store-exclusives only ever follow a matching load-exclusive with nothing
//    in between that could touch memory, or follow CLREX (so they must fail),
//    since success in any other case is IMPLEMENTATION DEFINED;
//  - branches only jump forward over whole units, so a program is straight
//    line code with holes.
// And where QEMU (7.2, user mode) is not a faithful oracle:
//  - SP is only ever a 16-byte aligned base: QEMU does not implement SP
//    alignment checking (SCTLR_EL1.SA0), which warmboot does;
//  - LDAPR is never misaligned: QEMU 7.2 does not alignment-check it;
//  - encodings of features QEMU's max CPU has and warmboot's does not
//    (MTE, pointer authentication, FlagM) are not generated.
// A "unit" is one tested instruction (an exclusive pair counts as one) plus
// the set-up words it needs; minimisation removes whole units.
import { addConst, CLREX, mov64 } from './a64-encode.js';
import { Rng } from './rng.js';

export const BASE_REG = 28;
export const SCRATCH_BYTES = 512;
/** Offset of the 4 KiB page boundary in the scratch buffer (the harness places it so). */
export const PAGE_BOUNDARY = 0x100;

export interface BranchSpec {
  /** How many following units the branch jumps over when taken. */
  readonly skip: number;
  /** Words in the unit. */
  readonly length: number;
  /** The unit's words, given the distance from its first word to the target, in words. */
  readonly encode: (targetWords: number) => number[];
}

export interface Unit {
  readonly kind: string;
  readonly words?: readonly number[];
  readonly branch?: BranchSpec;
}

export interface InitialState {
  /** x0..x30; entry 28 is ignored (the harness sets x28). */
  readonly x: readonly bigint[];
  readonly nzcv: number;
  readonly sp: bigint;
  readonly scratch: Uint8Array;
}

export interface TestProgram {
  readonly init: InitialState;
  readonly units: readonly Unit[];
}

/** Resolves branch offsets: a unit list becomes its body words. */
export function layoutUnits(units: readonly Unit[]): number[] {
  const lengths = units.map((u) => (u.branch ? u.branch.length : u.words!.length));
  const out: number[] = [];
  units.forEach((u, i) => {
    if (!u.branch) {
      out.push(...u.words!);
      return;
    }
    let skipped = 0;
    for (let j = i + 1; j <= i + u.branch.skip && j < units.length; j++) skipped += lengths[j];
    const words = u.branch.encode(u.branch.length + skipped);
    if (words.length !== u.branch.length) throw new Error(`branch unit ${u.kind} has the wrong length`);
    out.push(...words);
  });
  return out;
}

const u = (x: number): number => x >>> 0;

/** Values that make edge cases likely: zero, all ones, sign boundaries, small numbers. */
export function interestingValue(rng: Rng): bigint {
  switch (rng.int(10)) {
    case 0: return 0n;
    case 1: return BigInt(rng.range(1, 16));
    case 2: return BigInt.asUintN(64, -BigInt(rng.range(1, 16)));
    case 3: return rng.pick([
      0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffn, 0x80000000n, 0x7fffffffn, 0x100000000n,
      0xffffffffffffffffn, 0xffffffff80000000n, 0xffffffff00000000n, 0x00000000ffff0000n,
    ]);
    case 4: return BigInt(rng.u32());
    case 5: return BigInt.asUintN(64, BigInt(rng.u32() | 0));
    case 6: return 1n << BigInt(rng.int(64));
    default: return rng.u64();
  }
}

export type UnitKind =
  | 'addsubImm' | 'addsubShifted' | 'addsubExt' | 'logicImm' | 'logicShifted' | 'moveWide' | 'bitfield' | 'extr'
  | 'adcSbc' | 'ccmp' | 'csel' | 'dp1' | 'dp2' | 'dp3' | 'crc32' | 'adr' | 'nzcvMove'
  | 'ldstUimm' | 'ldstImm9' | 'ldstReg' | 'ldstPair' | 'ldrLiteral' | 'ordered' | 'exclusive' | 'atomic' | 'cas'
  | 'casp' | 'branch' | 'randomEncoding' | 'mutatedAccess';

const UNIT_WEIGHTS: Record<UnitKind, number> = {
  addsubImm: 5, addsubShifted: 5, addsubExt: 4, logicImm: 5, logicShifted: 5, moveWide: 3, bitfield: 5, extr: 3,
  adcSbc: 4, ccmp: 4, csel: 4, dp1: 4, dp2: 4, dp3: 5, crc32: 2, adr: 1, nzcvMove: 1,
  ldstUimm: 5, ldstImm9: 6, ldstReg: 5, ldstPair: 6, ldrLiteral: 1, ordered: 2, exclusive: 4, atomic: 4, cas: 2,
  casp: 2, branch: 5, randomEncoding: 8, mutatedAccess: 6,
};

const DP_KINDS: UnitKind[] = [
  'addsubImm', 'addsubShifted', 'addsubExt', 'logicImm', 'logicShifted', 'moveWide', 'bitfield', 'extr', 'adcSbc',
  'ccmp', 'csel', 'dp1', 'dp2', 'dp3', 'crc32', 'adr', 'nzcvMove',
];

/** One program's generator state. */
export class ProgramGenerator {
  /** Registers most operands are drawn from, so values flow between instructions. */
  private readonly hot: number[];
  /** Registers nothing may write right now (a base awaited by a store-exclusive). */
  private forbidden = new Set<number>();

  constructor(private readonly rng: Rng) {
    this.hot = [];
    while (this.hot.length < 7) {
      const r = rng.int(31);
      if (r !== BASE_REG && !this.hot.includes(r)) this.hot.push(r);
    }
  }

  program(length: number): TestProgram {
    const rng = this.rng;
    const x: bigint[] = [];
    for (let i = 0; i < 31; i++) x.push(interestingValue(rng));
    const scratch = new Uint8Array(SCRATCH_BYTES);
    for (let i = 0; i < SCRATCH_BYTES; i += 4) new DataView(scratch.buffer).setUint32(i, rng.u32(), true);
    const init: InitialState = { x, nzcv: rng.int(16) << 28, sp: interestingValue(rng), scratch };
    const units: Unit[] = [];
    for (let i = 0; i < length; i++) units.push(this.unit(rng.weighted(UNIT_WEIGHTS)));
    return { init, units };
  }

  unit(kind: UnitKind): Unit {
    const w = (...words: number[]): Unit => ({ kind, words: words.map(u) });
    const rng = this.rng;
    switch (kind) {
      case 'addsubImm': {
        const sf = rng.int(2), op = rng.int(2), S = rng.int(2);
        const imm12 = rng.chance(0.5) ? rng.int(16) : rng.int(4096);
        return w((sf << 31) | (op << 30) | (S << 29) | (0b100010 << 23) | (rng.int(2) << 22) | (imm12 << 10)
          | (this.src() << 5) | this.dst());
      }
      case 'addsubShifted': {
        const sf = rng.int(2);
        return w((sf << 31) | (rng.int(2) << 30) | (rng.int(2) << 29) | (0b01011 << 24) | (rng.int(3) << 22)
          | (this.src() << 16) | (this.shiftAmount(sf) << 10) | (this.src() << 5) | this.dst());
      }
      case 'addsubExt':
        return w((rng.int(2) << 31) | (rng.int(2) << 30) | (rng.int(2) << 29) | (0b01011001 << 21)
          | (this.src() << 16) | (rng.int(8) << 13) | (rng.int(5) << 10) | (this.src() << 5) | this.dst());
      case 'logicImm': {
        const sf = rng.int(2);
        const esize = rng.pick(sf ? [2, 4, 8, 16, 32, 64] : [2, 4, 8, 16, 32]);
        const s = rng.int(esize - 1);
        // Only immr's low log2(esize) bits matter; the rest are set at random.
        const immr = rng.chance(0.7) ? rng.int(esize) : rng.int(64);
        const imms = (0x3f & ~(2 * esize - 1)) | s;
        return w((sf << 31) | (rng.int(4) << 29) | (0b100100 << 23) | ((esize === 64 ? 1 : 0) << 22) | (immr << 16)
          | (imms << 10) | (this.src() << 5) | this.dst());
      }
      case 'logicShifted': {
        const sf = rng.int(2);
        return w((sf << 31) | (rng.int(4) << 29) | (0b01010 << 24) | (rng.int(4) << 22) | (rng.int(2) << 21)
          | (this.src() << 16) | (this.shiftAmount(sf) << 10) | (this.src() << 5) | this.dst());
      }
      case 'moveWide': {
        const sf = rng.int(2);
        return w((sf << 31) | (rng.pick([0, 2, 3]) << 29) | (0b100101 << 23) | (rng.int(sf ? 4 : 2) << 21)
          | (rng.int(0x10000) << 5) | this.dst());
      }
      case 'bitfield': {
        const sf = rng.int(2), width = sf ? 64 : 32;
        return w((sf << 31) | (rng.int(3) << 29) | (0b100110 << 23) | (sf << 22) | (rng.int(width) << 16)
          | (rng.int(width) << 10) | (this.src() << 5) | this.dst());
      }
      case 'extr': {
        const sf = rng.int(2);
        return w((sf << 31) | (0b00100111 << 23) | (sf << 22) | (this.src() << 16) | (rng.int(sf ? 64 : 32) << 10)
          | (this.src() << 5) | this.dst());
      }
      case 'adcSbc':
        return w((rng.int(2) << 31) | (rng.int(2) << 30) | (rng.int(2) << 29) | (0b11010000 << 21)
          | (this.src() << 16) | (this.src() << 5) | this.dst());
      case 'ccmp': {
        const imm = rng.int(2);
        return w((rng.int(2) << 31) | (rng.int(2) << 30) | (1 << 29) | (0b11010010 << 21)
          | ((imm ? rng.int(32) : this.src()) << 16) | (rng.int(16) << 12) | (imm << 11) | (this.src() << 5)
          | rng.int(16));
      }
      case 'csel':
        return w((rng.int(2) << 31) | (rng.int(2) << 30) | (0b11010100 << 21) | (this.src() << 16)
          | (rng.int(16) << 12) | (rng.int(2) << 10) | (this.src() << 5) | this.dst());
      case 'dp1': {
        const sf = rng.int(2);
        const opcode = sf ? rng.int(6) : rng.pick([0, 1, 2, 4, 5]);
        return w((sf << 31) | (1 << 30) | (0b11010110 << 21) | (opcode << 10) | (this.src() << 5) | this.dst());
      }
      case 'dp2': {
        // Division by zero, INT_MIN / -1 and shift amounts >= the width are
        // all likely with interesting values, so no special biasing here.
        const opcode = rng.pick([2, 3, 8, 9, 10, 11]);
        return w((rng.int(2) << 31) | (0b11010110 << 21) | (this.src() << 16) | (opcode << 10) | (this.src() << 5)
          | this.dst());
      }
      case 'dp3': {
        const variant = rng.int(6);
        let sf = 1, op31 = 0, o0 = rng.int(2), ra = this.src();
        switch (variant) {
          case 0: sf = 0; break; // MADD/MSUB W
          case 1: break; // MADD/MSUB X
          case 2: op31 = 1; break; // SMADDL/SMSUBL
          case 3: op31 = 5; break; // UMADDL/UMSUBL
          case 4: op31 = 2; o0 = 0; ra = 31; break; // SMULH
          default: op31 = 6; o0 = 0; ra = 31; break; // UMULH
        }
        return w((sf << 31) | (0b11011 << 24) | (op31 << 21) | (this.src() << 16) | (o0 << 15) | (ra << 10)
          | (this.src() << 5) | this.dst());
      }
      case 'crc32': {
        const sz = rng.int(4);
        return w(((sz === 3 ? 1 : 0) << 31) | (0b11010110 << 21) | (this.src() << 16) | (0b010 << 13)
          | (rng.int(2) << 12) | (sz << 10) | (this.src() << 5) | this.dst());
      }
      case 'adr': {
        const imm = rng.u32() & 0x1fffff;
        return w((rng.int(2) << 31) | ((imm & 3) << 29) | (0b10000 << 24) | ((imm >>> 2) << 5) | this.dst());
      }
      case 'nzcvMove':
        // MSR NZCV ignores the RES0 bits of the source; MRS reads them as zero.
        return w(rng.chance(0.5) ? 0xd51b4200 | this.src() : 0xd53b4200 | this.dst());
      case 'ldstUimm': return this.ldstUimm();
      case 'ldstImm9': return this.ldstImm9();
      case 'ldstReg': return this.ldstReg();
      case 'ldstPair': return this.ldstPair();
      case 'ldrLiteral': {
        const opc = rng.int(4);
        const rt = opc === 3 ? rng.int(32) : this.dst();
        // The code segment is padded with 4 KiB on both sides, so any target
        // within 1 KiB of a case is mapped.
        const imm19 = rng.range(-256, 256) & 0x7ffff;
        return w((opc << 30) | (0b011000 << 24) | (imm19 << 5) | rt);
      }
      case 'ordered': return this.ordered();
      case 'exclusive': return this.exclusive();
      case 'atomic': return this.atomic();
      case 'cas': return this.cas();
      case 'casp': return this.casp();
      case 'branch': return this.branch();
      case 'randomEncoding': return { kind, words: [randomDataProcessingWord(rng)] };
      case 'mutatedAccess': return this.mutatedAccess();
    }
  }

  // ---- Registers ----

  /** A register read as an operand: anything, x28 included; 31 is XZR or SP as the field says. */
  private src(): number {
    return this.drawReg();
  }

  private drawReg(): number {
    const x = this.rng.u32() / 0x100000000;
    if (x < 0.05) return 31;
    return x < 0.7 ? this.rng.pick(this.hot) : this.rng.int(32);
  }

  /** A register written by the instruction: never x28 nor a protected base. */
  private dst(): number {
    for (;;) {
      const r = this.drawReg();
      if (r !== BASE_REG && !this.forbidden.has(r)) return r;
    }
  }

  /** A register to hold an address: a general register other than x28. */
  private baseReg(exclude: readonly number[] = []): number {
    for (;;) {
      const r = this.rng.int(31);
      if (r !== BASE_REG && !exclude.includes(r) && !this.forbidden.has(r)) return r;
    }
  }

  private shiftAmount(sf: number): number {
    return this.rng.chance(0.3) ? 0 : this.rng.int(sf ? 64 : 32);
  }

  // ---- Addresses ----

  /** Alignment of an ordinary access: usually natural, sometimes any. */
  private looseAlign(size: number): number {
    return this.rng.chance(0.85) ? size : 1;
  }

  /**
   * Chooses a base register and an effective address in the scratch buffer
   * for an access of `span` bytes aligned to `align`, where the instruction
   * adds `offset` bytes to the base (before the access, unless `post`).
   * Returns the base and the words that set it up from x28. The base is
   * sometimes SP, then 16-byte aligned since SP alignment checking is on.
   */
  private access(span: number, align: number, offset: number, post: boolean, exclude: readonly number[] = []): { rn: number; setup: number[] } {
    const rng = this.rng;
    const delta = post ? 0 : offset;
    if (rng.chance(0.12) && !this.forbidden.has(31)) {
      const r = ((delta % 16) + 16) % 16;
      const slots = Math.floor((SCRATCH_BYTES - span - r) / 16) + 1;
      if (r % align === 0 && slots > 0) {
        const ea = r + 16 * rng.int(slots);
        return { rn: 31, setup: addConst(31, BASE_REG, ea - delta) };
      }
    }
    // A misaligned access often straddles the page boundary inside the buffer.
    const ea = align === 1 && span > 1 && rng.chance(0.4)
      ? PAGE_BOUNDARY - 1 - rng.int(span - 1)
      : align * rng.int(Math.floor((SCRATCH_BYTES - span) / align) + 1);
    const rn = this.baseReg(exclude);
    return { rn, setup: addConst(rn, BASE_REG, ea - delta) };
  }

  // ---- Loads and stores ----

  /** (size, opc) of the load/store register class; PRFM only where allowed. */
  private sizeOpc(allowPrfm: boolean): { size: number; opc: number } {
    for (;;) {
      const size = this.rng.int(4), opc = this.rng.int(4);
      if (size === 3 && opc === 3) continue;
      if (size === 3 && opc === 2 && !allowPrfm) continue;
      if (size === 2 && opc === 3) continue;
      return { size, opc };
    }
  }

  /** Rt of a load/store register instruction: written by loads, read by stores, a prefetch op for PRFM. */
  private transferReg(size: number, opc: number, exclude: readonly number[] = []): number {
    if (size === 3 && opc === 2) return this.rng.int(32);
    for (;;) {
      const r = opc === 0 ? this.src() : this.dst();
      if (!exclude.includes(r)) return r;
    }
  }

  private ldstUimm(): Unit {
    const rng = this.rng;
    const { size, opc } = this.sizeOpc(true);
    const bytes = 1 << size;
    const align = this.looseAlign(bytes);
    let rn: number, imm12: number, setup: number[];
    if (align === bytes && rng.chance(0.2)) {
      // Straight off x28, which no instruction may write.
      rn = BASE_REG; setup = [];
      imm12 = rng.int(SCRATCH_BYTES / bytes);
    } else {
      imm12 = rng.chance(0.7) ? rng.int(64) : rng.int(4096);
      ({ rn, setup } = this.access(bytes, align, imm12 * bytes, false));
    }
    const rt = this.transferReg(size, opc);
    return {
      kind: 'ldstUimm',
      words: [...setup, u((size << 30) | (0b111001 << 24) | (opc << 22) | (imm12 << 10) | (rn << 5) | rt)],
    };
  }

  /** Unscaled, pre-index, post-index and unprivileged forms. */
  private ldstImm9(): Unit {
    const rng = this.rng;
    const mode = rng.int(4); // 00 unscaled, 01 post, 10 unprivileged, 11 pre
    const { size, opc } = this.sizeOpc(mode === 0);
    const bytes = 1 << size;
    const imm9 = rng.chance(0.6) ? rng.range(-32, 32) : rng.range(-256, 255);
    const { rn, setup } = this.access(bytes, this.looseAlign(bytes), imm9, mode === 1);
    const writeback = mode === 1 || mode === 3;
    const rt = this.transferReg(size, opc, writeback ? [rn] : []);
    return {
      kind: ['ldstUnscaled', 'ldstPost', 'ldstUnpriv', 'ldstPre'][mode],
      words: [...setup, u((size << 30) | (0b111000 << 24) | (opc << 22) | ((imm9 & 0x1ff) << 12) | (mode << 10)
        | (rn << 5) | rt)],
    };
  }

  private ldstReg(): Unit {
    const rng = this.rng;
    const { size, opc } = this.sizeOpc(true);
    const bytes = 1 << size;
    const option = rng.pick([2, 3, 6, 7]); // UXTW, LSL, SXTW, SXTX
    const S = rng.int(2);
    const shift = S ? size : 0;
    const rm = rng.chance(0.1) ? 31 : this.baseReg();
    const signed = option >= 6;
    const index = rm === 31 ? 0 : signed ? rng.range(-64, 64) : rng.range(0, 64);
    const { rn, setup } = this.access(bytes, this.looseAlign(bytes), index * (1 << shift), false, [rm]);
    // The W forms ignore the top half of Xm, so it gets garbage.
    const wForm = option === 2 || option === 6;
    const mValue = BigInt.asUintN(wForm ? 32 : 64, BigInt(index)) | (wForm ? BigInt(rng.u32()) << 32n : 0n);
    const rt = this.transferReg(size, opc);
    return {
      kind: 'ldstReg',
      words: [...(rm === 31 ? [] : mov64(rm, mValue)), ...setup, u((size << 30) | (0b111000 << 24) | (opc << 22)
        | (1 << 21) | (rm << 16) | (option << 13) | (S << 12) | (0b10 << 10) | (rn << 5) | rt)],
    };
  }

  private ldstPair(): Unit {
    const rng = this.rng;
    let opc: number, L: number, idx: number;
    do {
      opc = rng.int(3); L = rng.int(2); idx = rng.int(4);
    } while (opc === 1 && (L === 0 || idx === 0)); // LDPSW: loads only, no non-temporal form
    const elt = opc === 2 ? 8 : 4;
    const imm7 = rng.chance(0.6) ? rng.range(-8, 8) : rng.range(-64, 63);
    const { rn, setup } = this.access(2 * elt, this.looseAlign(elt), imm7 * elt, idx === 1);
    const writeback = idx === 1 || idx === 3;
    const avoid = writeback ? [rn] : [];
    let rt: number, rt2: number;
    if (L) {
      rt = this.pickReg(() => this.dst(), avoid);
      rt2 = this.pickReg(() => this.dst(), [...avoid, rt]);
    } else {
      rt = this.pickReg(() => this.src(), avoid);
      rt2 = this.pickReg(() => this.src(), avoid);
    }
    return {
      kind: L ? 'ldp' : 'stp',
      words: [...setup, u((opc << 30) | (0b101 << 27) | (idx << 23) | (L << 22) | ((imm7 & 0x7f) << 15) | (rt2 << 10)
        | (rn << 5) | rt)],
    };
  }

  private pickReg(draw: () => number, exclude: readonly number[]): number {
    for (;;) {
      const r = draw();
      if (!exclude.includes(r)) return r;
    }
  }

  /** LDAR/STLR and LDAPR: plain accesses that must be aligned. */
  private ordered(): Unit {
    const rng = this.rng;
    const size = rng.int(4), bytes = 1 << size;
    const { rn, setup } = this.access(bytes, bytes, 0, false);
    const kind = rng.int(3); // 0 STLR, 1 LDAR, 2 LDAPR
    const rt = kind === 0 ? this.src() : this.dst();
    const word = kind === 2
      ? (size << 30) | (0b111000 << 24) | (0b101 << 21) | (31 << 16) | (0b1100 << 12) | (rn << 5) | rt
      : (size << 30) | (0b001000 << 24) | (1 << 23) | (kind << 22) | (31 << 16) | (1 << 15) | (31 << 10) | (rn << 5) | rt;
    return { kind: ['stlr', 'ldar', 'ldapr'][kind], words: [...setup, u(word)] };
  }

  /**
   * LDXR/STXR, LDAXR/STLXR and their pair forms: a matched load/store pair
   * around a few register-only instructions, a lone load (the monitor is left
   * armed), or a store right after CLREX (which must fail).
   */
  private exclusive(): Unit {
    const rng = this.rng;
    const pair = rng.chance(0.35);
    const size = pair ? 2 + rng.int(2) : rng.int(4); // pair: sz 0 (2x32) or 1 (2x64)
    const bytes = pair ? 2 << size : 1 << size;
    const { rn, setup } = this.access(bytes, bytes, 0, false);
    const words = [...setup];
    const variant = rng.pick(['pair', 'pair', 'pair', 'load', 'store'] as const);
    const exWord = (L: number, rs: number, rt: number, rt2: number): number => pair
      ? u((1 << 31) | ((size - 2) << 30) | (0b001000 << 24) | (L << 22) | (1 << 21) | (rs << 16) | (rng.int(2) << 15)
        | (rt2 << 10) | (rn << 5) | rt)
      : u((size << 30) | (0b001000 << 24) | (L << 22) | (rs << 16) | (rng.int(2) << 15) | (rt2 << 10) | (rn << 5) | rt);
    if (variant !== 'store') {
      const rt = this.pickReg(() => this.dst(), [rn]);
      const rt2 = pair ? this.pickReg(() => this.dst(), [rn, rt]) : 31;
      words.push(exWord(1, 31, rt, rt2));
      if (variant === 'load') return { kind: pair ? 'ldxp' : 'ldxr', words };
      // Nothing may move the base (SP included) before the store-exclusive.
      this.forbidden = new Set([rn, 31]);
      const between = rng.int(3);
      for (let i = 0; i < between; i++) words.push(...this.unit(rng.pick(DP_KINDS)).words!);
      this.forbidden = new Set();
    } else {
      words.push(CLREX);
    }
    const rt = this.src(), rt2 = pair ? this.src() : 31;
    const rs = this.pickReg(() => this.dst(), [rn, rt, rt2]);
    words.push(exWord(0, rs, rt, rt2));
    return { kind: variant === 'store' ? 'stxr-after-clrex' : pair ? 'ldxp-stxp' : 'ldxr-stxr', words };
  }

  /** LDADD, LDCLR, LDEOR, LDSET, LD{S,U}{MAX,MIN} (and their ST aliases) and SWP. */
  private atomic(): Unit {
    const rng = this.rng;
    const size = rng.int(4), bytes = 1 << size;
    const { rn, setup } = this.access(bytes, bytes, 0, false);
    const swp = rng.chance(0.2);
    const opc = swp ? 0 : rng.int(8);
    // With Rt = XZR and no acquire this is the ST<op> alias.
    const rt = rng.chance(0.15) ? 31 : this.dst();
    return {
      kind: swp ? 'swp' : 'ldop',
      words: [...setup, u((size << 30) | (0b111000 << 24) | (rng.int(2) << 23) | (rng.int(2) << 22) | (1 << 21)
        | (this.src() << 16) | ((swp ? 1 : 0) << 15) | (opc << 12) | (rn << 5) | rt)],
    };
  }

  /** CAS: half the time Rs is first loaded from memory so the compare succeeds. */
  private cas(): Unit {
    const rng = this.rng;
    const size = rng.int(4), bytes = 1 << size;
    const { rn, setup } = this.access(bytes, bytes, 0, false);
    const words = [...setup];
    const rs = this.pickReg(() => this.dst(), [rn]);
    if (rng.chance(0.5)) words.push(u((size << 30) | (0b111001 << 24) | (1 << 22) | (rn << 5) | rs)); // LDR Rs, [Rn]
    words.push(u((size << 30) | (0b001000 << 24) | (1 << 23) | (rng.int(2) << 22) | (1 << 21) | (rs << 16)
      | (rng.int(2) << 15) | (31 << 10) | (rn << 5) | this.src()));
    return { kind: 'cas', words };
  }

  /** CASP on an even register pair; Rs+1 of x30 is XZR. */
  private casp(): Unit {
    const rng = this.rng;
    const sz = rng.int(2), half = sz ? 8 : 4;
    const { rn, setup } = this.access(2 * half, 2 * half, 0, false);
    const words = [...setup];
    let rs: number;
    do rs = 2 * rng.int(16); while (rs === BASE_REG || rs + 1 === BASE_REG);
    const rt = 2 * rng.int(16);
    if (rs !== 30 && rs !== rn && rs + 1 !== rn && rng.chance(0.5)) {
      // LDP Rs, Rs+1, [Rn]
      words.push(u(((sz ? 2 : 0) << 30) | (0b101 << 27) | (0b10 << 23) | (1 << 22) | ((rs + 1) << 10) | (rn << 5) | rs));
    }
    words.push(u((sz << 30) | (0b001000 << 24) | (rng.int(2) << 22) | (1 << 21) | (rs << 16) | (rng.int(2) << 15)
      | (31 << 10) | (rn << 5) | rt));
    return { kind: 'casp', words };
  }

  /**
   * A load or store with one or two bits flipped in its size/opcode/mode
   * fields: it may become another access, an unallocated encoding (counted as
   * UNDEFINED in both worlds) or a misaligned access that must fault (counted
   * likewise). Flips never leave the instruction class, so the address stays
   * near the scratch buffer (or, for a changed extend, far outside memory),
   * and a flip that would create a CONSTRAINED UNPREDICTABLE register overlap,
   * write x28 or land on an encoding of a feature warmboot lacks is redrawn.
   */
  private mutatedAccess(): Unit {
    const rng = this.rng;
    for (;;) {
      const kind = rng.pick(['ldstUimm', 'ldstImm9', 'ldstReg', 'ldstPair', 'ordered', 'atomic', 'cas', 'casp'] as const);
      const unit = this.unit(kind);
      const words = [...unit.words!];
      const word = words[words.length - 1];
      const mask = MUTABLE_BITS[mutationClass(word)];
      const bits: number[] = [];
      for (let b = 0; b < 32; b++) if ((mask >>> b) & 1) bits.push(b);
      if (bits.length === 0) continue;
      let m = word;
      const flips = 1 + rng.int(2);
      for (let i = 0; i < flips; i++) m ^= 1 << rng.pick(bits);
      m >>>= 0;
      if (m === word || !mutantAcceptable(m)) continue;
      words[words.length - 1] = m;
      return { kind: `mutated ${unit.kind}`, words };
    }
  }

  // ---- Branches ----

  private branch(): Unit {
    const rng = this.rng;
    const skip = rng.int(4);
    const variant = rng.int(6);
    const single = (kind: string, encode: (t: number) => number): Unit =>
      ({ kind, branch: { skip, length: 1, encode: (t) => [u(encode(t))] } });
    switch (variant) {
      case 0: {
        const cond = rng.int(16);
        return single('b.cond', (t) => 0x54000000 | (t << 5) | cond);
      }
      case 1: {
        const sf = rng.int(2), op = rng.int(2), rt = this.src();
        return single(op ? 'cbnz' : 'cbz', (t) => (sf << 31) | (0b011010 << 25) | (op << 24) | (t << 5) | rt);
      }
      case 2: {
        const bit = rng.int(64), op = rng.int(2), rt = this.src();
        return single(op ? 'tbnz' : 'tbz', (t) => ((bit >> 5) << 31) | (0b011011 << 25) | (op << 24) | ((bit & 31) << 19)
          | (t << 5) | rt);
      }
      case 3: return single('b', (t) => (0b000101 << 26) | t);
      case 4: return single('bl', (t) => (0b100101 << 26) | t);
      default: {
        // ADR Xn, target; BR/BLR/RET Xn.
        const rn = this.baseReg();
        const op = rng.int(3); // BR, BLR, RET
        return {
          kind: ['br', 'blr', 'ret'][op],
          branch: {
            skip, length: 2,
            encode: (t) => {
              const off = 4 * t;
              return [u(((off & 3) << 29) | (0b10000 << 24) | ((off >>> 2) << 5) | rn), u(0xd61f0000 | (op << 21) | (rn << 5))];
            },
          },
        };
      }
    }
  }
}

type MutationClass = 'uimm' | 'imm9' | 'reg' | 'pair' | 'ordered' | 'ldapr' | 'atomic' | 'swp' | 'cas' | 'casp';

const field = (w: number, hi: number, lo: number): number => (w >>> lo) & ((1 << (hi - lo + 1)) - 1);

/** Size/opcode/mode bits that may be flipped, per class. */
const MUTABLE_BITS: Record<MutationClass, number> = {
  uimm: 0xc0c00000, // size, opc
  imm9: 0xc0c00c00, // size, opc, addressing mode
  reg: 0xc0c0f000, // size, opc, option, S
  pair: 0xc1c00000, // opc, index mode, L
  ordered: 0xc0400000, // size, L
  // QEMU 7.2 does not alignment-check LDAPR (a bug: without FEAT_LSE2 a
  // misaligned load-acquire faults, as warmboot's does), so its size stays.
  ldapr: 0,
  atomic: 0xc0c07000, // size, A, R, opc
  swp: 0xc0c00000, // size, A, R
  cas: 0xc0408000, // size, L, o0
  casp: 0x40408000, // sz, L, o0
};

function mutationClass(w: number): MutationClass {
  if (field(w, 29, 24) === 0b111001) return 'uimm';
  if (field(w, 29, 24) === 0b111000) {
    if (field(w, 21, 21) === 0) return 'imm9';
    if (field(w, 11, 10) === 0b10) return 'reg';
    if (field(w, 15, 15) === 1) return field(w, 14, 12) === 0 ? 'swp' : 'ldapr';
    return 'atomic';
  }
  if (field(w, 29, 27) === 0b101) return 'pair';
  if (field(w, 29, 23) === 0b0010001) return field(w, 21, 21) ? 'cas' : 'ordered';
  if (field(w, 31, 31) === 0 && field(w, 29, 23) === 0b0010000 && field(w, 21, 21) === 1) return 'casp';
  throw new Error(`no mutation class for ${w.toString(16)}`);
}

/** Whether a mutated load/store is safe to run: no x28 write, no CONSTRAINED UNPREDICTABLE overlap, no MTE encoding. */
function mutantAcceptable(w: number): boolean {
  const rt = field(w, 4, 0), rn = field(w, 9, 5);
  const cls = mutationClass(w);
  const size = field(w, 31, 30), opc = field(w, 23, 22);
  switch (cls) {
    case 'uimm': case 'imm9': case 'reg': {
      const load = opc !== 0 && !(size === 3 && opc === 2);
      if (load && rt === BASE_REG) return false;
      const mode = field(w, 11, 10);
      const writeback = cls === 'imm9' && (mode === 1 || mode === 3);
      return !(writeback && rt === rn && rn !== 31);
    }
    case 'pair': {
      const popc = field(w, 31, 30), L = field(w, 22, 22), idx = field(w, 24, 23), rt2 = field(w, 14, 10);
      if (popc === 1 && L === 0 && idx !== 0) return false; // STGP
      if (L && (rt === BASE_REG || rt2 === BASE_REG || rt === rt2)) return false;
      const writeback = idx === 1 || idx === 3;
      return !(writeback && rn !== 31 && (rt === rn || rt2 === rn));
    }
    case 'ordered':
      return !(field(w, 22, 22) === 1 && rt === BASE_REG);
    default:
      return true;
  }
}

/**
 * A random word from the data-processing groups (immediate: bits 28:26 = 100;
 * register: bits 27:25 = 101), allocated or not: the harness counts UNDEFINED
 * instructions in both worlds, so this probes the decoder's idea of which
 * encodings exist as well as the semantics of those that do. Excluded are the
 * encodings of optional features QEMU's max CPU has and warmboot's does not,
 * and any that would write x28.
 */
export function randomDataProcessingWord(rng: Rng): number {
  for (;;) {
    let w = rng.u32();
    w = rng.chance(0.3) ? (w & ~(0b111 << 26)) | (0b100 << 26) : (w & ~(0b111 << 25)) | (0b101 << 25);
    w >>>= 0;
    if ((w & 31) === BASE_REG || lackedFeature(w)) continue;
    return w;
  }
}

function lackedFeature(w: number): boolean {
  const bits = (hi: number, lo: number): number => (w >>> lo) & ((1 << (hi - lo + 1)) - 1);
  // MTE ADDG/SUBG (and the CSSC min/max immediates beside them).
  if (bits(28, 23) === 0b100011) return true;
  if (bits(28, 21) === 0b11010110) {
    // Two-source: SUBP/SUBPS, IRG, GMI (MTE) and PACGA (pointer authentication).
    if (bits(30, 30) === 0) return [0b000000, 0b000100, 0b000101, 0b001100].includes(bits(15, 10));
    // One-source with opcode2 = 00001: PACIA..XPACD (pointer authentication).
    return bits(20, 16) === 0b00001;
  }
  // FlagM RMIF and SETF8/SETF16, beside ADC/SBC.
  if (bits(28, 21) === 0b11010000 && (bits(14, 10) === 0b00001 || bits(13, 10) === 0b0010)) return true;
  return false;
}

/** The program of index `index` under `seed`; independent of how many others are generated. */
export function generateProgram(seed: number, index: number, length: number): TestProgram {
  return new ProgramGenerator(new Rng(seed, index)).program(length);
}
