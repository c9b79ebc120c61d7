"""The role's public interface is declared once and documented consistently.

meta/argument_specs.yml is the source of truth. These tests fail when
defaults/main.yml, the README's generated variable table or ansible-doc's
view of the role drift away from it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "server_maintanence"
SPEC_FILE = ROLE / "meta" / "argument_specs.yml"
DEFAULTS_FILE = ROLE / "defaults" / "main.yml"
VARS_FILE = ROLE / "vars" / "main.yml"
README = REPO / "README.md"
GENERATOR = REPO / "scripts" / "gen_role_docs.py"
PREFIX = "server_maintanence_"
# Optional inputs that defaults/main.yml only shows as commented examples.
COMMENTED_ONLY = {"server_maintanence_hub_url", "server_maintanence_hub_api_key"}
REGENERATE = "run `python3 scripts/gen_role_docs.py` and commit README.md"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_role_docs", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_role_docs = _load_generator()


def spec_options() -> dict:
    return gen_role_docs.load_options(SPEC_FILE)


def defaults() -> dict:
    return yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")) or {}


def commented_defaults() -> set[str]:
    """Names shown as `# server_maintanence_x: example` lines in defaults/main.yml."""
    pattern = re.compile(r"^#\s*(" + PREFIX + r"\w+)\s*:", re.MULTILINE)
    return set(pattern.findall(DEFAULTS_FILE.read_text(encoding="utf-8")))


def canonical(value) -> str:
    """Type-strict comparison key: true != 1, "0750" != 750, dict order ignored."""
    return json.dumps(value, sort_keys=True)


# ----------------------------------------------------------- README table --

def test_readme_variable_table_matches_argument_spec():
    readme = README.read_text(encoding="utf-8")
    current = gen_role_docs.extract_region(readme)
    wanted = gen_role_docs.render_table(spec_options())
    assert current == wanted, f"README.md's variable table is out of date with {SPEC_FILE.name}: {REGENERATE}"


def test_readme_variable_table_has_one_row_per_spec_option():
    rows = [
        line for line in gen_role_docs.extract_region(README.read_text(encoding="utf-8")).splitlines()
        if line.startswith("| `")
    ]
    names = [re.match(r"\| `([^`]+)`", row).group(1) for row in rows]
    assert names == list(spec_options()), REGENERATE


def test_generator_check_mode_fails_on_a_stale_readme(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(
        f"# title\n\n{gen_role_docs.BEGIN}\n| old | table |\n{gen_role_docs.END}\n\nafter\n",
        encoding="utf-8",
    )
    before = stale.read_text(encoding="utf-8")
    assert gen_role_docs.main(["--check", "--readme", str(stale)]) == 1
    assert stale.read_text(encoding="utf-8") == before, "--check must not write"
    assert "stale" in capsys.readouterr().err

    assert gen_role_docs.main(["--readme", str(stale)]) == 0
    rewritten = stale.read_text(encoding="utf-8")
    assert rewritten.startswith(f"# title\n\n{gen_role_docs.BEGIN}\n| variable |")
    assert rewritten.endswith(f"{gen_role_docs.END}\n\nafter\n"), "only the region between the markers may change"
    assert gen_role_docs.main(["--check", "--readme", str(stale)]) == 0


def test_generator_refuses_a_readme_without_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n", encoding="utf-8")
    assert gen_role_docs.main(["--check", "--readme", str(readme)]) == 2


def test_generator_output_is_deterministic():
    assert gen_role_docs.render_table(spec_options()) == gen_role_docs.render_table(spec_options())


def test_generator_shows_optional_variables_without_default_as_unset():
    row = gen_role_docs.render_row("server_maintanence_x", {"type": "str", "required": False, "description": "X."})
    assert row.split(" | ")[2] == "unset"
    for name, option in spec_options().items():
        if "default" not in option and not option.get("required"):
            assert " | unset | " in gen_role_docs.render_row(name, option), name


def test_generator_describes_sub_keys_of_list_of_dict_options():
    for name, option in spec_options().items():
        if option.get("type") == "list" and option.get("elements") == "dict" and option.get("options"):
            row = gen_role_docs.render_row(name, option)
            for key, sub in option["options"].items():
                assert f"`{key}`" in row, f"{name}: sub-key {key} missing from its table row"
                for choice in sub.get("choices") or []:
                    assert f"`{choice}`" in row, f"{name}.{key}: choice {choice} missing from its table row"


# ------------------------------------------------- spec <-> defaults/main.yml --

def test_every_spec_option_has_a_type_and_a_description():
    def check(options, parent=""):
        for name, option in options.items():
            assert option.get("type"), f"{parent}{name}: no type in {SPEC_FILE.name}"
            assert option.get("description"), f"{parent}{name}: no description in {SPEC_FILE.name}"
            check(option.get("options") or {}, f"{parent}{name}.")

    check(spec_options())


def test_every_default_is_declared_in_the_argument_spec():
    undeclared = sorted(set(defaults()) - set(spec_options()))
    assert not undeclared, f"in defaults/main.yml but not in {SPEC_FILE.name} (declare them there first): {undeclared}"


def test_every_spec_option_is_set_or_commented_in_defaults():
    missing = sorted(set(spec_options()) - set(defaults()) - commented_defaults())
    assert not missing, f"in {SPEC_FILE.name} but neither set nor shown commented in defaults/main.yml: {missing}"


def test_hub_url_and_api_key_are_commented_examples_in_defaults_and_optional_in_spec():
    options = spec_options()
    commented = commented_defaults()
    for name in sorted(COMMENTED_ONLY):
        assert name in commented, f"defaults/main.yml lost its commented `# {name}:` example"
        assert name not in defaults(), f"{name} must stay unset in defaults/main.yml (the role tests `is defined`)"
        assert name in options, f"{name} is not declared in {SPEC_FILE.name}"
        assert "default" not in options[name], f"{name} must have no default in {SPEC_FILE.name}"
        assert not options[name].get("required", False), f"{name} must be required: false in {SPEC_FILE.name}"


def test_commented_defaults_are_spec_options_without_a_default():
    options = spec_options()
    for name in sorted(commented_defaults() - set(defaults())):
        assert name in options, f"defaults/main.yml shows `# {name}:` but {SPEC_FILE.name} does not declare it"
        assert "default" not in options[name], (
            f"{name} has a default in {SPEC_FILE.name} but is only commented out in defaults/main.yml"
        )


def test_default_values_equal_the_spec_defaults():
    options = spec_options()
    mismatches = []
    for name, value in defaults().items():
        if name not in options:
            continue  # reported by test_every_default_is_declared_in_the_argument_spec
        if "default" not in options[name]:
            mismatches.append(f"{name}: defaults/main.yml sets {value!r}, the spec has no default")
        elif canonical(options[name]["default"]) != canonical(value):
            mismatches.append(f"{name}: defaults/main.yml {value!r} != spec {options[name]['default']!r}")
    assert not mismatches, "defaults/main.yml and the spec disagree:\n" + "\n".join(mismatches)


def test_every_public_variable_name_starts_with_the_role_prefix():
    names = set(spec_options()) | set(defaults()) | commented_defaults()
    wrong = sorted(name for name in names if not name.startswith(PREFIX))
    assert not wrong, f"public variables must start with {PREFIX}: {wrong}"


def test_role_vars_are_internal_and_never_shadow_public_variables():
    internal = yaml.safe_load(VARS_FILE.read_text(encoding="utf-8")) or {}
    public = sorted(set(internal) & set(spec_options()))
    assert not public, f"vars/main.yml would override these inputs (vars beat inventory): {public}"
    wrong = sorted(name for name in internal if not name.startswith("__" + PREFIX))
    assert not wrong, f"internal variables in vars/main.yml must start with __{PREFIX}: {wrong}"


# ------------------------------------------------------------- ansible-doc --

def _ansible_doc(*extra: str) -> subprocess.CompletedProcess:
    venv_doc = REPO / ".venv" / "bin" / "ansible-doc"
    binary = str(venv_doc) if venv_doc.exists() else shutil.which("ansible-doc")
    assert binary, "ansible-doc not found: run `make venv`"
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run(
        [binary, "-t", "role", "-r", "roles", "server_maintanence", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_ansible_doc_renders_the_role_and_mentions_every_option():
    result = _ansible_doc()
    assert result.returncode == 0, f"ansible-doc failed:\n{result.stderr}"
    missing = sorted(name for name in spec_options() if name not in result.stdout)
    assert not missing, f"ansible-doc does not mention: {missing}"


def test_ansible_doc_json_lists_exactly_the_spec_options():
    result = _ansible_doc("--json")
    assert result.returncode == 0, f"ansible-doc --json failed:\n{result.stderr}"
    doc = json.loads(result.stdout)
    documented = doc["server_maintanence"]["entry_points"]["main"]["options"]
    assert sorted(documented) == sorted(spec_options())
