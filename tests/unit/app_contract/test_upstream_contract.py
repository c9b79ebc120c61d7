"""What the role relies on in the app, checked against the app's pinned source.

Each test takes a fact from the role (its description of the host in
plugins/plugin_utils/description.py, its defaults, and what the maintenance
module builds from them on the host) and a
fact from the app (upstream_app.py beside this file reads it out of the source), so
a change upstream that breaks the role fails here, in seconds, before any
container starts.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import types

import pytest
import yaml

from ansible_collections.server_maintanence.ops.plugins.module_utils import _crontab as crontab
from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file as env
from ansible_collections.server_maintanence.ops.plugins.module_utils import _host_reading
from ansible_collections.server_maintanence.ops.plugins.module_utils import _systemd_env as systemd_env
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description

from ..conftest import load_module
from ..plugins.modules import maintenance_host
from . import upstream_app

REPO = pathlib.Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "server_maintanence"
# The maintenance module and its Engine without a host (tests/unit/plugins/modules/maintenance_host.py).
maintenance = load_module("maintenance")

DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


@pytest.fixture(scope="module")
def app():
    return upstream_app.UpstreamApp(upstream_app.tarball())


@pytest.fixture(scope="module")
def engine():
    """What the maintenance module builds on a host where uv is found at
    maintenance_host.UV: (the command it runs manage.py with, {job name: its
    crontab line})."""
    manage = []
    with pytest.MonkeyPatch.context() as patch:
        real = maintenance.crontab.cron_entries

        def cron_entries(jobs, settings):
            manage.append(settings["manage"])
            return real(jobs, settings)

        patch.setattr(maintenance.crontab, "cron_entries", cron_entries)
        result, _module, _applied, _readings, run = maintenance_host.run(patch, maintenance,
                                                                         maintenance_host.arguments())
    assert "failed" not in result and len(manage) == 1
    return manage[0], {entry["name"]: entry["line"] for entry in run.entries}


def role_jobs(manage):
    """{job name: command}, a manage.py job's run with `manage`."""
    return {job["name"]: job.get("command") or "%s %s" % (manage, job["manage"]) for job in description.JOBS}


def role_manage_jobs():
    """{job name: manage.py arguments} for every job that calls manage.py."""
    return {job["name"]: job["manage"] for job in description.JOBS if "manage" in job}


SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def test_each_job_is_named_and_run_one_way_and_set_by_variables_of_the_role():
    for job in description.JOBS:
        assert set(job) - {"manage", "command"} == {"name", "id", "on", "schedule", "timeout", "log"}, job["id"]
        assert ("manage" in job) != ("command" in job), job["id"]
        # The app's `manage.py check` looks for the name in `crontab -l`.
        assert "server-maintanence" in job["name"]
        named = [job[key] for key in ("on", "schedule", "timeout") if job[key] is not None]
        assert set(description.PREFIX + name for name in named) <= set(SPEC), job["id"]
    assert len({job["id"] for job in description.JOBS}) == len({job["name"] for job in description.JOBS}) == len(
        description.JOBS)


def manage_calls():
    """{command: [options]} for every job that calls manage.py."""
    calls = {}
    for arguments in role_manage_jobs().values():
        name, *args = arguments.split()
        calls[name] = [arg for arg in args if arg.startswith("--")]
    return calls


def test_the_role_runs_manage_py_the_way_the_apps_installer_does(app, engine):
    manage, lines = engine
    assert manage == maintenance_host.UV + " run python manage.py"
    health = role_manage_jobs()["server-maintanence health check"]
    assert "run python manage.py " + health in app.installer_lines()["health check"]
    assert lines["server-maintanence health check"].endswith(" %s %s" % (manage, health))


@pytest.mark.parametrize("command", sorted(manage_calls()))
def test_each_management_command_and_option_the_role_calls_exists(app, command):
    commands = app.management_commands()
    assert command in commands, "the app has no management command %r any more" % command
    assert set(manage_calls()[command]) <= commands[command]


def test_the_auto_update_script_accepts_the_options_the_role_passes(app, engine):
    script, *args = role_jobs(engine[0])["server-maintanence auto-update"].split()
    assert set(args) <= app.script_options(script)
    # The installer names the same script through its bin/ directory variable.
    assert "/%s %s" % (pathlib.PurePosixPath(script).name, " ".join(args)) in app.installer_lines()["auto-update"]


def test_the_sudo_grant_is_the_one_command_the_apps_update_runs_as_root(app):
    """The role's sudoers drop-in allows description.APP_ROOT_COMMAND only:
    the app's update must run exactly that, and nothing else, through sudo."""
    assert app.update_root_commands() == [description.APP_ROOT_COMMAND]
    program, verb, *units = description.APP_ROOT_COMMAND
    assert (program, verb) == ("systemctl", "restart")
    # The units it restarts are the app's own deploy/systemd units.
    assert {unit + ".service" for unit in units} == set(app.units())
    grant = description.sudoers_grant("www-data")
    assert grant.count(" ".join(description.APP_ROOT_COMMAND[1:])) == len(description.SYSTEMCTL_PATHS)


def test_the_health_entry_carries_every_marker_the_apps_crontab_check_looks_for(app, engine):
    name = "server-maintanence health check"
    crontab = "#Ansible: %s\n%s\n" % (name, engine[1][name])
    missing = [marker for marker in app.crontab_markers() if marker not in crontab]
    assert not missing


def test_each_line_the_apps_installer_writes_is_tagged_with_the_name_of_the_roles_entry_for_its_job(app):
    """The role knows an installer's line by its tag, `# <the name of the
    role's entry for the same job>`: each tag the app's bin/install/cron.sh
    writes must name one of the role's jobs, and the command the installer
    tags with it must be that job's."""
    names = {job["name"]: job for job in description.JOBS}
    for tag, command in app.installer_lines().items():
        job = names.get(upstream_app.CRON_TAG[2:] + tag)
        assert job, "the app's installer tags a line %r, the name of none of the role's jobs" % tag
        run = job.get("manage") or job["command"].split()[0]
        assert run.split()[0].rsplit("/", 1)[-1] in command, (tag, command)
    lines = ["*/5 * * * * %s %s%s" % (command, upstream_app.CRON_TAG, tag)
             for tag, command in app.installer_lines().items()]
    found = crontab.installer_lines(lines, list(names))
    assert [line for line, _name in found] == lines


def test_push_to_hub_refuses_an_empty_key_whatever_the_hubs_api_key_auth(app):
    """The role refuses an agent without server_maintanence_hub_api_key and
    offers no exception for a hub whose API key auth is off: the app's
    push_to_hub refuses to push with an empty HUB_API_KEY under no other
    condition. If the app stops requiring the key (or requires it only with
    the hub's auth on), this fails, and the exception becomes possible."""
    assert app.push_key_checks() == ["not api_key"]
    assert "API_KEY_AUTH_ENABLED" not in app.text("apps/alerts/management/commands/push_to_hub.py")


ENV_CASES = [None, b"", b"DJANGO_ENV=prod\n", b"DJANGO_ENV=prod", b"DJANGO_ENV=prod\r\n", b" DJANGO_ENV=prod\n",
             b"export DJANGO_ENV=prod\n", b'DJANGO_ENV="prod"\n', b"DJANGO_ENV=prod # prod\n",
             b"DJANGO_ENV=prod\nDJANGO_ENV=dev\n", b"DJANGO_ENV=dev\nDJANGO_ENV=prod\n", b"DJANGO_ENV=production\n",
             b"DEPLOY_METHOD=docker\n", b"DEPLOY_METHOD=bare\nDJANGO_ENV=prod\n", b"DEPLOY_METHOD=docker\nx\0\n",
             b"DEPLOY_METHOD=docker \n", b"DEPLOY_METHOD=docker\nDEPLOY_METHOD=bare\n"]


@pytest.mark.parametrize("unit_listed", [False, True])
@pytest.mark.parametrize("content", ENV_CASES)
def test_the_updates_mode_is_read_as_the_apps_detect_mode_reads_it(app, tmp_path, monkeypatch, content, unit_listed):
    """bin/lib/health_check.sh's own detect_mode, run by bash on a project
    .env, against the role's reading of the same file. Its systemd test, as
    the app user's systemctl answers: on a host without docker (the
    heuristic for a .env without DEPLOY_METHOD is not the role's to judge),
    systemd PID 1 with its D-Bus socket, and the unit listed or not."""
    project = tmp_path / "project"
    project.mkdir()
    if content is not None:
        (project / ".env").write_bytes(content)
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("grep", "tail", "cut"):
        os.symlink(shutil.which(tool), tools / tool)
    listing = "UNIT FILE STATE PRESET\n%s0 unit files listed.\n" % (
        "server-monitoring.service enabled enabled\n" if unit_listed else "")
    (tools / "systemctl").write_text("#!/bin/sh\nprintf '%s'\n" % listing)
    (tools / "systemctl").chmod(0o755)
    script = "command_exists() { return 1; }; PROJECT_DIR=%s; %s detect_mode" % (
        project, app.detect_mode_functions())
    run = subprocess.run([shutil.which("bash"), "-c", script], env={"PATH": str(tools)}, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr

    bus = tmp_path / "bus"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(bus))
        monkeypatch.setattr(_host_reading, "SYSTEM_BUS", str(bus))
        module = types.SimpleNamespace(run_command=lambda args: (0, listing, ""))
        found = _host_reading._update_mode(module, str(project / ".env"), True, True)
    assert found["mode"] == run.stdout.strip()


def test_uv_is_looked_for_where_and_in_the_order_the_apps_installer_looks(app):
    assert description.UV_CANDIDATES == app.uv_candidates()


def test_the_defaults_match_the_apps_systemd_units(app):
    units = app.units()
    for unit in DEFAULTS["server_maintanence_logrotate_reopen_units"]:
        assert unit["name"] in units
    # The units restarted after an env file change are exactly those that read it.
    assert sorted(DEFAULTS["server_maintanence_env_file_units"]) == sorted(
        name for name, unit in units.items()
        if unit.get("EnvironmentFile", "").lstrip("-") == DEFAULTS["server_maintanence_env_file"])
    for unit in units.values():
        assert unit["User"] == DEFAULTS["server_maintanence_user"]
        assert unit["Group"] == DEFAULTS["server_maintanence_group"]
        assert unit["WorkingDirectory"] == DEFAULTS["server_maintanence_project_dir"]
        assert unit["EnvironmentFile"].lstrip("-") == DEFAULTS["server_maintanence_env_file"]


def test_the_inbox_drain_ends_within_the_window_after_which_the_app_reclaims_its_runs(app):
    """A cron drain killed after its timeout and the job runner's kill grace
    is dead before the app takes a run it left PROCESSING for a crashed
    drain's; the role's window is the app's, and its default timeout fits."""
    assert description.APP_STALE_MINUTES == app.inbox_stale_minutes()
    timeout = DEFAULTS["server_maintanence_inbox_timeout"]
    assert timeout + description.KILL_GRACE_SECONDS < app.inbox_stale_minutes() * 60
    # The job runner kills with the grace the rule counts.
    runner = (ROLE / "files" / "server-maintanence-job").read_text()
    assert '"$timeout_path" -k %d "$timeout"' % description.KILL_GRACE_SECONDS in runner


def test_the_inbox_unit_the_role_knows_is_the_apps_drain(app):
    units = app.units()
    assert description.INBOX_UNIT in units
    assert "manage.py process_inbox" in units[description.INBOX_UNIT]["ExecStart"]
    assert [name for name, unit in units.items() if "process_inbox" in unit["ExecStart"]] == [description.INBOX_UNIT]


BOTH = {"cluster_role": "both", "hub_url": "https://hub.example.net:8443/", "instance_id": "web-7",
        "hub_api_key": "0123456789abcdef0123456789abcdef01234567", "api_key_auth_enabled": True,
        "hub_ssrf_allowed": True}
# The SSRF_ALLOWED_HOSTS entry the host's env file already has, which the module keeps.
FOUND_SSRF = "ollama.lan"


def test_every_key_the_role_writes_is_one_the_app_reads(app):
    assert set(env.env_lines(BOTH)) <= app.env_keys_read()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_app_reads_the_written_api_key_auth_value_as_meant(app, enabled):
    value = env.env_lines(dict(BOTH, api_key_auth_enabled=enabled))["API_KEY_AUTH_ENABLED"]
    assert app.setting_from_env("API_KEY_AUTH_ENABLED", value) is enabled


def test_the_app_reads_the_agents_values_as_meant(app):
    lines = env.with_kept_hosts(env.env_lines(BOTH), FOUND_SSRF)
    assert app.setting_from_env("HUB_URL", lines["HUB_URL"]) == BOTH["hub_url"]
    assert app.setting_from_env("INSTANCE_ID", lines["INSTANCE_ID"]) == BOTH["instance_id"]
    assert app.setting_from_env("HUB_API_KEY", lines["HUB_API_KEY"]) == BOTH["hub_api_key"]
    assert app.setting_from_env("SSRF_ALLOWED_HOSTS", lines["SSRF_ALLOWED_HOSTS"]) == ("ollama.lan", "hub.example.net")


def test_the_written_lines_read_back_the_same_by_systemds_rules():
    """The units (EnvironmentFile=) and the job runner read the file by the
    same rules: every value the role writes, as the env_file module writes it,
    comes back byte for byte."""
    lines = env.with_kept_hosts(env.env_lines(dict(BOTH, logs_dir="/srv/sm logs",
                                                   project_dir=DEFAULTS["server_maintanence_project_dir"])),
                                "a.example # ours")
    text = "".join(systemd_env.line(key, value) + "\n" for key, value in lines.items())
    assert dict(systemd_env.parse(text)) == lines


def test_logs_dir_is_passed_on_only_when_it_is_not_the_apps_default(app):
    project = DEFAULTS["server_maintanence_project_dir"]
    # BASE_DIR, the project directory (checked by setting_from_env), stands as "" here.
    assert app.setting_from_env("LOGS_DIR", None) == pathlib.PurePosixPath("logs")
    assert "LOGS_DIR" not in env.env_lines(dict(BOTH, logs_dir=project + "/logs", project_dir=project))
    assert "LOGS_DIR" not in env.env_lines(dict(BOTH, logs_dir=project + "/logs/", project_dir=project + "/"))
    lines = env.env_lines(dict(BOTH, logs_dir="/var/log/server-monitoring", project_dir=project))
    assert app.setting_from_env("LOGS_DIR", lines["LOGS_DIR"]) == pathlib.Path("/var/log/server-monitoring")
    assert set(lines) <= app.env_keys_read()
