"""How often the poor-minimum warning fires: on the benchmarks' fits and a built case.

Run from the repository root::

    python benchmarks/poor_fit.py            # every case, ~3 minutes
    python benchmarks/poor_fit.py --quick    # without diamonds and Computers

A fit warns ``ConvergenceWarning`` and sets ``poor_fit_ = True`` when a
nearest-neighbour smoother of its training residuals recovers at least
``POOR_FIT_SHARE`` of the target's variance (``lack_of_fit_``). Per case the
table shows how many fits warned, the largest ``lack_of_fit_`` and the
training R^2 of the fits that warned and of those that did not.

Cases: the fits of ``benchmarks/run.py`` (the lecture's 1-3-1 on 50 rows,
least_squares and adam; friedman1 2,500 x 10 with (10,); diabetes' first 353
rows with (50,); diamonds with (10,)), the 5 training folds of every data set
of ``benchmarks/generalization.py`` with the defaults and with ``ard=True``,
and a built case where fits can land badly: ``sin(2 x)`` on [-3, 3], 300 rows,
noise 0.05, four hidden units, 12 seeds.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if (HERE.parent / "sklearn_tanhnet").is_dir():
    sys.path.insert(0, str(HERE.parent))

from generalization import DATASETS  # noqa: E402
from run import diamonds_split, friedman_split, lecture_data  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402
from sklearn_tanhnet._fitting import POOR_FIT_SHARE  # noqa: E402

SEEDS = range(5)


def built_case():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (300, 1))
    return X, np.sin(2 * X[:, 0]) + 0.05 * rng.randn(300)


def cases(quick):
    """(label, [(make_estimator, X, y), ...]) for every case."""
    X, y = lecture_data()
    yield (
        "lecture (3,) least_squares",
        [
            (lambda s=s: TanhNetRegressor((3,), random_state=s), X[:, None], y)
            for s in range(10)
        ],
    )
    yield (
        "lecture (3,) adam",
        [
            (
                lambda s=s: TanhNetRegressor(
                    (3,),
                    solver="adam",
                    learning_rate=0.01,
                    max_iter=1000,
                    random_state=s,
                ),
                X[:, None],
                y,
            )
            for s in SEEDS
        ],
    )
    X_train, _, y_train, _ = friedman_split()
    yield (
        "friedman1 2500 (10,)",
        [
            (lambda s=s: TanhNetRegressor((10,), random_state=s), X_train, y_train)
            for s in SEEDS
        ],
    )
    X, y = load_diabetes(return_X_y=True)
    yield (
        "diabetes 353 rows (50,)",
        [
            (lambda s=s: TanhNetRegressor((50,), random_state=s), X[:353], y[:353])
            for s in SEEDS
        ],
    )
    if not quick:
        X_train, _, y_train, _ = diamonds_split()
        yield (
            "diamonds (10,)",
            [
                (lambda s=s: TanhNetRegressor((10,), random_state=s), X_train, y_train)
                for s in range(3)
            ],
        )
    for name, load in DATASETS.items():
        if quick and name == "computers":
            continue
        X, y = (np.asarray(a, dtype=float) for a in load())
        folds = list(KFold(5, shuffle=True, random_state=0).split(X))
        for label, params in (("defaults", {}), ("ard", {"ard": True})):
            yield (
                f"{name} folds, {label}",
                [
                    (
                        lambda params=params: TanhNetRegressor(
                            random_state=0, **params
                        ),
                        X[train],
                        y[train],
                    )
                    for train, _ in folds
                ],
            )
    X, y = built_case()
    yield (
        "built: sin(2x), (4,), 12 seeds",
        [(lambda s=s: TanhNetRegressor((4,), random_state=s), X, y) for s in range(12)],
    )


def run_case(fits):
    warned, shares, r2_warned, r2_quiet = 0, [], [], []
    for make, X, y in fits:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est = make().fit(X, y)
        poor = est.poor_fit_
        assert poor == any("poor local minimum" in str(w.message) for w in caught)
        warned += poor
        if est.lack_of_fit_ is not None:
            shares.append(est.lack_of_fit_)
        (r2_warned if poor else r2_quiet).append(est.score(X, y))
    return warned, len(fits), shares, r2_warned, r2_quiet


def _r2s(values):
    return f"{min(values):.4f}-{max(values):.4f}" if values else "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the largest sets")
    args = parser.parse_args(argv)
    print(f"POOR_FIT_SHARE = {POOR_FIT_SHARE}")
    header = f"{'case':<34}{'warned':>8}{'max lack_of_fit_':>18}"
    print(header + f"{'R^2 warned':>18}{'R^2 not warned':>18}")
    for label, fits in cases(args.quick):
        with threadpool_limits(1):
            warned, total, shares, r2_warned, r2_quiet = run_case(fits)
        largest = f"{max(shares):.4f}" if shares else "not checked"
        print(
            f"{label:<34}{f'{warned}/{total}':>8}{largest:>18}"
            f"{_r2s(r2_warned):>18}{_r2s(r2_quiet):>18}",
            flush=True,
        )


if __name__ == "__main__":
    main()
