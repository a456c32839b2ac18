"""fit on hostile data: a sound model or a clear error, never garbage.

Issue 14, item 5 (fit). test_reliability.py's properties draw sensible data
(float64, 1-4 features, no NaN); these draw what users pass by mistake: 1-200
rows, 0-20 features, 1-3 outputs, float32, int, bool and object-numeric
arrays, lists, sample weights with zeros or of magnitude 1e300 and 1e-300,
scales of 1e-300 to 1e300, and NaN or inf anywhere in X, y or the weights.
"""

import copy
import functools
import warnings

import numpy as np
import pytest
from _state import assert_same, state_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_tanhnet import TanhNetRegressor

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DTYPES = ["float64", "float32", "int64", "bool", "object", "list"]
SCALES = [1e-300, 1e-8, 1.0, 1e8, 1e300]
WEIGHTS = [
    "none",
    "ones",
    "uniform",
    "with-zeros",
    "all-zeros",
    "one-nonzero",
    "huge",
    "tiny",
    "huge-and-tiny",
    "negative",
]


def _as(A, kind, rng):
    """``A`` (floats) as the user might pass it."""
    if kind == "int64":
        return np.round(rng.uniform(-5, 5, size=A.shape)).astype(np.int64)
    if kind == "bool":
        return rng.uniform(size=A.shape) < 0.5
    if kind == "object":
        return A.astype(object)
    if kind == "list":
        return A.tolist()
    with np.errstate(over="ignore"):  # 1e300 as float32 is inf: a case too
        return A.astype(kind)


def _weights(kind, n, rng):
    u = rng.uniform(0.1, 3.0, size=n)
    return {
        "none": None,
        "ones": np.ones(n),
        "uniform": u,
        "with-zeros": u * (rng.uniform(size=n) < 0.5),
        "all-zeros": np.zeros(n),
        "one-nonzero": np.eye(n)[rng.randint(n)],
        "huge": 1e300 * u,
        "tiny": 1e-300 * u,
        "huge-and-tiny": np.where(rng.uniform(size=n) < 0.5, 1e300, 1e-300) * u,
        "negative": u - 1.0,
    }[kind]


def _spoiled(A, value, rng):
    """A float copy of ``A`` with ``value`` at a random place."""
    A = np.array(A, dtype=float)
    if A.size:
        A.flat[rng.randint(A.size)] = value
    return A


@st.composite
def hostile_fits(draw):
    """Estimator parameters and fit arguments."""
    # Uniform choices: hypothesis's integers lean to their bounds, and data
    # without a feature (refused) would be a quarter of the examples.
    n = draw(st.sampled_from(range(1, 201)))
    d = draw(st.sampled_from([*range(1, 21), 0]))
    k = draw(st.sampled_from(range(1, 4)))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    X = draw(st.sampled_from(SCALES)) * rng.uniform(-1, 1, size=(n, d))
    Y = draw(st.sampled_from(SCALES)) * np.tanh(X @ rng.normal(size=(d, k)) + 1.0)
    Y = Y + 0.1 * np.abs(Y).max(initial=0.0) * rng.normal(size=Y.shape)
    y = Y[:, 0] if k == 1 and draw(st.booleans()) else Y
    X, y = (
        _as(X, draw(st.sampled_from(DTYPES)), rng),
        _as(y, draw(st.sampled_from(DTYPES)), rng),
    )
    w = _weights(draw(st.sampled_from(WEIGHTS)), n, rng)
    where = draw(st.sampled_from([None] * 6 + ["X", "y", "sample_weight"]))
    if where is not None:
        value = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        if where == "X":
            X = _spoiled(X, value, rng)
        elif where == "y":
            y = _spoiled(y, value, rng)
        else:
            w = _spoiled(np.ones(n) if w is None else w, value, rng)
    params = dict(
        hidden_layer_sizes=draw(st.sampled_from([(), (2,)])),
        solver=draw(st.sampled_from(["least_squares", "adam"])),
        alpha=draw(st.sampled_from(["auto", 1e-3])),
        max_iter=draw(st.integers(1, 4)),
        random_state=draw(st.integers(0, 100)),
    )
    return params, X, y, w, draw(st.booleans())


@functools.cache
def _fitted(solver, hidden, alpha):
    """A model fitted on sound data, to refit on hostile data; callers copy."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(30, 3))
    est = TanhNetRegressor(hidden, solver=solver, alpha=alpha, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, np.sin(X[:, 0]) + X[:, 1])


def _assert_finite_model(est, X):
    for A in [*est.coefs_, *est.intercepts_]:
        assert np.isfinite(A).all(), "a non-finite weight"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(est.predict(X)).all(), "a non-finite prediction"


@settings(FUZZ, max_examples=400)
@given(hostile_fits())
def test_fit_gives_a_finite_model_or_a_clear_error_and_only_user_warnings(fit):
    params, X, y, w, refit = fit
    if refit:  # a failed refit must leave the fitted model as it was
        est = copy.deepcopy(
            _fitted(params["solver"], params["hidden_layer_sizes"], params["alpha"])
        ).set_params(**params)
    else:
        est = TanhNetRegressor(**params)
    before = copy.deepcopy(state_of(est))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X, y, sample_weight=w)
        except (ValueError, TypeError) as exc:
            error = exc
        else:
            error = None
    # ConvergenceWarning and DataConversionWarning are UserWarnings; numpy's
    # RuntimeWarnings (overflow, invalid values) are not expected.
    unexpected = [str(m) for m in caught if not issubclass(m.category, UserWarning)]
    assert not unexpected, unexpected
    if error is None:
        _assert_finite_model(est, X)
        return
    assert len(str(error)) > 20, repr(error)
    if refit:
        assert_same(state_of(est), before)
    else:
        try:
            check_is_fitted(est)
        except NotFittedError:
            pass
        else:
            raise AssertionError(f"fitted after the error {error!r}")


@pytest.mark.parametrize(
    "x_scale, y_scale, dtype, msg",
    [
        (1e-300, 1e300, np.float64, r"overflow float64 .* Rescale X or y\.$"),
        (1.0, 1e300, np.float32, r"overflow float32 .* or pass X as float64\.$"),
        (1e-30, 1e10, np.float32, r"overflow float32"),
    ],
)
def test_weights_beyond_the_dtypes_range_are_refused_with_the_fix(
    x_scale, y_scale, dtype, msg
):
    # Found by the property above: a slope of 1e300 / 1e-300 is no float64,
    # nor a 1e300 intercept a float32 (the fit of float32 X is float32).
    rng = np.random.RandomState(0)
    X = x_scale * rng.uniform(-1, 1, size=(30, 2))
    y = y_scale * (X[:, 0] / x_scale + 0.1 * rng.normal(size=30))
    est = TanhNetRegressor((), max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(ValueError, match=msg):
            est.fit(X.astype(dtype), y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_plus_and_minus_inf_in_X_give_only_the_clear_error():
    # scikit-learn's check sums X, warning 'invalid value' before its error.
    X = np.c_[np.full(5, np.inf), np.full(5, -np.inf)].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Input X contains infinity"):
            TanhNetRegressor((2,)).fit(X, np.arange(5.0))
