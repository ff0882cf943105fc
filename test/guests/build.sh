#!/bin/sh
# Builds the bare-metal test guests for QEMU's virt board into build/.
# Usage: test/guests/build.sh  (from any directory; CROSS_COMPILE overrides the toolchain prefix)
# Outputs: hello.elf, hello.bin (raw), hello-image.elf + hello.Image (arm64
# Image header), intcheck.elf, undef.elf, and the SMP/run-loop guests psci.elf,
# psci-smc.elf, cpuonoff.elf, sysevent.elf, suspend.elf, reset.elf, reset-mmu.elf,
# selfmod.elf, selfmod-mmu.elf. All are linked at 0x40080000.
# Every output is written under a temporary name and renamed into place, so
# test files that build concurrently never read a half-written image.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out="$here/build"
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
CC="${cross}gcc"
OBJCOPY="${cross}objcopy"

for tool in "$CC:gcc-aarch64-linux-gnu" "$OBJCOPY:binutils-aarch64-linux-gnu"; do
    cmd=${tool%%:*}
    pkg=${tool#*:}
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "build.sh: $cmd not found; install the Debian package $pkg" >&2
        exit 127
    fi
done

# -mstrict-align: with the MMU off every data access is Device memory, where
#   an unaligned access takes an alignment fault, so the compiler must never
#   merge byte accesses into unaligned wider ones.
# -mgeneral-regs-only: CPACR_EL1.FPEN is 0 at reset, so any FP/SIMD
#   instruction (including compiler-generated memcpy vectorisation) would trap.
# -mno-outline-atomics: the outlined helpers probe HWCAPs via getauxval,
#   which does not exist here.
# libgcc is deliberately not linked: its helpers (e.g. __popcountdi2) use
#   SIMD, so a missing helper should fail the link rather than trap at run time.
# -fno-tree-loop-distribute-patterns: keeps memset/memcpy from compiling into
#   calls to themselves.
CFLAGS_COMMON="-O2 -g -std=gnu11 -Wall -Wextra -Werror -ffreestanding -nostdlib \
 -mgeneral-regs-only -mstrict-align -mno-outline-atomics -fno-pic -fno-pie \
 -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
 -fno-tree-loop-distribute-patterns -ffunction-sections -fdata-sections"
LDFLAGS="-nostdlib -nostartfiles -static -no-pie -T $here/common/link.ld \
 -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,--gc-sections \
 -Wl,--no-warn-rwx-segments"

mkdir -p "$out"

# link NAME MARCH SOURCES... : one ELF per guest, runtime compiled along with it
# so that each guest's -march applies to the whole image.
link() {
    name=$1
    march=$2
    shift 2
    $CC $CFLAGS_COMMON -march="$march" $LDFLAGS -o "$out/$name.elf.tmp.$$" \
        "$@" "$here/common/start.S" "$here/common/vectors.S" "$here/common/runtime.c"
    mv -f "$out/$name.elf.tmp.$$" "$out/$name.elf"
}

# link_smp NAME MARCH [-DFLAGS...] SOURCES... : as link, plus the secondary-cpu
# entry and PSCI helpers of common/smp.S and common/smp.c.
link_smp() {
    name=$1
    march=$2
    shift 2
    link "$name" "$march" "$@" "$here/common/smp.S" "$here/common/smp.c"
}

# objcopy_bin ELF BIN: a raw image, renamed into place like the ELFs.
objcopy_bin() {
    $OBJCOPY -O binary "$1" "$2.tmp.$$"
    mv -f "$2.tmp.$$" "$2"
}

link hello armv8-a "$here/hello/hello.c"
# Raw binary: QEMU loads a file with neither ELF nor Image magic at RAM + 0x80000.
objcopy_bin "$out/hello.elf" "$out/hello.bin"

link hello-image armv8-a "$here/common/image-head.S" "$here/hello/hello.c"
objcopy_bin "$out/hello-image.elf" "$out/hello.Image"

link intcheck armv8.1-a+crc "$here/intcheck/intcheck.c"
link undef armv8-a "$here/undef/undef.c"

link_smp psci armv8-a "$here/psci/psci.c"
link_smp psci-smc armv8-a -DCONDUIT_SMC "$here/psci/psci.c"
# armv8-a: the LSE instructions are enabled only inside the asm that checks
# ID_AA64ISAR0_EL1 first, so the compiler never emits them on its own.
link_smp cpuonoff armv8-a "$here/cpuonoff/cpuonoff.c"
link_smp sysevent armv8-a "$here/sysevent/sysevent.c"
link_smp suspend armv8-a "$here/suspend/suspend.c"
# reset: entered through common/entry-record.S, which records the boot cpu's
# state at the entry before start.S runs.
link_smp reset armv8-a -Wl,-e,recorded_start "$here/common/entry-record.S" "$here/reset/reset.c"
link_smp reset-mmu armv8-a -DWITH_MMU -Wl,-e,recorded_start "$here/common/entry-record.S" \
    "$here/common/mmu.c" "$here/reset/reset.c"
link_smp selfmod armv8-a "$here/selfmod/selfmod-asm.S" "$here/selfmod/selfmod.c"
link_smp selfmod-mmu armv8-a -DWITH_MMU "$here/selfmod/selfmod-asm.S" "$here/common/mmu.c" "$here/selfmod/selfmod.c"
# gic: timers, GICv2/GICv3 priorities, triggers, EOI modes, FIQ and SGIs on 4 cpus.
link_smp gic armv8-a "$here/gic/gic.c"
# sleep: one guest second in WFI, for the host CPU time check.
link sleep armv8-a "$here/sleep/sleep.c"

echo "build.sh: guests built in $out"
