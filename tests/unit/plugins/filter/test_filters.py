"""The filter plugin only registers the functions of plugins/plugin_utils/."""

from ansible_collections.server_maintanence.ops.plugins.filter import core
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import cron, env, plan, status, validation


def test_each_filter_is_the_plugin_utils_function_of_its_name():
    modules = (cron, env, plan, status, validation)
    for name, function in core.FilterModule().filters().items():
        owners = [module for module in modules if getattr(module, name, None) is function]
        assert owners and function.__name__ == name, name
