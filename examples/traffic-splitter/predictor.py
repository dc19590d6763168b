"""Iris classifier trained when the replica starts, on scikit-learn's bundled iris data set.

`config.model` picks the estimator (`logistic` or `tree`), so the two APIs of this example are
two different models of the same task; the answer names the model that made it.
"""
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ESTIMATORS = {
    "logistic": lambda: LogisticRegression(max_iter=1000),
    "tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
}


class PythonPredictor:
    def __init__(self, config):
        self.name = config["model"]
        iris = load_iris()
        self.model = ESTIMATORS[self.name]().fit(iris.data, iris.target)
        self.labels = [str(name) for name in iris.target_names]

    def predict(self, payload):
        row = [[payload[name] for name in FEATURES]]
        return {"label": self.labels[int(self.model.predict(row)[0])], "model": self.name}
