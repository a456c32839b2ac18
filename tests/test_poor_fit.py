"""Issue 14: a fit that settles in a poor local minimum says so."""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._uncertainty import neighbour_explained_share

RNG = np.random.RandomState(0)
X_SINE = RNG.uniform(-3, 3, (300, 1))
Y_SINE = np.sin(2 * X_SINE[:, 0]) + 0.05 * RNG.randn(300)
# With four hidden units these seeds settle at training R^2 0.979-0.981, the
# others at 0.995 (benchmarks/poor_fit.py).
POOR_SEED, GOOD_SEED = 1, 3


def test_neighbour_share_equals_a_nearest_neighbours_computation():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(80, 3))
    Y = np.c_[np.sin(X[:, 0]), X[:, 1]] + 0.1 * rng.normal(size=(80, 2))
    residuals = np.c_[np.sin(X[:, 0]), 0.1 * rng.normal(size=80)]
    w = rng.uniform(0.5, 2.0, size=80)
    # Independently: scikit-learn's neighbours, each row's own hit dropped.
    _, index = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
    assert np.all(index[:, 0] == np.arange(80))  # no ties in continuous data
    neighbours = index[:, 1:]
    smoothed = np.stack(
        [np.average(residuals[row], axis=0, weights=w[row]) for row in neighbours]
    )
    recovered = w @ (residuals**2 - (residuals - smoothed) ** 2)
    total = w @ (Y - np.average(Y, axis=0, weights=w)) ** 2
    expected = np.max(recovered / total)
    share = neighbour_explained_share(X, Y, residuals, w)
    assert share == pytest.approx(expected, rel=1e-12)
    # The structured output is the one that counts; noise alone is below zero.
    assert share > 0.5
    assert neighbour_explained_share(X, Y[:, 1:], residuals[:, 1:], w) < 0


def fit_sine(seed, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = TanhNetRegressor((4,), random_state=seed, **params).fit(X_SINE, Y_SINE)
    return est, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_a_fit_in_a_poor_minimum_warns_and_records_it():
    est, caught = fit_sine(POOR_SEED)
    assert est.score(X_SINE, Y_SINE) < 0.99
    assert len(caught) == 1 and "poor local minimum" in str(caught[0].message)
    assert "n_starts" in str(caught[0].message)
    # The verdict is a flag of its own: status_ keeps why the solver stopped.
    assert est.poor_fit_
    assert est.status_ in ("converged", "plateau")
    assert "poor local minimum" not in est.message_
    assert est.lack_of_fit_ >= 0.01


def test_a_good_fit_does_not_warn_and_members_cure_a_poor_one():
    good, caught = fit_sine(GOOD_SEED)
    assert not caught and good.status_ == "converged" and not good.poor_fit_
    assert good.lack_of_fit_ < 0.001
    cured, caught = fit_sine(POOR_SEED, n_starts=5, combine="best")
    assert not caught and not cured.poor_fit_
    assert cured.score(X_SINE, Y_SINE) > 0.99


def test_the_lecture_fit_does_not_warn():
    X = np.linspace(0, 1)[:, None]  # 50 rows, noise-free: structured residuals
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = TanhNetRegressor((3,), random_state=0).fit(X, X.ravel() ** (1 / 3))
    assert est.lack_of_fit_ is not None and est.lack_of_fit_ < 0.01


@pytest.mark.parametrize(
    "case", ["no hidden layer", "sparse X", "few rows", "partial_fit", "max_iter"]
)
def test_where_there_is_nothing_to_check_lack_of_fit_is_none(case):
    X, y = X_SINE, Y_SINE
    est = TanhNetRegressor((4,), random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if case == "no hidden layer":
            est.set_params(hidden_layer_sizes=()).fit(X, y)
        elif case == "sparse X":
            est.fit(sparse.csr_matrix(X), y)
        elif case == "few rows":
            est.fit(X[:49], y[:49])
        elif case == "max_iter":
            est.set_params(random_state=POOR_SEED, max_iter=3).fit(X, y)
        else:
            est.set_params(solver="adam").partial_fit(X, y)
    assert est.lack_of_fit_ is None
    assert not est.poor_fit_


@pytest.mark.parametrize("loss", ["huber", "cauchy"])
def test_a_robust_fit_does_not_mistake_its_outliers_for_missed_structure(loss):
    # The outliers' residuals are meant to stay; with their robust weights
    # they neither count themselves nor leak into their neighbours' smoother.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3))
    clean = X[:, 0] + np.sin(X[:, 1])
    y = clean.copy()
    y[:5] += 10.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = TanhNetRegressor((4,), loss=loss, random_state=0).fit(X, y)
    assert est.score(X, clean) > 0.99
    assert est.status_ == "converged" and abs(est.lack_of_fit_) < 1e-3
