#!/usr/bin/env bash
# Speed benchmark of the server_maintanence role against ONE local container.
# Prints wall times and ratios to the "floor" (an empty play with full fact
# gathering). Not a test: nothing here asserts a timing.
#
#   bench/speed.sh            # from the repo root
#   SMBENCH_REPEAT=5 bench/speed.sh
#
# Needs: docker, local/debian:bookworm, .venv (ansible-playbook, community.docker).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init speed
REPEAT=${SMBENCH_REPEAT:-3}
RUN_TIMEOUT=${SMBENCH_RUN_TIMEOUT:-600}   # seconds, per ansible-playbook run
NAME="smbench-speed-$$"
BENCH_CONTAINERS=("$NAME")

export ANSIBLE_CALLBACK_PLUGINS="$WORK/callbacks"
export ANSIBLE_CALLBACKS_ENABLED=smbench_count

# ------------------------------------------------------------ scratch files --
mkdir -p "$WORK/callbacks"
cat > "$WORK/callbacks/smbench_count.py" <<'PYEOF'
# Counts task results: remote module calls vs controller-only vs skipped.
import json
import os

from ansible.plugins.callback import CallbackBase

CONTROLLER_ONLY = {
    "assert", "debug", "set_fact", "meta", "fail", "include_tasks", "import_tasks",
    "include_role", "import_role", "include_vars", "add_host", "group_by", "pause",
    "set_stats", "validate_argument_spec",
}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "smbench_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counts = {"remote": 0, "controller": 0, "skipped": 0, "changed": 0}
        self.remote_tasks = {}

    def v2_runner_on_ok(self, result):
        action = result._task.action.split(".")[-1]
        res = result._result
        items = res.get("results")
        n = 1
        if items is not None:
            n = sum(1 for r in items if not r.get("skipped"))
            self.counts["skipped"] += len(items) - n
        if res.get("changed"):
            self.counts["changed"] += 1
        if action in CONTROLLER_ONLY:
            self.counts["controller"] += n
        elif n:
            self.counts["remote"] += n
            name = result._task.get_name()
            self.remote_tasks[name] = self.remote_tasks.get(name, 0) + n

    def v2_runner_on_skipped(self, result):
        self.counts["skipped"] += 1

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("SMBENCH_COUNT_FILE")
        if path:
            with open(path, "w") as out:
                json.dump(dict(self.counts, remote_tasks=self.remote_tasks), out)
PYEOF

floor_play() {   # $1 file, $2 gather_subset (YAML list) or empty for the default (all)
    {
        echo "- name: Floor"
        echo "  hosts: all"
        echo "  become: true"
        echo "  gather_facts: true"
        [ -z "$2" ] || echo "  gather_subset: $2"
        echo "  tasks:"
        echo "    - name: Nothing"
        echo "      ansible.builtin.meta: noop"
    } > "$1"
}
floor_play "$WORK/floor_all.yml" ""
floor_play "$WORK/floor_min.yml" "['min']"
floor_play "$WORK/floor_none.yml" "['!all', '!min']"

# ------------------------------------------------------------------ helpers --
# run_play LABEL PLAYBOOK [extra args...]: one timed run; appends "LABEL SECONDS"
# to $WORK/times, keeps the output in $WORK/LABEL.N.log. Fails on a failed run.
declare -A RUNS=()
run_play() {
    local label=$1 play=$2; shift 2
    local n=$(( ${RUNS[$label]:-0} + 1 )); RUNS[$label]=$n
    local out="$WORK/$label.$n.log" t0 t1 rc=0
    t0=$(date +%s.%N)
    SMBENCH_COUNT_FILE="$WORK/$label.$n.count.json" \
        timeout "$RUN_TIMEOUT" "$ANSIBLE_PLAYBOOK" -i "$NAME," -c community.docker.docker \
        "$play" "$@" >"$out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    [ "$rc" -eq 0 ] || bench_failed "run $label #$n" "$rc" "$out" 30
    local secs
    secs=$(bench_elapsed "$t0" "$t1")
    echo "$label $secs" >> "$WORK/times"
    log "$label #$n: ${secs}s ($(grep -o 'ok=[0-9]* *changed=[0-9]*' "$out" | tail -1))"
}

# ---------------------------------------------------------------- container --
log "starting $NAME from $IMAGE"
bench_start "$NAME"
docker exec "$NAME" id www-data >/dev/null
bench_apt_update "$NAME"

SITE="$REPO/playbooks/site.yml"

# (b) first converge on the fresh container: once, it cannot be repeated.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
run_play converge "$SITE"

# (a) and (e) floors, (c) idempotent re-runs with the repo's configuration as
# is, (d) pipelining explicitly off and on: interleaved, round by round, so a
# drift in the machine's load hits every variant alike.
for _ in $(seq "$REPEAT"); do
    run_play floor_all  "$WORK/floor_all.yml"
    run_play floor_min  "$WORK/floor_min.yml"
    run_play floor_none "$WORK/floor_none.yml"
    run_play idempotent "$SITE"
    ANSIBLE_PIPELINING=false run_play idem_pipe_off "$SITE"
    ANSIBLE_PIPELINING=true  run_play idem_pipe_on  "$SITE"
    # A converge on a typical Debian server, where cron and logrotate are
    # already installed (state=absent keeps packages and logs).
    run_play uninstall "$SITE" -e server_maintanence_state=absent
    run_play reconverge "$SITE"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# Is pipelining on for the docker connection with the repo's ansible.cfg alone?
# ([ssh_connection] pipelining only configures the ssh connection plugin.)
if env -u ANSIBLE_PIPELINING "$REPO/.venv/bin/ansible-config" dump --only-changed 2>/dev/null \
        | grep -q '^ANSIBLE_PIPELINING(.*= True'; then
    CFG_PIPELINING=on
else
    CFG_PIPELINING=off
fi

# ------------------------------------------------------------------- report --
"$PY" - "$WORK" "$IMAGE" "$CFG_PIPELINING" "$LOAD_START" "$LOAD_END" "$(nproc)" <<'PYEOF'
import glob
import json
import os
import re
import statistics
import sys

work, image, cfg_pipelining, load_start, load_end, cpus = sys.argv[1:]
times = {}
with open(os.path.join(work, "times")) as fh:
    for line in fh:
        label, secs = line.split()
        times.setdefault(label, []).append(float(secs))


def med(label):
    return statistics.median(times[label])


def counts(label):
    found = sorted(glob.glob(os.path.join(work, label + ".*.count.json")))
    return json.load(open(found[-1])) if found else None


def changed(label):
    out = []
    for path in sorted(glob.glob(os.path.join(work, label + ".*.log"))):
        m = re.findall(r"changed=(\d+)", open(path).read())
        out.append(int(m[-1]) if m else -1)
    return out


rows = [
    ("floor_all", "(a) floor: empty play, gather_facts all"),
    ("floor_min", "(e) floor: gather_subset [min]"),
    ("floor_none", "(e) floor: gather_subset [!all, !min]"),
    ("converge", "(b) first converge (fresh, after apt-get update)"),
    ("reconverge", "(b') converge with cron+logrotate installed"),
    ("idempotent", f"(c) idempotent re-run (repo cfg: pipelining {cfg_pipelining})"),
    ("idem_pipe_off", "(d) idempotent, ANSIBLE_PIPELINING=false"),
    ("idem_pipe_on", "(d) idempotent, ANSIBLE_PIPELINING=true"),
]
print()
print(f"server_maintanence speed benchmark: 1 container ({image}), docker connection, become; "
      f"{cpus} CPU(s), load average {load_start} at start, {load_end} at end")
if max(float(x) for x in (load_start + " " + load_end).split()) > float(cpus):
    print("NOTE: the machine was busy (load average above the CPU count): timings are noisy")
print(f"{'run':<52} {'n':>2} {'median s':>9} {'min s':>7} {'max s':>7} {'x floor':>8}")
floor = med("floor_all")
for label, title in rows:
    t = times[label]
    print(f"{title:<52} {len(t):>2} {med(label):>9.2f} {min(t):>7.2f} {max(t):>7.2f} {med(label) / floor:>7.2f}x")

print()
conv = med("converge") / floor
idem = med("idempotent") / floor
print(f"converge / floor   = {conv:.2f}x  (target <= 3.0x): {'meets' if conv <= 3.0 else 'misses'}")
print(f"idempotent / floor = {idem:.2f}x  (target <= 1.5x): {'meets' if idem <= 1.5 else 'misses'}")
reconv = med("reconverge") / floor
print(f"converge with cron+logrotate installed / floor = {reconv:.2f}x  (target <= 3.0x): "
      f"{'meets' if reconv <= 3.0 else 'misses'}")
print(f"pipelining off / on (idempotent) = {med('idem_pipe_off') / med('idem_pipe_on'):.2f}x")
print(f"idempotent / floor with gather_subset [min]       = {med('idempotent') / med('floor_min'):.2f}x")
print(f"idempotent / floor with gather_subset [!all,!min] = {med('idempotent') / med('floor_none'):.2f}x")

idem_changed = changed("idempotent") + changed("idem_pipe_off") + changed("idem_pipe_on")
print(f"changed= of the idempotent runs: {idem_changed}"
      + ("" if all(c == 0 for c in idem_changed) else "  <-- NOT idempotent"))
c = counts("idempotent")
f = counts("floor_all")
if c:
    print(f"idempotent run task results: {c['remote']} remote module call(s), "
          f"{c['controller']} controller-only, {c['skipped']} skipped"
          + (f"; the floor makes {f['remote']} remote call(s)" if f else ""))
    for name, n in c["remote_tasks"].items():
        print(f"  remote: {name}" + (f" (x{n})" if n > 1 else ""))
if cfg_pipelining == "off":
    print("note: ansible.cfg sets pipelining only under [ssh_connection], which the docker connection")
    print("      ignores, so (c) runs without pipelining here (over ssh it would be on)")
cc = counts("converge")
if cc:
    print(f"first converge task results: {cc['remote']} remote module call(s), "
          f"{cc['controller']} controller-only, {cc['skipped']} skipped, {cc['changed']} changed")
PYEOF
