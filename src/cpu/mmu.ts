// Stage-1 address translation for the EL1&0 regime (VMSAv8-64): the settings
// that are in effect, and the translation table walk. 4K, 16K and 64K
// granules, TTBR0/TTBR1 with T0SZ/T1SZ from 25- to 48-bit VAs, 48-bit output
// addresses, hierarchical permissions, TBI. No hardware access-flag or dirty
// management (ID_AA64MMFR1_EL1.HAFDBS is 0), so AF = 0 always faults.
import type { PhysicalBus } from './physical-bus.js';
import {
  INFO_ATTR_SHIFT, INFO_DEVICE, INFO_GLOBAL, INFO_SH_SHIFT, INFO_SPAN_SHIFT, PERM_ALL, PERM_R0, PERM_R1, PERM_RP,
  PERM_W0, PERM_W1, PERM_WP, PERM_X0, PERM_X1,
} from './tlb.js';

// Fault status codes (DFSC/IFSC, PAR_EL1.FST); the level goes in the low two
// bits of the first five.
export const FSC_ADDRESS_SIZE = 0x00;
export const FSC_TRANSLATION = 0x04;
export const FSC_ACCESS_FLAG = 0x08;
export const FSC_PERMISSION = 0x0c;
export const FSC_EXTERNAL = 0x10;
export const FSC_EXTERNAL_WALK = 0x14;
export const FSC_ALIGNMENT = 0x21;

/** Output address size for each TCR_EL1.IPS value, capped at PARange (48 bits). */
const PA_BITS = [32, 36, 40, 42, 44, 48, 48, 48];

/**
 * The translation controls in effect. They are copied from the system
 * registers at context synchronisation (ISB, exception entry, ERET), not at
 * each MSR: the architecture only guarantees a register write is seen by
 * later translations after such an event, and latching them there keeps the
 * walk and the TLB consistent with one set of values between events.
 */
export class TranslationRegime {
  mmuOn = false;
  wxn = false;
  tcrLo = 0;
  tcrHi = 0;
  ttbr0Lo = 0;
  ttbr0Hi = 0;
  ttbr1Lo = 0;
  ttbr1Hi = 0;
  mairLo = 0;
  mairHi = 0;
  /** The current ASID, from TTBR0 or TTBR1 as TCR_EL1.A1 says, 8 or 16 bits by TCR_EL1.AS. */
  asid = 0;
  /** Whether the CPU implements PAN; if not, PSTATE.PAN has no effect on permissions. */
  panImplemented = false;
}

/** Where a successful walk leaves its result (one per vcpu: walks allocate nothing). */
export class WalkResult {
  /** Guest-physical address of the 4 KiB page holding the VA. */
  paLo = 0;
  paHi = 0;
  perm = 0;
  info = 0;
}

/** Whether TBI applies to this VA: TBI1 for the upper range (bit 55 set), TBI0 for the lower. */
function tbiApplies(reg: TranslationRegime, vaHi: number): boolean {
  return (reg.tcrHi & ((vaHi & 0x800000) !== 0 ? 1 << 6 : 1 << 5)) !== 0;
}

/**
 * Stage 1 off: the output address is the VA, which must fit in the 48-bit
 * physical address space (after removing a tag when TBI applies). Returns -1,
 * or the fault status.
 */
export function translationOff(reg: TranslationRegime, vaLo: number, vaHi: number, out: WalkResult): number {
  const high = tbiApplies(reg, vaHi) ? vaHi & 0x00ff0000 : vaHi & 0xffff0000;
  if (high !== 0) return FSC_ADDRESS_SIZE;
  out.paLo = vaLo & ~0xfff;
  out.paHi = vaHi & 0xffff;
  out.perm = PERM_ALL;
  // Data accesses are Device-nGnRnE (attribute 0x00), but misaligned ones do
  // not fault here: QEMU does not check them either, and real firmware relies
  // on that.
  out.info = INFO_GLOBAL | (12 << INFO_SPAN_SHIFT);
  return -1;
}

/**
 * Walks the stage-1 tables for `va`. Descriptors are read from guest-physical
 * memory through the bus (so a table page's first touch is a stage-2 fault
 * like any other); a walk that reaches something other than memory is a
 * synchronous external abort on the walk. Returns -1 with `out` filled, or
 * the fault status (translation, address size, access flag, external abort on
 * walk, with its level). Permission checks are left to the caller.
 */
export function walkStage1(reg: TranslationRegime, bus: PhysicalBus, dv: DataView, vaLo: number, vaHi: number, out: WalkResult): number {
  const upper = (vaHi & 0x800000) !== 0;
  const tcrLo = reg.tcrLo;
  let tsz: number, granule: number, disabled: boolean;
  if (!upper) {
    tsz = tcrLo & 0x3f;
    disabled = (tcrLo & (1 << 7)) !== 0;
    const tg0 = (tcrLo >>> 14) & 3;
    granule = tg0 === 1 ? 16 : tg0 === 2 ? 14 : 12;
  } else {
    tsz = (tcrLo >>> 16) & 0x3f;
    disabled = (tcrLo & (1 << 23)) !== 0;
    const tg1 = (tcrLo >>> 30) & 3;
    granule = tg1 === 3 ? 16 : tg1 === 1 ? 14 : 12;
  }
  // Out-of-range TxSZ values act as the nearest supported one, as QEMU does
  // (the architecture allows that or a fault).
  if (tsz < 16) tsz = 16;
  else if (tsz > 39) tsz = 39;
  const inputSize = 64 - tsz;

  // VA bits from the top (63, or 55 under TBI) down to inputSize must all
  // equal the range bit; otherwise the VA is in neither range.
  const top = tbiApplies(reg, vaHi) ? 55 : 63;
  const fill = upper ? -1 : 0;
  const hiMask = (top === 63 ? -1 : 0x00ffffff) & ~((1 << Math.max(inputSize - 32, 0)) - 1);
  if (((vaHi ^ fill) & hiMask) !== 0) return FSC_TRANSLATION;
  if (inputSize < 32 && ((vaLo ^ fill) & ~((1 << inputSize) - 1)) !== 0) return FSC_TRANSLATION;
  if (disabled) return FSC_TRANSLATION;

  const paBits = PA_BITS[reg.tcrHi & 7];
  const stride = granule - 3;
  const startLevel = 4 - Math.ceil((inputSize - granule) / stride);
  let level = startLevel;
  let shift = granule + (3 - level) * stride;
  const topBits = inputSize - shift;
  // The table base, aligned to the size of the first table.
  let tableLo = (upper ? reg.ttbr1Lo : reg.ttbr0Lo) & ~((8 << topBits) - 1);
  let tableHi = (upper ? reg.ttbr1Hi : reg.ttbr0Hi) & 0xffff;
  if (tooWide(tableHi, paBits)) return FSC_ADDRESS_SIZE;

  let apTable = 0, uxnTable = 0, pxnTable = 0;
  for (;;) {
    const bits = level === startLevel ? topBits : stride;
    const v = shift >= 32 ? vaHi >>> (shift - 32) : (vaLo >>> shift) | (vaHi << (32 - shift));
    const index = v & ((1 << bits) - 1);
    const descPa = tableHi * 0x100000000 + (tableLo >>> 0) + index * 8;
    const off = bus.memslotOffset(descPa, 8, false);
    if (off < 0) return FSC_EXTERNAL_WALK + level;
    const lo = dv.getInt32(off, true);
    const hi = dv.getInt32(off + 4, true);
    if ((lo & 1) === 0) return FSC_TRANSLATION + level;
    if (level < 3 && (lo & 2) !== 0) {
      // Table descriptor: the next table, and limits on what it may grant.
      tableLo = lo & ~((1 << granule) - 1);
      tableHi = hi & 0xffff;
      if (tooWide(tableHi, paBits)) return FSC_ADDRESS_SIZE + level;
      pxnTable |= (hi >>> 27) & 1;
      uxnTable |= (hi >>> 28) & 1;
      apTable |= (hi >>> 29) & 3;
      level++;
      shift -= stride;
      continue;
    }
    // A page at level 3; a block where this granule allows one (4K: levels
    // 1 and 2; 16K and 64K: level 2). Anything else is a translation fault.
    if (level === 3 ? (lo & 2) === 0 : level !== 2 && !(granule === 12 && level === 1)) {
      return FSC_TRANSLATION + level;
    }
    const oaLo = lo & ~((1 << shift) - 1) & ~0xfff;
    const oaHi = hi & 0xffff;
    if (tooWide(oaHi, paBits)) return FSC_ADDRESS_SIZE + level;
    if ((lo & (1 << 10)) === 0) return FSC_ACCESS_FLAG + level;

    out.paLo = oaLo | (vaLo & ((1 << shift) - 1) & ~0xfff);
    out.paHi = oaHi;
    out.perm = permissions(reg, lo, hi, apTable, uxnTable, pxnTable);
    const attrIndex = (lo >>> 2) & 7;
    const attr = (attrIndex < 4 ? reg.mairLo >>> (attrIndex * 8) : reg.mairHi >>> ((attrIndex - 4) * 8)) & 0xff;
    out.info = level | (shift << INFO_SPAN_SHIFT) | ((lo & (1 << 11)) === 0 ? INFO_GLOBAL : 0)
      | ((attr & 0xf0) === 0 ? INFO_DEVICE : 0) | (attr << INFO_ATTR_SHIFT) | (((lo >>> 8) & 3) << INFO_SH_SHIFT);
    return -1;
  }
}

/** Whether bits 47:paBits of an address whose bits 47:32 are `hi` are nonzero. */
function tooWide(hi: number, paBits: number): boolean {
  return paBits < 48 && (hi >>> (paBits - 32)) !== 0;
}

/**
 * The permission bits of a leaf descriptor under the table limits above it
 * (Arm ARM D5.4: AP[2:1], APTable, UXN/PXN and their table forms, WXN, and
 * the implicit PXN of a region EL0 can write).
 */
function permissions(reg: TranslationRegime, lo: number, hi: number, apTable: number, uxnTable: number, pxnTable: number): number {
  let ap = (lo >>> 6) & 3; // AP[2:1]
  if ((apTable & 1) !== 0) ap &= ~1; // APTable[0]: no access from EL0
  if ((apTable & 2) !== 0) ap |= 2; // APTable[1]: read-only
  const privW = (ap & 2) === 0;
  const userR = (ap & 1) !== 0;
  const userW = ap === 1;
  const uxn = ((hi >>> 22) & 1) !== 0 || uxnTable !== 0 || (userW && reg.wxn);
  const pxn = ((hi >>> 21) & 1) !== 0 || pxnTable !== 0 || (privW && reg.wxn) || userW;
  let perm = PERM_R1 | (privW ? PERM_W1 : 0);
  if (userR) perm |= PERM_R0 | (userW ? PERM_W0 : 0);
  // With PAN set, EL1 data accesses to what EL0 can access fault.
  if (!reg.panImplemented || !userR) perm |= PERM_RP | (privW ? PERM_WP : 0);
  if (!pxn) perm |= PERM_X1;
  if (!uxn) perm |= PERM_X0;
  return perm;
}
