// The machine's one shared WebAssembly.Memory and the guest-physical map over
// it: vcpu state blocks first, then the memslots (flash, RAM), and MMIO
// regions routed to device models. Implements the PhysicalBus vcpus use.
import type { PhysicalBus } from '../src/cpu/physical-bus.js';
import { VCPU_STATE_BYTES } from '../src/cpu/state-layout.js';
import type { MmioDevice } from '../src/devices/mmio-device.js';

const WASM_PAGE = 65536;
const STAGE2_PAGE = 4096;
/** Wasm32 memories top out at 4 GiB; keep headroom for state and flash. */
export const MAX_MEMORY_BYTES = 4 * 1024 * 1024 * 1024 - WASM_PAGE;

export interface Memslot {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly hostOffset: number;
  readonly readonly: boolean;
}

interface MmioRegion {
  readonly base: number;
  readonly size: number;
  readonly device: MmioDevice;
}

export interface GuestMemoryLayout {
  vcpus: number;
  ramBase: number;
  ramSize: number;
  /** Read-only memory slots other than RAM (flash with firmware). */
  roms?: { name: string; base: number; size: number }[];
  /**
   * Bytes reserved after the vcpu state blocks for the engine's own tables
   * (code-page flags, the JIT's dispatch table), which generated code reaches
   * in the same memory as guest RAM.
   */
  reserveBytes?: number;
}

export class MemoryLimitError extends Error {}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export class GuestMemory implements PhysicalBus {
  readonly memory: WebAssembly.Memory;
  readonly buffer: ArrayBufferLike;
  readonly bytes: Uint8Array;
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ramHostOffset: number;
  readonly memslots: Memslot[] = [];
  /** Where the reserved bytes (layout.reserveBytes) start in the buffer. */
  readonly reservedOffset: number;
  readonly reservedBytes: number;
  private readonly mmio: MmioRegion[] = [];
  /** Counted MMIO accesses, reads and writes. */
  mmioReads = 0;
  mmioWrites = 0;
  /** Stage-2 faults resolved by mapping a page. */
  stage2Faults = 0;
  private readonly stage2 = new Set<number>();
  private readonly deviceMode = new Set<string>();
  /**
   * Called when guest-physical [pa, pa+size) changes what backs it; the run
   * loop drops TLB entries and decoded code for the range.
   */
  onMappingChange: (pa: number, size: number) => void = () => undefined;

  constructor(layout: GuestMemoryLayout) {
    let offset = align(layout.vcpus * VCPU_STATE_BYTES, WASM_PAGE);
    this.reservedOffset = offset;
    this.reservedBytes = layout.reserveBytes ?? 0;
    offset = align(offset + this.reservedBytes, WASM_PAGE);
    const roms: Memslot[] = [];
    for (const rom of layout.roms ?? []) {
      roms.push({ name: rom.name, base: rom.base, size: rom.size, hostOffset: offset, readonly: true });
      offset = align(offset + rom.size, WASM_PAGE);
    }
    const ramHost = offset;
    const total = ramHost + layout.ramSize;
    if (total > MAX_MEMORY_BYTES) {
      const maxRam = Math.floor((MAX_MEMORY_BYTES - ramHost) / (1024 * 1024));
      throw new MemoryLimitError(`-m ${layout.ramSize / (1024 * 1024)}M is more RAM than warmboot can give a guest (at most ${maxRam}M: guest memory lives in one 32-bit WebAssembly memory)`);
    }
    const pages = Math.ceil(total / WASM_PAGE);
    // Shared, so that vcpus on worker threads can later use the same memory.
    const shared = typeof SharedArrayBuffer !== 'undefined';
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared } as WebAssembly.MemoryDescriptor);
    this.buffer = this.memory.buffer;
    this.bytes = new Uint8Array(this.buffer);
    this.ramBase = layout.ramBase;
    this.ramSize = layout.ramSize;
    this.ramHostOffset = ramHost;
    this.memslots.push(...roms, { name: 'ram', base: layout.ramBase, size: layout.ramSize, hostOffset: ramHost, readonly: false });
  }

  vcpuStateOffset(index: number): number {
    return index * VCPU_STATE_BYTES;
  }

  addMmio(base: number, size: number, device: MmioDevice): void {
    for (const r of this.mmio) {
      if (base < r.base + r.size && r.base < base + size) throw new Error(`MMIO region of ${device.name} overlaps ${r.device.name}`);
    }
    this.mmio.push({ base, size, device });
  }

  /** The memslot holding [pa, pa+size), if any. */
  findMemslot(pa: number, size: number): Memslot | undefined {
    for (const s of this.memslots) if (pa >= s.base && pa + size <= s.base + s.size) return s;
    return undefined;
  }

  memslotOffset(pa: number, size: number, write: boolean): number {
    for (const s of this.memslots) {
      if (pa >= s.base && pa + size <= s.base + s.size) {
        // Writes to ROM, and every access while its device owns it (a flash
        // chip in command mode), go to the device side.
        if ((write && s.readonly) || this.deviceMode.has(s.name)) return -1;
        const page = Math.floor(pa / STAGE2_PAGE);
        if (!this.stage2.has(page)) {
          // First touch since boot or the last unmap: the stage-2 fault KVM's
          // user_mem_abort resolves by mapping the page.
          this.stage2.add(page);
          this.stage2Faults++;
        }
        return s.hostOffset + (pa - s.base);
      }
    }
    return -1;
  }

  /** Guest-physical pages currently mapped at stage 2. */
  get stage2MappedPages(): number {
    return this.stage2.size;
  }

  /**
   * Unmaps all of stage 2, as KVM does when a vcpu that has run is
   * initialised again: every page faults back in, and everything derived from
   * the old mappings (TLB entries, decoded code) is dropped first.
   */
  unmapAll(): void {
    this.stage2.clear();
    for (const s of this.memslots) this.onMappingChange(s.base, s.size);
  }

  /**
   * Hands a memslot's accesses to the device registered over it (true) or
   * lets reads hit memory directly again (false), like QEMU's ROM-device mode
   * for flash. Cached translations of the slot are dropped.
   */
  setMemslotDeviceMode(name: string, deviceMode: boolean): void {
    const slot = this.memslots.find((s) => s.name === name);
    if (!slot) throw new Error(`no memslot named ${name}`);
    if (deviceMode === this.deviceMode.has(name)) return;
    if (deviceMode) this.deviceMode.add(name);
    else this.deviceMode.delete(name);
    this.onMappingChange(slot.base, slot.size);
  }

  private findMmio(pa: number): MmioRegion | undefined {
    for (const r of this.mmio) if (pa >= r.base && pa < r.base + r.size) return r;
    return undefined;
  }

  mmioRead(pa: number, size: number, vcpuIndex: number): number | undefined {
    const r = this.findMmio(pa);
    if (!r) return undefined;
    this.mmioReads++;
    return r.device.read(pa - r.base, size, vcpuIndex);
  }

  mmioWrite(pa: number, size: number, value: number, vcpuIndex: number): boolean {
    const r = this.findMmio(pa);
    if (!r) {
      // Writes to read-only memory without a device are ignored, as ROM ignores them.
      return this.findMemslot(pa, size)?.readonly === true;
    }
    this.mmioWrites++;
    r.device.write(pa - r.base, size, value, vcpuIndex);
    return true;
  }

  /** The host offset of guest-physical [pa, pa+length) in one memslot, or a clear error. */
  hostRange(pa: number, length: number): number {
    const s = this.findMemslot(pa, Math.max(length, 1));
    if (!s) {
      throw new RangeError(`guest-physical range 0x${pa.toString(16)}-0x${(pa + length).toString(16)} is not inside RAM or flash`);
    }
    return s.hostOffset + (pa - s.base);
  }

  resetDevices(): void {
    for (const r of this.mmio) r.device.reset();
  }
}
