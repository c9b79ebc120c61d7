# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""A host judged from one reading of it (module_utils/_host_reading.py):
first the rules it must meet before the role changes anything there
(host_errors; every message names its variable), then what is out of
place (plan: the steps the maintenance module takes, none when the host is
in place). Private to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import posixpath

from ansible_collections.server_maintanence.ops.plugins.module_utils._constants import APP_UNIT, PREFIX
from ansible_collections.server_maintanence.ops.plugins.module_utils._crontab import installer_lines, reconcile

# The owner of the record the role leaves in a directory it creates: root,
# so the app user cannot forge it.
RECORD_OWNER = "root"
# The name of the record: uninstall removes a directory only when it holds
# one (the app user cannot make a root-owned file).
RECORD_NAME = ".created-by-server-maintanence"


def missing_packages(reading, packages):
    return [p["package"] for p in packages if p["needed"] and not reading["commands"][p["command"]]]


def host_errors(reading, settings):
    """Every host-side rule that the reading shows broken, before any change;
    [] when the host can take the role. `settings`: state, guarded (rows of
    the role's table, {path, kind, setting}: the paths the app user could
    plant a link at or under), user,
    group, uv (the path the entries will run), manage_packages, packages
    ({package, command, needed}), cron_daily_runner, and optionally jobs
    ({name, wanted, kept_by, drop_installer}), env_file and env_logs_dir
    (the LOGS_DIR the host's env file must set; "" for none). With state
    absent only the guarded paths are checked."""
    errors = _planted(reading, settings["guarded"])
    if settings["state"] == "absent":
        return errors
    if not reading["user_exists"]:
        errors.append("%suser %s does not exist on the host: the role does not create the app's "
                      "account; deploy the app first" % (PREFIX, json.dumps(settings["user"])))
    if not reading["group_exists"]:
        errors.append("%sgroup %s does not exist on the host" % (PREFIX, json.dumps(settings["group"])))
    if reading["uv"]["unsafe"]:
        errors.append("%suv_path: uv at %s is group- or world-writable (mode %s): anyone who can rewrite "
                      "it runs code as %s from cron. Fix with: chmod go-w %s"
                      % (PREFIX, settings["uv"], reading["uv"]["mode"], settings["user"], settings["uv"]))
    missing = missing_packages(reading, settings["packages"])
    if not settings["manage_packages"] and missing:
        errors.append("%s%smanage_packages is false and these packages are missing: %s. Install them, "
                      "or set %smanage_packages: true"
                      % (PREFIX + "logrotate_compression is zstd but " if "zstd" in missing else "",
                         PREFIX, ", ".join(missing), PREFIX))
    if not (reading["commands"]["flock"] and reading["commands"]["timeout"]):
        errors.append("flock or timeout is missing (util-linux, coreutils): every cron entry runs under both")
    refused = env_refused_message(reading)
    if refused:
        errors.append(refused)
    errors.extend(_dropped_installer_jobs(reading["crontab"], settings.get("jobs", []), settings["user"]))
    logs_dir = settings.get("env_logs_dir")
    if logs_dir:
        errors.extend(_logs_dir_unset(reading["env"].get("LOGS_DIR"), logs_dir, settings["env_file"]))
    runner = settings["cron_daily_runner"]
    if not reading["systemd"] and not reading["paths"][runner]["exists"] and "logrotate" not in missing:
        errors.append("%s is missing and systemd is not PID 1: nothing would run logrotate. "
                      "Reinstall the logrotate package" % runner)
    return errors


def _dropped_installer_jobs(crontab, jobs, user):
    """A message for each job whose line the app's installer wrote in the
    crontab and that the role would remove without its own entry: the job
    is off, and drop_installer_jobs does not let the line go. Never the
    line itself (the app user writes that crontab)."""
    found = set(name for _line, name in installer_lines(crontab, [job["name"] for job in jobs]))
    return ["the app's installer (bin/install/cron.sh) set up the %s in %s's crontab, and the role would remove "
            "its line without installing its own entry: keep the job with %s, or let the line go with "
            "%sdrop_installer_jobs: [%s]" % (job["name"], user, job["kept_by"], PREFIX, job["id"])
            for job in jobs if job["name"] in found and not job["wanted"] and not job.get("drop_installer")]


def _logs_dir_unset(found, logs_dir, env_file):
    """The message when the host's env file does not give the app LOGS_DIR
    = logs_dir; [] when it does. Only LOGS_DIR's value is shown."""
    if found is not None and posixpath.normpath(found) == posixpath.normpath(logs_dir):
        return []
    return ["%slogs_dir %s is not the app's default (<project_dir>/logs), and the app writes its logs there "
            "(django.log, checks.log, update.log, update-history.jsonl) only when LOGS_DIR reaches it through "
            "its environment, but %s %s: the logs would never be rotated and status would read the update "
            "history from the wrong directory. Set %smanage_env_file: true (the role then writes LOGS_DIR "
            "there), or set LOGS_DIR=%s in %s yourself"
            % (PREFIX, logs_dir, env_file, "does not set LOGS_DIR" if found is None
               else "sets LOGS_DIR to %s" % json.dumps(found), PREFIX, logs_dir, env_file)]


def update_mode_warning(reading):
    """The warning when the app's bin/update.sh would take the host for a
    development one (reading["update_mode"]: read only while the auto-update
    job is on), or None."""
    found = reading.get("update_mode") or {}
    if found.get("mode") != "dev":
        return None
    return ("%sauto_update_enabled: the app's bin/update.sh will take this host for a development one and run "
            "`uv sync --all-extras --dev` on each update (bin/lib/health_check.sh detect_mode: the project's "
            ".env sets neither DEPLOY_METHOD=docker nor DJANGO_ENV=prod, and %s, so the app user's "
            "`systemctl list-unit-files %s` does not list it). Set DJANGO_ENV=prod in "
            "the project's .env, or install the app's %s unit"
            % (PREFIX, found.get("systemd"), APP_UNIT, APP_UNIT))


def env_refused_message(reading):
    """The host problem when the host's systemd refuses the env file as a
    whole, by file and line (never a value); None otherwise."""
    refused = reading.get("env_refused")
    if not refused:
        return None
    return ("%senv_file %s, line %d: systemd refuses the whole file (%s), so the app's units with "
            "EnvironmentFile= do not start and the cron jobs do not run (exit 65). Fix that line"
            % (PREFIX, refused["file"], refused["line"], refused["reason"]))


def host_warnings(reading, settings):
    """What the host check says without failing: a metrics directory that
    users other than root may write (an older release made it root:<group>
    0775, or it was opened to the app user for it), which the role keeps as
    it is. `settings`: state, guarded (as for host_errors)."""
    warnings = []
    for row in settings["guarded"]:
        found = reading["paths"].get(row["path"]) if row["path"] else None
        if (settings["state"] != "present" or row["setting"] != PREFIX + "metrics_dir" or not found
                or found.get("type") != "directory" or not int(found["mode"], 8) & 0o022):
            continue
        warnings.append("%s %s is writable by users other than its owner (%s:%s, mode %s): whoever can write "
                        "it can plant metrics that node_exporter serves as this host's. The role keeps an "
                        "existing directory as it is; make it root:root 0755 (chown root:root %s; chmod 0755 %s)"
                        % (row["setting"], row["path"], found.get("owner"), found.get("group"), found["mode"],
                           row["path"], row["path"]))
    return warnings


_KIND_NAMES = {"link": "symbolic link", "file": "file", "directory": "directory",
               "other": "FIFO, socket or device"}


def _planted(reading, guarded):
    """A message for each guarded path (the rows of the role's table with a
    setting: the logs, state and metrics directories, the env file) that is
    a link or of the wrong type, or that lies under a link the app user
    could have made: the role never acts through one."""
    errors = []
    for row in guarded:
        if not row["path"]:
            continue
        found = reading["paths"][row["path"]]
        name, kind = row["setting"], "directory" if row["kind"] == "directory" else "file"
        if found.get("planted_link"):
            errors.append("%s %s lies under %s, a symbolic link in a directory a user other than root can "
                          "write: the role never acts through such a link. Replace it with the real directory, "
                          "or point %s at the real path" % (name, row["path"], found["planted_link"], name))
        elif found["exists"] and found["type"] != kind:
            wanted = kind if kind == "directory" else "regular file"
            errors.append("%s %s is a %s, not a %s: the role neither follows nor replaces it, and changed "
                          "nothing. Remove it if it is not the app's (as root, after checking where it points), "
                          "then run the role again" % (name, row["path"], _KIND_NAMES[found["type"]], wanted))
        elif row["kind"] == "env_file":
            # A missing directory is created (as the app's guide does); anything else there is refused now,
            # before the first change, not at the env file's own task.
            directory = posixpath.dirname(row["path"])
            parent = reading["paths"].get(directory) or {}
            if parent.get("exists") and parent["type"] != "directory":
                errors.append("%s %s: its directory %s is a %s, not a directory: the role neither follows nor "
                              "replaces it, and changed nothing" % (name, row["path"], directory,
                                                                    _KIND_NAMES[parent["type"]]))
    return errors


def _rows(managed):
    """The table's rows with a path, a row of several paths made one per path."""
    for row in managed:
        for path in row["paths"] if "paths" in row else [row["path"]]:
            if path:
                yield dict(row, path=path)


def _attributes_hold(found, row):
    return (found.get("owner"), found.get("group"), found.get("mode")) == (row["owner"], row["group"], row["mode"])


def _in_place(found, row):
    """Whether what the reading found at a row's path is what the row says."""
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
    """Whether what the reading found is a file or a link, which the role may
    remove; never a directory or another kind."""
    return found.get("type") in ("file", "link")


def _recorded(found, record):
    return (found.get(record) or {}).get("type") == "file" and found[record].get("owner") == RECORD_OWNER


def _leftovers(reading):
    """What runs cut short left under the role's temporary names: out of
    place, removed by every run."""
    return [{"path": path, "state": "leftover"} for path in reading.get("leftovers", [])]


def plan(reading, wanted):
    """What is out of place on this host, judged from one reading: a dict
    with a key for each step the maintenance module must take, empty when
    the host is as wanted.

    `wanted` holds state, packages ({package, command, needed}), managed (the
    role's table, one row per path: plugin_utils/description.py's managed()),
    created_record (the name of the record the role leaves
    in a directory it creates), entries (from cron_entries) and env (keys: the keys the
    role sets, plain: {KEY: value} of those the reading gives back in plain;
    the others' in-sync flags come from the reading's env_in_sync, compared on
    the host).

    `paths` in the result lists the complete managed_paths items, in the
    table's order, removals last (with the leftovers of runs cut short, which
    every run removes); a directory the role creates with its record names it
    in `creation_record`; `env_file` the env_file module's arguments
    but the values. Nothing is removed that is not a file or a link: a
    directory or a FIFO found where the role's file should be is another
    program's."""
    steps = {}
    found = reading["paths"]
    lines = reading["crontab"]
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
        if remove + directories + _leftovers(reading):
            steps["paths"] = _leftovers(reading) + remove + records + directories
        return steps

    missing = missing_packages(reading, wanted["packages"])
    if missing:
        steps["packages"] = missing
    if not reading["cron_running"] or reading["services"]["cron_enabled"] is False:
        steps["cron_service"] = True
    services = reading["services"]
    if reading["systemd"] and not (services["logrotate_timer_enabled"] and services["logrotate_timer_active"]):
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
    if put + remove + _leftovers(reading):
        steps["paths"] = put + remove + _leftovers(reading)

    crontab, taken_over = reconcile(lines, entries)
    if crontab != lines:
        steps["crontab"] = True
    if taken_over:
        steps["taken_over"] = taken_over
    env = next((row for row in rows if row["kind"] == "env_file" and row["wanted"]), None)
    if env:
        keys = [key for key in wanted["env"]["keys"]
                if (reading["env"].get(key) != wanted["env"]["plain"][key] if key in wanted["env"]["plain"]
                    else not reading["env_in_sync"].get(key))]
        if keys or not _in_place(found[env["path"]], env):
            steps["env_file"] = {"path": env["path"], "owner": env["owner"], "group": env["group"],
                                 "mode": env["mode"], "setting": env["setting"], "keys": keys}
    return steps
