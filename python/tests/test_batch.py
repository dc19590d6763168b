"""predict_batch frames (server-side batching): lists in, one answer per item out."""

import json
import unittest

from harness import Runtime, make_project

# Returns, per item, what it received: the payload's type and value, its query_params and headers.
ARGUMENTS_PREDICTOR = '''
class PythonPredictor:
    def __init__(self, config):
        pass

    def predict(self, payload, query_params, headers):
        assert isinstance(payload, list) and isinstance(query_params, list)
        answers = []
        for p, q, h in zip(payload, query_params, headers):
            if isinstance(p, bytes):
                p = {"bytes": p.hex()}
            answers.append({"type": type(p).__name__, "payload": p, "query": q, "headers": h})
        return answers
'''

# Returns the answer each payload names: "text" → str, "bytes" → bytes, "nan" → NaN, else the
# payload; {"array": n} returns an object with .tolist() instead of a list.
ANSWERS_PREDICTOR = '''
class Array:
    def tolist(self):
        return []


class PythonPredictor:
    def __init__(self, config):
        pass

    def predict(self, payload):
        if any(isinstance(p, dict) and "array" in p for p in payload):
            return Array()
        table = {"text": "plain é", "bytes": b"\\x00\\x01", "nan": float("nan")}
        return [table.get(p, p) if isinstance(p, str) else p for p in payload]
'''


def as_json(value) -> bytes:
    return json.dumps(value).encode()


class BatchEchoTests(unittest.TestCase):
    """The `batch-echo` fixture: [{"echo": p, "batch": len(payload)} for p in payload]."""

    @classmethod
    def setUpClass(cls):
        cls.runtime = Runtime("batch-echo").start()
        cls.client = cls.runtime.connect()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.runtime.stop()

    def test_answers_come_back_one_per_item_in_order(self):
        values = [{"n": i} for i in range(5)]
        header, bodies = self.client.predict_batch([as_json(v) for v in values])
        self.assertEqual(header["status"], 200, header)
        self.assertIsInstance(header["timing"]["predict_us"], int)
        self.assertEqual([item["status"] for item in header["items"]], [200] * 5)
        self.assertEqual([item["content_type"] for item in header["items"]],
                         ["application/json"] * 5)
        self.assertEqual([json.loads(b) for b in bodies],
                         [{"echo": v, "batch": 5} for v in values])

    def test_a_batch_of_one_is_a_list_of_one(self):
        header, bodies = self.client.predict_batch([b"[1, 2]"])
        self.assertEqual(header["items"][0]["status"], 200)
        self.assertEqual(json.loads(bodies[0]), {"echo": [1, 2], "batch": 1})

    def test_an_undecodable_item_fails_alone_with_400_and_is_left_out_of_the_batch(self):
        header, bodies = self.client.predict_batch([b'{"a": 1}', b'{"a":', b"  ", b'{"a": 3}'])
        self.assertEqual(header["status"], 200, header)
        items = header["items"]
        self.assertEqual([item["status"] for item in items], [200, 400, 400, 200])
        self.assertEqual(items[1]["error"]["kind"], "invalid_json")
        self.assertIn("line 1, column 6", items[1]["error"]["message"])
        self.assertEqual(items[2]["error"]["kind"], "empty_body")
        self.assertEqual(json.loads(bodies[0]), {"echo": {"a": 1}, "batch": 2})
        self.assertEqual(bodies[1:3], [b"", b""])
        self.assertEqual(json.loads(bodies[3]), {"echo": {"a": 3}, "batch": 2})

    def test_when_no_item_decodes_predict_is_not_called(self):
        header, bodies = self.client.predict_batch([b"nope", b""])
        self.assertEqual([item["status"] for item in header["items"]], [400, 400])
        self.assertNotIn("timing", header)
        self.assertEqual(bodies, [b"", b""])

    def test_a_wrong_number_of_answers_fails_every_item_with_invalid_response(self):
        header, bodies = self.client.predict_batch(
            [as_json({"answers": 2}), b"1", b"2", b'"x" '])
        self.assertEqual(header["status"], 200, header)
        for item in header["items"]:
            self.assertEqual(item["status"], 500)
            self.assertEqual(item["error"]["kind"], "invalid_response")
            self.assertIn("a list of 2 answers for a batch of 4 payloads",
                          item["error"]["message"])
        self.assertEqual(bodies, [b""] * 4)

    def test_a_return_that_is_not_a_list_fails_every_item_with_invalid_response(self):
        header, _ = self.client.predict_batch([as_json({"return": "dict"}), b"1"])
        for item in header["items"]:
            self.assertEqual(item["status"], 500)
            self.assertEqual(item["error"]["kind"], "invalid_response")
            self.assertIn("predict returned a dict, not a list", item["error"]["message"])

    def test_an_exception_fails_every_decoded_item_and_the_worker_keeps_serving(self):
        header, _ = self.client.predict_batch(
            [b"1", as_json({"raise": "bad batch"}), b"{"], request_ids=["r-a", "r-b", "r-c"])
        items = header["items"]
        self.assertEqual([item["status"] for item in items], [500, 500, 400])
        for item in items[:2]:
            self.assertEqual(item["error"],
                             {"kind": "predictor_error", "message": "ValueError: bad batch"})
        header, bodies = self.client.predict_batch([b"7"])
        self.assertEqual(json.loads(bodies[0]), {"echo": 7, "batch": 1})
        self.assertIn("[r-a,r-b] ValueError: bad batch", self.runtime.stderr())

    def test_lengths_that_do_not_add_up_get_a_frame_level_400_and_the_connection_stays_open(self):
        header, _ = self.client.request(
            {"kind": "predict_batch", "id": 9, "items": [{"length": 2}, {"length": 5}]}, b"1234")
        self.assertEqual(header["status"], 400)
        self.assertEqual(header["error"]["kind"], "invalid_batch")
        self.assertIn("add up to 7 bytes but the body has 4", header["error"]["message"])
        for bad in ({"kind": "predict_batch", "id": 10},
                    {"kind": "predict_batch", "id": 11, "items": []},
                    {"kind": "predict_batch", "id": 12, "items": [{"length": -1}]},
                    {"kind": "predict_batch", "id": 13, "items": ["x"]}):
            with self.subTest(header=bad):
                header, _ = self.client.request(bad)
                self.assertEqual((header["status"], header["error"]["kind"]),
                                 (400, "invalid_batch"))
        header, bodies = self.client.predict_batch([b"1"])
        self.assertEqual(header["items"][0]["status"], 200)

    def test_single_predict_frames_still_work_on_the_same_connection(self):
        header, body = self.client.predict(b"[3]")
        self.assertEqual(header["status"], 200)
        self.assertEqual(json.loads(body), [{"echo": 3, "batch": 1}])


class BatchArgumentTests(unittest.TestCase):
    """payload, query_params and headers are lists aligned item by item."""

    def test_payloads_are_decoded_per_content_type_and_queries_and_headers_are_lists(self):
        project = make_project({"predictor.py": ARGUMENTS_PREDICTOR})
        with Runtime("batch-arguments", project_dir=project) as runtime:
            client = runtime.connect()
            self.assertEqual(client.hello["accepts"], ["payload", "query_params", "headers"])
            header, bodies = client.predict_batch([
                {"body": b'{"x": 1}', "content_type": "application/json", "query": "a=1&b=%20",
                 "headers": {"x-user": "7"}},
                {"body": "héllo".encode(), "content_type": "text/plain"},
                {"body": b"\x00\xff"},
            ])
        self.assertEqual([item["status"] for item in header["items"]], [200, 200, 200])
        self.assertEqual([json.loads(b) for b in bodies], [
            {"type": "dict", "payload": {"x": 1}, "query": {"a": "1", "b": " "},
             "headers": {"x-user": "7"}},
            {"type": "str", "payload": "héllo", "query": {}, "headers": {}},
            {"type": "dict", "payload": {"bytes": "00ff"}, "query": {}, "headers": {}},
        ])

    def test_each_answer_is_encoded_on_its_own(self):
        project = make_project({"predictor.py": ANSWERS_PREDICTOR})
        with Runtime("batch-answers", project_dir=project) as runtime:
            client = runtime.connect()
            payloads = [b'"text"', b'"bytes"', b'"nan"', b'{"k": [1]}']
            header, bodies = client.predict_batch(payloads)
            items = header["items"]
            self.assertEqual([item["status"] for item in items], [200, 200, 500, 200])
            self.assertEqual(items[0]["content_type"], "text/plain; charset=utf-8")
            self.assertEqual(bodies[0], "plain é".encode())
            self.assertEqual(items[1]["content_type"], "application/octet-stream")
            self.assertEqual(bodies[1], b"\x00\x01")
            self.assertEqual(items[2]["error"]["kind"], "invalid_response")
            self.assertIn("answer 2 of the batch", items[2]["error"]["message"])
            self.assertEqual(json.loads(bodies[3]), {"k": [1]})

            header, _ = client.predict_batch([b'{"array": 1}'])
            message = header["items"][0]["error"]["message"]
            self.assertIn("predict returned a tern_predictor.Array, not a list (call .tolist() "
                          "on it)", message)


if __name__ == "__main__":
    unittest.main()
