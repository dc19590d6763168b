"""Length-prefixed frames on a stream socket.

A frame is ``u32 header length``, ``u32 body length`` (both big-endian), the header (a UTF-8
JSON object) and the body (raw bytes). Header at most 1 MiB, body at most 1 GiB.
"""

from __future__ import annotations

import socket
import struct
from typing import BinaryIO

from . import jsoncodec

MAX_HEADER = 1 << 20  #: bytes
MAX_BODY = 1 << 30  #: bytes

_PREFIX = struct.Struct(">II")
_COPY_LIMIT = 1 << 16  # bodies up to this size are copied behind the header: one send


class FrameError(Exception):
    """The peer broke the framing (over a limit, cut short, header not a JSON object).
    The connection cannot be used any more and must be closed."""


def read_frame(rfile: BinaryIO) -> tuple[dict, bytes] | None:
    """Read one frame.

    Args:
        rfile: a buffered binary reader over the socket (``sock.makefile("rb")``); small frames
            then cost one ``recv``.

    Returns:
        ``(header, body)``, or ``None`` when the peer closed the connection between frames.

    Raises:
        FrameError: a length over its limit, a frame cut short, or a header that is not a JSON
            object.
        OSError: the socket failed.
    """
    prefix = rfile.read(8)
    if not prefix:
        return None
    if len(prefix) != 8:
        raise FrameError("connection closed inside a frame prefix")
    header_length, body_length = _PREFIX.unpack(prefix)
    if header_length > MAX_HEADER:
        raise FrameError(f"header of {header_length} bytes is over the limit of {MAX_HEADER}")
    if body_length > MAX_BODY:
        raise FrameError(f"body of {body_length} bytes is over the limit of {MAX_BODY}")
    raw_header = rfile.read(header_length)
    body = rfile.read(body_length) if body_length else b""
    if len(raw_header) != header_length or len(body) != body_length:
        raise FrameError("connection closed inside a frame")
    try:
        header = jsoncodec.loads_header(raw_header)
    except ValueError as e:
        raise FrameError(f"frame header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise FrameError("frame header is not a JSON object")
    return header, body


def send_frame(sock: socket.socket, header: dict | bytes, body: bytes = b"") -> None:
    """Send one frame with as few system calls as possible (usually one).

    Args:
        sock: a connected stream socket.
        header: a ``dict`` of JSON values, or the header already encoded as JSON ``bytes``.
        body: the raw body, at most ``MAX_BODY`` bytes (callers check).

    Raises:
        OSError: the socket failed (e.g. the peer closed it).
    """
    raw_header = header if type(header) is bytes else jsoncodec.dumps_header(header)
    head = _PREFIX.pack(len(raw_header), len(body)) + raw_header
    if len(body) <= _COPY_LIMIT:
        sock.sendall(head + body if body else head)
        return
    # Large body: gather both buffers in one sendmsg, without copying the body.
    buffers = [memoryview(head), memoryview(body)]
    while buffers:
        sent = sock.sendmsg(buffers)
        while buffers and sent >= len(buffers[0]):
            sent -= len(buffers[0])
            buffers.pop(0)
        if buffers and sent:
            buffers[0] = buffers[0][sent:]
