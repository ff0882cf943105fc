// The dispatcher: a Wasm loop that goes from one translated block to the next
// without returning to TypeScript. It hashes (PC, context) into the table in
// shared memory and calls the region through the shared function table; a
// miss, an exit or a block the interpreter must run returns to the engine.
import { SLOT_PC } from '../src/cpu/state-layout.js';
import type { Binaryen } from './codegen.js';
import { PERM_X0, PERM_X1, Tlb } from '../src/cpu/tlb.js';
import { DTLB_ENTRIES, ITLB_ENTRIES } from '../src/cpu/vcpu.js';
import { CTX_MMU, HASH_ENTRIES, HASH_ENTRY_BYTES, JIT_CTX, JIT_TLB, JitCode } from './layout.js';

/** The instruction TLB follows the data TLB (src/cpu/vcpu.ts). */
const ITLB_OFFSET = Tlb.bytes(DTLB_ENTRIES);
if (HASH_ENTRY_BYTES !== 32) throw new Error('dispatcher: hash entries are 32 bytes');

export function buildDispatcher(B: Binaryen, memoryPages: number, shared: boolean, hashBase: number): Uint8Array {
  const m = new B.Module();
  try {
    m.setFeatures(B.Features.MVP | B.Features.SignExt | B.Features.Atomics | B.Features.MutableGlobals | B.Features.BulkMemory);
    m.setMemory(memoryPages, memoryPages, null, [], shared);
    m.addMemoryImport('0', 'env', 'memory', shared);
    m.addTable('regions', 1, 0xffffffff);
    m.addTableImport('regions', 'env', 'table');
    const i32 = B.i32;
    const L_STATE = 0, L_LO = 1, L_HI = 2, L_T = 3, L_CTX = 6, L_E = 7, L_V = 8, L_CODE = 9;
    const get = (l: number): number => m.local.get(l, i32);
    const c = (v: number): number => m.i32.const(v | 0);
    const body = m.loop('next', m.block(null, [
      m.local.set(L_LO, m.i32.load(8 * SLOT_PC, 4, get(L_STATE))),
      m.local.set(L_HI, m.i32.load(8 * SLOT_PC + 4, 4, get(L_STATE))),
      m.local.set(L_CTX, m.i32.load(JIT_CTX, 4, get(L_STATE))),
      // layout.ts hashKey.
      m.local.set(L_E, m.i32.add(c(hashBase), m.i32.shl(m.i32.and(
        m.i32.xor(
          m.i32.xor(m.i32.shr_u(get(L_LO), c(2)), m.i32.mul(get(L_HI), c(0x9e3779b1))),
          m.i32.xor(m.i32.mul(get(L_CTX), c(0x85ebca6b)), m.i32.shr_u(get(L_LO), c(17))),
        ),
        c(HASH_ENTRIES - 1),
      ), c(5)))),
      m.if(
        m.i32.or(
          m.i32.ne(m.i32.load(0, 4, get(L_E)), get(L_LO)),
          m.i32.or(m.i32.ne(m.i32.load(4, 4, get(L_E)), get(L_HI)), m.i32.ne(m.i32.load(8, 4, get(L_E)), get(L_CTX))),
        ),
        m.return(c(JitCode.Miss)),
      ),
      // Stage 1 on: the PC's page must still map (executably) to the page the
      // code was read from; the instruction TLB says so, as the interpreter's fetch does.
      m.if(m.i32.and(get(L_CTX), c(CTX_MMU)), m.block(null, [
        m.local.set(L_T, m.i32.add(
          m.i32.add(m.i32.load(JIT_TLB, 4, get(L_STATE)), c(ITLB_OFFSET)),
          m.i32.shl(m.i32.and(m.i32.shr_u(get(L_LO), c(12)), c(ITLB_ENTRIES - 1)), c(2)),
        )),
        m.if(
          m.i32.or(
            m.i32.or(
              m.i32.ne(m.i32.load(0, 4, get(L_T)), m.i32.and(get(L_LO), c(~0xfff))),
              m.i32.ne(m.i32.load(4 * ITLB_ENTRIES, 4, get(L_T)), get(L_HI)),
            ),
            m.i32.or(
              m.i32.eqz(m.i32.and(m.i32.load(8 * ITLB_ENTRIES, 4, get(L_T)),
                m.select(m.i32.and(get(L_CTX), c(3)), c(PERM_X1), c(PERM_X0)))),
              m.i32.ne(m.i32.load(24 * ITLB_ENTRIES, 4, get(L_T)), m.i32.load(16, 4, get(L_E))),
            ),
          ),
          m.return(c(JitCode.Miss)),
        ),
      ])),
      m.local.set(L_V, m.i32.load(12, 4, get(L_E))),
      m.local.set(L_CODE, m.call_indirect('regions', m.i32.shr_u(get(L_V), c(10)),
        [get(L_STATE), m.i32.and(get(L_V), c(1023))], B.createType([i32, i32]), i32)),
      m.br('next', m.i32.eqz(get(L_CODE))),
      m.return(get(L_CODE)),
    ]));
    m.addFunction('dispatch', B.createType([i32]), i32, [i32, i32, i32, i32, i32, i32, i32, i32, i32], m.block(null, [body, m.unreachable()]));
    m.addFunctionExport('dispatch', 'dispatch');
    // Not m.validate(): its first call costs 5 ms of Binaryen's start-up, and
    // V8 validates the module when it is compiled.
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}
