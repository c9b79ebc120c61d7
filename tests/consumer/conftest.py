"""What the consumer tests share: commands run without this checkout's
Ansible settings, the tarball built once as a user builds it, and throwaway
containers of local/debian:bookworm."""

import contextlib
import os
import pathlib
import subprocess
import sys
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent  # the venv's ansible-* commands
IMAGE = os.environ.get("SM_CONSUMER_IMAGE", "local/debian:bookworm")


def run(argv, cwd, env=None, check=True, timeout=600):
    proc = subprocess.run(argv, cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail("{0} (in {1}) exited {2}:\n{3}".format(" ".join(map(str, argv)), cwd, proc.returncode,
                                                            proc.stdout[-6000:]))
    return proc


def clean_env():
    """The caller's environment without anything Ansible (config, collection or role paths)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "MOLECULE_", "PYTHON")) and k != "VIRTUAL_ENV"}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=os.pathsep.join([str(BIN), env.get("PATH", os.defpath)]))
    return env


@pytest.fixture(scope="session")
def tarball(tmp_path_factory):
    """`ansible-galaxy collection build` of this checkout, once for every consumer test: the tarball's path."""
    out_dir = tmp_path_factory.mktemp("build")
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", str(out_dir)], REPO, clean_env())
    built = list(out_dir.glob("server_maintanence-ops-*.tar.gz"))
    assert len(built) == 1, built
    return built[0]


@contextlib.contextmanager
def throwaway_container():
    """A running container of IMAGE with a name of its own (sm-consumer-<hex>), removed afterwards."""
    name = "sm-consumer-" + uuid.uuid4().hex[:10]
    try:
        run(["docker", "run", "-d", "--name", name, "--hostname", name, "--network", "host", IMAGE,
             "sleep", "infinity"], REPO)
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)


def schedule_away_from_now(container):
    """A daily cron schedule twelve hours away on the container's clock (which cron reads)."""
    hour, minute = run(["docker", "exec", container, "date", "+%H %M"], REPO).stdout.split()
    return "{0} {1} * * *".format(int(minute), (int(hour) + 12) % 24)
