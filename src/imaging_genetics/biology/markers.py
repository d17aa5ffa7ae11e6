"""Diagnostic markers: ROC AUC with confidence intervals and p-values.

The JCB-SNMF paper tests the hub genes of a module as markers of diagnosis and
reports AUC, p and 95% CI per gene (Table 4) with the ROC curves (Fig. 11).
:func:`marker_roc` gives that table for any number of features, with the
nonparametric DeLong variance (default) or a stratified bootstrap.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ._common import EPS, _labels, align_labels, as_matrix

__all__ = ["delong_variance", "marker_roc", "plot_marker_roc", "binary_labels"]


def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank, along the last axis."""
    return stats.rankdata(x, method="average", axis=-1)


def binary_labels(
    diagnosis: Any,
    n_samples: int,
    *,
    positive: Any = None,
    negative: Any = None,
    name: str = "diagnosis",
) -> np.ndarray:
    """Resolve a diagnosis vector into 1 (positive), 0 (negative) or −1 (left out).

    Parameters
    ----------
    diagnosis : array-like of shape (n_samples,)
    positive : label, optional
        The label of the diseased group (e.g. ``"AD"``). ``None``: the labels must be
        exactly two; booleans or 0/1 take True/1 as positive, otherwise the second of
        the sorted labels.
    negative : label, optional
        The label of the comparison group (e.g. ``"HC"``). ``None``: every sample not
        labelled ``positive`` (with a known label).

    Returns
    -------
    ndarray of int8, shape (n_samples,)
    """
    lab = _labels(diagnosis, name)
    if lab.shape[0] != n_samples:
        raise ValueError(
            f"{name}: has {lab.shape[0]} labels but scores have {n_samples} samples (rows); "
            "they must be the same samples in the same order"
        )
    missing = np.asarray(pd.isna(lab), dtype=bool)
    observed = list(pd.unique(lab[~missing]))
    if positive is None:
        if negative is not None:
            raise ValueError("positive: give the positive label too when negative is given")
        if missing.any():
            raise ValueError(
                f"{name}: {int(missing.sum())} missing label(s); drop them or pass positive= "
                "and negative= to choose the groups"
            )
        if len(observed) != 2:
            raise ValueError(
                f"{name}: expected exactly two labels, got {len(observed)}: "
                f"{sorted(map(str, observed))[:10]}; pass positive= (and negative=) to choose"
            )
        try:
            positive = sorted(observed)[1]
        except TypeError:
            positive = sorted(observed, key=str)[1]
    if not any(_eq(positive, o) for o in observed):
        raise ValueError(
            f"positive: label {positive!r} does not occur in {name}; labels present: "
            f"{sorted(map(str, observed))[:10]}"
        )
    if negative is not None and not any(_eq(negative, o) for o in observed):
        raise ValueError(
            f"negative: label {negative!r} does not occur in {name}; labels present: "
            f"{sorted(map(str, observed))[:10]}"
        )
    out = np.full(n_samples, -1, dtype=np.int8)
    for i, (v, m) in enumerate(zip(lab, missing)):
        if m:
            continue
        if _eq(v, positive):
            out[i] = 1
        elif negative is None or _eq(v, negative):
            out[i] = 0
    n1, n0 = int((out == 1).sum()), int((out == 0).sum())
    if n1 < 2 or n0 < 2:
        raise ValueError(
            f"{name}: needs at least 2 positive and 2 negative samples, got {n1} and {n0}"
        )
    return out


def _eq(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def delong_variance(scores: Any, labels: Any) -> tuple[float, float]:
    """AUC and its DeLong variance from placement values.

    With m positive scores X_i, n negative scores Y_j and ψ(x, y) = 1, ½, 0 for
    x > y, x = y, x < y, the placement values are V10_i = mean_j ψ(X_i, Y_j) and
    V01_j = mean_i ψ(X_i, Y_j); AUC = mean_i V10_i and

        Var(AUC) = S10 / m + S01 / n,

    with S10, S01 the sample variances (ddof 1) of the placement values (DeLong,
    DeLong & Clarke-Pearson 1988). The placement values come from midranks:
    V10_i = (R_i − R^X_i) / n with R the rank among all scores and R^X the rank
    among the positives, so the cost is O((m + n) log(m + n)).

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
    labels : array-like of shape (n_samples,) with values 1 (positive) and 0

    Returns
    -------
    auc, variance : float

    References
    ----------
    DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Comparing the areas
    under two or more correlated receiver operating characteristic curves: a
    nonparametric approach. Biometrics 44(3), 837–845.
    """
    labels = align_labels(scores, labels, "labels")  # by sample ID when both carry them
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"labels: length {y.shape[0]} differs from scores ({s.shape[0]})")
    x_pos, x_neg = s[y == 1], s[y == 0]
    m, n = x_pos.size, x_neg.size
    if m < 2 or n < 2:
        raise ValueError(f"labels: needs at least 2 positives and 2 negatives, got {m} and {n}")
    r_all = _midranks(np.concatenate([x_pos, x_neg]))
    v10 = (r_all[:m] - _midranks(x_pos)) / n
    v01 = 1.0 - (r_all[m:] - _midranks(x_neg)) / m
    auc = float(v10.mean())
    var = float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    return auc, var


def _bootstrap_aucs(
    x_pos: np.ndarray, x_neg: np.ndarray, n_bootstraps: int, rng: np.random.Generator
) -> np.ndarray:
    """AUCs of stratified bootstrap resamples (positives and negatives resampled apart)."""
    m, n = x_pos.size, x_neg.size
    out = np.empty(n_bootstraps)
    chunk = max(1, int(2_000_000 // (m + n)))
    for start in range(0, n_bootstraps, chunk):
        b = min(chunk, n_bootstraps - start)
        pos = x_pos[rng.integers(0, m, size=(b, m))]
        neg = x_neg[rng.integers(0, n, size=(b, n))]
        ranks = _midranks(np.concatenate([pos, neg], axis=1))
        out[start : start + b] = (ranks[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    return out


def marker_roc(
    scores: Any,
    diagnosis: Any,
    *,
    positive: Any = None,
    negative: Any = None,
    features: Sequence[Any] | None = None,
    method: str = "delong",
    confidence: float = 0.95,
    direction: str = "greater",
    n_bootstraps: int = 2000,
    random_state: Any = None,
) -> pd.DataFrame:
    """ROC AUC of each feature as a marker of diagnosis, with CI and p-value.

    The JCB-SNMF paper's Table 4 (SPSS): AUC, p against AUC = 0.5, 95% CI per gene.

    Parameters
    ----------
    scores : array-like or DataFrame of shape (n_samples,) or (n_samples, n_features)
        Marker values (e.g. expression of the module's hub genes). DataFrame columns
        name the features.
    diagnosis : array-like of shape (n_samples,)
        Labels in row order; a Series indexed by sample ID is aligned to the index
        of a DataFrame or Series of scores (an error when a scored sample has no
        label). See ``positive`` / ``negative``.
    positive, negative : label, optional
        Diseased and comparison groups (e.g. ``"AD"``, ``"HC"``); samples with other
        labels are left out. Defaults: see :func:`binary_labels`.
    features : sequence, optional
        Columns to analyse (names or positions); default all.
    method : {"delong", "bootstrap"}
        ``"delong"``: se from :func:`delong_variance`, Wald CI AUC ± z·se clipped to
        [0, 1]. ``"bootstrap"``: stratified bootstrap, percentile CI, se = bootstrap
        standard deviation.
    confidence : float
        Coverage of the interval, default 0.95.
    direction : {"greater", "less", "auto"}
        ``"greater"``: higher values indicate the positive group (SPSS' default).
        ``"less"``: lower values do. ``"auto"``: per feature, whichever gives AUC ≥
        0.5 (reported in the ``direction`` column; the two-sided p is unchanged).
    n_bootstraps : int
        Resamples for ``method="bootstrap"``: an integer >= 2 (checked whatever the
        method). A few resamples only give an se and a percentile CI dominated by
        resampling noise; use hundreds or more (thousands for a 95% CI).
    random_state : int, Generator or None
        Seed for the bootstrap.

    Returns
    -------
    DataFrame, one row per feature
        ``feature, auc, se, ci_low, ci_high, z, p, n_positive, n_negative,
        direction``; p is two-sided for H0: AUC = 0.5 from z = (AUC − 0.5) / se.

    Raises
    ------
    ValueError
        Labels not giving two groups with ≥ 2 samples each, lengths that differ,
        sample IDs of scores without a label, NaN scores, unknown options,
        ``n_bootstraps`` < 2.
    TypeError
        ``n_bootstraps`` not an integer.

    References
    ----------
    DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Biometrics 44,
    837–845. Hanley, J. A. & McNeil, B. J. (1982). Radiology 143, 29–36.
    """
    if method not in ("delong", "bootstrap"):
        raise ValueError(f"method must be 'delong' or 'bootstrap', got {method!r}")
    if direction not in ("greater", "less", "auto"):
        raise ValueError(f"direction must be 'greater', 'less' or 'auto', got {direction!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(n_bootstraps, bool) or not isinstance(n_bootstraps, numbers.Integral):
        raise TypeError(
            f"n_bootstraps must be an integer (hundreds or more for a usable CI), "
            f"got {n_bootstraps!r}"
        )
    if n_bootstraps < 2:
        raise ValueError(
            f"n_bootstraps must be >= 2 (hundreds or more for a usable CI), got {n_bootstraps!r}"
        )
    n_bootstraps = int(n_bootstraps)
    X, names = as_matrix(scores, "scores")
    diagnosis = align_labels(scores, diagnosis, "diagnosis")
    if features is not None:
        from ._common import feature_selection

        idx = feature_selection(features, names, "features")
        X, names = X[:, idx], names[idx]
    y = binary_labels(diagnosis, X.shape[0], positive=positive, negative=negative)
    keep = y >= 0
    X, y = X[keep], y[keep]
    rng = np.random.default_rng(random_state)
    zq = float(stats.norm.ppf(0.5 + confidence / 2.0))
    rows = []
    for j, name in enumerate(names):
        s = X[:, j]
        auc, var = delong_variance(s, y)
        sign = "greater"
        if direction == "less" or (direction == "auto" and auc < 0.5):
            s = -s
            auc = 1.0 - auc
            sign = "less"
        if method == "delong":
            se = float(np.sqrt(max(var, 0.0)))
            lo, hi = max(0.0, auc - zq * se), min(1.0, auc + zq * se)
        else:
            boots = _bootstrap_aucs(s[y == 1], s[y == 0], n_bootstraps, rng)
            se = float(boots.std(ddof=1))
            a = (1.0 - confidence) / 2.0
            lo, hi = (float(v) for v in np.quantile(boots, [a, 1.0 - a]))
        z = (auc - 0.5) / max(se, EPS)
        if auc == 0.5:
            z = 0.0
        p = float(2.0 * stats.norm.sf(abs(z)))
        rows.append(
            {
                "feature": str(name),
                "auc": auc,
                "se": se,
                "ci_low": lo,
                "ci_high": hi,
                "z": z,
                "p": p,
                "n_positive": int((y == 1).sum()),
                "n_negative": int((y == 0).sum()),
                "direction": sign,
            }
        )
    out = pd.DataFrame(rows)
    out.attrs.update({"method": method, "confidence": confidence})
    return out


def plot_marker_roc(
    scores: Any,
    diagnosis: Any,
    *,
    positive: Any = None,
    negative: Any = None,
    features: Sequence[Any] | None = None,
    direction: str = "greater",
    ax: Any = None,
    title: str | None = "ROC curves of candidate markers",
):
    """ROC curves of one or more markers in one axes (the paper's Fig. 11).

    Parameters
    ----------
    scores, diagnosis, positive, negative, features, direction
        As in :func:`marker_roc`.
    ax : matplotlib Axes, optional
        Draw into it; otherwise a new figure is made.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled "1 − specificity (false positive rate)" and "sensitivity";
        the legend gives each feature's AUC with its DeLong 95% CI.
    """
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    table = marker_roc(
        scores, diagnosis, positive=positive, negative=negative, features=features,
        direction=direction,
    )
    X, names = as_matrix(scores, "scores")
    diagnosis = align_labels(scores, diagnosis, "diagnosis")
    if features is not None:
        from ._common import feature_selection

        idx = feature_selection(features, names, "features")
        X, names = X[:, idx], names[idx]
    y = binary_labels(diagnosis, X.shape[0], positive=positive, negative=negative)
    keep = y >= 0
    if ax is None:
        fig = Figure(figsize=(5.5, 5.0))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    for j, row in table.iterrows():
        s = X[keep, j] if row["direction"] == "greater" else -X[keep, j]
        fpr, tpr, _ = roc_curve(y[keep], s)
        ax.plot(
            fpr,
            tpr,
            lw=1.6,
            label=f"{row['feature']}: AUC {row['auc']:.3f} ({row['ci_low']:.3f}–{row['ci_high']:.3f})",
        )
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1, label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("1 − specificity (false positive rate)")
    ax.set_ylabel("sensitivity (true positive rate)")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_aspect("equal")
    return fig
