import { describe, expect, it } from 'vitest';
import {
  ImageError,
  loadImage,
  placeDtb,
  placeInitrd,
  type ImageKind,
  type LoadedImage,
} from '../../src/board/image-loader.js';
import { buildVirtDeviceTree } from '../../src/board/virt-device-tree.js';
import { VIRT_RAM_BASE } from '../../src/board/virt-memory-map.js';
import { Machine } from '../../src/machine.js';
import { qemuBootTrace } from './tools.js';

const MiB = 1024 * 1024;
const RAM = VIRT_RAM_BASE;

// A64 instructions used by the test kernels.
const A64 = {
  /** movz x0, #8 ; movk x0, #0x8400, lsl #16 ; hvc #0 -- PSCI SYSTEM_OFF */
  systemOff: [0xd2800100, 0xf2b08000, 0xd4000002],
  /** movz x2, #0x4000, lsl #16 (x2 = 0x40000000) */
  movzX2RamBase: 0xd2a80002,
  /** ldr w1, [x2] */
  ldrW1X2: 0xb9400041,
  /** b .+4: ends the translated block, so QEMU logs the registers again */
  bNext: 0x14000001,
  /** b .+0x40: an Image's code0, jumping over its 64-byte header */
  bOverHeader: 0x14000010,
};

function words(ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const dv = new DataView(b.buffer);
  ws.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  return b;
}

interface ImageHeaderFields {
  textOffset: bigint;
  imageSize: bigint;
  flags?: bigint;
  fileSize?: number;
  code?: number[];
}

/** An arm64 Linux Image: code0 branches over the header to `code` at offset 0x40. */
function makeArm64Image(f: ImageHeaderFields): Uint8Array {
  const b = new Uint8Array(f.fileSize ?? 4096);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, A64.bOverHeader, true);
  dv.setBigUint64(8, f.textOffset, true);
  dv.setBigUint64(16, f.imageSize, true);
  dv.setBigUint64(24, f.flags ?? 0xan, true); // LE, 4K pages, anywhere
  b.set([0x41, 0x52, 0x4d, 0x64], 0x38);
  if (b.length >= 0x40 + 12) b.set(words(f.code ?? A64.systemOff), 0x40);
  return b;
}

interface Phdr {
  type?: number;
  flags?: number;
  offset: number | bigint;
  vaddr: number | bigint;
  paddr?: number | bigint;
  filesz: number | bigint;
  memsz?: number | bigint;
}

interface ElfSpec {
  cls?: number;
  data?: number;
  version?: number;
  type?: number;
  machine?: number;
  entry: number | bigint;
  phentsize?: number;
  phnum?: number;
  phoff?: number;
  phdrs: Phdr[];
  /** Bytes placed at file offset 0x1000. */
  payload?: Uint8Array;
  /** Cut the file to this length. */
  truncateTo?: number;
}

/** A little-endian ELF64 file assembled field by field. */
function makeElf(s: ElfSpec): Uint8Array {
  const payload = s.payload ?? new Uint8Array(0);
  const size = Math.max(0x1000 + payload.length, 64 + 56 * s.phdrs.length);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, s.cls ?? 2, s.data ?? 1, s.version ?? 1], 0);
  dv.setUint16(16, s.type ?? 2, true);
  dv.setUint16(18, s.machine ?? 183, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(s.entry), true);
  const phoff = s.phoff ?? 64;
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, s.phentsize ?? 56, true);
  dv.setUint16(56, s.phnum ?? s.phdrs.length, true);
  s.phdrs.forEach((p, i) => {
    const o = 64 + i * 56;
    dv.setUint32(o, p.type ?? 1, true);
    dv.setUint32(o + 4, p.flags ?? 5, true);
    dv.setBigUint64(o + 8, BigInt(p.offset), true);
    dv.setBigUint64(o + 16, BigInt(p.vaddr), true);
    dv.setBigUint64(o + 24, BigInt(p.paddr ?? p.vaddr), true);
    dv.setBigUint64(o + 32, BigInt(p.filesz), true);
    dv.setBigUint64(o + 40, BigInt(p.memsz ?? p.filesz), true);
  });
  b.set(payload, 0x1000);
  return s.truncateTo === undefined ? b : b.slice(0, s.truncateTo);
}

/** A well-formed two-segment ELF: text at 0x40100000, data+bss at 0x40200000. */
function goodElf(): Uint8Array {
  const text = words([...A64.systemOff, 0, 0, 0, 0, 0]);
  const data = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
  const payload = new Uint8Array(0x1000 + data.length);
  payload.set(text, 0);
  payload.set(data, 0x1000);
  return makeElf({
    entry: 0x40100000,
    phdrs: [
      { offset: 0x1000, vaddr: 0x40100000, filesz: text.length, flags: 5 },
      { offset: 0x2000, vaddr: 0x40200000, filesz: data.length, memsz: 0x3000, flags: 6 },
    ],
    payload,
  });
}

function expectImageError(fn: () => unknown, message: string | RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an ImageError').toBeInstanceOf(ImageError);
  const msg = (err as Error).message;
  expect(msg.includes('\n'), 'one-line message').toBe(false);
  if (typeof message === 'string') expect(msg).toBe(message);
  else expect(msg).toMatch(message);
}

describe('loadImage: arm64 Linux Image', () => {
  it('loads a text_offset 0 Image 2 MiB into RAM (QEMU keeps the bottom for its boot stub)', () => {
    const img = loadImage(makeArm64Image({ textOffset: 0n, imageSize: 0x20000n }), 'kernel', RAM, 128 * MiB);
    expect(img.format).toBe('arm64-image');
    expect(img.entry).toBe(0x40200000);
    expect(img.segments).toHaveLength(1);
    expect(img.segments[0]!.addr).toBe(0x40200000);
    expect(img.kernelStart).toBe(0x40200000);
    expect(img.kernelEnd).toBe(0x40220000);
    expect(img.linuxBootProtocol).toBe(true);
  });

  it('honours text_offset 0x80000 and counts image_size (BSS included) in kernelEnd', () => {
    const img = loadImage(makeArm64Image({ textOffset: 0x80000n, imageSize: 0x1234000n }), 'kernel', RAM, 128 * MiB);
    expect(img.entry).toBe(0x40080000);
    expect(img.kernelEnd).toBe(0x40080000 + 0x1234000);
  });

  it('treats image_size 0 as a pre-3.17 kernel at offset 0x80000', () => {
    const img = loadImage(makeArm64Image({ textOffset: 0x12345n, imageSize: 0n, fileSize: 8192 }), 'kernel', RAM, 128 * MiB);
    expect(img.entry).toBe(0x40080000);
    expect(img.kernelEnd).toBe(0x40080000 + 8192);
  });

  it('aligns the load base up to 2 MiB when RAM does not start on a 2 MiB boundary', () => {
    const img = loadImage(makeArm64Image({ textOffset: 0x80000n, imageSize: 0x1000n }), 'kernel', 0x40100000, 128 * MiB);
    expect(img.entry).toBe(0x40280000);
  });

  it('rejects a truncated header', () => {
    const b = new Uint8Array(60);
    b.set([0x41, 0x52, 0x4d, 0x64], 0x38);
    expectImageError(() => loadImage(b, 'kernel', RAM, 128 * MiB), 'kernel: arm64 Image header truncated (60 bytes, expected at least 64)');
  });

  it('rejects a big-endian kernel', () => {
    expectImageError(() => loadImage(makeArm64Image({ textOffset: 0n, imageSize: 0x1000n, flags: 1n }), 'kernel', RAM, 128 * MiB),
      'kernel: arm64 Image is big-endian (header flags bit 0 set); expected a little-endian kernel');
  });

  it('rejects a kernel that does not fit in RAM', () => {
    expectImageError(() => loadImage(makeArm64Image({ textOffset: 0n, imageSize: BigInt(127 * MiB) }), 'kernel', RAM, 128 * MiB),
      'kernel: arm64 Image at 0x40200000 (size 0x7f00000) does not fit in RAM 0x40000000-0x48000000');
    expectImageError(() => loadImage(makeArm64Image({ textOffset: 1n << 62n, imageSize: 0x1000n }), 'kernel', RAM, 128 * MiB),
      /^kernel: arm64 Image text_offset 0x4000000000000000 \/ image_size 0x1000 do not fit in RAM 0x40000000-0x48000000$/);
  });
});

describe('loadImage: ELF', () => {
  it('loads PT_LOAD segments at p_paddr, zero-filled to p_memsz', () => {
    const img = loadImage(goodElf(), 'kernel', RAM, 128 * MiB);
    expect(img.format).toBe('elf');
    expect(img.entry).toBe(0x40100000);
    expect(img.linuxBootProtocol).toBe(false);
    expect(img.segments.map((s) => [s.addr, s.data.length, s.zeroFill])).toEqual([[0x40100000, 32, undefined], [0x40200000, 8, 0x2ff8]]);
    expect([...img.segments[1]!.data]).toEqual([9, 8, 7, 6, 5, 4, 3, 2]);
    expect(img.kernelStart).toBe(0x40100000);
    expect(img.kernelEnd).toBe(0x40203000);
  });

  it('gives a machine its zero fill at the start and again at every reset, wherever the guest wrote', () => {
    const m = new Machine({ kernel: goodElf(), jit: 'off' });
    const segment = (): number[] => [...m.vm.readPhysical(0x40200000, 0x3000)];
    const asBuilt = [9, 8, 7, 6, 5, 4, 3, 2, ...new Array<number>(0x3000 - 8).fill(0)];
    expect(segment()).toEqual(asBuilt);
    m.vm.writePhysical(0x40200000, new Uint8Array(0x3000).fill(0x5a));
    // One past the segment: RAM that is no image's keeps what was written.
    m.vm.writePhysical(0x40203000, new Uint8Array([0x77]));
    m.reboot();
    expect(segment()).toEqual(asBuilt);
    expect([...m.vm.readPhysical(0x40203000, 1)]).toEqual([0x77]);
  });

  it('moves the entry point with an executable segment linked at a different physical address', () => {
    const elf = makeElf({
      entry: 0xffff_0000_0010_0010n,
      phdrs: [{ offset: 0x1000, vaddr: 0xffff_0000_0010_0000n, paddr: 0x40100000, filesz: 0x100, flags: 5 }],
      payload: new Uint8Array(0x100),
    });
    const img = loadImage(elf, 'kernel', RAM, 128 * MiB);
    expect(img.entry).toBe(0x40100010);
    expect(img.segments[0]!.addr).toBe(0x40100000);
  });

  it('accepts segments in flash', () => {
    const elf = makeElf({ entry: 0x1000, phdrs: [{ offset: 0x1000, vaddr: 0x1000, filesz: 0x10 }], payload: new Uint8Array(0x10) });
    const img = loadImage(elf, 'kernel', RAM, 128 * MiB);
    expect(img.segments[0]!.addr).toBe(0x1000);
  });

  it('ignores non-PT_LOAD and empty segments', () => {
    const elf = makeElf({
      entry: 0x40100000,
      phdrs: [
        { type: 4, offset: 0, vaddr: 0x9999_0000, filesz: 0x10 },
        { offset: 0x1000, vaddr: 0x7000_0000, filesz: 0, memsz: 0 },
        { offset: 0x1000, vaddr: 0x40100000, filesz: 0x10 },
      ],
      payload: new Uint8Array(0x10),
    });
    expect(loadImage(elf, 'kernel', RAM, 128 * MiB).segments).toHaveLength(1);
  });

  const bad: Array<[string, () => Uint8Array, string | RegExp]> = [
    ['a truncated identification', () => goodElf().slice(0, 10), 'kernel: ELF identification truncated (10 bytes, expected at least 16)'],
    ['a truncated header', () => goodElf().slice(0, 40), 'kernel: ELF header truncated (40 bytes, expected 64)'],
    ['a 32-bit file', () => makeElf({ cls: 1, entry: 0, phdrs: [] }), 'kernel: ELF is 32-bit (ELFCLASS32); expected a 64-bit AArch64 ELF'],
    ['an invalid class', () => makeElf({ cls: 7, entry: 0, phdrs: [] }), 'kernel: ELF class 7 is invalid; expected 2 (ELFCLASS64)'],
    ['a big-endian file', () => makeElf({ data: 2, entry: 0, phdrs: [] }), 'kernel: ELF is big-endian (ELFDATA2MSB); expected little-endian AArch64'],
    ['an invalid data encoding', () => makeElf({ data: 0, entry: 0, phdrs: [] }), 'kernel: ELF data encoding 0 is invalid; expected 1 (little-endian)'],
    ['an invalid version', () => makeElf({ version: 0, entry: 0, phdrs: [] }), 'kernel: ELF version 0 is invalid; expected 1'],
    ['the wrong machine (x86-64)', () => makeElf({ machine: 62, entry: 0, phdrs: [] }), 'kernel: ELF machine 62 (x86-64); expected 183 (AArch64)'],
    ['the wrong machine (32-bit ARM)', () => makeElf({ machine: 40, entry: 0, phdrs: [] }), 'kernel: ELF machine 40 (ARM (32-bit)); expected 183 (AArch64)'],
    ['an unknown machine', () => makeElf({ machine: 4242, entry: 0, phdrs: [] }), 'kernel: ELF machine 4242; expected 183 (AArch64)'],
    ['a relocatable object', () => makeElf({ type: 1, entry: 0, phdrs: [] }), 'kernel: ELF type 1 is not loadable; expected an executable (ET_EXEC) or ET_DYN'],
    ['no program headers', () => makeElf({ entry: 0, phdrs: [] }), 'kernel: ELF has no program headers; expected PT_LOAD segments'],
    ['PN_XNUM program headers', () => makeElf({ entry: 0, phdrs: [], phnum: 0xffff }), /extended program header numbering/],
    ['undersized program headers', () => makeElf({ entry: 0, phentsize: 32, phdrs: [{ offset: 0, vaddr: 0, filesz: 0 }] }),
      'kernel: ELF program header size 32; expected at least 56'],
    ['truncated program headers', () => makeElf({ entry: 0, phoff: 0xf00, phnum: 10, phdrs: [] , payload: new Uint8Array(0) }),
      'kernel: ELF program headers truncated (10 x 56 bytes at offset 0xf00, file is 0x1000 bytes)'],
    ['a huge program header offset', () => makeElf({ entry: 0, phoff: 2 ** 53 + 2, phdrs: [{ offset: 0, vaddr: 0, filesz: 0 }] }),
      /^kernel: ELF program header offset 0x20000000000002 is beyond any usable guest address$/],
    ['truncated segment data', () => { const e = goodElf(); return e.slice(0, e.length - 1); },
      'kernel: ELF segment 1 truncated (0x8 bytes at file offset 0x2000, file is 0x2007 bytes)'],
    ['a file size above the memory size', () => makeElf({ entry: 0x40100000, phdrs: [{ offset: 0x1000, vaddr: 0x40100000, filesz: 0x20, memsz: 0x10 }], payload: new Uint8Array(0x20) }),
      'kernel: ELF segment 0 file size 0x20 exceeds its memory size 0x10'],
    ['a segment outside RAM', () => makeElf({ entry: 0x50000000, phdrs: [{ offset: 0x1000, vaddr: 0x50000000, filesz: 0x1000 }], payload: new Uint8Array(0x1000) }),
      'kernel: ELF segment at 0x50000000 (size 0x1000) does not fit in RAM 0x40000000-0x48000000 or flash 0x0-0x8000000'],
    ['a segment running off the end of RAM', () => makeElf({ entry: 0x47fff000, phdrs: [{ offset: 0x1000, vaddr: 0x47fff000, filesz: 0x10, memsz: 0x2000 }], payload: new Uint8Array(0x10) }),
      'kernel: ELF segment at 0x47fff000 (size 0x2000) does not fit in RAM 0x40000000-0x48000000 or flash 0x0-0x8000000'],
    ['a segment in MMIO space', () => makeElf({ entry: 0x9000000, phdrs: [{ offset: 0x1000, vaddr: 0x9000000, filesz: 0x10 }], payload: new Uint8Array(0x10) }),
      /^kernel: ELF segment at 0x9000000 \(size 0x10\) does not fit in RAM/],
    ['a segment at a 64-bit physical address', () => makeElf({ entry: 0, phdrs: [{ offset: 0x1000, vaddr: 1n << 63n, filesz: 0x10 }], payload: new Uint8Array(0x10) }),
      'kernel: ELF segment 0 physical address 0x8000000000000000 is beyond any usable guest address'],
    ['a kernel linked high with its entry outside the segments', () => makeElf({ entry: 0xffff_8000_0000_0000n, phdrs: [{ offset: 0x1000, vaddr: 0x40100000, filesz: 0x10 }], payload: new Uint8Array(0x10) }),
      'kernel: ELF entry point 0xffff800000000000 is outside every loaded segment'],
    ['overlapping segments', () => makeElf({ entry: 0x40100000, phdrs: [
      { offset: 0x1000, vaddr: 0x40100000, filesz: 0x100 },
      { offset: 0x1000, vaddr: 0x40100080, filesz: 0x100 },
    ], payload: new Uint8Array(0x200) }), 'kernel: ELF segment at 0x40100080-0x40100180 overlaps the segment at 0x40100000-0x40100100'],
    ['many overlapping zero-filled segments (checked before anything is allocated)', () => makeElf({ entry: 0x40000000,
      phdrs: Array.from({ length: 200 }, () => ({ offset: 0x1000, vaddr: 0x40000000, filesz: 0, memsz: 100 * MiB })) }),
      'kernel: ELF segment at 0x40000000-0x46400000 overlaps the segment at 0x40000000-0x46400000'],
    ['no loadable segment', () => makeElf({ entry: 0, phdrs: [{ type: 4, offset: 0, vaddr: 0, filesz: 0x10 }] }),
      'kernel: ELF has no PT_LOAD segment with contents; expected at least one'],
    ['an entry point outside the segments', () => makeElf({ entry: 0x40000000, phdrs: [{ offset: 0x1000, vaddr: 0x40100000, filesz: 0x10 }], payload: new Uint8Array(0x10) }),
      'kernel: ELF entry point 0x40000000 is outside every loaded segment'],
  ];
  for (const [name, make, message] of bad) {
    it(`rejects ${name}`, () => expectImageError(() => loadImage(make(), 'kernel', RAM, 128 * MiB), message));
  }
});

describe('loadImage: raw images and firmware', () => {
  it('loads a headerless kernel at RAM base + 0x80000', () => {
    const img = loadImage(words(A64.systemOff), 'kernel', RAM, 128 * MiB);
    expect(img.format).toBe('raw');
    expect(img.entry).toBe(0x40080000);
    expect(img.segments).toEqual([{ addr: 0x40080000, data: words(A64.systemOff) }]);
    expect(img.kernelEnd).toBe(0x4008000c);
    expect(img.linuxBootProtocol).toBe(true);
  });

  it('rejects an empty kernel, a raw kernel too big for RAM, and compressed kernels', () => {
    expectImageError(() => loadImage(new Uint8Array(0), 'kernel', RAM, 128 * MiB), 'kernel: the file is empty');
    expectImageError(() => loadImage(new Uint8Array(0x80001), 'kernel', RAM, MiB),
      'kernel: raw image at 0x40080000 (size 0x80001) does not fit in RAM 0x40000000-0x40100000');
    expectImageError(() => loadImage(new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0]), 'kernel', RAM, 128 * MiB), /^kernel: gzip-compressed image; expected an uncompressed/);
    const zboot = new Uint8Array(64);
    zboot.set([0x4d, 0x5a, 0, 0, 0x7a, 0x69, 0x6d, 0x67]);
    expectImageError(() => loadImage(zboot, 'kernel', RAM, 128 * MiB), /^kernel: EFI zboot compressed image/);
  });

  it('puts firmware in flash bank 0 and starts it at address 0', () => {
    const fw = new Uint8Array(0x1000).fill(0xaa);
    const img = loadImage(fw, 'bios', RAM, 128 * MiB);
    expect(img).toEqual({ format: 'firmware', segments: [{ addr: 0, data: fw }], entry: 0, kernelStart: 0, kernelEnd: 0x1000, linuxBootProtocol: false });
  });

  it('rejects firmware that is empty, an ELF file, or larger than a flash bank', () => {
    expectImageError(() => loadImage(new Uint8Array(0), 'bios', RAM, 128 * MiB), 'bios: the file is empty');
    expectImageError(() => loadImage(goodElf(), 'bios', RAM, 128 * MiB), /^bios: this is an ELF file; expected a raw flash image/);
    expectImageError(() => loadImage(new Uint8Array(64 * MiB + 1), 'bios', RAM, 128 * MiB),
      'bios: image of 0x4000001 bytes does not fit in flash bank 0 (0x4000000 bytes at 0x0)');
  });

  it('rejects an unknown kind and nonsense RAM', () => {
    expectImageError(() => loadImage(new Uint8Array(4), 'initrd' as ImageKind, RAM, 128 * MiB), 'image kind "initrd": expected "kernel" or "bios"');
    expectImageError(() => loadImage(new Uint8Array(4), 'kernel', RAM, 0), 'RAM size 0 is not a valid byte count');
    expectImageError(() => loadImage(new Uint8Array(4), 'kernel', -1, 128 * MiB), 'RAM base -1 is not a valid address');
  });
});

describe('loadImage on garbage and truncated input', () => {
  // xorshift32: reproducible noise.
  let seed = 0x2545f491;
  const rand = (): number => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rand() & 0xff);

  /** Loads and insists that the only possible failure is an ImageError. */
  const attempt = (b: Uint8Array, kind: ImageKind = 'kernel'): LoadedImage | ImageError => {
    try {
      return loadImage(b, kind, RAM, 128 * MiB);
    } catch (e) {
      if (e instanceof ImageError) return e;
      throw e;
    }
  };

  it('loads headerless noise as a raw image, as QEMU does', () => {
    const b = noise(1000);
    b[0] = 0;
    const r = attempt(b);
    expect(r).not.toBeInstanceOf(ImageError);
    expect((r as LoadedImage).format).toBe('raw');
  });

  it('answers noise behind an ELF or Image signature with an ImageError or a valid load, never a crash', () => {
    for (let i = 0; i < 3000; i++) {
      const b = noise(rand() % 400);
      const pick = rand() % 4;
      if (pick >= 1 && b.length >= 4) b.set([0x7f, 0x45, 0x4c, 0x46]);
      if (pick >= 2 && b.length >= 7) b.set([2, 1, 1], 4);
      if (pick === 3 && b.length >= 20) b.set([183, 0], 18);
      if (pick === 0 && b.length >= 0x3c) b.set([0x41, 0x52, 0x4d, 0x64], 0x38);
      const r = attempt(b, rand() % 8 === 0 ? 'bios' : 'kernel');
      if (r instanceof ImageError) expect(r.message).not.toContain('\n');
    }
  });

  it('rejects every proper prefix of a valid ELF that cuts into its segments', () => {
    const elf = goodElf();
    for (let n = 0; n < elf.length; n++) {
      const r = attempt(elf.slice(0, n));
      // A prefix that is not even an ELF signature is a (tiny) raw image.
      if (n < 4) expect(r instanceof ImageError || (r as LoadedImage).format === 'raw').toBe(true);
      else expect(r, `prefix of ${n} bytes`).toBeInstanceOf(ImageError);
    }
  });

  it('survives single-byte corruption anywhere in an ELF header and program headers', () => {
    const elf = goodElf();
    for (let off = 0; off < 64 + 2 * 56; off++) {
      for (const v of [0x00, 0xff, 0x80, 0x7f, 0x01]) {
        const b = elf.slice();
        b[off] = v;
        attempt(b);
      }
    }
  });
});

describe('placement of the initrd and the DTB', () => {
  const raw = (ramSize: number) => loadImage(words(A64.systemOff), 'kernel', RAM, ramSize);

  it('puts the initrd 128 MiB into RAM, or halfway into smaller RAM', () => {
    expect(placeInitrd(raw(64 * MiB), 0x1000, RAM, 64 * MiB)).toEqual({ start: 0x42000000, end: 0x42001000 });
    expect(placeInitrd(raw(128 * MiB), 0x1000, RAM, 128 * MiB).start).toBe(0x44000000);
    expect(placeInitrd(raw(256 * MiB), 0x1000, RAM, 256 * MiB).start).toBe(0x48000000);
    expect(placeInitrd(raw(4096 * MiB), 0x1000, RAM, 4096 * MiB).start).toBe(0x48000000);
  });

  it('moves the initrd past a kernel that reaches beyond that point, page aligned', () => {
    const k = loadImage(makeArm64Image({ textOffset: 0n, imageSize: BigInt(150 * MiB + 5) }), 'kernel', RAM, 512 * MiB);
    expect(placeInitrd(k, 10, RAM, 512 * MiB).start).toBe(0x40200000 + 150 * MiB + 0x1000);
  });

  it('says so when the initrd does not fit', () => {
    expectImageError(() => placeInitrd(raw(128 * MiB), 65 * MiB, RAM, 128 * MiB),
      'initrd: 0x4100000 bytes at 0x44000000 do not fit in RAM 0x40000000-0x48000000 after the kernel');
    const k = loadImage(makeArm64Image({ textOffset: 0n, imageSize: BigInt(126 * MiB) }), 'kernel', RAM, 128 * MiB);
    expectImageError(() => placeInitrd(k, 1, RAM, 128 * MiB),
      'initrd: no room after the kernel (kernel ends at 0x48000000, RAM 0x40000000-0x48000000)');
  });

  it('puts the DTB 2 MiB aligned after the initrd, or after its nominal place without one', () => {
    const k = raw(256 * MiB);
    const initrd = placeInitrd(k, 3000 * 1024, RAM, 256 * MiB);
    expect(placeDtb({ image: k, initrd, dtbSize: 0x2000, ramBase: RAM, ramSize: 256 * MiB })).toBe(0x48400000);
    expect(placeDtb({ image: raw(128 * MiB), dtbSize: 0x2000, ramBase: RAM, ramSize: 128 * MiB })).toBe(0x44000000);
  });

  it('puts the DTB at the base of RAM for firmware, and for an ELF that leaves room there', () => {
    const fw = loadImage(new Uint8Array(16), 'bios', RAM, 128 * MiB);
    expect(placeDtb({ image: fw, dtbSize: 0x2000, ramBase: RAM, ramSize: 128 * MiB })).toBe(RAM);
    const elf = loadImage(goodElf(), 'kernel', RAM, 128 * MiB);
    expect(placeDtb({ image: elf, dtbSize: 0x2000, ramBase: RAM, ramSize: 128 * MiB })).toBe(RAM);
    // Too big for the gap below the ELF: fall back to the Linux rule.
    expect(placeDtb({ image: elf, dtbSize: 0x100001, ramBase: RAM, ramSize: 128 * MiB })).toBe(0x44000000);
    const atBase = loadImage(makeElf({ entry: RAM, phdrs: [{ offset: 0x1000, vaddr: RAM, filesz: 0x10 }], payload: new Uint8Array(0x10) }), 'kernel', RAM, 128 * MiB);
    expect(placeDtb({ image: atBase, dtbSize: 0x2000, ramBase: RAM, ramSize: 128 * MiB })).toBe(0x44000000);
  });

  it('says so when the DTB does not fit in RAM or below 4 GiB', () => {
    expectImageError(() => placeDtb({ image: raw(4 * MiB), dtbSize: 3 * MiB, ramBase: RAM, ramSize: 4 * MiB }),
      'DTB: 0x300000 bytes at 0x40200000 do not fit in RAM 0x40000000-0x40400000 after the kernel and initrd');
    const ram = 8192 * MiB;
    const k = raw(ram);
    const initrd = placeInitrd(k, 3072 * MiB, RAM, ram);
    expectImageError(() => placeDtb({ image: k, initrd, dtbSize: 0x2000, ramBase: RAM, ramSize: ram }),
      /^DTB: 0x2000 bytes at 0x108000000 would end above 4 GiB/);
    expectImageError(() => placeDtb({ image: k, dtbSize: 0, ramBase: RAM, ramSize: ram }), 'DTB: size 0 is not a byte count');
  });
});

describe('entry and DTB address agree with QEMU', () => {
  const dtbSize = (ramSize: number) =>
    buildVirtDeviceTree({ ramBase: RAM, ramSize, cpus: 1, gicVersion: 2, psciMethod: 'hvc' }).length;

  const cases: Array<{ name: string; kernel: Uint8Array; ramMiB: number; initrd?: number }> = [
    { name: 'raw image, 128 MiB', kernel: words(A64.systemOff), ramMiB: 128 },
    { name: 'raw image, 256 MiB, 3000 KiB initrd', kernel: words(A64.systemOff), ramMiB: 256, initrd: 3000 * 1024 },
    { name: 'Image with text_offset 0', kernel: makeArm64Image({ textOffset: 0n, imageSize: 0x10000n }), ramMiB: 128 },
    { name: 'Image with text_offset 0x80000', kernel: makeArm64Image({ textOffset: 0x80000n, imageSize: 0x10000n }), ramMiB: 128 },
    { name: 'pre-3.17 Image (image_size 0)', kernel: makeArm64Image({ textOffset: 0n, imageSize: 0n }), ramMiB: 64 },
    { name: 'Image larger than 128 MiB, with initrd', kernel: makeArm64Image({ textOffset: 0n, imageSize: BigInt(200 * MiB) }), ramMiB: 512, initrd: MiB },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ramSize = c.ramMiB * MiB;
      const img = loadImage(c.kernel, 'kernel', RAM, ramSize);
      const initrd = c.initrd === undefined ? undefined : placeInitrd(img, c.initrd, RAM, ramSize);
      const dtb = placeDtb({ image: img, initrd, dtbSize: dtbSize(ramSize), ramBase: RAM, ramSize });
      const trace = qemuBootTrace({ ramMiB: c.ramMiB, kernel: c.kernel, initrd: c.initrd === undefined ? undefined : new Uint8Array(c.initrd) });
      const atEntry = trace.find((s) => s.pc === BigInt(img.entry));
      expect(atEntry, `QEMU never reached our entry point 0x${img.entry.toString(16)}; it ran ${trace.map((s) => s.pc.toString(16)).join(', ')}`).toBeDefined();
      expect(`0x${atEntry!.x[0]!.toString(16)}`).toBe(`0x${dtb.toString(16)}`);
    });
  }

  it('ELF: entered at e_entry with the DTB at the base of RAM', () => {
    const code = words([A64.movzX2RamBase, A64.ldrW1X2, A64.bNext, ...A64.systemOff]);
    const elf = makeElf({ entry: 0x40100000, phdrs: [{ offset: 0x1000, vaddr: 0x40100000, filesz: code.length }], payload: code });
    const img = loadImage(elf, 'kernel', RAM, 128 * MiB);
    expect(placeDtb({ image: img, dtbSize: dtbSize(128 * MiB), ramBase: RAM, ramSize: 128 * MiB })).toBe(RAM);
    const trace = qemuBootTrace({ ramMiB: 128, kernel: elf });
    expect(trace[0]!.pc).toBe(0x40100000n);
    // After `ldr w1, [x2]` with x2 at the base of RAM, w1 holds the DTB magic
    // 0xd00dfeed as read little-endian.
    const after = trace.find((s) => s.pc === 0x4010000cn);
    expect(after?.x[1]).toBe(0xedfe0dd0n);
  });
});
