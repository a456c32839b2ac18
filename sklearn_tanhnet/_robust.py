"""Robust losses by iteratively reweighted least squares (IRLS).

A robust fit minimises, instead of half the weighted sum of squares,

    sum_i w_i c^2 rho(z_i) / 2,    z_i = sum_k (e_ik / c_k)^2 / K,

with the residuals ``e`` in standardised units, ``c_k = epsilon s_k`` the
threshold of output ``k`` and ``s_k`` a robust standard deviation of its
residuals (1.4826 times their weighted median absolute value: the standard
deviation for Gaussian noise, unmoved by outliers). The losses are scipy's
(``scipy.optimize.least_squares``):

    huber      rho(z) = z                  for z <= 1,  2 sqrt(z) - 1 beyond
    soft_l1    rho(z) = 2 (sqrt(1 + z) - 1)
    cauchy     rho(z) = log(1 + z)

Its gradient is that of the weighted least-squares objective with row
weights ``w_i rho'(z_i)``, so a weighted least-squares fit with the weights
evaluated at its own solution is a stationary point of the robust objective.
IRLS alternates the two: fit with ``w rho'(z)``, re-estimate ``s`` and the
weights at the fit, until the weights stop changing. ``rho'`` is 1 for the
residuals within the threshold and falls as ``1 / sqrt(z)`` (huber,
soft_l1) or ``1 / z`` (cauchy) beyond it, so gross outliers barely count.

The intervals are those of the Gaussian model of the reweighted rows (the
parameter covariance from ``J' W rho' J``) for a row of weight one: where a
new observation that is not an outlier falls. Its noise variance is not
``sum w rho' e^2 / (n - p)``, which grows with every outlier under Huber's
loss (``rho' e^2 = c |e|`` beyond the threshold), but Huber's "proposal 2"
scale, consistent for Gaussian noise,

    sigma^2 = sum_i w_i (rho'_i e_i)^2 / ((n - p_eff) E[psi(Z)^2]),

with ``psi(u) = u rho'(u^2 / epsilon^2)`` the loss's influence function in
robust standard deviations and ``Z`` standard normal
(:func:`noise_consistency`).
"""

import numpy as np
from scipy import stats

LOSSES = ("squared_error", "huber", "soft_l1", "cauchy")
# The robust standard deviation of Gaussian noise from its median absolute value.
MAD_TO_STD = 1.482602218505602
# IRLS ends when no row's weight changes by more than this between rounds.
WEIGHT_ATOL = 1e-2
MAX_ROUNDS = 30


def _weighted_median(values, sample_weight):
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(sample_weight[order])
    return values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]


def thresholds(residuals, sample_weight, epsilon):
    """``epsilon`` times each output's robust standard deviation, shape (K,)."""
    spread = np.array(
        [
            MAD_TO_STD * _weighted_median(np.abs(column), sample_weight)
            for column in residuals.T
        ]
    )
    # Residuals that are mostly exact zeros (a perfect fit of most rows):
    # any positive threshold keeps those rows at full weight.
    tiny = np.finfo(float).tiny / np.finfo(float).eps
    return epsilon * np.maximum(spread, tiny)


def squared_ratio(residuals, threshold):
    """``z_i = sum_k (e_ik / c_k)^2 / K``, shape (n_samples,)."""
    return np.mean((residuals / threshold) ** 2, axis=1)


def irls_weights(z, loss):
    """``rho'(z)``: each row's weight in the next least-squares fit."""
    if loss == "huber":
        return 1.0 / np.sqrt(np.maximum(z, 1.0))
    if loss == "soft_l1":
        return 1.0 / np.sqrt(1.0 + z)
    if loss == "cauchy":
        return 1.0 / (1.0 + z)
    raise ValueError(f"unknown robust loss {loss!r}")


def noise_consistency(loss, epsilon, n_nodes=200):
    """``E[psi(Z)^2]`` for standard normal ``Z``, ``psi(u) = u rho'(u^2/epsilon^2)``.

    Closed form for Huber's ``psi`` (``Z`` clipped at ``+-epsilon``), whose
    kink quadrature misses; Gauss-Hermite quadrature for the smooth ones.
    """
    if loss == "huber":
        inside = 2.0 * stats.norm.cdf(epsilon) - 1.0
        return float(
            inside
            - 2.0 * epsilon * stats.norm.pdf(epsilon)
            + epsilon**2 * (1.0 - inside)
        )
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    psi = nodes * irls_weights((nodes / epsilon) ** 2, loss)
    return float(weights @ psi**2 / weights.sum())


def robust_objective(z, threshold, sample_weight, loss):
    """``sum_i w_i c^2 rho(z_i) / 2 / sum(w)``, with ``c^2`` the mean of ``c_k^2``."""
    if loss == "huber":
        rho = np.where(z <= 1.0, z, 2.0 * np.sqrt(z) - 1.0)
    elif loss == "soft_l1":
        rho = 2.0 * (np.sqrt(1.0 + z) - 1.0)
    elif loss == "cauchy":
        rho = np.log1p(z)
    else:
        raise ValueError(f"unknown robust loss {loss!r}")
    scale = np.mean(threshold**2)
    return float(sample_weight @ rho) * scale / (2.0 * sample_weight.sum())
