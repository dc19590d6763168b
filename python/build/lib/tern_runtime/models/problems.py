"""Model problems: the versions whose reload failed and have not loaded since, and their
publication to ``status_path`` for the supervisor, which shows them in the API's status.

The manager's lock guards ``failed`` and the problems: ``current`` and ``set`` take it
themselves, ``forget`` and ``forget_gone`` expect the caller to hold it; ``publish`` is called
without it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable


class ModelProblems:
    """The failed reloads of one ``ModelManager``.

    Args:
        lock: the manager's lock (see the module documentation).
        status_path: where to publish ``current()`` as ``{"problems": [...]}``; None: nowhere.
        log: ``log(message)``, for a status file that cannot be written.
        serving: ``serving(name)``, what the model serves now (ends each problem's message).

    Attributes:
        failed: (name, version) → the fingerprint that failed to load; a reload is not tried
            again until the fingerprint changes.
    """

    def __init__(self, lock: Any, status_path: str | None, log: Callable[[str], None],
                 serving: Callable[[str], str]):
        self._lock = lock
        self._status_path = status_path
        self._log = log
        self._serving = serving
        self._problems: dict = {}  # key -> (path, ModelLoadError text) of a failed reload
        self._published: str | None = None  # the text last written to status_path
        self.failed: dict = {}  # key -> fingerprint that failed to load

    def current(self) -> list[dict]:
        """The problems sorted by model and version, as ``ModelManager.problems`` returns them."""
        with self._lock:
            return [{"model": name, "version": version, "path": path,
                     "message": f"{error}; {self._serving(name)}"}
                    for (name, version), (path, error) in sorted(
                        self._problems.items(), key=lambda item: (item[0][0], item[0][1] or 0))]

    def set(self, key, problem: tuple[str, str] | None) -> None:
        """Record ``(path, message)`` as the failed reload of ``key``, or clear it with None,
        and publish the problems when they changed."""
        with self._lock:
            if problem is None:
                self._problems.pop(key, None)
            else:
                self._problems[key] = problem
        self.publish()

    def forget(self, key) -> None:
        """Drop ``key``'s problem and failed fingerprint (lock held; publish afterwards)."""
        self.failed.pop(key, None)
        self._problems.pop(key, None)

    def forget_gone(self, observed: dict) -> bool:
        """Drop the problems of versions missing from ``observed`` (a scan: a model missing
        from it is gone; None means "cannot tell now"); lock held. Returns True when any was
        dropped (publish afterwards)."""
        gone = [key for key in self._problems
                if observed.get(key[0], {}) is not None and key[1] not in observed.get(key[0], {})]
        for key in gone:
            self._problems.pop(key, None)
            self.failed.pop(key, None)
        return bool(gone)

    def publish(self) -> None:
        """Write ``current()`` to ``status_path`` atomically (temporary file, then rename), when
        the text changed since the last write. An error is logged, never raised."""
        if self._status_path is None:
            return
        text = json.dumps({"problems": self.current()}, separators=(",", ":"))
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
