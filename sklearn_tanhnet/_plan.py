"""The plan of a fit: which algorithm and step, and what the budgets allow.

Every budget constant of a fit lives here (this module imports nothing of the
package, so the problem and the statistics read their block sizes from it),
and :func:`plan_fit` is the one place that turns the estimator's parameters
and the problem's size into a :class:`FitPlan`, before anything large is
allocated.

Costs, for ``n`` rows, ``K`` outputs and ``P`` parameters:

* a direct Levenberg-Marquardt step accumulates ``J'J``, ``n K P^2``
  multiply-adds in BLAS, and factorises a ``P x P`` matrix; memory ``O(P^2)``
  whatever ``n``. With fewer residuals ``M = n K`` than parameters it sums
  the layers' kernels ``J_l J_l'`` instead (``M^2`` times the number of
  units) and factorises ``M x M`` matrices, ``M^3 / 3`` multiply-adds each;
  memory ``O(M^2)``;
* a conjugate-gradient step costs two kernel passes (a JVP and a VJP, about
  ``n P`` multiply-adds each, in small products that run well below BLAS's
  peak) per inner iteration, with no ``n x P`` matrix;
* scipy's ``'exact'`` trust-region step takes an SVD of the dense ``(n K + P)
  x P`` Jacobian; its ``'lsmr'`` step needs products only.
"""

import warnings
from dataclasses import dataclass, replace

from ._network import n_params_of

# The largest dense memory a fit may allocate (a residual Jacobian for scipy,
# the few matrices of the normal equations, the evidence and the
# uncertainty), unless the estimator's ``memory_budget`` says otherwise.
MEMORY_BUDGET = 2 * 2**30
# Most multiply-adds, n * K * P^2, of one J'J: the per-step budget of direct
# steps (about a second). Beyond it steps are iterative.
DIRECT_FLOPS = 2e10
# With fewer residuals M = n * K than parameters a direct step factorises
# M x M matrices (the damped system, and the evidence's), a few M^3
# multiply-adds an iteration: beyond M^3 of this many (about a second an
# iteration), steps are iterative.
RESIDUAL_FLOPS = 8e9
# Beyond this many multiply-adds, n * K * P^2, a direct step's J'J and the
# statistics' Gauss-Newton matrices are accumulated from single-precision
# blocks (J'r and the loss stay double).
SINGLE_PRECISION_FLOPS = 1e9
# The post-fit statistics hold one P x P Gauss-Newton matrix per output and,
# at their peak (an eigendecomposition, its workspace and the products
# around it), this many more.
STATISTICS_MATRICES = 7
# With uncertainty='auto' and a given alpha, fewer residuals than parameters
# take the residual-space statistics where the two P x P eigendecompositions
# (about 20 P^3 multiply-adds) cost more than this and more than the
# Gauss-Newton matrices (n K P^2, one pass over the rows, the size of a direct
# step's work); with alpha='auto' they always do. After partial_fit, 'auto'
# defers the statistics to their first use where they cost more than this: a
# partial_fit call is one epoch (some 6 n P multiply-adds), their pass over
# the rows some P / 6 epochs, and a stream of calls would pay it after every
# one.
EAGER_STATISTICS_FLOPS = 1e9
# scipy's exact step: an SVD per step is cheaper than lsmr up to this many
# rows * n_params**2 multiply-adds.
EXACT_FLOPS = 2e6
# Rows per block of the normal equations: a block's Jacobian (rows *
# n_outputs * n_params floats) stays within this.
BLOCK_BYTES = 8 * 2**20
# Rows per block of the kernel's own passes (values, JVP, VJP): a block's
# widest layer stays within this, in the CPU's second-level cache.
PASS_BYTES = 256 * 2**10
# Blocks that estimate the diagonal of J'J for conjugate gradients' Jacobi
# preconditioner (all of them up to this many).
DIAGONAL_BLOCKS = 64
# Rows per chunk of the prediction standard errors' Jacobians.
CHUNK_BYTES = 64 * 2**20
# Most inner iterations of a step: lsmr on a dense Jacobian, lsmr matrix-free
# (two passes over the data each), conjugate gradients.
DENSE_LSMR_MAXITER = 20
MATRIX_FREE_LSMR_MAXITER = 4
CG_MAXITER = 5


@dataclass(frozen=True)
class FitPlan:
    """How a fit runs.

    Attributes
    ----------
    solver : {'least_squares', 'adam'}
    method : {'lm', 'trf', 'dogbox'} or None
        None for adam.
    step : {'exact', 'cg', 'lsmr'} or None
        The step of each iteration: a factorisation (Cholesky for ``'lm'``,
        an SVD for scipy), conjugate gradients (``'lm'``), or lsmr (scipy).
    matrix_free : bool
        scipy's lsmr on Jacobian products instead of a dense Jacobian.
    max_inner : int or None
        Most inner iterations of an iterative step.
    statistics : bool
        Whether the post-fit uncertainty statistics fit the budgets (and were
        asked for).
    reason : str
        Why the statistics are skipped ('' when they are not).
    gram_dtype : {'float64', 'float32'}
        Precision of the row blocks of ``J'J`` (direct steps, statistics).
    residual_space : bool
        Direct Levenberg-Marquardt steps solved in the residual space (fewer
        data residuals than parameters).
    defer_statistics : bool
        Compute the statistics on first use instead of in fit.
    residual_statistics : bool
        Compute the statistics in the residual space (fewer data residuals
        than parameters, and ``P x P`` matrices beyond the budget).
    """

    solver: str
    method: object
    step: object
    matrix_free: bool
    max_inner: object
    statistics: bool
    reason: str = ""
    gram_dtype: str = "float64"
    residual_space: bool = False
    defer_statistics: bool = False
    residual_statistics: bool = False


def _gib(n_bytes):
    return f"{n_bytes / 2**30:.3g} GiB"


def _budget_text(budget):
    return f"memory_budget={budget / 2**30:g} (GiB)"


def _residual_space_bytes(n_data, n_params):
    """Peak bytes of a step (or evidence update) in the residual space.

    The ``M x M`` kernels (one a layer, their sum, a factorisation and its
    inverse: eight at most) and the ``M``-row blocks they are made from (the
    biases' Jacobian and each layer's activations, slopes and deltas: at most
    four ``M x P`` arrays), ``M`` the data residuals and ``P`` the parameters.
    """
    return 8 * (8 * n_data**2 + 4 * n_data * n_params)


def _residual_space_text(n_data):
    return f"{n_data} x {n_data} Gauss-Newton kernels and their {n_data}-row blocks"


def _lm_step(tr_solver, n_data, n_params, budget, ard=False):
    if tr_solver == "lsmr":
        raise ValueError(
            "tr_solver='lsmr' is scipy's; method='lm' takes tr_solver='exact' "
            "(Cholesky) or 'cg' (conjugate gradients), or 'auto'."
        )
    if n_data < n_params and not ard:  # M x M matrices, smaller than P x P ones
        what, needed = (
            _residual_space_text(n_data),
            _residual_space_bytes(n_data, n_params),
        )
        cheap = n_data**3 <= RESIDUAL_FLOPS
    else:
        what, needed = f"{n_params} x {n_params} matrices", 4 * 8 * n_params**2
        cheap = n_data * n_params**2 <= DIRECT_FLOPS
    fits = needed <= budget
    if tr_solver == "exact" and not fits:
        raise ValueError(
            f"tr_solver='exact' needs {what} ({_gib(needed)}), "
            f"more than {_budget_text(budget)}; use tr_solver='cg' or raise "
            "memory_budget."
        )
    if tr_solver == "auto":
        return "exact" if fits and cheap else "cg"
    return tr_solver


def _scipy_step(method, tr_solver, n_data, n_rows, n_params, budget):
    if tr_solver == "cg":
        raise ValueError(
            f"tr_solver='cg' is the package's own; method={method!r} takes "
            "tr_solver='exact' (SVD) or 'lsmr', or 'auto'."
        )
    jacobian_bytes = 8 * n_rows * n_params
    fits = 3 * jacobian_bytes <= budget
    if tr_solver == "exact" and not fits:
        raise ValueError(
            f"tr_solver='exact' needs a dense {n_rows} x {n_params} Jacobian and "
            f"its factorisation, {_gib(3 * jacobian_bytes)}, more than "
            f"{_budget_text(budget)}. Use tr_solver='auto' or 'lsmr', which then "
            "runs matrix-free, or raise memory_budget."
        )
    if tr_solver == "auto":
        # With fewer data residuals than parameters the fit interpolates and
        # the penalty alone decides where it lands; lsmr's truncated steps stop
        # short of that point by more than rounding.
        cheap = n_rows * n_params**2 <= EXACT_FLOPS
        tr_solver = "exact" if fits and (cheap or n_data < n_params) else "lsmr"
    matrix_free = tr_solver == "lsmr" and jacobian_bytes > budget
    return tr_solver, matrix_free


def statistics_bytes(n_outputs, n_params):
    """Peak bytes of the post-fit statistics (:func:`~._uncertainty.fit_statistics`)."""
    return (n_outputs + STATISTICS_MATRICES) * 8 * n_params**2


def residual_statistics_bytes(n_data, n_params, n_biases):
    """Peak bytes of the statistics in the residual space
    (:func:`~._uncertainty.residual_statistics`).

    The ``M x P`` Jacobian, its product with the prior variances and a
    product's temporary; ``M x M`` matrices (``C``, its factor, its inverse
    and their products) and the biases' ``n_b x n_b`` ones.
    """
    return 8 * (3 * n_data * n_params + 6 * n_data**2 + 3 * n_biases**2)


def _statistics_plan(
    uncertainty,
    n_data,
    n_outputs,
    n_params,
    budget,
    n_biases=0,
    partial=False,
    estimated_penalties=False,
):
    """Whether to compute the statistics, why not, whether to defer them and
    whether in the residual space (``partial``: after a partial_fit call;
    ``estimated_penalties``: ``alpha='auto'``)."""
    if uncertainty == "off":
        reason = (
            "uncertainty='off': the fit computed no statistics. Refit with "
            "uncertainty='auto' to have them."
        )
        return False, reason, False, False
    needed = statistics_bytes(n_outputs, n_params)
    if needed > budget and n_data < n_params:
        # Fewer residuals than parameters: the same covariance in M x M
        # factors, at about the cost of one residual-space step: in fit
        # unless asked to wait.
        residual = residual_statistics_bytes(n_data, n_params, n_biases)
        if residual <= budget:
            return True, "", uncertainty == "lazy", True
        reason = (
            f"its {n_data} x {n_params} residual-space factors need "
            f"{_gib(residual)}, more than {_budget_text(budget)}. Refit with a "
            "larger memory_budget to have intervals, or use a smaller network."
        )
        return False, reason, False, False
    if needed > budget:
        reason = (
            f"its {n_params} x {n_params} parameter covariance needs "
            f"{_gib(needed)}, more than {_budget_text(budget)}. Refit with a "
            "larger memory_budget to have intervals, or use a smaller network."
        )
        return False, reason, False, False
    # 'auto' computes in fit, so that a fitted model holds no training data.
    # Fewer residuals than parameters take the residual space: the inverse
    # of J'J + Lambda from M x M factors, at about the cost of one
    # residual-space step, where the P x P eigendecompositions (about 20 P^3
    # multiply-adds) cost more and keep more. It needs a positive penalty on
    # every weight: always so with estimated penalties; with a given alpha,
    # taken where the eigendecompositions cost more than a moment and more
    # than one pass of J'J over the rows (the size of a direct step).
    # Otherwise those cost at most twenty such passes, a fit's worth.
    eigen = 20 * n_params**3
    expensive = eigen > max(EAGER_STATISTICS_FLOPS, n_data * n_params**2)
    wide = n_data < n_params and (expensive or estimated_penalties)
    if uncertainty == "auto" and wide:
        residual = residual_statistics_bytes(n_data, n_params, n_biases)
        if residual <= budget:
            return True, "", False, True
    costly = n_data * n_params**2 + eigen > EAGER_STATISTICS_FLOPS
    defer = uncertainty == "lazy" or (uncertainty == "auto" and partial and costly)
    return True, "", defer, False


def _check_evidence_budget(n_data, n_params, ard, budget):
    """A ValueError unless the evidence updates' matrices fit the budget.

    They work in the residual space, on ``M x M`` kernels (one a layer, and
    their sum), when there are fewer residuals than parameters.
    """
    if n_data < n_params and not ard:
        what = _residual_space_text(n_data)
        needed = _residual_space_bytes(n_data, n_params)
    else:
        what = f"{n_params} x {n_params} Gauss-Newton matrices"
        needed = 4 * 8 * n_params**2
    if needed > budget:
        raise ValueError(
            f"alpha='auto' needs {what} ({_gib(needed)}), more than "
            f"{_budget_text(budget)}. Raise memory_budget, pass a float alpha "
            "(with solver='adam' for the largest networks) or use a smaller "
            "network."
        )


def plan_fit(
    solver,
    method,
    tr_solver,
    n_samples,
    n_outputs,
    n_params,
    n_weights,
    auto_alpha,
    uncertainty="auto",
    ard=False,
    memory_budget=None,
    partial=False,
):
    """Plan a fit; raise ValueError for what the budgets cannot take.

    Parameters
    ----------
    solver, method, tr_solver : str
        ``{'least_squares', 'adam'}``, ``{'lm', 'trf', 'dogbox'}`` and
        ``{'auto', 'exact', 'lsmr', 'cg'}``.
    n_samples, n_outputs, n_params, n_weights : int
        Size of the problem.
    auto_alpha : bool
        Whether the penalties are re-estimated (``alpha='auto'``).
    uncertainty : {'auto', 'fit', 'lazy', 'off'}
        When the post-fit statistics are computed.
    ard : bool
        One penalty per input feature (the residual space takes one a layer).
    memory_budget : float, optional
        Bytes the fit's dense matrices may take (:data:`MEMORY_BUDGET` if None).
    partial : bool, default=False
        A partial_fit call (see :data:`EAGER_STATISTICS_FLOPS`).

    Returns
    -------
    FitPlan
    """
    budget = MEMORY_BUDGET if memory_budget is None else memory_budget
    n_data = n_samples * n_outputs
    gram_flops = n_data * n_params**2
    gram_dtype = "float32" if gram_flops > SINGLE_PRECISION_FLOPS else "float64"
    statistics, reason, defer, residual_statistics = _statistics_plan(
        uncertainty,
        n_data,
        n_outputs,
        n_params,
        budget,
        n_params - n_weights,
        partial,
        auto_alpha,
    )
    if auto_alpha:
        _check_evidence_budget(n_data, n_params, ard, budget)
    common = dict(  # what every plan says of the statistics and the Gram
        statistics=statistics,
        reason=reason,
        gram_dtype=gram_dtype,
        defer_statistics=defer,
        residual_statistics=residual_statistics,
    )
    if solver == "adam":
        return FitPlan(solver, None, None, False, None, **common)
    if method == "lm":
        step = _lm_step(tr_solver, n_data, n_params, budget, ard)
        max_inner = CG_MAXITER if step == "cg" else None
        residual_space = step == "exact" and n_data < n_params and not ard
        return FitPlan(
            solver,
            method,
            step,
            False,
            max_inner,
            residual_space=residual_space,
            **common,
        )
    n_rows = n_data + (n_weights if auto_alpha else 0)
    return _scipy_plan(
        method, tr_solver, (n_data, n_rows, n_params), auto_alpha, budget, common
    )


def _scipy_plan(method, tr_solver, shape, auto_alpha, budget, common):
    """The :class:`FitPlan` of scipy's ``method`` on ``shape = (n_data,
    n_rows, n_params)`` (``n_rows`` with the penalty's rows)."""
    n_data, n_rows, n_params = shape
    step, matrix_free = _scipy_step(method, tr_solver, n_data, n_rows, n_params, budget)
    if matrix_free and auto_alpha:
        raise ValueError(
            f"A dense {n_rows} x {n_params} Jacobian would need "
            f"{_gib(8 * n_rows * n_params)}, more than {_budget_text(budget)}, "
            f"and alpha='auto' with method={method!r} needs the Gauss-Newton "
            "matrix of all rows at every evidence update. Use method='lm', a "
            "float alpha, solver='adam', or raise memory_budget."
        )
    max_inner = None
    if step == "lsmr":
        max_inner = MATRIX_FREE_LSMR_MAXITER if matrix_free else DENSE_LSMR_MAXITER
    return FitPlan("least_squares", method, step, matrix_free, max_inner, **common)


# -- the committee ------------------------------------------------------------------

# hidden_layer_sizes='auto': the committee's widest member has
# max(COMMITTEE_MIN_WIDTH, round(sqrt(n_rows))) units and the others a half
# and a quarter of it. A ladder that spans a factor of four keeps every
# member a sensible model of the data; wider spans pulled in members that
# were clearly too small or too large (docs/benchmarks.rst, "The committee").
COMMITTEE_MIN_WIDTH = 20
COMMITTEE_WIDTH_RATIOS = (4, 2, 1)
# n_starts='auto': random starts per width when the widths are 'auto' (one
# for a width the user gives), while a step of all of them costs at most
# COMMITTEE_STARTS_FLOPS multiply-adds: a second start pays on small data,
# where which optimum one start lands in weighs most and fits are cheap;
# beyond it the fit would take seconds for the last thousandths of R^2.
COMMITTEE_STARTS = 2
COMMITTEE_STARTS_FLOPS = 1e9
# The most multiply-adds that one Gauss-Newton step of all the committee's
# members together may cost (each n * K * P^2, or M^2 * units + M^3 / 3 in
# the residual space): about a second a step. Beyond it the committee has
# one start per width, then only its widest widths, then one network as wide
# as the budget affords.
COMMITTEE_FLOPS = 5e9
# run_to_mode='auto': each network of the default committee goes on from
# where its evidence iteration settles to a stationary point of its objective
# while a step of all the committee's members costs at most MODE_FLOPS
# multiply-adds (some 500 rows of ten inputs). Those steps are damped
# Newton steps, hundreds of them on noisy data: on small data several times
# the fit, for Laplace quantities taken at the mode they assume; on large
# data far more, where the posterior is narrow and the settled point nearer
# its mode.
MODE_FLOPS = 1e8


@dataclass(frozen=True)
class CommitteePlan:
    """Which networks a fit trains.

    Attributes
    ----------
    widths : tuple of tuple of int
        The hidden layer sizes of the members, narrowest first.
    n_starts : int
        Random starts of each width.
    reduced : str
        Why the committee is smaller than asked ('' when it is not).
    run_to_mode : bool
        Whether each network goes on to a stationary point of its objective
        after its evidence iteration settles.
    """

    widths: tuple
    n_starts: int
    reduced: str = ""
    run_to_mode: bool = False

    @property
    def n_members(self):
        return len(self.widths) * self.n_starts


def step_flops(n_rows, n_features, hidden, n_outputs):
    """Multiply-adds of one direct Gauss-Newton step of a network: ``n K P^2``,
    or in the residual space (fewer residuals ``M`` than parameters) the
    layers' kernels and an ``M x M`` factorisation, whichever is smaller."""
    n_data = n_rows * n_outputs
    n_params = n_params_of([n_features, *hidden, n_outputs])
    residual_space = n_data**2 * (sum(hidden) + 1) + n_data**3 / 3
    return min(n_data * n_params**2, residual_space)


def committee_step_flops(widths, n_starts, n_rows, n_features, n_outputs):
    """Multiply-adds of one step of ``n_starts`` networks of each of
    ``widths`` (:func:`step_flops` each)."""
    return n_starts * sum(step_flops(n_rows, n_features, h, n_outputs) for h in widths)


def committee_widths(n_rows):
    """The widths of ``hidden_layer_sizes='auto'`` for ``n_rows`` training
    rows, narrowest first."""
    top = max(COMMITTEE_MIN_WIDTH, round(n_rows**0.5))
    return tuple((max(1, round(top / ratio)),) for ratio in COMMITTEE_WIDTH_RATIOS)


def starts_and_combine(n_starts, combine, n_restarts, ensemble):
    """``(n_starts, combine)``, the deprecated ``n_restarts`` and
    ``ensemble`` translated (with a FutureWarning)."""
    if n_restarts != "deprecated":
        warnings.warn(
            "n_restarts is deprecated in 0.2 and will be removed in 0.4: "
            f"n_restarts={n_restarts} (the best start kept) is "
            f"n_starts={n_restarts}, combine='best'.",
            FutureWarning,
        )
        n_starts, combine = n_restarts, "best"
    if ensemble != "deprecated":
        warnings.warn(
            "ensemble is deprecated in 0.2 and will be removed in 0.4: "
            "ensemble=True is combine='mixture' (the default), "
            "ensemble=False is combine='best'.",
            FutureWarning,
        )
        combine = "mixture" if ensemble else "best"
    return n_starts, combine


def plan_committee(widths, n_starts, n_rows, n_features, n_outputs, run_to_mode=False):
    """The :class:`CommitteePlan` of a fit, within :data:`COMMITTEE_FLOPS`.

    Parameters
    ----------
    widths : tuple of int or 'auto'
        ``hidden_layer_sizes``: one width (its members differ by their
        start only, and are never cut) or ``'auto'`` (:func:`committee_widths`).
    n_starts : int or 'auto'
        Starts of each width; ``'auto'``: :data:`COMMITTEE_STARTS` for
        ``'auto'`` widths, one for a given width.
    n_rows, n_features, n_outputs : int
        The training data's size.
    run_to_mode : bool or 'auto'
        ``'auto'``: while a step of all the members costs at most
        :data:`MODE_FLOPS` (:func:`with_run_to_mode`; the caller passes
        False where ``'auto'`` does not apply, see
        :func:`~._data.plan_widths`).
    """

    def cost(members, k):
        return committee_step_flops(members, k, n_rows, n_features, n_outputs)

    plan = _committee_members(widths, n_starts, n_rows, cost)
    return with_run_to_mode(plan, run_to_mode, n_rows, n_features, n_outputs)


def with_run_to_mode(plan, run_to_mode, n_rows, n_features, n_outputs):
    """``plan`` with ``run_to_mode`` decided (``'auto'``: see
    :func:`plan_committee`).

    ``'auto'`` also needs every member to take Newton steps to its mode:
    one hidden layer (whose exact Hessian the solver has) and more residuals
    than parameters (direct steps, not the residual space's Gauss-Newton
    ones, which converge only linearly there).
    """
    if run_to_mode == "auto":
        shape = (n_rows, n_features, n_outputs)
        newton = all(
            len(h) == 1
            and n_rows * n_outputs >= n_params_of([n_features, *h, n_outputs])
            for h in plan.widths
        )
        flops = committee_step_flops(plan.widths, plan.n_starts, *shape)
        run_to_mode = newton and flops <= MODE_FLOPS
    return replace(plan, run_to_mode=bool(run_to_mode))


def _committee_members(widths, n_starts, n_rows, cost):
    """The widths and starts of :func:`plan_committee`, ``cost(widths, k)``
    the multiply-adds of a step of ``k`` starts of each."""
    if widths != "auto":
        starts = 1 if n_starts == "auto" else n_starts
        return CommitteePlan((tuple(widths),), starts)
    ladder = committee_widths(n_rows)

    starts = n_starts
    if n_starts == "auto":
        affordable = cost(ladder, COMMITTEE_STARTS) <= COMMITTEE_STARTS_FLOPS
        starts = COMMITTEE_STARTS if affordable else 1

    if cost(ladder, starts) <= COMMITTEE_FLOPS:
        return CommitteePlan(ladder, starts)
    reduced = (
        f"the whole committee ({len(ladder)} widths x {starts} "
        f"start{'s' if starts > 1 else ''}) would cost "
        f"{cost(ladder, starts):.2g} multiply-adds a step, more than the "
        f"{COMMITTEE_FLOPS:.2g} budgeted"
    )
    if cost(ladder, 1) <= COMMITTEE_FLOPS:
        return CommitteePlan(ladder, 1, reduced)
    # Fewer widths, the widest kept: on much data capacity matters more than
    # averaging (the narrow members are the ones that underfit).
    for first in range(1, len(ladder)):
        if cost(ladder[first:], 1) <= COMMITTEE_FLOPS:
            return CommitteePlan(ladder[first:], 1, reduced)
    # One network, as wide as the budget affords (at most the widest's width).
    width = ladder[-1][0]
    while width > 1 and cost([(width,)], 1) > COMMITTEE_FLOPS:
        width -= max(1, width // 16)
    return CommitteePlan(((width,),), 1, reduced)
