"""Every bad input gives a clear error naming the argument."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from imaging_genetics.cca import JCBSCCA, MTGSCCA, MTS2CCA, MTSCCA, SCCA, TCCA

ALL = [MTS2CCA, MTSCCA, MTGSCCA, SCCA, JCBSCCA, TCCA]
EQUAL_Q = [MTS2CCA, MTSCCA, MTGSCCA, TCCA]


def _data(n=40, p=8, qs=(5, 5), seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 1))
    X = rng.standard_normal((n, p)) + z
    Ys = [rng.standard_normal((n, q)) + z for q in qs]
    return X, Ys


@pytest.mark.parametrize("cls", ALL)
def test_different_number_of_samples(cls):
    X, Ys = _data()
    with pytest.raises(ValueError, match=r"same samples.*X: 39.*Ys\[0\]: 40"):
        cls().fit(X[:-1], Ys)


@pytest.mark.parametrize("cls", ALL)
def test_no_modality(cls):
    X, _ = _data()
    with pytest.raises(ValueError, match=r"Ys: .*K = 0"):
        cls().fit(X, [])


@pytest.mark.parametrize("cls", ALL)
def test_single_matrix_instead_of_list(cls):
    X, Ys = _data()
    with pytest.raises(TypeError, match=r"Ys: .*list"):
        cls().fit(X, Ys[0])


@pytest.mark.parametrize("cls", EQUAL_Q)
def test_unequal_regions_where_the_model_couples_them(cls):
    X, Ys = _data(qs=(5, 6))
    with pytest.raises(ValueError, match=r"Ys: .*same regions.*q = \[5, 6\]"):
        cls().fit(X, Ys)


def test_unequal_regions_allowed_without_coupling():
    X, Ys = _data(qs=(5, 6))
    SCCA().fit(X, Ys)
    JCBSCCA(fusion=0.0).fit(X, Ys)
    with pytest.raises(ValueError, match=r"Ys: .*same regions"):
        JCBSCCA(fusion=0.1).fit(X, Ys)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("where", ["X", "Ys[1]"])
def test_nan_and_inf(cls, bad, where):
    X, Ys = _data()
    if where == "X":
        X[3, 2] = bad
    else:
        Ys[1][0, 4] = bad
    word = "missing" if np.isnan(bad) else "infinite"
    with pytest.raises(ValueError, match=rf"{where.replace('[', '.').replace(']', '.')}: .*{word}"):
        cls().fit(X, Ys)


def test_constant_column_warning_names_the_columns_of_labelled_inputs():
    import pandas as pd

    X, Ys = _data()
    X[:, 1] = 3.0
    Ys[1][:, [0, 3]] = -1.0
    Xf = pd.DataFrame(X, columns=[f"rs{j}" for j in range(X.shape[1])])
    Yf = [pd.DataFrame(Y, columns=[f"m{k}_roi{j}" for j in range(Y.shape[1])]) for k, Y in enumerate(Ys)]
    with pytest.warns(UserWarning, match=r"constant columns.*: X: columns rs1; Ys\[1\]: columns m1_roi0, m1_roi3$"):
        MTS2CCA(max_iter=50).fit(Xf, Yf)
    # unlabelled inputs: positions
    with pytest.warns(UserWarning, match=r": X: columns 1; Ys\[1\]: columns 0, 3$"):
        MTS2CCA(max_iter=50).fit(X, Ys)


@pytest.mark.parametrize("cls", ALL)
def test_constant_columns_warn_and_never_give_nan(cls):
    X, Ys = _data()
    X[:, 1] = 3.0
    for Y in Ys:
        Y[:, 2] = -1.0
    with pytest.warns(UserWarning, match=r"constant columns.*X: columns 1; Ys\[0\]: columns 2;"):
        m = cls().fit(X, Ys)
    assert np.isfinite(m.x_weights_).all()
    assert np.all(m.x_weights_[1] == 0)
    for v in m.y_weights_:
        assert np.isfinite(v).all() and v[2] == 0
    xs, ys = m.transform(X, Ys)
    assert np.isfinite(xs).all() and all(np.isfinite(y).all() for y in ys)


def test_all_constant_matrix_is_an_error():
    X, Ys = _data()
    with pytest.raises(ValueError, match=r"Ys\[1\]: every column is constant"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MTSCCA().fit(X, [Ys[0], np.ones_like(Ys[1])])


@pytest.mark.parametrize("cls", ALL)
def test_negative_penalties(cls):
    X, Ys = _data()
    for name in cls._penalty_params:
        with pytest.raises(ValueError, match=rf"{name} must be >= 0"):
            cls(**{name: -0.1}).fit(X, Ys)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_components=0), "n_components must be >= 1"),
        (dict(max_iter=0), "max_iter must be >= 1"),
        (dict(tol=0.0), "tol must be > 0"),
        (dict(solver="qr"), "solver must be"),
        (dict(init="zeros"), "init must be"),
    ],
)
def test_bad_control_parameters(params, match):
    X, Ys = _data()
    with pytest.raises(ValueError, match=match):
        MTS2CCA(**params).fit(X, Ys)


@pytest.mark.parametrize("cls", [MTS2CCA, JCBSCCA])
def test_adjacency_wrong_shape(cls):
    X, Ys = _data()
    with pytest.raises(ValueError, match=r"x_adjacency: expected shape \(8, 8\), got \(7, 7\)"):
        cls().fit(X, Ys, x_adjacency=np.zeros((7, 7)))
    with pytest.raises(ValueError, match=r"y_adjacency\[1\]: expected shape \(5, 5\)"):
        cls().fit(X, Ys, y_adjacency=[np.zeros((5, 5)), np.zeros((4, 4))])
    with pytest.raises(ValueError, match=r"y_adjacency: expected 2 matrices"):
        cls().fit(X, Ys, y_adjacency=[np.zeros((5, 5))])


@pytest.mark.parametrize("cls", [MTS2CCA, JCBSCCA])
def test_adjacency_not_symmetric_or_negative(cls):
    X, Ys = _data()
    A = np.zeros((8, 8))
    A[0, 1] = 1.0
    with pytest.raises(ValueError, match=r"x_adjacency: .*not symmetric"):
        cls().fit(X, Ys, x_adjacency=A)
    B = -np.ones((5, 5))
    with pytest.raises(ValueError, match=r"y_adjacency: .*negative"):
        cls().fit(X, Ys, y_adjacency=sp.csr_matrix(B))


def test_snp_groups_checks():
    X, Ys = _data()
    with pytest.raises(ValueError, match=r"snp_groups: expected one label per SNP"):
        MTGSCCA().fit(X, Ys, snp_groups=np.arange(5))
    with pytest.raises(ValueError, match=r"snp_groups: MTSCCA has no group penalty"):
        MTSCCA().fit(X, Ys, snp_groups=np.arange(8))


def test_transform_checks_shapes():
    X, Ys = _data()
    m = MTSCCA().fit(X, Ys)
    with pytest.raises(ValueError, match=r"X: has 7 features"):
        m.transform(X[:, :7], Ys)
    with pytest.raises(ValueError, match=r"Ys: the model was fitted with K = 2"):
        m.transform(X, Ys[:1])
    with pytest.raises(ValueError, match=r"Ys\[1\]: has 4 features"):
        m.transform(X, [Ys[0], Ys[1][:, :4]])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MTSCCA().transform(X, Ys)


@pytest.mark.parametrize("cls", ALL)
def test_labelled_tables_with_other_columns_are_refused_at_transform(cls, tmp_path):
    """Weights are paired with columns by position: a table whose columns come in another
    order (or are others) must not be scored silently with the wrong weights."""
    import pandas as pd

    import imaging_genetics as ig

    X, Ys = _data()
    Xf = pd.DataFrame(X, columns=[f"rs{j}" for j in range(X.shape[1])])
    Yf = [pd.DataFrame(Y, columns=[f"roi{j}" for j in range(Y.shape[1])]) for Y in Ys]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = cls(max_iter=30).fit(Xf, [Yf[0], Ys[1]])  # the second modality unlabelled
    assert list(m.feature_names_in_) == list(Xf.columns)
    assert list(m.y_feature_names_in_[0]) == list(Yf[0].columns) and m.y_feature_names_in_[1] is None
    expected = m.task_correlations(X, Ys)
    np.testing.assert_array_equal(m.task_correlations(Xf, Yf), expected)  # same labels: same numbers
    with pytest.raises(ValueError, match=r"^X columns differ from those seen in fit \(same names in a different "
                                         r"order\); select them as X\[model\.feature_names_in_\]"):
        m.transform(Xf[Xf.columns[::-1]], Yf)
    with pytest.raises(ValueError, match=r"^Ys\[0\] columns differ .*missing \['roi4'\], unexpected \['other'\]"):
        m.score(Xf, [Yf[0].rename(columns={"roi4": "other"}), Yf[1]])
    # reordered back by the names the model kept: the fitted numbers again
    shuffled = Xf[Xf.columns[::-1]]
    np.testing.assert_array_equal(m.task_correlations(shuffled[m.feature_names_in_], Yf), expected)
    # the labels survive saving, and a refit on arrays forgets them
    m.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="X columns differ"):
        ig.load(tmp_path / "m.npz").score(shuffled, Yf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, Ys)
    assert not hasattr(m, "feature_names_in_") and not hasattr(m, "y_feature_names_in_")
    m.score(shuffled, Yf)  # nothing to compare with


def test_labelled_priors_are_taken_by_label():
    """A prior network given as a labelled table links the features it names, whatever
    its order; one that does not name the features is refused instead of read by position."""
    import pandas as pd

    from imaging_genetics.networks import correlation_graph

    X, Ys = _data(p=10, qs=(6, 6))
    xn = [f"rs{j}" for j in range(X.shape[1])]
    yn = [f"roi{j}" for j in range(Ys[0].shape[1])]
    Xf = pd.DataFrame(X, columns=xn)
    Yf = [pd.DataFrame(Y, columns=yn) for Y in Ys]
    Ax = correlation_graph(X).toarray()
    Ay = correlation_graph(Ys[0]).toarray()
    perm = np.random.default_rng(0).permutation(len(xn))
    Ax_f = pd.DataFrame(Ax, index=xn, columns=xn).iloc[perm, perm]
    Ay_f = pd.DataFrame(Ay, index=yn, columns=yn).iloc[::-1, ::-1]  # one table for both modalities
    kw = dict(max_iter=40, tol=1e-9, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MTS2CCA(**kw).fit(X, Ys, x_adjacency=Ax, y_adjacency=Ay)
        b = MTS2CCA(**kw).fit(Xf, Yf, x_adjacency=Ax_f, y_adjacency=Ay_f)
        c = MTS2CCA(**kw).fit(X, Ys, x_adjacency=Ax_f.to_numpy(), y_adjacency=Ay_f.to_numpy())
    np.testing.assert_array_equal(a.x_weights_, b.x_weights_)
    for va, vb in zip(a.y_weights_, b.y_weights_):
        np.testing.assert_array_equal(va, vb)
    assert not np.allclose(a.x_weights_, c.x_weights_)  # by position: another prior
    with pytest.raises(ValueError, match=r"y_adjacency\[1\]: no entry in its row labels for 1 of the features it "
                                         r"links, e\.g\. \['roi2'\]; .* or pass y_adjacency\[1\]\.to_numpy\(\)"):
        MTS2CCA(**kw).fit(Xf, Yf, x_adjacency=Ax_f, y_adjacency=[Ay_f, Ay_f.rename(index={"roi2": "r2"})])
    with pytest.raises(ValueError, match=r"x_adjacency: its row labels \['rs1'\] appear more than once"):
        MTS2CCA(**kw).fit(Xf, Yf, x_adjacency=Ax_f.rename(index={"rs0": "rs1"}))


def test_snp_groups_series_is_taken_by_snp_name():
    import pandas as pd

    X, Ys = _data(p=10, qs=(6, 6))
    xn = [f"rs{j}" for j in range(X.shape[1])]
    Xf = pd.DataFrame(X, columns=xn)
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    by_name = pd.Series(groups, index=xn).iloc[::-1]  # read by position: another partition
    kw = dict(max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MTGSCCA(**kw).fit(X, Ys, snp_groups=groups)
        b = MTGSCCA(**kw).fit(Xf, Ys, snp_groups=by_name)
        c = MTGSCCA(**kw).fit(X, Ys, snp_groups=by_name.to_numpy())  # by position: other groups
    np.testing.assert_array_equal(a.x_weights_, b.x_weights_)
    assert not np.allclose(a.x_weights_, c.x_weights_)
    with pytest.raises(ValueError, match=r"snp_groups: no entry in its index for 1 of the SNPs of X, "
                                         r"e\.g\. \['rs3'\]"):
        MTGSCCA(**kw).fit(Xf, Ys, snp_groups=by_name.rename(index={"rs3": "rs99"}))
