// Hints, barriers, unprivileged and prefetch accesses, self-modifying code
// with the architectural maintenance sequence, MMIO through loads and
// stores, and instruction/data aborts on addresses with nothing behind them.
import { describe, expect, it } from 'vitest';
import { CODE_BASE, DATA_BASE, run, runProgram } from './cpu-harness.js';
import { esr, inst, VEC_CUR_SPX, VEC_LOWER_A64, withVectors } from './helpers.js';
import { hex } from './reference.js';
import { assembleOne } from '../asm/a64-assembler.js';

const NONE = hex(0xffff_ffff_ffff_ffffn);
const UART = 0x0900_0000n;
/** Above the 16 MiB of RAM the harness gives the machine, and below any device. */
const HOLE = 0x5000_0000n;

describe('hints and barriers', () => {
  it('NOP, YIELD, SEV, SEVL, pointer-authentication and BTI hints, barriers, CLREX all fall through', () => {
    const cpu = run(`
      nop
      yield
      sev
      sevl
      wfe
      paciasp
      autiasp
      bti c
      esb
      csdb
      hint #0x7f
      dmb ish
      dmb ishld
      dsb sy
      dsb nsh
      ssbb
      pssbb
      isb
      clrex
      mov x0, #1
    `);
    expect(cpu.getX(0)).toBe(1n);
  });

  it('MSR DAIFSet at EL0 without SCTLR_EL1.UMA traps with the immediate form syndrome', () => {
    const res = runProgram(withVectors(`
      adr x0, el0
      msr elr_el1, x0
      msr spsr_el1, xzr
      eret
    el0:
      msr daifset, #3
    `));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    // Op0=0, Op2=6, Op1=3, CRn=4, Rt=31, CRm=3, write.
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x18, (6 << 17) | (3 << 14) | (4 << 10) | (31 << 5) | (3 << 1))));
  });

  it('SB and unimplemented PSTATE fields (UAO, PAN, DIT, SSBS, TCO) are UNDEFINED', () => {
    for (const body of ['sb', 'msr uao, #1', 'msr pan, #1', 'msr dit, #1', 'msr ssbs, #1', 'msr tco, #1']) {
      const res = runProgram(withVectors(body));
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0)));
    }
  });
});

describe('unprivileged and prefetch accesses', () => {
  it('LDTR/STTR access memory like LDUR/STUR with the MMU off', () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => i + 0x80);
    const res = runProgram(`
      ldtr x0, [x1, #8]
      ldtrsb x2, [x1, #-1]
      ldtrh w3, [x1, #2]
      sttr w4, [x1, #16]
      sttrb w4, [x1, #-2]
    `, { x: { 1: DATA_BASE + 8n, 4: 0x1122_3344n }, data });
    const cpu = res.cpu;
    expect(hex(cpu.getX(0))).toBe(hex(0x9796_9594_9392_9190n));
    expect(hex(cpu.getX(2))).toBe(hex(0xffff_ffff_ffff_ff87n));
    expect(hex(cpu.getX(3))).toBe(hex(0x8b8an));
    const mem = res.vm.readPhysical(Number(DATA_BASE), 32);
    expect(Array.from(mem.slice(24, 28))).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(mem[6]).toBe(0x44);
  });

  it('PRFM and PRFUM never fault, whatever the address', () => {
    const res = runProgram(withVectors(`
      prfm pldl1keep, [x1]
      prfm pstl2strm, [x1, #8]
      prfm pldl1keep, [x1, x2]
      prfum pldl3keep, [x1, #-3]
      prfm plil1keep, [x3]
      mov x9, #9
    `), { x: { 1: HOLE + 3n, 2: 8n, 3: 0xffff_0000_0000_0000n } });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(res.cpu.getX(9)).toBe(9n);
  });
});

describe('self-modifying code', () => {
  it('a store to already-executed code, then DC CVAU / IC IVAU / ISB, runs the new instruction', () => {
    const newWord = assembleOne('mov x0, #2');
    const res = runProgram(`
      mov x5, #0
    again:
    patch:
      mov x0, #1
      add x5, x5, x0
      cbnz x6, done
      mov x6, #1
      adr x2, patch
      str w1, [x2]
      dc cvau, x2
      dsb ish
      ic ivau, x2
      dsb ish
      isb
      b again
    done:
    `, { x: { 1: BigInt(newWord) } });
    // First pass added 1, second pass (patched) added 2.
    expect(res.cpu.getX(5)).toBe(3n);
    expect(res.cpu.getX(0)).toBe(2n);
  });

  it('code copied into a fresh page runs after IC IALLU + ISB', () => {
    const words = [assembleOne('mov x0, #42'), assembleOne('ret')];
    const res = runProgram(`
      str w1, [x3]
      str w2, [x3, #4]
      ic iallu
      dsb ish
      isb
      blr x3
      mov x1, x0
    `, { x: { 1: BigInt(words[0]), 2: BigInt(words[1]), 3: DATA_BASE + 0x2000n } });
    expect(res.cpu.getX(1)).toBe(42n);
  });
});

describe('devices and holes in the physical address space', () => {
  it('a store to the PL011 data register reaches the UART', () => {
    const res = runProgram('mov w0, #0x41\nstrb w0, [x1]\nmov w0, #0x42\nstr w0, [x1]', { x: { 1: UART } });
    expect(res.serial).toBe('AB');
  });

  it('a load from a hole is a synchronous external abort (DFSC 0x10) with FAR', () => {
    const res = runProgram(withVectors('fault:\n  ldr x0, [x1]'), { x: { 1: HOLE + 8n } });
    const cpu = res.cpu;
    expect(hex(cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(cpu.sysreg('ESR_EL1') >> 26n)).toBe('0x25');
    expect(hex(cpu.sysreg('ESR_EL1') & 0x3fn)).toBe('0x10');
    expect(hex(cpu.sysreg('FAR_EL1'))).toBe(hex(HOLE + 8n));
    expect(hex(cpu.sysreg('ELR_EL1'))).toBe(hex(res.labels.get('fault')!));
  });

  it('a store to a hole reports WnR', () => {
    const res = runProgram(withVectors('str x0, [x1]'), { x: { 1: HOLE } });
    expect(hex(res.cpu.sysreg('ESR_EL1') & 0x7fn)).toBe('0x50');
  });

  it('an address above the 48-bit physical range is an address size fault (level 0)', () => {
    const res = runProgram(withVectors('ldr x0, [x1]'), { x: { 1: 0x0001_0000_4000_0000n } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x25, 0x00)));
    expect(hex(res.cpu.sysreg('FAR_EL1'))).toBe(hex(0x0001_0000_4000_0000n));
  });

  it('a branch into a hole is an instruction abort (EC 0x21) at the target', () => {
    const res = runProgram(withVectors('br x1'), { x: { 1: HOLE } });
    const cpu = res.cpu;
    expect(hex(cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(cpu.sysreg('ESR_EL1') >> 26n)).toBe('0x21');
    expect(hex(cpu.sysreg('ESR_EL1') & 0x3fn)).toBe('0x10');
    expect(hex(cpu.sysreg('ELR_EL1'))).toBe(hex(HOLE));
    expect(hex(cpu.sysreg('FAR_EL1'))).toBe(hex(HOLE));
  });

  it('from EL0 the aborts use the lower-EL classes 0x20 and 0x24', () => {
    const toEl0 = `
      adr x0, el0
      msr elr_el1, x0
      msr spsr_el1, xzr
      eret
    el0:`;
    let res = runProgram(withVectors(`${toEl0}\n  ldr x0, [x1]`), { x: { 1: HOLE } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1') >> 26n)).toBe('0x24');
    res = runProgram(withVectors(`${toEl0}\n  br x1`), { x: { 1: HOLE } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1') >> 26n)).toBe('0x20');
  });

  it('code runs across a 4 KiB page boundary', () => {
    const res = runProgram(`
      b 1f
      .balign 4096
      .space 4088
    1:
      mov x0, #1
      mov x1, #2
      mov x2, #3
    `);
    expect([res.cpu.getX(0), res.cpu.getX(1), res.cpu.getX(2)]).toEqual([1n, 2n, 3n]);
    expect(res.labels.get('end')! > CODE_BASE + 0x2000n).toBe(true);
  });

  it('an exception syndrome for an instruction word not in the decode table is EC 0 even at a page end', () => {
    const res = runProgram(withVectors(`
      b 1f
      .balign 4096
      .space 4092
    1:
      ${inst(0x00010000).trim()}
    `));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
  });
});
