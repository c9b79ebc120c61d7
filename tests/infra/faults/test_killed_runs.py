"""A run cut short at any instant: the module on the host is killed (SIGKILL,
as the OOM killer or a power cut would) at each kind of write the role makes.
After each kill the host is as it was or as it should be, with nothing a
reader takes for configuration half-written and nothing the app user wrote
lost; one run then leaves it exactly like a clean converge, and the next
changes nothing.

The kill is aimed from outside the modules: the faulted run uses
tests/infra/fault_python.py as its Python, which kills the module's process
at an audit event (a rename, a command started, a file opened). Everything
runs in a container of its own; the scenario's host is untouched.
"""

import json
import pathlib
import shlex
import subprocess

import pytest
import testinfra

from conftest import (APP_USER, LOGROTATE_CONFIG, REPO, RUNNER, RUNNER_CONFIG, STATE_DIR, SUDOERS_GRANT, cron_frozen,
                      crontab_entries, crontab_lines, job_command, new_container, output, recap, run_as_app, run_site,
                      tree_listing, write_as_root, write_crontab)

HARNESS = pathlib.Path(__file__).resolve().with_name("fault_python.py")
FAULTY_PYTHON = "/usr/local/lib/sm-fault-python"
CONTROL = "/run/sm-fault.json"
PREPARE = REPO / "molecule" / "resources" / "prepare.yml"
ENV_FILE = "/etc/server-monitoring/env"
ENV_LOADER = "/usr/local/lib/server-maintanence-env.py"
METRICS_DIR = "/var/lib/prometheus/node-exporter"
# The app user's own line: never lost, whatever instant a run dies at.
MINE = "17 4 * * * /bin/true # mine"
# Every kind of write: the logrotate policy, the runner and its settings, a
# directory with its creation record, a link, the crontab, the env file, the
# sudo grant.
INVENTORY = {
    "ansible_connection": "community.docker.docker",
    "server_maintanence_auto_update_enabled": True,
    "server_maintanence_cluster_role": "agent",
    "server_maintanence_hub_url": "http://127.0.0.1:8000",
    "server_maintanence_manage_env_file": True,
    "server_maintanence_hub_api_key": "fault-test-not-a-secret",
    "server_maintanence_metrics_dir": METRICS_DIR,
}
WRITTEN = [LOGROTATE_CONFIG, "/etc/cron.hourly", RUNNER, RUNNER_CONFIG, ENV_LOADER, "/etc/server-monitoring",
           STATE_DIR, METRICS_DIR, "/etc/sudoers.d"]
# Where a run's temporary names could be left.
SWEPT = "/etc /usr/local /var/lib /run /opt"
LEFTOVERS = "find %s -name '*.server-maintanence-tmp-*' 2>/dev/null; true" % SWEPT


def edit(path):
    return "echo '# edited between runs' >> %s" % path


# id: (what puts the host out of place, so that the run must write; the
# event the module is killed at; a shell pattern over its arguments; ms
# after the event, 0 for at it; the path that must be old or new after the kill).
CASES = {
    "logrotate policy, staged, about to go live": (
        edit(LOGROTATE_CONFIG), "os.rename", "* %s *" % LOGROTATE_CONFIG, 0, LOGROTATE_CONFIG),
    "logrotate policy, while logrotate -d validates it": (
        edit(LOGROTATE_CONFIG), "subprocess.Popen", "*logrotate -d*server-maintanence-tmp-*", 0, LOGROTATE_CONFIG),
    "sudo grant, while visudo validates it": (
        edit(SUDOERS_GRANT), "subprocess.Popen", "*visudo -c*server-maintanence-tmp-*", 0, SUDOERS_GRANT),
    "sudo grant, staged, about to go live": (edit(SUDOERS_GRANT), "os.rename", "* %s *" % SUDOERS_GRANT, 0,
                                             SUDOERS_GRANT),
    "job runner, about to go live": (edit(RUNNER), "os.rename", "* %s *" % RUNNER, 0, RUNNER),
    "runner settings, about to go live": (edit(RUNNER_CONFIG), "os.rename", "* %s *" % RUNNER_CONFIG, 0,
                                          RUNNER_CONFIG),
    "state directory, made aside with its record, about to go live": (
        "rm -rf %s" % STATE_DIR, "os.rename", "* %s *" % STATE_DIR, 0, STATE_DIR),
    "state directory, its record being written": (
        "rm -rf %s" % STATE_DIR, "open", "*/server-maintanence.server-maintanence-tmp-*~/created-by-*", 0,
        STATE_DIR),
    "metrics link, about to go live": (
        "rm %s/server_maintanence.prom" % METRICS_DIR, "os.rename", "* %s/server_maintanence.prom *" % METRICS_DIR,
        0, METRICS_DIR + "/server_maintanence.prom"),
    "crontab, before crontab reads its copy": (
        "crontab", "subprocess.Popen", "*crontab -u %s /run/*" % APP_USER, 0, None),
    "crontab, while crontab installs its copy": (
        "crontab", "subprocess.Popen", "*crontab -u %s /run/*" % APP_USER, 2, None),
    "crontab, installed, its copy not yet removed": (  # unlinked by name in /run's descriptor
        "crontab", "os.remove", "crontab.server-maintanence-tmp-*~ *", 0, None),
    "env file, about to go live": (
        "sed -i 's/^INSTANCE_ID=.*/INSTANCE_ID=edited/' %s" % ENV_FILE, "os.rename", "env.server-maintanence-tmp-* env *",
        0, ENV_FILE),
}


def host_state(host):
    """What the role writes, byte for byte, with owners and modes."""
    return host.check_output("crontab -l -u %s 2>&1; %s; stat -c '%%n %%a %%U:%%G' /opt/server-monitoring/logs"
                             % (APP_USER, tree_listing(WRITTEN)))


def path_state(host, path):
    return host.check_output(tree_listing([path]) + "; stat -c '%%F %%a %%U:%%G' %s 2>/dev/null; true"
                             % shlex.quote(path))


def play(host, **more):
    return run_site(host, dict(INVENTORY, **more), inventory=host.backend.name + ",", limit=host.backend.name)


def assert_converged(host, reference):
    completed = play(host)
    assert completed.returncode == 0, output(completed)[-3000:]
    assert host_state(host) == reference
    again = play(host)
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, output(again)[-3000:]
    assert host.check_output(LEFTOVERS) == ""


def logrotate_errors(host):
    """What logrotate itself says of the policies it would read (-d: nothing rotates)."""
    text = host.run("logrotate -d /etc/logrotate.conf 2>&1").stdout
    return [line for line in text.splitlines() if line.startswith("error:") or "duplicate log entry" in line]


@pytest.fixture(scope="module")
def fault_host():
    """A fresh container with the stand-in app and the app user's own
    crontab line, converged cleanly once; cron is stopped, so no job writes
    while the tests compare. Yields the host and what the clean converge
    left: the whole state, the crontab and each faulted path's state."""
    with new_container("sm-faults-") as name:
        host = testinfra.get_host("docker://" + name)
        prepared = run_site(host, INVENTORY, inventory=name + ",", limit=name, playbook=PREPARE)
        assert prepared.returncode == 0, output(prepared)[-3000:]
        subprocess.run(["docker", "cp", str(HARNESS), "%s:%s" % (name, FAULTY_PYTHON)], check=True)
        converged = play(host)
        assert converged.returncode == 0, output(converged)[-3000:]
        write_crontab(host, [MINE] + crontab_lines(host))
        with cron_frozen(host):
            assert logrotate_errors(host) == []
            clean = {target: path_state(host, target) for *_rest, target in CASES.values() if target}
            yield host, {"state": host_state(host), "crontab": crontab_lines(host), "paths": clean}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_killed_at_each_kind_of_write_leaves_the_host_old_or_new_and_one_run_puts_it_right(fault_host, case):
    host, clean = fault_host
    perturb, event, match, after_ms, target = CASES[case]
    if perturb == "crontab":
        write_crontab(host, [MINE])  # the role's entries gone: the run must write the crontab
    else:
        host.check_output(perturb)
    before = crontab_lines(host) if target is None else path_state(host, target)
    host.check_output("printf %%s %s > %s", json.dumps({"event": event, "match": match, "after_ms": after_ms}),
                      CONTROL)

    killed = play(host, ansible_python_interpreter=FAULTY_PYTHON)

    # The fault fired and killed the module.
    assert not host.file(CONTROL).exists, "the fault never fired: " + output(killed)[-2000:]
    assert killed.returncode != 0 and "137" in output(killed), output(killed)[-2000:]
    # What it was writing is old or new, never half of either; the app user's line is kept.
    if target is None:
        assert crontab_lines(host) in (before, clean["crontab"]), crontab_lines(host)
    else:
        assert path_state(host, target) in (before, clean["paths"][target]), path_state(host, target)
    assert MINE in crontab_lines(host)
    # A leftover is nothing logrotate takes for a policy, nor sudo for a grant.
    assert logrotate_errors(host) == []
    checked = host.run("visudo -c")
    assert checked.rc == 0 and "server-maintanence-tmp" not in checked.stdout, checked.stdout + checked.stderr

    assert_converged(host, clean["state"])
    assert MINE in crontab_lines(host)


HEALTH = "server-maintanence health check"
JOB_RECORDS = "/usr/local/lib/server-maintanence-records.py"
# The runner's records writer behind an audit hook (PEP 578) that kills it
# (SIGKILL) just before it renames the health check's new record into
# place: its temporary file written, its rename not done. The job runs with
# a copy of the runner's settings that names it as the records writer.
FAULTY_RECORDS = "/run/sm-fault-records.py"
FAULTY_SETTINGS = "/run/sm-fault-job"
FAULTY_RECORDS_SOURCE = """import os, runpy, signal, sys
def hook(event, args):
    if event == "os.rename" and os.path.basename(os.fsdecode(args[1])) == "health.state":
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
sys.argv[0] = %r
runpy.run_path(%r, run_name="__main__")
""" % (JOB_RECORDS, JOB_RECORDS)


def test_a_job_whose_records_writer_is_killed_mid_write_keeps_its_record_and_the_next_run_sweeps_the_leftover(
        fault_host):
    """The job runner (the app user, as cron runs it) killed between writing
    a record and renaming it: the last record stays whole, the new one is
    left under the collection's temporary name, and the next run of the role
    removes it (the runner's write lock is free: its writer is dead). Runs
    last: it leaves the state directory with the job's records."""
    host, _clean = fault_host
    command = job_command(crontab_entries(host)[HEALTH])
    assert run_as_app(host, command).rc == 0
    record = host.file(STATE_DIR + "/health.state").content_string
    write_as_root(host, FAULTY_RECORDS, FAULTY_RECORDS_SOURCE.encode(), mode="0644", group="root")
    host.check_output("sed 's|^records=.*|records=%s|' %s > %s && chmod 0644 %s",
                      FAULTY_RECORDS, RUNNER_CONFIG, FAULTY_SETTINGS, FAULTY_SETTINGS)
    try:
        ran = run_as_app(host, "SERVER_MAINTANENCE_JOB_CONFIG=%s %s" % (FAULTY_SETTINGS, command))
        assert ran.rc == 0  # the job ran; only its record could not be written
        assert "could not write %s/health.state" % STATE_DIR in host.file(
            "/opt/server-monitoring/logs/cron.log").content_string
        left = host.check_output("find %s -name 'health.state.server-maintanence-tmp-*~' -user %s -type f",
                                 STATE_DIR, APP_USER).split()
        assert len(left) == 1, left
        assert host.file(STATE_DIR + "/health.state").content_string == record
    finally:
        host.run("rm -f %s %s" % (FAULTY_RECORDS, FAULTY_SETTINGS))

    swept = play(host)
    assert swept.returncode == 0 and recap(swept.stdout)["changed"] == 1, output(swept)[-3000:]
    assert host.check_output(LEFTOVERS) == ""
    assert host.file(STATE_DIR + "/health.state").content_string == record
    again = play(host)
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, output(again)[-3000:]
