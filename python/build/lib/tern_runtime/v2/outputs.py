"""Encoding a v2 inference response: each output's datatype and shape inferred from the value
``predict`` (or the session) returned, sent as JSON data or binary data as the request asks.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from .datatypes import DATATYPES, V2Error, bad, optional_numpy, mismatch
from .tensors import flatten


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
    np = optional_numpy()
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
        flatten(list(value) if isinstance(value, tuple) else value, flat)
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
            raise bad("'outputs' must be a list of objects with a string 'name'")
        chosen = []
        for o in wanted:
            if o["name"] not in outputs:
                raise mismatch(f"unknown output {o['name']!r}; the model's outputs are "
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
