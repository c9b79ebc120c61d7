#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Read a host, compare it with the description the server_maintanence role
wants, and apply the difference, in one call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: maintenance
short_description: Put a host in the state the server_maintanence role describes, in one call
version_added: "0.4.0"
description:
  - The server_maintanence role's engine. Its action plugin builds, on the controller, one description
    of the host from the role's variables (every C(server_maintanence_*) one, checked against the role's
    argument spec and the rules it cannot express, before anything reaches the host) and the role's
    templates. This module then, on the host, in one call, reads the host, checks the host's rules
    (nothing is changed when one is broken), compares, and applies what is out of place.
  - "What it applies, in order: the role's directories, files and links (each file staged and validated
    before the first change, never through a link); cron and C(logrotate.timer) started; the app's
    entries in the app user's crontab (written once, from a complete copy); the role's keys in the app's
    env file, and a restart of the units reading it that were running."
  - A package the role needs that is missing is reported before any change; the action plugin then runs
    M(ansible.builtin.apt) for it and calls the module again. No other module runs.
  - With O(state=absent), removes the role's entries, files and links, and each directory it created
    (by its creation record), keeping the installer's lines and everything that is not the role's.
  - With O(state=status), only reads, adding what C(playbooks/status.yml) reports.
  - In a play it takes no argument but O(state=status); the others are what the action plugin hands the module.
options:
  state:
    description:
      - What to do with the host. C(present) and C(absent) come from C(server_maintanence_state); a play
        gives only C(state=status), which reads the host and changes nothing.
    type: str
    choices: [present, absent, status]
    default: present
  user:
    description: The app's user (C(server_maintanence_user)), whose crontab holds the entries.
    type: str
    required: true
  group:
    description: The app's group.
    type: str
    required: true
  env_plain:
    description: The env file's keys the role sets whose values may be shown (read back and compared in plain).
    type: dict
    default: {}
  env_secret:
    description: The env file's keys the role sets whose values are never shown (compared on the host).
    type: dict
    default: {}
  env_units:
    description: The units that read the env file; restarted when it changes, if they were running.
    type: list
    elements: str
    default: []
  inbox_unit:
    description:
      - The app's unit that drains its inbox. With O(state=status), the reading reports whether it is
        active, in place of O(env_units).
    type: str
    default: ""
  managed:
    description:
      - The role's table, one row per path, with kind, wanted, and the attributes of its kind
        (C(plugins/plugin_utils/description.py) documents them).
    type: list
    elements: dict
    default: []
  jobs:
    description: The app's jobs ({name, id, wanted, schedule, timeout, manage or command, log}).
    type: list
    elements: dict
    default: []
  runner:
    description: The job runner, which each crontab entry calls.
    type: path
    required: true
  logs_dir:
    description: The app's logs directory.
    type: path
    default: ''
  env_logs_dir:
    description:
      - The C(LOGS_DIR) the host's own O(env_file) must already set (the logs directory is not the app's
        default and the role does not write the env file); the host is refused before any change otherwise.
      - Empty, no such rule.
    type: str
    default: ''
  project_env:
    description:
      - The app's project C(.env), from which the app's C(bin/update.sh) reads its mode; read (never through a
        link, without blocking, only C(DEPLOY_METHOD) and C(DJANGO_ENV)) to warn when the update would take the
        host for a development one. Empty, not read.
    type: str
    default: ''
  state_dir:
    description: The job runner's state directory.
    type: path
    default: ''
  packages:
    description: The packages the role needs ({package, command, needed}).
    type: list
    elements: dict
    default: []
  manage_packages:
    description: Whether missing packages are reported for installing; false fails the host instead.
    type: bool
    default: true
  assume_packages:
    description:
      - Go on although packages are missing (the action plugin's second call, after M(ansible.builtin.apt),
        which in check mode installed nothing).
    type: bool
    default: false
  cron_daily_runner:
    description: The system's daily logrotate runner, needed where systemd is not PID 1.
    type: path
    required: true
  logrotate_state:
    description: logrotate's state file; read with O(state=status).
    type: path
    required: true
extends_documentation_fragment:
  - server_maintanence.ops.app_paths
  - server_maintanence.ops.attributes
  - ansible.builtin.action_common_attributes
attributes:
  action:
    description: Whether an action plugin runs on the controller before the module reaches the host.
    support: full
    details: The action plugin checks the role's variables and builds this module's arguments.
  diff_mode:
    details: One diff per path, the crontab and the env file (keys only, never a value).
notes:
  - Runs C(crontab), C(systemctl) (where systemd is not PID 1, C(/etc/init.d/cron start) or C(service cron start)
    instead) and each file's validation command; nothing else.
seealso:
  - module: server_maintanence.ops.probe
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
# The role's whole task; its variables come from the play, the inventory and the role's defaults.
- name: Put the host in the state the role's variables describe
  server_maintanence.ops.maintenance:

- name: Read what playbooks/status.yml reports
  server_maintanence.ops.maintenance:
    state: status
  register: found
"""

RETURN = r"""
probe:
  description: With O(state=status), what was read on the host, as M(server_maintanence.ops.probe) returns it.
  returned: with O(state=status)
  type: dict
uv:
  description: The uv the entries run, and where it was looked for, as M(server_maintanence.ops.probe) reports it.
  returned: with O(state=present) or O(state=absent)
  type: dict
apt_lists:
  description: Whether apt has package lists (a bare image has none), for installing what is missing.
  returned: with O(state=present) or O(state=absent)
  type: bool
entries:
  description: The app's jobs, each with its name, whether it is wanted, and its schedule on this host.
  returned: with O(state=present) or O(state=absent)
  type: list
  elements: dict
steps:
  description: What was out of place (paths, crontab, env_file, cron_service, timer, packages); empty when nothing.
  returned: always
  type: list
  elements: str
  sample: [paths, crontab]
packages:
  description: The packages that were missing (and that the action plugin installed).
  returned: always
  type: list
  elements: str
changed_paths:
  description: The paths that changed (or, in check mode, would change).
  returned: always
  type: list
  elements: str
kept:
  description: Paths uninstall kept, because they hold what is not the role's.
  returned: always
  type: list
  elements: str
taken_over:
  description:
    - How many lines of the app's installer the role's entries replaced. Only a count, since the app
      user writes that crontab.
  returned: always
  type: int
installer_jobs:
  description:
    - The jobs whose lines of the app's installer were (or would be) removed, by name; never a line.
  returned: always
  type: dict
  contains:
    replaced:
      description: The jobs whose installer lines the role's entries replaced.
      type: list
      elements: str
    dropped:
      description: The jobs whose installer lines were removed without an entry, as C(server_maintanence_drop_installer_jobs) allows.
      type: list
      elements: str
changed_keys:
  description: The env file's keys that were (or would be) set.
  returned: always
  type: list
  elements: str
restarted:
  description: The units restarted because the env file changed.
  returned: always
  type: list
  elements: str
jobs:
  description: With O(state=status), the app's jobs as O(jobs) gave them, for the status verdict.
  returned: with O(state=status)
  type: list
  elements: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file, _paths, _crontab as crontab
from ansible_collections.server_maintanence.ops.plugins.module_utils._constants import PREFIX
from ansible_collections.server_maintanence.ops.plugins.module_utils._file_safety import Refused
from ansible_collections.server_maintanence.ops.plugins.module_utils._host_reading import read_host
from ansible_collections.server_maintanence.ops.plugins.module_utils._plan import (
    RECORD_NAME, host_errors, host_warnings, plan, update_mode_warning)

ARGUMENTS = {
    "state": {"type": "str", "choices": ["present", "absent", "status"], "default": "present"},
    "user": {"type": "str", "required": True},
    "group": {"type": "str", "required": True},
    "uv_path": {"type": "str", "default": ""},
    "uv_candidates": {"type": "list", "elements": "str", "default": []},
    "env_file": {"type": "path", "default": ""},
    "env_plain": {"type": "dict", "default": {}},
    "env_secret": {"type": "dict", "default": {}, "no_log": True},
    "env_units": {"type": "list", "elements": "str", "default": []},
    "inbox_unit": {"type": "str", "default": ""},
    "managed": {"type": "list", "elements": "dict", "default": []},
    "jobs": {"type": "list", "elements": "dict", "default": []},
    "runner": {"type": "path", "required": True},
    "logs_dir": {"type": "path", "default": ""},
    "env_logs_dir": {"type": "str", "default": ""},
    "project_env": {"type": "str", "default": ""},
    "state_dir": {"type": "path", "default": ""},
    "packages": {"type": "list", "elements": "dict", "default": []},
    "manage_packages": {"type": "bool", "default": True},
    "assume_packages": {"type": "bool", "default": False},
    "cron_daily_runner": {"type": "path", "required": True},
    "logrotate_state": {"type": "path", "required": True},
}


def reading_arguments(params):
    """The reading's arguments: every path of the table, the records of the
    directories the role creates, a managed env file's directory (created
    when missing) and the system's logrotate runner; the role's own files'
    digests, never the env file's."""
    rows = params["managed"]
    paths = [row["path"] for row in rows]
    paths += [os.path.join(row["path"], RECORD_NAME) for row in rows if row.get("record")]
    paths += [os.path.dirname(row["path"]) for row in rows if row["kind"] == "env_file"]
    paths += [params["cron_daily_runner"], params["env_file"]]
    report = params["state"] == "status"
    return {
        "user": params["user"], "group": params["group"],
        "uv_path": params["uv_path"], "uv_candidates": params["uv_candidates"],
        "env_file": params["env_file"],
        # LOGS_DIR also when the host's own env file must set it (env_logs_dir).
        "env_keys": sorted(set(params["env_plain"]) | ({"LOGS_DIR"} if params["env_logs_dir"] else set())),
        "env_wanted": params["env_secret"], "project_env": params["project_env"],
        "units": ([params["inbox_unit"]] if params["inbox_unit"] else []) if report else params["env_units"],
        "paths": [] if report else sorted(set(path for path in paths if path)),
        "checksums": [row["path"] for row in rows if row["kind"] == "file"],
        "report": report, "state_dir": params["state_dir"],
        "jobs": [job["id"] for job in params["jobs"]], "logs_dir": params["logs_dir"],
        "logrotate_state": params["logrotate_state"],
    }


def _uv_warning(reading):
    uv = reading["uv"]
    return ("uv is not installed yet (%s); the cron entries run %s and fail until the app is deployed with uv "
            "there. Set %suv_path if it will live elsewhere."
            % ("looked in " + ", ".join(uv["searched"]) if uv["discovered"]
               else "%suv_path %s does not exist" % (PREFIX, uv["path"]), uv["path"], PREFIX))


class Engine(object):
    """One run: the reading, the rules, the plan, then each step applied."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.result = {"changed": False, "steps": [], "packages": [], "changed_paths": [], "kept": [],
                       "taken_over": 0, "installer_jobs": {"replaced": [], "dropped": []},
                       "changed_keys": [], "restarted": []}
        self.diffs = []

    def fail(self, msg):
        self.finish(msg=msg, failed=True)

    def finish(self, **extra):
        if self.module._diff and self.diffs:
            self.result["diff"] = self.diffs
        self.result.update(extra)
        if self.result.get("failed"):
            self.module.fail_json(**self.result)
        self.module.exit_json(**self.result)

    def run(self):
        params = self.params
        reading = read_host(self.module, reading_arguments(params))
        if params["state"] == "status":
            self.finish(probe=reading, jobs=params["jobs"])
        self.result.update(uv=reading["uv"], apt_lists=reading["apt_lists"])
        rows = params["managed"]
        guarded = [row for row in rows if row.get("setting")]
        errors = host_errors(reading, {
            "state": params["state"], "guarded": guarded, "user": params["user"], "group": params["group"],
            "uv": reading["uv"]["path"], "manage_packages": params["manage_packages"],
            "packages": params["packages"], "cron_daily_runner": params["cron_daily_runner"],
            "jobs": params["jobs"], "env_file": params["env_file"], "env_logs_dir": params["env_logs_dir"]})
        if errors:
            # Before any change; every message names its variable.
            self.fail(errors)
        self.result["entries"] = [{"name": job["name"], "wanted": job["wanted"], "schedule": job["schedule"]}
                                  for job in params["jobs"]]
        for warning in host_warnings(reading, {"state": params["state"], "guarded": guarded}):
            self.module.warn(warning)
        update_mode = update_mode_warning(reading) if params["state"] == "present" else None
        if update_mode:
            self.module.warn(update_mode)
        if params["state"] == "present" and not reading["uv"]["exists"]:
            # Provisioning often comes before the app: a warning, not a repair.
            self.module.warn(_uv_warning(reading))

        self.entries = crontab.cron_entries(params["jobs"], {
            "runner": params["runner"], "logs_dir": params["logs_dir"],
            "manage": "%s run python manage.py" % reading["uv"]["path"]})
        env_plain = _env_file.with_kept_hosts(params["env_plain"], reading["env"].get("SSRF_ALLOWED_HOSTS"))
        self.env_values = dict(env_plain, **params["env_secret"])
        steps = plan(reading, {
            "state": params["state"], "packages": params["packages"], "managed": rows,
            "created_record": RECORD_NAME, "entries": self.entries,
            "env": {"keys": sorted(self.env_values), "plain": env_plain}})
        self.result["steps"] = sorted(key for key in steps if key != "taken_over")
        self.result["packages"] = steps.get("packages", [])
        if steps.get("packages") and not params["assume_packages"]:
            # Nothing changed yet: the action plugin installs them, then calls again.
            self.finish()
        try:
            self.apply(reading, steps)
        except Refused as error:
            self.fail(str(error))
        self.finish()

    def apply(self, reading, steps):
        check = self.module.check_mode
        missing = steps.get("packages", [])
        if "paths" in steps:
            sub = {"changed": False, "changed_paths": [], "kept": []}
            try:
                _paths.apply(self.module, steps["paths"], sub)
            finally:
                self._take(sub, "changed_paths", "kept")
            for path in sub["kept"]:
                if self.params["state"] == "absent":
                    self.module.warn("kept %s: it holds files that are not the role's" % path)
        if "cron_service" in steps and not (check and "cron" in missing):
            self._start_cron(reading)
        if "timer" in steps and not (check and "logrotate" in missing):
            self._run_changing(["systemctl", "enable", "--now", "logrotate.timer"])
        if "crontab" in steps:
            self._crontab(reading, missing)
        if "env_file" in steps:
            self._env_file(reading, steps["env_file"])

    def _take(self, sub, *names):
        self.result["changed"] = self.result["changed"] or sub.pop("changed", False)
        for name in names:
            self.result[name].extend(sub.get(name, []))
        if "diff" in sub:
            self.diffs.extend(sub["diff"] if isinstance(sub["diff"], list) else [sub["diff"]])

    def _run_changing(self, command):
        self.result["changed"] = True
        if self.module.check_mode:
            return
        rc, out, err = self.module.run_command(command)
        if rc != 0:
            self.fail("%s failed (exit %d): %s" % (" ".join(command), rc, (err or out).strip()))

    def _start_cron(self, reading):
        if reading["systemd"]:
            if reading["services"]["cron_enabled"] is False:
                self._run_changing(["systemctl", "enable", "cron"])
            if not reading["cron_running"]:
                self._run_changing(["systemctl", "start", "cron"])
        elif not reading["cron_running"]:
            init = "/etc/init.d/cron"
            self._run_changing([init, "start"] if os.path.exists(init) else ["service", "cron", "start"])

    def _crontab(self, reading, missing):
        user = self.params["user"]
        if not reading["commands"]["crontab"]:
            # Check mode before apt installs cron: nothing to read yet.
            self.result["changed"] = True
            return
        present = self.params["state"] == "present"
        entries = self.entries if present else [dict(entry, state="absent") for entry in self.entries]
        sub = crontab.apply(self.module, user, entries, take_over=present, before=reading["crontab"])
        self._take(sub)
        self.result["taken_over"] = len(sub["taken_over"])
        wanted = dict((job["name"], job["wanted"]) for job in self.params["jobs"])
        for name in sorted(set(name for line, name in crontab.installer_lines(reading["crontab"], list(wanted))
                               if line in sub["taken_over"])):
            self.result["installer_jobs"]["replaced" if wanted[name] else "dropped"].append(name)

    def _env_file(self, reading, step):
        # A Refused (a mode, a value or a write refused) ends the run in run().
        sub = _env_file.set_keys(self.module, step["path"], self.env_values, step["group"], step["setting"],
                                 step["owner"], step["mode"])
        changed = sub["changed"]
        self._take(sub, "changed_keys")
        if changed:
            # systemd reads EnvironmentFile= only when a unit starts; units that were stopped stay so.
            for unit in sorted(unit for unit, active in reading["units_active"].items() if active):
                self._run_changing(["systemctl", "restart", unit])
                self.result["restarted"].append(unit)


def main():
    module = AnsibleModule(argument_spec=ARGUMENTS, supports_check_mode=True)
    Engine(module).run()


if __name__ == "__main__":
    main()
