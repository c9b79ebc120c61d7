"""The input rules the argument spec cannot express, without a host."""

import pytest

from ansible_collections.server_maintanence.ops.plugins.plugin_utils import validation

GOOD_INPUTS = {
    "project_dir": "/opt/server-monitoring", "logs_dir": "/opt/server-monitoring/logs",
    "uv_path": "/usr/local/bin/uv", "env_file": "/etc/server-monitoring/env",
    "user": "www-data", "group": "www-data",
    "health_check_schedule": "*/5 * * * *", "push_schedule": "*/5 * * * *",
    "auto_update_schedule": "30 3 * * *", "inbox_schedule": "* * * * *",
    "logrotate_rotate": 4, "logrotate_history_rotate": 4,
    "health_check_timeout": 240, "push_timeout": 240, "auto_update_timeout": 1800, "inbox_timeout": 55,
    "logrotate_maxsize": "", "logrotate_minsize": "", "logrotate_history_maxsize": "10M",
    "logs_dir_mode": "0750", "logrotate_create_mode": "0640",
    "logrotate_reopen_units": [{"name": "server-monitoring.service", "action": "hup"}],
    "env_file_units": ["server-monitoring.service"],
    "cluster_role": "standalone", "hub_url": None, "manage_env_file": False,
    "instance_id": "web1.example.com", "hub_api_key": None,
    "state_dir": "/var/lib/server-maintanence", "metrics_dir": "",
    "status_max_intervals": 2, "status_max_logs_size": "1G",
}


def test_the_documented_defaults_pass_validation():
    assert validation.input_errors(GOOD_INPUTS) == []


@pytest.mark.parametrize("changes, variable", [
    ({"logs_dir": "/opt/../etc"}, "server_maintanence_logs_dir"),
    ({"env_file": "/etc/server monitoring/env"}, "server_maintanence_env_file"),
    ({"uv_path": "/usr/local/bin/uv\n"}, "server_maintanence_uv_path"),
    ({"group": "Www Data"}, "server_maintanence_group"),
    ({"inbox_schedule": "* * * *"}, "server_maintanence_inbox_schedule"),
    ({"push_timeout": 0}, "server_maintanence_push_timeout"),
    ({"logrotate_history_rotate": "2.5"}, "server_maintanence_logrotate_history_rotate"),
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
    errors = validation.input_errors(dict(GOOD_INPUTS, **changes))
    assert len(errors) == 1 and errors[0].startswith(variable + " "), errors


def test_a_bad_api_key_is_refused_without_printing_it():
    secret = "s3cret 'with' quotes"
    errors = validation.input_errors(dict(GOOD_INPUTS, manage_env_file=True, hub_api_key=secret))
    assert len(errors) == 1 and errors[0].startswith("server_maintanence_hub_api_key ")
    assert secret not in errors[0] and "s3cret" not in errors[0]


def test_an_empty_uv_path_means_find_it_on_the_host():
    assert validation.input_errors(dict(GOOD_INPUTS, uv_path="")) == []


def test_metrics_are_optional_and_a_set_metrics_dir_passes():
    assert validation.input_errors(dict(GOOD_INPUTS, metrics_dir="/var/lib/prometheus/node-exporter")) == []
