"""The env file reader and writer of plugins/module_utils/_systemd_env.py."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
READER = HERE.parents[3] / "plugins/module_utils/_systemd_env.py"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


systemd_env = _load("systemd_env", READER)
env_table = _load("env_table", HERE / "env_table.py")
TABLE = env_table.table()


def test_the_table_has_what_the_issue_asks_for():
    keys = [value for _raw, key, value in TABLE if key.startswith("T_DJANGO_")]
    assert len(keys) == 20 and all(len(k) == 50 and set(k) <= set(env_table.DJANGO_ALPHABET) for k in keys)
    alone = {value for _raw, key, value in TABLE if key.startswith("T_ALONE_")}
    assert set(env_table.SPECIALS) <= alone
    assert len(TABLE) >= 15


@pytest.mark.parametrize("raw, key, value", TABLE, ids=[row[1] for row in TABLE])
def test_each_line_alone_gives_what_systemd_gives(raw, key, value):
    assert dict(systemd_env.parse(raw + "\n")).get(key) == value
    # Without a final newline too.
    assert dict(systemd_env.parse(raw)).get(key) == value


def test_the_whole_table_in_one_file():
    found = dict(systemd_env.parse(env_table.env_text(TABLE)))
    assert found == {key: value for _raw, key, value in TABLE if value is not None}


# ids by key: the Django keys are drawn afresh by each pytest(-xdist) worker.
VALUED = [row for row in TABLE if row[2] is not None]


@pytest.mark.parametrize("value", [row[2] for row in VALUED], ids=[row[1] for row in VALUED])
def test_quote_reads_back_as_the_value(value):
    text = systemd_env.line("K", value) + "\n"
    assert systemd_env.parse(text) == [("K", value)]
    # and it is one assignment however the value starts or ends
    assert systemd_env.parse("A=1\n" + text + "B=2\n") == [("A", "1"), ("K", value), ("B", "2")]


@pytest.mark.parametrize("value, written", [
    ("https://hub.example:8443/api?x=1#frag", "https://hub.example:8443/api?x=1#frag"),
    ("a.example # ours,hub.internal", '"a.example # ours,hub.internal"'),
    ("k$x(9&a)", '"k\\$x(9&a)"'),
    ("", '""'),
    (" padded ", '" padded "'),
    ("'quoted'", '"\'quoted\'"'),
    ('"', '"\\""'),
    ("a\\b`c`", '"a\\\\b\\`c\\`"'),
    ("#start", '"#start"'),
])
def test_quote_writes_plain_values_bare_and_quotes_the_rest(value, written):
    assert systemd_env.quote(value) == written


@pytest.mark.parametrize("key", ["1ABC", "A B", "A-B", "", "A=B"])
def test_line_refuses_a_key_systemd_would_ignore(key):
    with pytest.raises(ValueError):
        systemd_env.line(key, "x")


def test_quote_refuses_control_characters():
    with pytest.raises(ValueError):
        systemd_env.quote("a\x1bb")


def test_last_assignment_wins_invalid_names_are_ignored_control_characters_kept():
    text = "A=1\nB=2\nA=3\n1X=no\nexport C=no\nD-E=no\nF=a\x01b\n"
    assert systemd_env.parse(text) == [("B", "2"), ("A", "3"), ("F", "a\x01b")]


def test_a_value_longer_than_arg_max_drops_the_key_even_after_a_valid_one(monkeypatch):
    monkeypatch.setattr(systemd_env, "_arg_max", lambda: 10)
    assert systemd_env.parse("A=1\nA=12345678\nB=1234567\n") == [("B", "1234567")]


def test_an_assignment_that_is_not_utf8_refuses_the_whole_file(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_bytes(b"A=caf\xc3\xa9\n\nB=caf\xe9\nC=1\n")
    with pytest.raises(systemd_env.Refused) as refused:
        systemd_env.read(str(env_file))
    assert (refused.value.line, refused.value.reason) == (3, "a value that is not UTF-8")
    assert "caf" not in str(refused.value)


def test_read_follows_the_hosts_systemd(tmp_path, monkeypatch):
    env_file = tmp_path / "env"
    env_file.write_text("# continued \\\nA=1\n")
    monkeypatch.setattr(systemd_env, "host_systemd", lambda: 252)
    assert systemd_env.read(str(env_file)) == []
    monkeypatch.setattr(systemd_env, "host_systemd", lambda: 257)
    assert systemd_env.read(str(env_file)) == [("A", "1")]
    monkeypatch.setattr(systemd_env, "host_systemd", lambda: None)
    assert systemd_env.read(str(env_file)) == [("A", "1")]
    assert systemd_env.read(str(env_file), systemd=247) == []


def test_assignments_give_the_span_of_each_line():
    text = "# c\n  A = 1 \nB='x\ny'\nC=\\\nz"
    spans = [(key, value, text[start:end]) for key, value, start, end in systemd_env.assignments(text)]
    assert spans == [("A", "1", "A = 1 "), ("B", "x\ny", "B='x\ny'"), ("C", "z", "C=\\\nz")]


def test_a_comment_ends_at_its_line_even_after_a_backslash_from_v254():
    assert systemd_env.parse("# comment \\\nA=1\n") == [("A", "1")]
    assert systemd_env.parse("# comment \\\nA=1\n", 254) == [("A", "1")]
    # before: the backslash continues the comment.
    assert systemd_env.parse("# comment \\\nA=1\nB=2\n", 253) == [("B", "2")]


def test_carriage_returns_end_lines():
    assert systemd_env.parse("A=1\r\nB=2\r\n") == [("A", "1"), ("B", "2")]


def _loader(tmp_path, text, *command):
    env_file = tmp_path / "env"
    env_file.write_text(text)
    return subprocess.run([sys.executable, "-I", str(READER), str(env_file)] + list(command),
                          env={"PATH": "/usr/bin:/bin", "KEPT": "yes"}, capture_output=True,
                          text=True, check=False)


def test_the_loader_executes_the_command_with_the_file_added(tmp_path):
    result = _loader(tmp_path, env_table.env_text(TABLE), "/usr/bin/env", "-0")
    assert result.returncode == 0, result.stderr
    seen = dict(item.split("=", 1) for item in result.stdout.split("\0") if item)
    assert seen["KEPT"] == "yes"
    for _raw, key, value in TABLE:
        assert seen.get(key) == value, key


def test_the_loader_adds_only_the_files_variables_not_pythons_locale_coercion(tmp_path):
    # cron's environment has no locale: CPython would put LC_CTYPE=C.UTF-8 into os.environ.
    result = _loader(tmp_path, "A=1\n", "/usr/bin/env", "-0")
    assert result.returncode == 0, result.stderr
    assert sorted(item.split("=", 1)[0] for item in result.stdout.split("\0") if item) == ["A", "KEPT", "PATH"]


def test_the_loader_never_runs_the_file(tmp_path):
    marker = tmp_path / "ran"
    result = _loader(tmp_path, "A=x&touch %s\nB=$(touch %s)\n" % (marker, marker), "/bin/true")
    assert result.returncode == 0 and not marker.exists()


def test_the_loader_runs_only_an_absolute_command(tmp_path):
    result = _loader(tmp_path, "PATH=%s\n" % tmp_path, "true")
    assert result.returncode == 64 and "usage" in result.stderr


def test_the_loader_exits_78_when_the_file_cannot_be_read(tmp_path):
    result = subprocess.run([sys.executable, "-I", str(READER), str(tmp_path / "missing"), "/bin/true"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 78 and "cannot read" in result.stderr


def test_the_loader_check_mode_runs_nothing(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("A=1\n")
    run = [sys.executable, "-I", str(READER), "--check", str(env_file)]
    assert subprocess.run(run, capture_output=True, check=False).returncode == 0
    env_file.write_bytes(b"A=1\nB=\xff\n")
    result = subprocess.run(run, capture_output=True, text=True, check=False)
    assert result.returncode == 65
    assert result.stderr == "systemd refuses %s as a whole (line 2: a value that is not UTF-8), " \
                            "so its units do not start\n" % env_file
    result = subprocess.run(run + ["/bin/true"], capture_output=True, text=True, check=False)
    assert result.returncode == 64 and "usage" in result.stderr


def test_the_loader_reports_a_command_that_does_not_exist(tmp_path):
    result = _loader(tmp_path, "", str(tmp_path / "nothing"))
    assert result.returncode == 127 and "cannot run" in result.stderr
    assert os.path.basename(str(tmp_path / "nothing")) in result.stderr


# systemd's own test inputs (systemd_cases.py), by the rules of each systemd
# Debian ships and of upstream ------------------------------------------------

cases = _load("systemd_cases", HERE / "systemd_cases.py")
# Debian 11, 12 and 13, and upstream (None).
VERSIONS = [247, 252, 257, None]


def reader(data, systemd):
    try:
        return dict(systemd_env.parse(systemd_env.decode(data), systemd))
    except systemd_env.Refused as refused:
        return cases.Refused(refused.line)


@pytest.mark.parametrize("systemd", VERSIONS, ids=lambda v: "v%s" % (v or "upstream"))
@pytest.mark.parametrize("case", cases.CASES, ids=[c.name for c in cases.CASES])
def test_the_reader_gives_what_systemd_gives(case, systemd):
    assert reader(case.data, systemd) == cases.expected(case, systemd)


def test_the_table_covers_the_load_paths_of_systemds_tests():
    names = {c.name for c in cases.CASES}
    for test in ("load_env_file_%d" % n for n in range(1, 7)):
        assert test in names
    for prefix in ("load_env_file_invalid_utf8", "write_and_load_env_file", "parse_env_file",
                   "parse_multiline_env_file", "load_env_file_pairs", "exec-environmentfile",
                   "exec-execsearchpath-environmentfile"):
        assert any(name.startswith(prefix) for name in names), prefix
    refused = [c for c in cases.CASES if isinstance(c.expected, cases.Refused)]
    differing = [c for c in cases.CASES if c.before_254 != c.expected]
    assert len(refused) >= 8 and len(differing) >= 3


def test_the_versions_differ_only_on_continued_comments():
    for case in cases.CASES:
        if case.before_254 != case.expected:
            assert b"\\\n" in case.data and (b"#" in case.data or b";" in case.data), case.name


def test_the_host_version_comes_from_systemds_shared_library(tmp_path, monkeypatch):
    for name in ("libsystemd-shared-252.so", "libsystemd-shared-257.13-1.fc41.so", "other.so"):
        (tmp_path / name).write_text("")
    monkeypatch.setattr(systemd_env, "_SHARED", (str(tmp_path / "libsystemd-shared-*.so"),))
    assert systemd_env.host_systemd() == 257
    monkeypatch.setattr(systemd_env, "_SHARED", (str(tmp_path / "none-*.so"),))
    assert systemd_env.host_systemd() is None


@pytest.mark.parametrize("case", [c for c in cases.CASES if isinstance(c.expected, cases.Refused)],
                         ids=lambda c: c.name)
def test_the_loader_runs_nothing_from_a_refused_file_and_names_only_its_line(tmp_path, case):
    env_file = tmp_path / "env"
    env_file.write_bytes(case.data)
    marker = tmp_path / "ran"
    result = subprocess.run([sys.executable, "-I", str(READER), str(env_file), "/usr/bin/touch", str(marker)],
                            capture_output=True, check=False)
    assert result.returncode == 65 and not marker.exists()
    message = result.stderr.decode()
    assert message.count("\n") == 1
    assert "%s as a whole (line %d:" % (env_file, case.expected.line) in message
    values = [part for part in case.data.decode("utf-8", "replace").replace("=", "\n").splitlines()
              if len(part) > 2]
    assert not any(value in message for value in values), message
