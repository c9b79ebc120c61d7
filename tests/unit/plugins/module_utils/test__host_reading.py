"""module_utils/_host_reading.py, the one reading of the host (the maintenance
and probe modules both read with it), on a temporary filesystem: no root,
no real crontab, no systemd."""

import grp
import hashlib
import io
import os
import pwd

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _host_reading as host_reading

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def make_file(path, mode=0o644, content=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


# uv discovery ---------------------------------------------------------------

def test_given_uv_path_is_used_and_not_marked_discovered(tmp_path):
    given = make_file(tmp_path / "opt/uv", 0o755)
    candidate = make_file(tmp_path / "bin/uv", 0o755)

    uv = host_reading._uv(given, [candidate], str(tmp_path / "home"))

    assert uv == {"path": given, "discovered": False, "searched": [candidate],
                  "exists": True, "mode": "0755", "unsafe": False}


def test_given_uv_path_that_is_missing_is_reported_absent(tmp_path):
    uv = host_reading._uv(str(tmp_path / "nope/uv"), [], "/home/x")

    assert uv["exists"] is False and uv["mode"] is None and uv["unsafe"] is False


def test_tilde_candidates_are_expanded_with_the_users_home(tmp_path):
    home = tmp_path / "home/app"
    installed = make_file(home / ".local/bin/uv", 0o755)

    uv = host_reading._uv("", ["~/.local/bin/uv", "/usr/local/bin/uv"], str(home))

    assert uv["searched"] == [installed, "/usr/local/bin/uv"]
    assert uv["path"] == installed and uv["discovered"] is True and uv["exists"] is True


def test_first_executable_candidate_wins(tmp_path):
    first = make_file(tmp_path / "a/uv", 0o755)
    second = make_file(tmp_path / "b/uv", 0o755)

    assert host_reading._uv("", [first, second], "/home/x")["path"] == first


def test_non_executable_file_and_directory_candidates_are_skipped(tmp_path):
    not_executable = make_file(tmp_path / "a/uv", 0o644)
    directory = tmp_path / "b/uv"
    directory.mkdir(parents=True)
    directory.chmod(0o755)
    executable = make_file(tmp_path / "c/uv", 0o700)

    uv = host_reading._uv("", [not_executable, str(directory), executable], "/home/x")

    assert uv["path"] == executable and uv["mode"] == "0700"


def test_with_no_executable_candidate_the_first_is_reported_absent(tmp_path):
    first, second = str(tmp_path / "a/uv"), str(tmp_path / "b/uv")

    uv = host_reading._uv("", [first, second], "/home/x")

    assert uv == {"path": first, "discovered": True, "searched": [first, second],
                  "exists": False, "mode": None, "unsafe": False}


def test_a_non_executable_uv_counts_as_not_installed_and_keeps_its_mode(tmp_path):
    # Discovery skips it, yet being the first candidate it is the one reported:
    # cron could not run it, so the role warns as for a missing uv.
    plain = make_file(tmp_path / "a/uv", 0o644)

    uv = host_reading._uv("", [plain], "/home/x")

    assert uv["path"] == plain and uv["exists"] is False and uv["mode"] == "0644"


def test_a_given_uv_path_that_cannot_be_read_is_reported_absent(tmp_path, monkeypatch):
    def denied(path):
        raise PermissionError(path)

    monkeypatch.setattr(host_reading.os, "stat", denied)

    assert host_reading._uv(str(tmp_path / "uv"), [], "/home/x")["exists"] is False


def test_with_neither_path_nor_candidates_uv_is_absent():
    uv = host_reading._uv("", [], "/home/x")

    assert uv == {"path": "", "discovered": False, "searched": [],
                  "exists": False, "mode": None, "unsafe": False}


@pytest.mark.parametrize("mode, unsafe", [
    (0o755, False), (0o775, True), (0o757, True), (0o777, True), (0o700, False),
])
def test_group_or_world_writable_uv_is_unsafe(tmp_path, mode, unsafe):
    path = make_file(tmp_path / "uv", mode)

    uv = host_reading._uv(path, [], "/home/x")

    assert uv["mode"] == "%04o" % mode and uv["unsafe"] is unsafe


def test_a_symlinked_uv_is_followed_like_stat_L(tmp_path):
    target = make_file(tmp_path / "real/uv", 0o755)
    link = tmp_path / "bin/uv"
    link.parent.mkdir()
    link.symlink_to(target)

    uv = host_reading._uv("", [str(link)], "/home/x")

    assert uv["path"] == str(link)  # the link is what cron runs
    assert uv["exists"] is True and uv["mode"] == "0755"  # the target's mode, not the link's 0777


def test_a_symlink_to_a_non_executable_or_to_nothing_is_skipped(tmp_path):
    to_plain = tmp_path / "a/uv"
    to_plain.parent.mkdir()
    to_plain.symlink_to(make_file(tmp_path / "plain", 0o644))
    dangling = tmp_path / "b/uv"
    dangling.parent.mkdir()
    dangling.symlink_to(tmp_path / "missing")
    executable = make_file(tmp_path / "c/uv", 0o755)

    assert host_reading._uv("", [str(to_plain), str(dangling), executable], "/home/x")["path"] == executable


# the env file ---------------------------------------------------------------

def test_env_values_are_read_as_systemd_reads_them(tmp_path):
    env = make_file(tmp_path / "env", content=(
        b"# SSRF_ALLOWED_HOSTS=commented.out\n"
        b"SSRF_ALLOWED_HOSTS=first.internal\n"
        b"HUB_URL='https://hub.internal'\n"
        b"SSRF_ALLOWED_HOSTS=\"last.internal\"\n"
        b"  API_KEY = spaced  \n"
        b"not an assignment\n"
        b"OURS=a.example # ours,hub.internal\n"
        b"SECRET=k$x(9&a)*b\n"
    ))

    values = host_reading._env_values(env, ["SSRF_ALLOWED_HOSTS", "HUB_URL", "API_KEY", "OURS", "SECRET"])

    assert values == {"SSRF_ALLOWED_HOSTS": "last.internal", "HUB_URL": "https://hub.internal",
                      "API_KEY": "spaced", "OURS": "a.example # ours,hub.internal", "SECRET": "k$x(9&a)*b"}


def test_env_values_are_never_read_through_a_link_or_from_a_fifo(tmp_path):
    """An app-writable env file (the app's .env) swapped for a link to a
    root-only file, or for a FIFO: nothing is read, nothing blocks."""
    secret = make_file(tmp_path / "root-only", 0o600, b"SSRF_ALLOWED_HOSTS=planted-secret\n")
    (tmp_path / "linked.env").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo.env")

    assert host_reading._env_values(str(tmp_path / "linked.env"), ["SSRF_ALLOWED_HOSTS"]) == {"SSRF_ALLOWED_HOSTS": None}
    assert host_reading._env_values(str(tmp_path / "fifo.env"), ["SSRF_ALLOWED_HOSTS"]) == {"SSRF_ALLOWED_HOSTS": None}


def test_env_values_never_returns_keys_not_asked_for(tmp_path):
    env = make_file(tmp_path / "env", content=b"SECRET_KEY=do-not-leak\nHUB_URL=https://hub\n")

    assert host_reading._env_values(env, ["HUB_URL"]) == {"HUB_URL": "https://hub"}
    assert host_reading._env_values(env, []) == {}


def test_env_values_are_none_for_a_missing_file_or_key(tmp_path):
    env = make_file(tmp_path / "env", content=b"HUB_URL=https://hub\n")

    assert host_reading._env_values(str(tmp_path / "missing"), ["HUB_URL"]) == {"HUB_URL": None}
    assert host_reading._env_values(env, ["HUB_URL", "INSTANCE_ID"]) == {"HUB_URL": "https://hub", "INSTANCE_ID": None}
    assert host_reading._env_values("", ["HUB_URL"]) == {"HUB_URL": None}


def test_an_empty_value_is_an_empty_string_not_none(tmp_path):
    env = make_file(tmp_path / "env", content=b"INSTANCE_ID=\n")

    assert host_reading._env_values(env, ["INSTANCE_ID"]) == {"INSTANCE_ID": ""}


def test_an_env_file_systemd_refuses_is_reported_by_file_and_line_never_by_value(tmp_path):
    env = make_file(tmp_path / "env", content=b"HUB_URL=https://hub\n\nSECRET=s3cr\xe9t\n")

    assert host_reading._env_refused(env) == {"file": env, "line": 3, "reason": "a value that is not UTF-8"}
    # and no value of it is trusted
    assert host_reading._env_values(env, ["HUB_URL"]) == {"HUB_URL": None}


def test_an_env_file_systemd_loads_or_cannot_be_read_is_not_refused(tmp_path):
    env = make_file(tmp_path / "env", content=b"# caf\xe9\nCR=\"a\rb\"\n")
    assert host_reading._env_refused(env) is None
    assert host_reading._env_values(env, ["CR"]) == {"CR": "a\rb"}
    assert host_reading._env_refused(str(tmp_path / "missing")) is None
    assert host_reading._env_refused("") is None


def test_the_env_file_is_judged_by_the_hosts_systemd(tmp_path, monkeypatch):
    # Before v254 the comment continues over the line that is not UTF-8.
    env = make_file(tmp_path / "env", content=b"# note \\\nA=\xff\n")
    monkeypatch.setattr(host_reading, "host_systemd", lambda: 252)
    assert host_reading._env_refused(env) is None
    monkeypatch.setattr(host_reading, "host_systemd", lambda: 257)
    assert host_reading._env_refused(env) == {"file": env, "line": 2, "reason": "a value that is not UTF-8"}


# stat of managed paths ------------------------------------------------------

def test_stat_of_a_missing_path_says_only_that(tmp_path):
    assert host_reading._stat(str(tmp_path / "missing")) == {"exists": False, "planted_link": None}


def test_stat_of_a_small_file_has_mode_owner_group_and_sha1(tmp_path):
    content = b"/opt/app/logs/*.log {\n  daily\n}\n"
    path = make_file(tmp_path / "logrotate.conf", 0o640, content)

    assert host_reading._stat(path, checksum=True) == {
        "exists": True, "type": "file", "mode": "0640", "owner": USER, "group": GROUP, "isdir": False,
        "checksum": hashlib.sha1(content).hexdigest(), "planted_link": None}
    assert host_reading._stat(path)["checksum"] is None


def test_stat_of_a_directory_has_no_checksum(tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    directory.chmod(0o2775)

    assert host_reading._stat(str(directory)) == {"exists": True, "type": "directory", "mode": "2775", "owner": USER,
                                                  "group": GROUP, "isdir": True, "checksum": None, "planted_link": None}


def test_stat_of_a_file_of_one_mib_or_more_has_no_checksum(tmp_path):
    small = tmp_path / "small"
    big = tmp_path / "big"
    with open(small, "wb") as handle:
        handle.truncate((1 << 20) - 1)
    with open(big, "wb") as handle:
        handle.truncate(1 << 20)

    assert host_reading._stat(str(small), checksum=True)["checksum"] is not None
    assert host_reading._stat(str(big), checksum=True)["checksum"] is None


def test_stat_describes_a_symlink_itself_without_following_it(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(make_file(tmp_path / "target", 0o644, b"x"))

    result = host_reading._stat(str(link), checksum=True)

    assert result["exists"] is True and result["isdir"] is False and result["checksum"] is None
    assert result["type"] == "link" and result["target"] == str(tmp_path / "target")


def test_stat_of_a_fifo_neither_blocks_nor_reads_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    result = host_reading._stat(str(fifo), checksum=True)

    assert result["type"] == "other" and result["checksum"] is None


def test_read_file_refuses_a_link_a_fifo_and_a_file_over_the_limit(tmp_path):
    target = make_file(tmp_path / "secret", 0o600, b"top secret")
    (tmp_path / "link").symlink_to(target)
    os.mkfifo(tmp_path / "fifo")

    assert host_reading.read_file(target, 100) == b"top secret"
    assert host_reading.read_file(str(tmp_path / "link"), 100) is None
    assert host_reading.read_file(str(tmp_path / "fifo"), 100) is None
    assert host_reading.read_file(target, 9) is None
    assert host_reading.read_file(str(tmp_path / "missing"), 100) is None


def test_a_link_among_the_parents_in_a_directory_others_can_write_is_reported(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    app.chmod(0o777)
    (tmp_path / "elsewhere").mkdir()
    (app / "logs").symlink_to(tmp_path / "elsewhere")

    found = host_reading._stat(str(app / "logs" / "cron.log"))

    assert found["planted_link"] == str(app / "logs")


def test_a_root_owned_link_in_a_root_only_directory_is_followed():
    # /proc/self is such a link on every Linux host; nothing else is checked.
    assert host_reading._planted_link("/proc/self/status") is None


def test_an_owner_without_a_name_is_reported_by_number():
    def unknown(number):
        raise KeyError(number)

    assert host_reading._name(unknown, 4242) == "4242"


@pytest.mark.parametrize("processes, running", [
    ({"1": "1 (sleep) S 0", "40": "40 (cron) S 1"}, True),
    # the daemon running a job: its forked cron child runs the job's shell
    ({"1": "1 (sleep) S 0", "40": "40 (cron) S 1", "58": "58 (cron) S 40", "59": "59 (sh) S 58"}, True),
    # the daemon killed: the job's cron child, reparented, still runs the shell
    ({"1": "1 (sleep) S 0", "58": "58 (cron) S 1", "59": "59 (sh) S 58"}, False),
    ({"1": "1 (sleep) S 0"}, False),
    # killed, but PID 1 has not reaped it
    ({"1": "1 (sleep) S 0", "17": "17 (cron) Z 1"}, False),
])
def test_cron_is_running_when_a_cron_process_has_only_cron_children(monkeypatch, processes, running):
    monkeypatch.setattr(host_reading.os, "listdir", lambda path: list(processes) + ["self"])
    monkeypatch.setattr(host_reading, "open", lambda path: io.StringIO(processes[path.split("/")[2]]), raising=False)

    assert host_reading._cron_running() is running


# What os.statvfs gives, chosen by the test: the free space of a shared
# filesystem changes under other writers (another lane building images), so
# no test reads it. Every field differs from the others, so a reading that
# takes the wrong one (root's f_bfree, f_bsize for f_frsize, f_ffree) shows.
STATVFS = os.statvfs_result((4096, 1024, 10000000, 7000000, 6000000, 500000, 400000, 300000, 0, 255))
# df's "avail": the blocks free to a user other than root, in fragments.
STATVFS_AVAIL = 6000000 * 1024


@pytest.fixture
def fixed_filesystem(monkeypatch):
    """os.statvfs answers STATVFS for any path that exists, as the kernel would."""
    real = os.statvfs
    seen = []

    def statvfs(path):
        real(path)  # an OSError for a missing path, as the real call gives
        seen.append(str(path))
        return STATVFS

    monkeypatch.setattr(os, "statvfs", statvfs)
    return seen


def test_free_space_is_what_df_says_is_available(tmp_path, fixed_filesystem):
    """df's Avail (coreutils: f_bavail x f_frsize), the space left to a user
    other than root, not root's f_bfree."""
    free = host_reading._free_space(str(tmp_path))

    assert free == STATVFS_AVAIL
    assert fixed_filesystem == [str(tmp_path)]


def test_mtime_of_a_file_and_of_nothing(tmp_path):
    path = make_file(tmp_path / "crontab")
    os.utime(path, (1600000000, 1700000000.5))

    assert host_reading._mtime(path) == 1700000000.5
    assert host_reading._mtime(str(tmp_path / "missing")) is None


# ------------------------------------------- the mode the app's update picks --

class NoCommands:
    """A module that must run nothing."""

    def run_command(self, args):
        raise AssertionError("ran %s" % args)


@pytest.mark.parametrize("content, mode", [
    (b"DJANGO_ENV=prod\n", "prod"), (b"DEPLOY_METHOD=docker\nDJANGO_ENV=dev\n", "docker"),
    (b"DJANGO_ENV=dev\n", "dev"), (b"SECRET=x\n", "dev"),
])
def test_the_updates_mode_without_systemd_runs_nothing_and_shows_nothing_of_the_env(tmp_path, content, mode):
    env = make_file(tmp_path / ".env", content=content)
    found = host_reading._update_mode(NoCommands(), env, False, True)
    assert found == {"mode": mode, "systemd": None if mode == "docker" else "systemd is not PID 1"}


def test_a_missing_project_env_is_a_dev_host_as_the_app_sees_it(tmp_path):
    assert host_reading._update_mode(NoCommands(), str(tmp_path / ".env"), False, True)["mode"] == "dev"


@pytest.mark.parametrize("plant", ["link", "fifo", "huge", "directory"])
def test_a_project_env_the_app_user_planted_is_never_followed_waited_on_or_read_whole(tmp_path, plant):
    target = make_file(tmp_path / "secret", content=b"DJANGO_ENV=prod\n")
    env = tmp_path / ".env"
    if plant == "link":
        env.symlink_to(target)
    elif plant == "fifo":
        os.mkfifo(env)  # a blocking open would hang the test
    elif plant == "huge":
        env.write_bytes(b"DJANGO_ENV=prod\n" + b"#" * host_reading.PROJECT_ENV_LIMIT)
    else:
        env.mkdir()
    assert host_reading._update_mode(NoCommands(), str(env), False, True) == {"mode": None, "systemd": None}


def test_a_project_env_under_a_link_a_user_could_have_planted_is_not_read(tmp_path, monkeypatch):
    real = tmp_path / "real"
    make_file(real / ".env", content=b"DJANGO_ENV=prod\n")
    (tmp_path / "project").symlink_to(real)
    monkeypatch.setattr(host_reading, "_root_only", lambda directory: False)
    assert host_reading._update_mode(NoCommands(), str(tmp_path / "project" / ".env"), False, True)["mode"] is None


@pytest.mark.parametrize("bus, listed, systemctl, why", [
    ("socket", True, True, None),
    ("socket", False, True, "systemd does not know server-monitoring.service"),
    ("file", True, True, "there is no D-Bus system bus"),
    (None, True, True, "there is no D-Bus system bus"),
    ("socket", True, False, "systemctl is missing"),
])
def test_the_systemd_test_is_the_unit_listed_over_a_system_bus(tmp_path, monkeypatch, bus, listed, systemctl, why):
    import socket
    path = tmp_path / "bus"
    listener = socket.socket(socket.AF_UNIX)
    if bus == "socket":
        listener.bind(str(path))
    elif bus == "file":
        make_file(path)
    monkeypatch.setattr(host_reading, "SYSTEM_BUS", str(path))
    ran = []

    class Module:
        def run_command(self, args):
            ran.append(args)
            return 0, "UNIT FILE STATE\n%s" % ("server-monitoring.service enabled\n" if listed else ""), ""

    try:
        found = host_reading._update_mode(Module(), str(tmp_path / ".env"), True, systemctl)
    finally:
        listener.close()
    assert found == {"mode": "systemd" if why is None else "dev",
                     "systemd": "%s (%s)" % (why, path) if bus != "socket" else why}
    assert ran == ([["systemctl", "list-unit-files", "server-monitoring.service"]]
                   if bus == "socket" and systemctl else [])
