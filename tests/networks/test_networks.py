import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from imaging_genetics.networks import (
    connected_components_groups,
    correlation_graph,
    graph_from_edges,
    laplacian,
    ld_graph,
    normalized_adjacency,
)


def block_genotypes(n, block_sizes, rng, flip=0.03):
    """Genotypes whose SNPs are in strong LD inside blocks and independent across."""
    cols = []
    for size in block_sizes:
        hap1 = rng.random(n) < 0.4
        hap2 = rng.random(n) < 0.4
        for _ in range(size):
            h1 = hap1 ^ (rng.random(n) < flip)
            h2 = hap2 ^ (rng.random(n) < flip)
            cols.append(h1.astype(float) + h2.astype(float))
    return np.column_stack(cols)


def test_correlation_graph_matches_dense_definition():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12))
    X[:, 3] = 5.0  # constant column: no edges, no NaN
    A = correlation_graph(X, power=2)
    R = np.corrcoef(np.delete(X, 3, axis=1), rowvar=False) ** 2
    np.fill_diagonal(R, 0)
    dense = A.toarray()
    assert sp.issparse(A) and A.shape == (12, 12)
    assert np.allclose(np.delete(np.delete(dense, 3, 0), 3, 1), R, atol=1e-12)
    assert np.all(dense[3] == 0) and np.all(dense[:, 3] == 0)
    assert np.array_equal(dense, dense.T)
    assert np.all(np.diag(dense) == 0)


def test_correlation_graph_threshold_drops_weak_edges():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 8))
    A = correlation_graph(X, power=1, threshold=0.2).toarray()
    R = np.abs(np.corrcoef(X, rowvar=False))
    np.fill_diagonal(R, 0)
    assert np.allclose(A, np.where(R > 0.2, R, 0), atol=1e-12)


def test_ld_graph_recovers_block_structure():
    rng = np.random.default_rng(2)
    sizes = [6, 4, 8, 5]
    G = block_genotypes(400, sizes, rng)
    A = ld_graph(G, window=50, r2_threshold=0.3)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    n_comp, comp = connected_components(A, directed=False)
    assert n_comp == len(sizes)
    # each true block is exactly one component
    for b in range(len(sizes)):
        assert len(set(comp[labels == b])) == 1
    assert np.array_equal(A.toarray(), A.toarray().T)
    assert A.diagonal().sum() == 0
    # the weights are the squared correlations
    i, j = A.nonzero()
    r = np.array([np.corrcoef(G[:, a], G[:, b])[0, 1] for a, b in zip(i[:20], j[:20])])
    assert np.allclose(A[i[:20], j[:20]].A1, r**2, atol=1e-10)


def test_ld_graph_respects_window_and_chromosomes():
    rng = np.random.default_rng(3)
    G = block_genotypes(300, [10], rng)
    pos = np.arange(10) * 1000
    A = ld_graph(G, positions=pos, window=2500, r2_threshold=0.0)
    i, j = A.nonzero()
    assert np.all(np.abs(pos[i] - pos[j]) <= 2500)
    assert A.nnz > 0
    chrom = np.array([1] * 5 + [2] * 5)
    B = ld_graph(G, positions=pd.DataFrame({"chrom": chrom, "pos": pos}), window=10**6, r2_threshold=0.0)
    i, j = B.nonzero()
    assert np.all(chrom[i] == chrom[j])
    # shuffled column order gives the same graph up to the permutation
    perm = rng.permutation(10)
    C = ld_graph(G[:, perm], positions=pos[perm], window=2500, r2_threshold=0.0)
    assert np.allclose(C.toarray(), A.toarray()[np.ix_(perm, perm)])


def test_ld_graph_handles_missing_calls():
    rng = np.random.default_rng(4)
    G = block_genotypes(200, [5, 5], rng)
    G[rng.random(G.shape) < 0.05] = np.nan
    A = ld_graph(G, window=20, r2_threshold=0.3)
    assert np.isfinite(A.data).all()
    assert connected_components(A, directed=False)[0] == 2


def test_ld_graph_bad_input():
    G = np.zeros((10, 4))
    with pytest.raises(ValueError, match="positions"):
        ld_graph(G, positions=[1, 2, 3])
    with pytest.raises(ValueError, match="r2_threshold"):
        ld_graph(G, r2_threshold=2)
    with pytest.raises(ValueError, match="chrom"):
        ld_graph(G, positions=pd.DataFrame({"position": [1, 2, 3, 4]}))


def test_graph_from_edges_square_and_cross():
    nodes = ["A", "B", "C", "D"]
    edges = pd.DataFrame({"source": ["A", "B", "A", "X"], "target": ["B", "C", "B", "A"], "weight": [0.5, 2.0, 0.9, 1.0]})
    A = graph_from_edges(edges, nodes).toarray()
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 0.9  # duplicated edge keeps the larger weight
    expected[1, 2] = expected[2, 1] = 2.0
    assert np.array_equal(A, expected)
    cross = graph_from_edges(
        pd.DataFrame({"snp": ["rs1", "rs2", "rs2"], "gene": ["G2", "G1", "G2"]}),
        ["rs1", "rs2"],
        target_nodes=["G1", "G2", "G3"],
    )
    assert cross.shape == (2, 3)
    assert np.array_equal(cross.toarray(), [[0, 1, 0], [1, 1, 0]])


def test_graph_from_edges_reads_a_file(tmp_path):
    path = tmp_path / "ppi.tsv"
    path.write_text("a\tb\tweight\nG1\tG2\t0.7\nG2\tG3\t0.1\n")
    A = graph_from_edges(path, ["G1", "G2", "G3"])
    assert A[0, 1] == pytest.approx(0.7) and A[2, 1] == pytest.approx(0.1)


def test_graph_from_edges_bad_input():
    with pytest.raises(ValueError, match="none of the 1 edges"):
        graph_from_edges(pd.DataFrame({"s": ["x"], "t": ["y"]}), ["A", "B"])
    with pytest.raises(ValueError, match="negative"):
        graph_from_edges(pd.DataFrame({"s": ["A"], "t": ["B"], "weight": [-1.0]}), ["A", "B"])
    with pytest.raises(ValueError, match="no column 'src'"):
        graph_from_edges(pd.DataFrame({"s": ["A"], "t": ["B"]}), ["A", "B"], source="src")
    with pytest.raises(ValueError, match="duplicated node"):
        graph_from_edges(pd.DataFrame({"s": ["A"], "t": ["B"]}), ["A", "A"])


def test_laplacian_properties():
    rng = np.random.default_rng(5)
    A = correlation_graph(rng.normal(size=(30, 10)))
    L = laplacian(A)
    assert sp.issparse(L)
    dense = L.toarray()
    assert np.allclose(dense.sum(axis=1), 0)
    assert np.linalg.eigvalsh(dense).min() > -1e-10
    x = rng.normal(size=10)
    Ad = A.toarray()
    # x'Lx = 1/2 sum_ij A_ij (x_i - x_j)^2: the GraphNet penalty
    assert np.isclose(x @ dense @ x, 0.5 * np.sum(Ad * (x[:, None] - x[None, :]) ** 2))


def test_laplacian_rejects_bad_adjacency():
    with pytest.raises(ValueError, match="square"):
        laplacian(np.ones((3, 4)))
    with pytest.raises(ValueError, match="not symmetric"):
        laplacian(np.array([[0, 1.0], [0, 0]]))
    with pytest.raises(ValueError, match="negative"):
        laplacian(np.array([[0, -1.0], [-1.0, 0]]))


def test_normalized_adjacency_has_unit_spectral_norm():
    rng = np.random.default_rng(6)
    A = correlation_graph(rng.normal(size=(20, 15)))
    N = normalized_adjacency(A)
    assert np.isclose(np.linalg.norm(N.toarray(), 2), 1.0, atol=1e-8)
    C = sp.random(7, 5, density=0.5, random_state=0)
    assert np.isclose(np.linalg.norm(normalized_adjacency(C).toarray(), 2), 1.0, atol=1e-8)
    assert normalized_adjacency(sp.csr_matrix((4, 4))).nnz == 0


def test_connected_components_groups():
    A = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0.0]]))
    g = connected_components_groups(A)
    assert g[0] == g[1] and g[2] == g[3] and g[0] != g[2]
