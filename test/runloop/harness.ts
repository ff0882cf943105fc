// Shared by the run-loop suites: builds the bare-metal guests of test/guests,
// boots them through the Machine API (or QEMU, the oracle where TCG and KVM
// agree) and reads their "name: 0x..." result lines.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine, type MachineExit, type MachineOptions } from '../../src/machine.js';
import { jitMachineMode, testJit } from '../jit/jit-mode.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = path.join(repoRoot, 'test/guests/build');

export const MiB = 1024 * 1024;
/** Guests assume 128 MiB: their marker and hint words sit below 0x48000000. */
export const GUEST_MEMORY = 128 * MiB;
/** The word psci.h calls HOST_HINTS_ADDR. */
export const HOST_HINTS_ADDR = 0x47ff0000;

let built: Error | true | undefined;

/** Runs test/guests/build.sh once per test process; outputs are renamed into place, so concurrent builds are safe. */
export function buildGuests(): void {
  if (built === undefined) {
    const r = spawnSync('sh', [path.join(repoRoot, 'test/guests/build.sh')], {
      cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000,
    });
    if (r.error) built = r.error;
    else if (r.status !== 0) {
      built = new Error(`test/guests/build.sh failed with status ${r.status} (needs gcc-aarch64-linux-gnu):\n${r.stdout}${r.stderr}`);
    } else built = true;
  }
  if (built !== true) throw built;
}

export function guestPath(name: string): string {
  return path.join(buildDir, `${name}.elf`);
}

export function guestImage(name: string): Uint8Array {
  buildGuests();
  return new Uint8Array(readFileSync(guestPath(name)));
}

export interface BootOptions {
  cpus?: number;
  cpu?: string;
  psciConduit?: 'hvc' | 'smc';
  gicVersion?: 2 | 3;
  /** Written to HOST_HINTS_ADDR before the first run. */
  hints?: bigint;
}

export interface Booted {
  machine: Machine;
  /** Everything the guest has printed so far. */
  output: () => string;
}

export function boot(name: string, opts: BootOptions = {}): Booted {
  let out = '';
  const options: MachineOptions = {
    memory: GUEST_MEMORY,
    cpus: opts.cpus ?? 4,
    cpu: opts.cpu ?? 'cortex-a57',
    kernel: guestImage(name),
    psciConduit: opts.psciConduit,
    gicVersion: opts.gicVersion,
    onSerialOutput: (bytes) => { out += Buffer.from(bytes).toString('latin1'); },
    jit: jitMachineMode(),
    jitThreshold: testJit?.threshold,
  };
  const machine = new Machine(options);
  if (opts.hints !== undefined) writeU64(machine, HOST_HINTS_ADDR, opts.hints);
  return { machine, output: () => out };
}

/** A guest that needs more than this is stuck, not slow. */
export const INSTRUCTION_LIMIT = 400_000_000;

/** Runs until the first exit the embedder must handle; instruction-limit means the guest hung. */
export function runOnce(b: Booted, maxInstructions = INSTRUCTION_LIMIT): MachineExit {
  return b.machine.run({ maxInstructions });
}

export function describeExit(exit: MachineExit, output: string): string {
  return `exit ${JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}\noutput:\n${output}`;
}

export function writeU64(machine: Machine, pa: number, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  machine.vm.writePhysical(pa, b);
}

export function readU64(machine: Machine, pa: number): bigint {
  const b = machine.vm.readPhysical(pa, 8);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** The "name: 0x0123456789abcdef" lines of a guest's output, in order (a repeated name keeps its last value). */
export function parseResults(output: string): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const line of output.split('\n')) {
    const match = /^([A-Za-z0-9_]+): 0x([0-9a-f]{16})$/.exec(line);
    if (match) m.set(match[1], BigInt(`0x${match[2]}`));
  }
  return m;
}

export const hex = (v: bigint | undefined): string => (v === undefined ? 'missing' : `0x${BigInt.asUintN(64, v).toString(16)}`);

/** PSCI return codes as the guest prints them (64-bit two's complement). */
export const ret = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

export interface QemuResult {
  stdout: string;
  status: number | null;
}

const qemuCache = new Map<string, QemuResult>();

/**
 * Boots a guest under qemu-system-aarch64 (TCG), -M virt with the same CPU and
 * RAM as boot(). Results are cached per command line.
 */
export function runQemu(name: string, opts: { machine?: string; smp?: number; cpu?: string; extra?: string[] } = {}): QemuResult {
  buildGuests();
  const args = ['-M', opts.machine ?? 'virt', '-cpu', opts.cpu ?? 'cortex-a57', '-smp', String(opts.smp ?? 4), '-m', '128M',
    '-nographic', '-kernel', guestPath(name), ...(opts.extra ?? [])];
  const key = args.join(' ');
  const cached = qemuCache.get(key);
  if (cached) return cached;
  const r = spawnSync('qemu-system-aarch64', args, {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 16 * MiB,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error('qemu-system-aarch64 not found: install the Debian package qemu-system-arm');
    if (code === 'ETIMEDOUT') throw new Error(`qemu-system-aarch64 ${key} did not exit within 60 s:\n${r.stdout?.toString('latin1') ?? ''}`);
    throw r.error;
  }
  const result = { stdout: r.stdout.toString('latin1'), status: r.status };
  qemuCache.set(key, result);
  return result;
}

/**
 * Compares result lines with expectations and returns one readable line per
 * difference, so a failure lists every wrong answer at once.
 */
export function mismatches(got: Map<string, bigint>, want: ReadonlyMap<string, bigint>, opts: { exhaustive?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const [name, v] of want) {
    if (got.get(name) !== v) out.push(`${name}: got ${hex(got.get(name))}, want ${hex(v)}`);
  }
  if (opts.exhaustive) {
    for (const [name, v] of got) if (!want.has(name)) out.push(`${name}: unexpected line (${hex(v)})`);
  }
  return out;
}
