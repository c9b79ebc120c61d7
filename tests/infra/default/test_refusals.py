"""Bad input: the play fails, names the variable, and the host stays byte-identical."""

import concurrent.futures

import pytest

from conftest import APP_DIR, crontab_lines, cron_frozen, installer_lines, run_site, snapshot, uv_on, write_crontab

AGENT = {"server_maintanence_cluster_role": "agent", "server_maintanence_hub_url": "https://hub.example.com"}
# A logs directory of its own, which the host's env file (seeded by prepare.yml) does not pass on as LOGS_DIR.
CUSTOM_LOGS = "/srv/sm-logs"

CASES = {
    "relative project dir": ({"server_maintanence_project_dir": "opt/server-monitoring"},
                             "server_maintanence_project_dir"),
    "logs dir with a space": ({"server_maintanence_logs_dir": "/opt/server monitoring/logs"},
                              "server_maintanence_logs_dir"),
    "logs dir with a newline": ({"server_maintanence_logs_dir": "/opt/logs\n* * * * * root reboot"},
                                "server_maintanence_logs_dir"),
    "project dir with a semicolon": ({"server_maintanence_project_dir": "/opt/sm;reboot"},
                                     "server_maintanence_project_dir"),
    "relative uv": ({"server_maintanence_uv_path": "uv"}, "server_maintanence_uv_path"),
    "missing user": ({"server_maintanence_user": "nosuchuser"}, "server_maintanence_user"),
    "minute */61": ({"server_maintanence_health_check_schedule": "*/61 * * * *"},
                    "server_maintanence_health_check_schedule"),
    "4-field push schedule": (dict(AGENT, server_maintanence_push_schedule="*/5 * * *"),
                              "server_maintanence_push_schedule"),
    "a day that never comes": ({"server_maintanence_auto_update_schedule": "0 3 31 2 *"},
                               "server_maintanence_auto_update_schedule"),
    "hour 25": ({"server_maintanence_auto_update_schedule": "0 25 * * *"},
                "server_maintanence_auto_update_schedule"),
    "negative rotate": ({"server_maintanence_logrotate_rotate": -1}, "server_maintanence_logrotate_rotate"),
    "non-integer rotate": ({"server_maintanence_logrotate_rotate": "four"}, "server_maintanence_logrotate_rotate"),
    "unknown frequency": ({"server_maintanence_logrotate_frequency": "fortnightly"},
                          "server_maintanence_logrotate_frequency"),
    "unknown method": ({"server_maintanence_logrotate_method": "rename"}, "server_maintanence_logrotate_method"),
    "unknown cluster role": ({"server_maintanence_cluster_role": "satellite"}, "server_maintanence_cluster_role"),
    "agent without hub url": ({"server_maintanence_cluster_role": "agent"}, "server_maintanence_hub_url"),
    "hub url with shell metacharacters": (dict(AGENT, server_maintanence_hub_url="https://hub;reboot"),
                                          "server_maintanence_hub_url"),
    "unknown state": ({"server_maintanence_state": "removed"}, "server_maintanence_state"),
    "world-readable logs dir": ({"server_maintanence_logs_dir_mode": "0755"}, "server_maintanence_logs_dir_mode"),
    "size that is not a size": ({"server_maintanence_logrotate_maxsize": "lots"},
                                "server_maintanence_logrotate_maxsize"),
    "relative state dir": ({"server_maintanence_state_dir": "var/lib/server-maintanence"},
                           "server_maintanence_state_dir"),
    "metrics dir with a space": ({"server_maintanence_metrics_dir": "/var/lib/node exporter"},
                                 "server_maintanence_metrics_dir"),
    "metrics dir inside /usr": ({"server_maintanence_metrics_dir": "/usr/share"}, "server_maintanence_metrics_dir"),
    "logs dir /etc": ({"server_maintanence_logs_dir": "/etc"}, "server_maintanence_logs_dir"),
    "state dir /var/lib": ({"server_maintanence_state_dir": "/var/lib"}, "server_maintanence_state_dir"),
    "state dir holding the logs": ({"server_maintanence_state_dir": "/opt/server-monitoring"},
                                   "server_maintanence_state_dir"),
    "timeout with a newline": ({"server_maintanence_health_check_timeout": "4\n"},
                               "server_maintanence_health_check_timeout"),
    "timeout with a leading zero": ({"server_maintanence_push_timeout": "010"}, "server_maintanence_push_timeout"),
    "hub url without a host": (dict(AGENT, server_maintanence_hub_url="https://:8000"), "server_maintanence_hub_url"),
    "inbox timeout outliving the app's reclaim window": (
        {"server_maintanence_inbox_cron_enabled": True, "server_maintanence_inbox_timeout": 870},
        "server_maintanence_inbox_timeout"),
    "zero status intervals": ({"server_maintanence_status_max_intervals": 0},
                              "server_maintanence_status_max_intervals"),
    "status size that is not a size": ({"server_maintanence_status_max_logs_size": "big"},
                                       "server_maintanence_status_max_logs_size"),
    "agent without a hub key": (dict(AGENT, server_maintanence_manage_env_file=True),
                                "server_maintanence_hub_api_key"),
    "logs dir the app would not write to": ({"server_maintanence_logs_dir": CUSTOM_LOGS},
                                            "server_maintanence_logs_dir %s is not the app's default" % CUSTOM_LOGS),
    "a job the installer does not write": ({"server_maintanence_drop_installer_jobs": ["inbox"]},
                                           "server_maintanence_drop_installer_jobs"),
    "zstd where zstd is absent": ({"server_maintanence_logrotate_compression": "zstd",
                                   "server_maintanence_manage_packages": False},
                                  "server_maintanence_logrotate_compression"),
}


@pytest.fixture(scope="module")
def refusals(host):
    """Run every bad-input case (a few at a time: they only read the host)
    with cron frozen, and snapshot the host before and after them all."""
    with cron_frozen(host):
        before = snapshot(host)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            futures = {name: pool.submit(run_site, host, extra_vars) for name, (extra_vars, _) in CASES.items()}
            results = {name: future.result() for name, future in futures.items()}
        after = snapshot(host)
    return before, after, results


def assert_refused(result, variable):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert variable in output, output[-2000:]
    assert "changed=0" in output


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_before_any_change(refusals, case):
    before, after, results = refusals
    assert_refused(results[case], CASES[case][1])
    assert after == before


def test_group_writable_uv_is_refused_before_any_change(host, app):
    uv = uv_on(host, app)
    with cron_frozen(host):
        before = snapshot(host)
        host.check_output("chmod g+w %s", uv)
        try:
            result = run_site(host)
        finally:
            host.check_output("chmod g-w %s", uv)
        after = snapshot(host)
    assert_refused(result, "server_maintanence_uv_path")
    assert after == before


def test_a_refused_logs_dir_is_not_created(refusals, host):
    assert_refused(refusals[2]["logs dir the app would not write to"], "set LOGS_DIR=%s in" % CUSTOM_LOGS)
    assert not host.file(CUSTOM_LOGS).exists


def test_an_installer_line_whose_job_would_be_dropped_is_refused_before_any_change(host, app):
    """The app's installer set up the cluster push on this standalone host:
    the role would remove the line and install no push of its own."""
    push = [line for line in installer_lines(app, uv_on(host, app)) if line.endswith("# server-maintanence cluster push")]
    assert len(push) == 1
    kept = crontab_lines(host)
    with cron_frozen(host):
        write_crontab(host, kept + push)
        try:
            before = snapshot(host)
            result = run_site(host)
            after = snapshot(host)
        finally:
            write_crontab(host, kept)
    assert_refused(result, "set up the server-maintanence cluster push in www-data's crontab")
    output = result.stdout + result.stderr
    assert "server_maintanence_drop_installer_jobs: [push]" in output
    assert push[0] not in output and "cd %s &&" % APP_DIR not in output  # never the app user's line
    assert after == before
