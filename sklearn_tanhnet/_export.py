"""Export a fitted TanhNetRegressor: to scikit-learn's MLPRegressor and to ONNX.

A fitted model is the network::

    Z_l = A_{l-1} W_l + b_l,   A_l = f(Z_l),   A_0 = X,   out = A_{L-1} W_L + b_L,

with ``coefs_`` the ``W_l`` and ``intercepts_`` the ``b_l``. The fit's
standardisation is already folded into the first and last layers
(:func:`~._network.fold_scaling`), so these act on X and give y in their
original units: an export is this forward pass and nothing else, with no
scaler in front or behind. A committee of several networks, which predicts
the mean of its members' outputs ``(1 / M) sum_m out_m(X)``, is one such
network too: ``coefs_`` hold its members side by side
(:func:`~._network.side_by_side`).

* :func:`to_mlp_regressor` sets the same arrays as the fitted attributes of
  a :class:`~sklearn.neural_network.MLPRegressor`, whose ``predict`` runs
  this forward pass for its activations tanh, logistic, relu and identity.
* :func:`register_onnx_converter` teaches skl2onnx the graph: per layer a
  ``MatMul`` and an ``Add``, then the activation's operator on the hidden
  layers (:data:`ONNX_ACTIVATIONS`).
"""

import numpy as np
from sklearn.neural_network import MLPRegressor
from sklearn.utils.validation import check_is_fitted

from ._estimator import TanhNetRegressor

# The activations MLPRegressor computes, by the same names.
MLP_ACTIVATIONS = ("tanh", "logistic", "relu", "identity")

# The ONNX operator of each activation in the package's table; identity
# needs none (the Add's output goes on to the next layer).
ONNX_ACTIVATIONS = {
    "tanh": "Tanh",
    "logistic": "Sigmoid",
    "relu": "Relu",
    "sin": "Sin",
    "identity": None,
}

_ONNX_ALIAS = "SklearnTanhNetRegressor"


def _activation_name(estimator, supported, target):
    """``estimator.activation`` if it is one of ``supported``, else a ValueError."""
    activation = estimator.activation
    if isinstance(activation, str) and activation in supported:
        return activation
    if callable(activation):
        reason = f"{target} cannot run a Python function"
    else:
        reason = f"{target} has no {activation!r} activation"
    raise ValueError(
        f"Cannot export activation={activation!r} to {target}: {reason}. "
        f"Activations that export to {target}: {', '.join(supported)}."
    )


def _networks(estimator):
    """``[(coefs, intercepts)]`` of the one network the estimator's
    predictions are (a committee's members side by side)."""
    return [(list(estimator.coefs_), list(estimator.intercepts_))]


def to_mlp_regressor(estimator):
    """A fitted :class:`~sklearn.neural_network.MLPRegressor` of the same network.

    The MLPRegressor gets copies of the fitted network's weights, which are
    already in the original units of X and y, and the attributes its
    ``predict`` and :func:`~sklearn.utils.validation.check_is_fitted` need:
    ``coefs_``, ``intercepts_``, ``n_layers_``, ``n_outputs_``,
    ``out_activation_='identity'``, ``n_features_in_``,
    ``feature_names_in_`` (when the fit saw column names) and ``n_iter_``;
    its ``hidden_layer_sizes`` and ``activation`` are the estimator's. It is
    meant for prediction where only scikit-learn is installed: the training
    parameters are MLPRegressor's defaults, and ``loss_`` is not set
    (``estimator.loss_`` is an objective in standardised units).

    Parameters
    ----------
    estimator : TanhNetRegressor
        A fitted model with activation ``'tanh'``, ``'logistic'``,
        ``'relu'`` or ``'identity'``. A committee exports as the one network
        of its ``coefs_``: its members side by side, their mean.

    Returns
    -------
    mlp : MLPRegressor
        The fitted MLPRegressor.

    Raises
    ------
    ValueError
        For an activation MLPRegressor lacks (``'sin'``, a callable).

    See Also
    --------
    register_onnx_converter : Export to ONNX, ``'sin'`` included.

    Notes
    -----
    The weights are stored as float64, those of a float32 fit exactly: the
    estimator computes its predictions in double precision whatever X's
    dtype, and MLPRegressor then does too (float32 X times float64 weights).
    So the predictions agree to rounding; for float32 X on a float32 fit the
    estimator returns them rounded to float32, the MLPRegressor as float64.

    MLPRegressor returns 1-D predictions whenever there is one output; the
    estimator returns 2-D ones of shape ``(n_samples, 1)`` when it was
    fitted on such a target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tanhnet import TanhNetRegressor, to_mlp_regressor
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1)
    >>> est = TanhNetRegressor(hidden_layer_sizes=(3,), random_state=0)
    >>> est = est.fit(X, np.sin(3 * X).ravel())
    >>> mlp = to_mlp_regressor(est)
    >>> bool(np.allclose(mlp.predict(X), est.predict(X), rtol=1e-12))
    True
    """
    check_is_fitted(estimator)
    activation = _activation_name(estimator, MLP_ACTIVATIONS, "MLPRegressor")
    ((coefs, intercepts),) = _networks(estimator)
    mlp = MLPRegressor(
        hidden_layer_sizes=tuple(W.shape[1] for W in coefs[:-1]),
        activation=activation,
    )
    mlp.coefs_ = [np.array(W, dtype=np.float64) for W in coefs]
    mlp.intercepts_ = [np.array(b, dtype=np.float64) for b in intercepts]
    mlp.n_layers_ = len(coefs) + 1
    mlp.n_outputs_ = estimator.n_outputs_
    mlp.out_activation_ = "identity"
    mlp.n_features_in_ = estimator.n_features_in_
    if hasattr(estimator, "feature_names_in_"):
        mlp.feature_names_in_ = np.array(estimator.feature_names_in_, dtype=object)
    mlp.n_iter_ = estimator.n_iter_
    return mlp


def register_onnx_converter():
    """Register the ONNX converter of :class:`TanhNetRegressor` with skl2onnx.

    Afterwards :func:`skl2onnx.to_onnx` converts a fitted model, alone or in
    a :class:`~sklearn.pipeline.Pipeline`. Call it once per process; calling
    it again changes nothing. It needs the optional packages of the ``onnx``
    extra (``pip install 'sklearn-tanhnet[onnx]'``); importing
    sklearn_tanhnet does not.

    The graph has a ``MatMul`` and an ``Add`` per layer and the activation's
    operator after each hidden layer: ``Tanh``, ``Sigmoid`` for
    ``'logistic'``, ``Relu``, ``Sin``, none for ``'identity'``; a committee
    is the one network of its ``coefs_`` (its members side by side). It is a
    double-precision graph for float64 inputs (``to_onnx(est,
    X.astype(np.float64))``) and a float graph otherwise, with the weights
    rounded to float32. The output has shape ``(n_samples, n_outputs_)``, as
    other skl2onnx regressors', also for a model fitted on a 1-D target.
    Converting a model whose activation is a Python callable raises a
    ValueError: ONNX cannot run it.

    Raises
    ------
    ImportError
        If skl2onnx is not installed.

    See Also
    --------
    to_mlp_regressor : Export to scikit-learn's MLPRegressor.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tanhnet import TanhNetRegressor, register_onnx_converter
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1)
    >>> est = TanhNetRegressor(hidden_layer_sizes=(3,), random_state=0)
    >>> est = est.fit(X, np.sin(3 * X).ravel())
    >>> import skl2onnx  # doctest: +SKIP
    >>> register_onnx_converter()  # doctest: +SKIP
    >>> onx = skl2onnx.to_onnx(est, X)  # doctest: +SKIP
    >>> [node.op_type for node in onx.graph.node]  # doctest: +SKIP
    ['MatMul', 'Add', 'Tanh', 'MatMul', 'Add']
    """
    try:
        from skl2onnx import update_registered_converter
    except ImportError as exc:
        raise ImportError(
            "register_onnx_converter needs skl2onnx (and onnxruntime to run the "
            "graphs): pip install 'sklearn-tanhnet[onnx]'."
        ) from exc
    update_registered_converter(
        TanhNetRegressor, _ONNX_ALIAS, _onnx_output_shapes, _convert_to_onnx
    )


def _onnx_output_shapes(operator):
    """skl2onnx shape calculator: ``[N, n_features] -> [N, n_outputs_]``.

    Double in, double out; a float or integer input gives a float output.
    """
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(
        operator, good_input_types=[DoubleTensorType, FloatTensorType, Int64TensorType]
    )
    estimator = operator.raw_operator
    # Refused here, before skl2onnx builds anything else around the model.
    _activation_name(estimator, tuple(ONNX_ACTIVATIONS), "ONNX")
    inputs = operator.inputs[0].type
    n_features = inputs.shape[1] if len(inputs.shape) > 1 else None
    if isinstance(n_features, int) and n_features != estimator.n_features_in_:
        raise ValueError(
            f"The ONNX input has {n_features} features, but the model was fitted "
            f"on {estimator.n_features_in_}."
        )
    output_type = (
        DoubleTensorType if isinstance(inputs, DoubleTensorType) else FloatTensorType
    )
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = output_type([n_rows, estimator.n_outputs_])


def _convert_to_onnx(scope, operator, container):
    """skl2onnx converter: the layers of the network of ``coefs_``."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    estimator = operator.raw_operator
    name = _activation_name(estimator, tuple(ONNX_ACTIVATIONS), "ONNX")
    inputs = operator.inputs[0].full_name
    input_type = operator.inputs[0].type
    if isinstance(input_type, DoubleTensorType):
        proto_type, dtype = TensorProto.DOUBLE, np.float64
    else:
        proto_type, dtype = TensorProto.FLOAT, np.float32
    if not isinstance(input_type, (DoubleTensorType, FloatTensorType)):
        cast = scope.get_unique_variable_name("cast_input")
        container.add_node(
            "Cast",
            inputs,
            cast,
            to=proto_type,
            name=scope.get_unique_operator_name("Cast"),
        )
        inputs = cast
    output = operator.outputs[0].full_name
    ((coefs, intercepts),) = _networks(estimator)
    _add_network(
        scope,
        container,
        inputs,
        output,
        zip(coefs, intercepts),
        name,
        proto_type,
        dtype,
    )


def _add_network(
    scope, container, inputs, output, layers, activation, proto_type, dtype
):
    """One network's nodes, from the variable ``inputs`` to ``output``.

    ``layers`` are its ``(W, b)`` pairs, stored as ``dtype`` (of ONNX type
    ``proto_type``).
    """
    layers = list(layers)
    op_type = ONNX_ACTIVATIONS[activation]
    A = inputs
    for layer, (W, b) in enumerate(layers):
        W, b = np.asarray(W, dtype=dtype), np.asarray(b, dtype=dtype)
        W_name = scope.get_unique_variable_name("coefficient")
        b_name = scope.get_unique_variable_name("intercept")
        container.add_initializer(W_name, proto_type, list(W.shape), W.ravel())
        container.add_initializer(b_name, proto_type, [b.size], b)
        product = scope.get_unique_variable_name("product")
        container.add_node(
            "MatMul",
            [A, W_name],
            product,
            name=scope.get_unique_operator_name("MatMul"),
        )
        is_output = layer == len(layers) - 1
        Z = output if is_output else scope.get_unique_variable_name("pre_activation")
        container.add_node(
            "Add", [product, b_name], Z, name=scope.get_unique_operator_name("Add")
        )
        if is_output or op_type is None:
            A = Z
        else:
            A = scope.get_unique_variable_name("activation")
            container.add_node(
                op_type, Z, A, name=scope.get_unique_operator_name(op_type)
            )
