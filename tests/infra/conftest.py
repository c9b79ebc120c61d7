"""Fixtures shared by every molecule scenario's testinfra tests.

The expectations here are the role's documented interface (README and
docs/), written out independently of the role's templates: a test that
re-rendered the role's own template would prove nothing.
"""

import base64
import contextlib
import importlib.util
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time
import uuid

import pytest
import testinfra

REPO = pathlib.Path(__file__).resolve().parents[2]
SITE = REPO / "playbooks" / "site.yml"
STATUS = REPO / "playbooks" / "status.yml"
# The app's source is the judge of what the role relies on.
sys.path.insert(0, str(REPO / "tests" / "unit" / "app_contract"))
import upstream_app  # noqa: E402  pylint: disable=wrong-import-position

APP_DIR = "/opt/server-monitoring"
LOGS = APP_DIR + "/logs"
APP_USER = "www-data"
LOGROTATE_CONFIG = "/etc/logrotate.d/server-maintanence"
RUNNER = "/usr/local/bin/server-maintanence-job"
RUNNER_CONFIG = "/etc/default/server-maintanence-job"
STATE_DIR = "/var/lib/server-maintanence"
# The sudoers drop-in granting the app user its update's restart (auto-update on).
SUDOERS_GRANT = "/etc/sudoers.d/server-maintanence"
# cron's environment: no login shell, a minimal PATH.
CRON_ENV = "env -i PATH=/usr/bin:/bin SHELL=/bin/sh LOGNAME={0} HOME=/var/www SM_VIA=test".format(APP_USER)

JOB_LOGS = {
    "server-maintanence health check": "cron.log",
    "server-maintanence cluster push": "push.log",
    "server-maintanence auto-update": "update.log",
    "server-maintanence inbox drain": "inbox.log",
}


@pytest.fixture(scope="session")
def app():
    """Facts read from the pinned app's source."""
    return upstream_app.UpstreamApp(upstream_app.tarball())


def molecule_host(name):
    """A testinfra host for one platform of the running scenario."""
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (
        name, os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])))


def uv_on(host, app):
    """The uv the app's own installer would pick on this host: the first
    executable file in its search order, the app user's home first."""
    home = host.user(APP_USER).home
    for candidate in app.uv_candidates():
        path = home + candidate[1:] if candidate.startswith("~/") else candidate
        if host.run("test -f %s -a -x %s", path, path).rc == 0:
            return path
    raise AssertionError("no uv where the app looks: %s" % app.uv_candidates())


@pytest.fixture
def inventory_vars(host):
    return host.ansible.get_variables()


@pytest.fixture
def cluster_role(inventory_vars):
    """The role docs/cluster.md promises: an explicit variable, else the groups."""
    if "server_maintanence_cluster_role" in inventory_vars:
        return inventory_vars["server_maintanence_cluster_role"]
    groups = set(inventory_vars.get("group_names", []))
    if {"hubs", "agents"} <= groups:
        return "both"
    return "hub" if "hubs" in groups else "agent" if "agents" in groups else "standalone"


@pytest.fixture
def expected_entries(inventory_vars, cluster_role):
    """Names of the cron entries this host's inventory asks for."""
    names = {"server-maintanence health check"}
    if cluster_role in ("agent", "both"):
        names.add("server-maintanence cluster push")
    if inventory_vars.get("server_maintanence_auto_update_enabled"):
        names.add("server-maintanence auto-update")
    if inventory_vars.get("server_maintanence_inbox_cron_enabled"):
        names.add("server-maintanence inbox drain")
    return names


def installer_lines(app, uv):
    """The lines the app's own installer (bin/install/cron.sh) writes in the
    app user's crontab on this layout, one a job it knows, as its *_CMD and
    *_ID say, with its default schedule and the uv it found."""
    values = {"PROJECT_DIR": APP_DIR, "UV_PATH": uv, "_BIN_DIR": APP_DIR + "/bin"}
    lines = []
    for tag, command in app.installer_lines().items():
        command = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", command)  # LOG_DIR unset: its default
        command = re.sub(r"\$(\w+)", lambda name: values[name.group(1)], command)
        lines.append("*/5 * * * * %s %s%s" % (command, upstream_app.CRON_TAG, tag))
    return lines


def write_crontab(host, lines):
    """Replace the app user's crontab with these lines, through crontab(1)."""
    host.check_output("printf '%%s\\n' %s | crontab -u %s -" % (
        " ".join(shlex.quote(line) for line in lines), APP_USER))


def crontab_lines(host):
    result = host.run("crontab -l -u %s", APP_USER)
    if result.rc != 0:
        assert "no crontab" in result.stderr, result.stderr
        return []
    return result.stdout.splitlines()


def crontab_entries(host):
    """{entry name: crontab line} for the entries under an #Ansible: header."""
    lines = crontab_lines(host)
    entries = {}
    for header, line in zip(lines, lines[1:]):
        if header.startswith("#Ansible: "):
            entries[header[len("#Ansible: "):]] = line
    return entries


def job_command(line):
    """The command part of a 5-field crontab line."""
    return line.split(None, 5)[5]


def unit_table(name):
    """A table module of tests/unit/plugins/module_utils (env_table, systemd_cases), as the unit tests load it."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "unit" / "plugins" / "module_utils"
                                                  / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_as_root(host, path, data, mode="0640", group="www-data"):
    """Write bytes to path on the host, owned by root:group with mode."""
    host.check_output("printf %%s %s | base64 -d > %s && chown root:%s %s && chmod %s %s",
                      base64.b64encode(data).decode(), path, group, path, mode, path)


# The app's systemd units (its deploy/systemd), on hosts that run them.
APP_UNITS = ("server-monitoring.service", "server-monitoring-inbox.service")


def main_pids(host):
    """Each app unit's main process id, by unit (0: none)."""
    return {unit: int(host.check_output("systemctl show -p MainPID --value %s", unit)) for unit in APP_UNITS}


def settled_main_pids(host, timeout=60, context=lambda: ""):
    """main_pids() once both app units are active (a restart in progress
    done); fails, with systemctl's status and context(), after timeout s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(host.run("systemctl is-active --quiet %s", unit).rc == 0 for unit in APP_UNITS):
            return main_pids(host)
        time.sleep(1)
    raise AssertionError("the app's units are not both active: %s\n%s"
                         % (host.run("systemctl status %s", *APP_UNITS).stdout, context()))


def run_as_app(host, command):
    """Run a shell command as the app user with cron's bare environment."""
    return host.run("runuser -u %s -- %s /bin/sh -c %s" % (APP_USER, CRON_ENV, shlex.quote(command)))


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def hostname(host):
    return host.ansible.get_variables()["inventory_hostname"]


def run_site(host, extra_vars=None, check=False, diff=False, inventory=None, limit=None, playbook=SITE,
             env=None):
    """Run the shipped playbook against this molecule host, as a user would."""
    # The inventory directory: molecule writes host_vars beside the file.
    inventory = inventory or os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    command = ["ansible-playbook", "-i", inventory,
               "--limit", limit or hostname(host), str(playbook)]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **(env or {}))
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


def run_status(host, extra_vars=None, check=False, limit=None, env=None):
    """Run playbooks/status.yml against this host (limit: others, "all")."""
    return run_site(host, extra_vars, check=check, limit=limit, playbook=STATUS, env=env)


def _listed(line):
    """A line of a debug msg list, as the yaml (- text) or json ("text",) result format prints it."""
    text = line.strip()
    if text.startswith("- "):
        # yaml quotes an item holding ": " (a warning), and may fold a long one.
        text = text[2:]
        return text[1:].replace("''", "'") if text.startswith("'") else text
    if text.startswith('"'):
        return json.loads(text.rstrip(","))
    return None


def status_table(output):
    """{host: {column: cell}} from the table playbooks/status.yml prints.
    Columns start where the header's words do (cells hold spaces)."""
    lines = [_listed(line) for line in output.splitlines()]
    start = next(i for i, line in enumerate(lines) if line and line.startswith("HOST "))
    words = list(re.finditer(r"\S+", lines[start]))
    names, offsets = [word.group() for word in words], [word.start() for word in words]
    rows = {}
    for line in lines[start + 1:]:
        if not line or line.startswith("job cells "):
            break
        cells = [line[a:b].strip() for a, b in zip(offsets, offsets[1:] + [None])]
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def human_ages(low, high):
    """Every cell status can show for an age between low and high seconds
    (whole seconds below a minute, then whole minutes, hours, days). A test
    bounds the age it reads by the clock before and after the status run, so
    a slow run on a loaded machine still passes, and a wrong age does not."""
    ages = set()
    for seconds in range(max(0, int(low)), int(high) + 1):
        for unit, length in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if seconds >= length or unit == "s":
                ages.add("%d%s" % (seconds // length, unit))
                break
    return ages


def output(result):
    """Everything a run printed (errors may go to stderr), one space apart."""
    return " ".join((result.stdout + result.stderr).split())


def job_record(host, job):
    """The runner's record of a job, read from its state file."""
    text = host.file("%s/%s.state" % (STATE_DIR, job)).content_string
    return dict(line.split("=", 1) for line in text.splitlines())


def write_job_record(host, job, **changes):
    """Rewrite fields of a job's record, as the app user (like the runner)."""
    fields = dict(job_record(host, job), **{key: str(value) for key, value in changes.items()})
    content = "".join("%s=%s\n" % item for item in fields.items())
    host.check_output("printf %%s %s | runuser -u %s -- tee %s/%s.state >/dev/null",
                      content, APP_USER, STATE_DIR, job)


def run_job(host, name, timeout=None):
    """Run an installed crontab line the way cron does; with timeout, the
    same line with another timeout for the runner."""
    command = job_command(crontab_entries(host)[name])
    if timeout is not None:
        command = re.sub(r"^(\S+(?: --log \S+)? \S+) \d+ ", r"\g<1> %d " % timeout, command)
    return run_as_app(host, command)


# Actions that run on the controller only: no module call on the host.
CONTROLLER_SIDE = {"ansible.builtin.assert", "ansible.builtin.set_fact", "ansible.builtin.debug",
                   "ansible.builtin.fail", "ansible.builtin.include_role", "ansible.builtin.import_tasks",
                   "ansible.builtin.include_tasks", "ansible.builtin.validate_argument_spec"}


def module_calls(report, host_name):
    """The actions a run (ansible.posix.json output) ran on the host, in
    order, skipped tasks left out; fact gathering counts as one."""
    actions = [task["hosts"][host_name]["action"] for play in report["plays"] for task in play["tasks"]
               if host_name in task["hosts"] and not task["hosts"][host_name].get("skipped")]
    return [action for action in actions if action not in CONTROLLER_SIDE]


def recap(output):
    """{'ok': n, 'changed': n, 'failed': n, ...} summed over the PLAY RECAP."""
    totals = {}
    for key, value in re.findall(r"\b(ok|changed|unreachable|failed|skipped)=(\d+)", output):
        totals[key] = totals.get(key, 0) + int(value)
    return totals


def tree_listing(paths):
    """Shell that prints each existing path's tree: mode, owner, size, hashes."""
    return (
        "for d in %s; do [ -e $d ] || continue; "
        "find $d -printf '%%p %%m %%u:%%g %%s\\n' | sort; "
        "find $d -type f -exec sha256sum {} + | sort; done; true" % " ".join(paths)
    )


ROLE_STATE = "crontab -l -u {user} 2>&1; {files}; stat -c '%n %a %U:%G' {dirs} 2>&1; true".format(
    user=APP_USER, files=tree_listing(["/etc/logrotate.d", "/etc/cron.hourly", "/etc/server-monitoring", "/etc/sudoers.d",
                                   "/etc/default/server-maintanence-job", "/usr/local/bin/server-maintanence-job"]),
    dirs=LOGS + " /var/lib/server-maintanence")
LOGS_CONTENT = tree_listing([LOGS])


def snapshot(host, logs_content=True):
    """What the role could touch: the crontab, logrotate and cron files, the
    env file, the logs directory and (by default) every file in it."""
    state = host.check_output(ROLE_STATE)
    return state + "\n" + host.check_output(LOGS_CONTENT) if logs_content else state


@contextlib.contextmanager
def new_container(prefix, docker_args=(), image=None):
    """A container of its own, named prefix + a random suffix, of a host the
    role never touched (local/debian:bookworm, or SM_FRESH_IMAGE); removed
    afterwards. The scenario's own host stays as it is. docker_args: more
    options of docker run (small tmpfs mounts, for instance); image: another
    image to start from."""
    name = prefix + uuid.uuid4().hex[:8]
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "host"] + list(docker_args)
                   + [image or os.environ.get("SM_FRESH_IMAGE", "local/debian:bookworm"), "sleep", "infinity"],
                   check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


@contextlib.contextmanager
def cron_frozen(host):
    """Freeze the cron daemon (SIGSTOP) so no job writes while a test compares,
    and let a job it had already started finish (it may still create its lock).

    Also stops run-parts (/etc/crontab's cron.hourly and cron.daily: the
    latter runs logrotate on a host without systemd, the former the hourly
    runner) from starting its next script, and waits for a logrotate already
    running: two logrotates on one state file make the second one fail.
    Any test that compares the host across a moment cron could fire (a job
    run by hand, its log or record, a rotation, a snapshot, the status
    table) runs inside it; see also logrotate_held."""
    host.check_output("pkill -STOP -x cron")
    host.check_output("pkill -STOP -x run-parts; true")
    host.check_output("for i in $(seq 60); do pgrep -f '[s]erver-maintanence-job' >/dev/null "
                      "|| pgrep -x logrotate >/dev/null || exit 0; sleep 0.5; done; exit 1")
    try:
        yield
    finally:
        host.check_output("pkill -CONT -x run-parts; pkill -CONT -x cron")


@pytest.fixture
def cron_paused(host):
    with cron_frozen(host):
        yield


@contextlib.contextmanager
def logrotate_held(host):
    """cron_frozen, and under systemd logrotate.timer stopped (started again
    after), so that no logrotate but the test's runs while it rotates. Not
    around a run of the role on a systemd host: the role starts a stopped
    timer."""
    timer = host.run("test -d /run/systemd/system && systemctl is-active --quiet logrotate.timer").rc == 0
    if timer:
        host.check_output("systemctl stop logrotate.timer")
    try:
        with cron_frozen(host):  # waits for a logrotate the timer had started
            yield
    finally:
        if timer:
            host.check_output("systemctl start logrotate.timer")


@pytest.fixture
def logrotate_paused(host):
    with logrotate_held(host):
        yield
