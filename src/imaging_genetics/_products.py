"""Products of a data matrix with a few vectors at once, in the faster BLAS form.

The iterative solvers multiply a data matrix Z of shape (n, p), n << p, by a
handful of vectors at a time: ``Z W`` with W of shape (p, r) and ``Z^T V`` with V
of shape (n, r), r = 2 .. a few dozen (one column per task, per restart, per
right-hand side). OpenBLAS computes these two with GEMM kernels for a narrow
output, which run 2-5x slower than the same products formed the other way round,
``(W^T Z^T)^T`` and ``(V^T Z)^T``, whose outputs are wide (measured on 2 cores,
Z of 300 x 5000, 159 x 7564 and 1000 x 20000, r = 2 .. 30). A single vector
(r = 1) is a matrix-vector product either way and is left alone.

Both functions return what the plain product returns (a C-contiguous array of the
same shape, up to round-off); which form is used depends only on the shapes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dot", "tdot", "NARROW"]

#: Widest operand (columns) for which the transposed form is used.
NARROW = 64


def _narrow(B: np.ndarray, narrow: int) -> bool:
    return B.ndim == 2 and 2 <= B.shape[1] <= narrow


def dot(Z: np.ndarray, W: np.ndarray, narrow: int = NARROW) -> np.ndarray:
    """``Z @ W``.

    Parameters
    ----------
    Z : ndarray of shape (n, p)
    W : ndarray of shape (p,) or (p, r)
    narrow : int
        Widest W (columns) formed as ``(W^T Z^T)^T``.

    Returns
    -------
    ndarray of shape (n,) or (n, r), C-contiguous
    """
    if isinstance(Z, np.ndarray) and _narrow(W, narrow):
        return np.ascontiguousarray(np.matmul(W.T, Z.T).T)
    return Z @ W


def tdot(Z: np.ndarray, V: np.ndarray, out: np.ndarray | None = None,
         narrow: int = NARROW) -> np.ndarray:
    """``Z^T @ V``.

    Parameters
    ----------
    Z : ndarray of shape (n, p)
    V : ndarray of shape (n,) or (n, r)
    out : ndarray of shape (p, r), optional
        Where to write the result (may be a row block of a larger C-ordered array).
    narrow : int
        Widest V (columns) formed as ``(V^T Z)^T``.

    Returns
    -------
    ndarray of shape (p,) or (p, r): ``out`` when given, else a new C-contiguous array
    """
    if isinstance(Z, np.ndarray) and _narrow(V, narrow):
        prod = np.matmul(V.T, Z).T
        if out is None:
            return np.ascontiguousarray(prod)
        np.copyto(out, prod)
        return out
    if out is None:
        return Z.T @ V
    return np.matmul(Z.T, V, out=out)
