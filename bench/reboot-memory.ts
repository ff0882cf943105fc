// Process memory across guest reboots: issue 4 item 6 promises that memory
// stays flat across 1000 reboots. The vitest in test/jit only counts live
// regions and function-table slots; compiled Wasm code, instances and the
// worker's heap are invisible to it, so this measures the process instead.
//
// Run with `npm run bench:memory` (node --expose-gc). Each JIT mode runs in a
// child process of its own: a mode that loads Binaryen on the main thread or
// starts the compile worker would otherwise leave that memory in the figures
// of the mode measured after it. heapUsed is the main thread's heap only: the
// compile worker's heap and Binaryen's memory in 'auto' mode show only in
// rss. Figures go to stdout and bench/out/reboot-memory.json; the exit status
// is non-zero when heapUsed grows by more than HEAP_BOUND_MIB from boot 100 to
// the last boot, or when the JIT compiled less than a region per boot (then
// nothing was measured).
//
// RSS is reported, not checked: it swings by tens of MiB with the timing of
// the worker's own collections, and on glibc it creeps by a few hundred bytes
// per Wasm module V8 compiles (malloc arenas of its compile threads keep freed
// memory; the creep goes away under MALLOC_ARENA_MAX=1), so a bound on it
// would fail on noise or on the C library rather than on warmboot.
//
// Options: --boots=N (default 1000), --threshold=N (default 1),
// --modes=auto,on, --sample-every=N (more samples, for long runs), --no-gc
// (never force a collection, as an embedder would not), --snapshots (heap
// snapshots at boot 100 and the last boot into bench/out/, for finding what
// grows).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { loadJit, Machine, SystemEventType } from '../src/index.js';
import { assembleProgram } from '../test/asm/a64-assembler.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = resolve(root, 'bench/out');
const MiB = 1024 * 1024;
const HEAP_BOUND_MIB = 20;
const DEFAULT_SAMPLES = [1, 10, 100, 250, 500, 750, 1000];
/** The boot growth is measured from: by then the first boots' one-off costs (Binaryen, V8 tiering up the run loop) are paid. */
const BASELINE_BOOT = 100;

type Mode = 'auto' | 'on';

const KERNEL_BASE = 0x40080000n; // where a raw image lands, as QEMU puts it
const RESULTS = 0x45000000; // boot count and checksum: outside the image, so they survive a reset
const STACK_TOP = 0x43f0;
const SRC = 0x4400; // << 16
const DST = 0x4410; // << 16
const BANNER = 'reboot-memory guest\n';

/**
 * The guest: a banner on the UART, then hot loops on separate pages (so each
 * boot compiles several regions and modules, not one), a checksum of all of
 * them stored in RAM, and PSCI SYSTEM_RESET. Every reset unmaps stage 2 and
 * reloads the image, so every boot translates the same code again: exactly
 * the churn whose memory must not accumulate.
 */
function guestSource(): string {
  const padded = BANNER + '\0'.repeat(4 - (BANNER.length % 4));
  const words: string[] = [];
  for (let i = 0; i < padded.length; i += 4) {
    let w = 0;
    for (let k = 0; k < 4; k++) w |= padded.charCodeAt(i + k) << (8 * k);
    words.push(`  .word 0x${(w >>> 0).toString(16)}`);
  }
  return `
_start:
  movz x9, #${STACK_TOP}, lsl #16
  mov sp, x9
  movz x19, #${RESULTS >>> 16}, lsl #16
  ldr x1, [x19]
  add x1, x1, #1
  str x1, [x19]
  bl banner
  bl fill
  bl copy
  bl crc
  mov x20, x0
  bl alu
  eor x20, x20, x0, ror #17
  bl calls
  add x20, x20, x0
  str x20, [x19, #8]
  movz w0, #0x0009
  movk w0, #0x8400, lsl #16
  hvc #0
1:
  b 1b

  .balign 4096
banner:
  adr x1, text
  movz x2, #0x0900, lsl #16
1:
  ldrb w3, [x1], #1
  cbz w3, 2f
  strb w3, [x2]
  b 1b
2:
  ret
text:
${words.join('\n')}

  .balign 4096
fill:
  movz x0, #${SRC}, lsl #16
  mov x2, #8192
  movz x3, #0x1234
  movz x5, #0x7f2d
  movk x5, #0x4c95, lsl #16
  movk x5, #0xf42d, lsl #32
  movk x5, #0x5851, lsl #48
  movz x6, #0x814f
  movk x6, #0xf767, lsl #16
  movk x6, #0x7b7e, lsl #32
  movk x6, #0x1405, lsl #48
1:
  madd x3, x3, x5, x6
  str x3, [x0], #8
  subs x2, x2, #1
  b.ne 1b
  ret

  .balign 4096
copy:
  mov x7, #4
2:
  movz x0, #${SRC}, lsl #16
  movz x1, #${DST}, lsl #16
  mov x2, #4096
1:
  ldp x3, x4, [x0], #16
  stp x3, x4, [x1], #16
  subs x2, x2, #1
  b.ne 1b
  subs x7, x7, #1
  b.ne 2b
  ret

  .balign 4096
crc:
  movz x0, #${DST}, lsl #16
  mov x2, #65536
  mov w3, #-1
1:
  ldrb w4, [x0], #1
  crc32b w3, w3, w4
  sub x2, x2, #1
  cbnz x2, 1b
  mvn w0, w3
  ret

  .balign 4096
alu:
  mov x0, #1
  movz x1, #0x9e37
  movk x1, #0x79b9, lsl #16
  movz x2, #0x0003
  movk x2, #0x0003, lsl #16
1:
  add x3, x0, x1
  eor x0, x3, x0, ror #13
  madd x4, x0, x1, x3
  cmp x4, x0
  csel x0, x4, x0, hi
  subs x2, x2, #1
  b.ne 1b
  ret

  .balign 4096
calls:
  stp x29, x30, [sp, #-16]!
  mov x29, sp
  mov x0, #0
  movz x21, #${SRC}, lsl #16
  movz x9, #20000
1:
  bl leaf_a
  bl leaf_b
  subs x9, x9, #1
  b.ne 1b
  ldp x29, x30, [sp], #16
  ret

  .balign 4096
leaf_a:
  stp x29, x30, [sp, #-16]!
  add x0, x0, x9
  eor x0, x0, x0, lsr #7
  ldp x29, x30, [sp], #16
  ret

  .balign 4096
leaf_b:
  stp x29, x30, [sp, #-16]!
  mov x29, sp
  and x10, x9, #0xff8
  ldr x10, [x21, x10]
  madd x0, x0, x9, x10
  ldp x29, x30, [sp], #16
  ret
`;
}

interface Sample {
  boot: number;
  rss: number;
  /** Peak RSS of the process so far. */
  maxRss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** V8's own malloc'ed memory (compiler zones among it): not the JS heap, not array buffers. */
  malloced: number;
  /**
   * Resident anonymous executable mappings: V8's generated code, Wasm code
   * included, which no other figure here counts. Linux only (else -1).
   */
  codeRss: number;
  detachedContexts: number;
  liveRegions: number;
  modulesCompiled: number;
  regionsCompiled: number;
  regionsInvalidated: number;
  regionsInFlight: number;
  evictions: number;
  tableLength: number;
  /** Share of the guest's instructions that ran in compiled code so far. */
  compiledShare: number;
  /** Wall time per boot since the previous sample. */
  msPerBoot: number;
}

interface ModeResult {
  mode: Mode;
  threshold: number;
  boots: number;
  gcExposed: boolean;
  wallMs: number;
  binaryenLoadMs: number;
  samples: Sample[];
}

function arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  const a = process.argv.find((x) => x === `--${name}` || x.startsWith(prefix));
  if (a === undefined) return undefined;
  return a === `--${name}` ? '' : a.slice(prefix.length);
}

function intArg(name: string, fallback: number): number {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}=${v}: expected a positive whole number`);
  return n;
}

function sampleBoots(boots: number, every: number | undefined): number[] {
  const extra = every ? Array.from({ length: Math.floor(boots / every) }, (_, i) => (i + 1) * every) : [];
  return [...new Set([...DEFAULT_SAMPLES.filter((b) => b <= boots), ...extra, boots])].sort((a, b) => a - b);
}

// --no-gc measures what an embedder sees, who never forces a collection.
const gc = arg('no-gc') === undefined ? (globalThis as { gc?: () => void }).gc : undefined;

function collect(): void {
  if (!gc) return;
  // Twice: the first pass runs finalizers (WeakRefs in the compile client
  // list, Wasm instances) whose targets only the second one frees.
  gc();
  gc();
}

function codeRss(): number {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return -1;
  }
  let total = 0, counting = false;
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)/.exec(line);
    if (header) {
      counting = header[1].includes('x') && header[2] === '0';
      continue;
    }
    if (counting && line.startsWith('Rss:')) total += parseInt(line.slice(4), 10) * 1024;
  }
  return total;
}

function readU64(machine: Machine, pa: number): bigint {
  const b = machine.vm.readPhysical(pa, 8);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

function kernel(): Uint8Array {
  return assembleProgram(guestSource(), KERNEL_BASE).bytes;
}

/** One boot of the guest: runs it until it asks for the reset, checking what it computed. */
function boot(machine: Machine, expected: bigint | undefined, n: number): bigint {
  const exit = machine.run();
  if (exit.reason !== 'system-event' || exit.type !== SystemEventType.Reset) {
    throw new Error(`boot ${n}: expected SYSTEM_RESET, got ${JSON.stringify(exit, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  }
  const boots = readU64(machine, RESULTS);
  if (boots !== BigInt(n)) throw new Error(`boot ${n}: the guest counted ${boots} boots`);
  const sum = readU64(machine, RESULTS + 8);
  if (expected !== undefined && sum !== expected) {
    throw new Error(`boot ${n}: checksum 0x${sum.toString(16)}, the interpreter computes 0x${expected.toString(16)}`);
  }
  return sum;
}

/** The interpreter's answer, for checking every boot of the compiled runs. */
function referenceChecksum(): bigint {
  const machine = new Machine({ jit: 'off', kernel: kernel(), onSerialOutput: () => {} });
  return boot(machine, undefined, 1);
}

async function runMode(mode: Mode, boots: number, threshold: number, expected: bigint, snapshots: boolean): Promise<ModeResult> {
  if (mode === 'on') await loadJit();
  let serialBytes = 0;
  const machine = new Machine({ jit: mode, jitThreshold: threshold, kernel: kernel(), onSerialOutput: (b) => { serialBytes += b.length; } });
  const every = arg('sample-every') !== undefined ? intArg('sample-every', 1) : undefined;
  const at = new Set(sampleBoots(boots, every));
  const samples: Sample[] = [];
  const t0 = performance.now();
  let lastT = t0, lastBoot = 0;
  for (let n = 1; n <= boots; n++) {
    boot(machine, expected, n);
    if (at.has(n)) {
      const now = performance.now();
      const msPerBoot = (now - lastT) / (n - lastBoot);
      collect();
      const mu = process.memoryUsage();
      const hs = getHeapStatistics();
      const s = machine.stats();
      const j = s.jit;
      if (!j) throw new Error(`jit '${mode}': the machine has no JIT tier`);
      const compiled = j.instructionsCompiled, total = j.instructionsCompiled + j.instructionsInterpreted;
      samples.push({
        boot: n, rss: mu.rss, maxRss: process.resourceUsage().maxRSS * 1024, heapUsed: mu.heapUsed, heapTotal: mu.heapTotal, external: mu.external, arrayBuffers: mu.arrayBuffers,
        malloced: hs.malloced_memory, codeRss: codeRss(), detachedContexts: hs.number_of_detached_contexts,
        liveRegions: j.liveRegions, modulesCompiled: j.modulesCompiled, regionsCompiled: j.regionsCompiled,
        regionsInvalidated: j.regionsInvalidated, regionsInFlight: j.regionsInFlight, evictions: j.evictions,
        tableLength: machine.vm.jit?.tableLength ?? 0, compiledShare: total > 0 ? compiled / total : 0, msPerBoot,
      });
      process.stderr.write(`  ${mode}: boot ${n}, rss ${mib(mu.rss)} MiB, heapUsed ${mib(mu.heapUsed)} MiB\n`);
      if (snapshots && (n === BASELINE_BOOT || n === boots)) {
        const file = writeHeapSnapshot(resolve(outDir, `reboot-memory-${mode}-boot${n}.heapsnapshot`));
        process.stderr.write(`  ${mode}: heap snapshot ${file}\n`);
      }
      // Sampling (GC, snapshots) is not guest time.
      lastT = performance.now();
      lastBoot = n;
    }
    machine.reboot();
  }
  if (serialBytes !== boots * BANNER.length) throw new Error(`the guest wrote ${serialBytes} UART bytes in ${boots} boots`);
  const j = machine.stats().jit!;
  return {
    mode, threshold, boots, gcExposed: gc !== undefined, wallMs: performance.now() - t0, binaryenLoadMs: j.binaryenLoadMs, samples,
  };
}

/** The checkout measured, marked when it has uncommitted changes: the engine moves under this benchmark. */
function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

function table(r: ModeResult): string {
  const head = ['boot', 'rss', 'peakRss', 'heapUsed', 'external', 'arrayBuf', 'malloced', 'code', 'live', 'table', 'modules', 'regions', 'invalid', 'compiled', 'ms/boot'];
  const rows = r.samples.map((s) => [
    String(s.boot), mib(s.rss), mib(s.maxRss), mib(s.heapUsed), mib(s.external), mib(s.arrayBuffers), mib(s.malloced), s.codeRss < 0 ? '-' : mib(s.codeRss),
    String(s.liveRegions), String(s.tableLength), String(s.modulesCompiled), String(s.regionsCompiled), String(s.regionsInvalidated),
    `${(100 * s.compiledShare).toFixed(0)}%`, s.msPerBoot.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

interface Verdict {
  mode: Mode;
  fromBoot: number;
  toBoot: number;
  rssGrowthMiB: number;
  rssGrowthKiBPerBoot: number;
  peakRssGrowthMiB: number;
  codeGrowthMiB: number;
  heapUsedGrowthMiB: number;
  externalGrowthMiB: number;
  regionsPerBoot: number;
  modulesPerBoot: number;
  /** Below one region per boot the JIT was not exercised and the figures prove nothing. */
  compiledEachBoot: boolean;
  flat: boolean;
}

function verdict(r: ModeResult): Verdict {
  // Short runs (--boots below 100) compare against their first sample instead.
  const from = r.samples.find((s) => s.boot === BASELINE_BOOT) ?? r.samples[0];
  const to = r.samples[r.samples.length - 1];
  const boots = Math.max(1, to.boot - from.boot);
  const heap = (to.heapUsed - from.heapUsed) / MiB;
  return {
    mode: r.mode, fromBoot: from.boot, toBoot: to.boot,
    rssGrowthMiB: (to.rss - from.rss) / MiB,
    rssGrowthKiBPerBoot: (to.rss - from.rss) / 1024 / boots,
    peakRssGrowthMiB: (to.maxRss - from.maxRss) / MiB,
    codeGrowthMiB: (to.codeRss - from.codeRss) / MiB,
    heapUsedGrowthMiB: heap,
    externalGrowthMiB: (to.external - from.external) / MiB,
    regionsPerBoot: (to.regionsCompiled - from.regionsCompiled) / boots,
    modulesPerBoot: (to.modulesCompiled - from.modulesCompiled) / boots,
    compiledEachBoot: (to.regionsCompiled - from.regionsCompiled) / boots >= 1,
    flat: heap <= HEAP_BOUND_MIB,
  };
}

/** Runs one mode in a fresh node with this process's flags (--expose-gc among them); its result comes back as JSON on stdout. */
function spawnMode(mode: Mode, expected: bigint): ModeResult {
  const args = [
    ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), `--child=${mode}`, `--expected=${expected.toString(16)}`,
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`jit '${mode}': the measuring process failed (status ${r.status}, signal ${r.signal})`);
  return JSON.parse(r.stdout) as ModeResult;
}

async function child(mode: Mode): Promise<void> {
  const result = await runMode(mode, intArg('boots', 1000), intArg('threshold', 1), BigInt(`0x${arg('expected')}`), arg('snapshots') !== undefined);
  process.stdout.write(JSON.stringify(result));
  // The compile worker is unref'd, but an exit now keeps a stray handle from holding the parent's read.
  process.exit(0);
}

async function main(): Promise<void> {
  const boots = intArg('boots', 1000);
  const threshold = intArg('threshold', 1);
  const modes = (arg('modes') ?? 'auto,on').split(',') as Mode[];
  for (const m of modes) if (m !== 'auto' && m !== 'on') throw new Error(`--modes: '${m}' is not auto or on`);
  const machineName = `${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, Node ${process.version}`;
  mkdirSync(outDir, { recursive: true });
  console.log(`warmboot reboot memory on ${machineName}`);
  console.log(`${boots} boots per JIT mode, jitThreshold ${threshold}, each mode in its own process`);
  if (!gc) console.log(arg('no-gc') !== undefined ? 'no forced collections (--no-gc): figures include uncollected garbage' : 'warning: no global.gc (run node with --expose-gc): figures include uncollected garbage');
  const expected = referenceChecksum();
  console.log(`guest checksum under the interpreter: 0x${expected.toString(16)} (every boot is checked against it)\n`);

  const results: ModeResult[] = [];
  const verdicts: Verdict[] = [];
  for (const mode of modes) {
    const r = spawnMode(mode, expected);
    results.push(r);
    const v = verdict(r);
    verdicts.push(v);
    console.log(`\njit: '${mode}' (${mode === 'auto' ? 'compile worker' : 'compiled on the calling thread'}), ${(r.wallMs / 1000).toFixed(1)} s, MiB except counts`);
    console.log(table(r));
    console.log(
      `boot ${v.fromBoot} -> ${v.toBoot}: rss ${signed(v.rssGrowthMiB)} MiB (${v.rssGrowthKiBPerBoot.toFixed(1)} KiB/boot), ` +
      `peak rss ${signed(v.peakRssGrowthMiB)} MiB, heapUsed ${signed(v.heapUsedGrowthMiB)} MiB, external ${signed(v.externalGrowthMiB)} MiB, code ${signed(v.codeGrowthMiB)} MiB; ` +
      `${v.regionsPerBoot.toFixed(1)} regions in ${v.modulesPerBoot.toFixed(1)} modules compiled per boot`,
    );
  }

  const ok = verdicts.every((v) => v.flat && v.compiledEachBoot);
  for (const v of verdicts) {
    if (!v.compiledEachBoot) console.log(`\njit: '${v.mode}' compiled ${v.regionsPerBoot.toFixed(2)} regions per boot: the JIT was not exercised, so this run shows nothing`);
  }
  writeFileSync(resolve(outDir, 'reboot-memory.json'), JSON.stringify({
    machine: machineName, date: new Date().toISOString(), commit: commit(), boots, threshold, heapBoundMiB: HEAP_BOUND_MIB, results, verdicts, ok,
  }, null, 2));
  const word = verdicts.some((v) => !v.flat) ? 'NOT flat' : ok ? 'flat' : 'inconclusive';
  console.log(`\nverdict: ${word} (heapUsed growth from boot ${verdicts[0]?.fromBoot} to ${boots} within ${HEAP_BOUND_MIB} MiB: ` +
    `${verdicts.map((v) => `${v.mode} ${v.flat ? 'yes' : 'no'}`).join(', ')}); figures in bench/out/reboot-memory.json`);
  if (!ok) process.exitCode = 1;
}

const childMode = arg('child');
if (childMode !== undefined) await child(childMode as Mode);
else await main();
