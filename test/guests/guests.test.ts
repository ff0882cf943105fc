// Differential tests: every guest is booted by QEMU (the oracle) and by the
// warmboot CLI with the same command line, and the two must print exactly the
// same bytes and both exit with status 0 after PSCI SYSTEM_OFF.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { jitCliArgs } from '../jit/jit-mode.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const guestsDir = path.join(repoRoot, 'test/guests');
const buildDir = path.join(guestsDir, 'build');
const cliPath = path.join(repoRoot, 'dist/src/warmboot-command.js');
const demoElf = path.join(repoRoot, 'src/demo-guest/demo.elf');

const QEMU = 'qemu-system-aarch64';
const QEMU_TIMEOUT_MS = 30_000;
// warmboot interprets cold code, so the few million instructions of intcheck
// may take far longer than under QEMU's JIT.
const WARMBOOT_TIMEOUT_MS = 150_000;

interface GuestCase {
  /** Test name. */
  name: string;
  /** Kernel image path; guests from build.sh need the build to have succeeded. */
  kernel: string;
  needsBuild: boolean;
  cpu: string;
  /** Sanity checks on QEMU's own output, so a broken guest is not "identical" to a broken engine. */
  expectInQemuOutput: (string | RegExp)[];
}

const intcheckSections = [
  'alu64', 'alu32', 'mul', 'div', 'bits', 'crc32', 'csel', 'bitfield', 'sort', 'sieve',
  'hash', 'strings', 'loads', 'pairs', 'exclusive', 'control',
].map((s) => new RegExp(`^${s}: 0x[0-9a-f]{16}$`, 'm'));

const cases: GuestCase[] = [
  {
    name: 'hello (ELF)',
    kernel: path.join(buildDir, 'hello.elf'),
    needsBuild: true,
    cpu: 'cortex-a57',
    expectInQemuOutput: ['Hello from warmboot guest\n'],
  },
  {
    name: 'hello (raw binary)',
    kernel: path.join(buildDir, 'hello.bin'),
    needsBuild: true,
    cpu: 'cortex-a57',
    expectInQemuOutput: ['Hello from warmboot guest\n'],
  },
  {
    name: 'hello (arm64 Linux Image)',
    kernel: path.join(buildDir, 'hello.Image'),
    needsBuild: true,
    cpu: 'cortex-a57',
    expectInQemuOutput: ['Hello from warmboot guest\n'],
  },
  {
    // The full run, LSE atomics and CRC32 included, needs an ARMv8.1+ CPU.
    name: 'intcheck on cortex-a76',
    kernel: path.join(buildDir, 'intcheck.elf'),
    needsBuild: true,
    cpu: 'cortex-a76',
    expectInQemuOutput: [
      'features: crc32=1 atomics=2\n',
      ...intcheckSections,
      /^lse: 0x[0-9a-f]{16}$/m,
      'intcheck: 0 failures\n',
    ],
  },
  {
    // cortex-a57 is ARMv8.0: the guest reads ID_AA64ISAR0_EL1 and skips LSE.
    name: 'intcheck on cortex-a57',
    kernel: path.join(buildDir, 'intcheck.elf'),
    needsBuild: true,
    cpu: 'cortex-a57',
    expectInQemuOutput: [
      'features: crc32=1 atomics=0\n',
      ...intcheckSections,
      'lse: skipped (no FEAT_LSE)\n',
      'intcheck: 0 failures\n',
    ],
  },
  {
    name: 'undef',
    kernel: path.join(buildDir, 'undef.elf'),
    needsBuild: true,
    cpu: 'cortex-a57',
    expectInQemuOutput: [
      /ESR_EL1=0x0000000002000000 \(EC=0x00\) ELR_EL1=0x00000000400[0-9a-f]{5} /,
      'ESR_EL1=0x000000001fe00000 (EC=0x07)',
      'ESR_EL1=0x0000000096000010 (EC=0x25)',
      'FAR_EL1=0x000000000c000000',
      'ESR_EL1=0x00000000f2000042 (EC=0x3c)',
      'ESR_EL1=0x0000000056001234 (EC=0x15)',
      'exceptions taken: 10\n',
      'survived\n',
    ],
  },
  {
    name: 'demo guest',
    kernel: demoElf,
    needsBuild: false,
    cpu: 'cortex-a57',
    expectInQemuOutput: [
      'warmboot demo guest: hello from AArch64 EL1\n',
      'CurrentEL: EL1\n',
      'first word 0xd00dfeed (FDT magic)',
      'first 16 primes: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53\n',
      'crc32("warmboot") = 0xae976e5f\n',
      'bye: PSCI SYSTEM_OFF\n',
    ],
  },
];

function commandLine(c: GuestCase): string[] {
  return ['-M', 'virt', '-cpu', c.cpu, '-m', '128M', '-nographic', '-kernel', c.kernel];
}

interface RunResult {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

function run(cmd: string, args: string[], timeout: number): RunResult {
  const r: SpawnSyncReturns<Buffer> = spawnSync(cmd, args, {
    cwd: repoRoot,
    // QEMU's -nographic serial reads stdin; /dev/null keeps it from touching a terminal.
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(`${cmd} not found`);
    }
    if (code === 'ETIMEDOUT') {
      throw new Error(
        `${cmd} ${args.join(' ')} did not exit within ${timeout} ms (guest never powered off?)\n` +
          `stdout so far:\n${r.stdout?.toString('latin1') ?? ''}`,
      );
    }
    throw r.error;
  }
  // latin1 maps bytes 1:1, so a stray non-UTF-8 byte is still compared exactly.
  return {
    stdout: r.stdout.toString('latin1'),
    stderr: r.stderr.toString('latin1'),
    status: r.status,
    signal: r.signal,
  };
}

function requireTool(cmd: string, versionArgs: string[], debianPackage: string): void {
  const r = spawnSync(cmd, versionArgs, { stdio: 'ignore' });
  if (r.error) {
    throw new Error(`${cmd} is required by the guest tests: install the Debian package ${debianPackage}`);
  }
}

function describeExit(r: RunResult): string {
  return `status ${r.status}, signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

let buildError: Error | undefined;
const qemuResults = new Map<string, RunResult>();

function qemuRun(c: GuestCase): RunResult {
  const cached = qemuResults.get(c.name);
  if (cached) return cached;
  requireTool(QEMU, ['--version'], 'qemu-system-arm');
  if (c.needsBuild && buildError) throw buildError;
  const r = run(QEMU, commandLine(c), QEMU_TIMEOUT_MS);
  qemuResults.set(c.name, r);
  return r;
}

describe('bare-metal guests: warmboot vs QEMU', () => {
  beforeAll(() => {
    // A build failure is kept rather than thrown so the prebuilt demo guest is still tested.
    try {
      requireTool('aarch64-linux-gnu-gcc', ['--version'], 'gcc-aarch64-linux-gnu');
      requireTool('aarch64-linux-gnu-objcopy', ['--version'], 'binutils-aarch64-linux-gnu');
      const r = spawnSync('sh', [path.join(guestsDir, 'build.sh')], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 240_000,
      });
      if (r.error) throw r.error;
      if (r.status !== 0) {
        throw new Error(
          `test/guests/build.sh failed with status ${r.status}:\n${r.stdout.toString()}${r.stderr.toString()}`,
        );
      }
    } catch (e) {
      buildError = e instanceof Error ? e : new Error(String(e));
    }
  });

  for (const c of cases) {
    describe(c.name, () => {
      it('runs under QEMU, prints the expected output and powers off with status 0', () => {
        const q = qemuRun(c);
        expect(q.status, describeExit(q)).toBe(0);
        for (const want of c.expectInQemuOutput) {
          if (typeof want === 'string') {
            expect(q.stdout).toContain(want);
          } else {
            expect(q.stdout).toMatch(want);
          }
        }
        expect(q.stdout).not.toMatch(/^FAIL /m);
        expect(q.stdout).not.toContain('unexpected exception');
      });

      it(
        'prints the same bytes under warmboot and exits with status 0',
        () => {
          const q = qemuRun(c);
          expect(q.status, `QEMU reference run failed: ${describeExit(q)}`).toBe(0);
          if (!existsSync(cliPath)) {
            throw new Error(
              `warmboot CLI not built: ${path.relative(repoRoot, cliPath)} is missing; run \`npx tsc -p tsconfig.json\``,
            );
          }
          const w = run(process.execPath, [cliPath, ...commandLine(c), ...jitCliArgs()], WARMBOOT_TIMEOUT_MS);
          expect(w.stdout).toBe(q.stdout);
          expect(w.status, describeExit(w)).toBe(0);
        },
        WARMBOOT_TIMEOUT_MS + 30_000,
      );
    });
  }
});
