"""Failures of the predictor (C10) and of loading (exit code 3) and of arguments (exit 4)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import Runtime, make_project, make_spec, runtime_command, runtime_env


class PredictErrorTests(unittest.TestCase):
    """C10: one failing request never wedges the worker."""

    def test_exceptions_are_500_predictor_error_and_the_worker_keeps_serving(self):
        expected = {
            "raise": "ValueError: boom",
            "exit": "SystemExit: 1",
            "kbd": "KeyboardInterrupt",
        }
        with Runtime("boom") as runtime:
            client = runtime.connect()
            for mode, message in expected.items():
                with self.subTest(mode=mode):
                    header, body = client.predict_json({"mode": mode},
                                                       request_id=f"req-{mode}")
                    self.assertEqual(header["status"], 500, header)
                    self.assertEqual(header["error"],
                                     {"kind": "predictor_error", "message": message})
                    self.assertEqual(body, b"")
                    for _ in range(5):
                        header, body = client.predict_json({"mode": "ok"})
                        self.assertEqual((header["status"], body), (200, {"ok": True}))
            # A second connection still works too, and the process is still up.
            header, body = runtime.connect().predict_json({"mode": "ok"})
            self.assertEqual(header["status"], 200)
            self.assertIsNone(runtime.proc.poll())
            log = runtime.stderr()
        self.assertIn("[req-raise] Traceback (most recent call last):", log)
        self.assertIn("[req-raise] ValueError: boom", log)
        self.assertIn("[req-exit] SystemExit: 1", log)
        self.assertIn("[req-kbd] KeyboardInterrupt", log)

    def test_os_exit_closes_the_connection_promptly_and_the_process_exits(self):
        with Runtime("boom") as runtime:
            client = runtime.connect()
            started = time.monotonic()
            client.send({"kind": "predict", "id": 1, "request_id": "die",
                         "content_type": "application/json"}, b'{"mode": "os_exit"}')
            self.assertTrue(client.closed_by_peer(3.0))
            self.assertLess(time.monotonic() - started, 2.0)
            self.assertEqual(runtime.wait(5), 1)


class LoadFailureTests(unittest.TestCase):
    """A predictor that cannot load: exit code 3, the reason on stderr, no socket."""

    def assert_load_fails(self, runtime: Runtime, *needles: str) -> str:
        runtime.start(wait_ready=False)
        self.assertEqual(runtime.wait(20), 3)
        log = runtime.stderr()
        for needle in needles:
            self.assertIn(needle, log)
        self.assertFalse(os.path.exists(runtime.socket_path()))
        self.assertEqual([n for n in os.listdir(runtime.socket_dir) if "sock" in n], [])
        return log

    def test_init_raising_exits_3_with_the_traceback(self):
        runtime = Runtime("bad-init")
        try:
            log = self.assert_load_fails(
                runtime, "Traceback (most recent call last):",
                "RuntimeError: model file is corrupt")
            self.assertIn("model file is corrupt", log.strip().splitlines()[-1])
        finally:
            runtime.stop()

    def test_missing_file_missing_class_import_error_and_bad_predict(self):
        cases = {
            "missing file": ({}, ["predictor file not found", "predictor.py"]),
            "missing class": ({"predictor.py": "class Other:\n    pass\n"},
                              ["predictor.py defines no class PythonPredictor"]),
            "import error": ({"predictor.py": "import no_such_module_xyz\n"},
                             ["Traceback", "ModuleNotFoundError",
                              "importing predictor.py raised"]),
            "syntax error": ({"predictor.py": "def broken(:\n"}, ["SyntaxError"]),
            "no predict": ({"predictor.py": "class PythonPredictor:\n    pass\n"},
                           ["has no predict method"]),
            "predict needs an unknown argument": (
                {"predictor.py": "class PythonPredictor:\n"
                                 "    def predict(self, payload, batch_id):\n"
                                 "        return 1\n"},
                ["requires a parameter 'batch_id'"]),
        }
        for name, (files, needles) in cases.items():
            with self.subTest(case=name):
                project = make_project(files)
                runtime = Runtime(name, project_dir=project)
                try:
                    self.assert_load_fails(runtime, *needles)
                finally:
                    runtime.stop()
                    shutil.rmtree(project)

    def test_python_path_and_project_dir_are_importable_and_cwd_is_the_project(self):
        project = make_project({
            "src/predictor.py":
                "import os, helper, shared\n"
                "class PythonPredictor:\n"
                "    def __init__(self, config):\n"
                "        self.cwd = os.getcwd()\n"
                "    def predict(self, payload):\n"
                "        return {'cwd': self.cwd, 'helper': helper.NAME,\n"
                "                'shared': shared.NAME, 'module': __name__}\n",
            "lib/helper.py": "NAME = 'helper'\n",
            "shared.py": "NAME = 'shared'\n",
        })
        try:
            with Runtime("paths", project_dir=project, path="src/predictor.py",
                         python_path="lib") as runtime:
                header, body = runtime.connect().predict_json({})
            self.assertEqual(header["status"], 200, header)
            self.assertEqual(body, {"cwd": os.path.realpath(project), "helper": "helper",
                                    "shared": "shared", "module": "tern_predictor"})
        finally:
            shutil.rmtree(project)


class UsageErrorTests(unittest.TestCase):
    """Bad arguments or spec: exit code 4 before anything is loaded."""

    def run_runtime(self, args=None, spec=None):
        directory = tempfile.mkdtemp(prefix="tern-usage-")
        try:
            spec_file = os.path.join(directory, "spec.json")
            with open(spec_file, "w") as f:
                f.write(spec if isinstance(spec, str) else json.dumps(spec or {}))
            command = args if args is not None else runtime_command(
                spec_file, os.path.join(directory, "s"), 0)
            return subprocess.run(command, env=runtime_env(), capture_output=True,
                                  timeout=30, cwd=directory)
        finally:
            shutil.rmtree(directory)

    def test_bad_arguments_and_specs_exit_4(self):
        good = make_spec("echo")
        cases = {
            "no arguments": ([sys.executable, "-m", "tern_runtime"], None),
            "spec not JSON": (None, "{nope"),
            "missing predictor": (None, {"api_name": "x", "project_dir": "/"}),
            "bad type": (None, {**good, "predictor": {**good["predictor"], "type": "tensorflow"}}),
            "zero threads": (None, {**good, "predictor": {**good["predictor"],
                                                          "threads_per_process": 0}}),
            "bool processes": (None, {**good, "predictor": {**good["predictor"],
                                                            "processes_per_replica": True}}),
        }
        for name, (args, spec) in cases.items():
            with self.subTest(case=name):
                result = self.run_runtime(args, spec)
                self.assertEqual(result.returncode, 4, result.stderr)
                self.assertIn(b"bad arguments", result.stderr)


if __name__ == "__main__":
    unittest.main()
