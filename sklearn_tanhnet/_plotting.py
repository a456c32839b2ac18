"""Displays in scikit-learn's style: loss curve, 1-D fit, Hessian spectrum.

Each display's ``__init__`` only stores data, ``plot`` draws it and keeps the
artists, and ``from_estimator`` computes what is needed from a fitted
:class:`~sklearn_tanhnet.TanhNetRegressor` (alone, at the end of a Pipeline,
or as a fitted search's best estimator) and delegates to ``plot``.
matplotlib is imported inside the functions that draw, so importing the
package does not import it.
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _pyplot(caller):
    """Import pyplot, or say which display needed it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(f"{caller} requires matplotlib.") from exc
    return plt


def _axes(ax, caller, figsize=None):
    if ax is None:
        # Constrained layout keeps the axis labels and a legend beside the
        # axes inside the figure, whatever the tick labels' widths.
        _, ax = _pyplot(caller).subplots(layout="constrained", figsize=figsize)
    return ax


def _unwrap(estimator):
    """The fitted model at the end of ``estimator``, and the map from X to its inputs.

    A fitted search stands for its ``best_estimator_``, a Pipeline for its
    last step fed by the steps before it, nested in any order.
    """
    check_is_fitted(estimator)
    final, transforms = estimator, []
    while True:
        if hasattr(final, "cv_results_"):
            if not hasattr(final, "best_estimator_"):
                raise ValueError(
                    f"{type(final).__name__} was fitted with refit=False and has "
                    "no best_estimator_ to draw: fit it with refit=True, or pass "
                    "the estimator you fitted yourself."
                )
            final = final.best_estimator_
        elif hasattr(final, "steps"):
            if len(final.steps) > 1:
                transforms.append(final[:-1])
            final = final[-1]
        else:
            break

    def to_inputs(X):
        for transform in transforms:
            X = transform.transform(X)
        return X

    return final, to_inputs


def _describe(estimator, final):
    """``Pipeline ending in Ridge``, or the class name when there is no wrapper."""
    if final is estimator:
        return type(estimator).__name__
    return f"{type(estimator).__name__} ending in {type(final).__name__}"


def _needs(what, attribute, estimator, final):
    """Raise unless the final model has ``attribute``."""
    if not hasattr(final, attribute):
        raise ValueError(
            f"{what} needs a TanhNetRegressor, a Pipeline ending in one or a "
            f"fitted search over either, got {_describe(estimator, final)}."
        )


def _plain_labels_within_a_decade(ax):
    """Label a log y axis spanning under a decade with plain numbers.

    There matplotlib labels the minor ticks as ``6 x 10^-1``: wide labels that
    crowd the axis label. ``0.6`` says the same in less room. Over more than
    half a decade only the ticks at 1, 2, 3 and 5 times a power of ten are
    labelled, as the ticks bunch together towards the top of each decade.
    """
    from matplotlib.ticker import FuncFormatter

    low, high = ax.get_ylim()
    if not (0 < low and np.log10(high / low) < 1):
        return
    shown = (1, 2, 3, 5) if np.log10(high / low) > 0.5 else range(1, 10)

    def plain(value, _):
        mantissa = round(value / 10 ** np.floor(np.log10(value)))
        return f"{value:.3g}" if mantissa in shown else ""

    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    ax.yaxis.set_minor_formatter(FuncFormatter(plain))


class LossCurveDisplay:
    """Training (and validation) loss per iteration, on a log scale.

    Use :meth:`from_estimator` to create one from a fitted estimator; the
    constructor only stores the curves.

    Parameters
    ----------
    loss_curve : array-like of shape (n_iter,)
        Training objective at each iteration.

    validation_loss_curve : array-like of shape (n_iter_val,), default=None
        Validation loss at each iteration, if any.

    estimator_name : str, default=None
        Name shown in the title.

    iteration_label : str, default="iteration"
        Label of the x axis (for adam, an iteration is an epoch).

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training curve.

    validation_line_ : matplotlib Line2D or None
        The validation curve, None when there is none.

    ax_ : matplotlib Axes
        Axes with the curves.

    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    FitDisplay : Data, prediction and interval band for one input.
    HessianSpectrumDisplay : Hessian eigenvalues with the rank cutoff.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tanhnet import LossCurveDisplay, TanhNetRegressor
    >>> X = np.linspace(0, 1, 50).reshape(-1, 1)
    >>> est = TanhNetRegressor((3,), random_state=0).fit(X, X.ravel() ** (1 / 3))
    >>> disp = LossCurveDisplay.from_estimator(est)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        estimator_name=None,
        iteration_label="iteration",
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.estimator_name = estimator_name
        self.iteration_label = iteration_label

    def plot(self, ax=None, *, title=None, line_kw=None, validation_line_kw=None):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        title : str, default=None
            Axes title; by default names the estimator.

        line_kw : dict, default=None
            Keyword arguments of the training curve's ``ax.plot``.

        validation_line_kw : dict, default=None
            Keyword arguments of the validation curve's ``ax.plot``.

        Returns
        -------
        display : LossCurveDisplay
            The display, with its artists set.
        """
        ax = _axes(ax, f"{type(self).__name__}.plot")
        loss = np.asarray(self.loss_curve, dtype=float)
        self.line_ = ax.plot(
            np.arange(1, loss.size + 1),
            loss,
            **{"color": "tab:blue", "label": "training loss", **(line_kw or {})},
        )[0]
        self.validation_line_ = None
        if self.validation_loss_curve is not None:
            val = np.asarray(self.validation_loss_curve, dtype=float)
            self.validation_line_ = ax.plot(
                np.arange(1, val.size + 1),
                val,
                **{
                    "color": "tab:orange",
                    "label": "validation loss",
                    **(validation_line_kw or {}),
                },
            )[0]
        ax.set_yscale("log")
        _plain_labels_within_a_decade(ax)
        ax.set_xlabel(self.iteration_label)
        ax.set_ylabel("loss")
        if title is None:
            name = self.estimator_name or "training"
            title = f"Loss curve of {name}"
        ax.set_title(title)
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        title=None,
        line_kw=None,
        validation_line_kw=None,
    ):
        """Plot the loss curve of a fitted estimator.

        Parameters
        ----------
        estimator : TanhNetRegressor, Pipeline or fitted search
            A fitted :class:`TanhNetRegressor`, a Pipeline whose last step is
            one, or a fitted search (such as
            :class:`~sklearn.model_selection.GridSearchCV`) whose
            ``best_estimator_`` is either. Its ``loss_curve_`` is drawn (for
            a committee, the representative network's), and its
            ``validation_loss_curve_`` too when it has one.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        title : str, default=None
            Axes title; by default names the estimator, solver and status.

        line_kw : dict, default=None
            Keyword arguments of the training curve's ``ax.plot``.

        validation_line_kw : dict, default=None
            Keyword arguments of the validation curve's ``ax.plot``.

        Returns
        -------
        display : LossCurveDisplay
            The display, with its artists set.
        """
        est, _ = _unwrap(estimator)
        _needs("LossCurveDisplay", "loss_curve_", estimator, est)
        solver = getattr(est, "solver", None)
        label = "epoch" if solver == "adam" else "iteration"
        if title is None:
            details = ", ".join(
                str(v) for v in (solver, getattr(est, "status_", None)) if v is not None
            )
            title = f"Loss curve of {type(est).__name__}"
            title += f" ({details})" if details else ""
        disp = cls(
            loss_curve=est.loss_curve_,
            validation_loss_curve=getattr(est, "validation_loss_curve_", None),
            estimator_name=type(est).__name__,
            iteration_label=label,
        )
        return disp.plot(
            ax=ax,
            title=title,
            line_kw=line_kw,
            validation_line_kw=validation_line_kw,
        )


class FitDisplay:
    """Data, fitted curve and interval band of a model with one input.

    The grid may reach beyond the training data: the parts of the grid
    outside the training range are shaded so that the extrapolated curve
    stands out (nothing is shaded when the grid stays within the range). Use
    :meth:`from_estimator` to create one; the constructor only stores data.

    Parameters
    ----------
    x_grid : ndarray of shape (n_grid,)
        Inputs at which the prediction is drawn.

    y_pred : ndarray of shape (n_grid,)
        Predictions at ``x_grid``.

    x : ndarray of shape (n_samples,), default=None
        Observed inputs, drawn as points.

    y : ndarray of shape (n_samples,), default=None
        Observed targets.

    interval : tuple of two ndarray of shape (n_grid,), default=None
        Lower and upper bounds at ``x_grid``, drawn as a band.

    interval_label : str, default="interval"
        Legend entry of the band.

    training_range : tuple of float, default=None
        ``(low, high)`` range of the training inputs; the grid outside it is
        shaded.

    y_true : ndarray of shape (n_grid,), default=None
        True function at ``x_grid``, drawn dashed.

    estimator_name : str, default=None
        Name shown in the legend and title.

    feature_name : str, default="x"
        Label of the x axis.

    target_name : str, default="y"
        Label of the y axis.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The prediction.

    scatter_ : matplotlib PathCollection or None
        The data points.

    band_ : matplotlib PolyCollection or None
        The interval band.

    span_ : list of matplotlib Rectangle
        The shaded parts of the grid outside the training range, below and
        above it; empty when the grid stays within the range.

    true_line_ : matplotlib Line2D or None
        The true function.

    ax_ : matplotlib Axes
        Axes with the plot.

    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    LossCurveDisplay : Loss per iteration.
    HessianSpectrumDisplay : Hessian eigenvalues with the rank cutoff.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tanhnet import FitDisplay, TanhNetRegressor
    >>> X = np.linspace(0, 1, 50).reshape(-1, 1)
    >>> y = X.ravel() ** (1 / 3)
    >>> est = TanhNetRegressor((3,), random_state=0).fit(X, y)
    >>> disp = FitDisplay.from_estimator(  # doctest: +SKIP
    ...     est, X, y, x_range=(0, 10), true_function=np.cbrt
    ... )
    """

    def __init__(
        self,
        *,
        x_grid,
        y_pred,
        x=None,
        y=None,
        interval=None,
        interval_label="interval",
        training_range=None,
        y_true=None,
        estimator_name=None,
        feature_name="x",
        target_name="y",
    ):
        self.x_grid = x_grid
        self.y_pred = y_pred
        self.x = x
        self.y = y
        self.interval = interval
        self.interval_label = interval_label
        self.training_range = training_range
        self.y_true = y_true
        self.estimator_name = estimator_name
        self.feature_name = feature_name
        self.target_name = target_name

    def plot(
        self,
        ax=None,
        *,
        title=None,
        line_kw=None,
        scatter_kw=None,
        band_kw=None,
        span_kw=None,
        true_line_kw=None,
    ):
        """Plot the fit.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        title : str, default=None
            Axes title; by default names the estimator.

        line_kw, scatter_kw, band_kw, span_kw, true_line_kw : dict, default=None
            Keyword arguments of the prediction's ``ax.plot``, the data's
            ``ax.scatter``, the band's ``ax.fill_between``, the shading
            outside the training range's ``ax.axvspan`` and the true
            function's ``ax.plot``.

        Returns
        -------
        display : FitDisplay
            The display, with its artists set.
        """
        ax = _axes(ax, f"{type(self).__name__}.plot")
        name = self.estimator_name or "model"
        self.span_ = self._draw_span(ax, span_kw)
        self.band_ = self._draw_band(ax, band_kw)
        self.true_line_ = self._draw_true_line(ax, true_line_kw)
        self.scatter_ = self._draw_points(ax, scatter_kw)
        self.line_ = ax.plot(
            self.x_grid,
            self.y_pred,
            **{"color": "tab:orange", "label": f"{name} prediction", **(line_kw or {})},
        )[0]
        ax.set_xlabel(self.feature_name)
        ax.set_ylabel(self.target_name)
        ax.set_title(self._default_title(name) if title is None else title)
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _draw_span(self, ax, span_kw):
        """Shade the grid outside the training range; one legend entry at most."""
        spans = []
        for low, high in self._extrapolated():
            label = "outside the training range" if not spans else "_nolegend_"
            spans.append(
                ax.axvspan(
                    low,
                    high,
                    **{"color": "0.9", "zorder": 0, "label": label, **(span_kw or {})},
                )
            )
        return spans

    def _extrapolated(self):
        """The ``(low, high)`` stretches of the grid outside the training range."""
        if self.training_range is None:
            return []
        low, high = self.training_range
        grid_low, grid_high = np.min(self.x_grid), np.max(self.x_grid)
        stretches = [(grid_low, min(low, grid_high)), (max(high, grid_low), grid_high)]
        return [(a, b) for a, b in stretches if a < b]

    def _draw_band(self, ax, band_kw):
        """Fill the interval band; None when there is no interval."""
        if self.interval is None:
            return None
        lower, upper = self.interval
        return ax.fill_between(
            self.x_grid,
            lower,
            upper,
            **{
                "color": "tab:orange",
                "alpha": 0.3,
                "linewidth": 0,
                "label": self.interval_label,
                **(band_kw or {}),
            },
        )

    def _draw_true_line(self, ax, true_line_kw):
        """Draw the true function dashed; None when there is none."""
        if self.y_true is None:
            return None
        return ax.plot(
            self.x_grid,
            self.y_true,
            **{
                "color": "k",
                "linestyle": "--",
                "linewidth": 1,
                "label": "true function",
                **(true_line_kw or {}),
            },
        )[0]

    def _draw_points(self, ax, scatter_kw):
        """Scatter the data; None unless both ``x`` and ``y`` are set."""
        if self.x is None or self.y is None:
            return None
        return ax.scatter(
            self.x,
            self.y,
            **{"color": "tab:blue", "s": 12, "label": "data", **(scatter_kw or {})},
        )

    def _default_title(self, name):
        """``Fit of <name>``, saying so when the grid leaves the training range."""
        title = f"Fit of {name}"
        if self._extrapolated():
            title += ", extrapolated beyond the training range"
        return title

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        x_range=None,
        n_grid=200,
        interval=None,
        confidence=0.95,
        true_function=None,
        ax=None,
        title=None,
        line_kw=None,
        scatter_kw=None,
        band_kw=None,
        span_kw=None,
        true_line_kw=None,
    ):
        """Predict on a grid over ``x_range`` and plot it with the data.

        Parameters
        ----------
        estimator : fitted regressor with one input and one output
            Any fitted regressor for the prediction. For ``interval``: a
            :class:`TanhNetRegressor`, a Pipeline whose last step is one, or
            a fitted search (such as
            :class:`~sklearn.model_selection.GridSearchCV`) whose
            ``best_estimator_`` is either. The prediction is the
            estimator's; the interval is its last step's
            ``predict_interval`` on the grid passed through the steps before
            it, so it surrounds the same prediction.
        X : array-like of shape (n_samples, 1)
            Training inputs: drawn as points; the grid outside their range is
            shaded.
        y : array-like of shape (n_samples,), default=None
            Training targets; the points are not drawn when None.
        x_range : tuple of float, default=None
            ``(low, high)`` of the prediction grid, which may reach beyond
            the data; by default the range of ``X``.
        n_grid : int, default=200
            Number of grid points.
        interval : {'prediction', 'confidence'} or None, default=None
            Draw the delta-method interval of this kind from the final
            :class:`TanhNetRegressor`'s ``predict_interval``.
        confidence : float, default=0.95
            Coverage of the interval.
        true_function : callable, default=None
            Maps a 1-D array of inputs to the true mean response, drawn
            dashed for comparison.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        title : str, default=None
            Axes title.
        line_kw, scatter_kw, band_kw, span_kw, true_line_kw : dict, default=None
            Passed to :meth:`plot`.

        Returns
        -------
        display : FitDisplay
            The display, with its artists set.
        """
        disp = cls(
            **_fit_display_data(
                estimator, X, y, x_range, n_grid, interval, confidence, true_function
            )
        )
        return disp.plot(
            ax=ax,
            title=title,
            line_kw=line_kw,
            scatter_kw=scatter_kw,
            band_kw=band_kw,
            span_kw=span_kw,
            true_line_kw=true_line_kw,
        )


def _fit_display_data(
    estimator, X, y, x_range, n_grid, interval, confidence, true_function
):
    """The :class:`FitDisplay` constructor arguments of ``from_estimator``."""
    final, to_inputs = _unwrap(estimator)
    x = _single_input(X)
    if interval not in (None, "prediction", "confidence"):
        raise ValueError(
            f"interval must be None, 'prediction' or 'confidence', got {interval!r}"
        )
    low, high = (x.min(), x.max()) if x_range is None else x_range
    grid = np.linspace(low, high, n_grid)
    # Keep feature names so that a model fitted on a DataFrame does not warn.
    columns = getattr(X, "columns", None)
    X_grid = (
        grid.reshape(-1, 1)
        if columns is None
        else type(X)(grid.reshape(-1, 1), columns=columns)
    )
    y_pred = _single_output(estimator.predict(X_grid))
    bounds, interval_label = None, "interval"
    if interval is not None:
        _needs(f"interval={interval!r}", "predict_interval", estimator, final)
        lower, upper = final.predict_interval(
            to_inputs(X_grid), confidence=confidence, kind=interval
        )
        bounds = (np.ravel(lower), np.ravel(upper))
        interval_label = f"{confidence:.0%} {interval} interval"
    return dict(
        x_grid=grid,
        y_pred=y_pred,
        x=x,
        y=None if y is None else np.ravel(np.asarray(y, dtype=float)),
        interval=bounds,
        interval_label=interval_label,
        training_range=(x.min(), x.max()),
        y_true=None if true_function is None else true_function(grid),
        estimator_name=type(final).__name__,
        feature_name="x" if columns is None else str(columns[0]),
        target_name="y" if getattr(y, "name", None) is None else str(y.name),
    )


def _single_input(X):
    """``X`` of shape (n_samples, 1) or (n_samples,) as a 1-D float array."""
    x = np.asarray(X, dtype=float)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(
            f"FitDisplay needs a single input feature, got X of shape {np.shape(X)}."
        )
    return x


def _single_output(y_pred):
    """Predictions of shape (n, 1) or (n,) as a 1-D array."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_pred = y_pred[:, 0]
    if y_pred.ndim != 1:
        raise ValueError(
            f"FitDisplay needs a single output, got predictions of shape "
            f"{y_pred.shape}."
        )
    return y_pred


class HessianSpectrumDisplay:
    """Hessian eigenvalues relative to the largest, with the rank cutoff.

    Eigenvalues below ``rcond`` times the largest (below the horizontal line)
    are directions of parameter space the data do not determine. Negative
    eigenvalues (not a minimum, or rounding) are drawn by magnitude in their
    own colour. The legend sits beside the axes, on the right, where it
    covers no eigenvalue (on axes of your own, leave room for it, for example
    with ``plt.subplots(layout="constrained")``). Use :meth:`from_estimator` or
    :meth:`from_diagnostics` to create one; the constructor only stores data.

    Parameters
    ----------
    eigenvalues : array-like of shape (n_params,)
        Hessian eigenvalues, in any order (they are sorted, descending).

    rcond : float
        Relative cutoff.

    rank : int, default=None
        Number of eigenvalues above ``rcond`` times the largest; computed
        when None.

    estimator_name : str, default=None
        Name shown in the title.

    Attributes
    ----------
    determined_ : matplotlib container or StepPatch, or None
        Bars, stems or filled steps of the eigenvalues above the cutoff.

    undetermined_ : matplotlib container or StepPatch, or None
        Bars, stems or filled steps of the eigenvalues whose magnitude is
        below the cutoff.

    negative_ : matplotlib container or StepPatch, or None
        Bars, stems or filled steps of negative eigenvalues above the cutoff
        in magnitude.

    cutoff_line_ : matplotlib Line2D
        Horizontal line at ``rcond``.

    ax_ : matplotlib Axes
        Axes with the plot.

    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    TanhNetRegressor.diagnose : Computes the eigenvalues.
    Diagnostics : What ``diagnose`` returns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tanhnet import HessianSpectrumDisplay, TanhNetRegressor
    >>> X = np.linspace(0, 1, 50).reshape(-1, 1)
    >>> y = X.ravel() ** (1 / 3)
    >>> est = TanhNetRegressor((3,), random_state=0).fit(X, y)
    >>> disp = HessianSpectrumDisplay.from_estimator(est, X, y)  # doctest: +SKIP
    """

    def __init__(self, *, eigenvalues, rcond, rank=None, estimator_name=None):
        self.eigenvalues = eigenvalues
        self.rcond = rcond
        self.rank = rank
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, kind="auto", title=None):
        """Plot the spectrum.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        kind : {'auto', 'bar', 'stem', 'step'}, default='auto'
            Bars, stems, or a filled step plot (bars of full width, edge to
            edge). ``'auto'`` draws bars for up to 40 eigenvalues and filled
            steps for more, where the gaps between narrow bars would alias
            into irregular white stripes.

        title : str, default=None
            Axes title; by default gives the rank.

        Returns
        -------
        display : HessianSpectrumDisplay
            The display, with its artists set.
        """
        if kind not in ("auto", "bar", "stem", "step"):
            raise ValueError(
                f"kind must be 'auto', 'bar', 'stem' or 'step', got {kind!r}"
            )
        # Wider than matplotlib's default figure: the legend takes the right.
        ax = _axes(ax, f"{type(self).__name__}.plot", figsize=(9, 4.8))
        rel, mag, floor = _relative_spectrum(self.eigenvalues, self.rcond)
        n = rel.size
        if kind == "auto":
            kind = "bar" if n <= 40 else "step"
        rank = int(np.sum(rel > self.rcond)) if self.rank is None else self.rank
        index = np.arange(1, n + 1)
        handles = self._draw_groups(ax, kind, index, rel, mag, floor)
        self.cutoff_line_ = ax.axhline(
            self.rcond,
            color="k",
            linestyle="--",
            linewidth=1,
            label=f"cutoff rcond = {self.rcond:g}",
        )
        _format_spectrum_axes(ax, index)
        if title is None:
            name = f" of {self.estimator_name}" if self.estimator_name else ""
            title = f"Hessian spectrum{name}: rank {rank} of {n}"
        ax.set_title(title)
        # Bars or stems fill everything below the spectrum and the spectrum
        # reaches the top on the left: inside the axes the legend covers some.
        ax.legend(
            handles=[*handles, self.cutoff_line_],
            loc="upper left",
            bbox_to_anchor=(1.02, 1),
            borderaxespad=0,
        )
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _draw_groups(self, ax, kind, index, rel, mag, floor):
        """Draw each group of eigenvalues, set its attribute; return the artists."""
        groups = [
            ("determined_", rel > self.rcond, "tab:blue", "above cutoff (determined)"),
            (
                "undetermined_",
                np.abs(rel) <= self.rcond,
                "tab:gray",
                "below cutoff (undetermined)",
            ),
            (
                "negative_",
                rel < -self.rcond,
                "tab:red",
                "negative (magnitude shown)",
            ),
        ]
        handles = []
        for attr, mask, color, label in groups:
            artist = None
            if mask.any():
                artist = _draw_eigenvalues(
                    ax, kind, index[mask], mag[mask], floor, color, label
                )
            setattr(self, attr, artist)
            handles += [] if artist is None else [artist]
        return handles

    @classmethod
    def from_diagnostics(
        cls,
        diagnostics,
        *,
        member=None,
        estimator_name=None,
        ax=None,
        kind="auto",
        title=None,
    ):
        """Plot the spectrum held by a :class:`Diagnostics`.

        Parameters
        ----------
        diagnostics : Diagnostics
            What :meth:`TanhNetRegressor.diagnose` returned.

        member : int, default=None
            For a committee of networks: which member's spectrum to draw, an
            index into ``diagnostics.members``. None draws the
            representative network's (member 0, the one ``diagnostics``
            describes itself). A committee's title names the member drawn.

        estimator_name : str, default=None
            Name shown in the title.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        kind : {'auto', 'bar', 'stem', 'step'}, default='auto'
            Bars, stems, or a filled step plot (bars of full width, edge to
            edge). ``'auto'`` draws bars for up to 40 eigenvalues and filled
            steps for more, where the gaps between narrow bars would alias
            into irregular white stripes.

        title : str, default=None
            Axes title; by default gives the rank.

        Returns
        -------
        display : HessianSpectrumDisplay
            The display, with its artists set.
        """
        chosen, note = _member(diagnostics, member)
        disp = cls(
            eigenvalues=chosen.hessian_eigenvalues,
            rcond=chosen.rcond,
            rank=chosen.rank,
            estimator_name=estimator_name,
        )
        disp.plot(ax=ax, kind=kind, title=title)
        if title is None and note:
            disp.ax_.set_title(f"{disp.ax_.get_title()}\n{note}")
        return disp

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        sample_weight=None,
        rcond=1e-6,
        member=None,
        ax=None,
        kind="auto",
        title=None,
    ):
        """Diagnose a fitted estimator on its training data and plot the spectrum.

        For a committee of networks (the default estimator) the spectrum is
        the representative network's, the one whose ``loss_curve_`` the
        estimator keeps, and the title says so; ``member`` picks another.

        Parameters
        ----------
        estimator : TanhNetRegressor, Pipeline or fitted search
            A fitted :class:`TanhNetRegressor`, a Pipeline whose last step is
            one (diagnosed on ``X`` passed through the steps before it), or a
            fitted search (such as
            :class:`~sklearn.model_selection.GridSearchCV`) whose
            ``best_estimator_`` is either.

        X : array-like of shape (n_samples, n_features)
            Training inputs (of the Pipeline, when ``estimator`` is one).

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Training targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Training sample weights.

        rcond : float, default=1e-6
            Relative cutoff of the rank.

        member : int, default=None
            For a committee of networks: which member's spectrum to draw, an
            index into ``diagnose(X, y).members``. None draws the
            representative network's (member 0). A committee's title names
            the member drawn.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        kind : {'auto', 'bar', 'stem', 'step'}, default='auto'
            Bars, stems, or a filled step plot (bars of full width, edge to
            edge). ``'auto'`` draws bars for up to 40 eigenvalues and filled
            steps for more, where the gaps between narrow bars would alias
            into irregular white stripes.

        title : str, default=None
            Axes title; by default gives the rank.

        Returns
        -------
        display : HessianSpectrumDisplay
            The display, with its artists set.
        """
        final, to_inputs = _unwrap(estimator)
        _needs("HessianSpectrumDisplay", "diagnose", estimator, final)
        diagnostics = final.diagnose(
            to_inputs(X), y, sample_weight=sample_weight, rcond=rcond
        )
        return cls.from_diagnostics(
            diagnostics,
            member=member,
            estimator_name=type(final).__name__,
            ax=ax,
            kind=kind,
            title=title,
        )


def _member(diagnostics, member):
    """The member's diagnostics, and a line naming it (empty for one network)."""
    members = diagnostics.members or [diagnostics]
    n = len(members)
    if member is not None and not (
        isinstance(member, numbers.Integral)
        and not isinstance(member, bool)
        and 0 <= member < n
    ):
        raise ValueError(
            f"member must be None or an index from 0 to {n - 1} (the networks "
            f"diagnosed), got {member!r}"
        )
    if diagnostics.members is None:
        return diagnostics, ""
    index = 0 if member is None else int(member)
    widths = diagnostics.member_widths[index]
    which = "representative network" if index == 0 else "network"
    return (
        members[index],
        f"{which} (member {index} of {n}), hidden_layer_sizes {widths}",
    )


def _relative_spectrum(eigenvalues, rcond):
    """Descending eigenvalues over the largest, their floored magnitudes, the floor."""
    h = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    if not h[0] > 0:
        raise ValueError(f"The largest eigenvalue must be positive, got {h[0]!r}.")
    rel = h / h[0]
    mag = np.abs(rel)
    # Exact zeros have no place on a log axis: draw them at a floor well
    # below both the cutoff and the smallest non-zero magnitude.
    nonzero = mag[mag > 0]
    floor = 1e-3 * min(rcond, nonzero.min())
    return rel, np.maximum(mag, floor), floor


def _draw_eigenvalues(ax, kind, index, mag, floor, color, label):
    """Bars or stems of the magnitudes ``mag`` at ``index``, from ``floor`` up."""
    if kind == "bar":
        # Bars grow from the floor so that tiny values stay visible.
        return ax.bar(index, mag - floor, bottom=floor, color=color, label=label)
    if kind == "step":
        # Each group is a run of consecutive indices (the spectrum is sorted),
        # so one filled step patch per group has no gaps.
        edges = np.r_[index - 0.5, index[-1] + 0.5]
        return ax.stairs(
            mag, edges, baseline=floor, fill=True, color=color, label=label
        )
    artist = ax.stem(index, mag, bottom=floor, label=label)
    artist.markerline.set_color(color)
    artist.stemlines.set_color(color)
    artist.baseline.set_visible(False)
    return artist


def _format_spectrum_axes(ax, index):
    """Log y axis, integer eigenvalue indices on x, and the axis labels."""
    ax.set_yscale("log")
    if index.size <= 20:
        ax.set_xticks(index)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("eigenvalue index (descending)")
    ax.set_ylabel("Hessian eigenvalue / largest")
