// An idle guest must leave the host idle: the sleep guest spends one guest
// second in WFI waiting for its timer. Measured in a separate process, by CPU
// time (not wall time, which depends on how busy the machine is): a run loop
// that spun instead of sleeping would burn about a second.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleepElf = path.join(repoRoot, 'test/guests/build/sleep.elf');
const helloElf = path.join(repoRoot, 'test/guests/build/hello.elf');
const machineJs = path.join(repoRoot, 'dist/src/machine.js');
const cli = path.join(repoRoot, 'dist/src/warmboot-command.js');

/** Generous: the guest sleeps 1000 ms; spinning through it would cost about that much. */
const CPU_BOUND_MS = 300;

beforeAll(() => {
  const b = spawnSync('sh', [path.join(repoRoot, 'test/guests/build.sh')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
  if (b.status !== 0) throw new Error(`test/guests/build.sh failed: ${b.stderr?.toString()}`);
});

interface Measured {
  cpuMs: number;
  wallMs: number;
  out: string;
  exit: string;
}

/** Runs the sleep guest through the Machine API in a fresh process and measures the run alone. */
function measureInProcess(gic: 2 | 3, poll: boolean): Measured {
  const script = `
    import { readFileSync } from 'node:fs';
    import { Machine } from ${JSON.stringify(machineJs)};
    let out = '';
    const m = new Machine({ kernel: new Uint8Array(readFileSync(${JSON.stringify(sleepElf)})), cpu: 'cortex-a57', gicVersion: ${gic},
      onSerialOutput: (b) => { out += Buffer.from(b).toString('latin1'); } });
    const cpu0 = process.cpuUsage(), t0 = performance.now();
    const exit = m.runToCompletion(${poll ? '{ poll: () => {} }' : '{}'});
    const cpu = process.cpuUsage(cpu0), wallMs = performance.now() - t0;
    console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs, out, exit: exit.reason }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measured;
}

/** The CLI's user+system CPU time for a whole run, from bash's time keyword. */
function cliCpuMs(kernel: string, gic: 2 | 3): { cpuMs: number; stdout: string } {
  const cmd = `TIMEFORMAT='%3U %3S'; time ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} -M virt,gic-version=${gic} -cpu cortex-a57 -nographic -kernel ${JSON.stringify(kernel)} < /dev/null`;
  const r = spawnSync('bash', ['-c', cmd], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`warmboot failed: ${r.stderr}`);
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no timing in: ${r.stderr}`);
  return { cpuMs: (Number(m[1]) + Number(m[2])) * 1000, stdout: r.stdout };
}

describe('an idle guest leaves the host idle', () => {
  for (const gic of [3, 2] as const) {
    it(`GICv${gic}: one guest second in WFI through Machine.run (blocking until the deadline)`, () => {
      const m = measureInProcess(gic, false);
      expect(m.out).toBe('slept one second in WFI\n');
      expect(m.exit).toBe('system-event');
      expect(m.wallMs).toBeGreaterThanOrEqual(990);
      expect(m.cpuMs).toBeLessThan(CPU_BOUND_MS);
    });
  }

  it('GICv3: the same through runToCompletion with an input poll (waking every 20 ms)', () => {
    const m = measureInProcess(3, true);
    expect(m.out).toBe('slept one second in WFI\n');
    expect(m.wallMs).toBeGreaterThanOrEqual(990);
    expect(m.cpuMs).toBeLessThan(CPU_BOUND_MS);
  });

  it('the warmboot command: sleeping costs little more CPU than a guest that only prints', () => {
    const hello = cliCpuMs(helloElf, 3);
    const sleep = cliCpuMs(sleepElf, 3);
    expect(sleep.stdout).toBe('slept one second in WFI\n');
    expect(sleep.cpuMs - hello.cpuMs).toBeLessThan(CPU_BOUND_MS);
  });
});
