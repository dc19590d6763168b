"""What a manager keeps, and what it drops: the loaded models in memory (at most
``cache_size``) and the local copies of watched models on disk (at most ``disk_cache_size``),
each evicted least recently used first (``policy.LRU``). A model being fetched or loaded
(``busy``) is never evicted; a request that holds a model keeps it, since eviction only drops
the cache's reference.

The manager's lock guards every attribute: ``local_copy`` takes it itself (it copies files
outside it); every other method expects the caller to hold it.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any, Callable

from ..errors import ModelLoadError
from .catalog import ModelEntry
from .policy import LRU, describe_model


class ModelCache:
    """The loaded models and disk copies of one ``ModelManager``.

    Args:
        lock: the manager's lock (see the module documentation).
        cache_size: models kept in memory; None: all, loaded at start (not lazy).
        disk_cache_size: copies kept on disk; None: models are read in place.
        cache_dir: the folder of the disk copies.
        log: ``log(message)``, for evictions.

    Attributes:
        lazy: models are loaded on first use (``cache_size`` is set).
        loaded: (name, version) → the loaded model object.
        memory: the LRU order of ``loaded``.
        disk: the LRU order of ``copies``.
        copies: (name, version) → (local path, fingerprint) of a disk copy.
        busy: the keys being fetched or loaded (never evicted).
    """

    def __init__(self, lock: Any, *, cache_size: int | None, disk_cache_size: int | None,
                 cache_dir: str, log: Callable[[str], None]):
        self._lock = lock
        self._log = log
        self._cache_dir = cache_dir
        self._cache_size = cache_size
        self._disk_cache_size = disk_cache_size
        self._copy_counter = 0
        self.lazy = cache_size is not None
        self.loaded: dict = {}  # (name, version) -> model object
        self.memory = LRU(cache_size)
        self.disk = LRU(disk_cache_size)
        self.copies: dict = {}  # (name, version) -> (local path, fingerprint)
        self.busy: set = set()  # keys being fetched or loaded

    def keep(self, key, value) -> None:
        """Make ``value`` the loaded model of ``key`` (lock held); evict beyond cache_size."""
        self.loaded[key] = value
        for other in self.memory.touch(key, pinned=self.busy.__contains__):
            self.loaded.pop(other, None)
            self._log(f"evicted {describe_model(*other)} from memory (cache_size "
                      f"{self._cache_size})")

    def copy_path(self, key) -> str | None:
        """The local path of ``key``'s disk copy, or None when it has none (lock held)."""
        copy = self.copies.get(key)
        return None if copy is None else copy[0]

    def drop_copy(self, key) -> str | None:
        """Forget ``key``'s disk copy (lock held); returns its path for ``delete_copy``."""
        copy = self.copies.pop(key, None)
        self.disk.discard(key)
        return copy[0] if copy else None

    def drop(self, key) -> str | None:
        """Forget ``key`` in memory and on disk (lock held); returns the path of its disk copy
        for ``delete_copy``, or None."""
        self.loaded.pop(key, None)
        self.memory.discard(key)
        return self.drop_copy(key)

    @staticmethod
    def delete_copy(path: str) -> None:
        """Delete the folder of a disk copy (call without the lock; errors are ignored)."""
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)

    def local_copy(self, model: ModelEntry, version: int | None, fingerprint) -> str:
        """The local path to load ``model`` at ``version`` from: the path itself when it is read
        in place (no ``disk_cache_size``, or a project path), else its disk copy, fetched
        unless one with ``fingerprint`` exists; copies beyond ``disk_cache_size`` are deleted.

        Raises:
            ModelLoadError: the copy failed (the partial copy is deleted).
        """
        source = model.version_path(version)
        if self._disk_cache_size is None or not model.store.watched:
            return model.store.in_place(source)
        key = (model.name, version)
        with self._lock:
            copy = self.copies.get(key)
            if copy is not None and copy[1] == fingerprint:
                self.disk.touch(key, pinned=self.busy.__contains__)
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
            old = self.copies.get(key)
            self.copies[key] = (destination, fingerprint)
            evicted = self.disk.touch(key, pinned=self.busy.__contains__)
            stale = [old[0]] if old else []
            for other in evicted:
                dropped = self.copies.pop(other, None)
                if dropped:
                    stale.append(dropped[0])
        for path in stale:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        return destination


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
