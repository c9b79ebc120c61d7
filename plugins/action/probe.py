# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The probe's controller side: the role's checks around its one module call.

With O(inputs), the role's variables are checked on the controller before
anything reaches the host; with O(host_check), what the probe read is
checked against the rules of the host before the role changes anything.
Both were tasks of their own: each task costs a worker process per host on
every run, so they ride on the probe's task, as its arguments say.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.validation import (
    host_errors, host_warnings, input_errors)


class ActionModule(ActionBase):
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        inputs = args.pop("inputs", None)
        role_path = args.pop("role_path", None)
        host_check = args.pop("host_check", None)
        if inputs is not None:
            errors = input_errors(inputs, role_path)
            if errors:
                # Nothing reached the host: every message names its variable.
                result.update(failed=True, msg=errors)
                return result
        result.update(self._execute_module(module_name="server_maintanence.ops.probe", module_args=args,
                                           task_vars=task_vars))
        if result.get("failed") or host_check is None:
            return result
        probe = result["probe"]
        uv = probe["uv"]["path"]  # server_maintanence_uv_path when set, else the one found
        errors = host_errors(probe, dict(host_check, uv=uv, manage_packages=boolean(host_check["manage_packages"])))
        if errors:
            result.update(failed=True, msg=errors)
            return result
        warnings = host_warnings(probe, host_check)
        if host_check["state"] == "present" and not probe["uv"]["exists"]:
            # Provisioning often comes before the app: a warning, not a repair.
            warnings.append(
                "uv is not installed yet (%s); the cron entries run %s and fail until the app is deployed with uv "
                "there. Set server_maintanence_uv_path if it will live elsewhere."
                % ("looked in " + ", ".join(probe["uv"]["searched"]) if probe["uv"]["discovered"]
                   else "server_maintanence_uv_path %s does not exist" % uv, uv))
        if warnings:
            result.setdefault("warnings", []).extend(warnings)
        return result
