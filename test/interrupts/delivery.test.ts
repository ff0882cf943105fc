// How IRQs and FIQs reach a vcpu: the exception entry (vector, ELR, SPSR,
// ESR untouched, DAIF), masking by PSTATE and by the GIC, WFI as a wake-up
// point, the ICC_* registers' presence by GIC version, and the device lines
// (PL011 receive, PL031 alarm). Deterministic time keeps every run the same.
import { describe, expect, it } from 'vitest';
import { GICV3_INIT, label, loadGuest, POWER_OFF, runToPowerOff } from './harness.js';

const icount = { shift: 0 };

describe('interrupt entry', () => {
  it('an SGI to itself is an IRQ at VBAR+0x280 after the MSR, with SPSR the interrupted PSTATE and ESR untouched', () => {
    const g = loadGuest(`
  ${GICV3_INIT}
  movz x1, #0x1234
  msr esr_el1, x1
  msr daifclr, #2
  mov x0, #1
  msr icc_sgi1r_el1, x0
after:
  b after
vec_irq_spx:
  mrs x1, elr_el1
  mrs x2, spsr_el1
  mrs x3, esr_el1
  mrs x4, daif
  mrs x5, icc_iar1_el1
  mrs x7, icc_rpr_el1
  msr icc_eoir1_el1, x5
  mrs x6, icc_rpr_el1
  ${POWER_OFF}
`, { icount });
    runToPowerOff(g);
    const c = g.cpu;
    expect(c.getX(1)).toBe(label(g, 'after'));
    expect(c.getX(2)).toBe(0x345n); // EL1h with D, A, F still masked
    expect(c.getX(3)).toBe(0x1234n);
    expect(c.getX(4)).toBe(0x3c0n);
    expect(c.getX(5)).toBe(0n); // SGI 0
    expect(c.getX(7)).toBe(0n); // running at priority 0
    expect(c.getX(6)).toBe(0xffn); // idle after the EOI
  });

  it('from EL0 the IRQ vector is VBAR+0x480 and ELR the first EL0 instruction not executed', () => {
    const g = loadGuest(`
  ${GICV3_INIT}
  mov x0, #1
  msr icc_sgi1r_el1, x0
  adr x1, user
  msr elr_el1, x1
  msr spsr_el1, xzr
  eret
user:
  b user
vec_irq_el0:
  mrs x1, elr_el1
  mrs x2, spsr_el1
  mrs x5, icc_iar1_el1
  ${POWER_OFF}
`, { icount });
    runToPowerOff(g);
    expect(g.cpu.getX(1)).toBe(label(g, 'user'));
    expect(g.cpu.getX(2)).toBe(0n);
    expect(g.cpu.getX(5)).toBe(0n);
  });

  it('a Group 0 interrupt is an FIQ (VBAR+0x300), held while only PSTATE.F masks it', () => {
    const g = loadGuest(`
  ${GICV3_INIT}
  mov w10, #0xfffd
  movk w10, #0xffff, lsl #16
  str w10, [x12, #0x80]
  mov x10, #1
  msr s3_0_c12_c12_6, x10 // ICC_IGRPEN0_EL1
  msr daifclr, #2
  mov x0, #1
  movk x0, #0x100, lsl #16
  msr s3_0_c12_c11_7, x0 // ICC_SGI0R_EL1: INTID 1 to cpu 0
  mov x20, #0
spin:
  add x20, x20, #1
  cmp x20, #100
  b.ne spin
  msr daifclr, #1
fiq_open:
  b fiq_open
vec_fiq_spx:
  mrs x1, elr_el1
  mrs x5, s3_0_c12_c8_0 // ICC_IAR0_EL1
  mrs x6, icc_iar1_el1
  msr s3_0_c12_c8_1, x5 // ICC_EOIR0_EL1
  ${POWER_OFF}
`, { icount });
    runToPowerOff(g);
    expect(g.cpu.getX(28)).toBe(0n); // no other vector
    expect(g.cpu.getX(20)).toBe(100n);
    expect(g.cpu.getX(1)).toBe(label(g, 'fiq_open'));
    expect(g.cpu.getX(5)).toBe(1n);
    expect(g.cpu.getX(6)).toBe(1023n); // Group 0 is not acknowledged through IAR1
  });

  it('with PSTATE.I set the interrupt waits, ISR_EL1 shows it, and WFI does not sleep', () => {
    const g = loadGuest(`
  ${GICV3_INIT}
  mov x0, #1
  msr icc_sgi1r_el1, x0
  mrs x20, isr_el1
  wfi
  mov x21, #1
  msr daifclr, #2
unmasked:
  b unmasked
vec_irq_spx:
  mrs x1, elr_el1
  ${POWER_OFF}
`, { icount });
    runToPowerOff(g);
    expect(g.cpu.getX(20)).toBe(0x80n);
    expect(g.cpu.getX(21)).toBe(1n);
    expect(g.cpu.getX(1)).toBe(label(g, 'unmasked'));
    expect(g.vm.exits.wfi).toBe(0);
  });

  it('WFI with nothing that could wake it: run() returns idle rather than hang', () => {
    const g = loadGuest(`
  wfi
  ${POWER_OFF}
`, { icount });
    expect(g.run()).toEqual({ reason: 'idle', waitMs: Infinity });
    expect(g.vm.exits.wfi).toBe(1);
  });
});

describe('GIC versions', () => {
  const probe = `
  mrs x1, id_aa64pfr0_el1
  ubfx x1, x1, #24, #4
  mov x2, #0
  mrs x2, icc_sre_el1
  ${POWER_OFF}
vec_sync_spx:
  mrs x3, esr_el1
  mov x2, #0xdead
  mrs x4, elr_el1
  add x4, x4, #4
  msr elr_el1, x4
  eret
`;

  it('GICv3: ID_AA64PFR0_EL1.GIC is 1 and ICC_SRE_EL1 reads 7', () => {
    const g = loadGuest(probe, { gicVersion: 3, icount });
    runToPowerOff(g);
    expect(g.cpu.getX(1)).toBe(1n);
    expect(g.cpu.getX(2)).toBe(7n);
  });

  it('GICv2: ID_AA64PFR0_EL1.GIC is 0 and the ICC_* registers are UNDEFINED', () => {
    const g = loadGuest(probe, { gicVersion: 2, icount });
    runToPowerOff(g);
    expect(g.cpu.getX(1)).toBe(0n);
    expect(g.cpu.getX(2)).toBe(0xdeadn);
    expect(g.cpu.getX(3) >> 26n).toBe(0n); // EC 0: unknown reason
  });
});

describe('device interrupt lines', () => {
  it('PL011 receive raises SPI 33 and wakes a vcpu in WFI', () => {
    const g = loadGuest(`
  ${GICV3_INIT}
  movn w10, #0
  str w10, [x9, #0x84]
  str w10, [x9, #0x104]
  movz x13, #0x0900, lsl #16
  mov w10, #0x10
  str w10, [x13, #0x38]
  msr daifclr, #2
  mov x21, #0
sleep:
  wfi
  cbz x21, sleep
  ${POWER_OFF}
vec_irq_spx:
  mrs x5, icc_iar1_el1
  ldr w6, [x13]
  mrs x7, elr_el1
  msr icc_eoir1_el1, x5
  mov x21, #1
  eret
`, { icount });
    expect(g.run()).toEqual({ reason: 'idle', waitMs: Infinity });
    g.vm.uart.receive(new Uint8Array([0x41]));
    runToPowerOff(g);
    expect(g.cpu.getX(5)).toBe(33n);
    expect(g.cpu.getX(6)).toBe(0x41n);
  });

  it('a PL031 alarm at the current count raises SPI 34', () => {
    const g = loadGuest(`
  ${GICV3_INIT}
  movn w10, #0
  str w10, [x9, #0x84]
  str w10, [x9, #0x104]
  movz x13, #0x0901, lsl #16
  mov w10, #1
  str w10, [x13, #0x10]
  msr daifclr, #2
  ldr w10, [x13]
  str w10, [x13, #0x4]
done:
  b done
vec_irq_spx:
  mrs x5, icc_iar1_el1
  ldr w6, [x13, #0x18]
  ${POWER_OFF}
`, { icount });
    runToPowerOff(g);
    expect(g.cpu.getX(5)).toBe(34n);
    expect(g.cpu.getX(6)).toBe(1n); // RTCMIS
  });
});
