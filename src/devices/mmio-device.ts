// The interface every memory-mapped device model implements. Offsets are
// relative to the device's base; accesses are 1, 2 or 4 bytes (the bus splits
// 8-byte accesses).

export interface MmioDevice {
  readonly name: string;
  read(offset: number, size: number, vcpuIndex: number): number;
  write(offset: number, size: number, value: number, vcpuIndex: number): void;
  reset(): void;
}
