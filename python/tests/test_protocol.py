"""Frames, hello, health and unknown kinds, against the real runtime subprocess."""

import json
import os
import socket
import struct
import unittest

from harness import Runtime


class HelloTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.runtime = Runtime("echo").start()

    @classmethod
    def tearDownClass(cls):
        cls.runtime.stop()

    def test_hello_reports_protocol_worker_pid_runtime_and_accepts(self):
        client = self.runtime.connect(hello=False)
        header, body = client.request({"kind": "hello", "id": 0, "protocol": 1})
        self.assertEqual(body, b"")
        self.assertEqual(header["kind"], "hello")
        self.assertEqual(header["id"], 0)
        self.assertEqual(header["status"], 200)
        self.assertEqual(header["protocol"], 1)
        self.assertEqual(header["pid"], self.runtime.proc.pid)
        self.assertEqual(header["worker"], 0)
        self.assertEqual(header["runtime"], "0.1.0")
        self.assertEqual(header["accepts"], ["payload"])
        client.close()

    def test_unsupported_protocol_gets_505_and_the_connection_closes(self):
        client = self.runtime.connect(hello=False)
        header, body = client.request({"kind": "hello", "id": 0, "protocol": 2})
        self.assertEqual(header["status"], 505)
        self.assertEqual(header["protocol"], 1)
        self.assertEqual(header["error"]["kind"], "unsupported_protocol")
        self.assertTrue(client.closed_by_peer(2.0))
        client.close()

    def test_health_answers_200_with_the_request_id(self):
        client = self.runtime.connect()
        header, body = client.request({"kind": "health", "id": 18})
        self.assertEqual(header, {"id": 18, "status": 200})
        self.assertEqual(body, b"")
        client.close()

    def test_unknown_kind_gets_400_and_the_connection_stays_open(self):
        client = self.runtime.connect()
        header, _ = client.request({"kind": "job_batch", "id": 7})
        self.assertEqual(header["id"], 7)
        self.assertEqual(header["status"], 400)
        self.assertEqual(header["error"]["kind"], "unknown_kind")
        self.assertIn("job_batch", header["error"]["message"])
        header, _ = client.request({"kind": "health", "id": 8})
        self.assertEqual(header, {"id": 8, "status": 200})
        client.close()

    def test_header_over_the_limit_closes_the_connection(self):
        client = self.runtime.connect()
        client.sock.sendall(struct.pack(">II", (1 << 20) + 1, 0))
        self.assertTrue(client.closed_by_peer(2.0))
        client.close()
        self.assertEqual(self._health(), 200)  # the worker itself is fine

    def test_body_over_the_limit_closes_the_connection(self):
        client = self.runtime.connect()
        client.sock.sendall(struct.pack(">II", 2, (1 << 30) + 1) + b"{}")
        self.assertTrue(client.closed_by_peer(2.0))
        client.close()
        self.assertEqual(self._health(), 200)

    def test_header_that_is_not_a_json_object_closes_the_connection(self):
        for raw in (b"not json", b"[1, 2]"):
            client = self.runtime.connect()
            client.sock.sendall(struct.pack(">II", len(raw), 0) + raw)
            self.assertTrue(client.closed_by_peer(2.0), raw)
            client.close()
        self.assertEqual(self._health(), 200)

    def test_many_requests_on_one_connection_keep_their_ids(self):
        client = self.runtime.connect()
        for i in range(1, 201):
            header, body = client.request(
                {"kind": "predict", "id": i, "request_id": str(i),
                 "content_type": "application/json"}, json.dumps({"i": i}).encode())
            self.assertEqual((header["id"], header["status"]), (i, 200))
            self.assertEqual(json.loads(body), {"i": i})
        client.close()

    def test_a_predict_frame_id_that_is_not_an_integer_comes_back_unchanged(self):
        # The usual success header is pre-encoded for integer ids; other ids take the general path.
        client = self.runtime.connect()
        for frame_id in ("abc", None, 2.5, 7):
            header, body = client.request(
                {"kind": "predict", "id": frame_id, "content_type": "application/json"}, b'{"i": 1}')
            self.assertEqual((header["id"], header["status"], header["content_type"]),
                             (frame_id, 200, "application/json"))
            self.assertIsInstance(header["timing"]["predict_us"], int)
            self.assertEqual(json.loads(body), {"i": 1})
        client.close()

    def _health(self) -> int:
        client = self.runtime.connect()
        header, _ = client.request({"kind": "health", "id": 1})
        client.close()
        return header["status"]


class AcceptsTests(unittest.TestCase):
    def test_accepts_lists_what_predict_declares(self):
        for fixture, accepts in (
            ("query-headers", ["payload", "query_params", "headers"]),
            ("no-payload", []),
        ):
            with self.subTest(fixture=fixture), Runtime(fixture) as runtime:
                self.assertEqual(runtime.connect().hello["accepts"], accepts)

    def test_socket_appears_atomically_under_its_final_name_only(self):
        with Runtime("echo") as runtime:
            self.assertEqual(os.listdir(runtime.socket_dir), ["worker-0.sock"])
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(runtime.socket_path())
            probe.close()


class TraceContextTests(unittest.TestCase):
    """A traced frame (docs/tracing.md): its ``traceparent`` replaces the client's in the
    predictor's ``headers``, and the answer's ``timing`` gains the predict call's start."""

    TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"

    def test_traceparent_reaches_the_predictor_and_the_start_time_comes_back(self):
        import time
        with Runtime("query-headers") as runtime:
            client = runtime.connect()
            before = time.time_ns()
            header, answer = client.predict_json(
                {"x": 1}, headers={"traceparent": "00-client-00f067aa0ba902b7-01", "x-user": "7"},
                traceparent=self.TRACEPARENT)
            after = time.time_ns()
            self.assertEqual(header["status"], 200)
            self.assertEqual(answer["headers"], {"traceparent": self.TRACEPARENT, "x-user": "7"})
            started = header["timing"]["started_unix_ns"]
            self.assertIsInstance(started, int)
            self.assertTrue(before <= started <= after, (before, started, after))
            self.assertIsInstance(header["timing"]["predict_us"], int)

    def test_an_untraced_frame_is_answered_as_before(self):
        with Runtime("query-headers") as runtime:
            header, answer = runtime.connect().predict_json(
                {"x": 1}, headers={"traceparent": "00-client-00f067aa0ba902b7-01"})
            self.assertEqual(answer["headers"], {"traceparent": "00-client-00f067aa0ba902b7-01"})
            self.assertEqual(set(header["timing"]), {"predict_us"})


if __name__ == "__main__":
    unittest.main()
