"""Hub and agents: group mapping, staggered pushes, the env file and its secret."""

import re

import pytest

from conftest import APP_USER, crontab_entries, job_command, molecule_host, run_site

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
