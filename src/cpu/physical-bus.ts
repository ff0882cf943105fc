// What a vcpu needs from the machine to reach guest-physical memory. The run
// loop (runtime/) implements it with memslots and device models; the vcpu keeps
// only the RAM window for its fast path.

export interface PhysicalBus {
  /** The shared memory's buffer, holding vcpu state and every memslot. */
  readonly buffer: ArrayBufferLike;
  /** Guest-physical base and size of RAM, and its byte offset in `buffer`. */
  readonly ramBase: number;
  readonly ramSize: number;
  readonly ramHostOffset: number;
  /**
   * Other memslots (flash, ...): the host offset of `pa`, valid for `size`
   * bytes, or -1 if `pa` is not backed by memory the access may use directly
   * (then it goes to mmioRead/mmioWrite).
   */
  memslotOffset(pa: number, size: number, write: boolean): number;
  /** A device read of 1, 2 or 4 bytes; undefined when nothing answers at `pa`. */
  mmioRead(pa: number, size: number, vcpuIndex: number): number | undefined;
  /** A device write; false when nothing answers at `pa`. */
  mmioWrite(pa: number, size: number, value: number, vcpuIndex: number): boolean;
}
