// One virtual CPU: its state block in the shared memory, exception entry and
// return, and the data-access path from virtual address to RAM or device.
import type { Feature } from '../a64/decode-table.js';
import { CodePageIndex, DecodedPage } from './code-pages.js';
import { type CpuModel, idRegisterValue } from './cpu-models.js';
import type { PhysicalBus } from './physical-bus.js';
import {
  PSTATE_DAIF, PSTATE_IL, PSTATE_NZCV_MASK, PSTATE_PAN, PSTATE_RESET, PSTATE_SS, SLOT_COUNT, SLOT_EXCL_SIZE,
  SLOT_NZCV, SLOT_PC, SLOT_PSTATE, SLOT_RETIRED, SLOT_SP, SLOT_SP_EL0, SLOT_SP_EL1, VCPU_STATE_BYTES,
} from './state-layout.js';
import { type SysregHost, type SysregNameT, SYSREGS, sysregSlotOf } from './system-registers.js';

/**
 * Thrown by the data-access path after it has delivered a synchronous
 * exception to the guest: the instruction is abandoned and the loop resumes at
 * the vector. A plain object, so throwing captures no stack.
 */
export const GUEST_FAULT = { guestFault: true } as const;

const INVALID_PAGE = (() => {
  const p = new DecodedPage();
  p.valid = false;
  return p;
})();

/** Why a vcpu stopped executing and returned to the run loop. */
export const enum VcpuExit {
  None = 0,
  Hvc = 1,
  Smc = 2,
  Wfi = 3,
  Wfe = 4,
  /** The PC reached the breakpoint the embedder asked for. */
  Breakpoint = 5,
  /** The instruction budget of this time slice ran out. */
  BudgetExhausted = 6,
  /** The guest needs something warmboot does not implement; see Vcpu.internalError. */
  InternalError = 7,
}

// Exception classes (ESR_ELx.EC) this vcpu raises.
export const EC_UNKNOWN = 0x00;
export const EC_WFX = 0x01;
export const EC_FP_ACCESS = 0x07;
export const EC_ILLEGAL_STATE = 0x0e;
export const EC_SVC64 = 0x15;
export const EC_SYSREG = 0x18;
export const EC_IABORT_LOWER = 0x20;
export const EC_IABORT_SAME = 0x21;
export const EC_PC_ALIGN = 0x22;
export const EC_DABORT_LOWER = 0x24;
export const EC_DABORT_SAME = 0x25;
export const EC_SP_ALIGN = 0x26;
export const EC_BRK64 = 0x3c;

// Fault status codes for data and instruction aborts.
export const FSC_ADDRESS_SIZE_L0 = 0x00;
export const FSC_EXTERNAL = 0x10;
export const FSC_ALIGNMENT = 0x21;

const SCTLR_A = 1 << 1;
const SCTLR_SA = 1 << 3;
const SCTLR_SA0 = 1 << 4;
const SCTLR_M = 1 << 0;

export interface VcpuConfig {
  readonly bus: PhysicalBus;
  readonly codePages: CodePageIndex;
  readonly index: number;
  readonly stateOffset: number;
  readonly model: CpuModel;
  /** The generic timer's counter, in CNTFRQ ticks. */
  readonly counter: () => number;
}

export class Vcpu implements SysregHost {
  readonly r: Int32Array;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly bus: PhysicalBus;
  readonly codePages: CodePageIndex;
  readonly codeFlags: Uint8Array;
  readonly vcpuIndex: number;
  readonly stateOffset: number;
  readonly model: CpuModel;
  readonly features: ReadonlySet<Feature>;
  private readonly counter: () => number;

  // The RAM window of the fast data path.
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ramHost: number;

  /** Cached from SCTLR_EL1 at each write: the fast path must not re-read it. */
  alignCheck = false;
  mmuEnabled = false;

  /** Set by an instruction that must leave the execution loop. */
  exit: VcpuExit = VcpuExit.None;
  /** The immediate of the HVC/SMC that exited. */
  exitImm = 0;
  /** Retired instructions not yet folded into SLOT_RETIRED. */
  retired = 0;
  /** Scratch result of 64-bit loads: low and high words. */
  vLo = 0;
  vHi = 0;
  /** The physical address of the last data access (for the exclusive monitor and MMIO). */
  lastPa = 0;
  /** The WFE event register. */
  eventRegister = false;
  /** SEV: sets the event register of every vcpu of the machine (the run loop replaces this). */
  sendEvent: () => void = () => { this.eventRegister = true; };
  /** Why execution cannot go on, when exit is InternalError. */
  internalError = '';
  /** When set, every executed instruction is reported here first (--trace). */
  tracer: ((pc: bigint, word: number) => void) | undefined = undefined;
  /** When set, execution stops with exit Breakpoint before running the instruction at this PC. */
  breakpoint: bigint | undefined = undefined;
  breakpointHit = false;
  /** The code page the loop last ran from, and its host offset. */
  lastPage: DecodedPage = INVALID_PAGE;
  lastPageHost = -1;

  private readonly slotOf: Record<string, number>;

  constructor(cfg: VcpuConfig) {
    this.bus = cfg.bus;
    this.codePages = cfg.codePages;
    this.codeFlags = cfg.codePages.flags;
    this.vcpuIndex = cfg.index;
    this.stateOffset = cfg.stateOffset;
    this.model = cfg.model;
    this.features = cfg.model.features;
    this.counter = cfg.counter;
    this.r = new Int32Array(cfg.bus.buffer, cfg.stateOffset, VCPU_STATE_BYTES / 4);
    this.u8 = new Uint8Array(cfg.bus.buffer);
    this.dv = new DataView(cfg.bus.buffer);
    this.ramBase = cfg.bus.ramBase;
    this.ramSize = cfg.bus.ramSize;
    this.ramHost = cfg.bus.ramHostOffset;
    this.slotOf = Object.fromEntries(SYSREGS.map((d) => [d.name, d.slot]));
    this.reset(0n);
  }

  // ---- State as the embedder and tests see it ----

  /** Puts the vcpu in the reset state KVM gives it: registers zero, EL1h with DAIF masked, MMU off. */
  reset(entry: bigint): void {
    this.r.fill(0, 0, SLOT_COUNT * 2);
    this.setSlot(SLOT_PC, entry);
    this.r[2 * SLOT_PSTATE] = PSTATE_RESET;
    for (const def of SYSREGS) {
      const v = def.reset === 'id' ? idRegisterValue(this.model, def.name, this.vcpuIndex) : def.reset;
      this.setSlot(def.slot, v);
    }
    this.exit = VcpuExit.None;
    this.retired = 0;
    this.translationChanged();
  }

  getSlot(slot: number): bigint {
    return BigInt(this.r[2 * slot] >>> 0) | (BigInt(this.r[2 * slot + 1] >>> 0) << 32n);
  }

  setSlot(slot: number, v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.r[2 * slot] = Number(u & 0xffffffffn) | 0;
    this.r[2 * slot + 1] = Number(u >> 32n) | 0;
  }

  getX(n: number): bigint {
    if (n < 0 || n > 30) throw new RangeError(`X${n} is not a general register`);
    return this.getSlot(n);
  }

  setX(n: number, v: bigint): void {
    if (n < 0 || n > 30) throw new RangeError(`X${n} is not a general register`);
    this.setSlot(n, v);
  }

  get pc(): bigint {
    return this.getSlot(SLOT_PC);
  }

  set pc(v: bigint) {
    this.setSlot(SLOT_PC, v);
  }

  /** The stack pointer PSTATE currently selects. */
  get sp(): bigint {
    return this.getSlot(SLOT_SP);
  }

  set sp(v: bigint) {
    this.setSlot(SLOT_SP, v);
  }

  /** NZCV in bits 31:28, as MRS NZCV reads it. */
  get nzcv(): number {
    return this.r[2 * SLOT_NZCV] >>> 0;
  }

  set nzcv(v: number) {
    this.r[2 * SLOT_NZCV] = v & PSTATE_NZCV_MASK;
  }

  get pstate(): number {
    return (this.r[2 * SLOT_PSTATE] | this.r[2 * SLOT_NZCV]) >>> 0;
  }

  get el(): number {
    return (this.r[2 * SLOT_PSTATE] >> 2) & 3;
  }

  get instructionsRetired(): number {
    return Number(this.getSlot(SLOT_RETIRED)) + this.retired;
  }

  /** Folds the loop's retired count into the state block. */
  syncRetired(): void {
    if (this.retired === 0) return;
    const lo = (this.r[2 * SLOT_RETIRED] >>> 0) + this.retired;
    this.r[2 * SLOT_RETIRED] = lo | 0;
    this.r[2 * SLOT_RETIRED + 1] = (this.r[2 * SLOT_RETIRED + 1] + Math.floor(lo / 0x100000000)) | 0;
    this.retired = 0;
  }

  sysreg(name: SysregNameT): bigint {
    return this.getSlot(this.slotOf[name]);
  }

  setSysreg(name: SysregNameT, v: bigint): void {
    this.setSlot(this.slotOf[name], v);
    this.translationChanged();
  }

  // ---- SysregHost ----

  counterTicks(): number {
    return this.counter();
  }

  sysregSlot(name: SysregNameT): number {
    return this.slotOf[name];
  }

  idValue(name: SysregNameT): bigint {
    return idRegisterValue(this.model, name, this.vcpuIndex);
  }

  translationChanged(): void {
    const sctlr = this.r[2 * this.slotOf.SCTLR_EL1];
    this.alignCheck = (sctlr & SCTLR_A) !== 0;
    this.mmuEnabled = (sctlr & SCTLR_M) !== 0;
    if (this.mmuEnabled) {
      // Running on as if translation were off would silently corrupt the guest.
      this.exit = VcpuExit.InternalError;
      this.internalError = 'the guest enabled the stage-1 MMU (SCTLR_EL1.M), which this version of warmboot does not implement yet';
    }
  }

  // ---- PSTATE, stack pointer banking ----

  /** Writes PSTATE's non-NZCV bits, moving SP between banks when EL or SPSel change. */
  writePstate(v: number): void {
    const old = this.r[2 * SLOT_PSTATE];
    const oldBank = spBankSlot(old);
    const newBank = spBankSlot(v);
    if (oldBank !== newBank) {
      const r = this.r;
      r[2 * oldBank] = r[2 * SLOT_SP];
      r[2 * oldBank + 1] = r[2 * SLOT_SP + 1];
      r[2 * SLOT_SP] = r[2 * newBank];
      r[2 * SLOT_SP + 1] = r[2 * newBank + 1];
    }
    this.r[2 * SLOT_PSTATE] = v & ~PSTATE_NZCV_MASK;
  }

  /** The value of SP_EL0 or SP_EL1 whichever bank it is in. */
  bankedSp(el: 0 | 1): bigint {
    const bank = el === 0 ? SLOT_SP_EL0 : SLOT_SP_EL1;
    return spBankSlot(this.r[2 * SLOT_PSTATE]) === bank ? this.getSlot(SLOT_SP) : this.getSlot(bank);
  }

  setBankedSp(el: 0 | 1, v: bigint): void {
    const bank = el === 0 ? SLOT_SP_EL0 : SLOT_SP_EL1;
    this.setSlot(spBankSlot(this.r[2 * SLOT_PSTATE]) === bank ? SLOT_SP : bank, v);
  }

  // ---- Exceptions ----

  /**
   * Takes a synchronous exception to EL1: ELR gets the preferred return
   * address (lo/hi), ESR the syndrome, FAR the fault address when given.
   */
  takeException(ec: number, iss: number, elrLo: number, elrHi: number, farLo?: number, farHi?: number): void {
    const r = this.r;
    const pstate = r[2 * SLOT_PSTATE];
    const fromEl = (pstate >> 2) & 3;
    const spsr = this.slotOf.SPSR_EL1;
    r[2 * spsr] = pstate | r[2 * SLOT_NZCV];
    r[2 * spsr + 1] = 0;
    const elr = this.slotOf.ELR_EL1;
    r[2 * elr] = elrLo;
    r[2 * elr + 1] = elrHi;
    const esr = this.slotOf.ESR_EL1;
    r[2 * esr] = (ec << 26) | (1 << 25) | (iss & 0x1ffffff);
    r[2 * esr + 1] = 0;
    if (farLo !== undefined) {
      const far = this.slotOf.FAR_EL1;
      r[2 * far] = farLo;
      r[2 * far + 1] = farHi ?? 0;
    }
    let offset: number;
    if (fromEl === 0) offset = 0x400;
    else offset = (pstate & 1) !== 0 ? 0x200 : 0;
    let next = (pstate & ~(0xf | PSTATE_IL | PSTATE_SS)) | 0x5 | PSTATE_DAIF;
    if (this.features.has('pan') && (r[2 * this.slotOf.SCTLR_EL1] & (1 << 23)) === 0) next |= PSTATE_PAN;
    this.writePstate(next);
    const vbar = this.slotOf.VBAR_EL1;
    const lo = (r[2 * vbar] >>> 0) + offset;
    r[2 * SLOT_PC] = lo | 0;
    r[2 * SLOT_PC + 1] = r[2 * vbar + 1];
    r[2 * SLOT_EXCL_SIZE] = 0;
    if ((lo | 0) === elrLo && r[2 * vbar + 1] === elrHi) {
      // The exception's own vector faults the same way: the guest can never
      // leave this loop, so say so instead of spinning (QEMU would hang).
      this.exit = VcpuExit.InternalError;
      this.internalError = `guest is stuck: exception class 0x${ec.toString(16)} at 0x${hex64(elrLo, elrHi)} vectors to itself (VBAR_EL1 = 0x${hex64(r[2 * vbar], r[2 * vbar + 1])}, ESR_EL1 = 0x${(r[2 * esr] >>> 0).toString(16)})`;
    }
  }

  /** UNDEFINED at the current instruction (EC 0). */
  undefinedInstruction(): void {
    this.takeException(EC_UNKNOWN, 0, this.r[2 * SLOT_PC], this.r[2 * SLOT_PC + 1]);
  }

  /** Delivers a data abort for the current instruction and abandons it. */
  dataAbort(vaLo: number, vaHi: number, write: boolean, fsc: number): never {
    const ec = this.el === 0 ? EC_DABORT_LOWER : EC_DABORT_SAME;
    this.takeException(ec, (write ? 1 << 6 : 0) | fsc, this.r[2 * SLOT_PC], this.r[2 * SLOT_PC + 1], vaLo, vaHi);
    throw GUEST_FAULT;
  }

  /** SP alignment fault when SP is the base of a load or store. */
  checkSpAlignment(): void {
    const r = this.r;
    if ((r[2 * SLOT_SP] & 15) === 0) return;
    const sctlr = r[2 * this.slotOf.SCTLR_EL1];
    if ((sctlr & (this.el === 0 ? SCTLR_SA0 : SCTLR_SA)) === 0) return;
    this.takeException(EC_SP_ALIGN, 0, r[2 * SLOT_PC], r[2 * SLOT_PC + 1]);
    throw GUEST_FAULT;
  }

  /** Forgets every cached translation (called when stage 2 or a memslot changes). */
  flushTlb(): void {
    // Translations are not cached yet: each access walks from scratch.
    this.lastPageHost = -1;
  }

  // ---- Instruction fetch ----

  /**
   * The host offset of the instruction at PC, or -1 after delivering an
   * instruction abort (the PC then points at the vector).
   */
  fetchOffset(pcLo: number, pcHi: number): number {
    if ((pcHi >>> 16) === 0) {
      const pa = pcHi * 0x100000000 + (pcLo >>> 0);
      const off = pa - this.ramBase;
      if (off >= 0 && off + 4 <= this.ramSize) return this.ramHost + off;
      const slot = this.bus.memslotOffset(pa, 4, false);
      if (slot >= 0) return slot;
      this.instructionAbort(pcLo, pcHi, FSC_EXTERNAL);
    } else {
      this.instructionAbort(pcLo, pcHi, FSC_ADDRESS_SIZE_L0);
    }
    return -1;
  }

  private instructionAbort(pcLo: number, pcHi: number, fsc: number): void {
    this.takeException(this.el === 0 ? EC_IABORT_LOWER : EC_IABORT_SAME, fsc, pcLo, pcHi, pcLo, pcHi);
  }

  // ---- Data access ----

  /**
   * Translates a data address for an access of `size` bytes and returns its
   * byte offset in the shared buffer, or -1 for a device (physical address in
   * lastPa). Faults are delivered to the guest and thrown as GUEST_FAULT.
   */
  translate(vaLo: number, vaHi: number, size: number, write: boolean, mustAlign: boolean): number {
    if ((vaLo & (size - 1)) !== 0 && (mustAlign || this.alignCheck)) {
      this.dataAbort(vaLo, vaHi, write, FSC_ALIGNMENT);
    }
    // With stage 1 off, the physical address is the virtual one, and anything
    // beyond the 48-bit physical range is an address size fault.
    if ((vaHi >>> 16) !== 0) this.dataAbort(vaLo, vaHi, write, FSC_ADDRESS_SIZE_L0);
    const pa = vaHi * 0x100000000 + (vaLo >>> 0);
    this.lastPa = pa;
    const off = pa - this.ramBase;
    if (off >= 0 && off + size <= this.ramSize) return this.ramHost + off;
    const slot = this.bus.memslotOffset(pa, size, write);
    if (slot >= 0) return slot;
    return -1;
  }

  private deviceRead(vaLo: number, vaHi: number, size: number): number {
    const v = this.bus.mmioRead(this.lastPa, size, this.vcpuIndex);
    if (v === undefined) this.dataAbort(vaLo, vaHi, false, FSC_EXTERNAL);
    return v;
  }

  private deviceWrite(vaLo: number, vaHi: number, size: number, value: number): void {
    if (!this.bus.mmioWrite(this.lastPa, size, value, this.vcpuIndex)) this.dataAbort(vaLo, vaHi, true, FSC_EXTERNAL);
  }

  read8(vaLo: number, vaHi: number): number {
    const off = this.translate(vaLo, vaHi, 1, false, false);
    return off >= 0 ? this.u8[off] : this.deviceRead(vaLo, vaHi, 1) & 0xff;
  }

  read16(vaLo: number, vaHi: number, mustAlign = false): number {
    const off = this.translate(vaLo, vaHi, 2, false, mustAlign);
    return off >= 0 ? this.dv.getUint16(off, true) : this.deviceRead(vaLo, vaHi, 2) & 0xffff;
  }

  /** Returns the word as a signed 32-bit number. */
  read32(vaLo: number, vaHi: number, mustAlign = false): number {
    const off = this.translate(vaLo, vaHi, 4, false, mustAlign);
    return off >= 0 ? this.dv.getInt32(off, true) : this.deviceRead(vaLo, vaHi, 4) | 0;
  }

  /** Leaves the doubleword in vLo/vHi. */
  read64(vaLo: number, vaHi: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 8, false, mustAlign);
    if (off >= 0) {
      this.vLo = this.dv.getInt32(off, true);
      this.vHi = this.dv.getInt32(off + 4, true);
    } else {
      this.vLo = this.deviceRead(vaLo, vaHi, 4) | 0;
      const pa = this.lastPa;
      this.lastPa = pa + 4;
      this.vHi = this.deviceRead(vaLo, vaHi, 4) | 0;
      this.lastPa = pa;
    }
  }

  write8(vaLo: number, vaHi: number, value: number): void {
    const off = this.translate(vaLo, vaHi, 1, true, false);
    if (off >= 0) {
      if (this.codeFlags[off >>> 12] !== 0) this.codePages.invalidatePage(off >>> 12, 'guest-store');
      this.u8[off] = value;
    } else this.deviceWrite(vaLo, vaHi, 1, value & 0xff);
  }

  write16(vaLo: number, vaHi: number, value: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 2, true, mustAlign);
    if (off >= 0) {
      this.noteCodeWrite(off, 2);
      this.dv.setUint16(off, value, true);
    } else this.deviceWrite(vaLo, vaHi, 2, value & 0xffff);
  }

  write32(vaLo: number, vaHi: number, value: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 4, true, mustAlign);
    if (off >= 0) {
      this.noteCodeWrite(off, 4);
      this.dv.setInt32(off, value, true);
    } else this.deviceWrite(vaLo, vaHi, 4, value >>> 0);
  }

  write64(vaLo: number, vaHi: number, lo: number, hi: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 8, true, mustAlign);
    if (off >= 0) {
      this.noteCodeWrite(off, 8);
      this.dv.setInt32(off, lo, true);
      this.dv.setInt32(off + 4, hi, true);
    } else {
      const pa = this.lastPa;
      this.deviceWrite(vaLo, vaHi, 4, lo >>> 0);
      this.lastPa = pa + 4;
      this.deviceWrite(vaLo, vaHi, 4, hi >>> 0);
      this.lastPa = pa;
    }
  }

  /** Host offset for an atomic read-modify-write: RAM only, aligned; devices get an external abort. */
  translateAtomic(vaLo: number, vaHi: number, size: number, write: boolean): number {
    const off = this.translate(vaLo, vaHi, size, write, true);
    if (off < 0) this.dataAbort(vaLo, vaHi, write, FSC_EXTERNAL);
    if (write) this.noteCodeWrite(off, size);
    return off;
  }

  noteCodeWrite(off: number, size: number): void {
    const f = this.codeFlags;
    if (f[off >>> 12] !== 0) this.codePages.invalidatePage(off >>> 12, 'guest-store');
    const end = (off + size - 1) >>> 12;
    if (end !== off >>> 12 && f[end] !== 0) this.codePages.invalidatePage(end, 'guest-store');
  }
}

function hex64(lo: number, hi: number): string {
  return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16).padStart(16, '0');
}

/** The banked SP slot a PSTATE value selects: EL0 and EL1t use SP_EL0, EL1h SP_EL1. */
function spBankSlot(pstate: number): number {
  return (pstate & 0xf) === 5 ? SLOT_SP_EL1 : SLOT_SP_EL0;
}

export { sysregSlotOf };
