"""galaxy.yml is complete for Galaxy, and CONTRIBUTING says what a fork edits.

galaxy-importer requires namespace, name, version, readme, authors and a
license; Galaxy shows repository, documentation, homepage and issues as the
collection's links. CONTRIBUTING's "If you fork" names each value a fork
changes, as galaxy.yml has it today.

meta/runtime.yml's routes: each deprecated module says so in its own
documentation, with the same removal version, in the README and in a
changelog fragment; the old module_utils names lead to the new ones, and a
real run of ansible-core shows every warning.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
LINKS = ("repository", "documentation", "homepage", "issues")
NAME = re.compile(r"^(?!.*__)[a-z]+[0-9a-z_]*$")  # galaxy-importer's names and tags
RUNTIME = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text(encoding="utf-8"))
COLLECTION = "%s.%s" % (GALAXY["namespace"], GALAXY["name"])
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def test_galaxy_yml_has_what_galaxy_importer_requires():
    for key in ("namespace", "name", "version", "readme", "authors", "license"):
        assert GALAXY.get(key), f"galaxy.yml: no {key}"
    assert (REPO / GALAXY["readme"]).is_file()
    assert all(isinstance(author, str) and author for author in GALAXY["authors"])
    assert NAME.match(GALAXY["namespace"]) and NAME.match(GALAXY["name"])
    assert len(GALAXY["tags"]) <= 20 and all(NAME.match(tag) for tag in GALAXY["tags"])


def test_galaxy_yml_names_the_repository_its_docs_and_issues():
    for key in LINKS:
        assert re.match(r"https://[^\s/]+/\S+$", GALAXY.get(key) or ""), f"galaxy.yml: {key} is no https URL"
    repository = GALAXY["repository"]
    assert GALAXY["issues"] == repository + "/issues"
    assert GALAXY["documentation"].startswith(repository + "/") and GALAXY["documentation"].endswith("/docs")
    assert (REPO / "docs" / "README.md").is_file(), "documentation points at docs/"


def test_contributing_says_which_galaxy_values_a_fork_edits():
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("\n## If you fork\n", 1)[1].split("\n## ", 1)[0]
    for key in (*LINKS, "authors"):
        assert f"| `{key}` |" in section, f"CONTRIBUTING's If you fork does not name {key}"
        values = GALAXY[key] if isinstance(GALAXY[key], list) else [GALAXY[key]]
        assert all(f"`{value}`" in section for value in values), f"If you fork shows another {key} than galaxy.yml"
    assert "namespace" in section and "name" in section


def _module_documentation(name):
    tree = ast.parse((REPO / "plugins" / "modules" / ("%s.py" % name)).read_text(encoding="utf-8"))
    node = next(node for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION")
    return yaml.safe_load(node.value.value)


def _version(text):
    return tuple(int(part) for part in text.split("."))


def test_each_deprecated_module_is_routed_documented_announced_and_kept_to_a_major_release():
    routed = {name: entry["deprecation"] for name, entry in RUNTIME["plugin_routing"]["modules"].items()}
    modules = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("*.py"))
    documented = {name: _module_documentation(name)["deprecated"] for name in modules
                  if "deprecated" in _module_documentation(name)}
    assert sorted(routed) == sorted(documented) == ["app_crontab", "env_file", "managed_paths"]
    assert "probe" in modules and "probe" not in routed, "probe feeds the public status_report filter: it stays"
    announced = " ".join(entry for path in (REPO / "changelogs" / "fragments").glob("*.yml")
                         for entry in yaml.safe_load(path.read_text(encoding="utf-8")).get("deprecated_features", []))
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    for name, deprecation in routed.items():
        removal = str(deprecation["removal_version"])
        assert str(documented[name]["removed_in"]) == removal, name
        assert documented[name]["why"] and documented[name]["alternative"], name
        # Removing a public module breaks its users: only at a major release, after this one.
        assert re.fullmatch(r"[1-9][0-9]*\.0\.0", removal) and _version(removal) > _version(GALAXY["version"])
        assert deprecation["warning_text"], name
        assert "``%s``" % name in announced, name
        assert "`%s`" % name in readme.split("deprecated", 1)[0][-200:], name


def test_the_old_module_utils_names_lead_to_the_new_ones():
    routes = RUNTIME["plugin_routing"]["module_utils"]
    imports = RUNTIME["import_redirection"]
    utils = REPO / "plugins" / "module_utils"
    assert sorted(routes) == ["app_crontab", "job_records", "systemd_env"]
    for old, route in routes.items():
        new = route["redirect"].split(".")[-1]
        assert route["redirect"] == "%s.%s" % (COLLECTION, new) and new.startswith("_"), old
        assert (utils / ("%s.py" % new)).is_file() and not (utils / ("%s.py" % old)).exists(), old
        assert route["deprecation"]["removal_version"] in {entry["deprecation"]["removal_version"]
                                                           for entry in RUNTIME["plugin_routing"]["modules"].values()}
        prefix = "ansible_collections.%s.plugins.module_utils." % COLLECTION
        assert imports[prefix + old] == {"redirect": prefix + new}, old


OLD_NAMES_MODULE = """\
#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.server_maintanence.ops.plugins.module_utils.app_crontab import read_crontab
from ansible_collections.server_maintanence.ops.plugins.module_utils import job_records
from ansible_collections.server_maintanence.ops.plugins.module_utils.systemd_env import parse

AnsibleModule(argument_spec={}).exit_json(changed=False, crontab=read_crontab.__module__,
                                          metrics=job_records.METRICS_NAME, parsed=parse("A=1\\n"))
"""
OLD_NAMES_FILTER = """\
from ansible_collections.server_maintanence.ops.plugins.module_utils import app_crontab, job_records, systemd_env


class FilterModule(object):
    def filters(self):
        return {"old_names": lambda _value: [app_crontab.__name__, job_records.__name__, systemd_env.__name__]}
"""


def test_a_real_run_follows_the_old_names_and_warns_of_each_deprecation(tmp_path):
    """ansible-core (the toolchain's) runs a module and a filter of the
    user's that import the old module_utils names, and each deprecated
    module: every warning is shown and the old names reach the new code."""
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "old_names.py").write_text(OLD_NAMES_MODULE)
    (tmp_path / "filter_plugins").mkdir()
    (tmp_path / "filter_plugins" / "old_names.py").write_text(OLD_NAMES_FILTER)
    deprecated = sorted(RUNTIME["plugin_routing"]["modules"])
    tasks = [{"name": "A module of the user's imports the old module_utils names (AnsiballZ packs them)",
              "old_names": None, "register": "packed"},
             {"name": "A filter of the user's imports them on the controller",
              "ansible.builtin.set_fact": {"imported": "{{ 1 | old_names }}"}}]
    # Each deprecated module without its required arguments: it fails before any change.
    tasks += [{"name": "Call %s" % name, "%s.%s" % (COLLECTION, name): None, "ignore_errors": True}
              for name in deprecated]
    tasks.append({"name": "Write what the module and the filter found", "ansible.builtin.copy": {
        "content": "{{ {'packed': packed, 'imported': imported} | to_json }}",
        "dest": "{{ playbook_dir }}/found.json", "mode": "0600"}})
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{"name": "Old names and deprecated modules",
                                                        "hosts": "localhost", "gather_facts": False,
                                                        "tasks": tasks}], sort_keys=False))
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"),
                   "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".cache" / "collections"),
                   "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "ANSIBLE_DEPRECATION_WARNINGS": "true",
                   "ANSIBLE_NOCOLOR": "1", "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    result = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")],
                            capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=300, check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, output
    found = json.loads((tmp_path / "found.json").read_text())
    prefix = "ansible_collections.%s.plugins.module_utils." % COLLECTION
    assert found["packed"]["crontab"] == prefix + "_crontab"
    assert found["packed"]["metrics"] == "server_maintanence.prom" and found["packed"]["parsed"] == [["A", "1"]]
    assert found["imported"] == [prefix + "_crontab", prefix + "_job_records", prefix + "_systemd_env"]
    for old in RUNTIME["plugin_routing"]["module_utils"]:
        assert "module_util %s%s has been removed (it is private now" % (prefix, old) in output, old
    for name in deprecated:
        assert "%s.%s has been deprecated." % (COLLECTION, name) in output, name
    assert output.count("missing required arguments") >= len(deprecated)
    assert output.count("version 1.0.0") >= len(deprecated) + len(RUNTIME["plugin_routing"]["module_utils"])
