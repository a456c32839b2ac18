"""
=====================================================
Choosing hyperparameters with GridSearchCV
=====================================================

The size of the network and adam's step size are hyperparameters: fixed
before fitting, chosen by how well the model predicts data it has not seen.
:class:`~sklearn_tanhnet.TanhNetRegressor` is a scikit-learn estimator, so it
fits in a :class:`~sklearn.pipeline.Pipeline` and
:class:`~sklearn.model_selection.GridSearchCV` searches over it like any other.
"""

# %%
# Data
# ----
# A smooth function of two inputs with a little noise.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_tanhnet import TanhNetRegressor

rng = np.random.RandomState(0)
X = rng.uniform(-1, 1, size=(200, 2))
y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=200)

# %%
# The search
# ----------
# The estimator standardises internally, so the
# :class:`~sklearn.preprocessing.StandardScaler` is not needed for the fit;
# it is here to show the usual pipeline shape. Parameters of a pipeline step
# are addressed as ``<step>__<parameter>``. ``learning_rate`` (adam's step
# size) only matters for ``solver='adam'``.
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "net",
            TanhNetRegressor(
                solver="adam",
                alpha=1e-4,
                batch_size=32,
                max_iter=1000,
                random_state=0,
            ),
        ),
    ]
)
param_grid = {
    "net__hidden_layer_sizes": [(3,), (10,)],
    "net__learning_rate": [0.003, 0.03],
}
cv = KFold(n_splits=3, shuffle=True, random_state=0)
search = GridSearchCV(pipe, param_grid, cv=cv, scoring="r2")
with warnings.catch_warnings():
    # A small step size may need more than max_iter epochs; the search scores
    # such fits anyway, and a poor score is what rules them out.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X, y)

print("best parameters:", search.best_params_)
print(f"best cross-validated R^2: {search.best_score_:.4f}")

# %%
# All candidates
# --------------
results = search.cv_results_
print(f"{'hidden':>8}{'learning_rate':>15}{'R^2':>9}{'std':>8}{'fit s':>8}")
for params, mean, std, t in zip(
    results["params"],
    results["mean_test_score"],
    results["std_test_score"],
    results["mean_fit_time"],
):
    print(
        f"{str(params['net__hidden_layer_sizes']):>8}"
        f"{params['net__learning_rate']:>15}{mean:>9.4f}{std:>8.4f}{t:>8.2f}"
    )

# %%
# The mean score of each combination, with its spread over the folds:
fig, ax = plt.subplots()
for hidden in param_grid["net__hidden_layer_sizes"]:
    mask = [p["net__hidden_layer_sizes"] == hidden for p in results["params"]]
    ax.errorbar(
        np.array(param_grid["net__learning_rate"]),
        results["mean_test_score"][mask],
        yerr=results["std_test_score"][mask],
        marker="o",
        capsize=3,
        label=f"hidden_layer_sizes={hidden}",
    )
ax.set_xscale("log")
rates = param_grid["net__learning_rate"]
ax.set_xticks(rates, [f"{rate:g}" for rate in rates])
ax.set_xticks([], minor=True)
ax.margins(x=0.15)
ax.set_xlabel("learning_rate (adam step size)")
ax.set_ylabel("cross-validated $R^2$")
ax.set_title("Grid search over network size and step size")
ax.legend()
plt.show()

# %%
# Cross-validating the choice
# ---------------------------
# The best score of a search is optimistic: it was picked as the maximum. An
# honest estimate of the chosen pipeline comes from data it was not tuned on;
# here, for comparison, plain 5-fold cross-validation of the chosen adam
# pipeline and of the default ``least_squares`` solver with the same hidden
# layer.
best_hidden = search.best_params_["net__hidden_layer_sizes"]
candidates = {
    "adam (chosen)": search.best_estimator_,
    "least_squares": Pipeline(
        [
            ("scale", StandardScaler()),
            ("net", TanhNetRegressor(best_hidden, alpha=1e-4, random_state=0)),
        ]
    ),
}
scores = {}
cv5 = KFold(n_splits=5, shuffle=True, random_state=1)
for name, model in candidates.items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # as above
        res = cross_validate(
            model, X, y, cv=cv5, scoring=("r2", "neg_root_mean_squared_error")
        )
    scores[name] = res
    rmse = -res["test_neg_root_mean_squared_error"]
    print(
        f"{name:<15} R^2 {res['test_r2'].mean():.4f} +/- {res['test_r2'].std():.4f}"
        f"   RMSE {rmse.mean():.4f}   fit {res['fit_time'].mean():.2f} s"
    )

# %%
# The least-squares fit reaches the noise level (RMSE 0.05) with no step size
# to tune; adam, even with its tuned step size, stays somewhat above it. On
# data this small, ``least_squares`` is the better choice; adam pays off when
# the data are too large for the full Jacobian.
fig, ax = plt.subplots()
ax.boxplot([-scores[name]["test_neg_root_mean_squared_error"] for name in scores])
ax.set_xticks(range(1, len(scores) + 1), list(scores))
ax.axhline(0.05, color="k", ls="--", lw=1, label="noise standard deviation")
ax.set_xlabel("solver")
ax.set_ylabel("test RMSE per fold")
ax.set_title("5-fold cross-validation")
ax.legend()
plt.show()
