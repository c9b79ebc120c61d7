#!/usr/bin/env python3
"""Render the role's variable table into README.md from its argument spec.

roles/server_maintanence/meta/argument_specs.yml is the single source of
truth for the role's public interface. This script turns its `main` entry
point into a Markdown table and writes it between the lines

    <!-- BEGIN VARIABLES -->
    <!-- END VARIABLES -->

of README.md, leaving everything else in the file untouched.

    python3 scripts/gen_role_docs.py           # rewrite README.md in place
    python3 scripts/gen_role_docs.py --check   # exit 1 (with a diff) if stale

Needs PyYAML; when the interpreter lacks it the script re-runs itself with
.venv/bin/python (`make venv` installs it there).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "roles" / "server_maintanence" / "meta" / "argument_specs.yml"
README = REPO / "README.md"
ENTRY_POINT = "main"
BEGIN = "<!-- BEGIN VARIABLES -->"
END = "<!-- END VARIABLES -->"
HEADER = (
    "| variable | type | default | allowed values / rule | description |",
    "|---|---|---|---|---|",
)

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the interpreter
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists() and not os.environ.get("GEN_ROLE_DOCS_REEXEC"):
        os.environ["GEN_ROLE_DOCS_REEXEC"] = "1"
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    sys.exit("gen_role_docs: PyYAML is missing; run `make venv`, then .venv/bin/python scripts/gen_role_docs.py")


class MarkerError(Exception):
    """README.md lacks the BEGIN/END markers (or has them out of order)."""


def load_options(spec_path: Path = SPEC, entry_point: str = ENTRY_POINT) -> dict:
    """The options of one entry point of an argument_specs.yml, in file order."""
    with open(spec_path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    return spec["argument_specs"][entry_point].get("options") or {}


def _cell(text) -> str:
    """One line, with the pipes that would end a Markdown table cell escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _escape(text) -> str:
    """Prose for a table cell: also keep * and word-edge _ from turning into emphasis."""
    return _cell(re.sub(r"[\\*]|(?<!\w)_|_(?!\w)", lambda match: "\\" + match.group(0), str(text)))


def _code(text) -> str:
    """A code span, widened when the text itself holds backticks."""
    text = _cell(text)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _plain(text: str) -> bool:
    """True when text can be written bare in YAML and still reads back as that string."""
    if not re.fullmatch(r"[A-Za-z0-9_./@+-]+", text):
        return False
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def _scalar(value) -> str:
    """A value the way one would write it in YAML (flow style, one line).

    Strings stay bare when YAML would read them back unchanged and are
    double-quoted otherwise ("0750", "*/5 * * * *", templates).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value if _plain(value) else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_scalar(item)}" for key, item in value.items()) + "}"
    return str(value)


def _description(option: dict) -> str:
    description = option.get("description", "")
    if isinstance(description, list):
        description = " ".join(str(line) for line in description)
    return " ".join(str(description).split())


def _type(option: dict) -> str:
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        return f"list of {option['elements']}"
    return kind


def _default(option: dict) -> str:
    if "default" in option:
        return _code(_scalar(option["default"]))
    if option.get("required"):
        return "required"
    return "unset"


def _rules(option: dict) -> list[str]:
    rules = []
    if option.get("required"):
        rules.append("required")
    if option.get("choices"):
        rules.append("one of " + ", ".join(_code(_scalar(choice)) for choice in option["choices"]))
    if option.get("no_log"):
        rules.append("secret: never logged (no_log)")
    return rules


def _item_rules(option: dict) -> str:
    """The rules of the sub-keys of a dict (or list-of-dict) option, in one cell."""
    parts = []
    for name, sub in (option.get("options") or {}).items():
        rules = _rules(sub)
        parts.append(f"{_code(name)} ({'; '.join(rules)})" if rules else _code(name))
    lead = "each item: " if option.get("type") == "list" else "keys: "
    return lead + ", ".join(parts)


def _suboptions(option: dict) -> str:
    """One clause per sub-key of a dict (or list-of-dict) option: type, default, description."""
    parts = []
    for name, sub in (option.get("options") or {}).items():
        facts = [_escape(_type(sub))]
        if "default" in sub:
            facts.append("default " + _code(_scalar(sub["default"])))
        text = f"{_code(name)} ({', '.join(facts)})"
        description = _description(sub).rstrip(".")
        if description:
            text += ": " + _escape(description)
        parts.append(text)
    lead = "Each item has" if option.get("type") == "list" else "Keys:"
    return f"{lead} " + "; ".join(parts) + "."


def render_row(name: str, option: dict) -> str:
    """One table row: variable, type, default, allowed values / rule, description."""
    rules = _rules(option)
    description = _escape(_description(option))
    if option.get("options"):
        rules.append(_item_rules(option))
        description = f"{description} {_suboptions(option)}".strip()
    cells = [
        _code(name),
        _escape(_type(option)),
        _default(option),
        "; ".join(rules) or "—",
        description or "—",
    ]
    return "| " + " | ".join(cells) + " |"


def render_table(options: dict | None = None) -> str:
    """The whole table, header included, ending with a newline."""
    if options is None:
        options = load_options()
    rows = [*HEADER, *(render_row(name, option) for name, option in options.items())]
    return "\n".join(rows) + "\n"


def _split(readme_text: str) -> tuple[str, str, str]:
    """(up to and including BEGIN, between the markers, from END on)."""
    lines = readme_text.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise MarkerError(f"README.md needs exactly one '{BEGIN}' line followed by one '{END}' line")
    begin, end = begins[0], ends[0]
    return "".join(lines[: begin + 1]), "".join(lines[begin + 1: end]), "".join(lines[end:])


def replace_region(readme_text: str, table: str) -> str:
    """readme_text with the lines between the markers replaced by table."""
    head, _, tail = _split(readme_text)
    return head + table + tail


def extract_region(readme_text: str) -> str:
    """What README.md currently holds between the markers."""
    return _split(readme_text)[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if README.md is out of date")
    parser.add_argument("--spec", type=Path, default=SPEC, help="argument_specs.yml to read (default: the role's)")
    parser.add_argument("--readme", type=Path, default=README, help="Markdown file to update (default: README.md)")
    args = parser.parse_args(argv)

    current = args.readme.read_text(encoding="utf-8")
    try:
        wanted = replace_region(current, render_table(load_options(args.spec)))
    except MarkerError as error:
        print(f"gen_role_docs: {args.readme}: {error}", file=sys.stderr)
        return 2

    if wanted == current:
        if args.check:
            print(f"gen_role_docs: {args.readme.name} variable table is up to date")
        return 0
    if args.check:
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            fromfile=f"{args.readme.name} (current)",
            tofile=f"{args.readme.name} (generated from {args.spec.name})",
        )
        sys.stdout.writelines(diff)
        print(
            f"\ngen_role_docs: {args.readme.name} variable table is stale; "
            "run `python3 scripts/gen_role_docs.py` and commit the result",
            file=sys.stderr,
        )
        return 1
    args.readme.write_text(wanted, encoding="utf-8")
    print(f"gen_role_docs: rewrote the variable table in {args.readme.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
