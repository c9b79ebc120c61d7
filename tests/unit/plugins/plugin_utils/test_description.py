"""The role's table of managed things (description.managed(), built on the
controller from the role's inputs) is well formed, and what the planner
hands from it to the managed_paths mechanics is what they take: an
attribute misspelled in a row, or one the mechanics do not know, would
otherwise be dropped silently and the drift it describes never repaired.

The table is built from the role's defaults with their templates resolved
as a play would (logs under the project directory), a metrics directory
set and the env file managed, so that every kind of row appears."""

import inspect
import pathlib
import re

import yaml

from ansible_collections.server_maintanence.ops.plugins.action import maintenance as action
from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file, _paths
from ansible_collections.server_maintanence.ops.plugins.module_utils import _plan as planner
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description

REPO = pathlib.Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "server_maintanence"
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())

INPUTS = dict(DEFAULTS, server_maintanence_logs_dir="/opt/server-monitoring/logs",
              server_maintanence_instance_id="web1",
              server_maintanence_metrics_dir="/var/lib/prometheus/node-exporter",
              server_maintanence_manage_env_file=True)
# The role's files as the action plugin hands them over: those it installs as
# they are and its rendered templates; a file row without one fails here.
FILES = {path: "# %s\n" % path for path in list(action.FILES) + list(description.TEMPLATES)}
TABLE = description.managed(INPUTS, FILES, description.jobs(INPUTS, "web1"))

# What each kind of row must and may carry (description.managed documents each attribute).
REQUIRED = {"directory": {"owner", "group", "mode", "wanted"}, "file": {"content", "owner", "group", "mode", "wanted"},
            "link": {"src", "wanted"}, "runner_file": {"wanted"}, "env_file": {"owner", "group", "mode", "wanted"}}
OPTIONAL = {"directory": {"record", "keep_existing", "purge", "setting"}, "file": {"validate", "setting"},
            "link": {"setting"}, "runner_file": set(), "env_file": {"setting"}}


def _module_options(name):
    text = (REPO / "plugins" / "modules" / (name + ".py")).read_text()
    documentation = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', text, re.S).group(1))
    return documentation["options"]


def test_the_inputs_are_the_defaults_with_their_templates_resolved():
    assert not [name for name, value in INPUTS.items() if "{{" in str(value)]
    assert set(INPUTS) <= set(SPEC)


def test_every_kind_of_row_appears():
    assert {row["kind"] for row in TABLE} == set(REQUIRED)


def test_every_row_has_a_known_kind_and_exactly_the_attributes_of_its_kind():
    for row in TABLE:
        kind = row["kind"]
        where = row.get("path", row.get("paths"))
        attributes = set(row) - {"kind", "path", "paths"}
        assert ("path" in row) != ("paths" in row), where
        assert REQUIRED[kind] <= attributes, "%s lacks %s" % (where, REQUIRED[kind] - attributes)
        assert attributes <= REQUIRED[kind] | OPTIONAL[kind], "%s: unknown %s" % (
            where, attributes - REQUIRED[kind] - OPTIONAL[kind])


def test_every_path_is_one_row():
    paths = [row["path"] for row in TABLE]
    assert len(paths) == len(set(paths)) and all(path.startswith("/") for path in paths)


def test_a_setting_names_a_variable_of_the_role():
    settings = [row["setting"] for row in TABLE if "setting" in row]
    assert settings and set(settings) <= set(SPEC)


def test_what_the_planner_hands_over_is_what_managed_paths_takes():
    options = _paths.ITEM_OPTIONS
    # The module's documentation says what its argument spec takes.
    assert set(_module_options("managed_paths")["paths"]["suboptions"]) == set(options)
    row = {"path": "/x", "owner": "root", "group": "root", "mode": "0644", "content": "", "validate": "true %s",
           "src": "/y", "setting": "server_maintanence_x", "record": True, "keep_existing": True, "purge": True}
    for state in options["state"]["choices"]:
        item = planner._arguments(row, state)
        assert set(item) <= set(options), (state, set(item) - set(options))
    # Every attribute a row of each kind carries for the module reaches it.
    for kind in ("directory", "file", "link"):
        carried = (REQUIRED[kind] | OPTIONAL[kind]) & set(options)
        assert carried <= set(planner._arguments(row, kind)), kind
    # So does every attribute of the table's own rows, and nothing the module does not take.
    for table_row in TABLE:
        if table_row["kind"] in ("directory", "file", "link"):
            item = planner._arguments(table_row, table_row["kind"])
            assert set(item) <= set(options), (table_row["path"], set(item) - set(options))
            assert set(table_row) & set(options) <= set(item), table_row["path"]
            assert not _paths.item_errors([item]), table_row["path"]
    # A directory the role creates is handed over with the name of its record.
    assert "creation_record" in options


def test_the_env_file_row_carries_what_env_file_takes():
    options = _module_options("env_file")
    (row,) = [row for row in TABLE if row["kind"] == "env_file"]
    assert {"owner", "group", "mode", "setting"} <= set(row) and {"owner", "group", "mode", "setting"} <= set(options)
    # The maintenance module hands the planner's env_file step to the same code the env_file module runs.
    parameters = set(inspect.signature(_env_file.apply).parameters)
    assert {"path", "owner", "group", "mode", "setting"} <= parameters


def _grant_and_sudo(**changes):
    inputs = dict(INPUTS, **changes)
    (row,) = [row for row in description.managed(inputs, FILES, description.jobs(inputs, "web1"))
              if row["path"] == description.SUDOERS_FILE]
    (sudo,) = [package for package in description.packages(inputs) if package["package"] == "sudo"]
    return row, sudo["needed"]


def test_the_sudo_grant_and_sudo_are_wanted_only_with_auto_update_on_and_state_present():
    for on, state, wanted in ((True, "present", True), (False, "present", False), (True, "absent", False)):
        row, needed = _grant_and_sudo(server_maintanence_auto_update_enabled=on, server_maintanence_state=state)
        assert (row["wanted"], needed) == (wanted, wanted), (on, state)
    row, _needed = _grant_and_sudo(server_maintanence_auto_update_enabled=True, server_maintanence_user="app")
    assert (row["owner"], row["group"], row["mode"]) == ("root", "root", "0440")
    assert row["validate"].startswith("/usr/sbin/visudo -c")
    # One rule, for the app user, with no wildcard and no other tag than NOPASSWD.
    rules = [line for line in row["content"].splitlines() if not line.startswith("#")]
    assert len(rules) == 1 and rules[0].startswith("app ALL=(root) NOPASSWD: /usr/bin/systemctl restart ")
    assert not set("*?[]\\=!") & set(rules[0].split("NOPASSWD: ", 1)[1])
