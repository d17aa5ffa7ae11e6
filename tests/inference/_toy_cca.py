"""A small CCA estimator following the package's CCA contract, for testing the
evaluation machinery independently of the real models.

Per task k: regularised CCA between standardised X and Y_k,
``max u'C_xy v  s.t.  u'(C_xx + r I + s_x L_x)u = 1``, ``v'(C_yy + r I + s_y L_y)v = 1``,
with ``L`` the Laplacian of the prior network (built from the training data when
none is passed, like the real models).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator


def _inv_sqrt(M):
    w, V = np.linalg.eigh(M)
    return (V / np.sqrt(np.maximum(w, 1e-12))) @ V.T


def _lap(A, p):
    import scipy.sparse as sp

    A = sp.csr_matrix(A, dtype=np.float64).toarray()
    if A.shape != (p, p):
        raise ValueError(f"adjacency: expected ({p}, {p}), got {A.shape}")
    return np.diag(A.sum(axis=1)) - A


class RidgeCCA(BaseEstimator):
    _uses_x_graph = True
    _uses_y_graph = True
    seen = None  # set to a list to record the first column of every training X

    def __init__(self, reg=1.0, smoothness_x=0.0, smoothness_y=0.0, random_state=None):
        self.reg = reg
        self.smoothness_x = smoothness_x
        self.smoothness_y = smoothness_y
        self.random_state = random_state

    def fit(self, X, Ys, *, x_adjacency=None, y_adjacency=None, snp_groups=None):
        from imaging_genetics.networks import correlation_graph

        X = np.asarray(X, dtype=np.float64)
        Ys = [np.asarray(Y, dtype=np.float64) for Y in Ys]
        if RidgeCCA.seen is not None:
            RidgeCCA.seen.append(X[:, 0].copy())
        n, p = X.shape
        self.x_mean_, self.x_sd_ = X.mean(0), X.std(0) + 1e-12
        self.y_means_ = [Y.mean(0) for Y in Ys]
        self.y_sds_ = [Y.std(0) + 1e-12 for Y in Ys]
        Xs = (X - self.x_mean_) / self.x_sd_
        if x_adjacency is None and self.smoothness_x:
            x_adjacency = correlation_graph(X)
        Lx = _lap(x_adjacency, p) if x_adjacency is not None else 0.0
        if y_adjacency is None:
            y_adjacency = [correlation_graph(Y) if self.smoothness_y else None for Y in Ys]
        Cxx = Xs.T @ Xs / n + self.reg * np.eye(p) + self.smoothness_x * Lx
        Wx = _inv_sqrt(Cxx)
        U, V, corrs = [], [], []
        for k, Y in enumerate(Ys):
            q = Y.shape[1]
            Ysd = (Y - self.y_means_[k]) / self.y_sds_[k]
            Ly = _lap(y_adjacency[k], q) if y_adjacency[k] is not None else 0.0
            Wy = _inv_sqrt(Ysd.T @ Ysd / n + self.reg * np.eye(q) + self.smoothness_y * Ly)
            M = Wx @ (Xs.T @ Ysd / n) @ Wy
            a, s, bt = np.linalg.svd(M)
            u, v = Wx @ a[:, 0], Wy @ bt[0]
            i = np.argmax(np.abs(u))
            if u[i] < 0:
                u, v = -u, -v
            U.append(u)
            V.append(v)
            xs, ys = Xs @ u, Ysd @ v
            corrs.append(np.corrcoef(xs, ys)[0, 1])
        self.x_weights_ = np.column_stack(U)
        self.y_weights_ = V
        self.canonical_correlations_ = np.asarray(corrs)
        return self

    def transform(self, X, Ys):
        Xs = (np.asarray(X, dtype=np.float64) - self.x_mean_) / self.x_sd_
        ys = [((np.asarray(Y, dtype=np.float64) - m) / s) @ v
              for Y, m, s, v in zip(Ys, self.y_means_, self.y_sds_, self.y_weights_)]
        return Xs @ self.x_weights_, ys

    def score(self, X, Ys):
        xs, ys = self.transform(X, Ys)
        return float(np.mean([np.corrcoef(xs[:, k], y)[0, 1] for k, y in enumerate(ys)]))


def toy_data(n=60, p=8, qs=(5, 6), rho=(0.8, 0.0), seed=0):
    """Two tasks: X shares one latent with each Y_k; correlation set by rho."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Ys = []
    for k, q in enumerate(qs):
        z = X[:, :3].sum(1) / np.sqrt(3)
        Y = rng.standard_normal((n, q))
        Y[:, :2] += rho[k] * 2.0 * z[:, None]
        Ys.append(Y)
    return X, Ys
