"""Which arguments a user's class takes: ``predict``'s (``payload``, ``query_params``,
``headers``) and ``__init__``'s (``config``, ``python_client``, ``onnx_client``).

Every predictor type uses the same rules: an argument is passed by name, and only when the
method declares it (or takes ``**kwargs``, which gets them all). Inspected once, at load time.
"""

from __future__ import annotations

import inspect

from .errors import LoadError

#: What ``predict`` may take, in the order of ``hello``'s ``accepts`` list.
ARGUMENTS = ("payload", "query_params", "headers")

_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def accepted_arguments(cls: type, class_name: str = "PythonPredictor") -> list[str]:
    """The names among ``ARGUMENTS`` that ``cls.predict`` declares by name, in that order (all
    three when it takes ``**kwargs``). ``self`` is skipped unless ``predict`` is a static or
    class method.

    Args:
        cls: the user's class (it has a ``predict`` attribute).
        class_name: how messages name the class (``PythonPredictor``, ``ONNXPredictor``).

    Raises:
        LoadError: ``predict``'s signature cannot be inspected, or it requires a parameter
            Tern cannot pass (not one of ``ARGUMENTS``, or one of them positional-only).
    """
    try:
        parameters = list(inspect.signature(cls.predict).parameters.values())
    except (TypeError, ValueError) as e:
        raise LoadError(f"cannot inspect {class_name}.predict: {e}") from None
    if not isinstance(inspect.getattr_static(cls, "predict"), (staticmethod, classmethod)):
        parameters = parameters[1:]  # self
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return list(ARGUMENTS)
    named = {p.name for p in parameters if p.kind in _BY_NAME}
    for p in parameters:
        required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if required and not (p.name in ARGUMENTS and p.name in named):
            raise LoadError(
                f"{class_name}.predict requires a parameter {p.name!r} that Tern cannot pass; "
                "predict may take payload, query_params and headers (by name)"
            )
    return [name for name in ARGUMENTS if name in named]


def init_arguments(cls: type, offered: dict, uninspectable: dict | None = None) -> dict:
    """The keyword arguments to construct ``cls`` with: those of ``offered`` (name → value)
    that ``cls.__init__`` declares by name, or all of them when it takes ``**kwargs``.

    Args:
        cls: the user's class.
        offered: every argument the predictor type can give, in the order to pass them.
        uninspectable: what to pass when the signature cannot be inspected (default:
            ``offered``).

    Never raises.
    """
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return offered if uninspectable is None else uninspectable
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return offered
    named = {p.name for p in parameters if p.kind in _BY_NAME}
    return {name: value for name, value in offered.items() if name in named}
