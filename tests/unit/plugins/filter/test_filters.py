"""The filter plugins only register the functions of plugins/plugin_utils/:
the public ones in core.py, the role's internals apart in role_internals.py."""

from ansible_collections.server_maintanence.ops.plugins.filter import core, role_internals
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron, env, plan, status, validation

PUBLIC = {"cron_interval", "cron_splay", "size_bytes", "status_report", "status_table"}
INTERNAL = {"input_errors", "host_errors", "env_lines", "cron_entries", "plan"}


def test_each_filter_is_the_plugin_utils_function_of_its_name():
    modules = (cron, env, plan, status, validation)
    for plugin in (core, role_internals):
        for name, function in plugin.FilterModule().filters().items():
            owners = [module for module in modules if getattr(module, name, None) is function]
            assert owners and function.__name__ == name, name


def test_the_public_filters_and_the_role_internals_are_registered_apart():
    assert set(core.FilterModule().filters()) == PUBLIC
    assert set(role_internals.FilterModule().filters()) == INTERNAL
