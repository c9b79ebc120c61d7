# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""A host's maintenance status, judged on the controller from the reading
the maintenance module returns with state=status (its `probe` key; the
probe module's with report=true is the same), and the fleet's status as one
text table (playbooks/status.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.server_maintanence.ops.plugins.plugin_utils.cron import cron_interval, late_after
from ansible_collections.server_maintanence.ops.plugins.module_utils._plan import (
    env_refused_message, update_mode_warning)
from ansible_collections.server_maintanence.ops.plugins.module_utils._job_records import HISTORY_NAME, record_name
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.description import (
    INBOX_JOB, INBOX_UNIT, PREFIX, size_bytes)

# What the job runner needs free in the state directory to replace a record
# and the metrics (each a new file renamed over the old one).
STATE_DIR_ROOM = {"bytes": 16384, "inodes": 8}
LEGEND = ("job cells show age of last success/last exit code, - if not on the host; "
          "LAST-UPDATE shows age/outcome of the last update attempt of the app (bin/update.sh); "
          "DRAIN shows what drains the app's inbox: unit (%s active), cron (the inbox job), NONE" % INBOX_UNIT)


def _human_size(size):
    for unit in ("", "k", "M", "G"):
        if size < 1024 or unit == "G":
            return ("%d%s" % (size, unit)) if unit == "" else ("%.1f%s" % (size, unit))
        size /= 1024.0
    return str(size)


def _human_age(seconds):
    seconds = max(0, int(seconds))
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return "%d%s" % (seconds // length, unit)
    return "%ds" % seconds


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def status_report(reading, settings):
    """One host's maintenance status from a reading made for status, and
    the problems that fail it: a wanted job with no success within
    max_intervals of its interval (counted from when the crontab last
    changed while it has none), a job whose last run was not started because
    systemd refuses the env file (outcome env_refused), an env file the
    host's systemd refuses, a record the reading could not trust, cron
    not running, a state directory the runner cannot write its records in
    (full, read-only, or closed to the app user), the logs directory above
    max_logs_size, the app's last update attempt failed (a warning instead
    with fail_on_failed_update false); and, as a warning, an auto-update the
    app would run as on a development host. `settings`: cluster_role, jobs ([{id,
    name, schedule}] of the jobs the host should run), max_intervals,
    max_logs_size, logs_dir, state_dir, and optionally
    fail_on_failed_update (default true). And what drains the app's
    inbox, a warning when nothing does (_draining, _no_drain)."""
    now = reading["now"]
    limit_factor = int(settings["max_intervals"])
    jobs, problems, draining = [], [], set()
    for job in settings["jobs"]:
        found = reading["jobs"].get(job["id"]) or {}
        if "error" in found:
            # Never trusted: the app user writes the state directory.
            jobs.append({"id": job["id"], "age": None, "exit_code": None, "outcome": "unreadable",
                         "interval": None})
            record = "%s/%s" % (settings["state_dir"], record_name(job["id"]))
            problems.append("%s: its record %s %s; the job runner writes a fresh one on the job's next run "
                            "once the file is removed" % (job["name"], record, found["error"]))
            continue
        last_success = _number(found.get("last_success"))
        exit_code = found.get("exit_code")
        interval = cron_interval(job["schedule"])
        limit = late_after(interval, limit_factor)
        age = None if last_success is None else now - last_success
        if job["id"] == INBOX_JOB and _draining(found, age, now, limit):
            draining.add("cron")
        jobs.append({"id": job["id"], "age": age, "exit_code": None if exit_code is None else int(exit_code),
                     "outcome": found.get("outcome"), "interval": interval})
        last_run = ("no run recorded" if not found
                    else "last run %s ago ended %s, exit code %s"
                    % (_human_age(now - (_number(found.get("end")) or now)), found.get("outcome"), exit_code))
        if found.get("outcome") == "env_refused":
            # At once: the app's units do not start either; its log names the line.
            problems.append("%s: its last run was not started, %s ago: systemd refuses the env file as a whole "
                            "(exit code 65; the job's log names the file and the line)"
                            % (job["name"], _human_age(now - (_number(found.get("end")) or now))))
            continue
        # A job not yet successful gets its intervals from when the crontab
        # last changed (the role installed or edited its entry).
        since = last_success if last_success is not None else reading.get("crontab_changed")
        if since is not None and now - since <= limit:
            continue
        if since is None:
            problems.append("%s: has never succeeded, and the app user has no crontab" % job["name"])
        elif age is None:
            problems.append("%s: has not succeeded since its entry was installed %s ago, more than %d x its %s "
                            "interval (%s in %s)" % (job["name"], _human_age(now - since),
                                                     limit_factor, _human_age(interval), last_run,
                                                     settings["state_dir"]))
        else:
            problems.append("%s: last succeeded %s ago, more than %d x its %s interval; %s"
                            % (job["name"], _human_age(age), limit_factor, _human_age(interval), last_run))
    refused = env_refused_message(reading)
    if refused:
        problems.append(refused)
    if not reading["cron_running"]:
        problems.append("cron is not running: none of the jobs runs")
    cause = _state_dir_blocked(reading.get("state_dir"))
    if cause:
        problems.append("the state directory %s (%sstate_dir) %s: the jobs cannot write their records, so the "
                        "last ones shown may be stale" % (settings["state_dir"], PREFIX, cause))
    logs = reading["logs"]
    if logs["size"] is not None and logs["size"] > size_bytes(settings["max_logs_size"]):
        problems.append("the logs directory %s uses %s, more than %sstatus_max_logs_size %s"
                        % (settings["logs_dir"], _human_size(logs["size"]), PREFIX, settings["max_logs_size"]))
    update, warnings = _update(reading.get("update_history"), now, settings)
    if update and update["status"] == "failed":
        (problems if settings.get("fail_on_failed_update", True) else warnings).append(_failed_update(update))
    if (reading.get("units_active") or {}).get(INBOX_UNIT):
        draining.add("unit")
    drain = [kind for kind in ("unit", "cron") if kind in draining]
    if not drain:
        warnings.append(_no_drain(any(job["id"] == INBOX_JOB for job in settings["jobs"]), limit_factor))
    dev = update_mode_warning(reading)
    if dev:
        warnings.append(dev)
    return {"cluster_role": settings["cluster_role"], "jobs": jobs, "cron_running": reading["cron_running"],
            "logs_size": logs["size"], "logs_free": logs["free"],
            "rotation_age": None if reading["last_rotation"] is None else now - reading["last_rotation"],
            "update": update, "drain": drain, "problems": problems, "warnings": warnings}


def _draining(record, age, now, limit):
    """Whether the cron drain's record shows a drain within the limit: a
    success, or a run skipped because the drain before it still held the
    job's lock (a long pipeline run)."""
    if age is not None and age <= limit:
        return True
    end = _number(record.get("end"))
    return record.get("outcome") == "skipped" and end is not None and now - end <= limit


def _no_drain(cron_on, limit_factor):
    """The warning of a host where nothing drains the app's inbox. Not a
    problem: the role neither installs nor starts the app's unit, and a
    drain run otherwise (another supervisor, a container) is not seen."""
    return ("no inbox drain runs: %s is not active and the cron drain (%sinbox_cron_enabled) %s; the pipeline "
            "runs the app records (alerts, pushes from agents) stay PENDING, never processed"
            % (INBOX_UNIT, PREFIX, "has neither succeeded nor found a drain still running within %d x its "
                                   "interval" % limit_factor if cron_on else "is off"))


def _update(history, now, settings):
    """(the last update attempt as the report gives it, or None; warnings
    about the history itself, never its content)."""
    if not history:
        return None, []
    path = "%s/%s" % (settings["logs_dir"], HISTORY_NAME)
    warnings = []
    if history.get("error"):
        warnings.append("%s %s: not read" % (path, history["error"]))
    elif history.get("bad"):
        warnings.append("%s: %d line(s) at its end are not what bin/update.sh writes; skipped"
                        % (path, history["bad"]))
    last = history.get("last")
    if not last:
        return None, warnings
    commit = last["old_sha"] if last["status"] == "failed" and last["rolled_back"] else last["new_sha"]
    return {"commit": commit, "age": now - last["time"], "status": last["status"],
            "failed_step": last["failed_step"], "rolled_back": last["rolled_back"],
            "old_sha": last["old_sha"], "new_sha": last["new_sha"]}, warnings


def _failed_update(update):
    return ("the last update attempt of the app, %s ago, failed at %s (%s to %s) and %s; bin/update.sh --history shows it"
            % (_human_age(update["age"]), update["failed_step"] or "an unrecorded step", update["old_sha"],
               update["new_sha"], "was rolled back to %s" % update["old_sha"] if update["rolled_back"]
               else "was not rolled back: the host may run a half-updated app"))


def _state_dir_blocked(found):
    """Why the job runner cannot write its records in the state directory, or None."""
    if not found:
        return None
    if found["read_only"]:
        return "is on a read-only filesystem"
    if not found["writable"]:
        return "is not writable by the app user"
    if found["free"] < STATE_DIR_ROOM["bytes"] or found["free_inodes"] < STATE_DIR_ROOM["inodes"]:
        return "is full (%s and %d inodes free)" % (_human_size(found["free"]), found["free_inodes"])
    return None


def _job_cell(job):
    if job is None:
        return "-"
    if job["outcome"] == "unreadable":
        return "BAD-RECORD"
    if job["outcome"] == "env_refused":
        return "ENV-REFUSED"
    # One word per cell: a result format that folds long lines folds at single spaces.
    return "%s/%s" % ("never" if job["age"] is None else _human_age(job["age"]),
                      "-" if job["exit_code"] is None else job["exit_code"])


def status_table(reports):
    """The fleet as one text table, a row per host: {host: status_report}."""
    ids = []
    for report in reports.values():
        ids.extend(job["id"] for job in report["jobs"] if job["id"] not in ids)
    header = ["HOST", "ROLE", "COMMIT", "LAST-UPDATE"] + [i.upper() for i in ids] + [
        "DRAIN", "LOGS", "ROTATED", "FREE", "CRON", "STATUS"]
    rows = [header]
    for host in sorted(reports):
        report = reports[host]
        by_id = {job["id"]: job for job in report["jobs"]}
        update = report.get("update")
        rows.append([host, report["cluster_role"], update["commit"] if update else "-", _update_cell(update)]
                    + [_job_cell(by_id.get(i)) for i in ids] + [
            "+".join(report["drain"]) or "NONE",
            "-" if report["logs_size"] is None else _human_size(report["logs_size"]),
            "never" if report["rotation_age"] is None else _human_age(report["rotation_age"]),
            "-" if report["logs_free"] is None else _human_size(report["logs_free"]),
            "running" if report["cron_running"] else "STOPPED",
            "FAIL" if report["problems"] else "ok"])
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.append(LEGEND)
    lines.append(_commits_line(reports))
    for host in sorted(reports):
        lines.extend("warning: %s: %s" % (host, warning) for warning in reports[host].get("warnings", []))
    return "\n".join(lines)


def _update_cell(update):
    """One word: the last update attempt's age and outcome."""
    if not update:
        return "-"
    outcome = {"success": "updated", "up_to_date": "current"}.get(update["status"])
    if outcome is None:
        outcome = "FAILED:%s%s" % (update["failed_step"] or "?", ":rolled-back" if update["rolled_back"] else "")
    return "%s/%s" % (_human_age(update["age"]), outcome)


def _commits_line(reports):
    """How many hosts run each app commit, the most common first: drift at a glance."""
    counts = {}
    for report in reports.values():
        update = report.get("update")
        commit = update["commit"] if update else None
        counts[commit] = counts.get(commit, 0) + 1
    known = sorted((commit for commit in counts if commit), key=lambda commit: (-counts[commit], commit))
    parts = ["%s on %d host%s" % (commit, counts[commit], "" if counts[commit] == 1 else "s") for commit in known]
    if None in counts:
        parts.append("no update history on %d host%s" % (counts[None], "" if counts[None] == 1 else "s"))
    return "app commits: %s%s" % (", ".join(parts), " (drift)" if len(known) > 1 else "")
