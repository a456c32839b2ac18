"""Fault injection: an error or an interrupt anywhere in fit changes nothing.

Issue 14, item 4. An exception or a KeyboardInterrupt from a user callback, a
user activation or the solver, or a MemoryError from the Jacobian kernel, at
its first, middle or last call, must leave a fitted estimator exactly as it
was (every attribute, bit for bit) and a new one unfitted; fitting again
afterwards must give the uninterrupted fit's bits. Continued fits
(warm_start, partial_fit) are where such leaks hide: they start from the
fitted state. Also: a model unpickled in another process predicts the same
bits, and a parallel fit that fails or is interrupted leaves no busy worker.
"""

import _thread
import copy
import functools
import os
import pickle
import subprocess
import sys
import threading
import time

import autograd.numpy as anp
import numpy as np
import pytest
from _callbacks import NoOpCallback
from _state import assert_same, state_of
from joblib.externals.loky import get_reusable_executor
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_tanhnet import TanhNetRegressor
from sklearn_tanhnet._lm import LevenbergMarquardt
from sklearn_tanhnet._network import Linearization
from sklearn_tanhnet._solvers import Adam

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, size=(40, 2))
y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
# The interrupted fits see other data than the fitted model did, so that a
# half-done refit would show; a cold refit has a third feature as well.
Y_OTHER = np.cos(X[:, 1]) - X[:, 0]
X3 = np.c_[X, X[:, 0] * X[:, 1]]
X_NEW = RNG.uniform(-2.5, 2.5, size=(15, 2))

SOLVERS = {
    "least_squares": dict(solver="least_squares", max_iter=8),
    # Four minibatches an epoch: a fault can strike inside an epoch, with
    # adam's moments half updated.
    "adam": dict(solver="adam", learning_rate=0.01, batch_size=10, max_iter=8),
}


class Injected(Exception):
    """The user's own error, raised where a fault is injected."""


class Fault:
    """Counts the calls at one injection site and raises at the chosen one."""

    def __init__(self):
        self.arm(None)

    def arm(self, site, raise_at=None, error=None):
        self.site, self.calls, self.raise_at, self.error = site, 0, raise_at, error

    def hit(self, site):
        if site != self.site:
            return
        self.calls += 1
        if self.calls == self.raise_at:
            raise self.error(f"injected at call {self.calls} of the {site}")


FAULT = Fault()


def tanh_with_fault(Z):
    """A user activation (autograd-differentiable) that may fail."""
    FAULT.hit("activation")
    return anp.tanh(Z)


class FaultyCallback(NoOpCallback):
    """A user callback that may fail as any task (iteration, restart, the fit)
    begins or ends: the last is the fit's end, just before the estimator
    would take the result."""

    def on_fit_task_begin(self, estimator, context, **kwargs):
        FAULT.hit("callback")

    def on_fit_task_end(self, estimator, context, **kwargs):
        FAULT.hit("callback")
        return False


@pytest.fixture
def sites(monkeypatch):
    """Solver and Jacobian kernel wired to FAULT; disarmed afterwards."""

    def hook(cls, name, site):
        original = getattr(cls, name)

        @functools.wraps(original)
        def hooked(*args, **kwargs):
            FAULT.hit(site)
            return original(*args, **kwargs)

        monkeypatch.setattr(cls, name, hooked)

    hook(LevenbergMarquardt, "damped_step", "solver")
    hook(Adam, "step", "solver")
    # The kernel behind the LM's normal equations and the fit's statistics.
    hook(Linearization, "jacobian", "jacobian")
    yield
    FAULT.arm(None)


def _new(solver, activation="tanh", **params):
    return TanhNetRegressor(
        (3,), activation, random_state=0, **SOLVERS[solver], **params
    )


@functools.cache
def _fitted(solver, state, activation):
    """An estimator in ``state``; callers take a deep copy."""
    if state in ("fresh", "fresh-partial"):
        return _new(solver, activation)
    if state == "partial":
        est = _new(solver, activation)
        return est.partial_fit(X, y).partial_fit(X, y)
    return _new(solver, activation, warm_start=state == "warm").fit(X, y)


def _estimator(solver, state, activation="tanh"):
    return copy.deepcopy(_fitted(solver, state, activation))


def _go_on(est, state):
    """The fit a fault interrupts: fresh, a cold refit, or continued."""
    if state in ("partial", "fresh-partial"):
        return est.partial_fit(X, Y_OTHER)
    return est.fit(X3 if state == "fitted" else X, Y_OTHER)


def _outputs(est):
    return [
        est.predict(X_NEW),
        *est.predict(X_NEW, return_std=True),
        *est.predict_interval(X_NEW),
        *est.coefs_,
        *est.intercepts_,
    ]


CASES = [
    ("least_squares", "fresh"),
    ("least_squares", "fitted"),
    ("least_squares", "warm"),
    ("adam", "fresh"),
    ("adam", "fresh-partial"),
    ("adam", "fitted"),
    ("adam", "warm"),
    ("adam", "partial"),
]
FAULTS = [
    ("callback", Injected),
    ("callback", KeyboardInterrupt),
    ("activation", Injected),
    ("activation", KeyboardInterrupt),
    ("solver", Injected),
    ("solver", KeyboardInterrupt),
    ("jacobian", MemoryError),
]


@pytest.mark.parametrize("when", ["first", "middle", "last"])
@pytest.mark.parametrize("site, error", FAULTS)
@pytest.mark.parametrize("solver, state", CASES)
def test_a_fault_changes_nothing_and_a_refit_is_the_uninterrupted_fit(
    solver, state, site, error, when, sites
):
    if site == "callback":
        pytest.importorskip("sklearn.callback")
    est = _estimator(solver, state, tanh_with_fault if site == "activation" else "tanh")
    if site == "callback":
        est.set_callbacks(FaultyCallback())
    uninterrupted = copy.deepcopy(est)
    FAULT.arm(site)  # counting only
    _go_on(uninterrupted, state)
    n_calls = FAULT.calls
    assert n_calls > 0, f"the fit never reaches the {site}"
    fitted = state not in ("fresh", "fresh-partial")
    outputs = _outputs(est) if fitted else None
    before = copy.deepcopy(state_of(est))

    raise_at = {"first": 1, "middle": (n_calls + 1) // 2, "last": n_calls}[when]
    FAULT.arm(site, raise_at, error)
    with pytest.raises(error, match="injected"):
        _go_on(est, state)
    FAULT.arm(None)

    assert_same(state_of(est), before)
    if fitted:
        assert_same(_outputs(est), outputs, "outputs")
    else:
        with pytest.raises(NotFittedError):
            check_is_fitted(est)
    _go_on(est, state)
    assert_same(state_of(est), state_of(uninterrupted))


# -- another process ---------------------------------------------------------------

_CHILD = """
import pickle, sys
import numpy as np
X = np.load(sys.argv[1])
for i, path in enumerate(sys.argv[2:]):
    with open(path, "rb") as f:
        est = pickle.load(f)
    outputs = [est.predict(X), *est.predict(X, return_std=True)]
    np.save(f"{path}.npy", np.stack([*outputs, *est.predict_interval(X)]))
"""


def test_a_model_unpickled_in_another_process_predicts_the_same_bits(tmp_path):
    models = [
        _estimator("least_squares", "fitted"),
        _estimator("adam", "partial"),
        _new("least_squares", n_starts=2).fit(X, y),
        # Statistics computed only on first use: the child computes them
        # from the pickled data.
        _new("least_squares", uncertainty="lazy").fit(X, y),
    ]
    paths = []
    for i, est in enumerate(models):
        paths.append(tmp_path / f"model{i}.pkl")
        paths[-1].write_bytes(pickle.dumps(est))
    np.save(tmp_path / "X.npy", X_NEW)
    subprocess.run(
        [sys.executable, "-c", _CHILD, tmp_path / "X.npy", *paths],
        check=True,
        timeout=300,
    )
    for est, path in zip(models, paths):
        outputs = [est.predict(X_NEW), *est.predict(X_NEW, return_std=True)]
        here = np.stack([*outputs, *est.predict_interval(X_NEW)])
        there = np.load(f"{path}.npy")
        assert there.dtype == here.dtype and there.tobytes() == here.tobytes()


# -- parallel fits -----------------------------------------------------------------


def _children():
    """Pids of this process's live (not zombie) children, but loky's resource
    tracker, which lives as long as this process by design."""
    try:
        import psutil
    except ImportError:  # /proc says the same on Linux
        return _proc_children()
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if "resource_tracker" in " ".join(child.cmdline()):
                continue
        except psutil.NoSuchProcess:
            continue
        pids.add(child.pid)
    return pids


def _proc_children():
    pids, parents = set(), {os.getpid()}
    for entry in sorted(os.listdir("/proc"), key=lambda s: (len(s), s)):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":\t", 1) for line in f if ":\t" in line)
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if int(status["PPid"]) in parents:
            parents.add(int(entry))
            if not status["State"].startswith("Z") and (
                b"resource_tracker" not in cmdline
            ):
                pids.add(int(entry))
    return pids


def _alive(pid):
    try:
        import psutil
    except ImportError:
        try:
            with open(f"/proc/{pid}/status") as f:
                return "\nState:\tZ" not in f.read()
        except OSError:
            return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _eventually(condition, seconds=60.0):
    """Whether ``condition()`` holds within ``seconds`` (a grace period for
    processes to exit, not a timing assertion)."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


class BusyInWorkers:
    """tanh in the parent; in a worker, one start raises and the others
    spin (a start that would never end), writing their pids to ``folder``.

    The spin is bounded by a ``release`` file (written when the test ends,
    or when the test gives up waiting for the workers) and by one wall-clock
    deadline shared by every call in every process, so a worker the package
    failed to stop does not burn CPU forever, and a fit whose workers were
    never interrupted ends (and its test fails) instead of spinning again in
    each of its many activation calls.
    """

    def __init__(self, folder, raise_in_one):
        self.parent, self.folder, self.raise_in_one = os.getpid(), folder, raise_in_one
        self.deadline = time.time() + 180

    def __call__(self, Z):
        if os.getpid() == self.parent:
            return anp.tanh(Z)
        if self.raise_in_one:
            try:
                os.close(os.open(self.folder / "claimed", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                # Once another worker is busy: a failure it has to outlive.
                while not _busy_pids(self.folder) and time.time() < self.deadline:
                    time.sleep(0.01)
                raise Injected("injected in a worker")
        (self.folder / f"busy-{os.getpid()}").touch()
        while not (self.folder / "release").exists() and time.time() < self.deadline:
            pass
        return anp.tanh(Z)


def _busy_pids(folder):
    return {int(p.name.split("-")[1]) for p in folder.glob("busy-*")}


@pytest.fixture
def release(tmp_path):
    """The children before the test; the busy workers released after it."""
    # Idle workers of a reusable pool an earlier test left are reused here:
    # their pids are among these (and must be gone after the shutdown too).
    yield _children()
    (tmp_path / "release").touch()


def _assert_busy_workers_gone(folder, children_before):
    # joblib kills a failed run's workers (loky's reusable executor would
    # otherwise keep its workers alive, idle, by design): every worker that
    # was busy in a start must be gone, not still running it.
    busy = _busy_pids(folder)
    assert busy, "no start reached a worker"
    assert _eventually(lambda: not any(_alive(pid) for pid in busy)), busy
    # Nor may an idle pool outlive the executor's shutdown.
    get_reusable_executor().shutdown(wait=True)
    assert _eventually(lambda: _children() <= children_before), _children()


def test_an_error_in_a_worker_changes_nothing_and_leaves_no_busy_worker(
    tmp_path, release
):
    activation = BusyInWorkers(tmp_path, raise_in_one=True)
    est = _new("least_squares", activation, n_starts=3, combine="best").fit(
        X, y
    )  # serially
    est.set_params(n_jobs=2)
    outputs, before = _outputs(est), copy.deepcopy(state_of(est))
    with pytest.raises(Injected, match="in a worker"):
        est.fit(X, Y_OTHER)
    assert_same(state_of(est), before)
    assert_same(_outputs(est), outputs, "outputs")
    _assert_busy_workers_gone(tmp_path, release)


def test_an_interrupted_parallel_fit_changes_nothing_and_leaves_no_busy_worker(
    tmp_path, release
):
    activation = BusyInWorkers(tmp_path, raise_in_one=False)
    # First a parallel fit that runs to the end: the serial fit's bits (and
    # the workers to interrupt next, warm).
    est = _new("least_squares", n_starts=2, combine="best", n_jobs=2).fit(X, y)
    serial = _new("least_squares", n_starts=2, combine="best").fit(X, y)
    assert_same(state_of(est), {**state_of(serial), "n_jobs": 2})
    outputs, before = _outputs(est), copy.deepcopy(state_of(est))

    # Ctrl-C while both workers are busy in their starts. On a machine too
    # loaded for both to start within the grace period, the workers are
    # released instead: the fit then ends uninterrupted and the test fails.
    def interrupt():
        if _eventually(lambda: len(_busy_pids(tmp_path)) == 2, seconds=120.0):
            _thread.interrupt_main()
        else:
            (tmp_path / "release").touch()

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        est.set_params(activation=activation).fit(X, Y_OTHER)
    est.set_params(activation="tanh")
    assert_same(state_of(est), before)
    assert_same(_outputs(est), outputs, "outputs")
    _assert_busy_workers_gone(tmp_path, release)


# -- what the model keeps of the caller's data and of earlier fits -----------------


def test_changing_the_callers_arrays_after_fit_changes_nothing():
    # Lazy statistics keep the training data: they held the caller's own
    # sample_weight array once.
    X_mine, y_mine, w_mine = X.copy(), y.copy(), np.linspace(0.5, 2.0, len(X))
    est = _new("least_squares", uncertainty="lazy").fit(X_mine, y_mine, w_mine)
    twin = _new("least_squares", uncertainty="lazy").fit(X, y, w_mine.copy())
    for A in (X_mine, y_mine, w_mine):
        A[:5] = 1e3
    assert_same(_outputs(est), _outputs(twin), "outputs")


def test_a_width_by_evidence_refit_keeps_nothing_of_the_last_fit():
    pd = pytest.importorskip("pandas")
    est = _new("least_squares", early_stopping=True).fit(
        pd.DataFrame(X, columns=["a", "b"]), y
    )
    est.set_params(hidden_layer_sizes="auto", early_stopping=False).fit(X, y)
    # Nothing of the DataFrame fit's (names, validation) stays...
    fresh = _new("least_squares").set_params(hidden_layer_sizes="auto").fit(X, y)
    assert_same(state_of(est), state_of(fresh))
    # ...nor of the chosen width once a width is given.
    est.set_params(hidden_layer_sizes=(3,)).fit(X, y)
    assert not hasattr(est, "hidden_layer_sizes_")
    assert not hasattr(est, "width_log_evidence_")
