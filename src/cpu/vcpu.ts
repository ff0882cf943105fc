// One virtual CPU: its state block in the shared memory, exception entry and
// return, and the data-access path from virtual address to RAM or device.
import type { Feature } from '../a64/decode-table.js';
import { CodePageIndex, DecodedPage } from './code-pages.js';
import { type CpuModel, idRegisterValue } from './cpu-models.js';
import {
  FSC_ALIGNMENT, FSC_EXTERNAL, FSC_PERMISSION, TranslationRegime, translationOff, WalkResult, walkStage1,
} from './mmu.js';
import type { PhysicalBus } from './physical-bus.js';
import {
  PSTATE_DAIF, PSTATE_F, PSTATE_I, PSTATE_IL, PSTATE_NZCV_MASK, PSTATE_PAN, PSTATE_RESET, PSTATE_SS, SLOT_COUNT, SLOT_EXCL_SIZE,
  SLOT_IRQ_LINES, SLOT_NZCV, SLOT_PC, SLOT_PSTATE, SLOT_RETIRED, SLOT_SP, SLOT_SP_EL0, SLOT_SP_EL1, VCPU_STATE_BYTES,
} from './state-layout.js';
import {
  type GicCpuInterface, type IccRegister, type SysregHost, type SysregNameT, SYSREGS, sysregSlotOf,
} from './system-registers.js';
import {
  ANY_ASID, INFO_DEVICE, INFO_GLOBAL, INFO_LEVEL_MASK, INFO_MMIO, INFO_ROM, INFO_SPAN_MASK, INFO_SPAN_SHIFT, PERM_R1,
  PERM_W1, PERM_X0, PERM_X1, Tlb,
} from './tlb.js';

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
  /**
   * The run loop must look again before going on: a timer register was
   * written, so the next deadline (and the slice budget) may have moved.
   */
  Kick = 8,
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

// Fault status codes for data and instruction aborts (the rest are in mmu.ts).
export const FSC_ADDRESS_SIZE_L0 = 0x00;
export { FSC_ALIGNMENT, FSC_EXTERNAL };

/** Data abort ISS bits. */
export const ISS_WNR = 1 << 6;
export const ISS_CM = 1 << 8;

const SCTLR_A = 1 << 1;
const SCTLR_SA = 1 << 3;
const SCTLR_SA0 = 1 << 4;
const SCTLR_M = 1 << 0;
const SCTLR_WXN = 1 << 19;

/** Data and instruction TLB sizes (entries, powers of two). */
export const DTLB_ENTRIES = 1024;
export const ITLB_ENTRIES = 256;
const DTLB_MASK = DTLB_ENTRIES - 1;
const ITLB_MASK = ITLB_ENTRIES - 1;
/** Bytes of a vcpu's two TLBs (data first, then instruction; layout in tlb.ts). */
export const VCPU_TLB_BYTES = Tlb.bytes(DTLB_ENTRIES) + Tlb.bytes(ITLB_ENTRIES);

const PSTATE_WORD = 2 * SLOT_PSTATE;

/** translate() result for a misaligned access whose two pages are not contiguous in the host buffer. */
export const SPLIT_ACCESS = -2;

/** How an access uses memory, for permission checks and the WnR bit of a fault. */
const enum Access {
  Read = 0,
  Write = 1,
  /** Atomic read-modify-write: needs both; WnR tells which was missing. */
  ReadWrite = 2,
}

/** TLB maintenance operations, by the op2 field of TLBI ... E1(IS). */
export const enum TlbiOp {
  Vmalle1 = 0,
  Vae1 = 1,
  Aside1 = 2,
  Vaae1 = 3,
  Vale1 = 5,
  Vaale1 = 7,
}

export interface VcpuConfig {
  readonly bus: PhysicalBus;
  readonly codePages: CodePageIndex;
  readonly index: number;
  readonly stateOffset: number;
  readonly model: CpuModel;
  /** The generic timer's counter, in CNTFRQ ticks. */
  readonly counter: () => number;
  /**
   * Where the TLBs live (VCPU_TLB_BYTES bytes, 4-byte aligned): a region of
   * the machine's shared memory lets generated code probe them inline. When
   * absent the vcpu allocates its own.
   */
  readonly tlbMemory?: { readonly buffer: ArrayBufferLike; readonly byteOffset: number };
  /** The machine has a GICv3: ICC_* system registers exist and ID_AA64PFR0_EL1.GIC says so. */
  readonly gicv3?: boolean;
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

  // Where RAM is, for the embedder and tests; accesses go through the TLBs.
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ramHost: number;

  /**
   * The translation controls in effect (latched at context synchronisation),
   * and SCTLR_EL1.A and .M from the same moment: the fast path must not
   * re-read SCTLR.
   */
  readonly regime = new TranslationRegime();
  alignCheck = false;
  mmuEnabled = false;
  /** A translation register was written; the regime is latched at the next context synchronisation. */
  translationPending = false;

  /** Data and instruction TLBs (see tlb.ts), and their arrays for the fast paths. */
  readonly dtlb: Tlb;
  readonly itlb: Tlb;
  /** TLB misses of either TLB (each is a walk, or the identity with the MMU off). */
  tlbMisses = 0;
  private readonly dTagLo: Int32Array;
  private readonly dTagHi: Int32Array;
  private readonly dFast: Int32Array;
  private readonly dHost: Uint32Array;
  private readonly iTagLo: Int32Array;
  private readonly iTagHi: Int32Array;
  private readonly iFast: Int32Array;
  private readonly iHost: Uint32Array;
  private readonly walkResult = new WalkResult();
  /** PSTATE saved while an LDTR/STTR at EL1 runs with EL0's permissions; -1 otherwise. */
  private unprivPstate = -1;
  /**
   * Carries out TLBI ...IS: every vcpu of the machine must see it. The run
   * loop replaces this; alone, a vcpu is its own inner-shareable domain.
   */
  broadcastTlbi: (op: TlbiOp, argLo: number, argHi: number) => void = (op, lo, hi) => this.tlbiLocal(op, lo, hi);

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
  /**
   * The PC of the first instruction of the straight-line run in progress, so
   * that the instructions retired so far are exact inside it (time in
   * deterministic mode): retired + (PC - runStart) / 4.
   */
  runStart = 0;
  /** CNTVOFF: the virtual counter runs this many ticks behind the physical one (0 unless the embedder sets it, as under KVM). */
  cntvoff = 0;
  /** The GICv3 CPU interface behind the ICC_* registers; undefined without a GICv3. */
  gicCpuInterface: GicCpuInterface | undefined = undefined;
  /** Called after the guest writes a timer register (the run loop updates outputs and deadlines). */
  onTimerWrite: () => void = () => undefined;
  private readonly gicv3: boolean;
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
    this.gicv3 = cfg.gicv3 ?? false;
    this.counter = cfg.counter;
    this.r = new Int32Array(cfg.bus.buffer, cfg.stateOffset, VCPU_STATE_BYTES / 4);
    this.u8 = new Uint8Array(cfg.bus.buffer);
    this.dv = new DataView(cfg.bus.buffer);
    this.ramBase = cfg.bus.ramBase;
    this.ramSize = cfg.bus.ramSize;
    this.ramHost = cfg.bus.ramHostOffset;
    const mem = cfg.tlbMemory ?? { buffer: new ArrayBuffer(VCPU_TLB_BYTES), byteOffset: 0 };
    this.dtlb = new Tlb(DTLB_ENTRIES, mem.buffer, mem.byteOffset);
    this.itlb = new Tlb(ITLB_ENTRIES, mem.buffer, mem.byteOffset + Tlb.bytes(DTLB_ENTRIES));
    this.dTagLo = this.dtlb.tagLo;
    this.dTagHi = this.dtlb.tagHi;
    this.dFast = this.dtlb.fast;
    this.dHost = this.dtlb.host;
    this.iTagLo = this.itlb.tagLo;
    this.iTagHi = this.itlb.tagHi;
    this.iFast = this.itlb.fast;
    this.iHost = this.itlb.host;
    this.regime.panImplemented = cfg.model.features.has('pan');
    this.slotOf = Object.fromEntries(SYSREGS.map((d) => [d.name, d.slot]));
    this.reset(0n);
  }

  // ---- State as the embedder and tests see it ----

  /** Puts the vcpu in the reset state KVM gives it: registers zero, EL1h with DAIF masked, MMU off. */
  reset(entry: bigint): void {
    // The interrupt controller drives the lines: a cpu reset does not lower them.
    const lines = this.irqLines;
    this.r.fill(0, 0, SLOT_COUNT * 2);
    this.irqLines = lines;
    this.setSlot(SLOT_PC, entry);
    this.r[2 * SLOT_PSTATE] = PSTATE_RESET;
    for (const def of SYSREGS) {
      const v = def.reset === 'id' ? idRegisterValue(this.model, def.name, this.vcpuIndex, this.gicv3) : def.reset;
      this.setSlot(def.slot, v);
    }
    this.exit = VcpuExit.None;
    this.retired = 0;
    this.unprivPstate = -1;
    this.latchTranslation();
    this.flushTlb();
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

  /**
   * The IRQ and FIQ lines from the interrupt controller (SLOT_IRQ_LINES), at
   * the bit positions of PSTATE.I (LINE_IRQ) and PSTATE.F (LINE_FIQ).
   */
  get irqLines(): number {
    return this.r[2 * SLOT_IRQ_LINES];
  }

  set irqLines(v: number) {
    this.r[2 * SLOT_IRQ_LINES] = v;
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

  /** Sets a register as KVM_SET_ONE_REG would, with the vcpu stopped: effective at once. */
  setSysreg(name: SysregNameT, v: bigint): void {
    this.setSlot(this.slotOf[name], v);
    this.latchTranslation();
  }

  // ---- SysregHost ----

  counterTicks(): number {
    return this.counter();
  }

  sysregSlot(name: SysregNameT): number {
    return this.slotOf[name];
  }

  idValue(name: SysregNameT): bigint {
    return idRegisterValue(this.model, name, this.vcpuIndex, this.gicv3);
  }

  virtualCounterTicks(): number {
    return this.counter() - this.cntvoff;
  }

  timerChanged(): void {
    this.onTimerWrite();
  }

  iccRead(reg: IccRegister): bigint {
    if (this.gicCpuInterface === undefined) this.iccUndefined();
    return this.gicCpuInterface.read(reg);
  }

  iccWrite(reg: IccRegister, value: bigint): void {
    if (this.gicCpuInterface === undefined) this.iccUndefined();
    this.gicCpuInterface.write(reg, value);
  }

  /** Without a GICv3 (or with GICv2) the ICC_* encodings are unallocated. */
  private iccUndefined(): never {
    this.undefinedInstruction();
    throw GUEST_FAULT;
  }

  /**
   * After a write to SCTLR_EL1, TCR_EL1, TTBR0/1_EL1 or MAIR_EL1. The new
   * values take effect at the next context synchronisation event (ISB,
   * exception entry, ERET), which the architecture allows: until then either
   * value may be used, and using the old one consistently means the walk and
   * the TLB always agree, and that `msr sctlr_el1; isb` turns the MMU on at
   * the ISB as on hardware.
   */
  translationChanged(): void {
    this.translationPending = true;
  }

  /** A context synchronisation event: latch translation settings written since the last one. */
  contextSynchronize(): void {
    if (this.translationPending) this.latchTranslation();
  }

  /**
   * Copies the translation controls into the regime. A change of anything a
   * cached translation depends on (SCTLR.M/WXN, TCR, MAIR) drops the TLBs; a
   * new ASID only switches which entries are live. A new table base with the
   * same ASID keeps the entries, as the architecture requires software to
   * invalidate them (QEMU behaves the same), which keeps Linux's TTBR0
   * switching on kernel entry cheap.
   */
  latchTranslation(): void {
    this.translationPending = false;
    const r = this.r, reg = this.regime, so = this.slotOf;
    const sctlr = r[2 * so.SCTLR_EL1];
    const tcr = 2 * so.TCR_EL1, t0 = 2 * so.TTBR0_EL1, t1 = 2 * so.TTBR1_EL1, mair = 2 * so.MAIR_EL1;
    const m = (sctlr & SCTLR_M) !== 0, wxn = (sctlr & SCTLR_WXN) !== 0;
    this.alignCheck = (sctlr & SCTLR_A) !== 0;
    this.mmuEnabled = m;
    const flush = m !== reg.mmuOn || wxn !== reg.wxn || r[tcr] !== reg.tcrLo || r[tcr + 1] !== reg.tcrHi
      || r[mair] !== reg.mairLo || r[mair + 1] !== reg.mairHi;
    reg.mmuOn = m;
    reg.wxn = wxn;
    reg.tcrLo = r[tcr]; reg.tcrHi = r[tcr + 1];
    reg.ttbr0Lo = r[t0]; reg.ttbr0Hi = r[t0 + 1];
    reg.ttbr1Lo = r[t1]; reg.ttbr1Hi = r[t1 + 1];
    reg.mairLo = r[mair]; reg.mairHi = r[mair + 1];
    // TCR.A1 picks the TTBR holding the ASID; TCR.AS (bit 36) says 16 bits or 8.
    let asid = ((reg.tcrLo & (1 << 22)) !== 0 ? reg.ttbr1Hi : reg.ttbr0Hi) >>> 16;
    if ((reg.tcrHi & (1 << 4)) === 0) asid &= 0xff;
    const asidChanged = asid !== reg.asid;
    reg.asid = asid;
    if (flush) this.flushTlb();
    else if (asidChanged) {
      this.dtlb.switchAsid(asid);
      this.itlb.switchAsid(asid);
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
    // Exception entry synchronises context: the vector is fetched with the new settings.
    if (this.translationPending) this.latchTranslation();
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

  /**
   * Takes the highest-priority deliverable interrupt (FIQ before IRQ) to EL1
   * before the instruction at the PC, which becomes the preferred return
   * address; ESR and FAR keep their values. Returns false if none is
   * deliverable under PSTATE.{I,F}.
   */
  takePendingInterrupt(): boolean {
    const r = this.r;
    const pstate = r[2 * SLOT_PSTATE];
    const deliverable = this.irqLines & ~pstate & (PSTATE_I | PSTATE_F);
    if (deliverable === 0) return false;
    // Exception entry synchronises context, as for synchronous exceptions.
    if (this.translationPending) this.latchTranslation();
    const spsr = this.slotOf.SPSR_EL1;
    r[2 * spsr] = pstate | r[2 * SLOT_NZCV];
    r[2 * spsr + 1] = 0;
    const elr = this.slotOf.ELR_EL1;
    r[2 * elr] = r[2 * SLOT_PC];
    r[2 * elr + 1] = r[2 * SLOT_PC + 1];
    let offset = (deliverable & PSTATE_F) !== 0 ? 0x100 : 0x80;
    if (((pstate >> 2) & 3) === 0) offset += 0x400;
    else if ((pstate & 1) !== 0) offset += 0x200;
    let next = (pstate & ~(0xf | PSTATE_IL | PSTATE_SS)) | 0x5 | PSTATE_DAIF;
    if (this.features.has('pan') && (r[2 * this.slotOf.SCTLR_EL1] & (1 << 23)) === 0) next |= PSTATE_PAN;
    this.writePstate(next);
    const vbar = this.slotOf.VBAR_EL1;
    r[2 * SLOT_PC] = ((r[2 * vbar] >>> 0) + offset) | 0;
    r[2 * SLOT_PC + 1] = r[2 * vbar + 1];
    r[2 * SLOT_EXCL_SIZE] = 0;
    return true;
  }

  /** UNDEFINED at the current instruction (EC 0). */
  undefinedInstruction(): void {
    this.takeException(EC_UNKNOWN, 0, this.r[2 * SLOT_PC], this.r[2 * SLOT_PC + 1]);
  }

  /** Delivers a data abort for the current instruction and abandons it. */
  dataAbort(vaLo: number, vaHi: number, write: boolean, fsc: number): never {
    this.dataAbortIss(vaLo, vaHi, (write ? ISS_WNR : 0) | fsc);
  }

  /** A data abort with a full ISS (WnR, CM and the fault status), FAR = the VA. */
  dataAbortIss(vaLo: number, vaHi: number, iss: number): never {
    // An LDTR/STTR at EL1 faults from EL1, whatever permissions it used.
    this.endUnprivileged();
    const ec = this.el === 0 ? EC_DABORT_LOWER : EC_DABORT_SAME;
    this.takeException(ec, iss, this.r[2 * SLOT_PC], this.r[2 * SLOT_PC + 1], vaLo, vaHi);
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

  /** Forgets every cached translation (TLBI VMALLE1, a new regime, or a stage-2 or memslot change). */
  flushTlb(): void {
    this.dtlb.flushAll();
    this.itlb.flushAll();
    // The loop's cached code page is keyed by host page and re-resolved at
    // each block start, so it cannot outlive a mapping; dropping it here too
    // costs nothing and keeps the rule simple.
    this.lastPageHost = -1;
  }

  /** TLBI by op2 and the Xt operand, on this vcpu only. */
  tlbiLocal(op: TlbiOp, argLo: number, argHi: number): void {
    if (op === TlbiOp.Vmalle1) {
      this.flushTlb();
      return;
    }
    // Xt holds the ASID in 63:48 (8 bits of it when TCR.AS is 0) and VA 55:12 in 43:0.
    let asid = argHi >>> 16;
    if ((this.regime.tcrHi & (1 << 4)) === 0) asid &= 0xff;
    if (op === TlbiOp.Aside1) {
      this.dtlb.invalidateAsid(asid);
      this.itlb.invalidateAsid(asid);
      return;
    }
    const pageLo = argLo << 12;
    const va55to32 = ((argLo >>> 20) | (argHi << 12)) & 0xffffff;
    const scope = op === TlbiOp.Vaae1 || op === TlbiOp.Vaale1 ? ANY_ASID : asid;
    this.dtlb.invalidateVa(pageLo, va55to32, scope);
    this.itlb.invalidateVa(pageLo, va55to32, scope);
  }

  // ---- Translation: TLB lookup, walk and fill ----

  /**
   * The index of a live entry of `tlb` translating the VA's page, walking
   * and filling on a miss; or the bitwise NOT of a fault status.
   */
  private lookup(tlb: Tlb, mask: number, vaLo: number, vaHi: number): number {
    const i = (vaLo >>> 12) & mask;
    const reg = this.regime;
    if (tlb.tagLo[i] === (vaLo & ~0xfff) && tlb.tagHi[i] === vaHi && tlb.full[i] !== 0
      && ((tlb.info[i] & INFO_GLOBAL) !== 0 || tlb.asid[i] === reg.asid)) return i;
    this.tlbMisses++;
    const w = this.walkResult;
    const fsc = reg.mmuOn ? walkStage1(reg, this.bus, this.dv, vaLo, vaHi, w) : translationOff(reg, vaLo, vaHi, w);
    if (fsc >= 0) return ~fsc;
    // Stage 2: the bus maps the page (its first touch is counted as a fault)
    // or says it is not memory the vcpu may access directly.
    const pa = w.paHi * 0x100000000 + (w.paLo >>> 0);
    let info = w.info;
    let host = this.bus.memslotOffset(pa, 4096, false);
    if (host < 0) {
      info |= INFO_MMIO;
      host = 0;
    } else if (this.bus.memslotOffset(pa, 4096, true) < 0) {
      info |= INFO_ROM;
    }
    tlb.tagLo[i] = vaLo & ~0xfff;
    tlb.tagHi[i] = vaHi;
    tlb.full[i] = w.perm;
    tlb.fast[i] = Tlb.fastPerms(w.perm, info);
    tlb.info[i] = info;
    tlb.asid[i] = reg.asid;
    tlb.host[i] = host;
    tlb.paLo[i] = w.paLo;
    tlb.paHi[i] = w.paHi;
    const span = (info >>> INFO_SPAN_SHIFT) & INFO_SPAN_MASK;
    if (span > tlb.maxSpan) tlb.maxSpan = span;
    return i;
  }

  /**
   * The slow path of a data access to one page: TLB lookup or walk, then the
   * checks in the Arm ARM's order (walk faults, alignment on Device memory,
   * permissions). Returns the host offset, or -1 for a device with the
   * physical address in lastPa. Faults are delivered and thrown.
   */
  private resolveData(vaLo: number, vaHi: number, acc: Access, misaligned: boolean): number {
    const write = acc !== Access.Read;
    const i = this.lookup(this.dtlb, DTLB_MASK, vaLo, vaHi);
    if (i < 0) this.dataAbort(vaLo, vaHi, write, ~i);
    const t = this.dtlb;
    const info = t.info[i];
    if (misaligned && (info & INFO_DEVICE) !== 0) this.dataAbort(vaLo, vaHi, write, FSC_ALIGNMENT);
    const shift = contextShift(this.r[PSTATE_WORD]);
    const need = (write ? PERM_W1 : PERM_R1) << shift;
    const full = t.full[i];
    if ((full & need) === 0) {
      // An atomic that could not even read reports a read (WnR = 0).
      const wnr = acc === Access.Write || (acc === Access.ReadWrite && (full & (PERM_R1 << shift)) !== 0);
      this.dataAbort(vaLo, vaHi, wnr, FSC_PERMISSION + (info & INFO_LEVEL_MASK));
    }
    const off = vaLo & 0xfff;
    if ((t.fast[i] & need) !== 0) return t.host[i] + off;
    this.lastPa = t.paHi[i] * 0x100000000 + (t.paLo[i] >>> 0) + off;
    return -1;
  }

  /** An access that is not size-aligned: alignment checks, and page crossings. */
  private translateMisaligned(vaLo: number, vaHi: number, size: number, write: boolean, mustAlign: boolean): number {
    if (mustAlign || this.alignCheck) this.dataAbort(vaLo, vaHi, write, FSC_ALIGNMENT);
    const acc = write ? Access.Write : Access.Read;
    const first = this.resolveData(vaLo, vaHi, acc, true);
    const inPage = 0x1000 - (vaLo & 0xfff);
    if (size <= inPage) return first;
    // Both pages are checked before any byte moves, so a fault on the second
    // leaves memory untouched.
    const lo2 = (vaLo >>> 0) + inPage;
    const second = this.resolveData(lo2 | 0, lo2 >= 0x100000000 ? (vaHi + 1) | 0 : vaHi, acc, true);
    if (first >= 0 && second === first + inPage) return first;
    return SPLIT_ACCESS;
  }

  /** A misaligned access over two pages, byte by byte (both pages already checked). */
  private readSplit(vaLo: number, vaHi: number, size: number): void {
    let lo = 0, hi = 0;
    for (let k = 0; k < size; k++) {
      const a = (vaLo >>> 0) + k;
      const b = this.read8(a | 0, a >= 0x100000000 ? (vaHi + 1) | 0 : vaHi);
      if (k < 4) lo |= b << (8 * k);
      else hi |= b << (8 * (k - 4));
    }
    this.vLo = lo;
    this.vHi = hi;
  }

  private writeSplit(vaLo: number, vaHi: number, size: number, lo: number, hi: number): void {
    for (let k = 0; k < size; k++) {
      const a = (vaLo >>> 0) + k;
      const b = k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4));
      this.write8(a | 0, a >= 0x100000000 ? (vaHi + 1) | 0 : vaHi, b & 0xff);
    }
  }

  /**
   * LDTR/STTR at EL1 check EL0's permissions: the access runs with PSTATE's
   * EL field showing EL0, which is all the translation path looks at, and a
   * fault restores it before the exception is taken. At EL0 nothing changes.
   */
  beginUnprivileged(): void {
    const p = this.r[PSTATE_WORD];
    if ((p & 4) === 0) return;
    this.unprivPstate = p;
    this.r[PSTATE_WORD] = p & ~0xc;
  }

  endUnprivileged(): void {
    if (this.unprivPstate === -1) return;
    this.r[PSTATE_WORD] = this.unprivPstate;
    this.unprivPstate = -1;
  }

  /**
   * The host offset of the 64-byte block DC ZVA zeroes, or -1 for a device
   * (lastPa). A write for permissions; Device memory is an alignment fault
   * whatever the address.
   */
  translateZeroBlock(vaLo: number, vaHi: number): number {
    return this.resolveData(vaLo & ~63, vaHi, Access.Write, true);
  }

  /**
   * Translates the operand of a cache maintenance instruction by VA (DC
   * CVAC/CVAU/CIVAC/IVAC, IC IVAU): host offset, or -1 when not memory. At EL1
   * they cannot cause permission faults; at EL0 they need read permission.
   * Faults are data aborts with CM and WnR set.
   */
  translateMaintenance(vaLo: number, vaHi: number): number {
    const i = this.lookup(this.dtlb, DTLB_MASK, vaLo, vaHi);
    if (i < 0) this.dataAbortIss(vaLo, vaHi, ISS_CM | ISS_WNR | ~i);
    const t = this.dtlb;
    if (this.el === 0 && (t.full[i] & (PERM_R1 << 2)) === 0) {
      this.dataAbortIss(vaLo, vaHi, ISS_CM | ISS_WNR | FSC_PERMISSION | (t.info[i] & INFO_LEVEL_MASK));
    }
    return Tlb.fastPerms(t.full[i], t.info[i]) !== 0 ? t.host[i] + (vaLo & 0xfff) : -1;
  }

  /**
   * AT S1E1R/W and S1E0R/W: translate as a read or write from EL1 (without
   * PAN) or EL0 and report in PAR_EL1. A synchronous external abort on the
   * walk is taken as a data abort instead (CM and WnR set), as the Arm ARM
   * and QEMU do.
   */
  addressTranslate(vaLo: number, vaHi: number, write: boolean, el0: boolean): void {
    const r = this.r, par = 2 * this.slotOf.PAR_EL1;
    const i = this.lookup(this.dtlb, DTLB_MASK, vaLo, vaHi);
    let fsc = -1;
    if (i < 0) {
      fsc = ~i;
      if ((fsc & ~3) === 0x14) this.dataAbortIss(vaLo, vaHi, ISS_CM | ISS_WNR | fsc);
    } else {
      const need = (write ? PERM_W1 : PERM_R1) << (el0 ? 2 : 0);
      if ((this.dtlb.full[i] & need) === 0) fsc = FSC_PERMISSION + (this.dtlb.info[i] & INFO_LEVEL_MASK);
    }
    if (fsc >= 0) {
      // F, FST; bit 11 is RES1 in both formats.
      r[par] = 1 | (fsc << 1) | (1 << 11);
      r[par + 1] = 0;
      return;
    }
    const t = this.dtlb, info = t.info[i];
    const attr = (info >>> 16) & 0xff;
    // SH is 0b10 for Device and for Normal Non-cacheable memory (PAREncodeShareability).
    const sh = (attr & 0xf0) === 0 || attr === 0x44 ? 2 : (info >>> 24) & 3;
    // NS (bit 9) is set as QEMU does for a Non-secure regime.
    r[par] = t.paLo[i] | (sh << 7) | (1 << 9) | (1 << 11);
    r[par + 1] = (t.paHi[i] & 0xffff) | (attr << 24);
  }

  // ---- Instruction fetch ----

  /**
   * The host offset of the instruction at PC, or -1 after delivering an
   * instruction abort (the PC then points at the vector).
   */
  fetchOffset(pcLo: number, pcHi: number): number {
    const i = (pcLo >>> 12) & ITLB_MASK;
    const x = (this.r[PSTATE_WORD] & 4) === 0 ? PERM_X0 : PERM_X1;
    if (this.iTagLo[i] === (pcLo & ~0xfff) && this.iTagHi[i] === pcHi && (this.iFast[i] & x) !== 0) {
      return this.iHost[i] + (pcLo & 0xfff);
    }
    return this.fetchSlow(pcLo, pcHi, x);
  }

  private fetchSlow(pcLo: number, pcHi: number, x: number): number {
    const i = this.lookup(this.itlb, ITLB_MASK, pcLo, pcHi);
    if (i < 0) {
      this.instructionAbort(pcLo, pcHi, ~i);
      return -1;
    }
    const t = this.itlb;
    if ((t.full[i] & x) === 0) {
      this.instructionAbort(pcLo, pcHi, FSC_PERMISSION + (t.info[i] & INFO_LEVEL_MASK));
      return -1;
    }
    if ((t.fast[i] & x) === 0) {
      // Not memory: nothing to fetch from.
      this.instructionAbort(pcLo, pcHi, FSC_EXTERNAL);
      return -1;
    }
    return t.host[i] + (pcLo & 0xfff);
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
    if ((vaLo & (size - 1)) !== 0) return this.translateMisaligned(vaLo, vaHi, size, write, mustAlign);
    // An aligned access stays in its page: one TLB probe decides.
    const i = (vaLo >>> 12) & DTLB_MASK;
    const need = (write ? PERM_W1 : PERM_R1) << contextShift(this.r[PSTATE_WORD]);
    if (this.dTagLo[i] === (vaLo & ~0xfff) && this.dTagHi[i] === vaHi && (this.dFast[i] & need) !== 0) {
      return this.dHost[i] + (vaLo & 0xfff);
    }
    return this.resolveData(vaLo, vaHi, write ? Access.Write : Access.Read, false);
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
    if (off >= 0) return this.dv.getUint16(off, true);
    if (off === SPLIT_ACCESS) {
      this.readSplit(vaLo, vaHi, 2);
      return this.vLo;
    }
    return this.deviceRead(vaLo, vaHi, 2) & 0xffff;
  }

  /** Returns the word as a signed 32-bit number. */
  read32(vaLo: number, vaHi: number, mustAlign = false): number {
    const off = this.translate(vaLo, vaHi, 4, false, mustAlign);
    if (off >= 0) return this.dv.getInt32(off, true);
    if (off === SPLIT_ACCESS) {
      this.readSplit(vaLo, vaHi, 4);
      return this.vLo;
    }
    return this.deviceRead(vaLo, vaHi, 4) | 0;
  }

  /** Leaves the doubleword in vLo/vHi. */
  read64(vaLo: number, vaHi: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 8, false, mustAlign);
    if (off >= 0) {
      this.vLo = this.dv.getInt32(off, true);
      this.vHi = this.dv.getInt32(off + 4, true);
    } else if (off === SPLIT_ACCESS) {
      this.readSplit(vaLo, vaHi, 8);
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
      this.noteCodeWrite(off, 1);
      this.u8[off] = value;
    } else this.deviceWrite(vaLo, vaHi, 1, value & 0xff);
  }

  write16(vaLo: number, vaHi: number, value: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 2, true, mustAlign);
    if (off >= 0) {
      this.noteCodeWrite(off, 2);
      this.dv.setUint16(off, value, true);
    } else if (off === SPLIT_ACCESS) this.writeSplit(vaLo, vaHi, 2, value, 0);
    else this.deviceWrite(vaLo, vaHi, 2, value & 0xffff);
  }

  write32(vaLo: number, vaHi: number, value: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 4, true, mustAlign);
    if (off >= 0) {
      this.noteCodeWrite(off, 4);
      this.dv.setInt32(off, value, true);
    } else if (off === SPLIT_ACCESS) this.writeSplit(vaLo, vaHi, 4, value, 0);
    else this.deviceWrite(vaLo, vaHi, 4, value >>> 0);
  }

  write64(vaLo: number, vaHi: number, lo: number, hi: number, mustAlign = false): void {
    const off = this.translate(vaLo, vaHi, 8, true, mustAlign);
    if (off >= 0) {
      this.noteCodeWrite(off, 8);
      this.dv.setInt32(off, lo, true);
      this.dv.setInt32(off + 4, hi, true);
    } else if (off === SPLIT_ACCESS) {
      this.writeSplit(vaLo, vaHi, 8, lo, hi);
    } else {
      const pa = this.lastPa;
      this.deviceWrite(vaLo, vaHi, 4, lo >>> 0);
      this.lastPa = pa + 4;
      this.deviceWrite(vaLo, vaHi, 4, hi >>> 0);
      this.lastPa = pa;
    }
  }

  /**
   * Host offset for an exclusive or atomic access: memory only, aligned;
   * devices get an external abort. `rmw` marks an atomic read-modify-write
   * (CAS, SWP, LDADD...), which needs read and write permission. Leaves the
   * physical address in lastPa for the exclusive monitor.
   */
  translateAtomic(vaLo: number, vaHi: number, size: number, write: boolean, rmw = false): number {
    if ((vaLo & (size - 1)) !== 0) this.dataAbort(vaLo, vaHi, write, FSC_ALIGNMENT);
    const i = (vaLo >>> 12) & DTLB_MASK;
    const need = (write ? PERM_W1 : PERM_R1) << contextShift(this.r[PSTATE_WORD]);
    let off: number;
    if (this.dTagLo[i] === (vaLo & ~0xfff) && this.dTagHi[i] === vaHi && (this.dFast[i] & need) !== 0) {
      off = this.dHost[i] + (vaLo & 0xfff);
    } else {
      off = this.resolveData(vaLo, vaHi, rmw ? Access.ReadWrite : write ? Access.Write : Access.Read, false);
      if (off < 0) this.dataAbort(vaLo, vaHi, write, FSC_EXTERNAL);
    }
    // Either way entry i now translates this page.
    const t = this.dtlb;
    this.lastPa = t.paHi[i] * 0x100000000 + (t.paLo[i] >>> 0) + (vaLo & 0xfff);
    if (write) this.noteCodeWrite(off, size);
    return off;
  }

  noteCodeWrite(off: number, size: number): void {
    const f = this.codeFlags;
    if (f[off >>> 12] !== 0 || f[(off + size - 1) >>> 12] !== 0) this.codePages.noteGuestStore(off, size);
  }
}

/**
 * How far the permission bits of the current access context sit from the
 * EL1 ones (tlb.ts): EL0 uses bits 2-3, EL1 with PSTATE.PAN bits 4-5.
 */
function contextShift(pstate: number): number {
  return (pstate & 4) === 0 ? 2 : (pstate >>> 20) & 4;
}

function hex64(lo: number, hi: number): string {
  return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16).padStart(16, '0');
}

/** The banked SP slot a PSTATE value selects: EL0 and EL1t use SP_EL0, EL1h SP_EL1. */
function spBankSlot(pstate: number): number {
  return (pstate & 0xf) === 5 ? SLOT_SP_EL1 : SLOT_SP_EL0;
}

export { sysregSlotOf };
