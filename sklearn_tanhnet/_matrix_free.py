"""The residual Jacobian as a matrix-free linear operator, for large data.

A dense residual Jacobian has ``n_samples * n_outputs + n_reg`` rows and
``n_params`` columns: 5.3 GB for a million rows and a 10-20-20-1 network.
scipy's ``least_squares(..., tr_solver='lsmr')`` needs only products with it,
``J @ v`` and ``J.T @ u``, which :func:`jacobian_operator` supplies as a
:class:`scipy.sparse.linalg.LinearOperator`:

* ``J.T @ u`` is a vector-Jacobian product, from :func:`autograd.core.make_vjp`
  traced once per ``theta``;
* ``J @ v`` is a Jacobian-vector product, from :func:`autograd.make_jvp`.

Both run over blocks of rows, so no temporary is larger than one block and
the memory kept is that of the network's hidden activations (and, for tanh,
their slopes): some ``8 * n_samples * 2 * sum(hidden_layer_sizes)`` bytes.

For the ``'tanh'`` and ``'identity'`` activations a block's residuals are one
fused autograd primitive, :func:`residual_block`, whose derivatives are
hand-written forward and back-propagation in autograd.numpy. It remembers the
activations of its last evaluation in a :class:`Linearization` owned by the
operator, so the forward pass that ``make_jvp`` repeats for every product
costs a comparison of ``theta`` instead of a pass over the data. Other
activations trace the generic network, which re-runs the forward pass in
every ``J @ v``.
"""

import autograd.numpy as anp
import numpy as np
from autograd import make_jvp
from autograd.core import make_vjp
from autograd.extend import defjvp, defvjp, primitive
from autograd.tracer import Box
from scipy.sparse.linalg import LinearOperator

from ._derivatives import _unboxed
from ._network import forward, get_activation, unpack

# Rows per block: a block's (rows, width) temporaries stay in the CPU caches.
# Measured at 1e6 x 10 with (20, 20): 16k rows 0.12 s per product, the whole
# data at once 0.3 s.
BLOCK_BYTES = 2 * 2**20


def dense_jacobian_bytes(n_rows, n_params):
    """Bytes of a dense float64 residual Jacobian.

    Parameters
    ----------
    n_rows : int
        Residuals: ``n_samples * n_outputs`` plus one per penalised weight.
    n_params : int
        Parameters of the network.

    Returns
    -------
    n_bytes : int
        ``8 * n_rows * n_params``. scipy's ``tr_solver='exact'`` holds about
        three such matrices at once (the Jacobian, its scaled copy and the
        SVD's left factor).
    """
    return 8 * int(n_rows) * int(n_params)


def matrix_free_bytes(n_samples, layer_sizes):
    """Bytes :class:`MatrixFreeResiduals` keeps for a network and data set.

    At most two evaluations are kept: the point the operator linearises
    around (hidden activations, their slopes, residuals) and the last trial
    point (activations, residuals). scipy's ``lsmr`` and the operator's last
    few products add some ten vectors of ``n_samples * n_outputs`` floats.
    """
    hidden, K = sum(layer_sizes[1:-1]), layer_sizes[-1]
    return 8 * int(n_samples) * (3 * hidden + 12 * K)


def _row_blocks(n_samples, layer_sizes, block_rows=None):
    if block_rows is None:
        block_rows = max(1, BLOCK_BYTES // (8 * max(layer_sizes)))
    return [
        slice(start, min(start + block_rows, n_samples))
        for start in range(0, n_samples, block_rows)
    ]


# -- one block of residuals as a fused primitive --------------------------------


class Linearization:
    """What :func:`residual_block` remembers of its last evaluation.

    ``theta`` (a copy), the residuals ``ans`` it returned, every layer's
    input (``X``, then the hidden activations) and, once a derivative has
    asked for them, the tanh slopes ``1 - A**2`` of the hidden layers.
    """

    __slots__ = ("theta", "ans", "inputs", "slopes")

    def __init__(self):
        self.theta = self.ans = self.inputs = self.slopes = None

    def state(self, ans, theta, X, layer_sizes, activation):
        """Layer inputs and slopes of the evaluation that returned ``ans``.

        Remembered when ``ans`` is this memo's last result (slopes computed
        on first use), recomputed otherwise.
        """
        if self.ans is not ans:
            inputs = _forward(theta, X, layer_sizes, activation, np)[1]
            return inputs, _slopes(inputs, activation)
        if self.slopes is None:
            self.slopes = _slopes(self.inputs, activation)
        return self.inputs, self.slopes


def _slopes(inputs, activation):
    """tanh' = 1 - tanh**2 of each hidden layer from its activations."""
    if activation != "tanh":
        return [None] * (len(inputs) - 1)
    if not any(isinstance(A, Box) for A in inputs):
        return [np.subtract(1.0, A * A) for A in inputs[1:]]
    return [1.0 - A**2 for A in inputs[1:]]


def _forward(theta, X, layer_sizes, activation, xp):
    """Network output and every layer's input, in ``xp``."""
    act = get_activation(activation, numpy=xp is np)
    params = unpack(theta, layer_sizes)
    inputs = [X]
    for W, b in params[:-1]:
        inputs.append(act(xp.dot(inputs[-1], W) + b))
    W, b = params[-1]
    return xp.dot(inputs[-1], W) + b, inputs


@primitive
def residual_block(theta, X, Y, c, layer_sizes, activation, memo):
    """Weighted residuals ``(f(X) - Y) * c[:, None]`` of some rows, raveled.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters; the only argument it is differentiable in.
    X : ndarray of shape (n_rows, n_features)
        The rows' inputs.
    Y : ndarray of shape (n_rows, n_outputs)
        Their targets.
    c : ndarray of shape (n_rows,)
        Their residual scales ``sqrt(w_i / (S K))``.
    layer_sizes : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``.
    activation : {'tanh', 'identity'}
        Hidden-layer activation.
    memo : Linearization or None
        Where the last evaluation is kept. With a memo, a call at the same
        ``theta`` returns the same array without recomputing it, and the
        derivatives reuse its activations.

    Returns
    -------
    r : ndarray of shape (n_rows * n_outputs,)
        The residuals, row by row.
    """
    if memo is not None and memo.theta is not None:
        if np.array_equal(memo.theta, theta):
            return memo.ans
    out, inputs = _forward(theta, X, layer_sizes, activation, np)
    out -= Y
    out *= c[:, None]
    ans = out.ravel()
    if memo is not None:
        memo.theta, memo.ans, memo.inputs = np.array(theta, copy=True), ans, inputs
        memo.slopes = None  # those of the previous evaluation
    return ans


def _state(ans, theta, X, layer_sizes, activation, memo):
    """A function returning the layer inputs and slopes at ``theta``."""
    if memo is not None and memo.ans is ans:
        # Looked up at each product: the memo may drop its slopes meanwhile.
        return lambda: memo.state(ans, theta, X, layer_sizes, activation)
    # A boxed ``ans`` (a higher derivative): recompute in autograd.numpy.
    inputs = _forward(theta, X, layer_sizes, activation, anp)[1]
    state = inputs, _slopes(inputs, activation)
    return lambda: state


def _back(u, inputs, slopes, params, c):
    """``J' u`` by back-propagation; autograd.numpy, in place when unboxed."""
    fast = _unboxed(u, *inputs, *params[0])
    delta = anp.reshape(u, (inputs[0].shape[0], -1)) * c[:, None]
    blocks = []
    for layer in range(len(params) - 1, -1, -1):
        A = inputs[layer]
        blocks += [anp.sum(delta, 0), anp.ravel(anp.dot(anp.transpose(A), delta))]
        if layer:
            delta = anp.dot(delta, anp.transpose(params[layer][0]))
            S = slopes[layer - 1]
            if S is None:
                pass
            elif fast:
                delta *= S
            else:
                delta = delta * S
    return anp.concatenate(blocks[::-1])


def _ahead(v, inputs, slopes, params, layer_sizes, c):
    """``J v`` by forward propagation; autograd.numpy, in place when unboxed."""
    tangents = unpack(v, layer_sizes)
    fast = _unboxed(v, *inputs, *params[0])
    dA = None
    for layer, ((W, _), (dW, db)) in enumerate(zip(params, tangents)):
        dZ = anp.dot(inputs[layer], dW)
        if fast:
            dZ += db
            if dA is not None:
                dZ += np.dot(dA, W)
        else:
            dZ = dZ + db
            if dA is not None:
                dZ = dZ + anp.dot(dA, W)
        if layer < len(slopes):
            S = slopes[layer]
            if S is None:
                dA = dZ
            elif fast:
                dZ *= S
                dA = dZ
            else:
                dA = dZ * S
    return anp.ravel(dZ * c[:, None])


def _block_vjp(ans, theta, X, Y, c, layer_sizes, activation, memo):
    state = _state(ans, theta, X, layer_sizes, activation, memo)
    params = unpack(theta, layer_sizes)
    return lambda u: _back(u, *state(), params, c)


def _block_jvp(v, ans, theta, X, Y, c, layer_sizes, activation, memo):
    inputs, slopes = _state(ans, theta, X, layer_sizes, activation, memo)()
    return _ahead(v, inputs, slopes, unpack(theta, layer_sizes), layer_sizes, c)


defvjp(residual_block, _block_vjp)
defjvp(residual_block, _block_jvp)


def _block_function(problem, rows, memo):
    """``theta -> residuals of rows`` as an autograd-differentiable function."""
    X, Y, c = problem.X[rows], problem.Y[rows], problem.row_scale[rows]
    sizes = problem.layer_sizes
    if problem._fused is not None:
        act = problem._fused
        return lambda theta: residual_block(theta, X, Y, c, sizes, act, memo)

    def generic(theta):
        pred = forward(unpack(theta, sizes), X, problem.activation)
        return anp.ravel((pred - Y) * c[:, None])

    return generic


# -- the operator -----------------------------------------------------------------

# scipy's trf with tr_solver='lsmr' asks, every iteration, for products with
# vectors that are combinations of vectors it has already multiplied: the
# first lsmr direction is the gradient it multiplied just before, the 2-D
# subspace it then searches is spanned by the gradient and lsmr's solution
# (a combination of lsmr's own directions), and so is the step it finally
# checks; lsmr's first J' u repeats the gradient's J' f, scaled. Answering
# those from the last few products saves 3 J v and 1 J' u of 14 per
# iteration (lsmr maxiter 4).
PRODUCTS_KEPT = 8
SPAN_RTOL = 1e-12


class _Products:
    """The last few products of a linear map, to answer combinations of them.

    :meth:`lookup` returns the product of ``v`` when ``v`` is, to a relative
    ``SPAN_RTOL``, a combination ``V a`` of kept inputs whose terms do not
    cancel (``sum |a_i| ||v_i|| <= 10 ||v||``, so rounding stays that of a
    direct product): then it is ``(J V) a``. Otherwise None.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.inputs, self.outputs = [], []

    def lookup(self, v):
        if not self.inputs:
            return None
        V = np.column_stack(self.inputs)
        if V.shape[1] == 1:
            vv = V[:, 0] @ V[:, 0]
            a = np.array([V[:, 0] @ v / vv]) if vv > 0 else np.zeros(1)
        else:
            a = np.linalg.lstsq(V, v, rcond=None)[0]
        norm = np.linalg.norm(v)
        if not np.all(np.isfinite(a)):
            return None
        if np.linalg.norm(V @ a - v) > SPAN_RTOL * norm:
            return None
        if np.abs(a) @ np.linalg.norm(V, axis=0) > 10 * norm:
            return None
        out = self.outputs[0] * a[0]
        for ai, o in zip(a[1:], self.outputs[1:]):
            out += ai * o
        return out

    def add(self, v, out):
        # Copies: callers may change the arrays they pass or receive.
        self.inputs.append(np.array(v, dtype=float, copy=True))
        self.outputs.append(np.array(out, copy=True))
        if len(self.inputs) > self.capacity:
            del self.inputs[0], self.outputs[0]


class MatrixFreeResiduals:
    """Residuals of a problem and their Jacobian as a LinearOperator, by blocks.

    Pass :meth:`residuals` as ``fun`` and :meth:`jacobian` as ``jac`` to
    ``scipy.optimize.least_squares(..., tr_solver='lsmr')``. scipy asks for
    the Jacobian only at a point whose residuals it has just computed:
    :meth:`jacobian` then linearises around the activations that call kept,
    without another pass over the data.

    Parameters
    ----------
    problem : LeastSquaresProblem
        The objective.
    block_rows : int, default=None
        Rows per block; by default a block's widest activation array is about
        ``BLOCK_BYTES``.
    """

    def __init__(self, problem, block_rows=None):
        self.problem = problem
        self.blocks = _row_blocks(problem.n_samples, problem.layer_sizes, block_rows)
        self.shape = (problem.n_samples * problem.n_outputs + problem.n_reg,)
        self._last = None  # (theta, residuals, memos) of the last evaluation
        self._linearized = []  # the memos of the last operator

    def _functions(self, memos):
        return [
            _block_function(self.problem, rows, memo)
            for rows, memo in zip(self.blocks, memos)
        ]

    def _penalty(self, theta):
        p = self.problem
        return p.reg_scale * theta[p._weight_cols]

    def residuals(self, theta):
        """The residual vector, equal to ``problem.residuals(theta)``."""
        theta = np.asarray(theta, dtype=float)
        if self._last is not None and np.array_equal(self._last[0], theta):
            return self._last[1].copy()
        fused = self.problem._fused is not None
        memos = [Linearization() if fused else None for _ in self.blocks]
        r = np.empty(self.shape)
        K, n_data = (
            self.problem.n_outputs,
            self.problem.n_samples * self.problem.n_outputs,
        )
        for rows, fun in zip(self.blocks, self._functions(memos)):
            r[rows.start * K : rows.stop * K] = fun(theta)
        if self.problem.n_reg:
            r[n_data:] = self._penalty(theta)
        self._last = (np.array(theta, copy=True), r, memos)
        return r.copy()

    def jacobian(self, theta):
        """The residual Jacobian at ``theta`` as a LinearOperator.

        ``J @ v`` (``matvec``) is autograd's Jacobian-vector product and
        ``J.T @ u`` (``rmatvec``) its vector-Jacobian product, block by block.
        """
        theta = np.array(theta, dtype=float, copy=True)
        if self._last is None or not np.array_equal(self._last[0], theta):
            self.residuals(theta)
        # The previous operator is about to be dropped: free its slopes now
        # (it recomputes them should it still be used).
        for memo in self._linearized:
            if memo is not None:
                memo.slopes = None
        memos = self._linearized = self._last[2]
        p = self.problem
        K, P, n_data = p.n_outputs, p.n_params, p.n_samples * p.n_outputs
        blocks = []
        for rows, fun in zip(self.blocks, self._functions(memos)):
            vjp, _ = make_vjp(fun, theta)  # the memo's evaluation: no recomputing
            blocks.append((slice(rows.start * K, rows.stop * K), fun, vjp))
        penalty = self._penalty
        reg_vjp = make_vjp(penalty, theta)[0] if p.n_reg else None

        products = _Products(PRODUCTS_KEPT)
        transposed = _Products(1)

        def jvps(V):
            # Column after column within a block, while the block is in cache.
            out = np.empty((self.shape[0], V.shape[1]))
            for res_rows, fun, _ in blocks:
                jvp = make_jvp(fun)(theta)
                for j in range(V.shape[1]):
                    out[res_rows, j] = jvp(V[:, j])[1]
            if p.n_reg:
                jvp = make_jvp(penalty)(theta)
                for j in range(V.shape[1]):
                    out[n_data:, j] = jvp(V[:, j])[1]
            return out

        def matmat(V):
            V = np.asarray(V, dtype=float)
            out = np.empty((self.shape[0], V.shape[1]))
            todo = []
            for j in range(V.shape[1]):
                known = products.lookup(V[:, j])
                if known is None:
                    todo.append(j)
                else:
                    out[:, j] = known
            if todo:
                out[:, todo] = jvps(V[:, todo])
                for j in todo:
                    products.add(V[:, j], out[:, j])
            return out

        def matvec(v):
            return matmat(np.asarray(v, dtype=float).reshape(-1, 1))[:, 0]

        def rmatvec(u):
            u = np.asarray(u, dtype=float).ravel()
            g = transposed.lookup(u)
            if g is not None:
                return g
            g = np.zeros(P)
            for res_rows, _, vjp in blocks:
                g += vjp(u[res_rows])
            if p.n_reg:
                g += reg_vjp(u[n_data:])
            transposed.add(u, g)
            return g

        return LinearOperator(
            (self.shape[0], P),
            matvec=matvec,
            rmatvec=rmatvec,
            matmat=matmat,
            dtype=float,
        )


def jacobian_operator(problem, theta, block_rows=None):
    """The residual Jacobian of ``problem`` at ``theta`` as a LinearOperator.

    Usable as the return value of ``jac`` in
    ``scipy.optimize.least_squares(..., tr_solver='lsmr')``; inside a solver
    loop prefer :class:`MatrixFreeResiduals`, which shares the forward pass
    with the residuals.

    Parameters
    ----------
    problem : LeastSquaresProblem
        The objective; :meth:`LeastSquaresProblem.residuals` gives the
        residuals whose Jacobian this is.
    theta : ndarray of shape (n_params,)
        Where to linearise. Copied: later changes to the array do not move
        the operator.
    block_rows : int, default=None
        Rows per block; by default a block's widest activation array is about
        ``BLOCK_BYTES``.

    Returns
    -------
    J : scipy.sparse.linalg.LinearOperator of shape (n_residuals, n_params)
        ``J @ v`` (``matvec``) is autograd's Jacobian-vector product,
        ``J.T @ u`` (``rmatvec``) its vector-Jacobian product.
    """
    return MatrixFreeResiduals(problem, block_rows).jacobian(theta)


__all__ = [
    "MatrixFreeResiduals",
    "dense_jacobian_bytes",
    "jacobian_operator",
    "matrix_free_bytes",
    "residual_block",
]
