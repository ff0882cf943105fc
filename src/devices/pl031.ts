// The Arm PrimeCell PL031 real-time clock at 0x09010000 on the virt board, as
// QEMU models it: a seconds counter that follows the host's wall clock from
// the moment the machine is created, a load register that moves it, and a
// match register that raises the alarm interrupt once the count reaches it.
// The interrupt line comes with the GIC; until then its level is kept here.
import type { MmioDevice } from './mmio-device.js';

const RTCDR = 0x00;
const RTCMR = 0x04;
const RTCLR = 0x08;
const RTCCR = 0x0c;
const RTCIMSC = 0x10;
const RTCRIS = 0x14;
const RTCMIS = 0x18;
const RTCICR = 0x1c;

// PrimeCell identification: PL031 r1p0, as QEMU reports it.
const ID_BYTES = [0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

const MS_PER_S = 1000;
const U32 = 2 ** 32;

function defaultElapsed(): () => number {
  const t0 = performance.now();
  return () => performance.now() - t0;
}

export class Pl031 implements MmioDevice {
  readonly name = 'pl031';
  /**
   * Guest seconds minus host seconds, modulo 2^32. It starts at 0: the count
   * is the host's time of day in UTC seconds, as under QEMU's default
   * -rtc base=utc.
   */
  private tickOffset = 0;
  private match = 0;
  private load = 0;
  private mask = 0;
  private raw = 0;
  /** Host time (ms) at which the pending alarm fires, or undefined. */
  private alarmAt: number | undefined;
  /** Told when the interrupt output (RIS & IMSC) changes, once the GIC can take it. */
  onInterrupt: (level: boolean) => void = () => undefined;
  private level = false;

  /**
   * `startMs` is the host's wall clock (ms since the Unix epoch) when the
   * machine is created; `elapsedMs` is the machine's monotonic clock since
   * then, the same one its generic timer counts, so that guest time never
   * jumps with the host's clock and follows the machine if it is paused.
   */
  constructor(private readonly startMs: number = Date.now(), private readonly elapsedMs: () => number = defaultElapsed()) {}

  /**
   * A system reset leaves the clock alone: QEMU's PL031 has no reset
   * handler, and a real RTC keeps time across one.
   */
  reset(): void {}

  /**
   * Host milliseconds until a pending alarm fires (Infinity when none is
   * armed): an idle machine sleeps no longer than this.
   */
  msUntilAlarm(): number {
    return this.alarmAt === undefined ? Infinity : Math.max(0, this.alarmAt - this.now());
  }

  /** The interrupt output: alarm raised and unmasked. */
  get interruptLevel(): boolean {
    this.poll();
    return this.level;
  }

  read(offset: number): number {
    if (offset >= 0xfe0 && offset < 0x1000) return ID_BYTES[(offset - 0xfe0) >> 2];
    this.poll();
    switch (offset) {
      case RTCDR: return this.count();
      case RTCMR: return this.match;
      case RTCLR: return this.load;
      // The counter cannot be stopped: RTCCR always reads as enabled.
      case RTCCR: return 1;
      case RTCIMSC: return this.mask;
      case RTCRIS: return this.raw;
      case RTCMIS: return this.raw & this.mask;
      default: return 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    this.poll();
    const v = value >>> 0;
    switch (offset) {
      case RTCLR:
        this.load = v;
        this.tickOffset = (this.tickOffset + v - this.count() + U32) % U32;
        this.armAlarm();
        return;
      case RTCMR:
        this.match = v;
        this.armAlarm();
        return;
      case RTCIMSC:
        this.mask = v & 1;
        this.update();
        return;
      case RTCICR:
        this.raw &= ~v;
        this.update();
        return;
      default:
        // RTCCR writes are ignored (always enabled); RTCDR, RTCRIS and RTCMIS are read-only.
        return;
    }
  }

  private now(): number {
    return this.startMs + this.elapsedMs();
  }

  private seconds(): number {
    return Math.floor(this.now() / MS_PER_S);
  }

  private count(): number {
    return (this.tickOffset + this.seconds()) % U32;
  }

  /**
   * The alarm fires when the count reaches the match value: at once if it
   * already equals it, otherwise after the whole seconds between them
   * (counted modulo 2^32, so a match behind the count fires after the wrap).
   */
  private armAlarm(): void {
    const ticks = (this.match - this.count() + U32) % U32;
    if (ticks === 0) {
      this.alarmAt = undefined;
      this.raise();
    } else {
      this.alarmAt = this.now() + ticks * MS_PER_S;
    }
  }

  /** Delivers an alarm whose time has come; the clock is read lazily, on access. */
  private poll(): void {
    if (this.alarmAt !== undefined && this.now() >= this.alarmAt) {
      this.alarmAt = undefined;
      this.raise();
    }
  }

  private raise(): void {
    this.raw = 1;
    this.update();
  }

  private update(): void {
    const level = (this.raw & this.mask) !== 0;
    if (level === this.level) return;
    this.level = level;
    this.onInterrupt(level);
  }
}
