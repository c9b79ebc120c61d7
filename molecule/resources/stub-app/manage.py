#!/usr/bin/env python3
"""Test stand-in for the app's manage.py: prints one JSON line per run.

SM_VIA tells a test's own run from cron's (cron sets no SM_VIA). A file
named `slow` beside this script makes each run sleep that many seconds.
"""
import json
import os
import pathlib
import sys
import time

here = pathlib.Path(__file__).resolve().parent
slow = here / "slow"
if slow.exists():
    time.sleep(float(slow.read_text().strip() or 0))
print(json.dumps({
    "stub": "manage.py",
    "args": sys.argv[1:],
    "via": os.environ.get("SM_VIA", "cron"),
    "uid": os.getuid(),
    "cwd": os.getcwd(),
    "path": os.environ.get("PATH", ""),
}), flush=True)
