// Self- and cross-modifying code (test/guests/selfmod): code rewritten
// hundreds of times with DC CVAU + DSB + IC IVAU/IALLU + DSB + ISB between the
// write and the run must always execute the new instructions: in a data page,
// on the very page that is executing (the called function and the next
// instruction), and on another vcpu. The guest counts stale runs itself; its
// whole output is deterministic, so QEMU's must match byte for byte.
import { beforeAll, describe, expect, it } from 'vitest';
import { SystemEventType } from '../../runtime/psci.js';
import { boot, buildGuests, describeExit, runOnce, runQemu } from './harness.js';

const CASES: [string, number][] = [
  ['data page, ic ivau', 500],
  ['data page, ic iallu', 300],
  ['data page, changing shapes', 600],
  ['executing page, called function', 500],
  ['executing page, next instruction', 500],
  ['cross-modifying, cpu 0 writes, cpu 1 runs', 300],
];
const REWRITES = CASES.reduce((n, [, k]) => n + k, 0);

describe('self-modifying code', () => {
  beforeAll(() => buildGuests());

  for (const variant of ['selfmod', 'selfmod-mmu'] as const) {
    for (const cpu of ['cortex-a57', 'max']) {
      describe(`${variant === 'selfmod' ? 'MMU off' : 'MMU and caches on'}, ${cpu}`, () => {
        it('always runs the rewritten code, and prints what QEMU prints', () => {
          const b = boot(variant, { cpus: 2, cpu });
          const exit = runOnce(b);
          const out = b.output();
          expect(exit.reason === 'system-event' && exit.type === SystemEventType.Shutdown, describeExit(exit, out)).toBe(true);
          expect(out).toContain('selfmod: page-local code fits one page: 1\n');
          for (const [name, n] of CASES) {
            expect(out).toMatch(new RegExp(`^${name}: iterations ${n} wrong 0 checksum 0x[0-9a-f]{16}$`, 'm'));
          }
          expect(out).toContain('selfmod: done\n');
          if (variant === 'selfmod-mmu') expect(out).toContain('selfmod: mmu on, sctlr m/c/i 1005\n');

          const q = runQemu(variant, { smp: 2, cpu });
          expect(q.status).toBe(0);
          expect(out).toBe(q.stdout);

          // Each rewrite of code that had been decoded dropped the decoded copy.
          const inv = b.machine.stats().invalidations;
          expect(inv['guest-store'] + inv['ic-maintenance']).toBeGreaterThanOrEqual(REWRITES);
        });
      });
    }
  }
});
