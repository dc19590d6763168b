"""What every predictor type's loader shares: the search path of the user's code, importing the
predictor file, and the ``Predictor`` a loader returns.

The predictor file is imported under the fixed module name ``tern_predictor``. The loaders
themselves are ``python_predictor.load`` and ``onnx.load_predictor``; ``predictor.load`` picks
one by ``predictor.type``.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from typing import Any, Callable

from .errors import LoadError, describe_exception, format_traceback
from .models import ModelManager
from .responses import install_fallback
from .signature import ARGUMENTS, POST_PREDICT_ARGUMENTS, accepted_arguments

MODULE_NAME = "tern_predictor"


class Predictor:
    """A constructed user predictor and how to call its ``predict``.

    Attributes:
        instance: the user's object.
        accepts: the names among ``payload``, ``query_params``, ``headers`` that ``predict``
            takes, in that order.
        wants_payload, wants_query, wants_headers: the same, as booleans.
        predict: the bound ``predict`` method; call it with keyword arguments only.
        manager: the ``ModelManager`` of ``predictor.models``, or None.
        onnx_client: the ONNX client (type ``onnx``), or None.
        batched: the API has ``server_side_batching``: ``predict`` takes lists (one element per
            request) and returns a list (set by the worker from the spec; default False).
        post_predict: the bound ``post_predict`` method (Cortex 0.25: called after the answer
            is sent, with what ``predict`` returned as ``response``), or None.
        post_accepts: the names among ``POST_PREDICT_ARGUMENTS`` that ``post_predict`` takes.
        hello_accepts: what the gateway must send (the ``accepts`` of ``hello``): the names
            among ``ARGUMENTS`` that ``predict`` or ``post_predict`` takes.

    Raises:
        LoadError: ``post_predict`` requires a parameter Tern cannot pass.
    """

    def __init__(self, instance: Any, predict: Callable[..., Any], accepts: list[str],
                 manager: ModelManager | None = None, onnx_client: Any = None):
        self.instance = instance
        self.predict = predict
        self.accepts = accepts
        self.manager = manager
        self.onnx_client = onnx_client
        self.batched = False
        self.wants_payload = "payload" in accepts
        self.wants_query = "query_params" in accepts
        self.wants_headers = "headers" in accepts
        self.post_predict = None
        self.post_accepts: list[str] = []
        if callable(getattr(type(instance), "post_predict", None)):
            self.post_accepts = accepted_arguments(
                type(instance), type(instance).__name__, "post_predict", POST_PREDICT_ARGUMENTS)
            self.post_predict = instance.post_predict
        wanted = set(accepts) | set(self.post_accepts)
        self.hello_accepts = [name for name in ARGUMENTS if name in wanted]


def prepare_paths(project_dir: str, python_path: str | None) -> None:
    """Make ``project_dir`` the working directory and put ``python_path`` (relative to
    ``project_dir``; first) and ``project_dir`` at the front of ``sys.path``."""
    os.chdir(project_dir)
    front = [project_dir]
    if python_path:
        front.insert(0, os.path.normpath(os.path.join(project_dir, python_path)))
    sys.path[:0] = front


def import_predictor_class(project_dir: str, path: str, class_name: str, note: str = "",
                           method: str = "predict") -> type:
    """Import the predictor file as module ``tern_predictor`` and return its ``class_name``.

    Args:
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        class_name: ``PythonPredictor`` or ``ONNXPredictor``.
        note: appended to the "defines no class" message, e.g. ``" (predictor.type is onnx)"``.
        method: the method the class must have (``predict``; a TaskAPI's ``Task``: ``__call__``).

    Raises:
        LoadError: the file is missing, its import raised, it defines no such class, or the
            class has no ``method``.
    """
    file = os.path.join(project_dir, path)
    if not os.path.isfile(file):
        raise LoadError(f"predictor file not found: {file} (predictor.path is {path!r})")
    install_fallback()  # starlette.responses for Cortex predictors, when Starlette is absent
    try:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        spec.loader.exec_module(module)
    except BaseException as e:
        sys.modules.pop(MODULE_NAME, None)
        raise LoadError(f"importing {path} raised {describe_exception(e)}",
                        format_traceback(e)) from None
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        raise LoadError(f"{path} defines no class {class_name}{note}")
    # Looked up in the class's own MRO: every class inherits a ``__call__`` from ``type``.
    defined = next((vars(k)[method] for k in cls.__mro__ if k is not object and method in vars(k)),
                   None)
    if not callable(defined) and not isinstance(defined, (staticmethod, classmethod)):
        raise LoadError(f"{class_name} in {path} has no {method} method")
    return cls
