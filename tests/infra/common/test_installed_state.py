"""The state the role leaves on every host of every scenario."""

from conftest import (APP_DIR, APP_USER, LOGROTATE_CONFIG, LOGS, RUNNER, RUNNER_CONFIG, SUDOERS_GRANT,
                      crontab_entries, crontab_lines, job_command, uv_on)


def test_logs_dir_is_owned_by_the_app_and_closed_to_others(host):
    logs = host.file(LOGS)
    assert logs.is_directory
    assert (logs.user, logs.group) == (APP_USER, APP_USER)
    assert logs.mode == 0o750


def test_logrotate_config_is_root_owned_and_not_writable_by_others(host):
    config = host.file(LOGROTATE_CONFIG)
    assert config.is_file
    assert (config.user, config.group, config.mode) == ("root", "root", 0o644)


def test_logrotate_config_rotates_only_the_log_glob_with_the_policy(host, inventory_vars):
    text = host.file(LOGROTATE_CONFIG).content_string
    assert text.splitlines()[0].startswith("#")
    stanza_heads = [line for line in text.splitlines() if line.rstrip().endswith("{")]
    assert stanza_heads[0] == LOGS + "/*.log {"
    directives = {line.strip() for line in text.splitlines()}
    frequency = inventory_vars.get("server_maintanence_logrotate_frequency", "weekly")
    rotate = inventory_vars.get("server_maintanence_logrotate_rotate", 4)
    for wanted in (frequency, "rotate %s" % rotate, "compress", "missingok", "notifempty",
                   "su %s %s" % (APP_USER, APP_USER)):
        assert wanted in directives
    if not inventory_vars.get("server_maintanence_logrotate_history_enabled"):
        assert "update-history.jsonl" not in text


def test_logrotate_accepts_the_config_without_error(host):
    # -s /dev/null: Debian 11's logrotate -d errors when no state file exists yet.
    result = host.run("logrotate -d -s /dev/null %s 2>&1", LOGROTATE_CONFIG)
    assert result.rc == 0, result.stdout
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors == []
    assert "considering log %s/*.log" % LOGS in result.stdout or "rotating pattern: %s/*.log" % LOGS in result.stdout


def test_app_crontab_holds_exactly_the_expected_entries(host, expected_entries):
    assert set(crontab_entries(host)) == expected_entries


def test_no_crontab_line_is_outside_the_roles_entries(host):
    lines = [line for line in crontab_lines(host) if line and not line.startswith("#")]
    assert len(lines) == len(crontab_entries(host))


def test_app_check_finds_its_markers_in_the_crontab(host):
    listing = host.check_output("crontab -l -u %s", APP_USER)
    assert "server-maintanence" in listing
    assert "run_pipeline --checks-only" in listing


def runner_settings(host):
    """The job runner's settings file, as {name: value}."""
    text = host.file(RUNNER_CONFIG).content_string
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_health_entry_runs_the_documented_pipeline_command(host, app):
    command = job_command(crontab_entries(host)["server-maintanence health check"])
    assert command == "%s --log cron.log health 240 %s run python manage.py run_pipeline --checks-only --json" % (
        RUNNER, uv_on(host, app))
    settings = runner_settings(host)
    assert (settings["project_dir"], settings["logs_dir"]) == (APP_DIR, LOGS)


def test_every_entry_runs_through_the_runner_which_loads_the_units_env_file(host, app):
    env_files = {unit["EnvironmentFile"].lstrip("-") for unit in app.units().values()}
    assert len(env_files) == 1, env_files
    (env_file,) = env_files
    assert runner_settings(host)["env_file"] == env_file
    for name, line in crontab_entries(host).items():
        assert job_command(line).startswith(RUNNER + " "), name
    runner = host.file(RUNNER)
    assert (runner.user, runner.group, runner.mode) == ("root", "root", 0o755)


def test_push_entry_exists_only_for_agents(host, app, cluster_role):
    entries = crontab_entries(host)
    if cluster_role in ("agent", "both"):
        command = job_command(entries["server-maintanence cluster push"])
        assert command == "%s push 240 %s run python manage.py push_to_hub" % (RUNNER, uv_on(host, app))
    else:
        assert "server-maintanence cluster push" not in entries
        assert "push_to_hub" not in host.check_output("crontab -l -u %s", APP_USER)


def test_cron_daemon_is_running(host):
    assert host.process.filter(comm="cron")


def test_the_sudo_grant_is_there_exactly_when_auto_update_is_on(host, inventory_vars, app):
    grant = host.file(SUDOERS_GRANT)
    if not inventory_vars.get("server_maintanence_auto_update_enabled"):
        assert not grant.exists
        return
    assert (grant.is_file, grant.user, grant.group, grant.mode) == (True, "root", "root", 0o440)
    # sudo's own checker accepts the whole configuration, the grant included.
    checked = host.run("visudo -c")
    assert checked.rc == 0 and SUDOERS_GRANT in checked.stdout, checked.stdout + checked.stderr
    # What sudo itself says the app user may run: the app's update's one
    # command as root (read from the app's source), wherever sudo finds systemctl.
    (command,) = app.update_root_commands()
    arguments = " ".join(command[1:])
    listed = host.check_output("sudo -l -U %s", APP_USER)
    allowed = listed.split("may run the following commands on ", 1)[1].split("\n", 1)[1]
    commands = [line.strip() for line in allowed.splitlines() if line.strip()]
    assert commands == ["(root) NOPASSWD: /usr/bin/%s %s, /bin/%s %s" % (command[0], arguments, command[0], arguments)], \
        listed


def test_sudo_finds_systemctl_and_allows_the_apps_restart_only(host, inventory_vars, app):
    """sudo resolves `systemctl` through secure_path as the app's update runs
    it, and matches the result against the grant, on this Debian's layout
    (a split /usr on 11: /bin/systemctl). A host without systemd gets a
    stand-in where Debian's systemd package puts it, removed after."""
    (command,) = app.update_root_commands()
    program, verb, *units = command
    stand_in = host.run("command -v %s", program).rc != 0
    if stand_in:
        host.check_output("cp /bin/true /bin/%s", program)
    try:
        allowed = host.run("cd / && sudo -l -U %s %s" % (APP_USER, " ".join(command)))
        others = [host.run("cd / && sudo -l -U %s %s" % (APP_USER, " ".join(words))).rc
                  for words in ([program, "stop"] + units, [program, verb, units[0]], [program, verb] + units[::-1])]
    finally:
        if stand_in:
            host.run("rm -f /bin/%s", program)
    if inventory_vars.get("server_maintanence_auto_update_enabled"):
        assert allowed.rc == 0 and allowed.stdout.strip().endswith(" ".join(command[1:])), allowed.stdout
    else:
        assert allowed.rc == 1, allowed.stdout
    assert others == [1, 1, 1]
