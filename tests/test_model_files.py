"""Model files: what ``tanhnet predict`` loads, what it refuses, and what skops trusts.

A pickle runs code when it is loaded, so ``tanhnet predict`` loads skops files,
trusting only the types a fitted TanhNetRegressor holds, and loads a joblib or
pickle file only with ``--trust-pickle``. The malicious files here would
create a marker file when loaded; every refusal checks the marker was not made.
"""

import json
import shlex
import warnings
import zipfile

import joblib
import numpy as np
import pytest
import skops.io as sio
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from test_cli import run, write_csv

from sklearn_tanhnet import TanhNetRegressor, trusted_types
from sklearn_tanhnet._persistence import sniff_format

RNG = np.random.RandomState(2)
X = RNG.uniform(-1, 1, size=(40, 3))
Y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * RNG.normal(size=40)
FIT_OPTIONS = ["--hidden", "2", "--max-iter", "20", "--no-plot"]


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    rows = [[repr(v) for v in (*x, y)] for x, y in zip(X.tolist(), Y.tolist())]
    return write_csv(tmp_path_factory.mktemp("data") / "data.csv", [*"abc", "y"], rows)


def fit_cli(data_csv, output):
    rc, _, err = run(
        ["fit", data_csv, "--target", "y", *FIT_OPTIONS, "--output", output]
    )
    assert rc == 0, err
    return output


def predict_cli(model, data_csv, *flags):
    """``tanhnet predict``: exit status, the predictions (or None), stderr."""
    rc, out, err = run(["predict", model, data_csv, *flags])
    values = np.array([float(v) for v in out.split()[1:]]) if rc == 0 else None
    return rc, values, err


def assert_refused(rc, err, *fragments):
    assert rc == 2
    assert err.startswith("tanhnet predict: error: refusing to load ")
    assert err.count("\n") == 1 and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


# --- malicious files ------------------------------------------------------------


class _Payload:
    """Unpickles by calling ``exec`` on code that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def malicious_pickle(path, marker, compress=0):
    joblib.dump({"format": "x", "estimator": _Payload(marker)}, path, compress=compress)
    return path


# skops calls a ConstructorFromReduceNode's type with the node's arguments:
# trusted, ``os.system`` or ``builtins.eval`` there would run the payload.
PAYLOADS = {
    "os.system": lambda marker: f"touch {shlex.quote(str(marker))}",
    "builtins.eval": lambda marker: f"open({str(marker)!r}, 'w').close()",
}


def malicious_skops(path, marker, function, genuine):
    """``genuine`` (a skops model file) with its target name replaced by a call."""
    with zipfile.ZipFile(genuine) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    module, name = function.rsplit(".", 1)
    argument = json.dumps(PAYLOADS[function](marker))
    schema["content"]["target"] = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "JsonNode",
                    "content": argument,
                    "is_json": True,
                    "__id__": 1,
                }
            ],
            "__id__": 2,
        },
        "__id__": 3,
    }
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


@pytest.fixture(scope="module")
def skops_model(data_csv):
    """A model file written by ``tanhnet fit`` (default format)."""
    return fit_cli(data_csv, data_csv.parent / "model.skops")


@pytest.fixture(scope="module")
def joblib_model(data_csv):
    return fit_cli(data_csv, data_csv.parent / "model.joblib")


def test_the_crafted_files_run_their_payload_when_loaded_unsafely(
    tmp_path, skops_model
):
    """Without this, the refusals below could pass on harmless files."""
    marker = tmp_path / "pickle_ran"
    joblib.load(malicious_pickle(tmp_path / "evil.joblib", marker))
    assert marker.exists()
    for function in PAYLOADS:
        marker = tmp_path / f"{function}_ran"
        path = malicious_skops(tmp_path / "evil.skops", marker, function, skops_model)
        sio.load(path, trusted=[function, *trusted_types()])
        assert marker.exists()


@pytest.mark.parametrize("name", ["evil.joblib", "evil.pkl", "evil.skops"])
@pytest.mark.parametrize("compress", [0, 3])
def test_predict_refuses_a_pickle_whatever_its_name(name, compress, tmp_path, data_csv):
    marker = tmp_path / "ran"
    path = malicious_pickle(tmp_path / name, marker, compress=compress)
    rc, _, err = predict_cli(path, data_csv)
    assert_refused(rc, err, "joblib/pickle file", "--trust-pickle", "skops")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["evil.skops", "evil.joblib"])
@pytest.mark.parametrize("function", list(PAYLOADS))
@pytest.mark.parametrize("flags", [[], ["--trust-pickle"]])
def test_predict_refuses_a_skops_file_naming_an_untrusted_function(
    name, function, flags, tmp_path, data_csv, skops_model
):
    """--trust-pickle is about pickles: a skops file is still audited."""
    marker = tmp_path / "ran"
    path = malicious_skops(tmp_path / name, marker, function, skops_model)
    rc, _, err = predict_cli(path, data_csv, *flags)
    assert_refused(rc, err, f"untrusted type(s) {function} ")
    assert not marker.exists()


def _activation(Z):
    return Z / (1 + abs(Z))


@pytest.mark.parametrize(
    "activation, name",
    [(np.tanh, "numpy.tanh"), (_activation, "test_model_files._activation")],
)
def test_predict_refuses_a_callable_activation(activation, name, tmp_path, data_csv):
    # numpy.tanh is trusted by skops itself: the refusal is ours, by name.
    est = TanhNetRegressor((2,), activation=activation, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    sio.dump(est, tmp_path / "callable.skops")
    data = write_csv(tmp_path / "x.csv", ["a", "b", "c"], X.tolist())
    rc, _, err = predict_cli(tmp_path / "callable.skops", data)
    assert_refused(rc, err, f"callable activation ({name})", "--trust-pickle")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"PK\x03\x04 truncated", "not a valid skops file: BadZipFile"),
        ("empty zip", "not a valid skops file: KeyError"),
    ],
)
def test_predict_reports_a_broken_skops_file(content, message, tmp_path, data_csv):
    path = tmp_path / "broken.skops"
    if content == "empty zip":
        zipfile.ZipFile(path, "w").close()
    else:
        path.write_bytes(content)
    rc, _, err = predict_cli(path, data_csv)
    assert rc == 2 and err.count("\n") == 1
    assert f"{path} is not a model file written by 'tanhnet fit'" in err
    assert message in err


# --- genuine files --------------------------------------------------------------


def test_fit_writes_skops_by_default_and_predict_loads_it_without_a_flag(
    data_csv, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(["fit", data_csv, "--target", "y", *FIT_OPTIONS])
    assert rc == 0, err
    assert "Saved the model to model.skops" in out
    assert sniff_format("model.skops") == "skops"
    assert sio.get_untrusted_types(file="model.skops") != []
    rc, values, err = predict_cli("model.skops", data_csv)
    assert rc == 0, err
    est = sio.load("model.skops", trusted=trusted_types())["estimator"]
    np.testing.assert_array_equal(values, est.predict(X))


@pytest.mark.parametrize("suffix", [".pkl", ".pickle", ".JOBLIB"])
def test_fit_writes_joblib_for_pickle_names(suffix, data_csv, tmp_path):
    path = fit_cli(data_csv, tmp_path / f"model{suffix}")
    assert sniff_format(path) == "pickle"
    assert joblib.load(path)["target"] == "y"


def test_trust_pickle_loads_a_genuine_joblib_model(joblib_model, data_csv, tmp_path):
    rc, _, err = predict_cli(joblib_model, data_csv)
    assert_refused(rc, err, "pass --trust-pickle if you trust this file")
    rc, values, err = predict_cli(joblib_model, data_csv, "--trust-pickle")
    assert rc == 0, err
    np.testing.assert_array_equal(
        values, joblib.load(joblib_model)["estimator"].predict(X)
    )
    # Renamed, it is still a pickle.
    renamed = tmp_path / "model.skops"
    renamed.write_bytes(joblib_model.read_bytes())
    assert_refused(*predict_cli(renamed, data_csv)[::2], "joblib/pickle file")


def test_a_skops_file_named_joblib_loads_as_skops(skops_model, data_csv, tmp_path):
    renamed = tmp_path / "model.joblib"
    renamed.write_bytes(skops_model.read_bytes())
    rc, values, err = predict_cli(renamed, data_csv)
    assert rc == 0, err
    _, expected, _ = predict_cli(skops_model, data_csv)
    np.testing.assert_array_equal(values, expected)


# --- the trusted types ----------------------------------------------------------

X_SPARSE = sparse.csr_matrix(np.where(np.abs(X) < 0.4, 0.0, X))
Y_TWO = np.c_[Y, X[:, 0] * X[:, 2]]

# Every kind of fitted state: each solver, ensembles, restarts, ARD, deferred
# statistics (unused and resolved), float32 and sparse X, two outputs, early
# stopping, no residual degrees of freedom, no statistics, statistics in the
# residual space.
MATRIX = {
    "least_squares": ({}, X, Y),
    "adam": (dict(solver="adam", learning_rate=0.02), X, Y),
    "restarts": (dict(n_starts=2, combine="best"), X, Y),
    "ensemble": (dict(n_starts=2), X, Y),
    "adam-ensemble": (dict(solver="adam", n_starts=2), X, Y),
    "ard": (dict(ard=True), X, Y),
    "lazy": (dict(uncertainty="lazy"), X, Y),
    "lazy-resolved": (dict(uncertainty="lazy"), X, Y),
    "lazy-ensemble": (dict(uncertainty="lazy", n_starts=2), X, Y),
    "off": (dict(uncertainty="off"), X, Y),
    "float32": ({}, X.astype(np.float32), Y.astype(np.float32)),
    "sparse": ({}, X_SPARSE, Y),
    "sparse-lazy": (dict(uncertainty="lazy"), X_SPARSE, Y),
    "sparse-adam-lazy": (dict(solver="adam", uncertainty="lazy"), X_SPARSE, Y),
    "two-outputs": ({}, X, Y_TWO),
    "early-stopping": (dict(early_stopping=True), X, Y),
    "adam-early-stopping": (dict(solver="adam", early_stopping=True), X, Y),
    "no-dof": (dict(hidden_layer_sizes=(5,), alpha=0.0), X[:4], Y[:4]),
    "huber": (dict(loss="huber"), X, Y),
    "auto-width": ({}, X, Y),  # its per-width log evidence: no tuple-keyed dict
    # Fewer residuals than parameters, P x P beyond the budget: the residual form.
    "wide-residual": (dict(memory_budget=1e-5), X[:8], Y[:8]),
}


@pytest.fixture(scope="module")
def matrix_files(tmp_path_factory):
    """Each MATRIX case fitted, saved with skops: ``{case: (estimator, path)}``."""
    folder = tmp_path_factory.mktemp("matrix")
    files = {}
    for case, (params, X_fit, y_fit) in MATRIX.items():
        params = {"hidden_layer_sizes": (3,), "max_iter": 30, **params}
        if case == "auto-width":
            params["hidden_layer_sizes"] = "auto"
        est = TanhNetRegressor(random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X_fit, y_fit)
        if case == "lazy-resolved":
            est.predict(X[:2], return_std=True)
        sio.dump(est, folder / f"{case}.skops")
        files[case] = est, folder / f"{case}.skops"
    return files


def test_trusted_types_are_all_and_only_what_saved_models_hold(matrix_files):
    needed = set()
    for case, (_, path) in matrix_files.items():
        untrusted = set(sio.get_untrusted_types(file=path))
        assert untrusted <= set(trusted_types()), case
        needed |= untrusted
    assert needed == set(trusted_types())


@pytest.mark.parametrize("case", list(MATRIX))
def test_every_kind_of_model_loads_in_python_and_in_predict(
    case, matrix_files, tmp_path
):
    est, path = matrix_files[case]
    loaded = sio.load(path, trusted=trusted_types())
    X_new = X[:10]
    np.testing.assert_array_equal(loaded.predict(X_new), est.predict(X_new))
    data = write_csv(tmp_path / "x.csv", ["a", "b", "c"], X_new.tolist())
    rc, out, err = run(["predict", path, data])
    assert rc == 0, err
    values = np.array([line.split(",") for line in out.split()[1:]], dtype=float)
    expected = est.predict(X_new).reshape(len(X_new), -1)
    np.testing.assert_allclose(values, expected, rtol=1e-6)
