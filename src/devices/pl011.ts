// The Arm PrimeCell PL011 UART as QEMU's virt board has it at 0x09000000.
// Transmit goes straight to the embedder's callback; received bytes wait in a
// FIFO until the guest reads them. The combined interrupt output (SPI 1 on
// the virt board) is high while any raw interrupt is unmasked (RIS & IMSC).
import type { MmioDevice } from './mmio-device.js';

const DR = 0x000;
const RSR = 0x004;
const FR = 0x018;
const ILPR = 0x020;
const IBRD = 0x024;
const FBRD = 0x028;
const LCR_H = 0x02c;
const CR = 0x030;
const IFLS = 0x034;
const IMSC = 0x038;
const RIS = 0x03c;
const MIS = 0x040;
const ICR = 0x044;
const DMACR = 0x048;

const FR_RXFE = 1 << 4;
const FR_TXFE = 1 << 7;
const FR_RXFF = 1 << 6;

const INT_RX = 1 << 4;
const INT_TX = 1 << 5;

const RX_FIFO_DEPTH = 16;

// PrimeCell identification: PL011 r1p5, as QEMU reports it.
const ID_BYTES = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

export class Pl011 implements MmioDevice {
  readonly name = 'pl011';
  private rx: number[] = [];
  private ibrd = 0;
  private fbrd = 0;
  private lcr = 0;
  private cr = 0x300;
  private ifls = 0x12;
  private imsc = 0;
  private ris = INT_TX;
  private dmacr = 0;
  private ilpr = 0;
  private level = false;
  /** Told when the interrupt output changes. */
  onInterrupt: (level: boolean) => void = () => undefined;

  constructor(private readonly transmit: (byte: number) => void) {}

  private update(): void {
    const level = (this.ris & this.imsc) !== 0;
    if (level === this.level) return;
    this.level = level;
    this.onInterrupt(level);
  }

  reset(): void {
    this.rx = [];
    this.ibrd = this.fbrd = this.lcr = this.imsc = this.dmacr = this.ilpr = 0;
    this.cr = 0x300;
    this.ifls = 0x12;
    this.ris = INT_TX;
    this.update();
  }

  /** Bytes typed at the console; dropped beyond the FIFO depth, as a real UART overruns. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) if (this.rx.length < RX_FIFO_DEPTH) this.rx.push(b);
    if (this.rx.length > 0) this.ris |= INT_RX;
    this.update();
  }

  read(offset: number): number {
    if (offset >= 0xfe0 && offset < 0x1000) return ID_BYTES[(offset - 0xfe0) >> 2];
    switch (offset) {
      case DR: {
        const b = this.rx.shift() ?? 0;
        if (this.rx.length === 0) this.ris &= ~INT_RX;
        this.update();
        return b;
      }
      case RSR: return 0;
      case FR:
        return FR_TXFE | (this.rx.length === 0 ? FR_RXFE : 0) | (this.rx.length >= RX_FIFO_DEPTH ? FR_RXFF : 0);
      case ILPR: return this.ilpr;
      case IBRD: return this.ibrd;
      case FBRD: return this.fbrd;
      case LCR_H: return this.lcr;
      case CR: return this.cr;
      case IFLS: return this.ifls;
      case IMSC: return this.imsc;
      case RIS: return this.ris;
      case MIS: return this.ris & this.imsc;
      case DMACR: return this.dmacr;
      default: return 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    switch (offset) {
      case DR:
        this.transmit(value & 0xff);
        this.ris |= INT_TX;
        this.update();
        return;
      case RSR: return;
      case ILPR: this.ilpr = value & 0xff; return;
      case IBRD: this.ibrd = value & 0xffff; return;
      case FBRD: this.fbrd = value & 0x3f; return;
      case LCR_H: this.lcr = value & 0xff; return;
      case CR: this.cr = value & 0xffff; return;
      case IFLS: this.ifls = value & 0x3f; return;
      case IMSC: this.imsc = value & 0x7ff; this.update(); return;
      case ICR: this.ris &= ~value; this.update(); return;
      case DMACR: this.dmacr = value & 7; return;
      default: return;
    }
  }
}
