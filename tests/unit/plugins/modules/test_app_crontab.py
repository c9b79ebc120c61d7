"""The app_crontab module (deprecated) against a fake crontab(1): its
arguments and the result it returns. Its one read and at most one write are
_crontab.py's, tested in tests/unit/plugins/module_utils/test__crontab.py
through this module."""

import pytest

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.test__crontab import HEALTH_ENTRY as HEALTH
from ..module_utils.test__crontab import MINE_LINE as MINE
from ..module_utils.test__crontab import UPDATE_ENTRY as UPDATE
from ..module_utils.test__crontab import INSTALLER, Crontab, copies, run  # noqa: F401  pylint: disable=unused-import


def test_check_mode_with_diff_shows_the_installers_lines_going_and_writes_nothing(monkeypatch, capsys):
    before = "%s\n%s\n" % (INSTALLER, MINE)
    crontab = Crontab(monkeypatch, before)

    code, result = run(capsys, [HEALTH, UPDATE], _ansible_check_mode=True, _ansible_diff=True)

    assert code == 0 and result["changed"] is True and result["taken_over"] == [INSTALLER]
    assert result["diff"]["before"] == before
    assert result["diff"]["after"] == "%s\n#Ansible: %s\n%s\n" % (MINE, HEALTH["name"], HEALTH["line"])
    assert crontab.text == before and len(crontab.calls) == 1


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
