/**
 * A small builder for Flattened Device Tree blobs (DTB format version 17, the
 * one described by the Devicetree Specification and produced by dtc).
 *
 * The tree is written in one pass, in document order: open a node, give it its
 * properties, open its children, close it. Everything a DTB consumer would
 * reject (a property after a child node, a duplicate name, a value that does
 * not fit its cell, unbalanced nodes) is refused here with an FdtError, so a
 * blob that comes out of finish() is well formed by construction.
 *
 * Only web-standard APIs are used so that the engine runs in a browser too.
 */

export class FdtError extends Error {
  override name = 'FdtError';
}

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_VERSION = 17;
/** Version 17 blobs are readable by anything that understands version 16. */
export const FDT_LAST_COMP_VERSION = 16;

export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;

const HEADER_SIZE = 40;
const RSVMAP_ENTRY_SIZE = 16;

const NODE_NAME_RE = /^[0-9A-Za-z,._+-]+(@[0-9A-Za-z,._+-]+)?$/;
const PROP_NAME_RE = /^[0-9A-Za-z,._+?#-]+$/;

export interface FdtWriterOptions {
  /**
   * First value handed out by allocPhandle(). QEMU starts at 0x8000 so that its
   * own phandles never collide with those of a user-supplied tree; copying
   * that keeps our blobs numerically comparable with QEMU's.
   */
  firstPhandle?: number;
  /** Physical id of the boot CPU, stored in the header (boot_cpuid_phys). */
  bootCpuId?: number;
}

export interface FdtFinishOptions {
  /**
   * Free bytes to leave at the end of the blob (counted in totalsize), so that
   * firmware can edit the tree in place without relocating it.
   */
  extraSpace?: number;
}

/** A byte buffer that grows by doubling. */
class ByteSink {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v >>> 0, false);
    this.length += 4;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Zero-pad to a multiple of four: every structure-block token is 32-bit aligned. */
  align4(): void {
    const pad = (4 - (this.length & 3)) & 3;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  contents(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

interface OpenNode {
  path: string;
  props: Set<string>;
  children: Set<string>;
  hasChildren: boolean;
}

const encoder = new TextEncoder();

function checkU32(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new FdtError(`${what}: ${v} is not a 32-bit unsigned integer`);
  }
}

const U64_MAX = (1n << 64n) - 1n;

function toU64(what: string, v: number | bigint): bigint {
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw new FdtError(`${what}: ${v} is not a 64-bit unsigned integer`);
    return v;
  }
  // Above 2^53 a number has already lost bits; refusing is better than writing
  // a silently rounded address.
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new FdtError(`${what}: ${v} is not an exactly representable unsigned integer (use a bigint)`);
  }
  return BigInt(v);
}

function encodeString(what: string, s: string): Uint8Array {
  if (s.includes('\0')) throw new FdtError(`${what}: string contains a NUL character`);
  return encoder.encode(s);
}

export class FdtWriter {
  private readonly struct = new ByteSink();
  private readonly strings = new ByteSink();
  private readonly stringOffsets = new Map<string, number>();
  private readonly reservations: Array<[bigint, bigint]> = [];
  private readonly stack: OpenNode[] = [];
  private rootDone = false;
  private finished = false;
  private nextPhandle: number;
  private readonly usedPhandles = new Set<number>();
  private readonly writtenPhandles = new Set<number>();
  private readonly bootCpuId: number;

  constructor(opts: FdtWriterOptions = {}) {
    const first = opts.firstPhandle ?? 1;
    if (!Number.isInteger(first) || first < 1 || first >= 0xffff_ffff) {
      throw new FdtError(`firstPhandle: ${first} is not a valid phandle (1..0xfffffffe)`);
    }
    this.nextPhandle = first;
    this.bootCpuId = opts.bootCpuId ?? 0;
    checkU32('bootCpuId', this.bootCpuId);
  }

  /** Adds an entry to the memory reservation block (memory the OS must not use). */
  addReservation(address: number | bigint, size: number | bigint): void {
    this.checkNotFinished();
    const a = toU64('reservation address', address);
    const s = toU64('reservation size', size);
    if (a + s > U64_MAX + 1n) throw new FdtError(`reservation at 0x${a.toString(16)} wraps past 2^64`);
    this.reservations.push([a, s]);
  }

  /**
   * Hands out a fresh phandle. The caller stores it in the node with
   * `propU32('phandle', h)` and in every property that refers to that node.
   */
  allocPhandle(): number {
    while (this.usedPhandles.has(this.nextPhandle)) this.nextPhandle++;
    const h = this.nextPhandle;
    if (h >= 0xffff_ffff) throw new FdtError('out of phandles');
    this.usedPhandles.add(h);
    this.nextPhandle++;
    return h;
  }

  /** Opens a node. The first node must be the root, named "". */
  beginNode(name: string): void {
    this.checkNotFinished();
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) {
      if (this.rootDone) throw new FdtError(`node "${name}": the root node is already closed`);
      if (name !== '') throw new FdtError(`node "${name}": the first node must be the root, named ""`);
      this.stack.push({ path: '/', props: new Set(), children: new Set(), hasChildren: false });
    } else {
      if (!NODE_NAME_RE.test(name)) {
        throw new FdtError(`node "${name}" under ${parent.path}: invalid node name`);
      }
      if (parent.children.has(name)) {
        throw new FdtError(`node ${parent.path === '/' ? '' : parent.path}/${name}: duplicate node name`);
      }
      parent.children.add(name);
      parent.hasChildren = true;
      const path = parent.path === '/' ? `/${name}` : `${parent.path}/${name}`;
      this.stack.push({ path, props: new Set(), children: new Set(), hasChildren: false });
    }
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.bytes(encodeString('node name', name));
    this.struct.bytes(new Uint8Array(1));
    this.struct.align4();
  }

  endNode(): void {
    this.checkNotFinished();
    if (this.stack.pop() === undefined) throw new FdtError('endNode() without a matching beginNode()');
    this.struct.u32(FDT_END_NODE);
    if (this.stack.length === 0) this.rootDone = true;
  }

  /** Path of the node currently open, for error messages of callers. */
  get currentPath(): string | undefined {
    return this.stack[this.stack.length - 1]?.path;
  }

  propBytes(name: string, value: Uint8Array): void {
    this.checkNotFinished();
    const node = this.stack[this.stack.length - 1];
    if (node === undefined) throw new FdtError(`property "${name}": no node is open`);
    if (!PROP_NAME_RE.test(name)) throw new FdtError(`property "${name}" in ${node.path}: invalid property name`);
    if (node.hasChildren) {
      // The format requires a node's properties to precede its subnodes.
      throw new FdtError(`property "${name}" in ${node.path}: written after a child node`);
    }
    if (node.props.has(name)) throw new FdtError(`property "${name}" in ${node.path}: duplicate property`);
    node.props.add(name);
    if (name === 'phandle') {
      if (value.length === 4) {
        const h = new DataView(value.buffer, value.byteOffset, 4).getUint32(0, false);
        if (h === 0 || h === 0xffff_ffff) throw new FdtError(`${node.path}: phandle ${h} is reserved`);
        if (this.writtenPhandles.has(h)) throw new FdtError(`${node.path}: phandle 0x${h.toString(16)} is already used by another node`);
        this.writtenPhandles.add(h);
        this.usedPhandles.add(h);
      }
    }
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.stringOffset(name));
    this.struct.bytes(value);
    this.struct.align4();
  }

  propEmpty(name: string): void {
    this.propBytes(name, new Uint8Array(0));
  }

  propU32(name: string, value: number): void {
    this.propU32Array(name, [value]);
  }

  propU32Array(name: string, values: readonly number[]): void {
    const out = new Uint8Array(values.length * 4);
    const dv = new DataView(out.buffer);
    values.forEach((v, i) => {
      checkU32(`property "${name}" cell ${i}`, v);
      dv.setUint32(i * 4, v, false);
    });
    this.propBytes(name, out);
  }

  /** A 64-bit value, stored as two big-endian cells (high word first). */
  propU64(name: string, value: number | bigint): void {
    this.propU64Array(name, [value]);
  }

  propU64Array(name: string, values: ReadonlyArray<number | bigint>): void {
    const out = new Uint8Array(values.length * 8);
    const dv = new DataView(out.buffer);
    values.forEach((v, i) => dv.setBigUint64(i * 8, toU64(`property "${name}" value ${i}`, v), false));
    this.propBytes(name, out);
  }

  /**
   * Values of mixed widths, each given as [cells, value] with cells 1 or 2: the
   * shape of reg and ranges properties, whose widths come from the parent's
   * #address-cells and #size-cells.
   */
  propSizedCells(name: string, items: ReadonlyArray<readonly [1 | 2, number | bigint]>): void {
    const cells: number[] = [];
    items.forEach(([n, v], i) => {
      const big = toU64(`property "${name}" value ${i}`, v);
      if (n === 1) {
        if (big > 0xffff_ffffn) throw new FdtError(`property "${name}" value ${i}: 0x${big.toString(16)} does not fit in one cell`);
        cells.push(Number(big));
      } else {
        cells.push(Number(big >> 32n), Number(big & 0xffff_ffffn));
      }
    });
    this.propU32Array(name, cells);
  }

  propString(name: string, value: string): void {
    this.propStringList(name, [value]);
  }

  /** Several NUL-terminated strings back to back, like compatible lists. */
  propStringList(name: string, values: readonly string[]): void {
    if (values.length === 0) throw new FdtError(`property "${name}": a string list needs at least one string`);
    const parts = values.map((s) => encodeString(`property "${name}"`, s));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length + 1;
    }
    this.propBytes(name, out);
  }

  /** Serialises the blob. The root node must have been closed. */
  finish(opts: FdtFinishOptions = {}): Uint8Array {
    this.checkNotFinished();
    if (!this.rootDone) {
      const open = this.stack[this.stack.length - 1];
      throw new FdtError(open ? `finish(): node ${open.path} is still open` : 'finish(): no root node was written');
    }
    const extra = opts.extraSpace ?? 0;
    if (!Number.isInteger(extra) || extra < 0) throw new FdtError(`extraSpace: ${extra} is not a byte count`);
    this.struct.u32(FDT_END);
    this.finished = true;

    const structBytes = this.struct.contents();
    const stringBytes = this.strings.contents();
    // The reservation map holds 64-bit pairs and must be 8-byte aligned; the
    // header is 40 bytes, so it can follow directly.
    const offRsv = HEADER_SIZE;
    const offStruct = offRsv + (this.reservations.length + 1) * RSVMAP_ENTRY_SIZE;
    const offStrings = offStruct + structBytes.length;
    const used = offStrings + stringBytes.length;
    const total = used + extra;
    if (total > 0xffff_ffff) throw new FdtError(`device tree of ${total} bytes exceeds the 4 GiB format limit`);

    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, FDT_MAGIC, false);
    dv.setUint32(4, total, false);
    dv.setUint32(8, offStruct, false);
    dv.setUint32(12, offStrings, false);
    dv.setUint32(16, offRsv, false);
    dv.setUint32(20, FDT_VERSION, false);
    dv.setUint32(24, FDT_LAST_COMP_VERSION, false);
    dv.setUint32(28, this.bootCpuId, false);
    dv.setUint32(32, stringBytes.length, false);
    dv.setUint32(36, structBytes.length, false);
    let off = offRsv;
    for (const [a, s] of this.reservations) {
      dv.setBigUint64(off, a, false);
      dv.setBigUint64(off + 8, s, false);
      off += RSVMAP_ENTRY_SIZE;
    }
    // The terminating all-zero entry is already zero.
    out.set(structBytes, offStruct);
    out.set(stringBytes, offStrings);
    return out;
  }

  private stringOffset(name: string): number {
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.strings.length;
      this.strings.bytes(encoder.encode(name));
      this.strings.bytes(new Uint8Array(1));
      this.stringOffsets.set(name, off);
    }
    return off;
  }

  private checkNotFinished(): void {
    if (this.finished) throw new FdtError('the device tree has already been finished');
  }
}
