"""Saving and loading fitted estimators: pickle, joblib and skops.

A fitted TanhNetRegressor must hold only plain data (arrays, numbers, strings and
containers of them, and dataclasses of arrays): no autograd closures, so that
every format round-trips it and predictions after loading are bit-identical.
"""

import dataclasses
import io
import numbers
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_tanhnet import TanhNetRegressor

RNG = np.random.RandomState(1)
X = RNG.uniform(-1, 1, size=(50, 3))
Y = np.c_[np.sin(2 * X[:, 0]) + X[:, 1], X[:, 0] * X[:, 2]]
Y = Y + 0.05 * RNG.normal(size=Y.shape)
W = RNG.uniform(0.5, 2.0, size=50)
X_NEW = RNG.uniform(-1.5, 1.5, size=(20, 3))

CASES = {
    "least_squares": (dict(hidden_layer_sizes=(4,)), Y[:, 0], None),
    "weighted-two-outputs": (dict(hidden_layer_sizes=(4, 3)), Y, W),
    "adam": (
        dict(hidden_layer_sizes=(5,), solver="adam", learning_rate=0.02, max_iter=50),
        Y[:, 0],
        None,
    ),
}


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request):
    params, y, w = CASES[request.param]
    est = TanhNetRegressor(random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, sample_weight=w)


def outputs(est):
    """Everything a fitted estimator computes from new inputs."""
    mean, std = est.predict(X_NEW, return_std=True)
    return [
        est.predict(X_NEW),
        mean,
        std,
        *est.predict_interval(X_NEW, confidence=0.9),
        *est.predict_interval(X_NEW, kind="confidence"),
        est.predict_gradient(X_NEW),
    ]


def assert_identical(a, b):
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    for u, v in zip(outputs(a), outputs(b), strict=True):
        assert np.array_equal(u, v)


def test_pickle_round_trip_is_bit_identical(fitted):
    assert_identical(fitted, pickle.loads(pickle.dumps(fitted)))


@pytest.mark.parametrize("compress", [0, 3])
def test_joblib_round_trip_is_bit_identical(fitted, tmp_path, compress):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path, compress=compress)
    assert_identical(fitted, joblib.load(path))


def _check_plain(value, where):
    """Assert ``value`` is plain data; ``where`` names it in the failure."""
    if value is None or isinstance(value, (bool, numbers.Number, str)):
        return
    if isinstance(value, np.ndarray):
        assert value.dtype.kind in "biufc", f"{where}: array of dtype {value.dtype}"
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{where}: key {key!r}"
            _check_plain(item, f"{where}[{key!r}]")
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _check_plain(getattr(value, field.name), f"{where}.{field.name}")
        return
    raise AssertionError(f"{where} is not plain data: {type(value)!r}")


def test_fitted_state_is_plain_data(fitted):
    for name, value in vars(fitted).items():
        _check_plain(value, name)


def test_pickle_references_only_this_package_numpy_and_builtins(fitted):
    """What a restricted unpickler would have to allow to load a model."""
    found = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            found.add((module, name))
            return super().find_class(module, name)

    Recorder(io.BytesIO(pickle.dumps(fitted))).load()
    modules = {module.split(".")[0] for module, _ in found}
    assert modules <= {"sklearn_tanhnet", "numpy", "builtins", "copyreg", "_codecs"}
    assert ("sklearn_tanhnet._estimator", "TanhNetRegressor") in found


def test_loaded_estimator_refits_like_a_fresh_one(fitted):
    loaded = pickle.loads(pickle.dumps(fitted))
    loaded.fit(X, Y[:, 0])
    fresh = TanhNetRegressor(**fitted.get_params()).fit(X, Y[:, 0])
    np.testing.assert_array_equal(loaded.predict(X_NEW), fresh.predict(X_NEW))


def test_fit_without_residual_degrees_of_freedom_persists():
    """Uncertainty is unavailable (stored as a message) but pickles and loads."""
    est = TanhNetRegressor((5,), alpha=0.0, random_state=0).fit(X[:4], Y[:4, 0])
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est.predict(X_NEW), loaded.predict(X_NEW))
    for model in (est, loaded):
        with pytest.raises(ValueError, match="No residual degrees of freedom"):
            model.predict(X_NEW, return_std=True)


# --- skops ------------------------------------------------------------------


# Few rows for the widest members: the intervals warn of few degrees of freedom.
@pytest.mark.filterwarnings("ignore:The intervals rest on:UserWarning")
def test_skops_round_trip_of_a_committee_with_wide_members(tmp_path):
    sio = pytest.importorskip("skops.io")
    import sklearn_tanhnet

    # 60 rows of 8 inputs: the (10,) and (20,) members have more parameters
    # than rows and keep residual-space statistics, the (5,) ones P x P ones.
    rng = np.random.RandomState(0)
    X_wide = rng.normal(size=(60, 8))
    y_wide = X_wide[:, 0] - X_wide[:, 1] ** 2 + 0.1 * rng.normal(size=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = TanhNetRegressor(max_iter=10, random_state=0).fit(X_wide, y_wide)
    kinds = {type(member[5]).__name__ for member in est._committee}
    assert kinds == {"FitStatistics", "ResidualStatistics"}
    path = tmp_path / "committee.skops"
    sio.dump(est, path)
    loaded = sio.load(path, trusted=sklearn_tanhnet.trusted_types())
    for a, b in zip(
        est.predict(X_wide, return_std=True), loaded.predict(X_wide, return_std=True)
    ):
        np.testing.assert_array_equal(a, b)


def test_skops_round_trip_trusting_only_our_and_numpy_types(fitted, tmp_path):
    sio = pytest.importorskip("skops.io")
    from skops.io.exceptions import UntrustedTypesFoundException

    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    untrusted = sio.get_untrusted_types(file=path)
    # skops asks to trust exactly our estimator and the dataclass of its fit
    # statistics; numpy arrays and builtins are trusted by default.
    assert set(untrusted) == {
        "sklearn_tanhnet._estimator.TanhNetRegressor",
        "sklearn_tanhnet._uncertainty.FitStatistics",
    }
    with pytest.raises(UntrustedTypesFoundException):
        sio.load(path)
    loaded = sio.load(path, trusted=untrusted)
    assert_identical(fitted, loaded)
