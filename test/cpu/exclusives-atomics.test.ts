// Exclusive loads and stores with the local monitor, and the LSE atomics
// (LD<op>, ST<op>, SWP, CAS, CASP) at every size.
import { describe, expect, it } from 'vitest';
import { DATA_BASE, run, runProgram } from './cpu-harness.js';
import { esr, inst, VEC_CUR_SPX, VEC_LOWER_A64, withVectors } from './helpers.js';
import { hex, mask, prng, sint, uint } from './reference.js';

const DATA = Uint8Array.from({ length: 0x1000 }, (_, i) => (i * 29 + 0x93) & 0xff);

function readLE(mem: Uint8Array, off: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(mem[off + i]);
  return v;
}

const SIZES: { suffix: string; reg: 'w' | 'x'; bytes: number }[] = [
  { suffix: 'b', reg: 'w', bytes: 1 },
  { suffix: 'h', reg: 'w', bytes: 2 },
  { suffix: '', reg: 'w', bytes: 4 },
  { suffix: '', reg: 'x', bytes: 8 },
];

describe('exclusive loads and stores', () => {
  const addr = DATA_BASE + 0x100n;

  it('LDXR then STXR succeeds and stores, at every size and ordering', () => {
    for (const s of SIZES) {
      for (const [ld, st] of [['ldxr', 'stxr'], ['ldaxr', 'stlxr'], ['ldxr', 'stlxr'], ['ldaxr', 'stxr']]) {
        const src = `
          ${ld}${s.suffix} ${s.reg}0, [x1]
          add ${s.reg}0, ${s.reg}0, #1
          ${st}${s.suffix} w2, ${s.reg}0, [x1]
        `;
        const res = runProgram(src, { x: { 1: addr, 2: 0x55n }, data: DATA });
        const old = readLE(DATA, 0x100, s.bytes);
        const bits = s.bytes * 8;
        expect(hex(res.cpu.getX(2)), src).toBe('0x0');
        expect(hex(readLE(res.vm.readPhysical(Number(addr), 8), 0, 8)), src)
          .toBe(hex((readLE(DATA, 0x100, 8) & ~mask(bits)) | uint(old + 1n, bits)));
      }
    }
  });

  it('the loaded value is zero-extended', () => {
    const cpu = run('ldxrb w0, [x1]\nldxrh w2, [x1]\nldxr w3, [x1]', { x: { 0: -1n, 2: -1n, 3: -1n, 1: addr }, data: DATA });
    expect(hex(cpu.getX(0))).toBe(hex(readLE(DATA, 0x100, 1)));
    expect(hex(cpu.getX(2))).toBe(hex(readLE(DATA, 0x100, 2)));
    expect(hex(cpu.getX(3))).toBe(hex(readLE(DATA, 0x100, 4)));
  });

  function expectFails(src: string, x: Record<number, bigint> = {}): void {
    const res = runProgram(src, { x: { 1: addr, 2: 0x55n, 0: 0xabcdn, ...x }, data: DATA });
    expect(res.exit.reason).toBe('breakpoint');
    expect(hex(res.cpu.getX(2)), src).toBe('0x1');
    expect(Array.from(res.vm.readPhysical(Number(addr) - 8, 32)), src).toEqual(Array.from(DATA.slice(0xf8, 0x118)));
  }

  it('STXR without a preceding LDXR fails and stores nothing', () => {
    expectFails('stxr w2, x0, [x1]');
    expectFails('stxrb w2, w0, [x1]');
  });

  it('STXR after CLREX fails', () => {
    expectFails('ldxr x3, [x1]\nclrex\nstxr w2, x0, [x1]');
  });

  it('STXR to a different address fails', () => {
    const res = runProgram('ldxr x3, [x1]\nadd x4, x1, #8\nstxr w2, x0, [x4]', { x: { 1: addr, 0: 0xabcdn }, data: DATA });
    expect(res.cpu.getX(2)).toBe(1n);
    expect(Array.from(res.vm.readPhysical(Number(addr), 24))).toEqual(Array.from(DATA.slice(0x100, 0x118)));
  });

  it('a second STXR fails: a store-exclusive clears the monitor', () => {
    const res = runProgram('ldxr x3, [x1]\nstxr w2, x0, [x1]\nstxr w4, x5, [x1]', { x: { 1: addr, 0: 0x1111n, 5: 0x2222n }, data: DATA });
    expect(res.cpu.getX(2)).toBe(0n);
    expect(res.cpu.getX(4)).toBe(1n);
    expect(readLE(res.vm.readPhysical(Number(addr), 8), 0, 8)).toBe(0x1111n);
  });

  it('a plain store of a different value to the monitored location makes STXR fail', () => {
    const res = runProgram('ldxr x3, [x1]\nstr x6, [x1]\nstxr w2, x0, [x1]', { x: { 1: addr, 0: 0x1111n, 6: 0x7777n }, data: DATA });
    expect(res.cpu.getX(2)).toBe(1n);
    expect(readLE(res.vm.readPhysical(Number(addr), 8), 0, 8)).toBe(0x7777n);
  });

  it('an exception return between LDXR and STXR clears the monitor', () => {
    const res = runProgram(withVectors(`
      ldxr x3, [x1]
      svc #0
      stxr w2, x0, [x1]
    `, { 0x200: '  eret' }), { x: { 1: addr, 0: 0x1111n }, data: DATA });
    expect(res.cpu.getX(2)).toBe(1n);
  });

  it('LDXP/STXP with W and X pairs', () => {
    for (const r of ['w', 'x'] as const) {
      const n = r === 'x' ? 8 : 4;
      const res = runProgram(`
        ldxp ${r}3, ${r}4, [x1]
        stxp w2, ${r}4, ${r}3, [x1]
        ldaxp ${r}5, ${r}6, [x1]
        stlxp w7, ${r}3, ${r}4, [x1]
      `, { x: { 1: addr, 2: 0x55n, 7: 0x55n }, data: DATA });
      const cpu = res.cpu;
      const a = readLE(DATA, 0x100, n), b = readLE(DATA, 0x100 + n, n);
      expect(hex(cpu.getX(3))).toBe(hex(a));
      expect(hex(cpu.getX(4))).toBe(hex(b));
      expect(cpu.getX(2)).toBe(0n);
      // After the swap, the second pair read sees the halves exchanged.
      expect(hex(cpu.getX(5))).toBe(hex(b));
      expect(hex(cpu.getX(6))).toBe(hex(a));
      expect(cpu.getX(7)).toBe(0n);
      expect(hex(readLE(res.vm.readPhysical(Number(addr), 2 * n), 0, 2 * n))).toBe(hex(a | (b << BigInt(8 * n))));
    }
  });

  it('STXP without LDXP fails', () => {
    const res = runProgram('stxp w2, x3, x4, [x1]', { x: { 1: addr, 3: 1n, 4: 2n }, data: DATA });
    expect(res.cpu.getX(2)).toBe(1n);
    expect(Array.from(res.vm.readPhysical(Number(addr), 16))).toEqual(Array.from(DATA.slice(0x100, 0x110)));
  });

  it('an unaligned exclusive is an alignment fault even with SCTLR_EL1.A clear', () => {
    const cases: [string, bigint, boolean][] = [
      ['ldxr x0, [x1]', addr + 4n, false],
      ['ldxrh w0, [x1]', addr + 1n, false],
      ['stxr w2, w0, [x1]', addr + 2n, true],
      ['ldxp x3, x4, [x1]', addr + 8n, false],
      ['ldxp w3, w4, [x1]', addr + 4n, false],
      ['ldaxr w0, [x1]', addr + 1n, false],
    ];
    for (const [src, a, write] of cases) {
      const res = runProgram(withVectors(`
      fault:
        ${src}
      `), { x: { 1: a }, data: DATA });
      const cpu = res.cpu;
      expect(hex(cpu.getX(27)), src).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1')), src).toBe(hex(esr(0x25, (write ? 1 << 6 : 0) | 0x21)));
      expect(hex(cpu.sysreg('FAR_EL1')), src).toBe(hex(a));
      expect(hex(cpu.sysreg('ELR_EL1')), src).toBe(hex(res.labels.get('fault')!));
    }
  });
});

describe('LSE atomics', () => {
  const addr = DATA_BASE + 0x200n;
  const OPS: [string, (old: bigint, v: bigint, bits: number) => bigint][] = [
    ['add', (o, v, n) => uint(o + v, n)],
    ['clr', (o, v, n) => o & ~v & mask(n)],
    ['eor', (o, v) => o ^ v],
    ['set', (o, v) => o | v],
    ['smax', (o, v, n) => (sint(o, n) > sint(v, n) ? o : v)],
    ['smin', (o, v, n) => (sint(o, n) < sint(v, n) ? o : v)],
    ['umax', (o, v) => (o > v ? o : v)],
    ['umin', (o, v) => (o < v ? o : v)],
  ];
  const next = prng(91n);
  const operands = [0n, 1n, 0x80n, 0x7fn, 0x8000n, 0x7fff_ffffn, 0x8000_0000n, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn, next(), next(), next()];

  function checkAtomic(mn: string, s: (typeof SIZES)[number], fn: (o: bigint, v: bigint, n: number) => bigint, store: boolean): void {
    const bits = s.bytes * 8;
    for (const v of operands) {
      const src = store ? `${mn} ${s.reg}1, [x3]` : `${mn} ${s.reg}1, ${s.reg}2, [x3]`;
      const res = runProgram(src, { x: { 1: v | 0xabcd_0000_0000_0000n * (s.bytes < 8 ? 1n : 0n), 2: 0x5555_5555_5555_5555n, 3: addr }, data: DATA });
      expect(res.exit.reason).toBe('breakpoint');
      const old = readLE(DATA, 0x200, s.bytes);
      const operand = uint(v, bits);
      const got = readLE(res.vm.readPhysical(Number(addr), 16), 0, 16);
      const want = (readLE(DATA, 0x200, 16) & ~mask(bits)) | fn(old, operand, bits);
      expect(hex(got), `${src} with ${hex(operand)} on ${hex(old)}`).toBe(hex(want));
      if (!store) expect(hex(res.cpu.getX(2)), `${src} returns the old value`).toBe(hex(old));
      expect(res.cpu.getX(3)).toBe(addr);
    }
  }

  for (const [op, fn] of OPS) {
    it(`LD${op.toUpperCase()} and ST${op.toUpperCase()}, every size and ordering`, () => {
      for (const s of SIZES) {
        for (const ord of ['', 'a', 'l', 'al']) checkAtomic(`ld${op}${ord}${s.suffix}`, s, fn, false);
        for (const ord of ['', 'l']) checkAtomic(`st${op}${ord}${s.suffix}`, s, fn, true);
      }
    });
  }

  it('SWP, every size and ordering', () => {
    for (const s of SIZES) for (const ord of ['', 'a', 'l', 'al']) checkAtomic(`swp${ord}${s.suffix}`, s, (_o, v) => v, false);
  });

  it('CAS succeeds when memory matches and fails otherwise, returning the old value', () => {
    for (const s of SIZES) {
      const bits = s.bytes * 8;
      const old = readLE(DATA, 0x200, s.bytes);
      for (const ord of ['', 'a', 'l', 'al']) {
        const mn = `cas${ord}${s.suffix}`;
        for (const match of [true, false]) {
          // Garbage above the access size in Rs must not spoil the comparison.
          const expected = (match ? old : uint(old + 1n, bits)) | (s.bytes < 4 ? 0xff00_0000n : 0n) | (s.bytes === 4 ? 0xffff_0000_0000_0000n : 0n);
          const res = runProgram(`${mn} ${s.reg}1, ${s.reg}2, [x3]`, { x: { 1: expected, 2: 0x1234_5678_9abc_def0n, 3: addr }, data: DATA });
          const got = readLE(res.vm.readPhysical(Number(addr), 16), 0, 16);
          const want = match ? (readLE(DATA, 0x200, 16) & ~mask(bits)) | uint(0x1234_5678_9abc_def0n, bits) : readLE(DATA, 0x200, 16);
          expect(hex(got), `${mn} match=${match}`).toBe(hex(want));
          expect(hex(res.cpu.getX(1)), `${mn} returns the old value`).toBe(hex(old));
        }
      }
    }
  });

  it('CASP with W and X pairs, success and failure', () => {
    for (const r of ['w', 'x'] as const) {
      const n = r === 'x' ? 8 : 4;
      const a = readLE(DATA, 0x200, n), b = readLE(DATA, 0x200 + n, n);
      for (const ord of ['', 'a', 'l', 'al']) {
        for (const [e0, e1, ok] of [[a, b, true], [a, uint(b + 1n, 8 * n), false], [uint(a ^ 1n, 8 * n), b, false]] as const) {
          const res = runProgram(`casp${ord} ${r}4, ${r}5, ${r}6, ${r}7, [x3]`, {
            x: { 3: addr, 4: e0, 5: e1, 6: 0x1111_2222_3333_4444n, 7: 0x5555_6666_7777_8888n }, data: DATA,
          });
          const got = readLE(res.vm.readPhysical(Number(addr), 2 * n), 0, 2 * n);
          const nv0 = uint(0x1111_2222_3333_4444n, 8 * n), nv1 = uint(0x5555_6666_7777_8888n, 8 * n);
          const want = ok ? nv0 | (nv1 << BigInt(8 * n)) : a | (b << BigInt(8 * n));
          const what = `casp${ord} ${r} ok=${ok}`;
          expect(hex(got), what).toBe(hex(want));
          expect(hex(res.cpu.getX(4)), what).toBe(hex(a));
          expect(hex(res.cpu.getX(5)), what).toBe(hex(b));
        }
      }
    }
  });

  it('atomics need natural alignment', () => {
    for (const [src, a] of [['ldadd x1, x2, [x3]', addr + 4n], ['swph w1, w2, [x3]', addr + 1n], ['cas w1, w2, [x3]', addr + 2n], ['casp x4, x5, x6, x7, [x3]', addr + 8n]] as const) {
      const res = runProgram(withVectors(src), { x: { 3: a }, data: DATA });
      expect(hex(res.cpu.getX(27)), src).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1') & 0xfc00003fn), src).toBe(hex(esr(0x25, 0x21) & 0xfc00003fn));
      expect(hex(res.cpu.sysreg('FAR_EL1')), src).toBe(hex(a));
    }
  });

  it('LDAPR loads like LDAR', () => {
    // ldapr x0, [x1] ; ldapr w2, [x1]
    const cpu = run(inst(0xf8bfc020, 0xb8bfc022), { x: { 1: addr }, data: DATA });
    expect(hex(cpu.getX(0))).toBe(hex(readLE(DATA, 0x200, 8)));
    expect(hex(cpu.getX(2))).toBe(hex(readLE(DATA, 0x200, 4)));
  });

  it('LSE, CAS, CASP and LDAPR are UNDEFINED on cortex-a57 (no LSE, no LRCPC)', () => {
    for (const src of ['ldadd x1, x2, [x3]', 'stset w1, [x3]', 'swpb w1, w2, [x3]', 'cas x1, x2, [x3]', 'casp x4, x5, x6, x7, [x3]', inst(0xf8bfc020)]) {
      const res = runProgram(withVectors(src), { x: { 3: addr, 1: addr }, data: DATA, cpu: 'cortex-a57' });
      expect(hex(res.cpu.getX(27)), src).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1')), src).toBe(hex(esr(0)));
      // Nothing was written.
      expect(Array.from(res.vm.readPhysical(Number(addr), 16))).toEqual(Array.from(DATA.slice(0x200, 0x210)));
    }
    const ok = run('ldxr x0, [x3]\ncrc32b w1, w1, w2', { x: { 3: addr }, data: DATA, cpu: 'cortex-a57' });
    expect(hex(ok.getX(0))).toBe(hex(readLE(DATA, 0x200, 8)));
  });

  it('an atomic from EL0 faults like any other access (lower-EL vector)', () => {
    const res = runProgram(withVectors(`
      adr x0, el0
      msr elr_el1, x0
      msr spsr_el1, xzr
      eret
    el0:
      ldadd x1, x2, [x3]
    `), { x: { 3: addr + 1n }, data: DATA });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1') >> 26n)).toBe('0x24');
  });
});
