"""Every drift an operator or an upgrade can make is put back by the next run,
which is then followed by a run that changes nothing; no job is ever left
installed twice. The idempotent run applies nothing, so this is what proves
that the engine's reading and plan still see each drift."""

import json

import pytest

from conftest import (APP_USER, LOGROTATE_CONFIG, LOGS, RUNNER, RUNNER_CONFIG, STATE_DIR, SUDOERS_GRANT, crontab_lines,
                      module_calls, output, recap, run_site)

ENV_READER = "/usr/local/lib/server-maintanence-env.py"

# The cron daemon: a live (not zombie: this container's PID 1 reaps nothing)
# cron process under PID 1; a job's forked cron child runs under the daemon.
CRON_DAEMON = "ps -eo ppid=,stat=,comm= | grep -Eq '^ *1 [^Z][^ ]* +cron$'"
# Every row of the role's table this scenario uses (the state directory's
# own content changes as cron runs the jobs, so only its files by name).
FILES = ("find {files} /etc/cron.hourly /etc/server-monitoring -printf '%p %m %u:%g %s\\n' 2>&1 | sort; "
         "sha256sum {files} 2>&1; stat -c '%n %a %U:%G' {logs} {state}; "
         "ls -d {logs}/*.lock {state}/push.state {state}/inbox.state 2>&1").format(
    files=" ".join((LOGROTATE_CONFIG, RUNNER, RUNNER_CONFIG, ENV_READER, SUDOERS_GRANT)), logs=LOGS, state=STATE_DIR)


def edit_crontab(sed):
    return "crontab -l -u {0} | sed {1} | crontab -u {0} -".format(APP_USER, sed)


DRIFTS = {
    "logrotate policy edited": "echo '# local edit' >> " + LOGROTATE_CONFIG,
    "logrotate policy deleted": "rm " + LOGROTATE_CONFIG,
    "logrotate policy chmod-ed": "chmod 0666 " + LOGROTATE_CONFIG,
    "logrotate policy chown-ed": "chown %s:%s %s" % (APP_USER, APP_USER, LOGROTATE_CONFIG),
    "logs dir mode": "chmod 0777 " + LOGS,
    "logs dir owner": "chown root:root " + LOGS,
    "logs dir deleted": "rm -rf " + LOGS,
    "state dir mode": "chmod 0777 " + STATE_DIR,
    "state dir owner": "chown %s %s" % (APP_USER, STATE_DIR),
    "job runner edited": "echo 'exit 0' >> " + RUNNER,
    "job runner chmod-ed": "chmod 0777 " + RUNNER,
    "job runner's settings deleted": "rm " + RUNNER_CONFIG,
    "job runner's settings edited": "sed -i 's/^metrics=.*/metrics=1/' " + RUNNER_CONFIG,
    "env file reader edited": "echo 'import os' >> " + ENV_READER,
    "env file reader chown-ed": "chown %s %s" % (APP_USER, ENV_READER),
    # The auto-update's sudo grant (auto-update is on here), widened, loosened, removed.
    "sudo grant widened": "echo '%s ALL=(ALL) NOPASSWD: ALL' >> %s" % (APP_USER, SUDOERS_GRANT),
    "sudo grant chmod-ed": "chmod 0644 " + SUDOERS_GRANT,
    "sudo grant deleted": "rm " + SUDOERS_GRANT,
    "hourly runner left from an hourly setting": "printf '#!/bin/sh\\n' > /etc/cron.hourly/server-maintanence-logrotate",
    "lock of an older release left in the logs": "touch %s/health.lock && chown %s %s/health.lock" % (
        LOGS, APP_USER, LOGS),
    "record of a job turned off": "echo 'exit_code=0' > %s/push.state" % STATE_DIR,
    "crontab line schedule edited": edit_crontab(r"'/^#Ansible: server-maintanence health check/{n;s/^\* \* \* \* \*/*\/7 * * * */}'"),
    "crontab line command edited": edit_crontab(r"'/^#Ansible: server-maintanence health check/{n;s/run_pipeline/run_check/}'"),
    # Deleted by hand with crontab -e: its "#Ansible:" header stays behind.
    "crontab line deleted": edit_crontab(r"'/^#Ansible: server-maintanence health check/{n;d}'"),
    "crontab header deleted": edit_crontab(r"'/^#Ansible: server-maintanence health check/d'"),
    "whole crontab removed": "crontab -r -u " + APP_USER,
    # A job cron had just started (every minute here) outlives the daemon in
    # a cron child that PID 1 inherits and CRON_DAEMON matches: the drift is
    # done once that job has ended too.
    "cron stopped": "service cron stop && for i in $(seq 120); do %s || exit 0; sleep 0.5; done; exit 1" % CRON_DAEMON,
}


@pytest.fixture(scope="module")
def installed(host):
    """The state the role leaves, taken once before any drift."""
    first = run_site(host)
    assert first.returncode == 0, first.stdout[-3000:]
    return role_state(host)


def role_state(host):
    """The crontab (in any order: a repair may append) and the role's files."""
    return sorted(crontab_lines(host)), host.run(FILES).stdout


def jobs_once_each(host):
    lines = crontab_lines(host)
    headers = [line for line in lines if line.startswith("#Ansible: ")]
    jobs = [line for line in lines if line and not line.startswith("#")]
    return len(headers) == len(set(headers)) == len(jobs), lines


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_each_drift_is_put_back_and_the_next_run_changes_nothing(host, installed, drift):
    host.check_output(DRIFTS[drift])

    repaired = run_site(host)
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    assert recap(repaired.stdout)["changed"] >= 1, "the run did not see: " + drift
    assert role_state(host) == installed
    assert host.run(CRON_DAEMON).rc == 0, "the cron daemon is not running"
    once, lines = jobs_once_each(host)
    assert once, lines

    again = run_site(host)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["changed"] == 0, again.stdout[-3000:]
    assert role_state(host) == installed


def test_a_host_in_place_costs_one_module_call(host, installed):
    """The engine finds nothing out of place: its one call is the only one
    on the host, apt not even run."""
    result = run_site(host, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    assert result.returncode == 0, output(result)[-3000:]
    report = json.loads(result.stdout)
    assert module_calls(report, "sm-default") == ["server_maintanence.ops.maintenance"]
    assert report["stats"]["sm-default"]["changed"] == 0
