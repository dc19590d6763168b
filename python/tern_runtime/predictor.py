"""Loading the user's ``PythonPredictor`` and calling its ``predict``.

The predictor file is imported under the fixed module name ``tern_predictor``. ``__init__``
gets ``config=`` when it declares ``config`` (or ``**kwargs``), and ``python_client=`` (a
``PythonClient``) when it declares ``python_client`` (or ``**kwargs``). With
``predictor.models``, the class must define ``load_model(self, model_path)``: after ``__init__``
returns, a ``models.ModelManager`` loads the models with it, and ``python_client.get_model``
serves them. ``predict``'s signature is
inspected once, here: it is later called with, by name, only those of ``payload``,
``query_params`` and ``headers`` that it declares (all three for ``**kwargs``).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from typing import Any, Callable

from .models import ModelConfigError, ModelLoadError, ModelManager, ModelNotFound

MODULE_NAME = "tern_predictor"
CLASS_NAME = "PythonPredictor"
ARGUMENTS = ("payload", "query_params", "headers")

_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class LoadError(Exception):
    """The predictor could not be loaded (the runtime exits with code 3).

    Attributes:
        message: one line saying what failed.
        details: a formatted traceback, or ``""`` when the message says it all.
    """

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.message = message
        self.details = details


class Predictor:
    """A constructed ``PythonPredictor`` and how to call its ``predict``.

    Attributes:
        instance: the user's object.
        accepts: the names among ``payload``, ``query_params``, ``headers`` that ``predict``
            takes, in that order (the ``accepts`` list of ``hello``).
        wants_payload, wants_query, wants_headers: the same, as booleans.
        predict: the bound ``predict`` method; call it with keyword arguments only.
        manager: the ``ModelManager`` of ``predictor.models``, or None.
        onnx_client: the ONNX client (type ``onnx``), or None.
        batched: the API has ``server_side_batching``: ``predict`` takes lists (one element per
            request) and returns a list (set by the worker from the spec; default False).
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


def prepare_paths(project_dir: str, python_path: str | None) -> None:
    """Make ``project_dir`` the working directory and put ``python_path`` (relative to
    ``project_dir``; first) and ``project_dir`` at the front of ``sys.path``."""
    os.chdir(project_dir)
    front = [project_dir]
    if python_path:
        front.insert(0, os.path.normpath(os.path.join(project_dir, python_path)))
    sys.path[:0] = front


class PythonClient:
    """``python_client``, given to ``PythonPredictor.__init__``: the predictor's models.

    Models are loaded after ``__init__`` returns, so ``get_model`` works from ``predict`` on.
    """

    def __init__(self):
        self._manager: ModelManager | None = None

    def get_model(self, model_name: str | None = None, model_version: str | int = "latest") -> Any:
        """What ``load_model`` returned for ``model_name`` at ``model_version`` (``"latest"``,
        an int or a numeric string; the single ``models.path`` model needs no name).

        Raises:
            ModelNotFound: unknown model or version (the request is answered 404).
            ModelLoadError: the model had to be loaded (caching) and loading failed.
            RuntimeError: called from ``__init__``, or the API has no ``predictor.models``.
        """
        if self._manager is None:
            raise RuntimeError("python_client.get_model: models are loaded after __init__ "
                               "returns, and only when predictor.models is set")
        return self._manager.get(model_name, model_version)

    def get_model_names(self) -> list[str]:
        """The available model names, sorted."""
        return self._manager.names() if self._manager else []

    def get_model_versions(self, model_name: str | None = None) -> list[int]:
        """The available versions of ``model_name``, ascending (``[]``: unversioned)."""
        if self._manager is None:
            raise ModelNotFound("this API has no predictor.models")
        return self._manager.versions(model_name)


def load(project_dir: str, path: str, config: dict, *, kind: str = "python",
         models: dict | None = None, cache_dir: str | None = None,
         status_path: str | None = None) -> Predictor:
    """Import the predictor file, construct ``PythonPredictor`` and load its models.

    Args:
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        config: passed to ``__init__`` as ``config=`` when it declares it.
        kind: ``predictor.type`` (``"python"`` or ``"onnx"``).
        models: ``predictor.models`` or None (see ``models.ModelManager``).
        cache_dir: the worker's disk cache of models (needed with ``models``).
        status_path: where the ``ModelManager`` publishes failed reloads (None: nowhere).

    Returns:
        The ready ``Predictor``.

    Raises:
        LoadError: the file is missing, its import raised, it defines no ``PythonPredictor``,
            ``__init__`` raised, ``predict`` is missing or needs arguments Tern cannot pass,
            ``models`` is set without a ``load_model`` method, or a model failed to load.
    """
    # --- ONNX dispatch (helper B's onnx.py) ---
    if kind == "onnx":
        from . import onnx
        return onnx.load_predictor(project_dir, path, config, models=models, cache_dir=cache_dir,
                                   status_path=status_path)
    # --- end ONNX dispatch ---
    cls = import_predictor_class(project_dir, path, CLASS_NAME)
    accepts = _accepted_arguments(cls)  # before __init__, which may take long
    if models is not None and not callable(getattr(cls, "load_model", None)):
        raise LoadError(f"{CLASS_NAME} in {path} has no load_model(self, model_path) method; "
                        "predictor.models needs one: Tern calls it to load each model")
    client = PythonClient()
    try:
        instance = cls(**_init_arguments(cls, config, client))
    except BaseException as e:
        raise LoadError(f"{CLASS_NAME}.__init__ raised {describe_exception(e)}",
                        format_traceback(e)) from None
    manager = None
    if models is not None:
        try:
            manager = ModelManager(models, project_dir, instance.load_model,
                                   cache_dir=cache_dir or os.path.join(project_dir, ".tern-models"),
                                   status_path=status_path)
        except (ModelConfigError, ModelLoadError) as e:
            raise LoadError(f"predictor.models: {e}") from None
        client._manager = manager
    return Predictor(instance, instance.predict, accepts, manager=manager)


def import_predictor_class(project_dir: str, path: str, class_name: str, note: str = "") -> type:
    """Import the predictor file as module ``tern_predictor`` and return its ``class_name``.

    Args:
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        class_name: ``PythonPredictor`` or ``ONNXPredictor``.
        note: appended to the "defines no class" message, e.g. ``" (predictor.type is onnx)"``.

    Raises:
        LoadError: the file is missing, its import raised, it defines no such class, or the
            class has no ``predict`` method.
    """
    file = os.path.join(project_dir, path)
    if not os.path.isfile(file):
        raise LoadError(f"predictor file not found: {file} (predictor.path is {path!r})")
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
    if not callable(getattr(cls, "predict", None)):
        raise LoadError(f"{class_name} in {path} has no predict method")
    return cls


def _init_arguments(cls: type, config: dict, client: PythonClient) -> dict:
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return {"config": config}
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return {"config": config, "python_client": client}
    named = {p.name for p in parameters if p.kind in _BY_NAME}
    arguments = {"config": config, "python_client": client}
    return {name: value for name, value in arguments.items() if name in named}


def _accepted_arguments(cls: type) -> list[str]:
    try:
        parameters = list(inspect.signature(cls.predict).parameters.values())
    except (TypeError, ValueError) as e:
        raise LoadError(f"cannot inspect {CLASS_NAME}.predict: {e}") from None
    if not isinstance(inspect.getattr_static(cls, "predict"), (staticmethod, classmethod)):
        parameters = parameters[1:]  # self
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return list(ARGUMENTS)
    named = {p.name for p in parameters if p.kind in _BY_NAME}
    for p in parameters:
        required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if required and not (p.name in ARGUMENTS and p.name in named):
            raise LoadError(
                f"{CLASS_NAME}.predict requires a parameter {p.name!r} that Tern cannot pass; "
                "predict may take payload, query_params and headers (by name)"
            )
    return [name for name in ARGUMENTS if name in named]


def describe_exception(error: BaseException) -> str:
    """``"<ExceptionClass>: <message>"``, or the class name alone when the message is empty.
    Never raises, and the result is valid Unicode (lone surrogates replaced)."""
    name = type(error).__name__
    try:
        message = str(error)
    except BaseException:
        message = "<unprintable message>"
    text = f"{name}: {message}" if message else name
    return text.encode("utf-8", "replace").decode("utf-8")


_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def format_traceback(error: BaseException) -> str:
    """The traceback of ``error`` as text, without the runtime's and importlib's own leading
    frames, so that it starts in the user's code."""
    tb = error.__traceback__
    while tb is not None and _is_runtime_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def _is_runtime_frame(filename: str) -> bool:
    return filename.startswith(_RUNTIME_DIR) or filename.startswith("<frozen importlib")
