"""Input checks shared by every boundary of the package.

Each check raises ``ValueError`` (or ``TypeError``) with a message that names the
argument, what is wrong and, where there is one, the fix.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "check_matrix",
    "check_matrices",
    "matrix_list",
    "check_row_labels",
    "check_same_samples",
    "check_penalty",
    "check_real",
    "check_positive_int",
    "check_adjacency",
    "EPS",
]

#: Floor used wherever a quantity that can be zero is divided by.
EPS = float(np.finfo(np.float64).eps)


def _column_names(X: Any) -> list[str] | None:
    """The column labels of a table as str; None for arrays and for tables whose columns
    carry only the default positions 0..p-1 (which name no feature)."""
    cols = getattr(X, "columns", None)
    if cols is None or cols.equals(pd.RangeIndex(len(cols))):
        return None
    return [str(c) for c in cols]


def column_names_each(Xs: Any) -> list[list[str] | None]:
    """:func:`_column_names` of every table of a list of tables (empty for anything
    else, e.g. a 3-D array, which carries no labels)."""
    return [_column_names(X) for X in Xs] if isinstance(Xs, (list, tuple)) else []


def check_feature_names(given: Any, fitted: np.ndarray | None, what: str, remedy: str) -> None:
    """Raise ValueError when the column labels ``given`` (None for unlabelled input)
    differ from the labels ``fitted`` of the fit (None when it was unlabelled).

    Equal counts are checked before; this catches the same columns in another
    order, or other columns, which would otherwise be paired by position.
    ``what`` starts the message, ``remedy`` ends it.
    """
    if fitted is None or given is None:
        return
    given = np.array([str(c) for c in given], dtype=str)
    if np.array_equal(given, fitted):
        return
    known, seen = set(fitted), set(given)
    missing = [str(c) for c in fitted if c not in seen][:5]
    extra = [str(c) for c in given if c not in known][:5]
    detail = (f"missing {missing}, unexpected {extra}" if missing or extra
              else "same names in a different order")
    raise ValueError(f"{what} columns differ from those seen in fit ({detail}); {remedy}")


def reorder_by_labels(obj: Any, labels: list[str], wanted: Sequence[str], name: str, what: str, unit: str,
                      fix: str, axis: int = 0) -> Any:
    """``obj`` (Series or DataFrame) taken along ``axis`` by its labels ``labels`` (str)
    in the order ``wanted``; labels not wanted are left out.

    A label given twice, or a wanted label missing, is a ValueError:
    ``"{name}: no entry in {what} for {n} of the {unit}, e.g. [...]; {fix}"``.
    """
    if labels == list(wanted):
        return obj
    counts = Counter(labels)
    if len(counts) < len(labels):
        dup = sorted(x for x, c in counts.items() if c > 1)[:5]
        raise ValueError(f"{name}: {what} {dup} appear more than once")
    missing = [x for x in wanted if x not in counts]
    if missing:
        raise ValueError(f"{name}: no entry in {what} for {len(missing)} of the {unit}, e.g. {missing[:5]}; {fix}")
    framed = obj.set_axis(labels, axis=axis)
    return framed.loc[list(wanted)] if axis == 0 else framed.loc[:, list(wanted)]


def reorder_by_index(obj: Any, wanted: Sequence[str] | None, name: str, what: str, unit: str, fix: str) -> Any:
    """:func:`reorder_by_labels` by the row labels of a labelled table or Series
    (:func:`_row_labels`); ``obj`` unchanged when it carries none or ``wanted`` is None."""
    labels = _row_labels(obj)
    if labels is None or wanted is None:
        return obj
    return reorder_by_labels(obj, [str(x) for x in labels], wanted, name, what, unit, fix)


def align_labelled_adjacency(A: Any, rows: Sequence[str] | None, cols: Sequence[str] | None, name: str) -> Any:
    """A prior network given as a labelled table, reordered to the features it links.

    ``A`` is returned as it is (paired with the features by position) unless it is
    a DataFrame whose row and column labels are not a plain 0..m-1 range and the
    features have labels (``rows`` for A's rows, ``cols`` for its columns). Then
    its rows and columns are taken by label, in the features' order (labels of
    other features are left out), and a feature missing from A's labels is a
    ValueError: reading such a table by position would link other features.
    """
    if not hasattr(A, "index") or not hasattr(A, "columns") or rows is None or cols is None:
        return A
    if isinstance(A.index, pd.RangeIndex) and isinstance(A.columns, pd.RangeIndex):
        return A
    for axis, (labels, wanted, word) in enumerate(((A.index, rows, "row"), (A.columns, cols, "column"))):
        A = reorder_by_labels(A, [str(x) for x in labels], wanted, name, f"its {word} labels", "features it links",
                              f"label its {word}s with the feature names, or pass {name}.to_numpy() to pair "
                              f"them with the features by position", axis=axis)
    return A


def _describe_columns(mask: np.ndarray, names: list[str] | None, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    shown = [names[i] if names else str(i) for i in idx[:limit]]
    more = f" and {idx.size - limit} more" if idx.size > limit else ""
    return ", ".join(shown) + more


def check_matrix(
    X: Any,
    name: str,
    *,
    allow_nan: bool = False,
    nonnegative: bool = False,
    min_samples: int = 2,
    min_features: int = 1,
    dtype=np.float64,
) -> np.ndarray:
    """Validate one data matrix and return it as a C-contiguous float array.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
    name : str
        How the caller calls it (``"X"``, ``"Ys[1]"``, ``"Xs[0] (snp)"``); it starts
        every error message.
    allow_nan : bool
        Whether NaN marks missing values (infinity is never allowed).
    nonnegative : bool
        Whether negative entries are an error (NMF inputs).

    Raises
    ------
    ValueError
        Not 2-D, too few rows/columns, non-numeric, NaN/inf or negative entries.
    """
    names = _column_names(X)
    if sp.issparse(X):
        X = X.toarray()
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        if names is not None:
            bad = [
                str(c)
                for c in X.columns
                if not np.issubdtype(np.asarray(X[c]).dtype, np.number)
                and not np.issubdtype(np.asarray(X[c]).dtype, np.bool_)
            ]
            if bad:
                raise ValueError(
                    f"{name}: columns {bad[:5]} are not numeric; convert or drop them "
                    "(e.g. encode categories as numbers) before fitting"
                ) from exc
        raise ValueError(f"{name}: could not convert to a numeric matrix ({exc})") from exc
    if arr.ndim == 1:
        raise ValueError(
            f"{name}: expected a 2-D matrix (n_samples, n_features), got a 1-D array of "
            f"length {arr.shape[0]}; use reshape(-1, 1) for a single feature"
        )
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D matrix, got an array with shape {arr.shape}")
    n, p = arr.shape
    if n < min_samples:
        raise ValueError(f"{name}: needs at least {min_samples} samples (rows), got {n}")
    if p < min_features:
        raise ValueError(f"{name}: needs at least {min_features} feature(s) (columns), got {p}")
    if np.isinf(arr).any():
        cols = np.isinf(arr).any(axis=0)
        raise ValueError(
            f"{name}: {int(np.isinf(arr).sum())} infinite value(s) in column(s) "
            f"{_describe_columns(cols, names)}; replace them before fitting"
        )
    if not allow_nan and np.isnan(arr).any():
        cols = np.isnan(arr).any(axis=0)
        raise ValueError(
            f"{name}: {int(np.isnan(arr).sum())} missing (NaN) value(s) in column(s) "
            f"{_describe_columns(cols, names)}; impute them first "
            "(imaging_genetics.preprocessing.MeanImputer) or drop those columns"
        )
    if nonnegative:
        neg = arr < 0
        if neg.any():
            raise ValueError(
                f"{name}: {int(neg.sum())} negative entr{'y' if neg.sum() == 1 else 'ies'} in "
                f"column(s) {_describe_columns(neg.any(axis=0), names)}; NMF needs nonnegative "
                "data: map it with imaging_genetics.preprocessing.NonnegativeScaler (min-max), "
                "or split signed values with PositiveNegativeSplit"
            )
    return np.ascontiguousarray(arr)


def matrix_list(Xs: Any, name: str) -> list:
    """The items of a list of matrices, with a clear error for what is not one.

    A single matrix (2-D array or table) and a dict are refused rather than
    iterated, which would read rows, column labels or keys as matrices.
    """
    if Xs is None:
        raise TypeError(f"{name}: expected a list of matrices, got None")
    if (isinstance(Xs, np.ndarray) and Xs.ndim == 2) or hasattr(Xs, "columns") or sp.issparse(Xs):
        one = name[:-1] if name.endswith("s") else name
        raise TypeError(f"{name}: expected a list of matrices, got one matrix; wrap it in a list: [{one}]")
    if isinstance(Xs, Mapping):
        raise TypeError(f"{name}: expected a list of matrices, got a {type(Xs).__name__}; "
                        f"pass its values as a list, e.g. list({name}.values())")
    if isinstance(Xs, (str, bytes)) or not hasattr(Xs, "__iter__"):
        raise TypeError(f"{name}: expected a list of matrices, got {type(Xs).__name__}")
    return list(Xs)


def check_matrices(
    Xs: Sequence[Any], name: str, *, min_count: int = 1, **kwargs
) -> list[np.ndarray]:
    """Validate a list of matrices that share their rows (samples)."""
    items = matrix_list(Xs, name)
    if len(items) < min_count:
        raise ValueError(f"{name}: needs at least {min_count} matrix(es), got {len(items)}")
    names = [f"{name}[{i}]" for i in range(len(items))]
    check_row_labels(items, names)
    arrays = [check_matrix(x, nm, **kwargs) for x, nm in zip(items, names)]
    check_same_samples(arrays, names)
    return arrays


def _row_labels(obj: Any) -> Any:
    """The row labels of a pandas table or Series (None for arrays and for tables whose
    rows carry only the default positions 0..n-1, which say nothing about the samples)."""
    if not (hasattr(obj, "columns") or isinstance(obj, pd.Series)):
        return None
    index = getattr(obj, "index", None)
    if index is None or index.equals(pd.RangeIndex(len(index))):
        return None
    return index


def check_row_labels(objs: Sequence[Any], names: Sequence[str]) -> None:
    """Tables given for the same samples carry the same row labels in the same order.

    Arrays are matched by position; so are tables, so labelled tables whose rows
    differ (other samples, or the same in another order) would be paired row by
    row with the wrong subjects. That is an error here, never a silent reordering.
    """
    labelled = [(nm, lab) for nm, lab in ((nm, _row_labels(o)) for o, nm in zip(objs, names))
                if lab is not None]
    if len(labelled) < 2:
        return
    ref_name, ref = labelled[0]
    for nm, lab in labelled[1:]:
        if len(lab) != len(ref) or lab.equals(ref):
            continue  # different row counts are reported by check_same_samples
        how = "the same samples in another order" if set(lab) == set(ref) else "other samples"
        at = next(i for i, (a, b) in enumerate(zip(ref, lab)) if a != b)
        raise ValueError(
            f"{nm}: its row labels differ from those of {ref_name} ({how}; row {at} is "
            f"{lab[at]!r}, not {ref[at]!r}); tables are matched row by row, so align them "
            f"first, e.g. {nm} = {nm}.loc[{ref_name}.index]"
        )


def check_same_samples(arrays: Sequence[np.ndarray], names: Sequence[str]) -> int:
    """All arrays have the same number of rows; return it."""
    ns = [a.shape[0] for a in arrays]
    if len(set(ns)) > 1:
        detail = ", ".join(f"{nm}: {n}" for nm, n in zip(names, ns))
        raise ValueError(
            f"inputs must have the same samples (rows) in the same order; got {detail}"
        )
    return ns[0]


def _finite_real(value: Any, name: str) -> float:
    """``value`` as a float: a real number (not a bool) and finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def check_real(value: Any, name: str, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the interval given by ``low``/``high`` (closed unless
    ``low_open``/``high_open``; ``None`` leaves that side unbounded); returns a float.

    Raises ``TypeError`` for a non-number (bools included) and ``ValueError`` for NaN,
    infinity or a value outside the interval, naming ``name``.
    """
    v = _finite_real(value, name)
    below = low is not None and (v <= low if low_open else v < low)
    above = high is not None and (v >= high if high_open else v > high)
    if below or above:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def check_penalty(value: Any, name: str, *, allow_zero: bool = True) -> float:
    """A finite, nonnegative penalty weight."""
    v = _finite_real(value, name)
    if v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return v


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_adjacency(
    A: Any,
    n_features: int,
    name: str,
    *,
    symmetric: bool = True,
    nonnegative: bool = True,
    shape: tuple[int, int] | None = None,
) -> sp.csr_matrix:
    """Validate a (prior-network or cross-modality) adjacency; return CSR float64.

    Parameters
    ----------
    A : array-like or sparse matrix of shape (n_features, n_features), or ``shape``
    n_features : int
        Expected size of a square adjacency (ignored when ``shape`` is given).
    symmetric : bool
        Require A == A.T (to 1e-8 relative) for a square within-modality graph.
    nonnegative : bool
        Require nonnegative edge weights (a Laplacian with negative weights is not
        positive semi-definite).
    """
    expected = shape if shape is not None else (n_features, n_features)
    if hasattr(A, "to_numpy"):
        A = A.to_numpy()
    try:
        M = sp.csr_matrix(A, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name}: expected a numeric {tuple(expected)} matrix (dense or scipy.sparse), "
            f"got {type(A).__name__} that cannot be converted ({exc})"
        ) from exc
    if M.shape != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {M.shape}")
    if M.nnz and not np.isfinite(M.data).all():
        raise ValueError(f"{name}: contains NaN or infinite edge weights")
    if nonnegative and M.nnz and (M.data < 0).any():
        raise ValueError(
            f"{name}: {int((M.data < 0).sum())} negative edge weight(s); prior networks need "
            "nonnegative weights (use squared or absolute correlations)"
        )
    if symmetric and shape is None:
        diff = abs(M - M.T)
        scale = abs(M).max() if M.nnz else 0.0
        if diff.nnz and diff.max() > 1e-8 * max(scale, 1.0):
            raise ValueError(
                f"{name}: adjacency is not symmetric (max |A - A.T| = {diff.max():.3g}); "
                "symmetrise it, e.g. (A + A.T) / 2"
            )
    M.eliminate_zeros()
    return M
