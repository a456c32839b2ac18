"""TanhNetRegressor: validation and orchestration around the network and solvers."""

import warnings
from numbers import Integral, Real

import autograd
import numpy as np
from autograd.numpy import sum as anp_sum
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)
from threadpoolctl import threadpool_limits

from ._derivatives import LeastSquaresProblem
from ._network import (
    ACTIVATIONS,
    check_layer_sizes,
    forward,
    forward_numpy,
    get_activation,
    init_params,
    layer_sizes_of,
    pack,
    unpack,
)
from ._solvers import fit_adam, fit_least_squares
from ._uncertainty import (
    RCOND,
    diagnose,
    fit_statistics,
    prediction_std,
    t_quantile,
)


def _weighted_mean_std(A, w):
    mean = np.average(A, axis=0, weights=w)
    std = np.sqrt(np.average((A - mean) ** 2, axis=0, weights=w))
    # A constant column carries no information; scaling it by 1 keeps it finite.
    std[~(std > 1e3 * np.finfo(float).eps * np.maximum(np.abs(mean), 1.0))] = 1.0
    return mean, std


def _fold_scaling(params, x_mean, x_scale, y_mean, y_scale):
    """Fold input and output standardisation into the first and last layers.

    The result is a network on raw inputs giving raw outputs, exactly equal (up
    to rounding) to ``y_mean + y_scale * net((X - x_mean) / x_scale)``.
    """
    params = [(np.array(W), np.array(b)) for W, b in params]
    W, b = params[0]
    params[0] = (W / x_scale[:, None], b - (x_mean / x_scale) @ W)
    W, b = params[-1]
    params[-1] = (W * y_scale, b * y_scale + y_mean)
    return params


class TanhNetRegressor(RegressorMixin, BaseEstimator):
    """Feed-forward tanh neural network regressor with exact autograd derivatives.

    A network of ``len(hidden_layer_sizes)`` activated hidden layers and a
    linear output layer, fitted by minimising the (weighted) mean squared error
    plus an L2 penalty on the weights. The default solver is a trust-region
    Gauss-Newton/Levenberg-Marquardt fit (:func:`scipy.optimize.least_squares`)
    with the exact residual Jacobian; ``solver='adam'`` is first-order
    stochastic gradient descent. Inputs and targets are standardised internally
    (weighted by ``sample_weight``) and the scaling is folded back into the
    fitted weights, so ``coefs_`` and ``intercepts_`` describe a network on the
    original units.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(10,)
        Number of units in each hidden layer. ``()`` gives a linear model.

    activation : {'tanh', 'logistic', 'relu', 'sin', 'identity'} or callable, \
            default='tanh'
        Hidden-layer activation. A callable must map an array to an array of
        the same shape using ``autograd.numpy`` so it can be differentiated.

    solver : {'least_squares', 'adam'}, default='least_squares'
        ``'least_squares'``: scipy's trust-region least squares on the residual
        vector with the exact Jacobian; fast and precise for up to some
        hundred thousand rows. ``'adam'``: minibatch adam, for large data.

    alpha : float, default=1e-4
        L2 penalty on the weights (not the biases), scaled like scikit-learn's
        MLP: the objective adds ``alpha * ||W||^2 / (2 * sum(sample_weight))``.
        A small positive value makes the least-squares fit well-posed.

    learning_rate : float, default=1e-3
        Adam step size. Unlike :class:`~sklearn.neural_network.MLPRegressor`,
        where ``learning_rate`` names a schedule and ``learning_rate_init`` is
        the step, here it is the step itself. Only used when ``solver='adam'``.

    batch_size : int or 'auto', default='auto'
        Minibatch size for adam; ``'auto'`` is ``min(200, n_samples)``.

    max_iter : int, default=200
        Maximum number of iterations: trust-region iterations (Jacobian
        evaluations) for least_squares, epochs for adam.

    tol : float, default=1e-5
        Training stops once the objective has not improved by more than
        ``tol`` times the objective of the mean prediction (half the variance
        of the target, after standardisation) for ``n_iter_no_change``
        consecutive iterations.

    n_iter_no_change : int, default=10
        Iterations without sufficient improvement before stopping.

    method : {'trf', 'lm', 'dogbox'}, default='trf'
        Algorithm of :func:`scipy.optimize.least_squares`.

    standardize : bool, default=True
        Standardise X and y (weighted mean and standard deviation) before
        fitting. Turn off to fit the network in the data's own units, as the
        lecture does.

    shuffle : bool, default=True
        Shuffle the rows every epoch (adam with minibatches only).

    beta_1 : float, default=0.9
        Adam's decay rate of the first moment estimate.

    beta_2 : float, default=0.999
        Adam's decay rate of the second moment estimate.

    epsilon : float, default=1e-8
        Adam's numerical stability constant.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the minibatch shuffling. Pass an int for
        results that are reproducible bit for bit.

    verbose : int or bool, default=0
        Print the loss every ``verbose`` iterations (every iteration for True).

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices, one per layer, in the original units of X and y.

    intercepts_ : list of ndarray
        Bias vectors, one per layer, in the original units of X and y.

    loss_ : float
        Objective at the fitted parameters (in standardised units).

    loss_curve_ : list of float
        Objective at each iteration.

    n_iter_ : int
        Number of iterations run.

    status_ : str
        Why the solver stopped: ``'converged'``, ``'plateau'``,
        ``'max_iter'`` or ``'diverged'``.

    message_ : str
        The solver's own account of why it stopped.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    n_outputs_ : int
        Number of outputs.

    n_layers_ : int
        Number of layers, input and output included.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : scikit-learn's multi-layer perceptron.

    Notes
    -----
    The objective is

    .. math::

        J(\\theta) = \\frac{1}{2 S}\\Big(\\sum_i w_i \\frac{\\lVert f(x_i) - y_i
        \\rVert^2}{K} + \\alpha \\lVert W \\rVert^2\\Big),\\quad S = \\sum_i w_i,

    for ``K`` outputs, so an integer sample weight equals repeating the row.
    Derivatives are exact (autograd); the residual Jacobian takes one reverse
    pass per output.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tanhnet import TanhNetRegressor
    >>> X = np.linspace(0, 1, 50).reshape(-1, 1)
    >>> y = X.ravel() ** (1 / 3)
    >>> est = TanhNetRegressor(hidden_layer_sizes=(3,), random_state=0).fit(X, y)
    >>> bool(est.score(X, y) > 0.999)
    True
    """

    _parameter_constraints = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS)), callable],
        "solver": [StrOptions({"least_squares", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions({"trf", "lm", "dogbox"})],
        "standardize": ["boolean"],
        "shuffle": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(10,),
        activation="tanh",
        *,
        solver="least_squares",
        alpha=1e-4,
        learning_rate=1e-3,
        batch_size="auto",
        max_iter=200,
        tol=1e-5,
        n_iter_no_change=10,
        method="trf",
        standardize=True,
        shuffle=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.method = method
        self.standardize = standardize
        self.shuffle = shuffle
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight counts as repeating the row.

        Returns
        -------
        self : TanhNetRegressor
            The fitted estimator.
        """
        hidden = check_layer_sizes(self.hidden_layer_sizes)
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=np.float64
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        self._y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        n_samples, n_outputs = Y.shape
        if self.standardize:
            x_mean, x_scale = _weighted_mean_std(X, sample_weight)
            y_mean, y_scale = _weighted_mean_std(Y, sample_weight)
        else:
            x_mean, x_scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
            y_mean, y_scale = np.zeros(n_outputs), np.ones(n_outputs)
        Xs, Ys = (X - x_mean) / x_scale, (Y - y_mean) / y_scale

        sizes = layer_sizes_of(X.shape[1], hidden, n_outputs)
        rng = check_random_state(self.random_state)
        theta0 = pack(init_params(sizes, rng, self.activation))
        problem = LeastSquaresProblem(
            Xs, Ys, sample_weight, self.alpha, sizes, self.activation
        )
        # The objective of the best constant prediction: the plateau rule's unit.
        Ym = np.average(Ys, axis=0, weights=sample_weight)
        loss_scale = 0.5 * np.average(
            np.mean((Ys - Ym) ** 2, axis=1), weights=sample_weight
        )
        loss_scale = loss_scale if loss_scale > 0 else 1.0

        n_residuals = n_samples * n_outputs + problem.n_reg
        lm = self.solver == "least_squares" and self.method == "lm"
        if lm and n_residuals < problem.n_params:
            raise ValueError(
                "method='lm' needs at least as many residuals as parameters, got "
                f"n_samples={n_samples} and n_outputs={n_outputs} giving "
                f"{n_residuals} residuals for {problem.n_params} parameters. "
                "Use method='trf', more data or a smaller network."
            )
        # One BLAS thread: these matrices are small, and two threads on a busy
        # 2-core machine made a 1875 x 121 trust-region fit 9x slower
        # (benchmarks/README.md).
        with threadpool_limits(limits=1, user_api="blas"):
            result = self._run_solver(problem, theta0, rng, n_samples, loss_scale)

        if result.status == "max_iter":
            warnings.warn(
                f"{self.solver} stopped at max_iter={self.max_iter} before "
                "converging. Increase max_iter, raise tol, or scale the data "
                "(standardize=True).",
                ConvergenceWarning,
            )
        elif result.status == "diverged":
            warnings.warn(result.message, ConvergenceWarning)

        params = unpack(result.theta, sizes)
        params = _fold_scaling(params, x_mean, x_scale, y_mean, y_scale)
        self.coefs_ = [W for W, _ in params]
        self.intercepts_ = [b for _, b in params]
        self.loss_ = result.loss
        self.loss_curve_ = list(result.loss_curve)
        self.n_iter_ = result.n_iter
        self.status_ = result.status
        self.message_ = result.message
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(sizes)
        self._theta = result.theta
        self._scaling = (x_mean, x_scale, y_mean, y_scale)
        try:
            self._statistics = fit_statistics(problem, result.theta)
        except ValueError as exc:  # no residual degrees of freedom
            self._statistics = str(exc)
        return self

    def _run_solver(self, problem, theta0, rng, n_samples, loss_scale):
        """Run the chosen solver from ``theta0``; return its SolverResult."""
        if self.solver == "least_squares":
            return fit_least_squares(
                problem.residuals,
                problem.jacobian,
                theta0,
                method=self.method,
                max_iter=self.max_iter,
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                loss_scale=loss_scale,
                verbose=self.verbose,
            )
        batch = self.batch_size
        batch = min(200, n_samples) if batch == "auto" else batch
        return fit_adam(
            problem.value_and_grad,
            problem.loss,
            theta0,
            n_samples,
            rng=rng,
            learning_rate=self.learning_rate,
            batch_size=batch,
            shuffle=self.shuffle,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            loss_scale=loss_scale,
            verbose=self.verbose,
        )

    def _layer_sizes(self):
        return [self.n_features_in_, *(W.shape[1] for W in self.coefs_)]

    def _scaled_inputs(self, X):
        x_mean, x_scale, _, _ = self._scaling
        return (X - x_mean) / x_scale

    def _delta_method(self, X):
        """Prediction, standard error of the mean and noise std, original units."""
        if isinstance(self._statistics, str):
            raise ValueError(
                "Uncertainty is not available for this fit: " + self._statistics
            )
        y_scale = self._scaling[3]
        se = prediction_std(
            self._statistics,
            self._theta,
            self._scaled_inputs(X),
            self._layer_sizes(),
            self.activation,
        )
        return se * y_scale, np.sqrt(self._statistics.noise_variance) * y_scale

    def _shape_like_y(self, A):
        return A.ravel() if self._y_1d else A

    def predict(self, X, return_std=False):
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        return_std : bool, default=False
            Also return the standard deviation of the predictive distribution
            of a new observation (delta method: the standard error of the
            fitted mean and the noise, added in quadrature), as
            :class:`~sklearn.linear_model.BayesianRidge` does.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, 1-D when the network was fitted on a 1-D target.

        y_std : ndarray of the same shape as y_pred
            Predictive standard deviation; only when ``return_std=True``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        act = get_activation(self.activation, numpy=True)
        with np.errstate(over="ignore"):
            out = forward_numpy(list(zip(self.coefs_, self.intercepts_)), X, act)
        if not return_std:
            return self._shape_like_y(out)
        se, noise = self._delta_method(X)
        return self._shape_like_y(out), self._shape_like_y(np.sqrt(se**2 + noise**2))

    def predict_interval(self, X, confidence=0.95, kind="prediction"):
        """Delta-method confidence or prediction intervals.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        confidence : float, default=0.95
            Coverage probability, in (0, 1).

        kind : {'prediction', 'confidence'}, default='prediction'
            ``'prediction'``: where a new observation at X will fall.
            ``'confidence'``: where the true mean response lies.

        Returns
        -------
        lower, upper : ndarray of the same shape as :meth:`predict`'s output
            Interval bounds, ``y_pred -/+ t * se`` with the Student-t quantile
            on the residual degrees of freedom.

        Notes
        -----
        The intervals are local (linearised) and assume the fit is a
        well-determined local minimum and the noise is independent with a
        constant variance per output. They say nothing about extrapolation
        error beyond what the linearisation sees: far outside the training
        range trust neither the network nor its interval.
        """
        if not (isinstance(confidence, Real) and 0 < confidence < 1):
            raise ValueError(
                f"confidence must be a float in (0, 1), got {confidence!r}"
            )
        if kind not in ("prediction", "confidence"):
            raise ValueError(f"kind must be 'prediction' or 'confidence', got {kind!r}")
        y_pred = self.predict(X)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        se, noise = self._delta_method(X)
        if kind == "prediction":
            se = np.sqrt(se**2 + noise**2)
        half = t_quantile(confidence, self._statistics.dof) * self._shape_like_y(se)
        return y_pred - half, y_pred + half

    def predict_gradient(self, X):
        """Derivative of each prediction with respect to the inputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        dydx : ndarray of shape (n_samples, n_features) or \
                (n_samples, n_outputs, n_features)
            ``dydx[i, j]`` (or ``dydx[i, k, j]``) is the derivative of output
            ``k`` at row ``i`` with respect to feature ``j``, computed by
            autograd.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        params = list(zip(self.coefs_, self.intercepts_))
        act = get_activation(self.activation)
        # Rows do not interact, so the gradient of a summed output holds every
        # row's derivative.
        grads = [
            autograd.grad(lambda Z, k=k: anp_sum(forward(params, Z, act)[:, k]))(X)
            for k in range(self.n_outputs_)
        ]
        out = np.stack(grads, axis=1)
        return out[:, 0, :] if self._y_1d else out

    def diagnose(self, X, y, sample_weight=None, rcond=RCOND):
        """Hessian spectrum, rank, conditioning and standard errors of the fit.

        Pass the training data: the estimator does not keep it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Training targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Training sample weights.

        rcond : float, default=1e-6
            Relative cutoff: a Hessian eigenvalue below ``rcond`` times the
            largest counts as zero (a direction the data do not determine).

        Returns
        -------
        diagnostics : Diagnostics
            A result whose ``str`` is a readable report; see
            :class:`sklearn_tanhnet.Diagnostics`.
        """
        check_is_fitted(self)
        X, y = validate_data(
            self,
            X,
            y,
            reset=False,
            multi_output=True,
            y_numeric=True,
            dtype=np.float64,
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        _, _, y_mean, y_scale = self._scaling
        problem = LeastSquaresProblem(
            self._scaled_inputs(X),
            (Y - y_mean) / y_scale,
            sample_weight,
            self.alpha,
            self._layer_sizes(),
            self.activation,
        )
        return diagnose(problem, self._theta, rcond)
