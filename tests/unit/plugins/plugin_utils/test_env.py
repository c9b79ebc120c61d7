"""The keys of the app's env file the role keeps, without a host."""

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file as env

CLUSTER = {"cluster_role": "standalone", "hub_url": "http://hub.internal:8000", "instance_id": "web1",
           "hub_api_key": None, "api_key_auth_enabled": True, "hub_ssrf_allowed": True}


def test_a_standalone_host_gets_no_env_lines():
    assert env.env_lines(CLUSTER) == {}


@pytest.mark.parametrize("enabled, value", [(True, "1"), (False, "0")])
def test_a_hub_gets_api_key_auth_as_one_or_zero(enabled, value):
    assert env.env_lines(dict(CLUSTER, cluster_role="hub", api_key_auth_enabled=enabled)) == {
        "API_KEY_AUTH_ENABLED": value}


def test_an_agent_gets_its_hub_its_id_its_key_and_the_hub_allowed():
    lines = env.env_lines(dict(CLUSTER, cluster_role="agent", hub_api_key="k-1"))
    assert lines == {"HUB_URL": "http://hub.internal:8000", "INSTANCE_ID": "web1", "HUB_API_KEY": "k-1",
                     "SSRF_ALLOWED_HOSTS": "hub.internal"}


def test_the_hub_is_added_to_the_allowed_hosts_once_and_the_others_kept():
    agent = dict(CLUSTER, cluster_role="agent", hub_url="https://Hub.Internal/")
    assert env.with_kept_hosts(env.env_lines(agent), "ollama.lan, 10.0.1.5")[
        "SSRF_ALLOWED_HOSTS"] == "ollama.lan,10.0.1.5,hub.internal"
    assert env.with_kept_hosts(env.env_lines(agent), "hub.internal,x")["SSRF_ALLOWED_HOSTS"] == "hub.internal,x"


def test_values_without_ssrf_allowed_hosts_are_kept_as_they_are():
    assert env.with_kept_hosts({"HUB_URL": "https://hub.internal"}, "ollama.lan") == {
        "HUB_URL": "https://hub.internal"}


def test_an_agent_without_a_key_or_the_ssrf_opt_in_gets_neither_line():
    lines = env.env_lines(dict(CLUSTER, cluster_role="agent", hub_ssrf_allowed=False))
    assert set(lines) == {"HUB_URL", "INSTANCE_ID"}


def test_both_gets_the_agent_and_the_hub_lines():
    lines = env.env_lines(dict(CLUSTER, cluster_role="both", hub_api_key="k"))
    assert set(lines) == {"HUB_URL", "INSTANCE_ID", "HUB_API_KEY", "SSRF_ALLOWED_HOSTS", "API_KEY_AUTH_ENABLED"}


@pytest.mark.parametrize("hub_url", [None, "", "http://[", "https://@", 5])
def test_a_bad_hub_url_never_raises(hub_url):
    """The probe's arguments compute the lines before the input check names the bad URL."""
    if isinstance(hub_url, int):
        hub_url = str(hub_url)
    assert "HUB_URL" in env.env_lines(dict(CLUSTER, cluster_role="agent", hub_url=hub_url))
