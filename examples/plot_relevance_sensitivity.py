"""
==========================================================
Relevance, sensitivity and importance of the inputs
==========================================================

With ARD (:ref:`ard`), the default on small data,
:class:`~sklearn_tanhnet.TanhNetRegressor` reports ``feature_relevance_``:
each input's share of the first layer's prior variance. It is tempting to
read it as a ranking of the inputs by importance. This example puts it beside
two measures that are about the predictions, on scikit-learn's diabetes data:

* :func:`~sklearn_tanhnet.input_sensitivity`: how much the fitted predictions
  move when one input moves by one standard deviation, from the network's
  exact derivatives;
* :func:`~sklearn.inspection.permutation_importance`: how much the accuracy on
  held-out data drops when one input's values are shuffled.
"""

# %%
# The fit
# -------
# The default estimator, a committee of networks with the evidence choosing
# the penalties, fitted on three quarters of the patients.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split

from sklearn_tanhnet import TanhNetRegressor, input_sensitivity

data = load_diabetes()
X, y, names = data.data, data.target, data.feature_names
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
est = TanhNetRegressor(random_state=0).fit(X_train, y_train)
print(f"ARD: {est.ard_}, {len(est.members_)} networks")
print(f"R^2 on the test split: {est.score(X_test, y_test):.3f}")

# %%
# Three measures per input
# ------------------------
# The sensitivity and the permutation importance are computed on the same
# held-out rows. The sensitivity is in the target's units, the permutation
# importance is the drop in :math:`R^2` (its mean over 30 shuffles, with
# their standard deviation), and the relevances sum to one.
relevance = est.feature_relevance_
sensitivity = input_sensitivity(est, X_test)
permutation = permutation_importance(est, X_test, y_test, n_repeats=30, random_state=0)
importance = permutation.importances_mean
importance_std = permutation.importances_std

print(f"{'input':>5} {'relevance':>10} {'sensitivity':>12} {'importance':>16}")
for j, name in enumerate(names):
    print(
        f"{name:>5} {relevance[j]:10.3f} {sensitivity[j]:12.1f} "
        f"{importance[j]:9.3f} +/- {importance_std[j]:.3f}"
    )

# %%
# Each measure divided by its largest value, so that the three share one
# axis; the black lines are one standard deviation of the permutation
# importance over the shuffles.
position = np.arange(len(names))
width = 0.27
fig, ax = plt.subplots(figsize=(8, 4))
ax.bar(
    position - width,
    relevance / relevance.max(),
    width,
    label="feature_relevance_ (share of prior variance)",
)
ax.bar(
    position,
    sensitivity / sensitivity.max(),
    width,
    label="input_sensitivity (mean |dy/dx| x std(x))",
)
ax.bar(
    position + width,
    importance / importance.max(),
    width,
    yerr=importance_std / importance.max(),
    label="permutation importance (drop in test $R^2$)",
)
ax.axhline(0, color="black", linewidth=0.8)
ax.set_xticks(position, names)
ax.set_xlabel("input")
ax.set_ylabel("fraction of the largest value")
ax.set_title("Diabetes: three answers to 'which inputs matter?'")
ax.legend(loc="upper left", fontsize="small")
fig.tight_layout()
plt.show()

# %%
# Where they agree and where they do not
# --------------------------------------
# All three put ``s5`` first. Beyond that the relevance order is a poor
# guide. The three smallest shares are those of ``s4``, ``bp`` and ``s6``:
# ``s4`` and ``s6`` have a small sensitivity and importance too, but ``bp``'s
# are in the middle of the field. ``age``'s share is among the largest, yet
# permuting it does not lower the test :math:`R^2`.
#
# ARD's penalty for an input follows the size of its first-layer weights (its
# prior variance is about their mean square). The prediction depends on those
# weights through the next layer, with their signs: contributions through
# different hidden units can add up or cancel. The derivatives with respect
# to ``bp`` and ``bmi`` have one sign on every row; the one with respect to
# ``age`` changes sign across the patients, so its mean signed effect is
# small beside the mean absolute one:
dydx = est.predict_gradient(X_test)
spread = X_test.std(axis=0)
for name in ("age", "bp", "bmi"):
    j = names.index(name)
    print(
        f"{name:>4}: derivative positive on {np.mean(dydx[:, j] > 0):4.0%} "
        f"of the rows; mean dy/dx x std {np.mean(dydx[:, j]) * spread[j]:6.1f}, "
        f"mean |dy/dx| x std {np.mean(np.abs(dydx[:, j])) * spread[j]:5.1f}"
    )

# %%
# What the network does with ``age`` moves its predictions (the sensitivity
# is not small) but does not carry over to new patients (the importance is
# about zero): a large prior variance for an effect the held-out data do
# not bear out. ``bp`` and ``bmi`` are the opposite: a smaller prior
# variance, but an effect of one sign on every patient.
#
# ``s1`` and ``s2`` (total and LDL cholesterol) are strongly correlated, and
# the network uses them with opposite signs:
s1, s2 = names.index("s1"), names.index("s2")
r = np.corrcoef(X_train[:, s1], X_train[:, s2])[0, 1]
print(f"correlation of s1 and s2: {r:.2f}")
for j in (s1, s2):
    print(f"{names[j]}: mean dy/dx x std {np.mean(dydx[:, j]) * spread[j]:6.1f}")

# %%
# The data say little about how to divide the weight between two inputs
# that move together, and the committee's networks divide it differently.
# The root mean square of each network's first-layer weights for the two,
# per standard deviation of the input:
train_spread = X_train.std(axis=0)
for member in est.members_:
    W = member["coefs"][0] * train_spread[:, None]
    rms = np.sqrt(np.mean(W**2, axis=1))
    print(
        f"{str(member['hidden_layer_sizes']):>6} hidden units: "
        f"s1 {rms[s1]:.3f}, s2 {rms[s2]:.3f}"
    )

# %%
# Averaged over the networks, neither share is large, though ``s1``'s
# sensitivity and importance are among the four largest. Shuffling ``s1``
# alone breaks its tie to ``s2`` and gives the network pairs of values it
# never saw, which costs accuracy; the sensitivity, which moves one input with
# the other held fixed, sees the opposite signs as two separate effects.
#
# What each answers
# -----------------
# * ``feature_relevance_``: the prior scale the evidence gave each input's
#   first-layer weights, as a share of the total (in standardised inputs,
#   averaged over the committee). It describes the prior, not the fitted
#   function: an input whose penalty is orders of magnitude above the others
#   has its weights pinned at zero, but the order of the shares is not an
#   importance ranking.
# * :func:`~sklearn_tanhnet.input_sensitivity`: how strongly the fitted
#   predictions depend on each input, one at a time, in the target's units;
#   exact (no sampling, no step size) and needs no targets.
# * :func:`~sklearn.inspection.permutation_importance`: how much each input
#   contributes to accuracy on held-out data; needs targets, varies with the
#   shuffles, and is confounded by correlated inputs.
