"""What people coming from MLPRegressor try first (issue 18).

Wide data, deferred statistics, ``n_iter_no_change=np.inf``, sparse input,
float32 and adam's best parameters.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._uncertainty import DeferredStatistics


@pytest.fixture(scope="module")
def wide_fit():
    """MLPRegressor's multi-output test: 200 x 100, 5 outputs, (50,)."""
    X, y = make_regression(n_samples=200, n_targets=5, random_state=11)
    return X, y, TanhNetRegressor((50,), random_state=0).fit(X, y)


def test_wide_multi_output_data_fits_with_the_defaults(wide_fit):
    X, y, est = wide_fit
    assert est.score(X, y) > 0.9  # MLPRegressor's test's bar
    # 5,305 parameters and 5 outputs: the statistics' 5,305^2 matrices would
    # take more than the default memory budget at their peak; with 1,000
    # residuals they are computed in the residual space instead.
    _, std = est.predict(X[:2], return_std=True)
    assert std.shape == (2, 5) and np.all(np.isfinite(std)) and np.all(std > 0)


def test_fewer_rows_than_parameters_step_in_the_residual_space():
    X, y = load_digits(n_class=2, return_X_y=True)
    X = MinMaxScaler().fit_transform(X[:200])[:50]
    est = TanhNetRegressor((15,), random_state=0).fit(X, y[:50].astype(float))
    assert est.tr_solver_ == "exact"  # 50 residuals, 991 parameters
    assert est.score(X, y[:50]) > 0.9
    assert est.log_evidence_ is not None and np.isfinite(est.log_evidence_)


@pytest.fixture(scope="module")
def sine():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(60, 1))
    return X, np.sin(X).ravel() + 0.1 * rng.normal(size=60)


def test_lazy_statistics_equal_those_of_fit_bit_for_bit(sine):
    X, y = sine
    eager = TanhNetRegressor((5,), random_state=0, uncertainty="fit").fit(X, y)
    lazy = TanhNetRegressor((5,), random_state=0, uncertainty="lazy").fit(X, y)
    assert isinstance(lazy._committee[0][5], DeferredStatistics)
    # A model saved before the first use computes them after loading.
    lazy = pickle.loads(pickle.dumps(lazy))
    for a, b in zip(eager.predict_interval(X), lazy.predict_interval(X)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(eager.noise_variance_, lazy.noise_variance_)
    assert eager.effective_n_params_ == lazy.effective_n_params_
    # Computed once; the training data are let go.
    assert lazy._committee[0][5].arrays is None
    assert lazy._fitted_statistics() is lazy._committee[0][5].result


def test_partial_fit_defers_costly_statistics_to_their_first_use(sine):
    # One partial_fit call is one epoch; the statistics' pass over the rows
    # costs some n_params / 6 epochs. Where that pass (3,000 rows x 661
    # parameters squared) is more than 1e9 multiply-adds, 'auto' computes
    # the statistics on first use, the same numbers as 'fit' computes.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 10))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=3000)
    params = dict(solver="adam", alpha=1e-4, random_state=0)
    auto = TanhNetRegressor((20, 20), **params).partial_fit(X, y)
    statistics = auto._committee[0][5]
    assert isinstance(statistics, DeferredStatistics) and statistics.arrays
    eager = TanhNetRegressor((20, 20), uncertainty="fit", **params).partial_fit(X, y)
    assert not isinstance(eager._committee[0][5], DeferredStatistics)
    for a, b in zip(eager.predict_interval(X[:50]), auto.predict_interval(X[:50])):
        np.testing.assert_array_equal(a, b)
    assert statistics.arrays is None
    # A cheap pass (60 rows, a (5,) network) is taken at once, as in fit.
    X, y = sine
    small = TanhNetRegressor((5,), **params).partial_fit(X, y)
    assert not isinstance(small._committee[0][5], DeferredStatistics)


def test_uncertainty_off_computes_nothing_and_says_so(sine):
    X, y = sine
    est = TanhNetRegressor((5,), random_state=0, uncertainty="off").fit(X, y)
    assert est.noise_variance_ is None and est.effective_n_params_ is None
    with pytest.raises(ValueError, match="uncertainty='off'"):
        est.predict_interval(X)
    with pytest.raises(ValueError, match="uncertainty='off'"):
        est.predict(X, return_std=True)
    ref = TanhNetRegressor((5,), random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))


def test_fitted_statistics_attributes_need_a_fit():
    est = TanhNetRegressor()
    assert not hasattr(est, "noise_variance_")
    assert not hasattr(est, "effective_n_params_")


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_infinite_patience_turns_the_plateau_rule_off(sine, solver):
    X, y = sine
    est = TanhNetRegressor(
        (3,), solver=solver, n_iter_no_change=np.inf, max_iter=30, random_state=0
    )
    if solver == "adam":  # no plateau to stop at: all 30 epochs, and a warning
        with pytest.warns(ConvergenceWarning, match="max_iter=30"):
            est.fit(X, y)
        assert est.n_iter_ == 30 and est.status_ == "max_iter"
    else:
        est.fit(X, y)
        assert est.status_ != "plateau"


@pytest.mark.parametrize("bad", [2.5, 0, -np.inf, "inf"])
def test_patience_other_than_an_integer_or_inf_is_refused(sine, bad):
    X, y = sine
    with pytest.raises(InvalidParameterError, match="n_iter_no_change"):
        TanhNetRegressor(n_iter_no_change=bad).fit(X, y)


# -- adam: a diverging early-stopped fit, best_loss_ ------------------------------


@pytest.fixture(scope="module")
def regression_data():
    # MLPRegressor's tests' regression data.
    return make_regression(n_samples=200, n_features=10, random_state=7)


@pytest.mark.parametrize("batch_size", ["auto", 32])
def test_a_diverging_early_stopped_fit_is_no_worse_than_its_start(
    regression_data, batch_size
):
    X, y = regression_data
    options = dict(
        hidden_layer_sizes=(10,),
        solver="adam",
        early_stopping=True,
        batch_size=batch_size,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="start included"):
        est = TanhNetRegressor(learning_rate=10.0, **options).fit(X, y)
    assert est.status_ == "diverged"
    # The same split and starting weights, moved by nothing.
    start = TanhNetRegressor(learning_rate=1e-12, max_iter=1, **options)
    with pytest.warns(ConvergenceWarning):
        start.fit(X, y)
    assert est.score(X, y) >= start.score(X, y) - 1e-8
    assert np.isfinite(est.loss_) and est.loss_ <= 10 * start.loss_
    assert all(np.isfinite(W).all() for W in est.coefs_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_best_loss_is_the_lowest_epoch_loss_for_adam_only(regression_data):
    X, y = regression_data
    est = TanhNetRegressor(solver="adam", max_iter=20, tol=0.1, random_state=0)
    est.fit(X, y)
    assert est.best_loss_ == min(est.loss_curve_)
    est.set_params(early_stopping=True).fit(X, y)
    assert est.best_loss_ is None and est.best_validation_loss_ > 0
    est.set_params(solver="least_squares", early_stopping=False).fit(X, y)
    assert not hasattr(est, "best_loss_")


# -- sparse input ------------------------------------------------------------------


@pytest.fixture(scope="module")
def categorical():
    """Three categorical columns; the target mixes and crosses them."""
    rng = np.random.RandomState(0)
    C = np.c_[rng.randint(0, 4, 300), rng.randint(0, 6, 300), rng.randint(0, 3, 300)]
    y = np.array([0.5, -1, 2, 0.3])[C[:, 0]] + np.sin(C[:, 1]) * (C[:, 2] - 1)
    return C, y + 0.1 * rng.normal(size=300)


def assert_close_to_scale(actual, expected, tol=1e-10):
    np.testing.assert_allclose(
        actual, expected, rtol=0, atol=tol * np.abs(expected).max()
    )


@pytest.mark.parametrize(
    "params",
    [{}, {"tr_solver": "cg"}, {"solver": "adam", "max_iter": 30}],
    ids=["lm", "lm-cg", "adam"],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_one_hot_pipeline_fits_sparse_as_dense(categorical, params):
    C, y = categorical
    fits = []
    for sparse_output in (True, False):
        pipe = make_pipeline(
            OneHotEncoder(sparse_output=sparse_output),
            TanhNetRegressor((5,), random_state=0, **params),
        )
        fits.append(pipe.fit(C, y))
    sparse_fit, dense_fit = fits
    assert sp.issparse(sparse_fit[0].transform(C))
    assert_close_to_scale(sparse_fit.predict(C), dense_fit.predict(C))
    if params.get("solver") != "adam":
        assert sparse_fit.score(C, y) > 0.95
    Xs, Xd = sparse_fit[0].transform(C), dense_fit[0].transform(C)
    for a, b in zip(
        sparse_fit[-1].predict_interval(Xs), dense_fit[-1].predict_interval(Xd)
    ):
        assert_close_to_scale(a, b, 1e-8)
    assert_close_to_scale(
        sparse_fit[-1].predict_gradient(Xs), dense_fit[-1].predict_gradient(Xd)
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sparse_data_with_weights_validation_and_partial_fit(categorical):
    C, y = categorical
    X = OneHotEncoder().fit_transform(C)
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    fits = []
    for data in (X, X.toarray()):
        est = TanhNetRegressor((4,), solver="adam", random_state=0, alpha=1e-3)
        est.fit(
            data[:250], y[:250], sample_weight=w[:250], X_val=data[250:], y_val=y[250:]
        )
        est.partial_fit(data[:100], y[:100])
        fits.append(est)
    assert_close_to_scale(fits[0].predict(X), fits[1].predict(X.toarray()))
    assert_close_to_scale(
        fits[0].validation_loss_curve_, fits[1].validation_loss_curve_, 1e-9
    )


def test_scipy_methods_take_sparse_data(categorical):
    # trf on the (rank-deficient) one-hot design: the same quality, though
    # its SVD steps do not follow the dense fit's to rounding.
    C, y = categorical
    pipe = make_pipeline(
        OneHotEncoder(), TanhNetRegressor((5,), method="trf", random_state=0)
    )
    assert pipe.fit(C, y).score(C, y) > 0.95


def test_sparse_standardisation_equals_the_dense_one():
    from sklearn_tanhnet._data import _weighted_mean_std

    rng = np.random.RandomState(0)
    X = sp.random(200, 7, density=0.2, random_state=rng, format="csr")
    X = X + sp.csr_matrix(
        np.c_[np.full(200, 3.0), np.zeros((200, 6))]
    )  # a dense column
    w = rng.uniform(0.1, 2.0, 200)
    for got, expected in zip(
        _weighted_mean_std(X, w), _weighted_mean_std(X.toarray(), w)
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-13)


# -- scikit-learn's test_mlp.py, ported ------------------------------------------


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_warm_start_max_iter_bounds_n_iter(solver):
    # scikit-learn #24764 (test_mlp_warm_start_no_convergence): n_iter_ counts
    # the last call's iterations, so max_iter bounds it.
    X, y = make_regression(n_samples=60, n_features=3, noise=1.0, random_state=0)
    est = TanhNetRegressor(
        (3,),
        solver=solver,
        alpha=1e-3,
        warm_start=True,
        max_iter=10,
        tol=0.0,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 10
    est.set_params(max_iter=20)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 20
    assert len(est.loss_curve_) == 30  # the curve goes on across calls


def test_warm_start_runs_max_iter_again():
    # scikit-learn #16812 (test_warm_start_full_iteration).
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    est = TanhNetRegressor(
        (2,), solver="adam", warm_start=True, max_iter=3, alpha=1e-4, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 3
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 6


def test_warm_start_with_early_stopping_extends_the_validation_curve():
    # test_mlp_warm_start_with_early_stopping.
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    est = TanhNetRegressor(
        (3,), max_iter=10, random_state=0, warm_start=True, early_stopping=True
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    n_validation = len(est.validation_loss_curve_)
    est.set_params(max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert len(est.validation_loss_curve_) > n_validation


@pytest.fixture(scope="module")
def digits_binary():
    """test_mlp.py's X_digits_binary[:50]."""
    X, y = load_digits(n_class=2, return_X_y=True)
    return MinMaxScaler().fit_transform(X[:200])[:50], y[:50].astype(float)


def test_sparse_matrices_fit_as_dense_ones(digits_binary):
    # test_mlp.py's test_sparse_matrices, at MLPRegressor's fixed alpha. The
    # two paths do the same arithmetic in another summation order (the
    # sparse product, then the centring as a rank-one correction), so
    # predictions of size 1 agree to a few eps times the conditioning of
    # the fit at a fixed penalty, far inside assert_almost_equal's 7 decimals.
    X, y = digits_binary
    X_sparse = sp.csr_matrix(X)
    est = TanhNetRegressor(15, alpha=1e-4, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pred_dense = est.fit(X, y).predict(X)
        pred_sparse = est.fit(X_sparse, y).predict(X_sparse)
    np.testing.assert_almost_equal(pred_dense, pred_sparse, decimal=7)
    # One model, either input: one rounding of the first layer's sums apart.
    np.testing.assert_allclose(est.predict(X), est.predict(X_sparse), atol=1e-13)
