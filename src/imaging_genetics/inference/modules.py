"""Co-modules of a joint NMF fit: extraction, significance, overlap and fit quality.

Spec joint_nmf.md §5 (module extraction), §6 (permutation test) and §7 (metrics).

A *module* is a list of M sorted integer arrays: the features of each modality
that belong to it. :func:`extract_modules` returns one module per component.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
from sklearn.utils import check_random_state

from .._products import one_blas_thread
from .._stats import centred, norm, vdot
from .._validation import EPS, check_feature_names, check_matrices, check_positive_int, column_names_each

__all__ = [
    "extract_modules",
    "extract_sample_modules",
    "module_sizes",
    "MODULE_METHODS",
    "module_significance",
    "module_statistic",
    "overlap_rate",
    "mean_overlap_rate",
    "multi_membership_rate",
    "best_match_jaccard",
    "module_reproducibility",
    "reconstruction_correlation",
    "reconstruction_errors",
]


def _coefficients(model: Any) -> list[np.ndarray]:
    Hs = getattr(model, "coefficients_", model)
    if Hs is None:
        raise ValueError("model is not fitted: it has no coefficients_")
    try:
        Hs = [np.asarray(H, dtype=np.float64) for H in Hs]
    except TypeError as exc:
        raise TypeError("model must be a fitted joint NMF model or a list of H_I matrices") from exc
    if not Hs or any(H.ndim != 2 for H in Hs):
        raise ValueError("expected a list of 2-D coefficient matrices H_I of shape (k, p_I)")
    for I, H in enumerate(Hs):
        if not np.isfinite(H).all():
            raise ValueError(f"H_{I}: {int((~np.isfinite(H)).sum())} NaN or infinite coefficient(s); "
                             "modules need finite coefficients (was the fit diverging?)")
    return Hs


#: Module rules (spec §5): ``zscore`` is the JNMF convention and the default;
#: the others are the robust variants found in related code.
MODULE_METHODS = ("zscore", "mad", "otsu", "topk")

#: 1 / Phi^-1(3/4): makes the median absolute deviation a consistent estimate of
#: the standard deviation under normality, so ``mad`` scores read like z-scores.
_MAD_TO_SD = 1.482602218505602


def extract_modules(model: Any, threshold: float | Sequence[float] | None = None, *,
                    method: str = "zscore", orientation: str = "row") -> list[list[np.ndarray]]:
    """Co-modules from the coefficient matrices H_I (spec §5; Decision 5 for the default).

    With the defaults (JNMF convention), feature j of modality I belongs to module i
    when ``(H_I[i, j] - mean_j H_I[i, :]) / std_j H_I[i, :] > T_I`` (strict; ``std``
    with ddof=1 as MATLAB's ``std``). Membership is invariant to rescaling a row of
    H_I, so the W/H scaling ambiguity does not matter. Modules may overlap and may
    be empty (a row with zero spread has no members).

    Parameters
    ----------
    model : fitted JNMF / JSNMNMF / JCBSNMF, or list of M arrays (k, p_I)
    threshold : float, int or sequence of M of them, optional
        T, or one T_I per modality. ``zscore`` and ``mad``: the score a member must
        exceed (default 2.0). ``topk``: the number of members per module (required).
        ``otsu``: not used (must be None).
    method : {"zscore", "mad", "otsu", "topk"}, default "zscore"
        ``zscore``: (h - mean) / std > T. ``mad``: the robust score
        (h - median) / (1.4826 MAD) > T. ``otsu``: h above the Otsu threshold of its
        row (the split of the sorted values that maximises the between-class
        variance, computed exactly rather than on a 256-level histogram).
        ``topk``: the T largest values of the row (ties broken by lower index).
    orientation : {"row", "column"}, default "row"
        ``row`` scores each row of H_I (a module, across the features: the JNMF
        convention). ``column`` scores each column (a feature, across the k
        modules), so a feature joins the modules it loads on most; module sizes
        are then no longer bounded by Cantelli's inequality (spec §4.18).

    Returns
    -------
    list of k modules, each a list of M sorted int arrays of feature indices.
    """
    Hs = _coefficients(model)
    k = Hs[0].shape[0]
    if any(H.shape[0] != k for H in Hs):
        raise ValueError("every H_I must have the same number of rows (components)")
    Ts = module_thresholds(threshold, method, len(Hs), orientation)
    members = [_members(H if orientation == "row" else H.T, T, method) for H, T in zip(Hs, Ts)]
    if orientation == "column":
        members = [m.T for m in members]
    return [[np.flatnonzero(members[I][i]) for I in range(len(Hs))] for i in range(k)]


def extract_sample_modules(model: Any, threshold: float | None = None, *,
                           method: str = "zscore") -> list[np.ndarray]:
    """The samples of each module, from the columns of the shared basis W (spec §5).

    Sample r belongs to module i when ``W[r, i]`` stands out in column i by the
    rule ``method`` (default: ``(W[r, i] - mean_r W[:, i]) / std_r W[:, i] > T``,
    ddof=1, T = 2.0), as :func:`extract_modules` does for the features.

    Parameters
    ----------
    model : fitted JNMF / JSNMNMF / JCBSNMF, or array (n_samples, k)
    threshold, method
        As in :func:`extract_modules` (one value: W is one matrix).

    Returns
    -------
    list of k sorted int arrays of sample (row) indices.
    """
    W = getattr(model, "basis_", model)
    if W is None:
        raise ValueError("model is not fitted: it has no basis_")
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"expected a fitted joint NMF model or W of shape (n_samples, k), got shape {W.shape}")
    if threshold is not None and np.ndim(threshold) != 0:
        raise ValueError("threshold: expected one value (W is one matrix)")
    (T,) = module_thresholds(threshold, method, 1)
    return [np.flatnonzero(row) for row in _members(W.T, T, method)]


def _n_modalities(modules: list, empty: int = 0) -> int:
    """The number of modalities every module lists (``empty`` when there is no module)."""
    M = len(modules[0]) if modules else empty
    if any(len(m) != M for m in modules):
        raise ValueError("modules: every module must list the same number of modalities")
    return M


def module_sizes(modules: Sequence[Sequence[Any]], names: Sequence[str] | None = None):
    """Members per module and modality.

    Parameters
    ----------
    modules : list of k modules (:func:`extract_modules`), each a list of M index arrays
    names : sequence of M str, optional
        Column names (default ``modality_0``, ...).

    Returns
    -------
    DataFrame of shape (k, M + 1): one row per module, one column per modality and
    ``total``.
    """
    import pandas as pd

    modules = [list(m) for m in modules]
    M = _n_modalities(modules, len(names) if names is not None else 0)
    cols = list(names) if names is not None else [f"modality_{I}" for I in range(M)]
    if len(cols) != M:
        raise ValueError(f"names: expected {M} names (one per modality), got {len(cols)}")
    table = pd.DataFrame([[len(np.asarray(a).ravel()) for a in m] for m in modules], columns=cols, dtype=int)
    table["total"] = table.sum(axis=1)
    table.index.name = "module"
    return table


def module_thresholds(threshold: Any, method: str, M: int, orientation: str = "row") -> list:
    """One validated threshold per modality for ``method``, the ``orientation``
    checked too (see :func:`extract_modules`); a ValueError naming the argument
    otherwise. Callers check a rule with it before
    long work whose result the rule is applied to."""
    if orientation not in ("row", "column"):
        raise ValueError(f"orientation: expected 'row' or 'column', got {orientation!r}")
    if method not in MODULE_METHODS:
        raise ValueError(f"method: expected one of {list(MODULE_METHODS)}, got {method!r}")
    if method == "otsu":
        if threshold is not None:
            raise ValueError("threshold: method='otsu' sets its own threshold; leave threshold=None")
        return [None] * M
    if threshold is None:
        if method == "topk":
            raise ValueError("threshold: method='topk' needs the number of members per module")
        threshold = 2.0
    Ts = [threshold] * M if np.ndim(threshold) == 0 else list(threshold)
    if len(Ts) != M:
        raise ValueError(f"threshold: expected {M} values (one per modality), got {len(Ts)}")
    out = []
    for T in Ts:
        if method == "topk":
            if isinstance(T, bool) or not float(T).is_integer() or T < 1:
                raise ValueError(f"threshold: method='topk' needs whole numbers >= 1, got {T!r}")
            out.append(int(T))
        else:
            T = float(T)
            if not np.isfinite(T):
                raise ValueError(f"threshold: must be finite, got {T}")
            out.append(T)
    return out


def _members(A: np.ndarray, T: Any, method: str) -> np.ndarray:
    """Boolean (rows, cols): the entries of each row of A that the rule selects."""
    rows, m = A.shape
    if m == 0:
        return np.zeros(A.shape, dtype=bool)
    if method == "topk":
        order = np.argsort(-A, axis=1, kind="stable")[:, :min(T, m)]
        out = np.zeros(A.shape, dtype=bool)
        np.put_along_axis(out, order, True, axis=1)
        return out
    if method == "otsu":
        return A > _otsu(A)
    if method == "zscore":
        center = A.mean(axis=1, keepdims=True)
        spread = A.std(axis=1, ddof=1, keepdims=True) if m > 1 else np.zeros((rows, 1))
    else:  # mad
        center = np.median(A, axis=1, keepdims=True)
        spread = _MAD_TO_SD * np.median(np.abs(A - center), axis=1, keepdims=True)
    # a row without spread (up to the rounding of its centre) has no members
    ok = spread > EPS * np.maximum(np.abs(center), 1.0)
    z = np.where(ok, (A - center) / np.where(ok, spread, 1.0), -np.inf)
    return z > T


def _otsu(A: np.ndarray) -> np.ndarray:
    """Otsu threshold of each row of A, shape (rows, 1): the largest value of the
    lower class of the split of the sorted row that maximises the between-class
    variance ``w0 w1 (mu0 - mu1)^2``; +inf for a constant row (no members)."""
    rows, m = A.shape
    x = np.sort(A, axis=1)
    if m < 2:
        return np.full((rows, 1), np.inf)
    below = np.cumsum(x, axis=1)[:, :-1]  # sum of the s smallest, s = 1..m-1
    s = np.arange(1, m, dtype=np.float64)
    mu0 = below / s
    mu1 = (x.sum(axis=1, keepdims=True) - below) / (m - s)
    between = (s / m) * (1 - s / m) * (mu0 - mu1) ** 2
    between[x[:, 1:] <= x[:, :-1]] = -np.inf  # a split must fall between distinct values
    best = np.argmax(between, axis=1)
    t = x[np.arange(rows), best]
    t[~np.isfinite(between[np.arange(rows), best])] = np.inf
    return t[:, None]


def _gram(block: np.ndarray) -> tuple[np.ndarray, int]:
    """``Z Z^T`` of the column-standardised block (constant columns dropped)."""
    Z = block - block.mean(axis=0)
    norms = np.sqrt((Z * Z).sum(axis=0))
    keep = norms > EPS * max(1.0, float(np.abs(block).max(initial=0.0))) * np.sqrt(block.shape[0])
    Z = Z[:, keep] / norms[keep]
    return Z @ Z.T, int(keep.sum())


def _module_grams(module, Xs):
    Xs = check_matrices(Xs, "Xs", nonnegative=False)
    if len(module) != len(Xs):
        raise ValueError(f"module has {len(module)} feature sets but Xs has {len(Xs)} modalities")
    grams = []
    for I, (idx, X) in enumerate(zip(module, Xs)):
        if np.asarray(idx).dtype == bool and np.asarray(idx).size != X.shape[1]:
            raise ValueError(f"module[{I}]: a boolean mask needs one entry per column of Xs[{I}] "
                             f"({X.shape[1]}), got {np.asarray(idx).size}")
        idx = _feature_indices(idx, f"module[{I}]")
        if idx.size and (idx.min() < 0 or idx.max() >= X.shape[1]):
            raise ValueError(f"module[{I}]: feature index out of range for Xs[{I}] with {X.shape[1]} columns")
        if idx.size == 0:
            continue
        G, m = _gram(X[:, idx])
        if m:
            grams.append((I, G, m))
    return grams


def _statistic(grams, perms=None) -> float:
    """rho* = mean over modality pairs of the mean squared cross correlation."""
    total, count = 0.0, 0
    Gs = []
    for pos, (_, G, m) in enumerate(grams):
        if perms is not None and perms[pos] is not None:
            p = perms[pos]
            G = G[np.ix_(p, p)]
        Gs.append((G, m))
    for a in range(len(Gs)):
        for b in range(a + 1, len(Gs)):
            Ga, ma = Gs[a]
            Gb, mb = Gs[b]
            total += float(np.einsum("ij,ij->", Ga, Gb)) / (ma * mb)
            count += 1
    return total / count


def module_statistic(module: Sequence[Any], Xs: Sequence[Any]) -> float:
    """rho*, the JCB-SNMF paper's eq. 10 generalised to M modalities.

    ``rho* = mean_{I<J} mean_{s in R_I, t in R_J} r(x_s, x_t)^2`` with Pearson r over
    samples; computed as ``<G_I, G_J>_F / (l_I l_J)`` with ``G = Z Z^T`` of the
    standardised block (spec §6 speed trick). Zero-variance columns are dropped.
    """
    grams = _module_grams(module, Xs)
    if len(grams) < 2:
        raise ValueError("a module needs non-constant features in at least two modalities")
    return _statistic(grams)


def module_significance(
    module: Sequence[Any],
    Xs: Sequence[Any],
    n_permutations: int = 1000,
    random_state=None,
    *,
    null: str = "sample_permutation",
    return_details: bool = False,
):
    """Permutation p-value of a co-module's cross-modal correlation (paper eqs. 10-11).

    The statistic is :func:`module_statistic` (rho*). Under the null, the rows
    (samples) of every modality block except the last are permuted independently
    (the paper permutes A_Q and B_Q and keeps C_Q fixed), which destroys the
    cross-modal sample alignment. Each permutation costs O(M² n²) through the Gram
    matrices. The p-value is ``(1 + #{rho*_b >= rho*}) / (1 + B)``, never 0 (the
    paper's eq. 11 omits the +1, and its p-values below 1/B cannot come from this
    test).

    Parameters
    ----------
    module : list of M index arrays
        Features of the module in each modality (from :func:`extract_modules`).
    Xs : list of M arrays (n, p_I)
        The data the factorisation was fitted on.
    n_permutations : int, default=1000
        B.
    random_state : int, RandomState or None
    null : {"sample_permutation", "random_features"}, default="sample_permutation"
        "sample_permutation" is the paper's test described above.
        "random_features" compares rho* with that of random feature sets of the
        same sizes in every modality (the null of the original JNMF/SNMNMF
        papers, spec §6): it asks whether the module is more correlated than
        arbitrary features, which matters when all features are correlated.
    return_details : bool, default=False
        Also return the statistic and the null distribution.

    Returns
    -------
    float p-value, or (when ``return_details``) a dict with ``p_value``,
    ``statistic`` and ``null`` (B,). NaN when fewer than two modalities have
    non-constant member features.
    """
    B = check_positive_int(n_permutations, "n_permutations")
    if null not in ("sample_permutation", "random_features"):
        raise ValueError(f"null must be 'sample_permutation' or 'random_features', got {null!r}")
    rng = check_random_state(random_state)
    grams = _module_grams(module, Xs)
    if len(grams) < 2:
        warnings.warn(
            "module has non-constant features in fewer than two modalities; p-value is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        out = {"p_value": float("nan"), "statistic": float("nan"), "null": np.empty(0)}
        return out if return_details else out["p_value"]
    stat = _statistic(grams)
    n = grams[0][1].shape[0]
    null_values = np.empty(B)
    if null == "sample_permutation":
        for b in range(B):
            perms = [rng.permutation(n) for _ in grams[:-1]] + [None]
            null_values[b] = _statistic(grams, perms)
    else:
        arrays = check_matrices(Xs, "Xs", nonnegative=False)
        sizes = [len(np.asarray(m).ravel()) for m in module]
        for b in range(B):
            draw = [rng.choice(X.shape[1], size=min(l, X.shape[1]), replace=False) for X, l in zip(arrays, sizes)]
            g = _module_grams(draw, arrays)
            null_values[b] = _statistic(g) if len(g) >= 2 else 0.0
    null = null_values
    # tolerate round-off between the identity permutation and the observed value
    count = int(np.sum(null >= stat - 1e-12 * max(abs(stat), 1.0)))
    p = (1 + count) / (1 + B)
    if return_details:
        return {"p_value": p, "statistic": stat, "null": null}
    return p


def _feature_indices(x: Any, name: str = "module") -> np.ndarray:
    """A module's feature set as integer indices (1-D int64).

    Integer indices, whole numbers stored as floats, or a boolean mask over the
    features (its True entries). Fractional or non-finite values are an error:
    truncating them would silently name other features.
    """
    a = np.asarray(x).ravel()
    if a.dtype == bool:
        return np.flatnonzero(a)
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64)
    try:
        f = a.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: feature indices must be integers or a boolean mask, got dtype {a.dtype}") from None
    if not (np.isfinite(f).all() and np.array_equal(f, np.round(f))):
        bad = f[~(np.isfinite(f) & (f == np.round(f)))][0]
        raise ValueError(f"{name}: feature indices must be whole numbers, got {float(bad)!r}")
    return f.astype(np.int64)


def _as_set(x, name: str = "module") -> set:
    return set(_feature_indices(x, name).tolist())


def _is_module(x) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(np.ndim(v) == 1 for v in x) and not all(
        np.ndim(v) == 0 for v in x
    )


def overlap_rate(module_a, module_b):
    """Szymkiewicz-Simpson overlap ``|R_a ∩ R_b| / min(|R_a|, |R_b|)`` (paper, spec §7).

    Parameters
    ----------
    module_a, module_b : index arrays, or modules (lists of M index arrays)

    Returns
    -------
    float for two index sets (0 when either is empty); ndarray (M,) per modality
    for two modules.
    """
    if _is_module(module_a) and _is_module(module_b):
        if len(module_a) != len(module_b):
            raise ValueError("the two modules have different numbers of modalities")
        return np.array([overlap_rate(a, b) for a, b in zip(module_a, module_b)])
    a, b = _as_set(module_a, "module_a"), _as_set(module_b, "module_b")
    small = min(len(a), len(b))
    return len(a & b) / small if small else 0.0


def mean_overlap_rate(modules: Sequence[Sequence[Any]]) -> np.ndarray:
    """Mean overlap rate over all module pairs of one fit, per modality (shape (M,)).

    The JCB-SNMF paper's "overlap rate of modules under K" (Fig. 4) is not defined
    precisely; this is its most direct reading (spec §7). Empty modules are skipped.
    """
    if not modules:
        return np.zeros(0)
    M = len(modules[0])
    out = np.zeros(M)
    for I in range(M):
        sets = [_as_set(m[I]) for m in modules if len(m[I])]
        vals = [
            len(sets[a] & sets[b]) / min(len(sets[a]), len(sets[b]))
            for a in range(len(sets))
            for b in range(a + 1, len(sets))
        ]
        out[I] = float(np.mean(vals)) if vals else 0.0
    return out


def multi_membership_rate(modules: Sequence[Sequence[Any]], n_components: int | None = None) -> np.ndarray:
    """Fraction of member features that belong to many modules, per modality (shape (M,)).

    The "overlap" (``chong``) of the JCB-SNMF group's K-selection script (spec §7):
    in modality I, among the features that belong to at least one module, the
    fraction that belong to *more than* ``max(1, K / 10)`` modules (K / 10 is not
    rounded: with K = 25 a feature needs 3 modules), where K is ``n_components``
    or, by default, the number of modules given.

    This is a per-feature count, not the pairwise overlap of
    :func:`overlap_rate` / :func:`mean_overlap_rate` (the Szymkiewicz-Simpson
    coefficient ``|R_a ∩ R_b| / min(|R_a|, |R_b|)`` of two modules, averaged over
    module pairs): a module nested in another has overlap rate 1 with it, but its
    features count here only when they sit in more than ``max(1, K / 10)``
    modules, so for K >= 20 features shared by just two modules never count.
    Both are 0 when the modules are disjoint.

    Parameters
    ----------
    modules : list of modules (:func:`extract_modules`), each a list of M index arrays
    n_components : int, optional
        K. Default ``len(modules)``; pass the number of components when empty
        modules were dropped from ``modules``. At least ``len(modules)``.

    Returns
    -------
    ndarray of shape (M,); NaN for a modality in which no feature belongs to a module.
    """
    modules = [list(m) for m in modules]
    K = len(modules) if n_components is None else check_positive_int(n_components, "n_components")
    if K < len(modules):
        raise ValueError(f"n_components: got {K} but there are {len(modules)} modules")
    if not modules:
        return np.zeros(0)
    M = _n_modalities(modules)
    cut = max(1.0, K / 10)
    out = np.empty(M)
    for I in range(M):
        members = [np.unique(_feature_indices(m[I], f"modules[{i}][{I}]")) for i, m in enumerate(modules)]
        _, counts = np.unique(np.concatenate(members), return_counts=True)
        out[I] = float(np.mean(counts > cut)) if counts.size else float("nan")
    return out


def best_match_jaccard(found: Sequence[Sequence[Any]], truth: Sequence[Sequence[Any]]) -> np.ndarray:
    """For every true module, the best Jaccard index with any found module, per modality.

    Returns an array (n_true_modules, M); its mean is the usual module-recovery score.
    """
    M = len(truth[0])
    out = np.zeros((len(truth), M))
    for t, tm in enumerate(truth):
        for I in range(M):
            ts = _as_set(tm[I])
            best = 0.0
            for fm in found:
                fs = _as_set(fm[I])
                union = len(ts | fs)
                if union:
                    best = max(best, len(ts & fs) / union)
            out[t, I] = best
    return out


def module_reproducibility(modules_a: Sequence[Sequence[Any]], modules_b: Sequence[Sequence[Any]]) -> np.ndarray:
    """Stability of the modules of two fits (e.g. two restarts), per modality.

    The modules of ``modules_b`` are matched one-to-one to those of ``modules_a``
    by the Hungarian assignment that maximises the summed overlap rate over all
    modalities; the result is the mean matched overlap rate per modality (the
    JCB-SNMF paper's Fig. 6 does not say how it matched; this is spec §7's
    recommendation).

    Returns
    -------
    ndarray of shape (M,)
    """
    from scipy.optimize import linear_sum_assignment

    if not modules_a or not modules_b:
        raise ValueError("both fits need at least one module")
    M = len(modules_a[0])
    O = np.zeros((len(modules_a), len(modules_b), M))
    for i, a in enumerate(modules_a):
        for j, b in enumerate(modules_b):
            O[i, j] = [overlap_rate(a[I], b[I]) for I in range(M)]
    rows, cols = linear_sum_assignment(-O.sum(axis=2))
    return O[rows, cols].mean(axis=0)


def _fit_products(model: Any, Xs: Sequence[Any]):
    """W, the H_I and the validated X_I of a fit, with matching shapes."""
    W = getattr(model, "basis_", None)
    if W is None:
        raise ValueError("model is not fitted: it has no basis_")
    W = np.asarray(W, dtype=np.float64)
    Hs = _coefficients(model)
    if W.ndim != 2:
        raise ValueError(f"model: basis_ must be 2-D (n_samples, k), got shape {W.shape}")
    given = column_names_each(Xs)
    Xs = check_matrices(Xs, "Xs", nonnegative=False)
    if len(Xs) != len(Hs):
        raise ValueError(f"Xs has {len(Xs)} modalities but the model has {len(Hs)}")
    # labelled tables are paired with H_I's columns by position: the labels must match
    fitted = getattr(model, "feature_names_in_", None) or [None] * len(Hs)
    for I, (names, known) in enumerate(zip(given, fitted)):
        check_feature_names(names, known, f"Xs[{I}]", f"select them as Xs[{I}][model.feature_names_in_[{I}]]")
    for I, (X, H) in enumerate(zip(Xs, Hs)):
        if H.shape[0] != W.shape[1]:
            raise ValueError(f"model: coefficients_[{I}] has {H.shape[0]} rows but basis_ has {W.shape[1]} columns")
        if X.shape != (W.shape[0], H.shape[1]):
            raise ValueError(f"Xs[{I}]: expected shape {(W.shape[0], H.shape[1])}, got {X.shape}")
    return W, Hs, Xs


def _product(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    # the same value in a worker (select_n_components with n_jobs > 1) as in
    # the main process: the product on one BLAS thread, the sums without BLAS
    with one_blas_thread():
        return W @ H


def reconstruction_correlation(model: Any, Xs: Sequence[Any]) -> np.ndarray:
    """Pearson correlation between X_I and W H_I over all entries, per modality.

    The 2-D correlation of MATLAB's ``corr2`` used by the JCB-SNMF paper (its
    real-data values: 0.9962 ROI, 0.5534 SNP, 0.9921 gene).

    Returns
    -------
    ndarray of shape (M,); NaN where X_I or W H_I is constant.
    """
    W, Hs, Xs = _fit_products(model, Xs)
    out = np.empty(len(Xs))
    for I, (X, H) in enumerate(zip(Xs, Hs)):
        b = _product(W, H).ravel()
        a, ssa, a_varies = centred(X.ravel())
        b, ssb, b_varies = centred(b)
        out[I] = vdot(a, b) / (np.sqrt(ssa) * np.sqrt(ssb)) if a_varies and b_varies else float("nan")
    return out


def reconstruction_errors(model: Any, Xs: Sequence[Any]):
    """Reconstruction errors of a fit, per modality and in total (spec §7).

    The JCB-SNMF paper does not define its "reconstruction error", so all three
    readings of spec §7 are given, with R_I = X_I - W H_I:

    * ``fit``: ``||R_I||_F^2``, the fit term of the objective F;
    * ``relative_frobenius``: ``||R_I||_F / ||X_I||_F``;
    * ``relative_l1``: ``mean|R_I| / mean(X_I)``, the "relative error" of Zhang's
      code (L1).

    The last row, ``total``, holds ``sum_I ||R_I||_F^2`` (the whole fit term),
    ``sqrt(sum_I ||R_I||_F^2 / sum_I ||X_I||_F^2)`` (the relative Frobenius error
    of all modalities stacked side by side, as ``relative_error`` of
    :func:`~imaging_genetics.inference.nmf_grid_search`) and
    ``sum_I mean|R_I| / mean(X_I)`` (the sum Zhang's code compares with its
    stopping tolerance; not a mean, so it grows with M). The relative columns do
    not change when X_I and W are scaled by the same factor; ``fit`` scales with
    its square. W H_I is formed on one BLAS thread and the sums do not use BLAS,
    so the values do not depend on the thread count.

    Parameters
    ----------
    model : fitted JNMF / JSNMNMF / JCBSNMF (``basis_`` W (n, k), ``coefficients_`` H_I (k, p_I))
    Xs : list of M arrays (n, p_I)
        The data the factorisation was fitted on.

    Returns
    -------
    DataFrame of shape (M + 1, 3), index ``modality`` 0, ..., M - 1 and ``total``,
    columns ``fit``, ``relative_frobenius`` and ``relative_l1``. A relative error
    whose denominator is zero (all-zero X_I) is NaN, without a warning; a NaN
    ``relative_l1`` makes the total NaN too.
    """
    import pandas as pd

    W, Hs, Xs = _fit_products(model, Xs)
    rows = []
    ss_x = 0.0
    for X, H in zip(Xs, Hs):
        x = X.ravel()
        r = x - _product(W, H).ravel()
        norm_r, norm_x = norm(r), norm(x)
        mean_x = float(np.mean(x))
        rows.append({
            "fit": norm_r ** 2,
            "relative_frobenius": norm_r / norm_x if norm_x > 0 else float("nan"),
            "relative_l1": float(np.mean(np.abs(r))) / mean_x if mean_x != 0 else float("nan"),
        })
        ss_x += norm_x ** 2
    fit = float(sum(row["fit"] for row in rows))
    rows.append({
        "fit": fit,
        "relative_frobenius": float(np.sqrt(fit / ss_x)) if ss_x > 0 else float("nan"),
        "relative_l1": float(sum(row["relative_l1"] for row in rows)),
    })
    table = pd.DataFrame(rows, index=pd.Index([*range(len(Xs)), "total"], dtype=object, name="modality"))
    return table
