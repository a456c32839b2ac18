"""The network: parameters, packing, and one numpy kernel for every derivative.

A network is a list ``params`` of ``(W, b)`` pairs, one per layer; ``theta`` is
the same numbers as one flat vector (each layer's ``W`` in C order, then its
``b``). Hidden layers are activated, the last one is linear::

    Z_l = A_{l-1} W_l + b_l,   A_l = f(Z_l),   A_0 = X,   out = A_{L-1} W_L + b_L.

:class:`Network` runs this forward pass once (:meth:`Network.linearize`) and
keeps each layer's input ``A_{l-1}`` and activation slope ``f'(Z_l)`` in a
:class:`Linearization`. Everything the fit needs comes from that record:

* the vector-Jacobian product (reverse mode) for an output cotangent ``G``:
  ``delta_L = G``, ``delta_l = (delta_{l+1} W_{l+1}') * f'(Z_l)``, and the
  gradient blocks ``A_{l-1}' delta_l`` and ``sum_i delta_l``;
* the Jacobian-vector product (forward mode) for a parameter tangent ``v``:
  ``dZ_l = dA_{l-1} W_l + A_{l-1} dW_l + db_l``, ``dA_l = dZ_l * f'(Z_l)``;
* the dense Jacobian of the outputs: rows do not interact, so every row's
  delta for output ``k`` comes from one backward pass of the unit cotangent
  ``e_k``, and a layer's weight block is the row-wise outer product of its
  inputs with those deltas.

Activations are ``(f, f')`` pairs in one table, :data:`ACTIVATIONS`, with the
slope written from the pre-activation and the output (``1 - tanh**2`` from
the output never overflows); a callable activation gets its slope from
autograd. :func:`forward` is autograd's generic network, the independent
reference the tests compare the kernel with and the function
``autograd.hessian`` differentiates for the exact Hessian.
"""

import numbers
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd import elementwise_grad
from autograd.extend import defjvp, defvjp, primitive
from scipy import sparse
from scipy.linalg import block_diag


@primitive
def tanh(x):
    """Hyperbolic tangent for autograd whose derivative is ``1 - tanh(x)**2``.

    autograd's own tanh differentiates as ``1 / cosh(x)**2``, which overflows
    (and warns) for ``|x| > ~355``; the form in terms of the output never does.
    """
    return np.tanh(x)


defvjp(tanh, lambda ans, x: lambda g: g * (1.0 - ans**2))
defjvp(tanh, lambda g, ans, x: g * (1.0 - ans**2))


def logistic(x):
    """Logistic sigmoid, written through tanh so it never overflows."""
    return 0.5 * (tanh(0.5 * x) + 1.0)


def relu(x):
    """Rectified linear unit."""
    return anp.maximum(x, 0.0)


def identity(x):
    """Identity activation: the network becomes a linear model."""
    return x


@dataclass(frozen=True)
class Activation:
    """An activation for the numpy kernel and for autograd.

    ``function``, ``slope(Z, A)`` (the derivative at ``Z``, given also
    ``A = function(Z)``) and ``curvature(Z, A, slope)`` (the second
    derivative, given also the slope) are plain numpy; ``traced`` is the same
    function in autograd.numpy, for the reference network. ``slope`` and
    ``curvature`` are None for the identity, ``curvature`` None where the
    second derivative is zero almost everywhere (relu).
    """

    function: object
    slope: object
    traced: object
    curvature: object = None


def _tanh_slope(Z, A):
    # In place: a fresh array for ``1.0 - A * A`` costs several times more.
    slope = A * A
    return np.subtract(1.0, slope, out=slope)


def _copy_into(buffer, values):
    if values is None:
        return None
    buffer[...] = values
    return buffer


def _column_sums(M):
    # A BLAS product: numpy's sum over axis 0 is several times slower.
    return np.ones(M.shape[0]) @ M


def _weighted_input_grams(X, U):
    """``Q[j] = X' diag(U[:, j]) X`` for every column ``j`` of ``U``: shape
    (n_columns, m, m) for ``X`` of shape (n, m).

    One matrix product either way, over whichever broadcast is the smaller:
    the rows' outer products ``x_i x_i'`` (``m^2`` a row) against ``U``, or
    ``X`` against the rows scaled per column (``m`` times ``U``'s width a row).
    """
    n, m = X.shape
    h = U.shape[1]
    if m <= h:
        outer = (X[:, :, None] * X[:, None, :]).reshape(n, m * m)
        return (U.T @ outer).reshape(h, m, m)
    scaled = (X[:, :, None] * U[:, None, :]).reshape(n, m * h)
    return (X.T @ scaled).reshape(m, m, h).transpose(2, 0, 1)


class CenteredSparse:
    """The inputs ``S - 1 c'`` of a sparse ``S`` (CSR) and a dense centre ``c``.

    Standardised sparse data without densifying: ``S`` holds the columns
    already divided by their scale, ``c`` the means over the scales. The
    kernel's first layer needs only these products, each a sparse product
    and a rank-one correction::

        A W  = S W - 1 (c'W),         A'D = S'D - c (1'D),
        (A * A)'D = (S * S)'D - 2 c * (S'D) + c^2 (1'D),

    and rows (``A[rows]``); the dense Jacobian densifies one block of rows
    at a time (:meth:`toarray`), no larger than the block's Jacobian.
    """

    def __init__(self, matrix, centre):
        self.matrix = matrix
        self.centre = np.asarray(centre, dtype=float)
        self.shape = matrix.shape

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        return CenteredSparse(self.matrix[rows], self.centre)

    def __matmul__(self, W):
        return self.matrix @ W - self.centre @ W

    @property
    def T(self):
        return _TransposedCenteredSparse(self)

    def squared_t_dot(self, D):
        """``(A * A)' D`` without forming ``A * A``."""
        c, S = self.centre, self.matrix
        sums = _column_sums(D)
        return (
            S.multiply(S).T @ D - 2.0 * c[:, None] * (S.T @ D) + np.outer(c * c, sums)
        )

    def toarray(self):
        return self.matrix.toarray() - self.centre

    def row_gram(self):
        """``A A'``: ``S S' - (S c) 1' - 1 (S c)' + c'c``, dense (n x n)."""
        S, c = self.matrix, self.centre
        Sc = S @ c
        gram = (S @ S.T).toarray()
        return gram - Sc[:, None] - Sc[None, :] + c @ c


class _TransposedCenteredSparse:
    def __init__(self, inputs):
        self.inputs = inputs

    def __matmul__(self, D):
        inputs = self.inputs
        return inputs.matrix.T @ D - np.outer(inputs.centre, _column_sums(D))


def _squared_t_dot(A, D):
    """``(A * A)' D`` for dense or :class:`CenteredSparse` inputs ``A``."""
    if isinstance(A, CenteredSparse):
        return A.squared_t_dot(D)
    return (A * A).T @ D


def _row_gram(A):
    return A.row_gram() if isinstance(A, CenteredSparse) else A @ A.T


def _dense(A):
    return A.toarray() if isinstance(A, CenteredSparse) else A


def _logistic(Z):
    return 0.5 * (np.tanh(0.5 * Z) + 1.0)


ACTIVATIONS = {
    # tanh'' = -2 tanh tanh', logistic'' = logistic' (1 - 2 logistic),
    # sin'' = -sin: each from what the forward pass keeps.
    "tanh": Activation(np.tanh, _tanh_slope, tanh, lambda Z, A, S: -2.0 * A * S),
    "logistic": Activation(
        _logistic,
        lambda Z, A: A * (1.0 - A),
        logistic,
        lambda Z, A, S: S * (1.0 - 2.0 * A),
    ),
    "relu": Activation(
        lambda Z: np.maximum(Z, 0.0), lambda Z, A: (Z > 0.0).astype(Z.dtype), relu
    ),
    "sin": Activation(np.sin, lambda Z, A: np.cos(Z), anp.sin, lambda Z, A, S: -A),
    "identity": Activation(identity, None, identity),
}


def get_activation(activation):
    """The :class:`Activation` named by ``activation``, or built for a callable.

    A callable must be written in autograd.numpy; its slope is autograd's
    elementwise derivative.
    """
    if isinstance(activation, Activation):
        return activation
    if callable(activation):
        slope = elementwise_grad(activation)
        curvature = elementwise_grad(slope)
        return Activation(
            activation,
            lambda Z, A: slope(Z),
            activation,
            lambda Z, A, S: curvature(Z),
        )
    return ACTIVATIONS[activation]


def layer_sizes_of(n_features, hidden_layer_sizes, n_outputs):
    """Full layer sizes ``[n_in, *hidden, n_out]``."""
    return [n_features, *hidden_layer_sizes, n_outputs]


def n_params_of(layer_sizes):
    """Number of parameters (weights and biases) of a network."""
    return sum((m + 1) * n for m, n in zip(layer_sizes[:-1], layer_sizes[1:]))


def weight_mask(layer_sizes):
    """Boolean mask over ``theta``: True for weights, False for biases."""
    # Slices of one array: every problem of a fit builds this mask, and
    # np.r_ per layer costs more than the rest of it.
    mask = np.zeros(n_params_of(layer_sizes), dtype=bool)
    start = 0
    for m, n in zip(layer_sizes[:-1], layer_sizes[1:]):
        mask[start : start + m * n] = True
        start += (m + 1) * n
    return mask


def weight_groups(layer_sizes, ard=False):
    """Penalty group of every weight, in the order of ``theta[weight_mask]``.

    One group per layer; with ``ard`` (automatic relevance determination)
    the first layer's weights are grouped by their input feature instead
    (groups ``0 .. n_features - 1``), the other layers follow.
    """
    groups = []
    for layer, (m, n) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        if ard and layer == 0:
            groups.append(np.repeat(np.arange(m), n))  # W[a, j] is C-ordered
        else:
            offset = layer_sizes[0] - 1 if ard else 0
            groups.append(np.full(m * n, layer + offset))
    return np.concatenate(groups)


def init_params(layer_sizes, rng, activation="tanh"):
    """Random initial ``params``: Glorot-uniform weights and biases.

    The bound ``sqrt(6 / (fan_in + fan_out))`` keeps the pre-activations of a
    standardised input inside the non-saturated range of tanh; for the logistic
    function the bound is twice as large (Glorot and Bengio, 2010), as in
    scikit-learn's MLP.
    """
    factor = 2.0 if activation == "logistic" else 1.0
    params = []
    for m, n in zip(layer_sizes[:-1], layer_sizes[1:]):
        bound = factor * np.sqrt(6.0 / (m + n))
        params.append(
            (rng.uniform(-bound, bound, (m, n)), rng.uniform(-bound, bound, n))
        )
    return params


def pack(params):
    """Flatten ``params`` into one vector ``theta``."""
    return anp.concatenate([anp.concatenate([anp.ravel(W), b]) for W, b in params])


def unpack(theta, layer_sizes):
    """Inverse of :func:`pack`: slice ``theta`` back into ``(W, b)`` pairs."""
    params, start = [], 0
    for m, n in zip(layer_sizes[:-1], layer_sizes[1:]):
        W = anp.reshape(theta[start : start + m * n], (m, n))
        b = theta[start + m * n : start + (m + 1) * n]
        params.append((W, b))
        start += (m + 1) * n
    return params


def fold_scaling(params, x_mean, x_scale, y_mean, y_scale):
    """Fold input and output standardisation into the first and last layers.

    The result is a network on raw inputs giving raw outputs, equal (up to
    rounding) to ``y_mean + y_scale * net((X - x_mean) / x_scale)``.
    """
    params = [(np.array(W), np.array(b)) for W, b in params]
    # X's and y's scales can be too far apart for float64 (1e300 / 1e-300):
    # the caller checks the result is finite and says so.
    with np.errstate(over="ignore", invalid="ignore"):
        W, b = params[0]
        params[0] = (W / x_scale[:, None], b - (x_mean / x_scale) @ W)
        W, b = params[-1]
        params[-1] = (W * y_scale, b * y_scale + y_mean)
    return params


def side_by_side(networks):
    """The one network whose output is the mean of ``networks``' outputs.

    ``networks`` are lists of ``(W, b)`` of equal depth, inputs and outputs.
    Their hidden units stand side by side: the first layers' columns are
    joined, the deeper hidden layers are block-diagonal (no unit sees
    another network's), and the output weights are stacked and divided by
    the number of networks, the output biases averaged. So it computes
    exactly the mean of their predictions, up to rounding, for any
    elementwise activation.
    """
    k, last = len(networks), len(networks[0]) - 1
    layers = []
    for depth in range(last + 1):
        Ws = [np.asarray(net[depth][0]) for net in networks]
        bs = [np.asarray(net[depth][1]) for net in networks]
        if depth == last:  # the outputs: the members' mean
            W = np.vstack(Ws) / k if last > 0 else np.mean(Ws, axis=0)
            layers.append((W, np.mean(bs, axis=0)))
        else:
            W = np.hstack(Ws) if depth == 0 else block_diag(*Ws)
            layers.append((W, np.concatenate(bs)))
    return layers


def zero_output_layer(theta, layer_sizes):
    """``theta`` with the output layer set to zero.

    A zero output layer predicts the constant target of standardised data
    exactly, and no gradient ever moves it: every solver stops there at once.
    """
    theta = np.array(theta, dtype=float)
    theta[-(layer_sizes[-2] + 1) * layer_sizes[-1] :] = 0.0
    return theta


def forward(params, X, activation="tanh"):
    """autograd's generic network: the reference for the kernel's derivatives.

    ``activation`` is a name, a callable or an :class:`Activation`; it is
    traced through autograd.numpy, so :func:`autograd.hessian` of a loss of
    this function is the exact Hessian.
    """
    act = get_activation(activation).traced
    A = X
    for W, b in params[:-1]:
        A = act(anp.dot(A, W) + b)
    W, b = params[-1]
    return anp.dot(A, W) + b


class Network:
    """A feed-forward network of given layer sizes and activation, in numpy.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``.
    activation : str, callable or Activation, default='tanh'
        Hidden-layer activation.
    """

    def __init__(self, layer_sizes, activation="tanh"):
        self.layer_sizes = [int(s) for s in layer_sizes]
        self.activation = get_activation(activation)
        self.n_params = n_params_of(self.layer_sizes)
        self.n_outputs = self.layer_sizes[-1]
        self.starts = np.cumsum(
            [0] + [(m + 1) * h for m, h in zip(layer_sizes[:-1], layer_sizes[1:])]
        )[:-1].tolist()
        self._layout = [
            (slice(s, s + m * h), (m, h), slice(s + m * h, s + (m + 1) * h))
            for s, m, h in zip(self.starts, self.layer_sizes[:-1], self.layer_sizes[1:])
        ]

    def unpack(self, theta):
        """``(W, b)`` views of ``theta``, one pair per layer."""
        return [(theta[w].reshape(shape), theta[b]) for w, shape, b in self._layout]

    def _run(self, params, X, keep, record=None):
        """The forward pass; with ``keep``, every layer's input and slope too.

        With ``record`` (a :class:`Linearization` of rows of the same shape),
        the activations and slopes are written into its arrays: a solver
        that relinearises every step reuses that memory instead of touching
        fresh pages.
        """
        act = self.activation
        inputs, slopes, A = [], [], X
        for layer, (W, b) in enumerate(params[:-1]):
            Z = A @ W
            Z += b
            A = act.function(Z)
            if keep:
                slope = None if act.slope is None else act.slope(Z, A)
                if record is not None:
                    A = _copy_into(record.inputs[layer + 1], A)
                    slope = _copy_into(record.slopes[layer], slope)
                slopes.append(slope)
                inputs.append(A)
        W, b = params[-1]
        out = A @ W
        out += b
        return out, [X, *inputs], slopes

    def output(self, theta, X):
        """Network output for inputs ``X``, shape (n_rows, n_outputs)."""
        return self._run(self.unpack(theta), X, keep=False)[0]

    def linearize(self, theta, X):
        """Run the forward pass once and keep what the derivatives need.

        The record holds its own copy of ``theta``: changing the caller's
        array afterwards does not change the linearisation.
        """
        params = self.unpack(np.array(theta, dtype=float))
        out, inputs, slopes = self._run(params, X, keep=True)
        return Linearization(self, params, out, inputs, slopes)

    def predict(self, params, X, block=256):
        """Output of ``params`` in fixed blocks of ``block`` rows (the last padded).

        ``X`` may be a scipy sparse matrix (the first layer's product is then
        sparse). BLAS picks its kernel by the number of rows, and kernels sum in
        different orders: one row alone can differ from the same row in a
        batch by an ulp. Every row here goes through a product of the same
        shape, so a prediction does not depend on how the rows were batched;
        the cache-sized blocks are also faster than one large product.
        """
        n = X.shape[0]
        out = np.empty((n, self.n_outputs))
        for start in range(0, n, block):
            rows = X[start : start + block]
            # Sparse products do not depend on the batch: no padding.
            if rows.shape[0] < block and not sparse.issparse(rows):
                pad = np.zeros((block - rows.shape[0], X.shape[1]))
                rows = np.concatenate([rows, pad])
            out[start : start + block] = self._run(params, rows, keep=False)[0][
                : min(block, n - start)
            ]
        return out


class Linearization:
    """The forward pass of one ``theta`` on one block of rows, and its derivatives.

    Attributes
    ----------
    output : ndarray of shape (n_rows, n_outputs)
        Network output.
    inputs : list of ndarray
        Each layer's input: ``X``, then each hidden layer's activations.
    slopes : list of ndarray or None
        Each hidden layer's activation slope ``f'(Z_l)`` (None for identity).
    """

    def __init__(self, network, params, output, inputs, slopes):
        self.network = network
        self.params = params
        self.output = output
        self.inputs = inputs
        self.slopes = slopes

    def refresh(self, theta):
        """Relinearise at ``theta`` in place, on the same rows."""
        network = self.network
        self.params = network.unpack(np.array(theta, dtype=float))
        self.output = network._run(self.params, self.inputs[0], True, self)[0]

    def _deltas(self, G):
        """Per-row deltas of every layer, first to last, for output cotangent ``G``.

        ``G`` has shape (n_rows * n_cotangents, n_outputs): ``n_cotangents``
        consecutive rows belong to one row of the data (one cotangent per
        output, for the Jacobian).
        """
        n = self.output.shape[0]
        deltas = [G]
        for (W, _), slope in zip(self.params[:0:-1], self.slopes[::-1]):
            delta = deltas[-1] @ W.T
            if slope is not None and delta.shape[0] == n:
                delta *= slope
            elif slope is not None:  # several cotangents per row
                view = delta.reshape(n, -1, delta.shape[1])
                view *= slope[:, None, :]
            deltas.append(delta)
        return deltas[::-1]

    def vjp(self, G):
        """Gradient w.r.t. ``theta`` of ``sum(G * output)``, shape (n_params,)."""
        blocks = []
        for A, delta in zip(self.inputs, self._deltas(G)):
            blocks += [(A.T @ delta).ravel(), _column_sums(delta)]
        return np.concatenate(blocks)

    def input_vjp(self, G):
        """Gradient w.r.t. the inputs of ``sum(G * output)``, shape of ``X``."""
        return self._deltas(G)[0] @ self.params[0][0].T

    def jvp(self, v):
        """Directional derivative of the output along ``v``, (n_rows, n_outputs)."""
        tangents = self.network.unpack(v)
        dA = None
        for (W, _), (dW, db), A, slope in zip(
            self.params, tangents, self.inputs, [*self.slopes, None]
        ):
            dZ = A @ dW
            dZ += db
            if dA is not None:
                dZ += dA @ W
            if slope is not None:
                dZ *= slope
            dA = dZ
        return dA

    def _unit_deltas(self, scale):
        """Deltas of every layer for the cotangents ``scale_i e_k``, all ``k``."""
        n, K = self.output.shape
        if K == 1:
            return self._deltas(scale[:, None])
        G = (scale[:, None, None] * np.eye(K)).reshape(n * K, K)
        return self._deltas(G)

    def residual_kernels(self, row_scale):
        """Each layer's weight kernel ``J_l J_l'`` and the biases' Jacobian.

        For the Jacobian ``row_scale * d output`` with rows ordered as
        ``output.ravel()`` (``M = n_rows * n_outputs`` of them). Row ``(i, k)``
        of layer ``l``'s weight block is the outer product of the layer's input
        ``A_i`` with the delta ``d_ik`` of the unit cotangent, so::

            (J_l J_l')[(i, k), (j, m)] = (A_i . A_j) (d_ik . d_jm),

        an ``n x n`` product of inputs and an ``M x M`` product of deltas
        (``M^2 h_l`` multiply-adds instead of ``M^2 m_l h_l``); the biases'
        columns are the deltas themselves.

        Returns
        -------
        weight_kernels : list of ndarray of shape (M, M)
            One per layer, first to last.
        bias_kernel : ndarray of shape (M, M)
            ``J_u J_u'`` of all biases: the sum of the deltas' products.
        bias_jacobian : ndarray of shape (M, n_biases)
            Every layer's bias columns.
        """
        n, K = self.output.shape
        kernels, bias_columns, bias_kernel = [], [], 0.0
        for A, delta in zip(self.inputs, self._unit_deltas(row_scale)):
            deltas_gram = delta @ delta.T
            bias_kernel = bias_kernel + deltas_gram
            deltas_gram = deltas_gram.reshape(n, K, n, K)
            deltas_gram *= _row_gram(A)[:, None, :, None]
            kernels.append(deltas_gram.reshape(n * K, n * K))
            bias_columns.append(delta)
        return kernels, bias_kernel, np.concatenate(bias_columns, axis=1)

    def gram_diagonal(self, row_scale):
        """The diagonal of ``J'J`` for the Jacobian ``row_scale * d output``."""
        net, n = self.network, self.output.shape[0]
        K = net.n_outputs
        blocks = []
        for A, delta in zip(self.inputs, self._unit_deltas(row_scale)[:-1]):
            squared = delta * delta
            if K > 1:
                squared = squared.reshape(n, K, -1).sum(axis=1)
            blocks += [_squared_t_dot(A, squared).ravel(), _column_sums(squared)]
        # Output layer: column (j, k) of W_L is A_j scaled, column k of b_L scale.
        A = self.inputs[-1]
        scale2 = row_scale * row_scale
        column = _squared_t_dot(A, scale2[:, None]).ravel()
        blocks += [np.repeat(column, K), np.full(K, scale2.sum())]
        return np.concatenate(blocks)

    def residual_curvature(self, G):
        """``sum_ik G_ik`` times the Hessian of ``output_ik``, shape (P, P).

        With ``G`` the scaled residuals times the row scale (the cotangent of
        the data gradient ``J'r``), this is the second-order term of the data
        loss's exact Hessian, ``J'J +`` this: Gauss-Newton drops it, Newton
        needs it. For one hidden layer, ``output = f(X W1 + b1) W2 + b2``,
        with ``x~ = [x, 1]`` (so that ``b1`` is a last row of ``W1``), only two
        kinds of second derivative are not zero, both within one hidden unit
        ``j``::

            d2 / dW1[m, j] dW1[m', j] = sum_i (G W2')_ij f''(Z_ij) x~_im x~_im'
            d2 / dW1[m, j] dW2[j, k]  = sum_i G_ik f'(Z_ij) x~_im

        (first-layer parameters are laid out as ``m * h + j`` for ``m`` up to
        ``n_features``, the bias last). Deeper networks have no such form:
        ValueError.
        """
        if len(self.params) != 2:
            raise ValueError(
                "The residual curvature is written for networks of one hidden "
                f"layer, got layer sizes {self.network.layer_sizes}."
            )
        (W1, b1), (W2, _) = self.params
        X = _dense(self.inputs[0])
        n, h, K = X.shape[0], W1.shape[1], W2.shape[1]
        X1 = np.concatenate([X, np.ones((n, 1))], axis=1)
        m1 = X1.shape[1]
        slope = self.slopes[0]
        slope = np.ones((n, h)) if slope is None else slope
        S = np.zeros((self.network.n_params, self.network.n_params))
        first = m1 * h
        units = np.arange(h)
        curvature = self.network.activation.curvature
        if curvature is not None:
            # Z again (one product): a callable's second derivative needs it.
            U = (G @ W2.T) * curvature(X @ W1 + b1, self.inputs[1], slope)
            block = S[:first, :first].reshape(m1, h, m1, h)
            block[:, units, :, units] = _weighted_input_grams(X1, U)
        # V[m, j, k] = sum_i x~_im f'(Z_ij) G_ik: one product.
        V = X1.T @ (slope[:, :, None] * G[:, None, :]).reshape(n, h * K)
        V = V.reshape(m1, h, K)
        cross = S[:first, first : first + h * K].reshape(m1, h, h, K)
        cross[:, units, units, :] = V
        S[first : first + h * K, :first] = S[:first, first : first + h * K].T
        return S

    def gram_product(self, v, row_weight):
        """``J' diag(row_weight) J v`` for the Jacobian of the outputs.

        One forward-mode and one reverse-mode pass through the kept record.
        """
        return self.vjp(self.jvp(v) * row_weight[:, None])

    def jacobian(self, row_scale=None, out=None):
        """Jacobian of the outputs (times ``row_scale`` per row), dense.

        Rows are ordered as ``output.ravel()``: row ``i * n_outputs + k`` is the
        gradient of output ``k`` at row ``i``. Shape (n_rows * n_outputs,
        n_params); written into ``out`` when given.
        """
        net, n = self.network, self.output.shape[0]
        K, P = net.n_outputs, net.n_params
        J = np.empty((n * K, P)) if out is None else out
        J3 = J.reshape(n, K, P)
        scale = np.ones(n) if row_scale is None else row_scale
        deltas = self._unit_deltas(scale)
        for s, A, delta in zip(net.starts, self.inputs, deltas[:-1]):
            A = _dense(A)  # a sparse first layer: one block of rows
            m, h = A.shape[1], delta.shape[1]
            block = J3[:, :, s : s + m * h].reshape(n, K, m, h)
            np.multiply(A[:, None, :, None], delta.reshape(n, K, 1, h), out=block)
            J3[:, :, s + m * h : s + (m + 1) * h] = delta.reshape(n, K, h)
        # Output layer: output k depends on W_L[:, k] and b_L[k] only (with
        # one output, every column of the layer is written below).
        s, m = net.starts[-1], self.inputs[-1].shape[1]
        if K > 1:
            J3[:, :, s:] = 0.0
        scaled = _dense(self.inputs[-1]) * scale[:, None]
        for k in range(K):
            J3[:, k, s + k : s + m * K : K] = scaled
            J3[:, k, s + m * K + k] = scale
        return J


def check_layer_sizes(hidden_layer_sizes):
    """Validate ``hidden_layer_sizes``; return it as a tuple of ints."""
    if isinstance(hidden_layer_sizes, numbers.Integral):
        hidden_layer_sizes = (hidden_layer_sizes,)
    try:
        sizes = tuple(hidden_layer_sizes)
    except TypeError:
        raise TypeError(
            "hidden_layer_sizes must be an int or a sequence of ints, got "
            f"{hidden_layer_sizes!r}"
        ) from None
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1:
            raise ValueError(
                "hidden_layer_sizes must contain positive integers, got "
                f"{hidden_layer_sizes!r}"
            )
    return tuple(int(s) for s in sizes)
