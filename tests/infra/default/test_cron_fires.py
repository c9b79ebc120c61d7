"""cron itself runs the installed health-check line (schedule * * * * *)."""

import time

from conftest import LOGS, json_lines


def test_cron_fires_the_health_check_within_75_seconds(host):
    deadline = time.monotonic() + 75
    fired = []
    while time.monotonic() < deadline:
        # A forced-rotation test may have moved the line into a generation.
        text = host.run("zcat -f %s/cron.log* 2>/dev/null", LOGS).stdout
        fired = [run for run in json_lines(text) if run["via"] == "cron"]
        if fired:
            break
        time.sleep(3)
    assert fired, "cron did not run the health check line within 75 s"
    run = fired[0]
    assert run["args"] == ["run_pipeline", "--checks-only", "--json"]
    assert run["cwd"] == "/opt/server-monitoring"
    assert run["uid"] == host.user("www-data").uid
