"""Several iris classifiers behind one API: the query chooses the model and the version.

    POST /multi-model-iris?model=logreg&version=1   (version defaults to "latest")
"""
import pickle

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class PythonPredictor:
    def __init__(self, config, python_client):
        self.client = python_client

    def load_model(self, model_path):
        """Called by Tern for each model version folder (at start, and on live reloads)."""
        with open(f"{model_path}/model.pkl", "rb") as f:
            return pickle.load(f)

    def predict(self, payload, query_params):
        saved = self.client.get_model(query_params.get("model", "logreg"), query_params.get("version", "latest"))
        row = [[payload[FEATURES[column]] for column in saved["columns"]]]
        return saved["labels"][int(saved["model"].predict(row)[0])]
