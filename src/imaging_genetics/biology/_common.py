"""Input handling shared by the biology modules: feature matrices, group labels,
Benjamini–Hochberg adjustment."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._validation import EPS, check_matrix

__all__ = ["benjamini_hochberg", "as_matrix", "two_groups", "EPS"]


def benjamini_hochberg(pvalues: Any) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false discovery rate q-values).

    For the sorted p-values p_(1) <= ... <= p_(m), the adjusted value of rank i is
    ``min_{j >= i} min(1, p_(j) * m / j)`` (Benjamini & Hochberg 1995, step-up
    procedure); rejecting every hypothesis whose adjusted value is <= q controls
    the false discovery rate at level q for independent (or positively dependent)
    tests.

    Parameters
    ----------
    pvalues : array-like of any shape
        P-values in [0, 1]. NaN entries are kept as NaN and not counted in m.

    Returns
    -------
    ndarray of the same shape, float64
        Adjusted p-values; monotone in the raw p-values and never below them.

    Raises
    ------
    ValueError
        Entries outside [0, 1] or infinite.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate: a
    practical and powerful approach to multiple testing. JRSS B 57(1), 289–300.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    shape = p.shape
    flat = p.ravel()
    ok = ~np.isnan(flat)
    vals = flat[ok]
    if vals.size and (np.isinf(vals).any() or vals.min() < 0 or vals.max() > 1):
        bad = vals[(vals < 0) | (vals > 1) | np.isinf(vals)]
        raise ValueError(
            f"pvalues: {bad.size} value(s) outside [0, 1] (e.g. {bad[0]!r}); "
            "pass p-values, not test statistics"
        )
    out = np.full(flat.shape, np.nan)
    m = vals.size
    if m:
        order = np.argsort(vals, kind="mergesort")
        ranked = vals[order] * m / np.arange(1, m + 1)
        # step-up: running minimum from the largest p-value downwards
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(ranked, 1.0)
        out[ok] = adj
    return out.reshape(shape)


def feature_names(X: Any, n_features: int, prefix: str = "x") -> np.ndarray:
    """Column labels of a DataFrame as strings, else ``prefix0, prefix1, ...``."""
    cols = getattr(X, "columns", None)
    if cols is not None:
        return np.asarray([str(c) for c in cols], dtype=str)
    return np.asarray([f"{prefix}{j}" for j in range(n_features)], dtype=str)


def as_matrix(X: Any, name: str, *, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (n_samples, n_features) matrix; return (float64 array, feature names).

    A 1-D input is taken as a single feature.
    """
    if isinstance(X, pd.Series):
        X = X.to_frame(name=str(X.name) if X.name is not None else "x0")
    if not hasattr(X, "columns"):
        arr = np.asarray(X)
        if arr.ndim == 1:
            X = arr.reshape(-1, 1)
    arr = check_matrix(X, name, min_samples=min_samples)
    return arr, feature_names(X, arr.shape[1])


def align_labels(data: Any, labels: Any, name: str) -> Any:
    """Reorder a labelled Series to the rows of the data when both carry sample IDs.

    ``data`` may be a DataFrame or a Series (taken as a one-column DataFrame). When
    both sides carry an index other than a default RangeIndex, the labels are looked
    up by sample ID (an error if a sample of the data has no label or the labels
    repeat an ID). Plain arrays (or a RangeIndex on either side) are taken in row
    order.
    """
    if isinstance(labels, pd.DataFrame) and labels.shape[1] == 1:
        labels = labels.iloc[:, 0]
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if not (isinstance(data, pd.DataFrame) and isinstance(labels, pd.Series)):
        return labels
    if isinstance(data.index, pd.RangeIndex) or isinstance(labels.index, pd.RangeIndex):
        return labels
    if data.index.equals(labels.index):
        return labels
    missing = data.index.difference(labels.index)
    if len(missing) or labels.index.has_duplicates:
        raise ValueError(
            f"{name}: sample IDs do not match the data's rows ({len(missing)} without a "
            f"label, e.g. {list(missing[:5])}); pass labels in the same order or with the "
            "same index"
        )
    return labels.loc[data.index]


def _labels(groups: Any, name: str) -> np.ndarray:
    if isinstance(groups, pd.DataFrame):
        if groups.shape[1] != 1:
            raise ValueError(
                f"{name}: expected one column of labels, got a table with columns "
                f"{list(groups.columns)[:5]}; pass the diagnosis column, e.g. df['diagnosis']"
            )
        groups = groups.iloc[:, 0]
    arr = np.asarray(groups, dtype=object)
    if arr.ndim != 1:
        arr = arr.squeeze()
        if arr.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D vector of labels, got shape {np.shape(groups)}")
    return arr


def two_groups(
    groups: Any,
    n_samples: int,
    name: str = "groups",
    *,
    levels: Sequence[Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[Any, Any]]:
    """Resolve labels into two groups.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        One label per sample.
    levels : (case, control) or None
        A pair (tuple or list, not a string) of the two labels to compare;
        samples with any other label (or a missing label) are left out.
        ``None``: ``groups`` must hold exactly two distinct labels; they are
        sorted and the first is the control (reference), the second the case, as
        with a two-level factor in R.

    Returns
    -------
    case_mask, control_mask : bool arrays of shape (n_samples,)
    (case, control) : the two labels
    """
    lab = _labels(groups, name)
    if lab.shape[0] != n_samples:
        raise ValueError(
            f"{name}: has {lab.shape[0]} labels but the data have {n_samples} samples (rows); "
            "they must be the same samples in the same order"
        )
    missing = np.asarray(pd.isna(lab), dtype=bool)
    present = lab[~missing]
    observed = list(pd.unique(present))
    if levels is None:
        if missing.any():
            raise ValueError(
                f"{name}: {int(missing.sum())} missing label(s); drop those samples or pass "
                "levels=(case, control) to compare two labels and leave the rest out"
            )
        if len(observed) != 2:
            raise ValueError(
                f"{name}: expected exactly two group labels, got {len(observed)}: "
                f"{sorted(map(str, observed))[:10]}; pass levels=(case, control) to pick two"
            )
        try:
            control, case = sorted(observed)
        except TypeError:
            control, case = sorted(observed, key=str)
    else:
        if isinstance(levels, (str, bytes)) or not hasattr(levels, "__iter__"):
            raise ValueError(
                f"levels: expected a pair of labels (case, control), e.g. ('AD', 'HC'), "
                f"got {levels!r}"
            )
        lv = list(levels)
        if len(lv) != 2:
            raise ValueError(f"levels: expected two labels (case, control), got {len(lv)}: {lv}")
        case, control = lv
        if case == control:
            raise ValueError(f"levels: the two labels must differ, got {case!r} twice")
        for lvl in (case, control):
            if not any(_equal(lvl, o) for o in observed):
                raise ValueError(
                    f"levels: label {lvl!r} does not occur in {name}; "
                    f"labels present: {sorted(map(str, observed))[:10]}"
                )
    case_mask = np.array([(not m) and _equal(v, case) for v, m in zip(lab, missing)], dtype=bool)
    control_mask = np.array(
        [(not m) and _equal(v, control) for v, m in zip(lab, missing)], dtype=bool
    )
    return case_mask, control_mask, (case, control)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def feature_selection(
    spec: Any, names: np.ndarray, name: str
) -> np.ndarray:
    """Column positions selected by ``spec``: integer positions, a boolean mask or labels."""
    p = names.shape[0]
    if spec is None:
        return np.arange(p)
    arr = np.asarray(list(spec) if not isinstance(spec, np.ndarray) else spec)
    if arr.size == 0:
        raise ValueError(f"{name}: selects no features")
    if arr.dtype == bool:
        if arr.shape != (p,):
            raise ValueError(f"{name}: boolean mask has length {arr.shape[0]}, data have {p} features")
        return np.flatnonzero(arr)
    if np.issubdtype(arr.dtype, np.integer):
        idx = arr.astype(np.int64)
        if idx.min() < -p or idx.max() >= p:
            raise ValueError(f"{name}: index out of range for {p} features (got {idx.min()}..{idx.max()})")
        return np.mod(idx, p)
    lookup = {n: i for i, n in enumerate(names)}
    labels = [str(v) for v in arr]
    unknown = [v for v in labels if v not in lookup]
    if unknown:
        raise ValueError(f"{name}: unknown feature name(s) {unknown[:5]}")
    return np.asarray([lookup[v] for v in labels], dtype=np.int64)
