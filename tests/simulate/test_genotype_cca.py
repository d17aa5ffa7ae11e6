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


SMALL = dict(method="blocks", window=3, n_shared_windows=1, module_size=4, n_shared_modules=1, n_specific_rois=1)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        # an empty signal support: all-NaN imaging (modules) or pure noise claiming a correlation (windows)
        (dict(n_shared_modules=0, n_specific_rois=0), ValueError, "n_shared_modules, n_specific_rois: both are 0"),
        (dict(n_shared_windows=0, n_specific_windows=0), ValueError, "n_shared_windows, n_specific_windows: both are 0"),
        (dict(window=0), ValueError, "window"),
        (dict(module_size=0), ValueError, "module_size"),
        (dict(n_shared_windows=-1), ValueError, "n_shared_windows"),
        (dict(n_specific_windows=1.5), TypeError, "n_specific_windows"),
        (dict(n_specific_rois=-2), ValueError, "n_specific_rois"),
        (dict(correlations=(0.5, float("nan"))), ValueError, "correlations"),
        (dict(module_corr="0.3"), TypeError, "module_corr"),
        (dict(module_corr=float("nan")), ValueError, "module_corr"),
        (dict(ld_r2_threshold=1.5), ValueError, "ld_r2_threshold"),
        (dict(method="hapgen"), ValueError, "method"),
        (dict(n_chromosomes=0), ValueError, "n_chromosomes"),
        # 25 regions in modules of 10: the last module holds 15; shared, it leaves 10 free regions
        (dict(n_rois=25, module_size=10, n_shared_modules=1, n_specific_rois=12, correlations=(0.5,)),
         ValueError, "n_rois"),
    ],
)
def test_bad_arguments_are_named(kwargs, exc, match):
    args = dict(n_samples=40, n_snps=120, n_rois=35, correlations=(0.6, 0.3), random_state=0, method="blocks")
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        genotype_cca_data(**args)


def test_module_adjacency_is_the_noise_covariance_with_leftover_regions():
    # 23 regions in modules of 5: the 3 leftover regions join the last module in the
    # noise covariance, and so in truth["modules"] and the module graph.
    X, Ys, t = genotype_cca_data(3000, 60, 23, correlations=(0.5,), random_state=2, module_corr=0.5,
                                 **dict(SMALL, module_size=5))
    labels = t["modules"]
    assert labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 8
    A = t["y_adjacency"][0].toarray()
    np.testing.assert_array_equal(A != 0, (labels[:, None] == labels[None, :]) & ~np.eye(23, dtype=bool))
    # the noise, the imaging data less its fit on the genetic score: within-module
    # correlations (0.5) are exactly the graph's edges
    s = np.column_stack([np.ones(3000), t["scores"][:, 0]])
    E = Ys[0] - s @ np.linalg.lstsq(s, Ys[0], rcond=None)[0]
    R = np.corrcoef(E, rowvar=False)
    off = ~np.eye(23, dtype=bool)
    np.testing.assert_array_equal((np.abs(R) > 0.25)[off], (A != 0)[off])


def test_truth_keys_shared_with_multitask_cca_data():
    X, Ys, t = genotype_cca_data(60, 60, 12, correlations=(0.6, 0.3), random_state=1, **SMALL)
    assert t["support_x"] is t["x_support"] and t["support_y"] is t["y_support"]
    assert t["support_x"].shape == (60, 2) and np.array_equal(t["support_x"], t["u"] != 0)
    assert [s.tolist() for s in t["support_y"]] == [(v != 0).tolist() for v in t["v"]]
    # the canonical SNP weights give the latent scores from the centred dosages
    W = t["u_canonical"]
    assert W.shape == (60, 2)
    np.testing.assert_allclose((X - X.mean(axis=0)) @ W, t["scores"], atol=1e-10)
    np.testing.assert_array_equal(W != 0, t["support_x"])
    assert [v.shape for v in t["v_canonical"]] == [(12,), (12,)]
