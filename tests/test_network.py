"""Tests for the pure network math in ``sklearn_tanhnet._network``."""

import re
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import elementwise_grad, grad
from autograd.differential_operators import make_jvp

from sklearn_tanhnet._network import (
    ACTIVATIONS,
    NUMPY_ACTIVATIONS,
    check_layer_sizes,
    forward,
    forward_numpy,
    get_activation,
    init_params,
    layer_sizes_of,
    logistic,
    n_params_of,
    pack,
    tanh,
    unpack,
    weight_mask,
)

# No hidden layer, one and two hidden layers, single and multiple outputs.
LAYER_SIZES = [
    [3, 1],
    [1, 1],
    [4, 3],
    [2, 5, 1],
    [3, 4, 2],
    [2, 5, 3, 1],
    [4, 3, 6, 3],
]


def random_params(layer_sizes, rng):
    return [
        (rng.normal(size=(m, n)), rng.normal(size=n))
        for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


def smooth_activation(x):
    """A user-supplied activation (not in ACTIVATIONS)."""
    return x / anp.sqrt(1.0 + x**2)


# -- packing -------------------------------------------------------------------


@pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=str)
def test_pack_unpack_round_trip(layer_sizes):
    for seed in range(5):
        rng = np.random.RandomState(seed)
        params = random_params(layer_sizes, rng)
        theta = pack(params)
        assert theta.shape == (n_params_of(layer_sizes),)
        back = unpack(theta, layer_sizes)
        assert len(back) == len(params)
        for (W, b), (W2, b2) in zip(params, back):
            assert W2.shape == W.shape and b2.shape == b.shape
            np.testing.assert_array_equal(W2, W)
            np.testing.assert_array_equal(b2, b)
        # And the other way round, from an arbitrary flat vector.
        theta = rng.normal(size=n_params_of(layer_sizes))
        np.testing.assert_array_equal(pack(unpack(theta, layer_sizes)), theta)


@pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=str)
def test_n_params_and_weight_mask_follow_pack_layout(layer_sizes):
    n_params = n_params_of(layer_sizes)
    mask = weight_mask(layer_sizes)
    assert mask.dtype == bool and mask.shape == (n_params,)
    # Packing ones for weights and zeros for biases must reproduce the mask.
    marked = [
        (np.ones((m, n)), np.zeros(n))
        for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
    ]
    np.testing.assert_array_equal(pack(marked), mask.astype(float))
    n_weights = sum(m * n for m, n in zip(layer_sizes[:-1], layer_sizes[1:]))
    assert mask.sum() == n_weights
    assert n_params - n_weights == sum(layer_sizes[1:])


def test_pack_layout_explicit():
    # Layer by layer: W in C order, then b.
    W0, b0 = np.arange(6.0).reshape(2, 3), np.array([10.0, 11.0, 12.0])
    W1, b1 = np.array([[20.0], [21.0], [22.0]]), np.array([30.0])
    theta = pack([(W0, b0), (W1, b1)])
    expected = [0, 1, 2, 3, 4, 5, 10, 11, 12, 20, 21, 22, 30]
    np.testing.assert_array_equal(theta, expected)
    assert n_params_of([2, 3, 1]) == 13
    np.testing.assert_array_equal(
        weight_mask([2, 3, 1]), [1] * 6 + [0] * 3 + [1] * 3 + [0]
    )


def test_layer_sizes_of():
    assert layer_sizes_of(3, (4, 5), 2) == [3, 4, 5, 2]
    assert layer_sizes_of(3, (), 1) == [3, 1]


# -- forward pass ----------------------------------------------------------------


def test_activation_registries_agree():
    assert set(ACTIVATIONS) == set(NUMPY_ACTIVATIONS)
    x = np.linspace(-8, 8, 101)
    for name in ACTIVATIONS:
        np.testing.assert_allclose(
            ACTIVATIONS[name](x), NUMPY_ACTIVATIONS[name](x), rtol=1e-14, atol=0
        )


def test_get_activation():
    assert get_activation("tanh") is tanh
    assert get_activation("tanh", numpy=True) is np.tanh
    assert get_activation(smooth_activation) is smooth_activation
    assert get_activation(smooth_activation, numpy=True) is smooth_activation
    with pytest.raises(KeyError):
        get_activation("softplus")


@pytest.mark.parametrize("activation", [*ACTIVATIONS, smooth_activation])
@pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=str)
def test_forward_and_forward_numpy_agree(layer_sizes, activation):
    rng = np.random.RandomState(0)
    params = random_params(layer_sizes, rng)
    X = rng.normal(size=(11, layer_sizes[0]))
    X_copy, params_copy = X.copy(), [(W.copy(), b.copy()) for W, b in params]
    out = forward(params, X, get_activation(activation))
    out_np = forward_numpy(params, X, get_activation(activation, numpy=True))
    assert out.shape == out_np.shape == (11, layer_sizes[-1])
    np.testing.assert_allclose(out, out_np, rtol=1e-13, atol=1e-14)
    # forward_numpy works in place on its temporaries, never on its inputs.
    np.testing.assert_array_equal(X, X_copy)
    for (W, b), (W2, b2) in zip(params, params_copy):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_forward_explicit_formula():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(6, 3))
    (W0, b0), (W1, b1) = params = random_params([3, 4, 2], rng)
    expected = np.tanh(X @ W0 + b0) @ W1 + b1
    np.testing.assert_allclose(forward(params, X), expected, rtol=1e-14)
    np.testing.assert_allclose(forward_numpy(params, X), expected, rtol=1e-14)
    # No hidden layer: a linear model, whatever the activation.
    ((W, b),) = linear = random_params([3, 2], rng)
    np.testing.assert_allclose(forward(linear, X, np.sin), X @ W + b, rtol=1e-14)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_permuting_hidden_units_keeps_predictions(activation):
    rng = np.random.RandomState(2)
    layer_sizes = [3, 6, 4, 2]
    (W0, b0), (W1, b1), (W2, b2) = params = random_params(layer_sizes, rng)
    X = rng.normal(size=(9, 3))
    act = get_activation(activation, numpy=True)
    before = forward_numpy(params, X, act)
    for _ in range(3):
        p1, p2 = rng.permutation(6), rng.permutation(4)
        permuted = [
            (W0[:, p1], b0[p1]),
            (W1[p1][:, p2], b1[p2]),
            (W2[p2], b2),
        ]
        np.testing.assert_allclose(
            forward_numpy(permuted, X, act), before, rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(
            forward(permuted, X, get_activation(activation)),
            before,
            rtol=1e-12,
            atol=1e-14,
        )
    # Permuting only the incoming weights is not a symmetry.
    broken = [(W0[:, p1], b0), (W1, b1), (W2, b2)]
    assert not np.allclose(forward_numpy(broken, X, act), before)


# -- activations ---------------------------------------------------------------


def test_tanh_values_and_derivatives():
    x = np.linspace(-6, 6, 97)
    t = np.tanh(x)
    np.testing.assert_array_equal(tanh(x), t)
    d1 = elementwise_grad(tanh)(x)
    d2 = elementwise_grad(elementwise_grad(tanh))(x)
    np.testing.assert_allclose(d1, 1 - t**2, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(d2, -2 * t * (1 - t**2), rtol=1e-12, atol=1e-15)
    # The same as autograd's own tanh (1 / cosh**2) where that one is safe;
    # 1 - tanh**2 cancels near saturation, hence the looser tolerance.
    np.testing.assert_allclose(d1, elementwise_grad(anp.tanh)(x), rtol=1e-10)
    np.testing.assert_allclose(
        d2, elementwise_grad(elementwise_grad(anp.tanh))(x), rtol=1e-8, atol=1e-15
    )
    # Forward mode uses the JVP rule.
    v = np.linspace(0.5, 2.0, x.size)
    ans, jvp = make_jvp(tanh)(x)(v)
    np.testing.assert_array_equal(ans, t)
    np.testing.assert_allclose(jvp, v * (1 - t**2), rtol=1e-14)
    assert grad(tanh)(0.3) == pytest.approx(1 - np.tanh(0.3) ** 2, rel=1e-15)


def test_tanh_derivatives_do_not_overflow_for_large_inputs():
    x = np.array([1000.0, -1000.0, 400.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = tanh(x)
        d1 = elementwise_grad(tanh)(x)
        d2 = elementwise_grad(elementwise_grad(tanh))(x)
        scalar = grad(tanh)(1000.0)
        _, jvp = make_jvp(tanh)(x)(np.ones_like(x))
        d_logistic = elementwise_grad(logistic)(x)
    np.testing.assert_array_equal(value, [1.0, -1.0, 1.0, 0.0])
    np.testing.assert_array_equal(d1, [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(d2, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(jvp, d1)
    np.testing.assert_array_equal(d_logistic, [0.0, 0.0, 0.0, 0.25])
    assert scalar == 0.0


def test_logistic_matches_definition():
    x = np.linspace(-30, 30, 241)
    expected = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(logistic(x), expected, rtol=1e-12, atol=1e-15)
    s = logistic(x)
    np.testing.assert_allclose(
        elementwise_grad(logistic)(x), s * (1 - s), rtol=1e-10, atol=1e-15
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(logistic(np.array([-1e4, 1e4])), [0.0, 1.0])


# -- initialisation --------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
@pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=str)
def test_init_params_shapes_and_reproducible(layer_sizes, activation):
    params = init_params(layer_sizes, np.random.RandomState(7), activation)
    again = init_params(layer_sizes, np.random.RandomState(7), activation)
    other = init_params(layer_sizes, np.random.RandomState(8), activation)
    assert len(params) == len(layer_sizes) - 1
    for (W, b), m, n in zip(params, layer_sizes[:-1], layer_sizes[1:]):
        assert W.shape == (m, n) and b.shape == (n,)
        bound = (2.0 if activation == "logistic" else 1.0) * np.sqrt(6.0 / (m + n))
        assert np.all(np.abs(W) <= bound) and np.all(np.abs(b) <= bound)
    np.testing.assert_array_equal(pack(params), pack(again))
    assert not np.array_equal(pack(params), pack(other))


def test_init_params_logistic_bound_is_twice_tanh():
    layer_sizes = [20, 30, 1]
    bound = np.sqrt(6.0 / 50)
    W_tanh = init_params(layer_sizes, np.random.RandomState(0))[0][0]
    W_log = init_params(layer_sizes, np.random.RandomState(0), "logistic")[0][0]
    assert np.abs(W_tanh).max() <= bound < np.abs(W_log).max() <= 2 * bound
    # Same random stream, scaled.
    np.testing.assert_allclose(W_log, 2 * W_tanh, rtol=1e-15)


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (3, (3,)),
        (np.int64(4), (4,)),
        ((4, 5), (4, 5)),
        ([2], (2,)),
        ((), ()),
        ([], ()),
        (np.array([3, 2]), (3, 2)),
    ],
)
def test_check_layer_sizes_accepts(value, expected):
    sizes = check_layer_sizes(value)
    assert sizes == expected
    assert isinstance(sizes, tuple)
    assert all(type(s) is int for s in sizes)


@pytest.mark.parametrize(
    "value, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (2.5, TypeError),
        (None, TypeError),
        (True, ValueError),
        ("abc", ValueError),
        ((3, 0), ValueError),
        ((3, 2.0), ValueError),
        ((4, False), ValueError),
    ],
)
def test_check_layer_sizes_rejects(value, error):
    match = rf"hidden_layer_sizes.*{re.escape(repr(value))}"
    with pytest.raises(error, match=match):
        check_layer_sizes(value)
