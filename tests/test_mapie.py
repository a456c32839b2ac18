"""TanhNetRegressor inside MAPIE's conformal regressors (mapie >= 1.0 API)."""

import numpy as np
import pytest

pytest.importorskip("mapie")

from mapie.regression import (  # noqa: E402
    CrossConformalRegressor,
    SplitConformalRegressor,
)
from sklearn.model_selection import train_test_split  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

CONFIDENCE_LEVELS = [0.8, 0.9]
# With 100 conformalization points the coverage of a split-conformal interval
# varies by about 0.03 from one conformalization set to another; the 2000 test
# points add 0.007. Two standard deviations: seeds 0 to 7 all pass, while an
# interval at the wrong level (0.8 for 0.9) or a fixed-width one would not.
COVERAGE_TOLERANCE = 0.06


def _noisy_sine(n, rng):
    X = rng.uniform(-3, 3, size=(n, 1))
    return X, np.sin(X.ravel()) + 0.2 * rng.normal(size=n)


_rng = np.random.RandomState(0)
X, y = _noisy_sine(200, _rng)
X_test, y_test = _noisy_sine(2000, _rng)


def _network():
    return TanhNetRegressor((5,), random_state=0)


def _split_conformal():
    X_train, X_conformalize, y_train, y_conformalize = train_test_split(
        X, y, test_size=0.5, random_state=0
    )
    return (
        SplitConformalRegressor(
            _network(), confidence_level=CONFIDENCE_LEVELS, prefit=False
        )
        .fit(X_train, y_train)
        .conformalize(X_conformalize, y_conformalize)
    )


def _cross_conformal():
    # method="plus" with 5 folds: CV+.
    return CrossConformalRegressor(
        _network(),
        confidence_level=CONFIDENCE_LEVELS,
        method="plus",
        cv=5,
        random_state=0,
    ).fit_conformalize(X, y)


@pytest.fixture(scope="module", params=["split", "cross"])
def conformal_predictions(request):
    """Point predictions and intervals on the test set, fitted once per method."""
    regressor = {"split": _split_conformal, "cross": _cross_conformal}[request.param]()
    return regressor.predict_interval(X_test)


def test_interval_shape(conformal_predictions):
    y_pred, y_intervals = conformal_predictions
    assert y_pred.shape == (len(X_test),)
    assert y_intervals.shape == (len(X_test), 2, len(CONFIDENCE_LEVELS))
    assert np.all(np.isfinite(y_intervals))


def test_intervals_contain_point_predictions_and_nest(conformal_predictions):
    y_pred, y_intervals = conformal_predictions
    lower, upper = y_intervals[:, 0, :], y_intervals[:, 1, :]
    assert np.all(lower <= y_pred[:, None])
    assert np.all(y_pred[:, None] <= upper)
    # A higher confidence level gives a wider interval around the same point.
    assert np.all(lower[:, 1] <= lower[:, 0])
    assert np.all(upper[:, 0] <= upper[:, 1])


def test_coverage_near_nominal(conformal_predictions):
    _, y_intervals = conformal_predictions
    inside = (y_intervals[:, 0, :] <= y_test[:, None]) & (
        y_test[:, None] <= y_intervals[:, 1, :]
    )
    coverage = inside.mean(axis=0)
    np.testing.assert_allclose(coverage, CONFIDENCE_LEVELS, atol=COVERAGE_TOLERANCE)


def test_prefit_network_and_delta_method_agree():
    """Split conformal around an already fitted network, against predict_interval.

    The noise is Gaussian with a constant variance and the network can represent
    the sine, so the delta method's assumptions hold: both 90% intervals should
    be close to the oracle width 2 * 1.645 * 0.2 = 0.66, within a quarter.
    """
    X_train, X_conformalize, y_train, y_conformalize = train_test_split(
        X, y, test_size=0.5, random_state=0
    )
    est = _network().fit(X_train, y_train)
    split = SplitConformalRegressor(est, confidence_level=0.9, prefit=True)
    y_pred, y_intervals = split.conformalize(
        X_conformalize, y_conformalize
    ).predict_interval(X_test)
    # prefit=True uses the caller's estimator as it is, without refitting it.
    np.testing.assert_array_equal(y_pred, est.predict(X_test))

    lower, upper = est.predict_interval(X_test, confidence=0.9)
    conformal_width = np.mean(y_intervals[:, 1, 0] - y_intervals[:, 0, 0])
    delta_width = np.mean(upper - lower)
    oracle_width = 2 * 1.6449 * 0.2
    assert conformal_width == pytest.approx(oracle_width, rel=0.25)
    assert delta_width == pytest.approx(oracle_width, rel=0.25)
