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


@dataclass
class Control:
    """What every solver shares: its budget, the plateau rule and reporting.

    Attributes
    ----------
    max_iter : int
        Most iterations.
    tol, n_iter_no_change, loss_scale
        The plateau rule (:class:`Plateau`).
    verbose : int
        Print the loss every ``verbose`` iterations.
    first_iteration : int
        Number of the first iteration, for a run that continues another.
    callback : callable or None
        ``callback(theta, loss)`` after every iteration; a truthy return (a
        message) stops the run with status ``'stopped'``.
    """

    max_iter: int = 200
    tol: float = 1e-6
    n_iter_no_change: int = 10
    loss_scale: float = 1.0
    verbose: int = 0
    first_iteration: int = 0
    callback: object = None

    def plateau(self):
        return Plateau(self.tol, self.loss_scale, self.n_iter_no_change)

    def report(self, iteration, loss):
        """Print iteration ``first_iteration + iteration`` when verbose asks."""
        it = self.first_iteration + iteration
        if self.verbose and (it % max(int(self.verbose), 1) == 0):
            print(f"Iteration {it}, loss = {loss:.8g}")

    def stop_message(self, theta, loss):
        """The callback's request to stop, as a message, or None."""
        stop = self.callback(theta, loss) if self.callback is not None else None
        return str(stop) if stop else None


def breakdown_message(what):
    """The message of a fit stopped by numerical breakdown: what to try."""
    return (
        f"The fit broke down numerically: {what}. The best finite parameters "
        "were kept. Try a stronger alpha (or alpha='auto'), fewer hidden "
        "units, standardize=True, or n_starts > 1."
    )


class _ScipyRun:
    """The callables scipy's ``least_squares`` calls, and what they record.

    scipy asks for the Jacobian at the start and once per accepted step: one
    iteration is one accepted step, so the loss curve, reporting, the callback
    and the stopping rules run there, ending the run with :class:`_Stop`.
    """

    def __init__(self, residuals, jacobian, theta0, control):
        self.residuals, self.jacobian, self.control = residuals, jacobian, control
        self.plateau = control.plateau()
        self.curve, self.last = [], None
        self.best_theta, self.best_loss = np.array(theta0, dtype=float), np.inf

    def fun(self, theta):
        r = self.residuals(theta)
        if not np.all(np.isfinite(r)):
            # trf and dogbox treat a non-finite cost as a rejected step.
            return np.full_like(r, np.inf) if self.curve else r
        return r

    def record(self, theta, loss):
        self.curve.append(loss)
        if loss <= self.best_loss:
            self.best_theta, self.best_loss = np.array(theta, copy=True), loss

    def jac(self, theta):
        control = self.control
        r = self.residuals(theta)
        loss = 0.5 * float(r @ r)
        self.record(theta, loss)
        self.last = theta
        n_iter = len(self.curve) - 1
        # A continuation's starting point ended the run before it.
        if control.first_iteration == 0 or n_iter:
            control.report(n_iter, loss)
        message = control.stop_message(theta, loss) if n_iter else None
        if message:
            raise _Stop("stopped", message)
        if self.plateau.update(loss):
            raise _Stop("plateau", self.plateau.message())
        if n_iter >= control.max_iter:
            raise _Stop("max_iter", f"Reached max_iter={control.max_iter} iterations.")
        J = self.jacobian(theta)
        if isinstance(J, np.ndarray) and not np.isfinite(J).all():
            what = f"the Jacobian became non-finite at iteration {n_iter}"
            raise _Stop("diverged", breakdown_message(what))
        return J

    def finish(self, x):
        """Record the point scipy stopped at when it never asked its Jacobian."""
        r = self.residuals(x)
        loss = 0.5 * float(r @ r)
        if not np.array_equal(x, self.last) and np.isfinite(loss):
            self.record(x, loss)
            self.control.stop_message(x, loss)


def fit_least_squares(
    residuals,
    jacobian,
    theta0,
    control=None,
    *,
    method="trf",
    tr_solver="exact",
    lsmr_maxiter=20,
):
    """Minimise ``0.5 * ||residuals(theta)||^2`` with scipy's ``least_squares``.

    ``tr_solver='exact'`` (an SVD of a dense Jacobian every iteration) or
    ``'lsmr'`` (at most ``lsmr_maxiter`` lsmr iterations a step), for a dense
    ``jacobian`` or one returning a ``LinearOperator``
    (:func:`jacobian_operator`). ``control.max_iter`` bounds the iterations
    (accepted steps), and ``2 * max_iter + 1`` the residual evaluations.
    """
    control = Control() if control is None else control
    start = time.perf_counter()
    run = _ScipyRun(residuals, jacobian, theta0, control)
    options = {"tr_solver": tr_solver}
    if tr_solver == "lsmr":
        options["tr_options"] = {"maxiter": lsmr_maxiter}
    status, message, nfev = "converged", "", None
    try:
        with np.errstate(all="ignore"):  # non-finite values are handled here
            res = least_squares(
                run.fun,
                theta0,
                jac=run.jac,
                method=method,
                max_nfev=2 * control.max_iter + 1,
                ftol=1e-12,
                xtol=1e-12,
                gtol=1e-10,
                x_scale=1.0,
                **options,
            )
    except _Stop as stop:
        status, message = stop.status, stop.message
    except (np.linalg.LinAlgError, ValueError) as exc:
        # scipy's factorisations (an SVD, a least-squares solve) gave up.
        status = "diverged"
        message = breakdown_message(f"scipy raised {type(exc).__name__}: {exc}")
    else:
        message, nfev = res.message, res.nfev
        status = {0: "max_iter"}.get(
            res.status, "diverged" if res.status < 0 else status
        )
        run.finish(res.x)
    # curve[0] is the starting point; every later entry is one iteration.
    return SolverResult(
        theta=run.best_theta,
        loss=run.best_loss,
        n_iter=len(run.curve) - 1,
        loss_curve=run.curve[1:],
        status=status,
        message=message,
        nfev=nfev if nfev is not None else len(run.curve),
        seconds=time.perf_counter() - start,
    )


@dataclass
class Adam:
    """Adam's hyperparameters and moments (Kingma and Ba, 2015)."""

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    state: tuple = None

    def start(self, theta):
        if self.state is None:
            return np.zeros_like(theta), np.zeros_like(theta), 0
        m, v, t = self.state
        return m.copy(), v.copy(), t

    def step(self, theta, g, moments):
        """One update; ``moments`` ``[m, v, t]`` change in place."""
        m, v, t = moments
        t += 1
        # In place, the moments skip two allocations per step; the
        # arithmetic, and so every bit of the result, is unchanged.
        m *= self.beta_1
        m += (1 - self.beta_1) * g
        v *= self.beta_2
        v += (1 - self.beta_2) * g**2
        lr = self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        moments[2] = t
        return theta - lr * m / (np.sqrt(v) + self.epsilon)


def _adam_epoch(value_and_grad, theta, order, batch, adam, moments):
    """One pass over the rows in ``order``; the new theta and the epoch's loss.

    The epoch's loss is the mean of its batch estimates, as in scikit-learn's
    MLP.
    """
    n_samples, epoch_loss = len(order), 0.0
    for begin in range(0, n_samples, batch):
        idx = None if batch == n_samples else order[begin : begin + batch]
        batch_loss, g = value_and_grad(theta, idx)
        weight = (n_samples if idx is None else len(idx)) / n_samples
        epoch_loss += weight * batch_loss
        theta = adam.step(theta, g, moments)
    return theta, epoch_loss


def _diverged_message(adam, epoch, loss, best=None):
    what = (
        f"diverged at iteration {epoch + 1} (loss {loss:.3g})"
        if best is None
        else f"rose from its best {best:.3g} to {loss:.3g}"
    )
    return (
        f"The objective {what}; learning_rate={adam.learning_rate!r} is probably "
        "too large. The parameters of lowest training objective seen (the "
        "start included) were kept."
    )


def _no_worse_than_the_start(loss, best_theta, start_theta):
    """A diverged adam run's parameters and objective: the best epoch's, or
    the start's if those are worse.

    An epoch's loss is the mean over its minibatches, not the objective at
    its end: the best by that label can be the end of an exploding epoch.
    """
    final_loss, start_loss = float(loss(best_theta)), float(loss(start_theta))
    if not final_loss <= start_loss and math.isfinite(start_loss):
        return start_theta, start_loss
    return best_theta, final_loss


def fit_adam(
    value_and_grad,
    loss,
    theta0,
    n_samples,
    control=None,
    *,
    rng,
    adam=None,
    batch_size=None,
    shuffle=True,
    divergence_factor=1e3,
    unstable_factor=2.0,
):
    """Adam over minibatches; one iteration is one epoch.

    ``value_and_grad(theta, idx)`` returns an unbiased estimate of the whole
    objective and its gradient from the rows ``idx`` (``None`` for all rows);
    ``loss(theta)`` is the objective on all rows. A non-finite loss, or one
    ``divergence_factor`` times the first, ends the fit with the best
    parameters seen; so does a last epoch whose loss is ``unstable_factor``
    times the best. ``adam.state`` (``(m, v, t)``) continues an earlier run.
    """
    control = Control() if control is None else control
    adam = Adam() if adam is None else adam
    start = time.perf_counter()
    theta = np.array(theta0, dtype=float)
    moments = list(adam.start(theta))
    batch = n_samples if batch_size is None else min(batch_size, n_samples)
    plateau = control.plateau()
    start_theta = theta.copy()
    curve, best_theta, best_loss = [], start_theta, np.inf
    status, message = "max_iter", f"Reached max_iter={control.max_iter} iterations."
    order = np.arange(n_samples)
    for epoch in range(control.max_iter):
        if batch < n_samples and shuffle:
            order = rng.permutation(n_samples)
        # theta is only ever rebound, never written in place, so holding a
        # reference keeps the epoch's starting point without a copy.
        epoch_start = theta
        theta, epoch_loss = _adam_epoch(
            value_and_grad, theta, order, batch, adam, moments
        )
        limit = divergence_factor * max(curve[0], control.loss_scale) if curve else None
        if not (math.isfinite(epoch_loss) and np.isfinite(theta).all()) or (
            limit is not None and epoch_loss > limit
        ):
            status, message = "diverged", _diverged_message(adam, epoch, epoch_loss)
            break
        curve.append(epoch_loss)
        control.report(epoch, epoch_loss)
        if epoch_loss < best_loss:
            # With one batch the loss belongs to the parameters before the step.
            best_loss = epoch_loss
            best_theta = epoch_start if batch == n_samples else theta.copy()
        stop = control.stop_message(theta, epoch_loss)
        if stop:
            status, message = "stopped", stop
            break
        if plateau.update(epoch_loss):
            status, message = "plateau", plateau.message()
            break
    if status != "diverged" and curve and curve[-1] > unstable_factor * best_loss:
        # Oscillating or climbing at the end: a too large step, not a fit.
        status = "diverged"
        message = _diverged_message(adam, len(curve) - 1, curve[-1], best_loss)
    final_loss = None
    if status == "diverged":
        theta, final_loss = _no_worse_than_the_start(loss, best_theta, start_theta)
    return SolverResult(
        theta=theta,
        loss=float(loss(theta)) if final_loss is None else final_loss,
        n_iter=len(curve),
        loss_curve=curve,
        status=status,
        message=message,
        nfev=moments[2],
        seconds=time.perf_counter() - start,
        state=tuple(moments),
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
