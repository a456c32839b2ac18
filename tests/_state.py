"""Shared scaffolding: an estimator's whole state, compared to the bit."""

import inspect

import numpy as np


def state_of(est):
    """Everything the estimator holds but the user's callbacks."""
    return {k: v for k, v in vars(est).items() if k != "_skl_callbacks"}


def assert_same(a, b, path="est"):
    """``a`` and ``b`` equal to the bit, recursively (arrays by their bytes)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f"{path}: keys differ by {set(a) ^ set(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} vs {len(b)}"
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same(u, v, f"{path}[{i}]")
    elif isinstance(a, (np.ndarray, np.generic, float)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert a.tobytes() == b.tobytes(), f"{path}: values differ"
    elif hasattr(a, "__dict__") and not inspect.isroutine(a):
        assert_same(vars(a), vars(b), path)
    else:
        assert a is b or a == b, f"{path}: {a!r} vs {b!r}"
