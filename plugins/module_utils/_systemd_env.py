# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The app's env file as systemd's EnvironmentFile= reads it (systemd.exec(5)).

One reader for everything that reads that file: the host reading
(_host_reading.py), the writing of its keys (_env_file.py), and the job
runner, which runs this file as a script to load it instead of sourcing it
with sh:

    python3 -I _systemd_env.py ENV_FILE COMMAND [ARG...]

reads ENV_FILE, adds its variables to the environment and executes COMMAND
(an absolute path), or exits 65 without running it when systemd would refuse
ENV_FILE. The rules, as systemd's src/basic/env-file.c applies them (read in
v247.3, v252.39 and v257.13 as Debian ships them, and upstream's current
source):

- a line whose first non-blank character is # or ; is a comment, to its end;
  before v254 (Debian 11 and 12) a backslash ending a comment line continues
  the comment on the next line, from v254 on (Debian 13) it does not;
- KEY=VALUE, blanks around KEY and VALUE dropped; a line without = is ignored;
- unquoted, a value is taken literally (interior blanks, #, $, &, parentheses)
  except that a backslash escapes the next character, and a backslash at the
  end of the line continues the value on the next line;
- 'single quotes' keep everything verbatim, newlines included;
- in "double quotes" a backslash escapes " \\ ` $ and a newline (which is
  dropped); before any other character the backslash is kept;
- quotes open only where a value starts or right after a closing quote:
  'a'"b" is ab; elsewhere a quote is an ordinary character;
- no variable expansion; the last assignment of a key wins, then assignments
  whose key is not a valid name ([A-Za-z_][A-Za-z0-9_]*) or whose value is
  longer than ARG_MAX - 3 bytes are dropped; control characters (carriage
  return, escape...) in a value are kept;
- the whole file is refused (load_env_file fails, a unit with
  EnvironmentFile= and no "-" does not start) when it holds a NUL byte
  anywhere, or when a key or a value is not valid UTF-8 or holds a surrogate
  or a Unicode non-character (U+FDD0 to U+FDEF, and U+xFFFE and U+xFFFF of
  every plane). Bytes in a comment or a line without = are never checked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import sys

_BLANK = " \t\n\r"
_NEWLINE = "\n\r"
_DOUBLE_QUOTE_ESCAPES = '"\\`$'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# What utf8_is_valid() refuses in a key or a value, in text decoded with
# surrogateescape: bytes that are not UTF-8 (a UTF-8-encoded surrogate is
# such bytes too), the non-characters U+FDD0..U+FDEF and U+xFFFE, U+xFFFF.
_NOT_UTF8 = re.compile(u"[\udc80-\udcff]")
_NONCHARACTER = re.compile(u"[\ufdd0-\ufdef%s]" % u"".join(
    u"%s%s" % (chr(plane << 16 | 0xfffe), chr(plane << 16 | 0xffff)) for plane in range(17)))
# Control characters: systemd keeps them in a value; quote() never writes them.
_CONTROL = re.compile(u"[\x00-\x08\x0b-\x1f\x7f]")
# Values written without quotes: nothing systemd, the runner or a reader that
# expands variables (python-dotenv) could take differently.
_BARE = re.compile(r"(?!#)[A-Za-z0-9_@%+=:,./?#!*\[\]-]+\Z")

EX_DATAERR = 65  # systemd refuses the env file: the job is not run
EX_CONFIG = 78
# The first systemd whose comment lines never continue (env-file.c, v254).
COMMENTS_END_AT_NEWLINE = 254
_SHARED = ("/usr/lib/systemd/libsystemd-shared-*.so", "/lib/systemd/libsystemd-shared-*.so",
           "/usr/lib/*/systemd/libsystemd-shared-*.so")


class Refused(ValueError):
    """systemd refuses the whole file: `line` (1-based) holds the first
    reason, `reason` says which, never the content."""

    def __init__(self, line, reason):
        ValueError.__init__(self, "line %d: %s" % (line, reason))
        self.line = line
        self.reason = reason


def host_systemd():
    """The major version of the host's systemd, from its shared library's
    name (libsystemd-shared-252.so), or None when it has none."""
    versions = []
    for pattern in _SHARED:
        for path in glob.glob(pattern):
            found = re.match(r"libsystemd-shared-([0-9]+)", os.path.basename(path))
            if found:
                versions.append(int(found.group(1)))
    return max(versions) if versions else None


def _comment_continues(systemd):
    return systemd is not None and systemd < COMMENTS_END_AT_NEWLINE


def assignments(text, systemd=None):
    """Every KEY=VALUE of `text` in file order, as (key, value, start, end):
    start is the offset of the key's first character, end the offset of the
    newline (or end of text) that closes the assignment. Invalid keys and
    values are included; valid() tells them apart. `systemd`: the major
    version whose rules apply (None: the current ones, v254 and later)."""
    continues = _comment_continues(systemd)
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
            if char == "\\":
                state = "comment_escape"
            elif char in _NEWLINE:
                state = "pre_key"
        elif state == "comment_escape":
            state = "pre_key" if char in _NEWLINE and not continues else "comment"
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


def _arg_max():
    try:
        return os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        return 2097152


def valid(key, value):
    """Whether systemd keeps this assignment of a file it accepts
    (strv_env_clean: a valid name, a value of at most ARG_MAX - 3 bytes)."""
    return bool(_NAME.match(key)) and len(value.encode("utf-8", "surrogateescape")) <= _arg_max() - 3


def _line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def refusal(text, systemd=None):
    """None when systemd loads `text` (decoded with surrogateescape), else
    Refused(line, reason) for the first thing that makes load_env_file fail
    for the whole file: a NUL byte anywhere (read_full_file), else the first
    assignment whose key or value utf8_is_valid() refuses."""
    nul = text.find("\0")
    if nul >= 0:
        return Refused(_line_of(text, nul), "a NUL byte")
    for key, value, start, _end in assignments(text, systemd):
        for part, name in ((key, "key"), (value, "value")):
            if _NOT_UTF8.search(part):
                return Refused(_line_of(text, start), "a %s that is not UTF-8" % name)
            if _NONCHARACTER.search(part):
                return Refused(_line_of(text, start), "a Unicode non-character in a %s" % name)
    return None


def parse(text, systemd=None):
    """The environment `text` gives a unit: [(key, value)], each key once, in
    the order of its last assignment; raises Refused when systemd refuses the
    whole file. `systemd`: as for assignments()."""
    refused = refusal(text, systemd)
    if refused:
        raise refused
    last = {}
    for key, value, _start, _end in assignments(text, systemd):
        last.pop(key, None)
        last[key] = value
    # The last assignment wins, then invalid ones are dropped (as systemd does).
    return [(key, value) for key, value in last.items() if valid(key, value)]


def decode(data):
    return data.decode("utf-8", "surrogateescape")


def read(path, systemd=None):
    """parse() of the file at `path` by the rules of `systemd` (default: the
    host's systemd, see host_systemd())."""
    with open(path, "rb") as handle:
        data = handle.read()
    return parse(decode(data), host_systemd() if systemd is None else systemd)


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


def _initial_environment():
    """The environment this process was started with, as bytes. Not
    os.environ: in the C locale (cron's), CPython adds LC_CTYPE=C.UTF-8 to it
    (PEP 538, even with -I), which a unit does not get and so neither may a job."""
    try:
        with open("/proc/self/environ", "rb") as handle:
            raw = handle.read()
    except (OSError, IOError):
        return dict(os.environb)
    return dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)


def main(argv):
    """python3 -I _systemd_env.py ENV_FILE COMMAND [ARG...]: exec COMMAND with
    ENV_FILE's variables added; exit 78 when it cannot be read, 65 when
    systemd refuses it, 64 on bad usage. python3 -I _systemd_env.py --check
    ENV_FILE: only exit 0, 65 or 78."""
    check = argv[1:2] == ["--check"]
    if check and len(argv) == 3:
        argv = argv[1:]
    elif check or len(argv) < 3 or not os.path.isabs(argv[2]):
        sys.stderr.write("usage: _systemd_env.py ENV_FILE /ABSOLUTE/COMMAND [ARG...]\n"
                         "       _systemd_env.py --check ENV_FILE\n")
        return 64
    try:
        pairs = read(argv[1])
    except (OSError, IOError) as error:
        sys.stderr.write("cannot read %s: %s\n" % (argv[1], error.strerror))
        return EX_CONFIG
    except Refused as refused:
        # The line and why, never the content.
        sys.stderr.write("systemd refuses %s as a whole (line %d: %s), so its units do not start\n"
                         % (argv[1], refused.line, refused.reason))
        return EX_DATAERR
    if check:
        return 0
    environment = _initial_environment()
    environment.update((key.encode("utf-8"), value.encode("utf-8")) for key, value in pairs)
    try:
        os.execve(argv[2], argv[2:], environment)
    except OSError as error:
        sys.stderr.write("cannot run %s: %s\n" % (argv[2], error.strerror))
        return 127 if error.errno == 2 else 126


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
