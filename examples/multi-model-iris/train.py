"""Trains the models of the multi-model example on scikit-learn's bundled iris data set (no
download) and saves them as version folders:

    models/logreg/1/model.pkl   logistic regression on the two sepal features
    models/logreg/2/model.pkl   logistic regression on all four features
    models/tree/1/model.pkl     a decision tree of depth 3 on all four features

Usage: python train.py [MODELS_FOLDER]   (default: models/ beside this file)
Run it again with --version 3 to add a new version of logreg to a running API (live reloading).
"""
import argparse
import pathlib
import pickle

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

ALL = [0, 1, 2, 3]
SEPAL = [0, 1]


def save(folder: pathlib.Path, model, columns: list[int], iris) -> None:
    model.fit(iris.data[:, columns], iris.target)
    accuracy = model.score(iris.data[:, columns], iris.target)
    folder.mkdir(parents=True, exist_ok=True)
    # Write then rename, so that a watching replica never sees a half-written file.
    partial = folder / "model.pkl.partial"
    with open(partial, "wb") as f:
        pickle.dump({"model": model, "columns": columns, "labels": list(iris.target_names)}, f)
    partial.rename(folder / "model.pkl")
    print(f"{folder}: training accuracy {accuracy:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="?", default=str(pathlib.Path(__file__).with_name("models")))
    parser.add_argument("--version", type=int, help="only write this version of logreg (a tree of depth 2)")
    args = parser.parse_args()
    root = pathlib.Path(args.models)
    iris = load_iris()
    if args.version:
        save(root / "logreg" / str(args.version), DecisionTreeClassifier(max_depth=2, random_state=0), ALL, iris)
        return
    save(root / "logreg" / "1", LogisticRegression(max_iter=1000), SEPAL, iris)
    save(root / "logreg" / "2", LogisticRegression(max_iter=1000), ALL, iris)
    save(root / "tree" / "1", DecisionTreeClassifier(max_depth=3, random_state=0), ALL, iris)


if __name__ == "__main__":
    main()
