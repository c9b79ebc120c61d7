# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The app user's crontab with the role's entries put in place, computed in
memory: the app_crontab module writes it, and the planner compares it with
what the probe read, so both decide alike whether the crontab must change.

An entry is written as ansible.builtin.cron writes one, a header
`#Ansible: <name>` followed by its line, and edited where it stands. Lines
that the app's own installer (bin/install/cron.sh) wrote are taken over:
removed, the role's entries replacing them. A malformed entry of the role's
(a header whose line was deleted, a header twice, a line without its header)
is rewritten as one well-formed entry. Every other line is kept as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

HEADER = "#Ansible: "
# The app's installer tags its lines with these comments.
INSTALLER_TAGS = ("health check", "auto-update", "cluster push")
_INSTALLER_LINE = re.compile(
    r"#\s*server-maintanence (?:%s)\s*$" % "|".join(re.escape(tag) for tag in INSTALLER_TAGS))


def installer_lines(lines):
    """The lines the app's installer wrote: tagged, not a comment, and not
    under a header of Ansible's."""
    found = []
    previous = ""
    for line in lines:
        if _INSTALLER_LINE.search(line) and not line.lstrip().startswith("#") \
                and not previous.startswith(HEADER):
            found.append(line)
        previous = line
    return found


def _owner(line, entries):
    """The entry a job line belongs to: the first whose markers it holds."""
    if line.startswith("#"):
        return None
    return next((entry for entry in entries if any(marker in line for marker in entry["markers"])), None)


def reconcile(lines, entries, take_over=True):
    """(new lines, the installer's lines taken over) for the crontab `lines`
    once `entries` ([{name, line, state, markers}]) are applied. `markers`:
    texts that make a job line the entry's (its runner call, or the lock of
    the inline wrapper of older releases). Without take_over the installer's
    lines are kept (uninstall)."""
    by_header = {HEADER + entry["name"]: entry for entry in entries}
    taken_over = installer_lines(lines) if take_over else []
    result, placed = [], set()

    def place(entry):
        if entry["state"] == "present" and entry["name"] not in placed:
            result.extend([HEADER + entry["name"], entry["line"]])
        placed.add(entry["name"])

    skip_next = False
    for index, line in enumerate(lines):
        if skip_next:
            skip_next = False
            continue
        entry = by_header.get(line)
        if entry is not None:
            following = lines[index + 1] if index + 1 < len(lines) else None
            # ansible.builtin.cron's rule: the line after a header is its job.
            skip_next = following is not None and _owner(following, [entry]) is entry
            place(entry)
        elif line in taken_over:
            continue
        elif _owner(line, entries) is not None:
            place(_owner(line, entries))
        else:
            result.append(line)
    for entry in entries:
        place(entry)
    return result, taken_over
