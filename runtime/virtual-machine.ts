// The run loop: it plays the part KVM and a small VMM play on hardware. Vcpus
// run in deterministic time slices; when one exits (HVC/SMC, WFI/WFE, a
// breakpoint, an internal error) the loop handles it or hands it to the
// embedder as data.
import { CodePageIndex } from '../src/cpu/code-pages.js';
import type { CpuModel } from '../src/cpu/cpu-models.js';
import { execute } from '../src/cpu/interpreter/execute.js';
import { Vcpu, VcpuExit } from '../src/cpu/vcpu.js';
import { Pl011 } from '../src/devices/pl011.js';
import { Pl031 } from '../src/devices/pl031.js';
import { JitEngine, type JitOptions } from '../jit/engine.js';
import { jitArea, reservedBytesFor } from '../jit/layout.js';
import { GuestMemory } from './guest-memory.js';
import { handlePsciCall, PSCI_RET_INTERNAL_FAILURE, type PsciHost, SystemEventType } from './psci.js';

export const PL011_BASE = 0x09000000;
export const PL011_SIZE = 0x1000;
export const PL031_BASE = 0x09010000;
export const PL031_SIZE = 0x1000;

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
  /** Translate hot code to WebAssembly (jit/); without it, the interpreter runs everything. */
  readonly jit?: JitOptions;
}

export type VmExit =
  | { readonly reason: 'system-event'; readonly type: SystemEventType; readonly flags: bigint; readonly vcpu: number }
  | { readonly reason: 'breakpoint'; readonly vcpu: number; readonly pc: bigint }
  | { readonly reason: 'instruction-limit' }
  /** requestPause() was called. */
  | { readonly reason: 'paused' }
  /** Nothing can run: every vcpu is powered off (or stopped by a system event not yet decided on). */
  | { readonly reason: 'all-vcpus-off' }
  | { readonly reason: 'internal-error'; readonly vcpu: number; readonly message: string };

export interface RunOptions {
  /** Stop after about this many guest instructions (summed over vcpus). */
  readonly maxInstructions?: number;
  /** Stop before the boot vcpu executes the instruction at this address. */
  readonly breakpoint?: bigint;
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

export class VirtualMachine implements PsciHost {
  readonly memory: GuestMemory;
  readonly codePages: CodePageIndex;
  /** The JIT tier, when enabled. */
  jit: JitEngine | undefined;
  readonly vcpus: Vcpu[];
  readonly uart: Pl011;
  readonly rtc: Pl031;
  readonly exits: ExitCounters = { hvc: 0, smc: 0, wfi: 0, wfe: 0, systemEvent: 0, timeSlice: 0 };
  /** Which vcpus are powered on; secondaries start off, as PSCI has them. */
  readonly powered: boolean[];
  private readonly serialOut: number[] = [];
  private readonly onSerialOutput?: (bytes: Uint8Array) => void;
  private readonly startTime = performance.now();
  private readonly ticksPerMs: number;
  private readonly conduit: VcpuExit;
  private stoppedByEvent: boolean[] | undefined;
  private pauseRequested = false;

  constructor(cfg: VmConfig) {
    // The engine's tables (code-page flags, the JIT's dispatch table) live in
    // the shared memory too, sized for the largest buffer this layout makes.
    const romBytes = (cfg.roms ?? []).reduce((n, r) => n + r.size, 0);
    const estimate = cfg.cpus * 4096 + romBytes + cfg.ramSize + 16 * 65536;
    const reserveBytes = reservedBytesFor(estimate + reservedBytesFor(estimate));
    this.memory = new GuestMemory({ vcpus: cfg.cpus, ramBase: cfg.ramBase, ramSize: cfg.ramSize, roms: cfg.roms, reserveBytes });
    const area = jitArea(this.memory.reservedOffset, this.memory.reservedBytes);
    this.codePages = new CodePageIndex(this.memory.buffer.byteLength, new Uint8Array(this.memory.buffer, area.flagsBase, area.flagsBytes));
    this.jit = cfg.jit ? new JitEngine(cfg.jit, this.memory, this.codePages) : undefined;
    this.ticksPerMs = (cfg.counterFrequency ?? 62_500_000) / 1000;
    this.conduit = cfg.psciConduit === 'smc' ? VcpuExit.Smc : VcpuExit.Hvc;
    this.onSerialOutput = cfg.onSerialOutput;
    this.uart = new Pl011((b) => {
      this.serialOut.push(b);
      if (this.serialOut.length >= 4096) this.flushSerial();
    });
    this.memory.addMmio(PL011_BASE, PL011_SIZE, this.uart);
    // Wall-clock time at creation, then the machine's own clock, as the timer's.
    this.rtc = new Pl031(Date.now(), () => performance.now() - this.startTime);
    this.memory.addMmio(PL031_BASE, PL031_SIZE, this.rtc);
    const counter = (): number => Math.floor((performance.now() - this.startTime) * this.ticksPerMs);
    this.vcpus = [];
    for (let i = 0; i < cfg.cpus; i++) {
      this.vcpus.push(new Vcpu({
        bus: this.memory, codePages: this.codePages, index: i, stateOffset: this.memory.vcpuStateOffset(i),
        model: cfg.cpuModel, counter,
      }));
    }
    for (const v of this.vcpus) v.sendEvent = () => { for (const o of this.vcpus) o.eventRegister = true; };
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

  /** Copies bytes into guest-physical memory, as a VMM loading an image does, dropping stale decoded code. */
  writePhysical(pa: number, data: Uint8Array): void {
    const host = this.memory.hostRange(pa, data.length);
    this.memory.bytes.set(data, host);
    this.codePages.invalidateRange(host, data.length, 'host-write');
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
    this.stoppedByEvent = undefined;
  }

  /** Asks run() to return at the next time-slice boundary (from a callback or another task). */
  requestPause(): void {
    this.pauseRequested = true;
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
      for (;;) {
        let anyRan = false;
        for (let i = 0; i < this.vcpus.length; i++) {
          if (!this.powered[i]) continue;
          if (this.pauseRequested) {
            this.pauseRequested = false;
            return { reason: 'paused' };
          }
          anyRan = true;
          const v = this.vcpus[i];
          const before = v.retired;
          const budget = Math.min(slice, limit - executed);
          const exit = this.jit ? this.jit.run(v, budget) : execute(v, budget);
          executed += v.retired - before;
          v.syncRetired();
          const result = this.handleExit(v, exit);
          if (result) return result;
          if (executed >= limit) return { reason: 'instruction-limit' };
        }
        if (!anyRan) return { reason: 'all-vcpus-off' };
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
        // No interrupt sources yet: WFI completes at once, which the
        // architecture allows (a spurious wake-up).
        this.exits.wfi++;
        return undefined;
      case VcpuExit.Wfe:
        this.exits.wfe++;
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
    const outcome = handlePsciCall(this, [v.getX(0), v.getX(1), v.getX(2), v.getX(3)]);
    switch (outcome.kind) {
      case 'return':
        v.setX(0, outcome.value);
        return undefined;
      case 'suspend':
        // CPU_SUSPEND behaves as WFI (which completes at once for now) and
        // reports success.
        this.exits.wfi++;
        v.setX(0, 0n);
        return undefined;
      case 'cpu-off':
        this.powered[v.vcpuIndex] = false;
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
