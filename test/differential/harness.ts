// Runs batches of random programs on qemu-aarch64 (the oracle) and on
// warmboot, from the same bytes at the same addresses, and compares every
// general register, NZCV, SP, the scratch buffer and the UNDEFINED
// instructions and faulting accesses after each program.
//
// One image holds a batch of cases laid out one after another:
//
//   code (0x40100000): 4 KiB pad with warmboot's vectors | start-up |
//                      case 0 | case 1 | ... | exit | signal handler | 4 KiB pad
//   data (0x41000000): sigaction, sigaltstack and the signal stack, then from
//                      0x41020000 one 8 KiB region per case; from x28 = region + 0xf00:
//       +0x000 scratch buffer (512 bytes, random initial contents; it
//              straddles a page boundary so unaligned accesses can too)
//       +0x200 dump: x0..x30, NZCV, SP, then count and sum of PCs of the
//              UNDEFINED instructions, and of the faulting accesses
//       +0x400 initial x0..x30, NZCV, SP
//
// Each case sets x28 to its scratch buffer, loads the initial state, runs its
// body, stores the dump, and (under QEMU) writes scratch+dump to stdout with
// write(2) before falling into the next case. warmboot runs the cases in the
// same order on one machine, each from its entry to the instruction after the
// dump stores, and reads the same bytes back out of guest memory. The ELF maps
// all of warmboot's RAM, so an access lands or faults alike in both worlds.
// An UNDEFINED instruction or a faulting access is counted and skipped in both
// (a SIGILL/SIGSEGV/SIGBUS handler under QEMU, an EL1 vector in warmboot), so
// random encodings and mutated accesses can be probed; any other exception
// spins in warmboot's vector table, which the harness reports with its
// syndrome. The pads keep PC-relative literal loads inside mapped memory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JitOptions } from '../../jit/engine.js';
import { findCpuModel } from '../../src/cpu/cpu-models.js';
import { VirtualMachine } from '../../runtime/virtual-machine.js';
import {
  addImm, addReg, cbnzSelf, CLREX, ELR_EL1, ERET, ESR_EL1, ldrX, lsrImm, mov64, movk, movz, mrs, mrsNzcv, msr, msrNzcv, RET,
  strX, SVC0, TPIDR_EL0, TPIDR_EL1, TPIDRRO_EL0,
} from './a64-encode.js';
import { BASE_REG, layoutUnits, PAGE_BOUNDARY, SCRATCH_BYTES, type TestProgram, type Unit } from './generator.js';
import { buildStaticElf } from './static-elf.js';
import { testJit } from '../jit/jit-mode.js';

export const QEMU = 'qemu-aarch64';
export const OBJDUMP = 'aarch64-linux-gnu-objdump';
const DEBIAN_PACKAGES: Record<string, string> = { [QEMU]: 'qemu-user', [OBJDUMP]: 'binutils-aarch64-linux-gnu' };

export const CODE_BASE = 0x40100000;
export const DATA_BASE = 0x41000000;
const RAM_BASE = 0x40000000;
const RAM_SIZE = 64 * 1024 * 1024;
const PAGE = 0x1000;
const PAD_WORDS = 1024;
const REGIONS_BASE = DATA_BASE + 0x20000;
const REGION_BYTES = 0x2000;
const SCRATCH_IN_REGION = 0x1000 - PAGE_BOUNDARY;
/** B . : fills warmboot's vector table, so an unexpected exception spins where it lands. */
const BRANCH_TO_SELF = 0x14000000;
const DUMP_OFFSET = 0x200;
const INIT_OFFSET = 0x400;
/** x0..x30, NZCV, SP, then count and PC sum of UNDEFINED instructions and of faulting accesses. */
const DUMP_SLOTS = 37;
const UNDEF_SLOT = DUMP_OFFSET + 33 * 8;
/** What each case reports: its scratch buffer followed by the register dump. */
export const REPORT_BYTES = DUMP_OFFSET + DUMP_SLOTS * 8;
const SYS_WRITE = 64;
const SYS_EXIT = 93;
const SYS_SIGALTSTACK = 132;
const SYS_RT_SIGACTION = 134;
const SYS_RT_SIGRETURN = 139;
const SIGILL = 4;
const SIGBUS = 7;
const SIGSEGV = 11;
const SA_SIGINFO = 0x4;
const SA_ONSTACK = 0x08000000;
const SA_RESTORER = 0x04000000;
const EC_UNKNOWN = 0x00;
const EC_DABORT_SAME = 0x25;
/** Offsets in the data segment. */
const SIGACTION = 0x0;
const ALTSTACK_DESC = 0x40;
const ALTSTACK = 0x1000;
const ALTSTACK_BYTES = 0x10000;
/** uc_mcontext.pc in the arm64 ucontext: 176 (uc_mcontext) + 8 (fault_address) + 31*8 (regs) + 8 (sp). */
const UCONTEXT_PC = 440;

/** Fails (never skips) when an oracle tool is missing, naming the Debian package. */
export function requireTools(): void {
  for (const tool of [QEMU, OBJDUMP]) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      const pkg = DEBIAN_PACKAGES[tool];
      throw new Error(`${tool} is not available: the differential test needs it as its oracle; ` +
        `install the Debian package ${pkg} (apt-get install -y ${pkg})`);
    }
  }
}

interface CaseLayout {
  /** The scratch buffer, which x28 holds. */
  readonly region: number;
  readonly entry: number;
  /** Address of the first body word. */
  readonly body: number;
  readonly bodyWords: readonly number[];
  /** Address of the first word after the dump stores: warmboot stops here. */
  readonly report: number;
}

interface Image {
  readonly code: Uint8Array;
  readonly data: Uint8Array;
  readonly elf: Uint8Array;
  readonly cases: readonly CaseLayout[];
}

export function buildImage(programs: readonly TestProgram[]): Image {
  if (programs.length * REGION_BYTES > RAM_BASE + RAM_SIZE - REGIONS_BASE) throw new Error('too many programs for one image');
  const words: number[] = [];
  const here = (): number => CODE_BASE + 4 * words.length;
  const a = (...w: number[]): void => { for (const x of w) words.push(x >>> 0); };
  for (let i = 0; i < PAD_WORDS; i++) words.push(BRANCH_TO_SELF);

  // warmboot's vector for synchronous exceptions from EL1 with SP_EL1: an
  // UNDEFINED instruction or a data abort is counted and skipped, as the
  // signal handler does under QEMU; anything else spins there, so the harness
  // reports its syndrome.
  const vector: number[] = [];
  {
    const v = (...w: number[]): void => { for (const x of w) vector.push(x >>> 0); };
    // Its registers are saved in thread ID registers, not memory: a stray load
    // near the scratch buffer must not see anything QEMU's handler does not write.
    v(msr(...TPIDR_EL1, 9), msr(...TPIDR_EL0, 10), msr(...TPIDRRO_EL0, 11));
    v(mrs(9, ...ESR_EL1), lsrImm(9, 9, 26), addImm(10, BASE_REG, UNDEF_SLOT));
    v(cbz(9, 3), addImm(10, 10, 16), addImm(9, 9, EC_DABORT_SAME, 0, true), cbnzSelf(9));
    v(mrs(9, ...ELR_EL1), ...countInto(10, 9, 11), addImm(9, 9, 4), msr(...ELR_EL1, 9));
    v(mrs(9, ...TPIDR_EL1), mrs(10, ...TPIDR_EL0), mrs(11, ...TPIDRRO_EL0), ERET);
  }
  if (vector.length > 32) throw new Error('the exception vector does not fit its slot');
  words.splice(0x200 / 4, vector.length, ...vector);

  const data = new Uint8Array(REGIONS_BASE - DATA_BASE + programs.length * REGION_BYTES);
  const dv = new DataView(data.buffer);

  // Under QEMU: the handler runs on an alternate stack (SP holds random values).
  const start = here();
  a(...mov64(0, BigInt(DATA_BASE + ALTSTACK_DESC)), movz(1, 0), movz(8, SYS_SIGALTSTACK), SVC0);
  for (const sig of [SIGILL, SIGBUS, SIGSEGV]) {
    a(movz(0, sig), ...mov64(1, BigInt(DATA_BASE + SIGACTION)), movz(2, 0), movz(3, 8), movz(8, SYS_RT_SIGACTION), SVC0);
  }

  const cases: CaseLayout[] = [];
  programs.forEach((p, i) => {
    const region = REGIONS_BASE + i * REGION_BYTES + SCRATCH_IN_REGION;
    const r0 = region - DATA_BASE;
    data.set(p.init.scratch, r0);
    for (let n = 0; n < 31; n++) dv.setBigUint64(r0 + INIT_OFFSET + 8 * n, n === BASE_REG ? BigInt(region) : p.init.x[n], true);
    dv.setBigUint64(r0 + INIT_OFFSET + 31 * 8, BigInt(p.init.nzcv >>> 0), true);
    dv.setBigUint64(r0 + INIT_OFFSET + 32 * 8, p.init.sp, true);

    const entry = here();
    a(movz(BASE_REG, region & 0xffff), movk(BASE_REG, region >>> 16, 1), CLREX);
    a(ldrX(27, BASE_REG, INIT_OFFSET + 31 * 8), msrNzcv(27));
    a(ldrX(27, BASE_REG, INIT_OFFSET + 32 * 8), addImm(31, 27, 0));
    for (let n = 0; n < 31; n++) if (n !== BASE_REG) a(ldrX(n, BASE_REG, INIT_OFFSET + 8 * n));
    const body = here();
    const bodyWords = layoutUnits(p.units);
    a(...bodyWords);
    for (let n = 0; n < 31; n++) a(strX(n, BASE_REG, DUMP_OFFSET + 8 * n));
    a(mrsNzcv(0), strX(0, BASE_REG, DUMP_OFFSET + 31 * 8));
    a(addImm(0, 31, 0), strX(0, BASE_REG, DUMP_OFFSET + 32 * 8));
    const report = here();
    a(movz(8, SYS_WRITE), movz(0, 1), addImm(1, BASE_REG, 0), movz(2, REPORT_BYTES), SVC0);
    cases.push({ region, entry, body, bodyWords, report });
  });
  a(movz(8, SYS_EXIT), movz(0, 0), SVC0);

  // The signal handler: x0 is the signal, x2 the ucontext, and x28 still the
  // case's base, since delivery only sets x0-x2, x29, x30, SP and PC.
  // Registers it clobbers come back from the ucontext at sigreturn.
  const handler = here();
  a(ldrX(9, 2, UCONTEXT_PC), addImm(10, BASE_REG, UNDEF_SLOT), addImm(11, 0, SIGILL, 0, true), cbz(11, 2), addImm(10, 10, 16));
  a(...countInto(10, 9, 11), addImm(9, 9, 4), strX(9, 2, UCONTEXT_PC), RET);
  const restorer = here();
  a(movz(8, SYS_RT_SIGRETURN), SVC0);
  for (let i = 0; i < PAD_WORDS; i++) a(Math.imul(i + 7, 0x85ebca6b) >>> 0);

  // struct sigaction (arm64 kernel layout) and stack_t.
  dv.setBigUint64(SIGACTION, BigInt(handler), true);
  dv.setBigUint64(SIGACTION + 8, BigInt(SA_SIGINFO | SA_ONSTACK | SA_RESTORER), true);
  dv.setBigUint64(SIGACTION + 16, BigInt(restorer), true);
  dv.setBigUint64(SIGACTION + 24, 0n, true);
  dv.setBigUint64(ALTSTACK_DESC, BigInt(DATA_BASE + ALTSTACK), true);
  dv.setUint32(ALTSTACK_DESC + 8, 0, true);
  dv.setBigUint64(ALTSTACK_DESC + 16, BigInt(ALTSTACK_BYTES), true);

  const code = new Uint8Array(words.length * 4);
  const cdv = new DataView(code.buffer);
  words.forEach((w, i) => cdv.setUint32(4 * i, w, true));
  const codeEnd = CODE_BASE + Math.ceil(code.length / PAGE) * PAGE;
  if (codeEnd > DATA_BASE) throw new Error('too much code for one image');
  // All of warmboot's RAM is mapped under QEMU too (code writable as well),
  // so an access lands or faults alike in both worlds.
  const elf = buildStaticElf(start, [
    { vaddr: RAM_BASE, bytes: new Uint8Array(0), memSize: CODE_BASE - RAM_BASE, executable: false, writable: true },
    { vaddr: CODE_BASE, bytes: code, executable: true, writable: true },
    ...(codeEnd < DATA_BASE ? [{ vaddr: codeEnd, bytes: new Uint8Array(0), memSize: DATA_BASE - codeEnd, executable: false, writable: true }] : []),
    { vaddr: DATA_BASE, bytes: data, memSize: RAM_BASE + RAM_SIZE - DATA_BASE, executable: false, writable: true },
  ]);
  return { code, data, elf, cases };
}

/** CBZ Xt to `words` instructions ahead. */
function cbz(rt: number, words: number): number {
  return (0xb4000000 | (words << 5) | rt) >>> 0;
}

/** Bumps the count at [slot] and adds `pc` to the sum at [slot + 8]. */
function countInto(slot: number, pc: number, tmp: number): number[] {
  return [
    ldrX(tmp, slot, 0), addImm(tmp, tmp, 1), strX(tmp, slot, 0),
    ldrX(tmp, slot, 8), addReg(tmp, tmp, pc), strX(tmp, slot, 8),
  ];
}

export type CaseOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'mismatch'; readonly diffs: readonly string[] }
  /** QEMU died in this case: the generator produced something that faults. */
  | { readonly kind: 'qemu-fault'; readonly message: string }
  | { readonly kind: 'warmboot-stopped'; readonly message: string };

export interface BatchResult {
  readonly outcomes: readonly CaseOutcome[];
  readonly cases: readonly CaseLayout[];
}

const EC_NAMES: Record<number, string> = {
  0x00: ': UNDEFINED', 0x07: ': FP/SIMD access', 0x15: ': SVC', 0x18: ': system register trap',
  0x21: ': instruction abort', 0x22: ': PC alignment', 0x25: ': data abort', 0x26: ': SP alignment', 0x3c: ': BRK',
};

const hex = (v: bigint | number): string => `0x${v.toString(16).padStart(16, '0')}`;

export interface HarnessOptions {
  /** warmboot's CPU model. QEMU always runs `-cpu max`, so another model is only for testing the harness. */
  readonly cpu?: string;
  /** warmboot's JIT tier; by default the one WARMBOOT_JIT selects for the test suites. */
  readonly jit?: JitOptions | undefined;
  /**
   * Run warmboot with its stage-1 MMU on, identity-mapping RAM as Normal
   * memory with TBI0, which is how the memory of a Linux process (QEMU's side)
   * behaves. Otherwise warmboot runs with the MMU off.
   */
  readonly mmu?: boolean;
}

export class DifferentialHarness {
  private vm: VirtualMachine | undefined;

  private readonly cpu: string;
  private readonly jit: JitOptions | undefined;
  private readonly mmu: boolean;

  constructor(opts: HarnessOptions = {}) {
    this.cpu = opts.cpu ?? 'max';
    this.jit = 'jit' in opts ? opts.jit : testJit;
    this.mmu = opts.mmu ?? false;
  }

  private readonly tmp = mkdtempSync(join(tmpdir(), 'warmboot-diff-'));
  private seq = 0;
  /** Time spent in QEMU and in warmboot, for the report. */
  qemuMs = 0;
  warmbootMs = 0;
  warmbootInstructions = 0;
  private jitCompiledBefore = 0;

  /** Guest instructions warmboot executed as JIT-translated code. */
  get jitInstructions(): number {
    return this.jitCompiledBefore + (this.vm?.jit?.stats.instructionsCompiled ?? 0);
  }

  dispose(): void {
    rmSync(this.tmp, { recursive: true, force: true });
  }

  runBatch(programs: readonly TestProgram[]): BatchResult {
    const image = buildImage(programs);
    const qemuOut = this.runQemu(image);
    const outcomes = image.cases.map((layout, i): CaseOutcome => {
      const start = i * REPORT_BYTES;
      if (qemuOut.bytes.length < start + REPORT_BYTES) {
        return { kind: 'qemu-fault', message: `qemu-aarch64 stopped in this case: ${qemuOut.status}` };
      }
      const expected = qemuOut.bytes.subarray(start, start + REPORT_BYTES);
      const actual = this.runWarmboot(image, layout);
      if (typeof actual === 'string') return { kind: 'warmboot-stopped', message: actual };
      const diffs = compareReports(expected, actual);
      return diffs.length === 0 ? { kind: 'ok' } : { kind: 'mismatch', diffs };
    });
    if (outcomes.every((o) => o.kind !== 'qemu-fault') && qemuOut.bytes.length !== programs.length * REPORT_BYTES) {
      throw new Error(`qemu-aarch64 wrote ${qemuOut.bytes.length} bytes, expected ${programs.length * REPORT_BYTES}: ${qemuOut.status}`);
    }
    return { outcomes, cases: image.cases };
  }

  private runQemu(image: Image): { bytes: Uint8Array; status: string } {
    const path = join(this.tmp, `batch-${this.seq++}.elf`);
    writeFileSync(path, image.elf, { mode: 0o755 });
    const t0 = performance.now();
    const r = spawnSync(QEMU, ['-cpu', 'max', path], { maxBuffer: 1 << 30, timeout: 120_000 });
    this.qemuMs += performance.now() - t0;
    rmSync(path, { force: true });
    if (r.error) throw new Error(`could not run ${QEMU}: ${r.error.message}`);
    const status = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    const stderr = r.stderr.toString().trim();
    return { bytes: new Uint8Array(r.stdout), status: stderr ? `${status}; stderr: ${stderr}` : status };
  }

  private loaded: Image | undefined;

  /**
   * The case's report bytes, or why warmboot did not reach the end of the
   * case. Cases run in order on one machine per image, as they do in the one
   * QEMU process, so a stray store outside the scratch buffer has the same
   * effect on later cases in both worlds; a fresh machine per image keeps the
   * rest of RAM zero, like QEMU's zero-filled mappings.
   */
  private runWarmboot(image: Image, layout: CaseLayout): Uint8Array | string {
    if (this.loaded !== image || !this.vm) {
      this.jitCompiledBefore = this.jitInstructions;
      this.vm = new VirtualMachine({ ramBase: RAM_BASE, ramSize: RAM_SIZE, cpus: 1, cpuModel: findCpuModel(this.cpu)!, jit: this.jit });
      this.vm.writePhysical(CODE_BASE, image.code);
      this.vm.writePhysical(DATA_BASE, image.data);
      if (this.mmu) this.vm.writePhysical(RAM_BASE, identityMapTables());
      this.loaded = image;
    }
    const vm = this.vm;
    const cpu = vm.vcpus[0];
    cpu.reset(BigInt(layout.entry));
    cpu.setSysreg('VBAR_EL1', BigInt(CODE_BASE));
    if (this.mmu) {
      cpu.setSysreg('MAIR_EL1', MAIR_NORMAL_WB);
      cpu.setSysreg('TCR_EL1', TCR_IDENTITY);
      cpu.setSysreg('TTBR0_EL1', BigInt(RAM_BASE));
      cpu.setSysreg('SCTLR_EL1', cpu.sysreg('SCTLR_EL1') | SCTLR_M_C_I);
      cpu.contextSynchronize();
    }
    const before = vm.instructionsRetired;
    const t0 = performance.now();
    const exit = vm.run({ breakpoint: BigInt(layout.report), maxInstructions: 20_000 });
    this.warmbootMs += performance.now() - t0;
    this.warmbootInstructions += vm.instructionsRetired - before;
    if (exit.reason !== 'breakpoint' || cpu.pc !== BigInt(layout.report)) {
      const esr = cpu.sysreg('ESR_EL1');
      const pc = cpu.pc;
      const inVectors = pc >= BigInt(CODE_BASE) && pc < BigInt(CODE_BASE + 0x800);
      const why = inVectors
        ? `took an exception (EC 0x${(Number(esr >> 26n) & 0x3f).toString(16)}${EC_NAMES[Number(esr >> 26n) & 0x3f] ?? ''}) ` +
          `at ${hex(cpu.sysreg('ELR_EL1'))}, ESR_EL1 ${hex(esr)}, FAR_EL1 ${hex(cpu.sysreg('FAR_EL1'))}`
        : `${exit.reason}${exit.reason === 'internal-error' ? ` (${exit.message})` : ''} at pc ${hex(pc)}`;
      return `warmboot did not reach the end of the case: ${why}`;
    }
    return vm.readPhysical(layout.region, REPORT_BYTES);
  }

  /**
   * Removes units one at a time, as long as the program still fails, trying
   * every single-unit removal of the current program in one QEMU run.
   */
  minimise(program: TestProgram): { program: TestProgram; outcome: CaseOutcome; layout: CaseLayout } {
    let current = program;
    for (;;) {
      const candidates = current.units.map((_, i) => ({ init: current.init, units: current.units.filter((_u, j) => j !== i) }));
      if (candidates.length === 0) break;
      const res = this.runBatch(candidates);
      const k = res.outcomes.findIndex((o) => o.kind === 'mismatch' || o.kind === 'warmboot-stopped');
      if (k < 0) break;
      current = candidates[k];
    }
    const final = this.runBatch([current]);
    return { program: current, outcome: final.outcomes[0], layout: final.cases[0] };
  }

  /** A readable account of one failing program: initial state, code and differences. */
  describe(program: TestProgram, layout: CaseLayout, outcome: CaseOutcome): string {
    const lines: string[] = [];
    const x = program.init.x;
    const regs: string[] = [];
    for (let n = 0; n < 31; n++) {
      regs.push(`x${n}=${n === BASE_REG ? hex(layout.region) + ' (scratch)' : hex(x[n])}`);
    }
    for (let n = 0; n < regs.length; n += 4) lines.push(`    ${regs.slice(n, n + 4).join('  ')}`);
    lines.push(`    nzcv=${((program.init.nzcv >>> 28) & 15).toString(2).padStart(4, '0')}  sp=${hex(program.init.sp)}`);
    lines.push('  code (unit kind in brackets):');
    const dis = disassemble(layout.bodyWords, layout.body);
    let w = 0;
    const starts = new Map<number, string>();
    for (const u of program.units) {
      starts.set(w, u.kind);
      w += unitLength(u);
    }
    dis.forEach((text, i) => lines.push(`    ${text}${starts.has(i) ? `    [${starts.get(i)}]` : ''}`));
    lines.push('  differences (qemu vs warmboot):');
    if (outcome.kind === 'mismatch') for (const d of outcome.diffs) lines.push(`    ${d}`);
    else if (outcome.kind !== 'ok') lines.push(`    ${outcome.message}`);
    return lines.join('\n');
  }
}

// Stage-1 identity map for the MMU-on runs, 4 KiB granule, 39-bit VAs: an
// L1 table at RAM_BASE whose entry for 1-2 GiB points to an L2 table of
// 2 MiB Normal blocks. Code and everything below the data segment is
// EL1-only (memory writable at EL0 is never executable at EL1); the data
// segment is read/write at EL0 too, so LDTR/STTR work as they do in a process.
const MAIR_NORMAL_WB = 0xffn;
const TCR_IDENTITY = 25n | (1n << 8n) | (1n << 10n) | (3n << 12n) | (25n << 16n) | (1n << 23n) | (2n << 32n) | (1n << 37n);
const SCTLR_M_C_I = (1n << 0n) | (1n << 2n) | (1n << 12n);

function identityMapTables(): Uint8Array {
  const tables = new Uint8Array(0x2000);
  const dv = new DataView(tables.buffer);
  dv.setBigUint64(8 * ((RAM_BASE >>> 30) & 0x1ff), BigInt(RAM_BASE + 0x1000) | 3n, true);
  for (let pa = RAM_BASE; pa < RAM_BASE + RAM_SIZE; pa += 0x200000) {
    const el0 = pa >= DATA_BASE;
    const desc = BigInt(pa) | (1n << 54n) /* UXN */ | (el0 ? 1n << 53n : 0n) /* PXN */ | (1n << 10n) /* AF */
      | (3n << 8n) /* inner shareable */ | ((el0 ? 1n : 0n) << 6n) /* AP */ | 1n /* block, AttrIndx 0 */;
    dv.setBigUint64(0x1000 + 8 * ((pa >>> 21) & 0x1ff), desc, true);
  }
  return tables;
}

function unitLength(u: Unit): number {
  return u.branch ? u.branch.length : u.words!.length;
}

function compareReports(q: Uint8Array, w: Uint8Array): string[] {
  const diffs: string[] = [];
  const qd = new DataView(q.buffer, q.byteOffset, q.byteLength);
  const wd = new DataView(w.buffer, w.byteOffset, w.byteLength);
  for (let n = 0; n < DUMP_SLOTS; n++) {
    const a = qd.getBigUint64(DUMP_OFFSET + 8 * n, true), b = wd.getBigUint64(DUMP_OFFSET + 8 * n, true);
    if (a === b) continue;
    const name = n < 31 ? `x${n}` : ['nzcv', 'sp', 'UNDEFINED count', 'sum of UNDEFINED PCs', 'fault count', 'sum of fault PCs'][n - 31];
    diffs.push(n === 31
      ? `nzcv: ${(Number(a >> 28n) & 15).toString(2).padStart(4, '0')} vs ${(Number(b >> 28n) & 15).toString(2).padStart(4, '0')}`
      : `${name}: ${hex(a)} vs ${hex(b)}`);
  }
  for (let off = 0; off < SCRATCH_BYTES; off += 8) {
    const a = qd.getBigUint64(off, true), b = wd.getBigUint64(off, true);
    if (a !== b) diffs.push(`scratch[0x${off.toString(16)}..+8] (little-endian): ${hex(a)} vs ${hex(b)}`);
  }
  return diffs;
}

/** objdump's disassembly of `words` placed at `address`, one line per word. */
export function disassemble(words: readonly number[], address: number): string[] {
  if (words.length === 0) return ['(empty)'];
  const dir = mkdtempSync(join(tmpdir(), 'warmboot-dis-'));
  try {
    const file = join(dir, 'code.bin');
    const bytes = new Uint8Array(words.length * 4);
    const dv = new DataView(bytes.buffer);
    words.forEach((w, i) => dv.setUint32(4 * i, w, true));
    writeFileSync(file, bytes);
    const r = spawnSync(OBJDUMP, ['-D', '-b', 'binary', '-m', 'aarch64', `--adjust-vma=0x${address.toString(16)}`, file], { encoding: 'utf8' });
    const lines = (r.stdout ?? '').split('\n').filter((l) => /^\s*[0-9a-f]+:\s+[0-9a-f]{8}\s/.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
    return lines.length === words.length ? lines : words.map((wd, i) => `${(address + 4 * i).toString(16)}: ${wd.toString(16).padStart(8, '0')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
