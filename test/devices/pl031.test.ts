// The PL031 RTC model against QEMU's hw/rtc/pl031.c behaviour, on a clock the
// test moves by hand.
import { describe, expect, it } from 'vitest';
import { Pl031 } from '../../src/devices/pl031.js';

const DR = 0x00, MR = 0x04, LR = 0x08, CR = 0x0c, IMSC = 0x10, RIS = 0x14, MIS = 0x18, ICR = 0x1c;
// 2026-11-25T04:00:00.250Z
const START_MS = Date.UTC(2026, 10, 25, 4, 0, 0, 250);

function makeRtc() {
  let elapsed = 0;
  const rtc = new Pl031(START_MS, () => elapsed);
  const levels: boolean[] = [];
  rtc.onInterrupt = (l) => levels.push(l);
  return {
    rtc,
    levels,
    advance: (ms: number) => { elapsed += ms; },
    r: (offset: number) => rtc.read(offset),
    w: (offset: number, value: number) => rtc.write(offset, 4, value),
  };
}

const startSeconds = Math.floor(START_MS / 1000);

describe('PL031 RTC', () => {
  it('reports the PrimeCell identification QEMU reports', () => {
    const { r } = makeRtc();
    const ids = Array.from({ length: 8 }, (_, i) => r(0xfe0 + 4 * i));
    expect(ids).toEqual([0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
  });

  it('counts seconds of UTC wall-clock time from machine creation', () => {
    const { r, advance } = makeRtc();
    expect(r(DR)).toBe(startSeconds);
    advance(749);
    expect(r(DR)).toBe(startSeconds);
    advance(1); // the host's second boundary: .250 + .750
    expect(r(DR)).toBe(startSeconds + 1);
    advance(60_000);
    expect(r(DR)).toBe(startSeconds + 61);
  });

  it('defaults to the host clock', () => {
    const before = Math.floor(Date.now() / 1000);
    const count = new Pl031().read(DR);
    expect(count).toBeGreaterThanOrEqual(before);
    expect(count).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('moves the count with the load register and keeps counting from there', () => {
    const { r, w, advance } = makeRtc();
    expect(r(LR)).toBe(0);
    w(LR, 1000);
    expect(r(LR)).toBe(1000);
    expect(r(DR)).toBe(1000);
    advance(5000);
    expect(r(DR)).toBe(1005);
    expect(r(LR)).toBe(1000);
  });

  it('wraps the 32-bit count', () => {
    const { r, w, advance } = makeRtc();
    w(LR, 0xffffffff);
    expect(r(DR)).toBe(0xffffffff);
    advance(2000);
    expect(r(DR)).toBe(1);
  });

  it('reads the control register as enabled and ignores writes to it and to RTCDR', () => {
    const { r, w } = makeRtc();
    expect(r(CR)).toBe(1);
    w(CR, 0);
    expect(r(CR)).toBe(1);
    w(DR, 5);
    expect(r(DR)).toBe(startSeconds);
  });

  it('raises the alarm when the count reaches the match register', () => {
    const { r, w, advance, levels } = makeRtc();
    w(MR, startSeconds + 3);
    expect(r(MR)).toBe(startSeconds + 3);
    advance(2999);
    expect(r(RIS)).toBe(0);
    advance(1);
    expect(r(RIS)).toBe(1);
    expect(r(DR)).toBe(startSeconds + 3);
    // Masked until IMSC enables it.
    expect(r(MIS)).toBe(0);
    expect(levels).toEqual([]);
    w(IMSC, 0xffffffff);
    expect(r(IMSC)).toBe(1);
    expect(r(MIS)).toBe(1);
    expect(levels).toEqual([true]);
    w(ICR, 1);
    expect(r(RIS)).toBe(0);
    expect(r(MIS)).toBe(0);
    expect(levels).toEqual([true, false]);
    // It fires once, not again a second later.
    advance(5000);
    expect(r(RIS)).toBe(0);
  });

  it('raises the alarm at once for a match equal to the count, and after the wrap for one behind it', () => {
    const { r, w, advance } = makeRtc();
    w(MR, startSeconds);
    expect(r(RIS)).toBe(1);
    w(ICR, 1);
    w(MR, startSeconds - 1);
    advance(10_000);
    expect(r(RIS)).toBe(0);
  });

  it('re-arms the alarm when the count is loaded', () => {
    const { r, w, advance } = makeRtc();
    w(MR, 100);
    w(LR, 98);
    advance(1000);
    expect(r(RIS)).toBe(0);
    advance(1000);
    expect(r(RIS)).toBe(1);
  });

  it('keeps time and state across a system reset, as QEMU\'s model has no reset', () => {
    const { rtc, r, w, advance } = makeRtc();
    w(LR, 5000);
    w(IMSC, 1);
    advance(3000);
    rtc.reset();
    expect(r(DR)).toBe(5003);
    expect(r(IMSC)).toBe(1);
    expect(r(LR)).toBe(5000);
  });
});
