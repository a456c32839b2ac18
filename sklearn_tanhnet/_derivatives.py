"""The penalised least-squares problem of one network and data set.

The fitting objective for data ``(X, Y)`` with sample weights ``w`` (sum ``S``),
``K`` outputs and L2 penalties ``alpha`` on the weights (not the biases) is::

    F(theta) = (sum_i w_i ||f(x_i) - y_i||^2 / K + sum_j alpha_j theta_j^2) / (2 S)

so an integer weight equals repeating a row. With the data residuals
``r_ik = c_i (f_ik - y_ik)``, ``c_i = sqrt(w_i / (S K))``, and the diagonal
``Lambda = alpha / S`` (zero on the biases)::

    F = 0.5 r'r + 0.5 theta' Lambda theta,   g = J'r + Lambda theta,
    H_GN = J'J + Lambda,

with ``J`` the Jacobian of ``r``. The Gauss-Newton normal equations ``J'J``
and ``J'r`` are sums over rows: :meth:`LeastSquaresProblem.normal_equations`
accumulates them over fixed blocks of rows, in a fixed order, so memory is
``O(P^2 + block * P)`` at any number of rows and the sums do not depend on
anything but the data and ``theta``. :meth:`LeastSquaresProblem.operator`
gives the products ``J v`` and ``J' u`` block by block without a dense
Jacobian. Every number here comes from the numpy kernel of
:mod:`._network`; autograd's generic network is used only for the exact
Hessian (:meth:`LeastSquaresProblem.hessian`) and as the tests' reference.
"""

from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian

from ._network import Network, forward, unpack, weight_groups, weight_mask
from ._plan import BLOCK_BYTES, DIAGONAL_BLOCKS, PASS_BYTES

# The row sums that fix a fit's units (the weight sum and the
# standardisation's moments) run over blocks of this many rows, added in
# order. A Dask array whose chunks are multiples of it gives its partitions'
# blocks, added in the same order, the same bits (:mod:`._distributed`).
SUM_ROWS = 10_000


def row_block_parts(rows_value, n_rows, block_rows=None):
    """``rows_value(rows)`` for each block of ``block_rows`` rows, in order."""
    step = block_rows or SUM_ROWS
    return [
        rows_value(slice(start, min(start + step, n_rows)))
        for start in range(0, max(n_rows, 1), step)
    ]


def added_in_order(parts):
    """``parts[0] + parts[1] + ...``, left to right; tuples term by term.

    ``parts`` may be an iterator (a Dask fit's partitions' results as they
    arrive): the total and one part are held at a time.
    """
    total = None
    for part in parts:
        if total is None:
            total = part
        elif isinstance(total, tuple):
            total = tuple(a + b for a, b in zip(total, part, strict=True))
        else:
            total = total + part
    return total


# A column's values are known to half a unit in the last place (ulp), and
# ulp(x) <= eps |x|: in units of the column's largest magnitude, values that
# differ by rounding alone (one quantity computed in different ways, a few
# ulps apart) have a spread of at most a few eps. A spread up to
# CONSTANT_SPREAD is such rounding and the column constant; beyond it float64
# resolves different values, however large the column's offset, and they are
# fitted.
CONSTANT_SPREAD = 4 * np.finfo(float).eps


def standard_moments(power_sum, total):
    """Weighted mean and standard deviation of columns scaled to at most 1.

    The one rule of the in-memory, sparse and Dask standardisations.
    ``power_sum(centre, p)`` is ``sum_i w_i (B_i - centre) ** p`` over the
    rows of the scaled columns ``B`` (``total = sum_i w_i``). The spread is
    taken about the mean, after the mean itself is refined by the sum of the
    values centred on its first estimate: an offset far beyond the spread
    (``1e14 + x``) rounds that first estimate by more than the spread, and
    the centred values do not carry the offset. A constant column comes out
    with a spread of exactly zero.

    Returns
    -------
    mean, std : ndarray of shape (n_columns,)
    constant : ndarray of bool
        The columns whose spread is at most ``CONSTANT_SPREAD``.
    """
    mean = power_sum(0.0, 1) / total
    mean = mean + power_sum(mean, 1) / total
    std = np.sqrt(power_sum(mean, 2) / total)
    return mean, std, ~(std > CONSTANT_SPREAD)


def mean_prediction_loss(Y, sample_weight):
    """The objective of predicting the weighted mean: the scale of ``tol``.

    Half the weighted variance of the targets, averaged over the outputs
    (0.5 for standardised data).
    """
    total = sample_weight.sum()
    mean = (sample_weight @ Y) / total
    return 0.5 * float(sample_weight @ np.mean((Y - mean) ** 2, axis=1) / total)


@dataclass
class ResidualSpace:
    """A linearisation of the data rows for steps in the residual space.

    Attributes
    ----------
    linearization : Linearization
        The kernel's record of all data rows (JVP ``J v``, VJP ``J'y``).
    row_scale : ndarray of shape (n_samples,)
        ``c_i``: ``J`` is ``c_i`` times the output's derivative.
    residuals : ndarray of shape (M,)
        ``r``, ordered as ``output.ravel()``.
    data_loss : float
        ``0.5 r'r``.
    gradient : ndarray of shape (n_params,)
        ``J'r``.
    gram_diagonal : ndarray of shape (n_params,)
        The diagonal of ``J'J``.
    weight_kernels : list of ndarray of shape (M, M)
        ``J_l J_l'`` of each layer's weights.
    bias_kernel : ndarray of shape (M, M)
        ``J_u J_u'`` of all biases.
    bias_jacobian : ndarray of shape (M, n_biases)
        ``J_u``.
    """

    linearization: object
    row_scale: np.ndarray
    residuals: np.ndarray
    data_loss: float
    gradient: np.ndarray
    gram_diagonal: np.ndarray
    weight_kernels: list
    bias_kernel: np.ndarray
    bias_jacobian: np.ndarray

    def jvp(self, v):
        """``J v``, shape (M,)."""
        return (self.linearization.jvp(v) * self.row_scale[:, None]).ravel()

    def vjp(self, y):
        """``J'y`` for ``y`` of shape (M,)."""
        Y = y.reshape(self.linearization.output.shape)
        return self.linearization.vjp(Y * self.row_scale[:, None])


class LeastSquaresProblem:
    """The weighted, penalised least-squares objective of one network and data set.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Inputs, already scaled.
    Y : ndarray of shape (n_samples, n_outputs)
        Targets, already scaled.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    alpha : float or ndarray of shape (n_groups,) or (n_weights,)
        L2 penalty on the weights: one for all, one per group (per layer,
        or with ``ard`` per input feature on the first layer, see
        :func:`~._network.weight_groups`), or one per weight (in the order
        of ``theta[weight_mask(layer_sizes)]``).
    layer_sizes : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``.
    activation : str or callable
        Hidden-layer activation.
    ard : bool, default=False
        Group the first layer's weights by input feature.
    weight_sum : float, default=None
        The weight sum that normalises the objective, when these rows are a
        part of the data (a partition of a Dask array); by default theirs.
    """

    def __init__(
        self,
        X,
        Y,
        sample_weight,
        alpha,
        layer_sizes,
        activation="tanh",
        ard=False,
        weight_sum=None,
    ):
        self.X = X
        self.Y = Y
        self.network = Network(layer_sizes, activation)
        self.layer_sizes = self.network.layer_sizes
        self.activation = activation
        self.n_samples, self.n_outputs = Y.shape
        self.n_params = self.network.n_params
        self.sample_weight = sample_weight
        if weight_sum is None:
            parts = row_block_parts(lambda rows: np.sum(sample_weight[rows]), len(Y))
            weight_sum = added_in_order(parts)
        self.weight_sum = float(weight_sum)
        self.row_scale = np.sqrt(sample_weight / (self.weight_sum * self.n_outputs))
        self.mask = weight_mask(self.layer_sizes)
        self.layers = weight_groups(self.layer_sizes)
        self.groups = weight_groups(self.layer_sizes, ard)
        self.n_groups = int(self.groups.max()) + 1
        self.group_sizes = np.bincount(self.groups, minlength=self.n_groups)
        self.ard = ard
        self._weight_cols = np.flatnonzero(self.mask)
        self.set_alpha(alpha)
        # A block's dense Jacobian has n_outputs * n_params columns; the
        # kernel's own passes (values, JVP, VJP) only the widest layer's.
        self.block_rows = max(1, BLOCK_BYTES // (8 * self.n_outputs * self.n_params))
        self.pass_rows = max(1, PASS_BYTES // (8 * max(self.layer_sizes)))
        # (theta, its one-block linearisation, residuals), kept by trial_loss
        # and normal_equations for the next call at the same theta.
        self._last = None

    def set_alpha(self, alpha):
        """Set the penalties: a float, one per group or one per weight."""
        self.alpha = alpha
        if np.ndim(alpha) == 1 and len(alpha) == self.n_groups:
            alpha = np.asarray(alpha, dtype=float)[self.groups]
        penalty = np.zeros(self.n_params)
        penalty[self._weight_cols] = alpha
        self.penalty = penalty
        # Penalty of every parameter over the weight sum: the diagonal Lambda.
        self.reg2 = penalty / self.weight_sum
        self.n_reg = self._weight_cols.size if penalty.max() > 0 else 0

    def blocks(self, rows=None):
        """The fixed row blocks every sum over rows runs through, in order.

        Blocks of ``block_rows`` rows (a dense Jacobian block each), or of
        ``rows``.
        """
        n, step = self.n_samples, rows or self.block_rows
        return [slice(i, min(i + step, n)) for i in range(0, n, step)]

    # -- values -----------------------------------------------------------------

    def output(self, theta):
        """Network output at ``theta`` for every row, shape (n_samples, n_outputs)."""
        theta = np.asarray(theta, dtype=float)
        if self.n_samples <= self.pass_rows:
            return self.network.output(theta, self.X)
        out = np.empty(self.Y.shape)
        for rows in self.blocks(self.pass_rows):
            out[rows] = self.network.output(theta, self.X[rows])
        return out

    def data_residuals(self, theta):
        """Data residuals ``c_i (f_ik - y_ik)``, shape (n_samples, n_outputs)."""
        return self.scaled_residuals(self.output(theta))

    def scaled_residuals(self, output, rows=slice(None)):
        """``c_i (f_ik - y_ik)`` of the network ``output`` at ``rows``."""
        return (output - self.Y[rows]) * self.row_scale[rows, None]

    def residuals(self, theta):
        """Residual vector ``r``, penalty rows included; ``0.5 * r @ r`` is F."""
        data = self.data_residuals(theta).ravel()
        if not self.n_reg:
            return data
        theta = np.asarray(theta, dtype=float)
        penalty_rows = np.sqrt(self.reg2[self._weight_cols]) * theta[self._weight_cols]
        return np.concatenate([data, penalty_rows])

    def sum_over_partitions(self, function, *args):
        """``function(self, *args)``: in memory the rows are one partition.

        A Dask fit's :class:`~._distributed.PartitionedProblem` adds its
        partitions' instead; sums over rows written against this run on both.
        """
        return function(self, *args)

    def fit_sums(self, theta):
        """``sum w ||e||^2``, ``sum w``, ``sum w y`` and ``sum w y^2`` of the rows.

        Sums over rows, so that partitions add: what the training control
        needs to tell a collapsed fit from one that explains the target.
        """
        w = self.sample_weight
        E = self.output(theta) - self.Y
        return (
            float(w @ np.sum(E**2, axis=1)),
            float(w.sum()),
            w @ self.Y,
            w @ self.Y**2,
        )

    def penalty_loss(self, theta):
        """The penalty's share of the objective, ``0.5 * theta' Lambda theta``."""
        return 0.5 * float(self.reg2 @ (theta * theta))

    def data_loss(self, theta):
        """The data share of the objective, ``0.5 * r'r``, summed block by block.

        The blocks' sums are added in order, as a Dask array's partitions'
        are (:mod:`._distributed`): with blocks that are those partitions,
        both give the same bits.
        """
        theta = np.asarray(theta, dtype=float)
        if self.n_samples <= self.pass_rows:
            r = self.data_residuals(theta)
            return 0.5 * float(np.vdot(r, r))
        total = 0.0
        for rows in self.blocks(self.pass_rows):
            R = self.scaled_residuals(self.network.output(theta, self.X[rows]), rows)
            total += 0.5 * float(np.vdot(R, R))
        return total

    def loss(self, theta):
        """The objective ``F(theta)``."""
        return self.data_loss(theta) + self.penalty_loss(theta)

    def trial_loss(self, theta):
        """:meth:`loss`, keeping a one-block forward pass for the next step.

        A solver's trial point is usually accepted and linearised next: on
        data of one block the forward pass (with its slopes) and the residuals
        are kept, keyed by the identity of ``theta``, and
        :meth:`normal_equations` of that same array object reuses them.
        """
        if self.n_samples > self.block_rows:
            return self.loss(theta)
        lin = self.network.linearize(theta, self.X)
        R = self.scaled_residuals(lin.output)
        self._last = (theta, lin, R)
        return 0.5 * float(np.vdot(R, R)) + self.penalty_loss(theta)

    def _kept(self, theta):
        """The forward pass and residuals :meth:`trial_loss` or
        :meth:`normal_equations` kept for this ``theta`` object, or a fresh
        forward pass (residuals None)."""
        last, self._last = self._last, None
        if last is not None and last[0] is theta:
            return last[1], last[2]
        return self.network.linearize(theta, self.X), None

    # -- derivatives ------------------------------------------------------------

    def value_and_grad(self, theta, idx=None):
        """Objective and gradient, or their unbiased estimate from rows ``idx``.

        With ``idx`` (indices of a minibatch) the data term is
        ``n_samples / len(idx)`` times the batch's share, still normalised by
        the weight sum of the whole data, so a batch whose weights are all
        zero contributes zero instead of dividing by zero.
        """
        theta = np.asarray(theta, dtype=float)
        if idx is None:
            X, Y, c, factor = self.X, self.Y, self.row_scale, 1.0
        else:
            X, Y, c = self.X[idx], self.Y[idx], self.row_scale[idx]
            factor = self.n_samples / len(idx)
        lin = self.network.linearize(theta, X)
        R = (lin.output - Y) * c[:, None]
        value = 0.5 * factor * float(np.vdot(R, R)) + self.penalty_loss(theta)
        g = lin.vjp(R * (factor * c)[:, None])
        g += self.reg2 * theta
        return value, g

    def jacobian(self, theta):
        """Dense Jacobian of :meth:`residuals`, penalty rows included.

        Shape (n_samples * n_outputs + n_reg, n_params).
        """
        theta = np.asarray(theta, dtype=float)
        n_data = self.n_samples * self.n_outputs
        J = np.zeros((n_data + self.n_reg, self.n_params))
        lin = self.network.linearize(theta, self.X)
        lin.jacobian(self.row_scale, out=J[:n_data])
        if self.n_reg:
            cols = self._weight_cols
            J[n_data + np.arange(cols.size), cols] = np.sqrt(self.reg2[cols])
        return J

    def normal_equations(self, theta, gram_dtype=np.float64):
        """``J'J``, ``J'r`` and ``0.5 r'r`` of the data rows, over row blocks.

        With ``gram_dtype=np.float32`` each block's Jacobian is written and
        multiplied in single precision (twice the BLAS throughput), summed
        in double; ``J'r`` and the loss stay double precision, from the
        kernel's VJP, so the fit's minimum and its gradient are unchanged.

        Returns
        -------
        gram : ndarray of shape (n_params, n_params)
        gradient : ndarray of shape (n_params,)
            ``J'r`` (the penalty's ``Lambda theta`` not included).
        data_loss : float
        """
        theta = np.asarray(theta, dtype=float)
        P = self.n_params
        single = np.dtype(gram_dtype) == np.float32
        if self.n_samples <= self.block_rows and not single:
            # One block: no buffer to reuse, maybe a forward pass.
            J, r, data_loss = self.data_jacobian(theta)
            return J.T @ J, J.T @ r, data_loss
        gram, gradient, data_loss = np.zeros((P, P)), np.zeros(P), 0.0
        buffer = None
        for rows in self.blocks():
            lin = self.network.linearize(theta, self.X[rows])
            c = self.row_scale[rows]
            R = self.scaled_residuals(lin.output, rows)
            r = R.ravel()
            size = r.size * P
            if buffer is None or buffer.size < size:
                buffer = np.empty(size, dtype=gram_dtype)
            J = lin.jacobian(c, out=buffer[:size].reshape(r.size, P))
            gram += J.T @ J
            gradient += lin.vjp(R * c[:, None]) if single else J.T @ r
            data_loss += 0.5 * float(r @ r)
        return gram, gradient, data_loss

    def residual_curvature(self, theta):
        """The second-order term of the data loss's Hessian at ``theta``.

        ``sum_ik r_ik c_i`` times the Hessian of output ``k`` at row ``i``
        (:meth:`~._network.Linearization.residual_curvature`), summed over
        the row blocks of :meth:`normal_equations` (its arrays are the size
        of a block's Jacobian). The data loss's exact Hessian is ``J'J`` plus
        this.

        Returns
        -------
        curvature : ndarray of shape (n_params, n_params)
        """
        theta = np.asarray(theta, dtype=float)
        if self.n_samples <= self.block_rows:
            # One block: the forward pass normal_equations kept, if at theta.
            lin, R = self._kept(theta)
            if R is None:
                R = self.scaled_residuals(lin.output)
            return lin.residual_curvature(R * self.row_scale[:, None])
        total = np.zeros((self.n_params, self.n_params))
        for block in self.blocks():
            lin = self.network.linearize(theta, self.X[block])
            R = self.scaled_residuals(lin.output, block)
            total += lin.residual_curvature(R * self.row_scale[block, None])
        return total

    def data_jacobian(self, theta):
        """Dense ``J`` and ``r`` of the data rows and ``0.5 r'r``.

        For steps in the residual space (fewer residuals than parameters),
        where the ``n K x P`` Jacobian is smaller than ``J'J``. On data of
        one block the forward pass kept by :meth:`trial_loss` is reused.

        Returns
        -------
        jacobian : ndarray of shape (n_samples * n_outputs, n_params)
        residuals : ndarray of shape (n_samples * n_outputs,)
        data_loss : float
        """
        theta = np.asarray(theta, dtype=float)
        if self.n_samples <= self.block_rows:
            lin, R = self._kept(theta)
            if R is None:
                R = self.scaled_residuals(lin.output)
            # Kept again for :meth:`residual_curvature` at the same point.
            self._last = (theta, lin, R)
            r = R.ravel()
            return lin.jacobian(self.row_scale), r, 0.5 * float(r @ r)
        self._last = None
        K = self.n_outputs
        J = np.empty((self.n_samples * K, self.n_params))
        r = np.empty(self.n_samples * K)
        for rows in self.blocks():
            lin = self.network.linearize(theta, self.X[rows])
            data_rows = slice(rows.start * K, rows.stop * K)
            r[data_rows] = self.scaled_residuals(lin.output, rows).ravel()
            lin.jacobian(self.row_scale[rows], out=J[data_rows])
        return J, r, 0.5 * float(r @ r)

    def residual_space(self, theta):
        """The data rows' linearisation at ``theta`` in the residual space.

        For fewer residuals ``M`` than parameters: everything a step or an
        evidence update there needs, with no ``M x P`` Jacobian (the kernel's
        JVP and VJP give ``J v`` and ``J'y``). See :class:`ResidualSpace`.
        """
        theta = np.asarray(theta, dtype=float)
        lin, R = self._kept(theta)
        c = self.row_scale
        if R is None:
            R = self.scaled_residuals(lin.output)
        kernels, bias_kernel, bias_jacobian = lin.residual_kernels(c)
        return ResidualSpace(
            linearization=lin,
            row_scale=c,
            residuals=R.ravel(),
            data_loss=0.5 * float(np.vdot(R, R)),
            gradient=lin.vjp(R * c[:, None]),
            gram_diagonal=lin.gram_diagonal(c),
            weight_kernels=kernels,
            bias_kernel=bias_kernel,
            bias_jacobian=bias_jacobian,
        )

    def layer_penalties(self):
        """``Lambda``'s value on each layer's weights; ValueError unless one each."""
        weights = self.reg2[self.mask]
        first = np.searchsorted(self.layers, np.arange(len(self.layer_sizes) - 1))
        penalties = weights[first]
        if not np.array_equal(weights, penalties[self.layers]):
            raise ValueError(
                "Steps in the residual space need one penalty per layer, got "
                "different penalties within a layer."
            )
        return penalties

    def gauss_newton(self, theta):
        """Gauss-Newton approximation ``J'J + Lambda`` of the Hessian."""
        return self.add_penalty(self.normal_equations(theta)[0])

    def add_penalty(self, gram):
        """``gram + Lambda``, a new array: the objective's curvature from ``J'J``."""
        A = gram.copy()
        diagonal = A.reshape(-1)[:: A.shape[0] + 1]  # a view of the C-ordered copy
        diagonal += self.reg2
        return A

    def operator(self, theta):
        """Matrix-free data Jacobian at ``theta``: see :class:`JacobianOperator`."""
        return JacobianOperator(self, np.asarray(theta, dtype=float))

    # -- autograd references ----------------------------------------------------

    def objective_autograd(self, theta):
        """The objective through autograd's generic network: the reference."""
        pred = forward(unpack(theta, self.layer_sizes), self.X, self.activation)
        R = (pred - self.Y) * self.row_scale[:, None]
        return 0.5 * anp.sum(R**2) + 0.5 * anp.sum(self.reg2 * theta**2)

    def gradient(self, theta):
        """Gradient of the objective by autograd (the reference)."""
        return grad(self.objective_autograd)(np.asarray(theta, dtype=float))

    def hessian(self, theta):
        """Exact Hessian of the objective, ``autograd.hessian``."""
        return hessian(self.objective_autograd)(np.asarray(theta, dtype=float))


class JacobianOperator:
    """Products with the data Jacobian at one ``theta``, block by block.

    Each block's forward pass runs once, when the operator is built; its
    inputs and slopes are kept (some ``16 * n_samples * sum(hidden)`` bytes),
    so every product is one pass of the kernel's JVP or VJP over the blocks.

    Attributes
    ----------
    residuals : ndarray of shape (n_samples * n_outputs,)
        Data residuals at ``theta``.
    gradient : ndarray of shape (n_params,)
        ``J'r``.
    data_loss : float
        ``0.5 r'r``.
    diagonal : ndarray of shape (n_params,)
        The diagonal of ``J'J``: exact over at most ``DIAGONAL_BLOCKS`` blocks;
        beyond, from that many evenly spaced blocks, scaled by the share of
        the weights they hold (a preconditioner needs no more, and on large
        data the estimate is close).
    """

    def __init__(self, problem, theta):
        self.problem = problem
        self.blocks = problem.blocks(problem.pass_rows)
        self.shape = (problem.n_samples * problem.n_outputs, problem.n_params)
        self.linearizations = None
        self.update(theta)

    def update(self, theta):
        """Relinearise at ``theta``, reusing the blocks' memory."""
        self._relinearize(theta)
        self._complete()

    def _relinearize(self, theta):
        """The forward pass at ``theta`` into the blocks' records: residuals, loss."""
        problem = self.problem
        fresh = self.linearizations is None
        if fresh:
            self.linearizations = []
        residuals, self.data_loss = [], 0.0
        for index, rows in enumerate(self.blocks):
            c = problem.row_scale[rows]
            if fresh:
                lin = problem.network.linearize(theta, problem.X[rows])
                self.linearizations.append((lin, c))
            else:
                lin = self.linearizations[index][0]
                lin.refresh(theta)
            residuals.append(problem.scaled_residuals(lin.output, rows).ravel())
            # Block by block, as problem.data_loss adds them.
            self.data_loss += 0.5 * float(residuals[-1] @ residuals[-1])
        self.residuals = np.concatenate(residuals)

    def _complete(self):
        """``J'r`` and the diagonal of ``J'J`` at the linearised point."""
        problem = self.problem
        stride = -(-len(self.blocks) // DIAGONAL_BLOCKS)  # ceiling division
        self.diagonal, sampled = np.zeros(problem.n_params), 0.0
        for lin, c in self.linearizations[::stride]:
            self.diagonal += lin.gram_diagonal(c)
            sampled += float(c @ c)
        if stride > 1:
            self.diagonal *= float(problem.row_scale @ problem.row_scale) / sampled
        self.gradient = self.rmatvec(self.residuals)

    def matvec(self, v):
        """``J v``, shape (n_samples * n_outputs,)."""
        return np.concatenate(
            [(lin.jvp(v) * c[:, None]).ravel() for lin, c in self.linearizations]
        )

    def rmatvec(self, u):
        """``J' u``, shape (n_params,)."""
        K, start = self.problem.n_outputs, 0
        out = np.zeros(self.problem.n_params)
        for lin, c in self.linearizations:
            n = c.size
            out += lin.vjp(u[start : start + n * K].reshape(n, K) * c[:, None])
            start += n * K
        return out

    def gram_matvec(self, v):
        """``J'J v`` in one pass per block."""
        out = np.zeros(self.problem.n_params)
        for lin, c in self.linearizations:
            out += lin.gram_product(v, c * c)
        return out
