"""Inventory groups map to cluster roles through playbooks/group_vars/all.yml."""

import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]
ANSIBLE = pathlib.Path(sys.executable).parent / "ansible"

INVENTORY = """
all:
  hosts:
    lonely:
  children:
    hubs:
      hosts:
        hub1:
        twin:
    agents:
      hosts:
        agent1:
        twin:
        pinned:
          server_maintanence_cluster_role: standalone
"""


def cluster_roles(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY)
    result = subprocess.run(
        [str(ANSIBLE), "-i", str(inventory), "all", "--playbook-dir", str(REPO / "playbooks"),
         "-c", "local", "-m", "ansible.builtin.debug", "-a", "var=server_maintanence_cluster_role",
         "-o"],
        capture_output=True, text=True, check=True, cwd=REPO)
    roles = {}
    for line in result.stdout.splitlines():
        host, _sep, payload = line.partition(" | SUCCESS => ")
        roles[host.strip()] = json.loads(payload)["server_maintanence_cluster_role"]
    return roles


def test_groups_map_to_roles_and_an_explicit_role_wins(tmp_path):
    assert cluster_roles(tmp_path) == {
        "lonely": "standalone",
        "hub1": "hub",
        "agent1": "agent",
        "twin": "both",
        "pinned": "standalone",
    }
