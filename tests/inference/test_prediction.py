import numpy as np
import pytest

from imaging_genetics.inference import predict_outcome

from _toy_cca import RidgeCCA, toy_data


def _data(n=80, seed=0):
    X, Ys = toy_data(n=n, rho=(0.9, 0.0), seed=seed)
    rng = np.random.default_rng(seed + 1)
    y = Ys[0][:, :2].sum(1) + 0.5 * rng.standard_normal(n)  # outcome driven by the signal regions
    return X, Ys, y


@pytest.mark.parametrize("features", ["variates", "selected"])
def test_prediction_recovers_signal(features):
    X, Ys, y = _data()
    res = predict_outcome(RidgeCCA(), X, Ys, y, features=features, n_selected=3, cv=4, random_state=0)
    assert res.r > 0.5 and res.rmse < y.std()
    assert res.predictions.shape == (80,) and not np.isnan(res.predictions).any()
    assert list(res.table.columns) == ["fold", "rmse", "r", "alpha", "n_features", "n_test"]
    s = res.summary()
    assert s.loc[0, "rmse"] == pytest.approx(np.sqrt(np.mean((y - res.predictions) ** 2)))
    assert s.loc[0, "r"] == pytest.approx(np.corrcoef(y, res.predictions)[0, 1])
    assert res.table["n_features"].iloc[0] == (4 if features == "variates" else 3 + 3 + 3)


def test_null_outcome_and_direct_features():
    X, Ys, _ = _data()
    y = np.random.default_rng(5).standard_normal(80)
    res = predict_outcome(RidgeCCA(), X, Ys, y, cv=4, random_state=0)
    assert res.r < 0.35
    direct = predict_outcome(None, Ys[0], None, Ys[0][:, 0] + Ys[0][:, 1], cv=4, random_state=0)
    assert direct.r > 0.9
    again = predict_outcome(RidgeCCA(), X, Ys, y, cv=4, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(again.predictions, res.predictions)


def test_prediction_errors():
    X, Ys, y = _data(n=30)
    with pytest.raises(ValueError, match="outcome"):
        predict_outcome(RidgeCCA(), X, Ys, y[:-1])
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="outcome"):
        predict_outcome(RidgeCCA(), X, Ys, bad)
    with pytest.raises(ValueError, match="features"):
        predict_outcome(RidgeCCA(), X, Ys, y, features="all")


def test_outcome_series_for_other_rows_is_refused():
    """A clinical score given as a Series by subject must follow X's rows; in another
    order it would be paired with other subjects."""
    import pandas as pd

    X, Ys, y = _data(n=30)
    ids = [f"S{i:02d}" for i in range(30)]
    Xf = pd.DataFrame(X, index=ids)
    Yf = [pd.DataFrame(Y, index=ids) for Y in Ys]
    same = predict_outcome(RidgeCCA(), Xf, Yf, pd.Series(y, index=ids), cv=3, random_state=0)
    plain = predict_outcome(RidgeCCA(), X, Ys, y, cv=3, random_state=0)
    np.testing.assert_array_equal(same.predictions, plain.predictions)
    with pytest.raises(ValueError, match=r"outcome: its row labels differ from those of X \(the same samples in "
                                         r"another order; row 0 is 'S29', not 'S00'\)"):
        predict_outcome(RidgeCCA(), Xf, Yf, pd.Series(y, index=ids).iloc[::-1], cv=3, random_state=0)
    with pytest.raises(ValueError, match=r"outcome: its row labels differ from those of X \(other samples"):
        predict_outcome(None, Xf, None, pd.Series(y, index=[f"T{i}" for i in range(30)]), cv=3, random_state=0)
