// Small assembled guests on a whole VirtualMachine (GIC, timers, run loop),
// for the interrupt and time tests. A guest is the body of `_start`; this
// adds an EL1 vector table whose entries branch to labels the body may
// define (vec_irq_spx, vec_fiq_spx, vec_irq_el0, vec_sync_spx, ...) and
// otherwise to a trap that records the vector and powers off. The execution
// tier follows WARMBOOT_JIT (test/jit/jit-mode.ts).
import { findCpuModel } from '../../src/cpu/cpu-models.js';
import type { Vcpu } from '../../src/cpu/vcpu.js';
import { type RunOptions, VirtualMachine, type VmConfig, type VmExit } from '../../runtime/virtual-machine.js';
import { assembleProgram } from '../asm/a64-assembler.js';
import { testJit } from '../jit/jit-mode.js';

export const BASE = 0x40000000n;
export const STACK_TOP = 0x40f00000n;

const VECTOR_NAMES = [
  'sync_sp0', 'irq_sp0', 'fiq_sp0', 'serror_sp0',
  'sync_spx', 'irq_spx', 'fiq_spx', 'serror_spx',
  'sync_el0', 'irq_el0', 'fiq_el0', 'serror_el0',
  'sync_el0_32', 'irq_el0_32', 'fiq_el0_32', 'serror_el0_32',
];

/** PSCI SYSTEM_OFF through HVC: the guest's way to end a test. */
export const POWER_OFF = `
  movz w0, #0x0008
  movk w0, #0x8400, lsl #16
  hvc #0
`;

/** GICv3 bring-up on cpu 0: distributor groups on, redistributor awake, every SGI/PPI in Group 1 and enabled, PMR open. */
export const GICV3_INIT = `
  movz x9, #0x0800, lsl #16
  mov w10, #3
  str w10, [x9]
  movz x11, #0x080a, lsl #16
  str wzr, [x11, #0x14]
  movz x12, #0x080b, lsl #16
  movn w10, #0
  str w10, [x12, #0x80]
  str w10, [x12, #0x100]
  mov x10, #0xff
  msr icc_pmr_el1, x10
  mov x10, #1
  msr icc_igrpen1_el1, x10
  isb
`;

/** GICv2 bring-up on cpu 0: distributor and CPU interface on (Group 0, signalled as IRQ), every SGI/PPI enabled, PMR open. x11 = GICC. */
export const GICV2_INIT = `
  movz x9, #0x0800, lsl #16
  mov w10, #1
  str w10, [x9]
  movn w10, #0
  str w10, [x9, #0x100]
  movz x11, #0x0801, lsl #16
  mov w10, #0xff
  str w10, [x11, #4]
  mov w10, #1
  str w10, [x11]
`;

/** Acknowledge into x6 and EOI, for each GIC version (GICv2 needs x11 = GICC from GICV2_INIT). */
export const ACK_EOI = {
  3: `  mrs x6, icc_iar1_el1\n  msr icc_eoir1_el1, x6\n`,
  2: `  ldr w6, [x11, #0xc]\n  str w6, [x11, #0x10]\n`,
} as const;

export const GIC_INIT = { 3: GICV3_INIT, 2: GICV2_INIT } as const;

export interface Guest {
  readonly vm: VirtualMachine;
  readonly cpu: Vcpu;
  readonly labels: Map<string, bigint>;
  serial(): string;
  run(opts?: RunOptions): VmExit;
}

/**
 * Assembles `body` as `_start` at BASE (stack and VBAR set up first) and
 * returns a machine ready to run it. Vectors the body does not handle land
 * at `unexpected`, which leaves the vector number in x28 and powers off.
 */
export function loadGuest(body: string, cfg: Partial<VmConfig> = {}): Guest {
  const handled = new Set([...body.matchAll(/^\s*vec_([a-z0-9_]+):/gm)].map((m) => m[1]));
  const vectors = VECTOR_NAMES.map((name, i) => `  .balign 128\n  ${handled.has(name) ? `b vec_${name}` : `mov x28, #${i}\n  b unexpected`}`).join('\n');
  const source = `
_start:
  adr x0, vectors
  msr vbar_el1, x0
  isb
${body}
unexpected:
${POWER_OFF}
  .balign 2048
vectors:
${vectors}
`;
  const program = assembleProgram(source, BASE);
  let serial = '';
  const vm = new VirtualMachine({
    ramBase: 0x40000000, ramSize: 16 * 1024 * 1024, cpus: 1, cpuModel: findCpuModel('cortex-a57')!,
    onSerialOutput: (b) => { serial += Buffer.from(b).toString('latin1'); },
    jit: testJit,
    // These probes were written against a GICv3 (ICC_* registers) unless they say otherwise.
    gicVersion: 3,
    ...cfg,
  });
  vm.writePhysical(Number(BASE), program.bytes);
  for (const v of vm.vcpus) v.reset(BASE);
  const cpu = vm.vcpus[0];
  cpu.sp = STACK_TOP;
  return { vm, cpu, labels: program.labels, serial: () => serial, run: (opts) => vm.run(opts) };
}

/** Runs to PSCI SYSTEM_OFF and fails with the exit otherwise. */
export function runToPowerOff(g: Guest, opts: RunOptions = {}): void {
  const exit = g.run({ maxInstructions: 50_000_000, ...opts });
  if (exit.reason !== 'system-event') {
    throw new Error(`guest did not power off: ${JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))} at pc 0x${g.cpu.pc.toString(16)}, x28=${g.cpu.getX(28)}`);
  }
}

export function label(g: Guest, name: string): bigint {
  const v = g.labels.get(name);
  if (v === undefined) throw new Error(`no label ${name}`);
  return v;
}
