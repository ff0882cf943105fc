/**
 * Runs the real GNU toolchain (binutils-aarch64-linux-gnu) as the reference
 * for the test assembler. Linking with a fixed -Ttext resolves every
 * relocation (ADRP pages, `.word label`, :lo12:) exactly as our assembler
 * does with the same base address, so the raw .text bytes can be compared.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GAS = 'aarch64-linux-gnu-as';
export const LD = 'aarch64-linux-gnu-ld';
export const OBJCOPY = 'aarch64-linux-gnu-objcopy';
export const DEBIAN_PACKAGE = 'binutils-aarch64-linux-gnu';
export const GAS_MARCH = '-march=armv8.5-a+crc+lse+memtag+sve';

let toolchainChecked = false;

/** Throws, naming the Debian package, when the toolchain is not installed. */
export function requireToolchain(): void {
  if (toolchainChecked) return;
  for (const tool of [GAS, LD, OBJCOPY]) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new Error(
        `${tool} is not available (${r.error?.message ?? `exit ${r.status}`}); ` +
          `the assembler tests need the GNU oracle: apt-get install -y ${DEBIAN_PACKAGE}`,
      );
    }
  }
  toolchainChecked = true;
}

export class GasError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'warmboot-gas-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Assemble and link `source` at `base`; return the .text words. */
export function gasAssemble(source: string, base: bigint): Uint32Array {
  requireToolchain();
  return withTempDir((dir) => {
    const src = join(dir, 'in.s');
    const obj = join(dir, 'in.o');
    const elf = join(dir, 'in.elf');
    const bin = join(dir, 'in.bin');
    writeFileSync(src, `.text\n${source}\n`);
    const as = spawnSync(GAS, [GAS_MARCH, '-o', obj, src], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (as.error || as.status !== 0) {
      throw new GasError(`${GAS} failed:\n${as.stderr.slice(0, 4000)}`, as.stderr);
    }
    execFileSync(LD, ['-Ttext=0x' + base.toString(16), '-e', '0x' + base.toString(16), '-o', elf, obj], { stdio: 'pipe' });
    execFileSync(OBJCOPY, ['-O', 'binary', '-j', '.text', elf, bin], { stdio: 'pipe' });
    const bytes = readFileSync(bin);
    const words = new Uint32Array(bytes.length >> 2);
    for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32LE(i * 4);
    return words;
  });
}

/**
 * Assemble lines that are all expected to be invalid; return the 1-based
 * line numbers (relative to `lines`) that GNU as reported an error for.
 */
export function gasErrorLines(lines: string[]): Set<number> {
  requireToolchain();
  return withTempDir((dir) => {
    const src = join(dir, 'bad.s');
    writeFileSync(src, lines.join('\n') + '\n');
    const as = spawnSync(GAS, [GAS_MARCH, '-o', join(dir, 'bad.o'), src], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const out = new Set<number>();
    for (const m of as.stderr.matchAll(/bad\.s:(\d+): Error:/g)) out.add(Number(m[1]));
    return out;
  });
}
