"""The fit's data: validated, standardised arrays and what a fit starts from.

:class:`FitData` is everything the fitting layer (:mod:`._fitting`) needs to
know about the data of one fit, in memory or partitioned on a Dask cluster;
the functions here build it from validated arrays. Nothing here fits.
"""

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    _get_feature_names,
    assert_all_finite,
    check_X_y,
)

from ._derivatives import (
    added_in_order,
    mean_prediction_loss,
    row_block_parts,
    standard_moments,
)
from ._distributed import prepare_partitions
from ._network import (
    CenteredSparse,
    check_layer_sizes,
    layer_sizes_of,
    n_params_of,
    weight_mask,
)
from ._plan import CommitteePlan, plan_committee, plan_fit, with_run_to_mode

# What validate_data asks of X for predictions, and of X and y for a fit:
# float64 or float32 (the dtype of the fitted coefficients), CSR when sparse.
X_CHECKS = {"accept_sparse": "csr", "dtype": [np.float64, np.float32], "order": "C"}
XY_CHECKS = {**X_CHECKS, "multi_output": True, "y_numeric": True}

# ard='auto' takes one penalty per input up to this many observations per
# parameter (docs/benchmarks.rst).
ARD_OBSERVATIONS_PER_PARAMETER = 10


@dataclass(frozen=True, eq=False)
class FitData:
    """The fixed inputs of one fit.

    Attributes
    ----------
    X, y : array-like
        The validated inputs and targets as given (a Dask collection for a
        partitioned fit), for scikit-learn's callbacks.
    dtype : numpy dtype
        X's dtype as given: the fitted coefficients' dtype.
    Xs, Ys : ndarray, CenteredSparse or None
        Standardised training inputs and 2-D targets (None when partitioned).
    sample_weight : ndarray of shape (n_samples,) or None
        Training weights (None when partitioned).
    val : tuple or None
        Standardised validation ``(X, Y, sample_weight)`` for early stopping.
    scaling : tuple of ndarray
        ``(x_mean, x_scale, y_mean, y_scale)``.
    y_1d : bool
        Whether y was one-dimensional.
    sizes : list of int
        Layer sizes, inputs to outputs.
    warm, partial : bool
        A continued fit (warm_start or partial_fit), partial_fit.
    rng : numpy.random.RandomState
        The fit's random stream (of the first start).
    constant_target : bool
        The standardised targets have no spread.
    loss_scale : float
        The mean prediction's loss (1 for a constant target).
    alpha : float, ndarray or 'auto'
        The penalty to fit with.
    alpha0 : ndarray or None
        Starting per-group penalties for 'auto' (a continued fit's).
    ard : bool
        One penalty per input on the first layer.
    n_rows : int
        Training rows.
    few_observations : bool
        ``sample_weight`` counts fewer observations than parameters
        (already warned of).
    partitions : Partitions or None
        The Dask partitions of a partitioned fit.
    warm_theta, warm_state : ndarray, tuple or None
        The fitted parameters and adam's moments a continued fit starts from.
    width_evidence : bool
        Score a fit at a fixed alpha by its log evidence too
        (``hidden_layer_sizes='auto'``).
    """

    X: object
    y: object
    dtype: object
    Xs: object
    Ys: object
    sample_weight: object
    val: object
    scaling: tuple
    y_1d: bool
    sizes: list
    warm: bool
    partial: bool
    rng: object
    constant_target: bool
    loss_scale: float
    alpha: object
    alpha0: object
    ard: bool
    n_rows: int
    few_observations: bool
    partitions: object = None
    warm_theta: object = None
    warm_state: object = None
    width_evidence: bool = False


@dataclass(frozen=True, eq=False)
class Partitions:
    """A Dask fit's partitions (:func:`~._distributed.prepare_partitions`)
    and the client whose workers hold them."""

    client: object
    parts: object


@dataclass(frozen=True)
class Fitted:
    """What a continued fit (warm_start, partial_fit) takes from the fitted model."""

    scaling: tuple
    y_1d: bool
    ard: bool
    alpha: object
    theta: np.ndarray
    state: object
    sizes: tuple = None


@dataclass(frozen=True)
class InputNames:
    """What a fit records of its inputs: their number (``n_features_in_``)
    and their column names (``feature_names_in_``; None when X has none)."""

    n_features: int
    feature_names: object = None


def validated_arrays(X, y, sample_weight, n_features=None, name="TanhNetRegressor"):
    """``(fit_arrays, InputNames)`` of a fit's X, y and sample_weight.

    The checks and messages of scikit-learn's ``validate_data`` for a fit,
    without an estimator to record on: the caller records the
    :class:`InputNames`. ``n_features``: the number of inputs a continued
    fit expects (its column names are the caller's to check, before);
    ``name``: the estimator's class, as the messages name it.
    """
    if y is None:  # validate_data's message, from the estimator's tags
        raise ValueError(
            f"This {name} estimator requires y to be passed, but the target y is None."
        )
    _check_real_numeric(X, y)
    feature_names = _get_feature_names(X)  # before check_X_y makes X an array
    # scikit-learn's finiteness check sums the array: +inf beside -inf
    # would warn 'invalid value' before its own clear error.
    with np.errstate(invalid="ignore", over="ignore"), _naming_the_column(X):
        X, y = check_X_y(X, y, estimator=name, **XY_CHECKS)
        sample_weight = checked_sample_weight(sample_weight, X)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting "
            f"{n_features} features as input."
        )
    return fit_arrays(X, y, sample_weight), InputNames(X.shape[1], feature_names)


def _check_validation_inputs(validation_names, names):
    """X_val against X, as a fitted estimator checks what it predicts on: a
    ValueError for another number of columns or other column names, a
    warning when only one of them has names."""
    if validation_names.n_features != names.n_features:
        raise ValueError(
            f"X_val has {validation_names.n_features} features, but X has "
            f"{names.n_features}."
        )
    given, expected = validation_names.feature_names, names.feature_names
    if given is not None and expected is not None:
        if list(given) != list(expected):
            raise ValueError(
                "X_val's feature names should match X's: got "
                f"{list(given)} for {list(expected)}."
            )
    elif given is not None or expected is not None:
        which = ("X_val", "X") if given is not None else ("X", "X_val")
        warnings.warn(f"{which[0]} has feature names, but {which[1]} has none.")


def checked_sample_weight(sample_weight, X):
    """scikit-learn's checked ``sample_weight`` for the validated ``X``, as a
    float64 copy: deferred statistics keep the weights, and must not see the
    caller change their array after fit."""
    return _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True, copy=True
    )


def fit_arrays(X, y, sample_weight):
    """``(X, y, Y, sample_weight, dtype)`` of the validated ``X`` and ``y``:
    float64 X (C-ordered, or CSR) and y, 2-D Y, and X's dtype as given
    (float32 stays float32 in the fitted coefficients and the predictions)."""
    dtype = X.dtype
    X = X.astype(np.float64, copy=False)
    y = y.astype(np.float64, copy=False)  # validate_data types only X
    # validate_data checks an object y for NaN before casting it, when a
    # None in it is not yet one: check the numbers.
    assert_all_finite(y, input_name="y")
    Y = y.reshape(-1, 1) if y.ndim == 1 else y
    return X, y, Y, sample_weight, dtype


def check_in_memory_params(params):
    """A ValueError for parameters an in-memory fit cannot combine."""
    if params["loss"] != "squared_error" and params["solver"] != "least_squares":
        raise ValueError(
            f"loss={params['loss']!r} is fitted by reweighted least squares: it "
            f"needs solver='least_squares', got solver={params['solver']!r}."
        )
    explicit = params["run_to_mode"] != "auto" and params["run_to_mode"]
    if explicit and not _runs_lm(params):
        raise ValueError(
            "run_to_mode=True runs the package's Levenberg-Marquardt on: it "
            "needs solver='least_squares' and method='lm', got "
            f"solver={params['solver']!r}, method={params['method']!r}."
        )


def _runs_lm(params):
    return params["solver"] == "least_squares" and params["method"] == "lm"


def plan_widths(params, n_starts, shape, fitted=None, partitioned=False):
    """The :class:`~._plan.CommitteePlan` of a fresh fit, or of a continued
    one: every fitted member once.

    ``params`` are the estimator's (``get_params(deep=False)``), ``shape``
    the training data's ``(n_rows, n_features, n_outputs)``, ``fitted`` the
    :class:`Fitted` members a continued fit goes on from; it raises a
    ValueError unless their widths and outputs match the parameters and the
    data. ``run_to_mode='auto'`` applies only to the Bayesian default, the
    committee of ``hidden_layer_sizes='auto'`` fitted in memory by evidence
    (``alpha='auto'``) on the squared error by the package's
    Levenberg-Marquardt with direct steps: conjugate-gradient steps are too
    inexact to reach a stationary point in a few hundred steps, a robust
    loss refits several times, and each step of a fit over Dask partitions
    (``partitioned``) is a round trip to the workers. A network whose width
    is given ends where its evidence settles unless ``run_to_mode=True``.
    """
    run_to_mode = params["run_to_mode"]
    hidden = params["hidden_layer_sizes"]
    newton = params["tr_solver"] != "cg" and params["loss"] == "squared_error"
    evidence = isinstance(params["alpha"], str) and _runs_lm(params)
    default = hidden == "auto" and evidence and newton and not partitioned
    if run_to_mode == "auto" and not default:
        run_to_mode = False
    if fitted is None:
        if hidden != "auto":
            hidden = check_layer_sizes(hidden)
        return plan_committee(hidden, n_starts, *shape, run_to_mode)
    widths = tuple(tuple(member.sizes[1:-1]) for member in fitted)
    n_outputs, fitted_outputs = shape[2], fitted[0].sizes[-1]
    if hidden != "auto" and any(w != check_layer_sizes(hidden) for w in widths):
        given = check_layer_sizes(hidden)
    elif n_outputs != fitted_outputs:
        given = hidden
    else:
        return with_run_to_mode(CommitteePlan(widths, 1), run_to_mode, *shape)
    raise ValueError(
        "warm_start/partial_fit needs the same hidden_layer_sizes and "
        f"number of outputs as the fitted networks, got "
        f"hidden_layer_sizes={given} and {n_outputs} output(s) for "
        f"{', '.join(map(str, dict.fromkeys(widths)))} and {fitted_outputs}."
    )


def validation_given(validation):
    """Whether ``(X_val, y_val, sample_weight_val)`` gives a validation set
    (a ValueError for one of X_val and y_val alone)."""
    X_val, y_val, _ = validation
    if X_val is None and y_val is None:
        return False
    if X_val is None or y_val is None:
        raise ValueError("X_val and y_val must be given together.")
    return True


def in_memory_candidates(
    X,
    y,
    sample_weight,
    validation,
    params,
    n_starts,
    partial,
    fitted=None,
    name="TanhNetRegressor",
):
    """``(candidates, committee, names)`` of a fit in memory: the
    :class:`FitData` of each width of the committee, its
    :class:`~._plan.CommitteePlan` and the :class:`InputNames` of X.

    ``validation`` is ``(X_val, y_val, sample_weight_val)``, ``params`` the
    estimator's parameters (``get_params(deep=False)``), ``fitted`` the
    :class:`Fitted` members a continued fit goes on from, ``name`` the
    estimator's class (:func:`validated_arrays`).
    """
    check_in_memory_params(params)
    n_features = None if fitted is None else fitted[0].sizes[0]
    arrays, names = validated_arrays(X, y, sample_weight, n_features, name)
    shape = (*arrays[0].shape, arrays[2].shape[1])
    committee = plan_widths(params, n_starts, shape, fitted)
    if validation_given(validation):
        (X_val, _, Y_val, sw_val, _), validation_names = validated_arrays(
            *validation, name=name
        )
        _check_validation_inputs(validation_names, names)
        validation = (X_val, Y_val, sw_val)
    else:
        validation = None
    n_outputs = arrays[2].shape[1]
    if validation is not None and validation[1].shape[1] != n_outputs:
        raise ValueError(
            f"y_val has {validation[1].shape[1]} output(s), y has {n_outputs}."
        )
    warm = fitted is not None
    if not warm:
        fitted = [None] * len(committee.widths)
    candidates = [
        in_memory_fit_data(
            arrays,
            validation,
            hidden,
            standardize=params["standardize"],
            early_stopping=params["early_stopping"],
            validation_fraction=params["validation_fraction"],
            random_state=params["random_state"],
            alpha=params["alpha"],
            ard=params["ard"],
            partial=partial,
            fitted=member,
            width_evidence=len(committee.widths) > 1 and not warm,
        )
        for hidden, member in zip(committee.widths, fitted)
    ]
    return candidates, committee, names


def partitioned_candidates(X, y, sample_weight, validation, params, partial, n_starts):
    """:func:`in_memory_candidates` of a fit on Dask collections, whose
    partitions stay on the workers.

    The package's Levenberg-Marquardt with every sum over rows taken per
    partition (:mod:`._distributed`), on the client of the current Dask
    context.
    """
    from distributed import get_client

    check_partitioned_params(params, partial, validation)
    client = get_client()  # ValueError: no client
    parts = prepare_partitions(client, X, y, sample_weight, params["standardize"])
    shape = (parts.n_rows, parts.n_features, parts.n_outputs)
    committee = plan_widths(params, n_starts, shape, partitioned=True)
    data = [
        partitioned_fit_data(
            client,
            parts,
            X,
            y,
            hidden,
            random_state=params["random_state"],
            alpha=params["alpha"],
            ard=params["ard"],
            width_evidence=len(committee.widths) > 1,
        )
        for hidden in committee.widths
    ]
    # A Dask DataFrame's column names, from its empty pandas twin (_meta),
    # as a pandas X's; none for a Dask array.
    names = InputNames(parts.n_features, _get_feature_names(getattr(X, "_meta", None)))
    return data, committee, names


def fit_plan(data, params):
    """The :class:`~._plan.FitPlan` of the estimator's parameters
    (``get_params(deep=False)``) on ``data``."""
    return plan_fit(
        params["solver"],
        params["method"],
        params["tr_solver"],
        data.n_rows,
        data.sizes[-1],
        n_params_of(data.sizes),
        int(weight_mask(data.sizes).sum()),
        isinstance(data.alpha, str),
        params["uncertainty"],
        data.ard,
        params["memory_budget"] * 2**30,
        data.partial,
    )


def in_memory_fit_data(
    arrays,
    validation,
    hidden,
    *,
    standardize,
    early_stopping,
    validation_fraction,
    random_state,
    alpha,
    ard,
    partial,
    fitted=None,
    width_evidence=False,
):
    """The :class:`FitData` of validated in-memory arrays.

    ``arrays`` is ``(X, y, Y, sample_weight, dtype)`` as the estimator
    validated them, ``validation`` a validated ``(X_val, Y_val,
    sample_weight_val)`` or None, ``fitted`` the model a continued fit goes
    on from, ``width_evidence`` whether the fit is one of several widths
    compared by their log evidence; the other keywords are the estimator's
    parameters.
    """
    X, y, Y, sample_weight, dtype = arrays
    warm = fitted is not None
    if warm:
        scaling = fitted.scaling
    else:
        scaling = standardization(X, Y, sample_weight, standardize)
    x_mean, x_scale, y_mean, y_scale = scaling
    rng = check_random_state(random_state)
    (Xs, Ys, sample_weight), val = validation_split(
        (_standardized(X, x_mean, x_scale), (Y - y_mean) / y_scale, sample_weight),
        validation,
        scaling,
        rng,
        validation_fraction if early_stopping and not partial else None,
    )
    sizes = layer_sizes_of(X.shape[1], hidden, Y.shape[1])
    loss_scale = mean_prediction_loss(Ys, sample_weight)
    weight_sum = float(sample_weight.sum())
    ard = resolved_ard(alpha, ard, sizes, weight_sum, fitted)
    alpha, alpha0 = penalty_start(alpha, sizes, weight_sum, fitted, partial, ard)
    n_positive, n_params = int(np.count_nonzero(sample_weight)), n_params_of(sizes)
    few_observations = isinstance(alpha, str) and _warn_weight_count(
        weight_sum, n_positive, Y.shape[1], n_params
    )
    return FitData(
        X=X,
        dtype=dtype,
        y=y,
        Xs=Xs,
        Ys=Ys,
        sample_weight=sample_weight,
        val=val,
        scaling=scaling,
        y_1d=fitted.y_1d if warm else y.ndim == 1,
        sizes=sizes,
        warm=warm,
        partial=partial,
        rng=rng,
        constant_target=not loss_scale > 0,
        loss_scale=loss_scale if loss_scale > 0 else 1.0,
        alpha=alpha,
        alpha0=alpha0,
        ard=ard,
        n_rows=len(Xs),
        few_observations=few_observations,
        warm_theta=fitted.theta if warm else None,
        warm_state=fitted.state if warm else None,
        width_evidence=width_evidence,
    )


def partitioned_fit_data(
    client, parts, X, y, hidden, *, random_state, alpha, ard, width_evidence=False
):
    """The :class:`FitData` of a Dask fit: the partitions stay on the workers."""
    sizes = layer_sizes_of(parts.n_features, hidden, parts.n_outputs)
    if parts.n_rows * parts.n_outputs < n_params_of(sizes):
        # Such a fit steps in the residual space, whose M x M kernels
        # pair every row with every other: not a sum over partitions.
        raise ValueError(
            f"A Dask fit needs at least as many observations as parameters; "
            f"got {parts.n_rows} rows x {parts.n_outputs} output(s) for "
            f"{n_params_of(sizes)} parameters. Fit data this small in memory "
            "(X.compute())."
        )
    ard = resolved_ard(alpha, ard, sizes, parts.weight_sum, None)
    alpha, alpha0 = penalty_start(alpha, sizes, parts.weight_sum, None, False, ard)
    # (The partitions' rows stand in for those of positive weight.)
    few_observations = isinstance(alpha, str) and _warn_weight_count(
        parts.weight_sum, parts.n_rows, parts.n_outputs, n_params_of(sizes)
    )
    return FitData(
        X=X,
        dtype=parts.dtype,
        y=y,
        Xs=None,
        Ys=None,
        sample_weight=None,
        val=None,
        scaling=parts.scaling,
        y_1d=parts.y_1d,
        sizes=sizes,
        warm=False,
        partial=False,
        rng=check_random_state(random_state),
        constant_target=not parts.loss_scale > 0,
        loss_scale=parts.loss_scale if parts.loss_scale > 0 else 1.0,
        alpha=alpha,
        alpha0=alpha0,
        ard=ard,
        n_rows=parts.n_rows,
        few_observations=few_observations,
        partitions=Partitions(client, parts),
        width_evidence=width_evidence,
    )


def resolved_ard(alpha, ard, sizes, weight_sum, fitted):
    """Whether this fit takes one penalty per input (ARD).

    ``ard='auto'``: with the evidence, two or more inputs, and between
    one and ARD_OBSERVATIONS_PER_PARAMETER observations per parameter.
    Beyond that the data outweigh the prior and ARD changes little but
    the cost (a second stage of iterations); with fewer observations than
    parameters the fit steps in the residual space, which takes one
    penalty per layer. A continued fit keeps the fitted choice.
    """
    if alpha != "auto":
        return False
    if ard != "auto":
        return bool(ard)
    if fitted is not None:
        return fitted.ard
    n_params = n_params_of(sizes)
    observations = weight_sum * sizes[-1]
    return (
        sizes[0] >= 2
        and n_params <= observations <= ARD_OBSERVATIONS_PER_PARAMETER * n_params
    )


def penalty_start(alpha, sizes, weight_sum, fitted, partial, ard):
    """The penalty to fit with and, for 'auto', its per-layer start.

    A continued fit starts from the fitted per-layer penalties; partial_fit
    holds them fixed (it runs no evidence updates).
    """
    # One per layer, or with ARD one per input for the first layer's.
    n_groups = len(sizes) - 1 + (sizes[0] - 1 if ard else 0)
    alpha0 = None
    if alpha == "auto" and fitted is not None:
        alpha0 = np.broadcast_to(fitted.alpha, n_groups).astype(float)
    if alpha == "auto" and partial:
        if alpha0 is None:
            alpha0 = np.full(n_groups, weight_sum)
        alpha = alpha0
    return alpha, alpha0


def validation_split(train, validation, scaling, rng, fraction):
    """Scaled training and validation triples: given, held out, or none.

    ``validation`` a validated set (original units), or None; ``fraction``
    the share of the training rows to hold out when none is given (None:
    hold out none).
    """
    Xs, Ys, sample_weight = train
    x_mean, x_scale, y_mean, y_scale = scaling
    if validation is not None:
        X_val, Y_val, sw_val = validation
        X_val = _standardized(X_val, x_mean, x_scale)
        val = (X_val, (Y_val - y_mean) / y_scale, sw_val)
        return train, val
    if fraction is None:
        return train, None
    train_idx, val_idx = _split(len(Xs), fraction, rng)
    val = (Xs[val_idx], Ys[val_idx], sample_weight[val_idx])
    train = (Xs[train_idx], Ys[train_idx], sample_weight[train_idx])
    if not train[2].sum() > 0 or not val[2].sum() > 0:
        raise ValueError(
            "early_stopping needs positive sample weights in both the "
            "training and the validation part; pass X_val and y_val."
        )
    return train, val


def _split(n_samples, fraction, rng):
    n_val = int(round(fraction * n_samples))
    if n_val < 1 or n_samples - n_val < 1:
        raise ValueError(
            f"validation_fraction={fraction!r} leaves an empty "
            f"training or validation set of {n_samples} samples."
        )
    order = rng.permutation(n_samples)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def standardization(X, Y, sample_weight, standardize):
    """``(x_mean, x_scale, y_mean, y_scale)``: weighted, or the identity."""
    if standardize:
        return (
            *_weighted_mean_std(X, sample_weight),
            *_weighted_mean_std(Y, sample_weight),
        )
    return (
        np.zeros(X.shape[1]),
        np.ones(X.shape[1]),
        np.zeros(Y.shape[1]),
        np.ones(Y.shape[1]),
    )


def _warn_weight_count(weight_sum, n_weighted_rows, n_outputs, n_params):
    """Warn, and return True, when ``sample_weight`` counts fewer observations
    than the network has parameters although its rows would be enough.

    The evidence reads the weights as counts (``N = sum(w) K`` observations):
    weights scaled to sum to one leave it one observation, and it flattens
    the fit to a constant, whatever the rows say.
    """
    observations = weight_sum * n_outputs
    if observations >= n_params or n_weighted_rows * n_outputs < n_params:
        return False
    warnings.warn(
        f"sample_weight sums to {weight_sum:.4g} over {n_weighted_rows} rows of "
        "positive weight. alpha='auto' reads the weights as counts of observations "
        f"(an integer weight repeats its row), and {observations:.4g} observations "
        f"cannot determine the network's {n_params} parameters: the evidence may "
        "flatten the fit to a constant. If the weights are relative, scale them to "
        f"sum to the number of observations (sample_weight * {n_weighted_rows} / "
        "sample_weight.sum()), or set a fixed alpha.",
        UserWarning,
    )
    return True


def _weighted_mean_std(A, w):
    """Weighted mean and standard deviation of each column, overflow-safe.

    ``A`` dense or a scipy sparse matrix (:func:`_sparse_weighted_mean_std`).

    Columns are first divided by their largest magnitude, so values near 1e300
    do not overflow when squared nor values near 1e-300 vanish. A column
    whose spread is at the rounding of its own magnitude is constant
    (:func:`~._derivatives.standard_moments`): it is scaled by that
    magnitude (any positive scale maps it to zero).
    """
    if sparse.issparse(A):
        return _sparse_weighted_mean_std(A, w)
    size = np.max(np.abs(A), axis=0)
    size[~(size > 0)] = 1.0
    B = A / size
    # Products with w rather than np.average, whose checks cost more than the
    # arithmetic on small data; over blocks of SUM_ROWS rows, as a Dask fit
    # adds its partitions' (_distributed).
    n_rows = len(w)

    def power_sum(centre, power):
        return added_in_order(
            row_block_parts(lambda rows: w[rows] @ (B[rows] - centre) ** power, n_rows)
        )

    total = added_in_order(row_block_parts(lambda rows: w[rows].sum(), n_rows))
    mean, std, constant = standard_moments(power_sum, total)
    std[constant] = 1.0
    return mean * size, std * size


def _sparse_weighted_mean_std(A, w):
    """:func:`_weighted_mean_std` of a sparse ``A`` without densifying it.

    The same sums: over the stored entries of each column, plus the centred
    zero's power times the weight of the rows whose entry is zero.
    """
    A = sparse.csc_matrix(A)
    size = abs(A).max(axis=0).toarray().ravel()
    size[~(size > 0)] = 1.0
    columns = np.repeat(np.arange(A.shape[1]), np.diff(A.indptr))
    values = A.data / size[columns]
    row_weight = w[A.indices]
    total = w.sum()
    unstored_weight = total - np.bincount(columns, row_weight, A.shape[1])

    def power_sum(centre, power):
        centre = np.broadcast_to(centre, A.shape[1])
        stored = np.bincount(
            columns, row_weight * (values - centre[columns]) ** power, A.shape[1]
        )
        return stored + (0.0 - centre) ** power * unstored_weight

    mean, std, constant = standard_moments(power_sum, total)
    std[constant] = 1.0
    return mean * size, std * size


def _standardized(X, x_mean, x_scale):
    """``(X - x_mean) / x_scale``; for sparse X, as :class:`CenteredSparse`."""
    if sparse.issparse(X):
        matrix = sparse.csr_matrix(X @ sparse.diags(1.0 / x_scale))
        return CenteredSparse(matrix, x_mean / x_scale)
    return (X - x_mean) / x_scale


def _check_real_numeric(X, y=None):
    """Clear errors for complex inputs and non-numeric targets."""
    dtypes = list(getattr(X, "dtypes", [])) or [getattr(X, "dtype", None)]
    # By the dtype's kind, not np.dtype(d): pandas' extension dtypes (Int64,
    # Float64, boolean, string, category) are no numpy dtypes but have one;
    # validate_data converts or refuses them as MLPRegressor's does.
    if any(getattr(d, "kind", None) == "c" for d in dtypes):
        raise ValueError(
            "Complex data not supported: X has complex values, and "
            "TanhNetRegressor needs real inputs. Pass the real and imaginary "
            "parts as separate features."
        )
    if y is None:
        return
    y_arr = np.asarray(y)
    if y_arr.dtype.kind in "USO":
        try:
            if y_arr.dtype.kind in "US":
                raise ValueError
            y_arr.astype(np.float64)
        except (TypeError, ValueError):
            example = y_arr.ravel()[0] if y_arr.size else None
            raise ValueError(
                f"y must be numeric for regression, got values of dtype "
                f"{y_arr.dtype} (e.g. {example!r}). Encode the target as numbers."
            ) from None


@contextlib.contextmanager
def _naming_the_column(X):
    """Add to validate_data's "could not convert string to float: 'prof'" the
    DataFrame column it came from, and what to do."""
    try:
        yield
    except ValueError as exc:
        if not (str(exc).startswith("could not convert") and hasattr(X, "columns")):
            raise
        for name in X.columns:
            try:
                np.asarray(X[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{exc} (X's column {name!r}, of dtype {X[name].dtype}). "
                    "Encode non-numeric columns as numbers, e.g. with "
                    "sklearn.preprocessing.OneHotEncoder in a pipeline."
                ) from exc
        raise


def check_partitioned_params(params, partial, validation):
    """A ValueError for what a fit on a Dask collection does not do."""
    unsupported = {
        "solver": params["solver"] != "least_squares",
        "method": params["method"] != "lm",
        "loss": params["loss"] != "squared_error",
        "warm_start": params["warm_start"],
        "early_stopping": params["early_stopping"],
        "n_jobs": params["n_jobs"] not in (None, 1),
    }
    named = [name for name, given in unsupported.items() if given]
    if partial or named or any(v is not None for v in validation):
        raise ValueError(
            "A fit on a Dask collection runs the package's Levenberg-Marquardt "
            "(solver='least_squares', method='lm', loss='squared_error') "
            "without warm_start, early stopping, validation data or n_jobs; got "
            + (", ".join(f"{n}={params[n]!r}" for n in named) or "those")
            + ". For adam on Dask use dask_ml.wrappers.Incremental "
            "(docs/scaling.rst)."
        )
