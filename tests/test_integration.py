"""TanhNetRegressor inside real scikit-learn meta-estimators, searches and tools.

Each test checks that the wrapper does what it would do by hand: the same fit,
the same weights, the same feature names. Small data and networks keep it fast.
"""

import numpy as np
import pytest
import sklearn
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.inspection import PartialDependenceDisplay, permutation_importance
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_validate,
)
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_tanhnet import TanhNetRegressor

# Adam candidates in the searches stop at max_iter on purpose (to stay fast).
pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

RNG = np.random.RandomState(0)
X = RNG.uniform(-1, 1, size=(60, 3))
# y depends on x0 (strongly) and x1, not at all on x2.
Y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * RNG.normal(size=60)
Y2 = np.c_[Y, X[:, 0] * X[:, 1] + 0.05 * RNG.normal(size=60)]
W = RNG.uniform(0.2, 3.0, size=60)

GRID = [
    {
        "solver": ["least_squares"],
        "hidden_layer_sizes": [(3,), (5,)],
        "alpha": [1e-4, 1e-2],
    },
    {
        "solver": ["adam"],
        "hidden_layer_sizes": [(3,)],
        "learning_rate": [1e-2, 5e-2],
        "max_iter": [100],
    },
]


def net(**params):
    return TanhNetRegressor(**{"hidden_layer_sizes": (4,), "random_state": 0, **params})


def assert_same_fit(a, b, X):
    """Two fitted estimators predict bit-identically."""
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


# --- pipelines, column transformers, feature names --------------------------


def test_pipeline_equals_manual_scaling_then_fit():
    pipe = make_pipeline(StandardScaler(), net()).fit(X, Y)
    scaler = StandardScaler().fit(X)
    manual = net().fit(scaler.transform(X), Y)
    np.testing.assert_array_equal(pipe.predict(X), manual.predict(scaler.transform(X)))


@pytest.fixture(scope="module")
def frame():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["temp", "pressure", "noise"])
    df["site"] = np.where(np.arange(60) % 3 == 0, "north", "south")
    return df


def test_column_transformer_on_dataframe_keeps_feature_names(frame):
    ct = ColumnTransformer(
        [
            ("num", StandardScaler(), ["temp", "pressure", "noise"]),
            ("cat", OneHotEncoder(sparse_output=False), ["site"]),
        ]
    ).set_output(transform="pandas")
    pipe = Pipeline([("prep", ct), ("net", net())]).fit(frame, Y)

    assert list(pipe.feature_names_in_) == ["temp", "pressure", "noise", "site"]
    names = ["num__temp", "num__pressure", "num__noise"]
    names += ["cat__site_north", "cat__site_south"]
    assert list(pipe["net"].feature_names_in_) == names
    assert pipe["net"].n_features_in_ == 5
    # The network sees exactly what the transformer makes.
    Z = ct.transform(frame)
    np.testing.assert_array_equal(pipe.predict(frame), pipe["net"].predict(Z))
    assert pipe.score(frame, Y) > 0.9


def test_dataframe_feature_names_are_checked_at_predict(frame):
    num = frame[["temp", "pressure", "noise"]]
    est = net().fit(num, Y)
    assert list(est.feature_names_in_) == ["temp", "pressure", "noise"]
    # Not bit-identical: the frame arrives as a Fortran-ordered array, which
    # changes the order of floating-point sums in the fit (differences ~1e-14).
    np.testing.assert_allclose(
        est.predict(num), net().fit(X, Y).predict(X), rtol=1e-10, atol=1e-12
    )
    with pytest.raises(ValueError, match="feature names"):
        est.predict(num[["pressure", "temp", "noise"]])


# --- searches --------------------------------------------------------------


def test_grid_search_over_architecture_solver_and_rates():
    search = GridSearchCV(net(), GRID, cv=3).fit(X, Y)
    n_candidates = 2 * 2 + 2
    assert len(search.cv_results_["params"]) == n_candidates
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # The refit best estimator is a plain fit with the best parameters.
    best = net(**search.best_params_).fit(X, Y)
    assert_same_fit(search.best_estimator_, best, X)
    assert search.best_score_ > 0.8


def test_randomized_search_is_reproducible():
    distributions = {
        "hidden_layer_sizes": [(3,), (5,)],
        "solver": ["least_squares", "adam"],
        "alpha": loguniform(1e-5, 1e-1),
        "learning_rate": loguniform(1e-3, 1e-1),
        "max_iter": [100],
    }

    def run():
        search = RandomizedSearchCV(
            net(), distributions, n_iter=4, cv=3, random_state=0
        )
        return search.fit(X, Y)

    a, b = run(), run()
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"]
    )
    assert_same_fit(a.best_estimator_, b.best_estimator_, X)


def test_halving_grid_search():
    search = HalvingGridSearchCV(
        net(), GRID, factor=2, cv=3, min_resources=20, random_state=0
    ).fit(X, Y)
    assert search.n_resources_ == [20, 40]
    assert search.n_candidates_ == [6, 3]
    best = net(**search.best_params_).fit(X, Y)
    assert_same_fit(search.best_estimator_, best, X)


# --- cross-validation and meta-estimators ---------------------------------


def test_cross_validate_folds_equal_manual_fits():
    cv = KFold(3, shuffle=True, random_state=0)
    res = cross_validate(
        net(),
        X,
        Y,
        cv=cv,
        scoring=["r2", "neg_mean_squared_error"],
        return_estimator=True,
        return_indices=True,
    )
    for k, (train, test) in enumerate(cv.split(X)):
        np.testing.assert_array_equal(res["indices"]["test"][k], test)
        manual = net().fit(X[train], Y[train])
        assert_same_fit(res["estimator"][k], manual, X)
        pred = manual.predict(X[test])
        assert res["test_r2"][k] == pytest.approx(r2_score(Y[test], pred))
        mse = mean_squared_error(Y[test], pred)
        assert res["test_neg_mean_squared_error"][k] == pytest.approx(-mse)


def test_transformed_target_regressor_fits_transformed_target():
    y_pos = np.exp(Y)
    ttr = TransformedTargetRegressor(net(), func=np.log, inverse_func=np.exp)
    ttr.fit(X, y_pos)
    manual = net().fit(X, np.log(y_pos))
    np.testing.assert_allclose(ttr.predict(X), np.exp(manual.predict(X)), rtol=1e-12)


def test_multioutput_regressor_fits_one_network_per_output():
    mor = MultiOutputRegressor(net()).fit(X, Y2)
    assert mor.predict(X).shape == (60, 2)
    for k, est in enumerate(mor.estimators_):
        assert_same_fit(est, net().fit(X, Y2[:, k]), X)


def test_stacking_prefers_the_network_on_a_nonlinear_target():
    from sklearn.ensemble import StackingRegressor

    stack = StackingRegressor(
        [("net", net()), ("linear", LinearRegression())],
        final_estimator=Ridge(alpha=1e-3),
        cv=3,
    ).fit(X, Y)
    assert stack.score(X, Y) > 0.95
    w_net, w_linear = stack.final_estimator_.coef_
    assert w_net > 0.8 and abs(w_linear) < 0.2


# --- inspection ------------------------------------------------------------


def test_permutation_importance_finds_the_irrelevant_feature():
    est = net().fit(X, Y)
    res = permutation_importance(est, X, Y, n_repeats=5, random_state=0)
    imp = res.importances_mean
    assert imp[0] > imp[1] > 10 * abs(imp[2])
    assert abs(imp[2]) < 0.02


def test_partial_dependence_display_is_the_average_prediction(pyplot):
    est = net().fit(X, Y)
    disp = PartialDependenceDisplay.from_estimator(
        est, X, features=[0, 2], kind="average", grid_resolution=8
    )
    assert disp.axes_.shape == (1, 2)
    for feature, result in zip([0, 2], disp.pd_results):
        grid = result["grid_values"][0]
        expected = []
        for v in grid:
            Xv = X.copy()
            Xv[:, feature] = v
            expected.append(est.predict(Xv).mean())
        np.testing.assert_allclose(result["average"][0], expected, rtol=1e-12)
    # x0 moves the prediction by about 1.8 over its range, x2 hardly at all.
    spread = [np.ptp(r["average"][0]) for r in disp.pd_results]
    assert spread[0] > 1.0 > 10 * spread[1]


# --- metadata routing of sample_weight ------------------------------------


def test_sample_weight_routed_through_pipeline():
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [
                ("scale", StandardScaler().set_fit_request(sample_weight=False)),
                ("net", net().set_fit_request(sample_weight=True)),
            ]
        ).fit(X, Y, sample_weight=W)
        unweighted = clone(pipe).fit(X, Y)
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    weighted = net().fit(Z, Y, sample_weight=W)
    np.testing.assert_array_equal(pipe.predict(X), weighted.predict(Z))
    assert not np.allclose(pipe.predict(X), unweighted.predict(X))


def test_sample_weight_routed_through_search_to_fit_and_score():
    cv = KFold(3, shuffle=True, random_state=0)
    grid = {"alpha": [1e-4, 1e-2]}
    with sklearn.config_context(enable_metadata_routing=True):
        est = net().set_fit_request(sample_weight=True)
        est = est.set_score_request(sample_weight=True)
        search = GridSearchCV(est, grid, cv=cv).fit(X, Y, sample_weight=W)
        plain = GridSearchCV(net(), grid, cv=cv).fit(X, Y)
    # Every split score is a weighted fit scored with weighted R^2.
    for i, alpha in enumerate(grid["alpha"]):
        for k, (train, test) in enumerate(cv.split(X)):
            fold = net(alpha=alpha).fit(X[train], Y[train], sample_weight=W[train])
            expected = r2_score(Y[test], fold.predict(X[test]), sample_weight=W[test])
            got = search.cv_results_[f"split{k}_test_score"][i]
            assert got == pytest.approx(expected, rel=1e-12)
    refit = net(**search.best_params_).fit(X, Y, sample_weight=W)
    assert_same_fit(search.best_estimator_, refit, X)
    assert not np.allclose(
        search.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
