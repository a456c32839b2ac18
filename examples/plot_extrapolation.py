"""
=====================================================
Extrapolation and tanh saturation
=====================================================

A network fitted on :math:`[0, 1]` knows nothing about :math:`[1, 10]`. The
lecture showed the fit to :math:`x^{1/3}` flattening beyond the data, because
every hidden unit's ``tanh`` saturates. This example shows the same with
:class:`~sklearn_tanhnet.FitDisplay`, and what the delta-method interval does
(and does not) say out there.
"""

# %%
# Fit on [0, 1], look at [0, 10]
# ------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_tanhnet import FitDisplay, TanhNetRegressor

X = np.linspace(0, 1, 50).reshape(-1, 1)
y = X.ravel() ** (1 / 3)
est = TanhNetRegressor((3,), alpha=1e-4, random_state=0).fit(X, y)

disp = FitDisplay.from_estimator(
    est,
    X,
    y,
    x_range=(0, 10),
    interval="prediction",
    true_function=np.cbrt,
)
disp.ax_.legend(loc="lower right")
plt.show()

# %%
# Inside the training range, fit and truth agree. Beyond :math:`x = 1` (shaded)
# the network levels off near 1.17 while :math:`x^{1/3}` reaches 2.15 at
# :math:`x = 10`.
x_check = np.array([[0.5], [1.0], [2.0], [5.0], [10.0]])
lower, upper = est.predict_interval(x_check)
print("   x   x^(1/3)  predicted   95% prediction interval")
for x, lo, hi, pred in zip(x_check.ravel(), lower, upper, est.predict(x_check)):
    print(f"{x:4.1f}  {np.cbrt(x):7.3f}  {pred:9.3f}   [{lo:.3f}, {hi:.3f}]")

# %%
# The interval band barely widens. That is not a bug but the limit of the
# delta method: it propagates the uncertainty of the fitted *parameters*
# through the *model*, assuming the model is right. Out here the model is
# wrong (a sum of saturated ``tanh`` is a constant), and the parameters that
# would change that are exactly the ones the data on :math:`[0, 1]` hardly
# constrain in the first place. The interval is honest about noise near the
# data and blind to extrapolation error: never read it as a guarantee outside
# the training range.

# %%
# Why it saturates
# ----------------
# ``tanh`` runs from -1 to 1 and is flat beyond about :math:`|z| > 3`.
z = np.linspace(-5, 5, 200)
fig, ax = plt.subplots()
ax.plot(z, np.tanh(z), label="tanh(z)")
ax.axhline(1, color="0.6", ls=":", label="asymptotes $\\pm 1$")
ax.axhline(-1, color="0.6", ls=":")
ax.set_xlabel("z")
ax.set_ylabel("tanh(z)")
ax.set_title("tanh saturates")
ax.legend()
plt.show()

# %%
# The prediction is ``b1 + sum_j w1j tanh(w0j x + b0j)``. Each hidden unit's
# output is plotted below. Two units are saturated already inside the
# training range (they shape the steep rise near :math:`x = 0`); the third,
# with the smallest input weight, flattens by :math:`x \approx 3`. From there
# on, the weighted sum of constants is a constant.
W0, W1 = est.coefs_
b0, b1 = est.intercepts_
x_grid = np.linspace(0, 10, 400).reshape(-1, 1)
hidden = np.tanh(x_grid @ W0 + b0)
fig, ax = plt.subplots()
ax.axvspan(0, 1, color="0.9", zorder=0, label="training range")
for j in range(hidden.shape[1]):
    ax.plot(
        x_grid,
        hidden[:, j],
        label=f"unit {j}: tanh({W0[0, j]:.2f} x + {b0[j]:.2f})",
    )
ax.set_xlabel("x")
ax.set_ylabel("hidden unit output")
ax.set_title("Hidden units saturate: the network goes flat")
ax.legend(fontsize="small")
plt.show()

# %%
# To extrapolate, a model needs the right behaviour built in (here, a power
# law), or data where it will be used.
