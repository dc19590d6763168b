"""The v2 view of a loaded predictor: ``PythonAdapter`` for a ``PythonPredictor``,
``OnnxAdapter`` for an ONNX API's session; ``adapter_for`` picks one for a frame's model and
version (see the ``v2`` package documentation for what each passes and expects).
"""

from __future__ import annotations

from typing import Any

from .datatypes import V2Error
from .tensors import Tensor, TensorSpec, check_inputs


class PythonAdapter:
    """The v2 view of a ``PythonPredictor`` (see the ``v2`` package documentation) for one
    request: ``model_name`` (of ``<api>.<model>``, else None) and ``version`` (None: not
    given)."""

    def __init__(self, predictor: Any, model_name: str | None, version: str | None):
        self._predictor = predictor
        self._model_name = model_name
        self._version = version
        instance = predictor.instance
        self.inputs = self._declared(instance, "v2_inputs")
        self.outputs = self._declared(instance, "v2_outputs")
        self.platform = str(getattr(instance, "v2_platform", "python"))

    @staticmethod
    def _declared(instance: Any, attribute: str) -> list[TensorSpec] | None:
        declared = getattr(instance, attribute, None)
        if declared is None:
            return None
        if callable(declared):
            declared = declared()
        if not isinstance(declared, (list, tuple)):
            raise V2Error(500, "invalid_metadata", f"PythonPredictor.{attribute} must be a list "
                          "of {\"name\", \"datatype\", \"shape\"} dicts")
        try:
            return [TensorSpec.from_declaration(item, f"PythonPredictor.{attribute}")
                    for item in declared]
        except ValueError as e:
            raise V2Error(500, "invalid_metadata", str(e)) from None

    def versions(self) -> list[str]:
        manager = getattr(self._predictor, "manager", None)
        if manager is None:
            return []
        try:
            return [str(v) for v in manager.versions(self._model_name)]
        except KeyError:  # several models and no name: no default model has versions
            return []

    def infer(self, tensors: list[Tensor], headers: dict) -> dict[str, Any]:
        if self.inputs is not None:
            check_inputs(tensors, self.inputs)
        predictor = self._predictor
        arguments: dict = {}
        if predictor.wants_payload:
            arguments["payload"] = {t.name: t.value for t in tensors}
        if predictor.wants_query:
            query = {"model": self._model_name, "version": self._version}
            arguments["query_params"] = {k: v for k, v in query.items() if v is not None}
        if predictor.wants_headers:
            arguments["headers"] = headers
        batched = getattr(predictor, "batched", False)
        if batched:  # server_side_batching: a batch of one
            arguments = {name: [value] for name, value in arguments.items()}
        result = predictor.predict(**arguments)
        if batched:
            result = _only_answer(result)
        if isinstance(result, dict):
            return result
        name = self.outputs[0].name if self.outputs else "output_0"
        return {name: result}


def _only_answer(result: Any) -> Any:
    """The one answer of a batching ``predict`` called with a batch of one.

    Raises:
        V2Error: 500 ``invalid_response`` when ``result`` is not a list (or tuple) of one answer.
    """
    if isinstance(result, (list, tuple)) and len(result) == 1:
        return result[0]
    if isinstance(result, (list, tuple)):
        got = f"a list of {len(result)} answers"
    else:
        kind = type(result)
        got = "a " + (kind.__name__ if kind.__module__ == "builtins"
                      else f"{kind.__module__}.{kind.__name__}")
    raise V2Error(500, "invalid_response",
                  f"predict returned {got}; with server_side_batching, an Open Inference Protocol "
                  "request calls predict with a list of one payload, and predict must return a "
                  "list of one answer")


class OnnxAdapter:
    """The v2 view of an ONNX API's model for one request: the session itself, inputs and
    outputs by name (``model_name`` None: the default model; ``version`` None: latest).

    Raises (from ``__init__``):
        models.ModelNotFound: unknown model or version.
    """

    platform = "onnxruntime_onnx"

    def __init__(self, client: Any, model_name: str | None, version: str | None):
        self._client = client
        self._model = {"model_name": model_name,
                       "model_version": version if version is not None else "latest"}
        self._name = model_name
        self.inputs, self.outputs = client.signatures(**self._model)

    def versions(self) -> list[str]:
        return [str(v) for v in self._client.versions(self._name)]

    def infer(self, tensors: list[Tensor], headers: dict) -> dict[str, Any]:
        check_inputs(tensors, self.inputs)
        results = self._client.run({t.name: t.value for t in tensors}, **self._model)
        names = [o.name for o in self._client.session(**self._model).get_outputs()]
        tensors_out = {o.name for o in self.outputs}
        return {name: value for name, value in zip(names, results) if name in tensors_out}


def _serves_one_model(predictor: Any) -> bool:
    """True for an API without several named models: no ``predictor.models`` (and not ONNX,
    whose client always has a model manager), or a single ``models.path``."""
    manager = getattr(predictor, "manager", None)
    if manager is None:
        return getattr(predictor, "onnx_client", None) is None
    return manager.names() == [""]


def adapter_for(predictor: Any, header: dict) -> Any:
    """The adapter serving a frame's model (``model_name``, ``version``) on ``predictor``:
    ONNX when it has an ``onnx_client``, else Python. Checks that the model and version exist,
    so that requests for an unknown one are answered 404 before their body is read.

    Raises:
        V2Error: 404 ``model_not_found`` for an unknown model or version, or for a model name
            (``<api>.<m>``) on an API without ``predictor.models``; 500 for bad declarations.
    """
    client = getattr(predictor, "onnx_client", None)
    model_name, version = header.get("model_name"), header.get("version")
    if model_name is not None and _serves_one_model(predictor):
        api = str(header.get("model", "")).split(".", 1)[0]
        raise V2Error(404, "model_not_found",
                      f"no model {header.get('model')!r}: API {api} serves a single model, named "
                      f"{api!r} in the Open Inference Protocol (<api>.<model> names one of the "
                      "models of an API with predictor.models paths or dir)")
    try:
        if client is not None:
            adapter = OnnxAdapter(client, model_name, version)
        else:
            adapter = PythonAdapter(predictor, model_name, version)
            if model_name is not None:
                predictor.manager.versions(model_name)  # ModelNotFound for an unknown name
        versions = adapter.versions()
    except KeyError as e:  # models.ModelNotFound is a KeyError
        raise V2Error(404, "model_not_found", e.args[0] if e.args else str(e)) from None
    if version is not None and versions and version not in versions:
        raise V2Error(404, "model_not_found", f"model {header.get('model')!r} has no version "
                      f"{version} (versions: {', '.join(versions)})")
    return adapter
