"""Levenberg-Marquardt with Bayesian regularisation, on the normal equations.

The objective (:mod:`._derivatives`) is ``F(theta) = 0.5 r'r + 0.5 theta'
Lambda theta``. At ``theta`` the solver linearises the residuals and forms::

    A = J'J + Lambda,        g = J'r + Lambda theta,

and the damped Gauss-Newton step solves::

    (A + mu D) delta = -g,

``D`` the identity, or the diagonal of ``J'J`` floored at ``1e-6`` times its
largest entry (Marquardt's scaling: ``damping='diagonal'``). The step is
accepted when it lowers ``F`` (or, when its predicted reduction is at the
rounding level of ``F``, when ``F`` does not rise beyond rounding: that last
step is taken and the fit ends); the gain ratio of actual to predicted
reduction,

    rho = (F(theta) - F(theta + delta)) / (-g'delta - 0.5 delta' A delta),

updates the damping as Nielsen (1999) does: after an accepted step
``mu *= max(1/3, 1 - (2 rho - 1)^3)`` and ``nu = 2``; after a rejected one
``mu *= nu`` and ``nu *= 2``. The starting ``mu`` is ``1e-3`` times the
largest diagonal entry of ``J'J``.

Direct steps (``step='direct'``) factorise ``A + mu D`` by Cholesky, ``J'J``
and ``J'r`` accumulated over blocks of rows in a fixed order
(:meth:`~._derivatives.LeastSquaresProblem.normal_equations`). Iterative steps
(``step='cg'``) run preconditioned conjugate gradients on the same system with
products ``J'J v`` from the kernel's JVP and VJP, the Jacobi preconditioner
``diag(A + mu D)``, started from zero, at most ``max_inner`` iterations and
the forcing tolerance ``min(0.5, sqrt(|g|)) |g|`` on the residual norm
(Steihaug's truncation, without a trust region: the damped system is
positive definite). With fewer data residuals ``M`` than parameters,
``step='residual'`` solves the same system exactly through the ``M x M``
matrix ``I + J E^-1 J'`` (``E = Lambda + mu I``; Woodbury's identity, see
:meth:`LevenbergMarquardt._residual_space_step`), a sum of the layers'
kernels ``J_l J_l'`` (no ``M x P`` Jacobian is formed), and the evidence
takes the traces of ``A^-1`` it needs the same way
(:func:`~._evidence.residual_space_shrinkage`).

With ``evidence=True`` the penalties are re-estimated before every step from
the same ``A`` (:mod:`._evidence`; Foresee and Hagan 1997, MATLAB's
``trainbr``): no restarts of the solver, no chunks. Iterative steps have no
factorisation of ``A``; their effective number of parameters uses the
diagonal of ``A`` alone (a Jacobi approximation of ``A^-1``, deterministic
and one pass over the data). The fit has settled when the effective number
of parameters and the noise precision change by less than ``evidence_rtol``
relatively over ``EVIDENCE_PATIENCE`` consecutive steps (or the penalty's
share of ``F`` is negligible, as on noise-free data).

Training also stops when a step changes ``theta`` by less than ``xtol``
relatively, the gradient's largest entry is below ``gtol``, by the plateau
rule (:class:`~._solvers.Plateau`), at ``max_iter`` or when a callback asks.
Everything is deterministic: the result depends only on the inputs.
"""

import math
import time

import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg.lapack import dpotrf, dpotrs

from ._evidence import (
    EVIDENCE_RTOL,
    evidence_settled,
    inverse_diagonal,
    problem_evidence,
    residual_space_shrinkage,
)
from ._solvers import Control, SolverResult, breakdown_message

# The evidence iteration has settled when _evidence.evidence_settled holds
# over this many consecutive steps.
EVIDENCE_PATIENCE = 2
# Damping beyond this (relative to the largest diagonal entry of A) means no
# step lowers F any more: the fit is at a minimum to rounding.
MAX_DAMPING = 1e16
DIAGONAL_FLOOR = 1e-6
MIN_DECREASE = 1.0 / 3.0
# Rejected steps in a row before the fit counts as at its minimum: nu doubles
# each time, so mu has grown by 2**(n (n + 1) / 2) by then.
MAX_REJECTIONS = 40
# The steps to the stationary point after the evidence settles have a budget
# of this many times max_iter of their own: on noisy data they run along
# directions the penalties barely determine, for up to a few hundred steps
# beyond a settling point reached in a few dozen.
MODE_BUDGET = 5
# The last step must lower F by less than this, relatively, for the fit to
# count as settled with the evidence.
STEP_RTOL = 1e-2
# A step whose predicted decrease is below this share of F cannot be judged
# by comparing two values of F (each is rounded at about this level): it is
# taken if F does not rise beyond rounding, and the fit ends there. Without
# it the fit stops one Gauss-Newton correction short, with theta off by
# about sqrt(eps) relatively.
ROUNDING_RTOL = 1e-13


def _usable(ev):
    """Whether an evidence update's estimates are finite, its noise
    precision positive."""
    return (
        math.isfinite(ev.gamma)
        and math.isfinite(ev.beta)
        and ev.beta > 0
        and np.isfinite(ev.alphas).all()
    )


class LevenbergMarquardt:
    """Levenberg-Marquardt on a :class:`~._derivatives.LeastSquaresProblem`.

    ``solve(theta0)`` runs ``setup``, then per iteration ``linearize``,
    ``update_evidence`` (with ``evidence=True``), ``damped_step`` (solve,
    accept or re-damp) and ``check_convergence``; then ``finalize``.

    Parameters
    ----------
    problem : LeastSquaresProblem
        The objective; its penalty is changed in place by the evidence
        updates.
    control : Control, default=None
        Budget (``max_iter`` accepted steps), plateau rule, ``verbose`` and
        the per-iteration ``callback``.
    step : {'direct', 'residual', 'cg'}, default='direct'
        Cholesky of the damped normal equations, of their ``M x M`` form in
        the residual space (for fewer residuals ``M`` than parameters), or
        conjugate gradients.
    damping : {'identity', 'diagonal'}, default='identity'
        The matrix ``D``.
    evidence : bool, default=False
        Re-estimate one penalty per layer before every step.
    alphas : ndarray of shape (n_layers,), default=None
        Starting penalties per layer for ``evidence=True``.
    evidence_rtol : float, default=EVIDENCE_RTOL
        Relative change of the evidence estimates that counts as settled.
    negligible : float, default=0.0
        A penalty contribution to ``F`` below this counts as settled.
    mode_gtol : float, default=None
        Where the evidence iteration settles (with ``evidence=True``) or the
        objective reaches its plateau, hold the penalties and go on until
        the relative gradient ``||g|| / (1 + |F|)`` at the current point is
        at most this, so the fit ends at a stationary point of its final
        penalised objective (or at a minimum to rounding), within
        ``MODE_BUDGET * max_iter`` further steps. None ends the fit
        where the evidence settles or at the plateau. While holding, direct
        steps of a one-hidden-layer network are damped Newton steps: the
        exact Hessian (``J'J`` plus the residuals' curvature,
        :meth:`~._derivatives.LeastSquaresProblem.residual_curvature`)
        replaces ``J'J``, which converges only linearly where the residuals
        do not vanish. Where the exact Hessian is indefinite beyond the
        damping, the step's retries solve with ``J'J`` again.
    xtol, gtol : float
        Step and gradient tolerances.
    max_inner : int, default=20
        Most conjugate-gradient iterations per step.
    gram_dtype : {'float64', 'float32'}, default='float64'
        Precision of the row blocks of ``J'J`` (direct steps).

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        Current parameters.
    loss : float
        ``F(theta)``.
    mu : float
        Current damping.
    iteration : int
        Accepted steps so far.
    gram : ndarray of shape (n_params, n_params) or None
        The last ``J'J`` (direct steps).
    evidence : Evidence or None
        The last evidence update.
    """

    def __init__(
        self,
        problem,
        control=None,
        *,
        step="direct",
        damping="identity",
        evidence=False,
        alphas=None,
        evidence_rtol=EVIDENCE_RTOL,
        negligible=0.0,
        mode_gtol=None,
        xtol=1e-12,
        gtol=1e-12,
        max_inner=20,
        gram_dtype="float64",
    ):
        self.problem = problem
        self.control = Control() if control is None else control
        self.step = step
        self.damping = damping
        self.use_evidence = evidence
        self.alphas = None if alphas is None else np.asarray(alphas, dtype=float)
        self.evidence_rtol = evidence_rtol
        self.negligible = negligible
        self.mode_gtol = mode_gtol
        self.xtol = xtol
        self.gtol = gtol
        self.max_inner = max_inner
        self.gram_dtype = gram_dtype
        if step == "residual" and damping != "identity":
            raise ValueError(
                "step='residual' takes damping='identity' (a damping of one "
                "value per layer keeps J E^-1 J' a sum of layer kernels)."
            )

    # -- the template ---------------------------------------------------------

    def solve(self, theta0):
        """Minimise from ``theta0``; return a :class:`~._solvers.SolverResult`."""
        self.setup(theta0)
        # Overflow and invalid values are detected and handled below (a
        # rejected step, a skipped update, or a stop at the best point), so
        # they must not surface as numpy warnings or errors.
        with np.errstate(all="ignore"):
            while self.status is None:
                if not self.linearize():
                    break
                if self.use_evidence and not self.holding:
                    self.update_evidence()
                if self.holding and self._at_stationary_point():
                    break
                accepted = self.damped_step()
                self.check_convergence(accepted)
        return self.finalize()

    def setup(self, theta0):
        self.start_time = time.perf_counter()
        self.theta = np.array(theta0, dtype=float)
        if self.use_evidence:
            self.problem.set_alpha(self.alphas)
        self.mu, self.nu = None, 2.0
        self.loss = None
        self.iteration, self.nfev = 0, 0
        self.loss_curve = []
        self.plateau = self.control.plateau()
        self.status, self.message = None, ""
        self.evidence = None
        self.stable = 0
        self.gram = None
        self.operator = None
        self.skipped, self.skip_reason = 0, ""
        self.at_rounding = False
        self.holding = False  # the penalties held after the evidence settled
        self.last_iteration = self.control.max_iter
        # The exact Hessian is written for one hidden layer (direct steps).
        self.newton = self.step == "direct" and len(self.problem.layer_sizes) == 3

    def linearize(self):
        """``J'J`` (or the operator), ``J'r`` and the data loss at ``theta``.

        Returns False, having stopped the fit with status ``'diverged'``, when
        they are not finite: no step can be computed from them, and
        ``theta`` (the last accepted point) is the best finite one.
        """
        problem = self.problem
        if self.step == "direct":
            self.gram, self.data_gradient, self.data_loss = problem.normal_equations(
                self.theta, self.gram_dtype
            )
            self.gram_diag = self.gram.diagonal().copy()
            self.gauss_newton = self.gram
            if self.holding and self.newton:
                # Newton on the way to the stationary point: with residuals
                # that do not vanish, Gauss-Newton converges only linearly
                # there, the exact Hessian quadratically. The damping still
                # keeps the system positive definite where it is not.
                self.gram = self.gram + problem.residual_curvature(self.theta)
        elif self.step == "residual":
            self.space = problem.residual_space(self.theta)
            self.data_gradient = self.space.gradient
            self.data_loss = self.space.data_loss
            self.gram_diag = self.space.gram_diagonal
        else:
            if self.operator is None:
                self.operator = problem.operator(self.theta)
            else:  # in place: the records' memory is reused, not allocated anew
                self.operator.update(self.theta)
            self.data_gradient = self.operator.gradient
            self.data_loss = self.operator.data_loss
            self.gram_diag = self.operator.diagonal
        self.nfev += 1
        finite = math.isfinite(self.data_loss) and np.isfinite(self.data_gradient).all()
        # A finite J'J has a finite diagonal: one check of the two.
        if finite and self.gram is not None:
            finite = np.isfinite(self.gram).all()
        elif finite:
            finite = np.isfinite(self.gram_diag).all()
        if not finite:
            self._diverge(
                "the Gauss-Newton matrix or gradient became non-finite at "
                f"iteration {self.iteration}"
            )
        return finite

    def _at_stationary_point(self):
        """Whether the relative gradient at ``theta`` is within ``mode_gtol``
        (the penalties held); if so the fit ends here, converged."""
        loss = self.data_loss + self.problem.penalty_loss(self.theta)
        g = self.data_gradient + self.problem.reg2 * self.theta
        relative = math.sqrt(g @ g) / (1.0 + abs(loss))
        if relative > self.mode_gtol:
            return False
        self.loss, self.gradient = loss, g
        if self.use_evidence:
            self._final_evidence()
        self.status = "converged"
        self.message = (
            f"At a stationary point: relative gradient {relative:.2g} <= "
            f"{self.mode_gtol:g}, with the penalties held where the evidence "
            "iteration settled."
        )
        return True

    def _final_evidence(self):
        """The evidence's figures (effective parameters, noise precision, log
        evidence) at the stationary point, the penalties held: the fit's
        statistics are taken there, not where the iteration settled. An
        update that fails keeps the last one."""
        try:
            ev = self._evidence()
        except (LinAlgError, ValueError):
            return
        if _usable(ev):
            self.evidence = ev

    def _diverge(self, what):
        self.status, self.message = "diverged", breakdown_message(what)

    def update_evidence(self):
        """Re-estimate the per-layer penalties from the current ``A``.

        A factorisation error or non-finite estimates skip this update (the
        penalties stay) and leave a note in the final message.
        """
        problem = self.problem
        try:
            ev = self._evidence()
        except (LinAlgError, ValueError) as exc:
            ev = None
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "non-finite estimates"
        if ev is None or not _usable(ev):
            if not self.skipped:
                self.skip_reason = f"the first at iteration {self.iteration}: {reason}"
            self.skipped += 1
            self.stable = 0
            return
        previous, self.evidence = self.evidence, ev
        if previous is not None:
            negligible = problem.penalty_loss(self.theta) < self.negligible
            settled = evidence_settled(previous, ev, negligible, self.evidence_rtol)
            self.stable = self.stable + 1 if settled else 0
        self.alphas = ev.alphas
        problem.set_alpha(self.alphas)

    def _evidence(self):
        problem = self.problem
        if self.step == "direct":
            # The Gauss-Newton matrix, also where Newton steps add curvature.
            inv_diag, log_det = inverse_diagonal(problem.add_penalty(self.gauss_newton))
        elif self.step == "residual":
            sizes = np.bincount(problem.layers)
            shrinkage, log_det = residual_space_shrinkage(
                self.space.weight_kernels,
                self.space.bias_jacobian,
                problem.layer_penalties(),
                sizes,
            )
            return problem_evidence(
                problem,
                self.theta,
                self.alphas,
                None,
                log_det,
                self.data_loss,
                shrinkage=shrinkage,
            )
        else:
            diag = self.gram_diag + problem.reg2
            inv_diag = 1.0 / np.maximum(diag, 1e-300)
            log_det = float(np.log(np.maximum(diag, 1e-300)).sum())
        return problem_evidence(
            problem, self.theta, self.alphas, inv_diag, log_det, self.data_loss
        )

    def damped_step(self):
        """Solve for a step, re-damping until one lowers ``F``; True if accepted."""
        problem = self.problem
        reg2 = problem.reg2
        self.loss = self.data_loss + problem.penalty_loss(self.theta)
        if not self.loss_curve and self.control.first_iteration == 0:
            self.control.report(0, self.loss)  # the starting point
        g = self.data_gradient + reg2 * self.theta
        self.gradient = g
        scale = max(self.gram_diag.max(), 1e-300)
        if self.mu is None:
            # From the data's curvature, not the penalty's: a huge first
            # penalty (zero starting weights) must not freeze the biases.
            self.mu = 1e-3 * scale
        D = self._damping_matrix()
        self.indefinite = False  # Newton's matrix found indefinite this step
        solved = False  # whether any damping gave a step at all
        rejections = 0
        while True:
            step, curvature = self._solve(g, reg2, D)
            if step is not None:
                solved = True
                trial = self.theta + step
                new_loss = problem.trial_loss(trial)
                predicted = -(g @ step) - 0.5 * curvature
                # A non-finite trial loss fails the comparison: rejected.
                if new_loss < self.loss and predicted > 0:
                    rho = (self.loss - new_loss) / predicted
                    self.mu *= max(MIN_DECREASE, 1.0 - (2.0 * rho - 1.0) ** 3)
                    self.nu = 2.0
                    self._accept(trial, step, new_loss)
                    return True
                if self._at_rounding(predicted, new_loss):
                    self.at_rounding = True
                    self._accept(trial, step, new_loss)
                    return True
            self.mu *= self.nu
            self.nu *= 2.0
            rejections += 1
            # Beyond either bound no damping gives a step that lowers F (the
            # count also ends the loop when the scale itself overflows).
            if (
                self.mu > MAX_DAMPING * (scale + reg2.max())
                or rejections > MAX_REJECTIONS
            ):
                if not solved:
                    self._diverge(
                        "the damped Gauss-Newton system could not be factorised "
                        f"at iteration {self.iteration}"
                    )
                return False

    def _accept(self, trial, step, new_loss):
        self.theta, self.last_step = trial, step
        self.previous_loss, self.loss = self.loss, new_loss

    def _at_rounding(self, predicted, new_loss):
        rounding = ROUNDING_RTOL * self.loss
        return 0 < predicted <= rounding and new_loss <= self.loss + rounding

    def _damping_matrix(self):
        if self.damping == "identity":
            return 1.0
        floor = DIAGONAL_FLOOR * max(self.gram_diag.max(), 1e-300)
        return np.maximum(self.gram_diag, floor)

    def _solve(self, g, reg2, D):
        """The damped step and its curvature ``delta' A delta`` (None if singular)."""
        if self.step == "direct":
            newton = self.gram is not self.gauss_newton and not self.indefinite
            matrix = self.gram if newton else self.gauss_newton
            step, curvature = self._direct_step(matrix, g, reg2, D)
            if step is None and newton:
                # The exact Hessian is indefinite beyond this damping. Damped
                # until it outweighs the most negative curvature, the step
                # would shrink along every flat direction as well: this
                # step's retries take the Gauss-Newton matrix, positive
                # semi-definite, at the raised damping instead (the gain ratio
                # judges them by their own model).
                self.indefinite = True
            return step, curvature
        if self.step == "residual":
            return self._residual_space_step(g, reg2, D)
        return self._conjugate_gradients(g, reg2, D)

    def _direct_step(self, matrix, g, reg2, D):
        """Cholesky of ``matrix + Lambda + mu D`` (None if not positive definite)."""
        M = matrix.copy()
        # The diagonal as a view of the (C-ordered) copy: cheaper than .flat.
        diagonal = M.reshape(-1)[:: M.shape[0] + 1]
        diagonal += reg2 + self.mu * D
        # LAPACK directly: scipy.linalg's wrappers cost more than the
        # factorisation of a small network's matrix.
        try:
            factor, info = dpotrf(M, lower=1, overwrite_a=1, clean=0)
            if info == 0:
                step, info = dpotrs(factor, g, lower=1)
        except (LinAlgError, ValueError):  # a failed factorisation: re-damp
            return None, None
        if info != 0 or not np.isfinite(step).all():
            return None, None
        step = -step
        # delta'(A + mu D) delta = -g'delta exactly, to rounding. (With
        # D the identity, step * D is step itself: no product needed.)
        identity = self.damping == "identity"
        damped = step @ step if identity else (step * D) @ step
        return step, -(g @ step) - self.mu * damped

    def _residual_space_step(self, g, reg2, D):
        """The damped step from an ``M x M`` system (Woodbury's identity).

        With ``E = Lambda + mu I`` and ``g = J'r + Lambda theta``, the
        push-through identity ``(J'J + E)^-1 J' = E^-1 J' (I + J E^-1 J')^-1``
        gives::

            delta = -E^-1 (J'y + Lambda theta),
            y = (I + J E^-1 J')^-1 (r - J E^-1 Lambda theta),

        with no difference of large terms (``E^-1 Lambda`` is at most one).
        ``E`` is one number on each layer's weights and ``mu`` on the biases,
        so ``J E^-1 J'`` is a sum of the kernels ``J_l J_l'``.
        """
        space, mu = self.space, self.mu
        inner = space.bias_kernel / mu
        for kernel, penalty in zip(
            space.weight_kernels, self.problem.layer_penalties()
        ):
            inner += kernel / (penalty + mu)
        inner.flat[:: inner.shape[0] + 1] += 1.0
        E = reg2 + mu
        try:
            factor, info = dpotrf(inner, lower=1, overwrite_a=1, clean=0)
            if info == 0:
                rhs = space.residuals - space.jvp(reg2 * self.theta / E)
                y, info = dpotrs(factor, rhs, lower=1)
        except (LinAlgError, ValueError):
            return None, None
        if info != 0 or not np.isfinite(y).all():
            return None, None
        step = -(space.vjp(y) + reg2 * self.theta) / E
        return step, -(g @ step) - mu * (step @ step)

    def _conjugate_gradients(self, g, reg2, D):
        """Preconditioned CG on ``(J'J + Lambda + mu D) delta = -g``."""
        operator, mu = self.operator, self.mu

        def apply(v):
            return operator.gram_matvec(v) + (reg2 + mu * D) * v

        precond = 1.0 / np.maximum(self.gram_diag + reg2 + mu * D, 1e-300)
        g_norm = float(np.linalg.norm(g))
        tolerance = min(0.5, math.sqrt(g_norm)) * g_norm
        # From zero: a warm start from the last step (for another
        # linearisation) costs a product and measured no better.
        x, residual = np.zeros_like(g), -g.copy()
        z = precond * residual
        direction = z.copy()
        rz = residual @ z
        for _ in range(self.max_inner):
            if math.sqrt(residual @ residual) <= tolerance:
                break
            Ad = apply(direction)
            curvature = direction @ Ad
            if not curvature > 0:
                break
            step_size = rz / curvature
            x = x + step_size * direction
            residual = residual - step_size * Ad
            z = precond * residual
            rz, rz_old = residual @ z, rz
            direction = z + (rz / rz_old) * direction
        if not np.isfinite(x).all():
            return None, None
        # (A + mu D) x = -g - residual: the curvature needs no product.
        return x, x @ (-g - residual) - mu * (x * D) @ x

    def check_convergence(self, accepted):
        if self.status == "diverged":
            return
        if not accepted:
            self.status = "converged"
            self.message = (
                "No step lowers the objective any further: the fit is at a "
                "minimum to rounding."
            )
            return
        self.iteration += 1
        self.loss_curve.append(self.loss)
        control = self.control
        control.report(self.iteration, self.loss)
        stop = control.stop_message(self.theta, self.loss)
        if stop:
            self.status, self.message = "stopped", stop
            return
        step_norm = math.sqrt(self.last_step @ self.last_step)
        small_step = self.previous_loss - self.loss <= STEP_RTOL * self.loss
        settled = self.use_evidence and self.stable >= EVIDENCE_PATIENCE and small_step
        if settled and self.mode_gtol is not None:
            if not self.holding:
                self._hold()  # on to the stationary point at these penalties
            settled = False
        if settled:
            self.status = "converged"
            self.message = (
                "The evidence iteration settled: the effective number of parameters "
                f"({self.evidence.gamma:.1f}) and the noise precision changed by "
                f"less than {self.evidence_rtol:g} relatively."
            )
        elif self.at_rounding:
            self.status = "converged"
            self.message = (
                "The last step's predicted decrease of the objective was at its "
                "rounding level: the fit is at a minimum to rounding."
            )
        elif step_norm <= self.xtol * (self.xtol + math.sqrt(self.theta @ self.theta)):
            self.status = "converged"
            self.message = f"The step was below xtol={self.xtol:g} relatively."
        elif max(self.gradient.max(), -self.gradient.min()) <= self.gtol:
            self.status = "converged"
            self.message = f"The gradient was below gtol={self.gtol:g}."
        elif not self.holding and self.plateau.update(self.loss):
            if self.mode_gtol is not None:
                # Slow progress is no stationary point: hold the penalties
                # and go on to one.
                self._hold()
            else:
                self.status, self.message = "plateau", self.plateau.message()
        if self.status is None and self.iteration >= self.last_iteration:
            self.status = "max_iter"
            self.message = f"Reached max_iter={control.max_iter} iterations"
            if self.holding:
                self.message += " towards the stationary point"
            self.message += "."

    def _hold(self):
        """Hold the penalties and go on to the stationary point, with a
        budget of ``MODE_BUDGET * max_iter`` steps of its own."""
        self.holding = True
        self.last_iteration = self.iteration + MODE_BUDGET * self.control.max_iter

    def finalize(self):
        # self.loss is F at theta with the penalties in use: no pass needed
        # (unless the fit stopped before its first step).
        loss = getattr(self, "loss", None)
        if loss is None:
            with np.errstate(all="ignore"):
                loss = self.problem.loss(self.theta)
        message = self.message
        if self.skipped:
            message += (
                f" The evidence update was skipped {self.skipped} time(s) "
                f"({self.skip_reason}); the penalties stayed as they were."
            )
        return SolverResult(
            theta=self.theta,
            loss=loss,
            n_iter=self.iteration,
            loss_curve=self.loss_curve,
            status=self.status,
            message=message,
            nfev=self.nfev,
            seconds=time.perf_counter() - self.start_time,
            alpha=self.alphas if self.use_evidence else None,
            evidence=self.evidence,
        )
