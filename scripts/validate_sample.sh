#!/usr/bin/env bash
# make validate's fixed sample (docs/validation.md, "Sampling"): `pagesim-validate --sample N
# --seed S`, then each scenario that did not pass run once more alone, with the options the
# report gives it. A scenario that passes the second time is reported as such (a host event
# the tolerances did not cover: docs/validation.md, "Tolerances"); one that fails twice fails
# the step. Exit status: 0, 1 a scenario failed twice, 77 skipped (no /dev/kvm, ...).
#   scripts/validate_sample.sh BUILD_DIR N SEED REPORT
set -uo pipefail
build=$1 n=$2 seed=$3 report=$4
validate=$build/validate/pagesim-validate
"$validate" --sample "$n" --seed "$seed" > "$report"
rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
  exit $rc
fi
# "  sample-K (STATUS): pagesim-validate OPTIONS" lines of the summary.
mapfile -t again < <(sed -n 's/^  \(sample-[0-9]*\) ([^)]*): pagesim-validate \(.*\)$/\1 \2/p' "$report")
if [ ${#again[@]} -eq 0 ]; then
  cat "$report"
  echo "validate: the sample stopped before its summary"
  exit 1
fi
failed=0
for line in "${again[@]}"; do
  name=${line%% *}
  options=${line#* }
  # shellcheck disable=SC2086 # the options are words
  if "$validate" $options > "$report.$name" 2>&1; then
    echo "validate: $name did not pass in the sample and passed alone: $options" | tee -a "$report"
  else
    cat "$report.$name"
    echo "validate: $name failed twice: $options" | tee -a "$report"
    failed=1
  fi
done
exit $failed
