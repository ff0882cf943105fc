// CPU_ON/CPU_OFF races on 4 vcpus (test/guests/cpuonoff): the boot cpu cycles
// the secondaries on and off, then the secondaries power each other on,
// racing for the same targets, counting with exclusives and (on ARMv8.1+
// models) LSE atomics. What must hold is PSCI's race rule as KVM implements
// it: a target's power state changes under its lock before CPU_ON returns, so
// of several CPU_ONs to one powered-off cpu exactly one succeeds and the rest
// read ALREADY_ON, and every SUCCESS is one entry at the entry point.
import { beforeAll, describe, expect, it } from 'vitest';
import { SystemEventType } from '../../runtime/psci.js';
import { boot, buildGuests, describeExit, mismatches, parseResults, runOnce, runQemu } from './harness.js';

const ROUNDS = 30n, TICKETS = 300n;

function expected(lse: boolean): Map<string, bigint> {
  return new Map<string, bigint>([
    ['lse', lse ? 1n : 0n],
    // Phase A: the boot cpu powers each secondary on ROUNDS times; every
    // CPU_ON finds its target OFF and succeeds, every target enters once and
    // powers itself off.
    ['inv_a_not_off_before_on', 0n],
    ['inv_a_on_not_success', 0n],
    ['inv_a_not_entered', 0n],
    ['inv_a_not_off_after', 0n],
    ['inv_a_entries_llsc', 3n * ROUNDS],
    ['inv_a_entries_lse', 3n * ROUNDS],
    ['inv_a_ctx_sum_ok', 1n],
    ['inv_a_entries_cpu1', ROUNDS],
    ['inv_a_entries_cpu2', ROUNDS],
    ['inv_a_entries_cpu3', ROUNDS],
    // Phase B: every ticket is one CPU_ON, answered SUCCESS or ALREADY_ON.
    ['inv_b_attempts', TICKETS],
    ['inv_b_answers_other_than_success_or_already_on', 0n],
    ['inv_b_llsc_matches_lse', 1n],
    ['inv_b_tickets_left', 0n],
    ['strict_b_finished', 1n],
    ['strict_b_entries_match_successes', 1n],
    ['strict_b_ctx_sums_match', 1n],
    ['strict_b_all_off', 1n],
    ['strict_b_on_pending', 0n],
  ]);
}

function runWarmboot(cpu: string): { output: string; instructions: number[]; exits: unknown } {
  const b = boot('cpuonoff', { cpus: 4, cpu });
  const exit = runOnce(b);
  const output = b.output();
  expect(exit.reason === 'system-event' && exit.type === SystemEventType.Shutdown, describeExit(exit, output)).toBe(true);
  expect(output).toContain('cpuonoff: done\n');
  const stats = b.machine.stats();
  return { output, instructions: stats.instructions, exits: stats.exits };
}

describe('CPU_ON/CPU_OFF races on 4 vcpus', () => {
  beforeAll(() => buildGuests());

  for (const [cpu, lse] of [['cortex-a57', false], ['cortex-a76', true]] as const) {
    describe(`${cpu} (${lse ? 'LSE atomics and exclusives' : 'exclusives only'})`, () => {
      it('keeps every PSCI race invariant', () => {
        const { output } = runWarmboot(cpu);
        expect(mismatches(parseResults(output), expected(lse))).toEqual([]);
        expect(output).not.toContain('unexpected exception');
      });

      it('is deterministic: two runs print the same and retire the same instructions on every vcpu', () => {
        const first = runWarmboot(cpu);
        const second = runWarmboot(cpu);
        expect(second.output).toBe(first.output);
        expect(second.instructions).toEqual(first.instructions);
        expect(second.exits).toEqual(first.exits);
        // The secondaries really ran: each retired instructions of its own.
        for (const n of first.instructions) expect(n).toBeGreaterThan(0);
      });

      it('QEMU (TCG) agrees on the invariants that hold under TCG too', () => {
        const q = runQemu('cpuonoff', { smp: 4, cpu });
        expect(q.status, q.stdout).toBe(0);
        // TCG's arm_set_cpu_on leaves the target OFF until it runs, so the
        // strict_ lines (one SUCCESS per entry) do not hold there.
        const shared = new Map([...expected(lse)].filter(([k]) => !k.startsWith('strict_')));
        expect(mismatches(parseResults(q.stdout), shared)).toEqual([]);
      });
    });
  }
});
