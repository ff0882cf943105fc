// Translates a region (jit/region.ts) into one Binaryen function, emitter by
// emitter from the decode table's entries and fields. Guest registers live in
// Wasm locals for the whole function: loaded on entry, stored at every exit and
// around every call out. Anything without an emitter runs the interpreter's own
// handler through the trampoline, so semantics never depend on coverage here.
import type BinaryenNs from 'binaryen';
import type { DecodedInstruction } from '../src/a64/decoder.js';
import { decodeBitMasks } from '../src/cpu/interpreter/alu.js';
import { SLOT_EXCL_SIZE, SLOT_IRQ_LINES, SLOT_NZCV, SLOT_PC, SLOT_PSTATE, SLOT_SP, SLOT_SP_EL0 } from '../src/cpu/state-layout.js';
import { El0Access, SYSREG_BY_KEY, sysregKey, type SysregDef, type SysregHost } from '../src/cpu/system-registers.js';
import {
  CTX_SP_ALIGN, HELPER_EXIT, HELPER_NEXT_PC, JIT_BP, JIT_BP_ON, JIT_BUDGET, JIT_INFO,
  JIT_SCRATCH, JIT_TLB, JitCode, CTX_PAN,
} from './layout.js';
import { DTLB_ENTRIES } from '../src/cpu/vcpu.js';
import { PERM_R1, PERM_W1 } from '../src/cpu/tlb.js';
import { type Block, endsBlock, type Insn, type Region, successors } from './region.js';

export type Binaryen = typeof BinaryenNs;
type Module = BinaryenNs.Module;
type X = number;

export interface CodegenEnv {
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ramHost: number;
  readonly flagsBase: number;
  /** The CRC32 table (256 words), then the CRC32C table. */
  readonly crcBase: number;
}

const PC = 8 * SLOT_PC;
const NZCV = 8 * SLOT_NZCV;
const EXCL_SIZE = 8 * SLOT_EXCL_SIZE;
const IRQ_LINES = 8 * SLOT_IRQ_LINES;
const PSTATE = 8 * SLOT_PSTATE;

// Local indices. Params: 0 state base, 1 entry block.
const L_STATE = 0;
const L_ENTRY = 1;
const L_REG = 2; // X0..X30 at 2..32, SP at 33
const L_NZCV = 34;
const L_REM = 35;
const L_BI = 36;
const L_CODE = 37;
const L_ADDR = 38;
const L_HOST = 39;
const L_ST = 40;
const L_FA = 41; // fused-compare operands, 64-bit
const L_FB = 42;
const L_FA32 = 43;
const L_FB32 = 44;
const L_T64 = 45; // 8 i64 temporaries
const L_T32 = 53; // 8 i32 temporaries
const L_VAL = 61;
const L_VAL2 = 62;
const L_LEAVE = 63;
const L_NEWBASE = 64;
const L_XPC = 65; // helper exits: the instruction's PC, and how many of its block's instructions did not run
const L_XUNRET = 66;
const L_TLB = 67; // the vcpu's data TLB, and the byte index of the entry probed
const L_TI = 68;
/**
 * Nonzero when a block entry must look closer: an interrupt deliverable or a
 * breakpoint set. Both change only outside compiled code or across a call
 * out, so it is computed on entry and after each call out, not per block.
 */
const L_ATTN = 69;
/**
 * NZCV, lazily: 0 when L_NZCV holds it, else the kind of the last
 * flag-setting instruction (FLAGS_*), whose operands (or result) are in
 * L_FA/L_FB (L_FA32/L_FB32). NZCV is worked out from them (the module's
 * `nzcv` function) only where something reads it or state goes to memory:
 * most compares only feed the branch that follows, which uses the operands.
 */
const L_FK = 70;
const FLAGS_SUB64 = 1;
const FLAGS_SUB32 = 2;
const FLAGS_ADD64 = 3;
const FLAGS_ADD32 = 4;
const FLAGS_LOGIC64 = 5;
const FLAGS_LOGIC32 = 6;

// The MRS encodings the interpreter's handler (system.ts) treats itself rather than through SYSREG_BY_KEY.
const KEY_NZCV = sysregKey(3, 3, 4, 2, 0);
const KEY_DAIF = sysregKey(3, 3, 4, 2, 1);
const KEY_CURRENTEL = sysregKey(3, 0, 4, 2, 2);
const KEY_SP_EL0 = sysregKey(3, 0, 4, 1, 0);
const HANDLER_KEYS = new Set([
  KEY_NZCV, KEY_DAIF, KEY_CURRENTEL, KEY_SP_EL0,
  sysregKey(3, 0, 4, 2, 0), sysregKey(3, 0, 4, 2, 3), sysregKey(3, 3, 4, 4, 0), sysregKey(3, 3, 4, 4, 1), // SPSel, PAN, FPCR, FPSR
]);

/** A vcpu that must not be looked at: an EL0 access check that reads nothing is the same for every vcpu and state. */
const NO_HOST = new Proxy({}, { get: () => { throw new Error('the EL0 access check depends on the vcpu'); } }) as SysregHost;

function el0AlwaysAllowed(def: SysregDef): boolean {
  try {
    return def.el0(NO_HOST) === El0Access.Allowed;
  } catch {
    return false;
  }
}

// The data TLB (src/cpu/tlb.ts): parallel word arrays of DTLB_ENTRIES each.
const TLB_TAG_LO = 0;
const TLB_TAG_HI = 4 * DTLB_ENTRIES;
const TLB_FAST = 8 * DTLB_ENTRIES;
const TLB_HOST = 24 * DTLB_ENTRIES;

export const HELPER_IMPORTS = ['tramp', 'ld', 'st', 'spchk'] as const;

/** Sets up a module that imports the shared memory and the helpers. */
export function newModule(B: Binaryen, memoryPages: number, shared: boolean): Module {
  const m = new B.Module();
  m.setFeatures(B.Features.MVP | B.Features.SignExt | B.Features.Atomics | B.Features.MutableGlobals | B.Features.BulkMemory);
  m.setMemory(memoryPages, memoryPages, null, [], shared);
  m.addMemoryImport('0', 'env', 'memory', shared);
  const i32 = B.i32;
  m.addFunctionImport('tramp', 'env', 'tramp', B.createType([i32, i32, i32]), i32);
  m.addFunctionImport('ld', 'env', 'ld', B.createType([i32, i32, i32, i32, i32]), i32);
  m.addFunctionImport('st', 'env', 'st', B.createType([i32, i32, i32, i32, i32, i32, i32]), i32);
  m.addFunctionImport('spchk', 'env', 'spchk', B.createType([i32, i32]), i32);
  addNzcvFunction(B, m);
  return m;
}

/**
 * nzcv(kind, a, b, a32, b32, nzcv): NZCV after a flag-setting instruction of
 * that kind (L_FK) with those operands; `nzcv` itself for kind 0.
 */
function addNzcvFunction(B: Binaryen, m: Module): void {
  const i32 = B.i32, i64 = B.i64;
  const kind = (): X => m.local.get(0, i32);
  const a = (): X => m.local.get(1, i64), b = (): X => m.local.get(2, i64);
  const a32 = (): X => m.local.get(3, i32), b32 = (): X => m.local.get(4, i32);
  const r = (): X => m.local.get(6, i64), r32 = (): X => m.local.get(7, i32);
  const c32 = (v: number): X => m.i32.const(v | 0);
  const c64 = (v: bigint): X => m.i64.const(v);
  const flags = (n: X, z: X, c: X, v: X): X =>
    m.i32.or(m.i32.or(m.i32.shl(n, c32(31)), m.i32.shl(z, c32(30))), m.i32.or(m.i32.shl(c, c32(29)), m.i32.shl(v, c32(28))));
  const n64 = (): X => m.i32.wrap(m.i64.shr_u(r(), c64(63n)));
  const n32 = (): X => m.i32.shr_u(r32(), c32(31));
  const when = (k: number, e: X): X => m.if(m.i32.eq(kind(), c32(k)), m.return(e));
  const body: X[] = [m.if(m.i32.eqz(kind()), m.return(m.local.get(5, i32)))];
  for (const wide of [true, false]) {
    const o = wide ? m.i64 : m.i32;
    const A = wide ? a : a32, Bv = wide ? b : b32, R = wide ? r : r32, N = wide ? n64 : n32;
    const zero = (): X => (wide ? c64(0n) : c32(0));
    const result = (e: X): X => m.local.set(wide ? 6 : 7, e);
    body.push(
      result(o.sub(A(), Bv())),
      when(wide ? FLAGS_SUB64 : FLAGS_SUB32, flags(N(), o.eqz(R()), o.ge_u(A(), Bv()), o.lt_s(o.and(o.xor(A(), Bv()), o.xor(A(), R())), zero()))),
      result(o.add(A(), Bv())),
      when(wide ? FLAGS_ADD64 : FLAGS_ADD32, flags(N(), o.eqz(R()), o.lt_u(R(), A()), o.lt_s(o.and(o.xor(A(), R()), o.xor(Bv(), R())), zero()))),
    );
  }
  // Logic: the result is in a (zero-extended for W forms); C and V clear.
  body.push(
    m.local.set(6, a()),
    m.local.set(7, m.i32.wrap(a())),
    when(FLAGS_LOGIC64, flags(n64(), m.i64.eqz(r()), c32(0), c32(0))),
    m.return(flags(n32(), m.i32.eqz(r32()), c32(0), c32(0))),
  );
  m.addFunction('nzcv', B.createType([i32, i64, i64, i32, i32, i32]), i32, [i64, i32], m.block(null, body));
}

type FlagSource =
  | { kind: 'sub' | 'add'; sf: boolean }
  | { kind: 'logic'; sf: boolean }
  | undefined;

interface Cur {
  block: Block;
  k: number;
  /** The block branches to itself: its code is a Wasm loop, and that branch goes straight back. */
  selfLoop: boolean;
  j: number;
  len: number;
  insn: Insn;
}

function lo32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

function hi32(v: bigint): number {
  return Number(BigInt.asIntN(32, v >> 32n));
}

function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

/** Emits one region as function `name` of type (state: i32, entry: i32) -> i32. */
export class RegionEmitter {
  private readonly used = new Set<number>();
  private readonly written = new Set<number>();
  private nzcvRead = false;
  private nzcvWritten = false;
  /** Call-out sites, filled in once the region's register sets are known: which registers each needs. */
  private readonly flushes: { x: X; regs: readonly number[] | undefined }[] = [];
  private readonly reloads: { x: X; regs: readonly number[] | undefined; nzcv: boolean }[] = [];
  private readonly index = new Map<bigint, number>();
  private flags: FlagSource = undefined;
  /** Statically here: L_FK is 0 (NZCV in L_NZCV), as after an explicit write or a read that worked it out. */
  private nzcvKnown = false;
  private cur!: Cur;
  /** How many instructions went through the trampoline (for stats). */
  trampolined = 0;

  /** Blocks that start right after a BL/BLR of the region: where its RETs usually go. */
  private readonly returnPoints: number[] = [];

  /**
   * `trampolines` is shared by the regions of one module: the word of each
   * instruction that runs the interpreter's handler, at the index its
   * trampoline call passes. Whoever instantiates the module builds the
   * handlers from it, so code can be generated away from the vcpus.
   */
  constructor(
    private readonly B: Binaryen, private readonly m: Module, private readonly env: CodegenEnv,
    private readonly region: Region, private readonly trampolines: number[],
  ) {
    region.blocks.forEach((b, i) => this.index.set(b.pc, i));
    for (const b of region.blocks) {
      const last = b.insns[b.insns.length - 1];
      const call = last.d !== undefined && ((last.d.name === 'B_UNCOND' && last.d.fields.op === 1) || last.d.name === 'BLR');
      const k = call ? this.index.get(last.pc + 4n) : undefined;
      if (k !== undefined && !this.returnPoints.includes(k) && this.returnPoints.length < 4) this.returnPoints.push(k);
    }
  }

  emit(name: string): void {
    const { B, m } = this;
    const codes = this.region.blocks.map((b, k) => this.emitBlock(b, k));
    // br_table targets: branching to label bk lands on block k's code.
    const names = codes.map((_, k) => `b${k}`);
    let nest = m.block(names[0], [m.switch(names, names[0], m.local.get(L_BI, B.i32))]);
    for (let k = 0; k < codes.length; k++) {
      // Each block's code ends in a branch. Left unreachable-typed, it makes
      // Binaryen search the whole enclosing block for branches to it at each
      // nesting level (quadratic in region size); under an if it types as none.
      const code = codes[k];
      if (code.length > 0) code[code.length - 1] = m.if(this.c32(1), code[code.length - 1]);
      nest = m.block(k + 1 < codes.length ? names[k + 1] : null, [nest, ...code]);
    }
    const body: X[] = [];
    for (const r of this.used) body.push(m.local.set(L_REG + r, this.loadReg(r)));
    if (this.nzcvRead || this.nzcvWritten) body.push(m.local.set(L_NZCV, m.i32.load(NZCV, 4, this.state())));
    body.push(m.local.set(L_REM, m.i32.load(JIT_BUDGET, 4, this.state())));
    body.push(m.local.set(L_TLB, m.i32.load(JIT_TLB, 4, this.state())));
    body.push(this.attention());
    body.push(m.local.set(L_BI, m.local.get(L_ENTRY, B.i32)));
    // Helper exits share one tail (layout.ts HELPER_*): a few locals and a br at each site.
    const st = (): X => m.local.get(L_ST, B.i32);
    body.push(m.block('exit', [
      m.block('hexit', [m.loop('top', nest)]),
      m.local.set(L_REM, m.i32.add(m.local.get(L_REM, B.i32),
        m.i32.add(m.local.get(L_XUNRET, B.i32), m.i32.and(m.i32.shr_u(st(), this.c32(1)), this.c32(1))))),
      m.if(m.i32.and(st(), this.c32(HELPER_NEXT_PC)),
        m.i64.store(PC, 8, this.state(), m.i64.add(m.local.get(L_XPC, B.i64), this.c64(4)))),
      m.local.set(L_CODE, m.select(m.i32.and(st(), this.c32(HELPER_EXIT)), this.c32(JitCode.Exit), this.c32(JitCode.Continue))),
    ]));
    body.push(...this.storeWritten());
    body.push(m.i32.store(JIT_BUDGET, 4, this.state(), m.local.get(L_REM, B.i32)));
    body.push(m.return(m.local.get(L_CODE, B.i32)));
    // Call-out sites were emitted before the register sets were known: fill them in now.
    const blockApi = (B as unknown as { Block: { appendChild(block: X, child: X): number } }).Block;
    for (const f of this.flushes) for (const e of this.storeWritten(f.regs)) blockApi.appendChild(f.x, e);
    for (const r of this.reloads) for (const e of this.loadUsed(r.regs, r.nzcv)) blockApi.appendChild(r.x, e);
    const i64 = B.i64, i32 = B.i32;
    const vars = [
      ...Array<number>(32).fill(i64), i32, i32, i32, i32, i64, i32, i32, i64, i64, i32, i32,
      ...Array<number>(8).fill(i64), ...Array<number>(8).fill(i32), i64, i64, i32, i64, i64, i32, i32, i32, i32, i32,
    ];
    m.addFunction(name, B.createType([i32, i32]), i32, vars, m.block(null, body));
    m.addFunctionExport(name, name);
  }

  // ---- State and registers ----

  private state(): X {
    return this.m.local.get(L_STATE, this.B.i32);
  }

  private loadReg(r: number): X {
    return this.m.i64.load(8 * (r === 31 ? SLOT_SP : r), 8, this.state());
  }

  private storeWritten(only?: readonly number[]): X[] {
    const { m, B } = this;
    const out: X[] = [];
    for (const r of this.written) if (only === undefined || only.includes(r)) out.push(m.i64.store(8 * (r === 31 ? SLOT_SP : r), 8, this.state(), m.local.get(L_REG + r, B.i64)));
    if (this.nzcvWritten) out.push(m.i32.store(NZCV, 4, this.state(), this.nzcvOf()));
    return out;
  }

  private loadUsed(only?: readonly number[], nzcv = true): X[] {
    const { m } = this;
    const out: X[] = [];
    for (const r of this.used) if (only === undefined || only.includes(r)) out.push(m.local.set(L_REG + r, this.loadReg(r)));
    if (nzcv && (this.nzcvRead || this.nzcvWritten)) out.push(m.local.set(L_NZCV, m.i32.load(NZCV, 4, this.state())), m.local.set(L_FK, this.c32(0)));
    return out;
  }

  /** Xn, where 31 reads as zero. */
  private x(n: number): X {
    if (n === 31) return this.m.i64.const(0n);
    this.used.add(n);
    return this.m.local.get(L_REG + n, this.B.i64);
  }

  /** Xn, where 31 is SP. */
  private xsp(n: number): X {
    this.used.add(n);
    return this.m.local.get(L_REG + n, this.B.i64);
  }

  private w(n: number): X {
    return this.m.i32.wrap(this.x(n));
  }

  private setX(n: number, e: X): X {
    if (n === 31) return this.m.drop(e);
    this.used.add(n);
    this.written.add(n);
    return this.m.local.set(L_REG + n, e);
  }

  private setXsp(n: number, e: X): X {
    this.used.add(n);
    this.written.add(n);
    return this.m.local.set(L_REG + n, e);
  }

  private setW(n: number, e32: X): X {
    return this.setX(n, this.m.i64.extend_u(e32));
  }

  /** NZCV as the architecture has it now, from L_FK and its operands (a call). */
  private nzcvOf(): X {
    const { m, B } = this;
    return m.call('nzcv', [
      m.local.get(L_FK, B.i32), m.local.get(L_FA, B.i64), m.local.get(L_FB, B.i64),
      m.local.get(L_FA32, B.i32), m.local.get(L_FB32, B.i32), m.local.get(L_NZCV, B.i32),
    ], B.i32);
  }

  /**
   * NZCV for an instruction to read. The first read after a flag setter
   * works it out into L_NZCV (an expression that also sets L_FK to 0);
   * later reads in the block take the local. Every caller evaluates this
   * unconditionally, so what is known statically holds on every path.
   */
  private nzcv(): X {
    const { m, B } = this;
    this.nzcvRead = true;
    if (this.nzcvKnown) return m.local.get(L_NZCV, B.i32);
    this.nzcvKnown = true;
    return m.block(null, [m.local.set(L_NZCV, this.nzcvOf()), m.local.set(L_FK, this.c32(0)), m.local.get(L_NZCV, B.i32)], B.i32);
  }

  private setNzcv(e: X): X {
    this.nzcvWritten = true;
    this.nzcvKnown = true;
    return this.m.block(null, [this.m.local.set(L_NZCV, e), this.m.local.set(L_FK, this.c32(0))]);
  }

  /** A flag-setting instruction of this kind, its operands already in L_FA/L_FB (L_FA32/L_FB32). */
  private setFlagsLazily(kind: number): X {
    this.nzcvWritten = true;
    this.nzcvKnown = false;
    return this.m.local.set(L_FK, this.c32(kind));
  }

  private c64(v: bigint | number): X {
    return this.m.i64.const(BigInt.asIntN(64, BigInt(v)));
  }

  private c32(v: number): X {
    return this.m.i32.const(v | 0);
  }

  private t64(i: number): number {
    return L_T64 + i;
  }

  private t32(i: number): number {
    return L_T32 + i;
  }

  private get64(l: number): X {
    return this.m.local.get(l, this.B.i64);
  }

  private get32(l: number): X {
    return this.m.local.get(l, this.B.i32);
  }

  // ---- Exits ----

  /** Leaves the region: the PC (when given) is stored, `retiredInBlock` of the block's instructions count. */
  private leave(code: JitCode, pc: bigint | undefined, retiredInBlock: number): X {
    const { m, B } = this;
    const out: X[] = [];
    if (pc !== undefined) out.push(m.i64.store(PC, 8, this.state(), this.c64(pc)));
    const unretired = this.cur.len - retiredInBlock;
    if (unretired !== 0) out.push(m.local.set(L_REM, m.i32.add(m.local.get(L_REM, B.i32), this.c32(unretired))));
    out.push(m.local.set(L_CODE, this.c32(code)));
    out.push(m.br('exit'));
    return m.block(null, out);
  }

  /** Goes on at `pc`: inside the region when it is a block of it, else through the dispatcher. */
  private jumpTo(pc: bigint): X {
    const { m } = this;
    const k = this.index.get(pc);
    const retired = this.cur.j + 1;
    if (k !== undefined) {
      const out: X[] = [];
      const unretired = this.cur.len - retired;
      if (unretired !== 0) out.push(m.local.set(L_REM, m.i32.add(m.local.get(L_REM, this.B.i32), this.c32(unretired))));
      // Blocks later in the region enclose this one's code: a plain br lands
      // on theirs. Earlier ones are reached through the br_table at the top.
      if (k > this.cur.k) out.push(m.br(`b${k}`));
      else if (k === this.cur.k && this.cur.selfLoop) out.push(m.br(`l${k}`));
      else out.push(m.local.set(L_BI, this.c32(k)), m.br('top'));
      return m.block(null, out);
    }
    return this.leave(JitCode.Continue, pc, retired);
  }

  /** After a helper returned nonzero status in L_ST: leave as the status says (layout.ts HELPER_*). */
  private helperExit(): X {
    const { m } = this;
    return m.block(null, [
      m.local.set(L_XPC, this.c64(this.cur.insn.pc)),
      m.local.set(L_XUNRET, this.c32(this.cur.len - this.cur.j - 1)),
      m.br('hexit'),
    ]);
  }

  /**
   * A call out. `regs` are the registers the callee may read or write (SP
   * always: exception entry switches its bank): those go to memory first and
   * come back after. Exception entry also reads NZCV (into SPSR).
   */
  private callOut(call: X, regs: readonly number[]): X[] {
    const { m } = this;
    const flush = m.block(null, []);
    const reload = m.block(null, []);
    this.flushes.push({ x: flush, regs });
    this.reloads.push({ x: reload, regs, nzcv: true });
    this.flags = undefined;
    this.nzcvKnown = true;
    return [flush, this.syncBudget(), m.local.set(L_ST, call), reload, this.attention()];
  }

  private attention(): X {
    const { m } = this;
    return m.local.set(L_ATTN, m.i32.or(
      m.i32.and(m.i32.load(IRQ_LINES, 4, this.state()), m.i32.xor(m.i32.load(PSTATE, 4, this.state()), this.c32(-1))),
      m.i32.load(JIT_BP_ON, 4, this.state()),
    ));
  }

  /**
   * The budget as it stands before this instruction, in memory: helpers turn
   * it into instructions retired so far (guest time under -icount).
   */
  private syncBudget(): X {
    const { m, B } = this;
    const unretired = this.cur.len - this.cur.j;
    return m.i32.store(JIT_BUDGET, 4, this.state(), m.i32.add(m.local.get(L_REM, B.i32), this.c32(unretired)));
  }

  /**
   * A memory slow path: device accesses touch no register, so only what
   * exception entry uses goes out, and only SP comes back, on a fault.
   */
  private memoryCall(call: X, onStatus: X): X[] {
    const { m } = this;
    const flush = m.block(null, []);
    const reload = m.block(null, []);
    this.flushes.push({ x: flush, regs: [31] });
    this.reloads.push({ x: reload, regs: [31], nzcv: false });
    return [flush, this.syncBudget(), m.local.set(L_ST, call), m.if(onStatus, m.block(null, [reload, this.helperExit()])), this.attention()];
  }

  private pcArgs(): [X, X] {
    const pc = this.cur.insn.pc;
    return [this.c32(lo32(pc)), this.c32(hi32(pc))];
  }

  // ---- Blocks ----

  private emitBlock(block: Block, k: number): X[] {
    const { m, B } = this;
    const len = block.insns.length;
    const last = block.insns[len - 1];
    const selfLoop = endsBlock(last.d) && successors(last).includes(block.pc);
    this.cur = { block, k, j: -1, len, insn: block.insns[0], selfLoop };
    this.flags = undefined;
    this.nzcvKnown = false;
    const out: X[] = [];
    const interpret = m.block(null, [
      m.i64.store(PC, 8, this.state(), this.c64(block.pc)),
      m.i32.store(JIT_INFO, 4, this.state(), this.c32(len)),
      m.local.set(L_CODE, this.c32(JitCode.Interpret)),
      m.br('exit'),
    ]);
    // A breakpoint inside the block, too little budget left for all of it, or
    // a deliverable interrupt (IRQ/FIQ lines not masked by PSTATE): the
    // interpreter runs the block, exactly, and takes the interrupt first.
    const short = (): X => m.i32.lt_u(m.local.get(L_REM, B.i32), this.c32(len));
    out.push(m.if(
      m.i32.or(short(), m.local.get(L_ATTN, B.i32)),
      m.if(
        m.i32.or(
          m.i32.or(
            short(),
            m.i32.and(m.i32.load(IRQ_LINES, 4, this.state()), m.i32.xor(m.i32.load(PSTATE, 4, this.state()), this.c32(-1))),
          ),
          m.i32.and(
            m.i32.load(JIT_BP_ON, 4, this.state()),
            m.i64.lt_u(m.i64.sub(m.i64.load(JIT_BP, 8, this.state()), this.c64(block.pc)), this.c64(len * 4)),
          ),
        ),
        interpret,
      ),
    ));
    out.push(m.local.set(L_REM, m.i32.sub(m.local.get(L_REM, B.i32), this.c32(len))));
    let ended = false;
    for (let j = 0; j < len; j++) {
      const insn = block.insns[j];
      this.cur.j = j;
      this.cur.insn = insn;
      const r = this.emitInsn(insn);
      out.push(...r.code);
      if (r.ends) { ended = true; break; }
    }
    if (!ended) {
      this.cur.j = len - 1;
      out.push(this.jumpTo(block.insns[len - 1].pc + 4n));
    }
    return selfLoop ? [m.loop(`l${k}`, m.block(null, out))] : out;
  }

  private emitInsn(insn: Insn): { code: X[]; ends: boolean } {
    const d = insn.d;
    if (d !== undefined) {
      const code = this.emitKnown(d);
      if (code !== undefined) return code;
    }
    return { code: this.trampoline(insn), ends: false };
  }

  /** The trampoline for this instruction, on one arm of an if: what is known about NZCV afterwards is what held before. */
  private trampolineOnOnePath(): X {
    const known = this.nzcvKnown;
    const code = this.m.block(null, this.trampoline(this.cur.insn));
    this.nzcvKnown = known;
    return code;
  }

  private trampoline(insn: Insn): X[] {
    const { m, B } = this;
    const d = insn.d;
    this.trampolined++;
    const id = this.trampolines.push(insn.word) - 1;
    const [pl, ph] = this.pcArgs();
    return [
      ...this.callOut(m.call('tramp', [this.c32(id), pl, ph], B.i32), fieldRegisters(d)),
      m.if(m.local.get(L_ST, B.i32), this.helperExit()),
    ];
  }

  /** Emitted code for instructions with an emitter; undefined sends them to the trampoline. */
  private emitKnown(d: DecodedInstruction): { code: X[]; ends: boolean } | undefined {
    const f = d.fields;
    const s = (code: X[]): { code: X[]; ends: boolean } => ({ code, ends: false });
    switch (d.name) {
      case 'ADDSUB_IMM': return s(this.addSub(f.sf === 1, f.op === 1, f.S === 1, f.Rd, true, f.Rn, true,
        this.c64(f.imm12 << (f.sh * 12))));
      case 'ADDSUB_SHIFTED': return s(this.addSub(f.sf === 1, f.op === 1, f.S === 1, f.Rd, false, f.Rn, false,
        this.shifted(f.Rm, f.sf === 1, f.shift, f.imm6)));
      case 'ADDSUB_EXT': return s(this.addSub(f.sf === 1, f.op === 1, f.S === 1, f.Rd, true, f.Rn, true,
        this.extended(f.Rm, f.option, f.imm3)));
      case 'ADC_SBC': return s(this.adcSbc(f));
      case 'LOGIC_IMM': {
        const [wlo, whi] = decodeBitMasks(f.N, f.imms, f.immr, f.sf ? 64 : 32);
        const imm = (BigInt(whi >>> 0) << 32n) | BigInt(wlo >>> 0);
        return s(this.logic(f.sf === 1, f.opc, f.Rd, f.opc !== 3, f.Rn, this.c64(f.sf ? imm : imm & 0xffffffffn)));
      }
      case 'LOGIC_SHIFTED': {
        let op2 = this.shifted(f.Rm, f.sf === 1, f.shift, f.imm6);
        if (f.N) op2 = this.m.i64.xor(op2, this.c64(-1n));
        return s(this.logic(f.sf === 1, f.opc, f.Rd, false, f.Rn, op2));
      }
      case 'MOVE_WIDE': return s(this.moveWide(f));
      case 'BITFIELD': return s(this.bitfield(f));
      case 'EXTR': return s(this.extr(f));
      case 'ADR': case 'ADRP': {
        const imm = BigInt(sext((f.immhi << 2) | f.immlo, 21));
        const pc = this.cur.insn.pc;
        const v = d.name === 'ADRP' ? (pc & ~0xfffn) + (imm << 12n) : pc + imm;
        return s([this.setX(f.Rd, this.c64(v))]);
      }
      case 'CSEL': return s(this.csel(f));
      case 'CCMP_REG': case 'CCMP_IMM': return s(this.ccmp(f, d.name === 'CCMP_IMM'));
      case 'DP_3SRC': return this.dp3(f);
      case 'DP_2SRC': return s(this.dp2(f));
      case 'DP_1SRC': return this.dp1(f);
      case 'CRC32': return s(this.crc32(f));
      case 'B_UNCOND': {
        const target = this.cur.insn.pc + BigInt(sext(f.imm26, 26) * 4);
        const out: X[] = [];
        if (f.op) out.push(this.setX(30, this.c64(this.cur.insn.pc + 4n)));
        out.push(this.jumpTo(target));
        return { code: out, ends: true };
      }
      case 'B_COND': return this.condBranch(this.cond(f.cond), sext(f.imm19, 19));
      case 'CB': {
        const zero = f.sf ? this.m.i64.eqz(this.x(f.Rt)) : this.m.i32.eqz(this.w(f.Rt));
        return this.condBranch(f.op ? this.m.i32.eqz(zero) : zero, sext(f.imm19, 19));
      }
      case 'TB': {
        const bit = (f.b5 << 5) | f.b40;
        const set = this.m.i32.wrap(this.m.i64.and(this.m.i64.shr_u(this.x(f.Rt), this.c64(bit)), this.c64(1)));
        return this.condBranch(f.op ? set : this.m.i32.eqz(set), sext(f.imm14, 14));
      }
      case 'BR': case 'BLR': case 'RET': {
        const { m } = this;
        const out: X[] = [m.local.set(this.t64(0), this.x(f.Rn))];
        if (d.name === 'BLR') out.push(this.setX(30, this.c64(this.cur.insn.pc + 4n)));
        // A return to a call site of this region stays in the function.
        if (d.name !== 'BLR') {
          for (const k of this.returnPoints) {
            out.push(m.if(m.i64.eq(this.get64(this.t64(0)), this.c64(this.region.blocks[k].pc)), this.jumpTo(this.region.blocks[k].pc)));
          }
        }
        out.push(m.i64.store(PC, 8, this.state(), this.get64(this.t64(0))));
        out.push(this.leave(JitCode.Continue, undefined, this.cur.j + 1));
        return { code: out, ends: true };
      }
      case 'HINT': {
        const hint = (f.CRm << 3) | f.op2;
        return hint >= 2 && hint <= 5 ? undefined : s([]);
      }
      case 'DMB': case 'DSB': return s([]);
      case 'MRS': {
        const code = this.mrs(f);
        return code === undefined ? undefined : s(code);
      }
      case 'CLREX': return s([this.m.i32.store(EXCL_SIZE, 4, this.state(), this.c32(0))]);
      case 'LDST_UIMM': {
        // PRFM: a hint; no access and, as the Arm ARM has it, no SP alignment check.
        if (f.size === 3 && f.opc === 2) return s([]);
        return s(this.ldst(f.size, f.opc, f.Rt, f.Rn, BigInt(f.imm12 << f.size), 'offset'));
      }
      case 'LDST_UNSCALED': case 'LDST_PRE': case 'LDST_POST': {
        // PRFUM: the writeback forms have no prefetch encoding.
        if (f.size === 3 && f.opc === 2) return d.name === 'LDST_UNSCALED' ? s([]) : undefined;
        const mode = d.name === 'LDST_PRE' ? 'pre' : d.name === 'LDST_POST' ? 'post' : 'offset';
        return s(this.ldst(f.size, f.opc, f.Rt, f.Rn, BigInt(sext(f.imm9, 9)), mode));
      }
      case 'LDST_REG': {
        if (f.size === 3 && f.opc === 2) return s([]); // PRFM (register)
        return s(this.ldst(f.size, f.opc, f.Rt, f.Rn, this.extended(f.Rm, f.option, f.S ? f.size : 0), 'offset'));
      }
      case 'LDAR_STLR': return s(this.ldst(f.size, f.L === 1 ? 1 : 0, f.Rt, f.Rn, 0n, 'offset', true));
      case 'LDR_LIT': {
        if (f.opc === 3) return s([]); // PRFM (literal) never faults
        const addr = this.cur.insn.pc + BigInt(sext(f.imm19, 19) * 4);
        return s(this.ldst(f.opc === 1 ? 3 : 2, f.opc === 2 ? 2 : 1, f.Rt, -1, addr, 'literal'));
      }
      case 'LDST_PAIR': return s(this.ldstPair(f));
      default: return undefined;
    }
  }

  // ---- Data processing ----

  private shifted(rm: number, sf: boolean, type: number, amount: number): X {
    const { m } = this;
    if (!sf) {
      let v = this.w(rm);
      if (amount !== 0) {
        const a = this.c32(amount);
        v = type === 0 ? m.i32.shl(v, a) : type === 1 ? m.i32.shr_u(v, a) : type === 2 ? m.i32.shr_s(v, a) : m.i32.rotr(v, a);
      }
      return m.i64.extend_u(v);
    }
    let v = this.x(rm);
    if (amount === 0) return v;
    const a = this.c64(amount);
    v = type === 0 ? m.i64.shl(v, a) : type === 1 ? m.i64.shr_u(v, a) : type === 2 ? m.i64.shr_s(v, a) : m.i64.rotr(v, a);
    return v;
  }

  /** ExtendReg: option 0..7 = UXTB..SXTX, then LSL by `shift`. */
  private extended(rm: number, option: number, shift: number): X {
    const { m } = this;
    const v = this.x(rm);
    let e: X;
    switch (option) {
      case 0: e = m.i64.and(v, this.c64(0xff)); break;
      case 1: e = m.i64.and(v, this.c64(0xffff)); break;
      case 2: e = m.i64.and(v, this.c64(0xffffffff)); break;
      case 4: e = m.i64.extend8_s(v); break;
      case 5: e = m.i64.extend16_s(v); break;
      case 6: e = m.i64.extend32_s(v); break;
      default: e = v;
    }
    return shift === 0 ? e : m.i64.shl(e, this.c64(shift));
  }

  /** ADD/SUB(S): Rd = Rn +/- op2. */
  private addSub(sf: boolean, sub: boolean, S: boolean, rd: number, rdSp: boolean, rn: number, rnSp: boolean, op2: X): X[] {
    const { m } = this;
    const a = rnSp ? this.xsp(rn) : this.x(rn);
    const setD = (e: X): X => (rdSp && !S ? this.setXsp(rd, e) : this.setX(rd, e));
    if (!S) {
      if (sf) return [setD(sub ? m.i64.sub(a, op2) : m.i64.add(a, op2))];
      const r = sub ? m.i32.sub(m.i32.wrap(a), m.i32.wrap(op2)) : m.i32.add(m.i32.wrap(a), m.i32.wrap(op2));
      return [setD(m.i64.extend_u(r))];
    }
    const out: X[] = [];
    if (sf) {
      out.push(m.local.set(L_FA, a), m.local.set(L_FB, op2));
      out.push(this.setFlagsLazily(sub ? FLAGS_SUB64 : FLAGS_ADD64));
      const A = (): X => this.get64(L_FA), Bv = (): X => this.get64(L_FB);
      if (rd !== 31) out.push(this.setX(rd, sub ? m.i64.sub(A(), Bv()) : m.i64.add(A(), Bv())));
    } else {
      out.push(m.local.set(L_FA32, m.i32.wrap(a)), m.local.set(L_FB32, m.i32.wrap(op2)));
      out.push(this.setFlagsLazily(sub ? FLAGS_SUB32 : FLAGS_ADD32));
      const A = (): X => this.get32(L_FA32), Bv = (): X => this.get32(L_FB32);
      if (rd !== 31) out.push(this.setX(rd, m.i64.extend_u(sub ? m.i32.sub(A(), Bv()) : m.i32.add(A(), Bv()))));
    }
    this.flags = { kind: sub ? 'sub' : 'add', sf };
    return out;
  }

  /** ADC/SBC(S): Rd = Rn + op2 + C, where SBC's op2 is NOT Rm (AddWithCarry). */
  private adcSbc(f: Record<string, number>): X[] {
    const { m } = this;
    const sf = f.sf === 1, sub = f.op === 1;
    const cin = (): X => m.i32.and(m.i32.shr_u(this.nzcv(), this.c32(29)), this.c32(1));
    const out: X[] = [];
    if (sf) {
      let b = this.x(f.Rm);
      if (sub) b = m.i64.xor(b, this.c64(-1n));
      if (!f.S) return [this.setX(f.Rd, m.i64.add(m.i64.add(this.x(f.Rn), b), m.i64.extend_u(cin())))];
      const A = this.t64(1), Bv = this.t64(2), R = this.t64(3), C = this.t32(1);
      out.push(m.local.set(A, this.x(f.Rn)), m.local.set(Bv, b), m.local.set(C, cin()));
      out.push(m.local.set(R, m.i64.add(m.i64.add(this.get64(A), this.get64(Bv)), m.i64.extend_u(this.get32(C)))));
      const r = (): X => this.get64(R);
      const n = m.i32.and(m.i32.wrap(m.i64.shr_u(r(), this.c64(32))), this.c32(0x80000000));
      const z = m.i32.shl(m.i64.eqz(r()), this.c32(30));
      // With a carry in, a sum that wrapped round to exactly A carried out too.
      const c = m.i32.shl(m.i32.or(m.i64.lt_u(r(), this.get64(A)), m.i32.and(this.get32(C), m.i64.eq(r(), this.get64(A)))), this.c32(29));
      const v = m.i32.shl(m.i64.lt_s(m.i64.and(m.i64.xor(this.get64(A), r()), m.i64.xor(this.get64(Bv), r())), this.c64(0)), this.c32(28));
      out.push(this.setNzcv(m.i32.or(m.i32.or(n, z), m.i32.or(c, v))));
      out.push(this.setX(f.Rd, r()));
    } else {
      let b = this.w(f.Rm);
      if (sub) b = m.i32.xor(b, this.c32(-1));
      if (!f.S) return [this.setW(f.Rd, m.i32.add(m.i32.add(this.w(f.Rn), b), cin()))];
      const A = this.t32(2), Bv = this.t32(3), R = this.t32(4), C = this.t32(1);
      out.push(m.local.set(A, this.w(f.Rn)), m.local.set(Bv, b), m.local.set(C, cin()));
      out.push(m.local.set(R, m.i32.add(m.i32.add(this.get32(A), this.get32(Bv)), this.get32(C))));
      const r = (): X => this.get32(R);
      const n = m.i32.and(r(), this.c32(0x80000000));
      const z = m.i32.shl(m.i32.eqz(r()), this.c32(30));
      const c = m.i32.shl(m.i32.or(m.i32.lt_u(r(), this.get32(A)), m.i32.and(this.get32(C), m.i32.eq(r(), this.get32(A)))), this.c32(29));
      const v = m.i32.shl(m.i32.lt_s(m.i32.and(m.i32.xor(this.get32(A), r()), m.i32.xor(this.get32(Bv), r())), this.c32(0)), this.c32(28));
      out.push(this.setNzcv(m.i32.or(m.i32.or(n, z), m.i32.or(c, v))));
      out.push(this.setW(f.Rd, r()));
    }
    // NZCV no longer describes the last fused compare.
    this.flags = undefined;
    return out;
  }

  /** AND/ORR/EOR/ANDS with the second operand already inverted when N says so. */
  private logic(sf: boolean, opc: number, rd: number, rdSp: boolean, rn: number, op2: X): X[] {
    const { m } = this;
    const a = this.x(rn);
    let r = opc === 1 ? m.i64.or(a, op2) : opc === 2 ? m.i64.xor(a, op2) : m.i64.and(a, op2);
    if (!sf) r = m.i64.and(r, this.c64(0xffffffff));
    if (opc !== 3) return [rdSp ? this.setXsp(rd, r) : this.setX(rd, r)];
    const out: X[] = [m.local.set(L_FA, r), this.setFlagsLazily(sf ? FLAGS_LOGIC64 : FLAGS_LOGIC32)];
    if (rd !== 31) out.push(this.setX(rd, this.get64(L_FA)));
    this.flags = { kind: 'logic', sf };
    return out;
  }

  private moveWide(f: Record<string, number>): X[] {
    const shift = BigInt(f.hw * 16);
    const imm = BigInt(f.imm16) << shift;
    if (f.opc === 3) {
      const { m } = this;
      let v = m.i64.or(m.i64.and(this.x(f.Rd), this.c64(~(0xffffn << shift))), this.c64(imm));
      if (!f.sf) v = m.i64.and(v, this.c64(0xffffffff));
      return [this.setX(f.Rd, v)];
    }
    let v = f.opc === 0 ? ~imm : imm;
    v = f.sf ? BigInt.asUintN(64, v) : BigInt.asUintN(32, v);
    return [this.setX(f.Rd, this.c64(v))];
  }

  private bitfield(f: Record<string, number>): X[] {
    const { m } = this;
    const sf = f.sf === 1, R = f.immr, S = f.imms, opc = f.opc;
    const [wlo, whi, tlo, thi] = decodeBitMasks(f.N, S, R, sf ? 64 : 32);
    const wmask = (BigInt(whi >>> 0) << 32n) | BigInt(wlo >>> 0);
    const tmask = (BigInt(thi >>> 0) << 32n) | BigInt(tlo >>> 0);
    const src = this.t64(1);
    const out: X[] = [m.local.set(src, this.x(f.Rn))];
    if (sf) {
      const rot = R === 0 ? this.get64(src) : m.i64.rotr(this.get64(src), this.c64(R));
      const dst = (): X => (opc === 1 ? this.x(f.Rd) : this.c64(0));
      const bot = m.i64.or(m.i64.and(dst(), this.c64(~wmask)), m.i64.and(rot, this.c64(wmask)));
      const top = opc === 0 ? m.i64.shr_s(m.i64.shl(this.get64(src), this.c64(63 - S)), this.c64(63)) : dst();
      out.push(this.setX(f.Rd, m.i64.or(m.i64.and(top, this.c64(~tmask)), m.i64.and(bot, this.c64(tmask)))));
    } else {
      const s32 = (): X => m.i32.wrap(this.get64(src));
      const rot = R === 0 ? s32() : m.i32.rotr(s32(), this.c32(R));
      const dst = (): X => (opc === 1 ? this.w(f.Rd) : this.c32(0));
      const bot = m.i32.or(m.i32.and(dst(), this.c32(~wlo)), m.i32.and(rot, this.c32(wlo)));
      const top = opc === 0 ? m.i32.shr_s(m.i32.shl(s32(), this.c32(31 - S)), this.c32(31)) : dst();
      out.push(this.setW(f.Rd, m.i32.or(m.i32.and(top, this.c32(~tlo)), m.i32.and(bot, this.c32(tlo)))));
    }
    return out;
  }

  private extr(f: Record<string, number>): X[] {
    const { m } = this;
    const lsb = f.imms;
    if (f.sf) {
      if (lsb === 0) return [this.setX(f.Rd, this.x(f.Rm))];
      return [this.setX(f.Rd, m.i64.or(m.i64.shr_u(this.x(f.Rm), this.c64(lsb)), m.i64.shl(this.x(f.Rn), this.c64(64 - lsb))))];
    }
    if (lsb === 0) return [this.setW(f.Rd, this.w(f.Rm))];
    return [this.setW(f.Rd, m.i32.or(m.i32.shr_u(this.w(f.Rm), this.c32(lsb)), m.i32.shl(this.w(f.Rn), this.c32(32 - lsb))))];
  }

  /** ConditionHolds as an i32 0/1: from a fused compare in the same block when possible, else from NZCV. */
  private cond(cond: number): X {
    const { m } = this;
    const fl = this.flags;
    const base = cond >> 1, inv = (cond & 1) === 1 && cond !== 15;
    if (cond >= 14) return this.c32(1);
    let e: X | undefined;
    if (fl !== undefined && fl.kind === 'sub') {
      const A = (): X => (fl.sf ? this.get64(L_FA) : this.get32(L_FA32));
      const Bv = (): X => (fl.sf ? this.get64(L_FB) : this.get32(L_FB32));
      const o = fl.sf ? m.i64 : m.i32;
      switch (base) {
        case 0: e = o.eq(A(), Bv()); break;
        case 1: e = o.ge_u(A(), Bv()); break;
        case 4: e = o.gt_u(A(), Bv()); break;
        case 5: e = o.ge_s(A(), Bv()); break;
        case 6: e = o.gt_s(A(), Bv()); break;
      }
    } else if (fl !== undefined && fl.kind === 'logic') {
      // The result was kept in L_FA (64-bit, zero-extended for W forms).
      const r = (): X => (fl.sf ? this.get64(L_FA) : m.i32.wrap(this.get64(L_FA)));
      const o = fl.sf ? m.i64 : m.i32;
      const zero = (): X => (fl.sf ? this.c64(0) : this.c32(0));
      switch (base) {
        case 0: e = o.eqz(r()); break;
        case 2: e = o.lt_s(r(), zero()); break;
        case 5: e = o.ge_s(r(), zero()); break;
        case 6: e = o.gt_s(r(), zero()); break;
      }
    }
    if (e === undefined) {
      const bit = (k: number): X => m.i32.and(m.i32.shr_u(this.nzcv(), this.c32(k)), this.c32(1));
      switch (base) {
        case 0: e = bit(30); break;
        case 1: e = bit(29); break;
        case 2: e = bit(31); break;
        case 3: e = bit(28); break;
        case 4: e = m.i32.eq(m.i32.and(m.i32.shr_u(this.nzcv(), this.c32(29)), this.c32(3)), this.c32(1)); break;
        case 5: e = m.i32.eqz(m.i32.and(m.i32.xor(m.i32.shr_u(this.nzcv(), this.c32(31)), m.i32.shr_u(this.nzcv(), this.c32(28))), this.c32(1))); break;
        default: // GT: Z clear and N == V
          e = m.i32.eqz(m.i32.or(bit(30), m.i32.and(m.i32.xor(m.i32.shr_u(this.nzcv(), this.c32(31)), m.i32.shr_u(this.nzcv(), this.c32(28))), this.c32(1))));
      }
    }
    return inv ? m.i32.eqz(e) : e;
  }

  private condBranch(taken: X, offsetInsns: number): { code: X[]; ends: boolean } {
    const pc = this.cur.insn.pc;
    return {
      code: [this.m.if(taken, this.jumpTo(pc + BigInt(offsetInsns * 4))), this.jumpTo(pc + 4n)],
      ends: true,
    };
  }

  private csel(f: Record<string, number>): X[] {
    const { m } = this;
    let other = this.x(f.Rm);
    if (f.op) other = m.i64.xor(other, this.c64(-1n));
    if (f.o2) other = m.i64.add(other, this.c64(1));
    let v = m.select(this.cond(f.cond), this.x(f.Rn), other);
    if (!f.sf) v = m.i64.and(v, this.c64(0xffffffff));
    return [this.setX(f.Rd, v)];
  }

  private ccmp(f: Record<string, number>, immediate: boolean): X[] {
    const { m } = this;
    const cond = this.cond(f.cond);
    const sf = f.sf === 1;
    const op2 = immediate ? this.c64(f.imm5) : this.x(f.Rm);
    const cmp = this.addSub(sf, f.op === 1, true, 31, false, f.Rn, false, op2);
    const other = this.setNzcv(this.c32(f.nzcv << 28));
    // NZCV may come from the immediate: nothing to fuse with afterwards,
    // and whether L_NZCV holds it depends on the path taken.
    this.flags = undefined;
    this.nzcvKnown = false;
    return [m.if(cond, m.block(null, cmp), other)];
  }

  private dp3(f: Record<string, number>): { code: X[]; ends: boolean } | undefined {
    const { m } = this;
    const sub = f.o0 === 1;
    let prod: X;
    switch (f.op31) {
      case 0:
        if (!f.sf) {
          const p = m.i32.mul(this.w(f.Rn), this.w(f.Rm));
          return { code: [this.setW(f.Rd, sub ? m.i32.sub(this.w(f.Ra), p) : m.i32.add(this.w(f.Ra), p))], ends: false };
        }
        prod = m.i64.mul(this.x(f.Rn), this.x(f.Rm));
        break;
      case 1: prod = m.i64.mul(m.i64.extend_s(this.w(f.Rn)), m.i64.extend_s(this.w(f.Rm))); break;
      case 5: prod = m.i64.mul(m.i64.extend_u(this.w(f.Rn)), m.i64.extend_u(this.w(f.Rm))); break;
      default: return undefined; // SMULH/UMULH: 128-bit products
    }
    return { code: [this.setX(f.Rd, sub ? m.i64.sub(this.x(f.Ra), prod) : m.i64.add(this.x(f.Ra), prod))], ends: false };
  }

  private dp2(f: Record<string, number>): X[] {
    const { m } = this;
    const sf = f.sf === 1;
    const A = this.t64(1), D = this.t64(2);
    if (f.opcode === 2 || f.opcode === 3) {
      const signed = f.opcode === 3;
      if (sf) {
        const out = [m.local.set(A, this.x(f.Rn)), m.local.set(D, this.x(f.Rm))];
        const q = signed
          ? m.if(m.i64.eq(this.get64(D), this.c64(-1n)), m.i64.sub(this.c64(0), this.get64(A)), m.i64.div_s(this.get64(A), this.get64(D)))
          : m.i64.div_u(this.get64(A), this.get64(D));
        out.push(this.setX(f.Rd, m.if(m.i64.eqz(this.get64(D)), this.c64(0), q)));
        return out;
      }
      const a32 = this.t32(1), d32 = this.t32(2);
      const out = [m.local.set(a32, this.w(f.Rn)), m.local.set(d32, this.w(f.Rm))];
      const q = signed
        ? m.if(m.i32.eq(this.get32(d32), this.c32(-1)), m.i32.sub(this.c32(0), this.get32(a32)), m.i32.div_s(this.get32(a32), this.get32(d32)))
        : m.i32.div_u(this.get32(a32), this.get32(d32));
      out.push(this.setW(f.Rd, m.if(m.i32.eqz(this.get32(d32)), this.c32(0), q)));
      return out;
    }
    const type = f.opcode - 8;
    if (sf) {
      const a = this.x(f.Rn), b = this.x(f.Rm);
      const r = type === 0 ? m.i64.shl(a, b) : type === 1 ? m.i64.shr_u(a, b) : type === 2 ? m.i64.shr_s(a, b) : m.i64.rotr(a, b);
      return [this.setX(f.Rd, r)];
    }
    const a = this.w(f.Rn), b = this.w(f.Rm);
    const r = type === 0 ? m.i32.shl(a, b) : type === 1 ? m.i32.shr_u(a, b) : type === 2 ? m.i32.shr_s(a, b) : m.i32.rotr(a, b);
    return [this.setW(f.Rd, r)];
  }

  private dp1(f: Record<string, number>): { code: X[]; ends: boolean } | undefined {
    const { m } = this;
    const sf = f.sf === 1;
    if (f.opcode === 4) {
      return { code: [sf ? this.setX(f.Rd, m.i64.clz(this.x(f.Rn))) : this.setW(f.Rd, m.i32.clz(this.w(f.Rn)))], ends: false };
    }
    if (f.opcode === 5) {
      const t = this.t64(1);
      if (sf) {
        return {
          code: [m.local.set(t, this.x(f.Rn)),
            this.setX(f.Rd, m.i64.sub(m.i64.clz(m.i64.xor(this.get64(t), m.i64.shr_s(this.get64(t), this.c64(63)))), this.c64(1)))],
          ends: false,
        };
      }
      const t32 = this.t32(1);
      return {
        code: [m.local.set(t32, this.w(f.Rn)),
          this.setW(f.Rd, m.i32.sub(m.i32.clz(m.i32.xor(this.get32(t32), m.i32.shr_s(this.get32(t32), this.c32(31)))), this.c32(1)))],
        ends: false,
      };
    }
    return { code: this.reverse(sf, f.opcode, f.Rd, f.Rn), ends: false };
  }

  /**
   * RBIT, REV16, REV32 and REV by swapping ever larger groups: bits within
   * bytes (RBIT only), bytes within halfwords, halfwords within words, words.
   * REV16 stops after the bytes, REV32 after the halfwords.
   */
  private reverse(sf: boolean, opcode: number, rd: number, rn: number): X[] {
    const { m } = this;
    const rbit = opcode === 0, rev16 = opcode === 1, rev32 = opcode === 2 && sf;
    const out: X[] = [];
    if (sf) {
      const t = this.t64(1);
      const v = (): X => this.get64(t);
      const swap = (bits: number, mask: bigint): X => m.local.set(t, m.i64.or(
        m.i64.and(m.i64.shr_u(v(), this.c64(bits)), this.c64(mask)),
        m.i64.shl(m.i64.and(v(), this.c64(mask)), this.c64(bits))));
      out.push(m.local.set(t, this.x(rn)));
      if (rbit) out.push(swap(1, 0x5555555555555555n), swap(2, 0x3333333333333333n), swap(4, 0x0f0f0f0f0f0f0f0fn));
      out.push(swap(8, 0x00ff00ff00ff00ffn));
      if (!rev16) out.push(swap(16, 0x0000ffff0000ffffn));
      if (!rev16 && !rev32) out.push(m.local.set(t, m.i64.rotr(v(), this.c64(32))));
      out.push(this.setX(rd, v()));
      return out;
    }
    const t = this.t32(1);
    const v = (): X => this.get32(t);
    const swap = (bits: number, mask: number): X => m.local.set(t, m.i32.or(
      m.i32.and(m.i32.shr_u(v(), this.c32(bits)), this.c32(mask)),
      m.i32.shl(m.i32.and(v(), this.c32(mask)), this.c32(bits))));
    out.push(m.local.set(t, this.w(rn)));
    if (rbit) out.push(swap(1, 0x55555555), swap(2, 0x33333333), swap(4, 0x0f0f0f0f));
    out.push(swap(8, 0x00ff00ff));
    if (!rev16) out.push(m.local.set(t, m.i32.rotr(v(), this.c32(16))));
    out.push(this.setW(rd, v()));
    return out;
  }

  /** CRC32{B,H,W,X} and CRC32C*: the interpreter's table-driven update, a byte at a time, tables in shared memory. */
  private crc32(f: Record<string, number>): X[] {
    const { m } = this;
    const crc = this.t32(1), v = this.t64(1);
    const table = this.env.crcBase + (f.C ? 1024 : 0);
    const out: X[] = [m.local.set(crc, this.w(f.Rn)), m.local.set(v, this.x(f.Rm))];
    for (let i = 0; i < 1 << f.sz; i++) {
      const b = m.i32.and(m.i32.wrap(i === 0 ? this.get64(v) : m.i64.shr_u(this.get64(v), this.c64(8 * i))), this.c32(0xff));
      const idx = m.i32.shl(m.i32.and(m.i32.xor(this.get32(crc), b), this.c32(0xff)), this.c32(2));
      out.push(m.local.set(crc, m.i32.xor(m.i32.load(table, 4, idx), m.i32.shr_u(this.get32(crc), this.c32(8)))));
    }
    out.push(this.setW(f.Rd, this.get32(crc)));
    return out;
  }

  // ---- System registers ----

  /**
   * MRS of a register that is plain storage in the state block, or PSTATE
   * bits, where this EL (from the region's context) may read it. Computed
   * values, trapped or UNDEFINED accesses run the handler.
   */
  private mrs(f: Record<string, number>): X[] | undefined {
    const { m } = this;
    const key = sysregKey(2 | f.o0, f.op1, f.CRn, f.CRm, f.op2);
    const el = this.region.ctx & 3;
    const pstate = (): X => m.i32.load(PSTATE, 4, this.state());
    switch (key) {
      case KEY_NZCV: return [this.setW(f.Rt, this.nzcv())];
      case KEY_DAIF: return el === 0 ? undefined : [this.setW(f.Rt, m.i32.and(pstate(), this.c32(0x3c0)))];
      case KEY_CURRENTEL: return el === 0 ? undefined : [this.setX(f.Rt, this.c64(el << 2))];
      case KEY_SP_EL0:
        // At EL1h SP_EL0 waits in its bank slot; at EL1t (SPSel 0) the handler raises UNDEFINED.
        if (el === 0) return undefined;
        return [m.if(
          m.i32.and(pstate(), this.c32(1)),
          this.setX(f.Rt, m.i64.load(8 * SLOT_SP_EL0, 8, this.state())),
          this.trampolineOnOnePath(),
        )];
    }
    if (HANDLER_KEYS.has(key)) return undefined;
    const def = SYSREG_BY_KEY.get(key);
    if (def === undefined || !def.readable || def.read !== undefined) return undefined;
    if (el === 0 && !el0AlwaysAllowed(def)) return undefined;
    return [this.setX(f.Rt, m.i64.load(8 * def.slot, 8, this.state()))];
  }

  // ---- Loads and stores ----

  /**
   * The inline TLB probe (as Vcpu.translate's fast path): an access of
   * `bytes` at L_ADDR, aligned to `align`, within one page, whose entry grants
   * the access in this context. Sets L_TI first; the hit path then takes
   * L_HOST from hostOf().
   */
  private tlbProbe(bytes: number, align: number, write: boolean): { setup: X; hit: X } {
    const { m } = this;
    const lo = (): X => m.i32.wrap(this.get64(L_ADDR));
    const ctx = this.region.ctx;
    const shift = (ctx & 3) === 0 ? 2 : (ctx & CTX_PAN) !== 0 ? 4 : 0;
    const need = (write ? PERM_W1 : PERM_R1) << shift;
    const setup = m.local.set(L_TI, m.i32.add(this.get32(L_TLB),
      m.i32.shl(m.i32.and(m.i32.shr_u(lo(), this.c32(12)), this.c32(DTLB_ENTRIES - 1)), this.c32(2))));
    const ti = (): X => this.get32(L_TI);
    let hit = m.i32.and(
      m.i32.eq(m.i32.load(TLB_TAG_LO, 4, ti()), m.i32.and(lo(), this.c32(~0xfff))),
      m.i32.eq(m.i32.load(TLB_TAG_HI, 4, ti()), m.i32.wrap(m.i64.shr_u(this.get64(L_ADDR), this.c64(32)))),
    );
    hit = m.i32.and(hit, m.i32.ne(m.i32.and(m.i32.load(TLB_FAST, 4, ti()), this.c32(need)), this.c32(0)));
    if (align > 1) hit = m.i32.and(hit, m.i32.eqz(m.i32.and(lo(), this.c32(align - 1))));
    if (bytes > align) hit = m.i32.and(hit, m.i32.le_u(m.i32.and(lo(), this.c32(0xfff)), this.c32(4096 - bytes)));
    return { setup, hit };
  }

  private hostOf(): X {
    const { m } = this;
    return m.i32.add(m.i32.load(TLB_HOST, 4, this.get32(L_TI)), m.i32.and(m.i32.wrap(this.get64(L_ADDR)), this.c32(0xfff)));
  }

  private spCheck(rn: number): X[] {
    if (rn !== 31 || (this.region.ctx & CTX_SP_ALIGN) === 0) return [];
    const { m, B } = this;
    const [pl, ph] = this.pcArgs();
    return [m.if(
      m.i32.and(m.i32.wrap(this.xsp(31)), this.c32(15)),
      m.block(null, this.memoryCall(m.call('spchk', [pl, ph], B.i32), m.local.get(L_ST, B.i32))),
    )];
  }

  private loadRaw(size: number, offset: number): X {
    const m = this.m;
    const p = this.get32(L_HOST);
    switch (size) {
      case 0: return m.i64.load8_u(offset, 1, p);
      case 1: return m.i64.load16_u(offset, 1, p);
      case 2: return m.i64.load32_u(offset, 1, p);
      default: return m.i64.load(offset, 1, p);
    }
  }

  private storeRaw(size: number, offset: number, v: X): X {
    const m = this.m;
    const p = this.get32(L_HOST);
    switch (size) {
      case 0: return m.i64.store8(offset, 1, p, v);
      case 1: return m.i64.store16(offset, 1, p, v);
      case 2: return m.i64.store32(offset, 1, p, v);
      default: return m.i64.store(offset, 1, p, v);
    }
  }

  /** Slow-path load of `size` (log2) at L_ADDR + delta into local `into`: leaves on a fault. */
  private slowLoad(size: number, delta: number, into: number): X[] {
    const { m, B } = this;
    const [pl, ph] = this.pcArgs();
    const a = delta === 0 ? this.get64(L_ADDR) : m.i64.add(this.get64(L_ADDR), this.c64(delta));
    const t = this.t64(7);
    return [
      m.local.set(t, a),
      ...this.memoryCall(
        m.call('ld', [this.c32(size), m.i32.wrap(this.get64(t)), m.i32.wrap(m.i64.shr_u(this.get64(t), this.c64(32))), pl, ph], B.i32),
        m.local.get(L_ST, B.i32)),
      m.local.set(into, m.i64.load(JIT_SCRATCH, 8, this.state())),
    ];
  }

  private slowStore(size: number, delta: number, value: number): X[] {
    const { m, B } = this;
    const [pl, ph] = this.pcArgs();
    const a = delta === 0 ? this.get64(L_ADDR) : m.i64.add(this.get64(L_ADDR), this.c64(delta));
    const t = this.t64(7);
    const hi = (l: number): X => m.i32.wrap(m.i64.shr_u(this.get64(l), this.c64(32)));
    return [
      m.local.set(t, a),
      ...this.memoryCall(
        m.call('st', [this.c32(size), m.i32.wrap(this.get64(t)), hi(t), m.i32.wrap(this.get64(value)), hi(value), pl, ph], B.i32),
        m.i32.and(m.local.get(L_ST, B.i32), this.c32(7))),
      m.local.set(L_LEAVE, m.i32.or(m.local.get(L_LEAVE, B.i32), m.local.get(L_ST, B.i32))),
    ];
  }

  /** Stores into a page holding translated or decoded code go the slow way (it drops that code). */
  /**
   * The store's page holds no code. Only on the probe's hit path, where the
   * access lies within one 4 KiB page (aligned, or checked not to cross), so
   * its first byte's page is its last byte's.
   */
  private codeFlagsClear(): X {
    const { m } = this;
    return m.i32.eqz(m.i32.load8_u(this.env.flagsBase, 1, m.i32.shr_u(this.get32(L_HOST), this.c32(12))));
  }

  private extendLoaded(size: number, opc: number, raw: X): X {
    const { m } = this;
    if (opc === 1) return raw;
    // opc 2 sign-extends to 64 bits, opc 3 to 32 bits.
    let v = size === 0 ? m.i64.extend8_s(raw) : size === 1 ? m.i64.extend16_s(raw) : m.i64.extend32_s(raw);
    if (opc === 3) v = m.i64.and(v, this.c64(0xffffffff));
    return v;
  }

  private afterStore(hadSlow: boolean): X[] {
    if (!hadSlow) return [];
    const { m, B } = this;
    return [m.if(m.i32.and(m.local.get(L_LEAVE, B.i32), this.c32(HELPER_NEXT_PC)), this.leave(JitCode.Continue, this.cur.insn.pc + 4n, this.cur.j + 1))];
  }

  /**
   * Single-register loads and stores. `off` is a constant offset (or, for
   * 'literal', the absolute address) or an expression added to the base.
   * `mustAlign` (LDAR/STLR): a misaligned address is an alignment fault
   * whatever SCTLR_EL1.A says, which the memory helpers do not raise, so that
   * case runs the interpreter's handler.
   */
  private ldst(
    size: number, opc: number, rt: number, rn: number, off: bigint | X, mode: 'offset' | 'pre' | 'post' | 'literal', mustAlign = false,
  ): X[] {
    const { m } = this;
    const out: X[] = [];
    if (mode !== 'literal') out.push(...this.spCheck(rn));
    const offExpr = (): X => (typeof off === 'bigint' ? this.c64(off) : off);
    if (mode === 'literal') out.push(m.local.set(L_ADDR, this.c64(off as bigint)));
    else if (mode === 'offset') out.push(m.local.set(L_ADDR, off === 0n ? this.xsp(rn) : m.i64.add(this.xsp(rn), offExpr())));
    else {
      out.push(m.local.set(L_NEWBASE, m.i64.add(this.xsp(rn), offExpr())));
      out.push(m.local.set(L_ADDR, mode === 'pre' ? this.get64(L_NEWBASE) : this.xsp(rn)));
    }
    const bytes = 1 << size;
    const probe = this.tlbProbe(bytes, bytes, opc === 0);
    out.push(probe.setup);
    const fast = probe.hit;
    const faults = mustAlign && bytes > 1;
    const slow = (path: X[]): X => (faults
      ? m.if(m.i32.and(m.i32.wrap(this.get64(L_ADDR)), this.c32(bytes - 1)), this.trampolineOnOnePath(), m.block(null, path))
      : m.block(null, path));
    if (opc === 0) {
      out.push(m.local.set(L_VAL, this.x(rt)));
      out.push(m.if(
        fast,
        m.block(null, [
          m.local.set(L_HOST, this.hostOf()),
          m.if(this.codeFlagsClear(), this.storeRaw(size, 0, this.get64(L_VAL)), m.block(null, this.slowStore(size, 0, L_VAL))),
        ]),
        slow(this.slowStore(size, 0, L_VAL)),
      ));
      if (mode === 'pre' || mode === 'post') out.push(this.setXsp(rn, this.get64(L_NEWBASE)));
      out.push(...this.afterStore(true));
      return out;
    }
    const setRt = (): X => this.setX(rt, this.extendLoaded(size, opc, this.get64(L_VAL)));
    if (faults) {
      // The handler's path loads Rt itself: L_VAL is not set there.
      out.push(m.if(
        fast,
        m.block(null, [m.local.set(L_HOST, this.hostOf()), m.local.set(L_VAL, this.loadRaw(size, 0)), setRt()]),
        slow([...this.slowLoad(size, 0, L_VAL), setRt()]),
      ));
    } else {
      out.push(m.if(
        fast,
        m.block(null, [m.local.set(L_HOST, this.hostOf()), m.local.set(L_VAL, this.loadRaw(size, 0))]),
        m.block(null, this.slowLoad(size, 0, L_VAL)),
      ));
      out.push(setRt());
    }
    if (mode === 'pre' || mode === 'post') out.push(this.setXsp(rn, this.get64(L_NEWBASE)));
    return out;
  }

  private ldstPair(f: Record<string, number>): X[] {
    const { m } = this;
    const is64 = f.opc === 2, signed = f.opc === 1, load = f.L === 1;
    const size = is64 ? 3 : 2, step = is64 ? 8 : 4;
    const imm = BigInt(sext(f.imm7, 7) * step);
    const wb = f.idx === 1 || f.idx === 3, post = f.idx === 1;
    const out: X[] = [...this.spCheck(f.Rn)];
    out.push(m.local.set(L_NEWBASE, imm === 0n ? this.xsp(f.Rn) : m.i64.add(this.xsp(f.Rn), this.c64(imm))));
    out.push(m.local.set(L_ADDR, post ? this.xsp(f.Rn) : this.get64(L_NEWBASE)));
    const probe = this.tlbProbe(2 * step, step, !load);
    out.push(probe.setup);
    const fast = probe.hit;
    if (load) {
      out.push(m.if(
        fast,
        m.block(null, [
          m.local.set(L_HOST, this.hostOf()),
          m.local.set(L_VAL, this.loadRaw(size, 0)),
          m.local.set(L_VAL2, this.loadRaw(size, step)),
        ]),
        m.block(null, [...this.slowLoad(size, 0, L_VAL), ...this.slowLoad(size, step, L_VAL2)]),
      ));
      const ext = (l: number): X => (signed ? m.i64.extend32_s(this.get64(l)) : this.get64(l));
      out.push(this.setX(f.Rt, ext(L_VAL)), this.setX(f.Rt2, ext(L_VAL2)));
      if (wb) out.push(this.setXsp(f.Rn, this.get64(L_NEWBASE)));
      return out;
    }
    out.push(m.local.set(L_VAL, this.x(f.Rt)), m.local.set(L_VAL2, this.x(f.Rt2)));
    out.push(m.if(
      fast,
      m.block(null, [
        m.local.set(L_HOST, this.hostOf()),
        m.if(
          this.codeFlagsClear(),
          m.block(null, [this.storeRaw(size, 0, this.get64(L_VAL)), this.storeRaw(size, step, this.get64(L_VAL2))]),
          m.block(null, [...this.slowStore(size, 0, L_VAL), ...this.slowStore(size, step, L_VAL2)]),
        ),
      ]),
      m.block(null, [...this.slowStore(size, 0, L_VAL), ...this.slowStore(size, step, L_VAL2)]),
    ));
    if (wb) out.push(this.setXsp(f.Rn, this.get64(L_NEWBASE)));
    out.push(...this.afterStore(true));
    return out;
  }
}

const REGISTER_FIELDS = ['Rd', 'Rn', 'Rm', 'Ra', 'Rt', 'Rt2', 'Rs'];

/**
 * The general registers an interpreter handler may touch: those its fields
 * name (and the odd partners of CASP's pairs), plus SP.
 */
export function fieldRegisters(d: DecodedInstruction | undefined): number[] {
  const regs = new Set<number>([31]);
  if (d !== undefined) {
    for (const name of REGISTER_FIELDS) {
      const r = d.fields[name];
      if (r === undefined) continue;
      regs.add(r);
      if (d.name === 'CASP' && (name === 'Rs' || name === 'Rt') && r < 30) regs.add(r + 1);
    }
  }
  return [...regs];
}


