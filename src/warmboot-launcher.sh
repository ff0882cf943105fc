#!/bin/sh
# The `warmboot` command (package.json "bin", `npm start`): runs its entry point
# under node with glibc's malloc asking the kernel for transparent huge pages
# (madvise) on its large blocks. Node's buffers and V8's copy of a Wasm
# module's bytes come from malloc; loading Binaryen alone reads and copies its
# 10 MB binary, a page fault per 4 KB without huge pages. Measured on a 2-core
# EPYC VM (about 10 us a fault): cpubench 605 -> 535 ms, median of 9. Other C
# libraries, and glibc before 2.35, ignore the setting. A hugetlb tunable the
# user gives stays as given.
here=$(dirname "$(readlink -f "$0")")
case ":${GLIBC_TUNABLES:-}:" in
  *:glibc.malloc.hugetlb=*) ;;
  *) GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1"; export GLIBC_TUNABLES ;;
esac
exec node "$here/../dist/src/warmboot-command.js" "$@"
