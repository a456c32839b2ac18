"""Tests for the optimisers in ``sklearn_tanhnet._solvers``."""

import numpy as np
import pytest

from sklearn_tanhnet._solvers import (
    Adam,
    Control,
    SolverResult,
    fit_adam,
    fit_least_squares,
)

METHODS = ["trf", "dogbox"]


def linear_problem(seed=0, n=15, p=4):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(n, p))
    b = rng.normal(size=n)
    return A, b


def rosenbrock_residuals(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def rosenbrock_jacobian(x):
    return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])


ROSENBROCK_START = np.array([-1.2, 1.0])
ROSENBROCK_LOSS0 = 0.5 * np.sum(rosenbrock_residuals(ROSENBROCK_START) ** 2)


def assert_consistent_curve(result, loss0):
    """One loss per iteration, each lower than the one before, from ``loss0``."""
    curve = np.asarray(result.loss_curve)
    assert result.n_iter == len(curve) >= 1
    assert np.all(np.isfinite(curve))
    # Every iteration is an accepted step, and scipy accepts only decreases.
    assert np.all(np.diff(np.r_[loss0, curve]) < 0)
    assert result.loss == curve[-1] == curve.min()


# -- least squares ---------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_least_squares_solves_linear_problem(method, seed):
    A, b = linear_problem(seed)
    theta0 = np.random.RandomState(seed + 10).normal(size=A.shape[1])
    result = fit_least_squares(lambda t: A @ t - b, lambda t: A, theta0, method=method)
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert isinstance(result, SolverResult)
    assert result.status in ("converged", "plateau")
    assert result.converged
    np.testing.assert_allclose(result.theta, expected, rtol=0, atol=1e-8)
    r = A @ expected - b
    assert result.loss == pytest.approx(0.5 * r @ r, rel=1e-12)
    r0 = A @ theta0 - b
    assert_consistent_curve(result, 0.5 * r0 @ r0)
    assert result.nfev >= 1 and result.seconds >= 0


@pytest.mark.parametrize("method", METHODS)
def test_least_squares_starting_at_the_solution(method):
    A, b = linear_problem()
    theta0 = np.linalg.lstsq(A, b, rcond=None)[0]
    result = fit_least_squares(lambda t: A @ t - b, lambda t: A, theta0, method=method)
    assert result.status == "converged"
    np.testing.assert_allclose(result.theta, theta0, rtol=0, atol=1e-12)
    r = A @ theta0 - b
    assert result.loss == pytest.approx(0.5 * r @ r, rel=1e-12)
    assert result.n_iter == len(result.loss_curve) == 0


@pytest.mark.parametrize("method", METHODS)
def test_least_squares_solves_rosenbrock(method):
    result = fit_least_squares(
        rosenbrock_residuals, rosenbrock_jacobian, ROSENBROCK_START, method=method
    )
    assert result.status == "converged"
    np.testing.assert_allclose(result.theta, [1.0, 1.0], atol=1e-8)
    assert result.loss < 1e-20
    assert_consistent_curve(result, ROSENBROCK_LOSS0)
    assert result.n_iter > 2  # so that max_iter=2 below has to stop it


@pytest.mark.parametrize("method", METHODS)
def test_least_squares_max_iter(method):
    result = fit_least_squares(
        rosenbrock_residuals,
        rosenbrock_jacobian,
        ROSENBROCK_START,
        control=Control(max_iter=2),
        method=method,
    )
    assert result.status == "max_iter"
    assert not result.converged
    assert "max_iter" in result.message
    assert result.n_iter == 2
    assert_consistent_curve(result, ROSENBROCK_LOSS0)
    assert np.all(np.isfinite(result.theta))
    r = rosenbrock_residuals(result.theta)
    assert result.loss == pytest.approx(0.5 * r @ r, rel=1e-14)
    assert result.loss > 1e-3


@pytest.mark.parametrize("method", METHODS)
def test_least_squares_plateau(method):
    result = fit_least_squares(
        rosenbrock_residuals,
        rosenbrock_jacobian,
        ROSENBROCK_START,
        control=Control(tol=10.0, n_iter_no_change=2),
        method=method,
    )
    assert result.status == "plateau"
    assert result.converged
    assert "tol" in result.message
    assert_consistent_curve(result, ROSENBROCK_LOSS0)
    assert result.loss > 1e-3  # stopped long before the minimum
    # tol is relative to loss_scale: a tiny scale disables the same rule.
    result = fit_least_squares(
        rosenbrock_residuals,
        rosenbrock_jacobian,
        ROSENBROCK_START,
        control=Control(tol=10.0, n_iter_no_change=2, loss_scale=1e-12),
        method=method,
    )
    assert result.status == "converged"


@pytest.mark.parametrize("method", METHODS)
def test_least_squares_rejects_non_finite_trial_points(method):
    # Residuals are NaN beyond |x| = 2.5; a full Gauss-Newton step from 0.5
    # lands at 4.25, which must count as a rejected step, not end the fit.
    visited = []

    def residuals(x):
        if abs(x[0]) > 2.5:
            visited.append(x[0])
            return np.array([np.nan])
        return np.array([x[0] ** 2 - 4.0])

    result = fit_least_squares(
        residuals, lambda x: np.array([[2.0 * x[0]]]), np.array([0.5]), method=method
    )
    assert result.status == "converged"
    np.testing.assert_allclose(result.theta, [2.0], atol=1e-8)
    assert_consistent_curve(result, 0.5 * 3.75**2)
    if method == "lm":  # MINPACK's first step is the full Gauss-Newton step
        assert visited


def test_least_squares_verbose(capsys):
    A, b = linear_problem()
    fit_least_squares(
        lambda t: A @ t - b, lambda t: A, np.zeros(4), control=Control(verbose=1)
    )
    out = capsys.readouterr().out
    assert out.startswith("Iteration 0, loss = ")
    fit_least_squares(
        lambda t: A @ t - b, lambda t: A, np.zeros(4), control=Control(verbose=0)
    )
    assert capsys.readouterr().out == ""


# -- adam ------------------------------------------------------------------------


def mean_quadratic(data):
    """``0.5 * mean_i ||theta - x_i||^2`` and its minibatch estimates."""

    def value_and_grad(theta, idx):
        rows = data if idx is None else data[idx]
        diff = theta - rows
        return 0.5 * np.mean(np.sum(diff**2, axis=1)), np.mean(diff, axis=0)

    def loss(theta):
        return value_and_grad(theta, None)[0]

    return value_and_grad, loss


@pytest.mark.parametrize("n_steps", [1, 2, 5])
@pytest.mark.parametrize("learning_rate", [1e-3, 0.05])
def test_adam_steps_closed_form(n_steps, learning_rate):
    # With a constant gradient g, m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so
    # step t is lr * g / (|g| + eps / sqrt(1 - b2^t)) (Kingma and Ba's efficient
    # form, with epsilon outside the bias correction, as in scikit-learn).
    g = np.array([0.3, -2.0, 1e-9, -4e-8, 0.0])
    theta0 = np.array([1.0, -1.0, 0.5, 0.0, 2.0])
    b1, b2, eps = 0.8, 0.99, 1e-7

    def value_and_grad(theta, idx):
        return float(g @ theta), g

    result = fit_adam(
        value_and_grad,
        lambda theta: float(g @ theta),
        theta0,
        4,
        control=Control(max_iter=n_steps, n_iter_no_change=100),
        adam=Adam(learning_rate=learning_rate, beta_1=b1, beta_2=b2, epsilon=eps),
        rng=np.random.RandomState(0),
    )
    expected = theta0.copy()
    for t in range(1, n_steps + 1):
        expected -= learning_rate * g / (np.abs(g) + eps / np.sqrt(1 - b2**t))
    np.testing.assert_allclose(result.theta, expected, rtol=1e-13, atol=1e-16)
    # The tiny components move by much less than a full step: epsilon matters.
    assert abs(result.theta[2] - theta0[2]) < 0.05 * n_steps * learning_rate
    assert result.theta[4] == theta0[4]
    assert result.status == "max_iter"
    assert result.n_iter == n_steps == result.nfev
    assert result.loss == pytest.approx(g @ expected, rel=1e-12)
    # With one batch the epoch loss is the loss before that epoch's step.
    assert result.loss_curve[0] == pytest.approx(g @ theta0, rel=1e-14)


def test_adam_first_step_default_hyperparameters():
    rng = np.random.RandomState(3)
    g = rng.normal(size=6)
    theta0 = rng.normal(size=6)
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    result = fit_adam(
        lambda theta, idx: (float(g @ theta), g),
        lambda theta: float(g @ theta),
        theta0,
        10,
        control=Control(max_iter=1),
        adam=Adam(learning_rate=lr),
        rng=rng,
    )
    m, v = (1 - b1) * g, (1 - b2) * g**2
    m_hat, v_hat = m / (1 - b1), v / (1 - b2)
    # The bias-corrected textbook update, with epsilon added to sqrt(v) before
    # the correction (that is, eps / sqrt(1 - b2**t) after it).
    expected = theta0 - lr * m_hat / (np.sqrt(v_hat) + eps / np.sqrt(1 - b2))
    np.testing.assert_allclose(result.theta, expected, rtol=1e-14)
    np.testing.assert_allclose(result.theta, theta0 - lr * np.sign(g), atol=1e-6)


def test_adam_converges_on_quadratic():
    data = np.random.RandomState(0).normal(size=(10, 3))
    value_and_grad, loss = mean_quadratic(data)
    theta0 = np.array([3.0, -2.0, 1.0])
    result = fit_adam(
        value_and_grad,
        loss,
        theta0,
        10,
        control=Control(max_iter=400, n_iter_no_change=1000),
        adam=Adam(learning_rate=0.05),
        rng=np.random.RandomState(1),
    )
    minimum = data.mean(axis=0)
    assert result.status == "max_iter"
    np.testing.assert_allclose(result.theta, minimum, atol=1e-3)
    assert result.loss == pytest.approx(loss(minimum), rel=1e-6)
    assert result.loss_curve[-1] < 1e-3 * result.loss_curve[0] + loss(minimum)


def test_adam_plateau():
    data = np.random.RandomState(0).normal(size=(10, 3))
    value_and_grad, loss = mean_quadratic(data)
    result = fit_adam(
        value_and_grad,
        loss,
        np.zeros(3),
        10,
        control=Control(max_iter=1000, tol=1.0, n_iter_no_change=3),
        adam=Adam(learning_rate=0.01),
        rng=np.random.RandomState(1),
    )
    assert result.status == "plateau"
    assert result.converged
    assert result.n_iter == 4  # the first epoch improves on inf, then 3 stalls
    assert "tol" in result.message


def test_adam_diverges_with_huge_learning_rate():
    theta0 = np.array([1.0, -0.5, 0.8])
    result = fit_adam(
        lambda theta, idx: (float(np.sum(theta**4)), 4 * theta**3),
        lambda theta: float(np.sum(theta**4)),
        theta0,
        5,
        control=Control(max_iter=50),
        adam=Adam(learning_rate=1e3),
        rng=np.random.RandomState(0),
    )
    assert result.status == "diverged"
    assert not result.converged
    assert "learning_rate" in result.message and "1000.0" in result.message
    assert np.all(np.isfinite(result.theta))
    assert np.isfinite(result.loss)
    # The best parameters seen are the starting ones.
    np.testing.assert_array_equal(result.theta, theta0)
    assert result.n_iter == len(result.loss_curve) < 50


def test_adam_diverges_on_non_finite_loss():
    def value_and_grad(theta, idx):
        if np.abs(theta).max() > 1.5:
            return np.nan, np.full_like(theta, np.nan)
        return float(-np.sum(theta)), -np.ones_like(theta)

    result = fit_adam(
        value_and_grad,
        lambda theta: float(-np.sum(theta)),
        np.zeros(2),
        4,
        control=Control(max_iter=50),
        adam=Adam(learning_rate=0.4),
        rng=np.random.RandomState(0),
    )
    assert result.status == "diverged"
    assert "learning_rate" in result.message
    assert np.all(np.isfinite(result.theta))
    assert np.all(np.abs(result.theta) <= 1.5)
    assert np.all(np.isfinite(result.loss_curve))


def recording(value_and_grad):
    """Wrap ``value_and_grad`` to record the batches it is asked for."""
    calls = []

    def wrapped(theta, idx):
        calls.append(None if idx is None else np.array(idx))
        return value_and_grad(theta, idx)

    return wrapped, calls


@pytest.mark.parametrize("rng_factory", [np.random.RandomState, np.random.default_rng])
def test_adam_same_seed_same_result(rng_factory):
    data = np.random.RandomState(0).normal(size=(13, 2))
    value_and_grad, loss = mean_quadratic(data)
    kwargs = dict(
        adam=Adam(learning_rate=0.05), batch_size=4, control=Control(max_iter=15)
    )
    first = fit_adam(
        value_and_grad, loss, np.zeros(2), 13, rng=rng_factory(3), **kwargs
    )
    again = fit_adam(
        value_and_grad, loss, np.zeros(2), 13, rng=rng_factory(3), **kwargs
    )
    other = fit_adam(
        value_and_grad, loss, np.zeros(2), 13, rng=rng_factory(4), **kwargs
    )
    assert np.array_equal(first.theta, again.theta)
    assert np.array_equal(first.loss_curve, again.loss_curve)
    assert first.loss == again.loss and first.nfev == again.nfev
    # The seed is actually used: another one shuffles differently.
    assert not np.array_equal(first.theta, other.theta)


@pytest.mark.parametrize("n_samples, batch_size", [(10, 3), (12, 4), (7, 1)])
def test_adam_minibatches_with_shuffle(n_samples, batch_size):
    data = np.random.RandomState(0).normal(size=(n_samples, 2))
    value_and_grad, loss = mean_quadratic(data)
    wrapped, calls = recording(value_and_grad)
    n_epochs = 4
    result = fit_adam(
        wrapped,
        loss,
        np.zeros(2),
        n_samples,
        control=Control(max_iter=n_epochs, n_iter_no_change=100),
        adam=Adam(learning_rate=0.01),
        rng=np.random.RandomState(0),
        batch_size=batch_size,
    )
    n_batches = -(-n_samples // batch_size)
    assert result.status == "max_iter"
    assert result.n_iter == n_epochs == len(result.loss_curve)
    assert result.nfev == n_epochs * n_batches == len(calls)
    orders = []
    for epoch in range(n_epochs):
        batches = calls[epoch * n_batches : (epoch + 1) * n_batches]
        assert [len(idx) for idx in batches[:-1]] == [batch_size] * (n_batches - 1)
        order = np.concatenate(batches)
        np.testing.assert_array_equal(np.sort(order), np.arange(n_samples))
        orders.append(order)
    assert any(not np.array_equal(o, orders[0]) for o in orders[1:])


def test_adam_epoch_loss_is_weighted_mean_of_batch_estimates():
    data = np.random.RandomState(0).normal(size=(10, 2))
    value_and_grad, loss = mean_quadratic(data)
    losses = []

    def wrapped(theta, idx):
        value, g = value_and_grad(theta, idx)
        losses.append((len(idx), value))
        return value, g

    result = fit_adam(
        wrapped,
        loss,
        np.zeros(2),
        10,
        control=Control(max_iter=2),
        adam=Adam(learning_rate=0.01),
        rng=np.random.RandomState(0),
        batch_size=4,
    )
    for epoch in range(2):
        batches = losses[3 * epoch : 3 * (epoch + 1)]
        expected = sum(size / 10 * value for size, value in batches)
        assert result.loss_curve[epoch] == pytest.approx(expected, rel=1e-14)


def test_adam_minibatches_without_shuffle():
    data = np.random.RandomState(0).normal(size=(10, 2))
    value_and_grad, loss = mean_quadratic(data)
    wrapped, calls = recording(value_and_grad)
    fit_adam(
        wrapped,
        loss,
        np.zeros(2),
        10,
        control=Control(max_iter=2),
        rng=np.random.RandomState(0),
        batch_size=4,
        shuffle=False,
    )
    expected = [np.arange(0, 4), np.arange(4, 8), np.arange(8, 10)] * 2
    assert len(calls) == len(expected)
    for idx, want in zip(calls, expected):
        np.testing.assert_array_equal(idx, want)


@pytest.mark.parametrize("batch_size", [None, 10, 50])
def test_adam_full_batch(batch_size):
    data = np.random.RandomState(0).normal(size=(10, 2))
    value_and_grad, loss = mean_quadratic(data)
    wrapped, calls = recording(value_and_grad)
    result = fit_adam(
        wrapped,
        loss,
        np.zeros(2),
        10,
        control=Control(max_iter=3),
        rng=np.random.RandomState(0),
        batch_size=batch_size,
    )
    assert calls == [None, None, None]
    assert result.nfev == result.n_iter == 3


def test_adam_verbose(capsys):
    data = np.random.RandomState(0).normal(size=(5, 2))
    value_and_grad, loss = mean_quadratic(data)
    fit_adam(
        value_and_grad,
        loss,
        np.zeros(2),
        5,
        control=Control(max_iter=4, verbose=2),
        rng=None,
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 0", "Iteration 2"]


# -- choosing the trust-region solver ---------------------------------------------


def test_lsmr_steps_minimise_a_linear_problem():
    A, b = linear_problem(n=200, p=30)
    result = fit_least_squares(
        lambda t: A @ t - b,
        lambda t: A,
        np.zeros(30),
        control=Control(tol=0.0),
        tr_solver="lsmr",
    )
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    # Truncated lsmr steps end at scipy's ftol, not at rounding.
    assert result.status == "converged"
    np.testing.assert_allclose(result.theta, expected, rtol=0, atol=1e-5)
    assert np.abs(result.theta - expected).max() > 0  # not the exact solver
