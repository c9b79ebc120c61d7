# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The one description of a host that the server_maintanence role wants,
built on the controller from the role's checked variables: what the
maintenance module compares with the host and applies in one call.

Everything here is data or a plain function of the inputs: the paths the
role owns with their content, owner and mode, the app's jobs, the env
file's keys, the packages. The host-side facts it cannot know (the uv the
app's installer would find, the SSRF_ALLOWED_HOSTS entries already set)
are filled in by the module, on the host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.server_maintanence.ops.plugins.module_utils._constants import (
    APP_UNIT, CRON_DAILY_RUNNER, ENV_LOADER, HOURLY_RUNNER, INBOX_UNIT, JOB_CONFIG, JOB_RECORDS, JOB_RUNNER,
    LOGROTATE_CONFIG, LOGROTATE_STATE, PREFIX, SUDOERS_FILE)
from ansible_collections.server_maintanence.ops.plugins.module_utils._env_file import env_lines, logs_dir_setting
from ansible_collections.server_maintanence.ops.plugins.module_utils._job_records import METRICS_NAME, WRITE_LOCK, record_name
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.cron import cron_interval, cron_splay, late_after

# Each logrotate frequency in seconds (a month and a year at their longest),
# and how often the runner that rotates runs: the role's hourly runner for
# hourly, the system's daily logrotate (timer or cron.daily) otherwise.
ROTATION_SECONDS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 31 * 86400,
                    "yearly": 366 * 86400}
# The shipped alert rules (docs/alerting.md), beside the role's other files.
ALERT_RULES = "server-maintanence.rules.yml"
# Where the app's installer (bin/lib/paths.sh, resolve_uv) looks for uv, in
# its order; "~/" is the app user's home.
UV_CANDIDATES = ["~/.local/bin/uv", "~/.cargo/bin/uv", "/opt/homebrew/bin/uv", "/usr/local/bin/uv", "/usr/bin/uv"]
# Env file keys read back and compared in plain; the others (HUB_URL, which
# may carry credentials, and HUB_API_KEY) are compared on the host and never
# leave it. Only those are no_log values: Ansible masks a no_log value
# wherever it appears in a result, so a "1" among them would garble it.
ENV_PLAIN_KEYS = ["SSRF_ALLOWED_HOSTS", "API_KEY_AUTH_ENABLED", "INSTANCE_ID", "LOGS_DIR"]

# The job runner stops a job TIMEOUT seconds after it starts and kills it
# KILL_GRACE seconds later (`timeout -k 30`).
KILL_GRACE_SECONDS = 30
# The app reclaims a pipeline run left PROCESSING this many minutes
# (apps/orchestration/inbox.py DEFAULT_STALE_MINUTES, process_inbox's
# --stale-minutes default) as a crashed drain's: a cron drain must be dead
# by then, or a run it still executes is handed to another drain.
APP_STALE_MINUTES = 15
# A size as logrotate writes one (500k, 100M, 1G; k = 1024).
SIZE = re.compile(r"([0-9]+)([kMG]?)")
_SIZE_UNITS = {"": 1, "k": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
# What the app's auto-update runs as root (bin/lib/update.sh, _up_restart:
# `sudo systemctl restart <units>`), word for word: the one command the role
# lets the app user run through sudo, while auto-update is on.
# tests/unit/app_contract/test_upstream_contract.py reads it from the app's source.
APP_ROOT_COMMAND = ["systemctl", "restart"] + [unit[:-len(".service")] for unit in (APP_UNIT, INBOX_UNIT)]
# Where sudo may find systemctl through secure_path: /usr/bin on Debian 12, 13
# and a merged-/usr 11, /bin on a Debian 11 with /usr split. sudo matches a
# rule's path by device and inode when it exists (match_command.c), so on a
# merged /usr both rules name the same file.
SYSTEMCTL_PATHS = ["/usr/bin/systemctl", "/bin/systemctl"]
# sudo ignores a file of /etc/sudoers.d until it passes: the staged copy's
# name ends in "~" (_file_safety.py), which sudo's includedir skips.
SUDOERS_CHECK = "/usr/sbin/visudo -c -q -f %s"

# The app's cron jobs. Names carry "server-maintanence": the app's `manage.py
# check` looks for it in `crontab -l`; the app's installer (bin/install/cron.sh)
# tags the lines it writes for a job with `# <the same name>`. id: the job runner's name for the job
# (its lock, state file and metrics label). A job runs `command`, or
# `manage`: the arguments of manage.py, run with the uv found on the host.
# on, schedule, timeout: the variables (without the prefix) that set them.
HEALTH_JOB, PUSH_JOB, UPDATE_JOB, INBOX_JOB = "health", "push", "update", "inbox"
JOBS = [
    {"name": "server-maintanence health check", "id": HEALTH_JOB, "on": "health_check_enabled",
     "schedule": "health_check_schedule", "timeout": "health_check_timeout",
     "manage": "run_pipeline --checks-only --json", "log": "cron.log"},
    {"name": "server-maintanence cluster push", "id": PUSH_JOB, "on": None,
     "schedule": "push_schedule", "timeout": "push_timeout", "manage": "push_to_hub", "log": "push.log"},
    {"name": "server-maintanence auto-update", "id": UPDATE_JOB, "on": "auto_update_enabled",
     "schedule": "auto_update_schedule", "timeout": "auto_update_timeout",
     "command": "bin/update.sh --rollback --auto-env", "log": "update.log"},
    {"name": "server-maintanence inbox drain", "id": INBOX_JOB, "on": "inbox_cron_enabled",
     "schedule": "inbox_schedule", "timeout": "inbox_timeout", "manage": "process_inbox --limit 100",
     "log": "inbox.log"},
]


def job_by_id(job_id):
    """The entry of JOBS with that id."""
    return next(job for job in JOBS if job["id"] == job_id)


# The role's templates, by the path they are installed at.
TEMPLATES = {
    JOB_CONFIG: "etc/default/server-maintanence-job.j2",
    LOGROTATE_CONFIG: "etc/logrotate.d/server-maintanence.j2",
    HOURLY_RUNNER: "etc/cron.hourly/server-maintanence-logrotate.j2",
}

# How a row of the table is checked before it goes live (%s: the new file).
# logrotate -d exits 0 on some errors, so its output is the verdict;
# -s /dev/null: logrotate 3.18 (Debian 11) -d errors on a missing state file.
SHELL_SYNTAX = "sh -n %s"
PYTHON_SYNTAX = "python3 -I -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' %s"
LOGROTATE_CHECK = "sh -c 'logrotate -d -s /dev/null %s 2>&1 | (! grep \"^error:\")'"


def size_bytes(text):
    """A size like 500k, 100M or 1G in bytes."""
    number, unit = SIZE.fullmatch(str(text)).groups()
    return int(number) * _SIZE_UNITS[unit]


def template_variables(inputs, hostname=""):
    """What the role's templates read besides the inputs."""
    return {
        "__server_maintanence_metrics_settings": metrics_settings(inputs, jobs(inputs, hostname)),
        "__server_maintanence_use_zstd": _zstd(inputs),
        "__server_maintanence_logrotate_config": LOGROTATE_CONFIG,
        "__server_maintanence_job_runner": JOB_RUNNER,
        "__server_maintanence_env_loader": ENV_LOADER,
        "__server_maintanence_job_records": JOB_RECORDS,
        "__server_maintanence_logrotate_state": LOGROTATE_STATE,
    }


def rotation_late_after(frequency):
    """Seconds after logrotate last rotated the logs at which a rotation at
    this frequency is overdue: the frequency, plus one period of the runner
    that rotates them."""
    return ROTATION_SECONDS[frequency] + (3600 if frequency == "hourly" else 86400)


def metrics_settings(inputs, wanted_jobs):
    """What the job runner adds to its metrics for the alert rules, as the
    words it passes to its records writer: every job on, with its
    interval and when it is late (cron_interval and late_after, as status
    judges it), the intervals that make it late, the rotation's frequency
    and when it is overdue, the logs size limit. Empty without metrics."""
    if not inputs[PREFIX + "metrics_dir"]:
        return ""
    max_intervals = int(inputs[PREFIX + "status_max_intervals"])
    on = ["%s:%d:%d" % (job["id"], cron_interval(job["schedule"]),
                        late_after(cron_interval(job["schedule"]), max_intervals))
          for job in wanted_jobs if job["wanted"]]
    frequency = inputs[PREFIX + "logrotate_frequency"]
    return " ".join([
        "jobs=%s" % ",".join(on),
        "max_intervals=%d" % max_intervals,
        "rotation=%d:%d" % (ROTATION_SECONDS[frequency], rotation_late_after(frequency)),
        "logs_limit=%d" % size_bytes(inputs[PREFIX + "status_max_logs_size"]),
    ])


def _zstd(inputs):
    return boolean(inputs[PREFIX + "logrotate_compress"]) and inputs[PREFIX + "logrotate_compression"] == "zstd"


# What keeps the push job on (it has no "on" variable of its own).
PUSH_KEPT_BY = "%scluster_role agent or both, with %shub_url" % (PREFIX, PREFIX)


def kept_by(job):
    """The setting that keeps a job on, in words."""
    return PUSH_KEPT_BY if job["on"] is None else "%s%s: true" % (PREFIX, job["on"])


def jobs(inputs, hostname):
    """The app's jobs with this host's settings: wanted, schedule (the push
    spread over its interval by host name, with push_splay), timeout;
    kept_by (the setting that keeps it on, for messages) and drop_installer
    (whether drop_installer_jobs lets a line of the app's installer for it go
    without the role's entry)."""
    found = []
    agent = inputs[PREFIX + "cluster_role"] in ("agent", "both")
    drop = inputs[PREFIX + "drop_installer_jobs"]
    for job in JOBS:
        schedule = inputs[PREFIX + job["schedule"]]
        if job["id"] == PUSH_JOB and boolean(inputs[PREFIX + "push_splay"]):
            schedule = cron_splay(schedule, hostname)
        found.append(dict({key: value for key, value in job.items() if key not in ("on", "schedule", "timeout")},
                          wanted=agent if job["on"] is None else boolean(inputs[PREFIX + job["on"]]),
                          schedule=schedule, timeout=str(inputs[PREFIX + job["timeout"]]),
                          kept_by=kept_by(job), drop_installer=job["id"] in drop))
    return found


def sudoers_grant(user):
    """The sudoers drop-in: the app user may run APP_ROOT_COMMAND as root,
    without a password, with exactly its arguments, and nothing else."""
    command = " ".join(APP_ROOT_COMMAND[1:])
    rules = ", ".join("%s %s" % (path, command) for path in SYSTEMCTL_PATHS)
    return ("# Managed by server_maintanence.ops: the app's auto-update restarts its units.\n"
            "%s ALL=(root) NOPASSWD: %s\n" % (user, rules))


def auto_update_grant(inputs):
    """Whether the sudoers drop-in is wanted: auto-update on, state present."""
    return boolean(inputs[PREFIX + "auto_update_enabled"]) and inputs[PREFIX + "state"] == "present"


def managed(inputs, files, wanted_jobs):
    """Everything the role puts on the host or removes, one row per path.
    `files`: {path: content} of the role's files (its templates rendered).

      kind       directory, file, link, runner_file (the job runner writes it;
                 the role only removes it), or env_file (keys set by the
                 module; never removed).
      wanted     whether state present wants it; false: removed when found.
      content    a file's whole content.
      validate   checks a new file before it goes live (%s: its path).
      src        where a link points.
      record     a directory the role creates gets its root-owned creation
                 record; uninstall removes the directory (rmdir) only then.
      keep_existing  an existing directory is another program's: kept as it is.
      purge      uninstall deletes the directory with everything in it.
      setting    the variable that names the path: a link or the wrong type
                 there (or a link the app user could have planted above it) is
                 refused before any change.
    """
    def value(name):
        return inputs[PREFIX + name]

    state_dir, logs_dir, metrics_dir = value("state_dir"), value("logs_dir"), value("metrics_dir")
    group = value("group")
    metrics_file = posixpath.join(state_dir, METRICS_NAME)

    def root_file(path, mode, validate, wanted=True):
        return {"path": path, "kind": "file", "content": files[path], "owner": "root", "group": "root",
                "mode": mode, "validate": validate, "wanted": wanted}

    rows = [
        {"path": logs_dir, "kind": "directory", "owner": value("user"), "group": group,
         "mode": "%04o" % int(str(value("logs_dir_mode")), 8), "wanted": True,
         "purge": boolean(value("purge_logs")), "setting": PREFIX + "logs_dir"},
        {"path": state_dir, "kind": "directory", "owner": "root", "group": group, "mode": "0775", "wanted": True,
         "record": True, "setting": PREFIX + "state_dir"},
    ]
    if metrics_dir:
        rows += [{"path": metrics_dir, "kind": "directory", "owner": "root", "group": "root", "mode": "0755",
                  "wanted": True, "record": True, "keep_existing": True, "setting": PREFIX + "metrics_dir"},
                 {"path": posixpath.join(metrics_dir, METRICS_NAME), "kind": "link", "src": metrics_file,
                  "wanted": True}]
    rows += [
        root_file(JOB_RUNNER, "0755", SHELL_SYNTAX),
        root_file(ENV_LOADER, "0644", PYTHON_SYNTAX),
        root_file(JOB_RECORDS, "0644", PYTHON_SYNTAX),
        root_file(JOB_CONFIG, "0644", SHELL_SYNTAX),
        root_file(LOGROTATE_CONFIG, "0644", LOGROTATE_CHECK),
        root_file(HOURLY_RUNNER, "0755", SHELL_SYNTAX, wanted=value("logrotate_frequency") == "hourly"),
        {"path": SUDOERS_FILE, "kind": "file", "content": sudoers_grant(value("user")), "owner": "root",
         "group": "root", "mode": "0440", "validate": SUDOERS_CHECK, "wanted": auto_update_grant(inputs)},
    ]
    # The job runner's own files: the records of the jobs on, every lock, its
    # write lock and the metrics; then the records of the jobs turned off
    # (their metrics would age into an alert), and where each job's lock was
    # before the job runner (0.2.0 and older).
    ids = [job["id"] for job in wanted_jobs]
    on = [job["id"] for job in wanted_jobs if job["wanted"]]
    runner_files = ([posixpath.join(state_dir, record_name(job)) for job in on]
                    + [posixpath.join(state_dir, job + ".lock") for job in ids]
                    + [posixpath.join(state_dir, WRITE_LOCK), metrics_file])
    gone = ([posixpath.join(state_dir, record_name(job)) for job in ids if job not in on]
            + [posixpath.join(logs_dir, job + ".lock") for job in ids])
    rows += [{"path": path, "kind": "runner_file", "wanted": True} for path in runner_files]
    rows += [{"path": path, "kind": "runner_file", "wanted": False} for path in gone]
    if boolean(value("manage_env_file")):
        rows.append({"path": value("env_file"), "kind": "env_file", "owner": "root", "group": group, "mode": "0640",
                     "wanted": value("state") == "present", "setting": PREFIX + "env_file"})
    return rows


def env_values(inputs):
    """The env file's lines the role keeps, as (plain, secret): the keys read
    back and compared in plain, and the others. SSRF_ALLOWED_HOSTS holds the
    hub's host; the module keeps the entries the file already has."""
    if not (boolean(inputs[PREFIX + "manage_env_file"]) and inputs[PREFIX + "state"] == "present"):
        return {}, {}
    lines = env_lines({
        "cluster_role": inputs[PREFIX + "cluster_role"],
        "hub_url": inputs.get(PREFIX + "hub_url") or "",
        "instance_id": inputs[PREFIX + "instance_id"],
        "hub_api_key": inputs.get(PREFIX + "hub_api_key"),
        "api_key_auth_enabled": boolean(inputs[PREFIX + "api_key_auth_enabled"]),
        "hub_ssrf_allowed": boolean(inputs[PREFIX + "hub_ssrf_allowed"]),
        "logs_dir": inputs[PREFIX + "logs_dir"],
        "project_dir": inputs[PREFIX + "project_dir"],
    })
    plain = {key: value for key, value in lines.items() if key in ENV_PLAIN_KEYS}
    return plain, {key: value for key, value in lines.items() if key not in plain}


def packages(inputs):
    """The packages the role needs, each with the command it provides."""
    return [{"package": "cron", "command": "crontab", "needed": True},
            {"package": "logrotate", "command": "logrotate", "needed": True},
            {"package": "zstd", "command": "zstd", "needed": _zstd(inputs)},
            {"package": "sudo", "command": "sudo", "needed": auto_update_grant(inputs)}]


def env_logs_dir(inputs):
    """The LOGS_DIR the host's own env file must already set, or "": the
    logs directory is not the app's default, and the role does not write
    the env file (which would carry it)."""
    if boolean(inputs[PREFIX + "manage_env_file"]):
        return ""
    return logs_dir_setting(inputs[PREFIX + "logs_dir"], inputs[PREFIX + "project_dir"]) or ""


def project_env(inputs, wanted_jobs):
    """The app's project .env, which bin/update.sh reads its mode from, when
    the auto-update job is on; else ""."""
    update_on = any(job["id"] == UPDATE_JOB and job["wanted"] for job in wanted_jobs)
    if inputs[PREFIX + "state"] != "present" or not update_on:
        return ""
    return posixpath.join(inputs[PREFIX + "project_dir"], ".env")


def describe(inputs, files, hostname, report=False):
    """The maintenance module's arguments: the whole host as the inputs want
    it. `files`: {path: content} of the role's files."""
    def value(name):
        return inputs[PREFIX + name]

    wanted_jobs = jobs(inputs, hostname)
    plain, secret = env_values(inputs)
    manage_env = boolean(value("manage_env_file"))
    return {
        "state": "status" if report else value("state"),
        "user": value("user"),
        "group": value("group"),
        "uv_path": value("uv_path"),
        "uv_candidates": UV_CANDIDATES,
        "env_file": value("env_file"),
        "env_plain": plain,
        "env_secret": secret,
        "env_units": list(value("env_file_units")) if manage_env else [],
        "inbox_unit": INBOX_UNIT,
        "managed": [] if report else managed(inputs, files, wanted_jobs),
        "jobs": wanted_jobs,
        "runner": JOB_RUNNER,
        "logs_dir": value("logs_dir"),
        "env_logs_dir": env_logs_dir(inputs) if value("state") == "present" and not report else "",
        "project_env": project_env(inputs, wanted_jobs),
        "state_dir": value("state_dir"),
        "packages": packages(inputs),
        "manage_packages": boolean(value("manage_packages")),
        "cron_daily_runner": CRON_DAILY_RUNNER,
        "logrotate_state": LOGROTATE_STATE,
    }
