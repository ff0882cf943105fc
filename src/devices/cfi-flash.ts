// One bank of the CFI parallel NOR flash on QEMU's virt board: an Intel/Sharp
// command set (CFI command set 0001) device the way QEMU's pflash_cfi01 model
// presents it there, two 16-bit chips side by side on a 32-bit bus.
//
// The bank's bytes are a memslot of guest memory. In read-array mode the guest
// reads that memory directly (QEMU's ROMD mode) and only its writes, which are
// commands, reach this model. The first command cycle hands every access of
// the bank to the model (reads then return status, identifiers or the CFI
// table) until the guest returns the chip to read-array mode. Programming and
// erasing change the memslot in place; the host side is told which bytes
// changed so that decoded code over them is dropped. Nothing is persisted.
import type { MmioDevice } from './mmio-device.js';

/** Where a bank's contents live and how the model tells the machine about mode and content changes. */
export interface CfiFlashBacking {
  /** The bank's bytes: a view of its memslot in guest memory. */
  readonly storage: Uint8Array;
  /**
   * true while the chip is in a command mode: every access of the bank must
   * come to the model. false: reads may hit `storage` directly again.
   */
  setCommandMode(on: boolean): void;
  /** Bytes [offset, offset+length) of the bank were programmed or erased. */
  contentsChanged(offset: number, length: number): void;
}

export interface CfiFlashGeometry {
  /** Bytes per erase block as the guest sees the bank (all chips together). */
  readonly sectorSize: number;
  /** Bytes per bus access the bank answers: the chips' widths added up. */
  readonly bankWidth: number;
  /** Bytes per access of one chip. */
  readonly deviceWidth: number;
  /** Manufacturer and device codes the Read Identifier command returns, per chip. */
  readonly manufacturerId: number;
  readonly deviceId: number;
}

/** The geometry QEMU gives each of the virt board's two banks (hw/arm/virt.c): Intel ids 0x89/0x18. */
export const VIRT_FLASH_GEOMETRY: CfiFlashGeometry = {
  sectorSize: 256 * 1024,
  bankWidth: 4,
  deviceWidth: 2,
  manufacturerId: 0x89,
  deviceId: 0x18,
};

// Commands (first bus cycle), Intel/Sharp command set.
const CMD_READ_ARRAY_QEMU = 0x00;
const CMD_PROGRAM = 0x10;
const CMD_BLOCK_ERASE = 0x20;
const CMD_BLOCK_ERASE_ALT = 0x28;
const CMD_PROGRAM_ALT = 0x40;
const CMD_CLEAR_STATUS = 0x50;
const CMD_LOCK_SETUP = 0x60;
const CMD_READ_STATUS = 0x70;
const CMD_READ_ID = 0x90;
const CMD_CFI_QUERY = 0x98;
const CMD_BUFFERED_PROGRAM = 0xe8;
const CMD_AMD_RESET = 0xf0;
const CMD_READ_ARRAY = 0xff;
// Second-cycle codes.
const CONFIRM = 0xd0;
const LOCK_BLOCK = 0x01;

// Status register bits.
const SR_READY = 0x80;
const SR_PROGRAM_ERROR = 0x10;

const CFI_TABLE_SIZE = 0x52;
/** log2 of the largest buffered program one chip accepts (CFI 0x2A). */
const WRITE_BUFFER_LOG2 = 11;

function ctz32(n: number): number {
  return 31 - Math.clz32(n & -n);
}

/** The CFI query table of one chip of the bank, as QEMU fills it. */
function buildCfiTable(bankSize: number, g: CfiFlashGeometry): Uint8Array {
  const t = new Uint8Array(CFI_TABLE_SIZE);
  const chips = g.bankWidth / g.deviceWidth;
  // Each chip holds every block, with its share of each block's bytes.
  const blocks = bankSize / g.sectorSize;
  const chipSectorSize = g.sectorSize / chips;
  const chipSize = chipSectorSize * blocks;
  t.set([0x51, 0x52, 0x59], 0x10); // "QRY"
  t[0x13] = 0x01; // primary command set: Intel/Sharp extended
  t[0x14] = 0x00;
  t[0x15] = 0x31; // primary extended table at 0x31
  t[0x16] = 0x00;
  t[0x1b] = 0x45; // Vcc 4.5 V min
  t[0x1c] = 0x55; // Vcc 5.5 V max
  t[0x1f] = 0x07; // typical word program: 2^7 us
  t[0x20] = 0x07; // typical buffer program: 2^7 us
  t[0x21] = 0x0a; // typical block erase: 2^10 ms
  t[0x22] = 0x00; // no chip erase
  t[0x23] = 0x04; // maximum = typical * 2^4, for each of the above
  t[0x24] = 0x04;
  t[0x25] = 0x04;
  t[0x26] = 0x00;
  t[0x27] = ctz32(chipSize); // chip size: 2^n bytes
  t[0x28] = 0x02; // x8/x16 interface
  t[0x29] = 0x00;
  t[0x2a] = g.bankWidth === 1 ? 8 : WRITE_BUFFER_LOG2;
  t[0x2b] = 0x00;
  t[0x2c] = 0x01; // one erase block region, uniform blocks
  t[0x2d] = (blocks - 1) & 0xff;
  t[0x2e] = ((blocks - 1) >> 8) & 0xff;
  t[0x2f] = (chipSectorSize >> 8) & 0xff;
  t[0x30] = (chipSectorSize >> 16) & 0xff;
  t.set([0x50, 0x52, 0x49, 0x31, 0x30], 0x31); // "PRI" version "1" "0"
  t[0x3f] = 0x01; // one protection field
  return t;
}

export class CfiFlash implements MmioDevice {
  readonly name: string;
  readonly size: number;
  private readonly storage: Uint8Array;
  private readonly geometry: CfiFlashGeometry;
  private readonly backing: CfiFlashBacking;
  private readonly cfi: Uint8Array;
  /** Bytes one buffered program may cover: one chip's buffer times the chips. */
  readonly writeBufferSize: number;
  /** Shift from a bus offset to a chip's word address. */
  private readonly addressShift: number;
  private cmd = CMD_READ_ARRAY_QEMU;
  /** Which cycle of a multi-cycle command comes next; 0 when none is open. */
  private cycle = 0;
  private status = SR_READY;
  private commandMode = false;
  /** Words still expected by a buffered program, minus one. */
  private counter = 0;
  /** The staged buffered program: bank offset of its window, or -1 while none is open. */
  private bufferOffset = -1;
  private readonly buffer: Uint8Array;

  constructor(name: string, backing: CfiFlashBacking, geometry: CfiFlashGeometry = VIRT_FLASH_GEOMETRY) {
    const { sectorSize, bankWidth, deviceWidth } = geometry;
    const size = backing.storage.length;
    const pow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
    if (![1, 2, 4].includes(bankWidth) || ![1, 2, 4].includes(deviceWidth) || deviceWidth > bankWidth) {
      throw new Error(`${name}: bank width ${bankWidth} and device width ${deviceWidth}: expected 1, 2 or 4 bytes, device no wider than the bank`);
    }
    if (!pow2(sectorSize) || size % sectorSize !== 0 || size === 0) {
      throw new Error(`${name}: ${size} bytes is not a whole number of ${sectorSize}-byte sectors`);
    }
    this.name = name;
    this.size = size;
    this.storage = backing.storage;
    this.backing = backing;
    this.geometry = geometry;
    this.cfi = buildCfiTable(size, geometry);
    this.writeBufferSize = (1 << this.cfi[0x2a]) * (bankWidth / deviceWidth);
    this.buffer = new Uint8Array(this.writeBufferSize);
    // Chips are used at their full width, so a chip's word address is the
    // bus offset divided by the bank width.
    this.addressShift = ctz32(bankWidth);
  }

  /** The CFI table of one chip, for inspection. */
  get cfiTable(): Uint8Array {
    return this.cfi.slice();
  }

  /** Whether the chip is in a command mode (all accesses come to the model). */
  get inCommandMode(): boolean {
    return this.commandMode;
  }

  reset(): void {
    this.cmd = CMD_READ_ARRAY_QEMU;
    this.cycle = 0;
    this.status = SR_READY;
    this.bufferOffset = -1;
    this.setCommandMode(false);
  }

  read(offset: number, size: number): number {
    const mask = size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    switch (this.cmd) {
      case CMD_READ_ARRAY_QEMU:
        return this.readData(offset, size);
      case CMD_PROGRAM:
      case CMD_PROGRAM_ALT:
      case CMD_BLOCK_ERASE:
      case CMD_BLOCK_ERASE_ALT:
      case CMD_CLEAR_STATUS:
      case CMD_LOCK_SETUP:
      case CMD_READ_STATUS:
      case CMD_BUFFERED_PROGRAM:
        // Every chip on the bus answers with its own (identical) status.
        return this.replicate(this.status & 0xff, Math.min(size, this.geometry.bankWidth)) & mask;
      case CMD_READ_ID:
        return this.idQuery(offset) & mask;
      case CMD_CFI_QUERY:
        return this.cfiQuery(offset) & mask;
      default:
        // Not reachable: every stored command is one of the above.
        this.enterReadArray();
        return this.readData(offset, size);
    }
  }

  write(offset: number, size: number, value: number): void {
    const cmd = value & 0xff;
    if (this.cycle === 0) this.setCommandMode(true);
    switch (this.cycle) {
      case 0:
        switch (cmd) {
          case CMD_READ_ARRAY_QEMU:
          case CMD_READ_ARRAY:
          case CMD_AMD_RESET:
            this.enterReadArray();
            return;
          case CMD_CLEAR_STATUS:
            // The error bits clear; the state machine stays ready, as it
            // always is here (every operation completes at once).
            this.status = SR_READY;
            this.enterReadArray();
            return;
          case CMD_READ_STATUS:
          case CMD_READ_ID:
            this.cmd = cmd;
            return;
          case CMD_PROGRAM:
          case CMD_PROGRAM_ALT:
          case CMD_BLOCK_ERASE:
          case CMD_LOCK_SETUP:
          case CMD_CFI_QUERY:
            break;
          case CMD_BUFFERED_PROGRAM:
            // Reading now returns the extended status: a buffer is free.
            this.status |= SR_READY;
            break;
          default:
            this.enterReadArray();
            return;
        }
        this.cmd = cmd;
        this.cycle = 1;
        return;
      case 1:
        switch (this.cmd) {
          case CMD_PROGRAM:
          case CMD_PROGRAM_ALT:
            // QEMU stores the word as written rather than ANDing it into
            // the cell the way NOR cells can only clear bits; guests erase
            // first either way.
            this.storeData(offset, size, value);
            this.backing.contentsChanged(offset, size);
            this.status |= SR_READY;
            this.cycle = 0;
            return;
          case CMD_BLOCK_ERASE:
          case CMD_BLOCK_ERASE_ALT:
            if (cmd === CONFIRM) {
              // The erase happens at the confirm cycle, as the command set
              // defines it (QEMU 7.2 erases already at the setup cycle; a
              // well-formed sequence cannot tell the difference).
              this.eraseBlock(offset);
              this.status |= SR_READY;
              this.cycle = 0;
            } else {
              this.enterReadArray();
            }
            return;
          case CMD_BUFFERED_PROGRAM:
            // The word count minus one, as every chip receives it.
            this.counter = value & (this.geometry.deviceWidth >= 4 ? 0xffffffff : (1 << (this.geometry.deviceWidth * 8)) - 1);
            this.cycle = 2;
            return;
          case CMD_LOCK_SETUP:
            // QEMU accepts lock (0x01) and unlock (0xD0) and keeps no lock
            // bits: blocks always read as unlocked and stay writable.
            if (cmd === CONFIRM || cmd === LOCK_BLOCK) {
              this.status |= SR_READY;
              this.cycle = 0;
            } else {
              this.enterReadArray();
            }
            return;
          case CMD_CFI_QUERY:
            // Only Read Array leaves query mode; QEMU ignores anything else.
            if (cmd === CMD_READ_ARRAY) this.enterReadArray();
            return;
          default:
            this.enterReadArray();
            return;
        }
      case 2:
        if (this.cmd !== CMD_BUFFERED_PROGRAM) {
          this.enterReadArray();
          return;
        }
        this.bufferData(offset, size, value);
        if (this.counter === 0) this.cycle = 3;
        else this.counter--;
        return;
      case 3:
        if (this.cmd === CMD_BUFFERED_PROGRAM && cmd === CONFIRM && (this.status & SR_PROGRAM_ERROR) === 0) {
          this.commitBuffer();
          this.status |= SR_READY;
          this.cycle = 0;
        } else {
          // Anything but a clean confirm abandons the staged data.
          this.bufferOffset = -1;
          this.enterReadArray();
        }
        return;
      default:
        this.enterReadArray();
    }
  }

  private enterReadArray(): void {
    this.cmd = CMD_READ_ARRAY_QEMU;
    this.cycle = 0;
    this.setCommandMode(false);
  }

  private setCommandMode(on: boolean): void {
    if (on === this.commandMode) return;
    this.commandMode = on;
    this.backing.setCommandMode(on);
  }

  private readData(offset: number, size: number): number {
    const s = this.storage;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (offset + i < this.size ? s[offset + i] : 0);
    return v >>> 0;
  }

  private storeData(offset: number, size: number, value: number): void {
    for (let i = 0; i < size && offset + i < this.size; i++) this.storage[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  private eraseBlock(offset: number): void {
    const start = offset & ~(this.geometry.sectorSize - 1);
    this.storage.fill(0xff, start, start + this.geometry.sectorSize);
    this.backing.contentsChanged(start, this.geometry.sectorSize);
  }

  /**
   * Stages one write of a buffered program. The window is the aligned write
   * buffer holding the first word; a word outside it is a programming error.
   */
  private bufferData(offset: number, size: number, value: number): void {
    if (this.bufferOffset === -1) {
      this.bufferOffset = offset & ~(this.writeBufferSize - 1);
      this.buffer.set(this.storage.subarray(this.bufferOffset, this.bufferOffset + this.writeBufferSize));
    }
    const rel = offset - this.bufferOffset;
    if (rel < 0 || rel + size > this.writeBufferSize) {
      this.status |= SR_PROGRAM_ERROR;
      return;
    }
    for (let i = 0; i < size; i++) this.buffer[rel + i] = (value >>> (8 * i)) & 0xff;
    this.status |= SR_READY;
  }

  private commitBuffer(): void {
    if (this.bufferOffset === -1) return;
    this.storage.set(this.buffer, this.bufferOffset);
    this.backing.contentsChanged(this.bufferOffset, this.writeBufferSize);
    this.bufferOffset = -1;
  }

  /** A per-chip value as the bus sees it: each chip drives its own lanes. */
  private replicate(value: number, width: number): number {
    const dw = this.geometry.deviceWidth;
    let v = value;
    for (let i = dw; i < width; i += dw) v |= value * 2 ** (8 * i);
    return v >>> 0;
  }

  private idQuery(offset: number): number {
    // Word 0 is the manufacturer, word 1 the device; words 2 and 3 of each
    // block (its lock status) read as zero: unlocked.
    switch ((offset >>> this.addressShift) & 0xff) {
      case 0: return this.replicate(this.geometry.manufacturerId, this.geometry.bankWidth);
      case 1: return this.replicate(this.geometry.deviceId, this.geometry.bankWidth);
      default: return 0;
    }
  }

  private cfiQuery(offset: number): number {
    const index = offset >>> this.addressShift;
    if (index >= CFI_TABLE_SIZE) return 0;
    return this.replicate(this.cfi[index], this.geometry.bankWidth);
  }
}
