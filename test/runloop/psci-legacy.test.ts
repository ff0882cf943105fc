// KVM's two PSCI personalities: a VM created with PSCI 0.1 answers only the
// 0.1 CPU_ON/CPU_OFF ids (kvm_psci_0_1_call), a 0.2+ VM only the standard ids.
import { describe, expect, it } from 'vitest';
import { handlePsciCall, type PsciHost } from '../../runtime/psci.js';
import { buildVirtDeviceTree } from '../../src/board/virt-device-tree.js';

const NOT_SUPPORTED = BigInt.asUintN(64, -1n);
const INVALID_PARAMETERS = BigInt.asUintN(64, -2n);

function host(on: boolean[]): PsciHost & { started: [number, bigint, bigint][] } {
  const started: [number, bigint, bigint][] = [];
  return {
    started,
    vcpuCount: on.length,
    mpidr: (i) => (1n << 31n) | BigInt(i),
    isOff: (i) => !on[i],
    powerOn: (i, entry, ctx) => { on[i] = true; started.push([i, entry, ctx]); },
  };
}

describe('PSCI 0.1 and 1.1 personalities', () => {
  it('a 0.1 VM starts a cpu with the 0.1 CPU_ON id and refuses an already-on one with INVALID_PARAMETERS', () => {
    const h = host([true, false]);
    expect(handlePsciCall(h, [0x95c1ba60n, 1n, 0x40001000n, 7n], '0.1')).toEqual({ kind: 'return', value: 0n });
    expect(h.started).toEqual([[1, 0x40001000n, 7n]]);
    expect(handlePsciCall(h, [0x95c1ba60n, 1n, 0x40001000n, 7n], '0.1')).toEqual({ kind: 'return', value: INVALID_PARAMETERS });
    expect(handlePsciCall(h, [0x95c1ba5fn, 0n, 0n, 0n], '0.1')).toEqual({ kind: 'cpu-off' });
  });

  it('a 0.1 VM does not answer the 0.2+ ids, and a 1.1 VM does not answer the 0.1 ids', () => {
    const h = host([true, false]);
    expect(handlePsciCall(h, [0x84000000n, 0n, 0n, 0n], '0.1')).toEqual({ kind: 'return', value: NOT_SUPPORTED });
    expect(handlePsciCall(h, [0xc4000003n, 1n, 0x40001000n, 0n], '0.1')).toEqual({ kind: 'return', value: NOT_SUPPORTED });
    expect(handlePsciCall(h, [0x95c1ba60n, 1n, 0x40001000n, 0n], '1.1')).toEqual({ kind: 'return', value: NOT_SUPPORTED });
    expect(h.started).toEqual([]);
  });

  it('the device tree of a 0.1 VM names the 0.1 ids under the original binding', () => {
    const dtb = buildVirtDeviceTree({ ramBase: 0x40000000, ramSize: 128 << 20, cpus: 2, gicVersion: 3, psciMethod: 'hvc', psciVersion: '0.1' });
    const text = Buffer.from(dtb).toString('latin1');
    expect(text).toContain('arm,psci\0');
    expect(text).not.toContain('arm,psci-0.2');
    const view = Buffer.from(dtb);
    // cpu_on's value appears big-endian in the structure block.
    expect(view.indexOf(Buffer.from([0x95, 0xc1, 0xba, 0x60]))).toBeGreaterThan(0);
  });
});
