# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The app's env file: the keys the role keeps there (env_lines, which the
description calls on the controller), and setting them on the host so that
systemd's EnvironmentFile= gives each exactly its value, written whole,
never through a link, never showing a value. Private to the collection: the
maintenance module (and the deprecated env_file module) write with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import posixpath
import pwd
import stat
from urllib.parse import urlsplit

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety
from ansible_collections.server_maintanence.ops.plugins.module_utils._file_safety import Refused
from ansible_collections.server_maintanence.ops.plugins.module_utils._systemd_env import (
    assignments, host_systemd, line, parse, refusal)

# An env file is a few lines; a bigger one is not what the role manages.
SIZE_CAP = 1 << 20


def read_current(dir_fd, name, shown):
    """The file's text and stat, or (None, None) when it does not exist.
    Never follows a link nor blocks on a FIFO."""
    if dir_fd is None:
        return None, None
    content, info = safety.read_regular(name, SIZE_CAP, dir_fd)
    if info is None:
        return None, None
    if content is None:
        found = safety.kind(info)
        raise Refused("refusing %s: it is %s; nothing was written" % (
            shown, "larger than %d bytes" % SIZE_CAP if found == "file"
            else "a symlink" if found == "link" else "not a regular file"))
    return to_text(content, errors="surrogate_or_strict"), info


def updated(text, values, systemd=None):
    """(new text, keys that change): each key set on its last assignment's
    line, or appended; the rest of the text unchanged. `systemd`: the major
    version whose rules apply (systemd_env.assignments)."""
    changed = []
    for key in sorted(values):
        value = values[key]
        current = [a for a in assignments(text, systemd) if a[0] == key]
        if current and current[-1][1] == value:
            continue
        changed.append(key)
        if current:
            _key, _value, start, end = current[-1]
            text = text[:start] + line(key, value) + text[end:]
        else:
            text += ("" if text.endswith("\n") or not text else "\n") + line(key, value) + "\n"
    return text, changed


def _open_directory(directory, shown):
    """A descriptor of the env file's directory, or None when it does not exist yet."""
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | safety.CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Refused("cannot open the directory of %s: %s" % (shown, error.strerror))


def _make_directory(directory, shown):
    """Create the env file's missing directory as the app's deployment guide
    does (mkdir -p): root's, 0755, no link followed; its descriptor."""
    try:
        if safety.lstat(directory) is not None:
            raise Refused("refusing %s: %s is not a directory; nothing was written" % (shown, directory))
        safety.make_parents(directory)
        os.mkdir(directory, 0o755)
        safety.set_attributes(directory, 0, 0, 0o755, directory=True)
        safety.fsync_directory(os.path.dirname(directory))
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | safety.CLOEXEC)
    except OSError as error:
        raise safety.write_failure(error, directory, None, "create")


def apply(module, path, values, group, setting, owner=None, mode=0o640):
    shown = safety.shown(path, setting)
    directory, name = os.path.split(path)
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise Refused("group %s does not exist" % group)
    try:
        uid = os.geteuid() if owner is None else pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise Refused("owner %s does not exist" % owner)
    dir_fd = _open_directory(directory or ".", shown)
    try:
        text, info = read_current(dir_fd, name, shown)
        systemd = host_systemd()
        refused = refusal(text or "", systemd)
        if refused:
            # The units do not start with it: a fix by hand, not a rewrite keeping that line.
            raise Refused("refusing %s: line %d: systemd refuses the whole file (%s), so its units do not "
                          "start; fix that line; nothing was written" % (shown, refused.line, refused.reason))
        new, changed = updated(text or "", values, systemd)
        before = dict(parse(text or "", systemd))
        after = dict(parse(new, systemd))
        others = set(before) - set(values)
        if any(after.get(key) != values[key] for key in values) or any(after.get(k) != before[k] for k in others):
            raise Refused("cannot set %s in %s without changing its other lines: it ends inside a quoted or "
                          "continued value; nothing was written" % (", ".join(changed), shown))
        in_place = info is not None and (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode)
        result = {"changed": bool(changed) or not in_place, "path": path, "changed_keys": changed}
        if module._diff:
            # Words only: Ansible masks every no_log value (a "1" too) wherever it appears.
            result["diff"] = {
                "before_header": path, "after_header": path,
                "before": "".join("%s (value not shown)\n" % key for key in sorted(values) if key in before)
                + ("(no file)\n" if info is None else "" if in_place else "(owner, group or mode to correct)\n"),
                "after": "".join("%s (value not shown%s)\n" % (key, ", changed" if key in changed else "")
                                 for key in sorted(values))}
        if result["changed"] and not module.check_mode:
            if dir_fd is None:
                dir_fd = _make_directory(directory, shown)
            safety.write_file(path, to_bytes(new, errors="surrogate_or_strict"), uid, gid, mode, setting,
                              dir_fd=dir_fd)
        return result
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def set_keys(module, path, values, group, setting, owner=None, mode="0640"):
    """Check, then apply(): the mode (octal text) must give others no access,
    and each value must be one systemd reads back; a Refused naming the path
    and its setting otherwise, also when the write fails, with nothing
    written. Never shows a value."""
    shown = safety.shown(path, setting)
    number, error = mode_error(mode, shown)
    values = dict((key, str(value)) for key, value in values.items())
    error = error or value_error(values, shown)
    if error:
        raise Refused(error)
    try:
        return apply(module, path, values, group, setting, owner, number)
    except OSError as error:
        raise safety.write_failure(error, path, setting)


def mode_error(mode, shown):
    """(the mode as a number, None) or (None, why it is refused)."""
    try:
        number = int(mode, 8)
    except ValueError:
        number = None
    if number is None or number & 0o007 or number > 0o7777:
        return None, "mode %s of %s is not an octal mode that gives others no access" % (mode, shown)
    return number, None


def value_error(values, shown):
    """Why values cannot be written (a key systemd would ignore, or a value it
    cannot hold), never showing a value; None when they can."""
    for key, value in values.items():
        try:
            line(key, value)
        except ValueError:
            return "refusing to write %s: key %s cannot be read back by systemd (its value is not shown)" % (
                shown, key)
    return None


def env_lines(settings):
    """The KEY -> value lines the role keeps in the app's env file, each value
    in the form the app's config/settings.py parses (checked against the app's
    source by tests/unit/app_contract/test_upstream_contract.py).

    `settings` holds cluster_role, hub_url, instance_id, hub_api_key (None:
    not managed), api_key_auth_enabled, hub_ssrf_allowed, and optionally
    logs_dir and project_dir: a logs directory other than the app's default
    (<project_dir>/logs) is passed on as LOGS_DIR. SSRF_ALLOWED_HOSTS holds
    the hub's host; on the host, with_kept_hosts() keeps the entries the
    file already has.
    """
    lines = {}
    logs_dir = logs_dir_setting(settings.get("logs_dir"), settings.get("project_dir"))
    if logs_dir:
        lines["LOGS_DIR"] = logs_dir
    if settings["cluster_role"] in ("agent", "both"):
        lines["HUB_URL"] = settings["hub_url"]
        lines["INSTANCE_ID"] = settings["instance_id"]
        if settings.get("hub_api_key") is not None:
            lines["HUB_API_KEY"] = settings["hub_api_key"]
        if settings["hub_ssrf_allowed"]:
            # push_to_hub refuses a hub on a private or loopback address unless
            # its host name is listed here; a fleet's hub usually is one.
            lines["SSRF_ALLOWED_HOSTS"] = _hostname(settings["hub_url"]) or ""
    if settings["cluster_role"] in ("hub", "both"):
        # The app turns auth on only for exactly "1".
        lines["API_KEY_AUTH_ENABLED"] = "1" if settings["api_key_auth_enabled"] else "0"
    return lines


def with_kept_hosts(values, found):
    """values with their SSRF_ALLOWED_HOSTS (if any) after the entries the
    env file already gives (`found`: its value there, or None), each of
    its own entries added once."""
    if "SSRF_ALLOWED_HOSTS" not in values:
        return values
    hosts = [host.strip() for host in (found or "").split(",") if host.strip()]
    added = [host for host in values["SSRF_ALLOWED_HOSTS"].split(",") if host and host not in hosts]
    return dict(values, SSRF_ALLOWED_HOSTS=",".join(hosts + added))


def logs_dir_setting(logs_dir, project_dir):
    """The LOGS_DIR the app must be given for it to write its logs in
    logs_dir, or None when logs_dir is the app's default, <project_dir>/logs:
    config/settings.py takes LOGS_DIR, else BASE_DIR / "logs" (django.log,
    checks.log), and bin/lib/paths.sh LOG_DIR from LOGS_DIR, else
    $PROJECT_DIR/logs (update.log, update-history.jsonl)."""
    if logs_dir and project_dir and posixpath.normpath(logs_dir) != posixpath.join(
            posixpath.normpath(project_dir), "logs"):
        return logs_dir
    return None


def _hostname(url):
    """The URL's host, or None. Never raises: in the role, validation
    (input_errors) refuses a bad hub URL by name before the description
    calls env_lines; called otherwise, a bad URL gives no host, not a
    traceback."""
    try:
        return urlsplit(url or "").hostname
    except ValueError:
        return None
