"""BentoML 1.x service, as its documentation shows: a @bentoml.service class with one @bentoml.api."""
import bentoml

from common import load_predictor


@bentoml.service(workers=1)
class Iris:
    def __init__(self):
        self.predictor = load_predictor()

    @bentoml.api
    def iris(self, sepal_length: float, sepal_width: float, petal_length: float, petal_width: float) -> str:
        return self.predictor.predict({
            "sepal_length": sepal_length, "sepal_width": sepal_width,
            "petal_length": petal_length, "petal_width": petal_width,
        })
