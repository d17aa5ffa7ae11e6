"""Base estimator of the structured sparse CCA family.

:class:`BaseSparseCCA` owns everything the named models share: input validation,
standardisation with training statistics, default prior networks, initialisation,
the alternating loop with its convergence rule and objective trace, deflation for
``n_components > 1``, ``transform`` and ``score``. A named model only says which
penalty terms act on each block (``_x_terms``, ``_y_terms``) and whether one SNP
vector is shared by all tasks.

Scale (spec sparse_cca.md, decision 1). Columns are centred and divided by their
training standard deviation (ddof = 0), so ``C_xx = X'X/n`` is the correlation
matrix, and the loss is ``sum_k ||X u_k - Y_k v_k||^2 / n``. The released MATLAB
code z-scores (ddof = 1), does not divide by n and scales its weights to
``||X u||^2 = 1``, i.e. to ``1 / sqrt(n - 1)`` times a unit-variance weight. Its
quadratic penalties (the Laplacian terms, lambda) therefore equal ``(n - 1)`` times
ours, and its norm penalties (l1, l2,1, group, fusion: beta), homogeneous of degree
one in the weights, ``sqrt(n - 1)`` times ours: ``lambda_MATLAB = (n - 1) * lambda``,
``beta_MATLAB = sqrt(n - 1) * beta``. ``tests/cca/test_cca_matlab_reference.py``
checks this against a transcription of ``mts2cca.m``.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from .._products import BlockedProducts, PlainProducts, available_threads, one_blas_thread
from .._stats import column_spread, pearson
from .._validation import (
    EPS,
    _column_names,
    _describe_columns,
    align_labelled_adjacency,
    check_adjacency,
    check_feature_names,
    check_matrix,
    check_penalty,
    check_positive_int,
    check_row_labels,
    check_same_samples,
    column_names_each,
    matrix_list,
    reorder_by_index,
)
from ..base import PersistenceMixin
from ._core import INEXACT_FACTOR, INEXACT_MAX_RTOL, LinearSolver, PenaltyMatrix

__all__ = ["BaseSparseCCA", "row_norms", "select_features"]


#: Columns per chunk when standardising: temporaries stay near 32 MB whatever p is.
_CHUNK_BYTES = 32 * 2**20

#: Every fit runs BLAS on one thread, for two reasons. (1) The same numbers whatever
#: BLAS thread count the caller runs with: OpenBLAS rounds products differently on 1
#: and 2 threads, and a joblib or Dask worker usually runs one while the main process
#: runs all, so cross-validation with n_jobs=1 and n_jobs>1 would differ in the last
#: bits. (2) The small dense solves of the imaging block lose to thread
#: synchronisation: measured on 2 cores, JCB-SCCA at n = 300, p = 1000 took 0.6 s on
#: one thread and 2.7-3.2 s on two. Up to this many entries of X the products with X
#: are single BLAS calls (a second BLAS thread would make MTS2CCA at n = 300,
#: p = 5000 4.3-4.4 s instead of 5.4-5.9 s, at the price of (1); blocks shared by
#: threads cost more than they bring there, 2.6 s against 2.2-2.4 s at p = 1500);
#: above it they are
#: memory-bound and split into fixed column blocks shared by as many threads as BLAS
#: could use (:class:`imaging_genetics._products.BlockedProducts`), as fast as
#: multi-threaded BLAS (n = 1000, p = 200,000: 61.9 s against 58-61 s; 99 s on one
#: thread) and with the same numbers for any thread count.
_BLOCKED_PRODUCTS_ABOVE = 2**23

#: The alternating loop converges linearly and, under the reweighted penalties,
#: slowly: weights that shrink towards zero, or settle, move by a nearly constant
#: fraction of their last move per iteration. Every ``EXTRAPOLATE_EVERY``
#: iterations each weight whose last three iterates form such a sequence (ratio of
#: successive moves between 0 and ``EXTRAPOLATE_MAX_RATIO``) is moved to the limit
#: of that sequence (Aitken's delta-squared), and the variates are rescaled to unit
#: variance; larger ratios would amplify a move more than a thousandfold and are
#: left alone. A jump moves some weights far, so the change of the next iteration
#: says nothing of its success; instead the change just before a jump must reach a
#: new low within ``EXTRAPOLATE_PATIENCE`` jumps, or the fit goes on without them.
#: Measured against fits run to ``tol=1e-11`` on two data sets (n = 200, p = 500,
#: q = 40, default penalties; iterations to the default ``tol``, plain loop first):
#: MTS2CCA 222 -> 80 and 212 -> 85, weights 5x closer to the limit (2e-4 instead of
#: 1e-3); JCB-SCCA 244 -> 135 and 335 -> 211; MTGSCCA 1,000 (not converged) -> 141
#: and 1,000 -> 786; MTSCCA and SCCA stop at 1,000 either way, no farther from the
#: limit. MTS2CCA at n = 300, p = 5,000: 927 -> 365 iterations, 7.8 s -> 4.6 s,
#: weights 5x closer. The price: the jumps amplify round-off, so inputs that differ
#: in the last bits (the same data in other units) give fits that agree to about
#: ``tol``, not to the last bits; the same input still gives the same fit.
EXTRAPOLATE_EVERY = 5
EXTRAPOLATE_PATIENCE = 20
EXTRAPOLATE_MAX_RATIO = 0.999


def _extrapolated(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Aitken's limit of every entry of three successive iterates a, b, c (same shape).

    ``c - (c - b)^2 / ((c - b) - (b - a))`` where the ratio of the moves
    ``(c - b) / (b - a)`` lies in (0, :data:`EXTRAPOLATE_MAX_RATIO`); ``c`` elsewhere.
    """
    d1, d2 = b - a, c - b
    ratio = np.divide(d2, d1, out=np.zeros_like(d2), where=d1 != 0)
    ok = (ratio > 0) & (ratio < EXTRAPOLATE_MAX_RATIO)
    out = c.copy()
    # ratio in (0, 1) means d2 - d1 has the sign of -d1 and is never zero
    out[ok] = c[ok] - d2[ok] ** 2 / (d2[ok] - d1[ok])
    return out


def _column_chunks(n: int, p: int):
    step = max(1, _CHUNK_BYTES // (8 * max(n, 1)))
    return [(start, min(p, start + step)) for start in range(0, p, step)]


def _standardize_fit(A: np.ndarray):
    """Column means, inverse standard deviations and non-constant mask, in column chunks."""
    n, p = A.shape
    mean, sd, top = np.empty(p), np.empty(p), np.empty(p)
    for a, b in _column_chunks(n, p):
        block = A[:, a:b]
        mean[a:b] = block.mean(axis=0)
        sd[a:b], top[a:b] = column_spread(block)  # no overflow near 1e160, no underflow near 1e-200
    # Constant up to round-off relative to the column's own magnitude, so data in
    # small units (say 1e-12) are not mistaken for constant columns; a spread below
    # the smallest normal number (1 / sd would overflow) counts as none.
    keep = (sd > 1e-10 * top) & (sd >= np.finfo(np.float64).tiny)
    scale = np.where(keep, 1.0 / np.where(keep, sd, 1.0), 0.0)
    return mean, scale, keep


def _standardized(A: np.ndarray, mean, scale, keep) -> np.ndarray:
    """``(A - mean)[:, keep] * scale[keep]`` built chunk by chunk (one output array)."""
    cols = np.flatnonzero(keep)
    out = np.empty((A.shape[0], cols.size))
    for a, b in _column_chunks(A.shape[0], cols.size):
        c = cols[a:b]
        np.subtract(A[:, c], mean[c], out=out[:, a:b])
        out[:, a:b] *= scale[c]
    return out


def _standardize_inplace(A: np.ndarray, mean, scale) -> np.ndarray:
    """``(A - mean) * scale`` written over A, chunk by chunk (``copy=False``)."""
    for a, b in _column_chunks(*A.shape):
        A[:, a:b] -= mean[a:b]
        A[:, a:b] *= scale[a:b]
    return A


def row_norms(weights: Any) -> np.ndarray:
    """Euclidean norm of each row of a weight matrix (a feature across tasks).

    ``weights`` is ``x_weights_`` (p, K), a list of ``y_weights_`` (stacked as
    columns; they must have equal length) or a 1-D vector (absolute values).
    """
    if isinstance(weights, (list, tuple)):
        weights = np.column_stack([np.asarray(w, dtype=np.float64).reshape(len(w), -1)[:, 0]
                                   for w in weights])
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim == 1:
        return np.abs(W)
    W = W.reshape(W.shape[0], -1)
    return np.sqrt((W * W).sum(axis=1))


def select_features(weights: Any, threshold: float = 0.05, *, relative: bool = True,
                    n_features: int | None = None) -> np.ndarray:
    """Indices of selected features, ranked by decreasing row norm.

    Reweighted l1 / l2,1 penalties shrink unselected weights towards zero without
    making them exactly zero (spec decision 10), so selection is an explicit rule:

    * ``n_features`` given: the ``n_features`` features with the largest row norms;
    * otherwise the features whose row norm is ``>= threshold * max row norm``
      (``relative=True``, default ``threshold=0.05``) or ``>= threshold``
      (``relative=False``).

    Feature-selection AUC should be computed from the continuous :func:`row_norms`,
    not from this cut.

    Returns
    -------
    ndarray of int, the selected feature indices, strongest first.
    """
    r = row_norms(weights)
    order = np.argsort(-r, kind="stable")
    if n_features is not None:
        return order[: check_positive_int(n_features, "n_features")]
    thr = check_penalty(threshold, "threshold")
    cut = thr * r.max() if relative else thr
    return order[r[order] >= max(cut, EPS)]


class _Context:
    """Fitted-data context passed to the model hooks (standardised, reduced data)."""

    def __init__(self, X, Ys, x_lap, y_laps, groups, products):
        self.X = X
        self.Ys = Ys
        self.n = X.shape[0]
        self.K = len(Ys)
        self.x_laplacian = x_lap
        self.y_laplacians = y_laps
        self.snp_groups = groups
        #: how the products with X are formed (PlainProducts or BlockedProducts)
        self.products = products


class BaseSparseCCA(PersistenceMixin, BaseEstimator):
    """Alternating, iteratively reweighted sparse CCA between X and K modalities.

    Subclasses set the class attributes ``_shared_u`` (one SNP vector for all
    tasks), ``_equal_q`` (modalities must share their regions), ``_uses_x_graph`` /
    ``_uses_y_graph`` (build a correlation prior when none is given) and implement
    ``_x_terms(ctx)`` / ``_y_terms(ctx)``. The fitted weights live on the
    standardised scale of the training data.
    """

    _shared_u = False
    _equal_q = False
    _uses_x_graph = False
    _uses_y_graph = False
    _uses_groups = False
    _penalty_params: tuple[str, ...] = ()
    #: whether the alternating loop may extrapolate the weights (EXTRAPOLATE_EVERY);
    #: a model whose imaging weights are tied to each other (TCCA's rank-one v w_k)
    #: must not move them one by one
    _extrapolates = True

    # ---------------------------------------------------------------- hooks
    def _x_terms(self, ctx: _Context) -> list:
        return []

    def _y_terms(self, ctx: _Context, tasks: list[int]) -> list:
        return []

    def _couples_regions(self) -> bool:
        """Whether region j of one modality is tied to region j of the others."""
        return self._equal_q

    def _x_alpha(self, n_tasks: int) -> float:
        """Multiplicity of X'X in the SNP-block system (K when u is shared)."""
        return float(n_tasks) if self._shared_u else 1.0

    def _task_sets(self, K: int) -> list[list[int]]:
        """Which tasks are fitted jointly (all of them, unless overridden)."""
        return [list(range(K))]

    # ---------------------------------------------------------------- validation
    def _validate_params(self):
        for name in self._penalty_params:
            check_penalty(getattr(self, name), name)
        check_positive_int(self.n_components, "n_components")
        check_positive_int(self.max_iter, "max_iter")
        tol = check_penalty(self.tol, "tol")
        if tol <= 0:
            raise ValueError(f"tol must be > 0, got {self.tol!r}")
        if self.solver not in ("auto", "dense", "cg", "woodbury"):
            raise ValueError(f"solver must be 'auto', 'dense', 'cg' or 'woodbury', got {self.solver!r}")
        if self.init not in ("svd", "random"):
            raise ValueError(f"init must be 'svd' or 'random', got {self.init!r}")
        if not isinstance(self.copy, (bool, np.bool_)):
            raise TypeError(f"copy must be True or False, got {self.copy!r}")

    @staticmethod
    def _check_data(X, Ys, min_samples: int = 2) -> tuple[np.ndarray, list[np.ndarray]]:
        """X and the list Ys as validated float arrays with the same samples (rows)."""
        if isinstance(Ys, np.ndarray) and Ys.ndim == 3:
            Ys = [Ys[:, :, k] for k in range(Ys.shape[2])]
        Ys = matrix_list(Ys, "Ys")
        if len(Ys) == 0:
            raise ValueError("Ys: needs at least one imaging modality (K >= 1), got K = 0")
        names = ["X"] + [f"Ys[{k}]" for k in range(len(Ys))]
        check_row_labels([X] + Ys, names)
        X = _check_real(X, "X", min_samples)
        Ys = [_check_real(Y, nm, min_samples) for Y, nm in zip(Ys, names[1:])]
        check_same_samples([X] + Ys, names)
        return X, Ys

    def _check_graph(self, A, p, name, keep):
        if A is None:
            return None
        M = check_adjacency(A, p, name)
        return M[keep][:, keep]

    def _unused_priors(self, x_adjacency=None, y_adjacency=None, snp_groups=None) -> list[str]:
        """The prior arguments given (not None) that this model has no term for.

        ``x_adjacency`` feeds the SNP GraphNet term, or the SNP groups of a group
        penalty when no ``snp_groups`` are given; ``y_adjacency`` feeds the imaging
        GraphNet term (validated even when unused).
        """
        unused = []
        if x_adjacency is not None and not (
                self._uses_x_graph or (self._uses_groups and snp_groups is None)):
            unused.append("x_adjacency")
        if y_adjacency is not None and not self._uses_y_graph:
            unused.append("y_adjacency")
        return unused

    # ---------------------------------------------------------------- fit
    def fit(self, X, Ys, *, x_adjacency=None, y_adjacency=None, snp_groups=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, p)
            SNP genotypes (or any first view).
        Ys : list of K array-likes of shape (n_samples, q_k), or array (n, q, K)
            Imaging modalities.
        x_adjacency : (p, p) array or sparse matrix, optional
            Prior SNP network (e.g. :func:`imaging_genetics.networks.ld_graph`). Used
            by models with a GraphNet term on U; default: ``corr^2`` of the training X.
            A DataFrame labelled by SNP is taken by label when X is labelled.
        y_adjacency : (q, q) matrix or list of K (q_k, q_k) matrices, optional
            Prior brain networks, one per modality (one matrix is used for all).
            Default: ``corr^2`` of each training Y_k. Labelled DataFrames are taken
            by the labels of their modality's columns.
        snp_groups : array-like of shape (p,), optional
            Group label per SNP (MTGSCCA). Default: connected components of the LD
            graph of the training X. A Series indexed by SNP is taken by SNP name
            when X is labelled.

        Returns
        -------
        self

        Raises
        ------
        ValueError / TypeError
            Mismatched samples, K = 0, unequal q where the model couples regions,
            NaN/inf, negative penalties, adjacency of wrong shape or not symmetric.
        """
        self._validate_params()
        unused = self._unused_priors(x_adjacency, y_adjacency, snp_groups)
        if unused:
            warnings.warn(f"{type(self).__name__} has no network term for {' or '.join(unused)}: "
                          f"the graph is checked but not used (MTS2CCA and JCBSCCA use both graphs; "
                          f"MTGSCCA takes its SNP groups from x_adjacency when no snp_groups are given)",
                          UserWarning, stacklevel=2)
        X_in = X
        # feature names of labelled inputs, for messages about single columns
        col_names = {"X": _column_names(X)}
        col_names.update({f"Ys[{k}]": names for k, names in enumerate(column_names_each(Ys))})
        X, Ys = self._check_data(X, Ys)
        K = len(Ys)
        qs = [Y.shape[1] for Y in Ys]
        if self._couples_regions() and len(set(qs)) > 1:
            raise ValueError(
                f"Ys: {type(self).__name__} couples region j across modalities, so every "
                f"modality needs the same regions (q); got q = {qs}. Summarise all "
                "modalities on one atlas, or use SCCA for unequal q"
            )
        n, p = X.shape
        self.n_features_in_ = p
        self.n_tasks_ = K
        self._set_feature_names(col_names, K)
        # priors given as labelled tables are taken by label, in the order of the data's columns
        x_adjacency = align_labelled_adjacency(x_adjacency, col_names["X"], col_names["X"], "x_adjacency")

        # Standardisation with training statistics; constant columns are dropped.
        self.x_mean_, self.x_scale_, xkeep = _standardize_fit(X)
        ystats = [_standardize_fit(Y) for Y in Ys]
        self.y_means_ = [s[0] for s in ystats]
        self.y_scales_ = [s[1] for s in ystats]
        ykeep = [s[2] for s in ystats]
        if not xkeep.any():
            raise ValueError("X: every column is constant; nothing to correlate")
        for k, kp in enumerate(ykeep):
            if not kp.any():
                raise ValueError(f"Ys[{k}]: every column is constant; nothing to correlate")
        dropped = {"X": ~xkeep}
        dropped.update({f"Ys[{k}]": ~kp for k, kp in enumerate(ykeep)})
        msgs = [f"{nm}: columns {_describe_columns(mask, col_names.get(nm))}"
                for nm, mask in dropped.items() if mask.any()]
        if msgs:
            warnings.warn("constant columns get zero weight and are left out of the fit: "
                          + "; ".join(msgs), UserWarning, stacklevel=2)
        if self._couples_regions() and any((kp != ykeep[0]).any() for kp in ykeep):
            # Coupled regions must be the same set in every modality.
            common = np.logical_and.reduce(ykeep)
            if not common.any():
                raise ValueError("Ys: no region is non-constant in every modality")
            ykeep = [common.copy() for _ in ykeep]
        # validation returns the caller's own array only when it already is float64
        # and C-ordered; anything else was copied, and overwriting it saves nothing
        if not self.copy and xkeep.all() and X is X_in and X.flags.writeable:
            Xs = _standardize_inplace(X, self.x_mean_, self.x_scale_)
        else:
            Xs = _standardized(X, self.x_mean_, self.x_scale_, xkeep)
        Yss = [((Y - m)[:, kp] * s[kp]) for Y, m, s, kp in zip(Ys, self.y_means_, self.y_scales_, ykeep)]

        # Prior networks and groups (validated on the full shapes, then reduced).
        x_lap = y_laps = groups = None
        if self._uses_x_graph:
            from ..networks import correlation_graph, laplacian

            A = self._check_graph(x_adjacency, p, "x_adjacency", xkeep)
            x_lap = laplacian(A if A is not None else correlation_graph(Xs))
        elif x_adjacency is not None:
            self._check_graph(x_adjacency, p, "x_adjacency", xkeep)
        if self._uses_y_graph or y_adjacency is not None:
            from ..networks import correlation_graph, laplacian

            if y_adjacency is None:
                adjs = [None] * K
            elif isinstance(y_adjacency, (list, tuple)):
                if len(y_adjacency) != K:
                    raise ValueError(f"y_adjacency: expected {K} matrices (one per modality), "
                                     f"got {len(y_adjacency)}")
                adjs = list(y_adjacency)
            else:
                adjs = [y_adjacency] * K
            names = [f"y_adjacency[{k}]" if isinstance(y_adjacency, (list, tuple)) else "y_adjacency"
                     for k in range(K)]
            # a labelled table is taken by the labels of its modality's columns (one table
            # given for every modality: by each modality's own)
            checked = [self._check_graph(align_labelled_adjacency(A, col_names.get(f"Ys[{k}]"),
                                                                  col_names.get(f"Ys[{k}]"), names[k]),
                                         qs[k], names[k], ykeep[k]) for k, A in enumerate(adjs)]
            if self._uses_y_graph:
                y_laps = [laplacian(A if A is not None else correlation_graph(Yss[k]))
                          for k, A in enumerate(checked)]
        if self._uses_groups:
            if snp_groups is not None:
                # a Series indexed by SNP is taken by SNP name
                g = np.asarray(reorder_by_index(
                    snp_groups, col_names["X"], "snp_groups", "its index", "SNPs of X",
                    "index it by the SNP names, or pass snp_groups.to_numpy() to pair the labels with the SNPs "
                    "by position"))
                if g.shape != (p,):
                    raise ValueError(f"snp_groups: expected one label per SNP, shape ({p},), "
                                     f"got {g.shape}")
                missing = np.asarray(pd.isna(g), dtype=bool)
                if missing.any():  # NaN would form one group of its own, None breaks sorting
                    raise ValueError(f"snp_groups: {int(missing.sum())} missing label(s) (first at SNP "
                                     f"{int(np.flatnonzero(missing)[0])}); give every SNP a group")
                groups = g[xkeep]
            else:
                from ..networks import connected_components_groups, ld_graph

                A = (self._check_graph(x_adjacency, p, "x_adjacency", xkeep)
                     if x_adjacency is not None else ld_graph(Xs))
                groups = connected_components_groups(A)
        elif snp_groups is not None:
            raise ValueError(f"snp_groups: {type(self).__name__} has no group penalty; "
                             "use MTGSCCA")

        # BLAS runs on one thread inside the fit; a large X is multiplied in fixed
        # blocks (whatever the thread count, so the numbers are the same) shared by
        # as many threads as BLAS could have used here
        products = (BlockedProducts(available_threads()) if Xs.size > _BLOCKED_PRODUCTS_ABOVE
                    else PlainProducts())
        ctx = _Context(Xs, Yss, x_lap, y_laps, groups, products)
        C = self.n_components
        Kx = 1 if self._shared_u else K
        Ufull = np.zeros((p, Kx, C))
        Vfull = [np.zeros((q, C)) for q in qs]
        corrs = np.zeros((K, C))
        objective, surrogate, n_iter = [], [], 0
        Xd, Yd = Xs, list(Yss)
        loadings, Us = [], []
        # the views are standardised here, so their plain norms cannot overflow
        first = [np.linalg.norm(A) for A in (Xs, *Yss)] if C > 1 else []
        exhausted = []  # components fitted after deflation left (almost) nothing of a view
        with one_blas_thread(), contextlib.closing(products):
            for c in range(C):
                if c and any(np.linalg.norm(A) <= 1e-8 * f for A, f in zip((Xd, *Yd), first)):
                    exhausted.append(c)
                ctx.X, ctx.Ys = Xd, Yd
                U, V, trace, sur, it = self._fit_component(ctx)
                if c == 0:
                    objective, surrogate, n_iter = trace, sur, it
                # Effective weights on the (undeflated) standardised data.
                W = U.copy()
                for Uj, Qj in zip(reversed(Us), reversed(loadings)):
                    W = W - Uj @ (Qj @ W)
                Ufull[xkeep, :, c] = W
                for k in range(K):
                    Vfull[k][ykeep[k], c] = self._effective_y(k, c, V[k])
                for k in range(K):
                    corrs[k, c] = pearson(Xd @ U[:, 0 if self._shared_u else k], Yd[k] @ V[k])
                if c + 1 < C:
                    T = Xd @ U
                    Q = np.linalg.lstsq(T.T @ T + EPS * np.eye(T.shape[1]), T.T @ Xd, rcond=None)[0]
                    Us.append(U)
                    loadings.append(Q)
                    Xd = Xd - T @ Q
                    newY = []
                    for k in range(K):
                        s = Yd[k] @ V[k]
                        qk = (s @ Yd[k]) / max(s @ s, EPS)
                        self._y_loadings_store(k, V[k], qk)
                        newY.append(Yd[k] - np.outer(s, qk))
                    Yd = newY
        zero = {c for c in range(C) if not Ufull[:, :, c].any() or not any(v[:, c].any() for v in Vfull)}
        if exhausted:
            warnings.warn(f"{type(self).__name__}: component(s) {[c + 1 for c in exhausted]} of {C} are void: "
                          "the earlier components exhaust the data (after deflation nothing is left to "
                          "correlate, so their weights are zero or fit round-off); lower n_components",
                          UserWarning, stacklevel=2)
        if zero - set(exhausted):
            warnings.warn(f"{type(self).__name__}: component(s) {[c + 1 for c in sorted(zero - set(exhausted))]} "
                          f"of {C} are void: every SNP or every imaging weight is zero: with the "
                          f"penalties ({', '.join(f'{nm}={getattr(self, nm)!r}' for nm in self._penalty_params)}) "
                          "no feature survives the sparsity penalty; lower it", UserWarning, stacklevel=2)
        if C == 1:
            self.x_weights_ = Ufull[:, :, 0]
            self.y_weights_ = [v[:, 0] for v in Vfull]
            self.canonical_correlations_ = corrs[:, 0]
        else:
            self.x_weights_ = Ufull
            self.y_weights_ = Vfull
            self.canonical_correlations_ = corrs
        self.objective_ = np.asarray(objective, dtype=np.float64)
        self.surrogate_trace_ = np.asarray(surrogate, dtype=np.float64).reshape(-1, 4)
        self.n_iter_ = int(n_iter)
        if hasattr(self, "_yload"):
            del self._yload
        return self

    # Deflated imaging weights map back to the original standardised data.
    def _y_loadings_store(self, k, v, qk):
        if not hasattr(self, "_yload"):
            self._yload = {}
        self._yload.setdefault(k, []).append((v, qk))

    def _effective_y(self, k, c, v):
        w = v.copy()
        for vj, qj in reversed(getattr(self, "_yload", {}).get(k, [])[:c]):
            w = w - vj * (qj @ w)
        return w

    # ---------------------------------------------------------------- the loop
    def _fit_component(self, ctx: _Context):
        """Fit one canonical component; returns (U (p, Kx), list V, trace, surrogate, n_iter)."""
        sets = self._task_sets(ctx.K)
        if len(sets) == 1:
            return self._alternate(ctx, sets[0])
        p = ctx.X.shape[1]
        U = np.zeros((p, ctx.K))
        V = [None] * ctx.K
        traces, surs, its = [], [], []
        for tasks in sets:
            Ut, Vt, tr, su, it = self._alternate(ctx, tasks)
            for j, k in enumerate(tasks):
                U[:, k] = Ut[:, j]
                V[k] = Vt[j]
            traces.append(tr)
            surs.append(su)
            its.append(it)
        m = max(len(t) for t in traces)
        pad = [np.r_[t, np.full(m - len(t), t[-1])] for t in traces]
        sur = np.concatenate(surs, axis=0)
        return U, V, np.sum(pad, axis=0), sur, max(its)

    def _init_v(self, X, Ys, tasks, products):
        """Leading right singular vector of X'Y_k (power iterations), or random."""
        if self.init == "random":
            try:
                rng = np.random.default_rng(self.random_state)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"random_state must be None or a nonnegative int, got "
                                f"{self.random_state!r}") from exc
            return [rng.standard_normal(Y.shape[1]) for Y in Ys]
        # All tasks at once: two passes over X per power iteration, whatever K is.
        V = [np.ones(Y.shape[1]) / np.sqrt(Y.shape[1]) for Y in Ys]
        active = np.ones(len(Ys), dtype=bool)
        for _ in range(30):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            T = np.column_stack([Ys[k] @ V[k] for k in idx])
            XXT = products.dot(X, products.tdot(X, T))
            for j, k in enumerate(idx):
                v_new = Ys[k].T @ XXT[:, j]
                nrm = np.linalg.norm(v_new)
                if nrm <= EPS:
                    active[k] = False
                    continue
                v_new /= nrm
                # converged to round-off: further passes over X change nothing
                if np.linalg.norm(v_new - V[k]) <= 1e-12:
                    active[k] = False
                V[k] = v_new
        return V

    @staticmethod
    def _unit_variance_factors(T: np.ndarray) -> np.ndarray:
        """``1 / sd`` of every column of the variates T (n, r), 0 for a null column."""
        s = np.sqrt((T * T).sum(axis=0) / T.shape[0])
        return np.where(s > EPS, 1.0 / np.where(s > EPS, s, 1.0), 0.0)

    @classmethod
    def _scale(cls, Z, w):
        """``w`` rescaled so that the variate ``Z w`` has unit variance (0 if null)."""
        return w * cls._unit_variance_factors((Z @ w)[:, None])[0]

    def _loss_from(self, XU, YV):
        """``sum_k ||X u_k - Y_k v_k||^2 / n`` from the variates XU (n, Kx) and Y_k v_k."""
        n = XU.shape[0]
        tot = 0.0
        for j, t in enumerate(YV):
            r = XU[:, 0 if self._shared_u else j] - t
            tot += r @ r / n
        return tot

    def _x_rhs(self, X, YV, products):
        """``X' Y_k v_k / n`` for every task (p, Kx): one pass over X for all tasks."""
        return self._x_rhs_from(products.tdot(X, np.column_stack(YV) / X.shape[0]))

    def _x_rhs_from(self, B):
        """Per-task right-hand sides (p, K) -> the SNP block's (p, Kx)."""
        return B.sum(axis=1, keepdims=True) if self._shared_u else B

    def _y_step(self, ctx, X, Ys, U, V, yterms, ysolver, XU):
        """Imaging block: one stacked reweighted system, then unit-variance scaling.

        ``XU`` (n, Kx) holds the SNP variates ``X U``, so X is not read again here.
        """
        n = X.shape[0]
        H = _sum_hessians(yterms, V, stacked=True, dim=ysolver.dim)
        b = np.concatenate([Y.T @ XU[:, 0 if self._shared_u else j] / n
                            for j, Y in enumerate(Ys)])
        before = (self._loss_from(XU, [Y @ v for Y, v in zip(Ys, V)])
                  + sum(t.surrogate(V, V) for t in yterms))
        sol = ysolver.solve(H, b)
        Vn, start = [], 0
        for Y in Ys:
            Vn.append(sol[start:start + Y.shape[1]])
            start += Y.shape[1]
        after = (self._loss_from(XU, [Y @ v for Y, v in zip(Ys, Vn)])
                 + sum(t.surrogate(Vn, V) for t in yterms))
        return self._scale_y(Ys, Vn), before, after

    def _scale_y(self, Ys, Vn):
        """Unit training variance of every imaging variate Y_k v_k."""
        return [self._scale(Y, v) for Y, v in zip(Ys, Vn)]

    def _y_solver(self, ctx, Ys):
        return LinearSolver(Ys, 1.0, method=self.solver)

    def _alternate(self, ctx: _Context, tasks: list[int]):
        """Alternate the SNP and imaging block updates of the tasks ``tasks`` to convergence.

        The variates ``X U`` and ``Y_k v_k`` are carried from step to step, so one
        iteration reads X twice (``X' Y V`` and ``X U``) plus the products of the
        linear solve. With conjugate gradients the SNP system is solved to a relative
        residual that follows the progress of the outer loop (there is no use in
        solving to 1e-11 while the weights still move by 1e-2); convergence is only
        declared after an iteration with full-accuracy solves. Every
        ``EXTRAPOLATE_EVERY`` iterations the weights jump to the limits of their
        geometric sequences (see :data:`EXTRAPOLATE_EVERY`); the objective trace and
        the returned weights are always those of a plain iteration.
        """
        X = ctx.X
        Ys = [ctx.Ys[k] for k in tasks]
        xterms = [t for t in self._x_terms(ctx) if t.coef > 0]
        yterms = [t for t in self._y_terms(ctx, tasks) if t.coef > 0]
        Kx = 1 if self._shared_u else len(tasks)
        xsolver = LinearSolver([X], self._x_alpha(len(tasks)), method=self.solver, products=ctx.products)
        dot, tdot = ctx.products.dot, ctx.products.tdot
        ysolver = self._y_solver(ctx, Ys)
        V = [self._scale(Y, v) for Y, v in zip(Ys, self._init_v(X, Ys, tasks, ctx.products))]
        YV = [Y @ v for Y, v in zip(Ys, V)]
        # First pass: no weights yet for the reweighting; use unit weights.
        U = None
        U_old = np.full((X.shape[1], Kx), 1.0 / np.sqrt(X.shape[1]))
        XU_old = dot(X, U_old)
        trace, sur = [], []
        prev_obj = None
        converged = False
        change = 1.0
        it = 0
        recent = []  # the last plain iterates (U, V) since the start or the last jump
        extrapolate = self._extrapolates
        best_change, stale = np.inf, 0  # smallest change seen before a jump; jumps since
        for it in range(1, self.max_iter + 1):
            # ---- SNP block: one matrix for every task (shared layout).
            gram = None
            if U is not None and xsolver.method == "cg":
                # one pass over X for the right-hand sides and X'X U_old (CG's start)
                G = tdot(X, np.column_stack([*YV, XU_old]))
                B = self._x_rhs_from(G[:, :len(YV)] / X.shape[0])
                gram = G[:, len(YV):]
            else:
                B = self._x_rhs(X, YV, ctx.products)
            ucols_old = [U_old[:, j] for j in range(Kx)]
            H = _sum_hessians(xterms, ucols_old, stacked=False, dim=X.shape[1])
            rtol = max(xsolver.cg_tol, min(INEXACT_MAX_RTOL, INEXACT_FACTOR * change))
            Un = xsolver.solve(H, B, x0=None if U is None else U_old, rtol=rtol, x0_image=XU_old,
                               x0_gram=gram)
            XUn = xsolver.last_image if xsolver.last_image is not None else dot(X, Un)
            ucols = [Un[:, j] for j in range(Kx)]
            sb = self._loss_from(XU_old, YV) + sum(t.surrogate(ucols_old, ucols_old) for t in xterms)
            sa = self._loss_from(XUn, YV) + sum(t.surrogate(ucols, ucols_old) for t in xterms)
            f = self._unit_variance_factors(XUn)
            U_new, XU_new = Un * f, XUn * f
            # ---- imaging block.
            V_new, vb, va = self._y_step(ctx, X, Ys, U_new, V, yterms, ysolver, XU_new)
            YV_new = [Y @ v for Y, v in zip(Ys, V_new)]
            sur.append((sb, sa, vb, va))
            obj = (self._loss_from(XU_new, YV_new)
                   + sum(t.value([U_new[:, j] for j in range(Kx)]) for t in xterms)
                   + self._y_penalty_value(yterms, V_new))
            trace.append(obj)
            if U is not None:
                du = np.linalg.norm(U_new - U) / max(np.linalg.norm(U_new), EPS)
                dv = (np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(V_new, V)))
                      / max(np.sqrt(sum(np.sum(a * a) for a in V_new)), EPS))
                dobj = abs(obj - prev_obj) / max(abs(obj), EPS)
                change = max(du, dv)
                if du < self.tol and dv < self.tol and dobj < self.tol:
                    # an inexact SNP solve must not end the loop: check once more exactly
                    converged = xsolver.last_rtol <= xsolver.cg_tol
                    change = 0.0
            U, V, prev_obj = U_new, V_new, obj
            U_old, XU_old, YV = U_new, XU_new, YV_new
            if converged:
                break
            if extrapolate:
                recent = [*recent[-2:], (U, V)]
            # no jump when the tolerance is met (change 0: the exact check comes next) nor
            # after the last iteration (the weights returned are those the trace ends with)
            if (extrapolate and change > 0 and it % EXTRAPOLATE_EVERY == 0 and len(recent) == 3
                    and it < self.max_iter):
                # a jump moves some weights far, so the next step's change does not tell
                # whether it helped; the change just before each jump must keep reaching
                # new lows, or the loop goes on without jumps
                best_change, stale = (change, 0) if change < best_change else (best_change, stale + 1)
                extrapolate = stale < EXTRAPOLATE_PATIENCE
                if extrapolate:
                    (Ua, Va), (Ub, Vb), _ = recent
                    U_ext = _extrapolated(Ua, Ub, U)
                    XU_ext = dot(X, U_ext)
                    f = self._unit_variance_factors(XU_ext)
                    U = U_old = U_ext * f
                    XU_old = XU_ext * f
                    V = self._scale_y(Ys, [_extrapolated(a, b, c) for a, b, c in zip(Va, Vb, V)])
                    YV = [Y @ v for Y, v in zip(Ys, V)]
                    recent = []
        if not converged:
            warnings.warn(
                f"{type(self).__name__} did not converge in max_iter={self.max_iter} "
                f"iterations (tol={self.tol}); increase max_iter or the penalties",
                ConvergenceWarning, stacklevel=3)
        U, V = self._orient(X, Ys, U, V)
        return U, V, np.asarray(trace), np.asarray(sur), it

    def _y_penalty_value(self, yterms, V):
        return sum(t.value(V) for t in yterms)

    def _orient(self, X, Ys, U, V):
        """Fix the arbitrary sign: the largest |u_ik| of each SNP vector is positive."""
        U = U.copy()
        V = [v.copy() for v in V]
        for j in range(U.shape[1]):
            i = int(np.argmax(np.abs(U[:, j])))
            if U[i, j] < 0:
                U[:, j] = -U[:, j]
                if self._shared_u:
                    V = [-v for v in V]
                else:
                    V[j] = -V[j]
        return U, V

    # ---------------------------------------------------------------- prediction
    def _set_feature_names(self, col_names: dict, K: int) -> None:
        """``feature_names_in_`` (labels of X's columns) and ``y_feature_names_in_``
        (one array per modality, None for an unlabelled one) when fitted on labelled
        tables; absent otherwise."""
        ynames = [col_names.get(f"Ys[{k}]") for k in range(K)]
        named = {"feature_names_in_": None if col_names["X"] is None else np.array(col_names["X"], dtype=str),
                 "y_feature_names_in_": None if all(nm is None for nm in ynames)
                 else [None if nm is None else np.array(nm, dtype=str) for nm in ynames]}
        for attr, value in named.items():
            if value is not None:
                setattr(self, attr, value)
            elif hasattr(self, attr):  # from an earlier fit on labelled tables
                delattr(self, attr)

    def _check_new(self, X, Ys):
        check_is_fitted(self, "x_weights_")
        given_x = _column_names(X)
        given_y = column_names_each(Ys)
        X, Ys = self._check_data(X, Ys, min_samples=1)
        p = self.x_mean_.shape[0]
        if X.shape[1] != p:
            raise ValueError(f"X: has {X.shape[1]} features, but the model was fitted with {p}")
        if len(Ys) != self.n_tasks_:
            raise ValueError(f"Ys: the model was fitted with K = {self.n_tasks_} modalities, "
                             f"got {len(Ys)}")
        for k, Y in enumerate(Ys):
            q = self.y_means_[k].shape[0]
            if Y.shape[1] != q:
                raise ValueError(f"Ys[{k}]: has {Y.shape[1]} features, fitted with {q}")
        # labelled tables are paired with the weights by position: the labels must match
        check_feature_names(given_x, getattr(self, "feature_names_in_", None), "X",
                            "select them as X[model.feature_names_in_]")
        fitted_y = getattr(self, "y_feature_names_in_", None) or [None] * len(Ys)
        for k, (given, fitted) in enumerate(zip(given_y, fitted_y)):
            check_feature_names(given, fitted, f"Ys[{k}]", f"select them as Ys[{k}][model.y_feature_names_in_[{k}]]")
        return X, Ys

    def transform(self, X, Ys):
        return self._variates(X, Ys)

    def _variates(self, X, Ys):
        """Canonical variates of new data, standardised with the training statistics.

        Returns
        -------
        x_scores : ndarray (n, K)
            Column k is ``X u_k`` (for models with one shared SNP vector the column
            is repeated for every task). With ``n_components > 1``: (n, K, C).
        y_scores : list of K ndarrays (n,) (or (n, C))
            ``Y_k v_k``.
        """
        X, Ys = self._check_new(X, Ys)
        Xs = (X - self.x_mean_) * self.x_scale_
        W = self.x_weights_
        # held-out scores must not depend on whether a worker or the main process
        # computed them (cross-validation with n_jobs=1 and n_jobs>1)
        with one_blas_thread():
            if W.ndim == 2:
                xs = Xs @ W
            else:
                xs = np.einsum("np,pkc->nkc", Xs, W)
            ys = [((Y - m) * s) @ v for Y, m, s, v in
                  zip(Ys, self.y_means_, self.y_scales_, self.y_weights_)]
        if xs.shape[1] != self.n_tasks_:
            xs = np.repeat(xs, self.n_tasks_, axis=1)
        return xs, ys

    def score(self, X, Ys, y=None):
        """Mean over tasks of the canonical correlation on (X, Ys), first component."""
        return float(np.mean(self.task_correlations(X, Ys)))

    def task_correlations(self, X, Ys) -> np.ndarray:
        """Canonical correlation of every task on (X, Ys), first component: (K,)."""
        xs, ys = self._variates(X, Ys)
        if xs.shape[0] < 2:
            raise ValueError(f"X: a correlation needs at least 2 samples (rows), got {xs.shape[0]}")
        out = []
        for k in range(self.n_tasks_):
            a = xs[:, k] if xs.ndim == 2 else xs[:, k, 0]
            b = ys[k] if ys[k].ndim == 1 else ys[k][:, 0]
            out.append(pearson(a, b))
        return np.asarray(out)


def _check_real(A, name, min_samples=2):
    """check_matrix, refusing complex input instead of dropping the imaginary part."""
    if hasattr(A, "dtypes"):  # DataFrame
        kinds = {np.dtype(d).kind for d in A.dtypes if isinstance(d, np.dtype)}
    elif sp.issparse(A):
        kinds = {A.dtype.kind}
    else:
        A = np.asarray(A)
        kinds = {A.dtype.kind}
    if "c" in kinds:
        raise ValueError(f"{name}: Complex data not supported; pass real-valued features")
    return check_matrix(A, name, min_samples=min_samples)


def _sum_hessians(terms, ws, stacked, dim) -> PenaltyMatrix:
    """Sum of the terms' half-Hessians at ``ws``, a (dim, dim) :class:`PenaltyMatrix`.

    Diagonal terms (the reweighted l1, l2,1 and group penalties, ridge) are summed
    as one vector; the others (GraphNet, fusion) as a sparse matrix, which for a
    single GraphNet term is its matrix built once per fit. Neither is added to
    the other: the solvers use the two parts as they are.
    """
    d = None
    M = None
    for t in terms:
        diag = t.hessian_diagonal(ws, stacked)
        if diag is not None:
            d = diag.copy() if d is None else d + diag
        else:
            Ht = t.hessian(ws, stacked)
            M = Ht if M is None else M + Ht
    if M is None and d is None:
        d = np.zeros(dim)
    return PenaltyMatrix(M, d)
