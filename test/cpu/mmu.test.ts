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
import { findCpuModel } from '../../src/cpu/cpu-models.js';
import type { Vcpu } from '../../src/cpu/vcpu.js';
import { VirtualMachine } from '../../runtime/virtual-machine.js';
import { assembleOne, assembleProgram } from '../asm/a64-assembler.js';
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
  /** Attributes of the identity-mapped code (default: AF, EL1 read/write, executable at EL1 and EL0). */
  codeAttrs?: bigint;
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
    lo.mapPages(CODE_BASE, CODE_BASE, CODE_SIZE, o.codeAttrs ?? AF);
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

describe('permissions', () => {
  const VA = 0x0000_0020_0000_0000n;
  const RW_EL1 = VA; // AP = 00
  const RW_ALL = VA + 0x1000n; // AP = 01
  const RO_EL1 = VA + 0x2000n; // AP = 10
  const RO_ALL = VA + 0x3000n; // AP = 11
  const pages: MmuOptions['build'] = ({ vm, lo }) => {
    lo.map(RW_EL1, PA_A, AF | UXN | PXN);
    lo.map(RW_ALL, PA_A + 0x1000n, AF | AP_EL0 | UXN | PXN);
    lo.map(RO_EL1, PA_A + 0x2000n, AF | AP_RO | UXN | PXN);
    lo.map(RO_ALL, PA_A + 0x3000n, AF | AP_RO | AP_EL0 | UXN | PXN);
    for (let k = 0n; k < 4n; k++) writeU64(vm, PA_A + k * 0x1000n, 0x100n + k);
  };

  it('EL1 reads every page, writes only AP[2] = 0 ones; a write to read-only is a permission fault with WnR', () => {
    let res = runMmu(`
${movImm('x1', VA)}
      ldr x0, [x1]
      ldr x2, [x1, #0x1000]
      ldr x3, [x1, #0x2000]
      ldr x4, [x1, #0x3000]
      str x0, [x1, #8]
      str x0, [x1, #0x1008]
    `, { build: pages });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect([res.cpu.getX(0), res.cpu.getX(2), res.cpu.getX(3), res.cpu.getX(4)]).toEqual([0x100n, 0x101n, 0x102n, 0x103n]);
    for (const page of [RO_EL1, RO_ALL]) {
      res = runMmu(`${movImm('x1', page)}\n  strh w0, [x1, #6]`, { build: pages });
      expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_PERMISSION + 3), page + 6n);
    }
  });

  it('EL0 reads only AP[1] = 1 pages and writes only AP = 01 ones', () => {
    const ok = runMmu(`${movImm('x1', VA)}\n${atEl0('  ldr x0, [x1, #0x1000]\n  ldr x2, [x1, #0x3000]\n  str x0, [x1, #0x1008]')}`, { build: pages });
    expectFault(ok.cpu, VEC_LOWER_A64, EC_SVC, 0);
    expect([ok.cpu.getX(0), ok.cpu.getX(2)]).toEqual([0x101n, 0x103n]);
    for (const page of [RW_EL1, RO_EL1]) {
      const res = runMmu(`${movImm('x1', page)}\n${atEl0('  ldr w0, [x1, #4]')}`, { build: pages });
      expectFault(res.cpu, VEC_LOWER_A64, EC_DABORT_LOWER, FSC_PERMISSION + 3, page + 4n);
    }
    const res = runMmu(`${movImm('x1', RO_ALL)}\n${atEl0('  str x0, [x1]')}`, { build: pages });
    expectFault(res.cpu, VEC_LOWER_A64, EC_DABORT_LOWER, WNR | (FSC_PERMISSION + 3), RO_ALL);
  });

  it('a permission fault on a block reports the block level', () => {
    const block = 0x0000_0040_0000_0000n;
    const res = runMmu(`${movImm('x1', block + 0x12_3450n)}\n  str x0, [x1]`, {
      build: ({ lo }) => lo.map(block, CODE_BASE, AF | AP_RO, 2),
    });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_PERMISSION + 2), block + 0x12_3450n);
  });

  it('APTable limits the levels below: APTable[0] denies EL0, APTable[1] makes everything read-only', () => {
    const build: MmuOptions['build'] = ({ lo }) => {
      lo.map(VA, PA_A, AF | AP_EL0 | UXN | PXN);
      lo.setTableBits(VA, 2, APTABLE_NO_EL0); // the level-2 entry pointing at the page's table
    };
    const el0 = runMmu(`${movImm('x1', VA)}\n${atEl0('  ldr x0, [x1]')}`, { build });
    expectFault(el0.cpu, VEC_LOWER_A64, EC_DABORT_LOWER, FSC_PERMISSION + 3, VA);
    const el1 = runMmu(`${movImm('x1', VA)}\n  ldr x0, [x1]\n  str x0, [x1, #8]`, { build });
    expect(hex(el1.cpu.getX(27))).toBe(NONE);
    const ro = runMmu(`${movImm('x1', VA)}\n  ldr x0, [x1]\n  str x0, [x1, #8]`, {
      build: ({ lo }) => {
        lo.map(VA, PA_A, AF | UXN | PXN);
        lo.setTableBits(VA, 1, APTABLE_RO);
      },
    });
    expectFault(ro.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_PERMISSION + 3), VA + 8n);
  });
});

describe('instruction fetch permissions', () => {
  const VA = 0x0000_0030_0000_0000n;
  const BRK_IMM = 0x77;
  /** A page of code at PA_B: x0 = 7, then BRK #0x77 (EC 0x3c) to show it ran. */
  const code = (vm: VirtualMachine): void => {
    const words = new Uint32Array([assembleOne('movz x0, #7'), assembleOne(`brk #${BRK_IMM}`)]);
    vm.writePhysical(Number(PA_B), new Uint8Array(words.buffer));
  };
  const jump = `${movImm('x9', VA)}\njump:\n  br x9`;

  it('EL1 executes a page with PXN clear (BRK shows it ran)', () => {
    const res = runMmu(jump, { build: ({ vm, lo }) => { code(vm); lo.map(VA, PA_B, AF | AP_RO | UXN); } });
    expectFault(res.cpu, VEC_CUR_SPX, EC_BRK, BRK_IMM);
    expect(res.cpu.getX(0)).toBe(7n);
  });

  it('EL1 fetching from a PXN page takes an instruction abort (EC 0x21) with FAR = ELR = the target', () => {
    const res = runMmu(jump, { build: ({ vm, lo }) => { code(vm); lo.map(VA, PA_B, AF | PXN); } });
    expectFault(res.cpu, VEC_CUR_SPX, EC_IABORT_SAME, FSC_PERMISSION + 3, VA);
    expect(hex(res.cpu.sysreg('ELR_EL1'))).toBe(hex(VA));
  });

  it('EL1 cannot execute what EL0 can write (implicit PXN), whatever PXN says', () => {
    const res = runMmu(jump, { build: ({ vm, lo }) => { code(vm); lo.map(VA, PA_B, AF | AP_EL0); } });
    expectFault(res.cpu, VEC_CUR_SPX, EC_IABORT_SAME, FSC_PERMISSION + 3, VA);
  });

  it('SCTLR_EL1.WXN makes writable memory execute-never', () => {
    // The test's own code must be read-only to run at all.
    const wxn = { sctlr: SCTLR_WXN, codeAttrs: AF | AP_RO };
    let res = runMmu(jump, { ...wxn, build: ({ vm, lo }) => { code(vm); lo.map(VA, PA_B, AF); } });
    expectFault(res.cpu, VEC_CUR_SPX, EC_IABORT_SAME, FSC_PERMISSION + 3, VA);
    res = runMmu(jump, { ...wxn, build: ({ vm, lo }) => { code(vm); lo.map(VA, PA_B, AF | AP_RO); } });
    expectFault(res.cpu, VEC_CUR_SPX, EC_BRK, BRK_IMM);
    expect(res.cpu.getX(0)).toBe(7n);
  });

  it('PXNTable in a table descriptor makes the levels below privileged-execute-never', () => {
    const res = runMmu(jump, {
      build: ({ vm, lo }) => {
        code(vm);
        lo.map(VA, PA_B, AF | AP_RO);
        lo.setTableBits(VA, 1, PXN_TABLE);
      },
    });
    expectFault(res.cpu, VEC_CUR_SPX, EC_IABORT_SAME, FSC_PERMISSION + 3, VA);
  });

  it('EL0 fetching from a UXN page takes EC 0x20; EL0 executes a page it cannot read if UXN is clear', () => {
    const enter = (target: bigint): string => `
${movImm('x9', target)}
      msr elr_el1, x9
      msr spsr_el1, xzr
      eret`;
    let res = runMmu(enter(VA), { build: ({ vm, lo }) => { code(vm); lo.map(VA, PA_B, AF | AP_EL0 | AP_RO | UXN); } });
    expectFault(res.cpu, VEC_LOWER_A64, EC_IABORT_LOWER, FSC_PERMISSION + 3, VA);
    res = runMmu(enter(VA), { build: ({ vm, lo }) => { code(vm); lo.map(VA, PA_B, AF | PXN); } });
    expectFault(res.cpu, VEC_LOWER_A64, EC_BRK, BRK_IMM);
    expect(res.cpu.getX(0)).toBe(7n);
  });

  it('running straight off the end of an executable page into an execute-never one faults at the boundary', () => {
    const res = runMmu(`${movImm('x9', VA + 0xff8n)}\n  br x9`, {
      build: ({ vm, lo }) => {
        const words = new Uint32Array([assembleOne('movz x0, #1'), assembleOne('movz x1, #2'), assembleOne('movz x2, #3')]);
        vm.writePhysical(Number(PA_B + 0xff8n), new Uint8Array(words.buffer));
        lo.map(VA, PA_B, AF | AP_RO | UXN);
        lo.map(VA + 0x1000n, PA_B + 0x1000n, AF | AP_RO | PXN | UXN);
      },
    });
    expectFault(res.cpu, VEC_CUR_SPX, EC_IABORT_SAME, FSC_PERMISSION + 3, VA + 0x1000n);
    expect([res.cpu.getX(0), res.cpu.getX(1)]).toEqual([1n, 2n]);
  });
});

describe('access flag', () => {
  const VA = 0x0000_0050_0000_0000n;

  it('AF = 0 is an access flag fault at the level of the page or block, for data and instruction fetch', () => {
    let res = runMmu(`${movImm('x1', VA)}\n  ldr x0, [x1]`, { build: ({ lo }) => lo.map(VA, PA_A, 0n) });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_ACCESS_FLAG + 3, VA);
    res = runMmu(`${movImm('x1', VA + 0x4_5678n)}\n  str x0, [x1]`, { build: ({ lo }) => lo.map(VA, CODE_BASE, 0n, 2) });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_ACCESS_FLAG + 2), VA + 0x4_5678n);
    res = runMmu(`${movImm('x9', VA)}\n  br x9`, { build: ({ lo }) => lo.map(VA, PA_A, AP_RO) });
    expectFault(res.cpu, VEC_CUR_SPX, EC_IABORT_SAME, FSC_ACCESS_FLAG + 3, VA);
  });

  it('the access flag fault comes before a permission fault', () => {
    const res = runMmu(`${movImm('x1', VA)}\n  str x0, [x1]`, { build: ({ lo }) => lo.map(VA, PA_A, AP_RO) });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_ACCESS_FLAG + 3), VA);
  });
});

describe('TLB maintenance', () => {
  const VA = 0x0000_0060_0000_0000n;

  /**
   * Loads VA (caching it), rewrites its level-3 descriptor to map PA_B,
   * runs the maintenance sequence with `tlbi`, and loads again into X4.
   */
  function remap(tlbi: string, o: { attrs?: bigint; asid?: bigint; va?: bigint; hi?: boolean } = {}) {
    const va = o.va ?? VA;
    const attrs = o.attrs ?? AF;
    let desc = 0n, newDesc = 0n;
    const prepare = withMmu({
      asid: o.asid, hiVaBits: o.hi ? 48 : undefined,
      build: ({ vm, lo, hi }) => {
        const t = o.hi ? hi! : lo;
        t.map(va, PA_A, attrs);
        desc = t.descriptorAddress(va, 3);
        newDesc = t.leaf(PA_B, 3, attrs);
        writeU64(vm, PA_A, 0xaaaan);
        writeU64(vm, PA_B, 0xbbbbn);
      },
    });
    {
      const res = runProgram(withVectors(`
${movImm('x1', va)}
        ldr x0, [x1]
        mov x2, x20
        mov x3, x21
        str x3, [x2]
        dsb ishst
${tlbi}
        dsb ish
        isb
        ldr x4, [x1]
      `), {
        prepare: (cpu, vm) => {
          prepare!(cpu, vm);
          cpu.setX(20, desc);
          cpu.setX(21, newDesc);
        },
      });
      expect(res.exit.reason).toBe('breakpoint');
      return res.cpu;
    }
  }
  const operand = (va: bigint, asid = 0n): bigint => ((va >> 12n) & ((1n << 44n) - 1n)) | (asid << 48n);

  it('every TLBI ...E1 operation makes a changed mapping visible', () => {
    const cases: [string, bigint][] = [
      ['vmalle1', 0n], ['vmalle1is', 0n],
      ['vae1', operand(VA)], ['vae1is', operand(VA)], ['vale1', operand(VA)], ['vale1is', operand(VA)],
      ['vaae1', operand(VA)], ['vaae1is', operand(VA)], ['vaale1', operand(VA)], ['vaale1is', operand(VA)],
    ];
    for (const [op, xt] of cases) {
      const cpu = remap(`${movImm('x5', xt)}\n  tlbi ${op}${op.startsWith('vmalle1') ? '' : ', x5'}`);
      expect(hex(cpu.getX(0)), op).toBe(hex(0xaaaan));
      expect(hex(cpu.getX(4)), op).toBe(hex(0xbbbbn));
    }
  });

  it('TLBI by VA and ASID, and by ASID, reach non-global entries of the current ASID', () => {
    for (const [op, xt] of [['vae1', operand(VA, 5n)], ['vale1is', operand(VA, 5n)], ['aside1', 5n << 48n], ['aside1is', 5n << 48n]] as const) {
      const cpu = remap(`${movImm('x5', xt)}\n  tlbi ${op}, x5`, { attrs: AF | NG, asid: 5n });
      expect(hex(cpu.getX(4)), op).toBe(hex(0xbbbbn));
    }
  });

  it('TLBI by VA takes VA[55:12]: it reaches TTBR1 addresses', () => {
    const high = 0xffff_8000_1234_5000n;
    const cpu = remap(`${movImm('x5', operand(high))}\n  tlbi vae1, x5`, { va: high, hi: true });
    expect(hex(cpu.getX(0))).toBe(hex(0xaaaan));
    expect(hex(cpu.getX(4))).toBe(hex(0xbbbbn));
  });

  it('TLBI by VA of any page of a block drops what was cached from the block', () => {
    const block = 0x0000_0070_0000_0000n;
    let desc = 0n, newDesc = 0n;
    const res = runProgram(withVectors(`
${movImm('x1', block)}
      ldr x0, [x1, #0x5000 - 0x4000]
      add x6, x1, #0x5000
      ldr x0, [x6]
      str x21, [x20]
      dsb ishst
${movImm('x5', operand(block + 0x1000n))}
      tlbi vae1, x5
      dsb ish
      isb
      ldr x4, [x6]
    `), {
      prepare: (cpu, vm) => {
        withMmu({
          build: ({ lo }) => {
            lo.map(block, 0x4000_0000n, AF, 2);
            desc = lo.descriptorAddress(block, 2);
            newDesc = lo.leaf(0x4020_0000n, 2, AF);
          },
        })!(cpu, vm);
        writeU64(vm, 0x4000_5000n, 0xaaaan);
        writeU64(vm, 0x4020_5000n, 0xbbbbn);
        cpu.setX(20, desc);
        cpu.setX(21, newDesc);
      },
    });
    expect(res.exit.reason).toBe('breakpoint');
    expect(hex(res.cpu.getX(0))).toBe(hex(0xaaaan));
    expect(hex(res.cpu.getX(4))).toBe(hex(0xbbbbn));
  });

  it('TLBI reaches cached instruction translations too', () => {
    const VA_CODE = 0x0000_0061_0000_0000n;
    let desc = 0n, newDesc = 0n;
    const res = runProgram(withVectors(`
${movImm('x9', VA_CODE)}
      blr x9
      mov x10, x0
      str x21, [x20]
      dsb ishst
${movImm('x5', operand(VA_CODE))}
      tlbi vae1, x5
      dsb ish
      isb
      blr x9
    `), {
      prepare: (cpu, vm) => {
        withMmu({
          build: ({ lo }) => {
            lo.map(VA_CODE, PA_A, AF | AP_RO);
            desc = lo.descriptorAddress(VA_CODE, 3);
            newDesc = lo.leaf(PA_B, 3, AF | AP_RO);
          },
        })!(cpu, vm);
        for (const [pa, n] of [[PA_A, 1], [PA_B, 2]] as const) {
          const words = new Uint32Array([assembleOne(`movz x0, #${n}`), assembleOne('ret')]);
          vm.writePhysical(Number(pa), new Uint8Array(words.buffer));
        }
        cpu.setX(20, desc);
        cpu.setX(21, newDesc);
      },
    });
    expect(res.exit.reason).toBe('breakpoint');
    expect(res.cpu.getX(10)).toBe(1n);
    expect(res.cpu.getX(0)).toBe(2n);
  });

  it('TLBI ...IS goes through the broadcastTlbi hook (the run loop routes it to every vcpu); the local forms do not', () => {
    const calls: [number, number, number][] = [];
    const res = runProgram(`
${movImm('x5', operand(VA, 3n))}
      tlbi vae1is, x5
      tlbi vmalle1is
      tlbi vae1, x5
      tlbi aside1is, x5
    `, {
      prepare: (cpu) => {
        cpu.broadcastTlbi = (op, lo, hi) => { calls.push([op, lo >>> 0, hi >>> 0]); cpu.tlbiLocal(op, lo, hi); };
      },
    });
    expect(res.exit.reason).toBe('breakpoint');
    const lo = Number(operand(VA, 3n) & 0xffff_ffffn), hi = Number(operand(VA, 3n) >> 32n);
    expect(calls).toEqual([[1, lo, hi], [0, 0, 0], [2, lo, hi]]);
  });
});

describe('ASIDs', () => {
  const VA = 0x0000_0080_0000_0000n;

  /** Two table sets mapping VA (not global) to PA_A and PA_B; X20/X21 hold their TTBR values. */
  function twoSpaces(asid1: bigint, asid2: bigint, o: { a1?: boolean; as16?: boolean; global?: boolean } = {}): RunSetup['prepare'] {
    return (cpu, vm) => {
      let t2root = 0n;
      withMmu({
        tcr: { a1: o.a1, as16: o.as16 },
        build: ({ vm: m, alloc, lo }) => {
          const g = o.global ? AF : AF | NG;
          lo.map(VA, PA_A, g);
          const t2 = new PageTables(m, alloc, 4, 48);
          t2.mapPages(CODE_BASE, CODE_BASE, CODE_SIZE, AF);
          t2.map(VA, PA_B, g);
          t2root = t2.root;
        },
      })!(cpu, vm);
      writeU64(vm, PA_A, 0xaaaan);
      writeU64(vm, PA_B, 0xbbbbn);
      const ttbr0 = cpu.sysreg('TTBR0_EL1');
      if (o.a1) {
        // The ASID lives in TTBR1 (whose walks stay disabled).
        cpu.setSysreg('TTBR1_EL1', asid1 << 48n);
        cpu.setX(20, ttbr0); cpu.setX(21, t2root);
        cpu.setX(22, asid1 << 48n); cpu.setX(23, asid2 << 48n);
      } else {
        cpu.setSysreg('TTBR0_EL1', ttbr0 | (asid1 << 48n));
        cpu.setX(20, ttbr0 | (asid1 << 48n)); cpu.setX(21, t2root | (asid2 << 48n));
      }
    };
  }

  it('switching TTBR0 to another ASID needs no TLBI: each ASID sees its own mapping', () => {
    const cpu = run(`
${movImm('x1', VA)}
      ldr x0, [x1]
      msr ttbr0_el1, x21
      isb
      ldr x2, [x1]
      msr ttbr0_el1, x20
      isb
      ldr x3, [x1]
    `, { prepare: twoSpaces(1n, 2n) });
    expect([cpu.getX(0), cpu.getX(2), cpu.getX(3)]).toEqual([0xaaaan, 0xbbbbn, 0xaaaan]);
  });

  it('16-bit ASIDs (TCR_EL1.AS) that differ only in their top byte are different ASIDs', () => {
    const cpu = run(`
${movImm('x1', VA)}
      ldr x0, [x1]
      msr ttbr0_el1, x21
      isb
      ldr x2, [x1]
    `, { prepare: twoSpaces(0x0101n, 0x0201n, { as16: true }) });
    expect([cpu.getX(0), cpu.getX(2)]).toEqual([0xaaaan, 0xbbbbn]);
  });

  it('with TCR_EL1.A1 the ASID comes from TTBR1_EL1', () => {
    const cpu = run(`
${movImm('x1', VA)}
      ldr x0, [x1]
      msr ttbr0_el1, x21
      msr ttbr1_el1, x23
      isb
      ldr x2, [x1]
      msr ttbr0_el1, x20
      msr ttbr1_el1, x22
      isb
      ldr x3, [x1]
    `, { prepare: twoSpaces(7n, 9n, { a1: true }) });
    expect([cpu.getX(0), cpu.getX(2), cpu.getX(3)]).toEqual([0xaaaan, 0xbbbbn, 0xaaaan]);
  });

  it('global entries serve every ASID; TLBI VMALLE1 then shows the new tables', () => {
    const cpu = run(`
${movImm('x1', VA)}
      ldr x0, [x1]
      msr ttbr0_el1, x21
      isb
      tlbi vmalle1
      dsb nsh
      isb
      ldr x2, [x1]
    `, { prepare: twoSpaces(1n, 2n, { global: true }) });
    expect([cpu.getX(0), cpu.getX(2)]).toEqual([0xaaaan, 0xbbbbn]);
  });
});

describe('AT and PAR_EL1', () => {
  const VA = 0x0000_0090_0000_0000n;
  const PAR_RES1 = 1n << 11n;
  const PAR_NS = 1n << 9n;
  const parFault = (fsc: number): bigint => 1n | (BigInt(fsc) << 1n) | PAR_RES1;
  const pages: MmuOptions['build'] = ({ lo }) => {
    lo.map(VA, PA_A, AF | SH_INNER); // Normal write-back, inner shareable, EL1 read/write
    lo.map(VA + 0x1000n, PA_A + 0x1000n, AF | attrIndx(ATTR_DEVICE) | AP_RO | AP_EL0); // Device, read-only everywhere
    lo.map(VA + 0x2000n, PA_A + 0x2000n, AF | attrIndx(ATTR_NC) | SH_INNER | AP_EL0); // Normal NC, EL0 read/write
    lo.map(VA + 0x3000n, PA_A + 0x3000n, SH_INNER); // access flag clear
  };
  /** Runs AT ops on addresses and collects PAR_EL1 after each into X10.. */
  function at(ops: [string, bigint][]): bigint[] {
    const body = ops.map(([op, va], k) => `${movImm('x1', va)}\n  at ${op}, x1\n  isb\n  mrs x${10 + k}, par_el1`).join('\n');
    const res = runMmu(body, { build: pages });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    return ops.map((_, k) => res.cpu.getX(10 + k) & ~PAR_NS); // NS is not defined for a Non-secure regime
  }

  it('a successful translation reports PA, SH and the MAIR attribute (Device and Normal-NC report SH = 0b10)', () => {
    const [normal, device, nc] = at([['s1e1r', VA + 0x123n], ['s1e1r', VA + 0x1fffn], ['s1e0w', VA + 0x2010n]]);
    expect(hex(normal)).toBe(hex(PA_A | (3n << 7n) | PAR_RES1 | (0xffn << 56n)));
    expect(hex(device)).toBe(hex((PA_A + 0x1000n) | (2n << 7n) | PAR_RES1 | (0x00n << 56n)));
    expect(hex(nc)).toBe(hex((PA_A + 0x2000n) | (2n << 7n) | PAR_RES1 | (0x44n << 56n)));
  });

  it('faults are reported in PAR_EL1, not taken: permission (by EL and access), translation, access flag', () => {
    const pars = at([
      ['s1e1w', VA + 0x1000n], // read-only
      ['s1e0r', VA], // EL1 only
      ['s1e0w', VA + 0x1000n], // read-only at EL0
      ['s1e0r', VA + 0x1000n], // fine
      ['s1e1r', VA + 0x4000n], // no page
      ['s1e1r', VA + 0x3000n], // AF = 0
    ]);
    expect(pars.map(hex)).toEqual([
      hex(parFault(FSC_PERMISSION + 3)), hex(parFault(FSC_PERMISSION + 3)), hex(parFault(FSC_PERMISSION + 3)),
      hex((PA_A + 0x1000n) | (2n << 7n) | PAR_RES1),
      hex(parFault(FSC_TRANSLATION + 3)), hex(parFault(FSC_ACCESS_FLAG + 3)),
    ]);
  });

  it('a synchronous external abort on the walk is taken as a data abort with CM and WnR set', () => {
    const high = 0xffff_8000_0000_0000n;
    const res = runMmu(`
${movImm('x2', 0x5000_0000n)}
      msr ttbr1_el1, x2
      isb
${movImm('x1', high)}
      at s1e1r, x1
    `, { hiVaBits: 48 });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, CM | WNR | FSC_EXTERNAL_WALK, high);
  });
});

describe('LDTR and STTR at EL1 use EL0 permissions', () => {
  const VA = 0x0000_00a0_0000_0000n;
  const pages: MmuOptions['build'] = ({ vm, lo }) => {
    lo.map(VA, PA_A, AF); // EL1 only
    lo.map(VA + 0x1000n, PA_A + 0x1000n, AF | AP_EL0 | AP_RO); // read-only everywhere
    lo.map(VA + 0x2000n, PA_A + 0x2000n, AF | AP_EL0); // read/write everywhere
    writeU64(vm, PA_A, 0x11n);
    writeU64(vm, PA_A + 0x1000n, 0x22n);
    writeU64(vm, PA_A + 0x2000n, 0x33n);
  };

  it('LDTR of an EL1-only page faults (EC 0x25: taken from EL1) where LDR succeeds; PSTATE stays EL1', () => {
    const res = runMmu(`${movImm('x1', VA)}\n  ldr x0, [x1]\n  ldtr x2, [x1, #8]`, { build: pages });
    expect(res.cpu.getX(0)).toBe(0x11n);
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_PERMISSION + 3, VA + 8n);
    expect(hex(res.cpu.sysreg('SPSR_EL1') & 0xfn)).toBe(hex(5n)); // EL1h
    expect(res.cpu.el).toBe(1);
  });

  it('STTR to a page EL0 may only read faults with WnR; LDTR/STTR of EL0 read/write pages work', () => {
    let res = runMmu(`${movImm('x1', VA + 0x1000n)}\n  ldtr x0, [x1]\n  sttrb w0, [x1, #1]`, { build: pages });
    expect(res.cpu.getX(0)).toBe(0x22n);
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_PERMISSION + 3), VA + 0x1001n);
    res = runMmu(`
${movImm('x1', VA + 0x2000n)}
      ldtr x0, [x1]
      add x0, x0, #1
      sttr x0, [x1, #8]
      ldr x2, [x1, #8]
      mrs x3, currentel
    `, { build: pages });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect([res.cpu.getX(0), res.cpu.getX(2), res.cpu.getX(3)]).toEqual([0x34n, 0x34n, 4n]);
  });
});

describe('alignment, page crossings, DC and IC by VA', () => {
  const VA = 0x0000_00b0_0000_0000n;
  const pages: MmuOptions['build'] = ({ vm, lo }) => {
    lo.map(VA, PA_A, AF | attrIndx(ATTR_DEVICE));
    lo.map(VA + 0x1000n, PA_A + 0x1000n, AF);
    // Two virtually adjacent pages over physically distant ones.
    lo.map(VA + 0x2000n, PA_B, AF);
    lo.map(VA + 0x3000n, PA_C, AF);
    writeU64(vm, PA_A, 0x0706_0504_0302_0100n);
    writeU64(vm, PA_A + 0x1000n, 0x0706_0504_0302_0100n);
    writeU64(vm, PA_B + 0xff8n, 0x8877_6655_4433_2211n);
    writeU64(vm, PA_C, 0xffee_ddcc_bbaa_9988n);
  };

  it('a misaligned access to Device memory is an alignment fault; aligned ones and Normal memory are fine', () => {
    let res = runMmu(`${movImm('x1', VA)}\n  ldr x0, [x1]\n  ldr w2, [x1, #4]\n  add x5, x1, #0x1000\n  ldr x3, [x5, #3]\n  ldr x4, [x1, #4]`, { build: pages });
    expect(hex(res.cpu.getX(0))).toBe(hex(0x0706_0504_0302_0100n));
    expect(hex(res.cpu.getX(2))).toBe(hex(0x0706_0504n));
    expect(hex(res.cpu.getX(3) & 0xff_ffff_ffffn)).toBe(hex(0x07_0605_0403n));
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_ALIGNMENT, VA + 4n);
    res = runMmu(`${movImm('x1', VA)}\n  strh w0, [x1, #3]`, { build: pages });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | FSC_ALIGNMENT, VA + 3n);
  });

  it('DC ZVA on Device memory is an alignment fault; on Normal memory it zeroes the block through the mapping', () => {
    let res = runMmu(`${movImm('x1', VA)}\n  dc zva, x1`, { build: pages });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | FSC_ALIGNMENT, VA);
    res = runMmu(`${movImm('x1', VA + 0x2fc8n)}\n  dc zva, x1`, { build: pages });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(hex(readU64(res.vm, PA_B + 0xfc0n))).toBe(hex(0n));
    expect(hex(readU64(res.vm, PA_B + 0xff8n))).toBe(hex(0n));
    expect(hex(readU64(res.vm, PA_C))).toBe(hex(0xffee_ddcc_bbaa_9988n));
  });

  it('a misaligned load or store across two pages uses both translations', () => {
    const res = runMmu(`
${movImm('x1', VA + 0x2ffcn)}
      ldr x0, [x1]
${movImm('x2', 0x0102_0304_0506_0708n)}
      str x2, [x1, #2]
    `, { build: pages });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(hex(res.cpu.getX(0))).toBe(hex(0xbbaa_9988_8877_6655n));
    // Bytes 0x2ffe..0x2fff land at PA_B+0xffe, the rest at PA_C.
    expect(hex(readU64(res.vm, PA_B + 0xff8n))).toBe(hex(0x0708_6655_4433_2211n));
    expect(hex(readU64(res.vm, PA_C))).toBe(hex(0xffee_0102_0304_0506n));
  });

  it('a misaligned access whose second page is unmapped takes that page\'s translation fault', () => {
    const res = runMmu(`${movImm('x1', VA + 0x3ffdn)}\n  ldr w0, [x1]`, { build: pages });
    expect(hex(res.cpu.getX(27))).toBe(hex(BigInt(VEC_CUR_SPX)));
    expect(hex(res.cpu.sysreg('ESR_EL1'))).toBe(hex(esr(EC_DABORT_SAME, FSC_TRANSLATION + 3)));
  });

  it('DC CIVAC and IC IVAU of an unmapped VA are data aborts with CM and WnR set', () => {
    for (const op of ['dc civac', 'dc cvau', 'ic ivau']) {
      const res = runMmu(`${movImm('x1', VA + 0x5040n)}\n  ${op}, x1`, { build: pages });
      expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, CM | WNR | (FSC_TRANSLATION + 3), VA + 0x5040n);
    }
  });
});

describe('top byte ignore', () => {
  const VA = 0x0000_00c0_0000_0000n;
  const tagged = (0x5an << 56n) | VA;
  const build: MmuOptions['build'] = ({ vm, lo }) => { lo.map(VA, PA_A, AF); writeU64(vm, PA_A, MARK); };

  it('with TCR_EL1.TBI0 a tagged address translates as the untagged one', () => {
    const res = runMmu(`
${movImm('x1', tagged)}
      ldr x0, [x1]
      str x0, [x1, #8]
${movImm('x2', (0xa5n << 56n) | VA)}
      ldr x3, [x2, #8]
    `, { tcr: { tbi0: true }, build });
    expect(hex(res.cpu.getX(27))).toBe(NONE);
    expect(hex(res.cpu.getX(3))).toBe(hex(MARK));
  });

  it('without TBI the tag is part of the address: a level 0 translation fault with FAR = the tagged VA', () => {
    const res = runMmu(`${movImm('x1', tagged)}\n  ldr x0, [x1]`, { build });
    expectFault(res.cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_TRANSLATION, tagged);
  });

  it('with the MMU off and TBI0 set, the tag is dropped before the physical range check', () => {
    const cpu = run(`${movImm('x1', (0x5an << 56n) | DATA_BASE)}\n  ldr x0, [x1]`, {
      data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
      prepare: (c) => c.setSysreg('TCR_EL1', tcr({ tbi0: true })),
    });
    expect(hex(cpu.getX(0))).toBe(hex(0x0807_0605_0403_0201n));
  });
});

describe('the TLB and stage 2', () => {
  it('with the MMU off every RAM page touched goes through the bus once (a stage-2 fault on first touch)', () => {
    const res = runProgram(`
      ldr x0, [x1]
      ldr x0, [x1, #8]
      str x0, [x1, #0x1000]
    `, { x: { 1: DATA_BASE } });
    expect(res.exit.reason).toBe('breakpoint');
    // The code page, and the two data pages.
    expect(res.vm.memory.stage2Faults).toBe(3);
  });

  it('with the MMU on, table pages are read through the bus too', () => {
    const res = runProgram(withVectors(`${movImm('x1', 0x0000_00d0_0000_0000n)}\n  ldr x0, [x1]`), {
      prepare: withMmu({ build: ({ lo }) => lo.map(0x0000_00d0_0000_0000n, PA_A, AF) }),
    });
    expect(res.exit.reason).toBe('breakpoint');
    // Code pages, the data page, and the table pages of both walks.
    expect(res.vm.memory.stage2Faults).toBeGreaterThanOrEqual(1 + 1 + 4);
  });
});

describe('PAN (on a CPU model that implements it)', () => {
  const VA = 0x0000_00e0_0000_0000n;

  /** Runs `body` at EL1 with PSTATE.PAN set, on a vcpu whose model has FEAT_PAN. */
  function runPan(body: string): Vcpu {
    const base = findCpuModel('max')!;
    const model = { ...base, features: new Set([...base.features, 'pan' as const]) };
    const program = assembleProgram(`${withVectors(`  msr pan, #1\n${body}`)}\nend:\n  nop\n`, CODE_BASE);
    const vm = new VirtualMachine({ ramBase: 0x4000_0000, ramSize: 16 * 1024 * 1024, cpus: 1, cpuModel: model });
    vm.writePhysical(Number(CODE_BASE), program.bytes);
    const cpu = vm.vcpus[0];
    cpu.reset(CODE_BASE);
    withMmu({
      build: ({ vm: m, lo }) => {
        lo.map(VA, PA_A, AF | AP_EL0 | UXN | PXN); // EL0 read/write
        lo.map(VA + 0x1000n, PA_A + 0x1000n, AF | UXN | PXN); // EL1 only
        writeU64(m, PA_A, 0x11n);
        writeU64(m, PA_A + 0x1000n, 0x22n);
      },
    })!(cpu, vm);
    const exit = vm.run({ breakpoint: program.labels.get('end'), maxInstructions: 100_000 });
    expect(exit.reason).toBe('breakpoint');
    return cpu;
  }

  it('EL1 data accesses to EL0-accessible memory fault; EL1-only memory, LDTR and AT S1E1R are unaffected', () => {
    let cpu = runPan(`
${movImm('x1', VA)}
      ldr x0, [x1, #0x1000]
      ldtr x2, [x1]
      at s1e1r, x1
      isb
      mrs x3, par_el1
      ldr x4, [x1]
    `);
    expect([cpu.getX(0), cpu.getX(2)]).toEqual([0x22n, 0x11n]);
    expect(cpu.getX(3) & 1n).toBe(0n);
    expectFault(cpu, VEC_CUR_SPX, EC_DABORT_SAME, FSC_PERMISSION + 3, VA);
    cpu = runPan(`${movImm('x1', VA)}\n  str x0, [x1, #8]`);
    expectFault(cpu, VEC_CUR_SPX, EC_DABORT_SAME, WNR | (FSC_PERMISSION + 3), VA + 8n);
  });
});

describe('TLBI broadcast between vcpus', () => {
  it('TLBI VAE1IS on one vcpu drops another vcpu\'s cached translation', () => {
    const VA = 0x0000_00f0_0000_0000n;
    const program = assembleProgram(`
      str x21, [x20]
      dsb ishst
      tlbi vae1is, x5
      dsb ish
      isb
end:
      nop
    `, CODE_BASE);
    const vm = new VirtualMachine({ ramBase: 0x4000_0000, ramSize: 16 * 1024 * 1024, cpus: 2, cpuModel: findCpuModel('max')! });
    vm.writePhysical(Number(CODE_BASE), program.bytes);
    const [c0, c1] = vm.vcpus;
    c0.reset(CODE_BASE);
    let desc = 0n, newDesc = 0n, root = 0n;
    withMmu({
      build: ({ lo }) => {
        lo.map(VA, PA_A, AF);
        desc = lo.descriptorAddress(VA, 3);
        newDesc = lo.leaf(PA_B, 3, AF);
        root = lo.root;
      },
    })!(c0, vm);
    for (const name of ['MAIR_EL1', 'TCR_EL1', 'TTBR0_EL1', 'SCTLR_EL1'] as const) c1.setSysreg(name, c0.sysreg(name));
    expect(c0.sysreg('TTBR0_EL1')).toBe(root);
    writeU64(vm, PA_A, 0xaaaan);
    writeU64(vm, PA_B, 0xbbbbn);
    // The second vcpu caches the translation (it need not run for that).
    c1.read64(Number(VA & 0xffff_ffffn) | 0, Number(VA >> 32n));
    expect(c1.vLo).toBe(0xaaaa);
    c0.setX(20, desc);
    c0.setX(21, newDesc);
    c0.setX(5, VA >> 12n);
    expect(vm.run({ breakpoint: program.labels.get('end'), maxInstructions: 1000 }).reason).toBe('breakpoint');
    c1.read64(Number(VA & 0xffff_ffffn) | 0, Number(VA >> 32n));
    expect(c1.vLo).toBe(0xbbbb);
  });
});
