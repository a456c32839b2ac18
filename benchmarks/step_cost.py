"""The cost of one Levenberg-Marquardt step of the default fit on small problems.

Run from the repository root::

    python benchmarks/step_cost.py              # 5 seeds, best of 5 repeats each
    python benchmarks/step_cost.py --repeats 10

Three cases, default settings (the LM solver with the evidence update): the
lecture (``x ** (1/3)`` on 50 points, a (3,) network), diabetes (442 x 10)
and friedman1 (500 x 10), both with the default (10,) network. For each seed
the fit runs ``--repeats`` times in this one process and the fastest run
counts (background load only ever adds time). Times are the process's CPU
time, which a busy machine's time slices do not inflate as they do the wall
clock. The table prints the median over seeds of:

* ``fit ms/step``: the whole ``fit`` (validation, set-up, statistics) over
  its LM steps, the figure with the fixed costs;
* ``solver ms/step``: the time inside the solver's loop
  (``LevenbergMarquardt.solve``) over its steps.

BLAS is limited to one thread, as the fits themselves do.
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# The checkout this file lives in, before any installed copy.
sys.path[:0] = [str(HERE.parent), str(HERE)]

from _machine import print_machine  # noqa: E402
from sklearn.datasets import load_diabetes, make_friedman1  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor, _lm  # noqa: E402


class SolverClock:
    """Wraps ``LevenbergMarquardt.solve`` to add up its time and steps."""

    def __init__(self):
        self.seconds, self.steps = 0.0, 0
        self.original = _lm.LevenbergMarquardt.solve

    def __enter__(self):
        clock, original = self, self.original

        def timed(solver, theta0):
            start = time.process_time()
            result = original(solver, theta0)
            clock.seconds += time.process_time() - start
            clock.steps += result.n_iter
            return result

        _lm.LevenbergMarquardt.solve = timed
        return self

    def __exit__(self, *exc):
        _lm.LevenbergMarquardt.solve = self.original


def cases():
    X = np.linspace(0, 1, 50)[:, None]
    yield "lecture", X, X.ravel() ** (1 / 3), (3,)
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes", X, y, (10,)
    X, y = make_friedman1(n_samples=500, noise=1.0, random_state=0)
    yield "friedman1", X, y, (10,)


def one_fit(X, y, hidden, seed):
    """``(fit seconds, fit steps, solver seconds, solver steps)`` of one fit."""
    model = TanhNetRegressor(hidden, random_state=seed)
    with SolverClock() as clock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.process_time()
        model.fit(X, y)
        seconds = time.process_time() - start
    return seconds, model.n_iter_, clock.seconds, clock.steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print_machine(["numpy", "scipy", "scikit-learn"])
    print(f"{'case':<10} {'steps':>6} {'fit ms/step':>12} {'solver ms/step':>15}")
    with threadpool_limits(1):
        for name, X, y, hidden in cases():
            one_fit(X, y, hidden, 0)  # warm up imports and caches
            fit_ms, solver_ms, steps = [], [], []
            for seed in range(args.seeds):
                runs = [one_fit(X, y, hidden, seed) for _ in range(args.repeats)]
                best_fit = min(runs, key=lambda run: run[0])
                best_solver = min(runs, key=lambda run: run[2])
                fit_ms.append(1e3 * best_fit[0] / max(best_fit[1], 1))
                solver_ms.append(1e3 * best_solver[2] / max(best_solver[3], 1))
                steps.append(best_solver[3])
            print(
                f"{name:<10} {statistics.median(steps):>6g} "
                f"{statistics.median(fit_ms):>12.3f} "
                f"{statistics.median(solver_ms):>15.3f}"
            )


if __name__ == "__main__":
    main()
