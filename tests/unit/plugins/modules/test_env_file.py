"""The env_file module on a temporary directory (as the test's user, not root)."""

import errno
import grp
import importlib.util
import json
import os
import pwd
import pathlib
import stat

import pytest

# The shared loader, by file path: plain pytest and ansible-test units import tests differently.
_spec = importlib.util.spec_from_file_location("module_loading", pathlib.Path(__file__).with_name("module_loading.py"))
module_loading = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(module_loading)
load_module, patch_module_args = module_loading.load_module, module_loading.patch_module_args

env_file = load_module("env_file")
# Its mechanics, shared with the maintenance module.
from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file as env_utils  # noqa: E402
from ansible_collections.server_maintanence.ops.plugins.module_utils._systemd_env import parse  # noqa: E402

GROUP = grp.getgrgid(os.getgid()).gr_name
SECRET = "k$x(9&a)*b^c#d s3cret"
EXISTING = (
    "# operator's comment, kept\n"
    "DJANGO_SECRET_KEY=q$w(e&r)t*y\n"
    "HUB_URL=http://old.example\n"
    "SSRF_ALLOWED_HOSTS=a.example # ours\n"
    "   ODD =  spacing kept  \\\n"
    "  continued\n"
    "; last comment")


def run(capsys, **args):
    """Run the module; (exit code, its JSON result, everything it printed)."""
    args.setdefault("group", GROUP)
    args.setdefault("setting", "server_maintanence_env_file")
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            env_file.main()
    out = capsys.readouterr().out
    return exited.value.code, json.loads(out), out


@pytest.fixture
def env(tmp_path):
    path = tmp_path / "env"
    path.write_text(EXISTING)
    path.chmod(0o644)
    return path


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


def test_the_file_is_0640_with_the_group_and_a_new_inode(capsys, env):
    inode = env.stat().st_ino

    run(capsys, path=str(env), values={"HUB_URL": "https://hub.example"})

    found = env.stat()
    assert stat.S_IMODE(found.st_mode) == 0o640 and found.st_gid == os.getgid()
    assert found.st_ino != inode
    assert sorted(p.name for p in env.parent.iterdir()) == ["env"]  # no temporary file left


def test_a_wrong_mode_alone_is_a_change(capsys, env):
    values = {"HUB_URL": "https://hub.example"}
    run(capsys, path=str(env), values=values)
    env.chmod(0o644)

    code, result, _out = run(capsys, path=str(env), values=values)

    assert code == 0 and result["changed"] is True and result["changed_keys"] == []
    assert stat.S_IMODE(env.stat().st_mode) == 0o640


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


def test_a_new_file_is_0640_from_its_first_byte(capsys, tmp_path, monkeypatch):
    path = tmp_path / "env"
    seen = []
    real_write = os.write

    def watching_write(fd, data):
        # Every byte goes into a file already 0640, never to the final path.
        info = os.fstat(fd)
        seen.append((stat.S_IMODE(info.st_mode), info.st_gid, path.exists()))
        return real_write(fd, data)

    monkeypatch.setattr(env_utils.os, "write", watching_write)
    old_umask = os.umask(0)  # the mode comes from the module, not a umask
    try:
        code, result, _out = run(capsys, path=str(path), values={"INSTANCE_ID": "web-1"})
    finally:
        os.umask(old_umask)

    assert code == 0 and result["changed"] is True
    assert seen and all(entry == (0o640, os.getgid(), False) for entry in seen)
    assert path.read_text() == "INSTANCE_ID=web-1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


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


@pytest.mark.parametrize("plant", ["symlink", "fifo", "directory"])
def test_a_link_or_other_file_type_is_refused_and_nothing_written(capsys, tmp_path, plant):
    target = tmp_path / "root-only"
    target.write_text("untouched\n")
    path = tmp_path / "env"
    if plant == "symlink":
        path.symlink_to(target)
    elif plant == "fifo":
        os.mkfifo(str(path))
    else:
        path.mkdir()
    listing = sorted(p.name for p in tmp_path.iterdir())

    code, result, out = run(capsys, path=str(path), values={"HUB_API_KEY": SECRET})

    assert code == 1 and result["failed"] is True
    assert str(path) in result["msg"] and "server_maintanence_env_file" in result["msg"]
    assert "nothing was written" in result["msg"]
    assert target.read_text() == "untouched\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == listing
    assert SECRET not in out


def test_a_link_planted_at_the_temporary_name_is_not_followed(capsys, env, tmp_path, monkeypatch):
    """In an app-writable directory the app user may plant the next temporary
    name (here it is told it): the module never writes through it."""
    target = tmp_path / "elsewhere"
    target.write_text("untouched\n")
    monkeypatch.setattr(env_utils.safety.os, "urandom", lambda size: b"\x42" * size)
    planted = tmp_path / env_utils.safety.temporary_name("env")
    planted.symlink_to(target)
    before = env.read_bytes()

    code, result, _out = run(capsys, path=str(env), values={"HUB_URL": "https://hub.example"})

    assert code == 1 and str(env) in result["msg"] and "left as it was" in result["msg"]
    assert target.read_text() == "untouched\n" and planted.is_symlink() and env.read_bytes() == before


def test_a_missing_directory_is_created_as_the_apps_guide_does(capsys, tmp_path):
    path = tmp_path / "etc" / "server-monitoring" / "env"

    code, result, _out = run(capsys, path=str(path), values={"INSTANCE_ID": "web-1"})

    assert code == 0 and result["changed"] is True and path.read_text() == "INSTANCE_ID=web-1\n"
    info = path.parent.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o755)


def test_a_full_disk_names_the_file_and_its_variable_and_keeps_the_file(capsys, env, monkeypatch):
    before = env.read_bytes()

    def full(_fd, _data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(env_utils.os, "write", full)
    code, result, _out = run(capsys, path=str(env), values={"HUB_URL": "https://hub.example"})

    assert code == 1 and "%s (server_maintanence_env_file)" % env in result["msg"] and "ENOSPC" in result["msg"]
    assert env.read_bytes() == before and sorted(os.listdir(env.parent)) == ["env"]


def test_a_file_ending_inside_quotes_is_refused(capsys, tmp_path):
    path = tmp_path / "env"
    path.write_text("A='open quote\n")
    before = path.read_bytes()

    code, result, _out = run(capsys, path=str(path), values={"B": "1"})

    assert code == 1 and "other lines" in result["msg"] and path.read_bytes() == before


@pytest.mark.parametrize("data, line, reason", [
    (b"A=1\nOLD=caf\xe9-s3cret\n", 2, "a value that is not UTF-8"),
    (b"A=1\n\n# \x00\n", 3, "a NUL byte"),
    ("A=1\nK\ufffe=s3cret\n".encode(), 2, "a Unicode non-character in a key"),
])
def test_a_file_systemd_refuses_is_not_rewritten_and_its_line_is_named(capsys, tmp_path, data, line, reason):
    path = tmp_path / "env"
    path.write_bytes(data)

    # (a value such as "1" would be masked wherever it appears, the path too)
    code, result, out = run(capsys, path=str(path), values={"B": "value-b"})

    assert code == 1 and path.read_bytes() == data
    assert result["msg"] == ("refusing %s (server_maintanence_env_file): line %d: systemd refuses the whole file "
                             "(%s), so its units do not start; fix that line; nothing was written"
                             % (path, line, reason))
    assert "s3cret" not in out


def test_the_file_is_edited_by_the_hosts_systemd_rules(capsys, tmp_path, monkeypatch):
    """Before v254 a comment ending in a backslash hides the next line: B is appended, not edited."""
    path = tmp_path / "env"
    path.write_text("# note \\\nB=old\n")
    monkeypatch.setattr(env_utils, "host_systemd", lambda: 252)

    code, _result, _out = run(capsys, path=str(path), values={"B": "new"})

    assert code == 0 and path.read_text() == "# note \\\nB=old\nB=new\n"
    assert dict(parse(path.read_text(), 252)) == {"B": "new"}


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
