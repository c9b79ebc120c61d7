"""module_utils/_paths.py, the mechanics of directories, files and links
(module_utils/_file_safety.py under them), on a temporary directory as the
test's user. They are driven through the managed_paths module's main(),
which hands its items to _paths.apply(); the module's own interface is
tests/unit/plugins/modules/test_managed_paths.py."""

import errno
import grp
import json
import os
import pwd
import stat

import pytest

from ...conftest import load_module, patch_module_args  # noqa: E402

managed_paths = load_module("managed_paths")
# Its mechanics, shared with the maintenance module.
from ansible_collections.server_maintanence.ops.plugins.module_utils import _paths  # noqa: E402

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(capsys, paths, check=False, diff=False):
    """Run the module; (exit code, its JSON result)."""
    args = {"paths": paths, "_ansible_check_mode": check, "_ansible_diff": diff}
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            managed_paths.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def a_file(path, content="x\n", mode="0644", **more):
    return dict({"path": str(path), "state": "file", "content": content, "owner": OWNER, "group": GROUP,
                 "mode": mode}, **more)


def a_directory(path, mode="0750"):
    return {"path": str(path), "state": "directory", "owner": OWNER, "group": GROUP, "mode": mode}


def mode_of(path):
    return "%04o" % stat.S_IMODE(os.lstat(path).st_mode)


def test_a_directory_is_made_with_its_parents_then_left_alone(tmp_path, capsys):
    wanted = tmp_path / "a" / "logs"
    code, result = run(capsys, [a_directory(wanted)])
    assert (code, result["changed"], result["changed_paths"]) == (0, True, [str(wanted)])
    assert mode_of(wanted) == "0750"
    code, result = run(capsys, [a_directory(wanted)])
    assert (code, result["changed"]) == (0, False)


def test_a_directory_with_another_mode_is_corrected(tmp_path, capsys):
    wanted = tmp_path / "logs"
    wanted.mkdir(mode=0o777)
    os.chmod(wanted, 0o777)
    code, result = run(capsys, [a_directory(wanted)], diff=True)
    assert (code, result["changed"], mode_of(wanted)) == (0, True, "0750")
    assert result["diff"][0]["before"].endswith("0777\n")
    assert result["diff"][0]["after"] == "directory %s:%s 0750\n" % (OWNER, GROUP)


def test_a_link_where_a_directory_belongs_is_refused_and_its_target_untouched(tmp_path, capsys):
    target = tmp_path / "root-only"
    target.mkdir(mode=0o700)
    os.chmod(target, 0o700)
    (tmp_path / "logs").symlink_to(target)
    later = tmp_path / "later.conf"
    code, result = run(capsys, [a_directory(tmp_path / "logs"), a_file(later)])
    assert code == 1
    assert "refusing %s: it is a link, not a directory" % (tmp_path / "logs") in result["msg"]
    assert mode_of(target) == "0700"
    assert not later.exists(), "nothing after a refusal is applied"


def test_a_file_is_written_with_its_mode_and_rewritten_only_when_it_differs(tmp_path, capsys):
    path = tmp_path / "etc" / "policy"
    code, result = run(capsys, [a_file(path, "one\n", "0640")])
    assert (code, result["changed"], path.read_text(), mode_of(path)) == (0, True, "one\n", "0640")
    assert (run(capsys, [a_file(path, "one\n", "0640")])[1]["changed"]) is False
    code, result = run(capsys, [a_file(path, "two\n", "0640")], diff=True)
    assert (code, result["changed"], path.read_text()) == (0, True, "two\n")
    assert (result["diff"][0]["before"], result["diff"][0]["after"]) == ("one\n", "two\n")
    assert [p.name for p in path.parent.iterdir()] == ["policy"], "no temporary file is left"


def test_only_the_mode_of_a_file_with_the_right_content_is_corrected(tmp_path, capsys):
    path = tmp_path / "policy"
    path.write_text("same\n")
    os.chmod(path, 0o666)
    inode = path.stat().st_ino
    code, result = run(capsys, [a_file(path, "same\n")])
    assert (code, result["changed"], mode_of(path), path.stat().st_ino) == (0, True, "0644", inode)


def test_a_file_failing_validation_leaves_the_old_one(tmp_path, capsys):
    path = tmp_path / "policy"
    path.write_text("good\n")
    code, result = run(capsys, [a_file(path, "bad\n", validate="grep -q good %s")])
    assert code == 1
    assert "fails `grep -q good %s`" in result["msg"] and "the old file is kept" in result["msg"]
    assert path.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["policy"]


def test_validation_sees_the_new_content(tmp_path, capsys):
    path = tmp_path / "policy"
    code, result = run(capsys, [a_file(path, "good\n", validate="grep -q good %s")])
    assert (code, result["changed"], path.read_text()) == (0, True, "good\n")


def test_a_link_where_a_file_belongs_is_replaced_never_written_through(tmp_path, capsys):
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    path = tmp_path / "policy"
    path.symlink_to(secret)
    code, result = run(capsys, [a_file(path, "ours\n")])
    assert (code, result["changed"]) == (0, True)
    assert not path.is_symlink() and path.read_text() == "ours\n"
    assert (secret.read_text(), mode_of(secret)) == ("root only\n", "0600")


def test_a_directory_or_fifo_where_a_file_belongs_is_refused(tmp_path, capsys):
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for name, kind in (("dir", "directory"), ("fifo", "FIFO, socket or device")):
        code, result = run(capsys, [a_file(tmp_path / name)])
        assert code == 1
        assert "it is a %s, not a file" % kind in result["msg"]
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_a_link_is_made_and_repointed(tmp_path, capsys):
    path = tmp_path / "metrics.prom"
    item = {"path": str(path), "state": "link", "src": "/var/lib/x/metrics.prom"}
    assert run(capsys, [item])[1]["changed"] is True
    assert os.readlink(path) == "/var/lib/x/metrics.prom"
    assert run(capsys, [item])[1]["changed"] is False
    code, result = run(capsys, [dict(item, src="/elsewhere")])
    assert (code, result["changed"], os.readlink(path)) == (0, True, "/elsewhere")


def test_absent_removes_files_and_links_only(tmp_path, capsys):
    target = tmp_path / "target"
    target.write_text("kept\n")
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "dir").mkdir()
    items = [{"path": str(tmp_path / name), "state": "absent"} for name in ("file", "link", "dir", "missing")]
    code, result = run(capsys, items)
    assert (code, result["changed_paths"], result["kept"]) == (
        0, [str(tmp_path / "file"), str(tmp_path / "link")], [str(tmp_path / "dir")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "target"]


def test_rmdir_keeps_a_directory_that_holds_another_programs_file(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "other.txt").write_text("theirs")
    items = [{"path": str(tmp_path / name), "state": "rmdir"} for name in ("shared", "empty")]
    for check in (True, False):
        code, result = run(capsys, items, check=check)
        assert (code, result["changed_paths"], result["kept"]) == (
            0, [str(tmp_path / "empty")], [str(tmp_path / "shared")])
    assert (tmp_path / "shared" / "other.txt").read_text() == "theirs"
    assert not (tmp_path / "empty").exists()


def test_purge_removes_the_tree_without_following_a_link_inside(tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("kept")
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "django.log").write_text("x")
    (logs / "sub" / "escape").symlink_to(outside)
    code, result = run(capsys, [{"path": str(logs), "state": "purge"}])
    assert (code, result["changed"], logs.exists()) == (0, True, False)
    assert (outside / "keep.txt").read_text() == "kept"


def test_purge_refuses_a_link_in_place_of_the_directory(tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("kept")
    (tmp_path / "logs").symlink_to(outside)
    code, result = run(capsys, [{"path": str(tmp_path / "logs"), "state": "purge", "setting": "x_logs_dir"}])
    assert code == 1 and "it is a link, not a directory" in result["msg"] and "(x_logs_dir)" in result["msg"]
    assert (outside / "keep.txt").read_text() == "kept"


def test_a_refused_file_leaves_every_file_as_it_was(tmp_path, capsys):
    """Every file's new content is staged before the first goes live."""
    (tmp_path / "first").write_text("old")
    (tmp_path / "dir").mkdir()
    code, result = run(capsys, [a_file(tmp_path / "first"), a_file(tmp_path / "dir")])
    assert (code, result["changed"], result["changed_paths"]) == (1, False, [])
    assert (tmp_path / "first").read_text() == "old" and sorted(os.listdir(tmp_path)) == ["dir", "first"]


def test_a_new_directory_appears_holding_its_creation_record(tmp_path, capsys):
    state = tmp_path / "var" / "state"
    item = dict(a_directory(state, "0775"), creation_record=".created-by-server-maintanence")

    code, result = run(capsys, [item])

    assert code == 0 and result["changed_paths"] == [str(state)]
    assert sorted(os.listdir(state)) == [".created-by-server-maintanence"] and mode_of(state) == "0775"
    record = (state / ".created-by-server-maintanence").stat()
    assert (record.st_uid, stat.S_IMODE(record.st_mode), record.st_size) == (0, 0o644, 0)
    assert sorted(os.listdir(tmp_path / "var")) == ["state"]


def test_a_leftover_of_a_run_cut_short_is_removed_and_anything_else_kept(tmp_path, capsys):
    leftover = tmp_path / "policy.server-maintanence-tmp-0123456789abcdef~"
    leftover.write_text("a whole policy\n")
    other = tmp_path / ".policy.swp"
    other.write_text("an editor's\n")

    code, result = run(capsys, [{"path": str(leftover), "state": "leftover"},
                                {"path": str(other), "state": "leftover"}])

    assert code == 0 and result["changed_paths"] == [str(leftover)] and result["kept"] == [str(other)]
    assert sorted(os.listdir(tmp_path)) == [other.name]


def test_a_full_disk_names_the_path_and_variable_and_changes_no_file(tmp_path, capsys, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("old\n")

    def full(_fd, _data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_write = os.write
    calls = []

    def full_on_the_second(fd, data):
        calls.append(fd)
        return real_write(fd, data) if len(calls) == 1 else full(fd, data)

    monkeypatch.setattr(_paths.os, "write", full_on_the_second)
    code, result = run(capsys, [a_file(first, "new\n"), a_file(second, setting="server_maintanence_x")])

    assert code == 1 and result["changed"] is False
    assert "%s (server_maintanence_x)" % second in result["msg"] and "ENOSPC" in result["msg"]
    assert first.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["first"]
