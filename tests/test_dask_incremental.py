"""adam on Dask arrays through dask-ml's Incremental: one partial_fit per block.

``Incremental.fit`` hands the blocks of a row-chunked dask array to the
estimator's ``partial_fit`` one after another, as a chain of tasks on the
workers; each task gets the estimator the previous one returned. With
``shuffle_blocks=False`` the chain runs in block order, so the result must be,
bit for bit, the in-memory loop of ``partial_fit`` over the same blocks. With
two worker processes the estimator may move, pickled, from one to the other
along the chain, and must carry all of adam's state with it.
"""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from sklearn_tanhnet import TanhNetRegressor

da = pytest.importorskip("dask.array", reason="needs the 'dask' extra")
distributed = pytest.importorskip("distributed", reason="needs the 'dask' extra")
wrappers = pytest.importorskip("dask_ml.wrappers", reason="needs the 'dask' extra")

RNG = np.random.RandomState(0)
N_TRAIN, N_TEST, N_FEATURES, ROWS_PER_BLOCK = 2_000, 500, 4, 500
N_BLOCKS = N_TRAIN // ROWS_PER_BLOCK
X_ALL = RNG.uniform(-1, 1, size=(N_TRAIN + N_TEST, N_FEATURES))
Y_ALL = (
    np.sin(3 * X_ALL[:, 0])
    + X_ALL[:, 1] * X_ALL[:, 2]
    + 0.05 * RNG.normal(size=N_TRAIN + N_TEST)
)
X_TRAIN, Y_TRAIN = X_ALL[:N_TRAIN], Y_ALL[:N_TRAIN]
X_TEST, Y_TEST = X_ALL[N_TRAIN:], Y_ALL[N_TRAIN:]


def adam():
    # A float alpha: partial_fit holds the penalty fixed, so there is no
    # evidence update that a block's weight sum could steer.
    return TanhNetRegressor(
        (10,),
        solver="adam",
        alpha=1e-4,
        learning_rate=3e-2,
        batch_size=50,
        random_state=0,
    )


def blocks():
    for i in range(N_BLOCKS):
        rows = slice(i * ROWS_PER_BLOCK, (i + 1) * ROWS_PER_BLOCK)
        yield X_TRAIN[rows], Y_TRAIN[rows]


def in_memory(passes=1):
    est = adam()
    for _ in range(passes):
        for X_block, y_block in blocks():
            est.partial_fit(X_block, y_block)
    return est


def dask_data():
    return (
        da.from_array(X_TRAIN, chunks=(ROWS_PER_BLOCK, N_FEATURES)),
        da.from_array(Y_TRAIN, chunks=ROWS_PER_BLOCK),
    )


def assert_same_fit(a, b):
    for A, B in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(A, B)
    assert a.loss_curve_ == b.loss_curve_
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.predict(X_TEST), b.predict(X_TEST))


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def incremental(client):
    X, y = dask_data()
    with distributed.get_task_stream(client) as stream:
        fitted = wrappers.Incremental(adam(), shuffle_blocks=False).fit(X, y)
    return fitted, stream.data, set(client.scheduler_info()["workers"])


def test_incremental_runs_one_partial_fit_per_block_on_the_workers(incremental):
    fitted, tasks, workers = incremental
    # dask-ml names the chain's tasks ("fit-<token>", i) and seeds it with the
    # unfitted estimator at i = -1.
    fit_steps = sorted(
        task["key"][1]
        for task in tasks
        if str(task["key"][0]).startswith("fit-") and task["key"][1] >= 0
    )
    assert fit_steps == list(range(N_BLOCKS))
    assert {task["worker"] for task in tasks} <= workers
    # One adam epoch per partial_fit, one partial_fit per block.
    assert fitted.estimator_.n_iter_ == N_BLOCKS
    assert len(fitted.estimator_.loss_curve_) == N_BLOCKS


def test_incremental_equals_partial_fit_in_memory_bit_for_bit(incremental):
    fitted, _, _ = incremental
    assert_same_fit(fitted.estimator_, in_memory())


def test_incremental_predicts_lazily_and_beats_a_constant(incremental):
    fitted, _, _ = incremental
    prediction = fitted.predict(da.from_array(X_TEST, chunks=250))
    assert isinstance(prediction, da.Array)
    prediction = prediction.compute()
    assert prediction.shape == (N_TEST,)
    assert np.isfinite(prediction).all()
    # A constant scores at most 0; one pass of 40 adam steps gets most of it.
    assert r2_score(Y_TEST, prediction) > 0.5
    np.testing.assert_array_equal(prediction, fitted.estimator_.predict(X_TEST))


def test_incremental_partial_fit_continues_pass_after_pass(client):
    # Incremental.partial_fit runs one more pass over all blocks from the
    # estimator it has: epochs over a larger-than-memory data set.
    X, y = dask_data()
    fitted = wrappers.Incremental(adam(), shuffle_blocks=False)
    for _ in range(3):
        fitted.partial_fit(X, y)
    assert len(fitted.estimator_.loss_curve_) == 3 * N_BLOCKS
    assert_same_fit(fitted.estimator_, in_memory(passes=3))


def test_incremental_shuffled_blocks_are_reproducible(client):
    X, y = dask_data()
    a, b = (
        wrappers.Incremental(adam(), shuffle_blocks=True, random_state=0).fit(X, y)
        for _ in range(2)
    )
    assert_same_fit(a.estimator_, b.estimator_)
