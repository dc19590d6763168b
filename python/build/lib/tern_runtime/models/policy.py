"""The pure decisions about models: names in messages, version folder layouts, which version a
request means, least-recently-used eviction order, and when an observed change has settled.

No I/O and no clock: time is passed in (python/tests/test_models.py).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Callable, Iterable

from ..errors import ModelNotFound

#: the name of the single model of ``models.path``
DEFAULT_NAME = ""

_VERSION = re.compile(r"(0|[1-9][0-9]*)")
# Looks like a version but is not one Tern accepts: v1, V2, 1.5, -1, +3, 01, 1_0, 2.0.1
_VERSION_LIKE = re.compile(r"[vV]?[-+]?[0-9]+([._][0-9]+)*")


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
