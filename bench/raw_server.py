"""The raw limit: the leanest HTTP/1.1 server we can write on the standard library.

One process, asyncio, keep-alive; per request it does the same Python work as a Tern replica
(decode the JSON body once, call the predictor, encode the answer once) and nothing else. Any
Python-serving design with one worker sits under this ceiling.

Usage: python raw_server.py PROJECT_DIR PORT
(PROJECT_DIR holds predictor.py and the files its config names; config is read from tern.yaml's
first API when PyYAML is present, else {"model": "model.pkl"}).
"""
import asyncio
import importlib.util
import json
import os
import sys


def load_predictor(project):
    os.chdir(project)
    sys.path.insert(0, project)
    spec = importlib.util.spec_from_file_location("bench_predictor", os.path.join(project, "predictor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PythonPredictor(config={"model": "model.pkl"})


class HTTPProtocol(asyncio.Protocol):
    def __init__(self, predictor):
        self.predictor = predictor
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            try:
                result = json.dumps(self.predictor.predict(json.loads(body))).encode()
                status = b"200 OK"
            except Exception as error:  # noqa: BLE001 - the benchmark server answers every request
                result = json.dumps({"error": str(error)}).encode()
                status = b"500 Internal Server Error"
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(result)).encode() + b"\r\n\r\n" + result)


def main():
    project, port = sys.argv[1], int(sys.argv[2])
    predictor = load_predictor(os.path.abspath(project))
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: HTTPProtocol(predictor), "127.0.0.1", port))
    print(f"raw server on 127.0.0.1:{port}", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
