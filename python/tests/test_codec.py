"""In-process unit tests of payload decoding and result encoding (no subprocess).

When ``orjson`` is importable, the fast path is checked against the standard-library path:
same values, same errors, same messages.
"""

import enum
import json
import math
import sys
import unittest
import uuid

from harness import PYTHON_DIR

sys.path.insert(0, PYTHON_DIR)

from tern_runtime import jsoncodec  # noqa: E402
from tern_runtime.payload import (  # noqa: E402
    PayloadError, ResultError, decode_payload, encode_result, parse_query)

DECODE_CORPUS = [
    b'{"a": 1}', b"[]", b"{}", b" [1, 2.5, -0, -0.0, 1e5, 1E+5, 1e-400, 1e400] ",
    b'"\\u00e9\\ud83d\\ude00"', b'"\\ud800"', b'"\\u0000"', b'{"a": 1, "a": 2}',
    b"18446744073709551615", b"18446744073709551616", b"-9223372036854775809",
    b"123456789012345678901234567890", b"0.1234567890123456789", b"1" * 5000,
    b'{"a": 1', b"{'a': 1}", b'{"a": 1,}', b'{"a":1}{"b":2}', b'\xef\xbb\xbf{"a":1}',
    b"nul", b'{"a": 01}', b"[NaN]", b"[-Infinity]", b"Infinity", b'["\xff"]',
    b'"\xed\xa0\x80"', b'"\x01"', b"[1]\x0c", b"[1]\x00", b"\x00[1]", b"True",
    b"[" * 500 + b"]" * 500, b"[" * 1100 + b"]" * 1100, b"[" * 100000,
    "{\"é\": [\"ü\", 1]}".encode(), b'{"k": "x"}\n\n  ', b'\n\n  {"k": }',
]


def _outcome(function, body):
    try:
        return ("ok", repr(function(body)))
    except jsoncodec.JSONDecodeFailure as e:
        return ("error", str(e))


class Color(enum.Enum):
    RED = 1


class JSONDecodeTests(unittest.TestCase):
    def test_errors_name_line_and_column(self):
        with self.assertRaisesRegex(jsoncodec.JSONDecodeFailure, "line 3, column 7"):
            jsoncodec.loads(b'{\n "a": 1,\n "b": x}')
        with self.assertRaisesRegex(jsoncodec.JSONDecodeFailure, "line 2, column 3"):
            jsoncodec.loads('[\n"é\xff"]'.encode("latin-1").replace(b"\xe9", b"\xc3\xa9"))

    def test_nan_and_infinity_are_not_json(self):
        for body in (b"NaN", b"[1, Infinity]", b'{"a": -Infinity}'):
            with self.assertRaisesRegex(jsoncodec.JSONDecodeFailure, "is not valid JSON"):
                jsoncodec.loads(body)

    def test_big_integers_stay_exact(self):
        self.assertEqual(jsoncodec.loads(b"[123456789012345678901234567890]"),
                         [123456789012345678901234567890])

    def test_too_deep_nesting_is_an_error_not_a_crash(self):
        with self.assertRaisesRegex(jsoncodec.JSONDecodeFailure, "nested too deeply"):
            jsoncodec.loads(b"[" * 100000 + b"]" * 100000)

    @unittest.skipUnless(jsoncodec.using_orjson(), "orjson is not installed")
    def test_scanner_fast_path_gives_what_json_decode_gives(self):
        # jsoncodec reads a body with the decoder's C scanner when the text is exactly one value
        # and falls back to ``decode`` otherwise; either way the value is the standard one.
        decoder = json.JSONDecoder()
        for body in DECODE_CORPUS:
            try:
                expected = ("ok", repr(decoder.decode(body.decode("utf-8"))))
            except (ValueError, RecursionError):
                continue  # errors: covered by the message tests
            self.assertEqual(_outcome(lambda b: jsoncodec._loads_std(b), body), expected, body)

    def test_a_value_followed_by_whitespace_is_read_once_and_equals_json_loads(self):
        # The scanner fast path also takes a value followed by JSON whitespace (a body ending in
        # a newline, as files and editors write them); anything else after the value is still
        # decode's error, and the value is the standard one either way.
        for body in (b'{"a": [1, 2.5]}\n', b"[1]\r\n\t ", b'"s"\n', b"1\n", b"-0.0 \n", b"null\n"):
            self.assertEqual(_outcome(jsoncodec._loads_std, body), ("ok", repr(json.loads(body))), body)
        for body in (b'{"a":1}\n x', b'{"a":1}\n{"b":2}', b"[1]\x0c", b"[1] \x00", b"1 2", b"[1]\n\u00a0".decode(
                "unicode_escape").encode()):
            self.assertEqual(_outcome(jsoncodec._loads_std, body)[0], "error", body)
            with self.assertRaises(ValueError):
                json.loads(body)
        scans = []
        decoder = jsoncodec._decoder
        original = decoder.decode
        decoder.decode = lambda text: scans.append(text) or original(text)
        try:
            self.assertEqual(jsoncodec._loads_std(b'{"k": [1]}\n'), {"k": [1]})
        finally:
            del decoder.decode
        self.assertEqual(scans, [], "a body ending in a newline was decoded twice")

    def test_frame_headers_decode_with_or_without_surrounding_whitespace(self):
        for raw in (b'{"kind":"predict","id":7}', b' {"kind":"predict","id":7}\n'):
            self.assertEqual(jsoncodec.loads_header(raw), {"kind": "predict", "id": 7})
        for raw in (b'{"id":7} {"id":8}', b'{"id":', b""):
            with self.assertRaises(ValueError, msg=raw):
                jsoncodec.loads_header(raw)

    def test_orjson_path_behaves_like_the_standard_path(self):
        for body in DECODE_CORPUS:
            with self.subTest(body=body[:40]):
                self.assertEqual(_outcome(jsoncodec.loads, body),
                                 _outcome(jsoncodec._loads_std, body))


class JSONEncodeTests(unittest.TestCase):
    VALUES = [
        {"a": [1, 2.5, None, True, False], "é": "ü\u2028\x7f\x01\"\\"},
        [1e16, 1e-7, -0.0, 2 ** 70, -(2 ** 63) - 1], {1: "int key", None: 0, True: 1},
        (1, 2), {"id": uuid.UUID(int=1), "color": Color.RED}, "text", None, 0,
    ]
    FAILING = [float("nan"), {"p": [0.1, float("inf")]}, {"b": b"bytes"}, object(),
               {"s": "\ud800"}, {1.5j: 1}]

    def test_values_encode_as_compact_json(self):
        self.assertEqual(jsoncodec.dumps({"a": [1, "é"]}), '{"a":[1,"é"]}'.encode())
        self.assertEqual(json.loads(jsoncodec.dumps({"id": uuid.UUID(int=1), "c": Color.RED})),
                         {"id": "00000000-0000-0000-0000-000000000001", "c": 1})

    def test_unencodable_values_fail(self):
        for value in self.FAILING:
            with self.subTest(value=repr(value)):
                with self.assertRaises(jsoncodec.JSONEncodeFailure):
                    jsoncodec.dumps(value)
        circular = []
        circular.append(circular)
        with self.assertRaises(jsoncodec.JSONEncodeFailure):
            jsoncodec.dumps(circular)

    @unittest.skipUnless(jsoncodec.using_orjson(), "orjson is not installed")
    def test_orjson_path_behaves_like_the_standard_path(self):
        for value in self.VALUES:
            with self.subTest(value=repr(value)):
                self.assertEqual(json.loads(jsoncodec.dumps(value)),
                                 json.loads(jsoncodec._dumps_std(value)))


class PayloadTests(unittest.TestCase):
    def test_content_type_mapping(self):
        self.assertEqual(decode_payload(b'{"a":1}', "application/json"), {"a": 1})
        self.assertEqual(decode_payload(b'{"a":1}', "APPLICATION/JSON; charset=x"), {"a": 1})
        self.assertEqual(decode_payload(b"[1]", "application/ld+json"), [1])
        self.assertEqual(decode_payload(b"hi", "text/plain"), "hi")
        self.assertEqual(decode_payload(b"hi", None), b"hi")
        self.assertEqual(decode_payload(b"hi", "+json"), b"hi")
        self.assertEqual(decode_payload(b"hi", "text/plainx"), b"hi")

    def test_payload_errors_have_kinds(self):
        for body, content_type, kind in ((b"", "application/json", "empty_body"),
                                         (b" \x00\n", "application/json", "empty_body"),
                                         (b"{", "application/json", "invalid_json"),
                                         (b"\xff", "text/plain", "invalid_text")):
            with self.subTest(body=body):
                with self.assertRaises(PayloadError) as caught:
                    decode_payload(body, content_type)
                self.assertEqual(caught.exception.kind, kind)

    def test_query_last_value_wins(self):
        self.assertEqual(parse_query("a=1&b=&a=2&c=x+y%21"), {"a": "2", "b": "", "c": "x y!"})
        self.assertEqual(parse_query(None), {})

    def test_result_encoding(self):
        self.assertEqual(encode_result("é"), ("text/plain; charset=utf-8", "é".encode()))
        self.assertEqual(encode_result(b"\x00"), ("application/octet-stream", b"\x00"))
        self.assertEqual(encode_result(bytearray(b"x")), ("application/octet-stream", b"x"))
        self.assertEqual(encode_result({"a": None}), ("application/json", b'{"a":null}'))
        self.assertEqual(encode_result(True), ("application/json", b"true"))
        with self.assertRaises(ResultError):
            encode_result({"p": math.nan})
        with self.assertRaises(ResultError):
            encode_result("\ud800")


if __name__ == "__main__":
    unittest.main()
