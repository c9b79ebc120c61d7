# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The collection's public filters: what a playbook of the user's may call.

They run on the controller, so judging a schedule or a host's status costs
no round-trip to it. The code lives in plugins/plugin_utils/, a module per
job; this file only registers it. Each filter is documented for ansible-doc
in the .yml file of its name beside this one. There are no others: the
role's own logic is Python its action plugin and module call, not filters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.server_maintanence.ops.plugins.plugin_utils.cron import cron_interval, cron_splay
from ansible_collections.server_maintanence.ops.plugins.plugin_utils.status import (
    size_bytes, status_report, status_table)


class FilterModule(object):
    def filters(self):
        return {
            "cron_interval": cron_interval,
            "cron_splay": cron_splay,
            "size_bytes": size_bytes,
            "status_report": status_report,
            "status_table": status_table,
        }
