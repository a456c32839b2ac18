"""Numerical breakdown inside a fit: injected faults never escape as exceptions.

Each test breaks one computation from its k-th call on (or at the k-th call
only) without special data: the kernel's Jacobian returning NaN or inf, the
trial residuals turning non-finite, a factorisation raising ``LinAlgError``,
adam's gradient exploding. Every fit must end with a finite model, the right
``status_`` and, when it could not recover, exactly one ``ConvergenceWarning``
saying what to try.
"""

import warnings

import numpy as np
import pytest
from numpy.linalg import LinAlgError
from sklearn.exceptions import ConvergenceWarning

import sklearn_tanhnet._evidence as evidence_module
import sklearn_tanhnet._lm as lm_module
import sklearn_tanhnet._network as network_module
import sklearn_tanhnet._training as training_module
import sklearn_tanhnet._uncertainty as uncertainty_module
from sklearn_tanhnet import TanhNetRegressor

rng = np.random.RandomState(0)
X = rng.uniform(-2, 2, size=(60, 2))
y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.05 * rng.normal(size=60)

METHODS = ["lm", "trf", "dogbox"]


def _fit(est):
    """Fit, failing on any error and returning the warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Numerical trouble must not surface as numpy warnings turned errors.
        with np.errstate(all="raise"):
            est.fit(X, y)
    return [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def _assert_finite(est):
    assert all(np.isfinite(W).all() for W in est.coefs_)
    assert all(np.isfinite(b).all() for b in est.intercepts_)
    assert np.isfinite(est.loss_)
    assert np.isfinite(est.predict(X)).all()


def _break_from(monkeypatch, owner, name, k, bad, transient=False):
    """Make ``owner.name`` return ``bad(result)`` from its k-th call on."""
    original = getattr(owner, name)
    calls = [0]

    def broken(*args, **kwargs):
        calls[0] += 1
        result = original(*args, **kwargs)
        if calls[0] >= k and not (transient and calls[0] > k):
            return bad(result)
        return result

    monkeypatch.setattr(owner, name, broken)
    return calls


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_jacobian_ends_diverged_with_the_best_parameters(
    monkeypatch, method, value
):
    reference = TanhNetRegressor((4,), method=method, random_state=0, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(X, y)

    def poison(J):
        J.fill(value)  # in place: the Jacobian may live in the caller's buffer
        return J

    _break_from(monkeypatch, network_module.Linearization, "jacobian", 4, poison)
    est = TanhNetRegressor((4,), method=method, random_state=0)
    caught = _fit(est)
    _assert_finite(est)
    assert est.status_ == "diverged"
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "n_starts" in message and "alpha" in message
    assert est.message_ == message


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_trial_residuals_are_rejected_steps(monkeypatch, method):
    # Three evaluations of the network return NaN outputs, as an overflowing
    # trial step would: the solver steps back and goes on.
    original = network_module.Network._run
    calls = [0]

    def flaky(self, params, X_rows, keep):
        calls[0] += 1
        out, inputs, slopes = original(self, params, X_rows, keep)
        if 6 <= calls[0] < 9:
            out = np.full_like(out, np.nan)
        return out, inputs, slopes

    monkeypatch.setattr(network_module.Network, "_run", flaky)
    est = TanhNetRegressor((4,), method=method, random_state=0)
    caught = _fit(est)
    _assert_finite(est)
    assert est.status_ in ("converged", "plateau")
    assert not caught
    assert est.score(X, y) > 0.9


def test_lm_factorisation_error_once_is_a_rejected_step(monkeypatch):
    calls = _break_from(
        monkeypatch, lm_module, "dpotrf", 3, _raise_linalg_error, transient=True
    )
    est = TanhNetRegressor((4,), random_state=0)
    caught = _fit(est)
    assert calls[0] > 3
    _assert_finite(est)
    assert est.status_ in ("converged", "plateau") and not caught
    assert est.score(X, y) > 0.9


def test_lm_factorisation_failing_for_good_ends_diverged(monkeypatch):
    _break_from(monkeypatch, lm_module, "dpotrf", 3, _raise_linalg_error)
    est = TanhNetRegressor((4,), random_state=0)
    caught = _fit(est)
    _assert_finite(est)
    assert est.status_ == "diverged" and len(caught) == 1
    assert "factoris" in est.message_


def _raise_linalg_error(result):
    raise LinAlgError("injected: SVD did not converge")


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_scipy_linalg_error_ends_diverged(monkeypatch, method):
    import scipy.optimize._lsq.dogbox as dogbox
    import scipy.optimize._lsq.trf as trf

    module, name = (trf, "svd") if method == "trf" else (dogbox, "lstsq")
    _break_from(monkeypatch, module, name, 3, _raise_linalg_error)
    est = TanhNetRegressor((4,), method=method, tr_solver="exact", random_state=0)
    caught = _fit(est)
    _assert_finite(est)
    assert est.status_ == "diverged" and len(caught) == 1
    assert "LinAlgError" in est.message_ or "did not converge" in est.message_


def test_adam_non_finite_gradient_ends_diverged(monkeypatch):
    import sklearn_tanhnet._derivatives as derivatives

    original = derivatives.LeastSquaresProblem.value_and_grad
    calls = [0]

    def exploding(self, theta, idx=None):
        calls[0] += 1
        value, g = original(self, theta, idx)
        return (value, np.full_like(g, np.inf)) if calls[0] >= 25 else (value, g)

    monkeypatch.setattr(derivatives.LeastSquaresProblem, "value_and_grad", exploding)
    est = TanhNetRegressor(
        (4,), solver="adam", learning_rate=0.01, batch_size=20, random_state=0
    )
    caught = _fit(est)
    _assert_finite(est)
    assert est.status_ == "diverged" and len(caught) == 1


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_evidence_update_failure_is_skipped_and_recorded(monkeypatch, solver):
    _break_from(
        monkeypatch,
        evidence_module,
        "inverse_diagonal",
        2,
        _raise_linalg_error,
        transient=True,
    )
    # The solvers imported the function by name: they get the broken one too.
    for module in (lm_module, training_module):
        monkeypatch.setattr(
            module, "inverse_diagonal", evidence_module.inverse_diagonal
        )
    params = {}
    if solver == "adam":
        params = {"solver": solver, "learning_rate": 0.03, "max_iter": 2000}
    est = TanhNetRegressor((4,), random_state=0, **params)
    caught = _fit(est)
    _assert_finite(est)
    assert est.status_ != "diverged" and not caught
    assert "evidence update was skipped" in est.message_


def test_statistics_failure_leaves_a_fitted_model_without_intervals(monkeypatch):
    _break_from(monkeypatch, uncertainty_module, "_pinv_psd", 1, _raise_linalg_error)
    est = TanhNetRegressor((4,), random_state=0)
    caught = _fit(est)
    _assert_finite(est)
    assert not caught
    assert est.noise_variance_ is None and est.effective_n_params_ is None
    with pytest.raises(ValueError, match="Uncertainty is not available"):
        est.predict_interval(X)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu", "sin"])
def test_huge_inputs_with_standardize_off_fit_without_raising(activation):
    """Pre-activations of 1e150 overflow nothing the fit depends on."""
    est = TanhNetRegressor(
        (5,), activation=activation, standardize=False, random_state=0, max_iter=20
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with np.errstate(all="raise"):
            est.fit(X * 1e150, y)
    _assert_finite(est)
