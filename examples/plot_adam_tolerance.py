"""
=====================================================
Training with adam until a tolerance is met
=====================================================

In its second half the lecture trains the network with autograd's ``adam``
(step size 0.01), in blocks of 50 steps, until the mean squared error falls
below ``2e-5``. ``solver='adam'`` is the same algorithm; ``learning_rate`` is
its step size. Training stops on a plateau: once the objective has improved by
less than ``tol`` (relative to the variance of the target) for
``n_iter_no_change`` epochs in a row.
"""

# %%
# Settings
# --------
# Fifty points fit in one minibatch, so an epoch is one adam step, as in the
# lecture. A tight ``tol`` and a patient ``n_iter_no_change`` let adam run
# until it is as good as the lecture asked for; ``max_iter`` is only a safety
# limit. Both fits use the same small penalty, ``alpha=1e-4``.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_tanhnet import FitDisplay, LossCurveDisplay, TanhNetRegressor

X = np.linspace(0, 1, 50).reshape(-1, 1)
y = X.ravel() ** (1 / 3)

fits = {
    "adam": TanhNetRegressor(
        (3,),
        solver="adam",
        learning_rate=0.01,
        alpha=1e-4,
        max_iter=30_000,
        tol=1e-9,
        n_iter_no_change=100,
        random_state=0,
    ),
    "least_squares": TanhNetRegressor((3,), alpha=1e-4, random_state=0),
}
print(f"{'solver':<15}{'MSE':>10}{'iterations':>12}{'seconds':>9}  status")
for name, est in fits.items():
    start = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - start
    mse = np.mean((est.predict(X) - y) ** 2)
    print(f"{name:<15}{mse:>10.2e}{est.n_iter_:>12}{seconds:>9.2f}  {est.status_}")

# %%
# Both reach the lecture's tolerance of ``2e-5``. Adam needs thousands of
# epochs where the Gauss-Newton fit needs a few dozen iterations: with the
# exact Jacobian, a least-squares solver uses the problem's structure, while
# adam only sees the gradient. Adam's strength is elsewhere: each step uses a
# minibatch, so it scales to data too large for a Jacobian in memory.

# %%
# Loss curves
# -----------
# The adam curve falls slowly and noisily; the plateau rule ends training once
# a hundred epochs in a row bring no improvement. Note the different
# horizontal scales.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
for ax, (name, est) in zip((ax0, ax1), fits.items()):
    title = f"{name}: {est.status_} after {est.n_iter_} iterations"
    LossCurveDisplay.from_estimator(est, ax=ax, title=title)
fig.tight_layout()
plt.show()

# %%
# The learning rate matters
# -------------------------
# The step size is a hyperparameter. Too small and training crawls; too large
# and the loss jumps about (here the largest step size stalls, and training
# stops, after some 700 epochs). Two thousand epochs with three step sizes:
fig, ax = plt.subplots()
for lr in (0.001, 0.01, 0.1):
    est = TanhNetRegressor(
        (3,),
        solver="adam",
        learning_rate=lr,
        alpha=1e-4,
        max_iter=2000,
        tol=0,
        random_state=0,
    )
    with warnings.catch_warnings():
        # With tol=0 only ten epochs in a row without any improvement stop
        # training early; the smaller step sizes run to max_iter and warn,
        # which is expected in this comparison.
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    LossCurveDisplay.from_estimator(
        est, ax=ax, line_kw={"label": f"learning_rate={lr}", "color": None}
    )
ax.set_title("adam on the lecture's data: three step sizes")
plt.show()

# %%
# The fitted adam network
# -----------------------
disp = FitDisplay.from_estimator(fits["adam"], X, y, true_function=np.cbrt)
disp.ax_.set_title("1-3-1 network trained with adam")
plt.show()
