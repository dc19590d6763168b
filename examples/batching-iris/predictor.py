"""Iris classifier with server-side batching: one model.predict call per batch of requests.

With `server_side_batching` in tern.yaml, the gateway groups requests and `predict` gets a
list of payloads; it returns a list with one answer per payload, in the same order. Open
Inference Protocol requests keep that contract: a list of one payload, a list of one answer.
"""
import pickle

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class PythonPredictor:
    def __init__(self, config):
        with open(config.get("model", "model.pkl"), "rb") as f:
            saved = pickle.load(f)
        self.model = saved["model"]
        self.labels = saved["labels"]

    def predict(self, payload):
        # An Open Inference Protocol request (POST /v2/models/iris-batch/infer) comes alone, as
        # [{"input": array of shape [N, 4]}]: answer [{"label": N labels}].
        if len(payload) == 1 and "input" in payload[0]:
            classes = self.model.predict(payload[0]["input"])
            return [{"label": [self.labels[int(c)] for c in classes]}]
        # payload: [{"sepal_length": 5.2, ...}, ...], one dict per request of the batch.
        rows = [[measurement[name] for name in FEATURES] for measurement in payload]
        classes = self.model.predict(rows)  # one vectorised call for the whole batch
        return [self.labels[int(c)] for c in classes]
