# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Controller-side filters of the server_maintanence role and of
playbooks/status.yml.

They run inside the play on the controller, so validating a schedule,
comparing a crontab or judging a host's status costs no round-trip to it.
The code lives in plugins/plugin_utils/, a module per job; this file only
registers it. Each filter is documented for ansible-doc in the .yml file of
its name beside this one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.server_maintanence.ops.plugins.plugin_utils.cron import (
    cron_entries, cron_interval, cron_splay)
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.env import env_lines
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.plan import plan
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.status import (
    size_bytes, status_report, status_table)
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.validation import host_errors, input_errors


class FilterModule(object):
    def filters(self):
        return {
            "input_errors": input_errors,
            "host_errors": host_errors,
            "env_lines": env_lines,
            "cron_splay": cron_splay,
            "cron_entries": cron_entries,
            "plan": plan,
            "cron_interval": cron_interval,
            "size_bytes": size_bytes,
            "status_report": status_report,
            "status_table": status_table,
        }
