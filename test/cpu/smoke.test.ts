import { describe, expect, it } from 'vitest';
import { run } from './cpu-harness.js';

describe('interpreter smoke', () => {
  it('adds, loops and branches', () => {
    const cpu = run(`
      mov x0, #0
      mov x1, #10
    1:
      add x0, x0, x1
      subs x1, x1, #1
      b.ne 1b
    `);
    expect(cpu.getX(0)).toBe(55n);
  });
});
