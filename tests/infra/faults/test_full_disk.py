"""Full filesystems, two runs at once, and the env file's directory, on a
container of its own whose logrotate policy directory, crontab spool and
state directory are small tmpfs mounts that a test fills.

A write that fails names the path and the variable, and the host stays
byte-identical; once space is freed one run converges and the next changes
nothing. A state directory the job runner cannot write its records in
fails the host in status, rather than showing the last success as current.
"""

import concurrent.futures
import contextlib

import pytest
import testinfra

from conftest import (APP_USER, LOGROTATE_CONFIG, REPO, STATE_DIR, cron_frozen, crontab_lines, new_container, output,
                      recap, run_as_app, run_site, status_table, tree_listing)

PREPARE = REPO / "molecule" / "resources" / "prepare.yml"
SPOOL = "/var/spool/cron/crontabs"
ENV_DIR = "/etc/server-monitoring"
# tmpfs holds whole pages: 64 KiB is room for the role's files and little else.
MOUNTS = {"/etc/logrotate.d": "size=64k", SPOOL: "size=64k,mode=1730", STATE_DIR: "size=64k"}
INVENTORY = {"ansible_connection": "community.docker.docker"}
HEALTH = "server-maintanence health check"
LEFTOVERS = "find /etc /usr/local /var/lib /var/spool/cron /run -name '*.server-maintanence-tmp-*' 2>/dev/null; true"


def play(host, playbook=None, **extra):
    name = host.backend.name
    kwargs = {"playbook": playbook} if playbook else {}
    return run_site(host, dict(INVENTORY, **extra), inventory=name + ",", limit=name, **kwargs)


def everything(host):
    """What the role writes and the app user's crontab, byte for byte."""
    return host.check_output("crontab -l -u %s 2>&1; %s" % (APP_USER, tree_listing(
        ["/etc/logrotate.d", "/etc/cron.hourly", "/etc/default/server-maintanence-job",
         "/usr/local/bin/server-maintanence-job", ENV_DIR, STATE_DIR])))


@contextlib.contextmanager
def full(host, directory):
    """directory's filesystem filled to the last byte by a file cron and
    logrotate skip (a dot name; .disabled is in logrotate's taboo list)."""
    filler = "%s/.filler.disabled" % directory
    host.run("dd if=/dev/zero of=%s bs=4k 2>/dev/null; dd if=/dev/zero of=%s.tail bs=1 2>/dev/null", filler, filler)
    assert host.check_output("df --output=avail -B1 %s | tail -1", directory).strip() == "0"
    try:
        yield
    finally:
        host.check_output("rm -f %s %s.tail", filler, filler)


def assert_converges(host, **extra):
    completed = play(host, **extra)
    assert completed.returncode == 0, output(completed)[-3000:]
    again = play(host, **extra)
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, output(again)[-3000:]
    assert host.check_output(LEFTOVERS) == ""


@pytest.fixture(scope="module")
def small_host():
    args = []
    for path, options in MOUNTS.items():
        args += ["--tmpfs", "%s:%s" % (path, options)]
    with new_container("sm-full-", args) as name:
        host = testinfra.get_host("docker://" + name)
        prepared = play(host, PREPARE)
        assert prepared.returncode == 0, output(prepared)[-3000:]
        converged = play(host)
        assert converged.returncode == 0, output(converged)[-3000:]
        with cron_frozen(host):  # no job writes while the tests compare
            yield host


def test_a_full_policy_directory_fails_naming_the_policy_and_changes_nothing(small_host):
    host = small_host
    with full(host, "/etc/logrotate.d"):
        before = everything(host)
        failed = play(host, server_maintanence_logrotate_rotate=9)
        assert failed.returncode != 0
        assert "cannot write %s: No space left on device (ENOSPC); it was left as it was" % LOGROTATE_CONFIG in output(failed), \
            output(failed)[-3000:]
        assert everything(host) == before and host.check_output(LEFTOVERS) == ""
    assert_converges(host, server_maintanence_logrotate_rotate=9)
    assert "rotate 9" in host.file(LOGROTATE_CONFIG).content_string
    assert_converges(host)


def test_a_full_crontab_spool_fails_naming_the_crontab_and_keeps_it(small_host):
    host = small_host
    with full(host, SPOOL):
        before, lines = everything(host), crontab_lines(host)
        failed = play(host, server_maintanence_health_check_schedule="*/7 * * * *")
        assert failed.returncode != 0
        text = output(failed)
        assert "cannot write the crontab of %s (server_maintanence_user)" % APP_USER in text, text[-3000:]
        assert "No space left on device" in text and "left as it was" in text, text[-3000:]
        assert crontab_lines(host) == lines and everything(host) == before
        assert host.check_output(LEFTOVERS) == ""
    assert_converges(host, server_maintanence_health_check_schedule="*/7 * * * *")
    assert any(line.startswith("*/7 * * * * ") for line in crontab_lines(host))
    assert_converges(host)


def test_a_full_state_directory_fails_the_host_in_status_instead_of_a_stale_success(small_host):
    host = small_host
    command = [line for line in crontab_lines(host) if "server-maintanence-job" in line][0].split(None, 5)[5]
    assert run_as_app(host, command).rc == 0
    status = play(host, REPO / "playbooks" / "status.yml")
    assert status.returncode == 0, output(status)[-3000:]
    with full(host, STATE_DIR):
        ran = run_as_app(host, command)
        assert ran.rc == 0  # the job itself ran; only its record could not be written
        assert "could not write %s/health.state" % STATE_DIR in host.file(
            "/opt/server-monitoring/logs/cron.log").content_string
        status = play(host, REPO / "playbooks" / "status.yml")
        text = output(status)
        assert status.returncode != 0, text[-3000:]
        assert "the state directory %s (server_maintanence_state_dir) is full" % STATE_DIR in text, text[-3000:]
        assert status_table(status.stdout)[host.backend.name]["STATUS"] == "FAIL"
    assert run_as_app(host, command).rc == 0
    status = play(host, REPO / "playbooks" / "status.yml")
    assert status.returncode == 0, output(status)[-3000:]


def test_two_runs_at_once_both_end_and_leave_one_valid_result(small_host):
    host = small_host
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(play, host, server_maintanence_logrotate_rotate=rotate) for rotate in (6, 7)]
        results = [run.result(timeout=300) for run in runs]
    assert any(result.returncode == 0 for result in results), [output(r)[-1500:] for r in results]
    policy = host.file(LOGROTATE_CONFIG).content_string
    assert ("rotate 6" in policy) != ("rotate 7" in policy), policy
    logrotate = host.run("logrotate -d /etc/logrotate.conf 2>&1").stdout
    assert [line for line in logrotate.splitlines() if line.startswith("error:")] == [], logrotate[-2000:]
    assert host.check_output(LEFTOVERS) == ""
    assert_converges(host)


AGENT = {"server_maintanence_cluster_role": "agent", "server_maintanence_hub_url": "http://127.0.0.1:8000",
         "server_maintanence_manage_env_file": True, "server_maintanence_hub_api_key": "full-test-not-a-secret"}


def test_an_env_file_directory_that_is_a_file_is_refused_before_any_change(small_host):
    host = small_host
    host.check_output("mv %s %s.aside && printf 'not a directory\\n' > %s", ENV_DIR, ENV_DIR, ENV_DIR)
    try:
        before = everything(host)
        refused = play(host, **AGENT)
        text = output(refused)
        assert refused.returncode != 0 and recap(refused.stdout)["changed"] == 0, text[-3000:]
        assert "server_maintanence_env_file %s/env: its directory %s is a file" % (ENV_DIR, ENV_DIR) in text, text[-3000:]
        assert everything(host) == before
    finally:
        host.check_output("rm -f %s && mv %s.aside %s", ENV_DIR, ENV_DIR, ENV_DIR)


def test_a_missing_env_file_directory_is_created_as_the_apps_guide_does(small_host):
    host = small_host
    host.check_output("mv %s %s.aside", ENV_DIR, ENV_DIR)
    try:
        assert_converges(host, **AGENT)
        assert host.check_output("stat -c '%%U:%%G %%a' %s", ENV_DIR) == "root:root 755"
        assert host.check_output("stat -c '%%U:%%G %%a' %s/env", ENV_DIR) == "root:%s 640" % APP_USER
        assert "HUB_URL=http://127.0.0.1:8000" in host.check_output("cat %s/env", ENV_DIR)
    finally:
        host.check_output("rm -rf %s && mv %s.aside %s", ENV_DIR, ENV_DIR, ENV_DIR)
