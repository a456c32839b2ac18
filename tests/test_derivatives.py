"""Tests for the least-squares problem in ``sklearn_tanhnet._derivatives``.

The reference for every value and derivative is a residual function written
here in autograd.numpy, independently of the package's network code, and
differentiated by autograd (and by complex steps and central differences).
"""

import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from _tolerances import EPS
from scipy.optimize import least_squares
from scipy.optimize._numdiff import approx_derivative
from scipy.sparse.linalg import LinearOperator

from sklearn_tanhnet._derivatives import (
    JacobianOperator,
    LeastSquaresProblem,
    mean_prediction_loss,
)
from sklearn_tanhnet._network import init_params, pack, weight_groups, weight_mask
from sklearn_tanhnet._solvers import Adam, Control, fit_adam, jacobian_operator


def smooth_activation(x):
    """A user-supplied activation, analytic so complex steps work through it."""
    return x / anp.sqrt(1.0 + x**2)


REFERENCE_ACTIVATIONS = {
    "tanh": anp.tanh,
    "logistic": lambda x: 1.0 / (1.0 + anp.exp(-x)),
    "relu": lambda x: anp.maximum(x, 0.0),
    "sin": anp.sin,
    "identity": lambda x: x,
}


def n_weights_of(sizes):
    return sum(m * n for m, n in zip(sizes[:-1], sizes[1:]))


def per_weight(sizes):
    """A penalty per weight, one of them zero."""
    return np.linspace(0.0, 0.5, n_weights_of(sizes))


# (layer_sizes, activation, alpha); alpha 'per-weight' is one penalty a weight.
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
    ([2, 3, 2], "tanh", "per-weight"),
    ([3, 2], "identity", "per-weight"),
]


def case_id(case):
    sizes, activation, alpha = case
    name = activation if isinstance(activation, str) else "callable"
    return f"{'-'.join(map(str, sizes))}-{name}-alpha{alpha}"


def make_problem(
    layer_sizes, activation="tanh", alpha=0.1, seed=0, n_samples=None, zero_rows=()
):
    """Random data, positive sample weights and a random ``theta``."""
    if isinstance(alpha, str):
        alpha = per_weight(layer_sizes)
    rng = np.random.RandomState(seed)
    n = rng.randint(7, 16) if n_samples is None else n_samples
    X = rng.normal(size=(n, layer_sizes[0]))
    Y = rng.normal(size=(n, layer_sizes[-1]))
    w = rng.uniform(0.2, 2.0, size=n)
    w[list(zero_rows)] = 0.0
    problem = LeastSquaresProblem(X, Y, w, alpha, layer_sizes, activation)
    theta = pack(init_params(layer_sizes, rng, activation))
    # Non-zero biases so that no symmetry hides an indexing error.
    theta = theta + 0.3 * rng.normal(size=theta.size) * ~weight_mask(layer_sizes)
    return problem, theta


@pytest.fixture(params=CASES, ids=[case_id(c) for c in CASES])
def case(request):
    return make_problem(*request.param)


def reference_network(theta, X, sizes, f):
    """The network's output and its weight matrices, written out in autograd.numpy."""
    A, start, weights = X, 0, []
    for layer, (m, h) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = anp.reshape(theta[start : start + m * h], (m, h))
        b = theta[start + m * h : start + (m + 1) * h]
        start += (m + 1) * h
        Z = anp.dot(A, W) + b
        A = Z if layer == len(sizes) - 2 else f(Z)
        weights.append(anp.ravel(W))
    return A, weights


def reference_residuals(X, Y, w, alpha, sizes, activation):
    """The residual vector, data rows then penalty rows, in autograd.numpy.

    ``F = 1 / (2 S) (sum_i w_i ||f(x_i) - y_i||^2 / K + sum_j alpha_j W_j^2)``
    is half its squared norm; a penalty row for every weight when any
    penalty is positive.
    """
    f = REFERENCE_ACTIVATIONS.get(activation, activation)
    S, K = np.sum(w), sizes[-1]
    c = np.sqrt(w / (S * K))
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (n_weights_of(sizes),))

    def residuals(theta):
        A, weights = reference_network(theta, X, sizes, f)
        data = anp.ravel((A - Y) * c[:, None])
        if not np.any(alpha > 0):
            return data
        return anp.concatenate([data, np.sqrt(alpha / S) * anp.concatenate(weights)])

    return residuals


def reference_of(problem):
    return reference_residuals(
        problem.X,
        problem.Y,
        problem.sample_weight,
        problem.alpha,
        problem.layer_sizes,
        problem.activation,
    )


def reference_objective(problem):
    r = reference_of(problem)
    return lambda theta: 0.5 * anp.sum(r(theta) ** 2)


def n_data(problem):
    return problem.n_samples * problem.n_outputs


def close(actual, desired, rtol=1e-12):
    # Entries that cancel to nearly zero get an absolute floor at rounding level.
    scale = max(np.max(np.abs(desired)), 1e-300)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=1e-14 * scale)


def central_differences(f, x, h):
    """Central differences of a scalar or vector function, one column per entry."""
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        columns.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(columns, axis=-1)


# -- values ----------------------------------------------------------------------


def test_residuals_match_reference(case):
    problem, theta = case
    r = problem.residuals(theta)
    n_reg = int(weight_mask(problem.layer_sizes).sum()) if np.any(problem.alpha) else 0
    assert problem.n_reg == n_reg
    assert r.shape == (n_data(problem) + n_reg,)
    close(r, reference_of(problem)(theta), rtol=1e-13)
    close(problem.data_residuals(theta).ravel(), r[: n_data(problem)], rtol=0)


def test_loss_residuals_and_autograd_objective_agree(case):
    problem, theta = case
    r = problem.residuals(theta)
    value = 0.5 * r @ r
    assert problem.loss(theta) == pytest.approx(value, rel=1e-13)
    assert problem.objective_autograd(theta) == pytest.approx(value, rel=1e-13)
    assert reference_objective(problem)(theta) == pytest.approx(value, rel=1e-13)
    data = r[: n_data(problem)]
    assert problem.data_loss(theta) == pytest.approx(0.5 * data @ data, rel=1e-13)
    assert problem.penalty_loss(theta) == pytest.approx(
        value - 0.5 * data @ data, rel=1e-12, abs=1e-300
    )


def test_objective_formula():
    # F = 1 / (2 S) * (sum_i w_i ||f(x_i) - y_i||^2 / K + alpha * ||W||^2)
    problem, theta = make_problem([3, 4, 2], "tanh", 0.3)
    pred = problem.network.output(theta, problem.X)
    w, K = problem.sample_weight, problem.n_outputs
    W0, W1 = theta[:12], theta[16:24]
    data = np.sum(w * np.sum((pred - problem.Y) ** 2, axis=1)) / K
    penalty = 0.3 * (W0 @ W0 + W1 @ W1)
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
    problem.data_residuals(theta)[:] = 0.0
    np.testing.assert_array_equal(problem.residuals(theta), fresh)


def test_set_alpha_changes_the_penalty_only():
    problem, theta = make_problem([2, 3, 2], "tanh", 0.1)
    data = problem.data_loss(theta)
    problem.set_alpha(0.4)
    assert problem.data_loss(theta) == data
    other = make_problem([2, 3, 2], "tanh", 0.4)[0]
    assert problem.loss(theta) == pytest.approx(other.loss(theta), rel=1e-14)
    np.testing.assert_array_equal(problem.reg2, other.reg2)
    problem.set_alpha(0.0)
    assert problem.n_reg == 0 and problem.penalty_loss(theta) == 0.0


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_integer_weight_equals_repeated_row(alpha):
    problem, theta = make_problem([2, 4, 2], alpha=alpha, n_samples=8)
    X, Y = problem.X, problem.Y
    w = np.ones(8)
    w[[0, 3]] = [3.0, 2.0]
    rows = np.r_[0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7]
    weighted = LeastSquaresProblem(X, Y, w, alpha, [2, 4, 2])
    repeated = LeastSquaresProblem(X[rows], Y[rows], np.ones(11), alpha, [2, 4, 2])
    # The data term is a weighted mean and the penalty is relative to the weight
    # sum, so scaling the weights and alpha by the same c changes nothing.
    scaled = LeastSquaresProblem(X, Y, 2.5 * w, 2.5 * alpha, [2, 4, 2])
    value, g = weighted.value_and_grad(theta)
    for other in (repeated, scaled):
        assert other.loss(theta) == pytest.approx(weighted.loss(theta), rel=1e-13)
        other_value, other_g = other.value_and_grad(theta)
        assert other_value == pytest.approx(value, rel=1e-13)
        close(other_g, g)
        close(other.gauss_newton(theta), weighted.gauss_newton(theta))
        close(other.normal_equations(theta)[1], weighted.normal_equations(theta)[1])
    # The test tells weights from no weights.
    unweighted = LeastSquaresProblem(X, Y, np.ones(8), alpha, [2, 4, 2])
    assert unweighted.loss(theta) != pytest.approx(weighted.loss(theta), rel=1e-6)


def test_mean_prediction_loss_closed_form(small_regression):
    X, Y, w = small_regression
    K = Y.shape[1]
    mean = (w @ Y) / w.sum()
    expected = 0.5 * np.sum(w[:, None] * (Y - mean) ** 2) / (w.sum() * K)
    assert mean_prediction_loss(Y, w) == pytest.approx(expected, rel=1e-13)
    # It is the objective of the linear model that predicts the weighted mean.
    sizes = [X.shape[1], K]
    theta = np.r_[np.zeros(X.shape[1] * K), mean]
    problem = LeastSquaresProblem(X, Y, w, 0.0, sizes, "identity")
    assert problem.loss(theta) == pytest.approx(expected, rel=1e-13)
    # Standardised targets: 0.5; a constant target: 0; a single output works.
    Z = (Y - Y.mean(axis=0)) / Y.std(axis=0)
    assert mean_prediction_loss(Z, np.ones(len(Z))) == pytest.approx(0.5, rel=1e-13)
    assert mean_prediction_loss(np.full((5, 2), 3.0), np.ones(5)) == 0.0
    y = Y[:, :1]
    expected_1 = 0.5 * np.average(
        (y[:, 0] - np.average(y[:, 0], weights=w)) ** 2, weights=w
    )
    assert mean_prediction_loss(y, w) == pytest.approx(expected_1, rel=1e-13)


# -- Jacobian --------------------------------------------------------------------


def test_jacobian_matches_autograd_jacobian(case):
    problem, theta = case
    J = problem.jacobian(theta)
    reference = autograd.jacobian(reference_of(problem))(theta)
    assert J.shape == reference.shape == (n_data(problem) + problem.n_reg, theta.size)
    close(J, reference)


def test_jacobian_matches_complex_step(case):
    problem, theta = case
    reference = approx_derivative(reference_of(problem), theta, method="cs")
    close(problem.jacobian(theta), reference, rtol=1e-10)


@pytest.mark.parametrize("layer_sizes", [[3, 4, 2], [2, 5, 3, 1], [2, 1]], ids=str)
def test_jacobian_relu(layer_sizes):
    # Piecewise linear: exact derivatives agree away from the kinks.
    problem, theta = make_problem(layer_sizes, "relu", 0.1, seed=3)
    close(problem.jacobian(theta), autograd.jacobian(reference_of(problem))(theta))


@pytest.mark.parametrize("alpha", [0.1, "per-weight"])
def test_jacobian_with_zero_weight_rows(alpha):
    problem, theta = make_problem([3, 4, 2], alpha=alpha, zero_rows=[0, 2])
    J = problem.jacobian(theta)
    K = problem.n_outputs
    np.testing.assert_array_equal(J[:K], 0.0)
    np.testing.assert_array_equal(J[2 * K : 3 * K], 0.0)
    close(J, autograd.jacobian(reference_of(problem))(theta))


def test_output_jacobian_matches_autograd():
    problem, theta = make_problem([2, 5, 3, 2], "tanh", 0.1)
    X = np.random.RandomState(9).normal(size=(6, 2))
    reference = reference_residuals(
        X, np.zeros((6, 2)), np.full(6, 0.5), 0.0, problem.layer_sizes, "tanh"
    )
    J = problem.network.linearize(theta, X).jacobian().reshape(6, 2, -1)
    assert J.shape == (6, 2, theta.size)
    # The reference's rows are scaled by sqrt(w / (S K)) = sqrt(1 / 12).
    close(J.reshape(12, -1), autograd.jacobian(reference)(theta) * np.sqrt(12.0))


@pytest.mark.parametrize("case_index", [0, 4, 7, 11])
def test_wrong_jacobian_fails_the_check(case_index):
    problem, theta = make_problem(*CASES[case_index])
    J = problem.jacobian(theta)
    reference = autograd.jacobian(reference_of(problem))(theta)
    close(J, reference)
    P = J.shape[1]

    perturbed = J.copy()
    perturbed[:, 1] += 1e-6
    with pytest.raises(AssertionError):
        close(perturbed, reference)

    swapped = J.copy()
    swapped[:, [0, P - 1]] = swapped[:, [P - 1, 0]]
    with pytest.raises(AssertionError):
        close(swapped, reference)

    one_entry = J.copy()
    i, j = np.unravel_index(np.argmax(np.abs(J)), J.shape)
    one_entry[i, j] *= 1 + 1e-10
    with pytest.raises(AssertionError):
        close(one_entry, reference)

    with pytest.raises(AssertionError):
        close(J[:-1], reference)


def test_jacobian_repeatable_and_inputs_untouched():
    problem, theta = make_problem([2, 3, 4, 2], "tanh", 0.1)
    X, t = problem.X.copy(), theta.copy()
    J1 = problem.jacobian(theta)
    J2 = problem.jacobian(theta)
    np.testing.assert_array_equal(J1, J2)
    np.testing.assert_array_equal(problem.X, X)
    np.testing.assert_array_equal(theta, t)
    assert not np.shares_memory(J1, J2)


# -- gradient --------------------------------------------------------------------


def test_value_and_grad_match_autograd(case):
    problem, theta = case
    value, g = problem.value_and_grad(theta)
    objective = reference_objective(problem)
    assert value == pytest.approx(objective(theta), rel=1e-13)
    expected = autograd.grad(objective)(theta)
    close(g, expected)
    close(problem.gradient(theta), expected)
    J, r = problem.jacobian(theta), problem.residuals(theta)
    close(g, J.T @ r)


def test_gradient_matches_central_differences(case):
    problem, theta = case
    numeric = central_differences(problem.loss, theta, 1e-6)
    # Central differences carry rounding error of about 1e-16 * F / h.
    g = problem.value_and_grad(theta)[1]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


# -- minibatches -----------------------------------------------------------------

# A repeated row counts twice; with zero_rows=[3], row 3 has weight zero.
MINIBATCH = np.array([7, 2, 11, 2, 3])


def reference_minibatch_objective(problem, idx):
    """``n / len(idx)`` times the batch's share of the data term, over all of S."""
    f = REFERENCE_ACTIVATIONS.get(problem.activation, problem.activation)
    sizes, w = problem.layer_sizes, problem.sample_weight
    S, K, n = w.sum(), problem.n_outputs, problem.n_samples
    penalty = np.zeros(problem.n_params)
    penalty[weight_mask(sizes)] = problem.alpha
    X, Y, wb = problem.X[idx], problem.Y[idx], w[idx]

    def objective(theta):
        A, _ = reference_network(theta, X, sizes, f)
        data = anp.sum(wb * anp.sum((A - Y) ** 2, axis=1)) / (2 * S * K)
        return n / len(idx) * data + 0.5 * anp.sum(penalty * theta**2) / S

    return objective


@pytest.mark.parametrize("idx", [MINIBATCH, np.array([5]), np.arange(13)[::-1]])
@pytest.mark.parametrize(
    "sizes, activation, alpha",
    [
        ([1, 3, 1], "tanh", 0.0),
        ([3, 5, 4, 2], "tanh", 0.3),
        ([3, 2], "identity", 0.3),
        ([2, 3, 2], "sin", "per-weight"),
    ],
    ids=str,
)
def test_minibatch_estimate_matches_autograd(sizes, activation, alpha, idx):
    problem, theta = make_problem(sizes, activation, alpha, n_samples=13, zero_rows=[3])
    objective = reference_minibatch_objective(problem, idx)
    value, g = problem.value_and_grad(theta, idx)
    assert value == pytest.approx(objective(theta), rel=1e-13)
    close(g, autograd.grad(objective)(theta))


@pytest.mark.parametrize("case_index", [1, 3, 5, 6, 11, 13])
def test_minibatch_of_all_rows_is_full_objective(case_index):
    problem, theta = make_problem(*CASES[case_index])
    value, g = problem.value_and_grad(theta)
    # Any order of the rows.
    for idx in (
        np.arange(problem.n_samples),
        np.random.RandomState(0).permutation(problem.n_samples),
    ):
        batch_value, batch_g = problem.value_and_grad(theta, idx)
        assert batch_value == pytest.approx(value, rel=1e-13)
        close(batch_g, g)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_minibatch_estimates_average_to_full_objective(batch_size, alpha, activation):
    problem, theta = make_problem([2, 4, 2], activation, alpha, n_samples=12)
    order = np.random.RandomState(batch_size).permutation(12)
    batches = order.reshape(-1, batch_size)
    values, grads = zip(*(problem.value_and_grad(theta, idx) for idx in batches))
    value, g = problem.value_and_grad(theta)
    assert np.mean(values) == pytest.approx(value, rel=1e-12)
    close(np.mean(grads, axis=0), g, rtol=1e-11)
    # Each batch alone is not the full objective: the test can tell them apart.
    assert not np.allclose(values, value)


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_minibatch_with_zero_weights(alpha):
    problem, theta = make_problem(
        [3, 4, 2], alpha=alpha, n_samples=10, zero_rows=[0, 1, 2]
    )
    w, mask = problem.sample_weight, weight_mask([3, 4, 2])
    penalty = 0.5 * alpha / w.sum() * np.sum(theta[mask] ** 2)
    expected_grad = alpha / w.sum() * theta * mask
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, g = problem.value_and_grad(theta, np.array([0, 1, 2]))
    assert np.isfinite(value)
    assert value == pytest.approx(penalty, rel=1e-13, abs=0)
    np.testing.assert_allclose(g, expected_grad, rtol=1e-13, atol=0)


@pytest.mark.parametrize("batch_size", [50, 16])
def test_adam_on_the_kernel_matches_adam_on_autograd(lecture_data, batch_size):
    # The same adam run with the kernel's gradients and with autograd's of the
    # reference minibatch objective: the same path to rounding.
    X, y = lecture_data
    Xs, Y = (X - X.mean()) / X.std(), ((y - y.mean()) / y.std())[:, None]
    problem = LeastSquaresProblem(Xs, Y, np.ones(50), 1e-3, [1, 3, 1], "tanh")
    theta0 = pack(init_params([1, 3, 1], np.random.RandomState(0)))

    def reference_value_and_grad(theta, idx):
        idx = np.arange(50) if idx is None else idx
        return autograd.value_and_grad(reference_minibatch_objective(problem, idx))(
            theta
        )

    results = [
        fit_adam(
            vg,
            problem.loss,
            theta0,
            50,
            control=Control(max_iter=60, tol=0.0),
            adam=Adam(learning_rate=0.01),
            rng=np.random.RandomState(1),
            batch_size=batch_size,
        )
        for vg in (problem.value_and_grad, reference_value_and_grad)
    ]
    kernel, reference = results
    assert kernel.n_iter == reference.n_iter == 60
    np.testing.assert_allclose(kernel.loss_curve, reference.loss_curve, rtol=1e-10)
    np.testing.assert_allclose(kernel.theta, reference.theta, rtol=1e-9, atol=1e-12)
    assert kernel.loss_curve[-1] < 0.5 * kernel.loss_curve[0]


# -- normal equations ------------------------------------------------------------


def test_normal_equations_equal_dense_products(case):
    problem, theta = case
    nd = n_data(problem)
    J, r = problem.jacobian(theta)[:nd], problem.residuals(theta)[:nd]
    gram, gradient, data_loss = problem.normal_equations(theta)
    assert gram.shape == (theta.size, theta.size)
    close(gram, J.T @ J)
    close(gradient, J.T @ r)
    assert data_loss == pytest.approx(0.5 * r @ r, rel=1e-13)
    assert data_loss == pytest.approx(problem.data_loss(theta), rel=1e-13)
    # Tiny blocks, the last one short: the same sums.
    assert len(problem.blocks()) == 1
    problem.block_rows = 3
    blocks = problem.blocks()
    assert len(blocks) == -(-problem.n_samples // 3)
    assert np.array_equal(
        np.concatenate([np.arange(problem.n_samples)[s] for s in blocks]),
        np.arange(problem.n_samples),
    )
    small = problem.normal_equations(theta)
    close(small[0], gram)
    close(small[1], gradient)
    assert small[2] == pytest.approx(data_loss, rel=1e-12)


@pytest.mark.parametrize("sizes", [[1, 3, 1], [8, 20, 20, 1]], ids=str)
def test_default_blocks_on_many_rows_give_the_gradient(sizes):
    # Beyond a dense autograd Jacobian's reach, and over more than one block
    # for the wide network: J'r + Lambda theta must be autograd's gradient.
    problem, theta = make_problem(sizes, "tanh", 1e-3, n_samples=3000)
    if sizes[1] == 20:
        assert len(problem.blocks()) > 1
    expected = autograd.grad(problem.objective_autograd)(theta)
    gram, gradient, data_loss = problem.normal_equations(theta)
    close(gradient + problem.reg2 * theta, expected, rtol=1e-10)
    close(problem.operator(theta).gradient + problem.reg2 * theta, expected, 1e-10)
    close(problem.value_and_grad(theta)[1], expected, rtol=1e-10)
    assert data_loss == pytest.approx(problem.data_loss(theta), rel=1e-12)
    v = np.random.RandomState(0).normal(size=theta.size)
    close(gram @ v, problem.operator(theta).gram_matvec(v), rtol=1e-10)


def test_threads_get_their_own_values_and_gradients():
    # The problem caches its last output: threads evaluating different points
    # must never see each other's.
    problem, theta = make_problem([3, 5, 4, 2], n_samples=60)
    rng = np.random.RandomState(2)
    points = [theta + 0.2 * rng.normal(size=theta.size) for _ in range(16)]
    expected = [
        (
            reference_objective(problem)(t),
            autograd.grad(reference_objective(problem))(t),
        )
        for t in points
    ]

    def run(t):
        return [(problem.loss(t), problem.value_and_grad(t)[1]) for _ in range(5)]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run, points))
    finally:
        sys.setswitchinterval(interval)
    for got, (value, g) in zip(results, expected):
        for loss, grad in got:
            assert loss == pytest.approx(value, rel=1e-13)
            close(grad, g)


@pytest.mark.parametrize("block_rows", [None, 3])
@pytest.mark.parametrize("case_index", [1, 4, 12, 13])
def test_single_precision_gram_keeps_the_gradient_double(case_index, block_rows):
    problem, theta = make_problem(*CASES[case_index], n_samples=20)
    if block_rows is not None:
        problem.block_rows = block_rows
    gram, gradient, data_loss = problem.normal_equations(theta)
    gram32, gradient32, data_loss32 = problem.normal_equations(theta, np.float32)
    assert gram32.dtype == np.float64
    # Single-precision blocks, summed in double: J'J to float32 rounding ...
    scale = np.abs(gram).max()
    np.testing.assert_allclose(gram32, gram, rtol=0, atol=1e-5 * scale)
    assert not np.array_equal(gram32, gram)
    # ... while J'r and the loss are those of double precision.
    close(gradient32, gradient)
    assert data_loss32 == pytest.approx(data_loss, rel=1e-13)


def test_gauss_newton_is_jtj_of_all_rows(case):
    problem, theta = case
    J = problem.jacobian(theta)  # penalty rows included
    G = problem.gauss_newton(theta)
    close(G, J.T @ J)
    np.testing.assert_array_equal(G, G.T)
    assert np.linalg.eigvalsh(G).min() > -1e-12 * np.abs(G).max()


def test_normal_equations_are_deterministic():
    problem, theta = make_problem([2, 5, 3, 2], n_samples=40)
    problem.block_rows = 7
    first = problem.normal_equations(theta)
    again = problem.normal_equations(theta.copy())
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


# -- the matrix-free operator ----------------------------------------------------


@pytest.mark.parametrize("block_rows", [1, 3, None])
def test_operator_products_equal_dense_jacobian(case, block_rows):
    problem, theta = case
    if block_rows is not None:
        problem.block_rows = block_rows
    nd = n_data(problem)
    J, r = problem.jacobian(theta)[:nd], problem.residuals(theta)[:nd]
    op = problem.operator(theta)
    assert isinstance(op, JacobianOperator) and op.shape == J.shape
    rng = np.random.RandomState(5)
    v, u = rng.normal(size=J.shape[1]), rng.normal(size=nd)
    close(op.matvec(v), J @ v)
    close(op.rmatvec(u), J.T @ u)
    close(op.gram_matvec(v), J.T @ (J @ v))
    close(op.diagonal, np.diag(J.T @ J))
    close(op.residuals, r, rtol=1e-14)
    close(op.gradient, J.T @ r)
    assert op.data_loss == pytest.approx(0.5 * r @ r, rel=1e-13)
    # Products do not change the operator: asked again, the same bits.
    np.testing.assert_array_equal(op.matvec(v), op.matvec(v.copy()))


def test_operator_does_not_follow_later_evaluations():
    problem, theta = make_problem([3, 4, 2], n_samples=20)
    problem.block_rows = 6
    nd = n_data(problem)
    J = problem.jacobian(theta)[:nd]
    op = problem.operator(theta)
    v = np.random.RandomState(0).normal(size=theta.size)
    # The solver tries other points and linearises at another one.
    problem.operator(theta + 0.1)
    problem.loss(theta + 0.2)
    problem.normal_equations(theta - 0.1)
    close(op.matvec(v), J @ v)
    close(op.rmatvec(J @ v), J.T @ (J @ v))
    close(op.gram_matvec(v), J.T @ (J @ v))


def test_operator_does_not_follow_the_callers_theta():
    problem, theta = make_problem([3, 4, 2], n_samples=20)
    theta = theta.copy()
    nd = n_data(problem)
    J = problem.jacobian(theta)[:nd]
    op = problem.operator(theta)
    v = np.random.RandomState(0).normal(size=theta.size)
    theta += 1.0  # the caller changing its theta afterwards
    close(op.matvec(v), J @ v)
    close(op.rmatvec(J @ v), J.T @ (J @ v))


@pytest.mark.parametrize("case_index", [1, 2, 12, 13])
def test_jacobian_operator_for_scipy_includes_penalty_rows(case_index):
    problem, theta = make_problem(*CASES[case_index])
    problem.block_rows = 4
    J = problem.jacobian(theta)
    op = jacobian_operator(problem, theta)
    assert isinstance(op, LinearOperator) and op.shape == J.shape
    rng = np.random.RandomState(6)
    v, u = rng.normal(size=J.shape[1]), rng.normal(size=J.shape[0])
    close(op @ v, J @ v)
    close(op.T @ u, J.T @ u)
    close(op @ np.eye(J.shape[1]), J)


def test_least_squares_with_lsmr_on_the_operator_converges():
    rng = np.random.RandomState(3)
    X = np.linspace(-1.0, 1.0, 60)[:, None]
    Y = np.sin(2.5 * X) + 0.01 * rng.normal(size=X.shape)
    sizes = [1, 5, 1]
    problem = LeastSquaresProblem(X, Y, np.ones(60), 1e-4, sizes, "tanh")
    problem.block_rows = 16
    theta0 = pack(init_params(sizes, rng))
    res = least_squares(
        problem.residuals,
        theta0,
        jac=lambda t: jacobian_operator(problem, t),
        tr_solver="lsmr",
        max_nfev=300,
    )
    dense = least_squares(
        problem.residuals, theta0, jac=problem.jacobian, tr_solver="exact", max_nfev=300
    )
    # Mean squared error well below the target's variance (about 0.4), and
    # within a factor of the dense solve's.
    assert 2 * res.cost < 1e-3
    assert res.cost < 5 * dense.cost + 1e-6


# -- second order ----------------------------------------------------------------


def test_hessian_symmetric_and_matches_differences(case):
    problem, theta = case
    H = problem.hessian(theta)
    P = theta.size
    assert H.shape == (P, P)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-13 * np.abs(H).max())
    close(H, autograd.hessian(reference_objective(problem))(theta), rtol=1e-10)
    numeric = central_differences(lambda t: problem.value_and_grad(t)[1], theta, 1e-5)
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-8)


def test_hvp_equals_hessian_product(case):
    from autograd.differential_operators import hessian_tensor_product

    problem, theta = case
    rng = np.random.RandomState(5)
    H = problem.hessian(theta)
    hvp = hessian_tensor_product(problem.objective_autograd)
    for _ in range(2):
        v = rng.normal(size=theta.size)
        np.testing.assert_allclose(hvp(theta, v), H @ v, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("alpha", [0.0, 0.1, "per-weight"])
def test_gauss_newton_is_exact_hessian_for_linear_model(alpha):
    problem, theta = make_problem([3, 2], alpha=alpha)
    close(problem.gauss_newton(theta), problem.hessian(theta))


@pytest.mark.parametrize("layer_sizes", [[3, 4, 2], [2, 5, 3, 1]], ids=str)
def test_gauss_newton_is_exact_hessian_at_zero_residual(layer_sizes):
    # With alpha = 0 and targets the network's own output, the second-order term
    # sum_i r_i * hess(r_i) vanishes; it does not elsewhere.
    problem, theta = make_problem(layer_sizes, alpha=0.0)
    Y = problem.network.output(theta, problem.X)
    exact = LeastSquaresProblem(problem.X, Y, problem.sample_weight, 0.0, layer_sizes)
    assert exact.loss(theta) < 1e-28
    np.testing.assert_allclose(
        exact.gauss_newton(theta), exact.hessian(theta), rtol=1e-10, atol=1e-13
    )
    assert not np.allclose(problem.gauss_newton(theta), problem.hessian(theta))


# More inputs than hidden units in the last two: the first layer's blocks are
# then assembled the other way round (_network._weighted_input_grams).
ONE_HIDDEN_LAYER = [c for c in CASES if len(c[0]) == 3] + [
    ([3, 4, 2], "relu", 0.1),
    ([5, 2, 1], "tanh", 0.1),
    ([4, 2, 3], "logistic", "per-weight"),
]


@pytest.mark.parametrize("params", ONE_HIDDEN_LAYER, ids=map(case_id, ONE_HIDDEN_LAYER))
def test_residual_curvature_completes_gauss_newton_to_the_exact_hessian(params):
    problem, theta = make_problem(*params)
    newton = problem.add_penalty(
        problem.normal_equations(theta)[0] + problem.residual_curvature(theta)
    )
    reference = autograd.hessian(reference_objective(problem))(theta)
    # Each entry is a sum over at most 16 rows of products of O(1) factors:
    # rounding of some 16 eps relative to the largest entry, the floor below.
    scale = np.abs(reference).max()
    np.testing.assert_allclose(newton, reference, rtol=1e-12, atol=1e-13 * scale)
    # The term is what Gauss-Newton leaves out: not zero on these residuals.
    assert np.abs(problem.residual_curvature(theta)).max() > 1e-3 * scale


def test_residual_curvature_summed_over_row_blocks_equals_one_block():
    problem, theta = make_problem([3, 5, 2], n_samples=40)
    whole = problem.residual_curvature(theta)
    # Blocks of 2 rows: 20 partial sums added, each with rounding of a few eps
    # relative to the largest entry.
    problem.block_rows = 2
    blocked = problem.residual_curvature(theta)
    scale = np.abs(whole).max()
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=40 * EPS * scale)


def test_residual_curvature_of_a_deeper_network_is_refused():
    problem, theta = make_problem([2, 5, 3, 1])
    with pytest.raises(ValueError, match="one hidden layer, got layer sizes"):
        problem.residual_curvature(theta)


def test_trial_loss_equals_loss_and_its_forward_pass_is_reused_exactly(case):
    problem, theta = case
    trial = theta + 0.01
    assert problem.trial_loss(trial) == problem.loss(trial)
    kept = problem.normal_equations(trial)  # reuses the trial's forward pass
    fresh = problem.normal_equations(trial.copy())  # another array: recomputes
    for a, b in zip(kept, fresh):
        np.testing.assert_array_equal(a, b)
    # A changed array of the same identity is never mistaken for the kept one.
    problem.trial_loss(trial)
    other = trial + 0.5
    np.testing.assert_array_equal(
        problem.normal_equations(other)[0], problem.normal_equations(other.copy())[0]
    )


def test_per_layer_alpha_equals_its_per_weight_expansion():
    sizes = [3, 4, 2, 1]
    problem, theta = make_problem(sizes, "tanh", 0.0)
    layer = np.array([0.5, 2.0, 7.0])
    by_weight = layer[weight_groups(sizes)]
    problem.set_alpha(layer)
    per_layer = (problem.reg2.copy(), problem.loss(theta))
    problem.set_alpha(by_weight)
    np.testing.assert_array_equal(per_layer[0], problem.reg2)
    assert per_layer[1] == problem.loss(theta)
    assert problem.reg2[~weight_mask(sizes)].max() == 0.0
