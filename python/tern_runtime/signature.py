"""Which arguments a user's class takes: ``predict``'s (``payload``, ``query_params``,
``headers``), ``post_predict``'s (``response`` and the same three) and ``__init__``'s
(``config``, ``python_client``, ``onnx_client``).

Every predictor type uses the same rules: an argument is passed by name, and only when the
method declares it (or takes ``**kwargs``, which gets them all). Inspected once, at load time.
"""

from __future__ import annotations

import inspect

from .errors import LoadError

#: What ``predict`` may take, in the order of ``hello``'s ``accepts`` list.
ARGUMENTS = ("payload", "query_params", "headers")

#: What ``post_predict`` may take (Cortex 0.25): what ``predict`` returned, and its arguments.
POST_PREDICT_ARGUMENTS = ("response", "payload", "query_params", "headers")

_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def accepted_arguments(cls: type, class_name: str = "PythonPredictor", method: str = "predict",
                       allowed: tuple[str, ...] = ARGUMENTS) -> list[str]:
    """The names among ``allowed`` that ``cls.<method>`` declares by name, in that order (all
    of them when it takes ``**kwargs``). ``self`` is skipped unless the method is a static or
    class method.

    Args:
        cls: the user's class (it has a ``method`` attribute).
        class_name: how messages name the class (``PythonPredictor``, ``ONNXPredictor``).
        method: ``predict`` or ``post_predict``.
        allowed: ``ARGUMENTS`` or ``POST_PREDICT_ARGUMENTS``.

    Raises:
        LoadError: the signature cannot be inspected, or the method requires a parameter
            Tern cannot pass (not one of ``allowed``, or one of them positional-only).
    """
    try:
        parameters = list(inspect.signature(getattr(cls, method)).parameters.values())
    except (TypeError, ValueError) as e:
        raise LoadError(f"cannot inspect {class_name}.{method}: {e}") from None
    if not isinstance(inspect.getattr_static(cls, method), (staticmethod, classmethod)):
        parameters = parameters[1:]  # self
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return list(allowed)
    named = {p.name for p in parameters if p.kind in _BY_NAME}
    for p in parameters:
        required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if required and not (p.name in allowed and p.name in named):
            raise LoadError(
                f"{class_name}.{method} requires a parameter {p.name!r} that Tern cannot pass; "
                f"{method} may take {', '.join(allowed[:-1])} and {allowed[-1]} (by name)"
            )
    return [name for name in allowed if name in named]


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
