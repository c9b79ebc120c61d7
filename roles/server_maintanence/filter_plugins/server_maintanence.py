"""Controller-side helpers of the server_maintanence role.

They run inside the play on the controller, so validating a schedule or
comparing a crontab costs no round-trip to the host.
"""

import hashlib
import re

CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)
_ELEMENT = re.compile(r"^(?:\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$")
# The app's installer (bin/install/cron.sh) tags its lines with these comments.
INSTALLER_TAGS = ("health check", "auto-update", "cluster push")
_INSTALLER_LINE = re.compile(
    r"#\s*server-maintanence (?:%s)\s*$" % "|".join(re.escape(t) for t in INSTALLER_TAGS)
)
_SPLAYABLE_MINUTE = re.compile(r"^\*/(\d+)$")


def _field_errors(text, name, low, high):
    errors = []
    for element in text.split(","):
        match = _ELEMENT.match(element)
        if not match:
            errors.append("%s field '%s' is not *, N, N-M, */S or N-M/S" % (name, element))
            continue
        first, last, step = match.groups()
        for number in (first, last):
            if number is not None and not low <= int(number) <= high:
                errors.append("%s %s is outside %d-%d" % (name, number, low, high))
        if first is not None and last is not None and int(first) > int(last):
            errors.append("%s range %s-%s runs backwards" % (name, first, last))
        if step is not None and not 1 <= int(step) <= high:
            errors.append("%s step /%s is outside 1-%d" % (name, step, high))
    return errors


def cron_errors(schedule):
    """Everything wrong with a 5-field numeric cron schedule; [] when valid."""
    if not isinstance(schedule, str) or "\n" in schedule:
        return ["must be one line of text"]
    fields = schedule.split()
    if len(fields) != len(CRON_FIELDS):
        return ["has %d fields, needs 5 (minute hour day month weekday)" % len(fields)]
    errors = []
    for text, (name, low, high) in zip(fields, CRON_FIELDS):
        errors.extend(_field_errors(text, name, low, high))
    return errors


def cron_fields(schedule):
    """{'minute': .., 'hour': .., 'day': .., 'month': .., 'weekday': ..}"""
    return dict(zip((name for name, _, _ in CRON_FIELDS), schedule.split()))


def cron_splay(schedule, seed):
    """Shift a */N minute field by a stable offset in 0..N-1 taken from seed.

    Any other minute field is returned unchanged: there is no interval to
    spread within.
    """
    fields = schedule.split()
    match = _SPLAYABLE_MINUTE.match(fields[0])
    if not match:
        return " ".join(fields)
    step = int(match.group(1))
    offset = int(hashlib.sha256(str(seed).encode()).hexdigest()[:8], 16) % step
    fields[0] = "%d-59/%d" % (offset, step)
    return " ".join(fields)


def installer_lines(lines):
    """Crontab lines written by the app's own installer, not by Ansible."""
    found = []
    previous = ""
    for line in lines:
        if _INSTALLER_LINE.search(line) and not line.lstrip().startswith("#") \
                and not previous.startswith("#Ansible:"):
            found.append(line)
        previous = line
    return found


def cron_in_sync(lines, name, line, state):
    """True when the crontab already holds exactly what ansible.builtin.cron
    would leave for this entry, so the module call can be skipped."""
    header = "#Ansible: %s" % name
    positions = [i for i, text in enumerate(lines) if text == header]
    if state == "absent":
        return not positions
    return len(positions) == 1 and positions[0] + 1 < len(lines) \
        and lines[positions[0] + 1] == line


class FilterModule:
    def filters(self):
        return {
            "server_maintanence_cron_errors": cron_errors,
            "server_maintanence_cron_fields": cron_fields,
            "server_maintanence_cron_splay": cron_splay,
            "server_maintanence_installer_lines": installer_lines,
            "server_maintanence_cron_in_sync": cron_in_sync,
        }
