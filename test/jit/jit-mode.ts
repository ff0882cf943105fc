// The execution tier the test suites run under, from WARMBOOT_JIT:
//   off      the interpreter only
//   first    the JIT, compiling every block at its first execution
//   default  the JIT as machines get it by default: the default hotness
//            threshold, regions compiled in the background worker (which
//            VirtualMachine-level suites start at once, where a Machine
//            waits for 2M instructions)
// Suites that build machines pass `testJit` (VirtualMachine) or
// `jitCliArgs()` (the warmboot command) so every suite runs in each mode.
import { loadBinaryen } from '../../jit/binaryen.js';
import type { JitOptions } from '../../jit/engine.js';

export type JitMode = 'off' | 'first' | 'default';

function modeFromEnv(): JitMode {
  const v = process.env.WARMBOOT_JIT ?? 'default';
  if (v === 'off' || v === 'first' || v === 'default') return v;
  throw new Error(`WARMBOOT_JIT must be off, first or default, not '${v}'`);
}

export const JIT_MODE: JitMode = modeFromEnv();

export const testJit: JitOptions | undefined = JIT_MODE === 'off'
  ? undefined
  : JIT_MODE === 'first' ? { binaryen: await loadBinaryen(), threshold: 1 } : { workerAfter: 0 };

/** The same mode as a Machine's `jit` option (with `jitThreshold: testJit?.threshold`). */
export function jitMachineMode(): 'off' | 'on' | 'auto' {
  return JIT_MODE === 'off' ? 'off' : JIT_MODE === 'first' ? 'on' : 'auto';
}

/** The same mode as warmboot command-line options. */
export function jitCliArgs(): string[] {
  switch (JIT_MODE) {
    case 'off': return ['--jit=off'];
    case 'first': return ['--jit=on', '--jit-threshold=1'];
    default: return [];
  }
}
