// Multiply (including 128-bit high halves), division edge cases, CLZ/CLS/
// RBIT/REV*, variable shifts, and CRC32/CRC32C.
import { describe, expect, it } from 'vitest';
import { run } from './cpu-harness.js';
import { esr, inst, VEC_CUR_SPX, withVectors } from './helpers.js';
import {
  clsRef, clzRef, CRC32_POLY_REFLECTED, CRC32C_POLY_REFLECTED, crcBitwise, EDGE64, hex, leBytes, prng, rbitRef, revBytes,
  sampleValues, shiftReg, sint, uint,
} from './reference.js';

const values = sampleValues(71n, 12);

describe('multiply', () => {
  it('MADD/MSUB/MUL/MNEG 64- and 32-bit', () => {
    const next = prng(72n);
    for (const a of values) {
      const b = next(), acc = next();
      let cpu = run('madd x3, x0, x1, x2\nmsub x4, x0, x1, x2\nmul x5, x0, x1\nmneg x6, x0, x1', { x: { 0: a, 1: b, 2: acc } });
      const what = `${hex(a)} * ${hex(b)} + ${hex(acc)}`;
      expect(hex(cpu.getX(3)), what).toBe(hex(uint(acc + a * b, 64)));
      expect(hex(cpu.getX(4)), what).toBe(hex(uint(acc - a * b, 64)));
      expect(hex(cpu.getX(5)), what).toBe(hex(uint(a * b, 64)));
      expect(hex(cpu.getX(6)), what).toBe(hex(uint(-a * b, 64)));
      cpu = run('madd w3, w0, w1, w2\nmsub w4, w0, w1, w2\nmul w5, w0, w1\nmneg w6, w0, w1', { x: { 0: a, 1: b, 2: acc } });
      expect(hex(cpu.getX(3)), what).toBe(hex(uint(acc + a * b, 32)));
      expect(hex(cpu.getX(4)), what).toBe(hex(uint(acc - a * b, 32)));
      expect(hex(cpu.getX(5)), what).toBe(hex(uint(a * b, 32)));
      expect(hex(cpu.getX(6)), what).toBe(hex(uint(-a * b, 32)));
    }
  });

  it('SMADDL/SMSUBL/UMADDL/UMSUBL and the SMULL/UMULL/SMNEGL/UMNEGL aliases', () => {
    const next = prng(73n);
    for (const a of values) {
      for (const b of [next(), 0xffff_ffffn, 0x8000_0000n, 0x7fff_ffffn, 1n]) {
        const acc = next();
        const cpu = run(`
          smaddl x3, w0, w1, x2
          smsubl x4, w0, w1, x2
          umaddl x5, w0, w1, x2
          umsubl x6, w0, w1, x2
          smull x7, w0, w1
          umull x8, w0, w1
          smnegl x9, w0, w1
          umnegl x10, w0, w1
        `, { x: { 0: a, 1: b, 2: acc } });
        const sp = sint(a, 32) * sint(b, 32), up = uint(a, 32) * uint(b, 32);
        const what = `${hex(a)} * ${hex(b)}`;
        expect(hex(cpu.getX(3)), what).toBe(hex(uint(acc + sp, 64)));
        expect(hex(cpu.getX(4)), what).toBe(hex(uint(acc - sp, 64)));
        expect(hex(cpu.getX(5)), what).toBe(hex(uint(acc + up, 64)));
        expect(hex(cpu.getX(6)), what).toBe(hex(uint(acc - up, 64)));
        expect(hex(cpu.getX(7)), what).toBe(hex(uint(sp, 64)));
        expect(hex(cpu.getX(8)), what).toBe(hex(up));
        expect(hex(cpu.getX(9)), what).toBe(hex(uint(-sp, 64)));
        expect(hex(cpu.getX(10)), what).toBe(hex(uint(-up, 64)));
      }
    }
  });

  it('SMULH and UMULH: the high halves of the 128-bit products', () => {
    const next = prng(74n);
    const operands = [...EDGE64];
    for (let i = 0; i < 30; i++) operands.push(next());
    for (const a of operands) {
      for (const b of [operands[(Number(a & 0xffn) * 7) % operands.length], next(), 0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, a]) {
        const cpu = run('smulh x2, x0, x1\numulh x3, x0, x1', { x: { 0: a, 1: b } });
        const what = `${hex(a)} * ${hex(b)}`;
        expect(hex(cpu.getX(2)), `smulh ${what}`).toBe(hex(uint((sint(a, 64) * sint(b, 64)) >> 64n, 64)));
        expect(hex(cpu.getX(3)), `umulh ${what}`).toBe(hex((a * b) >> 64n));
      }
    }
  });

  it('32-bit forms of the long multiplies are unallocated', () => {
    // smaddl with sf=0, umulh with sf=0, and smulh with o0=1.
    for (const w of [0x1b221c20, 0x1bc17c00, 0x9b41fc00]) {
      const cpu = run(withVectors(inst(w)));
      expect(hex(cpu.getX(27)), hex(w)).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
    }
  });
});

describe('division', () => {
  function udivRef(n: bigint, d: bigint, bits: number): bigint {
    return uint(d, bits) === 0n ? 0n : uint(n, bits) / uint(d, bits);
  }
  function sdivRef(n: bigint, d: bigint, bits: number): bigint {
    const sn = sint(n, bits), sd = sint(d, bits);
    // RoundTowardsZero: BigInt division already truncates.
    return sd === 0n ? 0n : uint(sn / sd, bits);
  }

  it('edge cases: x/0, INT_MIN/-1, signs, 32 and 64-bit', () => {
    const cases: [bigint, bigint][] = [
      [5n, 0n], [0n, 0n], [0xffff_ffff_ffff_ffffn, 0n],
      [0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn],
      [0x8000_0000n, 0xffff_ffffn], [0xffff_ffff_8000_0000n, 0xffff_ffff_ffff_ffffn],
      [7n, 2n], [uint(-7n, 64), 2n], [7n, uint(-2n, 64)], [uint(-7n, 64), uint(-2n, 64)],
      [uint(-7n, 32), 2n], [7n, uint(-2n, 32)],
      [0xffff_ffff_ffff_ffffn, 1n], [0xffff_ffff_ffff_ffffn, 0xffff_ffff_ffff_ffffn],
      [0xffff_ffff_ffff_fffen, 0xffff_ffff_ffff_ffffn],
      [0xffff_ffff_ffff_ffffn, 3n], [0x8000_0000_0000_0000n, 3n], [0x8000_0000_0000_0001n, 0x8000_0000_0000_0000n],
      [0x0020_0000_0000_0001n, 3n], [0x001f_ffff_ffff_ffffn, 0x001f_ffff_ffff_fffen],
      [0x0020_0000_0000_0000n, 0x0010_0000_0000_0001n], [0xffff_ffff_ffff_fff0n, 0x1_0000_0001n],
      [0xffff_ffffn, 0xffff_ffffn], [0xffff_fffen, 0xffff_ffffn], [0xffff_ffffn, 0x1_0000_0000n],
      [0x1234_5678_9abc_def0n, 0x1_0000_0000n], [0x1234_5678_9abc_def0n, 0x0000_0000_0001_0001n],
    ];
    const next = prng(75n);
    for (let i = 0; i < 40; i++) {
      const d = next();
      cases.push([next(), d >> BigInt(Number(d & 63n))]);
    }
    for (const [n, d] of cases) {
      const cpu = run('udiv x2, x0, x1\nsdiv x3, x0, x1\nudiv w4, w0, w1\nsdiv w5, w0, w1', { x: { 0: n, 1: d } });
      const what = `${hex(n)} / ${hex(d)}`;
      expect(hex(cpu.getX(2)), `udiv ${what}`).toBe(hex(udivRef(n, d, 64)));
      expect(hex(cpu.getX(3)), `sdiv ${what}`).toBe(hex(sdivRef(n, d, 64)));
      expect(hex(cpu.getX(4)), `udiv w ${what}`).toBe(hex(udivRef(n, d, 32)));
      expect(hex(cpu.getX(5)), `sdiv w ${what}`).toBe(hex(sdivRef(n, d, 32)));
    }
  });
});

describe('CLZ, CLS, RBIT, REV16, REV32, REV', () => {
  it('64- and 32-bit, every single-bit value and samples', () => {
    const inputs = [...values];
    for (let i = 0; i < 64; i++) {
      inputs.push(1n << BigInt(i));
      inputs.push(uint(~(1n << BigInt(i)), 64));
      inputs.push(uint(-1n << BigInt(i), 64));
    }
    for (const v of inputs) {
      const cpu = run(`
        clz x1, x0
        cls x2, x0
        rbit x3, x0
        rev16 x4, x0
        rev32 x5, x0
        rev x6, x0
        clz w7, w0
        cls w8, w0
        rbit w9, w0
        rev16 w10, w0
        rev w11, w0
      `, { x: { 0: v } });
      const w = uint(v, 32);
      const what = hex(v);
      expect(cpu.getX(1), `clz ${what}`).toBe(BigInt(clzRef(v, 64)));
      expect(cpu.getX(2), `cls ${what}`).toBe(BigInt(clsRef(v, 64)));
      expect(hex(cpu.getX(3)), `rbit ${what}`).toBe(hex(rbitRef(v, 64)));
      expect(hex(cpu.getX(4)), `rev16 ${what}`).toBe(hex(revBytes(v, 16, 64)));
      expect(hex(cpu.getX(5)), `rev32 ${what}`).toBe(hex(revBytes(v, 32, 64)));
      expect(hex(cpu.getX(6)), `rev ${what}`).toBe(hex(revBytes(v, 64, 64)));
      expect(cpu.getX(7), `clz w ${what}`).toBe(BigInt(clzRef(w, 32)));
      expect(cpu.getX(8), `cls w ${what}`).toBe(BigInt(clsRef(w, 32)));
      expect(hex(cpu.getX(9)), `rbit w ${what}`).toBe(hex(rbitRef(w, 32)));
      expect(hex(cpu.getX(10)), `rev16 w ${what}`).toBe(hex(revBytes(w, 16, 32)));
      expect(hex(cpu.getX(11)), `rev w ${what}`).toBe(hex(revBytes(w, 32, 32)));
    }
  });

  it('REV64 is REV, and the 32-bit REV32/REV64 encodings are unallocated', () => {
    const cpu = run('rev64 x1, x0', { x: { 0: 0x0102_0304_0506_0708n } });
    expect(hex(cpu.getX(1))).toBe('0x807060504030201');
    // rev with sf=0 opc=11; and DP_1SRC opcode 6 (unallocated).
    for (const w of [0x5ac00c20, 0xdac01820]) {
      const c = run(withVectors(inst(w)));
      expect(hex(c.getX(27)), hex(w)).toBe(hex(VEC_CUR_SPX));
    }
  });
});

describe('variable shifts', () => {
  it('LSLV/LSRV/ASRV/RORV with amounts at and beyond the width', () => {
    const amounts = [0n, 1n, 7n, 31n, 32n, 33n, 63n, 64n, 65n, 95n, 127n, 128n, 0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0020n, 0x1_0000_0001n];
    const names = ['lslv', 'lsrv', 'asrv', 'rorv'];
    for (const v of [0x8123_4567_89ab_cdefn, 0x7fff_0000_ffff_0001n, 0xffff_ffff_8000_0000n]) {
      for (const amount of amounts) {
        for (let type = 0; type < 4; type++) {
          const cpu = run(`${names[type]} x2, x0, x1\n${names[type]} w3, w0, w1`, { x: { 0: v, 1: amount } });
          const what = `${names[type]} ${hex(v)} by ${hex(amount)}`;
          // The amount is taken modulo the register width.
          expect(hex(cpu.getX(2)), what).toBe(hex(shiftReg(v, type, Number(amount % 64n), 64)));
          expect(hex(cpu.getX(3)), `w ${what}`).toBe(hex(shiftReg(v, type, Number(amount % 32n), 32)));
        }
      }
    }
  });

  it('the LSL/LSR/ASR/ROR register aliases', () => {
    const cpu = run('lsl x2, x0, x1\nlsr x3, x0, x1\nasr w4, w0, w1\nror w5, w0, w1', { x: { 0: 0x8000_0000_8000_0001n, 1: 36n } });
    expect(hex(cpu.getX(2))).toBe(hex(uint(0x8000_0000_8000_0001n << 36n, 64)));
    expect(hex(cpu.getX(3))).toBe(hex(0x8000_0000_8000_0001n >> 36n));
    expect(hex(cpu.getX(4))).toBe(hex(0xf800_0000n));
    expect(hex(cpu.getX(5))).toBe(hex(0x1800_0000n));
  });
});

describe('CRC32 and CRC32C', () => {
  const names = ['b', 'h', 'w', 'x'];

  it('every size against a bit-serial reference, with accumulators of every shape', () => {
    const next = prng(81n);
    for (let i = 0; i < 40; i++) {
      const acc = i === 0 ? 0xffff_ffffn : i === 1 ? 0n : next();
      const data = next();
      for (const c of [false, true]) {
        const poly = c ? CRC32C_POLY_REFLECTED : CRC32_POLY_REFLECTED;
        const src = names.map((n, k) => `crc32${c ? 'c' : ''}${n} w${2 + k}, w0, ${k === 3 ? 'x' : 'w'}1`).join('\n');
        const cpu = run(src, { x: { 0: acc, 1: data } });
        for (let k = 0; k < 4; k++) {
          const want = crcBitwise(Number(acc & 0xffff_ffffn), leBytes(data, 1 << k), poly);
          expect(hex(cpu.getX(2 + k)), `crc32${c ? 'c' : ''}${names[k]} acc=${hex(acc)} data=${hex(data)}`).toBe(hex(want));
        }
      }
    }
  });

  it('crc32("123456789") = 0xCBF43926 and crc32c("123456789") = 0xE3069283', () => {
    // Bytes through the byte form, with the standard inversions done in the
    // program; then the same string as a doubleword plus a byte.
    const text = '123456789';
    const bytes = [...text].map((ch) => ch.charCodeAt(0));
    const byByte = bytes.map((b) => `  mov w1, #${b}\n  crc32b w0, w0, w1\n  mov w1, #${b}\n  crc32cb w2, w2, w1`).join('\n');
    let cpu = run(`
      movn w0, #0
      movn w2, #0
${byByte}
      mvn w0, w0
      mvn w2, w2
    `);
    expect(hex(cpu.getX(0))).toBe('0xcbf43926');
    expect(hex(cpu.getX(2))).toBe('0xe3069283');
    let le = 0n;
    for (let i = 7; i >= 0; i--) le = (le << 8n) | BigInt(bytes[i]);
    cpu = run(`
      movn w0, #0
      crc32x w0, w0, x1
      crc32b w0, w0, w2
      mvn w0, w0
      movn w3, #0
      crc32cx w3, w3, x1
      crc32cb w3, w3, w2
      mvn w3, w3
    `, { x: { 1: le, 2: BigInt(bytes[8]) } });
    expect(hex(cpu.getX(0))).toBe('0xcbf43926');
    expect(hex(cpu.getX(3))).toBe('0xe3069283');
  });

  it('halfword and word forms agree with byte-by-byte accumulation', () => {
    const cpu = run(`
      movn w0, #0
      crc32h w0, w0, w1
      crc32w w0, w0, w2
      mvn w0, w0
    `, { x: { 1: 0x3231n, 2: 0x3635_3433n } });
    const want = (crcBitwise(0xffff_ffff, [...'123456'].map((ch) => ch.charCodeAt(0)), CRC32_POLY_REFLECTED) ^ 0xffff_ffff) >>> 0;
    expect(hex(cpu.getX(0))).toBe(hex(want));
  });

  it('CRC32 is UNDEFINED with sf/size mismatches', () => {
    // crc32x with sf=0, and crc32w with sf=1.
    for (const w of [0x1ac14c20, 0x9ac14820]) {
      const cpu = run(withVectors(inst(w)));
      expect(hex(cpu.getX(27)), hex(w)).toBe(hex(VEC_CUR_SPX));
    }
  });
});
