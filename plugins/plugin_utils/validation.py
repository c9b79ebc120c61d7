# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The server_maintanence role's inputs checked on the controller before
anything reaches a host (input_errors): first what its argument spec
declares (types, choices, list elements), the way ansible-core checks a
role's spec, then the rules the spec cannot express. Every message names the
variable it is about. The rules on the host itself are module_utils/_plan.py's,
checked on the host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os.path
import posixpath
import re
from urllib.parse import urlsplit

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.cron import cron_errors
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.description import (
    APP_STALE_MINUTES, INBOX_JOB, JOBS, KILL_GRACE_SECONDS, PREFIX, SIZE, job_by_id)

_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
_ACCOUNT = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_MODE = re.compile(r"0?[0-7]{3}")
_UNIT = re.compile(r"[A-Za-z0-9@._:-]+\.service")
# Env file values the role writes hold only characters that python-dotenv (the
# app's .env) and systemd's EnvironmentFile= (the units and the jobs) read
# alike: no quotes, spaces, $, `, \, ~ or ;. The env_file module quotes for
# systemd where needed.
_URL = re.compile(r"https?://[A-Za-z0-9._:/?#@!*+,=%\[\]-]+")
_INSTANCE_ID = re.compile(r"[A-Za-z0-9._:-]+")
_API_KEY = re.compile(r"[A-Za-z0-9._+/=-]+")
# Variables of playbooks/site.yml (its batch size and failure threshold), not
# of the role, documented in docs/cluster.md: not typos.
PLAYBOOK_VARIABLES = ("server_maintanence_serial", "server_maintanence_max_fail_percentage")

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


def input_errors(variables, role_path):
    """Every broken rule on the role's inputs, checked on the controller:
    one message each, naming its variable; [] when all hold. No message
    shows a value it does not judge, nor ever the API key's.

    `variables`: every variable whose name starts with server_maintanence_,
    by that name (the maintenance action plugin passes all the task sees);
    `role_path`: the role's directory, whose meta/argument_specs.yml declares
    its variables. One the spec does not declare is refused as a typo, unless
    playbooks/site.yml reads it (PLAYBOOK_VARIABLES); one the spec gives a
    default must be among `variables`, so that no input escapes the rules."""
    return checked_inputs(variables, spec_options(role_path))[1]


def spec_options(role_path):
    """The options of the role's main entry point, by name."""
    with open(os.path.join(role_path, "meta", "argument_specs.yml"), encoding="utf-8") as spec:
        # libyaml when there is one: the spec is read once per host.
        return yaml.load(spec, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["argument_specs"]["main"]["options"]


def checked_inputs(variables, options):
    """(inputs, errors), given the spec's options: `variables` with each
    list as the spec reads it (a string "a,b" is two entries), and
    input_errors(). First what the spec declares (types, choices, list
    elements), checked by the validator ansible-core runs for a role's spec
    and worded as it words them: the role's playbooks import it with
    rolespec_validate: false, which spares each host ansible-core's own
    validation task. Then, once every value has the type the spec declares,
    the rules it cannot express."""
    missing = sorted(name for name, spec in options.items() if "default" in (spec or {}) and name not in variables)
    if missing:
        return variables, ["%s did not reach the input check: the maintenance action plugin takes every variable "
                           "of the role's argument spec from the task's variables, where the role's defaults set "
                           "it" % name for name in missing]
    unknown = _unknown_names(variables, options)
    declared = {name: value for name, value in variables.items() if name in options}
    checked = ArgumentSpecValidator(options).validate(declared)
    # A list of dicts given a string also gets a parser's message that names
    # no variable, beside the one that does.
    mistyped = [message for message in checked.error_messages if PREFIX in message] or checked.error_messages
    if mistyped:
        return variables, unknown + list(mistyped)
    # Other values stay as they were written: the rules judge the text
    # ("010" and "4\n" are no whole numbers, though int() takes them).
    variables = dict(variables, **{name: checked.validated_parameters[name] for name in declared
                                   if (options[name] or {}).get("type") == "list"})
    inputs = {name[len(PREFIX):]: value for name, value in variables.items()}
    inputs["manage_env_file"] = checked.validated_parameters[PREFIX + "manage_env_file"]
    return variables, unknown + _rule_errors(inputs)


def _unknown_names(variables, options):
    """A message for each variable that is not the role's, with the closest
    name that is, if any: most likely a typo, which the spec would ignore."""
    known = {name[len(PREFIX):]: name for name in list(options) + list(PLAYBOOK_VARIABLES)}
    errors = []
    for name in sorted(set(variables) - set(known.values())):
        close = difflib.get_close_matches(name[len(PREFIX):], sorted(known), n=1)
        errors.append("%s is not a variable of the role; %s" % (
            name, "did you mean %s?" % known[close[0]] if close else
            "ansible-doc -t role server_maintanence.ops.server_maintanence lists them"))
    return errors


def _rule_errors(inputs):
    """The rules themselves. `inputs` maps the variable names without their
    server_maintanence_ prefix to their values."""
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
    for name in (job["schedule"] for job in JOBS):
        problems = cron_errors(inputs[name])
        if problems:
            fail(name, "must be 5 numeric cron fields (minute 0-59, hour 0-23, day 1-31, month 1-12, "
                       "weekday 0-7; each *, N, N-M, */S or N-M/S, comma-separated); got %r: %s"
                 % (inputs[name], "; ".join(problems)))
    for name, least in ([("logrotate_rotate", 0), ("logrotate_history_rotate", 0)]
                        + [(job["timeout"], 1) for job in JOBS] + [("status_max_intervals", 1)]):
        number = _whole_number(inputs[name])
        if number is None or number < least:
            fail(name, "must be a whole number >= %d; got %r" % (least, inputs[name]))
    inbox_timeout_name = job_by_id(INBOX_JOB)["timeout"]
    inbox_timeout = _whole_number(inputs[inbox_timeout_name])
    if inbox_timeout is not None and inbox_timeout + KILL_GRACE_SECONDS >= APP_STALE_MINUTES * 60:
        fail(inbox_timeout_name, "must be below %d: a drain run and the job runner's %d s kill grace must end "
                                 "within the %d minutes after which the app reclaims a run left PROCESSING as a "
                                 "crashed drain's (process_inbox --stale-minutes), or another drain takes over a "
                                 "run still executing; got %r"
             % (APP_STALE_MINUTES * 60 - KILL_GRACE_SECONDS, KILL_GRACE_SECONDS, APP_STALE_MINUTES,
                inputs[inbox_timeout_name]))
    for name, optional in (("logrotate_maxsize", True), ("logrotate_minsize", True),
                           ("logrotate_history_maxsize", False), ("status_max_logs_size", False)):
        value = inputs[name]
        if not (_matches(SIZE, value) or (optional and value == "")):
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
        if inputs["cluster_role"] in ("agent", "both") and key in (None, ""):
            fail("hub_api_key", "is required when %scluster_role is %s and %smanage_env_file is true: the app's "
                                "push_to_hub refuses to push without HUB_API_KEY, whatever the hub's "
                                "API_KEY_AUTH_ENABLED (a hub with API key auth off still needs a non-empty "
                                "HUB_API_KEY on the agent). Mint it on the hub with manage.py create_api_key "
                                "--name <agent> and keep it in Ansible Vault (docs/cluster.md)"
                 % (PREFIX, inputs["cluster_role"], PREFIX))
        elif key is not None and not _matches(_API_KEY, key):
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
