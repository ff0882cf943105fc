// The one A64 decode table. Every encoding warmboot understands is written here
// once, as a 32-bit pattern of fixed bits and named fields; the interpreter, the
// JIT and the disassembler all look instructions up through it (see decoder.ts).
//
// Pattern syntax, most significant bit first, tokens separated by spaces:
//   "0101"      fixed bits
//   "x"         a bit whose value does not matter
//   "Rd:5"      a named field of the given width
// An entry may add `valid`, a predicate on the fields that rejects reserved
// combinations the bit pattern alone cannot express; a rejected word falls
// through to later entries and, if nothing else matches, is UNDEFINED.
// `feature` names an optional architecture feature; when the vcpu's model lacks
// it, the encoding is UNDEFINED, as on hardware without that feature.

export type Feature = 'lse' | 'crc32' | 'lrcpc' | 'lor' | 'pan';

export type Fields = Record<string, number>;

export interface EncodingSpec {
  readonly name: string;
  readonly pattern: string;
  readonly feature?: Feature;
  readonly valid?: (f: Fields) => boolean;
}

// Grouped entries (one per instruction class, with the distinguishing bits as
// fields) keep the semantics parametric: a builder specialises on op/S/size at
// decode time instead of being written out eight times.
export const A64_ENCODINGS: readonly EncodingSpec[] = [
  // ---- Data processing, immediate ----
  { name: 'ADR', pattern: '0 immlo:2 10000 immhi:19 Rd:5' },
  { name: 'ADRP', pattern: '1 immlo:2 10000 immhi:19 Rd:5' },
  { name: 'ADDSUB_IMM', pattern: 'sf:1 op:1 S:1 100010 sh:1 imm12:12 Rn:5 Rd:5' },
  {
    name: 'LOGIC_IMM', pattern: 'sf:1 opc:2 100100 N:1 immr:6 imms:6 Rn:5 Rd:5',
    valid: (f) => (f.sf === 1 || f.N === 0) && bitmaskIsValid(f.N, f.imms, f.immr, f.sf === 1 ? 64 : 32),
  },
  {
    name: 'MOVE_WIDE', pattern: 'sf:1 opc:2 100101 hw:2 imm16:16 Rd:5',
    valid: (f) => f.opc !== 1 && (f.sf === 1 || f.hw < 2),
  },
  {
    name: 'BITFIELD', pattern: 'sf:1 opc:2 100110 N:1 immr:6 imms:6 Rn:5 Rd:5',
    valid: (f) => f.opc !== 3 && f.N === f.sf && (f.sf === 1 || (f.immr < 32 && f.imms < 32)),
  },
  {
    name: 'EXTR', pattern: 'sf:1 00 100111 N:1 0 Rm:5 imms:6 Rn:5 Rd:5',
    valid: (f) => f.N === f.sf && (f.sf === 1 || f.imms < 32),
  },

  // ---- Branches, exception generation, system ----
  { name: 'B_UNCOND', pattern: 'op:1 00101 imm26:26' },
  { name: 'B_COND', pattern: '0101010 0 imm19:19 0 cond:4' },
  { name: 'CB', pattern: 'sf:1 011010 op:1 imm19:19 Rt:5' },
  { name: 'TB', pattern: 'b5:1 011011 op:1 b40:5 imm14:14 Rt:5' },
  { name: 'BR', pattern: '1101011 0000 11111 000000 Rn:5 00000' },
  { name: 'BLR', pattern: '1101011 0001 11111 000000 Rn:5 00000' },
  { name: 'RET', pattern: '1101011 0010 11111 000000 Rn:5 00000' },
  { name: 'ERET', pattern: '1101011 0100 11111 000000 11111 00000' },
  { name: 'SVC', pattern: '11010100 000 imm16:16 000 01' },
  { name: 'HVC', pattern: '11010100 000 imm16:16 000 10' },
  { name: 'SMC', pattern: '11010100 000 imm16:16 000 11' },
  { name: 'BRK', pattern: '11010100 001 imm16:16 000 00' },
  { name: 'HLT', pattern: '11010100 010 imm16:16 000 00' },
  { name: 'UDF', pattern: '0000000000000000 imm16:16' },
  { name: 'HINT', pattern: '1101010100 0 00 011 0010 CRm:4 op2:3 11111' },
  { name: 'CLREX', pattern: '1101010100 0 00 011 0011 CRm:4 010 11111' },
  { name: 'DSB', pattern: '1101010100 0 00 011 0011 CRm:4 100 11111' },
  { name: 'DMB', pattern: '1101010100 0 00 011 0011 CRm:4 101 11111' },
  { name: 'ISB', pattern: '1101010100 0 00 011 0011 CRm:4 110 11111' },
  { name: 'MSR_IMM', pattern: '1101010100 0 00 op1:3 0100 CRm:4 op2:3 11111' },
  { name: 'SYS', pattern: '1101010100 0 01 op1:3 CRn:4 CRm:4 op2:3 Rt:5' },
  { name: 'MSR_REG', pattern: '1101010100 0 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5' },
  { name: 'MRS', pattern: '1101010100 1 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5' },

  // ---- Loads and stores ----
  { name: 'LDR_LIT', pattern: 'opc:2 011 0 00 imm19:19 Rt:5' },
  {
    name: 'LDST_PAIR', pattern: 'opc:2 101 0 0 idx:2 L:1 imm7:7 Rt2:5 Rn:5 Rt:5',
    // opc=01 is LDPSW (loads only, never non-temporal); opc=11 is reserved.
    valid: (f) => f.opc !== 3 && (f.opc !== 1 || (f.L === 1 && f.idx !== 0)),
  },
  { name: 'LDST_UIMM', pattern: 'size:2 111 0 01 opc:2 imm12:12 Rn:5 Rt:5', valid: ldstSizeOpcValid },
  { name: 'LDST_UNSCALED', pattern: 'size:2 111 0 00 opc:2 0 imm9:9 00 Rn:5 Rt:5', valid: ldstSizeOpcValid },
  { name: 'LDST_POST', pattern: 'size:2 111 0 00 opc:2 0 imm9:9 01 Rn:5 Rt:5', valid: ldstWritebackValid },
  { name: 'LDST_UNPRIV', pattern: 'size:2 111 0 00 opc:2 0 imm9:9 10 Rn:5 Rt:5', valid: ldstWritebackValid },
  { name: 'LDST_PRE', pattern: 'size:2 111 0 00 opc:2 0 imm9:9 11 Rn:5 Rt:5', valid: ldstWritebackValid },
  {
    name: 'LDST_REG', pattern: 'size:2 111 0 00 opc:2 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5',
    valid: (f) => (f.option & 2) !== 0 && ldstSizeOpcValid(f),
  },
  { name: 'LDAPR', pattern: 'size:2 111 0 00 1 0 1 11111 1 100 00 Rn:5 Rt:5', feature: 'lrcpc' },
  {
    name: 'ATOMIC', pattern: 'size:2 111 0 00 A:1 R:1 1 Rs:5 o3:1 opc:3 00 Rn:5 Rt:5', feature: 'lse',
    valid: (f) => f.o3 === 0 || f.opc === 0,
  },
  { name: 'LDSTX', pattern: 'size:2 001000 0 L:1 0 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5' },
  { name: 'LDSTXP', pattern: '1 sz:1 001000 0 L:1 1 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5' },
  { name: 'CASP', pattern: '0 sz:1 001000 0 L:1 1 Rs:5 o0:1 11111 Rn:5 Rt:5', feature: 'lse', valid: (f) => (f.Rs & 1) === 0 && (f.Rt & 1) === 0 },
  { name: 'LDAR_STLR', pattern: 'size:2 001000 1 L:1 0 Rs:5 1 Rt2:5 Rn:5 Rt:5' },
  { name: 'LDLAR_STLLR', pattern: 'size:2 001000 1 L:1 0 Rs:5 0 Rt2:5 Rn:5 Rt:5', feature: 'lor' },
  { name: 'CAS', pattern: 'size:2 001000 1 L:1 1 Rs:5 o0:1 11111 Rn:5 Rt:5', feature: 'lse' },

  // ---- Data processing, register ----
  {
    name: 'LOGIC_SHIFTED', pattern: 'sf:1 opc:2 01010 shift:2 N:1 Rm:5 imm6:6 Rn:5 Rd:5',
    valid: (f) => f.sf === 1 || f.imm6 < 32,
  },
  {
    name: 'ADDSUB_SHIFTED', pattern: 'sf:1 op:1 S:1 01011 shift:2 0 Rm:5 imm6:6 Rn:5 Rd:5',
    valid: (f) => f.shift !== 3 && (f.sf === 1 || f.imm6 < 32),
  },
  { name: 'ADDSUB_EXT', pattern: 'sf:1 op:1 S:1 01011 00 1 Rm:5 option:3 imm3:3 Rn:5 Rd:5', valid: (f) => f.imm3 <= 4 },
  { name: 'ADC_SBC', pattern: 'sf:1 op:1 S:1 11010000 Rm:5 000000 Rn:5 Rd:5' },
  { name: 'CCMP_REG', pattern: 'sf:1 op:1 1 11010010 Rm:5 cond:4 0 0 Rn:5 0 nzcv:4' },
  { name: 'CCMP_IMM', pattern: 'sf:1 op:1 1 11010010 imm5:5 cond:4 1 0 Rn:5 0 nzcv:4' },
  { name: 'CSEL', pattern: 'sf:1 op:1 0 11010100 Rm:5 cond:4 0 o2:1 Rn:5 Rd:5' },
  {
    name: 'DP_3SRC', pattern: 'sf:1 00 11011 op31:3 Rm:5 o0:1 Ra:5 Rn:5 Rd:5',
    valid: (f) => f.op31 === 0 || (f.sf === 1 && (f.op31 === 1 || f.op31 === 5 || ((f.op31 === 2 || f.op31 === 6) && f.o0 === 0))),
  },
  {
    name: 'DP_2SRC', pattern: 'sf:1 0 0 11010110 Rm:5 opcode:6 Rn:5 Rd:5',
    valid: (f) => f.opcode === 2 || f.opcode === 3 || (f.opcode >= 8 && f.opcode <= 11),
  },
  {
    name: 'CRC32', pattern: 'sf:1 0 0 11010110 Rm:5 010 C:1 sz:2 Rn:5 Rd:5', feature: 'crc32',
    valid: (f) => (f.sz === 3) === (f.sf === 1),
  },
  {
    name: 'DP_1SRC', pattern: 'sf:1 1 0 11010110 00000 opcode:6 Rn:5 Rd:5',
    valid: (f) => f.opcode <= 5 && !(f.sf === 0 && f.opcode === 3),
  },

  // ---- FP and Advanced SIMD: the whole space has bits 27:26 = 11 ----
  { name: 'FPSIMD', pattern: 'x x x x 1 1 x x x x x x x x x x x x x x x x x x x x x x x x x x' },
];

function ldstSizeOpcValid(f: Fields): boolean {
  // opc=10/11 with size=11 is PRFM or reserved; opc=11 with size=10 is reserved.
  if (f.size === 3) return f.opc <= 2;
  if (f.size === 2) return f.opc <= 2;
  return true;
}

function ldstWritebackValid(f: Fields): boolean {
  // Writeback and unprivileged forms have no PRFM variant.
  return f.size === 3 ? f.opc <= 1 : ldstSizeOpcValid(f);
}

// DecodeBitMasks' reserved cases: element size from the highest set bit of
// N:NOT(imms), and an all-ones element (S = esize-1) is not encodable.
export function bitmaskIsValid(n: number, imms: number, _immr: number, regSize: number): boolean {
  const combined = (n << 6) | (~imms & 0x3f);
  if (combined === 0) return false;
  const len = 31 - Math.clz32(combined);
  if (len < 1) return false;
  const esize = 1 << len;
  if (esize > regSize) return false;
  const levels = esize - 1;
  return (imms & levels) !== levels;
}
