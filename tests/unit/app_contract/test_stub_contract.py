"""The molecule stand-in app keeps the real app's contract: only the commands
and options the app has, and no start without DJANGO_SECRET_KEY."""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from . import upstream_app

STUB = pathlib.Path(__file__).resolve().parents[3] / "molecule" / "resources" / "stub-app"
_spec = importlib.util.spec_from_file_location("stub_manage", STUB / "manage.py")
stub = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stub)

# Django's own commands: not in the app's tree, so the stub may declare no option of theirs.
DJANGO_COMMANDS = {"check"}
SECRET = "stub-test-secret"


@pytest.fixture(scope="module")
def app():
    return upstream_app.UpstreamApp(upstream_app.tarball())


@pytest.fixture
def project(tmp_path):
    """A copy of the stub in a directory of its own, so a .env can sit beside it."""
    shutil.copy(STUB / "manage.py", tmp_path / "manage.py")
    return tmp_path


def run_stub(project, *args, secret=SECRET):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SM_VIA": "test"}
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret
    return subprocess.run([sys.executable, str(project / "manage.py"), *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=30, check=False)


def test_each_stub_command_and_option_is_the_apps_own(app):
    commands = app.management_commands()
    for command, options in stub.COMMANDS.items():
        if command in DJANGO_COMMANDS:
            assert not options, f"{command} is Django's: its options cannot be checked against the app"
            continue
        assert command in commands, f"the app has no management command {command}"
        assert set(options) == set(options) & commands[command], \
            f"{command}: the app has no {sorted(set(options) - commands[command])}"


def test_the_stubs_update_script_options_are_the_apps_own(app):
    options = upstream_app.case_options((STUB / "bin" / "update.sh").read_text(), "stub bin/update.sh")
    assert options == {"--rollback", "--auto-env"}
    assert options <= app.script_options("bin/update.sh")


def test_the_stub_needs_what_the_app_needs_from_where_it_reads_it(app):
    assert app.required_env() == {stub.SECRET_KEY}
    assert app.dotenv_path() == stub.DOTENV


@pytest.mark.parametrize("args", [
    ["run_pipeline", "--checks-only", "--json"], ["push_to_hub"], ["process_inbox", "--limit", "100"], ["check"],
])
def test_the_stub_runs_what_it_declares_and_prints_its_line(project, args):
    result = run_stub(project, *args)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    printed = json.loads(line)
    assert list(printed) == ["stub", "args", "via", "uid", "cwd", "path", "secret_key_source"]
    assert (printed["args"], printed["via"], printed["secret_key_source"]) == (args, "test", "env")
    assert printed["cwd"] == str(project)


@pytest.mark.parametrize("args", [
    ["migrate"],                                 # unknown command
    [],                                          # no command
    ["run_pipeline", "--bogus"],                 # unknown option
    ["run_pipeline", "--checks"],                # an abbreviation is not the option
    ["push_to_hub", "--checks-only"],            # another command's option
    ["process_inbox", "--limit", "many"],        # not a number
    ["process_inbox", "--limit"],                # no value
])
def test_the_stub_refuses_anything_else_with_a_usage_error(project, args):
    result = run_stub(project, *args)
    assert result.returncode == 2, result.stdout
    assert "usage:" in result.stderr
    assert not result.stdout


@pytest.mark.parametrize("args", [["--bogus"], ["--rollback", "--check"]])
def test_the_stub_update_script_refuses_other_options(args):
    result = subprocess.run(["sh", str(STUB / "bin" / "update.sh"), *args], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2 and "usage:" in result.stderr and not result.stdout


def test_the_stub_update_script_runs_as_the_role_calls_it():
    result = subprocess.run(["sh", str(STUB / "bin" / "update.sh"), "--rollback", "--auto-env"],
                            capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    assert json.loads(result.stdout)["args"] == "--rollback --auto-env"


@pytest.mark.parametrize("secret", [None, ""])
def test_without_a_secret_key_the_stub_dies_naming_it(project, secret):
    (project / ".env").write_text("# DJANGO_SECRET_KEY=commented-out\nOTHER=1\n")
    result = run_stub(project, "check", secret=secret)
    assert result.returncode != 0 and not result.stdout
    assert "RuntimeError" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("line", [
    "DJANGO_SECRET_KEY=from-dotenv", 'DJANGO_SECRET_KEY="from-dotenv"', "DJANGO_SECRET_KEY='from-dotenv'",
    "export DJANGO_SECRET_KEY=from-dotenv # a comment",
])
def test_the_stub_reads_the_secret_key_from_the_dotenv_beside_it(project, line):
    (project / ".env").write_text("# the app's .env\n\n%s\n" % line)
    result = run_stub(project, "check", secret=None)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["secret_key_source"] == "dotenv"
    assert stub.dotenv(project / ".env")["DJANGO_SECRET_KEY"] == "from-dotenv"


def test_the_process_environment_wins_over_the_dotenv(project):
    (project / ".env").write_text("DJANGO_SECRET_KEY=from-dotenv\n")
    result = run_stub(project, "check")
    assert json.loads(result.stdout)["secret_key_source"] == "env"
