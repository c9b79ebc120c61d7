"""The health job sees the app's env file exactly as a systemd unit does.

The table of tricky lines (tests/unit/plugins/module_utils/env_table.py: 20
fresh get_random_secret_key() keys, each special character alone, ` #`
inside a value, both quote kinds with escaped quotes, backslashes, continued
lines, trailing blanks, empty values, comments) is written into the env file
as an operator would, raw. A Type=oneshot unit with EnvironmentFile= dumps
what systemd gives it; the health job, run from its own crontab line as cron
runs it, dumps what its command gets. Every value must be equal, key by key,
and equal to what the table says systemd gives.
"""

import base64
import json
import pathlib
import shlex

import pytest

from conftest import REPO, RUNNER, crontab_entries, job_command, run_as_app, unit_table, write_as_root

env_table = unit_table("env_table")

ENV_FILE = "/etc/server-monitoring/env"
UNIT = "sm-env-dump.service"
UNIT_DUMP = "/run/sm-env-dump.unit"
JOB_DUMP = "/tmp/sm-env-dump.job"
# What the job's command is replaced with: its environment, NUL-separated, to a file.
DUMP = ("import os, sys; open(sys.argv[1], 'wb').write(b''.join("
        "k.encode() + b'=' + os.environb[k.encode()] + b'\\0' for k in os.environ))")
ROWS = env_table.table()


def dumped(host, path):
    raw = base64.b64decode(host.check_output("base64 -w0 %s", path))
    return dict(item.decode("utf-8").split("=", 1) for item in raw.split(b"\0") if item)


@pytest.fixture
def table_in_env_file(host):
    original = base64.b64decode(host.check_output("base64 -w0 %s", ENV_FILE))
    write_as_root(host, ENV_FILE, original + env_table.env_text(ROWS).encode("utf-8"))
    yield
    write_as_root(host, ENV_FILE, original)
    host.run("rm -f %s %s /etc/systemd/system/%s && systemctl daemon-reload", UNIT_DUMP, JOB_DUMP, UNIT)


def unit_environment(host):
    unit = ("[Service]\nType=oneshot\nEnvironmentFile=%s\nExecStart=/usr/bin/env -0\n"
            "StandardOutput=file:%s\n" % (ENV_FILE, UNIT_DUMP))
    write_as_root(host, "/etc/systemd/system/" + UNIT, unit.encode(), mode="0644", group="root")
    host.check_output("rm -f %s && systemctl daemon-reload && systemctl start %s", UNIT_DUMP, UNIT)
    return dumped(host, UNIT_DUMP)


def job_environment(host):
    """Run the health entry's crontab line with the command part replaced by
    a dump: the runner, its settings and arguments exactly as cron calls them."""
    words = shlex.split(job_command(crontab_entries(host)["server-maintanence health check"]))
    assert words[:4] == [RUNNER, "--log", "cron.log", "health"], words
    line = " ".join(shlex.quote(word) for word in words[:5] + ["/usr/bin/python3", "-c", DUMP, JOB_DUMP])
    host.run("rm -f %s", JOB_DUMP)
    result = run_as_app(host, line)
    assert result.rc == 0, (result.stdout, result.stderr, host.run("tail -5 /opt/server-monitoring/logs/cron.log").stdout)
    return dumped(host, JOB_DUMP)


def test_the_health_job_sees_every_value_a_unit_sees(host, table_in_env_file, cron_paused):
    # cron_paused: cron's own run of the line would hold the job's lock (this one exits 75).
    unit = unit_environment(host)
    job = job_environment(host)

    assert len(ROWS) >= 15
    for _raw, key, expected in ROWS:
        assert unit.get(key) == job.get(key), key
        assert unit.get(key) == expected, key
    django = [key for _raw, key, _value in ROWS if key.startswith("T_DJANGO_")]
    assert len(django) == 20 and all(job[key] for key in django)
    # And the file's own lines: the app's secret key and settings module.
    assert job["DJANGO_SECRET_KEY"] == unit["DJANGO_SECRET_KEY"]


def test_the_real_health_line_still_runs_with_the_table_in_the_file(host, table_in_env_file, cron_paused):
    # cron_paused: cron's own run would hold the lock or add a run of its own to the log.
    line = job_command(crontab_entries(host)["server-maintanence health check"])
    before = host.run("cat /opt/server-monitoring/logs/cron.log 2>/dev/null").stdout
    result = run_as_app(host, line)
    added = host.file("/opt/server-monitoring/logs/cron.log").content_string[len(before):]
    assert result.rc == 0, (result.stderr, added)
    runs = [json.loads(entry) for entry in added.splitlines() if entry.startswith("{")]
    assert [run["via"] for run in runs] == ["test"], added
    # Nothing from the file was run or printed: no "not found", no piece of a value.
    assert "not found" not in added and "Syntax error" not in added
    assert not any(value in added for _raw, key, value in ROWS if key.startswith("T_DJANGO_"))


def test_the_loader_is_the_collections_reader(host):
    installed = host.file("/usr/local/lib/server-maintanence-env.py")
    assert (installed.user, installed.group, installed.mode) == ("root", "root", 0o644)
    shipped = (pathlib.Path(REPO) / "plugins" / "module_utils" / "_systemd_env.py").read_text()
    assert installed.content_string == shipped
