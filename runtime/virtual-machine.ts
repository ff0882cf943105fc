// The run loop: it plays the part KVM and a small VMM play on hardware. Vcpus
// run in deterministic time slices; when one exits (HVC/SMC, WFI/WFE, a
// breakpoint, an internal error) the loop handles it or hands it to the
// embedder as data.
import { CodePageIndex } from '../src/cpu/code-pages.js';
import type { CpuModel } from '../src/cpu/cpu-models.js';
import { execute } from '../src/cpu/interpreter/execute.js';
import { Vcpu, VcpuExit } from '../src/cpu/vcpu.js';
import { Pl011 } from '../src/devices/pl011.js';
import { GuestMemory } from './guest-memory.js';
import { handlePsciCall, PSCI_RET_INTERNAL_FAILURE, SystemEventType } from './psci.js';

export const PL011_BASE = 0x09000000;
export const PL011_SIZE = 0x1000;

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
}

export type VmExit =
  | { readonly reason: 'system-event'; readonly type: SystemEventType; readonly flags: bigint; readonly vcpu: number }
  | { readonly reason: 'breakpoint'; readonly vcpu: number; readonly pc: bigint }
  | { readonly reason: 'instruction-limit' }
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

export class VirtualMachine {
  readonly memory: GuestMemory;
  readonly codePages: CodePageIndex;
  readonly vcpus: Vcpu[];
  readonly uart: Pl011;
  readonly exits: ExitCounters = { hvc: 0, smc: 0, wfi: 0, wfe: 0, systemEvent: 0, timeSlice: 0 };
  /** Which vcpus are powered on; secondaries start off, as PSCI has them. */
  readonly powered: boolean[];
  private readonly serialOut: number[] = [];
  private readonly onSerialOutput?: (bytes: Uint8Array) => void;
  private readonly startTime = performance.now();
  private readonly ticksPerMs: number;

  constructor(cfg: VmConfig) {
    this.memory = new GuestMemory({ vcpus: cfg.cpus, ramBase: cfg.ramBase, ramSize: cfg.ramSize, roms: cfg.roms });
    this.codePages = new CodePageIndex(this.memory.buffer.byteLength);
    this.ticksPerMs = (cfg.counterFrequency ?? 62_500_000) / 1000;
    this.onSerialOutput = cfg.onSerialOutput;
    this.uart = new Pl011((b) => {
      this.serialOut.push(b);
      if (this.serialOut.length >= 4096) this.flushSerial();
    });
    this.memory.addMmio(PL011_BASE, PL011_SIZE, this.uart);
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

  /** Runs the powered-on vcpus until something the embedder must see happens. */
  run(opts: RunOptions = {}): VmExit {
    const limit = opts.maxInstructions ?? Infinity;
    let executed = 0;
    this.vcpus[0].breakpoint = opts.breakpoint;
    try {
      for (;;) {
        let anyRan = false;
        for (let i = 0; i < this.vcpus.length; i++) {
          if (!this.powered[i]) continue;
          anyRan = true;
          const v = this.vcpus[i];
          const budget = Math.min(SLICE_INSTRUCTIONS, limit - executed);
          const before = v.retired;
          const exit = execute(v, budget);
          executed += v.retired - before;
          v.syncRetired();
          const result = this.handleExit(v, exit);
          if (result) return result;
          if (executed >= limit) return { reason: 'instruction-limit' };
        }
        if (!anyRan) {
          return { reason: 'internal-error', vcpu: 0, message: 'no vcpu is powered on' };
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
        const outcome = handlePsciCall([v.getX(0), v.getX(1), v.getX(2), v.getX(3)]);
        if (outcome.kind === 'return') {
          v.setX(0, outcome.value);
          return undefined;
        }
        // KVM: every vcpu stops, and x0 reads INTERNAL_FAILURE if the
        // embedder chooses to run the caller again.
        this.exits.systemEvent++;
        v.setX(0, BigInt.asUintN(64, BigInt(PSCI_RET_INTERNAL_FAILURE)));
        return { reason: 'system-event', type: outcome.type, flags: outcome.flags, vcpu: v.vcpuIndex };
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
}
