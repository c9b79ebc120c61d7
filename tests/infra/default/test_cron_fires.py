"""cron itself runs the installed health-check line (schedule * * * * *)."""

import time

from conftest import LOGS, json_lines


def test_cron_fires_the_health_check_within_three_minutes(host):
    """The next minute's firing, or one after it: the job itself may take a
    while on a loaded machine. Polled, so a quick one ends the wait."""
    deadline = time.monotonic() + 180
    fired = []
    while time.monotonic() < deadline:
        # A forced-rotation test may have moved the line into a generation.
        text = host.run("zcat -f %s/cron.log* 2>/dev/null", LOGS).stdout
        fired = [run for run in json_lines(text) if run["via"] == "cron"]
        if fired:
            break
        time.sleep(3)
    assert fired, "cron did not run the health check line within 180 s"
    run = fired[0]
    assert run["args"] == ["run_pipeline", "--checks-only", "--json"]
    assert run["cwd"] == "/opt/server-monitoring"
    assert run["uid"] == host.user("www-data").uid
