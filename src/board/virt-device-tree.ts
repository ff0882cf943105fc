/**
 * The device tree of the virt board, written the way QEMU's hw/arm/virt.c and
 * hw/arm/boot.c write it for the same options, restricted to the devices that
 * warmboot models. Guests built for QEMU's virt board (Linux, U-Boot) find the
 * nodes, names, phandle numbers and interrupt specifiers they know.
 */

import { FdtWriter } from './fdt-writer.js';
import {
  ARCH_TIMER_NS_EL1_PPI,
  ARCH_TIMER_NS_EL2_PPI,
  ARCH_TIMER_S_EL1_PPI,
  ARCH_TIMER_VIRT_PPI,
  GICV2_MAX_CPUS,
  GICV3_REDIST_FRAME_SIZE,
  GIC_FDT_IRQ_FLAGS_EDGE_LO_HI,
  GIC_FDT_IRQ_FLAGS_LEVEL_HI,
  GIC_FDT_IRQ_PPI_CPU_SHIFT,
  GIC_FDT_IRQ_TYPE_PPI,
  GIC_FDT_IRQ_TYPE_SPI,
  VIRT_APB_PCLK_HZ,
  VIRT_FLASH_BANK_SIZE,
  VIRT_FLASH_BANK_WIDTH,
  VIRT_FLASH_BASE,
  VIRT_FW_CFG_BASE,
  VIRT_FW_CFG_SIZE,
  VIRT_GIC_CPU_BASE,
  VIRT_GIC_CPU_SIZE,
  VIRT_GIC_DIST_BASE,
  VIRT_GIC_DIST_SIZE,
  VIRT_GIC_REDIST_BASE,
  VIRT_GIC_REDIST_MAX_CPUS,
  VIRT_MMIO_BASE,
  VIRT_MMIO_COUNT,
  VIRT_MMIO_SIZE,
  VIRT_MMIO_SPI,
  VIRT_RAM_BASE,
  VIRT_RAM_MAX_SIZE,
  VIRT_RTC_BASE,
  VIRT_RTC_SIZE,
  VIRT_RTC_SPI,
  VIRT_UART_BASE,
  VIRT_UART_SIZE,
  VIRT_UART_SPI,
} from './virt-memory-map.js';

export class VirtDeviceTreeError extends Error {
  override name = 'VirtDeviceTreeError';
}

export interface VirtDeviceTreeOptions {
  ramBase: number;
  ramSize: number;
  /** Number of vcpus. */
  cpus: number;
  /** Kernel command line; omitted from /chosen when empty, as QEMU does. */
  bootargs?: string;
  /** Physical range of the initrd; give both or neither. */
  initrdStart?: number;
  initrdEnd?: number;
  gicVersion: 2 | 3;
  /** Conduit for PSCI calls: QEMU uses "smc" only when the guest has EL2. */
  psciMethod: 'hvc' | 'smc';
  /** '1.1' (default) or KVM's legacy '0.1', which changes the /psci binding. */
  psciVersion?: '0.1' | '1.1';
  /**
   * How many virtio-mmio transports to describe (0 to 32, default 0). QEMU
   * always describes all 32; a node is only worth writing when a device model
   * answers at that address, otherwise the guest's probe takes a data abort.
   */
  virtioMmioSlots?: number;
  /** Describe the fw_cfg interface (default false, for the same reason). */
  fwCfg?: boolean;
  /**
   * Entropy for /chosen/rng-seed and /chosen/kaslr-seed (8 bytes). QEMU fills
   * both with fresh random bytes on every boot; they are opt-in here so that a
   * boot is reproducible unless the embedder asks otherwise.
   */
  rngSeed?: Uint8Array;
  kaslrSeed?: Uint8Array;
  /** Free space to leave at the end of the blob for in-place edits by firmware. */
  extraSpace?: number;
}

/** Node paths of the devices, for stdout-path and for callers that look them up. */
export const VIRT_UART_NODE = `/pl011@${VIRT_UART_BASE.toString(16)}`;

/** What QEMU's CPU models report as compatible for a 64-bit guest. */
const CPU_COMPATIBLE = 'arm,cortex-a57';

/**
 * MPIDR affinity (Aff1:Aff0) that QEMU's virt board gives vcpu `index`:
 * clusters of 16 with GICv3 (whose SGI target lists are 16 bits wide) and of 8
 * with GICv2. Exported so that vcpu reset uses the same numbers as the tree.
 */
export function virtCpuAffinity(index: number, gicVersion: 2 | 3): number {
  const clusterSize = gicVersion === 3 ? 16 : 8;
  return (Math.floor(index / clusterSize) << 8) | index % clusterSize;
}

/** Largest vcpu count the board supports with this GIC. */
export function virtMaxCpus(gicVersion: 2 | 3): number {
  return gicVersion === 3 ? VIRT_GIC_REDIST_MAX_CPUS : GICV2_MAX_CPUS;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function checkOptions(o: VirtDeviceTreeOptions): void {
  const fail = (msg: string): never => {
    throw new VirtDeviceTreeError(`virt device tree: ${msg}`);
  };
  if (o.gicVersion !== 2 && o.gicVersion !== 3) fail(`gicVersion ${String(o.gicVersion)}: expected 2 or 3`);
  if (o.psciMethod !== 'hvc' && o.psciMethod !== 'smc') fail(`psciMethod "${String(o.psciMethod)}": expected "hvc" or "smc"`);
  const max = virtMaxCpus(o.gicVersion);
  if (!Number.isInteger(o.cpus) || o.cpus < 1 || o.cpus > max) {
    fail(`cpus ${o.cpus}: expected 1 to ${max} with GICv${o.gicVersion}`);
  }
  if (!Number.isSafeInteger(o.ramBase) || o.ramBase < VIRT_RAM_BASE) {
    fail(`ramBase ${hex(o.ramBase)}: expected an address at or above ${hex(VIRT_RAM_BASE)}`);
  }
  if (!Number.isSafeInteger(o.ramSize) || o.ramSize <= 0) fail(`ramSize ${o.ramSize}: expected a positive byte count`);
  if (o.ramBase + o.ramSize > VIRT_RAM_BASE + VIRT_RAM_MAX_SIZE) {
    fail(`RAM ${hex(o.ramBase)}+${hex(o.ramSize)} ends above ${hex(VIRT_RAM_BASE + VIRT_RAM_MAX_SIZE)}, the end of the virt RAM window`);
  }
  if ((o.initrdStart === undefined) !== (o.initrdEnd === undefined)) {
    fail('initrdStart and initrdEnd must be given together');
  }
  if (o.initrdStart !== undefined && o.initrdEnd !== undefined) {
    const s = o.initrdStart;
    const e = o.initrdEnd;
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < s) {
      fail(`initrd range ${hex(s)}-${hex(e)} is not a valid address range`);
    }
    if (s < o.ramBase || e > o.ramBase + o.ramSize) {
      fail(`initrd ${hex(s)}-${hex(e)} is outside RAM ${hex(o.ramBase)}-${hex(o.ramBase + o.ramSize)}`);
    }
  }
  if (o.bootargs?.includes('\0')) fail('bootargs contains a NUL character');
  const slots = o.virtioMmioSlots ?? 0;
  if (!Number.isInteger(slots) || slots < 0 || slots > VIRT_MMIO_COUNT) {
    fail(`virtioMmioSlots ${slots}: expected 0 to ${VIRT_MMIO_COUNT}`);
  }
  if (o.kaslrSeed !== undefined && o.kaslrSeed.length !== 8) fail(`kaslrSeed: expected 8 bytes, got ${o.kaslrSeed.length}`);
  if (o.rngSeed !== undefined && o.rngSeed.length === 0) fail('rngSeed: expected at least one byte');
}

function spi(n: number, flags: number): number[] {
  return [GIC_FDT_IRQ_TYPE_SPI, n, flags];
}

export function buildVirtDeviceTree(opts: VirtDeviceTreeOptions): Uint8Array {
  checkOptions(opts);
  const { cpus, gicVersion } = opts;
  const w = new FdtWriter({ firstPhandle: 0x8000 });

  // Phandles are handed out in the order QEMU allocates them (clock, then the
  // cpus from the last one down, then the GIC), so the numbers match its blob.
  const clockPhandle = w.allocPhandle();
  const cpuPhandles: number[] = new Array<number>(cpus);
  for (let i = cpus - 1; i >= 0; i--) cpuPhandles[i] = w.allocPhandle();
  const gicPhandle = w.allocPhandle();

  w.beginNode('');
  w.propString('compatible', 'linux,dummy-virt');
  w.propString('model', 'linux,dummy-virt');
  w.propU32('#address-cells', 2);
  w.propU32('#size-cells', 2);
  w.propU32('interrupt-parent', gicPhandle);

  // PSCI 0.2+ ids for the legacy (0.1) properties: 64-bit variants where they
  // exist, since the guest is AArch64.
  w.beginNode('psci');
  if (opts.psciVersion === '0.1') {
    // The original binding: only the function ids, which are the 0.1 ones.
    w.propString('compatible', 'arm,psci');
    w.propString('method', opts.psciMethod);
    w.propU32('cpu_suspend', 0x95c1_ba5e);
    w.propU32('cpu_off', 0x95c1_ba5f);
    w.propU32('cpu_on', 0x95c1_ba60);
    w.propU32('migrate', 0x95c1_ba61);
  } else {
    w.propStringList('compatible', ['arm,psci-1.0', 'arm,psci-0.2', 'arm,psci']);
    w.propString('method', opts.psciMethod);
    w.propU32('cpu_suspend', 0xc400_0001);
    w.propU32('cpu_off', 0x8400_0002);
    w.propU32('cpu_on', 0xc400_0003);
    w.propU32('migrate', 0xc400_0005);
  }
  w.endNode();

  w.beginNode(`memory@${opts.ramBase.toString(16)}`);
  w.propString('device_type', 'memory');
  w.propU64Array('reg', [opts.ramBase, opts.ramSize]);
  w.endNode();

  if (opts.fwCfg) {
    w.beginNode(`fw-cfg@${VIRT_FW_CFG_BASE.toString(16)}`);
    w.propString('compatible', 'qemu,fw-cfg-mmio');
    w.propU64Array('reg', [VIRT_FW_CFG_BASE, VIRT_FW_CFG_SIZE]);
    w.propEmpty('dma-coherent');
    w.endNode();
  }

  for (let i = 0; i < (opts.virtioMmioSlots ?? 0); i++) {
    const base = VIRT_MMIO_BASE + i * VIRT_MMIO_SIZE;
    w.beginNode(`virtio_mmio@${base.toString(16)}`);
    w.propString('compatible', 'virtio,mmio');
    w.propU64Array('reg', [base, VIRT_MMIO_SIZE]);
    w.propU32Array('interrupts', spi(VIRT_MMIO_SPI + i, GIC_FDT_IRQ_FLAGS_EDGE_LO_HI));
    w.propEmpty('dma-coherent');
    w.endNode();
  }

  w.beginNode(`pl031@${VIRT_RTC_BASE.toString(16)}`);
  w.propStringList('compatible', ['arm,pl031', 'arm,primecell']);
  w.propU64Array('reg', [VIRT_RTC_BASE, VIRT_RTC_SIZE]);
  w.propU32Array('interrupts', spi(VIRT_RTC_SPI, GIC_FDT_IRQ_FLAGS_LEVEL_HI));
  w.propU32('clocks', clockPhandle);
  w.propString('clock-names', 'apb_pclk');
  w.endNode();

  w.beginNode(VIRT_UART_NODE.slice(1));
  w.propStringList('compatible', ['arm,pl011', 'arm,primecell']);
  w.propU64Array('reg', [VIRT_UART_BASE, VIRT_UART_SIZE]);
  w.propU32Array('interrupts', spi(VIRT_UART_SPI, GIC_FDT_IRQ_FLAGS_LEVEL_HI));
  w.propU32Array('clocks', [clockPhandle, clockPhandle]);
  w.propStringList('clock-names', ['uartclk', 'apb_pclk']);
  w.endNode();

  // #address-cells, #size-cells and an empty ranges are what QEMU writes for
  // the MSI frame child; they are kept so the node reads the same.
  w.beginNode(`intc@${VIRT_GIC_DIST_BASE.toString(16)}`);
  if (gicVersion === 3) {
    w.propString('compatible', 'arm,gic-v3');
    w.propU32('#redistributor-regions', 1);
    // One 128 KiB frame per vcpu rather than QEMU's whole 0xf60000 window: the
    // guest then never probes frames that no redistributor model backs.
    w.propU64Array('reg', [VIRT_GIC_DIST_BASE, VIRT_GIC_DIST_SIZE, VIRT_GIC_REDIST_BASE, cpus * GICV3_REDIST_FRAME_SIZE]);
  } else {
    w.propString('compatible', 'arm,cortex-a15-gic');
    w.propU64Array('reg', [VIRT_GIC_DIST_BASE, VIRT_GIC_DIST_SIZE, VIRT_GIC_CPU_BASE, VIRT_GIC_CPU_SIZE]);
  }
  w.propU32('#interrupt-cells', 3);
  w.propEmpty('interrupt-controller');
  w.propU32('#address-cells', 2);
  w.propU32('#size-cells', 2);
  w.propEmpty('ranges');
  w.propU32('phandle', gicPhandle);
  w.endNode();

  w.beginNode(`flash@${VIRT_FLASH_BASE.toString(16)}`);
  w.propString('compatible', 'cfi-flash');
  w.propU64Array('reg', [VIRT_FLASH_BASE, VIRT_FLASH_BANK_SIZE, VIRT_FLASH_BASE + VIRT_FLASH_BANK_SIZE, VIRT_FLASH_BANK_SIZE]);
  w.propU32('bank-width', VIRT_FLASH_BANK_WIDTH);
  w.endNode();

  w.beginNode('cpus');
  w.propU32('#address-cells', 1);
  w.propU32('#size-cells', 0);
  // QEMU's default topology for -smp N: one socket, one cluster, N cores.
  w.beginNode('cpu-map');
  w.beginNode('socket0');
  w.beginNode('cluster0');
  for (let i = 0; i < cpus; i++) {
    w.beginNode(`core${i}`);
    w.propU32('cpu', cpuPhandles[i]!);
    w.endNode();
  }
  w.endNode();
  w.endNode();
  w.endNode();
  for (let i = 0; i < cpus; i++) {
    // QEMU names cpu nodes by index in decimal, while reg holds the MPIDR
    // affinity; the two differ from the eleventh vcpu on.
    w.beginNode(`cpu@${i}`);
    w.propString('device_type', 'cpu');
    w.propString('compatible', CPU_COMPATIBLE);
    w.propU32('reg', virtCpuAffinity(i, gicVersion));
    // A single vcpu is never started by anyone, so QEMU leaves this out.
    if (cpus > 1) w.propString('enable-method', 'psci');
    w.propU32('phandle', cpuPhandles[i]!);
    w.endNode();
  }
  w.endNode();

  // GICv2 PPI specifiers name the CPUs the interrupt is wired to; GICv3's
  // binding has no such mask.
  let timerFlags = GIC_FDT_IRQ_FLAGS_LEVEL_HI;
  if (gicVersion === 2) timerFlags |= ((1 << cpus) - 1) << GIC_FDT_IRQ_PPI_CPU_SHIFT;
  w.beginNode('timer');
  w.propStringList('compatible', ['arm,armv8-timer', 'arm,armv7-timer']);
  w.propU32Array('interrupts', [
    GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_S_EL1_PPI, timerFlags,
    GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_NS_EL1_PPI, timerFlags,
    GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_VIRT_PPI, timerFlags,
    GIC_FDT_IRQ_TYPE_PPI, ARCH_TIMER_NS_EL2_PPI, timerFlags,
  ]);
  w.propEmpty('always-on');
  w.endNode();

  w.beginNode('apb-pclk');
  w.propString('compatible', 'fixed-clock');
  w.propU32('#clock-cells', 0);
  w.propU32('clock-frequency', VIRT_APB_PCLK_HZ);
  w.propString('clock-output-names', 'clk24mhz');
  w.propU32('phandle', clockPhandle);
  w.endNode();

  w.beginNode('chosen');
  w.propString('stdout-path', VIRT_UART_NODE);
  if (opts.bootargs) w.propString('bootargs', opts.bootargs);
  if (opts.initrdStart !== undefined && opts.initrdEnd !== undefined && opts.initrdEnd > opts.initrdStart) {
    // QEMU writes single cells; a range above 4 GiB needs two, which Linux
    // reads just as well (it sizes the value by the property length).
    const cells: 1 | 2 = opts.initrdEnd > 0xffff_ffff ? 2 : 1;
    w.propSizedCells('linux,initrd-start', [[cells, opts.initrdStart]]);
    w.propSizedCells('linux,initrd-end', [[cells, opts.initrdEnd]]);
  }
  if (opts.rngSeed) w.propBytes('rng-seed', opts.rngSeed);
  if (opts.kaslrSeed) w.propBytes('kaslr-seed', opts.kaslrSeed);
  w.endNode();

  w.endNode();
  return w.finish({ extraSpace: opts.extraSpace ?? 0 });
}
