"""Saving a TanhNetRegressor safely: the types skops must trust, file sniffing.

A pickle (and so a joblib file) is a program: loading it calls whatever
functions it names, before the caller can look at the result. skops
(:mod:`skops.io`) writes a zip archive of arrays and a JSON schema instead,
and loads only the types the caller trusts, so a file that names anything else
is refused before any of it is built. Besides numpy arrays, builtin containers
and scalars, which skops trusts by default, a fitted TanhNetRegressor holds
this package's classes and, with deferred interval statistics on sparse X, a
scipy CSR matrix: :func:`trusted_types` lists them.
"""

import json
import zipfile

from scipy import sparse

from ._estimator import TanhNetRegressor
from ._network import CenteredSparse
from ._uncertainty import DeferredStatistics, FitStatistics, ResidualStatistics

# What skops reports for them in get_untrusted_types: the defining modules
# (scipy.sparse._csr, not scipy.sparse), which is how the schema names them.
_TRUSTED_CLASSES = (
    TanhNetRegressor,
    FitStatistics,
    ResidualStatistics,
    DeferredStatistics,
    CenteredSparse,
    sparse.csr_matrix,
)

# A zip archive's local-file or (when empty) end-of-directory signature.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")

# Pickle protocols 2 and up open with PROTO (0x80); joblib's compressed files
# open with the compressor's own signature.
_PICKLE_MAGIC = (
    b"\x80",  # pickle protocol >= 2, and uncompressed joblib
    b"\x78",  # zlib (joblib's default compressor)
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ\x00",  # xz
    b"\x5d\x00\x00",  # lzma (alone)
    b"\x04\x22\x4d\x18",  # lz4
    b"ZF",  # joblib before 0.10
)


def trusted_types():
    """The types to trust when loading a TanhNetRegressor saved with skops.

    Pass them to :func:`skops.io.load` as ``trusted``: a file that holds any
    other type not trusted by skops by default is refused before anything in
    it is built. A model with a callable ``activation`` needs that function
    trusted too, and is not covered: save such a model another way.

    Returns
    -------
    list of str
        Fully qualified type names, as :func:`skops.io.get_untrusted_types`
        reports them.

    Examples
    --------
    >>> import numpy as np
    >>> import skops.io as sio
    >>> from sklearn_tanhnet import TanhNetRegressor, trusted_types
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1)
    >>> est = TanhNetRegressor((2,), random_state=0).fit(X, X.ravel() ** 3)
    >>> loaded = sio.loads(sio.dumps(est), trusted=trusted_types())
    >>> bool(np.array_equal(loaded.predict(X), est.predict(X)))
    True
    """
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in _TRUSTED_CLASSES]


def sniff_format(path):
    """``'skops'``, ``'pickle'`` (joblib too) or None, from the file's first bytes.

    The extension is not consulted: a pickle renamed ``.skops`` is a pickle.
    """
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_ZIP_MAGIC):
        return "skops"
    if head.startswith(_PICKLE_MAGIC):
        return "pickle"
    return None


def callable_activations(path):
    """The names of the callable activations of the estimators in a skops file.

    Read from the archive's schema (JSON), without loading anything.
    """
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    estimator = (TanhNetRegressor.__module__, TanhNetRegressor.__qualname__)
    found = []
    nodes = [schema]
    while nodes:
        node = nodes.pop()
        if isinstance(node, list):
            nodes.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if (node.get("__module__"), node.get("__class__")) == estimator:
            activation = _child(
                _child(_child(node, "content"), "content"), "activation"
            )
            # A named activation is a string, stored as JSON.
            if activation and activation.get("__loader__") != "JsonNode":
                found.append(
                    f"{activation.get('__module__')}.{activation.get('__class__')}"
                )
        nodes.extend(node.values())
    return found


def _child(node, key):
    """``node[key]`` if both are schema nodes (dicts), else an empty dict."""
    child = node.get(key) if isinstance(node, dict) else None
    return child if isinstance(child, dict) else {}
