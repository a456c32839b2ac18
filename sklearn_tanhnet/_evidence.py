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
weights. The log evidence, up to the constants that do not depend on the
penalties or the fit, is::

    log p(D | a, beta) = sum_g (n_g / 2 log a_g - a_g E_W,g) - beta E_D
                         + N / 2 log beta - 1 / 2 log det(beta S K A).

Foresee and Hagan (1997) apply one such update after every Levenberg-Marquardt
step (MATLAB's ``trainbr``); :class:`~._lm.LevenbergMarquardt` does, from the
Gauss-Newton matrix it has already accumulated.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dpotrf, dpotri

# Bounds that keep the re-estimates finite on degenerate fits: at least this
# share of the observations stays as noise, a group keeps this many
# well-determined weights, and a penalty is at most this many times S.
MIN_NOISE_SHARE = 1e-3
MIN_GAMMA = 1e-3
MAX_ALPHA = 1e12


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
        Laplace approximation of the log evidence at the current penalties,
        up to a constant; larger is better.
    """

    alphas: np.ndarray
    gamma: float
    beta: float
    log_evidence: float


def inverse_diagonal(A):
    """Diagonal and log-determinant of ``A^-1`` for a symmetric PSD ``A``.

    Cholesky when ``A`` is positive definite; otherwise the pseudo-inverse on
    the eigenvalues above ``1e-12`` times the largest (directions the data
    and the penalty leave undetermined contribute nothing).
    """
    L, info = dpotrf(A, lower=1, clean=0)
    diagonal = L.diagonal()
    # A factorisation that completes with pivots at rounding level belongs
    # to a numerically singular A: take the pseudo-inverse instead.
    if info == 0 and diagonal.min() ** 2 > 1e-12 * A.diagonal().max():
        log_det = 2.0 * float(np.log(diagonal).sum())
        inverse, info = dpotri(L, lower=1, overwrite_c=1)
        if info == 0:
            return inverse.diagonal().copy(), log_det
    evals, evecs = np.linalg.eigh(A)
    keep = evals > 1e-12 * max(evals[-1], 0.0)
    V = evecs[:, keep]
    return (V * V) @ (1.0 / evals[keep]), float(np.log(evals[keep]).sum())


def residual_inverse_diagonal(J, lam):
    """:func:`inverse_diagonal` of ``A = J'J + diag(lam)`` from ``M x M`` matrices.

    For fewer residuals ``M`` than parameters. With ``w`` the penalised
    parameters (``lam > 0``) and ``u`` the others (the biases), ``B = J_u'J_u``
    and ``Z = J_w - J_u B^+ J_u'J_w`` (``J_w`` with the part the biases fit
    projected out), the Schur complement of ``A`` on ``u`` is ``Lambda_w + Z'Z``
    and, with ``U = Z Lambda_w^-1/2`` and ``L L' = I + U U'``::

        (A^-1)_ii = (1 - |L^-1 u_i|^2) / lam_i          (i in w)
        log det A = log det+ B + sum_w log lam_i + 2 sum log diag(L)

    (Woodbury's identity; ``B^+`` and ``det+`` are taken on the eigenvalues of
    ``B`` above ``1e-12`` times the largest). The shrinkage ``lam_i (A^-1)_ii
    = 1 - |L^-1 u_i|^2`` lies in ``[0, 1]`` with an absolute error at rounding
    level whatever the scale of ``lam``, which is what the evidence sums.

    Returns
    -------
    inverse_diag : ndarray of shape (n_params,)
        ``(A^-1)_ii`` for ``lam_i > 0``, NaN for the unpenalised parameters
        (no evidence update reads them).
    log_det : float
    """
    penalised = lam > 0
    J_w, J_u = J[:, penalised], J[:, ~penalised]
    log_det = float(np.log(lam[penalised]).sum())
    if J_u.shape[1]:
        evals, evecs = np.linalg.eigh(J_u.T @ J_u)
        keep = evals > 1e-12 * max(evals[-1], 0.0)
        # The orthonormal basis of range(J_u): J_u V s^-1/2.
        basis = (J_u @ evecs[:, keep]) / np.sqrt(evals[keep])
        J_w = J_w - basis @ (basis.T @ J_w)
        log_det += float(np.log(evals[keep]).sum())
    U = J_w / np.sqrt(lam[penalised])
    inner = U @ U.T
    inner.flat[:: inner.shape[0] + 1] += 1.0
    L, info = dpotrf(inner, lower=1, clean=1)
    if info != 0:
        raise LinAlgError(f"I + U U' is not positive definite (LAPACK info={info})")
    projected = solve_triangular(L, U, lower=True, check_finite=False)
    inverse_diag = np.full(lam.shape, np.nan)
    shrinkage = 1.0 - np.einsum("ij,ij->j", projected, projected)
    inverse_diag[penalised] = np.clip(shrinkage, 0.0, 1.0) / lam[penalised]
    log_det += 2.0 * float(np.log(L.diagonal()).sum())
    return inverse_diag, log_det


def problem_evidence(problem, theta, alphas, inverse_diag, log_det, data_loss):
    """:func:`evidence_update` with the weights, groups and sizes of ``problem``."""
    return evidence_update(
        inverse_diag,
        log_det,
        theta,
        alphas,
        problem.groups,
        problem.mask,
        data_loss,
        problem.weight_sum,
        problem.n_outputs,
    )


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
    S, N = weight_sum, weight_sum * K
    w, m_diag = theta[mask], inverse_diag[mask]
    shrunk = alphas[groups] * m_diag / S  # tr_g(Lambda A^-1) term by term
    n_g = np.bincount(groups, minlength=alphas.size)
    gamma_g = np.maximum(
        n_g - np.bincount(groups, shrunk, minlength=alphas.size), MIN_GAMMA
    )
    gamma = theta.size - float(shrunk.sum())
    E_D = N * data_loss
    beta = max(N - gamma, MIN_NOISE_SHARE * N) / max(2.0 * E_D, 1e-300)
    E_W = np.maximum(0.5 * np.bincount(groups, w * w, minlength=alphas.size), 1e-300)
    new = np.minimum(gamma_g / (2.0 * K * beta) / E_W, MAX_ALPHA * S)
    a = np.maximum(K * beta * alphas, 1e-300)
    log_prior = float((0.5 * n_g * np.log(a) - a * E_W).sum())
    log_evidence = (
        log_prior
        - beta * E_D
        + 0.5 * N * math.log(beta)
        - 0.5 * (theta.size * math.log(beta * S * K) + log_det)
    )
    return Evidence(new, gamma, beta, float(log_evidence))
