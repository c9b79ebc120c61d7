"""The reader on systemd's own test inputs (systemd_cases.py beside it), by
the rules of each systemd Debian ships and of upstream."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
READER = HERE.parents[3] / "plugins/module_utils/systemd_env.py"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


systemd_env = _load("systemd_env", READER)
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
