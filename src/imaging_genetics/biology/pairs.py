"""Cross-modality pair tables, their heat map, and module overlap summaries.

The JCB-SNMF paper lists the ten strongest SNP–ROI and gene–ROI pairs of a module
with their correlation p-values (Table 5) and shows their correlations as a heat map
(Fig. 12). :func:`top_pairs` computes every pair's correlation between two blocks of
features at once (one matrix product), with p-values and a Benjamini–Hochberg FDR
over all pairs tested, and returns the strongest ones.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._stats import centred_columns
from .._validation import check_same_samples
from ._common import EPS, as_matrix, benjamini_hochberg, feature_selection

__all__ = ["correlation_matrix", "top_pairs", "pair_heatmap", "module_overlap_summary"]


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre columns and scale them to unit L2 norm; flag constant columns.

    Each column goes through :func:`imaging_genetics._stats.centred` (all at once,
    :func:`imaging_genetics._stats.centred_columns`): it is scaled
    to a largest magnitude of 1 before centring, and called constant when its
    spread does not exceed the rounding of its mean. The test is relative to the
    column's own magnitude, so it does not depend on the units (values of 1e-13
    that vary are kept; a spread of 1e-3 around 1e9 is far above the rounding
    there, about 1e-7, and is kept too).
    """
    C, ss, varies = centred_columns(X)
    Z = np.zeros(X.shape, dtype=np.float64)
    Z[:, varies] = C[:, varies] / np.sqrt(ss[varies])
    return Z, ~varies


def correlation_matrix(
    Xa: np.ndarray, Xb: np.ndarray, method: str = "pearson"
) -> tuple[np.ndarray, np.ndarray]:
    """Correlations between every column of Xa and every column of Xb, with p-values.

    Parameters
    ----------
    Xa : ndarray of shape (n_samples, p_a)
    Xb : ndarray of shape (n_samples, p_b)
    method : {"pearson", "spearman"}
        Spearman correlations are Pearson correlations of midranks.

    Returns
    -------
    r, p : ndarrays of shape (p_a, p_b)
        Two-sided p from t = r √((n − 2) / (1 − r²)) on n − 2 degrees of freedom
        (exact for Pearson under normality, as ``scipy.stats.pearsonr``; the usual
        approximation for Spearman, as ``scipy.stats.spearmanr``). Pairs with a
        constant column are NaN; whether a column is constant does not depend on
        its scale (see :func:`imaging_genetics._stats.centred`).
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    n = Xa.shape[0]
    if n < 3:
        raise ValueError(f"correlation p-values need at least 3 samples, got {n}")
    if method == "spearman":
        Xa = stats.rankdata(Xa, axis=0)
        Xb = stats.rankdata(Xb, axis=0)
    Za, ca = _standardise(Xa)
    Zb, cb = _standardise(Xb)
    r = np.clip(Za.T @ Zb, -1.0, 1.0)
    dof = n - 2
    t = r * np.sqrt(dof / np.maximum(1.0 - r**2, EPS))
    p = 2.0 * stats.t.sf(np.abs(t), dof)
    p = np.where(np.abs(r) >= 1.0, 0.0, p)
    bad = ca[:, None] | cb[None, :]
    r[bad] = np.nan
    p[bad] = np.nan
    return r, p


def _modality_names(names: Any) -> tuple[str, str]:
    """The two modality names as text; an error when they are not two distinct,
    non-empty names whose output columns (``a, b, a_index, b_index, r, p, fdr``)
    are all different."""
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise ValueError(
            f"names: expected a pair of modality names, e.g. ('snp', 'roi'), got {names!r}"
        )
    nm = list(names)
    if len(nm) != 2:
        raise ValueError(f"names: expected two modality names, got {len(nm)}: {nm!r}")
    a, b = str(nm[0]), str(nm[1])
    if not a or not b:
        raise ValueError(f"names: modality names must not be empty, got {nm!r}")
    cols = [a, b, f"{a}_index", f"{b}_index", "r", "p", "fdr"]
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise ValueError(
            f"names: {nm!r} would give the table columns {cols}, with {dup} more than once; "
            "use two different names other than 'r', 'p', 'fdr' (e.g. ('snp', 'roi'))"
        )
    return a, b


def _align_samples(Xa: Any, Xb: Any) -> Any:
    """Xb with its rows in the order of Xa's sample IDs, when both are pandas
    objects indexed by sample ID (an index other than a default RangeIndex).

    Equal indexes, plain arrays or a RangeIndex on either side: rows are paired by
    position. The same IDs in another order: Xb is reordered. Different IDs or
    repeated IDs: ValueError saying which.
    """
    labelled = (pd.DataFrame, pd.Series)
    if not (isinstance(Xa, labelled) and isinstance(Xb, labelled)):
        return Xb
    ia, ib = Xa.index, Xb.index
    if isinstance(ia, pd.RangeIndex) or isinstance(ib, pd.RangeIndex) or ia.equals(ib):
        return Xb
    for nm, idx in (("Xa", ia), ("Xb", ib)):
        if idx.has_duplicates:
            rep = list(idx[idx.duplicated()].unique()[:5])
            raise ValueError(
                f"{nm}: sample IDs repeat in the index (e.g. {rep}); Xa and Xb are matched "
                "by sample ID, which needs unique IDs"
            )
    only_a, only_b = ia.difference(ib), ib.difference(ia)
    if len(only_a) or len(only_b):
        raise ValueError(
            f"Xa and Xb: indexed by different sample IDs ({len(only_a)} only in Xa, e.g. "
            f"{list(only_a[:5])}; {len(only_b)} only in Xb, e.g. {list(only_b[:5])}); "
            "keep the common samples in both, e.g. Xa.loc[common] and Xb.loc[common]"
        )
    return Xb.loc[ia]


def _prepare(Xa, Xb, features_a, features_b, names, labels_a, labels_b):
    names = _modality_names(names)
    Xb = _align_samples(Xa, Xb)
    A, na = as_matrix(Xa, "Xa", min_samples=3)
    B, nb = as_matrix(Xb, "Xb", min_samples=3)
    check_same_samples([A, B], ["Xa", "Xb"])
    if labels_a is not None:
        na = _labels_for(labels_a, A.shape[1], "labels_a")
    elif not hasattr(Xa, "columns"):
        na = np.asarray([f"{names[0]}{j}" for j in range(A.shape[1])], dtype=str)
    if labels_b is not None:
        nb = _labels_for(labels_b, B.shape[1], "labels_b")
    elif not hasattr(Xb, "columns"):
        nb = np.asarray([f"{names[1]}{j}" for j in range(B.shape[1])], dtype=str)
    ia = feature_selection(features_a, na, "features_a")
    ib = feature_selection(features_b, nb, "features_b")
    for nm, idx, labels in (("features_a", ia, na), ("features_b", ib, nb)):
        pos, counts = np.unique(idx, return_counts=True)
        if (counts > 1).any():
            repeated = [str(v) for v in labels[pos[counts > 1]][:5]]
            raise ValueError(
                f"{nm}: selects feature(s) {repeated} more than "
                "once; each of their pairs would be tested (and counted in the FDR) more "
                "than once. Select each feature once"
            )
    return A[:, ia], B[:, ib], na[ia], nb[ib], ia, ib, names


def _labels_for(labels, p, name):
    arr = np.asarray([str(v) for v in labels], dtype=str)
    if arr.shape[0] != p:
        raise ValueError(f"{name}: has {arr.shape[0]} names but the matrix has {p} columns")
    return arr


def top_pairs(
    Xa: Any,
    Xb: Any,
    features_a: Sequence[Any] | None = None,
    features_b: Sequence[Any] | None = None,
    names: Sequence[str] = ("snp", "roi"),
    top: int | None = 20,
    method: str = "pearson",
    *,
    labels_a: Sequence[Any] | None = None,
    labels_b: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """The strongest feature pairs between two modalities by |correlation|.

    The JCB-SNMF paper's Table 5 (SNP–ROI and gene–ROI pairs of module 1).

    Parameters
    ----------
    Xa : array-like or DataFrame of shape (n_samples, p_a)
        First modality (e.g. SNP dosages).
    Xb : array-like or DataFrame of shape (n_samples, p_b)
        Second modality (e.g. ROI volumes), same samples. When Xa and Xb are both
        DataFrames indexed by sample ID (not a default RangeIndex), rows are
        matched by ID: the same IDs in another order are reordered, different
        sets of IDs are an error. Otherwise rows are paired by position.
    features_a, features_b : sequence, optional
        Columns to pair: integer positions (e.g. a module's member indices), a
        boolean mask, or column names of a DataFrame. Default all. A feature
        selected twice is an error (its pairs would count twice in the FDR).
    names : (str, str)
        Modality names, a pair of two different non-empty names; they become the
        first two column names of the table, so neither may be ``"r"``, ``"p"``,
        ``"fdr"`` or the other's ``<name>_index``.
    top : int or None
        Number of pairs returned (None: all pairs).
    method : {"pearson", "spearman"}
    labels_a, labels_b : sequence of str, optional
        Feature names for array inputs (default ``<name><index>`` or DataFrame
        columns).

    Returns
    -------
    DataFrame sorted by |r| (descending)
        ``<names[0]>, <names[1]>, <names[0]>_index, <names[1]>_index, r, p, fdr``;
        the index columns are positions in the full Xa / Xb. ``fdr`` is the
        Benjamini–Hochberg adjustment over all pairs tested (not only those
        returned). Pairs with a constant feature are left out.

    Notes
    -----
    All p_a × p_b correlations are held at once (memory O(p_a·p_b) floats); pass a
    module's members in ``features_a`` / ``features_b`` for genome-wide inputs.

    Raises
    ------
    ValueError
        Different numbers of samples, indexes with different sample IDs, NaN,
        fewer than 3 samples, unknown or repeated features, ``names`` not two
        distinct names that leave the table's columns distinct.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). JRSS B 57, 289–300.
    """
    A, B, na, nb, ia, ib, (a_name, b_name) = _prepare(
        Xa, Xb, features_a, features_b, names, labels_a, labels_b
    )
    if top is not None and (isinstance(top, bool) or int(top) < 1):
        raise ValueError(f"top must be a positive integer or None, got {top!r}")
    r, p = correlation_matrix(A, B, method)
    q = benjamini_hochberg(p)
    flat_r = r.ravel()
    valid = np.flatnonzero(~np.isnan(flat_r))
    absr = np.abs(flat_r[valid])
    order = valid[np.lexsort((p.ravel()[valid], -absr))]
    if top is not None:
        order = order[: int(top)]
    i, j = np.unravel_index(order, r.shape)
    out = pd.DataFrame(
        {
            a_name: na[i],
            b_name: nb[j],
            f"{a_name}_index": ia[i],
            f"{b_name}_index": ib[j],
            "r": flat_r[order],
            "p": p.ravel()[order],
            "fdr": q.ravel()[order],
        }
    )
    out.attrs.update({"method": method, "n_tests": int(valid.size), "n_samples": A.shape[0]})
    return out


def pair_heatmap(
    Xa: Any,
    Xb: Any,
    features_a: Sequence[Any] | None = None,
    features_b: Sequence[Any] | None = None,
    names: Sequence[str] = ("snp", "roi"),
    top: int = 20,
    method: str = "pearson",
    *,
    labels_a: Sequence[Any] | None = None,
    labels_b: Sequence[Any] | None = None,
    ax: Any = None,
    title: str | None = None,
):
    """Heat map of the correlations among the features of the top pairs (Fig. 12).

    Rows are the ``names[0]`` features and columns the ``names[1]`` features that
    occur in the ``top`` pairs of :func:`top_pairs`; cells show r on a diverging
    scale centred at 0 and the top pairs are marked with a dot.

    Parameters
    ----------
    As :func:`top_pairs`; ``ax`` a matplotlib Axes to draw into.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    table = top_pairs(
        Xa, Xb, features_a, features_b, names, top, method, labels_a=labels_a, labels_b=labels_b
    )
    A, B, na, nb, _, _, (a_name, b_name) = _prepare(Xa, Xb, None, None, names, labels_a, labels_b)
    rows = list(dict.fromkeys(table[f"{a_name}_index"].tolist()))
    cols = list(dict.fromkeys(table[f"{b_name}_index"].tolist()))
    if not rows:
        raise ValueError("pair_heatmap: no pair with two non-constant features")
    r, _ = correlation_matrix(A[:, rows], B[:, cols], method)
    if ax is None:
        fig = Figure(figsize=(1.2 + 0.35 * len(cols) + 2.0, 1.5 + 0.3 * len(rows)))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    lim = max(float(np.nanmax(np.abs(r))), 1e-3)
    im = ax.imshow(r, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([nb[c] for c in cols], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([na[c] for c in rows], fontsize=7)
    ax.set_xlabel(b_name)
    ax.set_ylabel(a_name)
    rpos = {v: k for k, v in enumerate(rows)}
    cpos = {v: k for k, v in enumerate(cols)}
    for a_i, b_i in zip(table[f"{a_name}_index"], table[f"{b_name}_index"]):
        ax.plot(cpos[b_i], rpos[a_i], marker="o", ms=3, color="k")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label(f"{method} r")
    ax.set_title(title or f"top {len(table)} {a_name}–{b_name} pairs")
    fig.tight_layout()
    return fig


def module_overlap_summary(
    module: Mapping[str, Any] | Sequence[Any],
    *,
    feature_names: Mapping[str, Sequence[Any]] | Sequence[Sequence[Any]] | None = None,
    modalities: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Venn-style counts of a module's features across modalities.

    Each modality's members form a set; for every non-empty combination of
    modalities the table gives the number of features in all of them
    (intersection) and in exactly them and no other (the Venn region). Overlaps
    across modalities are meaningful when members share identifiers, e.g. the genes
    SNPs map to (:func:`~imaging_genetics.biology.snps_to_genes`) and the expression
    genes; pass ``feature_names`` to turn member indices into such names.

    Parameters
    ----------
    module : dict {modality: member indices or names} or list of index arrays
        One module, e.g. ``{"roi": [...], "snp": [...], "gene": [...]}``. Modality
        keys are used as text (``1`` and ``"1"`` name the same modality).
    feature_names : dict {modality: names} or list, optional
        Names by feature index per modality; integer members are looked up in it.
        Keys are matched to the module's modalities as text.
    modalities : sequence of str, optional
        Names for a list-form module (default ``modality0``, ...).

    Returns
    -------
    DataFrame, one row per combination (singletons first)
        ``modalities`` (joined by " & "), ``n_modalities``, ``n_intersection``,
        ``n_exclusive``, ``members`` (the exclusive members, ";"-joined, sorted).
        ``attrs["n_union"]`` is the number of distinct features.

    Raises
    ------
    ValueError
        Unknown modality in ``feature_names``, indices out of range, names count
        that does not match, modality names that coincide as text.
    """
    if isinstance(module, Mapping):
        mods = [str(k) for k in module.keys()]
        members = list(module.values())
        where = "module"
    else:
        members = list(module)
        if isinstance(modalities, (str, bytes)):
            raise ValueError(
                f"modalities: expected one name per member list, got one string {modalities!r}"
            )
        mods = (
            [str(m) for m in modalities]
            if modalities is not None
            else [f"modality{i}" for i in range(len(members))]
        )
        if len(mods) != len(members):
            raise ValueError(f"modalities: {len(mods)} names for {len(members)} member lists")
        where = "modalities"
    if not members:
        raise ValueError("module: has no modality")
    if len(set(mods)) < len(mods):
        raise ValueError(
            f"{where}: modality names repeat once written as text: {mods}; use distinct names"
        )
    if feature_names is not None and not isinstance(feature_names, Mapping):
        fn_list = list(feature_names)
        if len(fn_list) != len(mods):
            raise ValueError(f"feature_names: {len(fn_list)} lists for {len(mods)} modalities")
        feature_names = dict(zip(mods, fn_list))
    if feature_names is not None:
        # keys compared as text, as the module's modality names are
        keys = [str(k) for k in feature_names]
        if len(set(keys)) < len(keys):
            raise ValueError(f"feature_names: modality keys repeat once written as text: {keys}")
        unknown = [k for k in feature_names if str(k) not in mods]
        if unknown:
            raise ValueError(f"feature_names: unknown modality {unknown}; module has {mods}")
        feature_names = {str(k): v for k, v in feature_names.items()}
    sets: dict[str, set] = {}
    for mod, mem in zip(mods, members):
        arr = np.asarray(list(mem) if not isinstance(mem, np.ndarray) else mem)
        if arr.dtype == bool:
            arr = np.flatnonzero(arr)
        if feature_names is not None and mod in feature_names:
            names = [str(v) for v in feature_names[mod]]
            if arr.size and np.issubdtype(arr.dtype, np.integer):
                if arr.min() < 0 or arr.max() >= len(names):
                    raise ValueError(
                        f"module[{mod!r}]: index out of range for {len(names)} feature names"
                    )
                sets[mod] = {names[int(i)] for i in arr}
            else:
                sets[mod] = {str(v) for v in arr}
        else:
            sets[mod] = {v.item() if isinstance(v, np.generic) else v for v in arr.tolist()}
    union = set().union(*sets.values())
    rows = []
    for size in range(1, len(mods) + 1):
        for combo in combinations(mods, size):
            inter = set.intersection(*(sets[m] for m in combo))
            others = [sets[m] for m in mods if m not in combo]
            exclusive = inter - set().union(*others) if others else inter
            rows.append(
                {
                    "modalities": " & ".join(combo),
                    "n_modalities": size,
                    "n_intersection": len(inter),
                    "n_exclusive": len(exclusive),
                    "members": ";".join(sorted(map(str, exclusive))),
                }
            )
    out = pd.DataFrame(rows)
    out.attrs["n_union"] = len(union)
    return out
