"""Time the residual Jacobian of ``LeastSquaresProblem`` against two references.

Run from the repository root::

    python benchmarks/jacobian.py              # BLAS limited to 1 thread
    python benchmarks/jacobian.py --threads 2  # BLAS limited to 2 threads

For each network and number of samples N it prints milliseconds per Jacobian of

* ours:        ``LeastSquaresProblem(...).jacobian(theta)`` (the package's
               numpy kernel: one forward pass, one backward pass of the unit
               cotangent per output, weight blocks as row-wise outer products);
* autograd:    ``autograd.jacobian(autograd_residuals(problem))(theta)``, the
               residual vector written below with autograd.numpy and
               ``sklearn_tanhnet._network.forward`` (one reverse pass per
               residual; only for N <= 1000, 'skipped' above, where one call
               would take well over 10 s);
* hand-written: plain-numpy backprop written below, in this file only;

and the ratio ours / hand-written. Before timing, the hand-written Jacobian
(and, where it is timed, autograd's) is checked equal to ours with
``np.testing.assert_allclose(rtol=1e-10)``, so all columns compute the same
matrix.

Timing is timeit-style: the number of calls per repeat is chosen (as
``timeit.Timer.autorange``) so that one repeat lasts at least 0.2 s, the
repeats of the three columns are interleaved, and the reported time is the
median over (up to 5, at least 3) repeats of (repeat time / calls).
"""

import argparse
import gc
import statistics
import sys
import time
import timeit
from pathlib import Path

import numpy as np

try:
    import autograd
except ImportError:  # pragma: no cover - autograd is a hard dependency
    sys.exit("autograd is required: pip install autograd")
try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - comes with scikit-learn
    sys.exit("threadpoolctl is required: pip install threadpoolctl")

try:
    import sklearn_tanhnet  # noqa: F401
except ImportError:  # not installed: use the checkout this file lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import autograd.numpy as anp  # noqa: E402
from _machine import load_average, print_machine  # noqa: E402

from sklearn_tanhnet._derivatives import LeastSquaresProblem  # noqa: E402
from sklearn_tanhnet._network import forward, init_params, pack, unpack  # noqa: E402

NETWORKS = [(1, 3, 1), (8, 20, 20, 1)]
SAMPLE_SIZES = [50, 1_000, 10_000, 100_000]
ALPHA = 1e-4
AUTOGRAD_MAX_N = 1_000  # above this one autograd.jacobian call takes > ~10 s
MIN_REPEAT_TIME = 0.2  # seconds per repeat (timeit's autorange target)


# -- the hand-written reference ----------------------------------------------


def _layers(theta, layer_sizes):
    """``[(W, b), ...]`` views into ``theta`` and each layer's first column.

    The column layout is that of ``sklearn_tanhnet._network.pack``: for each
    layer its ``W`` (fan_in x fan_out) in C order, then its ``b``.
    """
    layers, starts, start = [], [], 0
    for m, h in zip(layer_sizes[:-1], layer_sizes[1:]):
        layers.append(
            (
                theta[start : start + m * h].reshape(m, h),
                theta[start + m * h : start + (m + 1) * h],
            )
        )
        starts.append(start)
        start += (m + 1) * h
    return layers, starts, start


def handwritten_jacobian(problem, theta):
    """Residual Jacobian of a tanh network by explicit numpy backprop.

    Rows ``i * K + k`` (sample i, output k) are ``row_scale[i]`` times the
    gradient of output ``k`` of sample ``i``; the last ``n_reg`` rows are
    ``sqrt(alpha / S)`` times the identity restricted to the weights.

    For output ``k`` the back-propagated deltas are ``delta_L = e_k`` and
    ``delta_l = (delta_{l+1} @ W_{l+1}.T) * (1 - a_l**2)``; the weight block of
    layer ``l`` is the row-wise outer product of its input with its delta and
    the bias block is the delta itself. The row scale is folded into the first
    delta, and every block is written straight into a view of ``J``.
    """
    if problem.activation != "tanh":
        raise ValueError("the hand-written Jacobian is for tanh networks only")
    sizes = problem.layer_sizes
    n, K = problem.n_samples, problem.n_outputs
    c = problem.row_scale
    layers, starts, P = _layers(np.asarray(theta, dtype=float), sizes)
    n_hidden = len(sizes) - 2

    # Forward pass, keeping every layer's input (X, then the hidden activations).
    inputs = [problem.X]
    for W, b in layers[:-1]:
        A = inputs[-1] @ W
        A += b
        np.tanh(A, out=A)
        inputs.append(A)
    slopes = [1.0 - A * A for A in inputs[1:]]  # tanh' of each hidden layer
    cA = inputs[-1] * c[:, None]  # scaled input of the output layer

    n_reg = problem.n_reg
    J = np.empty((n * K + n_reg, P))
    J3 = J[: n * K].reshape(n, K, P)
    W_out = layers[-1][0]
    m_out, s_out = sizes[-2], starts[-1]
    for k in range(K):
        row = J3[:, k, :]  # (n, P) view with row stride K * P
        # Output layer: only W_out[:, k] and b_out[k] act on output k.
        if K > 1:
            row[:, s_out:] = 0.0
        row[:, s_out + k : s_out + m_out * K : K] = cA
        row[:, P - K + k] = c
        if not n_hidden:
            continue
        delta = c[:, None] * W_out[:, k]  # (c_i e_k) @ W_out.T
        for j in range(n_hidden - 1, -1, -1):  # hidden layer j, last first
            delta *= slopes[j]
            inp, (W, _), s = inputs[j], layers[j], starts[j]
            m, h = W.shape
            block = row[:, s : s + m * h].reshape(n, m, h)
            assert np.may_share_memory(block, J)  # a view, never a copy
            np.multiply(inp[:, :, None], delta[:, None, :], out=block)
            row[:, s + m * h : s + (m + 1) * h] = delta
            if j:
                delta = delta @ W.T
    if n_reg:
        weight_cols = np.concatenate(
            [np.arange(s, s + m * h) for s, m, h in zip(starts, sizes[:-1], sizes[1:])]
        )
        reg = J[n * K :]
        reg[...] = 0.0
        # The penalty rows of the residuals: sqrt(alpha / S) theta_j, weights only.
        reg[np.arange(n_reg), weight_cols] = np.sqrt(problem.reg2[weight_cols])
    return J


# -- the autograd reference ---------------------------------------------------------


def autograd_residuals(problem):
    """The residual vector of ``problem`` as a function autograd can trace.

    The same rows as ``LeastSquaresProblem.residuals``: ``c_i (f_ik - y_ik)``
    for sample i and output k (row ``i * K + k``), from autograd's generic
    network ``sklearn_tanhnet._network.forward``, then the penalty rows
    ``sqrt(alpha / S) theta_j`` of the weights.
    """
    sizes, X, Y = problem.layer_sizes, problem.X, problem.Y
    c = problem.row_scale[:, None]
    cols = np.flatnonzero(problem.mask)
    reg = np.sqrt(problem.reg2[cols])

    def residuals(theta):
        out = forward(unpack(theta, sizes), X, problem.activation)
        data = anp.reshape((out - Y) * c, (-1,))
        if not problem.n_reg:
            return data
        return anp.concatenate([data, reg * theta[cols]])

    return residuals


# -- timing ---------------------------------------------------------------------


def time_calls(funcs, max_repeats=5, budget=8.0):
    """Median seconds per call of each ``func()`` in ``funcs``, timeit-style.

    For each function the number of calls per repeat is chosen like
    ``timeit.Timer.autorange`` (1, 2, 5, 10, 20, ... until one repeat lasts at
    least MIN_REPEAT_TIME). The repeats of the functions are then interleaved
    (ours, hand-written, autograd, ours, ...) so that a change of background
    load hits all columns alike; there are ``max_repeats`` of them, at least
    3, fewer only when a round would take the total past ``budget`` seconds.
    """
    timers, numbers, times = [], [], []
    for func in funcs:
        timer = timeit.Timer(func)
        number, first = timer.autorange()
        while first < MIN_REPEAT_TIME:  # autorange may stop just short of it
            number *= 2
            first = timer.timeit(number)
        timers.append(timer)
        numbers.append(number)
        times.append([first])
    round_time = sum(t[0] for t in times)
    repeats = max(3, min(max_repeats, int(budget / round_time)))
    for _ in range(repeats - 1):
        for timer, number, t in zip(timers, numbers, times):
            t.append(timer.timeit(number))
    return [statistics.median(t) / number for t, number in zip(times, numbers)]


def make_problem(layer_sizes, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, layer_sizes[0]))
    Y = rng.standard_normal((n, layer_sizes[-1]))
    w = np.ones(n)
    theta = pack(init_params(layer_sizes, rng))
    return LeastSquaresProblem(X, Y, w, ALPHA, layer_sizes), theta


def fmt_ms(seconds):
    return "skipped" if seconds is None else f"{1e3 * seconds:.4g}"


def run():
    rows = []
    header = (
        f"{'network':<12}{'N':>8}{'ms ours':>12}{'ms autograd.jacobian':>22}"
        f"{'ms hand-written':>17}{'ours/hand':>11}"
    )
    print(header)
    print("-" * len(header))
    for layer_sizes in NETWORKS:
        name = "-".join(map(str, layer_sizes))
        for n in SAMPLE_SIZES:
            problem, theta = make_problem(list(layer_sizes), n)
            J_ours = problem.jacobian(theta)
            J_hand = handwritten_jacobian(problem, theta)
            np.testing.assert_allclose(J_hand, J_ours, rtol=1e-10)
            use_autograd = n <= AUTOGRAD_MAX_N
            if use_autograd:
                ag_jac = autograd.jacobian(autograd_residuals(problem))
                np.testing.assert_allclose(ag_jac(theta), J_ours, rtol=1e-10)
            del J_ours, J_hand
            gc.collect()

            funcs = [
                lambda p=problem, t=theta: p.jacobian(t),
                lambda p=problem, t=theta: handwritten_jacobian(p, t),
            ]
            if use_autograd:
                funcs.append(lambda f=ag_jac, t=theta: f(t))
            t_ours, t_hand, *t_ag = time_calls(funcs)
            t_ag = t_ag[0] if use_autograd else None
            ratio = t_ours / t_hand
            rows.append((name, n, t_ours, t_ag, t_hand, ratio))
            print(
                f"{name:<12}{n:>8}{fmt_ms(t_ours):>12}{fmt_ms(t_ag):>22}"
                f"{fmt_ms(t_hand):>17}{ratio:>11.2f}",
                flush=True,
            )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="K",
        help="limit BLAS/OpenMP thread pools to K threads while timing (default: 1)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be >= 1")

    print_machine(("numpy", "autograd", "threadpoolctl", "sklearn-tanhnet"))
    print("threadpool_info() before limiting:")
    for pool in threadpool_info():
        print(
            f"  {pool.get('user_api')}/{pool.get('internal_api')} "
            f"{pool.get('version')} num_threads={pool.get('num_threads')} "
            f"threading_layer={pool.get('threading_layer')} "
            f"arch={pool.get('architecture')} file={pool.get('filepath')}"
        )
    start = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        limited = ", ".join(
            f"{p.get('internal_api')}={p.get('num_threads')}" for p in threadpool_info()
        )
        print(f"timing with threadpool_limits({args.threads}): {limited or 'no pools'}")
        print(
            f"alpha={ALPHA}, sample weights 1, X and Y standard normal, theta from "
            f"init_params; median of interleaved repeats of >= {MIN_REPEAT_TIME} s\n"
        )
        run()
    print(f"\ntotal {time.perf_counter() - start:.1f} s, load average {load_average()}")


if __name__ == "__main__":
    main()
