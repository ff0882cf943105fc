// Binaryen is a large Wasm module (about 15 MB of JavaScript and Wasm): it is
// loaded once per process, lazily, and only when a machine wants the JIT.
//
// Half of its 0.4 s load is V8 parsing and compiling that JavaScript, and
// Node 20 keeps no code cache for ES modules. On Node the file is therefore
// run as a classic script wrapped in a function, with V8's code cache for it
// kept on disk (node_modules/.cache/warmboot, else a private directory in
// the OS temp directory):
// later processes skip the parse. The wrapping needs three textual
// rewrites of the module's ES-only parts (import.meta.url, one dynamic import
// of node:module, the final export); should a Binaryen release change them,
// or anything else in this path fail, the plain import is used.
import type { Binaryen } from './codegen.js';

let loaded: Binaryen | undefined;
let loading: Promise<Binaryen> | undefined;
/** Wall time the load took, for --stats and the benchmarks. */
export let binaryenLoadMs = 0;
/** How the last load went: through the code cache (made or used), or the plain import. */
export let binaryenLoadPath: 'cache-made' | 'cache-used' | 'import' = 'import';

/** Loads Binaryen (once); the JIT tier can be used when this has resolved. */
export function loadBinaryen(): Promise<Binaryen> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= (async () => {
    const t0 = performance.now();
    loaded = (await loadWithCodeCache()) ?? (await import('binaryen')).default;
    binaryenLoadMs = performance.now() - t0;
    return loaded;
  })();
  return loading;
}

/** Binaryen if loadBinaryen() has completed, else undefined. */
export function binaryenIfLoaded(): Binaryen | undefined {
  return loaded;
}

async function loadWithCodeCache(): Promise<Binaryen | undefined> {
  if (typeof process === 'undefined' || process.versions?.node === undefined || process.env.WARMBOOT_BINARYEN_CACHE === 'off') return undefined;
  try {
    const [fs, path, os, vm, nodeModule, url] = await Promise.all([
      import('node:fs'), import('node:path'), import('node:os'), import('node:vm'), import('node:module'), import('node:url'),
    ]);
    const require = nodeModule.createRequire(import.meta.url);
    const file = require.resolve('binaryen');
    const version = (JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'package.json'), 'utf8')) as { version: string }).version;
    const source = scriptSource(fs.readFileSync(file, 'latin1'));
    if (source === undefined) return undefined;
    const name = `binaryen-${version}-node-${process.version}-${process.arch}.v8cache`;
    // A code cache is code: the temp directory is only used in a directory
    // of this user's that no one else may write (a planted cache would run).
    const shared = path.join(path.dirname(path.dirname(file)), '.cache', 'warmboot');
    const uid = process.getuid?.();
    const own = uid === undefined ? undefined : path.join(os.tmpdir(), `warmboot-cache-${uid}`);
    const ownIsPrivate = (): boolean => {
      try {
        const st = fs.statSync(own!);
        return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
      } catch {
        return false;
      }
    };
    const places = own === undefined ? [shared] : [shared, own];
    let cachedData: Buffer | undefined;
    for (const d of places) {
      if (d === own && !ownIsPrivate()) break;
      try { cachedData = fs.readFileSync(path.join(d, name)); break; } catch { /* not there */ }
    }
    const script = new vm.Script(source, { filename: file, cachedData });
    const run = script.runInThisContext() as (metaUrl: string, nodeModuleNs: unknown) => Promise<Binaryen>;
    const B = await run(url.pathToFileURL(file).href, nodeModule);
    if (cachedData === undefined || script.cachedDataRejected === true) {
      binaryenLoadPath = 'cache-made';
      const data = script.createCachedData();
      for (const d of places) {
        try {
          fs.mkdirSync(d, { recursive: true, mode: 0o700 });
          if (d === own && !ownIsPrivate()) break;
          // Written aside and renamed: processes starting together never read half a file.
          const tmp = path.join(d, `${name}.${process.pid}.tmp`);
          fs.writeFileSync(tmp, data);
          fs.renameSync(tmp, path.join(d, name));
          break;
        } catch { /* not writable: the next place, or no cache */ }
      }
    } else binaryenLoadPath = 'cache-used';
    return B;
  } catch {
    return undefined;
  }
}

/**
 * Binaryen's ES module as the body of a function (metaUrl, nodeModule) that
 * resolves to the module's default export; undefined if its shape is not the
 * one expected.
 */
export function scriptSource(text: string): string | undefined {
  const end = Math.max(0, text.length - 200);
  const tail = /var (\w+)=await (\w+)\(\),(\$?\w+)=\1;export\{\3 as default\};\s*$/.exec(text.slice(end));
  const dynamicImport = 'await import("node:module")';
  if (!tail || text.indexOf(dynamicImport) < 0 || text.indexOf(dynamicImport) !== text.lastIndexOf(dynamicImport)) return undefined;
  const body = text.slice(0, end + tail.index).replace(dynamicImport, '__wbNodeModule').replaceAll('import.meta.url', '__wbMetaUrl');
  // Anything ES-only left would fail at run time rather than compile time (a
  // static import or export fails to compile, and the fallback takes over).
  // Plain searches: a regular expression over 15 MB costs more than the rest.
  if (body.includes('import(') || body.includes('import (') || body.includes('import.meta')) return undefined;
  return `(async function (__wbMetaUrl, __wbNodeModule) {${body}\nreturn ${tail[2]}();\n})`;
}
