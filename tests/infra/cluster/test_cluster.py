"""Hub and agents: group mapping, staggered pushes, the env file and its secret."""

import contextlib
import json
import re
import time

import pytest

from conftest import (APP_DIR, APP_USER, cron_frozen, crontab_entries, hostname, human_ages, job_command, job_record,
                      module_calls, molecule_host, output, recap, run_job, run_site, run_status, status_table,
                      write_job_record)

ENV_FILE = "/etc/server-monitoring/env"


def test_group_membership_sets_the_cluster_role(host, cluster_role):
    groups = host.ansible.get_variables()["group_names"]
    assert cluster_role == ("hub" if "hubs" in groups else "agent")
    has_push = "server-maintanence cluster push" in crontab_entries(host)
    assert has_push == ("agents" in groups)


@pytest.fixture(scope="module")
def push_minutes():
    """The minute field of each agent's push entry, read once for the module."""
    return {name: crontab_entries(molecule_host(name))["server-maintanence cluster push"].split()[0]
            for name in ("sm-agent1", "sm-agent2")}


def test_agents_push_in_different_minutes_within_the_interval(push_minutes):
    for minute in push_minutes.values():
        assert re.fullmatch(r"[0-4]-59/5", minute)
    assert push_minutes["sm-agent1"] != push_minutes["sm-agent2"]


def env_values(host):
    """{KEY: value} of the app's env file, read with the app's own parser's rules."""
    return dict(line.split("=", 1) for line in host.file(ENV_FILE).content_string.splitlines()
                if "=" in line and not line.startswith("#"))


def test_env_file_holds_the_cluster_keys_with_safe_modes(host, app, cluster_role, inventory_vars):
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("root", APP_USER, 0o640)
    values = env_values(host)
    assert values["DJANGO_SETTINGS_MODULE"] == "config.settings"  # the app's own line stays
    if cluster_role == "agent":
        assert app.setting_from_env("HUB_URL", values["HUB_URL"]) == "http://127.0.0.1:8000"
        assert app.setting_from_env("INSTANCE_ID", values["INSTANCE_ID"]) == inventory_vars["inventory_hostname"]
        assert app.setting_from_env("HUB_API_KEY", values["HUB_API_KEY"]) == "molecule-test-key-7f3a9c"
        # push_to_hub refuses a loopback hub unless the app allows its host.
        assert "127.0.0.1" in app.setting_from_env("SSRF_ALLOWED_HOSTS", values["SSRF_ALLOWED_HOSTS"])
        assert "API_KEY_AUTH_ENABLED" not in values
    else:
        # The app's own parser must read the written value as "auth on".
        assert app.setting_from_env("API_KEY_AUTH_ENABLED", values["API_KEY_AUTH_ENABLED"]) is True
        assert not {"HUB_URL", "HUB_API_KEY"} & set(values)


def test_a_host_in_place_costs_one_module_call(host):
    """Hub and agents alike: the probe once compared API_KEY_AUTH_ENABLED
    ("1") on the host as a no_log value, Ansible masked every "1" of its
    result, checksums included, and the planner saw the hub's files out of
    place on every run while changed=0 still held."""
    result = run_site(host, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    assert result.returncode == 0, output(result)[-3000:]
    report = json.loads(result.stdout)
    assert module_calls(report, hostname(host)) == ["server_maintanence.ops.maintenance"]


def test_the_env_files_owner_and_mode_are_put_back_and_its_lines_kept(host):
    """The env file's row of the role's table: root:<group> 0640."""
    before = host.check_output("sha256sum %s", ENV_FILE)
    host.check_output("chown %s %s && chmod 0644 %s", APP_USER, ENV_FILE, ENV_FILE)
    repaired = run_site(host)
    assert repaired.returncode == 0, output(repaired)[-3000:]
    assert recap(repaired.stdout)["changed"] >= 1
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("root", APP_USER, 0o640)
    assert host.check_output("sha256sum %s", ENV_FILE) == before
    again = run_site(host)
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, output(again)[-3000:]


def test_the_api_key_never_reaches_crontab_or_process_list(host):
    assert "molecule-test-key" not in host.check_output("crontab -l -u %s", APP_USER)
    assert "molecule-test-key" not in host.check_output("ps -eo args")


def test_changing_the_api_key_never_prints_it_even_with_diff(host, cluster_role):
    # --diff prints everything a plain run does, plus each file's changes.
    rotated = "rotated-key-d1ff"
    result = run_site(host, {"server_maintanence_hub_api_key": rotated}, diff=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert rotated not in result.stdout + result.stderr
    env = host.file(ENV_FILE).content_string
    if cluster_role == "agent":
        assert "changed=1" in result.stdout
        assert "HUB_API_KEY=" + rotated in env
        restored = run_site(host)
        assert restored.returncode == 0
        assert "HUB_API_KEY=molecule-test-key-7f3a9c" in host.file(ENV_FILE).content_string
    else:
        # A hub never receives the agents' key.
        assert "changed=0" in result.stdout
        assert "HUB_API_KEY" not in env


def test_inbox_drain_fallback_runs_process_inbox(host, inventory_vars):
    entries = crontab_entries(host)
    if inventory_vars.get("server_maintanence_inbox_cron_enabled"):
        command = job_command(entries["server-maintanence inbox drain"])
        assert "manage.py process_inbox --limit 100" in command
        assert entries["server-maintanence inbox drain"].startswith("* * * * * ")
    else:
        assert "server-maintanence inbox drain" not in entries


HOSTS = ("sm-hub", "sm-agent1", "sm-agent2")
PUSH = "server-maintanence cluster push"


@pytest.fixture(scope="module")
def fleet_status():
    """Every job of every host run once (cron frozen everywhere); then
    sm-agent2's push breaks: its runs fail and its last success is three
    intervals old. Returns the status run over the whole inventory, the
    hosts, and the clock when the jobs started, when the record was
    rewritten and when the status run ended: the ages shown are bounded by
    them, not by how fast the machine runs."""
    hosts = {name: molecule_host(name) for name in HOSTS}
    started = time.time()
    with contextlib.ExitStack() as frozen:
        for host in hosts.values():
            frozen.enter_context(cron_frozen(host))
        for host in hosts.values():
            for name in crontab_entries(host):
                assert run_job(host, name).rc == 0, name
        broken = hosts["sm-agent2"]
        broken.check_output("echo 1 > %s/fail", APP_DIR)
        try:
            assert run_job(broken, PUSH).rc == 1
        finally:
            broken.check_output("rm -f %s/fail", APP_DIR)
        rewritten = time.time()
        write_job_record(broken, "push", last_success=rewritten - 3 * 300)
        result = run_status(hosts["sm-hub"], limit="all")
        yield result, hosts, {"started": started, "rewritten": rewritten, "ended": time.time()}


def test_status_fails_exactly_the_host_whose_push_broke_and_names_the_job(fleet_status):
    result, _hosts, clock = fleet_status
    assert result.returncode != 0
    failed = {host: int(count) for host, count in re.findall(r"^(sm-\S+)\s*:.*\bfailed=(\d+)", result.stdout, re.M)}
    assert failed == {"sm-hub": 0, "sm-agent1": 0, "sm-agent2": 1}, result.stdout[-3000:]
    text = output(result)
    found = re.search(r"fatal: \[sm-agent2\]: FAILED! => changed: false msg: '?%s: last succeeded (\S+) ago" % PUSH,
                      text)
    assert found, text[-3000:]
    assert found.group(1) in human_ages(3 * 300, clock["ended"] - clock["rewritten"] + 3 * 300)


def test_the_fleet_table_has_a_true_row_per_host(fleet_status):
    result, hosts, clock = fleet_status
    rows = status_table(result.stdout)
    just_now = {age + "/0" for age in human_ages(0, clock["ended"] - clock["started"])}
    assert set(rows) == set(HOSTS)
    assert [rows[name]["ROLE"] for name in HOSTS] == ["hub", "agent", "agent"]
    assert rows["sm-hub"]["PUSH"] == "-"  # a hub does not push
    assert rows["sm-agent1"]["PUSH"] in just_now, rows
    assert rows["sm-agent2"]["PUSH"] in {age + "/1" for age in human_ages(
        3 * 300, clock["ended"] - clock["rewritten"] + 3 * 300)}, rows
    assert rows["sm-agent2"]["INBOX"] in just_now, rows
    assert rows["sm-agent1"]["INBOX"] == "-"
    for name, host in hosts.items():
        assert rows[name]["HEALTH"] in just_now, rows
        assert rows[name]["CRON"] == "running"
        assert rows[name]["STATUS"] == ("FAIL" if name == "sm-agent2" else "ok")
        assert job_record(host, "health")["outcome"] == "success"
