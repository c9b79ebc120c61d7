"""The app's own auto-update on a server: systemd is PID 1 with D-Bus, so
the app user's `systemctl` reaches systemd and the app's detect_mode takes
the systemd road, whose last step is `sudo systemctl restart` of its two
units: the one command the role grants it.

The agent's app is put under git with a local remote, as a `git clone`
deployment is; no project `.env` is written (the app finds its mode by
itself). The remote gets one new commit, and the auto-update line the role
installed, taken from www-data's crontab, runs as cron runs it. The app's
own records are the judge: its update history shows success at the new
commit in mode systemd, and systemd shows both units running new main
processes. Then a commit whose migration fails: the app rolls back, and
playbooks/status.yml names the commit the host runs, the failed step and
the rollback.
"""

import json
import re

import pytest

from conftest import (APP_DIR, APP_UNITS, LOGS, STATE_DIR, cron_frozen, crontab_entries, job_command, main_pids,
                      molecule_host, output, run_as_app, run_status, settled_main_pids, status_table)

AGENT = "sm-up-agent"
AUTO_UPDATE = "server-maintanence auto-update"
REMOTE = "/var/www/sm-update-remote.git"
WORK = "/var/www/sm-update-work"
GIT = "git -c user.name=server-maintanence-test -c user.email=test@localhost"
PROJECT_ENV = "%s/.env" % APP_DIR
# What the test makes on the agent, removed before and after: the history's
# failed attempt would fail every later status run of this host.
MADE_HERE = (REMOTE, WORK, APP_DIR + "/.git", LOGS + "/update-history.jsonl")
REMOVE_MADE_HERE = "rm -rf" + " %s" * len(MADE_HERE)  # testinfra quotes each path


def as_app(host, command):
    result = run_as_app(host, command)
    assert result.rc == 0, (command, result.stdout, result.stderr)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def agent():
    host = molecule_host(AGENT)
    assert host.run("command -v git").rc == 0, "the upstream image has no git: rebuild it (scripts/build-images.sh)"
    # A server: the app user's systemctl reaches systemd through D-Bus.
    assert run_as_app(host, "systemctl list-unit-files %s" % APP_UNITS[0]).rc == 0, \
        "the app user cannot ask systemd: the upstream image lacks D-Bus (rebuild it: scripts/build-images.sh)"
    assert not host.file(PROJECT_ENV).exists, "the app's mode must come from the host, not a project .env"
    host.check_output(REMOVE_MADE_HERE, *MADE_HERE)
    # The deployed tree as its first commit, on main, with a remote: a `git clone` deployment.
    as_app(host, "cd %s && %s init -q -b main && %s add -A && %s commit -q -m deployed" % (APP_DIR, GIT, GIT, GIT))
    as_app(host, "%s clone -q --bare %s %s" % (GIT, APP_DIR, REMOTE))
    as_app(host, "cd %s && %s remote add origin %s && %s fetch -q origin && %s branch -q -u origin/main"
           % (APP_DIR, GIT, REMOTE, GIT, GIT))
    as_app(host, "%s clone -q %s %s" % (GIT, REMOTE, WORK))
    try:
        yield host
    finally:
        host.run(REMOVE_MADE_HERE, *MADE_HERE)


def push(host, app, change, message):
    """A commit on the remote's main; its short sha, as bin/update.sh records it."""
    as_app(host, "cd %s && %s && %s add -A && %s commit -q -m %s && %s push -q origin main"
           % (WORK, change, GIT, GIT, message, GIT))
    return as_app(host, "cd %s && git rev-parse HEAD" % WORK)[:app.update_history().short_sha]


def update(host):
    """The auto-update line from www-data's crontab, run as cron runs it
    (once a run cron started is over: call it with cron frozen)."""
    lock = "%s/update.lock" % STATE_DIR
    host.run("[ ! -e {0} ] || timeout 600 flock {0} true".format(lock))
    return run_as_app(host, job_command(crontab_entries(host)[AUTO_UPDATE]))


def last_update(host, app):
    """The last line the app appended to its update history."""
    history = app.update_history()
    lines = host.file("%s/%s" % (LOGS, history.name)).content_string.splitlines()
    assert lines, "the app recorded no update"
    return json.loads(lines[-1])


def update_log(host):
    return host.run("tail -n 60 %s/update.log", LOGS).stdout


def test_the_auto_update_line_updates_and_restarts_the_units_then_a_failed_migration_rolls_back(agent, app):
    # Status reads the jobs' records too: cron frozen, so that none is written meanwhile.
    with cron_frozen(agent):
        before = main_pids(agent)
        assert all(before.values()), before
        first = push(agent, app, "echo 'one more line' >> README.md", "an-update")
        ran = update(agent)
        assert ran.rc == 0, update_log(agent)
        record = last_update(agent, app)
        assert (record["status"], record["new_sha"], record["mode"]) == ("success", first, "systemd"), record
        after = settled_main_pids(agent, context=lambda: update_log(agent))
        # Both units restarted: each runs a new main process.
        assert all(after.values()) and not [unit for unit in APP_UNITS if after[unit] == before[unit]], (before, after)

        result, row = agent_row(agent)
        assert result.returncode == 0, output(result)[-3000:]
        assert row["COMMIT"] == first and row["LAST-UPDATE"].endswith("/updated"), row
        assert row["STATUS"] == "ok", row

        # A migration that fails, after the app's latest one of the same app.
        latest = as_app(agent, "cd %s && ls apps/checkers/migrations | grep -E '^[0-9]{4}_.*[.]py$' | sort | tail -n 1"
                        % WORK)[:-3]
        migration = ("from django.db import migrations\\n\\n\\ndef fail(apps, schema_editor):\\n"
                     "    raise RuntimeError('fails on purpose')\\n\\n\\n"
                     "class Migration(migrations.Migration):\\n"
                     "    dependencies = [('checkers', '%s')]\\n"
                     "    operations = [migrations.RunPython(fail)]\\n" % latest)
        second = push(agent, app, "printf '%s' > apps/checkers/migrations/9999_fails_on_purpose.py" % migration,
                      "a-failing-migration")
        ran = update(agent)
        assert ran.rc == 1, update_log(agent)
        assert as_app(agent, "cd %s && git rev-parse HEAD" % APP_DIR)[:len(first)] == first, "the app rolled back"
        record = last_update(agent, app)
        assert (record["status"], record["mode"], record["failed_step"], record["rolled_back"]) == (
            "failed", "systemd", "migrate", True), record
        settled_main_pids(agent, context=lambda: update_log(agent))

        result, row = agent_row(agent)
        assert row["COMMIT"] == first, row
        assert row["LAST-UPDATE"].endswith("/FAILED:migrate:rolled-back"), row
        assert row["STATUS"] == "FAIL"
        assert re.search(r"the last update attempt of the app, \S+ ago, failed at migrate \(%s to %s\) and was rolled back to %s"
                         % (first, second, first), output(result)), output(result)[-3000:]


def agent_row(host):
    result = run_status(host)
    return result, status_table(result.stdout)[AGENT]
