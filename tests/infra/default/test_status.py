"""The job runner's records and playbooks/status.yml, read from the real host.

Each test runs the installed crontab line itself (cron frozen), then checks
what the runner recorded and what the status playbook reports and fails.
"""

import json
import re
import time

import pytest

from conftest import (APP_DIR, APP_USER, LOGS, RUNNER, STATE_DIR, crontab_entries, cron_frozen, human_ages,
                      job_command, module_calls, output, recap, run_job, run_site, run_status, status_table)
from conftest import job_record as record
from conftest import write_job_record as write_record

HEALTH = "server-maintanence health check"
UPDATE = "server-maintanence auto-update"
# server_maintanence_health_check_schedule in molecule/default: every minute.
HEALTH_INTERVAL = 60
# Where a test's status run must pass however slow the machine is: 30
# minutes, more than two runs of run_site's 600 s limit, for jobs run just
# before it (the default, 2 x 1 minute, would fail a status run that a
# loaded machine slows past a minute or two).
UNHURRIED = {"server_maintanence_status_max_intervals": 30}
# A tmpfs of its own (molecule/default/molecule.yml): its free space is only
# what the test leaves, unlike the shared disk under the container.
OWN_FS = "/srv/sm-own-fs"
OWN_FS_SIZE = 64 * 1024 ** 2


def row(result, host_name):
    """The status table's row of a host, as {column: cell}."""
    return status_table(result.stdout)[host_name]


@pytest.fixture
def healthy(host):
    """cron frozen, the stand-in app healthy, every job of this host run once."""
    with cron_frozen(host):
        host.check_output("rm -f %s/fail %s/slow", APP_DIR, APP_DIR)
        for name in (HEALTH, UPDATE):
            assert run_job(host, name).rc == 0
        yield
        host.check_output("rm -f %s/fail %s/slow", APP_DIR, APP_DIR)


def test_the_runner_and_its_state_directory_are_installed_as_documented(host):
    runner = host.file(RUNNER)
    assert (runner.user, runner.group, runner.mode) == ("root", "root", 0o755)
    state = host.file(STATE_DIR)
    assert state.is_directory and (state.user, state.group, state.mode) == ("root", APP_USER, 0o775)
    lines = crontab_entries(host)
    assert job_command(lines[HEALTH]).startswith(RUNNER + " --log cron.log health 240 ")
    assert job_command(lines[UPDATE]).startswith(RUNNER + " update 1800 ")


def test_a_healthy_host_passes_and_the_table_shows_true_values(host, healthy):
    health = record(host, "health")
    assert (health["outcome"], health["exit_code"], health["skipped"], health["timed_out"]) == (
        "success", "0", "0", "0")
    assert health["last_success"] == health["end"]
    assert float(health["start"]) <= float(health["end"]) <= time.time() + 1

    before = time.time()
    result = run_status(host, UNHURRIED)
    after = time.time()
    assert result.returncode == 0, result.stdout[-3000:]
    cells = row(result, "sm-default")
    assert cells["ROLE"] == "standalone"
    for job in ("health", "update"):
        end = float(record(host, job)["end"])
        assert cells[job.upper()] in {age + "/0" for age in human_ages(before - end, after - end)}, cells
    assert cells["CRON"] == "running" and cells["STATUS"] == "ok"
    used = int(host.check_output("du -sB1 %s | cut -f1", LOGS))
    assert abs(size(cells["LOGS"]) - used) <= max(0.06 * used, 1), (cells["LOGS"], used)


def test_the_free_space_shown_is_the_logs_filesystems(host, healthy):
    """On a filesystem only this test writes, of known size: the FREE cell is
    what df says is available there, 64 MiB less the 1 MiB written."""
    logs = OWN_FS + "/logs"
    host.check_output("mkdir -p %s && head -c 1048576 /dev/zero > %s/app.log", logs, logs)
    try:
        assert int(host.check_output("df -B1 --output=size %s | tail -1", OWN_FS)) == OWN_FS_SIZE
        free = int(host.check_output("df -B1 --output=avail %s | tail -1", OWN_FS))
        assert free == OWN_FS_SIZE - 1024 ** 2
        cells = row(run_status(host, dict(UNHURRIED, server_maintanence_logs_dir=logs)), "sm-default")
        assert cells["FREE"] == "63.0M" and size(cells["FREE"]) == free
        assert cells["LOGS"] == "1.0M"
    finally:
        host.check_output("rm -rf %s", logs)


def size(text):
    number, unit = re.fullmatch(r"([0-9.]+)([kMG]?)", text).groups()
    return float(number) * {"": 1, "k": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[unit]


def test_a_failing_job_is_recorded_and_shown_but_fails_the_host_only_when_stale(host, healthy):
    last_success = record(host, "health")["last_success"]
    host.check_output("echo 3 > %s/fail", APP_DIR)
    assert run_job(host, HEALTH).rc == 3
    health = record(host, "health")
    assert (health["outcome"], health["exit_code"]) == ("failure", "3")
    assert health["last_success"] == last_success

    result = run_status(host, UNHURRIED)
    assert result.returncode == 0, result.stdout[-3000:]
    assert row(result, "sm-default")["HEALTH"].endswith("/3")

    before = time.time()
    write_record(host, "health", last_success=before - 3 * HEALTH_INTERVAL)
    stale = run_status(host)
    after = time.time()
    assert stale.returncode != 0
    assert recap(stale.stdout)["failed"] == 1
    found = re.search(HEALTH + r": last succeeded (\S+) ago, more than 2 x its 1m interval; last run (\S+) ago "
                      r"ended failure, exit code 3", output(stale))
    assert found, output(stale)[-3000:]
    assert found.group(1) in human_ages(3 * HEALTH_INTERVAL, after - before + 3 * HEALTH_INTERVAL)
    end = float(health["end"])
    assert found.group(2) in human_ages(before - end, after - end)
    assert row(stale, "sm-default")["STATUS"] == "FAIL"


def test_a_stale_job_fails_the_host_and_more_intervals_let_it_pass(host, healthy):
    """2.5 intervals old (it only ages): stale with 2, within 30 (whose limit
    no run of the status playbook can reach before run_site's timeout)."""
    before = time.time()
    write_record(host, "health", last_success=before - 2.5 * HEALTH_INTERVAL)
    stale = run_status(host)
    after = time.time()
    assert stale.returncode != 0
    found = re.search(HEALTH + r": last succeeded (\S+) ago", output(stale))
    assert found and found.group(1) in human_ages(2.5 * HEALTH_INTERVAL, after - before + 2.5 * HEALTH_INTERVAL)
    assert UPDATE not in output(stale).split("fatal:", 1)[1]
    assert run_status(host, UNHURRIED).returncode == 0


def test_a_run_skipped_by_the_lock_is_recorded(host, healthy):
    # -o: the lock stays with flock itself, so killing it frees the lock.
    holder = host.run("runuser -u %s -- sh -c 'flock -o %s/health.lock sleep 30 >/dev/null 2>&1 &'",
                      APP_USER, STATE_DIR)
    assert holder.rc == 0
    host.check_output("for i in $(seq 50); do pgrep -f '[f]lock -o %s/health.lock' && exit 0; sleep 0.1; done; exit 1",
                      STATE_DIR)
    try:
        before = host.file(LOGS + "/cron.log").content_string
        assert run_job(host, HEALTH).rc == 75
        health = record(host, "health")
        assert (health["outcome"], health["exit_code"], health["skipped"]) == ("skipped", "75", "1")
        added = host.file(LOGS + "/cron.log").content_string[len(before):]
        assert "health: skipped, the previous run still holds %s/health.lock" % STATE_DIR in added
        assert '"stub": "manage.py"' not in added
        assert row(run_status(host), "sm-default")["HEALTH"].endswith("/75")
    finally:
        host.run("pkill -f '[f]lock -o %s/health.lock'", STATE_DIR)


INBOX = "server-maintanence inbox drain"
CRON_DRAIN = {"server_maintanence_inbox_cron_enabled": True}
NO_DRAIN = ("no inbox drain runs: server-monitoring-inbox.service is not active and the cron drain "
            "(server_maintanence_inbox_cron_enabled) is off")


def test_status_shows_the_cron_drain_and_warns_when_nothing_drains_the_inbox(host, healthy):
    """No systemd here, so no inbox unit: with the cron drain off nothing
    drains (a warning; the host passes); turned on, its line run as cron
    runs it makes it the drain, and so does a drain still running (the next
    one skipped by its lock) after its last success has aged."""
    none = run_status(host, UNHURRIED)
    assert none.returncode == 0, output(none)[-3000:]
    assert row(none, "sm-default")["DRAIN"] == "NONE"
    assert NO_DRAIN in output(none), output(none)[-3000:]
    on = run_site(host, CRON_DRAIN)
    try:
        assert on.returncode == 0, output(on)[-3000:]
        assert run_job(host, INBOX).rc == 0
        assert record(host, "inbox")["outcome"] == "success"
        cron = run_status(host, dict(CRON_DRAIN, **UNHURRIED))
        assert cron.returncode == 0, output(cron)[-3000:]
        assert row(cron, "sm-default")["DRAIN"] == "cron"
        assert "no inbox drain runs" not in output(cron)

        before = time.time()
        write_record(host, "inbox", last_success=before - 10 * 60)
        holder = host.run("runuser -u %s -- sh -c 'flock -o %s/inbox.lock sleep 30 >/dev/null 2>&1 &'",
                          APP_USER, STATE_DIR)
        assert holder.rc == 0
        host.check_output("for i in $(seq 50); do pgrep -f '[f]lock -o %s/inbox.lock' && exit 0; sleep 0.1; done; "
                          "exit 1", STATE_DIR)
        try:
            assert run_job(host, INBOX).rc == 75
            draining = run_status(host, dict(CRON_DRAIN, **UNHURRIED))
            after = time.time()
        finally:
            host.run("pkill -f '[f]lock -o %s/inbox.lock'", STATE_DIR)
        assert row(draining, "sm-default")["DRAIN"] == "cron"
        assert row(draining, "sm-default")["INBOX"] in {age + "/75" for age in human_ages(600, after - before + 600)}
        assert "no inbox drain runs" not in output(draining)
    finally:
        off = run_site(host)
        assert off.returncode == 0, output(off)[-3000:]
    assert not host.file(STATE_DIR + "/inbox.state").exists


def test_a_run_stopped_by_its_timeout_is_recorded(host, healthy):
    """The stand-in app would run 600 s: stopped after 2, well under 120 on
    the slowest machine."""
    host.check_output("echo 600 > %s/slow", APP_DIR)
    started = time.monotonic()
    assert run_job(host, HEALTH, timeout=2).rc == 124
    assert time.monotonic() - started < 120
    health = record(host, "health")
    assert (health["outcome"], health["exit_code"], health["timed_out"]) == ("timeout", "124", "1")
    assert 2 <= float(health["duration"]) < 120
    assert "health: stopped after 2s" in host.file(LOGS + "/cron.log").content_string


def test_the_last_rotation_comes_from_logrotates_state_file(host, healthy):
    """A forced rotation (logrotate's default state file, as its timer and
    cron.daily use) shows as seconds ago; before any rotation, as never."""
    host.check_output("runuser -u %s -- sh -c 'echo line >> %s/django.log'", APP_USER, LOGS)
    before = time.time()
    host.check_output("logrotate -f %s", "/etc/logrotate.d/server-maintanence")
    entry = host.check_output("grep -F '\"%s/django.log\"' /var/lib/logrotate/status", LOGS)
    assert entry, "logrotate recorded no rotation of django.log"
    rotated = row(run_status(host), "sm-default")["ROTATED"]
    # logrotate records whole seconds: up to one more.
    assert rotated in human_ages(0, time.time() - before + 1), rotated
    host.check_output("cp /var/lib/logrotate/status /tmp/logrotate.status")
    try:
        host.check_output("grep -vF '%s/' /tmp/logrotate.status > /var/lib/logrotate/status; true", LOGS)
        assert row(run_status(host), "sm-default")["ROTATED"] == "never"
    finally:
        host.check_output("cp /tmp/logrotate.status /var/lib/logrotate/status")


def test_a_job_turned_off_loses_its_entry_and_its_record(host, healthy):
    """Its record would keep ageing in the metrics and alert for a job that
    no longer runs."""
    assert host.file(STATE_DIR + "/update.state").exists
    off = run_site(host, {"server_maintanence_auto_update_enabled": False})
    try:
        assert off.returncode == 0, output(off)[-3000:]
        assert UPDATE not in crontab_entries(host)
        assert not host.file(STATE_DIR + "/update.state").exists
        assert host.file(STATE_DIR + "/health.state").exists
        assert "UPDATE" not in row(run_status(host, {"server_maintanence_auto_update_enabled": False}), "sm-default")
    finally:
        on = run_site(host)
        assert on.returncode == 0, output(on)[-3000:]


def test_cron_stopped_fails_the_host(host):
    # Stopped while it runs a job (every minute here), cron leaves the job's
    # cron child behind; the probe tells it from the daemon (a unit test
    # proves it) except in the instant between the job's end and its own,
    # when it has no child: the status run waits until it is gone (a zombie,
    # which no init reaps here, is not a running cron).
    host.check_output("service cron stop && for i in $(seq 120); do ps -eo stat=,comm= | grep -Eq '^[^Z][^ ]* +cron$' "
                      "|| exit 0; sleep 0.5; done; exit 1")
    try:
        result = run_status(host)
    finally:
        host.check_output("service cron start")
    assert result.returncode != 0
    assert "cron is not running: none of the jobs runs" in output(result)
    assert row(result, "sm-default")["CRON"] == "STOPPED"


def test_logs_above_the_size_limit_fail_the_host(host, healthy):
    result = run_status(host, {"server_maintanence_status_max_logs_size": "1k"})
    assert result.returncode != 0
    assert re.search(r"the logs directory %s uses [0-9.]+k, more than server_maintanence_status_max_logs_size 1k"
                     % LOGS, output(result)), output(result)[-3000:]


def test_status_is_read_only_under_check_and_makes_one_module_call(host, healthy):
    before = host.check_output("ls -l --time-style=+%%s %s; cat %s/*.state", STATE_DIR, STATE_DIR)
    result = run_status(host, UNHURRIED, check=True, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    assert result.returncode == 0, output(result)[-3000:]
    report = json.loads(result.stdout)
    assert module_calls(report, "sm-default") == ["server_maintanence.ops.maintenance"]
    assert report["stats"]["sm-default"]["changed"] == 0
    assert host.check_output("ls -l --time-style=+%%s %s; cat %s/*.state", STATE_DIR, STATE_DIR) == before


def test_a_missing_metrics_directory_is_created_root_only_with_a_link_to_the_metrics(host, healthy):
    metrics_dir = "/var/lib/sm-metrics"
    converged = run_site(host, {"server_maintanence_metrics_dir": metrics_dir})
    try:
        assert converged.returncode == 0, output(converged)[-3000:]
        found = host.file(metrics_dir)
        assert (found.user, found.group, found.mode) == ("root", "root", 0o755)
        assert run_job(host, HEALTH).rc == 0
        link = host.file(metrics_dir + "/server_maintanence.prom")
        assert link.is_symlink and link.linked_to == STATE_DIR + "/server_maintanence.prom"
        assert host.check_output("stat -c %%U %s", link.path) == "root"
        prom = host.file(STATE_DIR + "/server_maintanence.prom")
        assert (prom.user, prom.mode) == (APP_USER, 0o644)
        families = parse_metrics(link.content_string)
        health = record(host, "health")
        assert families["server_maintanence_job_last_exit_code"][("health",)] == 0
        assert families["server_maintanence_job_last_success_timestamp_seconds"][("health",)] == float(
            health["last_success"])
        assert families["server_maintanence_job_last_start_timestamp_seconds"][("health",)] == float(health["start"])
        assert families["server_maintanence_job_last_duration_seconds"][("health",)] == float(health["duration"])
        assert families["server_maintanence_job_last_run_skipped"][("update",)] == 0
        # What the shipped alert rules compare with (docs/alerting.md), for the jobs on only:
        # health every minute, the update daily, 2 intervals, weekly rotation, 1G.
        assert families["server_maintanence_job_interval_seconds"] == {("health",): 60, ("update",): 86400}
        assert families["server_maintanence_job_late_after_seconds"] == {("health",): 120, ("update",): 172800}
        assert families["server_maintanence_logrotate_late_after_seconds"][()] == 8 * 86400
        assert families["server_maintanence_logs_size_limit_bytes"][()] == 1024 ** 3
        used = int(host.check_output("du -sB1 %s | cut -f1", LOGS))
        assert abs(families["server_maintanence_logs_size_bytes"][()] - used) <= 8192
        assert host.check_output("ls -A %s", metrics_dir).split() == [
            ".created-by-server-maintanence", "server_maintanence.prom"]
        # A file in place of the link (the metrics an older release wrote
        # there) is put back as the link, then nothing changes.
        host.check_output("rm %s && echo stale > %s", link.path, link.path)
        repaired = run_site(host, {"server_maintanence_metrics_dir": metrics_dir})
        assert repaired.returncode == 0 and recap(repaired.stdout)["changed"] >= 1, output(repaired)[-3000:]
        assert host.file(link.path).linked_to == STATE_DIR + "/server_maintanence.prom"
        again = run_site(host, {"server_maintanence_metrics_dir": metrics_dir})
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, output(again)[-3000:]
    finally:
        reverted = run_site(host)
        assert reverted.returncode == 0, output(reverted)[-3000:]
        host.check_output("rm -rf %s %s/server_maintanence.prom", metrics_dir, STATE_DIR)


NODE_EXPORTER_DIR = "/var/lib/prometheus/node-exporter"  # Debian's textfile collector directory


def test_node_exporter_serves_the_metrics_from_its_own_directory_left_as_it_was(host, healthy):
    """Debian's prometheus-node-exporter: its root-only textfile directory
    works as it is (owner and mode unchanged), and node_exporter itself
    follows the role's link, parses the file and serves every metric
    without a scrape error."""
    host.check_output("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
                      "prometheus-node-exporter >/dev/null")
    metrics = {"server_maintanence_metrics_dir": NODE_EXPORTER_DIR}
    before = host.check_output("stat -c '%%U:%%G %%a' %s", NODE_EXPORTER_DIR)
    assert before == "root:root 755"
    try:
        converged = run_site(host, metrics)
        assert converged.returncode == 0, output(converged)[-3000:]
        assert host.check_output("stat -c '%%U:%%G %%a' %s", NODE_EXPORTER_DIR) == before
        assert run_job(host, HEALTH).rc == 0
        host.check_output(
            "runuser -u prometheus -- prometheus-node-exporter --web.listen-address=127.0.0.1:19100 "
            "--collector.disable-defaults --collector.textfile --collector.textfile.directory=%s "
            ">/tmp/node-exporter.log 2>&1 &", NODE_EXPORTER_DIR)
        scraped = host.check_output(
            "python3 -c \"import time, urllib.request as u\n"
            "for _ in range(50):\n"
            "    try: print(u.urlopen('http://127.0.0.1:19100/metrics').read().decode()); break\n"
            "    except OSError: time.sleep(0.2)\"")
        families = parse_metrics("\n".join(line for line in scraped.splitlines()
                                           if "server_maintanence_" in line) + "\n")
        assert re.search(r"^node_textfile_scrape_error 0$", scraped, re.M), scraped
        health = record(host, "health")
        assert families["server_maintanence_job_last_success_timestamp_seconds"][("health",)] == float(
            health["last_success"])
        assert families["server_maintanence_job_last_exit_code"][("update",)] == 0
    finally:
        host.run("pkill -f '[p]rometheus-node-exporter --web.listen-address=127.0.0.1:19100'")
        reverted = run_site(host)
        assert reverted.returncode == 0, output(reverted)[-3000:]
        host.check_output("apt-get purge -y -qq prometheus-node-exporter >/dev/null; rm -rf /var/lib/prometheus "
                          "%s/server_maintanence.prom", STATE_DIR)


def parse_metrics(text):
    """{family: {label values: value}} through the Prometheus client's own
    text-format parser, which rejects what a scraper would."""
    from prometheus_client.parser import text_string_to_metric_families  # pylint: disable=import-outside-toplevel

    families = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.name.startswith("server_maintanence_"), family
        families[family.name] = {tuple(sample.labels.values()): sample.value for sample in family.samples}
    return families


@pytest.mark.parametrize("extra_vars, variable", [
    ({"server_maintanence_status_max_intervals": "two"}, "server_maintanence_status_max_intervals"),
    ({"server_maintanence_status_max_logs_size": "1 G"}, "server_maintanence_status_max_logs_size"),
    ({"server_maintanence_state_dir": "/var/lib/sm;true"}, "server_maintanence_state_dir"),
])
def test_status_refuses_bad_input_naming_the_variable(host, extra_vars, variable):
    result = run_status(host, extra_vars)
    assert result.returncode != 0
    assert variable in output(result), output(result)[-3000:]
    assert "Read the jobs' records" not in output(result)  # refused before it reads the host


DEV_UPDATE = ("warning: sm-default: server_maintanence_auto_update_enabled: the app's bin/update.sh will take this "
              "host for a development one and run `uv sync --all-extras --dev` on each update")


def test_an_update_the_app_would_run_as_on_a_dev_host_is_a_warning_until_the_env_says_prod(host, healthy):
    """No systemd here and no project .env: the app's detect_mode says dev.
    The warning names why, and does not fail the host; a project .env with
    DJANGO_ENV=prod (the app user's, as the app's installer writes it) ends it."""
    env = APP_DIR + "/.env"
    assert not host.file(env).exists
    warned = run_status(host)
    said = output(warned).replace("''", "'")  # the YAML result format doubles a '
    assert warned.returncode == 0 and row(warned, "sm-default")["STATUS"] == "ok", warned.stdout[-3000:]
    assert DEV_UPDATE in said and "systemd is not PID 1" in said
    host.check_output("runuser -u %s -- sh -c 'printf \"DJANGO_ENV=prod\\n\" > %s'", APP_USER, env)
    try:
        prod = run_status(host)
    finally:
        host.check_output("rm -f %s", env)
    assert prod.returncode == 0, prod.stdout[-3000:]
    assert "development one" not in output(prod)
