"""Shared test data for the joint NMF tests."""

import numpy as np
import scipy.sparse as sp


def make_problem(seed=0, n=30, sizes=(20, 35, 25), k=4, noise=0.5, density=0.1, dense=False):
    """Spec §3 test data: X_I = W0 H0_I + noise, W0, H0 ~ U{1..10}, random priors."""
    rng = np.random.RandomState(seed)
    W0 = rng.randint(1, 11, size=(n, k)).astype(float)
    Xs = [np.maximum(W0 @ rng.randint(1, 11, size=(k, p)) + noise * rng.randn(n, p), 0) for p in sizes]
    M = len(sizes)
    cross = {}
    for I in range(M):
        for J in range(I + 1, M):
            A = sp.random(sizes[I], sizes[J], density=density if not dense else 0.6, random_state=rng)
            cross[(I, J)] = A.toarray() if dense else A.tocsr()
    graphs = []
    for p in sizes:
        S = sp.random(p, p, density=density if not dense else 0.8, random_state=rng)
        S = S + S.T
        S.setdiag(0)
        S.eliminate_zeros()
        graphs.append(S.toarray() if dense else S.tocsr())
    return Xs, cross, graphs
