# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Cron schedules, on the controller: what is wrong with a 5-field
schedule, the longest time between two of its runs, when a job is late,
and a stable per-host splay of its minute field."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
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
    if not errors and not fields[2].startswith("*") and fields[4].startswith("*"):
        # Only the day of the month decides: it must exist in one of the months.
        days, months = _numbers(fields[2], 1, 31), _numbers(fields[3], 1, 12)
        if min(days) > max(_MONTH_DAYS[month] for month in months):
            errors.append("day %s never comes in month %s: the job would never run" % (fields[2], fields[3]))
    return errors


# The most days each month can have (February: in a leap year).
_MONTH_DAYS = dict(zip(range(1, 13), (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)))


def _numbers(text, low, high):
    """The values a valid cron field stands for."""
    values = set()
    for element in text.split(","):
        first, last, step = _ELEMENT.match(element).groups()
        start = low if first is None else int(first)
        end = high if first is None or (last is None and step) else int(last if last is not None else first)
        values.update(range(start, end + 1, int(step or 1)))
    return values


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


def cron_interval(schedule):
    """The longest time, in seconds, between two runs of a valid 5-field cron
    schedule: how long a healthy job may go without running."""
    fields = schedule.split()
    minute, hour, day, month, weekday = (_numbers(text, low, high) for text, (_name, low, high)
                                         in zip(fields, CRON_FIELDS))
    weekday = {0 if value == 7 else value for value in weekday}
    times = sorted(h * 60 + m for h in hour for m in minute)
    longest_in_a_day = max([b - a for a, b in zip(times, times[1:])] or [0])
    day_star, weekday_star = fields[2].startswith("*"), fields[4].startswith("*")
    if len(day) == 31 and len(weekday) == 7 and len(month) == 12:
        return 60 * max(longest_in_a_day, times[0] + 1440 - times[-1])

    def fires(date):
        on_day, on_weekday = date.day in day, date.isoweekday() % 7 in weekday
        if day_star or weekday_star:  # cron: either star means both must match
            return date.month in month and on_day and on_weekday
        return date.month in month and (on_day or on_weekday)

    # Eight years hold every pattern of days, leap days included.
    first = datetime.date(2024, 1, 1)
    days = [n for n in range(366 * 8) if fires(first + datetime.timedelta(days=n))]
    between_days = [(b - a) * 1440 + times[0] - times[-1] for a, b in zip(days, days[1:])]
    return 60 * max([longest_in_a_day] + between_days)


def late_after(interval, max_intervals):
    """Seconds without a success after which a job whose schedule's
    interval is `interval` seconds is late: the one definition that status
    judges by and the job metrics carry for the alert rules."""
    return int(max_intervals) * int(interval)
