// Program fragments shared by the directed instruction tests.

/** Vector offsets (from VBAR_EL1) of the synchronous exception entries. */
export const VEC_CUR_SP0 = 0x000;
export const VEC_CUR_SPX = 0x200;
export const VEC_LOWER_A64 = 0x400;

/**
 * A 2 KiB-aligned vector table labelled `vectors`. Each of the 16 entries
 * runs the given handler or, by default, records its offset in X27 and
 * branches to the harness's `end:` so the test can inspect the state the
 * exception left behind.
 */
export function vectorTable(handlers: Record<number, string> = {}): string {
  const parts = ['  .balign 2048', 'vectors:'];
  for (let i = 0; i < 16; i++) {
    const off = i * 0x80;
    parts.push(`  .balign 128`);
    parts.push(handlers[off] ?? `  mov x27, #${off}\n  b end`);
  }
  return parts.join('\n');
}

/**
 * `body` run at EL1 with VBAR_EL1 pointing at a vector table; X27 starts at
 * -1 so a test can tell that no exception was taken.
 */
export function withVectors(body: string, handlers: Record<number, string> = {}): string {
  return `
  adr x28, vectors
  msr vbar_el1, x28
  movn x27, #0
${body}
  b end
${vectorTable(handlers)}
`;
}

/** ESR_ELx value: EC, IL=1 and an ISS. */
export function esr(ec: number, iss = 0): bigint {
  return (BigInt(ec) << 26n) | (1n << 25n) | BigInt(iss);
}

/** `.inst` lines for raw instruction words. */
export function inst(...words: number[]): string {
  return words.map((w) => `  .inst 0x${(w >>> 0).toString(16)}`).join('\n');
}
