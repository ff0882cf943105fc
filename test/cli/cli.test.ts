// The warmboot command on good and bad input: a clear one-line message and a
// non-zero status for every mistake, never a stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = resolve(__dirname, '../../dist/src/warmboot-command.js');
const tmp = mkdtempSync(join(tmpdir(), 'warmboot-cli-'));

function warmboot(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'latin1', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectCleanFailure(r: ReturnType<typeof warmboot>, pattern: RegExp): void {
  expect(r.status).not.toBe(0);
  expect(r.status).not.toBeNull();
  expect(r.stderr).toMatch(pattern);
  // One line, no stack trace.
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

describe('warmboot command', () => {
  it('boots the bundled demo guest with no arguments and exits 0 after SYSTEM_OFF', () => {
    const r = warmboot([]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('warmboot demo guest');
    expect(r.stdout).toContain('0xd00dfeed');
    expect(r.stdout).toContain('bye: PSCI SYSTEM_OFF');
  });

  it('under the default tier, leaves the JIT off for a guest done within its first 50 000 instructions', () => {
    const r = warmboot(['--stats']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('bye: PSCI SYSTEM_OFF');
    expect(r.stderr).toMatch(/^ {2}jit: not started \(the guest was done within 50000 instructions or before Binaryen was ready\)$/m);
    expect(r.stderr).not.toMatch(/jit: \d+ regions/);
  });

  it('under the default tier, switches the JIT on for a longer guest, which ends as it does interpreted', () => {
    // movz x1, #0x10, lsl #16; loop: subs x1, x1, #1; b.ne loop; then PSCI SYSTEM_OFF: 2M instructions.
    const image = file('countdown.bin', new Uint8Array(new Uint32Array([0xd2a00201, 0xf1000421, 0x54ffffe1, 0xd2800100, 0xf2b08000, 0xd4000002]).buffer));
    const auto = warmboot(['-kernel', image, '--stats']);
    expect(auto.status, auto.stderr).toBe(0);
    const after = /^ {2}jit: started after (\d+) instructions in the interpreter, while Binaryen loaded$/m.exec(auto.stderr);
    expect(after, auto.stderr).not.toBeNull();
    expect(Number(after![1])).toBeGreaterThanOrEqual(50_000);
    expect(auto.stderr).toMatch(/^ {2}jit: [1-9]\d* regions/m);
    expect(auto.stderr).toMatch(/^warmboot stats: 2097156 guest instructions/m);
    const off = warmboot(['-kernel', image, '--stats', '--jit=off']);
    expect(off.status).toBe(0);
    expect(off.stderr).toMatch(/^warmboot stats: 2097156 guest instructions/m);
    expect(off.stderr).not.toMatch(/jit:/);
  });

  it('prints usage for --help', () => {
    const r = warmboot(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: warmboot/);
  });

  it('refuses a missing kernel file by name', () => {
    expectCleanFailure(warmboot(['-M', 'virt', '-kernel', join(tmp, 'nope.elf')]), /cannot open kernel '.*nope\.elf': no such file/);
  });

  it('refuses an empty image', () => {
    expectCleanFailure(warmboot(['-kernel', file('empty.bin', '')]), /is empty/);
  });

  it('refuses a truncated ELF', () => {
    const elf = new Uint8Array(40);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    expectCleanFailure(warmboot(['-kernel', file('trunc.elf', elf)]), /ELF/);
  });

  it('refuses a truncated arm64 Image header', () => {
    const img = new Uint8Array(0x3c);
    img.set([0x41, 0x52, 0x4d, 0x64], 0x38);
    expectCleanFailure(warmboot(['-kernel', file('trunc.Image', img)]), /./);
  });

  it('refuses an image that does not fit in RAM', () => {
    const big = new Uint8Array(3 * 1024 * 1024);
    expectCleanFailure(warmboot(['-m', '2M', '-kernel', file('big.bin', big)]), /fit/);
  });

  it('stops a garbage image that faults into itself with a clear message instead of hanging', () => {
    const garbage = new Uint8Array(4096).fill(0xff);
    const r = warmboot(['-kernel', file('garbage.bin', garbage)], 30_000);
    expectCleanFailure(r, /guest is stuck: exception class 0x/);
  });

  it('refuses unknown and unsupported options by name', () => {
    expectCleanFailure(warmboot(['-device', 'virtio-net']), /option '-device' is not supported/);
    expectCleanFailure(warmboot(['-M', 'raspi3b', '-kernel', 'x']), /machine 'raspi3b' is not supported/);
    expectCleanFailure(warmboot(['-cpu', 'cortex-a8']), /-cpu 'cortex-a8' is not supported/);
    expectCleanFailure(warmboot(['-m', 'lots']), /-m 'lots': expected a size/);
    expectCleanFailure(warmboot(['-kernel']), /needs an argument/);
    expectCleanFailure(warmboot(['--jit=fast']), /--jit=fast: expected on, off or auto/);
    expectCleanFailure(warmboot(['-M', 'virt,dtb-randomness=maybe']), /dtb-randomness='maybe': expected on or off/);
    expectCleanFailure(warmboot(['--jit-threshold=0']), /--jit-threshold=0: expected a whole number/);
    expectCleanFailure(warmboot(['disk.img']), /unexpected argument 'disk.img'/);
  });

  it('refuses more RAM than one WebAssembly memory holds', () => {
    expectCleanFailure(warmboot(['-m', '8G', '-kernel', file('tiny.bin', new Uint8Array(16))]), /more RAM than warmboot can give/);
  });

  it('accepts QEMU spellings: -machine virt,gic-version=3 -m 256M -smp 1 -serial stdio -display none -no-reboot --jit=off', () => {
    const r = warmboot(['-machine', 'virt,gic-version=3', '-cpu', 'cortex-a57', '-m', '256M', '-smp', '1', '-serial', 'stdio',
      '-display', 'none', '-no-reboot', '--jit=off', '-kernel', resolve(__dirname, '../../src/demo-guest/demo.elf')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('first 16 primes');
  });

  it('--trace prints every executed instruction with its PC, disassembled', () => {
    const r = warmboot(['--trace', '-kernel', resolve(__dirname, '../../src/demo-guest/demo.elf')]);
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1000);
    expect(lines[0]).toMatch(/^cpu0 0x0000000040200000: [0-9a-f]{8}  \S+/);
    expect(r.stderr).toMatch(/: d4000002  hvc\t#0x0\n?$/);
  });
});

describe('the warmboot launcher (package.json bin, npm start)', () => {
  const LAUNCHER = resolve(__dirname, '../../src/warmboot-launcher.sh');

  /** Runs the launcher through a symlink, as npm's node_modules/.bin has it, with `node` a stand-in that reports what it was given. */
  function launch(args: string[], tunables?: string): { script: string; args: string[]; tunables: string } {
    const dir = mkdtempSync(join(tmp, 'launch-'));
    const fakeNode = join(dir, 'node');
    writeFileSync(fakeNode, '#!/bin/sh\nprintf "%s\\n" "$GLIBC_TUNABLES" "$@"\n', { mode: 0o755 });
    const link = join(dir, 'warmboot');
    symlinkSync(LAUNCHER, link);
    const env: Record<string, string> = { PATH: `${dir}:${process.env.PATH ?? ''}` };
    if (tunables !== undefined) env.GLIBC_TUNABLES = tunables;
    const r = spawnSync(link, args, { encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    const [t, script, ...rest] = r.stdout.replace(/\n$/, '').split('\n');
    return { tunables: t!, script: script!, args: rest };
  }

  it('runs the built CLI with the arguments as given, asking glibc for huge pages', () => {
    const r = launch(['-kernel', 'a file with spaces.elf', '-append', '']);
    expect(realpathSync(r.script)).toBe(realpathSync(CLI));
    expect(r.args).toEqual(['-kernel', 'a file with spaces.elf', '-append', '']);
    expect(r.tunables).toBe('glibc.malloc.hugetlb=1');
  });

  it('adds to the user\'s glibc tunables and keeps a hugetlb setting the user gave', () => {
    expect(launch([], 'glibc.malloc.arena_max=2').tunables).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
    expect(launch([], 'glibc.malloc.hugetlb=0').tunables).toBe('glibc.malloc.hugetlb=0');
    expect(launch([], 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0').tunables).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0');
  });
});
