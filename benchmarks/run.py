"""Every case of issue 5: sklearn_tanhnet beside MLPRegressor and the lecture.

Run from the repository root::

    python benchmarks/run.py                  # every case, about 10-15 minutes
    python benchmarks/run.py --quick          # a small subset, under 2 minutes
    python benchmarks/run.py --case friedman1 --case predict
    python benchmarks/run.py --list           # the case names

One process runs every case, this package beside its peer, and prints one
table: case, method, seconds (median over seeds), quality, peak memory where
it matters, the ratio of seconds to the peer's, and issue 5's target for the
row with whether this run meets it. The large cases (1e6 rows) each run in a
fresh child process (``multiprocessing`` spawn), so that its peak resident
memory (``ru_maxrss``) is its own. BLAS and OpenMP pools are limited with
threadpoolctl to ``--threads`` (default 1) in this process and in every
child, for both packages alike; the children also start with
``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` set to it. Seeds of one case
run interleaved (seed 0 of every method, then seed 1, ...), so a change of
background load hits all methods alike. See benchmarks/README.md.
"""

import argparse
import contextlib
import gc
import math
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:
    import sklearn_tanhnet  # noqa: F401
except ImportError:  # not installed: use the checkout this file lives in
    sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from sklearn.datasets import make_friedman1  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from sklearn_tanhnet import TanhNetRegressor  # noqa: E402

TARGET_MSE = 2e-5  # the lecture's tolerance on the training mean squared error
NOTES = []  # footnotes to the table
LEGEND = (
    "ours = sklearn_tanhnet (TanhNetRegressor; LeastSquaresProblem.jacobian); "
    "MLP = sklearn.neural_network.MLPRegressor(activation='tanh'); lecture = the "
    "lecture's code as written; ratio = seconds / the peer's (MLP, or "
    "hand-written backprop); seconds and quality are medians over the seeds; "
    "MSE = training mean squared error, 'reach' = MSE <= 2e-5."
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
    verdict: str = ""  # 'met', 'MISSED' or ''


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
        print("  ".join(x.ljust(w) for x, w in zip(c, widths)), file=file)
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
    """Lecture problem, least_squares with defaults vs MLPRegressor lbfgs."""
    X, y = lecture_data()
    X2 = X[:, None]
    methods = {
        "ours least_squares, defaults": lambda s: _fit_mse(
            TanhNetRegressor(hidden_layer_sizes=(3,), random_state=s), X2, y
        ),
        # What the evidence iteration of alpha='auto' costs.
        "ours, alpha=1e-4": lambda s: _fit_mse(
            TanhNetRegressor(hidden_layer_sizes=(3,), alpha=1e-4, random_state=s),
            X2,
            y,
        ),
        "MLP lbfgs": lambda s: _fit_mse(_mlp_lbfgs((3,), s), X2, y),
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
            "lecture least_squares",
            method,
            _median(times),
            f"{reached}/{len(mses)} reach, MSE {_median(mses):.2g}",
            ratio=_median(times) / peer,
        )
        if method == "ours least_squares, defaults":
            row.target = f"{len(mses)}/{len(mses)} reach, <=1.0x MLP"
            row.verdict = _verdict(reached == len(mses) and row.ratio <= 1.0)
        rows.append(row)
    return rows


def _mlp_lbfgs(hidden, seed, **params):
    """MLPRegressor with tanh units and L-BFGS, the peer of least_squares."""
    return MLPRegressor(
        hidden_layer_sizes=hidden,
        activation="tanh",
        solver="lbfgs",
        random_state=seed,
        **params,
    )


def _fit_mse(est, X, y):
    with _quiet():
        seconds, est = _timed(est.fit, X, y)
    return seconds, _mse(est.predict(X), y)


def _interleave(methods, seeds):
    """Run seed 0 of every method, then seed 1, ...; results per method."""
    results = {m: [] for m in methods}
    for i in range(max(len(s) for s in seeds.values())):
        for method, run in methods.items():
            if i < len(seeds[method]):
                results[method].append(run(seeds[method][i]))
                gc.collect()
    return results


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
    """friedman1 2,500 x 10, one hidden layer of 10 tanh units, 75/25 split."""
    X_train, X_test, y_train, y_test = friedman_split()

    def run(est):
        with _quiet():
            seconds, est = _timed(est.fit, X_train, y_train)
        return seconds, r2_score(y_test, est.predict(X_test))

    methods = {
        "ours least_squares, defaults": lambda s: run(
            TanhNetRegressor(hidden_layer_sizes=(10,), random_state=s)
        ),
        # What tr_solver='auto' (lsmr here) saves over an SVD every step.
        "ours, tr_solver='exact'": lambda s: run(
            TanhNetRegressor(
                hidden_layer_sizes=(10,), tr_solver="exact", random_state=s
            )
        ),
        "MLP lbfgs": lambda s: run(_mlp_lbfgs((10,), s)),
        # The MLP given the iterations to reach our median quality.
        "MLP lbfgs, max_iter=500": lambda s: run(_mlp_lbfgs((10,), s, max_iter=500)),
    }
    results = _interleave(methods, {m: cfg.seeds for m in methods})
    peer_t = _median([t for t, _ in results["MLP lbfgs"]])
    peer_r2 = _median([r for _, r in results["MLP lbfgs"]])
    rows = []
    for method, res in results.items():
        t, r2 = _median([a for a, _ in res]), _median([b for _, b in res])
        worst = min(b for _, b in res)
        quality = f"test R^2 {r2:.4f} (min {worst:.3f})"
        row = Row("friedman1", method, t, quality, ratio=t / peer_t)
        if method == "ours least_squares, defaults":
            row.target = "<=1.0x MLP, R^2 >= MLP's - 0.003"
            row.verdict = _verdict(row.ratio <= 1.0 and r2 >= peer_r2 - 0.003)
        rows.append(row)
    return rows


# -- the large cases, each in a fresh process ----------------------------------


def _limit_threads(threads):
    return threadpool_limits(limits=threads)


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _large_data(n):
    X, y = make_friedman1(n_samples=n, n_features=10, noise=1.0, random_state=0)
    X_test, y_test = make_friedman1(
        n_samples=20000, n_features=10, noise=1.0, random_state=1
    )
    return X, y, X_test, y_test


def _tanhnet_problem(X, y, alpha, seed, sizes):
    """The problem TanhNetRegressor.fit builds: standardised data, Glorot start."""
    from sklearn_tanhnet._derivatives import LeastSquaresProblem
    from sklearn_tanhnet._network import init_params, pack

    x_mean, x_std = X.mean(0), X.std(0)
    y_mean, y_std = y.mean(), y.std()
    Xs, Ys = (X - x_mean) / x_std, ((y - y_mean) / y_std)[:, None]
    rng = np.random.RandomState(seed)
    theta0 = pack(init_params(sizes, rng))
    problem = LeastSquaresProblem(Xs, Ys, np.ones(len(y)), alpha, sizes, "tanh")

    def predict(theta, X_new):
        from sklearn_tanhnet._network import forward_numpy, unpack

        out = forward_numpy(unpack(theta, sizes), (X_new - x_mean) / x_std)
        return out.ravel() * y_std + y_mean

    return problem, theta0, rng, predict


def large_child(kind, n, seeds, epochs, threads):
    """One large measurement in a fresh process; returns a dict of results."""
    with _limit_threads(threads):
        X, y, X_test, y_test = _large_data(n)
        base = _rss_mib()
        out = {"seconds": [], "quality": [], "base_mib": base}
        for seed in seeds:
            gc.collect()
            if kind == "ours-adam":
                secs, r2 = _ours_adam_epochs(X, y, X_test, y_test, seed, epochs)
            elif kind == "mlp-adam":
                secs, r2 = _mlp_adam_epochs(X, y, X_test, y_test, seed, epochs)
            elif kind == "ours-lsq":
                secs, r2 = _ours_lsq_iterations(X, y, X_test, y_test, seed, epochs)
            else:
                raise ValueError(kind)
            out["seconds"] += secs
            out["quality"].append(r2)
        out["peak_mib"] = _rss_mib()
        return out


def _ours_adam_epochs(X, y, X_test, y_test, seed, epochs):
    """Epoch times of the package's adam loop (what TanhNetRegressor.fit runs)."""
    from sklearn_tanhnet._solvers import fit_adam

    sizes = [10, 20, 20, 1]
    problem, theta0, rng, predict = _tanhnet_problem(X, y, 1e-4, seed, sizes)
    stamps = [time.perf_counter()]

    def callback(theta, loss):
        stamps.append(time.perf_counter())

    result = fit_adam(
        problem.value_and_grad,
        problem.loss,
        theta0,
        len(y),
        rng=rng,
        learning_rate=1e-3,
        batch_size=200,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        loss_scale=0.5,
        callback=callback,
    )
    return list(np.diff(stamps)), r2_score(y_test, predict(result.theta, X_test))


def _mlp_adam_epochs(X, y, X_test, y_test, seed, epochs):
    est = MLPRegressor(
        hidden_layer_sizes=(20, 20),
        activation="tanh",
        solver="adam",
        batch_size=200,
        learning_rate_init=1e-3,
        random_state=seed,
    )
    times = []
    for _ in range(epochs):  # one partial_fit call is one epoch
        seconds, _ = _timed(est.partial_fit, X, y)
        times.append(seconds)
    return times, r2_score(y_test, est.predict(X_test))


LSMR_MAXITER = 4  # inner iterations of lsmr per trust-region step


class _Enough(Exception):
    pass


def _ours_lsq_iterations(X, y, X_test, y_test, seed, iterations):
    """Seconds per trust-region iteration of matrix-free least_squares."""
    from scipy.optimize import least_squares
    from sklearn_tanhnet._matrix_free import MatrixFreeResiduals

    sizes = [10, 20, 20, 1]
    problem, theta0, _, predict = _tanhnet_problem(X, y, 1e-4, seed, sizes)
    mf = MatrixFreeResiduals(problem)
    state = {"n": 0, "theta": theta0}

    def jac(theta):
        state["n"] += 1
        state["theta"] = np.array(theta, copy=True)
        if state["n"] > iterations:  # the Jacobian at the last accepted step
            raise _Enough
        return mf.jacobian(theta)

    start = time.perf_counter()
    try:
        least_squares(
            mf.residuals,
            theta0,
            jac=jac,
            method="trf",
            tr_solver="lsmr",
            tr_options={"maxiter": LSMR_MAXITER},
            x_scale=1.0,
            ftol=1e-12,
            xtol=1e-12,
            gtol=1e-10,
            max_nfev=10 * iterations,
        )
    except _Enough:
        pass
    seconds = time.perf_counter() - start
    done = max(state["n"] - 1, 1)  # accepted steps
    return [seconds / done], r2_score(y_test, predict(state["theta"], X_test))


def _run_child(cfg, kind, seeds, epochs):
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
                large_child, kind, cfg.large_n, seeds, epochs, cfg.threads
            ).result()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def case_large(cfg):
    """1e6 x 10, hidden (20, 20): adam epochs, matrix-free least_squares."""
    from sklearn_tanhnet._matrix_free import dense_jacobian_bytes, matrix_free_bytes

    from sklearn_tanhnet._network import n_params_of, weight_mask

    n, sizes = cfg.large_n, [10, 20, 20, 1]
    name = f"{n:.0e} x 10, (20, 20)".replace("e+0", "e")
    epochs = 1 if cfg.quick else 2
    seeds = cfg.seeds
    ours = _run_child(cfg, "ours-adam", seeds, epochs)
    mlp = _run_child(cfg, "mlp-adam", seeds, epochs)
    lsq = _run_child(cfg, "ours-lsq", seeds, 3 if cfg.quick else 5)
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
    P = n_params_of(sizes)
    dense = dense_jacobian_bytes(n + int(weight_mask(sizes).sum()), P) / 2**30
    t = _median(lsq["seconds"])
    rows.append(
        Row(
            name,
            "ours lsq matrix-free, per iter.",
            t,
            f"test R^2 {_median(lsq['quality']):.3f} after "
            f"{3 if cfg.quick else 5} iterations",
            peak_mib=lsq["peak_mib"],
            target="<=2.5 GiB peak, <=3 s/iteration",
            verdict=_verdict(lsq["peak_mib"] <= 2.5 * 1024 and t <= 3.0),
        )
    )
    NOTES.append(
        f"{name}: peak MiB = ru_maxrss of a fresh process that made the data "
        f"({ours['base_mib']:.0f} MiB once made); 'per iter.' = least_squares "
        f"seconds / accepted steps, trf with tr_solver='lsmr', lsmr maxiter "
        f"{LSMR_MAXITER}; a dense Jacobian would be {dense:.1f} GiB, the "
        f"matrix-free state at most {matrix_free_bytes(n, sizes) / 2**30:.2f} GiB."
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
    from sklearn.model_selection import KFold

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


def _pkg_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _loadavg():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


@dataclass
class Config:
    quick: bool
    seeds: list
    threads: int
    large_n: int


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small subset, < 2 min")
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
        "--seeds", type=int, default=None, help="seeds per case (default 5, quick 1)"
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
        large_n=100_000 if args.quick else 1_000_000,
    )
    names = args.case or list(CASES)

    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"cpu count {os.cpu_count()}, load average {_loadavg()}")
    print(
        "versions: "
        + ", ".join(
            f"{p} {_pkg_version(p)}"
            for p in ("sklearn-tanhnet", "scikit-learn", "numpy", "scipy", "autograd")
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
    print("\n".join(["", LEGEND, *NOTES]))
    print(f"total {time.perf_counter() - start:.0f} s, load average {_loadavg()}")
    return rows


if __name__ == "__main__":
    main()
