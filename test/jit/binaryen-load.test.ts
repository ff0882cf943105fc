// Loading Binaryen through the loader's cache (jit/binaryen.ts): each way of
// loading must give a Binaryen that works, later processes must use the
// cache, a damaged cache must be remade rather than trusted, and a module
// text of an unexpected shape must fall back to the plain import rather than
// run rewritten wrongly. Binaryen's own functions stay in V8's baseline tier
// while the guest's modules are optimised as usual.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { scriptSource } from '../../jit/binaryen.js';

const LOADER = resolve(__dirname, '../../dist/jit/binaryen.js');

/** A fresh process loads Binaryen, compiles a function with it and runs it. */
function loadInProcess(env: Record<string, string> = {}): { path: string; result: number } {
  const script = `
    const m = await import(${JSON.stringify(LOADER)});
    if (process.env.PREFETCH === '1') void m.prefetchBinaryen();
    const B = await m.loadBinaryen();
    const mod = new B.Module();
    mod.addFunction('f', B.createType([B.i32]), B.i32, [], mod.i32.mul(mod.local.get(0, B.i32), mod.i32.const(7)));
    mod.addFunctionExport('f', 'f');
    const bytes = mod.emitBinary();
    mod.dispose();
    const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f;
    process.stdout.write(JSON.stringify({ path: m.binaryenLoadPath, result: f(6) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { path: string; result: number };
}

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A fixture shaped like Binaryen's Emscripten output, with a Wasm literal. */
const SHAPED = 'async function Ar(o={}){var w=o.instantiateWasm?"hook":`\\0asm\\x01\\`\\\\`.length;' +
  'return {url:import.meta.url, m:typeof (await import("node:module")).createRequire, w}}var S6=Ar;var jr=await S6(),$r=jr;export{$r as default};\n';

describe('loading Binaryen', () => {
  it('works through the cache, uses it in the next processes, and works without it', () => {
    const first = loadInProcess();
    expect(first.result).toBe(42);
    expect(['cache-made', 'cache-used']).toContain(first.path);
    const second = loadInProcess();
    expect(second).toEqual({ path: 'cache-used', result: 42 });
    expect(loadInProcess({ WARMBOOT_BINARYEN_CACHE: 'off' })).toEqual({ path: 'import', result: 42 });
  });

  it('compiles the cached binary ahead when asked to (prefetchBinaryen), and falls back without a cache', () => {
    loadInProcess(); // the cache is in place
    expect(loadInProcess({ PREFETCH: '1' })).toEqual({ path: 'cache-prefetched', result: 42 });
    const dir = mkdtempSync(join(tmpdir(), 'warmboot-binaryen-cache-'));
    dirs.push(dir);
    expect(loadInProcess({ PREFETCH: '1', WARMBOOT_BINARYEN_CACHE: dir })).toEqual({ path: 'cache-made', result: 42 });
    expect(loadInProcess({ PREFETCH: '1', WARMBOOT_BINARYEN_CACHE: 'off' })).toEqual({ path: 'import', result: 42 });
    // A damaged binary fails the prefetch's compile; the load removes and remakes the cache.
    loadInProcess({ WARMBOOT_BINARYEN_CACHE: dir });
    const wasm = readdirSync(dir).find((n) => n.endsWith('.wasm'))!;
    writeFileSync(join(dir, wasm), 'not what was written');
    expect(loadInProcess({ PREFETCH: '1', WARMBOOT_BINARYEN_CACHE: dir })).toEqual({ path: 'cache-made', result: 42 });
    expect(loadInProcess({ PREFETCH: '1', WARMBOOT_BINARYEN_CACHE: dir })).toEqual({ path: 'cache-prefetched', result: 42 });
  });

  it('makes its cache in a chosen directory, and remakes a damaged one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warmboot-binaryen-cache-'));
    dirs.push(dir);
    const env = { WARMBOOT_BINARYEN_CACHE: dir };
    expect(loadInProcess(env)).toEqual({ path: 'cache-made', result: 42 });
    const made = readdirSync(dir);
    expect(made.filter((f) => f.endsWith('.wasm'))).toHaveLength(1);
    expect(made.filter((f) => f.endsWith('.js'))).toHaveLength(1);
    expect(loadInProcess(env)).toEqual({ path: 'cache-used', result: 42 });
    // The second process adds V8's code cache, which the third uses.
    expect(readdirSync(dir).filter((f) => f.endsWith('.v8cache'))).toHaveLength(1);
    expect(loadInProcess(env)).toEqual({ path: 'cache-used', result: 42 });
    for (const damaged of ['.wasm', '.js']) {
      const f = readdirSync(dir).find((n) => n.endsWith(damaged))!;
      writeFileSync(join(dir, f), 'not what was written');
      expect(loadInProcess(env)).toEqual({ path: 'cache-made', result: 42 });
      expect(loadInProcess(env)).toEqual({ path: 'cache-used', result: 42 });
    }
  });

  // V8's tiers are seen through its natives (%IsLiftoffFunction); tier-up
  // happens on a background thread, hence the polling.
  const TIERS = `
    const m = await import(${JSON.stringify(LOADER)});
    if (process.env.PREFETCH === '1') await m.prefetchBinaryen();
    const B = await m.loadBinaryen();
    if (m.binaryenLoadPath !== (process.env.PREFETCH === '1' ? 'cache-prefetched' : 'cache-used')) throw new Error(m.binaryenLoadPath);
    const build = () => {
      const mod = new B.Module();
      mod.addFunction('f', B.createType([B.i32]), B.i32, [], mod.i32.mul(mod.local.get(0, B.i32), mod.i32.const(7)));
      mod.addFunctionExport('f', 'f');
      const bytes = mod.emitBinary();
      mod.dispose();
      return bytes;
    };
    const f = new WebAssembly.Instance(new WebAssembly.Module(build())).exports.f;
    const binaryenOptimised = () => !%IsLiftoffFunction(B._BinaryenModuleAllocateAndWrite);
    // At V8's default budget Binaryen's writer is optimised well within the 1.5 s.
    const start = Date.now();
    let guestOptimised = false;
    const done = () => guestOptimised && (process.env.WAIT_FOR_BINARYEN === '1' ? binaryenOptimised() : Date.now() - start > 1500);
    while (Date.now() - start < 20000 && !done()) {
      for (let i = 0; i < 100000; i++) f(i);
      for (let i = 0; i < 300; i++) build();
      await new Promise((r) => setTimeout(r, 20));
      guestOptimised = !%IsLiftoffFunction(f);
    }
    process.stdout.write(JSON.stringify({ guestOptimised, binaryenOptimised: binaryenOptimised() }));`;

  function tiers(nodeOptions: string[], env: Record<string, string> = {}): { guestOptimised: boolean; binaryenOptimised: boolean } {
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', ...nodeOptions, '--input-type=module', '-e', TIERS],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { guestOptimised: boolean; binaryenOptimised: boolean };
  }

  it('compiles Binaryen so that V8 leaves it in its baseline tier, and guest modules with V8\'s own budget', () => {
    loadInProcess(); // the cache is in place: the budget is set on that path
    expect(tiers([])).toEqual({ guestOptimised: true, binaryenOptimised: false });
    expect(tiers([], { PREFETCH: '1' })).toEqual({ guestOptimised: true, binaryenOptimised: false });
  });

  it('leaves a tiering budget given in node\'s options as it is', () => {
    loadInProcess();
    expect(tiers(['--wasm-tiering-budget=100000'], { WAIT_FOR_BINARYEN: '1' })).toEqual({ guestOptimised: true, binaryenOptimised: true });
  });

  it('runs a module of the expected shape as a script, with or without its Wasm, and refuses any other shape', async () => {
    const text = scriptSource(SHAPED);
    expect(text).toBeDefined();
    type Run = (url: string, nodeModule: unknown, options: object, wasmApi: unknown) => Promise<{ url: string; m: string; w: unknown }>;
    const nodeModule = { createRequire: () => undefined };
    const whole = (0, eval)(text!.whole) as Run;
    expect(await whole('file:///x.js', nodeModule, {}, WebAssembly)).toEqual({ url: 'file:///x.js', m: 'function', w: 7 });
    expect(text!.withoutWasm).not.toContain('\\0asm');
    const withoutWasm = (0, eval)(text!.withoutWasm) as Run;
    expect(await withoutWasm('file:///y.js', nodeModule, { instantiateWasm: () => ({}) }, WebAssembly)).toEqual({ url: 'file:///y.js', m: 'function', w: 'hook' });

    expect(scriptSource(SHAPED.replace('export{$r as default}', 'export{$r as binaryen}'))).toBeUndefined();
    // A static import or export left over cannot compile as a script: the loader falls back then.
    const withImport = scriptSource(`import fs from "node:fs";\n${SHAPED}`);
    expect(withImport).toBeDefined();
    expect(() => new Script(withImport!.whole)).toThrow(SyntaxError);
    expect(scriptSource(SHAPED.replace('import.meta.url', 'import.meta.resolve("x")'))).toBeUndefined();
    expect(scriptSource(SHAPED + SHAPED)).toBeUndefined();
    // The Wasm literal: exactly one, and without substitutions.
    expect(scriptSource(SHAPED.replace('\\0asm', 'wasm'))).toBeUndefined();
    expect(scriptSource(SHAPED.replace('\\x01', '${1}'))).toBeUndefined();
  });
});
