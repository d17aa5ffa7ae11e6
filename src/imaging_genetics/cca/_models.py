"""The named models: configurations of penalty terms on the shared solver core.

Each class below is the base loop (:class:`~._base.BaseSparseCCA`) plus the list of
penalty terms on the SNP block (``_x_terms``) and on the imaging block
(``_y_terms``). Reading the two methods of a class tells what makes it different.

Scale of every penalty (spec sparse_cca.md, decision 1): columns are standardised
with training statistics and the loss is divided by n, so a value means the same at
any sample size. The released MATLAB code (``mts2cca.m``) z-scores without dividing
by n and scales weights to ``||X u||^2 = 1``: its Laplacian weights equal ``(n - 1) x``
the values here (``lambda_MATLAB = (n - 1) * smoothness_x``), its norm penalties
``sqrt(n - 1) x`` (``beta_MATLAB = sqrt(n - 1) * sparsity_x``); see ``_base``.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._validation import EPS, check_penalty
from ._base import BaseSparseCCA
from ._core import L1, L21, Fusion, GraphNet, GroupL21, LinearSolver, Ridge
from ._diagonal import diagonal_l1_cca

__all__ = ["MTS2CCA", "MTSCCA", "MTGSCCA", "SCCA", "JCBSCCA", "TCCA"]

_COMMON_DOC = """
    n_components : int, default 1
        Canonical components per task; more than one are extracted by deflation.
    max_iter : int, default 1000
    tol : float, default 1e-5
        Stop when the relative change of both weight blocks and of the objective
        falls below ``tol`` (spec decision 2).
    solver : {"auto", "dense", "cg", "woodbury"}, default "auto"
        Linear systems: dense Cholesky, matrix-free preconditioned conjugate
        gradients (products X'(Xu), sparse Laplacians, warm starts; no p x p
        matrix), or the Woodbury identity through an n x n system when there are
        fewer samples than SNPs (O(n^2 p) per solve; no p x p matrix). "auto" uses
        Cholesky up to 400 unknowns (Woodbury instead for the SNP block when
        n <= p / 4) and conjugate gradients above; between 400 and 2000 it turns
        to the factorisation for the rest of the fit once a solve needs more than
        30 conjugate-gradient iterations (ill-conditioned systems, small penalties).
    init : {"svd", "random"}, default "svd"
        Starting imaging weights: leading singular vectors of X'Y_k (power
        iterations from a vector of ones; deterministic) or Gaussian draws.
    random_state : int, Generator or None
        Seed for ``init="random"``.
    copy : bool, default True
        False standardises a float64 C-ordered ``X`` in place instead of working on
        a standardised copy, which halves the memory of genome-scale fits; the
        caller's array is then overwritten (as scikit-learn's ``copy=False``).

    Attributes
    ----------
    x_weights_ : ndarray (p, K), or (p, 1) for a shared SNP vector
        Canonical SNP weights on the standardised scale (zero for constant
        columns). With ``n_components = C > 1``: (p, K, C).
    y_weights_ : list of K ndarrays (q_k,) (or (q_k, C))
    canonical_correlations_ : ndarray (K,) (or (K, C))
        Training correlations corr(X u_k, Y_k v_k).
    n_iter_ : int
        Iterations of the first component.
    objective_ : ndarray (n_iter_,)
        Penalised objective after every iteration (first component).
    surrogate_trace_ : ndarray (n_iter_, 4)
        Reweighted surrogate of the SNP block before/after its update, then of the
        imaging block before/after (each update never increases its surrogate).
    x_mean_, x_scale_, y_means_, y_scales_ : training standardisation.
    feature_names_in_ : ndarray of str (p,)
        Column labels of X when it was a labelled table (absent otherwise).
    y_feature_names_in_ : list of K (ndarray of str (q_k,) or None)
        Column labels of each labelled Y_k (absent when no Y_k was labelled).
        ``transform``, ``score`` and ``task_correlations`` refuse labelled tables
        whose columns differ from these, or come in another order.
"""


def _common(self, n_components, max_iter, tol, solver, init, random_state, copy):
    self.n_components = n_components
    self.max_iter = max_iter
    self.tol = tol
    self.solver = solver
    self.init = init
    self.random_state = random_state
    self.copy = copy


class MTS2CCA(BaseSparseCCA):
    __doc__ = """Multi-task structured sparse CCA (Kim et al., Med. Image Anal. 2022).

    Model (spec §2.1), for tasks k = 1..K pairing X with modality Y_k::

        min_{U,V}  sum_k ||X u_k - Y_k v_k||^2 / n
                   + beta1 ||U||_{2,1} + lambda1 tr(U' L_u U)
                   + beta2 ||V||_{2,1} + lambda2 sum_k v_k' L_{v,k} v_k
        s.t. var(X u_k) = var(Y_k v_k) = 1.

    The l2,1 norms run over rows (a SNP across tasks, a region across modalities),
    so all modalities must share their q regions. Solved by the alternating
    iteratively reweighted algorithm of §2.2 with r1 = r2 = 0.

    Parameters
    ----------
    sparsity_x : float, default 0.5
        beta1 (MATLAB code: sqrt(n - 1) x this).
    sparsity_y : float, default 0.5
        beta2.
    smoothness_x : float, default 1.0
        lambda1, weight of the SNP network (LD / corr^2 prior) Laplacian (MATLAB
        code: (n - 1) x this).
    smoothness_y : float, default 1.0
        lambda2, weight of the brain network Laplacians.
""" + _COMMON_DOC + """
    Examples
    --------
    >>> from imaging_genetics.simulate.cca import multitask_cca_data
    >>> X, Ys, truth = multitask_cca_data(200, 60, 20, random_state=0)
    >>> model = MTS2CCA().fit(X, Ys)
    >>> model.x_weights_.shape
    (60, 3)
    """

    _equal_q = True
    _uses_x_graph = True
    _uses_y_graph = True
    _penalty_params = ("sparsity_x", "sparsity_y", "smoothness_x", "smoothness_y")

    def __init__(self, sparsity_x=0.5, sparsity_y=0.5, smoothness_x=1.0, smoothness_y=1.0,
                 *, n_components=1, max_iter=1000, tol=1e-5, solver="auto", init="svd",
                 random_state=None, copy=True):
        self.sparsity_x = sparsity_x
        self.sparsity_y = sparsity_y
        self.smoothness_x = smoothness_x
        self.smoothness_y = smoothness_y
        _common(self, n_components, max_iter, tol, solver, init, random_state, copy)

    def _x_terms(self, ctx):
        return [L21(self.sparsity_x), GraphNet(self.smoothness_x, ctx.x_laplacian)]

    def _y_terms(self, ctx, tasks):
        return [L21(self.sparsity_y),
                GraphNet(self.smoothness_y, [ctx.y_laplacians[k] for k in tasks])]


class MTSCCA(BaseSparseCCA):
    __doc__ = """Multi-task sparse CCA (Du et al., IEEE/ACM TCBB 2021): MTS2CCA without networks.

    ``min sum_k ||X u_k - Y_k v_k||^2 / n + beta1 ||U||_{2,1} + beta2 ||V||_{2,1}``
    with unit-variance constraints (spec §3). Modalities must share their q regions.

    Parameters
    ----------
    sparsity_x : float, default 0.5
        beta1 (Du et al.'s codes, unit-norm columns: the same value; mts2cca.m:
        sqrt(n - 1) x this).
    sparsity_y : float, default 0.5
        beta2.
""" + _COMMON_DOC

    _equal_q = True
    _penalty_params = ("sparsity_x", "sparsity_y")

    def __init__(self, sparsity_x=0.5, sparsity_y=0.5, *, n_components=1, max_iter=1000,
                 tol=1e-5, solver="auto", init="svd", random_state=None, copy=True):
        self.sparsity_x = sparsity_x
        self.sparsity_y = sparsity_y
        _common(self, n_components, max_iter, tol, solver, init, random_state, copy)

    def _x_terms(self, ctx):
        return [L21(self.sparsity_x)]

    def _y_terms(self, ctx, tasks):
        return [L21(self.sparsity_y)]


class MTGSCCA(BaseSparseCCA):
    __doc__ = """Multi-task group sparse CCA: MTSCCA plus a group l2,1 penalty on SNP groups.

    ``min sum_k ||X u_k - Y_k v_k||^2 / n + beta1 ||U||_{2,1} + lambda ||U||_{G2,1}
    + beta2 ||V||_{2,1}`` (spec §4), ``||U||_{G2,1} = sum_g ||U_{g,:}||_F``. Groups
    are ``snp_groups`` given to ``fit`` or, by default, the connected components of
    the LD graph of the training X (spec decision 6).

    Parameters
    ----------
    sparsity_x : float, default 0.5
        beta1 (Du et al.'s codes, unit-norm columns: the same value; mts2cca.m:
        sqrt(n - 1) x this).
    sparsity_y : float, default 0.5
        beta2.
    group_sparsity : float, default 0.5
        lambda, weight of the group penalty.
""" + _COMMON_DOC

    _equal_q = True
    _uses_groups = True
    _penalty_params = ("sparsity_x", "sparsity_y", "group_sparsity")

    def __init__(self, sparsity_x=0.5, sparsity_y=0.5, group_sparsity=0.5, *, n_components=1,
                 max_iter=1000, tol=1e-5, solver="auto", init="svd", random_state=None, copy=True):
        self.sparsity_x = sparsity_x
        self.sparsity_y = sparsity_y
        self.group_sparsity = group_sparsity
        _common(self, n_components, max_iter, tol, solver, init, random_state, copy)

    def _x_terms(self, ctx):
        return [L21(self.sparsity_x), GroupL21(self.group_sparsity, ctx.snp_groups)]

    def _y_terms(self, ctx, tasks):
        return [L21(self.sparsity_y)]


class SCCA(BaseSparseCCA):
    __doc__ = """l1-penalised sparse CCA fitted independently for every modality (spec §6).

    For each k: ``min ||X u_k - Y_k v_k||^2 / n + beta1 ||u_k||_1 + beta2 ||v_k||_1``
    with unit-variance constraints; any q_k. With zero penalties and n > p + q it
    is classical CCA.

    It uses the full covariances X'X and Y_k'Y_k. With fewer training samples
    than p + q_k the in-sample correlation can be made near 1, and the l1
    penalties alone must hold the fit back. On simulated data (n = 300, p = 200,
    q = 60; tuned on 150 samples, refitted on 225, tested on 75) the held-out
    correlation was 0.37 against 0.51 for penalised matrix decomposition
    (Witten et al.), which treats the covariances as diagonal; at n = 600,
    p = 500, q = 90 it was 0.54 against 0.55 (means over five data sets,
    ``benchmarks/targets_cca.py``).

    ``covariance="diagonal"`` replaces X'X / n and Y_k'Y_k / n by their diagonals
    (identity on standardised data): the Lagrangian form of Witten et al.'s
    penalised matrix decomposition, ``min 2 - 2 u' C_k v + beta1 ||u||_1 +
    beta2 ||v||_1`` with ``||u|| = ||v|| = 1`` and ``C_k = X'Y_k / n``. Every block
    step is then exact (soft thresholding at ``beta / 2`` of the covariances with
    the other view's variate, then normalisation), the weights have exact
    zeros, and a fit takes tens of iterations. Where n is below p + q_k this
    generalises better than the full covariances; on the data above it gave a
    held-out correlation of 0.60 against 0.55 for penalised matrix decomposition
    in less time (``benchmarks/targets_cca.py``).

    Parameters
    ----------
    sparsity_x : float, default 0.5
        beta1 (on the scale of mts2cca.m: sqrt(n - 1) x this). With
        ``covariance="diagonal"``: a SNP whose covariance with the imaging variate
        ``Y_k v`` (standardised data, ``||v|| = 1``) is at most beta1 / 2 gets a
        zero weight.
    sparsity_y : float, default 0.5
        beta2.
    covariance : {"full", "diagonal"}, default "full"
        Within-view covariances of the model (see above). With "diagonal",
        ``solver`` is not used, ``objective_`` is the diagonal model's objective
        (unit-norm weights) and ``surrogate_trace_`` holds that objective before
        and after each block step; the reported weights are rescaled, as with
        "full", to unit variance of the training variates.
""" + _COMMON_DOC

    _penalty_params = ("sparsity_x", "sparsity_y")

    def __init__(self, sparsity_x=0.5, sparsity_y=0.5, *, covariance="full", n_components=1,
                 max_iter=1000, tol=1e-5, solver="auto", init="svd", random_state=None, copy=True):
        self.sparsity_x = sparsity_x
        self.sparsity_y = sparsity_y
        self.covariance = covariance
        _common(self, n_components, max_iter, tol, solver, init, random_state, copy)

    def _validate_params(self):
        super()._validate_params()
        if not isinstance(self.covariance, str) or self.covariance not in ("full", "diagonal"):
            raise ValueError(f"covariance must be 'full' or 'diagonal', got {self.covariance!r}")

    def _alternate(self, ctx, tasks):
        if self.covariance == "full":
            return super()._alternate(ctx, tasks)
        (k,) = tasks
        X, Y = ctx.X, ctx.Ys[k]
        v0 = self._init_v(X, [Y], tasks, ctx.products)[0] if self.init == "random" else None
        u, v, trace, blocks, it, converged = diagonal_l1_cca(
            X, Y, v0, float(self.sparsity_x), float(self.sparsity_y), max_iter=self.max_iter,
            tol=self.tol, products=ctx.products)
        if not converged:
            warnings.warn(
                f"SCCA did not converge in max_iter={self.max_iter} iterations (tol={self.tol}); "
                "increase max_iter", ConvergenceWarning, stacklevel=4)
        U, V = self._orient(X, [Y], self._scale(X, u)[:, None], [self._scale(Y, v)])
        return U, V, trace, blocks, it

    def _task_sets(self, K):
        return [[k] for k in range(K)]

    def _x_terms(self, ctx):
        return [L1(self.sparsity_x)]

    def _y_terms(self, ctx, tasks):
        return [L1(self.sparsity_y)]


class JCBSCCA(BaseSparseCCA):
    __doc__ = """Joint connectivity-based sparse CCA (Kim et al., IEEE TMI 2020), any K.

    One SNP vector u shared by all modalities, one v_k per modality (spec §5 and
    decision 5)::

        min  sum_k ||X u - Y_k v_k||^2 / n + beta1 ||u||_1 + lambda1 u' L_u u
             + beta2 sum_k ||v_k||_1 + lambda2 sum_k v_k' L_{v,k} v_k
             + tau sum_{k<l} sum_j |v_kj - v_lj|

    Penalty weights, not the released code's cardinalities; the network terms are
    penalties (they shrink differences between connected features). The fusion term
    needs equal q; with ``fusion=0`` the modalities may differ in size.

    Parameters
    ----------
    sparsity_x : float, default 0.5
        beta1 (on the scale of mts2cca.m: sqrt(n - 1) x this).
    sparsity_y : float, default 0.5
        beta2.
    smoothness_x, smoothness_y : float, default 1.0
        lambda1, lambda2.
    fusion : float, default 0.1
        tau, fused-lasso weight between modalities (a norm penalty: sqrt(n - 1) x
        this on the MATLAB scale).
""" + _COMMON_DOC

    _shared_u = True
    _uses_x_graph = True
    _uses_y_graph = True
    _penalty_params = ("sparsity_x", "sparsity_y", "smoothness_x", "smoothness_y", "fusion")

    def __init__(self, sparsity_x=0.5, sparsity_y=0.5, smoothness_x=1.0, smoothness_y=1.0,
                 fusion=0.1, *, n_components=1, max_iter=1000, tol=1e-5, solver="auto",
                 init="svd", random_state=None, copy=True):
        self.sparsity_x = sparsity_x
        self.sparsity_y = sparsity_y
        self.smoothness_x = smoothness_x
        self.smoothness_y = smoothness_y
        self.fusion = fusion
        _common(self, n_components, max_iter, tol, solver, init, random_state, copy)

    def _couples_regions(self):
        return self.fusion > 0

    def _scale_y(self, Ys, Vn):
        # One common factor (mean variance 1): a per-modality rescaling would undo
        # the fusion (v_kj = v_lj) that the penalty has just produced.
        n = Ys[0].shape[0]
        var = np.mean([(Y @ v) @ (Y @ v) / n for Y, v in zip(Ys, Vn)])
        s = np.sqrt(var)
        return [v / s if s > EPS else v * 0.0 for v in Vn]

    def _x_terms(self, ctx):
        return [L1(self.sparsity_x), GraphNet(self.smoothness_x, ctx.x_laplacian)]

    def _y_terms(self, ctx, tasks):
        return [L1(self.sparsity_y),
                GraphNet(self.smoothness_y, [ctx.y_laplacians[k] for k in tasks]),
                Fusion(self.fusion)]


class TCCA(BaseSparseCCA):
    __doc__ = """Tensor CCA (Min, Chi & Zhou, Stat 2019), spec §7 candidate A / decision 3.

    The modalities form a tensor (n, q, K); the imaging weight is rank one,
    ``v o w`` (a region pattern v shared by all modalities, loadings w)::

        min ||X u - sum_k w_k Y_k v||^2 / n + beta1 ||u||^2 + beta2 (||v||^2 + ||w||^2)
        s.t. var(X u) = var(sum_k w_k Y_k v) = 1, ||w|| = 1

    solved by block coordinate descent (u, then v, then w; each a ridge-regularised
    least-squares step). With K = 1 it is two-view ridge-regularised CCA. The
    per-modality weights reported in ``y_weights_`` are ``w_k v``; per-task
    correlations use corr(X u, Y_k w_k v).

    Parameters
    ----------
    sparsity_x : float, default 1.0
        beta1, weight of the ridge (squared l2) regulariser of the SNP side
        (MATLAB-scale: (n - 1) x this). It shrinks but does not sparsify; it
        carries the name every model gives its beta1, so one parameter grid
        serves all six models.
    sparsity_y : float, default 1.0
        beta2, weight of the ridge regulariser of the imaging side (v and w).
    ridge_x, ridge_y : float, optional
        Deprecated earlier names of ``sparsity_x`` and ``sparsity_y``: used when
        given, with a FutureWarning at fit (an error when the new name is also set).
""" + _COMMON_DOC + """
    region_weights_ : ndarray (q,)
        v, scaled so that var(sum_k w_k Y_k v) = 1 on the training data.
    modality_loadings_ : ndarray (K,)
        w, unit norm.
"""

    _shared_u = True
    _equal_q = True
    _penalty_params = ("sparsity_x", "sparsity_y")
    _extrapolates = False  # v_k = w_k v: one region pattern, extrapolated weights would break it

    def __init__(self, sparsity_x=1.0, sparsity_y=1.0, *, n_components=1, max_iter=1000, tol=1e-5,
                 solver="auto", init="svd", random_state=None, copy=True, ridge_x=None, ridge_y=None):
        self.sparsity_x = sparsity_x
        self.sparsity_y = sparsity_y
        # earlier names of sparsity_x / sparsity_y, accepted with a FutureWarning
        self.ridge_x = ridge_x
        self.ridge_y = ridge_y
        _common(self, n_components, max_iter, tol, solver, init, random_state, copy)

    def _validate_params(self):
        super()._validate_params()
        # beta1 and beta2 of this fit: sparsity_x / sparsity_y, or the deprecated
        # ridge_x / ridge_y when given (never both)
        for side, symbol in (("x", "beta1"), ("y", "beta2")):
            new, old = f"sparsity_{side}", f"ridge_{side}"
            value = getattr(self, old)
            if value is not None:
                if getattr(self, new) != 1.0:
                    raise ValueError(f"{old}: give {new} only ({old} is its earlier name)")
                check_penalty(value, old)
                warnings.warn(f"TCCA: {old} is now called {new}, the name every model gives its {symbol}; "
                              f"{old} will be removed", FutureWarning, stacklevel=4)
            setattr(self, f"_beta_{side}", float(getattr(self, new) if value is None else value))

    def _x_alpha(self, n_tasks):
        return 1.0  # one loss term: X u against the combined imaging variate

    def _x_terms(self, ctx):
        return [Ridge(self._beta_x)]

    def _y_terms(self, ctx, tasks):
        return [Ridge(self._beta_y)]

    @staticmethod
    def _rank_one(V):
        """Rank-one factors (v, w) of the stacked per-modality weights [w_k v]."""
        M = np.column_stack(V)
        Us, s, Wt = np.linalg.svd(M, full_matrices=False)
        v, w = Us[:, 0] * s[0], Wt[0]
        if w.sum() < 0:
            v, w = -v, -w
        return v, w

    def _loss_from(self, XU, YV):
        r = XU[:, 0] - sum(YV)
        return float(r @ r) / XU.shape[0]

    def _init_v(self, X, Ys, tasks, products):
        K = len(Ys)
        base = super()._init_v(X, [sum(Ys)], tasks, products)[0]
        return [base / np.sqrt(K) for _ in range(K)]

    def _y_solver(self, ctx, Ys):
        return None

    def _y_step(self, ctx, X, Ys, U, V, yterms, ysolver, XU):
        n = X.shape[0]
        t = XU[:, 0]
        beta = self._beta_y
        v, w = self._rank_one(V)
        # v-step on the combined matrix sum_k w_k Y_k.
        Yt = sum(wk * Y for wk, Y in zip(w, Ys))
        H = Ridge(beta).hessian([v], stacked=False)
        before = self._loss_from(XU, [wk * (Y @ v) for wk, Y in zip(w, Ys)]) + beta * (v @ v)
        v = LinearSolver([Yt], 1.0, method=self.solver).solve(H, Yt.T @ t / n)
        after = self._loss_from(XU, [wk * (Y @ v) for wk, Y in zip(w, Ys)]) + beta * (v @ v)
        # w-step on the n x K matrix [Y_1 v ... Y_K v].
        Z = np.column_stack([Y @ v for Y in Ys])
        w = np.linalg.solve(Z.T @ Z / n + (beta + EPS) * np.eye(len(Ys)), Z.T @ t / n)
        w = w / max(np.linalg.norm(w), EPS)
        if w.sum() < 0:
            w = -w
        comb = sum(wk * (Y @ v) for wk, Y in zip(w, Ys))
        s = np.sqrt(comb @ comb / n)
        v = v / s if s > EPS else v * 0.0
        return [wk * v for wk in w], before, after

    def _y_penalty_value(self, yterms, V):
        v, w = self._rank_one(V)
        return self._beta_y * float(v @ v + w @ w)

    def fit(self, X, Ys, *, x_adjacency=None, y_adjacency=None, snp_groups=None):
        super().fit(X, Ys, x_adjacency=x_adjacency, y_adjacency=y_adjacency,
                    snp_groups=snp_groups)
        V = self.y_weights_ if self.n_components == 1 else [y[:, 0] for y in self.y_weights_]
        v, w = self._rank_one([np.asarray(x) for x in V])
        self.region_weights_ = v
        self.modality_loadings_ = w
        return self
