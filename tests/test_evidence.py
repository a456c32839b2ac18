"""Tests for MacKay's evidence update in ``sklearn_tanhnet._evidence``.

For a linear model the evidence framework is Bayesian linear regression,
whose quantities have closed forms in the eigenvalues of the centred,
weighted scatter matrix of the inputs; those are the oracle here.

Units (see ``_derivatives`` and ``_evidence``): the objective is ``F = 1 / (2
S) (sum_i w_i ||f(x_i) - y_i||^2 / K + alpha ||W||^2)``, so with noise
precision ``beta`` per unit-weight observation and prior precision ``a`` on
the weights, ``E_D = 0.5 sum_i w_i ||f(x_i) - y_i||^2``, ``E_W = 0.5 ||W||^2``
and ``alpha = a / (K beta)``. The posterior Hessian of ``beta E_D + a E_W``
is ``beta H + a I_W`` with ``H`` block diagonal over the ``K`` outputs, one
block ``[X 1]' diag(w) [X 1]`` each; the bias is not penalised, so on the
weights the inverse is the Schur complement ``(beta Xc' diag(w) Xc + a
I)^-1``, ``Xc`` the inputs less their weighted mean. With ``lambda_i`` the
eigenvalues of ``Xc' diag(w) Xc`` (each counted once per output)::

    gamma_W = sum_i lambda_i / (lambda_i + K alpha),   gamma = K + gamma_W,
    beta_new = (S K - gamma) / (2 E_D),
    alpha_new = gamma_W / (2 E_W) / (K beta_new),

and ``log det(beta H + a I_W) = K log(beta S) + sum_i log(beta lambda_i + a)``.
"""

import numpy as np
import pytest

from sklearn_tanhnet._derivatives import LeastSquaresProblem
from sklearn_tanhnet._evidence import (
    MAX_ALPHA,
    Evidence,
    evidence_from_shrinkage,
    evidence_update,
    inverse_diagonal,
    residual_space_shrinkage,
)
from sklearn_tanhnet._network import init_params, pack, weight_groups, weight_mask
from sklearn_tanhnet._training import evidence_of


def linear_data(n=30, p=3, K=1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p)) + 0.5
    coef = rng.normal(size=(p, K))
    Y = X @ coef + 0.7 + 0.3 * rng.normal(size=(n, K))
    w = rng.uniform(0.5, 2.0, size=n)
    return X, Y, w


def linear_jacobian(X, w, K):
    """Data Jacobian of the linear model, built by hand in the package's layout.

    ``theta`` is ``W`` (p, K) in C order, then ``b`` (K): output ``k`` of row
    ``i`` is ``sum_j x_ij W[j, k] + b_k``, scaled by ``sqrt(w_i / (S K))``.
    """
    c = np.sqrt(w / (w.sum() * K))
    rows = [c_i * np.c_[np.kron(x, np.eye(K)), np.eye(K)] for x, c_i in zip(X, c)]
    return np.concatenate(rows)


def ridge(X, Y, w, alpha):
    """The minimiser of the objective for a linear model, by hand."""
    K, p = Y.shape[1], X.shape[1]
    J = linear_jacobian(X, w, K)
    c = np.sqrt(w / (w.sum() * K))
    penalty = np.r_[np.full(p * K, alpha / w.sum()), np.zeros(K)]
    return np.linalg.solve(J.T @ J + np.diag(penalty), J.T @ (c[:, None] * Y).ravel())


def closed_form_evidence(X, Y, w, alpha, theta):
    """Bayesian linear regression's re-estimates, from the eigenvalues."""
    n, p = X.shape
    K = Y.shape[1]
    S = w.sum()
    Xc = X - (w @ X) / S
    lam = np.linalg.eigvalsh(Xc.T @ (w[:, None] * Xc))
    W, b = theta[: p * K].reshape(p, K), theta[p * K :]
    E_D = 0.5 * np.sum(w[:, None] * (X @ W + b - Y) ** 2)
    E_W = 0.5 * np.sum(W**2)
    gamma_w = K * np.sum(lam / (lam + K * alpha))
    gamma = K + gamma_w
    beta = (S * K - gamma) / (2 * E_D)
    new_alpha = gamma_w / (2 * E_W) / (K * beta)
    a = K * beta * alpha
    log_det = K * np.log(beta * S) + K * np.sum(np.log(beta * lam + a))
    log_evidence = (
        0.5 * p * K * np.log(a)
        - a * E_W
        - beta * E_D
        + 0.5 * S * K * np.log(beta / (2 * np.pi))
        + 0.5 * K * np.log(2 * np.pi)  # a flat prior of unit density on b
        - 0.5 * log_det
    )
    return new_alpha, gamma, beta, log_evidence


def package_evidence(X, Y, w, alpha, theta, A=None):
    K, sizes = Y.shape[1], [X.shape[1], Y.shape[1]]
    problem = LeastSquaresProblem(X, Y, w, alpha, sizes, "identity")
    if A is None:
        A = problem.gauss_newton(theta)
    inv_diag, log_det = inverse_diagonal(A)
    return evidence_update(
        inv_diag,
        log_det,
        theta,
        np.array([alpha]),
        weight_groups(sizes),
        weight_mask(sizes),
        problem.data_loss(theta),
        w.sum(),
        K,
    )


@pytest.mark.parametrize("at", ["ridge", "random"])
@pytest.mark.parametrize("alpha", [0.05, 4.0])
@pytest.mark.parametrize("K", [1, 2])
def test_linear_model_update_equals_bayesian_linear_regression(K, alpha, at):
    X, Y, w = linear_data(K=K)
    p = X.shape[1]
    if at == "ridge":
        theta = ridge(X, Y, w, alpha)
    else:
        theta = np.random.RandomState(1).normal(size=(p + 1) * K)
    new_alpha, gamma, beta, log_evidence = closed_form_evidence(X, Y, w, alpha, theta)
    # A = J'J + Lambda by hand, independent of the package's Jacobian ...
    J = linear_jacobian(X, w, K)
    A = J.T @ J + np.diag(np.r_[np.full(p * K, alpha / w.sum()), np.zeros(K)])
    # ... and from the package's normal equations.
    for matrix in (A, None):
        ev = package_evidence(X, Y, w, alpha, theta, matrix)
        assert isinstance(ev, Evidence)
        assert ev.alphas.shape == (1,)
        np.testing.assert_allclose(ev.alphas[0], new_alpha, rtol=1e-10)
        np.testing.assert_allclose(ev.gamma, gamma, rtol=1e-10)
        np.testing.assert_allclose(ev.beta, beta, rtol=1e-10)
        np.testing.assert_allclose(ev.log_evidence, log_evidence, rtol=1e-10)


def exact_marginal_likelihood(X, y, a, beta):
    """log of the integral of N(y | X w + b, I / beta) N(w | 0, I / a) db dw.

    Flat prior of unit density on b; the n x n covariance C = I / beta +
    X X' / a, integrated over b in closed form: an oracle that shares nothing
    with the package's normal equations or its Laplace approximation.
    """
    n = len(y)
    C = np.eye(n) / beta + X @ X.T / a
    C_inv = np.linalg.inv(C)
    ones = np.ones(n)
    q = ones @ C_inv @ ones
    quad = y @ C_inv @ y - (ones @ C_inv @ y) ** 2 / q
    return -0.5 * (
        (n - 1) * np.log(2 * np.pi) + np.linalg.slogdet(C)[1] + np.log(q) + quad
    )


@pytest.mark.parametrize("alpha", [0.05, 4.0])
def test_linear_log_evidence_is_the_exact_marginal_likelihood(alpha):
    # For a linear network the Laplace approximation is exact: at the most
    # probable weights the package's log evidence equals the marginal
    # likelihood of Bayesian linear regression (to 1e-8).
    X, Y, _ = linear_data(n=25, K=1)
    w = np.ones(len(Y))
    problem = LeastSquaresProblem(X, Y, w, alpha, [X.shape[1], 1], "identity")
    theta = ridge(X, Y, w, alpha)
    ev = evidence_of(problem, theta, np.array([alpha]))
    a = ev.beta * alpha  # K = 1: the prior precision a = K beta alpha
    expected = exact_marginal_likelihood(X, Y.ravel(), a, ev.beta)
    assert ev.log_evidence == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_integer_weights_give_the_update_of_repeated_rows():
    X, Y, _ = linear_data(n=12)
    w = np.ones(12)
    w[[0, 5]] = [3.0, 2.0]
    rows = np.r_[0, 0, 0, np.arange(1, 5), 5, 5, np.arange(6, 12)]
    theta = ridge(X, Y, w, 0.3)
    weighted = package_evidence(X, Y, w, 0.3, theta)
    repeated = package_evidence(X[rows], Y[rows], np.ones(rows.size), 0.3, theta)
    for a, b in [
        (weighted.alphas, repeated.alphas),
        (weighted.gamma, repeated.gamma),
        (weighted.beta, repeated.beta),
    ]:
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_evidence_fixed_point_maximises_the_evidence():
    # Iterating the update on the ridge solutions converges to the penalty
    # where the evidence is largest (for a linear model it is exact).
    X, Y, w = linear_data(n=40, seed=2)
    alpha = 1.0
    for _ in range(200):
        new = package_evidence(X, Y, w, alpha, ridge(X, Y, w, alpha)).alphas[0]
        if abs(new - alpha) <= 1e-12 * alpha:
            break
        alpha = new
    assert abs(new - alpha) <= 1e-12 * alpha

    def log_evidence(alpha):
        return closed_form_evidence(X, Y, w, alpha, ridge(X, Y, w, alpha))[3]

    best = log_evidence(alpha)
    for factor in (0.5, 0.9, 1.1, 2.0):
        assert log_evidence(factor * alpha) < best
    assert package_evidence(X, Y, w, alpha, ridge(X, Y, w, alpha)).log_evidence == (
        pytest.approx(best, rel=1e-10)
    )


def test_groups_follow_the_docstring_formulas():
    # A network with two layers of weights: one penalty, one gamma per layer,
    # from the dense inverse of A.
    rng = np.random.RandomState(3)
    sizes = [2, 3, 1]
    X, Y, w = rng.normal(size=(25, 2)), rng.normal(size=(25, 1)), np.ones(25)
    alphas = np.array([0.5, 2.0])
    groups, mask = weight_groups(sizes), weight_mask(sizes)
    problem = LeastSquaresProblem(X, Y, w, alphas[groups], sizes, "tanh")
    theta = rng.normal(size=problem.n_params)
    A = problem.gauss_newton(theta)
    inv = np.diag(np.linalg.inv(A))
    ev = evidence_update(
        *inverse_diagonal(A),
        theta,
        alphas,
        groups,
        mask,
        problem.data_loss(theta),
        25.0,
        1,
    )
    shrunk = alphas[groups] / 25.0 * inv[mask]
    gamma_g = np.array([6 - shrunk[:6].sum(), 3 - shrunk[6:].sum()])
    gamma = theta.size - shrunk.sum()
    beta = (25.0 - gamma) / (2 * 25.0 * problem.data_loss(theta))
    E_W = np.array([0.5 * theta[:6] @ theta[:6], 0.5 * theta[9:12] @ theta[9:12]])
    np.testing.assert_allclose(ev.gamma, gamma, rtol=1e-10)
    np.testing.assert_allclose(ev.beta, beta, rtol=1e-10)
    np.testing.assert_allclose(ev.alphas, gamma_g / (2 * E_W) / beta, rtol=1e-10)


def test_degenerate_fits_stay_finite():
    X, Y, w = linear_data()
    theta = ridge(X, Y, w, 0.1)
    sizes = [3, 1]
    problem = LeastSquaresProblem(X, Y, w, 0.1, sizes, "identity")
    inv_diag, log_det = inverse_diagonal(problem.gauss_newton(theta))
    args = (weight_groups(sizes), weight_mask(sizes))
    # All weights zero: the penalty is capped, not infinite.
    zero = theta.copy()
    zero[:3] = 0.0
    ev = evidence_update(
        inv_diag,
        log_det,
        zero,
        np.array([0.1]),
        *args,
        problem.data_loss(zero),
        w.sum(),
        1,
    )
    assert ev.alphas[0] == MAX_ALPHA * w.sum()
    # A perfect fit: a finite noise precision and penalty.
    ev = evidence_update(
        inv_diag, log_det, theta, np.array([0.1]), *args, 0.0, w.sum(), 1
    )
    assert np.all(np.isfinite([ev.alphas[0], ev.beta, ev.gamma]))


# -- inverse_diagonal ------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 4, 9])
def test_inverse_diagonal_of_positive_definite_matrix(n):
    rng = np.random.RandomState(n)
    B = rng.normal(size=(n + 3, n))
    A = B.T @ B + 0.1 * np.eye(n)
    A_copy = A.copy()
    diag, log_det = inverse_diagonal(A)
    np.testing.assert_allclose(diag, np.diag(np.linalg.inv(A)), rtol=1e-12)
    sign, expected = np.linalg.slogdet(A)
    assert sign == 1.0
    assert log_det == pytest.approx(expected, rel=1e-12, abs=1e-12)
    np.testing.assert_array_equal(A, A_copy)


def test_inverse_diagonal_of_a_badly_scaled_well_conditioned_matrix():
    # ARD's penalties put 1e12 beside curvatures of order one or less: A is
    # far from singular once scaled to a unit diagonal (condition about 3),
    # so its inverse is exact to a few eps of that condition, small
    # directions included (a pseudo-inverse relative to the largest
    # eigenvalue would drop the 1e-3 one).
    A = np.diag([1e12, 1.0, 1e-3])
    A[1, 2] = A[2, 1] = 0.5 * np.sqrt(1.0 * 1e-3)
    diag, log_det = inverse_diagonal(A)
    np.testing.assert_allclose(diag, np.diag(np.linalg.inv(A)), rtol=1e-13)
    assert log_det == pytest.approx(np.linalg.slogdet(A)[1], rel=1e-13)


def singular_matrices():
    rng = np.random.RandomState(0)
    # A parameter nothing determines: a zero row and column.
    M = rng.normal(size=(3, 3))
    zero_row = np.zeros((4, 4))
    zero_row[np.ix_([0, 2, 3], [0, 2, 3])] = M @ M.T + np.eye(3)
    # Rank 3 of 6, where Cholesky breaks down on a non-positive pivot.
    B = np.random.RandomState(1).normal(size=(6, 3))
    return [zero_row, B @ B.T]


@pytest.mark.parametrize("index", [0, 1], ids=["zero-row", "rank-deficient"])
def test_inverse_diagonal_falls_back_to_the_pseudo_inverse(index):
    A = singular_matrices()[index]
    diag, log_det = inverse_diagonal(A)
    np.testing.assert_allclose(
        diag, np.diag(np.linalg.pinv(A, hermitian=True)), rtol=1e-10, atol=1e-14
    )
    evals = np.linalg.eigvalsh(A)
    kept = evals[evals > 1e-9 * evals.max()]
    assert kept.size < A.shape[0]
    assert log_det == pytest.approx(np.log(kept).sum(), rel=1e-10)
    if index == 0:
        assert abs(diag[1]) < 1e-20  # the undetermined direction contributes nothing


def test_inverse_diagonal_pseudo_inverse_when_cholesky_passes_by_rounding():
    # Rank 3 of 6 again; for this seed dpotrf completes with tiny pivots.
    B = np.random.RandomState(19).normal(size=(6, 3))
    A = B @ B.T
    diag, log_det = inverse_diagonal(A)
    np.testing.assert_allclose(
        diag, np.diag(np.linalg.pinv(A, hermitian=True)), rtol=1e-8, atol=1e-12
    )
    evals = np.linalg.eigvalsh(A)
    assert log_det == pytest.approx(np.log(evals[3:]).sum(), rel=1e-8)


# -- residual_space_shrinkage ----------------------------------------------------


def wide_problem(sizes=(4, 6, 2), n=7, dead_unit=False, seed=0):
    """A tanh network on fewer residuals (n K) than parameters."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, sizes[0]))
    Y = rng.normal(size=(n, sizes[-1]))
    params = init_params(list(sizes), rng)
    if dead_unit:  # a unit saturated on every row: its bias column is ~zero
        params[0][0][:, 0] = 0.0
        params[0][1][0] = 40.0
    alphas = rng.uniform(0.5, 3.0, len(sizes) - 1)
    problem = LeastSquaresProblem(X, Y, rng.uniform(0.5, 2, n), alphas, list(sizes))
    return problem, pack(params)


@pytest.mark.parametrize("bias_penalty", [0.0, 0.7])
@pytest.mark.parametrize(
    "sizes, dead_unit",
    [
        ((4, 6, 2), False),
        ((4, 6, 2), True),
        # More biases (10) than residuals (7): the range of J_u from J_u J_u'.
        ((3, 5, 4, 1), False),
        ((9, 1), False),
    ],
)
def test_residual_space_shrinkage_equals_the_parameter_space_one(
    sizes, dead_unit, bias_penalty
):
    problem, theta = wide_problem(sizes, dead_unit=dead_unit)
    assert problem.n_samples * problem.n_outputs < problem.n_params
    space = problem.residual_space(theta)
    penalties = problem.layer_penalties()
    layer_sizes = np.bincount(problem.groups)
    shrinkage, log_det = residual_space_shrinkage(
        space.weight_kernels, space.bias_jacobian, penalties, layer_sizes, bias_penalty
    )
    # Oracle: the P x P matrix A = J'J + Lambda from the dense Jacobian.
    J = problem.network.linearize(theta, problem.X).jacobian(problem.row_scale)
    A = J.T @ J + np.diag(problem.reg2 + bias_penalty * ~problem.mask)
    inverse = np.linalg.pinv(A, rcond=1e-12, hermitian=True)
    expected = np.bincount(
        problem.groups, (problem.reg2 * np.diag(inverse))[problem.mask]
    )
    np.testing.assert_allclose(shrinkage, expected, rtol=1e-9, atol=1e-12)
    evals = np.linalg.eigvalsh(A)
    kept = evals[evals > 1e-12 * evals.max()]
    assert log_det == pytest.approx(np.log(kept).sum(), rel=1e-9)
    # And so the evidence update.
    args = (theta, problem.alpha, problem.groups, problem.mask, 0.4, problem.weight_sum)
    wide = evidence_from_shrinkage(shrinkage, log_det, *args, problem.n_outputs)
    square = evidence_update(np.diag(inverse), log_det, *args, problem.n_outputs)
    assert wide.gamma == pytest.approx(square.gamma, rel=1e-9)
    np.testing.assert_allclose(wide.alphas, square.alphas, rtol=1e-9)


def test_residual_space_shrinkage_keeps_its_precision_under_small_penalties():
    # Each layer's sum is n_l minus a trace of terms in [0, 1]: no difference
    # of lam^-1-sized numbers. (The Cholesky of I + U U' still loses about
    # eps * max(s) / lam: at lam = 1e-8 of the data's curvature, 1e-8.)
    problem, theta = wide_problem()
    problem.set_alpha(np.array([1e-8, 1e-8]) * problem.weight_sum)
    space = problem.residual_space(theta)
    layer_sizes = np.bincount(problem.groups)
    shrinkage, _ = residual_space_shrinkage(
        space.weight_kernels,
        space.bias_jacobian,
        problem.layer_penalties(),
        layer_sizes,
    )
    assert np.all((shrinkage >= -1e-9) & (shrinkage <= layer_sizes + 1e-9))
    # Oracle: with one lam on all weights the sum is sum_j lam / (lam + s_j)
    # over the squared singular values s_j of Z, the weights' Jacobian with
    # the biases' part projected out (30 of them, zeros included).
    J = problem.network.linearize(theta, problem.X).jacobian(problem.row_scale)
    J_w, J_u = J[:, problem.mask], J[:, ~problem.mask]
    Z = J_w - J_u @ np.linalg.lstsq(J_u, J_w, rcond=None)[0]
    s = np.zeros(Z.shape[1])
    s[: min(Z.shape)] = np.linalg.svd(Z, compute_uv=False) ** 2
    expected = float(np.sum(1e-8 / (1e-8 + s)))
    assert shrinkage.sum() == pytest.approx(expected, abs=1e-6)
