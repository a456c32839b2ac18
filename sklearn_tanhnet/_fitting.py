"""The fitting layer: runs a plan on the data and returns one typed result.

:func:`fit_committee` is what the estimator calls: from the inputs as given
and a :class:`FitRequest` it builds the data of each width
(:mod:`._data`), plans and trains the committee and returns a
:class:`CommitteeFit`, which the estimator stores.

:func:`fit_networks` trains the committee. It takes the data of each width
(:class:`~._data.FitData`), their plans (:class:`~._plan.FitPlan`) and the
estimator's settings (:class:`FitSettings`), and for each network (a width
and a start) builds the problems and solver runs itself: initial weights,
the evidence schedule and the staged ARD (:func:`~._training.train`), early
stopping (:class:`~._training.ValidationMonitor`), the robust reweighting
rounds (:func:`~._training.reweighted`). It scores the networks, keeps the
committee's members (all, or the best: ``combine``), computes their
statistics and returns a :class:`FitResult`, which the estimator stores.
What reaches the solvers from the estimator travels as data or as the
small :class:`StartReporter`, never as a method of the estimator.
"""

import functools
import warnings
from dataclasses import dataclass, fields, replace

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning

from ._data import fit_plan, in_memory_candidates, partitioned_candidates
from ._derivatives import LeastSquaresProblem
from ._distributed import PartitionedProblem, is_dask_collection
from ._evidence import BIAS_PRECISION, model_log_evidence
from ._lm import LevenbergMarquardt
from ._network import fold_scaling, init_params, pack, unpack, zero_output_layer
from ._robust import noise_consistency
from ._solvers import Adam, Control, fit_adam, fit_least_squares, jacobian_operator
from ._threads import one_blas_thread
from ._training import (
    EvidenceSchedule,
    ValidationMonitor,
    evidence_of,
    reweighted,
    train,
)
from ._uncertainty import (
    STATIONARY_GTOL,
    DeferredStatistics,
    fit_statistics,
    neighbour_explained_share,
    residual_statistics,
)

# A fit whose training residuals a nearest-neighbour smoother predicts, by
# at least this share of the target's variance, has missed structure the
# network could fit: it warns of a poor local minimum. On noise the share is
# below zero. The check runs on at most LACK_OF_FIT_ROWS evenly spaced
# training rows (its cost grows with their square) and needs
# LACK_OF_FIT_MIN_ROWS for ten neighbours to average noise away.
POOR_FIT_SHARE = 0.01
LACK_OF_FIT_ROWS = 250
LACK_OF_FIT_MIN_ROWS = 50

# The LM solver's step for the plan's step and whether it is in the residual
# space (fewer data residuals than parameters).
_LM_STEPS = {
    ("exact", False): "direct",
    ("exact", True): "residual",
    ("cg", False): "cg",
}


@dataclass(frozen=True)
class FitSettings:
    """The estimator's parameters the fitting layer reads (see
    :class:`~sklearn_tanhnet.TanhNetRegressor` for each)."""

    solver: str
    activation: object
    alpha: object
    loss: str
    outlier_threshold: float
    max_iter: int
    tol: float
    n_iter_no_change: object
    verbose: int
    batch_size: object
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    shuffle: bool
    n_jobs: object
    n_starts: int
    combine: str
    run_to_mode: bool

    @classmethod
    def from_params(cls, params, committee, combine):
        """The settings among ``params`` (``get_params(deep=False)``), with
        ``n_starts`` and ``run_to_mode`` as the committee's
        :class:`~._plan.CommitteePlan` decided them and ``combine`` as the
        estimator resolved it."""
        resolved = {
            "n_starts": committee.n_starts,
            "run_to_mode": committee.run_to_mode,
            "combine": combine,
        }
        return cls(
            **{f.name: resolved.get(f.name, params[f.name]) for f in fields(cls)}
        )


@dataclass(frozen=True)
class Member:
    """One network of the committee, as predictions and continued fits need it.

    Attributes
    ----------
    sizes : tuple of int
        Its layer sizes, inputs to outputs.
    theta : ndarray
        Its parameters (standardised units).
    state : tuple or None
        adam's moment estimates.
    alpha : float or ndarray
        Its penalties.
    ard : bool
        Whether it took one penalty per input.
    statistics : FitStatistics, ResidualStatistics, DeferredStatistics or str
        Its delta-method statistics, or why there are none.
    """

    sizes: tuple
    theta: np.ndarray
    state: object
    alpha: object
    ard: bool
    statistics: object


@dataclass
class FitResult:
    """What a fit computed: the chosen network and everything stored with it.

    Attributes
    ----------
    theta : ndarray
        The chosen start's parameters (standardised units).
    loss : float
        Its training objective.
    loss_curve : list of float
        Its objective per iteration.
    n_iter : int
        Its iterations.
    status, message : str
        How it ended, and why.
    alpha : float or ndarray
        Its penalties.
    state : tuple or None
        adam's moment estimates.
    log_evidence : float or None
        Its model's log evidence.
    robust : RobustFit or None
        What the robust reweighting added.
    validation_curve : list of float or None
        The held-out loss per iteration (None without early stopping).
    best_validation_loss : float or None
        The lowest of them.
    members : list of Member
        The committee's networks: all for ``combine='mixture'``, else the
        chosen one.
    kept : int
        The chosen network's index in ``members``.
    width : int
        The index of the chosen network's width among the candidates.
    records : list of dict
        Every network's record.
    lack_of_fit : float or None
        :func:`lack_of_fit` of the chosen network.
    step : str
        The plan's step.
    """

    theta: np.ndarray
    loss: float
    loss_curve: list
    n_iter: int
    status: str
    message: str
    alpha: object
    state: object
    log_evidence: object
    robust: object
    validation_curve: object
    best_validation_loss: object
    members: list
    kept: int
    width: int
    records: list
    lack_of_fit: object
    step: str


@dataclass(frozen=True)
class FitRequest:
    """What the estimator asks of a fit, beside the data.

    Attributes
    ----------
    params : dict
        The estimator's parameters (``get_params(deep=False)``).
    n_starts : int or 'auto'
    combine : str
        ``n_starts`` and ``combine`` with the deprecated ``n_restarts`` and
        ``ensemble`` translated.
    partial : bool
        A ``partial_fit`` call.
    fitted : list of Fitted or None
        The members a continued fit (warm_start, partial_fit) goes on from.
    name : str
        The estimator's class, as messages about the inputs name it.
    """

    params: dict
    n_starts: object
    combine: str
    partial: bool
    fitted: object = None
    name: str = "TanhNetRegressor"


@dataclass(frozen=True, eq=False)
class CommitteeFit:
    """A finished fit: its :class:`FitResult`, the representative network's
    :class:`~._data.FitData`, the committee's :class:`~._plan.CommitteePlan`
    and the :class:`~._data.InputNames` of X."""

    result: FitResult
    data: object
    committee: object
    inputs: object


def fit_committee(X, y, sample_weight, validation, request, callbacks):
    """Validate the inputs, plan the committee and train it.

    ``X``, ``y`` and ``sample_weight`` are as the estimator's ``fit`` got
    them (Dask collections are fitted where they lie), ``validation`` is
    ``(X_val, y_val, sample_weight_val)``, ``callbacks`` the fit's
    :class:`Callbacks`. Returns a :class:`CommitteeFit`; nothing of the
    estimator changes here.
    """
    params = request.params
    if is_dask_collection(X):
        candidates, committee, inputs = partitioned_candidates(
            X, y, sample_weight, validation, params, request.partial, request.n_starts
        )
    else:
        candidates, committee, inputs = in_memory_candidates(
            X,
            y,
            sample_weight,
            validation,
            params,
            request.n_starts,
            request.partial,
            request.fitted,
            request.name,
        )
    settings = FitSettings.from_params(params, committee, request.combine)
    plans = [fit_plan(data, params) for data in candidates]
    callbacks.begin(X, y)
    result = fit_networks(candidates, plans, settings, callbacks)
    return CommitteeFit(result, candidates[result.width], committee, inputs)


def fit_networks(candidates, plans, settings, callbacks=None):
    """Train the committee: every width's starts, scored, combined.

    Parameters
    ----------
    candidates : list of FitData
        The data of each width (one for a single width; a continued fit
        has one per fitted member).
    plans : list of FitPlan
        Their plans.
    settings : FitSettings
    callbacks : Callbacks, default=None
        scikit-learn's callback context of the fit.

    Returns
    -------
    result : FitResult
        The representative network's (the member of best score: largest
        log evidence, or lowest validation loss or robust objective) and
        the members: all of them for ``combine='mixture'``, else the
        representative alone.
    """
    tasks = []  # (width index, random stream) of each network to train
    for index, data in enumerate(candidates):
        continued = data.warm or data.partial
        tasks += [
            (index, rng)
            for rng in _streams(data.rng, 1 if continued else settings.n_starts)
        ]
    results = run_starts(candidates, plans, settings, callbacks, tasks)
    best = min(results, key=lambda res: res.extra["score"])
    data = candidates[best.extra["width"]]
    if callbacks is not None:
        callbacks.end(callbacks.root, best.theta, data)
    lack_of_fit = None if data.partial else _lack_of_fit(best, data)
    if data.few_observations:
        # A collapse there is the evidence's, already warned of: not a
        # poor local minimum that restarts would mend.
        lack_of_fit = None
    _warn_outcome(best, data.partial, lack_of_fit, settings)
    _warn_members_outcome(best, results, data.partial, settings)
    mixture = settings.combine == "mixture" or data.warm or data.partial
    members = [best]
    if mixture:
        # A network that diverged kept its start: it has no say (unless
        # every one did, when the best stands alone, warned of).
        members = [res for res in results if res.status != "diverged"] or [best]
    _check_representable(members, data)
    for res in results:
        kept = any(res is member for member in members)
        res.extra["record"]["weight"] = 1 / len(members) if kept else 0.0
    monitor = best.extra["monitor"]
    return FitResult(
        theta=best.theta,
        loss=best.loss,
        loss_curve=best.loss_curve,
        n_iter=best.n_iter,
        status=best.status,
        message=best.message,
        alpha=best.alpha,
        state=best.state,
        log_evidence=best.extra["log_evidence"],
        robust=best.robust,
        validation_curve=None if monitor is None else monitor.curve,
        best_validation_loss=None if monitor is None else monitor.best_loss,
        members=[_member(res, candidates, plans, settings) for res in members],
        kept=next(i for i, res in enumerate(members) if res is best),
        width=best.extra["width"],
        records=[res.extra["record"] for res in results],
        lack_of_fit=lack_of_fit,
        step=plans[best.extra["width"]].step,
    )


def _member(res, candidates, plans, settings):
    """The :class:`Member` of one trained network of the committee."""
    data, plan = candidates[res.extra["width"]], plans[res.extra["width"]]
    return Member(
        sizes=tuple(data.sizes),
        theta=res.theta,
        state=res.state,
        alpha=res.alpha,
        ard=data.ard,
        statistics=_planned_statistics(res, plan, settings),
    )


def _streams(rng, n_starts):
    """The random streams of a width's starts: the first is ``rng`` itself,
    the others are seeded from it first, so a start does not depend on
    which ran before it."""
    streams = [rng]
    if n_starts > 1:
        seeds = rng.randint(np.iinfo(np.int32).max, size=n_starts - 1)
        streams += [np.random.RandomState(seed) for seed in seeds]
    return streams


def run_starts(candidates, plans, settings, callbacks, tasks):
    """Every ``(width index, stream)`` task, serially or with ``n_jobs``
    processes: the same bits either way (each start owns its stream)."""
    if settings.n_jobs in (None, 1) or len(tasks) == 1:
        results = [
            run_start(candidates[w], plans[w], settings, callbacks, rng)
            for w, rng in tasks
        ]
    else:
        # Processes, not threads: each fit limits BLAS threads process-wide.
        # Callbacks and verbose reports of the workers do not reach here.
        results = Parallel(n_jobs=settings.n_jobs)(
            delayed(run_start)(candidates[w], plans[w], settings, None, rng)
            for w, rng in tasks
        )
    for (w, _), res in zip(tasks, results):
        res.extra["width"] = w
        res.extra["record"]["hidden_layer_sizes"] = tuple(candidates[w].sizes[1:-1])
    return results


def run_start(data, plan, settings, callbacks, rng):
    """One start from the stream ``rng``: initial weights, the solver under
    training control, its score and record (a TrainResult, ``extra`` set)."""
    data = replace(data, rng=rng)
    sizes = data.sizes
    theta0 = (
        data.warm_theta
        if data.warm
        else pack(init_params(sizes, data.rng, settings.activation))
    )
    if data.constant_target and not data.warm:
        theta0 = zero_output_layer(theta0, sizes)
    monitor = None
    if data.val is not None:
        val_problem = LeastSquaresProblem(*data.val, 0.0, sizes, settings.activation)
        monitor = ValidationMonitor(
            val_problem, settings.tol, settings.n_iter_no_change, data.loss_scale
        )
    start_ctx = None if callbacks is None else callbacks.task(callbacks.root, "restart")
    start = Start(
        data, plan, settings, StartReporter.of(callbacks, start_ctx, monitor, data)
    )
    # A fresh ARD fit settles with one penalty per layer first (train's
    # `refine`); a continued one goes on with the fitted ARD penalties.
    staged_ard = data.ard and data.alpha0 is None
    # One BLAS thread (see _threads) also where a start runs on its own,
    # in a joblib worker. The solvers handle non-finite values themselves.
    with one_blas_thread(), np.errstate(all="ignore"):
        res = train(
            Problems(data, settings.activation, data.ard and not staged_ard),
            start.run,
            theta0,
            alpha=data.alpha,
            max_iter=1 if data.partial else settings.max_iter,
            alpha0=data.alpha0,
            state=data.warm_state,
            schedule=evidence_schedule(plan, data, settings),
            refine=Problems(data, settings.activation, True) if staged_ard else None,
        )
        if settings.loss != "squared_error" and not data.partial:
            res = reweighted(
                start.fit_reweighted,
                res,
                Residuals(res.problem, data.Ys),
                data.sample_weight,
                settings.loss,
                settings.outlier_threshold,
            )
    if not data.partial:
        _keep_the_start_if_better(res, theta0, data, settings)
    return _finish_start(res, monitor, plan, data, settings, (callbacks, start_ctx))


class Problems:
    """``alpha -> LeastSquaresProblem`` of the fit's data: what
    :func:`~._training.train` builds its problems with.

    In memory, with ``sample_weight`` (the data's by default); on Dask
    partitions, a :class:`~._distributed.PartitionedProblem`.
    """

    def __init__(self, data, activation, ard, sample_weight=None):
        self.data, self.activation, self.ard = data, activation, ard
        if sample_weight is None:
            sample_weight = data.sample_weight
        self.sample_weight = sample_weight

    def __call__(self, alpha):
        data = self.data
        if data.partitions is not None:
            client, parts = data.partitions.client, data.partitions.parts
            return PartitionedProblem(
                client, parts, alpha, data.sizes, self.activation, self.ard
            )
        return LeastSquaresProblem(
            data.Xs,
            data.Ys,
            self.sample_weight,
            alpha,
            data.sizes,
            self.activation,
            self.ard,
        )


class Residuals:
    """``theta -> residuals`` of ``problem``'s network on the targets ``Y``."""

    def __init__(self, problem, Y):
        self.problem, self.Y = problem, Y

    def __call__(self, theta):
        return self.problem.output(theta) - self.Y


class Start:
    """One start's solver runs: what :func:`~._training.train` and
    :func:`~._training.reweighted` run, counting the start's iterations (for
    verbose)."""

    def __init__(self, data, plan, settings, reporter):
        self.data, self.plan, self.settings = data, plan, settings
        self.reporter = reporter
        self.done = 0

    def run(self, problem, theta, max_iter, state, alphas):
        """``(problem, theta0, max_iter, state, alphas) -> SolverResult``."""
        res = run_solver(
            problem,
            theta,
            self.data,
            self.plan,
            self.settings,
            (max_iter, self.reporter, state, alphas, self.done),
        )
        self.done += res.n_iter
        return res

    def fit_reweighted(self, row_weights, theta, alpha0, state):
        """The weighted least-squares fit of a robust round."""
        data = self.data
        problems = Problems(
            data, self.settings.activation, data.ard, data.sample_weight * row_weights
        )
        return train(
            problems,
            self.run,
            theta,
            alpha=data.alpha,
            max_iter=self.settings.max_iter,
            alpha0=alpha0,
            state=state,
            schedule=evidence_schedule(self.plan, data, self.settings),
        )


def statistics_of(problem, theta, gram_dtype, noise=None, residual=False):
    """The delta-method statistics, or why there are none (a string).

    ``residual``: in the residual space (:func:`~._uncertainty.residual_statistics`).
    """
    try:
        with one_blas_thread(), np.errstate(all="ignore"):
            if residual:
                statistics = residual_statistics(problem, theta, noise=noise)
                arrays = statistics.arrays()
            else:
                statistics = fit_statistics(
                    problem, theta, gram_dtype=gram_dtype, noise=noise
                )
                arrays = (statistics.covariance,)
    except ValueError as exc:  # no residual degrees of freedom
        return str(exc)
    except np.linalg.LinAlgError as exc:
        return f"the parameter covariance could not be computed ({exc})."
    finite = np.isfinite(statistics.noise_variance).all()
    if not (finite and all(np.isfinite(a).all() for a in arrays)):
        return "the parameter covariance is not finite at this fit."
    return statistics


def _check_representable(results, data):
    """A ValueError unless every kept network's weights, in the original
    units of X and y and in the fitted dtype, are finite: X's and y's scales
    can be too far apart for them (a slope of 1e300 / 1e-300)."""
    for res in results:
        record = res.extra["record"]
        with np.errstate(over="ignore"):
            weights = [
                A.astype(data.dtype) for A in [*record["coefs"], *record["intercepts"]]
            ]
        if not all(np.isfinite(A).all() for A in weights):
            x_scale, y_scale = data.scaling[1], data.scaling[3]
            raise ValueError(
                f"The fitted weights overflow {np.dtype(data.dtype).name} in the "
                f"original units of X and y (X's scale down to {x_scale.min():.3g}, "
                f"y's up to {y_scale.max():.3g}). Rescale X or y"
                + (", or pass X as float64." if data.dtype == np.float32 else ".")
            )


def _lack_of_fit(best, data):
    """The fit's :func:`~._uncertainty.neighbour_explained_share`, or None.

    None where there is nothing to check: a fit that did not settle (it
    stopped early, diverged or ran out of iterations, and says so), no
    hidden layer (a convex fit has no poor minimum), sparse X (whose
    distances mean little) or too few rows.
    """
    X = data.Xs
    settled = best.status in ("converged", "plateau")
    if not settled or len(data.sizes) == 2 or not isinstance(X, np.ndarray):
        return None
    # Under a robust loss the outliers' residuals are meant to stay: they
    # count with their robust weights.
    weights = data.sample_weight
    if best.robust is not None:
        weights = weights * best.robust.row_weights
    rows = np.flatnonzero(weights > 0)
    if rows.size < LACK_OF_FIT_MIN_ROWS:
        return None
    if rows.size > LACK_OF_FIT_ROWS:
        rows = rows[np.linspace(0, rows.size - 1, LACK_OF_FIT_ROWS).round().astype(int)]
    X, Y = X[rows], data.Ys[rows]
    with np.errstate(all="ignore"):
        residuals = best.problem.network.output(best.theta, X) - Y
        # Distances in standard units also when the fit's are not (standardize=False).
        spread = X.std(axis=0)
        X = (X - X.mean(axis=0))[:, spread > 0] / spread[spread > 0]
        share = neighbour_explained_share(X, Y, residuals, weights[rows])
    return share if share is not None and np.isfinite(share) else None


def _poor_fit_message(lack_of_fit):
    return (
        "The fit may have settled in a poor local minimum: a nearest-neighbour "
        "smoother of its training residuals recovers "
        f"{lack_of_fit:.1%} of the target's variance, structure the network "
        "missed. Try n_starts=5 (more random starts), another random_state, "
        "or more hidden units."
    )


def run_solver(problem, theta0, data, plan, settings, run):
    """Run the planned solver from ``theta0``; return its SolverResult.

    ``run`` is ``(max_iter, reporter, state, alphas, first)``: the budget,
    the per-iteration :class:`StartReporter` (or None), adam's moments,
    the starting penalties the solver re-estimates itself (or None) and the
    number of the run's first iteration.
    """
    max_iter, reporter, state, alphas, first = run
    control = Control(
        max_iter=max_iter,
        tol=settings.tol,
        n_iter_no_change=settings.n_iter_no_change,
        loss_scale=data.loss_scale,
        verbose=settings.verbose,
        first_iteration=first,
        callback=reporter,
    )
    if plan.method == "lm":
        return LevenbergMarquardt(
            problem,
            control,
            step=_LM_STEPS[plan.step, plan.residual_space],
            evidence=alphas is not None,
            alphas=alphas,
            negligible=settings.tol * data.loss_scale,
            mode_gtol=_mode_gtol(problem, data, settings),
            max_inner=plan.max_inner,
            gram_dtype=plan.gram_dtype,
        ).solve(theta0)
    if plan.solver == "least_squares":
        jac = problem.jacobian
        if plan.matrix_free:
            jac = functools.partial(jacobian_operator, problem)
        return fit_least_squares(
            problem.residuals,
            jac,
            theta0,
            control,
            method=plan.method,
            tr_solver=plan.step,
            lsmr_maxiter=plan.max_inner,
        )
    batch = settings.batch_size
    batch = min(200, len(data.Xs)) if batch == "auto" else batch
    adam = Adam(
        settings.learning_rate,
        settings.beta_1,
        settings.beta_2,
        settings.epsilon,
        state,
    )
    return fit_adam(
        problem.value_and_grad,
        problem.loss,
        theta0,
        len(data.Xs),
        control,
        rng=data.rng,
        adam=adam,
        batch_size=batch,
        shuffle=settings.shuffle,
    )


def _mode_gtol(problem, data, settings):
    """With ``run_to_mode``: the relative gradient a network ends at
    (:data:`~._uncertainty.STATIONARY_GTOL`, what ``diagnose`` calls a
    stationary point), in the fit's last stage only (a staged ARD fit's
    per-layer stage is a start for the next, not a result)."""
    last_stage = bool(getattr(problem, "ard", False)) == bool(data.ard)
    return STATIONARY_GTOL if settings.run_to_mode and last_stage else None


def evidence_schedule(plan, data, settings):
    """How ``alpha='auto'`` re-estimates the penalties around the solver."""
    negligible = settings.tol * data.loss_scale
    if settings.solver == "adam":
        # adam moves too little in a few epochs for the evidence to judge
        # it: update the penalties after runs long enough to reach a plateau.
        return EvidenceSchedule(
            in_loop=False,
            # (n_iter_no_change=np.inf: one run of max_iter epochs.)
            chunk=int(min(2 * settings.n_iter_no_change + 10, settings.max_iter)),
            require_converged=True,
            weak_first=True,
            negligible=negligible,
        )
    return EvidenceSchedule(in_loop=plan.method == "lm", negligible=negligible)


def _keep_the_start_if_better(res, theta0, data, settings):
    """A fit whose training objective ends above its start's made the
    network worse: whatever rule stopped it (a plateau, the budget), it
    is reported as diverged, with the parameters it started from.

    Both objectives are taken with the fit's final penalties. A slack of
    the plateau rule's threshold (``tol`` times the mean prediction's
    objective) lets a continued fit that ends at the noise level of its
    minimum pass.
    """
    if res.status == "diverged":
        return
    with np.errstate(all="ignore"):
        start = float(res.problem.loss(theta0))
    if not res.loss > start + settings.tol * data.loss_scale:
        return
    advice = "a lower learning_rate" if settings.solver == "adam" else "a larger alpha"
    res.status = "diverged"
    res.message = (
        f"The training objective ended at {res.loss:.3g}, above its value "
        f"at the start ({start:.3g}): the fit made the network worse. Try "
        f"{advice}, standardize=True or another random_state. The "
        "parameters it started from were kept."
    )
    res.theta, res.loss = np.array(theta0, dtype=float), start


def _finish_start(res, monitor, plan, data, settings, context):
    """The start's score (for choosing among restarts) and its record.

    ``context`` is ``(callbacks, start_ctx)``, scikit-learn's callback
    context of the fit and of this start.
    """
    sizes, score = data.sizes, None
    if res.status == "diverged" and monitor is not None:
        # The solver kept the parameters of lowest training objective, the
        # start included; the monitor's best may be an exploded iterate
        # that happens to suit a few held-out rows.
        score = monitor.problem.loss(res.theta)
    elif monitor is not None and monitor.best_theta is not None:
        res.theta = monitor.best_theta
        res.loss = res.problem.loss(res.theta)
        score = monitor.best_loss
    # Under a robust loss the evidence is that of the reweighted Gaussian
    # model, whose weights differ between starts: they compete by the
    # robust objective instead.
    log_evidence = None
    if not res.robust:
        log_evidence = _model_log_evidence(res, plan, settings, data.width_evidence)
    if score is None and res.robust:
        score = res.robust.objective
    if score is None:
        # Restarts compete by the evidence of their models (MacKay).
        score = res.gcv if res.gcv is not None else res.loss
        if log_evidence is not None:
            score = -log_evidence
    callbacks, start_ctx = context
    if callbacks is not None:
        callbacks.end(start_ctx, res.theta, data)
    params = fold_scaling(unpack(res.theta, sizes), *data.scaling)
    record = {
        "loss": res.loss,
        "validation_loss": None if monitor is None else monitor.best_loss,
        "gcv": res.gcv,
        "log_evidence": log_evidence,
        "n_iter": res.n_iter,
        "status": res.status,
        "coefs": [W for W, _ in params],
        "intercepts": [b for _, b in params],
    }
    res.extra = {
        "score": score,
        "monitor": monitor,
        "record": record,
        "log_evidence": log_evidence,
    }
    return res


def _model_log_evidence(res, plan, settings, fixed_alpha=False):
    """The model's log evidence at the fitted parameters, or None.

    The solver's last update came before its last step: where exact
    updates are affordable (not conjugate-gradient steps, whose evidence
    is a Jacobi approximation) it is taken again at the fitted ``theta``.
    With ``fixed_alpha``, a fit at a float ``alpha`` gets the evidence at
    that penalty (without the penalties' Occam factors: they were not
    estimated).
    """
    estimated = res.evidence is not None and res.alpha is not None
    if not (estimated or (fixed_alpha and not isinstance(settings.alpha, str))):
        return None
    evidence = res.evidence
    if not estimated or (plan.step != "cg" and not plan.matrix_free):
        try:
            with (
                one_blas_thread(),
                np.errstate(all="ignore"),
            ):
                alphas = np.broadcast_to(res.alpha, res.problem.n_groups)
                evidence = evidence_of(
                    res.problem,
                    res.theta,
                    np.asarray(alphas, dtype=float),
                    BIAS_PRECISION,
                )
        except (np.linalg.LinAlgError, ValueError):
            pass  # the solver's own last update stands
    if evidence is None:
        return None
    hidden = tuple(res.problem.layer_sizes[1:-1])
    value = model_log_evidence(
        evidence, hidden, settings.activation, estimated_penalties=estimated
    )
    return value if np.isfinite(value) else None


def _warn_outcome(best, partial, lack_of_fit, settings):
    if lack_of_fit is not None and lack_of_fit >= POOR_FIT_SHARE:
        warnings.warn(_poor_fit_message(lack_of_fit), ConvergenceWarning)
    if best.status == "max_iter" and best.robust is not None:
        warnings.warn(best.message, ConvergenceWarning)
    elif best.status == "max_iter" and not partial:
        warnings.warn(
            f"{settings.solver} stopped at max_iter={settings.max_iter} before "
            "converging. Increase max_iter, raise tol, or scale the data "
            "(standardize=True).",
            ConvergenceWarning,
        )
    elif best.status == "diverged":
        warnings.warn(best.message, ConvergenceWarning)


def _warn_members_outcome(best, results, partial, settings):
    """A ConvergenceWarning for the committee's other networks that ran out
    of iterations or diverged (the representative's own outcome is warned
    of by :func:`_warn_outcome`)."""
    others = [res for res in results if res is not best]
    if partial or not others:
        return
    counts = {
        status: sum(res.status == status for res in others)
        for status in ("max_iter", "diverged")
    }
    if counts["max_iter"] and best.status != "max_iter":
        what = "the relative gradient" if settings.run_to_mode else "converging"
        warnings.warn(
            f"{counts['max_iter']} of the committee's {len(results)} networks "
            f"stopped at max_iter={settings.max_iter} before {what}. Increase "
            "max_iter (members_ records each network's status).",
            ConvergenceWarning,
        )
    if counts["diverged"]:
        warnings.warn(
            f"{counts['diverged']} of the committee's {len(results)} networks "
            "diverged and have no weight in its predictions (members_ records "
            "why). Try a larger alpha or a lower learning_rate.",
            ConvergenceWarning,
        )


def _planned_statistics(res, plan, settings):
    """The start's delta-method statistics, deferred, or why there are none."""
    if not plan.statistics:
        return plan.reason
    residual = plan.residual_statistics
    if isinstance(res.problem, PartitionedProblem):  # no data to keep here
        return statistics_of(res.problem, res.theta, plan.gram_dtype, residual=residual)
    noise = None
    if res.robust is not None:
        consistency = noise_consistency(settings.loss, settings.outlier_threshold)
        noise = (res.robust.row_weights, consistency)
    statistics = DeferredStatistics(
        res.problem, res.theta, plan.gram_dtype, noise, residual
    )
    if plan.defer_statistics:
        return statistics
    return statistics.resolve(statistics_of)


# -- scikit-learn callbacks -------------------------------------------------------


class Callbacks:
    """scikit-learn's callback context of one fit (``sklearn.callback``).

    ``estimator`` is the object the callbacks observe (scikit-learn's
    callback API passes it to them); nothing here calls its fitting.
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.root = None

    def begin(self, X, y):
        """Begin the fit's task on its inputs (with scikit-learn's callback API)."""
        estimator = self.estimator
        if hasattr(estimator, "_init_callback_context"):
            self.root = estimator._init_callback_context(max_subtasks=None)
            self.root.call_on_fit_task_begin(estimator=estimator, X=X, y=y)

    @property
    def listening(self):
        """Whether any callback is set: per-iteration tasks cost otherwise."""
        return bool(getattr(self.estimator, "_skl_callbacks", None))

    def task(self, ctx, name, max_subtasks=None):
        """A subtask of ``ctx``, begun (None if ``ctx`` is)."""
        if ctx is None:
            return None
        sub = ctx.subcontext(task_name=name, max_subtasks=max_subtasks)
        sub.call_on_fit_task_begin(estimator=self.estimator)
        return sub

    def end(self, ctx, theta, data):
        """End the task ``ctx`` at ``theta``; whether a callback asks to stop."""
        if ctx is None:
            return False
        return ctx.call_on_fit_task_end(
            estimator=self.estimator,
            X=data.X,
            y=data.y,
            reconstruction_attributes=Reconstruction(theta, data),
        )


class Reconstruction:
    """The fitted attributes a network ``theta`` would have, for callbacks."""

    def __init__(self, theta, data):
        self.theta, self.data = theta, data

    def __call__(self):
        data = self.data
        params = fold_scaling(unpack(self.theta, data.sizes), *data.scaling)
        return {
            "coefs_": [W for W, _ in params],
            "intercepts_": [b for _, b in params],
            "n_outputs_": data.sizes[-1],
            "_y_1d": data.y_1d,
        }


class StartReporter:
    """What a start's solvers call after every iteration (``Control.callback``):
    ``reporter(theta, loss)`` returns a message to stop, or None.

    It asks the validation monitor (early stopping) and scikit-learn's
    per-iteration callbacks.
    """

    def __init__(self, monitor, callbacks, ctx, data):
        self.monitor, self.callbacks, self.ctx, self.data = (
            monitor,
            callbacks,
            ctx,
            data,
        )

    @classmethod
    def of(cls, callbacks, ctx, monitor, data):
        """The reporter of a start, or None when nothing listens."""
        if callbacks is None or not callbacks.listening:
            ctx = None  # no callback to call: no per-iteration task to report
        if ctx is None and monitor is None:
            return None
        return cls(monitor, callbacks, ctx, data)

    def __call__(self, theta, loss):
        monitor = self.monitor
        message = monitor(theta, loss) if monitor is not None else None
        if self.ctx is not None:
            it = self.callbacks.task(self.ctx, "iteration", 0)
            theta = np.array(theta, copy=True)
            if self.callbacks.end(it, theta, self.data):
                message = message or "Stopped by a callback."
        return message
