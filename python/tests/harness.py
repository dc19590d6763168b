"""Test helpers: start the real runtime as a subprocess and talk frames to it.

Nothing here imports ``tern_runtime``: the tests see the runtime only as the Swift gateway
will, through ``python -m tern_runtime`` and its Unix sockets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(PYTHON_DIR)
FIXTURES = os.path.join(REPO, "Tests", "fixtures")

_PREFIX = struct.Struct(">II")


#: The real Starlette, installed apart from .venv by scripts/setup-python.sh.
STARLETTE_DIR = os.path.join(REPO, ".python-extras", "starlette")


def runtime_env(extra_path: tuple[str, ...] = ()) -> dict:
    """The environment the supervisor gives a replica (PYTHONPATH holds the runtime), with
    ``extra_path`` after it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join((PYTHON_DIR, *extra_path))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def make_spec(fixture: str, project_dir: str | None = None, **predictor) -> dict:
    """The replica spec for a fixture (or a project dir), with predictor keys overridden."""
    spec = {
        "api_name": fixture,
        "project_dir": project_dir or os.path.join(FIXTURES, fixture),
        "predictor": {"type": "python", "path": "predictor.py", "config": {},
                      "python_path": None, "processes_per_replica": 1,
                      "threads_per_process": 1},
    }
    spec["predictor"].update(predictor)
    return spec


def make_project(files: dict) -> str:
    """A temporary project directory holding ``files`` (relative path → text)."""
    directory = tempfile.mkdtemp(prefix="tern-project-")
    for name, text in files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return directory


def runtime_command(spec_file: str, socket_dir: str, parent_pid: int) -> list[str]:
    """The command line the supervisor runs."""
    return [sys.executable, "-m", "tern_runtime", "--spec", spec_file, "--socket-dir",
            socket_dir, "--replica-id", "test-replica", "--parent-pid", str(parent_pid)]


class Runtime:
    """One runtime subprocess on a temporary socket directory.

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(self, fixture: str, project_dir: str | None = None,
                 extra_path: tuple[str, ...] = (), **predictor):
        self.spec = make_spec(fixture, project_dir, **predictor)
        self.extra_path = extra_path
        self.dir = tempfile.mkdtemp(prefix="tern-rt-")
        self.socket_dir = os.path.join(self.dir, "sockets")
        self.spec_file = os.path.join(self.dir, "spec.json")
        self.stderr_path = os.path.join(self.dir, "stderr.txt")
        self.proc: subprocess.Popen | None = None
        self._clients: list[Client] = []

    def start(self, wait_ready: bool = True) -> "Runtime":
        """Start the runtime; with ``wait_ready``, wait until every worker socket exists."""
        with open(self.spec_file, "w") as f:
            json.dump(self.spec, f)
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            runtime_command(self.spec_file, self.socket_dir, os.getpid()),
            cwd=self.spec["project_dir"], env=runtime_env(self.extra_path),
            stdin=subprocess.DEVNULL,
            stdout=self._stderr, stderr=self._stderr, start_new_session=True,
        )
        if wait_ready:
            count = self.spec["predictor"]["processes_per_replica"]
            for i in range(count):
                self.wait_socket(i)
        return self

    def socket_path(self, worker: int = 0) -> str:
        return os.path.join(self.socket_dir, f"worker-{worker}.sock")

    def wait_socket(self, worker: int = 0, timeout: float = 20.0) -> None:
        """Wait for ``worker-<worker>.sock``; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket_path(worker)):
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"runtime exited with {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no socket after {timeout} s:\n{self.stderr()}")
            time.sleep(0.02)

    def connect(self, worker: int = 0, hello: bool = True) -> "Client":
        """A new connection to a worker, after a successful hello unless ``hello=False``."""
        client = Client(self.socket_path(worker))
        self._clients.append(client)
        if hello:
            header, _ = client.request({"kind": "hello", "id": 0, "protocol": 1})
            assert header["status"] == 200, header
            client.hello = header
        return client

    def stderr(self) -> str:
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Close clients; SIGTERM, then SIGKILL the process group if it is still up after 5 s."""
        for client in self._clients:
            client.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc is not None:
            _kill_group(self.proc.pid)
            self._stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Runtime":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Client:
    """One connection speaking frames; ``request`` sends a frame and reads the answer."""

    def __init__(self, path: str, timeout: float = 20.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")
        self.hello: dict | None = None
        self._next_id = 1

    def send(self, header: dict, body: bytes = b"") -> None:
        raw = json.dumps(header).encode()
        self.sock.sendall(_PREFIX.pack(len(raw), len(body)) + raw + body)

    def receive(self) -> tuple[dict, bytes] | None:
        """The next frame, or None when the runtime closed the connection."""
        prefix = self.rfile.read(8)
        if len(prefix) < 8:
            return None
        header_length, body_length = _PREFIX.unpack(prefix)
        header = json.loads(self.rfile.read(header_length))
        return header, self.rfile.read(body_length)

    def request(self, header: dict, body: bytes = b"") -> tuple[dict, bytes]:
        self.send(header, body)
        frame = self.receive()
        assert frame is not None, "connection closed by the runtime"
        return frame

    def predict(self, body: bytes = b"", content_type: str | None = "application/json",
                **fields) -> tuple[dict, bytes]:
        """Send a predict frame; returns ``(header, body)`` of the answer."""
        header = {"kind": "predict", "id": self._next_id, "request_id": f"req-{self._next_id}",
                  "path": "/test", "query": ""}
        self._next_id += 1
        if content_type is not None:
            header["content_type"] = content_type
        header.update(fields)
        return self.request(header, body)

    def predict_batch(self, items: list, request_ids: list | None = None,
                      **fields) -> tuple[dict, list[bytes]]:
        """Send a predict_batch frame. ``items`` are ``bytes`` bodies (sent as JSON) or dicts
        ``{"body": bytes, "content_type": ..., "query": ..., "headers": ...}``.

        Returns ``(header, bodies)``: the answer's header and its body split by the items'
        lengths (``[]`` when the answer has no ``items``).
        """
        entries, bodies = [], []
        for item in items:
            if isinstance(item, bytes):
                item = {"body": item, "content_type": "application/json"}
            entry = {key: value for key, value in item.items() if key != "body"}
            entry["length"] = len(item["body"])
            entries.append(entry)
            bodies.append(item["body"])
        first = self._next_id
        self._next_id += 1
        header = {"kind": "predict_batch", "id": first, "path": "/test", "items": entries,
                  "request_ids": request_ids or [f"req-{first}-{i}" for i in range(len(items))]}
        header.update(fields)
        answer, body = self.request(header, b"".join(bodies))
        parts, offset = [], 0
        for item in answer.get("items") or []:
            length = item.get("length", 0)
            parts.append(body[offset:offset + length])
            offset += length
        assert offset == len(body), (answer, body)
        return answer, parts

    def predict_json(self, value, **fields):
        """Predict with a JSON body; returns ``(header, decoded JSON or raw body)``."""
        header, body = self.predict(json.dumps(value).encode(), **fields)
        if header.get("content_type") == "application/json":
            return header, json.loads(body)
        return header, body

    def closed_by_peer(self, timeout: float) -> bool:
        """True if the runtime closes the connection within ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


def process_gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_until(condition, timeout: float, step: float = 0.05) -> bool:
    """Poll ``condition()`` until true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
