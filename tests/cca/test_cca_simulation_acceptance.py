"""Acceptance on the paper-style simulation (issue: structured sparse CCA family).

``simulate.multitask_cca_data`` with population CCCs 0.8 / 0.5 / 0.2, p = 500 SNPs,
q = 90 regions: the models are fitted on n = 300 samples and evaluated on 1000
independent samples drawn from the same truth (the simulator draws the supports,
loadings and amplitudes from the seed before the samples, so a larger n gives the
same truth with more rows; checked below).

The simulation is replicated with five seeds (0-4), each a new truth and new
samples, as the papers repeat their simulations: a comparison between methods is
a comparison of means over replications. On the medium (0.5) task one draw moves
the held-out CCC of a single method by about +-0.1 (SCCA: 0.22 to 0.39 over these
seeds), more than the differences between methods, so a single seed cannot carry
the paper's qualitative finding either way.

Penalties are the package defaults for every model (no tuning). MTS2CCA gets the
prior networks the simulation was generated from (the LD graph of the SNPs and the
modular region networks), as in the paper's simulation, where the networks are
predefined; the models without network terms need none. Iterations are capped as
in the benchmark (``max_iter=200``, ``tol=1e-4``) to keep the test fast.

Criteria (issue 3), checked on every replication unless stated: held-out CCC of
MTS2CCA on the 0.8 task >= 0.65; ROC AUC of the row norms of U (SNPs, against "in
the support of any task") and of V (regions) >= 0.9; the multi-task models with one
SNP vector per task (MTS2CCA, MTSCCA, MTGSCCA) have a higher mean held-out CCC than
SCCA on the 0.5 task. JCBSCCA, whose one SNP vector is shared by all modalities, is
not part of that comparison: in this design the three tasks have independent latent
variables and task-specific SNP signs, so a single SNP vector follows the strongest
task.

Not yet met, marked ``xfail(strict=True)``: the SNP-row AUC of MTS2CCA (0.82 to
0.88 over the seeds). The unit-variance column of the very-low task spreads over
many SNPs and dominates the row norms of noise SNPs (about three quarters of their
squared norm on seed 0); stronger SNP sparsity concentrates it, but then its region
column spreads and the region-row AUC falls below 0.9 (see the note on the issue).
"""

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from imaging_genetics.cca import MTGSCCA, MTS2CCA, MTSCCA, SCCA
from imaging_genetics.inference.metrics import canonical_correlations, feature_selection_auc
from imaging_genetics.simulate import multitask_cca_data

SEEDS = (0, 1, 2, 3, 4)
N_TRAIN, N_TEST = 300, 1000
FIT = dict(max_iter=200, tol=1e-4)
MODELS = {"MTS2CCA": MTS2CCA, "MTSCCA": MTSCCA, "MTGSCCA": MTGSCCA, "SCCA": SCCA}


def _replicate(seed):
    X, Ys, truth = multitask_cca_data(N_TRAIN + N_TEST, 500, 90, correlations=(0.8, 0.5, 0.2),
                                      random_state=seed)
    train = (X[:N_TRAIN], [Y[:N_TRAIN] for Y in Ys])
    test = (X[N_TRAIN:], [Y[N_TRAIN:] for Y in Ys])
    fits = {}
    for name, cls in MODELS.items():
        priors = {}
        if name == "MTS2CCA":
            priors = dict(x_adjacency=truth["x_adjacency"], y_adjacency=truth["y_adjacency"])
        model = cls(**FIT).fit(*train, **priors)
        fits[name] = (model, canonical_correlations(model, *test))
    return truth, fits


@pytest.fixture(scope="module")
def replications():
    # module-scoped, so the autouse one-thread fixture is not active yet
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")  # capped iterations
        return {seed: _replicate(seed) for seed in SEEDS}


def test_a_larger_sample_has_the_same_truth():
    _, _, big = multitask_cca_data(N_TRAIN + N_TEST, 500, 90, random_state=0)
    _, _, small = multitask_cca_data(N_TRAIN, 500, 90, random_state=0)
    np.testing.assert_array_equal(big["support_x"], small["support_x"])
    np.testing.assert_allclose(big["u"], small["u"], rtol=1e-12)


def test_mts2cca_heldout_ccc_on_the_strong_task(replications):
    for seed, (_, fits) in replications.items():
        model, test_ccc = fits["MTS2CCA"]
        assert test_ccc[0] >= 0.65, seed
        # the training correlation is an upper bound only up to noise; it must be high too
        assert model.canonical_correlations_[0] >= 0.65, seed


@pytest.mark.xfail(strict=True, reason="issue 3 criterion not yet met: MTS2CCA SNP-row AUC 0.82-0.88 "
                   "< 0.9 over seeds 0-4 at default penalties")
def test_mts2cca_feature_selection_auc_snps(replications):
    aucs = [feature_selection_auc(fits["MTS2CCA"][0].x_weights_, truth["support_x"])
            for truth, fits in replications.values()]
    assert min(aucs) >= 0.9, aucs


def test_mts2cca_feature_selection_auc_regions(replications):
    for seed, (truth, fits) in replications.items():
        assert feature_selection_auc(fits["MTS2CCA"][0].y_weights_, truth["support_y"]) >= 0.9, seed


@pytest.mark.parametrize("name", ["MTS2CCA", "MTSCCA", "MTGSCCA"])
def test_multitask_models_beat_scca_on_the_medium_task(replications, name):
    ours = np.mean([fits[name][1][1] for _, fits in replications.values()])
    scca = np.mean([fits["SCCA"][1][1] for _, fits in replications.values()])
    assert ours > scca


def test_the_very_low_task_stays_low(replications):
    # a sanity bound in the other direction: no model finds more than the
    # population correlation (0.2) plus sampling noise on the very-low task
    for seed, (_, fits) in replications.items():
        for name, (_, test_ccc) in fits.items():
            assert test_ccc[2] < 0.2 + 4 / np.sqrt(N_TEST), (seed, name)
