#!/bin/sh
# Run `make STAGE` for each stage, print how long each took plus the pytest
# totals of every stage.
#
#   scripts/run-stages.sh SET-UP... [-- LANE...]...
#
# The stages before the first `--` run in order, stopping at the first
# failure. Each group after a `--` is a lane: its stages run in order, and
# the lanes run side by side (their output goes to .cache/logs/<stage>.log,
# shown as each stage ends); a lane stops at its first failure, the others
# run on. The stages of different lanes must not share containers or files.
set -u
cd "$(dirname "$0")/.."
timings=.cache/timings
logs=.cache/logs
mkdir -p .cache/results "$logs"
rm -f .cache/results/*.xml "$logs"/*.log
: > "$timings"

# run STAGE [LOG]: make STAGE, its output to LOG when given; its timing line.
run() {
  start=$(date +%s)
  if [ $# -gt 1 ]; then
    make --no-print-directory "$1" > "$2" 2>&1
  else
    make --no-print-directory "$1"
  fi
  code=$?
  printf '%-22s %5ss %s\n' "$1" "$(( $(date +%s) - start ))" \
    "$([ $code -eq 0 ] && echo ok || echo FAILED)" >> "$timings"
  return $code
}

# lane STAGE...: the stages in order, each one's log shown when it ends.
lane() {
  for stage in "$@"; do
    run "$stage" "$logs/$stage.log"
    code=$?
    printf '\n=== %s (%s)\n' "$stage" "$([ $code -eq 0 ] && echo ok || echo FAILED)"
    cat "$logs/$stage.log"
    [ $code -eq 0 ] || return $code
  done
}

status=0
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  run "$1" || { status=$?; break; }
  shift
done

pids=''
if [ $status -eq 0 ] && [ $# -gt 0 ]; then
  shift
  while [ $# -gt 0 ]; do
    stages=''
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      stages="$stages $1"
      shift
    done
    [ $# -eq 0 ] || shift
    # shellcheck disable=SC2086 # one word per stage
    lane $stages &
    pids="$pids $!"
  done
  for pid in $pids; do
    wait "$pid" || status=1
  done
fi

printf '\n=== stage timings\n'
cat "$timings"
python3 scripts/junit_totals.py .cache/results/*.xml
totals=$?
[ $status -eq 0 ] && exit $totals
exit $status
