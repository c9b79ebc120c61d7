"""doc_fragments/attributes.py: the attributes every module shares, each
module stating only where it differs."""


import yaml

from ansible_collections.server_maintanence.ops.plugins.doc_fragments.attributes import ModuleDocFragment

from . import module_docs

SHARED = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["attributes"]
NAME = "server_maintanence.ops.attributes"
DESCRIBED_BY = "ansible.builtin.action_common_attributes"


def test_the_fragment_is_full_check_and_diff_mode_on_posix():
    assert SHARED == {"check_mode": {"support": "full"}, "diff_mode": {"support": "full"},
                      "platform": {"support": "full", "platforms": "posix"}}


def test_every_module_extends_it_before_the_attribute_descriptions():
    """ansible-core merges the fragments in order, the module's own keys and
    then the earlier fragment's winning: listed first, the shared support
    levels beat action_common_attributes' (platform: N/A)."""
    for name in module_docs.module_names():
        fragments = module_docs.documentation(name)["extends_documentation_fragment"]
        assert NAME in fragments and fragments.index(NAME) < fragments.index(DESCRIBED_BY), name


def test_a_module_states_only_where_it_differs():
    differs = {}
    for name in module_docs.module_names():
        for attribute, own in (module_docs.documentation(name).get("attributes") or {}).items():
            assert own != SHARED.get(attribute), (name, attribute)
            assert not set(own.items()) & set((SHARED.get(attribute) or {}).items()), (name, attribute)
            differs.setdefault(name, []).append(attribute)
    assert differs["probe"] == ["diff_mode"]
    assert module_docs.documentation("probe")["attributes"]["diff_mode"] == {"support": "none"}
