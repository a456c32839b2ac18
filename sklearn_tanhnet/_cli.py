"""The ``tanhnet`` command line: ``demo``, ``fit`` and ``predict``.

CSV files are read with the standard library's :mod:`csv` module (a header row
naming the columns, numeric values), so the command line needs no pandas: UTF-8
or, with a byte-order mark, UTF-16 text, delimited by commas, semicolons or
tabs (whichever splits the header into the most fields). User
errors (a missing file or column, a non-numeric value, a file that is not a
model) raise :class:`CLIError`; :func:`main` prints its message as one line on
stderr and returns exit status 2.

Models are saved with skops, whose files load only the types
:func:`~sklearn_tanhnet.trusted_types` lists; a joblib file is a pickle, which
runs code when loaded, so ``predict`` loads one only with ``--trust-pickle``.
The format is told by the file's first bytes, never by its name alone.
"""

import argparse
import codecs
import csv
import io
import math
import os
import re
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from ._estimator import TanhNetRegressor
from ._persistence import callable_activations, sniff_format, trusted_types

#: Marks a model file written by ``tanhnet fit``.
MODEL_FORMAT = "sklearn_tanhnet.cli.model/1"

#: ``tanhnet fit --output`` names that ask for a joblib file instead of skops.
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")

_DEFAULTS = TanhNetRegressor().get_params()


class CLIError(Exception):
    """A user error, reported as one line on stderr with exit status 2."""


# --- argument types ---------------------------------------------------------


def _number(kind, check, requirement):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text!r}")
        if not check(value):
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v > 0, "a positive integer")
_nonnegative_float = _number(
    float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0"
)


def _alpha(text):
    """``'auto'`` or a number >= 0."""
    return "auto" if text == "auto" else _nonnegative_float(text)


_positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a number > 0")
_probability = _number(float, lambda v: 0 < v < 1, "a number between 0 and 1")


def build_parser():
    """The ``tanhnet`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="tanhnet",
        description="Small tanh neural-network regression for scikit-learn.",
    )
    sub = parser.add_subparsers(dest="command")
    _add_demo_parser(sub)
    _add_fit_parser(sub)
    _add_predict_parser(sub)
    return parser


def _add_demo_parser(subparsers):
    demo = subparsers.add_parser(
        "demo",
        help="fit the lecture's y = x^(1/3) problem with both solvers, "
        "print a report and write a plot",
    )
    demo.add_argument(
        "--output",
        default="tanhnet_demo.png",
        help="PNG file to write (default: %(default)s)",
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")


def _add_fit_parser(subparsers):
    fit = subparsers.add_parser(
        "fit",
        help="fit a network to a CSV file, cross-validate, report and save it",
        description="Fit a TanhNetRegressor on every column of DATA except the "
        "target, print its 5-fold cross-validated R^2 and the diagnostics of "
        "the fit on all rows, save the model (skops) and a plot of predicted "
        "against actual values. Every test fold holds at least 2 rows, which "
        "R^2 needs: from 6 to 9 rows the folds are fewer (rows // 2); below "
        "6 rows the cross-validation is skipped, and only the fit on all rows "
        "is reported.",
    )
    fit.add_argument("data", help="CSV file with a header row and numeric columns")
    fit.add_argument(
        "--target",
        required=True,
        metavar="COLUMN",
        help="name of the column to predict",
    )
    fit.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="leave this column out of the features, e.g. a text or ID column "
        "(repeat for several)",
    )
    fit.add_argument(
        "--dropna",
        action="store_true",
        help="leave out the rows with an empty cell in the target or a feature "
        "(default: an empty cell is an error)",
    )
    _add_estimator_options(fit)
    fit.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="S",
        help="seed of the initial weights and of the folds (default: %(default)s)",
    )
    fit.add_argument(
        "--output",
        default="model.skops",
        help="model file to write (default: %(default)s): skops format, which "
        "'tanhnet predict' loads safely; a name ending in "
        f"{', '.join(PICKLE_SUFFIXES)} writes joblib (a pickle) instead",
    )
    fit.add_argument(
        "--verbose",
        action="store_true",
        help="print every Hessian eigenvalue in the diagnostics (default: "
        "their count, largest, smallest and how many are negative)",
    )
    plot = fit.add_mutually_exclusive_group()
    plot.add_argument(
        "--plot",
        default="fit.png",
        help="plot of predicted against actual values (default: %(default)s); "
        "the extension picks the format (.png, .pdf, .svg, ...), and a name "
        "without one gets .png",
    )
    plot.add_argument("--no-plot", action="store_true", help="write no plot")


def _add_estimator_options(fit):
    """The ``fit`` options that set TanhNetRegressor parameters."""
    fit.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        metavar="UNITS",
        help="units per hidden layer, e.g. --hidden 10 10 for two layers "
        "(default: a committee of one-hidden-layer networks whose widths grow "
        "with the rows, predicting with their mean)",
    )
    fit.add_argument(
        "--solver",
        choices=["least_squares", "adam"],
        help="least_squares: Gauss-Newton/Levenberg-Marquardt; adam: minibatch "
        f"gradient descent (default: {_DEFAULTS['solver']})",
    )
    fit.add_argument(
        "--alpha",
        type=_alpha,
        metavar="A",
        help="L2 penalty on the weights, a number >= 0 or 'auto' for "
        f"evidence-based penalties (default: {_DEFAULTS['alpha']})",
    )
    fit.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="LR",
        help=f"adam's step size (default: {_DEFAULTS['learning_rate']:g})",
    )
    fit.add_argument(
        "--tol",
        type=_nonnegative_float,
        metavar="TOL",
        help="stop when the objective improves by less than this, relative to "
        f"its scale (default: {_DEFAULTS['tol']:g})",
    )
    fit.add_argument(
        "--max-iter",
        type=_positive_int,
        metavar="N",
        help=f"iteration limit (default: {_DEFAULTS['max_iter']})",
    )


def _add_predict_parser(subparsers):
    predict = subparsers.add_parser(
        "predict",
        help="predict with a model saved by 'tanhnet fit'",
        description="Predict the target for every row of DATA with a model "
        "saved by 'tanhnet fit' and write the predictions as CSV. DATA needs "
        "the model's feature columns (by name, in any order); other columns "
        "are ignored. A skops model file loads only the types a "
        "TanhNetRegressor holds, and is refused if it names any other. "
        "A joblib or pickle file is refused unless --trust-pickle is given.",
    )
    predict.add_argument("model", help="model file written by 'tanhnet fit'")
    predict.add_argument(
        "--trust-pickle",
        action="store_true",
        help="load MODEL even if it is a joblib or pickle file. Loading a pickle "
        "runs any code it holds, before its content can be checked: pass this "
        "only for a file you trust (e.g. one you wrote yourself)",
    )
    predict.add_argument("data", help="CSV file with a header row")
    predict.add_argument(
        "--output",
        metavar="CSV",
        help="file to write the predictions to (default: standard output)",
    )
    predict.add_argument(
        "--interval",
        type=_probability,
        metavar="CONFIDENCE",
        help="also write the lower and upper bounds of the prediction interval "
        "at this confidence, e.g. 0.95 (delta method)",
    )


def main(argv=None):
    """Run the ``tanhnet`` command line; return the exit status."""
    args = build_parser().parse_args(argv)
    command = args.command or "demo"
    # Warnings no step reports itself come after the command's output, one
    # line each, and not at all after an error, which stays a single line.
    with warnings.catch_warnings(record=True) as caught:
        try:
            status = _COMMANDS[command](args)
            # A closed pipe shows here, not at exit where it cannot be caught.
            sys.stdout.flush()
        except CLIError as exc:
            message = " ".join(str(exc).split())
            print(f"tanhnet {command}: error: {message}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            # The reader left (``tanhnet predict ... | head -1``): stop writing
            # and exit 0, as Unix tools do, without a traceback.
            _discard_stdout()
            return 0
    _report_warnings(caught, command)
    return status


def _discard_stdout():
    """Point standard output at the null device, so that the interpreter's
    final flush of what is still buffered does not fail on the closed pipe."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (output captured in memory): nothing to flush
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


# --- outputs ------------------------------------------------------------------


def _check_writable(path, option):
    """Raise CLIError unless ``path`` can be written, before any work is done.

    The file is opened as the command will open it: for appending if it
    exists (its content stays), else created and removed again.
    """
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"cannot write {option} {path}: it is a directory")
    if not path.parent.is_dir():
        raise CLIError(f"cannot write {path}: its directory does not exist")
    try:
        if path.exists():
            open(path, "ab").close()
        else:
            open(path, "xb").close()
            path.unlink()
    except OSError as exc:
        raise CLIError(f"cannot write {option} {path}: {exc.strerror}") from None


def _plot_path(text):
    """The file ``--plot`` writes: ``text``, with ``.png`` added if it has no
    extension; raise CLIError if matplotlib cannot write its file type."""
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(text).suffix
    if not suffix:
        return f"{text}.png"
    supported = sorted(FigureCanvasBase.get_supported_filetypes())
    if suffix[1:].lower() not in supported:
        raise CLIError(
            f"cannot write --plot {text}: unsupported file type {suffix!r}; "
            f"use one of {', '.join('.' + s for s in supported)}"
        )
    return text


# --- CSV input --------------------------------------------------------------


class Table:
    """A CSV file's column names and rows: as text, cell by cell, or (when
    every cell is a plain finite number) as one float array, ``values``."""

    def __init__(self, path, names, rows, lines, values=None):
        self.path = path
        self.names = names
        self.rows = rows
        self.lines = lines
        self.values = values

    def __len__(self):
        return len(self.rows) if self.values is None else len(self.values)

    def require(self, names):
        """Raise CLIError naming the columns of ``names`` the file lacks."""
        missing = [name for name in names if name not in self.names]
        if missing:
            which = ", ".join(map(repr, missing))
            noun = "column" if len(missing) == 1 else "columns"
            raise CLIError(
                f"{noun} {which} not found in {self.path}; available columns: "
                f"{', '.join(self.names)}{self._header_hint()}"
            )

    def _header_hint(self):
        try:
            [float(name) for name in self.names]
        except ValueError:
            return ""
        return " (the first line looks like data: the file needs a header row)"

    def drop_incomplete_rows(self, names):
        """Leave out the rows with an empty cell in a column of ``names``;
        return how many."""
        if self.values is not None:
            return 0  # every cell is a number
        columns = [self.names.index(name) for name in names]
        keep = [
            i for i, row in enumerate(self.rows) if all(row[k].strip() for k in columns)
        ]
        n_dropped = len(self.rows) - len(keep)
        self.rows = [self.rows[i] for i in keep]
        self.lines = [self.lines[i] for i in keep]
        return n_dropped

    def numeric(self, names):
        """The columns ``names`` as a float array of shape (n_rows, len(names))."""
        self.require(names)
        if self.values is not None:
            return self.values[:, [self.names.index(name) for name in names]]
        out = np.empty((len(self.rows), len(names)))
        for j, name in enumerate(names):
            k = self.names.index(name)
            for i, row in enumerate(self.rows):
                text = row[k].strip()
                where = f"in column {name!r} at line {self.lines[i]} of {self.path}"
                if not text:
                    raise CLIError(f"missing value {where}")
                try:
                    value = float(text)
                except ValueError:
                    value = None
                if value is not None and not math.isfinite(value):
                    raise CLIError(f"non-finite value {text!r} {where}")
                # float() also takes '1_000' and digits of other scripts,
                # which a CSV file's numbers are not written in.
                if value is None or not _PLAIN_NUMBER.match(text):
                    raise CLIError(
                        f"non-numeric value {text!r} {where}{_number_hint(text)}"
                    ) from None
                out[i, j] = value
        return out


_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
_ONLY_BLANKS = re.compile(rb"\s*\Z")
_PLAIN_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+\Z", re.ASCII)
_THOUSANDS = re.compile(r"[-+]?\d{1,3}([,_ ]\d{3})+(\.\d*)?\Z", re.ASCII)


def _number_hint(text):
    """What to change in a cell that is not a plain number, if that can be told."""
    if _THOUSANDS.match(text):
        return " (write numbers without a thousands separator)"
    if _DECIMAL_COMMA.match(text):
        return " (use '.' as the decimal mark)"
    if text.isdecimal() or not text.isascii():
        return " (write numbers with the digits 0-9)"
    return ""


# UTF-32's little-endian mark begins with UTF-16's: look for it first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_DELIMITERS = (",", ";", "\t")


def _encoding(data):
    """UTF-8, or what the byte-order mark opening ``data`` says."""
    return next(
        (name for mark, name in _BYTE_ORDER_MARKS if data.startswith(mark)), "utf-8"
    )


def _numeric_table(path, utf8, encoding):
    """The :class:`Table` of a file whose every data cell is a plain finite
    number, read by a C parser (:func:`_parse_numbers`); None for any other
    file, which the cell-by-cell reader then reads, or says exactly what is
    wrong with.

    ``utf8`` is the file's text as UTF-8 bytes (its own bytes when it is
    UTF-8) and ``encoding`` the file's, which the parser reads it in: only
    the header line is decoded here, and lines are counted, not split (a
    million-row file stays one object).
    """
    start = len(utf8) - len(utf8.lstrip(b" \t\r\n"))
    end_of_header = utf8.find(b"\n", start)
    if (
        end_of_header < 0
        or _ONLY_BLANKS.match(utf8, end_of_header)
        or _BLANK_LINE.search(utf8, end_of_header)
    ):
        return None  # no data, or blank lines: the reader below handles them
    first = utf8.count(b"\n", 0, start)
    try:  # (utf-8-sig: a byte-order mark opens the first line)
        header_line = utf8[start:end_of_header].decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if "\x00" in header_line:
        return None  # not text: the reader below says so
    delimiter = _delimiter(header_line)
    try:
        header = next(csv.reader([header_line.rstrip("\r")], delimiter=delimiter))
    except csv.Error:
        return None
    header = [name.strip() for name in header]
    if not all(header) or len(set(header)) < len(header):
        return None
    values = _parse_numbers(path, delimiter, first + 1, encoding)
    if values is None:
        return None
    n_rows = utf8.count(b"\n", end_of_header + 1) + (not utf8.endswith(b"\n"))
    if values.shape != (n_rows, len(header)) or not np.isfinite(values).all():
        return None
    data_lines = range(first + 2, first + 2 + n_rows)
    return Table(path, header, [], list(data_lines), values)


def _parse_numbers(path, delimiter, skip, encoding):
    """The file's rows after the first ``skip`` lines as a float array, by
    pandas' C parser when pandas is installed (exact, as ``float`` of each
    cell), else by numpy's; None where a cell is not a number."""
    try:
        import pandas as pd
    except ImportError:
        pd = None
    try:
        if pd is not None:
            frame = pd.read_csv(
                path,
                sep=delimiter,
                header=None,
                skiprows=skip,
                dtype=float,
                na_filter=False,
                encoding=encoding,
            )
            return frame.to_numpy(dtype=float)
        return np.loadtxt(
            path,
            delimiter=delimiter,
            skiprows=skip,
            ndmin=2,
            encoding=encoding,
            comments=None,
            quotechar='"',
        )
    except (ValueError, TypeError):
        return None


def _decode(path, data):
    """The text of ``data``: UTF-8, or what its byte-order mark says."""
    encoding = _encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CLIError(
            f"{path} is not UTF-8 or UTF-16 text (line {line} cannot be read as "
            f"{encoding}): save it as a UTF-8 CSV file"
        ) from None
    if "\x00" in text:
        raise CLIError(
            f"{path} holds NUL characters, so it is not CSV text (UTF-16 text "
            "needs a byte-order mark): save it as a UTF-8 CSV file"
        )
    return text


def _delimiter(text):
    """The delimiter that splits the first non-blank line into the most fields."""
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    first = text[start : end if end >= 0 else len(text)]

    def n_fields(delimiter):
        try:
            return len(next(csv.reader([first], delimiter=delimiter), []))
        except csv.Error:
            return 0

    # max keeps the first of equals: a comma unless another splits more.
    return max(_DELIMITERS, key=n_fields)


def read_csv(path):
    """Read a CSV file with a header row into a :class:`Table`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CLIError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a directory, not a CSV file") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    encoding = _encoding(data)
    if encoding.startswith("utf-8"):  # most files: the bytes as they are
        table = _numeric_table(path, data, encoding)
        if table is not None:
            return table
    text = _decode(path, data)
    if not encoding.startswith("utf-8"):
        table = _numeric_table(path, text.encode("utf-8"), encoding)
        if table is not None:
            return table
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, rows, lines = None, [], []
    try:
        for row in reader:
            if not any(field.strip() for field in row):
                continue  # blank line
            if header is None:
                header = [name.strip() for name in row]
                width = len(header)
            elif len(row) != width:
                raise CLIError(
                    f"line {reader.line_num} of {path} has {len(row)} fields, "
                    f"the header has {width}"
                )
            else:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise CLIError(f"{path} is not valid CSV: {exc}") from None
    if header is None:
        raise CLIError(f"{path} is empty: expected a header row and data rows")
    if not all(header):
        raise CLIError(f"{path}: the header row has an empty column name")
    duplicates = [name for name, n in Counter(header).items() if n > 1]
    if duplicates:
        raise CLIError(f"{path}: duplicate column name(s) {', '.join(duplicates)}")
    if not rows:
        raise CLIError(f"{path} has a header row but no data rows")
    return Table(path, header, rows, lines)


# --- commands -----------------------------------------------------------------


def _run_demo(args):
    from ._demo import run_demo

    run_demo(
        output=getattr(args, "output", "tanhnet_demo.png"),
        random_state=getattr(args, "random_state", 0),
    )
    return 0


def _estimator_from_args(args):
    params = {"random_state": args.random_state}
    if args.hidden is not None:
        params["hidden_layer_sizes"] = tuple(args.hidden)
    for name in ("solver", "alpha", "learning_rate", "tol", "max_iter"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    return TanhNetRegressor(**params)


def _report_warnings(caught, context):
    """Print each distinct warning once on stderr, with how often it occurred."""
    for message, count in Counter(str(w.message) for w in caught).items():
        times = f" ({count} times)" if count > 1 else ""
        print(f"warning ({context}){times}: {message}", file=sys.stderr)


_N_FOLDS = 5
# R^2 needs two rows in a test fold, and a cross-validation three folds to say
# more than the fit on all rows.
_MIN_TEST_ROWS, _MIN_FOLDS = 2, 3


def _n_folds(n_rows):
    """Folds of at least two test rows each: 5, fewer below 10 rows, or 0
    (no cross-validation) below 6."""
    n_folds = min(_N_FOLDS, n_rows // _MIN_TEST_ROWS)
    return n_folds if n_folds >= _MIN_FOLDS else 0


def _fit(args):
    # Fail before reading and fitting, not after them, when an output cannot
    # be written.
    _check_writable(args.output, "--output")
    if not args.no_plot:
        args.plot = _plot_path(args.plot)
        _check_writable(args.plot, "--plot")
    X, y, features = _training_data(args)
    X_named = _with_names(X, features)
    est = _estimator_from_args(args)
    print(
        f"Data: {args.data}, {len(y)} rows, target {args.target!r}, "
        f"{len(features)} feature(s): {', '.join(features)}"
    )
    print(f"Model: {est!r}\n")
    names = [*features, args.target]
    n_folds = _n_folds(len(y))
    try:
        (final, caught), (cv, caught_cv) = _fit_and_cross_validate(
            est, X_named, X, y, args.random_state, n_folds
        )
    except CLIError as exc:
        raise CLIError(f"{exc}{_extreme_values_hint(X, y, names)}") from None
    _check_finite(final, cv, X_named, X, y, names)
    if n_folds:
        out_of_fold = _report_cross_validation(cv, caught_cv, X, y, n_folds)
    else:
        out_of_fold = None
        print(
            f"Cross-validation skipped: {len(y)} rows are too few; it needs "
            f"{_MIN_FOLDS * _MIN_TEST_ROWS}, for {_MIN_FOLDS} folds of "
            f"{_MIN_TEST_ROWS} test rows (the fewest R^2 can score)."
        )
    fitted = _report_fit(final, caught, X_named, y, args.verbose)
    _save_model(args.output, final, features, args.target)
    if not args.no_plot:
        _plot_fit(args.plot, y, fitted, out_of_fold, n_folds, args.target, args.data)
        print(f"Wrote {args.plot}")
    return 0


def _training_data(args):
    """``(X, y, feature_names)`` from ``args.data``: every column but the target."""
    table = read_csv(args.data)
    table.require([args.target, *args.drop])
    if args.target in args.drop:
        raise CLIError(f"--drop {args.target}: it is the target (--target)")
    features = [n for n in table.names if n != args.target and n not in args.drop]
    if not features:
        left = "" if not args.drop else " and the --drop columns"
        raise CLIError(
            f"{args.data} has no feature columns besides {args.target!r}{left}"
        )
    if args.dropna:
        n_dropped = table.drop_incomplete_rows([*features, args.target])
        if n_dropped:
            print(f"Left out {n_dropped} row(s) with an empty cell (--dropna)")
    X = table.numeric(features)
    y = table.numeric([args.target])[:, 0]
    if len(y) < _MIN_TEST_ROWS:
        raise CLIError(
            f"{args.data} has {len(y)} data row(s){' left' if args.dropna else ''}"
            f": a fit needs at least {_MIN_TEST_ROWS}"
        )
    return X, y, features


def _with_names(X, names):
    """``X`` as a pandas DataFrame with columns ``names``, if pandas is
    installed, so that the fit records them (``feature_names_in_``) and its
    diagnostics name the inputs; else ``X`` itself."""
    try:
        import pandas as pd
    except ImportError:
        return X
    return pd.DataFrame(X, columns=names, copy=False)


def _recording_warnings(call):
    """``(call(), the warnings it raised)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, caught


def _fit_and_cross_validate(est, X_named, X, y, random_state, n_folds):
    """Fit a clone of ``est`` on all rows of ``X_named`` (``X`` with the
    column names, see :func:`_with_names`), then cross-validate it on ``X``
    in ``n_folds`` folds (not at all if 0).

    Returns ``((fitted, warnings), (cross_validate result, warnings))``, the
    latter ``(None, [])`` without cross-validation.
    """
    from sklearn.base import clone
    from sklearn.model_selection import KFold, cross_validate
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        final = _recording_warnings(lambda: clone(est).fit(X_named, y))
        if not n_folds:
            return final, (None, [])
        folds = KFold(n_folds, shuffle=True, random_state=random_state)
        cv = _recording_warnings(
            lambda: cross_validate(
                est,
                X,
                y,
                cv=folds,
                scoring="r2",
                return_estimator=True,
                return_indices=True,
                error_score="raise",
            )
        )
    except (InvalidParameterError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    return final, cv


# Magnitudes beyond which standardising a column, or folding its scale back
# into the weights, can overflow or underflow double precision.
_HUGE, _TINY = 1e100, 1e-100


def _check_finite(final, cv, X_named, X, y, names):
    """Raise CLIError if a fit overflowed: non-finite weights, predictions, scores."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        finite = (
            all(np.isfinite(w).all() for w in final.coefs_ + final.intercepts_)
            and np.isfinite(final.predict(X_named)).all()
            and (cv is None or np.isfinite(cv["test_score"]).all())
        )
    if not finite:
        raise CLIError(
            "the fit overflowed: its weights or predictions are not finite"
            f"{_extreme_values_hint(X, y, names)}"
        )


def _extreme_values_hint(X, y, names):
    """Which columns hold values too large or small to standardise, if any."""
    largest = np.abs(np.c_[X, y]).max(axis=0)
    extreme = [n for n, m in zip(names, largest) if m > _HUGE or 0 < m < _TINY]
    if not extreme:
        return ""
    return (
        f" (extreme values in {', '.join(extreme)}: rescale the data, e.g. to "
        "values near 1)"
    )


def _report_cross_validation(cv, caught, X, y, n_folds):
    """Print the fold scores and warnings; return the out-of-fold predictions."""
    from sklearn.metrics import r2_score

    scores = cv["test_score"]
    out_of_fold = np.empty_like(y)
    for fold_est, test in zip(cv["estimator"], cv["indices"]["test"]):
        out_of_fold[test] = fold_est.predict(X[test])
    # Two numbers, two labels: the mean of the folds' R^2 and the R^2 of all
    # out-of-fold predictions pooled (the one the plot shows) differ.
    print(
        f"{n_folds}-fold CV R^2, mean over folds: {scores.mean():.4f} ± "
        f"{scores.std():.4f}  (folds: {', '.join(f'{s:.4f}' for s in scores)})"
    )
    print(
        f"{n_folds}-fold CV R^2, pooled out-of-fold predictions: "
        f"{r2_score(y, out_of_fold):.4f}"
    )
    _report_warnings(caught, f"{n_folds}-fold cross-validation")
    return out_of_fold


def _report_fit(final, caught, X, y, verbose=False):
    """Print the fit on all rows and its diagnostics; return its predictions.

    The diagnostics list every Hessian eigenvalue only if ``verbose``; else
    one line summarises them.
    """
    from sklearn.metrics import r2_score

    fitted = final.predict(X)
    print(
        f"\nFit on all {len(y)} rows: training R^2 {r2_score(y, fitted):.4f}, "
        f"{final.n_iter_} iterations, stopped: {final.status_} ({final.message_})"
    )
    _report_warnings(caught, "fit on all rows")
    try:
        diagnostics = final.diagnose(X, y)
    except ValueError as exc:
        print(f"Diagnostics unavailable: {exc}")
    else:
        print(diagnostics.report("list" if verbose else "summary"))
        if not verbose:
            print("  (--verbose lists every Hessian eigenvalue)")
    return fitted


def _save_model(path, estimator, features, target):
    """Write the model file that :func:`load_model` reads: skops, or joblib."""
    model = {
        "format": MODEL_FORMAT,
        "estimator": estimator,
        "feature_names": features,
        "target": target,
    }
    try:
        if Path(path).suffix.lower() in PICKLE_SUFFIXES:
            import joblib

            joblib.dump(model, path)
        else:
            import skops.io

            skops.io.dump(model, path)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None
    print(f"\nSaved the model to {path}")


def _plot_fit(path, y, fitted, out_of_fold, n_folds, target, data):
    """Predicted against actual values: out-of-fold (unless None) and
    in-sample."""
    from matplotlib.figure import Figure
    from sklearn.metrics import r2_score

    # A bare Figure draws with Agg and leaves pyplot's global state alone.
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    shown = [y, fitted] + ([] if out_of_fold is None else [out_of_fold])
    lo, hi = min(v.min() for v in shown), max(v.max() for v in shown)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="predicted = actual")
    if out_of_fold is not None:
        ax.scatter(
            y,
            out_of_fold,
            s=16,
            alpha=0.7,
            label=f"{n_folds}-fold CV, out of fold "
            f"(pooled R$^2$ = {r2_score(y, out_of_fold):.3f})",
        )
    ax.scatter(
        y,
        fitted,
        s=16,
        marker="x",
        alpha=0.7,
        label=f"fit on all rows (training R$^2$ = {r2_score(y, fitted):.3f})",
    )
    ax.set_xlabel(f"actual {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title(f"TanhNetRegressor on {Path(data).name}")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None


def load_model(path, trust_pickle=False):
    """Load a model file; return ``(estimator, feature_names or None)``.

    A skops file loads only :func:`trusted_types`; any other file is loaded as
    a joblib/pickle file, and only if ``trust_pickle``.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    path = Path(path)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        kind = sniff_format(path)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    if kind == "skops":
        obj = _load_skops(path)
    elif trust_pickle:
        obj = _load_pickle(path)
    elif kind == "pickle":
        raise CLIError(
            f"refusing to load {path}: it is a joblib/pickle file, and loading a "
            "pickle runs any code it holds. Save the model with skops (what "
            "'tanhnet fit' writes by default), or pass --trust-pickle if you "
            "trust this file"
        )
    else:
        raise CLIError(
            f"{path} is not a model file written by 'tanhnet fit' (neither a "
            "skops archive nor a joblib/pickle file)"
        )
    features = None
    if isinstance(obj, dict) and obj.get("format") == MODEL_FORMAT:
        est, features = obj.get("estimator"), obj.get("feature_names")
    else:
        est = obj  # also accept an estimator saved from Python with joblib.dump
    if not isinstance(est, TanhNetRegressor):
        raise CLIError(
            f"{path} holds a {type(est).__module__}.{type(est).__qualname__}, "
            "not a TanhNetRegressor"
        )
    try:
        check_is_fitted(est)
    except NotFittedError:
        raise CLIError(f"{path} holds a TanhNetRegressor that is not fitted") from None
    if features is None and hasattr(est, "feature_names_in_"):
        features = [str(name) for name in est.feature_names_in_]
    return est, features


def _load_skops(path):
    """The object in a skops file, built only if every type in it is trusted."""
    import skops.io

    trusted = trusted_types()
    try:
        # Both read the schema only: nothing in the file is built or imported.
        activations = callable_activations(path)
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise CLIError(
            f"{path} is not a model file written by 'tanhnet fit' "
            f"(not a valid skops file: {type(exc).__name__}: {exc})"
        ) from None
    if activations:
        raise CLIError(
            f"refusing to load {path}: its TanhNetRegressor has a callable "
            f"activation ({', '.join(activations)}), and a function cannot be "
            "loaded safely. Refit with a named activation such as 'tanh', or "
            "save with joblib and pass --trust-pickle if you trust the file"
        )
    untrusted = sorted(set(untrusted) - set(trusted))
    if untrusted:
        raise CLIError(
            f"refusing to load {path}: it holds untrusted type(s) "
            f"{', '.join(untrusted)} (a model written by 'tanhnet fit' holds none)"
        )
    try:
        return skops.io.load(path, trusted=trusted)
    except Exception as exc:
        raise CLIError(
            f"{path} is not a model file written by 'tanhnet fit' "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _load_pickle(path):
    """The object in a joblib or pickle file: runs whatever code the file holds."""
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:
        raise CLIError(
            f"{path} is not a model file written by 'tanhnet fit' "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _predict(args):
    if args.output is not None:
        _check_writable(args.output, "--output")
    est, features = load_model(args.model, trust_pickle=args.trust_pickle)
    table = read_csv(args.data)
    if features is None:
        # Fitted in Python on an array: the columns, in order, are the features.
        if len(table.names) != est.n_features_in_:
            raise CLIError(
                f"the model has no feature names and expects {est.n_features_in_} "
                f"columns; {args.data} has {len(table.names)}"
            )
        features = table.names
    X = table.numeric(features)
    # Overflow is reported below, by row, as a non-finite result.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # The columns were picked by name above; an array has none to check.
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        pred = est.predict(X).reshape(len(X), -1)
        _require_finite(pred, "prediction", table)
        if args.interval is not None:
            try:
                bounds = est.predict_interval(X, confidence=args.interval)
            except ValueError as exc:
                raise CLIError(f"cannot compute --interval: {exc}") from None
            for bound in bounds:
                _require_finite(bound, "prediction interval", table)
    suffixes = [""] if pred.shape[1] == 1 else [f"_{k}" for k in range(pred.shape[1])]
    columns = {f"prediction{s}": pred[:, k] for k, s in enumerate(suffixes)}
    if args.interval is not None:
        lower, upper = (b.reshape(len(X), -1) for b in bounds)
        for k, s in enumerate(suffixes):
            columns[f"lower{s}"] = lower[:, k]
            columns[f"upper{s}"] = upper[:, k]
    _write_csv(args.output, columns)
    if args.output is not None:
        print(f"Wrote {len(X)} predictions to {args.output}")
    return 0


def _require_finite(values, what, table):
    """Raise CLIError naming the first row of ``table`` where ``values`` is not."""
    bad = ~np.isfinite(values.reshape(len(table), -1)).all(axis=1)
    if bad.any():
        line = table.lines[int(np.argmax(bad))]
        raise CLIError(
            f"the {what} is not finite at line {line} of {table.path} "
            f"({int(bad.sum())} row(s) in all): the inputs are too extreme for "
            "the model, far outside the data it was fitted on"
        )


def _write_csv(path, columns):
    """Write equal-length float columns; ``repr`` round-trips every value."""
    rows = zip(*(map(float, values) for values in columns.values()))
    lines = [list(columns)] + [[repr(v) for v in row] for row in rows]
    if path is None:
        csv.writer(sys.stdout, lineterminator="\n").writerows(lines)
        return
    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\n").writerows(lines)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None


_COMMANDS = {"demo": _run_demo, "fit": _fit, "predict": _predict}
