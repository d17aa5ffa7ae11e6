"""Small planted multi-task CCA problems for the tests."""

import numpy as np


def planted(n=150, p=30, qs=(12, 12, 12), rhos=(0.9, 0.7, 0.5), seed=0):
    """X and Ys sharing one latent per task, supported on the first features."""
    rng = np.random.default_rng(seed)
    K = len(qs)
    Z = rng.standard_normal((n, K))
    X = rng.standard_normal((n, p))
    Ys = []
    for k, q in enumerate(qs):
        X[:, :4] += rhos[k] * Z[:, [k]]
        Y = rng.standard_normal((n, q))
        Y[:, :3] += rhos[k] * 1.5 * Z[:, [k]]
        Ys.append(Y)
    return X, Ys
