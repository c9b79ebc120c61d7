#!/usr/bin/env bash
# Fleet benchmark of the server_maintanence role: idempotent run time on 1, 3
# and 10 local containers, and the ratios t(3)/t(1), t(10)/t(1). For context it
# also times the floor (an empty play with full fact gathering) on 1 and 10
# hosts, i.e. how the controller itself scales on this machine.
# Not a test: nothing here asserts a timing.
#
#   bench/fleet.sh            # from the repo root
#   SMBENCH_REPEAT=3 SMBENCH_FORKS=20 bench/fleet.sh
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_init fleet
REPEAT=${SMBENCH_REPEAT:-2}
FORKS=${SMBENCH_FORKS:-20}
APT_JOBS=${SMBENCH_APT_JOBS:-4}          # concurrent apt-get updates (niced)
RUN_TIMEOUT=${SMBENCH_RUN_TIMEOUT:-900}  # seconds, per ansible-playbook run
SIZES=(1 3 10)
PREFIX="smbench-fleet-$$"
BENCH_PREFIX="$PREFIX-"
HOSTS=()
for i in $(seq 1 10); do HOSTS+=("$PREFIX-$i"); done

inventory() {  # inventory N: the first N hosts as an ad-hoc inventory string
    local IFS=,
    echo "${HOSTS[*]:0:$1},"
}

cat > "$WORK/floor.yml" <<'YAML'
- name: Floor
  hosts: all
  become: true
  gather_facts: true
  tasks:
    - name: Nothing
      ansible.builtin.meta: noop
YAML

declare -A RUNS=()
run_play() {   # run_play LABEL N PLAYBOOK: one timed run against the first N hosts
    local label=$1 n=$2 play=$3
    local k=$(( ${RUNS[$label]:-0} + 1 )); RUNS[$label]=$k
    local out="$WORK/$label.$k.log" t0 t1 rc=0 secs
    t0=$(date +%s.%N)
    timeout "$RUN_TIMEOUT" "$ANSIBLE_PLAYBOOK" -i "$(inventory "$n")" -c community.docker.docker \
        --forks "$FORKS" "$play" >"$out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    [ "$rc" -eq 0 ] || bench_failed "run $label #$k" "$rc" "$out" 40
    secs=$(bench_elapsed "$t0" "$t1")
    echo "$label $n $secs $(grep -c 'changed=[1-9]' "$out" || true)" >> "$WORK/times"
    log "$label ($n hosts) #$k: ${secs}s"
}

# --------------------------------------------------------------- containers --
log "starting ${#HOSTS[@]} containers from $IMAGE"
for h in "${HOSTS[@]}"; do
    bench_start "$h"
done

log "apt-get update in every container ($APT_JOBS at a time, niced)"
printf '%s\n' "${HOSTS[@]}" \
    | xargs -P "$APT_JOBS" -I{} timeout 300 docker exec {} nice -n 10 apt-get update -qq

SITE="$REPO/playbooks/site.yml"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "first converge of all 10 hosts (not timed for the ratios)"
run_play converge 10 "$SITE"

for _ in $(seq "$REPEAT"); do
    for n in "${SIZES[@]}"; do
        run_play "idempotent_$n" "$n" "$SITE"
    done
    run_play floor_1 1 "$WORK/floor.yml"
    run_play floor_10 10 "$WORK/floor.yml"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------- report --
"$PY" - "$WORK/times" "$IMAGE" "$FORKS" "$(nproc)" "$LOAD_START" "$LOAD_END" <<'PYEOF'
import statistics
import sys

path, image, forks, cpus, load_start, load_end = sys.argv[1:]
runs = {}
converge = None
not_idempotent = 0
for line in open(path):
    label, n, secs, changed_hosts = line.split()
    if label == "converge":
        converge = float(secs)
        continue
    runs.setdefault(label, []).append(float(secs))
    if label.startswith("idempotent") and int(changed_hosts):
        not_idempotent += 1

med = {label: statistics.median(t) for label, t in runs.items()}
print()
print(f"server_maintanence fleet benchmark: {image} containers, docker connection, "
      f"forks={forks}, {cpus} CPU(s), load average {load_start} at start, {load_end} at end")
if max(float(x) for x in (load_start + " " + load_end).split()) > float(cpus):
    print("NOTE: the machine was busy (load average above the CPU count): timings are noisy")
print(f"{'run':<32} {'hosts':>5} {'n':>2} {'median s':>9} {'runs s':<20} {'x 1 host':>8}")
for label, title, n, base in [
    ("idempotent_1", "idempotent run", 1, "idempotent_1"),
    ("idempotent_3", "idempotent run", 3, "idempotent_1"),
    ("idempotent_10", "idempotent run", 10, "idempotent_1"),
    ("floor_1", "floor (gather_facts, no tasks)", 1, "floor_1"),
    ("floor_10", "floor (gather_facts, no tasks)", 10, "floor_1"),
]:
    t = runs[label]
    print(f"{title:<32} {n:>5} {len(t):>2} {med[label]:>9.2f} "
          f"{' '.join(f'{x:.2f}' for x in t):<20} {med[label] / med[base]:>7.2f}x")
print(f"(first converge of all 10 hosts: {converge:.2f}s, once)")
print()
r3 = med["idempotent_3"] / med["idempotent_1"]
r10 = med["idempotent_10"] / med["idempotent_1"]
print(f"t(3)/t(1)  = {r3:.2f}x")
print(f"t(10)/t(1) = {r10:.2f}x  (target <= 2.0x): {'meets' if r10 <= 2.0 else 'misses'}")
print(f"floor t(10)/t(1) = {med['floor_10'] / med['floor_1']:.2f}x  (the controller's own scaling here)")
print(f"idempotent/floor: 1 host {med['idempotent_1'] / med['floor_1']:.2f}x, "
      f"10 hosts {med['idempotent_10'] / med['floor_10']:.2f}x")
if not_idempotent:
    print(f"WARNING: {not_idempotent} idempotent run(s) reported changes")
PYEOF
