"""Strict JSON decoding and encoding, with ``orjson`` as an optional speed-up.

The standard library defines the behaviour; ``orjson`` is used only when it is importable and
only where it gives the same result. Whenever ``orjson`` refuses an input, or might differ
from the standard library on it, the standard-library path runs and decides. Observable
behaviour is therefore the same with or without ``orjson``: the same values, the same errors
and the same error messages (number spelling in encoded output may differ, e.g. ``1e-07``
versus ``1e-7``; both are the same JSON number).

Decoding is strict RFC 8259 JSON in UTF-8: no byte-order mark, no ``NaN``/``Infinity``
literals, no trailing data. Encoding is compact UTF-8 and refuses ``NaN`` and infinities.
"""

from __future__ import annotations

import array
import enum
import itertools
import json
import re
import sys
import uuid
from typing import Any

try:  # optional speed-up, see the module docstring
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

_BOM = b"\xef\xbb\xbf"


class JSONDecodeFailure(ValueError):
    """A body is not valid JSON. ``str()`` gives the reason with line and column (1-based)."""


class JSONEncodeFailure(ValueError):
    """A value cannot be encoded as JSON. ``str()`` gives the reason."""


def using_orjson() -> bool:
    """Tell whether the ``orjson`` speed-up is active in this process."""
    return _orjson is not None


# ---------------------------------------------------------------------------------------------
# Decoding


class _Constant(Exception):
    """Raised by the decoder on ``NaN``, ``Infinity`` or ``-Infinity`` (not JSON)."""


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


_decoder = json.JSONDecoder(parse_constant=_reject_constant)


class _OutOfRange(Exception):
    """Raised by the ``finite`` decoder on a number literal that overflows a float."""


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (_INF, -_INF):
        raise _OutOfRange(literal)
    return value


_INF = float("inf")
_finite_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)

# Tokens that matter when locating an error the standard decoder reports without a position.
_STRING = r'"(?:[^"\\]|\\.)*"'
_CONSTANT_RE = re.compile(_STRING + r"|(-?Infinity|NaN)", re.DOTALL)
_NUMBER_RE = re.compile(_STRING + r"|-?([0-9]+)", re.DOTALL)
_FLOAT_RE = re.compile(_STRING + r"|(-?[0-9][0-9.eE+-]*)", re.DOTALL)
_JSON_WHITESPACE = " \t\n\r"  # RFC 8259's insignificant whitespace
_BRACKET_RE = re.compile(_STRING + r"|([\[{])|[\]}]", re.DOTALL)

# orjson reads integers that do not fit in 64 bits as floats, where the standard library
# keeps them as ints: any run of 19 or more digits sends the body to the standard path.
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS = b"0" * 19
# Some orjson versions accept any nesting depth, where the standard library gives up near the
# interpreter's recursion limit (about 1000): deeper bodies go to the standard path.
_MAX_FAST_DEPTH = 512
_STRING_BYTES_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def loads(body: bytes, *, finite: bool = False) -> Any:
    """Decode a JSON body.

    Args:
        body: the raw request body (UTF-8 JSON text). Callers reject empty bodies first.
        finite: also refuse numbers too large for a 64-bit float (``1e999``), which the
            standard library reads as infinity. Decodes with the standard library only.

    Returns:
        The decoded value (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``).

    Raises:
        JSONDecodeFailure: the body is not strict JSON (or, with ``finite``, holds a number
            out of a float's range); the message names line and column.
    """
    if finite:
        return _loads_std(body, _finite_decoder)
    if _orjson is not None and _orjson_agrees(body):
        try:
            return _orjson.loads(body)
        except Exception:
            pass  # the standard path below decides, with its own message
    return _loads_std(body)


def _orjson_agrees(body: bytes) -> bool:
    """Tell whether orjson, if it accepts ``body``, returns what the standard path would.
    Costs a few C-speed passes over the body (about 2 ms per MB on this class of machine)."""
    if body.startswith(_BOM) or _LONG_DIGITS in body.translate(_DIGIT_MAP):
        return False
    if body.count(b"[") + body.count(b"{") <= _MAX_FAST_DEPTH:
        return True
    brackets = _STRING_BYTES_RE.sub(b"", body).translate(None, _NOT_BRACKETS)
    steps = array.array("b", brackets.translate(_BRACKET_STEPS))
    return max(itertools.accumulate(steps), default=0) <= _MAX_FAST_DEPTH


def _loads_std(body: bytes, decoder: json.JSONDecoder = _decoder) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _byte_position(body, e.start)
        raise JSONDecodeFailure(
            f"invalid UTF-8 at line {line}, column {column} (byte {e.start})"
        ) from None
    if text.startswith("\ufeff"):
        raise JSONDecodeFailure(
            "unexpected UTF-8 byte-order mark at line 1, column 1 (send JSON without a BOM)"
        )
    try:
        # Fast path: the decoder's own C scanner, when the text is one JSON value from its first
        # character, followed by nothing but JSON whitespace (a body written by a tool or an
        # editor often ends in a newline). Anything else goes through ``decode``, which decides
        # the result and the error message exactly as before.
        try:
            value, end = decoder.scan_once(text, 0)
        except StopIteration:
            end = -1
        if end == len(text) or (end > 0 and not text[end:].strip(_JSON_WHITESPACE)):
            return value
        return decoder.decode(text)
    except json.JSONDecodeError as e:
        message = f"{e.msg} at line {e.lineno}, column {e.colno}"
    except _Constant as e:
        at = _locate(text, _CONSTANT_RE, lambda m: m.group(1) is not None)
        message = f"{e.args[0]} is not valid JSON at {at}"
    except _OutOfRange as e:
        at = _locate(text, _FLOAT_RE, lambda m: m.group(1) == e.args[0])
        message = f"number {e.args[0]} is out of the range of a 64-bit float at {at}"
    except RecursionError:
        at, depth = _deepest(text)
        message = f"nested too deeply ({depth} levels) at {at}"
    except ValueError as e:  # e.g. an integer longer than sys.get_int_max_str_digits()
        limit = getattr(sys, "get_int_max_str_digits", lambda: 0)() or 0
        at = _locate(
            text, _NUMBER_RE, lambda m: m.group(1) is not None and len(m.group(1)) > limit
        )
        if limit and "digits" in str(e):
            message = f"integer with more than {limit} digits at {at}"
        else:
            message = f"{e} at {at}"
    raise JSONDecodeFailure(message)


def _line_column(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return f"line {line}, column {column}"


def _byte_position(body: bytes, pos: int) -> tuple[int, int]:
    line = body.count(b"\n", 0, pos) + 1
    start = body.rfind(b"\n", 0, pos) + 1
    return line, len(body[start:pos].decode("utf-8")) + 1


def _locate(text: str, pattern: re.Pattern, hit) -> str:
    for match in pattern.finditer(text):
        if hit(match):
            return _line_column(text, match.start())
    return _line_column(text, 0)


def _deepest(text: str) -> tuple[str, int]:
    depth = deepest = where = 0
    for match in _BRACKET_RE.finditer(text):
        token = match.group(0)
        if token[0] == '"':
            continue
        if match.group(1) is not None:
            depth += 1
            if depth > deepest:
                deepest, where = depth, match.start()
        else:
            depth -= 1
    return _line_column(text, where), deepest


# ---------------------------------------------------------------------------------------------
# Encoding


def _default(value: Any) -> Any:
    """Encode the few non-JSON types both paths agree on: UUIDs as strings, enums by value."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
)

if _orjson is not None:
    # Types the standard library encodes differently go to `_default`, which refuses them,
    # so the standard path below decides.
    _ORJSON_OPTIONS = (
        _orjson.OPT_PASSTHROUGH_SUBCLASS
        | _orjson.OPT_PASSTHROUGH_DATETIME
        | _orjson.OPT_PASSTHROUGH_DATACLASS
    )


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON.

    ``dict``, ``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool`` and ``None`` encode as
    usual (``dict`` keys that are numbers, booleans or ``None`` become strings);
    ``uuid.UUID`` encodes as its string and ``enum.Enum`` members as their value.

    Raises:
        JSONEncodeFailure: the value holds NaN or an infinity, another type, a circular
            reference, or a string that is not valid Unicode (lone surrogates).
    """
    if _orjson is not None:
        try:
            out = _orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS)
        except Exception:
            pass
        else:
            # orjson writes NaN and infinities as null: only a null-free output is certain.
            if b"null" not in out:
                return out
    return _dumps_std(value)


def _dumps_std(value: Any) -> bytes:
    try:
        return _encoder.encode(value).encode("utf-8")
    except ValueError as e:
        if "Out of range float" in str(e):
            raise JSONEncodeFailure(
                "NaN and Infinity are not JSON (the result holds one)"
            ) from None
        raise JSONEncodeFailure(str(e)) from None
    except RecursionError:
        raise JSONEncodeFailure("the result is nested too deeply") from None
    except Exception as e:  # TypeError from _default, errors raised by user objects
        raise JSONEncodeFailure(f"{e}") from None


def dumps_header(header: dict) -> bytes:
    """Encode a frame header (a small ``dict`` of JSON-safe values) as UTF-8 JSON bytes."""
    if _orjson is not None:
        try:
            return _orjson.dumps(header)
        except Exception:
            pass
    return json.dumps(header, separators=(",", ":")).encode("ascii")


def loads_header(data: bytes) -> Any:
    """Decode a frame header. Raises ``ValueError`` (incl. ``UnicodeDecodeError``) if invalid."""
    if _orjson is not None:
        return _orjson.loads(data)
    text = data.decode("utf-8")
    try:  # the C scanner alone when the header is exactly one JSON value (see ``_loads_std``)
        value, end = _header_scan(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else json.loads(text)


_header_scan = json.JSONDecoder().scan_once
