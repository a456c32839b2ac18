import ast
import functools
import sys
import warnings
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import sklearn_tanhnet
from sklearn_tanhnet import (
    TanhNetRegressor,
    register_onnx_converter,
    to_mlp_regressor,
)
from sklearn_tanhnet._export import MLP_ACTIVATIONS, ONNX_ACTIVATIONS
from sklearn_tanhnet._network import ACTIVATIONS

# Inputs and targets far from standard units, so that the export depends on
# the standardisation folded into the first and last layers.
rng = np.random.RandomState(0)
X = rng.uniform(-1, 1, (30, 3)) * [10.0, 1.0, 0.1] + [5.0, -2.0, 0.0]
Y = 100 * np.c_[np.sin(X[:, 0] / 5), X[:, 1] ** 2, 10 * X[:, 2]] - 3

DEPTHS = [1, 2, 3]
N_OUTPUTS = [1, 2, 3]
# ONNX cases cover every depth and every number of outputs once per
# activation: conversions cost tens of milliseconds each.
DEPTH_AND_OUTPUTS = [(1, 2), (2, 3), (3, 1)]


@functools.cache
def fitted(activation, depth, n_outputs, dtype, ensemble=False):
    """A short fit, shared by the tests: only the weights' export matters."""
    y = Y[:, 0] if n_outputs == 1 else Y[:, :n_outputs]
    est = TanhNetRegressor(
        hidden_layer_sizes=(4, 3, 2)[:depth],
        activation=activation,
        alpha=1e-3,
        max_iter=3,
        uncertainty="off",
        n_starts=3 if ensemble else 1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X.astype(dtype), y)


def relative_error(actual, desired):
    """Largest difference over the largest prediction."""
    actual = np.asarray(actual).reshape(np.shape(desired))
    return np.max(np.abs(actual - desired)) / np.max(np.abs(desired))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_outputs", N_OUTPUTS)
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("activation", MLP_ACTIVATIONS)
def test_mlp_regressor_predicts_as_the_model(activation, depth, n_outputs, dtype):
    est = fitted(activation, depth, n_outputs, dtype)
    mlp = to_mlp_regressor(est)
    check_is_fitted(mlp)
    assert isinstance(mlp, MLPRegressor)
    assert mlp.hidden_layer_sizes == (4, 3, 2)[:depth]
    assert mlp.activation == activation
    ours = est.predict(X)
    assert np.ptp(ours) > 0  # not a constant: the comparison means something
    assert mlp.predict(X).shape == ours.shape
    assert relative_error(mlp.predict(X), ours) <= 1e-12
    # float32 X: the MLPRegressor computes in float64 with the fit's
    # weights, as the model does; the model then rounds to float32.
    X32 = X.astype(np.float32)
    ours32 = est.predict(X32)
    assert relative_error(mlp.predict(X32), est.predict(X32.astype(np.float64))) <= (
        1e-12
    )
    # Rounded like the model's output, the same to its last bit but for ties.
    rtol = 1e-12 if ours32.dtype == np.float64 else np.finfo(np.float32).eps
    np.testing.assert_allclose(mlp.predict(X32).astype(ours32.dtype), ours32, rtol=rtol)


def test_mlp_regressor_copies_the_weights_and_keeps_the_fit_bookkeeping():
    est = fitted("tanh", 2, 2, np.float32)
    mlp = to_mlp_regressor(est)
    assert all(W.dtype == np.float64 for W in [*mlp.coefs_, *mlp.intercepts_])
    assert (mlp.n_layers_, mlp.n_outputs_, mlp.out_activation_) == (4, 2, "identity")
    assert (mlp.n_features_in_, mlp.n_iter_) == (3, est.n_iter_)
    before = est.predict(X)
    mlp.coefs_[0][...] = 0.0
    np.testing.assert_array_equal(est.predict(X), before)


def test_mlp_regressor_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = TanhNetRegressor((3,), alpha=1e-3, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(frame, Y[:, 0])
    mlp = to_mlp_regressor(est)
    assert list(mlp.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_allclose(mlp.predict(frame), est.predict(frame), rtol=1e-12)


def test_mlp_regressor_is_1d_for_one_output_as_scikit_learn_does():
    # The model keeps a (n, 1) target's shape; MLPRegressor cannot.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = TanhNetRegressor((3,), alpha=1e-3, max_iter=3, random_state=0).fit(
            X, Y[:, :1]
        )
    assert est.predict(X).shape == (30, 1)
    assert to_mlp_regressor(est).predict(X).shape == (30,)


@pytest.mark.parametrize(
    "activation, match",
    [
        ("sin", "activation='sin' to MLPRegressor: MLPRegressor has no 'sin'"),
        (anp.tanh, "MLPRegressor cannot run a Python function"),
    ],
)
def test_mlp_regressor_refuses_activations_it_lacks(activation, match):
    est = TanhNetRegressor((3,), activation=activation, alpha=1e-3, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y[:, 0])
    with pytest.raises(ValueError, match=match):
        to_mlp_regressor(est)


def test_mlp_regressor_holds_a_committee_as_one_network():
    # The committee's members side by side are one network: its mean.
    est = fitted("tanh", 1, 1, np.float64, ensemble=True)
    mlp = to_mlp_regressor(est)
    assert mlp.hidden_layer_sizes == (3 * 4,)
    assert relative_error(mlp.predict(X), est.predict(X)) <= 1e-12


def test_mlp_regressor_refuses_an_unfitted_model():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        to_mlp_regressor(TanhNetRegressor())


def test_every_activation_has_an_onnx_decision():
    # A new activation in the table must be given its ONNX operator here.
    assert set(ONNX_ACTIVATIONS) == set(ACTIVATIONS)
    assert set(MLP_ACTIVATIONS) <= set(ACTIVATIONS)


def test_importing_the_package_does_not_import_onnx():
    # Read from the sources: another test has imported them in this process.
    optional = {"onnx", "skl2onnx", "onnxruntime"}
    for path in Path(sklearn_tanhnet.__file__).parent.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {name.split(".")[0] for name in names} & optional, path.name


def test_register_onnx_converter_names_the_extra_without_skl2onnx(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"sklearn-tanhnet\[onnx\]"):
        register_onnx_converter()


@pytest.fixture(scope="module")
def onnx_session():
    """``run(est, X_input)``: the model's ONNX graph for ``X_input``'s dtype, run."""
    skl2onnx = pytest.importorskip("skl2onnx")
    rt = pytest.importorskip("onnxruntime")
    register_onnx_converter()

    def run(est, X_input):
        onx = skl2onnx.to_onnx(est, X_input)
        session = rt.InferenceSession(
            onx.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        (name,) = [i.name for i in session.get_inputs()]
        return onx, session.run(None, {name: X_input})[0]

    return run


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("depth, n_outputs", DEPTH_AND_OUTPUTS)
@pytest.mark.parametrize("activation", list(ONNX_ACTIVATIONS))
def test_onnx_predicts_as_the_model(onnx_session, activation, depth, n_outputs, dtype):
    est = fitted(activation, depth, n_outputs, dtype)
    ours = est.predict(X).reshape(len(X), n_outputs)
    onx, double = onnx_session(est, X.astype(np.float64))
    assert double.dtype == np.float64 and double.shape == (len(X), n_outputs)
    assert relative_error(double, ours) <= 1e-9
    nodes = ["MatMul", "Add"] + (
        [ONNX_ACTIVATIONS[activation]] * (activation != "identity")
    )
    assert [n.op_type for n in onx.graph.node] == nodes * depth + ["MatMul", "Add"]

    X32 = X.astype(np.float32)
    onx, single = onnx_session(est, X32)
    assert single.dtype == np.float32
    assert onx.graph.node[0].op_type != "Cast"  # a float input is used as it is
    assert relative_error(single, est.predict(X32).reshape(ours.shape)) <= 1e-5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_onnx_averages_an_ensemble(onnx_session, dtype):
    est = fitted("tanh", 2, 2, dtype, ensemble=True)
    ours = est.predict(X)
    onx, double = onnx_session(est, X)
    # One network of the members side by side: three layers.
    assert [n.op_type for n in onx.graph.node].count("MatMul") == 3
    assert relative_error(double, ours) <= 1e-9
    _, single = onnx_session(est, X.astype(np.float32))
    assert relative_error(single, ours) <= 1e-5


def test_onnx_converts_a_pipeline_and_integer_inputs(onnx_session):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(
            StandardScaler(),
            TanhNetRegressor((3,), alpha=1e-3, max_iter=3, random_state=0),
        ).fit(X, Y[:, :2])
    _, double = onnx_session(pipe, X)
    assert relative_error(double, pipe.predict(X)) <= 1e-9

    est = fitted("tanh", 1, 2, np.float64)
    Xi = np.rint(X).astype(np.int64)
    onx, single = onnx_session(est, Xi)
    assert onx.graph.node[0].op_type == "Cast" and single.dtype == np.float32
    assert relative_error(single, est.predict(Xi.astype(np.float64))) <= 1e-5


def test_onnx_refuses_a_callable_activation(onnx_session):
    est = TanhNetRegressor((3,), activation=anp.tanh, alpha=1e-3, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="to ONNX: ONNX cannot run a Python function"):
        onnx_session(est, X)


def test_onnx_refuses_an_input_of_the_wrong_width(onnx_session):
    est = fitted("tanh", 1, 1, np.float64)
    with pytest.raises(ValueError, match="2 features, but the model was fitted on 3"):
        onnx_session(est, X[:, :2])
