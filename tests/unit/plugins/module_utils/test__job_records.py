"""module_utils/_job_records.py: the records and metrics the job runner
writes, and the app's update history, read as root where the app user
writes it: every field checked, garbage and truncated lines skipped, a huge
file read only at its end, a link or a FIFO never followed or waited on.
The history's format is judged by the app's own bin/lib/update.sh in
tests/unit/app_contract/test_update_history.py, what status makes of it in
tests/unit/plugins/plugin_utils/test_status.py."""

import json
import os
import pathlib
import subprocess
import time

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _host_reading as host_reading
from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records

from .test__host_reading import make_file

GOOD = {"timestamp": "2026-12-01T03:30:02+0000", "old_sha": "77c4be3", "new_sha": "9f1e2d3", "status": "success",
        "commits": 1, "mode": "systemd", "auto_update": True, "failed_step": None, "rolled_back": False}
FAILED = dict(GOOD, status="failed", commits=0, failed_step="migrate", rolled_back=True)


def line(**changes):
    return json.dumps(dict(GOOD, **changes), separators=(",", ":"))


def history(tmp_path, *lines, tail="\n"):
    path = tmp_path / job_records.HISTORY_NAME
    path.write_text("\n".join(lines) + tail)
    return str(path)


def test_the_last_good_line_is_the_last_attempt(tmp_path):
    found = job_records.read_history(history(tmp_path, line(), json.dumps(FAILED)))
    assert found["bad"] == 0 and found["error"] is None
    assert found["last"]["failed_step"] == "migrate" and found["last"]["rolled_back"] is True
    assert found["last"]["time"] == 1796095802


@pytest.mark.parametrize("field, value", [
    ("old_sha", "77C4BE3"), ("old_sha", "77c4be"), ("new_sha", "9f1e2d3; rm -rf /"), ("new_sha", 1234567),
    ("status", "rolled_back"), ("status", None), ("commits", -1), ("commits", "1"), ("commits", True),
    ("mode", "venv mode"), ("mode", ""), ("auto_update", "true"), ("rolled_back", 1),
    ("failed_step", "migrate\n"), ("failed_step", "../etc"), ("failed_step", "Migrate"),
    ("timestamp", "yesterday"), ("timestamp", "2026-13-01T03:30:02+0000"), ("timestamp", 1796095802),
])
def test_each_field_is_checked_and_a_bad_line_is_skipped(tmp_path, field, value):
    found = job_records.read_history(history(tmp_path, line(), line(**{field: value})))
    assert found["bad"] == 1
    assert found["last"]["status"] == "success", "the good line before it still counts"


def test_unknown_or_missing_keys_garbage_and_a_truncated_last_line_are_bad(tmp_path):
    extra = json.dumps(dict(GOOD, extra="x"))
    missing = json.dumps({key: value for key, value in GOOD.items() if key != "mode"})
    found = job_records.read_history(history(tmp_path, line(), extra, missing, "not json", "[1, 2]",
                                             line()[:40], tail=""))
    assert found["bad"] == 5 and found["last"]["new_sha"] == "9f1e2d3"


def test_a_timestamp_without_a_zone_is_local_time(tmp_path):
    found = job_records.read_history(history(tmp_path, line(timestamp="2026-12-01T03:30:02")))
    assert found["last"]["time"] == time.mktime((2026, 12, 1, 3, 30, 2, 0, 0, -1))


def test_a_huge_file_is_read_only_at_its_end(tmp_path, monkeypatch):
    path = tmp_path / job_records.HISTORY_NAME
    with open(path, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB of NUL bytes
        handle.seek(0, os.SEEK_END)
        handle.write(("\n" + line() + "\n").encode())
    read = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(real_read(fd, n)) or read[-1])
    found = job_records.read_history(str(path))
    assert sum(len(chunk) for chunk in read) <= job_records.HISTORY_WINDOW
    # The window begins inside the NUL run: that cut line is not counted.
    assert found["last"]["new_sha"] == "9f1e2d3" and found["bad"] == 0


def test_a_line_cut_by_the_window_is_not_counted(tmp_path):
    path = history(tmp_path, line(new_sha="1111111"), line())
    found = job_records.read_history(path, window=len(line()) + 5)
    assert found["bad"] == 0 and found["last"]["new_sha"] == "9f1e2d3"


def test_a_link_a_fifo_and_a_directory_are_never_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(line(new_sha="5ec2e75") + "\n")
    planted = tmp_path / "link" / job_records.HISTORY_NAME
    planted.parent.mkdir()
    planted.symlink_to(secret)
    fifo = tmp_path / "fifo" / job_records.HISTORY_NAME
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    directory = tmp_path / "dir" / job_records.HISTORY_NAME
    directory.mkdir(parents=True)
    for path in (planted, fifo, directory):
        assert job_records.read_history(str(path)) == {"last": None, "bad": 0, "error": "is not a regular file"}
    assert job_records.read_history(str(tmp_path / "none")) is None


def test_the_metrics_carry_the_commit_and_the_attempt(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    state.mkdir()
    history(logs, json.dumps(FAILED))
    families = {f.name: f for f in text_string_to_metric_families(
        job_records.metrics_text(str(state), str(logs), str(tmp_path / "none")))}
    (info,) = families["server_maintanence_app_commit_info"].samples
    assert info.labels == {"commit": "77c4be3"} and info.value == 1
    (when,) = families["server_maintanence_update_last_attempt_timestamp_seconds"].samples
    assert when.value == 1796095802
    (failed,) = families["server_maintanence_update_last_attempt_failed"].samples
    assert failed.labels == {"status": "failed", "failed_step": "migrate", "rolled_back": "true"}
    assert failed.value == 1


# the records, the logs and logrotate's state (what playbooks/status.yml reads) ---

HEALTH_TEXT = ("name=health\nstart=1700000000.100\nend=1700000002.600\nduration=2.500\nexit_code=0\n"
               "outcome=success\nskipped=0\ntimed_out=0\nlast_success=1700000002.600\n")


def state_dir_with_records(tmp_path):
    """Two jobs' records as the job runner writes them, beside its temp file
    (mid-rename) and its write lock, which are not records."""
    state_dir = tmp_path / "state"
    make_file(state_dir / "health.state", content=HEALTH_TEXT.encode())
    make_file(state_dir / "push.state", content=(
        b"name=push\nstart=1700000100.000\nend=1700000160.000\nduration=60.000\nexit_code=124\n"
        b"outcome=timeout\nskipped=0\ntimed_out=1\nlast_success=\n"))
    make_file(state_dir / ".health.state.XYZ", content=b"name=health\nexit_code=9\noutcome=half-written\n")
    make_file(state_dir / ".write.lock")
    make_file(state_dir / "health.lock")
    return str(state_dir)


HEALTH_RECORD = {"name": "health", "start": "1700000000.100", "end": "1700000002.600", "duration": "2.500",
                 "exit_code": "0", "outcome": "success", "skipped": "0", "timed_out": "0",
                 "last_success": "1700000002.600"}
PUSH_RECORD = {"name": "push", "start": "1700000100.000", "end": "1700000160.000", "duration": "60.000",
               "exit_code": "124", "outcome": "timeout", "skipped": "0", "timed_out": "1", "last_success": ""}


def logs_dir_with_files(tmp_path):
    logs = tmp_path / "logs"
    make_file(logs / "cron.log", content=b"x" * 100000)
    make_file(logs / "push.log", content=b"y" * 5000)
    make_file(logs / "push.log.1.zst", content=b"z" * 123)
    make_file(logs / "sub/deep.log", content=b"w" * 70000)
    return str(logs)


def du_bytes(path):
    return int(subprocess.run(["du", "-sB1", path], check=True, capture_output=True, text=True).stdout.split()[0])


def logrotate_state(tmp_path, logs):
    return make_file(tmp_path / "logrotate.status", content=(
        "logrotate state -- version 2\n"
        '"/var/log/syslog" 2031-1-1-0:0:0\n'
        '"%(logs)s/cron.log" 2024-3-10-3:0:1\n'
        '"%(logs)s/push.log" 2024-11-2-6:25:0\n'
        '"%(logs)s/sub/deep.log" 2032-1-1-0:0:0\n'
        '"%(logs)s/history.json" 2033-1-1-0:0:0\n'
        '"%(logs)s-old/cron.log" 2034-1-1-0:0:0\n'
        '%(logs)s/unquoted.log 2024-5-1-0:0:0\n'
        'not an entry\n' % {"logs": logs}).encode())


# The newest entry for a *.log directly in logs, as the local time logrotate writes.
NEWEST_ROTATION = time.mktime((2024, 11, 2, 6, 25, 0, 0, 0, -1))


JOBS = ["health", "push", "update", "inbox"]


def test_job_records_are_read_from_the_state_files_only(tmp_path):
    records = job_records.read_records(state_dir_with_records(tmp_path), JOBS)

    assert records == {"health": HEALTH_RECORD, "push": PUSH_RECORD}


def test_job_records_of_a_missing_or_empty_state_dir_are_none(tmp_path):
    (tmp_path / "empty").mkdir()

    assert job_records.read_records(str(tmp_path / "missing"), JOBS) == {}
    assert job_records.read_records(str(tmp_path / "empty"), JOBS) == {}
    assert job_records.read_records("", JOBS) == {}


def test_only_the_records_of_the_jobs_asked_for_are_read(tmp_path):
    assert job_records.read_records(state_dir_with_records(tmp_path), ["push"]) == {"push": PUSH_RECORD}


def planted(tmp_path, plant):
    """A state dir whose health record the app user replaced by plant(path)."""
    state_dir = state_dir_with_records(tmp_path)
    path = os.path.join(state_dir, "health.state")
    os.unlink(path)
    plant(path)
    return job_records.read_records(state_dir, JOBS)


def test_a_record_linked_to_a_secret_gives_an_error_and_not_a_byte_of_it(tmp_path):
    secret = make_file(tmp_path / "root-only", 0o600, b"name=health\nexit_code=0\nTOPSECRET\n")

    records = planted(tmp_path, lambda path: os.symlink(secret, path))

    assert "found: link" in records["health"]["error"] and set(records["health"]) == {"error"}
    assert "TOPSECRET" not in json.dumps(records)
    assert records["push"] == PUSH_RECORD


def test_a_fifo_record_is_refused_without_blocking(tmp_path):
    records = planted(tmp_path, os.mkfifo)

    assert "found: other" in records["health"]["error"]


def test_a_record_over_the_size_cap_is_refused(tmp_path):
    records = planted(tmp_path, lambda path: make_file(pathlib.Path(path), content=b"name=health\n" * 1000))

    assert "at most 4096 bytes" in records["health"]["error"]


@pytest.mark.parametrize("change, fragment", [
    (("exit_code=0", "exit_code=x"), "malformed exit_code"),
    (("exit_code=0", "exit_code=300"), "exit code above 255"),
    (("exit_code=0", "exit_code=-1"), "malformed exit_code"),
    (("outcome=success", "outcome=pwned"), "malformed outcome"),
    (("outcome=success", "outcome=env_refusedx"), "malformed outcome"),
    (("last_success=1700000002.600", "last_success=1e9"), "malformed last_success"),
    (("name=health", "name=push"), "names another job"),
    (("skipped=0\n", ""), "lacks skipped"),
    (("skipped=0", "skipped=0\nsecret=hunter2"), "not one of its fields"),
    (("skipped=0", "skipped=0\nskipped=0"), "a field twice"),
])
def test_a_forged_field_is_an_error_naming_the_field_and_not_its_value(tmp_path, change, fragment):
    text = HEALTH_TEXT.replace(*change)

    records = planted(tmp_path, lambda path: make_file(pathlib.Path(path), content=text.encode()))

    assert fragment in records["health"]["error"] and set(records["health"]) == {"error"}
    assert "hunter2" not in json.dumps(records)


def test_disk_usage_matches_du(tmp_path):
    logs = logs_dir_with_files(tmp_path)

    assert job_records.disk_usage(logs) == du_bytes(logs)
    assert job_records.disk_usage(logs) >= 100000 + 5000 + 123 + 70000


def test_disk_usage_and_free_space_of_a_missing_dir_are_none(tmp_path):
    assert job_records.disk_usage(str(tmp_path / "missing")) is None
    assert host_reading._free_space(str(tmp_path / "missing")) is None


def test_disk_usage_counts_a_hard_linked_file_once_like_du(tmp_path):
    logs = logs_dir_with_files(tmp_path)
    os.link(os.path.join(logs, "cron.log"), os.path.join(logs, "cron.log.hardlink"))

    assert job_records.disk_usage(logs) == du_bytes(logs)


def test_last_rotation_is_the_newest_entry_for_a_log_directly_in_logs_dir(tmp_path):
    logs = logs_dir_with_files(tmp_path)
    state = logrotate_state(tmp_path, logs)

    assert job_records.last_rotation(state, logs) == NEWEST_ROTATION
    assert job_records.last_rotation(state, logs + "/") == NEWEST_ROTATION


def test_last_rotation_is_none_without_a_state_file_or_an_entry(tmp_path):
    logs = logs_dir_with_files(tmp_path)
    state = logrotate_state(tmp_path, logs)

    assert job_records.last_rotation(str(tmp_path / "missing"), logs) is None
    assert job_records.last_rotation(state, str(tmp_path / "other")) is None


def test_a_record_of_a_job_the_env_file_stopped_is_trusted():
    text = HEALTH_TEXT.replace("exit_code=0", "exit_code=65").replace("outcome=success", "outcome=env_refused")
    assert job_records.parse_record(text, "health") == dict(HEALTH_RECORD, exit_code="65", outcome="env_refused")
