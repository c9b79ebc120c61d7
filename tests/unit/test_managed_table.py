"""The role's table of managed things (__server_maintanence_managed in
vars/main.yml) is well formed, and what the planner hands from it to the
managed_paths module is what the module takes: an attribute misspelled in
a row, or one the module does not know, would otherwise be dropped silently
and the drift it describes never repaired."""

import pathlib
import re

import yaml

REPO = pathlib.Path(__file__).resolve().parents[1].parent
ROLE = REPO / "roles" / "server_maintanence"
TABLE = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__server_maintanence_managed"]
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]

# What each kind of row must and may carry (vars/main.yml documents each attribute).
REQUIRED = {"directory": {"owner", "group", "mode", "wanted"}, "file": {"content", "owner", "group", "mode", "wanted"},
            "link": {"src", "wanted"}, "runner_file": {"wanted"}, "env_file": {"owner", "group", "mode", "wanted"}}
OPTIONAL = {"directory": {"record", "keep_existing", "purge", "setting"}, "file": {"validate", "setting"},
            "link": {"setting"}, "runner_file": set(), "env_file": {"setting"}}


def _module_options(name):
    text = (REPO / "plugins" / "modules" / (name + ".py")).read_text()
    documentation = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', text, re.S).group(1))
    return documentation["options"]


def _filters():
    from ansible_collections.server_maintanence.ops.plugins.plugin_utils import plan
    return plan


def test_every_row_has_a_known_kind_and_exactly_the_attributes_of_its_kind():
    for row in TABLE:
        kind = row["kind"]
        where = row.get("path", row.get("paths"))
        attributes = set(row) - {"kind", "path", "paths"}
        assert ("path" in row) != ("paths" in row), where
        assert REQUIRED[kind] <= attributes, "%s lacks %s" % (where, REQUIRED[kind] - attributes)
        assert attributes <= REQUIRED[kind] | OPTIONAL[kind], "%s: unknown %s" % (
            where, attributes - REQUIRED[kind] - OPTIONAL[kind])


def test_a_setting_names_a_variable_of_the_role():
    settings = [row["setting"] for row in TABLE if "setting" in row]
    assert settings and set(settings) <= set(SPEC)


def test_what_the_planner_hands_over_is_what_managed_paths_takes():
    options = _module_options("managed_paths")["paths"]["suboptions"]
    filters = _filters()
    row = {"path": "/x", "owner": "root", "group": "root", "mode": "0644", "content": "", "validate": "true %s",
           "src": "/y", "setting": "server_maintanence_x", "record": True, "keep_existing": True, "purge": True}
    for state in options["state"]["choices"]:
        item = filters._arguments(row, state)
        assert set(item) <= set(options), (state, set(item) - set(options))
    # Every attribute a row of each kind carries for the module reaches it.
    for kind in ("directory", "file", "link"):
        carried = (REQUIRED[kind] | OPTIONAL[kind]) & set(options)
        assert carried <= set(filters._arguments(row, kind)), kind
    # A directory the role creates is handed over with the name of its record.
    assert "creation_record" in options


def test_the_env_file_row_carries_what_env_file_takes():
    options = _module_options("env_file")
    (row,) = [row for row in TABLE if row["kind"] == "env_file"]
    assert {"owner", "group", "mode", "setting"} <= set(row) and {"owner", "group", "mode", "setting"} <= set(options)
