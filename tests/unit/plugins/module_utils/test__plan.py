"""What is out of place on a host, from one reading of it, without a host."""

import copy
import hashlib

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _plan as planner
from ansible_collections.server_maintanence.ops.plugins.module_utils import _crontab as cron

SETTINGS = {"runner": "/usr/local/bin/server-maintanence-job", "logs_dir": "/opt/sm/logs"}
JOB = {"name": "server-maintanence health check", "id": "health", "wanted": True, "schedule": "*/5  * * * *",
       "timeout": 240, "command": "/uv run python manage.py run_pipeline --checks-only --json", "log": "cron.log"}
ENTRIES = cron.cron_entries([JOB, dict(JOB, name="server-maintanence cluster push", id="push",
                                       wanted=False, log="push.log")], SETTINGS)
HEALTH_HEADER, HEALTH_LINE = "#Ansible: server-maintanence health check", ENTRIES[0]["line"]
CONFIG, RUNNER = "/etc/logrotate.d/server-maintanence", "/etc/cron.hourly/server-maintanence-logrotate"
RECORD = ".created-by-server-maintanence"
STATE_MARKER, NODE_MARKER = "/var/lib/sm/" + RECORD, "/var/lib/node/" + RECORD
METRICS_LINK = "/var/lib/node/server_maintanence.prom"
POLICY = "/opt/sm/logs/*.log {\n    weekly\n}\n"
LOGS_ROW = {"path": "/opt/sm/logs", "kind": "directory", "owner": "www-data", "group": "www-data", "mode": "0750",
            "wanted": True, "purge": False, "setting": "server_maintanence_logs_dir"}
# As roles/server_maintanence/vars/main.yml writes the table.
MANAGED = [
    LOGS_ROW,
    {"path": "/var/lib/sm", "kind": "directory", "owner": "root", "group": "www-data", "mode": "0775",
     "wanted": True, "record": True, "setting": "server_maintanence_state_dir"},
    {"path": "/var/lib/node", "kind": "directory", "owner": "root", "group": "root", "mode": "0755",
     "wanted": True, "record": True, "keep_existing": True, "setting": "server_maintanence_metrics_dir"},
    {"path": METRICS_LINK, "kind": "link", "src": "/var/lib/sm/server_maintanence.prom", "wanted": True},
    {"path": CONFIG, "kind": "file", "content": POLICY, "owner": "root", "group": "root", "mode": "0644",
     "validate": "logrotate -d %s", "wanted": True},
    {"path": RUNNER, "kind": "file", "content": "#!/bin/sh\n", "owner": "root", "group": "root", "mode": "0755",
     "validate": "sh -n %s", "wanted": False},
    {"paths": ["/var/lib/sm/health.state", "/var/lib/sm/health.lock", "/var/lib/sm/server_maintanence.prom"],
     "kind": "runner_file", "wanted": True},
    {"paths": ["/var/lib/sm/push.state", "/opt/sm/logs/health.lock", "/opt/sm/logs/push.lock"],
     "kind": "runner_file", "wanted": False},
    {"path": "", "kind": "env_file", "owner": "root", "group": "www-data", "mode": "0640", "wanted": True,
     "setting": "server_maintanence_env_file"},
]
IN_PLACE_READING = {
    "commands": {"crontab": True, "logrotate": True, "zstd": False},
    "cron_running": True, "systemd": False,
    "services": {"cron_enabled": None, "logrotate_timer_enabled": None, "logrotate_timer_active": None},
    "uv": {"exists": True},
    "crontab": ["MAILTO=ops", HEALTH_HEADER, HEALTH_LINE, "17 4 * * * /usr/bin/true"],
    "env": {}, "env_in_sync": {},
    "paths": {
        "/opt/sm/logs": {"exists": True, "type": "directory", "isdir": True, "owner": "www-data",
                         "group": "www-data", "mode": "0750"},
        CONFIG: {"exists": True, "type": "file", "owner": "root", "group": "root", "mode": "0644",
                 "checksum": hashlib.sha1(POLICY.encode()).hexdigest()},
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
        "/etc/sm/env": {"exists": True, "type": "file", "owner": "root", "group": "www-data", "mode": "0640"},
    },
}
WANTED = {"state": "present",
          "packages": [{"package": "cron", "command": "crontab", "needed": True},
                       {"package": "zstd", "command": "zstd", "needed": False}],
          "managed": MANAGED, "created_record": RECORD,
          "entries": ENTRIES, "env": {"keys": [], "plain": {}}}


def plan(changes=None, wanted=None):
    reading = copy.deepcopy(IN_PLACE_READING)
    for change in changes or []:
        change(reading)
    return planner.plan(reading, wanted or WANTED)


def with_rows(*rows, **more):
    """WANTED with each row replacing the one of its kind and setting, where it stands."""
    def replaced(row):
        return next((new for new in rows if row.get("setting") and
                     (new["kind"], new.get("setting")) == (row["kind"], row["setting"])), row)
    return dict(WANTED, managed=[replaced(row) for row in MANAGED], **more)


def planned_paths(steps):
    return [item["path"] for item in steps.get("paths", [])]


def test_a_host_in_place_needs_nothing():
    assert plan() == {}


@pytest.mark.parametrize("drift, step", [
    (lambda p: p["commands"].update(crontab=False), "packages"),
    (lambda p: p.update(cron_running=False), "cron_service"),
    (lambda p: p.update(systemd=True), "timer"),
])
def test_each_service_drift_shows_in_the_plan(drift, step):
    assert step in plan([drift])


@pytest.mark.parametrize("drift, path", [
    (lambda p: p["paths"]["/opt/sm/logs"].update(mode="0755"), "/opt/sm/logs"),
    (lambda p: p["paths"]["/opt/sm/logs"].update(owner="root"), "/opt/sm/logs"),
    (lambda p: p["paths"]["/opt/sm/logs"].update(group="root"), "/opt/sm/logs"),
    (lambda p: p["paths"].update({"/opt/sm/logs": {"exists": False}}), "/opt/sm/logs"),
    (lambda p: p["paths"][CONFIG].update(checksum="edited"), CONFIG),
    (lambda p: p["paths"][CONFIG].update(mode="0666"), CONFIG),
    (lambda p: p["paths"][CONFIG].update(owner="www-data"), CONFIG),
    (lambda p: p["paths"][CONFIG].update(group="www-data"), CONFIG),
    (lambda p: p["paths"][CONFIG].update(type="link", target="/tmp/x"), CONFIG),
    (lambda p: p["paths"].update({CONFIG: {"exists": False}}), CONFIG),
    (lambda p: p["paths"].update({RUNNER: {"exists": True, "type": "file"}}), RUNNER),
    (lambda p: p["paths"].update({"/var/lib/sm": {"exists": False}}), "/var/lib/sm"),
    (lambda p: p["paths"]["/var/lib/sm"].update(owner="www-data"), "/var/lib/sm"),
    (lambda p: p["paths"]["/var/lib/sm"].update(mode="0755"), "/var/lib/sm"),
    (lambda p: p["paths"].update({"/var/lib/node": {"exists": False}}), "/var/lib/node"),
    (lambda p: p["paths"][METRICS_LINK].update(target="/etc/shadow"), METRICS_LINK),
    (lambda p: p["paths"][METRICS_LINK].update(owner="www-data"), METRICS_LINK),
    (lambda p: p["paths"][METRICS_LINK].update(type="file"), METRICS_LINK),
    (lambda p: p["paths"].update({METRICS_LINK: {"exists": False}}), METRICS_LINK),
    (lambda p: p["paths"]["/opt/sm/logs/health.lock"].update(exists=True, type="file"), "/opt/sm/logs/health.lock"),
    (lambda p: p["paths"]["/opt/sm/logs/health.lock"].update(exists=True, type="link"), "/opt/sm/logs/health.lock"),
    (lambda p: p["paths"]["/var/lib/sm/push.state"].update(exists=True, type="file"), "/var/lib/sm/push.state"),
])
def test_each_drift_of_a_row_puts_its_path_in_the_plan(drift, path):
    """Only that path is planned."""
    assert planned_paths(plan([drift])) == [path]


def test_a_directory_the_role_creates_appears_with_its_record_and_only_then():
    (created,) = plan([lambda p: p["paths"].update({"/var/lib/sm": {"exists": False}})])["paths"]
    assert created["path"] == "/var/lib/sm" and created["creation_record"] == RECORD
    (changed,) = plan([lambda p: p["paths"]["/var/lib/sm"].update(mode="0755")])["paths"]
    assert changed["path"] == "/var/lib/sm" and "creation_record" not in changed


@pytest.mark.parametrize("state", ["present", "absent"])
def test_every_run_removes_the_leftovers_of_runs_cut_short(state):
    leftover = "/etc/logrotate.d/server-maintanence.server-maintanence-tmp-0123456789abcdef~"
    steps = planner.plan(dict(copy.deepcopy(IN_PLACE_READING), leftovers=[leftover]), dict(WANTED, state=state))
    assert {"path": leftover, "state": "leftover"} in steps["paths"]


def test_a_row_out_of_place_is_handed_over_with_all_its_attributes():
    steps = plan([lambda p: p["paths"][CONFIG].update(mode="0666"),
                  lambda p: p["paths"].update({"/var/lib/sm": {"exists": False}}),
                  lambda p: p["paths"][METRICS_LINK].update(target="/etc/shadow"),
                  lambda p: p["paths"]["/opt/sm/logs/push.lock"].update(exists=True, type="file")])
    assert steps["paths"] == [
        {"path": "/var/lib/sm", "state": "directory", "owner": "root", "group": "www-data", "mode": "0775",
         "setting": "server_maintanence_state_dir", "creation_record": RECORD},
        {"path": METRICS_LINK, "state": "link", "src": "/var/lib/sm/server_maintanence.prom"},
        {"path": CONFIG, "state": "file", "content": POLICY, "owner": "root", "group": "root", "mode": "0644",
         "validate": "logrotate -d %s"},
        {"path": "/opt/sm/logs/push.lock", "state": "absent"},
    ]


def test_the_runners_own_files_are_left_to_it_while_present():
    assert plan([lambda p: p["paths"].update({"/var/lib/sm/health.state": {"exists": False},
                                              "/var/lib/sm/health.lock": {"exists": True, "type": "directory"}})]) == {}


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
    env_row = dict(MANAGED[-1], path="/etc/sm/env")
    wanted = with_rows(env_row, env={"keys": ["API_KEY_AUTH_ENABLED", "SSRF_ALLOWED_HOSTS"],
                                     "plain": {"SSRF_ALLOWED_HOSTS": "a,hub"}})
    in_sync = [lambda p: p.update(env_in_sync={"API_KEY_AUTH_ENABLED": True}, env={"SSRF_ALLOWED_HOSTS": "a,hub"})]
    assert plan(in_sync, wanted) == {}
    arguments = {"path": "/etc/sm/env", "owner": "root", "group": "www-data", "mode": "0640",
                 "setting": "server_maintanence_env_file"}
    assert plan(in_sync + [lambda p: p["env_in_sync"].update(API_KEY_AUTH_ENABLED=False)], wanted)["env_file"] == dict(
        arguments, keys=["API_KEY_AUTH_ENABLED"])
    assert plan(in_sync + [lambda p: p["env"].update(SSRF_ALLOWED_HOSTS="a")], wanted)["env_file"]["keys"] == [
        "SSRF_ALLOWED_HOSTS"]
    for drift in ({"mode": "0644"}, {"owner": "www-data"}, {"group": "root"}):
        assert plan(in_sync + [lambda p: p["paths"]["/etc/sm/env"].update(drift)], wanted)["env_file"] == dict(
            arguments, keys=[])
    assert plan(in_sync + [lambda p: p["paths"]["/etc/sm/env"].update(mode="0644")],
                with_rows(dict(env_row, wanted=False))) == {}


OWN_STATE_FILES = ["/var/lib/sm/health.state", "/var/lib/sm/health.lock", "/var/lib/sm/server_maintanence.prom"]


def absent(*paths):
    return [{"path": path, "state": "absent"} for path in paths]


def test_absent_removes_what_is_there_and_nothing_else():
    wanted = dict(WANTED, state="absent")
    steps = plan(wanted=wanted)
    assert steps == {"crontab": True,
                     "paths": absent(METRICS_LINK, CONFIG, *OWN_STATE_FILES) + absent(STATE_MARKER) + [
                         {"path": "/var/lib/sm", "state": "rmdir", "setting": "server_maintanence_state_dir"}]}
    purging = with_rows(dict(LOGS_ROW, purge=True), state="absent")
    assert plan([lambda p: p.update(crontab=[]),
                 lambda p: p["paths"]["/opt/sm/logs/health.lock"].update(exists=True, type="file")], purging) == {
        "paths": absent(METRICS_LINK, CONFIG, *OWN_STATE_FILES) + absent("/opt/sm/logs/health.lock", STATE_MARKER)
        + [{"path": "/opt/sm/logs", "state": "purge", "setting": "server_maintanence_logs_dir"},
           {"path": "/var/lib/sm", "state": "rmdir", "setting": "server_maintanence_state_dir"}]}


def test_the_metrics_directory_is_created_when_missing_and_otherwise_left_as_it_is():
    assert plan([lambda p: p["paths"]["/var/lib/node"].update(owner="root", mode="0700")]) == {}
    steps = plan([lambda p: p["paths"].update({"/var/lib/node": {"exists": False}})])
    assert planned_paths(steps) == ["/var/lib/node"] and steps["paths"][0]["creation_record"] == RECORD


@pytest.mark.parametrize("marker", [
    {"exists": False},
    {"exists": True, "type": "file", "owner": "www-data"},  # the app user cannot forge a root-owned record
    {"exists": True, "type": "link", "owner": "root", "target": "/etc/passwd"},
    {"exists": True, "type": "directory", "owner": "root"},
])
def test_absent_keeps_a_directory_the_role_did_not_record_creating(marker):
    steps = plan([lambda p: p["paths"].update({STATE_MARKER: marker})], dict(WANTED, state="absent"))
    assert "/var/lib/sm" not in planned_paths(steps) and STATE_MARKER not in planned_paths(steps)


@pytest.mark.parametrize("kind", ["directory", "other"])
def test_what_is_not_a_file_or_a_link_is_never_removed(kind):
    planted = {"exists": True, "type": kind, "owner": "www-data"}
    steps = plan([lambda p: p["paths"].update({"/opt/sm/logs/health.lock": planted,
                                              "/var/lib/sm/health.state": planted})],
                 dict(WANTED, state="absent"))
    assert "/opt/sm/logs/health.lock" not in planned_paths(steps)
    assert "/var/lib/sm/health.state" not in planned_paths(steps)
    assert "/opt/sm/logs/health.lock" not in planned_paths(plan([lambda p: p["paths"].update(
        {"/opt/sm/logs/health.lock": planted})]))


def test_a_link_in_place_of_the_logs_is_never_purged():
    steps = plan([lambda p: p["paths"].update({"/opt/sm/logs": {"exists": True, "type": "link", "owner": "www-data"}})],
                 with_rows(dict(LOGS_ROW, purge=True), state="absent"))
    assert "/opt/sm/logs" not in planned_paths(steps)
