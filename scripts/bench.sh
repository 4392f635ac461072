#!/usr/bin/env bash
# The replay benchmark: accesses per second and peak memory of `pagesim replay` on
# 10^7-access traces, read from binary trace files as users replay them.
#   scripts/bench.sh [BUILD_DIR]
# Cases: (a) sequential, TLB-friendly: 8-byte steps through 64 MiB (every 512th access
# touches a new page); (b) uniform random 8-byte-aligned addresses over 64 GiB (almost
# every access misses the TLBs and faults in a new page).
set -euo pipefail
build=${1:-build}
pagesim=$build/sim/pagesim
out=${BENCH_DIR:-$build/bench-traces}
count=${BENCH_COUNT:-10000000}
mkdir -p "$out"

gen() {  # name pattern footprint
  local f="$out/$1.pgt"
  [ -f "$f" ] || "$pagesim" trace gen "$2" --count "$count" --footprint "$3" --seed 1 --out "$f"
  echo "$f"
}

printf '%-28s %12s %10s %12s %12s %14s\n' case accesses seconds "M acc/s" "peak MiB" "bytes/page"
run() {  # name trace extra-args...
  local name=$1 trace=$2; shift 2
  local summary
  summary=$("$pagesim" replay "$trace" --progress never "$@")
  awk -v name="$name" '
    /^  accesses/        { gsub(",", "", $2); acc = $2 }
    /^  page faults/     { gsub(",", "", $3); pages = $3 }
    /^  host time/       { secs = $3; rate = $5 }
    /^  peak memory/     { mib = $3 }
    END { printf "%-28s %12d %10.3f %12.2f %12.1f %14.0f\n", name, acc, secs, rate, mib,
          pages > 0 ? mib * 1048576 / pages : 0 }' <<< "$summary"
}

seq=$(gen seq sequential 64MiB)
rnd=$(gen uniform64g uniform 64GiB)
run "native sequential" "$seq"
run "native uniform 64GiB" "$rnd"
