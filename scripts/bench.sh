#!/usr/bin/env bash
# The replay benchmark: accesses per second and peak memory of `pagesim replay` on
# 10^7-access traces, read from binary trace files as users replay them.
#   scripts/bench.sh [BUILD_DIR]        (BENCH_COUNT=N for another trace length)
# Cases: (a) sequential, TLB-friendly: 8-byte steps through 64 MiB (every 512th access
# touches a new page); (b) uniform random 8-byte-aligned addresses over 64 GiB (almost
# every access misses the TLBs, and most fault in a new page). Each in native, nested and
# shadow mode (a guest of 96 GiB on the default host. nested: every miss is a 2D walk,
# every first touch a guest page fault, an EPT violation and a host page fault; shadow:
# every first touch two shadow page faults, a guest page fault and a host page fault).
# (c) host memory pressure: uniform random over 8 GiB in a 16 GiB nested guest, once on the
# default host and once on a 6 GiB host (after the first 6 GiB are touched, every host fault
# reclaims: kswapd evicts, zaps EPT leaves, shoots down the TLBs, swaps; refaults swap in).
# "state B/page" is the peak resident memory above that of a one-access replay, divided
# by the pages the run touched (os.page_faults; nested: guest.page_faults): what the
# simulator keeps per page.
set -euo pipefail
build=${1:-build}
pagesim=$build/sim/pagesim
out=${BENCH_DIR:-$build/bench-traces}
count=${BENCH_COUNT:-10000000}
mkdir -p "$out"

gen() {  # name pattern footprint
  local f="$out/$1-$count.pgt"
  [ -f "$f" ] || "$pagesim" trace gen "$2" --count "$count" --footprint "$3" --seed 1 \
    --out "$f" > /dev/null
  echo "$f"
}

field() {  # summary label-regex field-number
  awk -v re="$2" -v n="$3" '$0 ~ re { v = $n; gsub(",", "", v); print v; exit }' <<< "$1"
}

echo 'R 0x1000' > "$out/one.trace"
baseline=$(field "$("$pagesim" replay "$out/one.trace" --progress never)" '^  peak memory' 3)

printf '%-24s %12s %9s %9s %10s %14s\n' case accesses seconds "M acc/s" "peak MiB" "state B/page"
run() {  # name trace extra-args...
  local name=$1 trace=$2
  shift 2
  local s
  s=$("$pagesim" replay "$trace" --progress never "$@")
  local acc secs rate mib pages
  acc=$(field "$s" '^  accesses' 2)
  secs=$(field "$s" '^  host time' 3)
  rate=$(field "$s" '^  host time' 5)
  mib=$(field "$s" '^  peak memory' 3)
  pages=$(field "$s" '^  (guest )?page faults' 3)
  [[ "$s" == *"guest page faults"* ]] && pages=$(field "$s" '^  guest page faults' 4)
  awk -v name="$name" -v acc="$acc" -v secs="$secs" -v rate="$rate" -v mib="$mib" \
      -v base="$baseline" -v pages="$pages" 'BEGIN {
    per_page = (pages > 0) ? (mib - base) * 1048576 / pages : 0
    printf "%-24s %12d %9.3f %9.2f %10.1f %14.0f\n", name, acc, secs, rate, mib, per_page }'
}

seq=$(gen seq sequential 64MiB)
rnd=$(gen uniform uniform 64GiB)
run "native sequential" "$seq"
run "native uniform 64GiB" "$rnd"
nested=(--set mode=nested --set vm.memory=96GiB)
run "nested sequential" "$seq" "${nested[@]}"
run "nested uniform 64GiB" "$rnd" "${nested[@]}"
rnd8=$(gen uniform8 uniform 8GiB)
run "nested uniform 8GiB" "$rnd8" --set mode=nested --set vm.memory=16GiB
run "nested 8GiB, host 6GiB" "$rnd8" --set mode=nested --set vm.memory=16GiB \
  --set host.memory=6GiB
shadow=(--set mode=shadow --set vm.memory=96GiB)
run "shadow sequential" "$seq" "${shadow[@]}"
run "shadow uniform 64GiB" "$rnd" "${shadow[@]}"
