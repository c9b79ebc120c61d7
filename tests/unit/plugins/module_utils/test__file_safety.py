"""plugins/module_utils/_file_safety.py: no link followed, nothing blocks,
every write whole or not at all, leftovers recognised and removed, and every
failure naming its path and variable."""

import errno
import fcntl
import os
import pathlib
import stat

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety

UID, GID = os.getuid(), os.getgid()


def entries(directory):
    return sorted(os.listdir(directory))


def test_a_temporary_name_is_hidden_taboo_for_logrotate_and_recognised_as_a_leftover():
    name = safety.temporary_name("server-maintanence")
    # logrotate matches "*~" with FNM_PERIOD: a leading dot would make it read the file.
    assert name.startswith("server-maintanence.") and name.endswith("~")
    assert safety.LEFTOVER.match(name) and name != safety.temporary_name("server-maintanence")
    # run-parts (and cron's /etc/cron.d) run only names of [A-Za-z0-9_-]: a dot or a ~ excludes it.
    assert not set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    assert safety.temporary_name(".env").startswith("env.")
    for other in (".server-maintanence.swp", "server-maintanence", ".env.1234.0.tmp", "x.server-maintanence-tmp-1~",
                  ".x.server-maintanence-tmp-0123456789abcdef~"):
        assert not safety.LEFTOVER.match(other)


def test_write_file_replaces_the_file_whole_with_owner_and_mode_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "policy"
    target.write_text("old\n")
    safety.write_file(str(target), b"new\n", UID, GID, 0o640)
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert entries(tmp_path) == ["policy"]


def test_the_new_file_has_its_mode_before_its_first_byte(tmp_path, monkeypatch):
    modes = []
    real_write = os.write

    def spying_write(descriptor, data):
        modes.append(stat.S_IMODE(os.fstat(descriptor).st_mode))
        return real_write(descriptor, data)

    monkeypatch.setattr(safety.os, "write", spying_write)
    safety.write_file(str(tmp_path / "env"), b"KEY=value\n", UID, GID, 0o600)
    assert modes == [0o600]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_a_failed_write_names_the_path_the_variable_and_the_cause_and_keeps_the_old_file(tmp_path, monkeypatch, code):
    target = tmp_path / "policy"
    target.write_text("old\n")

    def failing_write(_descriptor, _data):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(safety.os, "write", failing_write)
    with pytest.raises(safety.Refused) as refused:
        safety.write_file(str(target), b"new\n", UID, GID, 0o644, setting="server_maintanence_x")
    message = str(refused.value)
    assert str(target) in message and "(server_maintanence_x)" in message and errno.errorcode[code] in message
    assert "left as it was" in message
    assert target.read_text() == "old\n" and entries(tmp_path) == ["policy"]


def test_a_failed_rename_keeps_the_old_file_and_removes_the_new_one(tmp_path, monkeypatch):
    target = tmp_path / "runner"
    target.write_text("old\n")

    def failing_rename(*_args, **_kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(safety.os, "rename", failing_rename)
    with pytest.raises(safety.Refused, match="EROFS"):
        safety.write_file(str(target), b"new\n", UID, GID, 0o755)
    assert target.read_text() == "old\n" and entries(tmp_path) == ["runner"]


def test_write_file_through_a_directory_descriptor(tmp_path):
    descriptor = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        safety.write_file(str(tmp_path / "env"), b"A=1\n", UID, GID, 0o640, dir_fd=descriptor)
    finally:
        os.close(descriptor)
    assert (tmp_path / "env").read_text() == "A=1\n" and entries(tmp_path) == ["env"]


def test_a_link_in_place_of_the_file_is_replaced_never_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("root secret\n")
    (tmp_path / "policy").symlink_to(outside)
    safety.write_file(str(tmp_path / "policy"), b"new\n", UID, GID, 0o644)
    assert outside.read_text() == "root secret\n" and not (tmp_path / "policy").is_symlink()


def test_read_regular_never_follows_a_link_nor_blocks_on_a_fifo(tmp_path):
    (tmp_path / "file").write_bytes(b"content")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    os.mkfifo(str(tmp_path / "fifo"))
    (tmp_path / "big").write_bytes(b"x" * 101)
    assert safety.read_regular(str(tmp_path / "file"), 100)[0] == b"content"
    for name, kind in (("link", "link"), ("fifo", "FIFO, socket or device"), ("big", "file")):
        content, info = safety.read_regular(str(tmp_path / name), 100)
        assert content is None and safety.kind(info) == kind, name
    assert safety.read_regular(str(tmp_path / "missing"), 100) == (None, None)


def test_a_directory_appears_with_its_record_already_inside(tmp_path):
    state = tmp_path / "state"
    safety.make_directory(str(state), UID, GID, 0o775, {"name": ".created", "uid": UID, "gid": GID, "mode": 0o644})
    assert entries(state) == [".created"] and stat.S_IMODE(state.stat().st_mode) == 0o775
    assert entries(tmp_path) == ["state"]


def test_a_directory_made_meanwhile_is_kept_without_a_record(tmp_path, monkeypatch):
    state = tmp_path / "state"
    real_rename = os.rename

    def racing_rename(source, target, *args, **kwargs):
        if target == str(state):
            os.mkdir(target)
            (pathlib.Path(target) / "theirs").write_text("kept")
        return real_rename(source, target, *args, **kwargs)

    monkeypatch.setattr(safety.os, "rename", racing_rename)
    safety.make_directory(str(state), UID, GID, 0o750, {"name": ".created", "uid": UID, "gid": GID, "mode": 0o644})
    assert entries(state) == ["theirs"] and stat.S_IMODE(state.stat().st_mode) == 0o750
    assert entries(tmp_path) == ["state"]


def test_leftovers_are_root_owned_temporary_names_only_and_removed_without_following_links(tmp_path):
    """What a run killed mid-write leaves: a staged file, a link, a directory with its record."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("kept")
    etc = tmp_path / "etc"
    etc.mkdir()
    staged = etc / safety.temporary_name("policy")
    staged.write_text("whole policy\n")
    link = etc / safety.temporary_name("metrics")
    link.symlink_to(outside)
    made = etc / safety.temporary_name("state")
    made.mkdir()
    (made / ".created").write_text("")
    foreign = etc / safety.temporary_name("planted")
    foreign.write_text("the app user's")
    os.chown(str(foreign), 65534, 65534)
    (etc / "policy").write_text("live\n")

    found = safety.leftovers([str(etc), str(etc), str(tmp_path / "missing")])

    assert sorted(found) == sorted([(str(staged), "file"), (str(link), "link"), (str(made), "directory")])
    for path, _kind in found:
        assert safety.remove_leftover(path)
    assert entries(etc) == sorted([foreign.name, "policy"]) and (outside / "keep").read_text() == "kept"
    assert not safety.remove_leftover(str(foreign)) and foreign.exists()
    assert not safety.remove_leftover(str(etc / "policy")) and (etc / "policy").exists()


def test_a_leftover_directory_holding_anything_else_is_kept(tmp_path):
    made = tmp_path / safety.temporary_name("state")
    made.mkdir()
    (made / "job.state").write_text("")
    os.chown(str(made / "job.state"), 65534, 65534)
    assert not safety.remove_leftover(str(made)) and (made / "job.state").exists()


def test_a_private_copy_is_root_only_and_complete(tmp_path):
    path = safety.private_copy(b"line\n" * 1000, str(tmp_path))
    assert pathlib.Path(path).read_bytes() == b"line\n" * 1000
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and safety.LEFTOVER.match(os.path.basename(path))
    assert safety.remove_leftover(path) and entries(tmp_path) == []


def test_a_path_under_a_file_is_missing_not_an_error(tmp_path):
    (tmp_path / "file").write_text("")
    assert safety.lstat(str(tmp_path / "file" / "env")) is None
    assert safety.read_regular(str(tmp_path / "file" / "env"), 100) == (None, None)


def runners_directory(tmp_path):
    """A state directory as the job runner leaves it: its write lock, a
    record, and the temporary file of a records writer (the app user's)."""
    state = tmp_path / "state"
    state.mkdir()
    (state / safety.WRITE_LOCK).write_text("")
    (state / "health.state").write_text("name=health\n")
    left = state / safety.temporary_name("health.state")
    left.write_text("name=health\n")
    os.chown(str(left), 65534, 65534)
    return state, left


def test_the_job_records_writer_names_its_temporary_files_in_the_one_pattern(tmp_path, monkeypatch):
    from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records
    assert safety.LEFTOVER is job_records.LEFTOVER and safety.temporary_name is job_records.temporary_name
    renamed = []
    real_rename = os.rename
    monkeypatch.setattr(job_records.os, "rename", lambda source, target: renamed.append(source) or real_rename(
        source, target))
    job_records.replace(str(tmp_path / "health.state"), "name=health\n")
    [temporary] = renamed
    assert os.path.dirname(temporary) == str(tmp_path) and safety.LEFTOVER.match(os.path.basename(temporary))
    assert entries(tmp_path) == ["health.state"]


def test_in_the_runners_directory_a_dead_writers_file_is_swept_whoever_owns_it(tmp_path):
    state, left = runners_directory(tmp_path)
    assert safety.leftovers([str(state)]) == [(str(left), "file")]
    assert safety.remove_leftover(str(left))
    assert entries(state) == [safety.WRITE_LOCK, "health.state"]


def test_in_the_runners_directory_nothing_is_swept_while_a_writer_holds_the_lock(tmp_path):
    state, left = runners_directory(tmp_path)
    holder = os.open(str(state / safety.WRITE_LOCK), os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another open file: the sweep's own lock cannot be taken
        assert safety.leftovers([str(state)]) == []
        assert not safety.remove_leftover(str(left)) and left.exists()
    finally:
        os.close(holder)
    assert safety.remove_leftover(str(left)) and not left.exists()


def test_the_sweep_follows_no_link_the_app_user_plants(tmp_path):
    """In the directory the app user writes: a link under a temporary name
    is not the runner's (it writes files), a link in place of the write lock
    or of the directory itself stops the sweep there."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "health.state.server-maintanence-tmp-0123456789abcdef~"
    target.write_text("root's, elsewhere\n")
    state, left = runners_directory(tmp_path)
    planted = state / target.name
    planted.symlink_to(target)
    os.lchown(str(planted), 65534, 65534)
    assert safety.leftovers([str(state)]) == [(str(left), "file")]
    assert not safety.remove_leftover(str(planted)) and planted.is_symlink()

    (state / safety.WRITE_LOCK).unlink()
    (state / safety.WRITE_LOCK).symlink_to(outside / "lock")
    (outside / "lock").write_text("")
    assert safety.leftovers([str(state)]) == [] and not safety.remove_leftover(str(left))

    linked = tmp_path / "linked"
    linked.symlink_to(outside)
    assert safety.leftovers([str(linked)]) == []
    assert not safety.remove_leftover(str(linked / target.name))
    assert target.read_text() == "root's, elsewhere\n" and left.exists()
