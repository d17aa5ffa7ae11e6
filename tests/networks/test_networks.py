import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

import imaging_genetics.networks as networks
from imaging_genetics.networks import (
    connected_components_groups,
    correlation_graph,
    cross_correlation_graph,
    graph_from_edges,
    knn_graph,
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


def test_ld_graph_takes_positions_by_snp_id():
    """A .bim-like table (or a Series indexed by SNP) is matched to labelled genotype
    columns by SNP ID: another order, or the positions of a larger panel, give the
    same graph; a genotype column without a position is an error."""
    rng = np.random.default_rng(4)
    G = block_genotypes(200, [5, 5, 6], rng)
    snps = [f"rs{j}" for j in range(G.shape[1])]
    Gf = pd.DataFrame(G, columns=snps)
    bim = pd.DataFrame({"chrom": [1] * 8 + [2] * 8, "snp": snps, "pos": np.arange(16) * 1000})
    expected = ld_graph(G, bim[["chrom", "pos"]].to_numpy()[:, 1], window=2500, chromosomes=bim["chrom"].to_numpy())
    for table in (bim, bim.iloc[::-1], pd.concat([bim, pd.DataFrame({"chrom": [3], "snp": ["rs_other"], "pos": [0]})])):
        assert (ld_graph(Gf, table, window=2500) != expected).nnz == 0
    by_index = pd.Series(bim["pos"].to_numpy(), index=snps).iloc[::-1]
    assert (ld_graph(Gf, by_index, window=2500, chromosomes=bim["chrom"].to_numpy()) != expected).nnz == 0
    # read by position, a shuffled table is another layout
    shuffled = bim.sample(frac=1.0, random_state=0)
    assert (ld_graph(Gf, shuffled, window=2500) != expected).nnz == 0
    assert (ld_graph(G, shuffled.reset_index(drop=True), window=2500) != expected).nnz > 0
    with pytest.raises(ValueError, match=r"positions: no entry in its SNP IDs for 1 of the genotype columns, "
                                         r"e\.g\. \['rs0'\]"):
        ld_graph(Gf, bim.iloc[1:], window=2500)
    # unlabelled columns (0..p-1) name no SNP: the table is read by position
    assert (ld_graph(pd.DataFrame(G), bim, window=2500) != expected).nnz == 0


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


# --- knn_graph and cross_correlation_graph -------------------------------------------


def abs_corr(X, Y):
    """Dense |corr| between the columns of X and of Y, 0 for constant columns."""
    p = X.shape[1]
    R = np.corrcoef(X, Y, rowvar=False)[:p, p:]
    return np.abs(np.nan_to_num(R))


def top_k(R, valid_rows, valid_cols, k):
    """Boolean choice: row i's k largest valid entries, ties to the lower column."""
    chosen = np.zeros(R.shape, dtype=bool)
    for i in np.flatnonzero(valid_rows):
        cand = np.flatnonzero(valid_cols)
        order = cand[np.lexsort((cand, -R[i, cand]))]
        chosen[i, order[:k]] = True
    return chosen


def brute_knn(X, k, power, mutual):
    p = X.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        R = abs_corr(X, X)
    ok = np.ptp(X, axis=0) > 0
    Rm = R.copy()
    np.fill_diagonal(Rm, -1.0)
    chosen = top_k(Rm, ok, ok, min(k, p - 1))
    np.fill_diagonal(chosen, False)
    keep = chosen & chosen.T if mutual else chosen | chosen.T
    return np.where(keep, R**power, 0.0)


def brute_cross(X, Y, power, threshold, k):
    with np.errstate(invalid="ignore", divide="ignore"):
        R = abs_corr(X, Y)
    okX, okY = np.ptp(X, axis=0) > 0, np.ptp(Y, axis=0) > 0
    W = np.where(np.outer(okX, okY), R**power, 0.0)
    if k is not None:
        keep = top_k(R, okX, okY, k) | top_k(R.T, okY, okX, k).T
        W = np.where(keep, W, 0.0)
    return np.where(W > threshold, W, 0.0)


def same_csr(A, B):
    return (
        A.shape == B.shape
        and np.array_equal(A.indptr, B.indptr)
        and np.array_equal(A.indices, B.indices)
        and np.array_equal(A.data, B.data)
    )


@pytest.mark.parametrize("k", [1, 2, 5, 11, 50])
@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("mutual", [False, True])
def test_knn_graph_matches_brute_force(k, power, mutual):
    rng = np.random.default_rng(10 + k)
    X = rng.normal(size=(25, 12)) + rng.normal(size=(25, 1))  # some shared signal
    X[:, 6] = -2.0  # constant column
    A = knn_graph(X, n_neighbors=k, power=power, mutual=mutual)
    assert isinstance(A, sp.csr_matrix) and A.shape == (12, 12)
    expected = brute_knn(X, k, power, mutual)
    dense = A.toarray()
    assert np.array_equal(dense > 0, expected > 0)
    assert np.allclose(dense, expected, rtol=0, atol=1e-12)
    assert np.array_equal(dense, dense.T)
    assert np.all(A.diagonal() == 0)
    assert A[6].nnz == 0 and A[:, 6].nnz == 0
    degree = (dense > 0).sum(axis=1)
    kk = min(k, 10)  # 11 non-constant features: at most 10 others
    ok = np.arange(12) != 6
    if mutual:
        assert np.all(degree <= kk)
    else:
        assert np.all(degree[ok] >= kk)


def test_knn_graph_large_k_is_the_full_correlation_graph():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(30, 9))
    full = correlation_graph(X, power=2).toarray()
    for mutual in (False, True):
        A = knn_graph(X, n_neighbors=1000, power=2, mutual=mutual).toarray()  # clipped to 8
        assert np.allclose(A, full, atol=1e-12)
        assert np.count_nonzero(A) == 9 * 8


def test_knn_graph_finds_planted_pairs():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(200, 40))
    pairs = [(0, 20), (5, 33), (10, 11), (39, 2)]
    for i, j in pairs:
        X[:, j] = X[:, i] + 0.2 * rng.normal(size=200)
    A = knn_graph(X, n_neighbors=1, mutual=True)
    for i, j in pairs:
        assert A[i, j] > 0.9 and A[j, i] == A[i, j]
        assert A[i].nnz == 1 and A[j].nnz == 1
    # negative correlations count by their absolute value
    X[:, 20] = -X[:, 20]
    B = knn_graph(X, n_neighbors=1, mutual=True)
    assert B[0, 20] == pytest.approx(A[0, 20], abs=1e-12)


def test_knn_graph_ties_go_to_the_lower_index():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(50, 10))
    X[:, 3] = X[:, 0] + 0.3 * rng.normal(size=50)
    X[:, 7] = X[:, 3]  # exact duplicate: |r(0,3)| == |r(0,7)|
    A = knn_graph(X, n_neighbors=1)
    assert A[0, 3] > 0 and A[0, 7] == 0
    assert A[3, 7] == pytest.approx(1.0)
    A2 = knn_graph(X, n_neighbors=2)
    assert A2[0, 3] > 0 and A2[0, 7] > 0 and A2[0, 3] == A2[0, 7]


@pytest.mark.parametrize("mutual", [False, True])
def test_knn_graph_same_for_any_block_size(monkeypatch, mutual):
    rng = np.random.default_rng(14)
    X = rng.normal(size=(40, 300)) + rng.normal(size=(40, 1))
    X[:, 100] = X[:, 50]  # a tie
    X[:, 7] = 1.0
    ref = knn_graph(X, n_neighbors=4, power=2, mutual=mutual)
    assert ref.nnz > 0
    for block, tile in [(1, 256), (3, 16), (17, 64), (256, 32), (10**6, 256)]:
        monkeypatch.setattr(networks, "_row_block", lambda n, b=block: b)
        monkeypatch.setattr(networks, "_tile", lambda n, t=tile: t)
        assert same_csr(knn_graph(X, n_neighbors=4, power=2, mutual=mutual), ref)


def test_knn_graph_missing_values_are_mean_imputed():
    rng = np.random.default_rng(15)
    X = rng.normal(size=(30, 8))
    X[rng.random(X.shape) < 0.1] = np.nan
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    A = knn_graph(X, n_neighbors=3)
    assert np.isfinite(A.data).all()
    assert np.allclose(A.toarray(), brute_knn(filled, 3, 1.0, False), atol=1e-12)


def test_knn_graph_bad_arguments():
    X = np.random.default_rng(16).normal(size=(10, 5))
    for bad in (0, -1, 2.5, True, "3", None):
        with pytest.raises(ValueError, match="n_neighbors"):
            knn_graph(X, n_neighbors=bad)
    for bad in (0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="power"):
            knn_graph(X, power=bad)
    with pytest.raises(ValueError, match="X: expected a 2-D"):
        knn_graph(X[:, 0])
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError, match="X: contains infinite"):
        knn_graph(Xi)
    with pytest.raises(ValueError, match="X: expected a numeric"):
        knn_graph(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="X: need at least 2 samples"):
        knn_graph(X[:1])
    assert knn_graph(X[:, :1]).shape == (1, 1) and knn_graph(X[:, :1]).nnz == 0
    assert knn_graph(np.array(10.0)[None, None].repeat(3, 0).repeat(4, 1)).nnz == 0  # all constant
    assert knn_graph(X, n_neighbors=3.0).nnz == knn_graph(X, n_neighbors=3).nnz


@pytest.mark.parametrize("power,threshold", [(2.0, 0.0), (1.0, 0.2), (2.0, 0.05), (0.5, 0.6)])
@pytest.mark.parametrize("k", [None, 1, 3, 100])
def test_cross_correlation_graph_matches_brute_force(power, threshold, k):
    rng = np.random.default_rng(17)
    shared = rng.normal(size=(35, 2))
    X = rng.normal(size=(35, 9)) + shared @ rng.normal(size=(2, 9))
    Y = rng.normal(size=(35, 6)) + shared @ rng.normal(size=(2, 6))
    X[:, 2] = 4.0
    Y[:, 5] = 0.0
    A = cross_correlation_graph(X, Y, power=power, threshold=threshold, n_neighbors=k)
    assert isinstance(A, sp.csr_matrix) and A.shape == (9, 6)
    expected = brute_cross(X, Y, power, threshold, k)
    dense = A.toarray()
    assert np.array_equal(dense > 0, expected > 0)
    assert np.allclose(dense, expected, rtol=0, atol=1e-12)
    assert A[2].nnz == 0 and A[:, 5].nnz == 0
    # the definition is symmetric in X and Y
    B = cross_correlation_graph(Y, X, power=power, threshold=threshold, n_neighbors=k)
    assert np.array_equal(B.toarray().T > 0, dense > 0)
    assert np.allclose(B.toarray().T, dense, atol=1e-12)


def test_cross_correlation_graph_top_k_keeps_the_strongest_links():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(150, 20))
    Y = rng.normal(size=(150, 30))
    for i, j in [(0, 29), (4, 0), (19, 13)]:
        Y[:, j] = X[:, i] + 0.3 * rng.normal(size=150)
    A = cross_correlation_graph(X, Y, power=1, n_neighbors=1)
    for i, j in [(0, 29), (4, 0), (19, 13)]:
        assert A[i, j] > 0.8
        assert A[i].argmax() == j and A[:, j].argmax() == i
    # each X row chooses 1, each Y column chooses 1: at most 20 + 30 entries
    assert 30 <= A.nnz <= 50


@pytest.mark.parametrize("k", [None, 2])
def test_cross_correlation_graph_same_for_any_block_size(monkeypatch, k):
    rng = np.random.default_rng(19)
    X = rng.normal(size=(30, 300)) + rng.normal(size=(30, 1))
    Y = rng.normal(size=(30, 40))
    Y[:, 9] = Y[:, 4]  # a tie
    ref = cross_correlation_graph(X, Y, power=2, threshold=0.01, n_neighbors=k)
    assert ref.nnz > 0
    for block in (1, 5, 255, 257, 10**6):
        monkeypatch.setattr(networks, "_row_block", lambda n, b=block: b)
        assert same_csr(cross_correlation_graph(X, Y, power=2, threshold=0.01, n_neighbors=k), ref)


def test_cross_correlation_graph_bad_arguments():
    rng = np.random.default_rng(20)
    X, Y = rng.normal(size=(40, 4)), rng.normal(size=(39, 3))
    with pytest.raises(ValueError, match="X and Y.*X has 40 rows, Y has 39"):
        cross_correlation_graph(X, Y)
    Y = rng.normal(size=(40, 3))
    for bad in (0, 1.5, False):
        with pytest.raises(ValueError, match="n_neighbors"):
            cross_correlation_graph(X, Y, n_neighbors=bad)
    for bad in (-0.1, np.inf, np.nan):
        with pytest.raises(ValueError, match="threshold"):
            cross_correlation_graph(X, Y, threshold=bad)
    with pytest.raises(ValueError, match="power"):
        cross_correlation_graph(X, Y, power=0)
    Yi = Y.copy()
    Yi[3, 1] = -np.inf
    with pytest.raises(ValueError, match="Y: contains infinite"):
        cross_correlation_graph(X, Yi)
    with pytest.raises(ValueError, match="Y: expected a 2-D"):
        cross_correlation_graph(X, Y[:, 0])
    assert cross_correlation_graph(X, Y[:, :0]).shape == (4, 0)
    # a DataFrame works like its values
    frame = pd.DataFrame(X)
    assert same_csr(cross_correlation_graph(frame, Y), cross_correlation_graph(X, Y))


def test_knn_neighbours_do_not_depend_on_rounding_of_the_screening_product(monkeypatch):
    # the blockwise product only screens candidates; perturbing it within its
    # rounding error (here: against the lower index, so exact ties would flip)
    # must not change the graph
    rng = np.random.default_rng(21)
    X = rng.normal(size=(60, 30))
    X[:, 3] = X[:, 0] + 0.3 * rng.normal(size=60)
    X[:, 7] = X[:, 3]
    X[:, 12] = X[:, 3]
    ref = knn_graph(X, n_neighbors=1)
    ref2 = cross_correlation_graph(X[:, :10], X[:, 10:], n_neighbors=1)
    original = networks._abs_corr_rows

    def perturbed(ZA, ZB, start, stop):
        R = original(ZA, ZB, start, stop)
        delta = 2.0 * ZA.shape[0] * np.finfo(float).eps
        return np.maximum(R - delta * (1.0 - np.arange(ZB.shape[1]) / ZB.shape[1]), 0.0)

    monkeypatch.setattr(networks, "_abs_corr_rows", perturbed)
    assert same_csr(knn_graph(X, n_neighbors=1), ref)
    assert ref[0, 3] > 0 and ref[0, 7] == 0 and ref[0, 12] == 0
    assert same_csr(cross_correlation_graph(X[:, :10], X[:, 10:], n_neighbors=1), ref2)


@pytest.mark.parametrize("k", [None, 3])
def test_cross_correlation_graph_threshold_is_strict(k):
    rng = np.random.default_rng(22)
    X, Y = rng.normal(size=(30, 8)), rng.normal(size=(30, 5))
    A = cross_correlation_graph(X, Y, n_neighbors=k)
    t = float(np.sort(A.data)[A.nnz // 2])  # an entry's exact weight
    B = cross_correlation_graph(X, Y, threshold=t, n_neighbors=k)
    expected = A.toarray()
    expected[expected <= t] = 0.0
    assert np.array_equal(B.toarray(), expected)
    assert B.nnz < A.nnz


# --- out-of-core LD graph from a PLINK file set -------------------------------------

from imaging_genetics.io import plink as plink_io  # noqa: E402
from imaging_genetics.io import read_bim, read_plink, write_plink  # noqa: E402
from imaging_genetics.networks import ld_graph_plink  # noqa: E402

LD_WINDOW = 2_500


@pytest.fixture
def ld_plink_set(tmp_path):
    """61 samples x 40 SNPs in LD blocks on chromosomes 2 and 10, .bim rows shuffled
    (so neither chromosome nor position is sorted), missing calls, a constant SNP,
    an all-missing SNP and two SNPs at the same position."""
    rng = np.random.default_rng(30)
    G = block_genotypes(61, [6, 4, 5, 5, 7, 3, 6, 4], rng, flip=0.08)
    G[rng.random(G.shape) < 0.05] = np.nan
    G[:, 9] = 1.0
    G[:, 30] = np.nan
    p = G.shape[1]
    chrom = np.array(["2"] * 22 + ["10"] * 18)
    pos = np.r_[np.cumsum(rng.integers(200, 900, 22)), np.cumsum(rng.integers(200, 900, 18))]
    pos[15] = pos[14]
    perm = rng.permutation(p)
    ids = [f"rs{k}" for k in range(p)]
    bim = pd.DataFrame({"chrom": chrom, "snp": ids, "cm": 0.0, "pos": pos, "a1": "A", "a2": "G"}).iloc[perm]
    frame = pd.DataFrame(G, index=[f"s{i}" for i in range(61)], columns=ids).iloc[:, perm]
    prefix = tmp_path / "ld"
    write_plink(prefix, frame, bim=bim.reset_index(drop=True))
    return prefix


def ld_reference(prefix, snps=None, samples=None, window=LD_WINDOW, r2_threshold=0.2):
    G, bim = read_plink(prefix, snps=snps, samples=samples, return_bim=True)
    return ld_graph(G, positions=bim, window=window, r2_threshold=r2_threshold), bim


def ld_selections(prefix):
    bim = read_bim(prefix)
    rng = np.random.default_rng(31)
    mask = rng.random(len(bim)) < 0.7
    subset = rng.choice(len(bim), 25, replace=False)  # integer positions, file order shuffled
    return {
        "all": None,
        "mask": mask,
        "subset": subset,
        "ids": bim["snp"].iloc[subset[:15]].tolist(),
        "slice": slice(5, 33),
    }


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 1000])
@pytest.mark.parametrize("r2_threshold", [0.0, 0.2])
def test_ld_graph_plink_equals_ld_graph_on_the_whole_matrix(ld_plink_set, chunk_size, r2_threshold):
    for name, snps in ld_selections(ld_plink_set).items():
        ref, bim = ld_reference(ld_plink_set, snps=snps, r2_threshold=r2_threshold)
        A = ld_graph_plink(ld_plink_set, snps=snps, window=LD_WINDOW, r2_threshold=r2_threshold,
                           chunk_size=chunk_size)
        assert same_csr(A, ref), name  # same edges, same bits
        if name == "all":
            chrom, pos = bim["chrom"].to_numpy(), bim["pos"].to_numpy()
            i, j = A.nonzero()
            assert A.nnz > 40 and set(chrom[i]) == {"2", "10"}
            assert np.all(chrom[i] == chrom[j]) and np.all(np.abs(pos[i] - pos[j]) <= LD_WINDOW)
            assert np.isfinite(A.data).all() and (A.data >= max(r2_threshold, 1e-300)).all()
            assert np.all(A.diagonal() == 0) and same_csr(A, A.T.tocsr())
            const = np.flatnonzero(np.isin(bim["snp"], ["rs9", "rs30"]))
            assert A[const].nnz == 0


def test_ld_graph_plink_samples_and_window(ld_plink_set):
    samples = [f"s{i}" for i in range(0, 61, 2)]
    for window, chunk in [(0, 4), (900, 5), (10**9, 6)]:
        ref, _ = ld_reference(ld_plink_set, samples=samples, window=window, r2_threshold=0.1)
        A = ld_graph_plink(ld_plink_set, samples=samples, window=window, r2_threshold=0.1, chunk_size=chunk)
        assert same_csr(A, ref)
    assert ld_graph_plink(ld_plink_set, snps=np.zeros(40, dtype=bool)).shape == (0, 0)


@pytest.mark.parametrize("chunk_size", [1, 3, 7])
def test_ld_graph_plink_holds_one_chunk_plus_the_window_tail(ld_plink_set, monkeypatch, chunk_size):
    reads, held = [], []
    real_read, real_pairs = plink_io.PlinkSet.read, networks._pair_abs_corr

    def recording_read(self, snps=None, *args, **kwargs):
        G = real_read(self, snps, *args, **kwargs)
        reads.append(list(G.columns))
        return G

    real_band = networks._band_abs_corr

    def recording_pairs(ZAt, ZBt, rows, cols):
        held.append(ZAt.shape[0])
        return real_pairs(ZAt, ZBt, rows, cols)

    def recording_band(Zt, *args):
        held.append(Zt.shape[0])
        return real_band(Zt, *args)

    monkeypatch.setattr(plink_io.PlinkSet, "read", recording_read)
    monkeypatch.setattr(networks, "_pair_abs_corr", recording_pairs)
    monkeypatch.setattr(networks, "_band_abs_corr", recording_band)
    A = ld_graph_plink(ld_plink_set, window=LD_WINDOW, r2_threshold=0.0, chunk_size=chunk_size)
    monkeypatch.undo()
    bim = read_bim(ld_plink_set)
    assert same_csr(A, ld_reference(ld_plink_set, r2_threshold=0.0)[0])
    # every SNP read exactly once, never more than a chunk at a time
    assert all(len(r) <= chunk_size for r in reads)
    assert sorted(s for r in reads for s in r) == sorted(bim["snp"])
    # what is held is a chunk plus the SNPs within the window before it
    srt = bim.sort_values(["chrom", "pos"], kind="stable")
    chrom, pos = srt["chrom"].to_numpy(), srt["pos"].to_numpy()
    tail = max(
        int(((chrom[:c0] == chrom[c0]) & (pos[:c0] >= pos[c0] - LD_WINDOW)).sum())
        for c0 in range(0, len(srt), chunk_size)
    )
    assert held and max(held) <= chunk_size + tail
    assert tail < len(bim) // 2  # the bound is a real restriction


def test_ld_graph_is_bit_identical_under_column_permutation():
    rng = np.random.default_rng(32)
    G = block_genotypes(50, [5, 7, 4], rng, flip=0.1)
    G[rng.random(G.shape) < 0.05] = np.nan
    pos = np.arange(16) * 700
    A = ld_graph(G, positions=pos, window=3000, r2_threshold=0.0)
    perm = rng.permutation(16)
    C = ld_graph(G[:, perm], positions=pos[perm], window=3000, r2_threshold=0.0)
    B = A[perm][:, perm].tocsr()
    B.sort_indices()
    assert A.nnz > 0 and same_csr(C, B)


def test_ld_graph_plink_bad_arguments(ld_plink_set):
    for bad in (0, -1, 2.5, True, "3", None):
        with pytest.raises(ValueError, match="chunk_size"):
            ld_graph_plink(ld_plink_set, chunk_size=bad)
    for bad in (-1, float("nan"), float("inf"), "500", True):
        with pytest.raises(ValueError, match="window"):
            ld_graph_plink(ld_plink_set, window=bad)
    for bad in (-0.1, 1.5, float("nan"), None, "0.2"):
        with pytest.raises(ValueError, match="r2_threshold"):
            ld_graph_plink(ld_plink_set, r2_threshold=bad)
    with pytest.raises(ValueError, match="snps"):
        ld_graph_plink(ld_plink_set, snps=np.ones(39, dtype=bool))
    with pytest.raises(ValueError, match="snps"):
        ld_graph_plink(ld_plink_set, snps=["rs1", "nope"])
    with pytest.raises(ValueError, match="samples"):
        ld_graph_plink(ld_plink_set, samples=["nobody"])
    with pytest.raises(FileNotFoundError):
        ld_graph_plink(ld_plink_set.parent / "missing")


def test_band_and_pair_correlations_are_the_same_bits():
    # the dense-candidate path of the LD graph (diagonals of contiguous rows) must give
    # exactly the pair-by-pair values, or the graph would depend on the threshold's path
    rng = np.random.default_rng(5)
    Zt = networks._standardize(rng.normal(size=(37, 40)), axis=1)
    s, t, a, reach = 12, 30, 3, 9
    band = networks._band_abs_corr(Zt, s, t, a, reach)
    jj, ii = np.nonzero(np.ones((t - s, t - a), dtype=bool))
    inside = (ii + a < jj + s) & (jj + s - (ii + a) <= reach)
    jj, ii = jj[inside], ii[inside]
    pairs = networks._pair_abs_corr(Zt, Zt, ii + a, jj + s)
    np.testing.assert_array_equal(band[jj, ii], pairs)
    assert not band[~np.isin(np.arange(band.size), np.ravel_multi_index((jj, ii), band.shape))
                    .reshape(band.shape)].any()


def test_ld_graph_positions_chromosome_spellings_and_perfect_ld():
    G = np.random.default_rng(0).integers(0, 3, (40, 6)).astype(float)
    G[:, 1] = G[:, 0]
    G[:, 3] = 2 - G[:, 2]  # mirrored: r = -1
    A = ld_graph(G, window=5, r2_threshold=1.0).toarray()
    assert A[0, 1] == A[2, 3] == 1.0 and A.sum() == 4  # perfect LD passes r2_threshold=1
    pos = np.arange(6.0)
    same = ld_graph(G, positions=pos, chromosomes=["1"] * 6, r2_threshold=0).toarray()
    for spelling in (["1", "chr1", 1, 1.0, "01", " 1"], ["X", "chrX", 23, 23.0, "x", "X"]):
        np.testing.assert_array_equal(ld_graph(G, positions=pos, chromosomes=spelling, r2_threshold=0).toarray(), same)
    assert list(networks.chromosome_labels(["MT", "chrM", 26, "Y", "XY"])) == ["26", "26", "26", "24", "25"]
    with pytest.raises(ValueError, match="chromosomes: a missing"):
        ld_graph(G, positions=pos, chromosomes=np.array([1, np.nan, 1, 1, 1, 1], dtype=object))
    pos[1] = np.nan
    with pytest.raises(ValueError, match=r"positions: 1 missing or non-finite value\(s\) \(first at SNP 1\)"):
        ld_graph(G, positions=pos)


def test_graph_builders_degenerate_inputs_and_edge_files(tmp_path):
    X = np.random.default_rng(1).normal(size=(10, 5))
    for bad in (X[:1], np.zeros((0, 3))):
        with pytest.raises(ValueError, match="need at least 2 samples"):
            correlation_graph(bad)
    with pytest.raises(ValueError, match="need at least 2 samples"):
        ld_graph(np.zeros((1, 3)))
    assert correlation_graph(np.zeros((5, 0))).shape == (0, 0)
    assert (correlation_graph(sp.csr_matrix(X)) != correlation_graph(X)).nnz == 0
    # node names are read as written, blank endpoints are errors, zero weights are no edges
    (tmp_path / "e.csv").write_text("a,b\n001,002\n002,010\n")
    assert graph_from_edges(tmp_path / "e.csv", ["001", "002", "010"]).nnz == 4
    (tmp_path / "e1.csv").write_text("a,b\n1,2\n2,\n")
    with pytest.raises(ValueError, match=r"1 edge\(s\) without a node name in column 'b'"):
        graph_from_edges(tmp_path / "e1.csv", ["1", "2", "3"])
    zero = pd.DataFrame({"s": ["a", "a"], "t": ["b", "c"], "weight": [0.0, 1.0]})
    assert graph_from_edges(zero, ["a", "b", "c"]).nnz == 2
