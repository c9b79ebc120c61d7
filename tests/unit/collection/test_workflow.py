"""The forge workflow, .ci/run, pre-commit and `make test` stay one path to green.

`make test` (the Makefile's `test:` recipe) is what CI means. The GitHub
Actions workflow splits it into jobs; these tests fail when the workflow's
make targets and `make test`'s stages stop being the same set, and when
pre-commit's tools drift from requirements.txt's pins.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
MAKEFILE = REPO / "Makefile"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
CI_RUN = REPO / ".ci" / "run"
PRE_COMMIT = REPO / ".pre-commit-config.yaml"
REQUIREMENTS = REPO / "requirements.txt"
# galaxy-importer's own venv (make galaxy-importer): the same ansible-core and ansible-lint.
IMPORTER_REQUIREMENTS = REPO / "tests" / "release" / "requirements.txt"

# make options that take their argument as the next word.
MAKE_OPTIONS_WITH_ARGUMENT = {"-C", "-f", "-I", "-j", "-l", "-o", "-W", "--directory", "--file", "--makefile"}


# ----------------------------------------------------------------- Makefile --

def makefile_variables(text: str) -> dict[str, str]:
    """NAME := value and NAME = value assignments (no conditionals, no appends)."""
    variables = {}
    for line in text.splitlines():
        match = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.*)$", line)
        if match:
            variables[match.group(1)] = match.group(2).strip()
    return variables


def expand(text: str, variables: dict[str, str]) -> str:
    """Expand $(NAME), $(addprefix p,words) and $(addsuffix s,words), innermost first."""
    innermost = re.compile(r"\$\(([^$()]*)\)")

    def evaluate(match: re.Match) -> str:
        body = match.group(1)
        function = re.match(r"^(addprefix|addsuffix)\s+([^,]*),(.*)$", body, re.DOTALL)
        if function:
            name, affix, words = function.groups()
            if name == "addprefix":
                return " ".join(affix + word for word in words.split())
            return " ".join(word + affix for word in words.split())
        assert body in variables, f"Makefile: cannot expand $({body})"
        return variables[body]

    for _attempt in range(50):
        expanded = innermost.sub(evaluate, text)
        if expanded == text:
            break
        text = expanded
    assert "$(" not in text, f"Makefile: unexpanded reference left in {text!r}"
    return text


def recipe(text: str, target: str) -> list[str]:
    """The recipe lines of one target, continuation lines joined."""
    lines = text.replace("\\\n", " ").splitlines()
    for index, line in enumerate(lines):
        if re.match(rf"^{re.escape(target)}\s*:(?!=)", line):
            body = []
            for following in lines[index + 1:]:
                if not following.startswith("\t"):
                    break
                body.append(following.strip())
            return body
    raise AssertionError(f"Makefile has no `{target}:` target")


def make_test_stages() -> set[str]:
    text = MAKEFILE.read_text(encoding="utf-8")
    variables = makefile_variables(text)
    assert "SCENARIOS" in variables, "Makefile lost its `SCENARIOS :=` line"
    for line in recipe(text, "test"):
        if "scripts/run-stages.sh" in line:
            # `--` starts a lane of stages run side by side with the others.
            stages = [word for word in expand(line.split("scripts/run-stages.sh", 1)[1], variables).split()
                      if word != "--"]
            assert stages, "`make test` runs scripts/run-stages.sh without stages"
            assert len(stages) == len(set(stages)), "`make test` names a stage twice"
            return set(stages)
    raise AssertionError("the Makefile's `test:` recipe no longer calls scripts/run-stages.sh")


def test_make_test_runs_every_molecule_scenario():
    text = MAKEFILE.read_text(encoding="utf-8")
    scenarios = makefile_variables(text)["SCENARIOS"].split()
    stages = make_test_stages()
    assert {f"molecule-{scenario}" for scenario in scenarios} <= stages
    assert {"host", "venv", "images", "lint", "unit"} <= stages


# ----------------------------------------------------------------- workflow --

def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def workflow_triggers(document: dict) -> set[str]:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean true.
    triggers = document.get("on", document.get(True))
    if isinstance(triggers, str):
        return {triggers}
    if isinstance(triggers, list):
        return set(triggers)
    return set(triggers or {})


def matrix_expansions(command: str, job: dict) -> list[str]:
    """command once per combination of the matrix values it references."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    keys = sorted(set(re.findall(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}", command)))
    for key in keys:
        assert isinstance(matrix.get(key), list), f"`matrix.{key}` is used in `{command}` but not a matrix list"
    commands = []
    for values in itertools.product(*(matrix[key] for key in keys)):
        expanded = command
        for key, value in zip(keys, values):
            expanded = re.sub(r"\$\{\{\s*matrix\." + re.escape(key) + r"\s*\}\}", str(value), expanded)
        commands.append(expanded)
    return commands


def make_targets(command: str) -> set[str]:
    """Targets of every `make` invocation in a shell snippet."""
    targets = set()
    for segment in re.split(r"\n|&&|\|\||;|\|", command):
        words = shlex.split(segment, comments=True)
        if "make" not in words:
            continue
        skip_next = False
        for word in words[words.index("make") + 1:]:
            if skip_next:
                skip_next = False
            elif word in MAKE_OPTIONS_WITH_ARGUMENT:
                skip_next = True
            elif not word.startswith("-") and "=" not in word:
                targets.add(word)
    return targets


def workflow_make_targets() -> set[str]:
    targets = set()
    for job in workflow()["jobs"].values():
        for step in job.get("steps") or []:
            if "run" in step:
                for command in matrix_expansions(step["run"], job):
                    targets |= make_targets(command)
    return targets


def test_workflow_calls_exactly_the_make_targets_of_make_test():
    workflow_targets = workflow_make_targets()
    stages = make_test_stages()
    assert workflow_targets == stages, (
        "the forge workflow and `make test` disagree; "
        f"only in the workflow: {sorted(workflow_targets - stages)}, "
        f"only in `make test`: {sorted(stages - workflow_targets)}"
    )


def test_workflow_runs_on_push_pull_request_and_a_weekly_schedule():
    triggers = workflow_triggers(workflow())
    assert {"push", "pull_request", "schedule"} <= triggers, f"triggers are {sorted(triggers)}"
    schedule = workflow().get("on", workflow().get(True))["schedule"]
    crons = [entry["cron"] for entry in schedule]
    assert crons, "the schedule trigger has no cron"
    for cron in crons:
        fields = cron.split()
        assert len(fields) == 5, f"cron {cron!r} needs 5 fields"
        assert fields[2] == "*" and fields[3] == "*" and fields[4] != "*", f"cron {cron!r} is not weekly"


def test_workflow_molecule_job_needs_lint():
    jobs = workflow()["jobs"]
    assert "lint" in jobs and "molecule" in jobs, f"jobs are {sorted(jobs)}"
    needs = jobs["molecule"].get("needs")
    needs = [needs] if isinstance(needs, str) else list(needs or [])
    assert "lint" in needs, "the molecule job must wait for lint (`needs: lint`)"


def test_workflow_matrix_covers_every_makefile_scenario():
    scenarios = makefile_variables(MAKEFILE.read_text(encoding="utf-8"))["SCENARIOS"].split()
    matrix = workflow()["jobs"]["molecule"]["strategy"]["matrix"]["scenario"]
    assert sorted(matrix) == sorted(scenarios)


def test_workflow_compat_matrix_lists_both_ends_of_the_makefile():
    ends = makefile_variables(MAKEFILE.read_text(encoding="utf-8"))["COMPAT_ENDS"].split()
    assert sorted(ends) == ["newest", "oldest"]
    job = workflow()["jobs"]["compat"]
    assert sorted(job["strategy"]["matrix"]["end"]) == sorted(ends)
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any(re.search(r"\bmake\b.*\bcompat\b.*COMPAT_ENDS=\$\{\{\s*matrix\.end\s*\}\}", run) for run in runs)
    for end in ends:
        assert (REPO / "tests" / "compat" / f"{end}.txt").is_file(), f"no tests/compat/{end}.txt"


def test_ci_run_calls_make_test():
    lines = [
        line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert any(re.search(r"(^|\s)make\s+test(\s|$)", line) for line in lines), ".ci/run must call `make test`"


# --------------------------------------------------------------- pre-commit --

def requirement_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def pre_commit_hooks() -> dict[str, dict]:
    config = yaml.safe_load(PRE_COMMIT.read_text(encoding="utf-8"))
    return {hook["id"]: hook for repo in config["repos"] for hook in repo.get("hooks") or []}


def hook_pins(hook: dict) -> dict[str, str]:
    pins = {}
    for dependency in hook.get("additional_dependencies") or []:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)$", dependency)
        assert match, f"pre-commit hook {hook['id']}: `{dependency}` is not pinned with =="
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_pre_commit_pins_yamllint_and_ansible_lint_like_requirements():
    requirements = requirement_pins()
    hooks = pre_commit_hooks()
    for tool in ("yamllint", "ansible-lint"):
        assert tool in hooks, f".pre-commit-config.yaml has no `{tool}` hook"
        assert tool in requirements, f"requirements.txt does not pin {tool}"
        assert hook_pins(hooks[tool]).get(tool) == requirements[tool], (
            f"pre-commit's {tool} is not requirements.txt's {tool}=={requirements[tool]}"
        )


def test_pre_commit_dependencies_agree_with_requirements():
    requirements = requirement_pins()
    for hook in pre_commit_hooks().values():
        for name, version in hook_pins(hook).items():
            if name in requirements:
                assert version == requirements[name], (
                    f"pre-commit hook {hook['id']} pins {name}=={version}, requirements.txt {requirements[name]}"
                )


def test_importer_venv_pins_ansible_core_and_ansible_lint_like_requirements():
    requirements = requirement_pins()
    importer = requirement_pins(IMPORTER_REQUIREMENTS)
    for tool in ("ansible-core", "ansible-lint"):
        assert importer.get(tool) == requirements[tool], (
            f"{IMPORTER_REQUIREMENTS.relative_to(REPO)} pins {tool}=={importer.get(tool)}, "
            f"requirements.txt {requirements[tool]}"
        )


def test_pre_commit_hooks_run_the_same_commands_as_make_lint():
    lint = [
        re.sub(r"^\$\(BIN\)/", "", line)
        for line in recipe(MAKEFILE.read_text(encoding="utf-8"), "lint")
    ]
    entries = [" ".join([hook["entry"], *hook.get("args", [])]) for hook in pre_commit_hooks().values()]
    assert sorted(entries) == sorted(lint), f"make lint runs {lint}, pre-commit runs {entries}"
    for hook in pre_commit_hooks().values():
        assert hook.get("pass_filenames") is False, f"{hook['id']} lints the whole tree, like make lint"


def test_ansible_test_units_pins_what_requirements_txt_pins():
    """tests/unit/requirements.txt (what `ansible-test units` installs) is a subset of requirements.txt."""
    requirements = requirement_pins()
    units = requirement_pins(REPO / "tests" / "unit" / "requirements.txt")
    assert units and {name: requirements.get(name) for name in units} == units, (
        f"tests/unit/requirements.txt pins {units}, requirements.txt {requirements}")
