"""The fitted committee: what the estimator keeps of the fit's networks.

A fitted estimator holds its committee as a list of ``(sizes, theta, state,
alpha, ard, statistics)`` tuples, one per member in standardised units, the
representative network first, beside the scaling ``(x_mean, x_scale, y_mean,
y_scale)`` of its data. The functions here build that list (and the other
fitted attributes) from a :class:`~._fitting.FitResult` and read it back: the
one network equal to the members' mean, each member's prediction and
delta-method uncertainty in the original units, the input gradient, the
members' diagnostics and what a continued fit starts from. They take arrays
and values, never the estimator.
"""

from dataclasses import replace

import numpy as np
from scipy import sparse

from ._data import Fitted, _standardized
from ._derivatives import LeastSquaresProblem
from ._fitting import POOR_FIT_SHARE, statistics_of
from ._network import (
    CenteredSparse,
    Network,
    fold_scaling,
    pack,
    side_by_side,
    unpack,
)
from ._uncertainty import (
    DeferredStatistics,
    diagnose,
    mixture_interval,
    prediction_std,
    t_quantile,
    warn_few_residual_dof,
)


def stored_members(result):
    """The committee of a :class:`~._fitting.FitResult` as stored tuples, the
    representative first: what reads one network reads it."""
    members = [
        (m.sizes, m.theta, m.state, m.alpha, m.ard, m.statistics)
        for m in result.members
    ]
    members.insert(0, members.pop(result.kept))
    return members


def fitted_state(result, data, committee, params):
    """The fitted attributes of a fit that do not extend an earlier fit's,
    by name: the committee, the one network of its mean and the outcome.

    ``result`` is the :class:`~._fitting.FitResult`, ``data`` the
    representative's :class:`~._data.FitData`, ``committee`` the
    :class:`~._plan.CommitteePlan` and ``params`` the estimator's
    parameters (``get_params(deep=False)``).
    """
    members = stored_members(result)
    network = mean_network(members, data.scaling)
    state = {
        "_committee": members,
        "_y_1d": data.y_1d,
        "_scaling": data.scaling,
        # float32 data keep float32 coefficients (as MLPRegressor does); the
        # fit itself runs in double precision.
        "coefs_": [W.astype(data.dtype, copy=False) for W, _ in network],
        "intercepts_": [b.astype(data.dtype, copy=False) for _, b in network],
        "n_outputs_": data.sizes[-1],
        "n_layers_": len(data.sizes),
    }
    if params["hidden_layer_sizes"] == "auto":
        widths = {m.sizes[1:-1] for m in result.members}
        state["hidden_layer_sizes_"] = tuple(sorted(widths, key=lambda w: (sum(w), w)))
    partial, robust, lack_of_fit = data.partial, result.robust, result.lack_of_fit
    state.update(
        loss_=result.loss,
        status_=result.status,
        message_=result.message,
        committee_reduced_=committee.reduced,
        tr_solver_=result.step,
        # The solver's reason stays in status_; the poor-minimum verdict on
        # a fit that settled is a separate flag.
        lack_of_fit_=lack_of_fit,
        poor_fit_=lack_of_fit is not None and lack_of_fit >= POOR_FIT_SHARE,
        alpha_=data.alpha0 if partial and params["alpha"] == "auto" else result.alpha,
        log_evidence_=result.log_evidence,
        ard_=data.ard,
        robust_weights_=None if robust is None else robust.row_weights,
        outlier_cutoff_=(
            None if robust is None else robust.threshold * data.scaling[3].ravel()
        ),
        feature_relevance_=None,
    )
    if data.ard and not partial:
        state["feature_relevance_"] = feature_relevance(result.members, data.sizes[0])
    return state


def mean_network(committee, scaling):
    """``[(W, b), ...]`` of the one network whose output is the members' mean,
    in the original units: their hidden units side by side."""
    return side_by_side(
        [fold_scaling(unpack(theta, sizes), *scaling) for sizes, theta, *_ in committee]
    )


def feature_relevance(members, n_inputs):
    """The prior variance of each input's weights, as shares, averaged over
    the ARD members (:class:`~._fitting.Member`)."""
    shares = [
        1.0 / np.asarray(m.alpha, dtype=float)[:n_inputs] for m in members if m.ard
    ]
    return np.mean([v / v.sum() for v in shares], axis=0)


def width_evidence(records):
    """``(width, largest log evidence of its starts)`` of each width fitted."""
    best = {}
    for record in records:
        width, value = record["hidden_layer_sizes"], record["log_evidence"]
        if value is not None and (best.get(width) is None or value > best[width]):
            best[width] = value
        best.setdefault(width, None)
    return list(best.items())


def fitted_members(committee, scaling, y_1d, alpha):
    """The :class:`~._data.Fitted` of each member, for a continued fit.

    ``alpha`` is the representative's penalties (the estimator's ``alpha_``,
    as a single network's always were).
    """
    fitted = [
        Fitted(scaling, y_1d, ard, member_alpha, theta, state, tuple(sizes))
        for sizes, theta, state, member_alpha, ard, _ in committee
    ]
    fitted[0] = replace(fitted[0], alpha=alpha)
    return fitted


def double_precision(coefs, intercepts):
    """``[(W, b), ...]`` of ``coefs_`` and ``intercepts_`` in float64 (a
    float32 fit's exactly): predictions compute in double precision."""
    return [
        (W.astype(float, copy=False), b.astype(float, copy=False))
        for W, b in zip(coefs, intercepts)
    ]


def named_relevance(relevance, names=None):
    """``{feature name: relevance}`` (None without ARD), the features named
    ``x0``, ``x1``, ... when X had no column names."""
    if relevance is None:
        return None
    if names is None:
        names = [f"x{i}" for i in range(len(relevance))]
    return dict(zip(map(str, names), relevance.tolist()))


def resolved(statistics):
    """Delta-method statistics, computed now if they were deferred."""
    if isinstance(statistics, DeferredStatistics):
        return statistics.resolve(statistics_of)
    return statistics


def delta_method(X, member, scaling, activation, n_outputs, n_members=1):
    """Standard error of the mean, noise std and dof of one member of the
    committee (of ``n_members``), in the original units."""
    sizes, theta, _, _, _, statistics = member
    statistics = resolved(statistics)
    if isinstance(statistics, str):
        which = ""
        if n_members > 1:
            hidden = tuple(sizes[1:-1])
            which = f" (its {hidden} network, one of the committee's {n_members})"
        raise ValueError(
            f"Uncertainty is not available for this fit{which}: {statistics}"
        )
    warn_few_residual_dof(statistics, n_outputs)
    y_scale = scaling[3]
    se = prediction_std(
        statistics,
        theta,
        _standardized(X, *scaling[:2]),
        list(sizes),
        activation,
    )
    noise = np.sqrt(statistics.noise_variance) * y_scale
    return se * y_scale, noise, statistics.dof


def member_predictions(committee, X, scaling, activation, n_outputs, with_uncertainty):
    """Each member's mean (original units) and, if
    asked, its (se, noise, dof), (n, K) each."""
    means, uncertainty = [], []
    for member in committee:
        sizes, theta = member[0], member[1]
        with np.errstate(over="ignore", invalid="ignore"):
            params = fold_scaling(unpack(theta, sizes), *scaling)
            means.append(Network(list(sizes), activation).predict(params, X))
        if with_uncertainty:
            uncertainty.append(
                delta_method(X, member, scaling, activation, n_outputs, len(committee))
            )
    return np.stack(means), uncertainty


def mixture_std(means, uncertainty, y_scale):
    """The predictive standard deviation of the members' mixture: the root
    of the mean of their variances plus the variance of their means."""
    # Summed in units of y's scale, where a variance is representable
    # whenever the standard deviation is (a y of scale 1e160 has none).
    variance = np.mean(
        [(np.hypot(se, noise) / y_scale) ** 2 for se, noise, _ in uncertainty],
        axis=0,
    )
    variance = variance + (means / y_scale).var(axis=0)
    return np.sqrt(variance) * y_scale


def interval(y_pred, means, uncertainty, confidence, kind, dtype):
    """Lower and upper bounds, (n, K) of ``dtype`` each: ``y_pred -/+ t se``
    for one member, the mixture's quantiles for several.

    ``kind='prediction'`` adds the noise to the standard error of the mean.
    """
    scales, dofs = [], []
    for se, noise, dof in uncertainty:
        # hypot: no square of a quantity of y's scale, which may overflow.
        scales.append(np.hypot(se, noise) if kind == "prediction" else se)
        dofs.append(dof)
    if len(means) == 1:
        half = t_quantile(confidence, dofs[0]) * scales[0]
        half = half.astype(dtype, copy=False)
        return y_pred - half, y_pred + half
    lower, upper = mixture_interval(means, np.stack(scales), dofs, confidence)
    return lower.astype(dtype, copy=False), upper.astype(dtype, copy=False)


def input_gradient(network, params, X):
    """``d output_k / d x_j`` of one network at each row, (n, K, n_features)."""
    if sparse.issparse(X):
        X = CenteredSparse(X, np.zeros(X.shape[1]))
    n_outputs = network.n_outputs
    linearization = network.linearize(pack(params), X)
    # Rows do not interact: the input gradient of a summed output holds
    # every row's derivative.
    eye = np.eye(n_outputs)
    grads = [
        linearization.input_vjp(np.broadcast_to(eye[k], (X.shape[0], n_outputs)))
        for k in range(n_outputs)
    ]
    return np.stack(grads, axis=1)


def diagnose_committee(committee, scaling, arrays, alpha, activation, rcond):
    """The :class:`~._uncertainty.Diagnostics` of the representative, with
    every member's when there are several.

    ``arrays`` is the validated training ``(X, Y, sample_weight)``, ``alpha``
    the penalty of a member that records none (the estimator's ``alpha_``).
    """
    X, Y, sample_weight = arrays
    _, _, y_mean, y_scale = scaling
    inputs = _standardized(X, *scaling[:2])
    inputs = inputs.toarray() if sparse.issparse(X) else inputs  # autograd's Hessian
    members = [
        diagnose(
            LeastSquaresProblem(
                inputs,
                (Y - y_mean) / y_scale,
                sample_weight,
                alpha if member_alpha is None else member_alpha,
                list(sizes),
                activation,
                ard,
            ),
            theta,
            rcond,
        )
        for sizes, theta, _, member_alpha, ard, _ in committee
    ]
    diagnostics = members[0]
    if len(members) > 1:
        diagnostics.members = members
        diagnostics.member_widths = [tuple(sizes[1:-1]) for sizes, *_ in committee]
    return diagnostics
