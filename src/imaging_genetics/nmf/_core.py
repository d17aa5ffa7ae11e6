"""One multiplicative-update core for the joint graph-regularised NMF family.

Objective (spec joint_nmf.md §1.2, the JCB-SNMF paper's eq. 6 corrected)::

    F(W, H_1..H_M) =  sum_I ||X_I - W H_I||_F^2
                    - sum_{I<J} lambda_IJ Tr(H_I A_IJ H_J^T)
                    + sum_I beta_I Tr(H_I L_I H_I^T)          L_I = D_I - S_I
                    + gamma1 ||W||_F^2
                    + gamma2 sum_I ||1_k^T H_I||_2^2
    subject to W >= 0, H_I >= 0.

Updates (spec §2.2, Gauss-Seidel: W first, then H_1, ..., H_M with the newest
values)::

    W   <- W   * (sum_I X_I H_I^T) / (W (sum_I H_I H_I^T + gamma1 I) + eps)
    H_I <- H_I * (W^T X_I + 1/2 C_I + beta_I H_I S_I)
               / (W^T W H_I + beta_I H_I D_I + gamma2 E_k H_I + eps)
    C_I  = sum_{J>I} lambda_IJ H_J A_IJ^T + sum_{J<I} lambda_JI H_J A_JI

Corrections with respect to the JCB-SNMF paper's eq. 9:

* the Laplacian is split: ``S_I`` goes to the numerator and ``D_I`` to the
  denominator. The paper's ``beta H_I L_I`` in the denominator can make the
  denominator negative, which produces negative entries and objective increases;
* the cross terms carry a factor 1/2 (gradient of a term linear in H_I, divided by 2);
* ``H_3``'s update uses ``A_13`` (the paper writes a Laplacian of the wrong size) and
  ``gamma2`` (the paper writes a nonexistent ``gamma3``).

Every step is monotone (spec §2.4: ``2K - Q`` is PSD because the signless Laplacian
``D + S`` is PSD), keeps every entry nonnegative and never divides by zero
(``+ eps`` on every denominator).

Stacked restarts
----------------
The public functions take arrays *stacked over restarts*: ``W`` of shape
``(R, n, k)`` and each ``H_I`` of shape ``(R, k, p_I)``. Internally the iterations
run on two wide matrices instead:

* ``Wt`` of shape ``(n, R k)``: the R bases side by side (restart r in columns
  ``r k .. r k + k - 1``);
* ``Ht`` of shape ``(P, R k)``, ``P = sum_I p_I``: the *transposed* coefficients,
  modality blocks stacked by rows (``H_I^T`` of restart r in rows
  ``o_I .. o_I + p_I - 1`` and the columns of restart r).

With this layout every data product of all R restarts and all modalities is one
large matrix product (``[X_1 .. X_M] Ht`` and ``[X_1 .. X_M]^T Wt``), and every
prior product is a sparse matrix times a C-contiguous dense matrix with R k
columns (``A Ht``), which is the fast direction of a CSR product. The prior terms
of one H_I update (its cross terms and its graph term, weights folded into the
matrix) are a single sparse product with one stacked operator.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .._products import even_slices, finish_shared, one_blas_thread, tdot
from .._validation import EPS

__all__ = ["JointProblem", "update_W", "update_H", "objective", "objective_terms", "run_batch"]

#: Denominator floor (float64 machine epsilon), added to every denominator.
_EPS = EPS

# BLAS runs on one thread inside the iterations (:func:`one_blas_thread`), also
# when a single fit runs alone: (a) the result of a fit then never depends on how
# many jobs or threads ran it (every dense product is computed by the same
# single-threaded kernel, so ``n_jobs=1`` and ``n_jobs=2`` give identical numbers;
# OpenBLAS rounds differently on one thread and on several); (b) multi-threaded
# BLAS on these skinny products degrades by orders of magnitude when a core is
# shared with another process (its threads spin-wait for each other). A lone fit
# still uses the other cores (``n_threads`` of :func:`run_batch`): the products with
# X, in fixed blocks, the sparse prior products and the element-wise steps of large
# blocks are shared with worker threads.

#: Above this density a prior matrix is used as a dense array: a dense product
#: runs at the BLAS rate, roughly ten times the rate of a CSR product per
#: floating-point operation, so it is the cheaper of the two from about this
#: density on.
_DENSE_ABOVE = 0.1

#: Columns of the residual block used to compute the fit term (bounds its memory).
_RESIDUAL_BLOCK = 2**20

#: Blocks in which the work of a sweep is shared between threads: the products
#: X H^T (rows of X) and X^T W (columns of X), the prior products of blocks updated
#: earlier in the sweep and large H_I steps (rows); the other prior products use
#: twice as many (rows). Fixed, whatever the thread count, so that every entry is
#: computed by the same call with or without workers (a dense product on a subset
#: of rows need not round like the same rows of the whole product).
_N_BLOCKS = 2

#: Widest factor (restarts x components) for which X^T W is formed as
#: ``(W^T X)^T``: with one BLAS thread this form is faster up to about 200 columns
#: (measured at n = 159, P = 7564, 10 to 3000 columns).
_TRANSPOSED_BELOW = 256

#: An H_I step with at least this many entries is done in ``_N_BLOCKS`` row blocks
#: (below, the cost of handing a block to a worker is larger than the gain).
_SPLIT_ABOVE = 2**15


def _as_operator(M, dtype=np.float64):
    """Keep sparse priors sparse; densify only when a dense product is cheaper."""
    if sp.issparse(M):
        M = sp.csr_matrix(M, dtype=dtype)
        if M.shape[0] * M.shape[1] and M.nnz > _DENSE_ABOVE * M.shape[0] * M.shape[1]:
            return np.ascontiguousarray(M.toarray())
        M.sort_indices()
        return M
    return np.ascontiguousarray(np.asarray(M, dtype=dtype))


def _coef(c):
    """A penalty weight as a scalar or, per restart, as an array of shape (R,).

    An array whose entries are all equal is a scalar: the weight can then be
    folded into the prior matrices.
    """
    if np.ndim(c) == 0:
        return float(c)
    c = np.asarray(c, dtype=np.float64).ravel()
    if c.size and np.all(c == c[0]):
        return float(c[0])
    return c


def _any(c) -> bool:
    return bool(np.any(np.asarray(c) != 0))


def _per_restart(c, R: int) -> np.ndarray:
    """A weight (scalar or (R,) array) as an array of shape (R,)."""
    return np.broadcast_to(np.asarray(c, dtype=np.float64).ravel(), (R,)) if np.ndim(c) else np.full(R, float(c))


# ---------------------------------------------------------------------------
# layout conversions: stacked (R, n, k) / (R, k, p) <-> wide (n, R k) / (P, R k)
# ---------------------------------------------------------------------------


def _wide_W(W: np.ndarray, dtype=np.float64) -> np.ndarray:
    """(R, n, k) -> (n, R k)."""
    R, n, k = W.shape
    return np.ascontiguousarray(np.asarray(W, dtype=dtype).transpose(1, 0, 2)).reshape(n, R * k)


def _stacked_W(Wt: np.ndarray, R: int) -> np.ndarray:
    """(n, R k) -> (R, n, k)."""
    n = Wt.shape[0]
    return np.ascontiguousarray(Wt.reshape(n, R, -1).transpose(1, 0, 2))


def _tall_H(Hs: Sequence[np.ndarray], dtype=np.float64) -> np.ndarray:
    """List of (R, k, p_I) -> (P, R k)."""
    R, k = Hs[0].shape[:2]
    sizes = [H.shape[2] for H in Hs]
    Ht = np.empty((sum(sizes), R * k), dtype=dtype)  # C order: row blocks are C-contiguous operands
    a = 0
    for H, p in zip(Hs, sizes):
        Ht[a:a + p].reshape(p, R, k)[...] = np.asarray(H).transpose(2, 0, 1)
        a += p
    return Ht


def _stacked_H(Ht: np.ndarray, R: int, offsets: np.ndarray) -> list[np.ndarray]:
    """(P, R k) -> list of (R, k, p_I)."""
    P = Ht.shape[0]
    return [np.ascontiguousarray(Ht[a:b].reshape(b - a, R, -1).transpose(1, 2, 0))
            for a, b in zip(offsets[:-1], offsets[1:])] if P else []


# ---------------------------------------------------------------------------
# problem
# ---------------------------------------------------------------------------


@dataclass
class JointProblem:
    """Validated data and priors of one joint NMF fit.

    Attributes
    ----------
    Xs : list of M arrays (n, p_I)
    cross : list of (I, J, lambda_IJ, A_IJ, A_IJ^T) with I < J, A_IJ of shape (p_I, p_J)
    graphs : list of M entries, None or (beta_I, S_I, d_I) with S_I (p_I, p_I) and
        d_I = S_I 1 (the degree vector; D_I is never formed)
    gamma1, gamma2 : float
    dtype : {np.float64, np.float32}
        Precision of the iterations: data, priors and factors are held in it. The
        objective (and so every convergence decision) is always computed in
        float64.

    Every penalty weight (lambda_IJ, beta_I, gamma1, gamma2) may also be a 1-D
    array with one value per stacked restart: fits that share the data and differ
    only in these weights (the points of a penalty grid) then run as one stack,
    exactly like restarts. A term is dropped only when its weight is zero for every
    restart. :meth:`take` keeps the weights of a subset of the stack.
    """

    Xs: list
    cross: list = field(default_factory=list)
    graphs: list | None = None
    gamma1: float = 0.0
    gamma2: float = 0.0
    dtype: type = np.float64

    def __post_init__(self) -> None:
        self.dtype = np.dtype(self.dtype).type
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {np.dtype(self.dtype).name}")
        self.Xs = [np.ascontiguousarray(X, dtype=self.dtype) for X in self.Xs]
        M = len(self.Xs)
        if self.graphs is None:
            self.graphs = [None] * M
        cross = []
        for c in self.cross:
            I, J, lam, A = c[:4]
            if not _any(lam):
                continue
            if len(c) == 5:  # already prepared (see take)
                cross.append((I, J, _coef(lam), A, c[4]))
                continue
            A = _as_operator(A, self.dtype)
            AT = A.T.tocsr() if sp.issparse(A) else np.ascontiguousarray(A.T)
            if sp.issparse(AT):
                AT.sort_indices()
            cross.append((I, J, _coef(lam), A, AT))
        self.cross = cross
        graphs = []
        for g in self.graphs:
            if g is None or not _any(g[0]):
                graphs.append(None)
                continue
            if len(g) == 3:  # already prepared
                graphs.append((_coef(g[0]), g[1], g[2]))
                continue
            beta, S = _coef(g[0]), g[1]
            S = _as_operator(S)
            d = np.asarray(S.sum(axis=1)).ravel().astype(np.float64)  # summed in float64
            graphs.append((beta, S.astype(self.dtype, copy=False), d))
        self.graphs = graphs
        self.gamma1 = _coef(self.gamma1)
        self.gamma2 = _coef(self.gamma2)
        self.sq_norms = [float(np.einsum("ij,ij->", X, X, dtype=np.float64)) for X in self.Xs]
        self._init_shared()

    def _init_shared(self, Xcat=None) -> None:
        sizes = [X.shape[1] for X in self.Xs]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        # [X_1 .. X_M]: one product per step serves every modality
        self.Xcat = np.ascontiguousarray(np.hstack(self.Xs)) if Xcat is None else Xcat
        self._ops = None

    @property
    def n_modalities(self) -> int:
        return len(self.Xs)

    def take(self, keep: np.ndarray) -> "JointProblem":
        """The same problem for the stacked restarts ``keep`` (a boolean mask or indices)."""

        def sub(c):
            return c if np.ndim(c) == 0 else _coef(np.asarray(c)[keep])

        new = object.__new__(JointProblem)
        new.Xs = self.Xs
        new.dtype = self.dtype
        new.sq_norms = self.sq_norms
        new.cross = [(I, J, sub(lam), A, AT) for I, J, lam, A, AT in self.cross]
        new.graphs = [None if g is None else (sub(g[0]), g[1], g[2]) for g in self.graphs]
        new.gamma1 = sub(self.gamma1)
        new.gamma2 = sub(self.gamma2)
        new._init_shared(self.Xcat)
        weights = [c[2] for c in self.cross] + [g[0] for g in self.graphs if g is not None]
        if all(np.ndim(w) == 0 for w in weights):  # the prior operators do not change
            new._ops = self._ops
        return new

    # -- prior operators ---------------------------------------------------
    def prior_operators(self) -> list["_PriorOperator"]:
        """The numerator prior terms ``1/2 C_I + beta_I H_I S_I`` of every modality (cached)."""
        if self._ops is None:
            self._ops = [_PriorOperator.build(self, I) for I in range(self.n_modalities)]
        return self._ops


class _PriorOperator:
    """The prior part of the numerator of one H_I update, in the tall layout.

    ``1/2 C_I^T + beta_I S_I^T H_I^T = sum_terms w * B @ Ht[lo:hi]`` with
    ``B = A_IJ`` (source J > I), ``A_JI^T`` (J < I) or ``S_I^T`` (J = I). Terms are
    split by source: ``old`` terms read blocks J >= I, which the sweep has not
    updated yet when H_I is updated, so they can be computed at any time before
    (e.g. on a worker thread while the dense products run); ``new`` terms read
    blocks J < I, updated earlier in the same sweep. Within each group the sparse
    terms with a weight common to all restarts are one CSR matrix (weights folded
    into its values); every other term (dense, or with one weight per restart) is
    kept apart and scaled after its product.
    """

    def __init__(self, p: int, old: list, new: list) -> None:
        self.p = p
        self.old = old  # list of (B, lo, hi, coef or None)
        self.new = new

    @staticmethod
    def build(prob: JointProblem, I: int) -> "_PriorOperator":
        off = prob.offsets
        p = int(off[I + 1] - off[I])
        terms = []  # (source J, matrix of shape (p, p_J), weight)
        for a, b, lam, A, AT in prob.cross:
            if a == I:  # lambda_IJ H_J A_IJ^T  ->  A_IJ Ht_J
                terms.append((b, A, 0.5 * lam))
            elif b == I:  # lambda_JI H_J A_JI  ->  A_JI^T Ht_J
                terms.append((a, AT, 0.5 * lam))
        g = prob.graphs[I]
        if g is not None:
            beta, S, _ = g
            ST = S.T.tocsr() if sp.issparse(S) else np.ascontiguousarray(S.T)  # H S -> S^T Ht
            terms.append((I, ST, beta))

        def group(selected, lo, hi):
            out, blocks = [], {}
            for J, B, w in selected:
                if np.ndim(w) == 0 and sp.issparse(B):  # weight folded into the values
                    blocks[J] = blocks[J] + w * B if J in blocks else w * B
                elif np.ndim(w) == 0:
                    out.append((w * B, int(off[J]), int(off[J + 1]), None))
                else:
                    out.append((B, int(off[J]), int(off[J + 1]), w))
            if blocks:  # one CSR matrix over the source blocks lo..hi
                Js = range(int(np.searchsorted(off, lo)), int(np.searchsorted(off, hi)))
                parts = [blocks.get(J, sp.csr_matrix((p, int(off[J + 1] - off[J])))) for J in Js]
                B = sp.hstack(parts, format="csr", dtype=prob.dtype)
                B.sum_duplicates()
                B.sort_indices()
                out.insert(0, (B, lo, hi, None))
            return out

        P = int(off[-1])
        old = group([t for t in terms if t[0] >= I], int(off[I]), P)
        new = group([t for t in terms if t[0] < I], 0, int(off[I]))
        return _PriorOperator(p, old, new)

    @staticmethod
    def apply(terms: list, Ht: np.ndarray) -> np.ndarray | None:
        """``sum w * B @ Ht[lo:hi]`` over ``terms``, shape (rows of B, R k), or None."""
        out = None
        for B, lo, hi, w in terms:
            prod = np.asarray(B @ Ht[lo:hi])
            if w is not None:  # one weight per restart: scale the column blocks
                prod.reshape(prod.shape[0], w.size, -1)[...] *= w[None, :, None]
            if out is None:
                out = prod
            else:
                out += prod
        return out

    @staticmethod
    def row_blocks(terms: list, n_blocks: int, p: int) -> list[tuple[slice, list]]:
        """``terms`` split into ``n_blocks`` row blocks balanced by stored entries.

        A CSR product computes every output row from that row's entries in storage
        order, so its blocks give exactly the rows of the whole product; a dense
        product need not, which is why the number of blocks never depends on the
        number of threads (``_N_BLOCKS``).
        """
        if n_blocks <= 1 or p < 2 * n_blocks:
            return [(slice(0, p), terms)]
        work = np.zeros(p)
        for B, lo, hi, w in terms:
            work += np.diff(B.indptr) if sp.issparse(B) else B.shape[1]
        cum = np.cumsum(work + 1.0)
        cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_blocks) / n_blocks)
        bounds = np.unique(np.concatenate([[0], cuts, [p]]))
        return [(slice(int(a), int(b)), [(B[a:b], lo, hi, w) for B, lo, hi, w in terms])
                for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


# ---------------------------------------------------------------------------
# one sweep on the wide layout
# ---------------------------------------------------------------------------


class _Workspace:
    """Buffers and per-restart weights of one stack of R restarts (reused every sweep)."""

    def __init__(self, prob: JointProblem, R: int, k: int, n_threads: int = 1) -> None:
        n, P = prob.Xcat.shape
        self.R, self.k = R, k
        pmax = int(np.diff(prob.offsets).max()) if prob.n_modalities else 0
        dt = prob.dtype
        self.numW = np.empty((n, R * k), dtype=dt)
        self.denW = np.empty((n, R * k), dtype=dt)
        self.num = np.empty((P, R * k), dtype=dt)
        self.den = np.empty((pmax, R * k), dtype=dt)
        self.tmp = np.empty((pmax, R * k), dtype=dt)
        self.gamma1 = _per_restart(prob.gamma1, R)
        self.gamma2 = _per_restart(prob.gamma2, R)
        # beta_I d_I, broadcastable against an H_I^T block viewed as (p_I, R, k)
        self.degree = []
        for g in prob.graphs:
            if g is None:
                self.degree.append(None)
                continue
            beta, _, d = g
            if np.ndim(beta) == 0:
                self.degree.append((beta * d).astype(dt)[:, None, None])
            else:
                self.degree.append((d[:, None, None] * np.asarray(beta)[None, :, None]).astype(dt))
        self.ops = prob.prior_operators()
        # the two products with X in a fixed number of row (column) blocks, whatever the
        # thread count: every entry is then computed by the same call with or without workers
        self.x_rows = even_slices(n, _N_BLOCKS)
        self.x_cols = even_slices(P, _N_BLOCKS)
        self.pool = ThreadPoolExecutor(n_threads - 1) if n_threads > 1 else None
        self.n_threads = n_threads
        # row blocks of the prior terms: the "old" ones finer than the "new" ones (on the
        # critical path), so the main thread can take over the blocks a worker has not
        # started when it reaches them
        self.new_blocks = [_PriorOperator.row_blocks(op.new, _N_BLOCKS, op.p) for op in self.ops]
        self.old_blocks = [_PriorOperator.row_blocks(op.old, 2 * _N_BLOCKS, op.p) for op in self.ops]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


def _block_grams(T: np.ndarray, R: int, k: int) -> np.ndarray:
    """``T_r^T T_r`` for the R column blocks of T (shape (m, R k)) -> (R, k, k)."""
    G = np.empty((R, k, k), dtype=T.dtype)
    for r in range(R):
        blk = T[:, r * k:(r + 1) * k]
        np.matmul(blk.T, blk, out=G[r])
    return G


def _xh_tasks(prob: JointProblem, ws: _Workspace, Ht: np.ndarray) -> list:
    """The W step's numerator ``ws.numW = X H^T`` as tasks, one per fixed row block of X."""
    return [(_rows_product, (prob.Xcat, Ht, ws.numW, rows)) for rows in ws.x_rows]


def _step_W(prob: JointProblem, ws: _Workspace, Wt: np.ndarray, Ht: np.ndarray,
            submitted: list | None = None) -> None:
    """W step in place: ``W <- W * (X H^T) / (W (H H^T + gamma1 I) + eps)``.

    ``submitted``: futures of :func:`_xh_tasks` already handed to the workers.
    """
    _run_tasks(ws, _xh_tasks(prob, ws, Ht), submitted)
    R, k = ws.R, ws.k
    num, den = ws.numW, ws.denW
    G = _block_grams(Ht, R, k)  # sum_I H_I H_I^T
    if np.any(ws.gamma1):
        G[:, np.arange(k), np.arange(k)] += ws.gamma1[:, None]
    for r in range(R):
        np.matmul(Wt[:, r * k:(r + 1) * k], G[r], out=den[:, r * k:(r + 1) * k])
    den += _EPS
    np.divide(num, den, out=num)
    Wt *= num


def _rows_product(A: np.ndarray, B: np.ndarray, out: np.ndarray, rows: slice) -> None:
    """``out[rows] = A[rows] @ B``."""
    np.matmul(A[rows], B, out=out[rows])


def _cols_product(A: np.ndarray, B: np.ndarray, out: np.ndarray, cols: slice) -> None:
    """``out[cols] = A[:, cols]^T @ B`` (see :func:`imaging_genetics._products.tdot`;
    BLAS is single-threaded here, where the transposed form pays up to
    ``_TRANSPOSED_BELOW`` columns)."""
    tdot(A[:, cols], B, out=out[cols], narrow=_TRANSPOSED_BELOW)


def _quiet(f, *args):
    """``f(*args)`` with overflow and invalid operations silent, as on the main thread
    (a diverging restart is detected at the next check; the error state is per thread)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return f(*args)


def _submit(pool: ThreadPoolExecutor, f, *args):
    """``f(*args)`` on a worker thread, with the main thread's floating-point error state."""
    return pool.submit(_quiet, f, *args)


def _submit_all(pool: ThreadPoolExecutor, tasks: list) -> list:
    """Every task ``(function, args)`` on the workers, in order; their futures."""
    return [_submit(pool, f, *a) for f, a in tasks]


def _run_tasks(ws: _Workspace, tasks: list, submitted: list | None = None) -> None:
    """Run independent tasks ``(function, args)``; with a pool, share them with the workers.

    Tasks already submitted (``submitted``, futures in the order of ``tasks``) are
    awaited; the main thread takes over, from the last, every task a worker has not
    started.
    """
    if ws.pool is None:
        for f, a in tasks:
            f(*a)
        return
    futs = submitted if submitted is not None else _submit_all(ws.pool, tasks)
    finish_shared([functools.partial(f, *a) for f, a in tasks], futs)


def _h_matrices(ws: _Workspace, Wt: np.ndarray, WtW: np.ndarray | None = None) -> np.ndarray:
    """``W_r^T W_r + gamma2 E_k`` per restart, shape (R, k, k).

    ``gamma2 E_k H`` (every row the column sums of H) is folded into the k x k
    matrix that multiplies H, so the denominator's dense part is one product.
    ``WtW`` (R, k, k), when given, is used for ``W_r^T W_r`` (and not modified).
    """
    Q = _block_grams(Wt, ws.R, ws.k) if WtW is None else np.array(WtW, dtype=Wt.dtype)
    if np.any(ws.gamma2):
        Q += ws.gamma2[:, None, None]
    return Q


def _finish_H(prob, ws: _Workspace, Ht: np.ndarray, Q: np.ndarray, I: int, num: np.ndarray) -> None:
    """H_I step in place, given its numerator ``num`` (p_I, R k) (overwritten).

    Every row of H_I^T is updated from that row alone, so a large block is done in
    a fixed number of row blocks, shared with the workers.
    """
    p = int(prob.offsets[I + 1] - prob.offsets[I])
    blocks = even_slices(p, _N_BLOCKS) if p * ws.R * ws.k >= _SPLIT_ABOVE else [slice(0, p)]
    _run_tasks(ws, [(_finish_H_rows, (prob, ws, Ht, Q, I, num, rows)) for rows in blocks])


def _finish_H_rows(prob, ws: _Workspace, Ht: np.ndarray, Q: np.ndarray, I: int, num: np.ndarray,
                   rows: slice) -> None:
    """:func:`_finish_H` on the rows ``rows`` of H_I^T."""
    R, k = ws.R, ws.k
    a = int(prob.offsets[I])
    H = Ht[a + rows.start:a + rows.stop]
    p = H.shape[0]
    num = num[rows]
    den = ws.den[rows]
    for r in range(R):  # (W^T W + gamma2 E_k) H_I, transposed
        np.matmul(H[:, r * k:(r + 1) * k], Q[r], out=den[:, r * k:(r + 1) * k])
    deg = ws.degree[I]
    if deg is not None:  # beta_I H_I D_I
        tmp = ws.tmp[rows]
        np.multiply(H.reshape(p, R, k), deg[rows], out=tmp.reshape(p, R, k))
        den += tmp
    den += _EPS
    np.divide(num, den, out=num)
    H *= num


def _add_row_blocks(num: np.ndarray, blocks: list, futures: dict, Ht: np.ndarray) -> None:
    """``num[rows] += product`` for every row block of prior terms.

    ``futures`` maps a block index to its product submitted to a worker; blocks
    without one, or whose worker has not started (last first), are computed on
    this thread, the others awaited. The blocks cover disjoint rows, so the result
    does not depend on which thread computed which block. Blocks without a future
    are computed first: a block submitted a moment ago has not started yet, and
    taking it over at once would leave its worker idle.
    """
    parts = {j: _PriorOperator.apply(terms, Ht) for j, (_, terms) in enumerate(blocks) if j not in futures}
    shared = sorted(futures)
    parts.update(zip(shared, finish_shared([functools.partial(_PriorOperator.apply, blocks[j][1], Ht) for j in shared],
                                           [futures[j] for j in shared])))
    for j, (rows, _) in enumerate(blocks):
        if parts[j] is not None:
            num[rows] += parts[j]


def _sweep(prob: JointProblem, ws: _Workspace, Wt: np.ndarray, Ht: np.ndarray) -> None:
    """One Gauss-Seidel sweep in place: W, then H_1, ..., H_M, each with the newest values.

    With a thread pool the two products with X run in fixed blocks on all threads,
    the "old" prior products (blocks not updated yet in this sweep) start at once
    on the workers, overlapped with the dense products of the main thread, the
    "new" ones are split by rows over all threads, and so are the element-wise
    steps of large blocks. Every entry is computed by the same call, and every
    sum formed in the same order, with or without the pool, so the iterates do
    not depend on the number of threads.
    """
    pool, ops = ws.pool, ws.ops
    # the dense blocks first: the W step waits for them, the old prior products can wait
    xh_futs = _submit_all(pool, _xh_tasks(prob, ws, Ht)) if pool is not None else None
    early = [{j: _submit(pool, _PriorOperator.apply, terms, Ht) for j, (_, terms) in enumerate(blocks)}
             if (pool is not None and op.old) else {} for op, blocks in zip(ops, ws.old_blocks)]
    _step_W(prob, ws, Wt, Ht, xh_futs)
    Q = _h_matrices(ws, Wt)
    # W^T X_I of every modality, by column blocks of X
    _run_tasks(ws, [(_cols_product, (prob.Xcat, Wt, ws.num, cols)) for cols in ws.x_cols])
    for I, op in enumerate(ops):
        a, b = int(prob.offsets[I]), int(prob.offsets[I + 1])
        num = ws.num[a:b]
        if op.old:
            _add_row_blocks(num, ws.old_blocks[I], early[I], Ht)
        if op.new:
            blocks = ws.new_blocks[I]
            # block 0 stays on this thread, the others go to the workers
            futs = {j: _submit(pool, _PriorOperator.apply, terms, Ht)
                    for j, (_, terms) in enumerate(blocks) if j > 0} if pool is not None else {}
            _add_row_blocks(num, blocks, futs, Ht)
        _finish_H(prob, ws, Ht, Q, I, num)


# ---------------------------------------------------------------------------
# objective
# ---------------------------------------------------------------------------


def _objective_terms_wide(prob: JointProblem, Wt: np.ndarray, Ht: np.ndarray, R: int, pool=None) -> dict:
    """Each term of F per restart, on the wide layout.

    With a thread pool the prior terms (sparse products) are computed on a worker
    while this thread computes the fit term; the numbers are the same either way.
    Always in float64, whatever the precision of the iterations.
    """
    if Wt.dtype != np.float64:
        Wt, Ht = Wt.astype(np.float64), Ht.astype(np.float64)
    priors = _submit(pool, _prior_terms, prob, Ht, R) if pool is not None else None
    fit = _fit_term(prob, Wt, Ht, R)
    cross, smooth = priors.result() if priors is not None else _prior_terms(prob, Ht, R)
    k = Wt.shape[1] // R if R else 0
    W3 = Wt.reshape(Wt.shape[0], R, k)
    basis = _per_restart(prob.gamma1, R) * np.einsum("nrk,nrk->r", W3, W3)
    sparsity = np.zeros(R)
    if _any(prob.gamma2):
        c = Ht.reshape(Ht.shape[0], R, k).sum(axis=2)  # column sums of every H_I, (P, R)
        c *= c
        sparsity = _per_restart(prob.gamma2, R) * c.sum(axis=0)
    return {"fit": fit, "cross": cross, "smoothness": smooth, "basis": basis, "sparsity": sparsity}


def _fit_term(prob: JointProblem, Wt: np.ndarray, Ht: np.ndarray, R: int) -> np.ndarray:
    """``||X - W H||_F^2`` per restart, from the residual (no cancellation error), in column blocks."""
    k = Wt.shape[1] // R if R else 0
    X = prob.Xcat
    n, P = X.shape
    fit = np.zeros(R)
    width = max(1, _RESIDUAL_BLOCK // max(n, 1))
    for r in range(R):
        w = Wt[:, r * k:(r + 1) * k]
        h = Ht[:, r * k:(r + 1) * k]
        for c0 in range(0, P, width):
            c1 = min(P, c0 + width)
            E = w @ h[c0:c1].T
            np.subtract(X[:, c0:c1], E, out=E)
            e = E.ravel()
            fit[r] += float(np.dot(e, e))
    return fit


def _prior_terms(prob: JointProblem, Ht: np.ndarray, R: int) -> tuple[np.ndarray, np.ndarray]:
    """The cross terms ``-lambda_IJ Tr(H_I A_IJ H_J^T)`` and the graph terms
    ``beta_I Tr(H_I L_I H_I^T)`` per restart, each summed over the priors."""
    k = Ht.shape[1] // R if R else 0
    off = prob.offsets
    cross = np.zeros(R)
    for I, J, lam, A, AT in prob.cross:
        prod = np.asarray(A @ Ht[off[J]:off[J + 1]])  # A_IJ H_J^T
        prod *= Ht[off[I]:off[I + 1]]
        tr = prod.sum(axis=0).reshape(R, k).sum(axis=1)
        cross -= _per_restart(lam, R) * tr
    smooth = np.zeros(R)
    for I, g in enumerate(prob.graphs):
        if g is None:
            continue
        beta, S, d = g
        H = Ht[off[I]:off[I + 1]]
        SH = np.asarray(S @ H)
        SH *= H
        HH = H * H
        # sum_p d_p ||h_p||^2 - <H, H S>, per column, then summed over each restart's k columns
        quad = (d @ HH - SH.sum(axis=0)).reshape(R, k).sum(axis=1)
        smooth += _per_restart(beta, R) * np.maximum(quad, 0.0)  # Tr(H L H^T) >= 0; clip round-off
    return cross, smooth


def _total(t: dict) -> np.ndarray:
    return t["fit"] + t["cross"] + t["smoothness"] + t["basis"] + t["sparsity"]


# ---------------------------------------------------------------------------
# public functions on stacked arrays
# ---------------------------------------------------------------------------


def update_W(prob: JointProblem, W: np.ndarray, Hs: Sequence[np.ndarray]) -> np.ndarray:
    """Multiplicative W step (eq. (1) of spec §2.2), stacked over restarts.

    W of shape (R, n, k), Hs list of (R, k, p_I); returns the new W (R, n, k).
    """
    R, n, k = W.shape
    ws = _Workspace(prob, R, k)
    Wt = _wide_W(W, prob.dtype)
    _step_W(prob, ws, Wt, _tall_H(Hs, prob.dtype))
    return _stacked_W(Wt, R)


def update_H(
    prob: JointProblem,
    W: np.ndarray,
    WtW: np.ndarray,
    Hs: list,
    I: int,
    WtX: np.ndarray | None = None,
) -> np.ndarray:
    """Multiplicative step of block H_I (eq. (2) of spec §2.2) with the newest blocks.

    W (R, n, k), WtW (R, k, k) = W^T W, Hs list of (R, k, p_I), optional WtX
    (R, k, p_I) = W^T X_I. Numerator ``W^T X_I + 1/2 C_I + beta_I H_I S_I``;
    denominator ``(W^T W + gamma2 E_k) H_I + beta_I H_I D_I + eps``. Returns the new
    H_I (R, k, p_I); the inputs are not modified.
    """
    R, n, k = W.shape
    ws = _Workspace(prob, R, k)
    Wt = _wide_W(W, prob.dtype)
    Ht = _tall_H(Hs, prob.dtype)
    a, b = int(prob.offsets[I]), int(prob.offsets[I + 1])
    if WtX is None:
        num = prob.Xs[I].T @ Wt
    else:
        num = np.ascontiguousarray(np.asarray(WtX, dtype=prob.dtype).transpose(2, 0, 1)).reshape(b - a, R * k)
    op = ws.ops[I]
    for terms in (op.old, op.new):
        part = _PriorOperator.apply(terms, Ht)
        if part is not None:
            num += part
    _finish_H(prob, ws, Ht, _h_matrices(ws, Wt, WtW), I, num)
    return np.ascontiguousarray(Ht[a:b].reshape(b - a, R, k).transpose(1, 2, 0))


def objective_terms(prob: JointProblem, W: np.ndarray, Hs: Sequence[np.ndarray]) -> dict:
    """Each term of F per restart (arrays of shape (R,)).

    W (R, n, k), Hs list of (R, k, p_I). The fit term is computed from the
    residual ``X_I - W H_I``, not from the Gram expansion, so it has no
    cancellation error. On one BLAS thread, as the sweeps (:func:`one_blas_thread`), so the
    reported terms are the same in any process.
    """
    with one_blas_thread():
        return _objective_terms_wide(prob, _wide_W(W), _tall_H(Hs), W.shape[0])


def objective(prob: JointProblem, W: np.ndarray, Hs: Sequence[np.ndarray]) -> np.ndarray:
    """The objective F of spec §1.2 for each stacked restart, shape (R,)."""
    return _total(objective_terms(prob, W, Hs))


def iterate(prob: JointProblem, W: np.ndarray, Hs: list) -> tuple[np.ndarray, list]:
    """One Gauss-Seidel sweep: W, then H_1, ..., H_M, each with the newest values."""
    R, n, k = W.shape
    ws = _Workspace(prob, R, k)
    Wt, Ht = _wide_W(W, prob.dtype), _tall_H(Hs, prob.dtype)
    _sweep(prob, ws, Wt, Ht)
    return _stacked_W(Wt, R), _stacked_H(Ht, R, prob.offsets)


def run_batch(
    prob: JointProblem,
    W: np.ndarray,
    Hs: list,
    *,
    max_iter: int,
    tol: float,
    check_every: int = 10,
    n_threads: int = 1,
) -> list[dict]:
    """Iterate stacked restarts until each converges; return one result per restart.

    W of shape (R, n, k), Hs list of (R, k, p_I). A restart stops when its relative
    objective decrease over the last ``check_every`` iterations,
    ``(F_prev - F) / max(|F_0|, tiny)``, falls below ``tol``, or at ``max_iter``.
    Finished restarts leave the stack, so every result is the one that restart
    would give alone. A restart whose iterates stop being finite (an unbounded
    objective, spec §2.5) is stopped and reported with ``objective = inf``.

    ``n_threads`` > 1 shares each sweep, and the objective at each check, with
    worker threads (see :func:`_sweep`); the numbers do not depend on it.

    Returns
    -------
    list of dict with keys ``W`` (n, k), ``Hs`` (list of (k, p_I)), ``trace``
    (objective at iteration 0 and at every check), ``n_iter``, ``converged``,
    ``finite``.
    """
    # overflow of a diverging restart is detected at the next check and reported
    with np.errstate(over="ignore", invalid="ignore"), one_blas_thread():
        return _run_batch(prob, W, Hs, max_iter=max_iter, tol=tol, check_every=check_every,
                          n_threads=n_threads)


def _run_batch(prob, W, Hs, *, max_iter, tol, check_every, n_threads):
    R, n, k = W.shape
    Wt = _wide_W(W, prob.dtype)
    Ht = _tall_H(Hs, prob.dtype)
    off = prob.offsets
    F = _total(_objective_terms_wide(prob, Wt, Ht, R))
    traces = [[float(f)] for f in F]
    F0 = np.abs(F)
    Fprev = F.copy()
    active = np.arange(R)
    results: list[dict | None] = [None] * R

    def finish(local: np.ndarray, it: int, converged: bool, finite: bool = True) -> None:
        for j in local:
            r = int(active[j])
            cols = slice(j * k, (j + 1) * k)
            results[r] = {
                "W": Wt[:, cols].copy(),
                "Hs": [np.ascontiguousarray(Ht[a:b, cols].T) for a, b in zip(off[:-1], off[1:])],
                "trace": np.asarray(traces[r]),
                "n_iter": it,
                "converged": converged,
                "finite": finite,
            }

    ws = _Workspace(prob, R, k, n_threads=max(1, int(n_threads)) if max_iter > 0 else 1)
    try:
        it = 0
        for it in range(1, max_iter + 1):
            _sweep(prob, ws, Wt, Ht)
            last = it == max_iter
            if it % check_every and not last:
                continue
            m = len(active)
            F = _total(_objective_terms_wide(prob, Wt, Ht, m, ws.pool))
            bad = ~np.isfinite(F)
            bad |= ~np.isfinite(Wt.reshape(n, m, k)).all(axis=(0, 2))
            for j in range(m):
                traces[int(active[j])].append(float(F[j]))
            rel = (Fprev - F) / np.maximum(F0, np.finfo(np.float64).tiny)
            # tol = 0 means "run max_iter sweeps" (a round-off-level increase must not stop it)
            done = (rel < tol) & ~bad if tol > 0 else np.zeros(m, dtype=bool)
            if bad.any():
                finish(np.flatnonzero(bad), it, False, finite=False)
            if last:
                finish(np.flatnonzero(done), it, True)
                finish(np.flatnonzero(~(done | bad)), it, False)
                active = active[:0]
                break
            if done.any():
                finish(np.flatnonzero(done), it, True)
            keep = ~(done | bad)
            if not keep.all():
                idx = np.flatnonzero(keep)
                cols = (idx[:, None] * k + np.arange(k)).ravel()
                active, F0, F = active[keep], F0[keep], F[keep]
                Wt = np.ascontiguousarray(Wt[:, cols])
                Ht = np.ascontiguousarray(Ht[:, cols])
                prob = prob.take(keep)
                threads = ws.n_threads
                ws.close()
                if active.size:
                    ws = _Workspace(prob, active.size, k, n_threads=threads)
            Fprev = F
            if active.size == 0:
                break
        if active.size:  # max_iter == 0
            finish(np.arange(active.size), it, False)
    finally:
        ws.close()
    return results  # type: ignore[return-value]
