// Linux, the largest real guest no one here wrote: Debian's arm64 cloud kernel
// (fetched by bench/fetch-linux-kernel.sh, which .ci/run calls) booted without
// a root file system, to the panic that ends every such boot, under
// qemu-system-aarch64 and under the warmboot command with the same options.
// Both consoles must tell the same story: every line the two have in common
// comes in the same order, the panic's call trace is the same, and warmboot's
// has no warning, oops or BUG. The lines they do not share are the devices
// and features warmboot does not model (PCIe, GPIO, PMU, FP/SIMD, KASLR).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { jitCliArgs } from '../jit/jit-mode.js';

const root = resolve(__dirname, '../..');
const CLI = resolve(root, 'dist/src/warmboot-command.js');
const IMAGE = process.env.WARMBOOT_LINUX_IMAGE ?? resolve(root, 'bench/out/linux/Image');
const ARGS = ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '512M', '-nographic', '-kernel', IMAGE,
  '-append', 'console=ttyAMA0 earlycon=pl011,0x09000000 panic=-1', '-no-reboot'];
/** The interpreter alone boots it in about 30 s here; CI machines are slower and shared. */
const TIMEOUT_MS = 600_000;

interface Boot {
  status: number | null;
  lines: string[];
  raw: string;
}

function boot(command: string, args: string[]): Boot {
  const r = spawnSync(command, args, { encoding: 'latin1', timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  const raw = (r.stdout ?? '') + (r.stderr ?? '');
  // Timestamps differ by nature; the rest of each line is the kernel's own.
  const lines = raw.split(/\r?\n/).map((l) => l.replace(/^\[\s*\d+\.\d+\] /, '').trimEnd()).filter((l) => l !== '');
  return { status: r.status, lines, raw };
}

/** The panic's backtrace: function+offset/size lines between "Call trace:" and the end of the trace. */
function callTrace(b: Boot): string[] {
  const start = b.lines.indexOf('Call trace:');
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of b.lines.slice(start + 1)) {
    if (!/^ \S+\+0x[0-9a-f]+\/0x[0-9a-f]+$/.test(l)) break;
    out.push(l);
  }
  return out;
}

let qemu: Boot;
let warmboot: Boot;

beforeAll(() => {
  if (!existsSync(IMAGE)) {
    throw new Error(`${IMAGE} is missing: run bash bench/fetch-linux-kernel.sh (.ci/run does), or set WARMBOOT_LINUX_IMAGE to an arm64 Image`);
  }
  qemu = boot('qemu-system-aarch64', ARGS);
  warmboot = boot(process.execPath, [CLI, ...ARGS, ...jitCliArgs()]);
}, 2 * TIMEOUT_MS);

describe("Debian's Linux kernel, booted to its root-fs panic", () => {
  it('ends the same way under QEMU and warmboot: the panic, then the reset -no-reboot turns into an exit', () => {
    const panic = 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)';
    expect(qemu.status, qemu.raw.slice(-3000)).toBe(0);
    expect(qemu.lines).toContain(panic);
    expect(warmboot.status, warmboot.raw.slice(-3000)).toBe(0);
    expect(warmboot.lines).toContain(panic);
  });

  it('prints every line the two consoles share in the same order', () => {
    const inQemu = new Set(qemu.lines), inWarmboot = new Set(warmboot.lines);
    const shared = warmboot.lines.filter((l) => inQemu.has(l));
    expect(shared).toEqual(qemu.lines.filter((l) => inWarmboot.has(l)));
    // Most of the boot: what is missing is the hardware warmboot leaves out.
    expect(shared.length).toBeGreaterThan(0.6 * qemu.lines.length);
    for (const milestone of [
      'Machine model: linux,dummy-virt', 'psci: PSCIv1.1 detected in firmware.', 'Root IRQ handler: gic_handle_irq',
      'clocksource: Switched to clocksource arch_sys_counter', 'Serial: AMBA PL011 UART driver', 'rtc-pl031 9010000.pl031: registered as rtc0',
    ]) expect(shared).toContain(milestone);
  });

  it('unwinds the same call trace at the panic, and warns about nothing', () => {
    const trace = callTrace(qemu);
    expect(trace.length).toBeGreaterThan(5);
    expect(callTrace(warmboot)).toEqual(trace);
    const bad = warmboot.lines.filter((l) => /WARNING:|Oops|BUG:|Internal error|Unable to handle|Unexpected|segfault/.test(l));
    expect(bad).toEqual([]);
  });
});
