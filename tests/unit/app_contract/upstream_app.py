"""What the role relies on in the app, read from the app's own source.

UpstreamApp parses the pinned server-monitoring tarball; it never imports or
runs the app. Every method reads one file, and a shape it does not recognise
raises an AssertionError naming the file and what changed upstream, so an app
release that moves what the role relies on fails the unit tests first.
"""

from __future__ import annotations

import ast
import functools
import pathlib
import re
import shlex
import subprocess
import tarfile
import types

REPO = pathlib.Path(__file__).resolve().parents[3]
FETCH_SCRIPT = REPO / "scripts" / "fetch-upstream.sh"
SETTINGS = "config/settings.py"
UNIT_KEYS = ("User", "Group", "WorkingDirectory", "EnvironmentFile", "ExecStart")
CRON_TAG = "# server-maintanence "
# All that setting_from_env() lends an expression of settings.py; paths come out
# relative to the project directory (BASE_DIR).
SAFE_BUILTINS = {f.__name__: f for f in (bool, dict, float, frozenset, int, len, list, set, str, tuple)}


@functools.cache
def tarball() -> pathlib.Path:
    """The verified app tarball: fetch-upstream.sh's last stdout line, else the shared pinned copy."""
    if FETCH_SCRIPT.exists():
        run = subprocess.run(["bash", str(FETCH_SCRIPT)], cwd=REPO, capture_output=True, text=True, check=False)
        assert run.returncode == 0 and run.stdout.strip(), \
            f"{FETCH_SCRIPT.name} exited {run.returncode}: {run.stderr.strip()[-2000:]}"
        path = REPO / run.stdout.strip().splitlines()[-1].strip()
    else:
        found = sorted((REPO.parent / "shared" / "upstream").glob("server-monitoring-*.tar.gz"))
        assert len(found) == 1, f"expected one app tarball in ../shared/upstream, found {found}"
        path = found[0]
    assert path.is_file(), f"no app tarball at {path}"
    return path


def case_options(text: str, where: str = "script") -> set[str]:
    """The --options in the arms of a shell script's `case` over its arguments ($1 or a `for x in "$@"`)."""
    arg_vars = {"1"} | set(re.findall(r'\bfor\s+(\w+)\s+in\s+"\$@"', text))
    options, depth, parsing = set(), 0, None  # parsing: depth of the case being read
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        case = re.match(r"\s*case\s+(\S+)\s+in\b", line)
        if case:
            depth += 1
            subject = re.fullmatch(r'"?\$\{?(\w+)(?::-[^}]*)?\}?"?', case.group(1))
            if parsing is None and subject and subject.group(1) in arg_vars:
                parsing = depth
        elif depth == parsing and (arm := re.match(r"\s*\(?([^\s()\"'$|]+(?:\s*\|\s*[^\s()\"'$|]+)*)\)", line)):
            options |= {p.strip().split("=")[0] for p in arm.group(1).split("|") if p.strip().startswith("--")}
        for _esac in re.findall(r"\besac\b", line):
            parsing = None if depth == parsing else parsing
            depth -= 1
    assert options, f"{where}: no `case` over its arguments with --option arms any more"
    return options


def _targets(stmt) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _is_output(node, names) -> bool:
    """`<x>.stdout` or one of `names`, possibly through method calls such as .lower()."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return getattr(node, "attr", None) == "stdout" or getattr(node, "id", None) in names


def _registers(decorator, tag: str) -> bool:
    """@register("tag", ...) or @register(Tags.tag, ...)."""
    return (isinstance(decorator, ast.Call) and ast.unparse(decorator.func).rsplit(".", maxsplit=1)[-1] == "register"
            and any(getattr(a, "value", None) == tag or getattr(a, "attr", None) == tag for a in decorator.args))


class UpstreamApp:
    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.files: dict[str, bytes] = {}
        with tarfile.open(self.path) as tar:
            members = tar.getmembers()
            tops = {m.name.split("/")[0] for m in members}
            assert len(tops) == 1, f"{self.path.name}: expected one top directory, found {sorted(tops)}"
            for member in members:
                if member.isfile():
                    self.files[member.name.partition("/")[2]] = tar.extractfile(member).read()

    def text(self, relpath: str) -> str:
        assert relpath in self.files, f"the app no longer has {relpath}"
        return self.files[relpath].decode()

    def _parse(self, relpath: str) -> ast.Module:
        return ast.parse(self.text(relpath), relpath)

    def management_commands(self) -> dict[str, set[str]]:
        commands = {}
        for rel in sorted(self.files):
            found = re.fullmatch(r"(?:[^/]+/)+management/commands/([^/_][^/]*)\.py", rel)
            if not found:
                continue
            name = found.group(1)
            assert name not in commands, f"two management commands are named {name}, the second in {rel}"
            classes = [n for n in self._parse(rel).body if isinstance(n, ast.ClassDef) and n.name == "Command"]
            assert len(classes) == 1, f"{rel} no longer defines one class Command"
            options = set()
            for fn in classes[0].body:
                if not (isinstance(fn, ast.FunctionDef) and fn.name == "add_arguments"):
                    continue
                for call in ast.walk(fn):
                    if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "add_argument":
                        for arg in call.args:
                            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), \
                                f"{rel}:{call.lineno}: add_argument() with a computed name: {ast.unparse(call)}"
                            if arg.value.startswith("-"):
                                options.add(arg.value)
            commands[name] = options
        assert commands, "the app has no <app>/management/commands/*.py any more"
        return commands

    def _crontab_check(self):
        """(module, function, its `x in <crontab -l output>` tests) of the crontab check that warns on them."""
        rel = "apps/checkers/checks.py"
        tree, found = self._parse(rel), []
        for fn in tree.body:
            if not (isinstance(fn, ast.FunctionDef) and any(_registers(d, "crontab") for d in fn.decorator_list)):
                continue
            output = {t for n in ast.walk(fn) if isinstance(n, ast.Assign) and _is_output(n.value, ())
                      for t in _targets(n)}
            tests = [n for n in ast.walk(fn) if isinstance(n, ast.Compare) and len(n.ops) == 1
                     and isinstance(n.ops[0], (ast.In, ast.NotIn)) and _is_output(n.comparators[0], output)]
            warns = [n for n in ast.walk(fn) if isinstance(n, ast.If) and any(t in tests for t in ast.walk(n.test))
                     and any(k.arg == "id" for b in n.body for c in ast.walk(b) if isinstance(c, ast.Call)
                             for k in c.keywords)]
            if warns:
                found.append((fn, sorted(tests, key=lambda n: (n.lineno, n.col_offset))))
        assert len(found) == 1, (f"{rel}: expected one check tagged 'crontab' that warns unless strings are `in` "
                                 f"the crontab -l output, found {[fn.name for fn, _tests in found]}")
        fn, tests = found[0]
        assert any(ast.unparse(n) == "['crontab', '-l']" for n in ast.walk(fn) if isinstance(n, ast.List)), \
            f"{rel}: {fn.name}() no longer runs ['crontab', '-l']"
        return tree, fn, tests

    def crontab_markers(self) -> list[str]:
        tree, fn, tests = self._crontab_check()
        strings = {t: s.value.value for s in [*tree.body, *ast.walk(fn)] if isinstance(s, ast.Assign)
                   and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str) for t in _targets(s)}
        markers = []
        for test in tests:
            left = test.left
            marker = left.value if isinstance(left, ast.Constant) else strings.get(getattr(left, "id", None))
            assert isinstance(marker, str), \
                f"checks.py:{test.lineno}: {fn.name}() tests `{ast.unparse(test)}`, not a string literal or constant"
            if marker not in markers:
                markers.append(marker)
        return markers

    def crontab_warning_ids(self) -> list[str]:
        fn = self._crontab_check()[1]
        calls = sorted((n for n in ast.walk(fn) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
        ids = [k.value.value for call in calls for k in call.keywords
               if k.arg == "id" and isinstance(k.value, ast.Constant)]
        assert ids, f"checks.py: {fn.name}() no longer emits checks with a literal id="
        return list(dict.fromkeys(ids))

    def push_key_checks(self) -> list[str]:
        """The conditions under which push_to_hub's Command.handle() refuses to
        push for want of a key: each `if` whose test reads the name bound to
        settings.HUB_API_KEY and whose body raises, unparsed, with the `if`s it
        sits in ("a and b" for an `if a:` holding an `if b:`). [] when it no
        longer refuses at all."""
        rel = "apps/alerts/management/commands/push_to_hub.py"
        tree = ast.parse(self.text(rel))
        handles = [n for c in tree.body if isinstance(c, ast.ClassDef) and c.name == "Command"
                   for n in c.body if isinstance(n, ast.FunctionDef) and n.name == "handle"]
        assert len(handles) == 1, f"{rel}: no longer one Command.handle()"
        keys = {t for n in ast.walk(handles[0]) if isinstance(n, ast.Assign)
                and "HUB_API_KEY" in ast.unparse(n.value) and "settings" in ast.unparse(n.value)
                for t in _targets(n)}
        assert keys, f"{rel}: handle() no longer reads settings.HUB_API_KEY into a name"
        found = []

        def visit(body, outer):
            for stmt in body:
                if isinstance(stmt, ast.If):
                    test = outer + [ast.unparse(stmt.test)]
                    reads = {n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)}
                    if reads & keys and any(isinstance(s, ast.Raise) for s in stmt.body):
                        found.append(" and ".join(test))
                    visit(stmt.body, test)
                    visit(stmt.orelse, outer + ["not (%s)" % ast.unparse(stmt.test)])
                elif isinstance(stmt, (ast.With, ast.For, ast.While, ast.Try)):
                    visit(getattr(stmt, "body", []), outer)

        visit(handles[0].body, [])
        return found

    def detect_mode_functions(self) -> str:
        """bin/lib/health_check.sh's detect_env, detect_deploy_method and
        detect_mode, as bash source to run on their own."""
        rel, names = "bin/lib/health_check.sh", ("detect_env", "detect_deploy_method", "detect_mode")
        text = self.text(rel)
        found = {m.group(1): m.group(0) for m in re.finditer(r"^(\w+)\(\) \{\n.*?^\}\n", text, re.M | re.S)}
        missing = [name for name in names if name not in found]
        assert not missing, f"{rel}: no longer defines {missing} as `name() {{` ... `}}`"
        return "".join(found[name] for name in names)

    def installer_lines(self) -> dict[str, str]:
        rel, values = "bin/install/cron.sh", {"CMD": {}, "ID": {}}
        for line in self.text(rel).splitlines():
            found = re.match(r"\s*(\w+)_(CMD|ID)=(.*)$", line)
            if found:
                prefix, kind, words = found.group(1), found.group(2), shlex.split(found.group(3))
                assert len(words) == 1, f"{rel}: {prefix}_{kind} is not one quoted word: {line.strip()}"
                assert values[kind].setdefault(prefix, words[0]) == words[0], f"{rel}: {prefix}_{kind} set twice"
        commands, ids = values["CMD"], values["ID"]
        assert commands and commands.keys() == ids.keys(), \
            f"{rel}: *_CMD {sorted(commands)} and *_ID {sorted(ids)} no longer pair up"
        for prefix, ident in ids.items():
            assert ident.startswith(CRON_TAG), f"{rel}: {prefix}_ID is {ident!r}, not '{CRON_TAG}<tag>'"
        return {ids[p][len(CRON_TAG):]: commands[p] for p in ids}

    @staticmethod
    def _env_key(node):
        """The key of an os.environ.get(k)/os.getenv(k)/os.environ[k] read, else None."""
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv"):
            key = node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and ast.unparse(node.value) == "os.environ":
            key = node.slice
        else:
            return None
        assert isinstance(key, ast.Constant) and isinstance(key.value, str), \
            f"{SETTINGS}:{node.lineno}: reads os.environ with a computed key: {ast.unparse(node)}"
        return key.value

    def _keys_in(self, node) -> set[str]:
        return {k for n in ast.walk(node) if (k := self._env_key(n))}

    def env_keys_read(self) -> set[str]:
        return self._keys_in(self._parse(SETTINGS))

    def _eval(self, tree, expr, names):
        if "BASE_DIR" in {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}:
            base = [ast.unparse(s.value) for s in tree.body
                    if isinstance(s, ast.Assign) and _targets(s) == ["BASE_DIR"]]
            assert base == ["Path(__file__).resolve().parent.parent"], \
                f"{SETTINGS}: BASE_DIR is no longer the project directory: {base}"
        try:
            return eval(compile(ast.Expression(expr), SETTINGS, "eval"), {"__builtins__": SAFE_BUILTINS, **names})
        except NameError as error:
            raise AssertionError(f"{SETTINGS}:{expr.lineno}: `{ast.unparse(expr)}` needs {error.name}, "
                                 "which this reader does not model") from error

    def setting_from_env(self, key: str, value: str | None):
        """The setting settings.py derives from `key`, with only {key: value} in the environment (None: unset).

        A private intermediate (_name = os.environ.get(...)) is followed into the one
        module-level assignment computed from it (e.g. ALLOWED_HOSTS).
        """
        tree = self._parse(SETTINGS)
        hits = [(i, s) for i, s in enumerate(tree.body)
                if isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value and key in self._keys_in(s.value)]
        if not hits:
            assert key not in self.env_keys_read(), f"{SETTINGS} reads {key} outside a module-level assignment"
            raise KeyError(key)
        assert len(hits) == 1, f"{SETTINGS} assigns from {key} {len(hits)} times"
        (index, stmt), environ = hits[0], {} if value is None else {key: value}
        assert len(_targets(stmt)) == 1, f"{SETTINGS}:{stmt.lineno}: {key} is no longer read into one name"
        names = {"os": types.SimpleNamespace(environ=environ, getenv=environ.get),
                 "Path": pathlib.PurePosixPath, "BASE_DIR": pathlib.PurePosixPath(".")}
        result, name = self._eval(tree, stmt.value, names), _targets(stmt)[0]
        if name.startswith("_"):
            users = [s for s in tree.body[index + 1:] if isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value
                     and name in {n.id for n in ast.walk(s.value) if isinstance(n, ast.Name)}]
            if len(users) == 1:
                result = self._eval(tree, users[0].value, {**names, name: result})
        return result

    def required_env(self) -> set[str]:
        """Env keys behind the settings that settings.py refuses to start without (`if not X: raise`)."""
        tree = self._parse(SETTINGS)
        sources = {t: self._keys_in(s.value) for s in tree.body
                   if isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value for t in _targets(s)}
        return {k for s in tree.body if isinstance(s, ast.If) and isinstance(s.test, ast.UnaryOp)
                and isinstance(s.test.op, ast.Not) and isinstance(s.test.operand, ast.Name)
                and any(isinstance(n, ast.Raise) for n in s.body) for k in sources.get(s.test.operand.id, ())}

    def units(self) -> dict[str, dict[str, str]]:
        units = {}
        for rel in sorted(r for r in self.files if re.fullmatch(r"deploy/systemd/[^/]+\.service", r)):
            section, service = None, {}
            for line in re.sub(r"\s*\\\n\s*", " ", self.text(rel)).splitlines():
                line = line.strip()
                if not line or line[0] in "#;":
                    continue
                if line.startswith("["):
                    section = line
                    continue
                key, sep, value = (part.strip() for part in line.partition("="))
                assert sep, f"{rel}: unreadable line {line!r}"
                if section == "[Service]" and key in UNIT_KEYS:
                    assert key not in service, f"{rel}: [Service] sets {key} twice"
                    service[key] = value
            missing = [k for k in UNIT_KEYS if k not in service]
            assert not missing, f"{rel}: [Service] no longer sets {missing}"
            units[rel.rsplit("/", 1)[1]] = {k: service[k] for k in UNIT_KEYS}
        assert units, "the app has no deploy/systemd/*.service any more"
        return units

    def inbox_stale_minutes(self) -> int:
        """apps/orchestration/inbox.py's DEFAULT_STALE_MINUTES: after how long the app reclaims a run left
        PROCESSING, checked to be what process_inbox reclaims with when --stale-minutes is not given."""
        rel = "apps/orchestration/inbox.py"
        values = [s.value.value for s in self._parse(rel).body if isinstance(s, (ast.Assign, ast.AnnAssign))
                  and _targets(s) == ["DEFAULT_STALE_MINUTES"] and isinstance(s.value, ast.Constant)]
        assert len(values) == 1 and type(values[0]) is int, \
            f"{rel} no longer sets DEFAULT_STALE_MINUTES once to a whole number: {values}"
        command = "apps/orchestration/management/commands/process_inbox.py"
        tree = self._parse(command)
        imported = [alias.asname or alias.name for n in tree.body if isinstance(n, ast.ImportFrom)
                    and n.module == "apps.orchestration" for alias in n.names if alias.name == "inbox"]
        calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "attr", None)
                 == "add_argument" and any(getattr(a, "value", None) == "--stale-minutes" for a in c.args)]
        assert len(calls) == 1, f"{command}: expected one add_argument('--stale-minutes'), found {len(calls)}"
        default = [ast.unparse(k.value) for k in calls[0].keywords if k.arg == "default"]
        assert imported and default == [imported[0] + ".DEFAULT_STALE_MINUTES"], \
            f"{command}: --stale-minutes no longer defaults to {rel}'s DEFAULT_STALE_MINUTES: {default}"
        return values[0]

    def uv_candidates(self) -> list[str]:
        rel = "bin/lib/paths.sh"
        body = re.search(r"^resolve_uv\(\)\s*\{\n(.*?)^\}", self.text(rel), re.M | re.S)
        assert body, f"{rel} no longer defines resolve_uv()"
        loop = re.search(r"\bfor\s+\w+\s+in\s+(.*?);\s*do\b", body.group(1).replace("\\\n", " "), re.S)
        assert loop, f"{rel}: resolve_uv() no longer loops over candidate paths"
        homes = set(re.findall(r'(\w+)="?\$\{?HOME\b', body.group(1))) | {"HOME"}
        candidates = []
        for word in shlex.split(loop.group(1)):
            for var in homes:
                word = re.sub(r"^\$(?:\{%s\}|%s\b)" % (var, var), "~", word)
            assert word.startswith(("/", "~/")), f"{rel}: uv candidate {word} is neither absolute nor under ~"
            candidates.append(word)
        return candidates

    def script_options(self, relpath: str) -> set[str]:
        return case_options(self.text(relpath), relpath)

    def dotenv_path(self) -> str:
        rel = "config/env.py"
        fn = next((n for n in self._parse(rel).body if isinstance(n, ast.FunctionDef) and n.name == "load_env"), None)
        assert fn and fn.args.args, f"{rel} no longer defines load_env(base_dir)"
        calls = [s.value for s in fn.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                 and ast.unparse(s.value.func).rsplit(".", maxsplit=1)[-1] == "load_dotenv" and s.value.args]
        assert len(calls) == 1, f"{rel}: load_env() no longer calls load_dotenv(path) once, unconditionally"
        assert all(ast.unparse(k.value) == "False" for k in calls[0].keywords if k.arg == "override"), \
            f"{rel}: the dotenv file now overrides the process environment"
        assigned = {t: s.value for s in ast.walk(fn) if isinstance(s, ast.Assign) for t in _targets(s)}
        path = calls[0].args[0]
        path, parts = assigned.get(getattr(path, "id", None), path), []
        while isinstance(path, ast.BinOp) and isinstance(path.op, ast.Div) and isinstance(path.right, ast.Constant):
            parts.insert(0, path.right.value)
            path = path.left
        assert parts and getattr(path, "id", None) == fn.args.args[0].arg, \
            f"{rel}: load_dotenv() no longer reads <base_dir>/<file>: {ast.unparse(calls[0])}"
        return "/".join(parts)

    def update_root_commands(self) -> list[list[str]]:
        """The commands the app's auto-update runs through sudo, each as its
        words: every `sudo ...` in bin/update.sh, bin/lib/update.sh and the
        libraries it sources; a word holding an expansion is refused (the
        grant could not name it)."""
        scripts, rel = ["bin/update.sh", "bin/lib/update.sh"], "bin/lib/update.sh"
        sourced = re.findall(r'^source "\$_LIB_DIR/([\w.-]+)"$', self.text(rel), re.M)
        assert sourced, f"{rel} no longer sources its libraries from $_LIB_DIR"
        commands = []
        for script in scripts + ["bin/lib/" + name for name in sourced]:
            for line in self.text(script).splitlines():
                if line.lstrip().startswith("#"):
                    continue
                for found in re.finditer(r"(?:^|[\s;&|(!])sudo\s+([^;&|)#]*)", line):
                    words = shlex.split(found.group(1))
                    assert not [w for w in words if re.search(r"[$`*?\[]", w)], \
                        f"{script}: sudo runs a command with expansions: {line.strip()}"
                    commands.append(words)
        return commands

    def update_history(self) -> types.SimpleNamespace:
        """What bin/lib/update.sh's _up_record_history writes: the file (its
        directory variable and name), the JSON keys of its printf, the statuses
        it is called with, the steps _up_failed_step takes, and how long the
        short shas are."""
        rel = "bin/lib/update.sh"
        text = self.text(rel)
        where = re.search(r'^_up_history_file="\$\{(\w+):-\$PROJECT_DIR/logs\}/([\w.-]+)"$', text, re.M)
        assert where, f"{rel}: _up_history_file is no longer ${{<VAR>:-$PROJECT_DIR/logs}}/<name>"
        body = re.search(r"^_up_record_history\(\)\s*\{\n(.*?)^\}", text, re.M | re.S)
        assert body, f"{rel} no longer defines _up_record_history()"
        fmt = re.search(r"printf '(\{.*\})\\n'", body.group(1))
        assert fmt, f"{rel}: _up_record_history() no longer prints one JSON object per line"
        keys = re.findall(r'"(\w+)":', fmt.group(1))
        short = re.search(r'^_up_short_sha\(\)\s*\{\n\s*printf \'%s\' "\$\{1:0:(\d+)\}"', text, re.M)
        assert short, f"{rel}: _up_short_sha() no longer cuts the sha to a fixed length"
        statuses = set(re.findall(r'_up_record_history "(\w+)"', text))
        steps = set(re.findall(r'_up_failed_step="(\w+)"', text))
        assert statuses and steps, f"{rel}: no _up_record_history calls or no failed steps found"
        # bin/lib/paths.sh sets the directory variable from LOGS_DIR (the role's env key) when unset.
        paths = self.text("bin/lib/paths.sh")
        default = re.search(r'^\s*%s="\$\{(\w+):-\$PROJECT_DIR/logs\}"' % where.group(1), paths, re.M)
        assert default, "bin/lib/paths.sh no longer defaults %s to ${<VAR>:-$PROJECT_DIR/logs}" % where.group(1)
        return types.SimpleNamespace(directory_variable=where.group(1), directory_default=default.group(1),
                                     name=where.group(2), keys=keys, statuses=statuses, steps=steps,
                                     short_sha=int(short.group(1)))
