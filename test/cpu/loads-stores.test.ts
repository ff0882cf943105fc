// Loads and stores: every size and sign extension in every addressing mode
// (unsigned offset, unscaled, pre/post-index, register offset with extends,
// literal), pairs, SP-based accesses and the SP and data alignment faults.
import { describe, expect, it } from 'vitest';
import { CODE_BASE, DATA_BASE, run, runProgram } from './cpu-harness.js';
import { esr, inst, VEC_CUR_SPX, withVectors } from './helpers.js';
import { hex, sint, uint } from './reference.js';

const DATA_SIZE = 0x10000;
/** Every byte different and half of them with the sign bit set. */
const DATA = Uint8Array.from({ length: DATA_SIZE }, (_, i) => (i * 37 + 0x81 + (i >> 8)) & 0xff);

function readLE(mem: Uint8Array, off: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(mem[off + i]);
  return v;
}

function writeLE(mem: Uint8Array, off: number, n: number, v: bigint): void {
  for (let i = 0; i < n; i++) mem[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

interface LoadKind {
  mn: string;
  /** The unscaled mnemonic. */
  umn: string;
  reg: 'w' | 'x';
  bytes: number;
  signed: boolean;
}

const LOADS: LoadKind[] = [
  { mn: 'ldrb', umn: 'ldurb', reg: 'w', bytes: 1, signed: false },
  { mn: 'ldrsb', umn: 'ldursb', reg: 'w', bytes: 1, signed: true },
  { mn: 'ldrsb', umn: 'ldursb', reg: 'x', bytes: 1, signed: true },
  { mn: 'ldrh', umn: 'ldurh', reg: 'w', bytes: 2, signed: false },
  { mn: 'ldrsh', umn: 'ldursh', reg: 'w', bytes: 2, signed: true },
  { mn: 'ldrsh', umn: 'ldursh', reg: 'x', bytes: 2, signed: true },
  { mn: 'ldr', umn: 'ldur', reg: 'w', bytes: 4, signed: false },
  { mn: 'ldrsw', umn: 'ldursw', reg: 'x', bytes: 4, signed: true },
  { mn: 'ldr', umn: 'ldur', reg: 'x', bytes: 8, signed: false },
];

function expectedLoad(k: LoadKind, address: bigint, mem: Uint8Array = DATA): bigint {
  const raw = readLE(mem, Number(address - DATA_BASE), k.bytes);
  const bits = k.reg === 'x' ? 64 : 32;
  return k.signed ? uint(sint(raw, 8 * k.bytes), bits) : raw;
}

const STORES: { mn: string; umn: string; reg: 'w' | 'x'; bytes: number }[] = [
  { mn: 'strb', umn: 'sturb', reg: 'w', bytes: 1 },
  { mn: 'strh', umn: 'sturh', reg: 'w', bytes: 2 },
  { mn: 'str', umn: 'stur', reg: 'w', bytes: 4 },
  { mn: 'str', umn: 'stur', reg: 'x', bytes: 8 },
];

const STORE_VALUE = 0xf1e2_d3c4_b5a6_9788n;

describe('loads', () => {
  const base = DATA_BASE + 0x1000n;

  it('unsigned offset, every size and extension, up to the largest offset', () => {
    for (const k of LOADS) {
      for (const idx of [0, 1, 3, 4095]) {
        const off = idx * k.bytes;
        const cpu = run(`${k.mn} ${k.reg}0, [x1, #${off}]`, { x: { 0: 0x5555_5555_5555_5555n, 1: base }, data: DATA });
        expect(hex(cpu.getX(0)), `${k.mn} ${k.reg}0, [x1, #${off}]`).toBe(hex(expectedLoad(k, base + BigInt(off))));
      }
    }
  });

  it('unscaled offsets from -256 to 255, including misaligned ones', () => {
    for (const k of LOADS) {
      for (const off of [-256, -255, -7, -1, 0, 1, 3, 5, 255]) {
        const cpu = run(`${k.umn} ${k.reg}0, [x1, #${off}]`, { x: { 1: base }, data: DATA });
        expect(hex(cpu.getX(0)), `${k.umn} ${k.reg}0, [x1, #${off}]`).toBe(hex(expectedLoad(k, base + BigInt(off))));
        expect(cpu.getX(1)).toBe(base);
      }
    }
  });

  it('pre-index and post-index write the base back', () => {
    for (const k of LOADS) {
      for (const off of [-256, -8, 0, 1, 8, 255]) {
        let cpu = run(`${k.mn} ${k.reg}0, [x1, #${off}]!`, { x: { 1: base }, data: DATA });
        const what = `${k.mn} ${k.reg}0 #${off}`;
        expect(hex(cpu.getX(0)), `${what} pre`).toBe(hex(expectedLoad(k, base + BigInt(off))));
        expect(hex(cpu.getX(1)), `${what} pre wb`).toBe(hex(base + BigInt(off)));
        cpu = run(`${k.mn} ${k.reg}0, [x1], #${off}`, { x: { 1: base }, data: DATA });
        expect(hex(cpu.getX(0)), `${what} post`).toBe(hex(expectedLoad(k, base)));
        expect(hex(cpu.getX(1)), `${what} post wb`).toBe(hex(base + BigInt(off)));
      }
    }
  });

  it('register offset with LSL, UXTW, SXTW and SXTX, scaled and not', () => {
    for (const k of LOADS) {
      const scale = Math.log2(k.bytes);
      const shifts = scale === 0 ? [''] : ['', ` #${scale}`];
      for (const sh of shifts) {
        const s = sh === '' ? 0n : BigInt(scale);
        // Index values: small positive, negative, and one with junk above bit 31
        // that UXTW/SXTW must ignore.
        const cases: [string, bigint, bigint][] = [
          [`x2${sh === '' ? '' : `, lsl${sh}`}`, 24n, 24n],
          [`x2${sh === '' ? '' : `, lsl${sh}`}`, uint(-16n, 64), -16n],
          [`w2, uxtw${sh}`, 0xffff_ffff_0000_0028n, 0x28n],
          [`w2, sxtw${sh}`, 0x1234_5678_ffff_fff0n, -16n],
          [`w2, sxtw${sh}`, 0xffff_ffff_0000_0010n, 16n],
          [`x2, sxtx${sh}`, uint(-24n, 64), -24n],
        ];
        for (const [operand, x2, index] of cases) {
          const src = `${k.mn} ${k.reg}0, [x1, ${operand}]`;
          const cpu = run(src, { x: { 1: base, 2: x2 }, data: DATA });
          expect(hex(cpu.getX(0)), `${src} x2=${hex(x2)}`).toBe(hex(expectedLoad(k, base + (index << s))));
        }
      }
    }
  });

  it('loads into XZR are discarded and a base of SP is allowed', () => {
    const sp = DATA_BASE + 0x2000n;
    const cpu = run('ldr xzr, [x1]\nldr x3, [sp, #8]\nldrb w4, [sp], #16\nmov x5, sp', { x: { 1: base }, data: DATA, sp });
    expect(hex(cpu.getX(3))).toBe(hex(readLE(DATA, 0x2008, 8)));
    expect(hex(cpu.getX(4))).toBe(hex(readLE(DATA, 0x2000, 1)));
    expect(hex(cpu.getX(5))).toBe(hex(sp + 16n));
  });
});

describe('literal loads', () => {
  it('LDR W/X, LDRSW and PRFM from labels before and after', () => {
    const res = runProgram(`
      b 1f
    lit_before:
      .quad 0x8877665544332211
    1:
      ldr x0, lit_before
      ldr w1, lit_after
      ldrsw x2, lit_after
      ldr x3, lit_after
      prfm pldl1keep, lit_after
      b 2f
      .balign 8
    lit_after:
      .word 0x89abcdef
      .word 0x01234567
    2:
    `);
    const cpu = res.cpu;
    expect(hex(cpu.getX(0))).toBe('0x8877665544332211');
    expect(hex(cpu.getX(1))).toBe('0x89abcdef');
    expect(hex(cpu.getX(2))).toBe('0xffffffff89abcdef');
    expect(hex(cpu.getX(3))).toBe('0x123456789abcdef');
  });

  it('reaches 1 MiB forward', () => {
    // ldr x0, <pc + 0xffffc> from CODE_BASE+4 lands on DATA_BASE.
    const word = (0x58000000 | (0x3ffff << 5) | 0) >>> 0;
    const cpu = run(`nop\n${inst(word)}`, { data: DATA });
    expect(CODE_BASE + 4n + 0xffffcn).toBe(DATA_BASE);
    expect(hex(cpu.getX(0))).toBe(hex(readLE(DATA, 0, 8)));
  });
});

describe('stores', () => {
  const base = DATA_BASE + 0x1000n;

  function storeCase(src: string, x: Record<number, bigint>, address: bigint, bytes: number, sp?: bigint): void {
    const res = runProgram(src, { x: { 0: STORE_VALUE, ...x }, data: DATA, sp });
    expect(res.exit.reason).toBe('breakpoint');
    const want = DATA.slice();
    writeLE(want, Number(address - DATA_BASE), bytes, STORE_VALUE);
    const got = res.vm.readPhysical(Number(DATA_BASE), DATA_SIZE);
    const off = Number(address - DATA_BASE);
    // Compare a window around the store: nothing outside the access may change.
    expect(Array.from(got.slice(off - 16, off + 24)), src).toEqual(Array.from(want.slice(off - 16, off + 24)));
  }

  it('unsigned offset and unscaled, every size', () => {
    for (const s of STORES) {
      for (const idx of [0, 1, 4095]) storeCase(`${s.mn} ${s.reg}0, [x1, #${idx * s.bytes}]`, { 1: base }, base + BigInt(idx * s.bytes), s.bytes);
      for (const off of [-256, -3, 0, 1, 7, 255]) storeCase(`${s.umn} ${s.reg}0, [x1, #${off}]`, { 1: base }, base + BigInt(off), s.bytes);
    }
  });

  it('pre-index and post-index', () => {
    for (const s of STORES) {
      for (const off of [-256, -8, 8, 255]) {
        storeCase(`${s.mn} ${s.reg}0, [x1, #${off}]!\nmov x9, x1`, { 1: base }, base + BigInt(off), s.bytes);
        storeCase(`${s.mn} ${s.reg}0, [x1], #${off}`, { 1: base }, base, s.bytes);
        const pre = run(`${s.mn} ${s.reg}0, [x1, #${off}]!`, { x: { 1: base } });
        expect(pre.getX(1)).toBe(base + BigInt(off));
        const post = run(`${s.mn} ${s.reg}0, [x1], #${off}`, { x: { 1: base } });
        expect(post.getX(1)).toBe(base + BigInt(off));
      }
    }
  });

  it('register offset with extends', () => {
    for (const s of STORES) {
      const scale = Math.log2(s.bytes);
      const sh = scale === 0 ? '' : ` #${scale}`;
      storeCase(`${s.mn} ${s.reg}0, [x1, x2]`, { 1: base, 2: uint(-40n, 64) }, base - 40n, s.bytes);
      storeCase(`${s.mn} ${s.reg}0, [x1, w2, uxtw${sh}]`, { 1: base, 2: 0xffff_ffff_0000_0003n }, base + (3n << BigInt(scale)), s.bytes);
      storeCase(`${s.mn} ${s.reg}0, [x1, w2, sxtw${sh}]`, { 1: base, 2: 0xffff_fffdn }, base - (3n << BigInt(scale)), s.bytes);
      if (scale > 0) storeCase(`${s.mn} ${s.reg}0, [x1, x2, lsl${sh}]`, { 1: base, 2: 5n }, base + (5n << BigInt(scale)), s.bytes);
    }
  });

  it('stores of XZR write zeros; SP as a base', () => {
    const res = runProgram('str xzr, [x1]\nstrh wzr, [sp, #-2]!\nmov x3, sp', { x: { 1: base }, data: DATA, sp: DATA_BASE + 0x3000n });
    expect(readLE(res.vm.readPhysical(Number(base), 8), 0, 8)).toBe(0n);
    expect(hex(res.cpu.getX(3))).toBe(hex(DATA_BASE + 0x3000n - 2n));
    expect(readLE(res.vm.readPhysical(Number(DATA_BASE) + 0x3000 - 2, 4), 0, 4)).toBe(readLE(DATA, 0x3000, 2) << 16n);
  });

  it('a store with writeback of its own base register stores the old base (pre-index, Rt != Rn)', () => {
    const res = runProgram('str x1, [x2, #8]!', { x: { 1: 0x1122n, 2: base }, data: DATA });
    expect(readLE(res.vm.readPhysical(Number(base) + 8, 8), 0, 8)).toBe(0x1122n);
    expect(res.cpu.getX(2)).toBe(base + 8n);
  });
});

describe('load/store pair', () => {
  const base = DATA_BASE + 0x1000n;

  it('LDP/LDNP W and X, LDPSW, signed offset / pre / post', () => {
    const kinds: [string, 'w' | 'x', number, boolean][] = [['ldp', 'w', 4, false], ['ldp', 'x', 8, false], ['ldpsw', 'x', 4, true], ['ldnp', 'w', 4, false], ['ldnp', 'x', 8, false]];
    for (const [mn, r, n, signed] of kinds) {
      const idxs = [-64, -1, 0, 1, 63];
      for (const i of idxs) {
        const off = i * n;
        const modes: [string, bigint, bigint][] = [[`[x1, #${off}]`, base + BigInt(off), base]];
        if (mn !== 'ldnp') {
          modes.push([`[x1, #${off}]!`, base + BigInt(off), base + BigInt(off)]);
          modes.push([`[x1], #${off}`, base, base + BigInt(off)]);
        }
        for (const [addr, at, wb] of modes) {
          const src = `${mn} ${r}2, ${r}3, ${addr}`;
          const cpu = run(src, { x: { 1: base }, data: DATA });
          const o = Number(at - DATA_BASE);
          const conv = (v: bigint) => (signed ? uint(sint(v, 32), 64) : v);
          expect(hex(cpu.getX(2)), src).toBe(hex(conv(readLE(DATA, o, n))));
          expect(hex(cpu.getX(3)), src).toBe(hex(conv(readLE(DATA, o + n, n))));
          expect(hex(cpu.getX(1)), `${src} base`).toBe(hex(wb));
        }
      }
    }
  });

  it('STP/STNP W and X, every index mode', () => {
    const kinds: [string, 'w' | 'x', number][] = [['stp', 'w', 4], ['stp', 'x', 8], ['stnp', 'w', 4], ['stnp', 'x', 8]];
    const v1 = 0x0102_0304_0506_0708n, v2 = 0xf1f2_f3f4_f5f6_f7f8n;
    for (const [mn, r, n] of kinds) {
      for (const i of [-64, -3, 0, 63]) {
        const off = i * n;
        const modes: [string, bigint, bigint][] = [[`[x1, #${off}]`, base + BigInt(off), base]];
        if (mn === 'stp') {
          modes.push([`[x1, #${off}]!`, base + BigInt(off), base + BigInt(off)]);
          modes.push([`[x1], #${off}`, base, base + BigInt(off)]);
        }
        for (const [addr, at, wb] of modes) {
          const src = `${mn} ${r}2, ${r}3, ${addr}`;
          const res = runProgram(src, { x: { 1: base, 2: v1, 3: v2 }, data: DATA });
          const want = DATA.slice();
          const o = Number(at - DATA_BASE);
          writeLE(want, o, n, v1);
          writeLE(want, o + n, n, v2);
          const got = res.vm.readPhysical(Number(DATA_BASE), DATA_SIZE);
          expect(Array.from(got.slice(o - 8, o + 2 * n + 8)), src).toEqual(Array.from(want.slice(o - 8, o + 2 * n + 8)));
          expect(hex(res.cpu.getX(1)), `${src} base`).toBe(hex(wb));
        }
      }
    }
  });

  it('the classic frame push and pop through SP', () => {
    const cpu = run(`
      stp x29, x30, [sp, #-32]!
      mov x29, sp
      stp x19, x20, [sp, #16]
      mov x19, #0
      mov x20, #0
      ldp x19, x20, [sp, #16]
      ldp x29, x30, [sp], #32
    `, { x: { 19: 19n, 20: 20n, 29: 29n, 30: 30n }, sp: DATA_BASE + 0x4000n });
    expect([cpu.getX(19), cpu.getX(20), cpu.getX(29), cpu.getX(30)]).toEqual([19n, 20n, 29n, 30n]);
    expect(hex(cpu.sp)).toBe(hex(DATA_BASE + 0x4000n));
  });

  it('LDPSW without writeback-free non-temporal form and opc=11 are unallocated', () => {
    // "ldnpsw" (opc=01, idx=00, L=1) and opc=11.
    for (const w of [0x68400422, 0xe9400422]) {
      const cpu = run(withVectors(inst(w)), { x: { 1: base } });
      expect(hex(cpu.getX(27)), hex(w)).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
    }
  });
});

describe('SP alignment checking', () => {
  const SCTLR_SA = 1n << 3n;

  it('an SP-based access with a misaligned SP faults when SCTLR_EL1.SA is set', () => {
    const sp = DATA_BASE + 0x2008n;
    for (const src of ['ldr x0, [sp]', 'str x0, [sp, #8]', 'ldp x0, x1, [sp]', 'ldrb w0, [sp], #1', 'ldur x0, [sp, #-8]', 'ldr x0, [sp, x2]']) {
      const res = runProgram(withVectors(`
      fault:
        ${src}
      `), { sp, data: DATA, x: { 2: 8n }, prepare: (c) => c.setSysreg('SCTLR_EL1', c.sysreg('SCTLR_EL1') | SCTLR_SA) });
      const cpu = res.cpu;
      expect(hex(cpu.getX(27)), src).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1')), src).toBe(hex(esr(0x26)));
      expect(hex(cpu.sysreg('ELR_EL1')), src).toBe(hex(res.labels.get('fault')!));
    }
  });

  it('no fault with SCTLR_EL1.SA clear, nor for non-SP bases, nor with SP aligned', () => {
    const misaligned = DATA_BASE + 0x2008n;
    let cpu = run(withVectors('ldr x0, [sp]\nmov x1, sp\nldr x2, [x1]'), {
      sp: misaligned, data: DATA, prepare: (c) => c.setSysreg('SCTLR_EL1', c.sysreg('SCTLR_EL1') & ~SCTLR_SA),
    });
    expect(hex(cpu.getX(27))).toBe(hex(0xffff_ffff_ffff_ffffn));
    expect(hex(cpu.getX(0))).toBe(hex(readLE(DATA, 0x2008, 8)));
    cpu = run(withVectors('mov x1, sp\nldr x2, [x1]\nadd sp, sp, #8\nldr x3, [sp]'), {
      sp: misaligned, data: DATA, prepare: (c) => c.setSysreg('SCTLR_EL1', c.sysreg('SCTLR_EL1') | SCTLR_SA),
    });
    expect(hex(cpu.getX(27))).toBe(hex(0xffff_ffff_ffff_ffffn));
    expect(hex(cpu.getX(3))).toBe(hex(readLE(DATA, 0x2010, 8)));
  });
});

describe('data alignment checking', () => {
  const SCTLR_A = 1n << 1n;

  it('misaligned accesses succeed with SCTLR_EL1.A clear, including pairs', () => {
    const base = DATA_BASE + 0x1001n;
    const cpu = run('ldr x0, [x1]\nldr w2, [x1, #2]\nldrh w3, [x1]\nldp x4, x5, [x1, #8]', { x: { 1: base }, data: DATA });
    expect(hex(cpu.getX(0))).toBe(hex(readLE(DATA, 0x1001, 8)));
    expect(hex(cpu.getX(2))).toBe(hex(readLE(DATA, 0x1003, 4)));
    expect(hex(cpu.getX(3))).toBe(hex(readLE(DATA, 0x1001, 2)));
    expect(hex(cpu.getX(4))).toBe(hex(readLE(DATA, 0x1009, 8)));
    expect(hex(cpu.getX(5))).toBe(hex(readLE(DATA, 0x1011, 8)));
  });

  it('with SCTLR_EL1.A set, a misaligned load or store is an alignment fault (DFSC 0x21, WnR, FAR)', () => {
    const cases: [string, bigint, bigint, boolean][] = [
      ['ldr x0, [x1]', DATA_BASE + 0x1004n, DATA_BASE + 0x1004n, false],
      ['ldrh w0, [x1, #1]', DATA_BASE + 0x1000n, DATA_BASE + 0x1001n, false],
      ['str w0, [x1, #2]', DATA_BASE + 0x1000n, DATA_BASE + 0x1002n, true],
      ['stp x2, x3, [x1, #8]', DATA_BASE + 0x1004n, DATA_BASE + 0x100cn, true],
      ['ldp w2, w3, [x1]', DATA_BASE + 0x1002n, DATA_BASE + 0x1002n, false],
    ];
    for (const [src, base, far, write] of cases) {
      const res = runProgram(withVectors(`
      fault:
        ${src}
      `), { x: { 1: base }, data: DATA, prepare: (c) => c.setSysreg('SCTLR_EL1', c.sysreg('SCTLR_EL1') | SCTLR_A) });
      const cpu = res.cpu;
      expect(hex(cpu.getX(27)), src).toBe(hex(VEC_CUR_SPX));
      expect(hex(cpu.sysreg('ESR_EL1')), src).toBe(hex(esr(0x25, (write ? 1 << 6 : 0) | 0x21)));
      expect(hex(cpu.sysreg('FAR_EL1')), src).toBe(hex(far));
      expect(hex(cpu.sysreg('ELR_EL1')), src).toBe(hex(res.labels.get('fault')!));
    }
    // Byte accesses are always aligned.
    const cpu = run(withVectors('ldrb w0, [x1, #1]'), { x: { 1: DATA_BASE }, data: DATA, prepare: (c) => c.setSysreg('SCTLR_EL1', c.sysreg('SCTLR_EL1') | SCTLR_A) });
    expect(hex(cpu.getX(27))).toBe(hex(0xffff_ffff_ffff_ffffn));
  });

  it('LDAR/STLR require alignment even with SCTLR_EL1.A clear', () => {
    for (const [src, write] of [['ldar x0, [x1]', false], ['stlr w0, [x1]', true], ['ldarh w0, [x1]', false]] as const) {
      const res = runProgram(withVectors(`
      fault:
        ${src}
      `), { x: { 1: DATA_BASE + 0x1001n }, data: DATA });
      expect(hex(res.cpu.getX(27)), src).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1')), src).toBe(hex(esr(0x25, (write ? 1 << 6 : 0) | 0x21)));
    }
    const cpu = run('ldar x0, [x1]\nstlrb w0, [x2]\nldarb w3, [x2]', { x: { 1: DATA_BASE + 0x1008n, 2: DATA_BASE + 0x1003n }, data: DATA });
    expect(hex(cpu.getX(0))).toBe(hex(readLE(DATA, 0x1008, 8)));
    expect(hex(cpu.getX(3))).toBe(hex(readLE(DATA, 0x1008, 1)));
  });

  it('the faulting instruction does not write back its base', () => {
    const res = runProgram(withVectors('ldr x0, [x1, #4]!'), {
      x: { 1: DATA_BASE }, data: DATA, prepare: (c) => c.setSysreg('SCTLR_EL1', c.sysreg('SCTLR_EL1') | SCTLR_A),
    });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(res.cpu.getX(1))).toBe(hex(DATA_BASE));
  });
});
