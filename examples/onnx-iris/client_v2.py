"""Calls the onnx-iris API through the Open Inference Protocol with the official client:
`python client_v2.py [HOST:PORT]` (needs `pip install tritonclient[http] numpy`)."""
import sys

import numpy as np
import tritonclient.http as httpclient

client = httpclient.InferenceServerClient(url=sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8888")
print("ready:", client.is_model_ready("onnx-iris"))
print("metadata:", client.get_model_metadata("onnx-iris"))
rows = np.array([[5.2, 3.6, 1.5, 0.3], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
features = httpclient.InferInput("input", list(rows.shape), "FP32")
features.set_data_from_numpy(rows)  # sent as a binary tensor
answer = client.infer("onnx-iris", [features])
print("labels:", answer.as_numpy("label"))                # [0 2]
print("probabilities:", answer.as_numpy("probabilities"))
