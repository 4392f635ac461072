#!/usr/bin/env bash
# Statistics identity: replays a fixed set of traces and configurations with --json and
# saves every statistic, or compares them with a saved set bit for bit. For hot-path work
# that must not change a single count (issue 21): save with the build of the commit before
# the change, compare with the build after it.
#   scripts/stats_identity.sh save    BUILD_DIR OUT_DIR
#   scripts/stats_identity.sh compare BUILD_DIR OUT_DIR   (exit 1 on any difference)
# Cases: the bundled traces (traces/examples/*, tests/data/repro/*) in native, nested and
# shadow mode; generated patterns (sequential, strided 4 KiB, uniform over 4 MiB and 1 GiB,
# zipf with stores and fetches) in the three modes, with tree_plru and random TLB
# replacement, 2 MiB pages, --check; host reclaim (host.memory below the footprint, nested
# and shadow); the randomized check's traces of seeds 1-12 (tests/random_check, each with
# its own configuration: madvise, memslots, balloons, several VMs). A run that fails keeps
# its exit status and message as its "statistics". Fields compared: every one, except
# those measuring the host running the simulator (wall time, host time, peak memory) and
# the provenance (docs/outputs.md), which names paths, times and the build.
set -euo pipefail
action=${1:?save or compare}
build=${2:?build directory}
out=${3:?output directory}
pagesim=$(realpath "$build/sim/pagesim")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
[ "$action" = save ] || [ "$action" = compare ] || { echo "save or compare" >&2; exit 2; }

# The statistics of one run with host-dependent fields dropped, one `key value` a line.
normalise() {
  python3 -c '
import json, re, sys
skip = re.compile(r"(wall|host_time|host\.time|peak|rss|seconds|elapsed)", re.I)
d = json.load(open(sys.argv[1]))
d.pop("provenance", None)  # how the file was made (paths, times, host): not a statistic
def walk(prefix, v):
    if isinstance(v, dict):
        for k in sorted(v):
            walk(prefix + "." + k if prefix else k, v[k])
    elif not skip.search(prefix):
        print(prefix, json.dumps(v))
walk("", d)' "$1"
}

failed=0
new_zero_rows=""
case_() {  # name trace args...
  local name=$1 trace=$2
  shift 2
  local res="$work/$name.txt"
  if "$pagesim" replay "$trace" -q --progress never --json "$work/$name.json" "$@" \
      > "$work/$name.out" 2> "$work/$name.err"; then
    normalise "$work/$name.json" > "$res"
  else
    { echo "exit $?"; cat "$work/$name.err"; } > "$res"
  fi
  if [ "$action" = save ]; then
    cp "$res" "$out/$name.txt"
  elif ! cmp -s "$res" "$out/$name.txt"; then
    # Statistics a change added count 0 where the saved set has no such name: reported, not
    # a difference (a new counter of something these runs never do).
    if new=$(python3 - "$out/$name.txt" "$res" <<'PY'
import sys
old = open(sys.argv[1]).read().splitlines()
new = open(sys.argv[2]).read().splitlines()
keys = {l.split(" ", 1)[0] for l in old}
added = [l for l in new if l.split(" ", 1)[0] not in keys]
if [l for l in new if l not in added] != old or any(l.split(" ", 1)[1] != "0" for l in added):
    sys.exit(1)
print(" ".join(l.split(" ", 1)[0] for l in added))
PY
    ); then
      new_zero_rows="$new"
    else
      echo "DIFFERS: $name ($trace $*)"
      diff "$out/$name.txt" "$res" | head -20 || true
      failed=1
    fi
  fi
}

modes=(native nested shadow)
for t in "$root"/traces/examples/*.trace "$root"/traces/examples/*.pgt \
         "$root"/tests/data/repro/*.trace; do
  for m in "${modes[@]}"; do
    case_ "$(basename "$t")-$m" "$t" --set mode=$m
  done
done

gen() {  # name spec
  "$pagesim" trace gen "$2" --out "$work/$1.pgt" > /dev/null
  echo "$work/$1.pgt"
}
seq64=$(gen seq64 sequential:count=300000,footprint=64MiB)
seq4k=$(gen seq4k strided:count=200000,footprint=1GiB,stride=4KiB)
rand4m=$(gen rand4m uniform:count=200000,footprint=4MiB,seed=2)
rand1g=$(gen rand1g uniform:count=200000,footprint=1GiB,seed=3)
zipf=$(gen zipf zipf:count=200000,footprint=8GiB,writes=0.3,fetches=0.1,seed=4)
rand2g=$(gen rand2g uniform:count=150000,footprint=2GiB,writes=0.5,seed=5)
for m in "${modes[@]}"; do
  for t in seq64 seq4k rand4m rand1g zipf; do
    case_ "$t-$m" "$work/$t.pgt" --set mode=$m
  done
  case_ "zipf-$m-plru" "$zipf" --set mode=$m --set tlb.l1d.replacement=tree_plru \
    --set tlb.l1i.replacement=tree_plru --set tlb.l2.replacement=tree_plru \
    --set tlb.l2.ways=16 --set tlb.l2.entries=1024
  case_ "zipf-$m-random" "$zipf" --set mode=$m --set tlb.l1d.replacement=random \
    --set tlb.l2.replacement=random
  case_ "rand1g-$m-check" "$rand1g" --set mode=$m --check
done
case_ zipf-native-thp2m "$zipf" --set os.thp=2m
case_ zipf-nested-thp2m "$zipf" --set mode=nested --set guest.thp=2m --set host.thp=2m \
  --set vm.memory=16GiB
case_ zipf-shadow-thp2m "$zipf" --set mode=shadow --set guest.thp=2m --set vm.memory=16GiB
case_ rand2g-nested-reclaim "$rand2g" --set mode=nested --set vm.memory=4GiB \
  --set host.memory=1GiB
case_ rand2g-shadow-reclaim "$rand2g" --set mode=shadow --set vm.memory=4GiB \
  --set host.memory=1GiB
case_ rand2g-nested-reclaim-check "$rand2g" --set mode=nested --set vm.memory=4GiB \
  --set host.memory=1GiB --check

# The randomized check's traces, each with the configuration it draws, in trace order and
# without kvm_pvm's root copies (the check draws sim.interleave=time and
# shadow.vcpu_root_copy for some seeds since issue 20's barriers and the two-vCPU
# validation; the set stays the one saved before).
for seed in $(seq 1 12); do
  cmd=$(python3 "$root/tests/random_check/random_check.py" --pagesim "$pagesim" \
    --emit "$seed" --out "$work/rc")
  eval "set -- $cmd"
  shift 2  # pagesim replay
  args=()
  while [ $# -gt 0 ]; do  # case_ sets these itself
    case $1 in
      --quiet) ;;
      --progress) shift ;;
      sim.interleave=time) args+=("sim.interleave=trace") ;;
      shadow.vcpu_root_copy=true) args+=("shadow.vcpu_root_copy=false") ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  case_ "random-check-$seed" "${args[@]}"
done

[ "$action" = save ] && echo "saved $(ls "$out" | wc -l) cases in $out"
if [ "$action" = compare ] && [ -n "$new_zero_rows" ]; then
  echo "new statistics, 0 in every case that has them (not in the saved set): $new_zero_rows"
fi
[ "$action" = compare ] && [ $failed = 0 ] && echo "identical: $(ls "$out" | wc -l) cases"
exit $failed
