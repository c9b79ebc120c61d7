#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Put the role's directories, files and links in place, or remove them,
never through a link."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: managed_paths
short_description: Put directories, files and links in place in one call, never through a link
version_added: "0.3.0"
deprecated:
  removed_in: 1.0.0
  why: >-
    Nothing in the server_maintanence role or its playbooks calls it: the role puts its directories,
    files and links in place inside M(server_maintanence.ops.maintenance), with the same code.
  alternative: >-
    The server_maintanence role for the role's own paths; M(ansible.builtin.file) and
    M(ansible.builtin.copy) for others.
description:
  - Applies each item of O(paths) in order, in one module call.
  - The same code as the paths part of M(server_maintanence.ops.maintenance),
    which the server_maintanence role calls; this module is that part alone.
  - Nothing is followed through a link. The last component of every path is
    C(lstat)ed and opened with C(O_NOFOLLOW); a directory is changed through a
    descriptor of the directory itself. A file is written as a new file beside
    the old one, with its owner and mode set before the first byte, fsynced,
    validated, then renamed over the path (a link there is replaced, never
    written through), and the directory fsynced.
  - Every file's new content is written and validated before the first change a
    reader can see; a failure there (a full disk, a refused validation) leaves
    every path as it was. A run killed at any instant leaves each path old or
    new; a temporary name it leaves is one no reader of the directory takes for
    configuration (it holds a dot and ends in C(~), which cron, run-parts and
    logrotate skip), and O(paths[].state=leftover) removes it.
  - Every failure names the path, and O(paths[].setting) when given.
  - A directory, FIFO, socket or device found where a file or a link is wanted,
    or anything but a directory where a directory is wanted, is refused with
    the path named, and nothing after it is applied.
options:
  paths:
    description: What to put in place or remove, applied in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: An absolute path.
        type: str
        required: true
      state:
        description:
          - C(directory), C(file) and C(link) put the path in place.
          - C(absent) removes a file or a link; anything else found there is kept, with a warning.
          - C(rmdir) removes an empty directory; one that still holds something is kept
            and listed in RV(kept).
          - C(purge) removes a directory and everything in it, never following a link inside.
          - C(leftover) removes what a run cut short left under one of the module's temporary
            names (root's only; a directory only when it holds nothing but root's files).
        type: str
        required: true
        choices: [directory, file, link, absent, rmdir, purge, leftover]
      owner:
        description: Owner of a directory or file (C(root) for a link, which the module makes as itself).
        type: str
      group:
        description: Group of a directory or file.
        type: str
      mode:
        description: Octal mode of a directory or file, such as C("0644").
        type: str
      content:
        description: The whole content of a file.
        type: str
      validate:
        description:
          - A command checking a new file before it goes live, with C(%s) standing for its
            temporary path; a failure leaves the old file in place.
        type: str
      src:
        description: The target a link points to.
        type: str
      setting:
        description: The role variable that names the path, quoted in error messages.
        type: str
      creation_record:
        description:
          - For a directory the module creates, the name of an empty root-owned record file it
            holds from the instant it appears (it is made under a temporary name, the record
            written in it, then renamed into place).
        type: str
extends_documentation_fragment:
  - server_maintanence.ops.attributes
  - ansible.builtin.action_common_attributes
attributes:
  diff_mode:
    details: One diff per path that changes; a file's diff shows its content.
notes:
  - Missing parents of a directory or file are created C(root) C(0755).
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: A root-owned directory, a file validated before it goes live, a link to it
  server_maintanence.ops.managed_paths:
    paths:
      - {path: /var/lib/example, state: directory, owner: root, group: www-data, mode: "0775"}
      - path: /etc/logrotate.d/example
        state: file
        content: "/var/log/example/*.log {\n    weekly\n}\n"
        owner: root
        group: root
        mode: "0644"
        validate: logrotate -d %s
      - {path: /etc/example.conf, state: link, src: /etc/logrotate.d/example}

- name: Uninstall
  server_maintanence.ops.managed_paths:
    paths:
      - {path: /etc/logrotate.d/example, state: absent}
      - {path: /var/lib/example, state: rmdir}
"""

RETURN = r"""
changed_paths:
  description: The paths that changed (or, in check mode, would change), in order.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/example, /etc/logrotate.d/example]
kept:
  description: Directories C(rmdir) kept because they still hold something, and paths C(absent) kept
    because they are neither a file nor a link.
  returned: always
  type: list
  elements: str
  sample: [/srv/shared-state]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.server_maintanence.ops.plugins.module_utils._file_safety import Refused
from ansible_collections.server_maintanence.ops.plugins.module_utils._paths import ITEM_OPTIONS, apply, item_errors


def main():
    module = AnsibleModule(
        argument_spec={"paths": {"type": "list", "elements": "dict", "required": True, "options": ITEM_OPTIONS}},
        supports_check_mode=True,
    )
    items = module.params["paths"]
    errors = item_errors(items)
    if errors:
        module.fail_json(msg=errors[0])
    result = {"changed": False, "changed_paths": [], "kept": []}
    try:
        apply(module, items, result)
    except Refused as error:
        module.fail_json(msg=str(error), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
