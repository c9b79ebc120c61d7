"""--check --diff on a never-provisioned container reports and changes nothing."""

import os
import subprocess
import uuid

import pytest

from conftest import LOGROTATE_CONFIG, LOGS, recap, run_site


@pytest.fixture
def fresh_container():
    name = "sm-fresh-" + uuid.uuid4().hex[:8]
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "host",
                    os.environ.get("SM_FRESH_IMAGE", "local/debian:bookworm"), "sleep", "infinity"],
                   check=True, capture_output=True)
    try:
        # A real server has package lists; the bare image has none.
        subprocess.run(["docker", "exec", name, "apt-get", "update", "-qq"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


def docker_exec(name, command):
    return subprocess.run(["docker", "exec", name, "sh", "-c", command], capture_output=True, text=True, check=False)


def test_check_diff_on_a_fresh_host_reports_changes_and_changes_nothing(host, fresh_container):
    state = "ls -la /etc/logrotate.d /opt 2>&1; dpkg -l cron logrotate 2>&1 | tail -n +6; crontab -l -u www-data 2>&1"
    before = docker_exec(fresh_container, state).stdout
    result = run_site(host, check=True, diff=True, inventory=fresh_container + ",",
                      limit=fresh_container,
                      extra_vars={"ansible_connection": "community.docker.docker"})
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout)["changed"] >= 3
    # The diff shows the logrotate file that would be written.
    assert LOGROTATE_CONFIG in result.stdout
    assert LOGS + "/*.log {" in result.stdout
    assert docker_exec(fresh_container, state).stdout == before
    assert docker_exec(fresh_container, "test -e " + LOGS).returncode != 0
