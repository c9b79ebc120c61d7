#!/bin/sh
# Import the collection as Galaxy and Automation Hub do on every upload:
# build the tarball, then run galaxy-importer on it (its venv and config:
# tests/release/). Fails when the importer stops, logs an error, or reports
# an ansible-lint finding; prints every other warning it logs.
#
#   scripts/galaxy-import.sh IMPORTER_VENV
set -eu
cd "$(dirname "$0")/.."
importer=$(cd "$1" && pwd)
work=$importer/work
rm -rf "$work"
mkdir -p "$work/build"

# Built as tests/consumer builds it: from the checkout, with galaxy.yml's build_ignore.
.venv/bin/ansible-galaxy collection build --output-path "$work/build" . >/dev/null
set -- "$work"/build/server_maintanence-ops-*.tar.gz
[ $# -eq 1 ] && [ -f "$1" ] || { echo "galaxy-import: no single tarball in $work/build" >&2; exit 1; }
tarball=$1

log=$work/import.log
status=0
# The importer writes importer_result.json into its working directory.
(cd "$work" && GALAXY_IMPORTER_CONFIG="$OLDPWD/tests/release/galaxy-importer.cfg" \
  PATH="$importer/bin:$PATH" "$importer/bin/python" -m galaxy_importer.main "$tarball") >"$log" 2>&1 || status=$?

# The importer logs ansible-lint's findings as warnings between these two lines.
report=$(awk '
  /^Linting collection via ansible-lint/ { linting = 1; next }
  /^\.\.\.ansible-lint run complete/     { linting = 0; next }
  /^(ERROR|CRITICAL): /                  { print "error   " $0; next }
  /^WARNING: / && linting                { print "lint    " $0; next }
  /^WARNING: /                           { print "warning " $0 }
' "$log")

printf 'galaxy-importer on %s: exit %s\n' "$(basename "$tarball")" "$status"
if [ -n "$report" ]; then
  printf '%s\n' "$report"
fi
errors=$(printf '%s\n' "$report" | grep -c -E '^(error|lint) ' || true)
if [ "$status" -ne 0 ] || [ "$errors" -ne 0 ]; then
  echo "galaxy-import: FAILED ($errors errors or lint findings); the importer's log:" >&2
  cat "$log" >&2
  exit 1
fi
grep -q '^Importer processing completed successfully' "$log" || {
  echo "galaxy-import: the importer did not say it completed; its log:" >&2
  cat "$log" >&2
  exit 1
}
echo "galaxy-import: ok, no error and no lint finding"
