"""Trains the iris classifier on scikit-learn's bundled iris data set and saves it as model.pkl.

Usage: python train.py [OUTPUT]   (default: model.pkl beside this file)
No download: the data set ships inside scikit-learn. (The same model as ../iris-classifier.)
"""
import pathlib
import pickle
import sys

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def main() -> None:
    output = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("model.pkl")
    iris = load_iris()
    model = LogisticRegression(max_iter=1000)
    model.fit(iris.data, iris.target)
    with open(output, "wb") as f:
        pickle.dump({"model": model, "labels": list(iris.target_names)}, f)
    print(f"trained on {len(iris.data)} rows, saved {output}")


if __name__ == "__main__":
    main()
