import numpy as np
import pandas as pd
import pytest
from scipy.stats import kstest

from imaging_genetics.inference import permutation_test

from _toy_cca import RidgeCCA, toy_data


def _null(seed, n=24):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), [rng.standard_normal((n, 2))]


def _randomised(p, B, seed):
    # p - U/(B+1) is exactly Uniform(0, 1) for a valid permutation p-value (no ties)
    return p - np.random.default_rng(10_000 + seed).random() / (B + 1)


@pytest.mark.parametrize("statistic,n_seeds,B", [("insample", 120, 19), ("heldout", 50, 9)])
def test_calibrated_on_null_data(statistic, n_seeds, B):
    ps = []
    for s in range(n_seeds):
        X, Ys = _null(s)
        t = permutation_test(RidgeCCA(reg=0.5), X, Ys, n_permutations=B, statistic=statistic, cv=2,
                             prior=None, random_state=s)
        ps.append(_randomised(t["p_value"].iloc[0], B, s))
    assert kstest(ps, "uniform").pvalue > 0.01


def test_detects_association_and_table():
    X, Ys = toy_data(n=40, rho=(0.8, 0.0))
    t = permutation_test(RidgeCCA(), X, Ys, n_permutations=19, cv=3, random_state=0)
    assert list(t.columns) == ["task", "statistic", "p_value", "null_mean", "null_sd", "n_permutations"]
    assert t["p_value"].iloc[0] == pytest.approx(1 / 20)
    assert t["p_value"].iloc[1] > 0.05
    assert np.asarray(t.attrs["null"]).shape == (19, 2)
    assert len(pd.concat([t, t])) == 4  # attrs stay comparable
    t2 = permutation_test(RidgeCCA(), X, Ys, n_permutations=19, cv=3, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(t["p_value"], t2["p_value"])
    np.testing.assert_array_equal(t.attrs["null"], t2.attrs["null"])


def test_resume_and_errors(tmp_path):
    X, Ys = toy_data(n=30)
    path = tmp_path / "perm.jsonl"
    a = permutation_test(RidgeCCA(), X, Ys, n_permutations=9, statistic="insample", random_state=1, results_path=path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5]))
    done = []
    b = permutation_test(RidgeCCA(), X, Ys, n_permutations=9, statistic="insample", random_state=1,
                         results_path=path, resume=True, progress=lambda d, t: done.append(d))
    assert len(done) == 10 - 4
    np.testing.assert_array_equal(a["p_value"], b["p_value"])
    with pytest.raises(ValueError, match="statistic"):
        permutation_test(RidgeCCA(), X, Ys, statistic="both")
    with pytest.raises(ValueError, match="n_permutations"):
        permutation_test(RidgeCCA(), X, Ys, n_permutations=0)
