"""Iris classifier predictor (Cortex-compatible PythonPredictor)."""
import pickle

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class PythonPredictor:
    def __init__(self, config):
        with open(config.get("model", "model.pkl"), "rb") as f:
            saved = pickle.load(f)
        self.model = saved["model"]
        self.labels = saved["labels"]

    def predict(self, payload):
        row = [[payload[name] for name in FEATURES]]
        return self.labels[int(self.model.predict(row)[0])]
