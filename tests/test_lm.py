"""Tests for the Levenberg-Marquardt solver in ``sklearn_tanhnet._lm``."""

import numpy as np
import pytest
from _tolerances import EPS, solve_atol

from sklearn_tanhnet._derivatives import LeastSquaresProblem
from sklearn_tanhnet._evidence import (
    evidence_update,
    inverse_diagonal,
    problem_evidence,
)
from sklearn_tanhnet._lm import LevenbergMarquardt
from sklearn_tanhnet._network import init_params, pack, weight_groups
from sklearn_tanhnet._solvers import Control, SolverResult

STATUSES = {"converged", "plateau", "stopped", "max_iter", "diverged"}
STEPS = [
    {"step": "direct"},
    {"step": "cg", "max_inner": 100},
]
step_cases = pytest.mark.parametrize("options", STEPS, ids=["direct", "cg"])
damping_cases = pytest.mark.parametrize("damping", ["identity", "diagonal"])


def linear_problem(K=1, alpha=0.1, n=40, p=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p)) + 0.5
    Y = X @ rng.normal(size=(p, K)) - 0.3 + 0.2 * rng.normal(size=(n, K))
    w = rng.uniform(0.5, 2.0, size=n)
    return LeastSquaresProblem(X, Y, w, alpha, [p, K], "identity")


def ridge_normal_matrix(problem):
    """The normal matrix ``G`` of the linear model, with ``theta``'s columns.

    ``F = 1 / (2 S) (sum_i w_i ||x_i W + b - y_i||^2 / K + alpha ||W||^2)``;
    ``theta`` is ``W`` (p, K) in C order, then ``b``, so the ``K`` outputs'
    systems share one ``(p + 1) x (p + 1)`` matrix and this returns it.
    """
    X, w = problem.X, problem.sample_weight
    (n, p), K, S = X.shape, problem.n_outputs, w.sum()
    (alpha,) = np.unique(problem.alpha)  # one penalty for all weights
    c2 = w / (S * K)
    Xa = np.c_[X, np.ones(n)]
    G = Xa.T @ (c2[:, None] * Xa)
    G[:p, :p] += alpha / S * np.eye(p)
    return G


def ridge_solution(problem):
    """Solve the normal equations of the linear model by hand."""
    X, Y, w = problem.X, problem.Y, problem.sample_weight
    (n, p), K, S = X.shape, Y.shape[1], w.sum()
    c2 = w / (S * K)
    Xa = np.c_[X, np.ones(n)]
    coef = np.linalg.solve(ridge_normal_matrix(problem), Xa.T @ (c2[:, None] * Y))
    return np.r_[coef[:p].ravel(), coef[p]]


def tanh_problem(n=30, seed=0):
    rng = np.random.RandomState(seed)
    X = np.linspace(-1.0, 1.0, n)[:, None]
    Y = np.sin(2.5 * X) + 0.05 * rng.normal(size=X.shape)
    problem = LeastSquaresProblem(X, Y, np.ones(n), 1e-3, [1, 4, 1], "tanh")
    theta0 = pack(init_params([1, 4, 1], rng))
    return problem, theta0


def hand_jacobian(problem):
    """Data Jacobian of the linear model [X 1] theta, rows scaled by c_i."""
    X, w = problem.X, problem.sample_weight
    K = problem.n_outputs
    c = np.sqrt(w / (w.sum() * K))
    rows = [ci * np.c_[np.kron(x, np.eye(K)), np.eye(K)] for x, ci in zip(X, c)]
    return np.concatenate(rows), c


@step_cases
@damping_cases
@pytest.mark.parametrize("K, seed", [(1, 0), (2, 0), (1, 1), (1, 2), (1, 3)])
def test_linear_problem_converges_to_ridge_solution(options, damping, K, seed):
    problem = linear_problem(K=K, seed=seed)
    expected = ridge_solution(problem)
    theta0 = np.zeros(problem.n_params)
    solver = LevenbergMarquardt(
        problem, control=Control(tol=0.0), damping=damping, **options
    )
    result = solver.solve(theta0)
    assert isinstance(result, SolverResult)
    assert result.status == "converged", result.message
    # To rounding, not to sqrt(eps): the comparison of two rounded values of
    # F must not stop the fit one Gauss-Newton correction short.
    np.testing.assert_allclose(
        result.theta, expected, rtol=0, atol=1e-12 * max(1.0, np.abs(expected).max())
    )
    assert result.loss == pytest.approx(problem.loss(expected), rel=1e-12)
    np.testing.assert_array_equal(theta0, 0.0)  # the start is not changed


@damping_cases
def test_first_steps_are_the_damped_gauss_newton_steps(damping):
    # On a quadratic the gain ratio is one: the first step uses
    # mu = 1e-3 max(diag J'J) (the data's curvature), the second mu / 3, both
    # accepted at once.
    problem = linear_problem(K=2, alpha=0.5)
    problem.X[:, 0] *= 10.0  # badly scaled, so that D matters
    J, c = hand_jacobian(problem)
    y = (c[:, None] * problem.Y).ravel()
    Lam = np.diag(problem.reg2)
    A = J.T @ J + Lam
    gram_diag = np.diag(J.T @ J)
    if damping == "identity":
        D = np.ones_like(gram_diag)
    else:
        D = np.maximum(gram_diag, 1e-6 * gram_diag.max())
    mu = 1e-3 * gram_diag.max()
    theta = np.random.RandomState(0).normal(size=problem.n_params)
    for n_iter in (1, 2):
        g = J.T @ (J @ theta - y) + Lam @ theta
        theta = theta - np.linalg.solve(A + mu * np.diag(D), g)
        mu /= 3.0
        result = LevenbergMarquardt(
            problem, control=Control(max_iter=n_iter, tol=0.0), damping=damping
        ).solve(np.random.RandomState(0).normal(size=problem.n_params))
        assert result.n_iter == n_iter
        np.testing.assert_allclose(result.theta, theta, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("K", [1, 2])
@pytest.mark.parametrize(
    "wide, options, atol",
    [
        # J'J in float32 changes the steps, not the gradient: the same minimum.
        (False, {"gram_dtype": "float32"}, 1e-8),
        # Fewer residuals than parameters, solved in the residual space: its
        # M x M system grows ill-conditioned as the damping falls (the biases
        # enter as J_b J_b' / mu), so the last step, taken once its predicted
        # decrease is at the rounding level of F, is accurate to the bound
        # of a solve with the normal matrix (solve_atol), not to eps.
        (True, {"step": "residual"}, None),
    ],
    ids=["float32-gram", "residual-space"],
)
def test_other_steps_reach_the_ridge_solution(K, wide, options, atol):
    problem = wide_linear_problem(K=K) if wide else linear_problem(K=K)
    expected = ridge_solution(problem)
    result = LevenbergMarquardt(problem, control=Control(tol=0.0), **options).solve(
        np.zeros(problem.n_params)
    )
    assert result.status == "converged", result.message
    if atol is None:
        atol = solve_atol(ridge_normal_matrix(problem), expected)
        # A hundredfold below sqrt(eps): a fit one Gauss-Newton correction short
        # of the minimum would fail.
        assert atol < 1e-2 * np.sqrt(EPS)
    else:
        atol = atol * max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(result.theta, expected, rtol=0, atol=atol)


@step_cases
@damping_cases
def test_tanh_problem_lowers_the_loss_monotonically(options, damping):
    problem, theta0 = tanh_problem()
    start = problem.loss(theta0)
    result = LevenbergMarquardt(
        problem, control=Control(max_iter=40), damping=damping, **options
    ).solve(theta0)
    assert result.status in STATUSES
    assert result.converged == (result.status in ("converged", "plateau", "stopped"))
    assert result.n_iter == len(result.loss_curve) > 0
    curve = np.asarray(result.loss_curve)
    # LM accepts only steps that lower F, but for a last one whose predicted
    # decrease is at the rounding level of F.
    assert curve[0] < start
    assert np.all(np.diff(curve[:-1]) < 0)
    assert curve[-1] <= curve[-2] * (1 + 1e-13)
    assert result.loss == curve[-1] == problem.loss(result.theta)
    # The fit is a fit: well below the variance of sin on [-1, 1] (about 0.4).
    assert result.loss < 0.05 * start
    assert result.nfev >= result.n_iter
    assert result.alpha is None and result.evidence is None


@step_cases
def test_solves_are_reproducible_bit_for_bit(options):
    problem, theta0 = tanh_problem()
    first = LevenbergMarquardt(problem, control=Control(max_iter=25), **options).solve(
        theta0
    )
    problem_again, _ = tanh_problem()
    second = LevenbergMarquardt(
        problem_again, control=Control(max_iter=25), **options
    ).solve(theta0)
    np.testing.assert_array_equal(first.theta, second.theta)
    assert first.loss_curve == second.loss_curve
    assert (first.status, first.n_iter, first.nfev) == (
        second.status,
        second.n_iter,
        second.nfev,
    )


@step_cases
def test_callback_message_stops_the_solve(options):
    problem, theta0 = tanh_problem()
    calls = []

    def callback(theta, loss):
        calls.append((theta.copy(), loss))
        return "enough" if len(calls) == 3 else None

    result = LevenbergMarquardt(
        problem, control=Control(max_iter=50, callback=callback), **options
    ).solve(theta0)
    assert result.status == "stopped"
    assert result.message == "enough"
    assert result.n_iter == 3 and len(calls) == 3
    assert [loss for _, loss in calls] == result.loss_curve
    np.testing.assert_array_equal(calls[-1][0], result.theta)
    assert calls[-1][1] == problem.loss(result.theta)


@step_cases
def test_max_iter(options):
    problem, theta0 = tanh_problem()
    result = LevenbergMarquardt(
        problem, control=Control(max_iter=3, tol=0.0), **options
    ).solve(theta0)
    assert result.status == "max_iter"
    assert result.n_iter == 3 == len(result.loss_curve)
    assert "max_iter=3" in result.message


def test_plateau_rule_stops_the_solve():
    problem, theta0 = tanh_problem()
    # Any improvement below the whole starting loss counts as no improvement.
    result = LevenbergMarquardt(
        problem,
        control=Control(
            max_iter=100, tol=1.0, loss_scale=problem.loss(theta0), n_iter_no_change=2
        ),
    ).solve(theta0)
    assert result.status == "plateau"
    # The first iteration sets the best loss; two without improvement follow.
    assert result.n_iter == 3


def random_start(problem, seed=0):
    # Not zero: the evidence update of zero weights is degenerate (E_W = 0).
    return np.random.RandomState(seed).normal(size=problem.n_params)


def consistent_evidence(problem, result):
    """One more evidence update at the solver's result."""
    A = problem.gauss_newton(result.theta)
    groups = weight_groups(problem.layer_sizes)
    return evidence_update(
        *inverse_diagonal(A),
        result.theta,
        result.alpha,
        groups,
        problem.mask,
        problem.data_loss(result.theta),
        problem.weight_sum,
        problem.n_outputs,
    )


@pytest.mark.parametrize("start", [1e-3, 1.0, 100.0])
@pytest.mark.parametrize("K", [1, 2])
def test_evidence_settles_at_a_fixed_point_on_a_linear_problem(K, start):
    problem = linear_problem(K=K, alpha=start)
    solver = LevenbergMarquardt(
        problem,
        control=Control(max_iter=200, tol=0.0),
        evidence=True,
        alphas=np.array([start]),
    )
    result = solver.solve(random_start(problem))
    assert result.status == "converged", result.message
    assert "evidence" in result.message
    assert result.alpha.shape == (1,)
    # The problem's penalty is the solver's last estimate.
    np.testing.assert_array_equal(
        problem.penalty[problem.mask], result.alpha[weight_groups([3, K])]
    )
    again = consistent_evidence(problem, result)
    np.testing.assert_allclose(again.alphas, result.alpha, rtol=0.02)
    assert result.evidence.gamma == pytest.approx(again.gamma, rel=0.02)
    # theta is the ridge solution of the final penalty.
    expected = ridge_solution(problem)
    np.testing.assert_allclose(result.theta, expected, rtol=1e-6, atol=1e-8)


def test_evidence_from_any_start_reaches_the_same_penalty():
    alphas = []
    for start in (1e-2, 10.0):
        problem = linear_problem(alpha=start)
        result = LevenbergMarquardt(
            problem,
            control=Control(tol=0.0),
            evidence=True,
            alphas=np.array([start]),
            evidence_rtol=1e-6,
        ).solve(random_start(problem, seed=1))
        alphas.append(result.alpha[0])
    assert alphas[0] == pytest.approx(alphas[1], rel=1e-4)


def test_evidence_with_cg_steps_approximates_the_direct_penalty():
    # Iterative steps estimate gamma from the diagonal of A alone.
    penalties = []
    for options in STEPS:
        problem = linear_problem()
        result = LevenbergMarquardt(
            problem, evidence=True, alphas=np.array([1.0]), **options
        ).solve(random_start(problem))
        assert result.status == "converged", result.message
        assert np.all(np.isfinite(result.alpha)) and result.alpha[0] > 0
        penalties.append(result.alpha[0])
    assert penalties[1] == pytest.approx(penalties[0], rel=0.1)


def test_evidence_from_zero_weights_still_fits_the_bias():
    problem = linear_problem(alpha=1.0)
    result = LevenbergMarquardt(
        problem, control=Control(tol=0.0), evidence=True, alphas=np.array([1.0])
    ).solve(np.zeros(problem.n_params))
    assert result.status == "converged"
    # Whatever the penalty, the bias minimises F given the weights.
    X, Y, w = problem.X, problem.Y[:, 0], problem.sample_weight
    W, b = result.theta[:3], result.theta[3]
    assert b == pytest.approx(w @ (Y - X @ W) / w.sum(), rel=1e-6, abs=1e-8)


# -- steps in the residual space --------------------------------------------------


def wide_linear_problem(K=1, n=6, p=9, alpha=0.3, seed=0):
    # Fewer residuals (n K) than parameters ((p + 1) K).
    return linear_problem(K=K, alpha=alpha, n=n, p=p, seed=seed)


def test_residual_space_steps_take_identity_damping_only():
    with pytest.raises(ValueError, match="damping='identity'"):
        LevenbergMarquardt(wide_linear_problem(), step="residual", damping="diagonal")


@pytest.mark.parametrize("K", [1, 2])
def test_residual_space_steps_equal_the_direct_steps(K):
    damping = "identity"
    problem = wide_linear_problem(K=K)
    assert problem.n_samples * K < problem.n_params
    theta0 = np.random.RandomState(3).normal(size=problem.n_params)
    for n_iter in (1, 2, 3):
        results = [
            LevenbergMarquardt(
                problem,
                control=Control(max_iter=n_iter, tol=0.0),
                damping=damping,
                step=step,
            ).solve(theta0)
            for step in ("direct", "residual")
        ]
        direct, residual = results
        assert residual.n_iter == direct.n_iter == n_iter
        np.testing.assert_allclose(residual.theta, direct.theta, rtol=1e-10, atol=1e-12)
        assert residual.loss == pytest.approx(direct.loss, rel=1e-12)


def _wide_tanh_fits(max_iter):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3))
    Y = np.tanh(X @ rng.normal(size=(3, 1))) + 0.1 * rng.normal(size=(20, 1))
    sizes = [3, 5, 1]  # 26 parameters, 20 residuals
    theta0 = pack(init_params(sizes, rng))
    results, problems = [], []
    for step in ("direct", "residual"):
        problem = LeastSquaresProblem(X, Y, np.ones(20), 1.0, sizes, "tanh")
        problems.append(problem)
        results.append(
            LevenbergMarquardt(
                problem,
                control=Control(max_iter=max_iter, tol=0.0),
                step=step,
                evidence=True,
                alphas=np.array([1.0, 1.0]),
            ).solve(theta0)
        )
    return results, problems[0], theta0


def test_residual_space_evidence_step_equals_the_direct_one():
    # One step from the same point: the same linearisation, penalties and
    # damping, solved two exact ways. They differ by rounding amplified by
    # the conditioning of the damped normal matrix (solve_atol); the
    # evidence's traces of A^-1 by the same bound relative to the penalties.
    (direct, residual), problem, theta0 = _wide_tanh_fits(max_iter=1)
    assert residual.n_iter == direct.n_iter == 1
    J = problem.jacobian(theta0)
    A = J.T @ J + np.diag(problem.reg2)
    atol = solve_atol(A, direct.theta)
    np.testing.assert_allclose(residual.theta, direct.theta, rtol=0, atol=atol)
    rtol = solve_atol(A, 1.0)
    np.testing.assert_allclose(residual.alpha, direct.alpha, rtol=rtol)
    assert residual.evidence.gamma == pytest.approx(direct.evidence.gamma, rel=rtol)


def test_residual_space_evidence_settles_where_the_direct_evidence_does():
    # Over a whole fit the two are not compared bit by bit: each evidence
    # update re-weights the penalties by factors of up to 30 in the first
    # steps, which amplifies the rounding difference of one step (above)
    # about a hundredfold per step until the iteration settles, to about
    # 1e-6 relatively, on any BLAS. What must agree is where they settle:
    # the same fixed point, to well below the evidence_rtol (2e-2) by which
    # the solver judges it settled; a wrong trace or log-determinant in
    # either would move gamma and the penalties by order one.
    (direct, residual), _, _ = _wide_tanh_fits(max_iter=100)
    assert direct.status == residual.status == "converged"
    assert residual.n_iter == direct.n_iter
    np.testing.assert_allclose(residual.alpha, direct.alpha, rtol=1e-4)
    np.testing.assert_allclose(residual.theta, direct.theta, rtol=0, atol=1e-4)
    assert residual.evidence.gamma == pytest.approx(direct.evidence.gamma, rel=1e-4)
    assert residual.evidence.log_evidence == pytest.approx(
        direct.evidence.log_evidence, rel=1e-4
    )


def test_steps_to_the_stationary_point_are_newton_steps_on_the_exact_hessian():
    # Once the penalties are held, the direct steps of a one-hidden-layer
    # network solve with J'J plus the residuals' curvature: at the last
    # linearisation (the final point) that is autograd's exact Hessian of
    # the objective, less the penalty. Entries are sums over 60 rows of O(1)
    # products: rounding of some 60 eps relative to the largest.
    rng = np.random.RandomState(0)
    n = 60
    X = rng.uniform(-2, 2, size=(n, 2))
    Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:] + 0.1 * rng.normal(size=(n, 1))
    sizes = [2, 6, 1]
    problem = LeastSquaresProblem(X, Y, np.ones(n), 1.0, sizes, "tanh")
    solver = LevenbergMarquardt(
        problem,
        control=Control(max_iter=3000),
        evidence=True,
        alphas=np.array([1.0, 1.0]),
        mode_gtol=1e-6,
    )
    result = solver.solve(pack(init_params(sizes, rng)))
    assert result.status == "converged" and solver.holding, result.message
    exact = problem.hessian(solver.theta) - np.diag(problem.reg2)
    scale = np.abs(exact).max()
    np.testing.assert_allclose(solver.gram, exact, rtol=0, atol=1e3 * EPS * scale)
    # The evidence's figures are those of the stationary point, the penalties
    # held, from the Gauss-Newton matrix there (A is singular here: an unused
    # unit's biases; inverse_diagonal's pseudo-inverse takes it). The same
    # computation at the same point: equal to rounding of the sums.
    A = problem.gauss_newton(result.theta)
    expected = problem_evidence(
        problem,
        result.theta,
        result.alpha,
        *inverse_diagonal(A),
        problem.data_loss(result.theta),
    )
    assert result.evidence.gamma == pytest.approx(expected.gamma, rel=1e-12)
    assert result.evidence.beta == pytest.approx(expected.beta, rel=1e-12)


@pytest.mark.parametrize("wide", [False, True], ids=["direct", "residual-space"])
def test_mode_gtol_ends_at_a_stationary_point_of_the_settled_penalties(wide):
    # The evidence settles first (the same penalties as without mode_gtol);
    # then, the penalties held, the fit goes on until the relative gradient
    # at its final point is within mode_gtol. Checked against autograd's
    # gradient and Hessian of the objective at those penalties.
    rng = np.random.RandomState(0)
    n = 12 if wide else 60
    X = rng.uniform(-2, 2, size=(n, 2))
    Y = np.sin(X[:, :1]) + 0.5 * X[:, 1:] + 0.1 * rng.normal(size=(n, 1))
    sizes = [2, 6, 1]  # 25 parameters
    theta0 = pack(init_params(sizes, rng))
    results = []
    for mode_gtol in (None, 1e-6):
        problem = LeastSquaresProblem(X, Y, np.ones(n), 1.0, sizes, "tanh")
        solver = LevenbergMarquardt(
            problem,
            control=Control(max_iter=3000),
            step="residual" if wide else "direct",
            evidence=True,
            alphas=np.array([1.0, 1.0]),
            mode_gtol=mode_gtol,
        )
        results.append((solver.solve(theta0), problem))
    (settled, _), (result, problem) = results
    assert result.status == "converged", result.message
    assert "stationary point" in result.message
    np.testing.assert_array_equal(result.alpha, settled.alpha)
    g = problem.gradient(result.theta)
    loss = problem.loss(result.theta)
    assert loss == pytest.approx(result.loss, rel=1e-12)
    # The solver's gradient and autograd's agree to rounding of the sums,
    # far below the tolerance itself.
    assert np.linalg.norm(g) / (1.0 + abs(loss)) <= 1e-6 * (1 + 1e-6)
    eigenvalues = np.linalg.eigvalsh(problem.hessian(result.theta))
    assert eigenvalues[0] >= -1e-8 * eigenvalues[-1]
    # It is further along than the settled fit, whose gradient is not small.
    g_settled = problem.gradient(settled.theta)
    assert np.linalg.norm(g_settled) > 1e3 * np.linalg.norm(g)


def test_where_newtons_matrix_is_indefinite_the_step_is_a_gauss_newton_one():
    # Holding the penalties, a one-hidden-layer network's step solves with
    # the exact Hessian; where that plus the damping is indefinite, the
    # step's retries solve with the Gauss-Newton matrix at the raised damping
    # instead of raising it until it outweighs the negative curvature.
    rng = np.random.RandomState(1)
    n = 50
    X = rng.uniform(-2, 2, size=(n, 2))
    Y = np.sin(2 * X[:, :1]) * X[:, 1:] + 0.3 * rng.normal(size=(n, 1))
    sizes = [2, 5, 1]
    problem = LeastSquaresProblem(X, Y, np.ones(n), 1e-3, sizes, "tanh")
    solver = LevenbergMarquardt(problem, control=Control(max_iter=50), mode_gtol=1e-6)
    theta = 2.0 * pack(init_params(sizes, rng))
    solver.setup(theta)
    solver.holding = True
    assert solver.linearize()
    newton = problem.add_penalty(solver.gram)
    gauss_newton = problem.add_penalty(solver.gauss_newton)
    lowest = np.linalg.eigvalsh(newton)[0]
    assert lowest < 0  # the premise: negative curvature here
    mu = 1e-3 * -lowest  # too little damping for Newton's matrix
    solver.mu = mu
    assert solver.damped_step()
    assert solver.indefinite
    step = solver.theta - theta
    g = solver.gradient
    # The step solves (J'J + Lambda + m I) step = -g for the damping m it was
    # taken at: mu raised by the re-damping's factors 2, 4, 8, ... (a product
    # 2^(k (k + 1) / 2) after k of them). k is read off the damping the step
    # implies; the step must then solve the system at exactly that m.
    implied = -(step @ (gauss_newton @ step + g)) / (step @ step)
    k = np.round(np.sqrt(2 * np.log2(implied / mu) + 0.25) - 0.5)
    assert k >= 1
    m = mu * 2 ** (k * (k + 1) / 2)
    residual = gauss_newton @ step + m * step + g
    # A Cholesky solve of a system of condition c: a residual of some c eps
    # times |g| (a damping off by dm would leave dm |step| more).
    cond = np.linalg.cond(gauss_newton + m * np.eye(len(g)))
    assert np.linalg.norm(residual) <= 100 * EPS * cond * np.linalg.norm(g)
    # Not Newton's step at that damping.
    newton_residual = newton @ step + m * step + g
    assert np.linalg.norm(newton_residual) > 1e-3 * np.linalg.norm(g)
