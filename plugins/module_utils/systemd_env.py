# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The app's env file as systemd's EnvironmentFile= reads it (systemd.exec(5)).

One reader for everything that reads that file: the probe, the env_file
module, and the job runner, which runs this file as a script to load it
instead of sourcing it with sh:

    python3 -I systemd_env.py ENV_FILE COMMAND [ARG...]

reads ENV_FILE, adds its variables to the environment and executes COMMAND
(an absolute path). The rules, as systemd (v254 and later) applies them:

- a line whose first non-blank character is # or ; is a comment, to its end;
- KEY=VALUE, blanks around KEY and VALUE dropped; a line without = is ignored;
- unquoted, a value is taken literally (interior blanks, #, $, &, parentheses)
  except that a backslash escapes the next character, and a backslash at the
  end of the line continues the value on the next line;
- 'single quotes' keep everything verbatim, newlines included;
- in "double quotes" a backslash escapes " \\ ` $ and a newline (which is
  dropped); before any other character the backslash is kept;
- quotes open only where a value starts or right after a closing quote:
  'a'"b" is ab; elsewhere a quote is an ordinary character;
- no variable expansion; the last assignment of a key wins; assignments whose
  key is not a valid name ([A-Za-z_][A-Za-z0-9_]*) or whose value is not
  UTF-8 or holds a control character other than tab and newline are ignored.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import sys

_BLANK = " \t\n\r"
_NEWLINE = "\n\r"
_DOUBLE_QUOTE_ESCAPES = '"\\`$'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Control characters other than tab and newline, and (decoded with
# surrogateescape) bytes that are not UTF-8: systemd ignores such assignments.
_CONTROL = re.compile(u"[\x00-\x08\x0b-\x1f\x7f\udc80-\udcff]")
# Values written without quotes: nothing systemd, the runner or a reader that
# expands variables (python-dotenv) could take differently.
_BARE = re.compile(r"(?!#)[A-Za-z0-9_@%+=:,./?#!*\[\]-]+\Z")

EX_CONFIG = 78


def assignments(text):
    """Every KEY=VALUE of `text` in file order, as (key, value, start, end):
    start is the offset of the key's first character, end the offset of the
    newline (or end of text) that closes the assignment. Invalid keys and
    values are included; valid() tells them apart."""
    found = []
    state = "pre_key"
    key = value = None
    start = 0
    trim = None  # where trailing blanks of an unquoted value begin
    index = 0
    for index, char in enumerate(text):
        if state == "pre_key":
            if char in "#;":
                state = "comment"
            elif char not in _BLANK:
                state, key, start = "key", [char], index
        elif state == "comment":
            if char in _NEWLINE:
                state = "pre_key"
        elif state == "key":
            if char in _NEWLINE:
                state = "pre_key"
            elif char == "=":
                state, value, trim = "pre_value", [], None
            else:
                key.append(char)
        elif char in _NEWLINE and state in ("pre_value", "value"):
            found.append(_assignment(key, value, trim if state == "value" else None, start, index))
            state = "pre_key"
        elif state == "pre_value":
            if char == "'":
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "\\":
                state = "escape"
            elif char not in _BLANK:
                state = "value"
                value.append(char)
        elif state == "value":
            if char == "\\":
                state, trim = "escape", None
            else:
                if char not in _BLANK:
                    trim = None
                elif trim is None:
                    trim = len(value)
                value.append(char)
        elif state == "escape":
            state = "value"
            if char not in _NEWLINE:
                value.append(char)
        elif state == "single":
            if char == "'":
                state = "pre_value"
            else:
                value.append(char)
        elif state == "double":
            if char == '"':
                state = "pre_value"
            elif char == "\\":
                state = "double_escape"
            else:
                value.append(char)
        else:  # double_escape
            state = "double"
            if char in _DOUBLE_QUOTE_ESCAPES:
                value.append(char)
            elif char != "\n":
                value.extend(("\\", char))
    if state not in ("pre_key", "comment", "key"):
        found.append(_assignment(key, value, trim if state == "value" else None, start, len(text)))
    return found


def _assignment(key, value, trim, start, end):
    if trim is not None:
        value = value[:trim]
    return "".join(key).rstrip(_BLANK), "".join(value), start, end


def valid(key, value):
    """Whether systemd keeps this assignment."""
    return bool(_NAME.match(key)) and not _CONTROL.search(value)


def parse(text):
    """The environment `text` gives a unit: [(key, value)], each key once, in
    the order of its last assignment."""
    last = {}
    for key, value, _start, _end in assignments(text):
        if valid(key, value):
            last.pop(key, None)
            last[key] = value
    return list(last.items())


def read(path):
    """parse() of the file at `path` (UTF-8; an assignment that is not is ignored)."""
    with open(path, "rb") as handle:
        return parse(handle.read().decode("utf-8", "surrogateescape"))


def quote(value):
    """`value` as systemd and parse() read it back exactly: bare when it is
    plain, else in double quotes with " \\ ` $ escaped."""
    if _CONTROL.search(value):
        raise ValueError("a value with control characters cannot be written")
    if _BARE.match(value):
        return value
    return '"%s"' % re.sub(r'(["\\`$])', r"\\\1", value)


def line(key, value):
    """KEY=VALUE as one assignment; raises ValueError for an invalid key."""
    if not _NAME.match(key):
        raise ValueError("%r is not a valid environment variable name" % (key,))
    return "%s=%s" % (key, quote(value))


def main(argv):
    """python3 -I systemd_env.py ENV_FILE COMMAND [ARG...]: exec COMMAND with
    ENV_FILE's variables added; exit 78 when it cannot be read, 64 on bad usage."""
    if len(argv) < 3 or not os.path.isabs(argv[2]):
        sys.stderr.write("usage: systemd_env.py ENV_FILE /ABSOLUTE/COMMAND [ARG...]\n")
        return 64
    try:
        pairs = read(argv[1])
    except (OSError, IOError) as error:
        sys.stderr.write("cannot read %s: %s\n" % (argv[1], error.strerror))
        return EX_CONFIG
    os.environ.update(pairs)
    try:
        os.execv(argv[2], argv[2:])
    except OSError as error:
        sys.stderr.write("cannot run %s: %s\n" % (argv[2], error.strerror))
        return 127 if error.errno == 2 else 126


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
