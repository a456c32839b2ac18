import os
import pickle
import warnings

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._network import Network, unpack


def forward_numpy(params, X):
    sizes = [params[0][0].shape[0], *(W.shape[1] for W, _ in params)]
    return Network(sizes).predict(params, X)


@pytest.fixture(scope="module")
def fitted_multi(small_regression):
    X, Y, w = small_regression
    return TanhNetRegressor((4,), random_state=0).fit(X, Y, sample_weight=w)


@pytest.mark.parametrize("seed", range(5))
def test_lecture_least_squares_defaults_reach_target(lecture_data, seed):
    """The lecture's 1-3-1 fit, defaults otherwise, reaches training MSE <= 2e-5."""
    X, y = lecture_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = TanhNetRegressor((3,), random_state=seed).fit(X, y)
    assert np.mean((est.predict(X) - y) ** 2) <= 2e-5
    assert est.status_ in ("converged", "plateau")


@pytest.mark.parametrize("method", ["lm", "trf", "dogbox"])
def test_least_squares_methods_fit_lecture(lecture_data, method):
    X, y = lecture_data
    est = TanhNetRegressor((3,), method=method, random_state=0, max_iter=500)
    est.fit(X, y)
    assert np.mean((est.predict(X) - y) ** 2) <= 1e-4


def test_prediction_equals_independent_scaled_network(fitted_multi, small_regression):
    """coefs_/intercepts_ fold the scaling exactly: recompute from the raw solution."""
    X, Y, w = small_regression
    x_mean = np.average(X, axis=0, weights=w)
    x_std = np.sqrt(np.average((X - x_mean) ** 2, axis=0, weights=w))
    y_mean = np.average(Y, axis=0, weights=w)
    y_std = np.sqrt(np.average((Y - y_mean) ** 2, axis=0, weights=w))
    params = unpack(fitted_multi._committee[0][1], [3, 4, 2])
    expected = y_mean + y_std * forward_numpy(params, (X - x_mean) / x_std)
    np.testing.assert_allclose(fitted_multi.predict(X), expected, rtol=1e-10)


def test_fitted_attributes(fitted_multi, small_regression):
    X, Y, w = small_regression
    est = fitted_multi
    assert [W.shape for W in est.coefs_] == [(3, 4), (4, 2)]
    assert [b.shape for b in est.intercepts_] == [(4,), (2,)]
    assert est.n_outputs_ == 2 and est.n_features_in_ == 3 and est.n_layers_ == 3
    assert len(est.loss_curve_) == est.n_iter_
    # The penalties move with the evidence, so F may rise a little at the end:
    # loss_ is the last iterate's objective, not the lowest of the curve.
    assert est.loss_ == est.loss_curve_[-1]
    assert est.predict(X).shape == (40, 2)
    # loss_ is the objective of the docstring, recomputed by hand in scaled units.
    x_mean, x_scale, y_mean, y_scale = est._scaling
    pred = forward_numpy(
        unpack(est._committee[0][1], [3, 4, 2]), (X - x_mean) / x_scale
    )
    resid = pred - (Y - y_mean) / y_scale
    # The defaults (alpha='auto', ard='auto': 80 observations, 26 parameters)
    # fit one penalty per input on the first layer, one for the output layer.
    assert est.ard_ and est.alpha_.shape == (4,)
    (W1, _), (W2, _) = unpack(est._committee[0][1], [3, 4, 2])
    penalty = est.alpha_[:3] @ np.sum(W1**2, axis=1) + est.alpha_[3] * np.sum(W2**2)
    expected = (np.sum(w[:, None] * resid**2) / 2 + penalty) / (2 * w.sum())
    assert est.loss_ == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_same_random_state_bit_identical(small_regression, solver):
    X, Y, w = small_regression
    kw = dict(solver=solver, random_state=3, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = TanhNetRegressor((4,), batch_size=16, **kw).fit(X, Y, sample_weight=w)
        b = TanhNetRegressor((4,), batch_size=16, **kw).fit(X, Y, sample_weight=w)
    assert np.array_equal(a.predict(X), b.predict(X))
    c = pickle.loads(pickle.dumps(a))
    assert np.array_equal(a.predict(X), c.predict(X))


def test_one_dimensional_target_gives_one_dimensional_prediction(lecture_data):
    X, y = lecture_data
    est = TanhNetRegressor((2,), random_state=0).fit(X, y)
    assert est.predict(X).shape == (50,)
    est = TanhNetRegressor((2,), random_state=0).fit(X, y.reshape(-1, 1))
    assert est.predict(X).shape == (50, 1)


def test_integer_weights_equal_repeated_rows(small_regression):
    X, Y, _ = small_regression
    w = np.arange(40) % 3
    a = TanhNetRegressor((3,), random_state=0).fit(X, Y, sample_weight=w)
    b = TanhNetRegressor((3,), random_state=0).fit(
        np.repeat(X, w, 0), np.repeat(Y, w, 0)
    )
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6, atol=1e-8)


def test_weights_summing_to_one_warn_of_their_count_not_of_a_poor_minimum():
    # The evidence reads sample_weight as counts: weights scaled to sum to 1
    # leave it one observation for 21 parameters, and the fit collapses. The
    # warning must name the weights and the fix, not blame a local minimum.
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(80, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=80)
    w = rng.uniform(0.5, 2.0, size=80)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TanhNetRegressor((5,), random_state=0).fit(X, y, sample_weight=w / w.sum())
    messages = [str(m.message) for m in caught]
    assert any(
        "sample_weight sums to 1 over 80 rows" in m
        and "sample_weight * 80 / sample_weight.sum()" in m
        for m in messages
    ), messages
    assert not any("poor local minimum" in m for m in messages), messages
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the suggested scaling fits, unwarned
        est = TanhNetRegressor((5,), random_state=0).fit(
            X, y, sample_weight=w * 80 / w.sum()
        )
    assert est.score(X, y) > 0.9


def test_standardize_off_matches_raw_network(lecture_data):
    X, y = lecture_data
    est = TanhNetRegressor((3,), standardize=False, random_state=0).fit(X, y)
    params = unpack(est._committee[0][1], [1, 3, 1])
    np.testing.assert_allclose(est.predict(X), forward_numpy(params, X).ravel())


@pytest.mark.parametrize("activation", ["logistic", "relu", "sin", "identity"])
def test_other_activations_fit(small_regression, activation):
    X, Y, _ = small_regression
    est = TanhNetRegressor((5,), activation=activation, random_state=0).fit(X, Y[:, 0])
    assert est.score(X, Y[:, 0]) > 0.8


def test_callable_activation_and_no_hidden_layer(small_regression):
    import autograd.numpy as anp

    X, Y, _ = small_regression
    est = TanhNetRegressor((4,), activation=anp.arctan, random_state=0)
    assert est.fit(X, Y).score(X, Y) > 0.8
    linear = TanhNetRegressor((), alpha=0.0).fit(X, Y)
    A = np.c_[X, np.ones(len(X))]
    coef = np.linalg.lstsq(A, Y, rcond=None)[0]
    np.testing.assert_allclose(linear.predict(X), A @ coef, rtol=1e-7, atol=1e-9)


def test_max_iter_warns_convergence(small_regression):
    X, Y, _ = small_regression
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        est = TanhNetRegressor((8,), max_iter=2, random_state=0).fit(X, Y)
    assert est.status_ == "max_iter" and est.n_iter_ <= 2


def test_adam_divergence_keeps_finite_weights(small_regression):
    X, Y, _ = small_regression
    est = TanhNetRegressor((8,), solver="adam", learning_rate=1e8, random_state=0)
    with pytest.warns(ConvergenceWarning, match="learning_rate"):
        est.fit(X, Y)
    assert all(np.all(np.isfinite(W)) for W in est.coefs_)
    assert np.all(np.isfinite(est.predict(X)))


def test_lm_fits_more_parameters_than_residuals():
    """The package's LM damps and penalises: no residual count is too small."""
    X, y = np.random.RandomState(0).normal(size=(4, 3)), np.arange(4.0)
    est = TanhNetRegressor((10,), random_state=0).fit(X, y)
    assert est.tr_solver_ == "exact" and np.all(np.isfinite(est.predict(X)))


@pytest.mark.parametrize(
    "params, err, match",
    [
        ({"hidden_layer_sizes": (0,)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (3, -1)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": "abc"}, ValueError, "hidden_layer_sizes"),
        ({"learning_rate": "adaptive"}, ValueError, "learning_rate"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"solver": "lbfgs"}, ValueError, "solver"),
        ({"method": "exact"}, ValueError, "method"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"activation": "swish"}, ValueError, "activation"),
    ],
)
def test_invalid_parameters_name_the_parameter(params, err, match):
    X, y = np.random.RandomState(0).normal(size=(10, 2)), np.arange(10.0)
    with pytest.raises(err, match=match):
        TanhNetRegressor(**params).fit(X, y)


def test_bad_sample_weight_is_rejected():
    X, y = np.random.RandomState(0).normal(size=(10, 2)), np.arange(10.0)
    with pytest.raises(ValueError, match="[Nn]egative"):
        TanhNetRegressor().fit(X, y, sample_weight=-np.ones(10))


def test_verbose_prints_loss(lecture_data, capsys):
    X, y = lecture_data
    TanhNetRegressor((3,), verbose=10, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 0, loss = " in out and "Iteration 10, loss = " in out
    # Numbered across the evidence iteration's solver runs, each line once.
    numbers = [int(line.split()[1].rstrip(",")) for line in out.splitlines()]
    assert numbers == sorted(set(numbers)) and numbers[1] == 10


def test_works_in_pipeline_search_cv_and_transformed_target(small_regression):
    X, Y, _ = small_regression
    y = Y[:, 0]
    pipe = make_pipeline(StandardScaler(), TanhNetRegressor(random_state=0))
    search = GridSearchCV(
        pipe,
        {
            "tanhnetregressor__hidden_layer_sizes": [(2,), (4,)],
            "tanhnetregressor__solver": ["least_squares", "adam"],
        },
        cv=KFold(3, shuffle=True, random_state=0),
        n_jobs=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert search.best_params_["tanhnetregressor__solver"] == "least_squares"
    res = cross_validate(TanhNetRegressor((4,), random_state=0), X, y, cv=3, n_jobs=2)
    assert np.all(res["test_score"] > 0.8)
    ttr = TransformedTargetRegressor(
        regressor=TanhNetRegressor((4,), random_state=0),
        func=np.exp,
        inverse_func=np.log,
    )
    assert ttr.fit(X, y).score(X, y) > 0.9


def test_scipy_least_squares_goes_matrix_free_beyond_the_memory_budget():
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=300, noise=0.5, random_state=0)
    # Every J too big.
    params = dict(alpha=1e-4, max_iter=100, random_state=0, memory_budget=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = TanhNetRegressor((5,), method="trf", **params).fit(X, y)
        lm = TanhNetRegressor((5,), **params).fit(X, y)
    assert est.tr_solver_ == "lsmr" and est.score(X, y) > 0.8
    assert isinstance(est._committee[0][5], str)
    # The package's LM needs no n x P matrix: conjugate gradients.
    assert lm.tr_solver_ == "cg" and lm.score(X, y) > 0.8
    with pytest.raises(ValueError, match="alpha='auto'"):
        TanhNetRegressor((5,), random_state=0, memory_budget=1e-6).fit(X, y)
    with pytest.raises(ValueError, match="tr_solver='exact'"):
        TanhNetRegressor((5,), tr_solver="exact", method="trf", **params).fit(X, y)


def test_statistics_beyond_the_memory_budget_name_it(small_regression):
    X, Y, _ = small_regression
    est = TanhNetRegressor((3,), alpha=1e-3, memory_budget=1e-6, random_state=0)
    est.fit(X, Y)
    msg = r"Uncertainty is not available.*memory_budget=1e-06 \(GiB\).*larger"
    with pytest.raises(ValueError, match=msg):
        est.predict(X, return_std=True)
    assert est.noise_variance_ is None
    with pytest.raises(ValueError, match=r"alpha='auto'.*memory_budget=1e-06"):
        TanhNetRegressor((3,), memory_budget=1e-6, random_state=0).fit(X, Y)


def test_more_features_than_rows_fit_with_the_defaults():
    # 20 x 2,000: 20,021 parameters, whose P x P matrices would take 12 GiB;
    # the steps and the evidence work in the 20-residual space.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 2000))
    y = X[:, 0] + 0.1 * rng.normal(size=20)
    est = TanhNetRegressor(random_state=0).fit(X, y)
    assert est.tr_solver_ == "exact" and np.isfinite(est.predict(X)).all()
    # So do their intervals' statistics (see test_uncertainty.py).
    lower, upper = est.predict_interval(X)
    assert np.all(np.isfinite(lower)) and np.all(lower < upper)


@pytest.fixture(scope="module")
def friedman_small():
    from sklearn.datasets import make_friedman1

    return make_friedman1(n_samples=600, noise=0.5, random_state=0)


@pytest.mark.parametrize("method", ["lm", "trf"])
def test_iterative_steps_fit_as_well_as_exact_and_reproducibly(friedman_small, method):
    X, y = friedman_small
    X_test, y_test = X[400:], y[400:]
    X, y = X[:400], y[:400]
    iterative = "cg" if method == "lm" else "lsmr"
    params = dict(hidden_layer_sizes=(8,), alpha=1e-3, random_state=0, max_iter=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = TanhNetRegressor(method=method, tr_solver=iterative, **params).fit(X, y)
        again = TanhNetRegressor(method=method, tr_solver=iterative, **params)
        again.fit(X, y)
        exact = TanhNetRegressor(method=method, tr_solver="exact", **params).fit(X, y)
    assert fit.tr_solver_ == iterative and exact.tr_solver_ == "exact"
    assert np.array_equal(fit.predict(X_test), again.predict(X_test))
    assert fit.score(X_test, y_test) > exact.score(X_test, y_test) - 0.02
    assert fit.score(X_test, y_test) > 0.9


@pytest.mark.parametrize(
    "method, tr_solver, match",
    [("lm", "lsmr", "tr_solver='lsmr' is scipy's"), ("trf", "cg", "tr_solver='cg'")],
)
def test_tr_solver_of_the_other_method_is_an_error(
    small_regression, method, tr_solver, match
):
    X, Y, _ = small_regression
    with pytest.raises(ValueError, match=match):
        TanhNetRegressor((3,), method=method, tr_solver=tr_solver).fit(X, Y)
    est = TanhNetRegressor((3,), method=method, random_state=0).fit(X, Y)
    assert est.tr_solver_ == "exact"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        adam = TanhNetRegressor((3,), solver="adam", max_iter=2).fit(X, Y)
    assert adam.tr_solver_ is None


@pytest.mark.skipif(os.cpu_count() < 2, reason="BLAS caps its threads at the cores")
def test_fit_runs_blas_on_one_thread_and_restores_it(monkeypatch, small_regression):
    from threadpoolctl import threadpool_info, threadpool_limits

    import sklearn_tanhnet._lm as lm

    def blas_threads():
        return {
            i["filepath"]: i["num_threads"]
            for i in threadpool_info()
            if i["user_api"] == "blas"
        }

    seen = []
    solve = lm.LevenbergMarquardt.solve

    def spy(self, theta0):
        seen.append(blas_threads())
        return solve(self, theta0)

    monkeypatch.setattr(lm.LevenbergMarquardt, "solve", spy)
    X, Y, _ = small_regression
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        TanhNetRegressor((3,), random_state=0).fit(X, Y)
        assert blas_threads() == before
    assert set(before.values()) == {2}
    assert seen and all(set(s.values()) == {1} for s in seen)


def test_plan_takes_direct_steps_while_the_normal_equations_are_cheap(monkeypatch):
    import sklearn_tanhnet._plan as plan_module

    plan = plan_module.plan_fit("least_squares", "lm", "auto", 1000, 1, 121, 110, True)
    assert plan.step == "exact" and plan.statistics
    monkeypatch.setattr(plan_module, "DIRECT_FLOPS", 1000 * 121**2 - 1)
    plan = plan_module.plan_fit("least_squares", "lm", "auto", 1000, 1, 121, 110, True)
    assert plan.step == "cg" and plan.max_inner == plan_module.CG_MAXITER
    plan = plan_module.plan_fit("adam", "lm", "auto", 1000, 1, 121, 110, True)
    assert plan.step is None and plan.method is None


def test_log_evidence_is_recorded_with_auto_alpha_only(fitted_multi, small_regression):
    X, Y, _ = small_regression
    assert isinstance(fitted_multi.log_evidence_, float)
    assert np.isfinite(fitted_multi.log_evidence_)
    fixed = TanhNetRegressor((3,), alpha=1e-3, random_state=0).fit(X, Y)
    assert fixed.log_evidence_ is None


def test_single_precision_gram_fits_like_double(monkeypatch, friedman_small):
    import sklearn_tanhnet._plan as plan_module

    X, y = friedman_small
    X_test, y_test = X[400:], y[400:]
    X, y = X[:400], y[:400]
    double = TanhNetRegressor((8,), random_state=0).fit(X, y)
    monkeypatch.setattr(plan_module, "SINGLE_PRECISION_FLOPS", 0)
    single = TanhNetRegressor((8,), random_state=0).fit(X, y)
    again = TanhNetRegressor((8,), random_state=0).fit(X, y)
    assert np.array_equal(single.predict(X_test), again.predict(X_test))
    assert not np.array_equal(single.predict(X_test), double.predict(X_test))
    assert abs(single.score(X_test, y_test) - double.score(X_test, y_test)) < 0.01
    np.testing.assert_allclose(
        single.effective_n_params_, double.effective_n_params_, rtol=0.05
    )
