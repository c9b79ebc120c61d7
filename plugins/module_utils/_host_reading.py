# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""What the role must know about a host, read in one pass and changing
nothing: the app's account, the uv its entries run, the commands the role
needs, the app user's crontab, whether systemd is PID 1, the env file as
systemd reads it, a stat of each path the role manages (never following a
link), and for status the job records, the logs and the state directory.
Private to the collection: the probe and maintenance modules read with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import os
import pwd
import shutil
import stat
import time

from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety
from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records
from ansible_collections.server_maintanence.ops.plugins.module_utils._constants import APP_UNIT, LOGROTATE_STATE
from ansible_collections.server_maintanence.ops.plugins.module_utils._crontab import read_crontab
from ansible_collections.server_maintanence.ops.plugins.module_utils._systemd_env import (
    Refused, decode, host_systemd, parse, refusal)

# Where Debian's cron keeps each user's crontab.
CRONTABS = "/var/spool/cron/crontabs"
COMMANDS = ("crontab", "logrotate", "zstd", "flock", "timeout", "systemctl", "sudo")


def _account(lookup, name):
    try:
        return lookup(name) is not None
    except KeyError:
        return False


def _uv(path, candidates, home):
    """The uv the cron entries will run: `path` when given, else the first
    executable regular file among `candidates` (stat follows symlinks, as the
    app's resolve_uv does), else the first candidate, reported absent."""
    searched = [home + c[1:] if c.startswith("~/") else c for c in candidates]
    if not path:
        path = next((c for c in searched if _executable(c)), searched[0] if searched else "")
    found = {"path": path, "discovered": path in searched, "searched": searched}
    try:
        info = os.stat(path)
    except OSError:
        return dict(found, exists=False, mode=None, unsafe=False)
    mode = stat.S_IMODE(info.st_mode)
    # exists: a file cron can run; a plain file there is reported with its mode.
    return dict(found, exists=stat.S_ISREG(info.st_mode) and bool(mode & 0o111), mode="%04o" % mode,
                unsafe=bool(mode & (stat.S_IWGRP | stat.S_IWOTH)))


def _executable(path):
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and bool(info.st_mode & 0o111)


def _env_values(path, keys):
    """{key: the value the env file gives it, as systemd reads it, or None}.
    The file may sit where the app user writes (the app's .env): it is read
    only when it is a regular file, never through a link, never blocking."""
    values = dict.fromkeys(keys)
    content = read_file(path, ENV_LIMIT) if keys else None
    if content is not None:
        try:
            pairs = parse(decode(content), host_systemd())
        except Refused:
            pairs = []  # no value: _env_refused reports the file
        values.update((key, value) for key, value in pairs if key in values)
    return values


def _env_refused(path):
    """None, or {file, line, reason} when the host's systemd refuses the env
    file as a whole (read as _env_values reads it); never a value."""
    content = read_file(path, ENV_LIMIT) if path else None
    refused = None if content is None else refusal(decode(content), host_systemd())
    return None if refused is None else {"file": path, "line": refused.line, "reason": refused.reason}


# An env file larger than this is not read (systemd refuses over 4 MiB in v247, 64 MiB from v252).
ENV_LIMIT = 1 << 20


def _cron_running():
    """Whether the cron daemon runs. Each job runs under a forked child that
    is also named cron and outlives a killed daemon (reparented) until the job
    ends: the daemon is the cron process whose children are all cron."""
    processes = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as handle:
                name, rest = handle.read().split("(", 1)[1].rsplit(")", 1)
            state, parent = rest.split()[:2]
            if state != "Z":  # a killed daemon nobody reaped yet is not running
                processes[pid] = (name, parent)
        except (OSError, IndexError, ValueError):
            continue
    names = ("cron", "crond")
    crons = [pid for pid, (name, _parent) in processes.items() if name in names]
    return any(all(name in names for name, parent in processes.values() if parent == pid) for pid in crons)


def _stat(path, checksum=False):
    """What is at path, never following a link there: the last component is
    lstat'ed, and with checksum a regular file is read through
    O_NOFOLLOW|O_NONBLOCK, so a link or a FIFO planted in its place is
    reported, not followed or waited on. planted_link: a link among the
    parents that a non-root user could have made (see _planted_link)."""
    result = {"exists": False, "planted_link": _planted_link(path)}
    info = safety.lstat(path)
    if info is None:
        return result
    kind = safety.KINDS.get(stat.S_IFMT(info.st_mode), "other")
    result.update(exists=True, type=kind, mode="%04o" % stat.S_IMODE(info.st_mode),
                  owner=_name(pwd.getpwuid, info.st_uid), group=_name(grp.getgrgid, info.st_gid),
                  isdir=kind == "directory", checksum=None)
    if kind == "link":
        result["target"] = os.readlink(path)
    elif kind == "file" and checksum:
        content = read_file(path, (1 << 20) - 1)
        if content is not None:
            result["checksum"] = hashlib.sha1(content).hexdigest()
    return result


def read_file(path, limit):
    """The content of the regular file at path, or None: None when path is
    a link, not a regular file (a FIFO is opened without blocking and
    refused), missing, unreadable or larger than limit bytes."""
    try:
        return safety.read_regular(path, limit)[0]
    except (OSError, safety.Refused):
        return None


def _planted_link(path):
    """The first parent of path that is a symbolic link in a directory a
    user other than root can write (so the app user could have put it
    there), or None. A root-owned link in a root-only directory (/opt ->
    /srv/opt) is the administrator's and is followed."""
    parts = os.path.normpath(path).split("/")[1:-1]
    current = "/"
    for part in parts:
        candidate = os.path.join(current, part)
        try:
            info = os.lstat(candidate)
        except OSError:
            return None
        if stat.S_ISLNK(info.st_mode):
            if not _root_only(current):
                return candidate
            candidate = os.path.realpath(candidate)
        current = candidate
    return None


def _root_only(directory):
    """Whether only root can change the entries of directory."""
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return info.st_uid == 0 and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def _systemctl(module, *args):
    rc, out = module.run_command(["systemctl"] + list(args))[:2]
    return rc == 0, out.strip()


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _user_groups(user):
    try:
        primary = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except KeyError:
        return []
    return [primary] + sorted(g.gr_name for g in grp.getgrall() if user in g.gr_mem and g.gr_name != primary)


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _state_dir(path, user):
    """Whether the job runner, run as user, can write its records in path:
    the space and inodes free for a user other than root, whether the
    filesystem is read-only, and whether the directory's owner, group and
    mode let user write. None when path is not a directory."""
    info = safety.lstat(path)
    if safety.kind(info) != "directory":
        return None
    try:
        found = os.statvfs(path)
        account = pwd.getpwnam(user)
    except (OSError, KeyError):
        return None
    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    mode = stat.S_IMODE(info.st_mode)
    writable = bool(mode & 0o002 or (info.st_uid == account.pw_uid and mode & 0o200)
                    or (info.st_gid in groups and mode & 0o020))
    return {"free": found.f_bavail * found.f_frsize, "free_inodes": found.f_favail,
            "read_only": bool(found.f_flag & getattr(os, "ST_RDONLY", 1)), "writable": writable}


def _free_space(path):
    if not os.path.isdir(path) or os.path.islink(path):
        return None
    try:
        found = os.statvfs(path)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


# The D-Bus system bus: the app user's systemctl reaches systemd through it.
SYSTEM_BUS = "/run/dbus/system_bus_socket"
# A project .env larger than this is not read.
PROJECT_ENV_LIMIT = 64 << 10


def _grep_value(content, key):
    """The value of key as the app's bin/lib/health_check.sh reads it
    (grep -E "^KEY=" .env | tail -1 | cut -d= -f2-): the rest of the last
    line that starts with KEY=, as bytes; None without one, or when grep
    would take the file for a binary one (a NUL byte)."""
    if b"\0" in content:
        return None
    prefix = key.encode("ascii") + b"="
    found = [line[len(prefix):] for line in content.split(b"\n") if line.startswith(prefix)]
    return found[-1] if found else None


def _update_mode(module, path, systemd, systemctl):
    """The mode the app's bin/update.sh will pick (bin/lib/health_check.sh
    detect_mode), from the project .env at path (which the app user writes:
    read only when it is a regular file reached through no link that user
    could have planted, without blocking, at most PROJECT_ENV_LIMIT bytes;
    only DEPLOY_METHOD and DJANGO_ENV judged, nothing of it reported) and
    the app's unit as the app user's systemctl would find it: systemd PID 1,
    the D-Bus system bus socket there, and the unit file known to systemd.
    {mode: docker, systemd, prod, dev, or null when the .env could not be
    read; systemd: why the unit test failed, or null}."""
    content = b""
    if safety.lstat(path) is not None:
        content = None if _planted_link(path) else read_file(path, PROJECT_ENV_LIMIT)
    if content is None:
        return {"mode": None, "systemd": None}
    if _grep_value(content, "DEPLOY_METHOD") == b"docker":
        return {"mode": "docker", "systemd": None}
    bus = safety.lstat(SYSTEM_BUS)
    if not systemd:
        why = "systemd is not PID 1"
    elif bus is None or not stat.S_ISSOCK(bus.st_mode):
        why = "there is no D-Bus system bus (%s)" % SYSTEM_BUS
    elif not systemctl:
        why = "systemctl is missing"
    else:
        out = module.run_command(["systemctl", "list-unit-files", APP_UNIT])[1]
        why = None if "server-monitoring" in out else "systemd does not know %s" % APP_UNIT
    if why is None:
        return {"mode": "systemd", "systemd": None}
    return {"mode": "prod" if _grep_value(content, "DJANGO_ENV") == b"prod" else "dev", "systemd": why}


# The options a reading takes, as an argument spec (the probe module's, and
# part of the maintenance module's).
OPTIONS = {
    "user": {"type": "str", "required": True},
    "group": {"type": "str", "required": True},
    "uv_path": {"type": "str", "default": ""},
    "uv_candidates": {"type": "list", "elements": "str", "default": []},
    "env_file": {"type": "path", "default": ""},
    "env_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
    "env_wanted": {"type": "dict", "default": {}, "no_log": True},
    "units": {"type": "list", "elements": "str", "default": []},
    "paths": {"type": "list", "elements": "path", "default": []},
    "checksums": {"type": "list", "elements": "path", "default": []},
    "report": {"type": "bool", "default": False},
    "state_dir": {"type": "path", "default": ""},
    "jobs": {"type": "list", "elements": "str", "default": []},
    "logs_dir": {"type": "path", "default": ""},
    "logrotate_state": {"type": "path", "default": LOGROTATE_STATE},
    "project_env": {"type": "str", "default": ""},
}


def read_host(module, params):
    """Everything one reading reports (the probe module's RETURN), changing
    nothing. `params`: the keys of OPTIONS."""
    commands = {name: shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin") is not None
                for name in COMMANDS}
    user_exists = _account(pwd.getpwnam, params["user"])
    home = pwd.getpwnam(params["user"]).pw_dir if user_exists else "/nonexistent"
    systemd = os.path.isdir("/run/systemd/system")
    env = _env_values(params["env_file"], params["env_keys"] + list(params["env_wanted"]))
    crontab = read_crontab(module, params["user"]) if commands["crontab"] and user_exists else []

    services = {"cron_enabled": None, "logrotate_timer_enabled": None,
                "logrotate_timer_active": None}
    if systemd and commands["systemctl"]:
        services["cron_enabled"] = _systemctl(module, "is-enabled", "--quiet", "cron")[0]
        services["logrotate_timer_enabled"] = _systemctl(
            module, "is-enabled", "--quiet", "logrotate.timer")[0]
        services["logrotate_timer_active"] = _systemctl(
            module, "is-active", "--quiet", "logrotate.timer")[0]

    for_status = {}
    if params["report"]:
        for_status = {
            "now": time.time(),
            "jobs": job_records.read_records(params["state_dir"], params["jobs"]),
            "state_dir": _state_dir(params["state_dir"], params["user"]),
            "logs": {"size": job_records.disk_usage(params["logs_dir"]), "free": _free_space(params["logs_dir"])},
            "last_rotation": job_records.last_rotation(params["logrotate_state"], params["logs_dir"]),
            "update_history": job_records.read_history(os.path.join(params["logs_dir"], job_records.HISTORY_NAME)),
            "crontab_changed": _mtime(os.path.join(CRONTABS, params["user"])),
        }

    return dict(for_status, **{
        "user_exists": user_exists,
        "group_exists": _account(grp.getgrnam, params["group"]),
        "uv": _uv(params["uv_path"], params["uv_candidates"], home),
        "env": {key: env[key] for key in params["env_keys"]},
        "env_in_sync": {key: env[key] == str(value) for key, value in params["env_wanted"].items()},
        "env_refused": _env_refused(params["env_file"]),
        "commands": commands,
        "crontab": crontab,
        "systemd": systemd,
        "cron_running": _cron_running(),
        "services": services,
        "units_active": {unit: bool(systemd and commands["systemctl"]
                                    and _systemctl(module, "is-active", "--quiet", unit)[0])
                         for unit in params["units"]},
        "paths": {path: _stat(path, path in params["checksums"] and path != params["env_file"])
                  for path in params["paths"]},
        # What runs cut short left under the role's temporary names, in each
        # directory holding one of paths, and where crontab copies are written.
        "leftovers": [path for path, _kind in safety.leftovers(
            [os.path.dirname(path) for path in params["paths"]] + ([safety.PRIVATE_DIR] if params["paths"] else []))],
        # An image or chroot may have no package lists at all: apt must fetch them.
        "apt_lists": any(name.endswith("_Packages") or "_Packages." in name
                         for name in _listdir("/var/lib/apt/lists")),
        "user_groups": _user_groups(params["user"]),
        "update_mode": _update_mode(module, params["project_env"], systemd, commands["systemctl"])
        if params["project_env"] else None,
    })
