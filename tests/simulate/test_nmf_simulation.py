"""The JCB-SNMF paper's simulation design with planted co-modules."""

import numpy as np
import pytest
import scipy.sparse as sp


def _sim():
    from imaging_genetics.simulate import nmf

    return nmf


def test_shapes_truth_and_priors():
    sim = _sim()
    Xs, truth = sim.joint_nmf_data(40, (30, 20, 25), 3, noise_level=5.0, random_state=0)
    assert [X.shape for X in Xs] == [(40, 30), (40, 20), (40, 25)]
    assert all((X >= 0).all() for X in Xs)
    assert truth["W"].shape == (40, 3) and [H.shape for H in truth["H"]] == [(3, 30), (3, 20), (3, 25)]
    W = truth["W"]
    assert W.min() >= 1 and W.max() <= 10 and np.all(W == np.round(W))  # U{1..10}
    assert len(truth["modules"]) == 3 and all(len(m) == 3 for m in truth["modules"])
    for i, mod in enumerate(truth["modules"]):
        for I, idx in enumerate(mod):
            assert np.array_equal(idx, np.flatnonzero(truth["membership"][I][i]))
            assert idx.size == round(0.1 * (30, 20, 25)[I])
    for S, p in zip(truth["graphs"], (30, 20, 25)):
        assert sp.issparse(S) and S.shape == (p, p)
        assert abs(S - S.T).max() == 0 and S.diagonal().sum() == 0
    assert set(truth["cross_adjacency"]) == {(0, 1), (0, 2), (1, 2)}
    assert truth["cross_adjacency"][(0, 2)].shape == (30, 25)
    # noise: residual has the requested scale (before clipping, which is rare here)
    resid = Xs[0] - truth["signal"][0]
    assert 4.0 < resid.std() < 6.0


def test_priors_favour_module_pairs():
    sim = _sim()
    Xs, truth = sim.joint_nmf_data(30, (60, 50), 4, random_state=1)
    A = truth["cross_adjacency"][(0, 1)].toarray()
    same = np.zeros_like(A, dtype=bool)
    for mod in truth["modules"]:
        same[np.ix_(mod[0], mod[1])] = True
    assert A[same].mean() > 5 * A[~same].mean()


def test_reproducible_and_variants():
    sim = _sim()
    a, ta = sim.joint_nmf_data(20, (10, 12), 2, random_state=5)
    b, tb = sim.joint_nmf_data(20, (10, 12), 2, random_state=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c, _ = sim.joint_nmf_data(20, (10, 12), 2, noise_level=0.0, noise="factors", random_state=5)
    assert np.linalg.matrix_rank(c[0]) <= 2
    assert sim.joint_nmf_preset("large")["n_features"] == (2000, 2500, 1000)
    with pytest.raises(ValueError):
        sim.joint_nmf_preset("medium")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(noise_level=float("nan")), ValueError, "noise_level"),
        (dict(noise_level=float("inf")), ValueError, "noise_level"),
        (dict(noise_level=-1.0), ValueError, "noise_level"),
        (dict(noise_level="1"), TypeError, "noise_level"),
        (dict(n_features=10), TypeError, "n_features"),
        (dict(n_features=()), ValueError, "n_features"),
        (dict(n_features=(10.5, 12)), TypeError, r"n_features\[0\]"),
        (dict(n_features=(10, 0)), ValueError, r"n_features\[1\]"),
        (dict(n_samples=20.5), TypeError, "n_samples"),
        (dict(n_samples=1), ValueError, "n_samples"),
        (dict(n_components=2.7), TypeError, "n_components"),
        (dict(n_components=0), ValueError, "n_components"),
        (dict(module_fraction=2), ValueError, "module_fraction"),
        (dict(module_fraction=0), ValueError, "module_fraction"),
        (dict(module_fraction=-0.1), ValueError, "module_fraction"),
        (dict(module_effect=-5), ValueError, "module_effect"),
        (dict(background=-1), ValueError, "background"),
        (dict(background=0, module_effect=0), ValueError, "background, module_effect: both are 0"),
        (dict(within_density=1.5), ValueError, "within_density"),
        (dict(cross_density=float("nan")), ValueError, "cross_density"),
        (dict(spurious_density=-1), ValueError, "spurious_density"),
        (dict(noise="both"), ValueError, "noise"),
    ],
)
def test_bad_arguments_are_named(kwargs, exc, match):
    args = dict(n_samples=20, n_features=(10, 12), n_components=2, random_state=0)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        _sim().joint_nmf_data(**args)


def test_edge_arguments_accepted():
    sim = _sim()
    # numpy integers and arrays, one modality, whole-modality modules, clean modules
    Xs, t = sim.joint_nmf_data(np.int64(10), np.array([6, 5]), np.int32(2), random_state=0)
    assert [X.shape for X in Xs] == [(10, 6), (10, 5)]
    Xs, t = sim.joint_nmf_data(10, (7,), 2, module_fraction=1.0, background=0.0, noise_level=0, random_state=0)
    assert t["membership"][0].all() and np.array_equal(Xs[0], t["signal"][0])
