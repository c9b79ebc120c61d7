# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The role's directories, files and links put in place or removed, never
through a link, in two passes: every file's new content is staged and
validated before the first change a reader sees. Private to the
collection: the maintenance module (and the deprecated managed_paths module)
apply with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import os
import pwd
import shlex
import shutil
import stat

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

# An item, as an argument spec (the managed_paths module's, and the maintenance module's).
ITEM_OPTIONS = {
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
}


def item_errors(items):
    """What is wrong with the items as arguments, one message each."""
    errors = []
    for item in items:
        missing = [name for name in REQUIRED.get(item["state"], ()) if item.get(name) is None]
        if not os.path.isabs(item["path"]) or missing:
            errors.append("%s: %s" % (item["path"], "needs %s for state %s" % (", ".join(missing), item["state"])
                                      if missing else "is not an absolute path"))
    return errors
