"""The fleet's view of the app's own update history, from what the app itself
wrote: the agent's app is put under git with a local remote, as a `git
clone` deployment is, with the project `.env` the app's installer writes for
a bare-metal production host, and its own bin/update.sh --rollback
--auto-env runs through the role's job runner, as the auto-update entry runs
it. The remote gets one new commit (the update succeeds), then a commit
whose migration fails (the update fails at migrate and rolls back).
playbooks/status.yml then names the commit the host runs, the failed step
and the rollback.
"""

import base64
import re

import pytest

from conftest import (APP_DIR, LOGS, RUNNER, cron_frozen, molecule_host, output, run_as_app, run_status,
                      status_table)

AGENT = "sm-up-agent"
REMOTE = "/var/www/sm-update-remote.git"
WORK = "/var/www/sm-update-work"
GIT = "git -c user.name=server-maintanence-test -c user.email=test@localhost"
# The app's update picks its mode from the project's .env (bin/lib/health_check.sh,
# detect_mode); without one it takes a dev host and syncs the dev extras from
# PyPI. Its installer writes these two for a bare-metal production host.
PROJECT_ENV = "%s/.env" % APP_DIR
PRODUCTION_BARE_METAL = "DJANGO_ENV=prod\\nDEPLOY_METHOD=bare\\n"
# What the test makes on the agent, removed before and after: the history's
# failed attempt would fail every later status run of this host.
MADE_HERE = (REMOTE, WORK, APP_DIR + "/.git", PROJECT_ENV, LOGS + "/update-history.jsonl")
REMOVE_MADE_HERE = "rm -rf" + " %s" * len(MADE_HERE)  # testinfra quotes each path


def as_app(host, command):
    result = run_as_app(host, command)
    assert result.rc == 0, (command, result.stdout, result.stderr)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def agent():
    host = molecule_host(AGENT)
    assert host.run("command -v git").rc == 0, "the upstream image has no git: rebuild it (scripts/build-images.sh)"
    host.check_output(REMOVE_MADE_HERE, *MADE_HERE)
    # The deployed tree as its first commit, on main, with a remote: a `git clone` deployment.
    as_app(host, "cd %s && %s init -q -b main && %s add -A && %s commit -q -m deployed" % (APP_DIR, GIT, GIT, GIT))
    as_app(host, "%s clone -q --bare %s %s" % (GIT, APP_DIR, REMOTE))
    as_app(host, "cd %s && %s remote add origin %s && %s fetch -q origin && %s branch -q -u origin/main"
           % (APP_DIR, GIT, REMOTE, GIT, GIT))
    as_app(host, "%s clone -q %s %s" % (GIT, REMOTE, WORK))
    as_app(host, "printf '%s' > %s" % (PRODUCTION_BARE_METAL, PROJECT_ENV))
    try:
        yield host
    finally:
        host.run(REMOVE_MADE_HERE, *MADE_HERE)


def push(host, change, message):
    """A commit on the remote's main; its short sha, as bin/update.sh records it."""
    as_app(host, "cd %s && %s && %s add -A && %s commit -q -m %s && %s push -q origin main"
           % (WORK, change, GIT, GIT, message, GIT))
    return as_app(host, "cd %s && git rev-parse HEAD" % WORK)[:7]


def update(host):
    """The app's own update, run by the role's job runner as its auto-update entry runs it."""
    return run_as_app(host, "%s update 1800 bin/update.sh --rollback --auto-env" % RUNNER)


def agent_row(host):
    result = run_status(host)
    return result, status_table(result.stdout)[AGENT]


def test_status_names_the_commit_the_failed_step_and_the_rollback_from_what_the_app_wrote(agent):
    # Status reads the jobs' records too: cron frozen, so that none is written meanwhile.
    with cron_frozen(agent):
        first = push(agent, "echo 'one more line' >> README.md", "an-update")
        ran = update(agent)
        assert ran.rc == 0, agent.run("tail -n 40 %s/update.log", LOGS).stdout
        _result, row = agent_row(agent)
        assert row["COMMIT"] == first and row["LAST-UPDATE"].endswith("/updated"), row

        # A migration that fails, after the app's latest one of the same app.
        latest = as_app(agent, "cd %s && ls apps/checkers/migrations | grep -E '^[0-9]{4}_.*[.]py$' | sort | tail -n 1"
                        % WORK)[:-3]
        migration = ("from django.db import migrations\\n\\n\\ndef fail(apps, schema_editor):\\n"
                     "    raise RuntimeError('fails on purpose')\\n\\n\\n"
                     "class Migration(migrations.Migration):\\n"
                     "    dependencies = [('checkers', '%s')]\\n"
                     "    operations = [migrations.RunPython(fail)]\\n" % latest)
        second = push(agent, "printf '%s' > apps/checkers/migrations/9999_fails_on_purpose.py" % migration,
                      "a-failing-migration")
        ran = update(agent)
        assert ran.rc == 1, agent.run("tail -n 40 %s/update.log", LOGS).stdout
        assert as_app(agent, "cd %s && git rev-parse HEAD" % APP_DIR)[:7] == first, "the app rolled back"

        result, row = agent_row(agent)
        assert row["COMMIT"] == first, row
        assert row["LAST-UPDATE"].endswith("/FAILED:migrate:rolled-back"), row
        assert row["STATUS"] == "FAIL"
        assert re.search(r"the last update attempt of the app, \S+ ago, failed at migrate \(%s to %s\) and was rolled back to %s"
                         % (first, second, first), output(result)), output(result)[-3000:]
