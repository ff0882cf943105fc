// Where the JIT keeps its state in the machine's shared memory, and the codes
// generated code and the dispatcher return. Everything generated code reads at
// run time is addressed here, so TypeScript and Wasm agree on one set of bytes.
import { CODE_PAGE_BYTES } from '../src/cpu/code-pages.js';
import { SLOT_JIT_BASE } from '../src/cpu/state-layout.js';

// ---- Per-vcpu words, byte offsets inside the vcpu's state block ----

/** i32: instructions the vcpu may still retire in this slice; blocks check and decrement it. */
export const JIT_BUDGET = 8 * SLOT_JIT_BASE;
/** i32: 1 while a breakpoint is set (blocks holding it are left to the interpreter). */
export const JIT_BP_ON = 8 * (SLOT_JIT_BASE + 1);
/** i64: the breakpoint's virtual address. */
export const JIT_BP = 8 * (SLOT_JIT_BASE + 2);
/** i64: a slow-path load leaves its raw (zero-extended) value here. */
export const JIT_SCRATCH = 8 * (SLOT_JIT_BASE + 3);
/** i32: the length of the block an EXIT_INTERPRET left to the interpreter. */
export const JIT_INFO = 8 * (SLOT_JIT_BASE + 4);
/**
 * i32: the vcpu's translation context (contextOf), kept by the engine. The
 * translation controls in force are latched by the vcpu at context
 * synchronisation, so they are not simply the SCTLR_EL1 bits in the state block.
 */
export const JIT_CTX = 8 * (SLOT_JIT_BASE + 5);
/** i32: the byte address of the vcpu's data TLB (its instruction TLB follows: src/cpu/tlb.ts). */
export const JIT_TLB = 8 * (SLOT_JIT_BASE + 6);

// ---- The reserved area (GuestMemory.reservedOffset) ----

/**
 * Dispatch table entries: direct-mapped, 32 bytes each: pcLo, pcHi, context,
 * region<<10 | block, and the host page the code was read from (checked
 * through the instruction TLB when stage 1 is on). A block pushed out by a
 * collision runs interpreted until it gets hot again, and a Linux boot keeps
 * about 20 000 blocks live: 128K entries (4 MiB) keep collisions rare.
 */
export const HASH_BITS = 17;
export const HASH_ENTRIES = 1 << HASH_BITS;
export const HASH_ENTRY_BYTES = 32;
export const HASH_BYTES = HASH_ENTRIES * HASH_ENTRY_BYTES;

/** The CRC32 and CRC32C byte tables generated code looks up (256 words each). */
export const CRC_TABLE_BYTES = 2 * 1024;

/** Bytes to reserve for a memory whose buffer will be at most `bufferBytes`, with `tlbBytes` of TLBs. */
export function reservedBytesFor(bufferBytes: number, tlbBytes: number): number {
  return HASH_BYTES + CRC_TABLE_BYTES + tlbBytes + flagBytesFor(bufferBytes);
}

export function flagBytesFor(bufferBytes: number): number {
  // Rounded up so the area stays 64-bit aligned after it.
  return Math.ceil(Math.ceil(bufferBytes / CODE_PAGE_BYTES) / 16) * 16;
}

/**
 * The reserved area: the dispatch hash table, the CRC tables, the vcpus'
 * TLBs, then one code-page flag byte per 4 KiB.
 */
export interface JitArea {
  readonly hashBase: number;
  /** CRC32 table at crcBase, CRC32C table 1 KiB after. */
  readonly crcBase: number;
  readonly tlbBase: number;
  readonly flagsBase: number;
  readonly flagsBytes: number;
}

export function jitArea(reservedOffset: number, reservedBytes: number, tlbBytes: number): JitArea {
  const crcBase = reservedOffset + HASH_BYTES;
  const tlbBase = crcBase + CRC_TABLE_BYTES;
  const flagsBase = tlbBase + tlbBytes;
  return { hashBase: reservedOffset, crcBase, tlbBase, flagsBase, flagsBytes: reservedOffset + reservedBytes - flagsBase };
}

/** The dispatch hash of a block key; the same arithmetic is generated in the dispatcher. */
export function hashKey(pcLo: number, pcHi: number, ctx: number): number {
  return ((pcLo >>> 2) ^ Math.imul(pcHi, 0x9e3779b1) ^ Math.imul(ctx, 0x85ebca6b) ^ (pcLo >>> 17)) & (HASH_ENTRIES - 1);
}

// ---- Translation context: the state a block's code depends on besides its bytes ----

/**
 * bits 1:0 EL, bit 2 stage-1 MMU on, bit 3 alignment checking (SCTLR_EL1.A),
 * bit 4 SP alignment checking for the current EL (SA, or SA0 at EL0), bit 5
 * PSTATE.IL (never compiled: the interpreter raises the illegal-state
 * exception), bit 6 PSTATE.PAN at EL1 (which TLB permission bits apply).
 */
export function contextOf(pstate: number, sctlr: number, mmuOn: boolean, alignCheck: boolean): number {
  const el = (pstate >> 2) & 3;
  return el | (mmuOn ? CTX_MMU : 0) | (alignCheck ? CTX_ALIGN : 0) | (((sctlr >> (el === 0 ? 4 : 3)) & 1) << 4)
    | (((pstate >> 20) & 1) << 5) | (el !== 0 && (pstate & (1 << 22)) !== 0 ? CTX_PAN : 0);
}
export const CTX_PAN = 1 << 6;
export const CTX_MMU = 1 << 2;
export const CTX_ALIGN = 1 << 3;
export const CTX_SP_ALIGN = 1 << 4;
export const CTX_IL = 1 << 5;

// ---- Codes ----

/** Region and dispatcher results. */
export const enum JitCode {
  /** The PC in the state block is where to go on; the dispatcher looks it up. */
  Continue = 0,
  /** Leave Wasm: the vcpu set an exit (HVC, WFI, an internal error). */
  Exit = 1,
  /** The block at the PC must run in the interpreter (budget shorter than it, or a breakpoint in it). */
  Interpret = 2,
  /** No translation for the PC: back to the interpreter. */
  Miss = 3,
}

/**
 * What a helper called from generated code (trampoline, memory slow path)
 * reports, as bits: 0 = carry on inline.
 */
export const HELPER_LEAVE = 1; // leave the region: the PC in the state block is current
export const HELPER_NOT_RETIRED = 2; // the instruction faulted and does not count
export const HELPER_EXIT = 4; // leave Wasm too: c.exit is set
export const HELPER_NEXT_PC = 8; // leave after this instruction at PC+4 (it changed code)
