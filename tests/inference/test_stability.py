import numpy as np
import pandas as pd
import pytest

from imaging_genetics.inference import stability_selection

from _toy_cca import RidgeCCA, toy_data


def test_signal_features_are_stable():
    X, Ys = toy_data(n=80, rho=(0.9, 0.9))
    res = stability_selection(RidgeCCA(reg=1.0), X, Ys, n_subsamples=20, top_k=(3, 2), random_state=0)
    assert res.x_frequency.shape == (8,) and res.x_task_frequency.shape == (8, 2)
    assert [f.shape for f in res.y_frequency] == [(5,), (6,)]
    # SNPs 0-2 and regions 0-1 carry the signal
    assert res.x_frequency[:3].min() > 0.8 > res.x_frequency[3:].max()
    assert res.y_frequency[0][:2].min() > 0.8
    assert set(res.stable_features(0.8)["X"]) == {0, 1, 2}
    t = res.table
    assert list(t.columns) == ["modality", "feature", "index", "frequency"]
    assert list(dict.fromkeys(t["modality"])) == ["X", "Y1", "Y2"]
    assert np.all(np.diff(t[t.modality == "X"]["frequency"]) <= 0)
    assert np.allclose(res.x_frequency.sum(), 3.0)  # top-3 each time


def test_reproducible_names_and_errors():
    X, Ys = toy_data(n=40)
    Xf = pd.DataFrame(X, columns=[f"rs{j}" for j in range(8)])
    a = stability_selection(RidgeCCA(), Xf, Ys, n_subsamples=6, threshold=0.5, random_state=3)
    b = stability_selection(RidgeCCA(), X, Ys, n_subsamples=6, threshold=0.5, random_state=3, n_jobs=2)
    np.testing.assert_array_equal(a.x_frequency, b.x_frequency)
    assert a.x_names[0] == "rs0" and b.x_names[0] == "x0"
    with pytest.raises(ValueError, match="fraction"):
        stability_selection(RidgeCCA(), X, Ys, fraction=1.0)
    with pytest.raises(ValueError, match="top_k"):
        stability_selection(RidgeCCA(), X, Ys, top_k=0)
    with pytest.raises(ValueError, match="n_subsamples"):
        stability_selection(RidgeCCA(), X, Ys, n_subsamples=0)
