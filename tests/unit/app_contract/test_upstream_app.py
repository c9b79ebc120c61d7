"""The reader of the app's source: today's facts from the pinned tree, and a
loud failure when a file it reads changes shape (synthetic trees)."""

import io
import pathlib
import re
import tarfile
from operator import methodcaller

import pytest

from . import upstream_app

CRON_CHECK = "apps/checkers/checks.py"
PUSH = "apps/alerts/management/commands/push_to_hub.py"


@pytest.fixture(scope="module")
def app():
    return upstream_app.UpstreamApp(upstream_app.tarball())


# ------------------------------------------------------------ today's facts --

def test_the_tarball_is_found_once_and_read_from_its_top_directory(app):
    assert upstream_app.tarball() is upstream_app.tarball()
    assert "manage.py" in app.files and "config/settings.py" in app.files
    assert app.text("manage.py").startswith("#!")


def test_management_commands_and_the_options_the_role_uses(app):
    commands = app.management_commands()
    assert {"--checks-only", "--json"} <= commands["run_pipeline"]
    assert "--limit" in commands["process_inbox"]
    assert "push_to_hub" in commands
    assert not any(name.startswith("_") for name in commands)  # helpers such as _metrics_format.py
    assert all(option.startswith("-") for options in commands.values() for option in options)


def test_the_crontab_check_looks_for_the_tag_and_the_health_command(app):
    markers = app.crontab_markers()
    assert markers[0] == "server-maintanence"
    assert {"run_pipeline", "--checks-only"} <= set(markers)
    ids = app.crontab_warning_ids()
    assert {"checkers.W004", "checkers.W005"} <= set(ids)
    assert all(i.startswith("checkers.W") for i in ids)


def test_the_installers_lines(app):
    lines = app.installer_lines()
    assert set(lines) == {"health check", "auto-update", "cluster push"}
    assert "manage.py run_pipeline --checks-only --json >> " in lines["health check"]
    assert lines["health check"].startswith("cd $PROJECT_DIR && ")
    assert "manage.py push_to_hub >> " in lines["cluster push"]
    assert "update.sh --rollback --auto-env >> " in lines["auto-update"]


@pytest.mark.parametrize("key, value, expected", [
    ("API_KEY_AUTH_ENABLED", "1", True),
    ("API_KEY_AUTH_ENABLED", "true", False),  # only "1" turns it on
    ("API_KEY_AUTH_ENABLED", None, True),
    ("SSRF_ALLOWED_HOSTS", "a, b", ("a", "b")),
    ("SSRF_ALLOWED_HOSTS", None, ()),
    ("DJANGO_ALLOWED_HOSTS", " a,,b ", ["a", "b"]),  # followed through _allowed_hosts
    ("HUB_URL", "https://hub.example", "https://hub.example"),
    ("HUB_URL", None, ""),
    ("DJANGO_SECRET_KEY", None, None),
    ("LOGS_DIR", None, pathlib.PurePosixPath("logs")),  # relative to the project directory
    ("LOGS_DIR", "/var/log/sm", pathlib.PurePosixPath("/var/log/sm")),
])
def test_settings_read_from_the_environment(app, key, value, expected):
    assert app.setting_from_env(key, value) == expected


def test_a_key_settings_never_reads_is_a_key_error(app):
    with pytest.raises(KeyError):
        app.setting_from_env("NO_SUCH_SETTING", "1")


def test_env_keys_and_the_one_the_app_cannot_start_without(app):
    assert {"DJANGO_SECRET_KEY", "HUB_URL", "HUB_API_KEY", "INSTANCE_ID", "API_KEY_AUTH_ENABLED",
            "LOGS_DIR"} <= app.env_keys_read()
    assert app.required_env() == {"DJANGO_SECRET_KEY"}
    assert app.dotenv_path() == ".env"


def test_systemd_units(app):
    units = app.units()
    assert set(units) == {"server-monitoring.service", "server-monitoring-inbox.service"}
    for unit in units.values():
        assert unit["EnvironmentFile"] == "/etc/server-monitoring/env"
        assert unit["WorkingDirectory"] == "/opt/server-monitoring"
    inbox = units["server-monitoring-inbox.service"]["ExecStart"]
    assert "manage.py process_inbox --loop" in inbox and "\\" not in inbox


def test_uv_search_order(app):
    candidates = app.uv_candidates()
    assert candidates[0] == "~/.local/bin/uv"
    assert "/usr/local/bin/uv" in candidates
    assert all(c.endswith("/uv") for c in candidates)


def test_update_script_options(app):
    assert {"--rollback", "--auto-env", "--check"} <= app.script_options("bin/update.sh")


# ------------------------------------------------ changes upstream, synthetic --

def rebuilt(app, tmp_path, changes):
    """The pinned tree with files edited ({path: (old, new)}) or removed ({path: None}), as an UpstreamApp."""
    path = tmp_path / "app.tar"
    with tarfile.open(path, "w") as tar:
        for rel, data in app.files.items():
            if rel in changes and changes[rel] is None:
                continue
            if rel in changes:
                old, new = changes[rel]
                assert old in data.decode(), f"the pinned {rel} no longer holds {old!r}: update this test"
                data = data.decode().replace(old, new).encode()
            member = tarfile.TarInfo("server-monitoring-test/" + rel)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return upstream_app.UpstreamApp(path)


def test_a_crontab_check_that_stops_requiring_run_pipeline_drops_the_marker(app, tmp_path):
    changed = rebuilt(app, tmp_path, {CRON_CHECK: ('"run_pipeline" in crontab_content and ', "")})
    assert "run_pipeline" not in changed.crontab_markers()
    assert "--checks-only" in changed.crontab_markers()


@pytest.mark.parametrize("old, new, says", [
    ("crontab_content = result.stdout", "crontab_content = parse_crontab(result.stdout)", "found []"),
    ('"run_pipeline" in crontab_content', 'settings.CRON_COMMAND in crontab_content', "not a string literal"),
    ('@register("crontab")\ndef check_crontab_configuration', "def check_crontab_configuration", "found []"),
    ('["crontab", "-l"],', '["crontab", "-u", "www-data", "-l"],', "no longer runs ['crontab', '-l']"),
])
def test_a_reshaped_crontab_check_raises(app, tmp_path, old, new, says):
    changed = rebuilt(app, tmp_path, {CRON_CHECK: (old, new)})
    with pytest.raises(AssertionError, match=re.escape(says)):
        changed.crontab_markers()


def test_a_case_insensitive_crontab_check_still_yields_its_markers(app, tmp_path):
    changed = rebuilt(app, tmp_path, {CRON_CHECK: ("if cron_identifier not in crontab_content",
                                                   "if cron_identifier not in result.stdout.lower()")})
    assert changed.crontab_markers() == app.crontab_markers()


def test_a_removed_command_file_is_gone_from_the_commands(app, tmp_path):
    changed = rebuilt(app, tmp_path, {PUSH: None})
    assert "push_to_hub" not in changed.management_commands()
    with pytest.raises(AssertionError, match="no longer has " + PUSH):
        changed.text(PUSH)


CRON_SH, UNIT = "bin/install/cron.sh", "deploy/systemd/server-monitoring.service"


@pytest.mark.parametrize("rel, old, new, call, says", [
    (PUSH, "class Command(", "class PushCommand(", methodcaller("management_commands"), "one class Command"),
    (PUSH, '"--dry-run",', "DRY_RUN,", methodcaller("management_commands"), "computed name"),
    (CRON_SH, 'PUSH_ID="', 'PUSH_TAG="', methodcaller("installer_lines"), "no longer pair up"),
    (CRON_SH, "# server-maintanence cluster push", "# sm cluster push", methodcaller("installer_lines"),
     "not '# server-maintanence <tag>'"),
    (UNIT, "EnvironmentFile=", "#EnvironmentFile=", methodcaller("units"), "no longer sets ['EnvironmentFile']"),
    ("bin/lib/paths.sh", "resolve_uv() {", "find_uv() {", methodcaller("uv_candidates"), "defines resolve_uv()"),
    ("bin/update.sh", "case $1 in", "case $opt in", methodcaller("script_options", "bin/update.sh"),
     "no `case` over its arguments"),
    ("config/env.py", "load_dotenv(env_path, override=False)", "load_dotenv(env_path, override=True)",
     methodcaller("dotenv_path"), "overrides the process environment"),
])
def test_a_reshaped_file_raises_saying_what_changed(app, tmp_path, rel, old, new, call, says):
    changed = rebuilt(app, tmp_path, {rel: (old, new)})
    with pytest.raises(AssertionError, match=re.escape(says)):
        call(changed)


@pytest.mark.parametrize("old, new, says", [
    ('os.environ.get("API_KEY_AUTH_ENABLED", "1")', 'os.environ.get("API_KEY_AUTH_" + "ENABLED", "1")',
     "computed key"),
    ('API_KEY_AUTH_ENABLED = os.environ.get("API_KEY_AUTH_ENABLED", "1") == "1"',
     'API_KEY_AUTH_ENABLED = strtobool(os.environ.get("API_KEY_AUTH_ENABLED", "1"))', "needs strtobool"),
])
def test_a_reshaped_setting_raises(app, tmp_path, old, new, says):
    changed = rebuilt(app, tmp_path, {"config/settings.py": (old, new)})
    with pytest.raises(AssertionError, match=says):
        changed.setting_from_env("API_KEY_AUTH_ENABLED", "1")


def test_a_tarball_with_two_top_directories_is_refused(tmp_path):
    path = tmp_path / "two.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ("a/manage.py", "b/manage.py"):
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    with pytest.raises(AssertionError, match="one top directory"):
        upstream_app.UpstreamApp(path)
