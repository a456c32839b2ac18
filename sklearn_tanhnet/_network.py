"""Pure network math in autograd.numpy: parameters, packing, forward pass.

A network is a list ``params`` of ``(W, b)`` pairs, one per layer; ``theta`` is
the same numbers as one flat vector (each layer's ``W`` in C order, then its
``b``). Nothing here knows about data scaling, losses or estimators.
"""

import numbers

import autograd.numpy as anp
import numpy as np
from autograd.extend import defjvp, defvjp, primitive


@primitive
def tanh(x):
    """Hyperbolic tangent whose derivative is ``1 - tanh(x)**2``.

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


ACTIVATIONS = {
    "tanh": tanh,
    "logistic": logistic,
    "relu": relu,
    "sin": anp.sin,
    "identity": identity,
}

# The same functions in plain numpy: prediction needs no autograd tracing.
NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "logistic": lambda x: 0.5 * (np.tanh(0.5 * x) + 1.0),
    "relu": lambda x: np.maximum(x, 0.0),
    "sin": np.sin,
    "identity": identity,
}


def get_activation(activation, numpy=False):
    """Return the activation function named by ``activation`` (or itself)."""
    if callable(activation):
        return activation
    return (NUMPY_ACTIVATIONS if numpy else ACTIVATIONS)[activation]


def layer_sizes_of(n_features, hidden_layer_sizes, n_outputs):
    """Full layer sizes ``[n_in, *hidden, n_out]``."""
    return [n_features, *hidden_layer_sizes, n_outputs]


def n_params_of(layer_sizes):
    """Number of parameters (weights and biases) of a network."""
    return sum((m + 1) * n for m, n in zip(layer_sizes[:-1], layer_sizes[1:]))


def weight_mask(layer_sizes):
    """Boolean mask over ``theta``: True for weights, False for biases."""
    return np.concatenate(
        [
            np.r_[np.ones(m * n, dtype=bool), np.zeros(n, dtype=bool)]
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
        ]
    )


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


def forward(params, X, activation=tanh):
    """Network output for inputs ``X`` of shape (n_samples, n_features).

    Hidden layers are activated; the last layer is linear.
    """
    A = X
    for W, b in params[:-1]:
        A = activation(anp.dot(A, W) + b)
    W, b = params[-1]
    return anp.dot(A, W) + b


def forward_numpy(params, X, activation=np.tanh):
    """:func:`forward` in plain numpy, for prediction without tracing."""
    A = X
    for W, b in params[:-1]:
        A = np.dot(A, W)
        A += b
        A = activation(A)
    W, b = params[-1]
    out = np.dot(A, W)
    out += b
    return out


def forward_blocks(params, X, activation=np.tanh, block=256):
    """:func:`forward_numpy` in fixed blocks of ``block`` rows (the last padded).

    BLAS picks its kernel by the number of rows, and kernels sum in different
    orders: one row alone can differ from the same row in a batch by an ulp.
    Every row here goes through a product of the same shape, so a prediction
    does not depend on how the rows were batched; the cache-sized blocks are
    also faster than one large product.
    """
    n = X.shape[0]
    out = np.empty((n, params[-1][0].shape[1]))
    for start in range(0, n, block):
        rows = X[start : start + block]
        if rows.shape[0] < block:
            rows = np.concatenate([rows, np.zeros((block - rows.shape[0], X.shape[1]))])
        out[start : start + block] = forward_numpy(params, rows, activation)[
            : min(block, n - start)
        ]
    return out


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
