"""No testinfra or consumer test races cron or the clock, and no test reads
what the rest of the machine changes.

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

No test of tests/unit, tests/infra or tests/consumer reads what other
lanes on the machine change without controlling it: the free space of a
shared filesystem (os.statvfs, shutil.disk_usage, df; a test patches
os.statvfs or uses a tmpfs of its own, of known size), the load or the
uptime; and no testinfra or consumer test expects a literal age from status
(`3m ago`, `15m/1`, `\\d+s/0`): the time a status run takes on a loaded
machine moves it, so an age is checked with conftest's human_ages(), bounded
by the clock before and after the run.

This reads the tests' source (ast): what it flags is a call, where it is,
and whether a freeze covers it, including through the module's fixtures
and helpers. A test that is safe for another reason is listed in ALLOWED
with that reason.
"""

import ast
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
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


# Reads of what other lanes change: free space, load, uptime.
SHARED_CALLS = {"os.statvfs", "os.fstatvfs", "shutil.disk_usage", "os.getloadavg"}
SHARED_COMMAND = re.compile(r"(?:^|[;&|(]\s*)(?:df|uptime)(?:\s|$)"
                            r"|/proc/(?:loadavg|uptime|meminfo)\b")
# An age as status prints it, or a pattern of one.
AGE_LITERAL = re.compile(r"\\d\+\[?[smhd]|(?<![\w.])\d+[smhd](?:/-?\d+| ago)\b")
# (path under tests/, function): why its read is controlled.
SHARED_ALLOWED = {
    ("infra/faults/test_full_disk.py", "full"):
        "df on a tmpfs of the test's own container, of known size, that only the test fills",
    ("infra/default/test_status.py", "test_the_free_space_shown_is_the_logs_filesystems"):
        "df on the scenario's own tmpfs (molecule/default/molecule.yml), of known size, only this test writes",
    ("infra/upstream/test_real_app.py", "test_status_reports_the_real_apps_jobs_as_run"):
        "an age below an hour, just after the jobs ran: more than twice run_site's 600 s timeout",
}
TESTS = REPO / "tests"


def _test_sources():
    paths = sorted(TESTS.glob("unit/**/*.py")) + sorted(TESTS.glob("infra/**/*.py")) + sorted(
        TESTS.glob("consumer/*.py"))
    return [path for path in paths if path != pathlib.Path(__file__).resolve()]


def _shared_reads(relative, source):
    """(function, line, what) of each read of machine-wide state in the
    source of a test module (relative: its path under tests/)."""
    tree = ast.parse(source, relative)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    owners = {}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef):
            for node in ast.walk(function):
                owners.setdefault(id(node), function.name)
    ages = relative.split("/")[0] in ("infra", "consumer")
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Call) and ast.unparse(node.func) in SHARED_CALLS:
            what = ast.unparse(node.func) + "()"
        elif isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Constant) \
                and node.elts[0].value in ("df", "uptime"):
            what = "runs %s" % node.elts[0].value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SHARED_COMMAND.search(node.value):
                what = "runs or reads %r" % SHARED_COMMAND.search(node.value).group().strip()
            elif ages and AGE_LITERAL.search(node.value):
                what = "expects the literal age %r" % AGE_LITERAL.search(node.value).group()
        if what:
            found.append((owners.get(id(node), "<module>"), node.lineno, what))
    return found


def test_no_test_reads_free_space_load_or_uptime_or_expects_a_literal_age():
    problems, allowed = [], set()
    for path in _test_sources():
        relative = str(path.relative_to(TESTS))
        for function, line, what in _shared_reads(relative, path.read_text()):
            if (relative, function) in SHARED_ALLOWED:
                allowed.add((relative, function))
                continue
            problems.append("tests/%s:%d %s: %s" % (relative, line, function, what))
    assert not problems, "\n".join(problems)
    assert allowed == set(SHARED_ALLOWED), "no longer read, drop from SHARED_ALLOWED: %s" % sorted(
        set(SHARED_ALLOWED) - allowed)


@pytest.mark.parametrize("source, flagged", [
    ("def test_x(host):\n    host.check_output('df -B1 --output=avail /opt | tail -1')\n", True),
    ("def test_x():\n    subprocess.run(['df', '-B1', path])\n", True),
    ("def test_x():\n    os.statvfs(path)\n", True),
    ("def test_x():\n    shutil.disk_usage(path)\n", True),
    ("def test_x(host):\n    host.check_output('cat /proc/loadavg')\n", True),
    ("def test_x():\n    assert 'last succeeded 3m ago' in text\n", True),
    ("def test_x():\n    assert cells['PUSH'] == '15m/1'\n", True),
    ("def test_x():\n    assert re.fullmatch(r'\\d+s/0', cell)\n", True),
    ("def test_x():\n    assert cell in human_ages(0, 60)\n", False),
    ("def test_x():\n    monkeypatch.setattr(os, 'statvfs', fake)\n", False),
    ("def test_x():\n    \"\"\"free is what df says is available\"\"\"\n", False),
    ("def test_x():\n    host.run('sleep 30 >/dev/null')\n", False),
])
def test_the_shared_state_rule_flags_what_it_says(source, flagged):
    assert bool(_shared_reads("infra/default/test_x.py", source)) is flagged

