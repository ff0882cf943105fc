// Random programs (the differential test's generator: every integer class,
// branches, loads and stores of every form, exclusives and atomics, random
// encodings that are UNDEFINED, accesses mutated to fault) run by the
// interpreter and by the JIT; every register, NZCV, SP, the exception
// registers, the instruction count and the scratch memory must agree. The
// interpreter is the reference here, so no oracle tool is needed.
//
//   WARMBOOT_FUZZ_SEED=<n>      the seed (printed on failure)
//   WARMBOOT_FUZZ_PROGRAMS=<n>  programs (default 240)
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadBinaryen } from '../../jit/binaryen.js';
import type { JitOptions } from '../../jit/engine.js';
import { VirtualMachine } from '../../runtime/virtual-machine.js';
import { findCpuModel } from '../../src/cpu/cpu-models.js';
import { generateProgram } from '../differential/generator.js';
import { buildImage, CODE_BASE, DATA_BASE, REPORT_BYTES } from '../differential/harness.js';

const binaryen = await loadBinaryen();
const SEED = Number(process.env.WARMBOOT_FUZZ_SEED ?? randomInt(0, 0x7fffffff));
const PROGRAMS = Number(process.env.WARMBOOT_FUZZ_PROGRAMS ?? 240);
const PER_IMAGE = 40;
const LENGTH = 30;

type Image = ReturnType<typeof buildImage>;

/** Runs every case of `image` twice on one machine (so blocks get hot), returning one state string per case. */
function runImage(image: Image, jit: JitOptions | undefined, counts?: { compiled: number }): string[] {
  const vm = new VirtualMachine({ ramBase: 0x40000000, ramSize: 64 * 1024 * 1024, cpus: 1, cpuModel: findCpuModel('max')!, jit });
  vm.writePhysical(CODE_BASE, image.code);
  vm.writePhysical(DATA_BASE, image.data);
  const cpu = vm.vcpus[0];
  const states = image.cases.map((layout) => {
    const states: string[] = [];
    for (let round = 0; round < 2; round++) {
      cpu.reset(BigInt(layout.entry));
      cpu.setSysreg('VBAR_EL1', BigInt(CODE_BASE));
      const exit = vm.run({ breakpoint: BigInt(layout.report), maxInstructions: 20_000 });
      const regs = Array.from({ length: 31 }, (_, i) => cpu.getX(i).toString(16)).join(' ');
      const sys = (['ELR_EL1', 'ESR_EL1', 'FAR_EL1', 'SPSR_EL1'] as const).map((n) => cpu.sysreg(n).toString(16)).join(' ');
      const mem = Buffer.from(vm.readPhysical(layout.region, REPORT_BYTES)).toString('hex');
      states.push(`${exit.reason} pc=${cpu.pc.toString(16)} nzcv=${cpu.nzcv.toString(16)} sp=${cpu.sp.toString(16)} ` +
        `n=${cpu.instructionsRetired}\n${regs}\n${sys}\n${mem}`);
    }
    return states.join('\n--\n');
  });
  if (counts && vm.jit) counts.compiled += vm.jit.stats.instructionsCompiled;
  return states;
}

describe('random programs: JIT vs interpreter', () => {
  it(`agree on ${PROGRAMS} programs of ${LENGTH} instructions (seed ${SEED})`, () => {
    const counts = { compiled: 0 };
    for (let first = 0; first < PROGRAMS; first += PER_IMAGE) {
      const programs = Array.from({ length: Math.min(PER_IMAGE, PROGRAMS - first) }, (_, i) => generateProgram(SEED, first + i, LENGTH));
      const image = buildImage(programs);
      const ref = runImage(image, undefined);
      // Alternate thresholds: everything compiled at once, or code moving between the tiers.
      const threshold = (first / PER_IMAGE) % 2 === 0 ? 1 : 2;
      const got = runImage(image, { binaryen, threshold }, counts);
      got.forEach((state, i) => {
        if (state === ref[i]) return;
        const words = image.cases[i].bodyWords.map((w) => w.toString(16).padStart(8, '0')).join(' ');
        expect(state, `seed ${SEED}, program ${first + i} (threshold ${threshold}), body ${words}`).toBe(ref[i]);
      });
    }
    // Most of each case (set-up, body, dump) runs translated.
    expect(counts.compiled).toBeGreaterThan(PROGRAMS * 60);
  });
});
