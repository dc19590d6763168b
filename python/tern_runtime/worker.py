"""Job and queue workers: a BatchAPI worker pulling batches from the control plane, an
AsyncAPI worker pulling requests, and a TaskAPI's one process running its ``Task``.

A worker is started as ``python -m tern_runtime ... --work-url URL --job-file FILE`` with
``TERN_WORK_TOKEN`` in its environment; the protocol (lease, heartbeat, done, failed, complete)
is docs/work-protocol.md. It mirrors Cortex 0.25's batch worker, which pulled messages from SQS
with a visibility timeout it kept extending while ``predict`` ran, and called
``on_job_complete`` once after the last batch; Cortex's AsyncAPI workers pulled requests from a
queue the same way and wrote results back.

Exit codes: 0 finished (or the job is gone), 1 a TaskAPI's task raised, 3 the predictor or
task failed to load, 4 bad job file, 5 the control plane stayed unreachable.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable

from .errors import LoadError, describe_exception, format_traceback
from .loading import import_predictor_class
from .log import log, set_identity
from .payload import PayloadError, ResultError, decode_payload, encode_result
from .responses import AnswerError, answer_parts, is_response
from .signature import accepted_arguments, init_arguments
from .spec import Spec
from .supervise import EXIT_LOAD_FAILED, EXIT_USAGE, watch_parent

EXIT_FINISHED = 0  #: the job is over (or gone)
EXIT_TASK_FAILED = 1  #: a TaskAPI's task raised; the traceback is in the log
EXIT_UNREACHABLE = 5  #: the control plane could not be reached for ``unreachable_seconds``

#: What a BatchAPI predictor's ``predict`` may take (Cortex 0.25: ``payload``, ``batch_id``).
BATCH_ARGUMENTS = ("payload", "batch_id")

#: What an AsyncAPI predictor's ``predict`` may take (Cortex: ``payload``, ``request_id``).
ASYNC_ARGUMENTS = ("payload", "request_id")

_GONE = {401, 404, 410}

#: Longest error message and traceback a failure report carries (the control plane takes work
#: requests of up to 1 MiB; the whole traceback is in the worker's log).
MAX_ERROR_CHARS = 8 << 10
MAX_TRACEBACK_CHARS = 256 << 10

#: Largest AsyncAPI result (bytes) a worker posts; a larger one fails its request (docs/async.md).
MAX_RESULT_BYTES = 64 << 20


def _clip(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and a note of how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters in the worker's log)"


class WorkGone(Exception):
    """The control plane answered 401, 404 or 410: the job or its token no longer exists."""


class Unreachable(Exception):
    """The control plane could not be reached for the whole retry window."""


class WorkClient:
    """The worker's side of the work protocol: JSON POSTs to ``<url>/<path>`` with the bearer
    token, on one kept-alive HTTP/1.1 connection per thread, retried while the control plane
    cannot be reached (``tern serve`` restarting).

    Args:
        url: the queue's base URL, e.g. ``http://127.0.0.1:8889/v1/work/jobs/<id>``.
        token: the job's work token.
        unreachable_seconds: how long to retry a refused or reset connection before raising
            ``Unreachable`` (backoff 0.1 s doubling to 2 s).
        timeout: seconds to wait for one answer.
        ca_file: for an ``https`` URL, a PEM file of certificates to trust besides the system's
            roots (``TERN_WORK_CA_FILE``: the server's own, possibly self-signed, certificate).
            The host name is always checked.
    """

    def __init__(self, url: str, token: str, unreachable_seconds: float = 120.0,
                 timeout: float = 30.0, ca_file: str | None = None):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"work URL must be http(s)://host:port/path, not {url!r}")
        self._tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._tls = ssl.create_default_context()
            if ca_file:
                self._tls.load_verify_locations(cafile=ca_file)
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._base = parts.path.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._unreachable = unreachable_seconds
        self._timeout = timeout
        self._local = threading.local()

    def post(self, path: str, body: dict) -> tuple[int, Any]:
        """POST ``body`` as JSON to ``<url>/<path>``.

        Returns:
            ``(status, decoded JSON or None)`` for any status but 401/404/410.

        Raises:
            WorkGone: the answer was 401, 404 or 410.
            Unreachable: no answer for ``unreachable_seconds``.
        """
        data = json.dumps(body).encode()
        delay, deadline = 0.1, time.monotonic() + self._unreachable
        while True:
            connection = self._connection()
            try:
                connection.request("POST", f"{self._base}/{path}", data, self._headers)
                answer = connection.getresponse()
                raw = answer.read()
                break
            except (OSError, http.client.HTTPException) as e:
                connection.close()
                self._local.connection = None
                if time.monotonic() + delay > deadline:
                    raise Unreachable(f"the control plane at {self._host}:{self._port} has not "
                                      f"answered for {self._unreachable:g} s ({e})") from None
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        if answer.status in _GONE:
            raise WorkGone(f"{answer.status} {raw[:200].decode(errors='replace')}")
        try:
            return answer.status, json.loads(raw) if raw else None
        except ValueError:
            return answer.status, None

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self._tls is not None:
                connection = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                         context=self._tls)
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection


class Heartbeat:
    """Extends the lease of one item every ``lease_seconds / 3`` from a daemon thread until
    ``stop()``; logs and stops when the control plane answers 409 (the lease was lost)."""

    def __init__(self, client: WorkClient, item: str, receipt: str, lease_seconds: float):
        self._client, self._item, self._receipt = client, item, receipt
        self._interval = max(lease_seconds / 3, 0.05)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tern-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop heart-beating (returns at once; the thread ends after its current request)."""
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                status, _ = self._client.post(f"items/{self._item}/heartbeat",
                                              {"receipt": self._receipt})
            except (WorkGone, Unreachable):
                return
            if status == 409:
                log(f"lost the lease of batch {self._item} (it will be delivered again)")
                return


def run_job_worker(spec: Spec) -> int:
    """Run the job worker ``spec`` describes (``spec.work_url`` and ``spec.job_file`` set) and
    return its exit code; the working directory and ``sys.path`` must be prepared."""
    set_identity(spec.replica_id)
    watch_parent(spec.parent_pid, os.getpid())
    # SIGTERM (tern stopping the job or shutting down) ends the worker as a clean exit; an
    # item it held is given back by the control plane.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(EXIT_FINISHED))
    try:
        with open(spec.job_file, "rb") as f:
            job = json.loads(f.read())
        kind = job["kind"]
        config = job.get("config") or {}
        job_spec = job.get("job_spec") or {}
        if not isinstance(config, dict) or not isinstance(job_spec, dict):
            raise ValueError("config and job_spec must be objects")
    except (OSError, ValueError, KeyError, TypeError) as e:
        log(f"cannot read job file {spec.job_file}: {e}")
        return EXIT_USAGE
    if kind == "TaskAPI":
        return run_task(spec, config)
    if kind not in ("BatchAPI", "AsyncAPI"):
        log(f"job kind {kind!r} has no worker in this runtime (BatchAPI, TaskAPI, AsyncAPI)")
        return EXIT_USAGE
    unreachable = float(os.environ.get("TERN_WORK_UNREACHABLE_SECONDS", "120"))
    client = WorkClient(spec.work_url, os.environ.get("TERN_WORK_TOKEN", ""), unreachable,
                        ca_file=os.environ.get("TERN_WORK_CA_FILE") or None)
    try:
        if kind == "BatchAPI":
            predictor = load_queue_predictor(spec.project_dir, spec.path,
                                             {"config": config, "job_spec": job_spec}, BATCH_ARGUMENTS)
        else:
            predictor = load_queue_predictor(spec.project_dir, spec.path, {"config": config},
                                             ASYNC_ARGUMENTS)
    except LoadError as e:
        if e.details:
            sys.stderr.write(e.details)
        log(f"failed to load the predictor of API {spec.api_name}: {e.message}")
        return EXIT_LOAD_FAILED
    worker = BatchWorker if kind == "BatchAPI" else AsyncWorker
    return worker(client, predictor, spec.replica_id).run()


class QueuePredictor:
    """A constructed BatchAPI or AsyncAPI ``PythonPredictor``.

    Attributes:
        predict: ``predict(payload, item_id)``: calls the user's ``predict`` with ``payload``
            and the item id (as ``batch_id`` or ``request_id``), each when it declares it.
        on_job_complete: the bound ``on_job_complete`` method, or None.
    """

    def __init__(self, predict: Callable[[Any, str], Any], on_job_complete: Callable[[], Any] | None):
        self.predict = predict
        self.on_job_complete = on_job_complete


def load_queue_predictor(project_dir: str, path: str, offered: dict,
                         arguments: tuple[str, str]) -> QueuePredictor:
    """Import the predictor file and construct ``PythonPredictor`` with those of ``offered``
    (``config``, a BatchAPI's ``job_spec``) that its ``__init__`` declares.

    Args:
        arguments: ``BATCH_ARGUMENTS`` or ``ASYNC_ARGUMENTS``: ``payload`` and the name the
            item id is passed under.

    Raises:
        LoadError: the file is missing or its import raised, it has no ``PythonPredictor`` with
            a ``predict``, ``predict`` requires something other than ``arguments``, or
            ``__init__`` raised.
    """
    cls = import_predictor_class(project_dir, path, "PythonPredictor")
    accepts = accepted_arguments(cls, "PythonPredictor", "predict", arguments)
    try:
        instance = cls(**init_arguments(cls, offered, uninspectable={"config": offered["config"]}))
    except BaseException as e:
        raise LoadError(f"PythonPredictor.__init__ raised {describe_exception(e)}",
                        format_traceback(e)) from None
    wants_payload, id_name = "payload" in accepts, arguments[1]
    wants_id = id_name in accepts

    def predict(payload: Any, item_id: str) -> Any:
        given = {}
        if wants_payload:
            given["payload"] = payload
        if wants_id:
            given[id_name] = item_id
        return instance.predict(**given)

    complete = getattr(instance, "on_job_complete", None)
    return QueuePredictor(predict, complete if callable(complete) else None)


class BatchWorker:
    """The lease loop of one BatchAPI worker (docs/work-protocol.md, "What a worker does")."""

    def __init__(self, client: WorkClient, predictor: QueuePredictor, worker_id: str):
        self._client, self._predictor, self._id = client, predictor, worker_id

    def run(self) -> int:
        """Lease and process items until the job or queue is over; return the exit code."""
        try:
            while True:
                status, answer = self._client.post("lease", {"worker": self._id})
                if status != 200 or not isinstance(answer, dict):
                    log(f"lease answered {status}; retrying")
                    time.sleep(1.0)
                    continue
                kind = answer.get("type")
                if kind == "item":
                    self._process(answer)
                elif kind == "wait":
                    time.sleep(min(max(float(answer.get("seconds", 0.5)), 0.0), 5.0))
                elif kind == "complete":
                    self._complete()
                elif kind == "exit":
                    return EXIT_FINISHED
                else:
                    log(f"lease answered an unknown type {kind!r}; retrying")
                    time.sleep(1.0)
        except WorkGone:
            return EXIT_FINISHED
        except Unreachable as e:
            log(str(e))
            return EXIT_UNREACHABLE

    def _process(self, item: dict) -> None:
        item_id, receipt = str(item["id"]), str(item["receipt"])
        heartbeat = Heartbeat(self._client, item_id, receipt, float(item.get("lease_seconds", 30)))
        try:
            self._predictor.predict(item.get("payload"), item_id)
        except Exception as e:
            heartbeat.stop()
            details = format_traceback(e)
            sys.stderr.write(details)
            message = describe_exception(e)
            log(f"batch {item_id} failed: {_clip(message, MAX_ERROR_CHARS)}")
            self._report(f"items/{item_id}/failed", {
                "receipt": receipt, "error": _clip(message, MAX_ERROR_CHARS),
                "traceback": _clip(details, MAX_TRACEBACK_CHARS)}, f"batch {item_id}")
            return
        heartbeat.stop()
        self._report(f"items/{item_id}/done", {"receipt": receipt}, f"batch {item_id}")

    def _report(self, path: str, body: dict, item: str) -> None:
        """POST the result or failure of ``item`` (e.g. ``batch 3``) and log what the control
        plane did not take: 409, the lease was lost and another delivery counts; any other answer
        but 2xx, the item comes back (and is dead-lettered after its retries)."""
        status, answer = self._client.post(path, body)
        if status == 409:
            log(f"{item} was done after its lease was lost; the other delivery counts")
        elif status >= 300:
            log(f"the control plane refused the report on {item} ({status}: {answer}); "
                "the item will be delivered again")

    def _complete(self) -> None:
        error = None
        if self._predictor.on_job_complete is not None:
            try:
                self._predictor.on_job_complete()
            except Exception as e:
                sys.stderr.write(format_traceback(e))
                error = f"on_job_complete raised {describe_exception(e)}"
                log(error)
        self._client.post("complete", {"worker": self._id,
                                       "error": None if error is None else _clip(error, MAX_ERROR_CHARS)})


class AsyncWorker(BatchWorker):
    """The lease loop of one AsyncAPI worker: each item is a stored request, decoded by its
    content type as a RealtimeAPI request would be; the result is posted back encoded as a
    RealtimeAPI answer would be (a JSON value, str, bytes, or a Starlette-style response)."""

    def _process(self, item: dict) -> None:
        item_id, receipt = str(item["id"]), str(item["receipt"])
        heartbeat = Heartbeat(self._client, item_id, receipt, float(item.get("lease_seconds", 30)))
        try:
            outcome = self._answer(item_id, item)
        finally:
            heartbeat.stop()
        if isinstance(outcome, str):
            self._report(f"items/{item_id}/failed",
                         {"receipt": receipt, "error": _clip(outcome, MAX_ERROR_CHARS)}, f"request {item_id}")
            return
        status, content_type, body = outcome
        self._report(f"items/{item_id}/done", {
            "receipt": receipt, "status": status, "content_type": content_type,
            "body_base64": base64.b64encode(body).decode("ascii")}, f"request {item_id}")

    def _answer(self, item_id: str, item: dict) -> tuple[int, str, bytes] | str:
        """``(status, content_type, body)``, or the error message of a failed request."""
        try:
            body = base64.b64decode(item.get("body_base64") or "")
            payload = decode_payload(body, item.get("content_type"))
        except PayloadError as e:
            return f"{e.kind}: {e}"
        except ValueError as e:
            return f"bad_request: the stored body is not base64: {e}"
        try:
            result = self._predictor.predict(payload, item_id)
        except Exception as e:
            sys.stderr.write(format_traceback(e))
            message = describe_exception(e)
            log(f"request {item_id} failed: {message}")
            return message
        try:
            if is_response(result):
                status, content_type, data, _ = answer_parts(result)
                content_type = content_type or "application/octet-stream"
            else:
                status, (content_type, data) = 200, encode_result(result)
            if len(data) > MAX_RESULT_BYTES:
                raise ResultError(f"the result is {len(data)} bytes; an AsyncAPI result may be "
                                  f"at most {MAX_RESULT_BYTES} bytes")
            return status, content_type, data
        except (ResultError, AnswerError) as e:
            log(f"request {item_id}: {e}")
            return f"invalid_response: {e}"


def run_task(spec: Spec, config: dict) -> int:
    """Import the TaskAPI's file, construct ``Task()`` and call ``task(config)`` once.

    Returns:
        0 when it returned, 1 when it raised (traceback on stderr), 3 when it could not be
        imported or constructed.
    """
    try:
        cls = import_predictor_class(spec.project_dir, spec.path, "Task", method="__call__")
        accepts = accepted_arguments(cls, "Task", "__call__", ("config",))
        task = cls()
    except LoadError as e:
        if e.details:
            sys.stderr.write(e.details)
        log(f"failed to load the task of API {spec.api_name}: {e.message}")
        return EXIT_LOAD_FAILED
    except BaseException as e:
        sys.stderr.write(format_traceback(e))
        log(f"Task.__init__ raised {describe_exception(e)}")
        return EXIT_LOAD_FAILED
    started = time.monotonic()
    try:
        task(**({"config": config} if "config" in accepts else {}))
    except Exception as e:
        sys.stderr.write(format_traceback(e))
        log(f"the task raised {describe_exception(e)} after {time.monotonic() - started:.1f} s")
        return EXIT_TASK_FAILED
    log(f"the task finished in {time.monotonic() - started:.1f} s")
    return EXIT_FINISHED
