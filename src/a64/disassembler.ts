// A64 disassembler for traces and debugging. It formats the decoder's output
// (never re-decoding bits itself) in the style of GNU objdump's default mode,
// preferred aliases included, so a --trace reads like the objdump listing of
// the same guest image and the two can be diffed.
import type { Feature, Fields } from './decode-table.js';
import { decode } from './decoder.js';

const ALL_FEATURES: ReadonlySet<Feature> = new Set<Feature>(['lse', 'crc32', 'lrcpc', 'lor', 'pan']);

type Formatter = (f: Fields, pc: bigint) => string;

// ---------------------------------------------------------------------------
// Operand helpers

function reg(n: number, is64: boolean | number, spAt31 = false): string {
  if (n === 31) return spAt31 ? (is64 ? 'sp' : 'wsp') : is64 ? 'xzr' : 'wzr';
  return (is64 ? 'x' : 'w') + n;
}

const x = (n: number): string => reg(n, true);
const xsp = (n: number): string => reg(n, true, true);

function hex(v: number | bigint): string {
  return '#0x' + v.toString(16);
}

function signExtend(v: number, bits: number): number {
  const shift = 32 - bits;
  return (v << shift) >> shift;
}

function target(pc: bigint, offset: number | bigint): string {
  return '0x' + BigInt.asUintN(64, pc + BigInt(offset)).toString(16);
}

function ins(mnemonic: string, ...operands: string[]): string {
  return operands.length === 0 ? mnemonic : `${mnemonic}\t${operands.join(', ')}`;
}

const CONDITIONS = ['eq', 'ne', 'cs', 'cc', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'];
const SHIFTS = ['lsl', 'lsr', 'asr', 'ror'];
const EXTENDS = ['uxtb', 'uxth', 'uxtw', 'uxtx', 'sxtb', 'sxth', 'sxtw', 'sxtx'];

// objdump omits a zero left shift but keeps e.g. "lsr #0", which is how the
// encoding spells it.
function shifted(rm: string, shift: number, amount: number): string {
  return shift === 0 && amount === 0 ? rm : `${rm}, ${SHIFTS[shift]} #${amount}`;
}

// DecodeBitMasks' wmask for the logical-immediate instructions; the decoder has
// already rejected the reserved combinations.
function bitmaskImmediate(n: number, imms: number, immr: number, regSize: number): bigint {
  const len = 31 - Math.clz32((n << 6) | (~imms & 0x3f));
  const esize = 1 << len;
  const levels = esize - 1;
  const s = imms & levels;
  const r = immr & levels;
  const emask = (1n << BigInt(esize)) - 1n;
  const ones = (1n << BigInt(s + 1)) - 1n;
  const elem = ((ones >> BigInt(r)) | (ones << BigInt(esize - r))) & emask;
  let out = 0n;
  for (let i = 0; i < regSize; i += esize) out |= elem << BigInt(i);
  return out;
}

// Whether MOVZ or MOVN can build `value`, in which case the architecture (and
// objdump) prefer those over the ORR-immediate form of "mov".
function moveWideCanEncode(value: bigint, regSize: number): boolean {
  const mask = (1n << BigInt(regSize)) - 1n;
  const fits = (v: bigint): boolean => {
    for (let hw = 0; hw < regSize; hw += 16) if ((v & ~(0xffffn << BigInt(hw))) === 0n) return true;
    return false;
  };
  return fits(value & mask) || fits(~value & mask);
}

// ---------------------------------------------------------------------------
// System register and system instruction names

// "name op0 op1 CRn CRm op2"; the common EL0-EL3 registers, spelled as objdump
// spells them. Anything else prints in the generic s<op0>_<op1>_c<n>_c<m>_<op2>
// form, which every assembler accepts.
const SYSREG_SOURCE = `
  nzcv 3 3 4 2 0; daif 3 3 4 2 1; fpcr 3 3 4 4 0; fpsr 3 3 4 4 1; dspsr_el0 3 3 4 5 0; dlr_el0 3 3 4 5 1
  currentel 3 0 4 2 2; spsel 3 0 4 2 0; pan 3 0 4 2 3; uao 3 0 4 2 4; dit 3 3 4 2 5; ssbs 3 3 4 2 6; tco 3 3 4 2 7
  sp_el0 3 0 4 1 0; sp_el1 3 4 4 1 0; sp_el2 3 6 4 1 0
  spsr_el1 3 0 4 0 0; elr_el1 3 0 4 0 1; spsr_el2 3 4 4 0 0; elr_el2 3 4 4 0 1; spsr_el3 3 6 4 0 0; elr_el3 3 6 4 0 1
  spsr_irq 3 4 4 3 0; spsr_abt 3 4 4 3 1; spsr_und 3 4 4 3 2; spsr_fiq 3 4 4 3 3
  ctr_el0 3 3 0 0 1; dczid_el0 3 3 0 0 7; rndr 3 3 2 4 0; rndrrs 3 3 2 4 1
  tpidr_el0 3 3 13 0 2; tpidrro_el0 3 3 13 0 3; tpidr_el1 3 0 13 0 4; tpidr_el2 3 4 13 0 2; tpidr_el3 3 6 13 0 2
  contextidr_el1 3 0 13 0 1; contextidr_el2 3 4 13 0 1
  cntfrq_el0 3 3 14 0 0; cntpct_el0 3 3 14 0 1; cntvct_el0 3 3 14 0 2
  cntp_tval_el0 3 3 14 2 0; cntp_ctl_el0 3 3 14 2 1; cntp_cval_el0 3 3 14 2 2
  cntv_tval_el0 3 3 14 3 0; cntv_ctl_el0 3 3 14 3 1; cntv_cval_el0 3 3 14 3 2
  cntkctl_el1 3 0 14 1 0; cntvoff_el2 3 4 14 0 3; cnthctl_el2 3 4 14 1 0
  cnthp_tval_el2 3 4 14 2 0; cnthp_ctl_el2 3 4 14 2 1; cnthp_cval_el2 3 4 14 2 2
  cnthv_tval_el2 3 4 14 3 0; cnthv_ctl_el2 3 4 14 3 1; cnthv_cval_el2 3 4 14 3 2
  cntps_tval_el1 3 7 14 2 0; cntps_ctl_el1 3 7 14 2 1; cntps_cval_el1 3 7 14 2 2
  pmcr_el0 3 3 9 12 0; pmcntenset_el0 3 3 9 12 1; pmcntenclr_el0 3 3 9 12 2; pmovsclr_el0 3 3 9 12 3
  pmswinc_el0 3 3 9 12 4; pmselr_el0 3 3 9 12 5; pmceid0_el0 3 3 9 12 6; pmceid1_el0 3 3 9 12 7
  pmccntr_el0 3 3 9 13 0; pmxevtyper_el0 3 3 9 13 1; pmxevcntr_el0 3 3 9 13 2
  pmuserenr_el0 3 3 9 14 0; pmovsset_el0 3 3 9 14 3; pmccfiltr_el0 3 3 14 15 7
  pmintenset_el1 3 0 9 14 1; pmintenclr_el1 3 0 9 14 2
  midr_el1 3 0 0 0 0; mpidr_el1 3 0 0 0 5; revidr_el1 3 0 0 0 6
  id_pfr0_el1 3 0 0 1 0; id_pfr1_el1 3 0 0 1 1; id_dfr0_el1 3 0 0 1 2; id_afr0_el1 3 0 0 1 3
  id_mmfr0_el1 3 0 0 1 4; id_mmfr1_el1 3 0 0 1 5; id_mmfr2_el1 3 0 0 1 6; id_mmfr3_el1 3 0 0 1 7
  id_isar0_el1 3 0 0 2 0; id_isar1_el1 3 0 0 2 1; id_isar2_el1 3 0 0 2 2; id_isar3_el1 3 0 0 2 3
  id_isar4_el1 3 0 0 2 4; id_isar5_el1 3 0 0 2 5; id_mmfr4_el1 3 0 0 2 6; id_isar6_el1 3 0 0 2 7
  mvfr0_el1 3 0 0 3 0; mvfr1_el1 3 0 0 3 1; mvfr2_el1 3 0 0 3 2; id_pfr2_el1 3 0 0 3 4
  id_aa64pfr0_el1 3 0 0 4 0; id_aa64pfr1_el1 3 0 0 4 1; id_aa64zfr0_el1 3 0 0 4 4
  id_aa64dfr0_el1 3 0 0 5 0; id_aa64dfr1_el1 3 0 0 5 1; id_aa64afr0_el1 3 0 0 5 4; id_aa64afr1_el1 3 0 0 5 5
  id_aa64isar0_el1 3 0 0 6 0; id_aa64isar1_el1 3 0 0 6 1; id_aa64isar2_el1 3 0 0 6 2
  id_aa64mmfr0_el1 3 0 0 7 0; id_aa64mmfr1_el1 3 0 0 7 1; id_aa64mmfr2_el1 3 0 0 7 2
  ccsidr_el1 3 1 0 0 0; clidr_el1 3 1 0 0 1; aidr_el1 3 1 0 0 7; csselr_el1 3 2 0 0 0
  vpidr_el2 3 4 0 0 0; vmpidr_el2 3 4 0 0 5
  sctlr_el1 3 0 1 0 0; actlr_el1 3 0 1 0 1; cpacr_el1 3 0 1 0 2; zcr_el1 3 0 1 2 0
  ttbr0_el1 3 0 2 0 0; ttbr1_el1 3 0 2 0 1; tcr_el1 3 0 2 0 2
  apiakeylo_el1 3 0 2 1 0; apiakeyhi_el1 3 0 2 1 1; apibkeylo_el1 3 0 2 1 2; apibkeyhi_el1 3 0 2 1 3
  apdakeylo_el1 3 0 2 2 0; apdakeyhi_el1 3 0 2 2 1; apdbkeylo_el1 3 0 2 2 2; apdbkeyhi_el1 3 0 2 2 3
  apgakeylo_el1 3 0 2 3 0; apgakeyhi_el1 3 0 2 3 1
  afsr0_el1 3 0 5 1 0; afsr1_el1 3 0 5 1 1; esr_el1 3 0 5 2 0; far_el1 3 0 6 0 0; par_el1 3 0 7 4 0
  mair_el1 3 0 10 2 0; amair_el1 3 0 10 3 0; vbar_el1 3 0 12 0 0; isr_el1 3 0 12 1 0; disr_el1 3 0 12 1 1
  sctlr_el2 3 4 1 0 0; actlr_el2 3 4 1 0 1; hcr_el2 3 4 1 1 0; mdcr_el2 3 4 1 1 1; cptr_el2 3 4 1 1 2
  hstr_el2 3 4 1 1 3; hacr_el2 3 4 1 1 7; ttbr0_el2 3 4 2 0 0; ttbr1_el2 3 4 2 0 1; tcr_el2 3 4 2 0 2
  vttbr_el2 3 4 2 1 0; vtcr_el2 3 4 2 1 2; afsr0_el2 3 4 5 1 0; afsr1_el2 3 4 5 1 1; esr_el2 3 4 5 2 0
  far_el2 3 4 6 0 0; hpfar_el2 3 4 6 0 4; mair_el2 3 4 10 2 0; amair_el2 3 4 10 3 0; vbar_el2 3 4 12 0 0
  sctlr_el12 3 5 1 0 0; cpacr_el12 3 5 1 0 2; ttbr0_el12 3 5 2 0 0; ttbr1_el12 3 5 2 0 1; tcr_el12 3 5 2 0 2
  spsr_el12 3 5 4 0 0; elr_el12 3 5 4 0 1; afsr0_el12 3 5 5 1 0; afsr1_el12 3 5 5 1 1; esr_el12 3 5 5 2 0
  far_el12 3 5 6 0 0; mair_el12 3 5 10 2 0; amair_el12 3 5 10 3 0; vbar_el12 3 5 12 0 0
  contextidr_el12 3 5 13 0 1; cntkctl_el12 3 5 14 1 0
  cntp_tval_el02 3 5 14 2 0; cntp_ctl_el02 3 5 14 2 1; cntp_cval_el02 3 5 14 2 2
  cntv_tval_el02 3 5 14 3 0; cntv_ctl_el02 3 5 14 3 1; cntv_cval_el02 3 5 14 3 2
  sctlr_el3 3 6 1 0 0; actlr_el3 3 6 1 0 1; scr_el3 3 6 1 1 0; cptr_el3 3 6 1 1 2; mdcr_el3 3 6 1 3 1
  ttbr0_el3 3 6 2 0 0; tcr_el3 3 6 2 0 2; afsr0_el3 3 6 5 1 0; afsr1_el3 3 6 5 1 1; esr_el3 3 6 5 2 0
  far_el3 3 6 6 0 0; mair_el3 3 6 10 2 0; amair_el3 3 6 10 3 0; vbar_el3 3 6 12 0 0
  rvbar_el1 3 0 12 0 1; rmr_el1 3 0 12 0 2; rvbar_el2 3 4 12 0 1; rmr_el2 3 4 12 0 2
  rvbar_el3 3 6 12 0 1; rmr_el3 3 6 12 0 2
  icc_pmr_el1 3 0 4 6 0; icc_iar0_el1 3 0 12 8 0; icc_eoir0_el1 3 0 12 8 1; icc_hppir0_el1 3 0 12 8 2
  icc_bpr0_el1 3 0 12 8 3; icc_dir_el1 3 0 12 11 1; icc_rpr_el1 3 0 12 11 3; icc_sgi1r_el1 3 0 12 11 5
  icc_asgi1r_el1 3 0 12 11 6; icc_sgi0r_el1 3 0 12 11 7; icc_iar1_el1 3 0 12 12 0; icc_eoir1_el1 3 0 12 12 1
  icc_hppir1_el1 3 0 12 12 2; icc_bpr1_el1 3 0 12 12 3; icc_ctlr_el1 3 0 12 12 4; icc_sre_el1 3 0 12 12 5
  icc_igrpen0_el1 3 0 12 12 6; icc_igrpen1_el1 3 0 12 12 7; icc_sre_el2 3 4 12 9 5
  icc_ctlr_el3 3 6 12 12 4; icc_sre_el3 3 6 12 12 5; icc_igrpen1_el3 3 6 12 12 7
  ich_hcr_el2 3 4 12 11 0; ich_vtr_el2 3 4 12 11 1; ich_misr_el2 3 4 12 11 2; ich_eisr_el2 3 4 12 11 3
  ich_elrsr_el2 3 4 12 11 5; ich_vmcr_el2 3 4 12 11 7
  mdccsr_el0 2 3 0 1 0; dbgdtr_el0 2 3 0 4 0
  mdccint_el1 2 0 0 2 0; mdscr_el1 2 0 0 2 2; osdtrrx_el1 2 0 0 0 2; osdtrtx_el1 2 0 0 3 2; oseccr_el1 2 0 0 6 2
  mdrar_el1 2 0 1 0 0; oslar_el1 2 0 1 0 4; oslsr_el1 2 0 1 1 4; osdlr_el1 2 0 1 3 4; dbgprcr_el1 2 0 1 4 4
  dbgclaimset_el1 2 0 7 8 6; dbgclaimclr_el1 2 0 7 9 6; dbgauthstatus_el1 2 0 7 14 6
  lorsa_el1 3 0 10 4 0; lorea_el1 3 0 10 4 1; lorn_el1 3 0 10 4 2; lorc_el1 3 0 10 4 3; lorid_el1 3 0 10 4 7
`;

function sysregKey(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

const SYSREG_NAMES: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>();
  const add = (name: string, op0: number, op1: number, crn: number, crm: number, op2: number): void => {
    names.set(sysregKey(op0, op1, crn, crm, op2), name);
  };
  for (const item of SYSREG_SOURCE.split(/[;\n]/)) {
    const parts = item.trim().split(/\s+/);
    if (parts.length !== 6) continue;
    const [name, ...nums] = parts;
    add(name, ...(nums.map(Number) as [number, number, number, number, number]));
  }
  // Numbered debug and GIC registers, too regular to list one by one.
  for (let n = 0; n < 16; n++) {
    add(`dbgbvr${n}_el1`, 2, 0, 0, n, 4);
    add(`dbgbcr${n}_el1`, 2, 0, 0, n, 5);
    add(`dbgwvr${n}_el1`, 2, 0, 0, n, 6);
    add(`dbgwcr${n}_el1`, 2, 0, 0, n, 7);
    add(`ich_lr${n}_el2`, 3, 4, 12, 12 + (n >> 3), n & 7);
  }
  for (let n = 0; n < 4; n++) {
    add(`icc_ap0r${n}_el1`, 3, 0, 12, 8, 4 + n);
    add(`icc_ap1r${n}_el1`, 3, 0, 12, 9, n);
    add(`ich_ap0r${n}_el2`, 3, 4, 12, 8, n);
    add(`ich_ap1r${n}_el2`, 3, 4, 12, 9, n);
  }
  for (let n = 0; n < 31; n++) {
    add(`pmevcntr${n}_el0`, 3, 3, 14, 8 + (n >> 3), n & 7);
    add(`pmevtyper${n}_el0`, 3, 3, 14, 12 + (n >> 3), n & 7);
  }
  return names;
})();

function sysreg(op0: number, op1: number, crn: number, crm: number, op2: number): string {
  return SYSREG_NAMES.get(sysregKey(op0, op1, crn, crm, op2)) ?? `s${op0}_${op1}_c${crn}_c${crm}_${op2}`;
}

// SYS aliases: "op1 CRn CRm op2 mnemonic operation hasXt". Ops without an Xt
// operand print without one whatever the Rt field holds, as objdump does.
const SYS_ALIAS_SOURCE = `
  0 7 1 0 ic ialluis 0; 0 7 5 0 ic iallu 0; 3 7 5 1 ic ivau 1
  0 7 6 1 dc ivac 1; 0 7 6 2 dc isw 1; 0 7 6 3 dc igvac 1; 0 7 6 4 dc igsw 1; 0 7 6 5 dc igdvac 1; 0 7 6 6 dc igdsw 1
  0 7 10 2 dc csw 1; 0 7 10 4 dc cgsw 1; 0 7 10 6 dc cgdsw 1; 0 7 14 2 dc cisw 1; 0 7 14 4 dc cigsw 1; 0 7 14 6 dc cigdsw 1
  3 7 4 1 dc zva 1; 3 7 4 3 dc gva 1; 3 7 4 4 dc gzva 1
  3 7 10 1 dc cvac 1; 3 7 10 3 dc cgvac 1; 3 7 10 5 dc cgdvac 1; 3 7 11 1 dc cvau 1
  3 7 12 1 dc cvap 1; 3 7 12 3 dc cgvap 1; 3 7 12 5 dc cgdvap 1
  3 7 13 1 dc cvadp 1; 3 7 13 3 dc cgvadp 1; 3 7 13 5 dc cgdvadp 1
  3 7 14 1 dc civac 1; 3 7 14 3 dc cigvac 1; 3 7 14 5 dc cigdvac 1
  6 7 14 1 dc cipapa 1; 6 7 14 5 dc cigdpapa 1
  0 7 8 0 at s1e1r 1; 0 7 8 1 at s1e1w 1; 0 7 8 2 at s1e0r 1; 0 7 8 3 at s1e0w 1; 0 7 9 0 at s1e1rp 1; 0 7 9 1 at s1e1wp 1
  4 7 8 0 at s1e2r 1; 4 7 8 1 at s1e2w 1; 4 7 8 4 at s12e1r 1; 4 7 8 5 at s12e1w 1; 4 7 8 6 at s12e0r 1; 4 7 8 7 at s12e0w 1
  6 7 8 0 at s1e3r 1; 6 7 8 1 at s1e3w 1
  3 7 3 4 cfp rctx 1; 3 7 3 5 dvp rctx 1; 3 7 3 7 cpp rctx 1
  6 8 1 4 tlbi paallos 0; 6 8 7 4 tlbi paall 0; 6 8 4 3 tlbi rpaos 1; 6 8 4 7 tlbi rpalos 1
`;

// TLBI operations follow a grid: per exception level, CRm picks the sharing
// domain (and range/IPA variants) and op2 the kind of invalidation.
function tlbiAliases(add: (op1: number, crn: number, crm: number, op2: number, mnemonic: string, op: string, xt: boolean) => void): void {
  const domains: ReadonlyArray<[number, string]> = [[1, 'os'], [3, 'is'], [7, '']];
  const rangeDomains: ReadonlyArray<[number, string]> = [[2, 'is'], [5, 'os'], [6, '']];
  for (const [crm, sfx] of domains) {
    for (const [op2, name, xt] of [[0, 'vmalle1', false], [1, 'vae1', true], [2, 'aside1', true], [3, 'vaae1', true],
      [5, 'vale1', true], [7, 'vaale1', true]] as const) add(0, 8, crm, op2, 'tlbi', name + sfx, xt);
    for (const [op2, name, xt] of [[0, 'alle2', false], [1, 'vae2', true], [4, 'alle1', false], [5, 'vale2', true],
      [6, 'vmalls12e1', false]] as const) add(4, 8, crm, op2, 'tlbi', name + sfx, xt);
    for (const [op2, name, xt] of [[0, 'alle3', false], [1, 'vae3', true], [5, 'vale3', true]] as const) {
      add(6, 8, crm, op2, 'tlbi', name + sfx, xt);
    }
  }
  for (const [crm, sfx] of rangeDomains) {
    for (const [op2, name] of [[1, 'rvae1'], [3, 'rvaae1'], [5, 'rvale1'], [7, 'rvaale1']] as const) {
      add(0, 8, crm, op2, 'tlbi', name + sfx, true);
    }
    for (const [op2, name] of [[1, 'rvae2'], [5, 'rvale2']] as const) add(4, 8, crm, op2, 'tlbi', name + sfx, true);
    for (const [op2, name] of [[1, 'rvae3'], [5, 'rvale3']] as const) add(6, 8, crm, op2, 'tlbi', name + sfx, true);
  }
  for (const [crm, op2, name] of [[0, 1, 'ipas2e1is'], [0, 2, 'ripas2e1is'], [0, 5, 'ipas2le1is'], [0, 6, 'ripas2le1is'],
    [4, 0, 'ipas2e1os'], [4, 1, 'ipas2e1'], [4, 2, 'ripas2e1'], [4, 3, 'ripas2e1os'], [4, 4, 'ipas2le1os'],
    [4, 5, 'ipas2le1'], [4, 6, 'ripas2le1'], [4, 7, 'ripas2le1os']] as const) add(4, 8, crm, op2, 'tlbi', name, true);
}

interface SysAlias {
  readonly mnemonic: string;
  readonly op: string;
  readonly xt: boolean;
}

const SYS_ALIASES: ReadonlyMap<number, SysAlias> = (() => {
  const out = new Map<number, SysAlias>();
  const add = (op1: number, crn: number, crm: number, op2: number, mnemonic: string, op: string, xt: boolean): void => {
    out.set(sysregKey(1, op1, crn, crm, op2), { mnemonic, op, xt });
  };
  for (const item of SYS_ALIAS_SOURCE.split(/[;\n]/)) {
    const p = item.trim().split(/\s+/);
    if (p.length !== 7) continue;
    add(Number(p[0]), Number(p[1]), Number(p[2]), Number(p[3]), p[4], p[5], p[6] === '1');
  }
  tlbiAliases(add);
  return out;
})();

// HINT space, indexed by CRm:op2; unnamed hints print as "hint #imm".
const HINTS: ReadonlyMap<number, string> = new Map([
  [0, 'nop'], [1, 'yield'], [2, 'wfe'], [3, 'wfi'], [4, 'sev'], [5, 'sevl'], [7, 'xpaclri'],
  [8, 'pacia1716'], [10, 'pacib1716'], [12, 'autia1716'], [14, 'autib1716'],
  [16, 'esb'], [17, 'psb\tcsync'], [18, 'tsb\tcsync'], [20, 'csdb'], [22, 'clearbhb'],
  [24, 'paciaz'], [25, 'paciasp'], [26, 'pacibz'], [27, 'pacibsp'],
  [28, 'autiaz'], [29, 'autiasp'], [30, 'autibz'], [31, 'autibsp'],
  [32, 'bti'], [34, 'bti\tc'], [36, 'bti\tj'], [38, 'bti\tjc'],
]);

const BARRIER_OPTIONS: readonly (string | undefined)[] = [
  undefined, 'oshld', 'oshst', 'osh', undefined, 'nshld', 'nshst', 'nsh',
  undefined, 'ishld', 'ishst', 'ish', undefined, 'ld', 'st', 'sy',
];

function barrier(mnemonic: string, crm: number): string {
  return ins(mnemonic, BARRIER_OPTIONS[crm] ?? '#0x' + crm.toString(16).padStart(2, '0'));
}

// MSR (immediate) PSTATE fields by op1:op2, with the largest immediate each
// takes; other encodings print as a generic MSR (register) of xzr, as objdump
// does.
const PSTATE_FIELDS: ReadonlyMap<number, [string, number]> = new Map([
  [(0 << 3) | 3, ['uao', 1]], [(0 << 3) | 4, ['pan', 1]], [(0 << 3) | 5, ['spsel', 1]],
  [(1 << 3) | 0, ['allint', 1]],
  [(3 << 3) | 1, ['ssbs', 1]], [(3 << 3) | 2, ['dit', 1]], [(3 << 3) | 4, ['tco', 1]],
  [(3 << 3) | 6, ['daifset', 15]], [(3 << 3) | 7, ['daifclr', 15]],
]);

const PSTATE_FLAG_OPS = ['cfinv', 'xaflag', 'axflag'];
const SVCR_OPS: readonly (string | undefined)[] = [undefined, 'sm', 'za', ''];

// ---------------------------------------------------------------------------
// Loads and stores

const PRFOPS = ['pld', 'pli', 'pst'];

function prefetchOp(rt: number): string {
  const type = rt >> 3;
  const target = (rt >> 1) & 3;
  if (type < 3 && target < 3) return `${PRFOPS[type]}l${target + 1}${rt & 1 ? 'strm' : 'keep'}`;
  return '#0x' + rt.toString(16).padStart(2, '0');
}

// Mnemonic stem, register width and whether it is PRFM, by size:opc, for the
// single-register load/store classes; `u` and `t` are the unscaled and
// unprivileged infixes ("ldur", "ldtr").
function ldstForm(size: number, opc: number, infix: string): { name: string; is64: boolean; prfm: boolean } {
  const sfx = ['b', 'h', '', ''][size];
  if (opc === 0) return { name: `st${infix}r${sfx}`, is64: size === 3, prfm: false };
  if (opc === 1) return { name: `ld${infix}r${sfx}`, is64: size === 3, prfm: false };
  if (size === 3) return { name: infix === 'u' ? 'prfum' : 'prfm', is64: true, prfm: true };
  return { name: `ld${infix}rs${['b', 'h', 'w'][size]}`, is64: opc === 2, prfm: false };
}

function ldstSingle(f: Fields, infix: string, address: string): string {
  const form = ldstForm(f.size, f.opc, infix);
  return ins(form.name, form.prfm ? prefetchOp(f.Rt) : reg(f.Rt, form.is64), address);
}

function offsetAddress(rn: number, offset: number): string {
  return offset === 0 ? `[${xsp(rn)}]` : `[${xsp(rn)}, #${offset}]`;
}

const ATOMIC_OPS = ['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin'];

// Acquire/release suffix from the A and R (or L and o0) bits, in objdump's order.
function ordering(acquire: number, release: number): string {
  return (acquire ? 'a' : '') + (release ? 'l' : '');
}

// ---------------------------------------------------------------------------
// Formatters, one per decode-table entry

const FORMATTERS = {
  ADR: (f, pc) => ins('adr', x(f.Rd), target(pc, signExtend((f.immhi << 2) | f.immlo, 21))),
  ADRP: (f, pc) => ins('adrp', x(f.Rd), target(pc & ~0xfffn, BigInt(signExtend((f.immhi << 2) | f.immlo, 21)) << 12n)),

  ADDSUB_IMM: (f) => {
    const rn = reg(f.Rn, f.sf, true);
    const imm = f.sh ? [hex(f.imm12), 'lsl #12'] : [hex(f.imm12)];
    if (f.S && f.Rd === 31) return ins(f.op ? 'cmp' : 'cmn', rn, ...imm);
    const rd = reg(f.Rd, f.sf, !f.S);
    if (!f.op && !f.S && !f.sh && f.imm12 === 0 && (f.Rd === 31 || f.Rn === 31)) return ins('mov', rd, rn);
    return ins(['add', 'adds', 'sub', 'subs'][(f.op << 1) | f.S], rd, rn, ...imm);
  },

  LOGIC_IMM: (f) => {
    const size = f.sf ? 64 : 32;
    const imm = bitmaskImmediate(f.N, f.imms, f.immr, size);
    const rn = reg(f.Rn, f.sf);
    if (f.opc === 3) return f.Rd === 31 ? ins('tst', rn, hex(imm)) : ins('ands', reg(f.Rd, f.sf), rn, hex(imm));
    const rd = reg(f.Rd, f.sf, true);
    // MOVZ/MOVN cannot target SP, so "mov sp, #imm" is always this form.
    if (f.opc === 1 && f.Rn === 31 && (f.Rd === 31 || !moveWideCanEncode(imm, size))) return ins('mov', rd, hex(imm));
    return ins(['and', 'orr', 'eor'][f.opc], rd, rn, hex(imm));
  },

  MOVE_WIDE: (f) => {
    const rd = reg(f.Rd, f.sf);
    const shift = f.hw * 16;
    const explicit = (m: string): string => ins(m, rd, hex(f.imm16), ...(shift ? [`lsl #${shift}`] : []));
    if (f.opc === 3) return explicit('movk');
    const size = f.sf ? 64 : 32;
    const wide = BigInt(f.imm16) << BigInt(shift);
    if (f.imm16 === 0 && shift !== 0) return explicit(f.opc === 2 ? 'movz' : 'movn');
    if (f.opc === 2) return ins('mov', rd, hex(wide));
    // A 32-bit MOVN of 0xffff yields a value MOVZ could build; the MOVZ spelling owns "mov".
    if (!f.sf && f.imm16 === 0xffff) return explicit('movn');
    return ins('mov', rd, hex(~wide & ((1n << BigInt(size)) - 1n)));
  },

  BITFIELD: (f) => {
    const size = f.sf ? 64 : 32;
    const rd = reg(f.Rd, f.sf);
    const rn = reg(f.Rn, f.sf);
    const r = f.immr;
    const s = f.imms;
    const field = (m: string, lsb: number, width: number): string => ins(m, rd, rn, `#${lsb}`, `#${width}`);
    const insertForm = (m: string): string => field(m, size - r, s + 1);
    const extractForm = (m: string): string => field(m, r, s - r + 1);
    if (f.opc === 1) {
      if (s < r) return f.Rn === 31 ? ins('bfc', rd, `#${size - r}`, `#${s + 1}`) : insertForm('bfi');
      return extractForm('bfxil');
    }
    const signed = f.opc === 0;
    if (s === size - 1) return ins(signed ? 'asr' : 'lsr', rd, rn, `#${r}`);
    if (!signed && s + 1 === r) return ins('lsl', rd, rn, `#${size - 1 - s}`);
    if (s < r) return insertForm(signed ? 'sbfiz' : 'ubfiz');
    if (r === 0) {
      const ext = s === 7 ? 'b' : s === 15 ? 'h' : s === 31 ? 'w' : undefined;
      // There is no uxtb/uxth into an X register (writing Wd already clears the
      // top half), so the 64-bit zero-extensions stay ubfx.
      if (ext && (signed || !f.sf)) {
        return ins(`${signed ? 's' : 'u'}xt${ext}`, rd, reg(f.Rn, false));
      }
    }
    return extractForm(signed ? 'sbfx' : 'ubfx');
  },

  EXTR: (f) => {
    const rd = reg(f.Rd, f.sf);
    const rn = reg(f.Rn, f.sf);
    if (f.Rn === f.Rm) return ins('ror', rd, rn, `#${f.imms}`);
    return ins('extr', rd, rn, reg(f.Rm, f.sf), `#${f.imms}`);
  },

  B_UNCOND: (f, pc) => ins(f.op ? 'bl' : 'b', target(pc, signExtend(f.imm26, 26) * 4)),
  B_COND: (f, pc) => ins(`b.${CONDITIONS[f.cond]}`, target(pc, signExtend(f.imm19, 19) * 4)),
  CB: (f, pc) => ins(f.op ? 'cbnz' : 'cbz', reg(f.Rt, f.sf), target(pc, signExtend(f.imm19, 19) * 4)),
  TB: (f, pc) => ins(f.op ? 'tbnz' : 'tbz', reg(f.Rt, f.b5), `#${(f.b5 << 5) | f.b40}`,
    target(pc, signExtend(f.imm14, 14) * 4)),
  BR: (f) => ins('br', x(f.Rn)),
  BLR: (f) => ins('blr', x(f.Rn)),
  RET: (f) => (f.Rn === 30 ? 'ret' : ins('ret', x(f.Rn))),
  ERET: () => 'eret',
  SVC: (f) => ins('svc', hex(f.imm16)),
  HVC: (f) => ins('hvc', hex(f.imm16)),
  SMC: (f) => ins('smc', hex(f.imm16)),
  BRK: (f) => ins('brk', hex(f.imm16)),
  HLT: (f) => ins('hlt', hex(f.imm16)),
  UDF: (f) => ins('udf', `#${f.imm16}`),

  HINT: (f) => HINTS.get((f.CRm << 3) | f.op2) ?? ins('hint', hex((f.CRm << 3) | f.op2)),
  CLREX: (f) => (f.CRm === 15 ? 'clrex' : ins('clrex', hex(f.CRm))),
  // DSB with the two reserved "no domain" options are the speculation barriers.
  DSB: (f) => (f.CRm === 0 ? 'ssbb' : f.CRm === 4 ? 'pssbb' : barrier('dsb', f.CRm)),
  DMB: (f) => barrier('dmb', f.CRm),
  ISB: (f) => (f.CRm === 15 ? 'isb' : ins('isb', hex(f.CRm))),

  MSR_IMM: (f) => {
    if (f.op1 === 0 && f.op2 <= 2 && f.CRm === 0) return PSTATE_FLAG_OPS[f.op2];
    if (f.op1 === 3 && f.op2 === 3) {
      const svcr = SVCR_OPS[f.CRm >> 1];
      if (f.CRm < 8 && svcr !== undefined) return ins(f.CRm & 1 ? 'smstart' : 'smstop', ...(svcr ? [svcr] : []));
    }
    const field = PSTATE_FIELDS.get((f.op1 << 3) | f.op2);
    if (field && f.CRm <= field[1]) return ins('msr', field[0], hex(f.CRm));
    return ins('msr', `s0_${f.op1}_c4_c${f.CRm}_${f.op2}`, 'xzr');
  },

  SYS: (f) => {
    const alias = SYS_ALIASES.get(sysregKey(1, f.op1, f.CRn, f.CRm, f.op2));
    if (alias) return ins(alias.mnemonic, alias.op, ...(alias.xt ? [x(f.Rt)] : []));
    return ins('sys', `#${f.op1}`, `C${f.CRn}`, `C${f.CRm}`, `#${f.op2}`, ...(f.Rt === 31 ? [] : [x(f.Rt)]));
  },
  MSR_REG: (f) => ins('msr', sysreg(2 + f.o0, f.op1, f.CRn, f.CRm, f.op2), x(f.Rt)),
  MRS: (f) => ins('mrs', x(f.Rt), sysreg(2 + f.o0, f.op1, f.CRn, f.CRm, f.op2)),

  LDR_LIT: (f, pc) => {
    const addr = target(pc, signExtend(f.imm19, 19) * 4);
    if (f.opc === 3) return ins('prfm', prefetchOp(f.Rt), addr);
    return ins(f.opc === 2 ? 'ldrsw' : 'ldr', reg(f.Rt, f.opc !== 0), addr);
  },

  LDST_PAIR: (f) => {
    const is64 = f.opc !== 0;
    const scale = f.opc === 2 ? 8 : 4;
    const offset = signExtend(f.imm7, 7) * scale;
    const base = f.opc === 1 ? 'ldpsw' : f.L ? 'ldp' : 'stp';
    const name = f.idx === 0 ? base.replace('p', 'np') : base;
    const regs = [reg(f.Rt, is64), reg(f.Rt2, is64)];
    const rn = xsp(f.Rn);
    if (f.idx === 1) return ins(name, ...regs, `[${rn}]`, `#${offset}`);
    if (f.idx === 3) return ins(name, ...regs, `[${rn}, #${offset}]!`);
    return ins(name, ...regs, offsetAddress(f.Rn, offset));
  },

  LDST_UIMM: (f) => ldstSingle(f, '', offsetAddress(f.Rn, f.imm12 << f.size)),
  LDST_UNSCALED: (f) => ldstSingle(f, 'u', offsetAddress(f.Rn, signExtend(f.imm9, 9))),
  LDST_POST: (f) => ldstSingle(f, '', `[${xsp(f.Rn)}], #${signExtend(f.imm9, 9)}`),
  LDST_PRE: (f) => ldstSingle(f, '', `[${xsp(f.Rn)}, #${signExtend(f.imm9, 9)}]!`),
  LDST_UNPRIV: (f) => ldstSingle(f, 't', offsetAddress(f.Rn, signExtend(f.imm9, 9))),
  LDST_REG: (f) => {
    const rm = reg(f.Rm, f.option & 1);
    const amount = f.S ? ` #${f.size}` : '';
    let index: string;
    if (f.option === 3) index = f.S ? `, lsl #${f.size}` : '';
    else index = `, ${EXTENDS[f.option]}${amount}`;
    return ldstSingle(f, '', `[${xsp(f.Rn)}, ${rm}${index}]`);
  },

  LDAPR: (f) => ins(`ldapr${['b', 'h', '', ''][f.size]}`, reg(f.Rt, f.size === 3), `[${xsp(f.Rn)}]`),

  ATOMIC: (f) => {
    const is64 = f.size === 3;
    const sfx = ordering(f.A, f.R) + ['b', 'h', '', ''][f.size];
    const addr = `[${xsp(f.Rn)}]`;
    if (f.o3) return ins(`swp${sfx}`, reg(f.Rs, is64), reg(f.Rt, is64), addr);
    // Without acquire semantics and with the result discarded, objdump prefers the store form.
    if (!f.A && f.Rt === 31) return ins(`st${ATOMIC_OPS[f.opc]}${sfx}`, reg(f.Rs, is64), addr);
    return ins(`ld${ATOMIC_OPS[f.opc]}${sfx}`, reg(f.Rs, is64), reg(f.Rt, is64), addr);
  },

  LDSTX: (f) => {
    const sfx = ['b', 'h', '', ''][f.size];
    const rt = reg(f.Rt, f.size === 3);
    const addr = `[${xsp(f.Rn)}]`;
    if (f.L) return ins(`ld${f.o0 ? 'a' : ''}xr${sfx}`, rt, addr);
    return ins(`st${f.o0 ? 'l' : ''}xr${sfx}`, reg(f.Rs, false), rt, addr);
  },
  LDSTXP: (f) => {
    const regs = [reg(f.Rt, f.sz), reg(f.Rt2, f.sz)];
    const addr = `[${xsp(f.Rn)}]`;
    if (f.L) return ins(`ld${f.o0 ? 'a' : ''}xp`, ...regs, addr);
    return ins(`st${f.o0 ? 'l' : ''}xp`, reg(f.Rs, false), ...regs, addr);
  },
  CASP: (f) => ins(`casp${ordering(f.L, f.o0)}`, reg(f.Rs, f.sz), reg(f.Rs + 1, f.sz), reg(f.Rt, f.sz),
    reg(f.Rt + 1, f.sz), `[${xsp(f.Rn)}]`),
  LDAR_STLR: (f) => ins(`${f.L ? 'ldar' : 'stlr'}${['b', 'h', '', ''][f.size]}`, reg(f.Rt, f.size === 3), `[${xsp(f.Rn)}]`),
  LDLAR_STLLR: (f) => ins(`${f.L ? 'ldlar' : 'stllr'}${['b', 'h', '', ''][f.size]}`, reg(f.Rt, f.size === 3),
    `[${xsp(f.Rn)}]`),
  CAS: (f) => ins(`cas${ordering(f.L, f.o0)}${['b', 'h', '', ''][f.size]}`, reg(f.Rs, f.size === 3),
    reg(f.Rt, f.size === 3), `[${xsp(f.Rn)}]`),

  LOGIC_SHIFTED: (f) => {
    const rd = reg(f.Rd, f.sf);
    const rn = reg(f.Rn, f.sf);
    const rm = shifted(reg(f.Rm, f.sf), f.shift, f.imm6);
    const op = (f.opc << 1) | f.N;
    if (op === 6 && f.Rd === 31) return ins('tst', rn, rm);
    if (f.Rn === 31) {
      if (op === 2 && f.shift === 0 && f.imm6 === 0) return ins('mov', rd, rm);
      if (op === 3) return ins('mvn', rd, rm);
    }
    return ins(['and', 'bic', 'orr', 'orn', 'eor', 'eon', 'ands', 'bics'][op], rd, rn, rm);
  },

  ADDSUB_SHIFTED: (f) => {
    const rn = reg(f.Rn, f.sf);
    const rm = shifted(reg(f.Rm, f.sf), f.shift, f.imm6);
    if (f.S && f.Rd === 31) return ins(f.op ? 'cmp' : 'cmn', rn, rm);
    const rd = reg(f.Rd, f.sf);
    if (f.op && f.Rn === 31) return ins(f.S ? 'negs' : 'neg', rd, rm);
    return ins(['add', 'adds', 'sub', 'subs'][(f.op << 1) | f.S], rd, rn, rm);
  },

  ADDSUB_EXT: (f) => {
    const rn = reg(f.Rn, f.sf, true);
    const rm = reg(f.Rm, f.sf && (f.option & 3) === 3);
    // With SP involved, the identity extend for the register width is written as
    // LSL. Rd 31 is only SP for the flag-preserving forms.
    const spInvolved = f.Rn === 31 || (f.Rd === 31 && !f.S);
    const lslForm = spInvolved && f.option === (f.sf ? 3 : 2);
    let ext: string;
    if (lslForm) ext = f.imm3 ? `, lsl #${f.imm3}` : '';
    else ext = `, ${EXTENDS[f.option]}${f.imm3 ? ` #${f.imm3}` : ''}`;
    if (f.S && f.Rd === 31) return ins(f.op ? 'cmp' : 'cmn', rn, rm + ext);
    return ins(['add', 'adds', 'sub', 'subs'][(f.op << 1) | f.S], reg(f.Rd, f.sf, !f.S), rn, rm + ext);
  },

  ADC_SBC: (f) => {
    const rd = reg(f.Rd, f.sf);
    const rm = reg(f.Rm, f.sf);
    if (f.op && f.Rn === 31) return ins(f.S ? 'ngcs' : 'ngc', rd, rm);
    return ins(['adc', 'adcs', 'sbc', 'sbcs'][(f.op << 1) | f.S], rd, reg(f.Rn, f.sf), rm);
  },

  CCMP_REG: (f) => ins(f.op ? 'ccmp' : 'ccmn', reg(f.Rn, f.sf), reg(f.Rm, f.sf), hex(f.nzcv), CONDITIONS[f.cond]),
  CCMP_IMM: (f) => ins(f.op ? 'ccmp' : 'ccmn', reg(f.Rn, f.sf), hex(f.imm5), hex(f.nzcv), CONDITIONS[f.cond]),

  CSEL: (f) => {
    const rd = reg(f.Rd, f.sf);
    const rn = reg(f.Rn, f.sf);
    const op = (f.op << 1) | f.o2;
    const inverted = CONDITIONS[f.cond ^ 1];
    // The aliases invert the condition, which AL/NV cannot express.
    if (op !== 0 && f.cond < 14 && f.Rn === f.Rm) {
      if (op === 3) return ins('cneg', rd, rn, inverted);
      if (f.Rn === 31) return ins(op === 1 ? 'cset' : 'csetm', rd, inverted);
      return ins(op === 1 ? 'cinc' : 'cinv', rd, rn, inverted);
    }
    return ins(['csel', 'csinc', 'csinv', 'csneg'][op], rd, rn, reg(f.Rm, f.sf), CONDITIONS[f.cond]);
  },

  DP_3SRC: (f) => {
    const rd = x(f.Rd);
    if (f.op31 === 0) {
      const [rdW, rn, rm] = [reg(f.Rd, f.sf), reg(f.Rn, f.sf), reg(f.Rm, f.sf)];
      if (f.Ra === 31) return ins(f.o0 ? 'mneg' : 'mul', rdW, rn, rm);
      return ins(f.o0 ? 'msub' : 'madd', rdW, rn, rm, reg(f.Ra, f.sf));
    }
    if (f.op31 === 2 || f.op31 === 6) return ins(f.op31 === 2 ? 'smulh' : 'umulh', rd, x(f.Rn), x(f.Rm));
    const u = f.op31 === 5 ? 'u' : 's';
    const [rn, rm] = [reg(f.Rn, false), reg(f.Rm, false)];
    if (f.Ra === 31) return ins(`${u}${f.o0 ? 'mnegl' : 'mull'}`, rd, rn, rm);
    return ins(`${u}${f.o0 ? 'msubl' : 'maddl'}`, rd, rn, rm, x(f.Ra));
  },

  DP_2SRC: (f) => {
    const name = f.opcode === 2 ? 'udiv' : f.opcode === 3 ? 'sdiv' : SHIFTS[f.opcode - 8];
    return ins(name, reg(f.Rd, f.sf), reg(f.Rn, f.sf), reg(f.Rm, f.sf));
  },

  CRC32: (f) => ins(`crc32${f.C ? 'c' : ''}${['b', 'h', 'w', 'x'][f.sz]}`, reg(f.Rd, false), reg(f.Rn, false),
    reg(f.Rm, f.sz === 3)),

  DP_1SRC: (f) => {
    const names = ['rbit', 'rev16', f.sf ? 'rev32' : 'rev', 'rev', 'clz', 'cls'];
    return ins(names[f.opcode], reg(f.Rd, f.sf), reg(f.Rn, f.sf));
  },

} satisfies Record<string, Formatter>;

/** Names of the decode-table entries this disassembler has a formatter for. */
export const DISASSEMBLED_ENCODINGS: readonly string[] = Object.keys(FORMATTERS);

const FORMATTER_BY_NAME: ReadonlyMap<string, Formatter> = new Map(Object.entries(FORMATTERS));

function word32(word: number): string {
  return '0x' + (word >>> 0).toString(16).padStart(8, '0');
}

/**
 * Disassembles one A64 instruction word at address `pc` into GNU objdump's
 * default (aliases on) syntax: the mnemonic, a tab, then comma-separated
 * operands; branch and literal targets are absolute. objdump's trailing
 * "// ..." comments are not reproduced. Words the decoder rejects for
 * `features` (all optional features by default) print as objdump prints
 * undefined words.
 */
export function disassemble(word: number, pc: bigint = 0n, features: ReadonlySet<Feature> = ALL_FEATURES): string {
  const decoded = decode(word, features);
  if (!decoded) return `.inst\t${word32(word)} ; undefined`;
  if (decoded.name === 'FPSIMD') return `<fp/simd ${word32(word)}>`;
  const format = FORMATTER_BY_NAME.get(decoded.name);
  if (!format) return `<${decoded.name.toLowerCase()} ${word32(word)}>`;
  return format(decoded.fields, pc);
}
