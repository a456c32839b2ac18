"""The matrix-free residual Jacobian (``sklearn_tanhnet._matrix_free``)."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.test_util import check_grads
from numpy.testing import assert_allclose
from scipy.optimize import least_squares
from scipy.sparse.linalg import LinearOperator

from sklearn_tanhnet._derivatives import LeastSquaresProblem
from sklearn_tanhnet._matrix_free import (
    Linearization,
    MatrixFreeResiduals,
    dense_jacobian_bytes,
    jacobian_operator,
    matrix_free_bytes,
    residual_block,
)
from sklearn_tanhnet._network import forward, init_params, pack, unpack

# (layer_sizes, activation, alpha): fused and generic activations, several
# outputs, no hidden layer, a per-weight penalty.
CASES = [
    ([3, 4, 2], "tanh", 0.1),
    ([2, 5, 3, 1], "tanh", 0.0),
    ([2, 5, 3, 1], "identity", 0.1),
    ([3, 2], "tanh", 0.1),
    ([2, 3, 2], "logistic", 0.1),
    ([1, 3, 1], "sin", 0.0),
    ([2, 3, 2], "tanh", np.linspace(0.0, 1.0, 2 * 3 + 3 * 2)),
]


def case_id(case):
    sizes, activation, alpha = case
    return f"{'-'.join(map(str, sizes))}-{activation}-alpha{np.max(alpha):g}"


def make_problem(sizes, activation="tanh", alpha=0.1, n=23, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    Y = rng.normal(size=(n, sizes[-1]))
    w = rng.uniform(0.2, 2.0, n)
    w[2] = 0.0
    problem = LeastSquaresProblem(X, Y, w, alpha, sizes, activation)
    theta = pack(init_params(sizes, rng)) + 0.3 * rng.normal(size=problem.n_params)
    return problem, theta, rng


cases = pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])


@cases
@pytest.mark.parametrize("block_rows", [1, 5, None])
def test_operator_products_equal_dense_jacobian(case, block_rows):
    problem, theta, rng = make_problem(*case)
    J = problem.jacobian(theta)
    op = jacobian_operator(problem, theta, block_rows=block_rows)
    assert isinstance(op, LinearOperator) and op.shape == J.shape
    v = rng.normal(size=J.shape[1])
    u = rng.normal(size=J.shape[0])
    V = rng.normal(size=(J.shape[1], 3))
    assert_allclose(op @ v, J @ v, rtol=1e-12, atol=1e-14)
    assert_allclose(op.T @ u, J.T @ u, rtol=1e-12, atol=1e-14)
    assert_allclose(op @ V, J @ V, rtol=1e-12, atol=1e-14)
    assert_allclose(op.T @ np.eye(J.shape[0]), J.T, rtol=1e-12, atol=1e-14)


@cases
def test_residuals_equal_problem_residuals(case):
    problem, theta, _ = make_problem(*case)
    mf = MatrixFreeResiduals(problem, block_rows=4)
    r = mf.residuals(theta)
    assert_allclose(r, problem.residuals(theta), rtol=1e-14, atol=1e-16)
    r[:] = 0.0  # the caller's copy: the remembered residuals are untouched
    assert_allclose(mf.residuals(theta), problem.residuals(theta), rtol=1e-14)


def test_operator_does_not_follow_later_evaluations():
    problem, theta, rng = make_problem([3, 4, 2])
    mf = MatrixFreeResiduals(problem, block_rows=7)
    op = mf.jacobian(theta)
    J = problem.jacobian(theta)
    v = rng.normal(size=theta.size)
    other = theta + 0.1
    mf.residuals(other)  # the solver tries another point
    assert_allclose(op @ v, J @ v, rtol=1e-12, atol=1e-14)
    mf.jacobian(other)  # and moves there: the old operator drops its slopes
    assert_allclose(op @ v, J @ v, rtol=1e-12, atol=1e-14)
    assert_allclose(op.T @ (J @ v), J.T @ (J @ v), rtol=1e-12, atol=1e-14)
    # The caller changing its theta afterwards does not move the operator.
    theta += 1.0
    assert_allclose(op @ v, J @ v, rtol=1e-12, atol=1e-14)


# -- the fused block primitive against autograd's trace -----------------------


def generic_block(theta, X, Y, c, sizes, activation):
    pred = forward(unpack(theta, sizes), X, _ACT[activation])
    return anp.ravel((pred - Y) * c[:, None])


_ACT = {"tanh": anp.tanh, "identity": lambda z: z}


@pytest.mark.parametrize("sizes", [[3, 4, 2], [2, 5, 3, 1], [3, 2]], ids=str)
@pytest.mark.parametrize("activation", ["tanh", "identity"])
@pytest.mark.parametrize("with_memo", [False, True])
def test_block_derivatives_match_autograd(sizes, activation, with_memo):
    problem, theta, rng = make_problem(sizes, activation)
    X, Y, c = problem.X, problem.Y, problem.row_scale
    memo = Linearization() if with_memo else None

    def fused(t):
        return residual_block(t, X, Y, c, sizes, activation, memo)

    def reference(t):
        return generic_block(t, X, Y, c, sizes, activation)

    u = rng.normal(size=Y.size)
    v = rng.normal(size=theta.size)
    vjp, r = autograd.make_vjp(fused)(theta)
    vjp_ref, r_ref = autograd.make_vjp(reference)(theta)
    assert_allclose(r, r_ref, rtol=1e-14, atol=1e-16)
    assert_allclose(vjp(u), vjp_ref(u), rtol=1e-12, atol=1e-14)
    _, jv = autograd.make_jvp(fused)(theta)(v)
    _, jv_ref = autograd.make_jvp(reference)(theta)(v)
    assert_allclose(jv, jv_ref, rtol=1e-12, atol=1e-14)
    if with_memo:
        assert fused(theta) is r  # remembered: the same array, not recomputed


@pytest.mark.parametrize("activation", ["tanh", "identity"])
@pytest.mark.parametrize("with_memo", [False, True])
def test_block_second_derivatives(activation, with_memo):
    # The derivatives are autograd.numpy: they differentiate again.
    problem, theta, _ = make_problem([2, 3, 2, 2], activation, n=5)
    X, Y, c = problem.X, problem.Y, problem.row_scale
    memo = Linearization() if with_memo else None

    def f(t):
        return residual_block(t, X, Y, c, [2, 3, 2, 2], activation, memo)

    check_grads(f, modes=["fwd", "rev"], order=2)(theta)

    def loss(fun):
        return lambda t: 0.5 * anp.sum(fun(t) ** 2)

    assert_allclose(
        autograd.hessian(loss(f))(theta),
        autograd.hessian(
            loss(lambda t: generic_block(t, X, Y, c, [2, 3, 2, 2], activation))
        )(theta),
        rtol=1e-10,
        atol=1e-12,
    )


# -- in a solver -----------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
def test_least_squares_with_lsmr_converges(activation):
    rng = np.random.default_rng(3)
    X = np.linspace(-1.0, 1.0, 60)[:, None]
    Y = np.sin(2.5 * X) + 0.01 * rng.normal(size=X.shape)
    sizes = [1, 5, 1]
    problem = LeastSquaresProblem(X, Y, np.ones(60), 1e-4, sizes, activation)
    theta0 = pack(init_params(sizes, rng, activation))
    mf = MatrixFreeResiduals(problem, block_rows=16)
    res = least_squares(
        mf.residuals, theta0, jac=mf.jacobian, tr_solver="lsmr", max_nfev=300
    )
    dense = least_squares(
        problem.residuals, theta0, jac=problem.jacobian, tr_solver="exact", max_nfev=300
    )
    # Mean squared error well below the target's variance (about 0.4), and
    # within a factor of the dense solve's.
    assert 2 * res.cost < 1e-3
    assert res.cost < 5 * dense.cost + 1e-6


def test_memory_estimates():
    # The 1e6 x 10 data with two hidden layers of 20: 661 parameters.
    sizes = [10, 20, 20, 1]
    n_rows = 10**6 + 10 * 20 + 20 * 20 + 20
    assert dense_jacobian_bytes(n_rows, 661) == 8 * n_rows * 661
    assert dense_jacobian_bytes(n_rows, 661) > 5e9
    assert matrix_free_bytes(10**6, sizes) == 8 * 10**6 * (3 * 40 + 12)
    assert matrix_free_bytes(10**6, sizes) < 1.5 * 2**30


def test_memo_moves_to_a_new_theta():
    # A memo that has served derivatives at one theta must not lend its
    # activations or slopes to another.
    problem, theta, rng = make_problem([2, 5, 3, 1])
    X, Y, c, sizes = problem.X, problem.Y, problem.row_scale, problem.layer_sizes
    memo = Linearization()

    def fused(t):
        return residual_block(t, X, Y, c, sizes, "tanh", memo)

    u, v = rng.normal(size=Y.size), rng.normal(size=theta.size)
    J = problem.jacobian(theta)[: Y.size]
    for point in (theta + 0.2, theta):
        vjp, _ = autograd.make_vjp(fused)(point)
        vjp(u)
    assert_allclose(vjp(u), J.T @ u, rtol=1e-12, atol=1e-14)
    assert_allclose(autograd.make_jvp(fused)(theta)(v)[1], J @ v, rtol=1e-12)


def test_combinations_of_earlier_products_are_answered_exactly():
    problem, theta, rng = make_problem([3, 4, 2], n=40)
    J = problem.jacobian(theta)
    op = MatrixFreeResiduals(problem, block_rows=9).jacobian(theta)
    v1, v2 = rng.normal(size=(2, J.shape[1]))
    op @ v1, op @ v2
    for v in (2 * v1 - 3 * v2, -v1, 0 * v1, rng.normal(size=J.shape[1])):
        assert_allclose(op @ v, J @ v, rtol=1e-12, atol=1e-13)
    u = rng.normal(size=J.shape[0])
    assert_allclose(op.T @ u, J.T @ u, rtol=1e-12, atol=1e-14)
    assert_allclose(op.T @ (u / 7.0), J.T @ u / 7.0, rtol=1e-12, atol=1e-14)


def test_products_cache_refuses_what_it_cannot_answer_well():
    from sklearn_tanhnet._matrix_free import _Products

    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 5))
    cache = _Products(capacity=2)
    v1, v2, w = rng.normal(size=(3, 5))
    for v in (v1, v2):
        cache.add(v, A @ v)
    assert_allclose(cache.lookup(0.5 * v1 + v2), A @ (0.5 * v1 + v2), rtol=1e-12)
    assert cache.lookup(w) is None  # outside the span
    # w = (near - v1) / 1e-9 is in the span of v1 and near, but only by a
    # cancellation that would lose 9 digits: computed, not looked up.
    near = v1 + 1e-9 * w
    cache = _Products(capacity=2)
    for v in (v1, near):
        cache.add(v, A @ v)
    assert cache.lookup(w) is None
    assert_allclose(cache.lookup(near), A @ near, rtol=1e-14)
