// The stage-1 MMU of the EL1&0 regime: walks in every granule and VA size,
// TTBR0 and TTBR1, blocks and pages, permissions, access flag, address size
// and external-abort faults with their syndromes, TLB maintenance, ASIDs,
// AT and PAR_EL1, LDTR/STTR, alignment on Device memory, TBI and context
// synchronisation. Expected values come from the Arm ARM: fault status
// encodings (DFSC/IFSC: address size 0b0000LL, translation 0b0001LL, access
// flag 0b0010LL, permission 0b0011LL, external abort on walk 0b0101LL,
// alignment 0b100001), ESR layout (EC, IL, ISS with WnR bit 6 and CM bit 8)
// and the PAR_EL1 formats.
import { describe, expect, it } from 'vitest';
import type { Vcpu } from '../../src/cpu/vcpu.js';
import type { VirtualMachine } from '../../runtime/virtual-machine.js';
import { assembleOne } from '../asm/a64-assembler.js';
import { CODE_BASE, DATA_BASE, run, runProgram, type RunSetup } from './cpu-harness.js';
import { esr, VEC_CUR_SPX, VEC_LOWER_A64, withVectors } from './helpers.js';
import {
  AF, AP_EL0, AP_RO, APTABLE_NO_EL0, APTABLE_RO, ATTR_DEVICE, ATTR_NC, attrIndx, type GranuleKiB, MAIR, movImm, NG,
  PageTables, PXN, PXN_TABLE, SH_INNER, TableAllocator, tcr, UXN,
} from './page-tables.js';
import { hex } from './reference.js';

/** Where the tests build tables (identity-mapped, so guest code can edit them). */
const TABLES = 0x4080_0000n;
const TABLES_SIZE = 0x20_0000n;
/** Physical pages the tests map at other addresses (64 KiB aligned, so every granule fits). */
const PA_A = 0x4040_0000n;
const PA_B = 0x4050_0000n;
const PA_C = 0x4060_0000n;
const CODE_SIZE = 0x1_0000n;

const SCTLR_M = 1n;
const SCTLR_WXN = 1n << 19n;

const WNR = 1 << 6;
const CM = 1 << 8;
const EC_IABORT_LOWER = 0x20;
const EC_IABORT_SAME = 0x21;
const EC_DABORT_LOWER = 0x24;
const EC_DABORT_SAME = 0x25;
const EC_SVC = 0x15;
const EC_BRK = 0x3c;

const FSC_ADDRESS_SIZE = 0x00;
const FSC_TRANSLATION = 0x04;
const FSC_ACCESS_FLAG = 0x08;
const FSC_PERMISSION = 0x0c;
const FSC_EXTERNAL_WALK = 0x14;
const FSC_ALIGNMENT = 0x21;

/** No exception taken (X27 starts at -1). */
const NONE = hex(0xffff_ffff_ffff_ffffn);

interface Mmu {
  vm: VirtualMachine;
  cpu: Vcpu;
  alloc: TableAllocator;
  lo: PageTables;
  hi?: PageTables;
}

interface MmuOptions {
  granule?: GranuleKiB;
  vaBits?: number;
  /** Build TTBR1 tables for this many VA bits (otherwise TTBR1 walks are disabled with EPD1). */
  hiVaBits?: number;
  tcr?: Parameters<typeof tcr>[0];
  sctlr?: bigint;
  asid?: bigint;
  /** Leave SCTLR_EL1.M clear for the guest to set. */
  guestEnables?: boolean;
  build?: (m: Mmu) => void;
}

/**
 * A `prepare` that builds tables (code and the table region identity-mapped
 * at EL1 with EL0 allowed to execute the code), lets the test map more, and
 * turns the MMU on as KVM_SET_ONE_REG would: in effect from the first
 * instruction.
 */
function withMmu(o: MmuOptions = {}): RunSetup['prepare'] {
  return (cpu, vm) => {
    const g = o.granule ?? 4, va = o.vaBits ?? 48;
    const alloc = new TableAllocator(vm, TABLES, TABLES + TABLES_SIZE);
    const lo = new PageTables(vm, alloc, g, va);
    const hi = o.hiVaBits !== undefined ? new PageTables(vm, alloc, g, o.hiVaBits) : undefined;
    lo.mapPages(CODE_BASE, CODE_BASE, CODE_SIZE, AF);
    lo.mapPages(TABLES, TABLES, TABLES_SIZE, AF | UXN | PXN);
    o.build?.({ vm, cpu, alloc, lo, hi });
    cpu.setSysreg('MAIR_EL1', MAIR);
    cpu.setSysreg('TCR_EL1', tcr({
      t0sz: 64 - va, tg0: g, t1sz: 64 - (o.hiVaBits ?? 48), tg1: g, epd1: hi === undefined, ...o.tcr,
    }));
    cpu.setSysreg('TTBR0_EL1', lo.root | ((o.asid ?? 0n) << 48n));
    if (hi) cpu.setSysreg('TTBR1_EL1', hi.root);
    cpu.setSysreg('SCTLR_EL1', cpu.sysreg('SCTLR_EL1') | (o.guestEnables ? 0n : SCTLR_M) | (o.sctlr ?? 0n));
  };
}

function writeU64(vm: VirtualMachine, pa: bigint, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  vm.writePhysical(Number(pa), b);
}

function readU64(vm: VirtualMachine, pa: bigint): bigint {
  const b = vm.readPhysical(Number(pa), 8);
  return new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
}

/** Runs `body` with vectors and the MMU set up; returns the vcpu and machine. */
function runMmu(body: string, o: MmuOptions = {}, handlers: Record<number, string> = {}): { cpu: Vcpu; vm: VirtualMachine; labels: Map<string, bigint> } {
  const res = runProgram(withVectors(body, handlers), { prepare: withMmu(o) });
  if (res.exit.reason !== 'breakpoint') {
    throw new Error(`did not reach the end: ${JSON.stringify(res.exit)} at pc 0x${res.cpu.pc.toString(16)}`);
  }
  return { cpu: res.cpu, vm: res.vm, labels: res.labels };
}

/** Enters EL0 at `el0:`; the EL0 code ends with SVC (or faults), both vectoring to the lower-EL entry. */
function atEl0(code: string): string {
  return `
  adr x9, el0
  msr elr_el1, x9
  msr spsr_el1, xzr
  eret
el0:
${code}
  svc #0
`;
}

function expectFault(cpu: Vcpu, vector: number, ec: number, iss: number, far?: bigint): void {
  expect(hex(cpu.getX(27))).toBe(hex(BigInt(vector)));
  expect(hex(cpu.sysreg('ESR_EL1'))).toBe(hex(esr(ec, iss)));
  if (far !== undefined) expect(hex(cpu.sysreg('FAR_EL1'))).toBe(hex(far));
}

const MARK = 0x1122_3344_5566_7788n;

describe('translation in every granule and VA size', () => {
  const sizes = [39, 42, 48];
  for (const granule of [4, 16, 64] as const) {
    for (const vaBits of sizes) {
      it(`${granule}K granule, ${vaBits}-bit VA: a page and a level-2 block, non-identity`, () => {
        const page = 3n << BigInt(vaBits - 2);
        const block = 1n << BigInt(vaBits - 1);
        const res = runMmu(`
${movImm('x1', page)}
          ldr x0, [x1, #0x18]
          str x0, [x1, #0x20]
${movImm('x2', block + (DATA_BASE - CODE_BASE))}
          ldr x3, [x2, #8]
        `, {
          granule, vaBits,
          build: ({ vm, lo }) => {
            lo.map(page, PA_A, AF);
            // A level-2 block (2 MiB, 32 MiB or 512 MiB) over the start of RAM.
            lo.map(block, CODE_BASE, AF, 2);
            writeU64(vm, PA_A + 0x18n, MARK + BigInt(granule * 100 + vaBits));
            writeU64(vm, DATA_BASE + 8n, MARK ^ 0xffn);
          },
        });
        expect(hex(res.cpu.getX(27))).toBe(NONE);
        expect(hex(res.cpu.getX(0))).toBe(hex(MARK + BigInt(granule * 100 + vaBits)));
        expect(hex(readU64(res.vm, PA_A + 0x20n))).toBe(hex(MARK + BigInt(granule * 100 + vaBits)));
        expect(hex(res.cpu.getX(3))).toBe(hex(MARK ^ 0xffn));
      });
    }
  }

  it('4K granule: a 1 GiB block at level 1', () => {
    const block = 0x80_0000_0000n;
    const res = runMmu(`
${movImm('x2', block + (DATA_BASE - CODE_BASE))}
      ldr x3, [x2]
    `, {
      build: ({ vm, lo }) => {
        lo.map(block, CODE_BASE, AF, 1);
        writeU64(vm, DATA_BASE, MARK);
      },
    });
    expect(hex(res.cpu.getX(3))).toBe(hex(MARK));
  });

  for (const hiVaBits of [39, 48]) {
    it(`TTBR1 translates high addresses (${hiVaBits}-bit upper range), data and instruction fetch`, () => {
      const hiData = BigInt.asUintN(64, -(1n << BigInt(hiVaBits))) + 0x1234_0000n;
      const hiCode = BigInt.asUintN(64, -(1n << BigInt(hiVaBits))) + 0x4000_0000n;
      const res = runMmu(`
${movImm('x1', hiData)}
        ldr x0, [x1, #8]
${movImm('x10', hiCode - CODE_BASE)}
        adr x9, high
        add x9, x9, x10
        br x9
      high:
        adr x5, high
        mov x6, #42
        adr x9, end
        sub x9, x9, x10
        br x9
      `, {
        hiVaBits,
        build: ({ vm, hi }) => {
          hi!.map(hiData, PA_B, AF);
          hi!.mapPages(hiCode, CODE_BASE, CODE_SIZE, AF);
          writeU64(vm, PA_B + 8n, MARK);
        },
      });
      expect(hex(res.cpu.getX(27))).toBe(NONE);
      expect(hex(res.cpu.getX(0))).toBe(hex(MARK));
      expect(res.cpu.getX(6)).toBe(42n);
      // The code ran at its high alias.
      expect(res.cpu.getX(5) >> 40n).toBe(hiCode >> 40n);
    });
  }

  it('the guest turns the MMU on with MSR SCTLR_EL1 and ISB, and off again', () => {
    // VA PA_A maps to PA_B: identity before and after, translated between.
    const res = runMmu(`
${movImm('x1', PA_A)}
      ldr x0, [x1]
      mrs x2, sctlr_el1
      orr x2, x2, #1
      msr sctlr_el1, x2
      isb
      ldr x3, [x1]
      bic x2, x2, #1
      msr sctlr_el1, x2
      isb
      ldr x4, [x1]
    `, {
      guestEnables: true,
      build: ({ vm, lo }) => {
        lo.map(PA_A, PA_B, AF);
        writeU64(vm, PA_A, 0xaaaan);
        writeU64(vm, PA_B, 0xbbbbn);
      },
    });
    expect(hex(res.cpu.getX(0))).toBe(hex(0xaaaan));
    expect(hex(res.cpu.getX(3))).toBe(hex(0xbbbbn));
    expect(hex(res.cpu.getX(4))).toBe(hex(0xaaaan));
  });

  it('exception entry and ERET synchronise context: new translation settings apply there', () => {
    // Two table sets map VA PA_A differently; the switch is made by MSR
    // without ISB, and observed in the SVC handler and after ERET.
    let second = 0n;
    const res = runMmu(`
${movImm('x1', PA_A)}
      mrs x20, ttbr0_el1
      ldr x0, [x1]
      msr ttbr0_el1, x21
      svc #0
      msr ttbr0_el1, x20
      adr x9, back
      msr elr_el1, x9
      mov x9, #5
      msr spsr_el1, x9
      eret
    back:
      ldr x3, [x1]
    `, {
      asid: 1n,
      build: ({ vm, cpu, alloc, lo }) => {
        lo.map(PA_A, PA_B, AF | NG);
        const t2 = new PageTables(vm, alloc, 4, 48);
        t2.mapPages(CODE_BASE, CODE_BASE, CODE_SIZE, AF);
        t2.map(PA_A, PA_C, AF | NG);
        second = t2.root | (2n << 48n);
        cpu.setX(21, second);
        writeU64(vm, PA_B, 0xbbbbn);
        writeU64(vm, PA_C, 0xccccn);
      },
    }, { [VEC_CUR_SPX]: '  ldr x2, [x1]\n  mrs x9, elr_el1\n  msr elr_el1, x9\n  eret' });
    expect(hex(res.cpu.getX(0))).toBe(hex(0xbbbbn));
    expect(hex(res.cpu.getX(2))).toBe(hex(0xccccn));
    expect(hex(res.cpu.getX(3))).toBe(hex(0xbbbbn));
    expect(second).not.toBe(0n);
  });
});

describe('translation faults, address size faults and external aborts on the walk', () => {
  const VA = 0x0000_0012_3456_7000n;
  const mapped = (): MmuOptions['build'] => ({ lo }) => lo.map(VA, PA_A, AF);

  it('a missing descriptor faults at its level (0 to 3), with FAR and WnR', () => {
    for (const [bit, level] of [[39n, 0], [30n, 1], [21n, 2], [12n, 3]] as const) {
      const va = VA ^ (1n << bit);
      const res = runMmu(`${movImm('x1', va + 8n)}\nat:\n  ldr x0, [x1]`, { build: mapped() });
      expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_TRANSLATION + level, va + 8n);
      expect(hex(res.cpu.sysreg('ELR_EL1'))).toBe(hex(res.labels.get('at')!));
    }
    const st = runMmu(`${movImm('x1', VA + 0x1000n)}\n  str w0, [x1, #4]`, { build: mapped() });
    expectFault(st.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_TRANSLATION + 3), VA + 0x1004n);
  });

  it('from EL0 the data abort has EC 0x24 and goes to the lower-EL vector', () => {
    const res = runMmu(`${movImm('x1', VA + 0x2000n)}\n${atEl0('  ldrb w0, [x1, #3]')}`, { build: mapped() });
    expectFault(res.cpu, VEC_LOWER_A64, EC_DABORT_LOWER, FSC_TRANSLATION + 3, VA + 0x2003n);
  });

  it('a VA outside both ranges, or in a range whose walks are disabled (EPD1), is a level 0 translation fault', () => {
    const bad = 0x0001_0000_0000_0000n;
    let res = runMmu(`${movImm('x1', bad)}\n  ldr x0, [x1]`);
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_TRANSLATION, bad);
    const high = 0xffff_0000_0000_1000n;
    res = runMmu(`${movImm('x1', high)}\n  str x0, [x1]`);
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | FSC_TRANSLATION, high);
  });

  it('with a 39-bit range, address bits 63:39 must all equal bit 55', () => {
    const va = 0x80_0000_0000n; // bit 39 set: beyond T0SZ = 25
    const res = runMmu(`${movImm('x1', va)}\n  ldr x0, [x1]`, { vaBits: 39 });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_TRANSLATION, va);
  });

  it('an output address beyond TCR_EL1.IPS is an address size fault at the level of the descriptor', () => {
    const res = runMmu(`${movImm('x1', VA)}\n  ldr x0, [x1]`, {
      tcr: { ips: 0 }, // 32-bit physical addresses
      build: ({ lo }) => lo.map(VA, 0x1_4000_0000n, AF),
    });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_ADDRESS_SIZE + 3, VA);
  });

  it('a TTBR beyond TCR_EL1.IPS is an address size fault at level 0', () => {
    const high = 0xffff_8000_0000_0000n;
    const res = runMmu(`
${movImm('x2', 0x1_0000_0000n)}
      msr ttbr1_el1, x2
      isb
${movImm('x1', high)}
      ldr x0, [x1]
    `, { hiVaBits: 48, tcr: { ips: 0 } });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_ADDRESS_SIZE, high);
  });

  it('a walk that reaches no memory is a synchronous external abort on the walk at that level', () => {
    for (const [bits, level] of [[48, 0], [39, 1]] as const) {
      const va = BigInt.asUintN(64, -(1n << BigInt(bits))) + 0x5000n;
      const res = runMmu(`
${movImm('x2', 0x5000_0000n)}
        msr ttbr1_el1, x2
        isb
${movImm('x1', va)}
        ldr x0, [x1]
      `, { hiVaBits: bits });
      expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_EXTERNAL_WALK + level, va);
    }
  });
});
