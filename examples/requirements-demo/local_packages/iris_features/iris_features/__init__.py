"""iris_features: derived features for iris measurements (a stand-in for a PyPI package).

``engineer(row)`` takes the four measurements in centimetres and adds the petal and sepal
areas (cm², length × width) and the petal length / width ratio.
"""

__version__ = "1.0.0"

MEASUREMENTS = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def engineer(row):
    """Return ``row`` (4 numbers, in MEASUREMENTS order) followed by 3 derived features."""
    sepal_length, sepal_width, petal_length, petal_width = (float(value) for value in row)
    return [
        sepal_length,
        sepal_width,
        petal_length,
        petal_width,
        sepal_length * sepal_width,
        petal_length * petal_width,
        petal_length / petal_width if petal_width else 0.0,
    ]
