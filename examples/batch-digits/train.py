"""Trains the batch-digits classifier and writes the job's input files.

Usage: python train.py [--rows 20000] [--files 4] [--out data/] [--model model.pkl]

Trains a logistic regression on scikit-learn's bundled digits data set (1,797 8×8 images, no
download), pickles it to --model (default: model.pkl beside this file), then writes --rows
images as JSON lines into --files files under --out (part-0.jsonl, part-1.jsonl, ...): each
line is one image's 64 pixel values (0-16), the 1,797 images repeated to reach --rows.
"""
import argparse
import json
import pathlib
import pickle

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

HERE = pathlib.Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000, help="images to write (default 20000)")
    parser.add_argument("--files", type=int, default=4, help="input files to split them into (default 4)")
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "data", help="folder of the input files (default data/)")
    parser.add_argument("--model", type=pathlib.Path, default=HERE / "model.pkl", help="model file (default model.pkl)")
    args = parser.parse_args()
    if args.rows < 1 or args.files < 1:
        parser.error("--rows and --files must be at least 1")

    digits = load_digits()
    model = LogisticRegression(max_iter=5000)
    model.fit(digits.data, digits.target)
    with open(args.model, "wb") as f:
        pickle.dump(model, f)
    print(f"trained on {len(digits.data)} images, training accuracy "
          f"{model.score(digits.data, digits.target):.3f}, saved {args.model}")

    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("part-*.jsonl"):
        old.unlink()
    rows = [json.dumps([int(v) for v in image], separators=(",", ":")) for image in digits.data]
    per_file = -(-args.rows // args.files)  # the last file may be shorter
    written = 0
    for start in range(0, args.rows, per_file):
        with open(args.out / f"part-{written}.jsonl", "w") as f:
            f.writelines(rows[i % len(rows)] + "\n" for i in range(start, min(start + per_file, args.rows)))
        written += 1
    print(f"wrote {args.rows} images into {written} files under {args.out}")


if __name__ == "__main__":
    main()
