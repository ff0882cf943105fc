/**
 * Test helpers for the board tests: running dtc and QEMU (the oracles, which
 * no one here wrote) and reading dtc's text output back into a tree.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEBIAN_PACKAGE: Record<string, string> = {
  dtc: 'device-tree-compiler',
  'qemu-system-aarch64': 'qemu-system-arm',
};

/**
 * Fails (never skips) when an oracle is missing, naming the Debian package
 * that provides it, so a missing tool cannot pass for a passing test.
 */
export function requireTool(cmd: 'dtc' | 'qemu-system-aarch64'): void {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const pkg = DEBIAN_PACKAGE[cmd]!;
    throw new Error(`${cmd} is not available: install the Debian package ${pkg} (apt-get install -y ${pkg})`);
  }
}

export interface DtcResult {
  dts: string;
  stderr: string;
}

/** Decompiles a blob with dtc. */
export function dtcDecompile(dtb: Uint8Array): DtcResult {
  requireTool('dtc');
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-'], { input: dtb, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`dtc failed (status ${r.status}): ${r.stderr}`);
  return { dts: r.stdout, stderr: r.stderr };
}

/** Compiles dts source to a blob with dtc. */
export function dtcCompile(dts: string): { dtb: Uint8Array; stderr: string } {
  requireTool('dtc');
  const r = spawnSync('dtc', ['-I', 'dts', '-O', 'dtb', '-'], { input: dts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`dtc failed (status ${r.status}): ${r.stderr.toString()}`);
  return { dtb: new Uint8Array(r.stdout), stderr: r.stderr.toString() };
}

export interface QemuDumpOptions {
  ramMiB: number;
  cpus: number;
  gicVersion: 2 | 3;
  /** smc is what QEMU uses when the guest owns EL2 (virtualization=on). */
  psciMethod: 'hvc' | 'smc';
  bootargs?: string;
  /** Contents of an initrd to pass with -initrd. */
  initrd?: Uint8Array;
  /** Contents of the -kernel file; a kernel is needed for -append and -initrd. */
  kernel?: Uint8Array;
}

/** Lets QEMU's virt board write its device tree for these options, and returns it. */
export function qemuDumpDtb(o: QemuDumpOptions): Uint8Array {
  requireTool('qemu-system-aarch64');
  const dir = mkdtempSync(join(tmpdir(), 'warmboot-qemu-'));
  try {
    const dtbPath = join(dir, 'virt.dtb');
    const machine = [`virt`, `gic-version=${o.gicVersion}`, `dumpdtb=${dtbPath}`];
    if (o.psciMethod === 'smc') machine.push('virtualization=on');
    const args = ['-M', machine.join(','), '-cpu', 'cortex-a57', '-smp', String(o.cpus), '-m', `${o.ramMiB}M`,
      '-nographic', '-nodefaults'];
    const kernel = o.kernel ?? (o.bootargs !== undefined || o.initrd ? new Uint8Array(4096) : undefined);
    if (kernel) {
      writeFileSync(join(dir, 'kernel'), kernel);
      args.push('-kernel', join(dir, 'kernel'));
    }
    if (o.initrd) {
      writeFileSync(join(dir, 'initrd'), o.initrd);
      args.push('-initrd', join(dir, 'initrd'));
    }
    if (o.bootargs !== undefined) args.push('-append', o.bootargs);
    const r = spawnSync('qemu-system-aarch64', args, { encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`qemu-system-aarch64 ${args.join(' ')} failed: ${r.stderr}`);
    return new Uint8Array(readFileSync(dtbPath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Reading dtc's dts output.

export interface DtsNode {
  path: string;
  props: Map<string, Uint8Array>;
}

export interface DtsTree {
  nodes: Map<string, DtsNode>;
  /** Node paths in document order. */
  order: string[];
  memreserve: Array<[bigint, bigint]>;
}

function unescapeDtsString(body: string): number[] {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out.push(...enc.encode(c));
      continue;
    }
    const n = body[++i]!;
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, v: 11, f: 12, '\\': 92, '"': 34, "'": 39 };
    if (n in simple) out.push(simple[n]!);
    else if (n === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 1))![0];
      out.push(parseInt(m, 16));
      i += m.length;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out.push(parseInt(m, 8));
      i += m.length - 1;
    } else throw new Error(`unknown escape \\${n} in dts string`);
  }
  return out;
}

/** Turns a dts property value (everything between '=' and ';') into bytes. */
export function dtsValueBytes(text: string): Uint8Array {
  const out: number[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === ',' || c === '\t') {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out.push(...unescapeDtsString(s.slice(i + 1, j)), 0);
      i = j + 1;
    } else if (c === '<') {
      const j = s.indexOf('>', i);
      for (const tok of s.slice(i + 1, j).trim().split(/\s+/).filter(Boolean)) {
        const v = Number(BigInt(tok));
        out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
      }
      i = j + 1;
    } else if (c === '[') {
      const j = s.indexOf(']', i);
      const hexDigits = s.slice(i + 1, j).replace(/\s+/g, '');
      for (let k = 0; k < hexDigits.length; k += 2) out.push(parseInt(hexDigits.slice(k, k + 2), 16));
      i = j + 1;
    } else {
      throw new Error(`cannot read dts value: ${text}`);
    }
  }
  return new Uint8Array(out);
}

export function parseDts(dts: string): DtsTree {
  const nodes = new Map<string, DtsNode>();
  const order: string[] = [];
  const memreserve: Array<[bigint, bigint]> = [];
  const stack: string[] = [];
  for (const raw of dts.split('\n')) {
    const line = raw.trim();
    if (line === '' || line === '/dts-v1/;') continue;
    let m: RegExpExecArray | null;
    if ((m = /^\/memreserve\/\s+(\S+)\s+(\S+);$/.exec(line))) {
      memreserve.push([BigInt(m[1]!), BigInt(m[2]!)]);
    } else if ((m = /^(\S+) \{$/.exec(line))) {
      const name = m[1]!;
      const parent = stack[stack.length - 1];
      const path = parent === undefined ? '/' : parent === '/' ? `/${name}` : `${parent}/${name}`;
      if (parent === undefined && name !== '/') throw new Error(`dts: first node is ${name}, expected /`);
      stack.push(path);
      nodes.set(path, { path, props: new Map() });
      order.push(path);
    } else if (line === '};') {
      stack.pop();
    } else if ((m = /^([^\s=]+)\s*=\s*(.*);$/.exec(line))) {
      nodes.get(stack[stack.length - 1]!)!.props.set(m[1]!, dtsValueBytes(m[2]!));
    } else if ((m = /^([^\s=]+);$/.exec(line))) {
      nodes.get(stack[stack.length - 1]!)!.props.set(m[1]!, new Uint8Array(0));
    } else {
      throw new Error(`dts: cannot read line: ${raw}`);
    }
  }
  if (stack.length !== 0) throw new Error('dts: unbalanced braces');
  return { nodes, order, memreserve };
}

export function cells(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(dv.getUint32(i, false));
  return out;
}

export function u64s(b: Uint8Array): bigint[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: bigint[] = [];
  for (let i = 0; i + 8 <= b.length; i += 8) out.push(dv.getBigUint64(i, false));
  return out;
}

export function strings(b: Uint8Array): string[] {
  const text = new TextDecoder().decode(b);
  return text.endsWith('\0') ? text.slice(0, -1).split('\0') : [text];
}

export function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export interface QemuBootOptions {
  ramMiB: number;
  kernel: Uint8Array;
  initrd?: Uint8Array;
}

export interface TbState {
  pc: bigint;
  x: bigint[];
}

/**
 * Boots the virt board with a -kernel that must end by calling PSCI
 * SYSTEM_OFF, logging the vcpu registers at the start of every translated
 * block (-d cpu,nochain). This is how QEMU reveals where it put the kernel
 * (the PC it jumps to) and the DTB (x0 at that point).
 */
export function qemuBootTrace(o: QemuBootOptions): TbState[] {
  requireTool('qemu-system-aarch64');
  const dir = mkdtempSync(join(tmpdir(), 'warmboot-qemu-'));
  try {
    const log = join(dir, 'cpu.log');
    writeFileSync(join(dir, 'kernel'), o.kernel);
    const args = ['-M', 'virt', '-cpu', 'cortex-a57', '-m', `${o.ramMiB}M`, '-nographic', '-nodefaults',
      '-kernel', join(dir, 'kernel'), '-d', 'cpu,nochain', '-D', log];
    if (o.initrd) {
      writeFileSync(join(dir, 'initrd'), o.initrd);
      args.push('-initrd', join(dir, 'initrd'));
    }
    const r = spawnSync('qemu-system-aarch64', args, { encoding: 'utf8', timeout: 30_000 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`qemu-system-aarch64 ${args.join(' ')} failed: ${r.stderr}`);
    const states: TbState[] = [];
    let cur: TbState | undefined;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const pc = /PC=([0-9a-f]{16})/.exec(line);
      if (pc) {
        cur = { pc: BigInt(`0x${pc[1]}`), x: [] };
        states.push(cur);
      }
      if (!cur) continue;
      for (const m of line.matchAll(/X(\d\d)=([0-9a-f]{16})/g)) cur.x[Number(m[1])] = BigInt(`0x${m[2]}`);
    }
    return states;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Warnings from compiling decompiled source, minus the one class that comes
 * from decompiling itself: a blob keeps no record of which cells were phandle
 * references, so the regenerated source has bare numbers where dtc's checks
 * want &labels. The blob-level checks (dtcDecompile) see the real phandles.
 */
export function sourceWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !/is not a phandle reference$/.test(l));
}
