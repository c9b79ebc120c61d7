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
description:
  - Reads the crontab of O(user) once, puts O(entries) in place in memory and
    writes it back once, with C(crontab -u USER FILE), only when it changed.
  - "Each entry is a C(#Ansible: <name>) header followed by its line, the form
    M(ansible.builtin.cron) writes, so entries it made are recognised; an
    entry is edited where it stands, and a new one is appended."
  - Takes over the lines the app's own installer (C(bin/install/cron.sh))
    wrote, tagged C(# server-maintanence health check), C(auto-update) or
    C(cluster push); they are removed, the role's entries replacing them.
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
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: posix
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
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety
from ansible_collections.server_maintanence.ops.plugins.module_utils.app_crontab import reconcile


def read_crontab(module, user):
    rc, out, err = module.run_command(["crontab", "-l", "-u", user])
    if rc == 0:
        return out.splitlines()
    if "no crontab" in err:
        return []
    module.fail_json(msg="crontab -l -u %s failed: %s" % (user, err.strip()))


def main():
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "required": True},
            "entries": {"type": "list", "elements": "dict", "required": True, "options": {
                "name": {"type": "str", "required": True},
                "line": {"type": "str", "default": ""},
                "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
                "markers": {"type": "list", "elements": "str", "default": [], "no_log": False},
            }},
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
    before = read_crontab(module, user)
    after, taken_over = reconcile(before, entries, module.params["take_over"])
    changed = after != before
    result = {"changed": changed, "taken_over": taken_over, "crontab": after}
    if module._diff:
        result["diff"] = {"before_header": "crontab of %s" % user, "after_header": "crontab of %s" % user,
                          "before": "".join(line + "\n" for line in before),
                          "after": "".join(line + "\n" for line in after)}
    if changed and not module.check_mode:
        install(module, user, "".join(line + "\n" for line in after), result)
    module.exit_json(**result)


def install(module, user, text, result):
    """Install text as user's crontab from a complete file, as
    ansible.builtin.cron does: crontab(1) reading a pipe installs whatever it
    read when the pipe closes, so a module killed while feeding it would
    leave an empty crontab. The file is root's (0600) and removed afterwards;
    a run cut short leaves it to the next run's sweep of leftovers."""
    try:
        copy = safety.private_copy(to_bytes(text, errors="surrogate_or_strict"), safety.PRIVATE_DIR)
    except OSError as error:
        module.fail_json(msg=str(safety.write_failure(error, "%s/<temporary copy of %s's crontab>" % (
            safety.PRIVATE_DIR, user), "server_maintanence_user")), **result)
    try:
        rc, _out, err = module.run_command(["crontab", "-u", user, copy])
    finally:
        safety.remove_leftover(copy)
    if rc != 0:
        module.fail_json(msg="cannot write the crontab of %s (server_maintanence_user): crontab -u %s FILE "
                             "failed: %s; it was left as it was" % (user, user, err.strip()), **result)


if __name__ == "__main__":
    main()
