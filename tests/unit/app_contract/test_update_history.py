"""The app's update history (module_utils/_job_records.py reads it) in the
format the app's own bin/lib/update.sh writes."""

import subprocess

import pytest

from ansible_collections.server_maintanence.ops.plugins.module_utils import _job_records as job_records

from ..plugins.module_utils.test__job_records import GOOD
from . import upstream_app

# The clock of the app's own bin/lib/update.sh, run by a test: 2026-12-01 06:10:02 UTC.
CLOCK = 1796105402


@pytest.fixture(scope="module")
def app():
    return upstream_app.UpstreamApp(upstream_app.tarball())


def test_the_format_is_the_one_the_app_writes(app):
    written = app.update_history()
    assert written.name == job_records.HISTORY_NAME
    # The file lands in the role's logs_dir: bin/lib/paths.sh takes LOGS_DIR, which the role sets.
    assert written.directory_default == "LOGS_DIR"
    assert set(written.keys) == set(GOOD)
    assert written.statuses | {"failed"} == set(job_records.UPDATE_STATUSES)
    assert all(job_records._WORD.match(step) for step in written.steps)
    assert job_records._SHA.match("a" * written.short_sha)


def test_a_line_the_apps_own_function_writes_is_read(app, tmp_path):
    """bin/lib/update.sh's _up_record_history, run by bash with its own
    helpers, appends a line the reader takes whole."""
    lib = tmp_path / "update.sh"
    lib.write_text(app.text("bin/lib/update.sh"))
    logs = tmp_path / "logs"
    logs.mkdir()
    # The clock the app's `date` reads, set by the test: date itself formats it.
    script = ('date() { command date -d @%d "$@"; }; '
              'PROJECT_DIR=%s; LOG_DIR=%s; . %s; _up_saved_sha=77c4be32fc133eb9207f773d879a722f0b6aa291; '
              '_up_new_sha=9f1e2d3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; _up_failed_step=migrate; _up_mode=systemd; '
              '_up_auto_env=true; _up_record_history failed 0 true') % (CLOCK, tmp_path, logs, lib)
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    found = job_records.read_history(str(logs / job_records.HISTORY_NAME))
    assert found["bad"] == 0, (logs / job_records.HISTORY_NAME).read_text()
    assert (found["last"]["old_sha"], found["last"]["new_sha"], found["last"]["failed_step"],
            found["last"]["rolled_back"], found["last"]["auto_update"]) == ("77c4be3", "9f1e2d3", "migrate", True,
                                                                            True)
    assert found["last"]["time"] == CLOCK
