"""Multi-task CCA data driven by simulated genotypes (realistic LD).

:func:`imaging_genetics.simulate.multitask_cca_data` draws the SNP side from a
Gaussian model with AR(1) LD blocks, which makes the population canonical
correlations exact. This module keeps the imaging side of that design but takes
the SNP side from real-looking 0/1/2 genotypes (:func:`simulate_genotypes`: a
coalescent with recombination when msprime is installed), so LD, allele
frequencies and the discreteness of dosages are as in a cohort. The canonical
correlations are then exact *conditionally on the simulated genotype panel*.

Design, per task k (K = len(correlations)):

* SNP weights ``a_k``: ones on causal windows of adjacent SNPs (``n_shared_windows``
  windows common to all tasks plus ``n_specific_windows`` of its own), zero
  elsewhere.
* Latent genetic score ``s_k = standardise(X_std a_k)`` (unit variance in the panel).
* Imaging ``Y_k = c_k s_k b_k' + E_k``: regions grouped in modules of
  ``module_size`` with equicorrelated noise ``E_k`` (correlation ``module_corr``);
  ``b_k`` ones on ``n_shared_modules`` whole modules common to all tasks plus
  ``n_specific_rois`` regions of its own; ``c_k`` solved so that
  ``corr(s_k, Y_k b_k) = correlations[k]`` exactly in the population of E.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .._validation import EPS, check_positive_int
from ..networks import ld_graph
from .genotypes import simulate_genotypes

__all__ = ["genotype_cca_data"]


def _module_adjacency(q: int, module_size: int) -> sp.csr_matrix:
    labels = np.arange(q) // module_size
    A = (labels[:, None] == labels[None, :]).astype(float)
    np.fill_diagonal(A, 0.0)
    return sp.csr_matrix(A)


def genotype_cca_data(
    n_samples: int,
    n_snps: int,
    n_rois: int,
    correlations: Sequence[float] = (0.8, 0.5, 0.2),
    random_state: Any = None,
    *,
    method: str = "auto",
    n_chromosomes: int = 2,
    window: int = 6,
    n_shared_windows: int = 3,
    n_specific_windows: int = 1,
    module_size: int = 10,
    module_corr: float = 0.3,
    n_shared_modules: int = 2,
    n_specific_rois: int = 3,
    ld_r2_threshold: float = 0.2,
):
    """Simulate genotypes with LD and K imaging modalities with given canonical correlations.

    Parameters
    ----------
    n_samples, n_snps, n_rois : int
        n, p and q (the same regions in every modality).
    correlations : sequence of K floats in (0, 1)
        Canonical correlation of task k, exact given the genotype panel.
    random_state : int, RandomState or None
    method : {"auto", "coalescent", "blocks"}
        Genotype generator (see :func:`simulate_genotypes`).
    window : int
        Causal SNPs come in windows of this many adjacent SNPs (in LD).

    Returns
    -------
    X : ndarray of shape (n_samples, n_snps)
        0/1/2 dosages.
    Ys : list of K ndarrays of shape (n_samples, n_rois)
    truth : dict
        ``u`` (p, K) true SNP weights, ``v`` list of K (q,) generative region
        loadings ``b_k``, ``v_canonical`` the population canonical region weights,
        ``x_support`` (p, K) bool, ``y_support`` list of (q,) bool, ``snps`` the
        ``.bim``-like table (chrom, snp, pos, ...), ``x_adjacency`` the LD graph
        (r² >= ``ld_r2_threshold`` within 500 kb), ``y_adjacency`` list of the module
        graphs, ``correlations`` (K,), ``scores`` (n, K) latent genetic scores.
    """
    n = check_positive_int(n_samples, "n_samples", minimum=4)
    p = check_positive_int(n_snps, "n_snps")
    q = check_positive_int(n_rois, "n_rois")
    rho = np.asarray(correlations, dtype=float)
    if rho.ndim != 1 or rho.size == 0 or np.any(rho <= 0) or np.any(rho >= 1):
        raise ValueError(f"correlations must be a non-empty list of values in (0, 1), got {correlations!r}")
    K = rho.size
    n_windows = n_shared_windows + K * n_specific_windows
    if n_windows * window * 2 > p:
        raise ValueError(
            f"n_snps: {p} SNPs are too few for {n_windows} causal windows of {window} SNPs "
            f"spaced apart; use at least {n_windows * window * 2} SNPs or smaller windows"
        )
    n_modules = q // module_size
    if n_modules < n_shared_modules + 1 or q < n_shared_modules * module_size + K * n_specific_rois:
        raise ValueError(
            f"n_rois: {q} regions are too few for {n_shared_modules} shared modules of {module_size} "
            f"plus {n_specific_rois} specific regions per task"
        )
    if not 0 <= module_corr < 1:
        raise ValueError(f"module_corr must be in [0, 1), got {module_corr}")
    rng = check_random_state(random_state)
    G, snps = simulate_genotypes(n, p, method=method, n_chromosomes=n_chromosomes, random_state=rng)
    X = G.to_numpy()

    # Causal windows: non-overlapping, spread along the panel.
    slots = rng.choice(p // (2 * window), size=n_windows, replace=False) * 2 * window
    starts = np.sort(slots)
    rng.shuffle(starts)
    u = np.zeros((p, K))
    shared, specific = starts[:n_shared_windows], starts[n_shared_windows:].reshape(K, n_specific_windows)
    for k in range(K):
        for s in (*shared, *specific[k]):
            u[s:s + window, k] = rng.choice([-1.0, 1.0])  # a window acts in one direction

    mean, sd = X.mean(axis=0), X.std(axis=0)
    Xstd = (X - mean) / np.maximum(sd, EPS)
    scores = Xstd @ u
    scores = (scores - scores.mean(axis=0)) / np.maximum(scores.std(axis=0), EPS)

    # Imaging side: modules with equicorrelated noise.
    labels = np.arange(q) // module_size
    labels[labels >= n_modules] = n_modules - 1
    module_order = rng.permutation(n_modules)
    shared_rois = np.flatnonzero(np.isin(labels, module_order[:n_shared_modules]))
    free = np.setdiff1d(np.arange(q), shared_rois)
    Sigma = np.where(labels[:, None] == labels[None, :], module_corr, 0.0)
    np.fill_diagonal(Sigma, 1.0)
    chol = np.linalg.cholesky(Sigma)
    Ys, vs, v_canonical, y_support = [], [], [], []
    for k in range(K):
        own = rng.choice(free, size=n_specific_rois, replace=False)
        b = np.zeros(q)
        b[shared_rois] = 1.0
        b[own] = 1.0
        # The best imaging weight is v ∝ Σ⁻¹b, with corr² = c²β / (c²β + 1), β = b'Σ⁻¹b;
        # solving for the requested correlation gives c.
        v_canon = np.linalg.solve(Sigma, b)
        beta = float(b @ v_canon)
        c = rho[k] / np.sqrt(beta * (1.0 - rho[k] ** 2))
        E = rng.standard_normal((n, q)) @ chol.T
        Ys.append(c * np.outer(scores[:, k], b) + E)
        vs.append(b)
        v_canonical.append(v_canon / np.linalg.norm(v_canon))
        y_support.append(b != 0)

    A_x = ld_graph(X, positions=snps, window=500_000, r2_threshold=ld_r2_threshold)
    A_y = _module_adjacency(q, module_size)
    truth = {
        "u": u,
        "v": vs,
        "v_canonical": v_canonical,
        "x_support": u != 0,
        "y_support": y_support,
        "snps": snps,
        "x_adjacency": A_x,
        "y_adjacency": [A_y.copy() for _ in range(K)],
        "correlations": rho,
        "scores": scores,
    }
    return X, Ys, truth
