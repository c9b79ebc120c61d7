# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""What is out of place on a host, judged on the controller from one
reading of the probe: the role includes its repair tasks only when
something is."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import posixpath

from ansible_collections.server_maintanence.ops.plugins.module_utils.app_crontab import reconcile
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.validation import _missing_packages


# The owner of the record the role leaves in a directory it creates: root,
# so the app user cannot forge it.
RECORD_OWNER = "root"


def _rows(managed):
    """The table's rows with a path, a row of several paths made one per path."""
    for row in managed:
        for path in row["paths"] if "paths" in row else [row["path"]]:
            if path:
                yield dict(row, path=path)


def _attributes_hold(found, row):
    return (found.get("owner"), found.get("group"), found.get("mode")) == (row["owner"], row["group"], row["mode"])


def _in_place(found, row):
    """Whether what the probe found at a row's path is what the row says."""
    kind = row["kind"]
    if kind == "link":
        return found.get("type") == "link" and found.get("owner") == "root" and found.get("target") == row["src"]
    # The env file's keys are the env_file module's: here its type and attributes.
    if found.get("type") != ("file" if kind == "env_file" else kind) or not _attributes_hold(found, row):
        return False
    return kind != "file" or found.get("checksum") == hashlib.sha1(row["content"].encode("utf-8")).hexdigest()


def _arguments(row, state):
    """The managed_paths item that puts a row in place: every attribute of
    the row the module takes, nothing restated."""
    names = {"directory": ("owner", "group", "mode", "setting"),
             "file": ("owner", "group", "mode", "content", "validate", "setting"),
             "link": ("src", "setting")}.get(state, ("setting",))
    return dict({"path": row["path"], "state": state},
                **{name: row[name] for name in names if row.get(name) is not None})


def _removable(found):
    """Whether what the probe found is a file or a link, which the role may
    remove; never a directory or another kind."""
    return found.get("type") in ("file", "link")


def _recorded(found, record):
    return (found.get(record) or {}).get("type") == "file" and found[record].get("owner") == RECORD_OWNER


def _leftovers(probe):
    """What runs cut short left under the role's temporary names: out of
    place, removed by every run."""
    return [{"path": path, "state": "leftover"} for path in probe.get("leftovers", [])]


def plan(probe, wanted):
    """What is out of place on this host, judged from one probe reading: a
    dict with a key for each step the role must take, empty when the host is
    as wanted. The role runs its apply tasks only when it is not empty.

    `wanted` holds state, packages ({package, command, needed}), managed (the
    role's table of managed things, __server_maintanence_managed in
    vars/main.yml), created_record (the name of the record the role leaves
    in a directory it creates), entries (from cron_entries) and env (keys: the keys the
    role sets, plain: {KEY: value} of those the probe reads back in plain;
    the others' in-sync flags come from the probe's env_in_sync, compared on
    the host).

    `paths` in the result lists the complete managed_paths items, in the
    table's order, removals last (with the leftovers of runs cut short, which
    every run removes); a directory the role creates with its record names it
    in `creation_record`; `env_file` the env_file module's arguments
    but the values. Nothing is removed that is not a file or a link: a
    directory or a FIFO found where the role's file should be is another
    program's."""
    steps = {}
    found = probe["paths"]
    lines = probe["crontab"]
    entries = wanted["entries"]
    rows = list(_rows(wanted["managed"]))

    def record_of(row):
        return posixpath.join(row["path"], wanted["created_record"])

    if wanted["state"] == "absent":
        if reconcile(lines, [dict(e, state="absent") for e in entries], take_over=False)[0] != lines:
            steps["crontab"] = True
        # Only what the role made: its files by name, and a directory only
        # when the role's root-owned record says the role created it.
        # Each record goes last, just before its directory: an uninstall cut
        # short can still be finished by the next run.
        remove, records, directories = [], [], []
        for row in rows:
            if row["kind"] in ("file", "link", "runner_file") and _removable(found[row["path"]]):
                remove.append(_arguments(row, "absent"))
            elif row["kind"] == "directory" and row.get("purge") and found[row["path"]].get("type") == "directory":
                directories.append(_arguments(row, "purge"))
            elif row["kind"] == "directory" and row.get("record") and _recorded(found, record_of(row)):
                records.append({"path": record_of(row), "state": "absent"})
                directories.append(_arguments(row, "rmdir"))
        if remove + directories + _leftovers(probe):
            steps["paths"] = _leftovers(probe) + remove + records + directories
        return steps

    missing = _missing_packages(probe, wanted["packages"])
    if missing:
        steps["packages"] = missing
    if not probe["cron_running"] or probe["services"]["cron_enabled"] is False:
        steps["cron_service"] = True
    services = probe["services"]
    if probe["systemd"] and not (services["logrotate_timer_enabled"] and services["logrotate_timer_active"]):
        steps["timer"] = True
    put, remove = [], []
    for row in rows:
        here = found[row["path"]]
        if row["kind"] == "env_file":
            continue  # below: its keys are the env_file module's
        if not row["wanted"]:
            if _removable(here):
                remove.append(_arguments(row, "absent"))
        elif row["kind"] != "runner_file" and not (
                (row.get("keep_existing") and here["exists"]) or _in_place(here, row)):
            item = _arguments(row, row["kind"])
            if row.get("record") and not here["exists"]:
                # It appears holding its record (made aside, renamed into place).
                item["creation_record"] = wanted["created_record"]
            put.append(item)
    if put + remove + _leftovers(probe):
        steps["paths"] = put + remove + _leftovers(probe)

    crontab, taken_over = reconcile(lines, entries)
    if crontab != lines:
        steps["crontab"] = True
    if taken_over:
        steps["taken_over"] = taken_over
    env = next((row for row in rows if row["kind"] == "env_file" and row["wanted"]), None)
    if env:
        keys = [key for key in wanted["env"]["keys"]
                if (probe["env"].get(key) != wanted["env"]["plain"][key] if key in wanted["env"]["plain"]
                    else not probe["env_in_sync"].get(key))]
        if keys or not _in_place(found[env["path"]], env):
            steps["env_file"] = {"path": env["path"], "owner": env["owner"], "group": env["group"],
                                 "mode": env["mode"], "setting": env["setting"], "keys": keys}
    return steps
