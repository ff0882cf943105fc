// A vcpu's TLBs: direct-mapped caches of complete translations (stage 1, or
// the identity when stage 1 is off, then stage 2 through the bus) at 4 KiB
// granularity, whatever the granule or block size of the mapping.
//
// Each entry is spread over parallel typed arrays (struct of arrays) so that
// the interpreter's fast path is three loads and compares, and so that the
// whole structure can later live in the machine's shared memory for the JIT:
// the constructor takes a buffer and offset for that reason (today each vcpu
// allocates its own).
//
// The fast path never looks at ASIDs. Instead the invariant is that an entry
// whose `fast` word is nonzero is global or belongs to the current ASID: when
// the ASID changes, entries of other ASIDs are disabled (fast = 0) but kept,
// and come back if their ASID becomes current again before they are evicted.

/** Permission bits: read and write for each access context, and execute. */
export const PERM_R1 = 1 << 0; // EL1
export const PERM_W1 = 1 << 1;
export const PERM_R0 = 1 << 2; // EL0, and LDTR/STTR at EL1
export const PERM_W0 = 1 << 3;
export const PERM_RP = 1 << 4; // EL1 with PSTATE.PAN set
export const PERM_WP = 1 << 5;
export const PERM_X1 = 1 << 6;
export const PERM_X0 = 1 << 7;
export const PERM_ALL = 0xff;
export const PERM_W_ANY = PERM_W1 | PERM_W0 | PERM_WP;

// The info word of an entry.
export const INFO_LEVEL_MASK = 3; // lookup level of the leaf descriptor
export const INFO_SPAN_SHIFT = 2; // log2 of the size of the mapping (12..30)
export const INFO_SPAN_MASK = 0x1f;
export const INFO_GLOBAL = 1 << 7; // nG clear, or translation off
export const INFO_DEVICE = 1 << 8; // Device memory type: misaligned accesses fault
export const INFO_MMIO = 1 << 9; // not backed by memory the vcpu may touch directly
export const INFO_ROM = 1 << 10; // readable memory whose writes go to the device side
export const INFO_ATTR_SHIFT = 16; // the MAIR attribute byte
export const INFO_SH_SHIFT = 24; // shareability from the descriptor

const WORDS_PER_ENTRY = 9;

/** TLBI scopes (the ASID argument of invalidateVa). */
export const ANY_ASID = -1;

export class Tlb {
  readonly entries: number;
  readonly mask: number;
  /** VA bits 31:12 (low bits zero) and 63:32, exactly as the access presented them. */
  readonly tagLo: Int32Array;
  readonly tagHi: Int32Array;
  /** Permissions the fast path may grant directly: zero for MMIO and for disabled entries. */
  readonly fast: Int32Array;
  /** Architectural permissions from the walk; zero marks an invalid entry. */
  readonly full: Int32Array;
  readonly info: Int32Array;
  readonly asid: Int32Array;
  /** Host offset of the 4 KiB page in the shared buffer. */
  readonly host: Uint32Array;
  /** Guest-physical address of the 4 KiB page. */
  readonly paLo: Int32Array;
  readonly paHi: Int32Array;
  /** The largest mapping (log2 bytes) cached since the last full flush. */
  maxSpan = 12;

  static bytes(entries: number): number {
    return entries * 4 * WORDS_PER_ENTRY;
  }

  constructor(entries: number, buffer: ArrayBufferLike = new ArrayBuffer(Tlb.bytes(entries)), byteOffset = 0) {
    if ((entries & (entries - 1)) !== 0) throw new RangeError('TLB size must be a power of two');
    this.entries = entries;
    this.mask = entries - 1;
    const at = (k: number): number => byteOffset + k * entries * 4;
    this.tagLo = new Int32Array(buffer, at(0), entries);
    this.tagHi = new Int32Array(buffer, at(1), entries);
    this.fast = new Int32Array(buffer, at(2), entries);
    this.full = new Int32Array(buffer, at(3), entries);
    this.info = new Int32Array(buffer, at(4), entries);
    this.asid = new Int32Array(buffer, at(5), entries);
    this.host = new Uint32Array(buffer, at(6), entries);
    this.paLo = new Int32Array(buffer, at(7), entries);
    this.paHi = new Int32Array(buffer, at(8), entries);
  }

  flushAll(): void {
    this.fast.fill(0);
    this.full.fill(0);
    this.maxSpan = 12;
  }

  /** What the fast path may grant for an entry with these permissions and info. */
  static fastPerms(full: number, info: number): number {
    if ((info & INFO_MMIO) !== 0) return 0;
    return (info & INFO_ROM) !== 0 ? full & ~PERM_W_ANY : full;
  }

  /**
   * Drops entries that translate the VA whose bits 31:12 are `pageLo` (low
   * 12 bits zero) and whose bits 55:32 are `va55to32`, for `asid` (global
   * entries always match) or for every ASID. Tagged addresses (TBI) match
   * whatever their top byte.
   */
  invalidateVa(pageLo: number, va55to32: number, asid: number): void {
    // A mapping of 2^span bytes may be cached at any index its 4 KiB pages
    // hash to: scan just that aligned group of indices.
    const span = this.maxSpan;
    const group = Math.min(this.entries, 2 ** (span - 12));
    const first = ((pageLo >>> 12) & this.mask) & ~(group - 1);
    const { tagLo, tagHi, full, info } = this;
    for (let i = first; i < first + group; i++) {
      if (full[i] === 0) continue;
      if ((tagHi[i] & 0xffffff) !== va55to32) continue;
      const inf = info[i];
      const s = (inf >>> INFO_SPAN_SHIFT) & INFO_SPAN_MASK;
      if (((tagLo[i] ^ pageLo) >>> s) !== 0) continue;
      if (asid !== ANY_ASID && (inf & INFO_GLOBAL) === 0 && this.asid[i] !== asid) continue;
      this.fast[i] = 0;
      full[i] = 0;
    }
  }

  /** Drops the non-global entries of one ASID. */
  invalidateAsid(asid: number): void {
    const { full, info } = this;
    for (let i = 0; i < this.entries; i++) {
      if (full[i] !== 0 && (info[i] & INFO_GLOBAL) === 0 && this.asid[i] === asid) {
        this.fast[i] = 0;
        full[i] = 0;
      }
    }
  }

  /** Makes `asid` current: its entries usable by the fast path, other ASIDs' not. */
  switchAsid(asid: number): void {
    const { full, info, fast } = this;
    for (let i = 0; i < this.entries; i++) {
      const f = full[i];
      if (f === 0 || (info[i] & INFO_GLOBAL) !== 0) continue;
      fast[i] = this.asid[i] === asid ? Tlb.fastPerms(f, info[i]) : 0;
    }
  }
}
