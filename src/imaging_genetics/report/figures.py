"""Publication-quality figures (matplotlib). Every function returns a ``Figure``.

They take plain arrays and tidy DataFrames, not fitted models, so a figure can be
redrawn from saved results without refitting.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = [
    "ccc_bars",
    "roc_curves",
    "weight_heatmap",
    "sensitivity_curves",
    "objective_traces",
    "checkpoint_iterations",
    "module_membership_heatmap",
    "correlation_heatmap",
    "manhattan",
    "region_weight_bars",
    "save_figure",
]

_STYLE = {
    "figure.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}


def _figure(width: float = 6.4, height: float = 4.0, **kwargs) -> tuple[Figure, Any]:
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(width, height), **kwargs)
    return fig, ax


def save_figure(fig: Figure, path, dpi: int = 150) -> None:
    """Save a figure as PNG (atomically) and release its memory."""
    import io

    from ..base import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, lambda fh: fh.write(buf.getvalue()))


def ccc_bars(table: pd.DataFrame, *, method: str = "method", task: str = "task",
             train: str = "train_ccc", test: str = "test_ccc", title: str | None = None,
             reference: Mapping[Any, float] | None = None,
             reference_label: str = "population correlation") -> Figure:
    """Train and test canonical correlations per method and task, mean ± SD over folds.

    Parameters
    ----------
    table : DataFrame
        One row per (fold, method, task) with columns ``method``, ``task``,
        ``train_ccc`` and ``test_ccc``.
    reference : mapping task -> float, optional
        A reference value per task (e.g. the simulated population canonical
        correlation), drawn in both panels as a dashed line across the task's bars.
    reference_label : str
        Legend entry of the reference lines.
    """
    for col in (method, task, train, test):
        if col not in table.columns:
            raise ValueError(f"ccc_bars: table lacks column {col!r}; has {list(table.columns)}")
    stats = table.groupby([method, task], sort=False)[[train, test]].agg(["mean", "std"]).fillna(0.0)
    methods = list(dict.fromkeys(table[method]))
    tasks = list(dict.fromkeys(table[task]))
    fig, axes = plt.subplots(1, 2, figsize=(max(6.4, 1.4 * len(methods) * len(tasks) / 2 + 3), 3.8), sharey=True)
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(tasks))
    colors = plt.cm.tab10(np.arange(len(methods)) % 10)
    for ax, col, label in zip(axes, (train, test), ("training", "held-out")):
        for i, m in enumerate(methods):
            mean = [stats.loc[(m, t), (col, "mean")] if (m, t) in stats.index else np.nan for t in tasks]
            sd = [stats.loc[(m, t), (col, "std")] if (m, t) in stats.index else 0.0 for t in tasks]
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, mean, width, yerr=sd, capsize=2, label=str(m), color=colors[i])
        if reference:
            labelled = False
            for j, t in enumerate(tasks):
                if t in reference and reference[t] is not None and np.isfinite(reference[t]):
                    ax.hlines(float(reference[t]), j - 0.45, j + 0.45, colors="black", linestyles="--", lw=1.1,
                              label=None if labelled else reference_label, zorder=3)
                    labelled = True
        ax.set_xticks(x, [str(t) for t in tasks])
        ax.set_xlabel("task (imaging modality)")
        ax.set_title(f"{label} canonical correlation")
        ax.axhline(0, color="black", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("canonical correlation (mean ± SD over folds)")
    axes[1].legend(frameon=False, ncol=1, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], *, title: str = "Feature-selection ROC") -> Figure:
    """ROC curves of feature selection against the true support.

    Parameters
    ----------
    curves : mapping name -> (false positive rates, true positive rates, AUC)
    """
    fig, ax = _figure(4.8, 4.4)
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, lw=1.5, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title)
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def weight_heatmap(weights: np.ndarray, *, row_label: str = "SNP", column_labels: Sequence[str] | None = None,
                   title: str = "Canonical weights", max_rows: int = 200, column_title: str = "task (imaging modality)") -> Figure:
    """Heat map of a weight matrix (features x tasks), e.g. U (SNPs x tasks).

    Rows are sorted by their l2 norm and only the ``max_rows`` largest are drawn so the
    map stays legible for thousands of SNPs.
    """
    W = np.atleast_2d(np.asarray(weights, dtype=float))
    if W.shape[0] == 1 and W.shape[1] > 1 and column_labels is None:
        W = W.T
    norms = np.linalg.norm(W, axis=1)
    order = np.argsort(-norms, kind="stable")[:max_rows]
    shown = W[order]
    vmax = float(np.abs(shown).max()) or 1.0
    fig, ax = _figure(2.2 + 0.6 * W.shape[1], 5.0)
    im = ax.imshow(shown, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_xticks(np.arange(W.shape[1]), column_labels or [f"task {k + 1}" for k in range(W.shape[1])], rotation=30, ha="right")
    ax.set_xlabel(column_title)
    ax.set_ylabel(f"{row_label} (top {len(order)} of {W.shape[0]} by weight norm)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="weight")
    fig.tight_layout()
    return fig


def sensitivity_curves(table: pd.DataFrame, *, parameter: str = "parameter", value: str = "value",
                       score: str = "test_ccc", group: str = "task", title: str = "Parameter sensitivity",
                       ylabel: str | None = None) -> Figure:
    """Score against a parameter on a log axis, one panel per varied parameter
    (mean ± SD over the rows of each value, e.g. the CV folds)."""
    for col in (parameter, value, score):
        if col not in table.columns:
            raise ValueError(f"sensitivity_curves: table lacks column {col!r}")
    params = list(dict.fromkeys(table[parameter]))
    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params) + 0.5, 3.4), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], params):
        sub = table[table[parameter] == name]
        groups = [None] if group not in sub.columns else list(dict.fromkeys(sub[group]))
        for g in groups:
            part = sub if g is None else sub[sub[group] == g]
            agg = part.groupby(value)[score].agg(["mean", "std"]).fillna(0.0)
            ax.errorbar(agg.index, agg["mean"], yerr=agg["std"], marker="o", ms=3, capsize=2, label=None if g is None else str(g))
        ax.set_xscale("log")
        ax.set_xlabel(str(name))
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel(ylabel or score.replace("_", " "))
    if group in table.columns:
        axes[0][-1].legend(frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def checkpoint_iterations(n_points: int, n_iter: int, every: int) -> np.ndarray:
    """Iteration numbers of an objective recorded at iteration 0, every ``every``
    iterations and at the last one (``n_iter``), as the joint NMF models record it.

    Returns ndarray of ``n_points`` increasing iteration numbers (``0, every, 2 every,
    ..., n_iter``).
    """
    x = np.arange(int(n_points), dtype=float) * int(every)
    if n_points > 1:
        x[-1] = float(n_iter)  # the last record is at the final iteration (max_iter need not be a multiple)
    return x


def _trace_xy(trace) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(trace, tuple) and len(trace) == 2:
        x, y = (np.asarray(v, dtype=float).ravel() for v in trace)
        if x.shape != y.shape:
            raise ValueError(f"objective_traces: {x.size} iteration numbers for {y.size} objective values")
        return x, y
    y = np.asarray(trace, dtype=float).ravel()
    return np.arange(1, y.size + 1, dtype=float), y


def _value_scale(ax, y: np.ndarray, log: bool) -> None:
    finite = y[np.isfinite(y)]
    if not log or not finite.size:
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4), useOffset=False)
        return
    if (finite > 0).all():
        ax.set_yscale("log")
        return
    positive = np.abs(finite[finite != 0])
    ax.set_yscale("symlog", linthresh=float(np.min(positive)) if positive.size else 1.0)


def objective_traces(traces: Mapping[str, Any], *, title: str = "Objective per iteration", log: bool = False,
                     panels: bool = False, notes: Mapping[str, str] | None = None,
                     xlabel: str = "iteration", ylabel: str = "objective") -> Figure:
    """Objective value against iteration for one or more fits.

    Parameters
    ----------
    traces : mapping name -> values, or name -> (iterations, values)
        Values alone are drawn at iterations 1, 2, ...; give the iteration numbers
        when the objective was recorded less often (see :func:`checkpoint_iterations`).
    log : bool
        Logarithmic value axis (symmetric-log when some values are not positive).
    panels : bool
        One panel per fit, each with its own value axis (objectives of different
        models are on different scales); otherwise one shared axis.
    notes : mapping name -> str, optional
        Added to a panel's title, e.g. "converged at iteration 212".
    """
    notes = dict(notes or {})
    items = [(str(name), *_trace_xy(trace)) for name, trace in traces.items()]
    if not panels:
        fig, ax = _figure(5.6, 3.6)
        for name, x, y in items:
            ax.plot(x, y, lw=1.3, label=name + (f" ({notes[name]})" if name in notes else ""))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        _value_scale(ax, np.concatenate([y for _, _, y in items]) if items else np.zeros(0), log)
        ax.set_title(title)
        if items:
            ax.legend(frameon=False)
        fig.tight_layout()
        return fig
    n = max(len(items), 1)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig, axes = _figure(3.4 * ncols + 0.4, 2.7 * nrows + 0.6, nrows=nrows, ncols=ncols, squeeze=False)
    for ax, (name, x, y) in zip(axes.ravel(), items):
        ax.plot(x, y, lw=1.3, color="#1f4e79", marker="o" if y.size <= 40 else None, ms=2.5)
        _value_scale(ax, y, log)
        ax.set_title(name + (f"\n{notes[name]}" if name in notes else ""), fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes.ravel()[len(items):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def module_membership_heatmap(memberships: Mapping[str, np.ndarray], *, title: str = "Co-module membership") -> Figure:
    """Membership (features x modules, boolean) of each modality, side by side.

    Parameters
    ----------
    memberships : mapping modality -> ndarray of shape (n_features, n_modules)
    """
    names = list(memberships)
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names) + 0.5, 4.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        M = np.asarray(memberships[name], dtype=float)
        ax.imshow(M, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{name} ({M.shape[0]} features)")
        ax.set_xlabel("module")
        ax.set_xticks(np.arange(M.shape[1]), [str(k + 1) for k in range(M.shape[1])], fontsize=6)
    axes[0][0].set_ylabel("feature index")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def correlation_heatmap(C: np.ndarray, row_names: Sequence[str], col_names: Sequence[str], *,
                        row_label: str = "SNP", col_label: str = "ROI", title: str | None = None) -> Figure:
    """Heat map of correlations between two feature sets (e.g. SNP–ROI of a module)."""
    C = np.asarray(C, dtype=float)
    fig, ax = _figure(1.8 + 0.28 * C.shape[1], 1.4 + 0.22 * C.shape[0])
    vmax = float(np.nanmax(np.abs(C))) if C.size else 1.0
    im = ax.imshow(C, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_yticks(np.arange(C.shape[0]), [str(r) for r in row_names], fontsize=6)
    ax.set_xticks(np.arange(C.shape[1]), [str(c) for c in col_names], fontsize=6, rotation=90)
    ax.set_ylabel(row_label)
    ax.set_xlabel(col_label)
    ax.set_title(title or f"{row_label}–{col_label} correlations")
    fig.colorbar(im, ax=ax, label="Pearson r")
    fig.tight_layout()
    return fig


def manhattan(weights: np.ndarray, chromosomes: Sequence[Any], positions: Sequence[float], *,
              title: str = "SNP weights along the genome", ylabel: str = "|weight|",
              highlight: np.ndarray | None = None) -> Figure:
    """Manhattan-style plot of |SNP weight| by chromosome and base-pair position."""
    w = np.abs(np.asarray(weights, dtype=float).reshape(len(positions), -1)).max(axis=1)
    chrom = np.asarray([str(c) for c in chromosomes])
    pos = np.asarray(positions, dtype=float)

    def chrom_key(c: str):
        return (0, int(c)) if c.isdigit() else (1, c)

    order_chroms = sorted(set(chrom), key=chrom_key)
    fig, ax = _figure(8.0, 3.2)
    offset, ticks, labels = 0.0, [], []
    for i, c in enumerate(order_chroms):
        m = chrom == c
        x = pos[m] - pos[m].min() + offset
        ax.scatter(x, w[m], s=5, color=("#1f4e79" if i % 2 == 0 else "#7fa7d1"), linewidths=0)
        if highlight is not None:
            h = np.asarray(highlight, dtype=bool)[m]
            ax.scatter(x[h], w[m][h], s=12, facecolors="none", edgecolors="#c0392b", linewidths=0.8)
        ticks.append((x.min() + x.max()) / 2)
        labels.append(c)
        offset = x.max() + max(1.0, 0.02 * (pos.max() - pos.min() + 1))
    ax.set_xticks(ticks, labels)
    ax.set_xlabel("chromosome (base-pair position)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def region_weight_bars(weights: np.ndarray, names: Sequence[str], *, top: int = 20,
                       title: str = "Brain-region weights", modality_labels: Sequence[str] | None = None) -> Figure:
    """Horizontal bars of the largest region weights (a labelled stand-in for an atlas view).

    Parameters
    ----------
    weights : ndarray of shape (n_regions,) or (n_regions, n_modalities)
    names : region names, length n_regions
    """
    V = np.asarray(weights, dtype=float)
    V = V[:, None] if V.ndim == 1 else V
    order = np.argsort(-np.linalg.norm(V, axis=1), kind="stable")[:top][::-1]
    fig, ax = _figure(6.0, 0.6 + 0.22 * len(order))
    height = 0.8 / V.shape[1]
    y = np.arange(len(order))
    for k in range(V.shape[1]):
        label = modality_labels[k] if modality_labels else (None if V.shape[1] == 1 else f"modality {k + 1}")
        ax.barh(y + (k - (V.shape[1] - 1) / 2) * height, V[order, k], height, label=label)
    ax.set_yticks(y, [str(names[i]) for i in order], fontsize=7)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("canonical weight")
    ax.set_ylabel("brain region")
    ax.set_title(title)
    if V.shape[1] > 1 or modality_labels:
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig
