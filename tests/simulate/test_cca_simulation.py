"""multitask_cca_data: population canonical correlations, supports, networks."""

import numpy as np
import pytest
import scipy.sparse as sp

from imaging_genetics.simulate.cca import multitask_cca_data


def _top_canonical_correlation(X, Y):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    n = X.shape[0]
    Lx = np.linalg.cholesky(Xc.T @ Xc / n)
    Ly = np.linalg.cholesky(Yc.T @ Yc / n)
    M = np.linalg.solve(Lx, Xc.T @ Yc / n) @ np.linalg.inv(Ly).T
    return np.linalg.svd(M, compute_uv=False)


def test_population_canonical_correlations_hold_at_large_n():
    rhos = (0.8, 0.5, 0.2)
    n = 40_000
    X, Ys, truth = multitask_cca_data(n, 60, 20, correlations=rhos, random_state=11)
    se = 3.0 / np.sqrt(n)  # sd of a sample correlation is <= 1/sqrt(n)
    for k, rho in enumerate(rhos):
        # The population weights reach the requested correlation ...
        a, b = X @ truth["u"][:, k], Ys[k] @ truth["v"][k]
        assert np.corrcoef(a, b)[0, 1] == pytest.approx(rho, abs=se)
        assert a.var() == pytest.approx(1.0, abs=0.05) and b.var() == pytest.approx(1.0, abs=0.05)
        # ... and it is the canonical correlation: classical CCA on the sample finds
        # it (bias of order (p + q) / n) and nothing else stands out.
        s = _top_canonical_correlation(X, Ys[k])
        assert s[0] == pytest.approx(rho, abs=se + 80 / n)
        assert s[1] < 0.1


def test_reproducible_and_seed_dependent():
    a = multitask_cca_data(50, 60, 20, random_state=3)
    b = multitask_cca_data(50, 60, 20, random_state=3)
    c = multitask_cca_data(50, 60, 20, random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    for ya, yb in zip(a[1], b[1]):
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0], c[0])


def test_shapes_supports_and_networks():
    X, Ys, t = multitask_cca_data(30, 100, 40, correlations=(0.7, 0.4), random_state=0,
                                  ld_block_size=5, n_shared_blocks=3, n_specific_blocks=1,
                                  module_size=10, n_shared_modules=2, n_specific_rois=2)
    assert X.shape == (30, 100) and [Y.shape for Y in Ys] == [(30, 40), (30, 40)]
    assert t["u"].shape == (100, 2) and [v.shape for v in t["v"]] == [(40,), (40,)]
    S = t["support_x"]
    assert S.shape == (100, 2) and S.dtype == bool
    # Shared blocks in both tasks, one specific block each; whole LD blocks.
    assert (S[:, 0] & S[:, 1]).sum() == 15 and S.sum(axis=0).tolist() == [20, 20]
    for blk in np.unique(t["ld_blocks"]):
        members = S[t["ld_blocks"] == blk]
        assert np.all(members == members[0])
    sy = t["support_y"]
    assert (sy[0] & sy[1]).sum() >= 20 and sy[0].sum() == 22
    # Loadings vanish off the support; weights are supported on the union (the
    # other tasks' signals enter the covariance of X).
    assert np.all(t["x_loadings"][~S] == 0)
    assert np.allclose(t["u"][~S.any(axis=1)], 0, atol=1e-12)
    # Networks: symmetric, nonnegative, zero diagonal, no edge across LD blocks.
    A = t["x_adjacency"]
    assert sp.issparse(A) and abs(A - A.T).max() == 0 and A.min() >= 0
    assert np.all(A.diagonal() == 0)
    r, c = A.nonzero()
    assert np.all(t["ld_blocks"][r] == t["ld_blocks"][c])
    for B in t["y_adjacency"]:
        r, c = B.nonzero()
        assert np.all(t["modules"][r] == t["modules"][c]) and B.shape == (40, 40)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(correlations=(0.8, 1.0)), "correlations"),
        (dict(correlations=()), "correlations"),
        (dict(n_snps=20), "n_snps"),
        (dict(ld_rho=1.0), "ld_rho"),
        (dict(n_specific_blocks=-1), "n_specific_blocks"),
        (dict(n_shared_blocks=0, n_specific_blocks=0), "n_shared_blocks"),
        (dict(n_shared_modules=0, n_specific_rois=0), "n_specific_rois"),
    ],
)
def test_bad_arguments(kwargs, match):
    base = dict(n_samples=20, n_snps=100, n_rois=30)
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        multitask_cca_data(**base)


def test_shared_snp_support_design():
    # n_specific_blocks=0: every task's loadings on the same LD blocks
    X, Ys, t = multitask_cca_data(40, 100, 30, correlations=(0.8, 0.5, 0.2), random_state=1,
                                  n_shared_blocks=3, n_specific_blocks=0)
    S = t["support_x"]
    assert S.sum(axis=0).tolist() == [15, 15, 15]
    assert np.all(S == S[:, [0]])


def test_truth_keys_shared_with_genotype_cca_data():
    # the canonical weights under the names genotype_cca_data uses, the old keys kept
    X, Ys, t = multitask_cca_data(30, 60, 20, correlations=(0.7, 0.4), random_state=0)
    assert t["u_canonical"] is t["u"] and t["v_canonical"] is t["v"]
    assert t["u_canonical"].shape == (60, 2) and [v.shape for v in t["v_canonical"]] == [(20,), (20,)]
    assert t["support_x"].shape == (60, 2) and [s.shape for s in t["support_y"]] == [(20,), (20,)]
    assert t["modules"].shape == (20,) and len(t["y_adjacency"]) == 2
