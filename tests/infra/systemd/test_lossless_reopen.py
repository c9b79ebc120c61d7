"""Rotation under a live FileHandler writer loses and duplicates no line."""

import time

import pytest

from conftest import APP_DIR, LOGROTATE_CONFIG, LOGS

WRITER = r'''
import logging, signal, sys, time
path, rate, count_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
handler = logging.FileHandler(path)
handler.setFormatter(logging.Formatter("%(asctime)s seq=%(message)s"))
log = logging.getLogger("writer")
log.addHandler(handler)
log.setLevel(logging.INFO)
flags = {"reopen": False, "stop": False}
signal.signal(signal.SIGHUP, lambda *_: flags.update(reopen=True))
signal.signal(signal.SIGTERM, lambda *_: flags.update(stop=True))
seq = 0
while not flags["stop"]:
    if flags["reopen"]:
        flags["reopen"] = False
        handler.close()  # FileHandler reopens the path on the next record
    seq += 1
    log.info("%d", seq)
    time.sleep(1 / rate)
handler.close()
open(count_file, "w").write(str(seq))
'''
UNIT = "server-monitoring.service"
COUNT = APP_DIR + "/writer.count"


@pytest.fixture
def writer(host):
    host.check_output("rm -f %s/django.log* %s", LOGS, COUNT)
    host.check_output("cat > %s/writer.py <<'EOF'\n%s\nEOF" % (APP_DIR, WRITER))
    host.check_output(
        "systemd-run --unit=%s --uid=www-data --gid=www-data python3 %s/writer.py %s/django.log 600 %s",
        UNIT, APP_DIR, LOGS, COUNT)
    yield
    host.run("systemctl stop %s", UNIT)
    host.run("rm -f %s/writer.py %s %s/django.log*", APP_DIR, COUNT, LOGS)


def sequence_numbers(host):
    text = host.check_output("zcat -f %s/django.log*", LOGS)
    return [int(line.rsplit("seq=", 1)[1]) for line in text.splitlines() if "seq=" in line]


def test_three_rotations_under_a_600_lines_per_second_writer_lose_nothing(host, writer, logrotate_paused):
    # logrotate_paused: a run of logrotate.timer's would hold the state file's lock, failing the test's.
    time.sleep(1.5)
    for _ in range(3):
        assert host.service(UNIT).is_running
        result = host.run("logrotate -f %s 2>&1", LOGROTATE_CONFIG)
        assert result.rc == 0 and "error:" not in result.stdout, result.stdout
        time.sleep(1.5)
    # The writer reopened: its lines go to the fresh django.log, not generation 1.
    size = host.file(LOGS + "/django.log").size
    time.sleep(0.5)
    assert host.file(LOGS + "/django.log").size > size
    host.check_output("systemctl stop %s", UNIT)
    written = int(host.file(COUNT).content_string)
    assert written > 2500
    found = sequence_numbers(host)
    assert len(found) == written, "lines lost or duplicated"
    assert sorted(found) == list(range(1, written + 1))
    assert host.file(LOGS + "/django.log.2.gz").exists
    assert host.file(LOGS + "/django.log.3.gz").exists


def test_logrotate_timer_is_enabled_and_active(host):
    timer = host.service("logrotate.timer")
    assert timer.is_enabled
    assert timer.is_running


def test_cron_is_enabled_at_boot(host):
    assert host.service("cron").is_enabled
