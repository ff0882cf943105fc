// MRS/MSR round trips through the system registers, the bits the
// architecture makes writable, EL0 accessibility, the generic timer
// registers, ID registers per CPU model, and the cache/AT/TLBI instructions.
import { describe, expect, it } from 'vitest';
import { DATA_BASE, run, runProgram } from './cpu-harness.js';
import { esr, VEC_CUR_SPX, VEC_LOWER_A64, withVectors } from './helpers.js';
import { hex } from './reference.js';

const NONE = hex(0xffff_ffff_ffff_ffffn);
const ALL = 0xffff_ffff_ffff_ffffn;

const TO_EL0 = `
  adr x0, el0
  msr elr_el1, x0
  msr spsr_el1, xzr
  eret
el0:
`;

describe('MSR/MRS round trips', () => {
  // [register, value written, value read back] from the Arm ARM field
  // definitions (ARMv8.0, no SVE, trace or PAN).
  const cases: [string, bigint, bigint][] = [
    ['tpidr_el0', 0x0123_4567_89ab_cdefn, 0x0123_4567_89ab_cdefn],
    ['tpidr_el1', ALL, ALL],
    ['tpidrro_el0', 0xfedc_ba98_7654_3210n, 0xfedc_ba98_7654_3210n],
    ['elr_el1', 0x8000_0000_0000_0004n, 0x8000_0000_0000_0004n],
    ['far_el1', ALL, ALL],
    ['par_el1', 0x0000_ffff_ffff_f000n, 0x0000_ffff_ffff_f000n],
    ['mair_el1', 0x0040_44ff_0c08_0400n, 0x0040_44ff_0c08_0400n],
    ['ttbr0_el1', 0x0001_0000_4123_4000n, 0x0001_0000_4123_4000n],
    ['ttbr1_el1', 0xffff_0000_4567_8000n, 0xffff_0000_4567_8000n],
    ['tcr_el1', 0x34_b510_3510n, 0x34_b510_3510n],
    ['vbar_el1', ALL, ALL ^ 0x7ffn],
    ['esr_el1', 0x5600_1234n, 0x5600_1234n],
    ['contextidr_el1', 0xdead_beefn, 0xdead_beefn],
    ['sp_el0', 0x4000_1230n, 0x4000_1230n],
    ['spsr_el1', 0xf030_03c5n, 0xf030_03c5n],
    ['spsr_el1', 0x0000_0000n, 0n],
    ['cpacr_el1', ALL, 0x30_0000n],
    ['cpacr_el1', 0x10_0000n, 0x10_0000n],
    ['cntkctl_el1', ALL, 0x3ffn],
    ['csselr_el1', 2n, 2n],
    ['cntv_cval_el0', 0x1234_5678_9abc_def0n, 0x1234_5678_9abc_def0n],
    ['cntp_cval_el0', ALL, ALL],
    ['sctlr_el1', 0x30d0_198cn, 0x30d0_198cn],
  ];
  for (const [reg, value, want] of cases) {
    it(`${reg} <- ${hex(value)}`, () => {
      const cpu = run(`msr ${reg}, x1\nmrs x2, ${reg}`, { x: { 1: value } });
      expect(hex(cpu.getX(2))).toBe(hex(want));
    });
  }

  it('a write that leaves the block (SCTLR_EL1) continues with the next instruction', () => {
    const cpu = run('msr sctlr_el1, x1\nmov x3, #3\nmrs x2, sctlr_el1', { x: { 1: 0x30d0_1980n } });
    expect(cpu.getX(3)).toBe(3n);
    expect(hex(cpu.getX(2))).toBe('0x30d01980');
  });

  it('read-only registers reject MSR and write-only OSLAR_EL1 rejects MRS (UNDEFINED)', () => {
    for (const body of ['msr midr_el1, x1', 'msr id_aa64isar0_el1, x1', 'msr ctr_el0, x1', 'msr cntvct_el0, x1', 'msr isr_el1, x1', 'mrs x1, oslar_el1', 'msr s3_0_c15_c0_0, x1', 'mrs x1, hcr_el2', 'msr vbar_el2, x1']) {
      const res = runProgram(withVectors(body));
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_CUR_SPX));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0)));
    }
  });

  it('the OS lock: OSLSR_EL1.OSLK follows OSLAR_EL1', () => {
    const cpu = run('mov x1, #1\nmsr oslar_el1, x1\nmrs x2, oslsr_el1\nmsr oslar_el1, xzr\nmrs x3, oslsr_el1');
    expect(hex(cpu.getX(2) & 2n)).toBe('0x2');
    expect(hex(cpu.getX(3) & 2n)).toBe('0x0');
  });
});

describe('EL0 access to EL0 registers', () => {
  it('CNTFRQ_EL0 and CNTVCT_EL0 trap to EL1 (EC 0x18) unless CNTKCTL_EL1 enables them', () => {
    let res = runProgram(withVectors(`${TO_EL0}\n  mrs x1, cntvct_el0`));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    // Op0=3 Op2=2 Op1=3 CRn=14 Rt=1 CRm=0, read.
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0x18, (3 << 20) | (2 << 17) | (3 << 14) | (14 << 10) | (1 << 5) | 1)));
    res = runProgram(withVectors(`
      mov x0, #3
      msr cntkctl_el1, x0
      ${TO_EL0}
      mrs x1, cntvct_el0
      mrs x2, cntpct_el0
      mrs x3, cntfrq_el0
    `));
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(hex(res.cpu.getX(3))).toBe(hex(62_500_000n));
  });

  it('CNTFRQ_EL0 is never writable from EL0', () => {
    const res = runProgram(withVectors(`
      mov x0, #3
      msr cntkctl_el1, x0
      ${TO_EL0}
      msr cntfrq_el0, x1
    `));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(0)));
  });

  it('CTR_EL0 traps at EL0 unless SCTLR_EL1.UCT; DCZID_EL0 is always readable', () => {
    let res = runProgram(withVectors(`${TO_EL0}\n  mrs x2, dczid_el0\n  mrs x1, ctr_el0`));
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1') >> 26n)).toBe('0x18');
    // DZP is set at EL0 while SCTLR_EL1.DZE is clear; 64-byte blocks.
    expect(hex(res.cpu.getX(2))).toBe('0x14');
    res = runProgram(withVectors(`
      mrs x0, sctlr_el1
      orr x0, x0, #0x8000
      orr x0, x0, #0x4000
      msr sctlr_el1, x0
      ${TO_EL0}
      mrs x1, ctr_el0
      mrs x2, dczid_el0
    `));
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(hex(res.cpu.getX(1))).toBe(hex(0x8444c004n));
    expect(hex(res.cpu.getX(2))).toBe('0x4');
  });

  it('DCZID_EL0.DZP is clear at EL1, where DC ZVA is always permitted', () => {
    const cpu = run('mrs x1, dczid_el0');
    expect(hex(cpu.getX(1))).toBe('0x4');
  });
});

describe('generic timer registers', () => {
  it('TVAL writes set CVAL relative to the counter; reads give the signed distance', () => {
    // About 17 s of counter ticks: the counter follows host time, and the JIT
    // may compile between the write and the read.
    const TVAL = 0x40000000n;
    const cpu = run(`
      mrs x1, cntvct_el0
      msr cntv_tval_el0, x2
      mrs x3, cntv_cval_el0
      mrs x4, cntvct_el0
      mrs x5, cntv_tval_el0
    `, { x: { 2: TVAL } });
    const [c0, cval, c1, tval] = [cpu.getX(1), cpu.getX(3), cpu.getX(4), cpu.getX(5)];
    expect(cval >= c0 + TVAL && cval <= c1 + TVAL).toBe(true);
    // TVAL is a 32-bit field: bits 63:32 read as zero.
    expect(tval <= TVAL && tval > 0n).toBe(true);
  });

  it('a negative TVAL puts CVAL in the past; ISTATUS reports the condition when enabled', () => {
    const cpu = run(`
      movn x2, #4
      msr cntv_tval_el0, x2
      mov x0, #1
      msr cntv_ctl_el0, x0
      mrs x1, cntv_ctl_el0
      mrs x5, cntv_tval_el0
      movn x3, #0
      msr cntv_cval_el0, x3
      mrs x4, cntv_ctl_el0
      mov x0, #7
      msr cntp_ctl_el0, x0
      msr cntp_cval_el0, x3
      mrs x6, cntp_ctl_el0
    `);
    expect(hex(cpu.getX(1))).toBe('0x5');
    expect(cpu.getX(5) >= 0x8000_0000n && cpu.getX(5) <= 0xffff_ffffn).toBe(true);
    expect(hex(cpu.getX(4))).toBe('0x1');
    // ISTATUS is read-only: writing it does not set it.
    expect(hex(cpu.getX(6))).toBe('0x3');
  });
});

describe('ID registers', () => {
  function ids(cpu: string) {
    const c = run(`
      mrs x1, midr_el1
      mrs x2, mpidr_el1
      mrs x3, id_aa64isar0_el1
      mrs x4, id_aa64isar1_el1
      mrs x5, id_aa64pfr0_el1
      mrs x6, s3_0_c0_c3_7
      mrs x7, id_aa64mmfr0_el1
    `, { cpu, x: { 6: 0x55n } });
    return { midr: c.getX(1), mpidr: c.getX(2), isar0: c.getX(3), isar1: c.getX(4), pfr0: c.getX(5), reserved: c.getX(6), mmfr0: c.getX(7) };
  }
  const field = (v: bigint, lsb: number): number => Number((v >> BigInt(lsb)) & 0xfn);

  it('max: LSE atomics (2) and CRC32 (1) in ISAR0, LRCPC in ISAR1', () => {
    const r = ids('max');
    expect(field(r.isar0, 20)).toBe(2);
    expect(field(r.isar0, 16)).toBe(1);
    expect(field(r.isar1, 20)).toBe(1);
  });

  it('cortex-a57: CRC32 but no LSE or LRCPC; MIDR identifies the A57', () => {
    const r = ids('cortex-a57');
    expect(field(r.isar0, 20)).toBe(0);
    expect(field(r.isar0, 16)).toBe(1);
    expect(field(r.isar1, 20)).toBe(0);
    // Implementer 0x41 (Arm), part 0xd07.
    expect(hex(r.midr >> 24n)).toBe('0x41');
    expect(hex((r.midr >> 4n) & 0xfffn)).toBe('0xd07');
  });

  it('common fields: MPIDR, AArch64-only EL0/EL1, no FP/SIMD, reserved ID space reads zero', () => {
    for (const cpu of ['max', 'cortex-a57']) {
      const r = ids(cpu);
      // MPIDR: RES1 bit 31, uniprocessor bit clear, Aff0 = vcpu 0.
      expect(hex(r.mpidr & 0xc000_00ffn), cpu).toBe('0x80000000');
      expect(field(r.pfr0, 0), cpu).toBe(1);
      expect(field(r.pfr0, 4), cpu).toBe(1);
      // FP and AdvSIMD are 0xf, "not implemented", matching their UNDEFINED encodings.
      expect(field(r.pfr0, 16), cpu).toBe(0xf);
      expect(field(r.pfr0, 20), cpu).toBe(0xf);
      expect(r.reserved, cpu).toBe(0n);
      // 4 KiB granule supported (TGran4 = 0).
      expect(field(r.mmfr0, 28), cpu).toBe(0);
    }
  });

  it('ID registers and the reserved ID space are UNDEFINED at EL0', () => {
    for (const body of ['mrs x1, id_aa64isar0_el1', 'mrs x1, s3_0_c0_c3_7']) {
      const res = runProgram(withVectors(`${TO_EL0}\n  ${body}`));
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_LOWER_A64));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0)));
    }
  });
});

describe('cache, address translation and TLB maintenance', () => {
  it('DC ZVA zeroes the aligned 64-byte block', () => {
    const data = new Uint8Array(256).fill(0xaa);
    const res = runProgram('dc zva, x1', { x: { 1: DATA_BASE + 0x45n }, data });
    const mem = res.vm.readPhysical(Number(DATA_BASE), 256);
    expect(mem.slice(0x40, 0x80).every((b) => b === 0)).toBe(true);
    expect(mem[0x3f]).toBe(0xaa);
    expect(mem[0x80]).toBe(0xaa);
  });

  it('DC ZVA at EL0 traps (EC 0x18) unless SCTLR_EL1.DZE', () => {
    const res = runProgram(withVectors(`${TO_EL0}\n  dc zva, x1`), { x: { 1: DATA_BASE } });
    expect(hex(res.cpu.getX(27))).toBe(hex(VEC_LOWER_A64));
    expect(hex(res.cpu.sysreg('ESR_EL1') >> 26n)).toBe('0x18');
  });

  it('cache and TLB maintenance at EL1 complete without faulting', () => {
    const res = runProgram(withVectors(`
      ic iallu
      ic ialluis
      ic ivau, x1
      dc cvac, x1
      dc civac, x1
      dc cvau, x1
      dc ivac, x1
      tlbi vmalle1
      tlbi vmalle1is
      tlbi vae1, x2
      tlbi aside1is, x2
      dsb ish
      isb
      mov x9, #9
    `), { x: { 1: DATA_BASE, 2: 0n } });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(res.cpu.getX(9)).toBe(9n);
  });

  it('TLBI and IC IALLU are UNDEFINED at EL0', () => {
    for (const body of ['tlbi vmalle1', 'ic iallu', 'dc ivac, x1']) {
      const res = runProgram(withVectors(`${TO_EL0}\n  ${body}`), { x: { 1: DATA_BASE } });
      expect(hex(res.cpu.getX(27)), body).toBe(hex(VEC_LOWER_A64));
      expect(hex(res.cpu.sysreg('ESR_EL1')), body).toBe(hex(esr(0)));
    }
  });

  it('AT S1E1R with the MMU off reports PA = VA, Device-nGnRnE, in PAR_EL1', () => {
    const cpu = run('at s1e1r, x1\nisb\nmrs x2, par_el1', { x: { 1: DATA_BASE + 0x123n } });
    // PA in bits 47:12, bit 11 RES1, SH = 0b10 as PAREncodeShareability gives
    // Device memory, ATTR (63:56) = 0x00 for Device-nGnRnE, F (bit 0) clear.
    // NS (bit 9) is left out: it is not defined for this case.
    expect(hex(cpu.getX(2) & ~0x200n)).toBe(hex(DATA_BASE | 0x800n | 0x100n));
  });

  it('AT on an address beyond the physical range reports an address size fault in PAR_EL1', () => {
    const cpu = run('at s1e0w, x1\nisb\nmrs x2, par_el1', { x: { 1: 0x0001_0000_0000_0000n } });
    // F = 1, FST = 0b000000 (address size fault, level 0), bit 11 RES1.
    expect(hex(cpu.getX(2) & 0xfffn)).toBe(hex(0x801n));
  });
});
