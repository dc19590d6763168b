"""Iris classifier on onnxruntime (Cortex-compatible ONNXPredictor)."""

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABELS = ["setosa", "versicolor", "virginica"]


class ONNXPredictor:
    def __init__(self, onnx_client, config):
        self.client = onnx_client
        # {"input": {"shape": [-1, 4], "type": "float32"}}: checked once, at start.
        signature = onnx_client.get_model()
        assert signature["input"]["shape"][1] == len(FEATURES), signature

    def predict(self, payload):
        rows = payload if isinstance(payload, list) else [payload]
        label, probabilities = self.client.predict([[row[f] for f in FEATURES] for row in rows])
        answers = [{"label": LABELS[int(i)], "probability": float(p[int(i)])}
                   for i, p in zip(label, probabilities)]
        return answers if isinstance(payload, list) else answers[0]
