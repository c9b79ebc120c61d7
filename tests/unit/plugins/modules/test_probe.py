"""The probe module (plugins/modules/probe.py, a thin main()) on a temporary
filesystem: no root, no real crontab, no systemd; its arguments and the
result it returns.

Its mechanics have their own tests: the reading in test__host_reading.py
(module_utils/_host_reading.py, which the maintenance module reads the host
with too), the job records, the disk usage and logrotate's state in
test__job_records.py (module_utils/_job_records.py, the code the job runner
writes them with)."""

import hashlib
import json
import os
import pathlib
import types

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.server_maintanence.ops.plugins.module_utils import _host_reading as probe

from ...conftest import load_module, patch_module_args
from ..module_utils.test__host_reading import GROUP, STATVFS_AVAIL, USER, make_file
from ..module_utils.test__host_reading import fixed_filesystem  # noqa: F401  pylint: disable=unused-import
from ..module_utils.test__job_records import HEALTH_RECORD, JOBS, NEWEST_ROTATION, PUSH_RECORD, du_bytes
from ..module_utils.test__job_records import logrotate_state, logs_dir_with_files, state_dir_with_records

probe_module = load_module("probe")

PROBE_KEYS = {"user_exists", "group_exists", "uv", "env", "env_in_sync", "env_refused", "commands", "crontab",
              "systemd", "cron_running", "services", "units_active", "paths", "apt_lists", "user_groups", "leftovers",
              "update_mode"}


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


REPORT_KEYS = {"now", "jobs", "logs", "last_rotation", "crontab_changed", "state_dir", "update_history"}
NOW = 1700000500.25  # the host's clock, as the test sets it


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(probe, "time", types.SimpleNamespace(time=lambda: NOW))


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


def test_main_reads_the_updates_mode_only_when_given_the_project_env(monkeypatch, capsys, tmp_path):
    Host(monkeypatch)
    env = make_file(tmp_path / ".env", content=b"DJANGO_ENV=prod\n")
    found = run_main(capsys, user=USER, group=GROUP, project_env=env)[1]["probe"]
    assert found["update_mode"] == {"mode": "prod", "systemd": "systemd is not PID 1"}
    assert "DJANGO_ENV" not in json.dumps(found)
    assert run_main(capsys, user=USER, group=GROUP)[1]["probe"]["update_mode"] is None
