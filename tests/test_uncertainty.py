import pickle
import time
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from _tolerances import EPS, solve_atol
from autograd import hessian, jacobian
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._network import forward, unpack
from sklearn_tanhnet._uncertainty import (
    RCOND,
    ResidualStatistics,
    fit_statistics,
    prediction_std,
    residual_statistics,
)


def _ols_half_widths(A, y, A0, confidence=0.95):
    """Hand-computed OLS half-widths of the mean and of a new observation."""
    beta = np.linalg.lstsq(A, y, rcond=None)[0]
    r = y - A @ beta
    dof = A.shape[0] - A.shape[1]
    s2 = r @ r / dof
    lev = np.einsum("ij,jk,ik->i", A0, np.linalg.inv(A.T @ A), A0)
    t = stats.t.ppf(0.5 + confidence / 2, dof)
    return t * np.sqrt(s2 * lev), t * np.sqrt(s2 * (1 + lev))


@pytest.fixture(scope="module")
def linear_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    Y = np.c_[X @ [1.0, -2.0] + 0.5, X @ [0.3, 0.1] - 1.0] + 0.3 * rng.normal(
        size=(30, 2)
    )
    return X, Y, rng.normal(size=(7, 2))


@pytest.mark.parametrize("hidden", [(), (3,)])
@pytest.mark.parametrize("standardize", [True, False])
def test_linear_network_intervals_equal_ols(linear_data, hidden, standardize):
    X, Y, X0 = linear_data
    y = Y[:, 0]
    est = TanhNetRegressor(
        hidden, activation="identity", alpha=0.0, standardize=standardize
    ).fit(X, y)
    A, A0 = np.c_[np.ones(30), X], np.c_[np.ones(7), X0]
    conf, pred = _ols_half_widths(A, y, A0)
    lo, hi = est.predict_interval(X0, kind="confidence")
    np.testing.assert_allclose((hi - lo) / 2, conf, rtol=1e-6)
    lo, hi = est.predict_interval(X0, kind="prediction")
    np.testing.assert_allclose((hi - lo) / 2, pred, rtol=1e-6)
    ols = A0 @ np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose((hi + lo) / 2, ols, rtol=1e-5)
    assert est._committee[0][5].rank == 3


def test_multi_output_linear_intervals_equal_per_output_ols(linear_data):
    X, Y, X0 = linear_data
    est = TanhNetRegressor((), activation="identity", alpha=0.0).fit(X, Y)
    A, A0 = np.c_[np.ones(30), X], np.c_[np.ones(7), X0]
    lo, hi = est.predict_interval(X0, confidence=0.9, kind="prediction")
    for k in range(2):
        _, pred = _ols_half_widths(A, Y[:, k], A0, confidence=0.9)
        np.testing.assert_allclose((hi - lo)[:, k] / 2, pred, rtol=1e-6)


def test_integer_weights_give_the_intervals_of_repeated_rows(linear_data):
    X, Y, X0 = linear_data
    w = np.arange(30) % 3 + 1
    kw = dict(hidden_layer_sizes=(), activation="identity", alpha=0.0)
    a = TanhNetRegressor(**kw).fit(X, Y[:, 0], sample_weight=w)
    b = TanhNetRegressor(**kw).fit(np.repeat(X, w, 0), np.repeat(Y[:, 0], w))
    for kind in ("confidence", "prediction"):
        np.testing.assert_allclose(
            a.predict_interval(X0, kind=kind),
            b.predict_interval(X0, kind=kind),
            rtol=1e-8,
        )


@pytest.fixture(scope="module")
def sin_fit():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (60, 1))
    y = np.sin(3 * X.ravel()) + 0.1 * rng.normal(size=60)
    return X, y, TanhNetRegressor((4,), alpha=0.0, random_state=0).fit(X, y)


def test_return_std_matches_independent_delta_method(sin_fit):
    """Recompute the delta method with autograd.jacobian and a plain pinv."""
    X, y, est = sin_fit
    x_mean, x_scale, y_mean, y_scale = est._scaling
    sizes = [1, 4, 1]

    def net(theta, Z):
        return forward(unpack(theta, sizes), (Z - x_mean) / x_scale)[:, 0]

    theta = est._committee[0][1]
    J = jacobian(net)(theta, X)
    r = (y - y_mean) / y_scale - net(theta, X)
    evals, evecs = np.linalg.eigh(J.T @ J)
    keep = evals > 1e-6 * evals[-1]
    dof = len(y) - keep.sum()
    s2 = r @ r / dof
    cov = s2 * (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    X0 = np.linspace(-1.5, 1.5, 9).reshape(-1, 1)
    G = jacobian(net)(theta, X0)
    expected = y_scale * np.sqrt(np.einsum("ip,pq,iq->i", G, cov, G) + s2)
    _, std = est.predict(X0, return_std=True)
    np.testing.assert_allclose(std, expected, rtol=1e-6)
    assert est._committee[0][5].dof == pytest.approx(dof)


def test_intervals_widen_outside_training_range(sin_fit):
    _, _, est = sin_fit
    lo, hi = est.predict_interval(np.array([[0.0], [3.0]]), kind="confidence")
    assert (hi - lo)[1] > 2 * (hi - lo)[0]


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_interval_coverage_on_noisy_sine():
    """Mean coverage over seeds: 95% prediction and confidence intervals."""
    pred_cov, conf_cov = [], []
    for seed in range(20):
        rng = np.random.RandomState(seed)
        X = rng.uniform(-1, 1, (200, 1))
        y = np.sin(3 * X.ravel()) + 0.1 * rng.normal(size=200)
        est = TanhNetRegressor((10,), random_state=seed).fit(X, y)
        Xn = rng.uniform(-1, 1, (2000, 1))
        truth = np.sin(3 * Xn.ravel())
        yn = truth + 0.1 * rng.normal(size=2000)
        lo, hi = est.predict_interval(Xn)
        pred_cov.append(np.mean((yn >= lo) & (yn <= hi)))
        lo, hi = est.predict_interval(Xn, kind="confidence")
        conf_cov.append(np.mean((truth >= lo) & (truth <= hi)))
    assert 0.93 <= np.mean(pred_cov) <= 0.97
    assert 0.85 <= np.mean(conf_cov) <= 0.99


@pytest.mark.parametrize("members", [{}, {"n_starts": 2}])
def test_intervals_of_a_target_near_float64s_limit_scale_with_it(members):
    # y times 2**530 (about 3.5e159, whose variance overflows float64): the
    # standardised data, and so the fit, are bit for bit those of y, and a
    # power of two scales every operation exactly, so the intervals and
    # standard deviations must be exactly 2**530 times those of y.
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(40, 1))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=40)
    scale = 2.0**530
    a = TanhNetRegressor((3,), random_state=0, **members).fit(X, y)
    b = TanhNetRegressor((3,), random_state=0, **members).fit(X, scale * y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        for kind in ("prediction", "confidence"):
            for bound_a, bound_b in zip(
                a.predict_interval(X, kind=kind), b.predict_interval(X, kind=kind)
            ):
                np.testing.assert_array_equal(bound_b, scale * bound_a)
        np.testing.assert_array_equal(
            b.predict(X, return_std=True)[1], scale * a.predict(X, return_std=True)[1]
        )
    # The variance itself exceeds float64: inf, as documented.
    assert np.isinf(b.noise_variance_).all()


def test_one_weight_of_1e200_among_ones_gives_finite_intervals():
    # The Fisher information sum(w g g') / sigma^2 overflows (1e200 / 1e-199)
    # though the covariance and the standard errors are representable. With
    # 1e200 observations of one row the intervals are near zero width.
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(60, 1))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=60)
    w = np.ones(60)
    w[5] = 1e200
    est = TanhNetRegressor((10,), random_state=0).fit(X, y, sample_weight=w)
    lower, upper = est.predict_interval(X)
    y_pred, y_std = est.predict(X, return_std=True)
    assert np.isfinite(lower).all() and np.isfinite(upper).all()
    assert np.isfinite(y_std).all()
    assert (lower <= y_pred).all() and (y_pred <= upper).all()
    assert np.isfinite(est.effective_n_params_)


def _two_input_sine(n, rng):
    X = rng.uniform(-2, 2, size=(n, 2))
    return X, np.sin(2 * X[:, 0]) * np.cos(X[:, 1]) + 0.2 * rng.normal(size=n)


def test_intervals_warn_when_the_fit_spent_the_data_on_its_parameters():
    # 120 rows, (30,): 121 parameters. Unpenalised, the fit spends most rows
    # on its parameters and its "95%" intervals cover far less; the
    # evidence's penalty leaves most of them as residual degrees of freedom.
    rng = np.random.RandomState(0)
    X, y = _two_input_sine(120, rng)
    weak = TanhNetRegressor((30,), alpha=0.0, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="residual degrees of freedom"):
        weak.predict_interval(X)
    with pytest.warns(UserWarning, match="residual degrees of freedom"):
        weak.predict(X, return_std=True)
    default = TanhNetRegressor((30,), random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        default.predict_interval(X)


def _assert_gradient_is_that_of_predict(est, X):
    """``predict_gradient`` against central differences of ``predict``:
    truncation ``h^2 |f'''|`` ~ 1e-12 and rounding ``eps |f| / h`` ~ 1e-10,
    far inside the tolerance."""
    G = est.predict_gradient(X)
    h = 1e-6
    for j in range(X.shape[1]):
        E = np.zeros(X.shape[1])
        E[j] = h
        fd = (est.predict(X + E) - est.predict(X - E)) / (2 * h)
        np.testing.assert_allclose(G[:, :, j], fd, rtol=1e-6, atol=1e-8)
    return G


def test_predict_gradient_matches_central_differences(small_regression):
    X, Y, _ = small_regression
    est = TanhNetRegressor((4,), random_state=0).fit(X, Y)
    G = _assert_gradient_is_that_of_predict(est, X[:5])
    assert G.shape == (5, 2, 3)
    est1 = TanhNetRegressor((4,), random_state=0).fit(X, Y[:, 0])
    assert est1.predict_gradient(X[:5]).shape == (5, 3)


def test_predict_gradient_of_an_ensemble_is_that_of_its_predictions(small_regression):
    # The ensemble predicts its members' mean; its gradient is the mean of
    # theirs, not the kept member's.
    X, Y, _ = small_regression
    est = TanhNetRegressor((4,), n_starts=3, random_state=0)
    est.fit(X, Y)
    _assert_gradient_is_that_of_predict(est, X[:5])


def test_diagnose_hessian_agrees_with_independent_autograd_hessian(lecture_data):
    X, y = lecture_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = TanhNetRegressor(
            (3,), standardize=False, alpha=0.0, tol=0.0, max_iter=300, random_state=0
        ).fit(X, y)

    def sse(theta):
        return anp.sum((forward(unpack(theta, [1, 3, 1]), X)[:, 0] - y) ** 2)

    H = np.linalg.eigvalsh(hessian(sse)(est._committee[0][1]))[::-1]
    diag = est.diagnose(X, y)
    # The objective is SSE / (2 n) here.
    np.testing.assert_allclose(diag.hessian_eigenvalues[:5], H[:5] / 100, rtol=1e-6)
    assert diag.n_params == 10
    assert diag.gradient_norm < 1e-2
    text = str(diag)
    assert "numerical rank" in text and "not determined" in text


def test_uncertainty_errors(sin_fit):
    X, _, est = sin_fit
    with pytest.raises(ValueError, match="confidence must be"):
        est.predict_interval(X, confidence=1.5)
    with pytest.raises(ValueError, match="kind must be"):
        est.predict_interval(X, kind="bayes")
    one = TanhNetRegressor((2,), alpha=0.0).fit(np.ones((1, 1)), [1.0])
    with pytest.raises(ValueError, match="Uncertainty is not available"):
        one.predict(np.ones((1, 1)), return_std=True)


def test_committee_without_a_noise_estimate_names_the_network_and_a_remedy():
    """Unpenalised networks of 26 parameters on four rows interpolate them:
    the hat matrix's trace is the Jacobian's rank, 4, whatever the path to
    the fit, so no member leaves a residual degree of freedom. The error
    says which network and what leaves some."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4, 3))
    est = TanhNetRegressor((5,), alpha=0.0, n_starts=2, random_state=0)
    est.fit(X, np.sin(X[:, 0]))
    with pytest.raises(ValueError) as caught:
        est.predict(X, return_std=True)
    message = str(caught.value)
    assert "its (5,) network, one of the committee's 2" in message
    assert (
        "No residual degrees of freedom" in message and "fewer hidden units" in message
    )


@pytest.mark.parametrize("seed", range(5))
def test_lecture_fit_has_rank_five_of_ten(lecture_data, seed):
    """The lecture's 1-3-1 fit in raw units: five of ten directions determined.

    Three restarts per seed keep the best of three local minima, as a user
    would; the spectrum is the one the lecture shows.
    """
    X, y = lecture_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = TanhNetRegressor(
            (3,),
            standardize=False,
            alpha=0.0,
            tol=0.0,
            max_iter=600,
            n_starts=3,
            combine="best",
            random_state=seed,
        ).fit(X, y)
    diag = est.diagnose(X, y)
    assert (diag.rank, diag.n_params) == (5, 10)
    rel = diag.hessian_eigenvalues / diag.hessian_eigenvalues[0]
    np.testing.assert_allclose(rel[:5], [1, 2.3e-2, 1.2e-3, 3.1e-4, 4.1e-5], rtol=0.1)
    assert rel[5] < 1e-6
    assert "5 direction(s) are not determined" in str(diag)


def test_report_flags_negative_curvature():
    from sklearn_tanhnet import Diagnostics

    d = Diagnostics(
        gradient_norm=1e-3,
        hessian_eigenvalues=np.array([1.0, 1e-2, -1e-3]),
        gauss_newton_eigenvalues=np.array([1.0, 1e-2, 1e-4]),
        rank=2,
        rcond=1e-6,
        condition_number=np.inf,
        n_params=3,
        effective_n_params=2.0,
        standard_errors=np.zeros(3),
        loss=0.1,
    )
    text = str(d)
    assert "1 negative eigenvalue(s): the fit is not at a minimum" in text
    assert "not determined" not in text


def _arrays_with_rows(obj, n_rows, path="est", seen=None):
    """Paths of the arrays with ``n_rows`` rows anywhere inside ``obj``."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return [path] if obj.ndim and obj.shape[0] == n_rows else []
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        items = vars(obj).items()
    else:
        return []
    return [
        found
        for key, value in items
        for found in _arrays_with_rows(value, n_rows, f"{path}[{key!r}]", seen)
    ]


def _tall_fit(n_rows):
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(n_rows, 2))
    y = np.tanh(X[:, 0]) - X[:, 1] + 0.1 * rng.normal(size=n_rows)
    est = TanhNetRegressor((3,), n_starts=2, random_state=0)
    return X, est.fit(X, y)


def test_a_fitted_model_keeps_no_training_data(monkeypatch):
    import sklearn_tanhnet._plan as plan_module

    # With many more rows than parameters the statistics are computed in fit
    # (one pass of J'J over row blocks), however their eigendecompositions
    # compare with the eager threshold: the model keeps P x P arrays only.
    monkeypatch.setattr(plan_module, "EAGER_STATISTICS_FLOPS", 0)
    X, est = _tall_fit(1000)
    assert _arrays_with_rows(est, len(X)) == []
    lower, upper = est.predict_interval(X[:5])
    assert np.all(lower < upper)


def test_a_wide_fit_keeps_principal_directions_not_training_rows():
    from sklearn_tanhnet._uncertainty import ResidualStatistics

    # 30 rows of 40 inputs, (10,): 421 parameters, whose P x P
    # eigendecompositions cost more than the fit: 'auto' takes the residual
    # space in fit, and keeps one M x P matrix, with orthogonal rows.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 40))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=30)
    est = TanhNetRegressor((10,), random_state=0).fit(X, y)
    statistics = est._committee[0][5]
    assert isinstance(statistics, ResidualStatistics)
    assert _arrays_with_rows(est, len(X)) == [
        "est['_committee'][0][5]['row_map']",
        "est['_committee'][0][5]['bias_map']",
    ]
    W = statistics.row_map
    gram = W @ W.T
    off_diagonal = gram - np.diag(np.diag(gram))
    # eigh's eigenvectors are orthonormal to about n eps (n = 30 rows), so
    # the rotated rows' Gram is diagonal to that times its largest entry:
    # 100 eps is about 3 n eps. Unrotated Jacobian rows are far from it.
    assert np.abs(off_diagonal).max() <= 100 * EPS * np.abs(gram).max()

    # Not the training rows: no row of W is parallel to a row of the data
    # Jacobian's first layer (whose rows are x_i times each unit's slope).
    def unit_rows(A):
        return A / np.linalg.norm(A, axis=1)[:, None]

    first_layer = W[:, : X.shape[1] * 10].reshape(len(W), X.shape[1], 10)
    Xs = unit_rows((X - X.mean(0)) / X.std(0))
    for unit in range(10):
        cosines = np.abs(unit_rows(first_layer[:, :, unit]) @ Xs.T)
        assert cosines.max() < 0.99
    lower, upper = est.predict_interval(X[:5])
    assert np.all(lower < upper)


def test_a_saved_model_does_not_grow_with_the_training_set(monkeypatch):
    import sklearn_tanhnet._plan as plan_module

    monkeypatch.setattr(plan_module, "EAGER_STATISTICS_FLOPS", 0)
    sizes = [len(pickle.dumps(_tall_fit(n_rows)[1])) for n_rows in (1000, 2000)]
    # Twice the rows: not even one more column of them (8,000 bytes) saved.
    assert abs(sizes[1] - sizes[0]) < 8 * 1000


def _wide_statistics_problem(seed=0):
    """8 rows, 3 inputs, (6,) hidden, 2 outputs: 16 residuals, 38 parameters."""
    from sklearn_tanhnet._derivatives import LeastSquaresProblem
    from sklearn_tanhnet._network import init_params, pack

    rng = np.random.RandomState(seed)
    sizes = [3, 6, 2]
    X = rng.normal(size=(8, 3))
    Y = rng.normal(size=(8, 2)) * [1.0, 3.0]  # different noise per output
    params = init_params(sizes, rng)
    problem = LeastSquaresProblem(
        X, Y, rng.uniform(0.5, 2.0, 8), np.array([0.8, 2.5]), sizes
    )
    return problem, pack(params), rng.normal(size=(5, 3))


def _dense_delta_method(problem, theta, X0):
    """The delta-method statistics from the dense P x P information, inverted
    by numpy: flat prior on the biases, per-output noise variances."""
    K, S = problem.n_outputs, problem.weight_sum
    w = problem.sample_weight
    lin = problem.network.linearize(theta, problem.X)
    J = lin.jacobian(np.sqrt(w))
    rss = w @ (lin.output - problem.Y) ** 2
    Lam = np.diag(K * problem.penalty)
    H0 = J.T @ J
    p0 = np.trace(np.linalg.solve(H0 + Lam, H0))
    sigma2 = rss / (S - p0 / K)
    J = J * np.tile(np.sqrt(sigma2.mean() / sigma2), problem.n_samples)[:, None]
    A = J.T @ J + Lam
    H = J.T @ J
    p_eff = np.trace(np.linalg.solve(A, H))
    covariance = sigma2.mean() * np.linalg.inv(A)
    G = problem.network.linearize(theta, X0).jacobian()
    var = np.einsum("np,pq,nq->n", G, covariance, G).reshape(-1, K)
    return np.sqrt(var), sigma2, p_eff, S - p_eff / K, A


def test_residual_space_statistics_equal_the_dense_inverse():
    problem, theta, X0 = _wide_statistics_problem()
    assert problem.n_samples * problem.n_outputs < problem.n_params
    std, sigma2, p_eff, dof, A = _dense_delta_method(problem, theta, X0)
    statistics = residual_statistics(problem, theta)
    layer_sizes, K = problem.layer_sizes, problem.n_outputs
    got = prediction_std(statistics, theta, X0, layer_sizes, "tanh")
    # Both sides solve with A = J'J + Lambda (Cholesky, or its Woodbury
    # form): forward errors of at most 3 P^2 eps cond(A) relative to what
    # they solve for (solve_atol), in the variances, the noise variances
    # (through p_eff) and p_eff itself.
    rtol = solve_atol(A, np.ones(1))
    np.testing.assert_allclose(got**2, std**2, rtol=rtol)
    np.testing.assert_allclose(statistics.noise_variance, sigma2, rtol=rtol)
    assert statistics.effective_n_params == pytest.approx(p_eff, rel=rtol)
    assert statistics.dof == pytest.approx(dof, rel=rtol)
    # The P x P form (a pseudo-inverse keeping eigenvalues above RCOND times
    # the largest) keeps every one here, so it is the same inverse.
    assert np.linalg.cond(A) < 1.0 / RCOND
    dense = fit_statistics(problem, theta)
    assert dense.rank == problem.n_params
    np.testing.assert_allclose(
        prediction_std(dense, theta, X0, layer_sizes, "tanh") ** 2, got**2, rtol=rtol
    )
    assert dense.effective_n_params == pytest.approx(p_eff, rel=rtol)
    assert got.shape == (len(X0), K) and np.all(got > 0)


def test_residual_space_statistics_with_robust_noise_equal_the_dense_form():
    # A robust loss's rows: IRLS weights in the problem's weights, Huber's
    # scale for the noise. The P x P form keeps every eigenvalue here.
    problem, theta, X0 = _wide_statistics_problem(seed=1)
    row_weights = np.random.RandomState(1).uniform(0.3, 1.0, problem.n_samples)
    noise = (row_weights, 0.8)
    problem.sample_weight = problem.sample_weight * row_weights
    dense = fit_statistics(problem, theta, noise=noise)
    assert dense.rank == problem.n_params
    wide = residual_statistics(problem, theta, noise=noise)
    layer_sizes = problem.layer_sizes
    _, _, _, _, A = _dense_delta_method(problem, theta, X0)
    rtol = solve_atol(A, np.ones(1))
    np.testing.assert_allclose(wide.noise_variance, dense.noise_variance, rtol=rtol)
    np.testing.assert_allclose(
        prediction_std(wide, theta, X0, layer_sizes, "tanh") ** 2,
        prediction_std(dense, theta, X0, layer_sizes, "tanh") ** 2,
        rtol=rtol,
    )


def test_residual_space_statistics_refuse_an_unpenalised_weight():
    problem, theta, _ = _wide_statistics_problem()
    problem.set_alpha(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="positive penalty on every weight"):
        residual_statistics(problem, theta)


def test_default_fit_on_wide_data_gives_intervals_quickly():
    # 20 rows x 2,000 features: 20,021 parameters, whose P x P covariance
    # would not fit the default memory budget; the residual form does.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 2000))
    y = X[:, 0] + 0.1 * rng.normal(size=20)
    start = time.perf_counter()
    est = TanhNetRegressor(random_state=0).fit(X, y)
    mean, std = est.predict(X[:5], return_std=True)
    lower, upper = est.predict_interval(X[:5])
    assert time.perf_counter() - start < 2.0
    assert np.all(np.isfinite(std)) and np.all(std > 0)
    assert np.all(lower < mean) and np.all(mean < upper)
    assert est.noise_variance_[0] > 0 and est.effective_n_params_ > 0


def test_wide_data_prediction_intervals_cover_new_points():
    # 40 rows x 50 features, y = x0 + noise: 521 parameters for 40
    # residuals. A memory_budget below the P x P form's 0.016 GiB makes the
    # statistics take the residual form (the fit itself needs far less).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(440, 50))
    y = X[:, 0] + 0.3 * rng.normal(size=440)
    est = TanhNetRegressor((10,), random_state=0, memory_budget=0.01)
    est.fit(X[:40], y[:40])
    assert isinstance(est._committee[0][5], ResidualStatistics)
    lower, upper = est.predict_interval(X[40:], confidence=0.95)
    covered = np.mean((lower <= y[40:]) & (y[40:] <= upper))
    # 400 new points: at a true coverage of 0.95 the measured share has a
    # binomial standard deviation of sqrt(0.95 * 0.05 / 400) = 0.011, so
    # 0.85 is about nine of them below (a real miscalibration, not chance).
    assert 0.85 <= covered <= 1.0


def test_diagnose_says_whether_the_fit_is_at_a_stationary_point():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:150], y[:150]
    # Without run_to_mode a fit ends where the evidence iteration settles or
    # stalls, with the weights still moving: the report says so, and how to
    # go on to the stationary point.
    settled = TanhNetRegressor((4,), run_to_mode=False, random_state=0).fit(X, y)
    report = settled.diagnose(X, y)
    assert not report.at_stationary_point
    assert report.relative_gradient > 1e-6
    text = str(report)
    assert "not at a stationary point" in text
    assert "With alpha='auto' and run_to_mode=False" in text
    assert "run_to_mode=True goes on to a stationary point" in " ".join(text.split())
    assert settled.message_ in text
    # A fixed penalty run to convergence is at a minimum: gradient and
    # curvature from autograd at the fitted weights.
    converged = TanhNetRegressor((4,), alpha=1.0, tol=0.0, max_iter=2000)
    converged.set_params(random_state=0).fit(X, y)
    report = converged.diagnose(X, y)
    assert converged.status_ == "converged", converged.message_
    assert report.at_stationary_point, (report.relative_gradient, str(report))
    assert "at a stationary point: relative gradient" in str(report)


def test_run_to_mode_ends_every_network_of_the_committee_at_a_stationary_point():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:150], y[:150]
    params = dict(hidden_layer_sizes=(4,), n_starts=3, random_state=0)
    # A width given ends where its evidence settles (run_to_mode='auto').
    settled = TanhNetRegressor(**params).fit(X, y)
    report = settled.diagnose(X, y)
    assert len(report.members) == 3 and not report.committee_at_stationary_points
    assert "3 of 3 networks are not at a stationary point" in str(report)
    # With the penalties held where the evidence settled, each network goes
    # on to relative gradient 1e-6 of its own objective within the default
    # max_iter's budget (autograd's gradient and Hessian judge it, not the
    # solver's figures).
    moded = TanhNetRegressor(run_to_mode=True, **params).fit(X, y)
    report = moded.diagnose(X, y)
    assert report.committee_at_stationary_points, str(report)
    assert all(m.relative_gradient <= 1e-6 for m in report.members)
    assert "every network is at a stationary point" in str(report)
    assert all(r["status"] == "converged" for r in moded.members_)


def test_run_to_mode_needs_the_packages_levenberg_marquardt():
    X, y = np.zeros((5, 1)), np.zeros(5)
    for params in (dict(solver="adam"), dict(method="trf")):
        est = TanhNetRegressor((2,), run_to_mode=True, **params)
        with pytest.raises(ValueError, match="run_to_mode=True .* method='lm'"):
            est.fit(X, y)


def _two_pass_covariance(problem, theta):
    """fit_statistics' covariance and p_eff with both passes always taken."""
    from sklearn_tanhnet import _uncertainty as U

    H, rss = U.data_sums(problem, theta)
    penalty = problem.n_outputs * problem.penalty
    penalty = np.minimum(penalty, U.PENALTY_CAP * np.diag(H.sum(0)).max())
    A, _, _ = U._pinv_psd(U._plus_diagonal(H.sum(0), penalty), RCOND)
    dof = problem.weight_sum - np.trace(A @ H.sum(0)) / problem.n_outputs
    sigma2 = np.maximum(rss / dof, 1e-300)
    info = np.einsum("kpq,k->pq", H, sigma2.mean() / sigma2)
    cov, _, _ = U._pinv_psd(U._plus_diagonal(info.copy(), penalty), RCOND)
    return cov * sigma2.mean(), float(np.trace(cov @ info))


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_one_output_statistics_reuse_the_first_pass_with_its_bits(
    monkeypatch, n_outputs
):
    # With one output every noise variance is the mean: the second pass
    # would repeat the first on the same bits, so it is skipped, and the
    # result is still bit for bit the two-pass one.
    from sklearn_tanhnet import _uncertainty as U
    from sklearn_tanhnet._derivatives import LeastSquaresProblem

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, n_outputs))
    problem = LeastSquaresProblem(X, Y, np.ones(30), 0.1, [2, 4, n_outputs])
    theta = rng.normal(size=problem.n_params)
    cov, p_eff = _two_pass_covariance(problem, theta)
    calls = []
    pinv = U._pinv_psd
    monkeypatch.setattr(U, "_pinv_psd", lambda *a: calls.append(1) or pinv(*a))
    statistics = fit_statistics(problem, theta)
    assert len(calls) == (1 if n_outputs == 1 else 2)
    assert statistics.covariance.tobytes() == cov.tobytes()
    assert statistics.effective_n_params == p_eff


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_one_output_residual_statistics_factor_once(monkeypatch, n_outputs):
    from sklearn_tanhnet import _uncertainty as U
    from sklearn_tanhnet._derivatives import LeastSquaresProblem

    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(10, n_outputs))
    problem = LeastSquaresProblem(X, Y, np.ones(10), 20.0, [2, 8, n_outputs])
    theta = rng.normal(size=problem.n_params)
    # The two passes, always both taken.
    lin = problem.network.linearize(theta, problem.X)
    J = lin.jacobian(np.sqrt(problem.sample_weight))
    rss = problem.sample_weight @ (lin.output - problem.Y) ** 2
    cap = U.PENALTY_CAP * np.einsum("mp,mp->p", J, J).max()
    penalty = np.minimum(n_outputs * problem.penalty, cap)
    p_eff = U._residual_factors(J, penalty, problem.mask, RCOND)[-1]
    sigma2 = np.maximum(rss / (problem.weight_sum - p_eff / n_outputs), 1e-300)
    J = J * np.tile(np.sqrt(sigma2.mean() / sigma2), problem.n_samples)[:, None]
    reference = U._residual_factors(J, penalty, problem.mask, RCOND)[1:4]
    calls = []
    factors = U._residual_factors
    monkeypatch.setattr(
        U, "_residual_factors", lambda *a: calls.append(1) or factors(*a)
    )
    statistics = residual_statistics(problem, theta)
    assert len(calls) == (1 if n_outputs == 1 else 2)
    for a, b in zip(statistics.arrays(), reference, strict=True):
        assert a.tobytes() == b.tobytes()
