"""What the interval statistics cost beside the fit, and what a fitted model weighs.

Run from the repository root::

    python benchmarks/statistics_cost.py            # both parts
    python benchmarks/statistics_cost.py --part statistics --rows 100000
    python benchmarks/statistics_cost.py --part size --size-rows 1000000

``statistics``: ``TanhNetRegressor((30, 30), uncertainty='lazy')`` on
friedman1 with 10 features (``--rows`` rows, 100,000 by default; ``--max-iter``
caps the fit), then the statistics on their own (the first
``noise_variance_``): seconds and peak traced memory (tracemalloc, numpy's
arrays included) of each, and their ratios. It also prints the plan of the
default ``uncertainty='auto'`` for that size, which computes the statistics
in fit. Targets: statistics <= 2x the fit's seconds, peak <= the fit's.

``size``: ``TanhNetRegressor()`` with its defaults on ``--size-rows`` rows x 5
features, then ``len(pickle.dumps(est))`` and the skops file's size. Target:
under 1 MB, and the same size for a tenth of the rows.
"""

import argparse
import io
import pickle
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.datasets import make_friedman1

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import print_machine  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402
from sklearn_tanhnet._network import n_params_of, weight_mask  # noqa: E402
from sklearn_tanhnet._plan import plan_fit  # noqa: E402


def traced(function):
    """``function()``'s result, seconds and peak traced MiB above the start."""
    tracemalloc.start()
    start_bytes = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    peak = (tracemalloc.get_traced_memory()[1] - start_bytes) / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def statistics_cost(n_rows, max_iter):
    X, y = make_friedman1(n_samples=n_rows, n_features=10, noise=1.0, random_state=0)
    sizes = [10, 30, 30, 1]
    plan = plan_fit(
        "least_squares",
        "lm",
        "auto",
        n_rows,
        1,
        n_params_of(sizes),
        int(weight_mask(sizes).sum()),
        True,
    )
    print(
        f"{n_rows} x 10, (30, 30): {n_params_of(sizes)} parameters; default plan: "
        f"step {plan.step!r}, statistics {plan.statistics}, "
        f"deferred {plan.defer_statistics}"
    )
    est = TanhNetRegressor(
        (30, 30), uncertainty="lazy", max_iter=max_iter, random_state=0
    )
    _, fit_seconds, fit_peak = traced(lambda: est.fit(X, y))
    score = est.score(X, y)
    print(
        f"fit:        {fit_seconds:8.2f} s  peak {fit_peak:8.1f} MiB  "
        f"({est.n_iter_} iterations, {est.tr_solver_!r} steps, R^2 {score:.3f})"
    )
    noise, stat_seconds, stat_peak = traced(lambda: est.noise_variance_)
    print(
        f"statistics: {stat_seconds:8.2f} s  peak {stat_peak:8.1f} MiB  "
        f"(noise variance {noise[0]:.3g})"
    )
    print(
        f"ratio:      {stat_seconds / fit_seconds:8.2f} x time (target <= 2), "
        f"{stat_peak / fit_peak:.2f} x peak (target <= 1)"
    )


def saved_size(n_rows):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(n_rows, 5))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n_rows)
    start = time.perf_counter()
    est = TanhNetRegressor(random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    pickled = len(pickle.dumps(est))
    try:
        import skops.io as sio

        buffer = io.BytesIO(sio.dumps(est))
        skops_size = f"{len(buffer.getvalue()) / 1e6:.3f} MB"
    except ImportError:
        skops_size = "skops not installed"
    print(
        f"{n_rows} x 5, defaults: fit {seconds:.1f} s, pickle {pickled / 1e6:.3f} MB, "
        f"skops {skops_size} (data: {X.nbytes / 1e6:.1f} MB)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=["statistics", "size", "both"], default="both"
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--size-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print_machine(["numpy", "scipy", "scikit-learn"])
    if args.part in ("statistics", "both"):
        statistics_cost(args.rows, args.max_iter)
    if args.part in ("size", "both"):
        for n_rows in (args.size_rows // 10, args.size_rows):
            saved_size(n_rows)


if __name__ == "__main__":
    main()
