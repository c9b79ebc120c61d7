"""What is out of place on a host, from one probe reading, without a host."""

import copy

import pytest

from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import plan as planner

SETTINGS = {"runner": "/usr/local/bin/server-maintanence-job", "logs_dir": "/opt/sm/logs"}
JOB = {"name": "server-maintanence health check", "id": "health", "wanted": True, "schedule": "*/5  * * * *",
       "timeout": 240, "command": "/uv run python manage.py run_pipeline --checks-only --json", "log": "cron.log"}
ENTRIES = cron.cron_entries([JOB, dict(JOB, name="server-maintanence cluster push", id="push",
                                       wanted=False, log="push.log")], SETTINGS)
HEALTH_HEADER, HEALTH_LINE = "#Ansible: server-maintanence health check", ENTRIES[0]["line"]
CONFIG, RUNNER = "/etc/logrotate.d/server-maintanence", "/etc/cron.hourly/server-maintanence-logrotate"
STATE_MARKER, NODE_MARKER = "/var/lib/sm/.created-by-server-maintanence", "/var/lib/node/.created-by-server-maintanence"
METRICS_LINK = "/var/lib/node/server_maintanence.prom"
FILES = [{"dest": CONFIG, "mode": "0644", "checksum": "c1", "wanted": True},
         {"dest": RUNNER, "mode": "0755", "checksum": "c2", "wanted": False}]
IN_PLACE_PROBE = {
    "commands": {"crontab": True, "logrotate": True, "zstd": False},
    "cron_running": True, "systemd": False,
    "services": {"cron_enabled": None, "logrotate_timer_enabled": None, "logrotate_timer_active": None},
    "uv": {"exists": True},
    "crontab": ["MAILTO=ops", HEALTH_HEADER, HEALTH_LINE, "17 4 * * * /usr/bin/true"],
    "env": {}, "env_in_sync": {},
    "paths": {
        "/opt/sm/logs": {"exists": True, "type": "directory", "isdir": True, "owner": "www-data",
                         "group": "www-data", "mode": "0750"},
        CONFIG: {"exists": True, "type": "file", "owner": "root", "group": "root", "mode": "0644", "checksum": "c1"},
        RUNNER: {"exists": False},
        "/opt/sm/logs/health.lock": {"exists": False}, "/opt/sm/logs/push.lock": {"exists": False},
        "/var/lib/sm": {"exists": True, "type": "directory", "isdir": True, "owner": "root", "group": "www-data",
                        "mode": "0775"},
        STATE_MARKER: {"exists": True, "type": "file", "owner": "root", "group": "root", "mode": "0644"},
        "/var/lib/sm/health.state": {"exists": True, "type": "file", "owner": "www-data", "group": "www-data"},
        "/var/lib/sm/health.lock": {"exists": True, "type": "file", "owner": "www-data", "group": "www-data"},
        "/var/lib/sm/server_maintanence.prom": {"exists": True, "type": "file", "owner": "www-data"},
        "/var/lib/node": {"exists": True, "type": "directory", "isdir": True, "owner": "prometheus",
                          "group": "prometheus", "mode": "0755"},
        NODE_MARKER: {"exists": False},
        METRICS_LINK: {"exists": True, "type": "link", "owner": "root", "group": "root",
                       "target": "/var/lib/sm/server_maintanence.prom"},
        "/var/lib/sm/push.state": {"exists": False},
        "/etc/sm/env": {"exists": True, "owner": "root", "group": "www-data", "mode": "0640"},
    },
}
WANTED = {"state": "present",
          "packages": [{"package": "cron", "command": "crontab", "needed": True},
                       {"package": "zstd", "command": "zstd", "needed": False}],
          "logs_dir": {"path": "/opt/sm/logs", "owner": "www-data", "group": "www-data", "mode": "0750"},
          "purge_logs": False, "files": FILES,
          "dirs": [{"path": "/var/lib/sm", "owner": "root", "group": "www-data", "mode": "0775",
                    "marker": STATE_MARKER, "wanted": True, "keep_existing": False},
                   {"path": "/var/lib/node", "owner": "root", "group": "root", "mode": "0755",
                    "marker": NODE_MARKER, "wanted": True, "keep_existing": True}],
          "links": [{"path": METRICS_LINK, "src": "/var/lib/sm/server_maintanence.prom", "wanted": True}],
          "stale": ["/opt/sm/logs/health.lock", "/opt/sm/logs/push.lock", "/var/lib/sm/push.state"],
          "owned": ["/var/lib/sm/health.state", "/var/lib/sm/health.lock", "/var/lib/sm/push.state",
                    "/var/lib/sm/server_maintanence.prom", METRICS_LINK],
          "entries": ENTRIES, "env": {"manage": False, "path": "/etc/sm/env", "group": "www-data", "keys": [], "plain": {}}}


def plan(changes=None, wanted=None):
    probe = copy.deepcopy(IN_PLACE_PROBE)
    for change in changes or []:
        change(probe)
    return planner.plan(probe, wanted or WANTED)


def test_a_host_in_place_needs_nothing():
    assert plan() == {}


@pytest.mark.parametrize("drift, step", [
    (lambda p: p["commands"].update(crontab=False), "packages"),
    (lambda p: p.update(cron_running=False), "cron_service"),
    (lambda p: p["paths"]["/opt/sm/logs"].update(mode="0755"), "logs_dir"),
    (lambda p: p["paths"]["/opt/sm/logs"].update(owner="root"), "logs_dir"),
    (lambda p: p["paths"].update({"/opt/sm/logs": {"exists": False}}), "logs_dir"),
    (lambda p: p["paths"][CONFIG].update(checksum="edited"), "files"),
    (lambda p: p["paths"][CONFIG].update(mode="0666"), "files"),
    (lambda p: p["paths"][CONFIG].update(group="www-data"), "files"),
    (lambda p: p["paths"].update({CONFIG: {"exists": False}}), "files"),
    (lambda p: p["paths"].update({RUNNER: {"exists": True, "type": "file"}}), "remove_files"),
    (lambda p: p.update(systemd=True), "timer"),
    (lambda p: p["paths"].update({"/var/lib/sm": {"exists": False}}), "dirs"),
    (lambda p: p["paths"].update({"/var/lib/sm": {"exists": False}}), "markers"),
    (lambda p: p["paths"]["/var/lib/sm"].update(owner="www-data"), "dirs"),
    (lambda p: p["paths"]["/var/lib/sm"].update(mode="0755"), "dirs"),
    (lambda p: p["paths"].update({"/var/lib/node": {"exists": False}}), "dirs"),
    (lambda p: p["paths"][METRICS_LINK].update(target="/etc/shadow"), "links"),
    (lambda p: p["paths"][METRICS_LINK].update(type="file"), "links"),
    (lambda p: p["paths"].update({METRICS_LINK: {"exists": False}}), "links"),
    (lambda p: p["paths"]["/opt/sm/logs/health.lock"].update(exists=True, type="file"), "remove_files"),
    (lambda p: p["paths"]["/opt/sm/logs/health.lock"].update(exists=True, type="link"), "remove_files"),
    (lambda p: p["paths"]["/var/lib/sm/push.state"].update(exists=True, type="file"), "remove_files"),
])
def test_each_drift_shows_in_the_plan(drift, step):
    assert step in plan([drift])


@pytest.mark.parametrize("crontab", [
    ["MAILTO=ops", HEALTH_HEADER, HEALTH_LINE.replace("*/5", "*/7", 1), "17 4 * * * /usr/bin/true"],
    ["MAILTO=ops", HEALTH_HEADER, HEALTH_LINE.replace("run_pipeline", "run_check"), "17 4 * * * /usr/bin/true"],
    ["MAILTO=ops", "17 4 * * * /usr/bin/true"],
    [],
    # the job line deleted by hand, its header left behind
    ["MAILTO=ops", HEALTH_HEADER, "17 4 * * * /usr/bin/true"],
    # the header deleted, the job line left behind
    ["MAILTO=ops", HEALTH_LINE, "17 4 * * * /usr/bin/true"],
    # the entry twice
    ["MAILTO=ops", HEALTH_HEADER, HEALTH_LINE, HEALTH_HEADER, HEALTH_LINE, "17 4 * * * /usr/bin/true"],
])
def test_an_edited_deleted_or_malformed_entry_puts_the_crontab_in_the_plan(crontab):
    steps = plan([lambda p: p.update(crontab=crontab)])
    assert steps == {"crontab": True}


def test_the_installers_lines_are_taken_over():
    installer = "*/5 * * * * cd /opt/sm && uv run python manage.py run_pipeline # server-maintanence health check"
    steps = plan([lambda p: p["crontab"].append(installer)])
    assert steps == {"crontab": True, "taken_over": [installer]}


def test_a_missing_uv_alone_needs_no_repair():
    """Provisioning comes before the app: the warning is its own task."""
    assert plan([lambda p: p["uv"].update(exists=False)]) == {}


def test_a_managed_env_file_is_compared_by_the_hosts_flags_and_by_owner_and_mode():
    wanted = copy.deepcopy(WANTED)
    wanted["env"].update(manage=True, keys=["API_KEY_AUTH_ENABLED", "SSRF_ALLOWED_HOSTS"],
                         plain={"SSRF_ALLOWED_HOSTS": "a,hub"})
    in_sync = [lambda p: p.update(env_in_sync={"API_KEY_AUTH_ENABLED": True}, env={"SSRF_ALLOWED_HOSTS": "a,hub"})]
    assert plan(in_sync, wanted) == {}
    assert plan(in_sync + [lambda p: p["env_in_sync"].update(API_KEY_AUTH_ENABLED=False)], wanted)["env_file"] == [
        "API_KEY_AUTH_ENABLED"]
    assert plan(in_sync + [lambda p: p["env"].update(SSRF_ALLOWED_HOSTS="a")], wanted)["env_file"] == [
        "SSRF_ALLOWED_HOSTS"]
    assert "env_file" in plan(in_sync + [lambda p: p["paths"]["/etc/sm/env"].update(mode="0644")], wanted)


OWN_STATE_FILES = ["/var/lib/sm/health.state", "/var/lib/sm/health.lock", "/var/lib/sm/server_maintanence.prom",
                   METRICS_LINK]


def test_absent_removes_what_is_there_and_nothing_else():
    wanted = dict(WANTED, state="absent")
    steps = plan(wanted=wanted)
    assert steps == {"crontab": True,
                     "remove_files": [CONFIG] + OWN_STATE_FILES + [STATE_MARKER],
                     "remove_dirs": ["/var/lib/sm"]}
    assert plan([lambda p: p.update(crontab=[]),
                 lambda p: p["paths"]["/opt/sm/logs/health.lock"].update(exists=True, type="file")],
                dict(wanted, purge_logs=True)) == {
        "remove_files": [CONFIG, "/opt/sm/logs/health.lock"] + OWN_STATE_FILES + [STATE_MARKER],
        "remove_dirs": ["/var/lib/sm"], "purge_logs": True}


def test_the_metrics_directory_is_created_when_missing_and_otherwise_left_as_it_is():
    assert plan([lambda p: p["paths"]["/var/lib/node"].update(owner="root", mode="0700")]) == {}
    steps = plan([lambda p: p["paths"].update({"/var/lib/node": {"exists": False}})])
    assert steps["dirs"] == ["/var/lib/node"] and steps["markers"] == [NODE_MARKER]


@pytest.mark.parametrize("marker", [
    {"exists": False},
    {"exists": True, "type": "file", "owner": "www-data"},  # the app user cannot forge a root-owned record
    {"exists": True, "type": "link", "owner": "root", "target": "/etc/passwd"},
    {"exists": True, "type": "directory", "owner": "root"},
])
def test_absent_keeps_a_directory_the_role_did_not_record_creating(marker):
    steps = plan([lambda p: p["paths"].update({STATE_MARKER: marker})], dict(WANTED, state="absent"))
    assert "remove_dirs" not in steps and STATE_MARKER not in steps["remove_files"]


@pytest.mark.parametrize("kind", ["directory", "other"])
def test_what_is_not_a_file_or_a_link_is_never_removed(kind):
    planted = {"exists": True, "type": kind, "owner": "www-data"}
    steps = plan([lambda p: p["paths"].update({"/opt/sm/logs/health.lock": planted,
                                              "/var/lib/sm/health.state": planted})],
                 dict(WANTED, state="absent"))
    assert "/opt/sm/logs/health.lock" not in steps["remove_files"]
    assert "/var/lib/sm/health.state" not in steps["remove_files"]
    assert "/opt/sm/logs/health.lock" not in plan([lambda p: p["paths"].update(
        {"/opt/sm/logs/health.lock": planted})]).get("remove_files", [])
