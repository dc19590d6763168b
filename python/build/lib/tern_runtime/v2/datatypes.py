"""The v2 datatypes and their encodings, the protocol's error, and NumPy when installed.

Shared by the other modules of ``v2``; imports nothing of the runtime.
"""

from __future__ import annotations

from typing import Any

_UNSET = object()
_numpy_module: Any = _UNSET


def optional_numpy():
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

#: v2 integer datatype → (lowest, highest) value.
INT_RANGES = {
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


def bad(message: str) -> V2Error:
    """A 400 ``invalid_inference_request``: the request's JSON is malformed or incomplete."""
    return V2Error(400, "invalid_inference_request", message)


def mismatch(message: str) -> V2Error:
    """A 400 ``invalid_tensor``: a tensor does not match its shape, datatype or model."""
    return V2Error(400, "invalid_tensor", message)
