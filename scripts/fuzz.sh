#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build (fuzz/CMakeLists.txt) for SECONDS each, from
# its seeds (fuzz/seeds/<name>) and the damaged traces (tests/data/damaged), and prints one
# line per target: runs, time, coverage. New corpus inputs go to BUILD/corpus/<name>, a
# crashing input to BUILD/artifacts/<name>-crash-...; any crash, sanitizer report, leak,
# timeout (10 s per input) or out-of-memory fails the script.
#
#   scripts/fuzz.sh BUILD SECONDS
set -uo pipefail
build=${1:?usage: fuzz.sh BUILD SECONDS}
seconds=${2:?usage: fuzz.sh BUILD SECONDS}
root=$(cd "$(dirname "$0")/.." && pwd)
failed=0
shopt -s nullglob
targets=()
for f in "$build"/fuzz_*; do
  [ -f "$f" ] && [ -x "$f" ] && targets+=("$f")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz_* targets in $build" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  name=${target##*/fuzz_}
  corpus="$build/corpus/$name"
  mkdir -p "$corpus" "$build/artifacts" "$build/logs"
  seeds=()
  [ -d "$root/fuzz/seeds/$name" ] && seeds+=("$root/fuzz/seeds/$name")
  log="$build/logs/$name.log"
  "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name-" "$corpus" "${seeds[@]}" "$root/tests/data/damaged" \
    > "$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    failed=1
    echo "fuzz $name: FAILED (exit $rc), see $log:"
    grep -E -m 20 "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$log"
  else
    echo "fuzz $name: ${runs:-?} runs in ${seconds} s, $cov, corpus $(ls "$corpus" | wc -l) files"
  fi
done
exit $failed
