#!/usr/bin/env bash
# Before/after replay speed of two builds, interleaved, on make bench's traces: for a change
# on the hot path, the figures of its closing note.
#   scripts/bench_ab.sh BEFORE_BUILD AFTER_BUILD [TRACES_DIR]   (ROUNDS=N, default 3)
# TRACES_DIR holds seq-, rand4m-, seq4k- and rand1g-10000000.pgt (scripts/bench.sh writes
# them to BUILD/bench-traces). Each round replays every pattern in native, nested and shadow
# mode with the before binary, then the after one; the medians of the rounds are printed
# with after/before, and the peak memory of each.
set -euo pipefail
before=${1:?before build}/sim/pagesim
after=${2:?after build}/sim/pagesim
traces=${3:-${2}/bench-traces}
rounds=${ROUNDS:-3}
res=$(mktemp -d)
trap 'rm -rf "$res"' EXIT
for r in $(seq 1 "$rounds"); do
  for p in seq64:seq rand4m:rand4m seq4k:seq4k rand1g:rand1g; do
    name=${p%%:*}
    f=$traces/${p##*:}-10000000.pgt
    [ -f "$f" ] || { echo "bench_ab: $f missing (run scripts/bench.sh first)" >&2; exit 2; }
    for m in native nested shadow; do
      for side in before after; do
        bin=$before
        [ "$side" = after ] && bin=$after
        s=$("$bin" replay "$f" --progress never --set mode=$m)
        rate=$(awk '/^  host time/ { gsub(",", "", $5); print $5 }' <<< "$s")
        mib=$(awk '/^  peak memory/ { print $3 }' <<< "$s")
        echo "$rate $mib" >> "$res/$name-$m-$side"
      done
    done
  done
done
med() { sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }
printf '%-7s %-7s %10s %10s %7s %9s %9s\n' pattern mode "before M/s" "after M/s" after/bef \
  "MiB bef" "MiB aft"
for name in seq64 rand4m seq4k rand1g; do
  for m in native nested shadow; do
    b=$(med "$res/$name-$m-before" 1)
    a=$(med "$res/$name-$m-after" 1)
    printf '%-7s %-7s %10.2f %10.2f %7.3f %9s %9s\n' "$name" "$m" "$b" "$a" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')" "$(med "$res/$name-$m-before" 2)" \
      "$(med "$res/$name-$m-after" 2)"
  done
done
