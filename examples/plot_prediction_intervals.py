"""
=====================================================
Prediction intervals and their coverage
=====================================================

:meth:`~sklearn_tanhnet.TanhNetRegressor.predict_interval` gives delta-method
intervals: a *confidence* interval for the mean response and a *prediction*
interval for a new observation. A 95% prediction interval should contain 95%
of new observations. This example checks that on noisy data where the truth
is known, and shows where the intervals stop being trustworthy.
"""

# %%
# Noisy data
# ----------
# 100 points of :math:`\\sin x` on :math:`[-3, 3]` with Gaussian noise of
# standard deviation 0.2.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_tanhnet import FitDisplay, TanhNetRegressor

rng = np.random.RandomState(0)
sigma = 0.2


def sample(n, low=-3.0, high=3.0):
    X = rng.uniform(low, high, size=(n, 1))
    return X, np.sin(X.ravel()) + sigma * rng.normal(size=n)


X, y = sample(100)
est = TanhNetRegressor((5,), alpha=1e-4, random_state=0).fit(X, y)

# %%
# The fit with its 95% prediction interval. The band is about
# :math:`\pm 1.96 \sigma` wide near the data, and widens where the data end:
# there the fitted curve itself is less certain.
disp = FitDisplay.from_estimator(
    est, X, y, x_range=(-4.5, 4.5), interval="prediction", true_function=np.sin
)
disp.ax_.legend(loc="upper left", fontsize="small")
plt.show()

# %%
# Coverage of new observations
# ----------------------------
# Draw 5000 new observations from the same distribution and count how many
# fall inside the prediction interval, for several confidence levels.
X_new, y_new = sample(5000)
levels = np.array([0.5, 0.8, 0.9, 0.95, 0.99])
coverage = []
for level in levels:
    lower, upper = est.predict_interval(X_new, confidence=level)
    coverage.append(np.mean((lower <= y_new) & (y_new <= upper)))
    print(f"nominal {level:.0%}: {coverage[-1]:.1%} of new observations inside")

fig, ax = plt.subplots()
ax.plot([0.4, 1], [0.4, 1], "k--", lw=1, label="perfect calibration")
ax.plot(levels, coverage, "o-", label="prediction interval")
ax.set_xlabel("nominal confidence")
ax.set_ylabel("empirical coverage")
ax.set_title("Coverage of 5000 new observations")
ax.legend()
plt.show()

# %%
# Coverage of the true mean
# -------------------------
# The confidence interval is about the curve, not the observations: over
# repeated experiments, the 95% confidence interval at a fixed :math:`x`
# should contain :math:`\sin x` 95% of the time. Repeat the whole experiment
# (new data, new fit) 50 times and count, at three points.
x_fixed = np.array([[-2.0], [0.0], [1.5]])
hits = np.zeros(len(x_fixed))
n_repeats = 50
for _ in range(n_repeats):
    X_rep, y_rep = sample(100)
    rep = TanhNetRegressor((5,), alpha=1e-4, random_state=0).fit(X_rep, y_rep)
    lower, upper = rep.predict_interval(x_fixed, kind="confidence")
    truth = np.sin(x_fixed.ravel())
    hits += (lower <= truth) & (truth <= upper)
for x, h in zip(x_fixed.ravel(), hits):
    print(f"x = {x:+.1f}: the 95% confidence interval held sin(x) in {h:.0f} of 50")

# %%
# Outside the training range
# --------------------------
# The intervals are local: the network is linearised around the fitted
# parameters, and the model is assumed right. Beyond the data the truth keeps
# oscillating while the network saturates. Here the band grows so wide that it
# still covers new observations from :math:`[4, 6]`, but only by saying almost
# nothing:
X_out, y_out = sample(2000, 4.0, 6.0)
for name, (X_, y_) in {"[-3, 3]": (X_new, y_new), "[4, 6]": (X_out, y_out)}.items():
    lower, upper = est.predict_interval(X_, confidence=0.95)
    inside = np.mean((lower <= y_) & (y_ <= upper))
    width = np.mean(upper - lower)
    print(f"on {name:>7}: coverage {inside:6.1%}, mean width {width:5.2f}")

# %%
# Wide is not the rule. In :ref:`sphx_glr_auto_examples_plot_extrapolation.py`
# the band stays narrow beyond the data and misses the truth by far: the
# width of a delta-method interval outside the training range depends on how
# the fitted parameters happen to act there, not on how wrong the model is.

# %%
# Checklist before trusting an interval:
#
# * inside the range of the training data;
# * residuals look like independent noise of constant size (the intervals use
#   one noise variance per output);
# * the fit is a converged minimum (``status_`` is ``'converged'`` or
#   ``'plateau'``), so that the linearisation is taken at the right place.
