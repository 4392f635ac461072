#!/usr/bin/env bash
# Recording rate of `pagesim trace record` with each tracer (README, "Recording programs"):
# the same Python run recorded with qemu-user's plugin and with valgrind lackey, without and
# with instruction fetches. Prints records (addresses) per second of wall-clock time, start-up
# included, and per CPU second (user + system of pagesim and the tracer together: the
# figure that holds on a loaded machine), and the trace's compressed bytes per record.
# A benchmark, not a test.
#
#   scripts/record_bench.sh [BUILD_DIR]      (default build; needs qemu-user and valgrind)
set -euo pipefail
build=${1:-build}
pagesim=$build/sim/pagesim
[ -x "$pagesim" ] || { echo "record_bench: no $pagesim (build first)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# A short Python run: interpreter start-up, then building, encoding and decoding a JSON
# document of 2,000 small objects.
workload=(/usr/bin/python3 -c 'import json
d = [{"k": i, "v": str(i) * 3} for i in range(2000)]
assert len(json.loads(json.dumps(d))) == 2000')

calc() { awk "BEGIN { print $1 }"; }
TIMEFORMAT='%R %U %S'
# Runs "$@" and sets wall and cpu (seconds; cpu counts waited-for children).
timed() {
  local t
  t=$({ time "$@" > /dev/null 2> "$out/err"; } 2>&1) || { cat "$out/err" >&2; exit 1; }
  read -r wall user sys <<< "$t"
  cpu=$(calc "$user + $sys")
}
timed "${workload[@]}"
printf 'workload natively: %.2f s wall, %.2f s CPU; load average %s\n' "$wall" "$cpu" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %-8s %12s %8s %8s %13s %13s %13s\n' tracer fetches records wall CPU \
  "records/s" "per CPU-s" "bytes/record"
for tracer in qemu lackey; do
  for fetches in no yes; do
    flag=()
    [ "$fetches" = yes ] && flag=(--fetches)
    timed "$pagesim" trace record --progress never --tracer "$tracer" "${flag[@]}" \
      -o "$out/t.pgt" -- "${workload[@]}"
    records=$(sed -n 's/.*t\.pgt: \([0-9]*\) records.*/\1/p' "$out/err")
    bytes=$(stat -c %s "$out/t.pgt")
    printf '%-7s %-8s %12d %7.1fs %7.1fs %11.2f M %11.2f M %13.2f\n' "$tracer" "$fetches" \
      "$records" "$wall" "$cpu" "$(calc "$records / $wall / 1e6")" \
      "$(calc "$records / $cpu / 1e6")" "$(calc "$bytes / $records")"
  done
done
