"""The Open Inference Protocol (KServe v2) on a replica: the ``v2_metadata`` and ``v2_infer``
frames (docs/replica-protocol.md, docs/open-inference-protocol.md).

A v2 request names tensors: ``{"name", "shape", "datatype", "data"}``, with the data either in
the JSON (row-major, flat or nested) or, with the binary tensor extension, as raw bytes after
the JSON (``parameters.binary_data_size``; the JSON's size is the frame's
``inference_header_length``). This module decodes and checks them, runs the model through an
adapter, and encodes the outputs the same way (binary when the request asks for it).

Adapters:
- ONNX APIs (``predictor.onnx_client`` set): tensors map to the session's inputs and outputs by
  name, shape and datatype, checked against the session's signatures.
- Python predictors: ``predict`` gets ``payload`` = ``{input name: numpy array}`` (nested lists
  when NumPy is missing), ``query_params`` = ``{"model": m, "version": v}`` (``model`` for a v2
  model name ``<api>.<m>``, ``version`` for a ``/versions/{v}`` path; each only when given) and
  the request ``headers``. It returns a dict name → array-like, or one
  array-like (output ``output_0``). Optional class attributes ``v2_inputs`` and ``v2_outputs``
  (lists of ``{"name", "datatype", "shape"}``, ``-1`` for any size) describe the model in the
  metadata and make inputs checked like an ONNX model's; ``v2_platform`` names the platform.
  On an API with ``server_side_batching`` (``predictor.batched``), ``predict`` takes lists: it
  gets a list of one payload (and of one ``query_params``, one ``headers``) and must return a
  list of one answer, which is then read as above.

Works with the standard library alone (tensors become nested lists); uses NumPy when present.
"""

from __future__ import annotations

import json
import struct
import time
from typing import Any

from . import jsoncodec
from .errors import describe_exception

_UNSET = object()
_numpy_module: Any = _UNSET


def _numpy():
    """NumPy when installed (imported on first use, so that replicas that never see a v2
    request do not pay for it), else None. Tests set ``_numpy_module`` to None."""
    global _numpy_module
    if _numpy_module is _UNSET:
        try:
            import numpy
            _numpy_module = numpy
        except ImportError:
            _numpy_module = None
    return _numpy_module

#: v2 datatype → (struct format character, item size in bytes, NumPy dtype name).
DATATYPES = {
    "BOOL": ("?", 1, "bool"),
    "UINT8": ("B", 1, "uint8"), "UINT16": ("H", 2, "uint16"),
    "UINT32": ("I", 4, "uint32"), "UINT64": ("Q", 8, "uint64"),
    "INT8": ("b", 1, "int8"), "INT16": ("h", 2, "int16"),
    "INT32": ("i", 4, "int32"), "INT64": ("q", 8, "int64"),
    "FP16": ("e", 2, "float16"), "FP32": ("f", 4, "float32"), "FP64": ("d", 8, "float64"),
    "BYTES": (None, None, "object"),
}

#: ONNX element types (``NodeArg.type``) → v2 datatypes.
ONNX_DATATYPES = {
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32", "tensor(uint64)": "UINT64", "tensor(int8)": "INT8",
    "tensor(int16)": "INT16", "tensor(int32)": "INT32", "tensor(int64)": "INT64",
    "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}

_INT_RANGES = {
    name: ((-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if name.startswith("INT")
           else (0, (1 << (8 * size)) - 1))
    for name, (_, size, _) in DATATYPES.items() if name.startswith(("INT", "UINT"))
}


class V2Error(Exception):
    """A request the protocol refuses; becomes an error frame (``status``, ``kind``, message)."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def _bad(message: str) -> V2Error:
    return V2Error(400, "invalid_inference_request", message)


def _mismatch(message: str) -> V2Error:
    return V2Error(400, "invalid_tensor", message)


# -- tensors ------------------------------------------------------------------------------------

class Tensor:
    """One decoded tensor.

    Attributes:
        name: the tensor's name.
        datatype: a key of ``DATATYPES``.
        shape: list of non-negative ints.
        value: a NumPy array of that shape (``bytes`` elements for BYTES), or nested lists when
            NumPy is missing.
    """

    def __init__(self, name: str, datatype: str, shape: list[int], value: Any):
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.value = value


class TensorSpec:
    """What a model expects of one tensor: ``shape`` uses ``-1`` for a dimension of any size."""

    def __init__(self, name: str, datatype: str, shape: list[int]):
        self.name = name
        self.datatype = datatype
        self.shape = shape

    def to_json(self) -> dict:
        """The metadata form ``{"name", "datatype", "shape"}``."""
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}

    @classmethod
    def from_declaration(cls, item: Any, where: str) -> "TensorSpec":
        """Reads one entry of a predictor's ``v2_inputs`` / ``v2_outputs``.

        Raises:
            ValueError: not a dict with a string ``name``, a known ``datatype`` and a list of
                int ``shape``.
        """
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"{where}: each entry must be a dict with a string 'name'")
        datatype = item.get("datatype")
        if datatype not in DATATYPES:
            raise ValueError(f"{where}: datatype {datatype!r} of {item['name']!r} is not one of "
                             f"{', '.join(DATATYPES)}")
        shape = item.get("shape", [])
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= -1 for d in shape):
            raise ValueError(f"{where}: shape of {item['name']!r} must be a list of ints "
                             "(-1 for any size)")
        return cls(item["name"], datatype, shape)


def _count(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _flatten(data: Any, out: list) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)


def _nest(flat: list, shape: list[int]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = _count(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _check_json_elements(name: str, datatype: str, flat: list) -> list:
    """Checks JSON elements against ``datatype``; returns them ready for an array."""
    if datatype == "BOOL":
        if not all(isinstance(x, bool) for x in flat):
            raise _mismatch(f"input {name!r}: datatype BOOL needs true/false elements")
        return flat
    if datatype == "BYTES":
        if not all(isinstance(x, str) for x in flat):
            raise _mismatch(f"input {name!r}: datatype BYTES needs string elements in JSON")
        return [x.encode("utf-8") for x in flat]
    if datatype in _INT_RANGES:
        low, high = _INT_RANGES[datatype]
        for x in flat:
            if not isinstance(x, int) or isinstance(x, bool):
                raise _mismatch(f"input {name!r}: datatype {datatype} needs integer elements, "
                                f"got {json.dumps(x)}")
            if not low <= x <= high:
                raise _mismatch(f"input {name!r}: {x} is outside the range of {datatype} "
                                f"({low} to {high})")
        return flat
    for x in flat:  # FP16, FP32, FP64
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise _mismatch(f"input {name!r}: datatype {datatype} needs numbers, got {json.dumps(x)}")
    return [float(x) for x in flat]


def _decode_bytes_elements(name: str, raw: bytes, count: int) -> list[bytes]:
    """BYTES in binary form: each element is a 4-byte little-endian length and its bytes."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise _bad(f"input {name!r}: BYTES binary data is cut short")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise _bad(f"input {name!r}: BYTES element {len(elements)} is cut short")
        elements.append(bytes(raw[offset:offset + length]))
        offset += length
    if len(elements) != count:
        raise _mismatch(f"input {name!r}: shape needs {count} elements, the binary data holds "
                        f"{len(elements)}")
    return elements


def _array(flat: list, datatype: str, shape: list[int]) -> Any:
    np = _numpy()
    if np is None:
        return _nest(flat, shape)
    if datatype == "BYTES":
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    return np.array(flat, dtype=DATATYPES[datatype][2]).reshape(shape)


def _from_binary(name: str, datatype: str, shape: list[int], raw: memoryview) -> Any:
    count = _count(shape)
    if datatype == "BYTES":
        return _array(_decode_bytes_elements(name, bytes(raw), count), datatype, shape)
    code, size, dtype = DATATYPES[datatype]
    if len(raw) != count * size:
        raise _mismatch(f"input {name!r}: shape {shape} of {datatype} needs {count * size} bytes "
                        f"of binary data, got {len(raw)}")
    np = _numpy()
    if np is not None:
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
    return _nest(list(struct.unpack(f"<{count}{code}", raw)), shape)


def parse_request(body: bytes, header_length: Any) -> tuple[dict, list[Tensor]]:
    """Decodes a v2 inference request.

    Args:
        body: the HTTP body.
        header_length: the ``Inference-Header-Content-Length`` value (``None`` when absent):
            the JSON is ``body[:header_length]`` and binary tensors follow in input order.

    Returns:
        The request JSON object and its input tensors, in request order.

    Raises:
        V2Error: 400 for invalid JSON (``invalid_json``, also for ``NaN``, ``Infinity`` and
            numbers out of a 64-bit float's range such as ``1e999``), a missing or mistyped field, an unknown datatype, a
            negative dimension, data that does not fill the shape, elements of the wrong type,
            or binary sizes that do not add up to the body.
    """
    if header_length is None:
        json_part, binary = body, memoryview(b"")
    else:
        try:
            length = int(header_length)
        except (TypeError, ValueError):
            length = -1
        if not 0 <= length <= len(body):
            raise _bad(f"Inference-Header-Content-Length is {header_length!r}; it must be a "
                       f"size from 0 to the body's {len(body)} bytes")
        json_part, binary = body[:length], memoryview(body)[length:]
    try:  # strict: no NaN/Infinity literals, no number that overflows a float (1e999)
        request = jsoncodec.loads(bytes(json_part), finite=True)
    except jsoncodec.JSONDecodeFailure as e:
        raise V2Error(400, "invalid_json", f"invalid JSON in the inference request: {e}") from None
    if not isinstance(request, dict):
        raise _bad("the inference request must be a JSON object with an 'inputs' list")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad("the inference request needs a non-empty 'inputs' list of tensors "
                   "({\"name\", \"shape\", \"datatype\", \"data\"})")
    tensors, offset, seen = [], 0, set()
    for position, item in enumerate(inputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _bad(f"inputs[{position}] must be an object with a string 'name'")
        name = item["name"]
        if name in seen:
            raise _bad(f"input {name!r} appears twice")
        seen.add(name)
        datatype = item.get("datatype")
        if datatype not in DATATYPES:
            raise _bad(f"input {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise _bad(f"input {name!r}: shape must be a list of non-negative integers, "
                       f"got {json.dumps(shape)}")
        parameters = item.get("parameters") or {}
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise _bad(f"input {name!r}: binary_data_size must be a non-negative integer")
            if offset + size > len(binary):
                raise _bad(f"input {name!r}: binary_data_size {size} goes past the end of the "
                           f"body ({len(binary) - offset} binary bytes left)")
            value = _from_binary(name, datatype, shape, binary[offset:offset + size])
            offset += size
        else:
            if "data" not in item:
                raise _bad(f"input {name!r} has no 'data' (and no binary_data_size)")
            flat: list = []
            _flatten(item["data"], flat)
            if len(flat) != _count(shape):
                raise _mismatch(f"input {name!r}: shape {shape} needs {_count(shape)} elements, "
                                f"'data' holds {len(flat)}")
            value = _array(_check_json_elements(name, datatype, flat), datatype, shape)
        tensors.append(Tensor(name, datatype, shape, value))
    if offset != len(binary):
        raise _bad(f"the body has {len(binary) - offset} bytes of binary data that no input's "
                   "binary_data_size claims")
    return request, tensors


def check_inputs(tensors: list[Tensor], specs: list[TensorSpec]) -> None:
    """Checks the request's tensors against a model's inputs: every input present, none
    unknown, datatypes equal, shapes equal where the model fixes a dimension.

    Raises:
        V2Error: 400 ``invalid_tensor`` saying what the model expects.
    """
    expected = {spec.name: spec for spec in specs}
    for tensor in tensors:
        spec = expected.get(tensor.name)
        if spec is None:
            raise _mismatch(f"unknown input {tensor.name!r}; the model's inputs are "
                            + _describe(specs))
        if tensor.datatype != spec.datatype:
            raise _mismatch(f"input {tensor.name!r} has datatype {tensor.datatype}; the model "
                            f"expects {spec.datatype}")
        if len(tensor.shape) != len(spec.shape) or any(
                want != -1 and want != got for want, got in zip(spec.shape, tensor.shape)):
            raise _mismatch(f"input {tensor.name!r} has shape {tensor.shape}; the model expects "
                            f"{spec.shape} (-1: any size)")
    missing = [spec.name for spec in specs if spec.name not in {t.name for t in tensors}]
    if missing:
        raise _mismatch(f"missing input(s) {', '.join(repr(m) for m in missing)}; the model's "
                        "inputs are " + _describe(specs))


def _describe(specs: list[TensorSpec]) -> str:
    return ", ".join(f"{s.name} ({s.datatype} {s.shape})" for s in specs) or "(none)"


# -- outputs ------------------------------------------------------------------------------------

def _datatype_of_array(array: Any, name: str) -> str:
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'INT' if kind == 'i' else 'UINT'}{size * 8}"
    if kind == "f" and size in (2, 4, 8):
        return f"FP{size * 8}"
    if kind in "OSU":
        return "BYTES"
    raise ValueError(f"output {name!r} has NumPy dtype {array.dtype}, which has no v2 datatype")


def _datatype_of_elements(flat: list, name: str) -> str:
    if all(isinstance(x, bool) for x in flat) and flat:
        return "BOOL"
    if all(isinstance(x, int) and not isinstance(x, bool) for x in flat):
        return "INT64"
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in flat):
        return "FP64"
    if all(isinstance(x, (str, bytes)) for x in flat):
        return "BYTES"
    raise ValueError(f"output {name!r} mixes element types; return a NumPy array or a "
                     "nested list of one type")


def _shape_of_lists(value: Any, name: str) -> list[int]:
    shape = []
    while isinstance(value, (list, tuple)):
        shape.append(len(value))
        if not value:
            break
        lengths = {len(v) if isinstance(v, (list, tuple)) else -1 for v in value}
        if len(lengths) != 1:
            raise ValueError(f"output {name!r} is a ragged nested list; every row must have "
                             "the same length")
        value = value[0]
    return shape


def encode_output(name: str, value: Any) -> tuple[str, list[int], list, bytes]:
    """Infers an output's datatype and shape and encodes it.

    Args:
        name: the output's name (for messages).
        value: a NumPy array, a nested list/tuple, or a scalar.

    Returns:
        ``(datatype, shape, flat JSON elements, little-endian binary form)``.

    Raises:
        ValueError: a ragged list, mixed element types, or a dtype with no v2 datatype.
    """
    np = _numpy()
    if np is not None and not isinstance(value, (str, bytes)):
        try:
            array = np.asarray(value)
        except ValueError as e:
            raise ValueError(f"output {name!r} is not a rectangular array: {e}") from None
        datatype = _datatype_of_array(array, name)
        shape = list(array.shape)
        if datatype == "BYTES":
            flat = [x if isinstance(x, (str, bytes)) else str(x) for x in array.reshape(-1).tolist()]
        else:
            flat = array.reshape(-1).tolist()
            code, size, dtype = DATATYPES[datatype]
            return datatype, shape, flat, array.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
    else:
        shape = _shape_of_lists(value, name)
        flat = []
        _flatten(list(value) if isinstance(value, tuple) else value, flat)
        datatype = _datatype_of_elements(flat, name)
        if datatype != "BYTES":
            code = DATATYPES[datatype][0]
            return datatype, shape, flat, struct.pack(f"<{len(flat)}{code}", *flat)
    encoded = [x.encode("utf-8") if isinstance(x, str) else x for x in flat]
    binary = b"".join(struct.pack("<I", len(x)) + x for x in encoded)
    json_flat = []
    for x in encoded:
        try:
            json_flat.append(x.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"output {name!r} holds bytes that are not UTF-8; ask for it with "
                             "binary_data") from None
    return "BYTES", shape, json_flat, binary


def encode_response(request: dict, model: str, version: str | None,
                    outputs: dict[str, Any]) -> tuple[str, bytes, int | None]:
    """Encodes a v2 inference response.

    Args:
        request: the request JSON (its ``id``, ``outputs`` and ``parameters.binary_data_output``
            choose which outputs are sent and in which form).
        model: the model (API) name; version: the requested version or None.
        outputs: output name → value, in the model's order.

    Returns:
        ``(content type, body, inference header length or None when the body is all JSON)``.

    Raises:
        V2Error: 400 when the request asks for an output the model does not have; 500
            ``invalid_response`` when an output cannot be encoded.
    """
    parameters = request.get("parameters") if isinstance(request.get("parameters"), dict) else {}
    binary_default = parameters.get("binary_data_output") is True
    wanted = request.get("outputs")
    if wanted is None:
        chosen = [(name, binary_default) for name in outputs]
    else:
        if not isinstance(wanted, list) or not all(
                isinstance(o, dict) and isinstance(o.get("name"), str) for o in wanted):
            raise _bad("'outputs' must be a list of objects with a string 'name'")
        chosen = []
        for o in wanted:
            if o["name"] not in outputs:
                raise _mismatch(f"unknown output {o['name']!r}; the model's outputs are "
                                + ", ".join(repr(n) for n in outputs))
            p = o.get("parameters") if isinstance(o.get("parameters"), dict) else {}
            chosen.append((o["name"], p.get("binary_data", binary_default) is True))
    documents, blobs = [], []
    for name, binary in chosen:
        try:
            datatype, shape, flat, raw = encode_output(name, outputs[name])
        except ValueError as e:
            raise V2Error(500, "invalid_response", str(e)) from None
        document = {"name": name, "datatype": datatype, "shape": shape}
        if binary:
            document["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            if datatype in ("FP16", "FP32", "FP64") and any(x != x or x in (float("inf"), float("-inf")) for x in flat):
                raise V2Error(500, "invalid_response", f"output {name!r} holds NaN or infinity, "
                              "which JSON cannot carry; ask for it with binary_data")
            document["data"] = flat
        documents.append(document)
    response: dict = {"model_name": model}
    if version is not None:
        response["model_version"] = version
    if isinstance(request.get("id"), str):
        response["id"] = request["id"]
    response["outputs"] = documents
    text = json.dumps(response, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if not blobs:
        return "application/json", text, None
    return "application/octet-stream", text + b"".join(blobs), len(text)


# -- adapters -----------------------------------------------------------------------------------

class PythonAdapter:
    """The v2 view of a ``PythonPredictor`` (see the module documentation) for one request:
    ``model_name`` (of ``<api>.<model>``, else None) and ``version`` (None: not given)."""

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


# -- frames -------------------------------------------------------------------------------------

def _error(header: dict, error: V2Error) -> tuple[dict, bytes]:
    return {"id": header.get("id"), "status": error.status,
            "error": {"kind": error.kind, "message": error.message}}, b""


def handle_metadata(predictor: Any, header: dict) -> tuple[dict, bytes]:
    """Answers a ``v2_metadata`` frame with the model metadata document."""
    try:
        adapter = adapter_for(predictor, header)
        versions = adapter.versions()
    except V2Error as e:
        return _error(header, e)
    except Exception as e:  # e.g. a model that fails to load (models.ModelLoadError)
        return _error(header, V2Error(500, "metadata_error", describe_exception(e)))
    document = {
        "name": header.get("model"), "versions": versions, "platform": adapter.platform,
        "inputs": [s.to_json() for s in adapter.inputs or []],
        "outputs": [s.to_json() for s in adapter.outputs or []],
    }
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return {"id": header.get("id"), "status": 200, "content_type": "application/json"}, body


def handle_infer(predictor: Any, header: dict, body: bytes, slots: Any,
                 on_error=None) -> tuple[dict, bytes]:
    """Answers a ``v2_infer`` frame.

    Args:
        predictor: the loaded predictor.
        header: the frame header (``model``, ``version``, ``inference_header_length``,
            ``headers``).
        body: the HTTP body.
        slots: a context manager held while the model runs (the worker's thread slots).
        on_error: called with the exception when the model raises (to log its traceback).

    Returns:
        The response header and body: 200 with the v2 response, 404 for an unknown model or
        version (checked before the body), 400 for a bad request, 500 ``predictor_error`` when the model raised.
    """
    version = header.get("version")
    try:
        adapter = adapter_for(predictor, header)  # an unknown model is reported first
        request, tensors = parse_request(body, header.get("inference_header_length"))
        with slots:
            started = time.perf_counter_ns()
            try:
                outputs = adapter.infer(tensors, header.get("headers") or {})
            except V2Error:
                raise
            except KeyError as e:
                if type(e).__name__ == "ModelNotFound":
                    raise V2Error(404, "model_not_found", e.args[0] if e.args else str(e)) from None
                raise _predictor_error(e, on_error) from None
            except BaseException as e:  # SystemExit and KeyboardInterrupt included
                raise _predictor_error(e, on_error) from None
            finally:
                timing = {"predict_us": (time.perf_counter_ns() - started) // 1000}
        if not isinstance(outputs, dict) or not all(isinstance(k, str) for k in outputs):
            raise V2Error(500, "invalid_response", "predict must return a dict of output name to "
                          "array, or one array")
        content_type, response_body, json_length = encode_response(
            request, header.get("model"), version, outputs)
    except V2Error as e:
        return _error(header, e)
    except Exception as e:  # outside predict, e.g. a model that fails to load
        return _error(header, V2Error(500, "predictor_error", describe_exception(e)))
    response = {"id": header.get("id"), "status": 200, "content_type": content_type,
                "timing": timing}
    if json_length is not None:
        response["inference_header_length"] = json_length
    return response, response_body


def _predictor_error(error: BaseException, on_error) -> V2Error:
    if on_error is not None:
        on_error(error)
    return V2Error(500, "predictor_error", describe_exception(error))
