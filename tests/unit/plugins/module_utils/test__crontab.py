"""module_utils/_crontab.py: the reconciler shared by the app_crontab module
and the planner, and the crontab's one read and at most one write, from a
complete private file, against a fake crontab(1). The write is driven
through the app_crontab module's main(), which hands its entries to
_crontab.apply(); the module's own interface is
tests/unit/plugins/modules/test_app_crontab.py."""

import json
import os
import pathlib
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.server_maintanence.ops.plugins.module_utils import _crontab as crontab_utils

from ...conftest import load_module, patch_module_args

app_crontab = load_module("app_crontab")

crontab = crontab_utils

RUNNER = "/usr/local/bin/server-maintanence-job"
HEALTH = {"name": "server-maintanence health check", "state": "present",
          "line": "*/5 * * * * %s --log cron.log health 240 /uv run python manage.py run_pipeline" % RUNNER,
          "markers": [RUNNER + " --log cron.log health ", " /opt/sm/logs/health.lock "]}
UPDATE = {"name": "server-maintanence auto-update", "state": "absent", "line": "",
          "markers": [RUNNER + " update ", " /opt/sm/logs/update.lock "]}
PUSH = {"name": "server-maintanence cluster push", "state": "absent", "line": "", "markers": [RUNNER + " push "]}
ENTRIES = [HEALTH, UPDATE, PUSH]
NAMES = [entry["name"] for entry in ENTRIES]
HEADER = "#Ansible: server-maintanence health check"
MINE = "17 4 * * * /usr/bin/true # the operator's own"
IN_PLACE = ["MAILTO=ops", HEADER, HEALTH["line"], MINE]


def test_a_crontab_in_place_is_left_as_it_is():
    assert crontab.reconcile(IN_PLACE, ENTRIES) == (IN_PLACE, [])


def test_an_empty_crontab_gets_the_present_entries_only():
    assert crontab.reconcile([], ENTRIES) == ([HEADER, HEALTH["line"]], [])


@pytest.mark.parametrize("edited", [
    HEALTH["line"].replace("*/5", "*/7", 1),
    HEALTH["line"].replace("run_pipeline", "run_check"),
    "*/5 * * * * cd /opt/sm && flock -n /opt/sm/logs/health.lock uv run python manage.py run_pipeline",
])
def test_an_edited_entry_is_put_right_where_it_stands(edited):
    assert crontab.reconcile(["MAILTO=ops", HEADER, edited, MINE], ENTRIES)[0] == IN_PLACE


@pytest.mark.parametrize("malformed", [
    ["MAILTO=ops", HEADER, MINE],  # the job line deleted, its header left
    ["MAILTO=ops", HEALTH["line"], MINE],  # the header deleted
    ["MAILTO=ops", HEADER, HEALTH["line"], HEADER, HEALTH["line"], MINE],  # twice
    ["MAILTO=ops", HEADER, HEALTH["line"], MINE, HEALTH["line"]],  # a stray copy
])
def test_a_malformed_entry_becomes_one_entry_and_other_lines_stay(malformed):
    new = crontab.reconcile(malformed, ENTRIES)[0]
    assert new.count(HEADER) == 1 and new.count(HEALTH["line"]) == 1
    assert new[new.index(HEADER) + 1] == HEALTH["line"]
    assert [line for line in new if line not in (HEADER, HEALTH["line"])] == ["MAILTO=ops", MINE]


def test_an_absent_entry_is_removed_with_its_header():
    lines = IN_PLACE + ["#Ansible: server-maintanence auto-update", "30 3 * * * %s update 1800 bin/update.sh" % RUNNER]
    assert crontab.reconcile(lines, ENTRIES) == (IN_PLACE, [])


def test_the_installers_lines_are_taken_over_and_reported():
    installer = ["*/5 * * * * cd /opt/sm && uv run python manage.py run_pipeline # server-maintanence health check",
                 "0 3 * * * cd /opt/sm && bin/update.sh --rollback # server-maintanence auto-update",
                 "*/5 * * * * push # server-maintanence cluster push  "]
    new, taken_over = crontab.reconcile(["MAILTO=ops"] + installer + [MINE], ENTRIES)
    assert taken_over == installer
    assert new == ["MAILTO=ops", MINE, HEADER, HEALTH["line"]]


def test_installer_lines_exclude_comments_ansible_entries_and_untagged_lines():
    lines = [
        "#Ansible: server-maintanence health check",
        "*/5 * * * * cd /opt/x && uv run python manage.py run_pipeline # server-maintanence health check",
        "*/5 * * * * cd /opt/x && uv run python manage.py run_pipeline # server-maintanence health check",
        "# 0 3 * * * old # server-maintanence auto-update",
        "17 4 * * * /usr/bin/true # my own server-maintanence health check notes",
    ]
    assert crontab.installer_lines(lines, NAMES) == [(lines[2], "server-maintanence health check")]


def test_an_installer_line_is_the_job_of_the_entry_named_by_its_tag_and_others_are_kept():
    push = "*/5 * * * * push # server-maintanence cluster push"
    lines = ["1 * * * * x #server-maintanence auto-update", push]
    assert crontab.installer_lines(lines, NAMES) == [(lines[0], "server-maintanence auto-update"),
                                                     (push, "server-maintanence cluster push")]
    # A job the role is not given is not taken over: its line stays.
    new, taken_over = crontab.reconcile(lines, [HEALTH, UPDATE])
    assert taken_over == [lines[0]] and push in new
    assert crontab.installer_lines(lines, []) == []


def test_reconciling_twice_changes_nothing_more():
    messy = ["MAILTO=ops", HEADER, MINE, "x # server-maintanence cluster push", HEALTH["line"]]
    once = crontab.reconcile(messy, ENTRIES)[0]
    assert crontab.reconcile(once, ENTRIES) == (once, [])


# one read, at most one write ------------------------------------------------

# The app_crontab module's entries (the reconciler's tests above have their own).
HEALTH_ENTRY = {"name": "server-maintanence health check", "state": "present",
                "line": "*/5 * * * * %s --log cron.log health 240 /uv run python manage.py run_pipeline" % RUNNER,
                "markers": [RUNNER + " --log cron.log health "]}
UPDATE_ENTRY = {"name": "server-maintanence auto-update", "state": "absent", "markers": [RUNNER + " update "]}
INSTALLER = "0 3 * * * cd /opt/sm && bin/update.sh --rollback # server-maintanence auto-update"
MINE_LINE = "17 4 * * * /usr/bin/true"


class Crontab:
    """crontab(1) for one user: `-l` answers, `-u USER FILE` stores the file;
    every call recorded, with the mode of each file it read."""

    def __init__(self, monkeypatch, text=None, installed=True):
        self.text, self.calls, self.modes = text, [], []
        monkeypatch.setattr(AnsibleModule, "run_command", self.run_command)
        monkeypatch.setattr(AnsibleModule, "get_bin_path",
                            lambda module, name, *args, **kwargs: "/usr/bin/crontab" if installed else None)

    def run_command(self, args, data=None, binary_data=False, **kwargs):
        self.calls.append(args)
        if args[:2] == ["crontab", "-l"]:
            return (0, self.text, "") if self.text is not None else (1, "", "no crontab for www-data\n")
        assert args[:3] == ["crontab", "-u", "www-data"] and len(args) == 4 and data is None
        self.modes.append(stat.S_IMODE(os.stat(args[3]).st_mode))
        self.text = pathlib.Path(args[3]).read_text()
        return 0, "", ""


def run(capsys, entries, **args):
    with patch_module_args(dict(args, user="www-data", entries=entries)):
        with pytest.raises(SystemExit) as exited:
            app_crontab.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture(autouse=True)
def copies(monkeypatch, tmp_path):
    """Where the module writes crontab's copies in these tests (on a host, /run)."""
    monkeypatch.setattr(crontab_utils.safety, "PRIVATE_DIR", str(tmp_path))
    return tmp_path


def test_the_crontab_is_installed_from_a_complete_private_file_then_removed(monkeypatch, capsys, copies):
    crontab = Crontab(monkeypatch)

    code, _result = run(capsys, [HEALTH_ENTRY])

    assert code == 0 and crontab.modes == [0o600]
    (call,) = [call for call in crontab.calls if call[1] == "-u"]
    assert os.path.dirname(call[3]) == str(copies) and os.path.basename(call[3]).startswith("crontab.")
    assert call[3].endswith("~") and list(copies.iterdir()) == []


def test_a_fresh_crontab_gets_the_entries_in_one_write(monkeypatch, capsys):
    crontab = Crontab(monkeypatch)

    code, result = run(capsys, [HEALTH_ENTRY, UPDATE_ENTRY])

    assert code == 0 and result["changed"] is True
    assert crontab.text == "#Ansible: %s\n%s\n" % (HEALTH_ENTRY["name"], HEALTH_ENTRY["line"])
    assert [call[:2] for call in crontab.calls] == [["crontab", "-l"], ["crontab", "-u"]]


def test_a_crontab_in_place_is_read_once_and_not_written(monkeypatch, capsys):
    crontab = Crontab(monkeypatch, "MAILTO=ops\n#Ansible: %s\n%s\n" % (HEALTH_ENTRY["name"], HEALTH_ENTRY["line"]))

    code, result = run(capsys, [HEALTH_ENTRY, UPDATE_ENTRY])

    assert code == 0 and result["changed"] is False and result["taken_over"] == []
    assert len(crontab.calls) == 1


def test_uninstall_keeps_the_installers_lines_when_told_to(monkeypatch, capsys):
    crontab = Crontab(monkeypatch, "%s\n#Ansible: %s\n%s\n" % (INSTALLER, HEALTH_ENTRY["name"], HEALTH_ENTRY["line"]))

    code, result = run(capsys, [dict(HEALTH_ENTRY, state="absent"), UPDATE_ENTRY], take_over=False)

    assert code == 0 and result["changed"] is True and result["taken_over"] == []
    assert crontab.text == INSTALLER + "\n"
