// The embedding API of warmboot.
export { Machine, MachineConfigError, type MachineExit, type MachineOptions, type MachineStats } from './machine.js';
export { VirtualMachine, type RunOptions, type VmExit, type ExitCounters } from '../runtime/virtual-machine.js';
export { SystemEventType } from '../runtime/psci.js';
export { Vcpu } from './cpu/vcpu.js';
export { cpuModelNames } from './cpu/cpu-models.js';
export { ImageError } from './board/image-loader.js';
export { disassemble } from './a64/disassembler.js';
export { decode } from './a64/decoder.js';
export { loadBinaryen as loadJit } from '../jit/binaryen.js';
export type { JitStats } from '../jit/engine.js';
