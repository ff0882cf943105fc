// Region discovery: from a hot block start, the blocks of the same 4 KiB code
// page reachable through direct branches and fall-through. A region becomes
// one Wasm function, so a loop whose blocks all sit on one page runs without
// leaving it, with the guest registers in Wasm locals throughout.
import { decode, type DecodedInstruction } from '../src/a64/decoder.js';
import type { Feature } from '../src/a64/decode-table.js';
import { CODE_PAGE_BYTES } from '../src/cpu/code-pages.js';

export interface Insn {
  readonly pc: bigint;
  readonly word: number;
  readonly d: DecodedInstruction | undefined;
}

export interface Block {
  readonly pc: bigint;
  readonly insns: Insn[];
}

export interface Region {
  /** Host offset of the code page. */
  readonly hostPage: number;
  /** The blocks; blocks[0] is the entry that got hot. */
  readonly blocks: Block[];
  readonly ctx: number;
  readonly instructions: number;
}

/** Limits that keep one function's compile time and nesting bounded. */
export const MAX_BLOCK_INSNS = 64;
export const MAX_REGION_BLOCKS = 48;
export const MAX_REGION_INSNS = 128;

/** Instructions after which the next one starts a new block. */
const TERMINATORS = new Set(['B_UNCOND', 'B_COND', 'CB', 'TB', 'BR', 'BLR', 'RET', 'ERET', 'SVC', 'HVC', 'SMC', 'BRK', 'HLT', 'UDF']);

export function endsBlock(d: DecodedInstruction | undefined): boolean {
  return d === undefined || TERMINATORS.has(d.name);
}

function signExtend(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

/** Direct successors of a block's last instruction (targets and fall-through), as PCs. */
export function successors(last: Insn): bigint[] {
  const d = last.d;
  const next = last.pc + 4n;
  if (d === undefined) return [];
  const f = d.fields;
  switch (d.name) {
    case 'B_UNCOND': {
      const target = last.pc + BigInt(signExtend(f.imm26, 26) * 4);
      return f.op ? [target, next] : [target];
    }
    case 'B_COND': return [last.pc + BigInt(signExtend(f.imm19, 19) * 4), next];
    case 'CB': return [last.pc + BigInt(signExtend(f.imm19, 19) * 4), next];
    case 'TB': return [last.pc + BigInt(signExtend(f.imm14, 14) * 4), next];
    // Return points: where RET or ERET comes back to.
    case 'BLR': case 'SVC': case 'HVC': case 'SMC': return [next];
    case 'BR': case 'RET': case 'ERET': case 'BRK': case 'HLT': case 'UDF': return [];
    default: return [next];
  }
}

/**
 * Reads the blocks of the region entered at `entryPc` (whose instruction is
 * at host offset `entryHost`), breadth first, so the blocks nearest the hot
 * one make it in under the limits.
 */
export function discoverRegion(
  dv: DataView, features: ReadonlySet<Feature>, entryPc: bigint, entryHost: number, ctx: number,
): Region {
  const pageOffset = entryHost & (CODE_PAGE_BYTES - 1);
  const hostPage = entryHost - pageOffset;
  const pagePc = entryPc - BigInt(pageOffset);
  const blocks: Block[] = [];
  const seen = new Set<bigint>();
  const work: bigint[] = [entryPc];
  let total = 0;
  while (work.length > 0 && blocks.length < MAX_REGION_BLOCKS && total < MAX_REGION_INSNS) {
    const start = work.shift()!;
    if (seen.has(start)) continue;
    seen.add(start);
    const insns: Insn[] = [];
    let pc = start;
    let cut = false;
    for (;;) {
      const off = Number(pc - pagePc);
      const word = dv.getUint32(hostPage + off, true);
      const d = decode(word, features);
      insns.push({ pc, word, d });
      if (endsBlock(d) || insns.length >= MAX_BLOCK_INSNS) break;
      if (total + insns.length >= MAX_REGION_INSNS) {
        cut = true;
        break;
      }
      pc += 4n;
      if (pc - pagePc >= BigInt(CODE_PAGE_BYTES)) break;
    }
    // A block the size limit would cut short stays out: its code would leave
    // the region mid-block, at a PC no branch goes to, which the dispatcher
    // misses on every pass (a loop there would bounce between the tiers
    // until that PC got hot on its own). Its own region takes it whole.
    if (cut && blocks.length > 0) break;
    total += insns.length;
    const block = { pc: start, insns };
    blocks.push(block);
    const last = insns[insns.length - 1];
    const succ = endsBlock(last.d) ? successors(last) : [last.pc + 4n];
    for (const s of succ) {
      if (s >= pagePc && s < pagePc + BigInt(CODE_PAGE_BYTES) && (s & 3n) === 0n && !seen.has(s)) work.push(s);
    }
  }
  return { hostPage, blocks, ctx, instructions: total };
}
