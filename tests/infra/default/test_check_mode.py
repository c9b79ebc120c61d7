"""--check --diff on a never-provisioned container reports and changes nothing."""

import subprocess

import pytest

from conftest import LOGROTATE_CONFIG, LOGS, new_container, recap, run_site


@pytest.fixture
def fresh_container():
    with new_container("sm-fresh-") as name:
        # A real server has package lists; the bare image has none.
        subprocess.run(["docker", "exec", name, "apt-get", "update", "-qq"], check=True, capture_output=True)
        yield name


def docker_exec(name, command):
    return subprocess.run(["docker", "exec", name, "sh", "-c", command], capture_output=True, text=True, check=False)


def test_check_diff_on_a_fresh_host_reports_changes_and_changes_nothing(host, fresh_container):
    state = "ls -la /etc/logrotate.d /opt 2>&1; dpkg -l cron logrotate 2>&1 | tail -n +6; crontab -l -u www-data 2>&1"
    before = docker_exec(fresh_container, state).stdout
    result = run_site(host, check=True, diff=True, inventory=fresh_container + ",",
                      limit=fresh_container,
                      extra_vars={"ansible_connection": "community.docker.docker"})
    assert result.returncode == 0, result.stdout[-3000:]
    # The role's one task reports the change, apt's check included.
    assert recap(result.stdout)["changed"] == 1
    # The diff shows the logs directory and the logrotate file that would be written.
    assert "+++ after: %s\n" % LOGS in result.stdout
    assert "+++ after: %s\n" % LOGROTATE_CONFIG in result.stdout
    assert LOGS + "/*.log {" in result.stdout
    assert docker_exec(fresh_container, state).stdout == before
    assert docker_exec(fresh_container, "test -e " + LOGS).returncode != 0
