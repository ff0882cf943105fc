// Builds VMSAv8-64 stage-1 translation tables in guest-physical memory for
// the MMU tests, from the descriptor formats of the Arm ARM (D8.3): table
// descriptors 0b11 at levels 0-2, blocks 0b01 at levels 1-2, pages 0b11 at
// level 3, output address in bits 47:granule, attributes around it.
import type { VirtualMachine } from '../../runtime/virtual-machine.js';

// Leaf descriptor attributes.
export const AF = 1n << 10n;
export const NG = 1n << 11n;
/** AP[1]: EL0 may access. */
export const AP_EL0 = 1n << 6n;
/** AP[2]: read-only. */
export const AP_RO = 1n << 7n;
export const SH_INNER = 3n << 8n;
export const PXN = 1n << 53n;
export const UXN = 1n << 54n;
export function attrIndx(i: number): bigint {
  return BigInt(i) << 2n;
}

// Table descriptor attributes (limits on the levels below).
export const PXN_TABLE = 1n << 59n;
export const UXN_TABLE = 1n << 60n;
export const APTABLE_NO_EL0 = 1n << 61n;
export const APTABLE_RO = 1n << 62n;

/** MAIR_EL1 the tests use: Attr0 Normal write-back, Attr1 Device-nGnRnE, Attr2 Normal non-cacheable, Attr3 Device-nGnRE. */
export const MAIR = 0x04_44_00_ffn;
export const ATTR_NORMAL = 0;
export const ATTR_DEVICE = 1;
export const ATTR_NC = 2;
export const ATTR_DEVICE_NGNRE = 3;

export type GranuleKiB = 4 | 16 | 64;

/** Hands out granule-aligned, zeroed table pages from a physical region. */
export class TableAllocator {
  constructor(private readonly vm: VirtualMachine, private next: bigint, private readonly limit: bigint) {}

  alloc(bytes: bigint): bigint {
    const at = (this.next + bytes - 1n) & ~(bytes - 1n);
    if (at + bytes > this.limit) throw new Error('page-table region exhausted');
    this.next = at + bytes;
    this.vm.writePhysical(Number(at), new Uint8Array(Number(bytes)));
    return at;
  }
}

export class PageTables {
  readonly pageShift: number;
  readonly stride: number;
  readonly startLevel: number;
  readonly root: bigint;

  constructor(private readonly vm: VirtualMachine, private readonly tables: TableAllocator, readonly granule: GranuleKiB, readonly vaBits: number) {
    this.pageShift = granule === 4 ? 12 : granule === 16 ? 14 : 16;
    this.stride = this.pageShift - 3;
    this.startLevel = 4 - Math.ceil((vaBits - this.pageShift) / this.stride);
    this.root = this.newTable();
  }

  get pageSize(): bigint {
    return 1n << BigInt(this.pageShift);
  }

  levelShift(level: number): number {
    return this.pageShift + (3 - level) * this.stride;
  }

  /** Bytes a block (or page, at level 3) at `level` maps. */
  blockSize(level: number): bigint {
    return 1n << BigInt(this.levelShift(level));
  }

  private newTable(): bigint {
    // The first-level table may be smaller than a granule, but a whole one is always aligned enough.
    return this.tables.alloc(this.pageSize);
  }

  read(pa: bigint): bigint {
    const b = this.vm.readPhysical(Number(pa), 8);
    return new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
  }

  write(pa: bigint, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.vm.writePhysical(Number(pa), b);
  }

  private index(va: bigint, level: number): bigint {
    const bits = level === this.startLevel ? this.vaBits - this.levelShift(level) : this.stride;
    return (va >> BigInt(this.levelShift(level))) & ((1n << BigInt(bits)) - 1n);
  }

  /** The physical address of the descriptor for `va` at `level`, creating tables above it. */
  descriptorAddress(va: bigint, level: number): bigint {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      const at = table + this.index(va, l) * 8n;
      let d = this.read(at);
      if ((d & 3n) !== 3n) {
        d = this.newTable() | 3n;
        this.write(at, d);
      }
      table = d & 0x0000_ffff_ffff_f000n & ~(this.pageSize - 1n);
    }
    return table + this.index(va, level) * 8n;
  }

  /** The descriptor value that maps `pa` at `level` with `attrs` (AF is not implied). */
  leaf(pa: bigint, level: number, attrs: bigint): bigint {
    return pa | attrs | (level === 3 ? 3n : 1n);
  }

  /** Maps one page (level 3) or block (level < 3). */
  map(va: bigint, pa: bigint, attrs: bigint, level = 3): void {
    this.write(this.descriptorAddress(va, level), this.leaf(pa, level, attrs));
  }

  /** Maps [va, va+size) with pages. */
  mapPages(va: bigint, pa: bigint, size: bigint, attrs: bigint): void {
    for (let off = 0n; off < size; off += this.pageSize) this.map(va + off, pa + off, attrs);
  }

  /** ORs limits into the table descriptor at `level` on the way to `va`. */
  setTableBits(va: bigint, level: number, bits: bigint): void {
    const at = this.descriptorAddress(va, level);
    this.write(at, this.read(at) | bits);
  }
}

/** TCR_EL1 from its fields (Arm ARM D17.2): TG0 and TG1 encode granules differently. */
export function tcr(o: {
  t0sz?: number; tg0?: GranuleKiB; t1sz?: number; tg1?: GranuleKiB; epd0?: boolean; epd1?: boolean;
  a1?: boolean; as16?: boolean; tbi0?: boolean; tbi1?: boolean; ips?: number;
}): bigint {
  const tg0 = { 4: 0n, 64: 1n, 16: 2n }[o.tg0 ?? 4];
  const tg1 = { 16: 1n, 4: 2n, 64: 3n }[o.tg1 ?? 4];
  return BigInt(o.t0sz ?? 16) | (o.epd0 ? 1n << 7n : 0n) | (tg0 << 14n)
    | (BigInt(o.t1sz ?? 16) << 16n) | (o.a1 ? 1n << 22n : 0n) | (o.epd1 ? 1n << 23n : 0n) | (tg1 << 30n)
    | (BigInt(o.ips ?? 5) << 32n) | (o.as16 ? 1n << 36n : 0n) | (o.tbi0 ? 1n << 37n : 0n) | (o.tbi1 ? 1n << 38n : 0n);
}

/** movz/movk lines loading a 64-bit constant. */
export function movImm(reg: string, value: bigint): string {
  const v = BigInt.asUintN(64, value);
  const lines = [`  movz ${reg}, #0x${(v & 0xffffn).toString(16)}`];
  for (let sh = 16n; sh < 64n; sh += 16n) {
    const part = (v >> sh) & 0xffffn;
    if (part !== 0n) lines.push(`  movk ${reg}, #0x${part.toString(16)}, lsl #${sh}`);
  }
  return lines.join('\n');
}
