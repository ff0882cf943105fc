// warmboot's benchmarks: tinybench micro-benchmarks of the decoder and the
// interpreter's dispatch, guest MIPS on a few CPU-bound loops, and whole
// guests timed against qemu-system-aarch64 (TCG) in the same run.
// Run with `npm run bench`. Figures go to stdout and bench/out/latest.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { decode } from '../src/a64/decoder.js';
import { findCpuModel } from '../src/cpu/cpu-models.js';
import { VirtualMachine } from '../runtime/virtual-machine.js';
import { binaryenLoadMs, loadBinaryen } from '../jit/binaryen.js';
import type { JitOptions } from '../jit/engine.js';
import { buildImage, CODE_BASE, DATA_BASE } from '../test/differential/harness.js';
import { generateProgram } from '../test/differential/generator.js';
import { assembleProgram } from '../test/asm/a64-assembler.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ALL_FEATURES = findCpuModel('max')!.features;

interface GuestLoop {
  name: string;
  source: string;
}

// Each loop runs forever; the benchmark stops it after a fixed instruction count.
const LOOPS: GuestLoop[] = [
  {
    name: 'alu (add/eor/ror/madd/csel)',
    source: `
      mov x0, #1
      mov x1, #0x9e37
      movk x1, #0x79b9, lsl #16
    1:
      add x2, x0, x1
      eor x0, x2, x0, ror #13
      madd x3, x0, x1, x2
      cmp x3, x0
      csel x0, x3, x0, hi
      add x4, x4, #1
      b 1b`,
  },
  {
    name: 'memcpy (ldp/stp, 64 KiB)',
    source: `
      mov x9, #0x40100000
      mov x10, #0x40200000
    2:
      mov x0, x9
      mov x1, x10
      mov x2, #4096
    1:
      ldp x3, x4, [x0], #16
      stp x3, x4, [x1], #16
      subs x2, x2, #1
      b.ne 1b
      b 2b`,
  },
  {
    name: 'byte loop (ldrb/crc32b/cbnz)',
    source: `
      mov x9, #0x40100000
    2:
      mov x0, x9
      mov x2, #65536
      mov w3, #-1
    1:
      ldrb w4, [x0], #1
      crc32b w3, w3, w4
      sub x2, x2, #1
      cbnz x2, 1b
      b 2b`,
  },
  {
    name: 'calls (bl/ret/stp/ldp)',
    source: `
    1:
      mov x0, #10
      bl f
      b 1b
    f:
      stp x29, x30, [sp, #-16]!
      mov x29, sp
      add x0, x0, #1
      ldp x29, x30, [sp], #16
      ret`,
  },
];

function loopMachine(loop: GuestLoop, jit?: JitOptions): VirtualMachine {
  const program = assembleProgram(loop.source, 0x40000000n);
  const vm = new VirtualMachine({ ramBase: 0x40000000, ramSize: 64 * 1024 * 1024, cpus: 1, cpuModel: findCpuModel('max')!, jit });
  vm.writePhysical(0x40000000, program.bytes);
  vm.vcpus[0].reset(0x40000000n);
  vm.vcpus[0].sp = 0x43f00000n;
  return vm;
}

function measureMips(loop: GuestLoop, instructions: number, jit?: JitOptions): number {
  const vm = loopMachine(loop, jit);
  vm.run({ maxInstructions: 2_000_000 }); // warm up: decode and let V8 optimise
  const before = vm.instructionsRetired;
  const t0 = performance.now();
  vm.run({ maxInstructions: instructions });
  const ms = performance.now() - t0;
  return (vm.instructionsRetired - before) / ms / 1000;
}

async function microBenchmarks(): Promise<Record<string, number>> {
  const words = new Uint32Array(4096);
  let seed = 12345;
  for (let i = 0; i < words.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    words[i] = seed >>> 0;
  }
  const bench = new Bench({ time: 500 });
  let i = 0;
  bench.add('decode one random word', () => {
    decode(words[i++ & 4095], ALL_FEATURES);
  });
  const vm = loopMachine(LOOPS[0]);
  bench.add('interpreter: 10k instructions of the alu loop', () => {
    vm.run({ maxInstructions: 10_000 });
  });
  const binaryen = await loadBinaryen();
  const jvm = loopMachine(LOOPS[0], { binaryen, threshold: 1 });
  jvm.run({ maxInstructions: 100_000 });
  bench.add('JIT: 10k instructions of the alu loop (compiled)', () => {
    jvm.run({ maxInstructions: 10_000 });
  });
  const cvm = loopMachine(LOOPS[3], { binaryen, threshold: 1 });
  cvm.run({ maxInstructions: 100_000 });
  bench.add('JIT: 10k instructions of the calls loop (a dispatch per BL and RET)', () => {
    cvm.run({ maxInstructions: 10_000 });
  });
  await bench.run();
  const out: Record<string, number> = {};
  for (const task of bench.tasks) {
    const r = task.result as { latency?: { mean?: number } } | undefined;
    const mean = r?.latency?.mean ?? NaN;
    out[task.name] = mean;
    console.log(`  ${task.name}: ${(mean * 1000).toFixed(1)} us per call`);
  }
  return out;
}

/**
 * Compile cost: random programs (the differential generator's, 30 random
 * instructions plus set-up and dump each) translated at first execution,
 * after a warm-up that lets V8 compile Binaryen's own code.
 */
async function compileCost(): Promise<{ usPerInstruction: number; cpuUsPerInstruction: number; binaryenLoadMs: number }> {
  const binaryen = await loadBinaryen();
  const run = (seed: number): { ms: number; cpuMs: number; insns: number } => {
    const image = buildImage(Array.from({ length: 40 }, (_, i) => generateProgram(seed, i, 30)));
    const vm = new VirtualMachine({ ramBase: 0x40000000, ramSize: 64 * 1024 * 1024, cpus: 1, cpuModel: findCpuModel('max')!, jit: { binaryen, threshold: 1 } });
    vm.writePhysical(CODE_BASE, image.code);
    vm.writePhysical(DATA_BASE, image.data);
    const c0 = process.cpuUsage();
    for (const layout of image.cases) {
      vm.vcpus[0].reset(BigInt(layout.entry));
      vm.vcpus[0].setSysreg('VBAR_EL1', BigInt(CODE_BASE));
      vm.run({ breakpoint: BigInt(layout.report), maxInstructions: 20_000 });
    }
    const c1 = process.cpuUsage(c0);
    const s = vm.jit!.stats;
    return { ms: s.compileMs, cpuMs: (c1.user + c1.system) / 1000, insns: s.guestInstructionsTranslated };
  };
  run(1);
  let ms = 0, cpuMs = 0, insns = 0;
  for (let seed = 2; seed < 6; seed++) {
    const r = run(seed);
    ms += r.ms;
    cpuMs += r.cpuMs;
    insns += r.insns;
  }
  return { usPerInstruction: (ms * 1000) / insns, cpuUsPerInstruction: (cpuMs * 1000) / insns, binaryenLoadMs };
}

function timeCommand(cmd: string, args: string[]): { ms: number; ok: boolean; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'latin1', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ms: performance.now() - t0, ok: r.status === 0, stdout: r.stdout ?? '' };
}

/** bench/guests/cpubench.c, built like test/guests (same runtime and flags); undefined without the toolchain. */
function buildCpubench(): string | undefined {
  const common = resolve(root, 'test/guests/common');
  const out = resolve(root, 'bench/out/cpubench.elf');
  mkdirSync(resolve(root, 'bench/out'), { recursive: true });
  try {
    execFileSync('aarch64-linux-gnu-gcc', [
      ...'-O2 -std=gnu11 -Wall -Wextra -Werror -ffreestanding -nostdlib -mgeneral-regs-only -mstrict-align -mno-outline-atomics -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-tree-loop-distribute-patterns -ffunction-sections -fdata-sections -march=armv8-a -nostartfiles -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,--gc-sections -Wl,--no-warn-rwx-segments'.split(' '),
      '-I', common, '-T', resolve(common, 'link.ld'), '-o', out,
      resolve(root, 'bench/guests/cpubench.c'), resolve(common, 'start.S'), resolve(common, 'vectors.S'), resolve(common, 'runtime.c'),
    ], { stdio: 'ignore' });
    return out;
  } catch {
    console.log('  (cpubench skipped: aarch64-linux-gnu-gcc failed)');
    return undefined;
  }
}

function wholeGuests(): { name: string; warmbootMs: number; qemuMs: number; ratio: number }[] {
  const build = resolve(root, 'test/guests/build.sh');
  try {
    execFileSync('bash', [build], { stdio: 'ignore' });
  } catch {
    console.log('  (skipped: test/guests/build.sh failed; install gcc-aarch64-linux-gnu)');
    return [];
  }
  const qemu = spawnSync('qemu-system-aarch64', ['--version']).status === 0;
  if (!qemu) {
    console.log('  (skipped: qemu-system-aarch64 not found; install qemu-system-arm)');
    return [];
  }
  const cli = resolve(root, 'dist/src/cli.js');
  const results = [];
  const cpubench = buildCpubench();
  const guests: [string, string, string][] = [
    ['intcheck', resolve(root, 'test/guests/build/intcheck.elf'), 'cortex-a76'],
    ...(cpubench ? [['cpubench', cpubench, 'cortex-a57'] as [string, string, string]] : []),
  ];
  const TIERS: [string, string[]][] = [['interpreter (--jit=off)', ['--jit=off']], ['JIT (--jit=on)', ['--jit=on']], ['default (--jit=auto)', []]];
  for (const [guest, kernel, cpu] of guests) {
    if (!existsSync(kernel)) continue;
    const args = ['-M', 'virt', '-cpu', cpu, '-m', '128M', '-nographic', '-kernel', kernel];
    const runs = 3;
    let qm = Infinity;
    const best: Record<string, number> = {};
    for (let k = 0; k < runs; k++) {
      const b = timeCommand('qemu-system-aarch64', args);
      qm = Math.min(qm, b.ms);
      for (const [tier, extra] of TIERS) {
        const a = timeCommand(process.execPath, [cli, ...args, ...extra]);
        if (!a.ok || !b.ok || a.stdout !== b.stdout) throw new Error(`${guest}: warmboot (${tier}) and QEMU disagree or failed`);
        best[tier] = Math.min(best[tier] ?? Infinity, a.ms);
      }
    }
    for (const [tier, wb] of Object.entries(best)) {
      results.push({ name: `${guest}, ${tier}`, warmbootMs: wb, qemuMs: qm, ratio: wb / qm });
      console.log(`  ${guest}, ${tier}: warmboot ${wb.toFixed(0)} ms, qemu-system-aarch64 ${qm.toFixed(0)} ms, ratio ${(wb / qm).toFixed(2)} (best of ${runs}, whole process)`);
    }
  }
  return results;
}

async function main(): Promise<void> {
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, Node ${process.version}`;
  console.log(`warmboot benchmarks on ${machine}\n`);
  console.log('Micro-benchmarks (tinybench):');
  const micro = await microBenchmarks();
  console.log('\nGuest MIPS per tier (interpreter: 20M instructions, JIT: 200M, after a warm-up):');
  const mips: Record<string, number> = {};
  const binaryen = await loadBinaryen();
  for (const loop of LOOPS) {
    const interp = measureMips(loop, 20_000_000);
    const jit = measureMips(loop, 200_000_000, { binaryen });
    mips[loop.name] = interp;
    mips[`${loop.name}, JIT`] = jit;
    console.log(`  ${loop.name}: interpreter ${interp.toFixed(1)} MIPS, JIT ${jit.toFixed(0)} MIPS (${(jit / interp).toFixed(1)}x)`);
  }
  console.log('\nJIT compile cost (random programs translated at first execution):');
  const compile = await compileCost();
  console.log(`  ${compile.usPerInstruction.toFixed(1)} us per guest instruction translated (wall; ${compile.cpuUsPerInstruction.toFixed(1)} us CPU for the whole run per instruction); Binaryen load ${compile.binaryenLoadMs.toFixed(0)} ms`);
  console.log('\nWhole guests against QEMU TCG (same machine, same run):');
  const guests = wholeGuests();
  mkdirSync(resolve(root, 'bench/out'), { recursive: true });
  writeFileSync(resolve(root, 'bench/out/latest.json'), JSON.stringify({ machine, date: new Date().toISOString(), micro, mips, compile, guests }, null, 2));
}

await main();
