import numpy as np
import pytest

from imaging_genetics.simulate.genotype_cca import genotype_cca_data


def test_shapes_supports_and_reproducibility():
    X, Ys, truth = genotype_cca_data(80, 200, 30, correlations=(0.7, 0.3), random_state=0, method="blocks")
    assert X.shape == (80, 200) and len(Ys) == 2 and Ys[0].shape == (80, 30)
    assert truth["u"].shape == (200, 2) and truth["x_support"].sum(axis=0).min() >= 6
    # shared windows are in both tasks, each task has its own too
    both = truth["x_support"].all(axis=1).sum()
    assert 0 < both < truth["x_support"].any(axis=1).sum()
    assert truth["x_adjacency"].shape == (200, 200)
    X2, Ys2, _ = genotype_cca_data(80, 200, 30, correlations=(0.7, 0.3), random_state=0, method="blocks")
    assert np.array_equal(X, X2) and all(np.array_equal(a, b) for a, b in zip(Ys, Ys2))


def test_canonical_correlations_hold_at_large_n():
    rho = (0.8, 0.5, 0.2)
    X, Ys, truth = genotype_cca_data(20000, 120, 20, correlations=rho, random_state=1, method="blocks",
                                     window=4, n_shared_windows=2, module_size=5, n_shared_modules=1,
                                     n_specific_rois=2)
    for k, r in enumerate(rho):
        s = truth["scores"][:, k]
        yv = Ys[k] @ truth["v_canonical"][k]
        est = np.corrcoef(s, yv)[0, 1]
        assert abs(est - r) < 4 * (1 - r**2) / np.sqrt(20000) + 0.005
        # no other imaging weight does better: the least-squares fit of s on Y_k
        beta, *_ = np.linalg.lstsq(Ys[k], s - s.mean(), rcond=None)
        assert np.corrcoef(s, Ys[k] @ beta)[0, 1] < r + 0.02


def test_bad_arguments():
    with pytest.raises(ValueError, match="correlations"):
        genotype_cca_data(50, 200, 30, correlations=(1.2,))
    with pytest.raises(ValueError, match="n_snps"):
        genotype_cca_data(50, 20, 30)
    with pytest.raises(ValueError, match="n_rois"):
        genotype_cca_data(50, 300, 8)
