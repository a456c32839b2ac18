"""Tests for the network and its numpy kernel in ``sklearn_tanhnet._network``.

Every derivative of the kernel (:class:`Linearization`) is held against
autograd's derivatives of the generic network :func:`forward`, and
:func:`forward` itself against an explicit formula written here.
"""

import re
import warnings

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import elementwise_grad, grad
from autograd.differential_operators import make_jvp

from sklearn_tanhnet._network import (
    ACTIVATIONS,
    Activation,
    CenteredSparse,
    Network,
    check_layer_sizes,
    fold_scaling,
    forward,
    get_activation,
    init_params,
    layer_sizes_of,
    logistic,
    n_params_of,
    pack,
    tanh,
    unpack,
    weight_groups,
    weight_mask,
    zero_output_layer,
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


def smooth_activation(x):
    """A user-supplied activation (not in ACTIVATIONS), in autograd.numpy."""
    return x / anp.sqrt(1.0 + x**2)


# Independent definitions of every named activation, for the reference network.
REFERENCE_ACTIVATIONS = {
    "tanh": np.tanh,
    "logistic": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "sin": np.sin,
    "identity": lambda x: x,
}
ALL_ACTIVATIONS = [*ACTIVATIONS, smooth_activation]


def activation_id(activation):
    return activation if isinstance(activation, str) else "callable"


def random_params(layer_sizes, rng):
    return [
        (rng.normal(size=(m, n)), rng.normal(size=n))
        for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


def explicit_forward(params, X, activation):
    """``A_l = f(A_{l-1} W_l + b_l)``, the last layer linear, in plain numpy."""
    f = REFERENCE_ACTIVATIONS.get(activation, activation)
    A = X
    for W, b in params[:-1]:
        A = f(A @ W + b)
    W, b = params[-1]
    return A @ W + b


def make_case(layer_sizes, activation, n=11, seed=0):
    rng = np.random.RandomState(seed)
    params = random_params(layer_sizes, rng)
    X = rng.normal(size=(n, layer_sizes[0]))
    return Network(layer_sizes, activation), params, pack(params), X, rng


def reference_jacobian(layer_sizes, activation, X):
    """autograd's Jacobian of ``forward(...).ravel()``, (n * K, P)."""

    def outputs(theta):
        return anp.ravel(forward(unpack(theta, layer_sizes), X, activation))

    return autograd.jacobian(outputs)


def close(actual, desired, rtol=1e-12):
    # Entries that cancel to nearly zero get an absolute floor at rounding level.
    scale = max(np.max(np.abs(desired)), 1.0)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=1e-14 * scale)


kernel_cases = pytest.mark.parametrize("activation", ALL_ACTIVATIONS, ids=activation_id)
sizes_cases = pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=str)


# -- packing -------------------------------------------------------------------


@sizes_cases
def test_pack_unpack_round_trip(layer_sizes):
    for seed in range(3):
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
        # The network's own views slice theta the same way, without copies.
        net = Network(layer_sizes)
        assert net.n_params == theta.size
        assert net.n_outputs == layer_sizes[-1]
        for (W, b), (W2, b2) in zip(net.unpack(theta), unpack(theta, layer_sizes)):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(b, b2)
            assert np.shares_memory(W, theta) and np.shares_memory(b, theta)


@sizes_cases
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


@sizes_cases
def test_weight_groups_follow_pack_layout(layer_sizes):
    # Fill every layer's weights with its index: theta[mask] is then the groups.
    marked = [
        (np.full((m, n), float(layer)), np.full(n, -1.0))
        for layer, (m, n) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]))
    ]
    theta = pack(marked)
    groups = weight_groups(layer_sizes)
    assert groups.shape == (weight_mask(layer_sizes).sum(),)
    np.testing.assert_array_equal(groups, theta[weight_mask(layer_sizes)])


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
    np.testing.assert_array_equal(weight_groups([2, 3, 1]), [0] * 6 + [1] * 3)
    assert Network([2, 3, 1]).starts == [0, 9]


def test_layer_sizes_of():
    assert layer_sizes_of(3, (4, 5), 2) == [3, 4, 5, 2]
    assert layer_sizes_of(3, (), 1) == [3, 1]


# -- activations ---------------------------------------------------------------


def test_activation_table():
    # Every named activation has an independent reference here.
    assert set(ACTIVATIONS) == set(REFERENCE_ACTIVATIONS)
    assert all(isinstance(a, Activation) for a in ACTIVATIONS.values())
    for name in ACTIVATIONS:
        assert get_activation(name) is ACTIVATIONS[name]
        assert get_activation(ACTIVATIONS[name]) is ACTIVATIONS[name]
    with pytest.raises(KeyError):
        get_activation("softplus")


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS, ids=activation_id)
def test_activation_function_slope_and_trace_agree(activation):
    act = get_activation(activation)
    # Away from relu's kink at zero.
    Z = np.linspace(-6, 6, 100)
    A = act.function(Z)
    reference = REFERENCE_ACTIVATIONS.get(activation, activation)
    np.testing.assert_allclose(A, reference(Z), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(act.traced(Z), A, rtol=1e-13, atol=1e-15)
    slope = elementwise_grad(act.traced)(Z)
    if act.slope is None:
        np.testing.assert_array_equal(slope, 1.0)  # identity: no slope to apply
    else:
        np.testing.assert_allclose(act.slope(Z, A), slope, rtol=1e-10, atol=1e-15)


# -- the forward pass ------------------------------------------------------------


@kernel_cases
@sizes_cases
def test_output_equals_forward_and_explicit_formula(layer_sizes, activation):
    net, params, theta, X, _ = make_case(layer_sizes, activation)
    X_copy, theta_copy = X.copy(), theta.copy()
    out = net.output(theta, X)
    expected = explicit_forward(params, X, activation)
    assert out.shape == (X.shape[0], layer_sizes[-1])
    close(out, expected, rtol=1e-13)
    close(forward(params, X, activation), expected, rtol=1e-13)
    lin = net.linearize(theta, X)
    np.testing.assert_array_equal(lin.output, out)
    # The kernel works in place on its temporaries, never on its inputs.
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(theta, theta_copy)


def test_no_hidden_layer_is_linear_whatever_the_activation():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(6, 3))
    ((W, b),) = params = random_params([3, 2], rng)
    for activation in ALL_ACTIVATIONS:
        out = Network([3, 2], activation).output(pack(params), X)
        np.testing.assert_allclose(out, X @ W + b, rtol=1e-14)


# -- derivatives of the kernel against autograd ----------------------------------


@kernel_cases
@sizes_cases
def test_jacobian_equals_autograd(layer_sizes, activation):
    net, _, theta, X, rng = make_case(layer_sizes, activation)
    n, K = X.shape[0], layer_sizes[-1]
    expected = reference_jacobian(layer_sizes, activation, X)(theta)
    lin = net.linearize(theta, X)
    J = lin.jacobian()
    assert J.shape == (n * K, net.n_params)
    close(J, expected)
    # With a scale per row of the data (every output of the row scaled).
    scale = rng.uniform(0.1, 2.0, n)
    scale[2] = 0.0
    close(lin.jacobian(scale), np.repeat(scale, K)[:, None] * expected)
    # Written into a given buffer, every entry of it (NaN would show otherwise).
    out = np.full((n * K, net.n_params), np.nan)
    assert lin.jacobian(scale, out=out) is out
    np.testing.assert_array_equal(out, lin.jacobian(scale))


@kernel_cases
@sizes_cases
def test_vjp_and_jvp_are_jacobian_products(layer_sizes, activation):
    net, _, theta, X, rng = make_case(layer_sizes, activation)
    n, K = X.shape[0], layer_sizes[-1]
    J = reference_jacobian(layer_sizes, activation, X)(theta)
    lin = net.linearize(theta, X)
    for _ in range(2):
        G = rng.normal(size=(n, K))
        v = rng.normal(size=net.n_params)
        g = lin.vjp(G)
        assert g.shape == (net.n_params,)
        close(g, J.T @ G.ravel())
        jv = lin.jvp(v)
        assert jv.shape == (n, K)
        close(jv, (J @ v).reshape(n, K))


@kernel_cases
@sizes_cases
def test_input_vjp_equals_autograd_gradient_in_the_inputs(layer_sizes, activation):
    net, params, theta, X, rng = make_case(layer_sizes, activation)
    G = rng.normal(size=(X.shape[0], layer_sizes[-1]))
    expected = grad(lambda X: anp.sum(G * forward(params, X, activation)))(X)
    got = net.linearize(theta, X).input_vjp(G)
    assert got.shape == X.shape
    close(got, expected)


@kernel_cases
@sizes_cases
def test_gram_diagonal_is_diagonal_of_jtj(layer_sizes, activation):
    net, _, theta, X, rng = make_case(layer_sizes, activation)
    J = reference_jacobian(layer_sizes, activation, X)(theta)
    scale = rng.uniform(0.1, 2.0, X.shape[0])
    Js = np.repeat(scale, layer_sizes[-1])[:, None] * J
    got = net.linearize(theta, X).gram_diagonal(scale)
    close(got, np.diag(Js.T @ Js))


@pytest.mark.parametrize("layer_sizes", [[3, 4, 2], [2, 5, 3, 1]], ids=str)
def test_wrong_derivatives_fail_the_checks(layer_sizes):
    # The tolerances above tell a derivative from a slightly wrong one.
    net, _, theta, X, rng = make_case(layer_sizes, "tanh")
    J = net.linearize(theta, X).jacobian()
    expected = reference_jacobian(layer_sizes, "tanh", X)(theta)
    close(J, expected)
    one_entry = J.copy()
    i, j = np.unravel_index(np.argmax(np.abs(J)), J.shape)
    one_entry[i, j] *= 1 + 1e-10
    with pytest.raises(AssertionError):
        close(one_entry, expected)
    swapped = J.copy()
    swapped[:, [0, -1]] = swapped[:, [-1, 0]]
    with pytest.raises(AssertionError):
        close(swapped, expected)
    # A derivative of another activation is not this one's.
    other = Network(layer_sizes, "logistic").linearize(theta, X).jacobian()
    with pytest.raises(AssertionError):
        close(other, expected)


# -- prediction ------------------------------------------------------------------


@pytest.mark.parametrize("block", [256, 8])
@pytest.mark.parametrize("layer_sizes", [[3, 1], [2, 5, 1], [4, 3, 6, 3]], ids=str)
def test_predict_does_not_depend_on_row_batching(layer_sizes, block):
    net, params, theta, _, rng = make_case(layer_sizes, "tanh")
    X = rng.normal(size=(2 * block + 5, layer_sizes[0]))
    X_copy = X.copy()
    full = net.predict(params, X, block=block)
    assert full.shape == (X.shape[0], layer_sizes[-1])
    np.testing.assert_allclose(full, net.output(theta, X), rtol=1e-13, atol=1e-14)
    # A row alone, or any slice, gives the very same bits as inside the batch;
    # rows on both sides of every block boundary included.
    rows = sorted({0, 1, block - 1, block, block + 1, 2 * block, X.shape[0] - 1})
    for i in rows:
        np.testing.assert_array_equal(
            net.predict(params, X[i : i + 1], block)[0], full[i]
        )
    for start, stop in [(0, 3), (block - 2, block + 3), (3, X.shape[0])]:
        np.testing.assert_array_equal(
            net.predict(params, X[start:stop], block), full[start:stop]
        )
    np.testing.assert_array_equal(X, X_copy)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_permuting_hidden_units_keeps_predictions(activation):
    layer_sizes = [3, 6, 4, 2]
    net, params, theta, X, rng = make_case(layer_sizes, activation, n=9, seed=2)
    (W0, b0), (W1, b1), (W2, b2) = params
    before = net.output(theta, X)
    for _ in range(3):
        p1, p2 = rng.permutation(6), rng.permutation(4)
        permuted = [(W0[:, p1], b0[p1]), (W1[p1][:, p2], b1[p2]), (W2[p2], b2)]
        close(net.output(pack(permuted), X), before)
        close(net.predict(permuted, X), before)
        close(forward(permuted, X, activation), before)
    # Permuting only the incoming weights is not a symmetry.
    broken = [(W0[:, p1], b0), (W1, b1), (W2, b2)]
    if activation != "identity":
        assert not np.allclose(net.output(pack(broken), X), before)


# -- the autograd tanh and logistic, and saturation in the kernel --------------


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
        slope = ACTIVATIONS["tanh"].slope(x, np.tanh(x))
    np.testing.assert_array_equal(value, [1.0, -1.0, 1.0, 0.0])
    np.testing.assert_array_equal(d1, [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(d2, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(jvp, d1)
    np.testing.assert_array_equal(slope, d1)
    np.testing.assert_array_equal(d_logistic, [0.0, 0.0, 0.0, 0.25])
    assert scalar == 0.0


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
def test_kernel_derivatives_do_not_overflow_when_saturated(activation):
    # Pre-activations of +-1000: the slopes are exactly zero, with no warning.
    layer_sizes = [1, 2, 1]
    params = [(np.array([[1000.0, -1000.0]]), np.zeros(2)), (np.ones((2, 1)), [0.5])]
    theta = pack([(W, np.asarray(b, dtype=float)) for W, b in params])
    X = np.array([[1.0], [-1.0]])
    net = Network(layer_sizes, activation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin = net.linearize(theta, X)
        J = lin.jacobian(np.ones(2))
        g = lin.vjp(np.ones((2, 1)))
        jv = lin.jvp(np.ones(theta.size))
        d = lin.gram_diagonal(np.ones(2))
        dx = lin.input_vjp(np.ones((2, 1)))
        J_ref = reference_jacobian(layer_sizes, activation, X)(theta)
    np.testing.assert_array_equal(lin.slopes[0], 0.0)
    for value in (J, g, jv, d, dx):
        assert np.all(np.isfinite(value))
    np.testing.assert_array_equal(J, J_ref)
    np.testing.assert_array_equal(dx, 0.0)


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
        np.testing.assert_array_equal(
            ACTIVATIONS["logistic"].function(np.array([-1e4, 1e4])), [0.0, 1.0]
        )


# -- folding the scaling, zeroing the output layer -----------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu", smooth_activation], ids=str)
@sizes_cases
def test_fold_scaling_equals_the_scaled_network(layer_sizes, activation):
    net, params, theta, X, rng = make_case(layer_sizes, activation)
    x_mean = rng.normal(size=layer_sizes[0])
    x_scale = rng.uniform(0.5, 3.0, layer_sizes[0])
    y_mean = rng.normal(size=layer_sizes[-1])
    y_scale = rng.uniform(0.5, 3.0, layer_sizes[-1])
    raw = x_mean + x_scale * X
    folded = fold_scaling(params, x_mean, x_scale, y_mean, y_scale)
    expected = y_mean + y_scale * net.output(theta, X)
    close(net.output(pack(folded), raw), expected)
    close(net.predict(folded, raw), expected)
    # The input network is untouched.
    np.testing.assert_array_equal(pack(params), theta)


@sizes_cases
def test_zero_output_layer(layer_sizes):
    net, params, theta, X, _ = make_case(layer_sizes, "tanh")
    zeroed = zero_output_layer(theta, layer_sizes)
    np.testing.assert_array_equal(pack(params), theta)  # a copy
    W, b = unpack(zeroed, layer_sizes)[-1]
    np.testing.assert_array_equal(W, 0.0)
    np.testing.assert_array_equal(b, 0.0)
    for (W0, b0), (W1, b1) in zip(params[:-1], unpack(zeroed, layer_sizes)[:-1]):
        np.testing.assert_array_equal(W0, W1)
        np.testing.assert_array_equal(b0, b1)
    # It predicts the constant target zero exactly, where no gradient moves it.
    lin = net.linearize(zeroed, X)
    np.testing.assert_array_equal(lin.output, 0.0)
    np.testing.assert_array_equal(lin.vjp(lin.output), 0.0)


# -- initialisation --------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
@sizes_cases
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


# -- sparse inputs ------------------------------------------------------------------


def sparse_case(layer_sizes, seed=0):
    """A sparse S, a centre c and the dense X = S - 1 c' they stand for."""
    import scipy.sparse as sp

    rng = np.random.RandomState(seed)
    S = sp.random(13, layer_sizes[0], density=0.3, random_state=rng, format="csr")
    centre = rng.normal(size=layer_sizes[0])
    return CenteredSparse(S, centre), S.toarray() - centre, rng


@pytest.mark.parametrize("activation", ["tanh", "relu", smooth_activation], ids=str)
@sizes_cases
def test_centered_sparse_inputs_give_the_dense_derivatives(layer_sizes, activation):
    # A sparse first layer: the products and the rank-one correction of
    # the centre, checked against the kernel on the dense X (which is
    # checked against autograd above) and against autograd itself.
    inputs, X, rng = sparse_case(layer_sizes)
    net = Network(layer_sizes, activation)
    theta = pack(random_params(layer_sizes, rng))
    dense, sparse_ = net.linearize(theta, X), net.linearize(theta, inputs)
    close(sparse_.output, forward(unpack(theta, layer_sizes), X, activation))
    G = rng.normal(size=dense.output.shape)
    v = rng.normal(size=net.n_params)
    scale = rng.uniform(0.1, 2.0, X.shape[0])
    close(sparse_.vjp(G), dense.vjp(G))
    close(sparse_.jvp(v), dense.jvp(v))
    close(sparse_.input_vjp(G), dense.input_vjp(G))
    close(sparse_.jacobian(scale), dense.jacobian(scale))
    close(sparse_.gram_diagonal(scale), dense.gram_diagonal(scale))
    # Rows, by slice and by index array (blocks, minibatches).
    for rows in (slice(3, 9), np.array([7, 0, 4])):
        close(net.output(theta, inputs[rows]), dense.output[rows])
    assert len(inputs) == X.shape[0]


def test_predict_takes_raw_sparse_rows():
    import scipy.sparse as sp

    layer_sizes = [6, 4, 2]
    rng = np.random.RandomState(1)
    params = random_params(layer_sizes, rng)
    S = sp.random(300, 6, density=0.2, random_state=rng, format="csr")
    net = Network(layer_sizes)
    close(net.predict(params, S), net.predict(params, S.toarray()))


@kernel_cases
@sizes_cases
def test_residual_kernels_are_the_layer_blocks_of_jjt(layer_sizes, activation):
    net, _, theta, X, rng = make_case(layer_sizes, activation, n=5)
    scale = rng.uniform(0.1, 2.0, X.shape[0])
    lin = net.linearize(theta, X)
    J = lin.jacobian(scale)
    kernels, bias_kernel, bias_jacobian = lin.residual_kernels(scale)
    groups = weight_groups(layer_sizes)
    weights = np.flatnonzero(weight_mask(layer_sizes))
    assert len(kernels) == len(layer_sizes) - 1
    for layer, kernel in enumerate(kernels):
        block = J[:, weights[groups == layer]]
        close(kernel, block @ block.T)
    biases = J[:, ~weight_mask(layer_sizes)]
    close(bias_jacobian @ bias_jacobian.T, biases @ biases.T)
    close(bias_kernel, biases @ biases.T)
    # The same from centred sparse inputs.
    inputs, X_dense, _ = sparse_case(layer_sizes)
    sparse_kernels = net.linearize(theta, inputs).residual_kernels(np.ones(13))[0]
    dense_kernels = net.linearize(theta, X_dense).residual_kernels(np.ones(13))[0]
    for a, b in zip(sparse_kernels, dense_kernels):
        close(a, b)
