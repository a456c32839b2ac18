"""One Levenberg-Marquardt fit over a dask array on a loopback cluster, beside numpy.

Run from the repository root, with the dask extra installed
(``pip install -e '.[dask]'``)::

    python benchmarks/dask_lm.py                      # 1e7 x 10 rows, 5 iterations
    python benchmarks/dask_lm.py --quick              # 1e6 rows
    python benchmarks/dask_lm.py --rows 200000 --iterations 2
    python benchmarks/dask_lm.py --partitions 40      # smaller partitions

The data are friedman1's (``sklearn.datasets.make_friedman1``'s formula, 10
inputs uniform on [0, 1), noise 1), made block by block on the workers with
``da.map_blocks``, each block from its own seed ``(seed, block index)``: the
client never holds them, and the same ``--rows`` and ``--partitions`` give
the same data. The cluster is a ``LocalCluster(n_workers=2,
threads_per_worker=1, processes=True)`` on 127.0.0.1; the data are persisted
in the workers' memory before the fit is timed. The fit is
``TanhNetRegressor((10,), max_iter=--iterations, random_state=0).fit(X, y)``
with ``X`` and ``y`` dask arrays, under the client. The held-out data are one
more block of 100,000 rows made the same way from another seed; ``predict``
on it returns a dask array, computed for the test R^2.

Beside it, first and in a fresh process of its own (so that its peak memory is
its own), the same fit on ``min(--rows, 1e6)`` rows in a numpy array, made
block by block in as many blocks with the same seeds, and its R^2 on the same
held-out rows. Up to 1e6 rows the two fits see the same data, and the script
also prints the largest difference of their test predictions.

What it prints:

1. The machine (Python, platform, CPUs, load average) and the versions of
   numpy, dask, distributed, scikit-learn and sklearn-tanhnet.
2. For each fit: rows, partitions, fit seconds (everything ``fit`` does: for
   the dask fit also checking the partitions, the standardisation's passes
   and the post-fit statistics), ``n_iter_``, seconds per iteration (fit
   seconds / ``n_iter_``), ``status_``, ``tr_solver_``, test
   R^2; peak memory of the client process (``VmHWM`` of /proc/self/status,
   imports included), before and after the fit; with ``--tracemalloc``, the
   largest amount Python and numpy had allocated at once during a second,
   traced fit of the same (tracemalloc's peak: what the fit itself held; the
   trace slows the client's side of a dask fit two- to threefold, so the
   timed fit is the untraced one); for the dask fit, the workers' ``VmHWM``
   read in each worker with ``client.run``, and the seconds the workers took
   to make and persist the data.
3. The total wall time and the load average at the end.

Threads: every BLAS and OpenMP pool of this process is limited to one thread
with threadpoolctl, and the workers and the numpy child start with
``OPENBLAS_NUM_THREADS=1`` and ``OMP_NUM_THREADS=1``: the two workers then
use the two cores of a 2-core machine, one each. At the default 1e7 rows the
workers hold the data (0.9 GB) and the fit's standardised copy of them; the
numpy fit of 1e6 rows needs about as much in its process. Measured figures go
to docs/benchmarks.rst.
"""

import argparse
import multiprocessing
import os
import sys
import time
import tracemalloc
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# Before numpy loads its BLAS, and inherited by the processes started below.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
try:
    import sklearn_tanhnet  # noqa: F401
except ImportError:  # not installed: use the checkout this file lives in
    sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _machine import load_average, peak_mib, print_machine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

N_FEATURES = 10
NOISE = 1.0
TRAIN_SEED, TEST_SEED = 0, 1
TEST_ROWS = 100_000
IN_MEMORY_ROWS = 1_000_000
HIDDEN = (10,)


def friedman1(rows, seed, block_index=0):
    """``rows`` x (10 inputs, target) of friedman1, from the seed (seed, block)."""
    rng = np.random.default_rng([seed, block_index])
    X = rng.uniform(size=(rows, N_FEATURES))
    y = (
        10 * np.sin(np.pi * X[:, 0] * X[:, 1])
        + 20 * (X[:, 2] - 0.5) ** 2
        + 10 * X[:, 3]
        + 5 * X[:, 4]
        + NOISE * rng.standard_normal(rows)
    )
    return np.column_stack([X, y])


def row_chunks_of(rows, n_partitions):
    base, extra = divmod(rows, n_partitions)
    return tuple(base + (i < extra) for i in range(n_partitions))


def _friedman1_block(row_chunks, seed, block_id=None):
    return friedman1(row_chunks[block_id[0]], seed, block_id[0])


def dask_friedman1(rows, n_partitions, seed):
    """Lazy X and y, each partition made on the worker that computes it."""
    import dask.array as da

    row_chunks = row_chunks_of(rows, n_partitions)
    data = da.map_blocks(
        _friedman1_block,
        row_chunks,
        seed,
        chunks=(row_chunks, (N_FEATURES + 1,)),
        dtype=np.float64,
        meta=np.empty((0, 0)),
    )
    return data[:, :N_FEATURES], data[:, N_FEATURES]


def fitted(X, y, iterations):
    """The fitted estimator and its fit seconds."""
    est = TanhNetRegressor(HIDDEN, max_iter=iterations, random_state=0)
    with threadpool_limits(1), warnings.catch_warnings():
        # max_iter is meant to stop the fit: its warning is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X, y)
        return est, time.perf_counter() - start


def timed_fit(X, y, iterations, trace):
    """The fitted estimator, its fit seconds and, if ``trace``, the peak MiB
    Python and numpy allocated during a second fit of the same, traced."""
    est, seconds = fitted(X, y, iterations)
    if not trace:
        return est, seconds, None
    tracemalloc.start()
    try:
        fitted(X, y, iterations)
        return est, seconds, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def fit_summary(est, seconds):
    return {
        "fit s": seconds,
        "n_iter_": est.n_iter_,
        "s / iteration": seconds / max(est.n_iter_, 1),
        "status_": est.status_,
        "tr_solver_": getattr(est, "tr_solver_", None),
    }


def in_memory_fit(rows, n_partitions, iterations, trace):
    """The numpy fit, in a fresh process: its summary and peak memory.

    The rows are made block by block as the dask array's are, so with as many
    rows the two fits see the same data.
    """
    data = np.concatenate(
        [
            friedman1(size, TRAIN_SEED, i)
            for i, size in enumerate(row_chunks_of(rows, n_partitions))
        ]
    )
    X, y = data[:, :N_FEATURES], data[:, N_FEATURES]
    test = friedman1(TEST_ROWS, TEST_SEED)
    base = peak_mib()
    est, seconds, traced = timed_fit(X, y, iterations, trace)
    prediction = est.predict(test[:, :N_FEATURES])
    return prediction, {
        "rows": rows,
        "partitions": f"- (made in {n_partitions} blocks)",
        **fit_summary(est, seconds),
        "test R^2": r2_score(test[:, N_FEATURES], prediction),
        "client peak MiB": peak_mib(),
        "client peak before fit MiB": base,
        "tracemalloc peak MiB": traced,
    }


def dask_fit(rows, n_partitions, iterations, trace):
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        X, y = dask_friedman1(rows, n_partitions, TRAIN_SEED)
        start = time.perf_counter()
        X, y = client.persist([X, y])
        wait([X, y])
        make_seconds = time.perf_counter() - start
        X_test, y_test = dask_friedman1(TEST_ROWS, 1, TEST_SEED)
        base = peak_mib()
        est, seconds, traced = timed_fit(X, y, iterations, trace)
        prediction = est.predict(X_test)
        lazy = isinstance(prediction, da.Array)
        prediction, y_test = client.compute([prediction, y_test], sync=True)
        workers = client.run(peak_mib)
    return prediction, {
        "rows": rows,
        "partitions": n_partitions,
        **fit_summary(est, seconds),
        "test R^2": r2_score(y_test, prediction),
        "client peak MiB": peak_mib(),
        "client peak before fit MiB": base,
        "tracemalloc peak MiB": traced,
        "workers' peak MiB": " ".join(f"{m:.0f}" for m in workers.values()),
        "data made and persisted s": make_seconds,
        "predict on dask gave": "a dask array" if lazy else type(prediction).__name__,
    }


def print_result(title, result):
    print(f"\n{title}")
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        print(f"  {key:<28}{'-' if value is None else value}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--quick", action="store_true", help="1e6 rows")
    parser.add_argument("--partitions", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="fit each twice, the second time tracing Python's allocations",
    )
    args = parser.parse_args(argv)
    rows = int(1e6 if args.quick else args.rows)
    start = time.perf_counter()
    print_machine(("numpy", "dask", "distributed", "scikit-learn", "sklearn-tanhnet"))
    print(
        f"TanhNetRegressor({HIDDEN}, max_iter={args.iterations}, random_state=0) "
        f"on friedman1 ({N_FEATURES} inputs, noise {NOISE:g}); test R^2 on "
        f"{TEST_ROWS:,} fresh rows"
    )
    spawn = multiprocessing.get_context("spawn")
    n_memory = min(rows, IN_MEMORY_ROWS)
    with ProcessPoolExecutor(1, mp_context=spawn) as child:
        memory_prediction, memory = child.submit(
            in_memory_fit, n_memory, args.partitions, args.iterations, args.tracemalloc
        ).result()
    print_result("numpy, in memory (a fresh process)", memory)
    prediction, result = dask_fit(
        rows, args.partitions, args.iterations, args.tracemalloc
    )
    if n_memory == rows:  # the same data: the same fit up to rounding
        result["largest |dask - numpy|"] = float(
            np.max(np.abs(prediction - memory_prediction))
        )
    print_result("dask array, LocalCluster(n_workers=2, threads_per_worker=1)", result)
    print(f"\ntotal {time.perf_counter() - start:.1f} s, load average {load_average()}")


if __name__ == "__main__":
    main()
