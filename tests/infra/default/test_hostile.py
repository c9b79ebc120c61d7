"""A hostile app user: between two runs of the role (or of status.yml),
www-data plants what an intruder with its account would, and root's next
ordinary run must neither act through it nor leak what lies behind it.

Every target is a root-owned path outside the app's reach; each test checks
it is unchanged (owner, mode, content) afterwards.
"""

import hashlib
import shlex
import time

import pytest

from conftest import APP_DIR, APP_USER, LOGS, STATE_DIR, cron_frozen, output, recap, run_job, run_site, run_status

HEALTH = "server-maintanence health check"
UPDATE = "server-maintanence auto-update"
ROOT_DIR = "/etc/sm-root-only"
SECRET = "planted-root-secret-5f1c"
SECRET_FILE = ROOT_DIR + "/secret"
VERBOSE = {"ANSIBLE_VERBOSITY": "2"}
ENV_FILE = "/etc/server-monitoring/env"  # the stand-in app reads DJANGO_SECRET_KEY there


@pytest.fixture
def root_target(host):
    """A root-only directory holding a root-only secret, and its description."""
    host.check_output("install -d -o root -g root -m 0700 %s && printf %%s %s > %s && chmod 0600 %s",
                      ROOT_DIR, SECRET, SECRET_FILE, SECRET_FILE)
    described = describe(host)
    yield described
    assert describe(host) == described
    host.check_output("rm -rf %s", ROOT_DIR)


def describe(host):
    return host.check_output("stat -c '%%n %%U:%%G %%a %%F' %s %s; sha256sum %s", ROOT_DIR, SECRET_FILE, SECRET_FILE)


def as_app(host, command, *args):
    host.check_output("runuser -u %s -- sh -c %s" % (APP_USER, shlex.quote(command % args)))


def assert_refused(result, *fragments):
    text = output(result)
    assert result.returncode != 0, text[-3000:]
    for fragment in fragments:
        assert fragment in text, text[-3000:]
    assert recap(result.stdout)["changed"] == 0, text[-3000:]
    assert SECRET not in text


@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_logs_dir_swapped_for_a_link_is_refused_and_its_target_untouched(host, root_target, state):
    with cron_frozen(host):
        as_app(host, "cd %s && mv logs logs.old && ln -s %s logs", APP_DIR, ROOT_DIR)
        try:
            result = run_site(host, {"server_maintanence_state": state, "server_maintanence_purge_logs": True},
                              env=VERBOSE)
        finally:
            as_app(host, "cd %s && rm logs && mv logs.old logs", APP_DIR)
    assert_refused(result, "server_maintanence_logs_dir %s is a symbolic link, not a directory" % LOGS)


def test_a_link_planted_above_the_logs_dir_is_refused(host, root_target):
    deeper = APP_DIR + "/var/logs"
    with cron_frozen(host):
        as_app(host, "ln -s %s %s/var", ROOT_DIR, APP_DIR)
        try:
            result = run_site(host, {"server_maintanence_logs_dir": deeper}, env=VERBOSE)
        finally:
            as_app(host, "rm %s/var", APP_DIR)
    assert_refused(result, "server_maintanence_logs_dir %s lies under %s/var, a symbolic link" % (deeper, APP_DIR))


def test_a_lock_file_of_an_older_release_planted_as_a_link_is_removed_not_followed(host, root_target):
    """The role removes the locks older releases left in logs/: a link there
    is unlinked, and a directory planted under such a name is left alone."""
    with cron_frozen(host):
        as_app(host, "ln -s %s %s/health.lock && mkdir %s/update.lock && touch %s/update.lock/keep",
               SECRET_FILE, LOGS, LOGS, LOGS)
        try:
            result = run_site(host, env=VERBOSE)
            assert result.returncode == 0, output(result)[-3000:]
            assert not host.file(LOGS + "/health.lock").exists
            assert host.file(LOGS + "/update.lock/keep").exists
            assert SECRET not in output(result)
        finally:
            host.check_output("rm -rf %s/health.lock %s/update.lock", LOGS, LOGS)


def test_an_app_writable_env_file_planted_as_a_link_is_refused(host, root_target):
    env_file = APP_DIR + "/.env"
    with cron_frozen(host):
        as_app(host, "ln -s %s %s", SECRET_FILE, env_file)
        try:
            result = run_site(host, {"server_maintanence_env_file": env_file,
                                     "server_maintanence_manage_env_file": True,
                                     "server_maintanence_cluster_role": "hub"}, env=VERBOSE)
        finally:
            host.check_output("rm -f %s", env_file)
    assert_refused(result, "server_maintanence_env_file %s is a symbolic link, not a regular file" % env_file)


@pytest.fixture
def planted_records(host):
    """cron frozen; after the test, fresh records from real runs."""
    with cron_frozen(host):
        yield
        host.check_output("rm -rf %s/health.state %s/update.state", STATE_DIR, STATE_DIR)
        for name in (HEALTH, UPDATE):
            assert run_job(host, name).rc == 0


# A read that blocks on the FIFO never returns (run_site stops it at 600 s);
# a status run that does not block takes seconds, and a loaded machine
# minutes at most: the bound tells the two apart without racing the load.
NO_HANG = 300


def timed_status(host):
    started = time.monotonic()
    result = run_status(host, env=VERBOSE)
    return result, time.monotonic() - started


def test_status_neither_follows_a_linked_record_nor_waits_on_a_fifo(host, root_target, planted_records):
    as_app(host, "cd %s && rm -f health.state update.state && ln -s %s health.state && mkfifo update.state",
           STATE_DIR, SECRET_FILE)

    result, seconds = timed_status(host)

    assert seconds < NO_HANG
    assert_refused(
        result,
        "server-maintanence health check: its record %s/health.state is not a regular file" % STATE_DIR,
        "server-maintanence auto-update: its record %s/update.state is not a regular file" % STATE_DIR)


@pytest.mark.parametrize("forged, fragment", [
    ("exit_code=x", "has a malformed exit_code"),
    ("exit_code=0\nsecret=" + SECRET, "has a line that is not one of its fields"),
])
def test_status_fails_a_forged_record_with_a_clear_line(host, planted_records, forged, fragment):
    record = host.file(STATE_DIR + "/health.state").content_string
    as_app(host, "printf %%s %s > %s/health.state", shlex.quote(record.replace("exit_code=0", forged)), STATE_DIR)

    result, seconds = timed_status(host)

    assert seconds < NO_HANG
    assert_refused(result, "server-maintanence health check: its record %s/health.state %s" % (STATE_DIR, fragment))
    assert "Traceback" not in output(result)


def test_no_secret_nor_its_digest_reaches_the_output(host):
    """At -vv, converging and in --check --diff, the hub key, its digest and
    the env file's digest never show; nor does a key the operator wrote."""
    key = "hub-key-0d9b7c2e41"
    operator_secret = "SOME_OTHER_SECRET=operator-secret-77aa"
    host.check_output("cp -p %s %s.saved && printf '%%s\\n' %s >> %s", ENV_FILE, ENV_FILE, shlex.quote(operator_secret),
                      ENV_FILE)
    agent = {"server_maintanence_cluster_role": "agent", "server_maintanence_hub_url": "https://hub.example.com",
             "server_maintanence_manage_env_file": True, "server_maintanence_hub_api_key": key}
    try:
        runs = [run_site(host, agent, env=VERBOSE), run_site(host, dict(agent, server_maintanence_hub_api_key=key + "2"),
                                                              check=True, diff=True, env=VERBOSE)]
        env_file = host.file(ENV_FILE).content_string.encode()
        forbidden = [digest(value).hexdigest() for value in (key.encode(), (key + "2").encode(), env_file)
                     for digest in (hashlib.sha1, hashlib.sha256)] + [key, "operator-secret-77aa"]
        assert runs[0].returncode == 0, output(runs[0])[-3000:]
        for result in runs:
            text = output(result)
            assert [value for value in forbidden if value in text] == []
    finally:
        host.check_output("mv %s.saved %s", ENV_FILE, ENV_FILE)
        restored = run_site(host)
        assert restored.returncode == 0, output(restored)[-3000:]


def test_uninstall_keeps_a_shared_state_dir_and_another_programs_file(host):
    shared = "/srv/shared-state"
    host.check_output("install -d -m 0755 %s && echo theirs > %s/other.txt", shared, shared)
    try:
        installed = run_site(host, {"server_maintanence_state_dir": shared})
        assert installed.returncode == 0, output(installed)[-3000:]
        with cron_frozen(host):
            assert run_job(host, HEALTH).rc == 0
            assert host.file(shared + "/health.state").exists
            removed = run_site(host, {"server_maintanence_state_dir": shared, "server_maintanence_state": "absent"})
        assert removed.returncode == 0, output(removed)[-3000:]
        assert host.file(shared + "/other.txt").content_string == "theirs\n"
        assert host.check_output("ls -A %s", shared) == "other.txt"
    finally:
        host.check_output("rm -rf %s", shared)
        restored = run_site(host)
        assert restored.returncode == 0, output(restored)[-3000:]
