"""Issue 37 end to end: the agent's failing health check becomes an incident
in the real app's hub, and resolves there when the check succeeds again.

Debian 12's own packages do the carrying (prepare.yml installs them):
prometheus-node-exporter on the agent reads the role's textfile,
prometheus on the hub loads the collection's rules as they ship and scrapes
it, prometheus-alertmanager posts to the hub's /alerts/webhook/alertmanager/
with the receiver docs/alerting.md shows, its API key read from a file. The
incident is judged by the app's own models (manage.py shell), never by what
Prometheus or Alertmanager say they sent.
"""

import hashlib
import json
import re
import time
import types
import urllib.parse

import pytest
import yaml

from conftest import (APP_DIR, APP_USER, LOGS, REPO, STATE_DIR, crontab_entries, cron_frozen, job_command,
                      job_record, molecule_host, run_as_app, uv_on)

HUB, AGENT = "sm-al-hub", "sm-al-agent"
HEALTH = "server-maintanence health check"
RULES = REPO / "roles" / "server_maintanence" / "files" / "server-maintanence.rules.yml"
DOC = REPO / "docs" / "alerting.md"
PROMETHEUS, ALERTMANAGER, NODE_EXPORTER, HUB_FRONT = (
    "127.0.0.1:18443", "127.0.0.1:18444", "127.0.0.1:18442", "127.0.0.1:18441")
KEY_FILE = "/etc/prometheus/server-monitoring-hub.key"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
# The alert a failing check raises once it has not succeeded within
# status_max_intervals of its interval; the shipped ServerMaintanenceJobFailed
# waits `for: 10m`, longer than this stage may (its timing is promtool's to prove).
LATE = "ServerMaintanenceJobLate"
FAILED = "ServerMaintanenceJobFailed"


@pytest.fixture(scope="module")
def hub():
    return molecule_host(HUB)


@pytest.fixture(scope="module")
def agent():
    return molecule_host(AGENT)


def get_json(host, address, path):
    """A GET from inside the host (its loopback is the machine's)."""
    return json.loads(host.check_output("curl -sSf --max-time 10 http://%s%s", address, path))


def prometheus_query(hub, query):
    answer = get_json(hub, PROMETHEUS, "/api/v1/query?query=" + urllib.parse.quote(query))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


# Every TCP listener held by a process of the container, read from /proc: the
# containers share the machine's network, so a listener must be theirs to
# count. Run as each user that runs a daemon here: without CAP_SYS_PTRACE,
# root in a container cannot read another user's file descriptors.
LISTENERS = r"""
import json, os
listening = {}
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).readlines()[1:]:
        fields = line.split()
        if fields[3] == "0A":
            address, port = fields[1].split(":")
            listening[fields[9]] = (address, int(port, 16))
held = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        comm = open("/proc/%s/comm" % pid).read().strip()
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        continue
    for fd in fds:
        try:
            target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        inode = target[len("socket:["):-1] if target.startswith("socket:[") else None
        if inode in listening:
            address, port = listening[inode]
            held.setdefault(str(port), set()).add((address, comm))
print(json.dumps({port: sorted(entries) for port, entries in held.items()}))
"""


# systemd listens for the hub's front (a socket unit) and hands the socket to
# its proxy at the first connection (comm is cut at 15 characters).
ALSO_HOLDS_THE_FRONT = {"systemd-socket-"}


@pytest.mark.parametrize("name, expected", [
    (HUB, {"18441": {"systemd"}, "18443": {"prometheus"}, "18444": {"prometheus-aler"}}),
    (AGENT, {"18442": {"prometheus-node"}}),
])
def test_each_daemon_listens_on_its_own_loopback_port_and_nothing_on_a_default_one(name, expected):
    """Only on 127.0.0.1 (0100007F in /proc) and the scenario's ports: not 9090,
    9093, 9094 or 9100, which the packages' defaults would have taken."""
    host, held = molecule_host(name), {}
    for user in ("root", "prometheus", APP_USER):
        for port, entries in json.loads(host.check_output("runuser -u %s -- python3 -c %s", user, LISTENERS)).items():
            held.setdefault(port, set()).update(tuple(entry) for entry in entries)
    assert {port: {command for _, command in entries} - ALSO_HOLDS_THE_FRONT
            for port, entries in held.items()} == expected, held
    assert {address for entries in held.values() for address, _ in entries} == {"0100007F"}, held


def test_node_exporter_serves_the_roles_textfile(agent, hub):
    with cron_frozen(agent):
        assert run_health(agent).run.rc == 0
    link = agent.file(TEXTFILE_DIR + "/server_maintanence.prom")
    assert link.is_symlink and link.linked_to == STATE_DIR + "/server_maintanence.prom"
    scraped = agent.check_output("curl -sSf --max-time 10 http://%s/metrics", NODE_EXPORTER)
    assert re.search(r"^node_textfile_scrape_error 0$", scraped, re.M)
    assert re.search(r'^server_maintanence_job_last_exit_code\{name="health"\} ', scraped, re.M), scraped[-2000:]
    # Prometheus scrapes it every 2 s, as the agent.
    targets = get_json(hub, PROMETHEUS, "/api/v1/targets")["data"]["activeTargets"]
    assert [(t["scrapeUrl"], t["labels"]["instance"], t["health"]) for t in targets] == [
        ("http://%s/metrics" % NODE_EXPORTER, AGENT, "up")]
    query = 'server_maintanence_job_last_exit_code{instance="%s",name="health"}' % AGENT
    deadline = time.monotonic() + 30
    while not prometheus_query(hub, query) and time.monotonic() < deadline:
        time.sleep(1)
    assert [series["value"][1] for series in prometheus_query(hub, query)] == ["0"]


def test_prometheus_loads_the_shipped_rules_as_they_ship(hub):
    loaded = hub.file("/etc/prometheus/server-maintanence.rules.yml")
    assert loaded.sha256sum == hashlib.sha256(RULES.read_bytes()).hexdigest()
    shipped = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    groups = get_json(hub, PROMETHEUS, "/api/v1/rules")["data"]["groups"]
    assert [(g["name"], [r["name"] for r in g["rules"]]) for g in groups] == [
        (g["name"], [r["alert"] for r in g["rules"]]) for g in shipped]
    assert {r["health"] for g in groups for r in g["rules"]} == {"ok"}
    alertmanagers = get_json(hub, PROMETHEUS, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [manager["url"] for manager in alertmanagers] == ["http://%s/api/v2/alerts" % ALERTMANAGER]


def doc_receiver():
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
                if "webhook_configs:" in b]
    return block


def test_alertmanager_runs_the_docs_receiver_verbatim(hub):
    config = hub.file("/etc/prometheus/alertmanager.yml").content_string
    assert config.endswith(doc_receiver())
    receivers = yaml.safe_load(doc_receiver())["receivers"]
    (webhook,) = receivers[0]["webhook_configs"]
    assert webhook["url"].endswith("/alerts/webhook/alertmanager/")
    assert webhook["http_config"]["authorization"]["credentials_file"] == KEY_FILE
    status = get_json(hub, ALERTMANAGER, "/api/v2/status")
    assert "server-monitoring-hub" in status["config"]["original"]


# Run on the hub as root: is the key in any command line, in the journal, or
# in what Alertmanager serves? Prints counts, never the key.
KEY_EXPOSURE = r"""
import json, os, subprocess, urllib.request
key = open("%s").read().strip()
assert len(key) >= 20
argv = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        argv += key.encode() in open("/proc/%%s/cmdline" %% pid, "rb").read()
    except OSError:
        pass
journal = subprocess.run(["journalctl", "--no-pager", "-o", "cat"], capture_output=True).stdout
served = urllib.request.urlopen("http://%s/api/v2/status", timeout=10).read()
print(json.dumps({"argv": argv, "journal": key.encode() in journal, "served": key.encode() in served}))
""" % (KEY_FILE, ALERTMANAGER)


def test_the_key_is_a_file_only_alertmanagers_user_reads_and_in_no_argv_or_output(hub):
    key = hub.file(KEY_FILE)
    assert (key.user, key.group, key.mode) == ("root", "prometheus", 0o640)
    exposure = json.loads(hub.check_output("python3 -c %s", KEY_EXPOSURE))
    assert exposure == {"argv": 0, "journal": False, "served": False}


def test_a_failing_health_check_becomes_an_incident_in_the_hub_and_resolves(hub, agent, app):
    """Cron is frozen on the agent and the test runs the installed health line
    as cron does, about every 10 s (a job that runs keeps the no-records rule
    quiet).
    The break: the app's database made unwritable by www-data (a restore left
    it root's), which the app's check needs to record its run."""
    assert not open_incidents(hub, app), "an incident was open before the check failed"
    with cron_frozen(agent):
        database = APP_DIR + "/db.sqlite3"
        owner = agent.check_output("stat -c '%%U:%%G %%a' %s", database)
        agent.check_output("chown root:root %s && chmod 0644 %s", database, database)
        try:
            failed = run_health(agent)
            assert failed.run.rc == 1, failed.log
            assert "readonly database" in failed.log, failed.log[-2000:]
            assert job_record(agent, "health")["outcome"] == "failure"
            opened = wait_for(lambda: open_incidents(hub, app), agent, seconds=240)
            assert opened, "no incident in the hub within 240 s of the failure"
            pending = prometheus_query(hub, 'ALERTS{alertname="%s",instance="%s",name="health"}' % (FAILED, AGENT))
            assert [series["metric"]["alertstate"] for series in pending] in (["pending"], ["firing"])
        finally:
            owner_group, mode = owner.split()
            agent.check_output("chown %s %s && chmod %s %s", owner_group, database, mode, database)
        healthy = run_health(agent)
        assert healthy.run.rc == 0, healthy.log[-2000:]
        (incident,) = opened
        resolved = wait_for(lambda: resolved_incident(hub, app, incident["id"]), agent, seconds=120, fail=False)
    assert resolved, "incident %s not resolved within 120 s of the check's success" % incident["id"]
    (alert,) = incident["alerts"]
    assert alert["source"] == "alertmanager" and alert["status"] == "firing"
    assert (alert["labels"]["instance"], alert["labels"]["name"], alert["labels"]["severity"]) == (
        AGENT, "health", "warning")
    assert resolved["summary"] == "All alerts resolved automatically"
    assert [a["status"] for a in resolved["alerts"]] == ["resolved"]


def run_health(agent):
    """The installed health line, run as cron runs it; its log's new part."""
    before = agent.run("cat %s/cron.log", LOGS).stdout
    run = run_as_app(agent, job_command(crontab_entries(agent)[HEALTH]))
    return types.SimpleNamespace(run=run, log=agent.run("cat %s/cron.log", LOGS).stdout[len(before):])


def wait_for(found, agent, seconds, fail=True):
    """Poll found() for up to seconds, running the health line between polls
    (5 s apart, and the run's own seconds), failing or not as the host is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(5)
        outcome = run_health(agent)
        if fail:
            assert outcome.run.rc == 1, outcome.log[-2000:]
    return found()


# The hub's records of this rule for the agent's health job, through the
# app's models: each incident with its alerts.
INCIDENTS = r"""
import json
from apps.alerts.models import Alert
rows = {}
for alert in Alert.objects.filter(source="alertmanager", name="%s").select_related("incident"):
    if alert.labels.get("instance") != "%s" or alert.labels.get("name") != "health" or not alert.incident:
        continue
    incident = alert.incident
    row = rows.setdefault(incident.id, {"id": incident.id, "title": incident.title, "status": incident.status,
                                        "summary": incident.summary, "alerts": []})
    row["alerts"].append({"source": alert.source, "status": alert.status, "labels": alert.labels})
print("INCIDENTS " + json.dumps(list(rows.values())))
""" % (LATE, AGENT)


def incidents(hub, app):
    output = manage_shell(hub, app, INCIDENTS)
    (line,) = [line for line in output.splitlines() if line.startswith("INCIDENTS ")]
    return json.loads(line[len("INCIDENTS "):])


def open_incidents(hub, app):
    return [i for i in incidents(hub, app) if i["status"] in ("open", "acknowledged") and i["title"] == LATE]


def resolved_incident(hub, app, incident_id):
    return next((i for i in incidents(hub, app) if i["id"] == incident_id and i["status"] == "resolved"), None)


def manage_shell(host, app, script):
    """manage.py shell as the app user, its configuration read as the app's
    units read it (systemd's EnvironmentFile=), the script on stdin; a
    oneshot, which systemd-run waits for without D-Bus."""
    script_file, out = "/run/sm-al-query.py", "/run/sm-al-query.out"
    host.check_output("printf %%s %s > %s && rm -f %s", script, script_file, out)
    (env_file,) = {unit["EnvironmentFile"].lstrip("-") for unit in app.units().values()}
    result = host.run("systemd-run --quiet --collect -p Type=oneshot -p User=%s -p WorkingDirectory=%s "
                      "-p EnvironmentFile=%s -p StandardInput=file:%s -p StandardOutput=file:%s "
                      "-p StandardError=inherit %s run python manage.py shell",
                      APP_USER, APP_DIR, env_file, script_file, out, uv_on(host, app))
    output = host.run("cat %s", out).stdout
    assert result.rc == 0, result.stderr + output
    return output
