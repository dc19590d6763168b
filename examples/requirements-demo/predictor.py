"""Iris classifier that uses a package installed from requirements.txt (``iris_features``).

scikit-learn comes from the replica Python (`tern serve --python`), which the per-project
virtual environment still sees; ``iris_features`` exists only in that environment.
"""

import sys

import iris_features
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


class PythonPredictor:
    def __init__(self, config):
        iris = load_iris()
        self.labels = list(iris.target_names)
        features = [iris_features.engineer(row) for row in iris.data]
        self.model = LogisticRegression(max_iter=1000).fit(features, iris.target)

    def predict(self, payload):
        row = [payload[name] for name in iris_features.MEASUREMENTS]
        label = self.labels[int(self.model.predict([iris_features.engineer(row)])[0])]
        return {
            "label": label,
            "iris_features": iris_features.__version__,
            "environment": sys.prefix,
        }
