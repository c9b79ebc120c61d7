# Shared preamble and helpers of the bench/ scripts. Not run by itself:
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init TAG [WORK_TAG]
#   BENCH_CONTAINERS=("$NAME")       # and/or BENCH_PREFIX="smbench-x-$$-"
#
# bash only (arrays, printf %(...)T); the sourcing script sets -euo pipefail.

# Containers removed on exit: these names, and every container whose name
# starts with BENCH_PREFIX (when it is set).
BENCH_CONTAINERS=()
BENCH_PREFIX=""
BENCH_TAG=bench

# bench_init TAG [WORK_TAG]: cd to the repo root; set REPO, ANSIBLE_PLAYBOOK, PY,
# IMAGE (SMBENCH_IMAGE, default local/debian:bookworm) and WORK (a fresh
# /tmp/smbench-WORK_TAG.XXXXXX, WORK_TAG defaults to TAG); install the cleanup
# traps; export the Ansible settings every bench run uses; tag log lines TAG.
bench_init() {
    BENCH_TAG=$1
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    REPO=$(pwd)
    ANSIBLE_PLAYBOOK="$REPO/.venv/bin/ansible-playbook"
    PY="$REPO/.venv/bin/python"
    IMAGE=${SMBENCH_IMAGE:-local/debian:bookworm}
    WORK=$(mktemp -d "/tmp/smbench-${2:-$1}.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM

    export ANSIBLE_CONFIG="$REPO/ansible.cfg"
    export ANSIBLE_ROLES_PATH="$REPO/roles"
    export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
}

bench_cleanup() {
    local ids=""
    if [ -n "$BENCH_PREFIX" ]; then
        ids=$(docker ps -aq --filter "name=^$BENCH_PREFIX" 2>/dev/null || true)
    fi
    if [ "${#BENCH_CONTAINERS[@]}" -gt 0 ]; then
        docker rm -f "${BENCH_CONTAINERS[@]}" >/dev/null 2>&1 || true
    fi
    # shellcheck disable=SC2086  # one id a word
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    rm -rf "$WORK"
}

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$BENCH_TAG" -1 "$*" >&2; }

# bench_failed WHAT RC OUTPUT_FILE LINES: say that WHAT failed, show the end of
# its output, exit 1.
bench_failed() {
    log "$1 failed (rc=$2); last lines of its output:"
    tail -n "$4" "$3" >&2
    exit 1
}

# calc EXPR [DECIMALS]: an awk arithmetic expression, printed with DECIMALS (2).
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# bench_elapsed T0 T1: seconds between two `date +%s.%N` stamps, 2 decimals.
bench_elapsed() { calc "$2 - $1"; }

# bench_uv_stub CONTAINER: a no-op /usr/local/bin/uv (the role only needs it to run).
bench_uv_stub() {
    timeout 60 docker exec "$1" sh -c 'printf "#!/bin/sh\nexit 0\n" > /usr/local/bin/uv && chmod 0755 /usr/local/bin/uv'
}

# bench_start CONTAINER: a plain (non-systemd) container from IMAGE, with the uv stub.
bench_start() {
    docker run -d --name "$1" --network host "$IMAGE" sleep infinity >/dev/null
    bench_uv_stub "$1"
}

# bench_apt_update CONTAINER
bench_apt_update() {
    log "apt-get update in the container"
    docker exec "$1" timeout 300 apt-get update -qq
}
