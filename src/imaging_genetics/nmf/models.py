"""The three named joint NMF models: thin configurations of one update core.

=============  ==========================  ================  =======================
model          cross term  -lambda Tr(.)   Laplacian beta    gamma1 ||W||², gamma2 L1²
=============  ==========================  ================  =======================
JNMF           no                          no                no
JSNMNMF        yes                         no                yes
JCBSNMF        yes                         yes               yes
=============  ==========================  ================  =======================
"""

from __future__ import annotations

from ._base import JointNMFBase

__all__ = ["JNMF", "JSNMNMF", "JCBSNMF"]

_COMMON_PARAMS = """
    n_restarts : int, default=5
        Random restarts; the one with the smallest final objective F is kept
        (the JCB-SNMF paper used 100). Restarts are split into batches of up to
        8 (at least two batches when there are two or more restarts); the
        restarts of a batch are stacked and computed together (one matrix
        product per term and step).
    max_iter : int, default=500
        Maximum number of Gauss-Seidel sweeps (W, H_1, ..., H_M) per restart.
    tol : float, default=1e-6
        Stop when the relative decrease of F over 10 sweeps,
        ``(F_prev - F) / |F_0|``, is below ``tol``.
    init : {"random", "nndsvda", "custom"}, default="random"
        "random": uniform entries scaled to the data mean; "nndsvda": nonnegative
        double SVD of ``[X_1 ... X_M]`` with zeros set to ``0.1 sqrt(mean(X) / k)``
        (multiplicative updates never move a zero; later restarts are
        multiplicatively perturbed copies); "custom": pass ``init_basis`` and
        ``init_coefficients`` to ``fit`` (used only with this setting).
    random_state : int, RandomState or None
        Seeds every restart; results are bit-reproducible for a fixed value and
        identical whatever ``n_jobs``.
    n_jobs : int or None, default=None
        Batches of restarts run in parallel through joblib (None means 1). BLAS
        runs single-threaded inside the iterations (its threads gain little on
        these skinny products and slow down badly on shared cores), so use
        ``n_jobs`` to occupy several cores.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the iterations. "float32" holds the data, priors and
        factors in single precision (half the memory per stacked restart; about
        1.3x faster at the JCB-SNMF paper's size on 2 cores) and returns float32
        factors; the objective, and so every convergence decision and the choice
        of the best restart, is still computed in float64. ``benchmarks/run.py``
        measures the agreement with float64 at that size (its "float32 path"
        row: final objective within 1e-6 relative and the same co-modules after
        500 sweeps from the same start).
"""

_ATTRIBUTES = """
    Attributes
    ----------
    basis_ : ndarray of shape (n_samples, n_components)
        W, shared by all modalities.
    coefficients_ : list of M ndarrays of shape (n_components, p_I)
        H_I; row i holds module i's weights on modality I's features.
    objective_ : ndarray
        Objective F of the best restart at iteration 0, every 10 iterations and at
        the last iteration (when it is not a multiple of 10).
    n_iter_ : int
        Sweeps run by the best restart.
    reconstruction_err_ : float
        sqrt(sum_I ||X_I - W H_I||_F^2) (Frobenius norm of the concatenated residual,
        as in scikit-learn's NMF).
    restart_objectives_ : ndarray of shape (n_restarts,)
        Final F of every restart (inf for a restart that diverged).
    restart_seeds_ : ndarray of shape (n_restarts,)
        Seed of each restart's initialisation.
    best_restart_ : int
    converged_ : bool
    objective_terms_ : dict
        Final value of each term of F: fit, cross, smoothness, basis, sparsity.
    n_features_ : list of int
        p_I per modality.
    feature_names_in_ : list of M (ndarray of str (p_I,) or None)
        Column labels of each labelled X_I (absent when no X_I was labelled).
        ``reconstruction_correlation`` and ``reconstruction_errors`` refuse labelled
        tables whose columns differ from these, or come in another order.
"""


class JNMF(JointNMFBase):
    __doc__ = (
        """Joint NMF (Zhang et al., NAR 2012): ``X_I ~ W H_I`` with a shared basis W.

    Minimises ``sum_I ||X_I - W H_I||_F^2`` over W >= 0, H_I >= 0 (the JCB-SNMF
    paper's eq. 2, with its typo ``||H_I - W H_I||`` corrected to
    ``||X_I - W H_I||``). This is Lee-Seung Frobenius NMF of the column
    concatenation ``[X_1 ... X_M]``; the updates are those of spec joint_nmf.md
    §2.2 with every penalty at zero.

    Parameters
    ----------
    n_components : int, default=10
        K, the number of modules (rank); at most min(n_samples, p_I) for every I.
    """
        + _COMMON_PARAMS
        + _ATTRIBUTES
        + """
    Notes
    -----
    From the same starting W and H this reproduces scikit-learn's
    ``NMF(solver="mu", beta_loss="frobenius", init="custom")`` on ``np.hstack(Xs)``
    to rounding error: both update W then H every iteration with the same
    ratios. scikit-learn replaces denominators that are exactly zero by float32
    eps, while here float64 eps is added to every denominator; for positive data
    the two differ only below the rounding of the denominators.

    Examples
    --------
    >>> from imaging_genetics.nmf import JNMF
    >>> from imaging_genetics.simulate import joint_nmf_data
    >>> Xs, truth = joint_nmf_data(60, n_features=(40, 30), n_components=3, random_state=0)
    >>> model = JNMF(n_components=3, random_state=0).fit(Xs)
    >>> model.basis_.shape, [H.shape for H in model.coefficients_]
    ((60, 3), [(3, 40), (3, 30)])
    """
    )

    def __init__(
        self,
        n_components=10,
        *,
        n_restarts=5,
        max_iter=500,
        tol=1e-6,
        init="random",
        random_state=None,
        n_jobs=None,
        dtype="float64",
    ):
        self.n_components = n_components
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.dtype = dtype

    def _penalty_values(self):
        return 0.0, 0.0, 0.0, 0.0


class JSNMNMF(JointNMFBase):
    __doc__ = (
        """Joint sparse network-regularised multiple NMF, as used in the JCB-SNMF paper.

    Minimises (the JCB-SNMF paper's eq. 3, corrected; spec §1.3)::

        sum_I ||X_I - W H_I||_F^2 - sum_{I<J} lambda_IJ Tr(H_I A_IJ H_J^T)
        + gamma1 ||W||_F^2 + gamma2 sum_I ||1^T H_I||_2^2

    Corrections: the paper's eq. 3 writes the sparsity term as a Frobenius norm
    while its updates (eq. 8-9) use the column-L1² (Kim-Park) form; the latter is
    used here. The cross terms enter the H numerators with a factor 1/2. Unlike
    Zhang's SNMNMF code (Jacobi order) the blocks are updated Gauss-Seidel, which
    is provably monotone.

    Parameters
    ----------
    n_components : int, default=10
        K, the number of modules.
    cross_strength : float or dict {(I, J): float}, default=0.01
        lambda_IJ, weight of the cross-modality "must-link" prior A_IJ (scaled to
        unit spectral norm). A dict gives one weight per pair; a pair it leaves
        out gets 0, and a pair without a ``cross_adjacency`` is an error. The objective is bounded below when
        ``sparsity >= 1/2 max_I sum_J lambda_IJ``; a BoundednessWarning is raised
        otherwise.
    basis_penalty : float, default=0.1
        gamma1, ridge weight on W.
    sparsity : float, default=0.01
        gamma2, weight of the column-L1² sparsity of each H_I.
    """
        + _COMMON_PARAMS
        + _ATTRIBUTES
    )

    _uses_cross = True

    def __init__(
        self,
        n_components=10,
        *,
        cross_strength=0.01,
        basis_penalty=0.1,
        sparsity=0.01,
        n_restarts=5,
        max_iter=500,
        tol=1e-6,
        init="random",
        random_state=None,
        n_jobs=None,
        dtype="float64",
    ):
        self.n_components = n_components
        self.cross_strength = cross_strength
        self.basis_penalty = basis_penalty
        self.sparsity = sparsity
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.dtype = dtype

    def _penalty_values(self):
        return self.cross_strength, 0.0, self.basis_penalty, self.sparsity


class JCBSNMF(JointNMFBase):
    __doc__ = (
        """Joint-connectivity-based sparse NMF (JCB-SNMF).

    Minimises (the JCB-SNMF paper's eq. 6, corrected; spec joint_nmf.md §1.2)::

        F = sum_I ||X_I - W H_I||_F^2 - sum_{I<J} lambda_IJ Tr(H_I A_IJ H_J^T)
            + sum_I beta_I Tr(H_I L_I H_I^T) + gamma1 ||W||_F^2
            + gamma2 sum_I ||1^T H_I||_2^2,     L_I = D_I - S_I

    with the multiplicative updates of spec §2.2 (Gauss-Seidel order)::

        H_I <- H_I * (W^T X_I + 1/2 C_I + beta_I H_I S_I)
                   / (W^T W H_I + beta_I H_I D_I + gamma2 E_k H_I + eps)

    Corrections with respect to the paper's eq. 9: the Laplacian is split with the
    adjacency S_I in the numerator and the degrees D_I in the denominator (the
    paper's ``beta H_I L_I`` in the denominator goes negative and breaks
    nonnegativity and monotonicity); cross terms carry 1/2; H_3 uses A_13 and
    gamma2. The paper's eq. 4 penalty needs squares: it equals
    ``1/2 sum_pq s_pq ||h_p - h_q||^2 = Tr(H L H^T)``.

    Parameters
    ----------
    n_components : int, default=10
        K, the number of modules (the paper: 10 for the grid search, 30 final).
    cross_strength : float or dict {(I, J): float}, default=0.01
        lambda (lambda_1..3 in the paper), weight of the cross-modality priors
        A_IJ, each scaled to unit spectral norm.
    smoothness : float or sequence of M floats, default=0.01
        beta_I, weight of the GraphNet (Laplacian) penalty of modality I; its
        graph S_I is scaled to unit spectral norm.
    basis_penalty : float, default=0.1
        gamma1, ridge weight on W.
    sparsity : float, default=0.01
        gamma2, column-L1² sparsity weight on each H_I. Keep
        ``sparsity >= 1/2 max_I sum_J lambda_IJ`` (spec §2.5) or the objective can
        be unbounded below; the paper's own choice (lambda=1e-3, gamma2=1e-4) is.
    """
        + _COMMON_PARAMS
        + _ATTRIBUTES
        + """
    Examples
    --------
    >>> from imaging_genetics.nmf import JCBSNMF
    >>> from imaging_genetics.simulate import joint_nmf_data
    >>> Xs, truth = joint_nmf_data(60, n_features=(40, 30), n_components=3, random_state=0)
    >>> model = JCBSNMF(n_components=3, random_state=0).fit(
    ...     Xs, cross_adjacency=truth["cross_adjacency"], graphs=truth["graphs"])
    >>> len(model.coefficients_)
    2
    """
    )

    _uses_cross = True
    _uses_graphs = True

    def __init__(
        self,
        n_components=10,
        *,
        cross_strength=0.01,
        smoothness=0.01,
        basis_penalty=0.1,
        sparsity=0.01,
        n_restarts=5,
        max_iter=500,
        tol=1e-6,
        init="random",
        random_state=None,
        n_jobs=None,
        dtype="float64",
    ):
        self.n_components = n_components
        self.cross_strength = cross_strength
        self.smoothness = smoothness
        self.basis_penalty = basis_penalty
        self.sparsity = sparsity
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.dtype = dtype

    def _penalty_values(self):
        return self.cross_strength, self.smoothness, self.basis_penalty, self.sparsity
