"""Every simulator reads ``random_state`` the same way: None, an int, a RandomState
or a Generator; an int seed gives the streams it always gave."""

import numpy as np
import pytest

from imaging_genetics.simulate import genotype_cca_data, joint_nmf_data, multitask_cca_data, simulate_genotypes


def _genotypes(rs):
    return simulate_genotypes(30, 40, method="blocks", random_state=rs)


def _nmf(rs):
    return joint_nmf_data(12, (8, 6), 2, random_state=rs)


def _mt(rs):
    return multitask_cca_data(20, 30, 12, correlations=(0.6, 0.3), random_state=rs)


def _gcca(rs):
    return genotype_cca_data(30, 60, 12, correlations=(0.6,), random_state=rs, method="blocks", window=3,
                             n_shared_windows=1, module_size=4, n_shared_modules=1, n_specific_rois=1)


SIMULATORS = [_genotypes, _nmf, _mt, _gcca]


def _first_matrix(out):
    first = out[0]
    return np.asarray(first[0] if isinstance(first, list) else first, dtype=float)


@pytest.mark.parametrize("sim", SIMULATORS, ids=lambda f: f.__name__.strip("_"))
def test_accepts_none_int_randomstate_and_generator(sim):
    for rs in (None, 5, np.int64(5), np.random.RandomState(5), np.random.default_rng(5)):
        assert np.isfinite(_first_matrix(sim(rs))).all()
    # A fresh Generator seeded alike gives the same data; a used one moves on.
    a = _first_matrix(sim(np.random.default_rng(9)))
    g = np.random.default_rng(9)
    np.testing.assert_array_equal(a, _first_matrix(sim(g)))
    assert not np.array_equal(a, _first_matrix(sim(g)))


@pytest.mark.parametrize("sim", [_genotypes, _nmf, _gcca], ids=lambda f: f.__name__.strip("_"))
def test_int_seed_is_randomstate_of_that_seed(sim):
    # the streams of scikit-learn's check_random_state(seed): unchanged by the Generator support
    np.testing.assert_array_equal(_first_matrix(sim(3)), _first_matrix(sim(np.random.RandomState(3))))


def test_int_seed_of_multitask_is_default_rng_of_that_seed():
    np.testing.assert_array_equal(_first_matrix(_mt(3)), _first_matrix(_mt(np.random.default_rng(3))))


def test_none_draws_from_numpys_global_state():
    for sim in SIMULATORS:
        np.random.seed(1)
        a = _first_matrix(sim(None))
        np.random.seed(1)
        np.testing.assert_array_equal(a, _first_matrix(sim(None)))


@pytest.mark.parametrize("sim", SIMULATORS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("bad, exc", [("1", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_bad_random_state_is_named(sim, bad, exc):
    with pytest.raises(exc, match="random_state"):
        sim(bad)
