"""Prior networks as sparse adjacency matrices, and their Laplacians.

* :func:`correlation_graph` — the papers' default prior, ``A = |corr|^power`` with a
  zero diagonal (MTS2CCA / JCB-SCCA ``get_connectivity`` with power 2).
* :func:`knn_graph` — each feature linked to its ``n_neighbors`` most correlated
  features (largest ``|r|``), weight ``|r|^power``; symmetrised by union or, mutual,
  by intersection (spec joint_nmf.md §9).
* :func:`cross_correlation_graph` — cross-modality ``|r|^power`` between the features
  of two matrices on the same samples, thresholded and optionally top-k.
* :func:`ld_graph` — SNP linkage-disequilibrium graph, r² within a window along each
  chromosome; built in blocks, never as a dense p x p matrix.
* :func:`ld_graph_plink` — the same graph from a PLINK file set too large for
  memory, read in chunks of SNPs.
* :func:`graph_from_edges` — any edge list (PPI network, connectome, SNP-gene map),
  square or cross-modality.
* :func:`laplacian` — ``L = D - A``.
"""

from __future__ import annotations

import logging
import numbers
import os
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._products import one_blas_thread
from .._validation import EPS, _column_names, check_adjacency, reorder_by_index, reorder_by_labels

__all__ = [
    "correlation_graph",
    "knn_graph",
    "cross_correlation_graph",
    "ld_graph",
    "ld_graph_plink",
    "graph_from_edges",
    "laplacian",
    "normalized_adjacency",
    "connected_components_groups",
    "chromosome_labels",
]

log = logging.getLogger(__name__)

_BLOCK = 2048


def _standardize(X: np.ndarray, axis: int = 0) -> np.ndarray:
    """Centre the columns (``axis=0``) or rows (``axis=1``), NaN -> their mean, and
    scale them to unit norm; constant -> 0.

    With ``axis=1`` the result is C-ordered and its sums run along each row, so a
    row's values depend on that row alone, whatever the other rows (the LD graph
    relies on this to give the same bits however the SNPs are chunked).
    """
    X = np.array(X, dtype=np.float64, copy=True, order="C" if axis == 1 else "K")
    if np.isnan(X).any():
        means = np.nanmean(np.where(np.isnan(X).all(axis=axis, keepdims=True), 0.0, X), axis=axis)
        means = np.where(np.isnan(means), 0.0, means)
        idx = np.where(np.isnan(X))
        X[idx] = np.take(means, idx[1 - axis])
    X -= X.mean(axis=axis, keepdims=True)
    norms = np.sqrt((X * X).sum(axis=axis, keepdims=True))
    scale = np.where(norms > EPS * max(1.0, float(np.sqrt(X.shape[axis]))), 1.0 / np.maximum(norms, EPS), 0.0)
    return X * scale


def _as_matrix(X: Any, name: str) -> np.ndarray:
    if sp.issparse(X):
        X = X.toarray()
    try:
        arr = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a numeric matrix ({exc})") from None
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D matrix (n_samples, n_features), got shape {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError(f"{name}: contains infinite values")
    return arr


def correlation_graph(X: Any, power: float = 2, threshold: float = 0.0) -> sp.csr_matrix:
    """Correlation network ``A_ij = |corr(x_i, x_j)|^power`` with a zero diagonal.

    This is the prior both MTS2CCA and JCB-SCCA build when no network is supplied
    (their ``get_connectivity(data, 2)``; spec sparse_cca.md §8). Constant columns
    get no edges; missing values are mean-imputed for the correlation only.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    power : float, default 2
        Exponent applied to ``|r|``; 2 gives the authors' r².
    threshold : float, default 0.0
        Edges with weight ``<= threshold`` are dropped (0 keeps every nonzero edge).
        Computed block by block, so a positive threshold keeps memory at the size of
        the result even for many features.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_features, n_features)
        Symmetric, nonnegative, zero diagonal.
    """
    power, threshold = _check_power_threshold(power, threshold)
    Z = _standardized_pair(X, "X")
    p = Z.shape[1]
    if p == 0:
        return sp.csr_matrix((0, 0))
    blocks = []
    # a prior built in a cross-validation worker must equal the one built in the
    # main process, or fits with n_jobs=1 and n_jobs>1 would differ
    with one_blas_thread():
        for start in range(0, p, _BLOCK):
            stop = min(start + _BLOCK, p)
            R = np.abs(Z[:, start:stop].T @ Z)
            np.minimum(R, 1.0, out=R)
            R **= power
            R[np.arange(stop - start), np.arange(start, stop)] = 0.0
            R[R <= threshold] = 0.0
            blocks.append(sp.csr_matrix(R))
    A = sp.vstack(blocks, format="csr")
    A = (A + A.T) * 0.5  # exact symmetry despite rounding in the products
    A.eliminate_zeros()
    return A.tocsr()


# --- k-nearest-neighbour and cross-modality correlation graphs ---------------------
#
# Both builders hold at most a block of rows of the correlation matrix at a time
# (about _CELLS numbers), and give the same graph, bit for bit, whatever the block:
#
# * the products are formed over fixed tiles of rows aligned at multiples of the
#   tile (:func:`_abs_corr_rows`), so each entry is computed by the same BLAS call
#   whichever block asks for it;
# * the neighbours are chosen on correlations recomputed one pair at a time in a
#   fixed order (:func:`_pair_abs_corr`), which are also exactly symmetric and make
#   exact ties (duplicated features) really equal. The fast product only screens
#   the candidates, with a margin larger than its rounding error.

_CELLS = 1 << 24  # numbers in one block of correlations (128 MiB)


def _tile(n_cols: int) -> int:
    """Rows per BLAS product; depends only on the width, never on the block."""
    tile = 256
    while tile > 16 and tile * n_cols > _CELLS:
        tile //= 2
    return tile


def _row_block(n_cols: int) -> int:
    """Rows of correlations held at once: a multiple of the tile, at most _BLOCK."""
    tile = _tile(n_cols)
    return tile * max(1, min(_BLOCK // tile, _CELLS // (tile * max(n_cols, 1))))


def _abs_corr_rows(ZA: np.ndarray, ZB: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``|ZA[:, start:stop].T @ ZB|`` clipped to 1, shape (stop - start, p_B), from
    products over fixed tiles of ZA's columns, so that no entry depends on start/stop."""
    tile = _tile(ZB.shape[1])
    parts = []
    for t in range(start - start % tile, stop, tile):
        block = np.ascontiguousarray(ZA[:, t:min(t + tile, ZA.shape[1])])
        R = block.T @ ZB
        parts.append(R[max(start - t, 0):stop - t])
    R = np.abs(np.concatenate(parts) if len(parts) > 1 else parts[0])
    np.minimum(R, 1.0, out=R)
    return R


def _pair_abs_corr(ZAt: np.ndarray, ZBt: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``|<z_row, z_col>|`` clipped to 1 for each pair, from the transposed, C-ordered
    standardised matrices (p, n): elementwise products summed along each row, so a
    pair's value depends only on its two columns (and is symmetric in them)."""
    out = np.empty(len(rows))
    step = max(1, (1 << 22) // max(ZAt.shape[1], 1))
    for s in range(0, len(rows), step):
        e = s + step
        out[s:e] = np.abs((ZAt[rows[s:e]] * ZBt[cols[s:e]]).sum(axis=1))
    np.minimum(out, 1.0, out=out)
    return out


def _nonconstant(Z: np.ndarray) -> np.ndarray:
    return (Z != 0).any(axis=0)


def _top_k_pairs(
    ZA: np.ndarray, ZB: np.ndarray, ZAt: np.ndarray, ZBt: np.ndarray, k: int, same: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each non-constant column i of ZA, its k non-constant columns j of ZB
    (j != i when ``same``) with the largest ``|r_ij|``, ties to the lower j.

    Returns the chosen pairs (rows, cols) and their ``|r|`` (from
    :func:`_pair_abs_corr`), ordered by row.
    """
    n, pA = ZA.shape
    pB = ZB.shape[1]
    # both |r| are within about n*eps of the exact value (unit-norm columns)
    margin = 8.0 * (n + 2) * EPS
    ok_A, ok_B = _nonconstant(ZA), _nonconstant(ZB)
    rows_out, cols_out, vals_out = [], [], []
    block = _row_block(pB)
    for start in range(0, pA, block):
        stop = min(start + block, pA)
        R = _abs_corr_rows(ZA, ZB, start, stop)
        R[:, ~ok_B] = -1.0
        R[~ok_A[start:stop]] = -1.0
        if same:
            R[np.arange(stop - start), np.arange(start, stop)] = -1.0
        kth = np.partition(R, pB - k, axis=1)[:, pB - k]
        cand = (R >= 0.0) & (R >= (kth - margin)[:, None])
        ii, jj = np.nonzero(cand)
        if not len(ii):
            continue
        ii = ii + start
        vals = _pair_abs_corr(ZAt, ZBt, ii, jj)
        order = np.lexsort((jj, -vals, ii))
        ii, jj, vals = ii[order], jj[order], vals[order]
        first = np.r_[0, np.flatnonzero(np.diff(ii)) + 1]
        rank = np.arange(len(ii)) - np.repeat(first, np.diff(np.r_[first, len(ii)]))
        keep = rank < k
        rows_out.append(ii[keep])
        cols_out.append(jj[keep])
        vals_out.append(vals[keep])
    return _joined_edges(rows_out, cols_out, vals_out)


def _joined_edges(rows: list, cols: list, vals: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge lists gathered block by block, as three arrays (empty when no block had one)."""
    if not rows:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _check_whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value).is_integer() or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _check_power_threshold(power: Any, threshold: Any) -> tuple[float, float]:
    if isinstance(power, bool) or not isinstance(power, numbers.Real) or not np.isfinite(power) or power <= 0:
        raise ValueError(f"power must be a finite number > 0, got {power!r}")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not np.isfinite(threshold)
        or threshold < 0
    ):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    return float(power), float(threshold)


def _standardized_pair(X: Any, name: str, min_samples: int = 2) -> np.ndarray:
    arr = _as_matrix(X, name)
    if arr.shape[0] < min_samples:
        raise ValueError(f"{name}: need at least {min_samples} samples (rows) to correlate features, got {arr.shape[0]}")
    # C order, so that a DataFrame (often Fortran-ordered) gives the same bits
    return _standardize(np.ascontiguousarray(arr))


def knn_graph(X: Any, n_neighbors: int = 10, power: float = 1.0, *, mutual: bool = False) -> sp.csr_matrix:
    """k-nearest-neighbour correlation network: each feature is linked to the
    ``n_neighbors`` other features with the largest ``|corr|``, weight ``|corr|^power``.

    The sparse ``|Pearson|`` kNN prior of spec joint_nmf.md §9 (MDJNMF uses absolute
    correlations). Constant columns get no edges and are never chosen; missing values
    are mean-imputed for the correlation only. Ties in ``|r|`` go to the lower column
    index. Computed in blocks of rows of the correlation matrix, so no dense p x p
    matrix is held, and the graph is the same whatever the block size.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_neighbors : int, default 10
        Neighbours each feature chooses (itself excluded). Larger than the number of
        other features is clipped to it (then every pair is an edge).
    power : float, default 1.0
        Exponent applied to ``|r|``; 2 gives r².
    mutual : bool, default False
        False: an edge is kept when either end chose it (union; a feature can then
        have more than ``n_neighbors`` edges). True: only when both ends chose it
        (intersection; at most ``n_neighbors`` edges per feature).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_features, n_features)
        Symmetric (the weight is the same both ways), nonnegative, zero diagonal.
    """
    k = _check_whole(n_neighbors, "n_neighbors")
    power, _ = _check_power_threshold(power, 0.0)
    Z = _standardized_pair(X, "X")
    p = Z.shape[1]
    k = min(k, p - 1)
    if k < 1:
        return sp.csr_matrix((p, p))
    Zt = np.ascontiguousarray(Z.T)
    with one_blas_thread():  # as in correlation_graph
        rows, cols, vals = _top_k_pairs(Z, Z, Zt, Zt, k, same=True)
    A = sp.csr_matrix((vals**power, (rows, cols)), shape=(p, p))
    A = A.minimum(A.T) if mutual else A.maximum(A.T)
    A = sp.csr_matrix(A)
    A.eliminate_zeros()
    A.sort_indices()
    return A


def cross_correlation_graph(
    X: Any,
    Y: Any,
    power: float = 2.0,
    threshold: float = 0.0,
    n_neighbors: int | None = None,
) -> sp.csr_matrix:
    """Cross-modality correlation network ``A_ij = |corr(x_i, y_j)|^power``.

    The ``|Pearson|`` cross-modality prior of spec joint_nmf.md §9 (e.g. SNP x gene
    or ROI x SNP) for two matrices measured on the same samples, rows aligned.
    Constant columns give zero rows / columns; missing values are mean-imputed for
    the correlation only. Computed in blocks of X's columns, so no dense
    p_X x p_Y matrix is held when ``threshold`` or ``n_neighbors`` makes the result
    sparse; the result is the same whatever the block size.

    Parameters
    ----------
    X : array-like of shape (n_samples, p_X)
    Y : array-like of shape (n_samples, p_Y)
    power : float, default 2.0
        Exponent applied to ``|r|``; 2 gives r².
    threshold : float, default 0.0
        Entries with weight ``<= threshold`` are dropped (0 keeps every nonzero one).
    n_neighbors : int, optional
        Keep only each X-feature's ``n_neighbors`` largest ``|r|`` over Y and each
        Y-feature's ``n_neighbors`` largest over X (union), ties to the lower index;
        values larger than p_Y (resp. p_X) are clipped to it. None keeps every entry
        above ``threshold``.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (p_X, p_Y), nonnegative.
    """
    k = None if n_neighbors is None else _check_whole(n_neighbors, "n_neighbors")
    power, threshold = _check_power_threshold(power, threshold)
    AX, AY = _as_matrix(X, "X"), _as_matrix(Y, "Y")
    if AX.shape[0] != AY.shape[0]:
        raise ValueError(
            f"X and Y must have the same samples (rows): X has {AX.shape[0]} rows, Y has {AY.shape[0]}"
        )
    ZX, ZY = _standardized_pair(AX, "X"), _standardized_pair(AY, "Y")
    pX, pY = ZX.shape[1], ZY.shape[1]
    if pX == 0 or pY == 0:
        return sp.csr_matrix((pX, pY))
    with one_blas_thread():  # as in correlation_graph
        if k is not None:
            ZXt, ZYt = np.ascontiguousarray(ZX.T), np.ascontiguousarray(ZY.T)
            r1, c1, v1 = _top_k_pairs(ZX, ZY, ZXt, ZYt, min(k, pY), same=False)
            c2, r2, v2 = _top_k_pairs(ZY, ZX, ZYt, ZXt, min(k, pX), same=False)
            # a pair chosen from both sides comes twice, with the same |r|: keep one
            key, first = np.unique(np.r_[r1, r2] * pY + np.r_[c1, c2], return_index=True)
            w = np.r_[v1, v2][first] ** power
            w[w <= threshold] = 0.0
            A = sp.csr_matrix((w, (key // pY, key % pY)), shape=(pX, pY))
            A.eliminate_zeros()
            A.sort_indices()
            return A
        blocks = []
        block = _row_block(pY)
        for start in range(0, pX, block):
            stop = min(start + block, pX)
            R = _abs_corr_rows(ZX, ZY, start, stop)
            R **= power
            R[R <= threshold] = 0.0
            blocks.append(sp.csr_matrix(R))
    A = sp.vstack(blocks, format="csr")
    A.eliminate_zeros()
    A.sort_indices()
    return A


# --- LD graphs -----------------------------------------------------------------------
#
# ld_graph (in memory) and ld_graph_plink (out of core) share one engine,
# :func:`_ld_pairs`, which reads the SNPs in (chromosome, position) order, a chunk at a
# time, and keeps from earlier chunks only the SNPs within the window. The graph is
# the same, bit for bit, whatever the chunking:
#
# * each SNP is standardised on its own (:func:`_standardize` along rows);
# * a pair's r is recomputed from its two SNPs alone (:func:`_pair_abs_corr`); the
#   blockwise BLAS product only screens the candidates, with a margin larger than
#   its rounding error.


def _check_window(window: Any) -> Any:
    if isinstance(window, bool) or not isinstance(window, numbers.Real) or not np.isfinite(window) or window < 0:
        raise ValueError(f"window must be a finite number >= 0, got {window!r}")
    return window


def _check_r2_threshold(r2_threshold: Any) -> float:
    if (
        isinstance(r2_threshold, bool)
        or not isinstance(r2_threshold, numbers.Real)
        or not 0 <= r2_threshold <= 1
    ):
        raise ValueError(f"r2_threshold must be in [0, 1], got {r2_threshold!r}")
    return float(r2_threshold)


#: PLINK's numeric codes of the chromosomes with letter names.
_PLINK_CHROMOSOMES = {"X": "23", "Y": "24", "XY": "25", "MT": "26", "M": "26"}


def chromosome_labels(chromosomes: Any) -> np.ndarray:
    """Chromosome codes in one spelling, so that equal chromosomes compare equal:
    ``"chr1"``, ``"1"``, ``1`` and ``1.0`` are all ``"1"``; ``X``, ``Y``, ``XY`` and
    ``MT`` (``M``) are PLINK's ``23``-``26``. Missing codes are an error.

    Parameters
    ----------
    chromosomes : array-like of shape (n_snps,)
    """
    out = []
    for value in np.asarray(chromosomes, dtype=object).ravel():
        if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
            raise ValueError(f"chromosomes: a missing or non-finite code ({value!r}); give every SNP its chromosome")
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        text = str(value).strip()
        if text.lower().startswith("chr"):
            text = text[3:]
        text = text.upper()
        if text in ("", "NAN", "NONE", "NA"):
            raise ValueError(f"chromosomes: a missing code ({value!r}); give every SNP its chromosome")
        text = _PLINK_CHROMOSOMES.get(text, text)
        out.append((text.lstrip("0") or "0") if text.isdigit() else text)
    return np.asarray(out, dtype=str)


def _ld_layout(pos: np.ndarray, chromosomes: Any, window: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order of the SNPs by (chromosome, position), and along it a key monotone in
    (chromosome, position) that puts chromosomes more than ``window`` apart, and the
    chromosome codes. ``chromosomes`` None: one chromosome."""
    p = len(pos)
    if chromosomes is None:
        chrom_codes = np.zeros(p, dtype=np.int64)
    else:
        _, chrom_codes = np.unique(chromosome_labels(chromosomes), return_inverse=True)
        chrom_codes = chrom_codes.reshape(-1)
    order = np.lexsort((pos, chrom_codes))
    spos, schrom = pos[order], chrom_codes[order]
    low = np.nanmin(pos) if p else 0.0
    span = (np.nanmax(pos) - low if p else 0.0) + window + 1.0
    key = schrom * span + (spos - low)
    return order, key, schrom


def _window_start(key: np.ndarray, j: int, window: Any) -> int:
    """First sorted SNP i with ``key[j] - key[i] <= window`` (the same comparison as
    the edge mask, so rounding in ``key[j] - window`` cannot drop a pair)."""
    a = int(np.searchsorted(key, key[j] - window, side="left"))
    while a > 0 and key[j] - key[a - 1] <= window:
        a -= 1
    while a < j and key[j] - key[a] > window:
        a += 1
    return a


def _ld_pairs(
    read: Any, key: np.ndarray, schrom: np.ndarray, window: Any, r2_threshold: float, chunk: int, block: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges ``(i, j, r²)``, ``i < j`` positions in the sorted order, of the SNPs
    sorted by ``key`` (from :func:`_ld_layout`).

    ``read(a, b)`` returns the dosages, shape (n_samples, b - a), of sorted SNPs
    ``a..b-1``. Each SNP is read once, in chunks of ``chunk``; besides the chunk only
    the standardised SNPs within ``window`` before it are held. The screening
    products cover ``block`` SNPs at a time.
    """
    p = len(key)
    thr = max(r2_threshold, EPS)
    rows, cols, vals = [], [], []
    Zt = np.empty((0, 0))  # standardised SNPs z_lo..c0-1 (rows), C order
    z_lo = 0
    with one_blas_thread():  # as in correlation_graph
        for c0 in range(0, p, chunk):
            c1 = min(c0 + chunk, p)
            new = _standardize(np.asarray(read(c0, c1)).T, axis=1)
            lo = _window_start(key, c0, window)
            Zt = np.concatenate([Zt[lo - z_lo:], new]) if lo < c0 else new
            z_lo = lo
            # both |r| are within about n*eps of the exact value (unit-norm rows)
            cut = np.sqrt(thr) - 8.0 * (Zt.shape[1] + 2) * EPS
            for s in range(c0, c1, block):
                t = min(s + block, c1)
                a = _window_start(key, s, window)
                R = Zt[s - z_lo:t - z_lo] @ Zt[a - z_lo:t - z_lo].T  # (j in s..t-1, i in a..t-1)
                in_window = (
                    (np.arange(a, t)[None, :] < np.arange(s, t)[:, None])
                    & (key[s:t][:, None] - key[a:t][None, :] <= window)
                    & (schrom[s:t][:, None] == schrom[a:t][None, :])
                )
                cand = in_window & (np.abs(R) >= cut)
                jj, ii = np.nonzero(cand)
                if not len(ii):
                    continue
                if 4 * len(ii) >= int(in_window.sum()):
                    # most pairs are candidates (a low threshold): every pair of the
                    # block by diagonals of contiguous rows, the same sums as pair by pair
                    r = _band_abs_corr(Zt, s - z_lo, t - z_lo, a - z_lo, int((jj + s - ii - a).max()))[jj, ii]
                    ii, jj = ii + a, jj + s
                else:
                    ii, jj = ii + a, jj + s
                    r = _pair_abs_corr(Zt, Zt, ii - z_lo, jj - z_lo)
                # identical (or mirrored) SNPs give |r| a few units in the last place below 1:
                # they are in perfect LD, and r2_threshold=1 must keep them
                r = np.where(r >= 1.0 - 8.0 * (Zt.shape[1] + 2) * EPS, 1.0, r)
                r2 = r * r
                keep = r2 >= thr
                rows.append(ii[keep])
                cols.append(jj[keep])
                vals.append(r2[keep])
    return _joined_edges(rows, cols, vals)


def _band_abs_corr(Zt: np.ndarray, s: int, t: int, a: int, reach: int) -> np.ndarray:
    """``|<z_i, z_j>|`` clipped to 1 for rows j in s..t-1 and i in a..j-1 with
    ``j - i <= reach`` of Zt (C order, unit-norm rows), shape (t - s, t - a) laid
    out as ``R[j - s, i - a]`` (0 elsewhere).

    Each diagonal ``j - i = d`` is one product of two contiguous row ranges summed
    along the rows, so every value is the sum :func:`_pair_abs_corr` forms for that
    pair, bit for bit, without gathering the rows pair by pair.
    """
    out = np.zeros((t - s, t - a))
    for d in range(1, min(t - a, reach + 1)):
        j0 = max(s, a + d)
        if j0 >= t:
            continue
        vals = (Zt[j0 - d:t - d] * Zt[j0:t]).sum(axis=1)
        out[np.arange(j0 - s, t - s), np.arange(j0 - d - a, t - d - a)] = vals
    np.abs(out, out=out)
    np.minimum(out, 1.0, out=out)
    return out


def _symmetric_graph(r: np.ndarray, c: np.ndarray, v: np.ndarray, p: int) -> sp.csr_matrix:
    A = sp.coo_matrix((np.r_[v, v], (np.r_[r, c], np.r_[c, r])), shape=(p, p)).tocsr()
    A.sum_duplicates()
    A.sort_indices()
    return A


def ld_graph(
    genotypes: Any,
    positions: Any = None,
    window: int | None = None,
    r2_threshold: float = 0.2,
    chromosomes: Any = None,
) -> sp.csr_matrix:
    """Linkage-disequilibrium graph: ``A_ij = r²(snp_i, snp_j)`` for nearby SNP pairs.

    Only pairs on the same chromosome within ``window`` of each other and with
    ``r² >= r2_threshold`` become edges. The correlation is computed in blocks of
    neighbouring SNPs, so memory grows with the number of edges, not with p². Each
    weight depends only on its two SNPs (bit for bit), so the graph is the same as
    :func:`ld_graph_plink` gives on the file the genotypes came from.

    Parameters
    ----------
    genotypes : array-like or DataFrame of shape (n_samples, n_snps)
        Dosages; NaN (missing calls) are mean-imputed for the correlation.
    positions : array-like of shape (n_snps,), or DataFrame with ``chrom`` and ``pos``
        Base-pair positions (e.g. the ``.bim`` table returned by
        :func:`imaging_genetics.io.read_bim`). When None, the column order is the
        order along one chromosome and ``window`` counts SNPs.
    window : int, optional
        Maximum distance between linked SNPs: in SNPs (default 100) when
        ``positions`` is None, else in base pairs (default 500,000).
    r2_threshold : float, default 0.2
        Each candidate pair's r² is recomputed from its two SNPs alone; with 0 every
        pair within the window is one, which costs about three times more than a
        threshold that prunes most pairs.
    chromosomes : array-like of shape (n_snps,), optional
        Chromosome of each SNP; pairs on different chromosomes are never linked.
        Spellings are unified (:func:`chromosome_labels`: ``chr1`` = ``1`` = ``1.0``,
        ``X`` = ``23``); a missing code or position is an error.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_snps, n_snps), symmetric, zero diagonal.
    """
    G = _as_matrix(genotypes, "genotypes")
    if G.shape[0] < 2:
        raise ValueError(f"genotypes: need at least 2 samples (rows) to compute LD, got {G.shape[0]}")
    p = G.shape[1]
    r2_threshold = _check_r2_threshold(r2_threshold)
    positions = _positions_by_snp(positions, _column_names(genotypes))
    if isinstance(positions, pd.DataFrame):
        missing = {"chrom", "pos"} - set(positions.columns)
        if missing:
            raise ValueError(f"positions: DataFrame lacks column(s) {sorted(missing)}")
        if chromosomes is None:
            chromosomes = positions["chrom"].to_numpy()
        positions = positions["pos"].to_numpy()
    if positions is None:
        pos = np.arange(p, dtype=np.float64)
        window = 100 if window is None else window
    else:
        pos = np.asarray(positions, dtype=np.float64)
        window = 500_000 if window is None else window
        if pos.shape != (p,):
            raise ValueError(f"positions: expected {p} positions (one per SNP), got shape {pos.shape}")
        if not np.isfinite(pos).all():
            raise ValueError(f"positions: {int((~np.isfinite(pos)).sum())} missing or non-finite value(s) (first "
                             f"at SNP {int(np.flatnonzero(~np.isfinite(pos))[0])}); every SNP needs its position")
    window = _check_window(window)
    if chromosomes is not None and np.shape(chromosomes) != (p,):
        raise ValueError(f"chromosomes: expected {p} entries, got shape {np.shape(chromosomes)}")
    # Walk SNPs sorted by (chromosome, position); map edges back to column order.
    order, key, schrom = _ld_layout(pos, chromosomes, window)
    # A block's products span block + window columns; with a window counted in
    # SNPs, blocks of about twice the window keep that waste small. Each chunk is
    # standardised once, so no standardised copy of the whole matrix is ever held.
    block = int(np.clip(2 * window, 64, 512)) if positions is None else 512
    r, c, v = _ld_pairs(lambda a, b: G[:, order[a:b]], key, schrom, window, r2_threshold, block, block)
    return _symmetric_graph(order[r], order[c], v, p)


def _positions_by_snp(positions: Any, snps: list[str] | None) -> Any:
    """SNP positions given as a table keyed by SNP ID (a ``snp`` column, as in a
    ``.bim`` table, or the index), in the order of the genotype columns ``snps``;
    positions of other SNPs are left out. Anything else is returned as it is
    (paired with the columns by position)."""
    how = ("positions", "its SNP IDs", "genotype columns",
           "give every SNP its position, or pass plain arrays in the genotypes' column order")
    if snps is not None and isinstance(positions, pd.DataFrame) and "snp" in positions.columns:
        return reorder_by_labels(positions, [str(x) for x in positions["snp"]], snps, *how)
    return reorder_by_index(positions, snps, *how)


def ld_graph_plink(
    prefix: str | os.PathLike,
    snps: Any = None,
    samples: Any = None,
    window: int = 500_000,
    r2_threshold: float = 0.2,
    chunk_size: int = 10_000,
) -> sp.csr_matrix:
    """LD graph of a PLINK file set too large for memory, read in chunks of SNPs.

    The same graph, bit for bit, as ``ld_graph(read_plink(prefix, snps=snps,
    samples=samples), positions=<.bim rows of those SNPs>, window=window,
    r2_threshold=r2_threshold)``: ``A_ij = r²`` for SNPs on the same chromosome
    (``.bim`` column 1) at most ``window`` base pairs apart (column 4) with
    ``r² >= r2_threshold``. The SNPs are read in (chromosome, position) order, so
    the ``.bim`` need not be sorted, ``chunk_size`` at a time; memory holds one
    chunk plus the SNPs within ``window`` before it (standardised, float64), each
    SNP is read once, and the result is the same for every ``chunk_size``.

    Parameters
    ----------
    prefix : str or path
        File-set prefix, as for :func:`imaging_genetics.io.read_plink`.
    snps : None, slice, sequence of SNP IDs, integer positions or boolean mask, optional
        The SNPs of the graph, as ``read_plink`` takes them (a boolean mask has one
        entry per ``.bim`` line, e.g. ``GenotypeQC(...).support_``). Rows and columns
        of the result follow this order. Default: all.
    samples : None, slice, sequence of IIDs, integer positions or boolean mask, optional
        The samples the correlations are computed on, as ``read_plink`` takes them.
    window : int, default 500,000
        Maximum distance in base pairs between linked SNPs.
    r2_threshold : float, default 0.2
    chunk_size : int, default 10,000
        SNPs read at once.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_selected, n_selected)
        Symmetric, zero diagonal.
    """
    from ..io.plink import PlinkSet

    chunk = _check_whole(chunk_size, "chunk_size")
    window = _check_window(500_000 if window is None else window)
    r2_threshold = _check_r2_threshold(r2_threshold)
    with PlinkSet(prefix) as geno:  # .bim and .fam read once, the .bed kept open across chunks
        idx = geno.snp_index(snps)
        idx = np.arange(len(geno.bim))[idx] if isinstance(idx, slice) else np.asarray(idx, dtype=np.int64)
        p = len(idx)
        if p == 0:
            return sp.csr_matrix((0, 0))
        selected = geno.bim.iloc[idx]
        order, key, schrom = _ld_layout(
            np.asarray(selected["pos"].to_numpy(), dtype=np.float64), selected["chrom"].to_numpy(), window
        )
        file_rows = idx[order]

        def read(a: int, b: int) -> np.ndarray:
            rows = file_rows[a:b]
            if rows[-1] - rows[0] == b - a - 1 and (np.diff(rows) == 1).all():
                rows = slice(int(rows[0]), int(rows[-1]) + 1)  # a run of the file: a plain slice
            # dosages 0/1/2/NaN are exact in float32: half the memory, the same values
            return geno.read(rows, samples, dtype="float32").to_numpy()

        r, c, v = _ld_pairs(read, key, schrom, window, r2_threshold, chunk, min(chunk, 512))
    return _symmetric_graph(order[r], order[c], v, p)


def _read_edges(edges: Any) -> pd.DataFrame:
    if isinstance(edges, pd.DataFrame):
        return edges
    if isinstance(edges, (str, os.PathLike)):
        from ..io import read_table

        return read_table(edges, id_column=None, text=True)  # node names as written ("001")
    raise TypeError(f"edges must be a DataFrame or a path to an edge-list file, got {type(edges).__name__}")


def graph_from_edges(
    edges: Any,
    nodes: Sequence[Any],
    target_nodes: Sequence[Any] | None = None,
    *,
    source: str | None = None,
    target: str | None = None,
    weight: str | None = None,
    symmetric: bool = True,
) -> sp.csr_matrix:
    """Adjacency matrix from an edge list (PPI network, connectome, SNP-gene map).

    Parameters
    ----------
    edges : DataFrame or path
        One row per edge. Endpoint columns are ``source``/``target`` (default: the
        first two columns); ``weight`` names a weight column (default: a column
        called ``weight`` if present, else 1 per edge).
    nodes : sequence of hashable, length p
        Feature names of the rows of the result, in order (e.g. gene symbols).
    target_nodes : sequence of hashable, length q, optional
        For a cross-modality adjacency (e.g. SNP x gene): names of the columns. When
        None the graph is square over ``nodes``.
    symmetric : bool, default True
        For a square graph, add each edge in both directions.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (p, p) or (p, q)
        Duplicate edges keep the largest weight. Edges naming unknown nodes are
        dropped and counted in the log; if no edge matches, ``ValueError``.
    """
    frame = _read_edges(edges)
    if frame.shape[1] < 2:
        raise ValueError(f"edges: need at least two columns (source, target), got {list(frame.columns)}")
    source = source or frame.columns[0]
    target = target or frame.columns[1]
    for col in (source, target):
        if col not in frame.columns:
            raise ValueError(f"edges: no column {col!r}; columns are {list(frame.columns)}")
    if weight is None and "weight" in frame.columns:
        weight = "weight"
    if weight is not None:
        if weight not in frame.columns:
            raise ValueError(f"edges: no weight column {weight!r}; columns are {list(frame.columns)}")
        w = pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(w).all():
            raise ValueError(f"edges: column {weight!r} has {int((~np.isfinite(w)).sum())} non-numeric or infinite weight(s)")
        if (w < 0).any():
            raise ValueError(f"edges: column {weight!r} has negative weights; prior networks need weights >= 0")
    else:
        w = np.ones(len(frame))
    names_of = {col: frame[col].astype(str).str.strip() for col in (source, target)}
    for col in (source, target):
        blank = frame[col].isna().to_numpy() | (names_of[col] == "").to_numpy()
        if blank.any():
            raise ValueError(f"edges: {int(blank.sum())} edge(s) without a node name in column {col!r} "
                             f"(e.g. row(s) {np.flatnonzero(blank)[:5].tolist()}); fill in or remove them")
    row_names = [str(x) for x in nodes]
    col_names = row_names if target_nodes is None else [str(x) for x in target_nodes]
    for label, names in (("nodes", row_names), ("target_nodes", col_names)):
        if len(set(names)) != len(names):
            dup = pd.Index(names)[pd.Index(names).duplicated()].unique()[:5].tolist()
            raise ValueError(f"{label}: duplicated node names {dup}")
    row_index = pd.Index(row_names)
    col_index = pd.Index(col_names)
    i = row_index.get_indexer(names_of[source])
    j = col_index.get_indexer(names_of[target])
    ok = (i >= 0) & (j >= 0)
    if target_nodes is None:
        ok &= i != j  # self-loops carry no smoothing information
    if not ok.any():
        raise ValueError(
            f"edges: none of the {len(frame)} edges connects two known nodes; check that "
            f"columns {source!r}/{target!r} use the same names as the features "
            f"(e.g. {row_names[:3]})"
        )
    dropped = int((~ok).sum())
    if dropped:
        log.info("graph_from_edges: dropped %d of %d edges naming unknown nodes or self-loops", dropped, len(frame))
    i, j, w = i[ok], j[ok], w[ok]
    shape = (len(row_names), len(col_names))
    if target_nodes is None and symmetric:
        i, j, w = np.r_[i, j], np.r_[j, i], np.r_[w, w]
    # Keep the largest weight of duplicated edges rather than summing them.
    key = i.astype(np.int64) * shape[1] + j
    order = np.lexsort((-w, key))
    key, first = np.unique(key[order], return_index=True)
    w = w[order][first]
    A = sp.csr_matrix((w, (key // shape[1], key % shape[1])), shape=shape)
    A.eliminate_zeros()  # a zero weight is no edge
    return A


def laplacian(adjacency: Any) -> sp.csr_matrix:
    """Graph Laplacian ``L = D - A`` with ``D = diag(A 1)``.

    Parameters
    ----------
    adjacency : array-like or sparse of shape (p, p)
        Symmetric, nonnegative.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (p, p), positive semi-definite.
    """
    shape = getattr(adjacency, "shape", None)
    if shape is None:
        adjacency = np.asarray(adjacency)
        shape = adjacency.shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"adjacency: expected a square matrix, got shape {shape}")
    A = check_adjacency(adjacency, shape[0], "adjacency")
    A = A - sp.diags(A.diagonal())  # self-loops cancel in D - A
    degree = np.asarray(A.sum(axis=1)).ravel()
    return (sp.diags(degree) - A).tocsr()


def normalized_adjacency(adjacency: Any) -> sp.csr_matrix:
    """Scale an adjacency to unit spectral norm (largest singular value 1).

    Used by the joint NMF family so that ``cross_strength`` and ``smoothness`` mean
    the same thing whatever the size of the network (spec joint_nmf.md, decision 2).
    """
    A = sp.csr_matrix(adjacency, dtype=np.float64)
    if A.nnz == 0:
        return A
    if min(A.shape) <= 2:
        s = np.linalg.norm(A.toarray(), 2)
    else:
        from scipy.sparse.linalg import svds

        try:
            s = float(svds(A, k=1, return_singular_vectors=False, random_state=0)[0])
        except Exception:  # ARPACK can fail on tiny or degenerate inputs
            s = np.linalg.norm(A.toarray(), 2)
    return (A / max(s, EPS)).tocsr()


def connected_components_groups(adjacency: Any) -> np.ndarray:
    """Group label of each node: its connected component (e.g. LD blocks).

    Returns
    -------
    ndarray of shape (p,) of int, labels 0..n_groups-1.
    """
    from scipy.sparse.csgraph import connected_components

    A = sp.csr_matrix(adjacency)
    _, labels = connected_components(A, directed=False)
    return labels
