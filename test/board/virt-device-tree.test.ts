import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine.js';
import { loadImage, placeInitrd } from '../../src/board/image-loader.js';
import {
  VirtDeviceTreeError,
  buildVirtDeviceTree,
  virtCpuAffinity,
  type VirtDeviceTreeOptions,
} from '../../src/board/virt-device-tree.js';
import { VIRT_RAM_BASE } from '../../src/board/virt-memory-map.js';
import {
  cells,
  dtcCompile,
  dtcDecompile,
  hexBytes,
  parseDts,
  sourceWarnings,
  qemuDumpDtb,
  requireTool,
  strings,
  u64s,
  type DtsTree,
} from './tools.js';

const MiB = 1024 * 1024;

interface Case {
  name: string;
  cpus: number;
  gicVersion: 2 | 3;
  psciMethod: 'hvc' | 'smc';
  ramMiB: number;
  bootargs?: string;
  initrdSize?: number;
  virtioMmioSlots?: number;
  fwCfg?: boolean;
}

const CASES: Case[] = [
  { name: '1 cpu, GICv2, no kernel', cpus: 1, gicVersion: 2, psciMethod: 'hvc', ramMiB: 128 },
  { name: '4 cpus, GICv3, bootargs and initrd', cpus: 4, gicVersion: 3, psciMethod: 'hvc', ramMiB: 256,
    bootargs: 'console=ttyAMA0 earlycon rdinit=/init', initrdSize: 100 * 1024 },
  { name: '8 cpus, GICv2, initrd without bootargs', cpus: 8, gicVersion: 2, psciMethod: 'hvc', ramMiB: 512,
    initrdSize: 3 * MiB + 123 },
  { name: '8 cpus, GICv3, awkward bootargs, all virtio-mmio slots and fw_cfg', cpus: 8, gicVersion: 3,
    psciMethod: 'hvc', ramMiB: 128, bootargs: 'console=ttyAMA0 x="a b" back\\slash tab\there',
    virtioMmioSlots: 32, fwCfg: true },
  { name: '20 cpus, GICv3 (two affinity clusters)', cpus: 20, gicVersion: 3, psciMethod: 'hvc', ramMiB: 1024 },
  { name: '123 cpus, GICv3 (the whole redistributor window)', cpus: 123, gicVersion: 3, psciMethod: 'hvc', ramMiB: 256 },
  { name: '2 cpus, GICv3, PSCI over SMC', cpus: 2, gicVersion: 3, psciMethod: 'smc', ramMiB: 128 },
  { name: '2 cpus, GICv2, PSCI over SMC', cpus: 2, gicVersion: 2, psciMethod: 'smc', ramMiB: 128 },
  { name: '2 cpus, 5 GiB of RAM, initrd', cpus: 2, gicVersion: 3, psciMethod: 'hvc', ramMiB: 5 * 1024,
    initrdSize: 64 * 1024 },
];

/** A 4 KiB raw kernel: QEMU needs some -kernel before it accepts -append or -initrd. */
const DUMMY_KERNEL = new Uint8Array(4096);

function initrdBytes(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

/** Our options for a case; the initrd goes where our loader puts it, so QEMU checks that too. */
function ourOptions(c: Case): VirtDeviceTreeOptions {
  const ramSize = c.ramMiB * MiB;
  const o: VirtDeviceTreeOptions = {
    ramBase: VIRT_RAM_BASE, ramSize, cpus: c.cpus, gicVersion: c.gicVersion, psciMethod: c.psciMethod,
    bootargs: c.bootargs, virtioMmioSlots: c.virtioMmioSlots, fwCfg: c.fwCfg,
  };
  if (c.initrdSize !== undefined) {
    const kernel = loadImage(DUMMY_KERNEL, 'kernel', VIRT_RAM_BASE, ramSize);
    const p = placeInitrd(kernel, c.initrdSize, VIRT_RAM_BASE, ramSize);
    o.initrdStart = p.start;
    o.initrdEnd = p.end;
  }
  return o;
}

function decompileClean(dtb: Uint8Array): DtsTree {
  const { dts, stderr } = dtcDecompile(dtb);
  expect(stderr, 'dtc warnings on decompile').toBe('');
  const again = dtcCompile(dts);
  expect(sourceWarnings(again.stderr), 'dtc warnings on recompile').toEqual([]);
  expect(hexBytes(again.dtb), 'dtc rebuilds the same bytes').toBe(hexBytes(dtb));
  return parseDts(dts);
}

// What QEMU writes that we deliberately do not: devices warmboot does not
// model (PCIe, GPIO and the power key, the platform bus, the PMU, MSI frames),
// and the transports we were not asked to describe.
const OMITTED_NODE_PATTERNS = [
  /^\/platform-bus@c000000$/,
  /^\/gpio-keys(\/|$)/,
  /^\/pl061@9030000$/,
  /^\/pcie@10000000$/,
  /^\/pmu$/,
  /^\/intc@8000000\/(v2m@8020000|its@8080000)$/,
];

/** Properties holding phandles only, compared by the path of the node they point at. */
const PHANDLE_PROPS = new Set(['interrupt-parent', 'clocks', 'cpu']);

function phandleMap(t: DtsTree): Map<number, string> {
  const m = new Map<number, string>();
  for (const n of t.nodes.values()) {
    const p = n.props.get('phandle');
    if (p) m.set(cells(p)[0]!, n.path);
  }
  return m;
}

function renderProp(name: string, value: Uint8Array, handles: Map<number, string>): string {
  if (name === 'phandle') return '<phandle>';
  if (PHANDLE_PROPS.has(name)) return cells(value).map((h) => `&{${handles.get(h) ?? `dangling ${h}`}}`).join(' ');
  return hexBytes(value);
}

/** Lists every way our tree differs from QEMU's beyond the documented omissions. */
function differences(ours: DtsTree, qemu: DtsTree, c: Case): string[] {
  const out: string[] = [];
  const ourHandles = phandleMap(ours);
  const qemuHandles = phandleMap(qemu);
  const slots = c.virtioMmioSlots ?? 0;
  const omittedNode = (path: string): boolean => {
    if (OMITTED_NODE_PATTERNS.some((re) => re.test(path))) return true;
    if (path === '/fw-cfg@9020000') return !c.fwCfg;
    const v = /^\/virtio_mmio@([0-9a-f]+)$/.exec(path);
    return v !== null && (parseInt(v[1]!, 16) - 0xa000000) / 0x200 >= slots;
  };
  const omittedProps: Record<string, string[]> = {
    // Fresh random bytes on every QEMU run; opt-in here for reproducible boots.
    '/chosen': ['rng-seed', 'kaslr-seed'],
    // With EL2 in the guest (our stand-in for PSCI over SMC), QEMU adds the
    // GIC maintenance interrupt, which warmboot has no use for.
    '/intc@8000000': c.psciMethod === 'smc' ? ['interrupts'] : [],
  };

  for (const path of qemu.order) {
    if (!ours.nodes.has(path) && !omittedNode(path)) out.push(`missing node ${path}`);
  }
  for (const path of ours.order) {
    const q = qemu.nodes.get(path);
    if (!q) {
      out.push(`extra node ${path}`);
      continue;
    }
    const o = ours.nodes.get(path)!;
    for (const name of q.props.keys()) {
      if (!o.props.has(name) && !(omittedProps[path] ?? []).includes(name)) out.push(`missing property ${path}:${name}`);
    }
    for (const [name, value] of o.props) {
      const qv = q.props.get(name);
      if (qv === undefined) {
        out.push(`extra property ${path}:${name}`);
        continue;
      }
      if (path === '/intc@8000000' && name === 'reg') {
        const a = u64s(value);
        const b = u64s(qv);
        if (c.gicVersion === 3) {
          // QEMU sizes the redistributor region for its whole 123-cpu window;
          // we size it for the vcpus that exist.
          const ok = a.length === 4 && b.length === 4 && a[0] === b[0] && a[1] === b[1] && a[2] === b[2] &&
            a[3] === BigInt(c.cpus * 0x20000) && a[3]! <= b[3]!;
          if (!ok) out.push(`GICv3 reg ${a.map((x) => x.toString(16))} vs QEMU ${b.map((x) => x.toString(16))}`);
        } else {
          // With EL2 QEMU appends the GICH and GICV frames, which we do not model.
          const expected = c.psciMethod === 'smc' ? b.slice(0, 4) : b;
          if (a.join() !== expected.join()) out.push(`GICv2 reg ${a.map((x) => x.toString(16))} vs QEMU ${b.map((x) => x.toString(16))}`);
        }
        continue;
      }
      const ov = renderProp(name, value, ourHandles);
      const qr = renderProp(name, qv, qemuHandles);
      if (ov !== qr) out.push(`${path}:${name} is ${ov}, QEMU writes ${qr}`);
    }
  }
  const sharedOrder = qemu.order.filter((p) => ours.nodes.has(p));
  if (sharedOrder.join('\n') !== ours.order.join('\n')) out.push('nodes are not in QEMU\'s order');
  return out;
}

describe('buildVirtDeviceTree', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      it('decompiles through dtc with no warnings and recompiles to the same bytes', () => {
        decompileClean(buildVirtDeviceTree(ourOptions(c)));
      });

      it('matches the tree QEMU writes for the same options', () => {
        const ours = decompileClean(buildVirtDeviceTree(ourOptions(c)));
        const qemuDtb = qemuDumpDtb({
          ramMiB: c.ramMiB, cpus: c.cpus, gicVersion: c.gicVersion, psciMethod: c.psciMethod,
          bootargs: c.bootargs,
          initrd: c.initrdSize !== undefined ? initrdBytes(c.initrdSize) : undefined,
          kernel: c.bootargs !== undefined || c.initrdSize !== undefined ? DUMMY_KERNEL : undefined,
        });
        const qemu = parseDts(dtcDecompile(qemuDtb).dts);
        expect(differences(ours, qemu, c)).toEqual([]);
        // Belt and braces on what a guest relies on most.
        const chosen = ours.nodes.get('/chosen')!.props;
        expect(strings(chosen.get('stdout-path')!)).toEqual(['/pl011@9000000']);
        expect(chosen.has('bootargs')).toBe(Boolean(c.bootargs));
        expect(chosen.has('linux,initrd-start')).toBe(c.initrdSize !== undefined);
        const cpuNodes = ours.order.filter((p) => /^\/cpus\/cpu@\d+$/.test(p));
        expect(cpuNodes.length).toBe(c.cpus);
      });
    });
  }

  it('gives vcpus QEMU\'s MPIDR affinities: 16 per cluster with GICv3, 8 with GICv2', () => {
    expect([0, 1, 15, 16, 17, 122].map((i) => virtCpuAffinity(i, 3))).toEqual([0, 1, 15, 0x100, 0x101, 0x70a]);
    expect([0, 7].map((i) => virtCpuAffinity(i, 2))).toEqual([0, 7]);
  });

  it('sizes the GICv3 redistributor region at 128 KiB per vcpu', () => {
    const t = decompileClean(buildVirtDeviceTree({ ramBase: VIRT_RAM_BASE, ramSize: 128 * MiB, cpus: 3, gicVersion: 3, psciMethod: 'hvc' }));
    expect(u64s(t.nodes.get('/intc@8000000')!.props.get('reg')!)).toEqual([0x8000000n, 0x10000n, 0x80a0000n, 0x60000n]);
  });

  it('writes two-cell initrd properties when the initrd lies above 4 GiB', () => {
    const t = decompileClean(buildVirtDeviceTree({
      ramBase: VIRT_RAM_BASE, ramSize: 8 * 1024 * MiB, cpus: 1, gicVersion: 3, psciMethod: 'hvc',
      initrdStart: 0x1_2000_0000, initrdEnd: 0x1_2010_0000,
    }));
    const chosen = t.nodes.get('/chosen')!.props;
    expect(u64s(chosen.get('linux,initrd-start')!)).toEqual([0x1_2000_0000n]);
    expect(u64s(chosen.get('linux,initrd-end')!)).toEqual([0x1_2010_0000n]);
  });

  it('writes rng-seed and kaslr-seed only when given, and is otherwise reproducible', () => {
    const base: VirtDeviceTreeOptions = { ramBase: VIRT_RAM_BASE, ramSize: 128 * MiB, cpus: 2, gicVersion: 3, psciMethod: 'hvc' };
    expect(hexBytes(buildVirtDeviceTree(base))).toBe(hexBytes(buildVirtDeviceTree(base)));
    const rng = new Uint8Array(32).map((_, i) => i + 1);
    const kaslr = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const t = decompileClean(buildVirtDeviceTree({ ...base, rngSeed: rng, kaslrSeed: kaslr }));
    const chosen = t.nodes.get('/chosen')!.props;
    expect(hexBytes(chosen.get('rng-seed')!)).toBe(hexBytes(rng));
    expect(hexBytes(chosen.get('kaslr-seed')!)).toBe(hexBytes(kaslr));
    const plain = decompileClean(buildVirtDeviceTree(base)).nodes.get('/chosen')!.props;
    expect(plain.has('rng-seed') || plain.has('kaslr-seed')).toBe(false);
  });

  it("a Machine seeds /chosen afresh each time, as QEMU's dtb-randomness, unless told not to", () => {
    const kernel = new Uint8Array(readFileSync(resolve(__dirname, '../../src/demo-guest/demo.elf')));
    // An ELF kernel leaves the tree at the base of RAM; its header gives its size.
    const tree = (dtbRandomness?: boolean): Uint8Array => {
      const m = new Machine({ kernel, jit: 'off', dtbRandomness });
      const head = m.vm.readPhysical(VIRT_RAM_BASE, 8);
      const size = new DataView(head.buffer, head.byteOffset).getUint32(4, false);
      return m.vm.readPhysical(VIRT_RAM_BASE, size);
    };
    const [a, b] = [decompileClean(tree()), decompileClean(tree(true))].map((t) => t.nodes.get('/chosen')!.props);
    expect(a.get('kaslr-seed')!.length).toBe(8);
    expect(a.get('rng-seed')!.length).toBe(32);
    expect(hexBytes(a.get('kaslr-seed')!)).not.toBe(hexBytes(b.get('kaslr-seed')!));
    expect(hexBytes(tree(false))).toBe(hexBytes(tree(false)));
    const plain = decompileClean(tree(false)).nodes.get('/chosen')!.props;
    expect(plain.has('rng-seed') || plain.has('kaslr-seed')).toBe(false);
  });

  it('leaves free space at the end when asked', () => {
    const base: VirtDeviceTreeOptions = { ramBase: VIRT_RAM_BASE, ramSize: 128 * MiB, cpus: 1, gicVersion: 2, psciMethod: 'hvc' };
    const plain = buildVirtDeviceTree(base);
    const padded = buildVirtDeviceTree({ ...base, extraSpace: 0x10000 });
    expect(padded.length).toBe(plain.length + 0x10000);
    expect(dtcDecompile(padded).stderr).toBe('');
  });

  describe('rejects impossible options with a clear message', () => {
    const ok: VirtDeviceTreeOptions = { ramBase: VIRT_RAM_BASE, ramSize: 128 * MiB, cpus: 1, gicVersion: 3, psciMethod: 'hvc' };
    const cases: Array<[string, Partial<VirtDeviceTreeOptions>, RegExp]> = [
      ['no cpus', { cpus: 0 }, /cpus 0: expected 1 to 123 with GICv3/],
      ['9 cpus on GICv2', { cpus: 9, gicVersion: 2 }, /cpus 9: expected 1 to 8 with GICv2/],
      ['124 cpus on GICv3', { cpus: 124 }, /cpus 124: expected 1 to 123 with GICv3/],
      ['GIC version 4', { gicVersion: 4 as 3 }, /gicVersion 4: expected 2 or 3/],
      ['an unknown PSCI conduit', { psciMethod: 'svc' as 'hvc' }, /psciMethod "svc"/],
      ['RAM below the RAM window', { ramBase: 0x1000_0000 }, /ramBase 0x10000000: expected an address at or above 0x40000000/],
      ['no RAM', { ramSize: 0 }, /ramSize 0/],
      ['RAM past 255 GiB', { ramSize: 256 * 1024 * MiB }, /end of the virt RAM window/],
      ['an initrd start without an end', { initrdStart: 0x48000000 }, /must be given together/],
      ['an initrd ending before it starts', { initrdStart: 0x48000000, initrdEnd: 0x47000000 }, /not a valid address range/],
      ['an initrd outside RAM', { initrdStart: 0x48000000, initrdEnd: 0x49000000 }, /initrd 0x48000000-0x49000000 is outside RAM 0x40000000-0x48000000/],
      ['33 virtio-mmio slots', { virtioMmioSlots: 33 }, /virtioMmioSlots 33: expected 0 to 32/],
      ['a short kaslr seed', { kaslrSeed: new Uint8Array(4) }, /kaslrSeed: expected 8 bytes/],
      ['NUL in bootargs', { bootargs: 'a\0b' }, /bootargs contains a NUL/],
    ];
    for (const [name, patch, re] of cases) {
      it(name, () => {
        const fn = () => buildVirtDeviceTree({ ...ok, ...patch });
        expect(fn).toThrow(VirtDeviceTreeError);
        expect(fn).toThrow(re);
      });
    }
  });
});

describe('oracle tools', () => {
  it('fail (never skip) with the Debian package to install when missing', () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => requireTool('dtc')).toThrow('dtc is not available: install the Debian package device-tree-compiler');
      expect(() => requireTool('qemu-system-aarch64')).toThrow('qemu-system-aarch64 is not available: install the Debian package qemu-system-arm');
    } finally {
      process.env.PATH = saved;
    }
  });
});
