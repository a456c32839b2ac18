"""Issue 15: robust losses by iteratively reweighted least squares."""

import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, stats
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning

import sklearn_tanhnet._training as training
from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._robust import (
    irls_weights,
    noise_consistency,
    robust_objective,
    squared_ratio,
)

ROBUST = ["huber", "soft_l1", "cauchy"]


@pytest.mark.parametrize("loss", ROBUST)
def test_irls_weight_is_the_derivative_of_the_loss(loss):
    # rho'(z) by central differences of rho, from robust_objective with one
    # row, weight one and c = 1 (objective = rho(z) / 2).
    def rho(z):
        return 2.0 * robust_objective(np.array([z]), np.ones(1), np.ones(1), loss)

    for z in [0.01, 0.5, 0.99, 1.01, 3.0, 40.0]:
        step = 1e-6 * z
        slope = (rho(z + step) - rho(z - step)) / (2.0 * step)
        assert irls_weights(np.array([z]), loss)[0] == pytest.approx(slope, rel=1e-7)


@pytest.mark.parametrize("loss", ROBUST)
def test_noise_consistency_is_the_normal_expectation_of_psi_squared(loss):
    epsilon = 1.345

    def integrand(u):
        psi = u * irls_weights(np.array([(u / epsilon) ** 2]), loss)[0]
        return psi**2 * stats.norm.pdf(u)

    expected = integrate.quad(integrand, -40.0, 40.0, points=[-epsilon, epsilon])
    assert noise_consistency(loss, epsilon) == pytest.approx(expected[0], rel=1e-6)
    # Far thresholds leave least squares: E[Z^2] = 1.
    assert noise_consistency("huber", 50.0) == pytest.approx(1.0, rel=1e-12)


@pytest.fixture(scope="module")
def linear_with_outliers():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0 + 0.3 * rng.normal(size=200)
    y[:20] += rng.choice([-1.0, 1.0], 20) * 15.0
    return X, y


@pytest.mark.parametrize("loss", ROBUST)
def test_linear_robust_fit_equals_scipys_robust_least_squares(
    monkeypatch, linear_with_outliers, loss
):
    # At IRLS's fixed point the fit minimises sum c^2 rho((e / c)^2) / 2 with
    # the final threshold c: scipy's least_squares(loss=, f_scale=c) on the
    # same linear model is an independent minimiser of the same objective.
    monkeypatch.setattr(training, "WEIGHT_ATOL", 1e-12)
    monkeypatch.setattr(training, "MAX_ROUNDS", 500)
    X, y = linear_with_outliers
    est = TanhNetRegressor((), alpha=0.0, loss=loss, max_iter=50).fit(X, y)
    assert est.status_ == "converged"
    design = np.c_[X, np.ones(len(X))]

    def residuals(coef):
        return design @ coef - y

    start = np.linalg.lstsq(design, y, rcond=None)[0]
    scipy_fit = optimize.least_squares(
        residuals,
        start,
        loss=loss,
        f_scale=float(est.outlier_cutoff_[0]),
        xtol=1e-15,
        ftol=1e-15,
        gtol=1e-15,
    )
    ours = np.r_[est.coefs_[0].ravel(), est.intercepts_[0]]
    np.testing.assert_allclose(ours, scipy_fit.x, rtol=1e-7, atol=1e-9)
    # The outliers are the rows the loss discounts.
    assert est.robust_weights_[:20].max() < est.robust_weights_[20:].min()
    assert est.log_evidence_ is None


@pytest.fixture(scope="module")
def friedman_with_outliers():
    X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
    X_train, y_train, X_test, y_test = X[:500], y[:500], X[500:], y[500:]
    rng = np.random.RandomState(0)
    outliers = rng.choice(500, 50, replace=False)
    y_dirty = y_train.copy()
    y_dirty[outliers] += 20.0 * rng.choice([-1.0, 1.0], 50)
    return X_train, y_train, y_dirty, X_test, y_test


def test_huber_fit_of_dirty_data_scores_as_the_clean_fit(friedman_with_outliers):
    X_train, y_train, y_dirty, X_test, y_test = friedman_with_outliers
    # The squared-error fits end where the evidence settles, as the robust
    # fit's rounds do (run_to_mode='auto' leaves robust losses there).
    clean = TanhNetRegressor(run_to_mode=False, random_state=0).fit(X_train, y_train)
    squared = TanhNetRegressor(run_to_mode=False, random_state=0).fit(X_train, y_dirty)
    huber = TanhNetRegressor(loss="huber", random_state=0).fit(X_train, y_dirty)
    clean_r2 = clean.score(X_test, y_test)
    assert huber.score(X_test, y_test) > clean_r2 - 0.01
    assert squared.score(X_test, y_test) < clean_r2 - 0.05
    # The intervals are an inlier's: near 95% on clean test data.
    lower, upper = huber.predict_interval(X_test)
    assert 0.92 < np.mean((y_test >= lower) & (y_test <= upper)) < 0.99
    assert huber.robust_weights_.shape == (500,) and huber.n_iter_ > squared.n_iter_


def test_squared_error_is_the_default_and_has_no_robust_attributes(
    linear_with_outliers,
):
    X, y = linear_with_outliers
    est = TanhNetRegressor((), random_state=0).fit(X, y)
    assert est.robust_weights_ is None and est.outlier_cutoff_ is None
    # Huber with a threshold beyond every residual is least squares.
    far = TanhNetRegressor((), loss="huber", outlier_threshold=1e6, random_state=0)
    far.fit(X, y)
    np.testing.assert_array_equal(far.predict(X), est.predict(X))
    np.testing.assert_array_equal(far.robust_weights_, np.ones(len(X)))


def test_robust_loss_needs_least_squares(linear_with_outliers):
    X, y = linear_with_outliers
    with pytest.raises(ValueError, match="loss='huber'.*solver='least_squares'"):
        TanhNetRegressor(solver="adam", loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        TanhNetRegressor(loss="l1").fit(X, y)
    with pytest.raises(ValueError, match="outlier_threshold"):
        TanhNetRegressor(loss="huber", outlier_threshold=0.0).fit(X, y)


def test_reweighting_that_does_not_settle_warns(monkeypatch, linear_with_outliers):
    monkeypatch.setattr(training, "WEIGHT_ATOL", 0.0)
    monkeypatch.setattr(training, "MAX_ROUNDS", 2)
    X, y = linear_with_outliers
    with pytest.warns(ConvergenceWarning, match="did not settle in 2 rounds"):
        est = TanhNetRegressor((), loss="cauchy").fit(X, y)
    assert est.status_ == "max_iter"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(est.predict(X)).all()


def test_squared_ratio_averages_the_outputs():
    residuals = np.array([[1.0, 4.0], [0.0, 2.0]])
    np.testing.assert_allclose(
        squared_ratio(residuals, np.array([1.0, 2.0])), [2.5, 0.5], rtol=1e-15
    )
