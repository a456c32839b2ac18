import copy
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_tanhnet import (
    Diagnostics,
    FitDisplay,
    HessianSpectrumDisplay,
    LossCurveDisplay,
    TanhNetRegressor,
)

X = np.linspace(0, 1, 30).reshape(-1, 1)
y = X.ravel() ** (1 / 3)


@pytest.fixture(scope="module")
def fitted():
    """A tiny least_squares fit of the lecture's problem, shared by the tests."""
    return TanhNetRegressor((3,), alpha=1e-4, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def fitted_adam():
    with warnings.catch_warnings():
        # Deliberately too few epochs: only the curve's shape matters here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return TanhNetRegressor(
            (3,),
            solver="adam",
            learning_rate=0.01,
            alpha=1e-4,
            max_iter=20,
            random_state=0,
        ).fit(X, y)


@pytest.fixture(scope="module")
def fitted_pipeline():
    return make_pipeline(
        StandardScaler(), TanhNetRegressor((3,), alpha=1e-4, random_state=0)
    ).fit(X, y)


@pytest.fixture(scope="module")
def fitted_committee():
    """Two starts of one width: the smallest committee."""
    return TanhNetRegressor((3,), n_starts=2, alpha=1e-4, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def diagnostics(fitted):
    return fitted.diagnose(X, y)


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, sklearn_tanhnet; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_diagnostics_is_exported(diagnostics):
    assert isinstance(diagnostics, Diagnostics)


# LossCurveDisplay


@pytest.mark.parametrize("name", ["fitted", "fitted_adam"])
def test_loss_curve_from_estimator(pyplot, request, name):
    est = request.getfixturevalue(name)
    disp = LossCurveDisplay.from_estimator(est)
    ax = disp.ax_
    assert disp.figure_ is ax.figure
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 1
    assert disp.validation_line_ is None
    np.testing.assert_allclose(disp.line_.get_ydata(), est.loss_curve_)
    np.testing.assert_array_equal(
        disp.line_.get_xdata(), np.arange(1, len(est.loss_curve_) + 1)
    )
    assert disp.line_.get_label() == "training loss"
    assert ax.get_xlabel() == ("epoch" if est.solver == "adam" else "iteration")
    assert ax.get_ylabel() == "loss"
    assert est.solver in ax.get_title() and est.status_ in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training loss"]


def test_loss_curve_draws_validation_curve_when_present(pyplot, fitted):
    est = copy.deepcopy(fitted)
    est.validation_loss_curve_ = [2 * v for v in est.loss_curve_]
    disp = LossCurveDisplay.from_estimator(est)
    assert len(disp.ax_.get_lines()) == 2
    np.testing.assert_allclose(
        disp.validation_line_.get_ydata(), est.validation_loss_curve_
    )
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels == ["training loss", "validation loss"]


def test_loss_curve_reads_the_last_step_of_a_pipeline(pyplot):
    pipe = make_pipeline(
        StandardScaler(), TanhNetRegressor((3,), alpha=1e-4, random_state=0)
    )
    pipe.fit(X, y)
    disp = LossCurveDisplay.from_estimator(pipe)
    np.testing.assert_allclose(disp.line_.get_ydata(), pipe[-1].loss_curve_)
    assert "TanhNetRegressor" in disp.ax_.get_title()


def test_loss_curve_plot_uses_given_axes_and_kwargs(pyplot):
    fig, ax = pyplot.subplots()
    disp = LossCurveDisplay(loss_curve=[1.0, 0.1, 0.01], estimator_name="net")
    disp.plot(ax=ax, line_kw={"color": "red"})
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.line_.get_color() == "red"
    assert ax.get_title() == "Loss curve of net"


def test_loss_curve_needs_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(TanhNetRegressor())


# FitDisplay


def test_fit_display_extrapolation_with_band(pyplot, fitted):
    disp = FitDisplay.from_estimator(
        fitted,
        X,
        y,
        x_range=(0, 10),
        n_grid=50,
        interval="prediction",
        true_function=np.cbrt,
    )
    ax = disp.ax_
    assert disp.figure_ is ax.figure
    # Prediction and true function; the data are a scatter, not a line.
    assert len(ax.get_lines()) == 2
    np.testing.assert_allclose(disp.line_.get_xdata(), np.linspace(0, 10, 50))
    np.testing.assert_allclose(
        disp.line_.get_ydata(), fitted.predict(disp.x_grid[:, None])
    )
    np.testing.assert_allclose(disp.true_line_.get_ydata(), np.cbrt(disp.x_grid))
    assert disp.scatter_.get_offsets().shape == (30, 2)
    # The shaded span covers exactly the extrapolated inputs.
    (span,) = disp.span_
    x0, x1 = span.get_extents().x0, span.get_extents().x1
    inv = ax.transData.inverted()
    assert inv.transform((x0, 0))[0] == pytest.approx(1.0, abs=1e-6)
    assert inv.transform((x1, 0))[0] == pytest.approx(10.0, abs=1e-6)
    assert disp.training_range == (0.0, 1.0)
    # The band is the 95% prediction interval.
    assert disp.band_ in ax.collections
    lower, upper = fitted.predict_interval(disp.x_grid[:, None])
    np.testing.assert_allclose(disp.interval[0], lower)
    np.testing.assert_allclose(disp.interval[1], upper)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "outside the training range",
        "95% prediction interval",
        "true function",
        "data",
        "TanhNetRegressor prediction",
    ]
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    assert "extrapolated" in ax.get_title()
    # The lecture's point: beyond x = 1 the fit falls away from x^(1/3).
    gap = np.abs(disp.y_pred - disp.y_true)
    assert gap[disp.x_grid > 5].min() > 0.3
    assert gap[disp.x_grid <= 1].max() < 0.05


def test_fit_display_without_band_or_true_function(pyplot, fitted):
    disp = FitDisplay.from_estimator(fitted, X, y, n_grid=20)
    ax = disp.ax_
    assert disp.band_ is None and disp.true_line_ is None
    assert len(ax.get_lines()) == 1
    assert len(ax.collections) == 1  # the data points only
    assert "extrapolated" not in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["data", "TanhNetRegressor prediction"]


def test_fit_display_confidence_band_is_narrower(pyplot, fitted):
    conf = FitDisplay.from_estimator(fitted, X, y, interval="confidence")
    pred = FitDisplay.from_estimator(fitted, X, y, interval="prediction")
    width = lambda d: d.interval[1] - d.interval[0]  # noqa: E731
    assert np.all(width(conf) < width(pred))
    assert conf.band_.get_label() == "95% confidence interval"


def test_fit_display_keeps_dataframe_feature_names(pyplot):
    pd = pytest.importorskip("pandas")
    Xdf = pd.DataFrame({"temperature": X.ravel()})
    ys = pd.Series(y, name="rate")
    est = TanhNetRegressor((3,), alpha=1e-4, random_state=0).fit(Xdf, ys)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        disp = FitDisplay.from_estimator(est, Xdf, ys, interval="prediction")
    assert disp.ax_.get_xlabel() == "temperature"
    assert disp.ax_.get_ylabel() == "rate"


@pytest.mark.parametrize(
    "kwargs, data, msg",
    [
        ({}, np.ones((5, 2)), "single input feature"),
        ({"interval": "both"}, X, "interval must be"),
    ],
)
def test_fit_display_errors(pyplot, fitted, kwargs, data, msg):
    with pytest.raises(ValueError, match=msg):
        FitDisplay.from_estimator(fitted, data, None, **kwargs)


def test_fit_display_interval_needs_a_tanhnet_at_the_end(pyplot):
    pipe = make_pipeline(StandardScaler(), Ridge()).fit(X, y)
    disp = FitDisplay.from_estimator(pipe, X, y)  # no band: fine
    assert disp.band_ is None
    with pytest.raises(ValueError, match="got Pipeline ending in Ridge"):
        FitDisplay.from_estimator(pipe, X, y, interval="prediction")


def test_fit_display_interval_from_a_pipeline(pyplot, fitted_pipeline):
    pipe = fitted_pipeline
    disp = FitDisplay.from_estimator(pipe, X, y, n_grid=25, interval="prediction")
    grid = disp.x_grid[:, None]
    # Predictions from the pipeline, the interval from its last step on the
    # transformed grid (the scaler moves [0, 1] well away from itself).
    np.testing.assert_allclose(disp.y_pred, pipe.predict(grid))
    lower, upper = pipe[-1].predict_interval(pipe[:-1].transform(grid))
    np.testing.assert_allclose(disp.interval[0], lower)
    np.testing.assert_allclose(disp.interval[1], upper)
    assert np.all(disp.interval[0] < disp.y_pred)
    assert np.all(disp.y_pred < disp.interval[1])
    assert disp.band_.get_label() == "95% prediction interval"


def test_displays_accept_a_fitted_search(pyplot, fitted_pipeline):
    search = GridSearchCV(
        fitted_pipeline, {"tanhnetregressor__alpha": [1e-4, 1e-2]}, cv=2
    ).fit(X, y)
    best = search.best_estimator_
    fit = FitDisplay.from_estimator(search, X, y, n_grid=20, interval="confidence")
    lower, _ = best[-1].predict_interval(
        best[:-1].transform(fit.x_grid[:, None]), kind="confidence"
    )
    np.testing.assert_allclose(fit.interval[0], lower)
    loss = LossCurveDisplay.from_estimator(search)
    np.testing.assert_allclose(loss.line_.get_ydata(), best[-1].loss_curve_)
    spectrum = HessianSpectrumDisplay.from_estimator(search, X, y)
    expected = best[-1].diagnose(best[:-1].transform(X), y)
    np.testing.assert_allclose(
        np.sort(spectrum.eigenvalues), np.sort(expected.hessian_eigenvalues)
    )


def test_displays_refuse_a_search_fitted_without_refit(pyplot, fitted_pipeline):
    search = GridSearchCV(
        fitted_pipeline, {"tanhnetregressor__alpha": [1e-4]}, cv=2, refit=False
    ).fit(X, y)
    for draw in (
        lambda: LossCurveDisplay.from_estimator(search),
        lambda: FitDisplay.from_estimator(search, X, y, interval="prediction"),
        lambda: HessianSpectrumDisplay.from_estimator(search, X, y),
    ):
        with pytest.raises(ValueError, match="refit=False"):
            draw()


def test_fit_display_shades_nothing_without_extrapolation(pyplot, fitted):
    disp = FitDisplay.from_estimator(fitted, X, y, n_grid=20)
    assert disp.span_ == [] and len(disp.ax_.patches) == 0
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert not any("training range" in label for label in labels)


def test_fit_display_shades_only_the_extrapolated_parts(pyplot, fitted):
    disp = FitDisplay.from_estimator(fitted, X, y, x_range=(-1, 3), n_grid=20)
    inv = disp.ax_.transData.inverted()
    spans = [
        (inv.transform((b.x0, 0))[0], inv.transform((b.x1, 0))[0])
        for b in (s.get_extents() for s in disp.span_)
    ]
    np.testing.assert_allclose(spans, [(-1, 0), (1, 3)], atol=1e-6)
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels.count("outside the training range") == 1


def _inside_figure(artist, figure):
    """Whether the artist's drawn box lies within the figure's."""
    box = artist.get_window_extent(figure.canvas.get_renderer())
    fig_box = figure.bbox
    return box.x0 >= fig_box.x0 and box.x1 <= fig_box.x1


def test_loss_curve_ylabel_inside_the_figure(pyplot):
    # A loss falling by less than a decade: the log axis labels minor ticks,
    # whose long labels pushed the axis label off the figure.
    disp = LossCurveDisplay(loss_curve=[0.64, 0.44, 0.31, 0.25, 0.227]).plot()
    disp.figure_.canvas.draw()
    assert _inside_figure(disp.ax_.yaxis.label, disp.figure_)


def test_hessian_spectrum_many_eigenvalues_as_filled_steps(pyplot):
    from matplotlib.patches import StepPatch

    evals = np.r_[np.logspace(0, -3, 117), 1e-11, 1e-11, -2e-4, -1e-4]
    disp = HessianSpectrumDisplay(eigenvalues=evals, rcond=1e-6).plot()
    # One patch per group, edge to edge: no gaps between bars to alias into
    # white stripes.
    groups = [disp.determined_, disp.undetermined_, disp.negative_]
    assert all(isinstance(g, StepPatch) for g in groups)
    edges = np.concatenate([g.get_data().edges for g in groups])
    np.testing.assert_allclose(np.unique(edges), np.arange(0.5, evals.size + 1, 1.0))
    assert [g.get_data().values.size for g in groups] == [117, 2, 2]


@pytest.mark.parametrize("kind", ["bar", "stem", "step"])
def test_hessian_spectrum_legend_beside_the_axes(pyplot, kind):
    evals = np.r_[np.logspace(0, -2, 59), 1e-10, -1e-3]
    disp = HessianSpectrumDisplay(eigenvalues=evals, rcond=1e-6).plot(kind=kind)
    disp.figure_.canvas.draw()
    renderer = disp.figure_.canvas.get_renderer()
    legend = disp.ax_.get_legend().get_window_extent(renderer)
    assert legend.x0 >= disp.ax_.get_window_extent(renderer).x1
    assert _inside_figure(disp.ax_.get_legend(), disp.figure_)


def test_hessian_spectrum_of_a_committee_member(pyplot, fitted_committee):
    est = fitted_committee
    diagnostics = est.diagnose(X, y)
    disp = HessianSpectrumDisplay.from_estimator(est, X, y)
    np.testing.assert_allclose(
        disp.eigenvalues, diagnostics.members[0].hessian_eigenvalues
    )
    assert "representative network (member 0 of 2)" in disp.ax_.get_title()
    disp = HessianSpectrumDisplay.from_estimator(est, X, y, member=1)
    np.testing.assert_allclose(
        disp.eigenvalues, diagnostics.members[1].hessian_eigenvalues
    )
    assert "\nnetwork (member 1 of 2)" in disp.ax_.get_title()
    with pytest.raises(ValueError, match="member must be .* 0 to 1 .* got 2"):
        HessianSpectrumDisplay.from_diagnostics(diagnostics, member=2)


# HessianSpectrumDisplay


@pytest.mark.parametrize("kind", ["bar", "stem"])
def test_hessian_spectrum_from_estimator(pyplot, fitted, diagnostics, kind):
    disp = HessianSpectrumDisplay.from_estimator(fitted, X, y, kind=kind)
    ax = disp.ax_
    assert disp.figure_ is ax.figure
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(disp.cutoff_line_.get_ydata(), [1e-6, 1e-6])
    n, rank = diagnostics.n_params, diagnostics.rank
    assert ax.get_title() == f"Hessian spectrum of TanhNetRegressor: rank {rank} of {n}"
    assert ax.get_xlabel() and ax.get_ylabel()
    counts = {
        attr: 0 if getattr(disp, attr) is None else len(getattr(disp, attr))
        for attr in ("determined_", "undetermined_", "negative_")
    }
    if kind == "stem":
        counts = {
            attr: 0
            if getattr(disp, attr) is None
            else len(getattr(disp, attr).markerline.get_xdata())
            for attr in counts
        }
    assert counts["determined_"] == rank
    assert sum(counts.values()) == n
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "cutoff rcond = 1e-06" in labels
    assert "above cutoff (determined)" in labels


def test_hessian_spectrum_marks_rank_and_negative_values(pyplot):
    evals = np.array([-1e-3, 2.0, 0.0, 1e-9, 0.5])
    disp = HessianSpectrumDisplay(eigenvalues=evals, rcond=1e-4).plot()
    assert disp.ax_.get_title() == "Hessian spectrum: rank 2 of 5"
    assert len(disp.determined_) == 2
    assert len(disp.undetermined_) == 2
    assert len(disp.negative_) == 1
    # Bars are sorted by eigenvalue; heights are relative magnitudes.
    tops = [b.get_y() + b.get_height() for b in disp.determined_]
    np.testing.assert_allclose(tops, [1.0, 0.25])
    np.testing.assert_allclose(disp.cutoff_line_.get_ydata(), [1e-4, 1e-4])
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels == [
        "above cutoff (determined)",
        "below cutoff (undetermined)",
        "negative (magnitude shown)",
        "cutoff rcond = 0.0001",
    ]


def test_hessian_spectrum_from_diagnostics_uses_its_rank(pyplot, diagnostics):
    disp = HessianSpectrumDisplay.from_diagnostics(diagnostics, kind="stem")
    rank, n = diagnostics.rank, diagnostics.n_params
    assert disp.ax_.get_title() == f"Hessian spectrum: rank {rank} of {n}"
    assert len(disp.determined_.markerline.get_xdata()) == rank


@pytest.mark.parametrize(
    "evals, kind, msg",
    [
        ([1.0, 0.1], "pie", "kind must be 'auto', 'bar', 'stem' or 'step'"),
        ([0.0, -1.0], "bar", "largest eigenvalue must be positive"),
    ],
)
def test_hessian_spectrum_errors(pyplot, evals, kind, msg):
    with pytest.raises(ValueError, match=msg):
        HessianSpectrumDisplay(eigenvalues=evals, rcond=1e-6).plot(kind=kind)


@pytest.mark.parametrize("member", [1, -1, True, 0.0])
def test_hessian_spectrum_member_of_one_network(pyplot, diagnostics, member):
    with pytest.raises(ValueError, match=r"member must be None or an index from 0"):
        HessianSpectrumDisplay.from_diagnostics(diagnostics, member=member)
    disp = HessianSpectrumDisplay.from_diagnostics(diagnostics, member=0)
    assert "\n" not in disp.ax_.get_title()
