"""The app's update history, read as root where the app user writes it:
every field checked, garbage and truncated lines skipped, a huge file read
only at its end, a link or a FIFO never followed or waited on; and the
format judged by the app's own bin/lib/update.sh, which writes it."""

import json
import os
import subprocess
import time

import pytest

import upstream_app
from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.status import status_report, status_table

GOOD = {"timestamp": "2026-12-01T03:30:02+0000", "old_sha": "77c4be3", "new_sha": "9f1e2d3", "status": "success",
        "commits": 1, "mode": "systemd", "auto_update": True, "failed_step": None, "rolled_back": False}
FAILED = dict(GOOD, status="failed", commits=0, failed_step="migrate", rolled_back=True)
# The clock of the app's own bin/lib/update.sh, run by a test: 2026-12-01 06:10:02 UTC.
CLOCK = 1796105402


@pytest.fixture(scope="module")
def app():
    return upstream_app.UpstreamApp(upstream_app.tarball())


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


def report(history_read, **settings):
    probe = {"now": 1796095802 + 7200, "jobs": {}, "cron_running": True, "logs": {"size": 1, "free": 1},
             "last_rotation": None, "update_history": history_read,
             "units_active": {"server-monitoring-inbox.service": True}}  # a drain runs: no warning of its own
    return status_report(probe, dict({"cluster_role": "standalone", "jobs": [], "max_intervals": 2,
                                      "max_logs_size": "1G", "logs_dir": "/opt/app/logs",
                                      "state_dir": "/var/lib/sm"}, **settings))


def test_a_failed_update_fails_the_host_or_warns(tmp_path):
    failed = job_records.read_history(history(tmp_path, line(), json.dumps(FAILED)))
    found = report(failed)
    assert found["update"]["commit"] == "77c4be3", "rolled back: the old commit runs"
    assert found["problems"] == ["the last update attempt of the app, 2h ago, failed at migrate (77c4be3 to 9f1e2d3) and was "
                                 "rolled back to 77c4be3; bin/update.sh --history shows it"]
    warned = report(failed, fail_on_failed_update=False)
    assert warned["problems"] == [] and warned["warnings"] == found["problems"]
    kept = job_records.read_history(history(tmp_path, json.dumps(dict(FAILED, rolled_back=False))))
    assert report(kept)["update"]["commit"] == "9f1e2d3"
    assert "was not rolled back" in report(kept)["problems"][0]


def test_the_table_shows_commits_attempts_and_drift(tmp_path):
    good = report(job_records.read_history(history(tmp_path, line())))
    failed = report(job_records.read_history(history(tmp_path, json.dumps(FAILED))))
    bad = report({"last": None, "bad": 3, "error": None})
    table = status_table({"web1": good, "web2": good, "web3": failed, "web4": bad})
    rows = {row.split()[0]: row.split() for row in table.splitlines()[1:5]}
    assert rows["web1"][2:4] == ["9f1e2d3", "2h/updated"]
    assert rows["web3"][2:4] == ["77c4be3", "2h/FAILED:migrate:rolled-back"]
    assert rows["web4"][2:4] == ["-", "-"]
    assert ("app commits: 9f1e2d3 on 2 hosts, 77c4be3 on 1 host, no update history on 1 host (drift)"
            in table.splitlines())
    assert ("warning: web4: /opt/app/logs/update-history.jsonl: 3 line(s) at its end are not what bin/update.sh "
            "writes; skipped") in table.splitlines()


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


def test_the_format_is_the_one_the_app_writes(app):
    written = app.update_history()
    assert written.name == job_records.HISTORY_NAME
    # The file lands in the role's logs_dir: bin/lib/paths.sh takes LOGS_DIR, which the role sets.
    assert written.directory_default == "LOGS_DIR"
    assert set(written.keys) == set(GOOD)
    assert written.statuses | {"failed"} == set(job_records.UPDATE_STATUSES)
    assert all(job_records._WORD.match(step) for step in written.steps)
    assert job_records._SHA.match("a" * written.short_sha)


def test_a_line_the_apps_own_function_writes_is_read(app, tmp_path):
    """bin/lib/update.sh's _up_record_history, run by bash with its own
    helpers, appends a line the reader takes whole."""
    lib = tmp_path / "update.sh"
    lib.write_text(app.text("bin/lib/update.sh"))
    logs = tmp_path / "logs"
    logs.mkdir()
    # The clock the app's `date` reads, set by the test: date itself formats it.
    script = ('date() { command date -d @%d "$@"; }; '
              'PROJECT_DIR=%s; LOG_DIR=%s; . %s; _up_saved_sha=77c4be32fc133eb9207f773d879a722f0b6aa291; '
              '_up_new_sha=9f1e2d3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; _up_failed_step=migrate; _up_mode=systemd; '
              '_up_auto_env=true; _up_record_history failed 0 true') % (CLOCK, tmp_path, logs, lib)
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    found = job_records.read_history(str(logs / job_records.HISTORY_NAME))
    assert found["bad"] == 0, (logs / job_records.HISTORY_NAME).read_text()
    assert (found["last"]["old_sha"], found["last"]["new_sha"], found["last"]["failed_step"],
            found["last"]["rolled_back"], found["last"]["auto_update"]) == ("77c4be3", "9f1e2d3", "migrate", True,
                                                                            True)
    assert found["last"]["time"] == CLOCK
