import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from imaging_genetics.networks import ld_graph
from imaging_genetics.simulate.genotypes import coalescent_available, simulate_genotypes

METHODS = ["blocks"] + (["coalescent"] if coalescent_available() else [])


@pytest.mark.parametrize("method", METHODS)
def test_shapes_values_and_seed(method):
    G, snps = simulate_genotypes(120, 300, method=method, n_chromosomes=2, random_state=3)
    assert G.shape == (120, 300)
    assert set(np.unique(G.to_numpy())) <= {0.0, 1.0, 2.0}
    assert list(snps.columns) == ["chrom", "snp", "cm", "pos", "a1", "a2"]
    assert list(snps["snp"]) == list(G.columns)
    assert (snps["a1"] != snps["a2"]).all()
    for _, part in snps.groupby("chrom"):
        assert np.all(np.diff(part["pos"].to_numpy()) > 0)
    G2, _ = simulate_genotypes(120, 300, method=method, n_chromosomes=2, random_state=3)
    assert G.equals(G2)
    G3, _ = simulate_genotypes(120, 300, method=method, n_chromosomes=2, random_state=4)
    assert not G.equals(G3)


@pytest.mark.parametrize("method", METHODS)
def test_ld_decays_with_distance(method):
    G, snps = simulate_genotypes(300, 400, method=method, random_state=0)
    X = G.to_numpy()
    X = X[:, X.std(axis=0) > 0]
    R2 = np.corrcoef(X, rowvar=False) ** 2
    near = np.mean([R2[i, i + 1] for i in range(X.shape[1] - 1)])
    far = np.mean([R2[i, i + 150] for i in range(X.shape[1] - 150)])
    assert near > 3 * far
    # the LD graph has structure: neither empty nor one blob
    A = ld_graph(G, positions=snps, window=10**6, r2_threshold=0.5)
    n_comp = connected_components(A, directed=False)[0]
    assert 1 < n_comp < G.shape[1]


def test_maf_filter_in_blocks_model():
    G, _ = simulate_genotypes(500, 200, method="blocks", maf_min=0.1, random_state=1)
    freq = G.to_numpy().mean(axis=0) / 2
    maf = np.minimum(freq, 1 - freq)
    assert maf.min() >= 0.1


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_chromosomes"):
        simulate_genotypes(10, 3, n_chromosomes=5)
    with pytest.raises(ValueError, match="method"):
        simulate_genotypes(10, 3, method="hapgen")
    with pytest.raises(ValueError, match="maf_min"):
        simulate_genotypes(10, 3, maf_min=0.7)


def test_maf_min_must_be_a_number():
    with pytest.raises(TypeError, match="maf_min"):
        simulate_genotypes(10, 3, maf_min="0.1")
    with pytest.raises(ValueError, match="maf_min"):
        simulate_genotypes(10, 3, maf_min=float("nan"))
