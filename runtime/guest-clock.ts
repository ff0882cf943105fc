// Guest time. By default it follows the host's monotonic clock from the
// moment the machine is created. In deterministic mode (QEMU's -icount
// shift=N, sleep=off) every retired instruction is 2^N ns of guest time, and
// when every vcpu waits for an interrupt the clock jumps to the next timer
// deadline instead of waiting for it: a run then depends on nothing but the
// guest, so it repeats instruction for instruction.

export interface IcountOptions {
  /** Each instruction takes 2^shift ns of guest time (QEMU accepts 0-10). */
  readonly shift: number;
  /**
   * sleep=on: an idle guest still waits for its next deadline in host time
   * (guest time stays deterministic). sleep=off (the default here): it
   * jumps there at once.
   */
  readonly sleep?: boolean;
}

export class GuestClock {
  /** Nanoseconds per counter tick, as QEMU derives it (16 for the 62.5 MHz virt counter). */
  readonly periodNs: number;
  readonly icount: IcountOptions | undefined;
  private readonly nsPerInsn: number;
  private readonly startMs = performance.now();
  /** Deterministic mode: guest time skipped while every vcpu was idle. */
  private skippedNs = 0;

  /** `instructions` counts instructions retired by the whole machine (deterministic mode only). */
  constructor(frequencyHz: number, icount: IcountOptions | undefined, private readonly instructions: () => number) {
    this.periodNs = Math.max(1, Math.floor(1e9 / frequencyHz));
    this.icount = icount;
    this.nsPerInsn = icount ? 2 ** icount.shift : 0;
  }

  get deterministic(): boolean {
    return this.icount !== undefined;
  }

  /** Guest nanoseconds since the machine was created. */
  nowNs(): number {
    if (this.icount) return this.instructions() * this.nsPerInsn + this.skippedNs;
    return (performance.now() - this.startMs) * 1e6;
  }

  /** The physical count, CNTPCT_EL0. */
  ticks(): number {
    return Math.floor(this.nowNs() / this.periodNs);
  }

  /**
   * Deterministic mode: how many more instructions until the count reaches
   * `ticks` (at least 1), or Infinity.
   */
  instructionsUntil(ticks: number): number {
    if (!Number.isFinite(ticks)) return Infinity;
    const ns = ticks * this.periodNs - this.nowNs();
    return Math.max(1, Math.ceil(ns / this.nsPerInsn));
  }

  /** Host milliseconds until the count reaches `ticks` (real-time mode, or icount with sleep=on). */
  msUntil(ticks: number): number {
    if (!Number.isFinite(ticks)) return Infinity;
    return Math.max(0, (ticks * this.periodNs - this.nowNs()) / 1e6);
  }

  /** Deterministic mode: moves guest time forward to the count `ticks` (every vcpu is idle). */
  skipTo(ticks: number): void {
    const gap = ticks * this.periodNs - this.nowNs();
    if (gap > 0) this.skippedNs += gap;
  }
}
