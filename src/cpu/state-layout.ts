// Where a vcpu's architectural state lives inside the machine's one shared
// WebAssembly.Memory. Every value occupies an 8-byte slot, little-endian, so
// the interpreter (through an Int32Array: slot k is elements 2k and 2k+1) and
// generated Wasm (i64.load at offset 8k) see the same bits without copying.

export const VCPU_STATE_BYTES = 0x1000;
export const MAX_VCPUS = 64;

// General registers X0-X30 occupy slots 0-30.
/** The stack pointer of the current exception level and SPSel. */
export const SLOT_SP = 31;
/** Always zero: reads of XZR/WZR come from here. */
export const SLOT_ZR = 32;
/** Writes to XZR/WZR land here and are never read. */
export const SLOT_SINK = 33;
export const SLOT_PC = 34;
/** NZCV in bits 31:28 of the low word, as MRS NZCV returns it. */
export const SLOT_NZCV = 35;
/** The rest of PSTATE in SPSR layout: M[3:0], DAIF, IL, SS, PAN. */
export const SLOT_PSTATE = 36;
/** Banked stack pointers; the one selected by PSTATE is live in SLOT_SP. */
export const SLOT_SP_EL0 = 37;
export const SLOT_SP_EL1 = 38;
/** Exclusive monitor: tagged physical address, access size (0 = open), and the values loaded. */
export const SLOT_EXCL_ADDR = 39;
export const SLOT_EXCL_SIZE = 40;
export const SLOT_EXCL_VALUE = 41;
export const SLOT_EXCL_VALUE2 = 42;
/** Instructions retired by this vcpu, as a 64-bit count. */
export const SLOT_RETIRED = 43;
/**
 * The IRQ and FIQ lines the interrupt controller drives into this vcpu, at
 * the bit positions of PSTATE.I and PSTATE.F: an interrupt is deliverable
 * when (lines & ~PSTATE) is nonzero, which both tiers test between blocks.
 */
export const SLOT_IRQ_LINES = 44;
/**
 * The JIT's per-vcpu words (jit/layout.ts), at the end of the block, clear of
 * the system registers: the remaining instruction budget, the breakpoint,
 * slow-path results.
 */
export const SLOT_JIT_BASE = 496;
/** First slot of the system registers (see system-registers.ts). */
export const SLOT_SYSREG_BASE = 64;
export const SLOT_COUNT = VCPU_STATE_BYTES / 8;

// PSTATE bits in SPSR layout.
export const PSTATE_M_MASK = 0xf;
export const PSTATE_SP = 1 << 0;
export const PSTATE_F = 1 << 6;
export const PSTATE_I = 1 << 7;
export const PSTATE_A = 1 << 8;
export const PSTATE_D = 1 << 9;
export const PSTATE_DAIF = PSTATE_D | PSTATE_A | PSTATE_I | PSTATE_F;
export const PSTATE_IL = 1 << 20;
export const PSTATE_SS = 1 << 21;
export const PSTATE_PAN = 1 << 22;
export const PSTATE_NZCV_MASK = 0xf0000000;

/** PSTATE after a vcpu reset, as KVM sets it: EL1h with D, A, I, F masked. */
export const PSTATE_RESET = 0x3c5;
