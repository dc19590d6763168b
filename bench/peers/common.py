"""Loads the iris example's predictor for the peer servers (same Python work as Tern's replica)."""
import importlib.util
import os
import sys


def load_predictor():
    project = os.environ["BENCH_PROJECT"]
    os.chdir(project)
    sys.path.insert(0, project)
    spec = importlib.util.spec_from_file_location("bench_predictor", os.path.join(project, "predictor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PythonPredictor(config={"model": "model.pkl"})
