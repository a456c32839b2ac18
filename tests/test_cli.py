"""The ``tanhnet fit`` / ``tanhnet predict`` command line, end to end on CSV files."""

import contextlib
import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.model_selection import KFold, cross_val_score

from sklearn_tanhnet import TanhNetRegressor, trusted_types
from sklearn_tanhnet.__main__ import main

RNG = np.random.RandomState(0)
X = RNG.uniform(-1, 1, size=(40, 3))
Y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * RNG.normal(size=40)
# The target sits between the features: every other column is a feature.
HEADER = ["temp", "pressure", "yield", "noise"]
FEATURES = ["temp", "pressure", "noise"]
FIT_OPTIONS = ["--hidden", "4", "--max-iter", "100"]


def expected_estimator():
    return TanhNetRegressor((4,), max_iter=100, random_state=0)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def read_csv(path_or_text):
    text = (
        Path(path_or_text).read_text()
        if isinstance(path_or_text, Path)
        else (path_or_text)
    )
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, np.array(rows, dtype=float)


def load(path):
    """A skops model file, trusting only the package's types."""
    return sio.load(path, trusted=trusted_types())


def run(argv):
    """``main(argv)`` in-process: exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    rows = [[repr(float(v)) for v in (x[0], x[1], y, x[2])] for x, y in zip(X, Y)]
    return write_csv(tmp_path_factory.mktemp("data") / "data.csv", HEADER, rows)


@pytest.fixture(scope="module")
def fitted(data_csv):
    """One ``tanhnet fit`` run shared by the tests that read its results."""
    folder = data_csv.parent
    model, plot = folder / "model.skops", folder / "fit.png"
    argv = ["fit", data_csv, "--target", "yield", *FIT_OPTIONS]
    rc, out, err = run([*argv, "--output", model, "--plot", plot])
    return {"rc": rc, "out": out, "err": err, "model": model, "plot": plot}


# --- fit ----------------------------------------------------------------------


def test_fit_prints_cross_validated_r2(fitted):
    assert fitted["rc"] == 0, fitted["err"]
    scores = cross_val_score(
        expected_estimator(), X, Y, cv=KFold(5, shuffle=True, random_state=0)
    )
    line = f"5-fold CV R^2, mean over folds: {scores.mean():.4f} ± {scores.std():.4f}"
    assert line in fitted["out"]
    assert scores.mean() > 0.9


def test_fit_prints_the_diagnostics_of_the_full_fit(fitted):
    pd = pytest.importorskip("pandas")
    named = pd.DataFrame(X, columns=FEATURES)
    diagnostics = expected_estimator().fit(named, Y).diagnose(named, Y)
    full = str(diagnostics).split("\n")
    heading = full.index("  Hessian eigenvalues / largest:")
    # Every line but the eigenvalue list, which one line summarises.
    before, after = full[:heading], full[heading + 1 :]
    after = after[next(i for i, line in enumerate(after) if line[:4] != "    ") :]
    h = diagnostics.hessian_eigenvalues
    summary = (
        f"  Hessian eigenvalues     {h.size}: largest {h[0]:.3e}, smallest "
        f"{h[-1]:.3e}, {int(np.sum(h < -1e-6 * h[0]))} negative (below -1e-06 x "
        "largest)"
    )
    hint = "  (--verbose lists every Hessian eigenvalue)"
    assert "\n".join([*before, summary, *after, hint]) in fitted["out"]
    assert diagnostics.report("summary") == "\n".join([*before, summary, *after])
    assert re.search(r"Fit on all 40 rows: training R\^2 0\.9\d+", fitted["out"])


def test_fit_saves_model_with_feature_and_target_names(fitted):
    saved = load(fitted["model"])
    assert saved["feature_names"] == FEATURES
    assert saved["target"] == "yield"
    # The CSV holds the exact floats, so the fit is the same fit.
    np.testing.assert_array_equal(
        saved["estimator"].predict(X), expected_estimator().fit(X, Y).predict(X)
    )


def test_fit_writes_a_png(fitted):
    assert fitted["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_passes_options_to_the_estimator(data_csv, tmp_path):
    model = tmp_path / "adam.skops"
    rc, out, err = run(
        [
            "fit",
            data_csv,
            "--target",
            "yield",
            "--hidden",
            "3",
            "2",
            "--solver",
            "adam",
            "--alpha",
            "0.01",
            "--learning-rate",
            "0.02",
            "--max-iter",
            "20",
            "--tol",
            "0.001",
            "--random-state",
            "3",
            "--output",
            model,
            "--no-plot",
        ]
    )
    assert rc == 0, err
    params = load(model)["estimator"].get_params()
    expected = dict(hidden_layer_sizes=(3, 2), solver="adam", alpha=0.01)
    expected.update(learning_rate=0.02, max_iter=20, tol=0.001, random_state=3)
    assert {k: params[k] for k in expected} == expected
    # 20 adam epochs stop at max_iter: said once per context on stderr.
    assert "warning (5-fold cross-validation) (5 times): adam stopped" in err
    assert "warning (fit on all rows): adam stopped" in err
    assert not list(tmp_path.glob("*.png"))


# --- predict ------------------------------------------------------------------


def new_data(tmp_path):
    """Features in another order, plus an ID column the model does not use."""
    rows = [[f"s{i}", *map(repr, x[[2, 0, 1]].tolist())] for i, x in enumerate(X)]
    return write_csv(tmp_path / "new.csv", ["id", "noise", "temp", "pressure"], rows)


def test_predict_writes_the_models_predictions(fitted, tmp_path):
    out = tmp_path / "predictions.csv"
    rc, _, err = run(["predict", fitted["model"], new_data(tmp_path), "--output", out])
    assert rc == 0, err
    header, values = read_csv(out)
    assert header == ["prediction"]
    est = load(fitted["model"])["estimator"]
    np.testing.assert_array_equal(values[:, 0], est.predict(X))


def test_predict_interval_to_stdout(fitted, tmp_path):
    argv = ["predict", fitted["model"], new_data(tmp_path), "--interval", "0.9"]
    rc, out, err = run(argv)
    assert rc == 0, err
    header, values = read_csv(out)
    assert header == ["prediction", "lower", "upper"]
    est = load(fitted["model"])["estimator"]
    lower, upper = est.predict_interval(X, confidence=0.9)
    np.testing.assert_array_equal(values, np.c_[est.predict(X), lower, upper])
    assert np.all(values[:, 1] < values[:, 0]) and np.all(values[:, 0] < values[:, 2])


def test_predict_with_an_estimator_saved_from_python(tmp_path):
    """A bare fitted TanhNetRegressor works too: by column order, or by name."""
    est = expected_estimator().fit(X, Y)
    sio.dump(est, tmp_path / "bare.skops")
    data = write_csv(tmp_path / "x.csv", ["a", "b", "c"], X.tolist())
    rc, out, err = run(["predict", tmp_path / "bare.skops", data])
    assert rc == 0, err
    np.testing.assert_array_equal(read_csv(out)[1][:, 0], est.predict(X))

    pd = pytest.importorskip("pandas")
    named = expected_estimator().fit(pd.DataFrame(X, columns=FEATURES), Y)
    sio.dump(named, tmp_path / "named.skops")
    rc, out, err = run(["predict", tmp_path / "named.skops", new_data(tmp_path)])
    assert rc == 0, err
    expected = named.predict(pd.DataFrame(X, columns=FEATURES))
    np.testing.assert_array_equal(read_csv(out)[1][:, 0], expected)


def test_predict_with_a_two_output_estimator(tmp_path):
    Y2 = np.c_[Y, X[:, 0] * X[:, 1]]
    est = expected_estimator().fit(X, Y2)
    sio.dump(est, tmp_path / "two.skops")
    data = write_csv(tmp_path / "x.csv", ["a", "b", "c"], X.tolist())
    rc, out, err = run(["predict", tmp_path / "two.skops", data, "--interval", "0.8"])
    assert rc == 0, err
    header, values = read_csv(out)
    assert header == [
        "prediction_0",
        "prediction_1",
        "lower_0",
        "upper_0",
        "lower_1",
        "upper_1",
    ]
    lower, upper = est.predict_interval(X, confidence=0.8)
    np.testing.assert_array_equal(values[:, :2], est.predict(X))
    np.testing.assert_array_equal(values[:, [2, 4]], lower)
    np.testing.assert_array_equal(values[:, [3, 5]], upper)


# --- errors -------------------------------------------------------------------


def _files(tmp_path):
    """Bad inputs, by name."""
    files = {
        "empty": "",
        "header_only": "a,b\n",
        "non_numeric": "a,b\n1,2\n3,4\n5,abc\n",
        "missing_value": "a,b\n1,2\n3,\n",
        "infinite": "a,b\n1,2\n3,inf\n",
        "ragged": "a,b,c\n1,2,3\n4,5\n",
        "no_header": "1,2\n3,4\n",
        "one_row": "a,b\n1,2\n",
        "gappy": "a,b\n1,\n,4\n5,6\n",
        "one_column": "a\n1\n2\n3\n4\n5\n6\n",
        "text_model": "not a model\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text)
    from sklearn.linear_model import Ridge

    # skops trusts scikit-learn's estimators: the file loads, the type is wrong.
    paths["ridge_model"] = tmp_path / "ridge.skops"
    sio.dump(Ridge().fit(X, Y), paths["ridge_model"])
    paths["unfitted_model"] = tmp_path / "unfitted.skops"
    sio.dump(TanhNetRegressor(), paths["unfitted_model"])
    paths["no_dof_model"] = tmp_path / "no_dof.skops"
    no_dof = TanhNetRegressor((5,), alpha=0.0, random_state=0).fit(X[:4], Y[:4])
    sio.dump(no_dof, paths["no_dof_model"])
    paths["three_columns"] = write_csv(tmp_path / "x.csv", ["a", "b", "c"], X.tolist())
    paths["dict_model"] = tmp_path / "dict.skops"
    sio.dump({"coefs": [1, 2]}, paths["dict_model"])
    return paths


ERRORS = {
    "fit_missing_file": (["fit", "{tmp}/nope.csv", "--target", "y"], "no such file"),
    "fit_missing_column": (
        ["fit", "{data}", "--target", "y"],
        "column 'y' not found in {data}; available columns: temp, pressure, "
        "yield, noise",
    ),
    "non_numeric": (
        ["fit", "{non_numeric}", "--target", "a"],
        "non-numeric value 'abc' in column 'b' at line 4 of {non_numeric}",
    ),
    "missing_value": (
        ["fit", "{missing_value}", "--target", "a"],
        "missing value in column 'b' at line 3",
    ),
    "infinite": (
        ["fit", "{infinite}", "--target", "a"],
        "non-finite value 'inf' in column 'b' at line 3",
    ),
    "empty_csv": (["fit", "{empty}", "--target", "a"], "{empty} is empty"),
    "header_only": (["fit", "{header_only}", "--target", "a"], "no data rows"),
    "ragged": (["fit", "{ragged}", "--target", "a"], "line 3 of {ragged} has 2 fields"),
    "no_header": (
        ["fit", "{no_header}", "--target", "y"],
        "available columns: 1, 2 (the first line looks like data",
    ),
    "one_row": (["fit", "{one_row}", "--target", "a"], "a fit needs at least 2"),
    "drop_missing_column": (
        ["fit", "{data}", "--target", "yield", "--drop", "nope"],
        "column 'nope' not found in {data}",
    ),
    "drop_the_target": (
        ["fit", "{data}", "--target", "yield", "--drop", "yield"],
        "--drop yield: it is the target (--target)",
    ),
    "drop_every_feature": (
        ["fit", "{one_column}", "--target", "a", "--drop", "a"],
        "--drop a: it is the target",
    ),
    "dropna_leaves_one_row": (
        ["fit", "{gappy}", "--target", "a", "--dropna"],
        "{gappy} has 1 data row(s) left: a fit needs at least 2",
    ),
    "only_target": (
        ["fit", "{one_column}", "--target", "a"],
        "{one_column} has no feature columns besides 'a'",
    ),
    "unwritable_output": (
        ["fit", "{data}", "--target", "yield", "--output", "{tmp}/no/m.skops"],
        "cannot write {tmp}/no/m.skops: its directory does not exist",
    ),
    "predict_missing_model": (
        ["predict", "{tmp}/nope.skops", "{data}"],
        "no such file: {tmp}/nope.skops",
    ),
    "predict_missing_data": (
        ["predict", "{model}", "{tmp}/nope.csv"],
        "no such file: {tmp}/nope.csv",
    ),
    "model_not_a_pickle": (
        ["predict", "{text_model}", "{data}"],
        "is not a model file written by 'tanhnet fit'",
    ),
    "model_is_ridge": (
        ["predict", "{ridge_model}", "{data}"],
        "holds a sklearn.linear_model._ridge.Ridge, not a TanhNetRegressor",
    ),
    "model_is_a_dict": (
        ["predict", "{dict_model}", "{data}"],
        "holds a builtins.dict, not a TanhNetRegressor",
    ),
    "model_unfitted": (
        ["predict", "{unfitted_model}", "{data}"],
        "holds a TanhNetRegressor that is not fitted",
    ),
    "predict_wrong_column_count": (
        ["predict", "{no_dof_model}", "{data}"],
        "the model has no feature names and expects 3 columns; {data} has 4",
    ),
    "no_interval": (
        ["predict", "{no_dof_model}", "{three_columns}", "--interval", "0.9"],
        "cannot compute --interval: Uncertainty is not available",
    ),
    "predict_missing_features": (
        ["predict", "{model}", "{non_numeric}"],
        "columns 'temp', 'pressure', 'noise' not found in {non_numeric}; "
        "available columns: a, b",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_user_errors_exit_2_with_one_line(case, tmp_path, data_csv, fitted):
    argv, message = ERRORS[case]
    names = {k: str(v) for k, v in _files(tmp_path).items()}
    names.update(tmp=str(tmp_path), data=str(data_csv), model=str(fitted["model"]))
    rc, out, err = run([a.format(**names) for a in argv])
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    command = argv[0]
    assert err.startswith(f"tanhnet {command}: error: ")
    assert message.format(**names) in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--alpha", "-1"], "argument --alpha: expected a number >= 0, got '-1'"),
        (["--hidden", "0"], "argument --hidden: expected a positive integer"),
        (["--solver", "lbfgs"], "argument --solver: invalid choice"),
    ],
)
def test_bad_options_are_usage_errors(argv, message, data_csv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(data_csv), "--target", "yield", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_predict_rejects_confidence_outside_0_1(fitted, data_csv, capsys):
    with pytest.raises(SystemExit):
        main(["predict", str(fitted["model"]), str(data_csv), "--interval", "95"])
    assert "expected a number between 0 and 1" in capsys.readouterr().err


# --- entry points -------------------------------------------------------------


def test_demo_stays_the_default_command(monkeypatch):
    calls = []
    monkeypatch.setattr("sklearn_tanhnet._demo.run_demo", lambda **kw: calls.append(kw))
    assert main([]) == 0
    assert main(["demo", "--output", "x.png", "--random-state", "3"]) == 0
    assert calls == [
        {"output": "tanhnet_demo.png", "random_state": 0},
        {"output": "x.png", "random_state": 3},
    ]


def _entry_point():
    """The installed ``tanhnet`` script, else ``python -m sklearn_tanhnet``."""
    script = Path(sys.executable).with_name("tanhnet")
    # PYTHONPATH (see _checkout_env) makes the script import this checkout.
    return (
        [str(script)] if script.exists() else [sys.executable, "-m", "sklearn_tanhnet"]
    )


def _checkout_env():
    """The environment, with this checkout's package first on the path."""
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def test_console_script_fit_and_predict(data_csv, tmp_path):
    model = tmp_path / "model.skops"
    argv = ["fit", data_csv, "--target", "yield", *FIT_OPTIONS, "--output", model]
    res = subprocess.run(
        [*_entry_point(), *map(str, argv), "--plot", str(tmp_path / "fit.png")],
        capture_output=True,
        encoding="utf-8",
        env={**_checkout_env(), "PYTHONIOENCODING": "utf-8"},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "5-fold CV R^2, mean over folds" in res.stdout
    assert "TanhNet diagnostics" in res.stdout
    assert (tmp_path / "fit.png").exists()


def test_python_dash_m_reports_errors_without_traceback(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "sklearn_tanhnet", "predict", "nope.skops", "x.csv"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr == "tanhnet predict: error: no such file: nope.skops\n"


# --- pipes and outputs ----------------------------------------------------------


def test_predict_into_a_pipe_closed_early_exits_0_quietly(fitted, tmp_path):
    """``tanhnet predict ... | head -1``: more output than a pipe buffers."""
    data = tmp_path / "many.csv"
    many = np.tile(X, (500, 1))  # 20000 rows, several pipe buffers of output
    np.savetxt(data, many, delimiter=",", header="temp,pressure,noise", comments="")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sklearn_tanhnet", "predict", fitted["model"], data],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_checkout_env(),
    )
    assert proc.stdout.readline() == b"prediction\n"
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


def _never_fit(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("fitted before checking the outputs")

    monkeypatch.setattr("sklearn_tanhnet._cli._fit_and_cross_validate", fail)


@pytest.mark.parametrize(
    "where, message",
    [
        ("directory", "cannot write --output {tmp}: it is a directory"),
        ("missing_directory", "cannot write {tmp}/no/m.skops: its directory does"),
        ("sys", "cannot write --output /sys/m.skops: "),
    ],
)
def test_fit_refuses_an_unwritable_output_before_fitting(
    where, message, data_csv, tmp_path, monkeypatch
):
    _never_fit(monkeypatch)
    output = {
        "directory": tmp_path,
        "missing_directory": tmp_path / "no" / "m.skops",
        "sys": "/sys/m.skops",
    }[where]
    rc, out, err = run(["fit", data_csv, "--target", "yield", "--output", output])
    assert (rc, out) == (2, "")
    assert err.count("\n") == 1
    assert message.format(tmp=tmp_path) in err
    assert list(tmp_path.iterdir()) == []


def test_fit_refuses_a_plot_type_matplotlib_cannot_write_before_fitting(
    data_csv, tmp_path, monkeypatch
):
    _never_fit(monkeypatch)
    plot = tmp_path / "fit.jpgx"
    argv = ["fit", data_csv, "--target", "yield", "--output", tmp_path / "m.skops"]
    rc, out, err = run([*argv, "--plot", plot])
    assert (rc, out) == (2, "")
    assert err.startswith(
        f"tanhnet fit: error: cannot write --plot {plot}: unsupported file type "
        "'.jpgx'; use one of "
    )
    assert err.count("\n") == 1 and ".png" in err and ".pdf" in err
    assert list(tmp_path.iterdir()) == []


def test_fit_adds_png_to_a_plot_name_without_extension_and_says_so(data_csv, tmp_path):
    plot = tmp_path / "fitplot"
    argv = ["fit", data_csv, "--target", "yield", *FIT_OPTIONS]
    rc, out, err = run([*argv, "--output", tmp_path / "m.skops", "--plot", plot])
    assert rc == 0, err
    assert f"Wrote {plot}.png\n" in out
    assert Path(f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plot.exists()


def test_predict_refuses_an_unwritable_output_before_predicting(fitted, tmp_path):
    argv = ["predict", fitted["model"], tmp_path / "nope.csv", "--output", tmp_path]
    rc, out, err = run(argv)
    assert (rc, out) == (2, "")
    assert f"cannot write --output {tmp_path}: it is a directory" in err


# --- tiny data --------------------------------------------------------------------


def tiny_csv(tmp_path, n_rows):
    rows = [[repr(float(v)) for v in (x[0], x[1], y, x[2])] for x, y in zip(X, Y)]
    return write_csv(tmp_path / "tiny.csv", HEADER, rows[:n_rows])


@pytest.mark.parametrize("n_rows, n_folds", [(6, 3), (7, 3), (9, 4)])
def test_fit_on_6_to_9_rows_cross_validates_in_folds_of_two_rows_or_more(
    n_rows, n_folds, tmp_path
):
    argv = ["fit", tiny_csv(tmp_path, n_rows), "--target", "yield", *FIT_OPTIONS]
    rc, out, err = run([*argv, "--output", tmp_path / "m.skops", "--no-plot"])
    assert rc == 0, err
    folds = KFold(n_folds, shuffle=True, random_state=0)
    scores = cross_val_score(expected_estimator(), X[:n_rows], Y[:n_rows], cv=folds)
    assert np.isfinite(scores).all()
    assert f"{n_folds}-fold CV R^2, mean over folds: {scores.mean():.4f}" in out
    assert f"{n_folds}-fold CV R^2, pooled out-of-fold predictions: " in out


@pytest.mark.parametrize("n_rows", [2, 5])
def test_fit_on_fewer_than_6_rows_skips_cross_validation_and_says_why(n_rows, tmp_path):
    argv = ["fit", tiny_csv(tmp_path, n_rows), "--target", "yield", *FIT_OPTIONS]
    rc, out, err = run(
        [*argv, "--output", tmp_path / "m.skops", "--plot", tmp_path / "f.png"]
    )
    assert rc == 0, err
    assert (
        f"Cross-validation skipped: {n_rows} rows are too few; it needs 6, for 3 "
        "folds of 2 test rows (the fewest R^2 can score).\n"
    ) in out
    assert "CV R^2" not in out
    assert f"Fit on all {n_rows} rows: training R^2" in out
    assert (tmp_path / "f.png").exists()


# --- names and eigenvalues ----------------------------------------------------------


def test_fit_names_the_inputs_by_the_csv_header(fitted):
    assert fitted["rc"] == 0, fitted["err"]
    relevance = fitted["out"].split("inputs by relevance")[1].split("\n")[1:4]
    assert sorted(line.split()[0] for line in relevance) == sorted(FEATURES)
    assert not re.search(r"\bx\d+\b", fitted["out"])
    assert list(load(fitted["model"])["estimator"].feature_names_in_) == FEATURES


def test_fit_verbose_prints_every_hessian_eigenvalue(data_csv, tmp_path):
    argv = ["fit", data_csv, "--target", "yield", *FIT_OPTIONS, "--verbose"]
    rc, out, err = run([*argv, "--output", tmp_path / "m.skops", "--no-plot"])
    assert rc == 0, err
    pd = pytest.importorskip("pandas")
    named = pd.DataFrame(X, columns=FEATURES)
    assert str(expected_estimator().fit(named, Y).diagnose(named, Y)) in out
    assert "--verbose lists every Hessian eigenvalue" not in out


# --- --drop and --dropna ------------------------------------------------------------


def test_fit_drop_leaves_a_text_column_out(tmp_path):
    rows = [
        [f"s{i}", *(repr(float(v)) for v in (x[0], x[1], y, x[2]))]
        for i, (x, y) in enumerate(zip(X, Y))
    ]
    data = write_csv(tmp_path / "ids.csv", ["id", *HEADER], rows)
    argv = ["fit", data, "--target", "yield", *FIT_OPTIONS, "--no-plot"]
    rc, _, err = run([*argv, "--output", tmp_path / "m.skops"])
    assert rc == 2 and "non-numeric value 's0' in column 'id'" in err
    rc, out, err = run([*argv, "--output", tmp_path / "m.skops", "--drop", "id"])
    assert rc == 0, err
    saved = load(tmp_path / "m.skops")
    assert saved["feature_names"] == FEATURES
    np.testing.assert_array_equal(
        saved["estimator"].predict(X), expected_estimator().fit(X, Y).predict(X)
    )


def test_fit_dropna_leaves_out_rows_with_an_empty_cell(tmp_path):
    rows = [[repr(float(v)) for v in (x[0], x[1], y, x[2])] for x, y in zip(X, Y)]
    rows[3][0] = ""  # a feature
    rows[7][2] = " "  # the target
    data = write_csv(tmp_path / "gaps.csv", HEADER, rows)
    argv = ["fit", data, "--target", "yield", *FIT_OPTIONS, "--no-plot"]
    rc, _, err = run([*argv, "--output", tmp_path / "m.skops"])
    assert rc == 2 and "missing value in column 'temp' at line 5" in err
    rc, out, err = run([*argv, "--output", tmp_path / "m.skops", "--dropna"])
    assert rc == 0, err
    assert "Left out 2 row(s) with an empty cell (--dropna)\n" in out
    keep = np.setdiff1d(np.arange(len(X)), [3, 7])
    expected = expected_estimator().fit(X[keep], Y[keep]).predict(X)
    np.testing.assert_array_equal(
        load(tmp_path / "m.skops")["estimator"].predict(X), expected
    )


def test_a_numeric_file_reads_the_same_by_numpys_parser_as_cell_by_cell(tmp_path):
    from sklearn_tanhnet._cli import read_csv

    rng = np.random.RandomState(0)
    values = rng.normal(size=(50, 3)) * 10.0 ** rng.randint(-5, 6, size=(50, 3))
    lines = ["a,b,c", *(",".join(repr(float(v)) for v in row) for row in values)]
    fast = tmp_path / "fast.csv"
    fast.write_text("\n".join(lines) + "\n")
    # A blank line sends the file to the cell-by-cell reader.
    slow = tmp_path / "slow.csv"
    slow.write_text("\n".join([lines[0], "", *lines[1:]]) + "\n")
    fast_table, slow_table = read_csv(fast), read_csv(slow)
    assert fast_table.values is not None and slow_table.values is None
    np.testing.assert_array_equal(fast_table.numeric(["c", "a"]), values[:, [2, 0]])
    np.testing.assert_array_equal(slow_table.numeric(["c", "a"]), values[:, [2, 0]])
    assert fast_table.lines == list(range(2, 52))
    assert slow_table.lines == list(range(3, 53))
