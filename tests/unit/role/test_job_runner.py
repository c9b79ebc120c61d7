"""The cron job runner, roles/server_maintanence/files/server-maintanence-job.

Each test runs the real script with /bin/sh in a sandbox under tmp_path: its
settings file is written by the test and found through
SERVER_MAINTANENCE_JOB_CONFIG, and the environment is as bare as cron's
(PATH and that variable only), so nothing leaks in from the test process.
"""

import contextlib
import os
import pathlib
import shlex
import signal
import stat
import subprocess
import sys
import time

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = pathlib.Path(__file__).resolve().parents[3]
RUNNER = REPO / "roles" / "server_maintanence" / "files" / "server-maintanence-job"
# What the role installs as the runner's env_loader.
LOADER = REPO / "plugins" / "module_utils" / "_systemd_env.py"
# What the role installs as the runner's records: the writer of the records and metrics.
RECORDS = REPO / "plugins" / "module_utils" / "_job_records.py"
from ..plugins.module_utils import env_table  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety  # noqa: E402
from ansible_collections.server_maintanence.ops.plugins.module_utils import _paths  # noqa: E402
from ansible_collections.server_maintanence.ops.plugins.module_utils._job_records import WRITE_LOCK  # noqa: E402
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description  # noqa: E402
DEFAULTS = yaml.safe_load((REPO / "roles" / "server_maintanence" / "defaults" / "main.yml").read_text())
SHELLCHECK = pathlib.Path(sys.executable).parent / "shellcheck"

EX_USAGE = 64
EX_TEMPFAIL = 75  # skipped: the previous run still holds the lock
EX_CONFIG = 78
ENV_REFUSED = 65  # systemd refuses the env file as a whole: the job is not run
TIMED_OUT = 124

STATE_KEYS = {"name", "start", "end", "duration", "exit_code", "outcome", "skipped",
              "timed_out", "last_success"}
PROM = "server_maintanence.prom"
JOB_FAMILIES = {  # metric family -> the state file field it reports
    "server_maintanence_job_last_start_timestamp_seconds": "start",
    "server_maintanence_job_last_success_timestamp_seconds": "last_success",
    "server_maintanence_job_last_exit_code": "exit_code",
    "server_maintanence_job_last_duration_seconds": "duration",
    "server_maintanence_job_last_run_skipped": "skipped",
    "server_maintanence_job_last_run_timed_out": "timed_out",
}
LOGS_SIZE = "server_maintanence_logs_size_bytes"
LAST_ROTATION = "server_maintanence_logrotate_last_rotation_timestamp_seconds"


class Sandbox:
    """The runner's directories and settings file under one tmp_path."""

    def __init__(self, root):
        self.root = root
        self.project = root / "project"
        self.logs = root / "logs"
        self.state_dir = root / "state"
        self.env_file = root / "app.env"
        self.logrotate_state = root / "logrotate.status"
        self.config = root / "server-maintanence-job.conf"
        for directory in (self.project, self.logs, self.state_dir):
            directory.mkdir()
        self.configure()

    def configure(self, **settings):
        """(Re)write the settings file, quoted the way the role's template quotes it."""
        values = {
            "project_dir": self.project,
            "logs_dir": self.logs,
            "env_file": self.env_file,
            "env_loader": LOADER,
            "records": RECORDS,
            "state_dir": self.state_dir,
            "metrics": 1,
            "logrotate_state": self.logrotate_state,
        }
        values.update(settings)
        self.config.write_text(
            "".join("%s=%s\n" % (key, shlex.quote(str(value))) for key, value in values.items()))

    def run(self, *args, env=None, config=None):
        """Run the runner with a cron-like environment; returns the CompletedProcess."""
        environ = {"PATH": "/usr/bin:/bin",
                   "SERVER_MAINTANENCE_JOB_CONFIG": str(config or self.config)}
        environ.update(env or {})
        return subprocess.run(["/bin/sh", str(RUNNER), *map(str, args)], env=environ,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60, check=False)

    def ok(self, *args, **kwargs):
        """Run a job that must succeed, showing its log when it does not."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (result, self.log(args[0]))
        return result

    def state(self, name):
        """<state_dir>/<name>.state as a dict."""
        pairs = [line.split("=", 1) for line in (self.state_dir / (name + ".state")).read_text()
                 .splitlines()]
        assert all(len(pair) == 2 for pair in pairs), pairs
        return dict(pairs)

    def log(self, name):
        """The job's log under logs_dir ('' when it does not exist)."""
        path = self.logs / (name if name.endswith(".log") else name + ".log")
        return path.read_text() if path.exists() else ""

    def lock(self, name):
        return self.state_dir / (name + ".lock")

    def metric_families(self):
        """The .prom file parsed by prometheus_client, by family name."""
        text = (self.state_dir / PROM).read_text()
        return {family.name: family for family in text_string_to_metric_families(text)}


@pytest.fixture
def sandbox(tmp_path):
    return Sandbox(tmp_path)


def wait_until(predicate, what, seconds=60.0):
    """Poll until predicate holds; the deadline only ends a test that would
    wait forever, so a loaded machine costs time, never a failure."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting until " + what
        time.sleep(0.02)


def lock_is_held(lock):
    """True when another process holds lock (flock -n cannot take it)."""
    attempt = subprocess.run(["flock", "-n", "-E", "99", str(lock), "true"], check=False)
    assert attempt.returncode in (0, 99), attempt
    return attempt.returncode == 99


@contextlib.contextmanager
def holding_lock(lock):
    """Hold lock from a background flock, as a still-running previous run would,
    until the block ends (never for a fixed time, which a loaded machine outlasts)."""
    holder = subprocess.Popen(["flock", str(lock), "sleep", "infinity"], start_new_session=True)
    try:
        wait_until(lambda: lock_is_held(lock), "the background flock holds %s" % lock)
        yield
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # flock and its sleep, which shares the lock
        holder.wait()


def by_name(family):
    """A per-job family's samples as {job name: value}, each labelled by name only."""
    assert all(set(sample.labels) == {"name"} for sample in family.samples), family.samples
    return {sample.labels["name"]: sample.value for sample in family.samples}


def test_runner_is_shellcheck_clean():
    """ShellCheck, as POSIX sh, finds nothing in the runner."""
    result = subprocess.run([str(SHELLCHECK), "-s", "sh", str(RUNNER)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_runner_parses_as_sh():
    """sh -n (the role's validate command) accepts the runner."""
    result = subprocess.run(["/bin/sh", "-n", str(RUNNER)],
                            capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (0, "")


def test_healthy_job(sandbox):
    """A job that succeeds: output appended to its log, run in project_dir with the env
    file loaded (which cannot redirect the runner), its state recorded as a success."""
    (sandbox.logs / "healthy.log").write_text("line from an earlier run\n")
    sandbox.env_file.write_text(
        "APP_GREETING='hello from the env file'\n"
        "logs_dir=/nonexistent\n"
        "state_dir=/nonexistent\n"
        "metrics=0\n")
    before = time.time()
    result = sandbox.ok(
        "healthy", "30", "sh", "-c",
        'pwd; echo "greeting=$APP_GREETING"; echo "runner setting=${project_dir-unset}"')
    after = time.time()

    assert (result.stdout, result.stderr) == ("", "")  # everything goes to the log
    log = sandbox.log("healthy")
    assert log.startswith("line from an earlier run\n")
    assert log.splitlines()[1:] == [
        str(sandbox.project),
        "greeting=hello from the env file",
        "runner setting=unset",  # the runner's settings are not exported to the command
    ]
    assert not pathlib.Path("/nonexistent").exists()
    assert sorted(p.name for p in sandbox.state_dir.glob("*.state")) == ["healthy.state"]
    assert (sandbox.state_dir / PROM).is_file()

    state = sandbox.state("healthy")
    assert set(state) == STATE_KEYS
    assert state["name"] == "healthy"
    assert (state["outcome"], state["exit_code"], state["skipped"], state["timed_out"]) == (
        "success", "0", "0", "0")
    start, end = float(state["start"]), float(state["end"])
    assert before - 1 <= start <= end <= after + 1
    assert state["last_success"] == state["end"]
    assert abs(float(state["duration"]) - (end - start)) < 0.0015


def test_missing_env_file_is_not_an_error(sandbox):
    """Without the env file the command still runs, and the run is a success."""
    assert not sandbox.env_file.exists()
    marker = sandbox.root / "ran"
    sandbox.ok("no-env", "30", "touch", marker)
    assert marker.exists()
    assert sandbox.state("no-env")["outcome"] == "success"


def test_failing_job_keeps_the_last_success(sandbox):
    """A failing command's exit code is the runner's, with its stderr in the (--log) log;
    the state says failure and still holds the earlier success."""
    sandbox.ok("--log", "shared.log", "flaky", "30", "true")
    succeeded = sandbox.state("flaky")["end"]

    result = sandbox.run("--log", "shared.log", "flaky", "30", "sh", "-c", "echo boom >&2; exit 3")

    assert result.returncode == 3
    assert "boom" in sandbox.log("shared.log").splitlines()
    assert not (sandbox.logs / "flaky.log").exists()
    state = sandbox.state("flaky")
    assert (state["outcome"], state["exit_code"], state["skipped"], state["timed_out"]) == (
        "failure", "3", "0", "0")
    assert state["last_success"] == succeeded
    assert float(state["start"]) >= float(succeeded)


def test_run_is_skipped_while_the_lock_is_held(sandbox):
    """While the previous run holds the job's lock the runner exits 75 without running the
    command, logs the skip and keeps the last success; once released, runs go ahead."""
    sandbox.ok("busy", "30", "true")
    succeeded = sandbox.state("busy")["end"]
    marker = sandbox.root / "ran"

    with holding_lock(sandbox.lock("busy")):
        result = sandbox.run("busy", "30", "touch", marker)

    assert result.returncode == EX_TEMPFAIL
    assert not marker.exists()
    assert any("skipped" in line for line in sandbox.log("busy").splitlines())
    state = sandbox.state("busy")
    assert (state["outcome"], state["exit_code"], state["skipped"], state["timed_out"]) == (
        "skipped", "75", "1", "0")
    assert state["last_success"] == succeeded

    sandbox.ok("busy", "30", "touch", marker)
    assert marker.exists()


def test_an_inbox_drain_still_running_is_never_killed_by_the_next_one(sandbox):
    """The cron drain, as the role runs it (its job id, log and default
    timeout): a drain still running when the next one is due keeps running;
    the next one exits 75 as skipped without touching it, and the first one
    finishes and records its success."""
    inbox = next(job for job in description.JOBS if job["id"] == "inbox")
    timeout = str(DEFAULTS["server_maintanence_inbox_timeout"])
    started, release = sandbox.root / "started", sandbox.root / "release"
    # A long pipeline run: it ends only once the test lets it.
    drain = ["sh", "-c", 'touch "$1"; while ! [ -e "$2" ]; do sleep 0.05; done; echo "Processed 1 run(s)."',
             "sh", started, release]
    environ = {"PATH": "/usr/bin:/bin", "SERVER_MAINTANENCE_JOB_CONFIG": str(sandbox.config)}
    first = subprocess.Popen(["/bin/sh", str(RUNNER), "--log", inbox["log"], inbox["id"], timeout, *map(str, drain)],
                             env=environ, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(started.exists, "the first drain runs")
        second = sandbox.run("--log", inbox["log"], inbox["id"], timeout, "touch", sandbox.root / "second")

        assert second.returncode == EX_TEMPFAIL
        assert not (sandbox.root / "second").exists()
        assert first.poll() is None, "the second drain stopped the first"
        state = sandbox.state(inbox["id"])
        assert (state["outcome"], state["exit_code"], state["skipped"], state["last_success"]) == (
            "skipped", "75", "1", "")

        release.touch()
        assert first.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    state = sandbox.state(inbox["id"])
    assert (state["outcome"], state["exit_code"], state["skipped"], state["timed_out"]) == (
        "success", "0", "0", "0")
    assert state["last_success"] == state["end"]
    log = sandbox.log(inbox["log"]).splitlines()
    assert [line for line in log if "skipped, the previous run still holds" in line] != []
    assert log[-1] == "Processed 1 run(s)."


def test_timeout_stops_the_job(sandbox):
    """A command outliving TIMEOUT is stopped: exit 124, recorded as a timeout.
    The command would sleep 600 s: stopped in under 60 (Sandbox.run's own
    limit), whatever else loads the machine."""
    started = time.monotonic()
    result = sandbox.run("sleepy", "1", "sleep", "600")
    elapsed = time.monotonic() - started

    assert result.returncode == TIMED_OUT
    assert elapsed < 60
    assert "stopped after 1s" in sandbox.log("sleepy")
    state = sandbox.state("sleepy")
    assert (state["outcome"], state["exit_code"], state["skipped"], state["timed_out"]) == (
        "timeout", "124", "0", "1")
    assert 0.9 <= float(state["duration"]) < 60
    assert state["last_success"] == ""


def test_leftover_process_does_not_hold_the_lock(sandbox):
    """A process the command leaves running does not inherit the lock, so the next run
    right after is not skipped."""
    pidfile = sandbox.root / "leftover.pid"
    leftover = None
    try:
        sandbox.ok("spawner", "30", "sh", "-c", 'sleep 30 & echo $! >"$1"', "sh", pidfile)
        leftover = int(pidfile.read_text())
        os.kill(leftover, 0)  # still running, or this test proves nothing
        assert not lock_is_held(sandbox.lock("spawner"))

        sandbox.ok("spawner", "30", "true")
        os.kill(leftover, 0)
        assert sandbox.state("spawner")["outcome"] == "success"
    finally:
        if leftover is not None:
            os.kill(leftover, signal.SIGKILL)


RUN = object()  # stands for a command that leaves a marker file when it runs


@pytest.mark.parametrize("args", [
    pytest.param([], id="no-arguments"),
    pytest.param(["job"], id="name-only"),
    pytest.param(["job", "30"], id="no-command"),
    pytest.param(["--log"], id="log-without-file"),
    pytest.param(["--log", "x.log", "job", "30"], id="log-without-command"),
    pytest.param(["bad/name", "30", RUN], id="name-with-slash"),
    pytest.param(["Job", "30", RUN], id="name-uppercase"),
    pytest.param(["job.x", "30", RUN], id="name-with-dot"),
    pytest.param(["", "30", RUN], id="name-empty"),
    pytest.param(["job", "abc", RUN], id="timeout-not-numeric"),
    pytest.param(["job", "1.5", RUN], id="timeout-fraction"),
    pytest.param(["job", "-1", RUN], id="timeout-negative"),
    pytest.param(["job", "", RUN], id="timeout-empty"),
    pytest.param(["job", "0", RUN], id="timeout-zero"),
    pytest.param(["job", "00", RUN], id="timeout-zero-padded"),
    pytest.param(["--log", "sub/x.log", "job", "30", RUN], id="log-with-slash"),
    pytest.param(["--log", "../x.log", "job", "30", RUN], id="log-outside-logs-dir"),
    pytest.param(["--log", ".x.log", "job", "30", RUN], id="log-hidden"),
])
def test_bad_usage_exits_64(sandbox, args):
    """Malformed arguments: exit 64 with the usage line, nothing run or recorded."""
    marker = sandbox.root / "ran"
    argv = [item for arg in args for item in (["touch", marker] if arg is RUN else [arg])]

    result = sandbox.run(*argv)

    assert result.returncode == EX_USAGE, result
    assert result.stderr.startswith("usage: server-maintanence-job ")
    assert not marker.exists()
    assert list(sandbox.state_dir.iterdir()) == []
    assert list(sandbox.logs.iterdir()) == []


@pytest.mark.parametrize("where", ["missing-file", "missing-directory", "a-directory"])
def test_unreadable_config_exits_78(sandbox, where):
    """Settings that cannot be read: exit 78 naming the file, nothing run.
    (Permission bits cannot make a file unreadable for root, which runs these tests.)"""
    config = sandbox.root / {"missing-file": "absent.conf", "missing-directory": "absent/job.conf",
                             "a-directory": "conf.d"}[where]
    if where == "a-directory":
        config.mkdir()
    marker = sandbox.root / "ran"

    result = sandbox.run("job", "30", "touch", marker, config=config)

    assert result.returncode == EX_CONFIG
    assert "cannot read %s" % config in result.stderr
    assert not marker.exists()
    assert list(sandbox.state_dir.iterdir()) == []


def test_state_and_metrics_are_replaced_atomically(sandbox):
    """State and .prom files are replaced by rename (a new inode each time), readable by
    the exporter (0644), and no temporary file is left behind."""
    sandbox.ok("alpha", "30", "true")
    # Held open, the first files keep their inodes: a new file cannot reuse one.
    first = {path: open(path, "rb") for path in (sandbox.state_dir / "alpha.state", sandbox.state_dir / PROM)}
    try:
        assert sandbox.run("beta", "30", "false").returncode == 1
        sandbox.ok("alpha", "30", "true")
        for path, handle in first.items():
            assert path.stat().st_ino != os.fstat(handle.fileno()).st_ino, path
    finally:
        for handle in first.values():
            handle.close()
    # The write lock is the one the role's sweep checks before it touches the state directory.
    assert sorted(p.name for p in sandbox.state_dir.iterdir()) == [
        WRITE_LOCK, "alpha.lock", "alpha.state", "beta.lock", "beta.state", PROM]
    for path in [*sandbox.state_dir.glob("*.state"), sandbox.state_dir / PROM]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_metrics_match_the_state_files(sandbox):
    """The .prom file holds gauges named server_maintanence_*: every job's state, the
    last success only for jobs that have one, and the logs directory's disk usage."""
    sandbox.ok("alpha", "30", "true")
    assert sandbox.run("beta", "30", "sh", "-c", "exit 3").returncode == 3
    sandbox.ok("gamma", "30", "true")
    assert sandbox.run("gamma", "30", "sh", "-c", "exit 2").returncode == 2
    with holding_lock(sandbox.lock("delta")):
        assert sandbox.run("delta", "30", "true").returncode == EX_TEMPFAIL
    jobs = ["alpha", "beta", "gamma", "delta"]
    states = {job: sandbox.state(job) for job in jobs}
    du = subprocess.run(["du", "-sB1", str(sandbox.logs)],
                        capture_output=True, text=True, check=True)

    families = sandbox.metric_families()

    for family in families.values():
        assert family.type == "gauge", family
        assert family.name.startswith("server_maintanence_"), family
    assert set(families) == set(JOB_FAMILIES) | {LOGS_SIZE}  # no logrotate state file here
    for name, field in JOB_FAMILIES.items():
        expected = {job: float(state[field]) for job, state in states.items() if state[field]}
        assert by_name(families[name]) == expected, name
    assert set(by_name(families["server_maintanence_job_last_success_timestamp_seconds"])) == {
        "alpha", "gamma"}
    assert by_name(families["server_maintanence_job_last_exit_code"]) == {
        "alpha": 0, "beta": 3, "gamma": 2, "delta": 75}
    assert by_name(families["server_maintanence_job_last_run_skipped"])["delta"] == 1
    [size] = families[LOGS_SIZE].samples
    assert size.labels == {}
    assert size.value == int(du.stdout.split()[0])


SETTINGS = "jobs=alpha:300:600,gamma:3600:7200 max_intervals=2 rotation=86400:172800 logs_limit=1073741824"


def test_metrics_settings_add_the_alert_rules_gauges_and_keep_to_the_jobs_on(sandbox):
    """With the role's metrics settings, the jobs on get their interval and late-after, the host
    its limits, and a record of a job not on (beta, turned off) is left out."""
    sandbox.ok("beta", "30", "true")
    sandbox.configure(metrics_settings=SETTINGS)
    sandbox.ok("alpha", "30", "true")
    families = sandbox.metric_families()
    assert set(by_name(families["server_maintanence_job_last_exit_code"])) == {"alpha"}
    assert by_name(families["server_maintanence_job_interval_seconds"]) == {"alpha": 300, "gamma": 3600}
    assert by_name(families["server_maintanence_job_late_after_seconds"]) == {"alpha": 600, "gamma": 7200}
    host = {name: families[name].samples[0].value for name in (
        "server_maintanence_status_max_intervals", "server_maintanence_logrotate_interval_seconds",
        "server_maintanence_logrotate_late_after_seconds", "server_maintanence_logs_size_limit_bytes")}
    assert host == {"server_maintanence_status_max_intervals": 2,
                    "server_maintanence_logrotate_interval_seconds": 86400,
                    "server_maintanence_logrotate_late_after_seconds": 172800,
                    "server_maintanence_logs_size_limit_bytes": 1073741824}
    assert (sandbox.state_dir / "beta.state").exists(), "the record stays: only the metrics leave it out"


@pytest.mark.parametrize("settings", ["jobs=alpha:300 max_intervals=2", "jobs=alpha:300:600; rm -rf /"])
def test_settings_not_as_the_role_writes_them_are_named_and_left_out(sandbox, settings):
    sandbox.configure(metrics_settings=settings)
    sandbox.ok("alpha", "30", "true")
    families = sandbox.metric_families()
    assert set(families) == set(JOB_FAMILIES) | {LOGS_SIZE}
    assert "metrics settings are not what the role writes" in sandbox.log("alpha")


@pytest.fixture
def local_tz():
    """A fixed zone away from UTC (UTC+5:30), in this process and for the runner, so
    that reading logrotate's local times as UTC would show."""
    zone = "XST-5:30"
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield zone
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def write_logrotate_state(sandbox, entries):
    sandbox.logrotate_state.write_text("logrotate state -- version 2\n" + "".join(
        '"%s" %s\n' % (path, stamp) for path, stamp in entries))


OTHER_ENTRIES = [  # all newer than the app's logs, none of them an app log
    ("/var/log/syslog", "2027-1-1-0:0:0"),
    ("{root}/logs-old/django.log", "2027-1-2-0:0:0"),  # a sibling sharing the prefix
    ("{root}/logs.log", "2027-1-2-12:0:0"),
    ("{logs}/sub/nested.log", "2027-1-3-0:0:0"),
    ("{logs}/cron.txt", "2027-1-4-0:0:0"),
    ("{logs}/django.log.1", "2027-1-5-0:0:0"),
    ("{logs}/update-history.jsonl", "2027-1-6-0:0:0"),
]


def entries(sandbox, template):
    return [(path.format(root=sandbox.root, logs=sandbox.logs), stamp)
            for path, stamp in template]


def test_metrics_report_the_newest_rotation_of_the_app_logs(sandbox, local_tz):
    """The last rotation is the newest logrotate entry for <logs_dir>/*.log, compared as
    dates (not strings) and read as local time; other entries are ignored."""
    write_logrotate_state(sandbox, entries(sandbox, OTHER_ENTRIES + [
        ("{logs}/health.log", "2026-9-30-23:59:59"),  # "9" > "11" as a string
        ("{logs}/django.log", "2026-11-25-2:0:0"),  # "2" > "10" as a string
        ("{logs}/celery.log", "2026-11-25-10:5:9"),  # the newest
    ]))

    sandbox.ok("alpha", "30", "true", env={"TZ": local_tz})

    [sample] = sandbox.metric_families()[LAST_ROTATION].samples
    assert sample.labels == {}
    assert sample.value == time.mktime((2026, 11, 25, 10, 5, 9, 0, 0, -1))


@pytest.mark.parametrize("status", ["no-matching-entry", "no-state-file"])
def test_no_rotation_metric_without_an_entry_for_the_app_logs(sandbox, status):
    """Without a logrotate entry for <logs_dir>/*.log the rotation metric is left out,
    while the rest of the .prom file is still written."""
    if status == "no-matching-entry":
        write_logrotate_state(sandbox, entries(sandbox, OTHER_ENTRIES))

    sandbox.ok("alpha", "30", "true")

    families = sandbox.metric_families()
    assert LAST_ROTATION not in families
    assert set(families) == set(JOB_FAMILIES) | {LOGS_SIZE}
    assert "alpha" in by_name(families["server_maintanence_job_last_exit_code"])


def test_no_metrics_without_metrics_dir(sandbox):
    """metrics='' (no server_maintanence_metrics_dir) turns metrics off: the state is
    recorded, no .prom file anywhere."""
    stray = pathlib.Path("/") / PROM
    assert not stray.exists(), "precondition: %s already exists" % stray
    sandbox.configure(metrics="")

    sandbox.ok("alpha", "30", "true")

    assert sandbox.state("alpha")["outcome"] == "success"
    assert list(sandbox.root.rglob("*.prom")) == []
    assert not stray.exists()
    assert "could not write" not in sandbox.log("alpha")


def test_env_file_cannot_change_the_timeout(sandbox):
    """An env file defining a variable named like the runner's timeout does not change
    the job's timeout."""
    sandbox.env_file.write_text("timeout=30\n")

    result = sandbox.run("sleepy", "1", "sleep", "2")

    assert result.returncode == TIMED_OUT
    assert sandbox.state("sleepy")["outcome"] == "timeout"


def _seen(text):
    """`env -0` output as a dict."""
    return dict(item.split("=", 1) for item in text.split("\0") if item)


def test_env_file_is_read_by_systemd_rules_and_never_run(sandbox):
    """Every line of the table reaches the command as systemd would give it; nothing in
    the file is executed, and no piece of a value lands in the log."""
    marker = sandbox.root / "executed"
    rows = env_table.table() + [
        ("T_RUN=abc&touch %s" % marker, "T_RUN", "abc&touch %s" % marker),
        ("T_SUBST=$(touch %s)" % marker, "T_SUBST", "$(touch %s)" % marker),
    ]
    sandbox.env_file.write_text(env_table.env_text(rows))
    dump = sandbox.root / "seen"
    sandbox.ok("dump", "30", "sh", "-c", 'env -0 > "$1"', "sh", dump)
    seen = _seen(dump.read_text())
    for _raw, key, value in rows:
        assert seen.get(key) == value, key
    assert not marker.exists()
    assert sandbox.log("dump") == ""


def test_path_in_the_env_file_cannot_choose_timeout_or_python(sandbox):
    """A PATH line reaches the command, but timeout and python3 were found before."""
    fake = sandbox.root / "fake-bin"
    fake.mkdir()
    planted = sandbox.root / "planted-ran"
    for name in ("timeout", "python3"):
        (fake / name).write_text("#!/bin/sh\ntouch %s\nexit 0\n" % planted)
        (fake / name).chmod(0o755)
    sandbox.env_file.write_text("PATH=%s:/usr/bin:/bin\n" % fake)

    result = sandbox.run("sleepy", "1", "/bin/sleep", "3")

    assert result.returncode == TIMED_OUT  # the real timeout stopped it
    assert not planted.exists()
    dump = sandbox.root / "path"
    sandbox.ok("path", "30", "sh", "-c", 'echo "$PATH" > "$1"', "sh", dump)
    assert dump.read_text().strip() == "%s:/usr/bin:/bin" % fake
    assert not planted.exists()


def test_an_env_file_systemd_refuses_is_not_run_and_recorded_as_env_refused(sandbox):
    """A value that is not UTF-8 on line 3: the units would not start, the job does
    not run; one log line names the file and the line, never a value."""
    sandbox.env_file.write_text("A=1\n")
    sandbox.ok("refusal", "30", "true")
    succeeded = sandbox.state("refusal")["last_success"]
    sandbox.env_file.write_bytes(b"A=1\n# ok\nSECRET=s3cr\xe9t-value\nB=2\n")
    marker = sandbox.root / "ran"

    result = sandbox.run("refusal", "30", "touch", marker)

    assert result.returncode == ENV_REFUSED
    assert not marker.exists()
    log = sandbox.log("refusal").splitlines()
    assert len(log) == 1
    assert log[0].endswith(" refusal: not run: systemd refuses %s as a whole (line 3: a value that is not UTF-8), "
                           "so its units do not start" % sandbox.env_file), log
    assert "s3cr" not in sandbox.log("refusal")
    state = sandbox.state("refusal")
    assert (state["outcome"], state["exit_code"], state["last_success"]) == ("env_refused", "65", succeeded)
    families = sandbox.metric_families()
    exit_code = families["server_maintanence_job_last_exit_code"]
    assert [sample.value for sample in exit_code.samples if sample.labels["name"] == "refusal"] == [65]
    assert "65: not run, systemd refuses the env file" in exit_code.documentation


def test_a_command_exiting_65_is_a_failure_not_a_refusal(sandbox):
    sandbox.env_file.write_text("A=1\n")
    result = sandbox.run("own65", "30", "sh", "-c", "exit 65")
    assert result.returncode == ENV_REFUSED
    assert sandbox.state("own65")["outcome"] == "failure"


def test_control_characters_in_env_values_reach_the_command(sandbox):
    sandbox.env_file.write_bytes(b'CR="a\rb"\nESC=a\x1bb\n')
    dump = sandbox.root / "seen"
    sandbox.ok("ctl", "30", "sh", "-c", 'env -0 > "$1"', "sh", dump)
    seen = _seen(dump.read_bytes().decode())  # read_text() would turn the CR into a newline
    assert (seen["CR"], seen["ESC"]) == ("a\rb", "a\x1bb")


def test_unreadable_env_loader_is_a_config_error(sandbox):
    sandbox.env_file.write_text("A=1\n")
    sandbox.configure(env_loader=sandbox.root / "missing-loader.py")
    marker = sandbox.root / "ran"

    result = sandbox.run("noloader", "30", "touch", marker)

    assert result.returncode == EX_CONFIG
    assert not marker.exists()
    assert "cannot read %s" % (sandbox.root / "missing-loader.py") in sandbox.log("noloader")
    assert sandbox.state("noloader")["outcome"] == "failure"


def test_env_file_the_loader_cannot_read_is_a_config_error(sandbox):
    """A directory where the env file should be: the loader says so and exits 78."""
    sandbox.env_file.mkdir()
    marker = sandbox.root / "ran"

    result = sandbox.run("noread", "30", "touch", marker)

    assert result.returncode == EX_CONFIG
    assert not marker.exists()
    assert "cannot read %s" % sandbox.env_file in sandbox.log("noread")
    assert sandbox.state("noread")["outcome"] == "failure"


# A writer killed mid-write ----------------------------------------------------

# The records writer the runner runs, behind an audit hook (PEP 578) that
# sends the writer itself a signal just before it renames the job's record
# into place, its temporary file written and closed: SIGKILL, as the OOM
# killer would, or SIGSTOP, a writer caught in the act. No timing involved.
FAULTY_RECORDS = '''import os, runpy, signal, sys
fired = []
def hook(event, args):
    if not fired and event == "os.rename" and os.path.basename(os.fsdecode(args[1])) == {target!r}:
        fired.append(event)
        with open({pidfile!r}, "w") as handle:
            handle.write(str(os.getpid()))
        os.kill(os.getpid(), {signal:d})
sys.addaudithook(hook)
sys.argv[0] = {real!r}
runpy.run_path({real!r}, run_name="__main__")
'''


def faulty_records(sandbox, job, sent):
    """Point the sandbox's runner at a records writer that sends itself sent
    at job's record's rename; returns the file its pid is written to."""
    pidfile = sandbox.root / "writer.pid"
    script = sandbox.root / "faulty-records.py"
    script.write_text(FAULTY_RECORDS.format(target=job + ".state", pidfile=str(pidfile), signal=int(sent),
                                            real=str(RECORDS)))
    sandbox.configure(records=script)
    return pidfile


def temporary_files(directory):
    return sorted(path for path in directory.iterdir() if safety.LEFTOVER.match(path.name))


class Warnings(object):
    """What _paths.leftover uses of the module: its warnings."""

    def __init__(self):
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)


def test_a_writer_killed_mid_write_leaves_a_temporary_name_that_the_roles_sweep_removes(sandbox):
    """The runner's records writer killed between writing the new record and
    renaming it: the old record stays whole, the new one is left under the
    collection's temporary name, and the role's sweep (the reading's
    leftovers(), then the maintenance module's leftover step) removes it."""
    sandbox.ok("alpha", "30", "true")
    old = (sandbox.state_dir / "alpha.state").read_text()
    faulty_records(sandbox, "alpha", signal.SIGKILL)

    assert sandbox.run("alpha", "30", "false").returncode == 1
    assert "could not write %s/alpha.state" % sandbox.state_dir in sandbox.log("alpha")
    [left] = temporary_files(sandbox.state_dir)
    assert left.name.startswith("alpha.state.server-maintanence-tmp-") and "exit_code=1\n" in left.read_text()
    assert (sandbox.state_dir / "alpha.state").read_text() == old
    assert not lock_is_held(sandbox.state_dir / ".write.lock")  # died with its writer

    assert safety.leftovers([str(sandbox.state_dir)]) == [(str(left), "file")]
    module, kept = Warnings(), []
    changed = _paths.leftover(module, {"path": str(left), "state": "leftover"}, False, kept)[0]
    assert changed and kept == [] and module.warnings == []
    assert temporary_files(sandbox.state_dir) == [] and (sandbox.state_dir / "alpha.state").read_text() == old
    sandbox.configure()
    sandbox.ok("alpha", "30", "true")
    assert sandbox.state("alpha")["outcome"] == "success" and temporary_files(sandbox.state_dir) == []


def test_the_sweep_keeps_the_temporary_file_of_a_writer_still_at_work(sandbox):
    """A records writer stopped between its write and its rename still holds
    the runner's write lock: the sweep neither lists nor removes its file,
    and once resumed the writer puts its record in place."""
    sandbox.ok("alpha", "30", "true")
    pidfile = faulty_records(sandbox, "alpha", signal.SIGSTOP)
    runner = subprocess.Popen(["/bin/sh", str(RUNNER), "alpha", "30", "false"], stdin=subprocess.DEVNULL,
                              env={"PATH": "/usr/bin:/bin", "SERVER_MAINTANENCE_JOB_CONFIG": str(sandbox.config)})
    writer = None
    try:
        wait_until(lambda: pidfile.exists() and pidfile.read_text(), "the writer writes its pid")
        writer = int(pidfile.read_text())
        wait_until(lambda: pathlib.Path("/proc/%d/stat" % writer).read_text().rsplit(")", 1)[1].split()[0] == "T",
                   "the writer is stopped")
        [left] = temporary_files(sandbox.state_dir)
        assert lock_is_held(sandbox.state_dir / ".write.lock")

        assert safety.leftovers([str(sandbox.state_dir)]) == []
        assert not safety.remove_leftover(str(left)) and left.exists()

        os.kill(writer, signal.SIGCONT)
        assert runner.wait(timeout=60) == 1
    finally:
        if runner.poll() is None:
            if writer is not None:
                os.kill(writer, signal.SIGKILL)
            runner.kill()
            runner.wait()
    assert sandbox.state("alpha")["exit_code"] == "1" and temporary_files(sandbox.state_dir) == []


def test_runner_lines_stay_readable():
    """No line of the runner is longer than 100 characters."""
    long_lines = [number for number, line in enumerate(RUNNER.read_text().splitlines(), 1) if len(line) > 100]
    assert long_lines == []
