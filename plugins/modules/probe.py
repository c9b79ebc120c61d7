#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Read, in one round-trip, everything the role must know about a host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: probe
short_description: Read the host state the server_maintanence role depends on
version_added: "0.2.0"
description:
  - Read-only. Reports the app's account, the uv the cron entries will run, the
    commands the role needs, the app user's crontab, whether systemd is PID 1,
    what runs logrotate, chosen keys of the app's env file, and a stat of each
    path the role manages.
  - One call replaces fact gathering, getent, stat and crontab -l round-trips.
  - Its action plugin checks, on the controller, the role's variables
    (O(inputs)) before the module reaches the host, and what the module read
    (O(host_check)) before the role changes anything. A broken rule fails the
    task with one message per rule, each naming its variable.
options:
  user:
    description: The app's user to look up and whose crontab to read.
    type: str
    required: true
  group:
    description: The app's group to look up.
    type: str
    required: true
  uv_path:
    description:
      - Path of uv to stat. Empty to search O(uv_candidates) in order and take
        the first executable file, as the app's installer does.
    type: str
    default: ''
  uv_candidates:
    description:
      - Where to look for uv when O(uv_path) is empty; a leading C(~/) means
        the app user's home. With none found, the first is reported, absent.
    type: list
    elements: str
    default: []
  env_file:
    description: The app's env file.
    type: path
    default: ''
  env_keys:
    description:
      - Keys of O(env_file) whose current value is reported. Never pass a secret's key.
      - O(env_file) is read as systemd's C(EnvironmentFile=) reads it.
    type: list
    elements: str
    default: []
  env_wanted:
    description:
      - Keys and the values O(env_file) should give them. Compared on the host;
        only whether each is in sync is reported, never a value or a digest of one.
    type: dict
    default: {}
  units:
    description: systemd units whose state (active or not) is reported, where systemd is PID 1.
    type: list
    elements: str
    default: []
  paths:
    description:
      - Paths to stat without following a link (existence, type, mode, owner,
        group, a link's target, and for those in O(checksums) a small regular
        file's SHA-1), so that tasks whose target is already right can be
        skipped, and whether a link a non-root user could have planted lies
        among the path's parents.
    type: list
    elements: path
    default: []
  checksums:
    description:
      - Those of O(paths) whose SHA-1 is reported, the role's own rendered files.
      - Never pass a file holding a secret (an env file), since its digest would reach the output.
    type: list
    elements: path
    default: []
  report:
    description:
      - Also read what C(playbooks/status.yml) reports. The host's clock, each
        job's record in O(state_dir), the disk usage of O(logs_dir) and the free
        space on its filesystem, and the last rotation of its C(*.log) files in
        O(logrotate_state).
    type: bool
    default: false
  state_dir:
    description: The job runner's state directory (one C(<job>.state) file per job); read with O(report).
    type: path
    default: ''
  jobs:
    description:
      - With O(report), the ids of the jobs whose C(<job>.state) record is read from O(state_dir).
      - Each record is read without following a link or blocking, at most 4096 bytes, and every
        field is checked; a bad one is reported as an error, never with its content.
    type: list
    elements: str
    default: []
  logs_dir:
    description: The app's logs directory; measured with O(report).
    type: path
    default: ''
  logrotate_state:
    description: logrotate's state file; read with O(report).
    type: path
    default: /var/lib/logrotate/status
  inputs:
    description:
      - The role's variables by name (every C(server_maintanence_*) one), checked on the
        controller against the role's C(meta/argument_specs.yml) and the rules it cannot
        express, before the module runs. Never sent to the host.
    type: dict
  role_path:
    description: The role whose C(meta/argument_specs.yml) declares O(inputs); required with it.
    type: path
  host_check:
    description:
      - The rules the host must meet for the role, checked on the controller on what the
        module read; never sent to the host. A missing uv is a warning, not a failure.
    type: dict
    suboptions:
      state:
        description: The role's state; with C(absent) only O(host_check.guarded) is checked.
        type: str
        required: true
      guarded:
        description: The rows of the role's table with a C(setting) ({path, kind, setting}).
        type: list
        elements: dict
        required: true
      user:
        description: The app user.
        type: str
        required: true
      group:
        description: The app's group.
        type: str
        required: true
      manage_packages:
        description: Whether the role may install missing packages.
        type: bool
        required: true
      packages:
        description: The packages the role needs ({package, command, needed}).
        type: list
        elements: dict
        required: true
      cron_daily_runner:
        description: The system's daily logrotate runner, needed where systemd is not PID 1.
        type: path
        required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - Runs C(crontab -l -u) and C(systemctl is-enabled)/C(is-active); changes nothing.
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read what the role needs in one call
  server_maintanence.ops.probe:
    user: www-data
    group: www-data
    uv_candidates: [~/.local/bin/uv, /usr/local/bin/uv]
    env_file: /etc/server-monitoring/env
    env_keys: [SSRF_ALLOWED_HOSTS]
    paths: [/etc/logrotate.d/server-maintanence, /opt/server-monitoring/logs]
  register: found

- name: Show which uv the cron entries would run
  ansible.builtin.debug:
    msg: "{{ found.probe.uv.path }} ({{ 'present' if found.probe.uv.exists else 'absent' }})"
"""

RETURN = r"""
probe:
  description: What was found on the host.
  returned: always
  type: dict
  contains:
    user_exists:
      description: Whether O(user) exists.
      type: bool
    group_exists:
      description: Whether O(group) exists.
      type: bool
    uv:
      description: The uv the entries will run, and where it was looked for.
      type: dict
      sample: {path: /var/www/.local/bin/uv, discovered: true, exists: true, mode: "0755",
               unsafe: false, searched: [/var/www/.local/bin/uv, /usr/local/bin/uv]}
    env:
      description: Each of O(env_keys) with its last value in O(env_file), or null.
      type: dict
      sample: {SSRF_ALLOWED_HOSTS: hub.internal}
    commands:
      description: Whether each command the role uses is installed.
      type: dict
      sample: {crontab: true, logrotate: true, zstd: false, flock: true, timeout: true, systemctl: true}
    crontab:
      description: The app user's crontab, one line per item; empty without one.
      type: list
      elements: str
    systemd:
      description: Whether systemd is PID 1.
      type: bool
    cron_running:
      description: Whether a cron daemon runs.
      type: bool
    services:
      description: Whether cron and logrotate.timer are enabled and the timer active; null without systemd.
      type: dict
    env_in_sync:
      description: Each key of O(env_wanted) and whether O(env_file) gives it that value.
      type: dict
      sample: {HUB_URL: true, HUB_API_KEY: false}
    env_refused:
      description:
        - Null, or where the host's systemd refuses O(env_file) as a whole (a NUL byte, a key or
          value that is not UTF-8 or holds a Unicode non-character), so that a unit with
          C(EnvironmentFile=) does not start and the jobs do not run. Never a value.
      type: dict
      sample: {file: /etc/server-monitoring/env, line: 3, reason: a value that is not UTF-8}
    units_active:
      description: Each of O(units) and whether it is active (false without systemd).
      type: dict
      sample: {server-monitoring.service: true}
    paths:
      description:
        - For each of O(paths), exists and planted_link (the first parent that is a link in a directory
          a non-root user can write, or null), and when it exists type (file, directory, link or other),
          mode, owner, group, isdir, checksum (regular files up to 1 MiB in O(checksums)) and target (links).
        - The checksum of O(env_file) is always null; its content never leaves the host.
      type: dict
    apt_lists:
      description: Whether apt has package lists (a bare image has none).
      type: bool
    user_groups:
      description: The groups O(user) belongs to, its primary group first.
      type: list
      elements: str
    now:
      description: The host's clock as a Unix time; with O(report).
      type: float
    jobs:
      description:
        - With O(report), each of O(jobs)' record from O(state_dir), by job id, as
          the job runner wrote it (name, start, end, duration, exit_code, outcome,
          skipped, timed_out, last_success), or {error} saying why it was not read.
      type: dict
      sample: {health: {exit_code: "0", outcome: success, last_success: "1795645094.528"}}
    logs:
      description: With O(report), the disk usage of O(logs_dir) and the space free for its owner, in bytes (null when missing).
      type: dict
      sample: {size: 16384, free: 20212121600}
    leftovers:
      description: What a run cut short left under the role's temporary names (root's only), in each
        directory that holds one of O(paths) and in C(/run), where crontab copies are written.
      type: list
      elements: str
      sample: [/etc/logrotate.d/server-maintanence.server-maintanence-tmp-0123456789abcdef~]
    state_dir:
      description:
        - With O(report), whether the job runner, run as O(user), can write its records in O(state_dir);
          null when it is not a directory.
        - free and free_inodes are what a user other than root has; read_only the filesystem's flag;
          writable whether the directory's owner, group and mode let O(user) write.
      type: dict
      sample: {free: 20212121600, free_inodes: 1200000, read_only: false, writable: true}
    crontab_changed:
      description: With O(report), when O(user)'s crontab last changed (its file's mtime), as a Unix time; null without one.
      type: float
    last_rotation:
      description: With O(report), the newest time O(logrotate_state) records for O(logs_dir)'s C(*.log) files, as a Unix time; null when none.
      type: float
"""

import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety
from ansible_collections.server_maintanence.ops.plugins.module_utils.systemd_env import (
    Refused, decode, host_systemd, parse, refusal)

# Where Debian's cron keeps each user's crontab.
CRONTABS = "/var/spool/cron/crontabs"
COMMANDS = ("crontab", "logrotate", "zstd", "flock", "timeout", "systemctl")


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


# A job record as the runner writes it: each field and the values it takes.
_TIME = r"[0-9]{1,12}(?:\.[0-9]{1,9})?"
RECORD_FIELDS = {
    "name": r"[a-z0-9_-]{1,32}",
    "start": _TIME,
    "end": _TIME,
    "duration": _TIME,
    "exit_code": r"[0-9]{1,3}",
    "outcome": r"success|failure|skipped|timeout|env_refused",
    "skipped": r"[01]",
    "timed_out": r"[01]",
    "last_success": "(?:%s)?" % _TIME,
}
RECORD_LIMIT = 4096


def _job_records(state_dir, job_ids):
    """{job id: its record} from the job runner's <id>.state files, for each
    of job_ids whose file exists. The app user writes them: a file that is not
    a small regular file, or a field that is unknown, missing or malformed,
    gives {"error": why} and none of its content."""
    records = {}
    for job in job_ids:
        path = os.path.join(state_dir, "%s.state" % job)
        found = _stat(path)
        if not found["exists"]:
            continue
        content = read_file(path, RECORD_LIMIT) if found["type"] == "file" else None
        if content is None:
            records[job] = {"error": "is not a regular file of at most %d bytes (found: %s)"
                                     % (RECORD_LIMIT, found["type"])}
            continue
        records[job] = _record(content.decode("utf-8", "replace"), job)
    return records


def _record(text, job):
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or key not in RECORD_FIELDS or key in fields:
            return {"error": "has a line that is not one of its fields, or a field twice"}
        if not re.fullmatch(RECORD_FIELDS[key], value):
            return {"error": "has a malformed %s" % key}
        fields[key] = value
    missing = sorted(set(RECORD_FIELDS) - set(fields))
    if missing:
        return {"error": "lacks %s" % ", ".join(missing)}
    if fields["name"] != job or int(fields["exit_code"]) > 255:
        return {"error": "names another job or has an exit code above 255"}
    return fields


def _disk_usage(path):
    """Bytes allocated to path and everything under it, each inode once
    (du -sB1), or None."""
    try:
        top_stat = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(top_stat.st_mode):
        return None
    seen = {(top_stat.st_dev, top_stat.st_ino)}
    total = top_stat.st_blocks * 512
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                found = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if (found.st_dev, found.st_ino) not in seen:
                seen.add((found.st_dev, found.st_ino))
                total += found.st_blocks * 512
    return total


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


_LOGROTATE_ENTRY = re.compile(r'^"?(.+?)"?\s+(\d+)-(\d+)-(\d+)-(\d+):(\d+):(\d+)\s*$')


def _last_rotation(state_file, logs_dir):
    """The newest time logrotate's state file records for one of the *.log
    files directly in logs_dir (logrotate writes local time), or None."""
    newest = None
    try:
        with open(state_file) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        match = _LOGROTATE_ENTRY.match(line)
        if not match:
            continue
        path = match.group(1)
        if os.path.dirname(path) != logs_dir.rstrip("/") or not path.endswith(".log"):
            continue
        stamp = time.mktime(tuple(int(part) for part in match.groups()[1:]) + (0, 0, -1))
        newest = stamp if newest is None else max(newest, stamp)
    return newest


def main():
    module = AnsibleModule(
        argument_spec={
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
            "logrotate_state": {"type": "path", "default": "/var/lib/logrotate/status"},
            # The action plugin's, checked on the controller and never sent here.
            "inputs": {"type": "dict", "no_log": True},
            "role_path": {"type": "path"},
            "host_check": {"type": "dict", "options": {
                "state": {"type": "str", "required": True},
                "guarded": {"type": "list", "elements": "dict", "required": True},
                "user": {"type": "str", "required": True},
                "group": {"type": "str", "required": True},
                "manage_packages": {"type": "bool", "required": True},
                "packages": {"type": "list", "elements": "dict", "required": True},
                "cron_daily_runner": {"type": "path", "required": True},
            }},
        },
        supports_check_mode=True,
    )
    params = module.params
    commands = {name: shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin") is not None
                for name in COMMANDS}
    user_exists = _account(pwd.getpwnam, params["user"])
    home = pwd.getpwnam(params["user"]).pw_dir if user_exists else "/nonexistent"
    systemd = os.path.isdir("/run/systemd/system")
    env = _env_values(params["env_file"], params["env_keys"] + list(params["env_wanted"]))

    crontab = []
    if commands["crontab"] and user_exists:
        rc, out, err = module.run_command(["crontab", "-l", "-u", params["user"]])
        if rc == 0:
            crontab = out.splitlines()
        elif "no crontab" not in err:
            module.fail_json(msg="crontab -l -u %s failed: %s" % (params["user"], err.strip()))

    services = {"cron_enabled": None, "logrotate_timer_enabled": None,
                "logrotate_timer_active": None}
    if systemd and commands["systemctl"]:
        services["cron_enabled"] = _systemctl(module, "is-enabled", "--quiet", "cron")[0]
        services["logrotate_timer_enabled"] = _systemctl(
            module, "is-enabled", "--quiet", "logrotate.timer")[0]
        services["logrotate_timer_active"] = _systemctl(
            module, "is-active", "--quiet", "logrotate.timer")[0]

    report = {}
    if params["report"]:
        report = {
            "now": time.time(),
            "jobs": _job_records(params["state_dir"], params["jobs"]),
            "state_dir": _state_dir(params["state_dir"], params["user"]),
            "logs": {"size": _disk_usage(params["logs_dir"]), "free": _free_space(params["logs_dir"])},
            "last_rotation": _last_rotation(params["logrotate_state"], params["logs_dir"]),
            "crontab_changed": _mtime(os.path.join(CRONTABS, params["user"])),
        }

    module.exit_json(changed=False, probe=dict(report, **{
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
    }))


if __name__ == "__main__":
    main()
