"""Reruns, overlap, takeover of the installer's lines, uninstall and reinstall."""

from conftest import (APP_DIR, APP_USER, LOGROTATE_CONFIG, LOGS, STATE_DIR, SUDOERS_GRANT, crontab_entries,
                      crontab_lines, installer_lines, job_command, recap, run_as_app, run_site, snapshot, uv_on,
                      write_crontab)


# Exit 0 once the health job's lock is held (LOCK_HELD) or free (LOCK_FREE), polling up to 120 s.
# (Never creating the lock file: the runner makes it, as the app user.)
LOCK_HELD = ("for i in $(seq 600); do if [ -e {0}/health.lock ]; then flock -n -E 99 {0}/health.lock true; "
             "[ $? = 99 ] && exit 0; fi; sleep 0.2; done; exit 1")
LOCK_FREE = "for i in $(seq 600); do flock -n -E 99 {0}/health.lock true && exit 0; sleep 0.2; done; exit 1"


def test_a_run_slower_than_its_interval_never_overlaps(host, cron_paused):
    """The second run starts once the first holds the lock, and the log is
    read once the first has let it go: waits on the lock, not on the clock,
    so a loaded machine cannot reorder them."""
    line = crontab_entries(host)["server-maintanence health check"]
    host.check_output("echo 6 > %s/slow", APP_DIR)
    try:
        host.check_output("truncate -s 0 %s/cron.log", LOGS)
        first = "(%s) >/dev/null 2>&1 &" % job_command(line)
        run_as_app(host, first)
        host.check_output(LOCK_HELD.format(STATE_DIR))
        second = run_as_app(host, job_command(line))
        assert second.rc == 75
        skipped = host.file(LOGS + "/cron.log").content_string
        assert "health: skipped, the previous run still holds" in skipped
        host.check_output(LOCK_FREE.format(STATE_DIR))
        log = host.file(LOGS + "/cron.log").content_string
        assert log.count('"stub": "manage.py"') == 1, log
    finally:
        host.check_output("rm -f %s/slow", APP_DIR)


def test_installer_lines_are_taken_over_and_other_lines_kept(host, app):
    installer = installer_lines(app, uv_on(host, app))
    unrelated = "17 4 * * * /usr/bin/true # the operator's own line"
    write_crontab(host, crontab_lines(host) + installer + [unrelated])
    before = set(crontab_entries(host).items())

    # This host is standalone: the installer's push goes, at the operator's word; the health
    # check and the auto-update are the role's jobs here too.
    result = run_site(host, {"server_maintanence_drop_installer_jobs": ["push"]})
    assert result.returncode == 0, result.stdout[-3000:]
    assert ("Taking over %d line(s) that bin/install/cron.sh wrote in %s's crontab: auto-update, health check "
            "replaced by the role's entries; cluster push removed without an entry, as "
            "server_maintanence_drop_installer_jobs allows." % (len(installer), APP_USER)
            in " ".join(result.stdout.split()).replace("''", "'"))  # the YAML result format doubles a '
    lines = crontab_lines(host)
    assert not [line for line in lines if line in installer]
    assert unrelated in lines
    assert set(crontab_entries(host).items()) == before

    host.check_output("crontab -l -u %s | grep -vxF %s | crontab -u %s -", APP_USER,
                      unrelated, APP_USER)


def test_uninstall_twice_then_reinstall_matches_a_fresh_install(host, cron_paused):
    installed = snapshot(host, logs_content=False)
    host.check_output("runuser -u %s -- sh -c 'echo keep-me >> %s/django.log'", APP_USER, LOGS)

    removed = run_site(host, {"server_maintanence_state": "absent"})
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert recap(removed.stdout)["changed"] == 1  # the one task
    assert crontab_entries(host) == {}
    assert not host.file(LOGROTATE_CONFIG).exists
    assert not host.run("ls %s/*.lock", LOGS).stdout
    for path in ("/usr/local/bin/server-maintanence-job", "/etc/default/server-maintanence-job",
                 "/var/lib/server-maintanence", SUDOERS_GRANT):
        assert not host.file(path).exists, path
    assert host.file(LOGS + "/django.log").content_string.endswith("keep-me\n")

    again = run_site(host, {"server_maintanence_state": "absent"})
    assert again.returncode == 0
    assert recap(again.stdout)["changed"] == 0

    reinstalled = run_site(host)
    assert reinstalled.returncode == 0, reinstalled.stdout[-3000:]
    host.check_output("rm -f %s/django.log", LOGS)
    assert snapshot(host, logs_content=False) == installed


def test_uv_is_found_where_the_apps_installer_looks_and_in_its_order(host, app, cron_paused):
    """The app's docs install uv in the app user's ~/.local/bin: it wins over
    /usr/local/bin/uv. With no uv anywhere the role warns and points the
    entries at the first place the app looks."""
    home_uv = host.user(APP_USER).home + app.uv_candidates()[0][1:]
    system_uv = uv_on(host, app)
    health = "server-maintanence health check"
    host.check_output("install -D -o %s -g %s -m 0755 %s %s", APP_USER, APP_USER, system_uv, home_uv)
    try:
        found = run_site(host)
        assert found.returncode == 0, found.stdout[-3000:]
        # The yaml callback may fold the message: compare with spaces collapsed.
        assert "uv %s (found)" % home_uv in " ".join(found.stdout.split())
        assert " %s run python manage.py" % home_uv in crontab_entries(host)[health]
    finally:
        host.check_output("rm -rf %s/.local", host.user(APP_USER).home)
    host.check_output("mv %s %s.away", system_uv, system_uv)
    try:
        missing = run_site(host)
        assert missing.returncode == 0, missing.stdout[-3000:]
        # An Ansible warning of the probe's task: on stderr, with the run passing.
        assert "[WARNING]: uv is not installed yet" in " ".join((missing.stdout + missing.stderr).split())
        assert " %s run python manage.py" % home_uv in crontab_entries(host)[health]
    finally:
        host.check_output("mv %s.away %s", system_uv, system_uv)
    restored = run_site(host)
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert " %s run python manage.py" % system_uv in crontab_entries(host)[health]


def test_auto_update_off_takes_the_sudo_grant_away_and_on_gives_it_back(host, cron_paused):
    installed = snapshot(host, logs_content=False)
    assert host.file(SUDOERS_GRANT).exists
    off = run_site(host, {"server_maintanence_auto_update_enabled": False})
    assert off.returncode == 0, off.stdout[-3000:]
    assert not host.file(SUDOERS_GRANT).exists
    assert "server-maintanence auto-update" not in crontab_entries(host)
    on = run_site(host)
    assert on.returncode == 0, on.stdout[-3000:]
    assert snapshot(host, logs_content=False) == installed
