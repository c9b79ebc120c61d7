# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""What is out of place on a host, judged on the controller from one
reading of the probe: the role includes its repair tasks only when
something is."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.server_maintanence.ops.plugins.module_utils.app_crontab import reconcile
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.validation import _missing_packages


def _file_in_place(found, owner, group, mode, checksum=None):
    return (found["exists"] and (found.get("owner"), found.get("group")) == (owner, group)
            and found.get("mode") == mode and (checksum is None or found.get("checksum") == checksum))


def _removable(found):
    """Whether what the probe found is a file or a link, which the role may
    remove; never a directory or another kind."""
    return found.get("type") in ("file", "link")


def plan(probe, wanted):
    """What is out of place on this host, judged from one probe reading: a
    dict with a key for each step the role must take, empty when the host is
    as wanted. The role runs its apply tasks only when it is not empty, and
    each of those is a plain module task that decides idempotence itself.

    `wanted` holds state, packages ({package, command, needed}), logs_dir
    ({path, owner, group, mode}), purge_logs, files ({dest, mode, checksum,
    wanted}), entries (from cron_entries) and env ({manage, path,
    group, keys: the keys the role sets, plain: {KEY: value} of those the
    probe reads back in plain; the others' in-sync flags come from the
    probe's env_in_sync, compared on the host}), dirs ({path, owner, group,
    mode, marker, wanted, keep_existing}: directories the role creates
    besides the logs, and the record it leaves in each one it created),
    links ({path, src, wanted}), stale (files removed in both states: locks
    of older releases, the records of jobs turned off) and owned (what else
    state absent removes: the runner's files and the metrics link).

    Nothing is removed that is not a file or a link: a directory or a FIFO
    found where the role's file should be is another program's."""
    steps = {}
    found = probe["paths"]
    lines = probe["crontab"]
    entries = wanted["entries"]
    if wanted["state"] == "absent":
        if reconcile(lines, [dict(e, state="absent") for e in entries], take_over=False)[0] != lines:
            steps["crontab"] = True
        # Only what the role made: its files by name, and a directory only
        # when the role's root-owned record says the role created it.
        created = [d for d in wanted["dirs"] if d["path"] and found[d["marker"]].get("type") == "file"
                   and found[d["marker"]].get("owner") == "root"]
        files = [f["dest"] for f in wanted["files"]] + wanted["stale"] + wanted["owned"] + [
            d["marker"] for d in created]
        remove = [path for path in files if _removable(found[path])]
        if remove:
            steps["remove_files"] = remove
        if created:
            steps["remove_dirs"] = [d["path"] for d in created]
        if wanted["purge_logs"] and found[wanted["logs_dir"]["path"]]["exists"]:
            steps["purge_logs"] = True
        return steps

    missing = _missing_packages(probe, wanted["packages"])
    if missing:
        steps["packages"] = missing
    if not probe["cron_running"] or probe["services"]["cron_enabled"] is False:
        steps["cron_service"] = True
    logs = wanted["logs_dir"]
    found_logs = found[logs["path"]]
    if not (found_logs.get("isdir") and _file_in_place(found_logs, logs["owner"], logs["group"], logs["mode"])):
        steps["logs_dir"] = True
    files = [f["dest"] for f in wanted["files"]
             if f["wanted"] and not _file_in_place(found[f["dest"]], "root", "root", f["mode"], f["checksum"])]
    if files:
        steps["files"] = files
    dirs = [d for d in wanted["dirs"] if d["wanted"] and not (
        (d["keep_existing"] and found[d["path"]]["exists"])
        or (found[d["path"]].get("isdir") and _file_in_place(found[d["path"]], d["owner"], d["group"], d["mode"])))]
    if dirs:
        steps["dirs"] = [d["path"] for d in dirs]
    markers = [d["marker"] for d in dirs if not found[d["path"]]["exists"]]
    if markers:
        steps["markers"] = markers
    links = [link["path"] for link in wanted["links"] if link["wanted"] and not (
        found[link["path"]].get("type") == "link" and found[link["path"]].get("owner") == "root"
        and found[link["path"]].get("target") == link["src"])]
    if links:
        steps["links"] = links
    stale = [f["dest"] for f in wanted["files"] if not f["wanted"] and found[f["dest"]]["exists"]]
    stale += [path for path in wanted["stale"] if _removable(found[path])]
    if stale:
        steps["remove_files"] = stale
    services = probe["services"]
    if probe["systemd"] and not (services["logrotate_timer_enabled"] and services["logrotate_timer_active"]):
        steps["timer"] = True

    crontab, taken_over = reconcile(lines, entries)
    if crontab != lines:
        steps["crontab"] = True
    if taken_over:
        steps["taken_over"] = taken_over
    env = wanted["env"]
    if env["manage"]:
        keys = [key for key in env["keys"] if (probe["env"].get(key) != env["plain"][key] if key in env["plain"]
                                               else not probe["env_in_sync"].get(key))]
        if keys or not _file_in_place(found[env["path"]], "root", env["group"], "0640"):
            steps["env_file"] = keys
    return steps
