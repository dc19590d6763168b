"""HTTP response objects returned by ``predict``: Starlette's ``Response`` family (as Cortex
passed them through), and a stand-in for ``starlette.responses`` when Starlette is absent.

Cortex's image always had FastAPI and Starlette installed, so Cortex predictors import
``from starlette.responses import JSONResponse`` (or ``fastapi.responses``) without listing
them in ``requirements.txt``. ``install_fallback`` puts a finder at the *end* of
``sys.meta_path``: an installed Starlette or FastAPI always wins, and only when neither can be
imported do ``starlette.responses`` and ``fastapi.responses`` resolve to this module's classes
(``Response``, ``JSONResponse``, ``PlainTextResponse``, ``HTMLResponse``), which build the same
``status_code``, ``body`` and ``raw_headers`` as Starlette's.

``answer_parts`` reads any such object (Starlette's own or the stand-in; duck-typed, so
Starlette is never imported here) into what the replica protocol sends: status, content type,
body and the other header fields.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import sys
import types
from typing import Any

#: Header fields a predictor cannot set: the gateway owns framing and the request id.
RESERVED_FIELDS = frozenset({
    "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
    "trailer", "x-request-id",
})

#: Statuses that carry no body (RFC 9110 §15.3.5, §15.4.5).
_BODILESS = (204, 304)


class AnswerError(ValueError):
    """A returned response object cannot be sent (answered 500 ``invalid_response``)."""


def is_response(value: Any) -> bool:
    """Whether ``value`` looks like a Starlette ``Response``: an ``int`` ``status_code`` and a
    ``body`` or ``raw_headers`` attribute."""
    return isinstance(getattr(value, "status_code", None), int) and (
        hasattr(value, "body") or hasattr(value, "raw_headers"))


def answer_parts(value: Any) -> tuple[int, str | None, bytes, list[list[str]]]:
    """Read a response object into ``(status, content_type, body, headers)``.

    ``headers`` holds ``[name, value]`` pairs in order (repeats such as ``set-cookie`` kept,
    names lower-case), without ``content-type`` (returned apart) and without
    ``RESERVED_FIELDS``.

    Raises:
        AnswerError: no ``body`` (a ``StreamingResponse`` or ``FileResponse``: streaming is not
            supported yet), a status outside 200–599, a body with status 204 or 304, or a
            header that is not text.
    """
    status = value.status_code
    if isinstance(status, bool) or not 200 <= status <= 599:
        raise AnswerError(f"the returned {type(value).__name__} has status_code {status!r}; "
                          "the status of an answer must be 200 to 599")
    body = getattr(value, "body", None)
    if isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise AnswerError(f"the returned {type(value).__name__} has no body bytes (a streaming "
                          "or file response); return a Response with its content, a JSON "
                          "value, str or bytes")
    if body and status in _BODILESS:
        raise AnswerError(f"the returned {type(value).__name__} has status {status}, which "
                          f"carries no body, and a body of {len(body)} bytes")
    content_type = None
    headers: list[list[str]] = []
    for raw_name, raw_value in _header_pairs(value):
        try:
            name = _text(raw_name).lower()
            field = _text(raw_value)
        except (UnicodeDecodeError, TypeError) as e:
            raise AnswerError(f"the returned {type(value).__name__} has a header that is not "
                              f"text: {raw_name!r}: {e}") from None
        if name == "content-type":
            content_type = field
        elif name not in RESERVED_FIELDS:
            headers.append([name, field])
    if content_type is None:
        media_type = getattr(value, "media_type", None)
        if isinstance(media_type, str):
            content_type = media_type
    return status, content_type, body, headers


def _header_pairs(value: Any) -> list:
    raw = getattr(value, "raw_headers", None)
    if isinstance(raw, list):
        return raw
    headers = getattr(value, "headers", None)
    if headers is None:
        return []
    if hasattr(headers, "items"):
        return list(headers.items())
    return list(headers)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, str):
        return value
    raise TypeError(f"{type(value).__name__} is neither str nor bytes")


# -- the stand-in for starlette.responses -------------------------------------------------------


class Response:
    """Starlette's ``Response`` as Cortex predictors use it: ``content`` (``bytes``, ``str``
    or None), ``status_code``, ``headers`` (a mapping) and ``media_type``; the ``charset``
    (utf-8) is added to ``text/*`` media types, as Starlette does. ``background`` is accepted
    and ignored (use ``post_predict``)."""

    media_type: str | None = None
    charset = "utf-8"

    def __init__(self, content: Any = None, status_code: int = 200,
                 headers: dict | None = None, media_type: str | None = None,
                 background: Any = None):
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        self.raw_headers = self._header_list(headers)

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if isinstance(content, (bytes, memoryview, bytearray)):
            return bytes(content)
        return content.encode(self.charset)

    def _header_list(self, headers: dict | None) -> list[tuple[bytes, bytes]]:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in (headers or {}).items()]
        names = {name for name, _ in raw}
        if b"content-length" not in names and self.status_code not in _BODILESS:
            raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        if self.media_type is not None and b"content-type" not in names:
            content_type = self.media_type
            if content_type.startswith("text/") and "charset=" not in content_type.lower():
                content_type += "; charset=" + self.charset
            raw.append((b"content-type", content_type.encode("latin-1")))
        return raw

    @property
    def headers(self) -> dict[str, str]:
        """The header fields as a ``dict`` of lower-case names (the last of a repeat wins)."""
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in self.raw_headers}


class PlainTextResponse(Response):
    """A ``text/plain`` answer."""
    media_type = "text/plain"


class HTMLResponse(Response):
    """A ``text/html`` answer."""
    media_type = "text/html"


class JSONResponse(Response):
    """A JSON answer, encoded as Starlette does (UTF-8, no NaN, compact separators)."""
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8")


_CLASSES = {"Response": Response, "PlainTextResponse": PlainTextResponse,
            "HTMLResponse": HTMLResponse, "JSONResponse": JSONResponse}

#: The modules the finder stands in for; the parents only hold ``responses``.
_MODULES = ("starlette", "starlette.responses", "fastapi", "fastapi.responses")


class _FallbackFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``_MODULES`` when no other finder did (it is last on ``sys.meta_path``)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package="." not in fullname)

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        module.__doc__ = (f"Tern's stand-in for {name} ({', '.join(_CLASSES)}): the real "
                          f"package is not installed; add it to requirements.txt for the rest")
        if "." in name:
            module.__dict__.update(_CLASSES)
        else:
            module.__path__ = []


def install_fallback() -> None:
    """Append the stand-in finder to ``sys.meta_path`` (once). An installed Starlette or
    FastAPI is found first and used; the stand-in never shadows it."""
    if not any(isinstance(f, _FallbackFinder) for f in sys.meta_path):
        sys.meta_path.append(_FallbackFinder())
