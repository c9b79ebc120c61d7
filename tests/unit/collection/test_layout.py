"""The unit tests mirror the code, so a reader finds a file's tests by its name.

Each plugins/<type>/<name>.py has tests/unit/plugins/<type>/test_<name>.py
(a private module_utils _x.py has test__x.py), as community.docker lays out
its tests. A test file under tests/unit/plugins/ names the plugin file it
tests: test_<name>.py, or test_<name>_<part>.py for one part of a large one
(test__plan_host_errors.py). The other tests sit in a folder that says what
they test: role/ (the role's files and interface), app_contract/ (what the
role relies on in the app, read from its source) and collection/ (the
checkout: docs, metadata, workflow, the tests themselves); none sits loose
in tests/unit/.
"""

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]
PLUGINS = REPO / "plugins"
UNIT = REPO / "tests" / "unit"
PLUGIN_TESTS = UNIT / "plugins"
# The folders of tests/unit besides plugins/, each named for what its tests test.
SUBJECTS = {"role", "app_contract", "collection"}


def plugin_files():
    """plugins/<type>/<name>.py, as paths relative to plugins/."""
    return sorted(path.relative_to(PLUGINS) for path in PLUGINS.glob("*/*.py") if path.name != "__init__.py")


def plugin_test_files():
    """tests/unit/plugins/<type>/test_*.py, as paths relative to tests/unit/plugins/."""
    return sorted(path.relative_to(PLUGIN_TESTS) for path in PLUGIN_TESTS.rglob("test_*.py"))


def test_each_plugin_file_has_a_test_file_of_its_name():
    missing = [str(path) for path in plugin_files()
               if not (PLUGIN_TESTS / path.parent / ("test_" + path.name)).is_file()]
    assert plugin_files() and not missing, "no tests/unit/plugins/<type>/test_<name>.py for plugins/ %s" % missing


def test_each_test_file_under_plugins_names_a_plugin_file():
    names = {}
    for path in plugin_files():
        names.setdefault(str(path.parent), set()).add(path.stem)
    strays = []
    for path in plugin_test_files():
        tested = path.stem[len("test_"):]
        kind = str(path.parent)
        if not any(tested == name or tested.startswith(name + "_") for name in names.get(kind, ())):
            strays.append(str(path))
    assert plugin_test_files() and not strays, \
        "tests/unit/plugins/ files that name no plugins/<type>/<name>.py: %s" % strays


def test_no_test_sits_loose_in_tests_unit():
    loose = sorted(path.name for path in UNIT.glob("test_*.py"))
    folders = {path.name for path in UNIT.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert not loose, "tests/unit/%s: move it under plugins/ or the folder of what it tests" % loose
    assert folders == {"plugins"} | SUBJECTS, "tests/unit/ folders: %s" % sorted(folders)


def test_the_layout_test_sees_a_missing_and_a_stray_test_file(tmp_path, monkeypatch):
    """The checks above fail on a plugin without tests and on a test of nothing."""
    (tmp_path / "plugins" / "filter").mkdir(parents=True)
    (tmp_path / "plugins" / "filter" / "core.py").write_text("")
    (tmp_path / "plugins" / "module_utils").mkdir()
    (tmp_path / "plugins" / "module_utils" / "_x.py").write_text("")
    (tmp_path / "tests" / "filter").mkdir(parents=True)
    (tmp_path / "tests" / "filter" / "test_core.py").write_text("")
    (tmp_path / "tests" / "filter" / "test_filters.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PLUGINS", tmp_path / "plugins")
    monkeypatch.setattr(sys.modules[__name__], "PLUGIN_TESTS", tmp_path / "tests")
    failures = []
    checks = (test_each_plugin_file_has_a_test_file_of_its_name, test_each_test_file_under_plugins_names_a_plugin_file)
    for check in checks:
        try:
            check()
        except AssertionError as error:
            failures.append(str(error))
    assert len(failures) == 2, failures
    assert "module_utils/_x.py" in failures[0] and "filter/test_filters.py" in failures[1], failures
