// GICv3 as QEMU's virt board has it without EL3: one security state
// (GICD_CTLR.DS = 1), affinity routing always on, no LPIs. A distributor at
// 0x08000000, one redistributor (RD_base + SGI_base frames, 128 KiB) per
// vcpu from 0x080A0000, and the ICC_* system-register CPU interface. Group 0
// is signalled as FIQ and Group 1 as IRQ.
import { GIC_INTERNAL, GicCore, INTID_SPURIOUS, type GicCoreOptions } from './gic-core.js';
import type { GicCpuInterface, IccRegister } from '../cpu/system-registers.js';
import type { MmioDevice } from './mmio-device.js';

export const GICV3_DIST_SIZE = 0x10000;
export const GICV3_REDIST_FRAME = 0x20000;
const SGI_FRAME = 0x10000;

// Five bits of priority and of preemption, as QEMU's GICv3 CPU interface has
// them for the cpus it models: PMR keeps bits 7:3, BPR0 >= 2, BPR1 >= 3.
const PRI_BITS = 5;
const PRIO_MASK = (0xff << (8 - PRI_BITS)) & 0xff;
const MIN_BPR0 = 7 - PRI_BITS;
const MIN_BPR1 = MIN_BPR0 + 1;

const GICD_CTLR_EN_GRP0 = 1 << 0;
const GICD_CTLR_EN_GRP1 = 1 << 1;
const GICD_CTLR_ARE = 1 << 4;
const GICD_CTLR_DS = 1 << 6;

// ICC_CTLR_EL1: A3V, IDbits = 1 (24-bit INTIDs), PRIbits = PRI_BITS - 1; CBPR and EOImode writable.
const ICC_CTLR_FIXED = (1 << 15) | (1 << 11) | ((PRI_BITS - 1) << 8);
const ICC_CTLR_CBPR = 1 << 0;
const ICC_CTLR_EOIMODE = 1 << 1;
/** SRE, DFB and DIB read as one: the system-register interface is always on. */
const ICC_SRE_VALUE = 7n;

const GICR_WAKER_PROCESSOR_SLEEP = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP = 1 << 2;

/** Arm's GIC-500 r0p0 identity, as QEMU reports it. */
const IIDR = 0x43b;
// CoreSight ID registers from 0xFFD0: PIDR4-7, PIDR0-3, CIDR0-3. PIDR2 says GICv3.
const ID_REGS = [0x44, 0x00, 0x00, 0x00, 0x92, 0xb4, 0x3b, 0x00, 0x0d, 0xf0, 0x05, 0xb1];
const PIDR0_DIST = 0x92;
const PIDR0_REDIST = 0x93;

export interface GicV3Options {
  readonly cpus: number;
  readonly spis: number;
  /** Each vcpu's MPIDR_EL1 affinity (Aff3..Aff0), as GICR_TYPER and routing use it. */
  readonly mpidr: (cpu: number) => bigint;
  readonly signal: GicCoreOptions['signal'];
}

export class GicV3 {
  readonly core: GicCore;
  readonly distributor: MmioDevice;
  readonly redistributors: MmioDevice;
  readonly cpuInterfaces: GicCpuInterface[];
  /** GICR_TYPER[63:32] per cpu: Aff3.Aff2.Aff1.Aff0. */
  private readonly affinity: number[];
  /** GICD_IROUTER<n>, low and high words, per SPI (index id - 32). */
  private readonly routerLo: Uint32Array;
  private readonly routerHi: Uint32Array;
  private readonly waker: Int32Array;
  private readonly propbaser: Uint32Array;
  private readonly pendbaser: Uint32Array;

  constructor(o: GicV3Options) {
    this.core = new GicCore({ cpus: o.cpus, spis: o.spis, aprShift: 8 - PRI_BITS, signal: o.signal });
    this.core.group0AlwaysFiq = true;
    this.affinity = [];
    for (let c = 0; c < o.cpus; c++) {
      const m = o.mpidr(c);
      this.affinity.push(Number(((m >> 8n) & 0xff000000n) | (m & 0xffffffn)) >>> 0);
    }
    this.routerLo = new Uint32Array(o.spis);
    this.routerHi = new Uint32Array(o.spis);
    this.waker = new Int32Array(o.cpus);
    this.propbaser = new Uint32Array(o.cpus * 2);
    this.pendbaser = new Uint32Array(o.cpus * 2);
    const reset = (): void => this.reset();
    this.distributor = {
      name: 'gicv3-distributor',
      read: (off, size) => this.distRead(off, size),
      write: (off, size, value) => this.distWrite(off, size, value),
      reset,
    };
    this.redistributors = {
      name: 'gicv3-redistributors',
      read: (off, size) => this.redistRead(Math.floor(off / GICV3_REDIST_FRAME), off % GICV3_REDIST_FRAME, size),
      write: (off, size, value) => this.redistWrite(Math.floor(off / GICV3_REDIST_FRAME), off % GICV3_REDIST_FRAME, size, value),
      reset,
    };
    this.cpuInterfaces = Array.from({ length: o.cpus }, (_, c): GicCpuInterface => ({
      read: (reg) => this.iccRead(c, reg),
      write: (reg, value) => this.iccWrite(c, reg, value),
    }));
    this.reset();
  }

  /** A system reset: distributor, redistributors and CPU interfaces to their reset state. */
  reset(): void {
    this.routerLo.fill(0);
    this.routerHi.fill(0);
    this.waker.fill(GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP);
    this.propbaser.fill(0);
    this.pendbaser.fill(0);
    this.core.resetState(MIN_BPR0, MIN_BPR1);
    for (let i = 0; i < this.routerLo.length; i++) this.routeSpi(i);
    this.core.update();
  }

  /** An SPI input line (INTID 32 and up). */
  setSpi(intid: number, high: boolean): void {
    this.core.setLine(0, intid, high);
  }

  /** A PPI input line of one cpu (INTID 16-31). */
  setPpi(cpu: number, intid: number, high: boolean): void {
    this.core.setLine(cpu, intid, high);
  }

  // ---- Routing ----

  /**
   * GICD_IROUTER names one PE by affinity; QEMU ignores IRM (no 1-of-N) and
   * leaves an SPI routed to no existing PE pending but undelivered.
   */
  private routeSpi(spi: number): void {
    const aff = ((this.routerLo[spi] & 0xffffff) | ((this.routerHi[spi] & 0xff) << 24)) >>> 0;
    const cpu = this.affinity.indexOf(aff);
    this.core.targets[spi] = cpu < 0 ? 0 : 1 << cpu;
  }

  // ---- Distributor ----

  private distRead(off: number, size: number): number {
    const core = this.core;
    if (off >= 0x400 && off < 0x800) return this.readPriorities(0, off - 0x400, size, false);
    if (size !== 4) return 0;
    if (off === 0x000) return GICD_CTLR_DS | GICD_CTLR_ARE | core.distEnables;
    // No1N, A3V, IDbits = 15 (16-bit INTIDs), ITLinesNumber.
    if (off === 0x004) return ((1 << 25) | (1 << 24) | (0xf << 19) | (core.numIrq / 32 - 1)) >>> 0;
    if (off === 0x008) return IIDR;
    if (off >= 0x080 && off < 0x100) return this.spiBitmapRead(core.group, off - 0x080);
    if (off >= 0x100 && off < 0x200) return this.spiBitmapRead(core.enabled, (off - 0x100) & 0x7f);
    if (off >= 0x200 && off < 0x300) return this.spiPendingRead((off - 0x200) & 0x7f);
    if (off >= 0x300 && off < 0x400) return this.spiBitmapRead(core.active, (off - 0x300) & 0x7f);
    if (off >= 0xc00 && off < 0xd00) {
      const id = (off - 0xc00) * 4;
      if (id < GIC_INTERNAL || id >= core.numIrq) return 0;
      return edgeToIcfgr(core.edge[core.wordOf(0, id)] >>> (id & 16));
    }
    if (off >= 0x6000 && off < 0x8000) {
      const id = (off - 0x6000) >> 3;
      if (id < GIC_INTERNAL || id >= core.numIrq) return 0;
      return (off & 4) !== 0 ? this.routerHi[id - GIC_INTERNAL] : this.routerLo[id - GIC_INTERNAL];
    }
    if (off >= 0xffd0) return idRegister(off, PIDR0_DIST);
    // ITARGETSR, IGRPMODR, NSACR, SGIR, the SGI pending registers: RAZ/WI
    // with affinity routing on and one security state. Reserved: RAZ/WI.
    return 0;
  }

  private distWrite(off: number, size: number, value: number): void {
    const core = this.core;
    if (off >= 0x400 && off < 0x800) {
      this.writePriorities(0, off - 0x400, size, value, false);
      return;
    }
    if (size !== 4) return;
    if (off === 0x000) {
      core.distEnables = value & (GICD_CTLR_EN_GRP0 | GICD_CTLR_EN_GRP1);
      core.update();
      return;
    }
    const v = value >>> 0;
    if (off >= 0x080 && off < 0x100) this.spiBitmapWrite(core.group, off - 0x080, v, 'assign');
    else if (off >= 0x100 && off < 0x180) this.spiBitmapWrite(core.enabled, off - 0x100, v, 'set');
    else if (off >= 0x180 && off < 0x200) this.spiBitmapWrite(core.enabled, off - 0x180, v, 'clear');
    else if (off >= 0x200 && off < 0x280) this.spiBitmapWrite(core.pending, off - 0x200, v, 'set');
    else if (off >= 0x280 && off < 0x300) this.spiBitmapWrite(core.pending, off - 0x280, v, 'clear');
    else if (off >= 0x300 && off < 0x380) this.spiBitmapWrite(core.active, off - 0x300, v, 'set');
    else if (off >= 0x380 && off < 0x400) this.spiBitmapWrite(core.active, off - 0x380, v, 'clear');
    else if (off >= 0xc00 && off < 0xd00) {
      const id = (off - 0xc00) * 4;
      if (id < GIC_INTERNAL || id >= core.numIrq) return;
      const w = core.wordOf(0, id);
      const shift = id & 16;
      core.edge[w] = (core.edge[w] & ~(0xffff << shift)) | (icfgrToEdge(v) << shift);
      core.update();
    } else if (off >= 0x6000 && off < 0x8000) {
      const id = (off - 0x6000) >> 3;
      if (id < GIC_INTERNAL || id >= core.numIrq) return;
      const spi = id - GIC_INTERNAL;
      if ((off & 4) !== 0) this.routerHi[spi] = v & 0xff;
      else this.routerLo[spi] = v & 0x80ffffff;
      this.routeSpi(spi);
      core.update();
    }
  }

  private spiBitmapRead(bits: Uint32Array, byteOff: number): number {
    const id = byteOff * 8;
    if (id < GIC_INTERNAL || id >= this.core.numIrq) return 0;
    return bits[this.core.wordOf(0, id)];
  }

  private spiPendingRead(byteOff: number): number {
    const id = byteOff * 8;
    if (id < GIC_INTERNAL || id >= this.core.numIrq) return 0;
    return this.core.pendingWord(this.core.wordOf(0, id)) >>> 0;
  }

  private spiBitmapWrite(bits: Uint32Array, byteOff: number, v: number, op: 'set' | 'clear' | 'assign'): void {
    const id = byteOff * 8;
    if (id < GIC_INTERNAL || id >= this.core.numIrq) return;
    const w = this.core.wordOf(0, id);
    bits[w] = op === 'set' ? bits[w] | v : op === 'clear' ? bits[w] & ~v : v;
    this.core.update();
  }

  /** IPRIORITYR bytes starting at `first` (an INTID), in the distributor (SPIs) or a redistributor (cpu's SGIs/PPIs). */
  private readPriorities(cpu: number, first: number, size: number, privateOnly: boolean): number {
    if (size !== 1 && size !== 4) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const id = first + i;
      const ok = privateOnly ? id < GIC_INTERNAL : id >= GIC_INTERNAL && id < this.core.numIrq;
      v = (v << 8) | (ok ? this.core.priority[this.core.priorityIndex(cpu, id)] : 0);
    }
    return v >>> 0;
  }

  private writePriorities(cpu: number, first: number, size: number, value: number, privateOnly: boolean): void {
    if (size !== 1 && size !== 4) return;
    for (let i = 0; i < size; i++) {
      const id = first + i;
      const ok = privateOnly ? id < GIC_INTERNAL : id >= GIC_INTERNAL && id < this.core.numIrq;
      if (ok) this.core.priority[this.core.priorityIndex(cpu, id)] = (value >>> (8 * i)) & 0xff;
    }
    this.core.update();
  }

  // ---- Redistributors ----

  private redistRead(cpu: number, off: number, size: number): number {
    const core = this.core;
    if (cpu >= core.cpus) return 0;
    if (off >= SGI_FRAME + 0x400 && off < SGI_FRAME + 0x420) return this.readPriorities(cpu, off - SGI_FRAME - 0x400, size, true);
    if (size !== 4) return 0;
    switch (off) {
      case 0x0000: return 0; // GICR_CTLR: no LPIs, nothing in flight
      case 0x0004: return IIDR;
      // GICR_TYPER: CommonLPIAff = 1, Processor_Number, Last; affinity above.
      case 0x0008: return ((1 << 24) | (cpu << 8) | (cpu === core.cpus - 1 ? 1 << 4 : 0)) >>> 0;
      case 0x000c: return this.affinity[cpu];
      case 0x0010: return 0;
      case 0x0014: return this.waker[cpu];
      case 0x0070: return this.propbaser[cpu * 2];
      case 0x0074: return this.propbaser[cpu * 2 + 1];
      case 0x0078: return this.pendbaser[cpu * 2];
      case 0x007c: return this.pendbaser[cpu * 2 + 1];
      case SGI_FRAME + 0x080: return core.group[cpu];
      case SGI_FRAME + 0x100:
      case SGI_FRAME + 0x180: return core.enabled[cpu];
      case SGI_FRAME + 0x200:
      case SGI_FRAME + 0x280: return core.pendingWord(cpu) >>> 0;
      case SGI_FRAME + 0x300:
      case SGI_FRAME + 0x380: return core.active[cpu];
      case SGI_FRAME + 0xc00: return edgeToIcfgr(core.edge[cpu]);
      case SGI_FRAME + 0xc04: return edgeToIcfgr(core.edge[cpu] >>> 16);
    }
    if (off >= 0xffd0 && off < 0x10000) return idRegister(off, PIDR0_REDIST);
    return 0;
  }

  private redistWrite(cpu: number, off: number, size: number, value: number): void {
    const core = this.core;
    if (cpu >= core.cpus) return;
    if (off >= SGI_FRAME + 0x400 && off < SGI_FRAME + 0x420) {
      this.writePriorities(cpu, off - SGI_FRAME - 0x400, size, value, true);
      return;
    }
    if (size !== 4) return;
    const v = value >>> 0;
    switch (off) {
      case 0x0014:
        // The CPU interface quiesces at once, so ChildrenAsleep follows ProcessorSleep.
        this.waker[cpu] = (v & GICR_WAKER_PROCESSOR_SLEEP) !== 0 ? GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP : 0;
        return;
      case 0x0070: this.propbaser[cpu * 2] = v; return;
      case 0x0074: this.propbaser[cpu * 2 + 1] = v; return;
      case 0x0078: this.pendbaser[cpu * 2] = v; return;
      case 0x007c: this.pendbaser[cpu * 2 + 1] = v; return;
      case SGI_FRAME + 0x080: core.group[cpu] = v; break;
      case SGI_FRAME + 0x100: core.enabled[cpu] |= v; break;
      case SGI_FRAME + 0x180: core.enabled[cpu] &= ~v; break;
      case SGI_FRAME + 0x200: core.pending[cpu] |= v; break;
      case SGI_FRAME + 0x280: core.pending[cpu] &= ~v; break;
      case SGI_FRAME + 0x300: core.active[cpu] |= v; break;
      case SGI_FRAME + 0x380: core.active[cpu] &= ~v; break;
      case SGI_FRAME + 0xc04:
        // PPIs only: SGIs are always edge-triggered (GICR_ICFGR0 is read-only).
        core.edge[cpu] = (core.edge[cpu] & 0xffff) | (icfgrToEdge(v) << 16);
        break;
      default:
        return;
    }
    core.update();
  }

  // ---- CPU interface (ICC_* system registers) ----

  private iccRead(cpu: number, reg: IccRegister): bigint {
    const core = this.core;
    switch (reg) {
      case 'ICC_PMR_EL1': return BigInt(core.pmr[cpu]);
      case 'ICC_IAR0_EL1': return BigInt(this.acknowledge(cpu, 0));
      case 'ICC_IAR1_EL1': return BigInt(this.acknowledge(cpu, 1));
      case 'ICC_HPPIR0_EL1': return BigInt(this.highestPending(cpu, 0));
      case 'ICC_HPPIR1_EL1': return BigInt(this.highestPending(cpu, 1));
      case 'ICC_BPR0_EL1': return BigInt(core.bpr0[cpu]);
      // With CBPR set, BPR1 reads as BPR0 + 1 (saturating) and ignores writes.
      case 'ICC_BPR1_EL1': return BigInt(core.cbpr[cpu] !== 0 ? Math.min(core.bpr0[cpu] + 1, 7) : core.bpr1[cpu]);
      case 'ICC_AP0R0_EL1': return BigInt(core.apr[cpu * 8]);
      case 'ICC_AP1R0_EL1': return BigInt(core.apr[cpu * 8 + 4]);
      case 'ICC_RPR_EL1': return BigInt(Math.min(core.runningPriority(cpu), 0xff));
      case 'ICC_CTLR_EL1':
        return BigInt(ICC_CTLR_FIXED | (core.cbpr[cpu] !== 0 ? ICC_CTLR_CBPR : 0) | (core.eoiMode[cpu] !== 0 ? ICC_CTLR_EOIMODE : 0));
      case 'ICC_SRE_EL1': return ICC_SRE_VALUE;
      case 'ICC_IGRPEN0_EL1': return BigInt(core.cpuEnables[cpu] & 1);
      case 'ICC_IGRPEN1_EL1': return BigInt((core.cpuEnables[cpu] >> 1) & 1);
      default: return 0n;
    }
  }

  private iccWrite(cpu: number, reg: IccRegister, value: bigint): void {
    const core = this.core;
    const lo = Number(value & 0xffffffffn);
    switch (reg) {
      case 'ICC_PMR_EL1':
        core.pmr[cpu] = lo & PRIO_MASK;
        break;
      case 'ICC_BPR0_EL1':
        core.bpr0[cpu] = Math.max(lo & 7, MIN_BPR0);
        break;
      case 'ICC_BPR1_EL1':
        if (core.cbpr[cpu] !== 0) return;
        core.bpr1[cpu] = Math.max(lo & 7, MIN_BPR1);
        break;
      case 'ICC_AP0R0_EL1':
        core.apr[cpu * 8] = lo;
        break;
      case 'ICC_AP1R0_EL1':
        core.apr[cpu * 8 + 4] = lo;
        break;
      case 'ICC_CTLR_EL1':
        core.cbpr[cpu] = lo & ICC_CTLR_CBPR;
        core.eoiMode[cpu] = (lo & ICC_CTLR_EOIMODE) !== 0 ? 1 : 0;
        break;
      case 'ICC_IGRPEN0_EL1':
        core.cpuEnables[cpu] = (core.cpuEnables[cpu] & ~1) | (lo & 1);
        break;
      case 'ICC_IGRPEN1_EL1':
        core.cpuEnables[cpu] = (core.cpuEnables[cpu] & ~2) | ((lo & 1) << 1);
        break;
      case 'ICC_EOIR0_EL1':
        this.endOfInterrupt(cpu, lo & 0xffffff, 0);
        return;
      case 'ICC_EOIR1_EL1':
        this.endOfInterrupt(cpu, lo & 0xffffff, 1);
        return;
      case 'ICC_DIR_EL1': {
        const id = lo & 0xffffff;
        if (id < core.numIrq && core.eoiMode[cpu] !== 0) core.deactivate(cpu, id);
        return;
      }
      // One security state: the "other" Group 1 of ASGI1R is Group 0.
      case 'ICC_SGI1R_EL1':
        this.generateSgi(cpu, value, 1);
        return;
      case 'ICC_ASGI1R_EL1':
      case 'ICC_SGI0R_EL1':
        this.generateSgi(cpu, value, 0);
        return;
      default:
        return;
    }
    core.update();
  }

  /** ICC_HPPIR<n>: the highest priority pending interrupt if it is of group n and its group is enabled. */
  private highestPending(cpu: number, group: number): number {
    const core = this.core;
    const id = core.hppiId[cpu];
    if (id === INTID_SPURIOUS) return INTID_SPURIOUS;
    const grp = core.hppiGroup[cpu];
    if ((core.cpuEnables[cpu] & (1 << grp)) === 0 || grp !== group) return INTID_SPURIOUS;
    return id;
  }

  private acknowledge(cpu: number, group: number): number {
    const core = this.core;
    if (!core.canPreempt(cpu)) return INTID_SPURIOUS;
    const id = this.highestPending(cpu, group);
    if (id !== INTID_SPURIOUS) core.activate(cpu, id, true);
    return id;
  }

  /**
   * Priority drop of the highest active priority (whichever interrupt the
   * guest names: ICC_EOIR must nest with ICC_IAR), then deactivation of the
   * named interrupt unless EOImode splits it off to ICC_DIR.
   */
  private endOfInterrupt(cpu: number, id: number, group: number): void {
    const core = this.core;
    if (id >= core.numIrq) return;
    const active = core.highestActiveGroup(cpu);
    if (active !== group) return;
    core.dropPriority(cpu, group);
    if (core.eoiMode[cpu] === 0) core.deactivate(cpu, id);
  }

  /**
   * ICC_SGI*R: TargetList [15:0], Aff1 [23:16], INTID [27:24], Aff2 [39:32],
   * IRM [40] (every PE but this one), RS [47:44], Aff3 [55:48]. A target
   * only takes the SGI if it configured that SGI in the group generated.
   */
  private generateSgi(cpu: number, value: bigint, group: number): void {
    const core = this.core;
    const lo = Number(value & 0xffffffffn);
    const hi = Number((value >> 32n) & 0xffffffffn);
    const intid = (lo >>> 24) & 0xf;
    const irm = (hi & (1 << 8)) !== 0;
    const targetList = lo & 0xffff;
    const rs = (hi >>> 12) & 0xf;
    const upper = (((hi >>> 16) & 0xff) << 16) | ((hi & 0xff) << 8) | ((lo >>> 16) & 0xff);
    let any = false;
    for (let t = 0; t < core.cpus; t++) {
      if (irm) {
        if (t === cpu) continue;
      } else {
        const aff = this.affinity[t];
        if (((aff >>> 8) & 0xffffff) !== upper) continue;
        const aff0 = aff & 0xff;
        if ((aff0 >> 4) !== rs || (targetList & (1 << (aff0 & 15))) === 0) continue;
      }
      if (core.groupOf(t, intid) !== group) continue;
      core.pending[t] |= 1 << intid;
      any = true;
    }
    if (any) core.update();
  }
}

/** ICFGR: two bits per interrupt, bit 1 of each pair set for edge-triggered. */
function edgeToIcfgr(edge16: number): number {
  let v = 0;
  for (let i = 0; i < 16; i++) if ((edge16 & (1 << i)) !== 0) v |= 2 << (2 * i);
  return v >>> 0;
}

function icfgrToEdge(v: number): number {
  let e = 0;
  for (let i = 0; i < 16; i++) if ((v & (2 << (2 * i))) !== 0) e |= 1 << i;
  return e;
}

function idRegister(off: number, pidr0: number): number {
  if ((off & 3) !== 0) return 0;
  const i = (off - 0xffd0) >> 2;
  if (i === 4) return pidr0;
  return ID_REGS[i] ?? 0;
}

