"""The verdict of playbooks/status.yml, without a host: every expected value
below is worked out by hand from the schedule or the reading."""

import copy
import json
import re

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron, description, status
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.status import status_report, status_table

from ..module_utils.test__job_records import FAILED, history, line

MINUTE, HOUR, DAY = 60, 3600, 86400


# cron_interval ---------------------------------------------------------------

@pytest.mark.parametrize("schedule, seconds", [
    ("*/5 * * * *", 5 * MINUTE),
    ("* * * * *", MINUTE),
    ("3-59/5 * * * *", 5 * MINUTE),  # a splayed */5: 58 -> 03 of the next hour is 5 min too
    ("5/10 * * * *", 10 * MINUTE),  # start/step runs to the end of the range: 5, 15, ... 55
    ("30 3 * * *", DAY),
    ("0,30 9-17 * * *", 15 * HOUR + 30 * MINUTE),  # 17:30 -> 09:00 overnight
    ("0 */5 * * *", 5 * HOUR),  # 0, 5, ... 20; 20 -> 0 is only 4 h
    ("0 9 * * 1-5", 3 * DAY),  # Friday 09:00 -> Monday 09:00
    ("0 0 1 * *", 31 * DAY),  # e.g. 1 Jan -> 1 Feb
    ("0 0 31 * *", 61 * DAY),  # 31 Aug -> 31 Oct (no 31 Sep)
    ("0 0 * */2 *", 32 * DAY),  # every day of odd months: 30 Nov -> 1 Jan
    ("0 0 1 1 *", 366 * DAY),  # 1 Jan 2024 -> 1 Jan 2025 spans 29 Feb
    ("0 0 29 2 *", 1461 * DAY),  # leap day to leap day: 4 x 365 + 1
    ("0 0 13 * 5", 7 * DAY),  # day and weekday both restricted: either one runs it
    ("0 0 * * 7", 7 * DAY),
    ("0 0 * * 0", 7 * DAY),
    ("0 0 * * 6,7", 6 * DAY),  # Saturday and Sunday (7 = 0): Sunday -> Saturday
])
def test_cron_interval_is_the_longest_gap_between_two_runs(schedule, seconds):
    assert cron.cron_interval(schedule) == seconds


def test_weekday_7_is_sunday_like_0():
    assert cron.cron_interval("0 0 * * 7") == cron.cron_interval("0 0 * * 0") == 7 * DAY
    # Wednesday and Sunday: Wednesday -> Sunday is the longer gap; were 7 ignored, Wednesdays only (7 days)
    assert cron.cron_interval("0 0 * * 3,7") == 4 * DAY


def test_restricting_both_day_and_weekday_is_an_or_not_an_and():
    # AND would mean Friday the 13th only: months apart. OR: every Friday, and every 13th.
    assert cron.cron_interval("0 0 13 * 5") == 7 * DAY
    # with only the weekday restricted, the day's star matches every day (every Friday)
    assert cron.cron_interval("0 0 * * 5") == 7 * DAY


@pytest.mark.parametrize("schedule, seconds", [
    ("0 0 */2 * *", 2 * DAY),         # day 29 of a 30-day month to day 1
    ("0 0 * * */2", 2 * DAY),         # Sunday, Tuesday, Thursday, Saturday
    ("0 3 */3 * *", 3 * DAY),         # day 28 of a 30-day month to day 1
    ("* * * * */3", 2 * DAY + 60),    # Sunday 23:59 to Wednesday 00:00
])
def test_a_stepped_day_or_weekday_counts_the_days_it_skips(schedule, seconds):
    assert cron.cron_interval(schedule) == seconds


# size_bytes ------------------------------------------------------------------

@pytest.mark.parametrize("text, size", [
    ("500k", 500 * 1024),
    ("100M", 100 * 1024 * 1024),
    ("1G", 1024 * 1024 * 1024),
    ("10", 10),
    (10, 10),  # a number from YAML
])
def test_size_bytes_reads_logrotate_sizes_in_powers_of_1024(text, size):
    assert status.size_bytes(text) == size


# status_report ---------------------------------------------------------------

NOW = 1700000000.0  # 2023-11-14 22:13:20 UTC
HEALTH = {"id": "health", "name": "server-maintanence health check", "schedule": "*/5 * * * *"}
PUSH = {"id": "push", "name": "server-maintanence cluster push", "schedule": "3-59/5 * * * *"}
UPDATE = {"id": "update", "name": "server-maintanence auto-update", "schedule": "30 3 * * *"}


def record(exit_code, outcome, end, last_success, name="health"):
    """A job's record as the job runner writes it and the reading holds it: strings."""
    start = end - 2.5
    return {"name": name, "start": "%.3f" % start, "end": "%.3f" % end, "duration": "2.500",
            "exit_code": str(exit_code), "outcome": outcome,
            "skipped": "1" if outcome == "skipped" else "0", "timed_out": "1" if outcome == "timeout" else "0",
            "last_success": "" if last_success is None else "%.3f" % last_success}


def reading(**changes):
    """A reading made for status on a healthy host, with changes."""
    found = {
        "now": NOW,
        "jobs": {
            "health": record(0, "success", NOW - 100, NOW - 100),
            "push": record(0, "success", NOW - 200, NOW - 200, name="push"),
            "update": record(0, "success", NOW - 20 * HOUR, NOW - 20 * HOUR, name="update"),
        },
        "cron_running": True,
        "logs": {"size": 16384, "free": 20 * 1024 ** 3},
        "last_rotation": NOW - 3 * HOUR,
        "crontab_changed": NOW - 30 * DAY,
        "state_dir": {"free": 20 * 1024 ** 3, "free_inodes": 100000, "read_only": False, "writable": True},
        "units_active": {"server-monitoring-inbox.service": True},
        # the rest of the reading, which status_report does not read
        "user_exists": True, "crontab": ["*/5 * * * * job health"], "systemd": False,
    }
    found.update(changes)
    return found


def settings(**changes):
    wanted = {"cluster_role": "agent", "jobs": [HEALTH, PUSH, UPDATE], "max_intervals": 2,
              "max_logs_size": "1G", "logs_dir": "/opt/server-monitoring/logs",
              "state_dir": "/var/lib/server-maintanence"}
    wanted.update(changes)
    return wanted


def with_job(job_id, value):
    """reading()'s jobs with job_id's record replaced (None: no record at all)."""
    jobs = copy.deepcopy(reading()["jobs"])
    if value is None:
        del jobs[job_id]
    else:
        jobs[job_id] = value
    return jobs


def test_a_healthy_host_has_no_problem_and_its_numbers_are_reported():
    report = status.status_report(reading(), settings())

    assert report == {
        "cluster_role": "agent",
        "jobs": [
            {"id": "health", "age": 100.0, "exit_code": 0, "outcome": "success", "interval": 300},
            {"id": "push", "age": 200.0, "exit_code": 0, "outcome": "success", "interval": 300},
            {"id": "update", "age": 20.0 * HOUR, "exit_code": 0, "outcome": "success", "interval": DAY},
        ],
        "cron_running": True,
        "logs_size": 16384,
        "logs_free": 20 * 1024 ** 3,
        "rotation_age": 3.0 * HOUR,
        "update": None,
        "drain": ["unit"],
        "problems": [],
        "warnings": [],
    }


def test_only_the_jobs_the_host_should_run_are_judged():
    # a hub runs no push: its leftover record neither shows nor fails it
    report = status.status_report(reading(jobs=with_job("push", record(1, "failure", NOW - 9 * DAY, None))),
                                  settings(cluster_role="hub", jobs=[HEALTH, UPDATE]))

    assert [job["id"] for job in report["jobs"]] == ["health", "update"]
    assert report["problems"] == [] and report["cluster_role"] == "hub"


def test_a_failing_job_whose_last_success_is_within_the_limit_is_no_problem_yet():
    # failed a minute ago, but succeeded 500 s ago: less than 2 x 300 s
    jobs = with_job("health", record(1, "failure", NOW - 60, NOW - 500))

    report = status.status_report(reading(jobs=jobs), settings())

    assert report["problems"] == []
    assert report["jobs"][0] == {"id": "health", "age": 500.0, "exit_code": 1, "outcome": "failure",
                                 "interval": 300}


def test_a_stale_job_is_one_problem_naming_the_job():
    # last succeeded 11 minutes ago, more than 2 x 5 minutes; failing since
    jobs = with_job("health", record(1, "failure", NOW - 60, NOW - 11 * MINUTE))

    problems = status.status_report(reading(jobs=jobs), settings())["problems"]

    assert len(problems) == 1
    assert problems[0].startswith("server-maintanence health check: ")
    assert "last succeeded 11m ago" in problems[0]
    assert "2 x its 5m interval" in problems[0]
    assert "exit code 1" in problems[0]


def test_a_record_the_probe_could_not_trust_fails_the_host_naming_the_job_and_the_file():
    jobs = with_job("push", {"error": "has a malformed exit_code"})

    report = status.status_report(reading(jobs=jobs), settings())

    assert report["problems"] == [
        "server-maintanence cluster push: its record /var/lib/server-maintanence/push.state has a malformed "
        "exit_code; the job runner writes a fresh one on the job's next run once the file is removed"]
    assert report["jobs"][1]["outcome"] == "unreadable"
    assert "BAD-RECORD" in status.status_table({"web1": report})


def test_a_job_the_env_file_stopped_fails_the_host_at_once_even_within_its_limit():
    # succeeded 200 s ago (within 2 x 300 s), then not started a minute ago
    jobs = with_job("health", record(65, "env_refused", NOW - 60, NOW - 200))

    report = status.status_report(reading(jobs=jobs), settings())

    assert report["problems"] == [
        "server-maintanence health check: its last run was not started, 1m ago: systemd refuses the env file "
        "as a whole (exit code 65; the job's log names the file and the line)"]
    assert report["jobs"][0]["outcome"] == "env_refused"
    assert "ENV-REFUSED" in status.status_table({"web1": report})


def test_an_env_file_the_hosts_systemd_refuses_fails_the_host_by_file_and_line():
    refused = {"file": "/etc/server-monitoring/env", "line": 4, "reason": "a Unicode non-character in a key"}

    problems = status.status_report(reading(env_refused=refused), settings())["problems"]

    assert problems == [
        "server_maintanence_env_file /etc/server-monitoring/env, line 4: systemd refuses the whole file "
        "(a Unicode non-character in a key), so the app's units with EnvironmentFile= do not start and the "
        "cron jobs do not run (exit 65). Fix that line"]
    assert status.status_report(reading(env_refused=None), settings())["problems"] == []


def test_a_job_not_run_since_the_crontab_changed_a_moment_ago_has_its_grace():
    # the daily update was just installed: an hour is within 2 x 1 day
    report = status.status_report(reading(jobs=with_job("update", None), crontab_changed=NOW - HOUR), settings())

    assert report["problems"] == []
    assert report["jobs"][2] == {"id": "update", "age": None, "exit_code": None, "outcome": None,
                                 "interval": DAY}


def test_a_job_never_run_since_the_crontab_changed_long_ago_is_a_problem():
    # installed 3 days ago, more than 2 x its 1-day interval, and never run
    report = status.status_report(reading(jobs=with_job("update", None), crontab_changed=NOW - 3 * DAY),
                                  settings())

    assert len(report["problems"]) == 1
    problem = report["problems"][0]
    assert problem.startswith("server-maintanence auto-update: ")
    assert "installed 3d ago" in problem and "no run recorded" in problem
    assert "/var/lib/server-maintanence" in problem


def test_a_job_that_ran_but_never_succeeded_is_counted_from_the_crontab_change():
    never_succeeded = record(2, "failure", NOW - 60, None)

    recent = status.status_report(reading(jobs=with_job("health", never_succeeded), crontab_changed=NOW - 9 * MINUTE),
                                  settings())
    old = status.status_report(reading(jobs=with_job("health", never_succeeded), crontab_changed=NOW - 11 * MINUTE),
                               settings())

    assert recent["problems"] == []
    assert recent["jobs"][0]["age"] is None and recent["jobs"][0]["exit_code"] == 2
    assert len(old["problems"]) == 1 and old["problems"][0].startswith("server-maintanence health check: ")
    assert "exit code 2" in old["problems"][0]


def test_a_job_with_no_record_and_no_crontab_at_all_is_a_problem():
    report = status.status_report(reading(jobs=with_job("update", None), crontab_changed=None), settings())

    assert len(report["problems"]) == 1
    assert report["problems"][0].startswith("server-maintanence auto-update: ")
    assert "no crontab" in report["problems"][0]


def test_a_host_whose_jobs_succeed_needs_no_crontab_date():
    assert status.status_report(reading(crontab_changed=None), settings())["problems"] == []


def test_cron_not_running_is_a_problem():
    report = status.status_report(reading(cron_running=False), settings())

    assert report["cron_running"] is False
    assert len(report["problems"]) == 1 and "cron" in report["problems"][0]


@pytest.mark.parametrize("state_dir, cause", [
    ({"free": 0, "free_inodes": 100, "read_only": False, "writable": True}, "is full (0 and 100 inodes free)"),
    ({"free": 16383, "free_inodes": 100, "read_only": False, "writable": True}, "is full (16.0k and 100 inodes"),
    ({"free": 1 << 30, "free_inodes": 7, "read_only": False, "writable": True}, "is full (1.0G and 7 inodes free)"),
    ({"free": 1 << 30, "free_inodes": 100, "read_only": True, "writable": True}, "is on a read-only filesystem"),
    ({"free": 1 << 30, "free_inodes": 100, "read_only": False, "writable": False}, "is not writable by the app user"),
])
def test_a_state_dir_the_runner_cannot_write_fails_the_host_even_after_a_success(state_dir, cause):
    """Its records cannot be replaced: the last success shown may be stale."""
    report = status.status_report(reading(state_dir=state_dir), settings())

    (problem,) = report["problems"]
    assert problem.startswith("the state directory /var/lib/server-maintanence (server_maintanence_state_dir) ")
    assert cause in problem and "stale" in problem


@pytest.mark.parametrize("state_dir", [
    {"free": 16384, "free_inodes": 8, "read_only": False, "writable": True},
    None,  # no directory yet: the jobs' own problems say it
])
def test_a_state_dir_with_room_or_none_at_all_is_no_problem_of_its_own(state_dir):
    assert status.status_report(reading(state_dir=state_dir), settings())["problems"] == []


@pytest.mark.parametrize("size, over", [
    (100 * 1024 * 1024 + 1, True),
    (100 * 1024 * 1024, False),  # exactly the limit is allowed
    (16384, False),
    (None, False),  # no logs directory: nothing to measure
])
def test_logs_above_max_logs_size_are_a_problem(size, over):
    report = status.status_report(reading(logs={"size": size, "free": None}), settings(max_logs_size="100M"))

    assert report["logs_size"] == size and report["logs_free"] is None
    if over:
        assert len(report["problems"]) == 1
        assert "server_maintanence_status_max_logs_size" in report["problems"][0]
        assert "/opt/server-monitoring/logs" in report["problems"][0]
    else:
        assert report["problems"] == []


@pytest.mark.parametrize("max_intervals, passes", [(3, True), (2, False), ("3", True)])
def test_max_intervals_sets_how_many_intervals_a_job_may_miss(max_intervals, passes):
    # 14 minutes since the last success: within 3 x 5 min, not within 2 x 5 min
    jobs = with_job("health", record(0, "success", NOW - 14 * MINUTE, NOW - 14 * MINUTE))

    problems = status.status_report(reading(jobs=jobs), settings(max_intervals=max_intervals))["problems"]

    assert (problems == []) is passes
    if not passes:
        assert len(problems) == 1 and "2 x its 5m interval" in problems[0]


@pytest.mark.parametrize("age, passes", [(600, True), (600.5, False), (599, True)])
def test_an_age_of_exactly_the_limit_still_passes(age, passes):
    jobs = with_job("health", record(0, "success", NOW - age, NOW - age))

    problems = status.status_report(reading(jobs=jobs), settings())["problems"]

    assert (problems == []) is passes


def test_never_rotated_logs_have_no_rotation_age():
    assert status.status_report(reading(last_rotation=None), settings())["rotation_age"] is None


# what drains the inbox ----------------------------------------------------------

INBOX = {"id": "inbox", "name": "server-maintanence inbox drain", "schedule": "* * * * *"}
NO_UNIT = {"server-monitoring-inbox.service": False}


def test_the_inbox_job_and_unit_status_reads_are_the_roles():
    role_inbox = next(job for job in description.JOBS if job["id"] == status.INBOX_JOB)
    assert role_inbox["manage"].startswith("process_inbox ")
    assert (INBOX["id"], INBOX["name"]) == (role_inbox["id"], role_inbox["name"])


@pytest.mark.parametrize("units_active, inbox, drain", [
    pytest.param({"server-monitoring-inbox.service": True}, None, ["unit"], id="unit-active"),
    pytest.param(NO_UNIT, record(0, "success", NOW - 90, NOW - 90, name="inbox"), ["cron"], id="cron-succeeded"),
    pytest.param({"server-monitoring-inbox.service": True}, record(0, "success", NOW - 30, NOW - 30, name="inbox"),
                 ["unit", "cron"], id="both"),
    # A long pipeline run: the drains after it were skipped by its lock.
    pytest.param(NO_UNIT, record(75, "skipped", NOW - 20, NOW - 10 * MINUTE, name="inbox"), ["cron"],
                 id="cron-still-draining"),
])
def test_a_host_with_a_drain_shows_it_and_has_no_drain_warning(units_active, inbox, drain):
    jobs = dict(reading()["jobs"], **({"inbox": inbox} if inbox else {}))
    report = status.status_report(reading(jobs=jobs, units_active=units_active),
                                  settings(jobs=[HEALTH, PUSH, UPDATE] + ([INBOX] if inbox else [])))

    assert report["drain"] == drain
    assert report["warnings"] == []


NONE_OFF = ("no inbox drain runs: server-monitoring-inbox.service is not active and the cron drain "
            "(server_maintanence_inbox_cron_enabled) is off; the pipeline runs the app records (alerts, pushes "
            "from agents) stay PENDING, never processed")
NONE_LATE = ("no inbox drain runs: server-monitoring-inbox.service is not active and the cron drain "
             "(server_maintanence_inbox_cron_enabled) has neither succeeded nor found a drain still running "
             "within 2 x its interval; the pipeline runs the app records (alerts, pushes from agents) stay "
             "PENDING, never processed")


@pytest.mark.parametrize("units_active, inbox, warning", [
    pytest.param(NO_UNIT, None, NONE_OFF, id="unit-stopped-cron-off"),
    pytest.param({}, None, NONE_OFF, id="unit-not-read"),
    # 2 x 1 minute: 121 s is past the limit.
    pytest.param(NO_UNIT, record(0, "success", NOW - 121, NOW - 121, name="inbox"), NONE_LATE, id="success-late"),
    pytest.param(NO_UNIT, record(75, "skipped", NOW - 121, NOW - HOUR, name="inbox"), NONE_LATE, id="skip-late"),
    pytest.param(NO_UNIT, record(124, "timeout", NOW - 5, NOW - HOUR, name="inbox"), NONE_LATE, id="timed-out"),
    pytest.param(NO_UNIT, record(1, "failure", NOW - 5, None, name="inbox"), NONE_LATE, id="never-succeeded"),
])
def test_a_host_where_nothing_drains_the_inbox_warns_and_shows_none(units_active, inbox, warning):
    jobs = dict(reading()["jobs"], **({"inbox": inbox} if inbox else {}))
    found = dict(reading(jobs=jobs), units_active=units_active)
    if units_active == {}:
        del found["units_active"]
    report = status.status_report(found, settings(jobs=[HEALTH, PUSH, UPDATE] + ([INBOX] if inbox else [])))

    assert report["drain"] == []
    assert report["warnings"] == [warning]
    # A warning only: what fails the host is the cron drain's own lateness, if it is on.
    assert all("inbox drain runs" not in problem for problem in report["problems"])
    lines = status.status_table({"web1": report}).split("\n")
    assert lines[1].split()[lines[0].split().index("DRAIN")] == "NONE"
    assert lines[-1] == "warning: web1: " + warning


def test_every_problem_of_a_host_is_listed():
    jobs = with_job("health", record(1, "failure", NOW - 60, NOW - DAY))

    problems = status.status_report(reading(jobs=jobs, cron_running=False, logs={"size": 2 * 1024 ** 3, "free": 0}),
                                    settings())["problems"]

    assert len(problems) == 3


# status_table ----------------------------------------------------------------

def host_report(role, jobs, logs_size, rotation_age, logs_free, cron_running, problems, drain=("unit",)):
    return {"cluster_role": role, "jobs": [dict(job, outcome=None, interval=300) for job in jobs],
            "cron_running": cron_running, "logs_size": logs_size, "logs_free": logs_free,
            "rotation_age": rotation_age, "drain": list(drain), "problems": problems}


REPORTS = {  # not in host order: the table sorts them
    "web2": host_report("agent", [{"id": "health", "age": 300, "exit_code": 0},
                                  {"id": "push", "age": 2 * HOUR, "exit_code": 1}],
                        16384, HOUR, 20 * 1024 ** 3, True, ["push: stale"], drain=()),
    "hub1": host_report("hub", [{"id": "health", "age": 59, "exit_code": 0},
                                {"id": "update", "age": None, "exit_code": None}],
                        500, None, None, True, [], drain=("unit", "cron")),
    "web1": host_report("agent", [{"id": "health", "age": 5 * MINUTE + 30, "exit_code": 0},
                                  {"id": "push", "age": None, "exit_code": 1}],
                        1536 * 1024, 3 * DAY + 5, 9.5 * 1024 ** 3, False, ["cron is not running"]),
}

# Worked out by hand: each column as wide as its widest cell, two spaces apart.
TABLE = [
    "HOST  ROLE   COMMIT  LAST-UPDATE  HEALTH  PUSH     UPDATE   DRAIN      LOGS   ROTATED  FREE   CRON     STATUS",
    "hub1  hub    -       -            59s/0   -        never/-  unit+cron  500    never    -      running  ok",
    "web1  agent  -       -            5m/0    never/1  -        unit       1.5M   3d       9.5G   STOPPED  FAIL",
    "web2  agent  -       -            5m/0    2h/1     -        NONE       16.0k  1h       20.0G  running  FAIL",
]
LEGEND = ("job cells show age of last success/last exit code, - if not on the host; "
          "LAST-UPDATE shows age/outcome of the last update attempt of the app (bin/update.sh); "
          "DRAIN shows what drains the app's inbox: unit (server-monitoring-inbox.service active), "
          "cron (the inbox job), NONE")


def test_the_table_has_a_header_and_a_row_per_host_sorted_by_host():
    lines = status.status_table(REPORTS).split("\n")

    assert lines[:-2] == TABLE
    assert lines[-2:] == [LEGEND, "app commits: no update history on 3 hosts"]
    # no cell holds a space: nothing a result format folds at single spaces can break a row
    assert {len(line.split()) for line in lines[:-2]} == {len(TABLE[0].split())}


def cell_starts(line):
    """Where each cell (words one space apart) starts in a line."""
    return [match.start() for match in re.finditer(r"\S+(?: \S+)*", line)]


def test_the_columns_start_at_the_same_offset_on_every_row():
    lines = status.status_table(REPORTS).split("\n")[:-2]

    header = cell_starts(lines[0])
    assert len(header) == 13
    for line in lines[1:]:
        assert cell_starts(line) == header, line


def test_a_job_a_host_does_not_run_shows_a_dash():
    lines = status.status_table(REPORTS).split("\n")
    column = lines[0].index("PUSH")

    hub = next(line for line in lines if line.startswith("hub1"))
    assert hub[column:].split("  ")[0] == "-"


def test_the_verdict_and_cron_columns():
    rows = {line.split()[0]: line for line in status.status_table(REPORTS).split("\n")[1:-2]}

    assert rows["hub1"].endswith("running  ok")
    assert rows["web1"].endswith("STOPPED  FAIL")
    assert rows["web2"].endswith("running  FAIL")
    assert "5m/0" in rows["web2"]


def test_the_table_of_reports_made_by_status_report():
    healthy = status.status_report(reading(), settings(jobs=[HEALTH]))
    ten_hours_ago = with_job("health", record(0, "success", NOW - 10 * HOUR, NOW - 10 * HOUR))
    stale = status.status_report(reading(jobs=ten_hours_ago), settings(jobs=[HEALTH]))

    lines = status.status_table({"b-host": stale, "a-host": healthy}).split("\n")

    assert lines[0].split() == ["HOST", "ROLE", "COMMIT", "LAST-UPDATE", "HEALTH", "DRAIN", "LOGS", "ROTATED", "FREE",
                                "CRON", "STATUS"]
    assert lines[1].startswith("a-host") and lines[1].endswith("ok") and "1m/0" in lines[1]
    assert lines[2].startswith("b-host") and lines[2].endswith("FAIL") and "10h/0" in lines[2]
    assert lines[3:] == [LEGEND, "app commits: no update history on 2 hosts"]


def test_an_auto_update_the_app_would_run_as_on_a_dev_host_is_a_warning_not_a_problem():
    found = reading(update_mode={"mode": "dev", "systemd": "there is no D-Bus system bus (/run/dbus/system_bus_socket)"})
    report = status.status_report(found, settings())
    assert report["problems"] == []
    (warning,) = report["warnings"]
    assert warning.startswith("server_maintanence_auto_update_enabled: the app's bin/update.sh will take this host "
                              "for a development one")
    assert "there is no D-Bus system bus" in warning
    assert "warning: web1: " + warning in status.status_table({"web1": report}).splitlines()
    for mode in ("prod", "systemd", "docker", None):
        assert status.status_report(reading(update_mode={"mode": mode, "systemd": None}), settings())["warnings"] == []


# the app's update history (read by module_utils/_job_records.py) ------------

def report(history_read, **settings):
    reading = {"now": 1796095802 + 7200, "jobs": {}, "cron_running": True, "logs": {"size": 1, "free": 1},
               "last_rotation": None, "update_history": history_read,
               "units_active": {"server-monitoring-inbox.service": True}}  # a drain runs: no warning of its own
    return status_report(reading, dict({"cluster_role": "standalone", "jobs": [], "max_intervals": 2,
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
