"""module_utils/_constants.py: each of the role's names and fixed paths has
one home, which the host side and the controller side both import."""

import ast
import pathlib

from ansible_collections.server_maintanence.ops.plugins.module_utils import _constants, _host_reading
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description

PLUGINS = pathlib.Path(__file__).resolve().parents[4] / "plugins"
# Every module's documentation variables: one per module, by design.
MODULE_DOCS = {"DOCUMENTATION", "EXAMPLES", "RETURN"}


def top_level_constants():
    """(file, name, value) of each module-level NAME = value under plugins/,
    value the literal when it is a string, else None."""
    found = []
    for path in sorted(PLUGINS.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign):
                value = node.value.value if isinstance(node.value, ast.Constant) else None
                for target in node.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    found.extend((path.relative_to(PLUGINS).as_posix(), name.id, value)
                                 for name in names if isinstance(name, ast.Name) and name.id.isupper())
    return found


def test_no_constant_is_defined_in_two_files():
    homes = {}
    for path, name, _value in top_level_constants():
        homes.setdefault(name, set()).add(path)
    twice = {name: sorted(paths) for name, paths in homes.items() if len(paths) > 1 and name not in MODULE_DOCS}
    assert not twice, twice
    assert homes["PREFIX"] == {"module_utils/_constants.py"}
    assert homes["METRICS_NAME"] == {"module_utils/_job_records.py"}


def test_no_text_is_defined_twice_under_two_names():
    values = {}
    for path, name, value in top_level_constants():
        if isinstance(value, str) and name not in MODULE_DOCS:
            values.setdefault(value, []).append("%s:%s" % (path, name))
    twice = {value: names for value, names in values.items() if len(names) > 1}
    assert not twice, twice


def test_the_description_and_the_host_side_read_the_same_facts():
    assert description.PREFIX == _constants.PREFIX == "server_maintanence_"
    assert description.JOB_RUNNER == _constants.JOB_RUNNER
    assert _host_reading.OPTIONS["logrotate_state"]["default"] == _constants.LOGROTATE_STATE
    # The app's units: the sudo grant restarts both, by the names its update script uses.
    assert description.APP_ROOT_COMMAND == ["systemctl", "restart", "server-monitoring", "server-monitoring-inbox"]
    assert (_constants.APP_UNIT, _constants.INBOX_UNIT) == (
        "server-monitoring.service", "server-monitoring-inbox.service")
