#!/bin/sh
# Run `make STAGE` for each stage in order, stop at the first failure, and
# print how long each took plus the pytest totals of every scenario.
set -u
cd "$(dirname "$0")/.."
timings=.cache/timings
mkdir -p .cache/results
rm -f .cache/results/*.xml
: > "$timings"
status=0
for stage in "$@"; do
  start=$(date +%s)
  make --no-print-directory "$stage"
  status=$?
  printf '%-22s %5ss %s\n' "$stage" "$(( $(date +%s) - start ))" \
    "$([ $status -eq 0 ] && echo ok || echo FAILED)" >> "$timings"
  [ $status -eq 0 ] || break
done
printf '\n=== stage timings\n'
cat "$timings"
python3 scripts/junit_totals.py .cache/results/*.xml
totals=$?
[ $status -eq 0 ] && exit $totals
exit $status
