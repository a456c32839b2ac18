"""Levenberg-Marquardt over the partitions of a Dask array.

Every quantity the fit takes from the data is a sum over rows,

    J'J = sum_p J_p' J_p,    J'r = sum_p J_p' r_p,    r'r = sum_p r_p' r_p,

and so are the weighted moments of the standardisation, what the evidence
updates read (``J'J``, ``J'r``, ``r'r``) and the delta-method statistics'
``sum_i w_i g_ik g_ik'`` and residual sums of squares. Each partition's
standardised rows live on a worker as a :class:`LeastSquaresProblem` of their
own, normalised by the whole data's weight sum, so that its sums are terms
of the whole problem's. Per iteration the client sends the parameters (``P``
floats) to every partition and gets back its ``J'J``, ``J'r`` and loss (or,
for a trial point, its loss alone); it adds them in the partitions' order, so
a given chunking gives the same bits on any cluster, and solves the damped
step itself. Conjugate-gradient steps keep each partition's linearisation on
its worker (:class:`~._derivatives.JacobianOperator`) and exchange one
``P``-vector each way per product ``J'J v``. The client holds ``O(P^2)``
numbers and one partition's result at a time; X is never gathered.

:func:`prepare_partitions` standardises (passes of weighted sums, as
the in-memory fit) and places the scaled partitions on the workers;
:class:`PartitionedProblem` is the problem the solvers see.
"""

import functools
from dataclasses import dataclass

import numpy as np

from . import _derivatives
from ._derivatives import (
    LeastSquaresProblem,
    added_in_order,
    row_block_parts,
    standard_moments,
)
from ._threads import one_blas_thread


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask array, DataFrame or Series (without importing dask)."""
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(
        obj, "dask"
    )


def _as_dask_array(obj, name):
    import dask.array as da

    if hasattr(obj, "to_dask_array"):  # DataFrame, Series
        obj = obj.to_dask_array(lengths=True)
    if not isinstance(obj, da.Array):
        raise TypeError(f"{name} must be a dask array, DataFrame or Series.")
    if any(np.isnan(c) for c in obj.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes: call compute_chunk_sizes().")
    return obj


def _result_dtype(X):
    """float32 for a float32 Dask array, else float64 (validate_data's rule)."""
    return np.dtype(np.float32 if X.dtype == np.float32 else np.float64)


def _in_order(futures):
    """The futures' results one at a time, in order (all run meanwhile)."""
    for future in futures:
        yield future.result()
        future.release()


# -- what runs on the workers ------------------------------------------------------


def _on_one_blas_thread(function, *args, **kwargs):
    # On a worker as in a fit in memory: a sum split over another number of
    # BLAS threads rounds differently (the nanny's OPENBLAS_NUM_THREADS=1
    # does not reach threaded or hand-started workers).
    with one_blas_thread():
        return function(*args, **kwargs)


def _pinned(function):
    """``function`` run under :func:`_on_one_blas_thread` (picklable)."""
    return functools.partial(_on_one_blas_thread, function)


def _first_pass(block, block_rows):
    """``sum w`` by row blocks and each column's largest magnitude, of X and Y."""
    X, Y, w = block
    return (  # an empty partition has no largest magnitude: zero
        row_block_parts(lambda rows: w[rows].sum(), len(w), block_rows),
        np.max(np.abs(X), axis=0, initial=0.0),
        np.max(np.abs(Y), axis=0, initial=0.0),
    )


def _power_sum(block, column, size, centre, power, block_rows):
    """``sum w (A / size - centre) ** power`` of one column group, by row
    blocks (as in memory)."""
    B, w = block[column] / size, block[2]
    return row_block_parts(
        lambda rows: w[rows] @ (B[rows] - centre) ** power, len(w), block_rows
    )


def _checked_block(X, y, w):
    # C order, as validate_data gives the in-memory fit: a DataFrame's block
    # comes in Fortran order, and BLAS rounds its products differently.
    X = np.ascontiguousarray(X, dtype=float)
    Y = np.asarray(y, dtype=float)
    Y = Y.reshape(len(Y), -1)
    w = np.ones(len(X)) if w is None else np.asarray(w, dtype=float)
    if not (np.isfinite(X).all() and np.isfinite(Y).all() and np.isfinite(w).all()):
        raise ValueError("Input contains NaN or infinity.")
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative.")
    return X, Y, w


def _scaled_block(block, scaling):
    X, Y, w = block
    x_mean, x_scale, y_mean, y_scale = scaling
    return (X - x_mean) / x_scale, (Y - y_mean) / y_scale, w


def _partition_problem(block, layer_sizes, activation, weight_sum):
    Xs, Ys, w = block
    return LeastSquaresProblem(
        Xs, Ys, w, 0.0, layer_sizes, activation, weight_sum=weight_sum
    )


def _normal_equations(problem, theta, gram_dtype):
    return problem.normal_equations(theta, gram_dtype)


def _residual_curvature(problem, theta):
    return problem.residual_curvature(theta)


def _data_loss(problem, theta):
    return problem.data_loss(theta)


def _fit_sums(problem, theta):
    return problem.fit_sums(theta)


def _operator(problem, theta):
    return problem.operator(theta)


def _relinearized(operator, theta):
    operator.update(theta)
    return operator


def _operator_summary(operator):
    return operator.gradient, operator.data_loss, operator.diagonal


def _gram_matvec(operator, v):
    return operator.gram_matvec(v)


# -- the client's side ---------------------------------------------------------------


@dataclass(frozen=True)
class Partitions:
    """The scaled partitions of a fit, held by the workers.

    Attributes
    ----------
    futures : list of distributed.Future
        ``(X_p, Y_p, w_p)`` in standardised units, in row order.
    n_rows, n_features, n_outputs : int
    y_1d : bool
    dtype : numpy dtype
        float32 for float32 X, else float64: the dtype of the fitted
        coefficients and the predictions, as in memory.
    scaling : tuple
        ``(x_mean, x_scale, y_mean, y_scale)``, as the in-memory fit's.
    weight_sum : float
    loss_scale : float
        Half the targets' weighted variance in the fitted units, averaged
        over the outputs (:func:`~._derivatives.mean_prediction_loss`).
    """

    futures: list
    n_rows: int
    n_features: int
    n_outputs: int
    y_1d: bool
    dtype: np.dtype
    scaling: tuple
    weight_sum: float
    loss_scale: float


def prepare_partitions(client, X, y, sample_weight, standardize):
    """Validate, standardise and place the partitions of ``X``, ``y`` on the workers."""
    import dask

    X = _as_dask_array(X, "X")
    y = _as_dask_array(y, "y")
    if X.ndim != 2 or y.ndim not in (1, 2):
        raise ValueError(
            f"X must be 2-D and y 1-D or 2-D, got shapes {X.shape} and {y.shape}."
        )
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows, y {y.shape[0]}.")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    y = y.rechunk({0: X.chunks[0]} | ({1: -1} if y.ndim == 2 else {}))
    n_parts = X.numblocks[0]
    if sample_weight is not None:
        sample_weight = _as_dask_array(sample_weight, "sample_weight")
        sample_weight = sample_weight.rechunk({0: X.chunks[0]})
        weights = sample_weight.to_delayed().ravel()
    else:
        weights = [None] * n_parts
    blocks = [
        dask.delayed(_checked_block)(x, t, w)
        for x, t, w in zip(
            X.to_delayed().ravel(), y.to_delayed().ravel(), weights, strict=True
        )
    ]
    raw = client.compute(blocks)  # futures: the checked blocks stay on the workers
    scaling, weight_sum, loss_scale = _scaling(client, raw, standardize)
    return Partitions(
        futures=client.map(_scaled_block, raw, scaling=scaling, pure=False),
        n_rows=X.shape[0],
        n_features=X.shape[1],
        n_outputs=1 if y.ndim == 1 else y.shape[1],
        y_1d=y.ndim == 1,
        dtype=_result_dtype(X),
        scaling=scaling,
        weight_sum=weight_sum,
        loss_scale=loss_scale,
    )


def _block_sum(client, function, futures, **kwargs):
    """The partitions' row-block sums, all added in row order on the client.

    As :func:`~._derivatives.row_block_parts` and ``added_in_order`` add them
    in memory: with chunks that are multiples of ``SUM_ROWS`` rows the blocks
    are the same, and so are the bits.
    """
    results = client.map(
        _pinned(function),
        futures,
        pure=False,
        block_rows=_derivatives.SUM_ROWS,
        **kwargs,
    )
    return added_in_order([part for parts in _in_order(results) for part in parts])


def _scaling(client, raw, standardize):
    """``(x_mean, x_scale, y_mean, y_scale)``, the weight sum and the loss scale.

    The in-memory fit's formula for the weighted means and standard
    deviations (columns divided by their largest magnitude, then the passes
    of :func:`~._derivatives.standard_moments`), with each pass's sums added
    over the partitions.
    """
    first = client.gather(
        client.map(
            _pinned(_first_pass), raw, block_rows=_derivatives.SUM_ROWS, pure=False
        )
    )
    weight_sum = float(added_in_order([part for f in first for part in f[0]]))
    if not weight_sum > 0:
        raise ValueError("The sample weights sum to zero.")
    moments = []
    for column in (0, 1):
        size = np.max([f[1 + column] for f in first], axis=0)
        size[~(size > 0)] = 1.0

        def power_sum(centre, power, column=column, size=size):
            return _block_sum(
                client,
                _power_sum,
                raw,
                column=column,
                size=size,
                centre=centre,
                power=power,
            )

        mean, std, constant = standard_moments(power_sum, weight_sum)
        variance = (std * size) ** 2
        std[constant] = 1.0
        moments.append((mean * size, std * size, variance))
    (x_mean, x_scale, _), (y_mean, y_scale, y_variance) = moments
    if not standardize:
        x_mean, x_scale = np.zeros_like(x_mean), np.ones_like(x_scale)
        y_mean, y_scale = np.zeros_like(y_mean), np.ones_like(y_scale)
    loss_scale = 0.5 * float(np.mean(y_variance / y_scale**2))
    return (x_mean, x_scale, y_mean, y_scale), weight_sum, loss_scale


class PartitionedProblem(LeastSquaresProblem):
    """A :class:`LeastSquaresProblem` whose rows are a Dask array's partitions.

    The penalty, its groups and everything the solvers compute from the
    parameters alone live on the client, in the parent class; every sum over
    rows is the partitions' (:meth:`sum_over_partitions`).
    """

    def __init__(self, client, parts, alpha, layer_sizes, activation, ard=False):
        m, K = layer_sizes[0], layer_sizes[-1]
        super().__init__(
            np.empty((0, m)),
            np.empty((0, K)),
            np.empty(0),
            alpha,
            layer_sizes,
            activation,
            ard,
            weight_sum=parts.weight_sum,
        )
        self.n_samples = parts.n_rows
        self.client, self.parts = client, parts
        self.problems = client.map(
            _partition_problem,
            parts.futures,
            layer_sizes=list(self.layer_sizes),
            activation=activation,
            weight_sum=parts.weight_sum,
            pure=False,
        )

    def sum_over_partitions(self, function, *args):
        """``sum_p function(problem_p, *args)``, on the workers, added in order."""
        futures = [
            self.client.submit(_pinned(function), problem, *args, pure=False)
            for problem in self.problems
        ]
        return added_in_order(_in_order(futures))

    def normal_equations(self, theta, gram_dtype=np.float64):
        theta = np.asarray(theta, dtype=float)
        return self.sum_over_partitions(_normal_equations, theta, gram_dtype)

    def residual_curvature(self, theta):
        theta = np.asarray(theta, dtype=float)
        return self.sum_over_partitions(_residual_curvature, theta)

    def data_loss(self, theta):
        return self.sum_over_partitions(_data_loss, np.asarray(theta, dtype=float))

    def trial_loss(self, theta):
        return self.loss(theta)

    def fit_sums(self, theta):
        return self.sum_over_partitions(_fit_sums, np.asarray(theta, dtype=float))

    def operator(self, theta):
        return PartitionedOperator(self, np.asarray(theta, dtype=float))

    def output(self, theta):
        raise NotImplementedError(
            "A fit over a Dask array's partitions has no in-memory output: "
            "its sums come from the workers."
        )


class PartitionedOperator:
    """:class:`~._derivatives.JacobianOperator` of each partition, on its worker.

    Attributes ``gradient``, ``data_loss`` and ``diagonal`` (the diagonal of
    ``J'J``) and :meth:`gram_matvec`, as the in-memory operator's.
    """

    def __init__(self, problem, theta):
        self.problem = problem
        self.operators = None
        self.update(theta)

    def update(self, theta):
        client, theta = self.problem.client, np.asarray(theta, dtype=float)
        if self.operators is None:
            self.operators = client.map(
                _pinned(_operator), self.problem.problems, theta=theta, pure=False
            )
        else:  # in place on the workers, as the in-memory operator does
            self.operators = client.map(
                _pinned(_relinearized), self.operators, theta=theta, pure=False
            )
        summaries = client.map(_operator_summary, self.operators, pure=False)
        self.gradient, self.data_loss, self.diagonal = added_in_order(
            _in_order(summaries)
        )

    def gram_matvec(self, v):
        client = self.problem.client
        products = client.map(
            _pinned(_gram_matvec), self.operators, v=np.asarray(v), pure=False
        )
        return added_in_order(_in_order(products))


def _method_block(block, estimator, method, kwargs, columns=None):
    if columns is not None:  # a Dask DataFrame's block, named as it was
        import pandas as pd

        block = pd.DataFrame(block, columns=columns)
    result = getattr(estimator, method)(block, **kwargs)
    if isinstance(result, tuple):  # (mean, std) or (lower, upper): side by side
        result = np.concatenate([np.reshape(r, (len(block), -1)) for r in result], 1)
    return np.reshape(result, (len(block), -1))


def lazily(estimator, method, X, n_results=1, **kwargs):
    """``estimator.method(X, **kwargs)`` block by block of a Dask array, lazily.

    The fitted estimator goes to the workers with the task graph; each block
    is predicted by the in-memory method, so the bits are those of calling
    it on the block. Tuple results (``return_std``, intervals) come back as
    a tuple of Dask arrays.
    """
    columns = None
    if hasattr(X, "columns"):  # a Dask DataFrame: its names checked here, now
        from sklearn.utils.validation import _check_feature_names

        _check_feature_names(estimator, X._meta, reset=False)
        columns = getattr(estimator, "feature_names_in_", None)
    X = _as_dask_array(X, "X")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    K = estimator.n_outputs_
    dtype = np.result_type(_result_dtype(X), estimator.coefs_[0].dtype)
    out = X.map_blocks(
        _method_block,
        estimator,
        method,
        kwargs,
        columns,
        dtype=dtype,
        chunks=(X.chunks[0], (n_results * K,)),
    )
    results = tuple(out[:, i * K : (i + 1) * K] for i in range(n_results))
    if estimator._y_1d:
        results = tuple(r[:, 0] for r in results)
    return results if n_results > 1 else results[0]
