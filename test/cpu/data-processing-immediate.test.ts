// Data processing (immediate): ADD/SUB, logical with every bitmask immediate,
// move wide, bitfield moves and their aliases, EXTR, ADR/ADRP.
import { describe, expect, it } from 'vitest';
import { CODE_BASE, DATA_BASE, run, runProgram } from './cpu-harness.js';
import { inst, withVectors, VEC_CUR_SPX, esr } from './helpers.js';
import {
  addWithCarry, decodeBitMasksRef, flags, hex, mask, not, prng, ror, sampleValues, sint, uint,
} from './reference.js';

const GARBAGE_HI = 0xdead_beef_0000_0000n;

describe('ADD/SUB (immediate)', () => {
  const values = sampleValues(11n, 6);
  const imms: [number, number][] = [[0, 0], [1, 0], [0xfff, 0], [0x800, 0], [1, 1], [0xfff, 1], [0x7ff, 1]];
  for (const bits of [64, 32] as const) {
    for (const op of ['add', 'adds', 'sub', 'subs']) {
      it(`${op} ${bits}-bit`, () => {
        const r = bits === 64 ? 'x' : 'w';
        for (const v of values) {
          for (const [imm, sh] of imms) {
            const src = bits === 32 ? v | GARBAGE_HI : v;
            const initialFlags = 0xa0000000;
            const cpu = run(`${op} ${r}1, ${r}0, #${imm}${sh ? ', lsl #12' : ''}`, { x: { 0: src, 1: 0x5555n }, nzcv: initialFlags });
            const operand = BigInt(imm) << BigInt(12 * sh);
            const sub = op.startsWith('sub');
            const ref = addWithCarry(uint(v, bits), sub ? not(operand, bits) : operand, sub ? 1 : 0, bits);
            const what = `${op} ${hex(src)}, #${imm}, lsl ${12 * sh}`;
            expect(hex(cpu.getX(1)), what).toBe(hex(ref.result));
            expect(cpu.nzcv.toString(16), what).toBe((op.endsWith('s') ? ref.nzcv : initialFlags).toString(16));
          }
        }
      });
    }
  }

  it('CMP and CMN set flags only', () => {
    for (const [src, imm, cmp] of [[5n, 5, true], [4n, 5, true], [0x8000_0000_0000_0000n, 1, true], [0xffff_ffff_ffff_ffffn, 1, false]] as const) {
      const cpu = run(`${cmp ? 'cmp' : 'cmn'} x0, #${imm}`, { x: { 0: src } });
      const ref = addWithCarry(src, cmp ? not(BigInt(imm), 64) : BigInt(imm), cmp ? 1 : 0, 64);
      expect(cpu.nzcv, `${cmp ? 'cmp' : 'cmn'} ${hex(src)}, ${imm}`).toBe(ref.nzcv);
      expect(cpu.getX(0)).toBe(src);
    }
  });

  it('uses SP as source and destination of the non-flag-setting forms', () => {
    const cpu = run(`
      add x1, sp, #0
      sub sp, sp, #0x20
      add x2, sp, #1, lsl #12
      mov x3, sp
      add sp, x1, #0
    `, { sp: 0x40f0_0000n });
    expect(hex(cpu.getX(1))).toBe(hex(0x40f0_0000n));
    expect(hex(cpu.getX(2))).toBe(hex(0x40f0_0000n - 0x20n + 0x1000n));
    expect(hex(cpu.getX(3))).toBe(hex(0x40f0_0000n - 0x20n));
    expect(hex(cpu.sp)).toBe(hex(0x40f0_0000n));
  });

  it('reads SP but writes XZR in ADDS/SUBS (CMP SP)', () => {
    const cpu = run(`
      adds x1, sp, #0x10
      cmp sp, #0x10
    `, { sp: 0x10n, prepare: (c) => c.setX(1, 7n) });
    // The harness's SP is fixed after prepare, so read what it really was.
    const sp = cpu.sp;
    expect(cpu.getX(1)).toBe(sp + 0x10n);
    expect(cpu.nzcv).toBe(addWithCarry(sp, not(0x10n, 64), 1, 64).nzcv);
  });

  it('WSP as destination zero-extends into SP', () => {
    const cpu = run('add wsp, w0, #4', { x: { 0: 0xffff_ffff_ffff_fff0n } });
    expect(hex(cpu.sp)).toBe(hex(0xffff_fff4n));
  });
});

describe('MOVZ / MOVN / MOVK', () => {
  const imm16s = [0, 1, 0x8000, 0xffff, 0x1234];
  it('MOVZ and MOVN every halfword position', () => {
    for (const imm of imm16s) {
      for (let hw = 0; hw < 4; hw++) {
        const sh = BigInt(16 * hw);
        let cpu = run(`movz x0, #${imm}, lsl #${16 * hw}`, { x: { 0: 0x5555n } });
        expect(hex(cpu.getX(0))).toBe(hex(BigInt(imm) << sh));
        cpu = run(`movn x0, #${imm}, lsl #${16 * hw}`);
        expect(hex(cpu.getX(0)), `movn ${imm} lsl ${16 * hw}`).toBe(hex(not(BigInt(imm) << sh, 64)));
        if (hw < 2) {
          cpu = run(`movz w0, #${imm}, lsl #${16 * hw}`, { x: { 0: 0xffff_ffff_ffff_ffffn } });
          expect(hex(cpu.getX(0))).toBe(hex(BigInt(imm) << sh));
          cpu = run(`movn w0, #${imm}, lsl #${16 * hw}`);
          expect(hex(cpu.getX(0)), `movn w ${imm} lsl ${16 * hw}`).toBe(hex(not(BigInt(imm) << sh, 32)));
        }
      }
    }
  });

  it('MOVK replaces one halfword and keeps the rest', () => {
    const start = 0x1122_3344_5566_7788n;
    for (const imm of imm16s) {
      for (let hw = 0; hw < 4; hw++) {
        const sh = BigInt(16 * hw);
        let cpu = run(`movk x0, #${imm}, lsl #${16 * hw}`, { x: { 0: start } });
        expect(hex(cpu.getX(0))).toBe(hex((start & ~(0xffffn << sh)) | (BigInt(imm) << sh)));
        if (hw < 2) {
          cpu = run(`movk w0, #${imm}, lsl #${16 * hw}`, { x: { 0: start } });
          expect(hex(cpu.getX(0)), `movk w lsl ${16 * hw}`).toBe(hex(((start & 0xffff_ffffn) & ~(0xffffn << sh)) | (BigInt(imm) << sh)));
        }
      }
    }
  });

  it('builds a 64-bit constant with MOVZ + MOVK', () => {
    const cpu = run(`
      movz x5, #0xdef0
      movk x5, #0x9abc, lsl #16
      movk x5, #0x5678, lsl #32
      movk x5, #0x1234, lsl #48
    `);
    expect(hex(cpu.getX(5))).toBe('0x123456789abcdef0');
  });

  it('MOVN with hw=2/3 in 32-bit and MOVZ opc=01 are UNDEFINED', () => {
    // movn w0 with hw=2 and hw=3, and the unallocated opc=01.
    const undef = [0x12c00000, 0x12e00000, 0xb2800000];
    for (const w of undef) {
      const cpu = run(withVectors(inst(w)));
      expect(hex(cpu.getX(27)), hex(w)).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
    }
  });
});

describe('logical (immediate): every bitmask immediate', () => {
  // All (N, immr, imms) encodings: valid ones must produce DecodeBitMasks'
  // wmask, reserved ones must be UNDEFINED.
  function encodings(bits: 32 | 64): { n: number; immr: number; imms: number; wmask: bigint }[] {
    const list = [];
    for (let n = 0; n <= (bits === 64 ? 1 : 0); n++) {
      for (let immr = 0; immr < 64; immr++) {
        for (let imms = 0; imms < 64; imms++) {
          const m = decodeBitMasksRef(n, imms, immr, true, bits);
          if (m) list.push({ n, immr, imms, wmask: m.wmask });
        }
      }
    }
    return list;
  }

  for (const bits of [64, 32] as const) {
    it(`ORR ${bits}-bit from the zero register yields the mask, for every encoding of the ${bits === 64 ? 5334 : 1302} immediates`, () => {
      const list = encodings(bits);
      // immr bits above the element size are ignored, so values repeat.
      expect(new Set(list.map((e) => e.wmask)).size).toBe(bits === 64 ? 5334 : 1302);
      const sf = bits === 64 ? 1 : 0;
      // orr <r>0, <r>zr, #imm ; str x0, [x9], #8
      const lines = list.map((e) =>
        inst(((sf << 31) | (1 << 29) | (0x24 << 23) | (e.n << 22) | (e.immr << 16) | (e.imms << 10) | (31 << 5) | 0) >>> 0) +
        '\n  str x0, [x9], #8');
      const res = runProgram(lines.join('\n'), { x: { 9: DATA_BASE, 0: 0xffff_ffff_ffff_ffffn } });
      expect(res.exit.reason).toBe('breakpoint');
      const bytes = res.vm.readPhysical(Number(DATA_BASE), list.length * 8);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let bad = 0;
      for (let i = 0; i < list.length; i++) {
        const got = dv.getBigUint64(i * 8, true);
        if (got !== list[i].wmask && bad++ < 5) {
          const e = list[i];
          expect.soft(hex(got), `N=${e.n} immr=${e.immr} imms=${e.imms}`).toBe(hex(e.wmask));
        }
      }
      expect(bad).toBe(0);
    });
  }

  it('AND, EOR and ANDS combine the register with the mask (sampled), ANDS sets N and Z', () => {
    const next = prng(77n);
    const list = encodings(64);
    for (let i = 0; i < list.length; i += 37) {
      const e = list[i];
      for (const bits of [64, 32] as const) {
        if (bits === 32 && e.n === 1) continue;
        const m32 = bits === 32 ? decodeBitMasksRef(0, e.imms, e.immr, true, 32) : undefined;
        if (bits === 32 && !m32) continue;
        const wmask = bits === 32 ? m32!.wmask : e.wmask;
        const x = next();
        const sf = bits === 64 ? 1 : 0;
        for (const [opc, fn] of [[0, (a: bigint) => a & wmask], [2, (a: bigint) => a ^ wmask], [3, (a: bigint) => a & wmask]] as const) {
          const word = ((sf << 31) | (opc << 29) | (0x24 << 23) | (e.n << 22) | (e.immr << 16) | (e.imms << 10) | (0 << 5) | 1) >>> 0;
          const cpu = run(inst(word), { x: { 0: x }, nzcv: 0x30000000 });
          const want = fn(uint(x, bits));
          expect(hex(cpu.getX(1)), `opc=${opc} N=${e.n} immr=${e.immr} imms=${e.imms} ${bits}`).toBe(hex(want));
          const nz = flags((want >> BigInt(bits - 1)) === 1n, want === 0n, false, false);
          expect(cpu.nzcv, `flags opc=${opc}`).toBe(opc === 3 ? nz : 0x30000000);
        }
      }
    }
  });

  it('ANDS with a zero result sets Z and clears C and V', () => {
    const cpu = run('ands x1, x0, #0xff00', { x: { 0: 0xffn }, nzcv: 0xf0000000 });
    expect(cpu.getX(1)).toBe(0n);
    expect(cpu.nzcv).toBe(flags(false, true, false, false));
    const c2 = run('tst w0, #0x80000000', { x: { 0: 0x8000_0000n }, nzcv: 0x30000000 });
    expect(c2.nzcv).toBe(flags(true, false, false, false));
  });

  it('ORR/AND/EOR may write SP', () => {
    let cpu = run('orr sp, xzr, #0x40000000');
    expect(hex(cpu.sp)).toBe('0x40000000');
    cpu = run('and wsp, w0, #0xfffffff0', { x: { 0: 0xffff_ffff_ffff_ffffn } });
    expect(hex(cpu.sp)).toBe('0xfffffff0');
    cpu = run('eor sp, x0, #1', { x: { 0: 0x40f0_0001n } });
    expect(hex(cpu.sp)).toBe('0x40f00000');
  });

  it('reserved bitmask encodings are UNDEFINED', () => {
    // N=1 in 32-bit, then an all-ones element (S = esize-1) of each size.
    const undef: number[] = [0x32400000];
    for (let len = 1; len <= 6; len++) {
      const esize = 1 << len;
      const n = len === 6 ? 1 : 0;
      // imms = NOT(esize*2 - 1 pattern) with S = esize-1, i.e. all ones.
      const imms = len === 6 ? 63 : ((~((esize << 1) - 1) & 0x3f) | (esize - 1));
      undef.push((0xb2000000 | (n << 22) | (imms << 10)) >>> 0);
    }
    // N=0, imms=0b111111 has no element size at all.
    undef.push((0xb2000000 | (63 << 10)) >>> 0);
    for (const w of undef) {
      const cpu = run(withVectors(inst(w)));
      expect(hex(cpu.getX(27)), hex(w)).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
    }
  });
});

describe('bitfield moves (SBFM, BFM, UBFM)', () => {
  function bitfieldRef(opc: number, bits: number, immr: number, imms: number, src: bigint, dst0: bigint): bigint {
    const m = decodeBitMasksRef(bits === 64 ? 1 : 0, imms, immr, false, bits)!;
    const s = uint(src, bits);
    const dst = opc === 1 ? uint(dst0, bits) : 0n;
    const bot = (dst & not(m.wmask, bits)) | (ror(s, immr, bits) & m.wmask);
    const top = opc === 0 ? (((s >> BigInt(imms)) & 1n) ? mask(bits) : 0n) : dst;
    return (top & not(m.tmask, bits)) | (bot & m.tmask);
  }

  for (const bits of [64, 32] as const) {
    it(`every (immr, imms) of ${bits}-bit SBFM, BFM and UBFM`, () => {
      const sf = bits === 64 ? 1 : 0;
      const srcs = [0x8123_4567_89ab_cdefn, 0x7edc_ba98_7654_3210n, 0x0000_0000_8000_0001n];
      const dst0 = 0xa5a5_5a5a_c3c3_3c3cn;
      const cases: { opc: number; immr: number; imms: number; src: bigint }[] = [];
      const lines: string[] = [];
      for (const src of srcs) {
        for (let opc = 0; opc < 3; opc++) {
          for (let immr = 0; immr < bits; immr++) {
            for (let imms = 0; imms < bits; imms++) {
              cases.push({ opc, immr, imms, src });
              const word = ((sf << 31) | (opc << 29) | (0x26 << 23) | (sf << 22) | (immr << 16) | (imms << 10) | (1 << 5) | 0) >>> 0;
              lines.push(`  mov x0, x2\n${inst(word)}\n  str x0, [x9], #8`);
            }
          }
        }
      }
      // One program per source value keeps the programs a reasonable size.
      let base = 0;
      for (const src of srcs) {
        const count = 3 * bits * bits;
        const res = runProgram(lines.slice(base, base + count).join('\n'), { x: { 1: src, 2: dst0, 9: DATA_BASE } });
        expect(res.exit.reason).toBe('breakpoint');
        const bytes = res.vm.readPhysical(Number(DATA_BASE), count * 8);
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        let bad = 0;
        for (let i = 0; i < count; i++) {
          const c = cases[base + i];
          const want = bitfieldRef(c.opc, bits, c.immr, c.imms, c.src, dst0);
          const got = dv.getBigUint64(i * 8, true);
          if (got !== want && bad++ < 5) {
            expect.soft(hex(got), `${['sbfm', 'bfm', 'ubfm'][c.opc]} ${bits} immr=${c.immr} imms=${c.imms} src=${hex(c.src)}`).toBe(hex(want));
          }
        }
        expect(bad).toBe(0);
        base += count;
      }
    });
  }

  it('aliases: shifts, extends, field extract and insert', () => {
    const x = 0x8765_4321_fedc_ba98n;
    const d = 0x1111_2222_3333_4444n;
    const cases: [string, bigint][] = [
      ['lsl x1, x0, #4', uint(x << 4n, 64)],
      ['lsl x1, x0, #63', uint(x << 63n, 64)],
      ['lsr x1, x0, #63', x >> 63n],
      ['lsr x1, x0, #1', x >> 1n],
      ['asr x1, x0, #63', mask(64)],
      ['asr x1, x0, #8', uint(sint(x, 64) >> 8n, 64)],
      ['lsl w1, w0, #31', uint(x << 31n, 32)],
      ['lsr w1, w0, #31', uint(x, 32) >> 31n],
      ['asr w1, w0, #4', uint(sint(uint(x, 32), 32) >> 4n, 32)],
      ['sxtb x1, w0', uint(sint(x & 0xffn, 8), 64)],
      ['sxth x1, w0', uint(sint(x & 0xffffn, 16), 64)],
      ['sxtw x1, w0', uint(sint(x & 0xffff_ffffn, 32), 64)],
      ['sxtb w1, w0', uint(sint(x & 0xffn, 8), 32)],
      ['sxth w1, w0', uint(sint(x & 0xffffn, 16), 32)],
      ['uxtb w1, w0', x & 0xffn],
      ['uxth w1, w0', x & 0xffffn],
      ['ubfx x1, x0, #8, #12', (x >> 8n) & 0xfffn],
      ['ubfx x1, x0, #60, #4', x >> 60n],
      ['sbfx x1, x0, #4, #8', uint(sint((x >> 4n) & 0xffn, 8), 64)],
      ['sbfx x1, x0, #32, #32', uint(sint(x >> 32n, 32), 64)],
      ['sbfx w1, w0, #28, #4', uint(sint((x >> 28n) & 0xfn, 4), 32)],
      ['ubfiz x1, x0, #40, #8', (x & 0xffn) << 40n],
      ['sbfiz x1, x0, #40, #8', uint(sint(x & 0xffn, 8) << 40n, 64)],
      ['bfi x1, x0, #16, #8', (d & ~(0xffn << 16n)) | ((x & 0xffn) << 16n)],
      ['bfi x1, x0, #0, #64', x],
      ['bfxil x1, x0, #8, #16', (d & ~0xffffn) | ((x >> 8n) & 0xffffn)],
      ['bfc x1, #4, #8', d & ~(0xffn << 4n)],
      ['bfi w1, w0, #24, #8', ((d & 0xffff_ffffn) & ~(0xffn << 24n)) | ((x & 0xffn) << 24n)],
      ['bfxil w1, w0, #0, #1', ((d & 0xffff_ffffn) & ~1n) | (x & 1n)],
    ];
    for (const [src, want] of cases) {
      const cpu = run(src, { x: { 0: x, 1: d } });
      expect(hex(cpu.getX(1)), src).toBe(hex(want));
    }
  });
});

describe('EXTR', () => {
  it('every lsb, both widths, and ROR (immediate)', () => {
    const n = 0x0123_4567_89ab_cdefn, m = 0xfedc_ba98_7654_3210n;
    for (let lsb = 0; lsb < 64; lsb++) {
      const cpu = run(`extr x2, x0, x1, #${lsb}`, { x: { 0: n, 1: m } });
      expect(hex(cpu.getX(2)), `lsb ${lsb}`).toBe(hex(uint(((n << 64n) | m) >> BigInt(lsb), 64)));
      const r = run(`ror x2, x0, #${lsb}`, { x: { 0: n } });
      expect(hex(r.getX(2))).toBe(hex(ror(n, lsb, 64)));
    }
    for (let lsb = 0; lsb < 32; lsb++) {
      const cpu = run(`extr w2, w0, w1, #${lsb}`, { x: { 0: n, 1: m } });
      const want = uint((((n & 0xffff_ffffn) << 32n) | (m & 0xffff_ffffn)) >> BigInt(lsb), 32);
      expect(hex(cpu.getX(2)), `w lsb ${lsb}`).toBe(hex(want));
    }
  });
});

describe('ADR / ADRP', () => {
  function adrWord(page: boolean, imm: number, rd: number): number {
    const u = imm & 0x1fffff;
    return (((page ? 1 : 0) << 31) | ((u & 3) << 29) | (0x10 << 24) | ((u >> 2) << 5) | rd) >>> 0;
  }

  it('ADR to labels before and after', () => {
    const res = runProgram(`
    back:
      nop
      adr x0, back
      adr x1, fwd
      adr x2, .
      nop
    fwd:
      nop
    `);
    const cpu = res.cpu;
    expect(cpu.getX(0)).toBe(res.labels.get('back')!);
    expect(cpu.getX(1)).toBe(res.labels.get('fwd')!);
    expect(cpu.getX(2)).toBe(CODE_BASE + 12n);
  });

  it('ADR and ADRP at the ends of their ranges', () => {
    const pc = CODE_BASE; // first instruction
    const cases: [number, boolean, bigint][] = [
      [0xfffff, false, pc + 0xfffffn],
      [-0x100000, false, pc - 0x100000n],
      [0xfffff, true, (pc & ~0xfffn) + (0xfffffn << 12n)],
      [-0x100000, true, uint((pc & ~0xfffn) - (0x100000n << 12n), 64)],
      [1, true, (pc & ~0xfffn) + 0x1000n],
      [-1, true, (pc & ~0xfffn) - 0x1000n],
    ];
    for (const [imm, page, want] of cases) {
      const cpu = run(inst(adrWord(page, imm, 3)));
      expect(hex(cpu.getX(3)), `${page ? 'adrp' : 'adr'} ${imm}`).toBe(hex(want));
    }
  });

  it('ADRP clears the low 12 bits of a PC that is not page-aligned', () => {
    const res = runProgram(`
      nop
      nop
      adrp x4, target
      .balign 4096
    target:
      nop
    `);
    expect(hex(res.cpu.getX(4))).toBe(hex(res.labels.get('target')!));
    const cpu = run(`nop\nnop\n${inst(adrWord(true, 0, 5))}`);
    expect(hex(cpu.getX(5))).toBe(hex(CODE_BASE));
  });
});
