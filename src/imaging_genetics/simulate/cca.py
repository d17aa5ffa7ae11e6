"""Simulated multi-task imaging-genetics data with prescribed canonical correlations.

Design (spec sparse_cca.md §10, "Recommended simulation design"): K independent
latent variables ``z_k ~ N(0, 1)``;

    X   = sum_k z_k a_k' + E_x,   E_x ~ N(0, S_x)  (LD blocks, AR(1) within a block)
    Y_k = z_k b_k'       + E_k,   E_k ~ N(0, S_y)  (modular ROI network noise)

so that ``Cov(X, Y_k) = a_k b_k'`` has rank one and task k has exactly one
population canonical correlation,

    rho_k^2 = (a_k' S_X^{-1} a_k) (b_k' S_{Y_k}^{-1} b_k),                    (1)

with ``S_X = A diag(1) A' + S_x`` the full covariance of X (the other tasks'
signals are noise for task k) and ``S_{Y_k} = b_k b_k' + S_y``. The amplitudes are
solved so that each factor of (1) equals ``rho_k``:

* imaging side (Sherman-Morrison): with ``b_k = g_k b~_k`` and
  ``s_k = b~_k' S_y^{-1} b~_k``, ``b_k' S_{Y_k}^{-1} b_k = g_k^2 s_k / (1 + g_k^2 s_k)``,
  hence ``g_k^2 = rho_k / ((1 - rho_k) s_k)``;
* SNP side (Woodbury): with ``a_k = c_k a~_k``, ``M = A~' S_x^{-1} A~`` and
  ``C = diag(c)``, ``A' S_X^{-1} A = C (M - M (C^{-2} + M)^{-1} M) C`` (C^{-2} being
  the inverse of the latent covariance ``C^2`` written on the unscaled patterns);
  its diagonal must equal ``rho``, a K-dimensional equation solved numerically
  in ``log c`` to machine precision.

The population canonical weights are ``u_k ∝ S_X^{-1} a_k`` and
``v_k ∝ S_{Y_k}^{-1} b_k`` (scaled to unit population variance).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.optimize as opt
import scipy.sparse as sp

from .._validation import check_positive_int
from ._common import generator

__all__ = ["multitask_cca_data"]


def _ar1_block_precision_apply(block_sizes, rho):
    """Return functions (cov_apply, prec_apply) for block-diagonal AR(1) covariance."""
    starts = np.r_[0, np.cumsum(block_sizes)[:-1]]

    def cov_dense(b):
        i = np.arange(b)
        return rho ** np.abs(i[:, None] - i[None, :])

    def apply(M, inverse):
        out = np.empty_like(M)
        for s, b in zip(starts, block_sizes):
            C = cov_dense(b)
            blk = M[s:s + b]
            out[s:s + b] = np.linalg.solve(C, blk) if inverse else C @ blk
        return out

    return apply


def multitask_cca_data(
    n_samples: int,
    n_snps: int,
    n_rois: int,
    correlations: Sequence[float] = (0.8, 0.5, 0.2),
    random_state: Any = None,
    *,
    ld_block_size: int = 5,
    ld_rho: float = 0.6,
    module_size: int = 10,
    module_corr: float = 0.3,
    n_shared_blocks: int = 4,
    n_specific_blocks: int = 1,
    n_shared_modules: int = 2,
    n_specific_rois: int = 2,
):
    """Simulate one SNP matrix and K imaging modalities with given population CCCs.

    Parameters
    ----------
    n_samples : int
        n.
    n_snps : int
        p; split into consecutive LD blocks of ``ld_block_size`` SNPs.
    n_rois : int
        q (the same regions in every modality), split into modules of
        ``module_size`` regions.
    correlations : sequence of K floats in (0, 1), default (0.8, 0.5, 0.2)
        Population canonical correlation of task k (X with Y_k); K = len(...).
    random_state : None, int, RandomState or Generator
        None (numpy's global random state), an int >= 0 (a seed: the result is
        bit-reproducible for a fixed seed), or a numpy RandomState or Generator (used
        as the source of randomness and advanced by the draws).
    ld_block_size, ld_rho : int, float
        SNP noise: independent LD blocks with AR(1) correlation ``ld_rho^|i-j|``.
    module_size, module_corr : int, float
        Imaging noise: independent modules with equicorrelation ``module_corr``.
    n_shared_blocks, n_specific_blocks : int
        SNP support: whole LD blocks shared by all tasks, plus blocks specific to
        each task. ``n_specific_blocks=0`` gives every task the same SNP support,
        the premise of the multi-task l2,1 coupling; with private blocks, those of a
        task with a very low correlation are not identifiable at moderate n.
    n_shared_modules, n_specific_rois : int
        Imaging support: whole modules shared by all modalities, plus regions
        specific to each modality.

    Returns
    -------
    X : ndarray (n, p)
    Ys : list of K ndarrays (n, q)
    truth : dict
        The keys shared with :func:`genotype_cca_data` mean the same there:

        * ``u_canonical`` (p, K): population canonical SNP weights, column k
          ``∝ S_X^{-1} a_k``, scaled so that ``X @ u_canonical[:, k]`` has unit
          population variance; ``u`` is the same array (the key this function
          always had).
        * ``v_canonical`` (list of K (q,)): population canonical region weights
          ``∝ S_{Y_k}^{-1} b_k``, unit population variance of ``Ys[k] @ v``; ``v``
          is the same list.
        * ``support_x`` (p, K) bool: SNPs whose generating loading ``a_k`` is
          nonzero (whole LD blocks). The canonical weights ``u`` are nonzero on the
          union of the tasks' supports (the other tasks' signals enter S_X).
        * ``support_y`` (list of K (q,) bool): regions whose generating loading
          ``b_k`` is nonzero.
        * ``x_adjacency`` (p, p) csr: population r^2 between SNPs of one LD block.
        * ``y_adjacency`` (list of K (q, q) csr): population noise corr^2
          (``module_corr**2``) between regions of one module.
        * ``modules`` (q,): the module label of each region (the ``q %
          module_size`` leftover regions form a smaller last module).
        * ``correlations`` (K,): the population canonical correlations.

        Keys of this function only: ``x_loadings`` (p, K) the generating loadings
        ``a_k`` (``X = Z x_loadings' + E_x``), ``y_loadings`` (list of K (q,)) the
        generating ``b_k`` (``Y_k = z_k b_k' + E_k``), ``ld_blocks`` (p,) the LD
        block label of each SNP, ``latent`` (n, K) the shared latent variables
        ``Z = [z_1 ... z_K]``.
    """
    n = check_positive_int(n_samples, "n_samples", minimum=2)
    p = check_positive_int(n_snps, "n_snps")
    q = check_positive_int(n_rois, "n_rois")
    rho = np.asarray(correlations, dtype=np.float64).ravel()
    K = rho.size
    if K == 0:
        raise ValueError("correlations: needs at least one task (K >= 1)")
    if not np.all((rho > 0) & (rho < 1)):
        raise ValueError(f"correlations: each must lie in (0, 1), got {rho.tolist()}")
    if not 0 <= ld_rho < 1:
        raise ValueError(f"ld_rho must be in [0, 1), got {ld_rho}")
    if not 0 <= module_corr < 1:
        raise ValueError(f"module_corr must be in [0, 1), got {module_corr}")
    rng = generator(random_state)

    # ---- structure
    bs = check_positive_int(ld_block_size, "ld_block_size")
    block_sizes = [bs] * (p // bs) + ([p % bs] if p % bs else [])
    ld_blocks = np.repeat(np.arange(len(block_sizes)), block_sizes)
    ms = check_positive_int(module_size, "module_size")
    mod_sizes = [ms] * (q // ms) + ([q % ms] if q % ms else [])
    modules = np.repeat(np.arange(len(mod_sizes)), mod_sizes)
    n_blocks, n_mods = len(block_sizes), len(mod_sizes)
    n_shared_blocks = check_positive_int(n_shared_blocks, "n_shared_blocks", minimum=0)
    n_specific_blocks = check_positive_int(n_specific_blocks, "n_specific_blocks", minimum=0)
    n_shared_modules = check_positive_int(n_shared_modules, "n_shared_modules", minimum=0)
    n_specific_rois = check_positive_int(n_specific_rois, "n_specific_rois", minimum=0)
    if n_shared_blocks + n_specific_blocks == 0:
        raise ValueError("n_shared_blocks, n_specific_blocks: both are 0, so no SNP carries a task's signal")
    if n_shared_modules + n_specific_rois == 0:
        raise ValueError("n_shared_modules, n_specific_rois: both are 0, so no region carries a task's signal")
    need_blocks = n_shared_blocks + K * n_specific_blocks
    if need_blocks > n_blocks:
        raise ValueError(f"n_snps: {p} SNPs give {n_blocks} LD blocks; the supports need "
                         f"{need_blocks}")
    if n_shared_modules > n_mods:
        raise ValueError(f"n_rois: {q} regions give {n_mods} modules; need {n_shared_modules}")

    # ---- supports and loading patterns
    chosen = rng.permutation(n_blocks)[:need_blocks]
    shared_b, specific_b = chosen[:n_shared_blocks], chosen[n_shared_blocks:]
    support_x = np.zeros((p, K), dtype=bool)
    for k in range(K):
        own = specific_b[k * n_specific_blocks:(k + 1) * n_specific_blocks]
        support_x[:, k] = np.isin(ld_blocks, np.r_[shared_b, own])
    # One amplitude and sign per (LD block, task), constant inside a block: tasks
    # share SNPs but not their direction, and the canonical weights S^{-1} a keep
    # one sign inside a block (varying loadings inside an LD block would give
    # weights of mixed sign, close to zero, inside the true support).
    block_amp = rng.uniform(0.5, 1.5, size=(n_blocks, K)) * rng.choice([-1.0, 1.0], size=(n_blocks, K))
    A = np.zeros((p, K))
    for k in range(K):
        idx = np.flatnonzero(support_x[:, k])
        A[idx, k] = block_amp[ld_blocks[idx], k]
    shared_m = rng.permutation(n_mods)[:n_shared_modules]
    in_shared = np.isin(modules, shared_m)
    others = np.flatnonzero(~in_shared)
    module_amp = rng.uniform(0.5, 1.5, size=(n_mods, K))
    support_y, Bt = [], []
    for k in range(K):
        mask = in_shared.copy()
        b = np.where(in_shared, module_amp[modules, k], 0.0)
        if others.size:
            own = rng.choice(others, size=min(n_specific_rois, others.size), replace=False)
            mask[own] = True
            b[own] = rng.uniform(0.5, 1.5, own.size)
        support_y.append(mask)
        Bt.append(b)

    # ---- noise covariances (block-diagonal)
    ar1 = _ar1_block_precision_apply(block_sizes, ld_rho)
    mod_starts = np.r_[0, np.cumsum(mod_sizes)[:-1]]

    def sy_apply(M, inverse):
        out = np.empty_like(M)
        for s, b in zip(mod_starts, mod_sizes):
            C = np.full((b, b), module_corr) + (1 - module_corr) * np.eye(b)
            out[s:s + b] = np.linalg.solve(C, M[s:s + b]) if inverse else C @ M[s:s + b]
        return out

    # ---- imaging amplitudes (closed form)
    g = np.empty(K)
    for k in range(K):
        s_k = Bt[k] @ sy_apply(Bt[k][:, None], True)[:, 0]
        g[k] = np.sqrt(rho[k] / ((1 - rho[k]) * s_k))
    B = [g[k] * Bt[k] for k in range(K)]

    # ---- SNP amplitudes: diag(C (M - M (C^-2 + M)^-1 M) C) = rho
    M = A.T @ ar1(A, True)

    def x_factor(logc):
        c = np.exp(logc)
        inner = M - M @ np.linalg.solve(np.diag(c ** -2.0) + M, M)
        return c * c * np.diag(inner)

    sol = opt.least_squares(lambda lc: np.log(x_factor(lc)) - np.log(rho),
                            x0=0.5 * np.log(rho / ((1 - rho) * np.diag(M))),
                            xtol=1e-15, ftol=1e-15, gtol=1e-15)
    if np.max(np.abs(x_factor(sol.x) - rho)) > 1e-10:
        raise RuntimeError("could not solve for the SNP amplitudes; reduce the "
                           "correlations or change the supports")
    c = np.exp(sol.x)
    Ax = A * c

    # ---- draws
    Z = rng.standard_normal((n, K))
    Ex = np.empty((n, p))
    start = 0
    for b in block_sizes:
        Lc = np.linalg.cholesky(ld_rho ** np.abs(np.subtract.outer(np.arange(b), np.arange(b))))
        Ex[:, start:start + b] = rng.standard_normal((n, b)) @ Lc.T
        start += b
    X = Z @ Ax.T + Ex
    Ys = []
    for k in range(K):
        Ek = np.empty((n, q))
        for s, b in zip(mod_starts, mod_sizes):
            Lc = np.linalg.cholesky(np.full((b, b), module_corr) + (1 - module_corr) * np.eye(b))
            Ek[:, s:s + b] = rng.standard_normal((n, b)) @ Lc.T
        Ys.append(np.outer(Z[:, k], B[k]) + Ek)

    # ---- population canonical weights, unit population variance
    # S_X^{-1} a_k by Woodbury: S_x^{-1} a - S_x^{-1} A (I + A' S_x^{-1} A)^{-1} A' S_x^{-1} a
    SxiA = ar1(Ax, True)
    U = SxiA - SxiA @ np.linalg.solve(np.eye(K) + Ax.T @ SxiA, Ax.T @ SxiA)
    varU = np.einsum("pk,pk->k", U, Ax @ (Ax.T @ U) + ar1(U, False))
    U = U / np.sqrt(varU)
    V = []
    for k in range(K):
        sb = sy_apply(B[k][:, None], True)[:, 0]
        v = sb / (1 + B[k] @ sb)
        var = (B[k] @ v) ** 2 + v @ sy_apply(v[:, None], False)[:, 0]
        V.append(v / np.sqrt(var))

    # ---- prior networks (population squared correlations inside blocks/modules)
    rows, cols, vals = [], [], []
    start = 0
    for b in block_sizes:
        i, j = np.meshgrid(np.arange(b), np.arange(b), indexing="ij")
        off = i != j
        rows.append((i + start)[off])
        cols.append((j + start)[off])
        vals.append((ld_rho ** (2 * np.abs(i - j)))[off])
        start += b
    x_adj = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(p, p))
    same = (modules[:, None] == modules[None, :]) & ~np.eye(q, dtype=bool)
    y_adj_one = sp.csr_matrix(same * module_corr ** 2)
    truth = {
        "u": U,
        "v": V,
        "u_canonical": U,
        "v_canonical": V,
        "x_loadings": Ax,
        "y_loadings": B,
        "support_x": support_x,
        "support_y": support_y,
        "x_adjacency": x_adj,
        "y_adjacency": [y_adj_one.copy() for _ in range(K)],
        "ld_blocks": ld_blocks,
        "modules": modules,
        "correlations": rho.copy(),
        "latent": Z.copy(),
    }
    return X, Ys, truth
