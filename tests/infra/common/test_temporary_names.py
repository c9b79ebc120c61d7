"""The role writes every file under a temporary name first (and a run cut
short can leave one). The host's own readers are the judge that such a name
is never taken for configuration: logrotate reading /etc/logrotate.d, and
run-parts running /etc/cron.daily (and cron.hourly) for cron."""

import importlib.util
import pathlib

import pytest

from conftest import LOGROTATE_CONFIG

_spec = importlib.util.spec_from_file_location(
    "file_safety", pathlib.Path(__file__).resolve().parents[3] / "plugins/module_utils/_file_safety.py")
file_safety = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(file_safety)


@pytest.fixture
def planted(host):
    """Copies of the role's policy and of the daily logrotate runner under the
    role's temporary names, as a killed run would leave them; removed after."""
    copies = {}
    for path in (LOGROTATE_CONFIG, "/etc/cron.daily/logrotate"):
        directory, name = path.rsplit("/", 1)
        copies[path] = "%s/%s" % (directory, file_safety.temporary_name(name))
        host.check_output("cp -p %s %s", path, copies[path])
    yield copies
    host.check_output("rm -f %s" % " ".join(copies.values()))


def test_logrotate_reads_no_policy_under_a_temporary_name(host, planted):
    text = host.run("logrotate -d /etc/logrotate.conf 2>&1").stdout
    name = planted[LOGROTATE_CONFIG].rsplit("/", 1)[1]
    assert "reading config file server-maintanence\n" in text, text[-2000:]
    assert "reading config file %s" % name not in text and "Ignoring %s, because of" % name in text, text[-2000:]
    assert [line for line in text.splitlines() if line.startswith("error:")] == [], text[-2000:]


def test_run_parts_runs_no_file_under_a_temporary_name(host, planted):
    would_run = host.check_output("run-parts --test /etc/cron.daily").split()
    assert "/etc/cron.daily/logrotate" in would_run
    assert planted["/etc/cron.daily/logrotate"] not in would_run
