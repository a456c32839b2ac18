"""Optimisers: a scipy ``least_squares`` driver and an adam loop.

Each takes a starting ``theta`` and plain callables and returns a
:class:`SolverResult`; nothing here knows about scikit-learn or the network.
The package's own Levenberg-Marquardt is :mod:`._lm`.

Both stop early by the same plateau rule as scikit-learn's MLP: training ends
once the objective has failed to improve on its best value by more than
``tol * loss_scale`` for ``n_iter_no_change`` consecutive iterations, where
``loss_scale`` is the objective of predicting the weighted mean (so ``tol`` is
relative to the variance of the target, whatever its units).
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse.linalg import LinearOperator


@dataclass
class SolverResult:
    """What a solver returns.

    ``status`` is one of ``'converged'`` (the solver's own tolerances were
    met), ``'plateau'`` (the plateau rule stopped it), ``'stopped'`` (the
    callback asked to stop), ``'max_iter'`` or ``'diverged'`` (a non-finite or
    exploding objective; ``theta`` is then the best finite point seen).
    ``state`` is adam's ``(m, v, t)`` to continue from; ``alpha`` and
    ``evidence`` the per-layer penalties and the last
    :class:`~._evidence.Evidence` of a fit that re-estimated them.
    """

    theta: np.ndarray
    loss: float
    n_iter: int
    loss_curve: list = field(default_factory=list)
    status: str = "converged"
    message: str = ""
    nfev: int = 0
    seconds: float = 0.0
    state: tuple = None
    alpha: object = None
    evidence: object = None

    @property
    def converged(self):
        return self.status in ("converged", "plateau", "stopped")


class _Stop(Exception):
    """Raised inside a scipy callable to end ``least_squares`` early."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class Plateau:
    """The plateau rule; ``update`` returns True when training should stop."""

    def __init__(self, tol, loss_scale, n_iter_no_change):
        self.threshold = tol * loss_scale
        self.n_iter_no_change = n_iter_no_change
        self.best = np.inf
        self.count = 0

    def update(self, loss):
        if loss > self.best - self.threshold:
            self.count += 1
        else:
            self.count = 0
        self.best = min(self.best, loss)
        return self.count >= self.n_iter_no_change

    def message(self):
        return (
            f"The objective improved by less than tol * loss_scale = "
            f"{self.threshold:.3g} for {self.n_iter_no_change} consecutive iterations."
        )


def report(verbose, it, loss):
    if verbose and (it % max(int(verbose), 1) == 0):
        print(f"Iteration {it}, loss = {loss:.8g}")


def fit_least_squares(
    residuals,
    jacobian,
    theta0,
    *,
    method="trf",
    tr_solver="exact",
    lsmr_maxiter=20,
    max_iter=200,
    tol=1e-6,
    n_iter_no_change=10,
    loss_scale=1.0,
    verbose=0,
    first_iteration=0,
    callback=None,
):
    """Minimise ``0.5 * ||residuals(theta)||^2`` with scipy's ``least_squares``.

    ``tr_solver='exact'`` (an SVD of a dense Jacobian every iteration) or
    ``'lsmr'`` (at most ``lsmr_maxiter`` lsmr iterations a step), for a dense
    ``jacobian`` or one returning a ``LinearOperator``
    (:func:`jacobian_operator`).

    scipy asks for ``jacobian`` at the start and once per accepted step: one
    iteration is one accepted step, and ``loss_curve`` holds the objective
    after each. ``max_iter`` bounds the iterations, and ``2 * max_iter + 1``
    the residual evaluations. ``callback(theta, loss)`` is called after every
    iteration; a truthy return (a message) stops the fit with status
    ``'stopped'``. ``verbose`` numbers the iterations from
    ``first_iteration``, for a run that continues another.
    """
    start = time.perf_counter()
    plateau = Plateau(tol, loss_scale, n_iter_no_change)
    curve, state = [], {"theta": np.array(theta0, dtype=float), "loss": np.inf}

    def fun(theta):
        r = residuals(theta)
        if not np.all(np.isfinite(r)):
            # trf and dogbox treat a non-finite cost as a rejected step.
            return np.full_like(r, np.inf) if curve else r
        return r

    def jac(theta):
        r = residuals(theta)
        loss = 0.5 * float(r @ r)
        curve.append(loss)
        state["last"] = theta
        if loss < state["loss"]:
            state["theta"], state["loss"] = np.array(theta, copy=True), loss
        # A continuation's starting point ended the run before it.
        if first_iteration == 0 or len(curve) > 1:
            report(verbose, first_iteration + len(curve) - 1, loss)
        if len(curve) > 1 and callback is not None:
            stop = callback(theta, loss)
            if stop:
                raise _Stop("stopped", str(stop))
        stop = None
        if plateau.update(loss):
            stop = _Stop("plateau", plateau.message())
        elif len(curve) > max_iter:
            stop = _Stop("max_iter", f"Reached max_iter={max_iter} iterations.")
        if stop is not None:
            raise stop
        return jacobian(theta)

    status, message = "converged", ""
    options = {"tr_solver": tr_solver}
    if tr_solver == "lsmr":
        options["tr_options"] = {"maxiter": lsmr_maxiter}
    try:
        res = least_squares(
            fun,
            theta0,
            jac=jac,
            method=method,
            max_nfev=2 * max_iter + 1,
            ftol=1e-12,
            xtol=1e-12,
            gtol=1e-10,
            x_scale=1.0,
            **options,
        )
    except _Stop as stop:
        status, message = stop.status, stop.message
        nfev = None
    else:
        message, nfev = res.message, res.nfev
        if res.status == 0:
            status = "max_iter"
        elif res.status < 0:
            status = "diverged"
        # scipy may stop at an accepted point whose Jacobian it never asked for.
        r = residuals(res.x)
        loss = 0.5 * float(r @ r)
        if not np.array_equal(res.x, state.get("last")) and np.isfinite(loss):
            curve.append(loss)
            if callback is not None:
                callback(res.x, loss)
            if loss <= state["loss"]:
                state["theta"], state["loss"] = np.array(res.x, copy=True), loss
    # curve[0] is the starting point; every later entry is one iteration.
    return SolverResult(
        theta=state["theta"],
        loss=state["loss"],
        n_iter=len(curve) - 1,
        loss_curve=curve[1:],
        status=status,
        message=message,
        nfev=nfev if nfev is not None else len(curve),
        seconds=time.perf_counter() - start,
    )


def fit_adam(
    value_and_grad,
    loss,
    theta0,
    n_samples,
    *,
    rng,
    learning_rate=1e-3,
    batch_size=None,
    shuffle=True,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    max_iter=200,
    tol=1e-6,
    n_iter_no_change=10,
    loss_scale=1.0,
    divergence_factor=1e3,
    unstable_factor=2.0,
    verbose=0,
    first_iteration=0,
    callback=None,
    state=None,
):
    """Adam (Kingma and Ba, 2015) over minibatches; one iteration is one epoch.

    ``value_and_grad(theta, idx)`` returns an unbiased estimate of the whole
    objective and its gradient from the rows ``idx`` (``None`` for all rows);
    ``loss(theta)`` is the objective on all rows.
    The epoch's loss is the mean of its batch estimates, as in scikit-learn's
    MLP. A non-finite loss, or one ``divergence_factor`` times the first, ends
    the fit with the best parameters seen; so does a last epoch whose loss is
    ``unstable_factor`` times the best. ``callback(theta, loss)`` is called
    after every epoch; a truthy return (a message) stops with status
    ``'stopped'``. ``state``, adam's ``(m, v, t)`` from an earlier result,
    continues that run.
    """
    start = time.perf_counter()
    theta = np.array(theta0, dtype=float)
    if state is None:
        m, v, t = np.zeros_like(theta), np.zeros_like(theta), 0
    else:
        m, v, t = state[0].copy(), state[1].copy(), state[2]
    batch = n_samples if batch_size is None else min(batch_size, n_samples)
    plateau = Plateau(tol, loss_scale, n_iter_no_change)
    curve, best_theta, best_loss = [], theta.copy(), np.inf
    status, message = "max_iter", f"Reached max_iter={max_iter} iterations."
    order = np.arange(n_samples)
    for epoch in range(max_iter):
        if batch < n_samples and shuffle:
            order = rng.permutation(n_samples)
        # theta is only ever rebound, never written in place, so holding a
        # reference keeps the epoch's starting point without a copy.
        epoch_loss, epoch_start = 0.0, theta
        for begin in range(0, n_samples, batch):
            idx = None if batch == n_samples else order[begin : begin + batch]
            batch_loss, g = value_and_grad(theta, idx)
            weight = (n_samples if idx is None else len(idx)) / n_samples
            epoch_loss += weight * batch_loss
            t += 1
            # In place, the moments skip two allocations per step; the
            # arithmetic, and so every bit of the result, is unchanged.
            m *= beta_1
            m += (1 - beta_1) * g
            v *= beta_2
            v += (1 - beta_2) * g**2
            lr = learning_rate * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
            theta = theta - lr * m / (np.sqrt(v) + epsilon)
        if (
            not math.isfinite(epoch_loss)
            or not np.isfinite(theta).all()
            or (curve and epoch_loss > divergence_factor * max(curve[0], loss_scale))
        ):
            status = "diverged"
            message = (
                f"The objective diverged at iteration {epoch + 1} (loss "
                f"{epoch_loss:.3g}); learning_rate={learning_rate!r} is probably too "
                "large. The best parameters seen were kept."
            )
            break
        curve.append(epoch_loss)
        report(verbose, first_iteration + epoch, epoch_loss)
        if epoch_loss < best_loss:
            # With one batch the loss belongs to the parameters before the step.
            best_loss = epoch_loss
            best_theta = epoch_start if batch == n_samples else theta.copy()
        stop = callback(theta, epoch_loss) if callback is not None else None
        if stop:
            status, message = "stopped", str(stop)
            break
        if plateau.update(epoch_loss):
            status, message = "plateau", plateau.message()
            break
    if status != "diverged" and curve and curve[-1] > unstable_factor * best_loss:
        # Oscillating or climbing at the end: a too large step, not a fit.
        status = "diverged"
        message = (
            f"The objective rose from its best {best_loss:.3g} to {curve[-1]:.3g}; "
            f"learning_rate={learning_rate!r} is probably too large. The best "
            "parameters seen were kept."
        )
    if status == "diverged":
        theta = best_theta
    return SolverResult(
        theta=theta,
        loss=float(loss(theta)),
        n_iter=len(curve),
        loss_curve=curve,
        status=status,
        message=message,
        nfev=t,
        seconds=time.perf_counter() - start,
        state=(m, v, t),
    )


def jacobian_operator(problem, theta):
    """The residual Jacobian of ``problem`` at ``theta`` as a ``LinearOperator``.

    Data rows from the kernel's matrix-free products
    (:class:`~._derivatives.JacobianOperator`), then the diagonal penalty rows:
    for scipy's lsmr steps on data too large for a dense Jacobian.
    """
    data = problem.operator(theta)
    n_data, P = data.shape
    cols = np.flatnonzero(problem.mask) if problem.n_reg else np.arange(0)
    scale = np.sqrt(problem.reg2[cols])

    def matvec(v):
        v = np.ravel(v)
        return np.concatenate([data.matvec(v), scale * v[cols]])

    def rmatvec(u):
        u = np.ravel(u)
        out = data.rmatvec(u[:n_data])
        out[cols] += scale * u[n_data:]
        return out

    return LinearOperator(
        (n_data + cols.size, P), matvec=matvec, rmatvec=rmatvec, dtype=float
    )
