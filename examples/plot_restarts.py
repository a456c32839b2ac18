"""
=====================================================
Restarts: equally good fits, very different weights
=====================================================

The lecture's exercise: run the fit again from new random initial weights.
The fits are equally good, but the parameters are not the same. A neural
network is not unique, and its weights have no physical meaning. This example
also shows where the differences come from, and how a small penalty removes
most of them.
"""

# %%
# Six restarts in the lecture's setting
# -------------------------------------
# As in the lecture: raw units (``standardize=False``) and no penalty
# (``alpha=0``); a tight ``tol`` so that every fit gets close to its minimum.
# ``random_state`` seeds the initial weights; nothing else changes.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_tanhnet import TanhNetRegressor

X = np.linspace(0, 1, 50).reshape(-1, 1)
y = X.ravel() ** (1 / 3)

seeds = [0, 1, 2, 3, 4, 5]
lecture_setting = dict(standardize=False, alpha=0.0, tol=1e-8, max_iter=1000)
fits = [
    TanhNetRegressor((3,), random_state=seed, **lecture_setting).fit(X, y)
    for seed in seeds
]
for seed, est in zip(seeds, fits):
    mse = np.mean((est.predict(X) - y) ** 2)
    print(f"random_state={seed}: MSE {mse:.1e} after {est.n_iter_} iterations")

# %%
# The weights side by side
# ------------------------
# The ten parameters in the lecture's order, one column per restart.


def lecture_parameters(est):
    """``b1, w10, w00, b00, w11, w01, b01, w12, w02, b02`` as in the lecture."""
    (W0, W1), (b0, b1) = est.coefs_, est.intercepts_
    per_unit = [(W1[j, 0], W0[0, j], b0[j]) for j in range(W0.shape[1])]
    return np.array([b1[0], *np.ravel(per_unit)])


names = ["b1", "w10", "w00", "b00", "w11", "w01", "b01", "w12", "w02", "b02"]


def print_side_by_side(table):
    print("param " + "".join(f"{f'seed {s}':>10}" for s in seeds))
    for name, row in zip(names, table):
        print(f"{name:<6}" + "".join(f"{v:>10.2f}" for v in row))


table = np.column_stack([lecture_parameters(est) for est in fits])
print_side_by_side(table)

# %%
# Symmetries explain part of it
# -----------------------------
# Swapping two hidden units gives the same function, and so does flipping the
# signs of a unit's input weight, bias and output weight (``tanh`` is odd). To
# compare like with like, put every network in a canonical form: positive
# input weights, units sorted by input weight.


def canonical(est):
    """The same network with positive input weights, units sorted by them."""
    (W0, W1), (b0, b1) = est.coefs_, est.intercepts_
    sign = np.sign(W0[0])
    w0, bias, w1 = W0[0] * sign, b0 * sign, W1[:, 0] * sign
    order = np.argsort(w0)
    per_unit = np.column_stack([w1[order], w0[order], bias[order]])
    return np.array([b1[0], *per_unit.ravel()])


canonical_table = np.column_stack([canonical(est) for est in fits])
print_side_by_side(canonical_table)

# %%
# In canonical form seeds 2 to 5 turn out to be nearly the same network. But
# the restarts still fall into two families: seeds 0 and 1 have much larger
# output weights. Within that family the input weights are nearly the same
# while the output bias ``b1`` and the output weights slide together, ``b1``
# from -121 to -346, with fits of the same quality. These are the flat
# directions of the objective, the near-zero Hessian eigenvalues of
# :ref:`sphx_glr_auto_examples_plot_hessian_eigenvalues.py`: the data on
# :math:`[0, 1]` do not determine them, so where a fit stops along them is an
# accident of its starting point.

# %%
# The same fit on the data, different beyond it
# ---------------------------------------------
# Inside the training range all residuals are tiny. Outside it, where no data
# constrain them, the restarts go their own ways: agreement on the data says
# nothing about extrapolation.
x_wide = np.linspace(0, 3, 300).reshape(-1, 1)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
for seed, est in zip(seeds, fits):
    ax0.plot(X, est.predict(X) - y, label=f"random_state={seed}")
    ax1.plot(x_wide, est.predict(x_wide), label=f"random_state={seed}")
ax0.set_xlabel("x")
ax0.set_ylabel("prediction - $x^{1/3}$")
ax0.set_title("Residuals on the training data")
ax0.legend(fontsize="small")
ax1.axvspan(0, 1, color="0.9", zorder=0, label="training range")
ax1.plot(x_wide, np.cbrt(x_wide), "k--", lw=1, label="$x^{1/3}$")
ax1.set_xlabel("x")
ax1.set_ylabel("y")
ax1.set_title("Predictions beyond the training range")
ax1.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# The magnitudes of the canonical parameters of each restart, on a log
# scale:
fig, ax = plt.subplots(figsize=(8, 4))
width = 0.8 / len(seeds)
for k, seed in enumerate(seeds):
    ax.bar(
        np.arange(10) + (k - (len(seeds) - 1) / 2) * width,
        np.abs(canonical_table[:, k]),
        width,
        label=f"random_state={seed}",
    )
ax.set_yscale("log")
ax.set_xticks(np.arange(10), names)
ax.set_xlabel("parameter (canonical form)")
ax.set_ylabel("|value|")
ax.set_title("Six excellent fits, six parameter vectors")
ax.set_ylim(top=100 * ax.get_ylim()[1])  # room for the legend above the bars
ax.legend(fontsize="small", ncols=3, loc="upper left")
plt.show()

# %%
# A small penalty picks one network
# ---------------------------------
# With standardised data (the default) and a small penalty on the weights,
# ``alpha=1e-4``, the flat directions are lifted: among all the networks that
# fit, the one with the smallest weights wins. In canonical form the restarts
# now agree to two or three significant digits, except seed 2, which ends
# elsewhere: restarts remain a useful check.
penalised_fits = [
    TanhNetRegressor((3,), alpha=1e-4, random_state=seed).fit(X, y) for seed in seeds
]
print_side_by_side(np.column_stack([canonical(est) for est in penalised_fits]))

# %%
# Starts in one fit
# -----------------
# ``n_starts`` runs several starts in one fit and records each network in
# ``members_``; ``combine='best'`` keeps the one of largest log evidence,
# ``combine='mixture'`` predicts with their mean. The estimator's default
# does the latter with two starts of each of three widths, so that no single
# start decides the prediction (:ref:`committee`). Each fit above is one
# network, because its width is given: a width given means one start unless
# ``n_starts`` says otherwise.
