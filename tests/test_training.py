"""Training control: evidence penalties, early stopping, restarts, warm start,
partial_fit, callbacks."""

import warnings

import numpy as np
import pytest
from _callbacks import NoOpCallback
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._network import weight_groups


def _noisy(seed=0, n=120, noise=0.3):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (n, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + noise * rng.normal(size=n)
    return X, y


def test_weight_groups_follow_layers():
    np.testing.assert_array_equal(weight_groups([2, 3, 1]), [0] * 6 + [1] * 3)


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_early_stopping_keeps_best_validation_parameters(solver):
    X, y = _noisy(noise=0.5)
    Xv, yv = _noisy(seed=1, noise=0.5)
    est = TanhNetRegressor(
        (30,),
        solver=solver,
        alpha=0.0,
        learning_rate=0.05,
        max_iter=500,
        n_iter_no_change=5,
        tol=0.0,
        random_state=0,
    ).fit(X, y, X_val=Xv, y_val=yv)
    assert est.status_ == "stopped" and est.n_iter_ < 500
    curve = est.validation_loss_curve_
    assert len(curve) == est.n_iter_
    assert est.best_validation_loss_ == min(curve)
    # The returned network has exactly the best validation loss.
    _, _, y_mean, y_scale = est._scaling
    resid = (est.predict(Xv) - yv) / y_scale[0]
    assert 0.5 * np.mean(resid**2) == pytest.approx(min(curve), rel=1e-9)
    assert np.argmin(curve) < len(curve) - 1


def test_early_stopping_holds_out_validation_fraction():
    X, y = _noisy(n=200)
    est = TanhNetRegressor(
        (20,),
        alpha=0.0,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=3,
        tol=0.0,
        random_state=0,
    ).fit(X, y)
    assert hasattr(est, "validation_loss_curve_")
    again = TanhNetRegressor(
        (20,),
        alpha=0.0,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=3,
        tol=0.0,
        random_state=0,
    ).fit(X, y)
    assert np.array_equal(est.predict(X), again.predict(X))
    with pytest.raises(ValueError, match="X_val and y_val must be given together"):
        TanhNetRegressor().fit(X, y, X_val=X)


def test_validation_set_must_have_the_training_columns():
    pd = pytest.importorskip("pandas")
    X, y = _noisy(n=60)
    Xv, yv = _noisy(seed=1, n=30)
    est = TanhNetRegressor((3,), alpha=1e-2, max_iter=5, random_state=0)
    with pytest.raises(ValueError, match="X_val has 1 features, but X has 2"):
        est.fit(X, y, X_val=Xv[:, :1], y_val=yv)
    frame, frame_val = pd.DataFrame(X, columns=["a", "b"]), pd.DataFrame(Xv)
    with pytest.raises(ValueError, match=r"X_val's feature names should match"):
        est.fit(frame, y, X_val=frame_val.set_axis(["b", "a"], axis=1), y_val=yv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="X has feature names, but X_val"):
            est.fit(frame, y, X_val=Xv, y_val=yv)
    assert list(est.feature_names_in_) == ["a", "b"]
    assert not hasattr(est.fit(X, y), "feature_names_in_")


def test_messages_about_the_inputs_name_a_subclass():
    class SmallNet(TanhNetRegressor):
        pass

    X, y = _noisy(n=20)
    with pytest.raises(ValueError, match="required by SmallNet"):
        SmallNet((3,)).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="This SmallNet estimator requires y"):
        SmallNet((3,)).fit(X, None)


def test_failed_warm_fit_leaves_the_estimator_as_it_was():
    pd = pytest.importorskip("pandas")
    X, y = _noisy(n=60)
    frame = pd.DataFrame(X, columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = TanhNetRegressor((3,), max_iter=5, warm_start=True, random_state=0)
        est.fit(frame, y)
    before = est.predict(frame)
    with pytest.raises(ValueError, match="is expecting 2 features as input"):
        est.fit(np.c_[X, X[:, 0]], y)
    with pytest.raises(ValueError, match="feature names should match"):
        est.fit(frame.set_axis(["b", "a"], axis=1), y)
    assert est.n_features_in_ == 2 and list(est.feature_names_in_) == ["a", "b"]
    np.testing.assert_array_equal(est.predict(frame), before)


def test_members_record_every_start_and_keep_the_best():
    X, y = _noisy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = TanhNetRegressor(
            (4,), alpha=1e-3, n_starts=4, combine="best", random_state=0
        )
        est.fit(X, y)
    assert len(est.members_) == 4
    losses = [r["loss"] for r in est.members_]
    best = int(np.argmin(losses))
    assert est.loss_ == min(losses)
    for W, W_best in zip(est.coefs_, est.members_[best]["coefs"]):
        np.testing.assert_array_equal(W, W_best)
    # Independent starts: their first-layer weights differ.
    first = [r["coefs"][0] for r in est.members_]
    assert not np.allclose(first[0], first[1])


def test_warm_start_continues_the_fit():
    X, y = _noisy()
    est = TanhNetRegressor(
        (5,),
        solver="adam",
        alpha=1e-3,
        learning_rate=0.01,
        max_iter=20,
        tol=0.0,
        n_iter_no_change=100,
        warm_start=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        first = list(est.loss_curve_)
        est.fit(X, y)
        once = TanhNetRegressor(
            **{**est.get_params(), "max_iter": 40, "warm_start": False}
        ).fit(X, y)
    assert len(est.loss_curve_) == 40 and est.n_iter_ == 20
    assert est.loss_curve_[:20] == first
    # No jump back to the start: 20 + 20 epochs are one run of 40 epochs.
    np.testing.assert_allclose(est.loss_curve_, once.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(est.coefs_[0], once.coefs_[0], rtol=1e-10)


def test_partial_fit_equals_fit_with_as_many_iterations():
    X, y = _noisy()
    kw = dict(
        hidden_layer_sizes=(5,),
        solver="adam",
        alpha=1e-3,
        learning_rate=0.01,
        batch_size=500,
        tol=0.0,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = TanhNetRegressor(max_iter=7, **kw).fit(X, y)
    inc = TanhNetRegressor(**kw)
    for _ in range(7):
        inc.partial_fit(X, y)
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, inc.coefs_ + inc.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert inc.n_iter_ == 7 and len(inc.loss_curve_) == 7


def test_partial_fit_only_for_adam():
    assert not hasattr(TanhNetRegressor(), "partial_fit")
    assert hasattr(TanhNetRegressor(solver="adam"), "partial_fit")


def test_auto_alpha_penalises_noisier_data_more():
    X, y_clean = _noisy(noise=0.02, n=150)
    _, y_noisy = _noisy(noise=1.0, n=150)
    clean = TanhNetRegressor((6,), ard=False, random_state=0).fit(X, y_clean)
    noisy = TanhNetRegressor((6,), ard=False, random_state=0).fit(X, y_noisy)
    assert clean.alpha_.shape == noisy.alpha_.shape == (2,)
    assert noisy.alpha_.sum() > 10 * clean.alpha_.sum()
    assert noisy.effective_n_params_ < clean.effective_n_params_
    assert noisy.noise_variance_[0] > 10 * clean.noise_variance_[0]


def test_zero_weight_minibatch_is_harmless():
    X, y = _noisy(n=60)
    w = np.ones(60)
    w[:20] = 0.0
    est = TanhNetRegressor(
        (4,),
        solver="adam",
        alpha=1e-3,
        batch_size=10,
        shuffle=False,
        max_iter=5,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, sample_weight=w)
    assert np.all(np.isfinite(est.predict(X)))


callback_api = pytest.importorskip("sklearn.callback")


class _Recorder(NoOpCallback):
    """A FitCallback that records the tasks it sees."""

    def __init__(self):
        self.ended = []

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kw):
        self.ended.append((type(estimator).__name__, context.task_name))
        if context.task_name == "iteration":
            assert (
                fitted_estimator.coefs_[0].shape[1] == estimator.hidden_layer_sizes[0]
            )
        return False


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_callback_sees_every_iteration(solver):
    X, y = _noisy()
    rec = _Recorder()
    est = TanhNetRegressor((4,), solver=solver, alpha=1e-3, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_callbacks(rec).fit(X, y)
    iterations = [t for t in rec.ended if t[1] == "iteration"]
    assert len(iterations) == est.n_iter_


def test_callback_stops_the_fit():
    class Stopper(_Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            super().on_fit_task_end(
                estimator, context, fitted_estimator=fitted_estimator
            )
            return len(self.ended) >= 3

    X, y = _noisy()
    est = TanhNetRegressor((4,), alpha=1e-3, random_state=0)
    est.set_callbacks(Stopper()).fit(X, y)
    assert est.status_ == "stopped" and est.n_iter_ == 3


def test_callbacks_on_a_search_reach_our_fits():
    class Propagated(_Recorder, callback_api.AutoPropagatedCallback):
        pass

    X, y = _noisy(n=60)
    rec = Propagated()
    search = GridSearchCV(
        TanhNetRegressor((3,), alpha=1e-3, max_iter=5, random_state=0),
        {"alpha": [1e-3, 1e-2]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.set_callbacks(rec).fit(X, y)
    ours = [t for t in rec.ended if t == ("TanhNetRegressor", "iteration")]
    assert len(ours) >= 4 * 1


def test_progress_bar_runs():
    pytest.importorskip("rich")
    X, y = _noisy(n=40)
    est = TanhNetRegressor((3,), alpha=1e-3, max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_callbacks(callback_api.ProgressBar()).fit(X, y)
    assert est.n_iter_ > 0


def test_refit_without_validation_drops_validation_attributes():
    X, y = _noisy(n=80)
    est = TanhNetRegressor((3,), alpha=1e-3, early_stopping=True, random_state=0)
    est.fit(X, y)
    assert hasattr(est, "best_validation_loss_")
    est.set_params(early_stopping=False).fit(X, y)
    assert not hasattr(est, "best_validation_loss_")
    assert not hasattr(est, "validation_loss_curve_")


def test_evidence_update_matches_hand_computation_for_a_linear_model():
    from sklearn_tanhnet._derivatives import LeastSquaresProblem
    from sklearn_tanhnet._training import evidence_of

    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    Y = (X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=30))[:, None]
    w = rng.uniform(0.5, 2.0, size=30)
    alpha = 4.0
    problem = LeastSquaresProblem(X, Y, w, alpha, [3, 1], "identity")
    theta = rng.normal(size=4)  # W (3) then b
    # By hand: H = [X 1]' diag(w) [X 1]; the prior acts on W only.
    A = np.c_[X, np.ones(30)]
    H = A.T @ (w[:, None] * A)
    M = np.linalg.inv(H + np.diag([alpha] * 3 + [0.0]))
    gamma = np.trace(H @ M)
    E_D = 0.5 * w @ (A @ theta - Y[:, 0]) ** 2
    beta = (w.sum() - gamma) / (2 * E_D)
    gamma_w = 3 - alpha * np.trace(M[:3, :3])
    new_alpha = gamma_w / (theta[:3] @ theta[:3]) / beta
    ev = evidence_of(problem, theta, np.array([alpha]))
    np.testing.assert_allclose(
        [ev.gamma, ev.beta, ev.alphas[0]], [gamma, beta, new_alpha], rtol=1e-10
    )


def test_weak_evidence_start_runs_only_after_a_collapse(monkeypatch):
    import sklearn_tanhnet._training as training
    from sklearn_tanhnet._derivatives import LeastSquaresProblem

    X, y = _noisy(n=40)
    Y = y[:, None]
    sizes = [2, 3, 1]

    def make_problem(alpha):
        return LeastSquaresProblem(X, Y, np.ones(40), alpha, sizes)

    from sklearn_tanhnet._solvers import fit_least_squares

    problem = make_problem(0.0)
    start = np.r_[np.full(9, 0.3), 0.5, -0.5, 0.5, 0.0]
    good = fit_least_squares(problem.residuals, problem.jacobian, start).theta
    flat = np.r_[np.ones(9), 0.0, 0.0, 0.0, y.mean()]  # a constant prediction
    starts = []

    def fake_run(problem, theta0, max_iter, state, alphas):
        from sklearn_tanhnet._evidence import Evidence
        from sklearn_tanhnet._solvers import SolverResult

        starts.append(alphas[0])
        theta = flat if len(starts) == 1 and collapse else good
        evidence = Evidence(alphas, 5.0, 1.0, 0.0)
        return SolverResult(theta, 0.0, 1, alpha=alphas, evidence=evidence)

    weight_sum = 40.0
    for collapse, expected in ((True, 2), (False, 1)):
        starts.clear()
        training.train(make_problem, fake_run, good, alpha="auto", max_iter=10)
        assert starts == [s * weight_sum for s in training.EVIDENCE_STARTS[:expected]]


def test_settled_message_leaves_out_a_chunk_ending_at_its_budget(lecture_data):
    X, y = lecture_data
    est = TanhNetRegressor((3,), random_state=0).fit(X, y)
    assert est.status_ in ("converged", "plateau")
    assert "function evaluations" not in est.message_
    # With run_to_mode the network then goes on to a stationary point at the
    # settled penalties.
    noisy = TanhNetRegressor((3,), run_to_mode=True, random_state=0).fit(
        X, y + 0.05 * np.sin(40 * X[:, 0])
    )
    assert noisy.status_ == "converged"
    assert noisy.message_.startswith("At a stationary point")
    assert "where the evidence iteration settled" in noisy.message_
    settled = TanhNetRegressor((3,), run_to_mode=False, random_state=0).fit(X, y)
    assert settled.message_.startswith(
        ("The evidence iteration settled", "The objective")
    )


def test_adam_ending_above_its_start_warns_and_keeps_the_best():
    # 20 rows x 300 inputs at learning_rate=1: steps far too large for the
    # first layer's 3,000 weights. The epochs' objective never doubles its
    # best (the 'rose from its best' rule) but ends above where it started.
    rng = np.random.RandomState(4)
    X = rng.normal(size=(20, 300))
    y = X[:, 0] + 0.1 * rng.normal(size=20)
    est = TanhNetRegressor(
        (10,), solver="adam", alpha=1e-4, learning_rate=1.0, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="above its value at the start"):
        est.fit(X, y)
    assert est.status_ == "diverged"
    assert "lower learning_rate" in est.message_
    # Full batches: the first epoch's loss is the objective at the start.
    assert est.loss_ <= est.loss_curve_[0]
    assert np.isfinite(est.coefs_[0]).all()


def test_adam_with_ard_runs_max_iter_epochs_in_one_loss_curve(capsys):
    # The per-layer stage, a second evidence start after a collapse and the
    # per-input stage share max_iter; the curve and the verbose report hold
    # every epoch run, once.
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    est = TanhNetRegressor(
        (10,), solver="adam", ard=True, max_iter=5, verbose=1, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        est.fit(X, y)
    printed = [line for line in capsys.readouterr().out.splitlines() if line]
    assert est.n_iter_ == len(est.loss_curve_) == len(printed) == 5
    # No jump: with this budget the per-input stage starts from the penalties
    # the short per-layer stage ran with.
    assert max(est.loss_curve_) == est.loss_curve_[0]
