"""Small tanh neural-network regression for scikit-learn, with exact derivatives."""

from ._estimator import TanhNetRegressor

__version__ = "0.1.0"

__all__ = ["TanhNetRegressor", "__version__"]
