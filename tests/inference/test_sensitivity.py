import numpy as np
import pytest

from imaging_genetics.inference import sensitivity
from imaging_genetics.report import sensitivity_curves

from _toy_cca import RidgeCCA, toy_data


def test_sensitivity_table_and_figure():
    X, Ys = toy_data(n=40)
    t = sensitivity(RidgeCCA(), X, Ys, ["reg", "smoothness_x"], cv=3, fixed={"reg": 1.0}, random_state=0)
    assert list(t.columns) == ["parameter", "value", "fold", "task", "train_ccc", "test_ccc"]
    assert len(t) == 2 * 5 * 3 * 2
    np.testing.assert_allclose(sorted(t["value"].unique()), [0.01, 0.1, 1, 10, 100])
    # more ridge -> lower training correlation (less overfitting)
    m = t[(t.parameter == "reg") & (t.task == 1)].groupby("value")["train_ccc"].mean()
    assert m.loc[0.01] > m.loc[100]
    # every value uses the same folds: a one-value run reproduces that value exactly
    a = t[(t.parameter == "reg") & (t.value == 1.0)]["test_ccc"].to_numpy()
    b = sensitivity(RidgeCCA(), X, Ys, "reg", values=[1.0], cv=3, fixed={"reg": 1.0}, random_state=0)["test_ccc"]
    np.testing.assert_array_equal(a, b.to_numpy())
    fig = sensitivity_curves(t)
    assert len(fig.axes) == 2


def test_sensitivity_errors():
    X, Ys = toy_data(n=30)
    with pytest.raises(ValueError, match="parameter"):
        sensitivity(RidgeCCA(), X, Ys, "sparsity_x")
    with pytest.raises(ValueError, match="fixed"):
        sensitivity(RidgeCCA(), X, Ys, "reg", fixed={"nope": 1})
    with pytest.raises(ValueError, match="values"):
        sensitivity(RidgeCCA(), X, Ys, "reg", values=[])
