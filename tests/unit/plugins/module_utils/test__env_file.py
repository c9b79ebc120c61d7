"""module_utils/_env_file.py: the keys of the app's env file the role keeps
(without a host), and the edit of the file on a temporary directory as the
test's user: written whole, never through a link, as systemd reads it. The
edit is driven through the env_file module's main(), which hands its
arguments to _env_file.apply(); the module's own interface is
tests/unit/plugins/modules/test_env_file.py."""

import errno
import grp
import json
import os
import stat

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file as env
# The same module, named apart from the `env` fixture (a path) of the tests that edit a file.
from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file as env_utils
from ansible_collections.server_maintanence.ops.plugins.module_utils._systemd_env import parse

from ...conftest import load_module, patch_module_args

env_file = load_module("env_file")

CLUSTER = {"cluster_role": "standalone", "hub_url": "http://hub.internal:8000", "instance_id": "web1",
           "hub_api_key": None, "api_key_auth_enabled": True, "hub_ssrf_allowed": True}


def test_a_standalone_host_gets_no_env_lines():
    assert env.env_lines(CLUSTER) == {}


@pytest.mark.parametrize("enabled, value", [(True, "1"), (False, "0")])
def test_a_hub_gets_api_key_auth_as_one_or_zero(enabled, value):
    assert env.env_lines(dict(CLUSTER, cluster_role="hub", api_key_auth_enabled=enabled)) == {
        "API_KEY_AUTH_ENABLED": value}


def test_an_agent_gets_its_hub_its_id_its_key_and_the_hub_allowed():
    lines = env.env_lines(dict(CLUSTER, cluster_role="agent", hub_api_key="k-1"))
    assert lines == {"HUB_URL": "http://hub.internal:8000", "INSTANCE_ID": "web1", "HUB_API_KEY": "k-1",
                     "SSRF_ALLOWED_HOSTS": "hub.internal"}


def test_the_hub_is_added_to_the_allowed_hosts_once_and_the_others_kept():
    agent = dict(CLUSTER, cluster_role="agent", hub_url="https://Hub.Internal/")
    assert env.with_kept_hosts(env.env_lines(agent), "ollama.lan, 10.0.1.5")[
        "SSRF_ALLOWED_HOSTS"] == "ollama.lan,10.0.1.5,hub.internal"
    assert env.with_kept_hosts(env.env_lines(agent), "hub.internal,x")["SSRF_ALLOWED_HOSTS"] == "hub.internal,x"


def test_values_without_ssrf_allowed_hosts_are_kept_as_they_are():
    assert env.with_kept_hosts({"HUB_URL": "https://hub.internal"}, "ollama.lan") == {
        "HUB_URL": "https://hub.internal"}


def test_an_agent_without_a_key_or_the_ssrf_opt_in_gets_neither_line():
    lines = env.env_lines(dict(CLUSTER, cluster_role="agent", hub_ssrf_allowed=False))
    assert set(lines) == {"HUB_URL", "INSTANCE_ID"}


def test_both_gets_the_agent_and_the_hub_lines():
    lines = env.env_lines(dict(CLUSTER, cluster_role="both", hub_api_key="k"))
    assert set(lines) == {"HUB_URL", "INSTANCE_ID", "HUB_API_KEY", "SSRF_ALLOWED_HOSTS", "API_KEY_AUTH_ENABLED"}


@pytest.mark.parametrize("hub_url", [None, "", "http://[", "https://@", 5])
def test_a_bad_hub_url_never_raises(hub_url):
    """env_lines never raises on a bad hub URL: the input check is what names it."""
    if isinstance(hub_url, int):
        hub_url = str(hub_url)
    assert "HUB_URL" in env.env_lines(dict(CLUSTER, cluster_role="agent", hub_url=hub_url))


# editing the file -----------------------------------------------------------

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


@pytest.fixture(name="env")
def env_path(tmp_path):
    path = tmp_path / "env"
    path.write_text(EXISTING)
    path.chmod(0o644)
    return path


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
