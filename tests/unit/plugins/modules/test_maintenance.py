"""The maintenance module's Engine with a fake AnsibleModule and the host's
reading replaced (maintenance_host.py): the host's rules are checked before
any change, a missing uv and an open metrics directory are warnings, and
missing packages stop the run before any change until the action plugin has
installed them."""


import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _constants

from ...conftest import load_module
from . import maintenance_host as host

maintenance = load_module("maintenance")

LOGS = "/opt/server-monitoring/logs"


@pytest.fixture
def run(monkeypatch):
    def runner(params=None, change=None, **kwargs):
        return host.run(monkeypatch, maintenance, params or host.arguments(), change, **kwargs)
    return runner


def test_a_healthy_host_is_read_once_and_put_in_place(run):
    result, module, applied, readings, _engine = run()
    assert "failed" not in result and result["changed"] is True
    assert len(readings) == 1 and module.warnings == []
    assert [name for name, _arguments in applied] == ["paths", "crontab", "env_file"]
    assert result["steps"] == ["crontab", "env_file", "paths"] and result["packages"] == []


def test_the_reading_is_asked_for_every_path_and_never_for_the_env_files_digest(run):
    params = host.arguments()
    _result, _module, _applied, (reading,), _engine = run(params)
    assert {row["path"] for row in params["managed"]} <= set(reading["paths"])
    assert params["env_file"] in reading["paths"] and params["env_file"] not in reading["checksums"]
    assert params["cron_daily_runner"] in reading["paths"]


def test_status_reads_whether_the_apps_inbox_unit_is_active_and_only_that_unit(run):
    """The env file's units are restarted by a run, never read by status;
    the inbox unit is read by status, never restarted by a run."""
    params = dict(host.arguments(), state="status", managed=[])
    result, module, applied, (reading,), _engine = run(params)
    assert reading["units"] == ["server-monitoring-inbox.service"] and reading["report"] is True
    assert result["probe"]["units_active"] == {"server-monitoring-inbox.service": False}
    assert applied == [] and module.commands == []
    _result, _module, _applied, (reading,), _engine = run()
    assert reading["units"] == host.arguments()["env_units"] and reading["report"] is False


def test_a_broken_host_rule_fails_naming_its_variable_and_nothing_is_applied(run):
    def logs_dir_is_a_link(reading, _params):
        reading["paths"][LOGS] = {"exists": True, "type": "link", "target": "/etc", "owner": "www-data",
                                  "group": "www-data", "mode": "0777", "planted_link": None}

    result, module, applied, _readings, _engine = run(change=logs_dir_is_a_link)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"][0].startswith("server_maintanence_logs_dir %s is a symbolic link" % LOGS)
    assert applied == [] and module.commands == []
    assert result["changed_paths"] == [] and result["steps"] == []


def test_a_broken_host_rule_fails_an_uninstall_too_before_any_change(run):
    def logs_dir_is_a_file(reading, _params):
        reading["paths"][LOGS] = {"exists": True, "type": "file", "owner": "www-data", "group": "www-data",
                                  "mode": "0644", "planted_link": None}

    result, module, applied, _readings, _engine = run(host.arguments(state="absent"), logs_dir_is_a_file)
    assert result["failed"] is True
    assert any(message.startswith("server_maintanence_logs_dir %s is a file" % LOGS) for message in result["msg"])
    assert applied == [] and module.commands == []


def uv_missing(reading, _params):
    reading["uv"].update(exists=False, mode=None)


def test_a_missing_uv_is_a_warning_only_with_state_present(run):
    result, module, applied, _readings, engine = run(change=uv_missing)
    assert "failed" not in result
    assert module.warnings == [
        "uv is not installed yet (looked in %s, /usr/bin/uv); the cron entries run %s and fail until the app is "
        "deployed with uv there. Set server_maintanence_uv_path if it will live elsewhere." % (host.UV, host.UV)]
    # The entries are written all the same, with the uv the installer would find.
    assert ("crontab", engine.entries) in applied
    (health,) = [entry for entry in engine.entries if entry["name"] == "server-maintanence health check"]
    assert " %s run python manage.py run_pipeline" % host.UV in health["line"]

    result, module, _applied, _readings, _engine = run(host.arguments(state="absent"), uv_missing)
    assert "failed" not in result and module.warnings == []


def test_a_given_uv_path_that_is_missing_is_named_in_the_warning(run):
    result, module, _applied, _readings, _engine = run(host.arguments(uv_path="/opt/uv/bin/uv"), uv_missing)
    assert "failed" not in result
    (warning,) = module.warnings
    assert warning.startswith("uv is not installed yet (server_maintanence_uv_path /opt/uv/bin/uv does not exist)")


def test_a_metrics_directory_others_may_write_is_a_warning(run):
    def metrics_dir_open(reading, _params):
        reading["paths"][host.METRICS] = {"exists": True, "type": "directory", "isdir": True, "owner": "root",
                                          "group": "www-data", "mode": "0775", "planted_link": None}

    result, module, applied, _readings, _engine = run(change=metrics_dir_open)
    assert "failed" not in result
    (warning,) = module.warnings
    assert warning.startswith("server_maintanence_metrics_dir %s is writable by users other than its owner "
                              "(root:www-data, mode 0775)" % host.METRICS)
    # Kept as it is: no item for the directory itself.
    (items,) = [arguments for name, arguments in applied if name == "paths"]
    assert host.METRICS not in [item["path"] for item in items]


def logrotate_missing(reading, _params):
    reading["commands"]["logrotate"] = False


def test_missing_packages_return_early_with_packages_and_no_change(run):
    result, module, applied, _readings, _engine = run(change=logrotate_missing)
    assert "failed" not in result and result["changed"] is False
    assert result["packages"] == ["logrotate"] and "packages" in result["steps"]
    assert applied == [] and module.commands == [] and result["changed_paths"] == []
    # The action plugin installs them from a bare image's lists too.
    assert result["apt_lists"] is True


def test_with_assume_packages_the_run_goes_on(run):
    params = dict(host.arguments(), assume_packages=True)
    result, _module, applied, _readings, _engine = run(params, logrotate_missing)
    assert "failed" not in result and result["changed"] is True
    assert result["packages"] == ["logrotate"]
    assert [name for name, _arguments in applied] == ["paths", "crontab", "env_file"]


def test_missing_packages_the_role_may_not_install_fail_the_host(run):
    result, _module, applied, _readings, _engine = run(host.arguments(manage_packages=False), logrotate_missing)
    assert result["failed"] is True and applied == []
    assert any("server_maintanence_manage_packages is false" in message and "logrotate" in message
               for message in result["msg"])


def test_the_entries_run_manage_py_with_the_uv_found(run):
    _result, _module, _applied, _readings, engine = run()
    lines = {entry["name"]: entry["line"] for entry in engine.entries}
    assert lines["server-maintanence health check"].endswith(
        " %s run python manage.py run_pipeline --checks-only --json" % host.UV)
    assert lines["server-maintanence auto-update"].endswith(" bin/update.sh --rollback --auto-env")


INSTALLER = ["*/5 * * * * cd /opt/sm && uv run python manage.py run_pipeline # server-maintanence health check",
             "*/5 * * * * cd /opt/sm && uv run python manage.py push_to_hub # server-maintanence cluster push"]


def installer_crontab(reading, _params):
    reading["crontab"] = list(INSTALLER)


def test_an_installer_line_whose_job_the_role_would_drop_fails_the_host_before_any_change(run):
    result, module, applied, _readings, _engine = run(change=installer_crontab)
    assert result["failed"] is True and applied == [] and module.commands == []
    (message,) = result["msg"]
    assert "set up the server-maintanence cluster push in www-data's crontab" in message
    assert "server_maintanence_drop_installer_jobs: [push]" in message


def test_the_installer_lines_taken_over_are_told_apart_by_job_replaced_or_dropped(run):
    params = host.arguments(drop_installer_jobs=["push"])
    result, _module, _applied, _readings, _engine = run(params, installer_crontab)
    assert "failed" not in result and result["taken_over"] == 2
    assert result["installer_jobs"] == {"replaced": ["server-maintanence health check"],
                                        "dropped": ["server-maintanence cluster push"]}


def test_an_update_the_app_would_run_as_on_a_dev_host_is_a_warning(run):
    def dev(reading, _params):
        reading["update_mode"] = {"mode": "dev", "systemd": "systemd is not PID 1"}

    result, module, _applied, (reading,), _engine = run(host.arguments(auto_update_enabled=True), dev)
    assert "failed" not in result
    assert reading["project_env"] == "/opt/server-monitoring/.env"
    (warning,) = module.warnings
    assert warning.startswith("server_maintanence_auto_update_enabled: the app's bin/update.sh will take this host "
                              "for a development one")


def test_the_fixed_paths_come_from_the_action_plugin_only():
    """runner, cron_daily_runner and logrotate_state have no default of the
    module's own: the description passes them, from module_utils/_constants.py."""
    params = host.arguments()
    for name, path in (("runner", "JOB_RUNNER"), ("cron_daily_runner", "CRON_DAILY_RUNNER"),
                       ("logrotate_state", "LOGROTATE_STATE")):
        assert maintenance.ARGUMENTS[name] == {"type": "path", "required": True}, name
        assert params[name] == getattr(_constants, path), name


def test_the_reading_sweeps_the_runners_state_directory_and_the_run_removes_what_it_found(run):
    """The reading lists leftovers in the directory of each path it reads
    (_host_reading.read_host): the job runner's state directory and the
    metrics directory are among them; a records writer's leftover found
    there is one of the run's path steps."""
    params = host.arguments()
    state_dir = params["state_dir"]
    left = state_dir + "/health.state.server-maintanence-tmp-0123456789abcdef~"

    def found(reading, _params):
        reading["leftovers"] = [left]

    _result, _module, applied, readings, _engine = run(params, found)
    directories = {path.rsplit("/", 1)[0] for path in readings[0]["paths"]}
    assert {state_dir, host.METRICS} <= directories
    [items] = [items for name, items in applied if name == "paths"]
    assert {"path": left, "state": "leftover"} in items
