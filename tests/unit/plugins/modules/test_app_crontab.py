"""The app_crontab module against a fake crontab(1): one read, at most one write."""

import importlib.util
import json
import os
import pathlib
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule

# The shared loader, by file path: plain pytest and ansible-test units import tests differently.
_spec = importlib.util.spec_from_file_location("module_loading", pathlib.Path(__file__).with_name("module_loading.py"))
module_loading = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(module_loading)
load_module, patch_module_args = module_loading.load_module, module_loading.patch_module_args

app_crontab = load_module("app_crontab")
# Its mechanics, shared with the maintenance module.
from ansible_collections.server_maintanence.ops.plugins.module_utils import _crontab as crontab_utils  # noqa: E402

RUNNER = "/usr/local/bin/server-maintanence-job"
HEALTH = {"name": "server-maintanence health check", "state": "present",
          "line": "*/5 * * * * %s --log cron.log health 240 /uv run python manage.py run_pipeline" % RUNNER,
          "markers": [RUNNER + " --log cron.log health "]}
UPDATE = {"name": "server-maintanence auto-update", "state": "absent", "markers": [RUNNER + " update "]}
INSTALLER = "0 3 * * * cd /opt/sm && bin/update.sh --rollback # server-maintanence auto-update"
MINE = "17 4 * * * /usr/bin/true"


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

    code, _result = run(capsys, [HEALTH])

    assert code == 0 and crontab.modes == [0o600]
    (call,) = [call for call in crontab.calls if call[1] == "-u"]
    assert os.path.dirname(call[3]) == str(copies) and os.path.basename(call[3]).startswith("crontab.")
    assert call[3].endswith("~") and list(copies.iterdir()) == []


def test_a_fresh_crontab_gets_the_entries_in_one_write(monkeypatch, capsys):
    crontab = Crontab(monkeypatch)

    code, result = run(capsys, [HEALTH, UPDATE])

    assert code == 0 and result["changed"] is True
    assert crontab.text == "#Ansible: %s\n%s\n" % (HEALTH["name"], HEALTH["line"])
    assert [call[:2] for call in crontab.calls] == [["crontab", "-l"], ["crontab", "-u"]]


def test_a_crontab_in_place_is_read_once_and_not_written(monkeypatch, capsys):
    crontab = Crontab(monkeypatch, "MAILTO=ops\n#Ansible: %s\n%s\n" % (HEALTH["name"], HEALTH["line"]))

    code, result = run(capsys, [HEALTH, UPDATE])

    assert code == 0 and result["changed"] is False and result["taken_over"] == []
    assert len(crontab.calls) == 1


def test_check_mode_with_diff_shows_the_installers_lines_going_and_writes_nothing(monkeypatch, capsys):
    before = "%s\n%s\n" % (INSTALLER, MINE)
    crontab = Crontab(monkeypatch, before)

    code, result = run(capsys, [HEALTH, UPDATE], _ansible_check_mode=True, _ansible_diff=True)

    assert code == 0 and result["changed"] is True and result["taken_over"] == [INSTALLER]
    assert result["diff"]["before"] == before
    assert result["diff"]["after"] == "%s\n#Ansible: %s\n%s\n" % (MINE, HEALTH["name"], HEALTH["line"])
    assert crontab.text == before and len(crontab.calls) == 1


def test_uninstall_keeps_the_installers_lines_when_told_to(monkeypatch, capsys):
    crontab = Crontab(monkeypatch, "%s\n#Ansible: %s\n%s\n" % (INSTALLER, HEALTH["name"], HEALTH["line"]))

    code, result = run(capsys, [dict(HEALTH, state="absent"), UPDATE], take_over=False)

    assert code == 0 and result["changed"] is True and result["taken_over"] == []
    assert crontab.text == INSTALLER + "\n"


def test_without_crontab_installed_check_mode_says_a_real_run_installs_them(monkeypatch, capsys):
    crontab = Crontab(monkeypatch, installed=False)

    code, result = run(capsys, [HEALTH], _ansible_check_mode=True)

    assert code == 0 and result["changed"] is True and "crontab is not installed yet" in result["msg"]
    assert crontab.calls == []


@pytest.mark.parametrize("line", ["", "* * * * * a\n* * * * * b"])
def test_a_present_entry_needs_one_line(monkeypatch, capsys, line):
    Crontab(monkeypatch, "")

    code, result = run(capsys, [dict(HEALTH, line=line)])

    assert code == 1 and "must be one non-empty line" in result["msg"]


def test_a_failing_crontab_l_fails_the_task(monkeypatch, capsys):
    crontab = Crontab(monkeypatch)
    monkeypatch.setattr(AnsibleModule, "run_command",
                        lambda module, args, **kwargs: (1, "", "crontab: user 'www-data' unknown\n"))

    code, result = run(capsys, [HEALTH])

    assert code == 1 and "crontab -l -u www-data failed" in result["msg"]
    assert crontab.calls == []
