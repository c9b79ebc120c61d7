# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The app user's crontab: read, the role's entries put in place in memory,
and written back. The planner compares what reconcile() gives with what was
read, and apply() writes it, so both decide alike whether it must change.

An entry is written as ansible.builtin.cron writes one, a header
`#Ansible: <name>` followed by its line, and edited where it stands. Lines
that the app's own installer (bin/install/cron.sh) wrote, tagged with the
name of an entry, are taken over: removed, the role's entry replacing them
when it is present. A malformed entry of the role's
(a header whose line was deleted, a header twice, a line without its header)
is rewritten as one well-formed entry. Every other line is kept as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.server_maintanence.ops.plugins.module_utils import _file_safety as safety
from ansible_collections.server_maintanence.ops.plugins.module_utils._constants import PREFIX

HEADER = "#Ansible: "


def installer_lines(lines, names):
    """The lines the app's installer (bin/install/cron.sh) wrote, each with
    the name of the job it is: the installer ends each line with the comment
    `# <name>`, the name the role gives the same job's entry (`names`). A
    tagged line that is a comment, or stands under a header of Ansible's, is
    not the installer's. [(line, name)]."""
    if not names:
        return []
    tagged = re.compile(r"#\s*(%s)\s*$" % "|".join(re.escape(name) for name in names))
    found = []
    previous = ""
    for line in lines:
        match = tagged.search(line)
        if match and not line.lstrip().startswith("#") and not previous.startswith(HEADER):
            found.append((line, match.group(1)))
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
    lines are kept (uninstall). An installer's line is the job of the entry
    whose name it is tagged with (installer_lines)."""
    by_header = {HEADER + entry["name"]: entry for entry in entries}
    taken_over = [line for line, _name in installer_lines(lines, [entry["name"] for entry in entries])] \
        if take_over else []
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


def cron_entries(jobs, settings):
    """The crontab entries of the app's jobs, as reconcile() takes them: for
    each, its name, the state it must have and its whole line. The line
    hands the job to the role's job runner (`settings["runner"]`), which
    loads the app's env file, holds the job's lock, applies its timeout, logs
    and records the outcome. A job runs its `command`, or manage.py with its
    `manage` arguments through `settings["manage"]`. `markers`: the text that
    makes a crontab line this job's, the runner's call or the lock of the
    inline wrapper that the runner replaced. `settings`: runner, logs_dir,
    manage."""
    entries = []
    for job in jobs:
        default_log = "%s.log" % job["id"]
        call = "%s%s %s " % (settings["runner"], "" if job["log"] == default_log else " --log " + job["log"],
                             job["id"])
        command = job["command"] if job.get("command") else "%s %s" % (settings["manage"], job["manage"])
        entries.append({"name": job["name"], "state": "present" if job["wanted"] else "absent",
                        "line": "%s %s%s %s" % (" ".join(job["schedule"].split()), call, job["timeout"], command),
                        "markers": [call, " %s/%s.lock " % (settings["logs_dir"], job["id"])]})
    return entries


def read_crontab(module, user):
    """The crontab of user, one line per item; [] without one."""
    rc, out, err = module.run_command(["crontab", "-l", "-u", user])
    if rc == 0:
        return out.splitlines()
    if "no crontab" in err:
        return []
    module.fail_json(msg="crontab -l -u %s failed: %s" % (user, err.strip()))


def _text(lines):
    return "".join(line + "\n" for line in lines)


def apply(module, user, entries, take_over=True, before=None):
    """Put entries in user's crontab, writing it once and only when it
    changes (not in check mode). `before`: the crontab as just read, to save
    reading it again. The result: changed, taken_over, crontab and, in diff
    mode, diff."""
    if before is None:
        before = read_crontab(module, user)
    after, taken_over = reconcile(before, entries, take_over)
    result = {"changed": after != before, "taken_over": taken_over, "crontab": after}
    if module._diff:
        result["diff"] = {"before_header": "crontab of %s" % user, "after_header": "crontab of %s" % user,
                          "before": _text(before), "after": _text(after)}
    if result["changed"] and not module.check_mode:
        install(module, user, _text(after), result)
    return result


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
            safety.PRIVATE_DIR, user), PREFIX + "user")), **result)
    try:
        rc, _out, err = module.run_command(["crontab", "-u", user, copy])
    finally:
        safety.remove_leftover(copy)
    if rc != 0:
        module.fail_json(msg="cannot write the crontab of %s (%suser): crontab -u %s FILE "
                             "failed: %s; it was left as it was" % (user, PREFIX, user, err.strip()), **result)
