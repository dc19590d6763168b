"""Request body → ``payload`` argument, and ``predict``'s return value → response body.

The mapping is the Cortex-compatible one of ``docs/replica-protocol.md``:

- ``application/json`` or ``*/*+json``: the body parsed as JSON;
- ``text/plain``: the body decoded as UTF-8 (``str``);
- any other content type, or none: the body as ``bytes``, exactly as sent.

Media types are matched without case and without parameters (``; charset=...`` is ignored).
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import parse_qsl

from . import jsoncodec

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
OCTET_STREAM = "application/octet-stream"

_AS_JSON, _AS_TEXT, _AS_BYTES = 0, 1, 2

# Bytes that make a JSON body "empty" when it holds nothing else.
_BLANK = b" \t\r\n\x00"


class PayloadError(ValueError):
    """The body cannot be decoded into a payload (answered with status 400).

    Attributes:
        kind: ``empty_body``, ``invalid_json`` or ``invalid_text``.
        message: a one-line explanation for the client.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class ResultError(ValueError):
    """``predict`` returned a value that cannot be encoded (answered with status 500
    ``invalid_response``). ``message`` explains why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@functools.lru_cache(maxsize=256)
def _decoding(content_type: str | None) -> int:
    """Classify a ``Content-Type`` value as JSON, text or bytes (cached: values repeat)."""
    if not content_type:
        return _AS_BYTES
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.endswith("+json") and "/" in media):
        return _AS_JSON
    if media == "text/plain":
        return _AS_TEXT
    return _AS_BYTES


def decode_payload(body: bytes, content_type: str | None) -> Any:
    """Decode a request body into the ``payload`` argument of ``predict``.

    Args:
        body: the raw request body.
        content_type: the request's ``Content-Type`` value, or ``None`` when absent.

    Returns:
        The parsed JSON value, a ``str`` for ``text/plain``, or ``body`` itself.

    Raises:
        PayloadError: ``empty_body`` (JSON type with a body of only whitespace or NUL bytes,
            or no bytes at all), ``invalid_json`` (message gives line and column) or
            ``invalid_text`` (``text/plain`` that is not UTF-8).
    """
    how = _decoding(content_type)
    if how == _AS_BYTES:
        return body
    if how == _AS_TEXT:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PayloadError("invalid_text", f"text/plain body is not UTF-8 (byte {e.start})")
    if not body or (body[0] in _BLANK and not body.strip(_BLANK)):
        raise PayloadError(
            "empty_body", "the body is empty; a JSON content type needs a JSON document"
        )
    try:
        return jsoncodec.loads(body)
    except jsoncodec.JSONDecodeFailure as e:
        raise PayloadError("invalid_json", f"invalid JSON: {e}") from None


def parse_query(query: str | None) -> dict:
    """Parse a raw query string (``"a=1&b=2"``) into ``query_params``.

    Returns:
        ``dict`` of ``str`` → ``str``; for a repeated key the last value wins; keys without a
        value map to ``""``; percent-escapes and ``+`` are decoded.
    """
    if not query:
        return {}
    return dict(parse_qsl(query, keep_blank_values=True))


def encode_result(value: Any) -> tuple[str, bytes]:
    """Encode what ``predict`` returned as a response body.

    Returns:
        ``(content_type, body)``: ``str`` → UTF-8 text (``text/plain; charset=utf-8``);
        ``bytes``/``bytearray``/``memoryview`` → ``application/octet-stream``; anything else →
        compact JSON (``application/json``), see ``jsoncodec.dumps``.

    Raises:
        ResultError: the value cannot be encoded (NaN or Infinity, a non-JSON type, a string
            with lone surrogates).
    """
    if isinstance(value, str):
        try:
            return TEXT, value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ResultError(f"the returned str is not valid Unicode: {e.reason}") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return OCTET_STREAM, bytes(value)
    try:
        return JSON, jsoncodec.dumps(value)
    except jsoncodec.JSONEncodeFailure as e:
        raise ResultError(
            f"the result of predict cannot be encoded as JSON: {e}; return a JSON value, "
            "str or bytes"
        ) from None
