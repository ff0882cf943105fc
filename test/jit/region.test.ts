// Region discovery (jit/region.ts) on assembled code: which blocks a region
// takes and where they end.
import { describe, expect, it } from 'vitest';
import { discoverRegion, endsBlock, MAX_BLOCK_INSNS, MAX_REGION_INSNS } from '../../jit/region.js';
import { findCpuModel } from '../../src/cpu/cpu-models.js';
import { assembleProgram } from '../asm/a64-assembler.js';

const BASE = 0x40000000n;
const features = findCpuModel('max')!.features;

function regionOf(source: string): ReturnType<typeof discoverRegion> {
  const p = assembleProgram(source, BASE);
  const page = new Uint8Array(4096);
  page.set(p.bytes.subarray(0, 4096));
  return discoverRegion(new DataView(page.buffer), features, BASE, 0, 0);
}

describe('region discovery', () => {
  it('stops at the size limit before a block it would cut short, so no block of it ends mid-way', () => {
    // 40 blocks of 5 instructions, each ending in a conditional branch: more than a region holds.
    const blocks = Array.from({ length: 40 }, (_, i) => `b${i}:\n  add x1, x1, #1\n  add x2, x2, #1\n  add x3, x3, #1\n  add x4, x4, #1\n  cbz x0, b${(i + 7) % 40}`);
    const region = regionOf(blocks.join('\n'));
    expect(region.instructions).toBeLessThanOrEqual(MAX_REGION_INSNS);
    expect(region.blocks.length).toBe(Math.floor(MAX_REGION_INSNS / 5));
    for (const b of region.blocks) {
      expect(b.insns.length).toBe(5);
      expect(endsBlock(b.insns[b.insns.length - 1].d)).toBe(true);
    }
  });

  it('splits straight-line code at the block limit and takes only whole blocks', () => {
    const long = Array.from({ length: 200 }, () => '  add x1, x1, #1').join('\n');
    const region = regionOf(`${long}\n  ret`);
    const full = Math.floor(MAX_REGION_INSNS / MAX_BLOCK_INSNS);
    expect(region.blocks.map((b) => b.insns.length)).toEqual(Array(full).fill(MAX_BLOCK_INSNS));
  });
});
