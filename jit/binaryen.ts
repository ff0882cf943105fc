// Binaryen is a large Wasm module (about 15 MB of JavaScript and Wasm): it is
// loaded once per process, lazily, and only when a machine wants the JIT.
import type { Binaryen } from './codegen.js';

let loaded: Binaryen | undefined;
let loading: Promise<Binaryen> | undefined;
/** Wall time the load took, for --stats and the benchmarks. */
export let binaryenLoadMs = 0;

/** Loads Binaryen (once); the JIT tier can be used when this has resolved. */
export function loadBinaryen(): Promise<Binaryen> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= (async () => {
    const t0 = performance.now();
    const mod = await import('binaryen');
    loaded = mod.default;
    binaryenLoadMs = performance.now() - t0;
    return loaded;
  })();
  return loading;
}

/** Binaryen if loadBinaryen() has completed, else undefined. */
export function binaryenIfLoaded(): Binaryen | undefined {
  return loaded;
}
