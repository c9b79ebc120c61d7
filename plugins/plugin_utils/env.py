# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The keys the role keeps in the app's env file, computed on the controller."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
from urllib.parse import urlsplit


def env_lines(settings):
    """The KEY -> value lines the role keeps in the app's env file, each value
    in the form the app's config/settings.py parses (checked against the app's
    source by tests/unit/test_upstream_contract.py).

    `settings` holds cluster_role, hub_url, instance_id, hub_api_key (None:
    not managed), api_key_auth_enabled, hub_ssrf_allowed,
    ssrf_allowed_hosts: the SSRF_ALLOWED_HOSTS value now on the host (None:
    no such line), whose entries are kept, and optionally logs_dir and
    project_dir: a logs directory other than the app's default
    (<project_dir>/logs) is passed on as LOGS_DIR.
    """
    lines = {}
    logs_dir, project_dir = settings.get("logs_dir"), settings.get("project_dir")
    if logs_dir and project_dir and posixpath.normpath(logs_dir) != posixpath.join(
            posixpath.normpath(project_dir), "logs"):
        # config/settings.py: LOGS_DIR, else BASE_DIR / "logs"; django.log goes there.
        lines["LOGS_DIR"] = logs_dir
    if settings["cluster_role"] in ("agent", "both"):
        lines["HUB_URL"] = settings["hub_url"]
        lines["INSTANCE_ID"] = settings["instance_id"]
        if settings.get("hub_api_key") is not None:
            lines["HUB_API_KEY"] = settings["hub_api_key"]
        if settings["hub_ssrf_allowed"]:
            # push_to_hub refuses a hub on a private or loopback address unless
            # its host name is listed here; a fleet's hub usually is one.
            hosts = [h.strip() for h in (settings.get("ssrf_allowed_hosts") or "").split(",") if h.strip()]
            hub_host = _hostname(settings["hub_url"])
            lines["SSRF_ALLOWED_HOSTS"] = ",".join(hosts + ([hub_host] if hub_host and hub_host not in hosts else []))
    if settings["cluster_role"] in ("hub", "both"):
        # The app turns auth on only for exactly "1".
        lines["API_KEY_AUTH_ENABLED"] = "1" if settings["api_key_auth_enabled"] else "0"
    return lines


def _hostname(url):
    """The URL's host, or None. Never raises: the probe's arguments compute
    the lines before its action plugin refuses a bad hub URL by name."""
    try:
        return urlsplit(url or "").hostname
    except ValueError:
        return None
