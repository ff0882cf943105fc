/**
 * A small two-pass A64 assembler for directed interpreter tests.
 *
 * It accepts the GNU as syntax for the integer instruction set (one statement
 * per line, `//` comments, `;` separators, labels, numeric local labels) and
 * is checked word-for-word against aarch64-linux-gnu-as by a64-assembler.test.ts.
 * Anything it cannot encode exactly raises an AsmError naming the line: a test
 * fixture that silently assembles to the wrong word is worse than none.
 */

export type Width = 32 | 64;

export interface AssembleResult {
  /** Little-endian instruction/data words, one per 4 bytes starting at baseAddress. */
  words: Uint32Array;
  /** The same image as bytes (little-endian), ready to copy into guest memory. */
  bytes: Uint8Array;
  /** Address of every named (non-numeric) label and `.equ` symbol. */
  labels: Map<string, bigint>;
  baseAddress: bigint;
}

export class AsmError extends Error {
  constructor(
    message: string,
    readonly lineNumber: number,
    readonly lineText: string,
  ) {
    super(`line ${lineNumber}: ${message} -- \`${lineText.trim()}\``);
    this.name = 'AsmError';
  }
}

/** Assemble `source` placed at `baseAddress` and return its words. */
export function assemble(source: string, baseAddress: bigint | number = 0n): Uint32Array {
  return assembleProgram(source, baseAddress).words;
}

/** Assemble a single instruction at `address` and return its encoding. */
export function assembleOne(line: string, address: bigint | number = 0n): number {
  const words = assemble(line, address);
  if (words.length !== 1) throw new Error(`expected exactly one word from \`${line}\`, got ${words.length}`);
  return words[0]!;
}

const MASK64 = (1n << 64n) - 1n;
const NOP = 0xd503201f;

// ---------------------------------------------------------------------------
// Bitmask immediates

export interface BitmaskFields {
  n: number;
  immr: number;
  imms: number;
}

/**
 * Encode a logical-instruction immediate, or return undefined if the value is
 * not a replicated rotated run of ones. `value` is taken modulo 2^width.
 */
export function encodeBitmaskImmediate(value: bigint, width: Width): BitmaskFields | undefined {
  const wmask = width === 64 ? MASK64 : 0xffffffffn;
  let v = value & wmask;
  if (v === 0n || v === wmask) return undefined;
  // A 32-bit pattern is the 64-bit pattern with the low word replicated, which
  // lets one search serve both widths while never yielding N=1 for 32 bits.
  if (width === 32) v |= v << 32n;
  for (let e = 2; e <= 64; e *= 2) {
    const be = BigInt(e);
    const em = (1n << be) - 1n;
    const elt = v & em;
    let rep = 0n;
    for (let i = 0n; i < 64n; i += be) rep |= elt << i;
    if (rep !== v) continue;
    for (let r = 0; r < e; r++) {
      const br = BigInt(r);
      const rolled = ((elt << br) | (elt >> (be - br))) & em;
      if ((rolled & (rolled + 1n)) === 0n) {
        const ones = popcount(rolled);
        return { n: e === 64 ? 1 : 0, immr: r, imms: (-(e * 2) & 0x3f) | (ones - 1) };
      }
    }
    return undefined;
  }
  return undefined;
}

function popcount(v: bigint): number {
  let n = 0;
  while (v !== 0n) {
    n += Number(v & 1n);
    v >>= 1n;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Tables

const CONDITIONS: Record<string, number> = {
  eq: 0, ne: 1, cs: 2, hs: 2, cc: 3, lo: 3, mi: 4, pl: 5, vs: 6, vc: 7,
  hi: 8, ls: 9, ge: 10, lt: 11, gt: 12, le: 13, al: 14, nv: 15,
};

const BARRIER_OPTIONS: Record<string, number> = {
  oshld: 1, oshst: 2, osh: 3, nshld: 5, nshst: 6, nsh: 7,
  ishld: 9, ishst: 10, ish: 11, ld: 13, st: 14, sy: 15,
};

type SysRegEnc = readonly [op0: number, op1: number, crn: number, crm: number, op2: number];

const SYSREGS: Record<string, SysRegEnc> = {
  nzcv: [3, 3, 4, 2, 0],
  daif: [3, 3, 4, 2, 1],
  currentel: [3, 0, 4, 2, 2],
  spsel: [3, 0, 4, 2, 0],
  pan: [3, 0, 4, 2, 3],
  uao: [3, 0, 4, 2, 4],
  dit: [3, 3, 4, 2, 5],
  ssbs: [3, 3, 4, 2, 6],
  tco: [3, 3, 4, 2, 7],
  fpcr: [3, 3, 4, 4, 0],
  fpsr: [3, 3, 4, 4, 1],
  midr_el1: [3, 0, 0, 0, 0],
  mpidr_el1: [3, 0, 0, 0, 5],
  revidr_el1: [3, 0, 0, 0, 6],
  id_aa64pfr0_el1: [3, 0, 0, 4, 0],
  id_aa64pfr1_el1: [3, 0, 0, 4, 1],
  id_aa64zfr0_el1: [3, 0, 0, 4, 4],
  id_aa64dfr0_el1: [3, 0, 0, 5, 0],
  id_aa64dfr1_el1: [3, 0, 0, 5, 1],
  id_aa64afr0_el1: [3, 0, 0, 5, 4],
  id_aa64afr1_el1: [3, 0, 0, 5, 5],
  id_aa64isar0_el1: [3, 0, 0, 6, 0],
  id_aa64isar1_el1: [3, 0, 0, 6, 1],
  id_aa64mmfr0_el1: [3, 0, 0, 7, 0],
  id_aa64mmfr1_el1: [3, 0, 0, 7, 1],
  id_aa64mmfr2_el1: [3, 0, 0, 7, 2],
  ccsidr_el1: [3, 1, 0, 0, 0],
  clidr_el1: [3, 1, 0, 0, 1],
  csselr_el1: [3, 2, 0, 0, 0],
  ctr_el0: [3, 3, 0, 0, 1],
  dczid_el0: [3, 3, 0, 0, 7],
  sctlr_el1: [3, 0, 1, 0, 0],
  actlr_el1: [3, 0, 1, 0, 1],
  cpacr_el1: [3, 0, 1, 0, 2],
  ttbr0_el1: [3, 0, 2, 0, 0],
  ttbr1_el1: [3, 0, 2, 0, 1],
  tcr_el1: [3, 0, 2, 0, 2],
  spsr_el1: [3, 0, 4, 0, 0],
  elr_el1: [3, 0, 4, 0, 1],
  sp_el0: [3, 0, 4, 1, 0],
  icc_pmr_el1: [3, 0, 4, 6, 0],
  afsr0_el1: [3, 0, 5, 1, 0],
  afsr1_el1: [3, 0, 5, 1, 1],
  esr_el1: [3, 0, 5, 2, 0],
  far_el1: [3, 0, 6, 0, 0],
  par_el1: [3, 0, 7, 4, 0],
  mair_el1: [3, 0, 10, 2, 0],
  amair_el1: [3, 0, 10, 3, 0],
  vbar_el1: [3, 0, 12, 0, 0],
  isr_el1: [3, 0, 12, 1, 0],
  icc_dir_el1: [3, 0, 12, 11, 1],
  icc_rpr_el1: [3, 0, 12, 11, 3],
  icc_sgi1r_el1: [3, 0, 12, 11, 5],
  icc_iar1_el1: [3, 0, 12, 12, 0],
  icc_eoir1_el1: [3, 0, 12, 12, 1],
  icc_hppir1_el1: [3, 0, 12, 12, 2],
  icc_bpr1_el1: [3, 0, 12, 12, 3],
  icc_ctlr_el1: [3, 0, 12, 12, 4],
  icc_sre_el1: [3, 0, 12, 12, 5],
  icc_igrpen1_el1: [3, 0, 12, 12, 7],
  contextidr_el1: [3, 0, 13, 0, 1],
  tpidr_el1: [3, 0, 13, 0, 4],
  cntkctl_el1: [3, 0, 14, 1, 0],
  tpidr_el0: [3, 3, 13, 0, 2],
  tpidrro_el0: [3, 3, 13, 0, 3],
  cntfrq_el0: [3, 3, 14, 0, 0],
  cntpct_el0: [3, 3, 14, 0, 1],
  cntvct_el0: [3, 3, 14, 0, 2],
  cntp_tval_el0: [3, 3, 14, 2, 0],
  cntp_ctl_el0: [3, 3, 14, 2, 1],
  cntp_cval_el0: [3, 3, 14, 2, 2],
  cntv_tval_el0: [3, 3, 14, 3, 0],
  cntv_ctl_el0: [3, 3, 14, 3, 1],
  cntv_cval_el0: [3, 3, 14, 3, 2],
  pmcr_el0: [3, 3, 9, 12, 0],
  pmccntr_el0: [3, 3, 9, 13, 0],
  pmuserenr_el0: [3, 3, 9, 14, 0],
  mdscr_el1: [2, 0, 0, 2, 2],
  oslar_el1: [2, 0, 1, 0, 4],
  oslsr_el1: [2, 0, 1, 1, 4],
  osdlr_el1: [2, 0, 1, 3, 4],
  vpidr_el2: [3, 4, 0, 0, 0],
  vmpidr_el2: [3, 4, 0, 0, 5],
  sctlr_el2: [3, 4, 1, 0, 0],
  hcr_el2: [3, 4, 1, 1, 0],
  mdcr_el2: [3, 4, 1, 1, 1],
  cptr_el2: [3, 4, 1, 1, 2],
  ttbr0_el2: [3, 4, 2, 0, 0],
  tcr_el2: [3, 4, 2, 0, 2],
  vttbr_el2: [3, 4, 2, 1, 0],
  vtcr_el2: [3, 4, 2, 1, 2],
  spsr_el2: [3, 4, 4, 0, 0],
  elr_el2: [3, 4, 4, 0, 1],
  sp_el1: [3, 4, 4, 1, 0],
  esr_el2: [3, 4, 5, 2, 0],
  far_el2: [3, 4, 6, 0, 0],
  hpfar_el2: [3, 4, 6, 0, 4],
  mair_el2: [3, 4, 10, 2, 0],
  vbar_el2: [3, 4, 12, 0, 0],
  tpidr_el2: [3, 4, 13, 0, 2],
  cntvoff_el2: [3, 4, 14, 0, 3],
  cnthctl_el2: [3, 4, 14, 1, 0],
  sctlr_el3: [3, 6, 1, 0, 0],
  scr_el3: [3, 6, 1, 1, 0],
  spsr_el3: [3, 6, 4, 0, 0],
  elr_el3: [3, 6, 4, 0, 1],
  sp_el2: [3, 6, 4, 1, 0],
  esr_el3: [3, 6, 5, 2, 0],
  vbar_el3: [3, 6, 12, 0, 0],
};

/** PSTATE fields for MSR (immediate): [op1, op2, max immediate]. */
const PSTATE_FIELDS: Record<string, readonly [number, number, number]> = {
  spsel: [0, 5, 1],
  daifset: [3, 6, 15],
  daifclr: [3, 7, 15],
  uao: [0, 3, 1],
  pan: [0, 4, 1],
  dit: [3, 2, 1],
  ssbs: [3, 1, 1],
  tco: [3, 4, 1],
};

/** SYS aliases: [op1, CRn, CRm, op2, takes register]. */
type SysOp = readonly [number, number, number, number, boolean];

const DC_OPS: Record<string, SysOp> = {
  ivac: [0, 7, 6, 1, true],
  isw: [0, 7, 6, 2, true],
  csw: [0, 7, 10, 2, true],
  cisw: [0, 7, 14, 2, true],
  zva: [3, 7, 4, 1, true],
  cvac: [3, 7, 10, 1, true],
  cvau: [3, 7, 11, 1, true],
  cvap: [3, 7, 12, 1, true],
  civac: [3, 7, 14, 1, true],
};

const IC_OPS: Record<string, SysOp> = {
  ialluis: [0, 7, 1, 0, false],
  iallu: [0, 7, 5, 0, false],
  ivau: [3, 7, 5, 1, true],
};

const AT_OPS: Record<string, SysOp> = {
  s1e1r: [0, 7, 8, 0, true],
  s1e1w: [0, 7, 8, 1, true],
  s1e0r: [0, 7, 8, 2, true],
  s1e0w: [0, 7, 8, 3, true],
  s1e1rp: [0, 7, 9, 0, true],
  s1e1wp: [0, 7, 9, 1, true],
  s1e2r: [4, 7, 8, 0, true],
  s1e2w: [4, 7, 8, 1, true],
  s12e1r: [4, 7, 8, 4, true],
  s12e1w: [4, 7, 8, 5, true],
  s12e0r: [4, 7, 8, 6, true],
  s12e0w: [4, 7, 8, 7, true],
  s1e3r: [6, 7, 8, 0, true],
  s1e3w: [6, 7, 8, 1, true],
};

const TLBI_OPS: Record<string, SysOp> = {
  vmalle1is: [0, 8, 3, 0, false],
  vae1is: [0, 8, 3, 1, true],
  aside1is: [0, 8, 3, 2, true],
  vaae1is: [0, 8, 3, 3, true],
  vale1is: [0, 8, 3, 5, true],
  vaale1is: [0, 8, 3, 7, true],
  vmalle1: [0, 8, 7, 0, false],
  vae1: [0, 8, 7, 1, true],
  aside1: [0, 8, 7, 2, true],
  vaae1: [0, 8, 7, 3, true],
  vale1: [0, 8, 7, 5, true],
  vaale1: [0, 8, 7, 7, true],
  ipas2e1is: [4, 8, 0, 1, true],
  ipas2le1is: [4, 8, 0, 5, true],
  alle2is: [4, 8, 3, 0, false],
  vae2is: [4, 8, 3, 1, true],
  alle1is: [4, 8, 3, 4, false],
  vale2is: [4, 8, 3, 5, true],
  vmalls12e1is: [4, 8, 3, 6, false],
  ipas2e1: [4, 8, 4, 1, true],
  ipas2le1: [4, 8, 4, 5, true],
  alle2: [4, 8, 7, 0, false],
  vae2: [4, 8, 7, 1, true],
  alle1: [4, 8, 7, 4, false],
  vale2: [4, 8, 7, 5, true],
  vmalls12e1: [4, 8, 7, 6, false],
  alle3is: [6, 8, 3, 0, false],
  vae3is: [6, 8, 3, 1, true],
  vale3is: [6, 8, 3, 5, true],
  alle3: [6, 8, 7, 0, false],
  vae3: [6, 8, 7, 1, true],
  vale3: [6, 8, 7, 5, true],
};

const HINTS: Record<string, number> = {
  nop: 0, yield: 1, wfe: 2, wfi: 3, sev: 4, sevl: 5,
  xpaclri: 7, pacia1716: 8, pacib1716: 10, autia1716: 12, autib1716: 14,
  esb: 16, csdb: 20,
  paciaz: 24, paciasp: 25, pacibz: 26, pacibsp: 27,
  autiaz: 28, autiasp: 29, autibz: 30, autibsp: 31,
};

const EXCEPTIONS: Record<string, number> = {
  svc: 0xd4000001, hvc: 0xd4000002, smc: 0xd4000003, brk: 0xd4200000, hlt: 0xd4400000,
};

const PRF_TYPES: Record<string, number> = { pld: 0, pli: 1, pst: 2 };

// ---------------------------------------------------------------------------
// Operand primitives

interface Reg {
  num: number;
  width: Width;
  isSP: boolean;
  isZR: boolean;
}

function parseRegister(text: string): Reg | undefined {
  const s = text.trim().toLowerCase();
  const m = /^([xw])([0-9]|[12][0-9]|30)$/.exec(s);
  if (m) return { num: Number(m[2]), width: m[1] === 'x' ? 64 : 32, isSP: false, isZR: false };
  switch (s) {
    case 'xzr': return { num: 31, width: 64, isSP: false, isZR: true };
    case 'wzr': return { num: 31, width: 32, isSP: false, isZR: true };
    case 'sp': return { num: 31, width: 64, isSP: true, isZR: false };
    case 'wsp': return { num: 31, width: 32, isSP: true, isZR: false };
    case 'lr': return { num: 30, width: 64, isSP: false, isZR: false };
    case 'fp': return { num: 29, width: 64, isSP: false, isZR: false };
  }
  return undefined;
}

const SHIFT_TYPES: Record<string, number> = { lsl: 0, lsr: 1, asr: 2, ror: 3 };
const EXTEND_TYPES: Record<string, number> = {
  uxtb: 0, uxth: 1, uxtw: 2, uxtx: 3, sxtb: 4, sxth: 5, sxtw: 6, sxtx: 7,
};

/** Split on top-level commas so `[x0, #8]` and `{x0, x1}` stay whole. */
function splitOperands(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '[' || ch === '{' || ch === '(') depth++;
    else if (ch === ']' || ch === '}' || ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur.trim() !== '' || out.length > 0) out.push(cur.trim());
  return out;
}

interface Value {
  v: bigint;
  /** Net count of address-valued terms: 0 = plain number, 1 = an address. */
  rel: number;
}

// ---------------------------------------------------------------------------
// Expressions

type Tok = { t: 'num'; v: bigint } | { t: 'sym'; name: string } | { t: 'local'; n: string; dir: 'b' | 'f' } | { t: 'op'; op: string };

function tokenizeExpr(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\s+/.exec(rest))) {
      i += m[0].length;
      continue;
    }
    if ((m = /^(\d+)([bf])(?![0-9a-zA-Z_.$])/.exec(rest)) && !/^0b[01]/i.test(rest)) {
      toks.push({ t: 'local', n: m[1]!, dir: m[2] as 'b' | 'f' });
    } else if ((m = /^0x[0-9a-f]+/i.exec(rest))) {
      toks.push({ t: 'num', v: BigInt(m[0]) });
    } else if ((m = /^0b[01]+/i.exec(rest))) {
      toks.push({ t: 'num', v: BigInt(m[0]) });
    } else if ((m = /^0[0-7]+(?![0-9a-zA-Z_])/.exec(rest))) {
      // GNU as reads a leading zero as octal.
      toks.push({ t: 'num', v: BigInt('0o' + m[0].slice(1)) });
    } else if ((m = /^[0-9]+(?![0-9a-zA-Z_])/.exec(rest))) {
      toks.push({ t: 'num', v: BigInt(m[0]) });
    } else if ((m = /^[A-Za-z_.$][A-Za-z0-9_.$]*/.exec(rest))) {
      toks.push({ t: 'sym', name: m[0] });
    } else if ((m = /^(<<|>>|[-+*/%&|^~()])/.exec(rest))) {
      toks.push({ t: 'op', op: m[0] });
    } else {
      throw new Error(`bad expression \`${src.trim()}\``);
    }
    i += m[0].length;
  }
  return toks;
}

type SymbolLookup = (tok: Tok & ({ t: 'sym' } | { t: 'local' })) => Value;

function evaluateExpr(src: string, lookup: SymbolLookup): Value {
  const toks = tokenizeExpr(src);
  if (toks.length === 0) throw new Error('missing expression');
  let pos = 0;
  const peekOp = (): string | undefined => {
    const t = toks[pos];
    return t && t.t === 'op' ? t.op : undefined;
  };
  const plain = (a: Value, b: Value, what: string): void => {
    if (a.rel !== 0 || b.rel !== 0) throw new Error(`cannot apply \`${what}\` to an address in \`${src.trim()}\``);
  };
  const levels: string[][] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];
  const binary = (level: number): Value => {
    if (level === levels.length) return unary();
    let left = binary(level + 1);
    for (;;) {
      const op = peekOp();
      if (op === undefined || !levels[level]!.includes(op)) return left;
      pos++;
      const right = binary(level + 1);
      switch (op) {
        case '+': left = { v: left.v + right.v, rel: left.rel + right.rel }; break;
        case '-': left = { v: left.v - right.v, rel: left.rel - right.rel }; break;
        default: {
          plain(left, right, op);
          const a = left.v;
          const b = right.v;
          let v: bigint;
          switch (op) {
            case '*': v = a * b; break;
            case '/': if (b === 0n) throw new Error('division by zero'); v = a / b; break;
            case '%': if (b === 0n) throw new Error('division by zero'); v = a % b; break;
            case '<<': v = (a << b) & MASK64; break;
            case '>>': v = BigInt.asUintN(64, a) >> b; break;
            case '&': v = a & b; break;
            case '|': v = a | b; break;
            default: v = a ^ b; break;
          }
          left = { v, rel: 0 };
        }
      }
    }
  };
  const unary = (): Value => {
    const op = peekOp();
    if (op === '-' || op === '+' || op === '~') {
      pos++;
      const x = unary();
      if (op === '+') return x;
      if (x.rel !== 0) throw new Error(`cannot apply \`${op}\` to an address in \`${src.trim()}\``);
      return { v: op === '-' ? -x.v : ~x.v, rel: 0 };
    }
    if (op === '(') {
      pos++;
      const x = binary(0);
      if (peekOp() !== ')') throw new Error(`missing \`)\` in \`${src.trim()}\``);
      pos++;
      return x;
    }
    const t = toks[pos++];
    if (!t || t.t === 'op') throw new Error(`bad expression \`${src.trim()}\``);
    if (t.t === 'num') return { v: t.v, rel: 0 };
    return lookup(t);
  };
  const result = binary(0);
  if (pos !== toks.length) throw new Error(`bad expression \`${src.trim()}\``);
  return result;
}

// ---------------------------------------------------------------------------
// Statement model

interface Statement {
  lineNumber: number;
  lineText: string;
  mnemonic: string; // lower case
  operands: string;
  /** Byte offset from the base address. */
  offset: number;
  size: number;
  /** Ordinal used to resolve numeric local labels (`1b`/`1f`). */
  seq: number;
}

interface LocalDef {
  seq: number;
  addr: bigint;
}

// Harmless in a flat image, and common in snippets pasted from real sources.
const IGNORED_DIRECTIVES = new Set(['.text', '.global', '.globl', '.type', '.size']);

export function assembleProgram(source: string, base: bigint | number = 0n): AssembleResult {
  const baseAddress = BigInt(base);
  if (baseAddress < 0n || baseAddress % 4n !== 0n) throw new Error(`base address 0x${baseAddress.toString(16)} must be a non-negative multiple of 4`);
  const statements: Statement[] = [];
  // Labels are addresses; .equ/.set symbols are plain numbers unless defined from an address.
  const symbols = new Map<string, Value>();
  const locals = new Map<string, LocalDef[]>();
  let offset = 0;
  let seq = 0;

  const lines = source.split(/\r?\n/);
  const ctxFor = (lineNumber: number, lineText: string, curSeq: number, pc: bigint, pass1: boolean) =>
    new Ctx(pc, curSeq, lineNumber, lineText, symbols, locals, pass1);

  // Pass 1: lay out statements and define labels.
  for (let li = 0; li < lines.length; li++) {
    const lineNumber = li + 1;
    const lineText = lines[li]!;
    const code = stripComment(lineText);
    for (let piece of code.split(';')) {
      // Labels share the ordinal of the statement that follows them on the
      // line, so `1: b 1b` branches to itself as in GNU as.
      seq++;
      for (;;) {
        const m = /^\s*([A-Za-z_.$][A-Za-z0-9_.$]*|\d+)\s*:/.exec(piece);
        if (!m) break;
        const name = m[1]!;
        const addr = baseAddress + BigInt(offset);
        if (/^\d+$/.test(name)) {
          let defs = locals.get(name);
          if (!defs) locals.set(name, (defs = []));
          defs.push({ seq, addr });
        } else {
          if (symbols.has(name)) throw new AsmError(`label \`${name}\` defined twice`, lineNumber, lineText);
          symbols.set(name, { v: addr, rel: 1 });
        }
        piece = piece.slice(m[0].length);
      }
      const body = piece.trim();
      if (body === '') continue;
      const mm = /^([A-Za-z_.][A-Za-z0-9_.]*)\s*(.*)$/s.exec(body);
      if (!mm) throw new AsmError('cannot parse statement', lineNumber, lineText);
      const mnemonic = mm[1]!.toLowerCase();
      const operands = mm[2]!.trim();
      const st: Statement = { lineNumber, lineText, mnemonic, operands, offset, size: 4, seq };
      try {
        if (mnemonic.startsWith('.')) {
          const ctx = ctxFor(lineNumber, lineText, seq, baseAddress + BigInt(offset), true);
          st.size = directiveSize(st, ctx, symbols);
        }
      } catch (e) {
        throw wrapError(e, lineNumber, lineText);
      }
      if (st.size > 0 || !mnemonic.startsWith('.')) statements.push(st);
      offset += st.size;
    }
  }

  // Pass 2: encode.
  const words = new Uint32Array(offset / 4);
  for (const st of statements) {
    const pc = baseAddress + BigInt(st.offset);
    const ctx = ctxFor(st.lineNumber, st.lineText, st.seq, pc, false);
    try {
      const out = st.mnemonic.startsWith('.') ? encodeDirective(st, ctx) : [encodeInstruction(st.mnemonic, st.operands, ctx)];
      if (out.length * 4 !== st.size) throw new Error('internal error: size changed between passes');
      for (let i = 0; i < out.length; i++) words[st.offset / 4 + i] = out[i]! >>> 0;
    } catch (e) {
      throw wrapError(e, st.lineNumber, st.lineText);
    }
  }

  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w, true));
  const labels = new Map<string, bigint>();
  for (const [name, value] of symbols) labels.set(name, value.v);
  return { words, bytes, labels, baseAddress };
}

function wrapError(e: unknown, lineNumber: number, lineText: string): AsmError {
  if (e instanceof AsmError) return e;
  return new AsmError(e instanceof Error ? e.message : String(e), lineNumber, lineText);
}

function stripComment(line: string): string {
  const i = line.indexOf('//');
  return i >= 0 ? line.slice(0, i) : line;
}

function directiveSize(st: Statement, ctx: Ctx, symbols: Map<string, Value>): number {
  const ops = splitOperands(st.operands);
  switch (st.mnemonic) {
    case '.word':
    case '.inst':
    case '.4byte':
    case '.long':
      if (ops.length === 0) throw new Error(`${st.mnemonic} needs a value`);
      return 4 * ops.length;
    case '.quad':
    case '.xword':
    case '.dword':
    case '.8byte':
      if (ops.length === 0) throw new Error(`${st.mnemonic} needs a value`);
      return 8 * ops.length;
    case '.space':
    case '.skip':
    case '.zero': {
      const n = ctx.constant(ops[0] ?? '');
      if (n < 0n || n % 4n !== 0n || ops.length > 1) throw new Error(`${st.mnemonic} size must be a non-negative multiple of 4 with zero fill`);
      return Number(n);
    }
    case '.balign':
    case '.align':
    case '.p2align': {
      if (ops.length !== 1) throw new Error(`${st.mnemonic} takes exactly one operand here`);
      const a = ctx.constant(ops[0]!);
      const align = st.mnemonic === '.balign' ? a : 1n << a;
      if (align <= 0n || (align & (align - 1n)) !== 0n || align > 1n << 20n) throw new Error('alignment must be a power of two');
      const rem = ctx.pc % align;
      const pad = rem === 0n ? 0n : align - rem;
      if (pad % 4n !== 0n) throw new Error('alignment padding must be a whole number of instructions');
      return Number(pad);
    }
    case '.equ':
    case '.set': {
      if (ops.length !== 2 || !/^[A-Za-z_.$][A-Za-z0-9_.$]*$/.test(ops[0]!)) throw new Error(`${st.mnemonic} expects \`name, value\``);
      if (symbols.has(ops[0]!)) throw new Error(`symbol \`${ops[0]}\` defined twice`);
      symbols.set(ops[0]!, ctx.expr(ops[1]!));
      return 0;
    }
    default:
      if (IGNORED_DIRECTIVES.has(st.mnemonic)) return 0;
      throw new Error(`unsupported directive \`${st.mnemonic}\``);
  }
}

function encodeDirective(st: Statement, ctx: Ctx): number[] {
  const ops = splitOperands(st.operands);
  switch (st.mnemonic) {
    case '.word':
    case '.inst':
    case '.4byte':
    case '.long':
      return ops.map((o) => {
        const v = ctx.expr(o).v;
        if (v < -(1n << 31n) || v >= 1n << 32n) throw new Error(`value ${v} does not fit in 32 bits`);
        return Number(BigInt.asUintN(32, v));
      });
    case '.quad':
    case '.xword':
    case '.dword':
    case '.8byte':
      return ops.flatMap((o) => {
        const v = ctx.expr(o).v;
        if (v < -(1n << 63n) || v >= 1n << 64n) throw new Error(`value ${v} does not fit in 64 bits`);
        const u = BigInt.asUintN(64, v);
        return [Number(u & 0xffffffffn), Number(u >> 32n)];
      });
    case '.space':
    case '.skip':
    case '.zero':
      return new Array<number>(st.size / 4).fill(0);
    default:
      // Alignment in a code section pads with NOPs, as GNU as does.
      return new Array<number>(st.size / 4).fill(NOP);
  }
}

// ---------------------------------------------------------------------------
// Per-statement context: operand parsing with access to symbols.

class Ctx {
  constructor(
    readonly pc: bigint,
    private readonly seq: number,
    readonly lineNumber: number,
    readonly lineText: string,
    private readonly symbols: Map<string, Value>,
    private readonly locals: Map<string, LocalDef[]>,
    private readonly pass1: boolean,
  ) {}

  expr(text: string): Value {
    const src = text.trim();
    if (src === '') throw new Error('missing operand');
    return evaluateExpr(src, (t) => {
      if (t.t === 'sym') {
        if (t.name === '.') return { v: this.pc, rel: 1 };
        const a = this.symbols.get(t.name);
        if (a === undefined) {
          if (this.pass1) throw new Error(`symbol \`${t.name}\` must be defined before use here`);
          throw new Error(`undefined symbol \`${t.name}\``);
        }
        return a;
      }
      const defs = this.locals.get(t.n) ?? [];
      const d = t.dir === 'b' ? defs.filter((x) => x.seq <= this.seq).at(-1) : defs.find((x) => x.seq > this.seq);
      if (!d) throw new Error(`undefined local label \`${t.n}${t.dir}\``);
      return { v: d.addr, rel: 1 };
    });
  }

  /** An immediate operand (`#` optional) evaluated to its value. */
  immValue(text: string): Value {
    let s = text.trim();
    if (s.startsWith('#')) s = s.slice(1);
    if (parseRegister(s)) throw new Error(`expected an immediate, found register \`${s}\``);
    return this.expr(s);
  }

  imm(text: string): bigint {
    return this.immValue(text).v;
  }

  /** A plain number (labels not allowed), e.g. for directive sizes. */
  constant(text: string): bigint {
    const v = this.immValue(text);
    if (v.rel !== 0) throw new Error(`expected a constant, found an address in \`${text.trim()}\``);
    return v.v;
  }

  /**
   * Byte offset of a PC-relative target. As in GNU as, a bare number is an
   * offset from this instruction while anything involving a label or `.` is
   * an address.
   */
  target(text: string): bigint {
    const v = this.immValue(text);
    if (v.rel === 0) return v.v;
    if (v.rel === 1) return v.v - this.pc;
    throw new Error(`\`${text.trim()}\` is not a valid branch target`);
  }
}

function isRegister(text: string): boolean {
  return parseRegister(text) !== undefined;
}

interface RegOpts {
  width?: Width;
  sp?: boolean; // register 31 means SP in this slot
}

function reg(text: string | undefined, opts: RegOpts = {}): Reg {
  if (text === undefined) throw new Error('missing register operand');
  const r = parseRegister(text);
  if (!r) throw new Error(`expected a register, found \`${text}\``);
  if (opts.width !== undefined && r.width !== opts.width) {
    throw new Error(`expected a ${opts.width === 64 ? 'X' : 'W'} register, found \`${text}\``);
  }
  if (r.isSP && !opts.sp) throw new Error(`\`${text}\` is not allowed here`);
  if (r.isZR && opts.sp) throw new Error(`\`${text}\` is not allowed here (register 31 is SP in this slot)`);
  return r;
}

function xreg(text: string | undefined, sp = false): Reg {
  return reg(text, { width: 64, sp });
}

function checkRange(v: bigint, lo: bigint, hi: bigint, what: string): number {
  if (v < lo || v > hi) throw new Error(`${what} ${v} out of range [${lo}, ${hi}]`);
  return Number(v);
}

function uimm(ctx: Ctx, text: string | undefined, bits: number, what = 'immediate'): number {
  if (text === undefined) throw new Error(`missing ${what}`);
  return checkRange(ctx.imm(text), 0n, (1n << BigInt(bits)) - 1n, what);
}

function expectCount(ops: string[], ...allowed: (number | number[])[]): void {
  const counts = allowed.flat();
  if (!counts.includes(ops.length)) {
    throw new Error(`expected ${counts.join(' or ')} operands, found ${ops.length}`);
  }
}

function sfBit(w: Width): number {
  return w === 64 ? 1 : 0;
}

function parseShift(text: string): { type: number; amount: bigint; name: string } | undefined {
  const m = /^(lsl|lsr|asr|ror|msl)\b\s*(.*)$/is.exec(text.trim());
  if (!m) return undefined;
  const name = m[1]!.toLowerCase();
  if (name === 'msl') throw new Error('MSL is only valid for SIMD immediates');
  if (m[2]!.trim() === '') throw new Error(`shift \`${name}\` needs an amount`);
  let a = m[2]!.trim();
  if (a.startsWith('#')) a = a.slice(1);
  let amount: bigint;
  try {
    amount = evaluateExpr(a, () => {
      throw new Error('shift amount must be a constant');
    }).v;
  } catch (e) {
    throw new Error(`bad shift amount in \`${text.trim()}\`: ${(e as Error).message}`);
  }
  return { type: SHIFT_TYPES[name]!, amount, name };
}

function parseExtend(text: string): { type: number; amount: bigint | undefined; name: string } | undefined {
  const m = /^(uxtb|uxth|uxtw|uxtx|sxtb|sxth|sxtw|sxtx|lsl)\b\s*(.*)$/is.exec(text.trim());
  if (!m) return undefined;
  const name = m[1]!.toLowerCase();
  let amount: bigint | undefined;
  let a = m[2]!.trim();
  if (a !== '') {
    if (a.startsWith('#')) a = a.slice(1);
    amount = evaluateExpr(a, () => {
      throw new Error('extend amount must be a constant');
    }).v;
  }
  return { type: name === 'lsl' ? -1 : EXTEND_TYPES[name]!, amount, name };
}

function cond(text: string | undefined): number {
  const c = text === undefined ? undefined : CONDITIONS[text.trim().toLowerCase()];
  if (c === undefined) throw new Error(`expected a condition code, found \`${text ?? ''}\``);
  return c;
}

/** Relocation-style operators GNU as accepts in immediates: `:lo12:sym`, `:abs_g1:sym` ... */
function relocSpec(text: string): { spec: string; expr: string } | undefined {
  let s = text.trim();
  if (s.startsWith('#')) s = s.slice(1).trim();
  const m = /^:([a-z0-9_]+):(.*)$/is.exec(s);
  if (!m) return undefined;
  return { spec: m[1]!.toLowerCase(), expr: m[2]! };
}

// ---------------------------------------------------------------------------
// Instruction encoders

function encodeInstruction(mn: string, operandText: string, ctx: Ctx): number {
  const ops = splitOperands(operandText);
  const direct = HANDLERS[mn];
  if (direct) return direct(ops, ctx, mn);

  if (/^b\.?[a-z]{2}$/.test(mn) && CONDITIONS[mn.slice(-2)] !== undefined && mn !== 'bl') {
    expectCount(ops, 1);
    return 0x54000000 | (branchImm(ctx, ops[0]!, 19) << 5) | CONDITIONS[mn.slice(-2)]!;
  }
  let m = /^(ld|st)(add|clr|eor|set|smax|smin|umax|umin)(al|a|l)?(b|h)?$/.exec(mn);
  if (m) return encodeLse(ops, m[1] === 'st', ['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin'].indexOf(m[2]!), 0, m[3] ?? '', m[4] ?? '');
  m = /^swp(al|a|l)?(b|h)?$/.exec(mn);
  if (m) return encodeLse(ops, false, 0, 1, m[1] ?? '', m[2] ?? '');
  m = /^cas(al|a|l)?(b|h)?$/.exec(mn);
  if (m) return encodeCas(ops, m[1] ?? '', m[2] ?? '');
  m = /^casp(al|a|l)?$/.exec(mn);
  if (m) return encodeCasp(ops, m[1] ?? '');
  if (LOAD_STORE[mn]) return encodeLoadStore(mn, ops, ctx);
  if (EXCLUSIVE[mn]) return encodeExclusive(mn, ops, ctx);
  throw new Error(`unknown mnemonic \`${mn}\``);
}

type Handler = (ops: string[], ctx: Ctx, mn: string) => number;

function branchImm(ctx: Ctx, text: string, bits: number): number {
  const off = ctx.target(text);
  if (off % 4n !== 0n) throw new Error(`branch offset ${off} is not a multiple of 4`);
  const lim = 1n << BigInt(bits + 1);
  if (off < -lim || off >= lim) throw new Error(`branch offset ${off} out of range (±${lim})`);
  return Number(BigInt.asUintN(bits, off >> 2n));
}

// --- add/sub ---------------------------------------------------------------

function addSubEncode(op: number, s: number, rdText: string | undefined, rnText: string | undefined, rest: string[], ctx: Ctx): number {
  if (rdText === undefined || rnText === undefined) throw new Error('missing operand');
  const rd0 = parseRegister(rdText);
  const rn0 = parseRegister(rnText);
  if (!rd0 || !rn0) throw new Error('expected registers');
  const width = rd0.width;
  if (rn0.width !== width) throw new Error('register widths differ');
  const sf = sfBit(width);
  if (rest.length < 1 || rest.length > 2) throw new Error('expected 3 or 4 operands');
  const third = rest[0]!;

  if (!isRegister(third)) {
    // Immediate form: Rd may be SP unless flags are set; Rn may be SP.
    const rd = reg(rdText, { width, sp: s === 0 });
    const rn = reg(rnText, { width, sp: true });
    let sh = 0;
    let imm: bigint;
    const spec = relocSpec(third);
    if (spec) {
      if (spec.spec !== 'lo12' || rest.length > 1) throw new Error(`unsupported relocation \`:${spec.spec}:\` here`);
      imm = ctx.expr(spec.expr).v & 0xfffn;
    } else {
      imm = ctx.imm(third);
      if (rest.length === 2) {
        const shift = parseShift(rest[1]!);
        if (!shift || shift.type !== 0 || (shift.amount !== 0n && shift.amount !== 12n)) throw new Error('immediate shift must be `lsl #0` or `lsl #12`');
        sh = shift.amount === 12n ? 1 : 0;
        if (imm < 0n || imm > 4095n) throw new Error(`immediate ${imm} out of range [0, 4095]`);
      } else {
        let v = imm;
        // GNU as turns a negative immediate into the opposite operation.
        if (v < 0n) {
          v = -v;
          op ^= 1;
        }
        if (v <= 4095n) imm = v;
        else if ((v & 0xfffn) === 0n && v >> 12n <= 4095n) {
          imm = v >> 12n;
          sh = 1;
        } else throw new Error(`immediate ${imm} cannot be encoded (needs 0..4095, optionally shifted by 12)`);
      }
    }
    return (sf << 31) | (op << 30) | (s << 29) | 0x11000000 | (sh << 22) | (Number(imm) << 10) | (rn.num << 5) | rd.num;
  }

  const ext = rest.length === 2 ? parseExtend(rest[1]!) : undefined;
  const useExtended = (ext !== undefined && ext.type >= 0) || rd0.isSP || rn0.isSP;
  if (useExtended) {
    const rd = reg(rdText, { width, sp: s === 0 });
    const rn = reg(rnText, { width, sp: true });
    let option: number;
    let amount = 0n;
    if (rest.length === 2) {
      if (!ext) throw new Error(`expected an extend, found \`${rest[1]}\``);
      if (ext.type < 0) {
        if (ext.amount === undefined) throw new Error('`lsl` needs an amount');
        option = width === 64 ? 3 : 2;
      } else option = ext.type;
      amount = ext.amount ?? 0n;
    } else {
      option = width === 64 ? 3 : 2;
    }
    checkRange(amount, 0n, 4n, 'extend amount');
    // GNU as takes either width of Rm in 64-bit forms (only the number is
    // encoded); 32-bit forms need W.
    const rm = reg(third, width === 32 ? { width: 32 } : {});
    return (sf << 31) | (op << 30) | (s << 29) | 0x0b200000 | (rm.num << 16) | (option << 13) | (Number(amount) << 10) | (rn.num << 5) | rd.num;
  }
  const rd = reg(rdText, { width });
  const rn = reg(rnText, { width });
  const rm = reg(third, { width });
  let shiftType = 0;
  let amount = 0n;
  if (rest.length === 2) {
    const sh = parseShift(rest[1]!);
    if (!sh || sh.type === 3) throw new Error(`expected lsl/lsr/asr, found \`${rest[1]}\``);
    shiftType = sh.type;
    amount = sh.amount;
  }
  checkRange(amount, 0n, BigInt(width - 1), 'shift amount');
  return (sf << 31) | (op << 30) | (s << 29) | 0x0b000000 | (shiftType << 22) | (rm.num << 16) | (Number(amount) << 10) | (rn.num << 5) | rd.num;
}

function addSub(op: number, s: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 3, 4);
    return addSubEncode(op, s, ops[0], ops[1], ops.slice(2), ctx);
  };
}

function cmpLike(op: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 2, 3);
    const rn = parseRegister(ops[0]!);
    if (!rn) throw new Error(`expected a register, found \`${ops[0]}\``);
    return addSubEncode(op, 1, rn.width === 64 ? 'xzr' : 'wzr', ops[0], ops.slice(1), ctx);
  };
}

function negLike(s: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 2, 3);
    const rd = reg(ops[0], {});
    const rm = reg(ops[1], { width: rd.width });
    let shiftType = 0;
    let amount = 0n;
    if (ops.length === 3) {
      const sh = parseShift(ops[2]!);
      if (!sh || sh.type === 3) throw new Error(`expected lsl/lsr/asr, found \`${ops[2]}\``);
      shiftType = sh.type;
      amount = sh.amount;
    }
    checkRange(amount, 0n, BigInt(rd.width - 1), 'shift amount');
    return (sfBit(rd.width) << 31) | (1 << 30) | (s << 29) | 0x0b000000 | (shiftType << 22) | (rm.num << 16) | (Number(amount) << 10) | (31 << 5) | rd.num;
  };
}

// --- logical ---------------------------------------------------------------

function logicalImmediate(opc: number, rd: Reg, rn: Reg, value: bigint): number {
  const width = rd.width;
  const lo = width === 64 ? -(1n << 63n) : -(1n << 31n);
  const hi = width === 64 ? MASK64 : 0xffffffffn;
  if (value < lo || value > hi) throw new Error(`immediate ${value} does not fit in ${width} bits`);
  const f = encodeBitmaskImmediate(value, width);
  if (!f) throw new Error(`immediate 0x${BigInt.asUintN(width, value).toString(16)} is not a valid bitmask immediate`);
  return (sfBit(width) << 31) | (opc << 29) | 0x12000000 | (f.n << 22) | (f.immr << 16) | (f.imms << 10) | (rn.num << 5) | rd.num;
}

function logicalShifted(opc: number, n: number, rd: Reg, rn: Reg, rmText: string, shiftText: string | undefined): number {
  const width = rd.width;
  const rm = reg(rmText, { width });
  let type = 0;
  let amount = 0n;
  if (shiftText !== undefined) {
    const sh = parseShift(shiftText);
    if (!sh) throw new Error(`expected a shift, found \`${shiftText}\``);
    type = sh.type;
    amount = sh.amount;
  }
  checkRange(amount, 0n, BigInt(width - 1), 'shift amount');
  return (sfBit(width) << 31) | (opc << 29) | 0x0a000000 | (type << 22) | (n << 21) | (rm.num << 16) | (Number(amount) << 10) | (rn.num << 5) | rd.num;
}

function logical(opc: number, n: number, allowImm: boolean, invertImm = false): Handler {
  return (ops, ctx) => {
    expectCount(ops, 3, 4);
    const first = parseRegister(ops[0]!);
    if (!first) throw new Error(`expected a register, found \`${ops[0]}\``);
    const width = first.width;
    if (!isRegister(ops[2]!)) {
      if (!allowImm) throw new Error('this instruction has no immediate form');
      if (ops.length !== 3) throw new Error('a bitmask immediate takes no shift');
      const rd = reg(ops[0], { width, sp: opc !== 3 });
      const rn = reg(ops[1], { width });
      let v = ctx.imm(ops[2]!);
      if (invertImm) v = ~v & (width === 64 ? MASK64 : 0xffffffffn);
      return logicalImmediate(opc, rd, rn, v);
    }
    const rd = reg(ops[0], { width });
    const rn = reg(ops[1], { width });
    return logicalShifted(opc, n, rd, rn, ops[2]!, ops[3]);
  };
}

// --- moves -----------------------------------------------------------------

function moveWide(opc: number, rd: Reg, imm16: number, hw: number): number {
  return (sfBit(rd.width) << 31) | (opc << 29) | 0x12800000 | (hw << 21) | (imm16 << 5) | rd.num;
}

function singleChunk(v: bigint, width: Width): { imm16: number; hw: number } | undefined {
  for (let hw = 0; hw < width / 16; hw++) {
    const sh = BigInt(hw * 16);
    if ((v & ~(0xffffn << sh)) === 0n) return { imm16: Number((v >> sh) & 0xffffn), hw };
  }
  return undefined;
}

const movHandler: Handler = (ops, ctx) => {
  expectCount(ops, 2);
  const rd0 = parseRegister(ops[0]!);
  if (!rd0) throw new Error(`expected a register, found \`${ops[0]}\``);
  const width = rd0.width;
  if (isRegister(ops[1]!)) {
    const rm0 = parseRegister(ops[1]!)!;
    if (rd0.isSP || rm0.isSP) {
      const rd = reg(ops[0], { width, sp: true });
      const rn = reg(ops[1], { width, sp: true });
      return (sfBit(width) << 31) | 0x11000000 | (rn.num << 5) | rd.num;
    }
    const rd = reg(ops[0], { width });
    const rm = reg(ops[1], { width });
    return (sfBit(width) << 31) | (1 << 29) | 0x0a000000 | (rm.num << 16) | (31 << 5) | rd.num;
  }
  const value = ctx.imm(ops[1]!);
  const lo = width === 64 ? -(1n << 63n) : -(1n << 31n);
  const hi = width === 64 ? MASK64 : 0xffffffffn;
  if (value < lo || value > hi) throw new Error(`immediate ${value} does not fit in ${width} bits`);
  const wmask = width === 64 ? MASK64 : 0xffffffffn;
  const v = value & wmask;
  if (!rd0.isSP) {
    const rd = reg(ops[0], { width });
    const z = singleChunk(v, width);
    if (z) return moveWide(2, rd, z.imm16, z.hw);
    const n = singleChunk(~v & wmask, width);
    if (n) return moveWide(0, rd, n.imm16, n.hw);
  }
  const rd = reg(ops[0], { width, sp: true });
  if (!encodeBitmaskImmediate(v, width)) {
    throw new Error(`immediate 0x${v.toString(16)} cannot be loaded by a single MOV (not MOVZ, MOVN or bitmask)`);
  }
  return logicalImmediate(1, rd, { num: 31, width, isSP: false, isZR: true }, v);
};

function movWideHandler(opc: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 2, 3);
    const rd = reg(ops[0], {});
    const spec = relocSpec(ops[1]!);
    let imm: number;
    let hw = 0;
    if (spec) {
      const m = /^abs_g([0-3])(_nc)?$/.exec(spec.spec);
      if (!m || ops.length === 3) throw new Error(`unsupported relocation \`:${spec.spec}:\` here`);
      hw = Number(m[1]);
      if (hw * 16 >= rd.width) throw new Error(`:${spec.spec}: needs an X register`);
      const v = BigInt.asUintN(64, ctx.expr(spec.expr).v);
      if (!m[2] && hw < 3 && v >> BigInt(16 * (hw + 1)) !== 0n) throw new Error(`value 0x${v.toString(16)} overflows :${spec.spec}:`);
      imm = Number((v >> BigInt(16 * hw)) & 0xffffn);
    } else {
      imm = uimm(ctx, ops[1], 16);
      if (ops.length === 3) {
        const sh = parseShift(ops[2]!);
        if (!sh || sh.type !== 0 || sh.amount % 16n !== 0n || sh.amount < 0n || sh.amount >= BigInt(rd.width)) {
          throw new Error(`shift must be lsl #0/#16${rd.width === 64 ? '/#32/#48' : ''}`);
        }
        hw = Number(sh.amount / 16n);
      }
    }
    return moveWide(opc, rd, imm, hw);
  };
}

// --- bitfield --------------------------------------------------------------

function bitfield(opc: number, rd: Reg, rn: Reg, immr: number, imms: number): number {
  const sf = sfBit(rd.width);
  return (sf << 31) | (opc << 29) | 0x13000000 | (sf << 22) | (immr << 16) | (imms << 10) | (rn.num << 5) | rd.num;
}

function bitfieldHandler(opc: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 4);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    const immr = uimm(ctx, ops[2], rd.width === 64 ? 6 : 5, 'immr');
    const imms = uimm(ctx, ops[3], rd.width === 64 ? 6 : 5, 'imms');
    return bitfield(opc, rd, rn, immr, imms);
  };
}

function lsbWidth(ctx: Ctx, w: Width, lsbText: string | undefined, widthText: string | undefined): { lsb: number; width: number } {
  const lsb = checkRange(ctx.imm(lsbText ?? ''), 0n, BigInt(w - 1), 'lsb');
  const width = checkRange(ctx.imm(widthText ?? ''), 1n, BigInt(w - lsb), 'width');
  return { lsb, width };
}

/** UBFX/SBFX/BFXIL: extract a field down to bit 0. */
function extractAlias(opc: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 4);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    const { lsb, width } = lsbWidth(ctx, rd.width, ops[2], ops[3]);
    return bitfield(opc, rd, rn, lsb, lsb + width - 1);
  };
}

/** UBFIZ/SBFIZ/BFI: insert a low field at lsb. */
function insertAlias(opc: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 4);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    const { lsb, width } = lsbWidth(ctx, rd.width, ops[2], ops[3]);
    return bitfield(opc, rd, rn, (rd.width - lsb) % rd.width, width - 1);
  };
}

const bfcHandler: Handler = (ops, ctx) => {
  expectCount(ops, 3);
  const rd = reg(ops[0], {});
  const { lsb, width } = lsbWidth(ctx, rd.width, ops[1], ops[2]);
  return bitfield(1, rd, { num: 31, width: rd.width, isSP: false, isZR: true }, (rd.width - lsb) % rd.width, width - 1);
};

function extendAlias(opc: number, imms: number, widths: Width[]): Handler {
  return (ops) => {
    expectCount(ops, 2);
    let rd = reg(ops[0], {});
    if (!widths.includes(rd.width)) {
      // GNU as accepts `uxtb x0, w1` as the W form, which zero-extends anyway.
      if (opc !== 2) throw new Error(`destination must be a ${widths.map((w) => (w === 64 ? 'X' : 'W')).join('/')} register`);
      rd = { ...rd, width: 32 };
    }
    const rn = reg(ops[1], { width: 32 });
    return bitfield(opc, rd, rn, 0, imms);
  };
}

/** LSL/LSR/ASR/ROR: immediate forms are bitfield/EXTR aliases, register forms are the *V instructions. */
function shiftHandler(kind: 'lsl' | 'lsr' | 'asr' | 'ror'): Handler {
  const op2 = { lsl: 8, lsr: 9, asr: 10, ror: 11 }[kind];
  return (ops, ctx) => {
    expectCount(ops, 3);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    if (isRegister(ops[2]!)) {
      const rm = reg(ops[2], { width: rd.width });
      return dp2(rd.width, op2, rd, rn, rm);
    }
    const w = rd.width;
    const sh = checkRange(ctx.imm(ops[2]!), 0n, BigInt(w - 1), 'shift amount');
    switch (kind) {
      case 'lsl': return bitfield(2, rd, rn, (w - sh) % w, w - 1 - sh);
      case 'lsr': return bitfield(2, rd, rn, sh, w - 1);
      case 'asr': return bitfield(0, rd, rn, sh, w - 1);
      default: return extr(rd, rn, rn, sh);
    }
  };
}

function extr(rd: Reg, rn: Reg, rm: Reg, lsb: number): number {
  const sf = sfBit(rd.width);
  return (sf << 31) | 0x13800000 | (sf << 22) | (rm.num << 16) | (lsb << 10) | (rn.num << 5) | rd.num;
}

const extrHandler: Handler = (ops, ctx) => {
  expectCount(ops, 4);
  const rd = reg(ops[0], {});
  const rn = reg(ops[1], { width: rd.width });
  const rm = reg(ops[2], { width: rd.width });
  const lsb = checkRange(ctx.imm(ops[3]!), 0n, BigInt(rd.width - 1), 'lsb');
  return extr(rd, rn, rm, lsb);
};

// --- data processing (2 and 1 source, 3 source, carry) ---------------------

function dp2(width: Width, opcode: number, rd: Reg, rn: Reg, rm: Reg): number {
  return (sfBit(width) << 31) | 0x1ac00000 | (rm.num << 16) | (opcode << 10) | (rn.num << 5) | rd.num;
}

function dp2Handler(opcode: number): Handler {
  return (ops) => {
    expectCount(ops, 3);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    const rm = reg(ops[2], { width: rd.width });
    return dp2(rd.width, opcode, rd, rn, rm);
  };
}

function crcHandler(opcode: number, wideData: boolean): Handler {
  return (ops) => {
    expectCount(ops, 3);
    const rd = reg(ops[0], { width: 32 });
    const rn = reg(ops[1], { width: 32 });
    const rm = reg(ops[2], { width: wideData ? 64 : 32 });
    return dp2(wideData ? 64 : 32, opcode, rd, rn, rm);
  };
}

function dp1Handler(opcode32: number | undefined, opcode64: number | undefined): Handler {
  return (ops) => {
    expectCount(ops, 2);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    const opcode = rd.width === 64 ? opcode64 : opcode32;
    if (opcode === undefined) throw new Error(`no ${rd.width}-bit form`);
    return (sfBit(rd.width) << 31) | 0x5ac00000 | (opcode << 10) | (rn.num << 5) | rd.num;
  };
}

function dp3(base: number, rd: Reg, rn: Reg, rm: Reg, ra: Reg | number): number {
  const raNum = typeof ra === 'number' ? ra : ra.num;
  return base | (rm.num << 16) | (raNum << 10) | (rn.num << 5) | rd.num;
}

/** MADD/MSUB and MUL/MNEG. */
function madd(o0: number, hasRa: boolean): Handler {
  return (ops) => {
    expectCount(ops, hasRa ? 4 : 3);
    const rd = reg(ops[0], {});
    const w = rd.width;
    const rn = reg(ops[1], { width: w });
    const rm = reg(ops[2], { width: w });
    const ra = hasRa ? reg(ops[3], { width: w }) : 31;
    return dp3((sfBit(w) << 31) | 0x1b000000 | (o0 << 15), rd, rn, rm, ra);
  };
}

/** SMADDL/UMADDL/... and SMULL/UMULL/...: X destination, W sources. */
function maddl(u: number, o0: number, hasRa: boolean): Handler {
  return (ops) => {
    expectCount(ops, hasRa ? 4 : 3);
    const rd = xreg(ops[0]);
    const rn = reg(ops[1], { width: 32 });
    const rm = reg(ops[2], { width: 32 });
    const ra = hasRa ? xreg(ops[3]) : 31;
    return dp3(0x9b200000 | (u << 23) | (o0 << 15), rd, rn, rm, ra);
  };
}

function mulh(u: number): Handler {
  return (ops) => {
    expectCount(ops, 3);
    return dp3(0x9b400000 | (u << 23), xreg(ops[0]), xreg(ops[1]), xreg(ops[2]), 31);
  };
}

function adcHandler(op: number, s: number, negate: boolean): Handler {
  return (ops) => {
    expectCount(ops, negate ? 2 : 3);
    const rd = reg(ops[0], {});
    const w = rd.width;
    const rn = negate ? 31 : reg(ops[1], { width: w }).num;
    const rm = reg(ops[negate ? 1 : 2], { width: w });
    return (sfBit(w) << 31) | (op << 30) | (s << 29) | 0x1a000000 | (rm.num << 16) | (rn << 5) | rd.num;
  };
}

// --- conditional -----------------------------------------------------------

function condSelect(op: number, o2: number): Handler {
  return (ops) => {
    expectCount(ops, 4);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    const rm = reg(ops[2], { width: rd.width });
    return condSel(op, o2, rd, rn.num, rm.num, cond(ops[3]));
  };
}

function condSel(op: number, o2: number, rd: Reg, rn: number, rm: number, c: number): number {
  return (sfBit(rd.width) << 31) | (op << 30) | 0x1a800000 | (rm << 16) | (c << 12) | (o2 << 10) | (rn << 5) | rd.num;
}

function invertibleCond(text: string | undefined): number {
  const c = cond(text);
  if (c >= 14) throw new Error('AL/NV cannot be used with this alias');
  return c ^ 1;
}

/** CSET/CSETM. */
function condSet(op: number): Handler {
  return (ops) => {
    expectCount(ops, 2);
    const rd = reg(ops[0], {});
    return condSel(op, op === 0 ? 1 : 0, rd, 31, 31, invertibleCond(ops[1]));
  };
}

/** CINC/CINV/CNEG. */
function condUnary(op: number, o2: number): Handler {
  return (ops) => {
    expectCount(ops, 3);
    const rd = reg(ops[0], {});
    const rn = reg(ops[1], { width: rd.width });
    return condSel(op, o2, rd, rn.num, rn.num, invertibleCond(ops[2]));
  };
}

function condCompare(op: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 4);
    const rn = reg(ops[0], {});
    const nzcv = uimm(ctx, ops[2], 4, 'nzcv');
    const c = cond(ops[3]);
    let field: number;
    let immBit = 0;
    if (isRegister(ops[1]!)) field = reg(ops[1], { width: rn.width }).num;
    else {
      field = uimm(ctx, ops[1], 5);
      immBit = 1;
    }
    return (sfBit(rn.width) << 31) | (op << 30) | 0x3a400000 | (field << 16) | (c << 12) | (immBit << 11) | (rn.num << 5) | nzcv;
  };
}

// --- PC-relative -----------------------------------------------------------

const adrHandler: Handler = (ops, ctx) => {
  expectCount(ops, 2);
  const rd = xreg(ops[0]);
  const off = ctx.target(ops[1]!);
  checkRange(off, -(1n << 20n), (1n << 20n) - 1n, 'ADR offset');
  const imm = Number(BigInt.asUintN(21, off));
  return 0x10000000 | ((imm & 3) << 29) | ((imm >> 2) << 5) | rd.num;
};

const adrpHandler: Handler = (ops, ctx) => {
  expectCount(ops, 2);
  const rd = xreg(ops[0]);
  const v = ctx.immValue(ops[1]!);
  let pages: bigint;
  if (v.rel === 1) pages = (v.v >> 12n) - (ctx.pc >> 12n);
  else if (v.rel === 0) {
    // GNU as rejects a bare number here; take it as a byte distance between pages.
    if (v.v % 4096n !== 0n) throw new Error('ADRP numeric offset must be a multiple of 4096');
    pages = v.v / 4096n;
  } else throw new Error(`\`${ops[1]}\` is not a valid ADRP target`);
  checkRange(pages, -(1n << 20n), (1n << 20n) - 1n, 'ADRP page offset');
  const imm = Number(BigInt.asUintN(21, pages));
  return 0x90000000 | ((imm & 3) << 29) | ((imm >> 2) << 5) | rd.num;
};

// --- branches --------------------------------------------------------------

function branchHandler(base: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 1);
    return base | branchImm(ctx, ops[0]!, 26);
  };
}

function branchReg(base: number, defaultLr: boolean): Handler {
  return (ops) => {
    expectCount(ops, defaultLr ? [0, 1] : [1]);
    const rn = ops.length === 0 ? 30 : xreg(ops[0]).num;
    return base | (rn << 5);
  };
}

function cbHandler(op: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 2);
    const rt = reg(ops[0], {});
    return (sfBit(rt.width) << 31) | 0x34000000 | (op << 24) | (branchImm(ctx, ops[1]!, 19) << 5) | rt.num;
  };
}

function tbHandler(op: number): Handler {
  return (ops, ctx) => {
    expectCount(ops, 3);
    const rt = reg(ops[0], {});
    const bit = checkRange(ctx.imm(ops[1]!), 0n, BigInt(rt.width - 1), 'bit number');
    return ((bit >> 5) << 31) | 0x36000000 | (op << 24) | ((bit & 31) << 19) | (branchImm(ctx, ops[2]!, 14) << 5) | rt.num;
  };
}

// --- loads and stores ------------------------------------------------------

type LsKind = 'normal' | 'unscaled' | 'unpriv';

interface LsSpec {
  size: number;
  /** opc chosen from the Rt width, or undefined when that width is invalid. */
  opc: (w: Width) => number | undefined;
  kind: LsKind;
  prefetch?: boolean;
}

function lsFixed(size: number, opc: number, w: Width | 'any', kind: LsKind): LsSpec {
  return { size, opc: (rw) => (w === 'any' || rw === w ? opc : undefined), kind };
}

const LOAD_STORE: Record<string, (w: Width) => LsSpec | undefined> = {};
for (const [suffix, kind] of [['', 'normal'], ['u', 'unscaled'], ['t', 'unpriv']] as const) {
  // sturb, ldtrsh, ...: the u/t goes between the "st"/"ld" and the "r".
  const name = (base: string, rest: string) => `${base.slice(0, 2)}${suffix}r${rest}`;
  const add = (n: string, f: (w: Width) => LsSpec | undefined) => (LOAD_STORE[n] = f);
  add(name('str', 'b'), () => lsFixed(0, 0, 32, kind));
  add(name('ldr', 'b'), () => lsFixed(0, 1, 32, kind));
  add(name('ldr', 'sb'), (w) => lsFixed(0, w === 64 ? 2 : 3, 'any', kind));
  add(name('str', 'h'), () => lsFixed(1, 0, 32, kind));
  add(name('ldr', 'h'), () => lsFixed(1, 1, 32, kind));
  add(name('ldr', 'sh'), (w) => lsFixed(1, w === 64 ? 2 : 3, 'any', kind));
  add(name('str', ''), (w) => lsFixed(w === 64 ? 3 : 2, 0, 'any', kind));
  add(name('ldr', ''), (w) => lsFixed(w === 64 ? 3 : 2, 1, 'any', kind));
  add(name('ldr', 'sw'), () => lsFixed(2, 2, 64, kind));
}
LOAD_STORE['prfm'] = () => ({ size: 3, opc: () => 2, kind: 'normal', prefetch: true });
LOAD_STORE['prfum'] = () => ({ size: 3, opc: () => 2, kind: 'unscaled', prefetch: true });

function parseMemory(text: string | undefined): { parts: string[]; writeback: boolean } | undefined {
  if (text === undefined) return undefined;
  const m = /^\[(.*)\]\s*(!?)$/s.exec(text.trim());
  if (!m) return undefined;
  return { parts: splitOperands(m[1]!), writeback: m[2] === '!' };
}

function prefetchOp(ctx: Ctx, text: string): number {
  const t = text.trim().toLowerCase();
  const m = /^(pld|pli|pst)(l[123])(keep|strm)$/.exec(t);
  if (m) return (PRF_TYPES[m[1]!]! << 3) | ((Number(m[2]![1]) - 1) << 1) | (m[3] === 'strm' ? 1 : 0);
  return uimm(ctx, text, 5, 'prefetch operation');
}

function encodeLoadStore(mn: string, ops: string[], ctx: Ctx): number {
  expectCount(ops, 2, 3);
  const specOf = LOAD_STORE[mn]!;
  let rtNum: number;
  let spec: LsSpec | undefined;
  let opc: number | undefined;
  if (mn === 'prfm' || mn === 'prfum') {
    spec = specOf(64);
    opc = 2;
    rtNum = prefetchOp(ctx, ops[0]!);
  } else {
    const rt = reg(ops[0], {});
    spec = specOf(rt.width);
    opc = spec?.opc(rt.width);
    rtNum = rt.num;
  }
  if (!spec || opc === undefined) throw new Error(`\`${ops[0]}\` is the wrong register width for ${mn.toUpperCase()}`);
  const size = spec.size;
  const head = (size << 30) | (opc << 22);
  const imm9 = (v: bigint, mode: number, rn: Reg): number => {
    const i = checkRange(v, -256n, 255n, 'offset');
    return head | 0x38000000 | ((i & 0x1ff) << 12) | (mode << 10) | (rn.num << 5) | rtNum;
  };

  const mem = parseMemory(ops[1]);
  if (!mem) {
    if (ops[1]!.trim().startsWith('=')) throw new Error('literal pools (`ldr Rt, =value`) are not supported; use mov/movk or a labelled .word/.quad');
    // Literal (PC-relative) form.
    if (ops.length !== 2 || spec.kind !== 'normal') throw new Error('expected a memory operand `[...]`');
    let litOpc: number;
    if (mn === 'ldr') litOpc = size === 3 ? 1 : 0;
    else if (mn === 'ldrsw') litOpc = 2;
    else if (mn === 'prfm') litOpc = 3;
    else throw new Error(`${mn.toUpperCase()} has no literal form`);
    return (litOpc << 30) | 0x18000000 | (branchImm(ctx, ops[1]!, 19) << 5) | rtNum;
  }
  const rn = xreg(mem.parts[0], true);
  if (ops.length === 3) {
    // Post-index: [Xn], #imm
    if (mem.writeback || mem.parts.length !== 1 || spec.kind !== 'normal' || spec.prefetch) throw new Error('invalid post-index addressing');
    if (isRegister(ops[2]!)) throw new Error('register post-index is only valid for SIMD loads/stores');
    return imm9(ctx.imm(ops[2]!), 1, rn);
  }
  if (mem.writeback) {
    if (mem.parts.length !== 2 || spec.kind !== 'normal' || spec.prefetch) throw new Error('invalid pre-index addressing');
    return imm9(ctx.imm(mem.parts[1]!), 3, rn);
  }
  if (mem.parts.length >= 2 && isRegister(mem.parts[1]!)) {
    if (spec.kind !== 'normal') throw new Error('register offset is not valid for this instruction');
    if (mem.parts.length > 3) throw new Error('too many address components');
    const rm = reg(mem.parts[1], {});
    let option: number;
    let s = 0;
    if (mem.parts.length === 3) {
      const ext = parseExtend(mem.parts[2]!);
      if (!ext) throw new Error(`expected an extend or lsl, found \`${mem.parts[2]}\``);
      option = ext.type < 0 ? 3 : ext.type;
      if (option !== 2 && option !== 3 && option !== 6 && option !== 7) throw new Error(`extend \`${ext.name}\` not allowed in an address`);
      if (ext.type < 0 && ext.amount === undefined) throw new Error('`lsl` needs an amount');
      if (ext.amount !== undefined) {
        if (size === 0) {
          if (ext.amount !== 0n) throw new Error('shift amount must be #0');
          s = 1;
        } else if (ext.amount === BigInt(size)) s = 1;
        else if (ext.amount !== 0n) throw new Error(`shift amount must be #0 or #${size}`);
      }
    } else option = 3;
    const wantWidth: Width = (option & 1) === 1 ? 64 : 32;
    if (rm.width !== wantWidth) throw new Error(`index register must be ${wantWidth === 64 ? 'X' : 'W'} for this extend`);
    return head | 0x38200800 | (rm.num << 16) | (option << 13) | (s << 12) | (rn.num << 5) | rtNum;
  }
  if (mem.parts.length > 2) throw new Error('too many address components');
  const offText = mem.parts[1];
  if (spec.kind === 'unscaled') return imm9(offText === undefined ? 0n : ctx.imm(offText), 0, rn);
  if (spec.kind === 'unpriv') return imm9(offText === undefined ? 0n : ctx.imm(offText), 2, rn);
  let off = 0n;
  let forceScaled = false;
  if (offText !== undefined) {
    const spec2 = relocSpec(offText);
    if (spec2) {
      if (spec2.spec !== 'lo12') throw new Error(`unsupported relocation \`:${spec2.spec}:\` here`);
      off = ctx.expr(spec2.expr).v & 0xfffn;
      forceScaled = true;
    } else off = ctx.imm(offText);
  }
  const scale = BigInt(size);
  const aligned = (off & ((1n << scale) - 1n)) === 0n;
  if (off >= 0n && aligned && off >> scale <= 4095n) {
    return head | 0x39000000 | (Number(off >> scale) << 10) | (rn.num << 5) | rtNum;
  }
  if (forceScaled) throw new Error(`:lo12: offset 0x${off.toString(16)} is not a multiple of ${1n << scale}`);
  // GNU as falls back to the unscaled form when the scaled one cannot encode the offset.
  if (off >= -256n && off <= 255n) return imm9(off, 0, rn);
  throw new Error(`offset ${off} cannot be encoded (scaled 0..${4095n << scale} in steps of ${1n << scale}, or -256..255)`);
}

function pairHandler(opc: number | 'auto', load: number, nonTemporal: boolean): Handler {
  return (ops, ctx) => {
    expectCount(ops, 3, 4);
    const rt = reg(ops[0], {});
    const rt2 = reg(ops[1], { width: rt.width });
    let realOpc: number;
    if (opc === 'auto') realOpc = rt.width === 64 ? 2 : 0;
    else {
      if (rt.width !== 64) throw new Error('LDPSW needs X registers');
      realOpc = opc;
    }
    const scale = opc === 'auto' ? (rt.width === 64 ? 3n : 2n) : 2n;
    const mem = parseMemory(ops[2]);
    if (!mem || mem.parts.length < 1 || mem.parts.length > 2) throw new Error('expected a memory operand `[Xn{, #imm}]`');
    const rn = xreg(mem.parts[0], true);
    let mode: number;
    let off: bigint;
    if (ops.length === 4) {
      if (mem.writeback || mem.parts.length !== 1) throw new Error('invalid post-index addressing');
      mode = 1;
      off = ctx.imm(ops[3]!);
    } else {
      mode = mem.writeback ? 3 : 2;
      off = mem.parts.length === 2 ? ctx.imm(mem.parts[1]!) : 0n;
      if (mem.writeback && mem.parts.length !== 2) throw new Error('pre-index needs an offset');
    }
    if (nonTemporal) {
      if (mode !== 2) throw new Error('LDNP/STNP only have the signed offset form');
      mode = 0;
    }
    const unit = 1n << scale;
    if (off % unit !== 0n) throw new Error(`offset ${off} is not a multiple of ${unit}`);
    const imm7 = checkRange(off / unit, -64n, 63n, 'scaled offset');
    return (realOpc << 30) | 0x28000000 | (mode << 23) | (load << 22) | ((imm7 & 0x7f) << 15) | (rt2.num << 10) | (rn.num << 5) | rt.num;
  };
}

/** Exclusive and ordered forms take `[Xn|SP]` or `[Xn|SP, #0]`. */
function baseOnly(text: string | undefined, ctx: Ctx): Reg {
  const mem = parseMemory(text);
  if (!mem || mem.writeback || mem.parts.length < 1 || mem.parts.length > 2) throw new Error('expected `[Xn|SP]`');
  if (mem.parts.length === 2 && ctx.imm(mem.parts[1]!) !== 0n) throw new Error('offset must be #0');
  return xreg(mem.parts[0], true);
}

interface ExclusiveSpec {
  /** Fixed size (0=B, 1=H) or undefined to take it from Rt. */
  size?: number;
  o2: number;
  l: number;
  o1: number;
  o0: number;
  status: boolean;
  pair: boolean;
}

const EXCLUSIVE: Record<string, ExclusiveSpec> = {};
for (const [suffix, size] of [['b', 0], ['h', 1], ['', undefined]] as const) {
  const d = (name: string, o2: number, l: number, o1: number, o0: number, status: boolean, pair = false) => {
    EXCLUSIVE[name + suffix] = { size, o2, l, o1, o0, status, pair };
  };
  d('stxr', 0, 0, 0, 0, true);
  d('stlxr', 0, 0, 0, 1, true);
  d('ldxr', 0, 1, 0, 0, false);
  d('ldaxr', 0, 1, 0, 1, false);
  d('stllr', 1, 0, 0, 0, false);
  d('stlr', 1, 0, 0, 1, false);
  d('ldlar', 1, 1, 0, 0, false);
  d('ldar', 1, 1, 0, 1, false);
  if (size === undefined) {
    d('stxp', 0, 0, 1, 0, true, true);
    d('stlxp', 0, 0, 1, 1, true, true);
    d('ldxp', 0, 1, 1, 0, false, true);
    d('ldaxp', 0, 1, 1, 1, false, true);
  }
}

function encodeExclusive(mn: string, ops: string[], ctx: Ctx): number {
  const e = EXCLUSIVE[mn]!;
  const n = (e.status ? 1 : 0) + (e.pair ? 2 : 1) + 1;
  expectCount(ops, n);
  let i = 0;
  const rs = e.status ? reg(ops[i++], { width: 32 }).num : 31;
  const rt = reg(ops[i++], e.size !== undefined ? { width: 32 } : {});
  const rt2 = e.pair ? reg(ops[i++], { width: rt.width }).num : 31;
  const rn = baseOnly(ops[i], ctx);
  const size = e.size ?? (e.pair ? 2 | (rt.width === 64 ? 1 : 0) : rt.width === 64 ? 3 : 2);
  return (size << 30) | 0x08000000 | (e.o2 << 23) | (e.l << 22) | (e.o1 << 21) | (rs << 16) | (e.o0 << 15) | (rt2 << 10) | (rn.num << 5) | rt.num;
}

function orderingBits(ord: string): { a: number; r: number } {
  return { a: ord.includes('a') ? 1 : 0, r: ord.includes('l') ? 1 : 0 };
}

function encodeLse(ops: string[], store: boolean, opc: number, o3: number, ord: string, sz: string): number {
  const { a, r } = orderingBits(ord);
  if (store && a) throw new Error('ST<op> aliases have no acquire form');
  expectCount(ops, store ? 2 : 3);
  const rs = reg(ops[0], sz ? { width: 32 } : {});
  const rt = store ? { num: 31, width: rs.width } : reg(ops[1], { width: rs.width });
  const rn = baseOnlyNoCtx(ops[store ? 1 : 2]);
  const size = sz === 'b' ? 0 : sz === 'h' ? 1 : rs.width === 64 ? 3 : 2;
  return (size << 30) | 0x38200000 | (a << 23) | (r << 22) | (rs.num << 16) | (o3 << 15) | (opc << 12) | (rn.num << 5) | rt.num;
}

/** Atomics only accept a bare base register (GNU as also allows `, #0`). */
function baseOnlyNoCtx(text: string | undefined): Reg {
  const mem = parseMemory(text);
  if (!mem || mem.writeback || mem.parts.length < 1 || mem.parts.length > 2) throw new Error('expected `[Xn|SP]`');
  if (mem.parts.length === 2 && !/^#?\s*0+$/.test(mem.parts[1]!.trim())) throw new Error('offset must be #0');
  return xreg(mem.parts[0], true);
}

function encodeCas(ops: string[], ord: string, sz: string): number {
  expectCount(ops, 3);
  const { a, r } = orderingBits(ord);
  const rs = reg(ops[0], sz ? { width: 32 } : {});
  const rt = reg(ops[1], { width: rs.width });
  const rn = baseOnlyNoCtx(ops[2]);
  const size = sz === 'b' ? 0 : sz === 'h' ? 1 : rs.width === 64 ? 3 : 2;
  return (size << 30) | 0x08a07c00 | (a << 22) | (rs.num << 16) | (r << 15) | (rn.num << 5) | rt.num;
}

function encodeCasp(ops: string[], ord: string): number {
  expectCount(ops, 5);
  const { a, r } = orderingBits(ord);
  const rs = reg(ops[0], {});
  const rs2 = reg(ops[1], { width: rs.width });
  const rt = reg(ops[2], { width: rs.width });
  const rt2 = reg(ops[3], { width: rs.width });
  const rn = baseOnlyNoCtx(ops[4]);
  for (const [x, y] of [[rs, rs2], [rt, rt2]] as const) {
    if (x.num % 2 !== 0 || x.isZR || y.num !== x.num + 1) throw new Error('CASP needs consecutive even/odd register pairs');
  }
  return ((rs.width === 64 ? 1 : 0) << 30) | 0x08207c00 | (a << 22) | (rs.num << 16) | (r << 15) | (rn.num << 5) | rt.num;
}

// --- system ----------------------------------------------------------------

function sysreg(text: string | undefined): SysRegEnc {
  const t = (text ?? '').trim().toLowerCase();
  const named = SYSREGS[t];
  if (named) return named;
  const m = /^s([0-3])_([0-7])_c([0-9]|1[0-5])_c([0-9]|1[0-5])_([0-7])$/.exec(t);
  if (m) {
    const enc = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])] as const;
    if (enc[0] < 2) throw new Error(`\`${text}\`: op0 must be 2 or 3 for MRS/MSR`);
    return enc;
  }
  throw new Error(`unknown system register \`${text ?? ''}\``);
}

function sysregField([op0, op1, crn, crm, op2]: SysRegEnc): number {
  return (op0 << 19) | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5);
}

const mrsHandler: Handler = (ops) => {
  expectCount(ops, 2);
  const rt = xreg(ops[0]);
  return 0xd5200000 | (1 << 21) | sysregField(sysreg(ops[1])) | rt.num;
};

const msrHandler: Handler = (ops, ctx) => {
  expectCount(ops, 2);
  const field = PSTATE_FIELDS[ops[0]!.trim().toLowerCase()];
  if (field && !isRegister(ops[1]!)) {
    const [op1, op2, max] = field;
    const imm = checkRange(ctx.imm(ops[1]!), 0n, BigInt(max), 'PSTATE immediate');
    return 0xd500401f | (op1 << 16) | (imm << 8) | (op2 << 5);
  }
  const rt = xreg(ops[1]);
  return 0xd5000000 | sysregField(sysreg(ops[0])) | rt.num;
};

function crField(text: string | undefined): number {
  const m = /^c([0-9]|1[0-5])$/i.exec((text ?? '').trim());
  if (!m) throw new Error(`expected C0..C15, found \`${text ?? ''}\``);
  return Number(m[1]);
}

function sysEncode(l: number, op1: number, crn: number, crm: number, op2: number, rt: number): number {
  return 0xd5080000 | (l << 21) | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5) | rt;
}

const sysHandler: Handler = (ops, ctx) => {
  expectCount(ops, 4, 5);
  const op1 = uimm(ctx, ops[0], 3, 'op1');
  const crn = crField(ops[1]);
  const crm = crField(ops[2]);
  const op2 = uimm(ctx, ops[3], 3, 'op2');
  const rt = ops.length === 5 ? xreg(ops[4]).num : 31;
  return sysEncode(0, op1, crn, crm, op2, rt);
};

const syslHandler: Handler = (ops, ctx) => {
  expectCount(ops, 5);
  const rt = xreg(ops[0]).num;
  return sysEncode(1, uimm(ctx, ops[1], 3, 'op1'), crField(ops[2]), crField(ops[3]), uimm(ctx, ops[4], 3, 'op2'), rt);
};

function sysAlias(table: Record<string, SysOp>, what: string): Handler {
  return (ops) => {
    expectCount(ops, 1, 2);
    const op = table[ops[0]!.trim().toLowerCase()];
    if (!op) throw new Error(`unknown ${what} operation \`${ops[0]}\``);
    const [op1, crn, crm, op2, takesReg] = op;
    if (takesReg !== (ops.length === 2)) throw new Error(`${what} ${ops[0]} ${takesReg ? 'needs' : 'takes no'} register operand`);
    return sysEncode(0, op1, crn, crm, op2, takesReg ? xreg(ops[1]).num : 31);
  };
}

function hintHandler(imm: number): Handler {
  return (ops) => {
    expectCount(ops, 0);
    return 0xd503201f | (imm << 5);
  };
}

const btiHandler: Handler = (ops) => {
  expectCount(ops, 0, 1);
  const target = ops.length === 0 ? '' : ops[0]!.trim().toLowerCase();
  const v = { '': 0, c: 1, j: 2, jc: 3 }[target];
  if (v === undefined) throw new Error(`BTI target must be c, j or jc, found \`${ops[0]}\``);
  return 0xd503201f | ((32 | (v << 1)) << 5);
};

function barrierHandler(base: number, named: Record<string, number>, optional: boolean): Handler {
  return (ops, ctx) => {
    expectCount(ops, optional ? [0, 1] : [1]);
    if (ops.length === 0) return base | (15 << 8);
    const text = ops[0]!.trim().toLowerCase();
    const n = named[text];
    if (n === undefined && /^[a-z]/.test(text)) throw new Error(`unknown barrier option \`${ops[0]}\``);
    const crm = n !== undefined ? n : uimm(ctx, ops[0], 4, 'barrier option');
    return base | (crm << 8);
  };
}

function imm16Handler(base: number, optional = false): Handler {
  return (ops, ctx) => {
    expectCount(ops, optional ? [0, 1] : [1]);
    const imm = ops.length === 0 ? 0 : uimm(ctx, ops[0], 16);
    return base | (imm << 5);
  };
}

function fixed(word: number): Handler {
  return (ops) => {
    expectCount(ops, 0);
    return word;
  };
}

// ---------------------------------------------------------------------------
// Mnemonic table

const HANDLERS: Record<string, Handler> = {
  add: addSub(0, 0),
  adds: addSub(0, 1),
  sub: addSub(1, 0),
  subs: addSub(1, 1),
  cmp: cmpLike(1),
  cmn: cmpLike(0),
  neg: negLike(0),
  negs: negLike(1),
  mov: movHandler,
  movz: movWideHandler(2),
  movn: movWideHandler(0),
  movk: movWideHandler(3),

  and: logical(0, 0, true),
  orr: logical(1, 0, true),
  eor: logical(2, 0, true),
  ands: logical(3, 0, true),
  bic: logical(0, 1, true, true),
  orn: logical(1, 1, false),
  eon: logical(2, 1, false),
  bics: logical(3, 1, false),
  tst: (ops, ctx) => {
    expectCount(ops, 2, 3);
    const rn = parseRegister(ops[0]!);
    if (!rn) throw new Error(`expected a register, found \`${ops[0]}\``);
    return logical(3, 0, true)([rn.width === 64 ? 'xzr' : 'wzr', ...ops], ctx, 'ands');
  },
  mvn: (ops) => {
    expectCount(ops, 2, 3);
    const rd = reg(ops[0], {});
    return logicalShifted(1, 1, rd, { num: 31, width: rd.width, isSP: false, isZR: true }, ops[1]!, ops[2]);
  },

  sbfm: bitfieldHandler(0),
  bfm: bitfieldHandler(1),
  ubfm: bitfieldHandler(2),
  sbfx: extractAlias(0),
  bfxil: extractAlias(1),
  ubfx: extractAlias(2),
  sbfiz: insertAlias(0),
  bfi: insertAlias(1),
  ubfiz: insertAlias(2),
  bfc: bfcHandler,
  sxtb: extendAlias(0, 7, [32, 64]),
  sxth: extendAlias(0, 15, [32, 64]),
  sxtw: extendAlias(0, 31, [64]),
  uxtb: extendAlias(2, 7, [32]),
  uxth: extendAlias(2, 15, [32]),
  lsl: shiftHandler('lsl'),
  lsr: shiftHandler('lsr'),
  asr: shiftHandler('asr'),
  ror: shiftHandler('ror'),
  extr: extrHandler,

  udiv: dp2Handler(2),
  sdiv: dp2Handler(3),
  lslv: dp2Handler(8),
  lsrv: dp2Handler(9),
  asrv: dp2Handler(10),
  rorv: dp2Handler(11),
  crc32b: crcHandler(16, false),
  crc32h: crcHandler(17, false),
  crc32w: crcHandler(18, false),
  crc32x: crcHandler(19, true),
  crc32cb: crcHandler(20, false),
  crc32ch: crcHandler(21, false),
  crc32cw: crcHandler(22, false),
  crc32cx: crcHandler(23, true),
  rbit: dp1Handler(0, 0),
  rev16: dp1Handler(1, 1),
  rev32: dp1Handler(undefined, 2),
  rev: dp1Handler(2, 3),
  rev64: dp1Handler(undefined, 3),
  clz: dp1Handler(4, 4),
  cls: dp1Handler(5, 5),

  madd: madd(0, true),
  msub: madd(1, true),
  mul: madd(0, false),
  mneg: madd(1, false),
  smaddl: maddl(0, 0, true),
  smsubl: maddl(0, 1, true),
  umaddl: maddl(1, 0, true),
  umsubl: maddl(1, 1, true),
  smull: maddl(0, 0, false),
  smnegl: maddl(0, 1, false),
  umull: maddl(1, 0, false),
  umnegl: maddl(1, 1, false),
  smulh: mulh(0),
  umulh: mulh(1),

  adc: adcHandler(0, 0, false),
  adcs: adcHandler(0, 1, false),
  sbc: adcHandler(1, 0, false),
  sbcs: adcHandler(1, 1, false),
  ngc: adcHandler(1, 0, true),
  ngcs: adcHandler(1, 1, true),

  csel: condSelect(0, 0),
  csinc: condSelect(0, 1),
  csinv: condSelect(1, 0),
  csneg: condSelect(1, 1),
  cset: condSet(0),
  csetm: condSet(1),
  cinc: condUnary(0, 1),
  cinv: condUnary(1, 0),
  cneg: condUnary(1, 1),
  ccmn: condCompare(0),
  ccmp: condCompare(1),

  adr: adrHandler,
  adrp: adrpHandler,

  b: branchHandler(0x14000000),
  bl: branchHandler(0x94000000),
  br: branchReg(0xd61f0000, false),
  blr: branchReg(0xd63f0000, false),
  ret: branchReg(0xd65f0000, true),
  cbz: cbHandler(0),
  cbnz: cbHandler(1),
  tbz: tbHandler(0),
  tbnz: tbHandler(1),

  stp: pairHandler('auto', 0, false),
  ldp: pairHandler('auto', 1, false),
  stnp: pairHandler('auto', 0, true),
  ldnp: pairHandler('auto', 1, true),
  ldpsw: pairHandler(1, 1, false),

  mrs: mrsHandler,
  msr: msrHandler,
  sys: sysHandler,
  sysl: syslHandler,
  dc: sysAlias(DC_OPS, 'DC'),
  ic: sysAlias(IC_OPS, 'IC'),
  at: sysAlias(AT_OPS, 'AT'),
  tlbi: sysAlias(TLBI_OPS, 'TLBI'),
  hint: (ops, ctx) => {
    expectCount(ops, 1);
    return 0xd503201f | (uimm(ctx, ops[0], 7, 'hint number') << 5);
  },
  bti: btiHandler,
  dsb: barrierHandler(0xd503309f, BARRIER_OPTIONS, false),
  dmb: barrierHandler(0xd50330bf, BARRIER_OPTIONS, false),
  isb: barrierHandler(0xd50330df, { sy: 15 }, true),
  clrex: barrierHandler(0xd503305f, {}, true),
  ssbb: fixed(0xd503309f),
  pssbb: fixed(0xd503349f),
  sb: fixed(0xd50330ff),
  svc: imm16Handler(EXCEPTIONS['svc']!),
  hvc: imm16Handler(EXCEPTIONS['hvc']!),
  smc: imm16Handler(EXCEPTIONS['smc']!),
  brk: imm16Handler(EXCEPTIONS['brk']!),
  hlt: imm16Handler(EXCEPTIONS['hlt']!),
  dcps1: imm16Handler(0xd4a00001, true),
  dcps2: imm16Handler(0xd4a00002, true),
  dcps3: imm16Handler(0xd4a00003, true),
  udf: (ops, ctx) => {
    expectCount(ops, 1);
    return uimm(ctx, ops[0], 16);
  },
  eret: fixed(0xd69f03e0),
  drps: fixed(0xd6bf03e0),
};
for (const [name, imm] of Object.entries(HINTS)) HANDLERS[name] = hintHandler(imm);
