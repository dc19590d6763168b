"""``ModelManager``: loads a predictor's models, serves them by name and version, and reloads
them when a watched location changes.

It puts together the jobs of its helpers, all under one lock: ``Catalog`` (which models there
are, where, and which versions), ``ModelCache`` (what is kept in memory and on disk, and what is
evicted), ``ModelProblems`` (failed reloads, published for the supervisor). What is left here is
loading: at start, on first use, and the watcher's reloads (``poll``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from ..errors import ModelLoadError, ModelNotFound
from ..log import log as _default_log
from .cache import ModelCache
from .catalog import Catalog, ModelEntry
from .policy import Settler, describe_model, resolve
from .problems import ModelProblems

POLL_ENV = "TERN_MODEL_POLL_INTERVAL"
DEFAULT_POLL_SECONDS = 2.0

_MISSING = object()
_REMOVED = ("<removed>",)  # the fingerprint of a version that disappeared


class ModelManager:
    """Loads a predictor's models, serves them by name and version, reloads and evicts them.

    Args:
        models: the spec's ``predictor.models``: exactly one of ``{"path": str}``,
            ``{"paths": [{"name", "path"}]}`` or ``{"dir": str}``, plus optional ``cache_size``
            and ``disk_cache_size`` (ints). The single model of ``path`` is named ``""``
            (``DEFAULT_NAME``); ``get()`` without a name returns it.
        project_dir: absolute project directory (project paths are relative to it).
        loader: ``loader(local_path) -> model``; for the Python predictor, its ``load_model``.
        cache_dir: a local folder for copies of models from outside the project (disk cache).
        log: ``log(message)`` for reload messages (default: the runtime's stderr log).
        poll_seconds: watch interval; default from ``TERN_MODEL_POLL_INTERVAL`` or 2.
        clock: ``clock() -> seconds``, monotonic (injected by tests).
        status_path: where to publish ``problems()`` (atomically, whenever they change) as
            ``{"problems": [{"model", "version", "path", "message"}]}``; None: not published.

    Raises:
        ModelConfigError: an unknown scheme, a missing path or malformed version folders.
        ModelLoadError: a model failed to load at start (without caching).
    """

    def __init__(self, models: dict, project_dir: str, loader: Callable[[str], Any], *,
                 cache_dir: str, log: Callable[[str], None] | None = None,
                 poll_seconds: float | None = None, clock: Callable[[], float] = time.monotonic,
                 status_path: str | None = None):
        self._loader = loader
        self._log = log or _default_log
        self._clock = clock
        if poll_seconds is None:
            try:
                poll_seconds = float(os.environ.get(POLL_ENV, DEFAULT_POLL_SECONDS))
            except ValueError:
                poll_seconds = DEFAULT_POLL_SECONDS
        self._poll = max(0.05, poll_seconds)
        self._settler = Settler(self._poll * 0.9)
        self._lock = threading.RLock()
        self._key_locks: dict = {}
        self._cache = ModelCache(self._lock, cache_size=models.get("cache_size"),
                                 disk_cache_size=models.get("disk_cache_size"),
                                 cache_dir=cache_dir, log=self._log)
        # ``get`` (called by requests) reads these two of the cache's directly.
        self._loaded = self._cache.loaded
        self._memory = self._cache.memory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        self._catalog = Catalog(models, project_dir, self._lock, self._log)
        self._problems = ModelProblems(self._lock, status_path, self._log, self._catalog.serving)
        observed = self._catalog.scan(initial=True)
        for name, versions in observed.items():
            for version, fingerprint in versions.items():
                if self._cache.lazy:
                    self._catalog.models[name].versions[version] = fingerprint
                else:
                    self._add(name, version, fingerprint, initial=True)
        if self._catalog.watched():
            self._thread = threading.Thread(target=self._watch, name="tern-model-watcher",
                                            daemon=True)
            self._thread.start()

    # -- public -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The model names, sorted (``[""]`` for a single ``models.path``)."""
        with self._lock:
            return self._catalog.names()

    def versions(self, name: str | None = None) -> list[int]:
        """The available version numbers of ``name``, ascending; ``[]`` for an unversioned
        model. Raises ModelNotFound for an unknown name."""
        with self._lock:
            model = self._catalog.model(name)
            return sorted(v for v in model.versions if v is not None)

    def get(self, name: str | None = None, version: str | int = "latest") -> Any:
        """The loaded model ``name`` at ``version`` (``"latest"``, an int or a numeric string).

        Loads it first if it is not in memory (caching), evicting the least recently used.

        Raises:
            ModelNotFound: unknown name or version.
            ModelLoadError: it had to be loaded, and loading failed.
        """
        with self._lock:
            model = self._catalog.model(name)
            key = (model.name, resolve(model.name, list(model.versions), version))
            value = self._loaded.get(key, _MISSING)
            if value is not _MISSING:
                self._memory.touch(key)
                return value
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                value = self._loaded.get(key, _MISSING)
                if value is not _MISSING:
                    self._memory.touch(key)
                    return value
                fingerprint = model.versions.get(key[1], _MISSING)
                if fingerprint is _MISSING:  # removed meanwhile
                    raise ModelNotFound(f"{describe_model(*key)} was removed")
            value = self._load(model, key[1], fingerprint)
            with self._lock:
                if model.versions.get(key[1]) == fingerprint:
                    self._cache.keep(key, value)
            return value

    def local_path(self, name: str | None = None, version: str | int = "latest") -> str:
        """Where model ``name`` at ``version`` is on local disk (a file or folder): its disk
        cache copy, or the source itself when it is read in place.

        Raises:
            ModelNotFound: unknown name or version.
        """
        with self._lock:
            model = self._catalog.model(name)
            key = (model.name, resolve(model.name, list(model.versions), version))
            copy = self._cache.copy_path(key)
            if copy is not None:
                return copy
            return model.store.in_place(model.version_path(key[1]))

    def problems(self) -> list[dict]:
        """Versions whose reload failed and that have not loaded since, sorted by model and
        version: ``{"model": name, "version": int | None, "path": the version's path,
        "message": "cannot load … from <path>: <reason>; serving version 1 of … as latest"}``.

        A problem is cleared when that version later loads, or when it is removed."""
        return self._problems.current()

    def close(self) -> None:
        """Stop the watcher (waits for a poll in progress)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def poll(self) -> None:
        """Scan the watched locations once and apply settled changes (the watcher's step;
        public for tests)."""
        observed = self._catalog.scan(initial=False)
        now = self._clock()
        changes = []
        models = self._catalog.models
        failed = self._problems.failed
        with self._lock:
            for name, versions in observed.items():
                if versions is None:
                    continue
                accepted = models[name].versions if name in models else {}
                for version, fingerprint in versions.items():
                    key = (name, version)
                    if accepted.get(version, _MISSING) == fingerprint or \
                            failed.get(key) == fingerprint:
                        self._settler.forget(key)
                    elif self._settler.observe(key, fingerprint, now):
                        changes.append((name, version, fingerprint))
            for name, model in list(models.items()):
                if not model.store.watched:
                    continue
                for version in list(model.versions):
                    key = (name, version)
                    if name in observed and (observed[name] is None or version in observed[name]):
                        continue
                    if self._settler.observe(key, _REMOVED, now):
                        changes.append((name, version, _REMOVED))
            # A version that failed to load and is gone again: nothing left to report.
            gone = self._problems.forget_gone(observed)
        if gone:
            self._problems.publish()
        for name, version, fingerprint in changes:
            if fingerprint is _REMOVED:
                self._remove(name, version)
            else:
                self._add(name, version, fingerprint, initial=False)

    # -- loading -----------------------------------------------------------------------------

    def _load(self, model: ModelEntry, version: int | None, fingerprint) -> Any:
        """Fetch (disk cache) and load one version; raises ModelLoadError with path and reason."""
        key = (model.name, version)
        source = model.version_path(version)
        with self._lock:
            self._cache.busy.add(key)
        try:
            path = self._cache.local_copy(model, version, fingerprint)
            try:
                return self._loader(path)
            except BaseException as e:
                reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                raise ModelLoadError(f"cannot load {describe_model(*key)} from {source}: "
                                     f"{reason}") from e
        finally:
            with self._lock:
                self._cache.busy.discard(key)

    def _add(self, name: str, version: int | None, fingerprint, initial: bool) -> None:
        """A new or changed version: load it first (unless lazy and not in memory), then swap."""
        model = self._catalog.models[name]
        key = (name, version)
        with self._lock:
            resident = key in self._loaded
            numbers = [v for v in model.versions if v is not None]
            # A new latest version of a model whose latest is in memory is loaded before it
            # becomes "latest", so that a failed load keeps the previous one serving (C29).
            replaces_resident_latest = (
                version is not None and bool(numbers) and version > max(numbers)
                and (name, max(numbers)) in self._loaded)
        if self._cache.lazy and not resident and not replaces_resident_latest:
            with self._lock:
                model.versions[version] = fingerprint
                self._problems.failed.pop(key, None)
                copy = self._cache.drop_copy(key)
            self._problems.set(key, None)
            if copy:
                ModelCache.delete_copy(copy)
            if not initial:
                self._log(f"found {describe_model(*key)} at {model.version_path(version)}")
            return
        try:
            value = self._load(model, version, fingerprint)
        except ModelLoadError as e:
            if initial:
                raise
            with self._lock:
                self._problems.failed[key] = fingerprint
                kept = self._catalog.serving(name)
            self._log(f"{e}; {kept}")
            self._problems.set(key, (model.version_path(version), str(e)))
            return
        with self._lock:
            replaced = key in self._loaded
            model.versions[version] = fingerprint
            self._problems.failed.pop(key, None)
            self._cache.keep(key, value)
        del value  # the old object goes when the last request holding it finishes
        self._problems.set(key, None)
        if not initial:
            self._log(f"{'reloaded' if replaced else 'loaded'} {describe_model(*key)} from "
                      f"{model.version_path(version)}")

    def _remove(self, name: str, version: int | None) -> None:
        """A version that disappeared: forget it everywhere, delete its disk copy."""
        key = (name, version)
        with self._lock:
            model = self._catalog.models[name]
            model.versions.pop(version, None)
            copy = self._cache.drop(key)
            self._problems.forget(key)
            serving = self._catalog.serving(name)
        # Published also when another version's problem now names a new "serving" version.
        self._problems.publish()
        if copy:
            ModelCache.delete_copy(copy)
        self._log(f"removed {describe_model(*key)} ({model.version_path(version)} is gone); "
                  f"{serving}")

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.poll()
            except BaseException as e:  # the watcher must survive anything
                self._log(f"model watcher: {type(e).__name__}: {e}")
