"""Delta-method uncertainty and Hessian diagnostics from exact derivatives.

All quantities live in the units the network was fitted in (standardised
ones when ``standardize=True``); the estimator scales predictions back.

Conventions (documented in the estimator's Notes):

* Sample weights are frequency weights: the number of observations is
  ``S = sum(w)``, as for the objective, where an integer weight repeats a row.
* Each output ``k`` has its own noise variance
  ``sigma_k^2 = sum_i w_i e_ik^2 / (S - p_eff / K)``, where ``p_eff`` is the
  effective number of parameters (the trace of the hat matrix; the rank when
  ``alpha = 0``).
* The parameter covariance is the pseudo-inverse of the Fisher information
  ``sum_k J_k' W J_k / sigma_k^2 + K alpha D / mean(sigma^2)`` (``D`` selects
  the weights) restricted to its eigenvalues above ``rcond`` times the
  largest: directions the data do not determine (the zero Hessian eigenvalues
  of an over-parameterised network) are left out instead of blowing up.

With fewer data residuals ``M = n K`` than parameters ``P``, where the
``P x P`` form does not fit the memory budget, :func:`residual_statistics`
computes the same covariance in the residual space, as the fit's steps do:
for the information ``J' J`` (rows scaled by ``sqrt(w_i mean(sigma^2) /
sigma_k^2)``) and the diagonal penalty ``Lambda`` on the weights (the biases
flat), Woodbury's identity with ``D = Lambda_w^-1`` and ``C = I + J_w D
J_w'`` (``M x M``) gives the variance of ``g' theta`` as::

    g_w' D g_w - k' C^-1 k + h' (U' C^-1 U)^+ h,
    k = J_w D g_w,  h = g_u - U' C^-1 k,  U = J_u

(the last term integrates the biases out under their flat prior, as
universal kriging does), and ``p_eff = M - tr(C^-1) + tr((U' C^-1 U)^+ U'
C^-2 U)``, the trace of the hat matrix. It is the exact inverse of ``J'J +
Lambda`` where the ``P x P`` form's pseudo-inverse keeps every eigenvalue;
bias directions the data leave undetermined are left out of ``(U' C^-1
U)^+`` as they are of the pseudo-inverse. With ``C = L L'`` the variance
needs ``k' C^-1 k = ||L^-1 k||^2`` and ``U' C^-1 k = (L^-1 U)' L^-1 k``,
which any rotation ``Q`` of ``L^-1`` keeps: the model keeps the ``M x P``
matrix ``Q L^-1 J D`` (orthogonal rows: principal directions, not the
training rows' Jacobians) and ``Q L^-1 U``, for wide data the smaller
sufficient statistic, kept instead of a ``P x P`` covariance.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats

from ._derivatives import LeastSquaresProblem
from ._network import Network, weight_mask
from ._plan import CHUNK_BYTES

RCOND = 1e-6
PENALTY_CAP = 1e3


def _row_chunks(n_rows, n_outputs, n_params):
    step = max(1, CHUNK_BYTES // (8 * n_outputs * n_params))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def weighted_gram(problem, theta, gram_dtype=np.float64):
    """``sum_i w_i g_ik g_ik'`` per output k, shape (K, P, P), block by block.

    ``g_ik`` is the gradient of output k at row i: this is the Gauss-Newton
    matrix of the unnormalised data term, without a dense n x P Jacobian.
    ``gram_dtype`` is the precision of each block's Jacobian and product (the
    sum is double), as in :meth:`LeastSquaresProblem.normal_equations`.
    """
    K, P = problem.n_outputs, problem.n_params
    H = np.zeros((K, P, P))
    root_weight = np.sqrt(problem.sample_weight)
    theta = np.asarray(theta, dtype=float)
    buffer = np.empty(min(problem.block_rows, problem.n_samples) * K * P, gram_dtype)
    for rows in problem.blocks():
        lin = problem.network.linearize(theta, problem.X[rows])
        n_rows = rows.stop - rows.start
        out = buffer[: n_rows * K * P].reshape(n_rows * K, P)
        J = lin.jacobian(root_weight[rows], out=out).reshape(n_rows, K, P)
        for k in range(K):  # a BLAS product per output
            H[k] += J[:, k, :].T @ J[:, k, :]
    return H


def data_sums(problem, theta, gram_dtype=np.float64, row_weights=None):
    """The statistics' sums over rows: :func:`weighted_gram` and the RSS per output.

    With ``row_weights`` (a robust loss's IRLS weights, already in the
    problem's) the RSS is ``sum w rho' (rho' e)^2``, Huber's scale's sum.
    """
    E = problem.output(theta) - problem.Y
    weights = problem.sample_weight
    if row_weights is not None:
        weights = weights * row_weights
    return weighted_gram(problem, theta, gram_dtype), weights @ E**2


def _plus_diagonal(A, diagonal):
    """``A + diag(diagonal)``, in place."""
    A.flat[:: A.shape[0] + 1] += diagonal
    return A


def _same_bits(a, b):
    """Whether two float arrays hold the same bits (``-0.0`` is not ``0.0``)."""
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def _pinv_psd(A, rcond):
    """Pseudo-inverse of a symmetric PSD matrix on eigenvalues > rcond * max."""
    evals, evecs = np.linalg.eigh(A)
    keep = evals > rcond * max(evals[-1], 0.0)
    V = evecs[:, keep]
    return (V / evals[keep]) @ V.T, int(keep.sum()), evals


@dataclass
class FitStatistics:
    """Noise and parameter covariance at a fitted ``theta`` (plain arrays).

    Attributes
    ----------
    covariance : ndarray of shape (n_params, n_params)
        Parameter covariance.
    noise_variance : ndarray of shape (n_outputs,)
        Residual variance per output.
    dof : float
        Residual degrees of freedom per output, ``S - p_eff / K``.
    effective_n_params : float
        Trace of the hat matrix.
    rank : int
        Number of information eigenvalues above ``rcond`` times the largest.
    rcond : float
        The relative cutoff.
    """

    covariance: np.ndarray
    noise_variance: np.ndarray
    dof: float
    effective_n_params: float
    rank: int
    rcond: float


def _residual_dof(S, p_eff, K):
    """Residual degrees of freedom per output, ``S - p_eff / K``; a
    ValueError when none are left."""
    # Rounding leaves p_eff a hair off an integer: demand a real margin.
    dof = S - p_eff / K
    if dof <= 1e-6 * S:
        raise ValueError(
            f"No residual degrees of freedom: sum(sample_weight)={S:g} and "
            f"{p_eff:.3g} effective parameters for {K} output(s). The network "
            "interpolates its training rows, which leave nothing to estimate "
            "the noise from; more rows, fewer hidden units or a larger fixed "
            "alpha leave some."
        )
    return dof


def fit_statistics(problem, theta, rcond=RCOND, gram_dtype=np.float64, noise=None):
    """Delta-method statistics of ``problem`` at ``theta``.

    ``noise=(row_weights, consistency)``: the problem's rows carry a robust
    loss's IRLS weights, and the noise variance is Huber's consistent
    ``sum w (rho' e)^2 / (dof consistency)`` (:mod:`._robust`).
    """
    K, S = problem.n_outputs, problem.weight_sum
    row_weights = None if noise is None else noise[0]
    H, rss = problem.sum_over_partitions(data_sums, theta, gram_dtype, row_weights)
    if noise is not None:
        rss = rss / noise[1]
        S = float((problem.sample_weight / row_weights).sum())  # rows, unweighted
    penalty = K * problem.penalty  # the diagonal: no P x P copy at the peak

    # A penalty far beyond the data's largest curvature pins its weights
    # (ARD's irrelevant inputs reach 1e12): capped at PENALTY_CAP times that
    # curvature it still does, and the eigenvalue cutoff stays relative to
    # the data's information rather than to the penalty's.
    gram = H.sum(0)
    data_scale = max(float(np.diag(gram).max()), 1e-300)
    penalty = np.minimum(penalty, PENALTY_CAP * data_scale)
    # First pass with one common variance gives p_eff and so the dof.
    A, rank, _ = _pinv_psd(_plus_diagonal(gram.copy(), penalty), rcond)
    first_p_eff = np.trace(A @ gram)
    sigma2 = np.maximum(rss / _residual_dof(S, first_p_eff, K), 1e-300)
    # The information in units of the mean noise variance: H / sigma2 itself
    # overflows where the weights span float64's range (H of a weight 1e200
    # over a variance 1e-199), though the covariance ``mean(sigma2) * cov``
    # and the standard errors from it are representable.
    info_data = np.einsum("kpq,k->pq", H, sigma2.mean() / sigma2)
    if _same_bits(info_data, gram):
        # One output (or equal variances): the second pass would take the
        # same matrix through the same operations, so its results are the
        # first pass's, bit for bit.
        cov, p_eff = A, float(first_p_eff)
    else:
        cov, rank, _ = _pinv_psd(_plus_diagonal(info_data.copy(), penalty), rcond)
        p_eff = float(np.trace(cov @ info_data))
    cov = cov * sigma2.mean()
    return FitStatistics(cov, sigma2, _residual_dof(S, p_eff, K), p_eff, rank, rcond)


@dataclass
class ResidualStatistics:
    """Noise and parameter covariance in the residual space (plain arrays).

    The covariance ``mean(noise_variance) * (J'J + Lambda)^-1`` in factors
    (see the module docstring), for fewer data residuals ``M`` than
    parameters ``P``: no ``P x P`` matrix.

    Attributes
    ----------
    prior_variance : ndarray of shape (n_params,)
        ``D``: the inverse penalty of each weight, zero on the biases.
    row_map : ndarray of shape (M, n_params)
        ``Q L^-1 J D``: ``J`` the data Jacobian at the fit (rows scaled by
        the square root of their weight over their output's relative noise
        variance), ``L`` the lower Cholesky factor of ``C = I + J D J'`` and
        ``Q`` the orthogonal matrix that makes the rows orthogonal (the
        eigenvectors of ``L^-1 J D^2 J' L^-T``). The variance needs only
        ``||L^-1 J D g||``, which ``Q`` keeps: the rows are principal
        directions, not the training rows' Jacobians.
    bias_map : ndarray of shape (M, n_biases)
        ``Q L^-1 U``, ``U`` the biases' columns of ``J``.
    bias_precision : ndarray of shape (n_biases, n_biases)
        ``(U' C^-1 U)^+``, the biases' flat-prior correction.
    noise_variance : ndarray of shape (n_outputs,)
        Residual variance per output.
    dof : float
        Residual degrees of freedom per output, ``S - p_eff / K``.
    effective_n_params : float
        Trace of the hat matrix.
    rcond : float
        The relative cutoff of the biases' pseudo-inverse.
    """

    prior_variance: np.ndarray
    row_map: np.ndarray
    bias_map: np.ndarray
    bias_precision: np.ndarray
    noise_variance: np.ndarray
    dof: float
    effective_n_params: float
    rcond: float

    def arrays(self):
        """The arrays a finite fit has finite."""
        return (self.row_map, self.bias_map, self.bias_precision)

    def parameter_variance(self, G):
        """``g' Sigma g`` for each row ``g`` of ``G`` (fitted units), shape (n,)."""
        D = self.prior_variance
        biases = D == 0
        Z = self.row_map @ G.T
        Hb = G[:, biases] - (self.bias_map.T @ Z).T
        var = np.einsum("np,np,p->n", G, G, D) - np.einsum("mn,mn->n", Z, Z)
        var += np.einsum("nb,bc,nc->n", Hb, self.bias_precision, Hb)
        return var * self.noise_variance.mean()


def _residual_factors(J, penalty, mask, rcond):
    """``D``, ``Q L^-1 J D``, ``Q L^-1 U``, ``(U'C^-1 U)^+`` and ``p_eff``."""
    D = np.zeros(J.shape[1])
    D[mask] = 1.0 / penalty[mask]
    JD = J * D
    C = JD @ J.T
    C.flat[:: C.shape[0] + 1] += 1.0
    L = linalg.cholesky(C, lower=True, check_finite=False)
    L_inv = linalg.solve_triangular(
        L, np.eye(L.shape[0]), lower=True, check_finite=False
    )
    LU = L_inv @ J[:, ~mask]
    B_pinv, _, _ = _pinv_psd(LU.T @ LU, rcond)
    CU = L_inv.T @ LU  # C^-1 U
    p_eff = J.shape[0] - float(np.vdot(L_inv, L_inv))
    p_eff += float(np.vdot(CU @ B_pinv, CU))
    # Rotated to principal directions: a saved model keeps no training row's
    # Jacobian (L^-1 is triangular, so its first row would be the first
    # training row's, scaled).
    W = L_inv @ JD
    del JD  # at most three M x P arrays at once (residual_statistics_bytes)
    _, Q = np.linalg.eigh(W @ W.T)
    return D, Q.T @ W, Q.T @ LU, B_pinv, p_eff


def residual_statistics(problem, theta, rcond=RCOND, noise=None):
    """:func:`fit_statistics` in the residual space, for fewer residuals than
    parameters; see the module docstring.

    Needs a positive penalty on every weight (else the covariance of an
    over-parameterised network is unbounded) and the rows in memory.
    """
    if problem.X.shape[0] != problem.n_samples:  # a Dask fit's partitions
        raise ValueError(
            "the residual-space statistics need the training rows in memory, not "
            "in partitions; refit from a NumPy array to have intervals."
        )
    K, S = problem.n_outputs, problem.weight_sum
    mask = problem.mask
    if not np.all(problem.penalty[mask] > 0):
        raise ValueError(
            "with fewer observations than parameters the parameter covariance "
            "needs a positive penalty on every weight, got alpha=0 for some. "
            "Refit with alpha='auto' or a positive alpha to have intervals."
        )
    theta = np.asarray(theta, dtype=float)
    lin = problem.network.linearize(theta, problem.X)
    J = lin.jacobian(np.sqrt(problem.sample_weight))
    E = lin.output - problem.Y
    weights = problem.sample_weight
    if noise is not None:
        weights = weights * noise[0]
    rss = weights @ E**2
    if noise is not None:
        rss = rss / noise[1]
        S = float((problem.sample_weight / noise[0]).sum())  # rows, unweighted

    # As in fit_statistics: the penalty capped relative to the data's
    # largest curvature, a first pass with one common variance.
    data_scale = max(float(np.einsum("mp,mp->p", J, J).max()), 1e-300)
    penalty = np.minimum(K * problem.penalty, PENALTY_CAP * data_scale)
    factors = _residual_factors(J, penalty, mask, rcond)
    sigma2 = np.maximum(rss / _residual_dof(S, factors[-1], K), 1e-300)
    # Each output's rows over its relative noise variance (rows are i K + k).
    relative = np.sqrt(sigma2.mean() / sigma2)
    if not (relative == 1.0).all():
        # (A factor of one leaves J's bits as they are: the first pass's
        # factors are then the second's.)
        J *= np.tile(relative, problem.n_samples)[:, None]
        factors = _residual_factors(J, penalty, mask, rcond)
    D, row_map, bias_map, B_pinv, p_eff = factors
    return ResidualStatistics(
        D, row_map, bias_map, B_pinv, sigma2, _residual_dof(S, p_eff, K), p_eff, rcond
    )


class DeferredStatistics:
    """What :func:`fit_statistics` needs, to compute the statistics on first use.

    It holds the fitted (scaled) training data, so a model saved before its
    first use holds them too, as a Gaussian process holds its training set;
    :meth:`resolve` computes once and lets the data go.
    """

    def __init__(self, problem, theta, gram_dtype, noise=None, residual=False):
        self.arrays = (problem.X, problem.Y, problem.sample_weight, problem.penalty)
        self.layer_sizes, self.activation = problem.layer_sizes, problem.activation
        self.theta, self.gram_dtype, self.noise = theta, gram_dtype, noise
        self.residual = residual
        self.result = None

    def resolve(self, compute):
        """``compute(problem, theta, gram_dtype, noise, residual)``'s result,
        computed once."""
        if self.result is None:
            X, Y, sample_weight, penalty = self.arrays
            problem = LeastSquaresProblem(
                X,
                Y,
                sample_weight,
                penalty[weight_mask(self.layer_sizes)],  # one per weight
                self.layer_sizes,
                self.activation,
            )
            residual = getattr(self, "residual", False)  # models saved before
            self.result = compute(
                problem, self.theta, self.gram_dtype, self.noise, residual
            )
            self.arrays = None
        return self.result


def prediction_std(statistics, theta, X, layer_sizes, activation):
    """Standard error of the fitted mean at each row of ``X``, shape (n, K)."""
    network = Network(layer_sizes, activation)
    K, P = layer_sizes[-1], network.n_params
    var = np.empty((X.shape[0], K))
    for rows in _row_chunks(X.shape[0], K, P):
        G = network.linearize(theta, X[rows]).jacobian()
        if isinstance(statistics, ResidualStatistics):
            var[rows] = statistics.parameter_variance(G).reshape(-1, K)
            continue
        G = G.reshape(-1, K, P)
        var[rows] = np.einsum("nkp,pq,nkq->nk", G, statistics.covariance, G)
    return np.sqrt(np.maximum(var, 0.0))


def mixture_interval(means, scales, dofs, confidence, iterations=100):
    """Central interval of an equal-weight mixture of scaled Student-t's.

    Member ``m`` is ``means[m] + scales[m] * T(dofs[m])`` at every point;
    the bounds solve ``mean_m F_m(q) = (1 -/+ confidence) / 2`` by bisection,
    between the members' own extreme bounds (which bracket the mixture's).

    Parameters
    ----------
    means, scales : ndarray of shape (n_members, n_samples, n_outputs)
    dofs : sequence of float, one per member
    confidence : float

    Returns
    -------
    lower, upper : ndarray of shape (n_samples, n_outputs)
    """
    halves = np.stack([t_quantile(confidence, dof) * s for s, dof in zip(scales, dofs)])
    dofs = np.asarray(dofs, dtype=float)[:, None, None]
    bounds = []
    for tail in ((1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0):
        low = (means - halves).min(axis=0)
        high = (means + halves).max(axis=0)
        for _ in range(iterations):
            mid = 0.5 * (low + high)
            below = stats.t.cdf((mid - means) / scales, dofs).mean(axis=0) < tail
            low, high = np.where(below, mid, low), np.where(below, high, mid)
        bounds.append(0.5 * (low + high))
    return bounds[0], bounds[1]


def warn_few_residual_dof(statistics, n_outputs):
    """Warn when the noise variance rests on fewer residual degrees of freedom
    than the fit has effective parameters (per output).

    The variance is ``RSS / (S - p_eff / K)``: past that point the division
    more than doubles the residuals' own estimate, and the correction rests
    on ``p_eff``, a count from the linearised network that misses the
    directions a weakly penalised fit bends along (those below ``rcond``).
    There the residuals say little about the noise, and the intervals are
    too narrow.
    """
    per_output = statistics.effective_n_params / n_outputs
    if statistics.dof >= per_output:
        return
    warnings.warn(
        f"The intervals rest on a noise variance with {statistics.dof:.3g} "
        f"residual degrees of freedom for {per_output:.3g} effective parameters "
        "(per output): the fit has spent most of the data on its parameters, "
        "and the intervals are likely too narrow. Use a larger alpha (or "
        "alpha='auto'), a smaller network or more data, and check coverage on "
        "held-out data.",
        UserWarning,
    )


def t_quantile(confidence, dof):
    """Two-sided Student-t quantile for ``confidence``."""
    return stats.t.ppf(0.5 + confidence / 2.0, dof)


# A fit is at a stationary point that is a minimum to rounding when its
# relative gradient ||g|| / (1 + |F|) is at most STATIONARY_GTOL and no
# eigenvalue of its exact Hessian is below -NEGATIVE_CURVATURE_RTOL times the
# largest.
STATIONARY_GTOL = 1e-6
NEGATIVE_CURVATURE_RTOL = 1e-8


@dataclass
class Diagnostics:
    """What :meth:`TanhNetRegressor.diagnose` reports.

    Attributes
    ----------
    gradient_norm : float
        Euclidean norm of the objective's gradient at the solution.
    hessian_eigenvalues : ndarray of shape (n_params,)
        Eigenvalues of the exact (autograd) Hessian of the objective,
        descending.
    gauss_newton_eigenvalues : ndarray of shape (n_params,)
        Eigenvalues of the Gauss-Newton matrix ``J' J``, descending.
    rank : int
        Hessian eigenvalues above ``rcond`` times the largest.
    rcond : float
        The relative cutoff.
    condition_number : float
        Largest over smallest Hessian eigenvalue (inf when not positive).
    n_params : int
        Number of parameters.
    effective_n_params : float
        Trace of the hat matrix (the rank when ``alpha = 0``).
    standard_errors : ndarray of shape (n_params,)
        Delta-method standard errors of the (fitted-units) parameters; zero
        along undetermined directions.
    loss : float
        Objective at the solution.
    covariance : ndarray of shape (n_params, n_params)
        Delta-method covariance of the (fitted-units) parameters, restricted
        to the well-determined subspace.
    feature_relevance : dict or None
        With ``ard=True``: each input's share of the prior variance of the
        first layer's weights (``feature_relevance_``), by name.
    stop_reason : str or None
        Why the fit ended (the estimator's ``message_``).
    penalties_estimated : bool
        Whether the fit estimated its penalties (``alpha='auto'``).
    members : list of Diagnostics or None
        For a committee of several networks: each member's diagnostics, the
        representative's (these attributes') first. None for one network.
    member_widths : list of tuple of int or None
        The members' hidden layer sizes, in the same order.
    """

    gradient_norm: float
    hessian_eigenvalues: np.ndarray
    gauss_newton_eigenvalues: np.ndarray
    rank: int
    rcond: float
    condition_number: float
    n_params: int
    effective_n_params: float
    standard_errors: np.ndarray
    loss: float
    covariance: np.ndarray = None
    feature_relevance: dict = None
    stop_reason: str = None
    penalties_estimated: bool = False
    members: list = None
    member_widths: list = None

    @property
    def relative_gradient(self):
        """``gradient_norm / (1 + |loss|)``."""
        return self.gradient_norm / (1.0 + abs(self.loss))

    @property
    def at_stationary_point(self):
        """Whether the fit is at a stationary point that is a minimum to
        rounding: relative gradient at most ``STATIONARY_GTOL`` and no
        Hessian eigenvalue below ``-NEGATIVE_CURVATURE_RTOL`` times the
        largest."""
        h = self.hessian_eigenvalues
        return bool(
            self.relative_gradient <= STATIONARY_GTOL
            and h[-1] >= -NEGATIVE_CURVATURE_RTOL * h[0]
        )

    @property
    def committee_at_stationary_points(self):
        """Whether every network of the committee (or the one network) is
        at a stationary point that is a minimum to rounding."""
        return all(m.at_stationary_point for m in (self.members or [self]))

    def _committee_lines(self):
        if not self.members:
            return []
        lines = [
            f"  committee of {len(self.members)} networks (predictions: their "
            "mean; intervals: their mixture); the figures above are the first's:",
            "    width          relative gradient   lowest eigenvalue / largest   rank",
        ]
        for width, member in zip(self.member_widths, self.members):
            h = member.hessian_eigenvalues
            lines.append(
                f"    {str(width):<14} {member.relative_gradient:<19.2e} "
                f"{h[-1] / h[0]:<29.2e} {member.rank}/{member.n_params}"
            )
        return lines

    def _verdict(self):
        lines = self._committee_lines()
        if self.committee_at_stationary_points:
            which = "every network is" if self.members else "the fit is"
            return lines + [
                f"  {which} at a stationary point: relative gradient <= "
                f"{STATIONARY_GTOL:g}, no Hessian eigenvalue below "
                f"-{NEGATIVE_CURVATURE_RTOL:g} x the largest."
            ]
        if self.members:
            n_off = sum(not m.at_stationary_point for m in self.members)
            lines.append(
                f"  {n_off} of {len(self.members)} networks are not at a stationary "
                "point: the Laplace quantities (intervals,"
            )
        else:
            lines.append(
                "  not at a stationary point: the Laplace quantities (intervals,"
            )
        lines.append("  log evidence, these errors) are taken where the fit stopped.")
        if self.penalties_estimated:
            lines += [
                "  With alpha='auto' and run_to_mode=False (what 'auto' does for a",
                "  width you give, or on large data) a network ends where the",
                "  evidence iteration settles or stalls: the penalties' estimates",
                "  stop changing before the weights converge at them.",
                "  run_to_mode=True goes on to a stationary point at those",
                "  penalties (a network that did not reach it within its budget",
                "  needs a larger max_iter).",
            ]
        else:
            lines.append(
                "  Fit longer (run_to_mode=True, or tol=0 and a larger max_iter) "
                "to reach one."
            )
        if self.stop_reason:
            lines.append(f"  Why the fit ended: {self.stop_reason}")
        return lines

    def report(self, eigenvalues="list"):
        """The readable report (``str(diagnostics)``).

        Parameters
        ----------
        eigenvalues : {'list', 'summary'}, default='list'
            Every Hessian eigenvalue relative to the largest, or one line:
            how many, the largest, the smallest and how many are negative.
        """
        h = self.hessian_eigenvalues
        cutoff = self.rcond * h[0]
        n_negative = int(np.sum(h < -cutoff))
        if eigenvalues == "summary":
            spectrum = [
                f"  Hessian eigenvalues     {h.size}: largest {h[0]:.3e}, smallest "
                f"{h[-1]:.3e}, {n_negative} negative (below -{self.rcond:g} x "
                "largest)"
            ]
        else:
            spectrum = [
                "  Hessian eigenvalues / largest:",
                "    "
                + np.array2string(
                    h / h[0], precision=2, separator=", ", max_line_width=76
                ).replace("\n", "\n    "),
            ]
        lines = [
            "TanhNet diagnostics",
            f"  objective               {self.loss:.6g}",
            f"  gradient norm           {self.gradient_norm:.3e} "
            f"(relative {self.relative_gradient:.2e})",
            f"  parameters              {self.n_params}",
            f"  numerical rank          {self.rank} "
            f"(Hessian eigenvalues > {self.rcond:g} x largest)",
            f"  effective parameters    {self.effective_n_params:.2f}",
            f"  condition number        {self.condition_number:.3e}",
            *spectrum,
        ]
        n_flat = self.n_params - self.rank - n_negative
        if n_flat:
            lines.append(
                f"  {n_flat} direction(s) are not determined by the data: the model "
                "has more parameters than it needs."
            )
        if n_negative:
            lines.append(
                f"  {n_negative} negative eigenvalue(s): the fit is not at a minimum "
                "(a saddle, or still moving)."
            )
        lines += self._verdict()
        if self.feature_relevance:
            lines.append(
                "  inputs by relevance (share of the first layer's prior variance):"
            )
            ranked = sorted(self.feature_relevance.items(), key=lambda kv: -kv[1])
            lines += [f"    {name:<20} {share:.3f}" for name, share in ranked]
        return "\n".join(lines)

    def __str__(self):
        return self.report()

    def __repr__(self):
        return self.report()


def neighbour_explained_share(X, Y, residuals, sample_weight, n_neighbours=10):
    """Share of the target's variance a smoother of the residuals recovers.

    Each row's residual is predicted by the weighted mean residual of its
    ``n_neighbours`` nearest other rows (Euclidean, in the columns of ``X``
    as given: standardised ones). Where the residuals are noise the smoother
    predicts nothing and the share is at or below zero; where the fit missed
    structure that varies smoothly with ``X`` (a poor local minimum) it
    recovers part of it. Returns the largest share over the outputs:
    ``sum w (e^2 - (e - e_smooth)^2) / sum w (y - mean y)^2``, or None when
    the target is constant.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y, residuals : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,)
    n_neighbours : int, default=10
    """
    w = sample_weight / sample_weight.sum()
    squared = np.einsum("ij,ij->i", X, X)
    distance = squared[:, None] + squared[None, :] - 2.0 * (X @ X.T)
    np.fill_diagonal(distance, np.inf)  # leave each row out of its own smoother
    neighbours = np.argpartition(distance, n_neighbours - 1, axis=1)[:, :n_neighbours]
    neighbour_weights = w[neighbours]  # a row of weight zero predicts nothing
    totals = neighbour_weights.sum(axis=1, keepdims=True)
    smoothed = np.einsum("ij,ijk->ik", neighbour_weights, residuals[neighbours])
    smoothed = smoothed / np.where(totals > 0, totals, 1.0)
    recovered = w @ (residuals**2 - (residuals - smoothed) ** 2)
    total = w @ (Y - w @ Y) ** 2
    if not np.any(total > 0):
        return None
    return float(np.max(recovered[total > 0] / total[total > 0]))


def diagnose(problem, theta, rcond=RCOND):
    """Hessian spectrum, rank, conditioning and standard errors at ``theta``."""
    theta = np.asarray(theta, dtype=float)
    Hess = problem.hessian(theta)
    h = np.linalg.eigvalsh((Hess + Hess.T) / 2)[::-1]
    gn = np.linalg.eigvalsh(problem.gauss_newton(theta))[::-1]
    rank = int(np.sum(h > rcond * h[0]))
    statistics = fit_statistics(problem, theta, rcond)
    gradient_norm = float(np.linalg.norm(problem.gradient(theta)))
    loss = problem.loss(theta)
    return Diagnostics(
        gradient_norm=gradient_norm,
        hessian_eigenvalues=h,
        gauss_newton_eigenvalues=gn,
        rank=rank,
        rcond=rcond,
        condition_number=float(h[0] / h[-1]) if h[-1] > 0 else np.inf,
        n_params=theta.size,
        effective_n_params=statistics.effective_n_params,
        standard_errors=np.sqrt(np.maximum(np.diag(statistics.covariance), 0.0)),
        loss=loss,
        covariance=statistics.covariance,
    )
