"""How much a fitted network's predictions move with each input.

The sensitivity of output :math:`k` to input :math:`j` over rows
:math:`x_1, \\dots, x_n` is

.. math::

    S_{kj} = \\frac{1}{n} \\sum_{i=1}^n
    \\left| \\frac{\\partial \\hat y_k}{\\partial x_j}(x_i) \\right|
    \\; \\operatorname{std}(x_{1j}, \\dots, x_{nj}),

the first-order change of the prediction when input :math:`j` alone moves by
one standard deviation, averaged over the rows. The derivatives are
:meth:`~sklearn_tanhnet.TanhNetRegressor.predict_gradient`'s, exact by
back-propagation, so there is no step size to choose and no sampling noise.
"""

import numpy as np
from sklearn.utils import check_array


def input_sensitivity(estimator, X):
    """Mean absolute derivative of the prediction, times each input's spread.

    For each input ``j``: ``mean(|dy/dx_j|) * std(x_j)`` over the rows of
    ``X``, the typical change of the prediction, in the target's units, when
    ``x_j`` alone moves by one standard deviation (to first order). Unlike
    ``feature_relevance_``, which describes the prior the evidence chose for
    each input's first-layer weights, it measures how much the fitted
    function depends on the input (:ref:`ard`).

    Parameters
    ----------
    estimator : TanhNetRegressor
        A fitted estimator, or any fitted object with a ``predict_gradient``
        method returning the derivatives of ``predict`` with respect to its
        inputs. For the default committee the derivative is that of the
        committee's mean prediction. A Pipeline has no ``predict_gradient``:
        pass the transformed inputs and the final step.

    X : array-like of shape (n_samples, n_features)
        The rows over which to average, in the units the estimator was
        fitted in (the training data, or held-out data from the same
        distribution).

    Returns
    -------
    sensitivity : ndarray of shape (n_features,) or (n_outputs, n_features)
        One value per input, in the target's units; one row per output when
        the estimator was fitted on a 2-D target.

    See Also
    --------
    sklearn.inspection.permutation_importance : The loss of accuracy when an
        input's values are shuffled.

    Notes
    -----
    The sensitivity changes each input with the others held fixed, so two
    strongly correlated inputs that the network uses with opposite signs can
    both score high although together they change the prediction little.
    For a linear model with uncorrelated inputs its square is the input's
    part of the prediction's variance: the squares sum to that variance.

    Examples
    --------
    For a linear model, ``|coef_j| * std(x_j)``:

    >>> import numpy as np
    >>> from sklearn_tanhnet import TanhNetRegressor, input_sensitivity
    >>> X = np.array([[-1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, -1.0]])
    >>> y = 3.0 * X[:, 0] - 0.5 * X[:, 1]
    >>> est = TanhNetRegressor(hidden_layer_sizes=(), alpha=0.0).fit(X, y)
    >>> input_sensitivity(est, X).round(6)
    array([2.12132 , 0.353553])
    """
    predict_gradient = getattr(estimator, "predict_gradient", None)
    if not callable(predict_gradient):
        raise TypeError(
            "estimator must have a predict_gradient method (a fitted "
            f"TanhNetRegressor), got {type(estimator).__name__}"
        )
    # predict_gradient validates X against the fitted estimator (feature
    # count and names); the spread is of the same values as floats.
    dydx = np.asarray(predict_gradient(X), dtype=float)
    spread = np.std(check_array(X, dtype=np.float64), axis=0)
    return np.mean(np.abs(dydx), axis=0) * spread
