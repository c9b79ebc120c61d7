# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The maintenance module's controller side: the role's variables checked,
its templates rendered and the whole host described, in Python, before one
module call reaches the host.

Every server_maintanence_* variable the task sees is checked against the
role's meta/argument_specs.yml, as ansible-core checks a role's spec, and
the rules it cannot express; a failure names its variable, and nothing
reaches the host. A package the module reports missing is installed with
ansible.builtin.apt, and the module called again: no other module runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import lookup_loader
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.validation import (
    PREFIX, checked_inputs, spec_options)

MODULE = "server_maintanence.ops.maintenance"
# The collection's role: its argument spec declares the inputs, its templates and files are rendered here.
ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "roles", "server_maintanence")
# The role's files installed as they are.
MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
FILES = {
    description.JOB_RUNNER: os.path.join(ROLE, "files", "server-maintanence-job"),
    description.ENV_LOADER: os.path.join(MODULE_UTILS, "_systemd_env.py"),
    description.JOB_RECORDS: os.path.join(MODULE_UTILS, "_job_records.py"),
}


class ActionModule(ActionBase):
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        # The only argument a play gives: state status, to read for playbooks/status.yml.
        report = self._task.args.get("state") == "status"
        options = spec_options(ROLE)
        try:
            inputs = self._inputs(task_vars, options)
        except AnsibleError as error:
            result.update(failed=True, msg=to_text(error))
            return result
        inputs, errors = checked_inputs(inputs, options)
        if errors:
            # Nothing reached the host: every message names its variable.
            result.update(failed=True, msg=errors)
            return result
        hostname = task_vars.get("inventory_hostname", "")
        files = {} if report else self._files(inputs, hostname)
        arguments = description.describe(inputs, files, hostname, report)
        found = self._execute_module(module_name=MODULE, module_args=arguments, task_vars=task_vars)
        if found.get("packages") and not found.get("failed") and not report:
            installed = self._install(found, task_vars)
            if installed.get("failed"):
                return dict(result, **installed)
            missing = found["packages"]
            found = self._execute_module(module_name=MODULE, module_args=dict(arguments, assume_packages=True),
                                         task_vars=task_vars)
            if not found.get("failed"):
                found.update(changed=True, packages=missing, steps=["packages"] + [
                    step for step in found["steps"] if step != "packages"])
            found.setdefault("warnings", []).extend(installed.get("warnings", []))
        result.update(found)
        if found.get("changed") and not found.get("failed") and not report:
            # Shown as debug shows its message: a host out of place says what and why.
            result.update(msg=summary(inputs, found), _ansible_verbose_always=True)
        return result

    def _inputs(self, task_vars, options):
        """Every server_maintanence_* variable the task sees, templated: those
        the spec declares, and any other (a typo, which the check names)."""
        names = set(options) | set(name for name in task_vars if name.startswith(PREFIX))
        inputs = {}
        for name in sorted(names):
            if name not in task_vars:
                continue
            try:
                inputs[name] = self._templar.template(task_vars[name])
            except AnsibleError as error:
                raise AnsibleError("%s cannot be templated: %s" % (name, to_text(error)))
        return inputs

    def _files(self, inputs, hostname):
        """{path on the host: content} of the role's files and rendered templates."""
        files = {}
        for path, source in FILES.items():
            with open(source, "rb") as handle:
                files[path] = to_text(handle.read(), errors="surrogate_or_strict")
        variables = dict(inputs, **description.template_variables(inputs, hostname))
        lookup = lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)
        for path, template in description.TEMPLATES.items():
            files[path] = lookup.run([os.path.join(ROLE, "templates", template)], variables=variables)[0]
        return files

    def _install(self, found, task_vars):
        """ansible.builtin.apt for the packages the module found missing:
        fresh lists where there are none (a bare image), else at most hourly."""
        return self._execute_module(module_name="ansible.builtin.apt", module_args={
            "name": found["packages"], "state": "present", "install_recommends": False, "update_cache": True,
            "cache_valid_time": 3600 if found["apt_lists"] else 0}, task_vars=task_vars)


def _short(names):
    return [name.replace("server-maintanence ", "") for name in names]


def summary(inputs, found):
    """What a run that changed something tells the operator: the settings
    that decide, and what was out of place. Never the content of a file or
    of the app user's crontab."""
    def value(name):
        return inputs[PREFIX + name]

    uv = found["uv"]
    words = ["server-maintanence %s: cluster role %s;" % (value("state"), value("cluster_role")),
             "uv %s (%s);" % (uv["path"], "set by server_maintanence_uv_path" if value("uv_path")
                              else "found" if uv["exists"] else "not installed yet")]
    for entry in found["entries"]:
        words.append("%s %s;" % (_short([entry["name"]])[0],
                                 "[%s]" % entry["schedule"] if entry["wanted"] else "off"))
    words.append("logs %s rotated %s, keep %s, method %s, %s." % (
        value("logs_dir"), value("logrotate_frequency"), value("logrotate_rotate"), value("logrotate_method"),
        value("logrotate_compression") if boolean(value("logrotate_compress")) else "uncompressed"))
    words.append("Out of place: %s." % ", ".join(found["steps"]))
    if found["changed_paths"]:
        words.append("Paths put right: %s." % ", ".join(found["changed_paths"]))
    if found["taken_over"]:
        installer = found.get("installer_jobs") or {}
        said = ["%s replaced by the role's entries" % ", ".join(_short(installer.get("replaced") or []))
                if installer.get("replaced") else "",
                "%s removed without an entry, as %sdrop_installer_jobs allows" % (
                    ", ".join(_short(installer["dropped"])), PREFIX) if installer.get("dropped") else ""]
        words.append("Taking over %d line(s) that bin/install/cron.sh wrote in %s's crontab: %s." % (
            found["taken_over"], value("user"), "; ".join(part for part in said if part)))
    return " ".join(words)
