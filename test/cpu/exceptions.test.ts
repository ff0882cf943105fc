// Synchronous exceptions and exception return: syndromes, return addresses,
// saved PSTATE and vector offsets for each source EL and stack pointer, ERET
// to EL0 and EL1 (and illegal returns), SP banking, DAIF, and the traps and
// UNDEFINED cases that depend on EL, CPACR_EL1 and the CPU model.
import { describe, expect, it } from 'vitest';
import { CODE_BASE, DATA_BASE, run, runProgram } from './cpu-harness.js';
import { esr, inst, VEC_CUR_SP0, VEC_CUR_SPX, VEC_LOWER_A64, withVectors } from './helpers.js';
import { hex } from './reference.js';

const NONE = hex(0xffff_ffff_ffff_ffffn);
/** PSTATE after reset: EL1h with D, A, I and F masked. */
const EL1H_MASKED = 0x3c5n;

/** Drops to EL0 (SPSR = EL0t, DAIF clear, NZCV from x26) at label `el0`. */
const TO_EL0 = `
  adr x0, el0
  msr elr_el1, x0
  msr spsr_el1, x26
  eret
el0:
`;

describe('exception entry', () => {
  it('SVC from EL1h: EC 0x15, ISS imm16, ELR = next instruction, SPSR = old PSTATE, vector +0x200', () => {
    const res = runProgram(withVectors(`
      msr nzcv, x25
    svc_at:
      svc #0x1234
    `), { x: { 25: 0x6000_0000n } });
    const cpu = res.cpu;
    expect(hex(cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x15, 0x1234)));
    expect(hex(cpu.sysreg('ELR_EL1'))).toBe(hex(res.labels.get('svc_at')! + 4n));
    expect(hex(cpu.sysreg('SPSR_EL1'))).toBe(hex(EL1H_MASKED | 0x6000_0000n));
    // The handler runs at EL1h with every interrupt masked.
    expect(cpu.el).toBe(1);
    expect(hex(BigInt(cpu.pstate & 0x3cf))).toBe(hex(0x3c5n));
  });

  it('BRK: EC 0x3c, ELR = the BRK itself', () => {
    const res = runProgram(withVectors('brk_at:\n  brk #0xbeef'));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x3c, 0xbeef)));
    expect(hex(res.cpu.sysreg('ELR_EL1'))).toBe(hex(res.labels.get('brk_at')!));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
  });

  it('UDF, HLT and unallocated encodings: EC 0, ELR = the instruction', () => {
    for (const body of ['udf #7', 'hlt #1', inst(0x00010000), inst(0xd4a00001) /* dcps1 */, inst(0xd6bf03e0) /* drps */]) {
      const res = runProgram(withVectors(`bad:\n${body}`));
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0)));
      expect(hex(res.cpu.sysreg('ELR_EL1')), body).toBe(hex(res.labels.get('bad')!));
    }
  });

  it('from EL1t (SPSel = 0) the vector is +0x000 and SPSR.M = EL1t', () => {
    const res = runProgram(withVectors(`
      msr spsel, #0
      svc #1
    `));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SP0));
    expect(hex(res.cpu.sysreg('SPSR_EL1') & 0xfn)).toBe('0x4');
    // Exception entry always selects SP_EL1.
    expect(hex(BigInt(res.cpu.pstate & 0xf))).toBe('0x5');
  });

  it('from EL0 the vector is +0x400, SPSR.M = EL0t, and SVC/BRK/UDF report the right syndromes', () => {
    for (const [body, ec, iss, elrOffset] of [['svc #42', 0x15, 42, 4n], ['brk #3', 0x3c, 3, 0n], ['udf #0', 0, 0, 0n]] as const) {
      const res = runProgram(withVectors(`${TO_EL0}\nat:\n  ${body}`), { x: { 26: 0x8000_0000n } });
      const cpu = res.cpu;
      expect(hex(cpu.getX(27)), body).toBe(hex(VEC_LOWER_A64));
      expect(hex(cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(ec, iss)));
      expect(hex(cpu.sysreg('ELR_EL1')), body).toBe(hex(res.labels.get('at')! + elrOffset));
      expect(hex(cpu.sysreg('SPSR_EL1')), body).toBe(hex(0x8000_0000n));
      expect(cpu.el).toBe(1);
    }
  });

  it('a fault inside the handler at EL1h uses the current-EL SPx vector', () => {
    const res = runProgram(withVectors(`${TO_EL0}\n  svc #0`, {
      0x400: '  mov x24, #1\n  udf #0',
    }), { x: { 26: 0n } });
    expect(res.cpu.getX(24)).toBe(1n);
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(res.cpu.sysreg('SPSR_EL1') & 0xfn)).toBe('0x5');
  });
});

describe('exception return', () => {
  it('ERET to EL0 and back with SVC; the handler returns with ERET to the next instruction', () => {
    const res = runProgram(withVectors(`
      mov x26, #0
      ${TO_EL0}
      mov x1, #1
      svc #5
      mov x2, #2
      svc #6
    `, {
      0x400: `
        mrs x10, esr_el1
        and x10, x10, #0xffff
        cmp x10, #6
        b.eq end
        add x3, x3, x10
        eret
      `,
    }));
    const cpu = res.cpu;
    expect(cpu.getX(1)).toBe(1n);
    expect(cpu.getX(2)).toBe(2n);
    expect(cpu.getX(3)).toBe(5n);
    expect(cpu.el).toBe(1);
  });

  it('ERET restores NZCV, DAIF and SPSel from SPSR_EL1 and jumps to ELR_EL1', () => {
    const res = runProgram(withVectors(`
      adr x0, target
      msr elr_el1, x0
      // EL1h with D and I masked, N clear, Z and V set.
      mov x1, #0x285
      movk x1, #0x5000, lsl #16
      msr spsr_el1, x1
      eret
      mov x9, #9
    target:
      mrs x2, nzcv
      mrs x3, daif
      mrs x4, currentel
      mrs x5, spsel
    `));
    const cpu = res.cpu;
    expect(cpu.getX(9)).toBe(0n);
    expect(hex(cpu.getX(2))).toBe('0x50000000');
    expect(hex(cpu.getX(3))).toBe('0x280');
    expect(hex(cpu.getX(4))).toBe('0x4');
    expect(hex(cpu.getX(5))).toBe('0x1');
  });

  it('ERET to EL1t selects SP_EL0', () => {
    const res = runProgram(withVectors(`
      msr spsel, #0
      mov sp, x10
      msr spsel, #1
      adr x0, target
      msr elr_el1, x0
      mov x1, #0x3c4
      msr spsr_el1, x1
      eret
    target:
      mov x2, sp
      mrs x3, spsel
    `), { x: { 10: DATA_BASE + 0x800n } });
    expect(hex(res.cpu.getX(2))).toBe(hex(DATA_BASE + 0x800n));
    expect(res.cpu.getX(3)).toBe(0n);
  });

  it('an illegal return (to EL2) sets PSTATE.IL and the next instruction takes an Illegal State exception', () => {
    const res = runProgram(withVectors(`
      adr x0, target
      msr elr_el1, x0
      mov x1, #0x3c9
      msr spsr_el1, x1
      eret
    target:
      mov x9, #9
    `));
    const cpu = res.cpu;
    expect(cpu.getX(9)).toBe(0n);
    expect(hex(cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x0e)));
    expect(hex(cpu.sysreg('ELR_EL1'))).toBe(hex(res.labels.get('target')!));
    // SPSR_EL1 has IL set and the EL unchanged.
    expect(hex(cpu.sysreg('SPSR_EL1') & ((1n << 20n) | 0xfn))).toBe(hex((1n << 20n) | 5n));
    // Exception entry clears IL.
    expect(cpu.pstate & (1 << 20)).toBe(0);
  });

  it('ERET at EL0 is UNDEFINED', () => {
    const res = runProgram(withVectors(`${TO_EL0}\n  eret`), { x: { 26: 0n } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
  });
});

describe('stack pointer banking', () => {
  it('SPSel switches between SP_EL1 and SP_EL0; MSR/MRS SP_EL0 reach the other bank', () => {
    const cpu = run(`
      mov x1, sp
      msr spsel, #0
      mov sp, x10
      mov x2, sp
      msr spsel, #1
      mov x3, sp
      mrs x4, sp_el0
      msr sp_el0, x11
      msr spsel, #0
      mov x5, sp
      msr spsel, #1
    `, { x: { 10: 0x4080_0000n, 11: 0x4090_0000n }, sp: 0x40f0_0000n });
    expect(hex(cpu.getX(1))).toBe('0x40f00000');
    expect(hex(cpu.getX(2))).toBe('0x40800000');
    expect(hex(cpu.getX(3))).toBe('0x40f00000');
    expect(hex(cpu.getX(4))).toBe('0x40800000');
    expect(hex(cpu.getX(5))).toBe('0x40900000');
    expect(hex(cpu.bankedSp(0))).toBe('0x40900000');
    expect(hex(cpu.bankedSp(1))).toBe('0x40f00000');
  });

  it('EL0 runs on SP_EL0 and an exception from EL0 switches to SP_EL1', () => {
    const res = runProgram(withVectors(`
      msr sp_el0, x10
      mov x26, #0
      ${TO_EL0}
      mov x1, sp
      svc #0
    `, { 0x400: '  mov x2, sp\n  mrs x3, sp_el0\n  b end' }), { x: { 10: 0x4080_0000n }, sp: 0x40f0_0000n });
    const cpu = res.cpu;
    expect(hex(cpu.getX(1))).toBe('0x40800000');
    expect(hex(cpu.getX(2))).toBe('0x40f00000');
    expect(hex(cpu.getX(3))).toBe('0x40800000');
  });

  it('MRS SP_EL0 while SP_EL0 is the current stack pointer is UNDEFINED', () => {
    const res = runProgram(withVectors('msr spsel, #0\n  mrs x0, sp_el0'));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SP0));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
  });

  it('MRS SPSel reads the selection; MSR SPSel from a register', () => {
    const cpu = run('mrs x1, spsel\nmsr spsel, xzr\nmrs x2, spsel\nmov x3, #1\nmsr spsel, x3\nmrs x4, spsel');
    expect([cpu.getX(1), cpu.getX(2), cpu.getX(4)]).toEqual([1n, 0n, 1n]);
  });
});

describe('PSTATE access', () => {
  it('DAIFSet, DAIFClr and MSR/MRS DAIF', () => {
    const cpu = run(`
      msr daifclr, #0xf
      mrs x1, daif
      msr daifset, #0x2
      mrs x2, daif
      msr daifset, #0x9
      mrs x3, daif
      msr daifclr, #0x5
      mrs x4, daif
      msr daif, x10
      mrs x5, daif
    `, { x: { 10: 0xffff_ffff_ffff_ffffn } });
    expect(hex(cpu.getX(1))).toBe('0x0');
    expect(hex(cpu.getX(2))).toBe('0x80');
    expect(hex(cpu.getX(3))).toBe('0x2c0');
    expect(hex(cpu.getX(4))).toBe('0x280');
    expect(hex(cpu.getX(5))).toBe('0x3c0');
  });

  it('MSR/MRS NZCV keep only bits 31:28', () => {
    const cpu = run('msr nzcv, x10\nmrs x1, nzcv', { x: { 10: 0xffff_ffff_ffff_ffffn } });
    expect(hex(cpu.getX(1))).toBe('0xf0000000');
    expect(cpu.nzcv).toBe(0xf0000000);
  });

  it('CurrentEL reads 4 at EL1 and is UNDEFINED at EL0', () => {
    expect(run('mrs x1, currentel').getX(1)).toBe(4n);
    const res = runProgram(withVectors(`${TO_EL0}\n  mrs x1, currentel`), { x: { 26: 0n } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
  });

  it('EL0 access to DAIF traps (EC 0x18) unless SCTLR_EL1.UMA is set; NZCV is always accessible', () => {
    let res = runProgram(withVectors(`${TO_EL0}\n  mrs x1, nzcv\n  mrs x3, daif`), { x: { 26: 0x2000_0000n } });
    expect(hex(res.cpu.getX(1))).toBe('0x20000000');
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    // ISS: Op0=3, Op2=1, Op1=3, CRn=4, Rt=3, CRm=2, direction=read.
    const iss = (3 << 20) | (1 << 17) | (3 << 14) | (4 << 10) | (3 << 5) | (2 << 1) | 1;
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x18, iss)));
    res = runProgram(withVectors(`
      mrs x0, sctlr_el1
      orr x0, x0, #0x200
      msr sctlr_el1, x0
      ${TO_EL0}
      msr daifset, #2
      mrs x3, daif
    `), { x: { 26: 0n } });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(hex(res.cpu.getX(3))).toBe('0x80');
  });

  it('MSR SPSel from EL0 is UNDEFINED', () => {
    const res = runProgram(withVectors(`${TO_EL0}\n  msr spsel, #1`), { x: { 26: 0n } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
  });
});

describe('EL- and feature-dependent UNDEFINED and traps', () => {
  it('HVC and SMC from EL0 are UNDEFINED', () => {
    for (const body of ['hvc #0', 'smc #0']) {
      const res = runProgram(withVectors(`${TO_EL0}\n  ${body}`), { x: { 26: 0n } });
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_LOWER_A64));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0)));
    }
  });

  it('MRS/MSR of EL1 registers from EL0 are UNDEFINED', () => {
    for (const body of ['mrs x1, sctlr_el1', 'msr vbar_el1, x1', 'mrs x1, midr_el1', 'mrs x1, spsr_el1', 'msr tpidr_el1, x1']) {
      const res = runProgram(withVectors(`${TO_EL0}\nat:\n  ${body}`), { x: { 26: 0n } });
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_LOWER_A64));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0)));
      expect(hex(res.cpu.sysreg('ELR_EL1')), body).toBe(hex(res.labels.get('at')!));
    }
  });

  it('EL0 may use TPIDR_EL0 and read TPIDRRO_EL0, but not write TPIDRRO_EL0', () => {
    let res = runProgram(withVectors(`
      msr tpidrro_el0, x12
      ${TO_EL0}
      msr tpidr_el0, x11
      mrs x1, tpidr_el0
      mrs x2, tpidrro_el0
    `), { x: { 26: 0n, 11: 0x1111n, 12: 0x2222n } });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(res.cpu.getX(1)).toBe(0x1111n);
    expect(res.cpu.getX(2)).toBe(0x2222n);
    res = runProgram(withVectors(`${TO_EL0}\n  msr tpidrro_el0, x1`), { x: { 26: 0n } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
  });

  it('an FP instruction traps with EC 0x07 while CPACR_EL1.FPEN = 0, and is UNDEFINED with FPEN = 3', () => {
    // fadd s0, s0, s0 ; and an Advanced SIMD "mov v0.16b, v1.16b".
    for (const word of [0x1e202800, 0x4ea11c20]) {
      let res = runProgram(withVectors(`fp:\n${inst(word)}`), { prepare: (c) => c.setSysreg('CPACR_EL1', 0n) });
      expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe('0x1fe00000');
      expect(hex(res.cpu.sysreg('ELR_EL1'))).toBe(hex(res.labels.get('fp')!));
      res = runProgram(withVectors(`
        mov x0, #0x300000
        msr cpacr_el1, x0
        isb
      fp:
        ${inst(word)}
      `));
      expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
    }
  });

  it('FPEN = 1 traps EL0 but not EL1; FPCR/FPSR accesses follow the same rule', () => {
    let res = runProgram(withVectors(`
      mov x0, #0x100000
      msr cpacr_el1, x0
      mov x26, #0
      ${TO_EL0}
      ${inst(0x1e202800)}
    `));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe('0x1fe00000');
    res = runProgram(withVectors('mrs x1, fpcr'), { prepare: (c) => c.setSysreg('CPACR_EL1', 0n) });
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe('0x1fe00000');
  });

  it('LSE on cortex-a57 is UNDEFINED, while CRC32 works', () => {
    const res = runProgram(withVectors('ldadd x1, x2, [x3]'), { x: { 3: DATA_BASE }, cpu: 'cortex-a57' });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
    expect(run('crc32cx w0, w0, x1', { cpu: 'cortex-a57', x: { 1: 0n } }).getX(0)).toBe(0n);
  });

  it('WFI and WFE from EL0 trap (EC 0x01) when SCTLR_EL1.nTWI/nTWE are clear', () => {
    for (const [body, iss] of [['wfi', 0x1e00000], ['wfe', 0x1e00001]] as const) {
      const res = runProgram(withVectors(`
        mrs x0, sctlr_el1
        bic x0, x0, #0x10000
        bic x0, x0, #0x40000
        msr sctlr_el1, x0
        mov x26, #0
        ${TO_EL0}
        ${body}
      `));
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_LOWER_A64));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0x01, iss)));
    }
  });
});

describe('vector base', () => {
  it('VBAR_EL1 bits 10:0 are RES0 and the vector is VBAR + offset', () => {
    const res = runProgram(withVectors(`
      mrs x1, vbar_el1
      orr x2, x1, #0x7ff
      msr vbar_el1, x2
      mrs x3, vbar_el1
      svc #0
    `));
    expect(hex(res.cpu.getX(3))).toBe(hex(res.cpu.getX(1)));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_CUR_SPX));
    expect(res.cpu.getX(1)).toBe(res.labels.get('vectors')!);
    expect(res.labels.get('vectors')! % 2048n).toBe(0n);
    expect(res.labels.get('vectors')! > CODE_BASE).toBe(true);
  });
});
