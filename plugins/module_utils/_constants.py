# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The role's names and fixed paths on the host, each defined here once:
the module code on the host imports them, and the controller's
plugin_utils/description.py takes them from here, since module code
cannot reach plugin_utils. Private to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Every variable of the role starts with it.
PREFIX = "server_maintanence_"

LOGROTATE_CONFIG = "/etc/logrotate.d/server-maintanence"
HOURLY_RUNNER = "/etc/cron.hourly/server-maintanence-logrotate"
# Debian's daily logrotate runner: what rotates where systemd is not PID 1.
CRON_DAILY_RUNNER = "/etc/cron.daily/logrotate"
JOB_RUNNER = "/usr/local/bin/server-maintanence-job"
JOB_CONFIG = "/etc/default/server-maintanence-job"
# The runner reads the env file with it (python3), by systemd's
# EnvironmentFile= rules: plugins/module_utils/_systemd_env.py, installed as it is.
ENV_LOADER = "/usr/local/lib/server-maintanence-env.py"
# The runner writes its records and metrics with it (python3), the code that
# status reads them with: plugins/module_utils/_job_records.py, installed as it is.
JOB_RECORDS = "/usr/local/lib/server-maintanence-records.py"
# Debian's logrotate.service, cron.daily runner and the hourly runner all use it.
LOGROTATE_STATE = "/var/lib/logrotate/status"
SUDOERS_FILE = "/etc/sudoers.d/server-maintanence"

# The app's systemd units (deploy/systemd): the app itself, whose presence
# makes bin/update.sh take the host for a systemd one (bin/lib/health_check.sh
# detect_mode), and the one that drains the inbox (the cron drain is for
# hosts without it).
APP_UNIT = "server-monitoring.service"
INBOX_UNIT = "server-monitoring-inbox.service"
