/**
 * Differential tests: every line is assembled by our test assembler and by
 * GNU as (the oracle) and the words must be identical. A missing toolchain is
 * a failure, not a skip, so the coverage cannot silently disappear.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AsmError, assemble, assembleOne, assembleProgram, encodeBitmaskImmediate } from './a64-assembler.js';
import { gasAssemble, gasErrorLines, requireToolchain } from './gas-oracle.js';
import { mulberry32 as mulberry32Uint } from '../seeded-random.js';

// Deliberately not page aligned so ADRP and literal offsets exercise page crossings.
const BASE = 0x40080ff0n;

const SEED = Number(process.env['A64_ASM_SEED'] ?? Date.now() % 0x7fffffff);

function mulberry32(seed: number): () => number {
  const next = mulberry32Uint(seed);
  return () => next() / 4294967296;
}

const hex = (w: number) => w.toString(16).padStart(8, '0');

/**
 * Assemble with both tools and compare. `lines` must each produce exactly one
 * word so a mismatch can be reported against its source line.
 */
function compareWithGas(lines: string[], base = BASE): void {
  const source = lines.join('\n');
  const ours = assemble(source, base);
  const theirs = gasAssemble(source, base);
  expect(ours.length, 'word count (every line must produce one word)').toBe(lines.length);
  expect(theirs.length, 'GNU as word count').toBe(lines.length);
  const bad: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (ours[i] !== theirs[i]) bad.push(`  ${lines[i]!.padEnd(48)} ours ${hex(ours[i]!)}  gas ${hex(theirs[i]!)}`);
  }
  if (bad.length > 0) {
    throw new Error(`${bad.length} of ${lines.length} lines differ from GNU as (seed ${SEED}):\n${bad.slice(0, 60).join('\n')}`);
  }
}

function corpus(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('//'));
}

// ---------------------------------------------------------------------------
// Directed corpora

const DATA_PROCESSING = corpus(`
add x0, x1, #0
add x0, x1, #4095
add x0, x1, #4096
add x0, x1, #0xfff000
add x0, x1, 17
add w3, w4, #1, lsl #12
add w3, w4, #4095, lsl #0
add sp, sp, #16
add x0, sp, #8
add wsp, w1, #3
add x0, x1, #010
add x0, x1, #0b101
add x0, x1, #(1 << 4) + 2
adds x0, x1, #1
adds xzr, sp, #1
adds w0, w1, #4095, lsl #12
subs w0, wsp, #5
sub x0, x1, #-5
sub sp, sp, #0x10, lsl #12
add x0, x1, #-4096
add w0, w1, #-1
cmp x0, #0
cmp sp, #4
cmp wsp, #4
cmp w0, #4095
cmn x1, #1, lsl #12
cmn w1, #-7
cmp x0, #-1
add x0, x1, x2
add x0, x1, x2, lsl #63
add w0, w1, w2, lsr #31
add x0, x1, x2, asr #7
adds xzr, x1, x2
adds w0, w1, w2, lsl #0
sub x0, xzr, x1
subs x3, x4, x5, lsr #9
add x0, x1, w2, uxtb
add x0, x1, w2, uxth #1
add x0, x1, w2, uxtw #2
add x0, x1, x2, uxtx #3
add x0, x1, w2, sxtb #4
add x0, x1, w2, sxth
add x0, x1, w2, sxtw #1
add x0, x1, x2, uxtw
add x0, x1, w2, uxtx
add x0, x1, x2, sxtx
add w0, w1, w2, uxtb #2
add w0, w1, w2, sxth #4
add w0, wsp, w2
add wsp, w0, w2, uxtw #1
add x0, sp, x1
add sp, x0, x1, lsl #3
add sp, sp, x1
add x0, sp, x1, lsl #0
sub sp, sp, x1, uxtx #4
sub x0, sp, w1, uxtw
subs x0, sp, x1
subs x0, sp, w1, sxtw #2
adds x0, x1, w2, uxtb #0
cmp sp, x1
cmp x0, w1, uxtw
cmp x0, x1, lsl #4
cmp wsp, w1
cmn w0, w1
cmn x0, x1, asr #3
cmn sp, w2, sxtw #3
neg x0, x1
neg w0, w1, lsl #3
neg x0, x1, lsr #1
negs x0, x1, asr #63
negs w0, w1
mov x0, x1
mov w0, w1
mov x0, sp
mov sp, x0
mov wsp, w0
mov w0, wsp
mov x0, xzr
mov w0, wzr
mov x0, lr
mov x29, fp
mov x0, #0
mov x0, #1
mov x0, 42
mov x0, #0xffff
mov x0, #0x10000
mov x0, #0xffff0000
mov x0, #0xffff00000000
mov x0, #0xffff000000000000
mov x0, #-1
mov x0, #-2
mov x0, #-0x10000
mov x0, #0xfffffffffffeffff
mov x0, #0xffffffff
mov x0, #0x5555555555555555
mov x0, #0x0f0f0f0f0f0f0f0f
mov x0, #0x7fffffffffffffff
mov x0, #0x8000000000000000
mov w0, #-1
mov w0, #0xffff
mov w0, #0xffff0000
mov w0, #0x7fffffff
mov w0, #0xaaaaaaaa
mov w0, #-0x10001
mov w0, #0x80000000
mov sp, #0xff00
mov wsp, #0xff00ff00
movz x0, #0
movz x0, #0xffff, lsl #48
movz x0, #0x1234, lsl #32
movz w0, #1, lsl #16
movz w0, 65535
movn x0, #5, lsl #32
movn x0, #0
movn w0, #0
movn w0, #0x8000, lsl #16
movk x0, #0x1234, lsl #16
movk w0, #0xffff
movk x1, #0xabcd, lsl #48
movk w2, #7, lsl #16
and x0, x1, #1
and w0, w1, #0xff
and sp, x1, #0xfffffffffffffff0
and x0, x1, #-2
and w0, w1, #-2
orr wsp, w1, #0x80000000
orr x0, xzr, #0x3333333333333333
eor x0, x1, #0x5555555555555555
eor w3, w4, #0x0ff00ff0
ands x0, x1, #0x3
ands w0, w1, #0xfffffffe
tst x0, #0x8000000000000000
tst w0, #1
bic x0, x1, #0xff
bic w0, w1, #1
and x0, x1, x2
and x0, x1, x2, ror #5
orr w0, w1, w2, lsl #31
eor x0, x1, x2, lsr #1
ands x0, x1, x2, asr #2
ands wzr, w1, w2
bic x0, x1, x2
bic w0, w1, w2, ror #31
bics x0, x1, x2, lsl #4
bics w0, w1, w2
orn x0, x1, x2
orn w0, w1, w2, asr #3
eon x0, x1, x2, ror #63
eon w5, w6, w7
tst x0, x1
tst w0, w1, lsl #2
tst x0, x1, ror #60
mvn x0, x1
mvn w0, w1, ror #4
mvn x0, x1, lsl #63
sbfm x0, x1, #0, #63
bfm w0, w1, #31, #0
ubfm x0, x1, #10, #20
sbfm w3, w4, #5, #2
lsl x0, x1, #1
lsl x0, x1, #63
lsl w0, w1, #31
lsl w0, w1, #1
lsr x0, x1, #63
lsr x0, x1, #0
lsr w0, w1, #1
asr x0, x1, #32
asr w0, w1, #0
asr w0, w1, #31
sxtb x0, w1
sxtb w0, w1
sxth x0, w1
sxth w0, w1
sxtw x0, w1
uxtb w0, w1
uxth w0, w1
uxtb x0, w1
uxth x0, w1
ubfx x0, x1, #4, #8
ubfx w0, w1, #31, #1
ubfx x0, x1, #0, #1
sbfx x0, x1, #0, #64
sbfx w0, w1, #8, #24
bfxil x0, x1, #60, #4
bfxil w0, w1, #0, #32
bfi x0, x1, #8, #16
bfi w0, w1, #1, #31
bfi x0, x1, #63, #1
ubfiz x0, x1, #3, #32
ubfiz w0, w1, #31, #1
sbfiz x0, x1, #1, #63
sbfiz w0, w1, #16, #8
bfc x0, #4, #8
bfc w0, #1, #31
bfc x3, #63, #1
extr x0, x1, x2, #63
extr w0, w1, w2, #31
extr x0, x1, x2, #0
ror x0, x1, #7
ror w0, w1, #31
ror x0, x1, #0
csel x0, x1, x2, eq
csel w0, w1, w2, nv
csel x0, xzr, x2, al
csinc x0, x1, x2, hs
csinc w0, w1, w2, cs
csinv x0, x1, x2, lo
csinv w0, w1, w2, cc
csneg x0, x1, x2, mi
csneg w0, w1, w2, pl
csel x3, x4, x5, vs
csel x3, x4, x5, vc
csel x3, x4, x5, hi
csel x3, x4, x5, ls
csel x3, x4, x5, ge
csel x3, x4, x5, lt
csel x3, x4, x5, gt
csel x3, x4, x5, le
csel x3, x4, x5, ne
cset x0, eq
cset w0, lo
cset x0, le
csetm x0, gt
csetm w0, vs
cinc x0, x1, ne
cinc w0, w1, hi
cinv w0, w1, mi
cinv x0, x1, ge
cneg x0, x1, le
cneg w0, w1, lt
ccmp x0, x1, #0, eq
ccmp w0, #31, #15, ne
ccmp x0, #0, #4, al
ccmp x0, xzr, #8, nv
ccmn x0, #0, #4, al
ccmn w0, w1, #2, vs
ccmn x3, #17, #1, hi
madd x0, x1, x2, x3
madd w0, w1, w2, wzr
msub x0, x1, x2, x3
msub w4, w5, w6, w7
mul x0, x1, x2
mul w0, w1, w2
mneg x0, x1, x2
mneg w0, w1, w2
smaddl x0, w1, w2, x3
smsubl x0, w1, w2, x3
umaddl x0, w1, w2, x3
umsubl x0, w1, w2, x3
smull x0, w1, w2
umull x0, w1, w2
smnegl x0, w1, w2
umnegl x0, w1, w2
smulh x0, x1, x2
umulh x0, x1, x2
udiv x0, x1, x2
udiv w0, w1, w2
sdiv x0, x1, x2
sdiv w0, w1, w2
lslv x0, x1, x2
lslv w0, w1, w2
lsrv x0, x1, x2
asrv w0, w1, w2
rorv x0, x1, x2
lsl x0, x1, x2
lsl w0, w1, w2
lsr x0, x1, x2
lsr w0, w1, w2
asr x0, x1, x2
asr w0, w1, w2
ror x0, x1, x2
ror w0, w1, w2
clz x0, x1
clz w0, w1
cls x0, x1
cls w0, w1
rbit x0, x1
rbit w0, w1
rev x0, x1
rev w0, w1
rev16 x0, x1
rev16 w0, w1
rev32 x0, x1
rev64 x0, x1
adc x0, x1, x2
adc w0, w1, w2
adcs x0, x1, x2
adcs w0, w1, wzr
sbc x0, x1, x2
sbc w0, w1, w2
sbcs x0, x1, x2
sbcs w0, w1, w2
ngc x0, x1
ngc w0, w1
ngcs x0, x1
ngcs w0, w1
crc32b w0, w1, w2
crc32h w0, w1, w2
crc32w w0, w1, w2
crc32x w0, w1, x2
crc32cb w0, w1, w2
crc32ch w0, w1, w2
crc32cw w0, w1, w2
crc32cx w0, w1, x2
ADD X0, X1, #1
Mov W5, WZR
add	x0,x1,x2,lsl#3
add x0 , x1 , # 4
mov sp, #1
mov wsp, #0x10000
mov x0, #-0x8000000000000000
mov w0, #-0x80000000
`);

/** Branches and PC-relative forms; labels `back`, `mid` and `fwd` are defined here. */
const PC_RELATIVE = corpus(`
back: nop
b back
b fwd
b mid
bl back
bl fwd
b .
b .+8
b .-4
b #8
b #-0x100
b 0x40
bl #0x1000
b.eq back
b.ne fwd
b.cs mid
b.hs mid
b.cc mid
b.lo mid
b.mi mid
b.pl mid
b.vs mid
b.vc mid
b.hi mid
b.ls mid
b.ge mid
b.lt mid
b.gt mid
b.le mid
b.al mid
b.nv mid
beq back
bne .+16
b.eq #-8
b.gt .
cbz x0, back
cbz w0, fwd
cbnz x1, mid
cbnz w30, .+0x100
cbz x3, #-4
tbz x0, #0, back
tbz w0, #31, fwd
tbz x0, #32, mid
tbnz x0, #63, back
tbnz w5, #7, .+12
tbz x5, #3, #0x20
tbnz x7, 40, fwd
adr x0, back
adr x0, fwd
adr x1, .
adr x1, .+3
adr x2, #-1
adr x3, mid+5
adrp x0, back
adrp x0, fwd
adrp x0, .
adrp x1, mid
adrp x2, .+0x10000
adrp x3, .-0x3000
add x0, x0, :lo12:fwd
add x1, x1, #:lo12:mid
ldrb w1, [x0, #:lo12:fwd]
ldr w1, [x0, :lo12:back]
strb w2, [x0, :lo12:mid]
movz x0, #:abs_g1:fwd
movk x0, #:abs_g0_nc:fwd
movz x0, #:abs_g2:fwd
movk x0, #:abs_g1_nc:mid
ldr x0, back
ldr w0, fwd
ldr x5, mid
ldr x5, .+8
ldr w6, #-12
ldrsw x0, back
ldrsw x7, fwd
prfm pldl1keep, mid
prfm #3, fwd
mid: nop
.word fwd
.word back - 4
.inst 0xd503201f
.word 0x12345678
.word -1
br x0
br x30
blr x1
blr xzr
ret
ret x1
ret lr
1: nop
b 1b
b 1f
cbz x0, 1b
1: nop
b 1b
b 2f
2: nop
fwd: nop
`);

const LOADS_STORES = corpus(`
ldr x0, [x1]
ldr x0, [x1, #0]
ldr x0,[x1,#8]
ldr x0, [ x1 , x2 , lsl #3 ]
ldp x0,x1,[sp,#-16]!
str w0, [x1],#4
ldr x0, [x1, #8]
ldr x0, [x1, #32760]
ldr x0, [sp, #16]
ldr x0, [x1, #4]
ldr x0, [x1, #-8]
ldr x0, [x1, #-256]
ldr x0, [x1, #255]
ldr w0, [x1, #16380]
ldr w0, [x1, #2]
ldr w0, [x1, #-4]
ldrb w0, [x1, #4095]
ldrb w0, [x1, #-1]
ldrh w0, [x1, #8190]
ldrh w0, [x1, #1]
ldrsb x0, [x1, #7]
ldrsb w0, [x1]
ldrsh x0, [x1, #2]
ldrsh w0, [x1, #-2]
ldrsw x0, [x1, #16380]
ldrsw x0, [x1, #-4]
str x0, [x1, #8]
str xzr, [sp]
str w0, [x1, #4]
str wzr, [x1, #-4]
strb w0, [x1, #1]
strb wzr, [x1]
strh w0, [x1, #2]
strh w0, [x1, #3]
ldur x0, [x1]
ldur x0, [x1, #8]
ldur w0, [x1, #-256]
ldurb w0, [x1, #255]
ldurh w0, [x1, #1]
ldursb x0, [x1, #-1]
ldursb w0, [x1, #2]
ldursh x0, [x1, #-2]
ldursh w0, [x1, #3]
ldursw x0, [x1, #4]
stur x0, [x1, #-8]
stur w0, [sp, #1]
sturb w0, [x1, #-128]
sturh w0, [x1, #100]
ldr x0, [x1, #8]!
ldr x0, [x1, #-256]!
ldr w0, [sp, #255]!
ldrb w0, [x1, #1]!
ldrsh x0, [x1, #-2]!
str x0, [sp, #-16]!
strh w0, [x1, #6]!
ldrsw x0, [x1, #4]!
ldr x0, [x1], #8
ldr x0, [x1], #-256
ldr w0, [x1], #255
ldrb w0, [x1], #1
ldrsb w0, [x1], #-1
ldrsw x0, [x1], #4
str x0, [sp], #16
strb w0, [x1], #1
strh w0, [x1], #-2
ldr x0, [x1, x2]
ldr x0, [x1, x2, lsl #3]
ldr x0, [x1, x2, lsl #0]
ldr x0, [x1, w2, uxtw]
ldr x0, [x1, w2, uxtw #3]
ldr x0, [x1, w2, sxtw]
ldr x0, [x1, w2, sxtw #0]
ldr x0, [x1, x2, sxtx]
ldr x0, [x1, x2, sxtx #3]
ldr x0, [sp, xzr]
ldr w0, [x1, x2, lsl #2]
ldr w0, [x1, w2, uxtw #2]
ldrb w0, [x1, x2]
ldrb w0, [x1, x2, lsl #0]
ldrb w0, [x1, w2, uxtw]
ldrb w0, [x1, w2, sxtw #0]
ldrsb x0, [x1, x2]
ldrsb w0, [x1, w2, sxtw]
ldrh w0, [x1, x2, lsl #1]
ldrh w0, [x1, w2, uxtw #1]
ldrsh x0, [x1, x2, sxtx #1]
ldrsh w0, [x1, x2]
ldrsw x0, [x1, x2, lsl #2]
ldrsw x0, [x1, w2, sxtw #2]
str x0, [x1, x2, lsl #3]
str w0, [x1, w2, sxtw]
strb w0, [x1, x2]
strh w0, [x1, w2, uxtw #1]
ldtr x0, [x1]
ldtr x0, [x1, #-256]
ldtr w0, [x1, #255]
ldtrb w0, [x1, #1]
ldtrh w0, [x1, #2]
ldtrsb x0, [x1]
ldtrsb w0, [x1, #-1]
ldtrsh x0, [x1]
ldtrsh w0, [x1, #4]
ldtrsw x0, [sp, #8]
sttr x0, [x1, #8]
sttr w0, [x1]
sttrb w0, [x1, #-5]
sttrh w0, [x1, #6]
prfm pldl1keep, [x0]
prfm pldl1strm, [x0, #8]
prfm pldl2keep, [x0, #32760]
prfm pldl3strm, [x0, x1]
prfm plil1keep, [x0, x1, lsl #3]
prfm pstl1keep, [x0, w1, sxtw]
prfm pstl2strm, [sp]
prfm #31, [x0]
prfm pldl1keep, [x0, #-8]
prfum pldl1keep, [x0, #1]
ldp x0, x1, [x2]
ldp x0, x1, [x2, #8]
ldp x0, x1, [sp, #-512]
ldp x0, x1, [x2, #504]
ldp w0, w1, [x2, #-256]
ldp w0, w1, [x2, #252]
ldp x0, x1, [sp, #16]!
ldp x29, x30, [sp], #16
ldp w0, w1, [x2, #4]!
ldp w0, w1, [x2], #-4
stp x29, x30, [sp, #-16]!
stp x0, x1, [x2]
stp xzr, xzr, [x2, #-8]
stp w0, w1, [x2], #8
stp w0, wzr, [x2, #12]
ldpsw x0, x1, [x2]
ldpsw x0, x1, [x2, #-256]!
ldpsw x0, x1, [x2], #252
ldpsw x0, x1, [x2, #4]
ldnp x0, x1, [x2]
ldnp x0, x1, [x2, #-512]
ldnp w0, w1, [x2, #8]
stnp x0, x1, [sp, #504]
stnp w0, w1, [x2, #-4]
ldxr x0, [x1]
ldxr w0, [x1]
ldxr x0, [x1, #0]
ldxrb w0, [x1]
ldxrh w0, [sp]
ldaxr x0, [x1]
ldaxr w0, [x1]
ldaxrb w0, [x1]
ldaxrh w0, [x1]
stxr w2, x0, [x1]
stxr w2, w0, [x1]
stxrb w2, w0, [x1]
stxrh w2, w0, [x1]
stlxr w2, x0, [x1]
stlxr w2, w0, [sp]
stlxrb w2, w0, [x1]
stlxrh w2, w0, [x1]
ldxp x0, x1, [x2]
ldxp w0, w1, [x2]
ldaxp x0, x1, [x2]
ldaxp w0, w1, [x2]
stxp w3, x0, x1, [x2]
stxp w3, w0, w1, [x2]
stlxp w3, x0, x1, [x2]
stlxp w3, w0, w1, [x2]
ldar x0, [x1]
ldar w0, [x1]
ldarb w0, [x1]
ldarh w0, [x1]
stlr x0, [x1]
stlr w0, [sp]
stlrb w0, [x1]
stlrh w0, [x1]
ldlar x0, [x1]
ldlarb w0, [x1]
stllr w0, [x1]
stllrh w0, [x1]
clrex
clrex #5
ldadd x0, x1, [x2]
ldadd w0, w1, [sp]
ldadda x0, x1, [x2]
ldaddl w0, w1, [x2]
ldaddal x0, x1, [x2]
ldaddb w0, w1, [x2]
ldaddab w0, w1, [x2]
ldaddlb w0, w1, [x2]
ldaddalb w0, w1, [x2]
ldaddh w0, w1, [x2]
ldaddah w0, w1, [x2]
ldaddlh w0, w1, [x2]
ldaddalh w0, w1, [x2]
ldclr x0, x1, [x2]
ldclral w0, w1, [x2]
ldclrb w0, w1, [x2]
ldeor x0, x1, [x2]
ldeora w0, w1, [x2]
ldeorh w0, w1, [x2]
ldset x0, x1, [x2]
ldsetl x0, x1, [x2]
ldsetalb w0, w1, [x2]
ldsmax x0, x1, [x2]
ldsmaxa w0, w1, [x2]
ldsmaxh w0, w1, [x2]
ldsmin x0, x1, [x2]
ldsminl w0, w1, [x2]
ldsminab w0, w1, [x2]
ldumax x0, x1, [x2]
ldumaxal x0, x1, [x2]
ldumaxlh w0, w1, [x2]
ldumin x0, x1, [x2]
ldumina w0, w1, [x2]
lduminb w0, w1, [x2]
ldadd x0, xzr, [x2]
stadd x0, [x2]
staddl w0, [x2]
staddb w0, [x2]
staddlh w0, [x2]
stclr x0, [x2]
steor w0, [x2]
stset x0, [x2]
stsmax x0, [x2]
stsmin w0, [x2]
stumax x0, [x2]
stumin w0, [x2]
stuminlb w0, [x2]
swp x0, x1, [x2]
swpa w0, w1, [x2]
swpl x0, x1, [x2]
swpal w0, w1, [x2]
swpb w0, w1, [x2]
swpah w0, w1, [x2]
swplb w0, w1, [x2]
swpalh w0, w1, [sp]
cas x0, x1, [x2]
cas w0, w1, [x2]
casa x0, x1, [x2]
casl w0, w1, [x2]
casal x0, x1, [sp]
casb w0, w1, [x2]
casab w0, w1, [x2]
caslb w0, w1, [x2]
casalb w0, w1, [x2]
cash w0, w1, [x2]
casah w0, w1, [x2]
caslh w0, w1, [x2]
casalh w0, w1, [x2]
casp x0, x1, x2, x3, [x4]
casp w0, w1, w2, w3, [x4]
caspa x4, x5, x6, x7, [sp]
caspl w8, w9, w10, w11, [x4]
caspal x28, x29, x2, x3, [x4]
`);

const SYSTEM = corpus(`
mrs x0, nzcv
msr nzcv, x0
mrs x0, daif
msr daif, x1
mrs x0, CurrentEL
mrs x0, spsel
msr spsel, x0
mrs x0, pan
msr pan, x0
mrs x1, sctlr_el1
msr sctlr_el1, x1
msr SCTLR_EL1, x1
mrs x2, tcr_el1
msr tcr_el1, x2
mrs x3, ttbr0_el1
msr ttbr0_el1, x3
mrs x3, ttbr1_el1
msr ttbr1_el1, x3
mrs x4, mair_el1
msr mair_el1, x4
mrs x5, vbar_el1
msr vbar_el1, x5
mrs x6, esr_el1
msr esr_el1, x6
mrs x7, far_el1
msr far_el1, x7
mrs x8, elr_el1
msr elr_el1, x8
mrs x9, spsr_el1
msr spsr_el1, x9
mrs x10, sp_el0
msr sp_el0, x10
mrs x11, tpidr_el0
msr tpidr_el0, x11
mrs x12, tpidr_el1
msr tpidr_el1, x12
mrs x13, tpidrro_el0
msr tpidrro_el0, x13
mrs x14, contextidr_el1
msr contextidr_el1, x14
mrs x15, cpacr_el1
msr cpacr_el1, x15
mrs x16, cntfrq_el0
msr cntfrq_el0, x16
mrs x17, cntvct_el0
mrs x18, cntpct_el0
mrs x19, mpidr_el1
mrs x20, midr_el1
mrs x0, id_aa64pfr0_el1
mrs x0, id_aa64pfr1_el1
mrs x0, id_aa64dfr0_el1
mrs x0, id_aa64dfr1_el1
mrs x0, id_aa64afr0_el1
mrs x0, id_aa64afr1_el1
mrs x0, id_aa64isar0_el1
mrs x0, id_aa64isar1_el1
mrs x0, id_aa64mmfr0_el1
mrs x0, id_aa64mmfr1_el1
mrs x0, id_aa64mmfr2_el1
mrs x0, id_aa64zfr0_el1
mrs x21, ctr_el0
mrs x22, dczid_el0
mrs x23, par_el1
msr par_el1, x23
mrs x24, amair_el1
msr amair_el1, x24
mrs x25, mdscr_el1
msr mdscr_el1, x25
mrs x0, fpcr
msr fpsr, x0
mrs x0, isr_el1
mrs x0, revidr_el1
mrs x0, clidr_el1
mrs x0, ccsidr_el1
msr csselr_el1, x0
mrs x0, actlr_el1
mrs x0, afsr0_el1
mrs x0, afsr1_el1
msr cntkctl_el1, x0
mrs x0, cntp_ctl_el0
msr cntp_ctl_el0, x0
msr cntp_cval_el0, x0
msr cntp_tval_el0, x0
mrs x0, cntv_ctl_el0
msr cntv_cval_el0, x0
msr cntv_tval_el0, x0
mrs x0, pmcr_el0
mrs x0, pmccntr_el0
msr pmuserenr_el0, x0
msr oslar_el1, x0
mrs x0, oslsr_el1
msr osdlr_el1, x0
mrs x0, icc_iar1_el1
msr icc_eoir1_el1, x0
msr icc_pmr_el1, x0
msr icc_sre_el1, x0
msr icc_igrpen1_el1, x0
msr icc_ctlr_el1, x0
msr icc_bpr1_el1, x0
msr icc_sgi1r_el1, x0
msr icc_dir_el1, x0
mrs x0, icc_rpr_el1
mrs x0, icc_hppir1_el1
mrs x0, hcr_el2
msr hcr_el2, x0
msr sctlr_el2, x0
msr vbar_el2, x0
msr elr_el2, x0
msr spsr_el2, x0
mrs x0, esr_el2
mrs x0, far_el2
mrs x0, hpfar_el2
msr tcr_el2, x0
msr ttbr0_el2, x0
msr mair_el2, x0
msr vtcr_el2, x0
msr vttbr_el2, x0
msr sp_el1, x0
msr cptr_el2, x0
msr cnthctl_el2, x0
msr cntvoff_el2, x0
msr vpidr_el2, x0
msr vmpidr_el2, x0
msr tpidr_el2, x0
msr mdcr_el2, x0
msr scr_el3, x0
msr sctlr_el3, x0
msr elr_el3, x0
msr spsr_el3, x0
msr vbar_el3, x0
mrs x0, esr_el3
msr sp_el2, x0
mrs x0, s3_0_c1_c0_0
msr s3_0_c1_c0_0, x0
mrs x0, s3_7_c15_c15_7
msr s2_3_c4_c5_6, x1
mrs x0, S3_3_C13_C0_2
msr daifset, #2
msr daifset, #15
msr daifclr, #0
msr DAIFClr, #3
msr spsel, #1
msr spsel, #0
msr pan, #1
msr uao, #0
msr dit, #1
msr ssbs, #0
msr tco, #1
nop
yield
wfe
wfi
sev
sevl
esb
csdb
hint #0
hint #127
hint #34
hint 9
xpaclri
pacia1716
pacib1716
autia1716
autib1716
paciaz
paciasp
pacibz
pacibsp
autiaz
autiasp
autibz
autibsp
bti
bti c
bti j
bti jc
dsb sy
dsb st
dsb ld
dsb ish
dsb ishst
dsb ishld
dsb nsh
dsb nshst
dsb nshld
dsb osh
dsb oshst
dsb oshld
dsb #12
dmb sy
dmb ish
dmb ishld
dmb ishst
dmb oshld
dmb #0
isb
isb sy
isb #3
ssbb
pssbb
sb
svc #0
svc #0xffff
svc 1
hvc #0x1234
smc #1
brk #0
brk #0x3e8
hlt #0xf000
udf #0
udf #65535
eret
drps
dcps1
dcps2 #1
dcps3 #0xffff
dc ivac, x0
dc isw, x0
dc csw, x1
dc cisw, x2
dc zva, x0
dc cvac, x1
dc cvau, x2
dc cvap, x2
dc civac, x3
ic iallu
ic ialluis
ic ivau, x0
at s1e1r, x0
at s1e1w, x0
at s1e0r, x0
at s1e0w, x0
at s1e1rp, x0
at s1e1wp, x0
at s1e2r, x0
at s1e2w, x0
at s12e1r, x0
at s12e1w, x0
at s12e0r, x0
at s12e0w, x0
at s1e3r, x0
at s1e3w, x0
tlbi vmalle1
tlbi vmalle1is
tlbi vae1, x0
tlbi vae1is, x1
tlbi aside1, x2
tlbi aside1is, x2
tlbi vaae1, x3
tlbi vaae1is, x3
tlbi vale1, x4
tlbi vale1is, x4
tlbi vaale1, x5
tlbi vaale1is, x5
tlbi alle1
tlbi alle1is
tlbi alle2
tlbi alle2is
tlbi alle3
tlbi alle3is
tlbi vae2, x0
tlbi vae2is, x0
tlbi vale2, x0
tlbi vale2is, x0
tlbi vae3, x0
tlbi vae3is, x0
tlbi vale3, x0
tlbi vale3is, x0
tlbi vmalls12e1
tlbi vmalls12e1is
tlbi ipas2e1, x0
tlbi ipas2e1is, x0
tlbi ipas2le1, x0
tlbi ipas2le1is, x0
sys #0, c7, c5, #0
sys #3, c7, c11, #1, x0
sysl x0, #1, c2, c3, #4
`);

// ---------------------------------------------------------------------------
// Random corpora

/** Independent implementation of the architectural DecodeBitMasks, used to enumerate all valid immediates. */
function allBitmaskImmediates(width: 32 | 64): bigint[] {
  const out: bigint[] = [];
  for (let e = 2; e <= width; e *= 2) {
    for (let s = 1; s < e; s++) {
      for (let r = 0; r < e; r++) {
        let elt = 0n;
        for (let i = 0; i < s; i++) elt |= 1n << BigInt((i - r + e) % e);
        let v = 0n;
        for (let i = 0; i < width; i += e) v |= elt << BigInt(i);
        out.push(v);
      }
    }
  }
  return out;
}

function randomGenerator(seed: number) {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const bits64 = () => (BigInt(int(0, 0xffffffff)) << 32n) | BigInt(int(0, 0xffffffff));
  const gpr = (w: 'x' | 'w', zr = true) => {
    const n = int(0, zr ? 31 : 30);
    return n === 31 ? `${w}zr` : `${w}${n}`;
  };
  const gprSp = (w: 'x' | 'w') => {
    const n = int(0, 31);
    return n === 31 ? (w === 'x' ? 'sp' : 'wsp') : `${w}${n}`;
  };
  const width = () => pick(['x', 'w'] as const);
  const conds = ['eq', 'ne', 'cs', 'hs', 'cc', 'lo', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'];
  const hexImm = (v: bigint) => (rnd() < 0.5 ? `#0x${v.toString(16)}` : `#${v}`);
  return { rnd, int, pick, bits64, gpr, gprSp, width, conds, hexImm };
}

function randomInstructions(seed: number, count: number): string[] {
  const g = randomGenerator(seed);
  const { int, pick, gpr, gprSp, width, conds } = g;
  const templates: (() => string)[] = [
    () => {
      const w = width();
      const op = pick(['add', 'sub', 'adds', 'subs']);
      const rd = op.endsWith('s') ? gpr(w) : gprSp(w);
      return `${op} ${rd}, ${gprSp(w)}, #${int(0, 4095)}${pick(['', ', lsl #12', ', lsl #0'])}`;
    },
    () => {
      const w = width();
      const lim = w === 'x' ? 63 : 31;
      return `${pick(['add', 'sub', 'adds', 'subs'])} ${gpr(w)}, ${gpr(w)}, ${gpr(w)}, ${pick(['lsl', 'lsr', 'asr'])} #${int(0, lim)}`;
    },
    () => {
      const ext = pick(['uxtb', 'uxth', 'uxtw', 'uxtx', 'sxtb', 'sxth', 'sxtw', 'sxtx']);
      const w = width();
      const rm = w === 'x' && ext.endsWith('x') ? gpr('x') : gpr('w');
      const op = pick(['add', 'sub', 'adds', 'subs']);
      const rd = op.endsWith('s') ? gpr(w) : gprSp(w);
      return `${op} ${rd}, ${gprSp(w)}, ${rm}, ${ext} #${int(0, 4)}`;
    },
    () => {
      const w = width();
      const lim = w === 'x' ? 63 : 31;
      return `${pick(['and', 'orr', 'eor', 'ands', 'bic', 'orn', 'eon', 'bics'])} ${gpr(w)}, ${gpr(w)}, ${gpr(w)}, ${pick(['lsl', 'lsr', 'asr', 'ror'])} #${int(0, lim)}`;
    },
    () => {
      const w = width();
      return `${pick(['movz', 'movn', 'movk'])} ${gpr(w)}, #${int(0, 0xffff)}, lsl #${16 * int(0, w === 'x' ? 3 : 1)}`;
    },
    () => {
      // A value that MOVZ, MOVN or ORR can materialise, so MOV must pick the same one as gas.
      const w = width();
      const bits = w === 'x' ? 64 : 32;
      const chunk = BigInt(int(0, 0xffff)) << BigInt(16 * int(0, bits / 16 - 1));
      const mask = (1n << BigInt(bits)) - 1n;
      const kind = int(0, 2);
      const v = kind === 0 ? chunk : kind === 1 ? ~chunk & mask : pick(w === 'x' ? BITMASK64 : BITMASK32);
      return `mov ${gpr(w, kind !== 2)}, ${g.hexImm(v)}`;
    },
    () => {
      const w = width();
      const size = w === 'x' ? 64 : 32;
      const lsb = int(0, size - 1);
      const wd = int(1, size - lsb);
      return `${pick(['ubfx', 'sbfx', 'bfxil', 'ubfiz', 'sbfiz', 'bfi'])} ${gpr(w)}, ${gpr(w)}, #${lsb}, #${wd}`;
    },
    () => {
      const w = width();
      const size = w === 'x' ? 64 : 32;
      return `${pick(['sbfm', 'bfm', 'ubfm'])} ${gpr(w)}, ${gpr(w)}, #${int(0, size - 1)}, #${int(0, size - 1)}`;
    },
    () => {
      const w = width();
      return `${pick(['lsl', 'lsr', 'asr', 'ror'])} ${gpr(w)}, ${gpr(w)}, #${int(0, w === 'x' ? 63 : 31)}`;
    },
    () => {
      const w = width();
      return `extr ${gpr(w)}, ${gpr(w)}, ${gpr(w)}, #${int(0, w === 'x' ? 63 : 31)}`;
    },
    () => {
      const w = width();
      return `${pick(['csel', 'csinc', 'csinv', 'csneg'])} ${gpr(w)}, ${gpr(w)}, ${gpr(w)}, ${pick(conds)}`;
    },
    () => {
      const w = width();
      const c = pick(conds.slice(0, 16));
      return pick([`cset ${gpr(w)}, ${c}`, `csetm ${gpr(w)}, ${c}`, `cinc ${gpr(w)}, ${gpr(w)}, ${c}`, `cinv ${gpr(w)}, ${gpr(w)}, ${c}`, `cneg ${gpr(w)}, ${gpr(w)}, ${c}`]);
    },
    () => {
      const w = width();
      const rhs = g.rnd() < 0.5 ? gpr(w) : `#${int(0, 31)}`;
      return `${pick(['ccmp', 'ccmn'])} ${gpr(w)}, ${rhs}, #${int(0, 15)}, ${pick(conds)}`;
    },
    () => {
      const w = width();
      return `${pick(['madd', 'msub'])} ${gpr(w)}, ${gpr(w)}, ${gpr(w)}, ${gpr(w)}`;
    },
    () => `${pick(['smaddl', 'smsubl', 'umaddl', 'umsubl'])} ${gpr('x')}, ${gpr('w')}, ${gpr('w')}, ${gpr('x')}`,
    () => {
      const w = width();
      return `${pick(['udiv', 'sdiv', 'lslv', 'lsrv', 'asrv', 'rorv', 'adc', 'adcs', 'sbc', 'sbcs', 'mul', 'mneg'])} ${gpr(w)}, ${gpr(w)}, ${gpr(w)}`;
    },
    () => {
      const w = width();
      return `${pick(['clz', 'cls', 'rbit', 'rev', 'rev16'])} ${gpr(w)}, ${gpr(w)}`;
    },
    () => {
      // Loads/stores, unsigned offset: a random aligned offset within range.
      const [mn, size, w] = pick([
        ['ldr', 3, 'x'], ['str', 3, 'x'], ['ldr', 2, 'w'], ['str', 2, 'w'], ['ldrb', 0, 'w'], ['strb', 0, 'w'],
        ['ldrh', 1, 'w'], ['strh', 1, 'w'], ['ldrsb', 0, 'x'], ['ldrsb', 0, 'w'], ['ldrsh', 1, 'x'], ['ldrsh', 1, 'w'], ['ldrsw', 2, 'x'],
      ] as const);
      const off = int(0, 4095) << size;
      return `${mn} ${gpr(w)}, [${gprSp('x')}, #${off}]`;
    },
    () => {
      const [mn, w] = pick([['ldr', 'x'], ['ldr', 'w'], ['str', 'x'], ['strb', 'w'], ['ldrsh', 'x'], ['ldrsw', 'x'], ['ldrh', 'w']] as const);
      const off = int(-256, 255);
      return pick([`${mn} ${gpr(w)}, [${gprSp('x')}, #${off}]!`, `${mn} ${gpr(w)}, [${gprSp('x')}], #${off}`]);
    },
    () => {
      const [mn, w] = pick([['ldur', 'x'], ['stur', 'w'], ['ldurb', 'w'], ['ldursh', 'x'], ['ldtr', 'x'], ['sttrh', 'w'], ['ldtrsw', 'x']] as const);
      return `${mn} ${gpr(w)}, [${gprSp('x')}, #${int(-256, 255)}]`;
    },
    () => {
      const [mn, size, w] = pick([['ldr', 3, 'x'], ['str', 2, 'w'], ['ldrb', 0, 'w'], ['ldrh', 1, 'w'], ['ldrsw', 2, 'x'], ['ldrsb', 0, 'x']] as const);
      const ext = pick(['lsl', 'uxtw', 'sxtw', 'sxtx'] as const);
      const idx = ext === 'uxtw' || ext === 'sxtw' ? gpr('w') : gpr('x');
      const amount = pick([0, size]);
      const tail = ext === 'lsl' ? `, lsl #${amount}` : g.rnd() < 0.3 ? `, ${ext}` : `, ${ext} #${amount}`;
      return `${mn} ${gpr(w)}, [${gprSp('x')}, ${idx}${tail}]`;
    },
    () => {
      const w = width();
      const scale = w === 'x' ? 8 : 4;
      const off = int(-64, 63) * scale;
      const base = gprSp('x');
      const mn = pick(['ldp', 'stp']);
      return pick([
        `${mn} ${gpr(w)}, ${gpr(w)}, [${base}, #${off}]`,
        `${mn} ${gpr(w)}, ${gpr(w)}, [${base}, #${off}]!`,
        `${mn} ${gpr(w)}, ${gpr(w)}, [${base}], #${off}`,
        `${pick(['ldnp', 'stnp'])} ${gpr(w)}, ${gpr(w)}, [${base}, #${off}]`,
      ]);
    },
    () => {
      const op = pick(['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin']);
      const ord = pick(['', 'a', 'l', 'al']);
      const sz = pick(['', 'b', 'h']);
      const w = sz ? 'w' : width();
      return `ld${op}${ord}${sz} ${gpr(w)}, ${gpr(w)}, [${gprSp('x')}]`;
    },
    () => {
      const ord = pick(['', 'a', 'l', 'al']);
      const sz = pick(['', 'b', 'h']);
      const w = sz ? 'w' : width();
      return `${pick(['swp', 'cas'])}${ord}${sz} ${gpr(w)}, ${gpr(w)}, [${gprSp('x')}]`;
    },
    () => `tbz ${gpr('x')}, #${int(0, 63)}, .+${int(-8192, 8191) * 4}`,
    () => `${pick(['cbz', 'cbnz'])} ${gpr(width())}, .+${int(-262144, 262143) * 4}`,
    () => `b.${pick(conds)} #${int(-262144, 262143) * 4}`,
    () => `${pick(['b', 'bl'])} .+${int(-(1 << 25), (1 << 25) - 1) * 4}`,
    () => `adr ${gpr('x')}, .+${int(-(1 << 20), (1 << 20) - 1)}`,
    () => `mrs ${gpr('x')}, s3_${int(0, 7)}_c${int(0, 15)}_c${int(0, 15)}_${int(0, 7)}`,
    () => `msr s${int(2, 3)}_${int(0, 7)}_c${int(0, 15)}_c${int(0, 15)}_${int(0, 7)}, ${gpr('x')}`,
    () => {
      const w = width();
      const v = int(1, 4095) * pick([1, 4096]);
      return pick([`${pick(['cmp', 'cmn'])} ${gprSp(w)}, #${pick([v, -v])}`, `${pick(['add', 'sub'])} ${gprSp(w)}, ${gprSp(w)}, #${-v}`]);
    },
    () => {
      const w = width();
      const lim = w === 'x' ? 63 : 31;
      return pick([
        `${pick(['cmp', 'cmn'])} ${gpr(w)}, ${gpr(w)}, ${pick(['lsl', 'lsr', 'asr'])} #${int(0, lim)}`,
        `${pick(['neg', 'negs'])} ${gpr(w)}, ${gpr(w)}, ${pick(['lsl', 'lsr', 'asr'])} #${int(0, lim)}`,
        `${pick(['tst', 'mvn'])} ${gpr(w)}, ${gpr(w)}, ${pick(['lsl', 'lsr', 'asr', 'ror'])} #${int(0, lim)}`,
        `${pick(['ngc', 'ngcs'])} ${gpr(w)}, ${gpr(w)}`,
      ]);
    },
    () => {
      // With SP as an operand the register form is the extended one, with LSL meaning UXTX/UXTW.
      const w = width();
      const sp = w === 'x' ? 'sp' : 'wsp';
      const rm = gpr(w);
      const tail = pick(['', `, lsl #${int(0, 4)}`]);
      return pick([`add ${sp}, ${gpr(w, false)}, ${rm}${tail}`, `sub ${gpr(w, false)}, ${sp}, ${rm}${tail}`, `cmp ${sp}, ${rm}${tail}`]);
    },
    () => {
      const w = width();
      const size = w === 'x' ? 64 : 32;
      const lsb = int(0, size - 1);
      return `bfc ${gpr(w)}, #${lsb}, #${int(1, size - lsb)}`;
    },
    () => `tbnz ${gpr('w')}, #${int(0, 31)}, #${int(-8192, 8191) * 4}`,
    () => `adrp ${gpr('x')}, .+${int(-(1 << 20), (1 << 20) - 1) * 4096 + int(0, 4095)}`,
    () => {
      const w = width();
      const st = int(0, 29);
      return pick([
        `${pick(['ldxr', 'ldaxr', 'ldar', 'ldlar'])} ${gpr(w)}, [${gprSp('x')}]`,
        `${pick(['stxr', 'stlxr'])} w${st}, ${gpr(w)}, [${gprSp('x')}]`,
        `${pick(['ldxp', 'ldaxp'])} ${gpr(w)}, ${gpr(w)}, [${gprSp('x')}]`,
        `${pick(['stxp', 'stlxp'])} w${st}, ${gpr(w)}, ${gpr(w)}, [${gprSp('x')}]`,
        `${pick(['stlr', 'stllr'])}${pick(['', 'b', 'h'])} ${gpr('w')}, [${gprSp('x')}]`,
      ]);
    },
    () => {
      const w = width();
      const a = 2 * int(0, 14);
      const b = 2 * int(0, 14);
      return `casp${pick(['', 'a', 'l', 'al'])} ${w}${a}, ${w}${a + 1}, ${w}${b}, ${w}${b + 1}, [${gprSp('x')}]`;
    },
    () => `ldpsw ${gpr('x')}, ${gpr('x')}, [${gprSp('x')}, #${int(-64, 63) * 4}]${pick(['', '!'])}`,
    () => `st${pick(['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin'])}${pick(['', 'l'])}${pick(['', 'b', 'h'])} ${gpr('w')}, [${gprSp('x')}]`,
    () => `${pick(['svc', 'hvc', 'smc', 'brk', 'hlt'])} #${int(0, 0xffff)}`,
    () => `hint #${int(0, 127)}`,
    () => `${pick(['dsb', 'dmb'])} #${int(0, 15)}`,
    () => `sys #${int(0, 7)}, c${int(0, 15)}, c${int(0, 15)}, #${int(0, 7)}, ${gpr('x')}`,
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(pick(templates)());
  return out;
}

const BITMASK64 = allBitmaskImmediates(64);
const BITMASK32 = allBitmaskImmediates(32);

// ---------------------------------------------------------------------------
// Lines both tools must reject.

const INVALID = corpus(`
add x0, x1, #0x1001
add x0, x1, #4096, lsl #12
add x0, x1, #0x1000, lsl #0
add x0, x1, w2
add x0, x1, x2, ror #3
add w0, w1, w2, lsl #32
add x0, x1, w2, uxtw #5
tst sp, #1
add w0, w1, x2, uxtx
adds sp, x1, #1
add x0, xzr, #1
mov x0, #0x123456789
mov w0, #0x100000000
mov x0, #0x1234567800000000 + 1
and x0, x1, #0
and x0, x1, #-1
and w0, w1, #0x100000000
and x0, x1, #0x5
orr w0, w1, #0xffffffff
orn x0, x1, #1
ands sp, x1, #1
movz x0, #0x10000
movz w0, #1, lsl #32
movk x0, #1, lsl #8
movn x0, #-1
lsl w0, w1, #32
lsr x0, x1, #64
ubfx x0, x1, #60, #5
bfi w0, w1, #0, #33
sbfx w0, w1, #32, #1
extr w0, w1, w2, #32
sxtw w0, w1
sxtw x0, x1
ldr x0, [x1, #32768]
ldr x0, [x1, #-257]
ldr x0, [x1, #256]!
ldr x0, [x1], #-257
ldrb x0, [x1]
ldrsw w0, [x1]
ldr x0, [x1, x2, lsl #2]
ldr x0, [x1, w2]
ldr x0, [x1, x2, uxtw]
ldrb w0, [x1, x2, lsl #1]
ldur x0, [x1, #256]
ldtr x0, [x1, #256]
ldp x0, x1, [x2, #4]
ldp x0, x1, [x2, #512]
ldp x0, w1, [x2]
ldnp x0, x1, [x2], #16
ldpsw w0, w1, [x2]
stxr w0, x1, [x2, #8]
stxr x0, x1, [x2]
ldxr x0, [x1, #8]
casp x1, x2, x4, x5, [x0]
casp x0, x2, x4, x5, [x0]
casb x0, x1, [x2]
ldaddb x0, x1, [x2]
stadda x0, [x2]
b.eq .+2
b .+0x8000000
b .-0x8000004
cbz x0, .+0x100000
tbz w0, #32, .
tbz x0, #64, .
tbz x0, #3, .+0x8000
adr x0, .+0x100000
adr x0, .-0x100001
svc #0x10000
brk #-1
udf #65536
hint #128
msr daifset, #16
msr spsel, #2
mrs x0, no_such_reg
mrs w0, nzcv
msr nzcv, w0
frob x0, x1
dsb #16
dsb foo
tlbi vmalle1, x0
tlbi vae1
dc zva
ic ivau
at s1e1r
crc32x w0, w1, w2
crc32b x0, w1, w2
smull x0, x1, x2
smulh x0, w1, w2
cset x0, al
cinc x0, x1, nv
ccmp x0, #32, #0, eq
ccmp x0, x1, #16, eq
csel x0, x1, x2, zz
add x0, x1
ldr x0, [x1], x2
rev32 w0, w1
br w0
ret w1
madd x0, x1, x2, w3
mul sp, x1, x2
sub x0, x1, sp
mov xzr, #0x5555555555555555
`);

/** Whole programs with directives, compared as images rather than line by line. */
const PROGRAMS: Record<string, string> = {
  directives: `
    .text
    .global _start
    .equ STACK_TOP, 0x48000000
_start:
    movz x0, #(STACK_TOP >> 16), lsl #16
    mov sp, x0 ; mov x1, #3
1:  subs x1, x1, #1
    b.ne 1b
    adr x2, table
    ldr x3, [x2, #8]
    b 2f
    .p2align 4
table:
    .quad _start, 0x1122334455667788
    .xword table - _start
    .dword -2
    .8byte 0
2:  .word 1, 2, 3
    .4byte table
    .long 7
    .inst 0xd503201f, 0xd503201f
    .balign 64
    .align 3
    .space 12
    .skip 4
    .zero 8
end: ret
`,
  vectors: `
    .balign 0x800
vectors:
    b sync_cur_sp0
    .balign 0x80
    b irq_cur_sp0
    .balign 0x80
    b .
    .balign 0x80
    b .
    .balign 0x80
sync_cur_sp0: mrs x0, esr_el1
    eret
irq_cur_sp0: mrs x0, icc_iar1_el1
    msr icc_eoir1_el1, x0
    eret
setup: adrp x0, vectors
    add x0, x0, :lo12:vectors
    msr vbar_el1, x0
    isb
`,
  far: `
start: b far
    bl far
    cbz x0, mid19
    tbnz w1, #5, near14
    adr x0, mid19
    ldr x1, mid19
    adrp x2, far
    .space 32000
near14: tbz x0, #63, start
    .space 1000000
mid19: b.eq start
    cbnz x3, start
    .space 0x200000
far: b start
    bl start
    adrp x0, start
    adr x0, far
    .word far - start
`,
};


// ---------------------------------------------------------------------------

describe('A64 test assembler', () => {
  beforeAll(() => {
    console.log(`a64-assembler random seed: ${SEED} (set A64_ASM_SEED to reproduce)`);
  });

  // Every oracle test also fails on its own with this message when the tools are missing.
  it('has the GNU as oracle installed (Debian package binutils-aarch64-linux-gnu)', () => {
    requireToolchain();
  });

  it('matches GNU as on data-processing instructions', () => {
    compareWithGas(DATA_PROCESSING);
  });

  it('matches GNU as on branches, PC-relative forms, labels and data', () => {
    compareWithGas(PC_RELATIVE);
    // A page-aligned base moves every ADRP/:lo12: result.
    compareWithGas(PC_RELATIVE, 0x80000000n);
  });

  it('matches GNU as on loads, stores, exclusives and atomics', () => {
    compareWithGas(LOADS_STORES);
  });

  it('matches GNU as on system instructions', () => {
    compareWithGas(SYSTEM);
  });

  it('matches GNU as on every valid bitmask immediate, for each logical instruction', () => {
    const g = randomGenerator(SEED ^ 0x5bd1e995);
    const lines: string[] = [];
    for (const [w, values] of [['x', BITMASK64], ['w', BITMASK32]] as const) {
      for (const v of values) {
        const op = g.pick(['and', 'orr', 'eor', 'ands', 'tst', 'mov', 'bic'] as const);
        const imm = g.hexImm(op === 'bic' ? ~v & (w === 'x' ? (1n << 64n) - 1n : 0xffffffffn) : v);
        if (op === 'tst') lines.push(`tst ${g.gpr(w)}, ${imm}`);
        else if (op === 'mov') lines.push(`orr ${g.gprSp(w)}, ${w}zr, ${imm}`);
        else if (op === 'ands' || op === 'bic') lines.push(`${op === 'bic' ? 'bic' : 'ands'} ${op === 'bic' ? g.gprSp(w) : g.gpr(w)}, ${g.gpr(w)}, ${imm}`);
        else lines.push(`${op} ${g.gprSp(w)}, ${g.gpr(w)}, ${imm}`);
      }
    }
    expect(BITMASK64.length).toBe(5334);
    expect(new Set(BITMASK64).size).toBe(5334);
    compareWithGas(lines);
  });

  it('rejects exactly the non-bitmask values (random near misses and random words)', () => {
    const g = randomGenerator(SEED ^ 0x1234567);
    const valid64 = new Set(BITMASK64);
    const valid32 = new Set(BITMASK32);
    const candidates: [bigint, 32 | 64][] = [];
    for (let i = 0; i < 400; i++) {
      const v = g.pick(BITMASK64);
      candidates.push([v ^ (1n << BigInt(g.int(0, 63))), 64]);
      candidates.push([g.bits64(), 64]);
      const v32 = g.pick(BITMASK32);
      candidates.push([v32 ^ (1n << BigInt(g.int(0, 31))), 32]);
      candidates.push([v ^ (1n << BigInt(g.int(0, 63))) ^ (1n << BigInt(g.int(0, 63))), 64]);
    }
    const invalidLines: string[] = [];
    for (const [v, w] of candidates) {
      const expected = (w === 64 ? valid64 : valid32).has(v);
      expect(encodeBitmaskImmediate(v, w) !== undefined, `0x${v.toString(16)} / ${w}`).toBe(expected);
      if (!expected) {
        const line = `and ${w === 64 ? 'x0, x1' : 'w0, w1'}, #0x${v.toString(16)}`;
        expect(() => assembleOne(line)).toThrow(AsmError);
        invalidLines.push(line);
      }
    }
    // GNU as must agree that every one of them is unencodable.
    const errs = gasErrorLines(invalidLines);
    const accepted = invalidLines.filter((_, i) => !errs.has(i + 1));
    expect(accepted, 'lines GNU as accepted but we rejected').toEqual([]);
  });

  it(`matches GNU as on randomly generated instructions`, () => {
    compareWithGas(randomInstructions(SEED, 3000));
  });

  it('rejects unencodable lines, as GNU as does, with an error naming the line', () => {
    const errs = gasErrorLines(INVALID);
    const gasAccepted = INVALID.filter((_, i) => !errs.has(i + 1));
    expect(gasAccepted, 'corpus lines GNU as accepts (fix the corpus)').toEqual([]);
    const weAccepted: string[] = [];
    for (const line of INVALID) {
      try {
        const w = assemble(`nop\n${line}`);
        weAccepted.push(`${line} => ${hex(w[1] ?? 0)}`);
      } catch (e) {
        expect(e).toBeInstanceOf(AsmError);
        expect((e as AsmError).lineNumber).toBe(2);
        expect((e as Error).message).toMatch(/^line 2: /);
      }
    }
    expect(weAccepted, 'lines we accepted but GNU as rejects').toEqual([]);
  });

  for (const [name, program] of Object.entries(PROGRAMS)) {
    it(`matches GNU as on the \`${name}\` program`, () => {
      // The linker aligns sections relative to their own alignment, we align
      // absolute addresses: the two agree when the base is suitably aligned.
      for (const base of [0x40081000n, 0x40000000n]) {
        const ours = assemble(program, base);
        const theirs = gasAssemble(program, base);
        const diffs: string[] = [];
        for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
          if (ours[i] !== theirs[i]) diffs.push(`  +0x${(i * 4).toString(16)}: ours ${hex(ours[i] ?? 0)} gas ${hex(theirs[i] ?? 0)}`);
        }
        expect(diffs.slice(0, 40).join('\n'), `image at 0x${base.toString(16)}`).toBe('');
        expect(ours.length).toBe(theirs.length);
      }
    });
  }

  it('rejects out-of-range branches to labels', () => {
    expect(() => assemble('tbz x0, #1, far\n.space 32764\nfar: nop')).toThrow(/line 1: branch offset 32768 out of range/);
    expect(() => assemble('b.eq far\n.space 0xffffc\nfar: nop')).toThrow(/line 1: branch offset 1048576 out of range/);
    expect(() => assemble('x: .space 0x100004\nadr x0, x')).toThrow(/line 2: ADR offset -1048580 out of range/);
    expect(() => assemble('tbz x0, #1, far\n.space 32760\nfar: nop')).not.toThrow();
  });

  it('documents the choices made where GNU as has no answer', () => {
    // ADRP with a number: a byte distance in whole pages (GNU as rejects it).
    expect(assembleOne('adrp x0, #0x3000', 0x1ffcn)).toBe(assembleOne('adrp x0, .+0x3000', 0x1000n));
    expect(() => assembleOne('adrp x0, #0x1001')).toThrow(/multiple of 4096/);
    expect(() => assembleOne('ldr x0, =0x1234')).toThrow(/literal pools/);
  });

  it('reports errors with line numbers and useful messages', () => {
    expect(() => assemble('nop\n  frob x0, x1 // bad')).toThrow(/line 2: unknown mnemonic `frob`/);
    expect(() => assemble('nop\nnop\nb nowhere')).toThrow(/line 3: undefined symbol `nowhere`/);
    expect(() => assemble('ldr x0, [x1, #40000]')).toThrow(/line 1: offset 40000 cannot be encoded/);
    expect(() => assemble('ldr x0, [x1, #:lo12:x]\n.balign 8\nnop\nx: nop', 0n)).toThrow(/line 1: :lo12: offset 0xc is not a multiple of 8/);
    expect(() => assemble('a: nop\na: nop')).toThrow(/line 2: label `a` defined twice/);
    expect(() => assemble('and x0, x1, #5')).toThrow(/not a valid bitmask immediate/);
    expect(() => assemble('dmb foo')).toThrow(/unknown barrier option `foo`/);
    expect(() => assemble('.section .data')).toThrow(/unsupported directive `.section`/);
  });

  it('supports labels, local labels, directives and base addresses', () => {
    const r = assembleProgram(
      `
      .equ COUNT, 3
      start: mov x0, #COUNT   // count down
      1:     subs x0, x0, #1 ; b.ne 1b
             .balign 16
      table: .quad start, 0x1122334455667788
             .space 8
      end:   .word end - start
    `,
      0x1000n,
    );
    expect(r.labels.get('start')).toBe(0x1000n);
    expect(r.labels.get('table')).toBe(0x1010n);
    expect(r.labels.get('end')).toBe(0x1028n);
    expect(r.labels.get('COUNT')).toBe(3n);
    expect(Array.from(r.words, hex)).toEqual([
      hex(assembleOne('mov x0, #3')),
      hex(assembleOne('subs x0, x0, #1')),
      hex(assembleOne('b.ne .-4')),
      'd503201f',
      '00001000', '00000000', '55667788', '11223344',
      '00000000', '00000000',
      '00000028',
    ]);
    expect(r.bytes.length).toBe(r.words.length * 4);
    expect(r.bytes[0]).toBe(r.words[0]! & 0xff);
    expect(assembleOne('b .+8', 0x4000n)).toBe(0x14000002);
  });
});
