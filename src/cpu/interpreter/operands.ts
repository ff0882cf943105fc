// How register fields map to state slots, resolved once at decode time.
import { SLOT_SINK, SLOT_SP, SLOT_ZR } from '../state-layout.js';

/** Int32Array index of the low word of a register read where 31 means XZR. */
export function zrRead(n: number): number {
  return 2 * (n === 31 ? SLOT_ZR : n);
}

/** Int32Array index of the low word of a register written where 31 means XZR. */
export function zrWrite(n: number): number {
  return 2 * (n === 31 ? SLOT_SINK : n);
}

/** Int32Array index of the low word of a register where 31 means SP. */
export function spReg(n: number): number {
  return 2 * (n === 31 ? SLOT_SP : n);
}

export function signExtend(value: number, bits: number): number {
  const shift = 32 - bits;
  return (value << shift) >> shift;
}
