// U-Boot, a real guest no one here wrote: Debian's u-boot-qemu build for the
// virt board, started from flash with -bios exactly as under QEMU, driven
// through its serial console on the warmboot command's stdin and stdout.
// Where QEMU is the oracle (flash geometry as U-Boot probes it), the same
// session runs under qemu-system-aarch64 and the outputs are compared.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve(__dirname, '../../dist/src/warmboot-command.js');
const UBOOT = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';
const MACHINE_ARGS = ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '512M', '-nographic', '-bios', UBOOT];
const BANNER = /U-Boot 20\d\d\.\d\d/g;
const PROMPT = '=> ';
/** Generous: the interpreter runs U-Boot's boot in a few seconds; CI machines are slower and shared. */
const STEP_TIMEOUT = 90_000;

function requireUboot(): void {
  if (!existsSync(UBOOT)) {
    throw new Error(`${UBOOT} is missing: install Debian's u-boot-qemu package (apt-get install u-boot-qemu; .ci/run does)`);
  }
}

/** A guest serial console on a child process's stdio, read as it arrives. */
class Console {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything the guest printed so far. */
  output = '';
  stderr = '';
  private consumed = 0;
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private wake: () => void = () => undefined;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('latin1');
    this.child.stderr.setEncoding('latin1');
    this.child.stdout.on('data', (d: string) => { this.output += d; this.wake(); });
    this.child.stderr.on('data', (d: string) => { this.stderr += d; this.wake(); });
    this.exitPromise = new Promise((res) => {
      this.child.on('close', (code, signal) => {
        this.exited = { code, signal };
        this.wake();
        res(this.exited);
      });
    });
  }

  /**
   * Waits until `pattern` appears in output not yet consumed and returns the
   * text up to and including it; fails with the console's tail and stderr
   * if the guest stops or the time runs out first.
   */
  async waitFor(pattern: string | RegExp, what: string, timeout = STEP_TIMEOUT): Promise<string> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const rest = this.output.slice(this.consumed);
      const m = typeof pattern === 'string'
        ? (rest.includes(pattern) ? { index: rest.indexOf(pattern), length: pattern.length } : undefined)
        : (() => { const r = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(rest); return r ? { index: r.index, length: r[0].length } : undefined; })();
      if (m) {
        const end = m.index + m.length;
        this.consumed += end;
        return rest.slice(0, end);
      }
      if (this.exited) throw new Error(`guest ended (status ${this.exited.code}${this.exited.signal ? `, ${this.exited.signal}` : ''}) before ${what}${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}${this.describe()}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 1000));
        this.wake = () => { clearTimeout(t); res(); };
      });
    }
  }

  type(text: string): void {
    this.child.stdin.write(text);
  }

  /** Types a command line and returns what it printed before the next prompt. */
  async command(line: string, timeout = STEP_TIMEOUT): Promise<string> {
    this.type(`${line}\n`);
    const text = await this.waitFor(PROMPT, `the prompt after '${line}'`, timeout);
    // Drop the echoed command line and the prompt.
    return text.slice(text.indexOf('\n') + 1, text.length - PROMPT.length).replace(/\r/g, '');
  }

  /** Waits for the autoboot countdown, stops it, and waits for the prompt. */
  async stopAutoboot(): Promise<string> {
    const boot = await this.waitFor('Hit any key to stop autoboot', 'the autoboot countdown');
    this.type('\n');
    await this.waitFor(PROMPT, 'the U-Boot prompt');
    return boot;
  }

  async exit(timeout = STEP_TIMEOUT): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`the process did not end${this.describe()}`)), timeout);
    });
    try {
      return await Promise.race([this.exitPromise, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private describe(): string {
    const tail = this.output.slice(-1500);
    return `\n--- console (last ${tail.length} characters) ---\n${tail}\n--- stderr ---\n${this.stderr}`;
  }
}

describe('U-Boot (Debian u-boot-qemu, qemu_arm64) under warmboot', () => {
  let guest: Console;
  let firstBoot = '';

  beforeAll(() => {
    requireUboot();
    guest = new Console(process.execPath, [CLI, ...MACHINE_ARGS]);
  });

  afterAll(() => guest?.kill());

  it('boots from flash to the prompt', async () => {
    firstBoot = await guest.stopAutoboot();
    expect(firstBoot).toMatch(BANNER);
    expect(firstBoot).toContain('DRAM:  512 MiB');
    // Both CFI banks found and the PL011 is the console.
    expect(firstBoot).toContain('Flash: 64 MiB');
    expect(firstBoot).toContain('In:    pl011@9000000');
    // Bank 1 is blank, so there is no saved environment yet.
    expect(firstBoot).toContain('Loading Environment from Flash... *** Warning - bad CRC, using default environment');
  });

  it('runs commands typed at the console', async () => {
    const out = await guest.command('echo hello from $board');
    expect(out).toBe('hello from qemu-arm\n');
  });

  it('reads the PL031 as the host\'s UTC time', async () => {
    const out = await guest.command('date');
    const m = /Date: (\d{4})-(\d\d)-(\d\d) \(\w+\)\s+Time:\s+(\d+):(\d\d):(\d\d)/.exec(out);
    expect(m, out).not.toBeNull();
    const [y, mo, d, h, mi, s] = m!.slice(1).map(Number);
    const guestTime = Date.UTC(y, mo - 1, d, h, mi, s);
    expect(Math.abs(guestTime - Date.now())).toBeLessThan(30_000);
  });

  it('erases and programs flash through U-Boot\'s CFI driver', async () => {
    // 0x100000 is past the firmware in bank 0; U-Boot's sectors are 128 KiB.
    expect(await guest.command('erase 0x100000 +0x40000')).toContain('Erased 2 sectors');
    expect(await guest.command('md.l 0x100000 4')).toBe('00100000: ffffffff ffffffff ffffffff ffffffff  ................\n');
    expect(await guest.command('cp.l 0x40000000 0x100000 0x400')).toContain('Copy to Flash... done');
    expect(await guest.command('cmp.l 0x40000000 0x100000 0x400')).toContain('Total of 1024 word(s) were the same');
  });

  it('saves its environment to flash bank 1', async () => {
    await guest.command('setenv warmboot_test flash-ok');
    const out = await guest.command('saveenv');
    expect(out).toContain('Saving Environment to Flash...');
    expect(out).toMatch(/Writing to Flash\.\.\. done\nProtected 2 sectors\nOK\n$/);
  });

  it('restarts with its MMU off on reset, and finds the saved environment', async () => {
    guest.type('reset\n');
    await guest.waitFor('resetting ...', 'the reset message');
    const secondBoot = await guest.stopAutoboot();
    expect(secondBoot).toMatch(BANNER);
    // Flash keeps what was programmed across the reset; RAM is reloaded.
    expect(secondBoot).toContain('Loading Environment from Flash... OK');
    expect(await guest.command('printenv warmboot_test')).toBe('warmboot_test=flash-ok\n');
    expect(await guest.command('md.l 0x100000 1')).not.toContain('ffffffff');
  });

  it('powers off with status 0', async () => {
    guest.type('poweroff\n');
    const { code, signal } = await guest.exit();
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(guest.stderr).toBe('');
  });
});

describe('U-Boot under warmboot and under QEMU', () => {
  function qemuAvailable(): void {
    const r = spawnSync('qemu-system-aarch64', ['--version'], { encoding: 'latin1' });
    if (r.status !== 0) throw new Error('qemu-system-aarch64 is missing: install Debian\'s qemu-system-arm package (.ci/run does)');
  }

  /** Boots U-Boot, runs the commands, powers off; returns each command's output. */
  async function session(command: string, args: string[], commands: string[]): Promise<string[]> {
    const c = new Console(command, args);
    try {
      await c.stopAutoboot();
      const outputs: string[] = [];
      for (const line of commands) {
        if (line === 'reset') {
          c.type('reset\n');
          outputs.push(await c.stopAutoboot());
        } else {
          outputs.push(await c.command(line));
        }
      }
      c.type('poweroff\n');
      expect((await c.exit()).code).toBe(0);
      return outputs;
    } finally {
      c.kill();
    }
  }

  it('probes the same flash geometry and contents', async () => {
    requireUboot();
    qemuAvailable();
    const commands = ['flinfo', 'md.l 0x0 8', 'md.l 0x000f0000 4', 'md.l 0x04000000 4', 'md.l 0x07fffff0 4'];
    const [ours, qemus] = await Promise.all([
      session(process.execPath, [CLI, ...MACHINE_ARGS], commands),
      session('qemu-system-aarch64', MACHINE_ARGS, commands),
    ]);
    for (let i = 0; i < commands.length; i++) expect(ours[i], commands[i]).toBe(qemus[i]);
    expect(ours[0]).toContain('CFI conformant flash (16 x 16)  Size: 32 MB in 256 Sectors');
    expect(ours[0]).toContain('Intel Extended command set, Manufacturer ID: 0x89, Device ID: 0x0018');
  });

  it('reloads the firmware into flash on reset, leaving the rest of the bank as programmed', async () => {
    requireUboot();
    qemuAvailable();
    // The last 128 KiB sector holding the image: its tail (U-Boot's device
    // tree) is firmware, the rest of it blank flash.
    const commands = ['protect off 0xe0000 +0x20000', 'erase 0xe0000 +0x20000', 'md.l 0xec000 4', 'reset', 'md.l 0xec000 4', 'md.l 0xf0000 4'];
    const [ours, qemus] = await Promise.all([
      session(process.execPath, [CLI, ...MACHINE_ARGS], commands),
      session('qemu-system-aarch64', MACHINE_ARGS, commands),
    ]);
    for (const i of [0, 1, 2, 4, 5]) expect(ours[i], commands[i]).toBe(qemus[i]);
    expect(ours[2]).toContain('000ec000: ffffffff ffffffff ffffffff ffffffff');
    expect(ours[4]).not.toContain('ffffffff');
    expect(ours[5]).toContain('000f0000: ffffffff ffffffff ffffffff ffffffff');
  });
});
