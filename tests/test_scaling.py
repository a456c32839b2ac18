"""Scale-out through joblib: process workers and a Dask cluster give the serial result.

Fits are seeded and single-threaded in BLAS, so where a candidate is fitted
does not change its score: the comparisons below are exact.
"""

import contextlib
import signal
import threading

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_tanhnet import TanhNetRegressor

RNG = np.random.RandomState(0)
X = RNG.uniform(-1, 1, size=(60, 3))
Y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * RNG.normal(size=60)

GRID = [
    {"hidden_layer_sizes": [(3,), (5,)], "alpha": [1e-4, 1e-2]},
    {"solver": ["adam"], "learning_rate": [1e-2, 5e-2], "max_iter": [100]},
]
N_CANDIDATES = 6


def search(n_jobs):
    return GridSearchCV(
        TanhNetRegressor((4,), random_state=0),
        GRID,
        cv=KFold(3, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )


@pytest.fixture(scope="module")
def serial():
    with joblib.parallel_config(backend="sequential"):
        return search(n_jobs=1).fit(X, Y)


def assert_same_search(a, b):
    assert a.best_params_ == b.best_params_
    assert len(a.cv_results_["params"]) == N_CANDIDATES
    assert a.cv_results_["params"] == b.cv_results_["params"]
    for key in ("mean_test_score", "std_test_score", "split0_test_score"):
        np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])
    np.testing.assert_array_equal(
        a.best_estimator_.predict(X), b.best_estimator_.predict(X)
    )


@contextlib.contextmanager
def time_limit(seconds):
    """Raise TimeoutError in the main thread after ``seconds`` (POSIX only).

    Elsewhere (Windows, or pytest run outside the main thread) there is no limit.
    """
    usable = hasattr(signal, "setitimer")  # not on Windows
    if not usable or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise TimeoutError(f"gave up after {seconds} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_grid_search_n_jobs_2_equals_serial(serial):
    # joblib's default backend: loky worker processes.
    with time_limit(120):
        parallel = search(n_jobs=2).fit(X, Y)
    assert_same_search(parallel, serial)


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_grid_search_on_dask_cluster_equals_serial(serial, dask_client):
    from distributed import get_task_stream

    with time_limit(180):
        with (
            joblib.parallel_config(backend="dask"),
            get_task_stream(dask_client) as stream,
        ):
            distributed = search(n_jobs=-1).fit(X, Y)
    # The fits really ran on the cluster's workers.
    workers = set(dask_client.scheduler_info()["workers"])
    assert len(workers) == 2
    assert stream.data
    assert {task["worker"] for task in stream.data} <= workers
    assert_same_search(distributed, serial)
