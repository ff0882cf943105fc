// A minimal static AArch64 ELF executable: one PT_LOAD per segment, no
// sections. qemu-aarch64 maps a static ET_EXEC at the addresses its program
// headers give, which is what lets warmboot run the same bytes at the same
// addresses and compare register values that hold addresses.

export interface ElfSegment {
  readonly vaddr: number;
  readonly bytes: Uint8Array;
  /** Bytes mapped, zero-filled past `bytes` (defaults to the length of `bytes`). */
  readonly memSize?: number;
  readonly executable: boolean;
  readonly writable: boolean;
}

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const PAGE = 0x1000;

const PT_LOAD = 1;
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;
const EM_AARCH64 = 183;
const ET_EXEC = 2;

export function buildStaticElf(entry: number, segments: readonly ElfSegment[]): Uint8Array {
  // File offsets must be congruent to the vaddrs modulo the page size, so
  // every segment starts on a page boundary of the file.
  let offset = PAGE;
  const placed = segments.map((s) => {
    if (s.vaddr % PAGE !== 0) throw new Error(`segment at 0x${s.vaddr.toString(16)} is not page aligned`);
    const at = offset;
    offset += Math.ceil(s.bytes.length / PAGE) * PAGE;
    return { s, at };
  });
  const file = new Uint8Array(offset);
  const dv = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // ELF64, little-endian, version 1, SysV ABI
  dv.setUint16(16, ET_EXEC, true);
  dv.setUint16(18, EM_AARCH64, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(entry), true);
  dv.setBigUint64(32, BigInt(EHDR_SIZE), true); // e_phoff
  dv.setBigUint64(40, 0n, true); // e_shoff: no section headers
  dv.setUint32(48, 0, true);
  dv.setUint16(52, EHDR_SIZE, true);
  dv.setUint16(54, PHDR_SIZE, true);
  dv.setUint16(56, placed.length, true);
  dv.setUint16(58, 64, true); // e_shentsize
  dv.setUint16(60, 0, true);
  dv.setUint16(62, 0, true);
  placed.forEach(({ s, at }, i) => {
    const p = EHDR_SIZE + i * PHDR_SIZE;
    dv.setUint32(p, PT_LOAD, true);
    dv.setUint32(p + 4, PF_R | (s.writable ? PF_W : 0) | (s.executable ? PF_X : 0), true);
    dv.setBigUint64(p + 8, BigInt(at), true);
    dv.setBigUint64(p + 16, BigInt(s.vaddr), true);
    dv.setBigUint64(p + 24, BigInt(s.vaddr), true);
    dv.setBigUint64(p + 32, BigInt(s.bytes.length), true);
    dv.setBigUint64(p + 40, BigInt(Math.max(s.memSize ?? 0, s.bytes.length)), true);
    dv.setBigUint64(p + 48, BigInt(PAGE), true);
    file.set(s.bytes, at);
  });
  return file;
}
