#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Set keys in the app's env file, as systemd's EnvironmentFile= reads it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: env_file
short_description: Set keys in an env file read by systemd's EnvironmentFile=
version_added: "0.3.0"
deprecated:
  removed_in: 1.0.0
  why: The role sets the env file's keys inside M(server_maintanence.ops.maintenance), with the same code, and nothing calls this.
  alternative: >-
    The server_maintanence role with C(server_maintanence_manage_env_file=true); M(ansible.builtin.lineinfile)
    for other keys.
description:
  - Sets each key of O(values) in O(path) so that systemd's C(EnvironmentFile=)
    (and the job runner, which reads the file with the same rules) gives it
    exactly that value, quoting it where needed. A key already set is
    rewritten on the line of its last assignment; a missing one is appended.
    Every other line is kept byte for byte.
  - The file is always written whole, as a new file created with O(mode),
    owned by O(owner) and O(group), in the same
    directory before any byte goes into it, then renamed
    over O(path). Nothing is ever followed through a link, so the file may sit
    in a directory the app user can write (the app's own C(.env)).
  - Refuses, changing nothing, when O(path) is a symlink or not a regular file.
  - A missing directory of O(path) is created C(root) C(0755), as the app's
    deployment guide does (C(mkdir -p)), never through a link.
  - A write that fails (a full disk, a read-only filesystem) names O(path) and
    O(setting) and leaves the file as it was.
  - Never shows a value, in its result or its diff; only which keys change.
  - The same code as the env file part of M(server_maintanence.ops.maintenance),
    which the server_maintanence role calls; this module is that part alone.
options:
  path:
    description: The env file.
    type: path
    required: true
  values:
    description: Keys and the values the file must give them (secrets among them).
    type: dict
    required: true
  group:
    description: The group that may read the file (the app's).
    type: str
    required: true
  owner:
    description: The file's owner; the user the module runs as (root, with become) when not given.
    type: str
  mode:
    description: The file's octal mode, set before its first byte; it must give others no access.
    type: str
    default: "0640"
  setting:
    description: The role setting that names O(path), quoted in error messages.
    type: str
    default: ''
extends_documentation_fragment:
  - server_maintanence.ops.attributes
  - ansible.builtin.action_common_attributes
attributes:
  diff_mode:
    details: The diff lists the keys that change, never a value.
author:
  - server-maintanence-ops contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Point the agent at its hub
  server_maintanence.ops.env_file:
    path: /etc/server-monitoring/env
    group: www-data
    values:
      HUB_URL: https://hub.example.com
      HUB_API_KEY: "{{ vault_hub_api_key }}"
    setting: server_maintanence_env_file
  no_log: true
"""

RETURN = r"""
path:
  description: The env file.
  returned: always
  type: str
  sample: /etc/server-monitoring/env
changed_keys:
  description: The keys whose value was (or, in check mode, would be) set.
  returned: always
  type: list
  elements: str
  sample: [HUB_URL]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.server_maintanence.ops.plugins.module_utils._env_file import set_keys
from ansible_collections.server_maintanence.ops.plugins.module_utils._file_safety import Refused


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "values": {"type": "dict", "required": True, "no_log": True},
            "group": {"type": "str", "required": True},
            "owner": {"type": "str"},
            "mode": {"type": "str", "default": "0640"},
            "setting": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = set_keys(module, params["path"], params["values"], params["group"], params["setting"],
                          params["owner"], params["mode"])
    except Refused as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
