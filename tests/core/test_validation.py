import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from imaging_genetics._validation import (
    check_adjacency,
    check_matrices,
    check_matrix,
    check_penalty,
    check_positive_int,
)


def test_check_matrix_names_the_problem():
    df = pd.DataFrame({"roi_a": [1.0, np.nan, 3.0], "roi_b": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"Ys\[0\]: 1 missing .*roi_a.*MeanImputer"):
        check_matrix(df, "Ys[0]")
    assert np.isnan(check_matrix(df, "Y", allow_nan=True)).sum() == 1
    with pytest.raises(ValueError, match="infinite .*roi_b"):
        check_matrix(df.fillna(0).assign(roi_b=[1, np.inf, 2]), "Y")
    with pytest.raises(ValueError, match=r"columns \['site'\] are not numeric"):
        check_matrix(pd.DataFrame({"x": [1.0, 2.0], "site": ["a", "b"]}), "X")
    with pytest.raises(ValueError, match="1-D array"):
        check_matrix(np.ones(4), "X")
    with pytest.raises(ValueError, match="at least 2 samples"):
        check_matrix(np.ones((1, 3)), "X")
    with pytest.raises(ValueError, match="2 negative entries.*NonnegativeScaler"):
        check_matrix(np.array([[1.0, -1], [-2, 0]]), "Xs[1]", nonnegative=True)


def test_check_matrices_requires_same_rows():
    with pytest.raises(ValueError, match=r"Ys\[0\]: 5, Ys\[1\]: 4"):
        check_matrices([np.ones((5, 2)), np.ones((4, 2))], "Ys")
    with pytest.raises(ValueError, match="at least 1"):
        check_matrices([], "Ys")
    with pytest.raises(TypeError, match="list of matrices"):
        check_matrices(np.ones((4, 2)), "Ys")


def test_scalar_parameters():
    assert check_penalty(0, "sparsity_x") == 0.0
    with pytest.raises(ValueError, match="sparsity_x must be >= 0"):
        check_penalty(-0.1, "sparsity_x")
    with pytest.raises(ValueError, match="finite"):
        check_penalty(np.inf, "fusion")
    with pytest.raises(TypeError, match="real number"):
        check_penalty("1", "fusion")
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        check_positive_int(0, "n_components")
    with pytest.raises(TypeError):
        check_positive_int(1.5, "max_iter")


def test_check_adjacency():
    A = check_adjacency(np.array([[0, 1.0], [1.0, 0]]), 2, "x_adjacency")
    assert sp.isspmatrix_csr(A) or sp.issparse(A)
    with pytest.raises(ValueError, match=r"x_adjacency: expected shape \(3, 3\)"):
        check_adjacency(np.eye(2), 3, "x_adjacency")
    with pytest.raises(ValueError, match="not symmetric"):
        check_adjacency(np.array([[0, 1.0], [0, 0]]), 2, "y_adjacency")
    with pytest.raises(ValueError, match="NaN"):
        check_adjacency(np.array([[0, np.nan], [np.nan, 0]]), 2, "g")
    C = check_adjacency(np.ones((2, 3)), 0, "cross", shape=(2, 3))
    assert C.shape == (2, 3)
