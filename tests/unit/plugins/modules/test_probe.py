"""The probe module on a temporary filesystem: no root, no real crontab, no systemd.

Its mechanics are module_utils/_host_reading.py's (the maintenance module
reads the host with the same code); the job records, the disk usage and
logrotate's state are read by module_utils/_job_records.py, the code the job
runner writes them with. main() is the thin plugins/modules/probe.py."""

import grp
import importlib.util
import hashlib
import io
import json
import os
import pathlib
import pwd
import types

import pytest

from ansible.module_utils.basic import AnsibleModule

# The shared loader, by file path: plain pytest and ansible-test units import tests differently.
_spec = importlib.util.spec_from_file_location("module_loading", pathlib.Path(__file__).with_name("module_loading.py"))
module_loading = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(module_loading)
load_module, patch_module_args = module_loading.load_module, module_loading.patch_module_args

from ansible_collections.server_maintanence.ops.plugins.module_utils import _host_reading as probe  # noqa: E402
from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records  # noqa: E402

probe_module = load_module("probe")

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
PROBE_KEYS = {"user_exists", "group_exists", "uv", "env", "env_in_sync", "env_refused", "commands", "crontab",
              "systemd", "cron_running", "services", "units_active", "paths", "apt_lists", "user_groups", "leftovers",
              "update_mode"}


def make_file(path, mode=0o644, content=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


# uv discovery ---------------------------------------------------------------

def test_given_uv_path_is_used_and_not_marked_discovered(tmp_path):
    given = make_file(tmp_path / "opt/uv", 0o755)
    candidate = make_file(tmp_path / "bin/uv", 0o755)

    uv = probe._uv(given, [candidate], str(tmp_path / "home"))

    assert uv == {"path": given, "discovered": False, "searched": [candidate],
                  "exists": True, "mode": "0755", "unsafe": False}


def test_given_uv_path_that_is_missing_is_reported_absent(tmp_path):
    uv = probe._uv(str(tmp_path / "nope/uv"), [], "/home/x")

    assert uv["exists"] is False and uv["mode"] is None and uv["unsafe"] is False


def test_tilde_candidates_are_expanded_with_the_users_home(tmp_path):
    home = tmp_path / "home/app"
    installed = make_file(home / ".local/bin/uv", 0o755)

    uv = probe._uv("", ["~/.local/bin/uv", "/usr/local/bin/uv"], str(home))

    assert uv["searched"] == [installed, "/usr/local/bin/uv"]
    assert uv["path"] == installed and uv["discovered"] is True and uv["exists"] is True


def test_first_executable_candidate_wins(tmp_path):
    first = make_file(tmp_path / "a/uv", 0o755)
    second = make_file(tmp_path / "b/uv", 0o755)

    assert probe._uv("", [first, second], "/home/x")["path"] == first


def test_non_executable_file_and_directory_candidates_are_skipped(tmp_path):
    not_executable = make_file(tmp_path / "a/uv", 0o644)
    directory = tmp_path / "b/uv"
    directory.mkdir(parents=True)
    directory.chmod(0o755)
    executable = make_file(tmp_path / "c/uv", 0o700)

    uv = probe._uv("", [not_executable, str(directory), executable], "/home/x")

    assert uv["path"] == executable and uv["mode"] == "0700"


def test_with_no_executable_candidate_the_first_is_reported_absent(tmp_path):
    first, second = str(tmp_path / "a/uv"), str(tmp_path / "b/uv")

    uv = probe._uv("", [first, second], "/home/x")

    assert uv == {"path": first, "discovered": True, "searched": [first, second],
                  "exists": False, "mode": None, "unsafe": False}


def test_a_non_executable_uv_counts_as_not_installed_and_keeps_its_mode(tmp_path):
    # Discovery skips it, yet being the first candidate it is the one reported:
    # cron could not run it, so the role warns as for a missing uv.
    plain = make_file(tmp_path / "a/uv", 0o644)

    uv = probe._uv("", [plain], "/home/x")

    assert uv["path"] == plain and uv["exists"] is False and uv["mode"] == "0644"


def test_a_given_uv_path_that_cannot_be_read_is_reported_absent(tmp_path, monkeypatch):
    def denied(path):
        raise PermissionError(path)

    monkeypatch.setattr(probe.os, "stat", denied)

    assert probe._uv(str(tmp_path / "uv"), [], "/home/x")["exists"] is False


def test_with_neither_path_nor_candidates_uv_is_absent():
    uv = probe._uv("", [], "/home/x")

    assert uv == {"path": "", "discovered": False, "searched": [],
                  "exists": False, "mode": None, "unsafe": False}


@pytest.mark.parametrize("mode, unsafe", [
    (0o755, False), (0o775, True), (0o757, True), (0o777, True), (0o700, False),
])
def test_group_or_world_writable_uv_is_unsafe(tmp_path, mode, unsafe):
    path = make_file(tmp_path / "uv", mode)

    uv = probe._uv(path, [], "/home/x")

    assert uv["mode"] == "%04o" % mode and uv["unsafe"] is unsafe


def test_a_symlinked_uv_is_followed_like_stat_L(tmp_path):
    target = make_file(tmp_path / "real/uv", 0o755)
    link = tmp_path / "bin/uv"
    link.parent.mkdir()
    link.symlink_to(target)

    uv = probe._uv("", [str(link)], "/home/x")

    assert uv["path"] == str(link)  # the link is what cron runs
    assert uv["exists"] is True and uv["mode"] == "0755"  # the target's mode, not the link's 0777


def test_a_symlink_to_a_non_executable_or_to_nothing_is_skipped(tmp_path):
    to_plain = tmp_path / "a/uv"
    to_plain.parent.mkdir()
    to_plain.symlink_to(make_file(tmp_path / "plain", 0o644))
    dangling = tmp_path / "b/uv"
    dangling.parent.mkdir()
    dangling.symlink_to(tmp_path / "missing")
    executable = make_file(tmp_path / "c/uv", 0o755)

    assert probe._uv("", [str(to_plain), str(dangling), executable], "/home/x")["path"] == executable


# the env file ---------------------------------------------------------------

def test_env_values_are_read_as_systemd_reads_them(tmp_path):
    env = make_file(tmp_path / "env", content=(
        b"# SSRF_ALLOWED_HOSTS=commented.out\n"
        b"SSRF_ALLOWED_HOSTS=first.internal\n"
        b"HUB_URL='https://hub.internal'\n"
        b"SSRF_ALLOWED_HOSTS=\"last.internal\"\n"
        b"  API_KEY = spaced  \n"
        b"not an assignment\n"
        b"OURS=a.example # ours,hub.internal\n"
        b"SECRET=k$x(9&a)*b\n"
    ))

    values = probe._env_values(env, ["SSRF_ALLOWED_HOSTS", "HUB_URL", "API_KEY", "OURS", "SECRET"])

    assert values == {"SSRF_ALLOWED_HOSTS": "last.internal", "HUB_URL": "https://hub.internal",
                      "API_KEY": "spaced", "OURS": "a.example # ours,hub.internal", "SECRET": "k$x(9&a)*b"}


def test_env_values_are_never_read_through_a_link_or_from_a_fifo(tmp_path):
    """An app-writable env file (the app's .env) swapped for a link to a
    root-only file, or for a FIFO: nothing is read, nothing blocks."""
    secret = make_file(tmp_path / "root-only", 0o600, b"SSRF_ALLOWED_HOSTS=planted-secret\n")
    (tmp_path / "linked.env").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo.env")

    assert probe._env_values(str(tmp_path / "linked.env"), ["SSRF_ALLOWED_HOSTS"]) == {"SSRF_ALLOWED_HOSTS": None}
    assert probe._env_values(str(tmp_path / "fifo.env"), ["SSRF_ALLOWED_HOSTS"]) == {"SSRF_ALLOWED_HOSTS": None}


def test_env_values_never_returns_keys_not_asked_for(tmp_path):
    env = make_file(tmp_path / "env", content=b"SECRET_KEY=do-not-leak\nHUB_URL=https://hub\n")

    assert probe._env_values(env, ["HUB_URL"]) == {"HUB_URL": "https://hub"}
    assert probe._env_values(env, []) == {}


def test_env_values_are_none_for_a_missing_file_or_key(tmp_path):
    env = make_file(tmp_path / "env", content=b"HUB_URL=https://hub\n")

    assert probe._env_values(str(tmp_path / "missing"), ["HUB_URL"]) == {"HUB_URL": None}
    assert probe._env_values(env, ["HUB_URL", "INSTANCE_ID"]) == {"HUB_URL": "https://hub", "INSTANCE_ID": None}
    assert probe._env_values("", ["HUB_URL"]) == {"HUB_URL": None}


def test_an_empty_value_is_an_empty_string_not_none(tmp_path):
    env = make_file(tmp_path / "env", content=b"INSTANCE_ID=\n")

    assert probe._env_values(env, ["INSTANCE_ID"]) == {"INSTANCE_ID": ""}


def test_an_env_file_systemd_refuses_is_reported_by_file_and_line_never_by_value(tmp_path):
    env = make_file(tmp_path / "env", content=b"HUB_URL=https://hub\n\nSECRET=s3cr\xe9t\n")

    assert probe._env_refused(env) == {"file": env, "line": 3, "reason": "a value that is not UTF-8"}
    # and no value of it is trusted
    assert probe._env_values(env, ["HUB_URL"]) == {"HUB_URL": None}


def test_an_env_file_systemd_loads_or_cannot_be_read_is_not_refused(tmp_path):
    env = make_file(tmp_path / "env", content=b"# caf\xe9\nCR=\"a\rb\"\n")
    assert probe._env_refused(env) is None
    assert probe._env_values(env, ["CR"]) == {"CR": "a\rb"}
    assert probe._env_refused(str(tmp_path / "missing")) is None
    assert probe._env_refused("") is None


def test_the_env_file_is_judged_by_the_hosts_systemd(tmp_path, monkeypatch):
    # Before v254 the comment continues over the line that is not UTF-8.
    env = make_file(tmp_path / "env", content=b"# note \\\nA=\xff\n")
    monkeypatch.setattr(probe, "host_systemd", lambda: 252)
    assert probe._env_refused(env) is None
    monkeypatch.setattr(probe, "host_systemd", lambda: 257)
    assert probe._env_refused(env) == {"file": env, "line": 2, "reason": "a value that is not UTF-8"}


# stat of managed paths ------------------------------------------------------

def test_stat_of_a_missing_path_says_only_that(tmp_path):
    assert probe._stat(str(tmp_path / "missing")) == {"exists": False, "planted_link": None}


def test_stat_of_a_small_file_has_mode_owner_group_and_sha1(tmp_path):
    content = b"/opt/app/logs/*.log {\n  daily\n}\n"
    path = make_file(tmp_path / "logrotate.conf", 0o640, content)

    assert probe._stat(path, checksum=True) == {
        "exists": True, "type": "file", "mode": "0640", "owner": USER, "group": GROUP, "isdir": False,
        "checksum": hashlib.sha1(content).hexdigest(), "planted_link": None}
    assert probe._stat(path)["checksum"] is None


def test_stat_of_a_directory_has_no_checksum(tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    directory.chmod(0o2775)

    assert probe._stat(str(directory)) == {"exists": True, "type": "directory", "mode": "2775", "owner": USER,
                                           "group": GROUP, "isdir": True, "checksum": None, "planted_link": None}


def test_stat_of_a_file_of_one_mib_or_more_has_no_checksum(tmp_path):
    small = tmp_path / "small"
    big = tmp_path / "big"
    with open(small, "wb") as handle:
        handle.truncate((1 << 20) - 1)
    with open(big, "wb") as handle:
        handle.truncate(1 << 20)

    assert probe._stat(str(small), checksum=True)["checksum"] is not None
    assert probe._stat(str(big), checksum=True)["checksum"] is None


def test_stat_describes_a_symlink_itself_without_following_it(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(make_file(tmp_path / "target", 0o644, b"x"))

    result = probe._stat(str(link), checksum=True)

    assert result["exists"] is True and result["isdir"] is False and result["checksum"] is None
    assert result["type"] == "link" and result["target"] == str(tmp_path / "target")


def test_stat_of_a_fifo_neither_blocks_nor_reads_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    result = probe._stat(str(fifo), checksum=True)

    assert result["type"] == "other" and result["checksum"] is None


def test_read_file_refuses_a_link_a_fifo_and_a_file_over_the_limit(tmp_path):
    target = make_file(tmp_path / "secret", 0o600, b"top secret")
    (tmp_path / "link").symlink_to(target)
    os.mkfifo(tmp_path / "fifo")

    assert probe.read_file(target, 100) == b"top secret"
    assert probe.read_file(str(tmp_path / "link"), 100) is None
    assert probe.read_file(str(tmp_path / "fifo"), 100) is None
    assert probe.read_file(target, 9) is None
    assert probe.read_file(str(tmp_path / "missing"), 100) is None


def test_a_link_among_the_parents_in_a_directory_others_can_write_is_reported(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    app.chmod(0o777)
    (tmp_path / "elsewhere").mkdir()
    (app / "logs").symlink_to(tmp_path / "elsewhere")

    found = probe._stat(str(app / "logs" / "cron.log"))

    assert found["planted_link"] == str(app / "logs")


def test_a_root_owned_link_in_a_root_only_directory_is_followed():
    # /proc/self is such a link on every Linux host; nothing else is checked.
    assert probe._planted_link("/proc/self/status") is None


def test_an_owner_without_a_name_is_reported_by_number():
    def unknown(number):
        raise KeyError(number)

    assert probe._name(unknown, 4242) == "4242"


# main(), end to end ---------------------------------------------------------

class Host:
    """What main() sees of the host: which commands exist, whether systemd runs,
    and the answers of `crontab -l` and `systemctl`; every command run is recorded."""

    def __init__(self, monkeypatch, crontab=(0, "", ""), systemd=False, commands=probe.COMMANDS,
                 systemctl=None):
        self.crontab = crontab
        self.systemctl = systemctl or {}
        self.ran = []
        monkeypatch.setattr(AnsibleModule, "run_command", self.run_command)
        monkeypatch.setattr(probe, "shutil", types.SimpleNamespace(
            which=lambda name, path=None: "/usr/bin/" + name if name in commands else None))
        real_isdir = os.path.isdir
        monkeypatch.setattr(os.path, "isdir", lambda path: systemd if path == "/run/systemd/system"
                            else real_isdir(path))

    def run_command(self, args, **kwargs):
        self.ran.append(list(args))
        if args[0] == "crontab":
            return self.crontab
        if args[0] == "systemctl":
            return self.systemctl.get(tuple(args[1:]), 0), "", ""
        raise AssertionError("the probe ran an unexpected command: %s" % args)


def run_main(capsys, **args):
    """Run the module with these args; (exit code, its JSON result)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            probe_module.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_main_reports_everything_and_changes_nothing(monkeypatch, capsys, tmp_path):
    host = Host(monkeypatch, crontab=(0, "*/5 * * * * check\n0 3 * * * update\n", ""))
    monkeypatch.setattr(probe, "_cron_running", lambda: True)
    lists = {"/var/lib/apt/lists": ["deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"]}
    monkeypatch.setattr(probe, "_listdir", lambda path: lists.get(path, []))
    uv = make_file(tmp_path / "uv", 0o755)
    env = make_file(tmp_path / "env", content=b"SSRF_ALLOWED_HOSTS=hub.internal\n")
    managed = make_file(tmp_path / "logrotate.conf", content=b"x")

    code, result = run_main(capsys, user=USER, group=GROUP, uv_candidates=[uv], env_file=env,
                            env_keys=["SSRF_ALLOWED_HOSTS"], paths=[managed, env, str(tmp_path / "missing")],
                            checksums=[managed])

    assert code == 0
    assert result["changed"] is False and "failed" not in result
    found = result["probe"]
    assert set(found) == PROBE_KEYS
    assert found["user_exists"] is True and found["group_exists"] is True
    assert found["uv"]["path"] == uv and found["uv"]["exists"] is True
    assert found["env"] == {"SSRF_ALLOWED_HOSTS": "hub.internal"}
    assert found["env_refused"] is None
    assert found["commands"] == dict.fromkeys(probe.COMMANDS, True)
    assert found["crontab"] == ["*/5 * * * * check", "0 3 * * * update"]
    assert found["paths"][managed]["checksum"] == hashlib.sha1(b"x").hexdigest()
    assert found["paths"][env]["checksum"] is None  # not asked for: never a digest of the env file
    assert found["paths"][str(tmp_path / "missing")] == {"exists": False, "planted_link": None}
    # The machine's processes and apt lists, as the test sets them.
    assert found["cron_running"] is True and found["apt_lists"] is True
    assert host.ran == [["crontab", "-l", "-u", USER]]


def test_main_without_systemd_reports_services_unknown_and_runs_no_systemctl(monkeypatch, capsys):
    host = Host(monkeypatch, systemd=False)

    found = run_main(capsys, user=USER, group=GROUP)[1]["probe"]

    assert found["systemd"] is False
    assert found["services"] == {"cron_enabled": None, "logrotate_timer_enabled": None,
                                 "logrotate_timer_active": None}
    assert not [command for command in host.ran if command[0] == "systemctl"]


def test_main_with_systemd_asks_systemctl_about_cron_and_the_logrotate_timer(monkeypatch, capsys):
    host = Host(monkeypatch, systemd=True, systemctl={
        ("is-enabled", "--quiet", "cron"): 0,
        ("is-enabled", "--quiet", "logrotate.timer"): 1,
        ("is-active", "--quiet", "logrotate.timer"): 3,
    })

    found = run_main(capsys, user=USER, group=GROUP)[1]["probe"]

    assert found["systemd"] is True
    assert found["services"] == {"cron_enabled": True, "logrotate_timer_enabled": False,
                                 "logrotate_timer_active": False}
    assert [command for command in host.ran if command[0] == "systemctl"] == [
        ["systemctl", "is-enabled", "--quiet", "cron"],
        ["systemctl", "is-enabled", "--quiet", "logrotate.timer"],
        ["systemctl", "is-active", "--quiet", "logrotate.timer"],
    ]


def test_main_reports_each_unit_active_or_not_through_systemctl(monkeypatch, capsys):
    host = Host(monkeypatch, systemd=True, systemctl={("is-active", "--quiet", "stopped.service"): 3})

    found = run_main(capsys, user=USER, group=GROUP, units=["app.service", "stopped.service"])[1]["probe"]

    assert found["units_active"] == {"app.service": True, "stopped.service": False}
    assert ["systemctl", "is-active", "--quiet", "app.service"] in host.ran


def test_main_without_systemd_reports_every_unit_inactive_without_asking(monkeypatch, capsys):
    host = Host(monkeypatch, systemd=False)

    found = run_main(capsys, user=USER, group=GROUP, units=["app.service"])[1]["probe"]

    assert found["units_active"] == {"app.service": False}
    assert not [command for command in host.ran if command[0] == "systemctl"]


def test_main_gives_an_empty_crontab_for_a_user_without_one(monkeypatch, capsys):
    Host(monkeypatch, crontab=(1, "", "no crontab for %s\n" % USER))

    code, result = run_main(capsys, user=USER, group=GROUP)

    assert code == 0 and result["probe"]["crontab"] == []


def test_main_fails_when_crontab_l_fails_for_another_reason(monkeypatch, capsys):
    Host(monkeypatch, crontab=(1, "", "crontab: must be privileged to use -u\n"))

    code, result = run_main(capsys, user=USER, group=GROUP)

    assert code == 1 and result["failed"] is True
    assert result["msg"] == "crontab -l -u %s failed: crontab: must be privileged to use -u" % USER
    assert "probe" not in result


def test_main_reads_no_crontab_without_the_crontab_command(monkeypatch, capsys):
    host = Host(monkeypatch, commands=("logrotate", "flock", "timeout"))

    found = run_main(capsys, user=USER, group=GROUP)[1]["probe"]

    assert found["crontab"] == [] and found["commands"]["crontab"] is False
    assert host.ran == []


def test_main_for_an_unknown_user_reads_no_crontab_and_looks_for_uv_under_nonexistent(monkeypatch, capsys):
    host = Host(monkeypatch)

    found = run_main(capsys, user="no-such-user-sm", group="no-such-group-sm",
                     uv_candidates=["~/.local/bin/uv"])[1]["probe"]

    assert found["user_exists"] is False and found["group_exists"] is False
    assert found["uv"]["searched"] == ["/nonexistent/.local/bin/uv"] and found["uv"]["exists"] is False
    assert host.ran == []


def test_main_in_check_mode_reports_the_same(monkeypatch, capsys):
    Host(monkeypatch, crontab=(0, "* * * * * x\n", ""))

    code, result = run_main(capsys, user=USER, group=GROUP, _ansible_check_mode=True)

    assert code == 0 and result["changed"] is False and result["probe"]["crontab"] == ["* * * * * x"]


def test_main_requires_user_and_group(monkeypatch, capsys):
    Host(monkeypatch)

    code, result = run_main(capsys, user=USER)

    assert code == 1 and "group" in result["msg"]


def test_main_compares_wanted_values_on_the_host_and_returns_only_booleans(monkeypatch, capsys, tmp_path):
    Host(monkeypatch)
    env = make_file(tmp_path / "env", content=b"HUB_API_KEY='s3cret-value'\nHUB_URL=http://old\n")

    code, result = run_main(capsys, user=USER, group=GROUP, env_file=env, paths=[env],
                            env_wanted={"HUB_API_KEY": "s3cret-value", "HUB_URL": "http://hub",
                                        "INSTANCE_ID": "web-1"})

    assert code == 0
    assert result["probe"]["env_in_sync"] == {"HUB_API_KEY": True, "HUB_URL": False, "INSTANCE_ID": False}
    text = json.dumps(result)
    assert "s3cret-value" not in text
    assert hashlib.sha256(b"s3cret-value").hexdigest() not in text
    # Not even a digest of the whole file.
    assert result["probe"]["paths"][env]["checksum"] is None
    assert hashlib.sha1(pathlib.Path(env).read_bytes()).hexdigest() not in text


@pytest.mark.parametrize("processes, running", [
    ({"1": "1 (sleep) S 0", "40": "40 (cron) S 1"}, True),
    # the daemon running a job: its forked cron child runs the job's shell
    ({"1": "1 (sleep) S 0", "40": "40 (cron) S 1", "58": "58 (cron) S 40", "59": "59 (sh) S 58"}, True),
    # the daemon killed: the job's cron child, reparented, still runs the shell
    ({"1": "1 (sleep) S 0", "58": "58 (cron) S 1", "59": "59 (sh) S 58"}, False),
    ({"1": "1 (sleep) S 0"}, False),
    # killed, but PID 1 has not reaped it
    ({"1": "1 (sleep) S 0", "17": "17 (cron) Z 1"}, False),
])
def test_cron_is_running_when_a_cron_process_has_only_cron_children(monkeypatch, processes, running):
    monkeypatch.setattr(probe.os, "listdir", lambda path: list(processes) + ["self"])
    monkeypatch.setattr(probe, "open", lambda path: io.StringIO(processes[path.split("/")[2]]), raising=False)

    assert probe._cron_running() is running


# report=true: what playbooks/status.yml reads -------------------------------

import subprocess  # noqa: E402  (kept with the tests that use it)
import time  # noqa: E402

REPORT_KEYS = {"now", "jobs", "logs", "last_rotation", "crontab_changed", "state_dir", "update_history"}


HEALTH_TEXT = ("name=health\nstart=1700000000.100\nend=1700000002.600\nduration=2.500\nexit_code=0\n"
               "outcome=success\nskipped=0\ntimed_out=0\nlast_success=1700000002.600\n")


def state_dir_with_records(tmp_path):
    """Two jobs' records as the job runner writes them, beside its temp file
    (mid-rename) and its write lock, which are not records."""
    state_dir = tmp_path / "state"
    make_file(state_dir / "health.state", content=HEALTH_TEXT.encode())
    make_file(state_dir / "push.state", content=(
        b"name=push\nstart=1700000100.000\nend=1700000160.000\nduration=60.000\nexit_code=124\n"
        b"outcome=timeout\nskipped=0\ntimed_out=1\nlast_success=\n"))
    make_file(state_dir / ".health.state.XYZ", content=b"name=health\nexit_code=9\noutcome=half-written\n")
    make_file(state_dir / ".write.lock")
    make_file(state_dir / "health.lock")
    return str(state_dir)


HEALTH_RECORD = {"name": "health", "start": "1700000000.100", "end": "1700000002.600", "duration": "2.500",
                 "exit_code": "0", "outcome": "success", "skipped": "0", "timed_out": "0",
                 "last_success": "1700000002.600"}
PUSH_RECORD = {"name": "push", "start": "1700000100.000", "end": "1700000160.000", "duration": "60.000",
               "exit_code": "124", "outcome": "timeout", "skipped": "0", "timed_out": "1", "last_success": ""}


def logs_dir_with_files(tmp_path):
    logs = tmp_path / "logs"
    make_file(logs / "cron.log", content=b"x" * 100000)
    make_file(logs / "push.log", content=b"y" * 5000)
    make_file(logs / "push.log.1.zst", content=b"z" * 123)
    make_file(logs / "sub/deep.log", content=b"w" * 70000)
    return str(logs)


def du_bytes(path):
    return int(subprocess.run(["du", "-sB1", path], check=True, capture_output=True, text=True).stdout.split()[0])


# What os.statvfs gives, chosen by the test: the free space of a shared
# filesystem changes under other writers (another lane building images), so
# no test reads it. Every field differs from the others, so a reading that
# takes the wrong one (root's f_bfree, f_bsize for f_frsize, f_ffree) shows.
STATVFS = os.statvfs_result((4096, 1024, 10000000, 7000000, 6000000, 500000, 400000, 300000, 0, 255))
# df's "avail": the blocks free to a user other than root, in fragments.
STATVFS_AVAIL = 6000000 * 1024
NOW = 1700000500.25  # the host's clock, as the test sets it


@pytest.fixture
def fixed_filesystem(monkeypatch):
    """os.statvfs answers STATVFS for any path that exists, as the kernel would."""
    real = os.statvfs
    seen = []

    def statvfs(path):
        real(path)  # an OSError for a missing path, as the real call gives
        seen.append(str(path))
        return STATVFS

    monkeypatch.setattr(os, "statvfs", statvfs)
    return seen


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(probe, "time", types.SimpleNamespace(time=lambda: NOW))


def logrotate_state(tmp_path, logs):
    return make_file(tmp_path / "logrotate.status", content=(
        "logrotate state -- version 2\n"
        '"/var/log/syslog" 2031-1-1-0:0:0\n'
        '"%(logs)s/cron.log" 2024-3-10-3:0:1\n'
        '"%(logs)s/push.log" 2024-11-2-6:25:0\n'
        '"%(logs)s/sub/deep.log" 2032-1-1-0:0:0\n'
        '"%(logs)s/history.json" 2033-1-1-0:0:0\n'
        '"%(logs)s-old/cron.log" 2034-1-1-0:0:0\n'
        '%(logs)s/unquoted.log 2024-5-1-0:0:0\n'
        'not an entry\n' % {"logs": logs}).encode())


# The newest entry for a *.log directly in logs, as the local time logrotate writes.
NEWEST_ROTATION = time.mktime((2024, 11, 2, 6, 25, 0, 0, 0, -1))


JOBS = ["health", "push", "update", "inbox"]


def test_job_records_are_read_from_the_state_files_only(tmp_path):
    records = job_records.read_records(state_dir_with_records(tmp_path), JOBS)

    assert records == {"health": HEALTH_RECORD, "push": PUSH_RECORD}


def test_job_records_of_a_missing_or_empty_state_dir_are_none(tmp_path):
    (tmp_path / "empty").mkdir()

    assert job_records.read_records(str(tmp_path / "missing"), JOBS) == {}
    assert job_records.read_records(str(tmp_path / "empty"), JOBS) == {}
    assert job_records.read_records("", JOBS) == {}


def test_only_the_records_of_the_jobs_asked_for_are_read(tmp_path):
    assert job_records.read_records(state_dir_with_records(tmp_path), ["push"]) == {"push": PUSH_RECORD}


def planted(tmp_path, plant):
    """A state dir whose health record the app user replaced by plant(path)."""
    state_dir = state_dir_with_records(tmp_path)
    path = os.path.join(state_dir, "health.state")
    os.unlink(path)
    plant(path)
    return job_records.read_records(state_dir, JOBS)


def test_a_record_linked_to_a_secret_gives_an_error_and_not_a_byte_of_it(tmp_path):
    secret = make_file(tmp_path / "root-only", 0o600, b"name=health\nexit_code=0\nTOPSECRET\n")

    records = planted(tmp_path, lambda path: os.symlink(secret, path))

    assert "found: link" in records["health"]["error"] and set(records["health"]) == {"error"}
    assert "TOPSECRET" not in json.dumps(records)
    assert records["push"] == PUSH_RECORD


def test_a_fifo_record_is_refused_without_blocking(tmp_path):
    records = planted(tmp_path, os.mkfifo)

    assert "found: other" in records["health"]["error"]


def test_a_record_over_the_size_cap_is_refused(tmp_path):
    records = planted(tmp_path, lambda path: make_file(pathlib.Path(path), content=b"name=health\n" * 1000))

    assert "at most 4096 bytes" in records["health"]["error"]


@pytest.mark.parametrize("change, fragment", [
    (("exit_code=0", "exit_code=x"), "malformed exit_code"),
    (("exit_code=0", "exit_code=300"), "exit code above 255"),
    (("exit_code=0", "exit_code=-1"), "malformed exit_code"),
    (("outcome=success", "outcome=pwned"), "malformed outcome"),
    (("outcome=success", "outcome=env_refusedx"), "malformed outcome"),
    (("last_success=1700000002.600", "last_success=1e9"), "malformed last_success"),
    (("name=health", "name=push"), "names another job"),
    (("skipped=0\n", ""), "lacks skipped"),
    (("skipped=0", "skipped=0\nsecret=hunter2"), "not one of its fields"),
    (("skipped=0", "skipped=0\nskipped=0"), "a field twice"),
])
def test_a_forged_field_is_an_error_naming_the_field_and_not_its_value(tmp_path, change, fragment):
    text = HEALTH_TEXT.replace(*change)

    records = planted(tmp_path, lambda path: make_file(pathlib.Path(path), content=text.encode()))

    assert fragment in records["health"]["error"] and set(records["health"]) == {"error"}
    assert "hunter2" not in json.dumps(records)


def test_disk_usage_matches_du(tmp_path):
    logs = logs_dir_with_files(tmp_path)

    assert job_records.disk_usage(logs) == du_bytes(logs)
    assert job_records.disk_usage(logs) >= 100000 + 5000 + 123 + 70000


def test_disk_usage_and_free_space_of_a_missing_dir_are_none(tmp_path):
    assert job_records.disk_usage(str(tmp_path / "missing")) is None
    assert probe._free_space(str(tmp_path / "missing")) is None


def test_free_space_is_what_df_says_is_available(tmp_path, fixed_filesystem):
    """df's Avail (coreutils: f_bavail x f_frsize), the space left to a user
    other than root, not root's f_bfree."""
    free = probe._free_space(str(tmp_path))

    assert free == STATVFS_AVAIL
    assert fixed_filesystem == [str(tmp_path)]


def test_disk_usage_counts_a_hard_linked_file_once_like_du(tmp_path):
    logs = logs_dir_with_files(tmp_path)
    os.link(os.path.join(logs, "cron.log"), os.path.join(logs, "cron.log.hardlink"))

    assert job_records.disk_usage(logs) == du_bytes(logs)


def test_last_rotation_is_the_newest_entry_for_a_log_directly_in_logs_dir(tmp_path):
    logs = logs_dir_with_files(tmp_path)
    state = logrotate_state(tmp_path, logs)

    assert job_records.last_rotation(state, logs) == NEWEST_ROTATION
    assert job_records.last_rotation(state, logs + "/") == NEWEST_ROTATION


def test_last_rotation_is_none_without_a_state_file_or_an_entry(tmp_path):
    logs = logs_dir_with_files(tmp_path)
    state = logrotate_state(tmp_path, logs)

    assert job_records.last_rotation(str(tmp_path / "missing"), logs) is None
    assert job_records.last_rotation(state, str(tmp_path / "other")) is None


def test_mtime_of_a_file_and_of_nothing(tmp_path):
    path = make_file(tmp_path / "crontab")
    os.utime(path, (1600000000, 1700000000.5))

    assert probe._mtime(path) == 1700000000.5
    assert probe._mtime(str(tmp_path / "missing")) is None


def run_report(monkeypatch, capsys, tmp_path, crontabs, **args):
    host = Host(monkeypatch, crontab=(0, "*/5 * * * * job health\n", ""))
    monkeypatch.setattr(probe, "CRONTABS", str(crontabs))
    logs = logs_dir_with_files(tmp_path)
    code, result = run_main(capsys, user=USER, group=GROUP, report=True, state_dir=state_dir_with_records(tmp_path),
                            jobs=JOBS,
                            logs_dir=logs, logrotate_state=logrotate_state(tmp_path, logs), **args)
    assert code == 0 and result["changed"] is False
    assert host.ran == [["crontab", "-l", "-u", USER]]  # report=true runs no other command
    return result["probe"], logs


def test_main_with_report_reads_the_jobs_logs_and_rotation(monkeypatch, capsys, tmp_path, fixed_filesystem,
                                                           fixed_clock):
    crontabs = tmp_path / "crontabs"
    crontabs.mkdir()

    found, logs = run_report(monkeypatch, capsys, tmp_path, crontabs)

    assert set(found) == PROBE_KEYS | REPORT_KEYS
    assert found["now"] == NOW
    assert found["jobs"] == {"health": HEALTH_RECORD, "push": PUSH_RECORD}
    assert found["logs"]["size"] == du_bytes(logs)
    assert found["logs"]["free"] == STATVFS_AVAIL and logs in fixed_filesystem
    assert found["last_rotation"] == NEWEST_ROTATION
    assert found["crontab_changed"] is None  # no crontab file for the user
    assert found["crontab"] == ["*/5 * * * * job health"]


def test_main_with_report_gives_when_the_users_crontab_file_changed(monkeypatch, capsys, tmp_path):
    crontabs = tmp_path / "crontabs"
    os.utime(make_file(crontabs / USER, 0o600, b"*/5 * * * * job health\n"), (1700000000, 1700000123.25))
    make_file(crontabs / "someone-else")

    found = run_report(monkeypatch, capsys, tmp_path, crontabs)[0]

    assert found["crontab_changed"] == 1700000123.25


def test_main_with_report_and_nothing_to_read_reports_nulls(monkeypatch, capsys, tmp_path):
    Host(monkeypatch)
    monkeypatch.setattr(probe, "CRONTABS", str(tmp_path / "no-crontabs"))

    found = run_main(capsys, user=USER, group=GROUP, report=True, state_dir=str(tmp_path / "no-state"),
                     logs_dir=str(tmp_path / "no-logs"), logrotate_state=str(tmp_path / "no-status"))[1]["probe"]

    assert found["jobs"] == {}
    assert found["logs"] == {"size": None, "free": None}
    assert found["last_rotation"] is None and found["crontab_changed"] is None


def test_main_without_report_reads_none_of_it(monkeypatch, capsys, tmp_path):
    Host(monkeypatch)

    found = run_main(capsys, user=USER, group=GROUP, state_dir=state_dir_with_records(tmp_path),
                     logs_dir=logs_dir_with_files(tmp_path))[1]["probe"]

    assert set(found) == PROBE_KEYS
    assert not REPORT_KEYS & set(found)


def test_main_lists_the_leftovers_of_runs_cut_short_beside_the_paths(monkeypatch, capsys, tmp_path):
    Host(monkeypatch)
    monkeypatch.setattr(probe.safety, "PRIVATE_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    managed = make_file(tmp_path / "etc" / "policy")
    leftover = make_file(tmp_path / "etc" / "policy.server-maintanence-tmp-0123456789abcdef~")
    crontab_copy = make_file(tmp_path / "run" / "crontab.server-maintanence-tmp-fedcba9876543210~")
    make_file(tmp_path / "etc" / ".policy.swp")  # an editor's, not the role's
    os.chown(make_file(tmp_path / "etc" / "x.server-maintanence-tmp-00000000000000ff~"), 65534, 65534)

    found = run_main(capsys, user=USER, group=GROUP, paths=[managed])[1]["probe"]

    assert found["leftovers"] == [leftover, crontab_copy]


@pytest.mark.parametrize("flag, read_only", [(0, False), (os.ST_RDONLY, True)])
def test_main_with_report_says_whether_the_state_dir_can_take_records(monkeypatch, capsys, tmp_path,
                                                                      fixed_filesystem, flag, read_only):
    monkeypatch.setattr(os, "statvfs", lambda path, statvfs=os.statvfs: os.statvfs_result(
        tuple(statvfs(path))[:8] + (flag,) + tuple(statvfs(path))[9:]))
    crontabs = tmp_path / "crontabs"
    crontabs.mkdir()

    found = run_report(monkeypatch, capsys, tmp_path, crontabs)[0]

    assert str(tmp_path / "state") in fixed_filesystem
    # Space and inodes free to a user other than root (f_bavail, f_favail).
    assert found["state_dir"]["free"] == STATVFS_AVAIL
    assert found["state_dir"]["free_inodes"] == 300000 and found["state_dir"]["read_only"] is read_only
    assert isinstance(found["state_dir"]["writable"], bool)


def test_a_record_of_a_job_the_env_file_stopped_is_trusted():
    text = HEALTH_TEXT.replace("exit_code=0", "exit_code=65").replace("outcome=success", "outcome=env_refused")
    assert job_records.parse_record(text, "health") == dict(HEALTH_RECORD, exit_code="65", outcome="env_refused")


# ------------------------------------------- the mode the app's update picks --

class NoCommands:
    """A module that must run nothing."""

    def run_command(self, args):
        raise AssertionError("ran %s" % args)


@pytest.mark.parametrize("content, mode", [
    (b"DJANGO_ENV=prod\n", "prod"), (b"DEPLOY_METHOD=docker\nDJANGO_ENV=dev\n", "docker"),
    (b"DJANGO_ENV=dev\n", "dev"), (b"SECRET=x\n", "dev"),
])
def test_the_updates_mode_without_systemd_runs_nothing_and_shows_nothing_of_the_env(tmp_path, content, mode):
    env = make_file(tmp_path / ".env", content=content)
    found = probe._update_mode(NoCommands(), env, False, True)
    assert found == {"mode": mode, "systemd": None if mode == "docker" else "systemd is not PID 1"}


def test_a_missing_project_env_is_a_dev_host_as_the_app_sees_it(tmp_path):
    assert probe._update_mode(NoCommands(), str(tmp_path / ".env"), False, True)["mode"] == "dev"


@pytest.mark.parametrize("plant", ["link", "fifo", "huge", "directory"])
def test_a_project_env_the_app_user_planted_is_never_followed_waited_on_or_read_whole(tmp_path, plant):
    target = make_file(tmp_path / "secret", content=b"DJANGO_ENV=prod\n")
    env = tmp_path / ".env"
    if plant == "link":
        env.symlink_to(target)
    elif plant == "fifo":
        os.mkfifo(env)  # a blocking open would hang the test
    elif plant == "huge":
        env.write_bytes(b"DJANGO_ENV=prod\n" + b"#" * probe.PROJECT_ENV_LIMIT)
    else:
        env.mkdir()
    assert probe._update_mode(NoCommands(), str(env), False, True) == {"mode": None, "systemd": None}


def test_a_project_env_under_a_link_a_user_could_have_planted_is_not_read(tmp_path, monkeypatch):
    real = tmp_path / "real"
    make_file(real / ".env", content=b"DJANGO_ENV=prod\n")
    (tmp_path / "project").symlink_to(real)
    monkeypatch.setattr(probe, "_root_only", lambda directory: False)
    assert probe._update_mode(NoCommands(), str(tmp_path / "project" / ".env"), False, True)["mode"] is None


@pytest.mark.parametrize("bus, listed, systemctl, why", [
    ("socket", True, True, None),
    ("socket", False, True, "systemd does not know server-monitoring.service"),
    ("file", True, True, "there is no D-Bus system bus"),
    (None, True, True, "there is no D-Bus system bus"),
    ("socket", True, False, "systemctl is missing"),
])
def test_the_systemd_test_is_the_unit_listed_over_a_system_bus(tmp_path, monkeypatch, bus, listed, systemctl, why):
    import socket
    path = tmp_path / "bus"
    listener = socket.socket(socket.AF_UNIX)
    if bus == "socket":
        listener.bind(str(path))
    elif bus == "file":
        make_file(path)
    monkeypatch.setattr(probe, "SYSTEM_BUS", str(path))
    ran = []

    class Module:
        def run_command(self, args):
            ran.append(args)
            return 0, "UNIT FILE STATE\n%s" % ("server-monitoring.service enabled\n" if listed else ""), ""

    try:
        found = probe._update_mode(Module(), str(tmp_path / ".env"), True, systemctl)
    finally:
        listener.close()
    assert found == {"mode": "systemd" if why is None else "dev",
                     "systemd": "%s (%s)" % (why, path) if bus != "socket" else why}
    assert ran == ([["systemctl", "list-unit-files", "server-monitoring.service"]]
                   if bus == "socket" and systemctl else [])


def test_main_reads_the_updates_mode_only_when_given_the_project_env(monkeypatch, capsys, tmp_path):
    Host(monkeypatch)
    env = make_file(tmp_path / ".env", content=b"DJANGO_ENV=prod\n")
    found = run_main(capsys, user=USER, group=GROUP, project_env=env)[1]["probe"]
    assert found["update_mode"] == {"mode": "prod", "systemd": "systemd is not PID 1"}
    assert "DJANGO_ENV" not in json.dumps(found)
    assert run_main(capsys, user=USER, group=GROUP)[1]["probe"]["update_mode"] is None
