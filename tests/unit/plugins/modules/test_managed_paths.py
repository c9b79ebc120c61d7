"""The managed_paths module (deprecated): its arguments and the result it
returns, on a temporary directory as the test's user. What it does to the
paths is _paths.py's, tested in tests/unit/plugins/module_utils/test__paths.py
through this module."""

import pytest

from ..module_utils.test__paths import a_directory, a_file, run


def test_check_mode_reports_every_change_and_makes_none(tmp_path, capsys):
    items = [a_directory(tmp_path / "d"), a_file(tmp_path / "f"),
             {"path": str(tmp_path / "l"), "state": "link", "src": "/nowhere"}]
    code, result = run(capsys, items, check=True, diff=True)
    assert (code, result["changed_paths"]) == (0, [item["path"] for item in items])
    assert [d["before"] for d in result["diff"]] == ["absent\n"] * 3
    assert list(tmp_path.iterdir()) == []


def test_a_refusal_still_reports_what_changed_before_it(tmp_path, capsys):
    (tmp_path / "dir").mkdir()
    link = {"path": str(tmp_path / "dir"), "state": "link", "src": "/nowhere"}
    code, result = run(capsys, [a_file(tmp_path / "first"), link])
    assert (code, result["changed"], result["changed_paths"]) == (1, True, [str(tmp_path / "first")])


@pytest.mark.parametrize("item, message", [
    ({"path": "relative", "state": "absent"}, "relative: is not an absolute path"),
    ({"path": "/x", "state": "file", "owner": "root"}, "/x: needs group, mode for state file"),
    ({"path": "/x", "state": "link"}, "/x: needs src for state link"),
])
def test_incomplete_arguments_are_refused_before_anything_changes(capsys, item, message):
    code, result = run(capsys, [item])
    assert code == 1 and result["msg"] == message
