// The vcpus' side of the compile worker (jit/compile-worker.ts): one worker
// per process, shared by every machine in it, started at the first request.
// The vcpu thread never blocks on it: it posts requests and, at points of its
// choosing, looks at a counter in shared memory that the worker bumps after
// each reply, and only then reads the port synchronously. Where there are no
// worker threads (a browser without them), `backgroundCompiler()` returns
// undefined and machines compile on their own thread.
import type { MessagePort as NodeMessagePort, Worker as NodeWorker } from 'node:worker_threads';
import type { ModuleTarget, RegionWords } from './batch-compiler.js';

export type CompileRequest =
  | { readonly kind: 'dispatcher'; readonly owner: number; readonly memoryPages: number; readonly shared: boolean; readonly hashBase: number }
  | { readonly kind: 'region'; readonly owner: number; readonly ticket: number; readonly target: ModuleTarget; readonly region: RegionWords };

export type CompileReply =
  | { readonly kind: 'dispatcher'; readonly owner: number; readonly module: WebAssembly.Module; readonly binaryenLoadMs: number }
  | {
    readonly kind: 'module'; readonly owner: number; readonly tickets: readonly number[]; readonly module: WebAssembly.Module;
    readonly trampolines: number[]; readonly instructions: number;
    readonly buildMs: number; readonly emitMs: number; readonly compileMs: number;
  }
  /** `requests`: how many of the owner's requests the failure answers. */
  | { readonly kind: 'error'; readonly owner: number; readonly requests: number; readonly message: string };

type WorkerThreads = typeof import('node:worker_threads');

const onNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
const threads: WorkerThreads | undefined = onNode ? await import('node:worker_threads') : undefined;
const fs = onNode ? await import('node:fs') : undefined;

/** Whoever receives replies: a JIT engine. */
export interface CompileClient {
  receive(reply: CompileReply): void;
}

export class BackgroundCompiler {
  private worker: NodeWorker | undefined;
  private port: NodeMessagePort | undefined;
  private ready: Int32Array | undefined;
  private received = 0;
  private nextOwner = 1;
  /**
   * Clients with requests in flight, and how many. Held only that long, so
   * a machine dropped by its embedder is collected once its replies are in
   * (a WeakRef would keep every machine made in one synchronous stretch alive
   * to its end, and their guest memories with them).
   */
  private readonly owners = new Map<number, { client: CompileClient; waiting: number }>();
  /** Set when the worker died; engines stop asking it and report this. */
  failure: string | undefined;

  constructor(private readonly t: WorkerThreads) {}

  /** Started with the first request: a process whose guests never get hot never loads Binaryen. */
  private start(): NodeMessagePort {
    const t = this.t;
    const url = workerUrl();
    // A missing script would only surface as an asynchronous 'error' event,
    // which a vcpu loop that never yields would not see: the JIT would
    // silently never arrive.
    if (fs && !fs.existsSync(url)) throw new Error(`jit: the compile worker's script ${url.pathname} is missing (build with npm run build)`);
    const { port1, port2 } = new t.MessageChannel();
    const ready = new SharedArrayBuffer(4);
    this.ready = new Int32Array(ready);
    this.port = port1;
    this.worker = new t.Worker(url, { workerData: { port: port2, ready }, transferList: [port2] });
    // The worker must never keep the process alive: machines finish without it.
    this.worker.unref();
    this.worker.on('error', (e) => {
      // Seen by the engines at their next request: they stop with this message.
      this.failure = e instanceof Error ? e.message : String(e);
    });
    return port1;
  }

  /** A fresh owner id for a client's requests. */
  newOwner(): number {
    return this.nextOwner++;
  }

  post(client: CompileClient, req: CompileRequest): void {
    const o = this.owners.get(req.owner);
    if (o) o.waiting++;
    else this.owners.set(req.owner, { client, waiting: 1 });
    (this.port ?? this.start()).postMessage(req);
  }

  /** Requests of `owner` not answered yet. */
  waiting(owner: number): number {
    return this.owners.get(owner)?.waiting ?? 0;
  }

  /**
   * Blocks until the worker answers something or `ms` pass, then delivers
   * what it answered. For embedders and tests that want compiled code in
   * place before they go on; the vcpu loop itself never waits.
   */
  wait(ms: number): void {
    if (this.ready === undefined) return;
    const seen = Atomics.load(this.ready, 0);
    if (seen <= this.received) Atomics.wait(this.ready, 0, seen, ms);
    this.poll();
  }

  /** Stops the worker (of a compiler made with createBackgroundCompiler); machines using it stop compiling. */
  close(): void {
    this.failure ??= 'closed by its owner';
    void this.worker?.terminate();
  }

  /** Delivers whatever the worker has answered since the last poll; cheap when nothing has. */
  poll(): void {
    if (this.ready === undefined || Atomics.load(this.ready, 0) <= this.received) return;
    const port = this.port!;
    for (let m = this.t.receiveMessageOnPort(port); m; m = this.t.receiveMessageOnPort(port)) {
      this.received++;
      const reply = m.message as CompileReply;
      const o = this.owners.get(reply.owner);
      if (!o) continue;
      o.waiting -= reply.kind === 'module' ? reply.tickets.length : reply.kind === 'error' ? reply.requests : 1;
      if (o.waiting <= 0) this.owners.delete(reply.owner);
      o.client.receive(reply);
    }
  }
}

/**
 * The worker's script. Under the test runner this module is TypeScript
 * source, which a worker cannot load; the build (`npm test` builds first)
 * has the JavaScript in dist/.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/jit/compile-worker.js', here) : new URL('./compile-worker.js', here);
}

let shared: BackgroundCompiler | undefined;

/** Whether this host can compile in a worker (Node's worker threads). */
export function canCompileInBackground(): boolean {
  return threads !== undefined;
}

/**
 * A compile worker of one's own (JitOptions.compiler), for an embedder that
 * wants machines not to share one; undefined where threads are not available.
 */
export function createBackgroundCompiler(): BackgroundCompiler | undefined {
  return threads ? new BackgroundCompiler(threads) : undefined;
}

/**
 * The process's compile worker, started on first use and shared by every
 * machine that names none (it holds no machine state: replies go by owner);
 * undefined where threads are not available.
 */
export function backgroundCompiler(): BackgroundCompiler | undefined {
  if (!threads) return undefined;
  shared ??= new BackgroundCompiler(threads);
  return shared;
}
