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
    the old one, with its owner and mode set before the first byte, fsynced,
    validated, then renamed over the path (a link there is replaced, never
    written through), and the directory fsynced.
  - Every file's new content is written and validated before the first change a
    reader can see; a failure there (a full disk, a refused validation) leaves
    every path as it was. A run killed at any instant leaves each path old or
    new; a temporary name it leaves is one no reader of the directory takes for
    configuration (a leading dot and a trailing C(~), which cron, run-parts and
    logrotate skip), and O(paths[].state=leftover) removes it.
  - Every failure names the path, and O(paths[].setting) when given.
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
          - C(leftover) removes what a run cut short left under one of the module's temporary
            names (root's only; a directory only when it holds nothing but root's files).
        type: str
        required: true
        choices: [directory, file, link, absent, rmdir, purge, leftover]
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
      creation_record:
        description:
          - For a directory the module creates, the name of an empty root-owned record file it
            holds from the instant it appears (it is made under a temporary name, the record
            written in it, then renamed into place).
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
from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety
from ansible_collections.server_maintanence.ops.plugins.module_utils._file_safety import Refused

# What the module shows of a file it replaces; a bigger one is summarised.
DIFF_CAP = 1 << 16
# The creation record of a directory: root's, so the app user cannot forge it.
RECORD_IDS = {"uid": 0, "gid": 0, "mode": 0o644}


def _shown(item):
    return safety.shown(item["path"], item.get("setting"))


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


def directory(item, check_mode):
    """(changed, before, after) for a directory owned and moded as the item
    says; a new one appears with its creation record when the item has one."""
    path = item["path"]
    uid, gid, mode = _ids(item)
    after = "directory %s:%s %04o\n" % (item["owner"], item["group"], mode)
    found = safety.lstat(path)
    if found is not None and not stat.S_ISDIR(found.st_mode):
        raise Refused("refusing %s: it is a %s, not a directory; nothing there was changed"
                      % (_shown(item), safety.kind(found)))
    if found is not None and (found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) == (uid, gid, mode):
        return False, None, None
    before = "absent\n" if found is None else "directory %s\n" % _attributes(found)
    if found is None and item.get("creation_record"):
        after += "holding its creation record %s\n" % item["creation_record"]
    if not check_mode:
        if found is None:
            record = dict(RECORD_IDS, name=item["creation_record"]) if item.get("creation_record") else None
            safety.make_directory(path, uid, gid, mode, record, item.get("setting"))
        else:
            try:
                safety.set_attributes(path, uid, gid, mode, directory=True)
            except OSError as error:
                raise safety.write_failure(error, path, item.get("setting"), "change")
    return True, before, after


def _validate(module, item, temp):
    command = item["validate"].replace("%s", shlex.quote(temp))
    rc, out, err = module.run_command(command)
    if rc != 0:
        raise Refused("refusing %s: its new content fails `%s` (exit %d): %s; the old file is kept"
                      % (_shown(item), item["validate"], rc, (err or out).strip()))


def regular_file(module, item, check_mode, staged):
    """(changed, before, after) for a file; its new content is staged (written
    under a temporary name and validated), to go live in apply's second pass."""
    path = item["path"]
    uid, gid, mode = _ids(item)
    data = to_bytes(item.get("content") or "", errors="surrogate_or_strict")
    current, found = safety.read_regular(path, DIFF_CAP * 16)
    kind = safety.kind(found)
    if kind not in (None, "file", "link"):
        raise Refused("refusing %s: it is a %s, not a file; nothing there was changed" % (_shown(item), kind))
    attributes = kind == "file" and (found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) == (uid, gid, mode)
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
            staged.append(lambda: _set_file_attributes(item, uid, gid, mode))
    elif not check_mode:
        try:
            safety.make_parents(path)
        except OSError as error:
            raise safety.write_failure(error, path, item.get("setting"))
        new = safety.StagedFile(path, data, uid, gid, mode, item.get("setting"))
        staged.append(new)
        if item.get("validate"):
            _validate(module, item, new.temporary)
    return True, before, after


def _set_file_attributes(item, uid, gid, mode):
    try:
        safety.set_attributes(item["path"], uid, gid, mode)
    except OSError as error:
        raise safety.write_failure(error, item["path"], item.get("setting"), "change")


def link(item, check_mode):
    path, src = item["path"], item["src"]
    found = safety.lstat(path)
    kind = safety.kind(found)
    if kind not in (None, "file", "link"):
        raise Refused("refusing %s: it is a %s, not a link; nothing there was changed" % (_shown(item), kind))
    if kind == "link" and os.readlink(path) == src and found.st_uid == os.geteuid():
        return False, None, None
    before = ("absent\n" if found is None else "link to %s\n" % os.readlink(path) if kind == "link"
              else "a file\n")
    if not check_mode:
        safety.symlink(path, src, item.get("setting"))
    return True, before, "link to %s\n" % src


def absent(module, item, check_mode, kept):
    path = item["path"]
    kind = safety.kind(safety.lstat(path))
    if kind is None:
        return False, None, None
    if kind not in ("file", "link"):
        module.warn("kept %s: it is a %s, not the role's file or link" % (_shown(item), kind))
        kept.append(path)
        return False, None, None
    if not check_mode:
        os.unlink(path)
    return True, "%s\n" % kind, "absent\n"


def leftover(module, item, check_mode, kept):
    """A temporary name of the role's that a run cut short left behind."""
    path = item["path"]
    kind = safety.kind(safety.lstat(path))
    if kind is None:
        return False, None, None
    if not check_mode and not safety.remove_leftover(path):
        module.warn("kept %s: it is not only the role's own leftover" % path)
        kept.append(path)
        return False, None, None
    return True, "%s left by a run cut short\n" % kind, "absent\n"


def remove_directory(item, check_mode, kept):
    path = item["path"]
    found = safety.lstat(path)
    if found is None:
        return False, None, None
    if not stat.S_ISDIR(found.st_mode):
        raise Refused("refusing to remove %s: it is a %s, not a directory" % (_shown(item), safety.kind(found)))
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


def _outcome(module, item, result):
    """(changed, before, after) of an item that is not a file (files are staged first)."""
    state = item["state"]
    if state == "directory":
        return directory(item, module.check_mode)
    if state == "link":
        return link(item, module.check_mode)
    if state == "absent":
        return absent(module, item, module.check_mode, result["kept"])
    if state == "leftover":
        return leftover(module, item, module.check_mode, result["kept"])
    return remove_directory(item, module.check_mode, result["kept"])


def _named_failure(function, module, item, *args):
    """function's outcome, an OSError turned into a refusal naming the item's path and variable."""
    try:
        return function(module, item, *args)
    except OSError as error:
        raise safety.write_failure(error, item["path"], item.get("setting"), "change")


def _discard(staged):
    for new in staged:
        if isinstance(new, safety.StagedFile):
            new.discard()


def apply(module, items, result):
    """Apply items in two passes. The first stages every file's new content
    (written under a temporary name and validated) and changes nothing that
    a reader sees: a failure there (a full disk, a refused validation) leaves
    the host as it was. The second applies the items in order, each file by
    one rename. result records what changed, also when a refusal stops it."""
    staged, outcomes = [], {}
    try:
        for item in items:
            if item["state"] == "file":
                outcomes[id(item)] = _named_failure(regular_file, module, item, module.check_mode, staged)
    except BaseException:
        _discard(staged)
        raise
    pending = list(staged)
    diffs = []
    try:
        for item in items:
            if item["state"] == "file":
                changed, before, after = outcomes[id(item)]
                if changed and not module.check_mode:
                    new = pending.pop(0)
                    new.commit() if isinstance(new, safety.StagedFile) else new()
            else:
                changed, before, after = _named_failure(_outcome, module, item, result)
            if changed:
                result["changed"] = True
                result["changed_paths"].append(item["path"])
                diffs.append({"before_header": item["path"], "after_header": item["path"],
                              "before": before, "after": after})
    finally:
        _discard(pending)
        if module._diff:
            result["diff"] = diffs


REQUIRED = {"directory": ("owner", "group", "mode"), "file": ("owner", "group", "mode"), "link": ("src",)}


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "dict", "required": True, "options": {
                "path": {"type": "str", "required": True},
                "state": {"type": "str", "required": True,
                          "choices": ["directory", "file", "link", "absent", "rmdir", "purge", "leftover"]},
                "owner": {"type": "str"},
                "group": {"type": "str"},
                "mode": {"type": "str"},
                "content": {"type": "str"},
                "validate": {"type": "str"},
                "src": {"type": "str"},
                "setting": {"type": "str"},
                "creation_record": {"type": "str"},
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
    module.exit_json(**result)


if __name__ == "__main__":
    main()
