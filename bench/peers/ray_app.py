"""Ray Serve, as its documentation shows: one deployment with one replica behind Serve's HTTP proxy."""
import sys
import time

from ray import serve
from starlette.requests import Request

from common import load_predictor


@serve.deployment(num_replicas=1)
class Iris:
    def __init__(self):
        self.predictor = load_predictor()

    async def __call__(self, request: Request):
        return self.predictor.predict(await request.json())


if __name__ == "__main__":
    serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[1])})
    serve.run(Iris.bind(), route_prefix="/iris")
    while True:
        time.sleep(3600)
