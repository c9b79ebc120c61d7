# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The job runner's records and metrics, and the app's update history: one
writer and one reader, in one language. The state directory is root's, but the app's group writes it, so
everything read there is hostile input: no link is followed, nothing blocks
on a FIFO, every field of a record is checked, and a bad record gives why,
never its content.

The role installs this file on the host beside the job runner, which runs
it as a script when a job ends (under the runner's write lock):

    python3 -I _job_records.py STATE_DIR NAME EXIT_CODE OUTCOME START END [LOGS_DIR LOGROTATE_STATE [SETTINGS]]

replaces STATE_DIR/NAME.state with the job's record, keeping its last
success, and with LOGS_DIR and LOGROTATE_STATE also
STATE_DIR/server_maintanence.prom (node_exporter's textfile format), each
by one rename from a temporary name beside it. SETTINGS (the role's description.metrics_settings) adds
what the shipped alert rules compare with: the jobs on, each with its
interval and when it is late, the rotation's frequency and when it is
overdue, the logs size limit; with it only the jobs on are reported. The
reading for status (_host_reading.py) reads records with the same code.

The app's bin/update.sh appends one JSON line per update attempt to
LOGS_DIR/update-history.jsonl (bin/lib/update.sh, _up_record_history); the
app user writes it. read_history reads a bounded window from its end and
keeps only lines whose every field is what the app writes.
Standard library only: it runs outside Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import calendar
import json
import os
import re
import stat
import sys
import time

# A record: each field and the values it takes.
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
# The order the runner writes them in.
FIELD_ORDER = ("name", "start", "end", "duration", "exit_code", "outcome", "skipped", "timed_out", "last_success")
RECORD_LIMIT = 4096
# A job's record in the state directory is <job id><RECORD_SUFFIX>.
RECORD_SUFFIX = ".state"
METRICS_NAME = "server_maintanence.prom"
# Each gauge: its name (after server_maintanence_), where its samples come
# from and its help text. "record": a field of each job's record, "job": an
# index into each job of the settings, "host": a key of the settings; the
# last two only with the settings.
GAUGES = (
    ("job_last_start_timestamp_seconds", "record", "start", "When the job last started"),
    ("job_last_success_timestamp_seconds", "record", "last_success", "When the job last exited 0"),
    ("job_last_exit_code", "record", "exit_code",
     "Exit code of the last run (75: skipped by the lock, 124: timed out, 65: not run, systemd refuses the env file)"),
    ("job_last_duration_seconds", "record", "duration", "How long the last run took"),
    ("job_last_run_skipped", "record", "skipped",
     "1 when the last run was skipped because the previous one held the lock"),
    ("job_last_run_timed_out", "record", "timed_out", "1 when the timeout stopped the last run"),
    ("job_interval_seconds", "job", 1, "The longest time between two runs of the job's schedule"),
    ("job_late_after_seconds", "job", 2,
     "Time without a success after which the job is late (status_max_intervals intervals)"),
    ("status_max_intervals", "host", "max_intervals", "How many of its intervals a job may go without a success"),
    ("logrotate_interval_seconds", "host", "rotation_interval", "The logrotate frequency of the app logs"),
    ("logrotate_late_after_seconds", "host", "rotation_late_after",
     "Time after the last rotation at which the next one is overdue (the frequency and one run of logrotate)"),
    ("logs_size_limit_bytes", "host", "logs_limit", "The logs directory size above which the host fails its status"),
)
# The collection's one temporary-name convention (_file_safety imports it
# from here: this file must run without Ansible). A file is written as
# <name>.server-maintanence-tmp-<16 hex>~ beside its target, then renamed
# over it. No reader takes that name for its own: it holds a dot, so
# run-parts and cron skip it; it ends in "~", in logrotate's default taboo
# list, and never starts with a dot, since logrotate matches that list with
# FNM_PERIOD; it ends neither in .state (metrics_text's records) nor in .prom
# (node_exporter's textfile collector). What a writer killed mid-write leaves
# under it, the role's sweep removes (_file_safety.leftovers).
TEMPORARY_MARK = ".server-maintanence-tmp-"
LEFTOVER = re.compile(r"^[^.].*\.server-maintanence-tmp-[0-9a-f]{16}~\Z")
# The runner's write lock in the state directory: it holds it from before a
# temporary name of its appears until after it is renamed, so the sweep
# removes the runner's temporary names only while it holds it too.
WRITE_LOCK = ".write.lock"
HISTORY_NAME = "update-history.jsonl"
# How much of the history's end is read: a 200 MB file costs what a small one does.
HISTORY_WINDOW = 1 << 16
# Each field of a history line and what it must be (bin/lib/update.sh writes
# 7-character shas; a full one is accepted too).
_SHA = re.compile(r"[0-9a-f]{7,40}\Z")
_WORD = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})([+-]\d{4}|Z)?\Z")
UPDATE_STATUSES = ("success", "failed", "up_to_date")
# SETTINGS: jobs=NAME:INTERVAL:LATE_AFTER,... max_intervals=N
# rotation=FREQUENCY:OVERDUE_AFTER logs_limit=BYTES (seconds, bytes).
_SETTINGS = re.compile(r"jobs=((?:[a-z0-9_-]{1,32}:[0-9]{1,12}:[0-9]{1,12}(?:,|(?= )))*) max_intervals=([0-9]{1,6}) "
                       r"rotation=([0-9]{1,12}):([0-9]{1,12}) logs_limit=([0-9]{1,20})\Z")
_LOGROTATE_ENTRY = re.compile(r'^"?(.+?)"?\s+(\d+)-(\d+)-(\d+)-(\d+):(\d+):(\d+)\s*$')


def read_small(path, limit):
    """(content, kind): the bytes of the regular file at path, read without
    following a link or blocking; content None when it is not a regular file
    of at most limit bytes or cannot be read; kind None when nothing is
    there, else file, link, directory or other."""
    try:
        info = os.lstat(path)
    except OSError:
        return None, None
    kind = ("link" if stat.S_ISLNK(info.st_mode) else "directory" if stat.S_ISDIR(info.st_mode)
            else "file" if stat.S_ISREG(info.st_mode) else "other")
    if kind != "file":
        return None, kind
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None, kind
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None, "other"
        content = os.read(descriptor, limit + 1)
    except OSError:
        return None, kind
    finally:
        os.close(descriptor)
    return (content if len(content) <= limit else None), kind


def parse_record(text, job):
    """The record's fields, or {"error": why} (never its content)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or key not in RECORD_FIELDS or key in fields:
            return {"error": "has a line that is not one of its fields, or a field twice"}
        if not re.match("(?:%s)\\Z" % RECORD_FIELDS[key], value):
            return {"error": "has a malformed %s" % key}
        fields[key] = value
    missing = sorted(set(RECORD_FIELDS) - set(fields))
    if missing:
        return {"error": "lacks %s" % ", ".join(missing)}
    if fields["name"] != job or int(fields["exit_code"]) > 255:
        return {"error": "names another job or has an exit code above 255"}
    return fields


def record_name(job):
    """The name of a job's record in the state directory."""
    return job + RECORD_SUFFIX


def read_record(state_dir, job):
    """The record of job in state_dir: None when there is none, else its
    fields or {"error": why}."""
    content, kind = read_small(os.path.join(state_dir, record_name(job)), RECORD_LIMIT)
    if kind is None:
        return None
    if content is None:
        return {"error": "is not a regular file of at most %d bytes (found: %s)" % (RECORD_LIMIT, kind)}
    return parse_record(content.decode("utf-8", "replace"), job)


def read_records(state_dir, jobs):
    """{job: its record} for each of jobs that has one."""
    records = {}
    for job in jobs:
        found = read_record(state_dir, job)
        if found is not None:
            records[job] = found
    return records


def last_rotation(state_file, logs_dir):
    """The newest time logrotate's state file records for one of the *.log
    files directly in logs_dir (logrotate writes local time), or None."""
    content, _kind = read_small(state_file, 1 << 24)
    if content is None:
        return None
    newest = None
    for line in content.decode("utf-8", "replace").splitlines():
        match = _LOGROTATE_ENTRY.match(line)
        if not match:
            continue
        path = match.group(1)
        if os.path.dirname(path) != logs_dir.rstrip("/") or not path.endswith(".log"):
            continue
        stamp = time.mktime(tuple(int(part) for part in match.groups()[1:]) + (0, 0, -1))
        newest = stamp if newest is None else max(newest, stamp)
    return newest


def disk_usage(path):
    """Bytes allocated to path and everything under it, each inode once
    (du -sB1), no link followed; None when path is not a directory."""
    try:
        top = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(top.st_mode):
        return None
    seen = set([(top.st_dev, top.st_ino)])
    total = top.st_blocks * 512
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                found = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (found.st_dev, found.st_ino) not in seen:
                seen.add((found.st_dev, found.st_ino))
                total += found.st_blocks * 512
    return total


def _timestamp(text):
    """A history timestamp as a Unix time, or None. Without a zone it is the
    host's local time (date's fallback in bin/lib/update.sh)."""
    match = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if not match:
        return None
    parts = [int(part) for part in match.groups()[:6]]
    zone = match.group(7)
    try:
        if zone is None:
            return time.mktime(tuple(parts) + (0, 0, -1))
        offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[3:]) * 60)
        return calendar.timegm(tuple(parts) + (0, 0, 0)) - offset
    except (OverflowError, ValueError):
        return None


def history_entry(line):
    """One history line's fields, checked one by one, or None when the line
    is not what the app writes (its content is never shown)."""
    try:
        found = json.loads(line)
    except ValueError:
        return None
    if not isinstance(found, dict) or set(found) != set(("timestamp", "old_sha", "new_sha", "status", "commits",
                                                         "mode", "auto_update", "failed_step", "rolled_back")):
        return None
    when = _timestamp(found["timestamp"])
    checks = (when is not None,
              all(isinstance(found[key], str) and _SHA.match(found[key]) for key in ("old_sha", "new_sha")),
              found["status"] in UPDATE_STATUSES,
              isinstance(found["commits"], int) and not isinstance(found["commits"], bool)
              and 0 <= found["commits"] < 1000000,
              isinstance(found["mode"], str) and _WORD.match(found["mode"]),
              isinstance(found["auto_update"], bool) and isinstance(found["rolled_back"], bool),
              found["failed_step"] is None or (isinstance(found["failed_step"], str)
                                               and _WORD.match(found["failed_step"])))
    if not all(checks):
        return None
    return dict(found, time=when)


def read_history(path, window=HISTORY_WINDOW):
    """The last update attempt in the history at path: {"last": its fields
    or None, "bad": how many lines of the window read are not the app's,
    "error": why the file was not read, or None}; None when there is no
    file. Read as root where the app user writes: no link followed, no
    blocking on a FIFO, at most window bytes from the end."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return {"last": None, "bad": 0, "error": "is not a regular file"}
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return {"last": None, "bad": 0, "error": "cannot be read (%s)" % error.strerror}
    try:
        opened = os.fstat(descriptor)
        if not stat.S_ISREG(opened.st_mode):
            return {"last": None, "bad": 0, "error": "is not a regular file"}
        start = max(0, opened.st_size - window)
        os.lseek(descriptor, start, os.SEEK_SET)
        data = b""
        while len(data) < window:
            chunk = os.read(descriptor, window - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as error:
        return {"last": None, "bad": 0, "error": "cannot be read (%s)" % error.strerror}
    finally:
        os.close(descriptor)
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # begun mid-line
    last, bad = None, 0
    for raw in reversed(lines):
        if not raw.strip():
            continue
        try:
            entry = history_entry(raw.decode("utf-8"))
        except UnicodeDecodeError:
            entry = None
        if entry is None:
            bad += 1
        elif last is None:
            last = entry
    return {"last": last, "bad": bad, "error": None}


def temporary_name(name):
    """A new temporary name for name, in the pattern LEFTOVER recognises."""
    return "%s%s%s~" % (name.lstrip("."), TEMPORARY_MARK, binascii.hexlify(os.urandom(8)).decode("ascii"))


def replace(path, text, mode=0o644):
    """Replace path with text in one rename from a temporary name beside it,
    so that no reader sees half a file; a link at path is replaced, never
    followed."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, temporary_name(name))
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        try:
            os.fchmod(descriptor, mode)
            os.write(descriptor, text.encode("utf-8"))
        finally:
            os.close(descriptor)
        os.rename(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def record(state_dir, name, exit_code, outcome, start, end):
    """Write name's record: when it last started and ended, how long it
    took, its exit code, whether it was skipped or stopped, and when it last
    succeeded (kept from the previous record while it is readable)."""
    previous = read_record(state_dir, name) or {}
    last_success = end if outcome == "success" else previous.get("last_success", "")
    fields = {"name": name, "start": start, "end": end, "duration": "%.3f" % (float(end) - float(start)),
              "exit_code": str(exit_code), "outcome": outcome, "skipped": "1" if outcome == "skipped" else "0",
              "timed_out": "1" if outcome == "timeout" else "0", "last_success": last_success}
    replace(os.path.join(state_dir, record_name(name)),
            "".join("%s=%s\n" % (key, fields[key]) for key in FIELD_ORDER))


def parse_settings(text):
    """The metrics settings the runner passes, or None when they are not
    what the role writes: {"jobs": [(name, interval, late_after)],
    "max_intervals", "rotation_interval", "rotation_late_after",
    "logs_limit"}."""
    match = _SETTINGS.match(text or "")
    if not match:
        return None
    jobs = [tuple([entry.split(":")[0]] + [int(part) for part in entry.split(":")[1:]])
            for entry in match.group(1).split(",") if entry]
    return {"jobs": jobs, "max_intervals": int(match.group(2)), "rotation_interval": int(match.group(3)),
            "rotation_late_after": int(match.group(4)), "logs_limit": int(match.group(5))}


def _family(lines, metric, text):
    lines.append("# HELP server_maintanence_%s %s" % (metric, text))
    lines.append("# TYPE server_maintanence_%s gauge" % metric)


def metrics_text(state_dir, logs_dir, logrotate_state, settings=None):
    """node_exporter's textfile format: every job's record, the logs
    directory's disk usage and the last rotation, and with settings
    (parse_settings) what the alert rules compare them with, the records
    then limited to the jobs on. A record that is not well formed is left
    out."""
    names = sorted(entry[:-len(RECORD_SUFFIX)] for entry in os.listdir(state_dir) if entry.endswith(RECORD_SUFFIX))
    if settings is not None:
        names = [name for name in names if name in set(job[0] for job in settings["jobs"])]
    records = [found for found in (read_record(state_dir, name) for name in names)
               if found is not None and "error" not in found]
    lines = []
    for metric, source, key, text in GAUGES:
        if source != "record" and settings is None:
            continue
        _family(lines, metric, text)
        if source == "record":
            lines.extend('server_maintanence_%s{name="%s"} %s' % (metric, found["name"], found[key])
                         for found in records if found[key] != "")
        elif source == "job":
            lines.extend('server_maintanence_%s{name="%s"} %d' % (metric, job[0], job[key]) for job in settings["jobs"])
        else:
            lines.append("server_maintanence_%s %d" % (metric, settings[key]))
    size = disk_usage(logs_dir)
    if size is not None:
        _family(lines, "logs_size_bytes", "Disk space used by the app logs directory")
        lines.append("server_maintanence_logs_size_bytes %d" % size)
    rotated = last_rotation(logrotate_state, logs_dir)
    if rotated is not None:
        _family(lines, "logrotate_last_rotation_timestamp_seconds", "When logrotate last rotated one of the app logs")
        lines.append("server_maintanence_logrotate_last_rotation_timestamp_seconds %d" % rotated)
    history = read_history(os.path.join(logs_dir, HISTORY_NAME))
    last = history and history["last"]
    if last:
        _family(lines, "app_commit_info", "The app commit the host runs, by its last update attempt (always 1)")
        lines.append('server_maintanence_app_commit_info{commit="%s"} 1' % running_commit(last))
        _family(lines, "update_last_attempt_timestamp_seconds", "When the app's last update attempt ran")
        lines.append("server_maintanence_update_last_attempt_timestamp_seconds %d" % last["time"])
        _family(lines, "update_last_attempt_failed",
                "1 when the app's last update attempt failed, by its outcome, failed step and rollback")
        lines.append('server_maintanence_update_last_attempt_failed{status="%s",failed_step="%s",rolled_back="%s"} %d'
                     % (last["status"], last["failed_step"] or "", "true" if last["rolled_back"] else "false",
                        last["status"] == "failed"))
    return "".join(line + "\n" for line in lines)


def running_commit(entry):
    """The commit the app runs after an update attempt: the new one, unless
    the attempt failed and was rolled back to the old one."""
    return entry["old_sha"] if entry["status"] == "failed" and entry["rolled_back"] else entry["new_sha"]


def main(argv):
    if len(argv) not in (7, 9, 10) or not re.match(RECORD_FIELDS["name"] + "\\Z", argv[2]):
        sys.stderr.write("usage: _job_records.py STATE_DIR NAME EXIT_CODE OUTCOME START END "
                         "[LOGS_DIR LOGROTATE_STATE [SETTINGS]]\n")
        return 64
    state_dir, name, exit_code, outcome, start, end = argv[1:7]
    status = 0
    try:
        record(state_dir, name, int(exit_code), outcome, start, end)
    except (OSError, ValueError) as error:
        sys.stderr.write("could not write %s/%s.state: %s\n" % (state_dir, name, getattr(error, "strerror", error)))
        status = 73
    settings = parse_settings(argv[9]) if len(argv) == 10 else None
    if len(argv) == 10 and settings is None:
        sys.stderr.write("metrics settings are not what the role writes: the alert rules' gauges left out\n")
    if len(argv) >= 9:
        try:
            replace(os.path.join(state_dir, METRICS_NAME), metrics_text(state_dir, argv[7], argv[8], settings))
        except OSError as error:
            sys.stderr.write("could not write %s/%s: %s\n" % (state_dir, METRICS_NAME, error.strerror))
            status = 73
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
