# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""How the collection's modules touch paths on a host where the app user
writes. Private to the collection (the leading underscore): not an interface.

- Nothing is followed through a link: the last component is lstat'ed and
  opened with O_NOFOLLOW, and nothing blocks on a FIFO (O_NONBLOCK).
- A file is written whole or not at all: a new file under a temporary name
  beside the target, its owner and mode set before the first byte, fsynced,
  renamed over the target, and the directory fsynced. A run killed at any
  instant leaves the old file or the new one, plus at most a leftover under
  the temporary name, which the next run removes.
- A temporary name is one that no reader of the directory takes for
  configuration: it holds a dot, so run-parts and cron (/etc/cron.d) skip
  it (they run only names of [A-Za-z0-9_-]), and it ends in "~", in
  logrotate's default taboo list (config.c, defTabooExts), so logrotate
  skips it in /etc/logrotate.d. It does not start with a dot: logrotate
  matches its taboo patterns with FNM_PERIOD, so "*~" never matches a
  name with a leading dot, and it reads such a file as a policy. The
  pattern lives in _job_records.py, which the job runner writes its
  records with under the same names, and which runs without Ansible.
- The sweep of leftovers never follows a link: each directory is opened
  with O_NOFOLLOW and everything in it is lstat'ed, opened and unlinked
  through that descriptor. In the job runner's state directory (the one
  holding its write lock) it sweeps only while it holds that lock, taken
  without waiting: a runner still writing keeps its temporary file, and a
  runner killed mid-write has released the lock with its life.
- A directory the role records as its own appears with its record inside:
  made under a temporary name, the record written in it, then renamed into
  place.
- Every failure names the path, and the variable that sets it when there is
  one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import stat

# The one temporary-name convention: a leftover is <name>.server-maintanence-tmp-<16 hex>~
from ansible_collections.server_maintanence.ops.plugins.module_utils._job_records import (
    LEFTOVER, WRITE_LOCK, temporary_name)

CLOEXEC = getattr(os, "O_CLOEXEC", 0)
KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "directory", stat.S_IFLNK: "link"}


class Refused(Exception):
    """A change the module will not make; the message says why and names the path."""


def shown(path, setting=None):
    """A path as messages name it: with the variable that sets it."""
    return "%s (%s)" % (path, setting) if setting else path


def write_failure(error, path, setting=None, what="write"):
    """A Refused naming the path, the variable and the cause of an OSError
    (ENOSPC, EROFS, EACCES, EDQUOT...)."""
    cause = error.strerror or str(error)
    code = errno.errorcode.get(error.errno)
    return Refused("cannot %s %s: %s%s; it was left as it was" % (
        what, shown(path, setting), cause, " (%s)" % code if code else ""))


def kind(info):
    """file, directory, link, or "FIFO, socket or device"; None for None."""
    return None if info is None else KINDS.get(stat.S_IFMT(info.st_mode), "FIFO, socket or device")


def lstat(path, dir_fd=None):
    """The path's own stat (a link is not followed), or None when it is
    missing (also when a parent is not a directory)."""
    try:
        return os.lstat(path, dir_fd=dir_fd) if dir_fd is not None else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_regular(path, limit, dir_fd=None):
    """(content, stat) of the regular file at path, read through a descriptor
    opened with O_NOFOLLOW|O_NONBLOCK: (None, None) when it is missing, and
    (None, stat) when it is a link, not a regular file, or larger than limit
    bytes. A file replaced between the lstat and the open is refused."""
    found = lstat(path, dir_fd)
    if found is None or not stat.S_ISREG(found.st_mode) or found.st_size > limit:
        return None, found
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | CLOEXEC
    descriptor = os.open(path, flags, dir_fd=dir_fd) if dir_fd is not None else os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if (info.st_dev, info.st_ino) != (found.st_dev, found.st_ino) or not stat.S_ISREG(info.st_mode):
            raise Refused("%s changed while it was read; nothing was written" % path)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    content = b"".join(chunks)
    return (content, info) if len(content) <= limit else (None, info)


def _join(directory, name):
    return os.path.join(directory, name)


def fsync_directory(path):
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def set_attributes(path, uid, gid, mode, directory=False):
    """Owner, group and mode set through a descriptor of path itself, opened
    without following a link there."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | CLOEXEC | (os.O_DIRECTORY if directory else os.O_NONBLOCK)
    descriptor = os.open(path, flags)
    try:
        os.fchown(descriptor, uid, gid)
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)


def make_parents(path):
    """The missing parents of path, root 0755, as the file module makes them."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)


class StagedFile(object):
    """A file's new content written under a temporary name beside it, owned
    and moded before its first byte and fsynced: commit() renames it over
    the target, discard() removes it. With dir_fd, the names are taken in
    that open directory (path is then only what messages show)."""

    def __init__(self, path, data, uid, gid, mode, setting=None, dir_fd=None):
        self.path, self.setting, self.dir_fd = path, setting, dir_fd
        directory, self.name = os.path.split(path)
        self.temporary = temporary_name(self.name)
        if dir_fd is None:
            self.name, self.temporary = path, _join(directory, self.temporary)
        try:
            descriptor = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | CLOEXEC,
                                 0o600, **self._at())
        except OSError as error:
            raise write_failure(error, path, setting)
        try:
            os.fchown(descriptor, uid, gid)
            os.fchmod(descriptor, mode)
            rest = data
            while rest:
                rest = rest[os.write(descriptor, rest):]
            os.fsync(descriptor)
        except OSError as error:
            os.close(descriptor)
            self.discard()
            raise write_failure(error, path, setting)
        os.close(descriptor)

    def _at(self):
        return {} if self.dir_fd is None else {"dir_fd": self.dir_fd}

    def commit(self):
        try:
            if self.dir_fd is None:
                os.rename(self.temporary, self.name)
                fsync_directory(os.path.dirname(self.path))
            else:
                os.rename(self.temporary, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
                os.fsync(self.dir_fd)
        except OSError as error:
            self.discard()
            raise write_failure(error, self.path, self.setting)

    def discard(self):
        try:
            os.unlink(self.temporary, **self._at())
        except OSError:
            pass


def write_file(path, data, uid, gid, mode, setting=None, dir_fd=None):
    """Replace path with data, whole or not at all."""
    StagedFile(path, data, uid, gid, mode, setting, dir_fd).commit()


def make_directory(path, uid, gid, mode, record=None, setting=None):
    """Create the directory path, owned and moded as given. With record
    ({name, uid, gid, mode}), the directory appears already holding that
    empty record: it is made under a temporary name beside path, the record
    is written in it, and it is renamed into place. A directory that
    appeared meanwhile is kept, and only its attributes are set."""
    make_parents(path)
    parent, name = os.path.split(path)
    temporary = _join(parent, temporary_name(name))
    try:
        os.mkdir(temporary, 0o700)
        try:
            if record:
                write_file(_join(temporary, record["name"]), b"", record["uid"], record["gid"], record["mode"])
            set_attributes(temporary, uid, gid, mode, directory=True)
            os.rename(temporary, path)
        except OSError as error:
            remove_leftover(temporary)
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY) or kind(lstat(path)) != "directory":
                raise
            set_attributes(path, uid, gid, mode, directory=True)
        fsync_directory(parent)
    except OSError as error:
        raise write_failure(error, path, setting, "create")


def symlink(path, target, setting=None):
    """Point path at target: a new link under a temporary name, renamed over path."""
    make_parents(path)
    directory, name = os.path.split(path)
    temporary = _join(directory, temporary_name(name))
    try:
        os.symlink(target, temporary)
        try:
            os.rename(temporary, path)
        except OSError:
            remove_leftover(temporary)
            raise
        fsync_directory(directory)
    except OSError as error:
        raise write_failure(error, path, setting, "link")


def _open_directory(path):
    """A descriptor of the directory at path, a link there not followed."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | CLOEXEC)


def _runner_lock(directory_fd):
    """(runner's, lock) for an open directory: whether the job runner writes
    there (its WRITE_LOCK is there), and then a descriptor holding that
    lock, taken without waiting, or None when it cannot be taken: a runner
    is writing (or the lock is not a regular file, which only the app user
    could have made it). The caller closes the descriptor, which releases
    the lock."""
    if lstat(WRITE_LOCK, directory_fd) is None:
        return False, None
    try:
        lock = os.open(WRITE_LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | CLOEXEC,
                       dir_fd=directory_fd)
    except OSError:
        return True, None
    try:
        if stat.S_ISREG(os.fstat(lock).st_mode):
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True, lock
    except OSError:
        pass
    os.close(lock)
    return True, None


def _sweepable(info, runners):
    """Whether a temporary name's own stat makes it a leftover: root's file,
    link or directory (the app user cannot make a root-owned file); in the
    runner's directory also a regular file of any owner, since the runner
    runs as the app user."""
    if info is None:
        return False
    if info.st_uid == 0 and kind(info) in ("file", "link", "directory"):
        return True
    return runners and kind(info) == "file"


def leftovers(directories):
    """[(path, kind)] of the temporary names left in directories by a run or
    a job cut short: root's files, links and directories, and in the job
    runner's state directory its files too, listed only while its write lock
    is free (a runner still writing keeps its temporary file); nothing
    followed."""
    found = []
    for directory in sorted(set(directories)):
        try:
            directory_fd = _open_directory(directory)
        except OSError:
            continue
        try:
            runners, lock = _runner_lock(directory_fd)
            if runners and lock is None:
                continue
            try:
                for name in sorted(os.listdir(directory_fd)):
                    info = lstat(name, directory_fd) if LEFTOVER.match(name) else None
                    if _sweepable(info, runners):
                        found.append((_join(directory, name), kind(info)))
            finally:
                if lock is not None:
                    os.close(lock)
        finally:
            os.close(directory_fd)
    return found


def _remove_directory_leftover(name, directory_fd, found):
    """rmdir a root-owned leftover directory holding nothing but root-owned
    files (a record), each unlinked through its descriptor; False when it
    holds anything else."""
    inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | CLOEXEC, dir_fd=directory_fd)
    try:
        opened = os.fstat(inner)
        if (opened.st_dev, opened.st_ino) != (found.st_dev, found.st_ino):
            return False
        names = os.listdir(inner)
        for inside in names:
            info = lstat(inside, inner)
            if info is None or info.st_uid != 0 or kind(info) != "file":
                return False
        for inside in names:
            os.unlink(inside, dir_fd=inner)
    finally:
        os.close(inner)
    os.rmdir(name, dir_fd=directory_fd)
    return True


def remove_leftover(path):
    """Remove a leftover of the temporary names, as leftovers() finds them:
    a file or link by unlink, a root-owned directory when it holds nothing
    but root-owned files of the role (a record), by unlink and rmdir, all
    through a descriptor of its directory opened without following a link;
    in the runner's state directory only while its write lock is free.
    Returns whether it is gone; anything else is kept."""
    directory, name = os.path.split(path)
    if not LEFTOVER.match(name):
        return False
    try:
        directory_fd = _open_directory(directory or ".")
    except OSError:
        return lstat(directory or ".") is None  # gone with its directory, or kept: a link is not followed
    try:
        runners, lock = _runner_lock(directory_fd)
        if runners and lock is None:
            return False
        try:
            info = lstat(name, directory_fd)
            if info is None:
                return True
            if not _sweepable(info, runners):
                return False
            if kind(info) == "directory":
                return _remove_directory_leftover(name, directory_fd, info)
            try:
                os.unlink(name, dir_fd=directory_fd)
            except FileNotFoundError:
                pass
            return True
        finally:
            if lock is not None:
                os.close(lock)
    finally:
        os.close(directory_fd)


# Where a private copy for a command is written: root's tmpfs.
PRIVATE_DIR = "/run"


def private_copy(data, directory=PRIVATE_DIR):
    """A root-only (0600) file holding data, under a temporary name in
    directory, for a command that must read a complete file (crontab FILE).
    The caller removes it with remove_leftover; a run cut short leaves it to
    the next run's sweep."""
    path = _join(directory, temporary_name("crontab"))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | CLOEXEC, 0o600)
    try:
        rest = data
        while rest:
            rest = rest[os.write(descriptor, rest):]
        os.fsync(descriptor)
    except OSError:
        os.close(descriptor)
        os.unlink(path)
        raise
    os.close(descriptor)
    return path
