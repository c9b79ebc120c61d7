"""playbooks/status.yml shows the app's inbox unit as the host's drain, read
from the real systemd."""

from conftest import cron_frozen, hostname, output, run_status, status_table

UNIT = "server-monitoring-inbox.service"
NO_DRAIN = ("no inbox drain runs: server-monitoring-inbox.service is not active and the cron drain "
            "(server_maintanence_inbox_cron_enabled) is off")


def drain_cell(host, result):
    return status_table(result.stdout)[hostname(host)]["DRAIN"]


def test_the_active_inbox_unit_is_the_drain_and_a_stopped_one_leaves_none(host):
    """A stand-in for the app's unit, run by systemd under its name as the
    app user; the cron drain is off in this scenario."""
    with cron_frozen(host):
        host.check_output("systemd-run --unit=%s --uid=www-data --gid=www-data sleep infinity", UNIT)
        try:
            assert host.service(UNIT).is_running
            active = run_status(host)
        finally:
            host.run("systemctl stop %s", UNIT)
        stopped = run_status(host)
    assert drain_cell(host, active) == "unit", output(active)[-3000:]
    assert "no inbox drain runs" not in output(active)
    assert drain_cell(host, stopped) == "NONE", output(stopped)[-3000:]
    assert NO_DRAIN in output(stopped)
