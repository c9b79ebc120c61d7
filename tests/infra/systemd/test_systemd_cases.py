"""The image's own systemd judges the reader on systemd's own test inputs.

Every case of tests/unit/plugins/module_utils/systemd_cases.py (the load
paths of systemd's test-env-file.c and test-fileio.c, the EnvironmentFile=
units of test-execute.c, and rules of the source) is written, raw, into a
file that a Type=oneshot unit reads with EnvironmentFile=; the unit dumps
its environment, or does not start. The installed loader reads the same
file. Both must agree with each other and with what the table says this
systemd (its version, from systemctl) gives.

Then a file this systemd refuses, as the app's env file: the health job
exits 65 without running, its record says env_refused, the status playbook
and the play fail the host, naming the file and the line, never a value.
"""

import base64
import re

import pytest

from conftest import (STATE_DIR, cron_frozen, job_record, output, run_job, run_site, run_status, unit_table,
                      write_as_root)

cases = unit_table("systemd_cases")

CASES_DIR = "/run/sm-cases"
UNIT = "sm-case@.service"
LOADER = "/usr/local/lib/server-maintanence-env.py"
ENV_FILE = "/etc/server-monitoring/env"
HEALTH = "server-maintanence health check"
SECRET_PART = "s3cr3t-part"


def write(host, path, data, mode="0644", group="root"):
    write_as_root(host, path, data, mode, group)


def nul_separated(raw):
    return dict(item.decode("utf-8").split("=", 1) for item in raw.split(b"\0") if item)


def unit_run(host, name):
    """The environment the unit sm-case@name gets, or None when it does not start."""
    host.run("rm -f %s/%s.out", CASES_DIR, name)
    if host.run("systemctl start sm-case@%s.service", name).rc != 0:
        assert host.run("systemctl show -P Result sm-case@%s.service", name).stdout.strip() != "success"
        return None
    return nul_separated(base64.b64decode(host.check_output("base64 -w0 %s/%s.out", CASES_DIR, name)))


def loader_run(host, name):
    """What the installed loader gives a command for the same file, or Refused(line)."""
    result = host.run("env -i /usr/bin/python3 -I %s %s/%s.env /usr/bin/env -0 > %s/%s.reader",
                      LOADER, CASES_DIR, name, CASES_DIR, name)
    if result.rc == 65:
        assert re.fullmatch(r"systemd refuses \S+ as a whole \(line \d+: [a-zA-Z8 -]+\), so its units do not "
                            r"start\n", result.stderr), result.stderr
        return cases.Refused(int(re.search(r"line (\d+)", result.stderr).group(1)))
    assert result.rc == 0, result.stderr
    return nul_separated(base64.b64decode(host.check_output("base64 -w0 %s/%s.reader", CASES_DIR, name)))


@pytest.fixture(scope="module")
def case_units(host):
    host.check_output("mkdir -p %s", CASES_DIR)
    write(host, "/etc/systemd/system/" + UNIT, (
        "[Service]\nType=oneshot\nEnvironmentFile=%s/%%i.env\nExecStart=/usr/bin/env -0\n"
        "StandardOutput=file:%s/%%i.out\n" % (CASES_DIR, CASES_DIR)).encode())
    for number, case in enumerate(cases.CASES):
        write(host, "%s/%d.env" % (CASES_DIR, number), case.data)
    write(host, CASES_DIR + "/base.env", b"")
    host.check_output("systemctl daemon-reload")
    yield
    host.run("rm -rf %s /etc/systemd/system/%s && systemctl daemon-reload && systemctl reset-failed", CASES_DIR,
             UNIT)


def test_the_reader_equals_the_hosts_own_systemd_on_every_case(host, case_units):
    version = int(re.match(r"systemd (\d+)", host.check_output("systemctl --version")).group(1))
    reader_version = host.check_output(
        "/usr/bin/python3 -I -c 'import runpy; print(runpy.run_path(\"%s\")[\"host_systemd\"]())'", LOADER)
    assert reader_version == str(version)
    first, second = unit_run(host, "base"), unit_run(host, "base")
    volatile = {key for key in first if first[key] != second.get(key)}  # INVOCATION_ID, SYSTEMD_EXEC_PID
    assert "INVOCATION_ID" in volatile

    judged = []
    for number, case in enumerate(cases.CASES):
        unit = unit_run(host, str(number))
        if unit is not None:
            unit = {key: value for key, value in unit.items() if key not in volatile and first.get(key) != value}
        reader = loader_run(host, str(number))
        wanted = cases.expected(case, version)
        if isinstance(wanted, cases.Refused):
            assert unit is None, (case.name, unit)
            assert reader == wanted, case.name
        else:
            assert unit == wanted, case.name
            assert reader == wanted, case.name
        judged.append(case.name)
    assert len(judged) == len(cases.CASES) >= 30


@pytest.fixture
def refused_env_file(host):
    """The app's env file with a value that is not UTF-8 on its line 3."""
    original = base64.b64decode(host.check_output("base64 -w0 %s", ENV_FILE))
    assert original.count(b"\n") == 2  # prepare.yml's two lines
    write(host, ENV_FILE, original + b"BROKEN=caf\xe9-" + SECRET_PART.encode() + b"\n", mode="0640",
          group="www-data")
    with cron_frozen(host):
        yield
        write(host, ENV_FILE, original, mode="0640", group="www-data")
        assert run_job(host, HEALTH).rc == 0
    host.run("systemctl reset-failed")


def test_a_file_systemd_refuses_stops_the_units_and_the_health_job_and_fails_the_host(host, refused_env_file):
    # The real systemd: a unit reading the file does not start.
    write(host, "/etc/systemd/system/sm-env-refused.service",
          ("[Service]\nType=oneshot\nEnvironmentFile=%s\nExecStart=/bin/true\n" % ENV_FILE).encode())
    host.check_output("systemctl daemon-reload")
    try:
        assert host.run("systemctl start sm-env-refused.service").rc != 0
    finally:
        host.run("rm -f /etc/systemd/system/sm-env-refused.service && systemctl daemon-reload")

    before = host.run("cat /opt/server-monitoring/logs/cron.log 2>/dev/null").stdout
    result = run_job(host, HEALTH)
    added = host.file("/opt/server-monitoring/logs/cron.log").content_string[len(before):]
    assert result.rc == 65, (result.stdout, result.stderr, added)
    assert added.count("\n") == 1, added
    assert ("health: not run: systemd refuses %s as a whole (line 3: a value that is not UTF-8), so its units "
            "do not start" % ENV_FILE) in added
    assert SECRET_PART not in added
    record = job_record(host, "health")
    assert (record["outcome"], record["exit_code"]) == ("env_refused", "65"), STATE_DIR

    status = run_status(host)
    text = output(status)
    assert status.returncode != 0
    assert ("server_maintanence_env_file %s, line 3: systemd refuses the whole file (a value that is not UTF-8)"
            % ENV_FILE) in text
    assert "server-maintanence health check: its last run was not started" in text
    assert "ENV-REFUSED" in text
    assert SECRET_PART not in text

    play = run_site(host)
    text = output(play)
    assert play.returncode != 0
    assert ("server_maintanence_env_file %s, line 3: systemd refuses the whole file" % ENV_FILE) in text
    assert SECRET_PART not in text
