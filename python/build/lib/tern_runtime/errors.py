"""The errors that cross module boundaries, and how the runtime describes an exception.

- ``LoadError``: a predictor could not be loaded (raised by every loader, the runtime then exits
  with code 3).
- ``ModelNotFound``, ``ModelLoadError``, ``ModelConfigError``: raised by ``models`` and caught by
  the loaders (start-up) and the server (``ModelNotFound`` is answered 404). They are public as
  ``tern_runtime.models.<Name>`` (docs/replica-protocol.md names that path), which is also the
  name a traceback in the replica's log shows for them.
- ``describe_exception`` and ``format_traceback``: the one-line and the full text of an
  exception, as the runtime logs and answers them.

Errors that only one module raises and catches stay in that module (``SpecError``,
``FrameError``, ``PayloadError``, ``BatchError``, ``v2.V2Error``). Imports nothing of the runtime.
"""

from __future__ import annotations

import os
import traceback


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


class ModelNotFound(KeyError):
    """No such model, or no such version; ``str(e)`` is the precise message (answered 404
    ``model_not_found`` by the runtime)."""

    __module__ = "tern_runtime.models"  # its public home; tracebacks in replica logs name it so

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ModelLoadError(Exception):
    """A model could not be fetched or loaded; ``str(e)`` names the model, the path and the
    reason."""

    __module__ = "tern_runtime.models"


class ModelConfigError(Exception):
    """``predictor.models`` cannot be served (unknown scheme, missing path, malformed version
    folders) at start; ``str(e)`` says which path and why."""

    __module__ = "tern_runtime.models"


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


# The package folder: frames of any runtime module (subpackages included) start with it.
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
