"""Every installed line, run the way cron runs it, reaches the stand-in app."""

from conftest import APP_USER, JOB_LOGS, LOGS, crontab_entries, job_command, json_lines, run_as_app


def test_every_installed_line_runs_as_the_app_under_crons_environment(host, cron_paused):
    """Run each crontab line the way cron would and read what it logged.
    Cron frozen: its own run of a line would hold the job's lock (this run
    then exits 75) or add its lines to the log read here."""
    for name, line in crontab_entries(host).items():
        log = "%s/%s" % (LOGS, JOB_LOGS[name])
        before = host.run("cat %s 2>/dev/null", log).stdout
        result = run_as_app(host, job_command(line))
        assert result.rc == 0, (name, result.stderr)
        added = host.file(log).content_string[len(before):]
        runs = [entry for entry in json_lines(added) if entry["via"] == "test"]
        assert len(runs) == 1, (name, added)
        assert runs[0]["uid"] == host.user(APP_USER).uid
        assert host.file(log).user == APP_USER
