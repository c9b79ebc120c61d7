#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Put the role's directories, files and links in place, or remove them,
never through a link."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: managed_paths
short_description: Put directories, files and links in place in one call, never through a link
version_added: "0.3.0"
description:
  - Applies each item of O(paths) in order, in one module call; the
    server_maintanence role's planner hands it the complete arguments of
    every path that is out of place.
  - Nothing is followed through a link. The last component of every path is
    C(lstat)ed and opened with C(O_NOFOLLOW); a directory is changed through a
    descriptor of the directory itself. A file is written as a new file beside
    the old one, with its owner and mode set before the first byte, validated,
    then renamed over the path (a link there is replaced, never written through).
  - A directory, FIFO, socket or device found where a file or a link is wanted,
    or anything but a directory where a directory is wanted, is refused with
    the path named, and nothing after it is applied.
options:
  paths:
    description: What to put in place or remove, applied in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: An absolute path.
        type: str
        required: true
      state:
        description:
          - C(directory), C(file) and C(link) put the path in place.
          - C(absent) removes a file or a link; anything else found there is kept, with a warning.
          - C(rmdir) removes an empty directory; one that still holds something is kept
            and listed in RV(kept).
          - C(purge) removes a directory and everything in it, never following a link inside.
        type: str
        required: true
        choices: [directory, file, link, absent, rmdir, purge]
      owner:
        description: Owner of a directory or file (C(root) for a link, which the module makes as itself).
        type: str
      group:
        description: Group of a directory or file.
        type: str
      mode:
        description: Octal mode of a directory or file, such as C("0644").
        type: str
      content:
        description: The whole content of a file.
        type: str
      validate:
        description:
          - A command checking a new file before it goes live, with C(%s) standing for its
            temporary path; a failure leaves the old file in place.
        type: str
      src:
        description: The target a link points to.
        type: str
      setting:
        description: The role variable that names the path, quoted in error messages.
        type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per path that changes; a file's diff shows its content.
  platform:
    support: full
    platforms: posix
notes:
  - Missing parents of a directory or file are created C(root) C(0755).
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: A root-owned directory, a file validated before it goes live, a link to it
  server_maintanence.ops.managed_paths:
    paths:
      - {path: /var/lib/example, state: directory, owner: root, group: www-data, mode: "0775"}
      - path: /etc/logrotate.d/example
        state: file
        content: "/var/log/example/*.log {\n    weekly\n}\n"
        owner: root
        group: root
        mode: "0644"
        validate: logrotate -d %s
      - {path: /etc/example.conf, state: link, src: /etc/logrotate.d/example}

- name: Uninstall
  server_maintanence.ops.managed_paths:
    paths:
      - {path: /etc/logrotate.d/example, state: absent}
      - {path: /var/lib/example, state: rmdir}
"""

RETURN = r"""
changed_paths:
  description: The paths that changed (or, in check mode, would change), in order.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/example, /etc/logrotate.d/example]
kept:
  description: Directories C(rmdir) kept because they still hold something, and paths C(absent) kept
    because they are neither a file nor a link.
  returned: always
  type: list
  elements: str
  sample: [/srv/shared-state]
"""

import errno
import grp
import os
import pwd
import shlex
import shutil
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# What the module shows of a file it replaces; a bigger one is summarised.
DIFF_CAP = 1 << 16
KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "directory", stat.S_IFLNK: "link"}


class Refused(Exception):
    pass


def _shown(item):
    return "%s%s" % (item["path"], " (%s)" % item["setting"] if item.get("setting") else "")


def _kind(info):
    return None if info is None else KINDS.get(stat.S_IFMT(info.st_mode), "FIFO, socket or device")


def _lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _ids(item):
    try:
        uid = pwd.getpwnam(item["owner"]).pw_uid
    except KeyError:
        raise Refused("owner %s of %s does not exist" % (item["owner"], _shown(item)))
    try:
        gid = grp.getgrnam(item["group"]).gr_gid
    except KeyError:
        raise Refused("group %s of %s does not exist" % (item["group"], _shown(item)))
    return uid, gid, int(item["mode"], 8)


def _attributes(info):
    return "%s:%s %04o" % (_name(pwd.getpwuid, info.st_uid), _name(grp.getgrgid, info.st_gid),
                           stat.S_IMODE(info.st_mode))


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def _parents(path, check_mode):
    """Create the missing parents of path, root 0755, as the file module does."""
    parent = os.path.dirname(path)
    if not check_mode and not os.path.isdir(parent):
        os.makedirs(parent, 0o755)


def _set_attributes(path, flags, uid, gid, mode):
    """Owner, group and mode set through a descriptor of path itself, opened
    without following a link there."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | CLOEXEC | flags)
    try:
        os.fchown(descriptor, uid, gid)
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)


def directory(item, check_mode):
    """(changed, before, after) for a directory owned and moded as the item says."""
    path = item["path"]
    uid, gid, mode = _ids(item)
    after = "directory %s:%s %04o\n" % (item["owner"], item["group"], mode)
    found = _lstat(path)
    if found is not None and not stat.S_ISDIR(found.st_mode):
        raise Refused("refusing %s: it is a %s, not a directory; nothing there was changed"
                      % (_shown(item), _kind(found)))
    if found is None:
        if not check_mode:
            _parents(path, check_mode)
            os.mkdir(path, 0o700)
    elif (found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) == (uid, gid, mode):
        return False, None, None
    before = "absent\n" if found is None else "directory %s\n" % _attributes(found)
    if not check_mode:
        _set_attributes(path, os.O_DIRECTORY, uid, gid, mode)
    return True, before, after


def _read(path, found):
    """The current content of a regular file, never following a link nor
    blocking, or None when it is bigger than the diff cap."""
    if found.st_size > DIFF_CAP * 16:
        return None
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if (info.st_dev, info.st_ino) != (found.st_dev, found.st_ino):
            raise Refused("%s changed while it was read; nothing was written" % path)
        return handle.read()


def _temporary(directory_path, name):
    for attempt in range(100):
        temp = os.path.join(directory_path, ".%s.%d.%d.tmp" % (name, os.getpid(), attempt))
        try:
            return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | CLOEXEC, 0o600)
        except FileExistsError:
            continue
    raise Refused("cannot create a temporary file beside %s" % name)


def _validate(module, item, temp):
    command = item["validate"].replace("%s", shlex.quote(temp))
    rc, out, err = module.run_command(command)
    if rc != 0:
        raise Refused("refusing %s: its new content fails `%s` (exit %d): %s; the old file is kept"
                      % (_shown(item), item["validate"], rc, (err or out).strip()))


def write(module, item, data, uid, gid, mode):
    """A new file beside path, owned and moded before its first byte,
    validated, renamed over path."""
    path = item["path"]
    _parents(path, False)
    temp, descriptor = _temporary(os.path.dirname(path), os.path.basename(path))
    try:
        os.fchown(descriptor, uid, gid)
        os.fchmod(descriptor, mode)
        rest = data
        while rest:
            rest = rest[os.write(descriptor, rest):]
        os.fsync(descriptor)
        os.close(descriptor)
        descriptor = None
        if item.get("validate"):
            _validate(module, item, temp)
        os.rename(temp, path)
    except BaseException:
        if descriptor is not None:
            os.close(descriptor)
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def regular_file(module, item, check_mode):
    path = item["path"]
    uid, gid, mode = _ids(item)
    data = to_bytes(item.get("content") or "", errors="surrogate_or_strict")
    found = _lstat(path)
    kind = _kind(found)
    if kind not in (None, "file", "link"):
        raise Refused("refusing %s: it is a %s, not a file; nothing there was changed" % (_shown(item), kind))
    current = _read(path, found) if kind == "file" else None
    attributes = found is not None and kind == "file" and (
        found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) == (uid, gid, mode)
    if current == data and attributes:
        return False, None, None
    before = ("absent\n" if found is None else "link to %s\n" % os.readlink(path) if kind == "link"
              else "(%d bytes, not shown)\n" % found.st_size if current is None
              else to_text(current, errors="surrogate_or_replace"))
    after = to_text(data, errors="surrogate_or_replace")
    if current == data:
        before, after = "%s %s\n" % (kind, _attributes(found)), "file %s:%s %04o\n" % (
            item["owner"], item["group"], mode)
    if not check_mode:
        if current == data:
            _set_attributes(path, os.O_NONBLOCK, uid, gid, mode)
        else:
            write(module, item, data, uid, gid, mode)
    return True, before, after


def link(item, check_mode):
    path, src = item["path"], item["src"]
    found = _lstat(path)
    kind = _kind(found)
    if kind not in (None, "file", "link"):
        raise Refused("refusing %s: it is a %s, not a link; nothing there was changed" % (_shown(item), kind))
    if kind == "link" and os.readlink(path) == src and found.st_uid == os.geteuid():
        return False, None, None
    before = ("absent\n" if found is None else "link to %s\n" % os.readlink(path) if kind == "link"
              else "a file\n")
    if not check_mode:
        _parents(path, False)
        for attempt in range(100):
            temp = "%s.%d.%d.tmp" % (path, os.getpid(), attempt)
            try:
                os.symlink(src, temp)
                break
            except FileExistsError:
                continue
        else:
            raise Refused("cannot create a temporary link beside %s" % path)
        os.rename(temp, path)
    return True, before, "link to %s\n" % src


def absent(module, item, check_mode, kept):
    path = item["path"]
    found = _lstat(path)
    kind = _kind(found)
    if kind is None:
        return False, None, None
    if kind not in ("file", "link"):
        module.warn("kept %s: it is a %s, not the role's file or link" % (_shown(item), kind))
        kept.append(path)
        return False, None, None
    if not check_mode:
        os.unlink(path)
    return True, "%s\n" % kind, "absent\n"


def remove_directory(item, check_mode, kept):
    path = item["path"]
    found = _lstat(path)
    if found is None:
        return False, None, None
    if not stat.S_ISDIR(found.st_mode):
        raise Refused("refusing to remove %s: it is a %s, not a directory" % (_shown(item), _kind(found)))
    if item["state"] == "purge":
        if not check_mode:
            shutil.rmtree(path)
        return True, "directory and its content\n", "absent\n"
    if check_mode:
        with os.scandir(path) as entries:
            if any(True for _entry in entries):
                kept.append(path)
                return False, None, None
        return True, "directory\n", "absent\n"
    try:
        os.rmdir(path)
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        kept.append(path)
        return False, None, None
    return True, "directory\n", "absent\n"


def apply(module, items, result):
    """Apply items in order, recording in result what changed: on a refusal
    the caller still reports what was done before it."""
    diffs = []
    for item in items:
        state = item["state"]
        if state == "directory":
            outcome = directory(item, module.check_mode)
        elif state == "file":
            outcome = regular_file(module, item, module.check_mode)
        elif state == "link":
            outcome = link(item, module.check_mode)
        elif state == "absent":
            outcome = absent(module, item, module.check_mode, result["kept"])
        else:
            outcome = remove_directory(item, module.check_mode, result["kept"])
        changed, before, after = outcome
        if changed:
            result["changed"] = True
            result["changed_paths"].append(item["path"])
            diffs.append({"before_header": item["path"], "after_header": item["path"],
                          "before": before, "after": after})
        if module._diff:
            result["diff"] = diffs


REQUIRED = {"directory": ("owner", "group", "mode"), "file": ("owner", "group", "mode"), "link": ("src",)}


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "dict", "required": True, "options": {
                "path": {"type": "str", "required": True},
                "state": {"type": "str", "required": True,
                          "choices": ["directory", "file", "link", "absent", "rmdir", "purge"]},
                "owner": {"type": "str"},
                "group": {"type": "str"},
                "mode": {"type": "str"},
                "content": {"type": "str"},
                "validate": {"type": "str"},
                "src": {"type": "str"},
                "setting": {"type": "str"},
            }},
        },
        supports_check_mode=True,
    )
    items = module.params["paths"]
    for item in items:
        missing = [name for name in REQUIRED.get(item["state"], ()) if item.get(name) is None]
        if not os.path.isabs(item["path"]) or missing:
            module.fail_json(msg="%s: %s" % (item["path"], "needs %s for state %s" % (", ".join(missing), item["state"])
                                             if missing else "is not an absolute path"))
    result = {"changed": False, "changed_paths": [], "kept": []}
    try:
        apply(module, items, result)
    except Refused as error:
        module.fail_json(msg=str(error), **result)
    except OSError as error:
        module.fail_json(msg="cannot change %s: %s" % (error.filename, error.strerror), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
