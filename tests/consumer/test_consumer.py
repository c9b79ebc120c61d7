"""The collection as a user consumes it.

`ansible-galaxy collection build` from this checkout, install the tarball into
the empty ./collections of a copy of tests/consumer (a project as a user would
write it: its own ansible.cfg, inventory, playbook and
collections/requirements.yml), and apply server_maintanence.ops.server_maintanence
from there to a throwaway container: converge, then changed=0. Also install
the way a `type: git` requirement does, and read the docs with ansible-doc.

Nothing of this checkout is on the consumer's paths: every command runs in
the copy, with ANSIBLE_CONFIG set to the copy's ansible.cfg and no other
ANSIBLE_* variable of the caller. Only the toolchain (ansible-core and the
`ansible` package, which brings community.docker) comes from this venv.

Run from the repository root: .venv/bin/pytest -p no:cacheprovider tests/consumer
"""

import contextlib
import os
import pathlib
import re
import shutil
import tarfile
import time

import pytest

from conftest import BIN, REPO, clean_env, run, schedule_away_from_now, throwaway_container

CONSUMER = pathlib.Path(__file__).resolve().parent

COLLECTION = "server_maintanence.ops"
ROLE = COLLECTION + ".server_maintanence"
MODULE = COLLECTION + ".maintenance"
# The filters a user's playbook may call, each documented (plugins/filter/core.py): there are no others.
FILTERS = ("cron_interval", "cron_splay", "size_bytes", "status_report", "status_table")
HOST = "app1"  # the host of tests/consumer/inventory.yml
TARBALL = "server_maintanence-ops.tar.gz"  # the name collections/requirements.yml installs

# What a user must get, and what is the project's own tooling.
MUST_SHIP = (
    "MANIFEST.json",
    "FILES.json",
    "meta/runtime.yml",
    "roles/server_maintanence/tasks/main.yml",
    "roles/server_maintanence/meta/argument_specs.yml",
    "roles/server_maintanence/defaults/main.yml",
    "plugins/modules/maintenance.py",
    "plugins/action/maintenance.py",
    "plugins/modules/probe.py",
    "plugins/filter/core.py",
    "roles/server_maintanence/files/server-maintanence-job",
    "roles/server_maintanence/tasks/status.yml",
    "playbooks/site.yml",
    "playbooks/status.yml",
    "playbooks/group_vars/all.yml",
    "README.md",
    "docs/README.md",  # the manual the front page links to
    "meta/execution-environment.yml",
    "changelogs/changelog.yaml",  # Galaxy shows it; the fragments of unreleased changes ship too
) + tuple("plugins/filter/{0}.yml".format(name) for name in FILTERS) + tuple(
    "plugins/plugin_utils/{0}.py".format(name) for name in ("cron", "description", "status", "validation")) + tuple(
    "plugins/module_utils/{0}.py".format(name) for name in (
        "_env_file", "_file_safety", "_host_reading", "_paths", "_plan", "_crontab", "_job_records",
        "_systemd_env"))
MUST_NOT_SHIP = (
    "molecule",
    "tests/infra",
    "tests/upstream",
    "tests/consumer",
    "tests/release",
    "bench",
    "scripts",
    ".venv",
    ".cache",
    ".ansible",
    ".github",
    ".ci",
)

RECAP = re.compile(r"^{0}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)".format(HOST), re.M)


def recap(output):
    found = RECAP.findall(output)
    assert len(found) == 1, "no single PLAY RECAP line for {0}:\n{1}".format(HOST, output[-4000:])
    ok, changed, unreachable, failed = map(int, found[0])
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


def git_ignored(repo):
    """Paths git ignores in the checkout: local artefacts (venvs, caches, bytecode)."""
    out = run(["git", "-C", str(repo), "ls-files", "-z", "--others", "--ignored", "--exclude-standard",
               "--directory"], repo).stdout
    return [p.rstrip("/") for p in out.split("\0") if p]


@pytest.fixture(scope="module")
def timings(request):
    """Wall time of each step, printed after the module's tests."""
    spent = {}
    yield spent
    line = "consumer timings: " + ", ".join("{0} {1:.1f}s".format(k, v) for k, v in spent.items())
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)


@contextlib.contextmanager
def timed(spent, name):
    start = time.monotonic()
    try:
        yield
    finally:
        spent[name] = time.monotonic() - start


def new_project(parent):
    """A fresh copy of tests/consumer, as a user would have it: no collections installed."""
    project = parent / "project"
    shutil.copytree(str(CONSUMER), str(project), symlinks=True,
                    ignore=shutil.ignore_patterns("test_*.py", "conftest.py", "__pycache__", "*.pyc"))
    assert not (project / "collections" / "ansible_collections").exists()
    return project


def consumer_env(project, container="unused"):
    """What a user of the project has: its own ansible.cfg, nothing of this checkout."""
    env = clean_env()
    # Nothing but the toolchain's directory on PATH names this checkout (PWD, OLDPWD...).
    env = {k: v for k, v in env.items() if k == "PATH" or str(REPO) not in v}
    env.update(ANSIBLE_CONFIG=str(project / "ansible.cfg"), PWD=str(project), SM_CONSUMER_CONTAINER=container)
    return env


def plain(out):
    """ansible-doc's text without its bold markers (ANSI, or *name* when colour is off)."""
    return re.sub(r"\*([\w.]+)\*", r"\1", re.sub(r"\x1b\[[0-9;]*m", "", out))


def doc_header(out):
    """The first line of an ansible-doc page: the plugin's name and the file it came from."""
    return plain(out).split("\n", 1)[0]


def installed_from(project):
    return project / "collections" / "ansible_collections" / "server_maintanence" / "ops"


def assert_listed_from(project, env):
    """`ansible-galaxy collection list` sees the collection in ./collections and nowhere else."""
    out = run([BIN / "ansible-galaxy", "collection", "list", COLLECTION], project, env).stdout
    roots = re.findall(r"^# (\S+)$", out, re.M)
    assert roots == [str(project / "collections" / "ansible_collections")], out
    assert re.search(r"^server_maintanence\.ops\s+\d+\.\d+\.\d+", out, re.M), out


# ------------------------------------------------------------------ build --
# The tarball is conftest.py's, built once for this module and the AWX job's.
@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(str(tarball)) as tar:
        return [m.name[2:] if m.name.startswith("./") else m.name for m in tar.getmembers()]


def test_tarball_ships_the_collection(members):
    missing = [path for path in MUST_SHIP if path not in members]
    assert not missing, missing


def test_tarball_leaves_out_the_tooling(members):
    shipped = [m for m in members
               if any(m == bad or m.startswith(bad + "/") for bad in MUST_NOT_SHIP)]
    assert not shipped, shipped


def test_tarball_has_no_hidden_files(members):
    """Dotfiles are tooling (linters' caches and configs): a user needs none of them."""
    hidden = sorted({m.split("/")[0] for m in members if m.startswith(".")})
    assert not hidden, "add to build_ignore in galaxy.yml: {0}".format(hidden)


def test_tarball_leaves_out_local_artefacts(members):
    """Nothing git ignores (caches, venvs, bytecode) ends up in a locally built tarball."""
    ignored = git_ignored(REPO)
    shipped = sorted(
        {p for p in ignored for m in members if m == p or m.startswith(p + "/")}
        | {m for m in members if "__pycache__" in m.split("/") or m.endswith(".pyc")})
    assert not shipped, "add to build_ignore in galaxy.yml: {0}".format(shipped)


# --------------------------------------------------------- install (file) --
@pytest.fixture(scope="module")
def container():
    with throwaway_container() as name:
        yield name


@pytest.fixture(scope="module")
def quiet_schedule(container):
    """A daily health-check schedule twelve hours away on the host's clock
    (the container's, which cron reads), so cron cannot fire it while the
    tests run. The default (*/5) once fired between the converge and the
    status run: the job exited 127 (this host has no uv) and the status
    test, which proves a host just provisioned passes with its jobs not run
    yet, found 0s/127 instead of never/-."""
    return schedule_away_from_now(container)


@pytest.fixture(scope="module")
def project(tmp_path_factory, tarball, container, quiet_schedule, timings):
    project = new_project(tmp_path_factory.mktemp("consumer"))
    shutil.copy(str(tarball), str(project / TARBALL))
    # Host vars beside the project's inventory, as a user sets a schedule:
    # every playbook run from the project (site, status) reads them.
    (project / "host_vars").mkdir()
    (project / "host_vars" / (HOST + ".yml")).write_text(
        '---\nserver_maintanence_health_check_schedule: "{0}"\n'.format(quiet_schedule))
    env = consumer_env(project, container)
    with timed(timings, "install"):
        run([BIN / "ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml",
             "-p", "./collections"], project, env)
    assert (installed_from(project) / "MANIFEST.json").is_file()
    return project


@pytest.fixture(scope="module")
def env(project, container):
    return consumer_env(project, container)


def test_collection_list_shows_the_project_copy(project, env):
    assert_listed_from(project, env)


def test_config_is_the_consumers_own(project, env):
    out = run([BIN / "ansible-config", "dump", "--only-changed"], project, env).stdout
    assert "CONFIG_FILE() = {0}".format(project / "ansible.cfg") in out, out
    assert str(REPO / "ansible.cfg") not in out, out
    assert str(REPO) + "/.cache" not in out, out


# --------------------------------------------------------------- converge --
@pytest.fixture(scope="module")
def converge(project, env, timings):
    with timed(timings, "converge"):
        proc = run([BIN / "ansible-playbook", "site.yml"], project, env, check=False)
    return proc


@pytest.fixture(scope="module")
def idempotence(converge, project, env, timings):
    assert converge.returncode == 0, converge.stdout[-6000:]
    with timed(timings, "idempotence"):
        proc = run([BIN / "ansible-playbook", "site.yml"], project, env, check=False)
    return proc


def test_converge(converge):
    assert converge.returncode == 0, converge.stdout[-6000:]
    counts = recap(converge.stdout)
    assert (counts["failed"], counts["unreachable"]) == (0, 0), converge.stdout[-6000:]
    # The role ran from the installed collection, under its FQCN.
    assert "server_maintanence.ops.server_maintanence : " in converge.stdout


def test_second_run_changes_nothing(idempotence):
    assert idempotence.returncode == 0, idempotence.stdout[-6000:]
    counts = recap(idempotence.stdout)
    assert (counts["changed"], counts["failed"]) == (0, 0), idempotence.stdout[-6000:]


def test_host_got_the_cron_entries(converge, container):
    assert converge.returncode == 0
    crontab = run(["docker", "exec", container, "crontab", "-l", "-u", "www-data"], REPO).stdout
    assert "#Ansible: server-maintanence health check" in crontab, crontab


def test_host_got_the_logrotate_policy(converge, container):
    assert converge.returncode == 0
    run(["docker", "exec", container, "test", "-f", "/etc/logrotate.d/server-maintanence"], REPO)
    run(["docker", "exec", container, "test", "-d", "/opt/server-monitoring/logs"], REPO)


def test_site_playbook_by_fqcn_brings_its_group_vars(project, env, idempotence):
    """`ansible-playbook server_maintanence.ops.site` applies the collection's
    playbooks/group_vars/all.yml: a host of the inventory group hubs is a hub.
    (Check mode, after the idempotence run: nothing on the host changes. A
    changed schedule makes the play include its repairs, whose summary names
    the cluster role.)"""
    (project / "hubs.yml").write_text(
        "---\nhubs:\n  hosts:\n    {0}:\n      ansible_connection: community.docker.docker\n"
        "      ansible_host: \"{{{{ lookup('ansible.builtin.env', 'SM_CONSUMER_CONTAINER') }}}}\"\n".format(HOST))
    out = run([BIN / "ansible-playbook", "-i", "hubs.yml", "--check", COLLECTION + ".site",
               "-e", "server_maintanence_health_check_schedule='*/7 * * * *'"], project, env).stdout
    assert "server-maintanence present: cluster role hub;" in out, out[-6000:]
    assert recap(out)["failed"] == 0


def test_status_playbook_by_fqcn_reports_the_fresh_host(project, env, idempotence, container, quiet_schedule):
    """`ansible-playbook server_maintanence.ops.status` from the installed
    collection: a host just provisioned passes, its jobs not run yet (the
    project's schedule cannot fire during the tests: quiet_schedule)."""
    out = run([BIN / "ansible-playbook", COLLECTION + ".status"], project, env).stdout
    row = next(line.strip(' ",').split() for line in out.splitlines() if line.strip(' "').startswith(HOST + " "))
    assert row[:2] == [HOST, "standalone"] and row[-2:] == ["running", "ok"], out[-3000:]
    assert row[2:4] == ["-", "-"], out[-3000:]  # no update history: neither commit nor attempt
    assert row[4] == "never/-", out[-3000:]  # the health check, not run yet
    assert recap(out)["failed"] == 0
    # The schedule the host runs is the project's, which cannot have fired.
    crontab = run(["docker", "exec", container, "crontab", "-l", "-u", "www-data"], REPO).stdout
    assert "\n{0} ".format(quiet_schedule) in "\n" + crontab, crontab


# --------------------------------------------------------------- ansible-doc --
def test_doc_role_entry_point(project, env):
    out = run([BIN / "ansible-doc", "-t", "role", ROLE], project, env).stdout
    assert doc_header(out) == "> ROLE: {0} ({1})".format(ROLE, installed_from(project)), out
    assert re.search(r"^ENTRY POINT: main - ", plain(out), re.M), out


def test_doc_module(project, env):
    out = run([BIN / "ansible-doc", MODULE], project, env).stdout
    module = installed_from(project) / "plugins" / "modules" / "maintenance.py"
    assert doc_header(out) == "> MODULE {0} ({1})".format(MODULE, module), out


def test_doc_filters_listed(project, env):
    out = run([BIN / "ansible-doc", "-t", "filter", "-l", COLLECTION], project, env).stdout
    listed = dict(re.findall(r"^server_maintanence\.ops\.(\w+)\s+(.*?)\s*$", out, re.M))
    assert set(listed) == set(FILTERS), out
    assert "UNDOCUMENTED" not in listed.values(), out


def test_doc_filters_from_the_project(project, env):
    out = run([BIN / "ansible-doc", "-t", "filter", "-F", COLLECTION], project, env).stdout
    files = dict(re.findall(r"^server_maintanence\.ops\.(\w+)\s+(\S+)$", out, re.M))
    plugins = installed_from(project) / "plugins" / "filter"
    assert files == {name: str(plugins / "core.py") for name in FILTERS}, out
    for name in FILTERS:
        doc = run([BIN / "ansible-doc", "-t", "filter", "{0}.{1}".format(COLLECTION, name)], project, env).stdout
        expected = installed_from(project) / "plugins" / "filter" / (name + ".yml")
        assert doc_header(doc) == "> FILTER {0}.{1} ({2})".format(COLLECTION, name, expected), doc


# -------------------------------------------------------------- install (git) --
def snapshot_clone(dest):
    """A throwaway clone of this checkout whose HEAD is the working tree.

    A git install takes what is committed. The clone starts at this
    checkout's HEAD; what the working tree changes (tracked or new, not
    ignored) is committed in the clone only, so the route is proven for the
    tree under test. On a clean checkout (CI) the clone is HEAD as is.
    """
    run(["git", "clone", "-q", str(REPO), str(dest)], REPO)
    for child in dest.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(str(child))
        else:
            child.unlink()
    listed = run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                 REPO).stdout
    for rel in sorted(set(p for p in listed.split("\0") if p)):
        src = REPO / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the working tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(str(src)), str(target))
        else:
            shutil.copy2(str(src), str(target))
    run(["git", "-C", str(dest), "add", "-A"], REPO)
    if run(["git", "-C", str(dest), "status", "--porcelain"], REPO).stdout.strip():
        run(["git", "-C", str(dest), "-c", "user.name=consumer test", "-c", "user.email=consumer@invalid",
             "commit", "-q", "--no-verify", "-m", "working tree under test"], REPO)
    return dest


@pytest.fixture(scope="module")
def git_project(tmp_path_factory, timings):
    base = tmp_path_factory.mktemp("git")
    clone = snapshot_clone(base / "server-maintanence-ops")
    project = new_project(base)
    (project / "collections" / "requirements.yml").write_text(
        "---\n"
        "collections:\n"
        "  - name: git+file://{0}\n"
        "    type: git\n"
        "    version: HEAD\n".format(clone))
    env = consumer_env(project)
    with timed(timings, "git install"):
        run([BIN / "ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml",
             "-p", "./collections"], project, env)
    return project


def test_git_install_is_usable(git_project):
    env = consumer_env(git_project)
    assert_listed_from(git_project, env)
    installed = installed_from(git_project)
    out = run([BIN / "ansible-doc", "-t", "role", ROLE], git_project, env).stdout
    assert doc_header(out) == "> ROLE: {0} ({1})".format(ROLE, installed), out
    run([BIN / "ansible-playbook", "--syntax-check", "site.yml"], git_project, env)
    # Installed from source, build_ignore applies too.
    assert not (installed / "molecule").exists()
    assert not (installed / "tests" / "infra").exists()
    assert (installed / "plugins" / "modules" / "probe.py").is_file()
