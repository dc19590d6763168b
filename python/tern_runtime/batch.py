"""``predict_batch`` frames: one ``predict`` call for several requests (server-side batching).

The gateway collects requests and sends them as one frame whose header lists the items
(``content_type``, ``query``, ``headers``, ``length`` in bytes) and whose body is the items'
bodies concatenated. ``predict`` then gets lists: ``payload[i]``, ``query_params[i]`` and
``headers[i]`` belong to the same request, and it must return a list with one answer per
payload, in the same order. The answer frame lists one outcome per item and concatenates the
answers' bodies. See ``docs/replica-protocol.md``.
"""

from __future__ import annotations

from typing import Any

from .frames import MAX_BODY
from .payload import (OCTET_STREAM, PayloadError, ResultError, decode_payload, encode_result,
                      parse_query)
from .responses import AnswerError, answer_parts, is_response


class BatchError(ValueError):
    """The frame itself is malformed (answered with a frame-level 400 ``invalid_batch``)."""


class BatchOutcome:
    """The answers of one batch, filled in item by item.

    Attributes:
        items: one response item per request: ``{"status", "content_type", "length"}`` or
            ``{"status", "error": {"kind", "message"}}``; ``None`` until decided.
        bodies: the encoded answer of each item (``b""`` for errors).
    """

    def __init__(self, count: int):
        self.items: list[dict | None] = [None] * count
        self.bodies: list[bytes] = [b""] * count

    def fail(self, index: int, status: int, kind: str, message: str) -> None:
        self.items[index] = {"status": status, "error": {"kind": kind, "message": message}}

    def answer(self, index: int, value: Any) -> None:
        """Encode ``value`` as the answer of item ``index`` (500 ``invalid_response`` if it
        cannot be encoded). A response object gives the item its status, content type and
        body; its other header fields are not sent (a batch item carries none)."""
        status = 200
        try:
            if is_response(value):
                status, content_type, body, _ = answer_parts(value)
                content_type = content_type or OCTET_STREAM
            else:
                content_type, body = encode_result(value)
        except (ResultError, AnswerError) as e:
            self.fail(index, 500, "invalid_response", f"answer {index} of the batch: {e}")
            return
        self.items[index] = {"status": status, "content_type": content_type, "length": len(body)}
        self.bodies[index] = body

    def frame(self, header: dict, timing: dict | None) -> tuple[dict, bytes]:
        """The response header and body. A body over ``MAX_BODY`` fails every answered item."""
        body = b"".join(self.bodies)
        if len(body) > MAX_BODY:
            for index, item in enumerate(self.items):
                if item is not None and "error" not in item:
                    self.fail(index, 500, "invalid_response",
                              f"the batch's answers are {len(body)} bytes; the limit is {MAX_BODY}")
            body = b""
        response = {"id": header.get("id"), "status": 200, "items": self.items}
        if timing is not None:
            response["timing"] = timing
        return response, body


def split_items(header: dict, body: bytes) -> list[tuple[dict, bytes]]:
    """The items of a ``predict_batch`` frame: ``(item header, item body)`` in order.

    Raises:
        BatchError: ``items`` is missing, empty or not a list of objects; a ``length`` is not a
            non-negative integer; or the lengths do not add up to the body's size.
    """
    items = header.get("items")
    if not isinstance(items, list) or not items:
        raise BatchError("a predict_batch frame needs a non-empty list \"items\"")
    result = []
    offset = 0
    view = memoryview(body)
    for index, item in enumerate(items):
        length = item.get("length") if isinstance(item, dict) else None
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise BatchError(f"item {index} of the batch has no valid \"length\"")
        result.append((item, bytes(view[offset:offset + length])))
        offset += length
    if offset != len(body):
        raise BatchError(
            f"the items' lengths add up to {offset} bytes but the body has {len(body)}")
    return result


def decode_arguments(items: list[tuple[dict, bytes]], accepts: list[str],
                     outcome: BatchOutcome) -> tuple[list[int], dict]:
    """Decode the items into ``predict``'s list arguments.

    Items whose payload cannot be decoded get their 400 in ``outcome`` and are left out.

    Returns:
        ``(indexes, arguments)``: the indexes of the items passed to ``predict``, and the
        keyword arguments (lists aligned with ``indexes``), only those that ``accepts`` names.
    """
    indexes, payloads, queries, headers = [], [], [], []
    wants_payload = "payload" in accepts
    for index, (item, item_body) in enumerate(items):
        if wants_payload:
            try:
                payloads.append(decode_payload(item_body, item.get("content_type")))
            except PayloadError as e:
                outcome.fail(index, 400, e.kind, e.message)
                continue
        indexes.append(index)
        queries.append(item.get("query"))
        headers.append(item.get("headers"))
    arguments = {}
    if wants_payload:
        arguments["payload"] = payloads
    if "query_params" in accepts:
        arguments["query_params"] = [parse_query(q) for q in queries]
    if "headers" in accepts:
        arguments["headers"] = [h or {} for h in headers]
    return indexes, arguments


def check_result(result: Any, expected: int) -> str | None:
    """Why ``result`` is not a valid batch answer (a list of ``expected`` answers), or None."""
    if not isinstance(result, (list, tuple)):
        kind = type(result)
        name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        hint = " (call .tolist() on it)" if hasattr(result, "tolist") else ""
        return (f"predict returned a {name}, not a list{hint}; with server-side batching, "
                f"predict must return a list with one answer per payload ({expected})")
    if len(result) != expected:
        return (f"predict returned a list of {len(result)} answers for a batch of {expected} "
                f"payloads; with server-side batching, predict must return one answer per "
                "payload, in order")
    return None
