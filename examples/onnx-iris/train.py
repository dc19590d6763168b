"""Trains a logistic regression on scikit-learn's bundled iris data (no download) and converts it
to ONNX with skl2onnx: `python train.py [model.onnx]`.

The converter runs with `zipmap=False`, so the model's outputs are two tensors: `label` (int64,
one class index per row) and `probabilities` (float32, one row of 3 per row), which the Open
Inference Protocol can carry.
"""
import sys

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def train() -> LogisticRegression:
    """The fitted model (deterministic: the same coefficients on every run)."""
    iris = load_iris()
    return LogisticRegression(max_iter=1000).fit(iris.data, iris.target)


def convert(model: LogisticRegression) -> bytes:
    """The model as ONNX bytes, with one float32 input `input` of shape [N, 4]."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = to_onnx(
        model, initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(model): {"zipmap": False}}, target_opset=15,
    )
    names = {"output_label": "label", "output_probability": "probabilities"}
    for output in onnx_model.graph.output:
        new = names.get(output.name, output.name)
        for node in onnx_model.graph.node:
            node.output[:] = [new if o == output.name else o for o in node.output]
        output.name = new
    return onnx_model.SerializeToString()


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "model.onnx"
    with open(path, "wb") as f:
        f.write(convert(train()))
    print(f"wrote {path}")
