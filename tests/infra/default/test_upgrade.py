"""An upgrade: a host converged by the release before the refactor, its jobs
run, then converged by this checkout, is put right in one run and loses
nothing. It runs in a container of its own, so the scenario's host is
untouched."""

import json
import subprocess

import pytest
import testinfra

from conftest import (JOB_LOGS, LOGROTATE_CONFIG, LOGS, REPO, SITE, STATE_DIR, STATUS, cron_frozen,
                      crontab_entries, crontab_lines, installer_lines, module_calls, new_container, recap,
                      run_as_app, run_job, run_site, status_table, uv_on, write_crontab)

# The release before the hostile-app-user, env-file and crontab-module work
# (2026-11-26); what it needs of this repository to run as the collection.
OLD_RELEASE = "3da08c7"
OLD_PATHS = ["galaxy.yml", "meta", "playbooks", "plugins", "roles"]
COLLECTION = "ansible_collections/server_maintanence/ops"
PREPARE = REPO / "molecule" / "resources" / "prepare.yml"
ENV_FILE = "/etc/server-monitoring/env"
METRICS_LINK = "/var/lib/prometheus/node-exporter/server_maintanence.prom"
# An agent with every job, the env file and metrics: all the release before
# could leave on a host.
INVENTORY = {
    "ansible_connection": "community.docker.docker",
    "server_maintanence_health_check_schedule": "* * * * *",
    "server_maintanence_auto_update_enabled": True,
    "server_maintanence_inbox_cron_enabled": True,
    "server_maintanence_cluster_role": "agent",
    "server_maintanence_hub_url": "http://127.0.0.1:8000",
    "server_maintanence_manage_env_file": True,
    "server_maintanence_hub_api_key": "upgrade-test-not-a-secret",
    "server_maintanence_metrics_dir": METRICS_LINK.rsplit("/", 1)[0],
}
# Each entry: its job's record name and what its command runs.
JOBS = {
    "server-maintanence health check": ("health", "manage.py run_pipeline --checks-only"),
    "server-maintanence cluster push": ("push", "manage.py push_to_hub"),
    "server-maintanence auto-update": ("update", "bin/update.sh"),
    "server-maintanence inbox drain": ("inbox", "manage.py process_inbox"),
}
# {path: content} of every job record and every file in the logs directory, in one call.
KEPT = ("python3 -c 'import glob, json, os; print(json.dumps({p: open(p).read() for p in "
        "glob.glob(\"%s/*.state\") + glob.glob(\"%s/*\") if os.path.isfile(p)}))'" % (STATE_DIR, LOGS))


@pytest.fixture
def old_release(tmp_path):
    """The release before, laid out as a collection under tmp_path. A clone
    without the commit (a shallow one) fails the test: it never skips."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", OLD_RELEASE] + OLD_PATHS,
                             capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.fail("the upgrade test needs commit %s of this repository, the release before, and %s has "
                    "not got it (a shallow clone? git fetch --unshallow): %s"
                    % (OLD_RELEASE, REPO, archive.stderr.decode().strip()), pytrace=False)
    (tmp_path / COLLECTION).mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(tmp_path / COLLECTION)], input=archive.stdout, check=True)
    return tmp_path


@pytest.fixture
def upgrade_host():
    """A fresh container with the stand-in app, as the scenario's prepare puts it there."""
    with new_container("sm-upgrade-") as name:
        host = testinfra.get_host("docker://" + name)
        prepared = play(host, PREPARE)
        assert prepared.returncode == 0, prepared.stdout[-3000:]
        yield host


def name_of(host):
    return host.backend.name


def play(host, playbook=SITE, env=None):
    """Run a playbook against the container with INVENTORY's variables."""
    return run_site(host, INVENTORY, inventory=name_of(host) + ",", limit=name_of(host), playbook=playbook, env=env)


def kept(host):
    return json.loads(host.check_output(KEPT))


def record(text):
    return dict(line.split("=", 1) for line in text.splitlines())


def owner_and_mode(host, path):
    """Of the path itself, a link not followed."""
    return host.check_output("stat -c '%%U %%G %%a' %s", path)


def assert_each_job_once(host, installer):
    """Each job runs from exactly one line, its entry's; no installer line is left."""
    lines = crontab_lines(host)
    commands = [line for line in lines if line and not line.startswith("#")]
    assert {entry: sum(runs in line for line in commands) for entry, (_, runs) in JOBS.items()} \
        == dict.fromkeys(JOBS, 1), lines
    assert sorted(line for line in lines if line.startswith("#Ansible: ")) \
        == sorted("#Ansible: " + entry for entry in JOBS), lines
    assert all(JOBS[entry][1] in line for entry, line in crontab_entries(host).items()), lines
    assert not set(lines) & set(installer), lines


def test_an_upgrade_from_the_release_before_is_put_right_in_one_run_and_loses_nothing(
        old_release, upgrade_host, app):
    host, name = upgrade_host, name_of(upgrade_host)
    old = play(host, old_release / COLLECTION / "playbooks" / "site.yml",
              env={"ANSIBLE_COLLECTIONS_PATH": str(old_release)})
    assert old.returncode == 0, old.stdout[-3000:]
    # How the release before made its state directory: also proof that it ran, not this checkout.
    assert owner_and_mode(host, STATE_DIR) == "www-data www-data 755"

    with cron_frozen(host):
        # The jobs write their records and logs, the app its own logs; the
        # app's installer is run again (it adds its lines) and an operator
        # loosens the logrotate policy: the upgrade meets them all.
        for entry in JOBS:
            assert run_job(host, entry).rc == 0, entry
        for log in ("django.log", "update-history.jsonl"):
            run_as_app(host, "echo written-before-the-upgrade >> %s/%s" % (LOGS, log))
        # INVENTORY keeps every job the installer writes (health, auto-update, and push on an
        # agent): each of its lines is replaced by the role's entry, none dropped.
        installer = installer_lines(app, uv_on(host, app))
        write_crontab(host, crontab_lines(host) + installer)
        host.check_output("chmod 0666 %s", LOGROTATE_CONFIG)
        before, env_file = kept(host), host.file(ENV_FILE).content_string
        assert len(before) == len(JOBS) * 2 + 2, sorted(before)

        upgraded = play(host)
        assert upgraded.returncode == 0, upgraded.stdout[-3000:]
        assert recap(upgraded.stdout)["changed"] >= 1
        assert_each_job_once(host, installer)
        said = " ".join(upgraded.stdout.split()).replace("''", "'")  # the YAML result format doubles a '
        assert ("Taking over %d line(s) that bin/install/cron.sh wrote in www-data's crontab: auto-update, cluster "
                "push, health check replaced by the role's entries." % len(installer)) in said
        assert owner_and_mode(host, LOGROTATE_CONFIG) == "root root 644"
        assert kept(host) == before
        assert host.file(ENV_FILE).content_string == env_file
        # What changes for an upgrading user (the CHANGELOG's "Upgrading").
        assert owner_and_mode(host, STATE_DIR) == "root www-data 775"
        assert owner_and_mode(host, METRICS_LINK).startswith("root root ")
        assert host.file(METRICS_LINK).linked_to == STATE_DIR + "/server_maintanence.prom"

        # The status reads the records the release before wrote.
        status = play(host, STATUS)
        assert status.returncode == 0, status.stdout[-3000:]
        row = status_table(status.stdout)[name]
        assert [row[column][-2:] for column in ("HEALTH", "PUSH", "UPDATE", "INBOX")] == ["/0"] * 4, row

        # Nothing was left for a second run: only the engine's one call runs on the host.
        again = play(host, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
        assert again.returncode == 0, again.stdout[-3000:]
        report = json.loads(again.stdout)
        assert report["stats"][name]["changed"] == 0
        assert module_calls(report, name) == ["server_maintanence.ops.maintenance"]

        # The jobs run on their old records and logs, and write the metrics the link serves.
        for entry in JOBS:
            assert run_job(host, entry).rc == 0, entry
        after = kept(host)
        for entry, (job, _) in JOBS.items():
            path, log = "%s/%s.state" % (STATE_DIR, job), "%s/%s" % (LOGS, JOB_LOGS[entry])
            assert record(after[path])["outcome"] == "success"
            assert float(record(after[path])["start"]) > float(record(before[path])["start"])
            assert after[log].startswith(before[log]) and len(after[log]) > len(before[log]), log
        # The env file still reaches the jobs (the stand-in's secret key comes from it).
        assert '"secret_key_source": "env"' in after[LOGS + "/cron.log"][len(before[LOGS + "/cron.log"]):]
        for log in ("django.log", "update-history.jsonl"):
            assert after["%s/%s" % (LOGS, log)] == before["%s/%s" % (LOGS, log)]
        assert 'server_maintanence_job_last_exit_code{name="health"} 0' in host.file(METRICS_LINK).content_string
