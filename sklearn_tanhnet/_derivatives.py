"""Objective, residuals and their exact derivatives on the flat vector ``theta``.

The fitting objective for data ``(X, Y)`` with sample weights ``w`` (sum ``S``),
``K`` outputs and L2 penalty ``alpha`` on the weights (not the biases) is::

    J(theta) = 1 / (2 S) * (sum_i w_i * ||f(x_i) - y_i||^2 / K + alpha * ||W||^2)

so an integer weight equals repeating a row. It is half the squared norm of the
residual vector ``r = [sqrt(w_i / (S K)) * (f_ik - y_ik), sqrt(alpha / S) * W]``,
the form ``scipy.optimize.least_squares`` minimises.

Every derivative comes from autograd. The residual Jacobian takes one reverse
pass per output, not one per residual as ``autograd.jacobian`` would: samples
do not interact, so the gradient of the *summed* output with respect to zero
offsets added to each hidden layer's pre-activations holds every sample's
back-propagated delta at once; a layer's weight block of the Jacobian is then
the row-wise outer product of its inputs with those deltas.

For the ``'tanh'`` and ``'identity'`` activations the objective is one fused
autograd primitive, :func:`fused_objective`, whose derivative is a hand-written
back-propagation (:func:`objective_grad`). Tracing the generic objective
records some twenty primitives per step, and autograd's bookkeeping for them
costs several times the arithmetic on the small batches adam uses. The
back-propagation is itself written in autograd.numpy, so the Hessian and
Hessian-vector products differentiate through it exactly as before.
"""

import threading

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian, make_vjp, value_and_grad
from autograd.differential_operators import hessian_tensor_product
from autograd.extend import defjvp, defvjp, primitive
from autograd.tracer import getval

from ._network import (
    forward,
    forward_numpy,
    get_activation,
    tanh,
    unpack,
    weight_mask,
)

# Activations with a fused objective; others are traced primitive by primitive.
FUSED_ACTIVATIONS = ("tanh", "identity")


def _forward_pass(theta, X, Y, c, reg2, mask, layer_sizes, scale, activation, xp):
    """Objective value and the intermediates back-propagation needs.

    The arithmetic follows :meth:`LeastSquaresProblem.objective_autograd`
    operation for operation, so both give the same value. ``xp`` is
    autograd.numpy, or numpy when no argument can be boxed: autograd.numpy's
    wrappers cost about a microsecond per call, a large share of a small
    network's step.
    """
    act = tanh if xp is anp else np.tanh
    params = unpack(theta, layer_sizes)
    inputs = [X]
    for W, b in params[:-1]:
        Z = xp.dot(inputs[-1], W) + b
        inputs.append(act(Z) if activation == "tanh" else Z)
    W, b = params[-1]
    R = (xp.dot(inputs[-1], W) + b - Y) * c[:, None]
    data = scale * xp.sum(R**2)
    if reg2 is not None:
        data = data + xp.sum(reg2 * theta**2)
    return 0.5 * data, (params, inputs, R)


def _backward_pass(theta, state, c, reg2, mask, scale, activation, xp):
    """Gradient of the objective from the intermediates of :func:`_forward_pass`.

    No mutation, and with ``xp=anp`` only autograd.numpy operations: when
    ``theta`` is boxed this is traced, which is how second derivatives pass
    through the fused primitive.
    """
    params, inputs, R = state
    delta = R * (scale * c)[:, None]
    blocks = []  # (db, dW) pairs from the last layer back: reversed pack order
    for layer in range(len(params) - 1, -1, -1):
        A = inputs[layer]
        blocks += [xp.sum(delta, 0), xp.ravel(xp.dot(xp.transpose(A), delta))]
        if layer:
            delta = xp.dot(delta, xp.transpose(params[layer][0]))
            if activation == "tanh":
                # tanh' = 1 - tanh**2, from the stored output: no cosh overflow.
                delta = delta * (1.0 - A**2)
    g = xp.concatenate(blocks[::-1])
    if reg2 is not None:
        g = g + reg2 * theta
    return g


def objective_grad(theta, X, Y, c, reg2, mask, layer_sizes, scale, activation):
    """Gradient of :func:`fused_objective` by hand-written back-propagation.

    Parameters are those of :func:`fused_objective`. Written in autograd.numpy
    throughout, so it can itself be differentiated.

    Returns
    -------
    grad : ndarray of shape (n_params,)
        The gradient with respect to ``theta``.
    """
    args = (c, reg2, mask)
    _, state = _forward_pass(theta, X, Y, *args, layer_sizes, scale, activation, anp)
    return _backward_pass(theta, state, *args, scale, activation, anp)


# autograd builds a primitive's VJP right after evaluating it, so the forward
# pass just run can be reused. The entry is keyed by the identity of the
# returned value: that object was created by exactly one evaluation, which the
# entry keeps alive, so a hit can only be that evaluation's own state. Any
# other VJP (one with boxed arguments, in higher-order derivatives) misses and
# recomputes. The entry is per thread, and consumed by its hit; an untraced
# call leaves its entry until the thread's next evaluation.
_last = threading.local()


@primitive
def fused_objective(theta, X, Y, c, reg2, mask, layer_sizes, scale, activation):
    """The objective of a tanh or linear-hidden network as one autograd primitive.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters; the only argument it is differentiable in.
    X : ndarray of shape (n_rows, n_features)
        Inputs of the rows used (all rows or a minibatch).
    Y : ndarray of shape (n_rows, n_outputs)
        Their targets.
    c : ndarray of shape (n_rows,)
        Their residual scales ``sqrt(w_i / (S K))``.
    reg2 : ndarray of shape (n_params,) or None
        Penalty coefficient of each parameter (``alpha / S`` on the weights,
        0 on the biases), or None for no penalty.
    mask : ndarray of shape (n_params,), dtype=bool
        True for the weights of ``theta``, False for the biases.
    layer_sizes : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``.
    scale : float
        Factor on the data term: ``n_samples / n_rows`` for a minibatch.
    activation : {'tanh', 'identity'}
        Hidden-layer activation.

    Returns
    -------
    value : float
        ``0.5 * (scale * sum(((f(X) - Y) * c[:, None]) ** 2) + sum(reg2 * theta**2))``.
    """
    # A primitive's own body only ever sees unboxed arguments.
    value, state = _forward_pass(
        theta, X, Y, c, reg2, mask, layer_sizes, scale, activation, np
    )
    _last.entry = (value, state)
    return value


def _fused_grad(ans, theta, X, Y, c, reg2, mask, layer_sizes, scale, activation):
    entry = getattr(_last, "entry", None)
    if entry is not None and entry[0] is ans:
        _last.entry = None  # release the activations
        # A hit means ``ans`` is unboxed, so every argument of the call was too.
        return _backward_pass(theta, entry[1], c, reg2, mask, scale, activation, np)
    return objective_grad(theta, X, Y, c, reg2, mask, layer_sizes, scale, activation)


def _fused_vjp(ans, *args):
    g_theta = _fused_grad(ans, *args)
    return lambda g: g * g_theta


def _fused_jvp(g, ans, *args):
    return anp.dot(g, _fused_grad(ans, *args))


defvjp(fused_objective, _fused_vjp)
defjvp(fused_objective, _fused_jvp)


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
    alpha : float or ndarray of shape (n_weights,)
        L2 penalty on the weights, one for all or one per weight (in the
        order of ``theta[weight_mask(layer_sizes)]``).
    layer_sizes : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``.
    activation : str or callable
        Hidden-layer activation.
    """

    def __init__(self, X, Y, sample_weight, alpha, layer_sizes, activation="tanh"):
        self.X = X
        self.Y = Y
        self.layer_sizes = list(layer_sizes)
        self.activation = get_activation(activation)
        self.np_activation = get_activation(activation, numpy=True)
        self.alpha = alpha
        n_samples, n_outputs = Y.shape
        self.n_samples, self.n_outputs = n_samples, n_outputs
        self.weight_sum = float(np.sum(sample_weight))
        self.sample_weight = sample_weight
        self.row_scale = np.sqrt(sample_weight / (self.weight_sum * n_outputs))
        self.mask = weight_mask(self.layer_sizes)
        self.n_params = self.mask.size
        # The penalty of every parameter (zero for biases), over the weight sum.
        self.penalty = np.zeros(self.n_params)
        self.penalty[self.mask] = alpha
        self.n_reg = int(self.mask.sum()) if np.any(self.penalty > 0) else 0
        self.reg_scale = np.sqrt(self.penalty[self.mask] / self.weight_sum)
        self._reg2 = self.penalty / self.weight_sum if self.n_reg else None
        fused = isinstance(activation, str) and activation in FUSED_ACTIVATIONS
        self._fused = activation if fused else None
        self._cache_theta = None

    # -- values -----------------------------------------------------------------

    def _forward_cached(self, theta):
        if self._cache_theta is None or not np.array_equal(self._cache_theta, theta):
            params = unpack(theta, self.layer_sizes)
            self._cache_out = forward_numpy(params, self.X, self.np_activation)
            self._cache_theta = np.array(theta, copy=True)
        return self._cache_out

    def residuals(self, theta):
        """Residual vector ``r``; ``0.5 * r @ r`` is the objective."""
        theta = np.asarray(theta, dtype=float)
        data = (self._forward_cached(theta) - self.Y) * self.row_scale[:, None]
        if self.n_reg:
            return np.concatenate([data.ravel(), self.reg_scale * theta[self.mask]])
        return data.ravel()

    def loss(self, theta):
        """Objective value without autograd tracing."""
        r = self.residuals(theta)
        return 0.5 * float(r @ r)

    def _rows(self, idx):
        if idx is None:
            return self.X, self.Y, self.row_scale, 1.0
        return self.X[idx], self.Y[idx], self.row_scale[idx], self.n_samples / len(idx)

    def objective(self, theta, idx=None):
        """The objective as an autograd-differentiable function of ``theta``.

        With ``idx`` (indices of a minibatch) the data term is the unbiased
        estimate ``n_samples / len(idx)`` times the batch's share, still
        normalised by the weight sum of the whole data, so a batch whose
        weights are all zero contributes zero instead of dividing by zero.

        For the ``'tanh'`` and ``'identity'`` activations this is the fused
        primitive :func:`fused_objective`; otherwise
        :meth:`objective_autograd`. Both give the same value and, to rounding,
        the same derivatives of every order.
        """
        if self._fused is None:
            return self.objective_autograd(theta, idx)
        X, Y, c, scale = self._rows(idx)
        return fused_objective(
            theta, X, Y, c, self._reg2, self.mask, self.layer_sizes, scale, self._fused
        )

    def objective_autograd(self, theta, idx=None):
        """:meth:`objective` traced by autograd primitive by primitive.

        Works for every activation, callables included; for the fused ones it
        is the independent reference the tests compare against.
        """
        X, Y, c, scale = self._rows(idx)
        pred = forward(unpack(theta, self.layer_sizes), X, self.activation)
        data = scale * anp.sum(((pred - Y) * c[:, None]) ** 2)
        if self.n_reg:
            data = data + anp.sum(self._reg2 * theta**2)
        return 0.5 * data

    # -- derivatives ------------------------------------------------------------

    def value_and_grad(self, theta, idx=None):
        """:meth:`objective` and its gradient, for first-order solvers.

        The same numbers as ``autograd.value_and_grad(self.objective)``, but
        for the fused activations straight from one plain-numpy forward and
        backward pass: autograd's own wrapping (boxing, the trace, the
        backward sweep) costs about as much as a small network's arithmetic.
        ``theta`` must be an array, not an autograd box.

        Returns
        -------
        value : float
            The objective (minibatch estimate when ``idx`` is given).
        grad : ndarray of shape (n_params,)
            Its gradient.
        """
        if self._fused is None:
            return value_and_grad(self.objective_autograd)(theta, idx)
        theta = np.asarray(theta, dtype=float)
        X, Y, c, scale = self._rows(idx)
        args = (c, self._reg2, self.mask)
        value, state = _forward_pass(
            theta, X, Y, *args, self.layer_sizes, scale, self._fused, np
        )
        return value, _backward_pass(theta, state, *args, scale, self._fused, np)

    def gradient(self, theta, idx=None):
        """Gradient of :meth:`objective` by reverse-mode autograd."""
        return grad(self.objective)(np.asarray(theta, dtype=float), idx)

    def hessian(self, theta):
        """Exact Hessian of the objective, ``autograd.hessian``."""
        return hessian(self.objective)(np.asarray(theta, dtype=float))

    def hvp(self, theta, v):
        """Hessian-vector product ``H(theta) @ v`` without forming ``H``."""
        return hessian_tensor_product(self.objective)(
            np.asarray(theta, dtype=float), np.asarray(v, dtype=float)
        )

    def jacobian(self, theta):
        """Jacobian of :meth:`residuals`.

        Its shape is (n_samples * n_outputs + n_reg, n_params).
        """
        theta = np.asarray(theta, dtype=float)
        sizes = self.layer_sizes
        params = unpack(theta, sizes)
        n, K, P = self.n_samples, self.n_outputs, self.n_params
        c = self.row_scale
        inputs = []

        def last_hidden(offsets):
            A = self.X
            for (W, b), D in zip(params[:-1], offsets):
                inputs.append(getval(A))  # layer inputs give the weight blocks
                A = self.activation(anp.dot(A, W) + b + D)
            inputs.append(getval(A))
            return A

        n_hidden = len(sizes) - 2
        if n_hidden:
            offsets = [np.zeros((n, m)) for m in sizes[1:-1]]
            vjp, _ = make_vjp(last_hidden)(offsets)
        else:
            inputs.append(self.X)

        J = np.zeros((n * K + self.n_reg, P))
        J3 = J[: n * K].reshape(n, K, P)
        A_last = inputs[-1] * c[:, None]
        W_last = params[-1][0]
        start_last = P - (sizes[-2] + 1) * K
        for k in range(K):
            if n_hidden:
                # Cotangent of the last hidden layer for output k: row i is
                # c_i W[:, k].
                deltas = vjp(np.outer(c, W_last[:, k]))
                start = 0
                for inp, d in zip(inputs[:-1], deltas):
                    m, h = inp.shape[1], d.shape[1]
                    J3[:, k, start : start + m * h] = (
                        inp[:, :, None] * d[:, None, :]
                    ).reshape(n, m * h)
                    J3[:, k, start + m * h : start + (m + 1) * h] = d
                    start += (m + 1) * h
            # Output layer: f_ik depends on W_last[:, k] and b_last[k] only.
            cols = start_last + np.arange(sizes[-2]) * K + k
            J3[:, k, cols] = A_last
            J3[:, k, P - K + k] = c
        if self.n_reg:
            J[n * K + np.arange(self.n_reg), np.flatnonzero(self.mask)] = self.reg_scale
        return J

    def gauss_newton(self, theta):
        """Gauss-Newton approximation ``J.T @ J`` of the Hessian."""
        J = self.jacobian(theta)
        return J.T @ J

    def residual_function(self):
        """``theta -> residuals`` as one autograd-differentiable function.

        For tests and diagnostics: ``autograd.jacobian`` of it is the slow,
        independent reference for :meth:`jacobian`.
        """

        def resid(theta):
            pred = forward(unpack(theta, self.layer_sizes), self.X, self.activation)
            data = anp.ravel((pred - self.Y) * self.row_scale[:, None])
            if self.n_reg:
                return anp.concatenate([data, self.reg_scale * theta[self.mask]])
            return data

        return resid
