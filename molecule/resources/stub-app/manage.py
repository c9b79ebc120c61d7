#!/usr/bin/env python3
"""Test stand-in for the app's manage.py: prints one JSON line per run.

It keeps the app's contract (tests/unit/app_contract/test_stub_contract.py checks it
against the app's source):
- COMMANDS is every command and option it accepts, each one the app's own;
  anything else exits 2 with a usage error, as Django's argument parser does.
- Like the app's settings, it needs DJANGO_SECRET_KEY from the process
  environment or else from the .env file beside it (the environment wins,
  even when empty), and dies with a RuntimeError without one.

SM_VIA tells a test's own run from cron's (cron sets no SM_VIA). A file
named `slow` beside this script makes each run sleep that many seconds; one
named `fail` makes each run exit with the code it holds, after its line.
"""
import argparse
import json
import os
import pathlib
import sys
import time

# command -> {option: None for a flag, else the type of its value}
COMMANDS = {
    "run_pipeline": {"--checks-only": None, "--json": None},
    "push_to_hub": {},
    "process_inbox": {"--limit": int},
    "check": {},
}
SECRET_KEY = "DJANGO_SECRET_KEY"
DOTENV = ".env"

here = pathlib.Path(__file__).resolve().parent


def dotenv(path):
    """KEY=value lines of a dotenv file: # comments, optional quotes and `export`."""
    values = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        key = key.strip()
        if not sep or key.startswith("#"):
            continue
        if key.startswith("export "):
            key = key[len("export "):].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #")[0].rstrip()
        values[key] = value
    return values


def parser():
    top = argparse.ArgumentParser(prog="manage.py", allow_abbrev=False)
    commands = top.add_subparsers(dest="command", metavar="command", required=True)
    for command, options in COMMANDS.items():
        sub = commands.add_parser(command, allow_abbrev=False)
        for option, kind in options.items():
            if kind is None:
                sub.add_argument(option, action="store_true")
            else:
                sub.add_argument(option, type=kind)
    return top


def main(argv):
    slow = here / "slow"
    if slow.exists():
        time.sleep(float(slow.read_text().strip() or 0))
    source = "env" if SECRET_KEY in os.environ else "dotenv"
    key = os.environ[SECRET_KEY] if source == "env" else dotenv(here / DOTENV).get(SECRET_KEY)
    if not key:
        raise RuntimeError("%s is not set: put it in the environment or in %s" % (SECRET_KEY, here / DOTENV))
    parser().parse_args(argv)
    print(json.dumps({
        "stub": "manage.py",
        "args": argv,
        "via": os.environ.get("SM_VIA", "cron"),
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "path": os.environ.get("PATH", ""),
        "secret_key_source": source,
    }), flush=True)
    fail = here / "fail"
    if fail.exists():
        sys.exit(int(fail.read_text().strip() or 1))


if __name__ == "__main__":
    main(sys.argv[1:])
