#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Read, in one round-trip, everything the role must know about a host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: probe
short_description: Read the host state the server_maintanence role depends on
version_added: "0.2.0"
description:
  - Read-only. Reports the app's account, the uv the cron entries will run, the
    commands the role needs, the app user's crontab, whether systemd is PID 1,
    what runs logrotate, chosen keys of the app's env file, and a stat of each
    path the role manages.
  - One call replaces fact gathering, getent, stat and crontab -l round-trips.
  - The server_maintanence role reads the host with the same code, inside its
    one M(server_maintanence.ops.maintenance) call; this module is that reading
    alone, for playbooks of your own.
options:
  user:
    description: The app's user to look up and whose crontab to read.
    type: str
    required: true
  group:
    description: The app's group to look up.
    type: str
    required: true
  env_keys:
    description:
      - Keys of O(env_file) whose current value is reported. Never pass a secret's key.
      - O(env_file) is read as systemd's C(EnvironmentFile=) reads it.
    type: list
    elements: str
    default: []
  env_wanted:
    description:
      - Keys and the values O(env_file) should give them. Compared on the host;
        only whether each is in sync is reported, never a value or a digest of one.
    type: dict
    default: {}
  units:
    description: systemd units whose state (active or not) is reported, where systemd is PID 1.
    type: list
    elements: str
    default: []
  paths:
    description:
      - Paths to stat without following a link (existence, type, mode, owner,
        group, a link's target, and for those in O(checksums) a small regular
        file's SHA-1), so that tasks whose target is already right can be
        skipped, and whether a link a non-root user could have planted lies
        among the path's parents.
    type: list
    elements: path
    default: []
  checksums:
    description:
      - Those of O(paths) whose SHA-1 is reported, the role's own rendered files.
      - Never pass a file holding a secret (an env file), since its digest would reach the output.
    type: list
    elements: path
    default: []
  report:
    description:
      - Also read what C(playbooks/status.yml) reports. The host's clock, each
        job's record in O(state_dir), the disk usage of O(logs_dir) and the free
        space on its filesystem, and the last rotation of its C(*.log) files in
        O(logrotate_state).
    type: bool
    default: false
  state_dir:
    description: The job runner's state directory (one C(<job>.state) file per job); read with O(report).
    type: path
    default: ''
  jobs:
    description:
      - With O(report), the ids of the jobs whose C(<job>.state) record is read from O(state_dir).
      - Each record is read without following a link or blocking, at most 4096 bytes, and every
        field is checked; a bad one is reported as an error, never with its content.
    type: list
    elements: str
    default: []
  logs_dir:
    description: The app's logs directory; measured with O(report).
    type: path
    default: ''
  logrotate_state:
    description: logrotate's state file; read with O(report).
    type: path
    default: /var/lib/logrotate/status
  project_env:
    description:
      - The app's project C(.env), from which the app's C(bin/update.sh) picks its mode; empty, not read.
      - Read only when it is a regular file that no link a non-root user could have planted leads to,
        without blocking, at most 64 KiB; only C(DEPLOY_METHOD) and C(DJANGO_ENV) are judged, and nothing
        of it is reported.
    type: str
    default: ''
extends_documentation_fragment:
  - server_maintanence.ops.app_paths
  - server_maintanence.ops.attributes
  - ansible.builtin.action_common_attributes
attributes:
  diff_mode:
    support: none
notes:
  - Runs C(crontab -l -u), C(systemctl is-enabled)/C(is-active) and, with O(project_env), C(systemctl list-unit-files); changes nothing.
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read what the role needs in one call
  server_maintanence.ops.probe:
    user: www-data
    group: www-data
    uv_candidates: [~/.local/bin/uv, /usr/local/bin/uv]
    env_file: /etc/server-monitoring/env
    env_keys: [SSRF_ALLOWED_HOSTS]
    paths: [/etc/logrotate.d/server-maintanence, /opt/server-monitoring/logs]
  register: found

- name: Show which uv the cron entries would run
  ansible.builtin.debug:
    msg: "{{ found.probe.uv.path }} ({{ 'present' if found.probe.uv.exists else 'absent' }})"
"""

RETURN = r"""
probe:
  description: What was found on the host.
  returned: always
  type: dict
  contains:
    user_exists:
      description: Whether O(user) exists.
      type: bool
    group_exists:
      description: Whether O(group) exists.
      type: bool
    uv:
      description: The uv the entries will run, and where it was looked for.
      type: dict
      sample: {path: /var/www/.local/bin/uv, discovered: true, exists: true, mode: "0755",
               unsafe: false, searched: [/var/www/.local/bin/uv, /usr/local/bin/uv]}
    env:
      description: Each of O(env_keys) with its last value in O(env_file), or null.
      type: dict
      sample: {SSRF_ALLOWED_HOSTS: hub.internal}
    commands:
      description: Whether each command the role uses is installed.
      type: dict
      sample: {crontab: true, logrotate: true, zstd: false, flock: true, timeout: true, systemctl: true,
              sudo: true}
    crontab:
      description: The app user's crontab, one line per item; empty without one.
      type: list
      elements: str
    systemd:
      description: Whether systemd is PID 1.
      type: bool
    cron_running:
      description: Whether a cron daemon runs.
      type: bool
    services:
      description: Whether cron and logrotate.timer are enabled and the timer active; null without systemd.
      type: dict
    env_in_sync:
      description: Each key of O(env_wanted) and whether O(env_file) gives it that value.
      type: dict
      sample: {HUB_URL: true, HUB_API_KEY: false}
    env_refused:
      description:
        - Null, or where the host's systemd refuses O(env_file) as a whole (a NUL byte, a key or
          value that is not UTF-8 or holds a Unicode non-character), so that a unit with
          C(EnvironmentFile=) does not start and the jobs do not run. Never a value.
      type: dict
      sample: {file: /etc/server-monitoring/env, line: 3, reason: a value that is not UTF-8}
    units_active:
      description: Each of O(units) and whether it is active (false without systemd).
      type: dict
      sample: {server-monitoring.service: true}
    paths:
      description:
        - For each of O(paths), exists and planted_link (the first parent that is a link in a directory
          a non-root user can write, or null), and when it exists type (file, directory, link or other),
          mode, owner, group, isdir, checksum (regular files up to 1 MiB in O(checksums)) and target (links).
        - The checksum of O(env_file) is always null; its content never leaves the host.
      type: dict
    apt_lists:
      description: Whether apt has package lists (a bare image has none).
      type: bool
    user_groups:
      description: The groups O(user) belongs to, its primary group first.
      type: list
      elements: str
    now:
      description: The host's clock as a Unix time; with O(report).
      type: float
    jobs:
      description:
        - With O(report), each of O(jobs)' record from O(state_dir), by job id, as
          the job runner wrote it (name, start, end, duration, exit_code, outcome,
          skipped, timed_out, last_success), or {error} saying why it was not read.
      type: dict
      sample: {health: {exit_code: "0", outcome: success, last_success: "1795645094.528"}}
    logs:
      description: With O(report), the disk usage of O(logs_dir) and the space free for its owner, in bytes (null when missing).
      type: dict
      sample: {size: 16384, free: 20212121600}
    leftovers:
      description: What a run cut short left under the role's temporary names (root's only), in each
        directory that holds one of O(paths) and in C(/run), where crontab copies are written.
      type: list
      elements: str
      sample: [/etc/logrotate.d/server-maintanence.server-maintanence-tmp-0123456789abcdef~]
    state_dir:
      description:
        - With O(report), whether the job runner, run as O(user), can write its records in O(state_dir);
          null when it is not a directory.
        - free and free_inodes are what a user other than root has; read_only the filesystem's flag;
          writable whether the directory's owner, group and mode let O(user) write.
      type: dict
      sample: {free: 20212121600, free_inodes: 1200000, read_only: false, writable: true}
    update_history:
      description:
        - With O(report), the app's last update attempt, from the end of O(logs_dir)'s
          C(update-history.jsonl) (at most 64 KiB read, no link followed, no blocking), as
          C(bin/update.sh) wrote it; null without the file.
        - last is null when no line is what the app writes; bad counts the lines that are not
          (never shown); error says why the file was not read.
      type: dict
      sample: {last: {timestamp: "2026-12-01T03:30:02+0000", old_sha: 77c4be3, new_sha: 9f1e2d3,
               status: failed, commits: 0, mode: systemd, auto_update: true, failed_step: migrate,
               rolled_back: true, time: 1796095802}, bad: 0, error: null}
    update_mode:
      description:
        - With O(project_env), the mode the app's C(bin/update.sh) will pick (C(bin/lib/health_check.sh)
          C(detect_mode)) as C(mode) (docker, systemd, prod or dev; null when O(project_env) could not be
          read), and C(systemd), why the host is not taken for a systemd one (null when it is, or with
          docker). The systemd test is the app user's C(systemctl list-unit-files server-monitoring.service)
          as the role judges it from root, systemd PID 1, the D-Bus system bus socket there, and the unit
          listed. Null without O(project_env).
      type: dict
      sample: {mode: dev, systemd: systemd is not PID 1}
    crontab_changed:
      description: With O(report), when O(user)'s crontab last changed (its file's mtime), as a Unix time; null without one.
      type: float
    last_rotation:
      description: With O(report), the newest time O(logrotate_state) records for O(logs_dir)'s C(*.log) files, as a Unix time; null when none.
      type: float
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.server_maintanence.ops.plugins.module_utils._host_reading import OPTIONS, read_host


def main():
    module = AnsibleModule(argument_spec=OPTIONS, supports_check_mode=True)
    module.exit_json(changed=False, probe=read_host(module, module.params))


if __name__ == "__main__":
    main()
