"""TanhNetRegressor: validation and orchestration around the network and solvers."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Hidden, Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_feature_names,
    check_is_fitted,
    validate_data,
)

from ._committee import (
    diagnose_committee,
    double_precision,
    fitted_members,
    fitted_state,
    input_gradient,
    interval,
    member_predictions,
    mixture_std,
    named_relevance,
    resolved,
    width_evidence,
)
from ._data import (
    X_CHECKS,
    _check_real_numeric,
    _naming_the_column,
    validated_arrays,
)
from ._distributed import is_dask_collection, lazily
from ._fitting import Callbacks, FitRequest, fit_committee
from ._network import (
    ACTIVATIONS,
    Network,
)
from ._plan import starts_and_combine
from ._robust import LOSSES
from ._threads import with_one_blas_thread
from ._uncertainty import RCOND


def _validated_inputs(estimator, X):
    """Validated X for predict-like methods (float64, CSR when sparse) and the
    dtype of what they return: float32 for float32 X on a float32 fit."""
    _check_real_numeric(X)
    with (
        np.errstate(invalid="ignore", over="ignore"),  # as in validated_arrays
        _naming_the_column(X),
    ):
        X = validate_data(estimator, X, reset=False, **X_CHECKS)
    dtype = np.result_type(X.dtype, estimator.coefs_[0].dtype)
    return X.astype(np.float64, copy=False), dtype


try:  # scikit-learn >= 1.9 has a callback API; without it, fits run unobserved.
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # pragma: no cover - depends on the installed scikit-learn

    class CallbackSupportMixin:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin``."""


def _like_y(estimator, A):
    """``A`` of shape (n_samples, n_outputs) shaped as the fitted y was."""
    return A.ravel() if estimator._y_1d else A


def _is_adam(estimator):
    return estimator.solver == "adam"


class TanhNetRegressor(CallbackSupportMixin, RegressorMixin, BaseEstimator):
    """Feed-forward tanh neural network regressor with exact autograd derivatives.

    Networks of activated hidden layers and a linear output layer (by default
    a committee of them), each minimising the weighted mean squared error plus
    an L2 penalty on the weights, by default with the package's
    Levenberg-Marquardt and MacKay's evidence framework (Bayesian
    regularisation, as MATLAB's ``trainbr``). See the :ref:`user_guide`.

    Parameters
    ----------
    hidden_layer_sizes : int, tuple of int or 'auto', default='auto'
        Number of units in each hidden layer; ``()`` gives a linear model.
        ``'auto'``: a committee of one-hidden-layer networks of widths
        growing with the rows (:ref:`committee`).

    activation : {'tanh', 'logistic', 'relu', 'sin', 'identity'} or callable, \
            default='tanh'
        Hidden-layer activation. A callable must map an array to an array of
        the same shape using ``autograd.numpy`` so it can be differentiated.

    solver : {'least_squares', 'adam'}, default='least_squares'
        Gauss-Newton/Levenberg-Marquardt on the residual vector (``method``),
        or minibatch adam for the largest data (:ref:`which_solver`).

    alpha : 'auto' or float, default='auto'
        L2 penalty on the weights (not the biases), scaled as in
        MLPRegressor: the objective adds ``alpha * ||W||^2 / (2 *
        sum(sample_weight))``. ``'auto'`` re-estimates one penalty per layer
        by the evidence (:ref:`training_control`); the result is ``alpha_``.

    learning_rate : float, default=1e-3
        Adam's step size itself (MLPRegressor's ``learning_rate_init``; its
        ``learning_rate`` names a schedule). Only used when ``solver='adam'``.

    batch_size : int or 'auto', default='auto'
        Minibatch size for adam; ``'auto'`` is ``min(200, n_samples)``.

    max_iter : int, default=200
        Maximum number of iterations: accepted steps for least_squares (five
        times as many for ``run_to_mode``'s), epochs for adam.

    tol : float, default=1e-5
        Training stops once the objective has not improved by more than ``tol``
        times the mean prediction's for ``n_iter_no_change`` iterations.

    n_iter_no_change : int or np.inf, default=10
        Iterations without improvement before stopping (``np.inf``: never).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their loss
        stops improving and keep the best parameters (:ref:`early_stopping`).

    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.

    n_starts : int or 'auto', default='auto'
        Random starts of each width. ``'auto'``: 2 with ``'auto'`` widths on
        small data, else 1 (:ref:`committee`).

    combine : {'mixture', 'best'}, default='mixture'
        Predict with every network of the committee with equal weight, or
        with the one of largest log evidence alone (:ref:`committee`).

    run_to_mode : bool or 'auto', default='auto'
        Go on past the evidence's settling point, the penalties held, until
        each network's relative gradient is at most 1e-6 (``method='lm'``);
        ``'auto'``: the default committee on small data (:ref:`committee`).

    n_jobs : int or None, default=None
        Processes for the committee's networks (joblib; None or 1: in this
        process), with the same result bit for bit; callbacks and ``verbose``
        do not see the networks fitted in other processes.

    warm_start : bool, default=False
        Continue every network from its fitted weights for at most
        ``max_iter`` iterations (:ref:`warm_start`).

    method : {'lm', 'trf', 'dogbox'}, default='lm'
        The package's own Levenberg-Marquardt (``'lm'``), or
        :func:`scipy.optimize.least_squares`'s (:ref:`which_solver`).

    tr_solver : {'auto', 'exact', 'cg', 'lsmr'}, default='auto'
        How a step is solved; ``'auto'`` chooses by cost
        (:ref:`memory_budget`) and stores the choice in ``tr_solver_``.

    standardize : bool, default=True
        Standardise X and y (weighted by ``sample_weight``) before fitting.

    ard : bool or 'auto', default='auto'
        With ``alpha='auto'``, one penalty per input on the first layer
        (:ref:`ard`); ``'auto'`` takes it for two or more inputs and 1 to 10
        observations per parameter.

    uncertainty : {'auto', 'fit', 'lazy', 'off'}, default='auto'
        When the statistics behind the intervals, ``noise_variance_`` and
        ``effective_n_params_`` are computed: at the end of fit, on first use
        or never; ``'auto'`` at the end of fit, after a costly
        ``partial_fit`` call on first use (:ref:`intervals`).

    memory_budget : float, default=2.0
        The most memory, in GiB, the fit's dense matrices may take
        (:ref:`memory_budget`).

    shuffle : bool, default=True
        Shuffle the rows every epoch (adam with minibatches only).

    beta_1 : float, default=0.9
        Adam's decay rate of the first moment estimate.

    beta_2 : float, default=0.999
        Adam's decay rate of the second moment estimate.

    epsilon : float, default=1e-8
        Adam's numerical stability constant.

    loss : {'squared_error', 'huber', 'soft_l1', 'cauchy'}, default='squared_error'
        The data term; the robust losses need ``solver='least_squares'``
        (:ref:`robust_losses`).

    outlier_threshold : float, default=1.345
        Where the robust losses start to discount a residual, in robust
        standard deviations of the residuals.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the minibatch shuffling; an int gives
        results that are reproducible bit for bit.

    verbose : int or bool, default=0
        Print the loss every ``verbose`` iterations (every iteration for True).

    n_restarts : int, default='deprecated'
        Deprecated: ``n_starts`` with ``combine='best'``. Removed in 0.4.

    ensemble : bool, default='deprecated'
        Deprecated: ``combine`` (``True``: 'mixture'). Removed in 0.4.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices, one per layer, in the original units, of the one
        network :meth:`predict` computes: the committee's members side by
        side (:ref:`committee`).

    intercepts_ : list of ndarray
        Bias vectors, one per layer, of the same network.

    members_ : list of dict
        Every network the fit trained: ``hidden_layer_sizes``, ``weight`` (0
        if left out), ``loss``, ``validation_loss``, ``gcv``,
        ``log_evidence``, ``n_iter``, ``status``, ``coefs``, ``intercepts``.

    committee_reduced_ : str
        Why the committee is smaller than asked ('' when it is not).

    loss_ : float
        Objective at the fitted parameters (standardised units) of the
        representative network (:ref:`committee`), whose ``loss_curve_``,
        ``n_iter_``, ``status_``, ``alpha_``, ``log_evidence_``,
        ``noise_variance_`` and ``effective_n_params_`` these are too.

    loss_curve_ : list of float
        Objective, penalty included, at every iteration run (:ref:`training_control`).

    n_iter_ : int
        Iterations of the last call to ``fit``; after ``partial_fit``, the
        epochs since the network was initialised.

    status_ : str
        Why the solver stopped: ``'converged'``, ``'plateau'``, ``'stopped'``,
        ``'max_iter'`` or ``'diverged'``.

    lack_of_fit_ : float or None
        Share of the target's variance a smoother of the training residuals
        recovers (:ref:`poor_local_minimum`).

    poor_fit_ : bool
        Whether ``lack_of_fit_`` is at least ``POOR_FIT_SHARE`` (0.01).

    tr_solver_ : {'exact', 'cg', 'lsmr'} or None
        The step the least_squares fit ran (None for adam).

    alpha_ : float or ndarray of shape (`n_layers_` - 1,)
        The penalty used: ``alpha``, or the per-layer evidence estimates.

    log_evidence_ : float or None
        The log evidence of the fitted model (:ref:`model_comparison`); None
        with a float ``alpha`` unless ``hidden_layer_sizes='auto'``.

    hidden_layer_sizes_ : tuple of tuple of int
        With ``hidden_layer_sizes='auto'``: the members' widths.

    width_log_evidence_ : dict
        With ``hidden_layer_sizes='auto'``: each width's largest
        ``log_evidence`` over its starts.

    ard_ : bool
        Whether the fit took one penalty per input (see ``ard``).

    robust_weights_ : ndarray of shape (n_training_rows,) or None
        With a robust ``loss``: each training row's weight in the last round
        (1 within the threshold, smaller for outliers).

    outlier_cutoff_ : ndarray of shape (`n_outputs_`,) or None
        With a robust ``loss``: the residual, in the target's units, beyond
        which a row counts less.

    feature_relevance_ : ndarray of shape (`n_features_in_`,) or None
        With ARD: each input's share of the first layer's prior variance (:ref:`ard`).

    noise_variance_ : ndarray of shape (`n_outputs_`,) or None
        Residual variance per output, in the target's units (``inf`` beyond
        float64's range).

    effective_n_params_ : float or None
        Effective number of parameters (trace of the hat matrix).

    validation_loss_curve_ : list of float
        Validation loss at each iteration (with a validation set only).

    best_validation_loss_ : float
        Lowest validation loss (with a validation set only).

    best_loss_ : float or None
        ``solver='adam'``: ``min(loss_curve_)``, None with a validation set.

    restarts_ : list of dict
        Deprecated: ``members_``. Removed in 0.4.

    message_ : str
        The solver's own account of why it stopped.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    n_outputs_ : int
        Number of outputs.

    n_layers_ : int
        Number of layers, input and output included.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : scikit-learn's multi-layer perceptron.

    References
    ----------
    MacKay, D. J. C. (1992). A practical Bayesian framework for
    backpropagation networks. Neural Computation, 4(3), 448-472. (The user
    guide's references give the Levenberg-Marquardt and Gauss-Newton ones.)

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
            StrOptions({"auto"}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS)), callable],
        "solver": [StrOptions({"least_squares", "adam"})],
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_starts": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "combine": [StrOptions({"mixture", "best"})],
        "run_to_mode": ["boolean", StrOptions({"auto"})],
        "n_restarts": [
            Interval(Integral, 1, None, closed="left"),
            Hidden(StrOptions({"deprecated"})),
        ],
        "ensemble": ["boolean", Hidden(StrOptions({"deprecated"}))],
        "n_jobs": [Integral, None],
        "warm_start": ["boolean"],
        "method": [StrOptions({"lm", "trf", "dogbox"})],
        "tr_solver": [StrOptions({"auto", "exact", "cg", "lsmr"})],
        "standardize": ["boolean"],
        "ard": ["boolean", StrOptions({"auto"})],
        "uncertainty": [StrOptions({"auto", "fit", "lazy", "off"})],
        "memory_budget": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions(set(LOSSES))],
        "outlier_threshold": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes="auto",
        activation="tanh",
        *,
        solver="least_squares",
        alpha="auto",
        learning_rate=1e-3,
        batch_size="auto",
        max_iter=200,
        tol=1e-5,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        n_starts="auto",
        combine="mixture",
        run_to_mode="auto",
        n_jobs=None,
        warm_start=False,
        method="lm",
        tr_solver="auto",
        standardize=True,
        ard="auto",
        uncertainty="auto",
        memory_budget=2.0,
        shuffle=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        loss="squared_error",
        outlier_threshold=1.345,
        random_state=None,
        verbose=0,
        n_restarts="deprecated",
        ensemble="deprecated",
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_starts = n_starts
        self.combine = combine
        self.run_to_mode = run_to_mode
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.method = method
        self.tr_solver = tr_solver
        self.standardize = standardize
        self.ard = ard
        self.uncertainty = uncertainty
        self.memory_budget = memory_budget
        self.shuffle = shuffle
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.loss = loss
        self.outlier_threshold = outlier_threshold
        self.random_state = random_state
        self.verbose = verbose
        self.n_restarts = n_restarts
        self.ensemble = ensemble

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    @with_one_blas_thread
    def fit(
        self, X, y, sample_weight=None, X_val=None, y_val=None, sample_weight_val=None
    ):
        """Fit the network to data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs. A Dask array (or DataFrame) is fitted where it
            lies, its partitions on the workers of the active
            ``distributed.Client`` (:ref:`scaling`).

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values; a Dask array (or Series/DataFrame) with X's.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (a Dask array with X's), counts of
            observations: an integer weight counts as repeating the row, and
            their sum is the number of observations for ``alpha='auto'`` and
            the intervals (:ref:`intervals`).

        X_val, y_val : array-like, default=None
            A validation set for early stopping, used instead of holding out
            ``validation_fraction`` of the training data (and whatever
            ``early_stopping`` says).

        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation set.

        Returns
        -------
        self : TanhNetRegressor
            The fitted estimator.
        """
        return self._fit(
            X, y, sample_weight, (X_val, y_val, sample_weight_val), partial=False
        )

    @available_if(_is_adam)
    @_fit_context(prefer_skip_nested_validation=True)
    @with_one_blas_thread
    def partial_fit(self, X, y, sample_weight=None):
        """Run one adam epoch over the given data.

        The first call initialises the network (and the standardisation, from
        this data); later calls continue from the current weights and adam's
        moment estimates, with the penalty held fixed (:ref:`warm_start`).
        Only available for ``solver='adam'``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : TanhNetRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, (None, None, None), partial=True)

    def _fit(self, X, y, sample_weight, validation, partial):
        params = self.get_params(deep=False)
        n_starts, combine = starts_and_combine(
            self.n_starts, self.combine, self.n_restarts, self.ensemble
        )
        fitted = None
        if (self.warm_start or partial) and hasattr(self, "_committee"):
            alpha = getattr(self, "alpha_", None)
            fitted = fitted_members(self._committee, self._scaling, self._y_1d, alpha)
            # scikit-learn's warnings and errors for other column names.
            _check_feature_names(self, X, reset=False)
        if self.hidden_layer_sizes == "auto" and partial and fitted is None:
            raise ValueError(
                "partial_fit cannot size the committee of "
                "hidden_layer_sizes='auto' from one batch: call fit first "
                "(partial_fit then continues its networks), or pass a width, "
                f"got hidden_layer_sizes={self.hidden_layer_sizes!r}."
            )
        name = type(self).__name__
        request = FitRequest(params, n_starts, combine, partial, fitted, name)
        fit = fit_committee(X, y, sample_weight, validation, request, Callbacks(self))
        # Everything is computed; only now does the estimator change, so an
        # error or an interrupt above leaves it as it was.
        self._store(fit, params)
        return self

    def _store(self, fit, params):
        """Set every fitted attribute, from the fit's :class:`CommitteeFit`.

        The one place a fit changes the estimator, whatever ended it (see
        ``status_``); ``params`` are the estimator's parameters.
        """
        result, data = fit.result, fit.data
        partial = data.partial
        validation_curve = result.validation_curve
        if data.warm:
            self.loss_curve_ = self.loss_curve_ + result.loss_curve
            # A warm fit counts its own iterations, bounded by max_iter (as
            # MLPRegressor); partial_fit counts its epochs since the start.
            self.n_iter_ = result.n_iter + (self.n_iter_ if partial else 0)
            if validation_curve is not None and hasattr(self, "validation_loss_curve_"):
                self.validation_loss_curve_ = (
                    self.validation_loss_curve_ + validation_curve
                )
        else:
            self.loss_curve_ = list(result.loss_curve)
            self.n_iter_ = result.n_iter
            if validation_curve is not None:
                self.validation_loss_curve_ = list(validation_curve)
            else:  # a refit without validation must not keep the last one's
                for name in ("validation_loss_curve_", "best_validation_loss_"):
                    vars(self).pop(name, None)
            self.members_ = result.records
            vars(self).pop("_width_evidence", None)
            if self.hidden_layer_sizes == "auto":
                # (width, value) pairs: skops writes no dict with tuple keys.
                self._width_evidence = width_evidence(result.records)
        if validation_curve is not None:
            self.best_validation_loss_ = result.best_validation_loss
        # MLPRegressor's adam attribute: the lowest epoch loss, None with
        # early stopping (best_validation_loss_ is the criterion then).
        vars(self).pop("best_loss_", None)
        if self.solver == "adam":
            curve = self.loss_curve_
            self.best_loss_ = min(curve) if curve and validation_curve is None else None
        if self.hidden_layer_sizes != "auto":
            vars(self).pop("hidden_layer_sizes_", None)
        if not data.warm:  # a continued fit keeps the names it was fitted with
            self.n_features_in_ = fit.inputs.n_features
            vars(self).pop("feature_names_in_", None)
            if fit.inputs.feature_names is not None:
                self.feature_names_in_ = fit.inputs.feature_names
        vars(self).update(fitted_state(result, data, fit.committee, params))

    @property
    def restarts_(self):
        warnings.warn(
            "restarts_ is deprecated in 0.2 and will be removed in 0.4: use "
            "members_ (every network the fit trained).",
            FutureWarning,
        )
        return self.members_

    def _layer_sizes(self):
        """Layer sizes of the network of ``coefs_``."""
        return [self.n_features_in_, *(W.shape[1] for W in self.coefs_)]

    def _fitted_statistics(self):
        """The representative network's delta-method statistics (computed now
        if deferred), or the reason there are none."""
        if not hasattr(self, "_committee"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call "
                "'fit' first."
            )
        return resolved(self._committee[0][5])

    @property
    def width_log_evidence_(self):
        if not hasattr(self, "_width_evidence"):
            raise AttributeError(
                "width_log_evidence_ exists after a fit with hidden_layer_sizes='auto'"
            )
        return dict(self._width_evidence)

    @property
    def noise_variance_(self):
        statistics = self._fitted_statistics()
        if isinstance(statistics, str):
            return None
        with np.errstate(over="ignore"):  # inf beyond float64: documented
            return statistics.noise_variance * self._scaling[3] ** 2

    @property
    def effective_n_params_(self):
        statistics = self._fitted_statistics()
        if isinstance(statistics, str):
            return None
        return statistics.effective_n_params

    def _member_predictions(self, X):
        """Each member's mean and (se, noise, dof), in the original units."""
        return member_predictions(
            self._committee, X, self._scaling, self.activation, self.n_outputs_, True
        )

    @with_one_blas_thread
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
            Predictions, 1-D when the network was fitted on a 1-D target; a
            lazy Dask array, predicted block by block, for a Dask array X
            (:meth:`predict_interval` too).

        y_std : ndarray of the same shape as y_pred
            Predictive standard deviation; only when ``return_std=True``.
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return lazily(
                self, "predict", X, 2 if return_std else 1, return_std=return_std
            )
        X, dtype = _validated_inputs(self, X)
        params = double_precision(self.coefs_, self.intercepts_)
        with np.errstate(over="ignore"):
            out = Network(self._layer_sizes(), self.activation).predict(params, X)
        out = out.astype(dtype, copy=False)
        if not return_std:
            return _like_y(self, out)
        means, uncertainty = self._member_predictions(X)
        std = mixture_std(means, uncertainty, self._scaling[3])
        return _like_y(self, out), _like_y(self, std.astype(dtype, copy=False))

    @with_one_blas_thread
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
        The intervals are local (linearised), for a well-determined local
        minimum with independent noise of constant variance per output; they
        say nothing about extrapolation (:ref:`trust_intervals`). With fewer
        residual degrees of freedom than effective parameters per output
        they come out too narrow, and this method and
        ``predict(return_std=True)`` warn (``UserWarning``).
        """
        if not (isinstance(confidence, Real) and 0 < confidence < 1):
            raise ValueError(
                f"confidence must be a float in (0, 1), got {confidence!r}"
            )
        if kind not in ("prediction", "confidence"):
            raise ValueError(f"kind must be 'prediction' or 'confidence', got {kind!r}")
        if is_dask_collection(X):
            check_is_fitted(self)
            return lazily(
                self, "predict_interval", X, 2, confidence=confidence, kind=kind
            )
        y_pred = self.predict(X)
        X, dtype = _validated_inputs(self, X)
        means, uncertainty = self._member_predictions(X)
        y_pred = y_pred.reshape(means.shape[1:])
        lower, upper = interval(y_pred, means, uncertainty, confidence, kind, dtype)
        return _like_y(self, lower), _like_y(self, upper)

    @with_one_blas_thread
    def predict_gradient(self, X):
        """Derivative of each prediction with respect to the inputs.

        Of the function :meth:`predict` computes: for a committee, the mean
        of its members' derivatives (the derivative of the one network of
        ``coefs_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        dydx : ndarray of shape (n_samples, n_features) or \
                (n_samples, n_outputs, n_features)
            ``dydx[i, j]`` (or ``dydx[i, k, j]``) is the derivative of output
            ``k`` at row ``i`` with respect to feature ``j``, by
            back-propagation.
        """
        check_is_fitted(self)
        X, dtype = _validated_inputs(self, X)
        network = Network(self._layer_sizes(), self.activation)
        params = double_precision(self.coefs_, self.intercepts_)
        out = input_gradient(network, params, X).astype(dtype, copy=False)
        return out[:, 0, :] if self._y_1d else out

    @with_one_blas_thread
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
        _check_feature_names(self, X, reset=False)
        arrays, _ = validated_arrays(
            X, y, sample_weight, self.n_features_in_, type(self).__name__
        )
        X, _, Y, sample_weight, _ = arrays
        diagnostics = diagnose_committee(
            self._committee,
            self._scaling,
            (X, Y, sample_weight),
            self.alpha_,
            self.activation,
            rcond,
        )
        diagnostics.stop_reason = self.message_
        diagnostics.penalties_estimated = self.alpha == "auto"
        relevance = getattr(self, "feature_relevance_", None)
        names = getattr(self, "feature_names_in_", None)
        diagnostics.feature_relevance = named_relevance(relevance, names)
        return diagnostics
