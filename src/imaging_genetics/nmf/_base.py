"""Estimator base of the joint NMF family: validation, initialisation, restarts.

The named models (:class:`~imaging_genetics.nmf.JNMF`,
:class:`~imaging_genetics.nmf.JSNMNMF`, :class:`~imaging_genetics.nmf.JCBSNMF`) only
declare which penalty terms they use; the loop lives in :mod:`._core`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._products import available_threads, one_blas_thread
from .._validation import (
    EPS,
    align_labelled_adjacency,
    check_adjacency,
    check_matrices,
    check_penalty,
    check_positive_int,
    column_names_each,
)
from ..base import PersistenceMixin
from ..networks import normalized_adjacency
from ._core import JointProblem, objective_terms, run_batch

__all__ = ["BoundednessWarning", "JointNMFBase", "fit_settings"]

#: Largest number of restarts stacked into one batched computation.
_MAX_BATCH = 8
#: Largest number of stacked columns (restarts x components) of one batch: wider
#: stacks gain nothing in the dense products and make the operands of the
#: sparse prior products and the element-wise steps fall out of cache (measured).
_MAX_COLUMNS = 128
#: Memory budget of one batch (bytes), for the stacked factors and temporaries.
_BATCH_BYTES = 512 * 2**20


class BoundednessWarning(UserWarning):
    """The chosen penalties may leave the joint NMF objective unbounded below (spec §2.5)."""


# ---------------------------------------------------------------------------
# initialisation
# ---------------------------------------------------------------------------


def _random_init(Xcat: np.ndarray, k: int, rng: np.random.RandomState):
    """Uniform factors scaled so that W H has the mean of the data; strictly positive."""
    n, P = Xcat.shape
    avg = math.sqrt(max(float(Xcat.mean()), EPS) / k)
    W = avg * rng.uniform(0.01, 1.0, size=(n, k))
    H = avg * rng.uniform(0.01, 1.0, size=(k, P))
    return W, H


def _truncated_svd(X: np.ndarray, k: int):
    # on one BLAS thread, as the sweeps: with more, the initial factors (and so the whole
    # fit) would differ in the last bits between a main process and a worker
    with one_blas_thread():
        if min(X.shape) <= 3000:
            U, s, Vt = np.linalg.svd(X, full_matrices=False)
            return U[:, :k], s[:k], Vt[:k]
        from sklearn.utils.extmath import randomized_svd

        return randomized_svd(X, k, random_state=0)


def _nndsvda_init(Xcat: np.ndarray, k: int):
    """Nonnegative double SVD (Boutsidis & Gallopoulos 2008) with zeros filled.

    Each singular pair (u, v) is split into positive and negative parts; the pair
    with the larger product of norms is kept. Zeros are then replaced by
    ``0.1 * sqrt(mean(X) / k)`` (small against the entries of a product that
    reproduces the data mean), because multiplicative updates can never move an
    entry away from zero. scikit-learn's "nndsvda" fills with mean(X) itself, which
    is far too large unless the data are scaled to mean ~1.
    """
    n, P = Xcat.shape
    U, s, Vt = _truncated_svd(Xcat, k)
    W = np.zeros((n, k))
    H = np.zeros((k, P))
    W[:, 0] = math.sqrt(s[0]) * np.abs(U[:, 0])
    H[0] = math.sqrt(s[0]) * np.abs(Vt[0])
    for j in range(1, min(k, s.size)):
        x, y = U[:, j], Vt[j]
        xp, xn = np.maximum(x, 0), np.maximum(-x, 0)
        yp, yn = np.maximum(y, 0), np.maximum(-y, 0)
        nxp, nyp = np.linalg.norm(xp), np.linalg.norm(yp)
        nxn, nyn = np.linalg.norm(xn), np.linalg.norm(yn)
        if nxp * nyp >= nxn * nyn:
            u, v, sigma = xp / max(nxp, EPS), yp / max(nyp, EPS), nxp * nyp
        else:
            u, v, sigma = xn / max(nxn, EPS), yn / max(nyn, EPS), nxn * nyn
        scale = math.sqrt(s[j] * sigma)
        W[:, j] = scale * u
        H[j] = scale * v
    avg = 0.1 * math.sqrt(max(float(Xcat.mean()), EPS) / k)
    W[W < EPS] = avg
    H[H < EPS] = avg
    return W, H


def _dead_components(W: np.ndarray, H: np.ndarray) -> list[int]:
    """The components (sorted) whose column of W (n, k) or whose row of H (k, p) is all zero."""
    return np.flatnonzero(~(W.any(axis=0) & H.any(axis=1))).tolist()


# ---------------------------------------------------------------------------
# parameter helpers
# ---------------------------------------------------------------------------


def _per_pair(value: Any, pairs: Sequence[tuple[int, int]], name: str) -> dict:
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            I, J = _pair_key(key, name)
            out[(I, J)] = check_penalty(v, f"{name}[{(I, J)}]")
        unmatched = sorted(set(out) - set(pairs))
        if unmatched:
            # a mistyped pair would otherwise leave the intended pair at 0 without a word
            raise ValueError(f"{name}: pair(s) {unmatched} have no cross_adjacency; the priors given are "
                             f"for {sorted(pairs)} (a pair left out of the dict gets 0)")
        return {p: out.get(p, 0.0) for p in pairs}
    v = check_penalty(value, name)
    return {p: v for p in pairs}


def _per_modality(value: Any, M: int, name: str) -> list[float]:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [check_penalty(value, name)] * M
    try:
        values = list(value)
    except TypeError as exc:
        raise TypeError(f"{name} must be a number or a sequence of {M} numbers, got {value!r}") from exc
    if len(values) != M:
        raise ValueError(f"{name}: expected {M} values (one per modality), got {len(values)}")
    return [check_penalty(v, f"{name}[{i}]") for i, v in enumerate(values)]


def _pair_key(key: Any, name: str) -> tuple[int, int]:
    try:
        if isinstance(key, (str, bytes)):
            raise TypeError(key)
        I, J = (int(x) for x in key)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: keys must be pairs of modality indices (I, J), got {key!r}") from exc
    return (I, J) if I < J else (J, I)


def _batch_size(k: int, per_restart_bytes: float, limit: int = _MAX_BATCH) -> int:
    """Restarts per batch: at most ``limit``, ``_MAX_COLUMNS`` columns and the memory budget."""
    return int(max(1, min(limit, _MAX_COLUMNS // max(k, 1), _BATCH_BYTES // max(per_restart_bytes, 1.0))))


def _n_batches(n_items: int, size: int) -> int:
    """Number of batches for ``n_items`` of at most ``size`` each.

    At least two when there are two or more items, and an even number when there
    are more than two batches, so that two workers finish together. It depends
    only on the problem, never on ``n_jobs``, so results are identical whatever
    ``n_jobs`` is.
    """
    n = max(math.ceil(n_items / size), min(n_items, 2))
    if n > 2 and n % 2 and n < n_items:
        n += 1
    return n


def _batches(n_restarts: int, per_restart_bytes: float, k: int = 1) -> list[np.ndarray]:
    """Split restarts into balanced batches (see :func:`_batch_size` and :func:`_n_batches`)."""
    n_batches = _n_batches(n_restarts, _batch_size(k, per_restart_bytes))
    return [b for b in np.array_split(np.arange(n_restarts), n_batches) if b.size]


def _run_restarts(prob, W0, H0s, max_iter, tol, check_every, n_threads=1):
    return run_batch(prob, W0, H0s, max_iter=max_iter, tol=tol, check_every=check_every, n_threads=n_threads)


def _bound_need(cross: Sequence, M: int) -> float:
    """1/2 max_I sum_J lambda_IJ ||A_IJ||_2 (priors have unit spectral norm), spec §2.5."""
    load = np.zeros(M)
    for I, J, lam, A in cross:
        norm = 1.0 if (A.nnz if sp.issparse(A) else np.count_nonzero(A)) else 0.0
        load[I] += lam * norm
        load[J] += lam * norm
    return 0.5 * float(load.max()) if M else 0.0


# ---------------------------------------------------------------------------
# estimator
# ---------------------------------------------------------------------------


class JointNMFBase(PersistenceMixin, BaseEstimator):
    """Shared ``fit`` of the joint NMF family (see :mod:`imaging_genetics.nmf`).

    Subclasses set ``_uses_cross`` / ``_uses_graphs`` and implement
    ``_penalty_values()`` returning ``(cross_strength, smoothness, basis_penalty,
    sparsity)``.
    """

    _uses_cross = False
    _uses_graphs = False
    #: iterations between objective evaluations (convergence checks)
    _check_every = 10

    def _penalty_values(self):  # pragma: no cover - overridden
        return 0.0, 0.0, 0.0, 0.0

    # -- validation -------------------------------------------------------
    def _validate(self, Xs, cross_adjacency, graphs, labels=None):
        # feature labels of labelled tables (``labels``, when the caller has them):
        # priors given as labelled tables are taken by them
        labels = column_names_each(Xs) if labels is None else labels
        Xs = check_matrices(Xs, "Xs", nonnegative=True)
        M = len(Xs)
        n = Xs[0].shape[0]
        sizes = [X.shape[1] for X in Xs]
        k = check_positive_int(self.n_components, "n_components")
        # the binding modality is the narrowest one: name it, with the bound it sets
        I = int(np.argmin(sizes))
        if k > min(n, sizes[I]):
            raise ValueError(
                f"n_components={k} is larger than min(n_samples, n_features) = "
                f"min({n}, {sizes[I]}) of Xs[{I}]; choose n_components <= {min(n, sizes[I])}"
            )
        total = sum(float(X.sum()) for X in Xs)
        if total <= 0:
            raise ValueError("Xs: every entry is zero; there is nothing to factorise")
        check_positive_int(self.n_restarts, "n_restarts")
        check_positive_int(self.max_iter, "max_iter", minimum=0)
        tol = check_penalty(self.tol, "tol")
        if self.init not in ("random", "nndsvda", "custom"):
            raise ValueError(f"init must be 'random', 'nndsvda' or 'custom', got {self.init!r}")
        rs = self.random_state
        if not (rs is None or isinstance(rs, np.random.RandomState)
                or (isinstance(rs, (int, np.integer)) and not isinstance(rs, bool))):
            raise TypeError(f"random_state must be None, an int or a numpy RandomState, got {rs!r}")
        if not (isinstance(self.dtype, str) and self.dtype in ("float64", "float32")):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        lam, beta, gamma1, gamma2 = self._penalty_values()
        gamma1 = check_penalty(gamma1, "basis_penalty")
        gamma2 = check_penalty(gamma2, "sparsity")

        cross = []
        if cross_adjacency is not None and self._uses_cross:
            if not isinstance(cross_adjacency, Mapping):
                raise TypeError(
                    "cross_adjacency must be a dict {(I, J): matrix of shape (p_I, p_J)}, "
                    f"got {type(cross_adjacency).__name__}"
                )
            pairs = {}
            for key, A in cross_adjacency.items():
                if A is None:
                    continue
                I, J = _pair_key(key, "cross_adjacency")
                raw = tuple(int(x) for x in key)
                if not (0 <= I < M and 0 <= J < M) or I == J:
                    raise ValueError(
                        f"cross_adjacency: key {key!r} does not name two different modalities "
                        f"among 0..{M - 1}"
                    )
                if (I, J) in pairs:
                    raise ValueError(f"cross_adjacency: pair {(I, J)} given twice")
                transposed = raw[0] > raw[1]
                name = f"cross_adjacency[{key!r}]"
                shape = (sizes[raw[0]], sizes[raw[1]])
                if labels:
                    A = align_labelled_adjacency(A, labels[raw[0]], labels[raw[1]], name)
                A = check_adjacency(A, 0, name, symmetric=False, shape=shape)
                pairs[(I, J)] = A.T.tocsr() if transposed else A
            lams = _per_pair(lam, list(pairs), "cross_strength")
            for (I, J), A in sorted(pairs.items()):
                cross.append((I, J, lams[(I, J)], normalized_adjacency(A)))
        elif self._uses_cross:
            _per_pair(lam, [], "cross_strength")  # checked even when no prior uses it
        if cross_adjacency is not None and not self._uses_cross:
            warnings.warn(
                f"{type(self).__name__} has no cross-modality term; cross_adjacency is ignored",
                UserWarning,
                stacklevel=3,
            )

        graph_terms = [None] * M
        if graphs is not None:
            if isinstance(graphs, (str, bytes, Mapping)) or not hasattr(graphs, "__iter__") or (
                    isinstance(graphs, np.ndarray) and graphs.ndim != 3) or sp.issparse(graphs):
                raise TypeError(f"graphs: expected a list of {M} (p_I, p_I) adjacencies or None "
                                f"entries, got {type(graphs).__name__}; wrap a single graph: [S]")
            graphs = list(graphs)
        if graphs is not None and self._uses_graphs:
            if len(graphs) != M:
                raise ValueError(f"graphs: expected {M} entries (one per modality, or None), got {len(graphs)}")
            betas = _per_modality(beta, M, "smoothness")
            for I, S in enumerate(graphs):
                if S is None:
                    continue
                if labels:
                    S = align_labelled_adjacency(S, labels[I], labels[I], f"graphs[{I}]")
                S = check_adjacency(S, sizes[I], f"graphs[{I}]")
                S = (S - sp.diags(S.diagonal())).tocsr()
                S.eliminate_zeros()
                graph_terms[I] = (betas[I], normalized_adjacency(S))
        elif self._uses_graphs:
            _per_modality(beta, M, "smoothness")  # checked even when no graph uses it
        if graphs is not None and not self._uses_graphs and any(g is not None for g in graphs):
            warnings.warn(
                f"{type(self).__name__} has no graph (Laplacian) term; graphs are ignored",
                UserWarning,
                stacklevel=3,
            )
        prob = JointProblem(Xs, cross=cross, graphs=graph_terms, gamma1=gamma1, gamma2=gamma2,
                            dtype=self.dtype)
        self._check_bounded(prob, M)
        return prob, k, tol

    @staticmethod
    def _check_bounded(prob: JointProblem, M: int) -> None:
        """Warn when gamma2 < 1/2 max_I sum_J lambda_IJ ||A_IJ||_2 (spec §2.5)."""
        need = _bound_need([c[:4] for c in prob.cross], M)
        if need > prob.gamma2:
            warnings.warn(
                f"sparsity (gamma2) = {prob.gamma2:g} is below 1/2 max_I sum_J "
                f"cross_strength_IJ ||A_IJ||_2 = {need:g}: the objective may be unbounded "
                "below (W -> W/s, H -> sH drives the cross term to -inf). Raise sparsity "
                f"to at least {need:g} or lower cross_strength.",
                BoundednessWarning,
                stacklevel=4,
            )

    # -- initial factors --------------------------------------------------
    def _initial_factors(self, Xs, k, seeds, init_basis, init_coefficients):
        Xcat = np.hstack(Xs)
        n = Xcat.shape[0]
        cuts = np.cumsum([X.shape[1] for X in Xs])[:-1]
        R = len(seeds)
        W0 = np.empty((R, n, k))
        Hcat0 = np.empty((R, k, Xcat.shape[1]))
        base = None
        if self.init != "custom" and (init_basis is not None or init_coefficients is not None):
            warnings.warn(f"init_basis / init_coefficients are used only with init='custom' (init is "
                          f"{self.init!r}); they are ignored", UserWarning, stacklevel=3)
        if self.init == "nndsvda":
            base = _nndsvda_init(Xcat, k)
        elif self.init == "custom":
            if init_basis is None or init_coefficients is None:
                raise ValueError("init='custom' needs init_basis (n, k) and init_coefficients (list of (k, p_I))")
            Wc = np.array(init_basis, dtype=np.float64)
            Hc = [np.array(H, dtype=np.float64) for H in init_coefficients]
            if Wc.shape != (n, k):
                raise ValueError(f"init_basis: expected shape {(n, k)}, got {Wc.shape}")
            if len(Hc) != len(Xs):
                raise ValueError(f"init_coefficients: expected {len(Xs)} matrices, got {len(Hc)}")
            for I, (H, X) in enumerate(zip(Hc, Xs)):
                if H.shape != (k, X.shape[1]):
                    raise ValueError(f"init_coefficients[{I}]: expected shape {(k, X.shape[1])}, got {H.shape}")
            for name, A in (("init_basis", Wc), *((f"init_coefficients[{I}]", H) for I, H in enumerate(Hc))):
                if not np.isfinite(A).all():
                    raise ValueError(f"{name}: {int((~np.isfinite(A)).sum())} NaN or infinite entries")
            if (Wc < 0).any() or any((H < 0).any() for H in Hc):
                raise ValueError("init_basis / init_coefficients must be nonnegative")
            Hcat = np.hstack(Hc)
            # a multiplicative update keeps a zero at zero: a component whose W column or
            # whose every H row is zero would stay empty for the whole fit
            dead = _dead_components(Wc, Hcat)
            if dead:
                raise ValueError(f"init='custom': component(s) {dead} start all zero in "
                                 "init_basis or in every init_coefficients matrix, and multiplicative "
                                 "updates never move a zero; start them positive")
            n_zero = int((Wc == 0).sum() + (Hcat == 0).sum())
            if n_zero:
                warnings.warn(f"init='custom': {n_zero} zero entries in init_basis / init_coefficients stay "
                              "zero for the whole fit (multiplicative updates never move a zero)", UserWarning,
                              stacklevel=3)
            base = (Wc, Hcat)
        for r, seed in enumerate(seeds):
            rng = np.random.RandomState(seed)
            if base is None:
                W, H = _random_init(Xcat, k, rng)
            elif r == 0:
                W, H = base
            elif self.init == "nndsvda":  # perturbed copies give distinct restarts
                W = base[0] * rng.uniform(0.5, 1.5, size=base[0].shape)
                H = base[1] * rng.uniform(0.5, 1.5, size=base[1].shape)
            else:  # custom: the extra restarts start at random
                W, H = _random_init(Xcat, k, rng)
            W0[r], Hcat0[r] = W, H
        H0s = np.split(Hcat0, cuts, axis=2)
        return W0, [np.ascontiguousarray(H) for H in H0s]

    # -- fit ----------------------------------------------------------------
    def fit(self, Xs, y=None, *, cross_adjacency=None, graphs=None, init_basis=None, init_coefficients=None):
        """Fit the factorisation ``X_I ~ W H_I`` for every modality I.

        Parameters
        ----------
        Xs : list of M array-likes of shape (n_samples, p_I)
            Nonnegative data sharing rows (samples), M >= 1.
        y : ignored
        cross_adjacency : dict {(I, J): (p_I, p_J) matrix}, optional
            Cross-modality priors A_IJ (dense or sparse, nonnegative), I < J; a key
            (J, I) with a (p_J, p_I) matrix is accepted and transposed. Each is
            scaled to unit spectral norm. Ignored by models without a cross term.
        graphs : list of M (p_I, p_I) adjacencies or None, optional
            Within-modality feature graphs S_I (symmetric, nonnegative; the
            diagonal is dropped), scaled to unit spectral norm. Ignored by models
            without a Laplacian term. Priors given as DataFrames labelled by feature
            are taken by label when the Xs are labelled tables.
        init_basis, init_coefficients : arrays, optional
            Starting W (n, k) and list of H_I (k, p_I) when ``init='custom'``
            (used by the first restart; further restarts start at random).

        Returns
        -------
        self
        """
        labels = column_names_each(Xs)
        prob, k, tol = self._validate(Xs, cross_adjacency, graphs, labels)
        Xs = prob.Xs
        rs = check_random_state(self.random_state)
        R = int(self.n_restarts)
        seeds = rs.randint(0, np.iinfo(np.int32).max, size=R)
        W0, H0s = self._initial_factors(Xs, k, seeds, init_basis, init_coefficients)
        n = Xs[0].shape[0]
        P = sum(X.shape[1] for X in Xs)
        per_restart = 8.0 * (4 * n * k + 8 * k * P)
        batches = _batches(R, per_restart, k)
        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        check_every = int(self._check_every)
        if n_jobs == 1 or len(batches) == 1:
            # alone in this process: each sweep is shared with threads on the other cores
            threads = available_threads()
            chunks = [_run_restarts(prob, W0[b], [H[b] for H in H0s], int(self.max_iter), tol, check_every,
                                    threads) for b in batches]
        else:
            tasks = (
                delayed(_run_restarts)(prob, W0[b], [H[b] for H in H0s], int(self.max_iter), tol, check_every)
                for b in batches
            )
            chunks = Parallel(n_jobs=n_jobs)(tasks)
        results = [res for chunk in chunks for res in chunk]
        finals = np.array([res["trace"][-1] if res["finite"] else np.inf for res in results])
        if not np.isfinite(finals).any():
            top = max(float(X.max()) for X in Xs)
            if any(np.any(np.asarray(c[2]) > 0) for c in prob.cross):  # (I, J, lambda, ...)
                cause = ("the objective is unbounded below for these penalties; increase sparsity "
                         "(gamma2) or lower cross_strength")
            else:  # without a cross term the objective is bounded: the numbers overflowed
                cause = (f"the products overflowed (largest data value {top:.3g}); rescale the data, "
                         "e.g. divide every modality by its largest value")
            raise FloatingPointError(f"every restart diverged (non-finite factors): {cause}")
        best = int(np.argmin(finals))
        res = results[best]
        self.basis_ = res["W"]
        self.coefficients_ = res["Hs"]
        self.objective_ = res["trace"]
        self.n_iter_ = int(res["n_iter"])
        self.converged_ = bool(res["converged"])
        self.restart_objectives_ = finals
        self.restart_seeds_ = seeds.astype(np.int64)
        self.best_restart_ = best
        if any(nm is not None for nm in labels):
            self.feature_names_in_ = [None if nm is None else np.array(nm, dtype=str) for nm in labels]
        elif hasattr(self, "feature_names_in_"):  # from an earlier fit on labelled tables
            del self.feature_names_in_
        self.n_features_ = [int(X.shape[1]) for X in Xs]
        terms = objective_terms(prob, res["W"][None], [H[None] for H in res["Hs"]])
        self.objective_terms_ = {key: float(v[0]) for key, v in terms.items()}
        self.reconstruction_err_ = float(math.sqrt(max(self.objective_terms_["fit"], 0.0)))
        if not self.converged_ and self.max_iter > 0 and tol > 0:
            warnings.warn(
                f"{type(self).__name__}: the best restart did not converge within "
                f"max_iter={self.max_iter} iterations (tol={self.tol:g}); increase max_iter",
                ConvergenceWarning,
                stacklevel=2,
            )
        dead = _dead_components(self.basis_, np.hstack(self.coefficients_))
        if dead and self.max_iter > 0:
            top = max(float(X.max()) for X in Xs)
            warnings.warn(
                f"{type(self).__name__}: component(s) {dead} of {k} came out zero (W column or "
                f"every H row), so they explain nothing. The penalties (basis_penalty, sparsity) may "
                f"outweigh the fit at this data scale (largest value {top:.3g}): rescale the data (e.g. "
                f"divide each modality by its largest value), lower the penalties or n_components",
                UserWarning, stacklevel=2)
        if self.objective_[-1] < 0:
            warnings.warn(
                "the objective is negative: the cross-modality term dominates, which is the "
                "signature of an unbounded objective (spec §2.5); increase sparsity",
                BoundednessWarning,
                stacklevel=2,
            )
        return self

    def fit_transform(self, Xs, y=None, **fit_params):
        """Fit and return the basis W of shape (n_samples, n_components)."""
        return self.fit(Xs, y, **fit_params).basis_

    def reconstruct(self):
        """The fitted approximations ``[W H_I for each modality]``."""
        self._check_fitted()
        with one_blas_thread():  # the same numbers in any process (see nmf._core)
            return [self.basis_ @ H for H in self.coefficients_]

    def _check_fitted(self):
        if not hasattr(self, "basis_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(Xs) first")


# ---------------------------------------------------------------------------
# many settings of the penalty weights, batched like restarts
# ---------------------------------------------------------------------------

#: Largest number of settings x restarts stacked into one batch of a grid.
_GRID_BATCH = 16


def _settings_batches(n_settings: int, n_restarts: int, per_restart_bytes: float, k: int = 1,
                      keys: Sequence | None = None) -> list[np.ndarray]:
    """Groups of settings; each batch stacks all restarts of its settings.

    With ``keys`` (one hashable per setting: its prior weights), a batch holds
    settings of one key only, so their prior weights are common to the whole
    stack and fold into one sparse operator per modality (:mod:`._core`). Depends
    only on the problem (never on ``n_jobs``), so results do not depend on how the
    batches are scheduled.
    """
    fit = _batch_size(k, per_restart_bytes, _GRID_BATCH)
    per_batch = max(1, fit // max(n_restarts, 1))
    if keys is None:
        groups = [np.arange(n_settings)]
    else:
        order: dict = {}
        for i, key in enumerate(keys):
            order.setdefault(key, []).append(i)
        groups = [np.asarray(v) for v in order.values()]
    if len(groups) == 1:
        n_batches = _n_batches(n_settings, per_batch)
        return [b for b in np.array_split(groups[0], n_batches) if b.size]
    out = []
    for g in groups:
        out += [b for b in np.array_split(g, math.ceil(g.size / per_batch)) if b.size]
    return out


def _settings_task(prob, W0, H0s, settings_idx, n_restarts, max_iter, tol, check_every, total, n_threads=1):
    """Run the stacked restarts of some settings; one summary per setting."""
    R = n_restarts
    rows = np.repeat(settings_idx, R)
    idx = np.concatenate([np.arange(i * R, (i + 1) * R) for i in settings_idx])
    sub = prob.take(idx)
    res = run_batch(sub, W0[np.tile(np.arange(R), len(settings_idx))],
                    [H[np.tile(np.arange(R), len(settings_idx))] for H in H0s],
                    max_iter=max_iter, tol=tol, check_every=check_every, n_threads=n_threads)
    out = []
    for j, g in enumerate(settings_idx):
        mine = [res[i] for i in np.flatnonzero(rows == g)]
        finals = np.array([r["trace"][-1] if r["finite"] else np.inf for r in mine])
        if not np.isfinite(finals).any():
            out.append(None)
            continue
        best = mine[int(np.argmin(finals))]
        one = sub.take(np.array([j * R]))
        terms = objective_terms(one, best["W"][None], [H[None] for H in best["Hs"]])
        fit = float(terms["fit"][0])
        out.append({
            "reconstruction_error": fit,
            "relative_error": float(math.sqrt(fit / total)) if total > 0 else float("nan"),
            "objective": float(best["trace"][-1]),
            "n_iter": int(best["n_iter"]),
        })
    return settings_idx, out


def fit_settings(estimator, settings: Sequence[Mapping[str, float]], Xs, *, cross_adjacency=None,
                 graphs=None, n_jobs=None, verbose=0):
    """Fit one joint NMF model for each setting of its penalty weights, batched.

    Equivalent to ``clone(estimator).set_params(**s).fit(Xs, ...)`` for every
    setting ``s`` (same data, priors, initial factors and restarts), but settings
    are stacked like restarts (:class:`~._core.JointProblem` with per-restart
    weights), so one large matrix product per step serves many settings. Results
    agree with separate fits up to floating-point round-off in the stacked
    matrix products.

    Parameters
    ----------
    estimator : JointNMFBase
        Template; ``settings`` may change only its penalty weights
        (``cross_strength``, ``smoothness``, ``basis_penalty``, ``sparsity``).
    settings : sequence of dict
    n_jobs : int or None
        Batches run in parallel through joblib (any joblib backend, e.g. Dask).

    Yields
    ------
    (index, row) as batches finish, in batch order: ``row`` has
    ``reconstruction_error``, ``relative_error``, ``objective``, ``n_iter`` and
    ``bounded``; a setting whose restarts all diverged gets infinite errors and
    ``objective = -inf``, as in the one-at-a-time search.
    """
    from sklearn.base import clone

    settings = [dict(s) for s in settings]
    if not settings:
        return
    names = sorted({name for s in settings for name in s})
    allowed = {"cross_strength", "smoothness", "basis_penalty", "sparsity"}
    if set(names) - allowed:
        raise ValueError(f"fit_settings: only penalty weights may vary, got {sorted(set(names) - allowed)}")
    template = clone(estimator).set_params(**{name: 1.0 for name in names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob1, k, tol = template._validate(Xs, cross_adjacency, graphs)
    M = prob1.n_modalities
    pairs = [(I, J) for I, J, *_ in prob1.cross]
    S, R = len(settings), int(estimator.n_restarts)
    lam = {pq: np.zeros(S) for pq in pairs}
    beta = [np.zeros(S) for _ in range(M)]
    g1, g2, bounded = np.zeros(S), np.zeros(S), np.zeros(S, dtype=bool)
    for i, setting in enumerate(settings):
        model = clone(estimator).set_params(**setting)
        lam_s, beta_s, g1_s, g2_s = model._penalty_values()
        g1[i] = check_penalty(g1_s, "basis_penalty")
        g2[i] = check_penalty(g2_s, "sparsity")
        lams = _per_pair(lam_s, pairs, "cross_strength") if pairs else {}
        for pq in pairs:
            lam[pq][i] = lams[pq]
        betas = _per_modality(beta_s, M, "smoothness")
        for I in range(M):
            beta[I][i] = betas[I]
        need = _bound_need([(I, J, lam[(I, J)][i], A) for I, J, _, A, _ in prob1.cross], M)
        bounded[i] = not need > g2[i]
    rep = lambda v: np.repeat(v, R)  # noqa: E731  (one weight per stacked restart)
    cross = [(I, J, rep(lam[(I, J)]), A, AT) for I, J, _, A, AT in prob1.cross]
    graph_terms = [None if g is None else (rep(beta[I]), g[1], g[2]) for I, g in enumerate(prob1.graphs)]
    prob = JointProblem(prob1.Xs, cross=cross, graphs=graph_terms, gamma1=rep(g1), gamma2=rep(g2),
                        dtype=prob1.dtype)
    Xs = prob.Xs
    seeds = check_random_state(clone(estimator).random_state).randint(0, np.iinfo(np.int32).max, size=R)
    W0, H0s = template._initial_factors(Xs, k, seeds, None, None)
    n = Xs[0].shape[0]
    P = sum(X.shape[1] for X in Xs)
    # settings with the same prior weights (lambda, beta) go together (see _settings_batches)
    keys = [tuple(lam[pq][i] for pq in pairs) + tuple(beta[I][i] for I in range(M)) for i in range(S)]
    batches = _settings_batches(S, R, 8.0 * (4 * n * k + 8 * k * P), k, keys)
    total = sum(prob.sq_norms)
    args = (int(estimator.max_iter), tol, int(estimator._check_every), total)
    tasks = (delayed(_settings_task)(prob, W0, H0s, b, R, *args) for b in batches)
    if n_jobs in (None, 1) or len(batches) == 1:
        threads = available_threads()
        chunks = (_settings_task(prob, W0, H0s, b, R, *args, threads) for b in batches)
    else:
        try:
            chunks = Parallel(n_jobs=n_jobs, return_as="generator", verbose=verbose)(tasks)
        except ValueError as exc:  # a joblib backend without generator support
            if "does not support return_as" not in str(exc):
                raise
            tasks = (delayed(_settings_task)(prob, W0, H0s, b, R, *args) for b in batches)
            chunks = Parallel(n_jobs=n_jobs, verbose=verbose)(tasks)
    for idx, rows in chunks:
        for i, row in zip(idx, rows):
            if row is None:
                row = {"reconstruction_error": float("inf"), "relative_error": float("inf"),
                       "objective": float("-inf"), "n_iter": 0}
            row["bounded"] = bool(bounded[i])
            yield int(i), row
