"""Issue 14: the same bits from a fit wherever it runs beside others.

Threads, joblib's threading and loky backends and a loopback Dask cluster
with threaded workers give the serial fits' predictions and intervals exactly.
The BLAS limit that keeps them so is shared: the first fit sets one thread
and the last one to finish restores the count (``_threads``).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sklearn_tanhnet._lm as lm
from sklearn_tanhnet import TanhNetRegressor

RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, size=(120, 4))
Y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * RNG.normal(size=120)
X_TEST = RNG.uniform(-2, 2, size=(30, 4))
N_FITS = 8
# adam's 60 epochs stop short; warnings.catch_warnings is not thread-safe.
pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


def blas_threads():
    from threadpoolctl import threadpool_info

    return {
        i["filepath"]: i["num_threads"]
        for i in threadpool_info()
        if i["user_api"] == "blas"
    }


def fit_and_predict(index):
    """Fit ``index`` (even: least_squares, odd: adam): predictions, interval."""
    solver = "least_squares" if index % 2 == 0 else "adam"
    est = TanhNetRegressor((6,), solver=solver, max_iter=60, random_state=index)
    est.fit(X, Y)
    lower, upper = est.predict_interval(X_TEST)
    return np.stack([est.predict(X_TEST), lower, upper])


@pytest.fixture(scope="module")
def serial():
    return [fit_and_predict(i) for i in range(N_FITS)]


def assert_same_bits(results, serial):
    assert len(results) == N_FITS
    for got, expected in zip(results, serial):
        np.testing.assert_array_equal(got, expected)


def test_threads_give_the_serial_bits(serial):
    with ThreadPoolExecutor(3) as pool:
        assert_same_bits(list(pool.map(fit_and_predict, range(N_FITS))), serial)


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_joblib_backends_give_the_serial_bits(serial, backend):
    results = joblib.Parallel(n_jobs=3, backend=backend)(
        joblib.delayed(fit_and_predict)(i) for i in range(N_FITS)
    )
    assert_same_bits(results, serial)


def test_dask_threaded_workers_give_the_serial_bits(serial, dask_client):
    futures = dask_client.map(fit_and_predict, range(N_FITS), pure=False)
    results = dask_client.gather(futures)
    assert_same_bits(results, serial)


@pytest.mark.skipif(os.cpu_count() < 2, reason="BLAS caps its threads at the cores")
def test_a_fit_ending_beside_another_leaves_it_one_blas_thread(monkeypatch):
    # The first fit waits inside its solver until a second fit has started
    # and finished: that one must not restore the BLAS threads under it.
    from threadpoolctl import threadpool_limits

    first_inside, second_done = threading.Event(), threading.Event()
    seen, errors = [], []
    solve = lm.LevenbergMarquardt.solve

    def spy(self, theta0):
        if threading.current_thread().name == "first":
            first_inside.set()
            assert second_done.wait(60)
            seen.append(blas_threads())
        return solve(self, theta0)

    def first_fit():
        try:
            TanhNetRegressor((3,), random_state=0).fit(X, Y)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    monkeypatch.setattr(lm.LevenbergMarquardt, "solve", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        first = threading.Thread(target=first_fit, name="first")
        first.start()
        assert first_inside.wait(60)
        TanhNetRegressor((3,), random_state=1).fit(X, Y)
        assert set(blas_threads().values()) == {1}  # the first is still inside
        second_done.set()
        first.join(60)
        after = blas_threads()
    assert not errors
    assert seen and set(seen[0].values()) == {1}
    assert set(after.values()) == {2}
