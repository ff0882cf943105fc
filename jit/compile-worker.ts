// The compile worker: loads Binaryen and turns region requests into compiled
// WebAssembly.Modules on the second core while the vcpus go on interpreting.
// Requests that queued up while it was busy are compiled together, one module
// per owner, so batches grow with the backlog and stay small when it is idle.
// Protocol: jit/background-compiler.ts.
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import v8 from 'node:v8';
import type { MessagePort } from 'node:worker_threads';
import { loadBinaryen, binaryenLoadMs } from './binaryen.js';
import { compileRegions, regionFromWords } from './batch-compiler.js';
import { buildDispatcher } from './dispatcher.js';
import type { CompileReply, CompileRequest } from './background-compiler.js';
import type { Feature } from '../src/a64/decode-table.js';

/** At most this many regions go into one module: bounds the latency of the first of them. */
const MAX_BATCH = 32;

const { port, ready } = workerData as { port: MessagePort; ready: SharedArrayBuffer };
const readyCount = new Int32Array(ready);
const queue: CompileRequest[] = [];
let busy = false;
const B = await loadBinaryen();
// V8 compiles Wasm functions lazily, at their first call: the vcpu thread
// would do the machine-code half of every compile. Eager compilation makes
// `new WebAssembly.Module` here do it (Liftoff; V8 still tiers hot code up in
// the background). Set only now: Binaryen's own 10 MB module stays lazy.
// The flag is process-wide; the vcpu thread compiles little else.
v8.setFlagsFromString('--no-wasm-lazy-compilation');

function reply(msg: CompileReply): void {
  port.postMessage(msg);
  // After the post: the vcpu thread polls this counter, then reads the port.
  Atomics.add(readyCount, 0, 1);
  Atomics.notify(readyCount, 0);
}

function drain(): void {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) queue.push(m.message as CompileRequest);
}

function serve(): void {
  if (busy) return;
  busy = true;
  try {
    for (drain(); queue.length > 0; drain()) {
      const first = queue.shift()!;
      let requests = 1;
      try {
        if (first.kind === 'dispatcher') {
          const bytes = buildDispatcher(B, first.memoryPages, first.shared, first.hashBase);
          reply({ kind: 'dispatcher', owner: first.owner, module: new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), binaryenLoadMs });
          continue;
        }
        const batch = [first];
        for (let i = 0; i < queue.length && batch.length < MAX_BATCH;) {
          const q = queue[i];
          if (q.kind === 'region' && q.owner === first.owner) {
            batch.push(q);
            queue.splice(i, 1);
          } else i++;
        }
        requests = batch.length;
        const features = new Set<Feature>(first.target.features);
        const out = compileRegions(B, first.target, batch.map((q) => regionFromWords((q as typeof first).region, features)));
        const t0 = performance.now();
        const module = new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>);
        reply({
          kind: 'module', owner: first.owner, tickets: batch.map((q) => (q as typeof first).ticket), module,
          trampolines: out.trampolines, instructions: out.instructions,
          buildMs: out.buildMs, emitMs: out.emitMs, compileMs: performance.now() - t0,
        });
      } catch (e) {
        reply({ kind: 'error', owner: first.owner, requests, message: e instanceof Error ? e.stack ?? e.message : String(e) });
      }
    }
  } finally {
    busy = false;
  }
}

port.on('message', (m: CompileRequest) => {
  queue.push(m);
  serve();
});
