/**
 * Turning guest image files into what goes where in guest physical memory,
 * following QEMU's conventions for the virt board (hw/arm/boot.c), so that a
 * guest built and tested under `qemu-system-aarch64 -M virt -kernel ...` or
 * `-bios ...` finds itself, its initrd and its device tree at the same
 * addresses here.
 *
 * Nothing is written to guest memory: the result is a list of segments for
 * the caller to copy in (and to reload after a system reset). Every malformed
 * input ends in an ImageError with a one-line message; no other exception
 * escapes, whatever the bytes.
 */

import { VIRT_FLASH_BANK_SIZE, VIRT_FLASH_BASE, VIRT_FLASH_SIZE } from './virt-memory-map.js';

export class ImageError extends Error {
  override name = 'ImageError';
}

/** The role of the file: `-kernel` or `-bios` in QEMU's terms. */
export type ImageKind = 'kernel' | 'bios';

export type ImageFormat = 'arm64-image' | 'elf' | 'raw' | 'firmware';

export interface ImageSegment {
  /** Guest physical address of data[0]. */
  addr: number;
  data: Uint8Array;
  /**
   * Bytes of zeros that follow data (an ELF segment's memory beyond its file
   * contents), carried as a length: a 4 MB BSS need not become a 4 MB buffer.
   */
  zeroFill?: number;
}

export interface LoadedImage {
  format: ImageFormat;
  segments: ImageSegment[];
  /** Guest physical address the boot vcpu starts at. */
  entry: number;
  /** Lowest guest physical address the image occupies. */
  kernelStart: number;
  /**
   * One past the highest guest physical address the image occupies, including
   * an arm64 Image's declared image_size (its BSS) and ELF zero-fill.
   */
  kernelEnd: number;
  /**
   * True when QEMU would enter the image with the Linux boot protocol (x0 =
   * DTB address, x1-x3 = 0): arm64 Images and raw images. ELF images and
   * firmware are entered with every register at its reset value.
   */
  linuxBootProtocol: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Where QEMU puts images without a usable header (and pre-3.17 kernels). */
export const RAW_IMAGE_LOAD_OFFSET = 0x80000;
/**
 * QEMU keeps the bottom of RAM for its boot stub, so an arm64 Image asking for
 * a text_offset below this is moved up by 2 MiB (allowed: an Image only
 * requests an offset from some 2 MiB boundary).
 */
const BOOT_STUB_MAX_SIZE = 4 * KiB;
const ARM64_IMAGE_HEADER_SIZE = 64;
const ARM64_IMAGE_MAGIC_OFFSET = 0x38;
const ARM64_IMAGE_ALIGN = 2 * MiB;
/** Linux maps the DTB through the 2 MiB block that contains it. */
const DTB_ALIGN = 2 * MiB;
const PAGE_SIZE = 4 * KiB;
const FOUR_GIB = 4 * GiB;

const ELF_HEADER_SIZE = 64;
const ELF_PHDR_SIZE = 56;
const EM_AARCH64 = 183;
const PT_LOAD = 1;
const PF_X = 1;

const MACHINE_NAMES: Record<number, string> = {
  2: 'SPARC',
  3: 'x86',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 'S/390',
  40: 'ARM (32-bit)',
  50: 'IA-64',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
  258: 'LoongArch',
};

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function checkRam(ramBase: number, ramSize: number): void {
  if (!Number.isSafeInteger(ramBase) || ramBase < 0) throw new ImageError(`RAM base ${String(ramBase)} is not a valid address`);
  if (!Number.isSafeInteger(ramSize) || ramSize <= 0 || !Number.isSafeInteger(ramBase + ramSize)) {
    throw new ImageError(`RAM size ${String(ramSize)} is not a valid byte count`);
  }
}

function ramText(ramBase: number, ramSize: number): string {
  return `RAM ${hex(ramBase)}-${hex(ramBase + ramSize)}`;
}

function startsWith(bytes: Uint8Array, offset: number, sig: readonly number[]): boolean {
  if (bytes.length < offset + sig.length) return false;
  return sig.every((b, i) => bytes[offset + i] === b);
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const ARM64_MAGIC = [0x41, 0x52, 0x4d, 0x64];
const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const ZIMG_MAGIC = [0x7a, 0x69, 0x6d, 0x67];

/**
 * Decides what `bytes` is and where it goes.
 *
 * kernel: an arm64 Linux Image (by its header), an ELF64 AArch64 executable
 * (by its program headers) or, failing both, a raw image at RAM base + 0x80000.
 * bios: a raw flash image, placed in the first flash bank at address 0.
 */
export function loadImage(bytes: Uint8Array, kind: ImageKind, ramBase: number, ramSize: number): LoadedImage {
  checkRam(ramBase, ramSize);
  if (kind === 'bios') return loadFirmware(bytes);
  if (kind !== 'kernel') throw new ImageError(`image kind "${String(kind)}": expected "kernel" or "bios"`);
  if (bytes.length === 0) throw new ImageError('kernel: the file is empty');
  if (startsWith(bytes, 0, ELF_MAGIC)) return loadElf(bytes, ramBase, ramSize);
  if (startsWith(bytes, ARM64_IMAGE_MAGIC_OFFSET, ARM64_MAGIC)) return loadArm64Image(bytes, ramBase, ramSize);
  // QEMU would decompress these itself; loading them raw would run compressed
  // bytes as code, so say what is needed instead.
  if (startsWith(bytes, 0, GZIP_MAGIC)) {
    throw new ImageError('kernel: gzip-compressed image; expected an uncompressed arm64 Image, ELF or raw binary (gunzip it first)');
  }
  if (startsWith(bytes, 0, [0x4d, 0x5a]) && startsWith(bytes, 4, ZIMG_MAGIC)) {
    throw new ImageError('kernel: EFI zboot compressed image; expected an uncompressed arm64 Image, ELF or raw binary');
  }
  return loadRaw(bytes, ramBase, ramSize);
}

function loadFirmware(bytes: Uint8Array): LoadedImage {
  if (bytes.length === 0) throw new ImageError('bios: the file is empty');
  if (startsWith(bytes, 0, ELF_MAGIC)) {
    throw new ImageError('bios: this is an ELF file; expected a raw flash image (load it as the kernel, or convert it with objcopy -O binary)');
  }
  if (bytes.length > VIRT_FLASH_BANK_SIZE) {
    throw new ImageError(`bios: image of ${hex(bytes.length)} bytes does not fit in flash bank 0 (${hex(VIRT_FLASH_BANK_SIZE)} bytes at ${hex(VIRT_FLASH_BASE)})`);
  }
  return {
    format: 'firmware',
    segments: [{ addr: VIRT_FLASH_BASE, data: bytes }],
    entry: VIRT_FLASH_BASE,
    kernelStart: VIRT_FLASH_BASE,
    kernelEnd: VIRT_FLASH_BASE + bytes.length,
    linuxBootProtocol: false,
  };
}

function loadRaw(bytes: Uint8Array, ramBase: number, ramSize: number): LoadedImage {
  const addr = ramBase + RAW_IMAGE_LOAD_OFFSET;
  if (RAW_IMAGE_LOAD_OFFSET + bytes.length > ramSize) {
    throw new ImageError(`kernel: raw image at ${hex(addr)} (size ${hex(bytes.length)}) does not fit in ${ramText(ramBase, ramSize)}`);
  }
  return {
    format: 'raw',
    segments: [{ addr, data: bytes }],
    entry: addr,
    kernelStart: addr,
    kernelEnd: addr + bytes.length,
    linuxBootProtocol: true,
  };
}

function loadArm64Image(bytes: Uint8Array, ramBase: number, ramSize: number): LoadedImage {
  if (bytes.length < ARM64_IMAGE_HEADER_SIZE) {
    throw new ImageError(`kernel: arm64 Image header truncated (${bytes.length} bytes, expected at least ${ARM64_IMAGE_HEADER_SIZE})`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const textOffset = dv.getBigUint64(8, true);
  const imageSize = dv.getBigUint64(16, true);
  const flags = dv.getBigUint64(24, true);
  const ramEnd = ramBase + ramSize;

  let offset: number;
  let size = bytes.length;
  if (imageSize === 0n) {
    // Kernels before 3.17 leave image_size (and a meaningful text_offset) out.
    offset = RAW_IMAGE_LOAD_OFFSET;
  } else {
    if ((flags & 1n) !== 0n) {
      throw new ImageError('kernel: arm64 Image is big-endian (header flags bit 0 set); expected a little-endian kernel');
    }
    if (textOffset >= BigInt(ramSize) || imageSize > BigInt(ramSize)) {
      throw new ImageError(`kernel: arm64 Image text_offset ${hex(textOffset)} / image_size ${hex(imageSize)} do not fit in ${ramText(ramBase, ramSize)}`);
    }
    offset = Number(textOffset);
    if (offset < BOOT_STUB_MAX_SIZE) offset += ARM64_IMAGE_ALIGN;
    size = Math.max(size, Number(imageSize));
  }
  const addr = alignUp(ramBase, ARM64_IMAGE_ALIGN) + offset;
  if (addr + size > ramEnd) {
    throw new ImageError(`kernel: arm64 Image at ${hex(addr)} (size ${hex(size)}) does not fit in ${ramText(ramBase, ramSize)}`);
  }
  return {
    format: 'arm64-image',
    segments: [{ addr, data: bytes }],
    entry: addr,
    kernelStart: addr,
    kernelEnd: addr + size,
    linuxBootProtocol: true,
  };
}

/** Reads a 64-bit ELF field, refusing values a double cannot hold exactly. */
function u64(dv: DataView, off: number, what: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ImageError(`kernel: ELF ${what} ${hex(v)} is beyond any usable guest address`);
  return Number(v);
}

function loadElf(bytes: Uint8Array, ramBase: number, ramSize: number): LoadedImage {
  const len = bytes.length;
  if (len < 16) throw new ImageError(`kernel: ELF identification truncated (${len} bytes, expected at least 16)`);
  const cls = bytes[4];
  const data = bytes[5];
  if (cls === 1) throw new ImageError('kernel: ELF is 32-bit (ELFCLASS32); expected a 64-bit AArch64 ELF');
  if (cls !== 2) throw new ImageError(`kernel: ELF class ${String(cls)} is invalid; expected 2 (ELFCLASS64)`);
  if (data === 2) throw new ImageError('kernel: ELF is big-endian (ELFDATA2MSB); expected little-endian AArch64');
  if (data !== 1) throw new ImageError(`kernel: ELF data encoding ${String(data)} is invalid; expected 1 (little-endian)`);
  if (bytes[6] !== 1) throw new ImageError(`kernel: ELF version ${String(bytes[6])} is invalid; expected 1`);
  if (len < ELF_HEADER_SIZE) throw new ImageError(`kernel: ELF header truncated (${len} bytes, expected ${ELF_HEADER_SIZE})`);

  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_AARCH64) {
    const name = MACHINE_NAMES[machine];
    throw new ImageError(`kernel: ELF machine ${machine}${name ? ` (${name})` : ''}; expected ${EM_AARCH64} (AArch64)`);
  }
  if (type !== 2 && type !== 3) {
    throw new ImageError(`kernel: ELF type ${type} is not loadable; expected an executable (ET_EXEC) or ET_DYN`);
  }
  // Entry and virtual addresses may be anywhere in the 64-bit space (a kernel
  // linked high); only physical addresses have to be usable guest addresses.
  const entryV = dv.getBigUint64(24, true);
  const phoff = u64(dv, 32, 'program header offset');
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phnum === 0) throw new ImageError('kernel: ELF has no program headers; expected PT_LOAD segments');
  if (phnum === 0xffff) throw new ImageError('kernel: ELF uses extended program header numbering (PN_XNUM); expected fewer than 65535 program headers');
  if (phentsize < ELF_PHDR_SIZE) throw new ImageError(`kernel: ELF program header size ${phentsize}; expected at least ${ELF_PHDR_SIZE}`);
  if (phoff + phnum * phentsize > len) {
    throw new ImageError(`kernel: ELF program headers truncated (${phnum} x ${phentsize} bytes at offset ${hex(phoff)}, file is ${hex(len)} bytes)`);
  }

  const ramEnd = ramBase + ramSize;
  const flashEnd = VIRT_FLASH_BASE + VIRT_FLASH_SIZE;
  const fits = (a: number, n: number): boolean =>
    (a >= ramBase && a + n <= ramEnd) || (a >= VIRT_FLASH_BASE && a + n <= flashEnd);

  const loads: Array<{ paddr: number; offset: number; filesz: number; memsz: number }> = [];
  const ranges: Array<[number, number]> = [];
  let entry: bigint = entryV;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== PT_LOAD) continue;
    const pflags = dv.getUint32(ph + 4, true);
    const offset = u64(dv, ph + 8, `segment ${i} file offset`);
    const vaddr = dv.getBigUint64(ph + 16, true);
    const paddr = u64(dv, ph + 24, `segment ${i} physical address`);
    const filesz = u64(dv, ph + 32, `segment ${i} file size`);
    const memsz = u64(dv, ph + 40, `segment ${i} memory size`);
    if (memsz === 0) continue;
    if (filesz > memsz) {
      throw new ImageError(`kernel: ELF segment ${i} file size ${hex(filesz)} exceeds its memory size ${hex(memsz)}`);
    }
    if (offset + filesz > len) {
      throw new ImageError(`kernel: ELF segment ${i} truncated (${hex(filesz)} bytes at file offset ${hex(offset)}, file is ${hex(len)} bytes)`);
    }
    if (!fits(paddr, memsz)) {
      throw new ImageError(`kernel: ELF segment at ${hex(paddr)} (size ${hex(memsz)}) does not fit in ${ramText(ramBase, ramSize)} or flash ${hex(VIRT_FLASH_BASE)}-${hex(flashEnd)}`);
    }
    ranges.push([paddr, paddr + memsz]);
    // e_entry is virtual; when an executable segment is linked at a different
    // physical address, the entry moves with it (QEMU's loader does the same).
    if (vaddr !== BigInt(paddr) && (pflags & PF_X) !== 0 && entryV >= vaddr && entryV < vaddr + BigInt(filesz)) {
      entry = entryV - vaddr + BigInt(paddr);
    }
    loads.push({ paddr, offset, filesz, memsz });
  }
  if (loads.length === 0) throw new ImageError('kernel: ELF has no PT_LOAD segment with contents; expected at least one');
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    const [ps, pe] = sorted[i - 1]!;
    const [s, e] = sorted[i]!;
    if (s < pe) {
      throw new ImageError(`kernel: ELF segment at ${hex(s)}-${hex(e)} overlaps the segment at ${hex(ps)}-${hex(pe)}`);
    }
  }
  if (!ranges.some(([s, e]) => entry >= BigInt(s) && entry < BigInt(e))) {
    throw new ImageError(`kernel: ELF entry point ${hex(entry)} is outside every loaded segment`);
  }
  const segments: ImageSegment[] = loads.map(({ paddr, offset, filesz, memsz }) => {
    const data = bytes.subarray(offset, offset + filesz);
    return filesz === memsz ? { addr: paddr, data } : { addr: paddr, data, zeroFill: memsz - filesz };
  });
  let kernelStart = Infinity;
  let kernelEnd = 0;
  for (const [s, e] of ranges) {
    kernelStart = Math.min(kernelStart, s);
    kernelEnd = Math.max(kernelEnd, e);
  }
  return { format: 'elf', segments, entry: Number(entry), kernelStart, kernelEnd, linuxBootProtocol: false };
}

// ---------------------------------------------------------------------------
// Placement of the initrd and the device tree.

export interface InitrdPlacement {
  start: number;
  /** One past the last byte. */
  end: number;
}

/**
 * Where QEMU puts the initrd: 128 MiB into RAM (half of RAM when there is
 * less than 256 MiB), far enough that a decompressing kernel does not clobber
 * it, moved up past the end of the kernel if the kernel is bigger, page
 * aligned. With size 0 this is the nominal position the DTB rule builds on.
 *
 * QEMU ignores -initrd for ELF kernels; here the initrd is placed for them
 * too, by the same rule, and the caller decides whether to use it.
 */
export function placeInitrd(image: LoadedImage, initrdSize: number, ramBase: number, ramSize: number): InitrdPlacement {
  checkRam(ramBase, ramSize);
  if (!Number.isSafeInteger(initrdSize) || initrdSize < 0) throw new ImageError(`initrd: size ${String(initrdSize)} is not a byte count`);
  const ramEnd = ramBase + ramSize;
  let start = ramBase + Math.min(Math.floor(ramSize / 2), 128 * MiB);
  if (image.kernelEnd > start && image.kernelEnd <= ramEnd) start = image.kernelEnd;
  start = alignUp(start, PAGE_SIZE);
  if (start >= ramEnd) {
    throw new ImageError(`initrd: no room after the kernel (kernel ends at ${hex(image.kernelEnd)}, ${ramText(ramBase, ramSize)})`);
  }
  if (start + initrdSize > ramEnd) {
    throw new ImageError(`initrd: ${hex(initrdSize)} bytes at ${hex(start)} do not fit in ${ramText(ramBase, ramSize)} after the kernel`);
  }
  return { start, end: start + initrdSize };
}

export interface DtbPlacementOptions {
  /** The booted image; for -bios firmware pass the firmware image. */
  image: LoadedImage;
  /** The initrd's placement, when there is one. */
  initrd?: InitrdPlacement;
  dtbSize: number;
  ramBase: number;
  ramSize: number;
}

/**
 * Where QEMU puts the DTB.
 *
 * - firmware (-bios): at the base of RAM, where U-Boot and EDK2 look for it;
 * - ELF: at the base of RAM when the image leaves room there (below its
 *   lowest segment), the address bare-metal programs for virt expect;
 * - Linux images (and ELF images that cover the base of RAM): after the
 *   initrd (or after its nominal position when there is none), aligned to
 *   2 MiB because early arm64 kernels map the 2 MiB block holding it.
 *
 * The DTB must end below 4 GiB and inside RAM.
 */
export function placeDtb(opts: DtbPlacementOptions): number {
  const { image, dtbSize, ramBase, ramSize } = opts;
  checkRam(ramBase, ramSize);
  if (!Number.isSafeInteger(dtbSize) || dtbSize <= 0) throw new ImageError(`DTB: size ${String(dtbSize)} is not a byte count`);
  const ramEnd = ramBase + ramSize;
  const check = (addr: number): number => {
    if (addr + dtbSize > ramEnd) {
      throw new ImageError(`DTB: ${hex(dtbSize)} bytes at ${hex(addr)} do not fit in ${ramText(ramBase, ramSize)} after the kernel and initrd`);
    }
    if (addr + dtbSize > FOUR_GIB) {
      throw new ImageError(`DTB: ${hex(dtbSize)} bytes at ${hex(addr)} would end above 4 GiB; expected the kernel and initrd to leave room below ${hex(FOUR_GIB)}`);
    }
    return addr;
  };

  if (image.format === 'firmware') return check(ramBase);

  const overlaps = (a: number, n: number, s: number, e: number): boolean => a < e && s < a + n;
  if (image.format === 'elf' && (image.kernelStart > ramBase || image.kernelEnd <= ramBase)) {
    const clear = !overlaps(ramBase, dtbSize, image.kernelStart, image.kernelEnd) &&
      (opts.initrd === undefined || !overlaps(ramBase, dtbSize, opts.initrd.start, opts.initrd.end));
    if (clear && ramBase + dtbSize <= ramEnd) return check(ramBase);
  }

  const initrd = opts.initrd ?? placeInitrd(image, 0, ramBase, ramSize);
  return check(alignUp(initrd.end, DTB_ALIGN));
}
