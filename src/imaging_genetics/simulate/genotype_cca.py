"""Multi-task CCA data driven by simulated genotypes (realistic LD).

:func:`imaging_genetics.simulate.multitask_cca_data` draws the SNP side from a
Gaussian model with AR(1) LD blocks, which makes the population canonical
correlations exact. This module keeps the imaging side of that design but takes
the SNP side from real-looking 0/1/2 genotypes (:func:`simulate_genotypes`: a
coalescent with recombination when msprime is installed), so LD, allele
frequencies and the discreteness of dosages are as in a cohort. The canonical
correlations are then exact *conditionally on the simulated genotype panel*.

Design, per task k (K = len(correlations)):

* SNP weights ``a_k``: +1 or -1 (one sign per window) on causal windows of
  adjacent SNPs (``n_shared_windows`` windows common to all tasks plus
  ``n_specific_windows`` of its own), zero elsewhere.
* Latent genetic score ``s_k = standardise(X_std a_k)`` (unit variance in the panel).
* Imaging ``Y_k = c_k s_k b_k' + E_k``: regions grouped in modules of
  ``module_size`` consecutive regions (the leftover regions join the last module)
  with equicorrelated noise ``E_k ~ N(0, Σ)`` (correlation ``module_corr`` inside a
  module, 0 across); ``b_k`` ones on ``n_shared_modules`` whole modules common to
  all tasks plus ``n_specific_rois`` regions of its own; ``c_k`` solved so that the
  canonical correlation ``corr(s_k, Y_k Σ⁻¹b_k) = correlations[k]`` exactly in the
  population of E.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from .._validation import EPS, check_positive_int, check_real
from ..networks import ld_graph
from ._common import legacy_random_state
from .genotypes import simulate_genotypes

__all__ = ["genotype_cca_data"]


def _module_labels(q: int, module_size: int) -> np.ndarray:
    """Module of each of q regions: consecutive runs of ``module_size``, the
    ``q % module_size`` leftover regions joining the last module."""
    n_modules = q // module_size
    return np.minimum(np.arange(q) // module_size, n_modules - 1)


def _module_adjacency(labels: np.ndarray) -> sp.csr_matrix:
    """Unit-weight edges between distinct regions of the same module."""
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
        n (>= 4), p and q (the same regions in every modality).
    correlations : sequence of K floats in (0, 1)
        Canonical correlation of task k, exact given the genotype panel.
    random_state : None, int, RandomState or Generator
        None (numpy's global random state), an int >= 0 (a seed: the same seed gives
        the same data), or a numpy RandomState or Generator (used as the source of
        randomness and advanced by the draws).
    method : {"auto", "coalescent", "blocks"}
        Genotype generator (see :func:`simulate_genotypes`).
    n_chromosomes : int >= 1
        The SNPs are split evenly over this many chromosomes.
    window : int >= 1
        Causal SNPs come in windows of this many adjacent SNPs (in LD).
    n_shared_windows, n_specific_windows : int >= 0
        Causal windows common to all tasks, and private to each task; not both 0.
    module_size : int >= 1
        Regions form modules of this many consecutive regions; the
        ``n_rois % module_size`` leftover regions join the last module.
    module_corr : float in [0, 1)
        Noise correlation between two regions of the same module.
    n_shared_modules, n_specific_rois : int >= 0
        Whole modules in the support of every task, and regions (outside those
        modules) drawn for each task; not both 0.
    ld_r2_threshold : float in [0, 1]
        r² threshold of the LD graph ``truth["x_adjacency"]``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_snps)
        0/1/2 dosages.
    Ys : list of K ndarrays of shape (n_samples, n_rois)
    truth : dict
        The keys shared with :func:`multitask_cca_data` mean the same there:

        * ``u_canonical`` (p, K): canonical SNP weights given the panel,
          ``(X - X.mean(0)) @ u_canonical == scores`` (unit variance in the panel;
          zero on monomorphic SNPs).
        * ``v_canonical`` (list of K (q,)): population canonical region weights
          ``∝ Σ⁻¹ b_k`` (Σ the noise covariance), scaled to unit Euclidean norm.
        * ``support_x`` (p, K) bool: the causal SNPs of each task (``u != 0``).
        * ``support_y`` (list of K (q,) bool): the regions of each task
          (``b_k != 0``).
        * ``x_adjacency`` (p, p) csr: the LD graph (r² >= ``ld_r2_threshold``
          within 500 kb) of the simulated panel.
        * ``y_adjacency`` (list of K (q, q) csr): unit edges between regions of
          the same module, exactly the pairs with noise correlation ``module_corr``.
        * ``modules`` (q,): the module label of each region.
        * ``correlations`` (K,): the canonical correlations.

        Keys of this function only: ``u`` (p, K) the generative ±1 SNP weights
        ``a_k`` on the standardised genotypes (``scores`` standardises
        ``X_std @ u``; not the canonical weights, unlike ``u`` of
        :func:`multitask_cca_data`), ``v`` (list of K (q,)) the generative 0/1
        region pattern ``b_k`` (``Y_k = c_k scores[:, k] b_k' + E_k``; not the
        canonical weights), ``x_support`` and ``y_support`` (the same as
        ``support_x`` and ``support_y``, the names this function always had),
        ``snps`` the ``.bim``-like table (chrom, snp, pos, ...) and ``scores``
        (n, K) the latent genetic scores.
    """
    n = check_positive_int(n_samples, "n_samples", minimum=4)
    p = check_positive_int(n_snps, "n_snps")
    q = check_positive_int(n_rois, "n_rois")
    rho = np.asarray(correlations, dtype=float)
    if rho.ndim != 1 or rho.size == 0 or not np.all((rho > 0) & (rho < 1)):
        raise ValueError(f"correlations must be a non-empty list of values in (0, 1), got {correlations!r}")
    K = rho.size
    window = check_positive_int(window, "window")
    n_shared_windows = check_positive_int(n_shared_windows, "n_shared_windows", minimum=0)
    n_specific_windows = check_positive_int(n_specific_windows, "n_specific_windows", minimum=0)
    module_size = check_positive_int(module_size, "module_size")
    n_shared_modules = check_positive_int(n_shared_modules, "n_shared_modules", minimum=0)
    n_specific_rois = check_positive_int(n_specific_rois, "n_specific_rois", minimum=0)
    module_corr = check_real(module_corr, "module_corr", 0.0, 1.0, high_open=True)
    ld_r2_threshold = check_real(ld_r2_threshold, "ld_r2_threshold", 0.0, 1.0)
    if n_shared_windows + n_specific_windows == 0:
        raise ValueError("n_shared_windows, n_specific_windows: both are 0, so no SNP carries a task's signal")
    if n_shared_modules + n_specific_rois == 0:
        raise ValueError("n_shared_modules, n_specific_rois: both are 0, so no region carries a task's signal")
    n_windows = n_shared_windows + K * n_specific_windows
    if n_windows * window * 2 > p:
        raise ValueError(
            f"n_snps: {p} SNPs are too few for {n_windows} causal windows of {window} SNPs "
            f"spaced apart; use at least {n_windows * window * 2} SNPs or smaller windows"
        )
    n_modules = q // module_size
    # The last module holds the leftover regions; the specific regions are drawn
    # outside the shared modules, which leave the fewest free when they include it.
    fewest_free = q - n_shared_modules * module_size - (q % module_size if n_shared_modules else 0)
    if (n_modules < n_shared_modules + 1 or q < n_shared_modules * module_size + K * n_specific_rois
            or n_specific_rois > fewest_free):
        raise ValueError(
            f"n_rois: {q} regions are too few for {n_shared_modules} shared modules of {module_size} "
            f"plus {n_specific_rois} specific regions per task"
        )
    rng = legacy_random_state(random_state)
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
    labels = _module_labels(q, module_size)
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

    # Canonical SNP weights on the raw dosages: (X - mean) @ w = scores.
    polymorphic = sd > EPS
    w = np.where(polymorphic[:, None], u / np.where(polymorphic, sd, 1.0)[:, None], 0.0)
    w /= np.maximum(((X - mean) @ w).std(axis=0), EPS)

    A_x = ld_graph(X, positions=snps, window=500_000, r2_threshold=ld_r2_threshold)
    A_y = _module_adjacency(labels)
    support_x = u != 0
    truth = {
        "u": u,
        "v": vs,
        "u_canonical": w,
        "v_canonical": v_canonical,
        "support_x": support_x,
        "support_y": y_support,
        "x_support": support_x,
        "y_support": y_support,
        "modules": labels,
        "snps": snps,
        "x_adjacency": A_x,
        "y_adjacency": [A_y.copy() for _ in range(K)],
        "correlations": rho,
        "scores": scores,
    }
    return X, Ys, truth
