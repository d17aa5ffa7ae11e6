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

Also here: how products are spread over threads without the numbers depending on
the thread count (OpenBLAS rounds its products differently on one thread and on
several): :func:`one_blas_thread`, :func:`even_slices` for fixed blocks,
:func:`available_threads`, :func:`finish_shared` and :class:`BlockedProducts`.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["dot", "tdot", "NARROW", "PlainProducts", "BlockedProducts", "PRODUCT_BLOCKS",
           "one_blas_thread", "even_slices", "available_threads", "finish_shared"]


_CONTROLLER: list = [None, -1]  # the controller, and len(sys.modules) when it was made


def _controller() -> ThreadpoolController:
    """The thread-pool libraries of this process, found once and reused.

    Finding them reads the process's map of loaded libraries (about 5 ms), which
    would otherwise be paid by every small fit; a library loaded later comes with
    an import, so a change in the number of imported modules triggers a new scan.
    """
    if _CONTROLLER[0] is None or _CONTROLLER[1] != len(sys.modules):
        _CONTROLLER[0] = ThreadpoolController()
        _CONTROLLER[1] = len(sys.modules)
    return _CONTROLLER[0]


def one_blas_thread():
    """A context running BLAS on one thread, so that what is computed inside gives
    the same numbers in a joblib or Dask worker (usually one thread) as in the main
    process (all threads)."""
    return _controller().limit(limits=1, user_api="blas")


def available_threads() -> int:
    """Threads a computation may use: the current BLAS thread setting of this process.

    Inside a joblib worker this is already limited to the worker's share of the
    cores; in a plain process it is the number of cores.
    """
    counts = [int(d.get("num_threads") or 1) for d in _controller().info() if d.get("user_api") == "blas"]
    if counts:
        return max(1, max(counts))
    return max(1, os.cpu_count() or 1)


def finish_shared(tasks: list, futures: list) -> list:
    """Results, in order, of the callables ``tasks`` already submitted to a thread
    pool as ``futures``: this thread runs, from the last, every task no worker has
    started (cancelling its future), then awaits the others. Each task runs exactly
    once, so which thread ran it changes nothing in the results."""
    out = [None] * len(tasks)
    ran_here = [False] * len(tasks)
    for i in range(len(tasks) - 1, -1, -1):
        if futures[i].cancel():
            out[i], ran_here[i] = tasks[i](), True
    for i, fut in enumerate(futures):
        if not ran_here[i]:
            out[i] = fut.result()
    return out


def even_slices(m: int, n_blocks: int) -> list[slice]:
    """``range(m)`` in at most ``n_blocks`` contiguous, nearly equal slices."""
    bounds = np.unique(np.linspace(0, m, min(n_blocks, max(m, 1)) + 1).round().astype(int))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

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


#: Column blocks of a large data matrix in :class:`BlockedProducts`. Fixed, so the
#: numbers never depend on how many threads computed the blocks.
PRODUCT_BLOCKS = 8


class PlainProducts:
    """:func:`dot` and :func:`tdot` as they are (one call each)."""

    dot = staticmethod(dot)
    tdot = staticmethod(tdot)

    def close(self) -> None:
        pass


class BlockedProducts(PlainProducts):
    """:func:`dot` and :func:`tdot` with a large data matrix, in ``PRODUCT_BLOCKS``
    fixed column blocks shared by ``n_threads`` threads (this one and a pool).

    Each block is one BLAS call, run by the caller on one BLAS thread; ``tdot``
    writes each block's rows of the result, ``dot`` sums the blocks' partial
    products in block order. Which thread computes a block changes nothing, so the
    result is the same for any ``n_threads``, unlike a multi-threaded BLAS call,
    whose rounding depends on its thread count. For matrices of tens of millions of
    entries (memory-bound products) two threads this way are as fast as two BLAS
    threads (measured on 2 cores: LD graph and MTS2CCA fit at n = 1000, p = 200,000,
    61.9 s against 58-61 s with two BLAS threads and 99 s on one).
    """

    def __init__(self, n_threads: int, n_blocks: int = PRODUCT_BLOCKS) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.n_blocks = int(n_blocks)
        workers = min(int(n_threads), self.n_blocks) - 1
        self._pool = ThreadPoolExecutor(workers) if workers > 0 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _run(self, tasks: list) -> list:
        """Results of the callables ``tasks``, in order; the pool takes what this
        thread does not (this thread starts with the first, then takes over, from
        the last, every task no worker has started)."""
        if self._pool is None or len(tasks) == 1:
            return [t() for t in tasks]
        futures = [self._pool.submit(t) for t in tasks[1:]]
        first = tasks[0]()
        return [first] + finish_shared(tasks[1:], futures)

    def dot(self, Z, W, narrow: int = NARROW):
        if not isinstance(Z, np.ndarray) or Z.shape[1] < 2:
            return dot(Z, W, narrow)
        parts = self._run([lambda s=s: dot(Z[:, s], W[s], narrow) for s in even_slices(Z.shape[1], self.n_blocks)])
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return np.ascontiguousarray(total)

    def tdot(self, Z, V, out=None, narrow: int = NARROW):
        if not isinstance(Z, np.ndarray) or Z.shape[1] < 2:
            return tdot(Z, V, out=out, narrow=narrow)
        res = np.empty((Z.shape[1],) + V.shape[1:]) if out is None else out
        self._run([lambda s=s: tdot(Z[:, s], V, out=res[s], narrow=narrow) for s in even_slices(Z.shape[1], self.n_blocks)])
        return res
