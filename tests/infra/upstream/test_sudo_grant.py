"""The app user (hostile) with the role's sudo grant in place, on a server
(systemd with D-Bus): sudo lets it run the app's update's one root command,
read from the app's source, and nothing else. Judged by sudo's exit status
and by systemd: a refused attempt leaves each unit's main process as it was.
"""

import shlex

import pytest

from conftest import APP_UNITS, APP_USER, SUDOERS_GRANT, run_as_app, settled_main_pids

# What sudo -n prints when it will not run the command without a password,
# and when the user may not ask for what it asks (an environment, a shell).
SUDO_REFUSED = ("a password is required", "not allowed")
# The app user's own copy of systemctl: same name, another file.
OWN_COPY = "/var/www/sm-test-bin/systemctl"


@pytest.fixture
def granted(app):
    """The app's update's command as the app runs it: `sudo <words>`."""
    (command,) = app.update_root_commands()
    return command


def sudo(host, words):
    """sudo -n (never prompt) as the app user, in cron's environment."""
    return run_as_app(host, "sudo -n " + " ".join(shlex.quote(word) for word in words))


def refusals(command):
    program, verb, *units = command
    return {
        "no command but sudo's": ["true"],
        "a shell": ["sh", "-c", "id"],
        "sudo's shell option": ["-s"],
        "sudo's login option": ["-i"],
        "sudoedit": ["-e", SUDOERS_GRANT],
        "another verb on a unit": [program, "stop", units[0]],
        "another verb on the units": [program, "kill"] + units,
        "another unit": [program, verb, "cron"],
        "the units and another": [program, verb] + units + ["cron"],
        "one unit only": [program, verb, units[0]],
        "the units in another order": [program, verb] + units[::-1],
        "an option before the verb": [program, "--no-block", verb] + units,
        "an option after the units": [program, verb] + units + ["--no-block"],
        "as the app user instead of root": ["-u", APP_USER, program, verb] + units,
        "an environment variable": ["SYSTEMD_LOG_LEVEL=debug", program, verb] + units,
        "a preserved environment": ["--preserve-env=PATH", program, verb] + units,
        "a program of the app user's": ["/var/www/.local/bin/uv", "--version"],
        "a copy of systemctl of the app user's": [OWN_COPY, verb] + units,
    }


CASES = sorted(refusals(["systemctl", "restart", "a", "b"]))


@pytest.fixture(scope="module")
def own_copy(host):
    directory = OWN_COPY.rsplit("/", 1)[0]
    assert run_as_app(host, "mkdir -p %s && cp /usr/bin/systemctl %s" % (directory, OWN_COPY)).rc == 0
    yield
    host.run("rm -rf %s", directory)


@pytest.mark.parametrize("case", CASES)
def test_sudo_refuses_the_app_user_everything_else(host, granted, own_copy, case):
    # Built from the app's own command; the case names are the same for any.
    words = refusals(granted)[case]
    before = settled_main_pids(host)
    result = sudo(host, words)
    assert result.rc != 0, (words, result.stdout)
    assert any(text in result.stderr for text in SUDO_REFUSED), (words, result.stderr)
    assert settled_main_pids(host) == before, words


def test_one_argument_holding_both_unit_names_restarts_nothing(host, granted):
    """sudo joins the arguments with spaces before it compares them, so it
    runs systemctl with one argument holding both names: no unit has that
    name, and systemctl changes nothing."""
    program, verb, *units = granted
    before = settled_main_pids(host)
    result = sudo(host, [program, verb, " ".join(units)])
    assert result.rc != 0, result.stdout
    assert settled_main_pids(host) == before


def test_sudo_runs_exactly_the_apps_command_and_both_units_restart(host, granted):
    before = settled_main_pids(host)
    result = sudo(host, granted)
    assert result.rc == 0, result.stderr
    after = settled_main_pids(host)
    assert not [unit for unit in APP_UNITS if after[unit] == before[unit]], (before, after)
