// System instructions: hints, barriers, PSTATE writes, MRS/MSR, cache and TLB
// maintenance, address translation, and the FP/SIMD access check.
import type { Fields } from '../../a64/decode-table.js';
import type { Handler } from '../code-pages.js';
import { PSTATE_PAN, SLOT_EXCL_SIZE, SLOT_SP_EL0, SLOT_NZCV, SLOT_PC, SLOT_PSTATE } from '../state-layout.js';
import { El0Access, isReservedIdRegister, SYSREG_BY_KEY, sysregKey, type SysregDef } from '../system-registers.js';
import { EC_FP_ACCESS, EC_SYSREG, EC_WFX, GUEST_FAULT, type TlbiOp, VcpuExit, type Vcpu } from '../vcpu.js';
import { branchBy } from './branches.js';
import { zrRead, zrWrite } from './operands.js';

const PC = 2 * SLOT_PC;
const NZCV = 2 * SLOT_NZCV;
const PSTATE = 2 * SLOT_PSTATE;

const SCTLR_UMA = 1 << 9;
const SCTLR_DZE = 1 << 14;
const SCTLR_UCI = 1 << 26;
const SCTLR_NTWI = 1 << 16;
const SCTLR_NTWE = 1 << 18;

function sctlr(c: Vcpu): number {
  return c.r[2 * c.sysregSlot('SCTLR_EL1')];
}

/** Traps a system instruction executed at EL0 to EL1 with EC 0x18 and its encoding. */
function trapSysreg(c: Vcpu, f: Fields, op0: number, read: boolean): void {
  const iss = (op0 << 20) | (f.op2 << 17) | (f.op1 << 14) | (f.CRn << 10) | (f.Rt << 5) | (f.CRm << 1) | (read ? 1 : 0);
  c.takeException(EC_SYSREG, iss, c.r[PC], c.r[PC + 1]);
}

export function buildHint(f: Fields): Handler {
  const hint = (f.CRm << 3) | f.op2;
  switch (hint) {
    case 2: // WFE
      return (c) => {
        if (c.el === 0 && (sctlr(c) & SCTLR_NTWE) === 0) {
          c.takeException(EC_WFX, (1 << 24) | (0xe << 20) | 1, c.r[PC], c.r[PC + 1]);
          return true;
        }
        if (c.eventRegister) { c.eventRegister = false; return false; }
        c.exit = VcpuExit.Wfe;
        branchBy(c.r, 4);
        return true;
      };
    case 3: // WFI
      return (c) => {
        if (c.el === 0 && (sctlr(c) & SCTLR_NTWI) === 0) {
          c.takeException(EC_WFX, (1 << 24) | (0xe << 20), c.r[PC], c.r[PC + 1]);
          return true;
        }
        // An interrupt signalled to this PE, even one PSTATE masks, is a
        // wake-up event: WFI then completes at once.
        if (c.irqLines !== 0) return false;
        c.exit = VcpuExit.Wfi;
        branchBy(c.r, 4);
        return true;
      };
    case 4: // SEV
      return (c) => { c.sendEvent(); };
    case 5: // SEVL
      return (c) => { c.eventRegister = true; };
    default:
      // NOP, YIELD, and the hint space that pointer authentication, BTI,
      // ESB, CSDB and friends occupy: all execute as NOPs here.
      return () => undefined;
  }
}

export function buildBarrier(isb: boolean): Handler {
  // ISB is a context synchronisation event: translation settings written
  // before it take effect, and leaving the block makes the next fetch use them.
  if (isb) return (c) => { c.contextSynchronize(); branchBy(c.r, 4); return true; };
  return () => undefined;
}

export function buildClrex(): Handler {
  return (c) => { c.r[2 * SLOT_EXCL_SIZE] = 0; };
}

export function buildMsrImm(f: Fields): Handler {
  const op1 = f.op1, op2 = f.op2, crm = f.CRm;
  if (op1 === 0 && op2 === 5) {
    return (c) => {
      if (c.el === 0) { c.undefinedInstruction(); return true; }
      c.writePstate((c.r[PSTATE] & ~1) | (crm & 1));
      return false;
    };
  }
  if (op1 === 3 && (op2 === 6 || op2 === 7)) {
    const bits = crm << 6;
    const set = op2 === 6;
    return (c) => {
      if (c.el === 0 && (sctlr(c) & SCTLR_UMA) === 0) { trapSysreg(c, { ...f, Rt: 31, CRn: 4 }, 0, false); return true; }
      const r = c.r;
      r[PSTATE] = set ? r[PSTATE] | bits : r[PSTATE] & ~bits;
      // Unmasking may make a pending interrupt deliverable: leave the block.
      branchBy(r, 4);
      return true;
    };
  }
  if (op1 === 0 && op2 === 4) {
    return (c) => {
      if (!c.features.has('pan') || c.el === 0) { c.undefinedInstruction(); return true; }
      const r = c.r;
      r[PSTATE] = crm & 1 ? r[PSTATE] | PSTATE_PAN : r[PSTATE] & ~PSTATE_PAN;
      return false;
    };
  }
  return (c) => { c.undefinedInstruction(); return true; };
}

// ---- MRS / MSR ----

const KEY_NZCV = sysregKey(3, 3, 4, 2, 0);
const KEY_DAIF = sysregKey(3, 3, 4, 2, 1);
const KEY_CURRENTEL = sysregKey(3, 0, 4, 2, 2);
const KEY_SPSEL = sysregKey(3, 0, 4, 2, 0);
const KEY_SP_EL0 = sysregKey(3, 0, 4, 1, 0);
const KEY_PAN = sysregKey(3, 0, 4, 2, 3);
const KEY_FPCR = sysregKey(3, 3, 4, 4, 0);
const KEY_FPSR = sysregKey(3, 3, 4, 4, 1);

function fieldsKey(f: Fields): { key: number; op0: number } {
  const op0 = 2 | f.o0;
  return { key: sysregKey(op0, f.op1, f.CRn, f.CRm, f.op2), op0 };
}

export function buildMrs(f: Fields): Handler {
  const { key, op0 } = fieldsKey(f);
  const t = zrWrite(f.Rt);
  const set = (c: Vcpu, lo: number, hi: number): boolean => { c.r[t] = lo; c.r[t + 1] = hi; return false; };
  switch (key) {
    case KEY_NZCV: return (c) => set(c, c.r[NZCV], 0);
    case KEY_DAIF:
      return (c) => {
        if (c.el === 0 && (sctlr(c) & SCTLR_UMA) === 0) { trapSysreg(c, f, op0, true); return true; }
        return set(c, c.r[PSTATE] & 0x3c0, 0);
      };
    case KEY_CURRENTEL:
      return (c) => (c.el === 0 ? undef(c) : set(c, c.el << 2, 0));
    case KEY_SPSEL:
      return (c) => (c.el === 0 ? undef(c) : set(c, c.r[PSTATE] & 1, 0));
    case KEY_SP_EL0:
      // SP_EL0 is only accessible this way while SP_EL1 is the selected stack.
      return (c) => {
        if (c.el === 0 || (c.r[PSTATE] & 1) === 0) return undef(c);
        const r = c.r, bank = 2 * SLOT_SP_EL0;
        return set(c, r[bank], r[bank + 1]);
      };
    case KEY_PAN:
      return (c) => (c.el === 0 || !c.features.has('pan') ? undef(c) : set(c, c.r[PSTATE] & PSTATE_PAN, 0));
    case KEY_FPCR:
    case KEY_FPSR:
      return fpAccess();
  }
  const def = SYSREG_BY_KEY.get(key);
  if (!def || !def.readable) {
    if (isReservedIdRegister(key)) return (c) => (c.el === 0 ? undef(c) : set(c, 0, 0));
    return (c) => undef(c);
  }
  const slot = 2 * def.slot;
  const read = def.read;
  return (c) => {
    if (c.el === 0 && !el0Allowed(c, def, f, op0, true)) return true;
    if (read) read(c, t >> 1);
    else { const r = c.r; r[t] = r[slot]; r[t + 1] = r[slot + 1]; }
    return false;
  };
}

function undef(c: Vcpu): boolean {
  c.undefinedInstruction();
  return true;
}

function el0Allowed(c: Vcpu, def: SysregDef, f: Fields, op0: number, read: boolean): boolean {
  const a = read ? def.el0(c) : def.el0Write(c);
  if (a === El0Access.Allowed) return true;
  if (a === El0Access.Trap) trapSysreg(c, f, op0, read);
  else c.undefinedInstruction();
  return false;
}

export function buildMsrReg(f: Fields): Handler {
  const { key, op0 } = fieldsKey(f);
  const t = zrRead(f.Rt);
  switch (key) {
    case KEY_NZCV: return (c) => { c.r[NZCV] = c.r[t] & 0xf0000000; };
    case KEY_DAIF:
      return (c) => {
        if (c.el === 0 && (sctlr(c) & SCTLR_UMA) === 0) { trapSysreg(c, f, op0, false); return true; }
        const r = c.r;
        r[PSTATE] = (r[PSTATE] & ~0x3c0) | (r[t] & 0x3c0);
        branchBy(r, 4);
        return true;
      };
    case KEY_SPSEL:
      return (c) => {
        if (c.el === 0) return undef(c);
        c.writePstate((c.r[PSTATE] & ~1) | (c.r[t] & 1));
        return false;
      };
    case KEY_SP_EL0:
      return (c) => {
        if (c.el === 0 || (c.r[PSTATE] & 1) === 0) return undef(c);
        const r = c.r, bank = 2 * SLOT_SP_EL0;
        r[bank] = r[t]; r[bank + 1] = r[t + 1];
        return false;
      };
    case KEY_PAN:
      return (c) => {
        if (c.el === 0 || !c.features.has('pan')) return undef(c);
        const r = c.r;
        r[PSTATE] = (r[PSTATE] & ~PSTATE_PAN) | (r[t] & PSTATE_PAN);
        return false;
      };
    case KEY_FPCR:
    case KEY_FPSR:
      return fpAccess();
  }
  const def = SYSREG_BY_KEY.get(key);
  if (!def || !def.writable) return (c) => undef(c);
  const slot = 2 * def.slot;
  const mlo = def.writeMaskLo, mhi = def.writeMaskHi;
  const after = def.afterWrite;
  return (c) => {
    if (c.el === 0 && !el0Allowed(c, def, f, op0, false)) return true;
    const r = c.r;
    r[slot] = (r[slot] & ~mlo) | (r[t] & mlo);
    r[slot + 1] = (r[slot + 1] & ~mhi) | (r[t + 1] & mhi);
    if (!after) return false;
    // Writes that change translation or timers leave the block, so the run
    // loop and the next fetch see their effect.
    after(c);
    branchBy(r, 4);
    return true;
  };
}

// ---- SYS: cache maintenance, address translation, TLB maintenance ----

export function buildSys(f: Fields): Handler {
  const { op1, CRn: crn, CRm: crm, op2 } = f;
  const t = zrRead(f.Rt);
  const is = (a: number, n: number, m: number, b: number): boolean => op1 === a && crn === n && crm === m && op2 === b;

  if (is(0, 7, 1, 0) || is(0, 7, 5, 0)) {
    // IC IALLUIS / IC IALLU
    return (c) => {
      if (c.el === 0) return undef(c);
      c.codePages.invalidateAll('ic-maintenance');
      branchBy(c.r, 4);
      return true;
    };
  }
  if (is(3, 7, 5, 1)) {
    // IC IVAU: drop decoded code of the physical page the VA maps to.
    return (c) => {
      if (c.el === 0 && (sctlr(c) & SCTLR_UCI) === 0) { trapSysreg(c, f, 1, false); return true; }
      const r = c.r;
      const off = c.translateMaintenance(r[t], r[t + 1]);
      if (off >= 0) c.codePages.invalidatePage(Math.floor(off / 4096), 'ic-maintenance');
      branchBy(r, 4);
      return true;
    };
  }
  if (is(3, 7, 4, 1)) {
    // DC ZVA: zero the 64-byte block holding the address.
    return (c) => {
      if (c.el === 0 && (sctlr(c) & SCTLR_DZE) === 0) { trapSysreg(c, f, 1, false); return true; }
      const r = c.r;
      const lo = r[t] & ~63, hi = r[t + 1];
      const off = c.translateZeroBlock(lo, hi);
      if (off >= 0) {
        c.noteCodeWrite(off, 64);
        c.u8.fill(0, off, off + 64);
      } else {
        for (let i = 0; i < 64; i += 8) c.write64(lo + i, hi, 0, 0);
      }
      return false;
    };
  }
  if (is(3, 7, 10, 1) || is(3, 7, 11, 1) || is(3, 7, 14, 1)) {
    // DC CVAC / CVAU / CIVAC: no data cache to clean, but the address must translate.
    return (c) => {
      if (c.el === 0 && (sctlr(c) & SCTLR_UCI) === 0) { trapSysreg(c, f, 1, false); return true; }
      const r = c.r;
      c.translateMaintenance(r[t], r[t + 1]);
      return false;
    };
  }
  if (is(0, 7, 6, 1)) {
    // DC IVAC: EL1 only; nothing to invalidate, but the address must translate.
    return (c) => {
      if (c.el === 0) return undef(c);
      const r = c.r;
      c.translateMaintenance(r[t], r[t + 1]);
      return false;
    };
  }
  if (is(0, 7, 6, 2) || is(0, 7, 10, 2) || is(0, 7, 14, 2)) {
    // DC ISW / CSW / CISW: EL1 only.
    return (c) => (c.el === 0 ? undef(c) : false);
  }
  if (op1 === 0 && crn === 7 && crm === 8 && op2 <= 3) {
    // AT S1E1R, S1E1W, S1E0R, S1E0W: the result goes to PAR_EL1.
    const write = (op2 & 1) !== 0, el0 = (op2 & 2) !== 0;
    return (c) => {
      if (c.el === 0) return undef(c);
      const r = c.r;
      c.addressTranslate(r[t], r[t + 1], write, el0);
      return false;
    };
  }
  if (op1 === 0 && crn === 8 && (crm === 3 || crm === 7) && op2 !== 4 && op2 !== 6) {
    // TLBI VMALLE1, VAE1, ASIDE1, VAAE1, VALE1, VAALE1 (CRm 7) and their
    // inner-shareable forms (CRm 3), which every vcpu must see. The block
    // ends so that the next fetch sees the new state of the TLB.
    const broadcast = crm === 3, op = op2 as TlbiOp;
    return (c) => {
      if (c.el === 0) return undef(c);
      const r = c.r;
      if (broadcast) c.broadcastTlbi(op, r[t], r[t + 1]);
      else c.tlbiLocal(op, r[t], r[t + 1]);
      branchBy(r, 4);
      return true;
    };
  }
  return (c) => undef(c);
}

/** FP/SIMD: trapped (EC 0x07) when CPACR_EL1.FPEN says so, otherwise UNDEFINED until FP is implemented. */
export function fpAccess(): Handler {
  return (c) => {
    const fpen = (c.r[2 * c.sysregSlot('CPACR_EL1')] >>> 20) & 3;
    const trapped = fpen === 0 || fpen === 2 || (fpen === 1 && c.el === 0);
    if (trapped) c.takeException(EC_FP_ACCESS, (1 << 24) | (0xe << 20), c.r[PC], c.r[PC + 1]);
    else c.undefinedInstruction();
    return true;
  };
}

export { GUEST_FAULT };
