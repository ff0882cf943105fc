// A virt-board machine as an embedder sees it: options in, images loaded the
// way QEMU loads them, a device tree written for the guest, and a run method
// whose exits are data. The command line (cli.ts) is a thin layer over this.
import { placeDtb, placeInitrd, loadImage, type ImageSegment, type LoadedImage } from './board/image-loader.js';
import { buildVirtDeviceTree } from './board/virt-device-tree.js';
import { VIRT_FLASH_BANK_COUNT, VIRT_FLASH_BANK_SIZE, VIRT_FLASH_BASE, VIRT_RAM_BASE } from './board/virt-memory-map.js';
import { cpuModelNames, DEFAULT_CPU_MODEL, findCpuModel } from './cpu/cpu-models.js';
import { disassemble } from './a64/disassembler.js';
import { CfiFlash } from './devices/cfi-flash.js';
import { type ExitCounters, VirtualMachine, type RunOptions, type VmExit } from '../runtime/virtual-machine.js';
import type { InvalidationCause } from './cpu/code-pages.js';
import { SystemEventType } from '../runtime/psci.js';
import { binaryenIfLoaded } from '../jit/binaryen.js';
import type { Binaryen } from '../jit/codegen.js';
import { AUTO_WORKER_HAND_OFF, type JitOptions, type JitStats } from '../jit/engine.js';
import { canCompileInBackground } from '../jit/background-compiler.js';
import type { IcountOptions } from '../runtime/guest-clock.js';

export class MachineConfigError extends Error {
  override name = 'MachineConfigError';
}

export interface MachineOptions {
  /**
   * The execution tier: 'off' interprets everything. 'on' compiles on this
   * thread the moment a block gets hot (Binaryen must be loaded first:
   * `await loadJit()`), so the switch between tiers happens at the same
   * instruction every run. 'auto' (the default) translates hot code too:
   * with Binaryen loaded, here as under 'on' until the guest has run about a
   * second (a guest's first hot loops should not wait for a worker to
   * start), then in a background worker while the vcpu goes on; without it,
   * everything in the worker, which loads Binaryen itself. Where there are
   * no worker threads, 'auto' compiles here if Binaryen is loaded, else
   * interprets.
   */
  readonly jit?: 'off' | 'on' | 'auto';
  /** Executions of a block before it is translated; 1 = at its first execution. */
  readonly jitThreshold?: number;
  /** Guest RAM in bytes (QEMU's default for virt is 128 MiB). */
  readonly memory?: number;
  readonly cpus?: number;
  /** A CPU model name as -cpu takes it. */
  readonly cpu?: string;
  readonly gicVersion?: 2 | 3;
  /** -kernel: a Linux Image, an ELF, or a raw binary. */
  readonly kernel?: Uint8Array;
  readonly initrd?: Uint8Array;
  /** The kernel command line. */
  readonly append?: string;
  /** A device tree to hand the guest instead of the generated one. */
  readonly dtb?: Uint8Array;
  /** -bios: firmware for flash bank 0, entered at address 0. */
  readonly bios?: Uint8Array;
  /** Receives the bytes the guest writes to its UART. */
  readonly onSerialOutput?: (bytes: Uint8Array) => void;
  /** When set, every executed instruction is reported, disassembled. */
  readonly trace?: (line: string) => void;
  /** The PSCI conduit written into the device tree (default 'hvc', as KVM guests use). */
  readonly psciConduit?: 'hvc' | 'smc';
  /** PSCI 1.1 (default) or KVM's legacy 0.1 interface. */
  readonly psciVersion?: '0.1' | '1.1';
  /**
   * QEMU's dtb-randomness (default true, as there): fresh /chosen/kaslr-seed
   * and /chosen/rng-seed in the generated device tree, so Linux randomises its
   * layout and seeds its RNG. False gives the same tree on every run.
   */
  readonly dtbRandomness?: boolean;
  /**
   * Deterministic time, QEMU's -icount shift=N with sleep=off: each retired
   * instruction is 2^N ns of guest time, and guest time jumps to the next
   * timer deadline when every vcpu idles. Default: guest time is host time.
   */
  readonly icount?: IcountOptions;
}

export type MachineExit = VmExit;

export interface MachineStats {
  /** Instructions retired, per vcpu. */
  readonly instructions: number[];
  readonly exits: ExitCounters;
  readonly stage2Faults: number;
  readonly stage2MappedPages: number;
  readonly mmioReads: number;
  readonly mmioWrites: number;
  readonly invalidations: Record<InvalidationCause, number>;
  readonly decodedPages: number;
  readonly reboots: number;
  /** The JIT tier's figures, when it is on. */
  readonly jit?: JitStats & { readonly threshold: number; readonly earlyThreshold?: { readonly executions: number; readonly regions: number } };
}

interface BootPlan {
  readonly segments: ImageSegment[];
  readonly entry: number;
  /** x0 at entry: the DTB address under the Linux boot protocol, else 0. */
  readonly x0: number;
  readonly dtbAddress: number | undefined;
}

const MiB = 1024 * 1024;

function fail(msg: string): never {
  throw new MachineConfigError(msg);
}

export class Machine {
  readonly vm: VirtualMachine;
  readonly options: MachineOptions;
  private readonly plan: BootPlan;
  /** How many times the guest has been restarted by a system reset. */
  reboots = 0;
  /** The two CFI flash banks, at 0x00000000 and 0x04000000. */
  readonly flash: readonly CfiFlash[];

  constructor(options: MachineOptions) {
    this.options = options;
    const memory = options.memory ?? 128 * MiB;
    const cpus = options.cpus ?? 1;
    const gicVersion = options.gicVersion ?? 2;
    if (!Number.isSafeInteger(memory) || memory < 2 * MiB || memory % (64 * 1024) !== 0) {
      fail(`memory size ${memory} bytes: expected a multiple of 64 KiB, at least 2 MiB`);
    }
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) fail(`${cpus} cpus: expected 1 to 8`);
    const model = findCpuModel(options.cpu ?? DEFAULT_CPU_MODEL);
    if (!model) fail(`unknown CPU model '${options.cpu}': expected one of ${cpuModelNames().join(', ')}`);
    if (!options.kernel && !options.bios) fail('nothing to boot: give a kernel (-kernel) or firmware (-bios)');
    if (options.dtb && (options.append !== undefined || options.initrd)) {
      fail('a supplied device tree (-dtb) cannot be combined with -append or -initrd yet: put bootargs and the initrd range in the .dtb');
    }
    if (options.initrd && !options.kernel) fail('-initrd needs a kernel (-kernel)');
    const shift = options.icount?.shift;
    if (shift !== undefined && (!Number.isInteger(shift) || shift < 0 || shift > 10)) fail(`icount shift ${shift}: expected 0 to 10`);

    const jitMode = options.jit ?? 'auto';
    if (jitMode !== 'off' && jitMode !== 'on' && jitMode !== 'auto') fail(`jit '${String(jitMode)}': expected off, on or auto`);
    const binaryen = jitMode === 'off' ? undefined : binaryenIfLoaded();
    if (jitMode === 'on' && !binaryen) fail("jit 'on' needs Binaryen loaded first: await loadJit() before creating the Machine");
    const threshold = options.jitThreshold;
    if (threshold !== undefined && (!Number.isInteger(threshold) || threshold < 1)) fail(`jit threshold ${threshold}: expected a whole number of executions, at least 1`);
    const jit = jitMode === 'off' ? undefined : jitOptions(binaryen, threshold, jitMode === 'auto');
    this.vm = new VirtualMachine({
      jit,
      ramBase: VIRT_RAM_BASE, ramSize: memory, cpus, cpuModel: model,
      // Both flash banks exist whether or not there is firmware, zero-filled
      // beyond it, as QEMU's virt board has them without -drive if=pflash.
      roms: Array.from({ length: VIRT_FLASH_BANK_COUNT }, (_, bank) => ({
        name: `flash${bank}`, base: VIRT_FLASH_BASE + bank * VIRT_FLASH_BANK_SIZE, size: VIRT_FLASH_BANK_SIZE,
      })),
      onSerialOutput: options.onSerialOutput, psciConduit: options.psciConduit, psciVersion: options.psciVersion,
      gicVersion, icount: options.icount,
    });
    this.flash = Array.from({ length: VIRT_FLASH_BANK_COUNT }, (_, bank) => this.attachFlash(`flash${bank}`));
    this.plan = planBoot(options, memory, cpus, gicVersion);
    if (options.trace) {
      const trace = options.trace;
      for (const v of this.vm.vcpus) {
        v.tracer = (pc, word) => trace(`cpu${v.vcpuIndex} 0x${pc.toString(16).padStart(16, '0')}: ${word.toString(16).padStart(8, '0')}  ${disassemble(word, pc, v.features)}`);
      }
    }
    this.loadAndStart(true);
  }

  /**
   * Puts a CFI flash model over a bank's memslot: it takes the bank's writes
   * (commands), all of its accesses while in a command mode, and programs
   * the memslot in place.
   */
  private attachFlash(name: string): CfiFlash {
    const mem = this.vm.memory;
    const slot = mem.memslots.find((s) => s.name === name);
    if (!slot) throw new Error(`no memslot for flash bank ${name}`);
    const flash = new CfiFlash(name, {
      storage: mem.bytes.subarray(slot.hostOffset, slot.hostOffset + slot.size),
      setCommandMode: (on) => mem.setMemslotDeviceMode(name, on),
      contentsChanged: (offset, length) => this.vm.codePages.invalidateRange(slot.hostOffset + offset, length, 'guest-store'),
    });
    mem.addMmio(slot.base, slot.size, flash);
    return flash;
  }

  /**
   * Copies the images and device tree into guest memory and points the boot
   * vcpu at the entry. Zero fills are written only into memory that may hold
   * something else: a new machine's RAM and flash are all zeros already, and
   * writing a large BSS would cost the host a page fault per 4 KB (about
   * 12 ms for cpubench's 4.4 MB); after a reset they are rewritten, as QEMU
   * reloads its ROM blobs.
   */
  private loadAndStart(freshMemory: boolean): void {
    for (const s of this.plan.segments) {
      this.vm.writePhysical(s.addr, s.data);
      if (s.zeroFill && !freshMemory) this.vm.zeroPhysical(s.addr + s.data.length, s.zeroFill);
    }
    for (const v of this.vm.vcpus) v.reset(BigInt(this.plan.entry));
    this.vm.powerOnBootVcpuOnly();
    this.vm.vcpus[0].setX(0, BigInt(this.plan.x0));
  }

  get dtbAddress(): number | undefined {
    return this.plan.dtbAddress;
  }

  run(opts?: RunOptions): MachineExit {
    return this.vm.run(opts);
  }

  /**
   * Restarts the guest as a system reset does: every vcpu back to its reset
   * state with the MMU off, the images and device tree loaded again, decoded
   * code dropped, devices reset; RAM elsewhere keeps its contents.
   */
  reboot(): void {
    this.reboots++;
    // The vcpus have run before, so stage 2 is unmapped (KVM does this when
    // such a vcpu is initialised again): every page faults back in, and no
    // TLB entry or decoded instruction survives.
    this.vm.memory.unmapAll();
    this.vm.memory.resetDevices();
    this.loadAndStart(false);
  }

  /**
   * Switches the JIT on for a machine created without it (`jit: 'off'`;
   * Binaryen loaded since: `await loadJit()`); translation starts with the
   * next run. `background` hands new hot regions to the compile worker once
   * the guest has run long and still gets new hot code, as `jit: 'auto'`
   * does (where worker threads exist); without it every region is compiled
   * on this thread, as with `jit: 'on'`. A machine that has the JIT already
   * keeps it as it is.
   */
  enableJit(opts: { threshold?: number; background?: boolean } = {}): void {
    const binaryen = binaryenIfLoaded();
    if (!binaryen) fail('enableJit needs Binaryen loaded first: await loadJit()');
    this.vm.enableJit(jitOptions(binaryen, opts.threshold ?? this.options.jitThreshold, opts.background === true)!);
  }

  /**
   * Ignores the system event run() returned: the vcpus that were running go
   * on, and the caller of SYSTEM_OFF/RESET reads INTERNAL_FAILURE in x0.
   */
  resume(): void {
    this.vm.resumeAfterSystemEvent();
  }

  /** Asks a run() in progress to return { reason: 'paused' } at the next time-slice boundary. */
  pause(): void {
    this.vm.requestPause();
  }

  stats(): MachineStats {
    const vm = this.vm;
    return {
      instructions: vm.vcpus.map((v) => v.instructionsRetired),
      exits: { ...vm.exits },
      stage2Faults: vm.memory.stage2Faults,
      stage2MappedPages: vm.memory.stage2MappedPages,
      mmioReads: vm.memory.mmioReads,
      mmioWrites: vm.memory.mmioWrites,
      invalidations: { ...vm.codePages.invalidations },
      decodedPages: vm.codePages.liveDecodedPages,
      reboots: this.reboots,
      jit: vm.jit ? { ...vm.jit.stats, exits: { ...vm.jit.stats.exits }, threshold: vm.jit.threshold, earlyThreshold: vm.jit.earlyThreshold } : undefined,
    };
  }

  /**
   * Runs until the guest powers off or fails; resets reboot unless `noReboot`.
   * `poll`, when given, is called every `pollInstructions` guest instructions:
   * the embedder's chance to feed console input while the guest runs (output
   * is flushed at each of those stops), and every `pollMs` host milliseconds
   * while the guest idles. With `maxInstructions` it returns
   * { reason: 'instruction-limit' } once the vcpus have retired about that
   * many instructions in this call (reboots included).
   */
  runToCompletion(opts: { noReboot?: boolean; poll?: () => void; pollInstructions?: number; pollMs?: number; maxInstructions?: number } = {}): MachineExit {
    const pollEvery = opts.poll ? opts.pollInstructions ?? 1_000_000 : Infinity;
    const idleWaitMs = opts.poll ? opts.pollMs ?? 20 : undefined;
    const limit = opts.maxInstructions ?? Infinity;
    let ran = 0;
    for (;;) {
      const slice = Math.min(pollEvery, limit - ran);
      const before = this.vm.instructionsRetired;
      const exit = this.run(slice === Infinity && idleWaitMs === undefined ? undefined : { maxInstructions: slice, idleWaitMs });
      ran += this.vm.instructionsRetired - before;
      if (exit.reason === 'instruction-limit' && ran >= limit) return exit;
      if ((exit.reason === 'instruction-limit' || exit.reason === 'idle') && opts.poll) {
        opts.poll();
        continue;
      }
      if (exit.reason === 'system-event' && exit.type === SystemEventType.Reset && !opts.noReboot) {
        this.reboot();
        continue;
      }
      return exit;
    }
  }
}

/**
 * The engine's options for `jit: 'on'` (background false) or `'auto'`
 * (background true): with Binaryen, compiling on the calling thread, and for
 * 'auto' handing new hot regions to the compile worker once the guest has run
 * long; without it, 'auto' compiles everything in the worker. Where there are
 * no worker threads, 'auto' is 'on' with Binaryen and undefined (interpret)
 * without.
 */
function jitOptions(binaryen: Binaryen | undefined, threshold: number | undefined, background: boolean): JitOptions | undefined {
  const worker = background && canCompileInBackground();
  if (binaryen === undefined) return worker ? { threshold } : undefined;
  return worker ? { binaryen, threshold, workerHandOff: AUTO_WORKER_HAND_OFF } : { binaryen, threshold };
}

function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function planBoot(o: MachineOptions, memory: number, cpus: number, gicVersion: 2 | 3): BootPlan {
  const segments: ImageSegment[] = [];
  let image: LoadedImage;
  if (o.bios) {
    image = loadImage(o.bios, 'bios', VIRT_RAM_BASE, memory);
    segments.push(...image.segments);
    if (o.kernel) {
      // Firmware started from flash finds the kernel itself (fw_cfg, which
      // is not modelled yet); loading it into RAM here would be a guess.
      fail('-kernel together with -bios is not supported yet: boot the firmware alone, or the kernel alone');
    }
  } else {
    image = loadImage(o.kernel!, 'kernel', VIRT_RAM_BASE, memory);
    segments.push(...image.segments);
  }
  let initrd: { start: number; end: number } | undefined;
  if (o.initrd) {
    initrd = placeInitrd(image, o.initrd.length, VIRT_RAM_BASE, memory);
    segments.push({ addr: initrd.start, data: o.initrd });
  }
  // As QEMU's dtb-randomness: fresh seeds for Linux's KASLR and its
  // random-number generator, unless the embedder wants a reproducible tree.
  const random = o.dtbRandomness ?? true;
  const dtb = o.dtb ?? buildVirtDeviceTree({
    ramBase: VIRT_RAM_BASE, ramSize: memory, cpus, gicVersion, psciMethod: o.psciConduit ?? 'hvc', psciVersion: o.psciVersion,
    bootargs: o.append, initrdStart: initrd?.start, initrdEnd: initrd?.end,
    kaslrSeed: random ? randomBytes(8) : undefined, rngSeed: random ? randomBytes(32) : undefined,
  });
  const dtbAddress = placeDtb({ image, initrd, dtbSize: dtb.length, ramBase: VIRT_RAM_BASE, ramSize: memory });
  segments.push({ addr: dtbAddress, data: dtb });
  return { segments, entry: image.entry, x0: image.linuxBootProtocol ? dtbAddress : 0, dtbAddress };
}
