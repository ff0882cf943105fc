// Branches: B.cond on every condition, B/BL, CBZ/CBNZ, TBZ/TBNZ on high
// bits, BR/BLR/RET, the ends of the immediate ranges, and misaligned targets.
import { describe, expect, it } from 'vitest';
import { CODE_BASE, DATA_BASE, run, runProgram } from './cpu-harness.js';
import { esr, inst, VEC_CUR_SPX, withVectors } from './helpers.js';
import { CONDITION_NAMES, conditionHoldsRef, hex } from './reference.js';

describe('B.cond', () => {
  it('every condition against every NZCV, forwards and backwards', () => {
    for (let cond = 0; cond < 16; cond++) {
      for (let nz = 0; nz < 16; nz++) {
        const nzcv = (nz << 28) >>> 0;
        const c = CONDITION_NAMES[cond];
        const cpu = run(`
          mov x0, #1
          b.${c} 1f
          mov x0, #2
        1:
          mov x1, #1
          b 3f
        2:
          mov x1, #3
          b 4f
        3:
          b.${c} 2b
          mov x1, #2
        4:
        `, { nzcv });
        const holds = conditionHoldsRef(cond, nzcv);
        const what = `b.${c} nzcv=${nz.toString(2).padStart(4, '0')}`;
        expect(cpu.getX(0), what).toBe(holds ? 1n : 2n);
        expect(cpu.getX(1), what).toBe(holds ? 3n : 2n);
        expect(cpu.nzcv).toBe(nzcv);
      }
    }
  });

  it('reaches the ends of its +-1 MiB range', () => {
    // b.eq at CODE_BASE+4 with the largest forward offset lands on DATA_BASE,
    // where a RET waits.
    const ret = new Uint8Array([0xc0, 0x03, 0x5f, 0xd6]);
    const bcondMax = (0x54000000 | (0x3ffff << 5) | 0) >>> 0;
    const res = runProgram(`
      adr x30, back
      ${inst(bcondMax).trim()}
      mov x0, #1
    back:
      mov x1, #1
    `, { data: ret, nzcv: 0x40000000 });
    expect(res.cpu.getX(0)).toBe(0n);
    expect(res.cpu.getX(1)).toBe(1n);
    expect(CODE_BASE + 4n + 0xffffcn).toBe(DATA_BASE);
  });
});

describe('B and BL', () => {
  it('BL links PC+4 and RET returns', () => {
    const res = runProgram(`
      mov x0, #0
      bl f
    after:
      add x0, x0, #1
      b done
    f:
      mov x0, #10
      mov x2, x30
      ret
    done:
    `);
    expect(res.cpu.getX(0)).toBe(11n);
    expect(res.cpu.getX(2)).toBe(res.labels.get('after')!);
    expect(res.cpu.getX(30)).toBe(res.labels.get('after')!);
  });

  it('BL with a large forward offset, and B backwards', () => {
    const ret = new Uint8Array([0xc0, 0x03, 0x5f, 0xd6]);
    // bl DATA_BASE from CODE_BASE: imm26 = 0x100000 / 4.
    const res = runProgram(`
      ${inst(0x94000000 | (0x100000 >> 2)).trim()}
      mov x1, #1
      b 2f
    1:
      mov x3, #3
      b 3f
    2:
      b 1b
    3:
    `, { data: ret });
    expect(res.cpu.getX(30)).toBe(CODE_BASE + 4n);
    expect(res.cpu.getX(1)).toBe(1n);
    expect(res.cpu.getX(3)).toBe(3n);
  });
});

describe('CBZ / CBNZ', () => {
  it('test all 64 bits, or only the low 32', () => {
    const values = [0n, 1n, 0x1_0000_0000n, 0x8000_0000_0000_0000n, 0x8000_0000n, 0xffff_ffff_0000_0000n];
    for (const v of values) {
      const cpu = run(`
        mov x2, #0
        cbz x0, 1f
        orr x2, x2, #1
      1:
        cbnz x0, 2f
        orr x2, x2, #2
      2:
        cbz w0, 3f
        orr x2, x2, #4
      3:
        cbnz w0, 4f
        orr x2, x2, #8
      4:
      `, { x: { 0: v } });
      const x0 = v !== 0n, w0 = (v & 0xffff_ffffn) !== 0n;
      // A bit is set when the branch was NOT taken.
      const want = (x0 ? 1n : 0n) | (x0 ? 0n : 2n) | (w0 ? 4n : 0n) | (w0 ? 0n : 8n);
      expect(cpu.getX(2), hex(v)).toBe(want);
    }
  });
});

describe('TBZ / TBNZ', () => {
  it('every bit position including 31, 32 and 63', () => {
    const values = [0n, 0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0x8000_0000n, 0x1_0000_0000n, 0x5555_5555_aaaa_aaaan];
    for (const v of values) {
      for (let bit = 0; bit < 64; bit++) {
        const r = bit < 32 ? 'w' : 'x';
        const cpu = run(`
          mov x2, #0
          tbz ${r}0, #${bit}, 1f
          orr x2, x2, #1
        1:
          tbnz ${r}0, #${bit}, 2f
          orr x2, x2, #2
        2:
        `, { x: { 0: v } });
        const set = ((v >> BigInt(bit)) & 1n) === 1n;
        expect(cpu.getX(2), `bit ${bit} of ${hex(v)}`).toBe(set ? 1n : 2n);
      }
    }
  });

  it('branches backwards', () => {
    const cpu = run(`
      mov x0, #0
    1:
      add x0, x0, #1
      tbz x0, #3, 1b
    `);
    expect(cpu.getX(0)).toBe(8n);
  });
});

describe('BR, BLR, RET', () => {
  it('BR jumps without linking; BLR links; RET uses X30 or a named register', () => {
    const res = runProgram(`
      adr x1, t1
      mov x30, #0
      br x1
      mov x9, #9
    t1:
      adr x2, t2
      blr x2
    back:
      adr x3, t3
      ret x3
      mov x9, #9
    t2:
      mov x4, x30
      ret
    t3:
      mov x5, #5
    `);
    const cpu = res.cpu;
    expect(cpu.getX(9)).toBe(0n);
    expect(cpu.getX(4)).toBe(res.labels.get('back')!);
    expect(cpu.getX(5)).toBe(5n);
  });

  it('BLR X30 branches to the old X30', () => {
    const res = runProgram(`
      adr x30, target
      blr x30
    after:
      mov x9, #9
    target:
      mov x1, x30
    `);
    expect(res.cpu.getX(9)).toBe(0n);
    expect(res.cpu.getX(1)).toBe(res.labels.get('after')!);
  });

  it('a misaligned branch target takes a PC alignment fault at the target', () => {
    const res = runProgram(withVectors(`
      adr x1, target
      add x1, x1, #2
      br x1
    target:
      nop
    `));
    const cpu = res.cpu;
    const target = res.labels.get('target')! + 2n;
    expect(hex(cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x22)));
    expect(hex(cpu.sysreg('ELR_EL1'))).toBe(hex(target));
    expect(hex(cpu.sysreg('FAR_EL1'))).toBe(hex(target));
  });
});
