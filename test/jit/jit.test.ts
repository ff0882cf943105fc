// The JIT tier against the interpreter: each program runs on one machine that
// only interprets and on machines that translate (every block at its first
// execution, and after two executions so code moves between the tiers), and
// the whole architectural state must agree. One test per exit kind and per
// invalidation cause, with the JIT's counters showing the path was taken.
import { describe, expect, it } from 'vitest';
import { loadBinaryen } from '../../jit/binaryen.js';
import { DEFAULT_THRESHOLD, type JitOptions } from '../../jit/engine.js';
import { createBackgroundCompiler } from '../../jit/background-compiler.js';
import { VirtualMachine, type VmExit } from '../../runtime/virtual-machine.js';
import { findCpuModel } from '../../src/cpu/cpu-models.js';
import { assembleProgram } from '../asm/a64-assembler.js';
import { withVectors } from '../cpu/helpers.js';

const binaryen = await loadBinaryen();
const CODE = 0x40000000n;
const DATA = 0x40100000n;

interface Run {
  vm: VirtualMachine;
  exit: VmExit;
  serial: string;
  labels: Map<string, bigint>;
}

function machine(jit: JitOptions | undefined, onSerial?: (s: string) => void): VirtualMachine {
  return new VirtualMachine({
    ramBase: 0x40000000, ramSize: 16 * 1024 * 1024, cpus: 1, cpuModel: findCpuModel('max')!, jit,
    onSerialOutput: (b) => onSerial?.(Buffer.from(b).toString('latin1')),
  });
}

function load(vm: VirtualMachine, source: string): Map<string, bigint> {
  const p = assembleProgram(`${source}\nend:\n  nop\n`, CODE);
  vm.writePhysical(Number(CODE), p.bytes);
  const cpu = vm.vcpus[0];
  cpu.reset(CODE);
  cpu.sp = 0x40f00000n;
  for (let i = 0; i < 31; i++) cpu.setX(i, 0n);
  cpu.setX(20, DATA);
  return p.labels;
}

function runOn(jit: JitOptions | undefined, source: string, opts: { max?: number; until?: string } = {}): Run {
  let serial = '';
  const vm = machine(jit, (s) => { serial += s; });
  const labels = load(vm, source);
  const exit = vm.run({ breakpoint: labels.get(opts.until ?? 'end'), maxInstructions: opts.max ?? 2_000_000 });
  return { vm, exit, serial, labels };
}

/** Everything the guest can observe, and the instruction count. */
function snapshot(r: Run): Record<string, string> {
  const c = r.vm.vcpus[0];
  const s: Record<string, string> = {};
  for (let i = 0; i < 31; i++) s[`x${i}`] = c.getX(i).toString(16);
  s.sp = c.sp.toString(16);
  s.pc = c.pc.toString(16);
  s.nzcv = c.nzcv.toString(16);
  s.pstate = c.pstate.toString(16);
  for (const n of ['ELR_EL1', 'ESR_EL1', 'FAR_EL1', 'SPSR_EL1'] as const) s[n] = c.sysreg(n).toString(16);
  s.retired = String(c.instructionsRetired);
  s.exit = JSON.stringify(r.exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
  s.serial = r.serial;
  s.data = Buffer.from(r.vm.readPhysical(Number(DATA), 256)).toString('hex');
  s.exits = JSON.stringify(r.vm.exits);
  return s;
}

const FIRST: JitOptions = { binaryen, threshold: 1 };
const SECOND: JitOptions = { binaryen, threshold: 2 };

/** Runs `source` in the three tiers, expects identical state, returns the JIT-first run. */
function agree(source: string, opts: { max?: number; until?: string } = {}): Run {
  const ref = snapshot(runOn(undefined, source, opts));
  const first = runOn(FIRST, source, opts);
  expect(snapshot(first)).toEqual(ref);
  expect(snapshot(runOn(SECOND, source, opts))).toEqual(ref);
  if ((opts.max ?? Infinity) > 100) expect(first.vm.jit!.stats.instructionsCompiled).toBeGreaterThan(0);
  return first;
}

/** Synchronous exceptions from EL1h: count in x26 and skip the instruction. */
const SKIP = `
  add x26, x26, #1
  mrs x25, elr_el1
  add x25, x25, #4
  msr elr_el1, x25
  eret`;

const HOT_LOOP = `
  mov x1, #300
loop:
  add x0, x0, x1
  eor x2, x0, x1, lsl #7
  str x2, [x20, #8]
  ldr x3, [x20, #8]
  stp x0, x3, [x20, #16]!
  ldp x4, x5, [x20], #-16
  bl func
  subs x1, x1, #1
  b.ne loop
  b end
func:
  madd x6, x4, x5, x6
  cmp x6, x0
  csinc x7, x7, x7, hs
  ret
`;

describe('JIT tier agrees with the interpreter', () => {
  it('runs a hot loop with loads, stores, pairs and calls in compiled code', () => {
    const r = agree(HOT_LOOP);
    const s = r.vm.jit!.stats;
    expect(s.instructionsCompiled).toBeGreaterThan(s.instructionsInterpreted * 10);
  });

  it('leaves Wasm for HVC (PSCI) and resumes after it', () => {
    const r = agree(`
  mov x9, #40
loop:
  movz x0, #0x8400, lsl #16
  hvc #0
  add x1, x1, x0
  subs x9, x9, #1
  b.ne loop`);
    expect(r.vm.exits.hvc).toBe(40);
    expect(r.vm.jit!.stats.exits.vcpuExit).toBeGreaterThanOrEqual(40);
  });

  it('leaves Wasm for WFI', () => {
    const r = agree(`
  mov x9, #25
loop:
  wfi
  add x1, x1, #3
  subs x9, x9, #1
  b.ne loop`);
    expect(r.vm.exits.wfi).toBeGreaterThan(0);
  });

  it('takes SVC through the trampoline and returns with ERET', () => {
    agree(withVectors(`
  mov x9, #30
loop:
  add x1, x1, #1
  svc #7
  add x2, x2, x1
  subs x9, x9, #1
  b.ne loop`, { 0x200: '  add x26, x26, #1\n  mrs x24, esr_el1\n  eret' }));
  });

  it('delivers a data abort from compiled code precisely (PC, registers, FAR)', () => {
    const r = agree(withVectors(`
  movz x4, #0x3000, lsl #16
  mov x9, #20
loop:
  add x2, x2, #1
  ldr x3, [x4, x2]
  add x5, x5, x2
  str x5, [x4]
  subs x9, x9, #1
  b.ne loop`, { 0x200: SKIP }));
    expect(r.vm.vcpus[0].getX(26)).toBe(40n);
  });

  it('raises alignment faults when SCTLR_EL1.A is set', () => {
    agree(withVectors(`
  mrs x8, sctlr_el1
  orr x8, x8, #2
  msr sctlr_el1, x8
  isb
  add x4, x20, #1
  mov x9, #10
loop:
  ldr x3, [x4]
  ldrb w5, [x4]
  str w5, [x4, #3]
  ldp x6, x7, [x20]
  subs x9, x9, #1
  b.ne loop`, { 0x200: SKIP }));
  });

  it('raises SP alignment faults when SCTLR_EL1.SA is set', () => {
    agree(withVectors(`
  mrs x8, sctlr_el1
  orr x8, x8, #8
  msr sctlr_el1, x8
  isb
  mov x9, #10
loop:
  sub sp, sp, #8
  str x9, [sp]
  add sp, sp, #8
  subs x9, x9, #1
  b.ne loop`, { 0x200: SKIP }));
  });

  it('stops exactly at a breakpoint inside a compiled block', () => {
    const seen: string[] = [];
    for (const jit of [undefined, FIRST, SECOND]) {
      const vm = machine(jit);
      const labels = load(vm, `
  mov x1, #1000
loop:
  add x0, x0, #1
mid:
  add x2, x2, x0
  subs x1, x1, #1
  b.ne loop`);
      vm.run({ maxInstructions: 2000 });
      const exit = vm.run({ breakpoint: labels.get('mid'), maxInstructions: 100_000 });
      expect(exit.reason).toBe('breakpoint');
      expect(vm.vcpus[0].pc).toBe(labels.get('mid'));
      // 2000 = mov + 499 iterations + 3: the run resumes at b.ne, then add, then stops.
      expect(vm.vcpus[0].instructionsRetired).toBe(2002);
      seen.push(`${vm.vcpus[0].getX(0)} ${vm.vcpus[0].getX(2)}`);
      if (jit === FIRST) expect(vm.jit!.stats.instructionsCompiled).toBeGreaterThan(1000);
    }
    expect(new Set(seen).size).toBe(1);
  });

  it('ends time slices after exactly the instruction budget', () => {
    const src = `
loop:
  add x0, x0, #1
  add x1, x1, x0
  eor x2, x2, x1
  b loop`;
    for (const max of [1, 3, 1001, 123_457]) agree(src, { max });
  });

  it('runs MMIO stores from compiled code (UART output)', () => {
    const r = agree(`
  movz x4, #0x0900, lsl #16
  mov x9, #26
  mov x5, #65
loop:
  strb w5, [x4]
  add x5, x5, #1
  subs x9, x9, #1
  b.ne loop`);
    expect(r.serial).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  });

  it('exclusives and system registers run through the trampoline', () => {
    agree(`
  mov x9, #50
loop:
  ldxr x3, [x20]
  add x3, x3, #2
  stxr w4, x3, [x20]
  cbnz w4, loop
  mrs x5, tpidr_el1
  add x5, x5, #1
  msr tpidr_el1, x5
  subs x9, x9, #1
  b.ne loop`);
  });
});

/** Edge values for the arithmetic emitters: both halves' sign and carry boundaries, and two arbitrary ones. */
const EDGE_VALUES = `
values:
  .quad 0
  .quad 1
  .quad 0x7fffffff
  .quad 0x80000000
  .quad 0xffffffff
  .quad 0x7fffffffffffffff
  .quad 0x8000000000000000
  .quad 0xffffffffffffffff
  .quad 0x123456789abcdef0
  .quad 0xfedcba987654321f`;
const EDGE_COUNT = 10;

/** Runs `body` for every x1 (and, with `pairs`, every x2) among EDGE_VALUES; x19 can hash results. */
function overEdgeValues(body: string, pairs: boolean): string {
  const inner = pairs ? `
  mov x22, #0
inner:
  ldr x2, [x21, x22, lsl #3]
${body}
  add x22, x22, #1
  cmp x22, #${EDGE_COUNT}
  b.ne inner` : body;
  return `
  adr x21, values
  mov x23, #0
outer:
  ldr x1, [x21, x23, lsl #3]
${inner}
  add x23, x23, #1
  cmp x23, #${EDGE_COUNT}
  b.ne outer
  b end
${EDGE_VALUES}`;
}

/** Folds the result in x5 and every flag condition into x10..x19. */
const RECORD = `
  csinv x9, x5, x5, cs
  csneg x9, x9, x9, vs
  eor x19, x9, x19, ror #13
  cinc x10, x10, mi
  cinc x11, x11, eq
  cinc x12, x12, hi
  cinc x13, x13, ge
  cinc x14, x14, gt
  cinc x15, x15, ls`;

/**
 * Runs `source` compiling at first execution and counts the calls compiled
 * code made to the interpreter's handlers (the engine's trampoline helper).
 */
function trampolineCalls(source: string): { calls: number; compiled: number } {
  const vm = machine(FIRST);
  const labels = load(vm, source);
  const jit = vm.jit as unknown as { tramp: (...a: unknown[]) => number };
  expect(typeof jit.tramp).toBe('function');
  let calls = 0;
  const orig = jit.tramp.bind(jit);
  jit.tramp = (...a: unknown[]): number => { calls++; return orig(...a); };
  vm.run({ breakpoint: labels.get('end'), maxInstructions: 2_000_000 });
  return { calls, compiled: vm.jit!.stats.instructionsCompiled };
}

describe('JIT emitters for carries, byte reversal, ordered accesses and prefetch', () => {
  it('ADC/ADCS/SBC/SBCS agree for every carry in, operand edge and width, with flags used by CSEL and B.cond', () => {
    const ops: string[] = [];
    for (const cin of ['cmn xzr, xzr', 'cmp xzr, xzr']) {
      for (const op of ['adc', 'adcs', 'sbc', 'sbcs']) {
        for (const r of ['x', 'w']) ops.push(`  ${cin}\n  ${op} ${r}5, ${r}1, ${r}2${RECORD}`);
      }
      ops.push(`  ${cin}\n  ngcs x5, x2${RECORD}\n  ${cin}\n  ngc w5, w2${RECORD}`);
    }
    // A 128-bit add and subtract, carries chained, and a branch on the last V.
    ops.push(`
  adds x6, x1, x2
  adcs x7, x2, x1
  subs x8, x6, x1
  sbcs x5, x7, x2${RECORD}
  adcs w5, w5, w1
  b.vs 1f
  add x16, x16, #1
1:
  sbcs x5, x5, x2
  b.cc 2f
  add x17, x17, #1
2:`);
    const src = overEdgeValues(ops.join('\n'), true);
    agree(src);
    expect(trampolineCalls(src).calls).toBe(0);
  });

  it('RBIT, REV16, REV32 and REV agree on edge values in both widths', () => {
    const ops = ['rbit x5, x1', 'rbit w5, w1', 'rev16 x5, x1', 'rev16 w5, w1', 'rev32 x5, x1', 'rev x5, x1', 'rev w5, w1']
      .map((op) => `  ${op}\n  eor x19, x5, x19, ror #7\n  add x18, x18, x5`);
    ops.push('  rev x1, x1\n  rbit w1, w1\n  eor x19, x1, x19, ror #9');
    const src = overEdgeValues(ops.join('\n'), false);
    const r = agree(src);
    expect(trampolineCalls(src).calls).toBe(0);
    expect(r.vm.vcpus[0].getX(19)).not.toBe(0n);
  });

  const ORDERED = `
  mov x9, #40
  movz x3, #0x8877, lsl #48
  movk x3, #0x6655, lsl #32
  movk x3, #0x4433, lsl #16
  movk x3, #0x2211
loop:
  add x3, x3, x9
  stlr x3, [x20]
  add x4, x20, #8
  stlr w3, [x4]
  add x4, x20, #16
  stlrh w3, [x4]
  add x4, x20, #19
  stlrb w3, [x4]
  ldar x5, [x20]
  add x4, x20, #8
  ldar w6, [x4]
  ldarh w7, [x20]
  ldarb w8, [x4]
  stlr x5, [sp]
  ldar x10, [sp]
  add x11, x11, x10
  add x12, x12, x7
  add x13, x13, x8
  add x14, x14, x6
  subs x9, x9, #1
  b.ne loop`;

  it('LDAR/STLR of every size at aligned addresses run inline', () => {
    const r = agree(ORDERED);
    const t = trampolineCalls(ORDERED);
    expect(t.compiled).toBeGreaterThan(500);
    expect(t.calls).toBe(0);
    expect(r.vm.vcpus[0].getX(11)).not.toBe(0n);
  });

  it('LDAR/STLR at misaligned addresses fault even with SCTLR_EL1.A clear, and leave memory untouched', () => {
    const src = withVectors(`
  movn x3, #0
  mov x9, #12
loop:
  add x4, x20, x9
  stlr x3, [x4]
  stlr w3, [x4]
  stlrh w3, [x4]
  stlrb w3, [x4, #0]
  ldar x5, [x4]
  ldar w6, [x4]
  ldarh w7, [x4]
  ldarb w8, [x4]
  ldr x10, [x4]
  add x11, x11, x5
  add x11, x11, x6
  add x11, x11, x7
  subs x9, x9, #1
  b.ne loop`, { 0x200: SKIP });
    const r = agree(src);
    // Each odd offset faults on every wider access (3 stores, 3 loads); 2, 6, 10 on the 4- and 8-byte ones,
    // 4 and 8 on the 8-byte ones; offset 12 on none.
    const odd = 6, twos = 3, fours = 2;
    const faults = 6 * odd + 4 * twos + 2 * fours;
    expect(r.vm.vcpus[0].getX(26)).toBe(BigInt(faults));
    // The MSR of VBAR_EL1; then each fault runs the handler, and the vector's MSR and ERET.
    expect(trampolineCalls(src).calls).toBe(1 + 3 * faults);
  });

  it('LDAR/STLR reach devices through the slow path', () => {
    const r = agree(`
  movz x4, #0x0900, lsl #16
  mov x9, #26
  mov x5, #65
loop:
  stlr w5, [x4]
  add x5, x5, #1
  stlrb w5, [x4]
  add x5, x5, #1
  ldar w6, [x4, #0]
  subs x9, x9, #2
  b.ne loop`);
    expect(r.serial).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  });

  // The Arm ARM leaves prefetches out of CheckSPAlignment: a misaligned SP base does not fault either.
  it('PRFM and PRFUM never fault, on their address or on a misaligned SP', () => {
    const src = withVectors(`
  movz x4, #0x3000, lsl #16
  mov x9, #20
loop:
  prfm pldl1keep, [x20, #64]
  prfm pstl2strm, [x4, #8]
  prfm pldl1keep, [x4, x9, lsl #3]
  prfum pldl3keep, [x4, #-3]
  add x1, x1, x9
  subs x9, x9, #1
  b.ne loop
  mrs x8, sctlr_el1
  orr x8, x8, #8
  msr sctlr_el1, x8
  isb
  sub sp, sp, #4
  mov x9, #10
loop2:
  prfm pldl1keep, [sp, #8]
  prfum pldl1keep, [sp, #1]
  prfm pldl1keep, [sp, x9]
  add x2, x2, #1
  subs x9, x9, #1
  b.ne loop2
  add sp, sp, #4`, { 0x200: SKIP });
    const r = agree(src);
    expect(r.vm.vcpus[0].getX(26)).toBe(0n);
    expect(r.vm.vcpus[0].getX(2)).toBe(10n);
    // Handlers run for the MSR of VBAR_EL1 and the MSR and ISB that set
    // SCTLR_EL1.SA: none for the prefetches.
    const t = trampolineCalls(src);
    expect(t.compiled).toBeGreaterThan(100);
    expect(t.calls).toBe(3);
  });

  const MRS_LOOP = `
loop:
  mrs x3, tpidr_el1
  mrs x4, tpidr_el0
  mrs x5, tpidrro_el0
  mrs x6, sp_el0
  mrs x7, daif
  mrs x8, currentel
  cmp x9, #15
  mrs x10, nzcv
  mrs x11, ctr_el0
  mrs x12, midr_el1
  mrs x13, mpidr_el1
  mrs x14, sctlr_el1
  mrs x15, vbar_el1
  mrs x16, id_aa64isar0_el1
  mrs x17, cntkctl_el1
  add x21, x21, x10
  eor x22, x22, x3, ror #3
  add x23, x23, x6
  add x24, x24, x7
  subs x9, x9, #1
  b.ne loop`;

  const MRS_SETUP = `
  mov x9, #30
  movz x1, #0x1234
  msr tpidr_el0, x1
  movk x1, #0x5678, lsl #32
  msr tpidrro_el0, x1
  movz x2, #0x4010, lsl #16
  movk x2, #0x5000
  msr sp_el0, x2
  msr tpidr_el1, x2`;

  it('MRS of plain registers, NZCV, DAIF, CurrentEL and SP_EL0 runs inline at EL1', () => {
    // Values change between reads: MSR writes, DAIF masked and unmasked, flags set.
    agree(`${MRS_SETUP}
outer:
  mov x25, x9
  mov x9, #3
${MRS_LOOP}
  mov x9, x25
  add x3, x3, x9
  msr tpidr_el1, x3
  add x6, x6, #16
  msr sp_el0, x6
  tbz x9, #0, 1f
  msr daifset, #2
  b 2f
1:
  msr daifclr, #2
2:
  subs x9, x9, #1
  b.ne outer`);
    // Only the setup's MSRs run handlers.
    const t = trampolineCalls(`${MRS_SETUP}\n${MRS_LOOP}`);
    expect(t.compiled).toBeGreaterThan(500);
    expect(t.calls).toBe(4);
  });

  it('MRS is checked per exception level: the same code at EL1h, EL1t (SP_EL0 UNDEFINED) and EL0 (traps)', () => {
    const r = agree(withVectors(`
  mov x1, #0x77
  msr tpidrro_el0, x1
  msr tpidr_el0, x1
  msr tpidr_el1, x1
  mov x9, #3
1:
  bl readregs
  subs x9, x9, #1
  b.ne 1b
  msr spsel, #0
  mov x9, #3
2:
  bl readregs
  subs x9, x9, #1
  b.ne 2b
  msr spsel, #1
  adr x8, el0code
  msr elr_el1, x8
  msr spsr_el1, xzr
  eret
el0code:
  mov x9, #5
3:
  bl readregs
  subs x9, x9, #1
  b.ne 3b
  b end
readregs:
  mrs x1, tpidr_el0
  mrs x2, tpidrro_el0
  mrs x3, nzcv
  mrs x4, ctr_el0
  mrs x5, tpidr_el1
  mrs x6, currentel
  mrs x7, daif
  mrs x10, sp_el0
  mrs x11, elr_el1
  add x12, x12, x1
  add x13, x13, x4
  add x14, x14, x5
  add x15, x15, x6
  add x16, x16, x10
  add x17, x17, x11
  ret`, { 0x000: SKIP, 0x200: SKIP, 0x400: SKIP }));
    // SP_EL0 at EL1t; at EL0 CTR_EL0 and DAIF trap (SCTLR_EL1.UCT, UMA clear), the EL1 registers are UNDEFINED.
    expect(r.vm.vcpus[0].getX(26)).toBe(3n + 5n * 6n);
  });
});

// `add x0, x0, #2` and `mov x0, #7`, as data the programs store over code.
const ADD2 = 0x91000800;
const MOV7 = 0xd28000e0;

describe('invalidation: stale translations never run', () => {
  it('self-modifying code with DC CVAU / IC IVAU / ISB', () => {
    const r = agree(`
  adr x1, patch
  ldr w2, newinsn
  mov x9, #0
loop:
patch:
  add x0, x0, #1
  add x9, x9, #1
  cmp x9, #50
  b.ne skip
  str w2, [x1]
  dc cvau, x1
  ic ivau, x1
  isb
skip:
  cmp x9, #100
  b.ne loop
  b end
newinsn:
  .word 0x${ADD2.toString(16)}`);
    expect(r.vm.vcpus[0].getX(0)).toBe(150n);
    expect(r.vm.jit!.stats.regionsInvalidated).toBeGreaterThan(0);
  });

  it('a store alone (no IC maintenance) drops the translation of the page', () => {
    const r = agree(`
  adr x1, patch
  ldr w2, newinsn
  mov x9, #0
loop:
patch:
  add x0, x0, #1
  add x9, x9, #1
  cmp x9, #50
  b.ne skip
  str w2, [x1]
skip:
  cmp x9, #100
  b.ne loop
  b end
newinsn:
  .word 0x${ADD2.toString(16)}`);
    expect(r.vm.vcpus[0].getX(0)).toBe(150n);
    expect(r.vm.codePages.invalidations['guest-store']).toBeGreaterThan(0);
  });

  it('stores to data that shares a page with code leave its translations alone; a store to an instruction does not', () => {
    // A counter in the loop's own page, as a small program's .data after its .text.
    const source = `
  adr x1, counter
loop:
  ldr x3, [x1]
  add x3, x3, #1
  str x3, [x1]
  add x0, x0, #1
  cmp x0, #2000
  b.ne loop
  b end
  .balign 64
counter:
  .quad 0`;
    const r = agree(source);
    expect(r.vm.vcpus[0].getX(3)).toBe(2000n);
    expect(r.vm.codePages.invalidations['guest-store']).toBe(0);
    expect(r.vm.jit!.stats.regionsInvalidated).toBe(0);
    expect(r.vm.jit!.stats.instructionsCompiled).toBeGreaterThan(r.vm.jit!.stats.instructionsInterpreted);
    // The interpreter alone: the stores do not drop its decoded page either.
    const i = runOn(undefined, source);
    expect(i.vm.codePages.invalidations['guest-store']).toBe(0);
    // The same store aimed at an instruction that ran drops the page, in every tier.
    const hit = agree(source.replace('adr x1, counter', 'adr x1, loop'), { max: 20 });
    expect(hit.vm.codePages.invalidations['guest-store']).toBeGreaterThan(0);
    expect(runOn(undefined, source.replace('adr x1, counter', 'adr x1, loop'), { max: 20 }).vm.codePages.invalidations['guest-store']).toBeGreaterThan(0);
  });

  it('a store into the block that is running takes effect before the next instruction', () => {
    const r = agree(`
  adr x1, target
  ldr w2, newinsn
  mov x9, #3
loop:
  str w2, [x1]
  nop
target:
  mov x0, #1
  add x10, x10, x0
  subs x9, x9, #1
  b.ne loop
  b end
newinsn:
  .word 0x${MOV7.toString(16)}`);
    expect(r.vm.vcpus[0].getX(10)).toBe(21n);
  });

  it('host writes (image loading) drop translations of the pages written', () => {
    for (const jit of [FIRST, SECOND]) {
      const vm = machine(jit);
      const labels = load(vm, 'loop:\n  add x0, x0, #1\n  cmp x0, #100\n  b.ne loop');
      vm.run({ breakpoint: labels.get('end') });
      expect(vm.vcpus[0].getX(0)).toBe(100n);
      const again = load(vm, 'loop:\n  add x0, x0, #2\n  cmp x0, #100\n  b.ne loop');
      vm.run({ breakpoint: again.get('end') });
      expect(vm.vcpus[0].getX(0)).toBe(100n);
      expect(vm.vcpus[0].instructionsRetired).toBe(3 * 50);
      if (jit === FIRST) expect(vm.jit!.stats.regionsInvalidated).toBeGreaterThan(0);
    }
  });

  it('a reboot (stage-2 unmap) that reloads changed code at the same address runs the new code', () => {
    for (const jit of [FIRST, SECOND]) {
      const vm = machine(jit);
      let labels = load(vm, 'loop:\n  add x0, x0, #1\n  cmp x0, #60\n  b.ne loop');
      vm.run({ breakpoint: labels.get('end') });
      const before = vm.codePages.invalidations['stage2-unmap'];
      vm.memory.unmapAll();
      expect(vm.codePages.invalidations['stage2-unmap']).toBeGreaterThan(before);
      labels = load(vm, 'loop:\n  add x0, x0, #3\n  cmp x0, #60\n  b.ne loop');
      vm.run({ breakpoint: labels.get('end') });
      expect(vm.vcpus[0].getX(0)).toBe(60n);
      expect(vm.vcpus[0].instructionsRetired).toBe(3 * 20);
    }
  });

  it('stays bounded across 1000 reboots and when the region cap is reached', () => {
    const vm = machine({ binaryen, threshold: 1, maxRegions: 8 });
    let tableAfterFirst = 0;
    for (let i = 0; i < 1000; i++) {
      vm.memory.unmapAll();
      const labels = load(vm, `
  mov x9, #4
loop:
  bl f${i % 3}
  subs x9, x9, #1
  b.ne loop
  b end
f0:
  add x0, x0, #1
  ret
  .balign 4096
f1:
  add x0, x0, #2
  ret
  .balign 4096
f2:
  add x0, x0, #3
  ret`);
      vm.run({ breakpoint: labels.get('end') });
      expect(vm.vcpus[0].getX(0)).toBe(BigInt(4 * ((i % 3) + 1)));
      if (i === 0) tableAfterFirst = vm.jit!.tableLength;
    }
    expect(vm.jit!.stats.liveRegions).toBeLessThanOrEqual(8);
    expect(vm.jit!.tableLength).toBe(tableAfterFirst);
  });

  it('evicts when more regions are hot than the cap allows, and still agrees', () => {
    const pages = Array.from({ length: 12 }, (_, i) => `  .balign 4096\nf${i}:\n  add x0, x0, #${i + 1}\n  ret`).join('\n');
    const calls = Array.from({ length: 12 }, (_, i) => `  bl f${i}`).join('\n');
    const src = `
  mov x9, #20
loop:
${calls}
  subs x9, x9, #1
  b.ne loop
  b end
${pages}`;
    const ref = snapshot(runOn(undefined, src));
    const r = runOn({ binaryen, threshold: 1, maxRegions: 4 }, src);
    expect(snapshot(r)).toEqual(ref);
    expect(r.vm.jit!.stats.evictions).toBeGreaterThan(0);
    expect(r.vm.jit!.stats.liveRegions).toBeLessThanOrEqual(4 + 16);
  });
});

/** `n` loops of 300 iterations, each alone on its code page, so that each is one region. */
const loops = (n: number): string => Array.from({ length: n }, (_, k) => `
  mov x1, #300
l${k}:
  add x0, x0, #1
  subs x1, x1, #1
  b.ne l${k}
  b next${k}
  .balign 4096
next${k}:`).join('') + '\n  b end';

describe('hotness', () => {

  it('compiles the first 8 regions after 200 executions, later ones after the default 4000', () => {
    const regions = (jit: JitOptions): number => {
      const r = runOn(jit, loops(40));
      expect(r.vm.vcpus[0].getX(0)).toBe(40n * 300n);
      return r.vm.jit!.stats.regionsCompiled;
    };
    expect(regions({ binaryen })).toBe(8);
    // A threshold given is used throughout.
    expect(regions({ binaryen, threshold: 200 })).toBe(40);
    expect(regions({ binaryen, threshold: DEFAULT_THRESHOLD })).toBe(0);
  });
});

describe('compiling in the background worker', () => {
  // The worker answers whenever it is done; these runs go in short slices and
  // wait for its answers between them, so compiled code does take over.
  const WORKER: JitOptions = { threshold: 20, workerAfter: 0 };

  function runSliced(jit: JitOptions | undefined, source: string): Run {
    let serial = '';
    const vm = machine(jit, (s) => { serial += s; });
    const labels = load(vm, source);
    let exit: VmExit;
    do {
      exit = vm.run({ breakpoint: labels.get('end'), maxInstructions: 500 });
      vm.jit?.settle();
    } while (exit.reason === 'instruction-limit');
    return { vm, exit, serial, labels };
  }

  it('hands hot code to compiled code when the worker delivers it, with the same results', () => {
    const ref = snapshot(runSliced(undefined, HOT_LOOP));
    const r = runSliced(WORKER, HOT_LOOP);
    expect(snapshot(r)).toEqual(ref);
    const s = r.vm.jit!.stats;
    expect(s.backgroundCompile).toBe(true);
    expect(s.regionsCompiled).toBeGreaterThan(0);
    expect(s.instructionsCompiled).toBeGreaterThan(s.instructionsInterpreted);
    expect(s.regionsInFlight).toBe(0);
  });

  it('drops a region whose page was written while it compiled, and runs the new code', () => {
    const vm = machine(WORKER);
    load(vm, 'loop:\n  add x0, x0, #1\n  cmp x0, #3000\n  b.ne loop');
    vm.run({ maxInstructions: 300 });
    // Sent, and not taken in yet: replies are only read while running or settling.
    expect(vm.jit!.stats.regionsInFlight).toBe(1);
    const labels = load(vm, 'loop:\n  add x0, x0, #3\n  cmp x0, #3000\n  b.ne loop');
    expect(vm.jit!.stats.regionsInFlight).toBe(0);
    expect(vm.jit!.settle()).toBe(true);
    expect(vm.jit!.stats.regionsDiscarded).toBe(1);
    expect(vm.jit!.stats.regionsCompiled).toBe(0);
    let exit: VmExit;
    do {
      exit = vm.run({ breakpoint: labels.get('end'), maxInstructions: 300 });
      vm.jit!.settle();
    } while (exit.reason === 'instruction-limit');
    expect(vm.vcpus[0].getX(0)).toBe(3000n);
    expect(vm.vcpus[0].instructionsRetired).toBe(3 * 1000);
    expect(vm.jit!.stats.regionsCompiled).toBe(1);
    expect(vm.jit!.stats.instructionsCompiled).toBeGreaterThan(0);
  });

  it('blocks inside a region that is compiling do not become regions of their own', () => {
    const vm = machine(WORKER);
    load(vm, `
loop:
  add x0, x0, #1
  tbz x0, #0, even
  add x1, x1, #1
even:
  add x2, x2, #1
  cmp x0, #3000
  b.ne loop`);
    // Every block of the loop runs hundreds of times past the threshold before the reply is read.
    vm.run({ maxInstructions: 3_000 });
    expect(vm.jit!.settle()).toBe(true);
    expect(vm.jit!.stats.regionsCompiled).toBe(1);
    expect(vm.jit!.stats.blocksCompiled).toBe(4); // the loop's three and the one after it
  });

  it('compiles in a worker of its own when given one, with the same results', () => {
    const compiler = createBackgroundCompiler()!;
    try {
      const ref = snapshot(runSliced(undefined, HOT_LOOP));
      const r = runSliced({ ...WORKER, compiler }, HOT_LOOP);
      expect(snapshot(r)).toEqual(ref);
      expect(r.vm.jit!.stats.regionsCompiled).toBeGreaterThan(0);
    } finally {
      compiler.close();
    }
  });

  it('compiles on this thread until the guest has run a while, then in the worker once it answers (workerHandOff)', () => {
    const compiler = createBackgroundCompiler()!;
    try {
      const ref = snapshot(runSliced(undefined, loops(4)));
      const r = runSliced({ binaryen, threshold: 20, workerHandOff: { instructions: 700, regions: 1 }, compiler }, loops(4));
      expect(snapshot(r)).toEqual(ref);
      const s = r.vm.jit!.stats;
      expect(s.regionsCompiled).toBe(4);
      // The first loop's region compiled here, before the worker was asked; later ones there.
      expect(s.workerCompileMs).toBeGreaterThan(0);
      expect(s.workerCompileMs).toBeLessThan(s.compileMs);
    } finally {
      compiler.close();
    }
    // A worker that is not there is never waited for: everything compiles here.
    const closed = createBackgroundCompiler()!;
    closed.close();
    const r = runSliced({ binaryen, threshold: 20, workerHandOff: { instructions: 700, regions: 1 }, compiler: closed }, loops(4));
    expect(r.vm.jit!.stats.regionsCompiled).toBe(4);
    expect(r.vm.jit!.stats.workerCompileMs).toBe(0);
  });

  it('waits for the guest to run a while before loading Binaryen at all', () => {
    const vm = machine({ threshold: 20 });
    load(vm, 'loop:\n  add x0, x0, #1\n  cmp x0, #3000\n  b.ne loop');
    vm.run({ maxInstructions: 9_000 });
    expect(vm.vcpus[0].getX(0)).toBe(3000n);
    const s = vm.jit!.stats;
    expect(s.regionsInFlight).toBe(0);
    expect(s.instructionsCompiled).toBe(0);
  });
});

describe('a Machine that gets the JIT mid-run (as the command line does under --jit=auto)', () => {
  // movz x1, #0x10, lsl #16; loop: subs x1, x1, #1; b.ne loop; then PSCI SYSTEM_OFF: 2 097 156 instructions.
  const countdown = new Uint8Array(new Uint32Array([0xd2a00201, 0xf1000421, 0x54ffffe1, 0xd2800100, 0xf2b08000, 0xd4000002]).buffer);

  it('stops after the instructions asked for, then finishes in compiled code as the interpreter does', async () => {
    const { Machine } = await import('../../src/machine.js');
    const m = new Machine({ kernel: countdown, jit: 'off' });
    const first = m.runToCompletion({ maxInstructions: 50_000 });
    expect(first.reason).toBe('instruction-limit');
    expect(m.vm.instructionsRetired).toBeGreaterThanOrEqual(50_000);
    expect(m.vm.instructionsRetired).toBeLessThan(50_000 + 1_000);
    expect(m.stats().jit).toBeUndefined();
    m.enableJit({ background: true });
    const exit = m.runToCompletion();
    expect(exit.reason).toBe('system-event');
    const jit = m.stats().jit!;
    expect(jit.regionsCompiled).toBeGreaterThan(0);
    expect(jit.instructionsCompiled).toBeGreaterThan(1_000_000);

    const interpreted = new Machine({ kernel: countdown, jit: 'off' });
    expect(interpreted.runToCompletion()).toEqual(exit);
    expect(m.stats().instructions).toEqual(interpreted.stats().instructions);
    expect(m.stats().instructions).toEqual([2_097_156]);
  });
});
