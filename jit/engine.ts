// The JIT tier of one machine: hotness counting at block starts in the
// interpreter, region compilation in batches (one Wasm module per batch), the
// dispatch table in shared memory, the helpers generated code calls out to,
// and invalidation when the code-page index drops a page.
import { decode } from '../src/a64/decoder.js';
import type { Feature } from '../src/a64/decode-table.js';
import { CODE_PAGE_BYTES, type CodePageIndex, type Handler, type InvalidationCause } from '../src/cpu/code-pages.js';
import { execute, type BlockStartHook } from '../src/cpu/interpreter/execute.js';
import { buildHandler } from '../src/cpu/interpreter/handler-table.js';
import { CRC32_TABLE, CRC32C_TABLE } from '../src/cpu/interpreter/alu.js';
import { SLOT_PC, SLOT_PSTATE } from '../src/cpu/state-layout.js';
import { GUEST_FAULT, type Vcpu, VcpuExit } from '../src/cpu/vcpu.js';
import { sysregSlotOf } from '../src/cpu/system-registers.js';
import type { Binaryen } from './codegen.js';
import { binaryenLoadMs } from './binaryen.js';
import { compileRegions, type ModuleTarget, regionWords } from './batch-compiler.js';
import { backgroundCompiler, type BackgroundCompiler, type CompileClient, type CompileReply } from './background-compiler.js';
import { buildDispatcher } from './dispatcher.js';
import {
  contextOf, CTX_IL, HASH_BYTES, HASH_ENTRY_BYTES, hashKey, HELPER_EXIT, HELPER_LEAVE, HELPER_NEXT_PC, HELPER_NOT_RETIRED,
  JIT_BP, JIT_BP_ON, JIT_BUDGET, JIT_CTX, JIT_INFO, JIT_SCRATCH, JIT_TLB, type JitArea, JitCode,
} from './layout.js';
import { discoverRegion, type Region } from './region.js';

export interface JitOptions {
  /**
   * Compile on the vcpus' thread with this Binaryen (loadBinaryen() first):
   * a block is translated the moment it gets hot. Without it, regions are
   * compiled in the process's compile worker (jit/background-compiler.ts)
   * while the interpreter goes on, and compiled code takes over when it
   * arrives; that needs worker threads.
   */
  readonly binaryen?: Binaryen;
  /** Executions of a block start before its region is compiled; 1 = at first execution. */
  readonly threshold?: number;
  /** Live regions before the whole translation cache is flushed (default 4096). */
  readonly maxRegions?: number;
  /**
   * Compiling in the worker: instructions the machine runs in the plain
   * interpreter (no hotness counting) before it starts the worker, which
   * loads Binaryen and builds the dispatcher, and begins to look for hot
   * regions (default WORKER_START_INSTRUCTIONS).
   */
  readonly workerAfter?: number;
  /** The compile worker to use instead of the process's shared one (createBackgroundCompiler()). */
  readonly compiler?: BackgroundCompiler;
  /**
   * With `binaryen` given: when a region gets hot after the guest has run
   * `instructions` and `regions` regions have compiled here (a guest that
   * runs long and still gets new hot code), start the compile worker, and
   * from its first answer on compile there rather than here (until then,
   * everything compiles here, at once). Where there are no worker threads,
   * everything compiles here. Unset: everything compiles here.
   */
  readonly workerHandOff?: { readonly instructions: number; readonly regions: number };
}

/** What the memory the JIT works in must offer (runtime/guest-memory.ts). */
export interface JitMemory {
  readonly memory: WebAssembly.Memory;
  readonly buffer: ArrayBufferLike;
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ramHostOffset: number;
  readonly reservedOffset: number;
  readonly reservedBytes: number;
}

export interface JitStats {
  instructionsInterpreted: number;
  instructionsCompiled: number;
  regionsCompiled: number;
  blocksCompiled: number;
  guestInstructionsTranslated: number;
  trampolinedInstructions: number;
  modulesCompiled: number;
  /** Building, emitting and compiling modules, on whichever thread did it. */
  compileMs: number;
  /** The part of compileMs spent in the compile worker, off the vcpus' thread. */
  workerCompileMs: number;
  /** True when the machine may compile in a worker (all its regions, or those after it started: JitOptions.workerHandOff). */
  backgroundCompile: boolean;
  /** Regions asked of the worker and not yet installed. */
  regionsInFlight: number;
  /** Regions the worker compiled from bytes that had changed by the time they arrived: dropped unrun. */
  regionsDiscarded: number;
  /** Loading Binaryen, on whichever thread did it (0 until it has loaded). */
  binaryenLoadMs: number;
  compiledCodeMs: number;
  /** Returns from the dispatcher to TypeScript, by why. */
  exits: { vcpuExit: number; interpret: number; miss: number };
  regionsInvalidated: number;
  /** Whole-cache flushes when the cap on live regions was reached. */
  evictions: number;
  liveRegions: number;
}

/**
 * A few milliseconds of interpreting: a guest done by then (a test program,
 * the demo) never starts the worker. Any later costs time: the worker needs
 * 0.15-0.25 s (thread start, Binaryen, the dispatcher) before it delivers
 * anything, and a hot loop is ready for it long before that. Measured on
 * bench/guests/cpubench with every region in the worker (--jit=auto before
 * its first regions compiled on the vcpu thread; median of 5): 2M
 * instructions 1008 ms, 500k 839 ms, 100k 851 ms, 0 845 ms; the demo guest
 * 148, 138, 137, 163 ms.
 */
export const WORKER_START_INSTRUCTIONS = 100_000;

/**
 * Default hotness threshold. Measured on Debian's Linux booting to its
 * root-fs panic (--jit=auto, 2 cores): 1000 executions 11.0 s, 2000 9.4 s,
 * 4000 8.9 s, 8000 8.5 s, 16000 8.9 s; --jit=on 12.1 s at 1000, 9.4 s at
 * 4000, 9.7 s at 8000. Fewer, hotter regions leave the compiler and V8's
 * tier-up less behind; loop-bound guests (bench/guests/cpubench) do not
 * notice the difference.
 */
export const DEFAULT_THRESHOLD = 4000;
/**
 * With the default threshold, the first EARLY_REGIONS regions are compiled
 * after EARLY_THRESHOLD executions. A process's first interpreting is its
 * slowest (V8 has not optimised the interpreter yet), and a guest's first hot
 * loops are worth compiling early; the default's caution is for the
 * thousands of regions of a kernel boot. Eight rather than 32 (2-core EPYC,
 * 2026-12-03): U-Boot to poweroff 1.18-1.23 -> 1.05-1.06 s, intcheck
 * 939 -> 884 ms (medians of 9), the Linux boot 7.60 -> 7.30 s (means of 3),
 * cpubench (5 regions) the same.
 */
const EARLY_THRESHOLD = 200;
const EARLY_REGIONS = 8;
/**
 * --jit=auto with Binaryen loaded compiles on the vcpu thread until a region
 * gets hot after the guest has run 100M instructions (about a second) and 64
 * regions have compiled, then starts the compile worker. Measured on a
 * 2-core machine: a worker started early cost short guests more than it
 * saved (U-Boot 1033 -> 1177 ms, intcheck 829 -> 962 ms, starting at the
 * 16th region), while the Linux boot ran the same either way; and a
 * loop-bound guest (cpubench: 5 regions, the last hot at 130M instructions)
 * must not start one for nothing at its end (that cost it 30 ms).
 */
export const AUTO_WORKER_HAND_OFF = { instructions: 100_000_000, regions: 64 } as const;
/** Regions compiled together in one module (fewer modules: less fixed cost). */
const BATCH_REGIONS = 16;
/**
 * A queued region waits at most this many interpreted block starts for
 * company: long enough to batch a burst of hot regions, short enough that a
 * hot loop the hook keeps entering is not left interpreted for long.
 */
const BATCH_WAIT_BLOCKS = 1_000;
const MAX_LIVE_REGIONS = 4096;
const COUNTER_BITS = 14;
const PROFILE = typeof process !== 'undefined' && process.env?.WARMBOOT_JIT_PROFILE === '1';

const PC = 2 * SLOT_PC;
const PSTATE = 2 * SLOT_PSTATE;
const I_BUDGET = JIT_BUDGET / 4;
const I_BP_ON = JIT_BP_ON / 4;
const I_BP = JIT_BP / 4;
const I_SCRATCH = JIT_SCRATCH / 4;
const I_INFO = JIT_INFO / 4;
const I_CTX = JIT_CTX / 4;
const I_TLB = JIT_TLB / 4;
const E = HASH_ENTRY_BYTES / 4;

interface LiveRegion {
  readonly slot: number;
  readonly hostPage: number;
  /** [pcLo, pcHi, ctx, value] per block. */
  readonly keys: number[];
}

/** A region asked of the compile worker; dropped if its page is invalidated before the reply. */
interface InFlight {
  readonly region: Region;
  readonly keys: readonly string[];
}

/** Calls between looks at the compile worker's reply counter while the interpreter runs. */
const POLL_INTERVAL = 256;

export class JitEngine {
  readonly stats: JitStats = {
    instructionsInterpreted: 0, instructionsCompiled: 0, regionsCompiled: 0, blocksCompiled: 0,
    guestInstructionsTranslated: 0, trampolinedInstructions: 0, modulesCompiled: 0, compileMs: 0, workerCompileMs: 0, compiledCodeMs: 0,
    backgroundCompile: false, regionsInFlight: 0, regionsDiscarded: 0, binaryenLoadMs: 0,
    exits: { vcpuExit: 0, interpret: 0, miss: 0 }, regionsInvalidated: 0, evictions: 0, liveRegions: 0,
  };
  readonly threshold: number;
  /** With the default threshold, the lower one the first regions get (see EARLY_THRESHOLD). */
  readonly earlyThreshold: { readonly executions: number; readonly regions: number } | undefined;
  /** The threshold in force. */
  private hotAt: number;
  private readonly early: boolean;
  private regionsQueued = 0;
  private readonly maxRegions: number;
  private readonly workerAfter: number;
  /** Binaryen on this thread, the worker, or both (the first regions here, the rest there). */
  private readonly B: Binaryen | undefined;
  private bg: BackgroundCompiler | undefined;
  /**
   * With Binaryen here and JitOptions.workerHandOff: the worker to
   * attach once the guest has run that long. Until then the engine is exactly
   * the single-threaded one.
   */
  private laterCompiler: (() => BackgroundCompiler | undefined) | undefined;
  /** With both Binaryen here and `bg`: instructions run before the worker is started. */
  private readonly handOff: { readonly instructions: number; readonly regions: number };
  /** Regions compile in `bg` (it has answered), not here. */
  private workerReady = false;
  private owner = 0;
  private readonly inflight = new Map<number, InFlight>();
  private nextTicket = 1;
  private pollTick = 0;
  private target: ModuleTarget | undefined;
  private readonly mem: JitMemory;
  private readonly codePages: CodePageIndex;
  private readonly table: WebAssembly.Table;
  /** The dispatcher; until the worker has delivered it, everything is interpreted. */
  private dispatch: ((state: number) => number) | undefined;
  private readonly hash: Int32Array;
  private readonly hashBase: number;
  private readonly area: JitArea;
  private readonly pages: number;
  private readonly shared: boolean;
  private readonly sctlrIndex: number;
  private readonly counters = new Uint16Array(1 << COUNTER_BITS);
  /** Block key -> dispatch value (slot << 10 | block), for every live translated block. */
  private readonly blocks = new Map<string, number>();
  private readonly regions = new Map<number, LiveRegion>();
  private readonly byPage = new Map<number, Set<number>>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 1;
  private pending: Region[] = [];
  private readonly pendingKeys = new Set<string>();
  /** Block starts seen by the hook: the clock a queued region waits by (the vcpu's own count is folded away now and then). */
  private blockStarts = 0;
  private pendingSince = 0;
  /** Bumped on every invalidation: a helper that sees it move tells the region to leave. */
  private epoch = 0;
  private cur!: Vcpu;
  private hookStopped = false;
  /** The budget the running dispatch started with: helpers count what compiled code retired since. */
  private dispatchBudget = 0;
  private readonly helpers: Record<string, unknown>;
  private client: CompileClient | undefined;
  /** The worker has been asked for the dispatcher, which starts it (see WORKER_START_INSTRUCTIONS, JitOptions.workerHandOff). */
  private dispatcherAsked = false;
  private dispatcherAskedAt = 0;
  readonly hook: BlockStartHook;

  constructor(opts: JitOptions, mem: JitMemory, codePages: CodePageIndex, area: JitArea) {
    this.B = opts.binaryen;
    const compiler = (): BackgroundCompiler | undefined => opts.compiler ?? backgroundCompiler();
    this.bg = this.B ? undefined : compiler();
    this.laterCompiler = this.B && opts.workerHandOff !== undefined ? compiler : undefined;
    this.handOff = opts.workerHandOff ?? { instructions: 0, regions: 0 };
    this.workerReady = this.B === undefined;
    if (!this.B && !this.bg) throw new Error('jit: no Binaryen given and no worker threads to compile in');
    this.threshold = Math.max(1, Math.floor(opts.threshold ?? DEFAULT_THRESHOLD));
    this.early = opts.threshold === undefined;
    this.earlyThreshold = this.early ? { executions: EARLY_THRESHOLD, regions: EARLY_REGIONS } : undefined;
    this.hotAt = this.early ? EARLY_THRESHOLD : this.threshold;
    this.maxRegions = Math.max(1, opts.maxRegions ?? MAX_LIVE_REGIONS);
    this.workerAfter = opts.workerAfter ?? WORKER_START_INSTRUCTIONS;
    this.mem = mem;
    this.codePages = codePages;
    if (mem.reservedBytes === 0 || codePages.flags.byteOffset !== area.flagsBase) {
      throw new Error('jit: the machine was not laid out for the JIT (code-page flags must live in the reserved area)');
    }
    this.area = area;
    this.hashBase = area.hashBase;
    this.hash = new Int32Array(mem.buffer, area.hashBase, HASH_BYTES / 4);
    const crc = new Int32Array(mem.buffer, area.crcBase, 512);
    crc.set(CRC32_TABLE, 0);
    crc.set(CRC32C_TABLE, 256);
    this.pages = mem.buffer.byteLength / 65536;
    this.shared = typeof SharedArrayBuffer !== 'undefined' && mem.buffer instanceof SharedArrayBuffer;
    this.sctlrIndex = (8 * sysregSlotOf('SCTLR_EL1')) / 4;
    this.table = new WebAssembly.Table({ initial: 64, element: 'anyfunc' });
    this.helpers = {
      memory: mem.memory,
      ld: (size: number, aLo: number, aHi: number, pcLo: number, pcHi: number) => this.load(size, aLo, aHi, pcLo, pcHi),
      st: (size: number, aLo: number, aHi: number, vLo: number, vHi: number, pcLo: number, pcHi: number) =>
        this.store(size, aLo, aHi, vLo, vHi, pcLo, pcHi),
      spchk: (pcLo: number, pcHi: number) => this.spCheck(pcLo, pcHi),
    };
    // With Binaryen here the dispatcher is built with the first regions: a
    // guest that never gets hot never pays for it (Binaryen's first use is its slowest).
    if (this.B) this.stats.binaryenLoadMs = binaryenLoadMs;
    if (this.bg) this.attachWorker(this.bg);
    codePages.onInvalidate = (page, cause) => this.invalidate(page, cause);
    this.hook = (c, host) => this.blockStart(c, host);
  }

  // ---- Running ----

  /** Runs up to `budget` instructions in compiled code where there is some, else in the interpreter. */
  run(c: Vcpu, budget: number): VcpuExit {
    if (c.tracer !== undefined) return this.interpret(c, budget, undefined);
    this.cur = c;
    const r = c.r;
    if (c.breakpoint !== undefined) {
      r[I_BP_ON] = 1;
      const bp = BigInt.asUintN(64, c.breakpoint);
      r[I_BP] = Number(bp & 0xffffffffn) | 0;
      r[I_BP + 1] = Number(bp >> 32n) | 0;
    } else r[I_BP_ON] = 0;
    c.exit = VcpuExit.None;
    c.breakpointHit = false;
    let remaining = budget;
    r[I_TLB] = c.dtlb.tagLo.byteOffset;
    this.syncContext(c);
    let idleRounds = 0;
    while (remaining > 0) {
      if (this.bg) this.bg.poll();
      if (this.bg && !this.B && !this.dispatcherAsked) {
        const early = this.workerAfter - this.stats.instructionsInterpreted;
        if (early > 0) {
          // Not yet worth a worker: the interpreter alone, without the
          // block-start hook's counting (about 15% of its speed).
          const before = c.retired;
          const exit = this.interpret(c, Math.min(remaining, early), undefined);
          remaining -= c.retired - before;
          if (exit !== VcpuExit.BudgetExhausted) return exit;
          continue;
        }
        // The worker starts now, well before the first region is hot:
        // starting it and loading Binaryen take longer than a loop takes to get hot.
        this.askDispatcher(this.bg);
      }
      if (this.dispatch === undefined) {
        // The worker has not delivered the dispatcher yet: interpret, counting hotness.
        const before = c.retired;
        const exit = this.interpret(c, remaining, this.hook);
        remaining -= c.retired - before;
        if (exit !== VcpuExit.BudgetExhausted) return exit;
        continue;
      }
      r[I_BUDGET] = remaining;
      this.dispatchBudget = remaining;
      this.syncContext(c);
      const t0 = performance.now();
      const code = this.dispatch(c.stateOffset);
      this.stats.compiledCodeMs += performance.now() - t0;
      const ran = remaining - r[I_BUDGET];
      remaining -= ran;
      c.retired += ran;
      this.stats.instructionsCompiled += ran;
      if (code === JitCode.Exit) {
        this.stats.exits.vcpuExit++;
        return c.exit;
      }
      if (remaining <= 0) break;
      if (code === JitCode.Interpret) {
        this.stats.exits.interpret++;
        const before = c.retired;
        const exit = this.interpret(c, Math.min(remaining, r[I_INFO]), undefined);
        remaining -= c.retired - before;
        if (exit !== VcpuExit.BudgetExhausted) return exit;
        continue;
      }
      this.stats.exits.miss++;
      // A translated block the dispatcher cannot see would bounce between
      // the tiers without progress: after two empty rounds, step once.
      if (ran === 0 && idleRounds >= 2) {
        const before = c.retired;
        const exit = this.interpret(c, 1, undefined);
        remaining -= c.retired - before;
        idleRounds = 0;
        if (exit !== VcpuExit.BudgetExhausted) return exit;
        continue;
      }
      this.hookStopped = false;
      const before = c.retired;
      const exit = this.interpret(c, remaining, this.hook);
      const done = c.retired - before;
      remaining -= done;
      idleRounds = ran === 0 && done === 0 ? idleRounds + 1 : 0;
      if (exit !== VcpuExit.BudgetExhausted) return exit;
      if (!this.hookStopped) break;
    }
    if (this.pending.length > 0) this.flushPending();
    return c.exit !== VcpuExit.None ? c.exit : VcpuExit.BudgetExhausted;
  }

  private interpret(c: Vcpu, budget: number, hook: BlockStartHook | undefined): VcpuExit {
    const before = c.retired;
    const exit = execute(c, budget, hook);
    this.stats.instructionsInterpreted += c.retired - before;
    return exit;
  }

  /** Called by the interpreter at each block start: true hands the block to compiled code. */
  private blockStart(c: Vcpu, host: number): boolean {
    this.blockStarts++;
    const r = c.r;
    const pcLo = r[PC], pcHi = r[PC + 1];
    const ctx = this.contextOf(c);
    if ((ctx & CTX_IL) !== 0) return false;
    const hostPage = host - (host & (CODE_PAGE_BYTES - 1));
    const e = hashKey(pcLo, pcHi, ctx) * E;
    if (this.dispatch !== undefined && this.isCompiled(pcLo, pcHi, ctx, hostPage, e)) return this.stop();
    const ci = (host >>> 2) & ((1 << COUNTER_BITS) - 1);
    const n = this.counters[ci] + 1;
    if (n < this.hotAt) {
      this.counters[ci] = n;
      if (this.pending.length > 0 && this.blockStarts - this.pendingSince > BATCH_WAIT_BLOCKS) this.flushPending();
      else if (this.inflight.size > 0 && ++this.pollTick >= POLL_INTERVAL) {
        this.pollTick = 0;
        this.bg!.poll();
        if (this.dispatch !== undefined && this.isCompiled(pcLo, pcHi, ctx, hostPage, e)) return this.stop();
      }
      return false;
    }
    this.counters[ci] = 0;
    const key = blockKey(pcLo, pcHi, ctx, hostPage);
    const v = this.blocks.get(key);
    if (v !== undefined) {
      this.insertHash(pcLo, pcHi, ctx, v, hostPage);
      if (this.dispatch !== undefined) return this.stop();
    }
    if (!this.pendingKeys.has(key)) {
      const pc = (BigInt(pcHi >>> 0) << 32n) | BigInt(pcLo >>> 0);
      const region = discoverRegion(c.dv, c.features, pc, host, ctx);
      // Mark its words now: a store to them before the batch compiles drops the queued region.
      this.markTranslated(region);
      if (this.pending.length === 0) this.pendingSince = this.blockStarts;
      this.pending.push(region);
      if (this.early && ++this.regionsQueued >= EARLY_REGIONS) this.hotAt = this.threshold;
      // Every block of it: while it waits for the worker, the loop heads
      // inside it get hot too and must not become regions of their own.
      for (const k of regionKeys(region)) this.pendingKeys.add(k);
    }
    if (this.threshold === 1 || this.pending.length >= BATCH_REGIONS || !this.compilesHere()) {
      this.flushPending();
      if (this.dispatch !== undefined && this.blocks.has(key)) return this.stop();
    }
    return false;
  }

  /** The dispatch table holds this block (entry `e` of its hash). */
  private isCompiled(pcLo: number, pcHi: number, ctx: number, hostPage: number, e: number): boolean {
    const h = this.hash;
    return h[e] === pcLo && h[e + 1] === pcHi && h[e + 2] === ctx && h[e + 3] !== 0 && h[e + 4] === hostPage;
  }

  private contextOf(c: Vcpu): number {
    const r = c.r;
    return contextOf(r[PSTATE], r[this.sctlrIndex], c.mmuEnabled, c.alignCheck);
  }

  /** Refreshes the context word the dispatcher keys on; true when it changed. */
  private syncContext(c: Vcpu): boolean {
    const ctx = this.contextOf(c);
    if (c.r[I_CTX] === ctx) return false;
    c.r[I_CTX] = ctx;
    return true;
  }

  private stop(): boolean {
    this.hookStopped = true;
    return true;
  }

  // ---- Helpers called from generated code ----

  private faultStatus(c: Vcpu): number {
    this.syncContext(c);
    return HELPER_LEAVE | HELPER_NOT_RETIRED | (c.exit !== VcpuExit.None ? HELPER_EXIT : 0);
  }

  /**
   * Makes the vcpu's retired count include what compiled code has retired in
   * this dispatch (r[I_BUDGET] was stored before the call), for the clock;
   * returns the number added, which leave() takes back.
   */
  private enter(c: Vcpu, pcLo: number, pcHi: number): number {
    const r = c.r;
    r[PC] = pcLo;
    r[PC + 1] = pcHi;
    c.runStart = pcLo;
    const done = this.dispatchBudget - r[I_BUDGET];
    c.retired += done;
    return done;
  }

  private tramp(handler: Handler, pcLo: number, pcHi: number): number {
    const c = this.cur;
    const done = this.enter(c, pcLo, pcHi);
    const epoch = this.epoch;
    let res: boolean | void;
    try {
      res = handler(c);
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      return this.faultStatus(c);
    } finally {
      c.retired -= done;
    }
    const changed = this.syncContext(c);
    if (c.exit !== VcpuExit.None) return HELPER_LEAVE | HELPER_EXIT;
    if (res === true) return HELPER_LEAVE;
    // Code or translation controls changed under the region: go on elsewhere.
    if (epoch !== this.epoch || changed) return HELPER_LEAVE | HELPER_NEXT_PC;
    return 0;
  }

  private load(size: number, aLo: number, aHi: number, pcLo: number, pcHi: number): number {
    const c = this.cur, r = c.r;
    const done = this.enter(c, pcLo, pcHi);
    let lo: number, hi = 0;
    try {
      switch (size) {
        case 0: lo = c.read8(aLo, aHi); break;
        case 1: lo = c.read16(aLo, aHi); break;
        case 2: lo = c.read32(aLo, aHi); break;
        default: c.read64(aLo, aHi); lo = c.vLo; hi = c.vHi;
      }
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      return this.faultStatus(c);
    } finally {
      c.retired -= done;
    }
    r[I_SCRATCH] = lo;
    r[I_SCRATCH + 1] = hi;
    return 0;
  }

  private store(size: number, aLo: number, aHi: number, vLo: number, vHi: number, pcLo: number, pcHi: number): number {
    const c = this.cur;
    const done = this.enter(c, pcLo, pcHi);
    const epoch = this.epoch;
    try {
      switch (size) {
        case 0: c.write8(aLo, aHi, vLo & 0xff); break;
        case 1: c.write16(aLo, aHi, vLo & 0xffff); break;
        case 2: c.write32(aLo, aHi, vLo); break;
        default: c.write64(aLo, aHi, vLo, vHi);
      }
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      return this.faultStatus(c);
    } finally {
      c.retired -= done;
    }
    return epoch !== this.epoch ? HELPER_NEXT_PC : 0;
  }

  private spCheck(pcLo: number, pcHi: number): number {
    const c = this.cur;
    const done = this.enter(c, pcLo, pcHi);
    try {
      c.checkSpAlignment();
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      return this.faultStatus(c);
    } finally {
      c.retired -= done;
    }
    return 0;
  }

  // ---- Compiling ----

  /**
   * Sends the queued regions to be compiled: into one module here and now,
   * or each to the worker, which batches what has queued up by the time it
   * gets to them.
   */
  flushPending(): void {
    const regions = this.pending;
    if (regions.length === 0) return;
    this.pending = [];
    if (this.compilesHere()) this.compileHere(regions);
    else this.sendToWorker(this.bg!, regions);
  }

  private sendToWorker(bg: BackgroundCompiler, regions: Region[]): void {
    if (bg.failure !== undefined) throw new Error(`jit: the compile worker failed: ${bg.failure}`);
    if (!this.dispatcherAsked) this.askDispatcher(bg);
    const target = this.moduleTarget();
    for (const region of regions) {
      const ticket = this.nextTicket++;
      this.inflight.set(ticket, { region, keys: regionKeys(region) });
      bg.post(this.client!, { kind: 'region', owner: this.owner, ticket, target, region: regionWords(region) });
    }
    this.stats.regionsInFlight = this.inflight.size;
  }

  private compileHere(regions: Region[]): void {
    // Compiling here so far: a guest that still gets new hot code after
    // running this long is worth a worker (from its first answer on).
    if (this.laterCompiler && this.stats.regionsCompiled >= this.handOff.regions
      && this.stats.instructionsInterpreted + this.stats.instructionsCompiled >= this.handOff.instructions) {
      const bg = this.laterCompiler();
      this.laterCompiler = undefined;
      if (bg && bg.failure === undefined) {
        this.attachWorker(bg);
        this.askDispatcher(bg);
      }
    }
    for (const r of regions) for (const k of regionKeys(r)) this.pendingKeys.delete(k);
    const t0 = performance.now();
    if (this.dispatch === undefined) this.installDispatcher(new WebAssembly.Module(buildDispatcher(this.B!, this.pages, this.shared, this.hashBase) as Uint8Array<ArrayBuffer>));
    const out = compileRegions(this.B!, this.moduleTarget(), regions);
    const t1 = performance.now();
    const module = new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>);
    if (PROFILE) profileBatch(regions.length, out.instructions, out.buildMs, out.emitMs, performance.now() - t1, out.bytes.length);
    this.install(module, out.trampolines, regions);
    this.stats.compileMs += performance.now() - t0;
  }

  private attachWorker(bg: BackgroundCompiler): void {
    this.bg = bg;
    this.stats.backgroundCompile = true;
    this.client = { receive: (reply) => this.receive(reply) };
    this.owner = bg.newOwner();
  }

  /** Whether regions queued now compile on this thread. */
  private compilesHere(): boolean {
    return !this.workerReady;
  }

  private askDispatcher(bg: BackgroundCompiler): void {
    this.dispatcherAsked = true;
    this.dispatcherAskedAt = performance.now();
    bg.post(this.client!, { kind: 'dispatcher', owner: this.owner, memoryPages: this.pages, shared: this.shared, hashBase: this.hashBase });
  }

  private moduleTarget(): ModuleTarget {
    if (this.target) return this.target;
    const area = this.area;
    this.target = {
      memoryPages: this.pages, shared: this.shared, features: [...this.cur.features] as Feature[],
      env: { ramBase: this.mem.ramBase, ramSize: this.mem.ramSize, ramHost: this.mem.ramHostOffset, flagsBase: area.flagsBase, crcBase: area.crcBase },
    };
    return this.target;
  }

  /** A reply from the compile worker. */
  private receive(reply: CompileReply): void {
    switch (reply.kind) {
      case 'dispatcher':
        // Compiling here first, the machine built its own; from now on the worker compiles.
        this.workerReady = true;
        if (this.dispatch !== undefined) return;
        if (PROFILE) process.stderr.write(`jit dispatcher at ${performance.now().toFixed(0)} ms (asked at ${this.dispatcherAskedAt.toFixed(0)} ms)\n`);
        this.stats.binaryenLoadMs = reply.binaryenLoadMs;
        this.installDispatcher(reply.module);
        return;
      case 'error':
        throw new Error(`jit: the compile worker failed: ${reply.message}`);
      case 'module': {
        if (PROFILE) profileBatch(reply.tickets.length, reply.instructions, reply.buildMs, reply.emitMs, reply.compileMs, 0);
        this.stats.compileMs += reply.buildMs + reply.emitMs + reply.compileMs;
        this.stats.workerCompileMs += reply.buildMs + reply.emitMs + reply.compileMs;
        const regions = reply.tickets.map((t) => {
          const f = this.inflight.get(t);
          if (!f) {
            this.stats.regionsDiscarded++;
            return undefined;
          }
          this.inflight.delete(t);
          for (const k of f.keys) this.pendingKeys.delete(k);
          return f.region;
        });
        this.stats.regionsInFlight = this.inflight.size;
        if (this.dispatch === undefined) throw new Error('jit: compiled code arrived before the dispatcher');
        this.install(reply.module, reply.trampolines, regions);
      }
    }
  }

  /**
   * Compiling in the worker: sends what is queued and waits until every
   * request is answered and installed, or `timeoutMs` passes; true when
   * nothing is left in flight. The vcpu loop never waits; this is for
   * embedders and tests that want the compiled code in place first.
   */
  settle(timeoutMs = 30_000): boolean {
    const bg = this.bg;
    if (!bg) return true;
    const end = performance.now() + timeoutMs;
    this.flushPending();
    for (;;) {
      bg.poll();
      if (bg.waiting(this.owner) === 0) return true;
      const left = end - performance.now();
      if (left <= 0) return false;
      bg.wait(Math.min(left, 100));
    }
  }

  private installDispatcher(module: WebAssembly.Module): void {
    const inst = new WebAssembly.Instance(module, { env: { memory: this.mem.memory, table: this.table } });
    this.dispatch = inst.exports.dispatch as (state: number) => number;
  }

  /**
   * Instantiates a compiled module and makes its regions' blocks reachable;
   * `regions[i]` is function `r<i>`, or undefined where the region was
   * invalidated while it compiled.
   */
  private install(module: WebAssembly.Module, trampolines: readonly number[], regions: readonly (Region | undefined)[]): void {
    const live = regions.filter((r) => r !== undefined).length;
    if (live === 0) return;
    if (this.regions.size + live > this.maxRegions) this.flushAll();
    const features = this.cur.features;
    const handlers = trampolines.map((w) => buildHandler(decode(w, features)));
    const inst = new WebAssembly.Instance(module, {
      env: { ...this.helpers, tramp: (id: number, pcLo: number, pcHi: number) => this.tramp(handlers[id], pcLo, pcHi) },
    } as WebAssembly.Imports);
    this.stats.trampolinedInstructions += trampolines.length;
    regions.forEach((region, i) => {
      if (region === undefined) return;
      const slot = this.allocSlot();
      this.table.set(slot, inst.exports[`r${i}`] as (...a: unknown[]) => unknown);
      const keys: number[] = [];
      region.blocks.forEach((b, k) => {
        const pcLo = Number(b.pc & 0xffffffffn) | 0, pcHi = Number(b.pc >> 32n) | 0;
        const v = slot * 1024 + k;
        keys.push(pcLo, pcHi, region.ctx, v);
        this.blocks.set(blockKey(pcLo, pcHi, region.ctx, region.hostPage), v);
        this.insertHash(pcLo, pcHi, region.ctx, v, region.hostPage);
      });
      this.regions.set(slot, { slot, hostPage: region.hostPage, keys });
      const page = region.hostPage / CODE_PAGE_BYTES;
      let set = this.byPage.get(page);
      if (!set) this.byPage.set(page, (set = new Set()));
      set.add(slot);
      this.markTranslated(region);
      this.stats.regionsCompiled++;
      this.stats.blocksCompiled += region.blocks.length;
      this.stats.guestInstructionsTranslated += region.instructions;
    });
    this.stats.modulesCompiled++;
    this.stats.liveRegions = this.regions.size;
  }

  private markTranslated(region: Region): void {
    const page = region.hostPage / CODE_PAGE_BYTES;
    for (const b of region.blocks) this.codePages.markTranslated(page, (Number(b.pc & 0xfffn)) >>> 2, b.insns.length);
  }

  private allocSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    const slot = this.nextSlot++;
    if (slot >= this.table.length) this.table.grow(Math.max(64, this.table.length));
    return slot;
  }

  private insertHash(pcLo: number, pcHi: number, ctx: number, v: number, hostPage: number): void {
    const e = hashKey(pcLo, pcHi, ctx) * E;
    const h = this.hash;
    h[e] = pcLo;
    h[e + 1] = pcHi;
    h[e + 2] = ctx;
    h[e + 3] = v;
    h[e + 4] = hostPage;
  }

  // ---- Invalidation and eviction ----

  private invalidate(hostPage: number, _cause: InvalidationCause): void {
    this.epoch++;
    if (this.inflight.size > 0) {
      // Compiled from bytes that are no longer there: its reply will be dropped.
      for (const [t, f] of this.inflight) {
        if (f.region.hostPage / CODE_PAGE_BYTES !== hostPage) continue;
        this.inflight.delete(t);
        for (const k of f.keys) this.pendingKeys.delete(k);
      }
      this.stats.regionsInFlight = this.inflight.size;
    }
    if (this.pending.length > 0) {
      const keep = this.pending.filter((r) => r.hostPage / CODE_PAGE_BYTES !== hostPage);
      if (keep.length !== this.pending.length) {
        for (const r of this.pending) if (!keep.includes(r)) for (const k of regionKeys(r)) this.pendingKeys.delete(k);
        this.pending = keep;
      }
    }
    const slots = this.byPage.get(hostPage);
    if (!slots) return;
    this.byPage.delete(hostPage);
    for (const slot of slots) this.dropRegion(slot);
    this.stats.liveRegions = this.regions.size;
  }

  private dropRegion(slot: number): void {
    const live = this.regions.get(slot);
    if (!live) return;
    this.regions.delete(slot);
    const k = live.keys;
    const h = this.hash;
    for (let i = 0; i < k.length; i += 4) {
      const key = blockKey(k[i], k[i + 1], k[i + 2], live.hostPage);
      if (this.blocks.get(key) === k[i + 3]) this.blocks.delete(key);
      const e = hashKey(k[i], k[i + 1], k[i + 2]) * E;
      if (h[e + 3] === k[i + 3]) h.fill(0, e, e + E);
    }
    // The function may be running (a store into its own page): it leaves at
    // its next check, and the slot is reused only by a later compile.
    this.table.set(slot, null);
    this.freeSlots.push(slot);
    this.stats.regionsInvalidated++;
  }

  /** Function-table slots in use or free: bounded by the live-region cap. */
  get tableLength(): number {
    return this.table.length;
  }

  /** Drops every translation (the cache is full, or the machine asks). */
  flushAll(): void {
    for (const slot of [...this.regions.keys()]) this.dropRegion(slot);
    this.byPage.clear();
    this.hash.fill(0);
    this.stats.evictions++;
    this.stats.liveRegions = 0;
  }
}

/** The keys of a region's blocks. */
function regionKeys(r: Region): string[] {
  return r.blocks.map((b) => blockKey(Number(b.pc & 0xffffffffn) | 0, Number(b.pc >> 32n) | 0, r.ctx, r.hostPage));
}

/** Blocks are keyed by virtual PC and context, and by the host page their bytes came from. */
function blockKey(pcLo: number, pcHi: number, ctx: number, hostPage: number): string {
  return `${pcLo >>> 0}:${pcHi >>> 0}:${ctx}:${hostPage}`;
}

function profileBatch(regions: number, insns: number, buildMs: number, emitMs: number, compileMs: number, bytes: number): void {
  process.stderr.write(`jit batch at ${performance.now().toFixed(0)} ms: ${regions} regions ${insns} insns: build ${buildMs.toFixed(1)} emit ${emitMs.toFixed(1)} compile ${compileMs.toFixed(1)} ms${bytes ? `, ${bytes} bytes` : ''}\n`);
}
