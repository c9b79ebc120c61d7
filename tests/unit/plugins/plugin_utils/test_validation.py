"""The role's inputs checked without a host: what the argument spec
declares, then the rules it cannot express.

input_errors() gets what the maintenance action plugin gives it: every
server_maintanence_* variable by its name, and the role's path, whose
meta/argument_specs.yml it reads."""

import pathlib
import re

import pytest

from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description, validation

COLLECTION = pathlib.Path(__file__).resolve().parents[4]
ROLE = str(COLLECTION / "roles" / "server_maintanence")
OPTIONS = validation.spec_options(ROLE)
PREFIX = validation.PREFIX
# The two spec defaults that are templates, as the vars lookup renders them.
RENDERED = {PREFIX + "logs_dir": "/opt/server-monitoring/logs", PREFIX + "instance_id": "web1.example.com"}
# What the role's vars look like with nothing set: every option with a default.
DEFAULTS = {name: RENDERED.get(name, option["default"]) for name, option in OPTIONS.items() if "default" in option}
# One good value for each option without a default.
OPTIONAL = {PREFIX + "hub_url": "https://hub.example.com:8443", PREFIX + "hub_api_key": "k-1/abc="}


def errors(**changes):
    """input_errors() of the defaults with changes, named without the prefix."""
    return validation.input_errors(dict(DEFAULTS, **{PREFIX + name: value for name, value in changes.items()}), ROLE)


def test_the_spec_defaults_pass_validation():
    assert not [value for value in DEFAULTS.values() if "{{" in str(value)], "a template default is not rendered"
    assert errors() == []


def test_every_option_of_the_spec_reaches_the_rules_and_is_accepted():
    assert set(DEFAULTS) | set(OPTIONAL) == set(OPTIONS)
    variables = dict(DEFAULTS, **OPTIONAL)
    for role in ("standalone", "agent", "hub", "both"):
        for manage in (True, False):
            assert validation.input_errors(dict(variables, **{PREFIX + "cluster_role": role,
                                                              PREFIX + "manage_env_file": manage}), ROLE) == []


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_an_option_that_does_not_reach_the_rules_is_an_error(name):
    variables = {key: value for key, value in DEFAULTS.items() if key != name}
    assert validation.input_errors(variables, ROLE) == [
        "%s did not reach the input check: the maintenance action plugin takes every variable of the role's "
        "argument spec from the task's variables, where the role's defaults set it" % name]


def test_the_options_without_a_default_may_be_absent():
    assert sorted(OPTIONAL) == sorted(name for name, option in OPTIONS.items() if "default" not in option)
    assert validation.input_errors(DEFAULTS, ROLE) == []


@pytest.mark.parametrize("name, fragment", [
    ("server_maintanence_logs_dri", "did you mean server_maintanence_logs_dir?"),
    ("server_maintanence_helth_check_schedule", "did you mean server_maintanence_health_check_schedule?"),
    ("server_maintanence_hub_apikey", "did you mean server_maintanence_hub_api_key?"),
    ("server_maintanence_seral", "did you mean server_maintanence_serial?"),
    ("server_maintanence_colour", "ansible-doc -t role server_maintanence.ops.server_maintanence lists them"),
])
def test_a_variable_the_role_does_not_declare_is_reported(name, fragment):
    secret = "s3cret-value"
    found = validation.input_errors(dict(DEFAULTS, **{name: secret}), ROLE)
    assert found == ["%s is not a variable of the role; %s" % (name, fragment)]


def test_every_unknown_variable_and_every_broken_rule_are_reported_at_once():
    found = validation.input_errors(dict(DEFAULTS, server_maintanence_b=1, server_maintanence_a=1,
                                         server_maintanence_push_timeout=0), ROLE)
    assert [error.split()[0] for error in found] == [
        "server_maintanence_a", "server_maintanence_b", "server_maintanence_push_timeout"]


def test_the_variables_of_the_shipped_playbook_are_not_typos():
    playbooks = "\n".join(path.read_text(encoding="utf-8") for path in sorted((COLLECTION / "playbooks").glob("*.yml")))
    read = set(re.findall(r"\b(server_maintanence_\w+)", playbooks)) - set(OPTIONS)
    assert read == set(validation.PLAYBOOK_VARIABLES)
    assert validation.input_errors(dict(DEFAULTS, server_maintanence_serial=2,
                                        server_maintanence_max_fail_percentage=0), ROLE) == []


@pytest.mark.parametrize("written, managed", [(True, True), ("yes", True), ("True", True), ("1", True),
                                              (False, False), ("no", False), ("false", False), ("0", False)])
def test_manage_env_file_is_read_as_ansible_reads_a_boolean(written, managed):
    """With it, the env file's values are checked."""
    assert bool(errors(manage_env_file=written, instance_id="web 1")) == managed


@pytest.mark.parametrize("changes, variable", [
    ({"logs_dir": "/opt/../etc"}, "server_maintanence_logs_dir"),
    ({"env_file": "/etc/server monitoring/env"}, "server_maintanence_env_file"),
    ({"uv_path": "/usr/local/bin/uv\n"}, "server_maintanence_uv_path"),
    ({"group": "Www Data"}, "server_maintanence_group"),
    ({"inbox_schedule": "* * * *"}, "server_maintanence_inbox_schedule"),
    ({"push_timeout": 0}, "server_maintanence_push_timeout"),
    ({"logrotate_history_rotate": -1}, "server_maintanence_logrotate_history_rotate"),
    ({"logrotate_minsize": "5 M"}, "server_maintanence_logrotate_minsize"),
    ({"logrotate_history_maxsize": ""}, "server_maintanence_logrotate_history_maxsize"),
    ({"logrotate_create_mode": "0644"}, "server_maintanence_logrotate_create_mode"),
    ({"logrotate_reopen_units": [{"name": "gunicorn; reboot", "action": "hup"}]},
     "server_maintanence_logrotate_reopen_units"),
    ({"env_file_units": ["server-monitoring"]}, "server_maintanence_env_file_units"),
    ({"cluster_role": "both"}, "server_maintanence_hub_url"),
    ({"manage_env_file": True, "instance_id": "web 1"}, "server_maintanence_instance_id"),
    ({"state_dir": "var/lib/sm"}, "server_maintanence_state_dir"),
    ({"metrics_dir": "/var/lib/node exporter"}, "server_maintanence_metrics_dir"),
    ({"status_max_intervals": 0}, "server_maintanence_status_max_intervals"),
    ({"status_max_logs_size": "1T"}, "server_maintanence_status_max_logs_size"),
])
def test_each_broken_rule_names_its_variable(changes, variable):
    found = errors(**changes)
    assert len(found) == 1 and found[0].startswith(variable + " "), found


@pytest.mark.parametrize("changes, fragment", [
    ({"logrotate_rotate": "four"}, "argument 'server_maintanence_logrotate_rotate' is of type str and we were "
                                   "unable to convert to int"),
    ({"logrotate_history_rotate": "2.5"}, "argument 'server_maintanence_logrotate_history_rotate' is of type str"),
    ({"logrotate_compress": "maybe"}, "argument 'server_maintanence_logrotate_compress' is of type str and we were "
                                      "unable to convert to bool"),
    ({"state": "removed"}, "value of server_maintanence_state must be one of: present, absent, got: removed"),
    ({"logrotate_frequency": "fortnightly"}, "value of server_maintanence_logrotate_frequency must be one of"),
    ({"logrotate_reopen_units": "server-monitoring.service"},
     "Elements value for option 'server_maintanence_logrotate_reopen_units' is of type str"),
    ({"logrotate_reopen_units": [{"name": "server-monitoring.service", "action": "kill"}]},
     "value of action must be one of: hup, restart, got: kill found in server_maintanence_logrotate_reopen_units"),
    ({"logrotate_reopen_units": [{"action": "hup"}]},
     "missing required arguments: name found in server_maintanence_logrotate_reopen_units"),
])
def test_what_the_spec_declares_is_checked_as_ansible_core_checks_a_role_spec(changes, fragment):
    """The role runs with rolespec_validate: false: these would reach the
    host unchecked if input_errors() did not check the spec itself."""
    found = errors(**changes)
    assert len(found) == 1 and fragment in found[0], found


def test_the_spec_check_gives_the_messages_of_ansible_cores_own_role_validation(monkeypatch):
    """ansible-core's validate_argument_spec action, the task it puts before
    a role whose spec it validates, run on the same variables: the role's
    check refuses what it refuses, with its words."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.action import ActionBase
    from ansible.plugins.action.validate_argument_spec import ActionModule
    from ansible.template import Templar

    class Task:
        args = {"argument_spec": OPTIONS, "provided_arguments": {}}

    variables = dict(DEFAULTS, server_maintanence_state="removed", server_maintanence_logrotate_rotate="four",
                     server_maintanence_logrotate_reopen_units=[{"action": "hup"}])
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    core = object.__new__(ActionModule)
    core._task = Task()
    core._templar = Templar(loader=DataLoader(), variables=variables)
    refused = core.run(task_vars=variables)
    assert refused["failed"] is True and len(refused["argument_errors"]) == 3, refused
    assert validation.input_errors(variables, ROLE) == refused["argument_errors"]


def test_a_mistyped_value_waits_for_its_type_before_the_rules_judge_it_and_typos_are_still_named():
    found = errors(logrotate_rotate="four", push_timeout=0, lgos_dir="/x")
    assert [error.split()[0] for error in found] == [
        "server_maintanence_lgos_dir", "argument"], found


def test_a_list_written_as_one_string_is_read_as_the_spec_reads_a_list():
    """ansible-core's list type splits "a,b" at the commas: the rules judge
    each entry, not each character."""
    assert errors(env_file_units="server-monitoring.service") == []
    assert errors(env_file_units="server-monitoring.service,gunicorn") == [
        "server_maintanence_env_file_units entry 'gunicorn' is not a systemd service name such as "
        "server-monitoring.service"]
    inputs, found = validation.checked_inputs(dict(DEFAULTS, server_maintanence_env_file_units="a.service,b.service"),
                                              OPTIONS)
    assert found == [] and inputs["server_maintanence_env_file_units"] == ["a.service", "b.service"]


def test_a_bad_api_key_is_refused_without_printing_it():
    secret = "s3cret 'with' quotes"
    found = errors(manage_env_file=True, hub_api_key=secret)
    assert len(found) == 1 and found[0].startswith("server_maintanence_hub_api_key ")
    assert secret not in found[0] and "s3cret" not in found[0]


def test_an_empty_uv_path_means_find_it_on_the_host():
    assert errors(uv_path="") == [] and errors(uv_path="/usr/local/bin/uv") == []


def test_metrics_are_optional_and_a_set_metrics_dir_passes():
    assert errors(metrics_dir="/var/lib/prometheus/node-exporter") == []


@pytest.mark.parametrize("changes, message", [
    ({"logs_dir": "/var/log"}, "server_maintanence_logs_dir /var/log is a system directory"),
    ({"logs_dir": "/home/www"}, "server_maintanence_logs_dir /home/www is a system directory"),
    ({"metrics_dir": "/srv"}, "server_maintanence_metrics_dir /srv is a system directory"),
    ({"state_dir": "/etc/sm"}, "server_maintanence_state_dir /etc/sm lies inside /etc, which belongs to the system"),
    ({"state_dir": "/opt/server-monitoring/state"},
     "server_maintanence_state_dir /opt/server-monitoring/state lies inside server_maintanence_project_dir"),
    ({"metrics_dir": "/opt/server-monitoring/logs"},
     "server_maintanence_metrics_dir /opt/server-monitoring/logs is server_maintanence_logs_dir"),
    ({"project_dir": "/srv/app/project", "logs_dir": "/srv/app"},
     "server_maintanence_logs_dir /srv/app holds server_maintanence_project_dir"),
    ({"metrics_dir": "/var/lib/server-maintanence/prom"},
     "server_maintanence_metrics_dir /var/lib/server-maintanence/prom lies inside server_maintanence_state_dir"),
])
def test_a_managed_directory_is_no_system_directory_and_stays_apart_from_the_others(changes, message):
    found = errors(**changes)
    assert len(found) == 1 and found[0].startswith(message), found


def test_the_logs_may_sit_inside_the_project():
    assert errors(project_dir="/srv/app", logs_dir="/srv/app/logs") == []


def test_the_inbox_timeout_must_end_a_drain_within_the_apps_reclaim_window():
    """A drain killed after the timeout and the runner's kill grace is dead
    before the app reclaims a run it left PROCESSING; one second more is
    refused, naming the variable, the window and the kill grace."""
    window = description.APP_STALE_MINUTES * 60
    longest = window - description.KILL_GRACE_SECONDS - 1
    assert errors(inbox_timeout=longest) == []
    assert errors(inbox_timeout=str(longest)) == []
    assert int(DEFAULTS["server_maintanence_inbox_timeout"]) <= longest
    for refused in (longest + 1, str(window), 3600):
        found = errors(inbox_timeout=refused)
        assert len(found) == 1, found
        assert found[0].startswith("server_maintanence_inbox_timeout must be below %d: " % (longest + 1)), found
        assert "%d s kill grace" % description.KILL_GRACE_SECONDS in found[0]
        assert "%d minutes" % description.APP_STALE_MINUTES in found[0]
        assert found[0].endswith("got %r" % (refused,))
    # A timeout that is no whole number gets the one message about that.
    found = errors(inbox_timeout="010")
    assert len(found) == 1 and found[0].startswith("server_maintanence_inbox_timeout must be a whole number"), found


@pytest.mark.parametrize("role", ["agent", "both"])
@pytest.mark.parametrize("key", [None, ""])
def test_an_agent_whose_env_file_the_role_manages_needs_a_hub_key(role, key):
    changes = dict(cluster_role=role, hub_url="https://hub.example.com", manage_env_file=True)
    if key is not None:
        changes["hub_api_key"] = key
    (message,) = errors(**changes)
    assert message.startswith("server_maintanence_hub_api_key is required when server_maintanence_cluster_role is "
                              "%s and server_maintanence_manage_env_file is true" % role)
    # No way out through the hub's auth: the app's push_to_hub refuses an empty key whatever it is
    # (tests/unit/app_contract/test_upstream_contract.py checks that against the app's code).
    assert "a hub with API key auth off still needs a non-empty HUB_API_KEY on the agent" in message
    assert "create_api_key" in message


def test_a_hub_key_is_asked_of_agents_only_and_only_when_the_role_writes_the_env_file():
    agent = dict(cluster_role="agent", hub_url="https://hub.example.com")
    assert errors(**agent) == []  # the operator's own env file carries the key
    assert errors(cluster_role="hub", manage_env_file=True) == []
    assert errors(manage_env_file=True, **dict(agent, hub_api_key="k-1/abc=")) == []


@pytest.mark.parametrize("jobs", [[], ["health"], ["health", "update", "push"], "push,update"])
def test_drop_installer_jobs_takes_the_installers_jobs(jobs):
    assert errors(drop_installer_jobs=jobs) == []


def test_drop_installer_jobs_takes_no_other_job():
    (message,) = errors(drop_installer_jobs=["inbox"])
    assert "server_maintanence_drop_installer_jobs" in message and "health, update, push" in message
