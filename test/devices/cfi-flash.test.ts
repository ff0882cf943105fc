// The CFI flash model against the behaviour of QEMU's pflash_cfi01 as the
// virt board configures it (two x16 chips on a 32-bit bus, Intel ids
// 0x89/0x18, 256 KiB sectors, 64 MiB banks), and against the Intel/Sharp
// command set where QEMU 7.2 departs from it (noted where it matters).
import { describe, expect, it } from 'vitest';
import { CfiFlash, VIRT_FLASH_GEOMETRY } from '../../src/devices/cfi-flash.js';

const BANK = 64 * 1024 * 1024;
const SECTOR = 256 * 1024;

function makeFlash(fill = 0) {
  const storage = new Uint8Array(BANK);
  if (fill) storage.fill(fill);
  const modes: boolean[] = [];
  const changes: [number, number][] = [];
  const flash = new CfiFlash('flash1', {
    storage,
    setCommandMode: (on) => modes.push(on),
    contentsChanged: (offset, length) => changes.push([offset, length]),
  }, VIRT_FLASH_GEOMETRY);
  const w = (offset: number, value: number, size = 4) => flash.write(offset, size, value);
  const r = (offset: number, size = 4) => flash.read(offset, size);
  return { flash, storage, modes, changes, w, r };
}

/** A command as a driver writes it to a 32-bit bank of two x16 chips: once per chip. */
const both = (cmd: number) => (cmd | (cmd << 16)) >>> 0;

describe('CFI flash: query and identification', () => {
  it('answers the CFI query with "QRY" and QEMU\'s table, replicated on both chips', () => {
    const { w, r, modes } = makeFlash();
    w(0x55 * 4, both(0x98));
    expect(modes).toEqual([true]);
    // Chip word n is at bus offset 4n; each chip drives its own 16 bits.
    expect(r(0x10 * 4)).toBe(0x00510051); // 'Q'
    expect(r(0x11 * 4)).toBe(0x00520052); // 'R'
    expect(r(0x12 * 4)).toBe(0x00590059); // 'Y'
    const table = Array.from({ length: 0x40 }, (_, i) => r(i * 4) & 0xff);
    expect(table.slice(0x13, 0x17)).toEqual([0x01, 0x00, 0x31, 0x00]); // Intel command set, PRI at 0x31
    expect(table.slice(0x1b, 0x27)).toEqual([0x45, 0x55, 0, 0, 0x07, 0x07, 0x0a, 0x00, 0x04, 0x04, 0x04, 0x00]);
    expect(table[0x27]).toBe(25); // each chip 32 MiB
    expect(table.slice(0x28, 0x2c)).toEqual([0x02, 0x00, 0x0b, 0x00]); // x8/x16, 2 KiB write buffer per chip
    // One region of 256 blocks of 128 KiB per chip (256 KiB across the pair).
    expect(table.slice(0x2c, 0x31)).toEqual([0x01, 0xff, 0x00, 0x00, 0x02]);
    expect(String.fromCharCode(...table.slice(0x31, 0x36))).toBe('PRI10');
    expect(table[0x3f]).toBe(0x01);
    // Past the end of the table reads 0.
    expect(r(0x52 * 4)).toBe(0);
    expect(r(0x1000)).toBe(0);
  });

  it('answers narrower reads from the same word, as QEMU does', () => {
    const { w, r } = makeFlash();
    w(0, both(0x98));
    expect(r(0x40, 2)).toBe(0x0051);
    expect(r(0x42, 2)).toBe(0x0051);
    expect(r(0x41, 1)).toBe(0x51);
    expect(r(0x44, 1)).toBe(0x52);
  });

  it('stays in query mode until Read Array (QEMU ignores 0xF0 there)', () => {
    const { w, r, modes, storage } = makeFlash();
    storage.set([1, 2, 3, 4], 0x40);
    w(0, both(0x98));
    w(0, both(0xf0));
    expect(r(0x40)).toBe(0x00510051);
    w(0, both(0xff));
    expect(modes).toEqual([true, false]);
    // Read-array mode reads the array (the machine serves these from memory).
    expect(r(0x40)).toBe(0x04030201);
  });

  it('returns the manufacturer and device codes, and unlocked blocks, for Read Identifier', () => {
    const { w, r } = makeFlash();
    w(0, both(0x90));
    expect(r(0)).toBe(0x00890089);
    expect(r(4)).toBe(0x00180018);
    expect(r(0, 2)).toBe(0x0089);
    // Block lock status (word 2 of each block) reads 0: unlocked.
    expect(r(8)).toBe(0);
    expect(r(SECTOR + 8)).toBe(0);
    // Identifier reads repeat every 256 words.
    expect(r(0x400)).toBe(0x00890089);
    w(0, both(0xff));
    expect(r(0)).toBe(0);
  });

  it('switches between identification, query and status without Read Array in between', () => {
    const { w, r, modes } = makeFlash();
    w(0, both(0x90));
    w(0, both(0x70));
    expect(r(0)).toBe(0x00800080);
    w(0, both(0x90));
    expect(r(4)).toBe(0x00180018);
    w(0, both(0x98));
    expect(r(0x40)).toBe(0x00510051);
    expect(modes).toEqual([true]);
  });
});

describe('CFI flash: status', () => {
  it('reads the status register after 0x70, on every chip lane', () => {
    const { w, r } = makeFlash();
    w(0x1234, both(0x70));
    expect(r(0)).toBe(0x00800080);
    expect(r(0, 2)).toBe(0x0080);
    expect(r(0x3000000, 1)).toBe(0x80);
  });

  it('goes back to read-array mode on 0xFF, 0xF0, 0x00 and unknown commands', () => {
    for (const exit of [0xff, 0xf0, 0x00, 0x42]) {
      const { w, r, modes, storage } = makeFlash();
      storage.set([0xaa, 0xbb, 0xcc, 0xdd], 0);
      w(0, both(0x70));
      w(0, both(exit));
      expect(modes).toEqual([true, false]);
      expect(r(0)).toBe(0xddccbbaa);
    }
  });

  it('clears error bits with 0x50 and returns to read-array mode', () => {
    const { w, r, modes } = makeFlash();
    // A buffered program whose data leaves its window fails with SR.4.
    w(0, both(0xe8));
    w(0, both(1));
    w(0x0, 0x11111111);
    w(0x10000, 0x11111111);
    expect(r(0)).toBe(0x00900090);
    w(0, both(0xd0)); // refused: the sequence had an error, so read-array mode
    expect(modes).toEqual([true, false]);
    w(0, both(0x70));
    expect(r(0)).toBe(0x00900090);
    w(0, both(0x50));
    expect(modes).toEqual([true, false, true, false]);
    w(0, both(0x70));
    expect(r(0)).toBe(0x00800080);
  });
});

describe('CFI flash: program and erase', () => {
  it('erases the 256 KiB sector holding the address on 0x20, 0xD0', () => {
    const { w, r, storage, changes } = makeFlash(0x5a);
    w(3 * SECTOR + 0x1230, both(0x20));
    expect(storage[3 * SECTOR]).toBe(0x5a); // nothing happens before the confirm
    w(3 * SECTOR + 0x1230, both(0xd0));
    expect(r(0)).toBe(0x00800080); // status until Read Array
    expect(storage[3 * SECTOR - 1]).toBe(0x5a);
    expect(storage.subarray(3 * SECTOR, 4 * SECTOR).every((b) => b === 0xff)).toBe(true);
    expect(storage[4 * SECTOR]).toBe(0x5a);
    expect(changes).toEqual([[3 * SECTOR, SECTOR]]);
    w(0, both(0xff));
    expect(r(3 * SECTOR)).toBe(0xffffffff);
  });

  it('does not erase when the confirm is replaced by Read Array', () => {
    const { w, storage, changes, modes } = makeFlash(0x5a);
    w(0, both(0x20));
    w(0, both(0xff));
    expect(storage[0]).toBe(0x5a);
    expect(changes).toEqual([]);
    expect(modes).toEqual([true, false]);
  });

  it('programs one word with 0x40 or 0x10 then the data, and reports status', () => {
    for (const cmd of [0x40, 0x10]) {
      const { w, r, storage, changes, modes } = makeFlash(0xff);
      w(0x100, both(cmd));
      w(0x100, 0xdeadbeef);
      expect(Array.from(storage.subarray(0x100, 0x104))).toEqual([0xef, 0xbe, 0xad, 0xde]);
      expect(changes).toEqual([[0x100, 4]]);
      expect(r(0x100)).toBe(0x00800080);
      w(0, both(0xff));
      expect(r(0x100)).toBe(0xdeadbeef);
      expect(modes).toEqual([true, false]);
    }
  });

  it('programs with the width of the data access', () => {
    const { w, storage } = makeFlash(0xff);
    w(0x200, 0x0040, 2);
    w(0x202, 0x1234, 2);
    expect(Array.from(storage.subarray(0x200, 0x206))).toEqual([0xff, 0xff, 0x34, 0x12, 0xff, 0xff]);
  });

  it('stages a buffered program and writes it at the confirm', () => {
    const { w, r, storage, changes } = makeFlash(0xff);
    const base = 2 * SECTOR + 0x1000;
    w(2 * SECTOR, both(0xe8));
    expect(r(0)).toBe(0x00800080); // a write buffer is free
    w(2 * SECTOR, both(3)); // four words follow
    for (let i = 0; i < 4; i++) w(base + 4 * i, 0x01020304 * (i + 1));
    // Nothing reaches the array before the confirm.
    expect(storage.subarray(base, base + 16).every((b) => b === 0xff)).toBe(true);
    w(2 * SECTOR, both(0xd0));
    expect(r(0)).toBe(0x00800080);
    w(0, both(0xff));
    for (let i = 0; i < 4; i++) expect(r(base + 4 * i)).toBe((0x01020304 * (i + 1)) >>> 0);
    // The whole write-buffer window is rewritten: 2 KiB per chip, 4 KiB across the pair.
    expect(changes).toEqual([[base, 4096]]);
    expect(storage[base + 16]).toBe(0xff);
  });

  it('takes a buffered program\'s window from its first data word, not the command address', () => {
    // U-Boot writes 0xE8 and the count at the start of its sector and the data
    // wherever it goes in that sector (its saveenv does exactly this).
    const { w, storage } = makeFlash(0xff);
    w(0, both(0xe8));
    w(0, both(1));
    w(0x1f800, 0xaaaaaaaa);
    w(0x1f804, 0xbbbbbbbb);
    w(0, both(0xd0));
    expect(Array.from(storage.subarray(0x1f800, 0x1f808))).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb]);
  });

  it('counts buffered words per chip: only the low chip\'s count matters', () => {
    const { w, storage } = makeFlash(0xff);
    w(0, both(0xe8));
    w(0, 0xffff0000); // count 0 on the low chip: one word
    w(0x40, 0x12345678);
    w(0, both(0xd0));
    expect(Array.from(storage.subarray(0x40, 0x44))).toEqual([0x78, 0x56, 0x34, 0x12]);
  });

  it('abandons a buffered program on anything but the confirm', () => {
    const { w, r, storage, changes, modes } = makeFlash(0xff);
    w(0, both(0xe8));
    w(0, both(0));
    w(0x20, 0);
    w(0, both(0xff));
    expect(storage[0x20]).toBe(0xff);
    expect(changes).toEqual([]);
    expect(modes).toEqual([true, false]);
    expect(r(0x20)).toBe(0xffffffff);
  });

  it('accepts lock and unlock and keeps blocks writable, as QEMU keeps no lock bits', () => {
    const { w, r, storage } = makeFlash(0xff);
    w(0, both(0x60));
    w(0, both(0x01));
    expect(r(0)).toBe(0x00800080);
    w(0, both(0x90));
    expect(r(8)).toBe(0);
    w(0, both(0x40));
    w(0, 0x11223344);
    expect(storage[0]).toBe(0x44);
    w(0, both(0x60));
    w(0, both(0xd0));
    expect(r(0)).toBe(0x00800080);
  });

  it('leaves programmed data in place across a reset, which returns it to read-array mode', () => {
    const { flash, w, r, modes } = makeFlash(0xff);
    w(0, both(0x40));
    w(0, 0x55667788);
    flash.reset();
    expect(modes).toEqual([true, false]);
    expect(flash.inCommandMode).toBe(false);
    expect(r(0)).toBe(0x55667788);
  });
});

describe('CFI flash: configuration', () => {
  it('refuses a bank that is not a whole number of sectors', () => {
    expect(() => new CfiFlash('bad', {
      storage: new Uint8Array(SECTOR + 4), setCommandMode: () => undefined, contentsChanged: () => undefined,
    })).toThrow(/whole number of 262144-byte sectors/);
  });

  it('describes a bank of four 128 KiB sectors per chip in the CFI table', () => {
    const flash = new CfiFlash('small', {
      storage: new Uint8Array(4 * SECTOR), setCommandMode: () => undefined, contentsChanged: () => undefined,
    });
    const t = flash.cfiTable;
    expect(t[0x27]).toBe(19); // 512 KiB per chip
    expect([t[0x2d], t[0x2e], t[0x2f], t[0x30]]).toEqual([3, 0, 0, 2]);
    expect(flash.writeBufferSize).toBe(4096);
  });
});
