"""What every unit test shares: the collection on sys.path, and the loader
the module tests run a module of this collection with.

Plain pytest runs from the checkout: `make venv` links it as the collection
under .cache/collections, where the filters and modules import their
module_utils from (ansible-test units runs inside ansible_collections/
already). A test reaches the loader with a relative import
(`from ...conftest import load_module, patch_module_args`): every directory
here is a package, so plain pytest and ansible-test units both import this
file once, under the package name each gives it."""

import contextlib
import importlib.util
import json
import pathlib
import sys

import pytest

from ansible.module_utils import basic

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=unused-import
except ImportError:  # older cores read the same private global
    @contextlib.contextmanager
    def patch_module_args(args):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
            yield

COLLECTION = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = COLLECTION / ".cache" / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.append(str(COLLECTIONS))


def load_module(name):
    """plugins/modules/<name>.py, loaded by file path, so that plain pytest
    from the checkout and ansible-test units both find it."""
    spec = importlib.util.spec_from_file_location("server_maintanence_" + name,
                                                  COLLECTION / "plugins" / "modules" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
