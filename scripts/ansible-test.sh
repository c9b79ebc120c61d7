#!/usr/bin/env bash
# Run ansible-test, the ecosystem's own checks, on what this collection ships.
#
#   scripts/ansible-test.sh sanity|units|all [extra ansible-test arguments]
#
# e.g. `scripts/ansible-test.sh sanity --test pylint`, or
# `scripts/ansible-test.sh units -v`; with `all` the extra arguments go to both.
#
# ansible-test only works from ansible_collections/<namespace>/<name>/, and it
# checks every file it finds there. So the collection is built with
# `ansible-galaxy collection build` (galaxy.yml's build_ignore decides what
# ships, as for a release) and the tarball is unpacked into
# .cache/ansible-test/ansible_collections/server_maintanence/ops/, refreshed on
# every run. A copy rather than symlinks: ansible-test's `symlinks` sanity test
# rejects links that leave the content tree, and a copy cannot write back into
# the checkout. The tree is its own tiny git repository (`git init`, nothing
# committed) because ansible-test lists files with `git ls-files --others`:
# without it, it would find the checkout's .git above it, where .cache/ is
# ignored, and see no files at all. The checkout's own git state is untouched.
#
# Nothing runs in docker: --venv makes ansible-test create Python virtual
# environments (from PyPI) under ~/.ansible/test/venv (sanity) and under the
# tree's tests/output/.tmp (units), both kept between runs.
set -euo pipefail

usage() {
  echo "usage: $0 sanity|units|all [extra ansible-test arguments]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
what=$1
shift
case $what in
  sanity | units | all) ;;
  *) usage ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
# ANSIBLE_TEST_BIN, ANSIBLE_TEST_PYTHON: another ansible-core's venv and Python
# (scripts/compat.sh runs the newest core's ansible-test on Python 3.13).
export PATH="${ANSIBLE_TEST_BIN:-$root/.venv/bin}:$PATH"
python=${ANSIBLE_TEST_PYTHON:-3.11}
namespace=$(sed -n 's/^namespace: *//p' "$root/galaxy.yml")
name=$(sed -n 's/^name: *//p' "$root/galaxy.yml")
tree=$root/.cache/ansible-test/ansible_collections/$namespace/$name

# One run at a time: the tree below is shared.
mkdir -p "$root/.cache"
exec 9> "$root/.cache/ansible-test.lock"
flock 9

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

# What ships: exactly the members of the release tarball.
ansible-galaxy collection build --force --output-path "$build" "$root" >/dev/null
tarball=("$build"/*.tar.gz)

# Refresh the tree, keeping tests/output (ansible-test's venv and results) and .git.
mkdir -p "$tree"
find "$tree" -mindepth 1 -maxdepth 1 ! -name tests ! -name .git -exec rm -rf {} +
if [ -d "$tree/tests" ]; then
  find "$tree/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
fi
tar -xzf "${tarball[0]}" -C "$tree" --exclude MANIFEST.json --exclude FILES.json
# galaxy.yml is the source of MANIFEST.json, which is left out; ansible-test reads it.
cp "$root/galaxy.yml" "$tree/galaxy.yml"

if [ ! -d "$tree/.git" ]; then
  git -C "$tree" init --quiet
fi
mkdir -p "$tree/.git/info"
printf '%s\n' /tests/output/ __pycache__/ > "$tree/.git/info/exclude"

# ansible-test creates each venv without pip, then runs a pinned get-pip.py it
# downloads from ci-files.testing.ansible.com, which this network cannot reach.
# Its error message names the cache path to save that script to; when it is
# missing, save a stand-in there that does the same job from PyPI: bootstrap
# pip offline with ensurepip, then `pip install` the pinned packages it is given.
ansible_test_lib=$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" "$ansible_test_lib/_internal/python_requirements.py" | head -n 1)
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ -n "$pip_version" ] && [ ! -f "$get_pip" ]; then
  mkdir -p "$(dirname "$get_pip")"
  cat > "$get_pip" <<'EOF'
"""Stand-in for get-pip.py, saved by server_maintanence.ops' scripts/ansible-test.sh:
install pip with ensurepip, then pip-install the packages asked for from PyPI."""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
had_setuptools = subprocess.call([sys.executable, "-c", "import setuptools"], stderr=subprocess.DEVNULL) == 0
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
if "--no-setuptools" in sys.argv and not had_setuptools:
    subprocess.call([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"])
EOF
  echo "saved a get-pip stand-in at $get_pip"
fi

cd "$tree"
status=0

if [ "$what" = sanity ] || [ "$what" = all ]; then
  echo "=== ansible-test sanity ($tree)"
  start=$(date +%s)
  ansible-test sanity --venv --python "$python" --requirements --color no "$@" || status=1
  echo "=== sanity: $(($(date +%s) - start))s"
fi

if [ "$what" = units ] || [ "$what" = all ]; then
  echo "=== ansible-test units ($tree)"
  start=$(date +%s)
  ansible-test units --venv --python "$python" --requirements --color no "$@" tests/unit/plugins/ || status=1
  echo "=== units: $(($(date +%s) - start))s"
fi

exit $status
