"""The JCB-SNMF paper's simulation design (§4.2), with planted co-modules and priors.

Spec joint_nmf.md §9. The paper draws W and H_I as random integers from U{1..10}
and adds Gaussian noise of level l; where the noise goes is ambiguous, so both
variants are offered (``noise="data"`` is the default, ``noise="factors"`` puts the
noise on the factors and keeps X exactly low-rank). The paper does not simulate
modules or priors; here each component i has a planted co-module (a random subset
of features in every modality whose H entries are raised by ``module_effect``),
and the prior graphs link features of the same module, plus random edges.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .._validation import check_penalty, check_positive_int, check_real
from ._common import legacy_random_state

__all__ = ["joint_nmf_data", "joint_nmf_preset", "PRESETS"]

#: The paper's two simulated sets (K = 10 in both).
PRESETS = {
    "small": {"n_samples": 100, "n_features": (650, 350, 600), "n_components": 10},
    "large": {"n_samples": 300, "n_features": (2000, 2500, 1000), "n_components": 10},
}


def joint_nmf_preset(name: str) -> dict:
    """Keyword arguments of :func:`joint_nmf_data` for the paper's ``"small"`` or
    ``"large"`` set (n=100, p=650/350/600 or n=300, p=2000/2500/1000; K=10)."""
    try:
        return dict(PRESETS[name])
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None


def _random_edges(rng, shape, density, symmetric):
    p, q = shape
    m = int(round(density * p * q))
    if m == 0:
        return np.empty(0, int), np.empty(0, int)
    i = rng.randint(0, p, size=m)
    j = rng.randint(0, q, size=m)
    if symmetric:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def _to_csr(i, j, shape, symmetric):
    if symmetric:
        i, j = np.r_[i, j], np.r_[j, i]
    A = sp.csr_matrix((np.ones(i.size), (i, j)), shape=shape)
    A.data[:] = 1.0  # duplicates -> weight 1
    A.eliminate_zeros()
    return A


def joint_nmf_data(
    n_samples: int = 100,
    n_features: Sequence[int] = (650, 350, 600),
    n_components: int = 10,
    noise_level: float = 10.0,
    random_state=None,
    *,
    module_fraction: float = 0.1,
    module_effect: float = 20.0,
    background: float = 1.0,
    noise: str = "data",
    within_density: float = 0.3,
    cross_density: float = 0.1,
    spurious_density: float = 0.005,
):
    """Simulate M nonnegative modalities ``X_I = W0 H0_I + noise`` with planted co-modules.

    Parameters
    ----------
    n_samples : int >= 2, default=100
        n, rows shared by every modality.
    n_features : sequence of int >= 1, default=(650, 350, 600)
        p_I for each modality, one entry per modality (a single modality is
        ``(p,)``; a bare int is refused). The paper's small set; the large set is
        (2000, 2500, 1000) with n = 300, see :func:`joint_nmf_preset`.
    n_components : int >= 1, default=10
        K, the rank and the number of planted co-modules.
    noise_level : float >= 0, default=10.0
        l, standard deviation of the Gaussian noise (finite).
    random_state : None, int, RandomState or Generator
        None (numpy's global random state), an int >= 0 (a seed: the same seed gives
        the same data), or a numpy RandomState or Generator (used as the source of
        randomness and advanced by the draws).
    module_fraction : float in (0, 1], default=0.1
        Fraction of each modality's features in each module (drawn independently
        per component, so modules may overlap); at least one feature per module.
    module_effect : float >= 0, default=20.0
        Added to H0_I[i, j] for the members j of module i. With 0 (and
        ``background=1``) the design is the paper's, without planted structure.
    background : float >= 0, default=1.0
        Multiplier of the U{1..10} background entries of H0_I. ``background`` and
        ``module_effect`` may not both be 0 (H0_I would be zero: no signal).
    noise : {"data", "factors"}, default="data"
        "data": ``X_I = max(W0 H0_I + l N(0, 1), 0)``. "factors": the paper's other
        reading, ``X_I = max(W0, 0) max(H0_I + l N(0, 1), 0)``, exactly low rank.
    within_density, cross_density : float in [0, 1]
        Probability of an edge between two features of the same module, within a
        modality (graph S_I) and across modalities (A_IJ).
    spurious_density : float in [0, 1], default=0.005
        Density of random edges added to every prior (false positives).

    Returns
    -------
    Xs : list of M ndarrays (n_samples, p_I), nonnegative
    truth : dict
        ``W`` (n, K) and ``H`` (list of (K, p_I)) the generating factors;
        ``modules``: list of K modules, each a list of M sorted index arrays;
        ``membership``: list of M boolean arrays (K, p_I); ``graphs``: list of M
        symmetric CSR adjacencies S_I; ``cross_adjacency``: {(I, J): CSR (p_I, p_J)}
        for I < J; ``signal``: list of noise-free W0 H0_I; ``noise_level``.
    """
    n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
    if (isinstance(n_features, (str, bytes, numbers.Number)) or not hasattr(n_features, "__iter__")
            or (isinstance(n_features, np.ndarray) and n_features.ndim != 1)):
        raise TypeError(
            "n_features must be a sequence with one int per modality, e.g. (650, 350, 600) "
            f"(a single modality: (p,)), got {n_features!r}"
        )
    sizes = [check_positive_int(p, f"n_features[{I}]") for I, p in enumerate(n_features)]
    if not sizes:
        raise ValueError("n_features: needs at least one modality, got an empty sequence")
    k = check_positive_int(n_components, "n_components")
    if noise not in ("data", "factors"):
        raise ValueError(f"noise must be 'data' or 'factors', got {noise!r}")
    noise_level = check_penalty(noise_level, "noise_level")
    module_fraction = check_real(module_fraction, "module_fraction", 0.0, 1.0, low_open=True)
    module_effect = check_penalty(module_effect, "module_effect")
    background = check_penalty(background, "background")
    if background == 0 and module_effect == 0:
        raise ValueError("background, module_effect: both are 0, so H0 is zero and the data carry no signal")
    within_density = check_real(within_density, "within_density", 0.0, 1.0)
    cross_density = check_real(cross_density, "cross_density", 0.0, 1.0)
    spurious_density = check_real(spurious_density, "spurious_density", 0.0, 1.0)
    rng = legacy_random_state(random_state)
    M = len(sizes)
    W0 = rng.randint(1, 11, size=(n_samples, k)).astype(np.float64)
    Hs, membership = [], []
    for p in sizes:
        H = background * rng.randint(1, 11, size=(k, p)).astype(np.float64)
        member = np.zeros((k, p), dtype=bool)
        size = max(1, int(round(module_fraction * p)))
        for i in range(k):
            member[i, rng.choice(p, size=size, replace=False)] = True
        H[member] += module_effect
        Hs.append(H)
        membership.append(member)
    modules = [[np.flatnonzero(membership[I][i]) for I in range(M)] for i in range(k)]

    signal = [W0 @ H for H in Hs]
    if noise == "data":
        Xs = [np.maximum(S + noise_level * rng.standard_normal(S.shape), 0.0) for S in signal]
    else:
        Xs = [W0 @ np.maximum(H + noise_level * rng.standard_normal(H.shape), 0.0) for H in Hs]

    graphs = []
    for I, p in enumerate(sizes):
        rows, cols = [], []
        for i in range(k):
            idx = modules[i][I]
            if idx.size > 1:
                a, b = np.triu_indices(idx.size, 1)
                keep = rng.random_sample(a.size) < within_density
                rows.append(idx[a[keep]])
                cols.append(idx[b[keep]])
        ri, rj = _random_edges(rng, (p, p), spurious_density / 2, symmetric=True)
        rows.append(ri)
        cols.append(rj)
        graphs.append(_to_csr(np.concatenate(rows), np.concatenate(cols), (p, p), symmetric=True))
    cross = {}
    for I in range(M):
        for J in range(I + 1, M):
            rows, cols = [], []
            for i in range(k):
                a, b = modules[i][I], modules[i][J]
                aa, bb = np.meshgrid(a, b, indexing="ij")
                keep = rng.random_sample(aa.shape) < cross_density
                rows.append(aa[keep])
                cols.append(bb[keep])
            ri, rj = _random_edges(rng, (sizes[I], sizes[J]), spurious_density, symmetric=False)
            rows.append(ri)
            cols.append(rj)
            cross[(I, J)] = _to_csr(
                np.concatenate(rows), np.concatenate(cols), (sizes[I], sizes[J]), symmetric=False
            )
    truth = {
        "W": W0,
        "H": Hs,
        "modules": modules,
        "membership": membership,
        "graphs": graphs,
        "cross_adjacency": cross,
        "signal": signal,
        "noise_level": float(noise_level),
    }
    return Xs, truth
