"""The example execution environment of docs/ makes a build context with
ansible-builder, offline, and the collection says it needs nothing beyond
ansible-core (meta/execution-environment.yml)."""

import pathlib
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "docs" / "execution-environment"
ANSIBLE_BUILDER = pathlib.Path(sys.executable).parent / "ansible-builder"


def test_ansible_builder_creates_the_build_context(tmp_path):
    context = tmp_path / "context"
    proc = subprocess.run([str(ANSIBLE_BUILDER), "create", "-f", str(EXAMPLE / "execution-environment.yml"),
                           "-c", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy" in containerfile or "assemble" in containerfile, containerfile
    collections = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    assert [entry["name"] for entry in collections] == ["server_maintanence.ops"], collections


def test_collection_declares_no_python_or_system_dependency():
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {}}


def test_plugins_import_only_the_standard_library_ansible_and_yaml():
    """What meta/execution-environment.yml claims: no other import under plugins/."""
    stdlib = set(sys.stdlib_module_names)
    foreign = set()
    for path in (REPO / "plugins").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and not line.startswith((" ", "\t")):
                top = words[1].split(".")[0]
                if top not in stdlib | {"ansible", "ansible_collections", "yaml", "__future__"}:
                    foreign.add((path.name, top))
    assert not foreign, sorted(foreign)
