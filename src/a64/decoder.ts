// Turns the declarative table in decode-table.ts into mask/value matchers and
// field extractors, and looks instruction words up through it.
import { A64_ENCODINGS, type EncodingSpec, type Feature, type Fields } from './decode-table.js';

interface FieldSlice {
  readonly name: string;
  readonly shift: number;
  readonly width: number;
}

export interface CompiledEncoding {
  readonly spec: EncodingSpec;
  readonly index: number;
  readonly mask: number;
  readonly value: number;
  readonly fields: readonly FieldSlice[];
}

export interface DecodedInstruction {
  readonly encoding: CompiledEncoding;
  readonly name: string;
  readonly fields: Fields;
  readonly word: number;
}

export function compilePattern(spec: EncodingSpec, index: number): CompiledEncoding {
  let bit = 32;
  let mask = 0;
  let value = 0;
  const fields: FieldSlice[] = [];
  for (const token of spec.pattern.trim().split(/\s+/)) {
    const named = /^([A-Za-z][A-Za-z0-9_]*):(\d+)$/.exec(token);
    if (named) {
      const width = Number(named[2]);
      bit -= width;
      fields.push({ name: named[1], shift: bit, width });
      continue;
    }
    if (!/^[01x]+$/.test(token)) throw new Error(`decode table: bad token '${token}' in ${spec.name}`);
    for (const ch of token) {
      bit -= 1;
      if (ch === 'x') continue;
      mask |= 1 << bit;
      if (ch === '1') value |= 1 << bit;
    }
  }
  if (bit !== 0) throw new Error(`decode table: ${spec.name} pattern covers ${32 - bit} bits, not 32`);
  return { spec, index, mask: mask >>> 0, value: value >>> 0, fields };
}

export function extractFields(enc: CompiledEncoding, word: number): Fields {
  const out: Fields = {};
  for (const f of enc.fields) out[f.name] = (word >>> f.shift) & ((1 << f.width) - 1);
  return out;
}

const COMPILED: readonly CompiledEncoding[] = A64_ENCODINGS.map(compilePattern);

// Bucketed by bits 28:25 (the architecture's top-level "op0" split) so a lookup
// scans only the handful of encodings that can possibly match.
const BUCKETS: CompiledEncoding[][] = (() => {
  const buckets: CompiledEncoding[][] = Array.from({ length: 16 }, () => []);
  for (const enc of COMPILED) {
    for (let op0 = 0; op0 < 16; op0++) {
      const probe = (op0 << 25) >>> 0;
      if (((probe ^ enc.value) & enc.mask & 0x1e000000) === 0) buckets[op0].push(enc);
    }
  }
  return buckets;
})();

export const ENCODINGS: readonly CompiledEncoding[] = COMPILED;

/**
 * Decodes one instruction word for a vcpu that implements `features`.
 * Returns undefined for unallocated encodings and for encodings of features the
 * model lacks: both are UNDEFINED to the guest.
 */
export function decode(word: number, features: ReadonlySet<Feature>): DecodedInstruction | undefined {
  word >>>= 0;
  for (const enc of BUCKETS[(word >>> 25) & 15]) {
    if (((word & enc.mask) >>> 0) !== enc.value) continue;
    const fields = extractFields(enc, word);
    if (enc.spec.valid && !enc.spec.valid(fields)) continue;
    if (enc.spec.feature && !features.has(enc.spec.feature)) return undefined;
    return { encoding: enc, name: enc.spec.name, fields, word };
  }
  return undefined;
}
