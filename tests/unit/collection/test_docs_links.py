"""The front page and the manual in docs/ hold together.

README.md is a front page and docs/ the manual, one file per topic: every
relative link of either (and of CONTRIBUTING.md and the role's README) must
reach a file of the checkout, and a `#fragment` a heading of that file;
docs/README.md must list every page of docs/; the front page stays short.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "roles" / "server_maintanence" / "README.md",
         *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
ANCHOR = re.compile(r'<a id="([^"]+)">')


def prose(path: Path) -> str:
    """The page without code blocks and code spans, where brackets are not links."""
    return CODE.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {slug(heading) for heading in headings} | set(ANCHOR.findall(text))


def relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path)) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_reaches_a_file_and_a_heading(page):
    broken = []
    for target in relative_links(page):
        file_part, _, fragment = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        if not destination.exists():
            broken.append(f"{target}: no {destination.relative_to(REPO) if destination.is_relative_to(REPO) else destination}")
        elif fragment and (destination.suffix != ".md" or fragment not in anchors(destination)):
            broken.append(f"{target}: no heading #{fragment} in {destination.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)} has broken links:\n" + "\n".join(broken)


def test_the_docs_index_lists_every_page():
    listed = {target.partition("#")[0] for target in relative_links(DOCS / "README.md")}
    pages = {page.name for page in DOCS.glob("*.md")} - {"README.md"}
    assert pages <= listed, f"docs/README.md does not list {sorted(pages - listed)}"


def test_the_front_page_links_every_page_of_the_manual():
    listed = {target.partition("#")[0] for target in relative_links(REPO / "README.md")}
    pages = {f"docs/{page.name}" for page in DOCS.glob("*.md")}
    assert pages <= listed, f"README.md does not link {sorted(pages - listed)}"


def test_the_front_page_is_short_and_starts_with_the_two_set_up_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 400, "README.md is the front page: the manual goes in docs/"
    first_block = re.search(r"^```sh\n(.*?)^```", readme, re.MULTILINE | re.DOTALL).group(1)
    commands = [line.split("#", 1)[0].strip() for line in first_block.splitlines()]
    assert commands == ["make demo", "make test"], first_block


# CONTRIBUTING's "The path of a run": every file an idempotent run of
# playbooks/site.yml opens, counted and listed in order.
CONTRIBUTING = REPO / "CONTRIBUTING.md"
COLLECTION = "ansible_collections.server_maintanence.ops."
ENGINE = ("plugins/action/maintenance.py", "plugins/modules/maintenance.py")
ROLE = Path("roles") / "server_maintanence"


def path_of_a_run() -> str:
    text = CONTRIBUTING.read_text(encoding="utf-8")
    return re.search(r"^## The path of a run\n(.*?)^## ", text, re.MULTILINE | re.DOTALL).group(1)


def listed_files(section: str) -> list[tuple[int, str]]:
    """(number, path) of each numbered item: the path is its first code span."""
    return [(int(number), path) for number, path in re.findall(r"^(\d+)\. `([^`]+)`", section, re.MULTILINE)]


def collection_imports(path: str) -> set[str]:
    """The collection's files that the Python file `path` imports."""
    found = set()
    for node in ast.walk(ast.parse((REPO / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(COLLECTION):
            package = node.module[len(COLLECTION):].replace(".", "/")
            if (REPO / f"{package}.py").is_file():  # from ...plugin_utils.validation import checked_inputs
                found.add(f"{package}.py")
            else:  # from ...module_utils import _env_file, _paths
                found.update(f"{package}/{alias.name}.py" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name[len(COLLECTION):].replace(".", "/") + ".py"
                         for alias in node.names if alias.name.startswith(COLLECTION))
    return found


def engine_files() -> set[str]:
    """The action plugin, the module and every file of the collection they import, transitively."""
    seen, pending = set(), list(ENGINE)
    while pending:
        path = pending.pop()
        if path not in seen:
            seen.add(path)
            pending.extend(collection_imports(path))
    return seen


def files_of_a_run() -> set[str]:
    """What an idempotent run of playbooks/site.yml opens, from the code: the
    playbook and the group_vars beside it, the role's metadata, defaults and
    task, the engine's Python, the templates the action plugin renders and
    the files it sends as they are."""
    from ansible_collections.server_maintanence.ops.plugins.action import maintenance as action
    from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description

    def relative(paths):
        return {str(Path(path).resolve().relative_to(REPO)) for path in paths}

    return ({"playbooks/site.yml", str(ROLE / "tasks" / "main.yml")}
            | relative((REPO / "playbooks" / "group_vars").glob("*.yml"))
            | relative((REPO / ROLE / "meta").glob("*.yml"))
            | relative((REPO / ROLE / "defaults").glob("*.yml"))
            | engine_files()
            | relative(REPO / ROLE / "templates" / template for template in description.TEMPLATES.values())
            | relative(action.FILES.values()))


def test_the_path_of_a_run_counts_its_numbered_files():
    section = path_of_a_run()
    listed = listed_files(section)
    assert [number for number, _path in listed] == list(range(1, len(listed) + 1)), listed
    stated = re.search(r"opens\s+(\d+)\s+files", section)
    assert stated, "the section says how many files a run opens"
    assert int(stated.group(1)) == len(listed), f"it says {stated.group(1)} files and lists {len(listed)}"
    paths = [path for _number, path in listed]
    assert len(set(paths)) == len(paths), f"listed twice: {sorted(p for p in paths if paths.count(p) > 1)}"


def test_the_path_of_a_run_names_only_files_that_exist():
    spans = CODE.findall(path_of_a_run())
    missing = []
    for span in (span.strip("`") for span in spans):
        if re.fullmatch(r"[\w.-]+(/[\w.-]+)+", span):
            if not (REPO / span).exists():
                missing.append(span)
        elif re.fullmatch(r"\w+\.py", span):
            if not any((REPO / "plugins" / kind / span).is_file() for kind in ("module_utils", "plugin_utils")):
                missing.append(span)
    assert not missing, f"CONTRIBUTING's path of a run names files that do not exist: {missing}"


def test_the_path_of_a_run_lists_every_file_the_run_opens_and_no_other():
    listed = {path for _number, path in listed_files(path_of_a_run())}
    opened = files_of_a_run()
    # The imports were followed: the module's module_utils are among them.
    assert any(path.startswith("plugins/module_utils/") for path in opened), sorted(opened)
    assert not opened - listed, f"a run opens files the path of a run does not list: {sorted(opened - listed)}"
    assert not listed - opened, f"the path of a run lists files a run does not open: {sorted(listed - opened)}"
