"""galaxy.yml is complete for Galaxy, and CONTRIBUTING says what a fork edits.

galaxy-importer requires namespace, name, version, readme, authors and a
license; Galaxy shows repository, documentation, homepage and issues as the
collection's links. CONTRIBUTING's "If you fork" names each value a fork
changes, as galaxy.yml has it today.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
LINKS = ("repository", "documentation", "homepage", "issues")
NAME = re.compile(r"^(?!.*__)[a-z]+[0-9a-z_]*$")  # galaxy-importer's names and tags


def test_galaxy_yml_has_what_galaxy_importer_requires():
    for key in ("namespace", "name", "version", "readme", "authors", "license"):
        assert GALAXY.get(key), f"galaxy.yml: no {key}"
    assert (REPO / GALAXY["readme"]).is_file()
    assert all(isinstance(author, str) and author for author in GALAXY["authors"])
    assert NAME.match(GALAXY["namespace"]) and NAME.match(GALAXY["name"])
    assert len(GALAXY["tags"]) <= 20 and all(NAME.match(tag) for tag in GALAXY["tags"])


def test_galaxy_yml_names_the_repository_its_docs_and_issues():
    for key in LINKS:
        assert re.match(r"https://[^\s/]+/\S+$", GALAXY.get(key) or ""), f"galaxy.yml: {key} is no https URL"
    repository = GALAXY["repository"]
    assert GALAXY["issues"] == repository + "/issues"
    assert GALAXY["documentation"].startswith(repository + "/") and GALAXY["documentation"].endswith("/docs")
    assert (REPO / "docs" / "README.md").is_file(), "documentation points at docs/"


def test_contributing_says_which_galaxy_values_a_fork_edits():
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("\n## If you fork\n", 1)[1].split("\n## ", 1)[0]
    for key in (*LINKS, "authors"):
        assert f"| `{key}` |" in section, f"CONTRIBUTING's If you fork does not name {key}"
        values = GALAXY[key] if isinstance(GALAXY[key], list) else [GALAXY[key]]
        assert all(f"`{value}`" in section for value in values), f"If you fork shows another {key} than galaxy.yml"
    assert "namespace" in section and "name" in section
