"""The Python runtime's CPU per request, without the gateway: a `Worker` serving one end of a
socketpair in this process, fed pipelined `predict` frames (two in flight, as the gateway sends
them) by a forked client; prints the worker's CPU time per request.

Usage (from the repository root, with the README's .venv):
    .venv/bin/python bench/runtime_overhead.py [--batch N] [PROJECT_DIR] [REQUESTS]
PROJECT_DIR defaults to a predictor that returns a constant (the runtime's own overhead); pass
examples/iris-classifier for a real model (its model.pkl must exist: examples/iris-classifier/train.py).
With --batch N the frames are `predict_batch` frames of N requests each, one in flight at a time
(as the gateway sends a full batch when every client waits in it); pass
examples/batching-iris for the real model (its predict takes lists). REQUESTS counts requests.
"""

import os
import socket
import struct
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

from tern_runtime.predictor import load  # noqa: E402
from tern_runtime.server import Worker  # noqa: E402

NULL_PREDICTOR = '''class PythonPredictor:
    def __init__(self, config):
        pass

    def predict(self, payload):
        return "setosa"
'''

NULL_BATCH_PREDICTOR = '''class PythonPredictor:
    def __init__(self, config):
        pass

    def predict(self, payload):
        return ["setosa"] * len(payload)
'''


def main() -> None:
    arguments = sys.argv[1:]
    batch = 0
    if arguments[:1] == ["--batch"]:
        batch = int(arguments[1])
        arguments = arguments[2:]
    project = os.path.abspath(arguments[0]) if arguments else None
    count = int(arguments[1]) if len(arguments) > 1 else 20000
    if project is None:
        project = tempfile.mkdtemp(prefix="tern-null-")
        with open(os.path.join(project, "predictor.py"), "w") as f:
            f.write(NULL_BATCH_PREDICTOR if batch else NULL_PREDICTOR)
    os.chdir(project)
    predictor = load(project, "predictor.py", {"model": "model.pkl"})
    worker = Worker(predictor, 0, os.path.join(project, "unused.sock"), os.path.join(project, "unused.tmp"), 1)
    server_end, client_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    body = open(os.path.join(ROOT, "examples", "iris-classifier", "sample.json"), "rb").read()
    if os.fork() == 0:
        server_end.close()
        if batch:
            _batch_client(client_end, body, count // batch, batch)
        else:
            _client(client_end, body, count)
        os._exit(0)
    client_end.close()
    started = time.process_time()
    worker._serve_connection(server_end)  # returns when the client closes
    cpu = time.process_time() - started
    os.wait()
    if batch:
        count = count // batch * batch
        print(f"{count} requests in batches of {batch}, worker CPU {cpu / count * 1e6:.1f} µs per request, "
              f"{cpu / (count // batch) * 1e6:.0f} µs per batch ({project})")
    else:
        print(f"{count} requests, worker CPU {cpu / count * 1e6:.1f} µs per request ({project})")


_PREFIX = struct.Struct(">II")


def _read_one(sock: socket.socket, buffer: bytes) -> bytes:
    """Reads until `buffer` holds a whole frame; returns what follows it."""
    while True:
        if len(buffer) >= 8:
            header_length, body_length = _PREFIX.unpack_from(buffer)
            end = 8 + header_length + body_length
            if len(buffer) >= end:
                return buffer[end:]
        buffer += sock.recv(65536)


def _batch_client(sock: socket.socket, body: bytes, batches: int, size: int) -> None:
    """Sends `batches` predict_batch frames of `size` requests, each after the previous answer."""
    def frame(i: int) -> bytes:
        ids = ",".join(f'"r{i}-{n}"' for n in range(size))
        items = ",".join(f'{{"content_type":"application/json","length":{len(body)}}}' for _ in range(size))
        header = f'{{"kind":"predict_batch","id":1,"path":"/iris","request_ids":[{ids}],"items":[{items}]}}'.encode()
        return _PREFIX.pack(len(header), len(body) * size) + header + body * size

    buffer = b""
    for i in range(batches):
        sock.sendall(frame(i))
        buffer = _read_one(sock, buffer)
    sock.close()


def _client(sock: socket.socket, body: bytes, count: int) -> None:
    """Sends `count` predict frames, two in flight, each after the answer two frames back."""
    def frame(i: int) -> bytes:
        header = (b'{"kind":"predict","id":%d,"request_id":"r%d","path":"/iris",'
                  b'"content_type":"application/json"}' % (i, i))
        return _PREFIX.pack(len(header), len(body)) + header + body

    sock.sendall(frame(0) + frame(1))
    buffer = b""
    for i in range(2, count):
        buffer = _read_one(sock, buffer)
        sock.sendall(frame(i))
    buffer = _read_one(sock, buffer)
    _read_one(sock, buffer)
    sock.close()


if __name__ == "__main__":
    main()
