// The run loop: it plays the part KVM and a small VMM play on hardware. Vcpus
// run in deterministic time slices; when one exits (HVC/SMC, WFI/WFE, a
// breakpoint, an internal error) the loop handles it or hands it to the
// embedder as data.
import { CodePageIndex } from '../src/cpu/code-pages.js';
import type { CpuModel } from '../src/cpu/cpu-models.js';
import { execute } from '../src/cpu/interpreter/execute.js';
import { Vcpu, VCPU_TLB_BYTES, VcpuExit } from '../src/cpu/vcpu.js';
import { SLOT_PC } from '../src/cpu/state-layout.js';
import { sysregSlotOf } from '../src/cpu/system-registers.js';
import {
  GICV3_REDIST_FRAME_SIZE, VIRT_GIC_CPU_BASE, VIRT_GIC_CPU_SIZE, VIRT_GIC_DIST_BASE, VIRT_GIC_DIST_SIZE,
  VIRT_GIC_REDIST_BASE, VIRT_RTC_BASE, VIRT_RTC_INTID, VIRT_RTC_SIZE, VIRT_UART_BASE, VIRT_UART_INTID, VIRT_UART_SIZE,
} from '../src/board/virt-memory-map.js';
import { GenericTimer } from '../src/devices/generic-timer.js';
import { GicV2 } from '../src/devices/gicv2.js';
import { GicV3 } from '../src/devices/gicv3.js';
import { Pl011 } from '../src/devices/pl011.js';
import { Pl031 } from '../src/devices/pl031.js';
import { JitEngine, type JitOptions } from '../jit/engine.js';
import { jitArea, type JitArea, reservedBytesFor } from '../jit/layout.js';
import { GuestClock, type IcountOptions } from './guest-clock.js';
import { GuestMemory } from './guest-memory.js';
import { handlePsciCall, PSCI_RET_INTERNAL_FAILURE, type PsciHost, type PsciVersion, SystemEventType } from './psci.js';


export interface VmConfig {
  readonly ramBase: number;
  readonly ramSize: number;
  readonly cpus: number;
  readonly cpuModel: CpuModel;
  /** Read-only memory regions (flash holding -bios firmware). */
  readonly roms?: { name: string; base: number; size: number }[];
  /** Guest-visible generic timer frequency, as CNTFRQ_EL0 reports it. */
  readonly counterFrequency?: number;
  /** Receives what the guest writes to its UART. */
  readonly onSerialOutput?: (bytes: Uint8Array) => void;
  /** The PSCI conduit the device tree names; calls through the other one are UNDEFINED. Default 'hvc'. */
  readonly psciConduit?: 'hvc' | 'smc';
  /** Default '1.1'; '0.1' is KVM's legacy mode. */
  readonly psciVersion?: PsciVersion;
  /** Translate hot code to WebAssembly (jit/); without it, the interpreter runs everything. */
  readonly jit?: JitOptions;
  /** The interrupt controller, as -machine gic-version= chooses it. Default 2, as on QEMU's virt board. */
  readonly gicVersion?: 2 | 3;
  /** Deterministic time (-icount shift=N): guest time from retired instructions. Default: host time. */
  readonly icount?: IcountOptions;
}

export type VmExit =
  | { readonly reason: 'system-event'; readonly type: SystemEventType; readonly flags: bigint; readonly vcpu: number }
  | { readonly reason: 'breakpoint'; readonly vcpu: number; readonly pc: bigint }
  | { readonly reason: 'instruction-limit' }
  /** requestPause() was called. */
  | { readonly reason: 'paused' }
  /** Nothing can run: every vcpu is powered off (or stopped by a system event not yet decided on). */
  | { readonly reason: 'all-vcpus-off' }
  /**
   * Every powered vcpu waits for an interrupt (WFI, or WFE without an event)
   * and none is due within RunOptions.idleWaitMs; `waitMs` is the host time
   * until the next timer deadline, Infinity when nothing in the machine will
   * wake them (only input the embedder feeds can).
   */
  | { readonly reason: 'idle'; readonly waitMs: number }
  | { readonly reason: 'internal-error'; readonly vcpu: number; readonly message: string };

export interface RunOptions {
  /** Stop after about this many guest instructions (summed over vcpus). */
  readonly maxInstructions?: number;
  /** Stop before the boot vcpu executes the instruction at this address. */
  readonly breakpoint?: bigint;
  /**
   * When every vcpu waits for an interrupt, run() blocks the thread until the
   * next deadline (timer, RTC alarm) without using the CPU. With this set it
   * blocks at most this long and then returns { reason: 'idle' }, so that an
   * embedder can feed input between runs. Without it, and without any
   * deadline, run() returns 'idle' at once.
   */
  readonly idleWaitMs?: number;
}

/** Exits counted by reason, as a KVM stat would. */
export interface ExitCounters {
  hvc: number;
  smc: number;
  wfi: number;
  wfe: number;
  systemEvent: number;
  timeSlice: number;
}

const SLICE_INSTRUCTIONS = 200_000;
const SMP_SLICE_INSTRUCTIONS = 10_000;
/**
 * Real-time mode cuts a slice where the next deadline is expected, from the
 * measured rate; this keeps a near deadline from cutting slices to nothing.
 */
const MIN_DEADLINE_SLICE = 2_000;

/** Why a powered vcpu is not running (KVM's halted mp-states). */
const enum Wait {
  None = 0,
  /** WFI (or PSCI CPU_SUSPEND): until an interrupt is signalled to it. */
  Interrupt = 1,
  /** WFE: until an event (SEV, the event stream, another vcpu's progress) or an interrupt. */
  Event = 2,
}

export class VirtualMachine implements PsciHost {
  readonly memory: GuestMemory;
  readonly codePages: CodePageIndex;
  /** The JIT tier, when enabled. */
  jit: JitEngine | undefined;
  private readonly jitArea: JitArea;
  readonly vcpus: Vcpu[];
  readonly uart: Pl011;
  readonly rtc: Pl031;
  readonly gic: GicV2 | GicV3;
  readonly gicVersion: 2 | 3;
  /** Guest time: host time, or retired instructions under -icount. */
  readonly clock: GuestClock;
  /** Each vcpu's EL1 physical and virtual timer outputs. */
  readonly timers: GenericTimer[];
  /** Instructions retired by the whole machine since it was created (guest time under -icount). */
  icount = 0;
  private readonly waiting: Uint8Array;
  /** For a vcpu in WFE: the machine's icount and the count when it began to wait. */
  private readonly waitIcount: number[];
  private readonly waitSince: number[];
  /** The vcpu in execute(), whose in-flight instructions count as guest time. */
  private running: Vcpu | undefined;
  private runningBefore = 0;
  /** Guest instructions per host millisecond, measured, for cutting slices at deadlines. */
  private insnsPerMs = 20_000;
  private readonly sleepCell = typeof SharedArrayBuffer !== 'undefined' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
  readonly exits: ExitCounters = { hvc: 0, smc: 0, wfi: 0, wfe: 0, systemEvent: 0, timeSlice: 0 };
  /** Which vcpus are powered on; secondaries start off, as PSCI has them. */
  readonly powered: boolean[];
  private readonly serialOut: number[] = [];
  private readonly onSerialOutput?: (bytes: Uint8Array) => void;
  private readonly startTime = performance.now();
  private readonly conduit: VcpuExit;
  private readonly psciVersion: PsciVersion;
  private stoppedByEvent: boolean[] | undefined;
  private pauseRequested = false;

  constructor(cfg: VmConfig) {
    // The engine's tables (code-page flags, the JIT's dispatch table) live in
    // the shared memory too, sized for the largest buffer this layout makes.
    const romBytes = (cfg.roms ?? []).reduce((n, r) => n + r.size, 0);
    const estimate = cfg.cpus * 4096 + romBytes + cfg.ramSize + 16 * 65536;
    const tlbBytes = cfg.cpus * VCPU_TLB_BYTES;
    const reserveBytes = reservedBytesFor(estimate + reservedBytesFor(estimate, tlbBytes), tlbBytes);
    this.memory = new GuestMemory({ vcpus: cfg.cpus, ramBase: cfg.ramBase, ramSize: cfg.ramSize, roms: cfg.roms, reserveBytes });
    const area = jitArea(this.memory.reservedOffset, this.memory.reservedBytes, tlbBytes);
    this.codePages = new CodePageIndex(this.memory.buffer.byteLength, new Uint8Array(this.memory.buffer, area.flagsBase, area.flagsBytes));
    this.jitArea = area;
    this.jit = cfg.jit ? new JitEngine(cfg.jit, this.memory, this.codePages, area) : undefined;
    this.clock = new GuestClock(cfg.counterFrequency ?? 62_500_000, cfg.icount, () => this.instructionsNow());
    this.conduit = cfg.psciConduit === 'smc' ? VcpuExit.Smc : VcpuExit.Hvc;
    this.psciVersion = cfg.psciVersion ?? '1.1';
    this.onSerialOutput = cfg.onSerialOutput;
    this.uart = new Pl011((b) => {
      this.serialOut.push(b);
      if (this.serialOut.length >= 4096) this.flushSerial();
    });
    this.memory.addMmio(VIRT_UART_BASE, VIRT_UART_SIZE, this.uart);
    // Wall-clock time at creation, then the machine's own clock, as the timer's.
    this.rtc = new Pl031(Date.now(), () => performance.now() - this.startTime);
    this.memory.addMmio(VIRT_RTC_BASE, VIRT_RTC_SIZE, this.rtc);
    const counter = (): number => this.clock.ticks();
    this.gicVersion = cfg.gicVersion ?? 2;
    this.vcpus = [];
    for (let i = 0; i < cfg.cpus; i++) {
      this.vcpus.push(new Vcpu({
        bus: this.memory, codePages: this.codePages, index: i, stateOffset: this.memory.vcpuStateOffset(i),
        // In the shared memory, where generated code probes them inline.
        tlbMemory: { buffer: this.memory.buffer, byteOffset: area.tlbBase + i * VCPU_TLB_BYTES },
        model: cfg.cpuModel, counter, gicv3: this.gicVersion === 3,
      }));
    }
    this.waiting = new Uint8Array(cfg.cpus);
    this.waitIcount = new Array<number>(cfg.cpus).fill(0);
    this.waitSince = new Array<number>(cfg.cpus).fill(0);
    this.gic = this.attachGic(cfg.cpus);
    this.uart.onInterrupt = (high) => this.gic.setSpi(VIRT_UART_INTID, high);
    this.rtc.onInterrupt = (high) => this.gic.setSpi(VIRT_RTC_INTID, high);
    const timerSlots = {
      physCtl: sysregSlotOf('CNTP_CTL_EL0'), physCval: sysregSlotOf('CNTP_CVAL_EL0'),
      virtCtl: sysregSlotOf('CNTV_CTL_EL0'), virtCval: sysregSlotOf('CNTV_CVAL_EL0'), kctl: sysregSlotOf('CNTKCTL_EL1'),
    };
    this.timers = this.vcpus.map((v, i) => new GenericTimer(v.r, timerSlots, (intid, high) => this.gic.setPpi(i, intid, high)));
    this.vcpus.forEach((v, i) => {
      v.onTimerWrite = () => {
        this.timers[i].update(this.clock.ticks(), v.cntvoff);
        // The deadline moved: the run loop recomputes the slice budget.
        v.exit = VcpuExit.Kick;
      };
    });
    for (const v of this.vcpus) v.sendEvent = () => { for (const o of this.vcpus) o.eventRegister = true; };
    // TLBI ...IS reaches every vcpu's TLBs (all run on this thread between slices).
    for (const v of this.vcpus) v.broadcastTlbi = (op, lo, hi) => { for (const o of this.vcpus) o.tlbiLocal(op, lo, hi); };
    this.memory.onMappingChange = (pa, size) => this.mappingChanged(pa, size);
    this.powered = this.vcpus.map((_, i) => i === 0);
  }

  /** Drops every cached translation and decoded instruction derived from guest-physical [pa, pa+size). */
  private mappingChanged(pa: number, size: number): void {
    for (const v of this.vcpus) v.flushTlb();
    for (const s of this.memory.memslots) {
      const lo = Math.max(pa, s.base), hi = Math.min(pa + size, s.base + s.size);
      if (lo < hi) this.codePages.invalidateRange(s.hostOffset + (lo - s.base), hi - lo, 'stage2-unmap');
    }
  }

  /** Switches the JIT tier on between runs (a machine that started interpreting); no-op when it is on. */
  enableJit(opts: JitOptions): void {
    this.jit ??= new JitEngine(opts, this.memory, this.codePages, this.jitArea);
  }

  /** Copies bytes into guest-physical memory, as a VMM loading an image does, dropping stale decoded code. */
  writePhysical(pa: number, data: Uint8Array): void {
    const host = this.memory.hostRange(pa, data.length);
    this.memory.bytes.set(data, host);
    this.codePages.invalidateRange(host, data.length, 'host-write');
  }

  /** Zeros guest-physical memory, as writePhysical of that many zero bytes. */
  zeroPhysical(pa: number, length: number): void {
    const host = this.memory.hostRange(pa, length);
    this.memory.bytes.fill(0, host, host + length);
    this.codePages.invalidateRange(host, length, 'host-write');
  }

  readPhysical(pa: number, length: number): Uint8Array {
    const host = this.memory.hostRange(pa, length);
    return this.memory.bytes.slice(host, host + length);
  }

  flushSerial(): void {
    if (this.serialOut.length === 0) return;
    const bytes = Uint8Array.from(this.serialOut);
    this.serialOut.length = 0;
    this.onSerialOutput?.(bytes);
  }

  get instructionsRetired(): number {
    let n = 0;
    for (const v of this.vcpus) n += v.instructionsRetired;
    return n;
  }

  // ---- PsciHost ----

  get vcpuCount(): number {
    return this.vcpus.length;
  }

  mpidr(vcpu: number): bigint {
    return this.vcpus[vcpu].sysreg('MPIDR_EL1');
  }

  isOff(vcpu: number): boolean {
    return !this.powered[vcpu];
  }

  powerOn(vcpu: number, entry: bigint, contextId: bigint): void {
    const v = this.vcpus[vcpu];
    v.reset(entry);
    v.setX(0, contextId);
    this.powered[vcpu] = true;
    this.waiting[vcpu] = Wait.None;
  }

  /**
   * After a system event every vcpu is stopped (KVM's KVM_MP_STATE_STOPPED).
   * An embedder that chooses to ignore the event calls this to let the vcpus
   * that were running go on; the caller then reads PSCI INTERNAL_FAILURE in x0.
   */
  resumeAfterSystemEvent(): void {
    if (!this.stoppedByEvent) return;
    this.stoppedByEvent.forEach((on, i) => { this.powered[i] = on; });
    this.stoppedByEvent = undefined;
  }

  /** Power state after a reset: the boot vcpu on, secondaries off, no system event pending. */
  powerOnBootVcpuOnly(): void {
    this.powered.fill(false);
    this.powered[0] = true;
    this.waiting.fill(Wait.None);
    this.stoppedByEvent = undefined;
  }

  /** Asks run() to return at the next time-slice boundary (from a callback or another task). */
  requestPause(): void {
    this.pauseRequested = true;
  }

  // ---- Interrupts and time ----

  /** The GIC of the chosen version, its MMIO frames mapped where the virt board has them. */
  private attachGic(cpus: number): GicV2 | GicV3 {
    const signal = (cpu: number, lines: number): void => { this.vcpus[cpu].irqLines = lines; };
    // QEMU's virt board: 256 SPIs (NUM_IRQS).
    const spis = 256;
    if (this.gicVersion === 2) {
      const gic = new GicV2({ cpus, spis, signal });
      this.memory.addMmio(VIRT_GIC_DIST_BASE, VIRT_GIC_DIST_SIZE, gic.distributor);
      this.memory.addMmio(VIRT_GIC_CPU_BASE, VIRT_GIC_CPU_SIZE, gic.cpuInterface);
      return gic;
    }
    const gic = new GicV3({ cpus, spis, signal, mpidr: (c) => this.vcpus[c].sysreg('MPIDR_EL1') });
    this.memory.addMmio(VIRT_GIC_DIST_BASE, VIRT_GIC_DIST_SIZE, gic.distributor);
    this.memory.addMmio(VIRT_GIC_REDIST_BASE, cpus * GICV3_REDIST_FRAME_SIZE, gic.redistributors);
    this.vcpus.forEach((v, i) => { v.gicCpuInterface = gic.cpuInterfaces[i]; });
    return gic;
  }

  /**
   * Instructions retired by the machine up to now, counting those the running
   * vcpu has retired in its current straight-line run (a timer register or
   * counter read happens in the middle of one). Outside a run, or while
   * compiled code runs, runStart does not describe the PC and is ignored.
   */
  private instructionsNow(): number {
    const v = this.running;
    if (v === undefined) return this.icount;
    const inRun = (v.r[2 * SLOT_PC] - v.runStart) >>> 2;
    return this.icount + (v.retired - this.runningBefore) + (inRun < 1024 ? inRun : 0);
  }

  /** Brings every timer output (and the RTC alarm) up to the current guest time. */
  private updateTimers(): void {
    const now = this.clock.ticks();
    for (let i = 0; i < this.vcpus.length; i++) this.timers[i].update(now, this.vcpus[i].cntvoff);
    void this.rtc.interruptLevel;
  }

  /** The physical count at which something will wake or interrupt a vcpu; Infinity if nothing will. */
  private nextDeadline(now: number): number {
    let d = Infinity;
    for (let i = 0; i < this.vcpus.length; i++) {
      if (!this.powered[i]) continue;
      const voff = this.vcpus[i].cntvoff;
      d = Math.min(d, this.timers[i].nextDeadline(now, voff));
      if (this.waiting[i] === Wait.Event) d = Math.min(d, this.timers[i].nextEvent(this.waitSince[i], voff));
    }
    return d;
  }

  /**
   * A slice budget cut at the next deadline: exactly there in deterministic
   * mode, where the rate is known; by the measured rate in real time.
   */
  private sliceBudget(max: number): number {
    const now = this.clock.ticks();
    const d = this.nextDeadline(now);
    if (d === Infinity) return max;
    if (this.clock.deterministic) return Math.min(max, this.clock.instructionsUntil(d));
    return Math.min(max, Math.max(MIN_DEADLINE_SLICE, Math.floor(this.clock.msUntil(d) * this.insnsPerMs)));
  }

  /** Whether a waiting vcpu has a reason to run again (and if so, it no longer waits). */
  private wake(i: number): boolean {
    const v = this.vcpus[i];
    let wake = v.irqLines !== 0;
    if (!wake && this.waiting[i] === Wait.Event) {
      if (v.eventRegister) {
        v.eventRegister = false;
        wake = true;
      } else {
        // Another vcpu's progress may have cleared the exclusive monitor this
        // WFE waits on (an event warmboot does not track): a spurious
        // wake-up is allowed, a lost one would hang a spin-lock.
        wake = this.icount !== this.waitIcount[i]
          || this.timers[i].nextEvent(this.waitSince[i], v.cntvoff) <= this.clock.ticks();
      }
    }
    if (wake) this.waiting[i] = Wait.None;
    return wake;
  }

  /**
   * Every powered vcpu waits. Deterministic mode jumps guest time to the next
   * deadline; real time blocks the thread until it (bounded by idleWaitMs).
   * Returns an exit when run() should hand control back instead.
   */
  private idle(opts: RunOptions): VmExit | undefined {
    const now = this.clock.ticks();
    const deadline = this.nextDeadline(now);
    if (this.clock.deterministic && deadline !== Infinity) {
      this.clock.skipTo(deadline);
      this.updateTimers();
      return undefined;
    }
    // The RTC counts host time in either mode.
    const due = Math.min(this.clock.deterministic ? Infinity : this.clock.msUntil(deadline), this.rtc.msUntilAlarm());
    const wait = Math.min(due, opts.idleWaitMs ?? Infinity);
    if (wait === Infinity || !this.sleepHost(wait)) return { reason: 'idle', waitMs: due };
    this.updateTimers();
    if (wait < due) return { reason: 'idle', waitMs: due - wait };
    return undefined;
  }

  /** Blocks the thread without using the CPU; false where the host forbids it (a browser's main thread). */
  private sleepHost(ms: number): boolean {
    if (this.sleepCell === undefined) return false;
    try {
      Atomics.wait(this.sleepCell, 0, 0, ms);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs the powered-on vcpus until something the embedder must see happens. */
  run(opts: RunOptions = {}): VmExit {
    const limit = opts.maxInstructions ?? Infinity;
    let executed = 0;
    this.vcpus[0].breakpoint = opts.breakpoint;
    // One vcpu runs long slices; several interleave finely so that spin-locks
    // and CPU_ON hand-offs progress in a deterministic order.
    const slice = this.vcpus.length > 1 ? SMP_SLICE_INSTRUCTIONS : SLICE_INSTRUCTIONS;
    try {
      this.updateTimers();
      for (;;) {
        let anyPowered = false;
        let anyRan = false;
        for (let i = 0; i < this.vcpus.length; i++) {
          if (!this.powered[i]) continue;
          anyPowered = true;
          if (this.pauseRequested) {
            this.pauseRequested = false;
            return { reason: 'paused' };
          }
          if (this.waiting[i] !== Wait.None && !this.wake(i)) continue;
          anyRan = true;
          const v = this.vcpus[i];
          // A turn of `slice` instructions, cut at deadlines (a timer fires, a
          // timer register is written) to update the interrupt lines and go on.
          let turn = slice;
          for (;;) {
            const budget = this.sliceBudget(Math.min(turn, limit - executed));
            const before = v.retired;
            this.running = v;
            this.runningBefore = before;
            // A deliverable interrupt (a timer that fired at the end of the last
            // slice) is taken before anything of the new slice runs, in either tier.
            v.takePendingInterrupt();
            const started = this.clock.deterministic ? 0 : performance.now();
            const exit = this.jit ? this.jit.run(v, budget) : execute(v, budget);
            this.running = undefined;
            const n = v.retired - before;
            executed += n;
            this.icount += n;
            turn -= n;
            if (!this.clock.deterministic && n >= MIN_DEADLINE_SLICE) {
              const ms = performance.now() - started;
              if (ms > 0) this.insnsPerMs = 0.75 * this.insnsPerMs + 0.25 * (n / ms);
            }
            v.syncRetired();
            const result = this.handleExit(v, exit);
            if (result) return result;
            if (executed >= limit) return { reason: 'instruction-limit' };
            this.updateTimers();
            if (turn <= 0 || (exit !== VcpuExit.BudgetExhausted && exit !== VcpuExit.Kick)) break;
          }
        }
        if (!anyPowered) return { reason: 'all-vcpus-off' };
        if (!anyRan) {
          const result = this.idle(opts);
          if (result) return result;
        }
      }
    } finally {
      this.vcpus[0].breakpoint = undefined;
      this.flushSerial();
    }
  }

  private handleExit(v: Vcpu, exit: VcpuExit): VmExit | undefined {
    switch (exit) {
      case VcpuExit.Hvc:
      case VcpuExit.Smc: {
        if (exit === VcpuExit.Hvc) this.exits.hvc++;
        else this.exits.smc++;
        if (exit !== this.conduit) {
          // Calls through the conduit the device tree does not name: an SMC
          // without EL3 is UNDEFINED; an HVC without EL2 likewise.
          v.pc -= 4n;
          v.undefinedInstruction();
          return undefined;
        }
        return this.psciCall(v);
      }
      case VcpuExit.Wfi:
        // The vcpu sleeps until an interrupt is signalled to it (the PC is
        // already past the WFI, the preferred return of that interrupt).
        this.exits.wfi++;
        this.waiting[v.vcpuIndex] = Wait.Interrupt;
        return undefined;
      case VcpuExit.Wfe:
        this.exits.wfe++;
        this.waiting[v.vcpuIndex] = Wait.Event;
        this.waitIcount[v.vcpuIndex] = this.icount;
        this.waitSince[v.vcpuIndex] = this.clock.ticks();
        return undefined;
      case VcpuExit.Kick:
        return undefined;
      case VcpuExit.Breakpoint:
        return { reason: 'breakpoint', vcpu: v.vcpuIndex, pc: v.pc };
      case VcpuExit.InternalError:
        return { reason: 'internal-error', vcpu: v.vcpuIndex, message: v.internalError };
      default:
        this.exits.timeSlice++;
        return undefined;
    }
  }

  private psciCall(v: Vcpu): VmExit | undefined {
    const outcome = handlePsciCall(this, [v.getX(0), v.getX(1), v.getX(2), v.getX(3)], this.psciVersion);
    switch (outcome.kind) {
      case 'return':
        // KVM's smccc_set_retval(vcpu, val, 0, 0, 0): x1-x3 read zero after a call.
        v.setX(0, outcome.value);
        v.setX(1, 0n);
        v.setX(2, 0n);
        v.setX(3, 0n);
        return undefined;
      case 'suspend':
        // CPU_SUSPEND behaves as WFI and reports success when it wakes.
        this.exits.wfi++;
        v.setX(0, 0n);
        this.waiting[v.vcpuIndex] = Wait.Interrupt;
        return undefined;
      case 'cpu-off':
        this.powered[v.vcpuIndex] = false;
        this.waiting[v.vcpuIndex] = Wait.None;
        return undefined;
      case 'system-event':
        // The seed's semantics: every vcpu stops, not only the caller, and
        // x0 reads INTERNAL_FAILURE should the embedder run the caller again.
        this.exits.systemEvent++;
        v.setX(0, BigInt.asUintN(64, BigInt(PSCI_RET_INTERNAL_FAILURE)));
        this.stoppedByEvent = [...this.powered];
        this.powered.fill(false);
        return { reason: 'system-event', type: outcome.type, flags: outcome.flags, vcpu: v.vcpuIndex };
    }
  }
}
