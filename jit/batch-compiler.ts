// Turns a batch of regions into the bytes of one Wasm module. The same code
// runs on the vcpus' thread (--jit=on) and in the compile worker
// (jit/compile-worker.ts), so what goes in and comes out is plain data that
// crosses a postMessage: instruction words rather than their decodings, and
// the words of trampolined instructions rather than handler closures.
import { decode } from '../src/a64/decoder.js';
import type { Feature } from '../src/a64/decode-table.js';
import { type Binaryen, type CodegenEnv, newModule, RegionEmitter } from './codegen.js';
import type { Region } from './region.js';

/** A region reduced to what the compiler needs: each block's first PC and its words. */
export interface RegionWords {
  readonly hostPage: number;
  readonly ctx: number;
  readonly blocks: readonly { readonly pc: bigint; readonly words: readonly number[] }[];
}

/** What every module of one machine is generated against. */
export interface ModuleTarget {
  readonly memoryPages: number;
  readonly shared: boolean;
  readonly env: CodegenEnv;
  readonly features: readonly Feature[];
}

export interface CompiledBatch {
  /** Exports `r0`..`r<n-1>`, one function per region, in order. */
  readonly bytes: Uint8Array;
  /** Words of the instructions the trampoline runs, indexed by the id their call passes. */
  readonly trampolines: number[];
  readonly instructions: number;
  /** Building the Binaryen IR, then emitting the binary. */
  readonly buildMs: number;
  readonly emitMs: number;
}

export function regionWords(r: Region): RegionWords {
  return { hostPage: r.hostPage, ctx: r.ctx, blocks: r.blocks.map((b) => ({ pc: b.pc, words: b.insns.map((i) => i.word) })) };
}

export function regionFromWords(w: RegionWords, features: ReadonlySet<Feature>): Region {
  let instructions = 0;
  const blocks = w.blocks.map((b) => {
    instructions += b.words.length;
    return { pc: b.pc, insns: b.words.map((word, i) => ({ pc: b.pc + BigInt(4 * i), word, d: decode(word, features) })) };
  });
  return { hostPage: w.hostPage, ctx: w.ctx, blocks, instructions };
}

export function compileRegions(B: Binaryen, target: ModuleTarget, regions: readonly Region[]): CompiledBatch {
  const t0 = performance.now();
  const m = newModule(B, target.memoryPages, target.shared);
  const trampolines: number[] = [];
  let instructions = 0;
  try {
    regions.forEach((region, i) => {
      new RegionEmitter(B, m, target.env, region, trampolines).emit(`r${i}`);
      instructions += region.instructions;
    });
    const t1 = performance.now();
    const bytes = m.emitBinary();
    return { bytes, trampolines, instructions, buildMs: t1 - t0, emitMs: performance.now() - t1 };
  } finally {
    m.dispose();
  }
}
