"""input_sensitivity: what it computes, beside ARD's feature_relevance_."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression

from sklearn_tanhnet import TanhNetRegressor, input_sensitivity

EPS = np.finfo(float).eps


def central_sensitivity(est, X):
    """mean |dy/dx_j| * std(x_j) from central differences of predict, with
    one row per output for a 2-D target."""
    spread = X.std(axis=0)
    columns = []
    for j in range(X.shape[1]):
        h = EPS ** (1 / 3) * spread[j]
        step = np.zeros(X.shape[1])
        step[j] = h
        slope = (est.predict(X + step) - est.predict(X - step)) / (2 * h)
        columns.append(np.mean(np.abs(slope), axis=0) * spread[j])
    return np.stack(columns, axis=-1)


# Central differences err by h^2/6 |f'''| + eps |f| / h; with
# h = eps^(1/3) * std(x_j) both terms are about eps^(2/3) (4e-11) times the
# output's scale per standard deviation of x_j. A small tanh network's third
# derivative in those units is O(1)-O(100), so 1e-6 relative leaves a wide
# margin (and 1e-9 of the largest value absolute, for inputs barely used).
RTOL = 1e-6

# The identities hold at any weights, converged or not: short fits suffice.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_sensitivity_matches_central_differences_of_predict():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(40, 3)) * [1.0, 10.0, 0.1]
    y = np.sin(X[:, 0]) + 0.05 * X[:, 1] ** 2
    est = TanhNetRegressor((4,), alpha=1e-2, max_iter=30, random_state=0).fit(X, y)
    got = input_sensitivity(est, X)
    assert got.shape == (X.shape[1],)
    expected = central_sensitivity(est, X)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-9 * expected.max())


def test_sensitivity_has_one_row_per_output(small_regression):
    X, Y, _ = small_regression
    est = TanhNetRegressor((3,), alpha=1e-2, max_iter=20, random_state=0).fit(X, Y)
    got = input_sensitivity(est, X)
    assert got.shape == (Y.shape[1], X.shape[1])
    expected = central_sensitivity(est, X)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-9 * expected.max())


def test_sensitivity_of_the_default_committee_is_of_its_mean_prediction():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(30, 2))
    y = np.tanh(X[:, 0]) - 0.5 * X[:, 1]
    est = TanhNetRegressor(max_iter=20, random_state=0).fit(X, y)
    assert len(est.members_) > 1
    expected = central_sensitivity(est, X)
    np.testing.assert_allclose(
        input_sensitivity(est, X), expected, rtol=RTOL, atol=1e-9 * expected.max()
    )


def test_sensitivity_of_a_linear_model_is_coef_times_spread():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 4)) * [1.0, 5.0, 0.2, 3.0]
    y = X @ [2.0, -0.3, 7.0, 0.0] + 0.1 * rng.normal(size=30)
    est = TanhNetRegressor(hidden_layer_sizes=(), alpha=0.0).fit(X, y)
    coef = est.coefs_[0][:, 0]
    # Every row has the same derivative, the folded coefficient: the mean of
    # 30 equal numbers and one product agree to a few ulps.
    np.testing.assert_allclose(
        input_sensitivity(est, X), np.abs(coef) * X.std(axis=0), rtol=100 * EPS
    )


def test_sensitivity_keeps_the_feature_name_check():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    est = TanhNetRegressor(hidden_layer_sizes=(), alpha=0.0).fit(X, X["a"] + X["b"])
    np.testing.assert_allclose(
        input_sensitivity(est, X),
        np.abs(est.coefs_[0][:, 0]) * X.std(ddof=0).to_numpy(),
        rtol=100 * EPS,
    )
    with pytest.raises(ValueError, match="feature names"):
        input_sensitivity(est, X[["b", "a"]])


def test_sensitivity_rejects_an_estimator_without_predict_gradient():
    X = np.eye(3)
    with pytest.raises(TypeError, match="estimator must have a predict_gradient"):
        input_sensitivity(LinearRegression().fit(X, [0.0, 1.0, 2.0]), X)


def test_sensitivity_of_an_unfitted_estimator_raises_not_fitted():
    with pytest.raises(NotFittedError):
        input_sensitivity(TanhNetRegressor(), np.eye(3))
