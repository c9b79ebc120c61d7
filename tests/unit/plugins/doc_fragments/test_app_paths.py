"""doc_fragments/app_paths.py: the options naming the app's uv and env
file, documented once for the modules that take them."""

import ast

import yaml

from ansible_collections.server_maintanence.ops.plugins.doc_fragments.app_paths import ModuleDocFragment
from ansible_collections.server_maintanence.ops.plugins.module_utils._host_reading import OPTIONS

from . import module_docs

FRAGMENT = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
NAME = "server_maintanence.ops.app_paths"


def maintenance_arguments():
    tree = ast.parse((module_docs.MODULES / "maintenance.py").read_text(encoding="utf-8"))
    node = next(node for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "ARGUMENTS")
    return ast.literal_eval(node.value)


def test_the_fragment_documents_what_both_modules_take():
    assert sorted(FRAGMENT) == ["env_file", "uv_candidates", "uv_path"]
    for spec in (OPTIONS, maintenance_arguments()):
        for name, option in FRAGMENT.items():
            assert {key: spec[name].get(key) for key in ("type", "default", "elements")} == {
                key: option.get(key) for key in ("type", "default", "elements")}, name


def test_every_module_taking_the_options_extends_the_fragment_and_restates_none():
    users = [name for name in module_docs.module_names()
             if set(FRAGMENT) & set(module_docs.documentation(name)["options"])
             or NAME in module_docs.documentation(name).get("extends_documentation_fragment", [])]
    assert users == ["maintenance", "probe"]
    for name in users:
        doc = module_docs.documentation(name)
        assert NAME in doc["extends_documentation_fragment"], name
        assert not set(FRAGMENT) & set(doc["options"]), name
