"""Job workers (``--work-url``): the BatchAPI lease loop and the TaskAPI process.

The worker runs as the real ``python -m tern_runtime`` subprocess. Its control plane here is a
stand-in: a small ``http.server`` in the test that answers the work protocol from a script and
records every request, so each answer a worker can get (item, wait, complete, exit, 409, 410,
no server at all) is tried in isolation. The real control plane and the worker together are
tested end to end in Tests/TernEndToEndTests/JobsTests.swift.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import FIXTURES, make_project, make_spec, runtime_command, runtime_env

TOKEN = "work-token-123"


class StandInControlPlane:
    """Answers ``POST <base>/lease`` from ``leases`` (a list of (status, body) pairs; the last
    one repeats) and every other route with ``other_status``; records ``(path, body, auth)``."""

    def __init__(self, leases, other_status=200):
        self.leases = list(leases)
        self.other_status = other_status
        self.requests = []
        self.lock = threading.Lock()
        plane = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                with plane.lock:
                    plane.requests.append((self.path, body, self.headers.get("Authorization")))
                    if self.path.endswith("/lease"):
                        status, answer = plane.leases[0] if len(plane.leases) == 1 else plane.leases.pop(0)
                    else:
                        status, answer = plane.other_status, {}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/work/jobs/j1"

    def paths(self):
        with self.lock:
            return [path.rsplit("/j1/", 1)[1] for path, _, _ in self.requests]

    def bodies(self, suffix):
        with self.lock:
            return [body for path, body, _ in self.requests if path.endswith(suffix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def item(number, payload, lease_seconds=30):
    return 200, {"type": "item", "id": str(number), "receipt": f"r{number}",
                 "lease_seconds": lease_seconds, "payload": payload}


EXIT = (200, {"type": "exit"})


class WorkerTestCase(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="tern-worker-")
        self.addCleanup(shutil.rmtree, self.scratch, True)

    def run_worker(self, url, kind="BatchAPI", fixture="batch-recorder", path="predictor.py",
                   config=None, project_dir=None, extra_env=None, timeout=30):
        spec = make_spec(fixture, project_dir=project_dir, path=path)
        spec_file = os.path.join(self.scratch, "spec.json")
        with open(spec_file, "w") as f:
            json.dump(spec, f)
        job_file = os.path.join(self.scratch, "job.json")
        with open(job_file, "w") as f:
            json.dump({"kind": kind, "job_id": "j1", "api_name": "digits", "config": config or {},
                       "job_spec": {"job_id": "j1", "workers": 1}}, f)
        env = runtime_env()
        env["TERN_WORK_TOKEN"] = TOKEN
        env.update(extra_env or {})
        command = runtime_command(spec_file, os.path.join(self.scratch, "sock"), 0)
        command += ["--work-url", url, "--job-file", job_file]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=project_dir or os.path.join(FIXTURES, fixture))

    def records(self):
        path = os.path.join(self.scratch, "record.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


class BatchWorkerTests(WorkerTestCase):
    def test_items_are_predicted_done_or_failed_then_on_job_complete_runs_once(self):
        plane = StandInControlPlane([
            item(0, [1, 2]), (200, {"type": "wait", "seconds": 0.05}), item(1, ["boom"]),
            (200, {"type": "complete"}), EXIT,
        ])
        self.addCleanup(plane.close)
        record = os.path.join(self.scratch, "record.jsonl")
        result = self.run_worker(plane.url, config={"record_path": record, "label": "L"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(plane.paths(), ["lease", "items/0/done", "lease", "lease",
                                         "items/1/failed", "lease", "complete", "lease"])
        self.assertEqual(plane.bodies("/done"), [{"receipt": "r0"}])
        failed = plane.bodies("/failed")[0]
        self.assertEqual(failed["receipt"], "r1")
        self.assertEqual(failed["error"], "ValueError: item boom in batch 1")
        self.assertIn("Traceback", failed["traceback"])
        self.assertEqual(plane.bodies("/complete"), [{"worker": "test-replica", "error": None}])
        self.assertEqual(plane.bodies("/lease")[0], {"worker": "test-replica"})
        self.assertTrue(all(auth == f"Bearer {TOKEN}" for _, _, auth in plane.requests))
        lines = self.records()
        self.assertEqual([line.get("batch_id") for line in lines], ["0", "1", None])
        self.assertEqual(lines[0]["items"], [1, 2])
        self.assertEqual(lines[0]["config_label"], "L")
        self.assertEqual(lines[0]["job_id"], "j1")  # job_spec reached __init__
        self.assertTrue(lines[2]["on_job_complete"])
        self.assertIn("batch 1 failed: ValueError: item boom in batch 1", result.stderr)

    def test_a_long_batch_is_heart_beaten_until_done(self):
        plane = StandInControlPlane([item(7, [1], lease_seconds=0.3), EXIT])
        self.addCleanup(plane.close)
        record = os.path.join(self.scratch, "record.jsonl")
        result = self.run_worker(plane.url, config={"record_path": record, "sleep_seconds": 0.6})
        self.assertEqual(result.returncode, 0, result.stderr)
        paths = plane.paths()
        self.assertGreaterEqual(paths.count("items/7/heartbeat"), 3, paths)
        self.assertLess(paths.index("items/7/heartbeat"), paths.index("items/7/done"))
        self.assertEqual(plane.bodies("/heartbeat")[0], {"receipt": "r7"})

    def test_a_lost_lease_stops_the_heartbeat_and_is_logged(self):
        plane = StandInControlPlane([item(3, [1], lease_seconds=0.3), EXIT], other_status=409)
        self.addCleanup(plane.close)
        record = os.path.join(self.scratch, "record.jsonl")
        result = self.run_worker(plane.url, config={"record_path": record, "sleep_seconds": 0.6})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(plane.paths().count("items/3/heartbeat"), 1)
        self.assertIn("lost the lease of batch 3", result.stderr)
        self.assertIn("batch 3 was done after its lease was lost", result.stderr)

    def test_a_gone_job_ends_the_worker_with_exit_code_0(self):
        for status in (401, 404, 410):
            plane = StandInControlPlane([(status, {"error": {"message": "gone"}})])
            result = self.run_worker(plane.url, config={"record_path": "/dev/null"})
            plane.close()
            self.assertEqual(result.returncode, 0, f"{status}: {result.stderr}")
            self.assertEqual(plane.paths(), ["lease"])

    def test_an_unreachable_control_plane_is_retried_then_exit_code_5(self):
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        started = time.monotonic()
        result = self.run_worker(f"http://127.0.0.1:{port}/v1/work/jobs/j1",
                                 config={"record_path": "/dev/null"},
                                 extra_env={"TERN_WORK_UNREACHABLE_SECONDS": "1"})
        elapsed = time.monotonic() - started
        self.assertEqual(result.returncode, 5, result.stderr)
        self.assertIn("has not answered for 1 s", result.stderr)
        self.assertLess(elapsed, 10)

    def test_a_predictor_that_fails_to_load_exits_3_with_its_traceback(self):
        project = make_project({"predictor.py": "class PythonPredictor:\n"
                                "    def __init__(self, config):\n        raise KeyError('model')\n"
                                "    def predict(self, payload):\n        return payload\n"})
        self.addCleanup(shutil.rmtree, project, True)
        plane = StandInControlPlane([EXIT])
        self.addCleanup(plane.close)
        result = self.run_worker(plane.url, project_dir=project)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("PythonPredictor.__init__ raised KeyError: 'model'", result.stderr)
        self.assertIn("Traceback", result.stderr)
        self.assertEqual(plane.paths(), [])

    def test_predict_may_take_only_the_payload(self):
        project = make_project({"predictor.py": "import json, os\nclass PythonPredictor:\n"
                                "    def __init__(self, config):\n        self.out = config['out']\n"
                                "    def predict(self, payload):\n"
                                "        open(self.out, 'a').write(json.dumps(payload))\n"})
        self.addCleanup(shutil.rmtree, project, True)
        plane = StandInControlPlane([item(0, ["a", "b"]), EXIT])
        self.addCleanup(plane.close)
        out = os.path.join(self.scratch, "out.json")
        result = self.run_worker(plane.url, project_dir=project, config={"out": out})
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(out) as f:
            self.assertEqual(json.load(f), ["a", "b"])


def request(number, body, content_type):
    return 200, {"type": "item", "id": f"q{number}", "receipt": f"r{number}", "lease_seconds": 30,
                 "content_type": content_type, "body_base64": base64.b64encode(body).decode()}


class AsyncWorkerTests(WorkerTestCase):
    def test_requests_are_decoded_by_content_type_and_results_posted_encoded(self):
        plane = StandInControlPlane([
            request(0, b'{"n": 1}', "application/json"), request(1, b"hello", "text/plain"),
            request(2, b'{"fail": true}', "application/json"), request(3, b"{not json", "application/json"),
            (200, {"type": "wait", "seconds": 0}), EXIT,
        ])
        self.addCleanup(plane.close)
        result = self.run_worker(plane.url, kind="AsyncAPI", fixture="async-echo",
                                 config={"label": "L"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(plane.paths(), ["lease", "items/q0/done", "lease", "items/q1/done", "lease",
                                         "items/q2/failed", "lease", "items/q3/failed", "lease",
                                         "lease"])
        done = plane.bodies("/done")
        self.assertEqual(done[0]["status"], 200)
        self.assertEqual(done[0]["content_type"], "application/json")
        echoed = json.loads(base64.b64decode(done[0]["body_base64"]))
        self.assertEqual(echoed["echo"], {"n": 1})
        self.assertEqual(echoed["request_id"], "q0")
        self.assertEqual(echoed["label"], "L")
        self.assertEqual(done[1]["content_type"], "text/plain; charset=utf-8")
        self.assertEqual(base64.b64decode(done[1]["body_base64"]), b"HELLO")
        failed = plane.bodies("/failed")
        self.assertEqual(failed[0], {"receipt": "r2", "error": "ValueError: asked to fail"})
        self.assertTrue(failed[1]["error"].startswith("invalid_json: invalid JSON"), failed[1])
        self.assertIn("request q2 failed: ValueError: asked to fail", result.stderr)


class TaskTests(WorkerTestCase):
    def test_the_task_is_called_once_with_the_config(self):
        out = os.path.join(self.scratch, "out.json")
        result = self.run_worker("http://127.0.0.1:9/unused", kind="TaskAPI", fixture="task-writer",
                                 path="task.py", config={"output_path": out, "epochs": 3})
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(out) as f:
            self.assertEqual(json.load(f), {"output_path": out, "epochs": 3})
        self.assertIn("the task finished in", result.stderr)

    def test_a_task_that_raises_exits_1_with_its_traceback(self):
        result = self.run_worker("http://127.0.0.1:9/unused", kind="TaskAPI", fixture="task-writer",
                                 path="task.py", config={"fail": True})
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("RuntimeError: the task was asked to fail", result.stderr)
        self.assertIn('task.py", line', result.stderr)

    def test_a_file_without_a_callable_task_exits_3(self):
        project = make_project({"task.py": "class Task:\n    pass\n"})
        self.addCleanup(shutil.rmtree, project, True)
        result = self.run_worker("http://127.0.0.1:9/unused", kind="TaskAPI", path="task.py",
                                 project_dir=project)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("Task in task.py has no __call__ method", result.stderr)


if __name__ == "__main__":
    unittest.main()
