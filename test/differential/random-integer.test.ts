// The random differential test: thousands of random integer instructions run
// by warmboot and by qemu-aarch64, comparing every general register, NZCV, SP
// and a scratch buffer after each program. See harness.ts for how the two
// worlds run the same bytes at the same addresses, generator.ts for what is
// generated.
//
// Environment:
//   WARMBOOT_DIFF_SEED=<n>       run with this seed (printed on failure) instead of a random one
//   WARMBOOT_DIFF_PROGRAMS=<n>   number of programs (default 1000)
//   WARMBOOT_DIFF_LENGTH=<n>     units (tested instructions) per program (default 30)
//   WARMBOOT_DIFF_ONLY=<i>       run only program i of the seed
//   WARMBOOT_DIFF_REPORT=<n>     minimise and print up to n failing programs (default 3)
//   WARMBOOT_DIFF_MMU_PROGRAMS=<n>  programs for the run with warmboot's MMU on (default 500)
//   WARMBOOT_DIFF_JIT_PROGRAMS=<n>  programs for each JIT run (every block translated; MMU off, then on; default 300)
// WARMBOOT_JIT (test/jit/jit-mode.ts) selects warmboot's tier for the main run.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBinaryen } from '../../jit/binaryen.js';
import { generateProgram, ProgramGenerator, type TestProgram } from './generator.js';
import { Rng } from './rng.js';
import { DifferentialHarness, requireTools } from './harness.js';

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not '${v}'`);
  return n;
}

const SEED = envInt('WARMBOOT_DIFF_SEED', randomInt(0, 0x100000000)) >>> 0;
const PROGRAMS = envInt('WARMBOOT_DIFF_PROGRAMS', 1000);
const LENGTH = envInt('WARMBOOT_DIFF_LENGTH', 30);
const MMU_PROGRAMS = envInt('WARMBOOT_DIFF_MMU_PROGRAMS', 500);
const JIT_PROGRAMS = envInt('WARMBOOT_DIFF_JIT_PROGRAMS', 300);
const ONLY = process.env.WARMBOOT_DIFF_ONLY ? envInt('WARMBOOT_DIFF_ONLY', 0) : undefined;
/** How many failing programs to minimise and print (each costs up to LENGTH QEMU runs). */
const REPORTED = envInt('WARMBOOT_DIFF_REPORT', 3);
/** Programs per QEMU invocation. */
const BATCH = 2000;

describe('random integer programs: warmboot vs qemu-aarch64', () => {
  let harness: DifferentialHarness;

  beforeAll(() => {
    requireTools();
    harness = new DifferentialHarness();
  });

  afterAll(() => harness?.dispose());

  it('runs the harness prologue and epilogue identically (empty programs)', () => {
    const programs = [0, 1, 2].map((i) => ({ ...generateProgram(SEED, i, 0), units: [] }));
    const res = harness.runBatch(programs);
    expect(res.outcomes).toEqual(programs.map(() => ({ kind: 'ok' })));
  });

  it('notices a difference and minimises it (warmboot as a cortex-a57, without LSE)', () => {
    const gen = new ProgramGenerator(new Rng(SEED, 0));
    const init = gen.program(0).init;
    const plain = (['addsubShifted', 'ldstPair', 'dp3', 'csel', 'ldstImm9', 'bitfield'] as const).map((k) => gen.unit(k));
    const cas = gen.unit('cas');
    const program = { init, units: [...plain.slice(0, 3), cas, ...plain.slice(3)] };
    const a57 = new DifferentialHarness({ cpu: 'cortex-a57' });
    try {
      const min = a57.minimise(program);
      expect(min.program.units).toEqual([cas]);
      expect(min.outcome.kind).toBe('mismatch');
      const diffs = min.outcome.kind === 'mismatch' ? min.outcome.diffs : [];
      expect(diffs.some((d) => d.startsWith('UNDEFINED count: 0x0000000000000000 vs 0x0000000000000001'))).toBe(true);
    } finally {
      a57.dispose();
    }
  });

  it(`agrees on ${ONLY !== undefined ? `program ${ONLY}` : `${PROGRAMS} programs`} of ${LENGTH} instructions (seed ${SEED})`, () => {
    agree(harness, 'warmboot', ONLY !== undefined ? [ONLY] : range(PROGRAMS));
  });

  it(`agrees with warmboot's MMU on, on ${MMU_PROGRAMS} programs (seed ${SEED})`, () => {
    const mmu = new DifferentialHarness({ mmu: true });
    try {
      agree(mmu, 'warmboot (MMU on)', ONLY !== undefined ? [ONLY] : range(MMU_PROGRAMS));
    } finally {
      mmu.dispose();
    }
  });

  // Each case runs once, so under the default hotness threshold little of it
  // is translated: here every block is compiled at its first execution. (The
  // log says how much ran translated: code under the MMU is not translated yet.)
  it(`agrees with the JIT translating everything, MMU off and on, on ${JIT_PROGRAMS} programs each (seed ${SEED})`, async () => {
    const binaryen = await loadBinaryen();
    for (const mmu of [false, true]) {
      const jit = new DifferentialHarness({ jit: { binaryen, threshold: 1 }, mmu });
      try {
        agree(jit, `warmboot (JIT, MMU ${mmu ? 'on' : 'off'})`, ONLY !== undefined ? [ONLY] : range(JIT_PROGRAMS));
      } finally {
        jit.dispose();
      }
    }
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Runs programs `indices` of the seed; on any disagreement, minimises a few and throws a report. */
function agree(harness: DifferentialHarness, engine: string, indices: readonly number[]): void {
  const programs: TestProgram[] = indices.map((i) => generateProgram(SEED, i, LENGTH));
  const t0 = performance.now();
  const failing: { index: number; program: TestProgram }[] = [];
  const byKind = new Map<string, number>();
  for (let b = 0; b < programs.length; b += BATCH) {
    const batch = programs.slice(b, b + BATCH);
    const res = harness.runBatch(batch);
    res.outcomes.forEach((o, i) => {
      if (o.kind === 'ok') return;
      failing.push({ index: indices[b + i], program: batch[i] });
      byKind.set(o.kind, (byKind.get(o.kind) ?? 0) + 1);
    });
  }
  const elapsed = performance.now() - t0;
  const instructions = programs.reduce((n, p) => n + p.units.length, 0);
  console.log(`differential (${engine}): seed ${SEED}: ${programs.length} programs, ${instructions} random instructions in ` +
    `${elapsed.toFixed(0)} ms (qemu ${harness.qemuMs.toFixed(0)} ms, warmboot ${harness.warmbootMs.toFixed(0)} ms, ` +
    `${harness.warmbootInstructions} instructions retired, ${harness.jitInstructions} of them translated)`);
  if (failing.length === 0) return;

  const reports = failing.slice(0, REPORTED).map(({ index, program }) => {
    const min = harness.minimise(program);
    return `program ${index} (reproduce alone with WARMBOOT_DIFF_SEED=${SEED} WARMBOOT_DIFF_ONLY=${index}), ` +
      `minimised from ${program.units.length} units to ${min.program.units.length}:\n` +
      harness.describe(min.program, min.layout, min.outcome);
  });
  const kinds = [...byKind].map(([k, n]) => `${n} ${k}`).join(', ');
  throw new Error(`${engine} and QEMU disagree on ${failing.length} of ${programs.length} programs (${kinds}); ` +
    `seed ${SEED} (reproduce with WARMBOOT_DIFF_SEED=${SEED}).\n` +
    `failing programs: ${failing.map((f) => f.index).join(' ')}\n\n${reports.join('\n\n')}`);
}
