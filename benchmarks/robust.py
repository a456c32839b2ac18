"""Robust losses on make_friedman1 with gross outliers in the training targets.

Run from the repository root::

    python benchmarks/robust.py              # 5 seeds, ~1 minute
    python benchmarks/robust.py --seeds 3

Per seed: ``make_friedman1(n_samples=2000, noise=1.0, random_state=seed)``,
the first 1,000 rows for training and the other 1,000 for testing; in the
training targets 10% of the rows (drawn with the seed) get +20 or -20 added.
Every method is ``TanhNetRegressor(random_state=seed)`` with the defaults
otherwise and scores test R^2 on the clean test targets; "clean" is the same
fit on the training targets without outliers. The table shows, per method,
the median over the seeds of the test R^2, of its loss against "clean", of
the pooled 95% interval coverage of the clean test targets and of the fit
seconds (one BLAS thread).
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if (HERE.parent / "sklearn_tanhnet").is_dir():
    sys.path.insert(0, str(HERE.parent))

from sklearn.datasets import make_friedman1  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

N_TRAIN = 1000
OUTLIER_SHARE = 0.1
OUTLIER_SIZE = 20.0
METHODS = {
    "clean data, squared_error": ("squared_error", True),
    "squared_error": ("squared_error", False),
    "huber": ("huber", False),
    "soft_l1": ("soft_l1", False),
    "cauchy": ("cauchy", False),
}


def split(seed):
    X, y = make_friedman1(n_samples=2 * N_TRAIN, noise=1.0, random_state=seed)
    rng = np.random.RandomState(seed)
    y_dirty = y[:N_TRAIN].copy()
    rows = rng.choice(N_TRAIN, int(OUTLIER_SHARE * N_TRAIN), replace=False)
    y_dirty[rows] += OUTLIER_SIZE * rng.choice([-1.0, 1.0], rows.size)
    return X[:N_TRAIN], y[:N_TRAIN], y_dirty, X[N_TRAIN:], y[N_TRAIN:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    results = {name: [] for name in METHODS}
    for seed in range(args.seeds):
        X_train, y_clean, y_dirty, X_test, y_test = split(seed)
        for name, (loss, clean) in METHODS.items():
            est = TanhNetRegressor(loss=loss, random_state=seed)
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                est.fit(X_train, y_clean if clean else y_dirty)
                seconds = time.perf_counter() - start
            lower, upper = est.predict_interval(X_test)
            inside = (y_test >= lower) & (y_test <= upper)
            results[name].append((est.score(X_test, y_test), inside, seconds))
    clean_r2 = [r2 for r2, _, _ in results["clean data, squared_error"]]
    print(f"median over {args.seeds} seeds; test R^2 on clean targets")
    print(f"{'method':<28}{'R^2':>8}{'loss vs clean':>15}{'coverage':>10}{'fit s':>8}")
    for name, rows in results.items():
        r2 = statistics.median(r for r, _, _ in rows)
        loss = statistics.median(c - r for c, (r, _, _) in zip(clean_r2, rows))
        coverage = np.concatenate([inside for _, inside, _ in rows]).mean()
        seconds = statistics.median(s for _, _, s in rows)
        print(f"{name:<28}{r2:>8.4f}{loss:>15.4f}{coverage:>10.3f}{seconds:>8.2f}")


if __name__ == "__main__":
    main()
