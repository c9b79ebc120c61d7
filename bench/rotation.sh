#!/usr/bin/env bash
# Log rotation benchmark of the server_maintanence role's logrotate policy, in a
# systemd container (local/debian-systemd:bookworm, not privileged).
#
#   bench/rotation.sh [SIZE_MB]      # from the repo root; SIZE_MB defaults to 1024
#
# For reopen+gzip, reopen+zstd, copytruncate+gzip and copytruncate+zstd it
# re-applies the role with that method and compression, puts a SIZE_MB django.log
# of realistic lines in /opt/server-monitoring/logs, starts a Python
# logging.FileHandler writer as server-monitoring.service (it reopens its file on
# SIGHUP) writing numbered lines at ~500 lines/s, then times
# `logrotate -f /etc/logrotate.d/server-maintanence`, samples the extra disk use
# every 0.2 s, and counts the writer's lines that no file holds any more.
# With reopen, delaycompress leaves the big generation uncompressed on the first
# forced rotation, so a second forced rotation is timed as "compress".
# Not a test: nothing here asserts a timing. Loss in reopen mode is printed as
# LOST n (the role promises LOSSLESS there).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"
bench_init rotation
SIZE_MB=${1:-1024}
RATE=${BENCH_RATE:-500}                   # writer lines per second
IMAGE=${BENCH_IMAGE:-local/debian-systemd:bookworm}
NAME=${BENCH_PREFIX}rot
LOGS=/opt/server-monitoring/logs
CONF=/etc/logrotate.d/server-maintanence
LIB=/usr/local/lib/smbench
BIG=/var/tmp/smbench-big.log
COUNT_FILE=/tmp/smbench-writer.count
CASES=${BENCH_CASES:-"reopen:gzip reopen:zstd copytruncate:gzip copytruncate:zstd"}

case "$SIZE_MB" in ''|*[!0-9]*) echo "usage: $0 [SIZE_MB]" >&2; exit 2;; esac
# Every step below is bounded; this bounds the slow ones by the size.
STEP_TIMEOUT=$(( 300 + SIZE_MB ))

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }  # calc EXPR [DECIMALS]
dx() { timeout "$STEP_TIMEOUT" docker exec "$NAME" "$@"; }
put() { timeout 60 docker exec -i "$NAME" sh -c "mkdir -p \"\$(dirname '$1')\" && cat > '$1' && chmod ${2:-0644} '$1'"; }

# ---------------------------------------------------------------- container --
log "starting $NAME from $IMAGE (systemd, not privileged)"
docker run -d --name "$NAME" --network host --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro --stop-signal SIGRTMIN+3 "$IMAGE" >/dev/null
state=""
for _ in $(seq 120); do
    state=$(docker exec "$NAME" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break;; esac
    sleep 0.5
done
case "$state" in
    running|degraded) log "systemd is $state";;
    *) log "systemd did not come up (state: ${state:-none})"; docker logs "$NAME" 2>&1 | tail -20 >&2; exit 1;;
esac

log "apt-get update in the container"
dx apt-get update -qq
docker cp -a - "$NAME:/" < "$(bench_standins)"

# ------------------------------------------------------- in-container tools --
put "$LIB/writer.py" <<'PYEOF'
"""Stand-in of the app's Django logging: a logging.FileHandler that writes
numbered lines at a steady rate and reopens its file on SIGHUP."""
import logging
import signal
import sys
import time

path, rate, count_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
flags = {"hup": False, "stop": False}


def on_hup(signum, frame):
    flags["hup"] = True


def on_stop(signum, frame):
    flags["stop"] = True


signal.signal(signal.SIGHUP, on_hup)
signal.signal(signal.SIGTERM, on_stop)
signal.signal(signal.SIGINT, on_stop)

logger = logging.getLogger("monitoring.checks")
logger.setLevel(logging.INFO)
logger.propagate = False
formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")


def open_handler():
    handler = logging.FileHandler(path)  # mode "a": O_APPEND, safe after copytruncate
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    return handler


handler = open_handler()
seq = reopens = 0
start = time.monotonic()
while not flags["stop"]:
    if flags["hup"]:
        flags["hup"] = False
        logger.removeHandler(handler)
        handler.close()
        handler = open_handler()
        reopens += 1
    seq += 1
    logger.info("smbench-seq=%d check=disk_usage host=web-%02d status=ok duration_ms=%d",
                seq, seq % 16, 3 + seq % 97)
    delay = start + seq / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
with open(count_file, "w") as out:
    out.write("%d %d\n" % (seq, reopens))
PYEOF

put "$LIB/genlog.py" <<'PYEOF'
"""Write SIZE_MB of Django-like log lines: a ~5 MiB chunk of varied lines,
repeated (a chunk is larger than gzip's 32 KiB and zstd -3's 2 MiB window, so
the repetition does not flatter the compression ratio)."""
import random
import sys
import time

path, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
rnd = random.Random(20251125)
paths = ["/api/v1/checks/", "/api/v1/hosts/{}/", "/api/v1/alerts/?page={}", "/health/",
         "/admin/monitoring/host/{}/change/", "/api/v1/cluster/push/", "/static/css/app.{}.css"]
agents = ["python-requests/2.31.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "curl/7.88.1"]
t = 1764000000.0
lines = []
total = 0
while total < 5 * 1024 * 1024:
    t += rnd.expovariate(40)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + ",%03d" % int((t % 1) * 1000)
    pick = rnd.random()
    host = "web-%02d" % rnd.randrange(1, 40)
    if pick < 0.55:
        url = rnd.choice(paths).format(rnd.randrange(1, 5000))
        code = rnd.choice([200] * 30 + [201, 204, 301, 304, 400, 403, 404, 500])
        line = '%s INFO django.server "%s %s HTTP/1.1" %d %d %s' % (
            stamp, rnd.choice(["GET"] * 5 + ["POST"]), url, code, rnd.randrange(120, 90000),
            rnd.choice(agents))
    elif pick < 0.85:
        line = "%s INFO monitoring.checks [%d] check=%s host=%s status=ok value=%.2f duration_ms=%d" % (
            stamp, rnd.randrange(1000, 60000),
            rnd.choice(["disk_usage", "load_avg", "memory", "http_probe", "cert_expiry"]),
            host, rnd.uniform(0, 100), rnd.randrange(1, 4000))
    elif pick < 0.97:
        line = "%s WARNING monitoring.alerts threshold exceeded on %s: %s at %.1f%% (limit %d%%), incident %08x" % (
            stamp, host, rnd.choice(["/", "/var", "/srv", "swap"]), rnd.uniform(80, 100),
            rnd.choice([80, 85, 90]), rnd.getrandbits(32))
    else:
        line = ("%s ERROR django.request Internal Server Error: /api/v1/hosts/%d/\n"
                "Traceback (most recent call last):\n"
                '  File "/opt/server-monitoring/.venv/lib/python3.11/site-packages/django/core/handlers/exception.py", line 55, in inner\n'
                "    response = get_response(request)\n"
                "psycopg.OperationalError: connection to server at \"db-%d\" failed: timeout expired (%08x)") % (
            stamp, rnd.randrange(1, 5000), rnd.randrange(1, 4), rnd.getrandbits(32))
    line += "\n"
    lines.append(line)
    total += len(line)
chunk = "".join(lines).encode()
written = 0
with open(path, "wb") as out:
    while written < size:
        part = chunk[: size - written]
        if len(part) < len(chunk):
            part = part[: part.rfind(b"\n") + 1] or part
        out.write(part)
        written += len(part)
print(written)
PYEOF

put "$LIB/rotate_once.sh" 0755 <<'SHEOF'
#!/bin/bash
# One forced rotation, timed, with the logs dir's size sampled every 0.2 s.
# Prints: wall_s start_bytes peak_bytes end_bytes logrotate_rc
set -uo pipefail
dir=$1 conf=$2
samples=$(mktemp)
start=$(du -sb "$dir" | cut -f1)
( while :; do du -sb "$dir" 2>/dev/null | cut -f1; sleep 0.2; done ) > "$samples" &
sampler=$!
t0=$(date +%s.%N)
logrotate -f "$conf" 2>/tmp/smbench-logrotate.err
rc=$?
t1=$(date +%s.%N)
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
end=$(du -sb "$dir" | cut -f1)
peak=$( (cat "$samples"; echo "$end") | grep -E '^[0-9]+$' | sort -n | tail -1)
rm -f "$samples"
echo "$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") $start $peak $end $rc"
SHEOF

put "$LIB/count.sh" 0755 <<'SHEOF'
#!/bin/bash
# Distinct writer sequence numbers in django.log and its rotated generations.
set -euo pipefail
cd "$1"
for f in django.log*; do
    case "$f" in
        *.gz) zcat -- "$f" ;;
        *.zst) zstdcat -q -- "$f" ;;
        *) cat -- "$f" ;;
    esac
done | LC_ALL=C grep -ao 'smbench-seq=[0-9]*' | LC_ALL=C sort -u | wc -l
SHEOF

log "writing a ${SIZE_MB} MB template of log lines in the container"
dx python3 "$LIB/genlog.py" "$BIG" "$SIZE_MB" >/dev/null

# -------------------------------------------------------------------- cases --
apply_role() {  # apply_role METHOD COMPRESSION
    local out="$WORK/role-$1-$2.log"
    bench_play "$out" -i "$NAME," -c community.docker.docker playbooks/site.yml \
        -e "server_maintanence_logrotate_method=$1" -e "server_maintanence_logrotate_compression=$2"
    log "role applied: $(grep -o 'ok=[0-9]* *changed=[0-9]*' "$out" | tail -1)"
}

stop_writer() {
    dx systemctl stop server-monitoring.service 2>/dev/null || true
    dx systemctl reset-failed server-monitoring.service 2>/dev/null || true
}

rotate() {  # rotate LABEL: one timed forced rotation; sets R_WALL R_PEAK_MB
    local out wall start peak rc
    out=$(dx "$LIB/rotate_once.sh" "$LOGS" "$CONF")
    read -r wall start peak _ rc <<<"$out"
    if [ "$rc" -ne 0 ]; then
        log "$1: logrotate exited $rc:"; dx cat /tmp/smbench-logrotate.err >&2 || true
    fi
    R_WALL=$wall
    R_PEAK_MB=$(calc "($peak - $start) / 1048576" 1)
    log "$1: ${wall}s, peak extra ${R_PEAK_MB} MB"
}

echo "method compression rotate_s compress_s peak_mb lines_lost compressed_mb written hups" > "$WORK/rows"
for c in $CASES; do
    method=${c%%:*} comp=${c##*:}
    log "== $method + $comp: applying the role"
    apply_role "$method" "$comp"
    stop_writer
    dx sh -c "rm -f $LOGS/django.log* $COUNT_FILE
              cp $BIG $LOGS/django.log
              chown www-data:www-data $LOGS/django.log && chmod 0640 $LOGS/django.log"
    dx systemd-run --quiet --collect --unit=server-monitoring --uid=www-data --gid=www-data \
        python3 "$LIB/writer.py" "$LOGS/django.log" "$RATE" "$COUNT_FILE"
    sleep 2
    rotate "$method+$comp rotation 1"
    rot_wall=$R_WALL peak=$R_PEAK_MB comp_wall="in rot."
    sleep 2
    if [ "$method" = reopen ]; then
        # delaycompress: the big generation is compressed by the next rotation.
        rotate "$method+$comp rotation 2 (compress)"
        comp_wall=$R_WALL
        peak=$(calc "($peak > $R_PEAK_MB) ? $peak : $R_PEAK_MB" 1)
        sleep 1
    fi
    stop_writer
    read -r written hups < <(dx cat "$COUNT_FILE")
    present=$(dx "$LIB/count.sh" "$LOGS")
    lost=$(( written - present ))
    csize=$(dx sh -c "stat -c %s $LOGS/django.log*.gz $LOGS/django.log*.zst 2>/dev/null | sort -n | tail -1")
    csize_mb=$(calc "${csize:-0} / 1048576" 1)
    dx ls -l "$LOGS" > "$WORK/ls-$method-$comp.txt"
    log "$method+$comp: writer wrote $written lines (reopened $hups time(s)), $present present, lost $lost"
    echo "$method $comp $rot_wall ${comp_wall// /_} $peak $lost $csize_mb $written $hups" >> "$WORK/rows"
    dx sh -c "rm -f $LOGS/django.log*"
done

# ------------------------------------------------------------------- report --
echo
echo "server_maintanence rotation benchmark: ${SIZE_MB} MB django.log, writer at ${RATE} lines/s," \
     "$IMAGE, $(nproc) CPU(s)"
printf '%-13s %-11s %14s %16s %14s %12s %15s %9s\n' \
    method compression "rotate wall s" "compress wall s" "peak extra MB" "lines lost" "compressed MB" "HUPs seen"
tail -n +2 "$WORK/rows" | while read -r method comp rot cw peak lost csize written hups; do
    if [ "$lost" -eq 0 ]; then verdict=LOSSLESS; else verdict="LOST $lost"; fi
    printf '%-13s %-11s %14s %16s %14s %12s %15s %9s\n' \
        "$method" "$comp" "$rot" "${cw//_/ }" "$peak" "$verdict" "$csize" "$hups"
done
echo "(compressed MB: the largest .gz/.zst generation; compress wall s for reopen is the second"
echo " forced rotation, which compresses the big generation (delaycompress); for copytruncate the"
echo " compression is part of the first rotation. HUPs seen: SIGHUPs the writer handled.)"
