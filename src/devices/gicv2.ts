// GICv2 as QEMU's virt board has it without EL3: no Security Extensions, so
// the distributor at 0x08000000 and the memory-mapped CPU interface at
// 0x08010000 show their one (secure-layout) view. Up to 8 cpus; SPIs go to
// the cpus in their GICD_ITARGETSR mask; SGIs remember which cpus sent them.
// Group 0 is signalled as IRQ unless GICC_CTLR.FIQEn asks for FIQ.
import { GIC_INTERNAL, GIC_SGIS, GicCore, IDLE_PRIORITY, INTID_GROUP1_HIDDEN, INTID_SPURIOUS, type GicCoreOptions } from './gic-core.js';
import type { MmioDevice } from './mmio-device.js';

export const GICV2_DIST_SIZE = 0x10000;
export const GICV2_CPU_SIZE = 0x10000;

// Eight priority bits; BPR >= 0 and ABPR >= 1, as QEMU's GICv2 has them.
const MIN_BPR = 0;
const MIN_ABPR = 1;

// GICC_CTLR without Security Extensions: EnableGrp0, EnableGrp1, AckCtl,
// FIQEn, CBPR and EOImode are implemented.
const GICC_CTLR_EN_GRP0 = 1 << 0;
const GICC_CTLR_EN_GRP1 = 1 << 1;
const GICC_CTLR_ACK_CTL = 1 << 2;
const GICC_CTLR_FIQ_EN = 1 << 3;
const GICC_CTLR_CBPR = 1 << 4;
const GICC_CTLR_EOIMODE = 1 << 9;
const GICC_CTLR_MASK = 0x21f;

/** Arm implementation, architecture v2, as QEMU reports it in GICC_IIDR and GICD_IIDR. */
const GICC_IIDR = (2 << 16) | 0x43b;
const GICD_IIDR = 0x43b;
// CoreSight ID registers from 0xFD0: PIDR4-7, PIDR0-3, CIDR0-3. PIDR2 says GICv2.
const ID_REGS = [0x04, 0x00, 0x00, 0x00, 0x90, 0xb4, 0x2b, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

export interface GicV2Options {
  readonly cpus: number;
  readonly spis: number;
  readonly signal: GicCoreOptions['signal'];
}

export class GicV2 {
  readonly core: GicCore;
  readonly distributor: MmioDevice;
  readonly cpuInterface: MmioDevice;
  private readonly ctlr: Int32Array;
  private readonly allCpus: number;

  constructor(o: GicV2Options) {
    if (o.cpus > 8) throw new RangeError(`GICv2 serves at most 8 cpus, not ${o.cpus}`);
    this.core = new GicCore({ cpus: o.cpus, spis: o.spis, aprShift: MIN_BPR + 1, signal: o.signal });
    this.ctlr = new Int32Array(o.cpus);
    this.allCpus = (1 << o.cpus) - 1;
    const reset = (): void => this.reset();
    this.distributor = {
      name: 'gicv2-distributor',
      read: (off, size, cpu) => this.distRead(off, size, cpu),
      write: (off, size, value, cpu) => this.distWrite(off, size, value, cpu),
      reset,
    };
    this.cpuInterface = {
      name: 'gicv2-cpu-interface',
      read: (off, size, cpu) => (size === 4 ? this.cpuRead(cpu, off) : 0),
      write: (off, size, value, cpu) => { if (size === 4) this.cpuWrite(cpu, off, value >>> 0); },
      reset,
    };
    this.reset();
  }

  reset(): void {
    this.ctlr.fill(0);
    this.core.resetState(MIN_BPR, MIN_ABPR);
    // SGIs are always enabled here (their enable bits are RAO/WI, as in QEMU).
    for (let c = 0; c < this.core.cpus; c++) this.core.enabled[c] = 0xffff;
    this.core.update();
  }

  setSpi(intid: number, high: boolean): void {
    this.core.setLine(0, intid, high);
  }

  setPpi(cpu: number, intid: number, high: boolean): void {
    this.core.setLine(cpu, intid, high);
  }

  // ---- Distributor: byte-addressed, as every register allows byte access ----

  private distRead(off: number, size: number, cpu: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.distReadByte(off + i, cpu);
    return v >>> 0;
  }

  private distWrite(off: number, size: number, value: number, cpu: number): void {
    if (off === 0xf00) {
      if (size === 4) this.softwareInterrupt(cpu, value >>> 0);
      return;
    }
    for (let i = 0; i < size; i++) this.distWriteByte(off + i, (value >>> (8 * i)) & 0xff, cpu);
    this.core.update();
  }

  private distReadByte(off: number, cpu: number): number {
    const core = this.core;
    if (off < 0x80) {
      if (off === 0x000) return core.distEnables;
      if (off === 0x004) return (core.numIrq / 32 - 1) | ((core.cpus - 1) << 5);
      if (off === 0x008) return GICD_IIDR & 0xff;
      if (off === 0x009) return GICD_IIDR >> 8;
      return 0;
    }
    if (off >= 0xfd0 && off < 0x1000) return (off & 3) === 0 ? ID_REGS[(off - 0xfd0) >> 2] : 0;
    if (off >= 0xf10 && off < 0xf30) return core.sgiSources[cpu * GIC_SGIS + ((off - 0xf10) & 0xf)];
    if (off >= 0x400 && off < 0x800) {
      const id = off - 0x400;
      return id < core.numIrq ? core.priority[core.priorityIndex(cpu, id)] : 0;
    }
    if (off >= 0x800 && off < 0xc00) {
      const id = off - 0x800;
      if (core.cpus === 1 || id >= core.numIrq) return 0;
      return id < GIC_INTERNAL ? 1 << cpu : core.targets[id - GIC_INTERNAL];
    }
    if (off >= 0xc00 && off < 0xd00) {
      const first = (off - 0xc00) * 4;
      let v = 0;
      for (let i = 0; i < 4; i++) {
        const id = first + i;
        if (id < core.numIrq && core.test(core.edge, cpu, id)) v |= 2 << (2 * i);
      }
      return v;
    }
    if (off >= 0x80 && off < 0x400) {
      const id = (off & 0x7f) * 8;
      if (id >= core.numIrq) return 0;
      const w = core.wordOf(cpu, id);
      let bits: number;
      if (off < 0x100) bits = core.group[w];
      else if (off < 0x200) bits = core.enabled[w];
      else if (off < 0x300) bits = core.pendingWord(w);
      else bits = core.active[w];
      return (bits >>> (id & 31)) & 0xff;
    }
    return 0;
  }

  private distWriteByte(off: number, v: number, cpu: number): void {
    const core = this.core;
    if (off === 0x000) {
      core.distEnables = v & 3;
      return;
    }
    if (off >= 0x80 && off < 0x400) {
      const id = (off & 0x7f) * 8;
      if (id >= core.numIrq) return;
      const w = core.wordOf(cpu, id);
      const shift = id & 31;
      // SGIs stay enabled, and are made pending only through GICD_SGIR and GICD_SPENDSGIR.
      const bits = (id < GIC_SGIS && off >= 0x100 && off < 0x300 ? 0 : v) << shift;
      const keep = ~(0xff << shift);
      if (off < 0x100) core.group[w] = (core.group[w] & keep) | (v << shift);
      else if (off < 0x180) core.enabled[w] |= bits;
      else if (off < 0x200) core.enabled[w] &= ~bits;
      else if (off < 0x280) core.pending[w] |= bits;
      else if (off < 0x300) core.pending[w] &= ~bits;
      else if (off < 0x380) core.active[w] |= bits;
      else core.active[w] &= ~bits;
      return;
    }
    if (off >= 0x400 && off < 0x800) {
      const id = off - 0x400;
      if (id < core.numIrq) core.priority[core.priorityIndex(cpu, id)] = v;
      return;
    }
    if (off >= 0x800 && off < 0xc00) {
      const id = off - 0x800;
      // Uniprocessor GICs have these RAZ/WI; SGI and PPI targets are fixed.
      if (core.cpus === 1 || id < GIC_INTERNAL || id >= core.numIrq) return;
      core.targets[id - GIC_INTERNAL] = v & this.allCpus;
      return;
    }
    if (off >= 0xc00 && off < 0xd00) {
      const first = (off - 0xc00) * 4;
      for (let i = 0; i < 4; i++) {
        const id = first + i;
        if (id >= core.numIrq) break;
        core.assign(core.edge, cpu, id, id < GIC_SGIS || (v & (2 << (2 * i))) !== 0);
      }
      return;
    }
    if (off >= 0xf10 && off < 0xf30) {
      const sgi = (off - 0xf10) & 0xf;
      const k = cpu * GIC_SGIS + sgi;
      core.sgiSources[k] = off < 0xf20 ? core.sgiSources[k] & ~v : core.sgiSources[k] | v;
      core.assign(core.pending, cpu, sgi, core.sgiSources[k] !== 0);
    }
  }

  /** GICD_SGIR: TargetListFilter [25:24], CPUTargetList [23:16], SGIINTID [3:0]. */
  private softwareInterrupt(cpu: number, v: number): void {
    const core = this.core;
    const sgi = v & 0xf;
    let targets: number;
    switch ((v >>> 24) & 3) {
      case 0: targets = (v >>> 16) & this.allCpus; break;
      case 1: targets = this.allCpus & ~(1 << cpu); break;
      case 2: targets = 1 << cpu; break;
      default: return;
    }
    for (let t = 0; t < core.cpus; t++) {
      if ((targets & (1 << t)) === 0) continue;
      core.sgiSources[t * GIC_SGIS + sgi] |= 1 << cpu;
      core.pending[t] |= 1 << sgi;
    }
    core.update();
  }

  // ---- CPU interface: banked per cpu by who accesses it ----

  private cpuRead(cpu: number, off: number): number {
    const core = this.core;
    switch (off) {
      case 0x00: return this.ctlr[cpu];
      case 0x04: return core.pmr[cpu];
      case 0x08: return core.bpr0[cpu];
      case 0x0c: return this.acknowledge(cpu);
      case 0x14: return Math.min(core.runningPriority(cpu), 0xff);
      case 0x18: return this.highestPending(cpu);
      case 0x1c: return core.bpr1[cpu];
      case 0xfc: return GICC_IIDR;
    }
    if (off >= 0xd0 && off < 0xf0) {
      const i = (off >> 2) & 3;
      return core.apr[cpu * 8 + (off < 0xe0 ? 0 : 4) + i];
    }
    return 0;
  }

  private cpuWrite(cpu: number, off: number, v: number): void {
    const core = this.core;
    switch (off) {
      case 0x00: {
        const c = v & GICC_CTLR_MASK;
        this.ctlr[cpu] = c;
        core.cpuEnables[cpu] = c & (GICC_CTLR_EN_GRP0 | GICC_CTLR_EN_GRP1);
        core.fiqEnable[cpu] = (c & GICC_CTLR_FIQ_EN) !== 0 ? 1 : 0;
        core.cbpr[cpu] = (c & GICC_CTLR_CBPR) !== 0 ? 1 : 0;
        core.eoiMode[cpu] = (c & GICC_CTLR_EOIMODE) !== 0 ? 1 : 0;
        break;
      }
      case 0x04: core.pmr[cpu] = v & 0xff; break;
      case 0x08: core.bpr0[cpu] = Math.max(v & 7, MIN_BPR); break;
      case 0x10: this.endOfInterrupt(cpu, v & 0x3ff); return;
      case 0x1c: core.bpr1[cpu] = Math.max(v & 7, MIN_ABPR); break;
      case 0x1000: {
        const id = v & 0x3ff;
        if (id < core.numIrq && core.eoiMode[cpu] !== 0) core.deactivate(cpu, id);
        return;
      }
      default:
        if (off >= 0xd0 && off < 0xf0) {
          core.apr[cpu * 8 + (off < 0xe0 ? 0 : 4) + ((off >> 2) & 3)] = v;
          break;
        }
        return;
    }
    core.update();
  }

  /**
   * GICC_HPPIR: the highest priority pending interrupt above the priority
   * mask, whatever the running priority; a Group 1 interrupt shows as 1022
   * unless AckCtl is set.
   */
  private highestPending(cpu: number): number {
    const core = this.core;
    const id = core.hppiId[cpu];
    if (id === INTID_SPURIOUS || (core.cpuEnables[cpu] & 3) === 0) return INTID_SPURIOUS;
    if (core.hppiPrio[cpu] >= core.pmr[cpu]) return INTID_SPURIOUS;
    if (core.hppiGroup[cpu] === 1 && (this.ctlr[cpu] & GICC_CTLR_ACK_CTL) === 0) return INTID_GROUP1_HIDDEN;
    return id;
  }

  /** GICC_IAR: an SGI comes with the number of the cpu that sent it in bits 12:10. */
  private acknowledge(cpu: number): number {
    const core = this.core;
    const id = this.highestPending(cpu);
    if (id >= 1020) return id;
    const grp = core.hppiGroup[cpu];
    const mask = core.groupPriorityMask(cpu, grp);
    if ((core.hppiPrio[cpu] & mask) >= (core.runningPriority(cpu) & mask)) return INTID_SPURIOUS;
    if (id < GIC_SGIS) {
      const k = cpu * GIC_SGIS + id;
      const sources = core.sgiSources[k];
      const src = sources === 0 ? 0 : 31 - Math.clz32(sources & -sources);
      core.sgiSources[k] = sources & ~(1 << src);
      core.activate(cpu, id, core.sgiSources[k] === 0);
      return id | (src << 10);
    }
    core.activate(cpu, id, true);
    return id;
  }

  /** GICC_EOIR: priority drop in the interrupt's group, and deactivation unless EOImode splits it off. */
  private endOfInterrupt(cpu: number, id: number): void {
    const core = this.core;
    if (id >= core.numIrq || core.runningPriority(cpu) === IDLE_PRIORITY) return;
    core.dropPriority(cpu, core.groupOf(cpu, id));
    if (core.eoiMode[cpu] === 0) core.deactivate(cpu, id);
  }
}
