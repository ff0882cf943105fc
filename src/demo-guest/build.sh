#!/bin/sh
# Rebuilds demo.elf from demo.s. The output is committed so the CLI needs no
# cross toolchain; rerun this after editing demo.s and commit both.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
for tool in as ld; do
    if ! command -v "${cross}$tool" >/dev/null 2>&1; then
        echo "build.sh: ${cross}$tool not found; install the Debian package binutils-aarch64-linux-gnu" >&2
        exit 127
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${cross}as" -march=armv8-a -o "$tmp/demo.o" "$here/demo.s"
# -n: no page alignment of the segment, which keeps the ELF a few KiB.
"${cross}ld" -n -T "$here/demo.ld" --build-id=none --no-warn-rwx-segments \
    -o "$here/demo.elf" "$tmp/demo.o"
echo "build.sh: wrote $here/demo.elf ($(wc -c < "$here/demo.elf") bytes)"
