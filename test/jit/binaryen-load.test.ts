// Loading Binaryen through V8's code cache (jit/binaryen.ts): each way of
// loading must give a Binaryen that works, later processes must use the
// cache, and a module text of an unexpected shape must fall back to the
// plain import rather than run rewritten wrongly.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { scriptSource } from '../../jit/binaryen.js';

const LOADER = resolve(__dirname, '../../dist/jit/binaryen.js');

/** A fresh process loads Binaryen, compiles a function with it and runs it. */
function loadInProcess(env: Record<string, string> = {}): { path: string; result: number } {
  const script = `
    const m = await import(${JSON.stringify(LOADER)});
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

describe('loading Binaryen', () => {
  it('works through the code cache, uses it in the next process, and works without it', () => {
    const first = loadInProcess();
    expect(first.result).toBe(42);
    expect(['cache-made', 'cache-used']).toContain(first.path);
    const second = loadInProcess();
    expect(second).toEqual({ path: 'cache-used', result: 42 });
    expect(loadInProcess({ WARMBOOT_BINARYEN_CACHE: 'off' })).toEqual({ path: 'import', result: 42 });
  });

  it('runs a module of the expected shape as a script, and refuses any other shape', async () => {
    const shaped = 'async function Ar(o={}){return {url:import.meta.url, m:typeof (await import("node:module")).createRequire}}var S6=Ar;var jr=await S6(),$r=jr;export{$r as default};\n';
    const text = scriptSource(shaped);
    expect(text).toBeDefined();
    const run = (0, eval)(text!) as (url: string, nodeModule: unknown) => Promise<{ url: string; m: string }>;
    expect(await run('file:///x.js', { createRequire: () => undefined })).toEqual({ url: 'file:///x.js', m: 'function' });
    expect(scriptSource(shaped.replace('export{$r as default}', 'export{$r as binaryen}'))).toBeUndefined();
    // A static import or export left over cannot compile as a script: the loader falls back then.
    const withImport = scriptSource(`import fs from "node:fs";\n${shaped}`);
    expect(withImport).toBeDefined();
    expect(() => new Script(withImport!)).toThrow(SyntaxError);
    expect(scriptSource(shaped.replace('import.meta.url', 'import.meta.resolve("x")'))).toBeUndefined();
    expect(scriptSource(shaped + shaped)).toBeUndefined();
  });
});
