"""The host-side rules, judged from the module's reading, without a host."""

import copy

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _plan as rules
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description

RUNNER = "/etc/cron.daily/logrotate"
LOGS, STATE, ENV = "/opt/server-monitoring/logs", "/var/lib/server-maintanence", "/opt/server-monitoring/.env"
HEALTHY = {
    "user_exists": True, "group_exists": True,
    "uv": {"path": "/var/www/.local/bin/uv", "exists": True, "mode": "0755", "unsafe": False},
    "commands": {"crontab": True, "logrotate": True, "zstd": False, "flock": True, "timeout": True,
                 "systemctl": False},
    "systemd": False,
    "crontab": [],
    "env": {},
    "paths": {RUNNER: {"exists": True},
              LOGS: {"exists": True, "type": "directory", "planted_link": None},
              STATE: {"exists": False, "planted_link": None},
              ENV: {"exists": True, "type": "file", "planted_link": None}},
}
GUARDED = [{"setting": "server_maintanence_logs_dir", "path": LOGS, "kind": "directory"},
           {"setting": "server_maintanence_state_dir", "path": STATE, "kind": "directory"},
           {"setting": "server_maintanence_metrics_dir", "path": "", "kind": "directory"},
           {"setting": "server_maintanence_env_file", "path": ENV, "kind": "env_file"}]
SETTINGS = {"state": "present", "guarded": GUARDED, "user": "www-data", "group": "www-data",
            "uv": "/var/www/.local/bin/uv",
            "manage_packages": True, "cron_daily_runner": RUNNER, "env_file": ENV, "env_logs_dir": "",
            # The role's jobs as the module gets them: health on, the rest off (a standalone host).
            "jobs": [{"name": job["name"], "id": job["id"], "wanted": job["id"] == "health",
                      "kept_by": description.kept_by(job), "drop_installer": False} for job in description.JOBS],
            "packages": [{"package": "cron", "command": "crontab", "needed": True},
                         {"package": "logrotate", "command": "logrotate", "needed": True},
                         {"package": "zstd", "command": "zstd", "needed": False}]}
MISSING_CRON = (("commands", "crontab"), False)
MISSING_LOGROTATE = (("commands", "logrotate"), False)
NEEDS_ZSTD = [{"package": "cron", "command": "crontab", "needed": True},
              {"package": "zstd", "command": "zstd", "needed": True}]


def errors(probe_changes=(), **settings):
    reading = copy.deepcopy(HEALTHY)
    for path, value in probe_changes:
        target = reading
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return rules.host_errors(reading, dict(SETTINGS, **settings))


def test_a_healthy_host_breaks_no_rule():
    assert errors() == []


@pytest.mark.parametrize("change, fragment", [
    ((("user_exists",), False), 'server_maintanence_user "www-data" does not exist'),
    ((("group_exists",), False), 'server_maintanence_group "www-data" does not exist'),
    ((("commands", "flock"), False), "flock or timeout is missing"),
    ((("commands", "timeout"), False), "flock or timeout is missing"),
    ((("paths", RUNNER, "exists"), False), RUNNER + " is missing and systemd is not PID 1"),
])
def test_each_broken_host_rule_says_what_is_wrong(change, fragment):
    found = errors([change])
    assert len(found) == 1 and fragment in found[0], found


def test_a_writable_uv_is_named_with_its_mode_and_the_fix():
    (message,) = errors([(("uv", "unsafe"), True), (("uv", "mode"), "0775")])
    assert message.startswith("server_maintanence_uv_path: uv at /var/www/.local/bin/uv")
    assert "0775" in message and "chmod go-w /var/www/.local/bin/uv" in message


def test_missing_packages_are_refused_only_when_the_role_may_not_install_them():
    assert errors([MISSING_CRON]) == []
    (message,) = errors([MISSING_CRON], manage_packages=False, packages=NEEDS_ZSTD)
    assert message.startswith("server_maintanence_logrotate_compression is zstd but server_maintanence_manage_packages")
    assert "cron, zstd" in message


def test_systemd_or_a_pending_logrotate_install_runs_logrotate_without_the_daily_runner():
    missing_runner = (("paths", RUNNER, "exists"), False)
    assert errors([missing_runner, (("systemd",), True)]) == []
    assert errors([missing_runner, MISSING_LOGROTATE]) == []


def test_every_broken_rule_is_reported_at_once():
    assert len(errors([(("user_exists",), False), (("commands", "flock"), False)])) == 2


# --------------------------------------------------- what the app user planted --

@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("path, found, fragment", [
    (LOGS, {"exists": True, "type": "link", "planted_link": None},
     "server_maintanence_logs_dir /opt/server-monitoring/logs is a symbolic link, not a directory"),
    (LOGS, {"exists": True, "type": "file", "planted_link": None},
     "server_maintanence_logs_dir /opt/server-monitoring/logs is a file, not a directory"),
    (STATE, {"exists": True, "type": "other", "planted_link": None},
     "server_maintanence_state_dir /var/lib/server-maintanence is a FIFO, socket or device, not a directory"),
    (ENV, {"exists": True, "type": "link", "planted_link": None},
     "server_maintanence_env_file /opt/server-monitoring/.env is a symbolic link, not a regular file"),
    (LOGS, {"exists": False, "planted_link": "/opt/server-monitoring"},
     "server_maintanence_logs_dir /opt/server-monitoring/logs lies under /opt/server-monitoring, a symbolic link"),
])
def test_a_link_or_wrong_type_at_a_guarded_path_is_refused_naming_it(state, path, found, fragment):
    messages = errors([(("paths", path), found)], state=state)
    assert len(messages) == 1 and messages[0].startswith(fragment), messages


def test_with_state_absent_only_the_guarded_paths_are_checked():
    assert errors([(("user_exists",), False), (("commands", "flock"), False)], state="absent") == []


@pytest.mark.parametrize("found, refused", [
    ({"exists": True, "type": "file"}, True),
    ({"exists": True, "type": "other"}, True),
    ({"exists": True, "type": "directory"}, False),
    ({"exists": False}, False),  # created by the role, as the app's guide does
])
def test_an_env_file_whose_directory_is_not_one_is_refused_before_any_change(found, refused):
    messages = errors([(("paths", "/opt/server-monitoring"), dict(found, planted_link=None))])
    if not refused:
        assert messages == []
        return
    kind = "file" if found["type"] == "file" else "FIFO, socket or device"
    assert len(messages) == 1 and messages[0].startswith(
        "server_maintanence_env_file /opt/server-monitoring/.env: its directory /opt/server-monitoring is a %s, "
        "not a directory: the role neither follows nor replaces it, and changed nothing" % kind), messages


REFUSED = {"file": "/etc/server-monitoring/env", "line": 7, "reason": "a value that is not UTF-8"}


def test_an_env_file_systemd_refuses_fails_the_host_by_file_and_line():
    found = errors([(("env_refused",), REFUSED)])
    assert found == ["server_maintanence_env_file /etc/server-monitoring/env, line 7: systemd refuses the whole "
                     "file (a value that is not UTF-8), so the app's units with EnvironmentFile= do not start "
                     "and the cron jobs do not run (exit 65). Fix that line"]


def test_a_refused_env_file_does_not_stop_an_uninstall():
    assert errors([(("env_refused",), REFUSED)], state="absent") == []


def test_an_env_file_systemd_loads_is_no_host_error():
    assert errors([(("env_refused",), None)]) == []


# ------------------------------------------- the app's installer's lines kept --

# Lines as the app's bin/install/cron.sh writes them (tagged with the job's name).
INSTALLER = {"health": "*/5 * * * * cd /opt/sm && uv run python manage.py run_pipeline # server-maintanence health check",
             "update": "*/5 * * * * cd /opt/sm && bin/update.sh --rollback # server-maintanence auto-update",
             "push": "*/5 * * * * cd /opt/sm && uv run python manage.py push_to_hub # server-maintanence cluster push"}


def jobs_with(**changes):
    """SETTINGS' jobs, each job id given a dict of changes."""
    return [dict(job, **changes.get(job["id"], {})) for job in SETTINGS["jobs"]]


def test_an_installer_line_whose_job_the_role_keeps_is_no_error():
    assert errors([(("crontab",), [INSTALLER["health"], "MAILTO=ops"])]) == []


@pytest.mark.parametrize("job, keeps", [
    ("update", "keep the job with server_maintanence_auto_update_enabled: true"),
    ("push", "keep the job with server_maintanence_cluster_role agent or both, with server_maintanence_hub_url"),
])
def test_an_installer_line_whose_job_would_be_dropped_is_refused_naming_the_job_and_both_ways_out(job, keeps):
    (message,) = errors([(("crontab",), [INSTALLER["health"], INSTALLER[job]])])
    name = next(entry["name"] for entry in description.JOBS if entry["id"] == job)
    assert message.startswith("the app's installer (bin/install/cron.sh) set up the %s in www-data's crontab, "
                              "and the role would remove its line without installing its own entry" % name)
    assert keeps in message
    assert message.endswith("or let the line go with server_maintanence_drop_installer_jobs: [%s]" % job)
    assert "push_to_hub" not in message and "update.sh" not in message  # never the line itself


def test_a_health_line_is_refused_when_the_health_check_is_off():
    (message,) = errors([(("crontab",), [INSTALLER["health"]])], jobs=jobs_with(health={"wanted": False}))
    assert "keep the job with server_maintanence_health_check_enabled: true" in message


def test_drop_installer_jobs_lets_exactly_the_listed_jobs_go():
    crontab = (("crontab",), list(INSTALLER.values()))
    assert len(errors([crontab])) == 2
    (left,) = errors([crontab], jobs=jobs_with(push={"drop_installer": True}))
    assert "server-maintanence auto-update" in left
    assert errors([crontab], jobs=jobs_with(push={"drop_installer": True}, update={"wanted": True})) == []


def test_an_installer_tag_under_an_ansible_header_or_in_a_comment_is_not_the_installers():
    lines = ["#Ansible: server-maintanence cluster push", INSTALLER["push"], "# " + INSTALLER["update"]]
    assert errors([(("crontab",), lines)]) == []


def test_uninstalling_keeps_the_installers_lines_and_refuses_nothing():
    assert errors([(("crontab",), list(INSTALLER.values()))], state="absent") == []


# ---------------------------------------------- a logs dir the app writes to --

CUSTOM_LOGS = "/srv/sm-logs"


@pytest.mark.parametrize("found", ["/srv/sm-logs", "/srv/sm-logs/", "/srv//sm-logs"])
def test_a_custom_logs_dir_the_host_env_file_passes_on_is_no_error(found):
    assert errors([(("env",), {"LOGS_DIR": found})], env_logs_dir=CUSTOM_LOGS) == []


@pytest.mark.parametrize("found, says", [
    (None, "but /opt/server-monitoring/.env does not set LOGS_DIR"),
    ("/opt/server-monitoring/logs", 'but /opt/server-monitoring/.env sets LOGS_DIR to "/opt/server-monitoring/logs"'),
])
def test_a_custom_logs_dir_the_app_would_not_write_to_is_refused_with_the_fix(found, says):
    (message,) = errors([(("env",), {} if found is None else {"LOGS_DIR": found})], env_logs_dir=CUSTOM_LOGS)
    assert message.startswith("server_maintanence_logs_dir /srv/sm-logs is not the app's default")
    assert says in message
    assert message.endswith("Set server_maintanence_manage_env_file: true (the role then writes LOGS_DIR there), "
                            "or set LOGS_DIR=/srv/sm-logs in /opt/server-monitoring/.env yourself")


def test_without_env_logs_dir_the_env_files_logs_dir_is_not_judged():
    assert errors([(("env",), {"LOGS_DIR": "/elsewhere"})]) == []


# ------------------------------------------------ the update's mode, a warning --

@pytest.mark.parametrize("found, warned", [
    ({"mode": "dev", "systemd": "systemd is not PID 1"}, True),
    ({"mode": "prod", "systemd": "systemd is not PID 1"}, False),
    ({"mode": "systemd", "systemd": None}, False),
    ({"mode": "docker", "systemd": None}, False),
    ({"mode": None, "systemd": None}, False),  # the .env could not be read
    (None, False),  # auto-update off: not read
])
def test_a_host_the_update_takes_for_a_dev_one_is_warned_about_with_the_reason(found, warned):
    message = rules.update_mode_warning({"update_mode": found})
    assert bool(message) is warned
    if warned:
        assert message.startswith("server_maintanence_auto_update_enabled: the app's bin/update.sh will take this "
                                  "host for a development one and run `uv sync --all-extras --dev`")
        assert "systemd is not PID 1" in message
