"""Training control around the solvers: evidence-based penalties, early stopping.

``train`` runs a solver on a :class:`LeastSquaresProblem` and, for
``alpha='auto'``, has the weight penalties re-estimated by MacKay's evidence
framework (the method of MATLAB's ``trainbr`` and R's ``brnn``): inside the
package's Levenberg-Marquardt loop after every step, or, for scipy's methods
and adam, between short solver runs. :class:`ValidationMonitor` implements
early stopping on a held-out loss. Nothing here knows about scikit-learn.
"""

from dataclasses import dataclass, field

import numpy as np

from ._evidence import (
    EVIDENCE_RTOL,
    evidence_settled,
    group_shrinkage,
    inverse_diagonal,
    problem_evidence,
    residual_space_shrinkage,
)
from ._robust import (
    MAX_ROUNDS,
    WEIGHT_ATOL,
    irls_weights,
    robust_objective,
    squared_ratio,
    thresholds,
)

# Solver iterations between two re-estimations of the penalties, for the
# solvers that re-estimate between runs (scipy's methods; adam runs until a
# plateau instead, see the estimator).
EVIDENCE_CHUNK = 5
# Starting penalties per layer, relative to the weight sum. The evidence
# iteration has several fixed points: from a strong start it tends to settle on
# simpler fits (better on small noisy data), from a weak start it never
# collapses a clean signal to a constant. The weak start runs only when the
# strong one collapsed, explaining less than COLLAPSED of the target's
# variance; GCV then picks.
EVIDENCE_STARTS = (1.0, 0.01)
COLLAPSED = 0.01


@dataclass
class TrainResult:
    """A :class:`SolverResult` plus what training control adds."""

    theta: np.ndarray
    loss: float
    loss_curve: list
    n_iter: int
    status: str
    message: str
    problem: object
    alpha: object
    state: tuple = None
    gcv: float = None
    evidence_updates: int = 0
    evidence: object = None
    extra: dict = field(default_factory=dict)
    robust: "RobustFit" = None


@dataclass
class RobustFit:
    """What IRLS adds to a fit: see :func:`reweighted`."""

    row_weights: np.ndarray
    threshold: np.ndarray
    objective: float
    rounds: int


class ValidationMonitor:
    """Early stopping on the data loss of a held-out set.

    Called with ``(theta, loss)`` after every iteration; returns a message to
    stop once the validation loss has not improved by more than
    ``tol * loss_scale`` for ``n_iter_no_change`` consecutive iterations, and
    keeps the best parameters in ``best_theta``.
    """

    def __init__(self, problem, tol, n_iter_no_change, loss_scale):
        self.problem = problem
        self.threshold = tol * loss_scale
        self.n_iter_no_change = n_iter_no_change
        self.curve = []
        self.best_loss, self.best_theta, self.count = np.inf, None, 0

    def __call__(self, theta, loss):
        val = self.problem.loss(theta)
        self.curve.append(val)
        if val < self.best_loss - self.threshold:
            self.count = 0
        else:
            self.count += 1
        if val < self.best_loss:
            self.best_loss, self.best_theta = val, np.array(theta, copy=True)
        if self.count >= self.n_iter_no_change:
            return (
                f"Validation loss did not improve by more than {self.threshold:.3g} "
                f"for {self.n_iter_no_change} consecutive iterations."
            )
        return None


@dataclass(frozen=True)
class EvidenceSchedule:
    """How ``alpha='auto'`` re-estimates the penalties around a solver.

    Attributes
    ----------
    in_loop : bool
        The solver re-estimates the penalties itself, after every step (the
        package's Levenberg-Marquardt); otherwise short runs of ``chunk``
        iterations alternate with evidence updates here (scipy's methods,
        adam).
    chunk : int
        Solver iterations between evidence updates (``in_loop=False``).
    require_converged : bool
        Settle only after a solver run that converged by itself: for slow
        first-order solvers, whose ``gamma`` and ``beta`` barely move within a
        chunk long before the fit is done.
    weak_first : bool
        Start from the weak penalty (and the strong one only after a
        collapse): for first-order solvers, which leave a strong start
        underfitted without collapsing it.
    negligible : float
        A penalty contribution to the objective below this counts as settled
        even while the noise precision still grows (noise-free data).
    """

    in_loop: bool = True
    chunk: int = EVIDENCE_CHUNK
    require_converged: bool = False
    weak_first: bool = False
    negligible: float = 0.0


def train(
    make_problem,
    run,
    theta0,
    *,
    alpha,
    max_iter,
    alpha0=None,
    state=None,
    schedule=EvidenceSchedule(),
    refine=None,
):
    """Fit, re-estimating the penalties when ``alpha == 'auto'``.

    Parameters
    ----------
    make_problem : callable
        ``alpha -> LeastSquaresProblem``; ``alpha`` a float or one penalty per
        weight.
    run : callable
        ``(problem, theta0, max_iter, state, alphas) -> SolverResult``;
        ``alphas`` (per-layer starting penalties, or None) asks the solver to
        re-estimate them inside its own loop.
    theta0 : ndarray
        Starting parameters.
    alpha : float or 'auto'
        Fixed penalty, or ``'auto'`` for one evidence-based penalty per layer.
    max_iter : int
        Iteration budget over all solver runs (of each start).
    alpha0 : ndarray of shape (n_layers - 1,), default=None
        Starting per-layer penalties for ``'auto'``. By default the strong
        start of ``EVIDENCE_STARTS``, and the weak one after a collapse.
    state : tuple, default=None
        Solver state (adam's moments) to continue from.
    schedule : EvidenceSchedule, default=EvidenceSchedule()
        How the penalties are re-estimated.
    refine : callable, default=None
        ``alpha -> LeastSquaresProblem`` with finer penalty groups (ARD's, one
        per input on the first layer). With ``'auto'`` and no ``alpha0`` the
        fit first settles with one penalty per layer (in at most half of
        ``max_iter``), then continues on the refined problem from there,
        each group starting from its layer's penalty (:func:`_refined`).

    Returns
    -------
    result : TrainResult
    """
    total_iter = max_iter
    if not isinstance(alpha, str):
        problem = make_problem(alpha)
        res = run(problem, theta0, max_iter, state, None)
        return _result(res, res.loss_curve, problem, alpha, None, 0)
    if refine is not None and alpha0 is None:
        max_iter = max(max_iter // 2, 1)  # the refined fit gets the rest
    best = _evidence_fit(make_problem, run, (theta0, alpha0, max_iter, state), schedule)
    if refine is None or alpha0 is not None:
        return best
    return _refined(best, refine, run, total_iter - best.n_iter, schedule)


def _evidence_fit(make_problem, run, start, schedule):
    """The evidence fit of ``make_problem``'s groups from ``start = (theta0,
    alpha0, max_iter, state)``: from each of :func:`_evidence_starts` in
    turn until one does not collapse, the best by generalised
    cross-validation kept."""
    theta0, alpha0, max_iter, state = start
    results, probe = [], make_problem(0.0)
    for alphas in _evidence_starts(probe, alpha0, schedule):
        # The evidence starts share the budget: max_iter bounds every
        # iteration run.
        budget = max_iter - sum(r.n_iter for r in results)
        if budget <= 0:
            break
        if schedule.in_loop:
            # The first start fits on the probe itself: one problem less.
            problem = make_problem(alphas) if results else probe
            problem.set_alpha(alphas)
            res = run(problem, theta0, budget, state, alphas)
            result = _result(
                res, res.loss_curve, problem, res.alpha, res.evidence, res.n_iter
            )
        else:
            result = _evidence_loop(
                make_problem, run, (theta0, alphas, budget, state), schedule
            )
        results.append(result)
        if not _collapsed(result):
            break
    best = min(results, key=lambda r: (r.gcv is None, r.gcv))
    if len(results) > 1:
        # Every iteration run is in the curve: a discarded evidence start's
        # first (its penalties, from the other start, explain the jump).
        discarded = [v for r in results if r is not best for v in r.loss_curve]
        best.loss_curve = discarded + best.loss_curve
        best.n_iter = len(best.loss_curve)
    return best


def _refined(coarse, refine, run, budget, schedule):
    """Continue a settled per-layer evidence fit with finer penalty groups.

    ARD's per-input penalties re-estimated from the first iterate of a fit
    prune inputs before the network has learnt to use them: on correlated
    inputs all but one or two get penalties orders of magnitude above the
    rest, and the fit underfits (docs/benchmarks.rst).
    Starting them from the settled layer penalty, at the settled weights,
    they only separate what the data distinguish.

    A coarse fit that ends the fit (early stopping, a callback, divergence,
    no iteration left) is returned restated in the refined groups, each
    input's penalty its layer's: the same penalties, so the same weights and
    objective, but described as one penalty per input as the caller asked.
    The fitted model then means one thing whichever stage ended it (one
    penalty per input, ``ard_``), and a continued fit goes on with them.
    """
    problem = refine(0.0)
    layer_of_group = np.empty(problem.n_groups, dtype=int)
    layer_of_group[problem.groups] = problem.layers
    alphas = np.asarray(coarse.alpha, dtype=float)[layer_of_group]
    if budget <= 0 or coarse.status in ("diverged", "stopped"):
        problem.set_alpha(alphas)
        evidence = _safe_evidence(problem, coarse.theta, alphas, [])
        return _result(
            coarse,
            coarse.loss_curve,
            problem,
            alphas,
            evidence,
            coarse.evidence_updates,
        )
    if schedule.in_loop:
        problem.set_alpha(alphas)
        res = run(problem, coarse.theta, budget, coarse.state, alphas)
        fine = _result(
            res, res.loss_curve, problem, res.alpha, res.evidence, res.n_iter
        )
    else:
        start = (coarse.theta, alphas, budget, coarse.state)
        fine = _evidence_loop(refine, run, start, schedule)
    fine.loss_curve = coarse.loss_curve + fine.loss_curve
    fine.n_iter = len(fine.loss_curve)
    fine.evidence_updates += coarse.evidence_updates
    skip_note = coarse.message.find(" The evidence update was skipped")
    if skip_note >= 0:
        fine.message += " With one penalty per layer:" + coarse.message[skip_note:]
    return fine


def _evidence_starts(probe, alpha0, schedule):
    """The per-layer starting penalties, in the order they are tried."""
    if alpha0 is not None:
        return [np.asarray(alpha0, dtype=float)]
    order = EVIDENCE_STARTS[::-1] if schedule.weak_first else EVIDENCE_STARTS
    return [np.full(probe.n_groups, s * probe.weight_sum) for s in order]


def _gcv(problem, evidence):
    """Generalised cross-validation, ``N E_D / (N - gamma)^2`` up to a factor 2."""
    if evidence is None:
        return None
    n_obs = problem.weight_sum * problem.n_outputs
    if n_obs <= evidence.gamma:
        return np.inf
    return n_obs / (evidence.beta * (n_obs - evidence.gamma))


def _result(res, curve, problem, alpha, evidence, updates):
    # res.loss is the objective at res.theta with the problem's penalties.
    return TrainResult(
        res.theta,
        res.loss,
        list(curve),
        len(curve),
        res.status,
        res.message,
        problem,
        alpha,
        res.state,
        _gcv(problem, evidence),
        updates,
        evidence,
    )


def _collapsed(result):
    """Whether a fit explains less than COLLAPSED of the target's variance."""
    if result.status in ("diverged", "stopped"):
        return False
    sse, weight, first, second = result.problem.fit_sums(result.theta)
    sst = float(np.sum(second - first**2 / weight))
    return sst > 0 and sse > (1.0 - COLLAPSED) * sst


def _safe_evidence(problem, theta, alphas, skipped):
    """:func:`evidence_of`, or None (and a reason in ``skipped``) if it fails."""
    try:
        ev = evidence_of(problem, theta, alphas)
    except (np.linalg.LinAlgError, ValueError) as exc:
        skipped.append(f"{type(exc).__name__}: {exc}")
        return None
    if not (np.isfinite([ev.gamma, ev.beta]).all() and np.isfinite(ev.alphas).all()):
        skipped.append("non-finite estimates")
        return None
    return ev


def _settled_message(ev, res):
    message = (
        "The evidence iteration settled: the effective number of parameters "
        f"({ev.gamma:.1f}) and the noise precision changed by less than "
        f"{EVIDENCE_RTOL:g} relatively."
    )
    # A run ending at its budget (iterations or scipy's evaluations) is how a
    # chunk normally ends; anything else is worth saying.
    if res.message and "max_iter" not in res.message:
        message += f" The last solver run stopped: {res.message}"
    return message


def evidence_of(problem, theta, alphas, bias_precision=None):
    """One evidence update of ``problem`` at ``theta``, exactly.

    From the normal equations, or in the residual space when there are fewer
    residuals than parameters (:func:`~._evidence.residual_space_shrinkage`).
    With ``bias_precision`` the biases carry that prior precision: the noise
    precision of a first, flat-prior update sets its share of ``A``, from the
    same linearisation.
    """
    wide = problem.n_samples * problem.n_outputs < problem.n_params
    if wide and not problem.ard:  # the residual space takes one penalty a layer
        space = problem.residual_space(theta)
        data_loss = space.data_loss

        def shrinkage_and_log_det(bias_penalty):
            return residual_space_shrinkage(
                space.weight_kernels,
                space.bias_jacobian,
                problem.layer_penalties(),
                np.bincount(problem.layers),
                bias_penalty,
            )

    else:
        gram, _, data_loss = problem.normal_equations(theta)

        def shrinkage_and_log_det(bias_penalty):
            A = problem.add_penalty(gram)
            A.flat[:: A.shape[0] + 1] += np.where(problem.mask, 0.0, bias_penalty)
            inverse_diag, log_det = inverse_diagonal(A)
            groups, mask = problem.groups, problem.mask
            shrinkage = group_shrinkage(
                inverse_diag, alphas, groups, mask, problem.weight_sum
            )
            return shrinkage, log_det

    shrinkage, log_det = shrinkage_and_log_det(0.0)
    evidence = problem_evidence(
        problem, theta, alphas, None, log_det, data_loss, shrinkage
    )
    if bias_precision is None:
        return evidence
    scale = evidence.beta * problem.weight_sum * problem.n_outputs
    shrinkage, log_det = shrinkage_and_log_det(bias_precision / scale)
    return problem_evidence(
        problem, theta, alphas, None, log_det, data_loss, shrinkage, bias_precision
    )


def _evidence_loop(make_problem, run, start, schedule):
    """Alternate short solver runs with evidence updates of the penalties.

    An update that fails (a factorisation error, non-finite estimates) is
    skipped: the penalties stay for the next run, and the message says so.
    """
    theta, alphas, max_iter, state = start
    curve, budget, previous, updates, ev, skipped = [], max_iter, None, 0, None, []
    while True:
        problem = make_problem(alphas)
        res = run(problem, theta, min(schedule.chunk, budget), state, None)
        theta, state = res.theta, res.state
        curve += res.loss_curve
        budget -= res.n_iter
        if res.status in ("diverged", "stopped"):
            break
        new = _safe_evidence(problem, theta, alphas, skipped)
        if new is not None:
            ev, updates = new, updates + 1
            negligible = problem.penalty_loss(theta) < schedule.negligible
            settled = evidence_settled(previous, ev, negligible)
            previous = ev
            if settled and (
                not schedule.require_converged or res.status in ("converged", "plateau")
            ):
                res.status, res.message = "converged", _settled_message(ev, res)
                break
        if budget <= 0 or updates + len(skipped) >= max_iter:
            res.status = "max_iter"
            res.message = f"Reached max_iter={max_iter} iterations."
            break
        if new is not None:
            alphas = ev.alphas
    if skipped:
        res.message += (
            f" The evidence update was skipped {len(skipped)} time(s) (the first: "
            f"{skipped[0]}); the penalties stayed as they were."
        )
    return _result(res, curve, problem, alphas, ev, updates)


def reweighted(fit, first, residuals_of, sample_weight, loss, outlier_threshold):
    """A robust fit by IRLS (:mod:`._robust`), from the least-squares fit ``first``.

    Parameters
    ----------
    fit : callable
        ``(row_weights, theta0, alpha0, state) -> TrainResult``: the weighted
        least-squares fit with ``sample_weight * row_weights``, continued from
        ``theta0`` and the penalties ``alpha0``.
    first : TrainResult
        The unweighted fit the rounds start from.
    residuals_of : callable
        ``theta -> residuals``, shape (n_samples, n_outputs).
    sample_weight : ndarray of shape (n_samples,)
    loss : {'huber', 'soft_l1', 'cauchy'}
    outlier_threshold : float
        ``epsilon`` of :mod:`._robust`: where the loss starts to discount a
        residual, in robust standard deviations.

    Returns
    -------
    result : TrainResult
        The last round's fit, its loss curve all rounds', with ``robust``
        set. Status ``'max_iter'`` if the weights still moved after
        ``MAX_ROUNDS`` rounds.
    """
    res, curve, updates = first, list(first.loss_curve), first.evidence_updates
    row_weights = np.ones_like(sample_weight)
    for rounds in range(MAX_ROUNDS + 1):
        residuals = residuals_of(res.theta)
        threshold = thresholds(residuals, sample_weight, outlier_threshold)
        z = squared_ratio(residuals, threshold)
        new_weights = irls_weights(z, loss)
        change = float(np.max(np.abs(new_weights - row_weights)))
        if change <= WEIGHT_ATOL or res.status in ("diverged", "stopped"):
            break
        if rounds == MAX_ROUNDS:
            res.status = "max_iter"
            res.message = (
                f"The robust reweighting did not settle in {MAX_ROUNDS} rounds: "
                f"a row's weight still changed by {change:.2g}. The last fit: "
                + res.message
            )
            break
        row_weights = new_weights
        res = fit(row_weights, res.theta, res.alpha, res.state)
        curve += res.loss_curve
        updates += res.evidence_updates
    res.loss_curve, res.n_iter, res.evidence_updates = curve, len(curve), updates
    objective = robust_objective(z, threshold, sample_weight, loss)
    res.robust = RobustFit(row_weights, threshold, objective, rounds)
    return res
