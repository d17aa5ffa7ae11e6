"""Solver core of the structured sparse CCA family.

Every model of the family alternates between two *block* updates. A block is a set
of weight vectors ``ws`` (a list of 1-D arrays): the SNP weights ``u_k`` or the
imaging weights ``v_k``. With the other block fixed, one update solves a reweighted
quadratic subproblem (spec sparse_cca.md §2.2, §3-§6)

    min_w  sum_k alpha ||Z_k w_k - t_k||^2 / n  +  sum_terms surrogate_term(w)        (1)

whose stationarity condition, divided by 2, is the linear system

    [ alpha * blockdiag(Z_k' Z_k / n) + H ] w = b,      b_k = Z_k' t_k / n,          (2)

with ``H`` the sum of the penalty terms' half-Hessians (``term.hessian``). Penalties
that are not quadratic (l1, l2,1, group l2,1, fusion) are replaced by their
majorising quadratic at the previous iterate (iteratively reweighted, the
"alternating iteratively reweighted algorithm" of the MTS2CCA paper):
``||a|| <= ||a||^2 / (2 ||a_old||) + ||a_old|| / 2``.

Two layouts of a block:

* ``shared``: every vector has the same length m and the *same* matrix (2) (the
  SNP block: ``Z = X`` for all tasks, and every penalty on U is the same for all
  columns). One factorisation (dense) or one block-CG run serves all K right-hand
  sides.
* ``stacked``: the vectors (possibly of different lengths) are stacked into one
  unknown of length sum_k m_k and (2) is one system; penalties may couple the
  vectors (the fusion penalty of JCB-SCCA).

Linear systems are solved by matrix-free preconditioned conjugate gradients:
products ``Z'(Z w)``, sparse penalty matrices, a Jacobi preconditioner and a warm
start from the previous solution, so no m x m matrix is ever formed. Small systems
(at most ``CG_FIRST_ABOVE`` unknowns) are factorised (Cholesky, or Woodbury for one
data matrix with n <= m / 4); up to ``dense_max`` the solver turns to that
factorisation once conjugate gradients struggle (see ``CG_BUDGET``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._products import PlainProducts
from .._validation import EPS

__all__ = [
    "L1",
    "L21",
    "GroupL21",
    "GraphNet",
    "Ridge",
    "Fusion",
    "LinearSolver",
    "DENSE_MAX",
]

#: Default dimension above which ``solver="auto"`` never factorises (conjugate
#: gradients only).
DENSE_MAX = 2000

#: ``solver="auto"`` with more than ``CG_FIRST_ABOVE`` (and at most ``dense_max``)
#: unknowns starts with conjugate gradients and turns to the factorisation it would
#: otherwise use (Cholesky or Woodbury) for the rest of the fit the first time a
#: solve needs more than ``CG_BUDGET`` iterations. Measured on 2 cores at n = 300:
#: with moderate penalties every solve of the six models took at most 12
#: iterations and CG was 1.3-12x faster per fit at p = 500-2000 (SCCA at p = 2000:
#: 1.2 s against 68 s); with penalties of 1e-4 the systems are ill-conditioned,
#: solves take hundreds of iterations and the factorisation is up to 23x faster.
CG_FIRST_ABOVE = 400
CG_BUDGET = 30

#: ``solver="auto"`` uses the Woodbury solve while the (n, p) work array fits in this.
WOODBURY_MAX_BYTES = 512 * 2**20

#: Smallest penalty diagonal, relative to the largest data diagonal, for the Woodbury solve.
WOODBURY_MIN_RATIO = 1e-7

#: Sparse factorisation of H only while it has at most this many entries per row.
WOODBURY_MAX_FILL = 40

#: Inexact conjugate-gradient solves inside the alternating loop: the relative
#: residual asked of the SNP solve is ``INEXACT_FACTOR`` times the relative change
#: of the weights in the previous iteration, at most ``INEXACT_MAX_RTOL`` and at
#: least the solver's ``cg_tol`` (which the final iteration always uses).
INEXACT_FACTOR = 0.3
INEXACT_MAX_RTOL = 1e-3

#: Squared-norm floor in the reweighting 1 / (2 sqrt(||a||^2 + eps)).
REWEIGHT_EPS = 1e-12


def _root(sq: np.ndarray) -> np.ndarray:
    return np.sqrt(sq + REWEIGHT_EPS)


# Column-wise and row-wise inner products without the (m, r) temporary of
# ``(A * B).sum(axis=...)``: about twice as fast at the (p, K) shapes of the
# iterations, which call them a few dozen times each.
def _col_dot(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``sum_i A_ij B_ij`` for A, B of shape (m, r) -> (r,)."""
    return np.einsum("ij,ij->j", A, B)


def _row_sq(W: np.ndarray) -> np.ndarray:
    """``sum_j W_ij^2`` for W of shape (m, r) -> (m,)."""
    return np.einsum("ij,ij->i", W, W)


# --------------------------------------------------------------------------------------
# Penalty terms. Each term knows its strength ``coef``; ``value`` is the true penalty,
# ``surrogate`` its majoriser built at ``ws_old`` (equal to ``value`` at ``ws_old``),
# ``hessian`` half the Hessian of the surrogate (the matrix added to (2)).
# ``stacked`` selects the layout of the returned matrix (see the module docstring).
# --------------------------------------------------------------------------------------


class _Term:
    coef: float

    def value(self, ws: Sequence[np.ndarray]) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def surrogate(self, ws, ws_old) -> float:
        return self.value(ws)

    def hessian(self, ws_old, stacked: bool) -> sp.spmatrix:  # pragma: no cover
        raise NotImplementedError

    def hessian_diagonal(self, ws_old, stacked: bool) -> np.ndarray | None:
        """The diagonal of :meth:`hessian` when that matrix is diagonal, else None.

        Diagonal terms are summed as vectors, which spares building and adding a
        sparse matrix per term at every iteration.
        """
        return None


class _DiagonalTerm(_Term):
    """A term whose half-Hessian is diagonal: :meth:`hessian_diagonal` defines it."""

    def hessian(self, ws_old, stacked):
        return sp.diags(self.hessian_diagonal(ws_old, stacked), format="csr")

    def hessian_diagonal(self, ws_old, stacked) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _stack_rows(ws: Sequence[np.ndarray], name: str) -> np.ndarray:
    lengths = {w.shape[0] for w in ws}
    if len(lengths) != 1:
        raise ValueError(f"{name} couples features across vectors of equal length only")
    return np.column_stack(ws)


class L1(_DiagonalTerm):
    """``coef * sum_k ||w_k||_1`` (lasso; SCCA's beta, JCB-SCCA's beta)."""

    def __init__(self, coef: float) -> None:
        self.coef = float(coef)

    def value(self, ws):
        return self.coef * float(sum(np.abs(w).sum() for w in ws))

    def surrogate(self, ws, ws_old):
        tot = 0.0
        for w, w0 in zip(ws, ws_old):
            r = _root(w0 * w0)
            tot += float((w * w / (2 * r) + r / 2).sum())
        return self.coef * tot

    def hessian_diagonal(self, ws_old, stacked):
        if not stacked and len(ws_old) > 1:
            raise ValueError("an l1 term differs between columns: use one column per system")
        d = np.concatenate([1.0 / (2 * _root(w * w)) for w in ws_old])
        return self.coef * d


class L21(_DiagonalTerm):
    """``coef * ||W||_{2,1}`` over the rows of ``W = [w_1 ... w_K]`` (MTS2CCA's beta)."""

    def __init__(self, coef: float) -> None:
        self.coef = float(coef)

    def value(self, ws):
        W = _stack_rows(ws, "the l2,1 penalty")
        return self.coef * float(np.sqrt(_row_sq(W)).sum())

    def surrogate(self, ws, ws_old):
        W, W0 = _stack_rows(ws, "l2,1"), _stack_rows(ws_old, "l2,1")
        r = _root(_row_sq(W0))
        return self.coef * float((_row_sq(W) / (2 * r) + r / 2).sum())

    def hessian_diagonal(self, ws_old, stacked):
        W0 = _stack_rows(ws_old, "the l2,1 penalty")
        d = self.coef / (2 * _root(_row_sq(W0)))
        return np.tile(d, W0.shape[1]) if stacked else d


class GroupL21(_DiagonalTerm):
    """``coef * sum_g ||W_{g,:}||_F`` over feature groups (MTGSCCA's group penalty).

    ``groups`` holds one integer label per row of W (e.g. LD blocks).
    """

    def __init__(self, coef: float, groups: np.ndarray) -> None:
        self.coef = float(coef)
        self.groups = np.asarray(groups)
        _, self._codes = np.unique(self.groups, return_inverse=True)

    def _group_sq(self, W):
        return np.bincount(self._codes, weights=_row_sq(W))

    def value(self, ws):
        W = _stack_rows(ws, "the group penalty")
        return self.coef * float(np.sqrt(self._group_sq(W)).sum())

    def surrogate(self, ws, ws_old):
        W, W0 = _stack_rows(ws, "group"), _stack_rows(ws_old, "group")
        r = _root(self._group_sq(W0))
        return self.coef * float((self._group_sq(W) / (2 * r) + r / 2).sum())

    def hessian_diagonal(self, ws_old, stacked):
        W0 = _stack_rows(ws_old, "the group penalty")
        d = (self.coef / (2 * _root(self._group_sq(W0))))[self._codes]
        return np.tile(d, W0.shape[1]) if stacked else d


class GraphNet(_Term):
    """``coef * sum_k w_k' L_k w_k`` with graph Laplacians (MTS2CCA's lambda).

    ``laplacians``: one csr matrix shared by all vectors, or one per vector.
    ``w' L w = 1/2 sum_ij a_ij (w_i - w_j)^2`` shrinks differences between connected
    features; it never rewards magnitude.
    """

    def __init__(self, coef: float, laplacians) -> None:
        self.coef = float(coef)
        self.laplacians = laplacians if isinstance(laplacians, list) else None
        self.shared = None if isinstance(laplacians, list) else laplacians
        # the matrices of hessian(), built once per fit: "shared" -> coef * L and
        # K -> coef * blockdiag(L_1 .. L_K)
        self._scaled = {}

    def _L(self, k):
        return self.shared if self.shared is not None else self.laplacians[k]

    def value(self, ws):
        if self.shared is not None and len(ws) > 1 and len({w.shape[0] for w in ws}) == 1:
            W = np.column_stack(ws)  # one sparse product for every vector
            return self.coef * float(_col_dot(W, self.shared @ W).sum())
        return self.coef * float(sum(w @ (self._L(k) @ w) for k, w in enumerate(ws)))

    def hessian(self, ws_old, stacked):
        if not stacked:
            if self.shared is None:
                raise ValueError("per-vector Laplacians need the stacked layout")
            if "shared" not in self._scaled:
                self._scaled["shared"] = self.coef * self.shared
            return self._scaled["shared"]
        K = len(ws_old)
        if K not in self._scaled:
            self._scaled[K] = self.coef * sp.block_diag([self._L(k) for k in range(K)], format="csr")
        return self._scaled[K]


class Ridge(_DiagonalTerm):
    """``coef * sum_k ||w_k||^2`` (ridge; the regularisers of tensor CCA)."""

    def __init__(self, coef: float) -> None:
        self.coef = float(coef)

    def value(self, ws):
        return self.coef * float(sum(w @ w for w in ws))

    def hessian_diagonal(self, ws_old, stacked):
        m = sum(w.shape[0] for w in ws_old) if stacked else ws_old[0].shape[0]
        return np.full(m, self.coef)


class Fusion(_Term):
    """``coef * sum_{k<l} sum_j |w_kj - w_lj|`` between every pair of vectors.

    The fused-lasso integration term of JCB-SCCA (spec §5, decision 5); stacked only.
    """

    def __init__(self, coef: float) -> None:
        self.coef = float(coef)

    @staticmethod
    def _pairs(K):
        return [(k, l) for k in range(K) for l in range(k + 1, K)]

    def value(self, ws):
        _stack_rows(ws, "the fusion penalty")
        return self.coef * float(
            sum(np.abs(ws[k] - ws[l]).sum() for k, l in self._pairs(len(ws)))
        )

    def surrogate(self, ws, ws_old):
        tot = 0.0
        for k, l in self._pairs(len(ws)):
            r = _root((ws_old[k] - ws_old[l]) ** 2)
            tot += float(((ws[k] - ws[l]) ** 2 / (2 * r) + r / 2).sum())
        return self.coef * tot

    def hessian(self, ws_old, stacked):
        W0 = _stack_rows(ws_old, "the fusion penalty")
        q, K = W0.shape
        rows, cols, vals = [], [], []
        idx = np.arange(q)
        for k, l in self._pairs(K):
            c = self.coef / (2 * _root((W0[:, k] - W0[:, l]) ** 2))
            ik, il = k * q + idx, l * q + idx
            rows += [ik, il, ik, il]
            cols += [ik, il, il, ik]
            vals += [c, c, -c, -c]
        if not rows:
            return sp.csr_matrix((q * K, q * K))
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(q * K, q * K),
        )


# --------------------------------------------------------------------------------------
# Linear systems (2).
# --------------------------------------------------------------------------------------


class PenaltyMatrix:
    """The penalty matrix H of one solve, kept as a sparse part plus a diagonal.

    The reweighted norm penalties (l1, l2,1, group, ridge) change every iteration
    and are diagonal; the network terms (GraphNet, fusion) are sparse and, for
    GraphNet, fixed for the whole fit. Keeping the two apart spares building their
    sum as a new sparse matrix at every iteration (which cost more than the
    products with it) and lets a purely diagonal H stay a vector.

    matrix : sparse matrix (dim, dim) or None
    diagonal : ndarray (dim,) or None
    """

    def __init__(self, matrix=None, diagonal=None) -> None:
        self.matrix = None if matrix is None else sp.csr_matrix(matrix)
        self.vector = None if diagonal is None else np.asarray(diagonal, dtype=np.float64)
        if self.matrix is None and self.vector is None:
            raise ValueError("a penalty matrix needs a sparse part, a diagonal or both")

    @classmethod
    def of(cls, H) -> "PenaltyMatrix":
        """``H`` as a PenaltyMatrix: already one, a 1-D array (a diagonal), or a matrix."""
        if isinstance(H, cls):
            return H
        if isinstance(H, np.ndarray) and H.ndim == 1:
            return cls(diagonal=H)
        return cls(matrix=H)

    def diagonal(self) -> np.ndarray:
        if self.matrix is None:
            return self.vector
        d = self.matrix.diagonal()
        return d if self.vector is None else d + self.vector

    def is_diagonal(self) -> bool:
        if self.matrix is None:
            return True
        return self.matrix.nnz == np.count_nonzero(self.matrix.diagonal())

    def matvec(self, W: np.ndarray) -> np.ndarray:
        """``H @ W`` for W of shape (dim, r)."""
        if self.matrix is None:
            return self.vector[:, None] * W
        out = self.matrix @ W
        if self.vector is not None:
            out += self.vector[:, None] * W
        return out

    def added_to(self, A: np.ndarray) -> np.ndarray:
        """``A + H`` as a new dense array (A is not modified)."""
        out = A.copy() if self.matrix is None else A + self.matrix.toarray()
        if self.vector is not None:
            out[np.diag_indices_from(out)] += self.vector
        return out

    def tocsc(self) -> sp.csc_matrix:
        """H as one sparse matrix (for a sparse factorisation)."""
        if self.matrix is None:
            return sp.diags(self.vector, format="csc")
        if self.vector is None:
            return sp.csc_matrix(self.matrix)
        return sp.csc_matrix(self.matrix + sp.diags(self.vector))

    def toarray(self) -> np.ndarray:
        return self.added_to(np.zeros((self.dim, self.dim)))

    @property
    def dim(self) -> int:
        return self.matrix.shape[0] if self.matrix is not None else self.vector.shape[0]

    def couples(self, block_of: np.ndarray) -> bool:
        """Whether H has an entry between two different blocks (``block_of`` row -> block)."""
        if self.matrix is None:
            return False
        H = self.matrix
        rows = np.repeat(np.arange(H.shape[0]), np.diff(H.indptr))
        return bool(np.any(block_of[rows] != block_of[H.indices]))


class LinearSolver:
    """Solve ``[alpha * blockdiag(Z_k'Z_k/n) + H] W = B`` for one block of weights.

    Parameters
    ----------
    Zs : list of ndarray (n, m_k)
        Standardised data of the block (one matrix for the shared layout).
    alpha : float
        Multiplicity of the loss term (K for a vector shared by K tasks).
    method : {"auto", "dense", "cg", "woodbury"}
        ``woodbury`` (one data matrix with fewer samples than features) solves
        through the n x n capacitance matrix
        ``(H + c Z'Z)^-1 = H^-1 - H^-1 Z' (I/c + Z H^-1 Z')^-1 Z H^-1``, c = alpha/n,
        so a p x p matrix is never formed and one solve costs O(n^2 p) instead of
        O(p^3); H (the penalty matrix) is diagonal or factorised as a sparse matrix.
        A call whose H is too ill-conditioned or too dense for this falls back to
        Cholesky (small p) or conjugate gradients (large p).
    dense_max : int
        Largest system dimension ``auto`` ever factorises (see ``CG_FIRST_ABOVE``
        and ``CG_BUDGET`` for when it does).
    cg_tol : float
        Relative residual at which conjugate gradients stop.
    products : PlainProducts or BlockedProducts, optional
        How the products with the data are formed in conjugate gradients (default:
        one BLAS call each).
    """

    def __init__(self, Zs, alpha=1.0, method="auto", dense_max=DENSE_MAX, cg_tol=1e-11,
                 cg_maxiter=None, products=None):
        self.Zs = list(Zs)
        #: how products with the data are formed (:mod:`imaging_genetics._products`)
        self.products = PlainProducts() if products is None else products
        self.n = self.Zs[0].shape[0]
        self.alpha = float(alpha)
        self.sizes = [Z.shape[1] for Z in self.Zs]
        self.dim = int(sum(self.sizes))
        bounds = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self._blocks = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._block_of = np.repeat(np.arange(len(self.sizes)), self.sizes)
        self._fallback = "dense" if self.dim <= dense_max else "cg"
        #: the factorisation "auto" turns to when conjugate gradients struggle
        self._direct = None
        if method == "auto":
            method = "woodbury" if self._woodbury_pays() else self._fallback
            if method != "cg" and self.dim > CG_FIRST_ABOVE:
                method, self._direct = "cg", method
        self.method = method
        self.cg_tol = cg_tol
        self.cg_maxiter = cg_maxiter if cg_maxiter is not None else max(10 * self.dim, 100)
        self._gram = None
        self._colsq = np.concatenate([(Z * Z).sum(axis=0) for Z in self.Zs]) * (self.alpha / self.n)
        self._x0 = None
        self.cg_iterations = 0
        #: relative residual of the last solve (0 for the direct solves)
        self.last_rtol = 0.0
        self.last_image = None

    def data_matvec(self, W: np.ndarray) -> np.ndarray:
        """``alpha * blockdiag(Z_k'Z_k/n) W`` for W of shape (dim, r), matrix-free."""
        out = np.empty_like(W)
        for Z, sl in zip(self.Zs, self._blocks):
            out[sl] = self.products.tdot(Z, self.products.dot(Z, W[sl]))
        return out * (self.alpha / self.n)

    def _dense_gram(self) -> np.ndarray:
        if self._gram is None:
            G = np.zeros((self.dim, self.dim))
            for Z, sl in zip(self.Zs, self._blocks):
                G[sl, sl] = Z.T @ Z
            self._gram = G * (self.alpha / self.n)
        return self._gram

    def solve(self, H, B: np.ndarray, x0: np.ndarray | None = None,
              rtol: float | None = None, x0_image: np.ndarray | None = None,
              x0_gram: np.ndarray | None = None) -> np.ndarray:
        """Return the solution W (dim, r) of the system with penalty matrix H.

        Parameters
        ----------
        H : PenaltyMatrix, sparse matrix (dim, dim) or ndarray (dim,)
            Penalty half-Hessian; a 1-D array is a diagonal one, given by its diagonal.
        B : ndarray (dim,) or (dim, r)
            Right-hand sides.
        x0 : ndarray like B, optional
            Current iterate. Conjugate gradients start from its best multiple
            (column by column), so the quadratic at the result is never above its
            value at ``x0``: the surrogate decreases even when the solve is inexact.
        rtol : float, optional
            Relative residual for conjugate gradients (default ``cg_tol``); the
            direct solves are exact whatever it is.
        x0_image : ndarray (n, r), optional
            ``Z @ x0`` when the caller has it (one data matrix), which saves a pass
            over Z.
        x0_gram : ndarray like B, optional
            ``Z' Z x0`` (unscaled) when the caller has it, which saves another.

        After a conjugate-gradient solve with one data matrix, ``last_image`` holds
        ``Z @ W`` (tracked through the iterations at no extra pass over Z); it is
        None after the other solves.
        """
        self.last_image = None
        self.last_rtol = 0.0
        H = PenaltyMatrix.of(H)
        B = np.asarray(B, dtype=np.float64)
        squeeze = B.ndim == 1
        B2 = B[:, None] if squeeze else B
        W = None
        if self.method in ("woodbury", "dense"):
            W = self._solve_direct(self.method, H, B2)
        if W is None:  # conjugate gradients (also when Woodbury does not suit H above dense_max)
            self.last_rtol = self.cg_tol if rtol is None else max(rtol, self.cg_tol)
            start = None if x0 is None else np.asarray(x0, dtype=np.float64).reshape(B2.shape)
            image = gram = None
            if start is not None and x0_image is not None and len(self.Zs) == 1:
                image = np.asarray(x0_image, dtype=np.float64).reshape(self.n, -1)
                if x0_gram is not None:
                    gram = np.asarray(x0_gram, dtype=np.float64).reshape(B2.shape)
            W = self._solve_cg(H, B2, start, self.last_rtol, image, gram,
                               maxiter=None if self._direct is None else CG_BUDGET)
            if self._direct is not None and not self._cg_converged:
                # an ill-conditioned system (small penalties): factorise from now on
                self.method, self._direct = self._direct, None
                self.last_image, self.last_rtol = None, 0.0
                W = self._solve_direct(self.method, H, B2)
        return W[:, 0] if squeeze else W

    def _solve_direct(self, method, H, B):
        """Woodbury or Cholesky; None when Woodbury does not suit H and the
        dimension is above ``dense_max`` (the caller then uses conjugate gradients)."""
        if method == "woodbury":
            W = self._solve_woodbury(H, B)
            if W is not None or self._fallback == "cg":
                return W
        return self._solve_dense(H, B)

    def _woodbury_pays(self) -> bool:
        """One data matrix, n at most p / 4, in the range where Cholesky would be used.

        Above ``dense_max`` warm-started conjugate gradients need only a few O(np)
        products per solve, which beats the O(n^2 p) capacitance matrix (measured
        at n = 300, p = 5000: CG 2-3x faster per fit); below it, Woodbury beats the
        O(p^3) factorisation once n <= p / 4 (measured 1.3x at n = 150, p = 1500).
        """
        return (len(self.Zs) == 1 and 4 * self.n <= self.dim and self._fallback == "dense"
                and self.n * self.dim * 8 <= WOODBURY_MAX_BYTES)

    def _solve_woodbury(self, H, B):
        """Low-rank update solve; None when H is unsuitable (the caller falls back)."""
        if len(self.Zs) != 1:
            return None
        Z = self.Zs[0]
        d = H.diagonal()
        # H^-1 amplifies in proportion to 1 / min(d); relative to the data scale a
        # tiny penalty makes the capacitance system lose the digits the dense and
        # CG solves keep, so those take over.
        if d.size == 0 or d.min() <= WOODBURY_MIN_RATIO * max(float(self._colsq.max()), EPS):
            return None
        if H.is_diagonal():
            inv_d = 1.0 / d

            def h_solve(M):
                return M * inv_d[:, None]
        else:
            Hs = H.tocsc()
            if Hs.nnz > WOODBURY_MAX_FILL * self.dim:
                return None
            try:
                lu = spla.splu(Hs, permc_spec="MMD_AT_PLUS_A")
            except RuntimeError:
                return None
            h_solve = lu.solve
        c = self.alpha / self.n
        HZt = h_solve(np.ascontiguousarray(Z.T))            # (p, n)
        HB = h_solve(B)                                     # (p, r)
        S = Z @ HZt
        S[np.diag_indices_from(S)] += 1.0 / c
        try:
            factor = la.cho_factor(S, lower=True, check_finite=False, overwrite_a=True)
        except la.LinAlgError:
            return None
        W = HB - HZt @ la.cho_solve(factor, Z @ HB, check_finite=False)
        return W if np.all(np.isfinite(W)) else None

    def _solve_dense(self, H, B):
        """Cholesky solve of ``(Gram + H) W = B``; one factorisation per data block
        when H does not couple the stacked blocks (the Gram never does), which is
        the case of every model but JCB-SCCA's fused imaging block: K factorisations
        of size q instead of one of size K q."""
        blocks = self._uncoupled_blocks(H)
        if blocks is None:
            return self._cholesky_solve(lambda: H.added_to(self._dense_gram()), B)
        A = H.added_to(self._dense_gram())
        out = np.empty_like(B)
        for sl in blocks:
            out[sl] = self._cholesky_solve(lambda: A[sl, sl].copy(), B[sl])
        return out

    def _uncoupled_blocks(self, H) -> list[slice] | None:
        """The row ranges of the stacked blocks when H has no entry between two of
        them; None for a single block or a coupling H."""
        if len(self.sizes) < 2 or H.couples(self._block_of):
            return None
        return self._blocks

    @staticmethod
    def _cholesky_solve(form, B):
        """Solve ``A W = B`` for the symmetric matrix ``A = form()`` by Cholesky.

        ``form`` builds a fresh A (the factorisation overwrites it). A is singular
        only when unpenalised with dependent columns (p >= n): a vanishing ridge then
        picks the minimum-norm-like solution, and least squares is the last resort.
        """
        A = form()
        jitter = 0.0
        scale = max(float(np.trace(A)) / max(A.shape[0], 1), 1.0)
        for _ in range(6):
            try:
                if jitter:
                    A[np.diag_indices_from(A)] += jitter
                c = la.cho_factor(A, lower=True, check_finite=False, overwrite_a=True)
                return la.cho_solve(c, B, check_finite=False)
            except la.LinAlgError:
                A = form()
                jitter = scale * (1e-12 if jitter == 0 else jitter * 100 / scale)
        return la.lstsq(form(), B)[0]

    def _solve_cg(self, H, B, start=None, rtol=None, start_image=None, start_gram=None, maxiter=None):
        """Jacobi-preconditioned conjugate gradients, all right-hand sides at once.

        Starts from the best multiple of ``start`` when given, else from the
        previous solution (warm start). With one data matrix Z the image ``Z @ X``
        of the iterate is updated alongside X and left in ``last_image``.
        ``maxiter`` (default ``cg_maxiter``) bounds the iterations; whether the
        residual reached ``rtol`` is left in ``_cg_converged``.
        """
        rtol = self.cg_tol if rtol is None else rtol
        diag = self._colsq + H.diagonal()
        minv = 1.0 / np.maximum(diag, EPS)[:, None]
        single = len(self.Zs) == 1
        Z = self.Zs[0]
        c_data = self.alpha / self.n

        def op(W, ZW=None, ZtZW=None):
            """(A W, Z W): the system matrix times W and, for one matrix, Z W."""
            if not single:
                return self.data_matvec(W) + H.matvec(W), None
            ZW = self.products.dot(Z, W) if ZW is None else ZW
            ZtZW = self.products.tdot(Z, ZW) if ZtZW is None else ZtZW
            return ZtZW * c_data + H.matvec(W), ZW

        if start is not None and start.shape == B.shape:
            # argmin_c of the quadratic along c * start: c = b's / s'As per column
            AS, ZS = op(start, start_image, start_gram)
            sas = _col_dot(start, AS)
            c = np.where(sas > EPS * EPS, _col_dot(B, start) / np.maximum(sas, EPS * EPS), 0.0)
            X = start * c
            R = B - AS * c
            ZX = None if ZS is None else ZS * c
        else:
            X = self._x0 if (self._x0 is not None and self._x0.shape == B.shape) else np.zeros_like(B)
            AX, ZX = op(X)
            R = B - AX
        bnorm = np.maximum(np.sqrt(_col_dot(B, B)), EPS)
        Zr = minv * R
        P = Zr.copy()
        rz = _col_dot(R, Zr)
        it = 0
        limit = self.cg_maxiter if maxiter is None else maxiter
        converged = False
        for it in range(1, limit + 2):  # the last pass only checks the residual
            if np.all(np.sqrt(_col_dot(R, R)) <= rtol * bnorm):
                it -= 1
                converged = True
                break
            if it > limit:
                it -= 1
                break
            AP, ZP = op(P)
            pap = _col_dot(P, AP)
            step = np.where(pap > 0, rz / np.maximum(pap, EPS * EPS), 0.0)
            X = X + step * P
            if ZX is not None:
                ZX = ZX + step * ZP
            R = R - step * AP
            Zr = minv * R
            rz_new = _col_dot(R, Zr)
            beta = np.where(rz > 0, rz_new / np.maximum(rz, EPS * EPS), 0.0)
            P = Zr + beta * P
            rz = rz_new
        self.cg_iterations += it
        self._cg_converged = converged
        self._x0 = X.copy()
        self.last_image = ZX
        return X
