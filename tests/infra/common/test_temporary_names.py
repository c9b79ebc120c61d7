"""The role writes every file under a temporary name first (and a run cut
short can leave one). The host's own readers are the judge that such a name
is never taken for configuration: logrotate reading /etc/logrotate.d, and
run-parts running /etc/cron.daily (and cron.hourly) for cron, sudo reading
/etc/sudoers.d."""

import importlib.util
import pathlib

import pytest

from conftest import LOGROTATE_CONFIG

# The temporary names' one home (the file-safety module imports them from
# it): standard library only, so it loads here without Ansible's collections.
_spec = importlib.util.spec_from_file_location(
    "job_records", pathlib.Path(__file__).resolve().parents[3] / "plugins/module_utils/_job_records.py")
temporary_names = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(temporary_names)


@pytest.fixture
def planted(host):
    """Copies of the role's policy and of the daily logrotate runner under the
    role's temporary names, as a killed run would leave them; removed after."""
    copies = {}
    for path in (LOGROTATE_CONFIG, "/etc/cron.daily/logrotate"):
        directory, name = path.rsplit("/", 1)
        copies[path] = "%s/%s" % (directory, temporary_names.temporary_name(name))
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


def test_sudo_reads_no_grant_under_a_temporary_name(host):
    """A grant staged under the role's temporary name (the sudoers drop-in
    is written so, and checked with visudo before it goes live) is not read
    by sudo's includedir; the same grant under a plain name is."""
    grant = "nobody ALL=(root) NOPASSWD: /usr/bin/true\n"
    staged = "/etc/sudoers.d/" + temporary_names.temporary_name("server-maintanence")
    plain = "/etc/sudoers.d/server-maintanence-probe"
    assert host.run("command -v sudo").rc == 0, "this image has no sudo: rebuild it (scripts/build-images.sh)"
    try:
        host.check_output("printf %%s %s > %s && chmod 0440 %s", grant, staged, staged)
        refused = host.run("sudo -l -U nobody")
        assert "not allowed to run sudo" in refused.stdout and "/usr/bin/true" not in refused.stdout, refused.stdout
        host.check_output("cp -p %s %s", staged, plain)
        assert "/usr/bin/true" in host.check_output("sudo -l -U nobody")
    finally:
        host.run("rm -f %s %s", staged, plain)
