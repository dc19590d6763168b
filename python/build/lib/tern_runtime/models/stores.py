"""Where models are read from: ``SCHEMES`` maps a URL scheme (``""`` for a path in the project)
to a store, and ``open_location`` resolves a model location of the spec to a store and a path.

A store for another scheme (say ``s3``) implements ``FileStore``'s methods.
"""

from __future__ import annotations

import os
import shutil
from typing import Callable

from ..errors import ModelConfigError


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
