"""Unit tests of tern_runtime.models: the pure decisions (layout, resolve, LRU, settling with
injected time) and the manager on real temporary folders (loading, caching, live reloading)."""

import json
import os
import shutil
import tempfile
import threading
import unittest

from tern_runtime.models import (
    LRU, ModelConfigError, ModelManager, ModelNotFound, Settler, resolve, version_layout)


class VersionLayoutTests(unittest.TestCase):
    def test_numeric_folders_are_versions_in_order(self):
        self.assertEqual(version_layout([("10", True), ("2", True), ("1", True)]), ([1, 2, 10], None))

    def test_no_numeric_folder_is_one_unversioned_model(self):
        self.assertEqual(version_layout([("variables", True), ("model.pkl", False)]), (None, None))
        self.assertEqual(version_layout([]), (None, None))

    def test_files_and_hidden_entries_are_ignored(self):
        self.assertEqual(version_layout([("1", True), ("README", False), (".git", True)]), ([1], None))

    def test_version_like_names_are_malformed(self):
        for name in ("v1", "1.5", "-1", "01", "V2", "1_0"):
            versions, problem = version_layout([(name, True)])
            self.assertIsNone(versions)
            self.assertIn(f'holds folder "{name}", which is not a valid version folder', problem)

    def test_mixing_numeric_and_other_folders_is_malformed(self):
        versions, problem = version_layout([("1", True), ("2", True), ("latest", True)])
        self.assertIsNone(versions)
        self.assertEqual(problem, "mixes version folders (1, 2) with other folders (latest); a "
                         "model folder holds either version folders only, or one model")


class ResolveTests(unittest.TestCase):
    def test_latest_is_the_highest(self):
        self.assertEqual(resolve("iris", [1, 3, 2], "latest"), 3)

    def test_numbers_and_numeric_strings(self):
        self.assertEqual(resolve("iris", [1, 2], 1), 1)
        self.assertEqual(resolve("iris", [1, 2], "2"), 2)

    def test_unversioned_latest_is_none(self):
        self.assertIsNone(resolve("iris", [None], "latest"))

    def test_missing_version_names_the_versions(self):
        with self.assertRaises(ModelNotFound) as caught:
            resolve("iris", [1, 2], 7)
        self.assertEqual(str(caught.exception), 'model "iris" has no version 7 (versions: 1, 2)')

    def test_bad_version_text(self):
        with self.assertRaises(ModelNotFound) as caught:
            resolve("iris", [1], "v1")
        self.assertEqual(str(caught.exception), '"v1" is not a model version: give a whole number or "latest"')

    def test_number_of_an_unversioned_model(self):
        with self.assertRaises(ModelNotFound) as caught:
            resolve("", [None], 1)
        self.assertIn("the model has no version folders", str(caught.exception))


class LRUTests(unittest.TestCase):
    def test_evicts_least_recently_used(self):
        lru = LRU(2)
        self.assertEqual(lru.touch("a"), [])
        self.assertEqual(lru.touch("b"), [])
        self.assertEqual(lru.touch("a"), [])
        self.assertEqual(lru.touch("c"), ["b"])
        self.assertEqual(lru.keys(), ["a", "c"])

    def test_pinned_keys_are_skipped(self):
        lru = LRU(1)
        lru.touch("a")
        self.assertEqual(lru.touch("b", pinned=lambda k: k == "a"), [])
        self.assertEqual(lru.keys(), ["a", "b"])
        self.assertEqual(lru.touch("c"), ["a", "b"])

    def test_unbounded(self):
        lru = LRU(None)
        for key in range(100):
            self.assertEqual(lru.touch(key), [])


class SettlerTests(unittest.TestCase):
    def test_change_applies_after_holding_for_the_settle_time(self):
        settler = Settler(2.0)
        self.assertFalse(settler.observe("k", "fp1", now=10.0))
        self.assertFalse(settler.observe("k", "fp1", now=11.0))
        self.assertTrue(settler.observe("k", "fp1", now=12.0))
        self.assertEqual(settler.pending(), [])

    def test_a_changing_fingerprint_restarts_the_wait(self):
        settler = Settler(2.0)
        settler.observe("k", "half-copied", now=0.0)
        self.assertFalse(settler.observe("k", "copied", now=2.5))
        self.assertFalse(settler.observe("k", "copied", now=4.0))
        self.assertTrue(settler.observe("k", "copied", now=4.5))

    def test_forget_drops_a_pending_change(self):
        settler = Settler(1.0)
        settler.observe("k", "fp", now=0.0)
        settler.forget("k")
        self.assertFalse(settler.observe("k", "fp", now=5.0))


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def read_loader(path):
    """Loads a "model": the text of model.txt (a folder) or of the file."""
    if os.path.isdir(path):
        path = os.path.join(path, "model.txt")
    with open(path) as f:
        text = f.read()
    if text.startswith("bad"):
        raise ValueError("truncated model file")
    return text


class ManagerTests(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="tern-models-test-")
        self.addCleanup(shutil.rmtree, self.root, ignore_errors=True)
        self.project = os.path.join(self.root, "project")
        self.outside = os.path.join(self.root, "outside")
        os.makedirs(self.project)
        os.makedirs(self.outside)
        self.logs = []
        self.clock = FakeClock()

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def manager(self, models, loader=read_loader):
        manager = ModelManager(models, self.project, loader, cache_dir=os.path.join(self.root, "cache"),
                               log=self.logs.append, poll_seconds=3600, clock=self.clock)
        self.addCleanup(manager.close)
        return manager

    def settle(self, manager):
        """Two polls one interval apart: a change is applied once it has held."""
        manager.poll()
        self.clock.now += 3600
        manager.poll()

    def test_paths_with_versions_in_the_project(self):
        self.write(f"{self.project}/models/a/1/model.txt", "a1")
        self.write(f"{self.project}/models/a/2/model.txt", "a2")
        self.write(f"{self.project}/models/b/model.txt", "b")
        m = self.manager({"paths": [{"name": "a", "path": "models/a"}, {"name": "b", "path": "models/b"}]})
        self.assertEqual(m.names(), ["a", "b"])
        self.assertEqual(m.versions("a"), [1, 2])
        self.assertEqual(m.versions("b"), [])
        self.assertEqual(m.get("a"), "a2")
        self.assertEqual(m.get("a", "1"), "a1")
        self.assertEqual(m.get("b"), "b")
        with self.assertRaises(ModelNotFound) as caught:
            m.get("c")
        self.assertEqual(str(caught.exception), 'no model named "c" (models: "a", "b")')

    def test_single_path_file_needs_no_name(self):
        self.write(f"{self.project}/model.txt", "only")
        m = self.manager({"path": "model.txt"})
        self.assertEqual(m.names(), [""])
        self.assertEqual(m.get(), "only")
        self.assertEqual(m.local_path(), os.path.join(self.project, "model.txt"))

    def test_dir_names_models_after_folders(self):
        self.write(f"{self.project}/all/x/1/model.txt", "x1")
        self.write(f"{self.project}/all/y/model.txt", "y")
        m = self.manager({"dir": "all"})
        self.assertEqual(m.names(), ["x", "y"])
        self.assertEqual(m.get("x", 1), "x1")

    def test_start_errors(self):
        with self.assertRaisesRegex(ModelConfigError, r'path "missing" .* does not exist'):
            self.manager({"path": "missing"})
        with self.assertRaisesRegex(ModelConfigError, "the s3:// scheme is not supported"):
            self.manager({"path": "s3://bucket/model"})
        self.write(f"{self.project}/m/v1/model.txt", "x")
        with self.assertRaisesRegex(ModelConfigError, 'holds folder "v1", which is not a valid version folder'):
            self.manager({"path": "m"})
        with self.assertRaisesRegex(ModelConfigError, "absolute path"):
            self.manager({"path": "file://relative/m"})

    def test_a_model_failing_to_load_at_start_is_an_error(self):
        self.write(f"{self.project}/m/model.txt", "bad")
        with self.assertRaisesRegex(Exception, r"cannot load the model from .*/m: ValueError: truncated model file"):
            self.manager({"path": "m"})

    def test_live_reload_new_removed_changed_and_failed(self):
        self.write(f"{self.outside}/m/1/model.txt", "v1")
        m = self.manager({"path": f"file://{self.outside}/m"})
        self.assertEqual(m.get(), "v1")
        # a new version is applied only once it has held for one interval
        self.write(f"{self.outside}/m/2/model.txt", "v2")
        m.poll()
        self.assertEqual(m.get(), "v1")
        self.clock.now += 3600
        m.poll()
        self.assertEqual(m.get(), "v2")
        self.assertEqual(m.versions(), [1, 2])
        held = m.get()  # a request holding v2
        # a changed file is reloaded
        self.write(f"{self.outside}/m/2/model.txt", "v2 changed")
        os.utime(f"{self.outside}/m/2/model.txt", ns=(1, 1))
        self.settle(m)
        self.assertEqual(m.get(), "v2 changed")
        self.assertEqual(held, "v2")
        # a bad new version keeps the previous one serving, and says why
        self.write(f"{self.outside}/m/3/model.txt", "bad bytes")
        self.settle(m)
        self.assertEqual(m.get(), "v2 changed")
        self.assertEqual(m.versions(), [1, 2])
        self.assertTrue(any("cannot load the model version 3 from" in line and "truncated model file" in line
                            and "serving version 2" in line for line in self.logs), self.logs)
        # removing a version goes back to the previous one
        shutil.rmtree(f"{self.outside}/m/3")
        shutil.rmtree(f"{self.outside}/m/2")
        self.settle(m)
        self.assertEqual(m.get(), "v1")
        self.assertEqual(m.versions(), [1])

    def test_failed_reload_is_a_published_problem_until_fixed_or_removed(self):
        status = os.path.join(self.root, "model-problems-0.json")
        self.write(f"{self.outside}/m/1/model.txt", "v1")
        m = ModelManager({"path": f"file://{self.outside}/m"}, self.project, read_loader,
                         cache_dir=os.path.join(self.root, "cache"), log=self.logs.append,
                         poll_seconds=3600, clock=self.clock, status_path=status)
        self.addCleanup(m.close)

        def published():
            with open(status) as f:
                return json.load(f)["problems"]

        self.assertEqual(m.problems(), [])
        # a bad new version: a problem naming the path and the reason, also in the file
        self.write(f"{self.outside}/m/2/model.txt", "bad bytes")
        self.settle(m)
        expected = {"model": "", "version": 2, "path": f"{self.outside}/m/2",
                    "message": f"cannot load the model version 2 from {self.outside}/m/2: "
                               "ValueError: truncated model file; "
                               "serving version 1 of the model as latest"}
        self.assertEqual(m.problems(), [expected])
        self.assertEqual(published(), [expected])
        self.assertFalse(os.path.exists(status + ".tmp"))
        # fixed: loaded, and the problem is cleared
        self.write(f"{self.outside}/m/2/model.txt", "v2")
        self.settle(m)
        self.assertEqual(m.get(), "v2")
        self.assertEqual(published(), [])
        # a changed version failing to reload keeps its old object, and is a problem
        self.write(f"{self.outside}/m/2/model.txt", "bad again")
        os.utime(f"{self.outside}/m/2/model.txt", ns=(1, 1))
        self.settle(m)
        self.assertEqual(m.get(), "v2")
        self.assertEqual([p["version"] for p in published()], [2])
        self.assertIn("serving version 2 of the model as latest", published()[0]["message"])
        # a bad new version removed before it ever loaded: nothing left to report
        self.write(f"{self.outside}/m/3/model.txt", "bad three")
        self.settle(m)
        self.assertEqual([p["version"] for p in published()], [2, 3])
        shutil.rmtree(f"{self.outside}/m/3")
        m.poll()
        self.assertEqual([p["version"] for p in published()], [2])
        # the failing version removed: cleared, and no message names a removed "serving" version
        shutil.rmtree(f"{self.outside}/m/2")
        self.settle(m)
        self.assertEqual(published(), [])
        self.assertEqual(m.get(), "v1")

    def test_malformed_folder_appearing_later_is_logged_and_ignored(self):
        self.write(f"{self.outside}/m/1/model.txt", "v1")
        m = self.manager({"path": f"file://{self.outside}/m"})
        os.makedirs(f"{self.outside}/m/v2")
        self.settle(m)
        self.settle(m)
        self.assertEqual(m.get(), "v1")
        warnings = [line for line in self.logs if 'holds folder "v2", which is not a valid version folder' in line]
        self.assertEqual(len(warnings), 1, self.logs)

    def test_new_model_in_a_watched_dir(self):
        self.write(f"{self.outside}/d/a/model.txt", "a")
        m = self.manager({"dir": f"file://{self.outside}/d"})
        self.write(f"{self.outside}/d/b/1/model.txt", "b1")
        self.settle(m)
        self.assertEqual(m.names(), ["a", "b"])
        self.assertEqual(m.get("b"), "b1")

    def test_cache_size_loads_on_demand_and_evicts_least_recently_used(self):
        loads = []

        def loader(path):
            loads.append(os.path.basename(path))
            return read_loader(path)

        for name in ("a", "b", "c"):
            self.write(f"{self.outside}/{name}/model.txt", name)
        paths = [{"name": n, "path": f"file://{self.outside}/{n}"} for n in ("a", "b", "c")]
        m = self.manager({"paths": paths, "cache_size": 1, "disk_cache_size": 2}, loader=loader)
        self.assertEqual(loads, [])  # nothing loaded at start
        a = m.get("a")
        self.assertEqual(m.get("b"), "b")  # evicts a from memory
        self.assertEqual(a, "a")  # the holder keeps it
        self.assertEqual(m.get("a"), "a")  # loaded again, from the disk cache
        self.assertEqual(loads, ["a", "b", "a"])
        cached_a = m.local_path("a")
        self.assertTrue(cached_a.startswith(os.path.join(self.root, "cache")), cached_a)
        m.get("c")  # disk holds 2: b's copy (least recently used) is deleted
        self.assertFalse(os.path.exists(os.path.join(self.root, "cache", "b")) and
                         os.listdir(os.path.join(self.root, "cache", "b")))
        self.assertTrue(os.path.exists(cached_a))

    def test_concurrent_gets_load_once(self):
        self.write(f"{self.outside}/a/model.txt", "a")
        started = threading.Event()
        release = threading.Event()
        loads = []

        def slow_loader(path):
            loads.append(path)
            started.set()
            release.wait(5)
            return read_loader(path)

        m = self.manager({"paths": [{"name": "a", "path": f"file://{self.outside}/a"}],
                          "cache_size": 1, "disk_cache_size": 1}, loader=slow_loader)
        results = []
        threads = [threading.Thread(target=lambda: results.append(m.get("a"))) for _ in range(4)]
        for t in threads:
            t.start()
        started.wait(5)
        release.set()
        for t in threads:
            t.join(5)
        self.assertEqual(results, ["a"] * 4)
        self.assertEqual(len(loads), 1)


class PredictorLoadTests(unittest.TestCase):
    """predictor.load with predictor.models: python_client, load_model, errors."""

    def setUp(self):
        self.project = tempfile.mkdtemp(prefix="tern-models-predictor-")
        self.addCleanup(shutil.rmtree, self.project, ignore_errors=True)
        os.makedirs(f"{self.project}/m/1")
        with open(f"{self.project}/m/1/model.txt", "w") as f:
            f.write("one")

    def load(self, source, models):
        from tern_runtime.predictor import load
        with open(f"{self.project}/predictor.py", "w") as f:
            f.write(source)
        return load(self.project, "predictor.py", {}, models=models,
                    cache_dir=os.path.join(self.project, ".cache"))

    def test_get_model_returns_what_load_model_returned(self):
        predictor = self.load(
            "class PythonPredictor:\n"
            "    def __init__(self, config, python_client):\n"
            "        self.client = python_client\n"
            "    def load_model(self, model_path):\n"
            "        return open(model_path + '/model.txt').read().upper()\n"
            "    def predict(self, query_params):\n"
            "        return self.client.get_model(None, query_params.get('v', 'latest'))\n",
            {"path": "m"})
        self.assertEqual(predictor.predict(query_params={}), "ONE")
        self.assertEqual(predictor.manager.versions(), [1])
        with self.assertRaises(ModelNotFound):
            predictor.predict(query_params={"v": "2"})

    def test_models_without_load_model_is_a_load_error(self):
        from tern_runtime.predictor import LoadError
        with self.assertRaises(LoadError) as caught:
            self.load("class PythonPredictor:\n    def predict(self):\n        return 1\n", {"path": "m"})
        self.assertEqual(caught.exception.message,
                         "PythonPredictor in predictor.py has no load_model(self, model_path) method; "
                         "predictor.models needs one: Tern calls it to load each model")

    def test_unsupported_scheme_is_a_load_error(self):
        from tern_runtime.predictor import LoadError
        with self.assertRaises(LoadError) as caught:
            self.load("class PythonPredictor:\n    def load_model(self, p):\n        return p\n"
                      "    def predict(self):\n        return 1\n", {"path": "s3://bucket/m"})
        self.assertEqual(caught.exception.message,
                         'predictor.models: model path "s3://bucket/m": the s3:// scheme is not '
                         "supported by this runtime yet (supported: file:// or a path in the project)")


if __name__ == "__main__":
    unittest.main()
