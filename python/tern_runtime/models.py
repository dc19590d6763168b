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
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable

from .errors import ModelConfigError, ModelLoadError, ModelNotFound
from .log import log as _default_log

POLL_ENV = "TERN_MODEL_POLL_INTERVAL"
DEFAULT_POLL_SECONDS = 2.0

#: the name of the single model of ``models.path``
DEFAULT_NAME = ""

_VERSION = re.compile(r"(0|[1-9][0-9]*)")
# Looks like a version but is not one Tern accepts: v1, V2, 1.5, -1, +3, 01, 1_0, 2.0.1
_VERSION_LIKE = re.compile(r"[vV]?[-+]?[0-9]+([._][0-9]+)*")


# -- pure logic -------------------------------------------------------------------------------


def describe_model(name: str, version: int | None = None) -> str:
    """``model "iris" version 2`` (``the model`` for the single ``path`` model)."""
    text = "the model" if name == DEFAULT_NAME else f'model "{name}"'
    return text if version is None else f"{text} version {version}"


def version_layout(entries: Iterable[tuple[str, bool]]) -> tuple[list[int] | None, str | None]:
    """Decide how a model folder is laid out from its entries ``(name, is_folder)``.

    Returns ``(versions, problem)``: ``versions`` is the ascending list of version numbers, or
    ``None`` when the folder is one unversioned model; ``problem`` is a message when the layout
    is malformed (then ``versions`` is ``None``). Hidden entries (``.name``) and files are ignored.
    Malformed: a folder named like a version that is not one (``v1``, ``1.5``, ``-1``, ``01``), or
    numeric folders mixed with other folders.
    """
    numeric: list[int] = []
    others: list[str] = []
    for name, is_folder in entries:
        if not is_folder or name.startswith("."):
            continue
        if _VERSION.fullmatch(name):
            numeric.append(int(name))
        elif _VERSION_LIKE.fullmatch(name):
            return None, (f'holds folder "{name}", which is not a valid version folder: versions '
                          "are whole numbers without sign, prefix or leading zero (1, 2, 10)")
        else:
            others.append(name)
    if numeric and others:
        return None, (f"mixes version folders ({', '.join(map(str, sorted(numeric)))}) with "
                      f"other folders ({', '.join(sorted(others))}); a model folder holds either "
                      "version folders only, or one model")
    return (sorted(numeric) if numeric else None), None


def resolve(name: str, versions: list[int | None], requested: str | int) -> int | None:
    """The version key that ``requested`` means among the known ``versions`` of ``name``.

    ``versions`` holds ints (version folders) or the single ``None`` (an unversioned model).
    ``requested`` is ``"latest"``, an int, or a numeric string.

    Raises:
        ModelNotFound: no such version, or a number asked of an unversioned model.
    """
    numbers = sorted(v for v in versions if v is not None)
    if requested == "latest" or requested is None:
        if numbers:
            return numbers[-1]
        if None in versions:
            return None
        raise ModelNotFound(f"{describe_model(name)} has no version available")
    if isinstance(requested, bool) or not (
            isinstance(requested, int) or (isinstance(requested, str)
                                           and _VERSION.fullmatch(requested))):
        raise ModelNotFound(f'"{requested}" is not a model version: give a whole number or "latest"')
    number = int(requested)
    if number in numbers:
        return number
    if not numbers:
        raise ModelNotFound(f"{describe_model(name)} has no version folders; "
                            f'ask for "latest" instead of version {number}')
    raise ModelNotFound(f"{describe_model(name)} has no version {number} "
                        f"(versions: {', '.join(map(str, numbers))})")


class LRU:
    """Least-recently-used order of keys with a capacity; holds no values.

    ``touch`` marks a key used (adding it); it returns the keys to evict, oldest first, skipping
    those ``pinned`` (in use) and never the touched key itself. ``capacity`` None: unbounded.
    """

    def __init__(self, capacity: int | None):
        self.capacity = capacity
        self._order: OrderedDict = OrderedDict()

    def touch(self, key, pinned: Callable[[Any], bool] = lambda key: False) -> list:
        self._order[key] = None
        self._order.move_to_end(key)
        if self.capacity is None:
            return []
        evicted = []
        excess = len(self._order) - self.capacity
        for candidate in list(self._order):
            if excess <= 0:
                break
            if candidate == key or pinned(candidate):
                continue
            del self._order[candidate]
            evicted.append(candidate)
            excess -= 1
        return evicted

    def discard(self, key) -> None:
        self._order.pop(key, None)

    def __contains__(self, key) -> bool:
        return key in self._order

    def keys(self) -> list:
        """Oldest first."""
        return list(self._order)


_REMOVED = ("<removed>",)


class Settler:
    """Debounces observed changes: a key's new fingerprint is accepted once it has been observed
    unchanged for ``settle`` seconds (time is passed in, for tests).

    ``observe(key, fingerprint, now)`` returns True when the change is settled and should be
    applied; call ``forget(key)`` when observed equal to the accepted state.
    """

    def __init__(self, settle: float):
        self.settle = settle
        self._pending: dict = {}  # key -> (fingerprint, first seen)

    def observe(self, key, fingerprint, now: float) -> bool:
        seen = self._pending.get(key)
        if seen is None or seen[0] != fingerprint:
            self._pending[key] = (fingerprint, now)
            return self.settle <= 0
        if now - seen[1] >= self.settle:
            del self._pending[key]
            return True
        return False

    def forget(self, key) -> None:
        self._pending.pop(key, None)

    def pending(self) -> list:
        return list(self._pending)


# -- stores (pluggable schemes) -----------------------------------------------------------------


class FileStore:
    """Models on the local file system. ``""`` (project paths, relative to the project and never
    changing) and ``file`` (absolute, watched) use it.

    A store for another scheme implements the same methods: ``entries``, ``fingerprint``,
    ``fetch``, ``in_place``, plus the attribute ``watched``.
    """

    def __init__(self, base: str, watched: bool):
        self.base = base
        self.watched = watched

    def entries(self, path: str) -> list[tuple[str, bool]] | None:
        """``(name, is_folder)`` of the folder ``path``; ``[]`` for a file; None when missing."""
        try:
            with os.scandir(path) as it:
                return [(e.name, e.is_dir()) for e in it]
        except NotADirectoryError:
            return []
        except FileNotFoundError:
            return None

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def fingerprint(self, path: str) -> tuple:
        """Changes when any file under ``path`` is added, removed, resized or touched."""
        if os.path.isfile(path):
            st = os.stat(path)
            return (("", st.st_size, st.st_mtime_ns),)
        items = []
        for root, folders, files in os.walk(path):
            folders.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                items.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
        return tuple(items)

    def fetch(self, path: str, destination: str) -> None:
        """Copy ``path`` (a file or folder) to ``destination`` (the "download")."""
        if os.path.isdir(path):
            shutil.copytree(path, destination)
        else:
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copy2(path, destination)

    def in_place(self, path: str) -> str:
        """The local path a loader may read directly."""
        return path


def _project_store(project_dir: str) -> FileStore:
    return FileStore(project_dir, watched=False)


def _file_store(project_dir: str) -> FileStore:
    return FileStore("/", watched=True)


#: scheme -> factory(project_dir) of the store serving it ("" = a path in the project)
SCHEMES: dict[str, Callable[[str], FileStore]] = {"": _project_store, "file": _file_store}


def open_location(location: str, project_dir: str) -> tuple[FileStore, str]:
    """The store and the local/absolute path of a model location from the spec.

    Raises:
        ModelConfigError: the scheme has no store, or a ``file://`` URL is not absolute.
    """
    scheme, sep, rest = location.partition("://")
    if not sep:
        return SCHEMES[""](project_dir), os.path.normpath(os.path.join(project_dir, location))
    factory = SCHEMES.get(scheme)
    if factory is None:
        supported = ", ".join(f"{s}://" for s in SCHEMES if s) + " or a path in the project"
        raise ModelConfigError(f'model path "{location}": the {scheme}:// scheme is not supported '
                               f"by this runtime yet (supported: {supported})")
    if scheme == "file":
        if rest.startswith("localhost/"):
            rest = rest[len("localhost"):]
        if not rest.startswith("/"):
            raise ModelConfigError(f'model path "{location}": a file:// URL must hold an absolute '
                                   "path, e.g. file:///srv/models/iris")
        return factory(project_dir), os.path.normpath(rest)
    return factory(project_dir), rest


# -- the manager --------------------------------------------------------------------------------


class _Model:
    """One model name: its store, location and the versions accepted so far."""

    def __init__(self, name: str, store: FileStore, path: str, location: str):
        self.name = name
        self.store = store
        self.path = path
        self.location = location
        self.versions: dict = {}  # version (int | None) -> fingerprint

    def version_path(self, version: int | None) -> str:
        return self.path if version is None else os.path.join(self.path, str(version))


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
        self._cache_dir = cache_dir
        self._cache_size = models.get("cache_size")
        self._disk_cache_size = models.get("disk_cache_size")
        self._lazy = self._cache_size is not None
        if poll_seconds is None:
            try:
                poll_seconds = float(os.environ.get(POLL_ENV, DEFAULT_POLL_SECONDS))
            except ValueError:
                poll_seconds = DEFAULT_POLL_SECONDS
        self._poll = max(0.05, poll_seconds)
        self._settler = Settler(self._poll * 0.9)
        self._lock = threading.RLock()
        self._key_locks: dict = {}
        self._loaded: dict = {}  # (name, version) -> model object
        self._memory = LRU(self._cache_size)
        self._disk = LRU(self._disk_cache_size)
        self._copies: dict = {}  # (name, version) -> (local path, fingerprint)
        self._busy: set = set()  # keys being fetched or loaded
        self._failed: dict = {}  # key -> fingerprint that failed to load
        self._problems: dict = {}  # key -> (path, ModelLoadError text) of a failed reload
        self._status_path = status_path
        self._published: str | None = None  # the text last written to status_path
        self._warned: set = set()
        self._copy_counter = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        self._dir: tuple[FileStore, str, str] | None = None
        self._models: dict[str, _Model] = {}
        if "dir" in models:
            store, path = open_location(models["dir"], project_dir)
            if store.entries(path) is None:
                raise ModelConfigError(f'models.dir "{models["dir"]}": {path} does not exist')
            self._dir = (store, path, models["dir"])
        elif "paths" in models:
            for item in models["paths"]:
                store, path = open_location(item["path"], project_dir)
                self._models[item["name"]] = _Model(item["name"], store, path, item["path"])
        elif "path" in models:
            store, path = open_location(models["path"], project_dir)
            self._models[DEFAULT_NAME] = _Model(DEFAULT_NAME, store, path, models["path"])
        else:
            raise ModelConfigError("models needs one of path, paths or dir")

        observed = self._scan(initial=True)
        for name, versions in observed.items():
            for version, fingerprint in versions.items():
                if self._lazy:
                    self._models[name].versions[version] = fingerprint
                else:
                    self._add(name, version, fingerprint, initial=True)
        if self._watched():
            self._thread = threading.Thread(target=self._watch, name="tern-model-watcher",
                                            daemon=True)
            self._thread.start()

    # -- public -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The model names, sorted (``[""]`` for a single ``models.path``)."""
        with self._lock:
            return sorted(name for name, m in self._models.items() if m.versions)

    def versions(self, name: str | None = None) -> list[int]:
        """The available version numbers of ``name``, ascending; ``[]`` for an unversioned
        model. Raises ModelNotFound for an unknown name."""
        with self._lock:
            model = self._model(name)
            return sorted(v for v in model.versions if v is not None)

    def get(self, name: str | None = None, version: str | int = "latest") -> Any:
        """The loaded model ``name`` at ``version`` (``"latest"``, an int or a numeric string).

        Loads it first if it is not in memory (caching), evicting the least recently used.

        Raises:
            ModelNotFound: unknown name or version.
            ModelLoadError: it had to be loaded, and loading failed.
        """
        with self._lock:
            model = self._model(name)
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
                    self._keep(key, value)
            return value

    def local_path(self, name: str | None = None, version: str | int = "latest") -> str:
        """Where model ``name`` at ``version`` is on local disk (a file or folder): its disk
        cache copy, or the source itself when it is read in place."""
        with self._lock:
            model = self._model(name)
            key = (model.name, resolve(model.name, list(model.versions), version))
            copy = self._copies.get(key)
            if copy is not None:
                return copy[0]
            return model.store.in_place(model.version_path(key[1]))

    def problems(self) -> list[dict]:
        """Versions whose reload failed and that have not loaded since, sorted by model and
        version: ``{"model": name, "version": int | None, "path": the version's path,
        "message": "cannot load … from <path>: <reason>; serving version 1 of … as latest"}``.

        A problem is cleared when that version later loads, or when it is removed."""
        with self._lock:
            return [{"model": name, "version": version, "path": path,
                     "message": f"{error}; {self._serving(name)}"}
                    for (name, version), (path, error) in sorted(
                        self._problems.items(), key=lambda item: (item[0][0], item[0][1] or 0))]

    def close(self) -> None:
        """Stop the watcher (waits for a poll in progress)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def poll(self) -> None:
        """Scan the watched locations once and apply settled changes (the watcher's step;
        public for tests)."""
        observed = self._scan(initial=False)
        now = self._clock()
        changes = []
        with self._lock:
            for name, versions in observed.items():
                if versions is None:
                    continue
                accepted = self._models[name].versions if name in self._models else {}
                for version, fingerprint in versions.items():
                    key = (name, version)
                    if accepted.get(version, _MISSING) == fingerprint or \
                            self._failed.get(key) == fingerprint:
                        self._settler.forget(key)
                    elif self._settler.observe(key, fingerprint, now):
                        changes.append((name, version, fingerprint))
            for name, model in list(self._models.items()):
                if not model.store.watched:
                    continue
                for version in list(model.versions):
                    key = (name, version)
                    if name in observed and (observed[name] is None or version in observed[name]):
                        continue
                    if self._settler.observe(key, _REMOVED, now):
                        changes.append((name, version, _REMOVED))
            # A version that failed to load and is gone again: nothing left to report.
            # (A model missing from ``observed`` is gone; None means "cannot tell now".)
            gone = [key for key in self._problems
                    if observed.get(key[0], {}) is not None and key[1] not in observed.get(key[0], {})]
            for key in gone:
                self._problems.pop(key, None)
                self._failed.pop(key, None)
        if gone:
            self._publish()
        for name, version, fingerprint in changes:
            if fingerprint is _REMOVED:
                self._remove(name, version)
            else:
                self._add(name, version, fingerprint, initial=False)

    # -- internals ---------------------------------------------------------------------------

    def _watched(self) -> bool:
        if self._dir is not None:
            return self._dir[0].watched
        return any(m.store.watched for m in self._models.values())

    def _model(self, name: str | None) -> _Model:
        if name is None:
            available = [n for n, m in self._models.items() if m.versions]
            if DEFAULT_NAME in self._models:
                return self._models[DEFAULT_NAME]
            if len(available) == 1:
                return self._models[available[0]]
            raise ModelNotFound("give a model name (models: " + ", ".join(sorted(available)) + ")")
        model = self._models.get(name)
        if model is None or not model.versions:
            available = sorted(n for n, m in self._models.items() if m.versions)
            shown = ", ".join(f'"{n}"' if n else '"" (the single model)' for n in available)
            raise ModelNotFound(f'no model named "{name}" (models: {shown or "none"})')
        return model

    def _scan(self, initial: bool) -> dict:
        """name -> {version -> fingerprint} of every model location (watched ones only after the
        start); None for a model that cannot be read now (left as it is). Malformed folders raise
        at start and are logged once (and ignored) later."""
        if self._dir is not None:
            store, path, location = self._dir
            if initial or store.watched:
                entries = store.entries(path) or []
                with self._lock:
                    for entry, is_folder in entries:
                        if is_folder and not entry.startswith(".") and entry not in self._models:
                            self._models[entry] = _Model(entry, store, os.path.join(path, entry),
                                                         f"{location.rstrip('/')}/{entry}")
        observed: dict = {}
        for name, model in list(self._models.items()):
            if not (initial or model.store.watched):
                continue
            entries = model.store.entries(model.path)
            if entries is None:
                if initial and self._dir is None:
                    raise ModelConfigError(f'{describe_model(name)}: path "{model.location}" '
                                           f"({model.path}) does not exist")
                continue
            if not entries and not model.store.is_file(model.path):
                if initial and self._dir is None:
                    raise ModelConfigError(f'{describe_model(name)}: folder "{model.location}" '
                                           "is empty")
                continue
            versions, problem = version_layout(entries)
            if problem is not None:
                message = f'{describe_model(name)}: "{model.location}" {problem}'
                if initial:
                    raise ModelConfigError(message)
                if message not in self._warned:
                    self._warned.add(message)
                    self._log(f"ignoring {message}; keeping what is loaded")
                observed[name] = None  # unknown: leave this model as it is
                continue
            try:
                if versions is None:
                    observed[name] = {None: model.store.fingerprint(model.path)}
                else:
                    observed[name] = {v: model.store.fingerprint(model.version_path(v))
                                      for v in versions}
            except OSError as e:  # changed while we looked: next poll
                if initial:
                    raise ModelConfigError(f"{describe_model(name)}: cannot read "
                                           f"{model.path}: {e}") from None
                observed[name] = None
        return observed

    def _load(self, model: _Model, version: int | None, fingerprint) -> Any:
        """Fetch (disk cache) and load one version; raises ModelLoadError with path and reason."""
        key = (model.name, version)
        source = model.version_path(version)
        with self._lock:
            self._busy.add(key)
        try:
            path = self._local_copy(model, version, fingerprint)
            try:
                return self._loader(path)
            except BaseException as e:
                reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                raise ModelLoadError(f"cannot load {describe_model(*key)} from {source}: "
                                     f"{reason}") from e
        finally:
            with self._lock:
                self._busy.discard(key)

    def _local_copy(self, model: _Model, version: int | None, fingerprint) -> str:
        source = model.version_path(version)
        if self._disk_cache_size is None or not model.store.watched:
            return model.store.in_place(source)
        key = (model.name, version)
        with self._lock:
            copy = self._copies.get(key)
            if copy is not None and copy[1] == fingerprint:
                self._disk.touch(key, pinned=self._busy.__contains__)
                return copy[0]
            self._copy_counter += 1
            folder = os.path.join(self._cache_dir, _safe(model.name) or "_default",
                                  f"{'_' if version is None else version}-{self._copy_counter}")
        destination = os.path.join(folder, os.path.basename(source.rstrip("/")))
        try:
            model.store.fetch(source, destination)
        except OSError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise ModelLoadError(f"cannot copy {describe_model(*key)} from {source} to the disk "
                                 f"cache: {e}") from None
        with self._lock:
            old = self._copies.get(key)
            self._copies[key] = (destination, fingerprint)
            evicted = self._disk.touch(key, pinned=self._busy.__contains__)
            stale = [old[0]] if old else []
            for other in evicted:
                dropped = self._copies.pop(other, None)
                if dropped:
                    stale.append(dropped[0])
        for path in stale:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        return destination

    def _keep(self, key, value) -> None:
        """Make ``value`` the loaded model of ``key`` (lock held); evict beyond cache_size."""
        self._loaded[key] = value
        for other in self._memory.touch(key, pinned=self._busy.__contains__):
            self._loaded.pop(other, None)
            self._log(f"evicted {describe_model(*other)} from memory (cache_size "
                      f"{self._cache_size})")

    def _add(self, name: str, version: int | None, fingerprint, initial: bool) -> None:
        """A new or changed version: load it first (unless lazy and not in memory), then swap."""
        model = self._models[name]
        key = (name, version)
        with self._lock:
            resident = key in self._loaded
            numbers = [v for v in model.versions if v is not None]
            # A new latest version of a model whose latest is in memory is loaded before it
            # becomes "latest", so that a failed load keeps the previous one serving (C29).
            replaces_resident_latest = (
                version is not None and bool(numbers) and version > max(numbers)
                and (name, max(numbers)) in self._loaded)
        if self._lazy and not resident and not replaces_resident_latest:
            with self._lock:
                model.versions[version] = fingerprint
                self._failed.pop(key, None)
                copy = self._copies.pop(key, None)
                self._disk.discard(key)
            self._set_problem(key, None)
            if copy:
                shutil.rmtree(os.path.dirname(copy[0]), ignore_errors=True)
            if not initial:
                self._log(f"found {describe_model(*key)} at {model.version_path(version)}")
            return
        try:
            value = self._load(model, version, fingerprint)
        except ModelLoadError as e:
            if initial:
                raise
            with self._lock:
                self._failed[key] = fingerprint
                kept = self._serving(name)
            self._log(f"{e}; {kept}")
            self._set_problem(key, (model.version_path(version), str(e)))
            return
        with self._lock:
            replaced = key in self._loaded
            model.versions[version] = fingerprint
            self._failed.pop(key, None)
            self._keep(key, value)
        del value  # the old object goes when the last request holding it finishes
        self._set_problem(key, None)
        if not initial:
            self._log(f"{'reloaded' if replaced else 'loaded'} {describe_model(*key)} from "
                      f"{model.version_path(version)}")

    def _set_problem(self, key, problem: tuple[str, str] | None) -> None:
        """Record (or clear, with None) the failed reload of ``key`` and publish the problems
        when they changed."""
        with self._lock:
            if problem is None:
                self._problems.pop(key, None)
            else:
                self._problems[key] = problem
        self._publish()

    def _publish(self) -> None:
        """Write ``problems()`` to ``status_path`` atomically (temporary file, then rename), when
        the text changed since the last write. An error is logged, never raised."""
        if self._status_path is None:
            return
        text = json.dumps({"problems": self.problems()}, separators=(",", ":"))
        if text == self._published:
            return
        temporary = f"{self._status_path}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(temporary, self._status_path)
            self._published = text
        except OSError as e:
            self._log(f"cannot write the model status to {self._status_path}: {e}")

    def _remove(self, name: str, version: int | None) -> None:
        key = (name, version)
        with self._lock:
            model = self._models[name]
            model.versions.pop(version, None)
            self._loaded.pop(key, None)
            self._memory.discard(key)
            self._failed.pop(key, None)
            self._problems.pop(key, None)
            copy = self._copies.pop(key, None)
            self._disk.discard(key)
            serving = self._serving(name)
        self._publish()  # also when another version's problem now names a new "serving" version
        if copy:
            shutil.rmtree(os.path.dirname(copy[0]), ignore_errors=True)
        self._log(f"removed {describe_model(*key)} ({model.version_path(version)} is gone); "
                  f"{serving}")

    def _serving(self, name: str) -> str:
        versions = self._models[name].versions
        if not versions:
            return f"{describe_model(name)} has no version left"
        numbers = sorted(v for v in versions if v is not None)
        latest = f"version {numbers[-1]}" if numbers else "the unversioned model"
        return f"serving {latest} of {describe_model(name)} as latest"

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.poll()
            except BaseException as e:  # the watcher must survive anything
                self._log(f"model watcher: {type(e).__name__}: {e}")


_MISSING = object()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
