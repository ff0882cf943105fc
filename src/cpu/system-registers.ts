// The EL0/EL1 system registers warmboot implements, keyed by their MRS/MSR
// encoding. Plain registers live in a state slot (so generated code can read
// them too); the rest compute their value or act on write.
import { SLOT_PSTATE, SLOT_SYSREG_BASE } from './state-layout.js';

/** Encoding key: op0:op1:CRn:CRm:op2, as in the MRS/MSR instruction bits 20:5. */
export function sysregKey(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

export function sysregName(key: number): string {
  const def = SYSREG_BY_KEY.get(key);
  if (def) return def.name;
  return `s${key >>> 14}_${(key >>> 11) & 7}_c${(key >>> 7) & 15}_c${(key >>> 3) & 15}_${key & 7}`;
}

/** What an access from EL0 does. */
export const enum El0Access {
  Undefined,
  Allowed,
  Trap, // to EL1 with EC 0x18
}

/** The hooks a vcpu offers to system-register definitions. */
export interface SysregHost {
  readonly r: Int32Array;
  readonly vcpuIndex: number;
  /** Counter value in CNTFRQ ticks since the machine started. */
  counterTicks(): number;
  /** CNTVCT_EL0: the counter less the virtual offset (CNTVOFF); negative until the counter passes the offset (a 64-bit wrap). */
  virtualCounterTicks(): number;
  /** After a write to a timer register: its output and deadline may have changed. */
  timerChanged(): void;
  /** The IRQ (bit 7) and FIQ (bit 6) lines the interrupt controller drives, as ISR_EL1 shows them. */
  readonly irqLines: number;
  /** The GICv3 CPU interface registers; without one they are UNDEFINED and these do not return. */
  iccRead(reg: IccRegister): bigint;
  iccWrite(reg: IccRegister, value: bigint): void;
  sysregSlot(name: SysregNameT): number;
  /** Model-dependent constant identification values. */
  idValue(name: SysregNameT): bigint;
  /** Called after writes that change translation or exception routing. */
  translationChanged(): void;
}

/** The GICv3 CPU interface registers (ICC_*), which a GIC model implements for each vcpu. */
export type IccRegister =
  | 'ICC_PMR_EL1' | 'ICC_IAR0_EL1' | 'ICC_EOIR0_EL1' | 'ICC_HPPIR0_EL1' | 'ICC_BPR0_EL1' | 'ICC_AP0R0_EL1'
  | 'ICC_AP1R0_EL1' | 'ICC_DIR_EL1' | 'ICC_RPR_EL1' | 'ICC_SGI1R_EL1' | 'ICC_ASGI1R_EL1' | 'ICC_SGI0R_EL1'
  | 'ICC_IAR1_EL1' | 'ICC_EOIR1_EL1' | 'ICC_HPPIR1_EL1' | 'ICC_BPR1_EL1' | 'ICC_CTLR_EL1' | 'ICC_SRE_EL1'
  | 'ICC_IGRPEN0_EL1' | 'ICC_IGRPEN1_EL1';

export interface GicCpuInterface {
  read(reg: IccRegister): bigint;
  write(reg: IccRegister, value: bigint): void;
}

export interface SysregDef {
  readonly name: SysregNameT;
  readonly key: number;
  /** Backing storage slot, for registers that hold what software writes. */
  slot: number;
  readonly readable: boolean;
  readonly writable: boolean;
  /** Bits software may change; others read as their reset value. Low/high 32. */
  readonly writeMaskLo: number;
  readonly writeMaskHi: number;
  readonly el0: (h: SysregHost) => El0Access;
  /** What an MSR from EL0 does, where it differs from a read (EL0-read-only registers). */
  readonly el0Write: (h: SysregHost) => El0Access;
  /** Computed read: writes the value into slot `dst` of h.r. */
  readonly read?: (h: SysregHost, dst: number) => void;
  readonly afterWrite?: (h: SysregHost) => void;
  readonly reset: bigint | 'id';
}

interface Spec {
  enc: [number, number, number, number, number];
  access?: 'rw' | 'ro' | 'wo';
  el0?: (h: SysregHost) => El0Access;
  el0Write?: (h: SysregHost) => El0Access;
  mask?: bigint;
  reset?: bigint | 'id';
  read?: (h: SysregHost, dst: number) => void;
  afterWrite?: (h: SysregHost) => void;
}

const EL1_ONLY = (): El0Access => El0Access.Undefined;
const EL0_OK = (): El0Access => El0Access.Allowed;
const ALL = (1n << 64n) - 1n;

const SCTLR_UCT = 1 << 15;
const SCTLR_DZE = 1 << 14;
const SCTLR_UMA = 1 << 9;

function sctlrLo(h: SysregHost): number {
  return h.r[2 * h.sysregSlot('SCTLR_EL1')];
}
function cntkctl(h: SysregHost): number {
  return h.r[2 * h.sysregSlot('CNTKCTL_EL1')];
}
const el0IfSctlr = (bit: number) => (h: SysregHost): El0Access => (sctlrLo(h) & bit ? El0Access.Allowed : El0Access.Trap);
const el0IfCntkctl = (mask: number) => (h: SysregHost): El0Access => (cntkctl(h) & mask ? El0Access.Allowed : El0Access.Trap);

function writeSlot(h: SysregHost, dst: number, value: number): void {
  h.r[2 * dst] = value % 0x100000000;
  h.r[2 * dst + 1] = Math.floor(value / 0x100000000);
}

function idReg(enc: Spec['enc']): Spec {
  return { enc, access: 'ro', reset: 'id' };
}

// SCTLR_EL1 bits that are RES1 in ARMv8.0 (29, 28, 23, 22, 20, 11) plus what
// software controls; KVM's reset value 0x00C50078 sets the RES1 ones.
const SPECS = {
  MIDR_EL1: idReg([3, 0, 0, 0, 0]),
  MPIDR_EL1: idReg([3, 0, 0, 0, 5]),
  REVIDR_EL1: idReg([3, 0, 0, 0, 6]),
  ID_AA64PFR0_EL1: idReg([3, 0, 0, 4, 0]),
  ID_AA64PFR1_EL1: idReg([3, 0, 0, 4, 1]),
  ID_AA64ZFR0_EL1: idReg([3, 0, 0, 4, 4]),
  ID_AA64SMFR0_EL1: idReg([3, 0, 0, 4, 5]),
  ID_AA64DFR0_EL1: idReg([3, 0, 0, 5, 0]),
  ID_AA64DFR1_EL1: idReg([3, 0, 0, 5, 1]),
  ID_AA64AFR0_EL1: idReg([3, 0, 0, 5, 4]),
  ID_AA64AFR1_EL1: idReg([3, 0, 0, 5, 5]),
  ID_AA64ISAR0_EL1: idReg([3, 0, 0, 6, 0]),
  ID_AA64ISAR1_EL1: idReg([3, 0, 0, 6, 1]),
  ID_AA64ISAR2_EL1: idReg([3, 0, 0, 6, 2]),
  ID_AA64MMFR0_EL1: idReg([3, 0, 0, 7, 0]),
  ID_AA64MMFR1_EL1: idReg([3, 0, 0, 7, 1]),
  ID_AA64MMFR2_EL1: idReg([3, 0, 0, 7, 2]),
  CTR_EL0: { enc: [3, 3, 0, 0, 1], access: 'ro', reset: 'id', el0: el0IfSctlr(SCTLR_UCT) },
  DCZID_EL0: {
    enc: [3, 3, 0, 0, 7], access: 'ro', el0: EL0_OK, reset: 0n,
    // DZP says whether DC ZVA is prohibited at the reading EL: only EL0 can
    // be stopped (by SCTLR_EL1.DZE); 64-byte blocks (BS = 4).
    read: (h, dst) => {
      const el0 = (h.r[2 * SLOT_PSTATE] & 0xc) === 0;
      writeSlot(h, dst, 4 | (el0 && (sctlrLo(h) & SCTLR_DZE) === 0 ? 0x10 : 0));
    },
  },
  CLIDR_EL1: { enc: [3, 1, 0, 0, 1], access: 'ro', reset: 0x0a200023n },
  CCSIDR_EL1: {
    enc: [3, 1, 0, 0, 0], access: 'ro', reset: 0n,
    read: (h, dst) => {
      // A 32 KiB 2-way L1 and a 512 KiB 16-way L2 with 64-byte lines, by CSSELR.
      const sel = h.r[2 * h.sysregSlot('CSSELR_EL1')] & 0xf;
      const v = sel === 0 ? 0x700fe01a : sel === 1 ? 0x201fe01a : sel === 2 ? 0x703fe07a : 0;
      writeSlot(h, dst, v);
    },
  },
  CSSELR_EL1: { enc: [3, 2, 0, 0, 0], mask: 0xfn },
  AIDR_EL1: { enc: [3, 1, 0, 0, 7], access: 'ro', reset: 0n },
  SCTLR_EL1: { enc: [3, 0, 1, 0, 0], reset: 0x00c50078n, mask: ALL, afterWrite: (h) => h.translationChanged() },
  ACTLR_EL1: { enc: [3, 0, 1, 0, 1], mask: 0n },
  // Only FPEN: ZEN (17:16) is RES0 without SVE, TTA (28) without trace registers.
  CPACR_EL1: { enc: [3, 0, 1, 0, 2], mask: 0x30_0000n },
  TTBR0_EL1: { enc: [3, 0, 2, 0, 0], mask: ALL, afterWrite: (h) => h.translationChanged() },
  TTBR1_EL1: { enc: [3, 0, 2, 0, 1], mask: ALL, afterWrite: (h) => h.translationChanged() },
  TCR_EL1: { enc: [3, 0, 2, 0, 2], mask: 0x7f_ffff_ffffn, afterWrite: (h) => h.translationChanged() },
  SPSR_EL1: { enc: [3, 0, 4, 0, 0], mask: 0xf0f0_03dfn | (1n << 22n) | (1n << 23n) },
  ELR_EL1: { enc: [3, 0, 4, 0, 1], mask: ALL },
  AFSR0_EL1: { enc: [3, 0, 5, 1, 0], mask: 0n },
  AFSR1_EL1: { enc: [3, 0, 5, 1, 1], mask: 0n },
  ESR_EL1: { enc: [3, 0, 5, 2, 0], mask: 0xffff_ffffn },
  FAR_EL1: { enc: [3, 0, 6, 0, 0], mask: ALL },
  PAR_EL1: { enc: [3, 0, 7, 4, 0], mask: ALL },
  MAIR_EL1: { enc: [3, 0, 10, 2, 0], mask: ALL, afterWrite: (h) => h.translationChanged() },
  AMAIR_EL1: { enc: [3, 0, 10, 3, 0], mask: ALL },
  VBAR_EL1: { enc: [3, 0, 12, 0, 0], mask: ALL ^ 0x7ffn },
  ISR_EL1: { enc: [3, 0, 12, 1, 0], access: 'ro', reset: 0n, read: (h, dst) => writeSlot(h, dst, h.irqLines & 0xc0) },
  CONTEXTIDR_EL1: { enc: [3, 0, 13, 0, 1], mask: 0xffff_ffffn },
  TPIDR_EL1: { enc: [3, 0, 13, 0, 4], mask: ALL },
  TPIDR_EL0: { enc: [3, 3, 13, 0, 2], mask: ALL, el0: EL0_OK },
  TPIDRRO_EL0: { enc: [3, 3, 13, 0, 3], mask: ALL, el0: EL0_OK, el0Write: EL1_ONLY },
  // The event stream it controls wakes WFE: the run loop must see changes.
  CNTKCTL_EL1: { enc: [3, 0, 14, 1, 0], mask: 0x3ffn, afterWrite: (h) => h.timerChanged() },
  CNTFRQ_EL0: { enc: [3, 3, 14, 0, 0], mask: 0xffff_ffffn, reset: 62_500_000n, el0: el0IfCntkctl(3), el0Write: EL1_ONLY },
  CNTPCT_EL0: {
    enc: [3, 3, 14, 0, 1], access: 'ro', reset: 0n, el0: el0IfCntkctl(1),
    read: (h, dst) => writeSlot(h, dst, h.counterTicks()),
  },
  CNTVCT_EL0: {
    enc: [3, 3, 14, 0, 2], access: 'ro', reset: 0n, el0: el0IfCntkctl(2),
    read: (h, dst) => {
      const v = h.virtualCounterTicks();
      if (v >= 0) writeSlot(h, dst, v);
      else writeSlot64(h, dst, BigInt.asUintN(64, BigInt(v)));
    },
  },
  // Timer writes change an interrupt output and the next deadline, which the
  // run loop keeps (afterWrite also ends the block).
  CNTP_CTL_EL0: {
    enc: [3, 3, 14, 2, 1], mask: 3n, el0: el0IfCntkctl(1 << 9), read: (h, dst) => timerCtl(h, dst, 'CNTP'),
    afterWrite: (h) => h.timerChanged(),
  },
  CNTP_CVAL_EL0: { enc: [3, 3, 14, 2, 2], mask: ALL, el0: el0IfCntkctl(1 << 9), afterWrite: (h) => h.timerChanged() },
  CNTP_TVAL_EL0: {
    enc: [3, 3, 14, 2, 0], mask: ALL, el0: el0IfCntkctl(1 << 9),
    read: (h, dst) => timerTval(h, dst, 'CNTP_CVAL_EL0'),
    afterWrite: (h) => { timerTvalWrite(h, 'CNTP_TVAL_EL0', 'CNTP_CVAL_EL0'); h.timerChanged(); },
  },
  CNTV_CTL_EL0: {
    enc: [3, 3, 14, 3, 1], mask: 3n, el0: el0IfCntkctl(1 << 8), read: (h, dst) => timerCtl(h, dst, 'CNTV'),
    afterWrite: (h) => h.timerChanged(),
  },
  CNTV_CVAL_EL0: { enc: [3, 3, 14, 3, 2], mask: ALL, el0: el0IfCntkctl(1 << 8), afterWrite: (h) => h.timerChanged() },
  CNTV_TVAL_EL0: {
    enc: [3, 3, 14, 3, 0], mask: ALL, el0: el0IfCntkctl(1 << 8),
    read: (h, dst) => timerTval(h, dst, 'CNTV_CVAL_EL0'),
    afterWrite: (h) => { timerTvalWrite(h, 'CNTV_TVAL_EL0', 'CNTV_CVAL_EL0'); h.timerChanged(); },
  },
  ICC_PMR_EL1: icc([3, 0, 4, 6, 0], 'ICC_PMR_EL1', 'rw'),
  ICC_IAR0_EL1: icc([3, 0, 12, 8, 0], 'ICC_IAR0_EL1', 'ro'),
  ICC_EOIR0_EL1: icc([3, 0, 12, 8, 1], 'ICC_EOIR0_EL1', 'wo'),
  ICC_HPPIR0_EL1: icc([3, 0, 12, 8, 2], 'ICC_HPPIR0_EL1', 'ro'),
  ICC_BPR0_EL1: icc([3, 0, 12, 8, 3], 'ICC_BPR0_EL1', 'rw'),
  ICC_AP0R0_EL1: icc([3, 0, 12, 8, 4], 'ICC_AP0R0_EL1', 'rw'),
  ICC_AP1R0_EL1: icc([3, 0, 12, 9, 0], 'ICC_AP1R0_EL1', 'rw'),
  ICC_DIR_EL1: icc([3, 0, 12, 11, 1], 'ICC_DIR_EL1', 'wo'),
  ICC_RPR_EL1: icc([3, 0, 12, 11, 3], 'ICC_RPR_EL1', 'ro'),
  ICC_SGI1R_EL1: icc([3, 0, 12, 11, 5], 'ICC_SGI1R_EL1', 'wo'),
  ICC_ASGI1R_EL1: icc([3, 0, 12, 11, 6], 'ICC_ASGI1R_EL1', 'wo'),
  ICC_SGI0R_EL1: icc([3, 0, 12, 11, 7], 'ICC_SGI0R_EL1', 'wo'),
  ICC_IAR1_EL1: icc([3, 0, 12, 12, 0], 'ICC_IAR1_EL1', 'ro'),
  ICC_EOIR1_EL1: icc([3, 0, 12, 12, 1], 'ICC_EOIR1_EL1', 'wo'),
  ICC_HPPIR1_EL1: icc([3, 0, 12, 12, 2], 'ICC_HPPIR1_EL1', 'ro'),
  ICC_BPR1_EL1: icc([3, 0, 12, 12, 3], 'ICC_BPR1_EL1', 'rw'),
  ICC_CTLR_EL1: icc([3, 0, 12, 12, 4], 'ICC_CTLR_EL1', 'rw'),
  ICC_SRE_EL1: icc([3, 0, 12, 12, 5], 'ICC_SRE_EL1', 'rw'),
  ICC_IGRPEN0_EL1: icc([3, 0, 12, 12, 6], 'ICC_IGRPEN0_EL1', 'rw'),
  ICC_IGRPEN1_EL1: icc([3, 0, 12, 12, 7], 'ICC_IGRPEN1_EL1', 'rw'),
  MDSCR_EL1: { enc: [2, 0, 0, 2, 2], mask: 0xffff_ffffn },
  MDCCINT_EL1: { enc: [2, 0, 0, 2, 0], mask: 0xffff_ffffn },
  OSLAR_EL1: { enc: [2, 0, 1, 0, 4], access: 'wo', mask: 1n },
  OSLSR_EL1: {
    enc: [2, 0, 1, 1, 4], access: 'ro', reset: 0n,
    // OSLM = 0b10 (lock implemented) and OSLK mirrors the last OSLAR write.
    read: (h, dst) => writeSlot(h, dst, 0x8 | ((h.r[2 * h.sysregSlot('OSLAR_EL1')] & 1) << 1)),
  },
  OSDLR_EL1: { enc: [2, 0, 1, 3, 4], mask: 1n },
  DBGBVR0_EL1: { enc: [2, 0, 0, 0, 4], mask: ALL },
  DBGBCR0_EL1: { enc: [2, 0, 0, 0, 5], mask: 0xffff_ffffn },
  DBGWVR0_EL1: { enc: [2, 0, 0, 0, 6], mask: ALL },
  DBGWCR0_EL1: { enc: [2, 0, 0, 0, 7], mask: 0xffff_ffffn },
  DBGBVR1_EL1: { enc: [2, 0, 0, 1, 4], mask: ALL },
  DBGBCR1_EL1: { enc: [2, 0, 0, 1, 5], mask: 0xffff_ffffn },
  DBGWVR1_EL1: { enc: [2, 0, 0, 1, 6], mask: ALL },
  DBGWCR1_EL1: { enc: [2, 0, 0, 1, 7], mask: 0xffff_ffffn },
  DBGCLAIMSET_EL1: { enc: [2, 0, 7, 8, 6], mask: 0xffn },
  DBGCLAIMCLR_EL1: { enc: [2, 0, 7, 9, 6], mask: 0xffn },
} satisfies Record<string, Spec>;

export type SysregNameT = keyof typeof SPECS;

/**
 * A GICv3 CPU interface register: the value goes through the slot, the
 * meaning is the GIC model's (iccRead/iccWrite on the vcpu).
 */
function icc(enc: Spec['enc'], reg: IccRegister, access: 'rw' | 'ro' | 'wo'): Spec {
  return {
    enc, access, mask: ALL,
    read: access === 'wo' ? undefined : (h, dst) => writeSlot64(h, dst, h.iccRead(reg)),
    afterWrite: access === 'ro' ? undefined : (h) => {
      const s = h.sysregSlot(reg);
      h.iccWrite(reg, BigInt(h.r[2 * s] >>> 0) | (BigInt(h.r[2 * s + 1] >>> 0) << 32n));
    },
  };
}

function writeSlot64(h: SysregHost, dst: number, v: bigint): void {
  h.r[2 * dst] = Number(v & 0xffffffffn) | 0;
  h.r[2 * dst + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
}

function timerCtl(h: SysregHost, dst: number, prefix: 'CNTP' | 'CNTV'): void {
  // ISTATUS (bit 2) is the timer condition, computed from the counter.
  const ctl = h.r[2 * h.sysregSlot(`${prefix}_CTL_EL0`)] & 3;
  const cvalSlot = h.sysregSlot(`${prefix}_CVAL_EL0`);
  const cval = (h.r[2 * cvalSlot] >>> 0) + (h.r[2 * cvalSlot + 1] >>> 0) * 0x100000000;
  const now = prefix === 'CNTV' ? h.virtualCounterTicks() : h.counterTicks();
  const fired = (ctl & 1) !== 0 && (now < 0 ? now + 2 ** 64 : now) >= cval;
  writeSlot(h, dst, ctl | (fired ? 4 : 0));
}

/** The count a timer compares with: the virtual timer's is CNTVCT. */
function timerCount(h: SysregHost, cvalName: SysregNameT): bigint {
  return BigInt.asUintN(64, BigInt(cvalName === 'CNTV_CVAL_EL0' ? h.virtualCounterTicks() : h.counterTicks()));
}

function timerTval(h: SysregHost, dst: number, cvalName: SysregNameT): void {
  // TVAL reads as the signed 32-bit distance from now to CVAL.
  const s = h.sysregSlot(cvalName);
  const cval = BigInt(h.r[2 * s] >>> 0) + (BigInt(h.r[2 * s + 1] >>> 0) << 32n);
  const v = BigInt.asIntN(32, cval - timerCount(h, cvalName));
  writeSlot(h, dst, Number(BigInt.asUintN(32, v)));
}

function timerTvalWrite(h: SysregHost, tvalName: SysregNameT, cvalName: SysregNameT): void {
  const t = h.sysregSlot(tvalName);
  const tval = BigInt(h.r[2 * t]); // sign-extended 32-bit
  const cval = BigInt.asUintN(64, timerCount(h, cvalName) + tval);
  const c = h.sysregSlot(cvalName);
  h.r[2 * c] = Number(cval & 0xffffffffn) | 0;
  h.r[2 * c + 1] = Number(cval >> 32n) | 0;
}

export const SYSREGS: readonly SysregDef[] = Object.entries(SPECS).map(([name, s], i): SysregDef => {
  const spec = s as Spec;
  const mask = spec.mask ?? 0n;
  const access = spec.access ?? 'rw';
  return {
    name: name as SysregNameT,
    key: sysregKey(...spec.enc),
    slot: SLOT_SYSREG_BASE + i,
    readable: access !== 'wo',
    writable: access !== 'ro',
    writeMaskLo: Number(mask & 0xffffffffn) | 0,
    writeMaskHi: Number((mask >> 32n) & 0xffffffffn) | 0,
    el0: spec.el0 ?? EL1_ONLY,
    el0Write: spec.el0Write ?? spec.el0 ?? EL1_ONLY,
    read: spec.read,
    afterWrite: spec.afterWrite,
    reset: spec.reset ?? 0n,
  };
});

export const SYSREG_BY_KEY: ReadonlyMap<number, SysregDef> = new Map(SYSREGS.map((d) => [d.key, d]));
export const SYSREG_BY_NAME: ReadonlyMap<string, SysregDef> = new Map(SYSREGS.map((d) => [d.name, d]));

export function sysregSlotOf(name: SysregNameT): number {
  return SYSREG_BY_NAME.get(name)!.slot;
}

/**
 * The ID register space (op0=3, op1=0, CRn=0, CRm=1..7) reads as zero where no
 * register is defined, as the architecture reserves it for future ID registers.
 */
export function isReservedIdRegister(key: number): boolean {
  const op0 = key >>> 14, op1 = (key >>> 11) & 7, crn = (key >>> 7) & 15, crm = (key >>> 3) & 15;
  return op0 === 3 && op1 === 0 && crn === 0 && crm >= 1 && crm <= 7;
}
