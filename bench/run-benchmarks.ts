// warmboot's benchmarks: tinybench micro-benchmarks of the decoder and the
// interpreter's dispatch, guest MIPS on a few CPU-bound loops, and whole
// guests and real guests' boots (U-Boot; Linux when WARMBOOT_LINUX_IMAGE
// names a kernel) timed against qemu-system-aarch64 (TCG) in the same run.
// Run with `npm run bench`, or `node dist/bench/run-benchmarks.js --only=boot`
// (any of micro, mips, compile, guests, uboot, linux, boot). Figures go to
// stdout and bench/out/latest.json.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
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

/** The `warmboot` command as npm installs it (the launcher sets up node's environment). */
const WARMBOOT = resolve(root, 'src/warmboot-launcher.sh');

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
    // Best of 5: on a shared 2-core machine single runs of these short guests swing by 10-15%.
    const runs = 5;
    let qm = Infinity;
    const best: Record<string, number> = {};
    for (let k = 0; k < runs; k++) {
      const b = timeCommand('qemu-system-aarch64', args);
      qm = Math.min(qm, b.ms);
      for (const [tier, extra] of TIERS) {
        const a = timeCommand(WARMBOOT, [...args, ...extra]);
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

/** What a warmboot run's --stats says about where its time went. */
interface RunStats {
  instructions: number;
  interpreted: number;
  compiled: number;
  /** From the machine's creation to its exit, so without Node's start-up and the CLI's set-up. */
  inProcessMs: number;
  compileMs?: number;
  /** The part of compileMs spent in the JIT's worker, beside the guest rather than in its way. */
  workerCompileMs?: number;
  guestInstructionsTranslated?: number;
  binaryenLoadMs?: number;
  compiledCodeMs?: number;
}

/**
 * Reads the --stats lines src/cli.ts prints. Fields it cannot find stay out
 * rather than failing the benchmark: the format is meant for people and may
 * change under us.
 */
function parseStats(stderr: string): RunStats | undefined {
  const head = /warmboot stats: (\d+) guest instructions in (\d+) ms/.exec(stderr);
  if (!head) return undefined;
  const instructions = Number(head[1]);
  const tiers = /jit: (\d+) instructions in compiled code, (\d+) interpreted/.exec(stderr);
  // No JIT lines means --jit=off: the interpreter ran everything.
  const stats: RunStats = {
    instructions,
    interpreted: tiers ? Number(tiers[2]) : instructions,
    compiled: tiers ? Number(tiers[1]) : 0,
    inProcessMs: Number(head[2]),
  };
  const translated = /jit: \d+ regions, \d+ blocks, (\d+) guest instructions/.exec(stderr);
  if (translated) stats.guestInstructionsTranslated = Number(translated[1]);
  const compile = /compile (\d+) ms \([^)]*\)(?:, (\d+) ms of it in the compile worker)?/.exec(stderr);
  if (compile) {
    stats.compileMs = Number(compile[1]);
    if (compile[2] !== undefined) stats.workerCompileMs = Number(compile[2]);
  }
  const load = /Binaryen load (\d+) ms/.exec(stderr);
  if (load) stats.binaryenLoadMs = Number(load[1]);
  const inCode = /time in compiled code (\d+) ms/.exec(stderr);
  if (inCode) stats.compiledCodeMs = Number(inCode[1]);
  return stats;
}

function describeStats(s: RunStats): string {
  const pct = (n: number): string => `${((100 * n) / Math.max(1, s.instructions)).toFixed(0)}%`;
  const parts = [`${(s.instructions / 1e6).toFixed(0)} M instructions, ${pct(s.interpreted)} interpreted`];
  if (s.compileMs !== undefined) {
    parts.push(`compile ${s.compileMs} ms${s.workerCompileMs !== undefined ? ` (${s.workerCompileMs} in the worker)` : ''} for ${((s.guestInstructionsTranslated ?? 0) / 1000).toFixed(0)} k instructions`);
  }
  if (s.binaryenLoadMs !== undefined) parts.push(`Binaryen load ${s.binaryenLoadMs} ms`);
  if (s.compiledCodeMs !== undefined) parts.push(`in compiled code ${s.compiledCodeMs} ms`);
  parts.push(`machine run ${s.inProcessMs} ms`);
  return parts.join(', ');
}

/** A console exchange: once `when` has appeared (after the previous one's), type `send`. */
interface Exchange {
  when: string;
  send: string;
}

interface Session {
  ms: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its exit, answering its console as `script` says, and
 * times the whole process. The reply goes out from the 'data' handler, so
 * what the measurement adds is the pipe's latency, the same for both
 * emulators.
 */
function session(cmd: string, args: string[], script: Exchange[], timeoutMs: number): Promise<Session> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let step = 0;
    let from = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('latin1');
    child.stdout.on('data', (d: string) => {
      stdout += d;
      while (step < script.length) {
        const at = stdout.indexOf(script[step].when, from);
        if (at < 0) break;
        from = at + script[step].when.length;
        child.stdin.write(script[step].send);
        step++;
      }
    });
    child.stderr.on('data', (d: string) => { stderr += d; });
    // A guest that exits before reading its input closes the pipe under us.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => { clearTimeout(timer); fail(e); });
    child.on('close', (status) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      done({ ms, status, stdout, stderr });
    });
  });
}

interface BootResult {
  name: string;
  warmbootMs: number;
  qemuMs: number;
  ratio: number;
  runs: number;
  qemuRuns: number;
  /** --stats of the run whose time is reported. */
  stats?: RunStats;
}

interface BootSpec {
  guest: string;
  args: string[];
  script: Exchange[];
  /** What every run's console must show, so that a run that went wrong fast cannot pass as a fast boot. */
  expect: RegExp;
  qemuRuns: number;
  /** Repetitions per warmboot tier, by its flag. */
  tierRuns: Record<string, number>;
  timeoutMs: number;
}

const BOOT_TIERS: [string, string][] = [['interpreter', '--jit=off'], ['JIT', '--jit=on'], ['default', '--jit=auto']];

/**
 * Best of N whole-process boots per emulator. Runs are interleaved (QEMU,
 * then each tier, then again) so that load from other work on a shared
 * machine falls on all of them rather than on whichever ran during it.
 */
async function timeBoot(spec: BootSpec): Promise<BootResult[]> {
  const check = (who: string, s: Session): void => {
    if (s.status !== 0 || !spec.expect.test(s.stdout)) {
      throw new Error(`${spec.guest} under ${who}: status ${s.status}, ${spec.expect} ${spec.expect.test(s.stdout) ? 'seen' : 'not seen'}\n` +
        `--- console tail ---\n${s.stdout.slice(-1500)}\n--- stderr ---\n${s.stderr.slice(-1500)}`);
    }
  };
  let qemuMs = Infinity;
  const best: Record<string, { ms: number; stats?: RunStats }> = {};
  const rounds = Math.max(spec.qemuRuns, ...Object.values(spec.tierRuns));
  for (let k = 0; k < rounds; k++) {
    if (k < spec.qemuRuns) {
      const q = await session('qemu-system-aarch64', spec.args, spec.script, spec.timeoutMs);
      check('qemu-system-aarch64', q);
      qemuMs = Math.min(qemuMs, q.ms);
    }
    for (const [, flag] of BOOT_TIERS) {
      if (k >= (spec.tierRuns[flag] ?? 0)) continue;
      const w = await session(WARMBOOT, [...spec.args, flag, '--stats'], spec.script, spec.timeoutMs);
      check(`warmboot ${flag}`, w);
      if (w.ms < (best[flag]?.ms ?? Infinity)) best[flag] = { ms: w.ms, stats: parseStats(w.stderr) };
    }
  }
  const results: BootResult[] = [];
  for (const [tier, flag] of BOOT_TIERS) {
    const b = best[flag];
    if (!b) continue;
    const runs = spec.tierRuns[flag];
    const r: BootResult = { name: `${spec.guest}, ${tier} (${flag})`, warmbootMs: b.ms, qemuMs, ratio: b.ms / qemuMs, runs, qemuRuns: spec.qemuRuns, stats: b.stats };
    results.push(r);
    console.log(`  ${r.name}: warmboot ${b.ms.toFixed(0)} ms${runs > 1 ? ` (best of ${runs})` : ' (1 run)'}, ` +
      `qemu-system-aarch64 ${qemuMs.toFixed(0)} ms (best of ${spec.qemuRuns}), ratio ${r.ratio.toFixed(1)}`);
    if (b.stats) console.log(`    ${describeStats(b.stats)}`);
    else console.log('    (no --stats output found on stderr)');
  }
  return results;
}

function qemuPresent(): boolean {
  if (spawnSync('qemu-system-aarch64', ['--version']).status === 0) return true;
  console.log('  (skipped: qemu-system-aarch64 not found; install qemu-system-arm)');
  return false;
}

const UBOOT = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';

/**
 * U-Boot from flash to its prompt and off again, driven on its console as
 * test/uboot does: stop the autoboot countdown, then type poweroff. The
 * countdown is stopped as soon as it is printed, so its seconds of waiting
 * are not in the figure.
 */
async function ubootBoot(): Promise<BootResult[]> {
  if (!existsSync(UBOOT)) {
    console.log(`  (skipped: ${UBOOT} missing; apt-get install u-boot-qemu, as .ci/run does)`);
    return [];
  }
  if (!qemuPresent()) return [];
  return timeBoot({
    guest: 'U-Boot to poweroff',
    args: ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '128M', '-nographic', '-bios', UBOOT, '-no-reboot'],
    script: [{ when: 'Hit any key to stop autoboot', send: '\n' }, { when: '=> ', send: 'poweroff\n' }],
    expect: /U-Boot 20\d\d\.\d\d[\s\S]*=> /,
    qemuRuns: 3,
    tierRuns: { '--jit=off': 3, '--jit=on': 3, '--jit=auto': 3 },
    timeoutMs: 120_000,
  });
}

/** The arm64 Image header's magic, "ARMd" at offset 0x38: a compressed vmlinuz would not boot with -kernel on either emulator. */
function isArm64Image(path: string): boolean {
  const magic = Buffer.alloc(4);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return readSync(fd, magic, 0, 4, 0x38) === 4 && magic.toString('latin1') === 'ARMd';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Debian's arm64 cloud kernel booted to its panic for want of a root file
 * system: the whole of a kernel's start-up (MMU, per-cpu set-up, initcalls,
 * drivers) with no userland, ending by itself under panic=-1 -no-reboot.
 * Too big to commit, so it is used only when WARMBOOT_LINUX_IMAGE names it.
 */
async function linuxBoot(): Promise<BootResult[]> {
  const image = process.env.WARMBOOT_LINUX_IMAGE;
  if (!image) {
    console.log('  (skipped: set WARMBOOT_LINUX_IMAGE to an uncompressed arm64 Image; bench/fetch-linux-kernel.sh fetches\n' +
      '   Debian\'s cloud kernel into bench/out/linux/Image)');
    return [];
  }
  if (!isArm64Image(image)) {
    console.log(`  (skipped: ${image} is not an uncompressed arm64 Image: no "ARMd" at offset 0x38)`);
    return [];
  }
  if (!qemuPresent()) return [];
  // The interpreter alone takes about half a minute here, so one run of it;
  // the JIT tiers twice.
  console.log('  (QEMU best of 3, --jit=off 1 run, --jit=on and --jit=auto best of 2)');
  return timeBoot({
    guest: 'Linux to the root-fs panic',
    args: ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '512M', '-nographic', '-kernel', image,
      '-append', 'console=ttyAMA0 earlycon=pl011,0x09000000 panic=-1', '-no-reboot'],
    script: [],
    expect: /VFS: Unable to mount root fs/,
    qemuRuns: 3,
    tierRuns: { '--jit=off': 1, '--jit=on': 2, '--jit=auto': 2 },
    timeoutMs: 600_000,
  });
}

const SECTIONS = ['micro', 'mips', 'compile', 'guests', 'uboot', 'linux'] as const;
type Section = (typeof SECTIONS)[number];
const ALIASES: Record<string, Section[]> = { boot: ['uboot', 'linux'] };

/** `--only=a,b`: the sections to run, all of them without it. */
function selectedSections(argv: string[]): Set<Section> {
  const only = argv.find((a) => a.startsWith('--only='));
  if (!only) return new Set(SECTIONS);
  const chosen = new Set<Section>();
  for (const name of only.slice('--only='.length).split(',').filter(Boolean)) {
    if (ALIASES[name]) ALIASES[name].forEach((s) => chosen.add(s));
    else if ((SECTIONS as readonly string[]).includes(name)) chosen.add(name as Section);
    else throw new Error(`--only: unknown section '${name}' (known: ${[...SECTIONS, ...Object.keys(ALIASES)].join(', ')})`);
  }
  return chosen;
}

async function main(): Promise<void> {
  const sections = selectedSections(process.argv.slice(2));
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, Node ${process.version}`;
  const date = new Date().toISOString();
  console.log(`warmboot benchmarks on ${machine}\n`);
  const results: Record<string, unknown> = {};
  if (sections.has('micro')) {
    console.log('Micro-benchmarks (tinybench):');
    results.micro = await microBenchmarks();
  }
  if (sections.has('mips')) {
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
    results.mips = mips;
  }
  if (sections.has('compile')) {
    console.log('\nJIT compile cost (random programs translated at first execution):');
    const compile = await compileCost();
    console.log(`  ${compile.usPerInstruction.toFixed(1)} us per guest instruction translated (wall; ${compile.cpuUsPerInstruction.toFixed(1)} us CPU for the whole run per instruction); Binaryen load ${compile.binaryenLoadMs.toFixed(0)} ms`);
    results.compile = compile;
  }
  if (sections.has('guests')) {
    console.log('\nWhole guests against QEMU TCG (same machine, same run):');
    results.guests = wholeGuests();
  }
  if (sections.has('uboot')) {
    console.log('\nU-Boot boot to its prompt and poweroff, whole process, against QEMU TCG (warmboot with --stats):');
    results.uboot = await ubootBoot();
  }
  if (sections.has('linux')) {
    console.log('\nLinux boot to its root-fs panic, whole process, against QEMU TCG (warmboot with --stats):');
    results.linux = await linuxBoot();
  }
  const file = resolve(root, 'bench/out/latest.json');
  mkdirSync(dirname(file), { recursive: true });
  // A partial run (--only) replaces its own sections and keeps the others'
  // last figures; `measured` says which run each section came from.
  let previous: Record<string, unknown> = {};
  if (sections.size < SECTIONS.length && existsSync(file)) {
    try {
      previous = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      previous = {};
    }
  }
  const measured: Record<string, string> = { ...(previous.measured as Record<string, string> | undefined) };
  if (!previous.measured && typeof previous.date === 'string') {
    for (const s of SECTIONS) if (s in previous) measured[s] = previous.date;
  }
  for (const s of Object.keys(results)) measured[s] = date;
  writeFileSync(file, JSON.stringify({ ...previous, machine, date, ...results, measured }, null, 2));
}

await main();
