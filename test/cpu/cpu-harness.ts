// Runs small assembled programs on one vcpu of a real VirtualMachine and
// returns it for inspection: the directed instruction tests are built on this.
import { findCpuModel } from '../../src/cpu/cpu-models.js';
import type { Vcpu } from '../../src/cpu/vcpu.js';
import { VirtualMachine, type VmExit } from '../../runtime/virtual-machine.js';
import { assembleProgram } from '../asm/a64-assembler.js';
import { testJit } from '../jit/jit-mode.js';

export const CODE_BASE = 0x40000000n;
/** A scratch data area the tests load from and store to. */
export const DATA_BASE = 0x40100000n;

export interface RunResult {
  vm: VirtualMachine;
  cpu: Vcpu;
  exit: VmExit;
  labels: Map<string, bigint>;
  serial: string;
}

export interface RunSetup {
  /** Initial X registers by number. */
  x?: Record<number, bigint>;
  nzcv?: number;
  sp?: bigint;
  data?: Uint8Array;
  cpu?: string;
  maxInstructions?: number;
  /** Called before running, to set anything else up. */
  prepare?: (cpu: Vcpu, vm: VirtualMachine) => void;
}

/**
 * Assembles `source` at CODE_BASE, appends a final `end:` label, and runs
 * until the PC reaches it (or the instruction limit).
 */
export function runProgram(source: string, setup: RunSetup = {}): RunResult {
  const program = assembleProgram(`${source}\nend:\n  nop\n`, CODE_BASE);
  let serial = '';
  const vm = new VirtualMachine({
    ramBase: 0x40000000, ramSize: 16 * 1024 * 1024, cpus: 1,
    cpuModel: findCpuModel(setup.cpu ?? 'max')!,
    onSerialOutput: (b) => { serial += Buffer.from(b).toString('latin1'); },
    jit: testJit,
  });
  vm.writePhysical(Number(CODE_BASE), program.bytes);
  if (setup.data) vm.writePhysical(Number(DATA_BASE), setup.data);
  const cpu = vm.vcpus[0];
  cpu.reset(CODE_BASE);
  for (const [n, v] of Object.entries(setup.x ?? {})) cpu.setX(Number(n), v);
  if (setup.nzcv !== undefined) cpu.nzcv = setup.nzcv;
  cpu.sp = setup.sp ?? 0x40f00000n;
  setup.prepare?.(cpu, vm);
  const exit = vm.run({ breakpoint: program.labels.get('end'), maxInstructions: setup.maxInstructions ?? 1_000_000 });
  return { vm, cpu, exit, labels: program.labels, serial };
}

/** Runs `source` and asserts it reached its end, returning the vcpu. */
export function run(source: string, setup: RunSetup = {}): Vcpu {
  const res = runProgram(source, setup);
  if (res.exit.reason !== 'breakpoint') {
    throw new Error(`program did not reach its end: ${JSON.stringify(res.exit, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))} at pc 0x${res.cpu.pc.toString(16)}`);
  }
  return res.cpu;
}

export function u64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}
