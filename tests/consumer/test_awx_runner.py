"""The collection run as AWX and Automation Platform run a job: through
ansible-runner, on a private data directory laid out as AWX lays one out.

    <private_data_dir>/
      project/            the project: a playbook and collections/requirements.yml,
                          installed into project/collections as a project sync does
      inventory/hosts     two hosts, throwaway containers
      env/extravars       the job's extra variables
      env/envvars         where the project's collections are
      env/cmdline         a check job's `--check --diff --limit`
      artifacts/<ident>/  what the runner leaves of each job: status, rc, job_events/

Each job is judged from its artifacts only: status, rc and the job events.
"""

import json
import shutil

import pytest
import yaml

from conftest import BIN, REPO, clean_env, run, schedule_away_from_now, throwaway_container

HOSTS = ("awx1", "awx2")
PLAYBOOK = "site.yml"
LOGROTATE_POLICY = "/etc/logrotate.d/server-maintanence"
# What the role writes on a host: its files and directories, then the app user's crontab.
ROLE_PATHS = ("/etc/logrotate.d", "/etc/default/server-maintanence-job", "/usr/local/bin/server-maintanence-job",
              "/usr/local/lib", "/opt/server-monitoring", "/var/lib/server-maintanence")
SNAPSHOT = ("tar -cf - --numeric-owner --sort=name {0} 2>/dev/null | sha256sum; "
            "crontab -l -u www-data").format(" ".join(ROLE_PATHS))


@pytest.fixture(scope="module")
def containers():
    with throwaway_container() as first, throwaway_container() as second:
        yield dict(zip(HOSTS, (first, second)))


@pytest.fixture(scope="module")
def private_data_dir(tmp_path_factory, tarball, containers):
    root = tmp_path_factory.mktemp("awx-job")
    project = root / "project"
    (project / "collections").mkdir(parents=True)
    shutil.copy(str(tarball), str(project / tarball.name))
    (project / "collections" / "requirements.yml").write_text(
        "---\ncollections:\n  - name: {0}\n    type: file\n".format(tarball.name))
    (project / PLAYBOOK).write_text(
        "---\n"
        "- name: Provision the servers of server-monitoring\n"
        "  hosts: all\n"
        "  become: true\n"
        "  gather_facts: false\n"
        "  roles:\n"
        "    - role: server_maintanence.ops.server_maintanence\n")
    # What an AWX project sync does with the project's collections/requirements.yml.
    run([BIN / "ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml",
         "-p", str(project / "collections")], project, clean_env())
    assert (project / "collections" / "ansible_collections" / "server_maintanence" / "ops" / "MANIFEST.json").is_file()

    (root / "inventory").mkdir()
    (root / "inventory" / "hosts").write_text("".join(
        "{0} ansible_connection=community.docker.docker ansible_host={1}\n".format(host, name)
        for host, name in containers.items()))
    (root / "env").mkdir()
    (root / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": str(project / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "1",
    }))
    write_extravars(root, {})
    return root


@pytest.fixture(scope="module")
def quiet_schedule(containers):
    """The health check twelve hours away, so cron cannot fire it between two jobs."""
    return schedule_away_from_now(containers[HOSTS[0]])


def write_extravars(root, extra):
    extravars = {"server_maintanence_project_dir": "/opt/server-monitoring"}
    extravars.update(extra)
    (root / "env" / "extravars").write_text(yaml.safe_dump(extravars))


def runner_job(root, ident, cmdline=None):
    """One job through the ansible-runner CLI, as AWX hands a job to the runner:
    its status, rc and job events, read from artifacts/<ident>/."""
    cmdline_file = root / "env" / "cmdline"
    if cmdline:
        cmdline_file.write_text(cmdline)
    elif cmdline_file.exists():
        cmdline_file.unlink()
    run([BIN / "ansible-runner", "run", str(root), "-p", PLAYBOOK, "--ident", ident], root, clean_env(),
        check=False)
    artifacts = root / "artifacts" / ident
    events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"),
                                                              key=lambda path: int(path.name.split("-", 1)[0]))]
    assert events, "ansible-runner left no job events in {0}".format(artifacts)
    return {"status": (artifacts / "status").read_text().strip(), "rc": int((artifacts / "rc").read_text()),
            "events": events, "stdout": (artifacts / "stdout").read_text()}


def host_events(job, event, host=None):
    return [e for e in job["events"]
            if e["event"] == event and (host is None or e["event_data"].get("host") == host)]


def changed_events(job):
    return [e for e in job["events"] if e["event"].startswith("runner_on_")
            and (e["event_data"].get("res") or {}).get("changed")]


def snapshot(container):
    return run(["docker", "exec", container, "sh", "-c", SNAPSHOT], REPO).stdout


@pytest.fixture(scope="module")
def first_job(private_data_dir, quiet_schedule):
    write_extravars(private_data_dir, {"server_maintanence_health_check_schedule": quiet_schedule})
    return runner_job(private_data_dir, "run-1")


@pytest.fixture(scope="module")
def second_job(private_data_dir, first_job):
    assert first_job["rc"] == 0, first_job["stdout"][-6000:]
    return runner_job(private_data_dir, "run-2")


def test_run_job_succeeds_on_both_hosts(first_job):
    assert (first_job["status"], first_job["rc"]) == ("successful", 0), first_job["stdout"][-6000:]
    for host in HOSTS:
        assert host_events(first_job, "runner_on_ok", host), "no runner_on_ok for {0}".format(host)
    assert not host_events(first_job, "runner_on_failed"), first_job["stdout"][-6000:]
    assert {e["event_data"]["host"] for e in changed_events(first_job)} == set(HOSTS)


def test_second_run_job_changes_nothing(second_job):
    assert (second_job["status"], second_job["rc"]) == ("successful", 0), second_job["stdout"][-6000:]
    for host in HOSTS:
        assert host_events(second_job, "runner_on_ok", host), "no runner_on_ok for {0}".format(host)
    changed = changed_events(second_job)
    assert not changed, [(e["event_data"]["host"], e["event_data"].get("task")) for e in changed]


def test_check_job_reports_a_changed_extravar_and_changes_nothing(private_data_dir, containers, second_job,
                                                                  quiet_schedule):
    host = HOSTS[0]
    before = run(["docker", "exec", containers[host], "cat", LOGROTATE_POLICY], REPO).stdout
    assert "rotate 4" in before, before
    write_extravars(private_data_dir, {"server_maintanence_health_check_schedule": quiet_schedule,
                                       "server_maintanence_logrotate_rotate": 9})
    try:
        job = runner_job(private_data_dir, "check-1", cmdline="--check --diff --limit {0}".format(host))
    finally:
        write_extravars(private_data_dir, {"server_maintanence_health_check_schedule": quiet_schedule})
    assert (job["status"], job["rc"]) == ("successful", 0), job["stdout"][-6000:]
    changed = changed_events(job)
    assert {e["event_data"]["host"] for e in changed} == {host}, job["stdout"][-6000:]
    diffs = json.dumps([e["event_data"]["res"].get("diff") for e in changed])
    assert "rotate 9" in diffs and "rotate 4" in diffs, diffs[-3000:]
    assert not host_events(job, "runner_on_ok", HOSTS[1]), "the --limit let the other host in"
    after = run(["docker", "exec", containers[host], "cat", LOGROTATE_POLICY], REPO).stdout
    assert after == before


def test_bad_extravar_fails_naming_it_and_leaves_the_hosts_alone(private_data_dir, containers, second_job,
                                                                 quiet_schedule):
    before = {host: snapshot(name) for host, name in containers.items()}
    assert all("#Ansible: server-maintanence health check" in taken for taken in before.values()), before
    write_extravars(private_data_dir, {"server_maintanence_health_check_schedule": quiet_schedule,
                                       "server_maintanence_logrotate_rotate": "many"})
    try:
        job = runner_job(private_data_dir, "bad-extravar")
    finally:
        write_extravars(private_data_dir, {"server_maintanence_health_check_schedule": quiet_schedule})
    assert job["status"] == "failed" and job["rc"] != 0, job["stdout"][-6000:]
    for host in HOSTS:
        failed = host_events(job, "runner_on_failed", host)
        assert failed, "no runner_on_failed for {0}:\n{1}".format(host, job["stdout"][-6000:])
        messages = json.dumps([e["event_data"]["res"].get("msg") for e in failed])
        assert "server_maintanence_logrotate_rotate" in messages, messages
    assert {host: snapshot(name) for host, name in containers.items()} == before
