"""The fitted attributes agree with each other whatever ended the fit.

Every way a fit can end (the solver settling, early stopping, ``max_iter``,
divergence, a callback, an interrupt) x ARD x solver: ``alpha_`` has the
shape ``ard_`` says, ``feature_relevance_`` follows, the weights are finite,
``status_`` is one of the documented reasons, the loss curve has ``n_iter_``
entries, and the model can be diagnosed and continued.
"""

import warnings

import numpy as np
import pytest
from _callbacks import NoOpCallback
from sklearn.exceptions import ConvergenceWarning

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._lm import MODE_BUDGET

pytest.importorskip("sklearn.callback")

STATUSES = {"converged", "plateau", "stopped", "max_iter", "diverged"}
N_FEATURES = 3


def _data():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, (40, N_FEATURES))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.normal(size=40)
    return X, y


class _StopAt(NoOpCallback):
    """Ends the fit at the given iteration: by asking, or by raising."""

    def __init__(self, iteration, exception=None):
        self.iteration, self.exception, self.seen = iteration, exception, 0

    def on_fit_task_end(self, estimator, context, **kwargs):
        if context.task_name != "iteration":
            return False
        self.seen += 1
        if self.seen >= self.iteration and self.exception is not None:
            raise self.exception
        return self.seen >= self.iteration


# How each ending is brought about, and the statuses it may leave (an easy
# fit can settle before the rule that was meant to end it).
ENDINGS = {
    "settled": ({"max_iter": 60}, {"converged", "plateau", "max_iter"}),
    "early_stopping": (
        {
            "early_stopping": True,
            "n_iter_no_change": 2,
            "validation_fraction": 0.25,
            "learning_rate": 0.05,  # adam's validation loss then stalls soon
        },
        {"stopped", "converged", "plateau"},
    ),
    "max_iter": ({"max_iter": 2}, {"max_iter", "converged"}),
    "diverged": ({"learning_rate": 5.0, "max_iter": 60}, {"diverged"}),
    "callback": ({"max_iter": 60}, {"stopped"}),
}


def _fit(ending, ard, solver, X, y):
    params, expected = ENDINGS[ending]
    est = TanhNetRegressor((4,), solver=solver, ard=ard, random_state=0, **params)
    if ending == "callback":
        est.set_callbacks(_StopAt(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, expected


def _check_consistent(est, X, y):
    n_layers = est.n_layers_
    alpha = np.atleast_1d(est.alpha_)
    if est.ard_:
        assert alpha.shape == (N_FEATURES + n_layers - 2,)
        assert est.feature_relevance_.shape == (N_FEATURES,)
        np.testing.assert_allclose(est.feature_relevance_.sum(), 1.0)
    else:
        assert alpha.shape in ((1,), (n_layers - 1,))
        assert est.feature_relevance_ is None
    assert all(np.isfinite(A).all() for A in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.loss_)
    assert est.status_ in STATUSES
    assert isinstance(est.poor_fit_, bool)
    est.diagnose(X, y)
    assert np.isfinite(est.predict(X)).all()


# Levenberg-Marquardt only ever takes steps that lower the objective: a
# diverging fit is adam's.
CASES = [
    (ending, solver)
    for ending in ENDINGS
    for solver in ("least_squares", "adam")
    if not (ending == "diverged" and solver == "least_squares")
]


@pytest.mark.parametrize("ard", [True, False])
@pytest.mark.parametrize("ending, solver", CASES)
def test_fitted_attributes_agree_whatever_ends_the_fit(ending, solver, ard):
    X, y = _data()
    est, expected = _fit(ending, ard, solver, X, y)
    assert est.status_ in expected
    assert est.ard_ is ard
    assert est.n_iter_ == len(est.loss_curve_)
    _check_consistent(est, X, y)
    # Continuing the fit: from its penalties and weights, within max_iter.
    est.set_params(warm_start=True, max_iter=3, early_stopping=False)
    est.set_callbacks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    # run_to_mode's steps to the stationary point have a budget of their own.
    budget = 3 + MODE_BUDGET * 3 if "stationary point" in est.message_ else 3
    assert est.n_iter_ <= budget
    _check_consistent(est, X, y)


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_an_interrupted_refit_leaves_the_last_fit_as_it_was(solver):
    X, y = _data()
    est, _ = _fit("settled", True, solver, X, y)
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    est.set_callbacks(_StopAt(2, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        est.fit(X[:30], y[:30])
    after = {k: v for k, v in vars(est).items() if k.endswith("_")}
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] is value, key
    _check_consistent(est, X, y)


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_early_stopping_before_the_per_input_stage_keeps_one_penalty_per_input(
    solver,
):
    # ard='auto' resolves to ARD here (3 inputs, 30 rows, 26 parameters) and
    # the validation loss stops the fit while it still has one penalty per
    # layer: that fit is stated with one penalty per input.
    X = np.random.RandomState(0).uniform(size=(30, 3))
    y = np.arange(30) % 3
    est = TanhNetRegressor(
        (5,), solver=solver, random_state=0, early_stopping=True, learning_rate=0.05
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.ard_ and est.status_ == "stopped"
    assert np.shape(est.alpha_) == (3 + 1,)
    est.diagnose(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(warm_start=True, early_stopping=False).fit(X, y)
        if solver == "adam":
            est.partial_fit(X, y)
    assert np.shape(est.alpha_) == (3 + 1,)
