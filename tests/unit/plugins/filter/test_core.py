"""plugins/filter/core.py registers the functions of plugins/plugin_utils/:
the public ones; there are no internal filters (the role's engine calls its
code in Python, not through filters). Each public filter's ansible-doc file
(plugins/filter/<name>.yml) says what its code takes and returns.

For every plugins/filter/<name>.yml:
- the name is a filter that core.py registers, and every filter of core.py
  has one; core.py is the only filter plugin (the role has no internal
  filters);
- the options are the function's parameters: _input the first, the others
  by name and in the order of `positional`, required exactly when the
  parameter has no default;
- where an option documents its keys (`suboptions`), the function reads
  exactly those keys: a literal `option["key"]` or `option.get("key")` in
  the function's body must be documented (whatever path it is on), and over
  the calls below every documented key is read and no other, at every
  level the doc describes; a key read with `[]` must be documented as
  required. The inputs of those calls are cut down to the documented keys
  before each call, so an undocumented key the code needs fails the call;
- what every call returns has the documented type and, where the doc
  describes them (`contains`), exactly the documented keys.

The calls: for each filter, inputs that take each branch of its code that
reads a key (the healthy host, a bad record, a job that never ran, full
logs...).
"""

import ast
import inspect
import pathlib
import textwrap

import pytest
import yaml

from ansible_collections.server_maintanence.ops.plugins.filter import core
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron, status

FILTER_DIR = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "filter"
DOCS = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(FILTER_DIR.glob("*.yml"))}
PUBLIC = core.FilterModule().filters()
PUBLIC_NAMES = {"cron_interval", "cron_splay", "size_bytes", "status_report", "status_table"}

NOW = 1_800_000_000.0
HEALTH = {"id": "health", "name": "server-maintanence health check", "schedule": "*/5 * * * *"}
PUSH = {"id": "push", "name": "server-maintanence cluster push", "schedule": "3-59/5 * * * *"}
RECORD = {"exit_code": "0", "outcome": "success", "end": str(NOW - 60), "last_success": str(NOW - 60)}
PROBE = {"now": NOW, "jobs": {"health": RECORD, "push": RECORD}, "cron_running": True,
         "logs": {"size": 16384, "free": 20 * 1024 ** 3}, "last_rotation": NOW - 3600,
         "crontab_changed": NOW - 86400,
         "state_dir": {"free": 20 * 1024 ** 3, "free_inodes": 100000, "read_only": False, "writable": True},
         "units_active": {"server-monitoring-inbox.service": True},
         # the rest of the reading, which status_report ignores
         "user_exists": True, "crontab": [], "paths": {}}
SETTINGS = {"cluster_role": "agent", "jobs": [HEALTH, PUSH], "max_intervals": 2, "max_logs_size": "1G",
            "logs_dir": "/opt/server-monitoring/logs", "state_dir": "/var/lib/server-maintanence"}
TROUBLED = dict(PROBE, jobs={"health": {"error": "is a symbolic link"}}, cron_running=False,
                logs={"size": 2 * 1024 ** 3, "free": 1024}, last_rotation=None,
                state_dir={"free": 0, "free_inodes": 0, "read_only": False, "writable": True},
                env_refused={"file": "/etc/server-monitoring/env", "line": 2, "reason": "a NUL byte"})
NEVER_RAN = dict(PROBE, jobs={}, crontab_changed=None)
INBOX = {"id": "inbox", "name": "server-maintanence inbox drain", "schedule": "* * * * *"}
# The cron drain found its predecessor still draining; the unit stopped.
CRON_DRAIN = dict(PROBE, jobs=dict(PROBE["jobs"], inbox=dict(RECORD, outcome="skipped", exit_code="75",
                                                             last_success=str(NOW - 3600))),
                  units_active={"server-monitoring-inbox.service": False})
FAILED_UPDATE = dict(PROBE, update_history={"bad": 1, "error": None, "last": {
    "timestamp": "2027-01-15T08:00:00+0000", "old_sha": "77c4be3", "new_sha": "9f1e2d3", "status": "failed",
    "commits": 0, "mode": "systemd", "auto_update": True, "failed_step": "migrate", "rolled_back": True,
    "time": NOW - 7200}})
DEV_UPDATE = dict(PROBE, update_mode={"mode": "dev", "systemd": "systemd is not PID 1"})
REPORTS = {"web1": PUBLIC["status_report"](PROBE, SETTINGS), "web2": PUBLIC["status_report"](TROUBLED, SETTINGS),
           "hub1": PUBLIC["status_report"](PROBE, dict(SETTINGS, cluster_role="hub", jobs=[HEALTH]))}

# name: [(input, positional arguments)], each a call of the filter.
CALLS = {
    "cron_interval": [("*/5 * * * *", ()), ("0 9 * * 1-5", ())],
    "cron_splay": [("*/5 * * * *", ("web1",)), ("30 3 * * *", ("web1",))],
    "size_bytes": [("500k", ()), ("10", ())],
    "status_report": [(PROBE, (SETTINGS,)), (TROUBLED, (SETTINGS,)), (NEVER_RAN, (SETTINGS,)),
                      (FAILED_UPDATE, (dict(SETTINGS, fail_on_failed_update=False),)),
                      (CRON_DRAIN, (dict(SETTINGS, jobs=[HEALTH, PUSH, INBOX]),)),
                      (DEV_UPDATE, (SETTINGS,))],
    "status_table": [(REPORTS, ())],
}
TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "dict": dict, "list": list}


def options(name):
    return DOCS[name]["DOCUMENTATION"].get("options") or {}


def parameters(name):
    return list(inspect.signature(PUBLIC[name]).parameters.values())


def arguments(name):
    """The documented options of a filter in the order the function takes them."""
    return ["_input"] + [parameter.name for parameter in parameters(name)[1:]]


# ------------------------------------------------------------ what is documented --

def test_the_public_filters_are_exactly_the_documented_ones():
    assert set(DOCS) == set(PUBLIC)
    for name, doc in DOCS.items():
        assert doc["DOCUMENTATION"]["name"] == name


def test_there_are_no_filters_besides_the_documented_ones_of_core():
    plugins = sorted(path.stem for path in FILTER_DIR.glob("*.py") if path.stem != "__init__")
    assert plugins == ["core"]


def test_each_public_filter_has_calls_to_check_its_doc_against():
    assert set(CALLS) == set(PUBLIC)


# ------------------------------------------------------------------ parameters --

@pytest.mark.parametrize("name", sorted(DOCS))
def test_the_options_are_the_parameters(name):
    documented = options(name)
    assert set(documented) == set(arguments(name)), "options of %s.yml vs the parameters of %s()" % (name, name)
    positional = DOCS[name]["DOCUMENTATION"].get("positional", "")
    assert [part.strip() for part in positional.split(",") if part.strip()] == arguments(name)[1:]
    for option, parameter in zip(arguments(name), parameters(name)):
        required = parameter.default is inspect.Parameter.empty
        assert bool(documented[option].get("required")) == required, "%s: %s" % (name, option)


# -------------------------------------------------- keys read, statically and by calls --

def _schema(option):
    """The documented keys of a dict option, or of a list option's dict elements,
    each with its own schema; None where the doc describes no keys."""
    keys = option.get("suboptions")
    if keys is None:
        return None
    return {key: dict(sub, keys=_schema(sub)) for key, sub in keys.items()}


def _literal_reads(function, parameter):
    """The keys `function` reads from its parameter by a literal subscript or get()."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    keys = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == parameter
                and isinstance(node.slice, ast.Constant)):
            keys.add(node.slice.value)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == parameter and node.args
                and isinstance(node.args[0], ast.Constant)):
            keys.add(node.args[0].value)
    return keys


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_key_the_code_names_is_documented(name):
    for option, parameter in zip(arguments(name), parameters(name)):
        keys = _schema(options(name)[option])
        read = _literal_reads(PUBLIC[name], parameter.name)
        if keys is None:
            assert not read, "%s() reads %s of %s, which %s.yml does not document" % (
                name, sorted(read), option, name)
        else:
            assert read <= set(keys), "%s() reads %s of %s, which %s.yml does not document" % (
                name, sorted(read - set(keys)), option, name)


class Recorded(dict):
    """A dict cut down to its documented keys, which records the keys read."""

    def __init__(self, data, keys, path, reads):
        super().__init__({key: _recorded(value, keys[key]["keys"], path + (key,), reads)
                          for key, value in data.items() if key in keys})
        self.path, self.reads = path, reads

    def __getitem__(self, key):
        self.reads.add((self.path + (key,), "[]"))
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.reads.add((self.path + (key,), "get"))
        return super().get(key, default)

    def __contains__(self, key):
        self.reads.add((self.path + (key,), "in"))
        return super().__contains__(key)


def _recorded(value, keys, path, reads):
    if keys is None:
        return value
    if isinstance(value, list):
        return [_recorded(item, keys, path + ("[]",), reads) for item in value]
    if isinstance(value, dict):
        return Recorded(value, keys, path, reads)
    return value


def _documented_paths(keys, path):
    for key, sub in keys.items():
        yield path + (key,), bool(sub.get("required"))
        if sub["keys"] is not None:
            inner = path + (key,) + (("[]",) if sub.get("type") == "list" else ())
            yield from _documented_paths(sub["keys"], inner)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_the_calls_read_exactly_the_documented_keys(name):
    reads = set()
    for value, args in CALLS[name]:
        recorded = []
        for option, argument in zip(arguments(name), (value,) + tuple(args)):
            assert isinstance(argument, TYPES[options(name)[option]["type"]]), "a call's %s is not as documented" % option
            recorded.append(_recorded(argument, _schema(options(name)[option]), (option,), reads))
        try:
            PUBLIC[name](*recorded)
        except KeyError as error:
            pytest.fail("%s() needs the key %s, which %s.yml does not document" % (name, error, name))
    documented = {}
    for option in arguments(name):
        documented.update(_documented_paths(_schema(options(name)[option]) or {}, (option,)))
    read = {path for path, _how in reads}
    assert sorted(read - set(documented)) == [], "%s() reads keys that %s.yml does not document" % (name, name)
    assert sorted(set(documented) - read) == [], "%s.yml documents keys that no call read" % name
    indexed = sorted(".".join(path) for path, how in reads if how == "[]" and not documented[path])
    assert not indexed, "%s() cannot do without %s, which %s.yml documents as optional" % (name, indexed, name)


# --------------------------------------------------------------------- returns --

def _returns_as_documented(value, doc, path):
    if value is None:
        return
    assert isinstance(value, TYPES[doc["type"]]) and not (doc["type"] in ("int", "float") and isinstance(
        value, bool)), "%s: %r is not a %s" % (".".join(path), value, doc["type"])
    contains = doc.get("contains")
    if contains is None:
        return
    for item in value if doc["type"] == "list" else [value]:
        assert set(item) == set(contains), "%s: returned keys %s, documented %s" % (
            ".".join(path), sorted(item), sorted(contains))
        for key, sub in contains.items():
            _returns_as_documented(item[key], sub, path + (key,))


@pytest.mark.parametrize("name", sorted(DOCS))
def test_the_calls_return_what_is_documented(name):
    returned = DOCS[name]["RETURN"]["_value"]
    for value, args in CALLS[name]:
        _returns_as_documented(PUBLIC[name](value, *args), returned, ("_value",))


def test_each_filter_is_the_plugin_utils_function_of_its_name():
    modules = (cron, status)
    for name, function in core.FilterModule().filters().items():
        owners = [module for module in modules if getattr(module, name, None) is function]
        assert owners and function.__name__ == name, name


def test_the_public_filters_are_the_only_filters():
    assert set(core.FilterModule().filters()) == PUBLIC_NAMES
    assert sorted(path.stem for path in FILTER_DIR.glob("*.py") if path.stem != "__init__") == ["core"]
