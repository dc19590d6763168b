"""The limit for a BatchAPI job: its PythonPredictor called in a plain Python loop, in this one
process, over the same input and the same batches as Tern would make (bench/batch.sh).

Reads the delimited files the way Tern's job input reader does (the files under DATA_DIR, in
name order, recursively, those matching *.jsonl; each non-blank line one JSON item; the items
of all files concatenated, then cut into batches of BATCH_SIZE), constructs
``PythonPredictor(config, job_spec)`` from PROJECT_DIR/predictor.py with PROJECT_DIR as the
working directory (as a worker does), calls ``predict(batch, batch_id)`` for every batch with
ids "0", "1", ... and then ``on_job_complete()``; PASSES times (the outputs are rewritten, as a
batch delivered twice would be), keeping the median pass. Prints one JSON line:

    {"items": N, "batches": B, "seconds": S, "items_per_s": R, "load_seconds": L, "read_seconds": F}

``seconds`` is the predict loop plus on_job_complete (what a job's workers do after they have
started); ``load_seconds`` is the predictor module's import plus ``__init__`` (what each worker
does once before its first lease); ``read_seconds`` is reading and parsing the files (Tern does
that at submission, before the workers start).

Usage: python bench/batch_loop.py [--passes N] PROJECT_DIR DATA_DIR BATCH_SIZE OUTPUT_DIR [KEY=VALUE ...]
The KEY=VALUE pairs are added to the config (the project's tern.yaml config is not read: pass
e.g. model=model.pkl). --passes defaults to 3.
"""

import fnmatch
import importlib.util
import json
import os
import statistics
import sys
import time


def read_items(data_dir: str) -> list:
    files = []
    for folder, _, names in os.walk(data_dir):
        files += [os.path.join(folder, name) for name in names]
    items = []
    for path in sorted(files):
        if not fnmatch.fnmatch(path, "*.jsonl"):
            continue
        with open(path, "rb") as f:
            items += [json.loads(line) for line in f if line.strip()]
    return items


def main() -> None:
    arguments, passes = sys.argv[1:], 3
    if arguments[:1] == ["--passes"]:
        passes, arguments = int(arguments[1]), arguments[2:]
    if len(arguments) < 4 or passes < 1:
        sys.exit("usage: " + __doc__.split("Usage: ")[1])
    project, data_dir, batch_size, output_dir = (os.path.abspath(arguments[0]), os.path.abspath(arguments[1]),
                                                 int(arguments[2]), os.path.abspath(arguments[3]))
    config = dict(argument.split("=", 1) for argument in arguments[4:])
    config["output_dir"] = output_dir

    started = time.perf_counter()
    items = read_items(data_dir)
    batches = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
    read_seconds = time.perf_counter() - started

    os.chdir(project)
    sys.path.insert(0, project)
    started = time.perf_counter()
    spec = importlib.util.spec_from_file_location("tern_predictor", os.path.join(project, "predictor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    predictor = module.PythonPredictor(config, {"job_id": "plain-loop", "workers": 1})
    load_seconds = time.perf_counter() - started

    complete = getattr(predictor, "on_job_complete", None)
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        for index, batch in enumerate(batches):
            predictor.predict(batch, str(index))
        if callable(complete):
            complete()
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)

    print(json.dumps({"items": len(items), "batches": len(batches), "seconds": seconds,
                      "items_per_s": len(items) / seconds, "load_seconds": load_seconds,
                      "read_seconds": read_seconds}))


if __name__ == "__main__":
    main()
