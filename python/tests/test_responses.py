"""Response objects returned by ``predict`` (Starlette's, as Cortex passed them through) and
``post_predict``, against the real runtime; the stand-in ``starlette.responses`` against the
real Starlette (installed apart in .python-extras by scripts/setup-python.sh)."""

import json
import os
import subprocess
import sys
import time
import unittest

from harness import PYTHON_DIR, STARLETTE_DIR, Runtime

_COMPARE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from tern_runtime import responses as ours
from tern_runtime.responses import answer_parts
import starlette.responses as real
out = []
for cls, args, kwargs in [
    ("JSONResponse", [{"id": 7, "name": "café", "x": [1, 2.5, None]}], {"status_code": 201,
        "headers": {"Location": "/items/7"}}),
    ("PlainTextResponse", ["short and stout"], {"status_code": 418}),
    ("HTMLResponse", ["<p>hi</p>"], {}),
    ("Response", [b"\x00\x01"], {"media_type": "application/x-thing",
        "headers": {"Cache-Control": "no-store"}}),
    ("Response", [], {"status_code": 204}),
    ("Response", ["text"], {"media_type": "text/csv"}),
]:
    parts = [answer_parts(getattr(m, cls)(*args, **kwargs)) for m in (real, ours)]
    out.append([[p[0], p[1], p[2].decode("latin-1"), p[3]] for p in parts])
print(json.dumps(out))
"""


class StandInTests(unittest.TestCase):
    def test_stand_in_answers_as_the_real_starlette_does(self):
        self.assertTrue(os.path.isdir(os.path.join(STARLETTE_DIR, "starlette")),
                        "scripts/setup-python.sh installs Starlette into .python-extras")
        env = dict(os.environ, PYTHONPATH=STARLETTE_DIR)
        done = subprocess.run([sys.executable, "-c", _COMPARE, PYTHON_DIR], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        pairs = json.loads(done.stdout)
        self.assertEqual(len(pairs), 6)
        for real, ours in pairs:
            self.assertEqual(ours, real)
        # Concrete values, so that both agreeing on something wrong also fails.
        self.assertEqual(pairs[0][0], [201, "application/json",
                                       '{"id":7,"name":"cafÃ©","x":[1,2.5,null]}',
                                       [["location", "/items/7"]]])
        self.assertEqual(pairs[1][0][:3], [418, "text/plain; charset=utf-8", "short and stout"])
        self.assertEqual(pairs[4][0], [204, None, "", []])

    def test_an_installed_starlette_wins_over_the_stand_in(self):
        script = ("import sys; sys.path.insert(0, sys.argv[1]); "
                  "from tern_runtime.responses import install_fallback; install_fallback(); "
                  "import starlette.responses as r; print(getattr(r, \"__file__\", None))")
        with_real = subprocess.run(
            [sys.executable, "-c", script, PYTHON_DIR], capture_output=True, text=True,
            env=dict(os.environ, PYTHONPATH=STARLETTE_DIR), timeout=60)
        self.assertEqual(with_real.returncode, 0, with_real.stderr)
        self.assertTrue(with_real.stdout.strip().startswith(STARLETTE_DIR), with_real.stdout)
        without = subprocess.run([sys.executable, "-c", script, PYTHON_DIR],
                                 capture_output=True, text=True, timeout=60)
        self.assertEqual(without.returncode, 0, without.stderr)
        self.assertEqual(without.stdout.strip(), "None")  # the stand-in has no file


class ResponseFrameTests(unittest.TestCase):
    """The fixture is a Cortex project returning Starlette responses, run without Starlette
    installed (the stand-in) and with it (the real classes)."""

    def _check_answers(self, runtime):
        client = runtime.connect()
        header, body = client.predict_json({"action": "created"})
        self.assertEqual(header["status"], 201)
        self.assertEqual(header["content_type"], "application/json")
        self.assertEqual(header["headers"], [["location", "/items/7"], ["x-model-version", "3"]])
        self.assertEqual(body, {"id": 7, "name": "café"})

        header, body = client.predict_json({"action": "teapot"})
        self.assertEqual((header["status"], header["content_type"], body),
                         (418, "text/plain; charset=utf-8", b"short and stout"))
        self.assertNotIn("headers", header)

        header, body = client.predict_json({"action": "bytes"})
        self.assertEqual((header["status"], header["content_type"], body),
                         (200, "application/x-tern-test", b"\x00\x01\x02"))
        # The predictor's own Content-Length is the gateway's to write, so it is dropped.
        self.assertEqual(header["headers"], [["cache-control", "no-store"]])

        header, body = client.predict_json({"action": "empty"})
        self.assertEqual((header["status"], body), (204, b""))

        header, _ = client.predict_json({"action": "bad-status"})
        self.assertEqual(header["status"], 500)
        self.assertEqual(header["error"]["kind"], "invalid_response")
        self.assertIn("status_code 99", header["error"]["message"])
        return client

    def test_responses_with_the_stand_in(self):
        with Runtime("cortex-responses", config={"post_predict_delay": 0}) as runtime:
            client = self._check_answers(runtime)
            _, body = client.predict_json({"action": "which"})
            self.assertEqual(body, {"starlette.responses": None})  # the stand-in has no file

    def test_responses_with_the_real_starlette(self):
        with Runtime("cortex-responses", extra_path=(STARLETTE_DIR,),
                     config={"post_predict_delay": 0}) as runtime:
            client = self._check_answers(runtime)
            _, body = client.predict_json({"action": "which"})
            self.assertTrue(body["starlette.responses"].startswith(STARLETTE_DIR), body)

    def test_post_predict_runs_after_the_answer_is_sent(self):
        with Runtime("cortex-responses", config={"post_predict_delay": 0.5}) as runtime:
            client = runtime.connect()
            self.assertEqual(client.hello["accepts"], ["payload", "query_params"])
            started = time.monotonic()
            header, _ = client.predict_json({"action": "created"}, query="tag=a")
            answered = time.monotonic()
            self.assertEqual(header["status"], 201)
            self.assertLess(answered - started, 0.4)  # not held for post_predict's 0.5 s
            header, _ = client.predict_json({"action": "teapot"})
            self.assertEqual(header["status"], 418)
            header, _ = client.predict_json({"action": "bad-status"})  # not sent: no post_predict
            self.assertEqual(header["status"], 500)
            # One thread: this predict waits for the slot until both post_predicts are done.
            header, body = client.predict_json({"action": "history"})
            seen = body["post_predict"]
            self.assertEqual([(s["action"], s["status"], s["q"]) for s in seen],
                             [("created", 201, {"tag": "a"}), ("teapot", 418, {})])
            self.assertGreaterEqual(seen[0]["at"], started + 0.5)

    def test_an_exception_in_post_predict_is_logged_and_the_replica_serves_on(self):
        project = _project_with_failing_post_predict()
        with Runtime("post-predict-fails", project_dir=project) as runtime:
            client = runtime.connect()
            header, body = client.predict_json({"n": 1})
            self.assertEqual((header["status"], body), (200, {"n": 1}))
            header, body = client.predict_json({"n": 2})
            self.assertEqual((header["status"], body), (200, {"n": 2}))
            deadline = time.monotonic() + 5
            while runtime.stderr().count("post_predict raised") < 2 \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            log = runtime.stderr()
            self.assertEqual(log.count("post_predict raised ValueError: after 1"), 1, log)
            self.assertEqual(log.count("post_predict raised ValueError: after 2"), 1, log)
            self.assertIn("Traceback", log)


def _project_with_failing_post_predict() -> str:
    from harness import make_project
    return make_project({"predictor.py": (
        "class PythonPredictor:\n"
        "    def __init__(self, config):\n"
        "        pass\n"
        "    def predict(self, payload):\n"
        "        return payload\n"
        "    def post_predict(self, response):\n"
        "        raise ValueError(f\"after {response['n']}\")\n"
    )})


if __name__ == "__main__":
    unittest.main()
