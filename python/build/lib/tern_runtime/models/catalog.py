"""Which models a manager serves and where they are: the names and locations of
``predictor.models``, the versions accepted so far, and the scan of those locations.

The manager's lock guards ``Catalog.models`` and every ``ModelEntry.versions``: ``scan`` takes
it where it adds the models found in a ``dir``; every other method expects the caller to hold
it.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..errors import ModelConfigError, ModelNotFound
from .policy import DEFAULT_NAME, describe_model, version_layout
from .stores import FileStore, open_location


class ModelEntry:
    """One model name: its store, location and the versions accepted so far.

    Attributes:
        name: the model's name (``DEFAULT_NAME`` for the single ``models.path`` model).
        store: the store it is read from.
        path: its local or absolute path in that store.
        location: the location as the spec gives it (for messages).
        versions: version (int, or None for an unversioned model) → fingerprint, of the
            versions the manager serves.
    """

    def __init__(self, name: str, store: FileStore, path: str, location: str):
        self.name = name
        self.store = store
        self.path = path
        self.location = location
        self.versions: dict = {}  # version (int | None) -> fingerprint

    def version_path(self, version: int | None) -> str:
        """The path of ``version`` (the model's own path for None)."""
        return self.path if version is None else os.path.join(self.path, str(version))


class Catalog:
    """The models of ``predictor.models`` (see ``ModelManager``) and their scan.

    Args:
        models: the spec's ``predictor.models`` (one of ``path``, ``paths``, ``dir``).
        project_dir: absolute project directory (project paths are relative to it).
        lock: the manager's lock (see the module documentation).
        log: ``log(message)``, for malformed folders found after the start.

    Attributes:
        models: name → ``ModelEntry``; a ``dir`` gains entries as folders appear in it.

    Raises:
        ModelConfigError: an unknown scheme, a ``file://`` URL that is not absolute, a missing
            ``dir``, or none of ``path``, ``paths``, ``dir``.
    """

    def __init__(self, models: dict, project_dir: str, lock: Any, log: Callable[[str], None]):
        self._lock = lock
        self._log = log
        self._warned: set = set()
        self._dir: tuple[FileStore, str, str] | None = None
        self.models: dict[str, ModelEntry] = {}
        if "dir" in models:
            store, path = open_location(models["dir"], project_dir)
            if store.entries(path) is None:
                raise ModelConfigError(f'models.dir "{models["dir"]}": {path} does not exist')
            self._dir = (store, path, models["dir"])
        elif "paths" in models:
            for item in models["paths"]:
                store, path = open_location(item["path"], project_dir)
                self.models[item["name"]] = ModelEntry(item["name"], store, path, item["path"])
        elif "path" in models:
            store, path = open_location(models["path"], project_dir)
            self.models[DEFAULT_NAME] = ModelEntry(DEFAULT_NAME, store, path, models["path"])
        else:
            raise ModelConfigError("models needs one of path, paths or dir")

    def watched(self) -> bool:
        """True when some location can change (a ``file://`` one), so it must be polled."""
        if self._dir is not None:
            return self._dir[0].watched
        return any(m.store.watched for m in self.models.values())

    def names(self) -> list[str]:
        """The names of the models that have a version, sorted."""
        return sorted(name for name, m in self.models.items() if m.versions)

    def model(self, name: str | None) -> ModelEntry:
        """The entry of ``name``; None means the single model (``DEFAULT_NAME``, or the only
        one with versions).

        Raises:
            ModelNotFound: no such model (or it has no version), or None with several models.
        """
        if name is None:
            available = [n for n, m in self.models.items() if m.versions]
            if DEFAULT_NAME in self.models:
                return self.models[DEFAULT_NAME]
            if len(available) == 1:
                return self.models[available[0]]
            raise ModelNotFound("give a model name (models: " + ", ".join(sorted(available)) + ")")
        model = self.models.get(name)
        if model is None or not model.versions:
            available = sorted(n for n, m in self.models.items() if m.versions)
            shown = ", ".join(f'"{n}"' if n else '"" (the single model)' for n in available)
            raise ModelNotFound(f'no model named "{name}" (models: {shown or "none"})')
        return model

    def serving(self, name: str) -> str:
        """What ``name`` serves as latest, for messages: ``serving version 2 of model "m" as
        latest``, or that no version is left."""
        versions = self.models[name].versions
        if not versions:
            return f"{describe_model(name)} has no version left"
        numbers = sorted(v for v in versions if v is not None)
        latest = f"version {numbers[-1]}" if numbers else "the unversioned model"
        return f"serving {latest} of {describe_model(name)} as latest"

    def scan(self, initial: bool) -> dict:
        """name -> {version -> fingerprint} of every model location (watched ones only after the
        start); None for a model that cannot be read now (left as it is). Malformed folders raise
        at start and are logged once (and ignored) later.

        Raises:
            ModelConfigError: at start (``initial``), a missing or empty path, malformed version
                folders, or a location that cannot be read.
        """
        if self._dir is not None:
            store, path, location = self._dir
            if initial or store.watched:
                entries = store.entries(path) or []
                with self._lock:
                    for entry, is_folder in entries:
                        if is_folder and not entry.startswith(".") and entry not in self.models:
                            self.models[entry] = ModelEntry(entry, store, os.path.join(path, entry),
                                                            f"{location.rstrip('/')}/{entry}")
        observed: dict = {}
        for name, model in list(self.models.items()):
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
