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

The Jacobian's reverse pass for these activations goes through one fused
primitive too, :func:`hidden_activations` (every hidden layer, offsets
included; its VJP and JVP are back- and forward-propagation in
autograd.numpy, with an in-place numpy path when nothing is boxed): 0.5-1.0x
the time of hand-written numpy backprop at N >= 1,000 in
``benchmarks/jacobian.py``, where tracing the layers one primitive at a time
cost 1.2-2.6x.
"""

import threading

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian, make_vjp, value_and_grad
from autograd.differential_operators import hessian_tensor_product
from autograd.extend import defjvp, defvjp, primitive
from autograd.tracer import Box, getval

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


# -- hidden layers as one primitive, for the residual Jacobian ---------------------


def _layer_starts(layer_sizes):
    """Offset in ``theta`` of each layer's ``W`` (its ``b`` follows it)."""
    starts, start = [], 0
    for m, h in zip(layer_sizes[:-1], layer_sizes[1:]):
        starts.append(start)
        start += (m + 1) * h
    return starts


# numpy runs the innermost loop of an elementwise operation along the axis
# that is contiguous in memory: for blocks a few columns wide that is a loop of
# a few elements per row. Fortran iteration order runs it down the rows
# instead, 2-3x faster up to this width (and slower beyond it).
NARROW = 4


# einsum writes the row-wise outer products of a wide block 1.5-2x faster
# than broadcasting while the Jacobian is small enough to stay in cache, and
# up to 1.3x slower beyond (measured on 621 columns: faster at 3,000 rows,
# slower at 6,000).
EINSUM_BYTES = 12 * 2**20


def _order(width):
    return "F" if width <= NARROW else "K"


def _weight(theta, layer_sizes, j, xp=np):
    """``W`` of layer ``j`` as a view of ``theta``."""
    s, m, h = _layer_starts(layer_sizes)[j], layer_sizes[j], layer_sizes[j + 1]
    return xp.reshape(theta[s : s + m * h], (m, h))


def _bias(theta, layer_sizes, j):
    s, m, h = _layer_starts(layer_sizes)[j], layer_sizes[j], layer_sizes[j + 1]
    return theta[s + m * h : s + (m + 1) * h]


def hidden_blocks(flat, layer_sizes, xp=np):
    """Views of a flat hidden-layer array as one (n_rows, width) array per layer.

    :func:`hidden_activations` lays its result out layer after layer, each
    layer's (n_rows, width) block in C order, so that every block is
    contiguous: elementwise numpy on a column slice of a wider array runs a
    short inner loop per row, several times slower.
    """
    hidden = layer_sizes[1:-1]
    if len(hidden) == 1:
        return [xp.reshape(flat, (-1, hidden[0]))]
    n_rows = flat.shape[0] // sum(hidden)
    blocks, start = [], 0
    for h in hidden:
        blocks.append(xp.reshape(flat[start : start + n_rows * h], (n_rows, h)))
        start += n_rows * h
    return blocks


def _flatten(blocks):
    if len(blocks) == 1:
        return anp.ravel(blocks[0])
    return anp.concatenate([anp.ravel(B) for B in blocks])


def zero_offsets(n_rows, layer_sizes):
    """Zero offsets ``D`` for :func:`hidden_activations`, without memory.

    A read-only broadcast of one zero: the primitive recognises it and skips
    adding it, and autograd only needs its shape.
    """
    return np.broadcast_to(0.0, (n_rows * sum(layer_sizes[1:-1]),))


def _is_zero(D):
    # Every entry of an array whose strides are all 0 is its first entry.
    return D is None or (not any(D.strides) and D.flat[0] == 0.0)


@primitive
def hidden_activations(D, theta, X, layer_sizes, activation):
    """Every hidden layer's activations, with offsets added to its pre-activations.

    The hidden part of a tanh or linear-hidden network as one autograd
    primitive, for the residual Jacobian: tracing it records one node instead
    of some five per layer. Its derivatives are hand-written back- and
    forward-propagation in autograd.numpy, so they can be differentiated
    again.

    Parameters
    ----------
    D : ndarray of shape (n_rows * sum(layer_sizes[1:-1]),) or None
        Offsets added to the pre-activations of the hidden layers, laid out
        as the result (see :func:`zero_offsets`); None for none. With ``D``
        zero, the gradient of a sum over rows with respect to ``D`` holds
        every row's own deltas.
    theta : ndarray of shape (n_params,)
        Flat parameters of the whole network (the output layer's are unused).
    X : ndarray of shape (n_rows, n_features)
        Inputs.
    layer_sizes : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``, at least one hidden.
    activation : {'tanh', 'identity'}
        Hidden-layer activation.

    Returns
    -------
    A : ndarray of shape (n_rows * sum(layer_sizes[1:-1]),)
        The activations of the hidden layers: the (n_rows, width) array of
        each layer in C order, layer after layer (:func:`hidden_blocks`).
    """
    out = np.empty(X.shape[0] * sum(layer_sizes[1:-1]))
    blocks = hidden_blocks(out, layer_sizes)
    offsets = None if _is_zero(D) else hidden_blocks(D, layer_sizes)
    A = X
    for j, dest in enumerate(blocks):
        # Each layer is computed in its block of the result: no temporaries.
        np.dot(A, _weight(theta, layer_sizes, j), out=dest)
        order = _order(dest.shape[1])
        np.add(dest, _bias(theta, layer_sizes, j), out=dest, order=order)
        if offsets is not None:
            dest += offsets[j]
        if activation == "tanh":
            np.tanh(dest, out=dest)
        A = dest
    return out


def _hidden_deltas(G, ans, theta, layer_sizes, activation):
    """Cotangent ``G`` of :func:`hidden_activations` back to the pre-activations.

    Returns the deltas, one (n_rows, width) array per hidden layer;
    autograd.numpy throughout, so it can be differentiated again.
    """
    G_blocks = hidden_blocks(G, layer_sizes, anp)
    A_blocks = hidden_blocks(ans, layer_sizes, anp)
    deltas, delta = [], None
    for j in range(len(G_blocks) - 1, -1, -1):
        g = G_blocks[j]
        if delta is not None:
            W_next = _weight(theta, layer_sizes, j + 1, anp)
            g = g + anp.dot(delta, anp.transpose(W_next))
        if activation == "tanh":
            # tanh' = 1 - tanh**2, from the stored output: no cosh overflow.
            g = g * (1.0 - A_blocks[j] ** 2)
        deltas.append(g)
        delta = g
    return deltas[::-1]


def _hidden_deltas_numpy(G, ans, theta, layer_sizes, activation):
    """:func:`_hidden_deltas`, flattened, for arguments that are not boxed.

    The same arithmetic in place in plain numpy: each pass over an
    (n_rows, width) temporary avoided counts on a large batch.
    """
    out = np.empty_like(G)
    G_blocks, A_blocks = hidden_blocks(G, layer_sizes), hidden_blocks(ans, layer_sizes)
    delta = None
    for j, dest in reversed(list(enumerate(hidden_blocks(out, layer_sizes)))):
        src = G_blocks[j]
        if delta is not None:
            np.dot(delta, _weight(theta, layer_sizes, j + 1).T, out=dest)
            dest += src
            src = dest
        if activation == "tanh":
            slope = np.multiply(A_blocks[j], A_blocks[j])
            np.subtract(1.0, slope, out=slope)
            np.multiply(src, slope, out=dest)
        elif src is not dest:
            dest[...] = src
        delta = dest
    return out


def _unboxed(*args):
    return not any(isinstance(a, Box) for a in args)


def _hidden_vjp_D(ans, D, theta, X, layer_sizes, activation):
    def vjp(G):
        if _unboxed(G, ans, theta):
            return _hidden_deltas_numpy(G, ans, theta, layer_sizes, activation)
        return _flatten(_hidden_deltas(G, ans, theta, layer_sizes, activation))

    return vjp


def _hidden_vjp_theta(ans, D, theta, X, layer_sizes, activation):
    def vjp(G):
        deltas = _hidden_deltas(G, ans, theta, layer_sizes, activation)
        inputs = [X, *hidden_blocks(ans, layer_sizes, anp)[:-1]]
        blocks = []
        for A, delta in zip(inputs, deltas):
            blocks += [anp.ravel(anp.dot(anp.transpose(A), delta)), anp.sum(delta, 0)]
        # The output layer's parameters do not act on the hidden layers.
        blocks.append(anp.zeros((layer_sizes[-2] + 1) * layer_sizes[-1]))
        return anp.concatenate(blocks)

    return vjp


def _hidden_tangent(dD, dtheta, ans, theta, X, layer_sizes, activation):
    """Forward-mode tangent of :func:`hidden_activations`; autograd.numpy."""
    A_blocks = hidden_blocks(ans, layer_sizes, anp)
    dD_blocks = None if dD is None else hidden_blocks(dD, layer_sizes, anp)
    tangents, A, dA = [], X, None
    for j in range(len(A_blocks)):
        dZ = 0.0
        if dA is not None:
            dZ = dZ + anp.dot(dA, _weight(theta, layer_sizes, j, anp))
        if dtheta is not None:
            dZ = dZ + anp.dot(A, _weight(dtheta, layer_sizes, j, anp))
            dZ = dZ + _bias(dtheta, layer_sizes, j)
        if dD_blocks is not None:
            dZ = dZ + dD_blocks[j]
        if activation == "tanh":
            dZ = dZ * (1.0 - A_blocks[j] ** 2)
        tangents.append(dZ)
        A, dA = A_blocks[j], dZ
    return _flatten(tangents)


defvjp(hidden_activations, _hidden_vjp_D, _hidden_vjp_theta)
defjvp(
    hidden_activations,
    lambda g, ans, D, theta, X, sizes, act: _hidden_tangent(
        g, None, ans, theta, X, sizes, act
    ),
    lambda g, ans, D, theta, X, sizes, act: _hidden_tangent(
        None, g, ans, theta, X, sizes, act
    ),
)


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
        self._weight_cols = np.flatnonzero(self.mask)
        self._reg_rows = np.arange(self._weight_cols.size)
        self._starts = _layer_starts(self.layer_sizes)
        self._zero_offsets = None

    # -- values -----------------------------------------------------------------

    def _forward_cached(self, theta):
        if self._cache_theta is None or not np.array_equal(self._cache_theta, theta):
            params = unpack(theta, self.layer_sizes)
            self._cache_out = forward_numpy(params, self.X, self.np_activation)
            self._cache_theta = np.array(theta, copy=True)
        return self._cache_out

    def output(self, theta):
        """Network output at ``theta`` for every row, shape (n_samples, n_outputs)."""
        return self._forward_cached(np.asarray(theta, dtype=float))

    def residuals(self, theta):
        """Residual vector ``r``; ``0.5 * r @ r`` is the objective."""
        theta = np.asarray(theta, dtype=float)
        data = (self._forward_cached(theta) - self.Y) * self.row_scale[:, None]
        if self.n_reg:
            return np.concatenate([data.ravel(), self.reg_scale * theta[self.mask]])
        return data.ravel()

    def penalty_loss(self, theta):
        """The penalty's share of the objective, ``0.5 * sum(reg2 * theta**2)``."""
        if not self.n_reg:
            return 0.0
        return 0.5 * float(self._reg2 @ np.asarray(theta) ** 2)

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

    def _hidden_backprop(self, theta, params):
        """Inputs of every layer and a map from output cotangents to deltas.

        Returns ``inputs`` (``X`` then each hidden layer's activations) and
        ``backprop(G)`` taking the cotangent ``G`` of the last hidden layer's
        activations, shape (n_samples, layer_sizes[-2]), to the list of every
        hidden layer's per-row deltas, from one autograd reverse pass.
        """
        sizes, n = self.layer_sizes, self.n_samples
        if self._fused is not None:
            # One primitive, and its registered VJP applied straight: tracing
            # even one node costs more than the arithmetic on the lecture's 50
            # rows, and nothing here is boxed (the Jacobian is never itself
            # differentiated).
            X, act = self.X, self._fused
            if self._zero_offsets is None:
                self._zero_offsets = zero_offsets(n, sizes)
            D = self._zero_offsets
            ans = hidden_activations.fun(D, theta, X, sizes, act)
            vjp = _hidden_vjp_D(ans, D, theta, X, sizes, act)
            inputs = [X, *hidden_blocks(ans, sizes)]

            def backprop(G):
                if len(sizes) > 3:  # cotangent zero on all but the last layer
                    full = np.zeros_like(ans)
                    full[ans.size - G.size :] = G.ravel()
                    G = full
                return hidden_blocks(vjp(G.ravel()), sizes)

            return inputs, backprop

        inputs = []

        def last_hidden(offsets):
            A = self.X
            for (W, b), D in zip(params[:-1], offsets):
                inputs.append(getval(A))  # layer inputs give the weight blocks
                A = self.activation(anp.dot(A, W) + b + D)
            inputs.append(getval(A))
            return A

        offsets = [np.zeros((n, m)) for m in sizes[1:-1]]
        vjp, _ = make_vjp(last_hidden)(offsets)
        return inputs, vjp

    def jacobian(self, theta):
        """Jacobian of :meth:`residuals`.

        Its shape is (n_samples * n_outputs + n_reg, n_params). Every block is
        written straight into a view of the result: a layer's weight block is
        the row-wise outer product of its inputs with its deltas.
        """
        theta = np.asarray(theta, dtype=float)
        sizes, starts = self.layer_sizes, self._starts
        params = [
            (theta[s : s + m * h].reshape(m, h), theta[s + m * h : s + (m + 1) * h])
            for s, m, h in zip(starts, sizes[:-1], sizes[1:])
        ]
        n, K, P = self.n_samples, self.n_outputs, self.n_params
        c = self.row_scale
        n_hidden = len(sizes) - 2
        if n_hidden:
            inputs, backprop = self._hidden_backprop(theta, params)
        else:
            inputs = [self.X]

        J = np.empty((n * K + self.n_reg, P))
        J3 = J[: n * K].reshape(n, K, P)
        W_last = params[-1][0]
        m_last = sizes[-2]
        start_last = starts[-1]
        for k in range(K):
            row = J3[:, k, :]  # (n, P) view; rows K * P apart
            if n_hidden:
                # Cotangent of the last hidden layer for output k: row i is
                # c_i W[:, k].
                # (A rank-one product in BLAS: broadcasting would loop over
                # a few elements per row.)
                deltas = backprop(np.dot(c[:, None], W_last[None, :, k]))
                for s, inp, d in zip(starts, inputs[:-1], deltas):
                    m, h = inp.shape[1], d.shape[1]
                    # A view: the last axis of ``row`` is contiguous.
                    block = row[:, s : s + m * h].reshape(n, m, h)
                    if m * h > NARROW and J.nbytes <= EINSUM_BYTES:
                        np.einsum("ni,nj->nij", inp, d, out=block)
                    else:
                        np.multiply(
                            inp[:, :, None],
                            d[:, None, :],
                            out=block,
                            order=_order(m * h),
                        )
                    np.multiply(
                        d, 1.0, out=row[:, s + m * h : s + (m + 1) * h], order=_order(h)
                    )
            # Output layer: f_ik depends on W_last[:, k] and b_last[k] only.
            if K > 1:
                row[:, start_last:] = 0.0
            np.multiply(
                inputs[-1],
                c[:, None],
                out=row[:, start_last + k : start_last + m_last * K : K],
                order=_order(m_last),
            )
            row[:, P - K + k] = c
        if self.n_reg:
            reg = J[n * K :]
            reg[...] = 0.0
            reg[self._reg_rows, self._weight_cols] = self.reg_scale
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
