#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Own the server-monitoring app's entries in the app user's crontab."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_crontab
short_description: Own the app's entries in the app user's crontab
version_added: "0.3.0"
deprecated:
  removed_in: 1.0.0
  why: >-
    The server_maintanence role writes the app's crontab entries inside M(server_maintanence.ops.maintenance)
    with the same code; nothing calls this module.
  alternative: >-
    The server_maintanence role, whose job variables (C(server_maintanence_*_schedule), C(*_enabled), C(*_timeout))
    decide each entry; M(ansible.builtin.cron) for other entries.
description:
  - Reads the crontab of O(user) once, puts O(entries) in place in memory and
    writes it back once, with C(crontab -u USER FILE), only when it changed.
  - The same code as the crontab part of M(server_maintanence.ops.maintenance),
    which the server_maintanence role calls; this module is that part alone.
  - "Each entry is a C(#Ansible: <name>) header followed by its line, the form
    M(ansible.builtin.cron) writes, so entries it made are recognised; an
    entry is edited where it stands, and a new one is appended."
  - Takes over the lines the app's own installer (C(bin/install/cron.sh))
    wrote for the jobs of O(entries). A line that ends with C(# <name>) of an
    entry (the installer tags its lines C(# server-maintanence health check),
    C(# server-maintanence auto-update) and C(# server-maintanence cluster push),
    the names the role gives the same jobs) is removed, the entry replacing it
    when it is present. A line tagged with the name of no entry is kept.
  - A malformed entry (a header whose line was deleted, a header twice, a job
    line without its header, recognised by O(entries[].markers)) is rewritten
    as one entry. Every other line is kept as it is.
options:
  user:
    description: The user whose crontab holds the entries.
    type: str
    required: true
  entries:
    description: The entries to put in place.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: "The entry's name, written in its C(#Ansible:) header."
        type: str
        required: true
      line:
        description: The whole crontab line (5 schedule fields and the command); ignored when absent.
        type: str
        default: ''
      state:
        description: Whether the entry must be there.
        type: str
        choices: [present, absent]
        default: present
      markers:
        description:
          - Texts that make a job line this entry's even without its header (its
            command's call, the lock of an older release's line).
        type: list
        elements: str
        default: []
  take_over:
    description:
      - Remove the lines the app's installer wrote (the role's entries replace them).
      - False keeps them, as uninstalling does.
    type: bool
    default: true
extends_documentation_fragment:
  - server_maintanence.ops.attributes
  - ansible.builtin.action_common_attributes
notes:
  - Runs C(crontab -l -u) and, when something changes, C(crontab -u USER FILE) with a complete copy
    of the new crontab, root's (C(0600)) in C(/run), removed afterwards. Never through a pipe, since
    crontab(1) installs what it read when the pipe closes, were the module killed while feeding it.
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Install the health check, take over the installer's lines
  server_maintanence.ops.app_crontab:
    user: www-data
    entries:
      - name: server-maintanence health check
        line: >-
          */5 * * * * /usr/local/bin/server-maintanence-job --log cron.log health 240
          /var/www/.local/bin/uv run python manage.py run_pipeline --checks-only --json
        markers: ["/usr/local/bin/server-maintanence-job --log cron.log health "]
      - name: server-maintanence auto-update
        state: absent
"""

RETURN = r"""
taken_over:
  description: The lines of the app's installer that were (or, in check mode, would be) removed.
  returned: always
  type: list
  elements: str
crontab:
  description: The crontab as it is (or, in check mode, would be) after the run, one line per item.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.server_maintanence.ops.plugins.module_utils._crontab import apply

ENTRY_OPTIONS = {
    "name": {"type": "str", "required": True},
    "line": {"type": "str", "default": ""},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "markers": {"type": "list", "elements": "str", "default": [], "no_log": False},
}


def main():
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "required": True},
            "entries": {"type": "list", "elements": "dict", "required": True, "options": ENTRY_OPTIONS},
            "take_over": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    user, entries = module.params["user"], module.params["entries"]
    for entry in entries:
        if entry["state"] == "present" and ("\n" in entry["line"] or not entry["line"].strip()):
            module.fail_json(msg="entry %r: line must be one non-empty line" % entry["name"])
    if module.get_bin_path("crontab") is None:
        # A first run in check mode, before apt installs cron: nothing to read.
        module.exit_json(changed=True, taken_over=[], crontab=[],
                         msg="crontab is not installed yet; a real run installs the entries")
    module.exit_json(**apply(module, user, entries, module.params["take_over"]))


if __name__ == "__main__":
    main()
