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

__all__ = ["vdot", "pearson"]


def vdot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum_i a_i b_i`` for two 1-D arrays of equal length."""
    return float(np.einsum("i,i->", a, b))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays; 0 when either is constant.

    Parameters
    ----------
    a, b : ndarray of shape (n,)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt(vdot(a, a) * vdot(b, b))
    return vdot(a, b) / den if den > EPS else 0.0
