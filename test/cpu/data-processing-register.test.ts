// Data processing (register): shifted and extended ADD/SUB, logical shifted
// register, ADC/SBC, conditional select and conditional compare, and the
// flags of every flag-setting form at the carry and overflow boundaries.
import { describe, expect, it } from 'vitest';
import { run } from './cpu-harness.js';
import { esr, inst, VEC_CUR_SPX, withVectors } from './helpers.js';
import {
  addWithCarry, CONDITION_NAMES, conditionHoldsRef, EDGE64, extendReg, flags, hex, not, prng, ror, sampleValues, shiftReg, uint,
} from './reference.js';

const SHIFT_NAMES = ['lsl', 'lsr', 'asr', 'ror'];

/** Pairs of operands: every edge value against a few, plus random pairs. */
function operandPairs(seed: bigint, random: number): [bigint, bigint][] {
  const next = prng(seed);
  const pairs: [bigint, bigint][] = [];
  const few = [0n, 1n, 0x7fff_ffffn, 0x8000_0000n, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn];
  for (const a of EDGE64) for (const b of few) pairs.push([a, b]);
  for (let i = 0; i < random; i++) pairs.push([next(), next()]);
  return pairs;
}

describe('ADD/SUB (shifted register)', () => {
  const pairs = operandPairs(21n, 10);
  for (const bits of [64, 32] as const) {
    for (const op of ['add', 'adds', 'sub', 'subs']) {
      it(`${op} ${bits}-bit with LSL/LSR/ASR`, () => {
        const r = bits === 64 ? 'x' : 'w';
        const amounts = bits === 64 ? [0, 1, 12, 31, 32, 63] : [0, 1, 16, 31];
        const sub = op.startsWith('sub');
        let k = 0;
        for (let type = 0; type < 3; type++) {
          for (const amount of amounts) {
            for (const [a, b] of pairs) {
              // Thin the cross product out deterministically: every pair still
              // meets every shift type somewhere.
              if (k++ % 3 !== 0 && amount !== 0) continue;
              const initial = 0x90000000;
              const cpu = run(`${op} ${r}2, ${r}0, ${r}1, ${SHIFT_NAMES[type]} #${amount}`, { x: { 0: a, 1: b, 2: 0x77n }, nzcv: initial });
              const operand = shiftReg(b, type, amount, bits);
              const ref = addWithCarry(uint(a, bits), sub ? not(operand, bits) : operand, sub ? 1 : 0, bits);
              const what = `${op} ${hex(a)}, ${hex(b)} ${SHIFT_NAMES[type]} ${amount}`;
              expect(hex(cpu.getX(2)), what).toBe(hex(ref.result));
              expect(cpu.nzcv.toString(16), what).toBe((op.endsWith('s') ? ref.nzcv : initial).toString(16));
            }
          }
        }
      });
    }
  }

  it('NEG, NEGS, CMP and CMN (shifted register)', () => {
    for (const v of EDGE64) {
      let cpu = run('neg x1, x0', { x: { 0: v } });
      expect(cpu.getX(1)).toBe(uint(-v, 64));
      cpu = run('negs w1, w0', { x: { 0: v } });
      const ref = addWithCarry(0n, not(uint(v, 32), 32), 1, 32);
      expect(cpu.getX(1)).toBe(ref.result);
      expect(cpu.nzcv, `negs w ${hex(v)}`).toBe(ref.nzcv);
      cpu = run('cmp x0, x1, lsl #1', { x: { 0: v, 1: v } });
      expect(cpu.nzcv, `cmp ${hex(v)}`).toBe(addWithCarry(v, not(uint(v << 1n, 64), 64), 1, 64).nzcv);
      cpu = run('cmn w0, w1', { x: { 0: v, 1: 1n } });
      expect(cpu.nzcv, `cmn w ${hex(v)}`).toBe(addWithCarry(uint(v, 32), 1n, 0, 32).nzcv);
    }
  });

  it('register 31 is XZR, not SP, in the shifted form', () => {
    const cpu = run('add x1, xzr, x0\nadd x2, x0, xzr\nsubs xzr, x0, x0', { x: { 0: 5n }, sp: 0x40f0_0000n });
    expect(cpu.getX(1)).toBe(5n);
    expect(cpu.getX(2)).toBe(5n);
    expect(cpu.nzcv).toBe(flags(false, true, true, false));
    expect(hex(cpu.sp)).toBe('0x40f00000');
  });

  it('shift type 11 is unallocated for ADD/SUB, and imm6 >= 32 for 32-bit', () => {
    // add x0, x1, x2, ror #0 ; add w0, w1, w2, lsl #32
    for (const w of [0x8bc20020, 0x0b028020]) {
      const cpu = run(withVectors(inst(w)));
      expect(hex(cpu.getX(27)), hex(w)).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
    }
  });
});

describe('ADD/SUB (extended register)', () => {
  const EXT = ['uxtb', 'uxth', 'uxtw', 'uxtx', 'sxtb', 'sxth', 'sxtw', 'sxtx'];
  const next = prng(31n);
  const values = [...EDGE64.filter((_, i) => i % 2 === 0), next(), next(), next()];
  for (const bits of [64, 32] as const) {
    for (const op of ['add', 'adds', 'sub', 'subs']) {
      it(`${op} ${bits}-bit, every extend and shift 0..4`, () => {
        const r = bits === 64 ? 'x' : 'w';
        const sub = op.startsWith('sub');
        for (let option = 0; option < 8; option++) {
          // The 64-bit form names a W register for the 8/16/32-bit extends.
          const mreg = bits === 64 && (option & 3) !== 3 ? 'w' : r;
          for (let shift = 0; shift <= 4; shift++) {
            for (const a of values) {
              const b = a ^ 0x0f0f_0f0f_f0f0_f0f0n;
              const cpu = run(`${op} ${r}2, ${r}0, ${mreg}1, ${EXT[option]} #${shift}`, { x: { 0: a, 1: b }, nzcv: 0 });
              const operand = extendReg(b, option, shift, bits);
              const ref = addWithCarry(uint(a, bits), sub ? not(operand, bits) : operand, sub ? 1 : 0, bits);
              const what = `${op} ${hex(a)}, ${hex(b)} ${EXT[option]} ${shift}`;
              expect(hex(cpu.getX(2)), what).toBe(hex(ref.result));
              expect(cpu.nzcv, what).toBe(op.endsWith('s') ? ref.nzcv : 0);
            }
          }
        }
      });
    }
  }

  it('uses SP for Rn and for Rd of ADD/SUB, XZR for Rd of ADDS/SUBS', () => {
    const sp = 0x40f0_0000n;
    let cpu = run('add x0, sp, w1, uxtw #2', { x: { 1: 0xffff_ffff_0000_0010n }, sp });
    expect(hex(cpu.getX(0))).toBe(hex(sp + 0x40n));
    cpu = run('sub sp, sp, x1, lsl #4', { x: { 1: 2n }, sp });
    expect(hex(cpu.sp)).toBe(hex(sp - 0x20n));
    cpu = run('add sp, x0, w1, sxtw', { x: { 0: 0x4100_0000n, 1: 0xffff_fff0n }, sp });
    expect(hex(cpu.sp)).toBe(hex(0x40ff_fff0n));
    cpu = run('adds xzr, sp, x1', { x: { 1: 1n }, sp });
    expect(hex(cpu.sp)).toBe(hex(sp));
    expect(cpu.nzcv).toBe(0);
    cpu = run('cmp sp, x1', { x: { 1: sp }, sp });
    expect(cpu.nzcv).toBe(flags(false, true, true, false));
    cpu = run('add wsp, wsp, w1, uxtb', { x: { 1: 0x1ffn }, sp: 0xffff_ffff_ffff_ff80n });
    expect(hex(cpu.sp)).toBe(hex(0x7fn));
  });

  it('imm3 > 4 is unallocated', () => {
    // add x0, x1, w2, uxtw #5
    const cpu = run(withVectors(inst(0x8b225420)));
    expect(hex(cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
  });
});

describe('logical (shifted register)', () => {
  const ops: [string, (a: bigint, b: bigint, bits: number) => bigint, boolean][] = [
    ['and', (a, b) => a & b, false],
    ['bic', (a, b, n) => a & not(b, n), false],
    ['orr', (a, b) => a | b, false],
    ['orn', (a, b, n) => a | not(b, n), false],
    ['eor', (a, b) => a ^ b, false],
    ['eon', (a, b, n) => a ^ not(b, n), false],
    ['ands', (a, b) => a & b, true],
    ['bics', (a, b, n) => a & not(b, n), true],
  ];
  const next = prng(41n);
  const pairs: [bigint, bigint][] = [[0n, 0n], [0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n], [0x8000_0000n, 0xffff_ffffn]];
  for (let i = 0; i < 6; i++) pairs.push([next(), next()]);
  for (const bits of [64, 32] as const) {
    for (const [op, fn, setsFlags] of ops) {
      it(`${op} ${bits}-bit with every shift type`, () => {
        const r = bits === 64 ? 'x' : 'w';
        const amounts = bits === 64 ? [0, 1, 31, 32, 33, 63] : [0, 1, 15, 31];
        for (let type = 0; type < 4; type++) {
          for (const amount of amounts) {
            for (const [a, b] of pairs) {
              const cpu = run(`${op} ${r}2, ${r}0, ${r}1, ${SHIFT_NAMES[type]} #${amount}`, { x: { 0: a, 1: b, 2: 0x99n }, nzcv: 0x30000000 });
              const want = fn(uint(a, bits), shiftReg(b, type, amount, bits), bits);
              const what = `${op} ${hex(a)}, ${hex(b)}, ${SHIFT_NAMES[type]} #${amount}`;
              expect(hex(cpu.getX(2)), what).toBe(hex(want));
              const nz = flags((want >> BigInt(bits - 1)) === 1n, want === 0n, false, false);
              expect(cpu.nzcv, what).toBe(setsFlags ? nz : 0x30000000);
            }
          }
        }
      });
    }
  }

  it('MOV, MVN and TST aliases', () => {
    const v = 0x8000_0000_ffff_0000n;
    let cpu = run('mov x1, x0\nmov w2, w0\nmvn x3, x0\nmvn w4, w0, lsr #16', { x: { 0: v, 2: 0x1234_0000_0000_0000n } });
    expect(cpu.getX(1)).toBe(v);
    expect(hex(cpu.getX(2))).toBe(hex(v & 0xffff_ffffn));
    expect(hex(cpu.getX(3))).toBe(hex(not(v, 64)));
    expect(hex(cpu.getX(4))).toBe(hex(not(0xffffn, 32)));
    cpu = run('tst x0, x1', { x: { 0: v, 1: 0x8000_0000_0000_0000n }, nzcv: 0x70000000 });
    expect(cpu.nzcv).toBe(flags(true, false, false, false));
    cpu = run('tst w0, w1, ror #16', { x: { 0: v, 1: 0xffffn } });
    expect(cpu.nzcv).toBe(flags(true, false, false, false));
  });

  it('imm6 >= 32 is unallocated for 32-bit', () => {
    // orr w0, w1, w2, lsl #32
    const cpu = run(withVectors(inst(0x2a028020)));
    expect(hex(cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
  });
});

describe('ADC / SBC with carries', () => {
  const pairs = operandPairs(51n, 8);
  for (const bits of [64, 32] as const) {
    for (const op of ['adc', 'adcs', 'sbc', 'sbcs']) {
      it(`${op} ${bits}-bit with C clear and set`, () => {
        const r = bits === 64 ? 'x' : 'w';
        const sub = op.startsWith('sbc');
        for (const carry of [0, 1] as const) {
          // V and N set as well, to see that only C feeds in.
          const initial = ((carry ? 0x20000000 : 0) | 0x90000000) >>> 0;
          for (const [a, b] of pairs) {
            const cpu = run(`${op} ${r}2, ${r}0, ${r}1`, { x: { 0: a, 1: b }, nzcv: initial });
            const ref = addWithCarry(uint(a, bits), sub ? not(uint(b, bits), bits) : uint(b, bits), carry, bits);
            const what = `${op} ${hex(a)}, ${hex(b)}, C=${carry}`;
            expect(hex(cpu.getX(2)), what).toBe(hex(ref.result));
            expect(cpu.nzcv.toString(16), what).toBe((op.endsWith('s') ? ref.nzcv : initial).toString(16));
          }
        }
      });
    }
  }

  it('NGC and NGCS', () => {
    for (const carry of [0, 1] as const) {
      for (const v of EDGE64) {
        let cpu = run('ngc x1, x0', { x: { 0: v }, nzcv: carry << 29 });
        expect(cpu.getX(1)).toBe(addWithCarry(0n, not(v, 64), carry, 64).result);
        cpu = run('ngcs w1, w0', { x: { 0: v }, nzcv: carry << 29 });
        const ref = addWithCarry(0n, not(uint(v, 32), 32), carry, 32);
        expect(cpu.getX(1)).toBe(ref.result);
        expect(cpu.nzcv).toBe(ref.nzcv);
      }
    }
  });

  it('a 128-bit add and subtract chain through the carry', () => {
    const a = 0xffff_ffff_ffff_ffff_0000_0000_0000_0001n, b = 0x0000_0000_0000_0001_ffff_ffff_ffff_ffffn;
    const lo = (v: bigint) => v & 0xffff_ffff_ffff_ffffn, hi = (v: bigint) => v >> 64n;
    const cpu = run(`
      adds x4, x0, x2
      adc x5, x1, x3
      subs x6, x0, x2
      sbc x7, x1, x3
    `, { x: { 0: lo(a), 1: hi(a), 2: lo(b), 3: hi(b) } });
    const sum = (a + b) & ((1n << 128n) - 1n), diff = (a - b) & ((1n << 128n) - 1n);
    expect(hex(cpu.getX(4))).toBe(hex(lo(sum)));
    expect(hex(cpu.getX(5))).toBe(hex(hi(sum)));
    expect(hex(cpu.getX(6))).toBe(hex(lo(diff)));
    expect(hex(cpu.getX(7))).toBe(hex(hi(diff)));
  });
});

describe('conditional select', () => {
  const a = 0x8000_0000_ffff_fffen, b = 0x7fff_ffff_0000_0001n;
  const forms: [string, (m: bigint, bits: number) => bigint][] = [
    ['csel', (m) => m],
    ['csinc', (m, n) => uint(m + 1n, n)],
    ['csinv', (m, n) => not(m, n)],
    ['csneg', (m, n) => uint(-m, n)],
  ];
  for (const bits of [64, 32] as const) {
    for (const [op, elseFn] of forms) {
      it(`${op} ${bits}-bit, every condition against every NZCV`, () => {
        const r = bits === 64 ? 'x' : 'w';
        for (let cond = 0; cond < 16; cond++) {
          for (let nz = 0; nz < 16; nz++) {
            const nzcv = nz << 28;
            const cpu = run(`${op} ${r}2, ${r}0, ${r}1, ${CONDITION_NAMES[cond]}`, { x: { 0: a, 1: b }, nzcv: nzcv >>> 0 });
            const want = conditionHoldsRef(cond, nzcv) ? uint(a, bits) : elseFn(uint(b, bits), bits);
            expect(hex(cpu.getX(2)), `${op} ${CONDITION_NAMES[cond]} nzcv=${nz.toString(2)}`).toBe(hex(want));
          }
        }
      });
    }
  }

  it('CSINC/CSINV/CSNEG at wrap-around values', () => {
    const cases: [string, bigint, bigint][] = [
      ['csinc x2, x0, x1, ne', 0xffff_ffff_ffff_ffffn, 0n],
      ['csinc x2, x0, x1, ne', 0xffff_ffffn, 0x1_0000_0000n],
      ['csinc w2, w0, w1, ne', 0xffff_ffffn, 0n],
      ['csneg x2, x0, x1, ne', 0x8000_0000_0000_0000n, 0x8000_0000_0000_0000n],
      ['csneg w2, w0, w1, ne', 0x8000_0000n, 0x8000_0000n],
      ['csneg x2, x0, x1, ne', 0n, 0n],
      ['csneg x2, x0, x1, ne', 1n, 0xffff_ffff_ffff_ffffn],
      ['csinv w2, w0, w1, ne', 0x1_0000_0000n, 0xffff_ffffn],
    ];
    for (const [src, m, want] of cases) {
      // Z set: NE fails, so the second operand is used.
      const cpu = run(src, { x: { 0: 0x5555n, 1: m }, nzcv: 0x40000000 });
      expect(hex(cpu.getX(2)), `${src} m=${hex(m)}`).toBe(hex(want));
    }
  });

  it('CSET, CSETM, CINC, CINV and CNEG aliases', () => {
    for (let cond = 0; cond < 14; cond++) {
      for (const nz of [0, 4, 6, 9, 15]) {
        const nzcv = nz << 28;
        const holds = conditionHoldsRef(cond, nzcv);
        const c = CONDITION_NAMES[cond];
        const cpu = run(`cset x1, ${c}\ncsetm w2, ${c}\ncinc x3, x0, ${c}\ncinv x4, x0, ${c}\ncneg w5, w0, ${c}`,
          { x: { 0: 0x1_0000_0005n, 2: 0xffn }, nzcv: nzcv >>> 0 });
        const what = `${c} nzcv=${nz.toString(2)}`;
        expect(cpu.getX(1), what).toBe(holds ? 1n : 0n);
        expect(hex(cpu.getX(2)), what).toBe(holds ? '0xffffffff' : '0x0');
        expect(hex(cpu.getX(3)), what).toBe(hex(holds ? 0x1_0000_0006n : 0x1_0000_0005n));
        expect(hex(cpu.getX(4)), what).toBe(hex(holds ? not(0x1_0000_0005n, 64) : 0x1_0000_0005n));
        expect(hex(cpu.getX(5)), what).toBe(hex(holds ? uint(-5n, 32) : 5n));
      }
    }
  });
});

describe('conditional compare', () => {
  const pairs: [bigint, bigint][] = [
    [5n, 5n], [4n, 5n], [5n, 4n], [0x8000_0000_0000_0000n, 1n], [0x7fff_ffff_ffff_ffffn, 0xffff_ffff_ffff_ffffn],
    [0x8000_0000n, 1n], [0x7fff_ffffn, 0xffff_ffffn], [0n, 0n], [0xffff_ffff_ffff_ffffn, 1n],
  ];
  for (const bits of [64, 32] as const) {
    for (const op of ['ccmp', 'ccmn']) {
      it(`${op} ${bits}-bit (register and immediate)`, () => {
        const r = bits === 64 ? 'x' : 'w';
        const neg = op === 'ccmn';
        for (let cond = 0; cond < 16; cond++) {
          for (const nz of [0, 0b0100, 0b1001, 0b0110]) {
            const nzcv = nz << 28;
            const holds = conditionHoldsRef(cond, nzcv);
            for (const [a, b] of pairs) {
              const imm = Number(b & 31n);
              const fallback = 0b1010;
              const what = `${op} ${hex(a)}, ${hex(b)} ${CONDITION_NAMES[cond]} nzcv=${nz.toString(2)}`;
              let cpu = run(`${op} ${r}0, ${r}1, #${fallback}, ${CONDITION_NAMES[cond]}`, { x: { 0: a, 1: b }, nzcv: nzcv >>> 0 });
              const ref = neg ? addWithCarry(uint(a, bits), uint(b, bits), 0, bits) : addWithCarry(uint(a, bits), not(uint(b, bits), bits), 1, bits);
              expect(cpu.nzcv.toString(16), what).toBe((holds ? ref.nzcv : (fallback << 28) >>> 0).toString(16));
              cpu = run(`${op} ${r}0, #${imm}, #${fallback}, ${CONDITION_NAMES[cond]}`, { x: { 0: a }, nzcv: nzcv >>> 0 });
              const refImm = neg ? addWithCarry(uint(a, bits), BigInt(imm), 0, bits) : addWithCarry(uint(a, bits), not(BigInt(imm), bits), 1, bits);
              expect(cpu.nzcv.toString(16), `${what} #${imm}`).toBe((holds ? refImm.nzcv : (fallback << 28) >>> 0).toString(16));
            }
          }
        }
      });
    }
  }

  it('the fallback NZCV can set every flag, including N', () => {
    for (let f = 0; f < 16; f++) {
      const cpu = run(`ccmp x0, x1, #${f}, eq`, { x: { 0: 1n, 1: 1n }, nzcv: 0 });
      expect(cpu.nzcv, `#${f}`).toBe((f << 28) >>> 0);
    }
  });
});

describe('flags at the carry and overflow boundaries', () => {
  // Cases chosen by hand from the definition: unsigned carry-out and signed
  // overflow, each on and off, at the edges of both widths.
  const cases: [string, bigint, bigint, number][] = [
    ['adds x2, x0, x1', 0xffff_ffff_ffff_ffffn, 1n, flags(false, true, true, false)],
    ['adds x2, x0, x1', 0x7fff_ffff_ffff_ffffn, 1n, flags(true, false, false, true)],
    ['adds x2, x0, x1', 0x8000_0000_0000_0000n, 0x8000_0000_0000_0000n, flags(false, true, true, true)],
    ['adds x2, x0, x1', 0xffff_ffff_ffff_fffen, 1n, flags(true, false, false, false)],
    ['adds x2, x0, x1', 0xffff_ffffn, 1n, flags(false, false, false, false)],
    ['adds w2, w0, w1', 0xffff_ffffn, 1n, flags(false, true, true, false)],
    ['adds w2, w0, w1', 0x7fff_ffffn, 1n, flags(true, false, false, true)],
    ['adds w2, w0, w1', 0x8000_0000n, 0x8000_0000n, flags(false, true, true, true)],
    ['subs x2, x0, x1', 0n, 1n, flags(true, false, false, false)],
    ['subs x2, x0, x1', 1n, 1n, flags(false, true, true, false)],
    ['subs x2, x0, x1', 0x8000_0000_0000_0000n, 1n, flags(false, false, true, true)],
    ['subs x2, x0, x1', 0x7fff_ffff_ffff_ffffn, 0xffff_ffff_ffff_ffffn, flags(true, false, false, true)],
    ['subs x2, x0, x1', 0n, 0n, flags(false, true, true, false)],
    ['subs x2, x0, x1', 0n, 0x8000_0000_0000_0000n, flags(true, false, false, true)],
    ['subs w2, w0, w1', 0x8000_0000n, 1n, flags(false, false, true, true)],
    ['subs w2, w0, w1', 0n, 0x8000_0000n, flags(true, false, false, true)],
    ['subs w2, w0, w1', 0x1_0000_0000n, 1n, flags(true, false, false, false)],
    ['adds x2, x0, #0', 0n, 0n, flags(false, true, false, false)],
    ['subs x2, x0, #0', 0n, 0n, flags(false, true, true, false)],
    ['subs w2, w0, #0', 0x1_0000_0000n, 0n, flags(false, true, true, false)],
  ];
  it('ADDS/SUBS', () => {
    for (const [src, a, b, want] of cases) {
      const cpu = run(src, { x: { 0: a, 1: b } });
      expect(cpu.nzcv.toString(2).padStart(32, '0').slice(0, 4), `${src} ${hex(a)} ${hex(b)}`).toBe((want >>> 28).toString(2).padStart(4, '0'));
    }
  });

  it('ADCS: carry-in produces carry-out and overflow at the edges', () => {
    const c = 0x20000000;
    const cases2: [string, bigint, bigint, number, number][] = [
      ['adcs x2, x0, x1', 0xffff_ffff_ffff_ffffn, 0n, c, flags(false, true, true, false)],
      ['adcs x2, x0, x1', 0x7fff_ffff_ffff_ffffn, 0n, c, flags(true, false, false, true)],
      ['adcs w2, w0, w1', 0xffff_ffffn, 0n, c, flags(false, true, true, false)],
      ['adcs w2, w0, w1', 0x7fff_fffen, 1n, c, flags(true, false, false, true)],
      ['sbcs x2, x0, x1', 0n, 0n, 0, flags(true, false, false, false)],
      ['sbcs x2, x0, x1', 0x8000_0000_0000_0000n, 0n, 0, flags(false, false, true, true)],
      ['sbcs w2, w0, w1', 0n, 0n, c, flags(false, true, true, false)],
      ['sbcs w2, w0, w1', 0x8000_0000n, 0n, 0, flags(false, false, true, true)],
    ];
    for (const [src, a, b, nzcv, want] of cases2) {
      const cpu = run(src, { x: { 0: a, 1: b }, nzcv });
      expect(cpu.nzcv.toString(16), `${src} ${hex(a)} ${hex(b)} C=${nzcv ? 1 : 0}`).toBe(want.toString(16));
    }
  });

  it('sampled random operands agree with AddWithCarry for ADDS/SUBS/ADCS/SBCS', () => {
    for (const v of sampleValues(61n, 20)) {
      const w = uint(v * 0x9e37_79b9_7f4a_7c15n, 64);
      for (const carry of [0, 1] as const) {
        const cpu = run('adcs x2, x0, x1\nmrs x3, nzcv\nmsr nzcv, x4\nsbcs w5, w0, w1', { x: { 0: v, 1: w, 4: BigInt(carry << 29) }, nzcv: carry << 29 });
        const r1 = addWithCarry(v, w, carry, 64);
        const r2 = addWithCarry(uint(v, 32), not(uint(w, 32), 32), carry, 32);
        expect(cpu.getX(2)).toBe(r1.result);
        expect(Number(cpu.getX(3))).toBe(r1.nzcv);
        expect(cpu.getX(5)).toBe(r2.result);
        expect(cpu.nzcv).toBe(r2.nzcv);
      }
    }
  });
});

describe('destination overlapping the sources', () => {
  // A handler that writes the low half of Xd before reading the high half of
  // a source that is the same register would be caught here.
  const x = 0x8123_4567_89ab_cdefn;
  const cases: [string, bigint][] = [
    ['add x0, x0, x0, lsl #1', uint(x + (x << 1n), 64)],
    ['adds x0, x0, x0', uint(x + x, 64)],
    ['sub x0, x0, x0, asr #4', uint(x - uint(BigInt.asIntN(64, x) >> 4n, 64), 64)],
    ['adc x0, x0, x0', uint(x + x, 64)],
    ['and x0, x0, x0, ror #32', x & ((x >> 32n) | uint(x << 32n, 64))],
    ['orr x0, x0, x0, lsl #32', x | uint(x << 32n, 64)],
    ['eon x0, x0, x0, lsr #16', x ^ not(x >> 16n, 64)],
    ['madd x0, x0, x0, x0', uint(x * x + x, 64)],
    ['msub x0, x0, x0, x0', uint(x - x * x, 64)],
    ['smulh x0, x0, x0', uint((BigInt.asIntN(64, x) * BigInt.asIntN(64, x)) >> 64n, 64)],
    ['umulh x0, x0, x0', (x * x) >> 64n],
    ['umaddl x0, w0, w0, x0', uint((x & 0xffff_ffffn) ** 2n + x, 64)],
    ['smsubl x0, w0, w0, x0', uint(x - BigInt.asIntN(32, x) ** 2n, 64)],
    ['extr x0, x0, x0, #8', ror(x, 8, 64)],
    ['rbit x0, x0', (() => { let r = 0n; for (let i = 0n; i < 64n; i++) if ((x >> i) & 1n) r |= 1n << (63n - i); return r; })()],
    ['rev x0, x0', 0xefcd_ab89_6745_2381n],
    ['rev16 x0, x0', 0x2381_6745_ab89_efcdn],
    ['rev32 x0, x0', 0x6745_2381_efcd_ab89n],
    ['csneg x0, x0, x0, eq', uint(-x, 64)],
    ['csinv x0, x0, x0, eq', not(x, 64)],
    ['csinc x0, x0, x0, eq', x + 1n],
    ['bfi x0, x0, #8, #16', (x & ~0xff_ff00n) | ((x & 0xffffn) << 8n)],
    ['sbfx x0, x0, #4, #60', uint(BigInt.asIntN(64, x) >> 4n, 64)],
    ['udiv x0, x0, x0', 1n],
    ['sdiv x0, x0, x0', 1n],
    ['lslv x0, x0, x0', uint(x << (x & 63n), 64)],
    ['rorv x0, x0, x0', ror(x, Number(x & 63n), 64)],
    ['add x0, x0, w0, sxtw #3', uint(x + uint(BigInt.asIntN(32, x & 0xffff_ffffn) << 3n, 64), 64)],
    ['neg x0, x0', uint(-x, 64)],
  ];
  it('64-bit forms with Xd = Xn = Xm', () => {
    for (const [src, want] of cases) {
      // Z clear, so EQ fails and the conditional selects take the second operand.
      const cpu = run(src, { x: { 0: x }, nzcv: 0 });
      expect(hex(cpu.getX(0)), src).toBe(hex(want));
    }
  });

  it('loads that overwrite their base or index register', () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => i);
    const le = (o: number) => { let v = 0n; for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(o + i); return v; };
    let cpu = run('ldr x1, [x1, #8]', { x: { 1: 0x4010_0000n }, data });
    expect(hex(cpu.getX(1))).toBe(hex(le(8)));
    cpu = run('ldr x2, [x1, x2]', { x: { 1: 0x4010_0000n, 2: 16n }, data });
    expect(hex(cpu.getX(2))).toBe(hex(le(16)));
    cpu = run('ldp x1, x2, [x1]', { x: { 1: 0x4010_0000n }, data });
    expect(hex(cpu.getX(1))).toBe(hex(le(0)));
    expect(hex(cpu.getX(2))).toBe(hex(le(8)));
    cpu = run('ldp x2, x1, [x1, #16]', { x: { 1: 0x4010_0000n }, data });
    expect(hex(cpu.getX(2))).toBe(hex(le(16)));
    expect(hex(cpu.getX(1))).toBe(hex(le(24)));
  });
});
