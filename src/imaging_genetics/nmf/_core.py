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

All arrays here are *stacked over restarts*: ``W`` has shape ``(R, n, k)`` and each
``H_I`` shape ``(R, k, p_I)``, so one iteration of R restarts costs one large matrix
product per term instead of R small ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .._validation import EPS

__all__ = ["JointProblem", "update_W", "update_H", "objective", "objective_terms", "run_batch"]

#: Denominator floor (float64 machine epsilon), added to every denominator.
_EPS = EPS

#: BLAS threads inside the iterations. The products here are skinny (k x k or
#: k x p outputs with k small): multi-threaded BLAS gains little on them and is
#: many times slower when the cores are shared (e.g. by parallel restarts), so the
#: loop runs single-threaded and parallelism comes from ``n_jobs``. None leaves
#: the BLAS setting alone.
BLAS_THREADS: int | None = 1

#: Above this density a (validated, CSR) prior matrix is used as a dense array.
_DENSE_ABOVE = 0.25


def _as_operator(M):
    """Keep sparse priors sparse; densify only when they are mostly filled."""
    if sp.issparse(M):
        M = sp.csr_matrix(M, dtype=np.float64)
        if M.shape[0] * M.shape[1] and M.nnz > _DENSE_ABOVE * M.shape[0] * M.shape[1]:
            return np.ascontiguousarray(M.toarray())
        return M
    return np.ascontiguousarray(np.asarray(M, dtype=np.float64))


def _right_multiply(H: np.ndarray, A, AT=None) -> np.ndarray:
    """Stacked ``H @ A``: H of shape (R, k, p), A of shape (p, q) -> (R, k, q).

    All R*k rows are multiplied in one product, dense or sparse (a sparse ``A`` is
    never densified; ``AT``, its transpose, is accepted for symmetry of the call
    sites and not needed). For a sparse ``A`` every output entry is accumulated
    over the nonzeros of one column of ``A`` in storage order, so the result does
    not depend on how many restarts are stacked.
    """
    R, k, p = H.shape
    return np.asarray(H.reshape(R * k, p) @ A).reshape(R, k, A.shape[1])


def _coef(c):
    """A penalty weight as a scalar or, per restart, as an array of shape (R, 1, 1)."""
    if np.ndim(c) == 0:
        return float(c)
    return np.asarray(c, dtype=np.float64).reshape(-1, 1, 1)


def _any(c) -> bool:
    return bool(np.any(np.asarray(c) != 0))


def _bmm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Stacked matrix product ``A[r] @ B[r]``.

    A loop of 2-D products: numpy's stacked ``matmul`` does not hand transposed
    views to BLAS and is many times slower for these shapes.
    """
    out = np.empty((A.shape[0], A.shape[1], B.shape[2]))
    for r in range(A.shape[0]):
        np.matmul(A[r], B[r], out=out[r])
    return out


def _gram_rows(H: np.ndarray) -> np.ndarray:
    """Stacked ``H[r] @ H[r]^T``."""
    return _bmm(H, H.transpose(0, 2, 1))


def _gram_cols(W: np.ndarray) -> np.ndarray:
    """Stacked ``W[r]^T @ W[r]``."""
    return _bmm(W.transpose(0, 2, 1), W)


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

    def __post_init__(self) -> None:
        self.Xs = [np.ascontiguousarray(X, dtype=np.float64) for X in self.Xs]
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
            A = _as_operator(A)
            AT = A.T.tocsr() if sp.issparse(A) else np.ascontiguousarray(A.T)
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
            d = np.asarray(S.sum(axis=1)).ravel().astype(np.float64)
            graphs.append((beta, S, d))
        self.graphs = graphs
        self.gamma1 = _coef(self.gamma1)
        self.gamma2 = _coef(self.gamma2)
        self.sq_norms = [float(np.einsum("ij,ij->", X, X)) for X in self.Xs]

    @property
    def n_modalities(self) -> int:
        return len(self.Xs)

    def take(self, keep: np.ndarray) -> "JointProblem":
        """The same problem for the stacked restarts ``keep`` (a boolean mask)."""

        def sub(c):
            return c if np.ndim(c) == 0 else c[keep]

        new = object.__new__(JointProblem)
        new.Xs = self.Xs
        new.sq_norms = self.sq_norms
        new.cross = [(I, J, sub(lam), A, AT) for I, J, lam, A, AT in self.cross]
        new.graphs = [None if g is None else (sub(g[0]), g[1], g[2]) for g in self.graphs]
        new.gamma1 = sub(self.gamma1)
        new.gamma2 = sub(self.gamma2)
        return new

    def cross_numerator(self, Hs: Sequence[np.ndarray], I: int) -> np.ndarray | None:
        """``1/2 C_I`` (stacked), or None when modality I has no cross term."""
        out = None
        for a, b, lam, A, AT in self.cross:
            if a == I:  # lambda_IJ H_J A_IJ^T
                term = _right_multiply(Hs[b], AT, A)
            elif b == I:  # lambda_JI H_J A_JI
                term = _right_multiply(Hs[a], A, AT)
            else:
                continue
            term *= 0.5 * lam
            if out is None:
                out = term
            else:
                out += term
        return out


def update_W(prob: JointProblem, W: np.ndarray, Hs: Sequence[np.ndarray]) -> np.ndarray:
    """Multiplicative W step (eq. (1) of spec §2.2), stacked over restarts."""
    R, n, k = W.shape
    num = np.zeros((n, R * k))
    HHt = np.zeros((R, k, k))
    for X, H in zip(prob.Xs, Hs):
        num += X @ H.reshape(R * k, -1).T  # sum_I X_I H_I^T in one product per modality
        HHt += _gram_rows(H)
    num = num.reshape(n, R, k).transpose(1, 0, 2)
    if _any(prob.gamma1):
        HHt = HHt + prob.gamma1 * np.eye(k)
    den = _bmm(W, HHt)
    den += _EPS
    np.divide(num, den, out=den)
    den *= W
    return den


def _WtX(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    R, n, k = W.shape
    Wt = W.transpose(0, 2, 1).reshape(R * k, n)
    return (Wt @ X).reshape(R, k, X.shape[1])


def update_H(
    prob: JointProblem,
    W: np.ndarray,
    WtW: np.ndarray,
    Hs: list,
    I: int,
    WtX: np.ndarray | None = None,
) -> np.ndarray:
    """Multiplicative step of block H_I (eq. (2) of spec §2.2) with the newest blocks.

    Numerator ``W^T X_I + 1/2 C_I + beta_I H_I S_I``; denominator
    ``W^T W H_I + beta_I H_I D_I + gamma2 E_k H_I + eps``. ``E_k H_I`` (every row equal
    to the column sums of H_I) is formed by broadcasting, never as a k x k matrix.
    """
    H = Hs[I]
    num = _WtX(W, prob.Xs[I]) if WtX is None else np.array(WtX, dtype=np.float64)
    cross = prob.cross_numerator(Hs, I)
    if cross is not None:
        num += cross
    den = _bmm(WtW, H)
    g = prob.graphs[I]
    if g is not None:
        beta, S, d = g
        HS = _right_multiply(H, S, S)  # S is symmetric: H S = (S H^T)^T
        HS *= beta
        num += HS
        HS = np.multiply(H, d, out=HS)
        HS *= beta
        den += HS
    if _any(prob.gamma2):
        den += prob.gamma2 * H.sum(axis=1, keepdims=True)
    den += _EPS
    np.divide(num, den, out=num)
    num *= H
    return num


def objective_terms(prob: JointProblem, W: np.ndarray, Hs: Sequence[np.ndarray]) -> dict:
    """Each term of F per restart (arrays of shape (R,)).

    The fit term is computed from the residual ``X_I - W H_I`` (one restart at a
    time), not from the Gram expansion, so it has no cancellation error.
    """
    R = W.shape[0]
    fit = np.zeros(R)
    for r in range(R):
        for X, H in zip(prob.Xs, Hs):
            E = X - W[r] @ H[r]
            fit[r] += np.einsum("ij,ij->", E, E)
    cross = np.zeros(R)
    for I, J, lam, A, AT in prob.cross:
        cross -= np.ravel(lam) * np.einsum("rkq,rkq->r", _right_multiply(Hs[I], A, AT), Hs[J])
    smooth = np.zeros(R)
    for H, g in zip(Hs, prob.graphs):
        if g is None:
            continue
        beta, S, d = g
        quad = np.einsum("rkp,p->r", H * H, d) - np.einsum("rkp,rkp->r", _right_multiply(H, S, S), H)
        smooth += np.ravel(beta) * np.maximum(quad, 0.0)  # Tr(H L H^T) >= 0; clip round-off
    basis = np.ravel(prob.gamma1) * np.einsum("rnk,rnk->r", W, W)
    sparsity = np.zeros(R)
    if _any(prob.gamma2):
        for H in Hs:
            c = H.sum(axis=1)
            sparsity += np.ravel(prob.gamma2) * np.einsum("rp,rp->r", c, c)
    return {"fit": fit, "cross": cross, "smoothness": smooth, "basis": basis, "sparsity": sparsity}


def objective(prob: JointProblem, W: np.ndarray, Hs: Sequence[np.ndarray]) -> np.ndarray:
    """The objective F of spec §1.2 for each stacked restart, shape (R,)."""
    t = objective_terms(prob, W, Hs)
    return t["fit"] + t["cross"] + t["smoothness"] + t["basis"] + t["sparsity"]


def iterate(prob: JointProblem, W: np.ndarray, Hs: list) -> tuple[np.ndarray, list]:
    """One Gauss-Seidel sweep: W, then H_1, ..., H_M, each with the newest values."""
    W = update_W(prob, W, Hs)
    WtW = _gram_cols(W)
    Hs = list(Hs)
    for I in range(prob.n_modalities):
        Hs[I] = update_H(prob, W, WtW, Hs, I)
    return W, Hs


def run_batch(
    prob: JointProblem,
    W: np.ndarray,
    Hs: list,
    *,
    max_iter: int,
    tol: float,
    check_every: int = 10,
) -> list[dict]:
    """Iterate stacked restarts until each converges; return one result per restart.

    A restart stops when its relative objective decrease over the last
    ``check_every`` iterations, ``(F_prev - F) / max(|F_0|, tiny)``, falls below
    ``tol``, or at ``max_iter``. Finished restarts leave the stack, so every result
    is the one that restart would give alone. A restart whose iterates stop being
    finite (an unbounded objective, spec §2.5) is stopped and reported with
    ``objective = inf``.

    Returns
    -------
    list of dict with keys ``W`` (n, k), ``Hs`` (list of (k, p_I)), ``trace``
    (objective at iteration 0 and at every check), ``n_iter``, ``converged``,
    ``finite``.
    """
    # overflow of a diverging restart is detected at the next check and reported
    with np.errstate(over="ignore", invalid="ignore"):
        if BLAS_THREADS is None:
            return _run_batch(prob, W, Hs, max_iter=max_iter, tol=tol, check_every=check_every)
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return _run_batch(prob, W, Hs, max_iter=max_iter, tol=tol, check_every=check_every)


def _run_batch(prob, W, Hs, *, max_iter, tol, check_every):
    R = W.shape[0]
    W = np.array(W, dtype=np.float64)
    Hs = [np.array(H, dtype=np.float64) for H in Hs]
    F = objective(prob, W, Hs)
    traces = [[float(f)] for f in F]
    F0 = np.abs(F)
    Fprev = F.copy()
    active = np.arange(R)
    results: list[dict | None] = [None] * R

    def finish(local: np.ndarray, it: int, converged: bool, finite: bool = True) -> None:
        for j in local:
            r = int(active[j])
            results[r] = {
                "W": W[j].copy(),
                "Hs": [H[j].copy() for H in Hs],
                "trace": np.asarray(traces[r]),
                "n_iter": it,
                "converged": converged,
                "finite": finite,
            }

    it = 0
    for it in range(1, max_iter + 1):
        W, Hs = iterate(prob, W, Hs)
        last = it == max_iter
        if it % check_every and not last:
            continue
        F = objective(prob, W, Hs)
        bad = ~np.isfinite(F)
        bad |= ~np.array([np.isfinite(W[j]).all() for j in range(W.shape[0])])
        for j in range(len(active)):
            traces[int(active[j])].append(float(F[j]))
        rel = (Fprev - F) / np.maximum(F0, np.finfo(np.float64).tiny)
        # tol = 0 means "run max_iter sweeps" (a round-off-level increase must not stop it)
        done = (rel < tol) & ~bad if tol > 0 else np.zeros(len(active), dtype=bool)
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
            active, W, F0, F = active[keep], W[keep], F0[keep], F[keep]
            Hs = [H[keep] for H in Hs]
            prob = prob.take(keep)
        Fprev = F
        if active.size == 0:
            break
    if active.size:  # max_iter == 0
        finish(np.arange(active.size), it, False)
    return results  # type: ignore[return-value]
