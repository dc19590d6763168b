"""predictor.type onnx against the real runtime: ONNXPredictor with onnx_client (predict,
get_model), versions, the v2 frames on the session's signatures, and a missing onnxruntime."""

import json
import os
import sys
import unittest

from harness import REPO, Runtime, make_project

sys.path.insert(0, os.path.join(REPO, "examples", "onnx-iris"))
import train  # noqa: E402  the example's trainer: train() and convert()

PREDICTOR = '''
class ONNXPredictor:
    def __init__(self, onnx_client, config):
        self.client = onnx_client
        self.signature = onnx_client.get_model()

    def predict(self, payload, query_params):
        if payload == "signature":
            return self.client.get_model()
        version = query_params.get("version", "latest")
        label, probabilities = self.client.predict(payload, model_version=version)
        return {"label": label.tolist(), "rows": len(probabilities)}
'''

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def onnx_project(versions: bool = False) -> str:
    model = train.convert(train.train())
    directory = make_project({"predictor.py": PREDICTOR})
    if versions:
        for v in ("1", "2"):
            os.makedirs(os.path.join(directory, "model", v))
            with open(os.path.join(directory, "model", v, "iris.onnx"), "wb") as f:
                f.write(model)
    else:
        with open(os.path.join(directory, "model.onnx"), "wb") as f:
            f.write(model)
    return directory


class OnnxTests(unittest.TestCase):
    def test_predict_matches_scikit_learn(self):
        expected = train.train().predict(ROWS).tolist()
        with Runtime("onnx", onnx_project(), type="onnx", models={"path": "model.onnx"}) as rt:
            client = rt.connect()
            header, body = client.predict(json.dumps(ROWS).encode())
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(json.loads(body), {"label": expected, "rows": 3})
            header, body = client.predict(b'"signature"')
            self.assertEqual(json.loads(body), {"input": {"shape": [-1, 4], "type": "float32"}})

    def test_inputs_are_shaped_like_cortex_did(self):
        """A flat row for an input of shape [None, 4] is one row (Cortex's onnx_client reshaped
        to the declared shape); a nested list stays a batch; a dict names the input."""
        expected = train.train().predict(ROWS).tolist()
        with Runtime("onnx", onnx_project(), type="onnx", models={"path": "model.onnx"}) as rt:
            client = rt.connect()
            header, body = client.predict(json.dumps(ROWS[1]).encode())
            self.assertEqual(header["status"], 200, body)
            self.assertEqual(json.loads(body), {"label": expected[1:2], "rows": 1})
            header, body = client.predict(json.dumps(ROWS).encode())
            self.assertEqual(json.loads(body), {"label": expected, "rows": 3})
            header, body = client.predict(json.dumps({"input": ROWS[2]}).encode())
            self.assertEqual(header["status"], 200, body)
            self.assertEqual(json.loads(body), {"label": expected[2:3], "rows": 1})
            header, body = client.predict(json.dumps({"input": ROWS[:2]}).encode())
            self.assertEqual(json.loads(body), {"label": expected[:2], "rows": 2})
            # Three values cannot be a row of 4: onnxruntime's own message, answered as 500.
            header, body = client.predict(b"[1.0, 2.0, 3.0]")
            self.assertEqual(header["status"], 500, body)

    def test_shaped_like_input_follows_cortex_for_lower_ranks_only(self):
        import numpy
        from tern_runtime.onnx import shaped_like_input
        flat = numpy.arange(4.0)
        self.assertEqual(shaped_like_input(flat, [None, 4]).shape, (1, 4))
        self.assertEqual(shaped_like_input(flat, ["batch", 4]).shape, (1, 4))
        self.assertEqual(shaped_like_input(numpy.arange(8.0), ["batch", 4]).shape, (2, 4))
        self.assertEqual(shaped_like_input(numpy.zeros((3, 4)), [None, 4]).shape, (3, 4))
        self.assertEqual(shaped_like_input(numpy.arange(12.0), [None, 3, 4]).shape, (1, 3, 4))
        self.assertEqual(shaped_like_input(numpy.arange(3.0), [None, 4]).shape, (3,))
        self.assertEqual(shaped_like_input(flat, ["a", "b"]).shape, (4,))
        self.assertEqual(shaped_like_input(flat, []).shape, (4,))

    def test_version_folders_and_v2_frames(self):
        with Runtime("onnx", onnx_project(versions=True), type="onnx",
                     models={"path": "model"}) as rt:
            client = rt.connect()
            header, body = client.predict(json.dumps(ROWS).encode(), query="version=1")
            self.assertEqual(header["status"], 200, header)
            header, _ = client.predict(json.dumps(ROWS).encode(), query="version=7")
            self.assertEqual((header["status"], header["error"]["kind"]), (404, "model_not_found"))
            header, body = client.request({"kind": "v2_metadata", "id": 2, "model": "onnx"})
            self.assertEqual(json.loads(body), {
                "name": "onnx", "versions": ["1", "2"], "platform": "onnxruntime_onnx",
                "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}],
                "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}]})
            tensor = {"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP32",
                                  "data": ROWS}], "outputs": [{"name": "label"}]}
            header, body = client.request({"kind": "v2_infer", "id": 3, "model": "onnx",
                                           "version": "2"}, json.dumps(tensor).encode())
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(json.loads(body)["outputs"], [
                {"name": "label", "datatype": "INT64", "shape": [3],
                 "data": train.train().predict(ROWS).tolist()}])
            tensor["inputs"][0]["datatype"] = "FP64"
            header, _ = client.request({"kind": "v2_infer", "id": 4, "model": "onnx"},
                                       json.dumps(tensor).encode())
            self.assertEqual(header["error"]["message"],
                             "input 'input' has datatype FP64; the model expects FP32")

    def test_v2_frames_choose_one_of_several_models_by_model_name(self):
        project = onnx_project()
        os.rename(os.path.join(project, "model.onnx"), os.path.join(project, "a.onnx"))
        with open(os.path.join(project, "a.onnx"), "rb") as f, open(os.path.join(project, "b.onnx"), "wb") as g:
            g.write(f.read())
        models = {"paths": [{"name": "a", "path": "a.onnx"}, {"name": "b", "path": "b.onnx"}]}
        with open(os.path.join(project, "predictor.py"), "w") as f:  # get_model() needs a name
            f.write("class ONNXPredictor:\n    def predict(self, payload):\n        return 1\n")
        with Runtime("onnx", project, type="onnx", models=models) as rt:
            client = rt.connect()
            header, _ = client.request({"kind": "v2_metadata", "id": 1, "model": "onnx"})
            self.assertEqual((header["status"], header["error"]["kind"]), (404, "model_not_found"))
            self.assertIn("give a model name (models: a, b)", header["error"]["message"])
            header, body = client.request({"kind": "v2_metadata", "id": 2, "model": "onnx.b",
                                           "model_name": "b"})
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(json.loads(body)["name"], "onnx.b")
            tensor = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                                  "data": ROWS[1]}], "outputs": [{"name": "label"}]}
            header, body = client.request({"kind": "v2_infer", "id": 3, "model": "onnx.a",
                                           "model_name": "a"}, json.dumps(tensor).encode())
            self.assertEqual(json.loads(body)["outputs"][0]["data"], [2])

    def test_missing_onnxruntime_fails_the_load_with_a_hint(self):
        # A package named onnxruntime that raises ImportError shadows the real one (python_path
        # comes first on sys.path): the same ImportError a Python without onnxruntime raises.
        project = onnx_project()
        os.makedirs(os.path.join(project, "hide", "onnxruntime"))
        with open(os.path.join(project, "hide", "onnxruntime", "__init__.py"), "w") as f:
            f.write("raise ModuleNotFoundError(\"No module named 'onnxruntime'\", name='onnxruntime')\n")
        rt = Runtime("onnx", project, type="onnx", models={"path": "model.onnx"},
                     python_path="hide").start(wait_ready=False)
        try:
            self.assertEqual(rt.wait(20), 3)
            last = rt.stderr().strip().splitlines()[-1]
            self.assertIn("predictor.type onnx needs the onnxruntime package in the replica's "
                          "Python", last)
            self.assertIn("add onnxruntime to the project's requirements.txt", last)
        finally:
            rt.stop()


class FindModelFileTests(unittest.TestCase):
    def test_a_file_or_the_one_onnx_file_of_a_folder(self):
        from tern_runtime.models import ModelLoadError
        from tern_runtime.onnx import find_model_file
        folder = make_project({"a.onnx": "", "notes.txt": ""})
        self.assertEqual(find_model_file(folder), os.path.join(folder, "a.onnx"))
        self.assertEqual(find_model_file(os.path.join(folder, "a.onnx")), os.path.join(folder, "a.onnx"))
        with open(os.path.join(folder, "b.onnx"), "w"):
            pass
        with self.assertRaises(ModelLoadError) as caught:
            find_model_file(folder)
        self.assertEqual(str(caught.exception), f"{folder} must be an .onnx file or a folder holding "
                         "exactly one .onnx file (found: a.onnx, b.onnx)")


if __name__ == "__main__":
    unittest.main()
