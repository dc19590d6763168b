"""The Python runtime's CPU per request, without the gateway: a `Worker` serving one end of a
socketpair in this process, fed pipelined `predict` frames (two in flight, as the gateway sends
them) by a forked client; prints the worker's CPU time per request.

Usage (from the repository root, with the README's .venv):
    .venv/bin/python bench/runtime_overhead.py [PROJECT_DIR] [REQUESTS]
PROJECT_DIR defaults to a predictor that returns a constant (the runtime's own overhead); pass
examples/iris-classifier for a real model (its model.pkl must exist: examples/iris-classifier/train.py).
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


def main() -> None:
    project = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    if project is None:
        project = tempfile.mkdtemp(prefix="tern-null-")
        with open(os.path.join(project, "predictor.py"), "w") as f:
            f.write(NULL_PREDICTOR)
    os.chdir(project)
    predictor = load(project, "predictor.py", {"model": "model.pkl"})
    worker = Worker(predictor, 0, os.path.join(project, "unused.sock"), os.path.join(project, "unused.tmp"), 1)
    server_end, client_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    body = open(os.path.join(ROOT, "examples", "iris-classifier", "sample.json"), "rb").read()
    if os.fork() == 0:
        server_end.close()
        _client(client_end, body, count)
        os._exit(0)
    client_end.close()
    started = time.process_time()
    worker._serve_connection(server_end)  # returns when the client closes
    cpu = time.process_time() - started
    os.wait()
    print(f"{count} requests, worker CPU {cpu / count * 1e6:.1f} µs per request ({project})")


def _client(sock: socket.socket, body: bytes, count: int) -> None:
    prefix = struct.Struct(">II")

    def frame(i: int) -> bytes:
        header = (b'{"kind":"predict","id":%d,"request_id":"r%d","path":"/iris",'
                  b'"content_type":"application/json"}' % (i, i))
        return prefix.pack(len(header), len(body)) + header + body

    buffer = b""

    def read_one() -> None:
        nonlocal buffer
        while True:
            if len(buffer) >= 8:
                header_length, body_length = prefix.unpack_from(buffer)
                end = 8 + header_length + body_length
                if len(buffer) >= end:
                    buffer = buffer[end:]
                    return
            buffer += sock.recv(65536)

    sock.sendall(frame(0) + frame(1))
    for i in range(2, count):
        read_one()
        sock.sendall(frame(i))
    read_one()
    read_one()
    sock.close()


if __name__ == "__main__":
    main()
