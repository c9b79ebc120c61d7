"""The modules' DOCUMENTATION and argument specs as data, read from their
source (no module is imported or run)."""

import ast
import pathlib

import yaml

MODULES = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "modules"


def _assignments(name):
    tree = ast.parse((MODULES / ("%s.py" % name)).read_text(encoding="utf-8"))
    return {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def documentation(name):
    """The module's own DOCUMENTATION, before any fragment is merged."""
    return yaml.safe_load(_assignments(name)["DOCUMENTATION"].value)


def module_names():
    return sorted(path.stem for path in MODULES.glob("*.py"))
