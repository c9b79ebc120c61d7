"""The role against the real app: a hub and an agent deployed as the app's docs say.

Each test reads the hosts (crontab, logs, the app's own commands and HTTP
answers), never the play's output; what the app accepts comes from its source.
"""

import hashlib
import json
import os
import re
import shlex
import subprocess
import time
import types

import pytest

from conftest import (APP_DIR, APP_UNITS, APP_USER, LOGROTATE_CONFIG, LOGS, STATE_DIR, crontab_entries, crontab_lines,
                      cron_frozen, hostname, job_command, job_record, logrotate_held, molecule_host, run_as_app,
                      run_site, run_status, status_table, uv_on)

HUB, AGENT = "sm-up-hub", "sm-up-agent"
HUB_URL = "http://127.0.0.1:18431"
SOCKET = "/run/server-monitoring/gunicorn.sock"
HEALTH, PUSH, INBOX = ("server-maintanence health check", "server-maintanence cluster push",
                       "server-maintanence inbox drain")


@pytest.fixture(scope="module")
def hub():
    return molecule_host(HUB)


@pytest.fixture(scope="module")
def agent():
    return molecule_host(AGENT)


def env_file(app):
    (path,) = {unit["EnvironmentFile"].lstrip("-") for unit in app.units().values()}
    return path


def manage(host, app, args):
    """Run manage.py as the app user with its configuration read the way the
    app's units read it (systemd's EnvironmentFile=: prepare.yml pasted a
    secret key that sh cannot source); a oneshot, which systemd-run waits for
    (its exit status is the command's), its output kept in files. Returns rc,
    stdout and stderr."""
    out, err = "/run/sm-manage.out", "/run/sm-manage.err"
    host.run("rm -f %s %s", out, err)
    result = host.run("systemd-run --quiet --collect -p Type=oneshot -p User=%s -p WorkingDirectory=%s "
                      "-p EnvironmentFile=%s -p StandardOutput=file:%s -p StandardError=file:%s "
                      "%s run python manage.py %s" % (APP_USER, APP_DIR, env_file(app), out, err,
                                                      uv_on(host, app), args))
    output = types.SimpleNamespace(rc=result.rc, stdout=host.run("cat %s", out).stdout,
                                   stderr=result.stderr + host.run("cat %s", err).stdout)
    host.run("rm -f %s %s", out, err)
    return output


def appended(host, path, before):
    return host.file(path).content_string[len(before):] if host.file(path).exists else ""


def log_text(host, name):
    return host.run("cat %s/%s 2>/dev/null", LOGS, name).stdout


def json_documents(text):
    """Every JSON object printed in a log (the app indents its output)."""
    decoder, found, index = json.JSONDecoder(), [], text.find("{")
    while index != -1:
        try:
            document, end = decoder.raw_decode(text, index)
            found.append(document)
            index = text.find("{", end)
        except ValueError:
            index = text.find("{", index + 1)
    return found


JOB_IDS = {HEALTH: "health", PUSH: "push", INBOX: "inbox"}


def run_job(host, name):
    """Run an installed line as cron would, once any run cron started is over;
    the job runner's exit status is the app command's. Call it with cron
    frozen (cron_frozen): cron could start the job again between the wait
    and the run, and this run would exit 75 or its log hold two runs."""
    lock = "%s/%s.lock" % (STATE_DIR, JOB_IDS[name])
    host.run("[ ! -e {0} ] || timeout 300 flock {0} true".format(lock))
    return run_as_app(host, job_command(crontab_entries(host)[name]))


def test_cron_itself_fires_the_health_check_on_both_hosts(hub, agent):
    hosts = {HUB: hub, AGENT: agent}
    counts = {name: len(json_documents(log_text(h, "cron.log"))) for name, h in hosts.items()}
    deadline, fired = time.monotonic() + 75, set()
    while time.monotonic() < deadline and fired != set(hosts):
        time.sleep(3)
        fired = {name for name, h in hosts.items()
                 if any("run_id" in doc for doc in json_documents(log_text(h, "cron.log"))[counts[name]:])}
    assert fired == set(hosts), "cron ran no health check within 75 s on %s" % (set(hosts) - fired)


def test_the_image_started_with_the_installers_lines(app):
    """The precondition of the takeover: the app's own installer wrote lines."""
    listing = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "crontab", os.environ["SM_UPSTREAM_IMAGE"], "-l", "-u", APP_USER],
        capture_output=True, text=True, check=True).stdout
    tagged = [line for line in listing.splitlines() if re.search(r"# server-maintanence [a-z -]+$", line)]
    assert {line.rsplit("# server-maintanence ", 1)[1] for line in tagged} >= {"health check", "auto-update"}


def test_installer_lines_are_taken_over_and_each_job_is_installed_once(host, app):
    jobs = [line for line in crontab_lines(host) if line and not line.startswith("#")]
    assert not [line for line in jobs for tag in app.installer_lines() if line.endswith("# server-maintanence " + tag)]
    assert sum("run_pipeline --checks-only" in line for line in jobs) == 1
    assert sum("update.sh" in line for line in jobs) == 1  # the installer's line taken over
    assert sum("push_to_hub" in line for line in jobs) == (1 if hostname(host) == AGENT else 0)


def test_the_apps_check_finds_no_crontab_problem(host, app):
    result = manage(host, app, "check")
    assert result.rc == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert not [warning for warning in app.crontab_warning_ids() if warning in output], output


def test_the_apps_check_does_read_the_crontab(agent, app):
    """Without this, the check above could pass by not running at all."""
    with cron_frozen(agent):
        saved = agent.check_output("crontab -l -u %s", APP_USER)
        agent.check_output("echo '# nothing' | crontab -u %s -", APP_USER)
        try:
            output = manage(agent, app, "check")
        finally:
            agent.check_output("printf '%%s\\n' %s | crontab -u %s -" % (shlex.quote(saved), APP_USER))
    assert [warning for warning in app.crontab_warning_ids() if warning in output.stdout + output.stderr]


def test_the_health_line_appends_the_apps_pipeline_result(host, cron_paused):
    before = log_text(host, "cron.log")
    ran = run_job(host, HEALTH)
    assert ran.rc == 0, (ran.stderr, appended(host, LOGS + "/cron.log", before)[-2000:])
    documents = [doc for doc in json_documents(appended(host, LOGS + "/cron.log", before)) if "run_id" in doc]
    assert len(documents) == 1 and documents[0]["status"], appended(host, LOGS + "/cron.log", before)[-2000:]


def pasted_key():
    """The get_random_secret_key()-style key prepare.yml pasted, unquoted, into
    both hosts' env file."""
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "django-secret-key")) as handle:
        return handle.read()


KEY_PROBE = ("import hashlib; from django.conf import settings; "
             "print('secret-key-sha256=' + hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest())")


def test_django_loads_the_pasted_key_inside_a_job(host, app):
    """The key holds $ & ( ): sourced by sh it broke every job. Through the
    runner, as cron calls it, Django's SECRET_KEY is the key as pasted."""
    key = pasted_key()
    assert set("$&()") <= set(key) and len(key) == 50
    assert "DJANGO_SECRET_KEY=%s\n" % key in host.file(env_file(app)).content_string  # unquoted
    runner = job_command(crontab_entries(host)[HEALTH]).split()[0]
    command = " ".join(shlex.quote(word) for word in [
        runner, "--log", "keycheck.log", "keycheck", "120", uv_on(host, app), "run", "python", "manage.py",
        "shell", "-c", KEY_PROBE])
    try:
        result = run_as_app(host, command)
        log = log_text(host, "keycheck.log")
        assert result.rc == 0, (result.stderr, log[-2000:])
        found = re.findall(r"secret-key-sha256=([0-9a-f]{64})", log)
        assert found == [hashlib.sha256(key.encode()).hexdigest()], log[-2000:]
        assert job_record(host, "keycheck")["outcome"] == "success"
    finally:
        host.run("rm -f %s/keycheck.log %s/keycheck.state %s/keycheck.lock", LOGS, STATE_DIR, STATE_DIR)


def test_the_units_run_on_the_pasted_key(hub, app):
    environment = running_environment(hub, "server-monitoring.service")
    assert environment["DJANGO_SECRET_KEY"] == pasted_key()


def push(agent):
    """Run the agent's push line; what it appended to push.log."""
    before = log_text(agent, "push.log")
    run_job(agent, PUSH)
    return appended(agent, LOGS + "/push.log", before)


def running_environment(host, unit):
    pid = host.check_output("systemctl show -p MainPID --value %s", unit)
    # As the unit's user: root in a container lacks the ptrace right to read it.
    text = host.check_output("runuser -u %s -- cat /proc/%s/environ | tr '\\0' '\\n'", APP_USER, pid)
    return dict(item.split("=", 1) for item in text.split("\n") if "=" in item)


def test_the_running_hub_got_the_roles_api_key_auth_value(hub, app):
    """The role restarts the units after changing their env file: the value in
    the gunicorn master's environment is the role's, read by the app as on."""
    environment = running_environment(hub, "server-monitoring.service")
    assert "API_KEY_AUTH_ENABLED" in environment
    assert app.setting_from_env("API_KEY_AUTH_ENABLED", environment["API_KEY_AUTH_ENABLED"]) is True


def test_the_agents_push_is_accepted_by_the_hub_with_api_key_auth_on(hub, agent, app):
    values = dict(line.split("=", 1) for line in hub.file(env_file(app)).content_string.splitlines() if "=" in line)
    assert app.setting_from_env("API_KEY_AUTH_ENABLED", values.get("API_KEY_AUTH_ENABLED")) is True
    with cron_frozen(agent):
        log = push(agent)
    assert "push OK hub=%s" % HUB_URL in log, log


def test_a_wrong_key_is_refused_with_401(hub):
    status = hub.check_output(
        "curl -s -o /dev/null -w '%%{http_code}' -X POST -H 'Authorization: Bearer wrong-key-0000' "
        "-H 'Content-Type: application/json' -d '{}' %s/alerts/webhook/cluster/", HUB_URL)
    assert status == "401"


@pytest.fixture
def cron_frozen_agent(agent):
    """cron frozen on the agent: a scheduled push between the test's runs
    would take the lock or overwrite the record the test reads."""
    with cron_frozen(agent):
        yield


def test_an_agent_given_a_wrong_key_by_the_role_is_refused(agent, cron_frozen_agent):
    wrong = run_site(agent, {"server_maintanence_hub_api_key": "wrong-key-0000"})
    assert wrong.returncode == 0, wrong.stdout[-3000:]
    try:
        log = push(agent)
        assert re.search(r"push FAILED hub=\S+ HTTP 401", log), log
        # The app's command exits non-zero, and the runner records it.
        failed = job_record(agent, "push")
        assert (failed["outcome"], failed["exit_code"]) == ("failure", "1"), failed
    finally:
        restored = run_site(agent)
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert "push OK" in push(agent)
    fixed = job_record(agent, "push")
    assert (fixed["outcome"], fixed["exit_code"], fixed["last_success"]) == ("success", "0", fixed["end"])


def pending(hub, app):
    output = manage(hub, app, "doctor").stdout
    return int(re.search(r"Inbox: (\d+) pending", output).group(1))


def inbox_pass(hub):
    """Run the hub's inbox line once; how many runs it says it processed."""
    before = log_text(hub, "inbox.log")
    run_job(hub, INBOX)
    processed = re.findall(r"Processed (\d+) run", appended(hub, LOGS + "/inbox.log", before))
    assert processed, "the inbox line logged no 'Processed N run(s)'"
    return int(processed[-1])


def test_the_inbox_line_processes_a_pushed_run(hub, agent, app):
    # Both crons frozen: a scheduled push landing mid-test would leave a run pending.
    with cron_frozen(agent), cron_frozen(hub):
        hub.check_output("systemctl stop server-monitoring-inbox.service")
        try:
            log = push(agent)
            assert "push OK" in log, log
            assert pending(hub, app) >= 1
            assert inbox_pass(hub) >= 1
            # A drained push enqueues one downstream run per incident its checks
            # opened (a loaded CI host warns), left PENDING for the next pass
            # (apps/orchestration/orchestrator.py): the line's next run drains them.
            left = pending(hub, app)
            assert inbox_pass(hub) == left
            assert pending(hub, app) == 0
        finally:
            hub.check_output("systemctl start server-monitoring-inbox.service")


LOAD = r'''
i=0
while [ ! -e /tmp/load.stop ]; do
  i=$((i + 1))
  curl -s -o /dev/null --unix-socket {socket} http://localhost/{tag}-$i || echo "failed $i" >> /tmp/load.errors
  echo $i > /tmp/load.count
  sleep 0.02
done
touch /tmp/load.done
'''


def held_generations(hub):
    """django.log generations (or deleted files) some process still has open."""
    return hub.check_output(
        "for fd in /proc/[0-9]*/fd/*; do readlink $fd; done 2>/dev/null | grep 'django.log.' || true")


@pytest.fixture
def hub_logrotate_held(hub):
    """No logrotate but the test's on the hub (cron's, logrotate.timer's):
    a second one on the state file fails the test's run."""
    with logrotate_held(hub):
        yield


def test_forced_rotations_under_gunicorn_keep_every_request_line_once(hub, hub_logrotate_held):
    hub.check_output("rm -f /tmp/load.* %s/django.log.*", LOGS)
    tag = "rotation-probe-%d" % time.time()  # lines of an earlier run never count
    hub.check_output("cat > /tmp/load.sh <<'EOF'\n%s\nEOF" % LOAD.format(socket=SOCKET, tag=tag))
    # A transient unit, since a background child of `docker exec` does not outlive
    # it; a script file, since systemd would expand the $ of an inline one.
    hub.check_output("systemd-run --unit=sm-load sh /tmp/load.sh")
    try:
        time.sleep(3)
        for _ in range(2):
            result = hub.run("logrotate -f %s 2>&1", LOGROTATE_CONFIG)
            assert result.rc == 0 and "error:" not in result.stdout, result.stdout
            # gunicorn 25 may take its whole 30 s graceful timeout per reload.
            time.sleep(35)
    finally:
        hub.check_output("touch /tmp/load.stop")
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not (hub.file("/tmp/load.done").exists and not held_generations(hub)):
        time.sleep(1)
    assert held_generations(hub) == "", "a process still writes into a rotated generation"
    assert not hub.file("/tmp/load.errors").exists, hub.file("/tmp/load.errors").content_string
    sent = int(hub.file("/tmp/load.count").content_string)
    found = {}
    for generation in ("django.log.2.gz", "django.log.1", "django.log"):
        text = hub.check_output("zcat -f %s/%s", LOGS, generation)
        found[generation] = [int(n) for n in re.findall(r"Not Found: /%s-(\d+)\b" % tag, text)]
    # Requests were served before, between and after the rotations...
    assert all(found.values()), {name: len(numbers) for name, numbers in found.items()}
    # ...and each one's line is in exactly one generation.
    assert sorted(sum(found.values(), [])) == list(range(1, sent + 1)), "request lines lost or duplicated"

    # Every worker now writes into the fresh file.
    hub.check_output("for n in $(seq 1 30); do curl -s -o /dev/null --unix-socket %s "
                     "http://localhost/%s-after-$n; done", SOCKET, tag)
    fresh = hub.file(LOGS + "/django.log").content_string
    assert sorted(int(n) for n in re.findall(r"Not Found: /%s-after-(\d+)\b" % tag, fresh)) == list(range(1, 31))
    for unit in APP_UNITS:
        assert hub.service(unit).is_running, unit


def test_status_reports_the_real_apps_jobs_as_run(hub, agent):
    """Each job run once through its installed line; playbooks/status.yml
    then shows each one's success and passes both hosts. Both crons frozen:
    a scheduled run between the wait for its lock and the test's own takes
    the lock (exit 75)."""
    with cron_frozen(hub), cron_frozen(agent):
        for host, names in ((hub, (HEALTH, INBOX)), (agent, (HEALTH, PUSH))):
            for name in names:
                assert run_job(host, name).rc == 0, name
        result = run_status(hub, limit="all")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    rows = status_table(result.stdout)
    assert (rows[HUB]["ROLE"], rows[AGENT]["ROLE"]) == ("hub", "agent")
    for host_name, job in ((HUB, "HEALTH"), (HUB, "INBOX"), (AGENT, "HEALTH"), (AGENT, "PUSH")):
        assert re.fullmatch(r"\d+[sm]/0", rows[host_name][job]), rows
    assert rows[HUB]["PUSH"] == "-"
    assert {rows[HUB]["STATUS"], rows[AGENT]["STATUS"]} == {"ok"}
