import { describe, expect, it } from 'vitest';
import { FDT_MAGIC, FdtError, FdtWriter } from '../../src/board/fdt-writer.js';
import { cells, dtcCompile, dtcDecompile, hexBytes, parseDts, sourceWarnings, strings, u64s } from './tools.js';

function header(b: Uint8Array) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const f = (i: number) => dv.getUint32(i * 4, false);
  return {
    magic: f(0), totalsize: f(1), offStruct: f(2), offStrings: f(3), offRsvmap: f(4),
    version: f(5), lastComp: f(6), bootCpu: f(7), sizeStrings: f(8), sizeStruct: f(9),
  };
}

/** Decompiles with dtc, insisting on silence, and checks dtc rebuilds the same bytes. */
function roundTrip(dtb: Uint8Array) {
  const { dts, stderr } = dtcDecompile(dtb);
  expect(stderr).toBe('');
  const again = dtcCompile(dts);
  expect(sourceWarnings(again.stderr)).toEqual([]);
  return { dts, tree: parseDts(dts), recompiled: again.dtb };
}

describe('FdtWriter', () => {
  it('writes a valid empty tree with a v17 header', () => {
    const w = new FdtWriter();
    w.beginNode('');
    w.endNode();
    const b = w.finish();
    const h = header(b);
    expect(h.magic).toBe(FDT_MAGIC);
    expect(h.version).toBe(17);
    expect(h.lastComp).toBe(16);
    expect(h.totalsize).toBe(b.length);
    expect(h.offRsvmap % 8).toBe(0);
    expect(h.offRsvmap).toBeLessThan(h.offStruct);
    expect(h.offStruct + h.sizeStruct).toBe(h.offStrings);
    expect(h.offStrings + h.sizeStrings).toBe(h.totalsize);
    const { tree, recompiled } = roundTrip(b);
    expect([...tree.nodes.keys()]).toEqual(['/']);
    expect(hexBytes(recompiled)).toBe(hexBytes(b));
  });

  it('round-trips every kind of property through dtc byte for byte', () => {
    const w = new FdtWriter({ bootCpuId: 0 });
    w.beginNode('');
    w.propU32('#address-cells', 2);
    w.propU32('#size-cells', 2);
    w.propU32('a-u32', 0xdeadbeef);
    w.propU64('a-u64', 0x1_2345_6789);
    w.propU64('a-u64-big', 0xffff_ffff_ffff_ffffn);
    w.propU32Array('a-u32-array', [1, 2, 0xffffffff]);
    w.propU64Array('a-u64-array', [0x40000000, 0x8000000]);
    w.propSizedCells('a-sized', [[1, 7], [2, 0x1_0000_0000], [1, 0xffffffff]]);
    w.propString('a-string', 'hello "world" \\ end');
    w.propStringList('a-list', ['one', 'two', 'three']);
    w.propEmpty('a-flag');
    w.propBytes('a-bytes', new Uint8Array([1, 2, 3]));
    w.beginNode('child@1000');
    w.propString('compatible', 'x,y');
    w.propU64Array('reg', [0x1000, 0x100]);
    w.endNode();
    w.endNode();
    const b = w.finish();
    const { tree, recompiled } = roundTrip(b);
    expect(hexBytes(recompiled)).toBe(hexBytes(b));
    const root = tree.nodes.get('/')!.props;
    expect(cells(root.get('a-u32')!)).toEqual([0xdeadbeef]);
    expect(u64s(root.get('a-u64')!)).toEqual([0x1_2345_6789n]);
    expect(u64s(root.get('a-u64-big')!)).toEqual([0xffff_ffff_ffff_ffffn]);
    expect(cells(root.get('a-u32-array')!)).toEqual([1, 2, 0xffffffff]);
    expect(u64s(root.get('a-u64-array')!)).toEqual([0x40000000n, 0x8000000n]);
    expect(cells(root.get('a-sized')!)).toEqual([7, 1, 0, 0xffffffff]);
    expect(strings(root.get('a-string')!)).toEqual(['hello "world" \\ end']);
    expect(strings(root.get('a-list')!)).toEqual(['one', 'two', 'three']);
    expect(root.get('a-flag')!.length).toBe(0);
    expect([...root.get('a-bytes')!]).toEqual([1, 2, 3]);
    expect(strings(tree.nodes.get('/child@1000')!.props.get('compatible')!)).toEqual(['x,y']);
  });

  it('stores each property name once in the strings block', () => {
    const w = new FdtWriter();
    w.beginNode('');
    w.propString('compatible', 'root');
    w.propU32('#address-cells', 1);
    w.propU32('#size-cells', 0);
    for (let i = 0; i < 5; i++) {
      w.beginNode(`n@${i}`);
      w.propString('compatible', 'child');
      w.propU32('reg', i);
      w.endNode();
    }
    w.endNode();
    const b = w.finish();
    const h = header(b);
    const table = new TextDecoder().decode(b.subarray(h.offStrings, h.offStrings + h.sizeStrings));
    expect(table).toBe('compatible\0#address-cells\0#size-cells\0reg\0');
    roundTrip(b);
  });

  it('writes the memory reservation block', () => {
    const w = new FdtWriter();
    w.addReservation(0x48000000, 0x100000);
    w.addReservation(0x1_0000_0000n, 0x1000);
    w.beginNode('');
    w.endNode();
    const b = w.finish();
    const { tree, recompiled } = roundTrip(b);
    expect(tree.memreserve).toEqual([[0x48000000n, 0x100000n], [0x1_0000_0000n, 0x1000n]]);
    expect(hexBytes(recompiled)).toBe(hexBytes(b));
  });

  it('allocates phandles from the first one asked for, skipping any written by hand', () => {
    const w = new FdtWriter({ firstPhandle: 0x8000 });
    expect(w.allocPhandle()).toBe(0x8000);
    w.beginNode('');
    w.beginNode('a');
    w.propU32('phandle', 0x8001);
    w.endNode();
    expect(w.allocPhandle()).toBe(0x8002);
    w.beginNode('b');
    w.propU32('phandle', 0x8000);
    w.propU32('ref', 0x8001);
    w.endNode();
    w.endNode();
    const { tree } = roundTrip(w.finish());
    expect(cells(tree.nodes.get('/b')!.props.get('phandle')!)).toEqual([0x8000]);
  });

  it('leaves requested free space at the end of the blob', () => {
    const w = new FdtWriter();
    w.beginNode('');
    w.endNode();
    const b = w.finish({ extraSpace: 4096 });
    const h = header(b);
    expect(h.totalsize).toBe(b.length);
    expect(b.length).toBe(h.offStrings + h.sizeStrings + 4096);
    expect(dtcDecompile(b).stderr).toBe('');
  });

  describe('refuses malformed trees', () => {
    const open = () => {
      const w = new FdtWriter();
      w.beginNode('');
      return w;
    };
    const cases: Array<[string, () => void, RegExp]> = [
      ['a first node that is not the root', () => new FdtWriter().beginNode('x'), /first node must be the root/],
      ['a property with no node open', () => new FdtWriter().propU32('x', 1), /no node is open/],
      ['a property after a child node', () => {
        const w = open();
        w.beginNode('c');
        w.endNode();
        w.propU32('late', 1);
      }, /property "late" in \/: written after a child node/],
      ['a duplicate property', () => {
        const w = open();
        w.propU32('x', 1);
        w.propU32('x', 2);
      }, /duplicate property/],
      ['a duplicate node', () => {
        const w = open();
        w.beginNode('c');
        w.endNode();
        w.beginNode('c');
      }, /\/c: duplicate node name/],
      ['an invalid node name', () => open().beginNode('bad name'), /invalid node name/],
      ['an invalid property name', () => open().propU32('bad name', 1), /invalid property name/],
      ['a u32 out of range', () => open().propU32('x', 0x1_0000_0000), /not a 32-bit unsigned integer/],
      ['a negative u32', () => open().propU32('x', -1), /not a 32-bit unsigned integer/],
      ['a non-integer u32', () => open().propU32('x', 1.5), /not a 32-bit unsigned integer/],
      ['an inexact u64 number', () => open().propU64('x', 2 ** 60), /use a bigint/],
      ['a u64 bigint out of range', () => open().propU64('x', 1n << 64n), /not a 64-bit unsigned integer/],
      ['a value too wide for one cell', () => open().propSizedCells('x', [[1, 0x1_0000_0000]]), /does not fit in one cell/],
      ['a string with NUL', () => open().propString('x', 'a\0b'), /NUL/],
      ['an empty string list', () => open().propStringList('x', []), /at least one string/],
      ['phandle 0', () => open().propU32('phandle', 0), /reserved/],
      ['the same phandle twice', () => {
        const w = open();
        w.beginNode('a');
        w.propU32('phandle', 5);
        w.endNode();
        w.beginNode('b');
        w.propU32('phandle', 5);
      }, /already used/],
      ['an unmatched endNode', () => {
        const w = open();
        w.endNode();
        w.endNode();
      }, /without a matching beginNode/],
      ['a second root', () => {
        const w = open();
        w.endNode();
        w.beginNode('');
      }, /already closed/],
      ['finish with an open node', () => {
        const w = open();
        w.beginNode('c');
        w.finish();
      }, /node \/c is still open/],
      ['finish without a root', () => new FdtWriter().finish(), /no root node/],
      ['writing after finish', () => {
        const w = open();
        w.endNode();
        w.finish();
        w.finish();
      }, /already been finished/],
    ];
    for (const [name, fn, re] of cases) {
      it(name, () => {
        expect(fn).toThrow(FdtError);
        expect(fn).toThrow(re);
      });
    }
  });
});
