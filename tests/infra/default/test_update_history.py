"""playbooks/status.yml reads the app's update history (logs/update-history.jsonl,
which the app user writes): each host's commit and last update attempt in
the table, drift counted under it, a failed attempt failing its host. What
the app user plants there (a link to a root-only file, a FIFO, 200 MB of
garbage) is never followed, waited on or shown, and the good line still
counts.
"""

import base64
import json
import os
import subprocess

import pytest
import testinfra

from conftest import (APP_USER, LOGS, REPO, STATUS, cron_frozen, new_container, output, run_as_app, run_job,
                      run_site, status_table)

PREPARE = REPO / "molecule" / "resources" / "prepare.yml"
HISTORY = LOGS + "/update-history.jsonl"
CURRENT = {"timestamp": "2026-12-01T03:30:02+0000", "old_sha": "77c4be3", "new_sha": "77c4be3",
           "status": "up_to_date", "commits": 0, "mode": "prod", "auto_update": True, "failed_step": None,
           "rolled_back": False}
FAILED = dict(CURRENT, new_sha="9f1e2d3", status="failed", failed_step="migrate", rolled_back=True)
SECRET = "root-only-secret-0e7c4"


def append_as_app(host, entries):
    """Append history lines as the app user, one JSON object each, as bin/update.sh writes them."""
    text = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries)
    encoded = base64.b64encode(text.encode()).decode()
    assert run_as_app(host, "echo %s | base64 -d >> %s" % (encoded, HISTORY)).rc == 0


@pytest.fixture(scope="module")
def second_host():
    """A converged host of its own, beside the scenario's."""
    with new_container("sm-history-") as name:
        host = testinfra.get_host("docker://" + name)
        extra = {"ansible_connection": "community.docker.docker"}
        for playbook in (PREPARE, REPO / "playbooks" / "site.yml"):
            done = run_site(host, extra, inventory=name + ",", limit=name, playbook=playbook)
            assert done.returncode == 0, output(done)[-3000:]
        yield name, host


def status_of_both(host, name, verbosity=()):
    """playbooks/status.yml over the scenario's host and the second one.
    Only the update history decides: the jobs, run just before, may be 30
    intervals old, so a loaded machine's slow run cannot make them late."""
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    command = ["ansible-playbook", "-i", inventory, "-i", name + ",", "--limit", "sm-default," + name, str(STATUS),
               "-e", json.dumps({"ansible_connection": "community.docker.docker",
                                 "server_maintanence_status_max_intervals": 30})] + list(verbosity)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.fixture
def histories(host, second_host):
    name, other = second_host
    with cron_frozen(host):
        host.check_output("rm -f %s", HISTORY)
        other.check_output("rm -f %s", HISTORY)
        # The scenario host's own jobs fresh: only the update history decides.
        for job in ("server-maintanence health check", "server-maintanence auto-update"):
            assert run_job(host, job).rc == 0
        host.check_output("rm -f %s", HISTORY)
        append_as_app(host, [CURRENT])
        append_as_app(other, [CURRENT, FAILED])
        yield name
        host.check_output("rm -f %s", HISTORY)


def test_each_row_shows_its_commit_and_attempt_and_the_failed_host_fails(host, histories):
    result = status_of_both(host, histories)
    text = output(result)
    rows = status_table(result.stdout)
    assert (rows["sm-default"]["COMMIT"], rows[histories]["COMMIT"]) == ("77c4be3", "77c4be3"), rows
    assert rows["sm-default"]["LAST-UPDATE"].endswith("/current"), rows
    assert rows[histories]["LAST-UPDATE"].endswith("/FAILED:migrate:rolled-back"), rows
    assert "app commits: 77c4be3 on 2 hosts" in text
    # Only the host whose last attempt failed fails, naming the step and the rollback.
    assert "fatal: [%s]" % histories in text and "fatal: [sm-default]" not in text, text[-3000:]
    assert "the last update attempt of the app" in text
    assert "failed at migrate (77c4be3 to 9f1e2d3) and was rolled back to 77c4be3" in text


def test_a_failed_update_is_a_warning_when_told(host, histories):
    result = status_of_both(host, histories, ["-e", json.dumps(
        {"server_maintanence_status_fail_on_failed_update": False})])
    assert result.returncode == 0, output(result)[-3000:]
    assert "warning: %s: the last update attempt of the app" % histories in output(result)


@pytest.mark.parametrize("plant", ["link", "fifo", "garbage"])
def test_what_the_app_user_plants_is_never_followed_waited_on_or_shown(host, plant):
    with cron_frozen(host):
        host.check_output("rm -f %s; install -m 0600 /dev/null /root/history-secret; echo %s > /root/history-secret",
                          HISTORY, SECRET)
        try:
            if plant == "link":
                # Root could read it; the app user cannot: what a link there would steal.
                host.check_output("ln -s /root/history-secret %s && chown -h %s %s", HISTORY, APP_USER, HISTORY)
            elif plant == "fifo":
                assert run_as_app(host, "mkfifo %s" % HISTORY).rc == 0
            else:
                assert run_as_app(host, "yes not-json-garbage | head -c 200000000 > %s && echo >> %s" % (HISTORY, HISTORY)).rc == 0
                append_as_app(host, [CURRENT])
            # A read blocked on the FIFO never returns; a loaded machine's run takes minutes at most.
            result = subprocess.run(
                ["timeout", "300", "ansible-playbook", "-vv", "-i",
                 os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"]), "--limit", "sm-default", str(STATUS)],
                capture_output=True, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=False)
            assert result.returncode != 124, "status waited on the planted file"
            text = output(result)
            assert SECRET not in text and "not-json-garbage" not in text
            cells = status_table(result.stdout)["sm-default"]
            if plant == "garbage":
                assert cells["COMMIT"] == "77c4be3", "the good line after the garbage still counts"
                assert "line(s) at its end are not what bin/update.sh writes" in text
            else:
                assert cells["COMMIT"] == "-"
                assert "%s is not a regular file: not read" % HISTORY in text
        finally:
            host.check_output("rm -f %s /root/history-secret", HISTORY)
