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
#
# Then pagesim against a bare two-level LRU TLB loop (issue 21; bench/bare_tlb.h, built
# with the project's flags, its geometry the default configuration's tlb.l1d and tlb.l2),
# on four patterns in the default configuration: seq64 (8-byte steps through 64 MiB: L1
# hits, a new page every 512 accesses), seq4k (one access per 4 KiB page, strided over
# 1 GiB: a walk per access), rand4m (uniform over 4 MiB: L1 misses, L2 hits), rand1g
# (uniform over 1 GiB: a walk per access, random). The bare loop decodes the trace into
# memory and times the loop alone (the median of 5 loops); pagesim replays the trace file.
# BENCH_ROUNDS rounds (default 3), interleaved (each round runs every pattern in the bare
# loop and the three modes), and the median round of each case is printed, with pagesim's
# slowdown against the bare loop ("x bare": bare accesses/s over pagesim's). The bare
# loop's L1d and L2 miss counts must equal native pagesim's tlb.l1d.misses and
# tlb.l2.misses: the script says so, or fails.
#
# Last, what the optional models cost: seq64 and rand1g in native mode with cache.data=true
# and with core.walk_window=72, interleaved with the default configuration.
set -euo pipefail
build=${1:-build}
pagesim=$build/sim/pagesim
bare=$build/bench/pagesim_bare_tlb
rounds=${BENCH_ROUNDS:-3}
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

# pagesim against the bare loop.
seq4k=$(gen seq4k strided 1GiB)
rand4m=$(gen rand4m uniform 4MiB)
rand1g=$(gen rand1g uniform 1GiB)
patterns=(seq64 seq4k rand4m rand1g)
declare -A trace=([seq64]=$seq [seq4k]=$seq4k [rand4m]=$rand4m [rand1g]=$rand1g)
res=$(mktemp -d)
trap 'rm -rf "$res"' EXIT
for round in $(seq 1 "$rounds"); do
  for p in "${patterns[@]}"; do
    b=$("$bare" "${trace[$p]}")
    awk '$1 == "accesses_per_second" { print $2 }' <<< "$b" >> "$res/$p-bare"
    awk '$1 == "l1d_misses" { print $2 }' <<< "$b" > "$res/$p-bare-l1d"
    awk '$1 == "l2_misses" { print $2 }' <<< "$b" > "$res/$p-bare-l2"
    for m in native nested shadow; do
      s=$("$pagesim" replay "${trace[$p]}" --progress never --set mode=$m \
        --json "$res/$p-$m.json")
      echo "$(field "$s" '^  host time' 5) $(field "$s" '^  peak memory' 3)" >> "$res/$p-$m"
    done
  done
done
median() {  # file column: the median of the column's values
  sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}
stat_of() {  # json key
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
echo
echo "pagesim against the bare two-level LRU TLB loop (median of $rounds interleaved rounds;"
echo "M acc/s, peak MiB, and x bare = the bare loop's accesses/s over pagesim's)"
printf '%-7s %9s | %8s %6s %6s | %8s %6s %6s | %8s %6s %6s | %s\n' pattern "bare" \
  native MiB "x bare" nested MiB "x bare" shadow MiB "x bare" "L1d / L2 misses, bare = native"
ok=1
for p in "${patterns[@]}"; do
  bare_rate=$(median "$res/$p-bare" 1)
  line=$(printf '%-7s %9.1f' "$p" "$(awk -v r="$bare_rate" 'BEGIN { print r / 1e6 }')")
  for m in native nested shadow; do
    rate=$(median "$res/$p-$m" 1)
    mib=$(median "$res/$p-$m" 2)
    line+=$(awk -v r="$rate" -v b="$bare_rate" -v mib="$mib" \
      'BEGIN { printf " | %8.2f %6.0f %5.1fx", r, mib, b / (r * 1e6) }')
  done
  l1d=$(stat_of "$res/$p-native.json" tlb.l1d.misses)
  l2=$(stat_of "$res/$p-native.json" tlb.l2.misses)
  bl1d=$(cat "$res/$p-bare-l1d")
  bl2=$(cat "$res/$p-bare-l2")
  if [ "$l1d" = "$bl1d" ] && [ "$l2" = "$bl2" ]; then
    line+=" | $bl1d / $bl2: equal"
  else
    line+=" | DIFFER: bare $bl1d / $bl2, pagesim $l1d / $l2"
    ok=0
  fi
  echo "$line"
done
[ $ok = 1 ] || { echo "bench: the bare loop's misses differ from pagesim's" >&2; exit 1; }

# What the optional models cost (issue 22): cache.data (every data access through the cache
# model) and core.walk_window (walk overlap, 72 accesses), native mode, on seq64 and
# rand1g, interleaved with the default configuration, the median of the rounds.
declare -A option=([default]="" [cache.data]="--set cache.data=true"
                   [walk_window]="--set core.walk_window=72")
options=(default cache.data walk_window)
for round in $(seq 1 "$rounds"); do
  for p in seq64 rand1g; do
    for o in "${options[@]}"; do
      # shellcheck disable=SC2086
      s=$("$pagesim" replay "${trace[$p]}" --progress never ${option[$o]})
      echo "$(field "$s" '^  host time' 5) $(field "$s" '^  peak memory' 3)" >> "$res/opt-$p-$o"
    done
  done
done
echo
echo "optional models, native (median of $rounds interleaved rounds; M acc/s, peak MiB, and"
echo "the default configuration's accesses/s over the option's)"
printf '%-7s | %8s %6s | %8s %6s %6s | %8s %6s %6s
' pattern default MiB cache.data MiB   "x def" walk_win MiB "x def"
for p in seq64 rand1g; do
  d=$(median "$res/opt-$p-default" 1)
  line=$(printf '%-7s | %8.2f %6.0f' "$p" "$d" "$(median "$res/opt-$p-default" 2)")
  for o in cache.data walk_window; do
    r=$(median "$res/opt-$p-$o" 1)
    line+=$(awk -v r="$r" -v d="$d" -v mib="$(median "$res/opt-$p-$o" 2)"       'BEGIN { printf " | %8.2f %6.0f %5.2fx", r, mib, d / r }')
  done
  echo "$line"
done
