"""The fused objective primitive against autograd's trace of the generic objective."""

import sys
from concurrent.futures import ThreadPoolExecutor

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.differential_operators import hessian_tensor_product
from autograd.test_util import check_grads
from numpy.testing import assert_allclose

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._derivatives import (
    LeastSquaresProblem,
    fused_objective,
    objective_grad,
)
from sklearn_tanhnet._network import init_params, pack

NETWORKS = [[1, 3, 1], [3, 5, 4, 2], [3, 2]]
# A repeated row counts twice; row 3 has weight zero.
MINIBATCH = np.array([7, 2, 11, 2, 3])


def make_problem(sizes, alpha, activation="tanh", n_samples=13, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, sizes[0]))
    Y = rng.normal(size=(n_samples, sizes[-1]))
    w = rng.uniform(0.2, 2.0, n_samples)
    w[3] = 0.0
    problem = LeastSquaresProblem(X, Y, w, alpha, sizes, activation)
    theta = pack(init_params(sizes, rng))
    return problem, theta + 0.3 * rng.normal(size=theta.size)


def close(actual, desired, rtol):
    # Entries that cancel to nearly zero get an absolute floor at rounding level.
    scale = np.max(np.abs(desired))
    assert_allclose(actual, desired, rtol=rtol, atol=1e-14 * scale)


cases = pytest.mark.parametrize(
    "sizes, alpha, activation, idx",
    [
        (sizes, alpha, activation, idx)
        for sizes in NETWORKS
        for alpha in (0.0, 0.3)
        for activation in ("tanh", "identity")
        for idx in (None, MINIBATCH)
    ],
)


@cases
def test_value_matches_generic(sizes, alpha, activation, idx):
    problem, theta = make_problem(sizes, alpha, activation)
    assert problem.objective(theta, idx) == pytest.approx(
        problem.objective_autograd(theta, idx), rel=1e-14
    )


@cases
def test_gradient_matches_autograd(sizes, alpha, activation, idx):
    problem, theta = make_problem(sizes, alpha, activation)
    expected = autograd.grad(problem.objective_autograd)(theta, idx)
    close(autograd.grad(problem.objective)(theta, idx), expected, 1e-12)
    close(problem.gradient(theta, idx), expected, 1e-12)
    value, g = problem.value_and_grad(theta, idx)
    assert value == pytest.approx(problem.objective_autograd(theta, idx), rel=1e-14)
    close(g, expected, 1e-12)


@cases
def test_hessian_matches_autograd(sizes, alpha, activation, idx):
    problem, theta = make_problem(sizes, alpha, activation)
    H = autograd.hessian(problem.objective)(theta, idx)
    close(H, autograd.hessian(problem.objective_autograd)(theta, idx), 1e-9)
    close(H, H.T, 1e-12)


@pytest.mark.parametrize("sizes", NETWORKS)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_hvp_matches_hessian(sizes, alpha):
    problem, theta = make_problem(sizes, alpha)
    v = np.random.default_rng(1).normal(size=theta.size)
    H = problem.hessian(theta)
    close(problem.hvp(theta, v), H @ v, 1e-9)
    expected = hessian_tensor_product(problem.objective_autograd)(theta, v)
    close(problem.hvp(theta, v), expected, 1e-9)


@pytest.mark.parametrize("sizes", NETWORKS)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("activation", ["tanh", "identity"])
def test_check_grads_forward_and_reverse(sizes, alpha, activation):
    problem, theta = make_problem(sizes, alpha, activation)
    np.random.seed(0)  # check_grads draws its directions from the global state
    check_grads(problem.objective, modes=["fwd", "rev"], order=2)(theta)
    check_grads(lambda t: problem.objective(t, MINIBATCH), modes=["fwd"], order=2)(
        theta
    )


@pytest.mark.parametrize("sizes", NETWORKS)
def test_forward_mode_gradient(sizes):
    problem, theta = make_problem(sizes, 0.3)
    expected = autograd.grad(problem.objective_autograd)(theta)
    for k in (0, theta.size // 2, theta.size - 1):
        e = np.zeros(theta.size)
        e[k] = 1.0
        _, tangent = autograd.make_jvp(problem.objective)(theta)(e)
        assert tangent == pytest.approx(expected[k], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("sizes", NETWORKS)
@pytest.mark.parametrize("idx", [None, MINIBATCH])
def test_gradient_central_differences(sizes, idx):
    problem, theta = make_problem(sizes, 0.3)
    eps = 1e-6
    numeric = np.array(
        [
            (
                problem.objective(theta + eps * e, idx)
                - problem.objective(theta - eps * e, idx)
            )
            / (2 * eps)
            for e in np.eye(theta.size)
        ]
    )
    # Central differences carry rounding error of about 1e-16 * J / eps.
    assert_allclose(problem.gradient(theta, idx), numeric, rtol=1e-6, atol=1e-9)


def test_objective_grad_is_the_gradient():
    problem, theta = make_problem([3, 5, 4, 2], 0.3)
    args = (problem.X, problem.Y, problem.row_scale, problem._reg2, problem.mask)
    g = objective_grad(theta, *args, problem.layer_sizes, 1.0, "tanh")
    close(g, autograd.grad(problem.objective_autograd)(theta), 1e-12)
    value = fused_objective(theta, *args, problem.layer_sizes, 1.0, "tanh")
    assert value == pytest.approx(problem.objective_autograd(theta), rel=1e-14)


def test_fused_inside_larger_expression():
    # The primitive's value feeds further operations, and is called twice in
    # one trace at different points: each call must get its own gradient.
    problem, theta = make_problem([3, 5, 4, 2], 0.3)
    shift = np.linspace(-0.1, 0.1, theta.size)

    def f(objective):
        return lambda t: objective(t) ** 2 + 3.0 * objective(t + shift, MINIBATCH)

    close(
        autograd.grad(f(problem.objective))(theta),
        autograd.grad(f(problem.objective_autograd))(theta),
        1e-12,
    )
    close(
        autograd.hessian(f(problem.objective))(theta),
        autograd.hessian(f(problem.objective_autograd))(theta),
        1e-9,
    )


def test_untraced_call_does_not_leak_into_later_gradient():
    # A plain call evaluates the primitive without a VJP; the gradient taken
    # next, at another point, must not reuse that call's forward pass.
    problem, theta = make_problem([1, 3, 1], 0.0)
    other = theta + 0.5
    problem.objective(theta)
    expected = autograd.grad(problem.objective_autograd)(other)
    close(autograd.grad(problem.objective)(other), expected, 1e-12)


def test_threads_get_their_own_gradients():
    problem, theta = make_problem([3, 5, 4, 2], 0.3, n_samples=200)
    rng = np.random.default_rng(2)
    points = [theta + 0.2 * rng.normal(size=theta.size) for _ in range(40)]
    expected = [autograd.grad(problem.objective_autograd)(t) for t in points]
    vg = autograd.value_and_grad(problem.objective)

    def run(t):
        return [vg(t, None)[1] for _ in range(5)]

    # Switching threads as often as possible interleaves the forward passes
    # and VJPs of different threads.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run, points))
    finally:
        sys.setswitchinterval(interval)
    for got, want in zip(results, expected):
        for g in got:
            close(g, want, 1e-12)


@pytest.mark.parametrize(
    "activation", ["relu", "logistic", "sin", lambda x: anp.tanh(x) + 0.1 * x]
)
def test_other_activations_use_the_generic_path(activation):
    problem, theta = make_problem([3, 5, 2], 0.3, activation)
    assert problem.objective(theta) == problem.objective_autograd(theta)
    expected = autograd.grad(problem.objective_autograd)(theta, MINIBATCH)
    assert_allclose(autograd.grad(problem.objective)(theta, MINIBATCH), expected)
    value, g = problem.value_and_grad(theta, MINIBATCH)
    assert value == problem.objective_autograd(theta, MINIBATCH)
    assert_allclose(g, expected)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("batch_size", [50, 16])
def test_adam_fit_matches_generic_objective(lecture_data, monkeypatch, batch_size):
    X, y = lecture_data
    params = dict(
        solver="adam",
        learning_rate=0.01,
        max_iter=300,
        batch_size=batch_size,
        alpha=1e-3,
        random_state=0,
    )
    fused = TanhNetRegressor((3,), **params).fit(X, y)
    monkeypatch.setattr(
        LeastSquaresProblem, "objective", LeastSquaresProblem.objective_autograd
    )
    generic = TanhNetRegressor((3,), **params).fit(X, y)
    assert fused.n_iter_ == generic.n_iter_
    assert_allclose(fused.loss_curve_, generic.loss_curve_, rtol=1e-9)
    for a, b in zip(fused.coefs_, generic.coefs_):
        assert_allclose(a, b, rtol=1e-8, atol=1e-12)
