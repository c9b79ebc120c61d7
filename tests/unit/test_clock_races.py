"""No testinfra or consumer test races cron or the clock.

Cron keeps firing while the scenarios' verifiers run (the health check
every minute in default and upstream, cron.hourly and cron.daily from
/etc/crontab, logrotate.timer under systemd). A test that runs an installed
line by hand (cron's run takes the job's lock: exit 75), runs logrotate (a
second logrotate on the state file fails), snapshots the host, reads the
status table or expects a cell to be `never` must do it with cron frozen:
inside `with cron_frozen(host)` / `logrotate_held(host)` of
tests/infra/conftest.py, or with a fixture that yields inside one
(`cron_paused`, `logrotate_paused`, or a module's own). A rotation in a
module that runs on a systemd host (common, systemd, upstream) needs
logrotate_held, which also stops logrotate.timer. The consumer test, whose
fresh host has no cron to freeze before the role starts it, gives the
health check a schedule that cannot fire during the tests (quiet_schedule).

This reads the tests' source (ast): what it flags is a call, where it is,
and whether a freeze covers it, including through the module's fixtures
and helpers. A test that is safe for another reason is listed in ALLOWED
with that reason.
"""

import ast
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
INFRA = REPO / "tests" / "infra"
CONSUMER = REPO / "tests" / "consumer" / "test_consumer.py"

CRON, ROTATION = 1, 2  # how much a freeze holds: cron, or cron and logrotate.timer
FREEZERS = {"cron_frozen": CRON, "logrotate_held": ROTATION}
FROZEN_FIXTURES = {"cron_paused": CRON, "logrotate_paused": ROTATION}  # tests/infra/conftest.py
# Run a job's installed line, read the status table, or snapshot the host.
RACING_CALLS = {"run_job", "run_status", "snapshot"}
# Directories whose tests run on a host with systemd (logrotate.timer).
SYSTEMD_DIRS = {"common", "systemd", "upstream"}
# Tests that must see cron fire: never frozen.
LIVE_CRON = re.compile(r"cron(_itself)?_fires")

# (module under tests/infra, test): why it is safe although it does what is flagged.
ALLOWED = {
    ("default/test_status.py", "test_cron_stopped_fails_the_host"):
        "cron is stopped (and waited for) before the status run: nothing can fire",
    ("default/test_status.py", "test_status_refuses_bad_input_naming_the_variable"):
        "the input is refused before the host is read",
    ("upstream/test_real_app.py", "test_django_loads_the_pasted_key_inside_a_job"):
        "it runs the runner under a job name of its own (keycheck): cron holds no lock of it",
}


def _name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _calls(node):
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)]


def _is_fixture(func):
    return any(_name(d.func if isinstance(d, ast.Call) else d) == "fixture" for d in func.decorator_list)


def _rotation(call):
    """A command that runs logrotate (not -d) or the hourly runner, given to host.run / check_output."""
    if _name(call.func) not in ("run", "check_output") or not call.args:
        return False
    first = call.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return False
    return bool(re.match(r"\s*(?:(?:/usr/sbin/)?logrotate (?!-d)|/etc/cron\.hourly/)", first.value))


def _never(node):
    return isinstance(node, ast.Compare) and any(
        isinstance(side, ast.Constant) and isinstance(side.value, str) and re.fullmatch(r"never(/.*)?", side.value)
        for side in [node.left] + node.comparators)


class Module:
    """The functions of one test module, what each does and what freezes it."""

    def __init__(self, path):
        self.path = path
        self.tree = ast.parse(path.read_text(), str(path))
        self.functions = {f.name: f for f in self.tree.body if isinstance(f, ast.FunctionDef)}
        self.fixtures = {name for name, f in self.functions.items() if _is_fixture(f)}
        self.racing_helpers = self._racing_helpers()

    def _racing_helpers(self):
        """Module-level helpers that make a racing call themselves (to a fixpoint)."""
        helpers = set()
        while True:
            found = {name for name, f in self.functions.items()
                     if not name.startswith("test_") and name not in self.fixtures and name not in helpers
                     and self.findings(f, helpers, frozen=0)}
            if not found:
                return helpers
            helpers |= found

    def fixture_level(self, name, seen=()):
        """How much a fixture holds cron while the tests that request it run."""
        if name in FROZEN_FIXTURES:
            return FROZEN_FIXTURES[name]
        if name not in self.fixtures or name in seen:
            return 0
        func = self.functions[name]
        level = self.param_level(func, seen + (name,))
        for node, held in self._frozen_blocks(func):
            if any(isinstance(n, ast.Yield) for n in ast.walk(node)):
                level = max(level, held)
        return level

    def param_level(self, func, seen=()):
        return max([self.fixture_level(arg.arg, seen) for arg in func.args.args] or [0])

    @staticmethod
    def _frozen_blocks(func):
        """(with-statement, level) of each with block that freezes cron."""
        blocks = []
        for node in ast.walk(func):
            if not isinstance(node, ast.With):
                continue
            levels = [FREEZERS.get(_name(item.context_expr.func), 0) for item in node.items
                      if isinstance(item.context_expr, ast.Call)]
            # contextlib.ExitStack: frozen.enter_context(cron_frozen(host)) in its body.
            levels += [FREEZERS.get(_name(call.args[0].func), 0) for stmt in node.body for call in _calls(stmt)
                       if _name(call.func) == "enter_context" and call.args and isinstance(call.args[0], ast.Call)]
            if max(levels or [0]):
                blocks.append((node, max(levels)))
        return blocks

    def findings(self, func, helpers=None, frozen=None):
        """(line, what, level needed) of each racing step of func that no freeze covers."""
        helpers = self.racing_helpers if helpers is None else helpers
        frozen = self.param_level(func) if frozen is None else frozen
        covered = {}
        for block, level in self._frozen_blocks(func):
            for node in ast.walk(block):
                covered[id(node)] = max(covered.get(id(node), 0), level)
        systemd = self.path.parent.name in SYSTEMD_DIRS
        calls_job_command = any(_name(c.func) == "job_command" for c in _calls(func))
        found = []
        for node in ast.walk(func):
            need, what = 0, None
            if isinstance(node, ast.Call):
                name = _name(node.func)
                if name in RACING_CALLS or name in helpers:
                    need, what = CRON, name + "()"
                elif name == "run_as_app" and calls_job_command:
                    need, what = CRON, "run_as_app() of an installed line"
                elif _rotation(node):
                    need, what = ROTATION if systemd else CRON, "a logrotate run"
            elif _never(node):
                need, what = CRON, "a comparison with 'never'"
            if need and max(frozen, covered.get(id(node), 0)) < need:
                found.append((node.lineno, what, "logrotate_held" if need == ROTATION else "cron_frozen"))
        return found


def infra_modules():
    return sorted(path for path in INFRA.glob("*/test_*.py"))


def _relative(path):
    return str(path.relative_to(INFRA))


@pytest.mark.parametrize("path", infra_modules(), ids=_relative)
def test_every_racing_step_runs_with_cron_frozen(path):
    module = Module(path)
    problems = []
    for name, func in module.functions.items():
        if not (name.startswith("test_") or name in module.fixtures):
            continue
        found = module.findings(func)
        if (_relative(path), name) in ALLOWED:
            assert found, "%s::%s no longer races: drop it from ALLOWED" % (_relative(path), name)
            continue
        problems += ["%s:%d %s: %s outside %s" % (_relative(path), line, name, what, freezer)
                     for line, what, freezer in found]
    assert not problems, "\n".join(problems)


def test_the_allowed_tests_exist():
    for module_path, name in ALLOWED:
        assert name in Module(INFRA / module_path).functions, (module_path, name)


def test_tests_that_watch_cron_fire_never_freeze_it():
    watchers = []
    for path in infra_modules():
        module = Module(path)
        for name, func in module.functions.items():
            if name.startswith("test_") and LIVE_CRON.search(name):
                watchers.append(name)
                assert module.param_level(func) == 0 and not module._frozen_blocks(func), (path, name)
    assert len(watchers) >= 2, watchers  # default's and upstream's


def test_the_freezing_fixtures_and_helpers_are_the_infra_conftests():
    """What this check trusts: each fixture yields inside its helper, and the
    helpers stop cron (and run-parts) and logrotate.timer."""
    conftest = Module(INFRA / "conftest.py")
    for fixture, helper in (("cron_paused", "cron_frozen"), ("logrotate_paused", "logrotate_held")):
        assert fixture in conftest.fixtures and helper in conftest.functions, (fixture, helper)
        blocks = Module._frozen_blocks(conftest.functions[fixture])
        assert [level for _block, level in blocks] == [FREEZERS[helper]] == [FROZEN_FIXTURES[fixture]], fixture
        assert any(isinstance(node, ast.Yield) for node in ast.walk(blocks[0][0])), fixture
    strings = {name: [node.value for node in ast.walk(conftest.functions[name])
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)]
               for name in FREEZERS}
    assert "pkill -STOP -x cron" in strings["cron_frozen"]
    assert any("pkill -STOP -x run-parts" in text for text in strings["cron_frozen"])
    assert "systemctl stop logrotate.timer" in strings["logrotate_held"]
    assert any(_name(call.func) == "cron_frozen" for call in _calls(conftest.functions["logrotate_held"]))


def test_the_consumer_tests_expecting_never_get_a_schedule_that_cannot_fire():
    module = Module(CONSUMER)

    def reaches(name, target, seen=()):
        if name == target:
            return True
        if name not in module.fixtures or name in seen:
            return False
        return any(reaches(arg.arg, target, seen + (name,)) for arg in module.functions[name].args.args)

    expecting = [name for name, func in module.functions.items()
                 if name.startswith("test_") and any(_never(node) for node in ast.walk(func))]
    assert expecting, "no consumer test expects never/- any more: drop this check"
    for name in expecting:
        func = module.functions[name]
        assert any(reaches(arg.arg, "quiet_schedule") for arg in func.args.args), name
    # Every run of the host's playbooks happens in a project that has the schedule.
    assert reaches("project", "quiet_schedule")
