// The `warmboot` command: QEMU's option spellings over the Machine API, so a
// `qemu-system-aarch64 -M virt ...` command line runs unchanged. Files and the
// terminal live here; the engine only sees buffers and callbacks.
import { closeSync, constants as fsConstants, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBinaryen, prefetchBinaryen } from '../jit/binaryen.js';
import { Machine, type MachineExit, type MachineOptions } from './machine.js';
import { cpuModelNames } from './cpu/cpu-models.js';
import { SystemEventType } from '../runtime/psci.js';
import type { Pl011 } from './devices/pl011.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliOptions {
  machine: MachineOptions & { noReboot: boolean };
  /** 'auto': compile on this thread, and in the background worker once the guest has run a while; 'on': always on this thread. Binaryen is loaded before the machine starts in both. */
  jit: 'off' | 'on' | 'auto';
  stats: boolean;
  kernelPath?: string;
}

const USAGE = `usage: warmboot [options]
Without -kernel or -bios, boots the bundled demo guest.

QEMU-compatible options:
  -M, -machine virt[,gic-version=2|3|max|host][,dtb-randomness=on|off]
  -cpu MODEL            ${cpuModelNames().join(', ')}
  -m SIZE               guest RAM, QEMU syntax (128M, 1G, size=512M); default 128M
  -smp N                number of vcpus (cpus=N accepted)
  -kernel FILE          Linux Image, ELF or raw binary
  -initrd FILE          initial ramdisk
  -append STRING        kernel command line
  -dtb FILE             use this device tree instead of the generated one
  -bios FILE            firmware for flash bank 0 (e.g. U-Boot's qemu_arm64 build)
  -nographic            serial console on stdio (the default here)
  -serial stdio|mon:stdio
  -display none
  -no-reboot            exit when the guest resets instead of rebooting
  -icount shift=N[,sleep=off]
                        deterministic time: each instruction is 2^N ns; an idle
                        guest jumps to its next timer deadline (sleep=off always)

warmboot options:
  --jit=on|off|auto     translate hot code to WebAssembly (auto, the default: once
                        Binaryen has loaded in the background and the guest has run
                        50000 instructions, hot blocks are translated on this thread,
                        and in a background worker once the guest has run long); the
                        same way every run, from the first instruction (on); or never (off)
  --jit-threshold=N     translate a block after N executions (1 = at first execution;
                        default 4000, and 200 for the first 8 regions)
  --trace               print every executed instruction, disassembled, to stderr
  --stats               print instruction counts per tier, exits, JIT figures, stage-2 faults and invalidations on exit
  --help, --version
`;

const SIZE_UNITS: Record<string, number> = { '': 2 ** 20, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Parses a QEMU -m argument: a number with an optional unit (default MiB), or size=... */
export function parseMemorySize(text: string): number {
  let arg = text;
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    if (v === undefined) arg = k;
    else if (k === 'size') arg = v;
    else if (k === 'slots' || k === 'maxmem') throw new UsageError(`-m ${k}=: memory hotplug is not supported`);
    else throw new UsageError(`-m: unknown property '${k}'`);
  }
  const m = /^(\d+(?:\.\d+)?)([bkmgt]?)$/i.exec(arg.trim());
  if (!m) throw new UsageError(`-m '${text}': expected a size such as 128M or 1G`);
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
  if (bytes <= 0) throw new UsageError(`-m '${text}': the size must be positive`);
  return bytes;
}

function parseMachine(text: string): { gicVersion?: 2 | 3; dtbRandomness?: boolean } {
  const [type, ...props] = text.split(',');
  if (!/^virt(-\d+\.\d+)?$/.test(type)) {
    throw new UsageError(`machine '${type}' is not supported: warmboot emulates QEMU's virt board only (-M virt)`);
  }
  let gicVersion: 2 | 3 | undefined;
  let dtbRandomness: boolean | undefined;
  for (const p of props) {
    const [k, v] = p.split('=');
    if (k === 'gic-version') {
      // On TCG QEMU maps 'max' to the newest GIC it emulates and refuses 'host'
      // without KVM; here both mean GICv3.
      if (v === '2') gicVersion = 2;
      else if (v === '3' || v === 'max' || v === 'host') gicVersion = 3;
      else throw new UsageError(`-machine gic-version='${v}': expected 2, 3, max or host`);
    } else if (k === 'dtb-randomness' || k === 'dtb-kaslr-seed') {
      // QEMU's spellings: on/off and its other boolean forms; dtb-kaslr-seed is the older name.
      if (v === undefined || ['on', 'yes', 'true', 'y'].includes(v)) dtbRandomness = true;
      else if (['off', 'no', 'false', 'n'].includes(v)) dtbRandomness = false;
      else throw new UsageError(`-machine ${k}='${v}': expected on or off`);
    } else if (k === 'dumpdtb') {
      throw new UsageError('-machine dumpdtb= is not supported');
    } else {
      throw new UsageError(`-machine property '${k}' is not supported`);
    }
  }
  return { gicVersion, dtbRandomness };
}

/**
 * QEMU's -icount: shift=N (or a bare N) and the sub-options whose meaning
 * warmboot has. Guest time never waits for the host here, so this is always
 * QEMU's sleep=off (QEMU's default is sleep=on).
 */
export function parseIcount(text: string): { shift: number } {
  let shift: number | undefined;
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    if (v === undefined && /^\d+$/.test(k)) shift = Number(k);
    else if (k === 'shift') {
      if (v === 'auto') throw new UsageError('-icount shift=auto is not supported: give a fixed shift such as shift=3');
      if (!/^\d+$/.test(v ?? '') || Number(v) > 10) throw new UsageError(`-icount shift='${v}': expected 0 to 10`);
      shift = Number(v);
    } else if (k === 'sleep') {
      if (v === 'on') throw new UsageError('-icount sleep=on is not supported: an idle guest here always jumps to its next deadline (sleep=off)');
      if (v !== 'off') throw new UsageError(`-icount sleep='${v}': expected off`);
    } else if (k === 'align') {
      if (v !== 'off') throw new UsageError('-icount align=on is not supported');
    } else {
      throw new UsageError(`-icount property '${k}' is not supported`);
    }
  }
  if (shift === undefined) throw new UsageError(`-icount '${text}': give shift=N, as in -icount shift=3,sleep=off`);
  return { shift };
}

function parseSmp(text: string): number {
  let cpus: number | undefined;
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    if (v === undefined && /^\d+$/.test(k)) cpus = Number(k);
    else if (k === 'cpus' && /^\d+$/.test(v ?? '')) cpus = Number(v);
    else throw new UsageError(`-smp '${text}': expected a vcpu count such as 4 or cpus=4 (topology options are not supported)`);
  }
  if (cpus === undefined || cpus < 1) throw new UsageError(`-smp '${text}': expected at least 1 vcpu`);
  return cpus;
}

function readImage(path: string, what: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError(`${what} '${path}' is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot open ${what} '${path}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (size === 0) throw new UsageError(`${what} '${path}' is empty`);
  return new Uint8Array(readFileSync(path));
}

/** The bundled demo guest, next to the sources whether run from src/ or dist/src/. */
export function demoGuestPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, 'demo-guest/demo.elf'), resolve(here, '../../src/demo-guest/demo.elf')];
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // try the next place
    }
  }
  throw new UsageError(`the bundled demo guest is missing (looked in ${candidates.join(', ')})`);
}

export function parseArgs(argv: readonly string[], trace?: (line: string) => void): CliOptions | 'help' | 'version' {
  const m: { -readonly [K in keyof MachineOptions]: MachineOptions[K] } & { noReboot: boolean } = { noReboot: false };
  let jit: 'off' | 'on' | 'auto' = 'auto';
  let kernelPath: string | undefined;
  let stats = false;
  const args = [...argv];
  while (args.length > 0) {
    const raw = args.shift()!;
    if (!raw.startsWith('-')) throw new UsageError(`unexpected argument '${raw}': disk images are not supported; boot with -kernel or -bios`);
    // QEMU accepts both -opt and --opt, and --opt=value for warmboot's own.
    let name = raw.replace(/^--?/, '');
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) { inline = name.slice(eq + 1); name = name.slice(0, eq); }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = args.shift();
      if (v === undefined) throw new UsageError(`option '${raw}' needs an argument`);
      return v;
    };
    switch (name) {
      case 'h': case 'help': return 'help';
      case 'version': return 'version';
      case 'M': case 'machine': Object.assign(m, parseMachine(value())); break;
      case 'cpu': {
        const model = value().split(',')[0];
        if (!cpuModelNames().includes(model)) throw new UsageError(`-cpu '${model}' is not supported: expected one of ${cpuModelNames().join(', ')}`);
        m.cpu = model;
        break;
      }
      case 'm': m.memory = parseMemorySize(value()); break;
      case 'smp': m.cpus = parseSmp(value()); break;
      case 'kernel': kernelPath = value(); m.kernel = readImage(kernelPath, 'kernel'); break;
      case 'initrd': m.initrd = readImage(value(), 'initrd'); break;
      case 'append': m.append = value(); break;
      case 'dtb': m.dtb = readImage(value(), 'device tree'); break;
      case 'bios': m.bios = readImage(value(), 'firmware'); break;
      case 'nographic': break;
      case 'serial': {
        const v = value();
        if (v !== 'stdio' && v !== 'mon:stdio') throw new UsageError(`-serial '${v}' is not supported: only stdio`);
        break;
      }
      case 'display': {
        const v = value();
        if (v !== 'none') throw new UsageError(`-display '${v}' is not supported: only none`);
        break;
      }
      case 'no-reboot': m.noReboot = true; break;
      case 'icount': m.icount = parseIcount(value()); break;
      case 'jit': {
        const v = value();
        if (v !== 'off' && v !== 'on' && v !== 'auto') throw new UsageError(`--jit=${v}: expected on, off or auto`);
        jit = v;
        break;
      }
      case 'jit-threshold': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--jit-threshold=${v}: expected a whole number of executions, at least 1`);
        m.jitThreshold = n;
        break;
      }
      case 'trace':
        if (inline !== undefined) throw new UsageError('--trace takes no value');
        m.trace = trace ?? ((line) => process.stderr.write(`${line}\n`));
        break;
      case 'stats': stats = true; break;
      default:
        throw new UsageError(`option '${raw}' is not supported by warmboot`);
    }
  }
  if (!m.kernel && !m.bios) {
    // Nothing to boot was named: run the bundled demo guest.
    kernelPath = demoGuestPath();
    m.kernel = readImage(kernelPath, 'kernel');
    m.cpu ??= 'cortex-a57';
  }
  m.jit = jit;
  return { machine: m, jit, stats, kernelPath };
}

/**
 * Under --jit=auto the guest starts at once in the interpreter while
 * Binaryen's binary is read and compiled on other threads
 * (prefetchBinaryen, started before the rest of warmboot is loaded), and the
 * JIT is switched on once that is done and the guest has run this many
 * instructions (the run loop looks every this many). A short guest is over
 * before then: `hello`, 17 thousand instructions, took 345 ms with its one
 * hot loop compiled and 249 ms without (QEMU 118), while cpubench lost
 * 3 ms (2-core EPYC, medians of 11, interleaved; 100 thousand cost it 9).
 */
const AUTO_JIT_AFTER_INSTRUCTIONS = 50_000;

/** The warmboot command with these arguments (src/warmboot-command.ts runs it); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    return reportError(e);
  }
  if (parsed === 'help') { process.stdout.write(USAGE); return 0; }
  if (parsed === 'version') { process.stdout.write('warmboot 0.1.0\n'); return 0; }
  try {
    if (parsed.jit === 'on') await loadBinaryen();
    const deferJit = parsed.jit === 'auto';
    let binaryenReady = false;
    if (deferJit) void prefetchBinaryen().then(() => { binaryenReady = true; });
    const machine = new Machine({ ...parsed.machine, jit: deferJit ? 'off' : parsed.jit, onSerialOutput: (b) => writeAll(1, b) });
    const started = performance.now();
    const input = new ConsoleInput();
    const poll = (): void => {
      if (input.poll(machine.vm.uart) === 'quit') {
        process.stderr.write('\r\nwarmboot: terminated\r\n');
        process.exit(0);
      }
    };
    const run = (maxInstructions?: number): MachineExit => machine.runToCompletion({ noReboot: parsed.machine.noReboot, poll, maxInstructions });
    let exit: MachineExit;
    let jitAfter: number | undefined;
    if (deferJit) {
      for (;;) {
        // The prefetch's read and compile finish on this thread's event loop.
        await new Promise((resolve) => setImmediate(resolve));
        if (binaryenReady && machine.vm.instructionsRetired >= AUTO_JIT_AFTER_INSTRUCTIONS) {
          await loadBinaryen();
          jitAfter = machine.vm.instructionsRetired;
          machine.enableJit({ background: true });
          exit = run();
          break;
        }
        exit = run(AUTO_JIT_AFTER_INSTRUCTIONS);
        if (exit.reason !== 'instruction-limit') break;
        poll();
      }
    } else {
      exit = run();
    }
    if (parsed.stats) printStats(machine, performance.now() - started, deferJit ? jitAfter ?? 'never' : undefined);
    if (exit.reason === 'system-event') {
      // Like QEMU: power-off, and a reset under -no-reboot, end with status 0.
      if (exit.type === SystemEventType.Shutdown || exit.type === SystemEventType.Reset) return 0;
      process.stderr.write(`warmboot: guest system event ${exit.type}\n`);
      return 1;
    }
    if (exit.reason === 'internal-error') {
      process.stderr.write(`warmboot: cpu${exit.vcpu}: ${exit.message}\n`);
      return 1;
    }
    process.stderr.write(`warmboot: guest stopped unexpectedly (${exit.reason})\n`);
    return 1;
  } catch (e) {
    return reportError(e);
  }
}

/**
 * --stats: what the run cost, on stderr so the guest's output stays clean.
 * `jitAfter`: under --jit=auto, the instructions retired before the JIT was
 * switched on, or 'never' when the guest was done first.
 */
function printStats(machine: Machine, ms: number, jitAfter?: number | 'never'): void {
  const s = machine.stats();
  const total = s.instructions.reduce((a, b) => a + b, 0);
  const lines = [
    `warmboot stats: ${total} guest instructions in ${ms.toFixed(0)} ms (${(total / ms / 1000).toFixed(1)} MIPS)`,
    `  per vcpu: ${s.instructions.join(', ')}`,
    `  exits: ${Object.entries(s.exits).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  stage-2 faults: ${s.stage2Faults} (${s.stage2MappedPages} pages mapped), MMIO reads ${s.mmioReads}, writes ${s.mmioWrites}`,
    `  invalidations: ${Object.entries(s.invalidations).map(([k, v]) => `${k} ${v}`).join(', ')}; decoded pages live: ${s.decodedPages}`,
    `  reboots: ${s.reboots}`,
  ];
  if (jitAfter === 'never') lines.push(`  jit: not started (the guest was done within ${AUTO_JIT_AFTER_INSTRUCTIONS} instructions or before Binaryen was ready)`);
  else if (jitAfter !== undefined) lines.push(`  jit: started after ${jitAfter} instructions in the interpreter, while Binaryen loaded`);
  const j = s.jit;
  if (j) {
    const perInsn = j.guestInstructionsTranslated > 0 ? (j.compileMs * 1000) / j.guestInstructionsTranslated : 0;
    lines.push(
      `  jit: ${j.instructionsCompiled} instructions in compiled code, ${j.instructionsInterpreted} interpreted (threshold ${j.threshold}${j.earlyThreshold ? `, ${j.earlyThreshold.executions} for the first ${j.earlyThreshold.regions} regions` : ''})`,
      `  jit: ${j.regionsCompiled} regions, ${j.blocksCompiled} blocks, ${j.guestInstructionsTranslated} guest instructions (${j.trampolinedInstructions} through the interpreter's handlers) in ${j.modulesCompiled} modules; ` +
        `compile ${j.compileMs.toFixed(0)} ms (${perInsn.toFixed(1)} us per instruction)` +
        `${j.backgroundCompile ? `, ${j.workerCompileMs.toFixed(0)} ms of it in the compile worker (regions still in flight ${j.regionsInFlight}, discarded ${j.regionsDiscarded})` : ''}; ` +
        `Binaryen load ${j.binaryenLoadMs.toFixed(0)} ms`,
      `  jit: time in compiled code ${j.compiledCodeMs.toFixed(0)} ms; returns to the run loop: vcpu exit ${j.exits.vcpuExit}, interpret ${j.exits.interpret}, miss ${j.exits.miss}; ` +
        `regions invalidated ${j.regionsInvalidated}, cache flushes ${j.evictions}, live regions ${j.liveRegions}`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
}

const UART_FR = 0x18;
const UART_FR_RXFE = 1 << 4;
const UART_RX_FIFO_DEPTH = 16;
const CTRL_A = 0x01;

/**
 * The guest console's input: stdin, read without blocking between run
 * slices (the run loop holds the thread, so stream events could never be
 * delivered). A terminal is put in raw mode, as QEMU's -nographic does, and
 * Ctrl-A x ends warmboot as it ends QEMU.
 */
class ConsoleInput {
  private fd = -1;
  private readonly pending: number[] = [];
  private readonly tty: boolean;
  private afterCtrlA = false;
  private readonly chunk = new Uint8Array(256);

  constructor() {
    this.tty = isatty(0);
    try {
      // A separate open file description, so that non-blocking mode does not
      // leak to whoever shares our stdin.
      this.fd = openSync('/dev/stdin', fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch {
      // A socket (Node's child_process hands its children those) cannot be
      // reopened; opening Node's own paused stdin stream makes fd 0
      // non-blocking instead.
      try {
        process.stdin.pause();
        this.fd = 0;
      } catch {
        return;
      }
    }
    if (this.tty) {
      process.stdin.setRawMode(true);
      process.on('exit', () => process.stdin.setRawMode(false));
    }
  }

  /** Moves typed bytes into the UART, as many as its empty receive FIFO takes. */
  poll(uart: Pl011): 'quit' | undefined {
    if (this.fd >= 0) {
      let n = 0;
      try {
        n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
        if (n === 0) this.close();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') this.close();
      }
      for (let i = 0; i < n; i++) {
        const b = this.chunk[i];
        if (this.tty && this.afterCtrlA) {
          this.afterCtrlA = false;
          if (b === 0x78) return 'quit';
          if (b !== CTRL_A) continue;
        } else if (this.tty && b === CTRL_A) {
          this.afterCtrlA = true;
          continue;
        }
        this.pending.push(b);
      }
    }
    // Like QEMU's character backend, hand over bytes only when the UART can
    // take them, so nothing typed ahead is lost to an overrun.
    if (this.pending.length > 0 && (uart.read(UART_FR) & UART_FR_RXFE) !== 0) {
      uart.receive(Uint8Array.from(this.pending.splice(0, UART_RX_FIFO_DEPTH)));
    }
    return undefined;
  }

  /** Stops reading at end of input; the guest runs on, as under QEMU. */
  private close(): void {
    if (this.fd > 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already gone
      }
    }
    this.fd = -1;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off);
    } catch (e) {
      // A non-blocking terminal may push back; anything else is fatal.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

function reportError(e: unknown): number {
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`warmboot: ${err.message}\n`);
  if (process.env.WARMBOOT_DEBUG) process.stderr.write(`${err.stack}\n`);
  return 1;
}
