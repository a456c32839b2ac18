"""Tests for the objective and its derivatives in ``sklearn_tanhnet._derivatives``."""

import warnings

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.differential_operators import make_jvp
from autograd.test_util import check_grads
from scipy.optimize._numdiff import approx_derivative

from sklearn_tanhnet._derivatives import LeastSquaresProblem
from sklearn_tanhnet._network import (
    forward_numpy,
    init_params,
    n_params_of,
    pack,
    unpack,
    weight_mask,
)


def smooth_activation(x):
    """A user-supplied activation, analytic so complex steps work through it."""
    return x / anp.sqrt(1.0 + x**2)


# (layer_sizes, activation, alpha)
CASES = [
    ([3, 4, 2], "tanh", 0.0),
    ([3, 4, 2], "tanh", 0.1),
    ([3, 4, 2], "identity", 0.1),
    ([2, 3, 2, 1], "identity", 0.0),
    ([2, 5, 3, 1], "tanh", 0.1),
    ([2, 5, 3, 1], "logistic", 0.0),
    ([2, 1], "tanh", 0.0),
    ([2, 1], "tanh", 0.1),
    ([3, 2], "sin", 0.1),
    ([1, 3, 1], "tanh", 0.1),
    ([1, 3, 1], "sin", 0.0),
    ([1, 3, 1], smooth_activation, 0.1),
    ([2, 3, 4, 3], "logistic", 0.1),
]


def case_id(case):
    sizes, activation, alpha = case
    name = activation if isinstance(activation, str) else "callable"
    return f"{'-'.join(map(str, sizes))}-{name}-alpha{alpha}"


def make_problem(layer_sizes, activation="tanh", alpha=0.1, seed=0, n_samples=None):
    """Random data, positive sample weights and a random ``theta``."""
    rng = np.random.RandomState(seed)
    n = rng.randint(7, 16) if n_samples is None else n_samples
    X = rng.normal(size=(n, layer_sizes[0]))
    Y = rng.normal(size=(n, layer_sizes[-1]))
    w = rng.uniform(0.2, 2.0, size=n)
    problem = LeastSquaresProblem(X, Y, w, alpha, layer_sizes, activation)
    theta = pack(init_params(layer_sizes, rng, activation))
    # Non-zero biases so that no symmetry hides an indexing error.
    theta = theta + 0.3 * rng.normal(size=theta.size) * ~weight_mask(layer_sizes)
    return problem, theta


@pytest.fixture(params=CASES, ids=[case_id(c) for c in CASES])
def case(request):
    return make_problem(*request.param)


def central_differences(f, x, h):
    """Central differences of a scalar or vector function, one column per entry."""
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        columns.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(columns, axis=-1)


def assert_jacobian_matches(problem, jac, theta):
    """Compare ``jac`` with complex-step derivatives of the residuals.

    The complex step has no cancellation, so the reference is exact to rounding
    and the tolerance can be tight enough to catch any wrong entry.
    """
    reference = approx_derivative(problem.residual_function(), theta, method="cs")
    assert jac.shape == reference.shape
    np.testing.assert_allclose(
        jac, reference, rtol=1e-10, atol=1e-12 * np.abs(reference).max()
    )


# -- values ----------------------------------------------------------------------


def test_residual_function_matches_residuals(case):
    problem, theta = case
    r = problem.residuals(theta)
    n_reg = int(weight_mask(problem.layer_sizes).sum()) if problem.alpha else 0
    assert r.shape == (problem.n_samples * problem.n_outputs + n_reg,)
    np.testing.assert_allclose(
        problem.residual_function()(theta), r, rtol=1e-13, atol=1e-15
    )


def test_loss_objective_and_residuals_agree(case):
    problem, theta = case
    r = problem.residuals(theta)
    value = 0.5 * r @ r
    assert problem.loss(theta) == pytest.approx(value, rel=1e-13)
    assert problem.objective(theta) == pytest.approx(value, rel=1e-13)


def test_objective_formula(case):
    # J = 1 / (2 S) * (sum_i w_i ||f(x_i) - y_i||^2 / K + alpha * ||W||^2)
    problem, theta = case
    params = unpack(theta, problem.layer_sizes)
    pred = forward_numpy(params, problem.X, problem.np_activation)
    w, K = problem.sample_weight, problem.n_outputs
    data = np.sum(w * np.sum((pred - problem.Y) ** 2, axis=1)) / K
    penalty = problem.alpha * sum(np.sum(W**2) for W, _ in params)
    expected = (data + penalty) / (2 * w.sum())
    assert problem.loss(theta) == pytest.approx(expected, rel=1e-13)


def test_residuals_cache_sees_in_place_changes():
    problem, theta = make_problem([2, 5, 3, 1])
    theta = theta.copy()
    before = problem.residuals(theta)
    theta[0] += 0.5
    after = problem.residuals(theta)
    fresh = make_problem([2, 5, 3, 1])[0].residuals(theta)
    np.testing.assert_array_equal(after, fresh)
    assert not np.allclose(after, before)
    # Mutating a returned vector must not corrupt the cache.
    after[:] = 0.0
    np.testing.assert_array_equal(problem.residuals(theta), fresh)


def test_integer_weight_equals_repeated_row():
    problem, theta = make_problem([2, 4, 2], alpha=0.1, n_samples=8)
    X, Y = problem.X, problem.Y
    w = np.ones(8)
    w[[0, 3]] = [3.0, 2.0]
    rows = np.r_[0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7]
    weighted = LeastSquaresProblem(X, Y, w, 0.1, [2, 4, 2])
    repeated = LeastSquaresProblem(X[rows], Y[rows], np.ones(11), 0.1, [2, 4, 2])
    # The data term is a weighted mean and the penalty is relative to the weight
    # sum, so scaling the weights by c equals scaling alpha by 1 / c.
    scaled = LeastSquaresProblem(X, Y, 2.5 * w, 0.25, [2, 4, 2])
    for other in (repeated, scaled):
        assert other.loss(theta) == pytest.approx(weighted.loss(theta), rel=1e-13)
        np.testing.assert_allclose(
            other.gradient(theta), weighted.gradient(theta), rtol=1e-12, atol=1e-15
        )
        np.testing.assert_allclose(
            other.gauss_newton(theta),
            weighted.gauss_newton(theta),
            rtol=1e-12,
            atol=1e-15,
        )


# -- Jacobian --------------------------------------------------------------------


def test_jacobian_matches_complex_step(case):
    problem, theta = case
    J = problem.jacobian(theta)
    n_reg = problem.n_reg
    assert J.shape == (
        problem.n_samples * problem.n_outputs + n_reg,
        n_params_of(problem.layer_sizes),
    )
    assert_jacobian_matches(problem, J, theta)


def test_jacobian_matches_autograd_jacobian(case):
    problem, theta = case
    reference = autograd.jacobian(problem.residual_function())(theta)
    np.testing.assert_allclose(problem.jacobian(theta), reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layer_sizes", [[3, 4, 2], [2, 5, 3, 1], [2, 1]], ids=str)
def test_jacobian_relu(layer_sizes):
    # Piecewise linear: exact derivatives agree away from the kinks.
    problem, theta = make_problem(layer_sizes, "relu", 0.1, seed=3)
    reference = autograd.jacobian(problem.residual_function())(theta)
    np.testing.assert_allclose(problem.jacobian(theta), reference, rtol=0, atol=1e-12)


def test_jacobian_with_zero_weight_rows():
    problem, theta = make_problem([3, 4, 2], alpha=0.1)
    w = problem.sample_weight.copy()
    w[[0, 2]] = 0.0
    problem = LeastSquaresProblem(problem.X, problem.Y, w, 0.1, [3, 4, 2])
    J = problem.jacobian(theta)
    K = problem.n_outputs
    np.testing.assert_array_equal(J[:K], 0.0)
    np.testing.assert_array_equal(J[2 * K : 3 * K], 0.0)
    assert_jacobian_matches(problem, J, theta)


@pytest.mark.parametrize("case_index", [0, 4, 7, 11])
def test_wrong_jacobian_fails_the_check(case_index):
    problem, theta = make_problem(*CASES[case_index])
    J = problem.jacobian(theta)
    assert_jacobian_matches(problem, J, theta)
    P = J.shape[1]

    perturbed = J.copy()
    perturbed[:, 1] += 1e-6
    with pytest.raises(AssertionError):
        assert_jacobian_matches(problem, perturbed, theta)

    swapped = J.copy()
    swapped[:, [0, P - 1]] = swapped[:, [P - 1, 0]]
    with pytest.raises(AssertionError):
        assert_jacobian_matches(problem, swapped, theta)

    one_entry = J.copy()
    i, j = np.unravel_index(np.argmax(np.abs(J)), J.shape)
    one_entry[i, j] *= 1 + 1e-8
    with pytest.raises(AssertionError):
        assert_jacobian_matches(problem, one_entry, theta)

    with pytest.raises(AssertionError):
        assert_jacobian_matches(problem, J[:-1], theta)


# -- gradient --------------------------------------------------------------------


def test_gradient_is_jacobian_transpose_residuals(case):
    problem, theta = case
    J, r = problem.jacobian(theta), problem.residuals(theta)
    np.testing.assert_allclose(problem.gradient(theta), J.T @ r, rtol=1e-11, atol=1e-14)


def test_gradient_matches_central_differences(case):
    problem, theta = case
    numeric = central_differences(problem.loss, theta, 1e-6)
    np.testing.assert_allclose(problem.gradient(theta), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "activation",
    ["tanh", "identity", "logistic", "sin", smooth_activation],
    ids=str,
)
@pytest.mark.parametrize("layer_sizes", [[3, 4, 2], [2, 3, 2, 1]], ids=str)
def test_check_grads_forward_and_reverse(layer_sizes, activation):
    problem, theta = make_problem(layer_sizes, activation, 0.1, seed=1)
    check_grads(problem.objective, modes=["fwd", "rev"], order=2)(theta)


def test_forward_mode_matches_gradient(case):
    # check_grads compares with finite differences only to ~1e-6; forward mode
    # must agree with reverse mode to rounding, first and second order.
    problem, theta = case
    v = np.random.RandomState(4).normal(size=theta.size)
    value, jvp = make_jvp(problem.objective)(theta)(v)
    assert value == pytest.approx(problem.loss(theta), rel=1e-13)
    assert jvp == pytest.approx(problem.gradient(theta) @ v, rel=1e-12, abs=1e-15)
    _, hvp_fwd = make_jvp(autograd.grad(problem.objective))(theta)(v)
    np.testing.assert_allclose(
        hvp_fwd, problem.hessian(theta) @ v, rtol=1e-10, atol=1e-13
    )


# -- second order ----------------------------------------------------------------


def test_hessian_symmetric_and_matches_differences(case):
    problem, theta = case
    H = problem.hessian(theta)
    P = theta.size
    assert H.shape == (P, P)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-13 * np.abs(H).max())
    numeric = central_differences(problem.gradient, theta, 1e-5)
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-8)


def test_hvp_equals_hessian_product(case):
    problem, theta = case
    rng = np.random.RandomState(5)
    H = problem.hessian(theta)
    for _ in range(3):
        v = rng.normal(size=theta.size)
        np.testing.assert_allclose(problem.hvp(theta, v), H @ v, rtol=1e-10, atol=1e-13)


def test_gauss_newton(case):
    problem, theta = case
    J_ref = autograd.jacobian(problem.residual_function())(theta)
    G = problem.gauss_newton(theta)
    np.testing.assert_allclose(G, J_ref.T @ J_ref, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(G, G.T, rtol=0, atol=1e-15)
    assert np.linalg.eigvalsh(G).min() > -1e-12


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_gauss_newton_is_exact_hessian_for_linear_model(alpha):
    problem, theta = make_problem([3, 2], alpha=alpha)
    np.testing.assert_allclose(
        problem.gauss_newton(theta), problem.hessian(theta), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("layer_sizes", [[3, 4, 2], [2, 5, 3, 1]], ids=str)
def test_gauss_newton_is_exact_hessian_at_zero_residual(layer_sizes):
    # With alpha = 0 and targets the network's own output, the second-order term
    # sum_i r_i * hess(r_i) vanishes; it does not elsewhere.
    problem, theta = make_problem(layer_sizes, alpha=0.0)
    Y = forward_numpy(unpack(theta, layer_sizes), problem.X)
    exact = LeastSquaresProblem(problem.X, Y, problem.sample_weight, 0.0, layer_sizes)
    assert exact.loss(theta) < 1e-28
    np.testing.assert_allclose(
        exact.gauss_newton(theta), exact.hessian(theta), rtol=1e-10, atol=1e-13
    )
    assert not np.allclose(problem.gauss_newton(theta), problem.hessian(theta))


# -- minibatches -----------------------------------------------------------------


@pytest.mark.parametrize("case_index", [1, 3, 5, 6, 11])
def test_minibatch_of_all_rows_is_full_objective(case_index):
    problem, theta = make_problem(*CASES[case_index])
    idx = np.arange(problem.n_samples)
    assert problem.objective(theta, idx) == pytest.approx(
        problem.objective(theta), rel=1e-13
    )
    np.testing.assert_allclose(
        problem.gradient(theta, idx), problem.gradient(theta), rtol=1e-12, atol=1e-15
    )
    # Any order of the rows.
    shuffled = np.random.RandomState(0).permutation(problem.n_samples)
    assert problem.objective(theta, shuffled) == pytest.approx(
        problem.objective(theta), rel=1e-13
    )


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_minibatch_estimates_average_to_full_objective(batch_size, alpha, activation):
    problem, theta = make_problem([2, 4, 2], activation, alpha, n_samples=12)
    order = np.random.RandomState(batch_size).permutation(12)
    batches = order.reshape(-1, batch_size)
    values = [problem.objective(theta, idx) for idx in batches]
    grads = [problem.gradient(theta, idx) for idx in batches]
    assert np.mean(values) == pytest.approx(problem.objective(theta), rel=1e-12)
    np.testing.assert_allclose(
        np.mean(grads, axis=0), problem.gradient(theta), rtol=1e-11, atol=1e-14
    )
    # Each batch alone is not the full objective: the test can tell them apart.
    assert not np.allclose(values, problem.objective(theta))


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_minibatch_with_zero_weights(alpha):
    problem, theta = make_problem([3, 4, 2], alpha=alpha, n_samples=10)
    w = problem.sample_weight.copy()
    w[:3] = 0.0
    problem = LeastSquaresProblem(problem.X, problem.Y, w, alpha, [3, 4, 2])
    idx = np.array([0, 1, 2])
    mask = weight_mask([3, 4, 2])
    penalty = 0.5 * alpha / w.sum() * np.sum(theta[mask] ** 2)
    expected_grad = alpha / w.sum() * theta * mask
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = problem.objective(theta, idx)
        g = problem.gradient(theta, idx)
    assert np.isfinite(value)
    assert value == pytest.approx(penalty, rel=1e-13, abs=0)
    np.testing.assert_allclose(g, expected_grad, rtol=1e-13, atol=0)
