// The flash banks and the RTC as a guest on the virt board sees them: plain
// loads and stores from a program in RAM, through the machine's memory map.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine.js';
import { assembleOne, assembleProgram } from '../asm/a64-assembler.js';

const RAW_LOAD_ADDRESS = 0x40080000n;

function boot(source: string, opts: { bios?: Uint8Array } = {}) {
  const program = assembleProgram(`${source}\nend:\n  nop\n`, RAW_LOAD_ADDRESS);
  const image = new Uint8Array(program.bytes);
  // With -bios the program is the firmware, entered at 0; otherwise a raw kernel.
  const machine = new Machine(opts.bios ? { bios: opts.bios } : { kernel: image, cpu: 'cortex-a57' });
  return { machine, program };
}

function runToEnd(machine: Machine, labels: Map<string, bigint>) {
  const exit = machine.run({ breakpoint: labels.get('end'), maxInstructions: 1_000_000 });
  expect(exit).toMatchObject({ reason: 'breakpoint' });
  return machine.vm.vcpus[0];
}

/** Loads a 32-bit command pattern, the same command for both x16 chips, into w1. */
const cmd = (c: number) => `mov w1, #${c}\n  movk w1, #${c}, lsl #16`;

describe('virt board flash and RTC', () => {
  it('has both flash banks without -bios, zero-filled and answering CFI queries', () => {
    const { machine, program } = boot(`
      mov x20, #0x4000000
      ldr w9, [x20]
      ldr w10, [x20, #0x40]
      ${cmd(0x98)}
      str w1, [x20, #0x154]
      ldr w2, [x20, #0x40]
      ldr w3, [x20, #0x44]
      ldr w4, [x20, #0x48]
      ${cmd(0xff)}                  // only Read Array leaves query mode
      str w1, [x20]
      ${cmd(0x90)}
      str w1, [x20]
      ldr w5, [x20]
      ldr w6, [x20, #4]
      ${cmd(0xff)}
      str w1, [x20]
      ldr w7, [x20, #0x40]
      mov x21, #0
      ${cmd(0x98)}
      str w1, [x21, #0x154]
      ldr w8, [x21, #0x40]
      ${cmd(0xff)}
      str w1, [x21]
      ldr w11, [x21, #0x40]
    `);
    const cpu = runToEnd(machine, program.labels);
    expect(cpu.getX(9)).toBe(0n);
    expect(cpu.getX(10)).toBe(0n);
    expect([cpu.getX(2), cpu.getX(3), cpu.getX(4)]).toEqual([0x00510051n, 0x00520052n, 0x00590059n]);
    expect([cpu.getX(5), cpu.getX(6)]).toEqual([0x00890089n, 0x00180018n]);
    expect(cpu.getX(7)).toBe(0n);
    expect(cpu.getX(8)).toBe(0x00510051n);
    expect(cpu.getX(11)).toBe(0n);
    expect(machine.flash.map((f) => f.inCommandMode)).toEqual([false, false]);
  });

  it('runs code programmed into flash, and the new code after it is erased and programmed again', () => {
    const movX0 = (n: number) => assembleOne(`mov x0, #${n}`);
    const ret = assembleOne('ret');
    const { machine, program } = boot(`
      mov x20, #0x4000000
      mov x23, #0x4040000         // the second sector: must survive the erase of the first
      ${cmd(0x40)}
      str w1, [x23]
      mov w1, #0x1234
      str w1, [x23]
      ${cmd(0xff)}
      str w1, [x23]

      mov w22, #${movX0(42) & 0xffff}
      movk w22, #${movX0(42) >>> 16}, lsl #16
      bl program_code
      blr x20
      mov x24, x0

      mov w22, #${movX0(43) & 0xffff}
      movk w22, #${movX0(43) >>> 16}, lsl #16
      bl program_code
      blr x20
      mov x25, x0
      ldr w26, [x23]
      b end

    program_code:           // erase sector 0 of bank 1, then w22 and ret at its start
      ${cmd(0x20)}
      str w1, [x20]
      ${cmd(0xd0)}
      str w1, [x20]
      ldr w2, [x20]          // status: ready
      ${cmd(0x40)}
      str w1, [x20]
      str w22, [x20]
      ${cmd(0x40)}
      str w1, [x20, #4]
      mov w1, #${ret & 0xffff}
      movk w1, #${ret >>> 16}, lsl #16
      str w1, [x20, #4]
      ${cmd(0xff)}
      str w1, [x20]
      ret
    `);
    const cpu = runToEnd(machine, program.labels);
    expect(cpu.getX(2)).toBe(0x00800080n);
    expect(cpu.getX(24)).toBe(42n);
    expect(cpu.getX(25)).toBe(43n);
    expect(cpu.getX(26)).toBe(0x1234n);
    expect(machine.vm.readPhysical(0x04000008, 4)).toEqual(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  });

  it('puts -bios firmware in bank 0, zero beyond it and in bank 1, and keeps programmed flash across a reboot', () => {
    const fw = assembleProgram(`
      mov x20, #0x4000000
      ldr w3, [x20, #0x100]
      ldr w4, [x21, #0x100]       // x21 = 0 at reset: firmware bytes past the image
      ${cmd(0x40)}
      str w1, [x20, #0x100]
      mov w1, #0x77
      str w1, [x20, #0x100]
      ${cmd(0xff)}
      str w1, [x20]
    end:
      nop
    `, 0n);
    const machine = new Machine({ bios: new Uint8Array(fw.bytes) });
    let cpu = runToEnd(machine, fw.labels);
    expect(cpu.getX(3)).toBe(0n);
    expect(cpu.getX(4)).toBe(0n);
    machine.reboot();
    cpu = runToEnd(machine, fw.labels);
    // Bank 1 is flash, not RAM re-initialised at reset: the word is still there.
    expect(cpu.getX(3)).toBe(0x77n);
  });

  it('maps the PL031 at 0x09010000', () => {
    const { machine, program } = boot(`
      mov x20, #0x9010000
      ldr w2, [x20, #0xfe0]
      ldr w3, [x20, #0xfe4]
      ldr w4, [x20, #0xff0]
      ldr w5, [x20, #0xffc]
      ldr w6, [x20]
      ldr w7, [x20, #0xc]
      mov w1, #1000
      str w1, [x20, #8]
      ldr w8, [x20]
    `);
    const before = BigInt(Math.floor(Date.now() / 1000));
    const cpu = runToEnd(machine, program.labels);
    expect([cpu.getX(2), cpu.getX(3), cpu.getX(4), cpu.getX(5)]).toEqual([0x31n, 0x10n, 0x0dn, 0xb1n]);
    expect(cpu.getX(6)).toBeGreaterThanOrEqual(before - 2n);
    expect(cpu.getX(6)).toBeLessThanOrEqual(BigInt(Math.floor(Date.now() / 1000)));
    expect(cpu.getX(7)).toBe(1n);
    expect(cpu.getX(8)).toBe(1000n);
  });
});
