from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from imaging_genetics import load
from imaging_genetics.preprocessing import (
    CovariateResidualizer,
    MeanImputer,
    NonnegativeScaler,
    PositiveNegativeSplit,
    Standardizer,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    n = 60
    X = pd.DataFrame(rng.normal(size=(n, 4)) * [1, 2, 3, 4] + [0, 1, 2, 3],
                     columns=["a", "b", "c", "d"], index=[f"s{i}" for i in range(n)])
    return X


# ------------------------------------------------------------------ MeanImputer
def test_mean_imputer_uses_training_means(data):
    train, test = data.iloc[:40].copy(), data.iloc[40:].copy()
    train.iloc[[0, 3], 1] = np.nan
    test.iloc[:5, :] = np.nan
    imp = MeanImputer().fit(train)
    np.testing.assert_allclose(imp.means_, train.mean().to_numpy())  # pandas skips NaN
    out = imp.transform(test)
    assert isinstance(out, pd.DataFrame) and out.index.equals(test.index)
    np.testing.assert_allclose(out.iloc[:5].to_numpy(), np.tile(imp.means_, (5, 1)))
    np.testing.assert_allclose(out.iloc[5:].to_numpy(), test.iloc[5:].to_numpy())
    assert not np.isnan(imp.transform(train.to_numpy())).any()


def test_mean_imputer_all_missing_column(data, caplog):
    X = data.copy()
    X["c"] = np.nan
    with pytest.raises(ValueError, match=r"MeanImputer: 1 column\(s\).*\['c'\].*all_missing='drop'"):
        MeanImputer().fit(X)
    with caplog.at_level(logging.WARNING, logger="imaging_genetics"):
        imp = MeanImputer(all_missing="drop").fit(X)
    assert "dropping 1 all-missing column(s): ['c']" in caplog.text
    assert imp.get_feature_names_out().tolist() == ["a", "b", "d"]
    assert imp.transform(X).columns.tolist() == ["a", "b", "d"]
    with pytest.raises(ValueError, match="all_missing"):
        MeanImputer(all_missing="zero").fit(X)


# --------------------------------------------------------- CovariateResidualizer
@pytest.fixture
def with_covariates():
    rng = np.random.default_rng(5)
    n = 80
    C = pd.DataFrame({"age": rng.uniform(55, 90, n), "sex": rng.integers(0, 2, n).astype(float)},
                     index=[f"s{i}" for i in range(n)])
    noise = rng.normal(size=(n, 3))
    X = pd.DataFrame(noise + 0.5 * C[["age"]].to_numpy() - 2.0 * C[["sex"]].to_numpy() + 7.0,
                     index=C.index, columns=["r1", "r2", "r3"])
    return X, C, noise


def test_residualizer_removes_covariates(with_covariates):
    X, C, noise = with_covariates
    res = CovariateResidualizer().fit(X, C)
    np.testing.assert_allclose(res.coef_[0], 0.5, atol=0.05)
    np.testing.assert_allclose(res.coef_[1], -2.0, atol=0.5)
    out = res.transform(X, C)
    assert isinstance(out, pd.DataFrame) and out.columns.tolist() == ["r1", "r2", "r3"]
    # Residuals are orthogonal to the design on the training data.
    design = np.column_stack([np.ones(len(C)), C])
    np.testing.assert_allclose(design.T @ out.to_numpy(), 0, atol=1e-8)
    assert res.covariate_names_ == ["age", "sex"]
    np.testing.assert_allclose(res.fit_transform(X, C), out)


def test_residualizer_no_leakage(with_covariates):
    X, C, _ = with_covariates
    tr, te = slice(0, 50), slice(50, 80)
    res = CovariateResidualizer().fit(X.iloc[tr], C.iloc[tr])
    coef = res.coef_.copy()
    out = res.transform(X.iloc[te], C.iloc[te])
    # The test fold uses the training coefficients exactly.
    expected = X.iloc[te].to_numpy() - res.intercept_ - C.iloc[te].to_numpy() @ coef
    np.testing.assert_allclose(out.to_numpy(), expected)
    # Changing the test data does not change the fit.
    res.transform(X.iloc[te] * 100, C.iloc[te])
    np.testing.assert_array_equal(res.coef_, coef)
    # Refitting on the training fold alone gives the same coefficients as within a larger run.
    np.testing.assert_allclose(CovariateResidualizer().fit(X.iloc[tr], C.iloc[tr]).coef_, coef)


def test_residualizer_aligns_covariates_by_index_and_pipeline_mode(with_covariates):
    X, C, _ = with_covariates
    shuffled = C.sample(frac=1.0, random_state=0)
    a = CovariateResidualizer().fit_transform(X, shuffled)
    b = CovariateResidualizer().fit_transform(X, C)
    np.testing.assert_allclose(a, b)
    # covariate_columns: covariates travel inside X (works in a Pipeline).
    joined = X.join(C)
    pipe = make_pipeline(CovariateResidualizer(covariate_columns=["age", "sex"]), Standardizer())
    out = pipe.fit_transform(joined)
    assert out.columns.tolist() == ["r1", "r2", "r3"]
    np.testing.assert_allclose(out, Standardizer().fit_transform(b))
    # A supervised Pipeline passes y as the second argument of fit: it is not taken as covariates.
    from sklearn.linear_model import Ridge

    model = make_pipeline(CovariateResidualizer(covariate_columns=["age", "sex"]), Ridge())
    model.fit(joined, np.arange(len(joined), dtype=float))
    assert model.predict(joined).shape == (len(joined),)
    # 1-D covariate array.
    CovariateResidualizer().fit(X.to_numpy(), C["age"].to_numpy())


def test_residualizer_bad_input(with_covariates):
    X, C, _ = with_covariates
    with pytest.raises(ValueError, match="no covariates"):
        CovariateResidualizer().fit(X)
    with pytest.raises(ValueError, match=r"covariates have 10 rows but X has 80"):
        CovariateResidualizer().fit(X.to_numpy(), C.to_numpy()[:10])
    with pytest.raises(ValueError, match=r"lack the sample ID\(s\)"):
        CovariateResidualizer().fit(X, C.iloc[:10])
    bad = C.copy()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"covariates.*NaN.*age"):
        CovariateResidualizer().fit(X, bad)
    with pytest.raises(ValueError, match=r"covariates: columns \['site'\] are not numeric"):
        CovariateResidualizer().fit(X, C.assign(site="x"))
    Xn = X.copy()
    Xn.iloc[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*r2.*MeanImputer"):
        CovariateResidualizer().fit(Xn, C)
    res = CovariateResidualizer().fit(X, C)
    with pytest.raises(ValueError, match="1 covariate column"):
        res.transform(X.to_numpy(), C[["age"]].to_numpy())
    with pytest.raises(ValueError, match=r"covariate column\(s\) \['bmi'\] not in X"):
        CovariateResidualizer(covariate_columns=["bmi"]).fit(X)


# ----------------------------------------------------------------- Standardizer
def test_standardizer_train_statistics(data):
    train, test = data.iloc[:40], data.iloc[40:]
    st = Standardizer().fit(train)
    z = st.transform(train)
    np.testing.assert_allclose(z.mean().to_numpy(), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(ddof=0).to_numpy(), 1)
    np.testing.assert_allclose(st.transform(test).to_numpy(),
                               (test - train.mean()) / train.std(ddof=0))
    np.testing.assert_allclose(st.inverse_transform(st.transform(test)), test)
    st1 = Standardizer(ddof=1).fit(train)
    np.testing.assert_allclose(st1.scale_, train.std(ddof=1).to_numpy())


def test_standardizer_constant_column_never_nan(data, caplog):
    X = data.copy()
    X["b"] = 3.0
    with caplog.at_level(logging.WARNING, logger="imaging_genetics"), \
            pytest.warns(RuntimeWarning, match=r"constant column\(s\) \['b'\]"):
        st = Standardizer().fit(X)
    out = st.transform(X)
    assert np.isfinite(out.to_numpy()).all()
    np.testing.assert_array_equal(out["b"], 0.0)
    assert st.constant_.tolist() == [False, True, False, False]
    assert "constant column" in caplog.text


def test_standardizer_nan_passthrough(data):
    X = data.copy()
    X.iloc[0, 0] = np.nan
    st = Standardizer().fit(X)
    assert np.isfinite(st.mean_).all()
    assert np.isnan(st.transform(X).iloc[0, 0])


# ------------------------------------------------------------ NonnegativeScaler
def test_nonnegative_scaler_range_and_clipping(data, caplog):
    train, test = data.iloc[:40], data.iloc[40:]
    sc = NonnegativeScaler().fit(train)
    out = sc.transform(train)
    np.testing.assert_allclose(out.min().to_numpy(), 0)
    np.testing.assert_allclose(out.max().to_numpy(), 1)
    with caplog.at_level(logging.INFO, logger="imaging_genetics"):
        out_test = sc.transform(test * 3)
    assert (out_test.to_numpy() >= 0).all() and (out_test.to_numpy() <= 1).all()
    assert "clipped" in caplog.text
    raw = NonnegativeScaler(clip=False).fit(train).transform(test * 3)
    assert (raw.to_numpy() < 0).any() or (raw.to_numpy() > 1).any()
    np.testing.assert_allclose(sc.data_min_, train.min().to_numpy())


def test_nonnegative_scaler_constant_column(data):
    X = data.copy()
    X["a"] = -2.0
    with pytest.warns(RuntimeWarning, match=r"constant column\(s\) \['a'\]"):
        sc = NonnegativeScaler().fit(X)
    out = sc.transform(X)
    np.testing.assert_array_equal(out["a"], 0.0)
    assert np.isfinite(out.to_numpy()).all()


# -------------------------------------------------------------------- all of them
ALL = [MeanImputer(), Standardizer(), NonnegativeScaler()]


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_no_leakage_fitted_state_depends_on_train_only(est, data):
    train, test = data.iloc[:40], data.iloc[40:]
    a = clone(est).fit(train)
    b = clone(est).fit(pd.concat([train, test * 0 + 1e6]).iloc[:40])  # same training rows
    np.testing.assert_allclose(a.transform(test), b.transform(test))
    before = {k: np.copy(v) for k, v in vars(a).items() if k.endswith("_") and isinstance(v, np.ndarray)}
    a.transform(test * 10)
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(a, k), v)
    # A transformer fitted on other data gives a different output (the fit matters).
    c = clone(est).fit(test * 10 + 5)
    if not isinstance(est, MeanImputer):
        assert not np.allclose(a.transform(test), c.transform(test))


@pytest.mark.parametrize("est", ALL + [CovariateResidualizer(covariate_columns=["d"])],
                         ids=lambda e: type(e).__name__)
def test_common_behaviour(est, data, tmp_path):
    est = clone(est)
    out = est.fit_transform(data)
    assert isinstance(out, pd.DataFrame) and out.index.equals(data.index)
    assert list(out.columns) == list(est.get_feature_names_out())
    arr = clone(est).fit(data.to_numpy() if not isinstance(est, CovariateResidualizer) else data)
    # Same columns required at transform.
    with pytest.raises(ValueError, match="columns differ"):
        est.transform(data[data.columns[::-1]])
    with pytest.raises(ValueError, match="infinite"):
        est.transform(data.replace(data.iloc[0, 0], np.inf))
    # Save / load without pickle.
    back = load(est.save(tmp_path / "t"))
    np.testing.assert_allclose(back.transform(data), out)
    assert arr is not None


def test_not_fitted_error(data):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Standardizer().transform(data)


# ------------------------------------------------------------------ PositiveNegativeSplit
def test_positive_negative_split_is_lossless_and_nonnegative(data, tmp_path):
    centred = data - data.mean()
    split = PositiveNegativeSplit().fit(centred)
    Z = split.transform(centred)
    assert Z.shape == (60, 8) and (Z.to_numpy() >= 0).all()
    assert list(Z.columns) == ["a+", "b+", "c+", "d+", "a-", "b-", "c-", "d-"]
    # each value lands in exactly one half, with its magnitude
    pos, neg = Z.to_numpy()[:, :4], Z.to_numpy()[:, 4:]
    assert ((pos > 0) & (neg > 0)).sum() == 0
    np.testing.assert_array_equal(pos - neg, centred.to_numpy())
    pd.testing.assert_frame_equal(split.inverse_transform(Z), centred)
    features, signs = split.source_features([0, 5, 7])
    assert features.tolist() == [0, 1, 3] and signs.tolist() == [1, -1, -1]
    # arrays in, arrays out; persistence and clone round trips
    np.testing.assert_array_equal(PositiveNegativeSplit().fit_transform(centred.to_numpy()), Z.to_numpy())
    split.save(tmp_path / "split.npz")
    pd.testing.assert_frame_equal(load(tmp_path / "split.npz").transform(centred), Z)
    assert clone(split).get_params() == split.get_params()


def test_positive_negative_split_rejects_bad_input(data):
    split = PositiveNegativeSplit().fit(data)
    with pytest.raises(ValueError, match="NaN|missing"):
        PositiveNegativeSplit().fit(data.where(data > 0))
    with pytest.raises(ValueError, match="columns|features"):
        split.transform(data[["a", "b"]])
    with pytest.raises(ValueError, match="expected 2 x 4"):
        split.inverse_transform(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="indices"):
        split.source_features([8])


def test_residualizer_matches_covariates_by_name():
    rng = np.random.default_rng(0)
    cov = pd.DataFrame({"age": rng.normal(50, 10, 30), "sex": rng.integers(0, 2, 30).astype(float)})
    X = pd.DataFrame(rng.normal(size=(30, 2)) + cov[["age"]].to_numpy())
    r = CovariateResidualizer().fit(X, cov)
    # the same covariates in another column order give the same residuals
    pd.testing.assert_frame_equal(r.transform(X, cov), r.transform(X, cov[["sex", "age"]]))
    with pytest.raises(ValueError, match=r"columns \['height', 'sex'\].*fitted with \['age', 'sex'\]"):
        r.transform(X, cov.rename(columns={"age": "height"}))
    # integer column labels can be named as they are
    D = pd.DataFrame(rng.normal(size=(30, 3)))
    D[3] = cov["age"].to_numpy()
    out = CovariateResidualizer(covariate_columns=[3]).fit_transform(D)
    assert list(out.columns) == ["0", "1", "2"]  # output labels are text, as for every transformer
    np.testing.assert_allclose(out.to_numpy(), CovariateResidualizer().fit_transform(D[[0, 1, 2]], D[[3]]).to_numpy())


def test_standardizer_extreme_units_and_ddof():
    X = np.random.default_rng(1).normal(size=(20, 3))
    X[3, 1] = np.nan
    ref = Standardizer().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # squares of 1e160 overflowed before
        big = Standardizer().fit_transform(X * 1e160)
    np.testing.assert_allclose(big, ref, atol=1e-12)
    for bad in (19, -1, 1.5):  # column 1 has 19 observed values
        with pytest.raises(ValueError, match=r"ddof must be an integer in \[0, 18\]"):
            Standardizer(ddof=bad).fit(X)
