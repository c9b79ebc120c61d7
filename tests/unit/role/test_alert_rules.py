"""The shipped alert rules (roles/server_maintanence/files/server-maintanence.rules.yml),
proven with `promtool test rules` on metrics the job runner really wrote.

Each case is a host: the role's defaults with a few variables changed, its
jobs, schedules and metrics settings taken from the role's own description
(plugins/plugin_utils/description.py), and the real job runner run in a
sandbox as cron would run it, minute by minute over a few hours of a test
clock (a `date` first on the runner's PATH answers the runner's `now`).
After each simulated minute the runner's .prom file is read as
node_exporter's textfile collector reads it (node_textfile_scrape_error 1
and no series when it does not parse), and those values become promtool's
input series. Nothing here types a metric value. What fires is read from
the ALERTS series at each checked minute, by alert name, host, job and
severity: an empty set is a quiet host.

A copy of the rules with any metric name misspelt must fail the same
cases (test_a_misspelt_metric_fails_the_cases).
"""

from __future__ import annotations

import fnmatch
import json
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron, description
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.status import status_report
from ..app_contract import upstream_app
from .test_job_runner import REPO, Sandbox, holding_lock

RULES = REPO / "roles" / "server_maintanence" / "files" / description.ALERT_RULES
DEFAULTS = REPO / "roles" / "server_maintanence" / "defaults" / "main.yml"
TROUBLESHOOTING = REPO / "docs" / "troubleshooting.md"
PROMTOOL = shutil.which("promtool")
FIRING = 'count by (alertname, instance, name, severity) (ALERTS{alertstate="firing"})'
# The test clock: the runner's `date +%s.%3N` prints SM_TEST_CLOCK; any other date call is the real one.
DATE_SHIM = """#!/bin/sh
if [ "$*" = "+%s.%3N" ]; then echo "$SM_TEST_CLOCK"; exit 0; fi
exec /bin/date "$@"
"""
# A update-history line the app's bin/update.sh writes (its keys are checked against the app).
HISTORY = {"old_sha": "77c4be3", "new_sha": "9f1e2d3", "commits": 1, "mode": "systemd", "auto_update": True}


def role_inputs(**changes):
    """The role's defaults (defaults/main.yml) with changes, as the action plugin hands them over."""
    inputs = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    inputs.update({description.PREFIX + key: value for key, value in changes.items()})
    inputs[description.PREFIX + "metrics_dir"] = "/var/lib/prometheus/node-exporter"
    return inputs


def runs_at(schedule, minute):
    """Whether a schedule whose day, month and weekday are * runs at this minute of the test clock."""
    fields = schedule.split()
    assert fields[2:] == ["*", "*", "*"], "the simulation keeps to one day: %s" % schedule
    minutes = cron._numbers(fields[0], 0, 59)  # pylint: disable=protected-access
    hours = cron._numbers(fields[1], 0, 23)  # pylint: disable=protected-access
    return minute % 60 in minutes and (minute // 60) % 24 in hours


def history_line(minute, status, failed_step=None):
    stamp = "1970-01-01T%02d:%02d:00+0000" % (minute // 60, minute % 60)
    return json.dumps(dict(HISTORY, timestamp=stamp, status=status, failed_step=failed_step,
                           rolled_back=status == "failed"), separators=(",", ":"))


class Host:
    """One host on the test clock: the role's settings, the real runner, what node_exporter would serve."""

    def __init__(self, root, name, **changes):
        self.name = name
        self.root = root
        root.mkdir()
        self.sandbox = Sandbox(root)
        shim = root / "bin"
        shim.mkdir()
        (shim / "date").write_text(DATE_SHIM)
        (shim / "date").chmod(0o755)
        self.path = "%s:/usr/bin:/bin" % shim
        self.cron = True
        self.commands = {}  # job id -> the command its runs run (default: true)
        self.skipped = set()  # jobs whose runs find the lock held
        self.scrapes = []  # per minute: {series: value}, or None when the file does not parse
        self.configure(**changes)

    def configure(self, **changes):
        """What the role installs for these variables: the jobs on and the runner's metrics settings."""
        inputs = role_inputs(**changes)
        self.jobs = [job for job in description.jobs(inputs, self.name) if job["wanted"]]
        self.settings = description.metrics_settings(inputs, description.jobs(inputs, self.name))
        self.sandbox.configure(metrics_settings=self.settings)

    def run(self, minute, job):
        command = self.commands.get(job["id"], ["true"])
        env = {"PATH": self.path, "SM_TEST_CLOCK": "%d.000" % (minute * 60), "TZ": "UTC0"}
        if job["id"] in self.skipped:
            with holding_lock(self.sandbox.lock(job["id"])):
                self.sandbox.run(job["id"], job["timeout"], *command, env=env)
        else:
            self.sandbox.run(job["id"], job["timeout"], *command, env=env)

    def minute(self, minute):
        """Cron's runs of this minute, then node_exporter's scrape."""
        if self.cron:
            for job in self.jobs:
                if runs_at(job["schedule"], minute):
                    self.run(minute, job)
        self.scrapes.append(self.scrape())

    def scrape(self):
        path = self.sandbox.state_dir / "server_maintanence.prom"
        if not path.exists():
            return {}
        try:
            families = list(text_string_to_metric_families(path.read_text()))
        except ValueError:
            return None
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in families for sample in family.samples}

    def rotated(self, minute):
        """logrotate rotated the app's logs at this minute (its state file, in the host's local time, UTC)."""
        self.sandbox.logrotate_state.write_text('logrotate state -- version 2\n"%s/cron.log" 1970-1-1-%d:%d:0\n'
                                                % (self.sandbox.logs, minute // 60, minute % 60))

    def series(self):
        """promtool's input_series: every series node_exporter would have served, minute by minute."""
        instance = {"instance": "%s:9100" % self.name, "job": "node"}
        keys = sorted({key for scrape in self.scrapes if scrape for key in scrape})
        found = [("node_textfile_scrape_error", (), ["0" if scrape is not None else "1" for scrape in self.scrapes])]
        for key in keys:
            values, seen = [], False
            for scrape in self.scrapes:
                if scrape and key in scrape:
                    values.append(repr(scrape[key]))
                    seen = True
                else:
                    values.append("stale" if seen and values[-1] not in ("stale", "_") else "_")
            found.append((key[0], key[1], values))
        return [{"series": "%s{%s}" % (name, ",".join('%s="%s"' % pair for pair in sorted(dict(labels, **instance)
                                                                                           .items()))),
                 "values": " ".join(values)} for name, labels, values in found]


def severities():
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"]
    return {rule["alert"]: rule["labels"]["severity"] for rule in rules}


def case(host, minutes, events, expected):
    """Run host over minutes 0..minutes-1 (events[minute](host) before that minute's runs) and
    the promtool test: at each checked minute, exactly the alerts expected fire ((alert, job) pairs)."""
    for minute in range(minutes):
        if minute in events:
            events[minute](host)
        host.minute(minute)
    severity = severities()
    return {
        "name": host.name,
        "interval": "1m",
        "input_series": host.series(),
        "promql_expr_test": [{
            "expr": FIRING,
            "eval_time": "%dm" % minute,
            "exp_samples": [{"labels": '{alertname="%s",instance="%s:9100",name="%s",severity="%s"}'
                                       % (alert, host.name, name, severity[alert]), "value": 1}
                            for alert, name in sorted(firing)],
        } for minute, firing in sorted(expected.items())],
    }


def quiet(*minutes):
    return {minute: set() for minute in minutes}


def merged(*checks):
    return {minute: firing for found in checks for minute, firing in found.items()}


def setter(attribute, job, value):
    def change(host):
        getattr(host, attribute)[job] = value
    return change


def healthy(root):
    """An agent with every job on, for five hours: nothing fires."""
    host = Host(root / "healthy", "healthy", cluster_role="agent", auto_update_enabled=True,
                auto_update_schedule="30 3 * * *", inbox_cron_enabled=True, inbox_schedule="*/10 * * * *",
                logrotate_frequency="daily")
    assert {job["id"] for job in host.jobs} == {"health", "push", "update", "inbox"}

    def installed(host):
        host.rotated(0)
        (host.sandbox.logs / "update-history.jsonl").write_text(history_line(0, "success") + "\n")
    return case(host, 301, {0: installed}, quiet(10, 60, 120, 180, 211, 240, 300))


def hourly(root):
    """A host whose only job is an hourly check: quiet 50 minutes after a run and after one missed
    run, late and without records after two missed runs, quiet again after the next run."""
    host = Host(root / "hourly", "hourly", health_check_schedule="0 * * * *")
    assert [(job["id"], job["schedule"]) for job in host.jobs] == [("health", "0 * * * *")]
    assert "jobs=health:3600:7200 " in host.settings

    def cron_stops(host):
        host.cron = False

    def cron_starts(host):
        host.cron = True
    late = {("ServerMaintanenceJobLate", "health"), ("ServerMaintanenceNoRecords", "runner")}
    return case(host, 302, {121: cron_stops, 300: cron_starts},
                merged(quiet(50, 110, 170, 230, 240, 301), {241: late, 299: late}))


def failing(root):
    """The health check fails from 0:30 to 0:55: failed for 10 minutes, then late; a run skipped
    by the lock is not a failure; all clears with the next success."""
    host = Host(root / "failing", "failing")
    failed = {("ServerMaintanenceJobFailed", "health"), ("ServerMaintanenceJobLate", "health")}

    def skipped(host):
        host.skipped.add("health")

    def unskipped(host):
        host.skipped.discard("health")
    return case(host, 101, {30: setter("commands", "health", ["false"]), 60: setter("commands", "health", ["true"]),
                            70: skipped, 90: unskipped},
                merged(quiet(29, 33, 61, 75), {41: failed, 59: failed, 86: {("ServerMaintanenceJobLate", "health")},
                                               89: {("ServerMaintanenceJobLate", "health")}, 91: set()}))


def logs(root):
    """Hourly rotation that stops (overdue after 2 h, clear once rotated), and a job whose output
    takes the logs directory above a 100k limit until the log is emptied."""
    host = Host(root / "logs", "logs", logrotate_frequency="hourly", status_max_logs_size="100k")
    assert "rotation=3600:7200 logs_limit=102400" in host.settings
    big = ["sh", "-c", "head -c 204800 /dev/zero | tr '\\0' x"]

    def emptied(host):
        (host.sandbox.logs / "health.log").write_text("")
    return case(host, 191, {0: lambda host: host.rotated(0), 60: setter("commands", "health", big),
                            61: setter("commands", "health", ["true"]), 90: emptied, 180: lambda host: host.rotated(180)},
                merged(quiet(59, 91, 119, 186), {61: {("ServerMaintanenceLogsTooLarge", "logs")},
                                                 89: {("ServerMaintanenceLogsTooLarge", "logs")},
                                                 125: {("ServerMaintanenceLogsNotRotated", "logrotate")},
                                                 179: {("ServerMaintanenceLogsNotRotated", "logrotate")}}))


def update(root):
    """The hourly auto-update fails at 1:00 (its history says migrate, rolled back) and succeeds at 2:00."""
    host = Host(root / "update", "update", auto_update_enabled=True, auto_update_schedule="0 * * * *")

    def attempt(status, step=None, exit_code=0):
        def change(host):
            line = history_line(len(host.scrapes), status, step)
            host.commands["update"] = ["sh", "-c", 'printf "%s\\n" "$1" >>"$2"; exit "$3"', "update", line,
                                       str(host.sandbox.logs / "update-history.jsonl"), str(exit_code)]
        return change
    failed = {("ServerMaintanenceUpdateFailed", "update")}
    return case(host, 122, {0: attempt("up_to_date"), 60: attempt("failed", "migrate", 1), 120: attempt("success")},
                merged(quiet(30, 59, 121), {61: failed, 69: failed,
                                            71: failed | {("ServerMaintanenceJobFailed", "update")},
                                            119: failed | {("ServerMaintanenceJobFailed", "update")}}))


def turned_off(root):
    """An agent's push fails, then the role turns it off (cluster_role standalone): its record is
    left behind here, yet no alert names it in the four hours after."""
    host = Host(root / "turned-off", "turned-off", cluster_role="agent")

    def off(host):
        host.configure()  # the defaults: standalone, no push
        assert [job["id"] for job in host.jobs] == ["health"]
        assert (host.sandbox.state_dir / "push.state").exists()
    return case(host, 241, {25: setter("commands", "push", ["false"]), 30: off},
                merged(quiet(19, 31, 45, 60, 120, 240), {29: set()}))


def unreadable(root):
    """The app user replaces the metrics file with garbage at 0:31: node_exporter cannot read it
    until the next run writes it again."""
    host = Host(root / "unreadable", "unreadable")

    def garbage(host):
        (host.sandbox.state_dir / "server_maintanence.prom").write_text("server_maintanence_{\n")
    unread = {("ServerMaintanenceMetricsUnreadable", "metrics")}
    return case(host, 41, {31: garbage}, merged(quiet(30, 36, 40), {32: unread, 34: unread}))


CASES = (healthy, hourly, failing, logs, update, turned_off, unreadable)


@pytest.fixture(scope="module")
def promtool_tests(tmp_path_factory):
    """The promtool test file's cases, built once: [case]."""
    assert PROMTOOL, "promtool is missing: make host installs Debian's prometheus package"
    root = tmp_path_factory.mktemp("alert-rules")
    return [build(root) for build in CASES]


def promtool_test(tmp_path, rules, tests):
    path = tmp_path / "server-maintanence.rules.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests},
                                   sort_keys=False, width=1 << 20))
    return subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120,
                          check=False)


def test_promtool_is_installed():
    assert PROMTOOL, "promtool is missing: make host installs Debian's prometheus package"


def test_history_lines_are_what_the_app_writes():
    app = upstream_app.UpstreamApp(upstream_app.tarball())
    contract = app.update_history()
    line = json.loads(history_line(60, "failed", "migrate"))
    assert set(line) == set(contract.keys)
    assert {"failed", "success", "up_to_date"} <= contract.statuses and "migrate" in contract.steps
    assert len(line["old_sha"]) == contract.short_sha


def test_the_rules_pass_every_case(promtool_tests, tmp_path):
    result = promtool_test(tmp_path, RULES, promtool_tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
    checked = sum(len(test["promql_expr_test"]) for test in promtool_tests)
    firing = sum(1 for test in promtool_tests for check in test["promql_expr_test"] if check["exp_samples"])
    assert checked >= 40 and firing >= 15, (checked, firing)


def test_every_alert_fires_in_some_case(promtool_tests):
    fired = {re.match(r'\{alertname="(\w+)"', sample["labels"]).group(1)
             for test in promtool_tests for check in test["promql_expr_test"] for sample in check["exp_samples"]}
    assert fired == set(severities())


def metric_names():
    return sorted(set(re.findall(r"\b(?:server_maintanence_\w+|node_textfile_scrape_error)\b",
                                 "\n".join(rule["expr"] for rule in
                                           yaml.safe_load(RULES.read_text())["groups"][0]["rules"]))))


@pytest.mark.parametrize("metric", metric_names())
def test_a_misspelt_metric_fails_the_cases(promtool_tests, tmp_path, metric):
    """A typo in any metric name of the rules fails make test."""
    text = RULES.read_text(encoding="utf-8")
    broken = tmp_path / "broken.rules.yml"
    typo = metric.replace("maintanence", "maintenance") if "maintanence" in metric else metric + "s"
    broken.write_text(re.sub(r"\b%s\b" % metric, typo, text))
    assert broken.read_text() != text
    check = subprocess.run([PROMTOOL, "check", "rules", str(broken)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, "still valid PromQL, so only the cases can catch it: " + check.stdout
    result = promtool_test(tmp_path, broken, promtool_tests)
    assert result.returncode != 0, "the cases pass with %s misspelt" % metric


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 * * * *", "0 9 * * 1-5", "0 0 1 * *"])
@pytest.mark.parametrize("max_intervals", [1, 3])
def test_status_and_the_metrics_share_one_late(schedule, max_intervals):
    """The late_after the metrics carry is exactly where playbooks/status.yml starts failing the job."""
    inputs = role_inputs(health_check_schedule=schedule, status_max_intervals=max_intervals)
    wanted = [job for job in description.jobs(inputs, "web1") if job["wanted"]]
    [(name, interval, late)] = job_records.parse_settings(description.metrics_settings(inputs, wanted))["jobs"]
    assert (name, interval) == ("health", cron.cron_interval(schedule))
    now = 10 ** 9

    def problems(age):
        record = {"name": "health", "start": "%d" % (now - age), "end": "%d" % (now - age), "duration": "0",
                  "exit_code": "0", "outcome": "success", "skipped": "0", "timed_out": "0",
                  "last_success": "%d" % (now - age)}
        reading = {"now": now, "jobs": {"health": record}, "cron_running": True, "logs": {"size": 0, "free": 1 << 30},
                   "last_rotation": None, "crontab_changed": now - 10 ** 8,
                   "state_dir": {"free": 1 << 30, "free_inodes": 10 ** 5, "read_only": False, "writable": True}}
        return status_report(reading, {"cluster_role": "standalone", "jobs": wanted, "max_intervals": max_intervals,
                                       "max_logs_size": "1G", "logs_dir": "/l", "state_dir": "/s"})["problems"]
    assert problems(late) == []
    assert len(problems(late + 1)) == 1


def test_a_host_without_metrics_gets_no_settings():
    inputs = role_inputs()
    inputs[description.PREFIX + "metrics_dir"] = ""
    assert description.metrics_settings(inputs, description.jobs(inputs, "web1")) == ""


@pytest.mark.parametrize("frequency, interval, late", [
    ("hourly", 3600, 7200), ("daily", 86400, 2 * 86400), ("weekly", 7 * 86400, 8 * 86400),
    ("monthly", 31 * 86400, 32 * 86400), ("yearly", 366 * 86400, 367 * 86400)])
def test_rotation_is_overdue_after_its_frequency_and_one_run_of_logrotate(frequency, interval, late):
    inputs = role_inputs(logrotate_frequency=frequency)
    settings = job_records.parse_settings(description.metrics_settings(inputs, description.jobs(inputs, "web1")))
    assert (settings["rotation_interval"], settings["rotation_late_after"]) == (interval, late)


def test_the_rules_ship_in_the_collection():
    """No build_ignore pattern of galaxy.yml leaves the rules file (or a folder above it) out of the tarball."""
    patterns = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))["build_ignore"]
    relative = RULES.relative_to(REPO)
    paths = [str(relative)] + [str(parent) for parent in relative.parents if str(parent) != "."]
    assert not [(path, pattern) for path in paths for pattern in patterns
                if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(pathlib.PurePath(path).name, pattern)]


def test_each_alert_says_what_and_where_to_read():
    """Labels and annotations: a severity the app knows, the job, and a runbook in troubleshooting.md."""
    headings = {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
                for heading in re.findall(r"^#+ (.+)$", TROUBLESHOOTING.read_text(encoding="utf-8"), re.M)}
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"]
    assert len(rules) == 7
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        per_job = "server_maintanence_job_" in rule["expr"] and "without (name)" not in rule["expr"]
        assert ("name" in rule["labels"]) != per_job, "%s: the job is named by the metric or by the rule" % rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        assert "{{ $labels.instance }}" in rule["annotations"]["summary"], rule["alert"]
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("https://github.com/server-maintanence/server-maintanence-ops/blob/main/"
                              "docs/troubleshooting.md#"), url
        assert url.rpartition("#")[2] == rule["alert"].lower() and url.rpartition("#")[2] in headings, url
