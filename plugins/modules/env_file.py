#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Set keys in the app's env file, as systemd's EnvironmentFile= reads it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: env_file
short_description: Set keys in an env file read by systemd's EnvironmentFile=
version_added: "0.3.0"
description:
  - Sets each key of O(values) in O(path) so that systemd's C(EnvironmentFile=)
    (and the job runner, which reads the file with the same rules) gives it
    exactly that value, quoting it where needed. A key already set is
    rewritten on the line of its last assignment; a missing one is appended.
    Every other line is kept byte for byte.
  - The file is always written whole, as a new file created with O(mode),
    owned by O(owner) and O(group), in the same
    directory before any byte goes into it, then renamed
    over O(path). Nothing is ever followed through a link, so the file may sit
    in a directory the app user can write (the app's own C(.env)).
  - Refuses, changing nothing, when O(path) is a symlink or not a regular file.
  - A missing directory of O(path) is created C(root) C(0755), as the app's
    deployment guide does (C(mkdir -p)), never through a link.
  - A write that fails (a full disk, a read-only filesystem) names O(path) and
    O(setting) and leaves the file as it was.
  - Never shows a value, in its result or its diff; only which keys change.
options:
  path:
    description: The env file.
    type: path
    required: true
  values:
    description: Keys and the values the file must give them (secrets among them).
    type: dict
    required: true
  group:
    description: The group that may read the file (the app's).
    type: str
    required: true
  owner:
    description: The file's owner; the user the module runs as (root, with become) when not given.
    type: str
  mode:
    description: The file's octal mode, set before its first byte; it must give others no access.
    type: str
    default: "0640"
  setting:
    description: The role setting that names O(path), quoted in error messages.
    type: str
    default: ''
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff lists the keys that change, never a value.
  platform:
    support: full
    platforms: posix
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Point the agent at its hub
  server_maintanence.ops.env_file:
    path: /etc/server-monitoring/env
    group: www-data
    values:
      HUB_URL: https://hub.example.com
      HUB_API_KEY: "{{ vault_hub_api_key }}"
    setting: server_maintanence_env_file
  no_log: true
"""

RETURN = r"""
path:
  description: The env file.
  returned: always
  type: str
  sample: /etc/server-monitoring/env
changed_keys:
  description: The keys whose value was (or, in check mode, would be) set.
  returned: always
  type: list
  elements: str
  sample: [HUB_URL]
"""

import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety
from ansible_collections.server_maintanence.ops.plugins.module_utils._file_safety import Refused
from ansible_collections.server_maintanence.ops.plugins.module_utils.systemd_env import (
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


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "values": {"type": "dict", "required": True, "no_log": True},
            "group": {"type": "str", "required": True},
            "owner": {"type": "str"},
            "mode": {"type": "str", "default": "0640"},
            "setting": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        mode = int(params["mode"], 8)
    except ValueError:
        mode = None
    if mode is None or mode & 0o007 or mode > 0o7777:
        module.fail_json(msg="mode %s of %s is not an octal mode that gives others no access"
                         % (params["mode"], safety.shown(params["path"], params["setting"])))
    values = dict((key, str(value)) for key, value in params["values"].items())
    try:
        for key, value in values.items():
            line(key, value)  # a key systemd would ignore, or a value it cannot hold
    except ValueError:
        module.fail_json(msg="refusing to write %s: key %s cannot be read back by systemd (its value is not shown)"
                         % (safety.shown(params["path"], params["setting"]), key))
    try:
        result = apply(module, params["path"], values, params["group"], params["setting"], params["owner"], mode)
    except Refused as error:
        module.fail_json(msg=str(error))
    except OSError as error:
        module.fail_json(msg=str(safety.write_failure(error, params["path"], params["setting"])))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
