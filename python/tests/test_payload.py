"""Payload decoding (C01, C02, C03), argument passing and result encoding, end to end."""

import hashlib
import json
import os
import unittest

from harness import Runtime

BOM = b"\xef\xbb\xbf"


class EchoTests(unittest.TestCase):
    """Round trips through the `echo` fixture (bytes → sha256, str → {"text": ...})."""

    @classmethod
    def setUpClass(cls):
        cls.runtime = Runtime("echo").start()
        cls.client = cls.runtime.connect()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.runtime.stop()

    def assert_bytes_echoed(self, header, body, sent):
        self.assertEqual(header["status"], 200, header)
        self.assertEqual(header["content_type"], "application/json")
        self.assertEqual(json.loads(body),
                         {"sha256": hashlib.sha256(sent).hexdigest(), "length": len(sent)})

    def test_json_round_trip(self):
        value = {"a": [1, 2.5, None, True], "é": "ü", "nested": {"x": []}}
        header, body = self.client.predict(json.dumps(value).encode())
        self.assertEqual(header["status"], 200)
        self.assertEqual(header["content_type"], "application/json")
        self.assertIsInstance(header["timing"]["predict_us"], int)
        self.assertEqual(json.loads(body), value)
        self.assertEqual(body, json.dumps(value, separators=(",", ":"),
                                          ensure_ascii=False).encode())

    def test_text_plain_reaches_predict_as_str(self):
        header, body = self.client.predict("héllo\n".encode(), content_type="text/plain")
        self.assertEqual(header["status"], 200)
        self.assertEqual(json.loads(body), {"text": "héllo\n"})

    def test_invalid_utf8_text_is_400_invalid_text(self):
        header, _ = self.client.predict(b"\xff\xfe", content_type="text/plain")
        self.assertEqual(header["status"], 400)
        self.assertEqual(header["error"]["kind"], "invalid_text")

    def test_octet_stream_reaches_predict_as_the_exact_bytes(self):
        sent = bytes(range(256)) * 3
        header, body = self.client.predict(sent, content_type="application/octet-stream")
        self.assert_bytes_echoed(header, body, sent)

    def test_no_content_type_gives_bytes(self):
        sent = b'{"x":1}'
        header, body = self.client.predict(sent, content_type=None)
        self.assert_bytes_echoed(header, body, sent)

    def test_unknown_or_form_content_types_give_the_exact_bytes(self):  # C02
        sent = b'{"x":1}'
        for content_type in ("application/x-www-form-urlencoded", "???", "", "image/png",
                             "multipart/form-data"):
            with self.subTest(content_type=content_type):
                header, body = self.client.predict(sent, content_type=content_type)
                self.assert_bytes_echoed(header, body, sent)

    def test_json_media_types_match_without_case_and_parameters(self):  # C02
        for content_type in ("APPLICATION/JSON", "application/json; charset=latin-1",
                             " Application/Json ;charset=utf-8", "application/vnd.api+json",
                             "application/problem+JSON"):
            with self.subTest(content_type=content_type):
                header, body = self.client.predict(b'{"x":1}', content_type=content_type)
                self.assertEqual(header["status"], 200, header)
                self.assertEqual(json.loads(body), {"x": 1})

    def test_text_plain_matches_without_case_and_parameters(self):
        header, body = self.client.predict(b"hi", content_type="Text/Plain; charset=UTF-8")
        self.assertEqual(json.loads(body), {"text": "hi"})

    def test_large_body_round_trips(self):
        sent = os.urandom(5 * 1024 * 1024)
        header, body = self.client.predict(sent, content_type="application/octet-stream")
        self.assert_bytes_echoed(header, body, sent)

    def test_large_json_response_round_trips(self):
        value = {"rows": [[i, i * 0.5, str(i)] for i in range(50000)]}
        header, body = self.client.predict(json.dumps(value).encode())
        self.assertEqual(header["status"], 200)
        self.assertEqual(json.loads(body), value)

    def test_empty_json_containers_reach_the_predictor(self):  # C03
        for sent, expected in ((b"{}", {}), (b"[]", []), (b" [ ] \n", [])):
            with self.subTest(body=sent):
                header, body = self.client.predict(sent)
                self.assertEqual(header["status"], 200, header)
                self.assertEqual(json.loads(body), expected)

    def test_empty_whitespace_or_nul_json_body_is_400_empty_body(self):  # C03
        for sent in (b"", b" ", b"\x00", b"\r\n\t ", b"\x00\x00 "):
            with self.subTest(body=sent):
                header, body = self.client.predict(sent)
                self.assertEqual(header["status"], 400, header)
                self.assertEqual(header["error"]["kind"], "empty_body")
                self.assertEqual(body, b"")

    def test_empty_body_without_json_type_is_a_valid_payload(self):
        header, body = self.client.predict(b"", content_type=None)
        self.assert_bytes_echoed(header, body, b"")
        header, body = self.client.predict(b"", content_type="text/plain")
        self.assertEqual(json.loads(body), {"text": ""})


class MalformedJSONTests(unittest.TestCase):
    """C01: malformed JSON is 400 invalid_json with line and column; predict is not called."""

    # Body → where the error is reported (Python 3.13 reports trailing commas at the comma).
    CASES = {
        b'{"a": 1': ["line 1, column 8"],
        b"{'a': 1}": ["line 1, column 2"],
        b'{"a": 1,}': ["line 1, column 9", "line 1, column 8"],
        b'{"a":1}{"b":2}': ["line 1, column 8"],
        BOM + b'{"a":1}': ["line 1, column 1"],
        b"nul": ["line 1, column 1"],
        b'{"a": 01}': ["line 1, column 8"],
        b'{\n  "a": [1, 2,\n  ]\n}': ["line 3, column 3", "line 2, column 13"],
        b'[1, NaN]': ["line 1, column 5"],
        b'{"a": -Infinity}': ["line 1, column 7"],
        b'["\xff"]': ["line 1, column 3"],
        b'\x00{}': ["line 1, column 1"],
    }

    def test_malformed_json_is_400_and_predict_is_never_called(self):
        with Runtime("counter") as runtime:
            client = runtime.connect()
            for sent, positions in self.CASES.items():
                with self.subTest(body=sent):
                    header, body = client.predict(sent)
                    self.assertEqual(header["status"], 400, header)
                    self.assertEqual(header["error"]["kind"], "invalid_json")
                    message = header["error"]["message"]
                    self.assertTrue(any(p in message for p in positions), message)
                    self.assertEqual(body, b"")
            # The counter was never called: the next valid request is its first call.
            header, body = client.predict(b"{}")
            self.assertEqual(header["status"], 200)
            self.assertEqual(json.loads(body), {"calls": 1})
            self.assertEqual(client.request({"kind": "health", "id": 1})[0]["status"], 200)


class ArgumentTests(unittest.TestCase):
    def test_predict_without_payload_answers_an_empty_request(self):  # C03
        with Runtime("no-payload") as runtime:
            client = runtime.connect()
            for sent, content_type in ((b"", None), (b"", "application/json"),
                                       (b"{not json", "application/json")):
                with self.subTest(body=sent, content_type=content_type):
                    header, body = client.predict(sent, content_type=content_type)
                    self.assertEqual(header["status"], 200, header)
                    self.assertEqual(header["content_type"], "text/plain; charset=utf-8")
                    self.assertEqual(body, b"pong")

    def test_query_params_and_headers_are_passed_by_name(self):
        with Runtime("query-headers") as runtime:
            client = runtime.connect()
            header, body = client.predict(
                b'{"p": 1}', query="a=1&b=x%20y&a=3&empty=", headers={"x-user": "7"})
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(json.loads(body), {
                "payload": {"p": 1},
                "query_params": {"a": "3", "b": "x y", "empty": ""},
                "headers": {"x-user": "7"},
            })
            # Absent query and headers arrive as empty dicts.
            header, body = client.predict(b"raw", content_type=None)
            self.assertEqual(json.loads(body),
                             {"payload": "raw", "query_params": {}, "headers": {}})

    def test_config_reaches_init_and_a_str_result_is_text(self):
        with Runtime("version", config={"version": "v1"}) as runtime:
            header, body = runtime.connect().predict(b"{}")
            self.assertEqual(header["status"], 200)
            self.assertEqual(header["content_type"], "text/plain; charset=utf-8")
            self.assertEqual(body, b"v1")


class ResultTests(unittest.TestCase):
    def test_nan_in_the_result_is_500_invalid_response(self):
        with Runtime("nan") as runtime:
            client = runtime.connect()
            header, body = client.predict(b"{}")
            self.assertEqual(header["status"], 500)
            self.assertEqual(header["error"]["kind"], "invalid_response")
            self.assertIn("NaN", header["error"]["message"])
            self.assertEqual(body, b"")
            self.assertEqual(client.request({"kind": "health", "id": 2})[0]["status"], 200)


if __name__ == "__main__":
    unittest.main()
