"""LitServe, as its documentation shows: a LitAPI with setup/decode/predict/encode, one worker."""
import os
import sys

import litserve as ls

from common import load_predictor


class IrisAPI(ls.LitAPI):
    def setup(self, device):
        self.predictor = load_predictor()

    def decode_request(self, request):
        return request

    def predict(self, payload):
        return self.predictor.predict(payload)

    def encode_response(self, output):
        return output


if __name__ == "__main__":
    ls.LitServer(IrisAPI(), accelerator="cpu", workers_per_device=1).run(port=int(sys.argv[1]))
