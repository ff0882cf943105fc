// The state and arbitration both GIC versions share: per-interrupt enable,
// pending, active, level, trigger and group bits, priorities, SPI targets,
// and the part of each CPU interface that decides what to signal (priority
// mask, binary points, active priorities, group enables). gicv2.ts and
// gicv3.ts put their register interfaces on top.
//
// Bitmaps are 32-bit words: word c (c < cpus) holds cpu c's private
// interrupts (SGIs 0-15, PPIs 16-31); word cpus + k holds INTIDs
// 32(k+1) .. 32(k+1)+31, the SPIs, which all cpus share.

export const GIC_SGIS = 16;
export const GIC_INTERNAL = 32;
export const INTID_SPURIOUS = 1023;
/** What IAR returns for a Group 1 interrupt read through a Group 0 view (GICv2 AckCtl = 0). */
export const INTID_GROUP1_HIDDEN = 1022;
/** No running interrupt: lower than any priority. */
export const IDLE_PRIORITY = 0x100;

/** The IRQ and FIQ lines of a cpu, placed as PSTATE.I and PSTATE.F so a mask test is one AND. */
export const LINE_IRQ = 1 << 7;
export const LINE_FIQ = 1 << 6;

export interface GicCoreOptions {
  readonly cpus: number;
  /** SPIs implemented (a multiple of 32); QEMU's virt board has 256. */
  readonly spis: number;
  /**
   * Right shift from a group priority to its bit in the active priority
   * registers: 8 - preemption bits. GICv3 as QEMU builds it for these cpus
   * has 5 bits (shift 3), GICv2 7 (shift 1).
   */
  readonly aprShift: number;
  /** Called with a cpu's new LINE_IRQ | LINE_FIQ whenever they change. */
  readonly signal: (cpu: number, lines: number) => void;
}

function ctz(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

export class GicCore {
  readonly cpus: number;
  /** INTIDs 0 .. numIrq-1 exist. */
  readonly numIrq: number;
  readonly words: number;
  readonly enabled: Uint32Array;
  /** The pending latch: set by an edge, a software write or an SGI; a level input is ORed in where used. */
  readonly pending: Uint32Array;
  readonly active: Uint32Array;
  readonly level: Uint32Array;
  /** 1 = edge-triggered. SGIs are always edge-triggered. */
  readonly edge: Uint32Array;
  /** 1 = Group 1 (IRQ), 0 = Group 0. */
  readonly group: Uint32Array;
  /** Private interrupts at cpu*32 + id, SPIs at cpus*32 + id - 32. */
  readonly priority: Uint8Array;
  /** Per SPI (index id - 32): the mask of cpus it is forwarded to. */
  readonly targets: Uint8Array;
  /** GICv2 SGIs: per target cpu and SGI, the mask of cpus that sent it. */
  readonly sgiSources: Uint8Array;
  /** Distributor group enables: bit 0 Group 0, bit 1 Group 1. */
  distEnables = 0;

  // CPU interface state, one entry per cpu.
  readonly pmr: Int32Array;
  readonly bpr0: Int32Array;
  /** The Group 1 binary point as GICv3's ICC_BPR1 and GICv2's GICC_ABPR hold it (one more than BPR0's scale). */
  readonly bpr1: Int32Array;
  /** Bit 0: Group 0 enabled, bit 1: Group 1 enabled. */
  readonly cpuEnables: Int32Array;
  readonly cbpr: Uint8Array;
  readonly eoiMode: Uint8Array;
  /** GICv2 GICC_CTLR.FIQEn: Group 0 is signalled as FIQ rather than IRQ. */
  readonly fiqEnable: Uint8Array;
  /** Active priorities: cpu*8 + group*4 + word. */
  readonly apr: Uint32Array;

  /** The highest priority pending interrupt each cpu could take, recomputed by update(). */
  readonly hppiId: Int32Array;
  readonly hppiPrio: Int32Array;
  readonly hppiGroup: Int32Array;
  readonly lines: Int32Array;

  readonly aprShift: number;
  private readonly signal: (cpu: number, lines: number) => void;
  /** Set by GICv3, where Group 0 is always FIQ; GICv2 asks fiqEnable. */
  group0AlwaysFiq = false;

  constructor(o: GicCoreOptions) {
    if (o.spis % 32 !== 0) throw new RangeError(`GIC SPI count ${o.spis} is not a multiple of 32`);
    this.cpus = o.cpus;
    this.numIrq = GIC_INTERNAL + o.spis;
    this.words = o.cpus + o.spis / 32;
    this.aprShift = o.aprShift;
    this.signal = o.signal;
    const w = this.words;
    this.enabled = new Uint32Array(w);
    this.pending = new Uint32Array(w);
    this.active = new Uint32Array(w);
    this.level = new Uint32Array(w);
    this.edge = new Uint32Array(w);
    this.group = new Uint32Array(w);
    this.priority = new Uint8Array(o.cpus * GIC_INTERNAL + o.spis);
    this.targets = new Uint8Array(o.spis);
    this.sgiSources = new Uint8Array(o.cpus * GIC_SGIS);
    const n = o.cpus;
    this.pmr = new Int32Array(n);
    this.bpr0 = new Int32Array(n);
    this.bpr1 = new Int32Array(n);
    this.cpuEnables = new Int32Array(n);
    this.cbpr = new Uint8Array(n);
    this.eoiMode = new Uint8Array(n);
    this.fiqEnable = new Uint8Array(n);
    this.apr = new Uint32Array(n * 8);
    this.hppiId = new Int32Array(n).fill(INTID_SPURIOUS);
    this.hppiPrio = new Int32Array(n).fill(IDLE_PRIORITY);
    this.hppiGroup = new Int32Array(n);
    this.lines = new Int32Array(n);
  }

  /** Clears the distributor and every CPU interface to their reset values (bpr values are the caller's). */
  resetState(bpr0: number, bpr1: number): void {
    for (const a of [this.enabled, this.pending, this.active, this.edge, this.group]) a.fill(0);
    // The input lines are wires from devices: a reset does not change them.
    for (let c = 0; c < this.cpus; c++) this.edge[c] = 0xffff;
    this.priority.fill(0);
    this.targets.fill(this.cpus === 1 ? 1 : 0);
    this.sgiSources.fill(0);
    this.distEnables = 0;
    this.pmr.fill(0);
    this.bpr0.fill(bpr0);
    this.bpr1.fill(bpr1);
    this.cpuEnables.fill(0);
    this.cbpr.fill(0);
    this.eoiMode.fill(0);
    this.fiqEnable.fill(0);
    this.apr.fill(0);
    this.update();
  }

  // ---- Addressing ----

  wordOf(cpu: number, id: number): number {
    return id < GIC_INTERNAL ? cpu : this.cpus + (id >> 5) - 1;
  }

  priorityIndex(cpu: number, id: number): number {
    return id < GIC_INTERNAL ? cpu * GIC_INTERNAL + id : this.cpus * GIC_INTERNAL + id - GIC_INTERNAL;
  }

  test(bits: Uint32Array, cpu: number, id: number): boolean {
    return (bits[this.wordOf(cpu, id)] & (1 << (id & 31))) !== 0;
  }

  assign(bits: Uint32Array, cpu: number, id: number, on: boolean): void {
    const w = this.wordOf(cpu, id);
    const b = 1 << (id & 31);
    bits[w] = on ? bits[w] | b : bits[w] & ~b;
  }

  /** Pending as the guest reads it: the latch, or a level-triggered input held high. */
  pendingWord(w: number): number {
    return this.pending[w] | (this.level[w] & ~this.edge[w]);
  }

  groupOf(cpu: number, id: number): number {
    return this.test(this.group, cpu, id) ? 1 : 0;
  }

  // ---- Inputs ----

  /**
   * A device's interrupt line (PPIs: `cpu`'s own; SPIs: `cpu` ignored). A
   * rising edge latches pending for an edge-triggered interrupt; a level-
   * triggered one is pending while the line is high.
   */
  setLine(cpu: number, id: number, high: boolean): void {
    const w = this.wordOf(cpu, id);
    const b = 1 << (id & 31);
    const was = (this.level[w] & b) !== 0;
    if (was === high) return;
    if (high) {
      this.level[w] |= b;
      if ((this.edge[w] & b) !== 0) this.pending[w] |= b;
    } else {
      this.level[w] &= ~b;
    }
    this.update();
  }

  // ---- Priorities ----

  /** The mask that keeps the group priority bits of a priority, by the binary point that applies. */
  groupPriorityMask(cpu: number, group: number): number {
    return group === 1 && this.cbpr[cpu] === 0 ? ~0 << this.bpr1[cpu] : ~0 << (this.bpr0[cpu] + 1);
  }

  /** The running priority from the active priority registers; IDLE_PRIORITY when nothing is active. */
  runningPriority(cpu: number): number {
    const base = cpu * 8;
    for (let i = 0; i < 4; i++) {
      const a = this.apr[base + i] | this.apr[base + 4 + i];
      if (a !== 0) return (i * 32 + ctz(a)) << this.aprShift;
    }
    return IDLE_PRIORITY;
  }

  /** The group whose active priority is highest (GICv3's EOI rule), -1 when none is active. */
  highestActiveGroup(cpu: number): number {
    const base = cpu * 8;
    for (let i = 0; i < 4; i++) {
      const g0 = ctz(this.apr[base + i]);
      const g1 = ctz(this.apr[base + 4 + i]);
      if (g1 < g0) return 1;
      if (g0 < 32) return 0;
    }
    return -1;
  }

  /**
   * Whether the cpu's highest priority pending interrupt may be taken now:
   * its group enabled at the CPU interface, above the priority mask, and
   * with a group priority above the running priority.
   */
  canPreempt(cpu: number): boolean {
    const id = this.hppiId[cpu];
    if (id === INTID_SPURIOUS) return false;
    const grp = this.hppiGroup[cpu];
    if ((this.cpuEnables[cpu] & (1 << grp)) === 0) return false;
    const prio = this.hppiPrio[cpu];
    if (prio >= this.pmr[cpu]) return false;
    const mask = this.groupPriorityMask(cpu, grp);
    return (prio & mask) < (this.runningPriority(cpu) & mask);
  }

  /**
   * Acknowledges the cpu's highest priority pending interrupt: it becomes
   * active, its group priority joins the active priorities, and its pending
   * latch is cleared (a level input held high keeps it pending as well).
   * GICv2 SGIs keep their latch while other sources remain; the caller
   * handles those.
   */
  activate(cpu: number, id: number, clearLatch: boolean): void {
    const grp = this.groupOf(cpu, id);
    const prio = this.priority[this.priorityIndex(cpu, id)];
    const bit = (prio & this.groupPriorityMask(cpu, grp) & 0xff) >> this.aprShift;
    this.apr[cpu * 8 + grp * 4 + (bit >> 5)] |= 1 << (bit & 31);
    this.assign(this.active, cpu, id, true);
    if (clearLatch) this.assign(this.pending, cpu, id, false);
    this.update();
  }

  /** Priority drop: the highest active priority of `group` is no longer running. */
  dropPriority(cpu: number, group: number): void {
    const base = cpu * 8 + group * 4;
    for (let i = 0; i < 4; i++) {
      const a = this.apr[base + i];
      if (a !== 0) {
        this.apr[base + i] = a & (a - 1);
        break;
      }
    }
    this.update();
  }

  deactivate(cpu: number, id: number): void {
    if (id >= this.numIrq) return;
    this.assign(this.active, cpu, id, false);
    this.update();
  }

  // ---- Arbitration ----

  /** Recomputes every cpu's highest priority pending interrupt and its IRQ/FIQ lines. */
  update(): void {
    for (let c = 0; c < this.cpus; c++) {
      this.computeHppi(c);
      let lines = 0;
      if (this.canPreempt(c)) {
        const fiq = this.hppiGroup[c] === 0 && (this.group0AlwaysFiq || this.fiqEnable[c] !== 0);
        lines = fiq ? LINE_FIQ : LINE_IRQ;
      }
      if (lines !== this.lines[c]) {
        this.lines[c] = lines;
        this.signal(c, lines);
      }
    }
  }

  private eligible(w: number): number {
    const grp = this.group[w];
    const groups = ((this.distEnables & 2) !== 0 ? grp : 0) | ((this.distEnables & 1) !== 0 ? ~grp : 0);
    return this.pendingWord(w) & this.enabled[w] & ~this.active[w] & groups;
  }

  /** Lowest priority value wins; among equals, the lowest INTID (as QEMU chooses). */
  private computeHppi(c: number): void {
    let bestId = INTID_SPURIOUS;
    let bestPrio = IDLE_PRIORITY;
    let pend = this.eligible(c);
    while (pend !== 0) {
      const b = ctz(pend);
      pend &= pend - 1;
      const p = this.priority[c * GIC_INTERNAL + b];
      if (p < bestPrio) {
        bestPrio = p;
        bestId = b;
      }
    }
    const me = 1 << c;
    const spiBase = this.cpus * GIC_INTERNAL - GIC_INTERNAL;
    for (let w = this.cpus; w < this.words; w++) {
      pend = this.eligible(w);
      const first = (w - this.cpus + 1) * 32;
      while (pend !== 0) {
        const b = ctz(pend);
        pend &= pend - 1;
        const id = first + b;
        if ((this.targets[id - GIC_INTERNAL] & me) === 0) continue;
        const p = this.priority[spiBase + id];
        if (p < bestPrio) {
          bestPrio = p;
          bestId = id;
        }
      }
    }
    this.hppiId[c] = bestId;
    this.hppiPrio[c] = bestPrio;
    this.hppiGroup[c] = bestId === INTID_SPURIOUS ? 0 : this.groupOf(c, bestId);
  }
}
