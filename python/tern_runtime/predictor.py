"""Loading the user's ``PythonPredictor`` and calling its ``predict``.

The predictor file is imported under the fixed module name ``tern_predictor``. ``__init__``
gets ``config=`` when it declares ``config`` (or ``**kwargs``). ``predict``'s signature is
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
    """

    def __init__(self, instance: Any, predict: Callable[..., Any], accepts: list[str]):
        self.instance = instance
        self.predict = predict
        self.accepts = accepts
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


def load(project_dir: str, path: str, config: dict) -> Predictor:
    """Import the predictor file and construct ``PythonPredictor``.

    Args:
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        config: passed to ``__init__`` as ``config=`` when it declares it.

    Returns:
        The ready ``Predictor``.

    Raises:
        LoadError: the file is missing, its import raised, it defines no ``PythonPredictor``,
            ``__init__`` raised, or ``predict`` is missing or needs arguments Tern cannot pass.
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
    cls = getattr(module, CLASS_NAME, None)
    if not inspect.isclass(cls):
        raise LoadError(f"{path} defines no class {CLASS_NAME}")
    if not callable(getattr(cls, "predict", None)):
        raise LoadError(f"{CLASS_NAME} in {path} has no predict method")
    accepts = _accepted_arguments(cls)  # before __init__, which may take long
    try:
        instance = cls(**_init_arguments(cls, config))
    except BaseException as e:
        raise LoadError(f"{CLASS_NAME}.__init__ raised {describe_exception(e)}",
                        format_traceback(e)) from None
    return Predictor(instance, instance.predict, accepts)


def _init_arguments(cls: type, config: dict) -> dict:
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {"config": config}
    for p in parameters:
        if p.kind == p.VAR_KEYWORD or (p.name == "config" and p.kind in _BY_NAME):
            return {"config": config}
    return {}


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
