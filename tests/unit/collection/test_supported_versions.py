"""The supported ansible-core range: stated where users read it, tested at both ends.

`make compat` (scripts/compat.sh) runs the ends pinned in tests/compat/; these
tests fail when meta/runtime.yml, the role's meta, requirements.txt or
docs/supported-versions.md stop agreeing with those pins.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def pins(end: str) -> dict[str, tuple[int, ...]]:
    text = (REPO / "tests" / "compat" / f"{end}.txt").read_text(encoding="utf-8")
    return {name: tuple(int(part) for part in version.split("."))
            for name, version in re.findall(r"^([a-z-]+)==([0-9.]+)$", text, re.MULTILINE)}


def test_requires_ansible_is_the_oldest_tested_core():
    major, minor = pins("oldest")["ansible-core"][:2]
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    assert runtime["requires_ansible"] == f">={major}.{minor}.0"
    role_meta = yaml.safe_load((REPO / "roles" / "server_maintanence" / "meta" / "main.yml").read_text())
    assert role_meta["galaxy_info"]["min_ansible_version"] == f"{major}.{minor}"


def test_each_end_installs_the_ansible_package_that_bundles_its_core():
    # ansible N depends on ansible-core 2.(N + 7): 9 on 2.16, 14 on 2.21.
    for end in ("oldest", "newest"):
        versions = pins(end)
        assert versions["ansible"][0] + 7 == versions["ansible-core"][1], f"tests/compat/{end}.txt: {versions}"


def test_the_pinned_toolchain_is_inside_the_tested_range():
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    toolchain = tuple(int(part) for part in re.search(r"^ansible-core==([0-9.]+)$", text, re.MULTILINE)
                      .group(1).split("."))
    assert pins("oldest")["ansible-core"] <= toolchain <= pins("newest")["ansible-core"]


def test_the_docs_state_the_tested_range():
    page = (REPO / "docs" / "supported-versions.md").read_text(encoding="utf-8")
    section = page.split("# Supported versions\n", 1)[1]
    for end in ("oldest", "newest"):
        version = ".".join(map(str, pins(end)["ansible-core"]))
        assert version in section, f"docs/supported-versions.md does not name the {end} end, {version}"


def test_the_readme_states_the_tested_range_and_links_its_page():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Supported versions\n", 1)[1].split("\n## ", 1)[0]
    oldest, newest = (".".join(map(str, pins(end)["ansible-core"][:2])) for end in ("oldest", "newest"))
    assert f"ansible-core {oldest} to {newest}" in section, f"README's Supported versions does not say {oldest} to {newest}"
    assert "(docs/supported-versions.md)" in section, "README's Supported versions does not link its page"
