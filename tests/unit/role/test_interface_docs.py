"""The role's public interface is declared once and documented consistently.

meta/argument_specs.yml is the source of truth. ansible-docsmith (pinned in
requirements.txt) renders it into README.md and roles/server_maintanence/README.md
and checks defaults/main.yml against it; these tests run it in its read-only
modes and add the checks it does not make (commented examples, type-strict
defaults, names, the internal variables, ansible-doc).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "server_maintanence"
SPEC_FILE = ROLE / "meta" / "argument_specs.yml"
DEFAULTS_FILE = ROLE / "defaults" / "main.yml"
VARS_FILE = ROLE / "vars" / "main.yml"
PREFIX = "server_maintanence_"
# Optional inputs that defaults/main.yml only shows as commented examples.
COMMENTED_ONLY = {"server_maintanence_hub_url", "server_maintanence_hub_api_key"}
# .ansible-docsmith.toml keeps the tool off defaults/main.yml and picks the template.
GENERATE = ("generate", ".")
REGENERATE = "run `.venv/bin/ansible-docsmith generate .` and commit both READMEs"


def _tool(name: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    venv_binary = REPO / ".venv" / "bin" / name
    binary = str(venv_binary) if venv_binary.exists() else shutil.which(name)
    assert binary, f"{name} not found: run `make venv`"
    # Wide and colourless, so a failure shows a readable diff.
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def spec_options() -> dict:
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"].get("options") or {}


def defaults() -> dict:
    return yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")) or {}


def commented_defaults() -> set[str]:
    """Names shown as `# server_maintanence_x: example` lines in defaults/main.yml."""
    pattern = re.compile(r"^#\s*(" + PREFIX + r"\w+)\s*:", re.MULTILINE)
    return set(pattern.findall(DEFAULTS_FILE.read_text(encoding="utf-8")))


def canonical(value) -> str:
    """Type-strict comparison key: true != 1, "0750" != 750, dict order ignored."""
    return json.dumps(value, sort_keys=True)


# ------------------------------------------------------------ ansible-docsmith --

def test_readmes_are_up_to_date_with_the_argument_spec():
    result = _tool("ansible-docsmith", *GENERATE, "--check")
    assert result.returncode == 0, (
        f"README.md or roles/server_maintanence/README.md is out of date with {SPEC_FILE.name}: "
        f"{REGENERATE}\n{result.stdout}{result.stderr}"
    )


def test_ansible_docsmith_validates_spec_defaults_and_readme_markers():
    # Errors: a variable in defaults/main.yml but not in the spec, or with a spec
    # default but missing from defaults/main.yml. Warnings (fatal with --strict):
    # default values that differ, unknown spec keys, broken README markers.
    result = _tool("ansible-docsmith", "validate", ".", "--strict")
    assert result.returncode == 0, f"ansible-docsmith validate --strict failed:\n{result.stdout}{result.stderr}"


def test_check_mode_fails_on_a_stale_readme_and_writes_nothing(tmp_path):
    copy = tmp_path / "roles" / ROLE.name
    shutil.copytree(ROLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    spec = copy / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        "description: Compress rotated generations.", "description: Compress STALE generations.", 1,
    ), encoding="utf-8")
    readme = (copy / "README.md").read_text(encoding="utf-8")

    result = _tool("ansible-docsmith", *GENERATE, "--check", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Compress STALE generations." in result.stdout, "the check should show the diff"
    assert (copy / "README.md").read_text(encoding="utf-8") == readme, "--check must not write"


# ------------------------------------------------- spec <-> defaults/main.yml --

def test_every_spec_option_has_a_type_and_a_description():
    def check(options, parent=""):
        for name, option in options.items():
            assert option.get("type"), f"{parent}{name}: no type in {SPEC_FILE.name}"
            assert option.get("description"), f"{parent}{name}: no description in {SPEC_FILE.name}"
            check(option.get("options") or {}, f"{parent}{name}.")

    check(spec_options())


def test_options_without_a_default_are_only_commented_examples_in_defaults():
    options = spec_options()
    without_default = {name for name, option in options.items() if "default" not in option}
    examples = commented_defaults() - set(defaults())
    assert without_default == examples, (
        f"options without a default in {SPEC_FILE.name} {sorted(without_default)} must be exactly the "
        f"`# {PREFIX}x:` examples that defaults/main.yml leaves unset {sorted(examples)}"
    )
    assert COMMENTED_ONLY <= without_default, "hub_url and hub_api_key must stay unset (the role tests `is defined`)"
    required = sorted(name for name in without_default if options[name].get("required"))
    assert not required, f"optional inputs without a default need required: false: {required}"


def test_default_values_equal_the_spec_defaults_type_strictly():
    # ansible-docsmith compares with ==, so false == 0 and true == 1 pass there.
    options = spec_options()
    mismatches = [
        f"{name}: defaults/main.yml {value!r} != spec {options[name]['default']!r}"
        for name, value in defaults().items()
        if name in options and "default" in options[name] and canonical(options[name]["default"]) != canonical(value)
    ]
    assert not mismatches, "defaults/main.yml and the spec disagree:\n" + "\n".join(mismatches)


def test_every_public_variable_name_starts_with_the_role_prefix():
    names = set(spec_options()) | set(defaults()) | commented_defaults()
    wrong = sorted(name for name in names if not name.startswith(PREFIX))
    assert not wrong, f"public variables must start with {PREFIX}: {wrong}"


def test_role_vars_are_internal_and_never_shadow_public_variables():
    # The role has no vars/main.yml (its vars would beat the inventory): what
    # it used to hold is plugins/plugin_utils/description.py's. The internal
    # variables left are those the templates read besides the inputs, which
    # the action plugin lays over the inputs when it renders them.
    assert not VARS_FILE.exists(), "vars/main.yml is back: its vars would override the inventory's"
    internal = description.template_variables(defaults())
    public = sorted(set(internal) & set(spec_options()))
    assert not public, f"the templates' internal variables would override these inputs: {public}"
    wrong = sorted(name for name in internal if not name.startswith("__" + PREFIX))
    assert not wrong, f"the templates' internal variables must start with __{PREFIX}: {wrong}"
    read = set()
    for template in (ROLE / "templates").rglob("*.j2"):
        read.update(re.findall(r"__" + PREFIX + r"\w+", template.read_text(encoding="utf-8")))
    assert sorted(read - set(internal)) == [], "the templates read internal variables nobody sets"


# ------------------------------------------------------------- ansible-doc --

def test_ansible_doc_lists_exactly_the_spec_options():
    result = _tool("ansible-doc", "-t", "role", "-r", "roles", "server_maintanence", "--json")
    assert result.returncode == 0, f"ansible-doc --json failed:\n{result.stderr}"
    documented = json.loads(result.stdout)["server_maintanence"]["entry_points"]["main"]["options"]
    assert sorted(documented) == sorted(spec_options())
