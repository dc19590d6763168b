"""The Open Inference Protocol on a replica: tensor decoding and checks (pure functions of
tern_runtime.v2), and v2_metadata / v2_infer frames against the real runtime."""

import json
import os
import struct
import unittest

from harness import Runtime

from tern_runtime.v2 import datatypes  # holds the NumPy switch, _numpy_module
from tern_runtime.v2 import TensorSpec, V2Error, check_inputs, encode_response, parse_request

FP32_SPEC = [TensorSpec("x", "FP32", [-1, 2])]


def request(*inputs, **extra) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


class ParseRequestTests(unittest.TestCase):
    def test_json_tensor_nested_or_flat(self):
        for data in ([[1, 2], [3, 4.5]], [1, 2, 3, 4.5]):
            _, (t,) = parse_request(request({"name": "x", "shape": [2, 2], "datatype": "FP32",
                                             "data": data}), None)
            self.assertEqual((t.name, t.datatype, t.shape), ("x", "FP32", [2, 2]))
            self.assertEqual(str(t.value.dtype), "float32")
            self.assertEqual(t.value.tolist(), [[1.0, 2.0], [3.0, 4.5]])

    def test_binary_tensors_follow_the_json(self):
        header = json.dumps({"inputs": [
            {"name": "a", "shape": [2], "datatype": "INT32", "parameters": {"binary_data_size": 8}},
            {"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 7}},
        ]}).encode()
        body = header + struct.pack("<2i", 7, -3) + struct.pack("<I", 3) + b"abc"
        _, (a, s) = parse_request(body, str(len(header)))
        self.assertEqual(a.value.tolist(), [7, -3])
        self.assertEqual(s.value.tolist(), [b"abc"])

    def assertRefused(self, body, header_length, kind, fragment):
        with self.assertRaises(V2Error) as caught:
            parse_request(body, header_length)
        self.assertEqual((caught.exception.status, caught.exception.kind), (400, kind))
        self.assertIn(fragment, caught.exception.message)

    def test_bad_requests_say_what_is_wrong(self):
        self.assertRefused(b"{", None, "invalid_json", "invalid JSON")
        self.assertRefused(b"{}", None, "invalid_inference_request", "non-empty 'inputs'")
        self.assertRefused(request({"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2]}),
                           None, "invalid_tensor", "shape [3] needs 3 elements, 'data' holds 2")
        self.assertRefused(request({"name": "x", "shape": [1], "datatype": "FP33", "data": [1]}),
                           None, "invalid_inference_request", "datatype 'FP33' is not one of")
        self.assertRefused(request({"name": "x", "shape": [1], "datatype": "INT8", "data": [300]}),
                           None, "invalid_tensor", "300 is outside the range of INT8")
        self.assertRefused(request({"name": "x", "shape": [1], "datatype": "INT64", "data": [1.5]}),
                           None, "invalid_tensor", "needs integer elements, got 1.5")
        self.assertRefused(request({"name": "x", "shape": [-1], "datatype": "FP32", "data": []}),
                           None, "invalid_inference_request", "non-negative integers")
        header = request({"name": "x", "shape": [2], "datatype": "FP32",
                          "parameters": {"binary_data_size": 8}})
        self.assertRefused(header + b"\0" * 4, str(len(header)), "invalid_inference_request",
                           "goes past the end of the body")
        self.assertRefused(header + b"\0" * 8, "99999", "invalid_inference_request",
                           "Inference-Header-Content-Length")

    def test_numbers_json_cannot_carry_are_invalid_json(self):
        """NaN, Infinity and literals that overflow a float (1e999 reads as inf) are refused
        like on the API's own endpoint, in a JSON-only body and in the JSON part of a binary one."""
        for literal, column in (("NaN", 62), ("Infinity", 62), ("-Infinity", 62),
                                ("1e999", 62), ("-1E+400", 62)):
            body = ('{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":['
                    + literal + ',1]}]}').encode()
            with self.subTest(literal=literal):
                with self.assertRaises(V2Error) as caught:
                    parse_request(body, None)
                self.assertEqual((caught.exception.status, caught.exception.kind),
                                 (400, "invalid_json"))
                self.assertIn(f"at line 1, column {column}", caught.exception.message)
                self.assertIn(literal, caught.exception.message)
        header = b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e999]}, \
{"name":"y","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}}]}'
        self.assertRefused(header + struct.pack("<2i", 1, 2), str(len(header)), "invalid_json",
                           "number 1e999 is out of the range of a 64-bit float")
        _, (t,) = parse_request(request({"name": "x", "shape": [1], "datatype": "FP64",
                                         "data": [1.7e308]}), None)
        self.assertEqual(t.value.tolist(), [1.7e308])


class CheckInputsTests(unittest.TestCase):
    def check(self, *inputs):
        _, tensors = parse_request(request(*inputs), None)
        check_inputs(tensors, FP32_SPEC)

    def assertMismatch(self, fragment, *inputs):
        with self.assertRaises(V2Error) as caught:
            self.check(*inputs)
        self.assertEqual((caught.exception.status, caught.exception.kind), (400, "invalid_tensor"))
        self.assertIn(fragment, caught.exception.message)

    def test_matching_tensor_passes_with_any_batch_size(self):
        self.check({"name": "x", "shape": [3, 2], "datatype": "FP32", "data": [0] * 6})

    def test_mismatches_name_what_the_model_expects(self):
        self.assertMismatch("input 'x' has shape [2, 3]; the model expects [-1, 2]",
                            {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [0] * 6})
        self.assertMismatch("input 'x' has datatype FP64; the model expects FP32",
                            {"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [0, 0]})
        self.assertMismatch("unknown input 'y'; the model's inputs are x (FP32 [-1, 2])",
                            {"name": "y", "shape": [1], "datatype": "FP32", "data": [0]})


class EncodeResponseTests(unittest.TestCase):
    def test_json_outputs_with_inferred_datatypes(self):
        import numpy as np
        content_type, body, length = encode_response(
            {"id": "r1"}, "m", "2", {"a": np.array([[1.5, 2]], dtype=np.float32), "b": [1, 2], "c": "hi"})
        self.assertEqual((content_type, length), ("application/json", None))
        self.assertEqual(json.loads(body), {
            "model_name": "m", "model_version": "2", "id": "r1", "outputs": [
                {"name": "a", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2.0]},
                {"name": "b", "datatype": "INT64", "shape": [2], "data": [1, 2]},
                {"name": "c", "datatype": "BYTES", "shape": [], "data": ["hi"]}]})

    def test_binary_outputs_when_requested(self):
        content_type, body, length = encode_response(
            {"parameters": {"binary_data_output": True}}, "m", None, {"a": [1.0, 2.0]})
        self.assertEqual(content_type, "application/octet-stream")
        document = json.loads(body[:length])
        self.assertEqual(document["outputs"][0]["parameters"], {"binary_data_size": 16})
        self.assertEqual(struct.unpack("<2d", body[length:]), (1.0, 2.0))

    def test_unknown_requested_output_is_refused(self):
        with self.assertRaises(V2Error) as caught:
            encode_response({"outputs": [{"name": "z"}]}, "m", None, {"a": [1]})
        self.assertIn("unknown output 'z'; the model's outputs are 'a'", caught.exception.message)

    def test_without_numpy_tensors_are_nested_lists(self):
        saved = datatypes._numpy_module
        datatypes._numpy_module = None
        try:
            _, (t,) = parse_request(request({"name": "x", "shape": [2, 2], "datatype": "INT32",
                                             "data": [1, 2, 3, 4]}), None)
            self.assertEqual(t.value, [[1, 2], [3, 4]])
            _, body, _ = encode_response({}, "m", None, {"y": [[1.5], [2.5]]})
            self.assertEqual(json.loads(body)["outputs"][0],
                             {"name": "y", "datatype": "FP64", "shape": [2, 1], "data": [1.5, 2.5]})
        finally:
            datatypes._numpy_module = saved


class FrameTests(unittest.TestCase):
    """v2 frames against the real runtime with the e2e fixture `v2-python`."""

    def test_metadata_and_infer(self):
        with Runtime("v2-python").start() as runtime:
            client = runtime.connect()
            header, body = client.request({"kind": "v2_metadata", "id": 3, "model": "v2-python"})
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(json.loads(body), {
                "name": "v2-python", "versions": [], "platform": "python",
                "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}],
                "outputs": [{"name": "sum", "datatype": "FP32", "shape": [-1]},
                            {"name": "count", "datatype": "INT64", "shape": [1]}]})
            header, body = client.request(
                {"kind": "v2_infer", "id": 4, "model": "v2-python", "request_id": "t"},
                request({"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}))
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(json.loads(body)["outputs"], [
                {"name": "sum", "datatype": "FP32", "shape": [2], "data": [3.0, 7.0]},
                {"name": "count", "datatype": "INT64", "shape": [1], "data": [2]}])
            header, _ = client.request(
                {"kind": "v2_infer", "id": 5, "model": "v2-python"},
                request({"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}))
            self.assertEqual((header["status"], header["error"]["kind"]), (400, "invalid_tensor"))

    def test_an_unknown_model_is_reported_before_the_body(self):
        """`<api>.<m>` on an API without predictor.models is no model: 404 for metadata and
        infer, and infer says so before it looks at the (here invalid) body."""
        with Runtime("v2-python").start() as runtime:
            client = runtime.connect()
            for kind, body in (("v2_metadata", b""), ("v2_infer", b"{}")):
                header, _ = client.request(
                    {"kind": kind, "id": 8, "model": "v2-python.foo", "model_name": "foo"}, body)
                self.assertEqual((header["status"], header["error"]["kind"]),
                                 (404, "model_not_found"), header)
                self.assertEqual(header["error"]["message"],
                                 "no model 'v2-python.foo': API v2-python serves a single model, "
                                 "named 'v2-python' in the Open Inference Protocol (<api>.<model> "
                                 "names one of the models of an API with predictor.models paths "
                                 "or dir)")

    def test_a_batching_predictor_gets_a_list_of_one_and_answers_a_list_of_one(self):
        batching = {"max_batch_size": 4, "batch_interval_ms": 20}
        with Runtime("v2-batching", server_side_batching=batching).start() as runtime:
            client = runtime.connect()
            header, body = client.request(
                {"kind": "v2_infer", "id": 6, "model": "v2-batching", "request_id": "t"},
                request({"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}))
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(json.loads(body)["outputs"], [
                {"name": "sum", "datatype": "FP32", "shape": [2], "data": [3.0, 7.0]},
                {"name": "batch", "datatype": "INT64", "shape": [1], "data": [1]}])
            for first, got in ((-1, "a dict"), (-2, "a list of 2 answers")):
                header, body = client.request(
                    {"kind": "v2_infer", "id": 7, "model": "v2-batching"},
                    request({"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [first, 0]}))
                self.assertEqual((header["status"], header["error"]["kind"]), (500, "invalid_response"))
                self.assertEqual(header["error"]["message"],
                                 f"predict returned {got}; with server_side_batching, an Open "
                                 "Inference Protocol request calls predict with a list of one "
                                 "payload, and predict must return a list of one answer")
                self.assertEqual(body, b"")


if __name__ == "__main__":
    unittest.main()
