"""Issue 16: one Levenberg-Marquardt fit over the partitions of a Dask array.

Every sum over rows is taken per partition on the workers and added on the
client in partition order, so the fit equals the in-memory fit whose row
blocks are the partitions, up to the rounding of adding the same sums.
"""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet import _derivatives as derivatives
from sklearn_tanhnet._data import _weighted_mean_std
from sklearn_tanhnet._derivatives import LeastSquaresProblem
from sklearn_tanhnet._distributed import prepare_partitions

da = pytest.importorskip("dask.array", reason="needs the 'distributed' extra")
distributed = pytest.importorskip("distributed", reason="needs the 'distributed' extra")

CHUNK = 250
RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, (1000, 4))
Y = np.c_[np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.cos(X[:, 3])]
Y = Y + 0.1 * RNG.normal(size=Y.shape)
W = RNG.uniform(0.5, 2.0, 1000)
pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


def in_memory_with_partition_blocks(monkeypatch, params, X, y, w=None):
    """The in-memory fit whose row blocks are the partitions (and which, as a
    Dask fit's run_to_mode='auto', ends where the evidence settles)."""
    params = {"run_to_mode": False, **params}
    init = LeastSquaresProblem.__init__

    def blocked(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.block_rows = self.pass_rows = CHUNK

    with monkeypatch.context() as patch:
        patch.setattr(LeastSquaresProblem, "__init__", blocked)
        return TanhNetRegressor(**params).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("tr_solver", ["exact", "cg"])
@pytest.mark.parametrize("standardize", [True, False])
def test_dask_fit_equals_the_in_memory_fit(client, monkeypatch, tr_solver, standardize):
    # The row sums that fix the units (weight sum, standardisation) run over
    # blocks of SUM_ROWS rows in memory and in the partitions alike: with
    # chunks that are multiples of it, the same numbers are added in the
    # same order, and the conjugate-gradient path (which can amplify a
    # rounding difference to 1e-6) is the in-memory one too.
    monkeypatch.setattr(derivatives, "SUM_ROWS", CHUNK)
    params = dict(
        hidden_layer_sizes=(5,),
        tr_solver=tr_solver,
        standardize=standardize,
        random_state=0,
    )
    X_dask = da.from_array(X, chunks=(CHUNK, 4))
    y_dask = da.from_array(Y[:, 0], chunks=CHUNK)
    est = TanhNetRegressor(**params).fit(X_dask, y_dask)
    ref = in_memory_with_partition_blocks(monkeypatch, params, X, Y[:, 0])
    assert est.tr_solver_ == ref.tr_solver_ == tr_solver
    assert est.n_iter_ == ref.n_iter_ and est.status_ == ref.status_
    assert est.loss_curve_ == ref.loss_curve_  # the same bits, iteration by iteration
    predictions = est.predict(X_dask)
    assert isinstance(predictions, da.Array)  # lazy
    expected = ref.predict(X)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(
        predictions.compute(), expected, rtol=0, atol=1e-12 * scale
    )
    lower, upper = est.predict_interval(X_dask)
    ref_lower, ref_upper = ref.predict_interval(X)
    np.testing.assert_allclose(lower.compute(), ref_lower, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(upper.compute(), ref_upper, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(est.alpha_, ref.alpha_, rtol=1e-10)
    np.testing.assert_allclose(est.log_evidence_, ref.log_evidence_, rtol=1e-10)
    np.testing.assert_allclose(est.noise_variance_, ref.noise_variance_, rtol=1e-10)


def test_weighted_multi_output_dask_fit_equals_the_in_memory_fit(client, monkeypatch):
    monkeypatch.setattr(derivatives, "SUM_ROWS", CHUNK)
    params = dict(hidden_layer_sizes=(4,), random_state=1)
    X_dask = da.from_array(X, chunks=(CHUNK, 2))  # column chunks are joined
    est = TanhNetRegressor(**params).fit(
        X_dask,
        da.from_array(Y, chunks=(CHUNK, 2)),
        sample_weight=da.from_array(W, CHUNK),
    )
    ref = in_memory_with_partition_blocks(monkeypatch, params, X, Y, W)
    expected = ref.predict(X)
    mean, std = est.predict(X_dask, return_std=True)
    assert mean.shape == (1000, 2)
    np.testing.assert_allclose(
        mean.compute(), expected, atol=1e-12 * np.abs(expected).max()
    )
    np.testing.assert_allclose(
        std.compute(), ref.predict(X, return_std=True)[1], rtol=1e-9
    )
    # The standardisation of the partitions is the in-memory one.
    for ours, theirs in zip(est._scaling, ref._scaling):
        np.testing.assert_array_equal(ours, theirs)
    assert est.n_features_in_ == 4 and est.score(X, Y) > 0.8


def test_dask_standardisation_of_a_large_offset_is_the_in_memory_one(
    client, monkeypatch
):
    # One rule for every path: x0 + 1e14 and y + 5e12 keep their spread
    # (float64 resolves it), and the partitions' sums give the in-memory bits.
    monkeypatch.setattr(derivatives, "SUM_ROWS", CHUNK)
    X_offset, Y_offset = X + [1e14, 0, 0, 0], Y + [5e12, 0]
    parts = prepare_partitions(
        client,
        da.from_array(X_offset, chunks=(CHUNK, 4)),
        da.from_array(Y_offset, chunks=(CHUNK, 2)),
        da.from_array(W, CHUNK),
        standardize=True,
    )
    expected = (*_weighted_mean_std(X_offset, W), *_weighted_mean_std(Y_offset, W))
    for ours, theirs in zip(parts.scaling, expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # Rounding each value by at most half an ulp moves the standard
    # deviation by at most that much.
    x_scale, y_scale = parts.scaling[1][0], parts.scaling[3][0]
    for scale, A, offset in [(x_scale, X[:, 0], 1e14), (y_scale, Y[:, 0], 5e12)]:
        std = np.sqrt(np.cov(A, aweights=W, bias=True))
        assert abs(scale - std) <= np.spacing(offset) / 2


def test_dask_dataframe_fit_equals_the_pandas_fit(client, monkeypatch):
    # A Dask DataFrame and Series go the Dask array's way (to_dask_array):
    # the same partitions, so the same sums and the same bits as the
    # in-memory fit of the pandas frame; the column names are recorded and
    # checked as a pandas X's.
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    monkeypatch.setattr(derivatives, "SUM_ROWS", CHUNK)
    params = dict(hidden_layer_sizes=(3,), random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    target = pd.Series(Y[:, 0], name="y")
    frame_dask = dd.from_pandas(frame, chunksize=CHUNK)
    assert frame_dask.npartitions == len(X) // CHUNK
    est = TanhNetRegressor(**params).fit(
        frame_dask, dd.from_pandas(target, chunksize=CHUNK)
    )
    ref = in_memory_with_partition_blocks(monkeypatch, params, frame, target)
    assert est.loss_curve_ == ref.loss_curve_
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c", "d"])
    predictions = est.predict(frame_dask)
    assert isinstance(predictions, da.Array)  # lazy
    expected = ref.predict(frame)
    np.testing.assert_allclose(
        predictions.compute(), expected, rtol=0, atol=1e-12 * np.abs(expected).max()
    )
    np.testing.assert_array_equal(est.predict(frame), predictions.compute())
    with pytest.raises(ValueError, match="must be in the same order"):
        est.predict(frame_dask[["b", "a", "c", "d"]])


@pytest.mark.parametrize(
    "params", [{"solver": "adam"}, {"loss": "huber"}, {"early_stopping": True}]
)
def test_what_a_dask_fit_does_not_do_is_refused(client, params):
    X_dask, y_dask = da.from_array(X, chunks=(CHUNK, 4)), da.from_array(Y[:, 0], CHUNK)
    with pytest.raises(ValueError, match="Dask collection.*Incremental"):
        TanhNetRegressor(**params).fit(X_dask, y_dask)


def test_fewer_rows_than_parameters_is_refused_with_a_way_out(client):
    X_dask = da.from_array(X[:20], chunks=(10, 4))
    with pytest.raises(ValueError, match="as many observations as parameters"):
        TanhNetRegressor((10,)).fit(X_dask, da.from_array(Y[:20, 0], chunks=10))
