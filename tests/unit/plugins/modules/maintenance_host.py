"""The maintenance module's Engine without a host: a fake AnsibleModule, a
reading (what module_utils/_host_reading.read_host returns) of a healthy
host in place of the real one, and every mechanic that would change the host
(paths, crontab, env file, commands) replaced by a recorder."""

import copy
import pathlib

import yaml

from ansible_collections.server_maintanence.ops.plugins.module_utils import _env_file, _paths, _crontab as crontab
from ansible_collections.server_maintanence.ops.plugins.plugin_utils import description

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "server_maintanence"
# The role's defaults as the action plugin hands them over: templated; the
# metrics directory set and the env file managed, so every kind of row is there.
METRICS = "/var/lib/prometheus/node-exporter"
INPUTS = dict(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()),
              server_maintanence_logs_dir="/opt/server-monitoring/logs", server_maintanence_instance_id="web1",
              server_maintanence_metrics_dir=METRICS, server_maintanence_manage_env_file=True)
UV = "/var/www/.local/bin/uv"


def arguments(**changes):
    """The module's arguments as the action plugin builds them (the role's
    files a line each), with the defaults AnsibleModule would fill in."""
    inputs = dict(INPUTS, **{description.PREFIX + name: value for name, value in changes.items()})
    paths = [description.JOB_RUNNER, description.ENV_LOADER, description.JOB_RECORDS] + list(description.TEMPLATES)
    files = {path: "# %s\n" % path for path in paths}
    return dict(description.describe(inputs, files, "web1"), assume_packages=False)


def healthy(params, reading):
    """What a reading of a host that can take the role finds: every account
    and command there, nothing of the role's yet (each path missing but the
    system's logrotate runner), no crontab, cron running, no systemd."""
    paths = {path: {"exists": False, "planted_link": None} for path in reading["paths"]}
    paths[params["cron_daily_runner"]] = {"exists": True, "type": "file", "owner": "root", "group": "root",
                                          "mode": "0755", "planted_link": None}
    return {
        "user_exists": True, "group_exists": True,
        "uv": {"path": params["uv_path"] or UV, "discovered": not params["uv_path"], "searched": [UV, "/usr/bin/uv"],
               "exists": True, "mode": "0755", "unsafe": False},
        "env": dict.fromkeys(reading["env_keys"]), "env_in_sync": dict.fromkeys(reading["env_wanted"], False),
        "env_refused": None,
        "commands": dict.fromkeys(("crontab", "logrotate", "zstd", "flock", "timeout", "systemctl", "sudo"), True),
        "crontab": [], "systemd": False, "cron_running": True,
        "services": {"cron_enabled": None, "logrotate_timer_enabled": None, "logrotate_timer_active": None},
        "units_active": dict.fromkeys(reading["units"], False), "paths": paths, "apt_lists": True,
        "user_groups": [params["group"]], "leftovers": [],
    }


class Finished(Exception):
    def __init__(self, result):
        super(Finished, self).__init__(result.get("msg"))
        self.result = result


class FakeModule(object):
    """What the Engine uses of AnsibleModule: params, check and diff mode,
    warn, run_command (recorded, never run), exit_json and fail_json (which
    end the run, as they do, here by raising Finished)."""

    def __init__(self, params, check_mode=False, diff=False):
        self.params, self.check_mode, self._diff = params, check_mode, diff
        self.warnings, self.commands = [], []

    def warn(self, warning):
        self.warnings.append(warning)

    def run_command(self, args, **kwargs):
        self.commands.append(list(args))
        return 0, "", ""

    def exit_json(self, **result):
        raise Finished(dict(result, warnings=self.warnings))

    def fail_json(self, **result):
        raise Finished(dict(result, failed=True, warnings=self.warnings))


def run(monkeypatch, maintenance, params, change=None, check_mode=False):
    """Run maintenance.Engine on params against a healthy host's reading,
    changed by change(reading, params) first. (result, module, applied,
    readings, engine): applied lists, in order, each mechanic called that
    would change the host, with its arguments; readings the reading's
    arguments."""
    applied, readings = [], []

    def read_host(module, arguments):
        readings.append(copy.deepcopy(arguments))
        reading = healthy(module.params, arguments)
        if change:
            change(reading, module.params)
        return reading

    def paths_apply(module, items, result):
        applied.append(("paths", copy.deepcopy(items)))
        result.update(changed=True, changed_paths=[item["path"] for item in items])

    def crontab_apply(module, user, entries, take_over=True, before=None):
        applied.append(("crontab", copy.deepcopy(entries)))
        # What the real reconciler takes over from the crontab read.
        taken_over = crontab.reconcile(before or [], entries, take_over)[1]
        return {"changed": True, "taken_over": taken_over, "crontab": [entry["line"] for entry in entries]}

    def env_apply(module, path, values, group, setting, owner=None, mode=0o640):
        applied.append(("env_file", {"path": path, "keys": sorted(values), "group": group, "setting": setting,
                                     "owner": owner, "mode": mode}))
        return {"changed": True, "changed_keys": sorted(values)}

    monkeypatch.setattr(maintenance, "read_host", read_host)
    monkeypatch.setattr(_paths, "apply", paths_apply)
    monkeypatch.setattr(crontab, "apply", crontab_apply)
    monkeypatch.setattr(_env_file, "apply", env_apply)
    module = FakeModule(copy.deepcopy(params), check_mode=check_mode)
    engine = maintenance.Engine(module)
    try:
        engine.run()
    except Finished as finished:
        return finished.result, module, applied, readings, engine
    raise AssertionError("the Engine returned without exit_json or fail_json")
