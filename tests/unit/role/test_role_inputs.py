"""The role's one task (the maintenance action plugin) hands the input
rules every server_maintanence_* variable.

It is run for real, on the controller alone (local connection), with state
absent and in check mode: the host check of an uninstall asks nothing of the
controller but its guarded paths, and check mode changes nothing. The
role's defaults, an inventory and extra vars are where a user's variables
come from. A broken input fails it before the module runs. And every variable the repository's own
inventories, scenarios, scripts and tests set is one the role declares, so
none of them trips the typo check.
"""

import pathlib
import re
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"
SPEC = REPO / "roles" / "server_maintanence" / "meta" / "argument_specs.yml"
OPTIONS = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
PLAYBOOK_VARIABLES = {"server_maintanence_serial", "server_maintanence_max_fail_percentage"}

PLAY = """
- name: The role's input check alone
  hosts: all
  gather_facts: false
  tasks:
    - name: Check the inputs, then read the controller and change nothing (check mode)
      ansible.builtin.include_role:
        name: server_maintanence.ops.server_maintanence
"""


def run_assert(tmp_path, host_vars, *extra):
    inventory = {"all": {"hosts": {"web1": dict(host_vars, ansible_connection="local", server_maintanence_state="absent",
                                                ansible_python_interpreter=sys.executable)}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(PLAY)
    # From the checkout: its ansible.cfg finds the collection in .cache/collections.
    return subprocess.run([str(PLAYBOOK), "--check", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"),
                           *extra],
                          capture_output=True, text=True, cwd=REPO, timeout=300, check=False)


def test_every_variable_of_the_role_reaches_the_check_and_passes(tmp_path):
    # An agent managing its env file: every rule applies. The options without
    # a default are set too; every other one comes from defaults/main.yml, and
    # the check refuses an option with a default that does not reach it.
    result = run_assert(tmp_path, {"server_maintanence_cluster_role": "agent",
                                   "server_maintanence_hub_url": "https://hub.example.com",
                                   "server_maintanence_hub_api_key": "k-1/abc=",
                                   "server_maintanence_manage_env_file": "yes",
                                   "server_maintanence_serial": 2},
                        "-e", "server_maintanence_max_fail_percentage=0")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelt_variable_and_a_bad_secret_are_reported_without_the_secret(tmp_path):
    secret = "s3cret key"
    result = run_assert(tmp_path, {"server_maintanence_logs_dri": "/srv/logs",
                                   "server_maintanence_manage_env_file": True,
                                   "server_maintanence_hub_api_key": secret},
                        "-e", "server_maintanence_helth_check_schedule='* * * * *'")
    assert result.returncode != 0
    assert "server_maintanence_logs_dri is not a variable of the role; did you mean server_maintanence_logs_dir?" \
        in result.stdout, result.stdout
    assert ("server_maintanence_helth_check_schedule is not a variable of the role; did you mean "
            "server_maintanence_health_check_schedule?") in result.stdout, result.stdout
    assert "server_maintanence_hub_api_key must be" in result.stdout, result.stdout
    assert "s3cret" not in result.stdout + result.stderr


# Where this repository sets the role's variables: inventories, scenarios,
# the consumer project, the compat and bench scripts, the infra tests' extra vars.
SETTERS = ("inventory", "playbooks", "molecule", "tests/consumer", "tests/compat", "tests/infra", "scripts", "bench",
           "roles")
# A name set as `name: value` (YAML) or `name=value` (-e, a Python keyword);
# not `metric == 0` (PromQL, in the shipped alert rules).
SET = re.compile(r"(?<![\w.])(server_maintanence_\w+)['\"]?\s*(?:=(?!=)|:(?:\s|$))", re.M)


def test_the_repository_sets_no_variable_the_role_does_not_declare():
    files = subprocess.run(["git", "ls-files", "-z", *SETTERS], capture_output=True, text=True, cwd=REPO,
                           check=True).stdout.split("\0")
    unknown = set()
    for name in filter(None, files):
        text = (REPO / name).read_text(encoding="utf-8", errors="replace")
        unknown.update("%s: %s" % (name, variable) for variable in SET.findall(text)
                       if variable not in set(OPTIONS) | PLAYBOOK_VARIABLES)
    assert not unknown, sorted(unknown)
