// System events as the seed review settled them for KVM: SYSTEM_OFF/RESET
// stop every vcpu and exit to the embedder, who may honour the event, reboot,
// or run the vcpus again (the caller then reads PSCI INTERNAL_FAILURE). A
// reboot re-initialises vcpus that have run, so stage 2 is unmapped: the
// restarted guest, MMU off, faults every page back in and sees what the VMM
// wrote into RAM (the images, reloaded) and what the guest left elsewhere.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SystemEventType } from '../../runtime/psci.js';
import {
  boot, buildGuests, describeExit, guestPath, mismatches, parseResults, readU64, repoRoot, ret, runOnce, runQemu,
} from './harness.js';

const INTERNAL_FAILURE = ret(-6);
/** KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2 */
const FLAG_PSCI_RESET2 = 1n;

// sysevent.c's fixed addresses.
const COUNTERS_ADDR = 0x46800000;
const RESULTS_ADDR = 0x46800400;
const HINT_RESUME = 2n;
const counter = (m: ReturnType<typeof boot>['machine'], cpu: number): bigint => readU64(m, COUNTERS_ADDR + cpu * 0x100);

// reset.c's fixed addresses.
const MARKER_ADDR = 0x46000000;
const CPU1_COUNTER_ADDR = 0x46000100;
const PATTERN_PAGES = 16;

/** KVM's reset state (kvm_reset_vcpu, sys_regs.c reset values). */
const SCTLR_RESET = 0x00c50078n;
const PSTATE_RESET = 0x3c5;

describe('system events', () => {
  beforeAll(() => buildGuests());

  describe('SYSTEM_OFF from a secondary while the other vcpus run', () => {
    it('prints what QEMU prints and stops', () => {
      const q = runQemu('sysevent', { smp: 4 });
      expect(q.status).toBe(0);
      const b = boot('sysevent', { cpus: 4 });
      const exit = runOnce(b);
      expect(exit, describeExit(exit, b.output())).toEqual({ reason: 'system-event', type: SystemEventType.Shutdown, flags: 0n, vcpu: 2 });
      expect(b.output()).toBe(q.stdout);
    });

    it('stops every vcpu, not just the caller: running again executes nothing', () => {
      const b = boot('sysevent', { cpus: 4 });
      const exit = runOnce(b);
      expect(exit.reason).toBe('system-event');
      const m = b.machine;
      const before = { c0: counter(m, 0), c1: counter(m, 1), pcs: m.vm.vcpus.map((v) => v.pc), insns: m.stats().instructions };
      // Both counting vcpus were running when the event came.
      expect(before.c0).toBeGreaterThan(1000n);
      expect(before.c1).toBeGreaterThan(1000n);
      expect(m.run({ maxInstructions: 1_000_000 }).reason).toBe('all-vcpus-off');
      expect(counter(m, 0)).toBe(before.c0);
      expect(counter(m, 1)).toBe(before.c1);
      expect(m.vm.vcpus.map((v) => v.pc)).toEqual(before.pcs);
      expect(m.stats().instructions).toEqual(before.insns);
      expect(readU64(m, RESULTS_ADDR + 16), 'cpu 2 went on after SYSTEM_OFF').toBe(0n);
    });

    it('presets the caller\'s x0 to INTERNAL_FAILURE; an embedder that resumes sees it returned, and the others go on', () => {
      const b = boot('sysevent', { cpus: 4 });
      const exit = runOnce(b);
      expect(exit).toMatchObject({ reason: 'system-event', vcpu: 2 });
      const m = b.machine;
      expect(m.vm.vcpus[2].getX(0)).toBe(INTERNAL_FAILURE);
      const c0 = counter(m, 0), c1 = counter(m, 1);
      m.resume();
      expect(m.run({ maxInstructions: 2_000_000 }).reason).toBe('instruction-limit');
      expect(readU64(m, RESULTS_ADDR + 16), 'SYSTEM_OFF returned in cpu 2').toBe(1n);
      expect(readU64(m, RESULTS_ADDR + 8)).toBe(INTERNAL_FAILURE);
      expect(counter(m, 0)).toBeGreaterThan(c0);
      expect(counter(m, 1)).toBeGreaterThan(c1);
      // cpu 3 was never powered on, and resuming must not change that.
      expect(m.stats().instructions[3]).toBe(0);
    });
  });

  it('SYSTEM_OFF, SYSTEM_RESET and SYSTEM_RESET2 each exit with their type and flags and return INTERNAL_FAILURE when resumed', () => {
    const b = boot('sysevent', { cpus: 4, hints: HINT_RESUME });
    const m = b.machine;
    const events: { type: SystemEventType; flags: bigint }[] = [];
    for (;;) {
      const exit = runOnce(b);
      if (exit.reason !== 'system-event') throw new Error(describeExit(exit, b.output()));
      events.push({ type: exit.type, flags: exit.flags });
      if (b.output().includes('sysevent: done\n')) break;
      expect(m.vm.vcpus[0].getX(0)).toBe(INTERNAL_FAILURE);
      m.resume();
    }
    expect(events).toEqual([
      { type: SystemEventType.Shutdown, flags: 0n },
      { type: SystemEventType.Reset, flags: 0n },
      { type: SystemEventType.Reset, flags: FLAG_PSCI_RESET2 },
      { type: SystemEventType.Reset, flags: FLAG_PSCI_RESET2 },
      // The final SYSTEM_OFF, not resumed.
      { type: SystemEventType.Shutdown, flags: 0n },
    ]);
    expect(mismatches(parseResults(b.output()), new Map([
      ['system_off_returned', INTERNAL_FAILURE],
      ['system_reset_returned', INTERNAL_FAILURE],
      ['system_reset2_warm_returned', INTERNAL_FAILURE],
      ['system_reset2_vendor_returned', INTERNAL_FAILURE],
      ['still_answering', 0x10001n],
    ]))).toEqual([]);
  });

  for (const variant of ['reset', 'reset-mmu'] as const) {
    describe(`SYSTEM_RESET (${variant === 'reset' ? 'MMU off' : 'taken with the MMU and caches on'})`, () => {
      /** What each boot reports, from the PSCI spec and KVM's reset state. */
      const expected = new Map<string, bigint>([
        ['b1_entry_x0', 0n], // an ELF is entered with every register zero, as QEMU does
        ['b1_entry_x1_to_x30', 0n],
        ['b1_entry_sp', 0n],
        ['b1_entry_currentel', 4n],
        ['b1_entry_daif', 0x3c0n],
        ['b1_entry_sctlr_m_c_i', 0n],
        ['b1_entry_spsel', 1n],
        ['b1_image_data', 0xdeadbeefn],
        ['b1_image_code', 1n],
        ['b1_image_code_patched', 2n],
        ['b1_cpu_on_cpu1', 0n],
        ['b1_cpu1_counting', 1n],
        ...(variant === 'reset-mmu' ? [
          ['b1_sctlr_m_c_i_after_enable', 0x1005n],
          ['b1_image_code_with_mmu', 2n],
        ] as [string, bigint][] : []),
        // Back at the entry at EL1h, DAIF masked, MMU and caches off.
        ['b2_entry_x0', 0n],
        ['b2_entry_x1_to_x30', 0n],
        ['b2_entry_sp', 0n],
        ['b2_entry_currentel', 4n],
        ['b2_entry_daif', 0x3c0n],
        ['b2_entry_sctlr_m_c_i', 0n],
        ['b2_entry_spsel', 1n],
        // RAM outside the images keeps what boot 1 wrote.
        ['b2_marker_boots', 1n],
        ['b2_pattern_pages_intact', BigInt(PATTERN_PAGES)],
        // The images are loaded again: data as built, code as built.
        ['b2_image_data', 0x1111222233334444n],
        ['b2_image_code', 1n],
        // cpu 1 was spinning at the reset: now it is off and does not run...
        ['b2_affinity_cpu1', 1n],
        ['b2_cpu1_counter_still', 1n],
        ['b2_cpu1_entries', 0n],
        // ...until CPU_ON starts it again.
        ['b2_cpu_on_cpu1', 0n],
        ['b2_cpu1_restarted', 1n],
      ]);
      // QEMU's cortex-a57 resets SCTLR_EL1 to 0x00C50838 and leaves Z set; KVM's reset state is asserted for warmboot.
      const kvmOnly = new Map<string, bigint>([
        ['b1_entry_sctlr', SCTLR_RESET], ['b2_entry_sctlr', SCTLR_RESET],
        ['b1_entry_nzcv', 0n], ['b2_entry_nzcv', 0n],
      ]);
      const withoutKvmOnly = (out: string): string => out.split('\n').filter((l) => !kvmOnly.has(l.split(':')[0])).join('\n');

      it('QEMU reboots the guest into the same report', () => {
        const q = runQemu(variant, { smp: 4 });
        expect(q.status).toBe(0);
        expect(mismatches(parseResults(q.stdout), expected)).toEqual([]);
        expect(q.stdout).toContain('reset: done\n');
      });

      it('exits with the reset event; reboot() restarts only the boot vcpu, at the entry in the reset state, stage 2 unmapped', () => {
        const b = boot(variant, { cpus: 4 });
        const m = b.machine;
        const entry = m.vm.vcpus[0].pc;
        const exit = runOnce(b);
        expect(exit, describeExit(exit, b.output())).toEqual({ reason: 'system-event', type: SystemEventType.Reset, flags: 0n, vcpu: 0 });
        if (variant === 'reset-mmu') expect(m.vm.vcpus[0].sysreg('SCTLR_EL1') & 0x1005n).toBe(0x1005n);
        // Every vcpu stopped, the spinning cpu 1 included.
        const spun = readU64(m, CPU1_COUNTER_ADDR);
        expect(spun).toBeGreaterThan(0n);
        expect(m.run({ maxInstructions: 100_000 }).reason).toBe('all-vcpus-off');
        expect(readU64(m, CPU1_COUNTER_ADDR)).toBe(spun);

        const s1 = m.stats();
        expect(s1.stage2MappedPages, 'pages the guest touched are mapped at stage 2').toBeGreaterThan(PATTERN_PAGES);
        expect(s1.decodedPages).toBeGreaterThan(0);
        const marker = m.vm.readPhysical(MARKER_ADDR, 16);

        m.reboot();
        const s2 = m.stats();
        expect(s2.reboots).toBe(1);
        expect(s2.stage2MappedPages, 'reboot unmaps all of stage 2').toBe(0);
        expect(s2.decodedPages, 'no decoded code survives the unmap').toBe(0);
        expect(s2.stage2Faults, 'the VMM reloading the images is not a guest fault').toBe(s1.stage2Faults);
        expect(s2.invalidations['stage2-unmap'] - s1.invalidations['stage2-unmap']).toBeGreaterThanOrEqual(s1.decodedPages);
        expect(m.vm.readPhysical(MARKER_ADDR, 16), 'the VMM leaves RAM outside the images alone').toEqual(marker);
        expect(m.vm.powered).toEqual([true, false, false, false]);
        const v0 = m.vm.vcpus[0];
        expect(v0.pc).toBe(entry);
        expect(v0.pstate).toBe(PSTATE_RESET);
        expect(v0.sysreg('SCTLR_EL1')).toBe(SCTLR_RESET);
        for (let i = 0; i < 31; i++) expect(v0.getX(i), `x${i}`).toBe(0n);

        // A first stretch of boot 2 runs the boot vcpu alone.
        expect(m.run({ maxInstructions: 20_000 }).reason).toBe('instruction-limit');
        expect(m.stats().instructions.slice(1)).toEqual(s2.instructions.slice(1));
        expect(readU64(m, CPU1_COUNTER_ADDR)).toBe(spun);

        const exit2 = runOnce(b);
        expect(exit2, describeExit(exit2, b.output())).toMatchObject({ reason: 'system-event', type: SystemEventType.Shutdown });
        const s3 = m.stats();
        // Every page boot 2 touches faults in again: the pattern pages, the marker's, the image's.
        expect(s3.stage2Faults - s2.stage2Faults).toBeGreaterThanOrEqual(PATTERN_PAGES + 2);
        expect(s3.stage2MappedPages).toBeGreaterThanOrEqual(PATTERN_PAGES + 2);
        // Each page mapped now was faulted in once since the reboot, none kept from before.
        expect(s3.stage2MappedPages).toBe(s3.stage2Faults - s2.stage2Faults);
        // The reloaded image is decoded afresh.
        expect(s3.decodedPages).toBeGreaterThan(0);

        const results = parseResults(b.output());
        expect(mismatches(results, new Map([...expected, ...kvmOnly]), { exhaustive: true })).toEqual([]);
      });

      it('prints what QEMU prints across the reboot (KVM\'s reset values apart)', () => {
        const q = runQemu(variant, { smp: 4 });
        const b = boot(variant, { cpus: 4 });
        const exit = b.machine.runToCompletion();
        expect(exit, describeExit(exit, b.output())).toMatchObject({ reason: 'system-event', type: SystemEventType.Shutdown });
        expect(b.machine.stats().reboots).toBe(1);
        expect(withoutKvmOnly(b.output())).toBe(withoutKvmOnly(q.stdout));
      });

      it('the command line reboots like QEMU, and exits after the first boot with -no-reboot', () => {
        const cli = path.join(repoRoot, 'dist/src/warmboot-command.js');
        for (const extra of [[], ['-no-reboot']]) {
          const q = runQemu(variant, { smp: 4, extra });
          const args = ['-M', 'virt', '-cpu', 'cortex-a57', '-smp', '4', '-m', '128M', '-nographic', '-kernel', guestPath(variant), ...extra];
          const w = spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
          expect(w.status, `${extra.join(' ')}: ${w.stderr}`).toBe(0);
          expect(q.status).toBe(0);
          expect(withoutKvmOnly(w.stdout.toString('latin1'))).toBe(withoutKvmOnly(q.stdout));
          expect(q.stdout.includes('reset: boot 2'), extra.join(' ')).toBe(extra.length === 0);
        }
      });
    });
  }
});
