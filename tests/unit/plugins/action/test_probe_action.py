"""The probe's action plugin, with the module call replaced: the inputs are
checked before anything reaches the host, the host's rules on what the
module read, and neither check's arguments are ever sent to the host."""

import copy
import pathlib

import pytest
import yaml

from ansible.plugins.action import ActionBase
from ansible_collections.server_maintanence.ops.plugins.action.probe import ActionModule

ROLE = str(pathlib.Path(__file__).resolve().parents[4] / "roles" / "server_maintanence")
# The role's defaults as Ansible hands them over: templated.
DEFAULTS = dict(yaml.safe_load((pathlib.Path(ROLE) / "defaults" / "main.yml").read_text()),
                server_maintanence_logs_dir="/opt/server-monitoring/logs")
METRICS = "/var/lib/prometheus/node-exporter"
PROBE = {
    "user_exists": True, "group_exists": True,
    "uv": {"path": "/var/www/.local/bin/uv", "exists": True, "mode": "0755", "unsafe": False, "discovered": True,
           "searched": ["/var/www/.local/bin/uv", "/usr/bin/uv"]},
    "commands": {"crontab": True, "logrotate": True, "zstd": False, "flock": True, "timeout": True},
    "systemd": False,
    "paths": {"/etc/cron.daily/logrotate": {"exists": True},
              "/opt/server-monitoring/logs": {"exists": True, "type": "directory", "planted_link": None},
              METRICS: {"exists": True, "type": "directory", "owner": "root", "group": "root", "mode": "0755",
                        "planted_link": None}},
}
HOST_CHECK = {"state": "present", "user": "www-data", "group": "www-data", "manage_packages": "yes",
              "cron_daily_runner": "/etc/cron.daily/logrotate",
              "packages": [{"package": "cron", "command": "crontab", "needed": True}],
              "guarded": [{"setting": "server_maintanence_logs_dir", "path": "/opt/server-monitoring/logs",
                           "kind": "directory"},
                          {"setting": "server_maintanence_metrics_dir", "path": METRICS, "kind": "directory"}]}


class Task:
    def __init__(self, args):
        self.args = args


@pytest.fixture
def run(monkeypatch):
    """run(args, probe) -> (result, the module calls' arguments)."""
    def runner(args, probe=None):
        calls = []
        monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
        action = object.__new__(ActionModule)
        action._task = Task(copy.deepcopy(args))

        def execute_module(module_name, module_args, task_vars):
            calls.append((module_name, module_args))
            return {"changed": False, "probe": copy.deepcopy(probe or PROBE)}
        action._execute_module = execute_module
        return action.run(task_vars={}), calls
    return runner


def test_bad_inputs_fail_before_the_module_reaches_the_host(run):
    inputs = dict(DEFAULTS, server_maintanence_logs_dri="/srv/logs")
    result, calls = run({"inputs": inputs, "role_path": ROLE, "user": "www-data"})
    assert result["failed"] is True and calls == []
    assert any("server_maintanence_logs_dri is not a variable of the role" in line for line in result["msg"])


def test_the_checks_arguments_are_never_sent_to_the_host(run):
    result, calls = run({"inputs": DEFAULTS, "role_path": ROLE, "host_check": HOST_CHECK,
                         "user": "www-data", "group": "www-data"})
    assert "failed" not in result and "warnings" not in result
    assert calls == [("server_maintanence.ops.probe", {"user": "www-data", "group": "www-data"})]


def test_a_broken_host_rule_fails_the_task_naming_it(run):
    probe = copy.deepcopy(PROBE)
    probe["paths"]["/opt/server-monitoring/logs"].update(type="link")
    result, _calls = run({"host_check": HOST_CHECK, "user": "www-data", "group": "www-data"}, probe)
    assert result["failed"] is True
    assert result["msg"][0].startswith("server_maintanence_logs_dir /opt/server-monitoring/logs is a symbolic link")


def test_a_missing_uv_is_a_warning_and_only_while_present(run):
    probe = copy.deepcopy(PROBE)
    probe["uv"]["exists"] = False
    result, _calls = run({"host_check": HOST_CHECK, "user": "www-data", "group": "www-data"}, probe)
    assert "failed" not in result
    assert result["warnings"] == [
        "uv is not installed yet (looked in /var/www/.local/bin/uv, /usr/bin/uv); the cron entries run "
        "/var/www/.local/bin/uv and fail until the app is deployed with uv there. Set server_maintanence_uv_path "
        "if it will live elsewhere."]
    result, _calls = run({"host_check": dict(HOST_CHECK, state="absent"), "user": "www-data", "group": "www-data"},
                         probe)
    assert "warnings" not in result


def test_a_metrics_directory_others_may_write_is_a_warning(run):
    probe = copy.deepcopy(PROBE)
    probe["paths"][METRICS].update(group="www-data", mode="0775")
    result, _calls = run({"host_check": HOST_CHECK, "user": "www-data", "group": "www-data"}, probe)
    assert "failed" not in result
    (warning,) = result["warnings"]
    assert warning.startswith("server_maintanence_metrics_dir %s is writable by users other than its owner "
                              "(root:www-data, mode 0775)" % METRICS)
