"""Issue 13: the log evidence for model comparison, restarts chosen by it, ARD."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._evidence import Evidence, model_log_evidence
from sklearn_tanhnet._network import fold_scaling, unpack, weight_groups


@pytest.fixture(scope="module")
def sine():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(80, 1))
    return X, np.sin(X).ravel() + 0.1 * rng.normal(size=80)


def test_model_log_evidence_adds_occam_and_symmetry_factors():
    ev = Evidence(
        alphas=np.array([1.0, 2.0]),
        gamma=9.0,
        beta=4.0,
        log_evidence=-10.0,
        gamma_groups=np.array([5.0, 3.0]),
        n_observations=50.0,
    )
    occam = 0.5 * (math.log(2 / 5) + math.log(2 / 3) + math.log(2 / 41))
    tanh = -10.0 + occam + math.log(2**4 * math.factorial(4))
    relu = -10.0 + occam + math.log(math.factorial(4))
    assert model_log_evidence(ev, (4,), "tanh", True) == pytest.approx(tanh, rel=1e-14)
    assert model_log_evidence(ev, (4,), "relu", True) == pytest.approx(relu, rel=1e-14)
    assert model_log_evidence(ev, (4,), "tanh") == pytest.approx(-10.0 + occam)
    assert model_log_evidence(ev, (), "tanh", True) == pytest.approx(-10.0 + occam)


def test_members_are_chosen_by_their_log_evidence(sine):
    X, y = sine
    est = TanhNetRegressor((4,), n_starts=4, combine="best", random_state=0).fit(X, y)
    evidences = [r["log_evidence"] for r in est.members_]
    assert all(np.isfinite(evidences))
    assert est.log_evidence_ == max(evidences)
    kept = est.members_[int(np.argmax(evidences))]
    for W, W_kept in zip(est.coefs_, kept["coefs"]):
        np.testing.assert_array_equal(W, W_kept)


def _three_unit_data(seed, n_rows=300, noise=0.05):
    """Data from a known 2-3-1 tanh network whose three units are distinct."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n_rows, 2))
    W = np.array([[2.0, 0.0, 1.5], [0.0, 2.0, -1.5]])
    hidden = np.tanh(X @ W + np.array([0.5, -0.5, 0.0]))
    return X, hidden @ np.array([1.0, -1.0, 1.0]) + noise * rng.standard_normal(n_rows)


@pytest.mark.parametrize("seed", [1, 4])
def test_log_evidence_prefers_the_true_width(seed):
    # Each width's best of 10 starts: with 3 starts the (3,) net lands in a
    # poorer minimum on about half the seeds, and its evidence then falls
    # below that of (6,), which the model comparison cannot be blamed for.
    X, y = _three_unit_data(seed)
    evidence = {
        width: TanhNetRegressor(width, n_starts=10, combine="best", random_state=seed)
        .fit(X, y)
        .log_evidence_
        for width in [(1,), (2,), (3,), (6,), (12,)]
    }
    assert max(evidence, key=evidence.get) == (3,), evidence
    # By a margin (e^2 in odds), not a tie broken by rounding.
    assert evidence[(3,)] > evidence[(6,)] + 2.0


def test_fixed_penalty_has_no_log_evidence(sine):
    X, y = sine
    est = TanhNetRegressor(
        (3,), alpha=1e-3, n_starts=2, combine="best", random_state=0
    ).fit(X, y)
    assert est.log_evidence_ is None
    assert all(r["log_evidence"] is None for r in est.members_)


# -- ARD -------------------------------------------------------------------------


def test_ard_groups_the_first_layer_by_input():
    groups = weight_groups([3, 2, 1], ard=True)
    # W1 (3 x 2, C order) by input row, then the output layer's group 3.
    np.testing.assert_array_equal(groups, [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(weight_groups([3, 2, 1]), [0] * 6 + [1] * 2)


@pytest.fixture(scope="module")
def friedman1_ard():
    X, y = make_friedman1(n_samples=500, noise=1.0, random_state=0)
    return X, y, TanhNetRegressor((10,), random_state=0, ard=True).fit(X, y)


def test_ard_penalises_friedman1s_noise_features_ten_times_more(friedman1_ard):
    # y depends on the first five inputs only.
    X, y, est = friedman1_ard
    input_penalties = np.asarray(est.alpha_)[: X.shape[1]]
    assert input_penalties.shape == (10,) and len(est.alpha_) == 11
    assert input_penalties[5:].min() >= 10 * input_penalties[:5].max()
    relevance = est.feature_relevance_
    assert relevance.shape == (10,) and relevance.sum() == pytest.approx(1.0)
    assert relevance[:5].min() > relevance[5:].max()
    assert est.score(X, y) > 0.95


def test_diagnostics_list_the_inputs_by_relevance(friedman1_ard):
    X, y, est = friedman1_ard
    report = str(est.diagnose(X, y))
    assert "inputs by relevance" in report
    listed = [
        line.split()[0] for line in report.splitlines() if line.startswith("    x")
    ]
    assert set(listed[:3]) <= {"x0", "x1", "x2", "x3", "x4"}
    assert set(listed[-5:]) == {"x5", "x6", "x7", "x8", "x9"}


def test_ard_intervals_stay_calibrated(friedman1_ard):
    # Huge penalties on irrelevant inputs must not swamp the covariance's
    # eigenvalue cutoff (they are capped relative to the data's curvature).
    X, y, est = friedman1_ard
    X_test, y_test = make_friedman1(n_samples=1000, noise=1.0, random_state=1)
    lower, upper = est.predict_interval(X_test)
    coverage = np.mean((y_test >= lower) & (y_test <= upper))
    assert 0.9 < coverage < 0.98
    assert 5 < est.effective_n_params_ < 80


@pytest.mark.parametrize("solver", ["least_squares", "adam"])
def test_fresh_ard_fit_settles_per_layer_first(friedman1_ard, solver):
    # The staged fit is the per-layer fit continued, warm, with each input's
    # penalty starting from its layer's: the same bits as doing it by hand.
    X, y, _ = friedman1_ard
    X, y = X[:150], y[:150]
    params = dict(hidden_layer_sizes=(4,), solver=solver, random_state=0)
    staged = TanhNetRegressor(ard=True, **params).fit(X, y)
    # The per-layer stage ends where its evidence settles; only the last
    # stage goes on to the stationary point (run_to_mode='auto').
    by_hand = TanhNetRegressor(**params, max_iter=100, ard=False, run_to_mode=False)
    by_hand.fit(X, y)  # max_iter: half of 200
    n_coarse = by_hand.n_iter_
    by_hand.alpha_ = np.r_[np.full(X.shape[1], by_hand.alpha_[0]), by_hand.alpha_[1:]]
    by_hand.set_params(
        ard=True, warm_start=True, max_iter=200 - n_coarse, run_to_mode="auto"
    )
    by_hand.fit(X, y)
    np.testing.assert_array_equal(staged.predict(X), by_hand.predict(X))
    np.testing.assert_array_equal(staged.alpha_, by_hand.alpha_)
    # The warm fit's n_iter_ counts its own iterations (as MLPRegressor's);
    # its loss curve goes on from the first fit's.
    assert staged.n_iter_ == len(by_hand.loss_curve_) > n_coarse
    assert by_hand.n_iter_ == len(by_hand.loss_curve_) - n_coarse


def test_ard_warm_start_and_float_alpha(friedman1_ard):
    X, y, _ = friedman1_ard
    est = TanhNetRegressor((5,), random_state=0, ard=True, warm_start=True)
    est.fit(X[:200], y[:200]).fit(X[:200], y[:200])
    assert len(est.alpha_) == 11
    fixed = TanhNetRegressor((5,), alpha=1e-3, ard=True, random_state=0).fit(X, y)
    assert fixed.feature_relevance_ is None


# -- ensembles of Laplace approximations --------------------------------------------


@pytest.fixture(scope="module")
def ensemble_fit(sine):
    X, y = sine
    return TanhNetRegressor((4,), n_starts=4, random_state=0).fit(X, y)


def test_ensemble_predicts_with_the_mixture_of_its_members(sine, ensemble_fit):
    X, y = sine
    est = ensemble_fit
    X_new = np.linspace(-4, 4, 7)[:, None]
    # Each member alone: the same fit with one start, given the member.
    members = []
    for member in est._committee:
        single = TanhNetRegressor((4,), random_state=0).fit(X, y)
        single._committee = [member]
        single.coefs_, single.intercepts_ = zip(
            *fold_scaling(unpack(member[1], member[0]), *est._scaling)
        )
        members.append(single.predict(X_new, return_std=True))
    means = np.array([m for m, _ in members])
    variances = np.array([s**2 for _, s in members])
    mean, std = est.predict(X_new, return_std=True)
    # The mean of 4 members, against one network of their units side by
    # side: the same sums in another order, a few eps of the outputs' scale.
    np.testing.assert_allclose(est.predict(X_new), means.mean(0), rtol=1e-12)
    np.testing.assert_allclose(mean, means.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std**2, variances.mean(0) + means.var(0), rtol=1e-10)
    # Every member has equal weight; the representative is the best start.
    assert [r["weight"] for r in est.members_] == [0.25] * 4
    best = int(np.argmax([r["log_evidence"] for r in est.members_]))
    assert est.log_evidence_ == est.members_[best]["log_evidence"]


def test_mixture_interval_is_the_mixtures_quantile():
    from scipy import optimize, stats

    from sklearn_tanhnet._uncertainty import mixture_interval

    means = np.array([0.0, 3.0, 3.5]).reshape(3, 1, 1)
    scales = np.array([1.0, 0.5, 2.0]).reshape(3, 1, 1)
    dofs = [5.0, 12.0, 40.0]
    lower, upper = mixture_interval(means, scales, dofs, 0.9)

    def cdf(q):
        return np.mean(
            [
                stats.t.cdf((q - m) / s, d)
                for m, s, d in zip(means.ravel(), scales.ravel(), dofs)
            ]
        )

    assert lower[0, 0] == pytest.approx(
        optimize.brentq(lambda q: cdf(q) - 0.05, -50, 50), abs=1e-9
    )
    assert upper[0, 0] == pytest.approx(
        optimize.brentq(lambda q: cdf(q) - 0.95, -50, 50), abs=1e-9
    )
    # One member: its own t interval.
    lo, hi = mixture_interval(means[:1], scales[:1], dofs[:1], 0.9)
    assert hi[0, 0] == pytest.approx(stats.t.ppf(0.95, 5.0), abs=1e-9)


def test_members_in_processes_give_the_serial_bits(sine, ensemble_fit):
    X, y = sine
    parallel = TanhNetRegressor((4,), n_starts=4, n_jobs=2, random_state=0).fit(X, y)
    X_new = np.linspace(-4, 4, 7)[:, None]
    for a, b in zip(
        parallel.predict_interval(X_new), ensemble_fit.predict_interval(X_new)
    ):
        np.testing.assert_array_equal(a, b)
    for r, s in zip(parallel.members_, ensemble_fit.members_):
        assert r["log_evidence"] == s["log_evidence"]
        np.testing.assert_array_equal(r["coefs"][0], s["coefs"][0])


# -- the committee of widths ------------------------------------------------------


def test_the_committee_widths_grow_with_the_rows_and_fit_the_budget():
    from sklearn_tanhnet._plan import COMMITTEE_FLOPS, plan_committee, step_flops

    small = plan_committee("auto", "auto", 80, 1, 1)
    assert small.widths == ((5,), (10,), (20,)) and small.n_starts == 2
    assert not small.reduced
    # sqrt(n) beyond 400 rows: 2,500 rows give a widest member of 50 units.
    assert plan_committee("auto", "auto", 2500, 3, 1).widths == ((12,), (25,), (50,))
    # On much data, fewer members, each affordable; one network at the most.
    large = plan_committee("auto", "auto", 10**6, 5, 1)
    assert large.n_members == 1 and large.reduced
    cost = sum(step_flops(10**6, 5, h, 1) for h in large.widths) * large.n_starts
    assert cost <= COMMITTEE_FLOPS
    # A width given is never cut: its starts are the committee.
    assert plan_committee((300,), 3, 10**6, 5, 1).widths == ((300,),)
    assert plan_committee((4,), "auto", 80, 1, 1).n_starts == 1


def test_run_to_mode_auto_where_newton_steps_to_the_mode_are_affordable():
    from sklearn_tanhnet._plan import MODE_FLOPS, plan_committee, step_flops

    # Small data, one hidden layer, more rows than parameters: to the mode.
    small = plan_committee("auto", "auto", 300, 10, 1, "auto")
    assert small.run_to_mode and small.n_members == 6
    cost = sum(step_flops(300, 10, h, 1) for h in small.widths) * small.n_starts
    assert cost <= MODE_FLOPS
    # A step of all the members beyond the budget (Computers' size): not.
    assert not plan_committee("auto", "auto", 5000, 6, 1, "auto").run_to_mode
    # Two hidden layers (no exact Hessian), or fewer residuals than
    # parameters (Gauss-Newton steps in the residual space): not.
    assert not plan_committee((5, 5), 1, 300, 3, 1, "auto").run_to_mode
    assert not plan_committee((20,), 1, 30, 10, 1, "auto").run_to_mode
    # Asked for explicitly, whatever it costs; never when declined.
    assert plan_committee("auto", "auto", 5000, 6, 1, True).run_to_mode
    assert not plan_committee("auto", "auto", 300, 10, 1, False).run_to_mode


@pytest.mark.parametrize(
    "params",
    [{}, {"alpha": 0.1}, {"solver": "adam"}, {"loss": "huber"}, {"tr_solver": "cg"}],
    ids=["width-given", "fixed-alpha", "adam", "huber", "cg"],
)
def test_run_to_mode_auto_leaves_all_but_the_default_committee_as_they_were(
    sine, params
):
    # Only the Bayesian default (hidden_layer_sizes='auto', evidence, the
    # package's LM with direct steps on the squared error) runs to its modes.
    X, y = sine
    common = dict(hidden_layer_sizes=(3,), max_iter=30, random_state=0, **params)
    auto = TanhNetRegressor(**common).fit(X, y)
    off = TanhNetRegressor(run_to_mode=False, **common).fit(X, y)
    np.testing.assert_array_equal(auto.predict(X), off.predict(X))
    assert auto.n_iter_ == off.n_iter_


def test_auto_width_fits_a_committee_of_every_width_with_equal_weights(sine):
    X, y = sine
    est = TanhNetRegressor("auto", random_state=0).fit(X, y)
    assert est.hidden_layer_sizes_ == ((5,), (10,), (20,))  # narrowest first
    assert est.hidden_layer_sizes == "auto"  # the parameter is left as given
    assert [r["hidden_layer_sizes"] for r in est.members_] == [
        (5,),
        (5,),
        (10,),
        (10,),
        (20,),
        (20,),
    ]
    assert [r["weight"] for r in est.members_] == [1 / 6] * 6
    assert [W.shape for W in est.coefs_] == [(1, 70), (70, 1)]
    values = est.width_log_evidence_
    assert set(values) == {(5,), (10,), (20,)}
    # The representative network is the member of largest log evidence.
    assert est.log_evidence_ == max(r["log_evidence"] for r in est.members_)
    # The two starts of a width are two networks.
    starts = [r for r in est.members_ if r["hidden_layer_sizes"] == (10,)]
    assert (starts[0]["coefs"][0] != starts[1]["coefs"][0]).all()
    lower, upper = est.predict_interval(X)
    assert np.all(lower < upper)


def test_combine_best_keeps_the_member_of_largest_log_evidence(sine):
    X, y = sine
    est = TanhNetRegressor("auto", combine="best", random_state=0).fit(X, y)
    best = int(np.argmax([r["log_evidence"] for r in est.members_]))
    record = est.members_[best]
    assert [r["weight"] for r in est.members_].count(1.0) == 1
    assert record["weight"] == 1.0
    np.testing.assert_array_equal(est.coefs_[0], record["coefs"][0])
    assert est.log_evidence_ == record["log_evidence"]


def test_auto_width_at_a_fixed_alpha_compares_the_evidence_at_that_penalty(sine):
    X, y = sine
    est = TanhNetRegressor("auto", alpha=1e-3, combine="best", random_state=0)
    est.fit(X, y)
    values = est.width_log_evidence_
    assert set(values) == {(5,), (10,), (20,)}
    assert all(np.isfinite(v) for v in values.values())
    assert est.log_evidence_ == max(values.values())
    assert est.alpha_ == 1e-3


def test_a_search_over_alpha_fits_the_committee_at_each_penalty(sine):
    from sklearn.model_selection import GridSearchCV

    X, y = sine
    search = GridSearchCV(
        TanhNetRegressor("auto", max_iter=20, random_state=0),
        {"alpha": [1e-3, 1.0]},
        cv=2,
    ).fit(X, y)
    best = search.best_estimator_
    assert set(best.hidden_layer_sizes_) == set(best.width_log_evidence_)


def test_a_continued_committee_continues_every_member(sine):
    X, y = sine
    est = TanhNetRegressor(
        "auto", solver="adam", alpha=1e-3, max_iter=5, random_state=0
    )
    with pytest.raises(ValueError, match="partial_fit cannot size the committee"):
        est.partial_fit(X, y)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    widths, curve = est.hidden_layer_sizes_, list(est.loss_curve_)
    before = [theta.copy() for _, theta, *_ in est._committee]
    est.partial_fit(X, y)
    assert est.hidden_layer_sizes_ == widths and len(est.loss_curve_) == len(curve) + 1
    # Every member moved (the representative, listed first, may be another
    # member after the epoch: compare without the order).
    after = [theta for _, theta, *_ in est._committee]
    unchanged = [
        a for a in after if any(a.shape == b.shape and (a == b).all() for b in before)
    ]
    assert len(after) == 6 and not unchanged
    with pytest.warns(ConvergenceWarning):
        est.set_params(warm_start=True).fit(X, y)
    assert est.hidden_layer_sizes_ == widths and est.n_iter_ == 5
    assert est.loss_curve_[: len(curve)] == curve


def test_ensemble_keeps_the_attributes_of_a_best_start_that_is_not_the_first(sine):
    X, y = sine
    est = TanhNetRegressor((4,), n_starts=4, random_state=6)
    est.fit(X, y)
    best = int(np.argmax([r["log_evidence"] for r in est.members_]))
    assert best != 0  # the case this test is for
    assert est.log_evidence_ == est.members_[best]["log_evidence"]
    assert est.n_iter_ == est.members_[best]["n_iter"]
    # coefs_ are the members side by side: the best's units among them.
    np.testing.assert_array_equal(est.coefs_[0][:, :4], est.members_[best]["coefs"][0])
    assert est.effective_n_params_ > 0
