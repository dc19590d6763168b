"""Concurrency, worker processes, graceful stop and the parent watcher (C10, C11)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import (Client, Runtime, make_project, make_spec, process_gone, runtime_command,
                     runtime_env, wait_until)


def predict_in_thread(client, value, results, key):
    """Run ``client.predict_json(value)`` in a thread; store ``(header, body, seconds)``."""
    def run():
        started = time.monotonic()
        header, body = client.predict_json(value)
        results[key] = (header, body, time.monotonic() - started)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


class ConcurrencyTests(unittest.TestCase):
    def test_health_is_answered_while_a_long_prediction_runs(self):  # C11
        with Runtime("slow") as runtime:
            busy, probe = runtime.connect(), runtime.connect()
            results = {}
            thread = predict_in_thread(busy, {"seconds": 2}, results, "slow")
            time.sleep(0.2)
            started = time.monotonic()
            header, _ = probe.request({"kind": "health", "id": 5})
            self.assertEqual(header, {"id": 5, "status": 200})
            self.assertLess(time.monotonic() - started, 0.5)
            thread.join()
            header, body, _ = results["slow"]
            self.assertEqual((header["status"], body), (200, {"slept": 2}))
            self.assertGreaterEqual(header["timing"]["predict_us"], 1_900_000)

    def test_two_threads_run_two_predictions_at_once(self):
        with Runtime("slow", threads_per_process=2) as runtime:
            clients = [runtime.connect(), runtime.connect()]
            results = {}
            started = time.monotonic()
            threads = [predict_in_thread(c, {"seconds": 1}, results, i)
                       for i, c in enumerate(clients)]
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            self.assertEqual([results[i][1] for i in range(2)], [{"slept": 1}] * 2)
            self.assertLess(elapsed, 1.8)

    def test_one_thread_never_runs_two_predictions_at_once(self):
        with Runtime("slow", threads_per_process=1) as runtime:
            clients = [runtime.connect(), runtime.connect()]
            results = {}
            started = time.monotonic()
            threads = [predict_in_thread(c, {"seconds": 0.6}, results, i)
                       for i, c in enumerate(clients)]
            for t in threads:
                t.join()
            self.assertGreaterEqual(time.monotonic() - started, 1.15)
            self.assertEqual(sorted(r[0]["status"] for r in results.values()), [200, 200])


class ProcessTests(unittest.TestCase):
    def test_two_processes_serve_two_sockets_in_parallel(self):
        with Runtime("slow", processes_per_replica=2) as runtime:
            self.assertEqual(sorted(n for n in os.listdir(runtime.socket_dir)),
                             ["worker-0.sock", "worker-1.sock"])
            clients = [runtime.connect(0), runtime.connect(1)]
            hellos = [c.hello for c in clients]
            self.assertEqual([h["worker"] for h in hellos], [0, 1])
            pids = {h["pid"] for h in hellos}
            self.assertEqual(len(pids), 2)
            self.assertNotIn(runtime.proc.pid, pids)
            results = {}
            started = time.monotonic()
            threads = [predict_in_thread(c, {"seconds": 1}, results, i)
                       for i, c in enumerate(clients)]
            for t in threads:
                t.join()
            self.assertLess(time.monotonic() - started, 1.8)
            self.assertEqual([results[i][1] for i in range(2)], [{"slept": 1}] * 2)
            # SIGTERM to the main process stops both workers; the replica exits 0.
            runtime.proc.send_signal(signal.SIGTERM)
            self.assertEqual(runtime.wait(10), 0)
            self.assertTrue(wait_until(lambda: all(process_gone(p) for p in pids), 3))

    def test_a_dying_worker_ends_the_replica_after_the_others_finish(self):  # C10
        project = make_project({"predictor.py": (
            "import os, time\n"
            "class PythonPredictor:\n"
            "    def __init__(self, config):\n"
            "        pass\n"
            "    def predict(self, payload):\n"
            "        if payload == 'die':\n"
            "            os._exit(1)\n"
            "        time.sleep(1)\n"
            "        return 'finished'\n")})
        try:
            with Runtime("dying", project_dir=project, processes_per_replica=2) as runtime:
                dying, other = runtime.connect(0), runtime.connect(1)
                results = {}
                thread = predict_in_thread(other, "sleep", results, "other")
                time.sleep(0.3)
                dying.send({"kind": "predict", "id": 1, "request_id": "die",
                            "content_type": "application/json"}, b'"die"')
                self.assertTrue(dying.closed_by_peer(3.0))
                thread.join()
                header, body, _ = results["other"]
                self.assertEqual((header["status"], body), (200, b"finished"))
                self.assertEqual(runtime.wait(10), 1)
                self.assertTrue(process_gone(other.hello["pid"]))
        finally:
            shutil.rmtree(project)

    def test_a_worker_failing_to_load_ends_the_replica_with_exit_code_3(self):
        runtime = Runtime("bad-init", processes_per_replica=2)
        try:
            runtime.start(wait_ready=False)
            self.assertEqual(runtime.wait(20), 3)
            self.assertIn("model file is corrupt", runtime.stderr())
        finally:
            runtime.stop()


class StopTests(unittest.TestCase):
    def test_sigterm_lets_the_running_prediction_finish_then_exits_0(self):
        with Runtime("slow") as runtime:
            busy, idle = runtime.connect(), runtime.connect()
            results = {}
            thread = predict_in_thread(busy, {"seconds": 1}, results, "slow")
            time.sleep(0.3)
            runtime.proc.send_signal(signal.SIGTERM)
            # The socket goes away at once: no new connections.
            self.assertTrue(wait_until(lambda: not os.path.exists(runtime.socket_path()), 1.0))
            thread.join()
            header, body, _ = results["slow"]
            self.assertEqual((header["status"], body), (200, {"slept": 1}))
            self.assertEqual(runtime.wait(5), 0)
            self.assertTrue(idle.closed_by_peer(1.0))

    def test_sigterm_when_idle_exits_0_and_removes_the_socket(self):
        with Runtime("echo") as runtime:
            client = runtime.connect()
            runtime.proc.send_signal(signal.SIGTERM)
            self.assertEqual(runtime.wait(5), 0)
            self.assertFalse(os.path.exists(runtime.socket_path()))
            self.assertTrue(client.closed_by_peer(1.0))

    def test_runtime_dies_with_its_parent(self):
        """The supervisor is killed with SIGKILL: the replica and its workers follow."""
        directory = tempfile.mkdtemp(prefix="tern-orphan-")
        runtime_pid = None
        try:
            spec_file = os.path.join(directory, "spec.json")
            with open(spec_file, "w") as f:
                json.dump(make_spec("echo", processes_per_replica=2), f)
            socket_dir = os.path.join(directory, "s")
            # The intermediate process plays the supervisor: it starts the runtime in a new
            # session with --parent-pid set to its own pid, prints the runtime's pid, waits.
            command = runtime_command(spec_file, socket_dir, 0)
            script = (
                "import os, subprocess, sys\n"
                f"command = {command!r}\n"
                "command[-1] = str(os.getpid())\n"
                "p = subprocess.Popen(command, start_new_session=True,\n"
                "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
                "print(p.pid, flush=True)\n"
                "p.wait()\n"
            )
            supervisor = subprocess.Popen([sys.executable, "-c", script], env=runtime_env(),
                                          stdout=subprocess.PIPE, cwd=directory)
            with supervisor.stdout:
                runtime_pid = int(supervisor.stdout.readline())
            sockets = [os.path.join(socket_dir, f"worker-{i}.sock") for i in range(2)]
            self.assertTrue(wait_until(lambda: all(map(os.path.exists, sockets)), 20))
            worker_pids = []
            for path in sockets:
                client = Client(path)
                worker_pids.append(client.request(
                    {"kind": "hello", "id": 0, "protocol": 1})[0]["pid"])
                client.close()
            supervisor.kill()
            supervisor.wait()
            started = time.monotonic()
            self.assertTrue(wait_until(lambda: process_gone(runtime_pid), 3.0))
            self.assertLess(time.monotonic() - started, 2.5)
            for pid in worker_pids:
                self.assertTrue(wait_until(lambda: process_gone(pid), 1.0), pid)
        finally:
            if runtime_pid is not None:
                try:
                    os.killpg(runtime_pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            shutil.rmtree(directory, ignore_errors=True)

if __name__ == "__main__":
    unittest.main()
