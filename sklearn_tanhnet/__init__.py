"""Small tanh neural-network regression for scikit-learn, with exact derivatives."""

from ._estimator import TanhNetRegressor
from ._export import register_onnx_converter, to_mlp_regressor
from ._persistence import trusted_types
from ._plotting import FitDisplay, HessianSpectrumDisplay, LossCurveDisplay
from ._sensitivity import input_sensitivity
from ._uncertainty import Diagnostics

__version__ = "0.2.0"

__all__ = [
    "Diagnostics",
    "FitDisplay",
    "HessianSpectrumDisplay",
    "LossCurveDisplay",
    "TanhNetRegressor",
    "__version__",
    "input_sensitivity",
    "register_onnx_converter",
    "to_mlp_regressor",
    "trusted_types",
]
