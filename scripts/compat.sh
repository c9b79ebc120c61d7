#!/usr/bin/env bash
# The supported ansible-core range, tested at both ends
# (docs/supported-versions.md): each end converges stock Debian 12
# (standalone), 11 (an agent) and 13 (a hub) hosts (with the stand-in app of
# molecule/resources/prepare.yml), runs again with changed=0,
# runs --check --diff with changed=0 and runs playbooks/status.yml, passing.
#
#   scripts/compat.sh [oldest|newest ...]      (no argument: both)
#
# oldest: tests/compat/oldest.txt in a venv on this host's python3, under
#   .cache/compat/oldest/.
# newest: tests/compat/newest.txt in a venv under .cache/compat/newest/, made
#   and run inside local/debian-controller:trixie (Python 3.13, docker CLI;
#   scripts/build-images.sh controller), which reaches the host's dockerd
#   through its socket. It also runs ansible-test sanity and units there.
#
# Both ends run at once, each logging to .cache/compat/<end>/compat.log.
# Every end uses the docker connection of the community.docker that the
# `ansible` package of its major bundles. Hosts are named sm-compat-<end>-<suite>.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
controller_image=local/debian-controller:trixie

# A venv with exactly the packages of tests/compat/<end>.txt; reinstalled when the list changes.
venv() {
  local end=$1 dir=$root/.cache/compat/$1
  if ! cmp -s "tests/compat/$end.txt" "$dir/venv/installed.txt" 2>/dev/null; then
    rm -rf "$dir/venv"
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install --quiet --disable-pip-version-check -r "tests/compat/$end.txt"
    cp "tests/compat/$end.txt" "$dir/venv/installed.txt"
  fi
  "$dir/venv/bin/ansible" --version | sed -n 1p  # sed reads it all: no SIGPIPE under pipefail
  "$dir/venv/bin/python" --version
}

# ansible-playbook with the end's venv; $1: log name, $2: the changed= every
# host must report (any: at least one); the rest: its arguments. Fails unless
# it exits 0 with unreachable=0 and failed=0 in every host's PLAY RECAP line.
playbook() {
  local name=$1 want=$2 log=$dir/$1.log start host recap changed
  shift 2
  start=$(date +%s)
  echo "=== $end: $name ($*)"
  if ! ANSIBLE_INVENTORY=$dir/inventory.yml "$dir/venv/bin/ansible-playbook" "$@" > "$log" 2>&1; then
    cat "$log"
    echo "FAILED: $end $name: ansible-playbook exited non-zero (log: $log)" >&2
    return 1
  fi
  for host in "${hosts[@]}"; do
    recap=$(sed -n '/^PLAY RECAP/,$p' "$log" | grep "^$host ") || recap="no PLAY RECAP line"
    changed=$(sed -n 's/.* changed=\([0-9]*\) .*/\1/p' <<< "$recap")
    if [ -z "$changed" ] || ! grep -q ' unreachable=0 *failed=0 ' <<< "$recap" \
        || { [ "$want" = any ] && [ "$changed" -eq 0 ]; } \
        || { [ "$want" != any ] && [ "$changed" -ne "$want" ]; }; then
      cat "$log"
      echo "FAILED: $end $name on $host: want changed=$want, unreachable=0, failed=0; got: $recap" >&2
      return 1
    fi
    echo "$recap"
  done
  # changed=0 alone would pass a planner that sees drift the modules then
  # find in place: a host in place must not even include the repairs.
  if [ "$want" = 0 ] && grep -q '^included: .*/present\.yml for' "$log"; then
    cat "$log"
    echo "FAILED: $end $name: a host in place included the repairs (the planner saw drift the modules did not)" >&2
    return 1
  fi
  echo "=== $end: $name took $(($(date +%s) - start))s"
}

# The four runs against fresh stock hosts with the venv of end $1: Debian 12
# standalone, Debian 11 an agent and Debian 13 a hub (playbooks/group_vars),
# both keeping the app's env file.
run() {
  end=$1 dir=$root/.cache/compat/$1
  hosts=("sm-compat-$1-bookworm" "sm-compat-$1-bullseye" "sm-compat-$1-trixie")
  venv "$end"
  trap 'docker rm -f "${hosts[@]}" >/dev/null 2>&1 || true' EXIT
  for host in "${hosts[@]}"; do
    docker rm -f "$host" >/dev/null 2>&1 || true
    docker run -d --name "$host" --network host "local/debian:${host##*-}" sleep infinity >/dev/null
  done
  # Each host answers docker exec before Ansible's first task: a clean-clone
  # CI run once found all three unreachable at once, right after their start.
  for host in "${hosts[@]}"; do
    local tries=0
    until docker exec "$host" sh -c 'mkdir -p /root/.ansible/tmp' 2>"$dir/exec.err"; do
      tries=$((tries + 1))
      if [ "$tries" -ge 50 ]; then
        echo "FAILED: $end: $host does not answer docker exec: $(cat "$dir/exec.err")" >&2
        docker ps -a --filter "name=$host" >&2
        return 1
      fi
      sleep 0.2
    done
  done
  cat > "$dir/inventory.yml" <<EOF
all:
  vars:
    ansible_connection: community.docker.docker
  hosts:
    ${hosts[0]}:
  children:
    agents:
      hosts:
        ${hosts[1]}:
      vars:
        server_maintanence_manage_env_file: true
        server_maintanence_hub_url: http://127.0.0.1:8000
        server_maintanence_hub_api_key: compat-test-key
    hubs:
      hosts:
        ${hosts[2]}:
      vars:
        server_maintanence_manage_env_file: true
EOF
  playbook prepare any molecule/resources/prepare.yml
  playbook converge any playbooks/site.yml
  playbook idempotence 0 playbooks/site.yml
  playbook check 0 playbooks/site.yml --check --diff
  playbook status 0 playbooks/status.yml
  sed -n "/Show the fleet/,/^$/p" "$dir/status.log"
}

# The newest end runs in the controller container, with the checkout at the
# same path, the host's CA bundle and proxy settings for pip.
newest() {
  scripts/build-images.sh controller
  local ca=/etc/ssl/certs/ca-certificates.crt
  mkdir -p .cache/compat/newest/home
  docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock \
    -v "$root:$root" -w "$root" -v "$ca:$ca:ro" -e PIP_CERT="$ca" -e SSL_CERT_FILE="$ca" \
    -e HOME="$root/.cache/compat/newest/home" -e ANSIBLE_FORCE_COLOR=0 \
    ${http_proxy:+-e "http_proxy=$http_proxy"} ${https_proxy:+-e "https_proxy=$https_proxy"} \
    ${HTTP_PROXY:+-e "HTTP_PROXY=$HTTP_PROXY"} ${HTTPS_PROXY:+-e "HTTPS_PROXY=$HTTPS_PROXY"} \
    ${no_proxy:+-e "no_proxy=$no_proxy"} ${NO_PROXY:+-e "NO_PROXY=$NO_PROXY"} \
    "$controller_image" scripts/compat.sh in-controller
}

in_controller() {
  run newest
  docker rm -f "${hosts[@]}" >/dev/null 2>&1 || true
  ANSIBLE_TEST_BIN=$dir/venv/bin ANSIBLE_TEST_PYTHON=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    scripts/ansible-test.sh all
}

if [ "${1:-}" = in-controller ]; then
  in_controller
  exit
fi
[ $# -gt 0 ] || set -- oldest newest
for what in "$@"; do
  case $what in
    oldest | newest) ;;
    *) echo "usage: $0 [oldest|newest ...]" >&2; exit 2 ;;
  esac
done
scripts/build-images.sh bookworm bullseye trixie
# The ends run at once (mostly waiting on PyPI and the apt mirror), each into
# its log, printed when it is done.
start=$(date +%s)
declare -A pids
for what in "$@"; do
  mkdir -p ".cache/compat/$what"
  (
    set -e
    end_start=$(date +%s)
    if [ "$what" = oldest ]; then run oldest; else newest; fi
    echo "=== compat $what: $(($(date +%s) - end_start))s"
  ) > ".cache/compat/$what/compat.log" 2>&1 &
  pids[$what]=$!
done
failed=()
for what in "$@"; do
  wait "${pids[$what]}" || failed+=("$what")
  cat ".cache/compat/$what/compat.log"
done
echo "=== compat ($*): $(($(date +%s) - start))s${failed[*]:+, FAILED: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
