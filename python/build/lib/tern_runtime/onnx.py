"""``predictor.type: onnx``: the user's ``ONNXPredictor(onnx_client, config)`` on onnxruntime
(docs/onnx.md).

As in Cortex, the predictor file defines ``class ONNXPredictor`` whose ``__init__`` takes
``onnx_client`` and ``config`` (by name, each only if declared) and whose ``predict`` takes
``payload``, ``query_params``, ``headers`` (the same rules as ``PythonPredictor``). The
``OnnxClient`` runs the models of ``predictor.models`` (one ``.onnx`` file, or a folder holding
one, with numeric version folders; see ``models.ModelManager``), one
``onnxruntime.InferenceSession`` per model version.

onnxruntime is imported when the replica loads; without it the replica fails to load with a
message saying to add it to ``requirements.txt`` (the API shows ``error (init failed)``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .errors import (
    LoadError, ModelConfigError, ModelLoadError, describe_exception, format_traceback,
)
from .loading import Predictor, import_predictor_class
from .models import ModelManager
from .signature import accepted_arguments, init_arguments
from .v2.datatypes import DATATYPES, ONNX_DATATYPES
from .v2.tensors import TensorSpec

CLASS_NAME = "ONNXPredictor"


def import_onnxruntime() -> Any:
    """The ``onnxruntime`` module.

    Raises:
        LoadError: it is not installed in this Python (or fails to import); the message says
            which Python and what to add to ``requirements.txt``.
    """
    try:
        import onnxruntime
    except ImportError as e:
        raise LoadError(
            "predictor.type onnx needs the onnxruntime package in the replica's Python "
            f"({sys.executable}), and importing it failed ({describe_exception(e)}); add "
            "onnxruntime to the project's requirements.txt") from None
    return onnxruntime


def find_model_file(path: str) -> str:
    """The ``.onnx`` file at ``path``: the file itself, or the one ``.onnx`` file in a folder.

    Raises:
        ModelLoadError: no ``.onnx`` file, or several in the folder.
    """
    if os.path.isfile(path):
        return path
    candidates = sorted(f for f in os.listdir(path) if f.endswith(".onnx")) if os.path.isdir(path) else []
    if len(candidates) != 1:
        found = ", ".join(candidates) if candidates else "none"
        raise ModelLoadError(f"{path} must be an .onnx file or a folder holding exactly one "
                             f".onnx file (found: {found})")
    return os.path.join(path, candidates[0])


def _onnx_type_name(onnx_type: str) -> str:
    """``tensor(float)`` → ``float32`` (NumPy's name), as Cortex's ``get_model`` reports it."""
    datatype = ONNX_DATATYPES.get(onnx_type)
    if datatype is None:
        return onnx_type
    return "string" if datatype == "BYTES" else DATATYPES[datatype][2]


def _dimension(d: Any) -> int:
    return d if isinstance(d, int) and d >= 0 else -1


def shaped_like_input(array: Any, shape: list) -> Any:
    """``array`` reshaped to an input's declared ``shape`` when their ranks differ, as Cortex's
    ONNX client did (``transform_to_numpy`` in cortexlabs/cortex ``lib/client/onnx.py``): a
    named dimension (``"batch"``) becomes ``-1``, an unnamed unknown one (``None``) ``1``, and
    the array is reshaped when at most one dimension is left to infer. So a flat row
    ``[5.1, 3.5, 1.4, 0.2]`` for an input of shape ``[None, 4]`` is one row ``[[5.1, …]]``.

    Unlike Cortex, an array whose rank already matches is passed as it is (a batch of rows for
    ``[None, 4]`` stays a batch; Cortex reshaped it to one row and failed). An array that cannot
    be reshaped is also passed as it is, so onnxruntime's own message says what was expected.
    """
    if not shape or array.ndim == len(shape):
        return array
    target = [d if isinstance(d, int) and d >= 0 else (-1 if isinstance(d, str) else 1) for d in shape]
    if target.count(-1) > 1:
        return array
    try:
        return array.reshape(target)
    except ValueError:
        return array


class OnnxClient:
    """``onnx_client``: runs the API's ONNX models.

    Args:
        manager: the ``ModelManager`` whose loader makes an ``InferenceSession`` per version.
    """

    def __init__(self, manager: ModelManager):
        self._manager = manager

    def session(self, model_name: str | None = None, model_version: str | int = "latest") -> Any:
        """The ``InferenceSession`` of a model version.

        Raises:
            models.ModelNotFound: unknown model or version (answered 404).
        """
        return self._manager.get(model_name, model_version)

    def predict(self, model_input: Any, model_name: str | None = None,
                model_version: str | int = "latest") -> list:
        """Runs a model, as Cortex's ``onnx_client.predict``.

        Args:
            model_input: a dict input name → array-like, or one array-like for a model with a
                single input; each is converted to the input's element type.
            model_name: which model (``None`` for the single ``models.path`` model).
            model_version: ``"latest"``, an int or a numeric string.

        Returns:
            The list of the model's outputs, in the model's order (NumPy arrays, or lists of
            dicts for ZipMap outputs).

        Raises:
            models.ModelNotFound: unknown model or version.
            ValueError: a dict with missing or unknown input names, or a single array for a
                model with several inputs.
        """
        session = self.session(model_name, model_version)
        inputs = session.get_inputs()
        if not isinstance(model_input, dict):
            if len(inputs) != 1:
                raise ValueError(f"the model has {len(inputs)} inputs "
                                 f"({', '.join(i.name for i in inputs)}); pass a dict of input "
                                 "name to array")
            model_input = {inputs[0].name: model_input}
        names = [i.name for i in inputs]
        unknown = sorted(set(model_input) - set(names))
        missing = [n for n in names if n not in model_input]
        if unknown or missing:
            raise ValueError(f"the model's inputs are {', '.join(names)}; "
                             + (f"unknown: {', '.join(unknown)} " if unknown else "")
                             + (f"missing: {', '.join(missing)}" if missing else ""))
        return self.run(model_input, model_name, model_version)

    def run(self, feed: dict, model_name: str | None = None,
            model_version: str | int = "latest") -> list:
        """Runs the session on ``feed`` (input name → array-like, converted to each input's
        element type); returns the outputs in the model's order."""
        import numpy
        session = self.session(model_name, model_version)
        converted = {}
        for spec in session.get_inputs():
            value = feed[spec.name]
            datatype = ONNX_DATATYPES.get(spec.type)
            dtype = object if datatype == "BYTES" else (DATATYPES[datatype][2] if datatype else None)
            converted[spec.name] = shaped_like_input(numpy.asarray(value, dtype=dtype), spec.shape)
        return session.run(None, converted)

    def get_model(self, model_name: str | None = None, model_version: str | int = "latest") -> dict:
        """The input signatures, as Cortex's ``get_model``:
        ``{input_name: {"shape": [1, 4] or [-1, 4], "type": "float32"}}`` (``-1``: any size).

        Raises:
            models.ModelNotFound: unknown model or version.
        """
        return {i.name: {"shape": [_dimension(d) for d in i.shape], "type": _onnx_type_name(i.type)}
                for i in self.session(model_name, model_version).get_inputs()}

    def signatures(self, model_name: str | None = None,
                   model_version: str | int = "latest") -> tuple[list[TensorSpec], list[TensorSpec]]:
        """Inputs and outputs as Open Inference Protocol tensor specs (``v2.TensorSpec``).
        Outputs that are not tensors (e.g. skl2onnx's ZipMap sequence of maps) are left out:
        the protocol cannot carry them (convert with ``zipmap=False`` to get tensors)."""
        session = self.session(model_name, model_version)

        def specs(args) -> list[TensorSpec]:
            return [TensorSpec(a.name, ONNX_DATATYPES[a.type], [_dimension(d) for d in a.shape])
                    for a in args if a.type in ONNX_DATATYPES]

        return specs(session.get_inputs()), specs(session.get_outputs())

    def versions(self, model_name: str | None = None) -> list[int]:
        """The model's versions, ascending (``[]`` when it has no version folders)."""
        return self._manager.versions(model_name)

    def get_model_names(self) -> list[str]:
        """The model names (see ``ModelManager.names``)."""
        return self._manager.names()


def _session_loader(onnxruntime: Any):
    def load(path: str) -> Any:
        file = find_model_file(path)
        try:
            return onnxruntime.InferenceSession(file, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelLoadError(f"onnxruntime cannot load {file}: {describe_exception(e)}") from None
    return load


def load_predictor(project_dir: str, path: str, config: dict, *, models: dict | None,
                   cache_dir: str | None = None, status_path: str | None = None) -> Predictor:
    """Loads an ONNX API: onnxruntime, its models, then the user's ``ONNXPredictor``.

    Args:
        project_dir: absolute path of the project bundle.
        path: the predictor file, relative to ``project_dir``.
        config: ``predictor.config``, passed as ``config=`` when ``__init__`` declares it.
        models: ``predictor.models`` (required for type onnx).
        cache_dir: the worker's disk cache of models.
        status_path: where the ``ModelManager`` publishes failed reloads (None: nowhere).

    Returns:
        The ready ``Predictor`` with ``onnx_client`` and ``manager`` set.

    Raises:
        LoadError: onnxruntime is missing, ``models`` is missing, a model cannot be loaded, the
            file is missing or its import raised, it defines no ``ONNXPredictor``, ``__init__``
            raised, or ``predict`` is missing or needs arguments Tern cannot pass.
    """
    onnxruntime = import_onnxruntime()
    if not models:
        raise LoadError("predictor.type onnx needs predictor.models (a path to an .onnx file or "
                        "a folder holding one)")
    try:
        manager = ModelManager(models, project_dir, _session_loader(onnxruntime),
                               cache_dir=cache_dir or os.path.join(project_dir, ".tern-models"),
                               status_path=status_path)
    except (ModelConfigError, ModelLoadError) as e:
        raise LoadError(f"predictor.models: {e}") from None
    client = OnnxClient(manager)
    cls = import_predictor_class(project_dir, path, CLASS_NAME, " (predictor.type is onnx)")
    accepts = accepted_arguments(cls, CLASS_NAME)
    try:
        instance = cls(**init_arguments(cls, {"onnx_client": client, "config": config}))
    except BaseException as e:
        manager.close()
        raise LoadError(f"{CLASS_NAME}.__init__ raised {describe_exception(e)}",
                        format_traceback(e)) from None
    return Predictor(instance, instance.predict, accepts, manager=manager, onnx_client=client)

