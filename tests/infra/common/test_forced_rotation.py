"""A forced rotation on the real host, with the installed config."""

from conftest import APP_USER, LOGROTATE_CONFIG, LOGS


def test_forced_rotation_keeps_a_compressed_generation_and_a_fresh_app_owned_log(host, inventory_vars):
    log = LOGS + "/rotation-probe.log"
    host.check_output("rm -f %s*", log)
    # Two forced rotations: delaycompress leaves generation 1 plain the first time.
    for round_number in (1, 2):
        host.check_output("runuser -u %s -- sh -c 'echo round-%s >> %s'", APP_USER, str(round_number), log)
        result = host.run("logrotate -v -f %s 2>&1", LOGROTATE_CONFIG)
        assert result.rc == 0, result.stdout
        assert "error:" not in result.stdout
        # The reopen script runs on every host and exits 0 with or without
        # systemd and whether or not the app's units exist.
        assert "running postrotate script" in result.stdout
    compressed = host.file(log + ".2.gz")
    assert compressed.exists, host.check_output("ls -la %s", LOGS)
    assert host.check_output("zcat %s", log + ".2.gz") == "round-1"
    assert host.check_output("cat %s", log + ".1") == "round-2"
    fresh = host.file(log)
    assert fresh.exists and fresh.size == 0
    assert (fresh.user, fresh.group, fresh.mode) == (APP_USER, APP_USER, 0o640)
    host.check_output("rm -f %s*", log)


def test_update_history_survives_a_forced_rotation_untouched(host):
    history = LOGS + "/update-history.jsonl"
    host.check_output("runuser -u %s -- sh -c 'echo {\"version\": 1} > %s'", APP_USER, history)
    before = host.file(history).sha256sum
    host.check_output("logrotate -f %s", LOGROTATE_CONFIG)
    assert host.file(history).exists
    assert host.file(history).sha256sum == before
    assert host.run("ls %s.*", history).rc != 0
