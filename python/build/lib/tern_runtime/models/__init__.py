"""Models of a predictor: where they are, which versions exist, which are loaded (docs/models.md).

``predictor.models`` names the models: one ``path``, named ``paths`` or a ``dir`` holding one
folder per model. A model location is a file, a folder, or a folder of numeric *version
folders* (``1``, ``2``, …; "latest" is the highest). ``ModelManager`` keeps the loaded models:

- without ``cache_size`` every model (every version) is loaded at start, as Cortex does;
- with ``cache_size``/``disk_cache_size`` models are loaded on first use and the least recently
  used are dropped (from memory, or from the replica's disk cache of copied models). A request
  that already holds a model keeps it: eviction only drops the manager's reference.

Locations outside the project (``file:///abs/path``) are watched: a thread polls them every
``TERN_MODEL_POLL_INTERVAL`` seconds (default 2) and picks up new, removed and changed versions.
A change is applied once its fingerprint (file sizes and mtimes) has held for one interval (so a
half-copied folder is not loaded); the new model is loaded *before* it replaces the old one, and a
failed load keeps the previous model serving and logs the path and the reason (case C29). Such
failures are also *model problems* (``problems()``), written to ``status_path`` as JSON for the
supervisor, which shows them in the API's status until a later load of that version succeeds.

Schemes are pluggable: ``SCHEMES`` maps a URL scheme ("" for project paths) to a ``Store``
class; an ``s3`` store would implement the same four methods.

The decision logic (``version_layout``, ``LRU``, ``Settler``, ``resolve``) does no I/O and is
unit-tested with injected time (python/tests/test_models.py).

Modules, by job: ``policy`` (the pure decisions), ``stores`` (schemes and stores), ``catalog``
(which models and versions there are, and the scan of their locations), ``cache`` (what is kept
in memory and on disk, and eviction), ``problems`` (failed reloads and their status file),
``manager`` (``ModelManager``: loading and reloading, putting the others together under one
lock). The names other modules, predictors and tests use are re-exported here; the errors are
defined in ``tern_runtime.errors`` and public here.
"""

from ..errors import ModelConfigError, ModelLoadError, ModelNotFound
from .manager import DEFAULT_POLL_SECONDS, POLL_ENV, ModelManager
from .policy import DEFAULT_NAME, LRU, Settler, describe_model, resolve, version_layout
from .stores import SCHEMES, FileStore, open_location

__all__ = [
    "DEFAULT_NAME", "DEFAULT_POLL_SECONDS", "FileStore", "LRU", "ModelConfigError",
    "ModelLoadError", "ModelManager", "ModelNotFound", "POLL_ENV", "SCHEMES", "Settler",
    "describe_model", "open_location", "resolve", "version_layout",
]
