"""Cron schedules: their errors, the per-host splay and the crontab entries of the jobs."""

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _crontab as crontab
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron


@pytest.mark.parametrize("schedule", [
    "*/5 * * * *", "0 3 * * *", "* * * * *", "0-59/15 0-23/2 1,15 1-12 0-7", "30 4 1 1 *",
    "0 0 29 2 *", "0 0 31 1-2 *", "0 0 30 2 1",  # leap days; a weekday makes it run every Monday too
])
def test_valid_schedules_have_no_errors(schedule):
    assert cron.cron_errors(schedule) == []


@pytest.mark.parametrize("schedule, fragment", [
    ("*/61 * * * *", "minute step /61"),
    ("*/5 * * *", "has 4 fields"),
    ("* * * * * *", "has 6 fields"),
    ("0 25 * * *", "hour 25 is outside 0-23"),
    ("0 0 0 * *", "day 0 is outside 1-31"),
    ("0 0 * 13 *", "month 13 is outside 1-12"),
    ("0 0 * * 8", "weekday 8 is outside 0-7"),
    ("30-10 * * * *", "runs backwards"),
    ("*/0 * * * *", "step /0"),
    ("@daily", "has 1 fields"),
    ("0 0 * jan *", "month field 'jan'"),
    ("*/5 * * * *\n* * * * *", "one line"),
    ("5;reboot * * * *", "minute field '5;reboot'"),
    ("0 0 30 2 *", "day 30 never comes in month 2"),
    ("0 0 31 4,6,9,11 *", "never run"),
])
def test_invalid_schedules_say_what_is_wrong(schedule, fragment):
    errors = cron.cron_errors(schedule)
    assert any(fragment in error for error in errors), errors


def test_splay_is_stable_and_stays_inside_the_interval():
    first = cron.cron_splay("*/5 * * * *", "agent-17")
    assert first == cron.cron_splay("*/5 * * * *", "agent-17")
    offset, rest = first.split("-", 1)
    assert 0 <= int(offset) < 5 and rest == "59/5 * * * *"
    assert cron.cron_errors(first) == []


def test_splay_spreads_a_fleet_over_every_minute_of_the_interval():
    minutes = {cron.cron_splay("*/10 * * * *", "agent%02d" % n).split()[0] for n in range(60)}
    assert len(minutes) == 10


def test_splay_leaves_a_schedule_without_an_interval_alone():
    assert cron.cron_splay("7 * * * *", "x") == "7 * * * *"
    assert cron.cron_splay("* * * * *", "x") == "* * * * *"


# ------------------------------------------------------------ cron_entries --

SETTINGS = {"runner": "/usr/local/bin/server-maintanence-job", "logs_dir": "/opt/sm/logs"}
JOB = {"name": "server-maintanence health check", "id": "health", "wanted": True, "schedule": "*/5  * * * *",
       "timeout": 240, "command": "/uv run python manage.py run_pipeline --checks-only --json", "log": "cron.log"}


RUNNER_CALL = "/usr/local/bin/server-maintanence-job --log cron.log health 240 "


def test_an_entry_hands_its_job_to_the_runner_with_its_log_and_timeout():
    (entry,) = crontab.cron_entries([JOB], SETTINGS)
    assert set(entry) == {"name", "state", "line", "markers"}  # what the app_crontab module takes
    assert entry["state"] == "present" and entry["name"] == "server-maintanence health check"
    assert entry["line"] == "*/5 * * * * " + RUNNER_CALL + "/uv run python manage.py run_pipeline --checks-only --json"


def test_a_job_logging_to_its_own_name_needs_no_log_option():
    (entry,) = crontab.cron_entries(
        [dict(JOB, id="push", log="push.log", command="/uv run python manage.py push_to_hub")], SETTINGS)
    assert entry["line"] == "*/5 * * * * /usr/local/bin/server-maintanence-job push 240 /uv run python manage.py push_to_hub"


def test_a_manage_job_runs_manage_py_through_the_settings_command():
    job = {key: value for key, value in JOB.items() if key != "command"}
    (entry,) = crontab.cron_entries([dict(job, manage="run_pipeline --checks-only --json")],
                                    dict(SETTINGS, manage="/usr/bin/uv run python manage.py"))
    assert entry["line"] == ("*/5 * * * * " + RUNNER_CALL
                             + "/usr/bin/uv run python manage.py run_pipeline --checks-only --json")


def test_an_entry_is_recognised_by_its_runner_call_or_its_old_inline_lock():
    (entry,) = crontab.cron_entries([JOB], SETTINGS)
    assert entry["markers"] == ["/usr/local/bin/server-maintanence-job --log cron.log health ",
                                " /opt/sm/logs/health.lock "]


def test_an_unwanted_job_is_an_entry_to_remove():
    (entry,) = crontab.cron_entries([dict(JOB, wanted=False)], SETTINGS)
    assert entry["state"] == "absent"
