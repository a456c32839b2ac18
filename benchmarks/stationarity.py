"""Where the default fit's networks end: each member's relative gradient and curvature.

Run from the repository root::

    python benchmarks/stationarity.py        # diabetes, friedman1, prestige, mpg
    python benchmarks/stationarity.py --datasets hitters --params "{'max_iter': 1000}"

Each data set is fitted whole with ``TanhNetRegressor(random_state=0, **params)``;
``diagnose`` then reports, for every network of the committee, the relative
gradient ``||g|| / (1 + |F|)`` of its penalised objective (exact, autograd) and
its lowest Hessian eigenvalue over the largest. A network is at a stationary
point that is a minimum to rounding when the first is at most 1e-6 and the
second at least -1e-8 (``Diagnostics.at_stationary_point``). The fit's seconds
and how each network stopped are printed beside them.
"""

import argparse
import ast
import time
import warnings

from generalization import DATASETS, add_datasets_option
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sklearn_tanhnet import TanhNetRegressor

DEFAULT_DATASETS = ("diabetes", "friedman1", "prestige", "mpg")


def report(name, params):
    X, y = DATASETS[name]()
    est = TanhNetRegressor(random_state=0, **params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    seconds = time.perf_counter() - start
    diagnostics = est.diagnose(X, y)
    members = diagnostics.members or [diagnostics]
    widths = diagnostics.member_widths or [tuple(W.shape[1] for W in est.coefs_[:-1])]
    at = sum(m.at_stationary_point for m in members)
    print(
        f"{name}: {len(X)} rows, fit {seconds:.2f} s, {at} of {len(members)} "
        "networks at a stationary point"
    )
    # The committee's members in the order diagnose lists them: the
    # representative (largest log evidence) first, the others as fitted.
    records = [r for r in est.members_ if r["weight"] > 0]
    first = max(range(len(records)), key=lambda i: records[i]["log_evidence"] or 0)
    records.insert(0, records.pop(first))
    print(f"  {'width':<8} {'rel. gradient':>13} {'min eig / max':>14}  stopped")
    for width, member, record in zip(widths, members, records):
        h = member.hessian_eigenvalues
        how = f"{record['status']} after {record['n_iter']}"
        print(
            f"  {str(width):<8} {member.relative_gradient:>13.2e} "
            f"{h[-1] / h[0]:>14.2e}  {how}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_datasets_option(parser)
    parser.add_argument(
        "--params",
        default="{}",
        help="a Python dict literal of TanhNetRegressor parameters",
    )
    args = parser.parse_args(argv)
    names = args.datasets or DEFAULT_DATASETS  # parsed by add_datasets_option
    params = ast.literal_eval(args.params)
    with threadpool_limits(1):
        for name in names:
            report(name, params)


if __name__ == "__main__":
    main()
