"""Size what a Levenberg-Marquardt loop outside scipy would buy (issue 5).

Not a solver of the package: ``solver='least_squares'`` is scipy's
``least_squares`` by specification. This script measures, beside the same
problems solved by scipy's ``trf``, a plain numpy LM (Cholesky of
``J'J + mu I``, Nielsen's damping update) on this package's residuals and
Jacobian, so that a decision on issue 5's two missed targets can rest on
numbers. Neither loop has the evidence iteration or the estimator around it.

Run from the repository root::

    python benchmarks/outside_scipy_lm.py

It prints, BLAS limited to one thread:

* the lecture's problem (1-3-1, standardised, ``alpha=1e-4``), stopped as soon
  as the training MSE is <= 2e-5 (an oracle no real stopping rule has):
  iterations and milliseconds per seed, for scipy's ``trf`` and the numpy LM;
* friedman1 (the 75/25 split of ``run.py``, (10,), ``alpha=1``) after a fixed
  number of iterations: median milliseconds and test R^2 over five seeds.
"""

import sys
import time
from pathlib import Path

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.optimize import least_squares
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run import friedman_split, lecture_data  # noqa: E402

from sklearn_tanhnet._derivatives import LeastSquaresProblem  # noqa: E402
from sklearn_tanhnet._network import forward_numpy, init_params, pack, unpack  # noqa: E402

TARGET_MSE = 2e-5


def numpy_lm(problem, theta, max_iter, stop=None):
    """Levenberg-Marquardt with Nielsen's update; returns (theta, iterations)."""
    r = problem.residuals(theta)
    cost, mu, nu = 0.5 * r @ r, None, 2.0
    for it in range(max_iter):
        J = problem.jacobian(theta)
        A, g = J.T @ J, J.T @ r
        if mu is None:
            mu = 1e-3 * A.diagonal().max()
        while True:
            M = A.copy()
            M.flat[:: M.shape[0] + 1] += mu
            try:
                step = -cho_solve(cho_factor(M), g)
            except LinAlgError:
                mu, nu = mu * nu, 2 * nu
                continue
            r_new = problem.residuals(theta + step)
            cost_new = 0.5 * r_new @ r_new
            predicted = -(g @ step) - 0.5 * step @ (A @ step)
            rho = (cost - cost_new) / predicted if predicted > 0 else -1.0
            if rho > 0:
                theta, r, cost = theta + step, r_new, cost_new
                mu, nu = mu * max(1 / 3, 1 - (2 * rho - 1) ** 3), 2.0
                break
            mu, nu = mu * nu, 2 * nu
            if mu > 1e20:
                return theta, it
        if stop is not None and stop(theta):
            return theta, it + 1
    return theta, max_iter


def scipy_trf(problem, theta, stop):
    """The fewest residual evaluations after which trf's result meets ``stop``."""
    for n in (20, 30, 40, 50, 60, 70, 80, 100, 120, 160, 200):
        start = time.perf_counter()
        res = least_squares(
            problem.residuals, theta, jac=problem.jacobian, max_nfev=n, x_scale=1.0
        )
        seconds = time.perf_counter() - start
        if stop(res.x):
            return seconds, n
    return seconds, None


def standardised(X, y):
    x_mean, x_std, y_mean, y_std = X.mean(0), X.std(0), y.mean(), y.std()
    return (
        (X - x_mean) / x_std,
        ((y - y_mean) / y_std)[:, None],
        (
            x_mean,
            x_std,
            y_mean,
            y_std,
        ),
    )


def lecture():
    X, y = lecture_data()
    Xs, Ys, (_, _, y_mean, y_std) = standardised(X[:, None], y)
    sizes = [1, 3, 1]
    problem = LeastSquaresProblem(Xs, Ys, np.ones(len(y)), 1e-4, sizes)

    def reached(theta):
        pred = forward_numpy(unpack(theta, sizes), Xs, np.tanh)[:, 0] * y_std + y_mean
        return np.mean((pred - y) ** 2) <= TARGET_MSE

    print("lecture, alpha=1e-4, stopped at training MSE <= 2e-5 (oracle):")
    for seed in range(5):
        theta0 = pack(init_params(sizes, np.random.RandomState(seed), "tanh"))
        start = time.perf_counter()
        theta, n_lm = numpy_lm(problem, theta0, 500, stop=reached)
        lm_ms = 1000 * (time.perf_counter() - start)
        trf_s, n_trf = scipy_trf(problem, theta0, reached)
        print(
            f"  seed {seed}: numpy LM {n_lm:3d} iterations {lm_ms:5.1f} ms"
            f"{'' if reached(theta) else ' (not reached)'};  scipy trf "
            f"{n_trf} evaluations {1000 * trf_s:5.1f} ms"
        )


def friedman1():
    X_train, X_test, y_train, y_test = friedman_split()
    Xs, Ys, (x_mean, x_std, y_mean, y_std) = standardised(X_train, y_train)
    sizes = [10, 10, 1]
    problem = LeastSquaresProblem(Xs, Ys, np.ones(len(y_train)), 1.0, sizes)

    def r2(theta):
        Xt = (X_test - x_mean) / x_std
        pred = forward_numpy(unpack(theta, sizes), Xt, np.tanh)[:, 0] * y_std + y_mean
        return r2_score(y_test, pred)

    print("friedman1, alpha=1, numpy LM for a fixed number of iterations:")
    for iterations in (20, 30, 40, 60):
        times, scores = [], []
        for seed in range(5):
            theta0 = pack(init_params(sizes, np.random.RandomState(seed), "tanh"))
            start = time.perf_counter()
            theta, _ = numpy_lm(problem, theta0, iterations)
            times.append(time.perf_counter() - start)
            scores.append(r2(theta))
        print(
            f"  {iterations:3d} iterations: {1000 * np.median(times):5.0f} ms, "
            f"test R^2 median {np.median(scores):.4f}, worst {min(scores):.4f}"
        )


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        lecture()
        friedman1()
