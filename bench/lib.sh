# shellcheck shell=bash
# Shared by bench/speed.sh and bench/rotation.sh; sourced, not run (bash).
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init TAG

# bench_init TAG: cd to the repo root (its ansible.cfg applies), put .venv/bin
# first on PATH, make a scratch dir $WORK and name containers $BENCH_PREFIX*;
# on exit both are removed, whatever happened.
bench_init() {
    BENCH_TAG=$1
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
    REPO=$(pwd)
    PATH="$REPO/.venv/bin:$PATH"
    BENCH_PREFIX="sm-bench-$1-$$-"
    WORK=$(mktemp -d "/tmp/sm-bench-$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    export ANSIBLE_NOCOLOR=1
}

bench_cleanup() {
    docker ps -aq --filter "name=^$BENCH_PREFIX" | xargs -r docker rm -f >/dev/null 2>&1 || true
    rm -rf "$WORK"
}

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$BENCH_TAG" -1 "$*" >&2; }

# bench_play LOG ANSIBLE-PLAYBOOK-ARGS...: one run, its output in LOG; on a
# failure, show the end of LOG and exit.
bench_play() {
    local out=$1 rc=0
    shift
    timeout 900 ansible-playbook "$@" >"$out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && return 0
    log "ansible-playbook $* failed (rc=$rc):"
    tail -n 40 "$out" >&2
    exit 1
}

# bench_standins: print the path of a tar of the deployed app's stand-ins, as
# molecule/resources/prepare.yml lays them out (uv; manage.py and bin/update.sh
# of www-data; the env file, root:www-data 0640). Put it in a container with
#   docker cp -a - CONTAINER:/ < TAR
bench_standins() {
    local stub=molecule/resources/stub-app root=$WORK/standins tar=$WORK/standins.tar
    if [ ! -s "$tar" ]; then
        install -D -m 0755 "$stub/uv" "$root/usr/local/bin/uv"
        install -D -m 0755 "$stub/manage.py" "$root/opt/server-monitoring/manage.py"
        install -D -m 0755 "$stub/bin/update.sh" "$root/opt/server-monitoring/bin/update.sh"
        install -d -m 0750 "$root/etc/server-monitoring"
        printf 'DJANGO_SETTINGS_MODULE=config.settings\nDJANGO_SECRET_KEY=sm-bench-secret-key-not-for-production\n' \
            > "$root/etc/server-monitoring/env"
        chmod 0640 "$root/etc/server-monitoring/env"
        # Debian's www-data is 33:33.
        tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$tar" usr/local/bin/uv
        tar -C "$root" --numeric-owner --owner=33 --group=33 -rf "$tar" opt/server-monitoring
        tar -C "$root" --numeric-owner --owner=0 --group=33 -rf "$tar" etc/server-monitoring
    fi
    echo "$tar"
}
