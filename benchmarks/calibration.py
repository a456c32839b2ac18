"""Calibration: which ingredient of the 95% prediction interval its coverage needs.

Run from the repository root::

    python benchmarks/calibration.py                    # 8 data sets, ~2 minutes
    python benchmarks/calibration.py --datasets mpg,hitters

The data sets and folds are those of ``benchmarks/generalization.py``
(``KFold(5, shuffle=True, random_state=0)``). The default committee,
``TanhNetRegressor(random_state=0)``, is fitted once per fold:

* ``committee``: its ``predict_interval(X, 0.95)``, the quantiles of the
  mixture of its networks' Student-t predictive distributions;
* ``committee, normal``: ``predict(X, return_std=True)``'s mean -/+ the normal
  quantile times its standard deviation (the mixture's: the members' mean
  variance plus the variance of their means).

The network the committee calls its representative is fitted alone too
(``combine='best'``, the same members trained, the one of largest log
evidence kept), and its interval taken apart, from public attributes:

* ``shipped``: its ``predict_interval(X, 0.95)``: the Student-t quantile on the
  residual degrees of freedom ``n - p_eff`` times ``sqrt(se^2 + sigma^2)``, with
  ``sigma^2 = RSS / (n - p_eff)`` (``noise_variance_``) and ``se`` the delta-method
  standard error of the fitted mean;
* ``gaussian``: the same scale with the normal quantile instead of Student-t;
* ``noise only``: Student-t times ``sigma``: no parameter uncertainty;
* ``rss/n``: the normal quantile times ``sqrt(se^2 + RSS / n)``: the noise from
  the training residuals with no degrees-of-freedom correction;
* ``rss/n only``: the normal quantile times ``sqrt(RSS / n)``: neither.

Per data set and variant: the pooled coverage over the folds' test rows and the
mean interval width relative to the committee's. A variant's coverage falling below
0.95 by more than its width loss says that ingredient is what the coverage needs.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if (HERE.parent / "sklearn_tanhnet").is_dir():
    sys.path.insert(0, str(HERE.parent))

from generalization import DATASETS, N_FOLDS, add_datasets_option  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

CONFIDENCE = 0.95
VARIANTS = (
    "committee",
    "committee, normal",
    "shipped",
    "gaussian",
    "noise only",
    "rss/n",
    "rss/n only",
)


def half_widths(estimator, X_train, y_train, X_test):
    """Each variant's interval half-width at the test rows."""
    n_rows = len(y_train)
    dof = n_rows - estimator.effective_n_params_
    t_quantile = stats.t.ppf(0.5 + CONFIDENCE / 2, dof)
    z_quantile = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    lower, upper = estimator.predict_interval(X_test, CONFIDENCE, kind="confidence")
    se = (upper - lower) / 2 / t_quantile
    noise_variance = float(estimator.noise_variance_[0])
    rss_per_row = float(np.mean((y_train - estimator.predict(X_train)) ** 2))
    return {
        "shipped": t_quantile * np.sqrt(se**2 + noise_variance),
        "gaussian": z_quantile * np.sqrt(se**2 + noise_variance),
        "noise only": np.full_like(se, t_quantile * np.sqrt(noise_variance)),
        "rss/n": z_quantile * np.sqrt(se**2 + rss_per_row),
        "rss/n only": np.full_like(se, z_quantile * np.sqrt(rss_per_row)),
    }


def run_dataset(name):
    X, y = DATASETS[name]()
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    inside = {variant: [] for variant in VARIANTS}
    widths = {variant: [] for variant in VARIANTS}
    folds = KFold(N_FOLDS, shuffle=True, random_state=0).split(X)
    z_quantile = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    for train, test in folds:
        committee = TanhNetRegressor(random_state=0).fit(X[train], y[train])
        lower, upper = committee.predict_interval(X[test], CONFIDENCE)
        inside["committee"].append((lower <= y[test]) & (y[test] <= upper))
        widths["committee"].append((upper - lower) / 2)
        mean, std = committee.predict(X[test], return_std=True)
        inside["committee, normal"].append(np.abs(y[test] - mean) <= z_quantile * std)
        widths["committee, normal"].append(z_quantile * std)
        best = TanhNetRegressor(random_state=0, combine="best").fit(X[train], y[train])
        mean = best.predict(X[test])
        # The shipped interval is checked against predict_interval itself.
        lower, upper = best.predict_interval(X[test], CONFIDENCE)
        halves = half_widths(best, X[train], y[train], X[test])
        np.testing.assert_allclose(mean + halves["shipped"], upper, rtol=1e-9)
        for variant, half in halves.items():
            inside[variant].append(np.abs(y[test] - mean) <= half)
            widths[variant].append(half)
    shipped_width = np.concatenate(widths["committee"]).mean()
    return {
        variant: (
            np.concatenate(inside[variant]).mean(),
            np.concatenate(widths[variant]).mean() / shipped_width,
        )
        for variant in VARIANTS
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_datasets_option(parser)
    args = parser.parse_args(argv)
    names = args.datasets or list(DATASETS)
    print(f"pooled {CONFIDENCE:.0%} coverage (mean width / the committee's), 5 folds")
    print(f"{'data set':<11}" + "".join(f"{v:>19}" for v in VARIANTS))
    for name in names:
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = run_dataset(name)
        cells = "".join(
            f"{f'{cover:.3f} ({width:.2f})':>19}" for cover, width in result.values()
        )
        print(f"{name:<11}{cells}", flush=True)


if __name__ == "__main__":
    main()
