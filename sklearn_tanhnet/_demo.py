"""The lecture's problem as a demo: fit y = x^(1/3) with both solvers, report, plot."""

import time
import warnings

import numpy as np

from ._estimator import TanhNetRegressor

# The demo's adam settings follow the lecture: step size 0.01, full batch, no
# evidence iteration (a small fixed penalty), and enough iterations to reach a
# training MSE of 2e-5. least_squares runs with every default.
DEMO_SOLVERS = {
    "least_squares": dict(solver="least_squares"),
    "adam": dict(
        solver="adam",
        alpha=1e-4,
        learning_rate=0.01,
        max_iter=30_000,
        tol=1e-9,
        n_iter_no_change=100,
    ),
}


def lecture_data(n_samples=50):
    """The lecture's data: ``y = x**(1/3)`` on ``n_samples`` points in [0, 1]."""
    X = np.linspace(0, 1, n_samples).reshape(-1, 1)
    return X, X.ravel() ** (1 / 3)


def run_demo(output="tanhnet_demo.png", random_state=0, hidden_layer_sizes=(3,)):
    """Fit the lecture's 1-3-1 network with both solvers and print a report.

    Parameters
    ----------
    output : str or path-like or None, default="tanhnet_demo.png"
        Where to write the figure; None skips the plot.
    random_state : int, default=0
        Seed of both fits.
    hidden_layer_sizes : tuple of int, default=(3,)
        Hidden layers of the network.

    Returns
    -------
    fits : dict
        Solver name to fitted :class:`TanhNetRegressor`.
    """
    X, y = lecture_data()
    fits = {}
    print(
        "Fitting y = x^(1/3) on 50 points in [0, 1] with a "
        f"1-{'-'.join(map(str, hidden_layer_sizes))}-1 tanh network.\n"
    )
    header = (
        f"{'solver':<14}{'train MSE':>12}{'iterations':>12}{'seconds':>10}  stopped"
    )
    print(header)
    print("-" * len(header))
    for name, params in DEMO_SOLVERS.items():
        est = TanhNetRegressor(hidden_layer_sizes, random_state=random_state, **params)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(X, y)
        seconds = time.perf_counter() - start
        mse = float(np.mean((est.predict(X) - y) ** 2))
        print(
            f"{name:<14}{mse:>12.2e}{est.n_iter_:>12d}{seconds:>10.3f}  "
            f"{est.status_}: {est.message_}"
        )
        for w in caught:
            print(f"  warning: {w.message}")
        fits[name] = est
    print("\nNeither fit extrapolates: tanh saturates, so beyond x = 1 the")
    print("networks flatten while x^(1/3) keeps growing.")
    if output is not None:
        _plot(fits, X, y, output)
        print(f"\nWrote {output}")
    return fits


def _plot(fits, X, y, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    EX = np.linspace(0, 10, 400).reshape(-1, 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.axvspan(0, 1, color="0.85", label="training range")
    ax.plot(EX, EX.ravel() ** (1 / 3), "k--", lw=1, label="$x^{1/3}$")
    ax.plot(X, y, "b.", label="data")
    for name, est in fits.items():
        ax.plot(EX, est.predict(EX), label=f"{name} fit")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("1-3-1 tanh network fitted on [0, 1], extrapolated to [0, 10]")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)
