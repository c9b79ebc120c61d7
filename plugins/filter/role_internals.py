# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Filters internal to the server_maintanence role: not a stable interface.

The role calls them from its own tasks and vars (the input and host rules,
the crontab entries, the env file's keys, the plan of what is out of place);
their arguments are the role's internal data and change with it, without
notice. They are registered because a role can only call a filter by name,
and deliberately have no ansible-doc: the public filters are those of
core.py. The code lives in plugins/plugin_utils/.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.server_maintanence.ops.plugins.plugin_utils.cron import cron_entries
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.env import env_lines
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.plan import plan
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.validation import host_errors, input_errors


class FilterModule(object):
    def filters(self):
        return {
            "input_errors": input_errors,
            "host_errors": host_errors,
            "env_lines": env_lines,
            "cron_entries": cron_entries,
            "plan": plan,
        }
