// Maps each entry of the decode table to the builder of its interpreter
// handler. Every table entry must appear here (checked by a test).
import type { Fields } from '../../a64/decode-table.js';
import type { DecodedInstruction } from '../../a64/decoder.js';
import type { Handler } from '../code-pages.js';
import { VcpuExit } from '../vcpu.js';
import {
  buildBranchCond, buildBranchImm, buildBranchReg, buildBrk, buildCompareBranch, buildEret, buildHypercall, buildSvc,
  buildTestBranch, buildUndefined,
} from './branches.js';
import {
  buildAdcSbc, buildAddSubExt, buildAddSubImm, buildAddSubShifted, buildAdr, buildBitfield, buildCcmp, buildCrc32,
  buildCsel, buildDp1, buildDp2, buildDp3, buildExtr, buildLogicImm, buildLogicShifted, buildMoveWide,
} from './data-processing.js';
import {
  buildAtomic, buildCas, buildCasp, buildLdrLiteral, buildLdstExclusive, buildLdstExclusivePair, buildLdstImm9,
  buildLdstPair, buildLdstReg, buildLdstUimm, buildOrdered,
} from './loads-stores.js';
import { buildBarrier, buildClrex, buildHint, buildMrs, buildMsrImm, buildMsrReg, buildSys, fpAccess } from './system.js';

export const HANDLER_BUILDERS: Readonly<Record<string, (f: Fields) => Handler>> = {
  ADR: (f) => buildAdr(f, false),
  ADRP: (f) => buildAdr(f, true),
  ADDSUB_IMM: buildAddSubImm,
  LOGIC_IMM: buildLogicImm,
  MOVE_WIDE: buildMoveWide,
  BITFIELD: buildBitfield,
  EXTR: buildExtr,
  B_UNCOND: buildBranchImm,
  B_COND: buildBranchCond,
  CB: buildCompareBranch,
  TB: buildTestBranch,
  BR: (f) => buildBranchReg(f, false),
  BLR: (f) => buildBranchReg(f, true),
  RET: (f) => buildBranchReg(f, false),
  ERET: buildEret,
  SVC: buildSvc,
  HVC: (f) => buildHypercall(f, VcpuExit.Hvc),
  SMC: (f) => buildHypercall(f, VcpuExit.Smc),
  BRK: buildBrk,
  HLT: buildUndefined, // halting debug is not enabled, so HLT is UNDEFINED
  UDF: buildUndefined,
  HINT: buildHint,
  CLREX: buildClrex,
  DSB: () => buildBarrier(false),
  DMB: () => buildBarrier(false),
  ISB: () => buildBarrier(true),
  MSR_IMM: buildMsrImm,
  SYS: buildSys,
  MSR_REG: buildMsrReg,
  MRS: buildMrs,
  LDR_LIT: buildLdrLiteral,
  LDST_PAIR: buildLdstPair,
  LDST_UIMM: buildLdstUimm,
  LDST_UNSCALED: (f) => buildLdstImm9(f, 'unscaled'),
  LDST_POST: (f) => buildLdstImm9(f, 'post'),
  LDST_UNPRIV: (f) => buildLdstImm9(f, 'unpriv'),
  LDST_PRE: (f) => buildLdstImm9(f, 'pre'),
  LDST_REG: buildLdstReg,
  LDAPR: (f) => buildOrdered(f, true),
  ATOMIC: buildAtomic,
  LDSTX: buildLdstExclusive,
  LDSTXP: buildLdstExclusivePair,
  CASP: buildCasp,
  LDAR_STLR: (f) => buildOrdered(f, f.L === 1),
  LDLAR_STLLR: (f) => buildOrdered(f, f.L === 1),
  CAS: buildCas,
  LOGIC_SHIFTED: buildLogicShifted,
  ADDSUB_SHIFTED: buildAddSubShifted,
  ADDSUB_EXT: buildAddSubExt,
  ADC_SBC: buildAdcSbc,
  CCMP_REG: (f) => buildCcmp(f, false),
  CCMP_IMM: (f) => buildCcmp(f, true),
  CSEL: buildCsel,
  DP_3SRC: buildDp3,
  DP_2SRC: buildDp2,
  CRC32: buildCrc32,
  DP_1SRC: buildDp1,
  FPSIMD: () => fpAccess(),
};

const UNDEFINED = buildUndefined();

export function buildHandler(d: DecodedInstruction | undefined): Handler {
  if (d === undefined) return UNDEFINED;
  const builder = HANDLER_BUILDERS[d.name];
  if (!builder) throw new Error(`no interpreter handler for decode-table entry ${d.name}`);
  return builder(d.fields);
}
