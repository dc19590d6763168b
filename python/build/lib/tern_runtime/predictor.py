"""Loading the user's predictor: ``LOADERS`` maps ``predictor.type`` to its loader, and
``load`` calls the one the spec names.

Each loader imports the predictor file under the fixed module name ``tern_predictor``,
constructs the user's class, loads its models and returns a ``Predictor``; ``predict`` is later
called with, by name, only those of ``payload``, ``query_params`` and ``headers`` that it
declares (all three for ``**kwargs``). The types:

- ``python``: ``PythonPredictor`` with ``python_client`` (``python_predictor``);
- ``onnx``: ``ONNXPredictor`` with ``onnx_client`` on onnxruntime (``onnx``).

A new type is one entry in ``LOADERS``; ``spec.parse`` accepts exactly its keys.

The names other modules and tests import from here (``LoadError``, ``Predictor``,
``PythonClient``, ``prepare_paths``, ``describe_exception``, ``format_traceback``, …) are
re-exported from the modules that define them.
"""

from __future__ import annotations

from typing import Callable

from . import onnx, python_predictor
from .errors import LoadError, describe_exception, format_traceback
from .loading import MODULE_NAME, Predictor, import_predictor_class, prepare_paths
from .python_predictor import CLASS_NAME, PythonClient
from .signature import ARGUMENTS, accepted_arguments

__all__ = [
    "ARGUMENTS", "CLASS_NAME", "LOADERS", "LoadError", "Loader", "MODULE_NAME", "Predictor",
    "PythonClient", "accepted_arguments", "describe_exception", "format_traceback",
    "import_predictor_class", "load", "prepare_paths",
]

#: ``loader(project_dir, path, config, *, models, cache_dir, status_path) -> Predictor``; raises
#: ``LoadError`` for anything that keeps the predictor from serving.
Loader = Callable[..., Predictor]

#: ``predictor.type`` → its loader, in the order messages list the types.
LOADERS: dict[str, Loader] = {
    "python": python_predictor.load,
    "onnx": onnx.load_predictor,
}


def load(project_dir: str, path: str, config: dict, *, kind: str = "python",
         models: dict | None = None, cache_dir: str | None = None,
         status_path: str | None = None) -> Predictor:
    """Load the predictor of type ``kind`` through its entry in ``LOADERS``.

    Args:
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        config: passed to ``__init__`` as ``config=`` when it declares it.
        kind: ``predictor.type``, a key of ``LOADERS`` (``"python"`` or ``"onnx"``).
        models: ``predictor.models`` or None (see ``models.ModelManager``).
        cache_dir: the worker's disk cache of models (needed with ``models``).
        status_path: where the ``ModelManager`` publishes failed reloads (None: nowhere).

    Returns:
        The ready ``Predictor``.

    Raises:
        LoadError: ``kind`` has no loader (``spec.parse`` refuses such a spec first), or the
            loader failed: the file is missing, its import raised, it defines no such class,
            ``__init__`` raised, ``predict`` is missing or needs arguments Tern cannot pass,
            or a model failed to load (see each loader).
    """
    loader = LOADERS.get(kind) if isinstance(kind, str) else None
    if loader is None:
        raise LoadError(f"predictor.type {kind!r} has no loader in this runtime "
                        f"({', '.join(LOADERS)})")
    return loader(project_dir, path, config, models=models, cache_dir=cache_dir,
                  status_path=status_path)
