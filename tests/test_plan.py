"""Tests for the fit plan in ``sklearn_tanhnet._plan``."""

import pytest

import sklearn_tanhnet._plan as plan_module
from sklearn_tanhnet._plan import plan_fit

GIB = 2**30


@pytest.mark.parametrize(
    "n_samples, n_params, n_weights, step",
    [
        (50, 10, 6, "exact"),  # the lecture
        (1875, 121, 110, "exact"),  # friedman1: J'J is 2.7e7 multiply-adds
        (15, 321, 300, "exact"),  # fewer data rows than parameters
        (10**6, 661, 620, "cg"),  # 4.4e11 multiply-adds a step: iterative
    ],
)
def test_lm_takes_direct_steps_while_the_normal_equations_are_cheap(
    n_samples, n_params, n_weights, step
):
    plan = plan_fit(
        "least_squares", "lm", "auto", n_samples, 1, n_params, n_weights, True
    )
    assert plan.step == step and plan.method == "lm" and not plan.matrix_free
    assert plan.max_inner == (plan_module.CG_MAXITER if step == "cg" else None)


def test_statistics_follow_their_budget():
    assert plan_fit("least_squares", "lm", "auto", 1875, 1, 121, 110, True).statistics
    # A million rows: one pass of J'J over row blocks, in fit.
    plan = plan_fit("least_squares", "lm", "auto", 10**6, 1, 661, 620, False)
    assert plan.statistics and not plan.defer_statistics
    plan = plan_fit(
        "least_squares",
        "lm",
        "auto",
        10**6,
        1,
        661,
        620,
        False,
        memory_budget=GIB / 100,
    )
    assert not plan.statistics and "memory_budget=0.01 (GiB)" in plan.reason


def test_intervals_are_planned_wherever_the_fit_runs():
    # 1e5 x 10 with (30, 30): conjugate-gradient steps, and the statistics
    # computed at the end of fit (not deferred: no data kept).
    plan = plan_fit("least_squares", "lm", "auto", 10**5, 1, 1291, 1230, True)
    assert plan.step == "cg"
    assert plan.statistics and not plan.defer_statistics and plan.reason == ""


def test_statistics_budget_counts_their_peak():
    # One P x P matrix per output and STATISTICS_MATRICES more.
    n_params = 5000
    needed = (2 + plan_module.STATISTICS_MATRICES) * 8 * n_params**2
    args = ("least_squares", "lm", "auto", 10**4, 2, n_params, 4900, False)
    assert plan_fit(*args, memory_budget=needed).statistics
    refused = plan_fit(*args, memory_budget=needed - 1)
    assert not refused.statistics
    assert "larger memory_budget" in refused.reason


def test_wide_data_with_auto_alpha_budget_the_residual_space():
    # 20 rows x 2,000 features with (10,): 20,021 parameters, whose P x P
    # matrices would take 12 GiB, but the steps and the evidence work on
    # 20 x 20 kernels.
    plan = plan_fit("least_squares", "lm", "auto", 20, 1, 20021, 20010, True)
    assert (plan.step, plan.residual_space) == ("exact", True)
    # Its statistics too: in the residual space, in fit.
    assert plan.statistics and plan.residual_statistics
    assert not plan.defer_statistics
    # So does an explicit 'exact' step.
    plan = plan_fit("least_squares", "lm", "exact", 20, 1, 20021, 20010, True)
    assert plan.residual_space
    # With one penalty per input (no residual space) the P x P matrices count.
    with pytest.raises(ValueError, match=r"20021 x 20021.*memory_budget=2 \(GiB\)"):
        plan_fit("least_squares", "lm", "auto", 20, 1, 20021, 20010, True, ard=True)


@pytest.mark.parametrize(
    "n_samples, n_params, expected",
    [
        (50, 10, ("exact", False)),  # the lecture: an SVD is nothing
        (1875, 121, ("lsmr", False)),  # friedman1: lsmr beats an SVD per step
        (15, 321, ("exact", False)),  # fewer data rows than parameters
    ],
)
def test_scipy_methods_plan_as_before(n_samples, n_params, expected):
    plan = plan_fit("least_squares", "trf", "auto", n_samples, 1, n_params, 0, False)
    assert (plan.step, plan.matrix_free) == expected


def test_scipy_lsmr_goes_matrix_free_beyond_the_memory_budget(monkeypatch):
    monkeypatch.setattr(plan_module, "MEMORY_BUDGET", 8 * 100 * 10 * 2)
    # An SVD's workspace would not fit, the Jacobian alone would.
    plan = plan_fit("least_squares", "trf", "auto", 100, 1, 10, 0, False)
    assert (plan.step, plan.matrix_free) == ("lsmr", False)
    plan = plan_fit("least_squares", "dogbox", "auto", 300, 1, 10, 0, False)
    assert (plan.step, plan.matrix_free) == ("lsmr", True)
    with pytest.raises(ValueError, match=r"tr_solver='exact'.*GiB.*budget"):
        plan_fit("least_squares", "trf", "exact", 300, 1, 10, 0, False)
    with pytest.raises(ValueError, match="alpha='auto'.*method='trf'"):
        plan_fit("least_squares", "trf", "auto", 300, 1, 10, 9, True)


def test_explicit_steps_never_silently_change():
    with pytest.raises(ValueError, match="tr_solver='lsmr' is scipy's"):
        plan_fit("least_squares", "lm", "lsmr", 100, 1, 10, 9, True)
    with pytest.raises(ValueError, match="tr_solver='cg' is the package's own"):
        plan_fit("least_squares", "dogbox", "cg", 100, 1, 10, 9, True)
    plan = plan_fit("least_squares", "lm", "cg", 100, 1, 10, 9, True)
    assert plan.step == "cg"
    with pytest.raises(ValueError, match="tr_solver='exact' needs 30000 x 30000"):
        plan_fit("least_squares", "lm", "exact", 100, 1, 30000, 9, False, ard=True)


def test_auto_alpha_refuses_what_its_matrices_cannot_fit():
    with pytest.raises(ValueError, match="Gauss-Newton matrices.*GiB.*memory_budget"):
        plan_fit("adam", "lm", "auto", 10**5, 1, 10**5, 10**5, True)
    plan = plan_fit("adam", "lm", "auto", 10**5, 1, 10**5, 10**5, False)
    assert plan.solver == "adam" and plan.step is None and not plan.statistics


@pytest.mark.parametrize(
    "n_samples, n_outputs, n_params, step, residual_space",
    [
        (50, 1, 991, "exact", True),  # MLPRegressor's 50 digits, (15,)
        (200, 5, 5305, "exact", True),  # 200 x 100, 5 outputs, (50,): M = 1000
        (3000, 1, 5305, "cg", False),  # M^3 = 2.7e10: iterative
        (15, 1, 321, "exact", True),
        (1875, 1, 121, "exact", False),
    ],
)
def test_wide_problems_step_in_the_residual_space(
    n_samples, n_outputs, n_params, step, residual_space
):
    plan = plan_fit(
        "least_squares", "lm", "auto", n_samples, n_outputs, n_params, 0, True
    )
    assert (plan.step, plan.residual_space) == (step, residual_space)
    # An explicit 'exact' on wide data is solved in the residual space too.
    plan = plan_fit(
        "least_squares", "lm", "exact", n_samples, n_outputs, n_params, 0, True
    )
    assert plan.residual_space == (n_samples * n_outputs < n_params)


@pytest.mark.parametrize(
    "uncertainty, statistics, defer",
    [("fit", True, False), ("lazy", True, True), ("off", False, False)],
)
def test_uncertainty_says_when_statistics_are_computed(uncertainty, statistics, defer):
    plan = plan_fit("least_squares", "lm", "auto", 50, 1, 10, 6, True, uncertainty)
    assert (plan.statistics, plan.defer_statistics) == (statistics, defer)
    if uncertainty == "off":
        assert "uncertainty='off'" in plan.reason


def test_residual_space_statistics_are_budgeted_by_their_size():
    # 20 rows, 20,021 parameters (11 biases): three 20 x P arrays, six
    # 20 x 20 matrices and three 55 x 55 ones.
    needed = plan_module.residual_statistics_bytes(20, 20021, 11)
    assert needed == 8 * (3 * 20 * 20021 + 6 * 20**2 + 3 * 11**2)
    args = ("least_squares", "lm", "auto", 20, 1, 20021, 20010, False)
    plan = plan_fit(*args, memory_budget=needed)
    assert plan.statistics and plan.residual_statistics
    refused = plan_fit(*args, memory_budget=needed - 1)
    assert not refused.statistics and not refused.residual_statistics
    assert "20 x 20021 residual-space factors" in refused.reason
    assert "larger memory_budget" in refused.reason
    # uncertainty='lazy' waits for the first use; 'fit' keeps a P x P form
    # within the budget as it is ('auto' takes the cheaper residual space).
    assert plan_fit(*args, uncertainty="lazy").defer_statistics
    roomy = {"memory_budget": 1e3 * GIB}
    assert not plan_fit(*args, uncertainty="fit", **roomy).residual_statistics
    assert plan_fit(*args, **roomy).residual_statistics


def test_wide_fits_with_estimated_penalties_take_the_residual_space():
    # 210 rows of 16 inputs, (20,): 361 parameters. Their P x P
    # eigendecompositions cost under the eager threshold, but the residual
    # space's M x M factors cost less: taken whenever the penalties are
    # estimated (positive on every weight, as the factors need).
    estimated = plan_fit("least_squares", "lm", "auto", 210, 1, 361, 340, True)
    assert estimated.statistics and estimated.residual_statistics
    assert not estimated.defer_statistics
    # A given alpha may be zero: the P x P pseudo-inverse, as before.
    given = plan_fit("least_squares", "lm", "auto", 210, 1, 361, 340, False)
    assert given.statistics and not given.residual_statistics
    # More rows than parameters: P x P whatever the penalties.
    tall = plan_fit("least_squares", "lm", "auto", 400, 1, 361, 340, True)
    assert tall.statistics and not tall.residual_statistics


def test_auto_uncertainty_computes_in_fit_whatever_the_cost():
    cheap = plan_fit("least_squares", "lm", "auto", 1875, 1, 121, 110, True)
    assert cheap.statistics and not cheap.defer_statistics
    # 200 x 100 with 5 outputs and (50,): 2.8e10 + 3e12 multiply-adds, and
    # 2.9 GiB at their peak.
    # Beyond the budget as P x P matrices, within it in the residual space
    # (1,000 residuals): computed in fit.
    wide = plan_fit("least_squares", "lm", "auto", 200, 5, 5305, 5250, True)
    assert wide.statistics and wide.residual_statistics
    assert not wide.defer_statistics
    # Within the budget as P x P matrices too, whose eigendecompositions
    # would cost a hundred passes over the rows: in the residual space all
    # the same, in fit, so that the model keeps no training data.
    wide = plan_fit(
        "least_squares", "lm", "auto", 200, 5, 5305, 5250, True, memory_budget=3 * GIB
    )
    assert wide.statistics and wide.residual_statistics
    assert not wide.defer_statistics
    # More residuals than parameters: P x P, in fit (at most twenty passes).
    square = plan_fit("least_squares", "lm", "auto", 1200, 1, 1001, 990, True)
    assert square.statistics and not square.residual_statistics
    assert not square.defer_statistics
    # Rows enough that one pass of J'J costs more than the eigendecompositions:
    # in fit, whatever the latter cost.
    tall = plan_fit("least_squares", "lm", "auto", 2 * 10**5, 1, 5305, 5250, False)
    assert tall.statistics and not tall.defer_statistics
