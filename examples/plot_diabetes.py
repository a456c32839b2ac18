"""
=====================================================
A real data set: diabetes progression
=====================================================

scikit-learn ships the diabetes data set (442 patients, 10 baseline
measurements, a quantitative measure of disease progression one year later)
with the library, so nothing is downloaded. This example compares
:class:`~sklearn_tanhnet.TanhNetRegressor` with scikit-learn's
:class:`~sklearn.neural_network.MLPRegressor` and a linear baseline,
:class:`~sklearn.linear_model.RidgeCV`, by cross-validation.
"""

# %%
# The data
# --------
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_validate
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_tanhnet import HessianSpectrumDisplay, TanhNetRegressor

X, y = load_diabetes(return_X_y=True)
n_samples, n_features = X.shape
print(f"{n_samples} samples, {n_features} features")
print(f"target from {y.min():.0f} to {y.max():.0f}, standard deviation {y.std():.0f}")

# %%
# The models
# ----------
# Small data with a largely linear signal: a small network with a strong
# penalty. ``alpha`` has the same meaning and scaling in both network
# estimators.
#
# * ``TanhNetRegressor`` standardises X and y itself and fits with the exact
#   Gauss-Newton solver.
# * ``MLPRegressor`` needs both done for it: a ``StandardScaler`` for X, and a
#   :class:`~sklearn.compose.TransformedTargetRegressor` for y (without it,
#   targets in the hundreds make training slow and poor). Its ``'lbfgs'``
#   solver is the closest to ours on a data set this small.
# * ``RidgeCV``: a penalised linear model choosing its penalty by internal
#   cross-validation.
models = {
    "TanhNetRegressor": TanhNetRegressor((5,), alpha=10.0, random_state=0),
    "MLPRegressor": TransformedTargetRegressor(
        make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=(5,),
                activation="tanh",
                solver="lbfgs",
                alpha=10.0,
                max_iter=2000,
                random_state=0,
            ),
        ),
        transformer=StandardScaler(),
    ),
    "RidgeCV": make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))),
}

# %%
# Cross-validation
# ----------------
# The same five shuffled folds for every model.
cv = KFold(n_splits=5, shuffle=True, random_state=0)
scores = {}
for name, model in models.items():
    start = time.perf_counter()
    scores[name] = cross_validate(
        model, X, y, cv=cv, scoring=("r2", "neg_root_mean_squared_error")
    )
    r2 = scores[name]["test_r2"]
    rmse = -scores[name]["test_neg_root_mean_squared_error"]
    print(
        f"{name:<17} R^2 {r2.mean():.3f} +/- {r2.std():.3f}   "
        f"RMSE {rmse.mean():5.1f}   {time.perf_counter() - start:.1f} s"
    )

# %%
fig, ax = plt.subplots()
ax.boxplot([scores[name]["test_r2"] for name in models])
ax.set_xticks(range(1, len(models) + 1), list(models))
ax.set_xlabel("model")
ax.set_ylabel("$R^2$ on the held-out fold")
ax.set_title("Diabetes progression: 5-fold cross-validation")
plt.show()

# %%
# The three are within each other's fold-to-fold spread: on this data set a
# neural network brings little over a linear model, which is worth knowing
# before reaching for one. The network needs the penalty: with
# ``alpha=1e-4`` its cross-validated :math:`R^2` drops to about 0.33, as 61
# parameters overfit 442 samples. The defaults, a committee of networks
# (:ref:`committee`) with ``alpha='auto'``, choose each network's penalties
# during the fit instead of by search; see
# :ref:`sphx_glr_auto_examples_plot_training_control.py`.

# %%
# What the network adds: diagnostics
# ----------------------------------
# Fitted on all the data, the network can report on itself: whether it
# stopped at a minimum, and how many of its 61 parameters the data determine.
est = TanhNetRegressor((5,), alpha=10.0, random_state=0).fit(X, y)
diagnostics = est.diagnose(X, y)
h = diagnostics.hessian_eigenvalues
print(f"status {est.status_} after {est.n_iter_} iterations")
print(
    f"objective {diagnostics.loss:.6f}, gradient norm {diagnostics.gradient_norm:.1e}"
)
print(f"rank {diagnostics.rank} of {diagnostics.n_params}")
print(f"smallest Hessian eigenvalue / largest: {h[-1] / h[0]:.1e}")

# %%
# The gradient is small and the objective had stopped improving by more than
# ``tol``, so training ended on a plateau. The smallest eigenvalue is zero
# relative to the largest: a tiny negative value, below the cutoff in
# magnitude and so grey (red marks negative eigenvalues above the cutoff).
# The objective is flat along that direction, hence rank 60 of 61 despite
# the penalty. The many equal eigenvalues are the penalty's curvature on
# weight combinations the data hardly inform.
HessianSpectrumDisplay.from_diagnostics(
    diagnostics, estimator_name="5 hidden units", kind="stem"
)
plt.show()

# %%
# Setting ``tol=0`` lets the solver run on, here to ``max_iter``. The
# gradient shrinks, but the objective is the same to the digits printed and
# the flat direction stays, its eigenvalue still zero relative to the
# largest: the plateau was as good as this fit gets.
est = TanhNetRegressor((5,), alpha=10.0, tol=0.0, random_state=0)
with warnings.catch_warnings():
    # Running to max_iter is the point of tol=0 here, so its
    # ConvergenceWarning is expected.
    warnings.simplefilter("ignore", ConvergenceWarning)
    est.fit(X, y)
diagnostics = est.diagnose(X, y)
h = diagnostics.hessian_eigenvalues
print(f"status {est.status_} after {est.n_iter_} iterations")
print(
    f"objective {diagnostics.loss:.6f}, gradient norm {diagnostics.gradient_norm:.1e}"
)
print(f"smallest Hessian eigenvalue / largest: {h[-1] / h[0]:.1e}")
print(f"R^2 on the training data {est.score(X, y):.3f}")

# %%
# And with ``predict(return_std=True)``, a predictive standard deviation for
# each patient, shown against the prediction for the first 40:
y_pred, y_std = est.predict(X[:40], return_std=True)
order = np.argsort(y_pred)
fig, ax = plt.subplots()
ax.errorbar(
    np.arange(40),
    y_pred[order],
    yerr=1.96 * y_std[order],
    fmt="o",
    capsize=2,
    label="prediction +/- 1.96 std",
)
ax.plot(np.arange(40), y[:40][order], "kx", label="observed")
ax.set_xlabel("patient (sorted by prediction)")
ax.set_ylabel("disease progression")
ax.set_title("Predictions with delta-method uncertainty")
ax.legend()
plt.show()
