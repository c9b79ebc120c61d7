"""The play reached these hosts over SSH as an unprivileged sudo user."""

import os
import subprocess


def ad_hoc(host, *args):
    name = host.ansible.get_variables()["inventory_hostname"]
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    return subprocess.run(["ansible", "-i", inventory, name, "-m", "ansible.builtin.command", "-a", "id -u"] + list(args),
                          capture_output=True, text=True, check=False, timeout=120)


def test_inventory_connects_over_ssh_to_loopback_as_deploy(host):
    variables = host.ansible.get_variables()
    assert variables["ansible_connection"] == "ssh"
    assert variables["ansible_host"] == "127.0.0.1"
    assert variables["ansible_user"] == "deploy"


def test_the_ssh_user_is_unprivileged_and_sudo_makes_it_root(host):
    plain = ad_hoc(host, "-e", "ansible_become=false")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert plain.stdout.strip().splitlines()[-1] != "0"
    become = ad_hoc(host)
    assert become.returncode == 0, become.stdout + become.stderr
    assert become.stdout.strip().splitlines()[-1] == "0"


def test_the_deploy_user_cannot_write_the_apps_crontab_or_logs_itself(host):
    deploy = host.user("deploy")
    assert deploy.uid != 0
    assert "deploy" not in host.group("www-data").members
    assert host.run("runuser -u deploy -- test -w /opt/server-monitoring/logs").rc != 0
