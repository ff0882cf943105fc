// Binaryen is a large Wasm module (about 15 MB of JavaScript, nearly all of
// it the Wasm binary as one escaped string literal): it is loaded once per
// process, lazily, and only when a machine wants the JIT.
//
// The plain import costs about 0.4 s: V8 parses the 15 MB (Node 20 keeps no
// code cache for ES modules), then the literal is decoded into bytes. On Node
// the loader therefore keeps, per Binaryen file, a cache of three files in
// node_modules/.cache/warmboot (else a private directory in the OS temp
// directory; WARMBOOT_BINARYEN_CACHE=/some/dir chooses one, =off disables it):
// - the module's JavaScript as a classic script wrapped in a function, with
//   the Wasm literal emptied (three textual rewrites of its ES-only parts:
//   import.meta.url, one dynamic import of node:module, the final export);
// - the Wasm binary, handed to Emscripten's documented `instantiateWasm`
//   hook, so the emptied literal is never read;
// - V8's code cache for that script.
// The first process makes the first two (capturing the bytes Binaryen
// instantiates), the second adds the code cache; later ones read about 10 MB
// and skip the parse. Should a Binaryen release change shape, or anything in
// this path fail, the plain import is used.
import type { Binaryen } from './codegen.js';

let loaded: Binaryen | undefined;
let loading: Promise<Binaryen> | undefined;
/** Wall time the load took, for --stats and the benchmarks. */
export let binaryenLoadMs = 0;
/**
 * How the last load went: 'cache-made' ran the whole module and wrote the
 * script and Wasm cache files, 'cache-used' ran from them, 'cache-prefetched'
 * too with the binary compiled ahead (prefetchBinaryen), 'import' is the
 * plain import.
 */
export let binaryenLoadPath: 'cache-made' | 'cache-used' | 'cache-prefetched' | 'import' = 'import';

/** Loads Binaryen (once); the JIT tier can be used when this has resolved. */
export function loadBinaryen(): Promise<Binaryen> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= (async () => {
    const t0 = performance.now();
    loaded = (await loadWithCache()) ?? (await import('binaryen')).default;
    binaryenLoadMs = performance.now() - t0;
    return loaded;
  })();
  return loading;
}

/** Binaryen if loadBinaryen() has completed, else undefined. */
export function binaryenIfLoaded(): Binaryen | undefined {
  return loaded;
}

/** The wrapped script's signature: see scriptSource. */
type WrappedModule = (metaUrl: string, nodeModule: unknown, options: object, wasmApi: typeof WebAssembly) => Promise<Binaryen>;

/** Where the cache's files are for the installed Binaryen, and the Node APIs that read and write them. */
interface CacheLayout {
  readonly fs: typeof import('node:fs');
  readonly path: typeof import('node:path');
  readonly vm: typeof import('node:vm');
  readonly v8: typeof import('node:v8');
  /** node:module as imported (the namespace), handed to Binaryen's script. */
  readonly nodeModule: unknown;
  /** Binaryen's module file, and its URL. */
  readonly file: string;
  readonly metaUrl: string;
  readonly scriptName: string;
  readonly wasmName: string;
  readonly codeCacheName: string;
  /** The directories to use, in order. */
  readonly places: readonly string[];
  usable(dir: string): boolean;
  readFrom(dir: string, name: string): Buffer | undefined;
  writeTo(dir: string, name: string, data: Uint8Array | string): boolean;
}

let layout: Promise<CacheLayout | undefined> | undefined;

/** Undefined off Node, or with WARMBOOT_BINARYEN_CACHE=off; worked out once per process (the prefetch and the load both ask). */
function cacheLayout(): Promise<CacheLayout | undefined> {
  layout ??= findCacheLayout();
  return layout;
}

async function findCacheLayout(): Promise<CacheLayout | undefined> {
  if (typeof process === 'undefined' || process.versions?.node === undefined || process.env.WARMBOOT_BINARYEN_CACHE === 'off') return undefined;
  const [fs, path, os, vm, nodeModule, url, v8] = await Promise.all([
    import('node:fs'), import('node:path'), import('node:os'), import('node:vm'), import('node:module'), import('node:url'), import('node:v8'),
  ]);
  const require = nodeModule.createRequire(import.meta.url);
  const file = require.resolve('binaryen');
  const version = (JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'package.json'), 'utf8')) as { version: string }).version;
  const st = fs.statSync(file);
  const stem = `binaryen-${version}-${st.size}-${Math.trunc(st.mtimeMs)}`;

  // The cache holds code: the temp directory is only used in a directory
  // of this user's that no one else may write (a planted file would run).
  const chosen = process.env.WARMBOOT_BINARYEN_CACHE;
  const shared = chosen !== undefined && path.isAbsolute(chosen) ? chosen : path.join(path.dirname(path.dirname(file)), '.cache', 'warmboot');
  const uid = process.getuid?.();
  const own = uid === undefined || shared === chosen ? undefined : path.join(os.tmpdir(), `warmboot-cache-${uid}`);
  const usable = (d: string): boolean => {
    if (d !== own) return true;
    try {
      const s = fs.statSync(d);
      return s.isDirectory() && s.uid === uid && (s.mode & 0o022) === 0;
    } catch {
      return false;
    }
  };
  return {
    fs, path, vm, v8, nodeModule, file,
    metaUrl: url.pathToFileURL(file).href,
    scriptName: `${stem}.js`,
    wasmName: `${stem}.wasm`,
    codeCacheName: `${stem}-node-${process.version}-${process.arch}.v8cache`,
    places: own === undefined ? [shared] : [shared, own],
    usable,
    readFrom(d, name) {
      try { return fs.readFileSync(path.join(d, name)); } catch { return undefined; }
    },
    writeTo(d, name, data) {
      try {
        fs.mkdirSync(d, { recursive: true, mode: 0o700 });
        if (!usable(d)) return false;
        // Written aside and renamed: processes starting together never read half a file.
        const tmp = path.join(d, `${name}.${process.pid}.tmp`);
        fs.writeFileSync(tmp, data);
        fs.renameSync(tmp, path.join(d, name));
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** Binaryen's binary from the cache, read and compiled by prefetchBinaryen() for loadBinaryen() to instantiate. */
let prefetched: Promise<{ wasmPath: string; module: WebAssembly.Module } | undefined> | undefined;

/**
 * Starts reading Binaryen's binary from the cache and compiling it, off this
 * thread (a file read in libuv's pool, V8's asynchronous compile), so that a
 * later loadBinaryen() has only the script to run and the module to
 * instantiate (about 35 ms of its 80). The promise settles when that is done
 * or has failed (loadBinaryen() then takes its usual path). For a process
 * that compiles no other Wasm until loadBinaryen(): the compile runs under
 * the V8 flags of instantiateTrusted, left set until it completes.
 */
export function prefetchBinaryen(): Promise<void> {
  if (loaded !== undefined || loading !== undefined) return Promise.resolve();
  prefetched ??= (async () => {
    const c = await cacheLayout();
    if (c === undefined) return undefined;
    for (const d of c.places) {
      if (!c.usable(d)) break;
      const wasmPath = c.path.join(d, c.wasmName);
      let bytes: Buffer;
      try {
        bytes = await readWhole(c.fs.promises, wasmPath);
      } catch {
        continue;
      }
      const restore = setTrustedFlags(c.v8);
      try {
        return { wasmPath, module: await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>) };
      } finally {
        restore();
      }
    }
    return undefined;
  })().catch(() => undefined);
  return prefetched.then(() => undefined);
}

/** A whole file in one read request where the OS allows (fs.promises.readFile reads 512 KB at a time). */
async function readWhole(fsp: typeof import('node:fs').promises, file: string): Promise<Buffer> {
  const handle = await fsp.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const buffer = Buffer.allocUnsafe(size);
    for (let at = 0; at < size;) {
      const { bytesRead } = await handle.read(buffer, at, size - at, at);
      if (bytesRead === 0) throw new Error(`${file}: shorter than its size`);
      at += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

async function loadWithCache(): Promise<Binaryen | undefined> {
  try {
    const c = await cacheLayout();
    if (c === undefined) return undefined;
    const { fs, path, vm, v8, nodeModule, file, metaUrl, scriptName, wasmName, codeCacheName, places } = c;
    const pre = await prefetched;

    for (const d of places) {
      if (!c.usable(d)) break;
      const module = pre !== undefined && pre.wasmPath === path.join(d, wasmName) ? pre.module : undefined;
      const wasm = module === undefined ? c.readFrom(d, wasmName) : undefined;
      const source = (module !== undefined || wasm !== undefined) ? c.readFrom(d, scriptName)?.toString('latin1') : undefined;
      if (source === undefined) continue;
      try {
        const cachedData = c.readFrom(d, codeCacheName);
        const script = new vm.Script(source, { filename: file, cachedData });
        const run = script.runInThisContext() as WrappedModule;
        // Emscripten's hook only ever reports success; a failure has to end the wait itself.
        let fail: (e: unknown) => void = () => {};
        const failed = new Promise<never>((_, reject) => { fail = reject; });
        const instantiateWasm = (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void): object => {
          try {
            receive(module !== undefined ? new WebAssembly.Instance(module, imports) : instantiateTrusted(wasm as Uint8Array<ArrayBuffer>, imports, v8));
          } catch (e) {
            fail(e);
          }
          return {};
        };
        const B = await Promise.race([run(metaUrl, nodeModule, { instantiateWasm }, WebAssembly), failed]);
        if (cachedData === undefined || script.cachedDataRejected === true) c.writeTo(d, codeCacheName, script.createCachedData());
        binaryenLoadPath = module !== undefined ? 'cache-prefetched' : 'cache-used';
        return B;
      } catch {
        // A damaged cache: removed, so that this load remakes it.
        for (const name of [scriptName, wasmName, codeCacheName]) {
          try { fs.unlinkSync(path.join(d, name)); } catch { /* not there */ }
        }
      }
    }

    // First time: run the whole module, catching the bytes it instantiates.
    const shaped = scriptSource(fs.readFileSync(file, 'latin1'));
    if (shaped === undefined) return undefined;
    let bytes: Uint8Array | undefined;
    const watching = Object.create(WebAssembly, {
      instantiate: {
        value: (b: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
          if (ArrayBuffer.isView(b)) bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
          return WebAssembly.instantiate(b as BufferSource, imports);
        },
      },
    }) as typeof WebAssembly;
    const run = new vm.Script(shaped.whole, { filename: file }).runInThisContext() as WrappedModule;
    const B = await run(metaUrl, nodeModule, {}, watching);
    binaryenLoadPath = 'cache-made';
    if (bytes !== undefined) {
      for (const d of places) {
        if (c.writeTo(d, wasmName, bytes) && c.writeTo(d, scriptName, shaped.withoutWasm)) break;
      }
    }
    return B;
  } catch {
    return undefined;
  }
}

/**
 * V8 tiering budget for Binaryen's own functions (bytes run before TurboFan
 * takes a function; V8's default is 1.8M). At the default, Binaryen's largest
 * functions reach TurboFan within the first few guest compiles; those jobs run
 * up to 160 ms each, take the second core, and a process that is done has to
 * wait for them before it can exit (about 130 ms after a short guest on a
 * 2-core EPYC). A thousand times the default defers that to runs that compile
 * for many seconds, where TurboFan's faster Binaryen pays for itself.
 */
const BINARYEN_TIERING_BUDGET = 1_800_000_000;
/** V8's own --wasm-tiering-budget, which every other module is compiled with. */
const V8_DEFAULT_TIERING_BUDGET = 1_800_000;

/** Whether node's own options (command line or NODE_OPTIONS) name this V8 flag. */
function nodeOptionNames(flag: string): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((f) => f.includes(flag));
}

/**
 * Sets the two V8 flags Binaryen's own module is compiled under, and returns
 * what puts them back. V8 reads them when a module is compiled, so they are
 * set around that compile only and put back before anything else compiles
 * (V8's code cache also checks the flags, so they must be as they were):
 * - lazy validation: each function is validated when first compiled rather
 *   than all 10 MB up front (20-30 ms less; Binaryen calls few of its
 *   functions);
 * - BINARYEN_TIERING_BUDGET, while the guest's modules keep V8's default.
 * A flag given in node's options is left as the user set it. One set with
 * v8.setFlagsFromString by an embedder is not seen: the budget goes back to
 * V8's default.
 */
function setTrustedFlags(v8: typeof import('node:v8')): () => void {
  const setValidation = !nodeOptionNames('wasm-lazy-validation');
  const setBudget = !nodeOptionNames('wasm-tiering-budget');
  if (setValidation) v8.setFlagsFromString('--wasm-lazy-validation');
  if (setBudget) v8.setFlagsFromString(`--wasm-tiering-budget=${BINARYEN_TIERING_BUDGET}`);
  return () => {
    if (setValidation) v8.setFlagsFromString('--no-wasm-lazy-validation');
    if (setBudget) v8.setFlagsFromString(`--wasm-tiering-budget=${V8_DEFAULT_TIERING_BUDGET}`);
  };
}

/** Compiles and instantiates Binaryen's own Wasm, synchronously, under setTrustedFlags. */
function instantiateTrusted(bytes: Uint8Array<ArrayBuffer>, imports: WebAssembly.Imports, v8: typeof import('node:v8')): WebAssembly.Instance {
  const restore = setTrustedFlags(v8);
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes);
  } finally {
    restore();
  }
  return new WebAssembly.Instance(module, imports);
}

/**
 * Binaryen's ES module as the body of a function (metaUrl, nodeModule,
 * options, WebAssembly) that resolves to the module's default export made
 * with those Emscripten options: `whole` as it is, `withoutWasm` with the
 * embedded Wasm literal emptied. Undefined if the text is not of the shape
 * expected.
 */
export function scriptSource(text: string): { whole: string; withoutWasm: string } | undefined {
  const end = Math.max(0, text.length - 200);
  const tail = /var (\w+)=await (\w+)\(\),(\$?\w+)=\1;export\{\3 as default\};\s*$/.exec(text.slice(end));
  const dynamicImport = 'await import("node:module")';
  if (!tail || text.indexOf(dynamicImport) < 0 || text.indexOf(dynamicImport) !== text.lastIndexOf(dynamicImport)) return undefined;
  const wasm = wasmLiteral(text);
  if (wasm === undefined) return undefined;
  const wrap = (body: string): string | undefined => {
    const rewritten = body.replace(dynamicImport, '__wbNodeModule').replaceAll('import.meta.url', '__wbMetaUrl');
    // Anything ES-only left would fail at run time rather than compile time (a
    // static import or export fails to compile, and the fallback takes over).
    // Plain searches: a regular expression over 15 MB costs more than the rest.
    if (rewritten.includes('import(') || rewritten.includes('import (') || rewritten.includes('import.meta')) return undefined;
    return `(async function (__wbMetaUrl, __wbNodeModule, __wbOptions, WebAssembly) {${rewritten}\nreturn ${tail[2]}(__wbOptions);\n})`;
  };
  const bodyEnd = end + tail.index;
  const whole = wrap(text.slice(0, bodyEnd));
  const withoutWasm = wrap(text.slice(0, wasm.start) + text.slice(wasm.end, bodyEnd));
  return whole === undefined || withoutWasm === undefined ? undefined : { whole, withoutWasm };
}

/**
 * Where the contents of the template literal holding the Wasm binary (it
 * starts with the escaped magic `\0asm`) begin and end; undefined unless
 * there is exactly one, without substitutions.
 */
function wasmLiteral(text: string): { start: number; end: number } | undefined {
  const open = '`\\0asm';
  const at = text.indexOf(open);
  if (at < 0 || text.indexOf(open, at + 1) >= 0) return undefined;
  const start = at + 1;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++; // a backslash escapes the next character
    else if (c === 0x60) return { start, end: i };
    else if (c === 0x24 && text.charCodeAt(i + 1) === 0x7b) return undefined; // ${
  }
  return undefined;
}
