"""One worker: a Unix socket, one thread per connection, hello/predict/predict_batch/
v2_metadata/v2_infer/health frames, each dispatched through the worker's table of frame kinds
(an unknown kind is answered 400 ``unknown_kind`` and the connection stays open).

``Worker.serve`` binds the socket only after the predictor is loaded (the socket appearing
means ``__init__`` returned), under a temporary name renamed into place, so the path appears
atomically. On SIGTERM (or SIGINT) it stops accepting, removes the socket, lets running
predictions finish and send their responses, closes idle connections and returns 0.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
import socket
import sys
import threading
import time

from . import PROTOCOL_VERSION, __version__, v2
from .batch import BatchError, BatchOutcome, check_result, decode_arguments, split_items
from .errors import ModelNotFound, describe_exception, format_traceback
from .frames import MAX_BODY, FrameError, read_frame, send_frame
from .loading import Predictor
from .log import log
from .payload import (JSON, OCTET_STREAM, TEXT, PayloadError, ResultError, decode_payload,
                      encode_result, parse_query)
from .responses import AnswerError, answer_parts, is_response

_READ_BUFFER = 1 << 16  # bytes; a small request arrives with one recv
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_TRANSIENT_ACCEPT_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                            errno.ECONNABORTED)


class _Stop(Exception):
    """Raised by the signal handler to leave the accept loop."""


class Worker:
    """Serves one loaded predictor on ``socket_path``.

    Args:
        predictor: the loaded predictor.
        index: the worker index (``worker`` in ``hello``).
        socket_path: where the socket must appear (``<dir>/worker-<index>.sock``).
        temporary_path: where to bind before renaming into ``socket_path``.
        threads: at most this many predictions run at once (``threads_per_process``); other
            predict frames wait. Health and hello never wait.
    """

    def __init__(self, predictor: Predictor, index: int, socket_path: str,
                 temporary_path: str, threads: int):
        self._predictor = predictor
        self._index = index
        self._socket_path = socket_path
        self._temporary_path = temporary_path
        # One thread: a plain (C-implemented) lock does the job of the semaphore at a fraction
        # of its cost (``BoundedSemaphore`` is Python code around a ``Condition``).
        self._slots = threading.Lock() if threads == 1 else threading.BoundedSemaphore(threads)
        # ``_lock`` guards the fields below; predictions take it directly (a C-level ``with``)
        # and wake ``_state`` only once a stop is under way (``_drain`` waits on it).
        self._lock = threading.Lock()
        self._state = threading.Condition(self._lock)
        self._in_flight = 0  # predict frames read and not yet answered
        self._closed = False  # set once draining is over: no new predict starts
        self._stopping = False  # a stop signal arrived
        self._connections: set[socket.socket] = set()
        # Frame kind → ``handler(connection, header, body)``, False to close the connection; in
        # the order the unknown-kind answer lists them. ``partial`` (C code) binds each predict
        # kind's runner without a Python frame of its own.
        if predictor.post_predict is None:
            predict = functools.partial(self._predict, self._run_predict)
        else:
            predict = functools.partial(self._predict, self._run_predict, after=self._post_predict)
            if predictor.batched:
                log("post_predict is not called for batches (server_side_batching is on)")
        self._handlers = {
            "hello": self._hello,
            "predict": predict,
            "predict_batch": functools.partial(self._predict, self._run_predict_batch),
            "v2_metadata": self._v2_metadata,  # Open Inference Protocol (``v2``)
            "v2_infer": functools.partial(self._predict, self._run_v2_infer),
            "health": self._health,
        }
        self._unknown_kind_hint = f"this runtime knows {', '.join(self._handlers)}"

    # -- lifecycle ------------------------------------------------------------------------------

    def serve(self) -> int:
        """Bind, serve until SIGTERM/SIGINT, drain, and return the exit code (0).

        Must run on the main thread (it installs signal handlers).

        Raises:
            OSError: the socket could not be bound or renamed into place.
        """
        listener = self._bind()
        try:
            for s in _STOP_SIGNALS:
                signal.signal(s, self._on_signal)
            log(f"ready: serving {self._socket_path}")
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError as e:
                    if e.errno not in _TRANSIENT_ACCEPT_ERRORS:
                        raise
                    log(f"accept failed: {e}; retrying")
                    time.sleep(0.1)
                    continue
                self._start_connection(connection)
        except _Stop:
            pass
        finally:
            for s in _STOP_SIGNALS:
                signal.signal(s, signal.SIG_IGN)
            listener.close()
            _unlink(self._socket_path)
        self._drain()
        return 0

    def _bind(self) -> socket.socket:
        _unlink(self._temporary_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self._temporary_path)
            listener.listen(128)
            os.rename(self._temporary_path, self._socket_path)
        except BaseException:
            listener.close()
            _unlink(self._temporary_path)
            raise
        return listener

    def _on_signal(self, signum, frame):
        if not self._stopping:
            self._stopping = True
            raise _Stop()

    def _drain(self) -> None:
        with self._state:
            if self._in_flight:
                log(f"stopping: waiting for {self._in_flight} running prediction(s)")
            while self._in_flight:
                self._state.wait()
            self._closed = True
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        log("stopped")

    def _start_connection(self, connection: socket.socket) -> None:
        with self._state:
            self._connections.add(connection)
        thread = threading.Thread(
            target=self._serve_connection, args=(connection,), name="tern-connection",
            daemon=True,
        )
        thread.start()

    # -- one connection -------------------------------------------------------------------------

    def _serve_connection(self, connection: socket.socket) -> None:
        rfile = connection.makefile("rb", buffering=_READ_BUFFER)
        handlers = self._handlers
        try:
            while True:
                frame = read_frame(rfile)
                if frame is None:
                    return
                header, body = frame
                kind = header.get("kind")
                try:
                    handler = handlers[kind]
                except (KeyError, TypeError):  # TypeError: a JSON list or object as the kind
                    handler = None
                if handler is None:
                    send_frame(connection, _error(
                        header, 400, "unknown_kind",
                        f"unknown frame kind {kind!r}; {self._unknown_kind_hint}",
                    ))
                elif not handler(connection, header, body):
                    return
        except FrameError as e:
            log(f"closing a connection: {e}")
        except OSError:
            pass  # the peer went away
        finally:
            with self._state:
                self._connections.discard(connection)
            rfile.close()
            connection.close()

    def _hello(self, connection: socket.socket, header: dict, body: bytes) -> bool:
        """Answer hello; return False (close the connection) on a protocol mismatch."""
        protocol = header.get("protocol")
        if protocol != PROTOCOL_VERSION or isinstance(protocol, bool):
            response = _error(
                header, 505, "unsupported_protocol",
                f"this runtime speaks protocol {PROTOCOL_VERSION}, not {protocol!r}",
            )
            response.update(kind="hello", protocol=PROTOCOL_VERSION)
            send_frame(connection, response)
            return False
        send_frame(connection, {
            "kind": "hello", "id": header.get("id"), "status": 200,
            "protocol": PROTOCOL_VERSION, "pid": os.getpid(), "worker": self._index,
            "runtime": __version__, "accepts": self._predictor.hello_accepts,
        })
        return True

    def _health(self, connection: socket.socket, header: dict, body: bytes) -> bool:
        """Answer health with 200 (never waits for a prediction slot)."""
        send_frame(connection, {"id": header.get("id"), "status": 200})
        return True

    def _v2_metadata(self, connection: socket.socket, header: dict, body: bytes) -> bool:
        """Answer v2_metadata (see ``v2.handle_metadata``); no prediction slot."""
        send_frame(connection, *v2.handle_metadata(self._predictor, header))
        return True

    def _predict(self, run, connection: socket.socket, header: dict, body: bytes,
                 after=None) -> bool:
        """Run one prediction (``run`` is ``_run_predict``, ``_run_predict_batch`` or
        ``_run_v2_infer``) and send its response; return False if the worker is closing.

        With ``after`` (``_post_predict``), ``run`` also gets a list to keep what ``predict``
        returned and its arguments in, and ``after(header, kept)`` runs once the response is
        sent, still counted in flight (a stop waits for it)."""
        lock = self._lock
        with lock:
            if self._closed:
                return False
            self._in_flight += 1
        try:
            if after is None:
                response, response_body = run(header, body)
                send_frame(connection, response, response_body)
            else:
                kept = []
                response, response_body = run(header, body, kept)
                send_frame(connection, response, response_body)
                if kept:
                    after(header, kept)
        finally:
            with lock:
                self._in_flight -= 1
                # ``_stopping`` is set before ``_drain`` waits, so no wake-up is lost.
                if self._stopping and not self._in_flight:
                    self._state.notify_all()
        return True

    def _run_predict(self, header: dict, body: bytes, kept: list | None = None
                     ) -> tuple[dict | bytes, bytes]:
        """One ``predict`` call. A returned response object (Starlette's ``Response`` family)
        gives the answer's status, content type, header fields and body. On success, with
        ``kept``, appends what ``predict`` returned and the arguments it got."""
        predictor = self._predictor
        arguments = {}
        try:
            if predictor.wants_payload:
                arguments["payload"] = decode_payload(body, header.get("content_type"))
        except PayloadError as e:
            return _error(header, 400, e.kind, e.message), b""
        if predictor.wants_query:
            arguments["query_params"] = parse_query(header.get("query"))
        if predictor.wants_headers:
            arguments["headers"] = _predictor_headers(header)
        traceparent = header.get("traceparent")

        with self._slots:
            if traceparent is not None:
                started_unix_ns = time.time_ns()
            started = time.perf_counter_ns()
            try:
                result = predictor.predict(**arguments)
            except ModelNotFound as e:
                timing = {"predict_us": (time.perf_counter_ns() - started) // 1000}
                response = _error(header, 404, "model_not_found", str(e))
                response["timing"] = timing
                return response, b""
            except BaseException as e:  # SystemExit and KeyboardInterrupt included
                timing = {"predict_us": (time.perf_counter_ns() - started) // 1000}
                _log_traceback(header.get("request_id"), e)
                response = _error(header, 500, "predictor_error", describe_exception(e))
                response["timing"] = timing
                return response, b""
            timing = {"predict_us": (time.perf_counter_ns() - started) // 1000}
        if traceparent is not None:
            timing["started_unix_ns"] = started_unix_ns
        if type(result) not in _PLAIN_RESULTS and is_response(result):
            response, response_body = _response_answer(header, result, timing)
            if kept is not None and "error" not in response:
                kept += (result, arguments, body)
            return response, response_body
        try:
            content_type, response_body = encode_result(result)
            if len(response_body) > MAX_BODY:
                raise ResultError(
                    f"the result is {len(response_body)} bytes; the limit is {MAX_BODY}"
                )
        except ResultError as e:
            response = _error(header, 500, "invalid_response", e.message)
            response["timing"] = timing
            return response, b""
        if kept is not None:
            kept += (result, arguments, body)
        return _success_header(header.get("id"), content_type, timing), response_body

    def _post_predict(self, header: dict, kept: list) -> None:
        """Call ``post_predict`` (after the answer was sent) with what ``predict`` returned as
        ``response`` and the request's payload, query parameters and headers, as Cortex 0.25
        did; it takes a prediction slot like ``predict``. An exception is logged with its
        traceback and changes nothing else."""
        predictor = self._predictor
        result, arguments, body = kept
        offered = {}
        for name in predictor.post_accepts:
            if name == "response":
                offered[name] = result
            elif name in arguments:
                offered[name] = arguments[name]
            elif name == "query_params":
                offered[name] = parse_query(header.get("query"))
            elif name == "headers":
                offered[name] = _predictor_headers(header)
            else:  # payload, which predict does not take: decoded here, raw if it cannot be
                try:
                    offered[name] = decode_payload(body, header.get("content_type"))
                except PayloadError:
                    offered[name] = body
        with self._slots:
            try:
                predictor.post_predict(**offered)
            except BaseException as e:
                log(f"post_predict raised {describe_exception(e)} "
                    f"(request {header.get('request_id')})")
                _log_traceback(header.get("request_id"), e)

    def _run_v2_infer(self, header: dict, body: bytes) -> tuple[dict, bytes]:
        """One Open Inference Protocol inference (see ``v2.handle_infer``)."""
        return v2.handle_infer(self._predictor, header, body, self._slots,
                               lambda e: _log_traceback(header.get("request_id"), e))

    def _run_predict_batch(self, header: dict, body: bytes) -> tuple[dict, bytes]:
        """One ``predict`` call for every item of a ``predict_batch`` frame (see ``batch``)."""
        try:
            items = split_items(header, body)
        except BatchError as e:
            return _error(header, 400, "invalid_batch", str(e)), b""
        predictor = self._predictor
        outcome = BatchOutcome(len(items))
        indexes, arguments = decode_arguments(items, predictor.accepts, outcome)
        if not indexes:
            return outcome.frame(header, None)
        request_ids = header.get("request_ids")
        if isinstance(request_ids, list) and len(request_ids) == len(items):
            tag = ",".join(str(request_ids[i]) for i in indexes)
        else:
            tag = header.get("request_id")
        with self._slots:
            started = time.perf_counter_ns()
            try:
                result = predictor.predict(**arguments)
                failure = None
            except ModelNotFound as e:
                failure = ("model_not_found", str(e), 404)
            except BaseException as e:  # SystemExit and KeyboardInterrupt included
                _log_traceback(tag, e)
                failure = ("predictor_error", describe_exception(e), 500)
            timing = {"predict_us": (time.perf_counter_ns() - started) // 1000}
        if failure is None:
            problem = check_result(result, len(indexes))
            if problem is not None:
                failure = ("invalid_response", problem, 500)
        for position, index in enumerate(indexes):
            if failure is None:
                outcome.answer(index, result[position])
            else:
                outcome.fail(index, failure[2], failure[0], failure[1])
        return outcome.frame(header, timing)


#: Types ``predict`` returns that are never response objects (checked before ``is_response``).
_PLAIN_RESULTS = frozenset({dict, list, str, bytes, int, float, bool, type(None), tuple})


def _response_answer(header: dict, result, timing: dict) -> tuple[dict, bytes]:
    """The frame for a returned response object: its status, content type, header fields
    (``headers``: ``[name, value]`` pairs) and body; 500 ``invalid_response`` if it cannot be
    sent (see ``responses.answer_parts``)."""
    try:
        status, content_type, body, fields = answer_parts(result)
        if len(body) > MAX_BODY:
            raise AnswerError(f"the result is {len(body)} bytes; the limit is {MAX_BODY}")
    except AnswerError as e:
        response = _error(header, 500, "invalid_response", str(e))
        response["timing"] = timing
        return response, b""
    response = {"id": header.get("id"), "status": status, "timing": timing}
    if content_type is not None:
        response["content_type"] = content_type
    if fields:
        response["headers"] = fields
    return response, body


_SUCCESS_HEADERS = {  # the content types of ``encode_result``, pre-encoded
    content_type: (b'{"id":%d,"status":200,"content_type":"' + content_type.encode()
                   + b'","timing":{"predict_us":%d}}')
    for content_type in (JSON, TEXT, OCTET_STREAM)
}


def _success_header(frame_id, content_type: str, timing: dict) -> dict | bytes:
    """The header of a successful ``predict`` response: pre-encoded JSON bytes for the usual
    case (an ``int`` id, one of ``encode_result``'s content types, ``timing`` with
    ``predict_us`` only), else a ``dict`` (a traced request's ``timing`` also has
    ``started_unix_ns``). ``send_frame`` takes either."""
    template = _SUCCESS_HEADERS.get(content_type)
    if template is not None and type(frame_id) is int and len(timing) == 1:
        return template % (frame_id, timing["predict_us"])
    return {"id": frame_id, "status": 200, "content_type": content_type, "timing": timing}


def _predictor_headers(header: dict) -> dict:
    """The ``headers`` a predictor gets: the request's fields (names lower-cased), with the
    frame's ``traceparent`` in place of the client's when the gateway traces the request (it
    names the gateway's replica span, so a call the predictor makes with it continues the
    trace; docs/tracing.md)."""
    fields = header.get("headers") or {}
    traceparent = header.get("traceparent")
    if traceparent is not None:
        fields = dict(fields)
        fields["traceparent"] = traceparent
    return fields


def _error(header: dict, status: int, kind: str, message: str) -> dict:
    return {"id": header.get("id"), "status": status,
            "error": {"kind": kind, "message": message}}


def _log_traceback(request_id, error: BaseException) -> None:
    """Write the traceback to stderr in one write, each line prefixed with the request id."""
    try:
        text = format_traceback(error)
    except BaseException:  # a broken exception object must not break the connection
        text = describe_exception(error)
    prefix = f"[{request_id}] "
    sys.stderr.write("".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n")))
    sys.stderr.flush()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
