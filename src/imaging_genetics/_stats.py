"""Pearson correlation and inner products of long vectors whose values do not depend
on the BLAS thread count.

OpenBLAS splits a dot product of more than about 10,000 entries over its threads,
and the partial sums then round differently on one thread and on several. Scores
computed in a joblib or Dask worker (usually one thread) must equal those computed
in the main process (all threads), so these reductions use NumPy's own summation
(``einsum``), which never calls BLAS.
"""

from __future__ import annotations

import numpy as np

from ._validation import EPS

__all__ = ["vdot", "norm", "pearson", "centred", "centred_columns", "column_spread"]


def vdot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum_i a_i b_i`` for two 1-D arrays of equal length."""
    return float(np.einsum("i,i->", a, b))


def centred(a: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """``a`` scaled to a largest magnitude of 1, minus its mean; its sum of squares;
    and whether ``a`` varies.

    The scaling keeps the sums of squares of very small or very large values from
    under- or overflowing; correlations do not depend on it. A constant array
    leaves only the rounding of its mean, a few units in the last place; ``a``
    varies when its spread exceeds that, whatever its scale.

    Parameters
    ----------
    a : ndarray of shape (n,)
    """
    a = np.asarray(a, dtype=np.float64)
    c, top = _unit_scaled(a)
    if not top > 0.0:  # all zero (or not finite: the sums below are then nan)
        return a - a.mean(), 0.0 if top == 0.0 else float("nan"), False
    c -= c.mean()
    ss = vdot(c, c)
    return c, ss, bool(ss > (_MEAN_ULPS * EPS) ** 2 * c.size)


def centred_columns(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`centred` of every column of A at once: the centred columns, their sums
    of squares and which columns vary, equal to those of a loop over the columns.

    Each column is copied into a contiguous row first, so its mean and sum of
    squares are summed in the same order as :func:`centred` sums them.

    Parameters
    ----------
    A : ndarray of shape (n, p)

    Returns
    -------
    C : ndarray of shape (n, p)
    ss : ndarray of shape (p,)
    varies : bool ndarray of shape (p,)
    """
    At = np.array(np.asarray(A, dtype=np.float64).T, order="C")  # (p, n), one column per row
    top = np.abs(At).max(axis=1, initial=0.0)
    scaled = top > 0.0  # False when all zero or nan: those columns are only centred
    At /= np.where(scaled, top, 1.0)[:, None]
    At -= At.mean(axis=1, keepdims=True)
    ss = np.einsum("ij,ij->i", At, At)
    varies = scaled & (ss > (_MEAN_ULPS * EPS) ** 2 * At.shape[1])
    return At.T, ss, varies


def norm(a: np.ndarray) -> float:
    """Euclidean norm of a 1-D array, scaled so that its squares cannot under- or
    overflow; 0 for zeros, nan when not finite."""
    c, top = _unit_scaled(np.asarray(a, dtype=np.float64))
    if not top > 0.0:
        return top if top == 0.0 else float("nan")
    return top * float(np.sqrt(vdot(c, c)))


def column_spread(A: np.ndarray, ddof: int = 0, skip_nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviation and largest magnitude of every column of A.

    Each column is divided by its largest magnitude before the squares are summed,
    so values near 1e160 do not overflow and values near 1e-200 do not underflow;
    the spread is then scaled back. ``skip_nan``: NaN entries are left out.

    Parameters
    ----------
    A : ndarray of shape (n, p)

    Returns
    -------
    sd, top : ndarrays of shape (p,)
    """
    top = (np.nanmax if skip_nan else np.max)(np.abs(A), axis=0, initial=0.0)
    unit = np.where(top > 0, top, 1.0)
    sd = (np.nanstd if skip_nan else np.std)(A / unit, axis=0, ddof=ddof) * unit
    return sd, top


def _unit_scaled(a: np.ndarray) -> tuple[np.ndarray | None, float]:
    """``a / max|a|`` and ``max|a|`` (None and that maximum when it is 0 or not finite)."""
    top = float(np.abs(a).max(initial=0.0))
    return (a / top if top > 0.0 else None), top


#: Units in the last place that the rounding of a mean may reach (pairwise
#: summation of a billion values stays below 30).
_MEAN_ULPS = 64


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays; 0 when either is constant.

    Invariant to the scale of either array (:func:`centred`).

    Parameters
    ----------
    a, b : ndarray of shape (n,)
    """
    a, ssa, a_varies = centred(a)
    b, ssb, b_varies = centred(b)
    if not (a_varies and b_varies):
        return 0.0
    return vdot(a, b) / (np.sqrt(ssa) * np.sqrt(ssb))
