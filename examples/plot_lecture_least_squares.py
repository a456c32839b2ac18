"""
=====================================================
Fitting y = x^(1/3) with a 1-3-1 tanh network
=====================================================

The lecture fits ten parameters,

.. math::

    y = b_1 + \\sum_{j=0}^{2} w_{1j} \\tanh(w_{0j} x + b_{0j}),

to 50 points of :math:`y = x^{1/3}` on :math:`[0, 1]` with
:func:`scipy.optimize.least_squares`. :class:`~sklearn_tanhnet.TanhNetRegressor`
does the same with its default solver, a trust-region Gauss-Newton fit with the
exact residual Jacobian from autograd.
"""

# %%
# The data
# --------
# Fifty evenly spaced points, no noise. scikit-learn wants ``X`` as a column.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_tanhnet import FitDisplay, LossCurveDisplay, TanhNetRegressor

X = np.linspace(0, 1, 50).reshape(-1, 1)
y = X.ravel() ** (1 / 3)

# %%
# The fit
# -------
# ``hidden_layer_sizes=(3,)`` is one hidden layer of three tanh units: the
# lecture's 1-3-1 network with its 10 parameters.
est = TanhNetRegressor((3,), random_state=0).fit(X, y)

mse = np.mean((est.predict(X) - y) ** 2)
print(f"training MSE   {mse:.2e}")
print(f"iterations     {est.n_iter_}")
print(f"status         {est.status_}")
print(f"message        {est.message_}")

# %%
# In the lecture, ``least_squares`` ran into its evaluation limit and reported
# failure although the cost was tiny. Here the fit also stops, as a success,
# once the objective stops improving (``status_='plateau'``), not only when
# scipy's own tight tolerances are met (``'converged'``); ``message_`` says
# which rule ended it. The loss curve shows the objective at every
# Gauss-Newton step:
LossCurveDisplay.from_estimator(est)
plt.show()

# %%
# Data and fit
# ------------
# On the training range the network and :math:`x^{1/3}` are indistinguishable,
# including the steep rise at :math:`x = 0`.
disp = FitDisplay.from_estimator(est, X, y, true_function=np.cbrt)
disp.ax_.set_title("1-3-1 tanh network fitted to $y = x^{1/3}$")
plt.show()

# %%
# The fitted network
# ------------------
# ``coefs_`` and ``intercepts_`` hold the weights, one matrix and one bias
# vector per layer, in the units of ``X`` and ``y``: the network can be
# evaluated by hand, exactly as the lecture writes it.
W0, W1 = est.coefs_
b0, b1 = est.intercepts_
by_hand = np.tanh(X @ W0 + b0) @ W1 + b1
print("w0 =", np.round(W0.ravel(), 3), " b0 =", np.round(b0, 3))
print("w1 =", np.round(W1.ravel(), 3), " b1 =", np.round(b1, 3))
print("max |by hand - predict| =", np.abs(by_hand.ravel() - est.predict(X)).max())
