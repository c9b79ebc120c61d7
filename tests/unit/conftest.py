"""Plain pytest from a checkout: `make venv` links the checkout as the
collection under .cache/collections, where the filters and modules import
their module_utils from (ansible-test units runs inside ansible_collections/
already)."""

import pathlib
import sys

COLLECTIONS = pathlib.Path(__file__).resolve().parents[2] / ".cache" / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.append(str(COLLECTIONS))
