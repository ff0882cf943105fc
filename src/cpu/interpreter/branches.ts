// Branches, exception generation and exception return. Handlers that change
// the PC return true so the execution loop re-resolves its code page.
import type { Fields } from '../../a64/decode-table.js';
import type { Handler } from '../code-pages.js';
import { PSTATE_IL, SLOT_EXCL_SIZE, SLOT_NZCV, SLOT_PC, SLOT_PSTATE } from '../state-layout.js';
import { EC_BRK64, EC_SVC64, VcpuExit, type Vcpu } from '../vcpu.js';
import { conditionHolds } from './alu.js';
import { signExtend, zrRead } from './operands.js';

const NZCV = 2 * SLOT_NZCV;
const PC = 2 * SLOT_PC;
const X30 = 60;

/** PC += offset (a signed byte offset that fits in 32 bits). */
function branchBy(r: Int32Array, offset: number): void {
  const lo = (r[PC] >>> 0) + offset;
  r[PC] = lo | 0;
  if (lo >= 0x100000000) r[PC + 1] = (r[PC + 1] + 1) | 0;
  else if (lo < 0) r[PC + 1] = (r[PC + 1] - 1) | 0;
}

/** X30 = PC + 4. */
function link(r: Int32Array): void {
  const lo = (r[PC] >>> 0) + 4;
  r[X30] = lo | 0;
  r[X30 + 1] = lo >= 0x100000000 ? (r[PC + 1] + 1) | 0 : r[PC + 1];
}

export function buildBranchImm(f: Fields): Handler {
  const offset = signExtend(f.imm26, 26) * 4;
  if (f.op) return (c) => { const r = c.r; link(r); branchBy(r, offset); return true; };
  return (c) => { branchBy(c.r, offset); return true; };
}

export function buildBranchCond(f: Fields): Handler {
  const offset = signExtend(f.imm19, 19) * 4, cond = f.cond;
  return (c) => {
    const r = c.r;
    if (!conditionHolds(cond, r[NZCV])) return false;
    branchBy(r, offset);
    return true;
  };
}

export function buildCompareBranch(f: Fields): Handler {
  const t = zrRead(f.Rt), offset = signExtend(f.imm19, 19) * 4, nonzero = f.op === 1, sf = f.sf;
  return (c) => {
    const r = c.r;
    const isZero = sf ? (r[t] | r[t + 1]) === 0 : r[t] === 0;
    if (isZero === nonzero) return false;
    branchBy(r, offset);
    return true;
  };
}

export function buildTestBranch(f: Fields): Handler {
  const t = zrRead(f.Rt), bit = (f.b5 << 5) | f.b40, offset = signExtend(f.imm14, 14) * 4, nonzero = f.op === 1;
  const idx = bit >= 32 ? t + 1 : t, mask = 1 << (bit & 31);
  return (c) => {
    const r = c.r;
    if (((r[idx] & mask) !== 0) !== nonzero) return false;
    branchBy(r, offset);
    return true;
  };
}

export function buildBranchReg(f: Fields, withLink: boolean): Handler {
  const n = zrRead(f.Rn);
  return (c) => {
    const r = c.r;
    // Read the target before linking: BLR X30 branches to the old X30.
    const lo = r[n], hi = r[n + 1];
    if (withLink) link(r);
    r[PC] = lo; r[PC + 1] = hi;
    return true;
  };
}

export function buildEret(): Handler {
  return (c) => {
    if (c.el === 0) { c.undefinedInstruction(); return true; }
    exceptionReturn(c);
    return true;
  };
}

/** ERET from EL1: restore PSTATE from SPSR_EL1 and the PC from ELR_EL1. */
export function exceptionReturn(c: Vcpu): void {
  const r = c.r;
  const spsr = r[2 * c.sysregSlot('SPSR_EL1')];
  const elr = 2 * c.sysregSlot('ELR_EL1');
  const m = spsr & 0x1f;
  // Only EL0t, EL1t and EL1h exist; returning anywhere else is an illegal
  // exception return, which keeps the mode and sets PSTATE.IL.
  const legal = m === 0 || m === 4 || m === 5;
  r[NZCV] = spsr & 0xf0000000;
  const keep = legal ? spsr & 0xf : r[2 * SLOT_PSTATE] & 0xf;
  c.writePstate((spsr & 0x007003c0 & ~0xf) | keep | (legal ? 0 : PSTATE_IL));
  r[PC] = r[elr];
  r[PC + 1] = r[elr + 1];
  r[2 * SLOT_EXCL_SIZE] = 0;
  // ERET synchronises context: pending translation settings apply to the return target.
  c.contextSynchronize();
}

export function buildSvc(f: Fields): Handler {
  const imm = f.imm16;
  return (c) => {
    const r = c.r;
    const lo = (r[PC] >>> 0) + 4;
    c.takeException(EC_SVC64, imm, lo | 0, lo >= 0x100000000 ? r[PC + 1] + 1 : r[PC + 1]);
    return true;
  };
}

/** HVC and SMC from EL1 leave the vcpu for the run loop, which plays EL2; from EL0 they are UNDEFINED. */
export function buildHypercall(f: Fields, exit: VcpuExit): Handler {
  const imm = f.imm16;
  return (c) => {
    if (c.el === 0) { c.undefinedInstruction(); return true; }
    c.exit = exit;
    c.exitImm = imm;
    branchBy(c.r, 4);
    return true;
  };
}

export function buildBrk(f: Fields): Handler {
  const imm = f.imm16;
  return (c) => {
    const r = c.r;
    c.takeException(EC_BRK64, imm, r[PC], r[PC + 1]);
    return true;
  };
}

export function buildUndefined(): Handler {
  return (c) => { c.undefinedInstruction(); return true; };
}

export { branchBy };
