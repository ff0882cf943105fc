// The generic timer and guest time: timer interrupts at the programmed
// count (to the instruction under -icount), WFI that sleeps until the timer,
// guest time that jumps over idle periods in deterministic mode, CNTVOFF,
// TVAL/ISTATUS/IMASK, and the event stream that wakes WFE.
import { describe, expect, it } from 'vitest';
import { ACK_EOI, GIC_INIT, label, loadGuest, POWER_OFF, runToPowerOff } from './harness.js';

/** 62.5 MHz: 16 ns per counter tick. */
const NS_PER_TICK = 16n;

function timerGuest(gic: 2 | 3): string {
  return `
  ${GIC_INIT[gic]}
  msr daifclr, #2
  mrs x1, cntvct_el0
  add x1, x1, #1000
  msr cntv_cval_el0, x1
  mov x2, #1
  msr cntv_ctl_el0, x2
  mov x3, #0
spin:
  add x3, x3, #1
  b spin
vec_irq_spx:
  mrs x4, elr_el1
  mrs x5, cntvct_el0
${ACK_EOI[gic]}
  ${POWER_OFF}
`;
}

describe('timer interrupts in deterministic mode', () => {
  for (const gic of [3, 2] as const) {
    for (const shift of [0, 3]) {
      it(`GICv${gic}, -icount shift=${shift}: taken after exactly the instructions CVAL stands for`, () => {
        const g = loadGuest(timerGuest(gic), { gicVersion: gic, icount: { shift } });
        // Stop at the IRQ vector itself (current EL, SP_ELx), before its first instruction.
        const exit = g.run({ breakpoint: label(g, 'vectors') + 0x280n });
        expect(exit.reason).toBe('breakpoint');
        // The counter reaches CVAL when retired instructions * 2^shift ns reach CVAL * 16 ns.
        const cval = g.cpu.getX(1);
        const s = BigInt(shift);
        const expected = (cval * NS_PER_TICK + (1n << s) - 1n) >> s;
        expect(BigInt(g.vm.icount)).toBe(expected);
        runToPowerOff(g);
        expect(g.cpu.getX(6) & 0x3ffn).toBe(27n);
        expect(g.cpu.getX(5)).toBeGreaterThanOrEqual(cval);
        expect(g.cpu.getX(4)).toBeGreaterThanOrEqual(label(g, 'spin'));
      });
    }
  }

  it('the same guest twice: the same instruction count, registers and counter', () => {
    const outcome = (): bigint[] => {
      const g = loadGuest(timerGuest(3), { icount: { shift: 2 } });
      runToPowerOff(g);
      return [BigInt(g.vm.icount), g.cpu.getX(3), g.cpu.getX(4), g.cpu.getX(5)];
    };
    expect(outcome()).toEqual(outcome());
  });

  for (const gic of [3, 2] as const) {
    it(`GICv${gic}: a guest second in WFI passes at once, with one wake-up and the counter past CVAL`, () => {
      const g = loadGuest(`
  ${GIC_INIT[gic]}
  mov x20, #0
  mov x21, #0
  msr daifclr, #2
  movz w2, #0xaca0
  movk w2, #0x3b9, lsl #16
  msr cntv_tval_el0, x2
  mov x2, #1
  msr cntv_ctl_el0, x2
  mrs x1, cntv_cval_el0
sleep:
  wfi
  add x20, x20, #1
  cbz x21, sleep
  mrs x5, cntvct_el0
  ${POWER_OFF}
vec_irq_spx:
${ACK_EOI[gic]}
  mov x7, #3
  msr cntv_ctl_el0, x7
  mov x21, #1
  eret
`, { gicVersion: gic, icount: { shift: 3 } });
      const started = performance.now();
      runToPowerOff(g);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(g.cpu.getX(20)).toBe(1n);
      expect(g.vm.exits.wfi).toBe(1);
      expect(g.cpu.getX(5)).toBeGreaterThanOrEqual(g.cpu.getX(1));
      expect(g.cpu.getX(1)).toBeGreaterThanOrEqual(62_500_000n);
      expect(g.vm.clock.nowNs()).toBeGreaterThanOrEqual(1e9);
      expect(g.vm.icount).toBeLessThan(200);
    });
  }
});

describe('timer registers', () => {
  it('TVAL counts down, ISTATUS rises at CVAL, IMASK keeps the interrupt back but not ISTATUS', () => {
    const g = loadGuest(`
  ${GIC_INIT[3]}
  msr daifclr, #2
  mov x1, #1000
  msr cntv_tval_el0, x1
  mov x2, #3
  msr cntv_ctl_el0, x2
  mrs x3, cntv_tval_el0
  mrs x4, cntv_ctl_el0
  mov x10, #0
spin:
  add x10, x10, #1
  cmp x10, #4000
  b.ne spin
  mrs x5, cntv_ctl_el0
  mrs x6, cntv_tval_el0
  ${POWER_OFF}
vec_irq_spx:
  mov x19, #0xbad
  ${POWER_OFF}
`, { icount: { shift: 3 } });
    runToPowerOff(g);
    const c = g.cpu;
    expect(c.getX(3)).toBeGreaterThan(990n);
    expect(c.getX(3)).toBeLessThanOrEqual(1000n);
    expect(c.getX(4)).toBe(3n);
    expect(c.getX(5)).toBe(7n); // ENABLE | IMASK | ISTATUS
    expect(c.getX(6)).toBeGreaterThanOrEqual(0x8000_0000n); // past CVAL: a negative 32-bit TimerValue
    expect(c.getX(19)).toBe(0n);
  });

  it('CNTVOFF: the virtual count (and its timer) run the offset behind the physical one', () => {
    const g = loadGuest(`
  mrs x1, cntpct_el0
  mrs x2, cntvct_el0
  ${POWER_OFF}
`, { icount: { shift: 0 } });
    g.cpu.cntvoff = 1_000_000;
    runToPowerOff(g);
    const pct = g.cpu.getX(1);
    const vct = g.cpu.getX(2);
    // The offset is more than the count so far: the virtual count has wrapped.
    expect(BigInt.asUintN(64, pct - vct)).toBeGreaterThanOrEqual(999_999n);
    expect(BigInt.asUintN(64, pct - vct)).toBeLessThanOrEqual(1_000_000n);
  });

  it('the physical timer through TVAL under real (host) time: the interrupt comes at or after CVAL, soon after', () => {
    const g = loadGuest(`
  ${GIC_INIT[3]}
  mov x21, #0
  msr daifclr, #2
  movz w2, #0x8968
  movk w2, #0x9, lsl #16
  msr cntp_tval_el0, x2
  mov x2, #1
  msr cntp_ctl_el0, x2
  mrs x1, cntp_cval_el0
sleep:
  wfi
  cbz x21, sleep
  ${POWER_OFF}
vec_irq_spx:
  mrs x5, cntpct_el0
${ACK_EOI[3]}
  msr cntp_ctl_el0, xzr
  mov x21, #1
  eret
`);
    const started = performance.now();
    runToPowerOff(g);
    const ms = performance.now() - started;
    expect(g.cpu.getX(6)).toBe(30n);
    const late = g.cpu.getX(5) - g.cpu.getX(1);
    expect(late).toBeGreaterThanOrEqual(0n);
    expect(late).toBeLessThan(62_500n * 200n); // within 200 ms of the 10 ms deadline
    expect(ms).toBeGreaterThanOrEqual(9);
  });
});

describe('WFE and the event stream', () => {
  it('the event stream wakes WFE: ten waits pass with the virtual count moving on', () => {
    const g = loadGuest(`
  mov x1, #0x44
  msr cntkctl_el1, x1
  isb
  mov x20, #0
again:
  wfe
  add x20, x20, #1
  cmp x20, #10
  b.ne again
  mrs x5, cntvct_el0
  ${POWER_OFF}
`, { icount: { shift: 0 } });
    runToPowerOff(g);
    expect(g.cpu.getX(20)).toBe(10n);
    // Bit 4 of the count goes 0 to 1 every 32 ticks.
    expect(g.cpu.getX(5)).toBeGreaterThanOrEqual(9n * 32n);
    expect(g.vm.exits.wfe).toBeGreaterThanOrEqual(9);
  });

  it('SEVL lets one WFE through; with no event stream the next one waits for good', () => {
    const g = loadGuest(`
  sevl
  wfe
  mov x20, #1
  wfe
  mov x21, #1
  ${POWER_OFF}
`, { icount: { shift: 0 } });
    expect(g.run()).toEqual({ reason: 'idle', waitMs: Infinity });
    expect(g.cpu.getX(20)).toBe(1n);
    expect(g.cpu.getX(21)).toBe(0n);
  });
});
