"""One BLAS thread for the package's arithmetic, shared by concurrent fits.

The matrices of a fit are small, and more BLAS threads on a busy machine slow
such products down (docs/benchmarks.rst); a reduction split over a different
number of threads also rounds differently. But the BLAS thread count is one
setting for the whole process: with each fit setting and restoring it on its
own, the first of two concurrent fits to finish restores the count while
the other is still running, whose remaining products then round differently
from a serial run. Here the first user sets one thread and the last one to
leave restores the count, so that every product the package computes runs on
one thread whatever else runs beside it (threads, joblib's threading
backend, Dask's threaded workers). Code of the user's own running meanwhile
in other threads sees one BLAS thread too.

threadpoolctl (3.8) lets only one "controlling" thread change OpenBLAS's
shared pool and makes the calls of every other thread do nothing, silently:
a fit in a worker thread would run on whatever count the main thread left.
The limit is therefore changed with no thread holding that control, before
and after (``_release_control``); a user's own ``threadpool_limits`` in
another thread at the same moment loses its control, and takes it back on
its next change.
"""

import contextlib
import functools
import threading

import threadpoolctl
from threadpoolctl import ThreadpoolController


@functools.cache
def _controller():
    # Finding the loaded BLAS libraries reads /proc/self/maps, which costs
    # about as much as a small fit: once per process. numpy's and scipy's
    # BLAS, the only ones the package calls, are loaded by the time it runs.
    return ThreadpoolController()


def _release_control():
    clear = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(clear, "clear_controlling_thread", None)
    if clear is not None:  # threadpoolctl >= 3.8
        clear(force=True)


class _SharedLimit:
    """A BLAS limit of one thread, held while any user is inside it.

    Set and restored through the libraries' own controllers (a ctypes call
    each) rather than ``ThreadpoolController.limit``, which also queries
    every library's version and architecture: a cost that shows on a small
    ``predict``.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._saved = []

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._users == 0:
                libraries = [
                    lib
                    for lib in _controller().lib_controllers
                    if lib.user_api == "blas"
                ]
                self._saved = [(lib, lib.get_num_threads()) for lib in libraries]
                self._set([(lib, 1) for lib, _ in self._saved])
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._set(self._saved)
                    self._saved = []

    def _set(self, counts):
        changes = [(lib, n) for lib, n in counts if lib.get_num_threads() != n]
        if not changes:
            return
        _release_control()
        for lib, n in changes:
            lib.set_num_threads(n)
        _release_control()


one_blas_thread = _SharedLimit()


def with_one_blas_thread(method):
    """Run ``method`` inside :data:`one_blas_thread`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return method(*args, **kwargs)

    return wrapper
