"""Rotation on the real host, with the installed config and its policy.

Each test holds cron and logrotate.timer (logrotate_paused): a logrotate
they start (cron.daily's, the hourly runner's, the timer's) would take
logrotate's state-file lock and fail the test's own run."""

import time

from conftest import APP_USER, LOGROTATE_CONFIG, LOGS

DECOMPRESS = {".gz": "zcat", ".zst": "zstdcat"}


def write_as_app(host, path, text):
    host.check_output("runuser -u %s -- sh -c %s", APP_USER, "printf '%%s\\n' '%s' >> %s" % (text, path))


def generations(host, log):
    return sorted(host.check_output("ls -1 %s?* 2>/dev/null || true", log).split())


def test_forced_rotation_keeps_a_compressed_generation_and_a_fresh_app_owned_log(host, inventory_vars,
                                                                                 logrotate_paused):
    log = LOGS + "/rotation-probe.log"
    host.check_output("rm -f %s*", log)
    compression = ".zst" if inventory_vars.get("server_maintanence_logrotate_compression") == "zstd" else ".gz"
    for round_number in ("1", "2"):
        write_as_app(host, log, "round-" + round_number)
        result = host.run("logrotate -v -f %s 2>&1", LOGROTATE_CONFIG)
        assert result.rc == 0, result.stdout
        assert "error:" not in result.stdout
        # The reopen script runs on every host and exits 0 with or without
        # systemd and whether or not the app's units exist.
        assert "running postrotate script" in result.stdout
        time.sleep(1.1)  # dateext names carry seconds
    rotated = generations(host, log)
    compressed = [name for name in rotated if name.endswith(compression)]
    plain = [name for name in rotated if not name.endswith(compression)]
    assert len(compressed) == 1 and len(plain) == 1, rotated
    # delaycompress: the newest generation stays plain, the older one is compressed.
    assert host.check_output("%s %s", DECOMPRESS[compression], compressed[0]) == "round-1"
    assert host.check_output("cat %s", plain[0]) == "round-2"
    fresh = host.file(log)
    assert fresh.exists and fresh.size == 0
    assert (fresh.user, fresh.group, fresh.mode) == (APP_USER, APP_USER, 0o640)
    if inventory_vars.get("server_maintanence_logrotate_dateext"):
        assert all(name[len(log):].startswith("-20") for name in rotated), rotated
    host.check_output("rm -f %s*", log)


def test_update_history_is_kept_out_of_the_log_glob(host, inventory_vars, logrotate_paused):
    history = LOGS + "/update-history.jsonl"
    host.check_output("rm -f %s*", history)
    write_as_app(host, history, '{"version": 1}')
    before = host.file(history).sha256sum
    if not inventory_vars.get("server_maintanence_logrotate_history_enabled"):
        # Not even a forced rotation touches it.
        host.check_output("logrotate -f %s", LOGROTATE_CONFIG)
        assert host.file(history).sha256sum == before
        assert generations(host, history) == []
        return
    # Its own stanza rotates it by size only: a small file stays, a big one rotates.
    host.check_output("logrotate %s", LOGROTATE_CONFIG)
    assert host.file(history).sha256sum == before
    host.check_output("runuser -u %s -- sh -c 'head -c 4096 /dev/zero | tr \"\\\\0\" x >> %s'", APP_USER, history)
    host.check_output("logrotate %s", LOGROTATE_CONFIG)
    assert len(generations(host, history)) == 1
    assert host.file(history).exists and host.file(history).size == 0
    host.check_output("rm -f %s*", history)


def test_hourly_frequency_has_an_hourly_runner(host, inventory_vars, logrotate_paused):
    runner = host.file("/etc/cron.hourly/server-maintanence-logrotate")
    if inventory_vars.get("server_maintanence_logrotate_frequency") != "hourly":
        assert not runner.exists
        return
    assert (runner.user, runner.group, runner.mode) == ("root", "root", 0o755)
    assert "/etc/cron.hourly/server-maintanence-logrotate" in host.check_output("run-parts --test /etc/cron.hourly")
    assert host.run("/etc/cron.hourly/server-maintanence-logrotate").rc == 0
