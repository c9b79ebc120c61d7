"""How the module tests load a module of this collection and pass it arguments."""

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

COLLECTION = pathlib.Path(__file__).resolve().parents[4]
# From a checkout, `make venv` links it as the collection there, for the
# modules' module_utils imports (ansible-test units runs inside
# ansible_collections/ already).
sys.path.append(str(COLLECTION / ".cache" / "collections"))


def load_module(name):
    """plugins/modules/<name>.py, loaded by file path, so that plain pytest
    from the checkout and ansible-test units both find it."""
    spec = importlib.util.spec_from_file_location("server_maintanence_" + name,
                                                  COLLECTION / "plugins" / "modules" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
