"""The maintenance action plugin with the module calls replaced and a real
Templar and DataLoader: the role's variables are templated and checked
before anything reaches the host, the role's templates are rendered into the
one description the module gets, a package the module finds missing is
installed with ansible.builtin.apt before the module is called again, and the
hub's API key goes to the host only as a secret env value."""

import copy
import json
import pathlib

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.action import ActionBase
from ansible.template import Templar
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
from ansible_collections.server_maintanence.ops.plugins.action.maintenance import ActionModule

REPO = pathlib.Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "server_maintanence"
MODULE = "server_maintanence.ops.maintenance"
SECRET = "k-Sup3rSecret-42"
AGENT = {"server_maintanence_cluster_role": "agent", "server_maintanence_hub_url": "https://hub.example.com",
         "server_maintanence_hub_api_key": SECRET, "server_maintanence_manage_env_file": True}


def defaults(loader):
    """The role's defaults as a play hands them to the task: raw Jinja
    included (logs_dir "{{ server_maintanence_project_dir }}/logs"), trusted
    as templates as the role's own files are."""
    path = str(ROLE / "defaults" / "main.yml")
    try:
        return loader.load_from_file(path, trusted_as_template=True)
    except TypeError:  # ansible-core before 2.19 templates every string
        return loader.load_from_file(path)


class Task:
    def __init__(self, args):
        self.args = args


def in_place(module_args):
    """What the module returns for a host in place."""
    return {"changed": False, "steps": [], "packages": [], "changed_paths": [], "kept": [], "taken_over": 0,
            "changed_keys": [], "restarted": [], "apt_lists": True,
            "uv": {"path": "/var/www/.local/bin/uv", "exists": True}, "entries": []}


def put_right(module_args):
    """What the module returns once it has put paths right."""
    return dict(in_place(module_args), changed=True, steps=["paths"], changed_paths=[module_args["logs_dir"]],
                entries=[{"name": job["name"], "wanted": job["wanted"], "schedule": job["schedule"]}
                         for job in module_args["jobs"]])


@pytest.fixture(autouse=True)
def collection_finder():
    """The plugin loader finds ansible.builtin.template through Ansible's
    collection finder, which every Ansible run installs (and ansible-test
    units too); plain pytest does not, so it is installed for these tests."""
    if AnsibleCollectionConfig.collection_finder is not None:
        yield
        return
    _AnsibleCollectionFinder(paths=[str(REPO / ".cache" / "collections")], scan_sys_paths=False)._install()
    try:
        yield
    finally:
        _AnsibleCollectionFinder._remove()


@pytest.fixture
def run(monkeypatch):
    """run(variables, answers, args) -> (result, [(module name, its arguments)]).
    answers: for each module call in turn, a function of its arguments giving
    its result."""
    def runner(variables=None, answers=(in_place,), args=None):
        monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
        loader = DataLoader()
        task_vars = dict(defaults(loader), inventory_hostname="web1", **(variables or {}))
        action = object.__new__(ActionModule)
        action._task = Task(dict(args or {}))
        action._loader = loader
        action._templar = Templar(loader=loader, variables=task_vars)
        calls, pending = [], list(answers)

        def execute_module(module_name=None, module_args=None, task_vars=None, **kwargs):
            calls.append((module_name, copy.deepcopy(module_args)))
            assert pending, "a module call more than expected: %s" % module_name
            return pending.pop(0)(module_args)

        action._execute_module = execute_module
        return action.run(task_vars=task_vars), calls
    return runner


def test_a_misspelt_variable_fails_before_any_module_call_naming_it(run):
    result, calls = run({"server_maintanence_logs_dri": "/srv/logs"})
    assert result["failed"] is True and calls == []
    assert ("server_maintanence_logs_dri is not a variable of the role; did you mean server_maintanence_logs_dir?"
            in result["msg"])


def test_a_bad_value_fails_before_any_module_call_naming_its_variable(run):
    result, calls = run({"server_maintanence_logs_dir_mode": "not a mode"})
    assert result["failed"] is True and calls == []
    assert any(message.startswith("server_maintanence_logs_dir_mode") for message in result["msg"])


def test_good_inputs_send_one_call_with_the_rendered_logrotate_policy(run):
    result, calls = run()
    assert "failed" not in result and result["changed"] is False
    ((name, arguments),) = calls
    assert name == MODULE
    # Templated: the raw Jinja of the defaults never reaches the host.
    assert arguments["logs_dir"] == "/opt/server-monitoring/logs" and "{{" not in json.dumps(arguments)
    (policy,) = [row for row in arguments["managed"] if row["path"] == "/etc/logrotate.d/server-maintanence"]
    assert "/opt/server-monitoring/logs/*.log {" in policy["content"] and "rotate 4" in policy["content"]
    # Every file row carries its whole content.
    assert all(row["content"] for row in arguments["managed"] if row["kind"] == "file")


def test_state_status_reads_and_renders_nothing(run):
    result, calls = run(args={"state": "status"})
    ((name, arguments),) = calls
    assert name == MODULE and arguments["state"] == "status" and arguments["managed"] == []


def test_missing_packages_are_installed_with_apt_then_the_module_runs_again(run):
    def cron_missing(module_args):
        return dict(in_place(module_args), packages=["cron"], steps=["packages", "paths"], apt_lists=False)

    result, calls = run(answers=(cron_missing, lambda module_args: {"changed": True}, put_right))
    assert [name for name, _arguments in calls] == [MODULE, "ansible.builtin.apt", MODULE]
    apt = calls[1][1]
    assert apt["name"] == ["cron"] and apt["state"] == "present"
    # A bare image has no package lists: fetched before installing.
    assert apt["update_cache"] is True and apt["cache_valid_time"] == 0
    assert calls[2][1]["assume_packages"] is True and "assume_packages" not in calls[0][1]
    assert dict(calls[2][1], assume_packages=None) == dict(calls[0][1], assume_packages=None)
    assert "failed" not in result and result["changed"] is True
    assert result["packages"] == ["cron"] and result["steps"][0] == "packages"


def test_a_failed_apt_fails_the_task_without_a_second_call(run):
    def cron_missing(module_args):
        return dict(in_place(module_args), packages=["cron"], steps=["packages"])

    result, calls = run(answers=(cron_missing, lambda module_args: {"failed": True, "msg": "no cron"}))
    assert [name for name, _arguments in calls] == [MODULE, "ansible.builtin.apt"]
    assert result["failed"] is True


def test_the_hub_api_key_is_only_ever_a_secret_env_value(run):
    def cron_missing(module_args):
        return dict(in_place(module_args), packages=["cron"], steps=["packages", "paths"])

    result, calls = run(AGENT, answers=(cron_missing, lambda module_args: {"changed": True}, put_right))
    assert len(calls) == 3
    for name, arguments in calls:
        shown = dict(arguments)
        secret = shown.pop("env_secret", {})
        assert SECRET not in json.dumps(shown), name
        if name == MODULE:
            assert secret["HUB_API_KEY"] == SECRET
    # Nor in what the task shows.
    assert SECRET not in json.dumps(result)


def test_the_summary_says_which_installer_lines_were_replaced_and_which_dropped_at_the_operators_word(run):
    def taken_over(module_args):
        return dict(put_right(module_args), steps=["crontab"], taken_over=3, installer_jobs={
            "replaced": ["server-maintanence auto-update", "server-maintanence health check"],
            "dropped": ["server-maintanence cluster push"]})

    result = run({"server_maintanence_drop_installer_jobs": ["push"]}, answers=(taken_over,))[0]
    assert ("Taking over 3 line(s) that bin/install/cron.sh wrote in www-data's crontab: auto-update, health check "
            "replaced by the role's entries; cluster push removed without an entry, as "
            "server_maintanence_drop_installer_jobs allows." in result["msg"])


def test_what_the_module_is_told_to_check_for_the_logs_dir_and_the_updates_mode(run):
    arguments = run()[1][0][1]
    # The app's own logs directory: nothing to check; auto-update off: its .env is not read.
    assert (arguments["env_logs_dir"], arguments["project_env"]) == ("", "")
    custom = {"server_maintanence_logs_dir": "/srv/sm-logs", "server_maintanence_auto_update_enabled": True}
    arguments = run(custom)[1][0][1]
    assert (arguments["env_logs_dir"], arguments["project_env"]) == ("/srv/sm-logs", "/opt/server-monitoring/.env")
    assert "LOGS_DIR" not in arguments["env_plain"]
    # The role writes LOGS_DIR itself: no host rule.
    arguments = run(dict(custom, server_maintanence_manage_env_file=True))[1][0][1]
    assert arguments["env_logs_dir"] == "" and arguments["env_plain"]["LOGS_DIR"] == "/srv/sm-logs"
    drop = {job["id"]: job["drop_installer"] for job in run({"server_maintanence_drop_installer_jobs": ["push"]})[1][0][1]["jobs"]}
    assert drop == {"health": False, "push": True, "update": False, "inbox": False}
