"""The ``v2_metadata`` and ``v2_infer`` frames: each answered with a response header and body
(an error frame for a ``V2Error``), as the worker sends them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..errors import describe_exception
from .adapters import adapter_for
from .datatypes import V2Error
from .outputs import encode_response
from .tensors import parse_request


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
