"""The Open Inference Protocol (KServe v2) on a replica: the ``v2_metadata`` and ``v2_infer``
frames (docs/replica-protocol.md, docs/open-inference-protocol.md).

A v2 request names tensors: ``{"name", "shape", "datatype", "data"}``, with the data either in
the JSON (row-major, flat or nested) or, with the binary tensor extension, as raw bytes after
the JSON (``parameters.binary_data_size``; the JSON's size is the frame's
``inference_header_length``). This package decodes and checks them, runs the model through an
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

Modules: ``datatypes`` (datatypes, ``V2Error``, optional NumPy), ``tensors`` (decoding and
checking inputs), ``outputs`` (encoding responses), ``adapters`` (Python and ONNX predictors),
``handlers`` (the two frames). The names the worker, ``onnx`` and the tests use are
re-exported here.
"""

from .adapters import OnnxAdapter, PythonAdapter, adapter_for
from .datatypes import DATATYPES, ONNX_DATATYPES, V2Error
from .handlers import handle_infer, handle_metadata
from .outputs import encode_output, encode_response
from .tensors import Tensor, TensorSpec, check_inputs, parse_request

__all__ = [
    "DATATYPES", "ONNX_DATATYPES", "OnnxAdapter", "PythonAdapter", "Tensor", "TensorSpec",
    "V2Error", "adapter_for", "check_inputs", "encode_output", "encode_response", "handle_infer",
    "handle_metadata", "parse_request",
]
