"""MacKay's evidence framework for the weight penalties, from the normal equations.

With noise precision ``beta`` and a Gaussian prior of precision ``a_g`` on the
weights of group ``g`` (one group per layer), the most probable parameters
minimise the package's objective with ``alpha_g = a_g / (K beta)`` (MacKay
1992). Writing the objective's Gauss-Newton matrix ``A = J'J + Lambda``
(``Lambda = alpha / S`` on the weights, see :mod:`._derivatives`), at those
parameters::

    gamma_g = n_g - tr_g(Lambda A^-1)          (well-determined weights of g)
    gamma   = P - tr(Lambda A^-1)              (effective number of parameters)
    beta    = (N - gamma) / (2 E_D),           a_g = gamma_g / (2 E_W,g)

with ``N = K S`` observations, ``E_D = N * data_loss`` half the weighted
residual sum of squares and ``E_W,g`` half the squared norm of group ``g``'s
weights. The log evidence, in the Laplace approximation (exact for a
linear network), with a flat prior of unit density on each of the ``P_b``
biases (in the standardised units the network is fitted in), is::

    log p(D | a, beta) = sum_g (n_g / 2 log a_g - a_g E_W,g) - beta E_D
                         + N / 2 log(beta / 2 pi) + P_b / 2 log(2 pi)
                         - 1 / 2 log det(beta S K A).

For comparing models (widths, restarts) :func:`model_log_evidence` adds
MacKay's (1992) Occam factors of the hyperparameters, ``1/2 log(2 /
gamma_g)`` for each penalty and ``1/2 log(2 / (N - gamma))`` for the noise.
MacKay also adds the log of the ``2^h h!`` equivalent modes of each hidden
layer of ``h`` odd-activated units (permutations and sign flips; ``h!`` for
the others); ``symmetry=True`` does. It counts distinct modes, but the
spare units of a wide network make the modes coincide, and the factor
(22 nats for 10 units) then buys width the data do not support: by default
it is left out (docs/benchmarks.rst has the measurement).

Foresee and Hagan (1997) apply one such update after every Levenberg-Marquardt
step (MATLAB's ``trainbr``); :class:`~._lm.LevenbergMarquardt` does, from the
Gauss-Newton matrix it has already accumulated.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg.lapack import dpotrf, dpotri

# Bounds that keep the re-estimates finite on degenerate fits: at least this
# share of the observations stays as noise, a group keeps this many
# well-determined weights, and a penalty is at most this many times S.
MIN_NOISE_SHARE = 1e-3
MIN_GAMMA = 1e-3
MAX_ALPHA = 1e12


# The evidence iteration has settled when the effective number of parameters
# and the noise precision change by less than this, relatively, between two
# successive estimates (both are invariant under the rescalings of tanh units
# that let per-layer penalties drift without changing the fit). One rule for
# every solver: the Levenberg-Marquardt loop asks it after each step (twice in
# a row, EVIDENCE_PATIENCE), the solvers that re-estimate between runs after
# each run.
EVIDENCE_RTOL = 2e-2


def evidence_settled(previous, current, penalty_negligible, rtol=EVIDENCE_RTOL):
    """Whether two successive :class:`Evidence` estimates count as settled.

    ``gamma`` and ``beta`` changed by at most ``rtol`` relatively; where the
    penalty no longer matters (``penalty_negligible``: noise-free data drive
    ``beta`` up without end) ``gamma`` alone. False without a ``previous``.
    """
    if previous is None:
        return False
    stable_gamma = abs(current.gamma - previous.gamma) <= rtol * abs(previous.gamma)
    stable_beta = abs(current.beta - previous.beta) <= rtol * abs(previous.beta)
    return stable_gamma and (stable_beta or penalty_negligible)


@dataclass
class Evidence:
    """One evidence update.

    Attributes
    ----------
    alphas : ndarray of shape (n_groups,)
        Re-estimated penalties, in the units of the objective's ``alpha``.
    gamma : float
        Effective number of parameters at the current penalties.
    beta : float
        Noise precision per unit-weight observation (fitted units).
    log_evidence : float
        Laplace approximation of the log evidence at the current penalties
        (the marginal likelihood of the data given them); larger is better.
    gamma_groups : ndarray of shape (n_groups,)
        Effective number of parameters of each group's weights.
    n_observations : float
        ``N = K S``.
    """

    alphas: np.ndarray
    gamma: float
    beta: float
    log_evidence: float
    gamma_groups: np.ndarray = None
    n_observations: float = None


# For comparing models the biases need a proper prior (a flat one rewards
# every bias the data leave undetermined, as the spare units of a wide
# network): N(0, 1) in the standardised units the network is fitted in.
BIAS_PRECISION = 1.0

# Activations whose units can flip sign with their outgoing weights
# (f(-z) = -f(z)): 2^h h! equivalent modes per hidden layer instead of h!.
ODD_ACTIVATIONS = ("tanh", "sin", "identity")


def model_log_evidence(
    evidence, hidden_layer_sizes, activation, symmetry=False, estimated_penalties=True
):
    """The log evidence of the model: :class:`Evidence`'s plus Occam factors.

    See the module docstring: the hyperparameters' Occam factors (MacKay
    1992, from integrating each log-penalty and the log-noise-precision over
    their Gaussian posteriors) and, with ``symmetry``, the equivalent modes
    of the hidden units. Penalties fixed by the user
    (``estimated_penalties=False``) are not integrated over: only the noise
    precision's Occam factor is added.
    """
    noise_dof = max(evidence.n_observations - evidence.gamma, MIN_GAMMA)
    occam = 0.5 * math.log(2.0 / noise_dof)
    if estimated_penalties:
        gamma_groups = np.maximum(evidence.gamma_groups, MIN_GAMMA)
        occam += 0.5 * float(np.log(2.0 / gamma_groups).sum())
    if not symmetry:
        return evidence.log_evidence + occam
    odd = isinstance(activation, str) and activation in ODD_ACTIVATIONS
    modes = sum(
        math.lgamma(h + 1) + (h * math.log(2.0) if odd else 0.0)
        for h in hidden_layer_sizes
    )
    return evidence.log_evidence + occam + modes


def inverse_diagonal(A):
    """Diagonal and log-determinant of ``A^-1`` for a symmetric PSD ``A``.

    Cholesky when ``A`` is positive definite; otherwise the pseudo-inverse on
    the eigenvalues above ``1e-12`` times the largest (directions the data
    and the penalty leave undetermined contribute nothing).
    """
    L, info = dpotrf(A, lower=1, clean=0)
    diagonal = L.diagonal()
    # A factorisation that completes with pivots at rounding level belongs
    # to a numerically singular A: take the pseudo-inverse instead. Each
    # pivot is judged against its own column's diagonal (the share of the
    # column the earlier ones leave unexplained): Cholesky's accuracy
    # depends on the condition of A scaled to a unit diagonal, and ARD's
    # penalties (up to MAX_ALPHA) must not make a well-determined direction
    # of small curvature look singular beside them.
    if info == 0 and (diagonal**2 > 1e-12 * A.diagonal()).all():
        log_det = 2.0 * float(np.log(diagonal).sum())
        inverse, info = dpotri(L, lower=1, overwrite_c=1)
        if info == 0:
            return inverse.diagonal().copy(), log_det
    evals, evecs = np.linalg.eigh(A)
    keep = evals > 1e-12 * max(evals[-1], 0.0)
    V = evecs[:, keep]
    return (V * V) @ (1.0 / evals[keep]), float(np.log(evals[keep]).sum())


def _bias_range(bias_jacobian):
    """The eigenvalues of ``B = J_u'J_u``, which of them count (above
    ``1e-12`` times the largest), and an orthonormal basis of the range of
    ``J_u`` (one column per kept eigenvalue)."""
    n_rows, n_biases = bias_jacobian.shape
    if n_biases <= n_rows:
        evals, evecs = np.linalg.eigh(bias_jacobian.T @ bias_jacobian)
        keep = evals > 1e-12 * max(evals[-1], 0.0)
        basis = (bias_jacobian @ evecs[:, keep]) / np.sqrt(evals[keep])
        return evals, keep, basis
    # More biases than residuals (a wide layer): J_u J_u' has B's nonzero
    # eigenvalues and its eigenvectors are the range of J_u itself, with no
    # n_biases x n_biases matrix; B's other eigenvalues are zero.
    evals, basis = np.linalg.eigh(bias_jacobian @ bias_jacobian.T)
    keep = evals > 1e-12 * max(evals[-1], 0.0)
    padding = n_biases - n_rows
    basis = basis[:, keep]
    evals = np.r_[np.zeros(padding), evals]
    return evals, np.r_[np.zeros(padding, dtype=bool), keep], basis


def residual_space_shrinkage(
    weight_kernels, bias_jacobian, layer_penalties, sizes, bias_penalty=0.0
):
    """``tr_l(Lambda A^-1)`` per layer and ``log det A`` from ``M x M`` matrices.

    For fewer residuals ``M`` than parameters, with one penalty ``lam_l`` on
    the ``n_l`` weights of each layer and none on the biases. ``G_l = J_l
    J_l'`` is layer ``l``'s weight kernel and ``J_u`` the biases' Jacobian
    (:meth:`~._network.Linearization.residual_kernels`). With ``Q`` the
    projection off the range of ``J_u`` (the part the biases fit; ``B = J_u'
    J_u``), the Schur complement of ``A = J'J + Lambda`` on the biases is
    ``Lambda_w + J_w' Q J_w`` and, with ``C = I + Q (sum_l G_l / lam_l) Q``
    (Woodbury's identity)::

        tr_l(Lambda A^-1) = n_l - tr(C^-1 Q G_l Q) / lam_l
        log det A = log det+ B + sum_l n_l log lam_l + log det C

    (``B^+`` and ``det+`` on the eigenvalues of ``B`` above ``1e-12`` times
    the largest, as :func:`inverse_diagonal` does for ``A``). With a penalty
    ``lam_b`` on the biases too, ``B`` becomes ``J_u'J_u + lam_b I`` and ``Q``
    the soft projection ``I - J_u B^-1 J_u'``, entering as ``Q^1/2``.

    Parameters
    ----------
    weight_kernels : list of ndarray of shape (M, M)
    bias_jacobian : ndarray of shape (M, n_biases)
    layer_penalties : ndarray of shape (n_layers,)
        ``lam_l``, positive.
    sizes : ndarray of shape (n_layers,)
        ``n_l``, the number of weights of each layer.
    bias_penalty : float, default=0.0
        ``lam_b``.

    Returns
    -------
    shrinkage : ndarray of shape (n_layers,)
    log_det : float
    """
    evals, keep, basis = _bias_range(bias_jacobian)
    # Q^1/2 = I + V diag(d) V' on the range V of J_u (d = -1: the projection).
    d = np.sqrt(bias_penalty / (evals[keep] + bias_penalty)) - 1.0

    def project(G):
        # (I + V D V') G (I + V D V') = G + V T' + T V', with
        # T = G V D + V D (V'G V) D / 2: two products.
        GVD = (G @ basis) * d
        T = GVD + 0.5 * (basis * d) @ (basis.T @ GVD)
        return G + np.hstack([basis, T]) @ np.hstack([T, basis]).T

    total = weight_kernels[0] / layer_penalties[0]
    for G, lam in zip(weight_kernels[1:], layer_penalties[1:]):
        total += G / lam
    inner = project(total)
    inner.flat[:: inner.shape[0] + 1] += 1.0
    L, info = dpotrf(inner, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise LinAlgError(f"I + Q G Q is not positive definite (LAPACK info={info})")
    if bias_penalty > 0:
        bias_log_det = float(np.log(np.maximum(evals, 0.0) + bias_penalty).sum())
    else:
        bias_log_det = float(np.log(evals[keep]).sum())
    log_det = bias_log_det + 2.0 * float(np.log(L.diagonal()).sum())
    log_det += float((sizes * np.log(layer_penalties)).sum())
    lower, info = dpotri(L, lower=1, overwrite_c=1)
    if info != 0:
        raise LinAlgError(f"I + Q G Q could not be inverted (LAPACK info={info})")
    # dpotri leaves the strict upper triangle zero (clean=1): mirror it.
    inverse = lower + lower.T
    inverse.flat[:: inverse.shape[0] + 1] *= 0.5
    # tr(C^-1 Q G_l Q) = <Q C^-1 Q, G_l>: one projection for every layer.
    projected_inverse = project(inverse)
    terms = zip(weight_kernels, layer_penalties, sizes)
    shrinkage = np.array(
        [n - np.vdot(projected_inverse, G) / lam for G, lam, n in terms]
    )
    return shrinkage, log_det


def problem_evidence(
    problem,
    theta,
    alphas,
    inverse_diag,
    log_det,
    data_loss,
    shrinkage=None,
    bias_precision=None,
):
    """:func:`evidence_update` with the weights, groups and sizes of ``problem``.

    With ``shrinkage`` (``tr_g(Lambda A^-1)`` per group, e.g. from
    :func:`residual_space_shrinkage`) ``inverse_diag`` is not needed.
    """
    if shrinkage is None:
        shrinkage = group_shrinkage(
            inverse_diag, alphas, problem.groups, problem.mask, problem.weight_sum
        )
    return evidence_from_shrinkage(
        shrinkage,
        log_det,
        theta,
        alphas,
        problem.groups,
        problem.mask,
        data_loss,
        problem.weight_sum,
        problem.n_outputs,
        bias_precision,
        problem.group_sizes,
    )


def group_shrinkage(inverse_diag, alphas, groups, mask, weight_sum):
    """``tr_g(Lambda A^-1)`` of each group from the diagonal of ``A^-1``."""
    shrunk = alphas[groups] * inverse_diag[mask] / weight_sum  # term by term
    return np.bincount(groups, shrunk, minlength=alphas.size)


def evidence_update(
    inverse_diag, log_det, theta, alphas, groups, mask, data_loss, weight_sum, K
):
    """Re-estimate one penalty per group; see the module docstring.

    Parameters
    ----------
    inverse_diag : ndarray of shape (n_params,)
        Diagonal of ``A^-1``, ``A = J'J + Lambda`` (:func:`inverse_diagonal`).
    log_det : float
        ``log det A``.
    theta : ndarray of shape (n_params,)
        Current parameters.
    alphas : ndarray of shape (n_groups,)
        Current penalties.
    groups : ndarray of shape (n_weights,)
        Group of each weight.
    mask : ndarray of shape (n_params,), dtype=bool
        True for the weights of ``theta``.
    data_loss : float
        ``0.5 r'r`` of the data rows.
    weight_sum : float
        ``S``, the sum of the sample weights.
    K : int
        Number of outputs.

    Returns
    -------
    Evidence
    """
    shrinkage = group_shrinkage(inverse_diag, alphas, groups, mask, weight_sum)
    return evidence_from_shrinkage(
        shrinkage, log_det, theta, alphas, groups, mask, data_loss, weight_sum, K
    )


def evidence_from_shrinkage(
    shrinkage,
    log_det,
    theta,
    alphas,
    groups,
    mask,
    data_loss,
    weight_sum,
    K,
    bias_precision=None,
    group_sizes=None,
):
    """:func:`evidence_update` from ``tr_g(Lambda A^-1)``, one per group.

    What the update needs of ``A^-1`` is these sums (``shrinkage``), whether
    from its diagonal or from the residual space
    (:func:`residual_space_shrinkage`). With ``bias_precision`` ``a_b`` the
    biases carry the prior ``N(0, 1 / a_b)`` instead of a flat one, and
    ``log_det`` must be that of ``A`` with ``a_b / (beta S K)`` added on the
    biases' diagonal. ``group_sizes`` is the number of weights of each group,
    ``bincount(groups)``, when the caller has it.
    """
    S, N = weight_sum, weight_sum * K
    w = theta[mask]
    n_g = group_sizes
    if n_g is None:
        n_g = np.bincount(groups, minlength=alphas.size)
    gamma_g = np.maximum(n_g - shrinkage, MIN_GAMMA)
    gamma = theta.size - float(shrinkage.sum())
    E_D = N * data_loss
    beta = max(N - gamma, MIN_NOISE_SHARE * N) / max(2.0 * E_D, 1e-300)
    E_W = np.maximum(0.5 * np.bincount(groups, w * w, minlength=alphas.size), 1e-300)
    new = np.minimum(gamma_g / (2.0 * K * beta) / E_W, MAX_ALPHA * S)
    a = np.maximum(K * beta * alphas, 1e-300)
    log_prior = float((0.5 * n_g * np.log(a) - a * E_W).sum())
    n_biases = theta.size - w.size
    log_evidence = (
        log_prior
        - beta * E_D
        + 0.5 * N * math.log(beta / (2.0 * math.pi))
        - 0.5 * (theta.size * math.log(beta * S * K) + log_det)
    )
    if bias_precision is None:  # flat, of unit density
        log_evidence += 0.5 * n_biases * math.log(2.0 * math.pi)
    else:
        biases = theta[~mask]
        log_evidence += 0.5 * n_biases * math.log(bias_precision)
        log_evidence -= 0.5 * bias_precision * float(biases @ biases)
    return Evidence(new, gamma, beta, float(log_evidence), gamma_g, N)
