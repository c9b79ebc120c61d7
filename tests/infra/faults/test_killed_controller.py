"""A killed controller: ansible-playbook killed with its whole process group
(SIGKILL), as a cancelled AWX job or a dropped connection stops it, at
instants of the role's one task on a host never provisioned: as it starts
(its inputs checked on the controller), before the module leaves the
controller, while apt installs the packages, while the module applies. The
module in flight on the host runs on to its end; one completion run then
leaves the host exactly like a clean converge, and the next changes nothing.

Each kill gets a fresh container of an image made once from a prepared one
(the stand-in app in place), so that a clean converge is the reference.
"""

import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import testinfra

from conftest import REPO, SITE, new_container, output, recap, run_site, tree_listing

PREPARE = REPO / "molecule" / "resources" / "prepare.yml"
# A standalone host with every kind of path: nothing in it depends on the host's name.
INVENTORY = {"ansible_connection": "community.docker.docker", "server_maintanence_auto_update_enabled": True,
             "server_maintanence_metrics_dir": "/var/lib/prometheus/node-exporter"}
# The task whose start the kill waits for, and how long after it (seconds).
KILL_AT = [("Put the host in the state", 0), ("Put the host in the state", 0.5), ("Put the host in the state", 1.5),
           ("Put the host in the state", 4)]
STATE = ("crontab -l -u www-data 2>&1; %s; stat -c '%%n %%a %%U:%%G' /opt/server-monitoring/logs; "
         "find /etc /usr/local /var/lib /run /opt -name '*.server-maintanence-tmp-*' 2>/dev/null; true") % tree_listing(
    ["/etc/logrotate.d", "/etc/cron.hourly", "/etc/default/server-maintanence-job",
     "/usr/local/bin/server-maintanence-job", "/usr/local/lib/server-maintanence-env.py",
     "/var/lib/server-maintanence", "/var/lib/prometheus"])


def play(name):
    host = testinfra.get_host("docker://" + name)
    return run_site(host, INVENTORY, inventory=name + ",", limit=name)


@pytest.fixture(scope="module")
def prepared_image():
    """An image of a container with the stand-in app, which the role never touched."""
    image = "local/sm-prepared:%s" % uuid.uuid4().hex[:8]
    with new_container("sm-prepare-") as name:
        host = testinfra.get_host("docker://" + name)
        prepared = run_site(host, INVENTORY, inventory=name + ",", limit=name, playbook=PREPARE)
        assert prepared.returncode == 0, output(prepared)[-3000:]
        subprocess.run(["docker", "commit", name, image], check=True, capture_output=True)
    try:
        yield image
    finally:
        subprocess.run(["docker", "rmi", "-f", image], check=False, capture_output=True)


@pytest.fixture(scope="module")
def clean_state(prepared_image):
    with new_container("sm-clean-", image=prepared_image) as name:
        converged = play(name)
        assert converged.returncode == 0, output(converged)[-3000:]
        host = testinfra.get_host("docker://" + name)
        host.check_output("pkill -STOP -x cron")
        return host.check_output(STATE)


def kill_when(command, env, marker, delay, limit=300):
    """Run command in a process group of its own; SIGKILL the whole group
    delay seconds after a line of its output holds marker. Whether it got there."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               start_new_session=True)
    deadline = time.monotonic() + limit
    seen = False
    for line in process.stdout:
        if line.startswith("TASK [") and marker in line:
            seen = True
            time.sleep(delay)
            os.killpg(process.pid, signal.SIGKILL)
            break
        if time.monotonic() > deadline:
            break
    if not seen:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return seen


@pytest.mark.parametrize("stage, delay", KILL_AT)
def test_a_controller_killed_at_each_stage_of_a_first_converge_is_put_right_by_one_run(
        prepared_image, clean_state, stage, delay):
    with new_container("sm-killed-", image=prepared_image) as name:
        host = testinfra.get_host("docker://" + name)
        command = ["ansible-playbook", "-i", name + ",", "--limit", name, str(SITE), "-e", json.dumps(INVENTORY)]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1")
        assert kill_when(command, env, "server_maintanence : " + stage, delay), "the run never reached " + stage
        # The module in flight runs on to its end on the host.
        host.check_output("for i in $(seq 120); do pgrep -x python3 >/dev/null || exit 0; sleep 0.5; done; exit 1")

        completed = play(name)
        assert completed.returncode == 0, output(completed)[-3000:]
        host.check_output("pkill -STOP -x cron")
        assert host.check_output(STATE) == clean_state
        again = play(name)
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, output(again)[-3000:]
