"""Controller-side filters of the server_maintanence role and of
playbooks/status.yml.

They run inside the play on the controller, so validating a schedule,
comparing a crontab or judging a host's status costs no round-trip to it.
Each one is documented for ansible-doc in the .yml file of its name beside
this one.
"""

from __future__ import absolute_import, division, print_function

import datetime
import hashlib
import json
import posixpath
import re
from urllib.parse import urlsplit

from ansible_collections.server_maintanence.ops.plugins.module_utils.app_crontab import reconcile

CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)
_ELEMENT = re.compile(r"^(?:\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$")
_SPLAYABLE_MINUTE = re.compile(r"^\*/(\d+)$")

_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
_ACCOUNT = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_SIZE = re.compile(r"([0-9]+)([kMG]?)")
_SIZE_UNITS = {"": 1, "k": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
_MODE = re.compile(r"0?[0-7]{3}")
_UNIT = re.compile(r"[A-Za-z0-9@._:-]+\.service")
# Env file values the role writes hold only characters that python-dotenv (the
# app's .env) and systemd's EnvironmentFile= (the units and the jobs) read
# alike: no quotes, spaces, $, `, \, ~ or ;. The env_file module quotes for
# systemd where needed.
_URL = re.compile(r"https?://[A-Za-z0-9._:/?#@!*+,=%\[\]-]+")
_INSTANCE_ID = re.compile(r"[A-Za-z0-9._:-]+")
_API_KEY = re.compile(r"[A-Za-z0-9._+/=-]+")
PREFIX = "server_maintanence_"
LEGEND = "job cells show age of last success/last exit code, - if not on the host"


def _field_errors(text, name, low, high):
    errors = []
    for element in text.split(","):
        match = _ELEMENT.match(element)
        if not match:
            errors.append("%s field '%s' is not *, N, N-M, */S or N-M/S" % (name, element))
            continue
        first, last, step = match.groups()
        for number in (first, last):
            if number is not None and not low <= int(number) <= high:
                errors.append("%s %s is outside %d-%d" % (name, number, low, high))
        if first is not None and last is not None and int(first) > int(last):
            errors.append("%s range %s-%s runs backwards" % (name, first, last))
        if step is not None and not 1 <= int(step) <= high:
            errors.append("%s step /%s is outside 1-%d" % (name, step, high))
    return errors


def cron_errors(schedule):
    """Everything wrong with a 5-field numeric cron schedule; [] when valid."""
    if not isinstance(schedule, str) or "\n" in schedule:
        return ["must be one line of text"]
    fields = schedule.split()
    if len(fields) != len(CRON_FIELDS):
        return ["has %d fields, needs 5 (minute hour day month weekday)" % len(fields)]
    errors = []
    for text, (name, low, high) in zip(fields, CRON_FIELDS):
        errors.extend(_field_errors(text, name, low, high))
    if not errors and not fields[2].startswith("*") and fields[4].startswith("*"):
        # Only the day of the month decides: it must exist in one of the months.
        days, months = _numbers(fields[2], 1, 31), _numbers(fields[3], 1, 12)
        if min(days) > max(_MONTH_DAYS[month] for month in months):
            errors.append("day %s never comes in month %s: the job would never run" % (fields[2], fields[3]))
    return errors


# The most days each month can have (February: in a leap year).
_MONTH_DAYS = dict(zip(range(1, 13), (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)))


def _numbers(text, low, high):
    """The values a valid cron field stands for."""
    values = set()
    for element in text.split(","):
        first, last, step = _ELEMENT.match(element).groups()
        start = low if first is None else int(first)
        end = high if first is None or (last is None and step) else int(last if last is not None else first)
        values.update(range(start, end + 1, int(step or 1)))
    return values


_PLAIN_NUMBER = re.compile(r"0|[1-9][0-9]{0,8}")


def _whole_number(value):
    """A non-negative integer written plainly (4, "4"), else None: no sign,
    leading zero, underscore, space or newline, which int() would accept."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if _matches(_PLAIN_NUMBER, value) else None


# Directories the role must never take as one it creates, chowns or removes:
# the root, every directory directly under it, the standard directories one
# level below /var and /home (a home, /var/lib, /var/log...), and anything
# inside the system trees or the world-writable ones.
_SYSTEM_PARENTS = ("/var", "/home")
_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root",
                 "/run/lock", "/sbin", "/sys", "/tmp", "/usr", "/var/tmp")


def _inside(path, directory):
    """Whether path is directory or lies below it."""
    return (path.rstrip("/") + "/").startswith(directory.rstrip("/") + "/")


def system_path(path):
    """The reason a directory is the system's and not the role's to manage,
    or None. path: absolute, without '..'."""
    path = posixpath.normpath("/" + path.strip("/"))
    parent = path.rsplit("/", 1)[0] or "/"
    if parent == "/" or parent in _SYSTEM_PARENTS:
        return "is a system directory (/, a directory directly under /, or one directly under %s)" % (
            " or ".join(_SYSTEM_PARENTS))
    tree = next((tree for tree in _SYSTEM_TREES if _inside(path, tree)), None)
    if tree:
        return "lies inside %s, which belongs to the system" % tree
    return None


def _matches(pattern, value):
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def input_errors(inputs):
    """Every rule on the role's inputs that meta/argument_specs.yml cannot
    express, checked on the controller. Returns one message per broken rule,
    each naming its variable; [] when all hold. `inputs` maps the variable
    names without their server_maintanence_ prefix to their values."""
    errors = []

    def fail(name, text):
        errors.append("%s%s %s" % (PREFIX, name, text))

    for name in ("project_dir", "logs_dir", "uv_path", "env_file", "state_dir", "metrics_dir"):
        value = inputs[name]
        if name in ("uv_path", "metrics_dir") and value == "":
            continue  # uv: found the way the app's installer finds it; metrics: off
        if not _matches(_SAFE_PATH, value) or "/../" in value + "/":
            fail(name, "must be an absolute path made of letters, digits and . _ - + / only "
                       "(no spaces, newlines, '..' or shell metacharacters); got %r" % (value,))
    errors.extend(_directory_errors(inputs, errors))
    for name in ("user", "group"):
        if not _matches(_ACCOUNT, inputs[name]):
            fail(name, "must be a plain account name like www-data; got %r" % (inputs[name],))
    for name in ("health_check_schedule", "push_schedule", "auto_update_schedule", "inbox_schedule"):
        problems = cron_errors(inputs[name])
        if problems:
            fail(name, "must be 5 numeric cron fields (minute 0-59, hour 0-23, day 1-31, month 1-12, "
                       "weekday 0-7; each *, N, N-M, */S or N-M/S, comma-separated); got %r: %s"
                 % (inputs[name], "; ".join(problems)))
    for name, least in (("logrotate_rotate", 0), ("logrotate_history_rotate", 0),
                        ("health_check_timeout", 1), ("push_timeout", 1),
                        ("auto_update_timeout", 1), ("inbox_timeout", 1), ("status_max_intervals", 1)):
        number = _whole_number(inputs[name])
        if number is None or number < least:
            fail(name, "must be a whole number >= %d; got %r" % (least, inputs[name]))
    for name, optional in (("logrotate_maxsize", True), ("logrotate_minsize", True),
                           ("logrotate_history_maxsize", False), ("status_max_logs_size", False)):
        value = inputs[name]
        if not (_matches(_SIZE, value) or (optional and value == "")):
            fail(name, "must be a size like 500k, 100M or 1G%s; got %r"
                 % (" (or empty for none)" if optional else "", value))
    for name in ("logs_dir_mode", "logrotate_create_mode"):
        value = inputs[name]
        if not _matches(_MODE, value) or value[-1] != "0":
            fail(name, "must be an octal mode such as \"0750\" that gives others no access "
                       "(logs hold hostnames and errors); got %r" % (value,))
    for name, units in (("logrotate_reopen_units", [unit.get("name") for unit in inputs["logrotate_reopen_units"]]),
                        ("env_file_units", inputs["env_file_units"])):
        for unit in units:
            if not _matches(_UNIT, unit):
                fail(name, "entry %r is not a systemd service name such as server-monitoring.service" % (unit,))
    if inputs["cluster_role"] in ("agent", "both"):
        url = inputs.get("hub_url")
        if not (_matches(_URL, url) and _has_host(url)):
            fail("hub_url", "is required when %scluster_role is %s: an http:// or https:// URL "
                            "with a host (and a port of 1-65535 if any), without spaces, quotes or shell "
                            "metacharacters; got %s"
                 % (PREFIX, inputs["cluster_role"], "(unset)" if url is None else repr(url)))
    if inputs["manage_env_file"]:
        if not _matches(_INSTANCE_ID, inputs["instance_id"]):
            fail("instance_id", "must be one word of letters, digits and . _ : -; got %r"
                 % (inputs["instance_id"],))
        key = inputs.get("hub_api_key")
        if key is not None and not _matches(_API_KEY, key):
            # Never echo the value: it is a secret.
            fail("hub_api_key", "must be one line of letters, digits and . _ + / = - (no spaces, "
                                "quotes or shell metacharacters); its value is not shown")
    return errors


def _has_host(url):
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return bool(parts.hostname) and port != 0


# The directories the role creates, chowns or removes, and whose contents
# the app user writes.
_MANAGED_DIRS = ("logs_dir", "state_dir", "metrics_dir")


def _directory_errors(inputs, earlier):
    """Where a managed directory sits: never a system directory, and the job
    runner's state and the metrics link never mixed with the app's own tree
    (the project or its logs), which the app user controls."""
    errors = []
    paths = {name: posixpath.normpath(inputs[name]) for name in ("project_dir",) + _MANAGED_DIRS
             if inputs[name] and not any(error.startswith(PREFIX + name + " ") for error in earlier)}
    for name in _MANAGED_DIRS:
        reason = system_path(paths[name]) if name in paths else None
        if reason:
            errors.append("%s%s %s %s: the role chowns, creates or removes it; choose a directory of "
                          "the app's or the role's own" % (PREFIX, name, paths.pop(name), reason))
    # Each directory against those it must stay apart from; one message each.
    apart = {"logs_dir": ("project_dir",), "state_dir": ("logs_dir", "project_dir"),
             "metrics_dir": ("logs_dir", "project_dir", "state_dir")}
    for name, others in apart.items():
        mine = paths.get(name)
        for other in (other for other in others if mine and other in paths):
            theirs = paths[other]
            # The logs may sit inside the project (the app's default), not hold it.
            if _inside(theirs, mine) or (name != "logs_dir" and _inside(mine, theirs)):
                errors.append("%s%s %s %s %s%s %s: they must be separate directories"
                              % (PREFIX, name, mine, "is" if mine == theirs else "holds" if _inside(theirs, mine)
                                 else "lies inside", PREFIX, other, theirs))
                break
    return errors


def env_lines(settings):
    """The KEY -> value lines the role keeps in the app's env file, each value
    in the form the app's config/settings.py parses (checked against the app's
    source by tests/unit/test_upstream_contract.py).

    `settings` holds cluster_role, hub_url, instance_id, hub_api_key (None:
    not managed), api_key_auth_enabled, hub_ssrf_allowed,
    ssrf_allowed_hosts: the SSRF_ALLOWED_HOSTS value now on the host (None:
    no such line), whose entries are kept, and optionally logs_dir and
    project_dir: a logs directory other than the app's default
    (<project_dir>/logs) is passed on as LOGS_DIR.
    """
    lines = {}
    logs_dir, project_dir = settings.get("logs_dir"), settings.get("project_dir")
    if logs_dir and project_dir and posixpath.normpath(logs_dir) != posixpath.join(
            posixpath.normpath(project_dir), "logs"):
        # config/settings.py: LOGS_DIR, else BASE_DIR / "logs"; django.log goes there.
        lines["LOGS_DIR"] = logs_dir
    if settings["cluster_role"] in ("agent", "both"):
        lines["HUB_URL"] = settings["hub_url"]
        lines["INSTANCE_ID"] = settings["instance_id"]
        if settings.get("hub_api_key") is not None:
            lines["HUB_API_KEY"] = settings["hub_api_key"]
        if settings["hub_ssrf_allowed"]:
            # push_to_hub refuses a hub on a private or loopback address unless
            # its host name is listed here; a fleet's hub usually is one.
            hosts = [h.strip() for h in (settings.get("ssrf_allowed_hosts") or "").split(",") if h.strip()]
            hub_host = urlsplit(settings["hub_url"]).hostname
            lines["SSRF_ALLOWED_HOSTS"] = ",".join(hosts + ([hub_host] if hub_host not in hosts else []))
    if settings["cluster_role"] in ("hub", "both"):
        # The app turns auth on only for exactly "1".
        lines["API_KEY_AUTH_ENABLED"] = "1" if settings["api_key_auth_enabled"] else "0"
    return lines


def _missing_packages(probe, packages):
    return [p["package"] for p in packages if p["needed"] and not probe["commands"][p["command"]]]


def host_errors(probe, settings):
    """Every host-side rule that what the probe read breaks, before any change;
    [] when the host can take the role. `settings`: state, guarded (rows of
    the role's table, {path, kind, setting}: the paths the app user could
    plant a link at or under), user,
    group, uv (the path the entries will run), manage_packages, packages
    ({package, command, needed}), cron_daily_runner. With state absent only
    the guarded paths are checked."""
    errors = _planted(probe, settings["guarded"])
    if settings["state"] == "absent":
        return errors
    if not probe["user_exists"]:
        errors.append("%suser %s does not exist on the host: the role does not create the app's "
                      "account; deploy the app first" % (PREFIX, json.dumps(settings["user"])))
    if not probe["group_exists"]:
        errors.append("%sgroup %s does not exist on the host" % (PREFIX, json.dumps(settings["group"])))
    if probe["uv"]["unsafe"]:
        errors.append("%suv_path: uv at %s is group- or world-writable (mode %s): anyone who can rewrite "
                      "it runs code as %s from cron. Fix with: chmod go-w %s"
                      % (PREFIX, settings["uv"], probe["uv"]["mode"], settings["user"], settings["uv"]))
    missing = _missing_packages(probe, settings["packages"])
    if not settings["manage_packages"] and missing:
        errors.append("%s%smanage_packages is false and these packages are missing: %s. Install them, "
                      "or set %smanage_packages: true"
                      % (PREFIX + "logrotate_compression is zstd but " if "zstd" in missing else "",
                         PREFIX, ", ".join(missing), PREFIX))
    if not (probe["commands"]["flock"] and probe["commands"]["timeout"]):
        errors.append("flock or timeout is missing (util-linux, coreutils): every cron entry runs under both")
    runner = settings["cron_daily_runner"]
    if not probe["systemd"] and not probe["paths"][runner]["exists"] and "logrotate" not in missing:
        errors.append("%s is missing and systemd is not PID 1: nothing would run logrotate. "
                      "Reinstall the logrotate package" % runner)
    return errors


_KIND_NAMES = {"link": "symbolic link", "file": "file", "directory": "directory",
               "other": "FIFO, socket or device"}


def _planted(probe, guarded):
    """A message for each guarded path (the rows of the role's table with a
    setting: the logs, state and metrics directories, the env file) that is
    a link or of the wrong type, or that lies under a link the app user
    could have made: the role never acts through one."""
    errors = []
    for row in guarded:
        if not row["path"]:
            continue
        found = probe["paths"][row["path"]]
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
    return errors


def cron_fields(schedule):
    """{'minute': .., 'hour': .., 'day': .., 'month': .., 'weekday': ..}"""
    return dict(zip((field[0] for field in CRON_FIELDS), schedule.split()))


def cron_splay(schedule, seed):
    """Shift a */N minute field by a stable offset in 0..N-1 taken from seed.

    Any other minute field is returned unchanged: there is no interval to
    spread within.
    """
    fields = schedule.split()
    match = _SPLAYABLE_MINUTE.match(fields[0])
    if not match:
        return " ".join(fields)
    step = int(match.group(1))
    offset = int(hashlib.sha256(str(seed).encode()).hexdigest()[:8], 16) % step
    fields[0] = "%d-59/%d" % (offset, step)
    return " ".join(fields)


def cron_entries(jobs, settings):
    """The crontab entries of the app's jobs, as the app_crontab module takes
    them: for each, its name, the state it must have and its whole line. The
    line hands the job to the role's job runner (`settings["runner"]`), which
    loads the app's env file, holds the job's lock, applies its timeout, logs
    and records the outcome. A job runs its `command`, or manage.py with its
    `manage` arguments through `settings["manage"]`. `markers`: the text that
    makes a crontab line this job's, the runner's call or the lock of the
    inline wrapper that the runner replaced. `settings`: runner, logs_dir,
    manage."""
    entries = []
    for job in jobs:
        default_log = "%s.log" % job["id"]
        call = "%s%s %s " % (settings["runner"], "" if job["log"] == default_log else " --log " + job["log"],
                             job["id"])
        command = job["command"] if "command" in job else "%s %s" % (settings["manage"], job["manage"])
        entries.append({"name": job["name"], "state": "present" if job["wanted"] else "absent",
                        "line": "%s %s%s %s" % (" ".join(job["schedule"].split()), call, job["timeout"], command),
                        "markers": [call, " %s/%s.lock " % (settings["logs_dir"], job["id"])]})
    return entries


# The record the role leaves in a directory it creates: root's, so the app
# user cannot forge it.
RECORD = {"owner": "root", "group": "root", "mode": "0644", "content": ""}


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
    if found.get("type") != kind or not _attributes_hold(found, row):
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
    return (found.get(record) or {}).get("type") == "file" and found[record].get("owner") == RECORD["owner"]


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
    table's order, removals last; `env_file` the env_file module's arguments
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
        if remove + directories:
            steps["paths"] = remove + records + directories
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
            put.append(_arguments(row, row["kind"]))
            if row.get("record") and not here["exists"]:
                put.append(dict(RECORD, path=record_of(row), state="file"))
    if put + remove:
        steps["paths"] = put + remove

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
        here = found[env["path"]]
        if keys or not (here.get("type") == "file" and _attributes_hold(here, env)):
            steps["env_file"] = {"path": env["path"], "owner": env["owner"], "group": env["group"],
                                 "mode": env["mode"], "setting": env["setting"], "keys": keys}
    return steps


# ------------------------------------------ playbooks/status.yml's verdict --

def cron_interval(schedule):
    """The longest time, in seconds, between two runs of a valid 5-field cron
    schedule: how long a healthy job may go without running."""
    fields = schedule.split()
    minute, hour, day, month, weekday = (_numbers(text, low, high) for text, (_name, low, high)
                                         in zip(fields, CRON_FIELDS))
    weekday = {0 if value == 7 else value for value in weekday}
    times = sorted(h * 60 + m for h in hour for m in minute)
    longest_in_a_day = max([b - a for a, b in zip(times, times[1:])] or [0])
    day_star, weekday_star = fields[2].startswith("*"), fields[4].startswith("*")
    if len(day) == 31 and len(weekday) == 7 and len(month) == 12:
        return 60 * max(longest_in_a_day, times[0] + 1440 - times[-1])

    def fires(date):
        on_day, on_weekday = date.day in day, date.isoweekday() % 7 in weekday
        if day_star or weekday_star:  # cron: either star means both must match
            return date.month in month and on_day and on_weekday
        return date.month in month and (on_day or on_weekday)

    # Eight years hold every pattern of days, leap days included.
    first = datetime.date(2024, 1, 1)
    days = [n for n in range(366 * 8) if fires(first + datetime.timedelta(days=n))]
    between_days = [(b - a) * 1440 + times[0] - times[-1] for a, b in zip(days, days[1:])]
    return 60 * max([longest_in_a_day] + between_days)


def size_bytes(text):
    """A logrotate-style size (500k, 100M, 1G; k = 1024) in bytes."""
    number, unit = _SIZE.fullmatch(str(text)).groups()
    return int(number) * _SIZE_UNITS[unit]


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


def status_report(probe, settings):
    """One host's maintenance status from a probe run with report=true, and
    the problems that fail it: a wanted job with no success within
    max_intervals of its interval (counted from when the crontab last
    changed while it has none), a record the probe could not trust, cron
    not running, the logs directory above max_logs_size. `settings`: cluster_role, jobs ([{id, name,
    schedule}] of the jobs the host should run), max_intervals,
    max_logs_size, logs_dir, state_dir."""
    now = probe["now"]
    limit_factor = int(settings["max_intervals"])
    jobs, problems = [], []
    for job in settings["jobs"]:
        found = probe["jobs"].get(job["id"]) or {}
        if "error" in found:
            # Never trusted: the app user writes the state directory.
            jobs.append({"id": job["id"], "age": None, "exit_code": None, "outcome": "unreadable",
                         "interval": None})
            record = "%s/%s.state" % (settings["state_dir"], job["id"])
            problems.append("%s: its record %s %s; the job runner writes a fresh one on the job's next run "
                            "once the file is removed" % (job["name"], record, found["error"]))
            continue
        last_success = _number(found.get("last_success"))
        exit_code = found.get("exit_code")
        interval = cron_interval(job["schedule"])
        limit = limit_factor * interval
        age = None if last_success is None else now - last_success
        jobs.append({"id": job["id"], "age": age, "exit_code": None if exit_code is None else int(exit_code),
                     "outcome": found.get("outcome"), "interval": interval})
        last_run = ("no run recorded" if not found
                    else "last run %s ago ended %s, exit code %s"
                    % (_human_age(now - (_number(found.get("end")) or now)), found.get("outcome"), exit_code))
        # A job not yet successful gets its intervals from when the crontab
        # last changed (the role installed or edited its entry).
        since = last_success if last_success is not None else probe.get("crontab_changed")
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
    if not probe["cron_running"]:
        problems.append("cron is not running: none of the jobs runs")
    logs = probe["logs"]
    if logs["size"] is not None and logs["size"] > size_bytes(settings["max_logs_size"]):
        problems.append("the logs directory %s uses %s, more than %sstatus_max_logs_size %s"
                        % (settings["logs_dir"], _human_size(logs["size"]), PREFIX, settings["max_logs_size"]))
    return {"cluster_role": settings["cluster_role"], "jobs": jobs, "cron_running": probe["cron_running"],
            "logs_size": logs["size"], "logs_free": logs["free"],
            "rotation_age": None if probe["last_rotation"] is None else now - probe["last_rotation"],
            "problems": problems}


def _job_cell(job):
    if job is None:
        return "-"
    if job["outcome"] == "unreadable":
        return "BAD-RECORD"
    # One word per cell: a result format that folds long lines folds at single spaces.
    return "%s/%s" % ("never" if job["age"] is None else _human_age(job["age"]),
                      "-" if job["exit_code"] is None else job["exit_code"])


def status_table(reports):
    """The fleet as one text table, a row per host: {host: status_report}."""
    ids = []
    for report in reports.values():
        ids.extend(job["id"] for job in report["jobs"] if job["id"] not in ids)
    header = ["HOST", "ROLE"] + [i.upper() for i in ids] + [
        "LOGS", "ROTATED", "FREE", "CRON", "STATUS"]
    rows = [header]
    for host in sorted(reports):
        report = reports[host]
        by_id = {job["id"]: job for job in report["jobs"]}
        rows.append([host, report["cluster_role"]] + [_job_cell(by_id.get(i)) for i in ids] + [
            "-" if report["logs_size"] is None else _human_size(report["logs_size"]),
            "never" if report["rotation_age"] is None else _human_age(report["rotation_age"]),
            "-" if report["logs_free"] is None else _human_size(report["logs_free"]),
            "running" if report["cron_running"] else "STOPPED",
            "FAIL" if report["problems"] else "ok"])
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines + [LEGEND])


class FilterModule(object):
    def filters(self):
        return {
            "input_errors": input_errors,
            "host_errors": host_errors,
            "env_lines": env_lines,
            "cron_fields": cron_fields,
            "cron_splay": cron_splay,
            "cron_entries": cron_entries,
            "plan": plan,
            "cron_interval": cron_interval,
            "size_bytes": size_bytes,
            "status_report": status_report,
            "status_table": status_table,
        }
