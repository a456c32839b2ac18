"""
==============================================================
Training control: evidence penalties, early stopping, restarts
==============================================================

How hard a network should be penalised is usually found by a grid search.
With ``alpha='auto'`` (the default) :class:`~sklearn_tanhnet.TanhNetRegressor`
estimates one penalty per layer from the training data alone, by MacKay's
evidence framework. This example puts the defaults next to scikit-learn's
:class:`~sklearn.neural_network.MLPRegressor` on the diabetes data, then shows
the two other tools against overfitting and bad starts: early stopping on a
held-out loss, and several random starts in one fit.
"""

# %%
# Defaults against MLPRegressor
# -----------------------------
# Five shuffled folds of scikit-learn's diabetes data (442 patients, 10
# features, a target in the hundreds). ``TanhNetRegressor`` is used as it
# comes: ``alpha='auto'``, no scaling outside (it standardises X and y
# itself), and ``hidden_layer_sizes='auto'``, a committee of one-hidden-layer
# networks of 5, 10 and 20 units (on the 353 or 354 training rows of a fold),
# two random starts of each, that predicts with the mean of the six
# (:ref:`committee`). The MLP is one network of ten units, the committee's
# middle width, with the closest solver, ``'lbfgs'``; it gets a scaled X and
# y, without which it does far worse, and is shown with its default
# ``alpha=1e-4`` and with ``alpha=1``. :class:`~sklearn.linear_model.RidgeCV`
# is the linear baseline.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_validate, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_tanhnet import LossCurveDisplay, TanhNetRegressor

X, y = load_diabetes(return_X_y=True)


def scaled_mlp(alpha):
    return TransformedTargetRegressor(
        make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=(10,),
                activation="tanh",
                solver="lbfgs",
                alpha=alpha,
                random_state=0,
            ),
        ),
        transformer=StandardScaler(),
    )


models = {
    "TanhNetRegressor()": TanhNetRegressor(random_state=0),
    "MLPRegressor, alpha=1e-4": scaled_mlp(1e-4),
    "MLPRegressor, alpha=1": scaled_mlp(1.0),
    "RidgeCV": make_pipeline(StandardScaler(), RidgeCV()),
}
cv = KFold(n_splits=5, shuffle=True, random_state=0)
print(f"{'model':<26}{'median R^2':>11}{'min':>8}{'max':>8}{'time':>8}")
for name, model in models.items():
    start = time.perf_counter()
    with warnings.catch_warnings():
        # lbfgs stops at its default max_iter=200 on every fold and warns;
        # a larger max_iter only lets the MLP overfit more.
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = cross_validate(model, X, y, cv=cv, return_estimator=True)
    seconds = time.perf_counter() - start
    r2 = result["test_score"]
    if name == "TanhNetRegressor()":
        fold_nets = result["estimator"]
    print(
        f"{name:<26}{np.median(r2):>11.3f}{r2.min():>8.3f}{r2.max():>8.3f}"
        f"{seconds:>7.1f}s"
    )

print("widths of the committee (first fold):", fold_nets[0].hidden_layer_sizes_)

# %%
# With no tuning the committee comes close to the linear baseline, while the MLP
# overfits: its 121 parameters for about 350 training rows per fold need a
# penalty, and which one is a matter of search (``alpha=1`` helps, but is
# still far from the linear model). The diabetes signal is nearly linear, so matching
# ``RidgeCV`` is the most a network can do here. On a nonlinear problem,
# ``make_friedman1(2500, noise=1, random_state=0)`` with the same folds, the
# defaults reach a median :math:`R^2` of 0.959, the MLP 0.953 and ``RidgeCV``
# 0.737.
#
# What the evidence framework chose
# ---------------------------------
# Each network of the committee has its own penalties. The fitted attributes
# below are those of the committee's representative network, its member of
# largest log evidence, whose width ``members_`` records. ``alpha_`` holds one
# penalty per layer, in the units of ``alpha`` for the standardised data;
# ``effective_n_params_`` is the number of parameter combinations the data
# determine, of the network's parameters (61, 121 or 241 for 5, 10 or 20
# units); ``noise_variance_`` is the estimated noise variance in the units of
# y squared, so its square root is the typical error of a new prediction. One
# row per fold:
print("fold  width  alpha_[0]  alpha_[1]  effective_n_params_  noise std")
for k, net in enumerate(fold_nets):
    representative = max(net.members_, key=lambda m: m["log_evidence"])
    (width,) = representative["hidden_layer_sizes"]
    n_params = (X.shape[1] + 2) * width + 1
    print(
        f"{k:<4}{width:>7}{net.alpha_[0]:>11.3g}{net.alpha_[1]:>11.3g}"
        f"{net.effective_n_params_:>13.1f} of {n_params:<3}"
        f"{np.sqrt(net.noise_variance_[0]):>11.1f}"
    )

# %%
# The representative is the network of 5 units on four folds of five. Its
# penalties swing by orders of magnitude from fold to fold: a tanh unit can
# trade smaller input weights for larger output weights, so only the two
# together mean something. What the evidence iteration watches to decide
# that it has settled, the effective number of parameters and the noise, is
# much steadier: some 9 to 24 parameters' worth of information, whatever the
# width, and a noise standard deviation that moves by a few percent.

# %%
# Early stopping
# --------------
# The other classic remedy: no penalty, but stop training when the loss on
# held-out data stops improving. ``early_stopping=True`` holds out
# ``validation_fraction`` of the training rows, records the validation loss
# every iteration (``validation_loss_curve_``), stops after
# ``n_iter_no_change`` iterations without improvement and returns the
# parameters of the best iteration. (``fit(X, y, X_val=..., y_val=...)`` uses
# a validation set of your own instead.)
#
# Early stopping suits a solver that takes small steps: adam, with small
# minibatches. A patient ``n_iter_no_change=100`` lets the curves below show
# what happens after the best epoch. A test set kept out of everything judges
# the result.
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
adam = dict(
    hidden_layer_sizes=(50,),
    solver="adam",
    alpha=0.0,
    learning_rate=1e-2,
    batch_size=64,
    max_iter=2000,
    n_iter_no_change=100,
    random_state=0,
)
fits = {
    "adam, no penalty": TanhNetRegressor(**adam),
    "adam, early stopping": TanhNetRegressor(
        **adam, early_stopping=True, validation_fraction=0.2
    ),
    "defaults (committee)": TanhNetRegressor(random_state=0),
}
for name, fit in fits.items():
    fit.fit(X_train, y_train)
    print(
        f"{name:<24} {fit.status_:<9} {fit.n_iter_:>4} iterations, "
        f"test R^2 {fit.score(X_test, y_test):.3f}"
    )
stopped = fits["adam, early stopping"]
best = int(np.argmin(stopped.validation_loss_curve_)) + 1
print(
    f"validation loss: best {stopped.best_validation_loss_:.3f} at epoch {best}, "
    f"{stopped.validation_loss_curve_[-1]:.3f} at the last, epoch {stopped.n_iter_}"
)

# %%
# Without a penalty adam fits the noise of the training rows until the
# objective plateaus, and the test :math:`R^2` is negative. Early stopping
# keeps the network of the best epoch and generalises nearly as well as the
# defaults' evidence penalties, which needed no held-out data (the defaults'
# status and iterations are those of the committee's representative network).
# The curves show why: the training loss keeps falling while the validation
# loss turns up. (The validation loss is the unpenalised loss on the held-out
# rows; with ``alpha=0`` the training curve is the same quantity on the
# training rows.)
disp = LossCurveDisplay.from_estimator(stopped)
disp.ax_.axvline(best, color="0.5", ls=":", label="parameters kept")
disp.ax_.legend()
disp.figure_.tight_layout()
plt.show()

# %%
# The Gauss-Newton solver is too fast for this: on the same data, without a
# penalty, the validation loss is lowest after very few iterations, before
# the fit has learned much. With ``solver='least_squares'`` a penalty is the
# better regulariser.
gauss_newton = TanhNetRegressor(
    (50,), alpha=0.0, early_stopping=True, validation_fraction=0.2, random_state=0
).fit(X_train, y_train)
best = int(np.argmin(gauss_newton.validation_loss_curve_)) + 1
print(
    f"least_squares: best validation loss at iteration {best}, "
    f"test R^2 {gauss_newton.score(X_test, y_test):.3f}"
)

# %%
# Random starts: equally good fits, different weights
# ---------------------------------------------------
# The committee's networks differ by their random start as well as by their
# width. To see what the start alone does, fix the width:
# ``hidden_layer_sizes=(10,), n_starts=4`` fits a network of ten units from
# four random initial weights, and ``combine='best'`` keeps the one of
# largest log evidence (of lowest validation loss with early stopping)
# instead of averaging them. Every start is recorded in ``members_``, with
# its objective, its log evidence, its generalised cross-validation score
# (GCV: the training mean squared error inflated for the effective number of
# parameters, in units of the target's variance, so that one minus it
# estimates the cross-validated :math:`R^2`) and its weights. To compare
# weights without being fooled by the network's symmetries (hidden units can
# be swapped, and a unit's signs flipped), the table shows the three largest
# output weights in absolute value, and the norm of the input weights.
est = TanhNetRegressor((10,), n_starts=4, combine="best", random_state=0).fit(X, y)


def predict_with(coefs, intercepts, X):
    """The network of one start (``coefs`` are in the units of X and y)."""
    hidden = np.tanh(X @ coefs[0] + intercepts[0])
    return (hidden @ coefs[1] + intercepts[1]).ravel()


predictions = []
print("start   loss    GCV   log ev  train R^2   largest |output W|   |input W|")
for k, member in enumerate(est.members_):
    predictions.append(predict_with(member["coefs"], member["intercepts"], X))
    r2 = 1 - np.mean((predictions[-1] - y) ** 2) / np.var(y)
    out = np.sort(np.abs(member["coefs"][1].ravel()))[::-1][:3]
    print(
        f"{k:<5}{member['loss']:>7.3f}{member['gcv']:>7.3f}"
        f"{member['log_evidence']:>9.1f}{r2:>11.3f}   "
        f"{out[0]:>6.0f}{out[1]:>6.0f}{out[2]:>6.0f}"
        f"{np.linalg.norm(member['coefs'][0]):>12.1f}"
    )
kept = int(np.argmax([member["weight"] for member in est.members_]))
print(f"kept: start {kept} (largest log evidence)")

# %%
# The fits are about equally good: their objectives and GCV scores are
# within a few hundredths of each other, the training :math:`R^2` a little
# more spread (the start kept has neither the lowest objective nor the lowest
# GCV: the evidence scores a network by more than its fit). Their weights are
# not: the largest output weights and the size of the input weights differ by
# up to a factor of two, symmetries aside. The predictions agree much better
# than the weights, well within the noise:
predictions = np.array(predictions)
spread = predictions.std(axis=0)
print(f"spread of the four predictions per patient: median {np.median(spread):.1f}")
print(f"estimated noise standard deviation: {np.sqrt(est.noise_variance_[0]):.1f}")

# %%
# This is the lecture's point in a real setting: a network that fits is not
# unique, and its weights have no meaning of their own. Judge a network by its
# predictions. That is why the default does not pick one start: its committee
# predicts with the mean of all its networks (``combine='mixture'``), and
# counts their disagreement in ``predict(return_std=True)`` and the
# intervals, so that no single start's accident decides the prediction.
