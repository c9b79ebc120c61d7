#!/usr/bin/python3
"""A stand-in Python interpreter for the fault-injection tests, installed on a
test host only: it runs the module Ansible pipes in on stdin, unchanged, and
kills its own process with SIGKILL at the audit event (PEP 578) that
/run/sm-fault.json names, as the OOM killer or a power cut would, mid-run.

    {"event": "os.rename", "match": "* /etc/logrotate.d/server-maintanence *", "after_ms": 0}

match is a shell pattern over the event's arguments joined by spaces. The
file is removed when the fault fires, so each fault fires once. Audit hooks
run before the operation: a rename named here does not happen. after_ms > 0
kills that long after the event instead (a command started by it runs on).
"""

import fnmatch
import json
import os
import signal
import sys
import threading

CONTROL = "/run/sm-fault.json"


def _plan():
    try:
        with open(CONTROL) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _words(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _words(item)
    else:
        yield os.fsdecode(value) if isinstance(value, bytes) else str(value)


def _kill():
    os.kill(os.getpid(), signal.SIGKILL)


def _hook_for(plan):
    fired = []

    def hook(event, args):
        if fired or event != plan["event"] or not fnmatch.fnmatchcase(" ".join(_words(args)), plan["match"]):
            return
        fired.append(event)
        os.unlink(CONTROL)
        if plan.get("after_ms"):
            threading.Timer(plan["after_ms"] / 1000.0, _kill).start()
        else:
            _kill()
    return hook


PLAN = _plan()
if PLAN:
    sys.addaudithook(_hook_for(PLAN))
exec(compile(sys.stdin.buffer.read(), "<stdin>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
