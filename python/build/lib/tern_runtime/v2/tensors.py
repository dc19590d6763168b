"""Decoding v2 tensors: the request's inputs (JSON or binary data), checked against a
model's input specs.

A tensor is ``{"name", "shape", "datatype", "data"}``, its data either in the JSON (row-major,
flat or nested) or, with the binary tensor extension, as raw little-endian bytes after the JSON
(``parameters.binary_data_size``; the JSON's size is the frame's ``inference_header_length``).
Tensors become NumPy arrays, or nested lists without NumPy.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from .. import jsoncodec
from .datatypes import DATATYPES, INT_RANGES, V2Error, bad, optional_numpy, mismatch


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


def flatten(data: Any, out: list) -> None:
    """Append the leaves of ``data`` (nested lists, row-major) to ``out``; a non-list is one
    leaf."""
    if isinstance(data, list):
        for item in data:
            flatten(item, out)
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
            raise mismatch(f"input {name!r}: datatype BOOL needs true/false elements")
        return flat
    if datatype == "BYTES":
        if not all(isinstance(x, str) for x in flat):
            raise mismatch(f"input {name!r}: datatype BYTES needs string elements in JSON")
        return [x.encode("utf-8") for x in flat]
    if datatype in INT_RANGES:
        low, high = INT_RANGES[datatype]
        for x in flat:
            if not isinstance(x, int) or isinstance(x, bool):
                raise mismatch(f"input {name!r}: datatype {datatype} needs integer elements, "
                                f"got {json.dumps(x)}")
            if not low <= x <= high:
                raise mismatch(f"input {name!r}: {x} is outside the range of {datatype} "
                                f"({low} to {high})")
        return flat
    for x in flat:  # FP16, FP32, FP64
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise mismatch(f"input {name!r}: datatype {datatype} needs numbers, got {json.dumps(x)}")
    return [float(x) for x in flat]


def _decode_bytes_elements(name: str, raw: bytes, count: int) -> list[bytes]:
    """BYTES in binary form: each element is a 4-byte little-endian length and its bytes."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise bad(f"input {name!r}: BYTES binary data is cut short")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise bad(f"input {name!r}: BYTES element {len(elements)} is cut short")
        elements.append(bytes(raw[offset:offset + length]))
        offset += length
    if len(elements) != count:
        raise mismatch(f"input {name!r}: shape needs {count} elements, the binary data holds "
                        f"{len(elements)}")
    return elements


def _array(flat: list, datatype: str, shape: list[int]) -> Any:
    np = optional_numpy()
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
        raise mismatch(f"input {name!r}: shape {shape} of {datatype} needs {count * size} bytes "
                        f"of binary data, got {len(raw)}")
    np = optional_numpy()
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
            raise bad(f"Inference-Header-Content-Length is {header_length!r}; it must be a "
                       f"size from 0 to the body's {len(body)} bytes")
        json_part, binary = body[:length], memoryview(body)[length:]
    try:  # strict: no NaN/Infinity literals, no number that overflows a float (1e999)
        request = jsoncodec.loads(bytes(json_part), finite=True)
    except jsoncodec.JSONDecodeFailure as e:
        raise V2Error(400, "invalid_json", f"invalid JSON in the inference request: {e}") from None
    if not isinstance(request, dict):
        raise bad("the inference request must be a JSON object with an 'inputs' list")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad("the inference request needs a non-empty 'inputs' list of tensors "
                   "({\"name\", \"shape\", \"datatype\", \"data\"})")
    tensors, offset, seen = [], 0, set()
    for position, item in enumerate(inputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad(f"inputs[{position}] must be an object with a string 'name'")
        name = item["name"]
        if name in seen:
            raise bad(f"input {name!r} appears twice")
        seen.add(name)
        datatype = item.get("datatype")
        if datatype not in DATATYPES:
            raise bad(f"input {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise bad(f"input {name!r}: shape must be a list of non-negative integers, "
                       f"got {json.dumps(shape)}")
        parameters = item.get("parameters") or {}
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise bad(f"input {name!r}: binary_data_size must be a non-negative integer")
            if offset + size > len(binary):
                raise bad(f"input {name!r}: binary_data_size {size} goes past the end of the "
                           f"body ({len(binary) - offset} binary bytes left)")
            value = _from_binary(name, datatype, shape, binary[offset:offset + size])
            offset += size
        else:
            if "data" not in item:
                raise bad(f"input {name!r} has no 'data' (and no binary_data_size)")
            flat: list = []
            flatten(item["data"], flat)
            if len(flat) != _count(shape):
                raise mismatch(f"input {name!r}: shape {shape} needs {_count(shape)} elements, "
                                f"'data' holds {len(flat)}")
            value = _array(_check_json_elements(name, datatype, flat), datatype, shape)
        tensors.append(Tensor(name, datatype, shape, value))
    if offset != len(binary):
        raise bad(f"the body has {len(binary) - offset} bytes of binary data that no input's "
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
            raise mismatch(f"unknown input {tensor.name!r}; the model's inputs are "
                            + _describe(specs))
        if tensor.datatype != spec.datatype:
            raise mismatch(f"input {tensor.name!r} has datatype {tensor.datatype}; the model "
                            f"expects {spec.datatype}")
        if len(tensor.shape) != len(spec.shape) or any(
                want != -1 and want != got for want, got in zip(spec.shape, tensor.shape)):
            raise mismatch(f"input {tensor.name!r} has shape {tensor.shape}; the model expects "
                            f"{spec.shape} (-1: any size)")
    missing = [spec.name for spec in specs if spec.name not in {t.name for t in tensors}]
    if missing:
        raise mismatch(f"missing input(s) {', '.join(repr(m) for m in missing)}; the model's "
                        "inputs are " + _describe(specs))


def _describe(specs: list[TensorSpec]) -> str:
    return ", ".join(f"{s.name} ({s.datatype} {s.shape})" for s in specs) or "(none)"
