"""``predictor.type: python``: the user's ``PythonPredictor`` (Cortex-compatible).

``__init__`` gets ``config=`` when it declares ``config`` (or ``**kwargs``), and
``python_client=`` (a ``PythonClient``) when it declares ``python_client`` (or ``**kwargs``).
With ``predictor.models``, the class must define ``load_model(self, model_path)``: after
``__init__`` returns, a ``models.ModelManager`` loads the models with it, and
``python_client.get_model`` serves them. ``predict``'s signature is inspected once, here (see
``signature``).
"""

from __future__ import annotations

import os
from typing import Any

from .errors import (
    LoadError, ModelConfigError, ModelLoadError, ModelNotFound, describe_exception,
    format_traceback,
)
from .loading import Predictor, import_predictor_class
from .models import ModelManager
from .signature import accepted_arguments, init_arguments

CLASS_NAME = "PythonPredictor"


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
        """The available versions of ``model_name``, ascending (``[]``: unversioned).

        Raises:
            ModelNotFound: unknown model, or the API has no ``predictor.models``.
        """
        if self._manager is None:
            raise ModelNotFound("this API has no predictor.models")
        return self._manager.versions(model_name)


def load(project_dir: str, path: str, config: dict, *, models: dict | None = None,
         cache_dir: str | None = None, status_path: str | None = None) -> Predictor:
    """Import the predictor file, construct ``PythonPredictor`` and load its models.

    Args:
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        config: passed to ``__init__`` as ``config=`` when it declares it.
        models: ``predictor.models`` or None (see ``models.ModelManager``).
        cache_dir: the worker's disk cache of models (default ``<project_dir>/.tern-models``).
        status_path: where the ``ModelManager`` publishes failed reloads (None: nowhere).

    Returns:
        The ready ``Predictor`` (``manager`` set with ``models``).

    Raises:
        LoadError: the file is missing, its import raised, it defines no ``PythonPredictor``,
            ``__init__`` raised, ``predict`` is missing or needs arguments Tern cannot pass,
            ``models`` is set without a ``load_model`` method, or a model failed to load.
    """
    cls = import_predictor_class(project_dir, path, CLASS_NAME)
    accepts = accepted_arguments(cls, CLASS_NAME)  # before __init__, which may take long
    if models is not None and not callable(getattr(cls, "load_model", None)):
        raise LoadError(f"{CLASS_NAME} in {path} has no load_model(self, model_path) method; "
                        "predictor.models needs one: Tern calls it to load each model")
    client = PythonClient()
    try:
        instance = cls(**init_arguments(cls, {"config": config, "python_client": client},
                                        uninspectable={"config": config}))
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
