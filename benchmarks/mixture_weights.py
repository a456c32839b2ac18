"""Mixture weights: the committee's equal weights beside weights by the evidence.

Run from the repository root::

    python benchmarks/mixture_weights.py                 # 8 data sets, ~1 minute
    python benchmarks/mixture_weights.py --datasets mpg,hitters

The data sets and folds are those of ``benchmarks/generalization.py``
(``KFold(5, shuffle=True, random_state=0)``). The default committee,
``TanhNetRegressor(random_state=0)``, is fitted once per fold, and its
members' predictive distributions (each network's mean and the standard
deviation of its Laplace approximation, noise included) are mixed with
weights

* ``equal``: ``1 / n_members``, what the committee predicts with;
* ``evidence``: proportional to ``exp(log evidence)`` of each network
  (Bayesian model averaging over the members, MacKay 1992);
* ``evidence^1/2``: proportional to ``exp(log evidence / 2)``, tempered;
* ``best``: the network of largest log evidence alone (``combine='best'``).

Per data set and weighting: the median test R^2 over the folds and the mean
test log predictive density, a Gaussian with the mixture's mean and standard
deviation (as ``generalization.py`` scores every method).
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

WEIGHTINGS = ("equal", "evidence", "evidence^1/2", "best")


def weights_of(log_evidence):
    """Each weighting's member weights, summing to one."""
    relative = log_evidence - log_evidence.max()
    raw = {
        "equal": np.ones_like(log_evidence),
        "evidence": np.exp(relative),
        "evidence^1/2": np.exp(0.5 * relative),
        "best": (relative == 0).astype(float),
    }
    return {name: w / w.sum() for name, w in raw.items()}


def member_distributions(committee, X):
    """Each member's mean and predictive standard deviation at ``X``, one
    output: arrays of shape (n_members, n_rows). No public attribute holds
    them; the committee's own mixture is made from these."""
    means, uncertainty = committee._member_predictions(X)
    stds = [np.hypot(se, noise) for se, noise, _ in uncertainty]
    return np.asarray(means)[..., 0], np.asarray(stds)[..., 0]


def run_dataset(name):
    X, y = DATASETS[name]()
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    r2 = {w: [] for w in WEIGHTINGS}
    log_density = {w: [] for w in WEIGHTINGS}
    for train, test in KFold(N_FOLDS, shuffle=True, random_state=0).split(X):
        committee = TanhNetRegressor(random_state=0).fit(X[train], y[train])
        means, stds = member_distributions(committee, X[test])
        kept = [r for r in committee.members_ if r["weight"] > 0]
        log_evidence = np.array([r["log_evidence"] for r in kept], dtype=float)
        for weighting, w in weights_of(log_evidence).items():
            mean = w @ means
            std = np.sqrt(w @ (stds**2 + means**2) - mean**2)
            residual = y[test] - mean
            r2[weighting].append(1 - np.mean(residual**2) / np.var(y[test]))
            log_density[weighting].append(stats.norm.logpdf(y[test], mean, std))
        # The equal weights are the committee's own prediction.
        np.testing.assert_allclose(
            weights_of(log_evidence)["equal"] @ means,
            committee.predict(X[test]),
            rtol=1e-10,
            atol=1e-10 * np.abs(y).max(),
        )
    return {
        w: (np.median(r2[w]), np.concatenate(log_density[w]).mean()) for w in WEIGHTINGS
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_datasets_option(parser)
    args = parser.parse_args(argv)
    names = args.datasets or list(DATASETS)
    print("median test R^2 / mean log predictive density, 5 folds")
    print(f"{'data set':<11}" + "".join(f"{w:>20}" for w in WEIGHTINGS))
    for name in names:
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = run_dataset(name)
        cells = "".join(f"{f'{r2:.4f} / {lpd:.3f}':>20}" for r2, lpd in result.values())
        print(f"{name:<11}{cells}", flush=True)


if __name__ == "__main__":
    main()
