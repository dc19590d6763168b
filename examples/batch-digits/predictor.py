"""batch-digits: a BatchAPI predictor (Cortex's interface) classifying 8×8 digit images.

Each batch's payload is a list of images, each a list of 64 pixel values. predict writes the
batch's predicted digits to <output_dir>/<batch_id>.json; a batch delivered twice (delivery is
at least once) rewrites the same file with the same content. on_job_complete, which one worker
runs after the last batch, counts the predictions of this job's files into summary.json.
"""
import json
import os
import pathlib
import pickle

import numpy as np


class PythonPredictor:
    def __init__(self, config, job_spec):
        with open(config.get("model", "model.pkl"), "rb") as f:
            self.model = pickle.load(f)
        if not config.get("output_dir"):
            raise ValueError('config "output_dir" is required: set it in the job\'s config')
        self.output_dir = pathlib.Path(config["output_dir"])
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.job_id = job_spec.get("job_id")

    def predict(self, payload, batch_id):
        predictions = self.model.predict(np.asarray(payload, dtype=np.float64))
        self._write(f"{batch_id}.json", {"job_id": self.job_id, "batch_id": batch_id,
                                         "predictions": predictions.tolist()})

    def on_job_complete(self):
        batches, counts = 0, [0] * 10
        for path in self.output_dir.glob("*.json"):
            if path.name == "summary.json":
                continue
            batch = json.loads(path.read_text())
            if batch.get("job_id") != self.job_id:
                continue
            batches += 1
            for digit in batch["predictions"]:
                counts[digit] += 1
        self._write("summary.json", {"job_id": self.job_id, "batches": batches,
                                     "predictions": sum(counts), "per_digit": counts})

    def _write(self, name, content):
        # Write then rename: a reader never sees half a file, and a rerun replaces it whole.
        path = self.output_dir / name
        temporary = path.with_name(f".{name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(content) + "\n")
        os.replace(temporary, path)
