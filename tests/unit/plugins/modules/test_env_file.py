"""The env_file module (deprecated): its arguments and the result it
returns, on a temporary directory as the test's user. How it edits the file
is _env_file.py's, tested in tests/unit/plugins/module_utils/test__env_file.py
through this module."""

import os
import pwd
import stat

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils._systemd_env import parse

from ..module_utils.test__env_file import EXISTING, SECRET, env_path, run  # noqa: F401  pylint: disable=unused-import


def test_sets_a_key_on_its_line_and_appends_a_new_one_keeping_every_other_byte(capsys, env):
    code, result, out = run(capsys, path=str(env), values={"HUB_URL": "https://hub.example", "HUB_API_KEY": SECRET})

    assert code == 0 and result["changed"] is True and result["changed_keys"] == ["HUB_API_KEY", "HUB_URL"]
    text = env.read_text()
    assert text == EXISTING.replace("HUB_URL=http://old.example", "HUB_URL=https://hub.example") + (
        '\nHUB_API_KEY="k\\$x(9&a)*b^c#d s3cret"\n')
    assert dict(parse(text))["HUB_API_KEY"] == SECRET
    assert SECRET not in out


def test_a_value_that_needs_quotes_reads_back_the_same(capsys, env):
    hosts = "a.example # ours,hub.internal"
    run(capsys, path=str(env), values={"SSRF_ALLOWED_HOSTS": hosts})

    assert dict(parse(env.read_text()))["SSRF_ALLOWED_HOSTS"] == hosts
    assert 'SSRF_ALLOWED_HOSTS="a.example # ours,hub.internal"\n' in env.read_text()


def test_second_run_changes_nothing(capsys, env):
    values = {"HUB_URL": "https://hub.example", "HUB_API_KEY": SECRET}
    run(capsys, path=str(env), values=values)
    inode = env.stat().st_ino

    code, result, _out = run(capsys, path=str(env), values=values)

    assert code == 0 and result["changed"] is False and result["changed_keys"] == []
    assert env.stat().st_ino == inode


def test_the_mode_and_owner_given_are_the_files(capsys, env):
    values = {"HUB_URL": "https://hub.example"}
    owner = pwd.getpwuid(os.getuid()).pw_name
    code, result, _out = run(capsys, path=str(env), values=values, mode="0600", owner=owner)

    assert code == 0 and result["changed"] is True
    assert stat.S_IMODE(env.stat().st_mode) == 0o600 and env.stat().st_uid == os.getuid()
    assert run(capsys, path=str(env), values=values, mode="0600", owner=owner)[1]["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"mode": "0644"}, "mode 0644 of "),
    ({"mode": "rw"}, "mode rw of "),
    ({"owner": "no-such-user-here"}, "owner no-such-user-here does not exist"),
])
def test_a_mode_open_to_others_or_an_unknown_owner_is_refused(capsys, env, args, message):
    before = env.read_bytes()
    code, result, _out = run(capsys, path=str(env), values={"HUB_URL": "https://hub.example"}, **args)

    assert code == 1 and message in result["msg"]
    assert env.read_bytes() == before


def test_check_mode_reports_the_change_and_writes_nothing(capsys, env):
    before = env.read_bytes()

    code, result, _out = run(capsys, path=str(env), values={"HUB_URL": "https://hub.example"},
                             _ansible_check_mode=True)

    assert code == 0 and result["changed"] is True and result["changed_keys"] == ["HUB_URL"]
    assert env.read_bytes() == before and stat.S_IMODE(env.stat().st_mode) == 0o644


def test_check_mode_on_a_missing_file_creates_nothing(capsys, tmp_path):
    code, result, _out = run(capsys, path=str(tmp_path / "env"), values={"A": "1"}, _ansible_check_mode=True)

    assert code == 0 and result["changed"] is True and not (tmp_path / "env").exists()


def test_diff_names_keys_and_never_a_value(capsys, env):
    code, result, out = run(capsys, path=str(env), values={"HUB_URL": "https://hub.example", "HUB_API_KEY": SECRET},
                            _ansible_diff=True, _ansible_check_mode=True)

    assert code == 0
    diff = result["diff"]
    assert "HUB_API_KEY (value not shown, changed)" in diff["after"]
    assert "HUB_URL (value not shown)" in diff["before"]
    for value in (SECRET, "https://hub.example", "http://old.example", "q$w(e&r)t*y", "a.example"):
        assert value not in out


def test_an_invalid_key_is_refused_without_its_value(capsys, env):
    code, result, out = run(capsys, path=str(env), values={"BAD-KEY": SECRET})

    assert code == 1 and "BAD-KEY" in result["msg"] and SECRET not in out


def test_values_are_not_in_the_invocation(capsys, env):
    """Cores up to 2.20 echo the arguments back (values masked); 2.21 no longer does."""
    _code, result, out = run(capsys, path=str(env), values={"HUB_API_KEY": SECRET})

    echoed = result.get("invocation", {}).get("module_args", {})
    assert echoed.get("values", {"HUB_API_KEY": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}) == {
        "HUB_API_KEY": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}
    assert SECRET not in out
