"""The filter plugins only register the functions of plugins/plugin_utils/:
the public ones, in core.py; there are no internal filters (the role's
engine calls its code in Python, not through filters)."""

import pathlib

from ansible_collections.server_maintanence.ops.plugins.filter import core
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron, status

PUBLIC = {"cron_interval", "cron_splay", "size_bytes", "status_report", "status_table"}
FILTER_DIR = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "filter"


def test_each_filter_is_the_plugin_utils_function_of_its_name():
    modules = (cron, status)
    for name, function in core.FilterModule().filters().items():
        owners = [module for module in modules if getattr(module, name, None) is function]
        assert owners and function.__name__ == name, name


def test_the_public_filters_are_the_only_filters():
    assert set(core.FilterModule().filters()) == PUBLIC
    assert sorted(path.stem for path in FILTER_DIR.glob("*.py") if path.stem != "__init__") == ["core"]
