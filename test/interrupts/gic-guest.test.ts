// The gic guest (test/guests/gic) under QEMU and under warmboot with the same
// command line, GICv2 and GICv3, four vcpus: timer PPIs, priority mask and
// preemption, level and edge SPIs, both EOI modes, FIQ, SGIs between cpus.
// The output must match byte for byte; under -icount two runs must also
// retire the same number of instructions. The tier follows WARMBOOT_JIT.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine.js';
import { SystemEventType } from '../../runtime/psci.js';
import { jitCliArgs, jitMachineMode, testJit } from '../jit/jit-mode.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const guest = path.join(repoRoot, 'test/guests/build/gic.elf');
const cli = path.join(repoRoot, 'dist/src/warmboot-command.js');

interface Result {
  stdout: string;
  status: number | null;
  stderr: string;
}

function run(cmd: string, args: string[]): Result {
  const r = spawnSync(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  if (r.error) throw r.error;
  return { stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1'), status: r.status };
}

function commandLine(gic: 2 | 3): string[] {
  return ['-M', `virt,gic-version=${gic}`, '-cpu', 'cortex-a57', '-smp', '4', '-m', '128M', '-nographic', '-kernel', guest];
}

const qemu = new Map<number, Result>();

beforeAll(() => {
  const b = spawnSync('sh', [path.join(repoRoot, 'test/guests/build.sh')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
  if (b.status !== 0) throw new Error(`test/guests/build.sh failed: ${b.stderr?.toString()}`);
  for (const gic of [2, 3] as const) qemu.set(gic, run('qemu-system-aarch64', commandLine(gic)));
});

function inProcess(gic: 2 | 3, shift: number): { out: string; instructions: number[] } {
  let out = '';
  const m = new Machine({
    kernel: new Uint8Array(readFileSync(guest)), cpu: 'cortex-a57', cpus: 4, gicVersion: gic, icount: { shift },
    jit: jitMachineMode(), jitThreshold: testJit?.threshold,
    onSerialOutput: (b) => { out += Buffer.from(b).toString('latin1'); },
  });
  const exit = m.runToCompletion();
  expect(exit.reason === 'system-event' && exit.type === SystemEventType.Shutdown, JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(true);
  return { out, instructions: m.stats().instructions };
}

for (const gic of [3, 2] as const) {
  describe(`gic guest, GICv${gic}, 4 vcpus`, () => {
    it('runs to the end under QEMU with every check passing', () => {
      const q = qemu.get(gic)!;
      expect(q.status, q.stderr).toBe(0);
      expect(q.stdout).toContain(`GICv${gic}\n`);
      expect(q.stdout).toContain('gic: done\n');
      expect(q.stdout).not.toMatch(/: NO\b|FAIL|unexpected/);
    });

    it('prints the same bytes under warmboot', () => {
      const w = run(process.execPath, [cli, ...commandLine(gic), ...jitCliArgs()]);
      expect(w.stdout).toBe(qemu.get(gic)!.stdout);
      expect(w.status, w.stderr).toBe(0);
    });

    it('prints the same bytes under warmboot -icount shift=3,sleep=off', () => {
      const w = run(process.execPath, [cli, ...commandLine(gic), '-icount', 'shift=3,sleep=off', ...jitCliArgs()]);
      expect(w.stdout).toBe(qemu.get(gic)!.stdout);
      expect(w.status, w.stderr).toBe(0);
    });

    it('in deterministic mode, twice: the same output and the same instruction count on every vcpu', () => {
      const a = inProcess(gic, 0);
      const b = inProcess(gic, 0);
      expect(a.out).toBe(qemu.get(gic)!.stdout);
      expect(b.out).toBe(a.out);
      expect(b.instructions).toEqual(a.instructions);
      expect(a.instructions.every((n) => n > 0)).toBe(true);
    });
  });
}
