// The interpreter's execution loop. Instructions are decoded once per code
// page into closures (handler-table.ts) and run straight down the page until
// one of them changes control flow, faults or asks to leave.
import { decode } from '../../a64/decoder.js';
import { CODE_PAGE_BYTES, type DecodedPage, type Handler, INSNS_PER_PAGE } from '../code-pages.js';
import { PSTATE_IL, SLOT_IRQ_LINES, SLOT_PC, SLOT_PSTATE } from '../state-layout.js';
import { EC_ILLEGAL_STATE, EC_PC_ALIGN, GUEST_FAULT, type Vcpu, VcpuExit } from '../vcpu.js';
import { buildHandler } from './handler-table.js';

const PC = 2 * SLOT_PC;
const PSTATE = 2 * SLOT_PSTATE;
const IRQ_LINES = 2 * SLOT_IRQ_LINES;

function decodeAt(c: Vcpu, page: DecodedPage, pageHost: number, idx: number): Handler {
  const word = c.dv.getUint32(pageHost + idx * 4, true);
  const h = buildHandler(decode(word, c.features));
  page.handlers[idx] = h;
  return h;
}

/**
 * Called at each block start (the first instruction run after a taken branch,
 * an exception or a page crossing) with the host offset of the PC; returning
 * true stops the loop there (the JIT takes over: jit/engine.ts).
 */
export type BlockStartHook = (c: Vcpu, host: number) => boolean;

/**
 * Runs up to `budget` instructions. Returns why it stopped; the PC then
 * points at the next instruction to execute. When `onBlockStart` stops the
 * loop the result is BudgetExhausted.
 */
export function execute(c: Vcpu, budget: number, onBlockStart?: BlockStartHook): VcpuExit {
  const r = c.r;
  const checked = c.tracer !== undefined || c.breakpoint !== undefined;
  let remaining = budget;
  c.exit = VcpuExit.None;
  c.breakpointHit = false;
  while (remaining > 0) {
    if (c.exit !== VcpuExit.None) return c.exit;
    // Interrupts are taken between straight-line runs: after a taken branch,
    // an exception return, a DAIF or GIC register write (each ends the run)
    // or a page end, so an unmasked interrupt waits at most one page.
    if ((r[IRQ_LINES] & ~r[PSTATE]) !== 0) c.takePendingInterrupt();
    const pcLo = r[PC], pcHi = r[PC + 1];
    if ((pcLo & 3) !== 0) {
      c.takeException(EC_PC_ALIGN, 0, pcLo, pcHi, pcLo, pcHi);
      continue;
    }
    if ((r[PSTATE] & PSTATE_IL) !== 0) {
      c.takeException(EC_ILLEGAL_STATE, 0, pcLo, pcHi);
      continue;
    }
    const host = c.fetchOffset(pcLo, pcHi);
    if (host < 0) continue;
    c.runStart = pcLo;
    if (onBlockStart !== undefined && onBlockStart(c, host)) break;
    const pageHost = host - (host & (CODE_PAGE_BYTES - 1));
    // Loops branch back into the page they are on: skip the index lookup then.
    let page = c.lastPage;
    if (pageHost !== c.lastPageHost || !page.valid) {
      page = c.codePages.page(pageHost / CODE_PAGE_BYTES);
      c.lastPage = page;
      c.lastPageHost = pageHost;
    }
    const handlers = page.handlers;
    const pageLo = pcLo - (host & (CODE_PAGE_BYTES - 1));
    let idx = (host & (CODE_PAGE_BYTES - 1)) >>> 2;
    let done = 0;
    try {
      for (;;) {
        const pc = (pageLo + (idx << 2)) | 0;
        r[PC] = pc;
        if (checked && checkedStop(c, pc, r[PC + 1], pageHost + idx * 4)) {
          remaining = 0;
          break;
        }
        let h = handlers[idx];
        if (h === undefined) h = decodeAt(c, page, pageHost, idx);
        done++;
        if (h(c) === true) break;
        idx++;
        if (!page.valid || idx === INSNS_PER_PAGE || done >= remaining) {
          // Leave the page in order: the next PC may need a new translation.
          const lo = (pageLo >>> 0) + (idx << 2);
          r[PC] = lo | 0;
          if (lo >= 0x100000000) r[PC + 1] = (r[PC + 1] + 1) | 0;
          break;
        }
      }
    } catch (e) {
      if (e !== GUEST_FAULT) throw e;
      done--; // the faulting instruction did not retire
    }
    remaining -= done;
    c.retired += done;
  }
  if (c.exit !== VcpuExit.None) return c.exit;
  return c.breakpointHit ? VcpuExit.Breakpoint : VcpuExit.BudgetExhausted;
}

function checkedStop(c: Vcpu, pcLo: number, pcHi: number, host: number): boolean {
  if (c.breakpoint !== undefined) {
    const pc = BigInt(pcLo >>> 0) | (BigInt(pcHi >>> 0) << 32n);
    if (pc === c.breakpoint) {
      c.breakpointHit = true;
      return true;
    }
  }
  if (c.tracer) c.tracer(BigInt(pcLo >>> 0) | (BigInt(pcHi >>> 0) << 32n), c.dv.getUint32(host, true));
  return false;
}
