// The command-line spellings of this options: -icount as QEMU spells
// it (with the sleep=off meaning warmboot implements) and gic-version.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs, parseIcount } from '../../src/cli.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demo = path.join(repoRoot, 'src/demo-guest/demo.elf');

describe('-icount', () => {
  it('accepts shift=N, a bare N, sleep=off and align=off', () => {
    expect(parseIcount('shift=3')).toEqual({ shift: 3 });
    expect(parseIcount('5')).toEqual({ shift: 5 });
    expect(parseIcount('shift=0,sleep=off')).toEqual({ shift: 0 });
    expect(parseIcount('shift=10,align=off,sleep=off')).toEqual({ shift: 10 });
  });

  it('refuses what it does not implement, by name', () => {
    expect(() => parseIcount('shift=auto')).toThrow(/shift=auto is not supported/);
    expect(() => parseIcount('shift=3,sleep=on')).toThrow(/sleep=on is not supported/);
    expect(() => parseIcount('shift=11')).toThrow(/expected 0 to 10/);
    expect(() => parseIcount('sleep=off')).toThrow(/give shift=N/);
    expect(() => parseIcount('shift=2,rr=record')).toThrow(/property 'rr' is not supported/);
    expect(() => parseIcount('shift=1,align=on')).toThrow(/align=on is not supported/);
  });

  it('reaches the Machine options', () => {
    const o = parseArgs(['-icount', 'shift=2,sleep=off', '-M', 'virt,gic-version=2', '-kernel', demo]);
    if (typeof o === 'string') throw new Error(o);
    expect(o.machine.icount).toEqual({ shift: 2 });
    expect(o.machine.gicVersion).toBe(2);
  });

  it('the demo guest prints the same under -icount as without', () => {
    const cli = path.join(repoRoot, 'dist/src/warmboot-command.js');
    const args = ['-M', 'virt', '-cpu', 'cortex-a57', '-nographic', '-kernel', demo];
    const plain = spawnSync(process.execPath, [cli, ...args], { encoding: 'latin1', timeout: 60_000 });
    const icount = spawnSync(process.execPath, [cli, ...args, '-icount', 'shift=1'], { encoding: 'latin1', timeout: 60_000 });
    expect(plain.status).toBe(0);
    expect(icount.status).toBe(0);
    expect(icount.stdout).toBe(plain.stdout);
  });
});
