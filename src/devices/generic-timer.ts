// The EL1 physical and virtual timers of one vcpu, as outputs: each drives a
// level-sensitive PPI (30 and 27 on the virt board) that is high while the
// timer is enabled, not masked, and its counter has reached CVAL. The
// registers themselves live in the vcpu's system-register slots, where the
// guest writes them; this reads them to compute the outputs, the next time
// an output will rise, and the event stream's next event.

export const TIMER_PHYS_INTID = 30;
export const TIMER_VIRT_INTID = 27;

const CTL_ENABLE = 1;
const CTL_IMASK = 2;
const TWO_64 = 2 ** 64;

const CNTKCTL_EVNTEN = 1 << 2;
const CNTKCTL_EVNTDIR = 1 << 3;

/** Slot numbers (8-byte slots of the vcpu state block) of the registers a timer reads. */
export interface TimerSlots {
  readonly physCtl: number;
  readonly physCval: number;
  readonly virtCtl: number;
  readonly virtCval: number;
  readonly kctl: number;
}

export class GenericTimer {
  private physLevel = false;
  private virtLevel = false;

  constructor(
    private readonly r: Int32Array,
    private readonly slots: TimerSlots,
    /** Drives one of this vcpu's PPIs. */
    private readonly setPpi: (intid: number, high: boolean) => void,
  ) {}

  private cval(slot: number): number {
    return (this.r[2 * slot + 1] >>> 0) * 2 ** 32 + (this.r[2 * slot] >>> 0);
  }

  /** The virtual count for physical count `phys`: CNTVCT = CNTPCT - CNTVOFF, modulo 2^64. */
  static virtualCount(phys: number, voff: number): number {
    const v = phys - voff;
    return v < 0 ? v + TWO_64 : v;
  }

  /** Recomputes both outputs for physical count `phys` and drives the PPIs that changed. */
  update(phys: number, voff: number): void {
    const s = this.slots;
    const p = this.firing(s.physCtl, s.physCval, phys);
    const v = this.firing(s.virtCtl, s.virtCval, GenericTimer.virtualCount(phys, voff));
    if (p !== this.physLevel) {
      this.physLevel = p;
      this.setPpi(TIMER_PHYS_INTID, p);
    }
    if (v !== this.virtLevel) {
      this.virtLevel = v;
      this.setPpi(TIMER_VIRT_INTID, v);
    }
  }

  private firing(ctlSlot: number, cvalSlot: number, count: number): boolean {
    const ctl = this.r[2 * ctlSlot];
    return (ctl & (CTL_ENABLE | CTL_IMASK)) === CTL_ENABLE && count >= this.cval(cvalSlot);
  }

  /**
   * The physical count at which an output that is low now will rise, or
   * Infinity when none will without a register write.
   */
  nextDeadline(phys: number, voff: number): number {
    const s = this.slots;
    let d = Infinity;
    if ((this.r[2 * s.physCtl] & (CTL_ENABLE | CTL_IMASK)) === CTL_ENABLE) {
      const c = this.cval(s.physCval);
      if (c > phys) d = c;
    }
    if ((this.r[2 * s.virtCtl] & (CTL_ENABLE | CTL_IMASK)) === CTL_ENABLE) {
      const c = this.cval(s.virtCval) + voff;
      if (c > phys && c < d) d = c;
    }
    return d;
  }

  /**
   * The event stream (CNTKCTL_EL1.EVNTEN): an event each time bit EVNTI of
   * the virtual count goes 0 to 1 (EVNTDIR = 0) or 1 to 0. Returns the
   * physical count of the first event after physical count `after`, or
   * Infinity when the stream is off.
   */
  nextEvent(after: number, voff: number): number {
    const k = this.r[2 * this.slots.kctl];
    if ((k & CNTKCTL_EVNTEN) === 0) return Infinity;
    const bit = (k >>> 4) & 0xf;
    const period = 2 ** (bit + 1);
    const phase = (k & CNTKCTL_EVNTDIR) !== 0 ? 0 : 2 ** bit;
    const v = GenericTimer.virtualCount(after, voff);
    const next = phase + (Math.floor((v - phase) / period) + 1) * period;
    return after + (next - v);
  }
}
