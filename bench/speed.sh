#!/usr/bin/env bash
# Speed benchmark of the server_maintanence role, timed by hyperfine. Not a
# test: it asserts nothing, it prints ratios to the floor, an empty play (no
# tasks, default fact gathering, become) on the same hosts:
#   - the idempotent run of playbooks/site.yml on N hosts, target <= 1.0x;
#   - the first converge of a fresh stock Debian host (cron and logrotate
#     present), target <= 1.3x;
#   - a run after one setting changed (the health check's schedule) on one
#     converged host, target <= 1.0x;
#   - for a per-task view, one idempotent run on the largest N with the
#     ansible.posix.profile_tasks and ansible.posix.timer callbacks.
# Hosts are local/debian-stock:bookworm containers (built if missing), docker
# connection; forks are ansible.cfg's unless ANSIBLE_FORKS says otherwise.
#
#   bench/speed.sh                                  # as root (apt installs hyperfine)
#   BENCH_HOSTS="1 3" BENCH_RUNS=2 bench/speed.sh   # a quick look (default: 1 10 30 100 hosts)
#
# The report goes to stdout, progress and hyperfine's own output to stderr.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"
bench_init speed
SIZES=${BENCH_HOSTS:-1 10 30 100}
RUNS=${BENCH_RUNS:-5}
counts='^[1-9][0-9]*( +[1-9][0-9]*)+ *$'  # RUNS, then one or more host counts
[[ "$RUNS $SIZES" =~ $counts ]] || { echo "BENCH_HOSTS, BENCH_RUNS: counts, e.g. \"1 10 30\", 5" >&2; exit 2; }
IMAGE=local/debian-stock:bookworm
SITE=playbooks/site.yml
FLOOR=$WORK/floor.yml
printf -- '- name: Floor\n  hosts: all\n  become: true\n  tasks: []\n' > "$FLOOR"

if ! command -v hyperfine >/dev/null 2>&1; then
    log "installing hyperfine"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine >/dev/null
fi
docker image inspect "$IMAGE" >/dev/null 2>&1 || scripts/build-images.sh stock >&2
STANDINS=$(bench_standins)

# host_cmd NAME: the shell command that (re)creates container NAME, stand-ins
# in and cron running, as on a stock Debian server (a container starts none).
host_cmd() {
    echo "docker rm -f $1 >/dev/null 2>&1; docker run -d --name $1 --network host $IMAGE sleep infinity >/dev/null" \
         "&& docker cp -a - $1:/ < $STANDINS && docker exec $1 service cron start >/dev/null"
}

inventory() {  # inventory FILE HOST...
    local file=$1
    shift
    printf '%s\n' '[all:vars]' 'ansible_connection=community.docker.docker' '[bench]' "$@" > "$file"
}

# bench NAME CSV [HYPERFINE-OPTIONS...] -n LABEL CMD...: hyperfine, --warmup 1
# --runs $RUNS; the last run's output is kept in CSV.out.
bench() {
    log "hyperfine: $1"
    shift
    hyperfine --style basic --warmup 1 --runs "$RUNS" --export-csv "$1" --output "$1.out" "${@:2}" >&2
}

median() { awk -F, -v c="$2" '$1 == c { print $4 }' "$1"; }  # median CSV LABEL

# changed_hosts LOG: how many hosts of a play recap changed something.
changed_hosts() { grep -c 'changed=[1-9]' "$1" || true; }

echo "server_maintanence speed bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPU(s), $(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo) GiB memory," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(ansible-playbook --version | sed -n '1s/.*\[core \(.*\)\]/ansible-core \1/p')," \
     "forks $(ansible-config dump | sed -n 's/^DEFAULT_FORKS(\(.*\)) = \(.*\)/\2 (\1)/p'), $(hyperfine --version)"
echo "hosts: $IMAGE containers, docker connection; $RUNS runs after 1 warm-up, medians in seconds"

# ------------------------------------------------------ idempotent, N hosts --
started=0 largest=0
for n in $SIZES; do
    hosts=()
    for i in $(seq "$n"); do hosts+=("${BENCH_PREFIX}$i"); done
    if [ "$n" -gt "$started" ]; then
        log "starting ${hosts[$started]} .. ${hosts[-1]}"
        printf '%s\n' "${hosts[@]:started}" | xargs -P 8 -I{} sh -c "$(host_cmd {})"
        started=$n
    fi
    [ "$n" -gt "$largest" ] && largest=$n
    inventory "$WORK/hosts-$n.ini" "${hosts[@]}"
    log "converging $n host(s), untimed"
    bench_play "$WORK/converge-$n.log" -i "$WORK/hosts-$n.ini" "$SITE"
    bench "idempotent run on $n host(s)" "$WORK/hosts-$n.csv" \
        -n floor "ansible-playbook -i $WORK/hosts-$n.ini $FLOOR" \
        -n idempotent "ansible-playbook -i $WORK/hosts-$n.ini $SITE"
    echo "$n $(median "$WORK/hosts-$n.csv" floor) $(median "$WORK/hosts-$n.csv" idempotent)" \
         "$(changed_hosts "$WORK/hosts-$n.csv.out")" >> "$WORK/rows"
done

# --------------------------------------------------- first converge, 1 host --
fresh=${BENCH_PREFIX}fresh
inventory "$WORK/fresh.ini" "$fresh"
bench "first converge on a fresh host" "$WORK/converge.csv" --prepare "$(host_cmd "$fresh")" \
    -n floor "ansible-playbook -i $WORK/fresh.ini $FLOOR" \
    -n converge "ansible-playbook -i $WORK/fresh.ini $SITE"

# ----------------------------------------------- one setting changed, 1 host --
# Each timed run changes the health check's schedule, the prepare step puts
# the default back (untimed): the run pays for the crontab rewrite alone.
# The host ends as the idempotent runs left it (one more run, untimed).
inventory "$WORK/setting.ini" "${BENCH_PREFIX}1"
schedule() { printf '%s' "-e '{\"server_maintanence_health_check_schedule\": \"$1\"}'"; }
bench "a run after one setting changed" "$WORK/setting.csv" \
    --prepare "ansible-playbook -i $WORK/setting.ini $SITE $(schedule '*/5 * * * *') >/dev/null" \
    -n floor "ansible-playbook -i $WORK/setting.ini $FLOOR" \
    -n setting "ansible-playbook -i $WORK/setting.ini $SITE $(schedule '*/7 * * * *')"
# Not hyperfine's --cleanup: its output would replace the last run's in $WORK/setting.csv.out.
bench_play "$WORK/setting-restore.log" -i "$WORK/setting.ini" "$SITE"

# ------------------------------------------------------------ per-task view --
log "one idempotent run on $largest host(s) with profile_tasks and timer"
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks,ansible.posix.timer \
PROFILE_TASKS_TASK_OUTPUT_LIMIT=10 \
    bench_play "$WORK/profile.log" -i "$WORK/hosts-$largest.ini" "$SITE"

# ------------------------------------------------------------------- report --
verdict() {  # verdict HOSTS BASE_S RUN_S TARGET
    awk -v n="$1" -v b="$2" -v r="$3" -v t="$4" \
        'BEGIN { printf "%5d %15.2f %15.2f %6.2f %7.1f  %s\n", n, b, r, r / b, t, (r / b <= t ? "meets" : "misses") }'
}
echo
echo "idempotent run of $SITE vs. the floor, same hosts, one hyperfine call per size"
printf '%5s %15s %15s %6s %7s  %s\n' hosts "floor median" "idem. median" ratio target verdict
while read -r n floor idem changed; do
    verdict "$n" "$floor" "$idem" 1.0
    [ "$changed" -eq 0 ] || echo "      NOTE: $changed host(s) changed something in the last idempotent run"
done < "$WORK/rows"

# report_one TITLE HEADER CSV LABEL TARGET NOTE: one single-host comparison,
# with NOTE when the last timed run changed nothing (it measured no change).
report_one() {
    echo
    echo "$1"
    printf '%5s %15s %15s %6s %7s  %s\n' hosts "floor median" "$2" ratio target verdict
    verdict 1 "$(median "$3" floor)" "$(median "$3" "$4")" "$5"
    [ "$(changed_hosts "$3.out")" -eq 1 ] || echo "      NOTE: $6"
}
report_one "first converge of a fresh stock host vs. the floor on a fresh host (recreated before each run)" \
    "conv. median" "$WORK/converge.csv" converge 1.3 "the last converge run changed nothing: it was not a first converge"
report_one "a run after the health check's schedule changed vs. the floor, same host" \
    "run median" "$WORK/setting.csv" setting 1.0 "the last run changed nothing: the setting did not change"

echo
echo "per-task times, one idempotent run on $largest host(s) (ansible.posix.profile_tasks, top 10):"
# profile_tasks: a "date (last task) total ****" line, a line of =, the tasks, a blank line.
awk '/^=+ *$/ { n = split(prev, f, " "); total = f[n - 1]; on = 1; next }
     on && !NF { print "total " total; exit }
     on
     { prev = $0 }' "$WORK/profile.log"
grep -h '^Playbook run took' "$WORK/profile.log"  # ansible.posix.timer
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
