"""The fused hidden-layer primitive and the residual Jacobian built on it.

``hidden_activations`` carries hand-written derivatives; every test here holds
them against autograd's own derivatives of the same computation traced
primitive by primitive, or against complex-step differences.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.differential_operators import make_jvp
from autograd.test_util import check_grads
from numpy.testing import assert_allclose
from scipy.optimize._numdiff import approx_derivative

from sklearn_tanhnet._derivatives import (
    LeastSquaresProblem,
    _hidden_deltas,
    _hidden_deltas_numpy,
    hidden_activations,
    hidden_blocks,
    zero_offsets,
)
from sklearn_tanhnet._network import init_params, pack, tanh, unpack

# Narrow (Fortran-order branch) and wide layers, one to three hidden layers.
NETWORKS = [[1, 3, 1], [2, 1], [3, 5, 2], [2, 3, 4, 2], [8, 6, 7, 1], [2, 2, 3, 2, 3]]
ACTIVATIONS = ["tanh", "identity"]


def make_case(sizes, activation="tanh", n=9, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    theta = pack(init_params(sizes, rng)) + 0.3 * rng.normal(
        size=sum((m + 1) * h for m, h in zip(sizes[:-1], sizes[1:]))
    )
    D = 0.5 * rng.normal(size=n * sum(sizes[1:-1]))
    return X, theta, D, rng


def generic(D, theta, X, sizes, activation):
    """The same function traced by autograd operation by operation."""
    act = tanh if activation == "tanh" else (lambda z: z)
    n, out, A, start = X.shape[0], [], X, 0
    for (W, b), h in zip(unpack(theta, sizes)[:-1], sizes[1:-1]):
        Z = anp.dot(A, W) + b
        if D is not None:
            Z = Z + anp.reshape(D[start : start + n * h], (n, h))
        A = act(Z)
        out.append(anp.ravel(A))
        start += n * h
    return anp.concatenate(out)


hidden_nets = pytest.mark.parametrize(
    "sizes", [s for s in NETWORKS if len(s) > 2], ids=str
)
activations = pytest.mark.parametrize("activation", ACTIVATIONS)


@hidden_nets
@activations
def test_value_matches_generic(sizes, activation):
    X, theta, D, _ = make_case(sizes, activation)
    for offsets in (D, None, zero_offsets(X.shape[0], sizes)):
        expected = generic(offsets, theta, X, sizes, activation)
        got = hidden_activations(offsets, theta, X, sizes, activation)
        assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_blocks_are_contiguous_views():
    sizes = [2, 3, 4, 2]
    X, theta, D, _ = make_case(sizes)
    A = hidden_activations(D, theta, X, sizes, "tanh")
    blocks = hidden_blocks(A, sizes)
    assert [B.shape for B in blocks] == [(9, 3), (9, 4)]
    assert all(B.flags.c_contiguous and np.shares_memory(B, A) for B in blocks)


def test_zero_offsets_take_no_memory_and_nonzero_broadcast_is_added():
    sizes = [2, 3, 4, 2]
    X, theta, _, _ = make_case(sizes)
    Z = zero_offsets(X.shape[0], sizes)
    assert Z.shape == (9 * 7,) and Z.strides == (0,) and not Z.any()
    # A broadcast of a non-zero value is an offset like any other.
    ones = np.broadcast_to(1.0, Z.shape)
    assert_allclose(
        hidden_activations(ones, theta, X, sizes, "tanh"),
        generic(np.ones(Z.shape), theta, X, sizes, "tanh"),
        rtol=1e-14,
    )


@hidden_nets
@activations
@pytest.mark.parametrize("argnum", [0, 1], ids=["D", "theta"])
def test_reverse_mode_matches_autograd(sizes, activation, argnum):
    X, theta, D, rng = make_case(sizes, activation)
    args = (D, theta, X, sizes, activation)
    G = rng.normal(size=D.size)
    vjp, ans = autograd.make_vjp(hidden_activations, argnum)(*args)
    vjp_ref, ans_ref = autograd.make_vjp(generic, argnum)(*args)
    assert_allclose(ans, ans_ref, rtol=1e-14, atol=1e-15)
    assert_allclose(vjp(G), vjp_ref(G), rtol=1e-12, atol=1e-13)


@hidden_nets
@activations
@pytest.mark.parametrize("argnum", [0, 1], ids=["D", "theta"])
def test_forward_mode_matches_autograd(sizes, activation, argnum):
    X, theta, D, rng = make_case(sizes, activation)
    args = (D, theta, X, sizes, activation)
    v = rng.normal(size=args[argnum].size)
    _, got = make_jvp(hidden_activations, argnum)(*args)(v)
    _, expected = make_jvp(generic, argnum)(*args)(v)
    assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("sizes", [[1, 3, 1], [2, 3, 4, 2]], ids=str)
@activations
def test_check_grads_second_order(sizes, activation):
    # The derivatives are written in autograd.numpy: they differentiate again.
    X, theta, D, _ = make_case(sizes, activation, n=4)

    def f(D, theta):
        return hidden_activations(D, theta, X, sizes, activation)

    check_grads(lambda D: f(D, theta), modes=["fwd", "rev"], order=2)(D)
    check_grads(lambda t: f(D, t), modes=["fwd", "rev"], order=2)(theta)


@hidden_nets
@activations
def test_numpy_backprop_equals_autograd_numpy_backprop(sizes, activation):
    X, theta, D, rng = make_case(sizes, activation)
    ans = hidden_activations(D, theta, X, sizes, activation)
    G = rng.normal(size=ans.size)
    expected = np.concatenate(
        [d.ravel() for d in _hidden_deltas(G, ans, theta, sizes, activation)]
    )
    got = _hidden_deltas_numpy(G, ans, theta, sizes, activation)
    assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_hessian_through_the_primitive():
    sizes = [2, 3, 4, 2]
    X, theta, D, _ = make_case(sizes, n=5)

    def loss(f):
        return lambda t: anp.sum(f(D, t, X, sizes, "tanh") ** 2)

    assert_allclose(
        autograd.hessian(loss(hidden_activations))(theta),
        autograd.hessian(loss(generic))(theta),
        rtol=1e-10,
        atol=1e-12,
    )


# -- the residual Jacobian ---------------------------------------------------


def make_problem(sizes, activation, alpha, n=11, seed=1, zero_rows=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    Y = rng.normal(size=(n, sizes[-1]))
    w = rng.uniform(0.2, 2.0, n)
    if zero_rows:
        w[[1, 4]] = 0.0
    problem = LeastSquaresProblem(X, Y, w, alpha, sizes, activation)
    theta = pack(init_params(sizes, rng)) + 0.3 * rng.normal(size=problem.n_params)
    return problem, theta


@pytest.mark.parametrize("sizes", NETWORKS, ids=str)
@activations
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_jacobian_matches_autograd_jacobian_and_complex_step(sizes, activation, alpha):
    problem, theta = make_problem(sizes, activation, alpha)
    assert problem._fused == activation
    J = problem.jacobian(theta)
    resid = problem.residual_function()
    assert_allclose(J, autograd.jacobian(resid)(theta), rtol=0, atol=1e-13)
    reference = approx_derivative(resid, theta, method="cs")
    assert_allclose(J, reference, rtol=1e-10, atol=1e-12 * np.abs(reference).max())


def test_jacobian_per_weight_penalty_and_zero_weight_rows():
    sizes = [2, 3, 4, 2]
    n_weights = 2 * 3 + 3 * 4 + 4 * 2
    alpha = np.linspace(0.0, 0.5, n_weights)  # one weight unpenalised
    problem, theta = make_problem(sizes, "tanh", alpha, zero_rows=True)
    J = problem.jacobian(theta)
    K = problem.n_outputs
    np.testing.assert_array_equal(J[K : 2 * K], 0.0)
    assert_allclose(
        J, autograd.jacobian(problem.residual_function())(theta), rtol=0, atol=1e-13
    )


@pytest.mark.parametrize("sizes", [[1, 3, 1], [8, 20, 20, 1]], ids=str)
def test_jacobian_large_n_matches_fused_gradient(sizes):
    # Beyond autograd.jacobian's reach: J' r must be the gradient, which the
    # fused objective computes independently.
    problem, theta = make_problem(sizes, "tanh", 1e-3, n=3000)
    J, r = problem.jacobian(theta), problem.residuals(theta)
    g = autograd.grad(problem.objective_autograd)(theta)
    assert_allclose(J.T @ r, g, rtol=1e-10, atol=1e-14)


def test_jacobian_repeatable_and_inputs_untouched():
    problem, theta = make_problem([2, 3, 4, 2], "tanh", 0.1)
    X, t = problem.X.copy(), theta.copy()
    J1 = problem.jacobian(theta)
    J2 = problem.jacobian(theta)
    np.testing.assert_array_equal(J1, J2)
    np.testing.assert_array_equal(problem.X, X)
    np.testing.assert_array_equal(theta, t)
    assert not np.shares_memory(J1, J2)
