"""
=========================================================
Hessian eigenvalues: what the zero ones mean
=========================================================

At a minimum of the objective the Hessian is positive semi-definite. The
lecture computed its eigenvalues with ``autograd.hessian`` and found five of the
ten to be zero: the 1-3-1 network has more parameters than the data determine.
:meth:`~sklearn_tanhnet.TanhNetRegressor.diagnose` computes the same spectrum,
the numerical rank, and more.
"""

# %%
# The lecture's fit
# -----------------
# The lecture fitted the network in the data's own units, without a penalty,
# and let ``least_squares`` run to its evaluation limit. The same here:
# ``standardize=False``, ``alpha=0`` and ``tol=0`` (never stop on a plateau),
# so the fit runs to ``max_iter`` just like the lecture's ``max_nfev``.
import warnings

import autograd.numpy as anp
import matplotlib.pyplot as plt
import numpy as np
from autograd import hessian
from sklearn.exceptions import ConvergenceWarning

from sklearn_tanhnet import HessianSpectrumDisplay, TanhNetRegressor

X = np.linspace(0, 1, 50).reshape(-1, 1)
y = X.ravel() ** (1 / 3)

est = TanhNetRegressor(
    (3,), standardize=False, alpha=0.0, tol=0.0, max_iter=1000, random_state=0
)
with warnings.catch_warnings():
    # Running to max_iter is the point of this setting (the lecture's fit also
    # stopped at its evaluation limit), so its ConvergenceWarning is expected.
    warnings.simplefilter("ignore", ConvergenceWarning)
    est.fit(X, y)
print(f"status {est.status_} after {est.n_iter_} iterations")
print(f"training MSE {np.mean((est.predict(X) - y) ** 2):.2e}")

# %%
# The diagnostics
# ---------------
# ``diagnose`` needs the training data (the estimator does not keep it). Its
# report gives the gradient norm (how close to a stationary point the fit
# stopped), the exact Hessian's eigenvalues relative to the largest, and the
# numerical rank: the number of eigenvalues above ``rcond`` (default
# ``1e-6``) times the largest.
diagnostics = est.diagnose(X, y)
print(diagnostics)

# %%
# Four eigenvalues are above the cutoff and six are, relative to the
# largest, below one in a million: rank 4 of 10, where the lecture found 5.
# Which of the smallest eigenvalues clear the cutoff depends on where the fit
# stopped. The horizontal line is the cutoff.
HessianSpectrumDisplay.from_diagnostics(diagnostics, estimator_name="1-3-1 network")
plt.show()

# %%
# The same numbers as the lecture
# -------------------------------
# The package's objective is half the mean squared error,
# :math:`J = \frac{1}{2n}\sum_i e_i^2`, while the lecture differentiated the
# sum of squared errors. Scaling by :math:`2n` gives the lecture's
# eigenvalues (``[532.8, 12.4, 0.63, 0.16, 0.02, 0, 0, 0, 0, 0]`` there; the
# exact values depend on where the fit stopped).
np.set_printoptions(precision=3, suppress=True)
print(diagnostics.hessian_eigenvalues * 2 * len(X))

# %%
# What a zero eigenvalue means
# ----------------------------
# An eigenvector of the Hessian is a direction in parameter space. Along a
# direction with a large eigenvalue the error grows quickly: the data pin
# that combination of parameters down. Along a direction with a (numerically)
# zero eigenvalue the error hardly changes: the data do not determine it, and
# many parameter vectors fit equally well.
#
# To see this, write the lecture's model as a function of the ten fitted
# parameters (``standardize=False`` means ``coefs_`` are exactly what was
# fitted), take the Hessian of the sum of squared errors with autograd, and
# step the same distance along the stiffest and the softest directions.
W0, W1 = est.coefs_
b0, b1 = est.intercepts_
theta = np.concatenate([W0.ravel(), b0, W1.ravel(), b1])


def model(theta, x):
    w0, b0, w1, b1 = theta[0:3], theta[3:6], theta[6:9], theta[9]
    return anp.tanh(x[:, None] * w0 + b0) @ w1 + b1


def sse(theta):
    return anp.sum((y - model(theta, X.ravel())) ** 2)


evals, evecs = np.linalg.eigh(hessian(sse)(theta))  # ascending
softest, stiffest = evecs[:, 0], evecs[:, -1]
step = 0.5  # the same length for both directions, in parameter units
print(f"SSE at the fit             {sse(theta):.2e}")
print(f"step along the stiffest    {sse(theta + step * stiffest):.2e}", end="")
print(f"   (eigenvalue {evals[-1]:.2e})")
print(f"step along the softest     {sse(theta + step * softest):.2e}", end="")
print(f"   (eigenvalue {evals[0]:.2e})")

# %%
# Plot the fits after the two steps. Moving along the softest direction leaves
# the fit on the data unchanged to the eye; the same step along the stiffest
# direction ruins it.
x_plot = np.linspace(0, 1, 200)
fig, ax = plt.subplots()
ax.plot(X, y, "b.", label="data")
ax.plot(x_plot, model(theta, x_plot), "k", label="fitted parameters")
ax.plot(
    x_plot,
    model(theta + step * softest, x_plot),
    "--",
    label="step along softest direction",
)
ax.plot(
    x_plot,
    model(theta + step * stiffest, x_plot),
    ":",
    label="step along stiffest direction",
)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("Same step length, very different effect")
ax.legend()
plt.show()

# %%
# Consequences
# ------------
# * The Hessian is singular, so methods that invert it (Newton's method, the
#   textbook parameter covariance) do not apply as they stand. The package's
#   uncertainty estimates use a pseudo-inverse restricted to the determined
#   directions, with the same ``rcond`` cutoff.
# * Individual weights are not meaningful, only the function they build
#   (see :ref:`sphx_glr_auto_examples_plot_restarts.py`).
# * A smaller penalty-free network would do: try ``hidden_layer_sizes=(2,)``.
#   Alternatively a small ``alpha`` (for example ``1e-4``) lifts the zero
#   eigenvalues and makes the fit well-posed.
